/* test_audit_engine.c — the audit engine and formats against real LMDB stores:
 *   - person map and the bounded MessagePack walk;
 *   - ctlog header/trailer round trip and hostile files;
 *   - recount of a store built through ct_store_apply_batch equals the
 *     stored counts and head, single-threaded and with 1, 2 and 3 checking
 *     threads (the pipeline; the ThreadSanitizer build runs it);
 *   - chitieu-audit replay --seq N (run as a process) reproduces byte for byte
 *     the report ct_status_render gave for the store's own counts when the
 *     log was at N, in every format, after the log has grown past N.
 * Needs CT_BIN (the directory holding chitieu-audit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_audit.h"
#include "ct_campaign_default.h"
#include "ct_ctlog.h"
#include "ct_keys.h"
#include "ct_pmap.h"
#include "ct_prescan.h"
#include "ct_status.h"
#include "ct_store.h"
#include "ct_testgen.h"
#include "ct_time.h"

static ct_campaign camp;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (ct_crypto_init() != CT_OK) return -1;
    return ct_campaign_load_default(&camp, err, sizeof err) == CT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ct_campaign_free(&camp);
    return 0;
}

static char *mktmp(void)
{
    char *d = strdup("/tmp/ct-audit-test-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmrf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_pmap(void **state)
{
    (void)state;
    ct_pmap m;
    ct_pmap_init(&m);
    enum { N = 100000 };
    for (uint32_t i = 0; i < N; i++) {
        uint8_t k[CT_PERSON_KEY_LEN] = {0};
        k[0] = (uint8_t)(i & 1);
        memcpy(k + 1, &i, 4);
        memcpy(k + 29, &i, 4); /* same low bytes in two places: hash collisions on purpose */
        ct_person_state st = {.enrolled = i % 3 != 0,
                              .district = 672 + i % 12,
                              .day = 20230722 + i % 9,
                              .seq = i + 1};
        snprintf(st.agent, sizeof st.agent, "LD%03u-%03u", i % 13, i % 17);
        if (i % 5 == 0) strcpy(st.group, "nq143");
        assert_int_equal(ct_pmap_put(&m, k, &st), CT_OK);
    }
    assert_int_equal(m.n, N);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t k[CT_PERSON_KEY_LEN] = {0};
        k[0] = (uint8_t)(i & 1);
        memcpy(k + 1, &i, 4);
        memcpy(k + 29, &i, 4);
        ct_person_state st;
        assert_true(ct_pmap_get(&m, k, &st));
        assert_int_equal(st.seq, i + 1);
        assert_int_equal(st.district, 672 + i % 12);
        assert_int_equal(st.enrolled, i % 3 != 0);
        char want[40];
        snprintf(want, sizeof want, "LD%03u-%03u", i % 13, i % 17);
        assert_string_equal(st.agent, want);
        assert_string_equal(st.group, i % 5 == 0 ? "nq143" : "");
        k[0] ^= 1; /* other program: absent */
        assert_false(ct_pmap_get(&m, k, &st));
    }
    /* overwrite keeps one entry */
    uint8_t k0[CT_PERSON_KEY_LEN] = {0};
    ct_person_state s2 = {.enrolled = false, .district = 68, .day = 20230801, .seq = 999};
    strcpy(s2.agent, "X");
    assert_int_equal(ct_pmap_put(&m, k0, &s2), CT_OK);
    assert_int_equal(m.n, N);
    ct_person_state got;
    assert_true(ct_pmap_get(&m, k0, &got));
    assert_int_equal(got.seq, 999);
    assert_string_equal(got.agent, "X");
    ct_pmap_free(&m);
}

/* ct_prescan_object_len is the walker the .ctlog reader finds each object's
 * extent with: one object, bytes after it untouched, every declared size
 * bounded by the bytes present. */
