/* ct_deliver.h — delivering the outbox to the aggregator over a DEALER socket.
 *
 * State machine per event (docs/collector.md):
 *   QUEUED (in LMDB only) --load--> PENDING (in the window, to send)
 *   PENDING --sent in a "sub"--> IN FLIGHT (sent_ms, token)
 *   IN FLIGHT --ack accepted/duplicate--> deleted from the outbox (durable)
 *     when the ack's safe seq "f" covers its log seq "q"; else COMMITTED
 *     (kept, marked with q, not resent) --an "f" >= q, from a later ack or
 *     pushed in an "sf"--> deleted
 *   IN FLIGHT --ack rejected--> moved to "rejected" with its code (never resent)
 *   IN FLIGHT --ack retry / "err" / timeout / reconnect--> PENDING (resent)
 * Acks are matched by event id (origin || seq); the token of a "sub" only
 * serves acks without an id and whole-message "err" replies. Acks drained in
 * one go are settled in ONE durable write transaction; only then are they
 * forgotten. Memory is bounded by the window (at most `window` events held),
 * not by the outbox size.
 *
 * Timeouts: resend after resend_ms (default 2 s), doubling up to 30 s while
 * nothing gets acked, back to the start value on any ack. While the server is
 * unreachable (ZMQ_IMMEDIATE: send would block) nothing is queued in ZeroMQ;
 * when a connection drops, every in-flight event is resent as soon as a new
 * one is up.
 *
 * Telemetry (ct_telemetry.h) goes out on the same socket every telemetry_s
 * and on every new connection; an aggregator that predates it (answers
 * bad_message_kind) is not sent any more in this run.
 *
 * A "conflict" rejection means HQ already holds a different sign-up under
 * this event's id: the outbox's origin has been used by another copy of the
 * outbox (copied or restored onto a second machine). The first one of a run
 * is logged with CT_DELIVER_CONFLICT_MSG and what to do.
 */
#ifndef CT_DELIVER_H
#define CT_DELIVER_H

#define CT_DELIVER_CONFLICT_MSG                                                                    \
    "HQ already holds a DIFFERENT sign-up under this event id: another copy of this outbox "       \
    "(copied or restored onto a second machine) has used the same ids; these sign-ups are NOT "    \
    "counted at HQ"
#define CT_DELIVER_CONFLICT_HINT                                                                   \
    "run `chitieu-collector reissue --outbox DIR` (same sign-ups, new ids under a fresh "          \
    "origin), then run again; use each copy of an outbox on one machine only"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_keys.h"
#include "ct_outbox.h"

#define CT_DELIVER_MAX_ENDPOINTS 16

typedef struct {
    const char *endpoint; /* used when n_endpoints is 0 */
    /* several aggregators (a primary and its followers): the deliverer uses
     * one at a time and moves to the next when it refuses submits (a
     * follower: not_primary; a former primary: stale_epoch or acks of an
     * older epoch) or has been silent for FAILOVER_MS with events waiting */
    const char *const *endpoints;
    size_t n_endpoints;
    bool secure;
    /* the aggregator's public key: server_key for every endpoint, or, when
     * n_server_keys > 1, server_keys[i] for endpoint i (n_server_keys ==
     * n_endpoints); see ct_deliver_server_key */
    char server_key[CT_Z85_KEY_LEN + 1];
    char server_keys[CT_DELIVER_MAX_ENDPOINTS][CT_Z85_KEY_LEN + 1];
    size_t n_server_keys;
    char public_key[CT_Z85_KEY_LEN + 1];
    char secret_key[CT_Z85_KEY_LEN + 1];
    size_t window;         /* max events in flight (default 4096) */
    size_t batch;          /* max events per "sub" (default 256) */
    bool once;             /* return when the outbox is empty and nothing is in flight */
    int give_up_s;         /* >0: fail when nothing heard from the server for this long */
    int64_t resend_ms;     /* first resend timeout (default 2000) */
    int64_t resend_max_ms; /* cap (default 30000) */
    int stats_interval_s;  /* periodic stats line (default 10; 0 = off) */
    int64_t poll_ms;       /* outbox polling period when the window has room (default 50) */
    int telemetry_s;       /* the office's telemetry ("tel") this often and on every connection
                              (default 30; 0: never) */
    volatile sig_atomic_t *stop; /* set by a signal handler: finish and return */
} ct_deliver_opts;

typedef struct {
    uint64_t sent;       /* event transmissions (first sends) */
    uint64_t resent;     /* event retransmissions */
    uint64_t accepted;   /* acks "accepted" settled */
    uint64_t duplicates; /* acks "duplicate" settled */
    uint64_t rejected;   /* acks "rejected" settled */
    uint64_t retries;    /* acks "retry" */
    uint64_t errors;     /* "err" replies */
    double ack_p50_ms;   /* send -> ack latency over the run (50 us resolution) */
    double ack_p99_ms;
    uint64_t settles;     /* durable ack transactions in the outbox */
    double settle_ms;     /* time spent in them */
    uint64_t moves;       /* moves to the next endpoint */
    uint64_t refusals;    /* "err" not_primary / stale_epoch */
    uint64_t stale_acks;  /* acks refused: from an epoch older than the outbox's */
    uint64_t telemetry;   /* telemetry messages the aggregator recorded */
    uint64_t safe_pushes; /* "sf" messages taken (the pushed safe watermark) */
    uint64_t safe_polls;  /* events resent only to learn the safe watermark */
} ct_deliver_stats;

void ct_deliver_opts_default(ct_deliver_opts *o);

/* Sets the socket options shared by run and the status probe (linger,
 * ZMQ_IMMEDIATE, ZMQ_MAXMSGSIZE, reconnect intervals, CURVE client keys). */
ct_err ct_deliver_socket_setup(void *sock, const ct_deliver_opts *o);

/* The public key that authenticates endpoint i (server_keys[i] when one
 * is given per endpoint, else server_key). */
const char *ct_deliver_server_key(const ct_deliver_opts *o, size_t i);

/* Delivers until *stop (CT_OK), until the outbox is drained with once
 * (CT_OK), or until give_up_s passed without a word from the server
 * (CT_ERR_TIMEOUT, message in err). Store failures return their code. */
ct_err ct_deliver_run(ct_outbox *ob, void *zctx, const ct_deliver_opts *o, ct_deliver_stats *st,
                      char *err, size_t errlen);

/* Connects and waits up to timeout_ms for a completed ZMTP (and CURVE)
 * handshake. *reachable says whether it happened; detail says what was seen
 * (e.g. "handshake failed: authentication"). */
ct_err ct_deliver_probe(void *zctx, const ct_deliver_opts *o, int timeout_ms, bool *reachable,
                        char *detail, size_t detaillen);

#endif
