/* test_store_batch.c — the store's batches on real LMDB files: apply,
 * duplicates and conflicts (in and across batches), recount after reopen,
 * campaign mismatch, the single writer, the data directory's mode, a full map
 * refusing the batch as a whole, received_ms along the log.
 *
 * Each test works in its own mkdtemp directory (removed at the end) and uses
 * the built-in lamdong-2023 campaign (tests/store/ct_storekit.h). Assertions
 * are exact: statuses, codes, sequence numbers, counts, and counts == a
 * recount with ct_tally_entry over the log scan.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "ct_storekit.h"
#include "ct_testkit.h"

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_counts.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_pmap.h"
#include "ct_store_int.h"
#include "ct_store.h"
#include "ct_tally.h"
#include "ct_wire.h"

static void test_apply_duplicate_conflict(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    sk_tev e[4];
    sk_tev_make(&e[0], 1, 100, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0);
    sk_tev_make(&e[1], 2, 101, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, "nq143", SK_T0 + 1);
    sk_tev_make(&e[2], 3, 102, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL, SK_T0 + 2);
    ct_store_item it[4];
    ct_counts changed;
    ct_counts_init(&changed);
    ct_store_commit c = {.changed = &changed};
    assert_int_equal(sk_apply(s, e, 3, it, &c), CT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it[i].status, CT_ACK_ACCEPTED);
        assert_int_equal(it[i].code, CT_OK);
        assert_int_equal(it[i].seq, (uint64_t)i + 1);
    }
    assert_int_equal(c.seq_before, 0);
    assert_int_equal(c.seq_after, 3);
    ct_count_key knet = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
    assert_int_equal(ct_counts_get(&changed, &knet), 2);
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 2);
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), 1);

    /* resend the same bytes: duplicate, nothing changes */
    uint8_t h1[32], h2[32];
    uint64_t s1, s2;
    assert_int_equal(ct_store_head(s, &s1, h1), CT_OK);
    assert_int_equal(sk_apply(s, e, 2, it, &c), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_DUPLICATE);
    assert_int_equal(it[0].seq, 1);
    assert_int_equal(it[1].status, CT_ACK_DUPLICATE);
    assert_int_equal(it[1].seq, 2);
    assert_int_equal(c.seq_after, c.seq_before);
    assert_int_equal(changed.n, 0);
    assert_int_equal(ct_store_head(s, &s2, h2), CT_OK);
    assert_int_equal(s1, 3);
    assert_int_equal(s2, 3);
    assert_memory_equal(h1, h2, 32);

    /* same id, different content: conflict */
    sk_tev_make(&e[3], 2, 999, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0 + 5);
    assert_int_equal(sk_apply(s, &e[3], 1, it, &c), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_REJECTED);
    assert_int_equal(it[0].code, CT_ERR_CONFLICT);
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 2);
    uint64_t seq;
    assert_int_equal(ct_store_find_id(s, e[3].ev.id, &seq), CT_OK);
    assert_int_equal(seq, 2);
    sk_assert_consistent(s, 3);

    ct_counts_free(&changed);
    ct_store_close(s);
    sk_tevs_free(e, 4);
    sk_tmp_remove(&td);
}

static void test_in_batch_duplicate(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    sk_tev e[5];
    sk_tev_make(&e[0], 1, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0);
    sk_tev_make(&e[1], 1, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0);     /* dup */
    sk_tev_make(&e[2], 1, 8, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0);     /* conflict */
    sk_tev_make(&e[3], 2, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0 + 1); /* repeat */
    sk_tev_make(&e[4], 3, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_CANCEL, NULL, SK_T0 + 2); /* cancel */
    ct_store_item it[5];
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(sk_apply(s, e, 5, it, &c), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[1].status, CT_ACK_DUPLICATE);
    assert_int_equal(it[1].seq, 1);
    assert_int_equal(it[2].status, CT_ACK_REJECTED);
    assert_int_equal(it[2].code, CT_ERR_CONFLICT);
    assert_int_equal(it[3].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[3].seq, 2);
    assert_int_equal(it[4].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[4].seq, 3);
    assert_int_equal(c.seq_after, 3);
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 0);
    assert_int_equal(sk_count_of(s, CT_COUNT_GROSS, CT_PROGRAM_BHXH_TN), 1);
    assert_int_equal(sk_count_of(s, CT_COUNT_REPEAT, CT_PROGRAM_BHXH_TN), 1);
    assert_int_equal(sk_count_of(s, CT_COUNT_CANCELLED, CT_PROGRAM_BHXH_TN), 1);
    sk_assert_consistent(s, 3);
    ct_store_close(s);
    sk_tevs_free(e, 5);
    sk_tmp_remove(&td);
}

