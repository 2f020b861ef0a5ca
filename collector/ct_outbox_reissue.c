/* ct_outbox_reissue.c — conflict-rejected entries reissued (see ct_outbox.h):
 * each moves back into the outbox under the next seq, with a freshly drawn
 * origin when any of them was under the current one; the earlier origins are
 * kept in "origins_old" so the ids already sent stay derivable.
 *
 * Invariant: the whole reissue (moves, origin history, counters) is one write
 * transaction.
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

/* Moves one conflict-rejected entry (k, v), an event or a life entry, to
 * the outbox under seq *next with the id origin || *next. */
static int reissue_one(MDB_txn *txn, ct_outbox *ob, MDB_cursor *cur, const MDB_val *v,
                       const uint8_t origin[CT_ORIGIN_LEN], uint64_t *next, ct_buf *buf)
{
    const uint8_t *p = v->mv_data;
    ct_entry en;
    bool idk;
    if (ct_entry_decode(p + 2, v->mv_size - 2, &en, &idk) != CT_OK) return MDB_CORRUPTED;
    ct_buf_reset(buf);
    if (en.type == CT_ENTRY_LIFE) {
        ct_event_id_make(en.u.life.id, origin, *next);
        if (ct_life_encode(&en.u.life, buf) != CT_OK) return MDB_CORRUPTED;
    } else {
        ct_event_id_make(en.u.ev.id, origin, *next);
        if (ct_event_encode(&en.u.ev, buf) != CT_OK) return MDB_CORRUPTED;
    }
    uint8_t kb[8];
    ct_be64_put(kb, *next);
    MDB_val nk = {8, kb}, nv = {buf->len, buf->data};
    int rc = mdb_put(txn, ob->outbox, &nk, &nv, MDB_NOOVERWRITE);
    if (rc == 0) rc = mdb_cursor_del(cur, 0);
    if (rc == 0) (*next)++;
    return rc;
}

ct_err ct_outbox_reissue(ct_outbox *ob, size_t *n_out, bool *new_origin)
{
    *n_out = 0;
    *new_origin = false;
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, 0, ob->rejected, &txn, &cur);
    if (e0) return e0;
    ct_outbox_info info;
    int rc = ct_outbox_read_info(txn, ob, &info);
    if (rc == 0 && !info.initialised) rc = MDB_NOTFOUND;
    MDB_val k, v;
    /* a fresh origin when a conflict was under the current one */
    bool fresh = false;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < 2) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        if (ct_be16_get(p) == CT_ERR_CONFLICT &&
            ct_be64_get(k.mv_data) >= info.origins[info.n_origins - 1].first_seq)
            fresh = true;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    uint8_t origin[CT_ORIGIN_LEN];
    memcpy(origin, info.origin, CT_ORIGIN_LEN);
    if (rc == 0 && fresh) {
        if (info.n_origins >= CT_OUTBOX_ORIGINS_MAX) {
            mdb_cursor_close(cur);
            mdb_txn_abort(txn);
            snprintf(ob->errmsg, sizeof ob->errmsg,
                     "this outbox has had %d origins already; start a new outbox",
                     CT_OUTBOX_ORIGINS_MAX);
            return CT_ERR_CONFIG;
        }
        uint8_t hist[CT_OUTBOX_ORIGINS_MAX * CT_OUTBOX_ORIGIN_REC];
        for (size_t i = 0; i < info.n_origins; i++) {
            ct_be64_put(hist + i * CT_OUTBOX_ORIGIN_REC, info.origins[i].first_seq);
            memcpy(hist + i * CT_OUTBOX_ORIGIN_REC + 8, info.origins[i].origin, CT_ORIGIN_LEN);
        }
        do {
            randombytes_buf(origin, sizeof origin);
        } while (memcmp(origin, info.origin, CT_ORIGIN_LEN) == 0);
        rc =
            ct_outbox_meta_put(txn, ob, "origins_old", hist, info.n_origins * CT_OUTBOX_ORIGIN_REC);
        if (rc == 0) rc = ct_outbox_meta_put(txn, ob, "origin", origin, CT_ORIGIN_LEN);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "origin_from", info.next_seq);
    }
    uint64_t next = info.next_seq;
    size_t n = 0;
    ct_buf buf = CT_BUF_INIT;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const uint8_t *p = v.mv_data;
        if (ct_be16_get(p) != CT_ERR_CONFLICT) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        rc = reissue_one(txn, ob, cur, &v, origin, &next, &buf);
        if (rc != 0) break;
        n++;
        /* after mdb_cursor_del, MDB_NEXT yields the entry that followed */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    ct_buf_free(&buf);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;
    uint64_t cnt = 0, gen = 0;
    if (rc == 0 && n) {
        rc = ct_outbox_meta_put_u64(txn, ob, "next_seq", next);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "rejected", cnt >= n ? cnt - n : 0);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "reissued", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "reissued", cnt + n);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "requeue_gen", &gen);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "requeue_gen", gen + 1);
    }
    if (rc != 0 || n == 0) {
        mdb_txn_abort(txn);
        if (rc == 0) return CT_OK; /* nothing to reissue: no new origin either */
        return ct_outbox_lmdb_fail(ob, rc, "reissuing");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    *n_out = n;
    *new_origin = fresh;
    return CT_OK;
}