static void test_object_len(void **state)
{
    (void)state;
    size_t n = 0;
    static const uint8_t ok1[] = {0x93, 0x01, 0xa1, 'x', 0xc4, 0x02, 0xaa, 0xbb, 0xff};
    assert_int_equal(ct_prescan_object_len(ok1, sizeof ok1, NULL, &n), CT_OK);
    assert_int_equal(n, 8);
    assert_int_equal(ct_prescan_object_len(ok1, 0, NULL, &n), CT_ERR_FRAME_EMPTY);
    for (size_t cut = 1; cut < 8; cut++) {
        ct_err e = ct_prescan_object_len(ok1, cut, NULL, &n);
        assert_true(e == CT_ERR_MALFORMED || e == CT_ERR_DECLARED_SIZE);
    }
    /* cut inside the bin's body: its declared size exceeds the bytes left */
    assert_int_equal(ct_prescan_object_len(ok1, 7, NULL, &n), CT_ERR_DECLARED_SIZE);
    /* cut before the bin's header: an object is due but the bytes ended */
    assert_int_equal(ct_prescan_object_len(ok1, 4, NULL, &n), CT_ERR_MALFORMED);
    static const uint8_t huge_arr[] = {0xdd, 0x00, 0xff, 0xff, 0xff};
    assert_int_equal(ct_prescan_object_len(huge_arr, sizeof huge_arr, NULL, &n),
                     CT_ERR_DECLARED_SIZE);
    static const uint8_t huge_bin[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(ct_prescan_object_len(huge_bin, sizeof huge_bin, NULL, &n),
                     CT_ERR_DECLARED_SIZE);
    static const uint8_t reserved[] = {0xc1};
    assert_int_equal(ct_prescan_object_len(reserved, 1, NULL, &n), CT_ERR_MALFORMED);
    static const uint8_t map[] = {0x81, 0xa1, 'k', 0xcf, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(ct_prescan_object_len(map, sizeof map, NULL, &n), CT_OK);
    assert_int_equal(n, sizeof map);
    /* nesting beyond CT_PRESCAN_MAX_DEPTH */
    uint8_t deep[CT_PRESCAN_MAX_DEPTH + 2];
    memset(deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = 0x01;
    assert_int_equal(ct_prescan_object_len(deep, sizeof deep, NULL, &n), CT_ERR_TOO_DEEP);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static ct_err count_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)rec;
    (void)raw;
    (void)len;
    (*(int *)arg)++;
    return CT_OK;
}

static void test_ctlog_header_trailer(void **state)
{
    (void)state;
    char *d = mktmp();
    char path[300];
    snprintf(path, sizeof path, "%s/x.ctlog", d);
    uint8_t prev[32], head[32];
    for (int i = 0; i < 32; i++)
        prev[i] = (uint8_t)i, head[i] = (uint8_t)(255 - i);
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_ctlog_put_header(&b, "lamdong-2023", 77, prev), CT_OK);
    size_t hlen = b.len;
    assert_int_equal(ct_ctlog_put_trailer(&b, 0, 76, head), CT_OK);
    write_file(path, b.data, b.len);
    ct_ctlog_reader r;
    char err[256];
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    assert_string_equal(r.campaign, "lamdong-2023");
    assert_int_equal(r.from, 77);
    assert_memory_equal(r.prev, prev, 32);
    int n = 0;
    uint64_t bad;
    assert_int_equal(ct_ctlog_scan(&r, count_cb, &n, &bad, err, sizeof err), CT_OK);
    assert_int_equal(n, 0);
    assert_true(r.has_trailer);
    assert_int_equal(r.trailer_last, 76);
    assert_memory_equal(r.trailer_head, head, 32);
    ct_ctlog_close(&r);
    /* every truncation of the header is refused with a message */
    for (size_t cut = 1; cut < hlen; cut++) {
        write_file(path, b.data, cut);
        assert_int_not_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
        assert_non_null(strstr(err, "offset 0"));
    }
    /* a truncated trailer is found by the scan */
    write_file(path, b.data, b.len - 3);
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    assert_int_equal(ct_ctlog_scan(&r, count_cb, &n, &bad, err, sizeof err), CT_ERR_MALFORMED);
    ct_ctlog_close(&r);
    ct_buf_free(&b);
    rmrf(d);
    free(d);
}

/* The engine over a real store: recount == stored counts, chain == head. */
static void test_recount_equals_store(void **state)
{
    (void)state;
    char *d = mktmp();
    ct_testgen_opts go = {.events = 5000, .seed = 7, .batch = 333};
    assert_int_equal(ct_testgen_make_store(d, &camp, &go), CT_OK);
    ct_store *s;
    char err[256];
    ct_store_opts so = {.dir = d, .campaign_id = camp.id, .read_only = true};
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    ct_counts stored;
    ct_counts_init(&stored);
    uint64_t hs;
    uint8_t hh[32];
    assert_int_equal(ct_store_read_counts(s, &stored, &hs, hh), CT_OK);
    assert_int_equal(hs, 5000);
    static const uint8_t zero[32];
    ct_audit_opts ao = {.campaign = &camp, .ids_store = s};
    ct_audit a;
    ct_audit_init(&a, &ao, 1, zero);
    uint64_t bad;
    assert_int_equal(ct_store_log_scan(s, 1, 0, ct_audit_record, &a, &bad), CT_OK);
    ct_audit_finish(&a);
    assert_int_equal(ct_audit_check_ids(&a, s), CT_OK);
    ct_audit_result res;
    ct_audit_result_get(&a, &res);
    assert_false(res.diverged);
    assert_int_equal(res.last_seq, 5000);
    assert_int_equal(res.n_records, 5000);
    assert_memory_equal(res.head, hh, 32);
    char finding[512] = "";
    assert_true(ct_audit_compare_counts(&stored, res.counts, finding, sizeof finding));
    /* the generated log exercises every outcome */
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        assert_true(ct_counts_sum(res.counts, CT_COUNT_NET, p, 0) > 100);
        assert_true(ct_counts_sum(res.counts, CT_COUNT_REPEAT, p, 0) > 10);
        assert_true(ct_counts_sum(res.counts, CT_COUNT_CANCELLED, p, 0) > 10);
        assert_true(ct_counts_sum(res.counts, CT_COUNT_CANCEL_NOOP, p, 0) > 10);
    }
    /* a changed count is named with stored vs recount */
    ct_count_key k = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHYT_HGD, 672, NULL, 0);
    int64_t v = ct_counts_get(&stored, &k);
    assert_int_equal(ct_counts_set(&stored, &k, v + 3), CT_OK);
    assert_false(ct_audit_compare_counts(&stored, res.counts, finding, sizeof finding));
    char want[200];
    snprintf(want, sizeof want,
             "count kind=net program=bhyt_hgd district=672: stored %lld, recount %lld",
             (long long)(v + 3), (long long)v);
    assert_string_equal(finding, want);
    ct_audit_free(&a);
    ct_counts_free(&stored);
    ct_store_close(s);
    rmrf(d);
    free(d);
}

