/* test_store_ship.c — a follower's shipped records (store/ct_store_ship.c)
 * on real LMDB files: durable receipt first, counting after.
 *
 * A source store is filled by batches; its records (stored bytes) are the
 * "shipped" stream. What is checked, exactly:
 *   - a crash-point sweep: a child process runs receipts and applies and is
 *     killed (_exit, no close) just before its k-th commit, for every k
 *     (mdb_txn_commit is wrapped in this executable: ct_store is linked in
 *     statically, its calls bind here); after the reopen the received head
 *     R and the counted head H are those of the last commit the child
 *     reported, the ship keys are exactly H+1..R, and the counters equal a
 *     rebuild of the log up to H; receiving the rest and applying it all
 *     ends with the source's counters and head;
 *   - a record that does not chain (one byte flipped) or skips a seq is
 *     refused at receipt and nothing of that transaction is kept;
 *   - a store with records not yet counted takes no batch and no promotion;
 *     dropping them (a copy installed) leaves R = H;
 *   - the apply delay (received_by_ms) and shipped origin bindings, which
 *     reach "origins" with the apply that counts their batch.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_storekit.h"

enum { N = 400, BATCH = 8, RECV = 50, APPLY = 30 };

/* ---- mdb_txn_commit: _exit(3) instead of the g_crash_at-th commit ---- */
static int g_crash_at, g_commits;

int mdb_txn_commit(MDB_txn *txn)
{
    if (g_crash_at && ++g_commits == g_crash_at) _exit(3);
    int (*f)(MDB_txn *) = (int (*)(MDB_txn *))dlsym(RTLD_NEXT, "mdb_txn_commit");
    if (!f) abort();
    return f(txn);
}

/* ---- the shipped stream: the source's records ---- */
static uint8_t *g_raw[N + 1];
static size_t g_len[N + 1];
static uint8_t g_src_head[CT_LOGREC_HASH_LEN];
static ct_counts g_src_counts;

static ct_err keep_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)arg;
    g_raw[rec->seq] = malloc(raw_len);
    memcpy(g_raw[rec->seq], raw, raw_len);
    g_len[rec->seq] = raw_len;
    return CT_OK;
}

/* N events over 400/3 persons (enrolls and cancels), in batches of BATCH. */
static int setup(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    sk_tev ev[BATCH];
    ct_store_item it[BATCH];
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            uint32_t k = (uint32_t)(b * BATCH + i);
            sk_tev_make(&ev[i], k + 1, k % 133, k % 2 ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN,
                        k % 7 == 6 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL, NULL,
                        SK_T0 + (int64_t)k * 60000);
            sk_item_of(&it[i], &ev[i]);
            it[i].received_ms += b; /* one ms per batch */
        }
        assert_int_equal(ct_store_apply_batch(s, it, BATCH, NULL), CT_OK);
        sk_tevs_free(ev, BATCH);
    }
    uint64_t bad = 0, seq = 0;
    assert_int_equal(ct_store_log_scan(s, 1, 0, keep_cb, NULL, &bad), CT_OK);
    ct_counts_init(&g_src_counts);
    assert_int_equal(ct_store_read_counts(s, &g_src_counts, &seq, g_src_head), CT_OK);
    assert_int_equal(seq, N);
    ct_store_close(s);
    sk_tmp_remove(&td);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 1; i <= N; i++)
        free(g_raw[i]);
    ct_counts_free(&g_src_counts);
    return 0;
}

/* Receives seq from..to in one transaction. */
static ct_err receive(ct_store *s, uint64_t from, uint64_t to)
{
    ct_err e = ct_store_ship_begin(s);
    for (uint64_t q = from; !e && q <= to; q++) {
        ct_logrec rec;
        assert_int_equal(ct_logrec_decode(g_raw[q], g_len[q], &rec), CT_OK);
        e = ct_store_ship_put(s, &rec, g_raw[q], g_len[q]);
    }
    if (e) {
        ct_store_ship_abort(s);
        return e;
    }
    return ct_store_ship_commit(s, NULL, NULL);
}

static void heads(ct_store *s, uint64_t *h, uint64_t *r)
{
    uint8_t hh[CT_LOGREC_HASH_LEN], rh[CT_LOGREC_HASH_LEN];
    assert_int_equal(ct_store_head(s, h, hh), CT_OK);
    assert_int_equal(ct_store_ship_head(s, r, rh), CT_OK);
    if (*r > 0) assert_memory_equal(rh, g_raw[*r] + g_len[*r] - CT_LOGREC_HASH_LEN, 32);
    if (*h > 0) assert_memory_equal(hh, g_raw[*h] + g_len[*h] - CT_LOGREC_HASH_LEN, 32);
    assert_int_equal(ct_store_ship_pending(s), *r > *h ? *r : 0);
}