/* Many batches of mixed enroll/cancel/repeat/duplicates; counts == recount;
 * reopen keeps everything; read-only open sees the same. */
static void test_recount_reopen(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    enum { N = 3000, B = 250 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    assert_non_null(e);
    assert_non_null(it);
    srand(42);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 700);
        ct_program p = (rand() % 3) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 5) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        /* ids repeat now and then (resends) */
        uint64_t id = (i > 10 && rand() % 10 == 0) ? (uint64_t)(i - 5) : (uint64_t)i + 1;
        sk_tev_make(&e[i], id, person, p, a, (rand() % 4) ? NULL : "nq143",
                    SK_T0 + (int64_t)(rand() % 6) * 86400000 + i);
    }
    uint64_t accepted = 0;
    for (int b = 0; b < N / B; b++) {
        ct_store_commit c = {.changed = NULL};
        assert_int_equal(sk_apply(s, e + b * B, B, it, &c), CT_OK);
        for (int i = 0; i < B; i++)
            if (it[i].status == CT_ACK_ACCEPTED) accepted++;
        assert_int_equal(c.seq_after, accepted);
    }
    assert_true(accepted > 2000);
    sk_assert_consistent(s, accepted);
    uint64_t seq;
    uint8_t head[32], head2[32];
    assert_int_equal(ct_store_head(s, &seq, head), CT_OK);
    ct_store_close(s);

    s = sk_open_ok(td.dir, 64u << 20);
    assert_int_equal(ct_store_head(s, &seq, head2), CT_OK);
    assert_int_equal(seq, accepted);
    assert_memory_equal(head, head2, 32);
    sk_assert_consistent(s, accepted);
    /* a read-only handle (what audit uses). LMDB forbids opening one environment
     * twice in a process, so the writer is closed first; read-only beside a live
     * writer in another process is covered by tests/audit/test_audit_live.py. */
    ct_store_close(s);
    ct_store_opts ro = {.dir = td.dir, .read_only = true};
    ct_store *r = NULL;
    char err[256];
    assert_int_equal(ct_store_open(&ro, &r, err, sizeof err), CT_OK);
    sk_assert_consistent(r, accepted);
    ct_store_item x;
    sk_item_of(&x, &e[0]);
    assert_int_not_equal(ct_store_apply_batch(r, &x, 1, NULL), CT_OK);
    ct_store_close(r);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&td);
}

static void test_campaign_mismatch(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 0);
    ct_store_close(s);
    ct_err rc;
    s = sk_open_store(td.dir, 0, "another-campaign", &rc);
    assert_null(s);
    assert_int_equal(rc, CT_ERR_CAMPAIGN_MISMATCH);
    /* read-only open of a directory with no store */
    sk_tmpdir empty;
    sk_tmp_make(&empty);
    ct_store_opts ro = {.dir = empty.dir, .read_only = true};
    char err[256];
    assert_int_not_equal(ct_store_open(&ro, &s, err, sizeof err), CT_OK);
    sk_tmp_remove(&empty);
    sk_tmp_remove(&td);
}

static void test_single_writer(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 0);
    ct_err rc;
    ct_store *s2 = sk_open_store(td.dir, 0, sk_camp.id, &rc);
    assert_null(s2);
    assert_int_equal(rc, CT_ERR_IO);
    /* (readers beside the writer must be other processes — LMDB forbids two
     * opens of one environment in a process; tests/audit/test_audit_live.py) */
    ct_store_close(s);
    s = sk_open_ok(td.dir, 0); /* the lock went with the first writer */
    ct_store_close(s);
    sk_tmp_remove(&td);
}

