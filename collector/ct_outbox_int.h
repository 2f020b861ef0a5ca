/* ct_outbox_int.h — the outbox's handle and transaction, shared by
 * ct_outbox.c (handle, meta, info), ct_outbox_queue.c (queueing),
 * ct_outbox_deliver.c (delivery bookkeeping), ct_outbox_reissue.c
 * (conflict-rejected entries reissued), ct_outbox_requeue.c and
 * ct_outbox_notes.c (notes and the paged reading of entries) and
 * ct_outbox_life.c (life entries, acked entries). Private to collector/.
 */
#ifndef CT_OUTBOX_INT_H
#define CT_OUTBOX_INT_H

#include <lmdb.h>

#include "ct_buf.h"
#include "ct_outbox.h"

struct ct_outbox {
    MDB_env *env;
    MDB_dbi meta, outbox, rejected, imports, committed, notes, acked, life;
    char errmsg[256];
};

struct ct_outbox_txn {
    ct_outbox *ob;
    MDB_txn *txn;
    uint8_t origin[CT_ORIGIN_LEN];
    uint64_t next_seq;
    uint64_t first_seq;
    ct_buf buf;
};

/* The one queueing path of every entry kind: the idempotency check (a seen
 * idem sets *seq to its entry and queues nothing), the next seq and its id
 * (written into id before encoding), encode(obj) into t->buf, the outbox
 * put and the idempotency key. what names the put in an LMDB failure. */
ct_err ct_outbox_queue_encoded(ct_outbox_txn *t, uint8_t id[CT_EVENT_ID_LEN],
                               ct_err (*encode)(const void *obj, ct_buf *out), const void *obj,
                               const uint8_t *idem, const char *what, bool *queued, uint64_t *seq);

/* Records LMDB's message for rc in ob's errmsg and maps rc to a ct_err. */
ct_err ct_outbox_lmdb_fail(ct_outbox *ob, int rc, const char *what);
/* Begins a transaction (flags 0 or MDB_RDONLY) and opens a cursor on dbi. On
 * failure nothing is left open. */
ct_err ct_outbox_txn_cursor(ct_outbox *ob, unsigned flags, MDB_dbi dbi, MDB_txn **txn,
                            MDB_cursor **cur);

/* one "origins_old" entry: first seq (u64 BE) || origin */
#define CT_OUTBOX_ORIGIN_REC (8 + CT_ORIGIN_LEN)

/* A raw meta value inside txn (an LMDB code; MDB_NOTFOUND when absent), and
 * its write. */
int ct_outbox_meta_get(MDB_txn *txn, ct_outbox *ob, const char *key, MDB_val *v);
int ct_outbox_meta_put(MDB_txn *txn, ct_outbox *ob, const char *key, const void *val, size_t len);
/* The outbox info (counters, origin, origin history) read inside txn; an
 * LMDB code. */
int ct_outbox_read_info(MDB_txn *txn, ct_outbox *ob, ct_outbox_info *info);

/* A u64 (big-endian) meta value inside txn (absent: 0), and its write. */
int ct_outbox_meta_get_u64(MDB_txn *txn, ct_outbox *ob, const char *key, uint64_t *out);
int ct_outbox_meta_put_u64(MDB_txn *txn, ct_outbox *ob, const char *key, uint64_t val);

/* Keeps the entry (seq key k, bytes v) in "acked" with its log seq q >= 1
 * (inside txn; v must stay valid during the call). */
int ct_outbox_acked_put(MDB_txn *txn, ct_outbox *ob, const MDB_val *k, const MDB_val *v,
                        uint64_t q);
/* Fills en's bytes, log seq and state SETTLED from "acked" when seq key k
 * is there (inside txn; nothing when it is not). */
int ct_outbox_acked_read(ct_outbox *ob, MDB_txn *txn, const MDB_val *k, ct_outbox_entry *en);

#endif