/* The pipeline (threads checking batches) gives the single-threaded result. */
static void test_recount_threads(void **state)
{
    (void)state;
    char *d = mktmp();
    ct_testgen_opts go = {.events = 4500, .seed = 5, .batch = 500};
    assert_int_equal(ct_testgen_make_store(d, &camp, &go), CT_OK);
    ct_store *s;
    char err[256];
    ct_store_opts so = {.dir = d, .campaign_id = camp.id, .read_only = true};
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    ct_counts stored;
    ct_counts_init(&stored);
    uint64_t hs;
    uint8_t hh[32];
    assert_int_equal(ct_store_read_counts(s, &stored, &hs, hh), CT_OK);
    assert_int_equal(hs, 4500);
    static const uint8_t zero[32];
    for (unsigned threads = 1; threads <= 3; threads++) {
        ct_audit_opts ao = {.campaign = &camp, .ids_store = s, .threads = threads};
        ct_audit a;
        ct_audit_init(&a, &ao, 1, zero);
        assert_int_equal(a.o.threads, threads);
        uint64_t bad;
        assert_int_equal(ct_store_log_scan(s, 1, 0, ct_audit_record, &a, &bad), CT_OK);
        ct_audit_finish(&a);
        assert_int_equal(ct_audit_check_ids(&a, s), CT_OK);
        assert_false(a.diverged);
        assert_int_equal(a.last_seq, 4500);
        assert_int_equal(a.n_records, 4500);
        assert_memory_equal(a.head, hh, 32);
        char finding[512] = "";
        assert_true(ct_audit_compare_counts(&stored, &a.counts, finding, sizeof finding));
        ct_audit_free(&a);
    }
    ct_counts_free(&stored);
    ct_store_close(s);
    rmrf(d);
    free(d);
}

