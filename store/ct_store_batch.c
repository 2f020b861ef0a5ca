/* ct_store_batch.c — the write path: ct_store_apply_batch and the puts it is
 * made of (ids, the tally of one entry, log append, counts, origins).
 *
 * Invariants kept here:
 *   - every mutation happens inside ONE write transaction per batch (or per
 *     import chunk) opened with LMDB's default durable flags; on any failure
 *     the transaction is aborted, so a batch is applied entirely or not at all;
 *   - the log is appended with MDB_APPEND under key seq (8 bytes BE), seq =
 *     previous head + 1, and the head in meta is updated in the same txn;
 *   - counter deltas of a batch are accumulated in memory (s->delta) and each
 *     changed counter is written once, as an absolute value, at the end;
 *   - ids are read through the write txn, which sees its own writes, so
 *     duplicates inside one batch are exact; the tally reads counters as
 *     committed + s->delta and person states through ct_store_persons_get
 *     (ct_store_tally.c), so every entry sees the ones before it in the
 *     batch exactly;
 *   - an entry the rule refuses leaves nothing: its id, put to detect
 *     duplicates with one B-tree search, is deleted again in the same
 *     transaction, its result is dropped before the log append, and the
 *     seq it would have had goes to the next entry;
 *   - received_ms is non-decreasing along the log: each appended record gets
 *     max(item's received_ms, last_received_ms).
 */
#include "ct_store_int.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ct_tally.h"
#include "ct_wire.h"

void ct_store_idhash(const uint8_t *raw, size_t len, uint8_t out[CT_IDHASH_LEN])
{
    crypto_generichash(out, CT_IDHASH_LEN, raw, len, NULL, 0);
}

int ct_store_append_one(ct_store *s, MDB_txn *t, ct_logrec *r, uint8_t head[CT_LOGREC_HASH_LEN])
{
    ct_buf_reset(&s->rec);
    if (ct_logrec_encode(r, head, &s->rec) != CT_OK) return EINVAL;
    uint8_t kb[8];
    ct_be64_put(kb, r->seq);
    MDB_val k = {8, kb}, v = {s->rec.len, s->rec.data};
    int rc = mdb_put(t, s->log, &k, &v, MDB_APPEND);
    if (rc) return rc;
    memcpy(head, r->hash, CT_LOGREC_HASH_LEN);
    return 0;
}

int ct_store_ids_put(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq,
                     const uint8_t idhash[CT_IDHASH_LEN], MDB_val *existing)
{
    uint8_t ib[8 + CT_IDHASH_LEN];
    ct_be64_put(ib, seq);
    memcpy(ib + 8, idhash, CT_IDHASH_LEN);
    MDB_val ik = {CT_EVENT_ID_LEN, (void *)id};
    existing->mv_size = sizeof ib;
    existing->mv_data = ib;
    /* one B-tree search for both the dedup check and the insert */
    return mdb_put(t, s->ids, &ik, existing, MDB_NOOVERWRITE);
}

int ct_store_flush_counts(ct_store *s, MDB_txn *t, ct_counts *changed)
{
    if (changed) ct_counts_clear(changed);
    for (size_t i = 0; i < s->delta.cap; i++) {
        const ct_counts_slot *sl = &s->delta.slots[i];
        if (!sl->used) continue;
        MDB_val k = {sl->key.len, (void *)sl->key.b}, v;
        int64_t old = 0;
        int rc = mdb_get(t, s->counts, &k, &v);
        if (rc == 0) {
            if (v.mv_size != 8) return MDB_CORRUPTED;
            old = (int64_t)ct_be64_get(v.mv_data);
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
        int64_t nv = (int64_t)((uint64_t)old + (uint64_t)sl->value);
        uint8_t b[8];
        ct_be64_put(b, (uint64_t)nv);
        MDB_val wv = {8, b};
        rc = mdb_put(t, s->counts, &k, &wv, 0);
        if (rc) return rc;
        if (changed && ct_counts_set(changed, &sl->key, nv) != CT_OK) return ENOMEM;
    }
    return 0;
}

/* Origin binding of one event (see ct_store_item.check_origin): *bound_other
 * = the origin is bound to another identity; *unbound = not bound at all. */
static int origin_lookup(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN],
                         const char *who, bool *bound_other, bool *unbound)
{
    MDB_val k = {CT_ORIGIN_LEN, (void *)id}, v;
    *bound_other = *unbound = false;
    int rc = mdb_get(t, s->origins, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *unbound = true;
        return 0;
    }
    if (rc) return rc;
    size_t n = strlen(who);
    *bound_other = v.mv_size != n || memcmp(v.mv_data, who, n) != 0;
    return 0;
}

