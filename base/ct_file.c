/* ct_file.c — atomic file replacement and stale-temporary cleanup (see
 * ct_file.h). The temporary's name is the only record of its writer: the
 * cleanup trusts nothing else, and removes only names that match the pattern
 * exactly with a PID that no longer runs. */
#include "ct_file.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_num.h"

#define TMP_TAG ".tmp."
#define RAND_LEN 6 /* mkstemp's XXXXXX */

/* Splits path into a freshly allocated directory ("." when none) and a
 * pointer to the last component inside path. */
static char *dir_of(const char *path, const char **name)
{
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* True when entry is ".NAME.tmp.PID.XXXXXX" for this name; *pid set. */
static int is_temp_of(const char *entry, const char *name, pid_t *pid)
{
    size_t nl = strlen(name);
    if (entry[0] != '.' || strncmp(entry + 1, name, nl) != 0) return 0;
    const char *p = entry + 1 + nl;
    if (strncmp(p, TMP_TAG, strlen(TMP_TAG)) != 0) return 0;
    p += strlen(TMP_TAG);
    const char *dot = strchr(p, '.');
    if (!dot || dot == p || (size_t)(dot - p) > 10 || strlen(dot + 1) != RAND_LEN) return 0;
    char digits[11];
    memcpy(digits, p, (size_t)(dot - p));
    digits[dot - p] = '\0';
    uint64_t v;
    if (!ct_num_parse_u64(digits, INT_MAX, &v) || v == 0) return 0;
    *pid = (pid_t)v;
    return 1;
}

size_t ct_file_remove_stale(const char *path)
{
    const char *name;
    char *dir = dir_of(path, &name);
    size_t removed = 0;
    DIR *d = dir && *name ? opendir(dir) : NULL;
    if (!d) goto out;
    size_t dl = strlen(dir);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        pid_t pid;
        if (!is_temp_of(de->d_name, name, &pid)) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue; /* running, or not ours to judge */
        size_t len = dl + 1 + strlen(de->d_name) + 1;
        char *full = malloc(len);
        if (!full) break;
        snprintf(full, len, "%s/%s", dir, de->d_name);
        if (unlink(full) == 0) removed++;
        free(full);
    }
    closedir(d);
out:
    free(dir);
    return removed;
}

static void release(ct_file *o)
{
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

ct_err ct_file_open(ct_file *o, const char *path, char *err, size_t errlen)
{
    return ct_file_open_mode(o, path, 0644, err, errlen);
}

ct_err ct_file_open_mode(ct_file *o, const char *path, mode_t mode, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return CT_OK;
    }
    (void)ct_file_remove_stale(path);
    const char *name;
    char *dir = dir_of(path, &name);
    ct_err e = CT_OK;
    int fd = -1;
    o->path = strdup(path);
    size_t len = (dir ? strlen(dir) : 0) + strlen(name) + 48;
    o->tmp = malloc(len);
    if (!dir || !o->path || !o->tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        e = CT_ERR_NOMEM;
        goto fail;
    }
    snprintf(o->tmp, len, "%s/.%s" TMP_TAG "%ld.XXXXXX", dir, name, (long)getpid());
    fd = mkstemp(o->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", o->tmp, strerror(errno));
        e = CT_ERR_IO;
        goto fail;
    }
    if (fchmod(fd, mode) != 0 || (o->f = fdopen(fd, "wb")) == NULL) {
        snprintf(err, errlen, "%s: %s", o->tmp, strerror(errno));
        close(fd);
        unlink(o->tmp);
        e = CT_ERR_IO;
        goto fail;
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    free(dir);
    return CT_OK;
fail:
    free(dir);
    release(o);
    return e;
}

void ct_file_abort(ct_file *o)
{
    if (o->f && o->f != stdout) {
        fclose(o->f);
        unlink(o->tmp);
    }
    release(o);
}

/* Makes the rename durable; best effort (a directory that cannot be opened
 * or synced leaves the new file in place, only less durable). */
static void sync_dir(const char *path)
{
    const char *name;
    char *dir = dir_of(path, &name);
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

ct_err ct_file_commit(ct_file *o, char *err, size_t errlen)
{
    assert(o->f);
    ct_err e = CT_OK;
    if (o->f == stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            snprintf(err, errlen, "stdout: %s", errno ? strerror(errno) : "write error");
            e = CT_ERR_IO;
        }
        release(o);
        return e;
    }
    errno = 0;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0) {
        snprintf(err, errlen, "%s: %s", o->path, errno ? strerror(errno) : "write error");
        e = CT_ERR_IO;
    }
    if (fclose(o->f) != 0 && !e) {
        snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
        e = CT_ERR_IO;
    }
    o->f = NULL;
    if (!e && rename(o->tmp, o->path) != 0) {
        snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
        e = CT_ERR_IO;
    }
    if (e)
        unlink(o->tmp);
    else
        sync_dir(o->path);
    release(o);
    return e;
}

ct_err ct_file_replace(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    ct_file o;
    ct_err e = ct_file_open(&o, path, err, errlen);
    if (e) return e;
    if (len && fwrite(data, 1, len, o.f) != len) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        ct_file_abort(&o);
        return CT_ERR_IO;
    }
    return ct_file_commit(&o, err, errlen);
}
