/* test_store_tally.c — the store and the commune level of the tally rule, on
 * real LMDB files: COMMUNE counters written by batches, a cancel after a
 * reopen (person states replayed from the log) debiting the crediting
 * commune, and meta "tally_version": a store of an older version (absent = 1)
 * is stamped 3 when its log is empty and refused, naming export and rebuild,
 * when it has records; a later version is refused. The "persons" layout: a
 * writer refuses a store whose person states are keyed without a run
 * (chitieu-store-1), naming export and rebuild, and leaves it as it is; it
 * stamps meta "format" chitieu-store-2 on a store whose table is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "ct_storekit.h"

#include "ct_be.h"
#include "ct_tally.h"

/* sk_camp: the built-in campaign, no commune lists */
static ct_campaign g_listing; /* the same, 672 listing two communes */
static char g_communes[2][CT_COMMUNE_MAX + 1] = {"Phường 1", "Phường 2"};
static ct_district *g_districts;

static ct_store *open_with(const char *dir, const ct_campaign *c, ct_err *rc, char *err,
                           size_t errlen)
{
    ct_store *s = sk_open_raw(dir, (size_t)64 << 20, c->id, rc, err, errlen);
    if (*rc == CT_OK) *rc = ct_store_set_campaign(s, c, err, errlen);
    if (*rc != CT_OK && s) {
        ct_store_close(s);
        s = NULL;
    }
    return s;
}

static void one(ct_store *s, const ct_campaign *c, uint64_t idseq, ct_action a, const char *commune)
{
    static const uint8_t origin[CT_ORIGIN_LEN] = {9, 2, 3, 4, 5, 6, 7, 8};
    ct_event ev;
    memset(&ev, 0, sizeof ev);
    ct_event_id_make(ev.id, origin, idseq);
    ev.occurred_ms = SK_T0;
    snprintf(ev.campaign, sizeof ev.campaign, "%s", c->id);
    ev.district = 672;
    snprintf(ev.agent, sizeof ev.agent, "LD672-00%u", (unsigned)(idseq % 3) + 1);
    ev.program = CT_PROGRAM_BHYT_HGD;
    ev.action = a;
    ev.person[0] = 42;
    snprintf(ev.commune, sizeof ev.commune, "%s", commune);
    assert_int_equal(ct_campaign_check_event(c, &ev, INT64_MAX), CT_OK);
    ct_buf raw;
    memset(&raw, 0, sizeof raw);
    assert_int_equal(ct_event_encode(&ev, &raw), CT_OK);
    ct_store_item it;
    memset(&it, 0, sizeof it);
    it.ev = &ev;
    it.raw = raw.data;
    it.raw_len = raw.len;
    it.collector = "insecure";
    it.received_ms = SK_T0 + 1000;
    it.local_day = ct_campaign_local_day(c, ev.occurred_ms);
    it.commune = ct_campaign_commune_code(c, ev.district, ev.commune);
    ct_store_commit cm = {.changed = NULL};
    assert_int_equal(ct_store_apply_batch(s, &it, 1, &cm), CT_OK);
    assert_int_equal(it.status, CT_ACK_ACCEPTED);
    ct_buf_free(&raw);
}

