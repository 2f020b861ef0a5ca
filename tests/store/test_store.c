/* test_store.c — unit tests of the store (store/ct_store*.c, ct_pmap.c) on real
 * LMDB files.
 *
 * Each test works in its own mkdtemp directory (removed at the end) and uses
 * the built-in lamdong-2023 campaign. Assertions are exact: statuses, codes,
 * sequence numbers, counts, and counts == a recount with ct_tally_entry over
 * the log scan.
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

static ct_campaign g_camp;
/* 2023-07-25T08:00:00+07:00 */
#define T0 ((int64_t)1690246800000)

typedef ct_tmpdir tmpdir;

static void tmp_make(tmpdir *t)
{
    assert_int_equal(ct_tmpdir_make(t, "ct-store-test"), 0);
}

static void tmp_remove(tmpdir *t)
{
    assert_int_equal(ct_tmpdir_remove(t), 0);
}

static ct_store *open_store(const char *dir, size_t map, const char *campaign, ct_err *rc)
{
    ct_store_opts o = {.dir = dir, .map_size = map, .campaign_id = campaign};
    ct_store *s = NULL;
    char err[256] = "";
    *rc = ct_store_open(&o, &s, err, sizeof err);
    if (*rc == CT_OK) *rc = ct_store_set_campaign(s, &g_camp, err, sizeof err);
    return s;
}

static ct_store *open_ok(const char *dir, size_t map)
{
    ct_err rc;
    ct_store *s = open_store(dir, map, g_camp.id, &rc);
    assert_int_equal(rc, CT_OK);
    assert_non_null(s);
    return s;
}

/* An event and its encoding, as ingest would hand it to the store. */
typedef struct {
    ct_event ev;
    ct_buf raw;
} tev;

static const char *const AGENTS[] = {"LD672-001", "LD672-002", "LD672-003"};

static void tev_make(tev *t, uint64_t idseq, uint32_t person, ct_program p, ct_action a,
                     const char *group, int64_t t_ms)
{
    static const uint8_t origin[CT_ORIGIN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(t, 0, sizeof *t);
    ct_event_id_make(t->ev.id, origin, idseq);
    t->ev.occurred_ms = t_ms;
    snprintf(t->ev.campaign, sizeof t->ev.campaign, "%s", g_camp.id);
    t->ev.district = 672;
    snprintf(t->ev.agent, sizeof t->ev.agent, "%s", AGENTS[idseq % 3]);
    t->ev.program = p;
    t->ev.action = a;
    memcpy(t->ev.person, &person, sizeof person);
    if (group) snprintf(t->ev.group, sizeof t->ev.group, "%s", group);
    assert_int_equal(ct_event_encode(&t->ev, &t->raw), CT_OK);
}

static void item_of(ct_store_item *it, tev *t)
{
    memset(it, 0, sizeof *it);
    it->ev = &t->ev;
    it->raw = t->raw.data;
    it->raw_len = t->raw.len;
    it->collector = "insecure";
    it->received_ms = T0 + 1000;
    it->local_day = ct_campaign_local_day(&g_camp, t->ev.occurred_ms);
}

static ct_err apply(ct_store *s, tev *evs, size_t n, ct_store_item *items, ct_store_commit *c)
{
    for (size_t i = 0; i < n; i++)
        item_of(&items[i], &evs[i]);
    return ct_store_apply_batch(s, items, n, c);
}

static int64_t count_of(ct_store *s, ct_count_kind k, ct_program p)
{
    ct_counts c;
    ct_counts_init(&c);
    uint64_t seq;
    uint8_t h[32];
    assert_int_equal(ct_store_read_counts(s, &c, &seq, h), CT_OK);
    ct_count_key key = ct_count_key_make(k, p, 672, NULL, 0);
    int64_t v = ct_counts_get(&c, &key);
    ct_counts_free(&c);
    return v;
}

/* ---- recount via the tally rule over the log scan ---------------------- */

typedef struct {
    uint8_t key[CT_PERSON_KEY_LEN];
    ct_person_state st;
} pslot;

typedef struct {
    pslot *p;
    size_t n, cap;
    ct_counts counts;
    uint8_t prev[CT_LOGREC_HASH_LEN];
    uint64_t last_seq;
    int chain_ok;
} recount;

static pslot *recount_slot(recount *r, const uint8_t pk[CT_PERSON_KEY_LEN], bool add)
{
    for (size_t i = 0; i < r->n; i++)
        if (memcmp(r->p[i].key, pk, CT_PERSON_KEY_LEN) == 0) return &r->p[i];
    if (!add) return NULL;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->p = realloc(r->p, r->cap * sizeof *r->p);
        assert_non_null(r->p);
    }
    pslot *slot = &r->p[r->n++];
    memcpy(slot->key, pk, CT_PERSON_KEY_LEN);
    return slot;
}

