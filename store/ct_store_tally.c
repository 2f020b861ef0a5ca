/* ct_store_tally.c — the store's side of the tally rule: the read context
 * ct_tally_entry() gets (counters and person states as they stand before the
 * entry, inside the write transaction of a batch or an import chunk), keeping
 * an applied entry's result, and the cache of the counters every counted
 * enroll reads.
 *
 * Invariants:
 *   - count(k) = the committed value of k (LMDB "counts") + s->delta[k] (what
 *     the batch or chunk in progress changed so far), so entries inside one
 *     batch see each other exactly; person(p, h) reads through
 *     ct_store_persons_get (overlay first), so the same holds for person
 *     states;
 *   - a result is kept (ct_store_tally_keep) only when the entry is applied:
 *     a refused entry leaves s->delta and the overlay untouched;
 *   - the cache (s->cache, valid when s->cache_ok) holds, for EVERY counter
 *     of the kinds CLOSE and LATE_MAX (absent = 0), its committed value + its
 *     delta in the transaction in progress: loaded from "counts" by the first
 *     write transaction that needs it, then kept with each applied entry, so
 *     that count() of those kinds is one hash lookup (and none for CLOSE while
 *     no CLOSE counter exists: cache_has_close). A transaction that aborts
 *     leaves the cache ahead of the file: ct_store_tally_aborted drops it and
 *     the next transaction loads it again (as after a reopen).
 */
#include "ct_store_int.h"

#include <assert.h>

#include "ct_life.h"
#include "ct_tally.h"

static bool cached_kind(ct_count_kind k)
{
    return k == CT_COUNT_CLOSE || k == CT_COUNT_LATE_MAX;
}

/* Adds every counter of kind kind in "counts" to the cache. */
static int load_kind(ct_store *s, MDB_txn *t, MDB_cursor *c, ct_count_kind kind)
{
    uint8_t kb = (uint8_t)kind;
    MDB_val k = {1, &kb}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *b = k.mv_data;
        if (k.mv_size < 1 || b[0] != kb) break;
        ct_count_key key;
        if (v.mv_size != 8 || ct_count_key_parse(b, k.mv_size, &key) != CT_OK) return MDB_CORRUPTED;
        if (ct_counts_set(&s->cache, &key, (int64_t)ct_be64_get(v.mv_data)) != CT_OK) return ENOMEM;
        if (kind == CT_COUNT_CLOSE) s->cache_has_close = true;
    }
    (void)t;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int ct_store_tally_prepare(ct_store *s, MDB_txn *t)
{
    if (s->cache_ok) return 0;
    ct_counts_clear(&s->cache);
    s->cache_has_close = false;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(t, s->counts, &c);
    if (!rc) rc = load_kind(s, t, c, CT_COUNT_CLOSE);
    if (!rc) rc = load_kind(s, t, c, CT_COUNT_LATE_MAX);
    if (c) mdb_cursor_close(c);
    s->cache_ok = rc == 0;
    return rc;
}

void ct_store_tally_aborted(ct_store *s)
{
    s->cache_ok = false;
}

void ct_store_tally_forget(ct_store *s)
{
    s->cache_ok = false;
    s->cache_has_close = false;
    ct_counts_clear(&s->cache);
}

typedef struct {
    ct_store *s;
    MDB_txn *t;
    bool counts; /* false: every counter reads 0 (a person-state replay) */
    int rc;      /* the LMDB / errno code behind a failed read */
} read_ctx;

static ct_err read_count(void *arg, const ct_count_key *k, int64_t *value)
{
    read_ctx *x = arg;
    *value = 0;
    if (!x->counts) return CT_OK;
    ct_store *s = x->s;
    ct_count_kind kind = ct_count_key_kind(k);
    if (s->cache_ok && cached_kind(kind)) {
        /* committed + delta already */
        *value = kind == CT_COUNT_CLOSE && !s->cache_has_close ? 0 : ct_counts_get(&s->cache, k);
        return CT_OK;
    }
    int64_t committed = 0;
    MDB_val kv = {k->len, (void *)k->b}, v;
    int rc = mdb_get(x->t, s->counts, &kv, &v);
    if (rc == 0) {
        if (v.mv_size != 8)
            rc = MDB_CORRUPTED;
        else
            committed = (int64_t)ct_be64_get(v.mv_data);
    }
    if (rc && rc != MDB_NOTFOUND) {
        x->rc = rc;
        return map_rc(rc);
    }
    *value = (int64_t)((uint64_t)committed + (uint64_t)ct_counts_get(&s->delta, k));
    return CT_OK;
}

static ct_err read_person(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                          ct_person_state *st, bool *found)
{
    read_ctx *x = arg;
    uint8_t pk[CT_PERSON_KEY_LEN];
    ct_person_key(p, person, pk);
    int rc = ct_store_persons_get(x->s, x->t, pk, st, found);
    if (rc) {
        x->rc = rc;
        return map_rc(rc);
    }
    return CT_OK;
}

int ct_store_tally_run(ct_store *s, MDB_txn *t, bool counts, const ct_entry *e,
                       const ct_tally_in *in, ct_tally_entry_result *res)
{
    read_ctx x = {s, t, counts, 0};
    ct_tally_ctx ctx = {read_count, read_person, &x};
    ct_err r = ct_tally_entry(&ctx, e, in, res);
    if (r == CT_OK) return 0;
    if (x.rc) return x.rc;
    return r == CT_ERR_NOMEM ? ENOMEM : EINVAL;
}

int ct_store_tally_keep(ct_store *s, const ct_tally_entry_result *res)
{
    assert(res->refused == CT_OK);
    for (size_t i = 0; i < res->n_persons; i++) {
        uint8_t pk[CT_PERSON_KEY_LEN];
        ct_person_key(res->persons[i].program, res->persons[i].person, pk);
        int rc = ct_store_persons_set(s, pk, &res->persons[i].state);
        if (rc) return rc;
    }
    for (size_t i = 0; i < res->n; i++) {
        const ct_tally_change *c = &res->changes[i];
        if (ct_counts_add(&s->delta, &c->key, c->delta) != CT_OK) return ENOMEM;
        ct_count_kind kind = ct_count_key_kind(&c->key);
        if (!s->cache_ok || !cached_kind(kind)) continue;
        if (ct_counts_add(&s->cache, &c->key, c->delta) != CT_OK)
            s->cache_ok = false; /* reads fall back to the file + delta */
        else if (kind == CT_COUNT_CLOSE)
            s->cache_has_close = true;
    }
    return 0;
}

size_t ct_store_entry_persons(const ct_entry *e, uint8_t keys[2][CT_PERSON_KEY_LEN])
{
    if (e->type == CT_ENTRY_EVENT) {
        ct_person_key(e->u.ev.program, e->u.ev.person, keys[0]);
        return 1;
    }
    const ct_life *l = &e->u.life;
    if (l->kind != CT_LIFE_VOID && l->kind != CT_LIFE_CORRECT) return 0;
    ct_person_key(l->program, l->person, keys[0]);
    if (l->kind != CT_LIFE_CORRECT || !l->has_new_program || l->new_program == l->program) return 1;
    ct_person_key(l->new_program, l->person, keys[1]);
    return 2;
}

const char *ct_store_entry_campaign(const ct_entry *e)
{
    return e->type == CT_ENTRY_EVENT ? e->u.ev.campaign : e->u.life.campaign;
}
