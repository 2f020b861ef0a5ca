/* test_file.c — atomic replacement (base/ct_file.h) with real files and real
 * processes: content and mode after commit, nothing left by abort, a writer
 * killed with SIGKILL mid-write leaves a temporary that the next open removes
 * (while temporaries of running processes and of other files stay), and a
 * write error names its cause (EFBIG under RLIMIT_FSIZE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_file.h"
#include "ct_testkit.h"

static ct_tmpdir g_dir;

static int setup(void **state)
{
    (void)state;
    return ct_tmpdir_make(&g_dir, "ct-file");
}

static int teardown(void **state)
{
    (void)state;
    return ct_tmpdir_remove(&g_dir);
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_dir.dir, name);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Number of directory entries whose name contains ".tmp.". */
static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(g_dir.dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int exists(const char *name)
{
    char p[512];
    path_of(p, sizeof p, name);
    return access(p, F_OK) == 0;
}

static void touch(const char *name)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
}

/* A pid that ran and is gone (reaped). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return pid;
}

static void test_replace_and_abort(void **state)
{
    (void)state;
    char p[512], err[256] = "";
    path_of(p, sizeof p, "report.json");
    assert_int_equal(ct_file_replace(p, "one\n", 4, err, sizeof err), CT_OK);
    assert_string_equal(slurp(p), "one\n");
    assert_int_equal(ct_file_replace(p, "two\n", 4, err, sizeof err), CT_OK);
    assert_string_equal(slurp(p), "two\n");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    ct_file o;
    assert_int_equal(ct_file_open(&o, p, err, sizeof err), CT_OK);
    fputs("never seen", o.f);
    assert_int_equal(count_temps(), 1);
    ct_file_abort(&o);
    assert_string_equal(slurp(p), "two\n");
    assert_int_equal(count_temps(), 0);
    /* a directory that does not exist: the error names the path and why */
    path_of(p, sizeof p, "missing/report.json");
    assert_int_equal(ct_file_replace(p, "x", 1, err, sizeof err), CT_ERR_IO);
    assert_non_null(strstr(err, "missing/.report.json.tmp."));
    assert_non_null(strstr(err, "No such file or directory"));
}

/* A secret's file: its temporary is 0600 while the content is written, and
 * the file keeps 0600 after the rename, also over a 0644 one. */
static void test_mode(void **state)
{
    (void)state;
    char p[512], err[256] = "";
    path_of(p, sizeof p, "users");
    assert_int_equal(ct_file_replace(p, "old\n", 4, err, sizeof err), CT_OK);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    ct_file o;
    assert_int_equal(ct_file_open_mode(&o, p, 0600, err, sizeof err), CT_OK);
    assert_int_equal(fstat(fileno(o.f), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fputs("secret\n", o.f);
    assert_int_equal(ct_file_commit(&o, err, sizeof err), CT_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(slurp(p), "secret\n");
    assert_int_equal(count_temps(), 0);
}

/* A child opens the file, writes half a report, flushes it to the
 * temporary and is killed with SIGKILL: its temporary stays behind until the
 * next open of the same path. */
static void test_killed_writer_cleaned(void **state)
{
    (void)state;
    char p[512], err[256] = "";
    path_of(p, sizeof p, "out.csv");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ct_file o;
        if (ct_file_open(&o, p, err, sizeof err) != CT_OK) _exit(3);
        fputs("seq,received\r\n1,", o.f);
        fflush(o.f);
        (void)!write(ready[1], "r", 1);
        pause(); /* killed here, between open and commit */
        _exit(4);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
    char mine[128];
    snprintf(mine, sizeof mine, ".out.csv.tmp.%ld.", (long)pid);
    assert_int_equal(count_temps(), 1);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(count_temps(), 1); /* the killed writer's temporary */

    /* Temporaries that must survive the cleanup: a running process's (ours),
     * another file's, and names that do not match the pattern exactly. */
    pid_t gone = dead_pid();
    char live[128], other[128], short_rand[128], no_dot[128], stale2[128];
    snprintf(live, sizeof live, ".out.csv.tmp.%ld.abcdef", (long)getpid());
    snprintf(other, sizeof other, ".other.csv.tmp.%ld.abcdef", (long)gone);
    snprintf(short_rand, sizeof short_rand, ".out.csv.tmp.%ld.abc", (long)gone);
    snprintf(no_dot, sizeof no_dot, "out.csv.tmp.%ld.abcdef", (long)gone);
    snprintf(stale2, sizeof stale2, ".out.csv.tmp.%ld.Zz09_-", (long)gone);
    touch(live);
    touch(other);
    touch(short_rand);
    touch(no_dot);
    touch(stale2);
    assert_int_equal(count_temps(), 6);

    assert_int_equal(ct_file_replace(p, "whole\n", 6, err, sizeof err), CT_OK);
    assert_string_equal(slurp(p), "whole\n");
    assert_int_equal(count_temps(), 4); /* the killed writer's and stale2 are gone */
    assert_true(exists(live) && exists(other) && exists(short_rand) && exists(no_dot));
    assert_false(exists(stale2));
    DIR *d = opendir(g_dir.dir);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        assert_null(strstr(de->d_name, mine));
    closedir(d);
    assert_int_equal(ct_file_remove_stale(p), 0);
}

/* The file size limit hits during the flush: commit fails with the system's
 * reason, the target is unchanged and no temporary is left. */
static void test_write_error_named(void **state)
{
    (void)state;
    char p[512];
    path_of(p, sizeof p, "big.jsonl");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256] = "";
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 4096, .rlim_max = 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
        ct_file o;
        if (ct_file_open(&o, p, err, sizeof err) != CT_OK) _exit(4);
        for (int i = 0; i < 10000; i++)
            fputs("{\"seq\":1}\n", o.f);
        if (ct_file_commit(&o, err, sizeof err) != CT_ERR_IO) _exit(5);
        if (!strstr(err, "big.jsonl: File too large")) _exit(6);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_false(exists("big.jsonl"));
    assert_int_equal(count_temps(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replace_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
