/* test_store_scan.c — the store's log read back on real LMDB files: import
 * into another store (audit rebuild, a tampered record refused), log_scan
 * ranges and renewal, scans stopping on CT_STOP or failing with the
 * callback's own error.
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

/* ---- import (audit rebuild) ---------------------------------------------- */

static void test_import(void **state)
{
    (void)state;
    sk_tmpdir a, b, c;
    sk_tmp_make(&a);
    sk_tmp_make(&b);
    sk_tmp_make(&c);
    ct_store *src = sk_open_ok(a.dir, 64u << 20);
    enum { N = 500 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        sk_tev_make(&e[i], (uint64_t)i + 1, (uint32_t)(i % 300),
                    i % 2 ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN,
                    i % 7 == 0 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL, NULL, SK_T0 + i);
    assert_int_equal(sk_apply(src, e, N, it, NULL), CT_OK);

    ct_store *dst = sk_open_ok(b.dir, 64u << 20);
    assert_int_equal(ct_store_import_begin(dst), CT_OK);
    sk_import_ctx x = {dst, 0, CT_OK};
    uint64_t bad;
    assert_int_equal(ct_store_log_scan(src, 1, 0, sk_import_cb, &x, &bad), CT_OK);
    assert_int_equal(ct_store_import_commit(dst), CT_OK);
    sk_assert_consistent(dst, N);
    ct_counts c1, c2;
    ct_counts_init(&c1);
    ct_counts_init(&c2);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    assert_int_equal(ct_store_read_counts(src, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(dst, &c2, &s2, h2), CT_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    /* and the rebuilt store keeps deduplicating */
    ct_store_commit cm = {.changed = NULL};
    assert_int_equal(sk_apply(dst, e, 3, it, &cm), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_DUPLICATE);

    /* a tampered record breaks the chain: refused, and abort leaves it empty */
    ct_store *bad_dst = sk_open_ok(c.dir, 64u << 20);
    assert_int_equal(ct_store_import_begin(bad_dst), CT_OK);
    sk_import_ctx y = {bad_dst, 17, CT_OK};
    assert_int_equal(ct_store_log_scan(src, 1, 0, sk_import_cb, &y, &bad), CT_ERR_CHAIN);
    assert_int_equal(y.first_err, CT_ERR_CHAIN);
    ct_store_import_abort(bad_dst);
    assert_int_equal(ct_store_head(bad_dst, &s2, h2), CT_OK);
    assert_int_equal(s2, 0);

    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(src);
    ct_store_close(dst);
    ct_store_close(bad_dst);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&a);
    sk_tmp_remove(&b);
    sk_tmp_remove(&c);
}

/* log_scan ranges and renewal over > 4096 records */
typedef struct {
    uint64_t first, last, n;
} range_ctx;

static ct_err range_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    range_ctx *r = arg;
    if (!r->n) r->first = rec->seq;
    assert_int_equal(rec->seq, r->first + r->n);
    r->last = rec->seq;
    r->n++;
    return r->n == 100000 ? CT_ERR_TIMEOUT : CT_OK;
}

static void test_scan_ranges(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    enum { N = 9000 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        sk_tev_make(&e[i], (uint64_t)i + 1, (uint32_t)i, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL,
                    NULL, SK_T0 + i);
    assert_int_equal(sk_apply(s, e, N, it, NULL), CT_OK);
    range_ctx r = {0, 0, 0};
    uint64_t bad;
    assert_int_equal(ct_store_log_scan(s, 1, 0, range_cb, &r, &bad), CT_OK);
    assert_int_equal(r.n, N);
    assert_int_equal(r.last, N);
    memset(&r, 0, sizeof r);
    assert_int_equal(ct_store_log_scan(s, 4000, 8500, range_cb, &r, &bad), CT_OK);
    assert_int_equal(r.first, 4000);
    assert_int_equal(r.last, 8500);
    assert_int_equal(r.n, 4501);
    memset(&r, 0, sizeof r);
    assert_int_equal(ct_store_log_scan(s, N + 1, 0, range_cb, &r, &bad), CT_OK);
    assert_int_equal(r.n, 0);
    /* the chain hash at a seq: zero before the first record, the head at the
     * last, the record's own in between, nothing past the head */
    uint8_t h[CT_LOGREC_HASH_LEN], head[CT_LOGREC_HASH_LEN], zero[CT_LOGREC_HASH_LEN] = {0};
    uint64_t hs;
    assert_int_equal(ct_store_head(s, &hs, head), CT_OK);
    assert_int_equal(ct_store_hash_at(s, 0, h), CT_OK);
    assert_memory_equal(h, zero, sizeof h);
    assert_int_equal(ct_store_hash_at(s, N, h), CT_OK);
    assert_memory_equal(h, head, sizeof h);
    assert_int_equal(ct_store_hash_at(s, 4000, h), CT_OK);
    assert_memory_not_equal(h, head, sizeof h);
    assert_int_equal(ct_store_hash_at(s, N + 1, h), CT_ERR_NOT_FOUND);
    ct_store_close(s);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&td);
}

/* ---- scans stop on CT_STOP, fail with the callback's own error ----------- */

typedef struct {
    uint64_t n, stop_at;
    ct_err err; /* returned at stop_at instead of CT_STOP when set */
} stop_ctx;

static ct_err stop_log_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)rec;
    (void)raw;
    (void)raw_len;
    stop_ctx *x = arg;
    if (++x->n == x->stop_at) return x->err ? x->err : CT_STOP;
    return CT_OK;
}