static ct_err recount_count(void *arg, const ct_count_key *k, int64_t *v)
{
    *v = ct_counts_get(&((recount *)arg)->counts, k);
    return CT_OK;
}

static ct_err recount_person(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                             ct_person_state *st, bool *found)
{
    uint8_t pk[CT_PERSON_KEY_LEN];
    ct_person_key(p, person, pk);
    pslot *slot = recount_slot(arg, pk, false);
    *found = slot != NULL;
    if (slot) *st = slot->st;
    return CT_OK;
}

static ct_err recount_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    recount *r = arg;
    if (rec->seq != r->last_seq + 1) r->chain_ok = 0;
    if (ct_logrec_check(rec, r->prev) != CT_OK) r->chain_ok = 0;
    memcpy(r->prev, rec->hash, sizeof r->prev);
    r->last_seq = rec->seq;
    ct_entry e;
    assert_int_equal(ct_entry_decode(rec->event, rec->event_len, &e, NULL), CT_OK);
    ct_tally_in in;
    ct_tally_in_make(&g_camp, &e, rec->seq, rec->received_ms, &in);
    ct_tally_ctx ctx = {recount_count, recount_person, r};
    ct_tally_entry_result res;
    assert_int_equal(ct_tally_entry(&ctx, &e, &in, &res), CT_OK);
    assert_int_equal(res.refused, CT_OK); /* a logged entry was applied */
    for (size_t i = 0; i < res.n_persons; i++) {
        uint8_t pk[CT_PERSON_KEY_LEN];
        ct_person_key(res.persons[i].program, res.persons[i].person, pk);
        recount_slot(r, pk, true)->st = res.persons[i].state;
    }
    for (size_t i = 0; i < res.n; i++)
        assert_int_equal(ct_counts_add(&r->counts, &res.changes[i].key, res.changes[i].delta),
                         CT_OK);
    return CT_OK;
}

/* Scans the log, recounts, checks the chain and compares with the store. */
static void assert_store_consistent(ct_store *s, uint64_t expect_seq)
{
    recount r;
    memset(&r, 0, sizeof r);
    r.chain_ok = 1;
    ct_counts_init(&r.counts);
    uint64_t bad = 0;
    assert_int_equal(ct_store_log_scan(s, 1, 0, recount_cb, &r, &bad), CT_OK);
    assert_int_equal(r.chain_ok, 1);
    assert_int_equal(r.last_seq, expect_seq);
    ct_counts stored;
    ct_counts_init(&stored);
    uint64_t seq;
    uint8_t head[32];
    assert_int_equal(ct_store_read_counts(s, &stored, &seq, head), CT_OK);
    assert_int_equal(seq, expect_seq);
    assert_memory_equal(head, r.prev, 32);
    ct_count_key diff;
    assert_int_equal(ct_counts_equal(&stored, &r.counts, &diff), 1);
    ct_counts_free(&stored);
    ct_counts_free(&r.counts);
    free(r.p);
}

static void tevs_free(tev *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct_buf_free(&t[i].raw);
}

/* ---- tests --------------------------------------------------------------- */

static void test_apply_duplicate_conflict(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    tev e[4];
    tev_make(&e[0], 1, 100, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0);
    tev_make(&e[1], 2, 101, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, "nq143", T0 + 1);
    tev_make(&e[2], 3, 102, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL, T0 + 2);
    ct_store_item it[4];
    ct_counts changed;
    ct_counts_init(&changed);
    ct_store_commit c = {.changed = &changed};
    assert_int_equal(apply(s, e, 3, it, &c), CT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it[i].status, CT_ACK_ACCEPTED);
        assert_int_equal(it[i].code, CT_OK);
        assert_int_equal(it[i].seq, (uint64_t)i + 1);
    }
    assert_int_equal(c.seq_before, 0);
    assert_int_equal(c.seq_after, 3);
    ct_count_key knet = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
    assert_int_equal(ct_counts_get(&changed, &knet), 2);
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 2);
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), 1);

    /* resend the same bytes: duplicate, nothing changes */
    uint8_t h1[32], h2[32];
    uint64_t s1, s2;
    assert_int_equal(ct_store_head(s, &s1, h1), CT_OK);
    assert_int_equal(apply(s, e, 2, it, &c), CT_OK);
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
    tev_make(&e[3], 2, 999, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0 + 5);
    assert_int_equal(apply(s, &e[3], 1, it, &c), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_REJECTED);
    assert_int_equal(it[0].code, CT_ERR_CONFLICT);
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 2);
    uint64_t seq;
    assert_int_equal(ct_store_find_id(s, e[3].ev.id, &seq), CT_OK);
    assert_int_equal(seq, 2);
    assert_store_consistent(s, 3);

    ct_counts_free(&changed);
    ct_store_close(s);
    tevs_free(e, 4);
    tmp_remove(&td);
}

