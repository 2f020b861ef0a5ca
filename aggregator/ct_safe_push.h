/* ct_safe_push.h — the collectors a primary pushes its safe watermark to
 * (docs/PROTOCOL.md §3.2 "Pushed watermark"): each one that sent a "sub"
 * with "sp" and was acked with events committed above the ack's "f" is
 * noted by its routing id with the highest seq it waits for; when safe
 * moves, each noted one is sent one "sf", and dropped once safe covers what
 * it waits for or a send to it fails (gone, or its queue full: the
 * collector's own slow poll recovers).
 *
 * Invariants: at most `max` entries (a note past it is counted, not kept);
 * one entry per (socket, routing id); an entry is sent "sf" only with a safe
 * above the one it was last told (by its ack or a push), so one call of
 * ct_safe_push_send sends at most one "sf" per entry. Single-threaded.
 */
#ifndef CT_SAFE_PUSH_H
#define CT_SAFE_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

#define CT_SAFE_PUSH_MAX 4096    /* collectors waiting at once */
#define CT_SAFE_PUSH_RID_MAX 255 /* a ZeroMQ routing id's longest */

typedef struct {
    uint64_t pushes;  /* "sf" sent */
    uint64_t dropped; /* entries dropped after a failed send */
    uint64_t full;    /* notes not kept: the table was full */
    size_t waiting;   /* entries now */
} ct_safe_push_stats;

typedef struct ct_safe_push ct_safe_push;

ct_err ct_safe_push_create(size_t max, ct_safe_push **out);
void ct_safe_push_free(ct_safe_push *p);

/* The collector at routing id rid on socket `sock` holds events committed
 * up to seq `want` and was told safe `told`; nothing is noted when told >=
 * want or the id is longer than CT_SAFE_PUSH_RID_MAX. */
void ct_safe_push_note(ct_safe_push *p, size_t sock, const uint8_t *rid, size_t rid_len,
                       uint64_t want, uint64_t told);

/* Sends "sf" (committed, safe, epoch) to every entry told less than safe,
 * on socks[entry's socket]; drops the entries safe now covers and those a
 * send failed for. */
void ct_safe_push_send(ct_safe_push *p, void **socks, size_t nsock, uint64_t committed,
                       uint64_t safe, uint64_t epoch);

/* Forgets every entry (a new epoch: seqs of another log). */
void ct_safe_push_clear(ct_safe_push *p);

ct_safe_push_stats ct_safe_push_get_stats(const ct_safe_push *p);

#endif
