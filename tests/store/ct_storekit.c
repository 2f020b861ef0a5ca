/* ct_storekit.c — the store tests' shared kit (ct_storekit.h): the campaign,
 * temporary directories, stores opened on them, encoded events applied as
 * batches, the recount of a store's log with the tally rule compared
 * with the store's own counts and head, and direct reads of a closed store's
 * LMDB file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_storekit.h"

#include "ct_counts.h"
#include "ct_logrec.h"
#include "ct_tally.h"

ct_campaign sk_camp;

void sk_tmp_make(sk_tmpdir *t)
{
    assert_int_equal(ct_tmpdir_make(t, "ct-store-test"), 0);
}

void sk_tmp_remove(sk_tmpdir *t)
{
    assert_int_equal(ct_tmpdir_remove(t), 0);
}

ct_store *sk_open_raw(const char *dir, size_t map, const char *campaign, ct_err *rc, char *err,
                      size_t errlen)
{
    ct_store_opts o = {.dir = dir, .map_size = map, .campaign_id = campaign};
    ct_store *s = NULL;
    err[0] = '\0';
    *rc = ct_store_open(&o, &s, err, errlen);
    return s;
}

ct_store *sk_open_store(const char *dir, size_t map, const char *campaign, ct_err *rc)
{
    char err[256];
    ct_store *s = sk_open_raw(dir, map, campaign, rc, err, sizeof err);
    if (*rc == CT_OK) *rc = ct_store_set_campaign(s, &sk_camp, err, sizeof err);
    return s;
}

ct_store *sk_open_ok(const char *dir, size_t map)
{
    ct_err rc;
    ct_store *s = sk_open_store(dir, map, sk_camp.id, &rc);
    assert_int_equal(rc, CT_OK);
    assert_non_null(s);
    return s;
}

uint64_t sk_head(ct_store *s)
{
    uint64_t seq;
    uint8_t h[CT_LOGREC_HASH_LEN];
    assert_int_equal(ct_store_head(s, &seq, h), CT_OK);
    return seq;
}

static const char *const SK_AGENTS[] = {"LD672-001", "LD672-002", "LD672-003"};

void sk_tev_make(sk_tev *t, uint64_t idseq, uint32_t person, ct_program p, ct_action a,
                 const char *group, int64_t t_ms)
{
    static const uint8_t origin[CT_ORIGIN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(t, 0, sizeof *t);
    ct_event_id_make(t->ev.id, origin, idseq);
    t->ev.occurred_ms = t_ms;
    snprintf(t->ev.campaign, sizeof t->ev.campaign, "%s", sk_camp.id);
    t->ev.district = 672;
    snprintf(t->ev.agent, sizeof t->ev.agent, "%s", SK_AGENTS[idseq % 3]);
    t->ev.program = p;
    t->ev.action = a;
    memcpy(t->ev.person, &person, sizeof person);
    if (group) snprintf(t->ev.group, sizeof t->ev.group, "%s", group);
    assert_int_equal(ct_event_encode(&t->ev, &t->raw), CT_OK);
}

void sk_item_of(ct_store_item *it, sk_tev *t)
{
    memset(it, 0, sizeof *it);
    it->ev = &t->ev;
    it->raw = t->raw.data;
    it->raw_len = t->raw.len;
    it->collector = "insecure";
    it->received_ms = SK_T0 + 1000;
    it->local_day = ct_campaign_local_day(&sk_camp, t->ev.occurred_ms);
}

ct_err sk_apply(ct_store *s, sk_tev *evs, size_t n, ct_store_item *items, ct_store_commit *c)
{
    for (size_t i = 0; i < n; i++)
        sk_item_of(&items[i], &evs[i]);
    return ct_store_apply_batch(s, items, n, c);
}

int64_t sk_count(ct_store *s, ct_count_kind k, ct_program p, uint32_t unit, const void *dim,
                 size_t dim_len)
{
    ct_counts c;
    ct_counts_init(&c);
    uint64_t seq;
    uint8_t h[CT_LOGREC_HASH_LEN];
    assert_int_equal(ct_store_read_counts(s, &c, &seq, h), CT_OK);
    ct_count_key key = ct_count_key_make(k, p, unit, dim, dim_len);
    int64_t v = ct_counts_get(&c, &key);
    ct_counts_free(&c);
    return v;
}

int64_t sk_count_of(ct_store *s, ct_count_kind k, ct_program p)
{
    return sk_count(s, k, p, 672, NULL, 0);
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
    ct_tally_in_make(&sk_camp, &e, rec->seq, rec->received_ms, &in);
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
void sk_assert_consistent(ct_store *s, uint64_t expect_seq)
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

void sk_tevs_free(sk_tev *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct_buf_free(&t[i].raw);
}

ct_err sk_import_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    sk_import_ctx *x = arg;
    ct_logrec r = *rec;
    if ((int)rec->seq == x->fail_at) r.received_ms += 1; /* body changed, hash kept */
    ct_err e = ct_store_import_record(x->dst, &r, &sk_camp);
    if (e) {
        x->first_err = e;
        return e;
    }
    return CT_OK;
}

int sk_campaign_load(void)
{
    char err[256];
    if (ct_campaign_load_default(&sk_camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    return 0;
}

void sk_campaign_free(void)
{
    ct_campaign_free(&sk_camp);
}

void sk_raw_open(sk_raw *r, const char *dir, bool write)
{
    memset(r, 0, sizeof *r);
    unsigned flags = MDB_NOTLS | (write ? 0u : (unsigned)MDB_RDONLY);
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 8), 0);
    assert_int_equal(mdb_env_open(r->env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, write ? 0u : (unsigned)MDB_RDONLY, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "meta", 0, &r->meta), 0);
}

void sk_raw_close(sk_raw *r, bool commit)
{
    if (commit)
        assert_int_equal(mdb_txn_commit(r->txn), 0);
    else
        mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
    memset(r, 0, sizeof *r);
}
