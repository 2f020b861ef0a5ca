/* ct_rejoin.h — the two offline failover commands: --promote (a new epoch)
 * and bringing a former primary back as a follower (--rejoin,
 * docs/replication.md).
 *
 * After a promotion the old primary's log may hold an unsafe tail: records
 * it committed after the new primary's fork point that no follower
 * confirmed (their events are still in the collectors' outboxes and were
 * counted by the new primary when resent). ct_rejoin_run finds the fork
 * point F by asking the new primary which of this store's (seq, hash) are
 * on its log (a binary search: the chain makes "is on its log" monotone),
 * refuses unless the primary runs a newer epoch than this store, then
 * writes records 1..F (and the origin bindings they made) into a fresh
 * store through the import path, adopts the primary's epoch, and swaps
 * directories: DIR becomes the rebuilt store and the old one is kept whole
 * as DIR.discarded-e<epoch>-<unix time>. Nothing is repaired or dropped
 * silently: the records discarded are named in err/log and kept on disk.
 * Invariant: the rebuilt store's head is the primary's (seq, hash) at F.
 */
#ifndef CT_REJOIN_H
#define CT_REJOIN_H

#include <stddef.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_follow.h"
#include "ct_store.h"

typedef struct {
    ct_store *store; /* the old store (a writer, opened by the caller) */
    const ct_campaign *campaign;
    const char *data; /* its directory */
    size_t map_size;
    ct_follow_opts follow; /* how to reach the primary (probe_only is set here) */
} ct_rejoin_opts;

/* --promote: a new epoch for a stopped follower's store (ct_store_promote);
 * msg says "promoted: epoch E from seq S head H". */
ct_err ct_rejoin_promote(ct_store *store, char *msg, size_t msglen);

/* The rejoin itself; it makes its own ZeroMQ context (o->follow.zctx is
 * ignored). CT_OK and a summary in msg; CT_ERR_STALE_EPOCH (the primary is not newer),
 * CT_ERR_TIMEOUT (no answer), CT_ERR_IO (the directories cannot be
 * swapped), or a store error, with msg saying why. After CT_OK the caller
 * closes o->store (its directory was renamed). */
ct_err ct_rejoin_run(const ct_rejoin_opts *o, char *msg, size_t msglen);

#endif