static void test_in_batch_duplicate(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    tev e[5];
    tev_make(&e[0], 1, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0);
    tev_make(&e[1], 1, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0);     /* dup */
    tev_make(&e[2], 1, 8, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0);     /* conflict */
    tev_make(&e[3], 2, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0 + 1); /* repeat */
    tev_make(&e[4], 3, 7, CT_PROGRAM_BHXH_TN, CT_ACTION_CANCEL, NULL, T0 + 2); /* cancel */
    ct_store_item it[5];
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(apply(s, e, 5, it, &c), CT_OK);
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
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHXH_TN), 0);
    assert_int_equal(count_of(s, CT_COUNT_GROSS, CT_PROGRAM_BHXH_TN), 1);
    assert_int_equal(count_of(s, CT_COUNT_REPEAT, CT_PROGRAM_BHXH_TN), 1);
    assert_int_equal(count_of(s, CT_COUNT_CANCELLED, CT_PROGRAM_BHXH_TN), 1);
    assert_store_consistent(s, 3);
    ct_store_close(s);
    tevs_free(e, 5);
    tmp_remove(&td);
}

/* Many batches of mixed enroll/cancel/repeat/duplicates; counts == recount;
 * reopen keeps everything; read-only open sees the same. */
static void test_recount_reopen(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    enum { N = 3000, B = 250 };
    tev *e = calloc(N, sizeof *e);
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
        tev_make(&e[i], id, person, p, a, (rand() % 4) ? NULL : "nq143",
                 T0 + (int64_t)(rand() % 6) * 86400000 + i);
    }
    uint64_t accepted = 0;
    for (int b = 0; b < N / B; b++) {
        ct_store_commit c = {.changed = NULL};
        assert_int_equal(apply(s, e + b * B, B, it, &c), CT_OK);
        for (int i = 0; i < B; i++)
            if (it[i].status == CT_ACK_ACCEPTED) accepted++;
        assert_int_equal(c.seq_after, accepted);
    }
    assert_true(accepted > 2000);
    assert_store_consistent(s, accepted);
    uint64_t seq;
    uint8_t head[32], head2[32];
    assert_int_equal(ct_store_head(s, &seq, head), CT_OK);
    ct_store_close(s);

    s = open_ok(td.dir, 64u << 20);
    assert_int_equal(ct_store_head(s, &seq, head2), CT_OK);
    assert_int_equal(seq, accepted);
    assert_memory_equal(head, head2, 32);
    assert_store_consistent(s, accepted);
    /* a read-only handle (what audit uses). LMDB forbids opening one environment
     * twice in a process, so the writer is closed first; read-only beside a live
     * writer in another process is covered by tests/audit/test_audit_live.py. */
    ct_store_close(s);
    ct_store_opts ro = {.dir = td.dir, .read_only = true};
    ct_store *r = NULL;
    char err[256];
    assert_int_equal(ct_store_open(&ro, &r, err, sizeof err), CT_OK);
    assert_store_consistent(r, accepted);
    ct_store_item x;
    item_of(&x, &e[0]);
    assert_int_not_equal(ct_store_apply_batch(r, &x, 1, NULL), CT_OK);
    ct_store_close(r);
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&td);
}

static void test_campaign_mismatch(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 0);
    ct_store_close(s);
    ct_err rc;
    s = open_store(td.dir, 0, "another-campaign", &rc);
    assert_null(s);
    assert_int_equal(rc, CT_ERR_CAMPAIGN_MISMATCH);
    /* read-only open of a directory with no store */
    tmpdir empty;
    tmp_make(&empty);
    ct_store_opts ro = {.dir = empty.dir, .read_only = true};
    char err[256];
    assert_int_not_equal(ct_store_open(&ro, &s, err, sizeof err), CT_OK);
    tmp_remove(&empty);
    tmp_remove(&td);
}

