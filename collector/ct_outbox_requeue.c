/* ct_outbox_requeue.c — moving rejected events back into the outbox:
 * ct_outbox_requeue (by reason) and ct_outbox_requeue_where (by reason,
 * agent and seq), see ct_outbox.h. Events and life entries alike.
 *
 * Invariants: one write transaction moves the matching entries (same seq,
 * same bytes) and lowers the "rejected" counter by exactly the number moved,
 * raising the requeue generation when any moved; an event rejected as
 * conflict is never moved, only counted.
 */
#include <string.h>

#include "ct_be.h"
#include "ct_life.h"
#include "ct_outbox_int.h"

ct_err ct_outbox_requeue(ct_outbox *ob, int code, size_t *n_out, size_t *n_conflict)
{
    ct_outbox_requeue_filter f = {.code = code};
    return ct_outbox_requeue_where(ob, &f, n_out, n_conflict);
}

/* Whether the rejected entry (seq, code c, event bytes ev) is one f asks for. */
static bool requeue_match(const ct_outbox_requeue_filter *f, uint64_t seq, int c, const uint8_t *ev,
                          size_t len)
{
    if (f->code >= 0 && c != f->code) return false;
    if (f->seq && seq != f->seq) return false;
    if (!f->agent) return true;
    /* a life entry is nobody's agent's: it matches no agent */
    ct_entry e;
    return ct_entry_decode(ev, len, &e, NULL) == CT_OK && e.type == CT_ENTRY_EVENT &&
           strcmp(e.u.ev.agent, f->agent) == 0;
}

ct_err ct_outbox_requeue_where(ct_outbox *ob, const ct_outbox_requeue_filter *f, size_t *n_out,
                               size_t *n_conflict)
{
    size_t n = 0, kept = 0;
    if (n_out) *n_out = 0;
    if (n_conflict) *n_conflict = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, 0, ob->rejected, &txn, &cur);
    if (e0) return e0;
    int rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < 2) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        int c = ct_be16_get(p);
        bool match = requeue_match(f, ct_be64_get(k.mv_data), c, p + 2, v.mv_size - 2);
        if (match && c == CT_ERR_CONFLICT) {
            kept++; /* its id is taken at HQ: resending it unchanged cannot succeed */
        } else if (match) {
            MDB_val ev = {v.mv_size - 2, (void *)(p + 2)};
            rc = mdb_put(txn, ob->outbox, &k, &ev, MDB_NOOVERWRITE);
            if (rc == 0) rc = mdb_cursor_del(cur, 0);
            if (rc != 0) break;
            n++;
            /* after mdb_cursor_del, MDB_NEXT yields the entry that followed */
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;
    uint64_t cnt = 0, gen = 0;
    if (rc == 0 && n) {
        rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "rejected", cnt >= n ? cnt - n : 0);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "requeue_gen", &gen);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "requeue_gen", gen + 1);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "requeueing");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    if (n_out) *n_out = n;
    if (n_conflict) *n_conflict = kept;
    return CT_OK;
}
