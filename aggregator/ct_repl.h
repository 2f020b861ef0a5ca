/* ct_repl.h — the primary's side of log shipping: the replication ROUTER
 * (--replicate), the followers it has heard from, and the two watermarks.
 *
 * Protocol (docs/PROTOCOL.md §3.4): a follower sends "rq" (s, h) = its
 * durable head; the primary checks that h is its own chain hash at s (else
 * "err" chain_broken: that follower's log is not a prefix of this one and
 * it is never counted), records s as durable on that follower, and answers
 * one "rb" with the stored records s+1.. (at most CT_WIRE_MAX_RECORDS or
 * CT_REPL_BATCH_BYTES), or parks the request while s == committed and
 * answers it at the next commit, or after CT_REPL_IDLE_MS with an empty
 * "rb" (a heartbeat: the follower asks again at once).
 *
 * Watermarks: committed = this store's head (its own fsync); safe = the
 * sync_k-th highest seq confirmed by distinct followers (never above
 * committed, never going back); sync_k 0 = safe follows committed.
 * A follower is known by its CURVE key (role follower in the authorization
 * file, checked per message) or, with --insecure, by its routing id (the
 * follower sets a stable one). Followers are never forgotten while the
 * process runs: what one confirmed is on its disk even when it is down.
 *
 * A follower that bootstraps asks with "cq" for the chunks of a copy of
 * this store (ct_repl_copy.h), under the same authorization.
 *
 * Single owner: the aggregator's loop thread.
 */
#ifndef CT_REPL_H
#define CT_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_store.h"

#define CT_REPL_MAX_FOLLOWERS 32
#define CT_REPL_BATCH_BYTES ((size_t)4 << 20)
#define CT_REPL_IDLE_MS 1000
#define CT_REPL_ID_MAX 72

typedef struct {
    ct_store *store;
    ct_auth *auth; /* NULL = insecure */
    void *sock;    /* the replication ROUTER (owned by the caller) */
    size_t sync_k; /* --sync-followers */
    /* the campaign this store counts with: every "rb" carries its id and
     * fingerprint, so a follower counting with another one refuses it */
    const ct_campaign *campaign;
    /* the store's directory: a copy for a bootstrapping follower ("cq",
     * ct_repl_copy.h) is made in DATA/serve-copy */
    const char *data;
    /* TEST ONLY (--test-flip-shipped): flip one byte of the record with this
     * seq the first time it is shipped; 0 = never */
    uint64_t test_flip_seq;
    /* TEST ONLY (--test-no-read-ahead): answer an "rq" carrying "n" with
     * "err" unknown_key, as a primary that predates read-ahead does */
    bool test_no_ahead;
} ct_repl_opts;

typedef struct {
    char id[CT_REPL_ID_MAX];
    uint64_t acked;             /* highest seq it confirmed durable */
    uint64_t applied;           /* the seq it last reported counted ("a"; = acked
                                   when it never sent one) */
    uint64_t lag_records;       /* committed - acked */
    int64_t lag_ms;             /* how long the oldest record it lacks has been committed */
    int64_t silent_ms;          /* since its last message */
    uint64_t apply_lag_records; /* acked - applied: durable there, not yet counted */
    int64_t apply_lag_ms;       /* how long the oldest of those has been committed here */
} ct_repl_follower_view;

typedef struct ct_repl ct_repl;

ct_err ct_repl_create(const ct_repl_opts *o, ct_repl **out);
void ct_repl_free(ct_repl *r);

/* Handles every waiting message on the socket (never blocks). */
void ct_repl_serve(ct_repl *r, int64_t now_ms);
/* After a commit that moved the head to seq: answers parked requests. */
void ct_repl_committed(ct_repl *r, uint64_t seq, const uint8_t head[32], int64_t now_ms);
/* Answers every waiting request with "err" code and records nothing (a
 * group member that may not lead now: it ships nothing). */
void ct_repl_refuse(ct_repl *r, ct_err code);
/* Heartbeats for requests parked longer than CT_REPL_IDLE_MS. */
void ct_repl_tick(ct_repl *r, int64_t now_ms);

uint64_t ct_repl_committed_seq(const ct_repl *r);
uint64_t ct_repl_safe(const ct_repl *r);
/* ms since safe last advanced while committed was above it; 0 when safe ==
 * committed. */
int64_t ct_repl_safe_stalled_ms(const ct_repl *r, int64_t now_ms);
/* Fills up to max views; returns the number of followers known. */
/* How long the oldest record after seq has been committed (0 when seq is
 * the committed head or beyond). */
int64_t ct_repl_lag_ms(const ct_repl *r, uint64_t seq, int64_t now_ms);
size_t ct_repl_followers(const ct_repl *r, int64_t now_ms, ct_repl_follower_view *out, size_t max);

#endif
