/* ct_outbox_deliver.c — the outbox's delivery bookkeeping (see ct_outbox.h):
 * scans of queued and unsent entries, settles (acked, rejected, committed
 * with their log seq), the sweep of entries at or below the safe watermark,
 * unmarking, and the reading of "committed" and "rejected".
 *
 * Invariant: each settle is one write transaction, committed (fsynced by
 * LMDB) or aborted as a whole; scans read one snapshot.
 */
#include "ct_outbox.h"
#include "ct_outbox_int.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_be.h"
#include "ct_buf.h"
#include "ct_life.h"

static ct_err scan(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn, void *ctx,
                   bool skip_marked, uint64_t *next_from)
{
    if (next_from) *next_from = from;
    if (max == 0) return CT_OK;
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->outbox, &txn, &cur);
    if (e0) return e0;
    int rc;
    uint8_t kb[8];
    ct_be64_put(kb, from);
    MDB_val k = {8, kb}, v;
    ct_err e = CT_OK;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        MDB_val mv;
        int m = skip_marked ? mdb_get(txn, ob->committed, &k, &mv) : MDB_NOTFOUND;
        if (m != 0 && m != MDB_NOTFOUND) {
            rc = m;
            break;
        }
        if (m == MDB_NOTFOUND) { /* marked events are not sent again */
            e = fn(ctx, ct_be64_get(k.mv_data), v.mv_data, v.mv_size);
            if (e != CT_OK) break;
            n++;
        }
        if (next_from) *next_from = ct_be64_get(k.mv_data) + 1;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "scanning outbox");
    return CT_OK;
}

ct_err ct_outbox_scan(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn, void *ctx)
{
    return scan(ob, from, max, fn, ctx, false, NULL);
}

ct_err ct_outbox_scan_unsent(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn,
                             void *ctx, uint64_t *next_from)
{
    return scan(ob, from, max, fn, ctx, true, next_from);
}

ct_err ct_outbox_settle(ct_outbox *ob, const ct_outbox_settle_item *items, size_t n, int64_t now_ms,
                        size_t *n_delivered, size_t *n_rejected)
{
    if (n == 0) {
        if (n_delivered) *n_delivered = 0;
        if (n_rejected) *n_rejected = 0;
        return CT_OK;
    }
    return ct_outbox_settle_ex(ob, items, NULL, n, 0, now_ms, n_delivered, n_rejected);
}

/* Deletes every marked event with q <= safe (from "committed" and
 * "outbox"); *nd += how many. */
static int sweep_safe(MDB_txn *txn, ct_outbox *ob, uint64_t safe, size_t *nd)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ob->committed, &cur);
    if (rc != 0) return rc;
    ct_buf keys = CT_BUF_INIT; /* (seq, q) to delete, 16 bytes each: deleted after the walk */
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (ct_be64_get(v.mv_data) <= safe && (ct_buf_append(&keys, k.mv_data, 8) != CT_OK ||
                                               ct_buf_append(&keys, v.mv_data, 8) != CT_OK)) {
            rc = ENOMEM;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;
    for (size_t i = 0; rc == 0 && i + 16 <= keys.len; i += 16) {
        MDB_val dk = {8, keys.data + i}, ev;
        rc = mdb_del(txn, ob->committed, &dk, NULL);
        if (rc == 0) {
            int d = mdb_get(txn, ob->outbox, &dk, &ev);
            if (d == 0) d = ct_outbox_acked_put(txn, ob, &dk, &ev, ct_be64_get(keys.data + i + 8));
            if (d == 0) d = mdb_del(txn, ob->outbox, &dk, NULL);
            if (d == 0) (*nd)++;
            if (d != 0 && d != MDB_NOTFOUND) rc = d;
        }
    }
    ct_buf_free(&keys);
    return rc;
}

ct_err ct_outbox_settle_ex(ct_outbox *ob, const ct_outbox_settle_item *items,
                           const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                           size_t *n_delivered, size_t *n_rejected)
{
    return ct_outbox_settle_q(ob, items, NULL, unsafe_q, n, safe, now_ms, n_delivered, n_rejected);
}

