/* test_store_faults.c — ct_store.c under LMDB calls that fail (real LMDB files).
 *
 * The LMDB functions below are wrapped in this executable (ct_store is a
 * static library linked into it, so its calls bind to these definitions); each
 * wrapper forwards to the real liblmdb function (dlsym RTLD_NEXT) unless the
 * test armed a one-shot failure. What is checked: the environment setters and
 * mdb_reader_check have their return codes checked; a reopen after MDB_PANIC
 * that leaves a person-state replay pending refuses the batch (instead of
 * tallying on stale states); a cursor that fails to open during the replay is
 * an error, not a crash; a replay or a closing checkpoint whose commit fails
 * (full disk, I/O error) names the cause and what happens next; a failed
 * commit leaves nothing in the counters the next batch reads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_storekit.h"

#include "ct_be.h"
#include "ct_life.h"

/* ---- one-shot failures (0 = pass through) ---- */
static int g_fail_mapsize, g_fail_maxdbs, g_fail_maxreaders, g_fail_reader_check,
    g_fail_cursor_open, g_panic_commit, g_fail_commit, g_fail_commit_skip;

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) abort();
    return f;
}

static int take(int *flag)
{
    int v = *flag;
    *flag = 0;
    return v;
}

int mdb_env_set_mapsize(MDB_env *env, size_t size)
{
    if (g_fail_mapsize) return take(&g_fail_mapsize);
    int (*f)(MDB_env *, size_t) = (int (*)(MDB_env *, size_t))real("mdb_env_set_mapsize");
    return f(env, size);
}

int mdb_env_set_maxdbs(MDB_env *env, MDB_dbi dbs)
{
    if (g_fail_maxdbs) return take(&g_fail_maxdbs);
    int (*f)(MDB_env *, MDB_dbi) = (int (*)(MDB_env *, MDB_dbi))real("mdb_env_set_maxdbs");
    return f(env, dbs);
}

int mdb_env_set_maxreaders(MDB_env *env, unsigned int readers)
{
    if (g_fail_maxreaders) return take(&g_fail_maxreaders);
    int (*f)(MDB_env *, unsigned) = (int (*)(MDB_env *, unsigned))real("mdb_env_set_maxreaders");
    return f(env, readers);
}

int mdb_reader_check(MDB_env *env, int *dead)
{
    if (g_fail_reader_check) return take(&g_fail_reader_check);
    int (*f)(MDB_env *, int *) = (int (*)(MDB_env *, int *))real("mdb_reader_check");
    return f(env, dead);
}

int mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor)
{
    if (g_fail_cursor_open) return take(&g_fail_cursor_open);
    int (*f)(MDB_txn *, MDB_dbi, MDB_cursor **) =
        (int (*)(MDB_txn *, MDB_dbi, MDB_cursor **))real("mdb_cursor_open");
    return f(txn, dbi, cursor);
}

int mdb_txn_commit(MDB_txn *txn)
{
    if (take(&g_panic_commit)) { /* what a failed meta-page write reports */
        mdb_txn_abort(txn);
        return MDB_PANIC;
    }
    if (g_fail_commit && g_fail_commit_skip) { /* fail a later commit */
        g_fail_commit_skip--;
    } else if (g_fail_commit) { /* a failed page flush: ENOSPC, or EIO for a short write */
        mdb_txn_abort(txn);
        return take(&g_fail_commit);
    }
    int (*f)(MDB_txn *) = (int (*)(MDB_txn *))real("mdb_txn_commit");
    return f(txn);
}

/* ---- helpers ---- */

/* An enroll of person p (distinct persons, distinct ids) and its item. */
typedef struct {
    sk_tev t;
    ct_store_item it;
} tev;

static void tev_make(tev *t, uint64_t idseq, uint32_t person)
{
    sk_tev_make(&t->t, idseq, person, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0);
    sk_item_of(&t->it, &t->t);
}

static ct_store *open_raw(const char *dir, ct_err *e, char *err, size_t errlen)
{
    return sk_open_raw(dir, 64u << 20, sk_camp.id, e, err, errlen);
}

/* ---- tests ---- */