static int origin_bind(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN], const char *who)
{
    MDB_val k = {CT_ORIGIN_LEN, (void *)id}, v = {strlen(who), (void *)who};
    int rc = mdb_put(t, s->origins, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc; /* bound earlier in this batch */
}

/* An entry whose origin is bound to another identity: DUPLICATE if the
 * identical entry is already in the log, else REJECTED / FORBIDDEN. */
static int answer_foreign(ct_store *s, MDB_txn *t, ct_store_item *it,
                          const uint8_t id[CT_EVENT_ID_LEN], const uint8_t h[CT_IDHASH_LEN])
{
    MDB_val ik = {CT_EVENT_ID_LEN, (void *)id}, iv;
    int rc = mdb_get(t, s->ids, &ik, &iv);
    if (rc && rc != MDB_NOTFOUND) return rc;
    if (rc == 0 && iv.mv_size == 8 + CT_IDHASH_LEN &&
        memcmp((const uint8_t *)iv.mv_data + 8, h, CT_IDHASH_LEN) == 0) {
        it->seq = ct_be64_get(iv.mv_data);
        it->status = CT_ACK_DUPLICATE;
        it->code = CT_OK;
    } else {
        it->seq = 0;
        it->status = CT_ACK_REJECTED;
        it->code = CT_ERR_FORBIDDEN;
    }
    return 0;
}

/* An entry whose id is already in ids (iv = the stored value). */
static int answer_known(ct_store_item *it, const MDB_val *iv, const uint8_t h[CT_IDHASH_LEN])
{
    if (iv->mv_size != 8 + CT_IDHASH_LEN) return MDB_CORRUPTED;
    it->seq = ct_be64_get(iv->mv_data);
    if (memcmp((const uint8_t *)iv->mv_data + 8, h, CT_IDHASH_LEN) == 0) {
        it->status = CT_ACK_DUPLICATE;
        it->code = CT_OK;
    } else {
        it->status = CT_ACK_REJECTED;
        it->code = CT_ERR_CONFLICT;
    }
    return 0;
}

/* The item's entry: it->entry, or *tmp holding a copy of it->ev. */
static const ct_entry *item_entry(const ct_store_item *it, ct_entry *tmp)
{
    if (it->entry) return it->entry;
    tmp->type = CT_ENTRY_EVENT;
    tmp->u.ev = *it->ev;
    return tmp;
}

/* Warms the caches for the person-state lookups of item i, if any (a
 * random slot of the person index per new person: a cache miss each, which
 * the items before it overlap). */
static void prefetch_persons(const ct_store *s, const ct_store_item *items, size_t n, size_t i)
{
    if (i >= n) return;
    const ct_store_item *it = &items[i];
    uint8_t keys[2][CT_PERSON_KEY_LEN];
    size_t nk = 1;
    if (it->entry)
        nk = ct_store_entry_persons(it->entry, keys);
    else
        ct_person_key(it->ev->program, it->ev->person, keys[0]);
    for (size_t j = 0; j < nk; j++)
        ct_store_persons_prefetch(s, keys[j]);
}

/* The campaign-local day of received_ms, computed once per distinct value
 * (the items of a round share one). */
typedef struct {
    int64_t ms;
    uint32_t day;
    bool valid;
} day_memo;

static uint32_t recv_day_of(const ct_store *s, const ct_store_item *it, int64_t ms, day_memo *m)
{
    if (!s->campaign) return it->recv_day;
    if (!m->valid || m->ms != ms) {
        m->ms = ms;
        m->day = ct_campaign_local_day(s->campaign, ms);
        m->valid = true;
    }
    return m->day;
}

/* One item inside the batch's transaction: dedup, origin, tally, append.
 * *seq and *rx advance when it is accepted; *res is scratch space. */
static int apply_item(ct_store *s, MDB_txn *t, ct_store_item *it, uint64_t *seq, int64_t *rx,
                      uint8_t head[CT_LOGREC_HASH_LEN], day_memo *dm, ct_tally_entry_result *res)
{
    ct_entry tmp;
    const ct_entry *e = item_entry(it, &tmp);
    const uint8_t *id = ct_entry_id(e);
    uint8_t h[CT_IDHASH_LEN];
    ct_store_idhash(it->raw, it->raw_len, h);
    bool bind = false;
    int rc;
    if (it->check_origin && it->collector && it->collector[0]) {
        bool other;
        if ((rc = origin_lookup(s, t, id, it->collector, &other, &bind))) return rc;
        if (other) return answer_foreign(s, t, it, id, h);
    }
    MDB_val iv;
    rc = ct_store_ids_put(s, t, id, *seq + 1, h, &iv);
    if (rc == MDB_KEYEXIST) return answer_known(it, &iv, h);
    if (rc) return rc;
    ct_logrec lr;
    memset(&lr, 0, sizeof lr);
    lr.seq = *seq + 1;
    lr.received_ms = it->received_ms > *rx ? it->received_ms : *rx; /* non-decreasing */
    assert(lr.received_ms >= *rx);
    ct_tally_in in = {.seq = lr.seq,
                      .received_ms = lr.received_ms,
                      .local_day = e->type == CT_ENTRY_EVENT ? it->local_day : 0,
                      .recv_day = recv_day_of(s, it, lr.received_ms, dm),
                      .commune = it->commune};
    if ((rc = ct_store_tally_run(s, t, true, e, &in, res))) return rc;
    if (res->refused != CT_OK) {
        MDB_val ik = {CT_EVENT_ID_LEN, (void *)id};
        if ((rc = mdb_del(t, s->ids, &ik, NULL))) return rc;
        it->status = CT_ACK_REJECTED;
        it->code = (uint16_t)res->refused;
        it->seq = 0;
        return 0;
    }
    snprintf(lr.collector, sizeof lr.collector, "%s", it->collector ? it->collector : "");
    lr.event = it->raw;
    lr.event_len = it->raw_len;
    if ((rc = ct_store_append_one(s, t, &lr, head))) return rc;
    if ((rc = ct_store_tally_keep(s, res))) return rc;
    if (bind && (rc = origin_bind(s, t, id, it->collector))) return rc;
    *seq = lr.seq;
    *rx = lr.received_ms;
    it->status = CT_ACK_ACCEPTED;
    it->code = CT_OK;
    it->seq = lr.seq;
    return 0;
}

ct_err ct_store_apply_batch(ct_store *s, ct_store_item *items, size_t n, ct_store_commit *out)
{
    if (!s || s->read_only || s->imp_txn || s->ship_txn) return CT_ERR_ARG;
    if (s->ship_last) return CT_ERR_ARG;  /* shipped records are counted first */
    if (s->replay_due) return CT_ERR_ARG; /* ct_store_set_campaign() first */
    assert(s->overlay.n == 0);
    MDB_txn *t = NULL;
    s->last_err[0] = '\0';
    ct_err r = ct_store_txn_begin(s, 0, &t);
    int rc = 0;
    uint64_t seq0 = 0, seq;
    uint8_t head[CT_LOGREC_HASH_LEN], head0[CT_LOGREC_HASH_LEN];
    if (r) goto fail;
    if (s->replay_due) {
        /* ct_store_txn_begin reopened the environment (after MDB_PANIC) and
         * the person-state replay that needs now waits for the campaign: a
         * batch tallied on stale states would count wrongly */
        snprintf(s->last_err, sizeof s->last_err, "%s",
                 "person-state replay pending (ct_store_set_campaign first)");
        r = CT_ERR_ARG;
        goto fail;
    }
    rc = head_read(t, s->meta, &seq0, head);
    if (rc) goto fail_rc;
    memcpy(head0, head, CT_LOGREC_HASH_LEN);
    seq = seq0;
    int64_t rx = s->last_received_ms;
    day_memo dm = {0, 0, false};
    ct_counts_clear(&s->delta);
    if ((rc = ct_store_tally_prepare(s, t))) goto fail_rc;
    enum { AHEAD = 2 }; /* items: each takes microseconds, a miss ~0.1-0.3 */
    for (size_t i = 0; i < AHEAD; i++)
        prefetch_persons(s, items, n, i);
    for (size_t i = 0; i < n; i++) {
        prefetch_persons(s, items, n, i + AHEAD);
        if ((rc = apply_item(s, t, &items[i], &seq, &rx, head, &dm, &s->res))) goto fail_rc;
    }
    if ((rc = ct_store_flush_counts(s, t, out ? out->changed : NULL))) goto fail_rc;
    if (seq != seq0 && (rc = head_write(t, s->meta, seq, head))) goto fail_rc;
    bool ckpt = false;
    if ((rc = ct_store_persons_write(s, t, seq0, seq, &ckpt))) goto fail_rc;
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) goto fail_rc;
    s->last_received_ms = rx;
    if (ct_store_persons_committed(s, ckpt)) {
        /* out of memory merging states: the store is consistent (the log is
         * the truth) but this handle's view is not; force a replay */
        s->need_reopen = true;
    }
    assert(s->overlay.n == 0);
    if (out) {
        out->seq_before = seq0;
        out->seq_after = seq;
        memcpy(out->head, head, CT_LOGREC_HASH_LEN);
        memcpy(out->head_before, head0, CT_LOGREC_HASH_LEN);
    }
    return CT_OK;
fail_rc:
    r = map_rc(rc);
    snprintf(s->last_err, sizeof s->last_err, "%s (%d)", mdb_strerror(rc), rc);
    if (rc == MDB_PANIC) s->need_reopen = true;
    if (r == CT_OK || r == CT_ERR_NOT_FOUND) r = CT_ERR_STORE_UNAVAILABLE;
fail:
    if (t) mdb_txn_abort(t);
    ct_store_persons_aborted(s); /* the batch's states are gone with it */
    ct_store_tally_aborted(s);
    if (r != CT_OK && !s->last_err[0])
        snprintf(s->last_err, sizeof s->last_err, "%s", ct_err_str(r));
    for (size_t i = 0; i < n; i++) {
        items[i].status = CT_ACK_RETRY;
        items[i].code = CT_ERR_STORE_UNAVAILABLE;
        items[i].seq = 0;
    }
    if (out && out->changed) ct_counts_clear(out->changed);
    return r;
}