static ct_err stop_ids_cb(const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq, const uint8_t idhash[16],
                          void *arg)
{
    (void)id;
    (void)idhash;
    stop_ctx *x = arg;
    assert_true(seq >= 1);
    if (++x->n == x->stop_at) return x->err ? x->err : CT_STOP;
    return CT_OK;
}

static void test_scan_stop(void **state)
{
    (void)state;
    assert_string_equal(ct_err_name(CT_STOP), "stop");
    assert_false(ct_err_known(CT_STOP)); /* not a wire code */
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 64u << 20);
    enum { N = 9000 }; /* past two renewals of the read transaction */
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        sk_tev_make(&e[i], (uint64_t)i + 1, (uint32_t)i, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL,
                    NULL, SK_T0 + i);
    assert_int_equal(sk_apply(s, e, N, it, NULL), CT_OK);
    uint64_t bad = 7;
    stop_ctx x = {0, 5000, CT_OK};
    assert_int_equal(ct_store_log_scan(s, 1, 0, stop_log_cb, &x, &bad), CT_OK);
    assert_int_equal(x.n, 5000);
    assert_int_equal(bad, 0);
    x = (stop_ctx){0, 6000, CT_ERR_IO};
    assert_int_equal(ct_store_log_scan(s, 1, 0, stop_log_cb, &x, &bad), CT_ERR_IO);
    assert_int_equal(x.n, 6000);
    x = (stop_ctx){0, 0, CT_OK}; /* never stops: every record once */
    assert_int_equal(ct_store_log_scan(s, 1, 0, stop_log_cb, &x, NULL), CT_OK);
    assert_int_equal(x.n, N);
    x = (stop_ctx){0, 4097, CT_OK};
    assert_int_equal(ct_store_ids_scan(s, stop_ids_cb, &x), CT_OK);
    assert_int_equal(x.n, 4097);
    x = (stop_ctx){0, 8193, CT_ERR_NOMEM};
    assert_int_equal(ct_store_ids_scan(s, stop_ids_cb, &x), CT_ERR_NOMEM);
    assert_int_equal(x.n, 8193);
    x = (stop_ctx){0, 0, CT_OK};
    assert_int_equal(ct_store_ids_scan(s, stop_ids_cb, &x), CT_OK);
    assert_int_equal(x.n, N);
    ct_store_close(s);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&td);
}

int main(void)
{
    if (sk_campaign_load() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_scan_ranges),
        cmocka_unit_test(test_scan_stop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_campaign_free();
    return rc;
}
