/* ct_store_int.h — the store's internals, shared by its files and by nothing
 * else (ct_store.h is the public manual):
 *   ct_store.c          open, meta, fingerprint, writer lock, close, reopen
 *                       after MDB_PANIC;
 *   ct_store_batch.c    ct_store_apply_batch: dedup, tally, log append,
 *                       ids / counts / origins puts;
 *   ct_store_tally.c    the read context of the tally rule (counters and
 *                       person states before an entry), the cache of the
 *                       counters every counted enroll reads;
 *   ct_store_persons.c  person states: the overlay and pending maps, the
 *                       checkpoint, the replay from the log;
 *   ct_store_scan.c     readers and scans;
 *   ct_store_import.c   import of verified records (chitieu-audit rebuild,
 *                       followers);
 *   ct_store_epoch.c    the epoch and shipped origin bindings (replication);
 *   ct_store_ship.c     a follower's shipped records: durable receipt, then
 *                       counting through the import;
 *   ct_store_copy.c     a consistent copy of the environment (a follower's
 *                       bootstrap).
 *
 * Invariants of struct ct_store (asserted where they matter):
 *   - read_only stores never hold a write transaction, an overlay or
 *     pending states;
 *   - imp_txn and ship_txn are the only write transactions that outlive a
 *     call, only between ct_store_import_begin / ct_store_ship_begin and
 *     their _commit / _abort, and never both;
 *   - outside a batch or an import chunk the overlay is empty;
 *   - lock_fd >= 0 exactly for a writer (it holds flock(LOCK_EX)).
 */
#ifndef CT_STORE_INT_H
#define CT_STORE_INT_H

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ct_buf.h"
#include "ct_pindex.h"
#include "ct_pmap.h"
#include "ct_be.h"
#include "ct_life.h"
#include "ct_store.h"

#define CT_STORE_FORMAT "chitieu-store-2"
/* a "persons" key: run (8 BE) || program || person hash (ct_store_persons.c) */
#define CT_PERSONS_KEY_LEN (8 + CT_PERSON_KEY_LEN)
#define CT_IDHASH_LEN 16
#define CT_SCAN_RENEW 4096
#define CT_CKPT_MAX_DEFAULT 32768
#define CT_CKPT_AGE_DEFAULT 5000
/* below this much free space an EIO from LMDB is a full disk: LMDB reports
 * a short write (ENOSPC half-way through a page flush) as EIO */
#define CT_STORE_LOW_SPACE ((uint64_t)16 << 20)

struct ct_store {
    MDB_env *env;
    MDB_dbi meta, log, ids, persons, counts;
    MDB_dbi origins;  /* origin -> identity; see ct_store.h */
    bool has_origins; /* false: a read-only open of a store without it */
    /* shipped records not yet counted (ct_store_ship.c): seq (8 BE) ->
     * stored bytes, and origin (8) -> last seq of its batch (8 BE) || key */
    MDB_dbi ship, ship_origins;
    bool has_ship; /* false: a read-only open of a store without them */
    bool read_only;
    bool need_reopen; /* MDB_PANIC seen: reopen before the next transaction */
    /* held by ct_store_copy (possibly in another thread) while it reads the
     * environment; a reopen after MDB_PANIC only takes it with trylock and
     * waits for the next transaction otherwise (ct_store_copy.c) */
    pthread_mutex_t env_mu;
    char *dir;
    size_t map_size;
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    ct_counts delta; /* per-batch counter deltas (reused) */
    /* every CLOSE and LATE_MAX counter, committed + the transaction in
     * progress (ct_store_tally.c); valid when cache_ok; cache_has_close: it
     * holds a CLOSE counter */
    ct_counts cache;
    bool cache_ok, cache_has_close;
    ct_tally_entry_result res; /* the tally's result for the entry in progress */
    ct_entry imp_entry;        /* the record being imported, decoded */
    ct_buf rec;                /* encoded log record (reused) */
    char last_err[256];
    /* person states (ct_store_persons.c): changed by the batch in progress
     * (overlay), by committed batches not yet in "persons" (dirty), and the
     * generation being written to "persons" slice by slice (frozen: states
     * after log[1..gen_seq]; gen_order its entries in key order, of which
     * [0, gen_done) are committed and [gen_done, gen_next) are written by
     * the transaction in progress) */
    const ct_campaign *campaign;
    bool replay_due; /* a replay waits for the campaign */
    int lock_fd;     /* writer: flock(LOCK_EX) on DIR/writer.lock, else -1 */
    ct_pmap overlay, dirty, frozen;
    const ct_pmap_entry **gen_order;
    size_t gen_order_cap, gen_done, gen_next;
    uint64_t gen_seq;
    /* pindex: the run of every key in "persons" as committed (valid when
     * pindex_ok); pend: the index changes of the transaction in progress
     * (slot to move, or SIZE_MAX and the fingerprint to add), all to run
     * pend_run, applied when it commits; merged: a full checkpoint's states */
    ct_pindex pindex;
    bool pindex_ok;
    struct ct_store_pend {
        size_t pos;
        uint32_t fp;
    } * pend;
    size_t pend_n, pend_cap;
    uint64_t pend_run;
    ct_pmap merged;
    size_t ckpt_max;
    int64_t ckpt_age_ms, dirty_since_ms;
    /* received_ms of the head record: the next record's is clamped to >= it
     * (non-decreasing along the log even if the wall clock steps back) */
    int64_t last_received_ms;
    /* import state */
    int64_t imp_last_received_ms;
    MDB_txn *imp_txn;
    uint64_t imp_seq, imp_seq0;
    uint8_t imp_head[CT_LOGREC_HASH_LEN], imp_head0[CT_LOGREC_HASH_LEN];
    /* shipped records (writer): ship_last = the last seq in "ship" as
     * committed (0 = empty); during a receipt ship_txn is open and
     * ship_seq / ship_head the received head it has reached */
    uint64_t ship_last;
    MDB_txn *ship_txn;
    uint64_t ship_seq, ship_seq0; /* ship_seq0: where the receipt began */
    uint8_t ship_head[CT_LOGREC_HASH_LEN];
    ct_buf ship_buf; /* a shipped record copied out of the map while applied */
};