/* The counters of a rebuild of log 1..h (the audit's import path). */
static void rebuild_counts(uint64_t h, ct_counts *out)
{
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    assert_int_equal(ct_store_import_begin(s), CT_OK);
    for (uint64_t q = 1; q <= h; q++) {
        ct_logrec rec;
        assert_int_equal(ct_logrec_decode(g_raw[q], g_len[q], &rec), CT_OK);
        assert_int_equal(ct_store_import_stored(s, &rec, g_raw[q], g_len[q], &sk_camp), CT_OK);
    }
    assert_int_equal(ct_store_import_commit(s), CT_OK);
    uint64_t seq;
    uint8_t hh[32];
    assert_int_equal(ct_store_read_counts(s, out, &seq, hh), CT_OK);
    assert_int_equal(seq, h);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* The script a follower runs: a receipt of RECV records, then an apply of
 * up to APPLY, until all are received; every commit's resulting (H, R)
 * goes to fd. Returns the number of commits. */
static int script(ct_store *s, int fd)
{
    int commits = 0;
    uint64_t h = 0, r = 0;
    for (uint64_t from = 1; from <= N; from += RECV) {
        assert_int_equal(receive(s, from, from + RECV - 1), CT_OK);
        r = from + RECV - 1;
        commits++;
        if (fd >= 0) {
            uint64_t hr[2] = {h, r};
            assert_int_equal(write(fd, hr, sizeof hr), (ssize_t)sizeof hr);
        }
        ct_store_commit cm = {0};
        assert_int_equal(ct_store_ship_apply(s, &sk_camp, APPLY, INT64_MAX, &cm, NULL), CT_OK);
        assert_int_equal(cm.seq_before, h);
        assert_int_equal(cm.seq_after, h + APPLY);
        h = cm.seq_after;
        commits++;
        if (fd >= 0) {
            uint64_t hr[2] = {h, r};
            assert_int_equal(write(fd, hr, sizeof hr), (ssize_t)sizeof hr);
        }
    }
    return commits;
}

static void test_crash_sweep(void **state)
{
    (void)state;
    int total = 2 * (N / RECV);
    for (int k = 1; k <= total; k++) {
        sk_tmpdir td;
        sk_tmp_make(&td);
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            ct_store *s = sk_open_ok(td.dir, 64u << 20);
            g_commits = 0;
            g_crash_at = k;
            script(s, p[1]);
            _exit(0); /* not reached: commit k crashes */
        }
        close(p[1]);
        uint64_t hr[2] = {0, 0}, got[2];
        while (read(p[0], got, sizeof got) == (ssize_t)sizeof got)
            memcpy(hr, got, sizeof hr);
        close(p[0]);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 3);

        ct_store *s = sk_open_ok(td.dir, 64u << 20);
        uint64_t h, r;
        heads(s, &h, &r);
        assert_int_equal(h, hr[0]);
        assert_int_equal(r, hr[1]);
        ct_counts c, ref;
        ct_counts_init(&c);
        ct_counts_init(&ref);
        uint64_t seq;
        uint8_t hh[32];
        assert_int_equal(ct_store_read_counts(s, &c, &seq, hh), CT_OK);
        rebuild_counts(h, &ref);
        assert_int_equal(ct_counts_equal(&c, &ref, NULL), 1);
        /* the rest: received, then everything counted */
        if (r < N) assert_int_equal(receive(s, r + 1, N), CT_OK);
        assert_int_equal(ct_store_ship_apply_all(s, &sk_camp, NULL), CT_OK);
        heads(s, &h, &r);
        assert_int_equal(h, N);
        assert_int_equal(r, N);
        ct_counts_clear(&c);
        assert_int_equal(ct_store_read_counts(s, &c, &seq, hh), CT_OK);
        assert_memory_equal(hh, g_src_head, 32);
        assert_int_equal(ct_counts_equal(&c, &g_src_counts, NULL), 1);
        ct_counts_free(&c);
        ct_counts_free(&ref);
        ct_store_close(s);
        sk_tmp_remove(&td);
    }
}

