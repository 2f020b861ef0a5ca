/* ct_outbox_notes.c — the outbox's notes (bytes kept beside an event by the
 * one who queued it) and the paged reading of everything the outbox knows of
 * its events: every seq with a note, still queued, or rejected.
 *
 * Invariants: every reader runs in one read transaction, so a page is one
 * consistent view; a page visits at most max seqs and holds nothing beyond
 * its cursors (its cost does not grow with the outbox); an event delivered
 * and made safe without a note has left the outbox and is in no page (a
 * noted one shows its "acked" bytes and log seq when it has them).
 */
#include <string.h>

#include "ct_be.h"
#include "ct_outbox_int.h"

ct_err ct_outbox_note_put(ct_outbox_txn *t, uint64_t seq, const void *note, size_t len)
{
    if (len == 0 || len > CT_OUTBOX_NOTE_MAX) return CT_ERR_BAD_VALUE;
    uint8_t kb[8];
    ct_be64_put(kb, seq);
    MDB_val k = {8, kb}, v = {len, (void *)note};
    int rc = mdb_put(t->txn, t->ob->notes, &k, &v, 0);
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "storing note");
    return CT_OK;
}

/* Where seq is now (inside txn). */
static int note_state(ct_outbox *ob, MDB_txn *txn, const uint8_t kb[8], uint16_t *code)
{
    MDB_val k = {8, (void *)kb}, v;
    *code = 0;
    if (mdb_get(txn, ob->outbox, &k, &v) == 0)
        return mdb_get(txn, ob->committed, &k, &v) == 0 ? CT_OUTBOX_COMMITTED : CT_OUTBOX_QUEUED;
    if (mdb_get(txn, ob->rejected, &k, &v) == 0 && v.mv_size >= 2) {
        *code = ct_be16_get(v.mv_data);
        return CT_OUTBOX_REJECTED;
    }
    return CT_OUTBOX_SETTLED;
}

ct_err ct_outbox_notes_each(ct_outbox *ob, ct_outbox_note_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->notes, &txn, &cur);
    if (e0) return e0;
    MDB_val k, v;
    ct_err e = CT_OK;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint16_t code;
        int st = note_state(ob, txn, k.mv_data, &code);
        e = fn(ctx, ct_be64_get(k.mv_data), v.mv_data, v.mv_size, (ct_outbox_state)st, code);
        if (e != CT_OK) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "reading notes");
    return CT_OK;
}

ct_err ct_outbox_note_get(ct_outbox_txn *t, uint64_t seq, ct_buf *out, bool *found)
{
    uint8_t kb[8];
    ct_be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    *found = false;
    int rc = mdb_get(t->txn, t->ob->notes, &k, &v);
    if (rc == MDB_NOTFOUND) return CT_OK;
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "reading note");
    ct_buf_reset(out);
    ct_err e = ct_buf_append(out, v.mv_data, v.mv_size);
    if (e == CT_OK) *found = true;
    return e;
}

/* The three databases a page walks, in one transaction. */
typedef struct {
    MDB_cursor *c[3]; /* notes, outbox, rejected */
    MDB_val k[3], v[3];
    bool valid[3];
} walk;

static int walk_pos(walk *w, int i, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(w->c[i], &w->k[i], &w->v[i], op);
    w->valid[i] = rc == 0;
    if (rc == MDB_NOTFOUND) return 0;
    if (rc == 0 && w->k[i].mv_size != 8) return MDB_CORRUPTED;
    return rc;
}

static int walk_visit(ct_outbox *ob, MDB_txn *txn, walk *w, uint64_t seq, ct_outbox_entry *en)
{
    memset(en, 0, sizeof *en);
    en->seq = seq;
    en->state = CT_OUTBOX_SETTLED;
    bool at[3];
    for (int i = 0; i < 3; i++)
        at[i] = w->valid[i] && ct_be64_get(w->k[i].mv_data) == seq;
    if (at[0]) {
        en->note = w->v[0].mv_data;
        en->note_len = w->v[0].mv_size;
    }
    if (at[1]) {
        MDB_val v;
        en->ev = w->v[1].mv_data;
        en->ev_len = w->v[1].mv_size;
        int m = mdb_get(txn, ob->committed, &w->k[1], &v);
        if (m != 0 && m != MDB_NOTFOUND) return m;
        en->state = m == 0 ? CT_OUTBOX_COMMITTED : CT_OUTBOX_QUEUED;
        if (m == 0 && v.mv_size == 8) en->q = ct_be64_get(v.mv_data);
        return 0;
    }
    if (at[2]) {
        if (w->v[2].mv_size < 2) return MDB_CORRUPTED;
        const uint8_t *p = w->v[2].mv_data;
        en->ev = p + 2;
        en->ev_len = w->v[2].mv_size - 2;
        en->code = ct_be16_get(p);
        en->state = CT_OUTBOX_REJECTED;
        return 0;
    }
    uint8_t kb[8];
    ct_be64_put(kb, seq);
    MDB_val k = {8, kb};
    return ct_outbox_acked_read(ob, txn, &k, en);
}

static int walk_next(walk *w, uint64_t seq)
{
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (w->valid[i] && ct_be64_get(w->k[i].mv_data) == seq) rc = walk_pos(w, i, MDB_NEXT);
    return rc;
}

ct_err ct_outbox_entries(ct_outbox *ob, uint64_t after, size_t max, ct_outbox_entry_fn fn,
                         void *ctx, uint64_t *last, bool *more)
{
    *last = 0;
    *more = false;
    if (after == UINT64_MAX) return CT_OK;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "read transaction");
    walk w = {0};
    MDB_dbi dbs[3] = {ob->notes, ob->outbox, ob->rejected};
    uint8_t kb[8];
    ct_be64_put(kb, after + 1);
    ct_err e = CT_OK;
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = mdb_cursor_open(txn, dbs[i], &w.c[i]);
        if (rc == 0) {
            w.k[i] = (MDB_val){8, kb};
            rc = walk_pos(&w, i, MDB_SET_RANGE);
        }
    }
    size_t n = 0;
    while (rc == 0) {
        uint64_t seq = UINT64_MAX;
        bool any = false;
        for (int i = 0; i < 3; i++) {
            if (!w.valid[i]) continue;
            uint64_t s = ct_be64_get(w.k[i].mv_data);
            if (!any || s < seq) seq = s;
            any = true;
        }
        if (!any) break;
        if (n == max) {
            *more = true;
            break;
        }
        ct_outbox_entry en;
        if ((rc = walk_visit(ob, txn, &w, seq, &en)) != 0) break;
        if ((e = fn(ctx, &en)) != CT_OK) break;
        *last = seq;
        n++;
        rc = walk_next(&w, seq);
    }
    for (int i = 0; i < 3; i++)
        if (w.c[i]) mdb_cursor_close(w.c[i]);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "reading entries");
    return CT_OK;
}
