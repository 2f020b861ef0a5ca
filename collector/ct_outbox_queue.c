/* ct_outbox_queue.c — queueing into the outbox (see ct_outbox.h): the write
 * transaction (begin, commit, abort), the idempotency check and key, the one
 * queueing path of every entry kind, event ids from the origin history.
 *
 * Invariants: a ct_outbox_txn owns its MDB_txn until commit/abort; an
 * entry's seq, its id and its idempotency key are written in the one
 * transaction that queues it, with the "next_seq" counter.
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

ct_err ct_outbox_begin(ct_outbox *ob, ct_outbox_txn **out)
{
    *out = NULL;
    ct_outbox_txn *t = calloc(1, sizeof *t);
    if (!t) return CT_ERR_NOMEM;
    t->ob = ob;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &t->txn);
    if (rc != 0) {
        free(t);
        return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    }
    MDB_val v;
    rc = ct_outbox_meta_get(t->txn, ob, "origin", &v);
    if (rc != 0 || v.mv_size != CT_ORIGIN_LEN) {
        mdb_txn_abort(t->txn);
        free(t);
        snprintf(ob->errmsg, sizeof ob->errmsg, "outbox not initialised (run init first)");
        return CT_ERR_CONFIG;
    }
    memcpy(t->origin, v.mv_data, CT_ORIGIN_LEN);
    rc = ct_outbox_meta_get_u64(t->txn, ob, "next_seq", &t->next_seq);
    if (rc != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        return ct_outbox_lmdb_fail(ob, rc, "reading next_seq");
    }
    if (t->next_seq == 0) t->next_seq = 1;
    t->first_seq = t->next_seq;
    *out = t;
    return CT_OK;
}

ct_err ct_outbox_idem_seen(ct_outbox_txn *t, const uint8_t *idem, bool *seen, uint64_t *seq)
{
    MDB_val k = {CT_OUTBOX_IDEM_LEN, (void *)idem}, v;
    int rc = mdb_get(t->txn, t->ob->imports, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *seen = false;
        return CT_OK;
    }
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "reading imports");
    *seen = true;
    if (seq) *seq = v.mv_size == 8 ? ct_be64_get(v.mv_data) : 0;
    return CT_OK;
}

ct_err ct_outbox_queue_encoded(ct_outbox_txn *t, uint8_t id[CT_EVENT_ID_LEN],
                               ct_err (*encode)(const void *obj, ct_buf *out), const void *obj,
                               const uint8_t *idem, const char *what, bool *queued, uint64_t *seq)
{
    if (queued) *queued = false;
    if (idem) {
        bool seen;
        uint64_t old = 0;
        ct_err e = ct_outbox_idem_seen(t, idem, &seen, &old);
        if (e != CT_OK) return e;
        if (seen) {
            if (seq) *seq = old;
            return CT_OK;
        }
    }
    uint64_t s = t->next_seq;
    ct_event_id_make(id, t->origin, s);
    ct_buf_reset(&t->buf);
    ct_err e = encode(obj, &t->buf);
    if (e != CT_OK) return e;
    uint8_t kb[8];
    ct_be64_put(kb, s);
    MDB_val k = {8, kb}, v = {t->buf.len, t->buf.data};
    int rc = mdb_put(t->txn, t->ob->outbox, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(t->txn, t->ob->outbox, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, what);
    if (idem) {
        MDB_val ik = {CT_OUTBOX_IDEM_LEN, (void *)idem}, iv = {8, kb};
        rc = mdb_put(t->txn, t->ob->imports, &ik, &iv, 0);
        if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "storing idempotency key");
    }
    t->next_seq = s + 1;
    if (queued) *queued = true;
    if (seq) *seq = s;
    return CT_OK;
}

static ct_err encode_event(const void *ev, ct_buf *out)
{
    return ct_event_encode(ev, out);
}

ct_err ct_outbox_queue(ct_outbox_txn *t, ct_event *ev, const uint8_t *idem, bool *queued,
                       uint64_t *seq)
{
    return ct_outbox_queue_encoded(t, ev->id, encode_event, ev, idem, "storing event", queued, seq);
}

ct_err ct_outbox_commit(ct_outbox_txn *t)
{
    ct_outbox *ob = t->ob;
    int rc = 0;
    if (t->next_seq != t->first_seq)
        rc = ct_outbox_meta_put_u64(t->txn, ob, "next_seq", t->next_seq);
    if (rc != 0) {
        mdb_txn_abort(t->txn);
    } else {
        rc = mdb_txn_commit(t->txn);
    }
    ct_buf_free(&t->buf);
    free(t);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    return CT_OK;
}

void ct_outbox_abort(ct_outbox_txn *t)
{
    if (!t) return;
    mdb_txn_abort(t->txn);
    ct_buf_free(&t->buf);
    free(t);
}

ct_err ct_outbox_idem_key(const ct_event *ev, uint8_t key[CT_OUTBOX_IDEM_LEN])
{
    ct_event tmp = *ev;
    memset(tmp.id, 0, sizeof tmp.id);
    ct_buf b = CT_BUF_INIT;
    ct_err e = ct_event_encode(&tmp, &b);
    if (e == CT_OK) crypto_generichash(key, CT_OUTBOX_IDEM_LEN, b.data, b.len, NULL, 0);
    ct_buf_free(&b);
    return e;
}

void ct_outbox_event_id(const ct_outbox_info *info, uint64_t seq, uint8_t id[CT_EVENT_ID_LEN])
{
    size_t i = info->n_origins;
    while (i > 1 && info->origins[i - 1].first_seq > seq)
        i--;
    ct_event_id_make(id, i ? info->origins[i - 1].origin : info->origin, seq);
}

uint64_t ct_outbox_recorded(const ct_outbox_info *info)
{
    assert(info->next_seq - 1 >= info->reissued);
    return info->next_seq - 1 - info->reissued;
}