static void test_env_setters_checked(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    int *flags[] = {&g_fail_mapsize, &g_fail_maxdbs, &g_fail_maxreaders};
    const char *names[] = {"mdb_env_set_mapsize", "mdb_env_set_maxdbs", "mdb_env_set_maxreaders"};
    for (int i = 0; i < 3; i++) {
        char err[256] = "";
        ct_err e;
        *flags[i] = EINVAL;
        ct_store *s = open_raw(td.dir, &e, err, sizeof err);
        assert_int_equal(e, CT_ERR_LMDB);
        assert_null(s);
        assert_non_null(strstr(err, names[i]));
        assert_int_equal(*flags[i], 0); /* the failure was taken */
    }
    /* nothing armed: opens */
    char err[256] = "";
    ct_err e;
    ct_store *s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

static void test_reader_check_checked(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[256] = "";
    ct_err e;
    g_fail_reader_check = EINVAL; /* at open: a warning, the open goes on */
    ct_store *s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    assert_int_equal(g_fail_reader_check, 0);
    assert_int_equal(ct_store_reader_check(s), 0);
    g_fail_reader_check = EINVAL;
    assert_int_equal(ct_store_reader_check(s), -1);
    assert_non_null(strstr(ct_store_last_error(s), "mdb_reader_check"));
    assert_int_equal(ct_store_reader_check(s), 0);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* A writer without its campaign yet (persons current at open, so no replay is
 * due), MDB_PANIC on a commit, then the reopen inside the next batch finds
 * person states behind the log and no campaign to replay them: that batch
 * must be refused (RETRY), not tallied on stale states. */
static void test_replay_due_after_reopen(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[256] = "";
    ct_err e;
    ct_store *s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    tev a, b, c;
    tev_make(&a, 1, 100);
    tev_make(&b, 2, 101);
    tev_make(&c, 3, 102);
    assert_int_equal(ct_store_apply_batch(s, &a.it, 1, NULL), CT_OK); /* states pending */
    assert_int_equal(sk_head(s), 1);
    g_panic_commit = 1;
    assert_int_not_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_OK);
    assert_int_equal(b.it.status, CT_ACK_RETRY);
    /* reopen happens here; the replay waits for the campaign */
    assert_int_equal(ct_store_apply_batch(s, &c.it, 1, NULL), CT_ERR_ARG);
    assert_int_equal(c.it.status, CT_ACK_RETRY);
    assert_non_null(strstr(ct_store_last_error(s), "replay"));
    assert_int_equal(sk_head(s), 1);
    /* with the campaign the replay runs and batches go on */
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_apply_batch(s, &c.it, 1, NULL), CT_OK);
    assert_int_equal(c.it.status, CT_ACK_ACCEPTED);
    assert_int_equal(sk_head(s), 2);
    ct_store_close(s);
    for (int i = 0; i < 3; i++)
        ct_buf_free(i == 0 ? &a.t.raw : i == 1 ? &b.t.raw : &c.t.raw);
    sk_tmp_remove(&td);
}

/* A crash left person states behind the log; the replay's cursor cannot be
 * opened: ct_store_set_campaign reports an error (no crash, nothing changed),
 * and a later call replays. */
static void test_replay_cursor_failure(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[256] = "";
    ct_err e;
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    tev a;
    tev_make(&a, 1, 100);
    assert_int_equal(ct_store_apply_batch(s, &a.it, 1, NULL), CT_OK);
    ct_store_abandon(s); /* crash: pending states lost */
    s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    g_fail_cursor_open = EINVAL;
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_ERR_LMDB);
    assert_non_null(strstr(err, "person-state replay"));
    tev b;
    tev_make(&b, 2, 101);
    assert_int_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_ERR_ARG); /* still due */
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_OK);
    assert_int_equal(sk_head(s), 2);
    ct_store_close(s);
    ct_buf_free(&a.t.raw);
    ct_buf_free(&b.t.raw);
    sk_tmp_remove(&td);
}

/* A crash left person states behind the log and the disk is full: the
 * replay's commit fails with ENOSPC. The open names the cause (disk full),
 * what was being done and that the next start replays again; EIO on a disk
 * with room is an I/O error, said as such. Then a start with room replays. */
static void test_replay_commit_disk_full(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[1024] = "";
    ct_err e;
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    ct_store_set_checkpoint(s, 1000000, 1000000);
    tev a[3];
    for (int i = 0; i < 3; i++) {
        tev_make(&a[i], (uint64_t)i + 1, 200u + (uint32_t)i);
        assert_int_equal(ct_store_apply_batch(s, &a[i].it, 1, NULL), CT_OK);
    }
    ct_store_abandon(s); /* crash: pending states lost */
    s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    g_fail_commit = ENOSPC;
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_ERR_DISK_FULL);
    assert_int_equal(g_fail_commit, 0);
    assert_non_null(strstr(err, "person-state replay commit of seq 1..3 failed: no space left "
                                "on device"));
    assert_non_null(strstr(err, "free space on the disk holding the data directory"));
    assert_non_null(strstr(err, "the replay runs again at the next start"));
    g_fail_commit = EIO;
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_ERR_LMDB);
    assert_non_null(strstr(err, "person-state replay commit of seq 1..3 failed: Input/output "
                                "error; nothing is lost"));
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    assert_int_equal(sk_head(s), 3);
    tev b;
    tev_make(&b, 1, 200); /* a resend: the replayed ids and states hold */
    assert_int_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_OK);
    assert_int_equal(b.it.status, CT_ACK_DUPLICATE);
    ct_store_close(s);
    for (int i = 0; i < 3; i++)
        ct_buf_free(&a[i].t.raw);
    ct_buf_free(&b.t.raw);
    sk_tmp_remove(&td);
}