static void test_refused_at_receipt(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    assert_int_equal(receive(s, 1, 20), CT_OK);
    uint64_t h, r;
    heads(s, &h, &r);
    assert_int_equal(h, 0);
    assert_int_equal(r, 20);
    /* 21..25 with a byte of 23's body flipped: refused, 21 and 22 not kept */
    uint8_t *copy = malloc(g_len[23]);
    memcpy(copy, g_raw[23], g_len[23]);
    copy[g_len[23] - 1] ^= 1; /* its hash: it no longer chains */
    ct_logrec rec;
    assert_int_equal(ct_store_ship_begin(s), CT_OK);
    for (uint64_t q = 21; q <= 22; q++) {
        assert_int_equal(ct_logrec_decode(g_raw[q], g_len[q], &rec), CT_OK);
        assert_int_equal(ct_store_ship_put(s, &rec, g_raw[q], g_len[q]), CT_OK);
    }
    assert_int_equal(ct_logrec_decode(copy, g_len[23], &rec), CT_OK);
    assert_int_equal(ct_store_ship_put(s, &rec, copy, g_len[23]), CT_ERR_CHAIN);
    ct_store_ship_abort(s);
    free(copy);
    heads(s, &h, &r);
    assert_int_equal(r, 20);
    /* a seq skipped: refused */
    assert_int_equal(ct_store_ship_begin(s), CT_OK);
    assert_int_equal(ct_logrec_decode(g_raw[22], g_len[22], &rec), CT_OK);
    assert_int_equal(ct_store_ship_put(s, &rec, g_raw[22], g_len[22]), CT_ERR_CHAIN);
    ct_store_ship_abort(s);
    /* not counted yet: no batch, no promotion */
    uint64_t ep = 0;
    ct_store_item it;
    memset(&it, 0, sizeof it);
    assert_int_equal(ct_store_apply_batch(s, &it, 1, NULL), CT_ERR_ARG);
    assert_int_equal(ct_store_promote(s, &ep), CT_ERR_ARG);
    assert_int_equal(ct_store_promote_to(s, 9), CT_ERR_ARG);
    ct_store_close(s);
    /* after a reopen, the same; once counted, promotion is allowed */
    s = sk_open_ok(td.dir, 64u << 20);
    heads(s, &h, &r);
    assert_int_equal(h, 0);
    assert_int_equal(r, 20);
    assert_int_equal(ct_store_promote(s, &ep), CT_ERR_ARG);
    /* 1..10 counted, 11..20 dropped (a copy installed: R := H), received again */
    ct_store_commit cm = {0};
    assert_int_equal(ct_store_ship_apply(s, &sk_camp, 10, INT64_MAX, &cm, NULL), CT_OK);
    assert_int_equal(cm.seq_after, 10);
    assert_int_equal(ct_store_ship_drop(s), CT_OK);
    heads(s, &h, &r);
    assert_int_equal(h, 10);
    assert_int_equal(r, 10);
    assert_int_equal(receive(s, 11, 20), CT_OK);
    assert_int_equal(ct_store_ship_apply_all(s, &sk_camp, NULL), CT_OK);
    heads(s, &h, &r);
    assert_int_equal(h, 20);
    assert_int_equal(r, 20);
    assert_int_equal(ct_store_promote(s, &ep), CT_OK);
    assert_int_equal(ep, 2);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

static void test_delay_and_origins(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    static const uint8_t o1[CT_ORIGIN_LEN] = {9, 9, 9, 9, 9, 9, 9, 1};
    /* 1..16 (batches 0 and 1: received_ms SK_T0+1000, SK_T0+1001), with o1 */
    assert_int_equal(ct_store_ship_begin(s), CT_OK);
    for (uint64_t q = 1; q <= 16; q++) {
        ct_logrec rec;
        assert_int_equal(ct_logrec_decode(g_raw[q], g_len[q], &rec), CT_OK);
        assert_int_equal(ct_store_ship_put(s, &rec, g_raw[q], g_len[q]), CT_OK);
    }
    assert_int_equal(ct_store_ship_origin(s, o1, "key-one", 7), CT_OK);
    assert_int_equal(ct_store_ship_origin(s, o1, "key-one", 7), CT_OK);
    assert_int_equal(ct_store_ship_origin(s, o1, "key-two", 7), CT_ERR_CONFLICT);
    uint64_t seq;
    uint8_t hh[32];
    assert_int_equal(ct_store_ship_commit(s, &seq, hh), CT_OK);
    assert_int_equal(seq, 16);
    /* received by SK_T0+999: none due */
    ct_store_commit cm = {0};
    assert_int_equal(ct_store_ship_apply(s, &sk_camp, 100, SK_T0 + 999, &cm, NULL), CT_OK);
    assert_int_equal(cm.seq_after, 0);
    /* by SK_T0+1000: the first batch only; its binding waits for seq 16 */
    assert_int_equal(ct_store_ship_apply(s, &sk_camp, 100, SK_T0 + 1000, &cm, NULL), CT_OK);
    assert_int_equal(cm.seq_before, 0);
    assert_int_equal(cm.seq_after, 8);
    char key[64];
    bool found = true;
    assert_int_equal(ct_store_origin_get(s, o1, key, sizeof key, &found), CT_OK);
    assert_false(found);
    assert_int_equal(ct_store_ship_apply(s, &sk_camp, 100, SK_T0 + 1001, &cm, NULL), CT_OK);
    assert_int_equal(cm.seq_after, 16);
    assert_int_equal(ct_store_origin_get(s, o1, key, sizeof key, &found), CT_OK);
    assert_true(found);
    assert_string_equal(key, "key-one");
    assert_int_equal(ct_store_ship_pending(s), 0);
    /* a shipped binding against the stored one */
    assert_int_equal(ct_store_ship_begin(s), CT_OK);
    assert_int_equal(ct_store_ship_origin(s, o1, "key-two", 7), CT_ERR_CONFLICT);
    ct_store_ship_abort(s);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

int main(void)
{
    if (sk_campaign_load()) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_sweep),
        cmocka_unit_test(test_refused_at_receipt),
        cmocka_unit_test(test_delay_and_origins),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    sk_campaign_free();
    return rc;
}