static void test_single_writer(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 0);
    ct_err rc;
    ct_store *s2 = open_store(td.dir, 0, g_camp.id, &rc);
    assert_null(s2);
    assert_int_equal(rc, CT_ERR_IO);
    /* (readers beside the writer must be other processes — LMDB forbids two
     * opens of one environment in a process; tests/audit/test_audit_live.py) */
    ct_store_close(s);
    s = open_ok(td.dir, 0); /* the lock went with the first writer */
    ct_store_close(s);
    tmp_remove(&td);
}

static void test_data_dir_mode(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/a/b", td.dir);
    ct_store *s = open_ok(sub, 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    ct_store_close(s);
    tmp_remove(&td);
}

/* A tiny map fills up: the failing batch is refused as a whole, the store
 * stays usable, and a larger map on reopen accepts the same batch. */
static void test_map_full(void **state)
{
    (void)state;
    tmpdir td;
    tmp_make(&td);
    const size_t small = 256u << 10;
    ct_store *s = open_ok(td.dir, small);
    enum { B = 100, MAXB = 200 };
    tev *e = calloc(B * MAXB, sizeof *e);
    ct_store_item it[B];
    assert_non_null(e);
    uint64_t committed = 0;
    int failed_batch = -1;
    uint8_t head_ok[32];
    for (int b = 0; b < MAXB; b++) {
        for (int i = 0; i < B; i++) {
            int k = b * B + i;
            tev_make(&e[k], (uint64_t)k + 1, (uint32_t)k, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL,
                     NULL, T0 + k);
        }
        ct_store_commit c = {.changed = NULL};
        ct_err rc = apply(s, e + b * B, B, it, &c);
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
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), (int64_t)committed);
    /* trying again still fails cleanly (no crash, no partial state) */
    assert_int_equal(apply(s, e + failed_batch * B, B, it, NULL), CT_ERR_MAP_FULL);
    assert_store_consistent(s, committed);
    ct_store_close(s);

    s = open_ok(td.dir, 64u << 20);
    assert_store_consistent(s, committed);
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(apply(s, e + failed_batch * B, B, it, &c), CT_OK);
    for (int i = 0; i < B; i++)
        assert_int_equal(it[i].status, CT_ACK_ACCEPTED);
    assert_int_equal(c.seq_after, committed + B);
    assert_int_equal(count_of(s, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD), (int64_t)committed + B);
    assert_store_consistent(s, committed + B);
    ct_store_close(s);
    tevs_free(e, (size_t)(failed_batch + 1) * B);
    free(e);
    tmp_remove(&td);
}

/* ---- import (audit rebuild) ---------------------------------------------- */

typedef struct {
    ct_store *dst;
    int fail_at; /* tamper with this seq (0 = none) */
    ct_err first_err;
} import_ctx;

static ct_err import_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    import_ctx *x = arg;
    ct_logrec r = *rec;
    if ((int)rec->seq == x->fail_at) r.received_ms += 1; /* body changed, hash kept */
    ct_err e = ct_store_import_record(x->dst, &r, &g_camp);
    if (e) {
        x->first_err = e;
        return e;
    }
    return CT_OK;
}

static void test_import(void **state)
{
    (void)state;
    tmpdir a, b, c;
    tmp_make(&a);
    tmp_make(&b);
    tmp_make(&c);
    ct_store *src = open_ok(a.dir, 64u << 20);
    enum { N = 500 };
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        tev_make(&e[i], (uint64_t)i + 1, (uint32_t)(i % 300),
                 i % 2 ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN,
                 i % 7 == 0 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL, NULL, T0 + i);
    assert_int_equal(apply(src, e, N, it, NULL), CT_OK);

    ct_store *dst = open_ok(b.dir, 64u << 20);
    assert_int_equal(ct_store_import_begin(dst), CT_OK);
    import_ctx x = {dst, 0, CT_OK};
    uint64_t bad;
    assert_int_equal(ct_store_log_scan(src, 1, 0, import_cb, &x, &bad), CT_OK);
    assert_int_equal(ct_store_import_commit(dst), CT_OK);
    assert_store_consistent(dst, N);
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
    assert_int_equal(apply(dst, e, 3, it, &cm), CT_OK);
    assert_int_equal(it[0].status, CT_ACK_DUPLICATE);

    /* a tampered record breaks the chain: refused, and abort leaves it empty */
    ct_store *bad_dst = open_ok(c.dir, 64u << 20);
    assert_int_equal(ct_store_import_begin(bad_dst), CT_OK);
    import_ctx y = {bad_dst, 17, CT_OK};
    assert_int_equal(ct_store_log_scan(src, 1, 0, import_cb, &y, &bad), CT_ERR_CHAIN);
    assert_int_equal(y.first_err, CT_ERR_CHAIN);
    ct_store_import_abort(bad_dst);
    assert_int_equal(ct_store_head(bad_dst, &s2, h2), CT_OK);
    assert_int_equal(s2, 0);

    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(src);
    ct_store_close(dst);
    ct_store_close(bad_dst);
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&a);
    tmp_remove(&b);
    tmp_remove(&c);
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
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    enum { N = 9000 };
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        tev_make(&e[i], (uint64_t)i + 1, (uint32_t)i, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL,
                 T0 + i);
    assert_int_equal(apply(s, e, N, it, NULL), CT_OK);
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
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&td);
}

