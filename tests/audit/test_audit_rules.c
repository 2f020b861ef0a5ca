/* test_audit_rules.c — the auditor's rules as library calls, on real LMDB
 * stores built through the store API and tampered with through liblmdb:
 *   - ct_audit_verify_store: clean store, campaign fingerprint warning,
 *     "missing" at the head, head mismatch, record beyond the head;
 *   - ct_export_range: seq and time ranges, the header's previous hash and
 *     the trailer;
 *   - ct_audit_verify_ctlog and ct_rebuild share the trailer rule
 *     (ct_ctlog_check_trailer): a trailer with a wrong last seq is refused by
 *     both, and rebuild creates no store;
 *   - ct_rebuild of a clean export equals the source; ct_trace by agent.
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

#include "ct_audit.h"
#include "ct_campaign_default.h"
#include "ct_ctlog.h"
#include "ct_export.h"
#include "ct_keys.h"
#include "ct_rebuild.h"
#include "ct_testgen.h"
#include "ct_trace.h"
#include "ct_verify.h"

enum { N = 600 };

static ct_campaign camp;
static char *pristine; /* a store of N events, made once */
static uint8_t pristine_head[32];

static char *mktmp(void)
{
    char *d = strdup("/tmp/ct-audit-rules-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    assert_int_equal(system(cmd), 0);
}

static ct_store *open_ro(const char *dir)
{
    ct_store *s = NULL;
    char err[256];
    ct_store_opts so = {.dir = dir, .campaign_id = camp.id, .read_only = true};
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    return s;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (ct_crypto_init() != CT_OK || ct_campaign_load_default(&camp, err, sizeof err) != CT_OK)
        return -1;
    pristine = strdup("/tmp/ct-audit-rules-src-XXXXXX");
    if (!mkdtemp(pristine)) return -1;
    ct_testgen_opts go = {.events = N, .seed = 5, .batch = 64};
    if (ct_testgen_make_store(pristine, &camp, &go) != CT_OK) return -1;
    ct_store *s;
    ct_store_opts so = {.dir = pristine, .campaign_id = camp.id, .read_only = true};
    uint64_t seq;
    if (ct_store_open(&so, &s, err, sizeof err) || ct_store_head(s, &seq, pristine_head)) return -1;
    ct_store_close(s);
    return seq == N ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pristine);
    if (system(cmd) != 0) return -1;
    free(pristine);
    ct_campaign_free(&camp);
    return 0;
}

/* A copy of the pristine store (without its lock file). */
static char *copy_store(void)
{
    char *d = mktmp();
    sh("cp '%s'/data.mdb '%s'/", pristine, d);
    return d;
}

static void rmrf(char *d)
{
    sh("rm -rf '%s'%s", d, "");
    free(d);
}

/* The tamperer: one LMDB write transaction on the named database. */
typedef struct {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
} tamper;

