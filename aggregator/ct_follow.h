/* ct_follow.h — a follower's side of log shipping (--follow ENDPOINT).
 *
 * A DEALER connected to the primary's replication ROUTER. The follower asks
 * with "rq" (its received head R: seq and hash, durable here), and for each "rb" answering it
 * checks: p == the head it holds (else the batch is stale and dropped), ph
 * == that head's hash; then it asks for what follows the batch at once
 * (read-ahead, "rq" "n": docs/PROTOCOL.md §3.4) and, for every record in
 * order: it decodes, its seq is the previous + 1, and BLAKE2b(prev hash ||
 * body) over its shipped bytes equals its hash (the store's receipt checks
 * this, ct_store_ship_put, and keeps those bytes unchanged). The batches
 * waiting join ONE receipt transaction (up to 4 x 4096 records); only after
 * its durable commit does the follower report the new received head R
 * ("s") — which tells the primary that everything up to it is on this
 * disk, chain-checked. Counting follows in transactions of its own
 * (ct_follow_apply: ids, person states and counts through the one import
 * path, ct_store_import_stored), up to CT_FOLLOW_APPLY_CHUNK records each,
 * no record before it was received apply_delay_ms ago (by the primary's
 * clock in the record); H = the counted head <= R, sent as "a". A primary
 * that answers "n" with unknown_key (an older release) is asked one batch
 * at a time from then on, without "a".
 *
 * A record that fails a check stops the follower: ct_follow_on_readable
 * returns CT_ERR_CHAIN with err naming the first seq it cannot accept
 * (nothing of the transaction is committed; it never repairs anything). The same
 * for an "err" chain_broken from the primary (our head is not on its log).
 * Epochs: an "rb" from a lower epoch than this store's (a former primary)
 * stops the follower too (CT_ERR_STALE_EPOCH, err says so; nothing
 * applied); a higher one is adopted (stored) before the batch is applied.
 * Origin bindings shipped with a batch ("o") are kept in the receipt's
 * transaction and written to "origins" by the apply that counts the
 * batch's last record; one that contradicts a binding held refuses the
 * batch (CT_ERR_CHAIN).
 * A store write failure (disk or map full, I/O) aborts the batch and the
 * request is repeated later. No answer within CT_FOLLOW_RETRY_MS: ask again.
 *
 * In CURVE mode the DEALER sets no routing id: the primary knows a follower
 * by its ZAP User-Id (its public key). With --insecure its routing id is
 * "follower-" + 16 hex digits of 8 random bytes drawn once and kept in the
 * store's meta (ct_store_follower_id): stable across restarts, so the
 * primary knows a restarted follower as the same one, and distinct for two
 * followers even when their data directories have the same path.
 * Single owner: the aggregator's loop thread.
 */
#ifndef CT_FOLLOW_H
#define CT_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_keys.h"
#include "ct_store.h"

#define CT_FOLLOW_RETRY_MS 3000
#define CT_FOLLOW_RID_LEN 25 /* "follower-" + 16 hex digits */

typedef struct {
    ct_store *store;
    const ct_campaign *campaign;
    void *zctx;
    const char *endpoint;
    const char *data;            /* the store's directory (messages) */
    const ct_keypair *kp;        /* own key pair; NULL = insecure */
    const char *primary_key_z85; /* the primary's public key; NULL = insecure */
    bool probe_only;             /* no request at creation: ct_follow_probe only */
    int64_t apply_delay_ms;      /* count a record only this long after it was
                                    received (--apply-delay; 0 = at once) */
} ct_follow_opts;

#define CT_FOLLOW_APPLY_CHUNK 512 /* records counted per apply transaction */

typedef struct {
    uint64_t head_seq;          /* R: own received head, durable here */
    uint64_t applied_seq;       /* H: own counted head (<= head_seq) */
    uint64_t primary_committed; /* from the last "rb" */
    uint64_t primary_safe;
    uint64_t batches, records, empty_batches, stale_batches, store_failures;
    uint64_t receipts, applies; /* receipt and apply commits */
    int64_t last_batch_ms;      /* monotonic; 0 = none yet */
    int64_t last_apply_ms;      /* monotonic; 0 = none yet */
    uint64_t epoch;             /* this store's epoch (raised to the primary's) */
    bool connected;
} ct_follow_stats;

typedef struct ct_follow ct_follow;

ct_err ct_follow_create(const ct_follow_opts *o, ct_follow **out, char *err, size_t errlen);
void ct_follow_free(ct_follow *f);
/* The insecure-mode routing id of the follower of store (drawn and stored
 * the first time): out receives "follower-" + 16 hex digits (outlen >
 * CT_FOLLOW_RID_LEN). */
ct_err ct_follow_routing_id(ct_store *store, char *out, size_t outlen);
/* The routing id this follower set ("" in CURVE mode: none). */
const char *ct_follow_rid(const ct_follow *f);
/* The socket to poll for ZMQ_POLLIN. */
void *ct_follow_socket(const ct_follow *f);
/* Handles the waiting messages up to the first commit: the batches among
 * them go into one receipt transaction, committed before it returns (no
 * transaction outlives the call); *received when one was committed (R
 * moved). CT_OK, or CT_ERR_CHAIN (the logs diverge: stop) or
 * CT_ERR_STALE_EPOCH (the primary is a former one: stop) with err saying
 * where. */
ct_err ct_follow_on_readable(ct_follow *f, bool *received, char *err, size_t errlen);
/* Whether a message waits on the socket (a receipt is due before an
 * apply). */
bool ct_follow_waiting(const ct_follow *f);
/* Counts the next received records due (one transaction, up to
 * CT_FOLLOW_APPLY_CHUNK); *commit describes it as ct_store_import_commit_ex
 * does (seq_after > seq_before when something was counted, else both 0;
 * commit->changed receives the changed counters' absolute values when
 * given). CT_OK (a store failure is logged and retried a second later), or
 * CT_ERR_CHAIN with err naming the seq when a received record cannot be
 * counted (the stores diverge: stop). */
ct_err ct_follow_apply(ct_follow *f, int64_t now_ms, ct_store_commit *commit, char *err,
                       size_t errlen);
/* Whether received records wait to be counted and may be now. */
bool ct_follow_apply_due(const ct_follow *f, int64_t now_ms);
/* How long the oldest received record not yet counted has waited (0 when
 * all are counted, or when it was received before this run). */
int64_t ct_follow_apply_lag_ms(const ct_follow *f, int64_t now_ms);
/* Repeats the request when the primary has been silent for too long. */
void ct_follow_tick(ct_follow *f, int64_t now_ms);
const ct_follow_stats *ct_follow_get_stats(const ct_follow *f);
/* Asks the primary whether (seq, hash) is on its log (one "rq", then waits
 * up to timeout_ms): *on_log true and *epoch = the primary's epoch when it
 * answers with records after seq; *on_log false when it answers
 * chain_broken. CT_ERR_TIMEOUT without an answer; another "err" is returned
 * as its code. For a store created with probe_only (chitieu-aggregator
 * --rejoin); the primary counts an accepted seq as durable on this node,
 * which it is. */
ct_err ct_follow_probe(ct_follow *f, uint64_t seq, const uint8_t hash[32], int timeout_ms,
                       bool *on_log, uint64_t *epoch);

#endif
