/* ct_ingest.h — one group-commit round of the aggregator's ingest path.
 *
 * ct_ingest_batch() drains, without blocking, up to batch_max events from the
 * ingest ROUTER sockets (messages [routing id][submit], or REQ-style
 * [routing id][""][submit]); decodes every submit and every event; validates
 * each event against the campaign (and, in secure mode, the sender's CURRENT
 * authorization: a collector key writes only its district, admin any,
 * anything else nothing -> CT_ERR_FORBIDDEN; but an event already in the log
 * byte for byte is answered DUPLICATE instead of any such rejection); applies
 * the valid ones with ONE
 * ct_store_apply_batch() (one durable LMDB transaction); and only after that
 * returns sends one "ack" per submit (items in submit order, "s" = head seq
 * after the commit). A message that does not decode as a submit gets one
 * "err" reply and changes nothing. If the commit fails, every valid event is
 * answered CT_ACK_RETRY / CT_ERR_STORE_UNAVAILABLE and nothing is acked as
 * accepted.
 *
 * All buffers are allocated once by ct_ingest_create() and reused: no
 * per-event allocation on the hot path. Single-threaded: one owner.
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
#include "ct_store.h"

#define CT_INGEST_MAX_CODES 128

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
    uint64_t commit_ns; /* time spent in ct_store_apply_batch */
    uint64_t round_ns;  /* time spent in whole rounds (decode..ack) */
    uint64_t rejects_by_code[CT_INGEST_MAX_CODES];
} ct_ingest_stats;

typedef struct {
    const ct_campaign *campaign;
    ct_store *store;
    ct_auth *auth;    /* NULL = insecure: no per-message check */
    size_t batch_max; /* events per commit (default 8192) */
    bool no_future_check;
} ct_ingest_opts;

typedef struct ct_ingest ct_ingest;

ct_err ct_ingest_create(const ct_ingest_opts *o, ct_ingest **out);
void ct_ingest_free(ct_ingest *g);

/* One round over socks[0..n). Returns CT_OK (also when the commit failed:
 * that is reported in *commit_err and the stats, and the loop goes on).
 * *commit (if the batch appended records: commit->seq_after > seq_before)
 * describes the commit for the feed; commit->changed is filled when given.
 * *got is the number of messages received (0 = nothing was waiting). */
ct_err ct_ingest_batch(ct_ingest *g, void **socks, size_t n, ct_store_commit *commit,
                       ct_err *commit_err, size_t *got);

const ct_ingest_stats *ct_ingest_get_stats(const ct_ingest *g);

#endif