/* ---- meta helpers ---------------------------------------------------------- */

static inline int meta_get(MDB_txn *t, MDB_dbi dbi, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(t, dbi, &k, v);
}

static inline int meta_put(MDB_txn *t, MDB_dbi dbi, const char *key, const void *p, size_t n)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {n, (void *)p};
    return mdb_put(t, dbi, &k, &v, 0);
}

/* meta "head" -> seq || hash; seq 0 and zero hash when absent. */
static inline int head_read(MDB_txn *t, MDB_dbi meta, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_val v;
    int rc = meta_get(t, meta, "head", &v);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        memset(head, 0, CT_LOGREC_HASH_LEN);
        return 0;
    }
    if (rc) return rc;
    if (v.mv_size != 8 + CT_LOGREC_HASH_LEN) return MDB_CORRUPTED;
    *seq = ct_be64_get(v.mv_data);
    memcpy(head, (const uint8_t *)v.mv_data + 8, CT_LOGREC_HASH_LEN);
    return 0;
}

static inline int head_write(MDB_txn *t, MDB_dbi meta, uint64_t seq,
                             const uint8_t head[CT_LOGREC_HASH_LEN])
{
    uint8_t b[8 + CT_LOGREC_HASH_LEN];
    ct_be64_put(b, seq);
    memcpy(b + 8, head, CT_LOGREC_HASH_LEN);
    return meta_put(t, meta, "head", b, sizeof b);
}

/* Maps an LMDB (or errno) code to a ct_err. */
static inline ct_err map_rc(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return CT_OK;
    case MDB_MAP_FULL:
        return CT_ERR_MAP_FULL;
    case ENOSPC:
        return CT_ERR_DISK_FULL;
    case MDB_NOTFOUND:
        return CT_ERR_NOT_FOUND;
    case ENOMEM:
        return CT_ERR_NOMEM;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return CT_ERR_STORE_CORRUPT;
    default:
        return CT_ERR_STORE_UNAVAILABLE;
    }
}

/* ---- shared internals ----------------------------------------------------- */

/* snprintf into err[errlen] when err is given. */
void ct_store_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Why a write to the store failed, for a person who must act on it: for
 * MDB_MAP_FULL, ENOSPC and an EIO while the disk holding s->dir is (nearly)
 * full, the cause and what to do; else the LMDB message. *e receives the
 * ct_err for rc (CT_ERR_MAP_FULL, CT_ERR_DISK_FULL or the map_rc value). */
const char *ct_store_write_cause(const ct_store *s, int rc, ct_err *e, char *buf, size_t len);

/* Opens (or reopens) s->env and its databases, checks or initialises meta,
 * then replays person states if due (ct_store.c). */
ct_err ct_store_env_open(ct_store *s, const uint8_t *fingerprint, bool accept_change, char *err,
                         size_t errlen);
/* Begins a transaction, reopening the environment first after MDB_PANIC. */
ct_err ct_store_txn_begin(ct_store *s, unsigned flags, MDB_txn **t);

/* BLAKE2b-128 of an entry's bytes (the ids value's second half). */
void ct_store_idhash(const uint8_t *raw, size_t len, uint8_t out[CT_IDHASH_LEN]);