/* meta "persons_gen" is present: a generation of person states is partly
 * written (read with LMDB directly, the store closed). */
static bool gen_mark_present(const char *dir)
{
    sk_raw r;
    sk_raw_open(&r, dir, false);
    MDB_val k = {sizeof "persons_gen" - 1, (void *)"persons_gen"}, v;
    bool present = mdb_get(r.txn, r.meta, &k, &v) == 0;
    sk_raw_close(&r, false);
    return present;
}

/* The replay writes its states a bounded chunk per transaction; the disk
 * fills after the first chunk committed: the open fails naming the cause,
 * the committed chunk left a partly written generation, and the next replay
 * completes it: every replayed person is known (a second enroll is a
 * repeat, a resend a duplicate). */
static void test_replay_chunk_commit_disk_full(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[1024] = "";
    ct_err e;
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    ct_store_set_checkpoint(s, 1000000, 1000000);
    enum { N = 12 };
    tev a[N];
    for (int i = 0; i < N; i++) {
        tev_make(&a[i], (uint64_t)i + 1, 400u + (uint32_t)i);
        assert_int_equal(ct_store_apply_batch(s, &a[i].it, 1, NULL), CT_OK);
    }
    ct_store_abandon(s); /* crash: 12 pending states lost */
    assert_false(gen_mark_present(td.dir));
    s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    ct_store_set_checkpoint(s, 16, 1000000); /* replay chunks of 16 / 4 + 1 = 5 states */
    g_fail_commit = ENOSPC;
    g_fail_commit_skip = 1;
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_ERR_DISK_FULL);
    assert_int_equal(g_fail_commit, 0);
    assert_non_null(strstr(err, "person-state replay commit of seq 1..12 failed: no space left "
                                "on device"));
    ct_store_abandon(s);
    assert_true(gen_mark_present(td.dir)); /* the first chunk is on disk */
    s = open_raw(td.dir, &e, err, sizeof err);
    assert_int_equal(e, CT_OK);
    ct_store_set_checkpoint(s, 16, 1000000);
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    assert_int_equal(sk_head(s), N);
    assert_int_equal(sk_count_of(s, CT_COUNT_REPEAT, CT_PROGRAM_BHXH_TN), 0);
    for (int i = 0; i < N; i++) { /* each person again, new ids: all repeats */
        tev b;
        tev_make(&b, 100 + (uint64_t)i, 400u + (uint32_t)i);
        assert_int_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_OK);
        assert_int_equal(b.it.status, CT_ACK_ACCEPTED);
        assert_int_equal(ct_store_apply_batch(s, &a[i].it, 1, NULL), CT_OK);
        assert_int_equal(a[i].it.status, CT_ACK_DUPLICATE);
        ct_buf_free(&b.t.raw);
    }
    assert_int_equal(sk_count_of(s, CT_COUNT_REPEAT, CT_PROGRAM_BHXH_TN), N);
    ct_store_close(s);
    assert_false(gen_mark_present(td.dir));
    for (int i = 0; i < N; i++)
        ct_buf_free(&a[i].t.raw);
    sk_tmp_remove(&td);
}

/* Runs ct_store_close(s) with stderr captured into out[len]. */
static void close_capturing_stderr(ct_store *s, char *out, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(f), 2), 2);
    ct_store_close(s);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* A close (SIGTERM) on a full disk cannot write the pending person states: a
 * warn line says what was skipped and that the next start replays it; the
 * next start does, and counts stay right. A close that can write logs
 * nothing. */
