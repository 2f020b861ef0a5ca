/* ct_outbox_life.c — what the outbox keeps for the campaign's life entries
 * (docs/PROTOCOL.md §2.2): queueing a life entry like an event, the "acked"
 * database (an entry delivered with its log seq, so a void or correct can
 * name it: p, h, d and q), the "life" index (the voids and corrections
 * queued for an event of this outbox) and the reading of one entry.
 *
 * Invariants: a life entry gets its id and seq exactly as an event does
 * (ct_outbox_queue) and its "life" link in the same transaction; "acked"
 * holds only entries whose log seq is known (1 <= q < 2^64-1) and is
 * written only in the transaction that removes the entry from "outbox".
 */
#include <string.h>

#include "ct_be.h"
#include "ct_life.h"
#include "ct_outbox_int.h"

int ct_outbox_acked_put(MDB_txn *txn, ct_outbox *ob, const MDB_val *k, const MDB_val *v, uint64_t q)
{
    if (q == 0 || q == UINT64_MAX) return 0; /* where it is at HQ is not known */
    /* v points into the map: copied before the put, which may move pages */
    uint8_t val[8 + CT_EVENT_MAX_BYTES];
    if (v->mv_size > CT_EVENT_MAX_BYTES) return MDB_CORRUPTED;
    ct_be64_put(val, q);
    memcpy(val + 8, v->mv_data, v->mv_size);
    MDB_val nv = {8 + v->mv_size, val};
    /* acks come mostly in seq order: appending is the cheap path */
    int rc = mdb_put(txn, ob->acked, (MDB_val *)k, &nv, MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(txn, ob->acked, (MDB_val *)k, &nv, 0);
    return rc;
}

int ct_outbox_acked_read(ct_outbox *ob, MDB_txn *txn, const MDB_val *k, ct_outbox_entry *en)
{
    MDB_val v;
    int rc = mdb_get(txn, ob->acked, (MDB_val *)k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return rc;
    if (v.mv_size <= 8) return MDB_CORRUPTED;
    en->q = ct_be64_get(v.mv_data);
    en->ev = (const uint8_t *)v.mv_data + 8;
    en->ev_len = v.mv_size - 8;
    en->state = CT_OUTBOX_SETTLED;
    return 0;
}

static ct_err encode_life(const void *l, ct_buf *out)
{
    return ct_life_encode(l, out);
}

ct_err ct_outbox_queue_life(ct_outbox_txn *t, struct ct_life *l, const uint8_t *idem,
                            uint64_t target_seq, bool *queued, uint64_t *seq)
{
    bool fresh = false;
    uint64_t s = 0;
    ct_err e =
        ct_outbox_queue_encoded(t, l->id, encode_life, l, idem, "storing life entry", &fresh, &s);
    if (queued) *queued = fresh;
    if (seq) *seq = s;
    if (e != CT_OK || !fresh || !target_seq) return e;
    uint8_t lk[16], one = 1;
    ct_be64_put(lk, target_seq);
    ct_be64_put(lk + 8, s);
    MDB_val k2 = {16, lk}, v2 = {1, &one};
    int rc = mdb_put(t->txn, t->ob->life, &k2, &v2, 0);
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "storing life link");
    return CT_OK;
}

/* Everything the outbox knows of seq (key k) inside txn; false: nothing. */
static int entry_fill(ct_outbox *ob, MDB_txn *txn, uint64_t seq, ct_outbox_entry *en, bool *found)
{
    memset(en, 0, sizeof *en);
    en->seq = seq;
    en->state = CT_OUTBOX_SETTLED;
    *found = false;
    uint8_t kb[8];
    ct_be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, ob->notes, &k, &v);
    if (rc == 0) {
        en->note = v.mv_data;
        en->note_len = v.mv_size;
        *found = true;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    rc = mdb_get(txn, ob->outbox, &k, &v);
    if (rc == 0) {
        en->ev = v.mv_data;
        en->ev_len = v.mv_size;
        en->state = CT_OUTBOX_QUEUED;
        *found = true;
        rc = mdb_get(txn, ob->committed, &k, &v);
        if (rc == 0) {
            en->state = CT_OUTBOX_COMMITTED;
            if (v.mv_size == 8) en->q = ct_be64_get(v.mv_data);
        }
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc != MDB_NOTFOUND) return rc;
    rc = mdb_get(txn, ob->rejected, &k, &v);
    if (rc == 0) {
        if (v.mv_size < 2) return MDB_CORRUPTED;
        en->ev = (const uint8_t *)v.mv_data + 2;
        en->ev_len = v.mv_size - 2;
        en->code = ct_be16_get(v.mv_data);
        en->state = CT_OUTBOX_REJECTED;
        *found = true;
        return 0;
    }
    if (rc != MDB_NOTFOUND) return rc;
    rc = ct_outbox_acked_read(ob, txn, &k, en);
    if (rc == 0 && en->ev) *found = true;
    return rc;
}

ct_err ct_outbox_entry_get(ct_outbox *ob, uint64_t seq, ct_outbox_entry_fn fn, void *ctx,
                           bool *found)
{
    *found = false;
    if (seq == 0) return CT_OK;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "read transaction");
    ct_outbox_entry en;
    rc = entry_fill(ob, txn, seq, &en, found);
    ct_err e = CT_OK;
    if (rc == 0 && *found) e = fn(ctx, &en);
    mdb_txn_abort(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "reading an entry");
    return e;
}

ct_err ct_outbox_life_each(ct_outbox *ob, uint64_t target_seq, ct_outbox_entry_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->life, &txn, &cur);
    if (e != CT_OK) return e;
    uint8_t lk[16] = {0};
    ct_be64_put(lk, target_seq);
    MDB_val k = {16, lk}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && e == CT_OK) {
        if (k.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (ct_be64_get(k.mv_data) != target_seq) break;
        ct_outbox_entry en;
        bool found = false;
        rc = entry_fill(ob, txn, ct_be64_get((const uint8_t *)k.mv_data + 8), &en, &found);
        if (rc != 0) break;
        if (found && en.ev) e = fn(ctx, &en);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "reading life links");
    return CT_OK;
}