/* ct_store_tally.c. ct_store_tally_prepare: loads the counter cache if it is
 * not valid (call inside the write transaction, before the first run).
 * ct_store_tally_run: ct_tally_entry over the state before the entry (the
 * committed counters + s->delta, person states through the overlay); counts
 * false = every counter reads 0 (a person-state replay, which keeps only
 * person states). Writes nothing but *res. ct_store_tally_keep: an applied
 * entry's result into the overlay, s->delta and the cache.
 * ct_store_tally_aborted: the transaction was aborted (the cache is ahead of
 * the file: the next one loads it again). ct_store_tally_forget: drops the
 * cache (a reopen). LMDB / errno codes. */
int ct_store_tally_prepare(ct_store *s, MDB_txn *t);
int ct_store_tally_run(ct_store *s, MDB_txn *t, bool counts, const ct_entry *e,
                       const ct_tally_in *in, ct_tally_entry_result *res);
int ct_store_tally_keep(ct_store *s, const ct_tally_entry_result *res);
void ct_store_tally_aborted(ct_store *s);
void ct_store_tally_forget(ct_store *s);
/* The person keys whose state entry e may change (0, 1 or 2). */
size_t ct_store_entry_persons(const ct_entry *e, uint8_t keys[2][CT_PERSON_KEY_LEN]);
/* The entry's campaign id. */
const char *ct_store_entry_campaign(const ct_entry *e);

/* ct_store_batch.c: appending one record (computes its hash from *head,
 * updates *head); registering its id (MDB_KEYEXIST with *existing = the
 * stored value if already there); writing s->delta as absolute counters.
 * LMDB / errno codes. */
int ct_store_append_one(ct_store *s, MDB_txn *t, ct_logrec *r, uint8_t head[CT_LOGREC_HASH_LEN]);
int ct_store_ids_put(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq,
                     const uint8_t idhash[CT_IDHASH_LEN], MDB_val *existing);
int ct_store_flush_counts(ct_store *s, MDB_txn *t, ct_counts *changed);

/* ct_store_ship.c: reads ship_last in t (a writer's open). */
ct_err ct_store_ship_load(ct_store *s, MDB_txn *t, char *err, size_t errlen);

/* ct_store_persons.c (see its top comment for the invariant). */
/* The state of key as of the transaction in progress: overlay, then the
 * pending states, then "persons". *found = false if the person has none. */
int ct_store_persons_get(ct_store *s, MDB_txn *t, const uint8_t key[CT_PERSON_KEY_LEN],
                         ct_person_state *st, bool *found);
/* Cache hints: key's state is about to be read (ct_store_persons_get). */
void ct_store_persons_prefetch(const ct_store *s, const uint8_t key[CT_PERSON_KEY_LEN]);
/* Records a state change of the transaction in progress (overlay). */
int ct_store_persons_set(ct_store *s, const uint8_t key[CT_PERSON_KEY_LEN],
                         const ct_person_state *st);
/* A full checkpoint is due (ct_store_persons_write with checkpoint size 0). */
bool ct_store_persons_due(const ct_store *s);
/* Writes every pending, frozen and overlay state to "persons",
 * persons_seq := seq, and ends a generation in progress, in t. */
int ct_store_persons_checkpoint(ct_store *s, MDB_txn *t, uint64_t seq);
/* The batch's share of person-state writes, in t (the batch commits head
 * seq, starting from committed head seq0): with a checkpoint size of 0 a
 * full checkpoint (*full = true); else freezes the pending states as a
 * generation when due and writes its next slice (*full = false). */
int ct_store_persons_write(ct_store *s, MDB_txn *t, uint64_t seq0, uint64_t seq, bool *full);
/* After t committed: the slice written in t counts as done (a complete
 * generation is dropped), the overlay joins the pending states (or all are
 * dropped when the commit held a full checkpoint). ENOMEM leaves the handle in
 * need of a reopen (the log is the truth). */
int ct_store_persons_committed(ct_store *s, bool checkpointed);
/* After t was aborted: the overlay and the slice are gone with it. */
void ct_store_persons_aborted(ct_store *s);
/* Drops every in-memory state and the index (before a reopen replays them). */
void ct_store_persons_forget(ct_store *s);
/* Frees what ct_store_persons_* holds in memory. */
void ct_store_persons_free(ct_store *s);
/* Replays log(persons_seq..head] into "persons" (a writer's open). */
ct_err ct_store_persons_replay(ct_store *s, char *err, size_t errlen);
/* At close: writes the pending states, or logs what was skipped and why. */
void ct_store_persons_close(ct_store *s);

#endif