static void tamper_begin(tamper *x, const char *dir, const char *db)
{
    assert_int_equal(mdb_env_create(&x->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(x->env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(x->env, (size_t)1 << 30), 0);
    assert_int_equal(mdb_env_open(x->env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(x->env, NULL, 0, &x->t), 0);
    assert_int_equal(mdb_dbi_open(x->t, db, 0, &x->dbi), 0);
}

static void tamper_end(tamper *x)
{
    assert_int_equal(mdb_txn_commit(x->t), 0);
    mdb_env_close(x->env);
}

static MDB_val seq_key(uint64_t seq, uint8_t b[8])
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(seq >> (56 - 8 * i));
    return (MDB_val){8, b};
}

static const char *verify_store(const char *dir, const ct_campaign *c, ct_verify_info *vi,
                                ct_audit *a)
{
    ct_store *s = open_ro(dir);
    char err[512] = "";
    ct_audit_opts ao = {.campaign = c, .threads = 2};
    assert_int_equal(ct_audit_verify_store(a, s, dir, &ao, false, vi, err, sizeof err), CT_OK);
    ct_store_close(s);
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    return r.finding;
}

static void test_verify_store(void **state)
{
    (void)state;
    ct_audit a;
    ct_verify_info vi;
    assert_string_equal(verify_store(pristine, &camp, &vi, &a), "");
    ct_audit_result r;
    ct_audit_result_get(&a, &r);
    assert_false(r.diverged);
    assert_int_equal(r.last_seq, N);
    assert_int_equal(r.n_records, N);
    assert_memory_equal(r.head, pristine_head, 32);
    assert_false(vi.fingerprint_differs);
    assert_string_equal(vi.warning, "");
    ct_audit_free(&a);
    /* another campaign file of the same id: a warning, not a finding */
    ct_campaign other = camp; /* shares the arrays: never freed */
    other.fingerprint[0] ^= 1;
    assert_string_equal(verify_store(pristine, &other, &vi, &a), "");
    assert_true(vi.fingerprint_differs);
    assert_non_null(strstr(vi.warning, "differs from the store's current one"));
    ct_audit_free(&a);
    /* the last record deleted: missing at the head */
    char *d = copy_store();
    tamper x;
    uint8_t kb[8];
    tamper_begin(&x, d, "log");
    MDB_val k = seq_key(N, kb), v;
    assert_int_equal(mdb_del(x.t, x.dbi, &k, NULL), 0);
    tamper_end(&x);
    char want[256];
    snprintf(want, sizeof want, "seq %d missing (log ends at %d, head is at %d)", N, N - 1, N);
    assert_string_equal(verify_store(d, &camp, &vi, &a), want);
    ct_audit_free(&a);
    rmrf(d);
    /* a record appended behind the head's back: beyond the head */
    d = copy_store();
    tamper_begin(&x, d, "log");
    k = seq_key(N, kb);
    assert_int_equal(mdb_get(x.t, x.dbi, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    /* [seq, ...] with seq as uint16 (0xcd): renumber it N + 7 */
    assert_true(copy[0] == 0x95 && copy[1] == 0xcd && copy[2] == (N >> 8) && copy[3] == (N & 255));
    copy[3] = (uint8_t)((N + 7) & 255);
    MDB_val v2 = {v.mv_size, copy};
    uint8_t kb2[8];
    MDB_val k2 = seq_key(N + 7, kb2);
    assert_int_equal(mdb_put(x.t, x.dbi, &k2, &v2, 0), 0);
    tamper_end(&x);
    free(copy);
    snprintf(want, sizeof want, "seq %d: record beyond the log's head (seq %d)", N + 7, N);
    assert_string_equal(verify_store(d, &camp, &vi, &a), want);
    ct_audit_free(&a);
    rmrf(d);
    /* the stored head's hash changed: head mismatch */
    d = copy_store();
    tamper_begin(&x, d, "meta");
    MDB_val hk = {4, (void *)"head"}, hv;
    assert_int_equal(mdb_get(x.t, x.dbi, &hk, &hv), 0);
    uint8_t nh[40];
    assert_int_equal(hv.mv_size, sizeof nh);
    memcpy(nh, hv.mv_data, sizeof nh);
    nh[8] ^= 0xff;
    MDB_val nv = {sizeof nh, nh};
    assert_int_equal(mdb_put(x.t, x.dbi, &hk, &nv, 0), 0);
    tamper_end(&x);
    char h1[65], h2[65];
    ct_hash_hex(nh + 8, h1);
    ct_hash_hex(pristine_head, h2);
    snprintf(want, sizeof want, "seq %d: head mismatch: stored head %s, chain gives %s", N, h1, h2);
    assert_string_equal(verify_store(d, &camp, &vi, &a), want);
    ct_audit_free(&a);
    rmrf(d);
}

static ct_err hash_of_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    memcpy(arg, rec->hash, 32);
    return CT_OK;
}

static void export_file(const char *path, ct_export_opts *eo, ct_export_info *info)
{
    ct_store *s = open_ro(pristine);
    char err[512] = "";
    eo->campaign = &camp;
    assert_int_equal(ct_export_to_file(s, pristine, eo, path, info, err, sizeof err), CT_OK);
    ct_store_close(s);
}

static void test_export_range(void **state)
{
    (void)state;
    char *d = mktmp(), path[512];
    snprintf(path, sizeof path, "%s/part.ctlog", d);
    ct_export_opts eo = {.format = CT_EXPORT_CTLOG, .from_seq = 101, .to_seq = 250};
    ct_export_info info;
    export_file(path, &eo, &info);
    assert_int_equal(info.from, 101);
    assert_int_equal(info.last, 250);
    assert_int_equal(info.count, 150);
    uint8_t h100[32], h250[32];
    ct_store *s = open_ro(pristine);
    assert_int_equal(ct_store_log_scan(s, 100, 100, hash_of_cb, h100, NULL), CT_OK);
    assert_int_equal(ct_store_log_scan(s, 250, 250, hash_of_cb, h250, NULL), CT_OK);
    assert_memory_equal(info.last_hash, h250, 32);
    ct_ctlog_reader r;
    char err[512];
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    assert_int_equal(r.from, 101);
    assert_memory_equal(r.prev, h100, 32);
    ct_audit a;
    ct_audit_opts ao = {.campaign = &camp};
    assert_int_equal(ct_audit_verify_ctlog(&a, &r, path, &ao, err, sizeof err), CT_OK);
    ct_audit_result res;
    ct_audit_result_get(&a, &res);
    assert_string_equal(res.finding, "");
    assert_true(r.has_trailer);
    assert_int_equal(r.trailer_count, 150);
    assert_int_equal(r.trailer_last, 250);
    assert_memory_equal(r.trailer_head, h250, 32);
    ct_audit_free(&a);
    ct_ctlog_close(&r);
    ct_store_close(s);
    /* a time range is the seq range of the records received in it: the
     * receive times of records 300 and 420 (from a jsonl export) */
    int64_t t[2];
    uint64_t at[2] = {300, 420};
    snprintf(path, sizeof path, "%s/all.jsonl", d);
    ct_export_opts ej = {.format = CT_EXPORT_JSONL};
    export_file(path, &ej, &info);
    assert_int_equal(info.count, N);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int64_t recv[N + 1];
    for (int i = 1; i <= N; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *p = strstr(line, "\"received_ms\":");
        assert_non_null(p);
        recv[i] = strtoll(p + 14, NULL, 10);
    }
    fclose(f);
    t[0] = recv[at[0]];
    t[1] = recv[at[1]];
    uint64_t first = 0, last = 0;
    for (int i = 1; i <= N && recv[i] <= t[1]; i++) {
        if (!first && recv[i] >= t[0]) first = (uint64_t)i;
        last = (uint64_t)i;
    }
    snprintf(path, sizeof path, "%s/time.ctlog", d);
    ct_export_opts et = {
        .format = CT_EXPORT_CTLOG, .by_time = true, .from_ms = t[0], .to_ms = t[1]};
    export_file(path, &et, &info);
    assert_true(first <= at[0] && last >= at[1]);
    assert_int_equal(info.from, first);
    assert_int_equal(info.last, last);
    assert_int_equal(info.count, last - first + 1);
    sh("rm -rf '%s'%s", d, "");
    free(d);
}

/* A .ctlog of the whole log whose trailer says `last` for the last seq. */
static void write_ctlog(const char *path, uint64_t count, uint64_t last, const uint8_t *head)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.full", path);
    ct_export_opts eo = {.format = CT_EXPORT_CTLOG};
    ct_export_info info;
    export_file(tmp, &eo, &info);
    FILE *f = fopen(tmp, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unlink(tmp);
    ct_buf t = CT_BUF_INIT;
    assert_int_equal(ct_ctlog_put_trailer(&t, info.count, info.last, info.last_hash), CT_OK);
    assert_true(n > t.len && memcmp(buf + n - t.len, t.data, t.len) == 0);
    n -= t.len;
    ct_buf_reset(&t);
    assert_int_equal(ct_ctlog_put_trailer(&t, count, last, head ? head : info.last_hash), CT_OK);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fwrite(t.data, 1, t.len, f), t.len);
    assert_int_equal(fclose(f), 0);
    ct_buf_free(&t);
}

static const char *rebuild(const char *path, const char *dir, ct_audit *a, ct_rebuild_info *info)
{
    ct_ctlog_reader r;
    char err[512] = "";
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    ct_audit_opts ao = {.campaign = &camp, .threads = 2};
    assert_int_equal(ct_rebuild(a, &r, path, dir, &ao, NULL, info, err, sizeof err), CT_OK);
    ct_ctlog_close(&r);
    ct_audit_result res;
    ct_audit_result_get(a, &res);
    return res.finding;
}

static void test_trailer_rule(void **state)
{
    (void)state;
    char *d = mktmp(), path[512], nd[600], dm[700];
    snprintf(path, sizeof path, "%s/x.ctlog", d);
    snprintf(nd, sizeof nd, "%s/new", d);
    snprintf(dm, sizeof dm, "%s/data.mdb", nd);
    ct_audit a;
    ct_rebuild_info info;
    /* right count and head, wrong last seq: verify and rebuild refuse it alike */
    write_ctlog(path, N, N + 5, NULL);
    char want[256];
    snprintf(want, sizeof want,
             "trailer: says %d records ending at seq %d, file holds %d ending at seq %d", N, N + 5,
             N, N);
    ct_ctlog_reader r;
    char err[512];
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    ct_audit_opts ao = {.campaign = &camp};
    assert_int_equal(ct_audit_verify_ctlog(&a, &r, path, &ao, err, sizeof err), CT_OK);
    ct_audit_result res;
    ct_audit_result_get(&a, &res);
    assert_string_equal(res.finding, want);
    ct_audit_free(&a);
    ct_ctlog_close(&r);
    assert_string_equal(rebuild(path, nd, &a, &info), want);
    ct_audit_free(&a);
    struct stat st;
    assert_int_not_equal(stat(dm, &st), 0); /* nothing imported */
    /* wrong count, wrong head */
    write_ctlog(path, N - 1, N, NULL);
    snprintf(want, sizeof want,
             "trailer: says %d records ending at seq %d, file holds %d ending at seq %d", N - 1, N,
             N, N);
    assert_string_equal(rebuild(path, nd, &a, &info), want);
    ct_audit_free(&a);
    uint8_t bad[32] = {1};
    write_ctlog(path, N, N, bad);
    snprintf(want, sizeof want, "seq %d: trailer head differs from the chain", N);
    assert_string_equal(rebuild(path, nd, &a, &info), want);
    ct_audit_free(&a);
    assert_int_not_equal(stat(dm, &st), 0);
    /* the true trailer: rebuilt, same head, counts checked */
    write_ctlog(path, N, N, NULL);
    assert_string_equal(rebuild(path, nd, &a, &info), "");
    ct_audit_free(&a);
    assert_int_equal(info.seq, N);
    assert_memory_equal(info.head, pristine_head, 32);
    assert_true(info.counters > 0);
    assert_int_equal(stat(dm, &st), 0);
    /* a second rebuild into it is refused */
    assert_int_equal(ct_ctlog_open(path, &r, err, sizeof err), CT_OK);
    ct_audit_opts ao2 = {.campaign = &camp};
    err[0] = 0;
    assert_int_equal(ct_rebuild(&a, &r, path, nd, &ao2, NULL, &info, err, sizeof err), CT_ERR_ARG);
    assert_non_null(strstr(err, "already holds a store"));
    ct_audit_free(&a);
    ct_ctlog_close(&r);
    sh("rm -rf '%s'%s", d, "");
    free(d);
}

static void test_trace(void **state)
{
    (void)state;
    ct_audit_src src = {.store = open_ro(pristine), .name = pristine};
    /* the agent of record 1 */
    char path[] = "/tmp/ct-audit-rules-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *out = fopen(path, "w+");
    assert_non_null(out);
    ct_trace_filter t = {.jsonl = true, .district = 672};
    ct_audit a;
    ct_audit_opts ao = {.campaign = &camp};
    uint64_t n = 0;
    char err[512] = "";
    assert_int_equal(ct_trace(&a, &src, &ao, &t, out, &n, err, sizeof err), CT_OK);
    ct_audit_result r;
    ct_audit_result_get(&a, &r);
    assert_false(r.diverged);
    assert_int_equal(r.n_records, N);
    ct_audit_free(&a);
    rewind(out);
    char line[4096];
    uint64_t lines = 0;
    while (fgets(line, sizeof line, out)) {
        assert_non_null(strstr(line, "\"district\":672"));
        lines++;
    }
    assert_int_equal(lines, n);
    assert_true(n > 0 && n < N);
    fclose(out);
    unlink(path);
    char e2[128];
    assert_int_equal(ct_trace_set_person(&t, "abc", e2, sizeof e2), CT_ERR_USAGE);
    assert_int_equal(ct_trace_set_person(&t, "0123456789abcdefAB", e2, sizeof e2), CT_OK);
    assert_int_equal(t.person_nibbles, 18);
    assert_int_equal(t.person[0], 0x01);
    assert_int_equal(t.person[8], 0xab);
    assert_int_equal(ct_trace_set_day(&t, "2023-07-25", e2, sizeof e2), CT_OK);
    assert_int_equal(t.day, 20230725);
    assert_int_equal(ct_trace_set_day(&t, "2023-13-01", e2, sizeof e2), CT_ERR_USAGE);
    ct_store_close(src.store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_store),
        cmocka_unit_test(test_export_range),
        cmocka_unit_test(test_trailer_rule),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