/* Person-state checkpoints: a small checkpoint interval, crashes (abandon)
 * between checkpoints, replay on reopen: the final counts and head equal
 * those of a store that wrote person states in every batch, and the recount. */
static void run_mixed(ct_store *s, tev *e, int from, int to, int B, ct_store_item *it)
{
    for (int b = from; b < to; b += B) {
        ct_store_commit c = {.changed = NULL};
        assert_int_equal(apply(s, e + b, (size_t)(b + B <= to ? B : to - b), it, &c), CT_OK);
    }
}

static void test_checkpoint_crash_replay(void **state)
{
    (void)state;
    tmpdir ref, ck;
    tmp_make(&ref);
    tmp_make(&ck);
    enum { N = 4000, B = 100 };
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(7);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 300); /* many repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                 T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    /* reference: person states written in every batch */
    ct_store *r = open_ok(ref.dir, 64u << 20);
    ct_store_set_checkpoint(r, 0, 0);
    run_mixed(r, e, 0, N, B, it);
    assert_store_consistent(r, N);

    ct_store *s = open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 250, 1000000);
    run_mixed(s, e, 0, 1330, B, it);
    ct_store_abandon(s); /* crash: pending person states lost */

    /* a writer that does not give the campaign cannot write before the replay */
    ct_store_opts o = {.dir = ck.dir, .map_size = 64u << 20, .campaign_id = g_camp.id};
    char err[256];
    assert_int_equal(ct_store_open(&o, &s, err, sizeof err), CT_OK);
    assert_int_equal(apply(s, e, 1, it, NULL), CT_ERR_ARG);
    assert_int_equal(ct_store_set_campaign(s, &g_camp, err, sizeof err), CT_OK);
    ct_store_set_checkpoint(s, 250, 1000000);
    assert_store_consistent(s, 1330);
    run_mixed(s, e, 1330, 2900, B, it);
    ct_store_abandon(s);
    s = open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 97, 1000000);
    run_mixed(s, e, 2900, N, B, it);
    /* resends after the crashes are duplicates, whatever was pending */
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(apply(s, e + 1300, B, it, &c), CT_OK);
    for (int i = 0; i < B; i++)
        assert_int_equal(it[i].status, CT_ACK_DUPLICATE);
    assert_store_consistent(s, N);
    ct_store_close(s); /* writes the pending states */
    s = open_ok(ck.dir, 64u << 20);
    assert_store_consistent(s, N);

    ct_counts c1, c2;
    ct_counts_init(&c1);
    ct_counts_init(&c2);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    assert_int_equal(ct_store_read_counts(r, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(s, &c2, &s2, h2), CT_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    /* and both go on identically */
    tev more[3];
    tev_make(&more[0], N + 1, 5, CT_PROGRAM_BHXH_TN, CT_ACTION_CANCEL, NULL, T0 + 1);
    tev_make(&more[1], N + 2, 5, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, T0 + 2);
    tev_make(&more[2], N + 3, 6, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL, T0 + 3);
    assert_int_equal(apply(r, more, 3, it, NULL), CT_OK);
    ct_store_item it2[3];
    assert_int_equal(apply(s, more, 3, it2, NULL), CT_OK);
    assert_int_equal(ct_store_read_counts(r, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(s, &c2, &s2, h2), CT_OK);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    assert_memory_equal(h1, h2, 32);
    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(r);
    ct_store_close(s);
    tevs_free(e, N);
    tevs_free(more, 3);
    free(e);
    free(it);
    tmp_remove(&ref);
    tmp_remove(&ck);
}

/* The raw "persons" table and the meta "persons_gen" mark of a closed (or
 * abandoned) store, read with LMDB directly: each key is run (8 BE) ||
 * person key; kv holds the person keys and values in person-key order (the
 * runs differ between stores that wrote the same states at other times),
 * and no person key is held under two runs. */
typedef struct {
    size_t n;
    uint8_t *kv;   /* n x (key 33 || value len 1 || value 63) */
    bool gen;      /* a generation was partly written */
    size_t n_runs; /* distinct runs */
} raw_persons;

enum { RAW_REC = CT_PERSON_KEY_LEN + 64 };

static int raw_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CT_PERSON_KEY_LEN);
}

