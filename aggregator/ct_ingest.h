/* ct_ingest.h — one group-commit round of the aggregator's ingest path.
 *
 * ct_ingest_batch() runs four phases, each a function of ct_ingest.c:
 *   1. drain: receive, without blocking, round robin over the ingest ROUTER
 *      sockets (messages [routing id][submit], or REQ-style [routing id][""]
 *      [submit]) until batch_max events, batch_max messages or
 *      CT_INGEST_ROUND_BYTES of frames; decode each submit;
 *   2. decode + validate every entry: an event (schema, campaign, and in
 *      secure mode the sender's CURRENT authorization: a collector key
 *      writes only its district, admin any, anything else nothing ->
 *      CT_ERR_FORBIDDEN) or a life entry (docs/PROTOCOL.md §2.2: schema,
 *      campaign, who may issue it, and for a void / correct the record it
 *      names: ct_ingest_life.h);
 *   3. apply the valid ones with ONE ct_store_apply_batch() (one durable
 *      LMDB transaction);
 *   4. only then send one "ack" per submit (items in submit order, "s" = the
 *      head seq after the commit, and "f" = the safe seq when the submit
 *      asked for it with "w") or one "err" per message that does not
 *      decode as a submit (nothing of it is stored); a submit with "sp"
 *      whose events are committed above that "f" notes its sender for the
 *      pushed watermark (ct_ingest_push_safe).
 *
 * Ack policy, per event — the first row that applies (docs/PROTOCOL.md §3.2):
 *   1. refused here (decode, campaign check, authorization) but its exact
 *      bytes are in the log under its id  -> DUPLICATE, seq = the original
 *   2. refused here                        -> REJECTED, the refusal's code
 *   3. (store) id in the log, same bytes   -> DUPLICATE, seq = the original
 *      (also when its origin is bound to another key)
 *   4. (store) id in the log, other bytes  -> REJECTED conflict
 *   5. (store) origin bound to another collector key -> REJECTED forbidden
 *   6. (store) the tally rule refuses it (a life entry the state does not
 *      allow: not_current, already_closed, ...) -> REJECTED, that code; it
 *      left nothing (no record, no seq, its id free)
 *   7. (store) otherwise                   -> ACCEPTED, seq = its new record
 * An accepted life entry is logged (one info line: kind, unit, actor, seq).
 * If the commit fails, rows 3-7 become RETRY / store_unavailable and
 * nothing is acked as accepted. Rows 1-2 are refuse_event(), rows 3-7 are
 * decided by ct_store_apply_batch and passed on by ack_from_store().
 *
 * Memory: the item arrays are allocated once by ct_ingest_create() and
 * reused (no per-event allocation on the hot path). A round holds its
 * frames until its acks are sent; after a round that held at least
 * CT_INGEST_TRIM_BYTES the freed heap is returned to the system
 * (malloc_trim), so a burst of large hostile frames does not stay resident.
 * Single-threaded: one owner.
 */
#ifndef CT_INGEST_H
#define CT_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_offices.h"
#include "ct_safe_push.h"
#include "ct_store.h"

#define CT_INGEST_MAX_CODES 128
#define CT_INGEST_LIFE_KINDS 7                   /* life_accepted[ct_life_kind] (index 0 unused) */
#define CT_INGEST_ROUND_BYTES ((size_t)64 << 20) /* frames held by one round, about */
#define CT_INGEST_TRIM_BYTES ((size_t)4 << 20)

typedef struct {
    uint64_t messages; /* submit messages received */
    uint64_t events;   /* events received */
    uint64_t accepted;
    uint64_t duplicates;
    uint64_t rejected;     /* invalid + conflict + forbidden */
    uint64_t retry;        /* answered "store unavailable" */
    uint64_t bad_messages; /* answered "err" */
    uint64_t batches;      /* rounds that received something */
    uint64_t commits;      /* successful store commits */
    uint64_t commit_failures;
    uint64_t batch_max_seen;     /* largest batch, in events */
    uint64_t acks_undeliverable; /* peer gone or its queue full */
    uint64_t forbidden;
    uint64_t stale_epoch;       /* submits refused: the sender has seen a newer epoch */
    uint64_t telemetry;         /* "tel" messages recorded */
    uint64_t telemetry_refused; /* "tel" messages refused (answered with the code) */
    uint64_t commit_ns;         /* time spent in ct_store_apply_batch */
    uint64_t round_ns;          /* time spent in whole rounds (decode..ack) */
    uint64_t rejects_by_code[CT_INGEST_MAX_CODES];
    uint64_t life_accepted[CT_INGEST_LIFE_KINDS]; /* accepted life entries by kind */
} ct_ingest_stats;

typedef struct {
    const ct_campaign *campaign;
    ct_store *store;
    ct_auth *auth;    /* NULL = insecure: no per-message check */
    size_t batch_max; /* events per commit (default 8192) */
    bool no_future_check;
    /* followers that must confirm a record before it is safe; 0 = safe is
     * the head after the round's commit (see ct_ingest_set_safe) */
    size_t sync_followers;
    /* the store's epoch (0 = 1): acks to submits with "w" or "ep" carry it; a
     * submit whose "ep" is higher is refused with "err" stale_epoch */
    uint64_t epoch;
    /* where office telemetry ("tel", PROTOCOL.md §3.6) goes; NULL = a "tel"
     * is answered bad_message_kind like any other kind */
    ct_offices *offices;
} ct_ingest_opts;

typedef struct ct_ingest ct_ingest;

ct_err ct_ingest_create(const ct_ingest_opts *o, ct_ingest **out);
void ct_ingest_free(ct_ingest *g);

/* One round over socks[0..n). Cannot fail: a failed commit is reported in
 * *commit_err (and the stats) and answered "retry"; the loop goes on.
 * *commit (if the batch appended records: commit->seq_after > seq_before)
 * describes the commit for the feed; commit->changed is filled when given.
 * *got is the number of messages received (0 = nothing was waiting). */
void ct_ingest_batch(ct_ingest *g, void **socks, size_t n, ct_store_commit *commit,
                     ct_err *commit_err, size_t *got);

const ct_ingest_stats *ct_ingest_get_stats(const ct_ingest *g);

/* The safe watermark for the next round's acks when sync_followers > 0
 * (acks carry min(safe, head)); ignored with sync_followers 0. */
void ct_ingest_set_safe(ct_ingest *g, uint64_t safe);

/* The epoch the next acks carry (a promotion at runtime, group mode); a
 * change forgets the collectors waiting for a pushed watermark. */
void ct_ingest_set_epoch(ct_ingest *g, uint64_t epoch);

/* The pushed watermark (docs/PROTOCOL.md §3.2): sends "sf" with the safe
 * seq of ct_ingest_set_safe (at most `committed`) to the collectors that
 * asked with "sp" and wait for it (ct_safe_push.h); nothing with
 * sync_followers 0. Call after the safe seq may have moved. */
void ct_ingest_push_safe(ct_ingest *g, void **socks, size_t n, uint64_t committed);
ct_safe_push_stats ct_ingest_push_stats(const ct_ingest *g);

#endif