static void test_data_dir_mode(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/a/b", td.dir);
    ct_store *s = sk_open_ok(sub, 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* A tiny map fills up: the failing batch is refused as a whole, the store
 * stays usable, and a larger map on reopen accepts the same batch. */
static void test_map_full(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    const size_t small = 256u << 10;
    ct_store *s = sk_open_ok(td.dir, small);
    enum { B = 100, MAXB = 200 };
    sk_tev *e = calloc(B * MAXB, sizeof *e);
    ct_store_item it[B];
    assert_non_null(e);
    uint64_t committed = 0;
    int failed_batch = -1;
    uint8_t head_ok[32];
    for (int b = 0; b < MAXB; b++) {
        for (int i = 0; i < B; i++) {
            int k = b * B + i;
            sk_tev_make(&e[k], (uint64_t)k + 1, (uint32_t)k, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL,
                        NULL, SK_T0 + k);
        }
        ct_store_commit c = {.changed = NULL};
        ct_err rc = sk_apply(s, e + b * B, B, it, &c);
        if (rc != CT_OK) {
            assert_int_equal(rc, CT_ERR_MAP_FULL);
            for (int i = 0; i < B; i++) {
                assert_int_equal(it[i].status, CT_ACK_RETRY);
                assert_int_equal(it[i].code, CT_ERR_STORE_UNAVAILABLE);
            }
            failed_batch = b;
            break;
        }
        committed += B;
        memcpy(head_ok, c.head, 32);
    }
    assert_true(failed_batch > 0);
    /* nothing of the failed batch is visible; the store still works */
    uint64_t seq, found;
    uint8_t head[32];
    assert_int_equal(ct_store_head(s, &seq, head), CT_OK);
    assert_int_equal(seq, committed);
    assert_memory_equal(head, head_ok, 32);
    for (int i = 0; i < B; i++) {
        assert_int_equal(ct_store_find_id(s, e[failed_batch * B + i].ev.id, &found), CT_OK);
        assert_int_equal(found, 0);
    }
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), (int64_t)committed);
    /* trying again still fails cleanly (no crash, no partial state) */
    assert_int_equal(sk_apply(s, e + failed_batch * B, B, it, NULL), CT_ERR_MAP_FULL);
    sk_assert_consistent(s, committed);
    ct_store_close(s);

    s = sk_open_ok(td.dir, 64u << 20);
    sk_assert_consistent(s, committed);
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(sk_apply(s, e + failed_batch * B, B, it, &c), CT_OK);
    for (int i = 0; i < B; i++)
        assert_int_equal(it[i].status, CT_ACK_ACCEPTED);
    assert_int_equal(c.seq_after, committed + B);
    assert_int_equal(sk_count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), (int64_t)committed + B);
    sk_assert_consistent(s, committed + B);
    ct_store_close(s);
    sk_tevs_free(e, (size_t)(failed_batch + 1) * B);
    free(e);
    sk_tmp_remove(&td);
}

static ct_err rx_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    int64_t *out = arg;
    out[rec->seq - 1] = rec->received_ms;
    return CT_OK;
}

/* received_ms is non-decreasing along the log even when the caller's clock
 * steps back (within a batch, across batches, across a reopen). */
static void test_received_ms_monotonic(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    sk_tev e[5];
    for (int i = 0; i < 5; i++)
        sk_tev_make(&e[i], (uint64_t)i + 1, 200 + (uint32_t)i, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL,
                    NULL, SK_T0);
    ct_store_item it[5];
    for (int i = 0; i < 5; i++)
        sk_item_of(&it[i], &e[i]);
    it[0].received_ms = SK_T0 + 5000;
    it[1].received_ms = SK_T0 + 3000; /* clock stepped back inside the batch */
    assert_int_equal(ct_store_apply_batch(s, it, 2, NULL), CT_OK);
    it[2].received_ms = SK_T0 + 4000; /* still behind, next batch */
    assert_int_equal(ct_store_apply_batch(s, &it[2], 1, NULL), CT_OK);
    ct_store_close(s);
    s = sk_open_ok(td.dir, 64u << 20);
    it[3].received_ms = SK_T0 + 1000; /* after a restart */
    it[4].received_ms = SK_T0 + 6000; /* the clock caught up */
    assert_int_equal(ct_store_apply_batch(s, &it[3], 2, NULL), CT_OK);
    int64_t rx[5] = {0};
    uint64_t bad = 0;
    assert_int_equal(ct_store_log_scan(s, 1, 0, rx_cb, rx, &bad), CT_OK);
    assert_true(rx[0] == SK_T0 + 5000 && rx[1] == SK_T0 + 5000 && rx[2] == SK_T0 + 5000);
    assert_true(rx[3] == SK_T0 + 5000 && rx[4] == SK_T0 + 6000);
    ct_store_close(s);
    for (int i = 0; i < 5; i++)
        ct_buf_free(&e[i].raw);
    sk_tmp_remove(&td);
}

int main(void)
{
    if (sk_campaign_load() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_duplicate_conflict),
        cmocka_unit_test(test_in_batch_duplicate),
        cmocka_unit_test(test_recount_reopen),
        cmocka_unit_test(test_campaign_mismatch),
        cmocka_unit_test(test_data_dir_mode),
        cmocka_unit_test(test_single_writer),
        cmocka_unit_test(test_map_full),
        cmocka_unit_test(test_received_ms_monotonic),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_campaign_free();
    return rc;
}