static void raw_persons_read(const char *dir, raw_persons *out)
{
    memset(out, 0, sizeof *out);
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi meta, persons;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(t, "persons", 0, &persons), 0);
    MDB_val k = {sizeof "persons_gen" - 1, (void *)"persons_gen"}, v;
    out->gen = mdb_get(t, meta, &k, &v) == 0;
    MDB_stat st;
    assert_int_equal(mdb_stat(t, persons, &st), 0);
    out->kv = calloc(st.ms_entries + 1, RAW_REC);
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(t, persons, &c), 0);
    uint64_t last_run = 0;
    while (mdb_cursor_get(c, &k, &v, out->n ? MDB_NEXT : MDB_FIRST) == 0) {
        assert_int_equal(k.mv_size, 8 + CT_PERSON_KEY_LEN);
        assert_true(v.mv_size < 64);
        uint64_t run = ct_be64_get(k.mv_data);
        if (!out->n || run != last_run) out->n_runs++;
        last_run = run;
        uint8_t *r = out->kv + out->n * RAW_REC;
        memcpy(r, (const uint8_t *)k.mv_data + 8, CT_PERSON_KEY_LEN);
        r[CT_PERSON_KEY_LEN] = (uint8_t)v.mv_size;
        memcpy(r + CT_PERSON_KEY_LEN + 1, v.mv_data, v.mv_size);
        out->n++;
    }
    assert_int_equal(out->n, st.ms_entries);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    mdb_env_close(env);
    qsort(out->kv, out->n, RAW_REC, raw_cmp);
    for (size_t i = 1; i < out->n; i++) /* one run per person */
        assert_true(raw_cmp(out->kv + (i - 1) * RAW_REC, out->kv + i * RAW_REC) < 0);
}

/* The writer's person index (ct_pindex) names, for every key of "persons",
 * the run that holds it, and holds nothing else. */
static void assert_index_matches(ct_store *s)
{
    assert_true(s->pindex_ok);
    MDB_txn *t;
    MDB_cursor *c;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_cursor_open(t, s->persons, &c), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        const uint8_t *kb = k.mv_data;
        size_t pos = SIZE_MAX;
        uint64_t run, want = ct_be64_get(kb);
        bool hit = false;
        while (!hit && ct_pindex_next(&s->pindex, ct_pindex_fp(kb + 8), &pos, &run))
            hit = run == want;
        assert_true(hit);
    }
    assert_int_equal(n, s->pindex.n);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
}

/* Sliced checkpoints: a generation of pending states is written a key range
 * per batch; crashes at every phase of it (before the first slice, between
 * slices, right after the last one), each followed by the replay of an open,
 * leave counts, chain and the "persons" table identical to a store that
 * wrote every state in every batch. */
static void test_sliced_checkpoint_crash_sweep(void **state)
{
    (void)state;
    tmpdir ref, ck;
    tmp_make(&ref);
    tmp_make(&ck);
    enum { N = 3000, B = 10 };
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(11);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 400); /* repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                 T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    ct_store *r = open_ok(ref.dir, 64u << 20);
    ct_store_set_checkpoint(r, 0, 0);
    run_mixed(r, e, 0, N, B, it);
    ct_store_close(r);

    /* 30 pending states (~5 batches) freeze a generation; slices of twice
     * the states a batch changed: ~3 slices per generation */
    ct_store *s = open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 30, 1000000);
    int at = 0, crashes = 0, mid_gen = 0, gap = 3;
    size_t max_runs = 0;
    while (at < N) {
        int to = at + gap * B < N ? at + gap * B : N;
        run_mixed(s, e, at, to, B, it);
        at = to;
        assert_index_matches(s); /* as the slices kept it */
        ct_store_abandon(s);     /* crash */
        raw_persons rp;
        raw_persons_read(ck.dir, &rp);
        mid_gen += rp.gen;
        max_runs = rp.n_runs > max_runs ? rp.n_runs : max_runs;
        crashes++;
        free(rp.kv);
        s = open_ok(ck.dir, 64u << 20); /* replays */
        ct_store_set_checkpoint(s, 30, 1000000);
        assert_index_matches(s); /* as the open rebuilt it */
        assert_store_consistent(s, (uint64_t)at);
        gap = gap % 11 + 1; /* 1..11 batches between crashes: every phase */
    }
    ct_store_close(s);
    assert_true(crashes > 20);
    assert_true(mid_gen >= 5);  /* the sweep did crash between slices */
    assert_true(max_runs >= 3); /* persons were rewritten by later generations */

    raw_persons a, b;
    raw_persons_read(ref.dir, &a);
    raw_persons_read(ck.dir, &b);
    assert_false(a.gen);
    assert_false(b.gen);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.kv, b.kv, a.n * RAW_REC);
    free(a.kv);
    free(b.kv);
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&ref);
    tmp_remove(&ck);
}