static void test_close_checkpoint_disk_full(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    ct_store_set_checkpoint(s, 1000000, 1000000);
    tev a[4];
    for (int i = 0; i < 4; i++) {
        tev_make(&a[i], (uint64_t)i + 1, 300u + (uint32_t)i);
        assert_int_equal(ct_store_apply_batch(s, &a[i].it, 1, NULL), CT_OK);
    }
    char log[4096];
    g_fail_commit = ENOSPC;
    close_capturing_stderr(s, log, sizeof log);
    assert_int_equal(g_fail_commit, 0);
    assert_non_null(strstr(log, "level=warn"));
    assert_non_null(strstr(log, "person-state checkpoint skipped at close; the next start "
                                "replays these states from the log"));
    assert_non_null(strstr(log, "err=disk_full"));
    assert_non_null(strstr(log, "no space left on device"));
    assert_non_null(strstr(log, "states=4 from_seq=1 to_seq=4"));
    s = sk_open_ok(td.dir, 64u << 20);
    tev b;
    tev_make(&b, 5, 300); /* the same person again: a repeat, seen via the replay */
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(ct_store_apply_batch(s, &b.it, 1, &c), CT_OK);
    assert_int_equal(b.it.status, CT_ACK_ACCEPTED);
    assert_int_equal(sk_head(s), 5);
    close_capturing_stderr(s, log, sizeof log);
    assert_string_equal(log, "");
    for (int i = 0; i < 4; i++)
        ct_buf_free(&a[i].t.raw);
    ct_buf_free(&b.t.raw);
    sk_tmp_remove(&td);
}

/* The counters every enroll reads (CLOSE, LATE_MAX) are cached with the
 * changes of the transaction in progress: a batch whose commit fails (a
 * close and a very late enroll) must leave no trace in what the next batch
 * reads (no LATE_CLOSED, LATE_MAX as before). */
static void test_cache_after_failed_commit(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    tev a, late, b;
    tev_make(&a, 1, 400); /* received 1 s after SK_T0 */
    assert_int_equal(ct_store_apply_batch(s, &a.it, 1, NULL), CT_OK);
    ct_entry close;
    memset(&close, 0, sizeof close);
    close.type = CT_ENTRY_LIFE;
    ct_life *l = &close.u.life;
    l->kind = CT_LIFE_CLOSE;
    ct_event_id_make(l->id, (const uint8_t *)"closeorg", 1);
    l->issued_ms = SK_T0;
    snprintf(l->campaign, sizeof l->campaign, "%s", sk_camp.id);
    snprintf(l->actor, sizeof l->actor, "%s", "admin");
    snprintf(l->reason, sizeof l->reason, "%s", "test");
    l->district = 672;
    l->day = ct_campaign_local_day(&sk_camp, SK_T0);
    ct_buf craw = {0};
    assert_int_equal(ct_life_encode(l, &craw), CT_OK);
    tev_make(&late, 2, 401);
    late.it.received_ms = SK_T0 + 3 * 86400000LL;
    ct_store_item two[2] = {{.entry = &close,
                             .raw = craw.data,
                             .raw_len = craw.len,
                             .collector = "insecure",
                             .received_ms = SK_T0 + 3 * 86400000LL},
                            late.it};
    g_fail_commit = ENOSPC;
    assert_int_equal(ct_store_apply_batch(s, two, 2, NULL), CT_ERR_DISK_FULL);
    assert_int_equal(g_fail_commit, 0);
    tev_make(&b, 3, 402);
    assert_int_equal(ct_store_apply_batch(s, &b.it, 1, NULL), CT_OK);
    assert_int_equal(b.it.seq, 2);
    uint8_t dd[4];
    ct_be32_put(dd, l->day);
    assert_int_equal(sk_count(s, CT_COUNT_LATE_CLOSED, CT_PROGRAM_BHXH_TN, 672, dd, 4), 0);
    assert_int_equal(sk_count(s, CT_COUNT_CLOSE, CT_PROGRAM_BHXH_TN, 672, dd, 4), 0);
    assert_int_equal(sk_count_of(s, CT_COUNT_LATE_MAX, CT_PROGRAM_BHXH_TN),
                     1); /* 1000 ms late: 1 s */
    ct_store_close(s);
    ct_buf_free(&craw);
    ct_buf_free(&a.t.raw);
    ct_buf_free(&late.t.raw);
    ct_buf_free(&b.t.raw);
    sk_tmp_remove(&td);
}

int main(void)
{
    if (sk_campaign_load()) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_setters_checked),
        cmocka_unit_test(test_reader_check_checked),
        cmocka_unit_test(test_replay_due_after_reopen),
        cmocka_unit_test(test_replay_cursor_failure),
        cmocka_unit_test(test_replay_commit_disk_full),
        cmocka_unit_test(test_replay_chunk_commit_disk_full),
        cmocka_unit_test(test_close_checkpoint_disk_full),
        cmocka_unit_test(test_cache_after_failed_commit),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_campaign_free();
    return rc;
}
