/* ct_feed.h — the aggregator's live feed (PUB) and snapshot service (ROUTER).
 *
 * After each commit that appended records the loop calls ct_feed_update():
 * one "upd" with s = new head seq, p = head seq before the batch, h = chain
 * head, t = commit time and c = ABSOLUTE values of the counters the batch
 * changed. ct_feed_heartbeat() publishes "hb" (s, h, t) — the loop calls it
 * once a second. PUB drops for a slow or stopped subscriber (SNDHWM), so the
 * feed never slows ingest; subscribers resync with a snapshot.
 *
 * ct_feed_serve_snapshots() answers every waiting "snq" on the snapshot
 * ROUTER with one "snp" built from ct_store_read_counts() (one read txn, so
 * counts and head are consistent). In secure mode the requester's CURRENT
 * authorization is checked per request (reporter or admin), else "err"
 * CT_ERR_FORBIDDEN. Buffers are reused between calls.
 *
 * The same socket answers "stq" with "sta" (PROTOCOL.md §3.6), the status
 * the function given to ct_feed_set_status() fills (replication state,
 * office telemetry), under the same authorization as snapshots; without
 * one, "stq" is answered "err" bad_message_kind.
 *
 * After ct_feed_set_campaign() every "upd" and "snp" names the campaign (id
 * and fingerprint) the aggregator runs, so a reporter can refuse to report
 * a campaign other than its own (docs/PROTOCOL.md §3.2).
 */
#ifndef CT_FEED_H
#define CT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "ct_auth.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_store.h"
#include "ct_wire.h"

typedef struct ct_feed ct_feed;

typedef struct {
    uint64_t updates, heartbeats, snapshots, snapshot_denied, bad_requests, status_replies;
} ct_feed_stats;

/* pub and snap are sockets owned by the caller; auth NULL = insecure. */
ct_err ct_feed_create(ct_store *store, ct_auth *auth, void *pub, void *snap, ct_feed **out);
void ct_feed_free(ct_feed *f);

/* id: 1..32 bytes (an empty id names none); fingerprint: 32 bytes. */
void ct_feed_set_campaign(ct_feed *f, const char *id, const uint8_t fingerprint[32]);
/* fn fills *st (followers and offices may point into the caller's memory:
 * they are encoded before fn is called again). */
typedef void (*ct_feed_status_fn)(void *ctx, ct_wire_status *st);
void ct_feed_set_status(ct_feed *f, ct_feed_status_fn fn, void *ctx);
ct_err ct_feed_update(ct_feed *f, const ct_store_commit *c, int64_t time_ms);
ct_err ct_feed_heartbeat(ct_feed *f, uint64_t seq, const uint8_t head[32], int64_t time_ms);
/* Handles every request waiting on the snapshot socket (non-blocking). */
void ct_feed_serve_snapshots(ct_feed *f);
const ct_feed_stats *ct_feed_get_stats(const ct_feed *f);

#endif