ct_err ct_outbox_settle_q(ct_outbox *ob, const ct_outbox_settle_item *items, const uint64_t *qs,
                          const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                          size_t *n_delivered, size_t *n_rejected)
{
    size_t nd = 0, nr = 0;
    if (n_delivered) *n_delivered = 0;
    if (n_rejected) *n_rejected = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    ct_buf rb = CT_BUF_INIT;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t kb[8];
        ct_be64_put(kb, items[i].seq);
        MDB_val k = {8, kb}, v;
        rc = mdb_get(txn, ob->outbox, &k, &v);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0) break;
        if (items[i].code != CT_OK) {
            ct_buf_reset(&rb);
            uint8_t cb[2];
            ct_be16_put(cb, (uint16_t)items[i].code);
            if (ct_buf_append(&rb, cb, 2) != CT_OK ||
                ct_buf_append(&rb, v.mv_data, v.mv_size) != CT_OK) {
                rc = ENOMEM;
                break;
            }
            MDB_val rv = {rb.len, rb.data};
            rc = mdb_put(txn, ob->rejected, &k, &rv, 0);
            if (rc != 0) break;
            nr++;
        } else if (unsafe_q && unsafe_q[i] > safe) {
            /* committed at HQ, not yet safe: stays, marked with its seq */
            uint8_t qb[8];
            ct_be64_put(qb, unsafe_q[i]);
            MDB_val qv = {8, qb};
            rc = mdb_put(txn, ob->committed, &k, &qv, 0);
            continue;
        } else {
            /* its log seq: the ack's, else the committed mark's */
            uint64_t q = qs ? qs[i] : 0;
            MDB_val mv;
            int m = mdb_get(txn, ob->committed, &k, &mv);
            if (m != 0 && m != MDB_NOTFOUND) {
                rc = m;
                break;
            }
            if (!q && m == 0 && mv.mv_size == 8) q = ct_be64_get(mv.mv_data);
            rc = ct_outbox_acked_put(txn, ob, &k, &v, q);
            if (rc != 0) break;
            nd++;
        }
        int d = mdb_del(txn, ob->committed, &k, NULL);
        if (d != 0 && d != MDB_NOTFOUND) {
            rc = d;
            break;
        }
        rc = mdb_del(txn, ob->outbox, &k, NULL);
    }
    ct_buf_free(&rb);
    if (rc == 0 && safe) rc = sweep_safe(txn, ob, safe, &nd);
    uint64_t cnt;
    if (rc == 0 && nd) {
        rc = ct_outbox_meta_get_u64(txn, ob, "delivered", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "delivered", cnt + nd);
    }
    if (rc == 0 && nr) {
        rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "rejected", cnt + nr);
    }
    if (rc == 0 && n) rc = ct_outbox_meta_put_u64(txn, ob, "last_ack", (uint64_t)now_ms);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "settling acks");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    if (n_delivered) *n_delivered = nd;
    if (n_rejected) *n_rejected = nr;
    return CT_OK;
}

ct_err ct_outbox_unmark_all(ct_outbox *ob, size_t *n)
{
    if (n) *n = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    MDB_stat st;
    rc = mdb_stat(txn, ob->committed, &st);
    if (rc == 0 && st.ms_entries) rc = mdb_drop(txn, ob->committed, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "clearing committed marks");
    }
    if (!st.ms_entries) {
        mdb_txn_abort(txn);
        return CT_OK;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    if (n) *n = st.ms_entries;
    return CT_OK;
}

ct_err ct_outbox_committed_first(ct_outbox *ob, ct_outbox_scan_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->committed, &txn, &cur);
    if (e) return e;
    MDB_val k, v, ev;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0) rc = mdb_get(txn, ob->outbox, &k, &ev);
    if (rc == 0 && k.mv_size != 8) rc = MDB_CORRUPTED;
    if (rc == 0) e = fn(ctx, ct_be64_get(k.mv_data), ev.mv_data, ev.mv_size);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e) return e;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ct_outbox_lmdb_fail(ob, rc, "reading committed marks");
    return CT_OK;
}

ct_err ct_outbox_rejected_each(ct_outbox *ob, ct_outbox_rej_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->rejected, &txn, &cur);
    if (e0) return e0;
    int rc;
    MDB_val k, v;
    ct_err e = CT_OK;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < 2) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        e = fn(ctx, ct_be64_get(k.mv_data), ct_be16_get(p), p + 2, v.mv_size - 2);
        if (e != CT_OK) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "reading rejected");
    return CT_OK;
}