static int64_t commune_count(ct_store *s, uint16_t code)
{
    uint8_t d[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return sk_count(s, CT_COUNT_COMMUNE, CT_PROGRAM_BHYT_HGD, 672, d, 2);
}

/* Reads (get) or rewrites (put, or delete when v is NULL) meta
 * "tally_version" directly in the LMDB file of a closed store. */
static int meta_version(const char *dir, bool write, const uint32_t *v, uint32_t *out)
{
    sk_raw r;
    sk_raw_open(&r, dir, write);
    MDB_val k = {strlen("tally_version"), (void *)"tally_version"}, val;
    uint8_t b[4];
    int rc;
    if (!write) {
        rc = mdb_get(r.txn, r.meta, &k, &val);
        if (!rc) *out = val.mv_size == 4 ? ct_be32_get(val.mv_data) : 0;
    } else if (v) {
        ct_be32_put(b, *v);
        val.mv_size = 4;
        val.mv_data = b;
        rc = mdb_put(r.txn, r.meta, &k, &val, 0);
    } else {
        rc = mdb_del(r.txn, r.meta, &k, NULL);
    }
    sk_raw_close(&r, write && !rc);
    return rc;
}

static void test_commune_counts_and_reopen(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[512];
    ct_err rc;
    ct_store *s = open_with(td.dir, &g_listing, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    one(s, &g_listing, 1, CT_ACTION_ENROLL, "Phường 2");
    assert_int_equal(commune_count(s, 2), 1);
    assert_int_equal(commune_count(s, 1), 0);
    one(s, &g_listing, 2, CT_ACTION_ENROLL, "Phường 1"); /* repeat: nothing moves */
    assert_int_equal(commune_count(s, 2), 1);
    assert_int_equal(commune_count(s, 1), 0);
    ct_store_close(s);
    uint32_t have = 0;
    assert_int_equal(meta_version(td.dir, false, NULL, &have), 0);
    assert_int_equal(have, CT_TALLY_VERSION);
    /* reopened: the person state (version 2) says commune 2 */
    s = open_with(td.dir, &g_listing, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    one(s, &g_listing, 3, CT_ACTION_CANCEL, "Phường 1");
    assert_int_equal(commune_count(s, 2), 0);
    assert_int_equal(commune_count(s, 1), 0);
    one(s, &g_listing, 4, CT_ACTION_ENROLL, ""); /* no commune named: code 0 */
    assert_int_equal(commune_count(s, 1) + commune_count(s, 2), 0);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

static void test_tally_version(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[512];
    ct_err rc;
    uint32_t have = 0, v2 = 2;
    /* an empty log: stamped 3, whether the version is absent (1) or 2 */
    ct_store *s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    ct_store_close(s);
    assert_int_equal(meta_version(td.dir, false, NULL, &have), 0);
    assert_int_equal(have, 3);
    assert_int_equal(meta_version(td.dir, true, NULL, NULL), 0);
    s = open_with(td.dir, &g_listing, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    ct_store_close(s);
    assert_int_equal(meta_version(td.dir, false, NULL, &have), 0);
    assert_int_equal(have, CT_TALLY_VERSION);
    assert_int_equal(meta_version(td.dir, true, &v2, NULL), 0);
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    ct_store_close(s);
    assert_int_equal(meta_version(td.dir, false, NULL, &have), 0);
    assert_int_equal(have, 3);
    /* with records: version 2 is refused, naming export and rebuild, under a
     * campaign with or without commune lists (the lateness counters of
     * version 3 exist for every counted enroll), and left as it is */
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    one(s, &sk_camp, 1, CT_ACTION_ENROLL, "Phường 2");
    ct_store_close(s);
    assert_int_equal(meta_version(td.dir, true, &v2, NULL), 0);
    for (int i = 0; i < 2; i++) {
        s = open_with(td.dir, i ? &g_listing : &sk_camp, &rc, err, sizeof err);
        assert_null(s);
        assert_int_equal(rc, CT_ERR_BAD_VERSION);
        assert_non_null(strstr(err, "tally version 2"));
        assert_non_null(strstr(err, "chitieu-audit export"));
        assert_non_null(strstr(err, "chitieu-audit rebuild"));
        assert_int_equal(meta_version(td.dir, false, NULL, &have), 0);
        assert_int_equal(have, 2);
    }
    /* ... and so is version 1 (absent) */
    assert_int_equal(meta_version(td.dir, true, NULL, NULL), 0);
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_null(s);
    assert_int_equal(rc, CT_ERR_BAD_VERSION);
    assert_non_null(strstr(err, "tally version 1"));
    assert_int_equal(meta_version(td.dir, false, NULL, &have), MDB_NOTFOUND);
    /* a later version: refused by every writer */
    uint32_t later = CT_TALLY_VERSION + 1;
    assert_int_equal(meta_version(td.dir, true, &later, NULL), 0);
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_null(s);
    assert_int_equal(rc, CT_ERR_BAD_VERSION);
    assert_non_null(strstr(err, "this build knows 3"));
    sk_tmp_remove(&td);
}

/* Reads meta "format" (out, NUL-terminated) of a closed store, or rewrites
 * it (set) and puts one "persons" row keyed program || person hash (put_old). */
static void raw_layout(const char *dir, const char *set, bool put_old, char out[64])
{
    sk_raw r;
    sk_raw_open(&r, dir, true);
    MDB_txn *t = r.txn;
    MDB_dbi meta = r.meta, persons;
    assert_int_equal(mdb_dbi_open(t, "persons", 0, &persons), 0);
    MDB_val k = {sizeof "format" - 1, (void *)"format"}, v;
    if (set) {
        v.mv_size = strlen(set);
        v.mv_data = (void *)set;
        assert_int_equal(mdb_put(t, meta, &k, &v, 0), 0);
    }
    if (put_old) {
        uint8_t key[CT_PERSON_KEY_LEN] = {1, 42}, val[1] = {0};
        MDB_val pk = {sizeof key, key}, pv = {sizeof val, val};
        assert_int_equal(mdb_put(t, persons, &pk, &pv, 0), 0);
    }
    assert_int_equal(mdb_get(t, meta, &k, &v), 0);
    assert_true(v.mv_size < 64);
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = 0;
    sk_raw_close(&r, true);
}

static void test_persons_layout(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    char err[512], fmt[64];
    ct_err rc;
    ct_store *s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    one(s, &sk_camp, 1, CT_ACTION_ENROLL, "");
    ct_store_close(s);
    raw_layout(td.dir, NULL, false, fmt);
    assert_string_equal(fmt, "chitieu-store-2");
    /* a store of the first format whose rows are all of this layout (none
     * written under the old key): stamped */
    raw_layout(td.dir, "chitieu-store-1", false, fmt);
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    ct_store_close(s);
    raw_layout(td.dir, NULL, false, fmt);
    assert_string_equal(fmt, "chitieu-store-2");
    /* a row keyed without a run: refused, the store left as it is */
    raw_layout(td.dir, "chitieu-store-1", true, fmt);
    s = open_with(td.dir, &sk_camp, &rc, err, sizeof err);
    assert_null(s);
    assert_int_equal(rc, CT_ERR_BAD_VERSION);
    assert_non_null(strstr(err, "chitieu-store-1"));
    assert_non_null(strstr(err, "chitieu-audit export"));
    assert_non_null(strstr(err, "chitieu-audit rebuild"));
    raw_layout(td.dir, NULL, false, fmt);
    assert_string_equal(fmt, "chitieu-store-1");
    sk_tmp_remove(&td);
}

static int setup(void **state)
{
    (void)state;
    if (sk_campaign_load()) return -1;
    g_listing = sk_camp;
    g_districts = calloc(sk_camp.n_districts, sizeof *g_districts);
    if (!g_districts) return -1;
    memcpy(g_districts, sk_camp.districts, sk_camp.n_districts * sizeof *g_districts);
    g_listing.districts = g_districts;
    for (size_t i = 0; i < g_listing.n_districts; i++) {
        if (g_districts[i].code != 672) continue;
        g_districts[i].communes = g_communes;
        g_districts[i].n_communes = 2;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_districts);
    sk_campaign_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commune_counts_and_reopen),
        cmocka_unit_test(test_tally_version),
        cmocka_unit_test(test_persons_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