static char *run_capture(const char *cmd, int *rc)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    ct_buf b = CT_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        assert_int_equal(ct_buf_append(&b, chunk, n), CT_OK);
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    return (char *)b.data;
}

/* What the live side shows at a log position: the store's own counts. */
static char *live_render(ct_store *s, int64_t now, ct_status_format fmt, unsigned flags,
                         uint64_t *seq)
{
    ct_counts c;
    ct_counts_init(&c);
    ct_status_position pos = {.now_ms = now, .feed = "live"};
    assert_int_equal(ct_store_read_counts(s, &c, &pos.seq, pos.head), CT_OK);
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&camp, &c, &pos, fmt, flags, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    ct_counts_free(&c);
    *seq = pos.seq;
    return (char *)b.data;
}

static void test_replay_reproduces_live(void **state)
{
    (void)state;
    const char *bin = getenv("CT_BIN");
    assert_non_null(bin);
    char *d = mktmp();
    ct_store *s;
    char err[256];
    ct_store_opts so = {.dir = d, .campaign_id = camp.id, .fingerprint = camp.fingerprint};
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_set_campaign(s, &camp, err, sizeof err), CT_OK);
    ct_testgen_opts go = {.events = 1234, .seed = 11, .batch = 100, .total_hint = 3000};
    assert_int_equal(ct_testgen_fill(s, &camp, &go), CT_OK);
    int64_t now;
    assert_int_equal(ct_time_parse("2023-07-26T15:30:00+07:00", 0, &now), CT_OK);
    static const ct_status_format fmts[] = {CT_FMT_TABLE, CT_FMT_JSON, CT_FMT_CSV};
    static const char *const fnames[] = {"table", "json", "csv"};
    char *live[3][2];
    uint64_t seq = 0;
    for (int f = 0; f < 3; f++)
        for (int st = 0; st < 2; st++)
            live[f][st] = live_render(s, now, fmts[f], st ? CT_STATUS_STAFF : 0, &seq);
    assert_int_equal(seq, 1234);
    /* the log grows past the position the live report showed */
    go.events = 3000 - 1234;
    assert_int_equal(ct_testgen_fill(s, &camp, &go), CT_OK);
    ct_store_close(s);
    for (int f = 0; f < 3; f++) {
        for (int st = 0; st < 2; st++) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd,
                     "'%s/chitieu-audit' replay --data '%s' --seq 1234 --now "
                     "2023-07-26T15:30:00+07:00 --feed-label live --format %s %s --quiet",
                     bin, d, fnames[f], st ? "--staff" : "");
            int rc;
            char *got = run_capture(cmd, &rc);
            assert_int_equal(rc, 0);
            assert_string_equal(got, live[f][st]);
            free(got);
            free(live[f][st]);
        }
    }
    rmrf(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmap),
        cmocka_unit_test(test_object_len),
        cmocka_unit_test(test_ctlog_header_trailer),
        cmocka_unit_test(test_recount_equals_store),
        cmocka_unit_test(test_recount_threads),
        cmocka_unit_test(test_replay_reproduces_live),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