/* A follower's import chunks (ct_store_import_commit_ex) write person states
 * as batches do, a slice per chunk: crashes between chunks, each followed by
 * an open's replay, leave counts, chain, head and the "persons" table
 * identical to the source store's, and no chunk wrote a full checkpoint
 * (a generation was seen partly written). */
static void test_import_slices_crash_sweep(void **state)
{
    (void)state;
    tmpdir src_d, fol_d;
    tmp_make(&src_d);
    tmp_make(&fol_d);
    enum { N = 3000, B = 10, CHUNK = 40 };
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(13);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 400); /* repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                 T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    ct_store *src = open_ok(src_d.dir, 64u << 20);
    ct_store_set_checkpoint(src, 0, 0);
    run_mixed(src, e, 0, N, B, it);

    ct_store *f = open_ok(fol_d.dir, 64u << 20);
    ct_store_set_checkpoint(f, 30, 1000000);
    int at = 0, crashes = 0, mid_gen = 0, gap = 2;
    while (at < N) {
        for (int k = 0; k < gap && at < N; k++) {
            int to = at + CHUNK < N ? at + CHUNK : N;
            assert_int_equal(ct_store_import_begin(f), CT_OK);
            import_ctx x = {f, 0, CT_OK};
            uint64_t bad;
            assert_int_equal(
                ct_store_log_scan(src, (uint64_t)at + 1, (uint64_t)to, import_cb, &x, &bad), CT_OK);
            ct_store_commit cm = {.changed = NULL};
            assert_int_equal(ct_store_import_commit_ex(f, &cm), CT_OK);
            assert_int_equal(cm.seq_after, (uint64_t)to);
            at = to;
        }
        assert_index_matches(f);
        ct_store_abandon(f); /* crash */
        raw_persons rp;
        raw_persons_read(fol_d.dir, &rp);
        mid_gen += rp.gen;
        crashes++;
        free(rp.kv);
        f = open_ok(fol_d.dir, 64u << 20); /* replays */
        ct_store_set_checkpoint(f, 30, 1000000);
        assert_index_matches(f);
        assert_store_consistent(f, (uint64_t)at);
        gap = gap % 7 + 1;
    }
    ct_counts c1, c2;
    ct_counts_init(&c1);
    ct_counts_init(&c2);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    assert_int_equal(ct_store_read_counts(src, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(f, &c2, &s2, h2), CT_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(src);
    ct_store_close(f);
    assert_true(crashes > 10);
    assert_true(mid_gen >= 3); /* chunks wrote slices, not whole checkpoints */

    raw_persons a, b;
    raw_persons_read(src_d.dir, &a);
    raw_persons_read(fol_d.dir, &b);
    assert_false(a.gen);
    assert_false(b.gen);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.kv, b.kv, a.n * RAW_REC);
    free(a.kv);
    free(b.kv);
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&src_d);
    tmp_remove(&fol_d);
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
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    tev e[5];
    for (int i = 0; i < 5; i++)
        tev_make(&e[i], (uint64_t)i + 1, 200 + (uint32_t)i, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL,
                 NULL, T0);
    ct_store_item it[5];
    for (int i = 0; i < 5; i++)
        item_of(&it[i], &e[i]);
    it[0].received_ms = T0 + 5000;
    it[1].received_ms = T0 + 3000; /* clock stepped back inside the batch */
    assert_int_equal(ct_store_apply_batch(s, it, 2, NULL), CT_OK);
    it[2].received_ms = T0 + 4000; /* still behind, next batch */
    assert_int_equal(ct_store_apply_batch(s, &it[2], 1, NULL), CT_OK);
    ct_store_close(s);
    s = open_ok(td.dir, 64u << 20);
    it[3].received_ms = T0 + 1000; /* after a restart */
    it[4].received_ms = T0 + 6000; /* the clock caught up */
    assert_int_equal(ct_store_apply_batch(s, &it[3], 2, NULL), CT_OK);
    int64_t rx[5] = {0};
    uint64_t bad = 0;
    assert_int_equal(ct_store_log_scan(s, 1, 0, rx_cb, rx, &bad), CT_OK);
    assert_true(rx[0] == T0 + 5000 && rx[1] == T0 + 5000 && rx[2] == T0 + 5000);
    assert_true(rx[3] == T0 + 5000 && rx[4] == T0 + 6000);
    ct_store_close(s);
    for (int i = 0; i < 5; i++)
        ct_buf_free(&e[i].raw);
    tmp_remove(&td);
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
    tmpdir td;
    tmp_make(&td);
    ct_store *s = open_ok(td.dir, 64u << 20);
    enum { N = 9000 }; /* past two renewals of the read transaction */
    tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++)
        tev_make(&e[i], (uint64_t)i + 1, (uint32_t)i, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL,
                 T0 + i);
    assert_int_equal(apply(s, e, N, it, NULL), CT_OK);
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
    tevs_free(e, N);
    free(e);
    free(it);
    tmp_remove(&td);
}

/* ---- the person-state map: clear and reuse (the store's overlay) --------- */

static void pkey(uint8_t k[CT_PERSON_KEY_LEN], uint32_t i)
{
    memset(k, 0, CT_PERSON_KEY_LEN);
    k[0] = (uint8_t)(i & 1);
    k[1] = (uint8_t)(i * 2654435761u >> 24); /* spread, with collisions in 8 bits */
    memcpy(k + 2, &i, sizeof i);
}

static void test_pmap_clear_reuse(void **state)
{
    (void)state;
    ct_pmap m;
    ct_pmap_init(&m);
    for (int round = 0; round < 3; round++) {
        uint32_t n = round == 1 ? 40 : 3000; /* sparse and dense clears */
        for (uint32_t i = 0; i < n; i++) {
            ct_person_state st = {.enrolled = true,
                                  .district = 672,
                                  .day = 20230725,
                                  .seq = i + 1 + (uint64_t)round * 100000};
            snprintf(st.agent, sizeof st.agent, "LD672-%03u", i % 7);
            if (i % 3) snprintf(st.group, sizeof st.group, "g%u", i % 5);
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            assert_int_equal(ct_pmap_put(&m, k, &st), CT_OK);
        }
        assert_int_equal(m.n, n);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            ct_person_state got;
            assert_true(ct_pmap_get(&m, k, &got));
            assert_int_equal(got.seq, i + 1 + (uint64_t)round * 100000);
            char want[CT_AGENT_ID_MAX + 1];
            snprintf(want, sizeof want, "LD672-%03u", i % 7);
            assert_string_equal(got.agent, want);
            if (i % 3) {
                snprintf(want, sizeof want, "g%u", i % 5);
                assert_string_equal(got.group, want);
            } else {
                assert_string_equal(got.group, "");
            }
        }
        size_t tab_cap = m.tab_cap;
        ct_pmap_clear(&m);
        assert_int_equal(m.n, 0);
        assert_int_equal(m.tab_cap, tab_cap); /* memory kept */
        for (size_t j = 0; j < m.tab_cap; j++)
            assert_int_equal(m.tab[j], 0);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            assert_null(ct_pmap_find(&m, k));
        }
    }
    ct_pmap_free(&m);
}

int main(void)
{
    char err[256];
    if (ct_campaign_load_default(&g_camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_duplicate_conflict),
        cmocka_unit_test(test_in_batch_duplicate),
        cmocka_unit_test(test_recount_reopen),
        cmocka_unit_test(test_campaign_mismatch),
        cmocka_unit_test(test_data_dir_mode),
        cmocka_unit_test(test_single_writer),
        cmocka_unit_test(test_map_full),
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_scan_ranges),
        cmocka_unit_test(test_checkpoint_crash_replay),
        cmocka_unit_test(test_sliced_checkpoint_crash_sweep),
        cmocka_unit_test(test_import_slices_crash_sweep),
        cmocka_unit_test(test_received_ms_monotonic),
        cmocka_unit_test(test_scan_stop),
        cmocka_unit_test(test_pmap_clear_reuse),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&g_camp);
    return rc;
}
