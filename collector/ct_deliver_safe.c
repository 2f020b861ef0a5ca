/* ct_deliver_safe.c — grouped settles and the safe watermark. Acks are
 * recorded in the outbox in groups (one durable transaction, see
 * SETTLE_DELAY_MS); an event committed at HQ but not yet on the followers'
 * disks is kept, marked with its log seq, until an ack's "f" reaches it.
 *
 * Invariants: a slot is freed only after its settle committed; a failed
 * settle keeps its slots (resent, acked as duplicate later). The safe
 * watermark is that of one aggregator log: it is forgotten (and the
 * committed marks cleared, those events sent again) on every new
 * connection, endpoint move and epoch change, so an "f" of one store never
 * deletes an event another store committed; an accepted or duplicate item
 * without q beside an "f" is kept. An "f" pushed by "sf" and an "f" in an
 * ack go through one function (ct_deliver_take_safe), under the same epoch
 * rules.
 */
#include "ct_deliver_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_time.h"

bool ct_deliver_settle_due(ct_deliver_state *d, int64_t now, bool stopping)
{
    if (d->nsettle == 0 && d->safe <= d->swept_safe) {
        d->settle_since = 0;
        return false;
    }
    if (!d->settle_since) d->settle_since = now;
    return stopping || d->nsettle >= SETTLE_GROUP || d->nfree == 0 || d->used == d->nsettle ||
           now - d->settle_since >= SETTLE_DELAY_MS;
}

ct_err ct_deliver_settle_now(ct_deliver_state *d, int64_t now)
{
    d->settle_since = 0;
    if (d->nsettle == 0 && d->safe <= d->swept_safe) return CT_OK;
    size_t nd = 0, nr = 0;
    uint64_t t0 = ct_monotonic_ns();
    uint64_t safe = d->safe;
    ct_err e = ct_outbox_settle_q(d->ob, d->settle, d->settle_log, d->settle_q, d->nsettle, safe,
                                  ct_now_ms(), &nd, &nr);
    d->st->settle_ms += (double)(ct_monotonic_ns() - t0) / 1e6;
    d->st->settles++;
    if (e != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot record acks in the outbox (events will be resent)",
               "err=%s detail=\"%s\"", ct_err_name(e), ct_outbox_errmsg(d->ob));
        for (size_t i = 0; i < d->nsettle; i++) {
            ct_deliver_slot *s = ct_deliver_lookup(d, d->settle[i].seq);
            if (s) s->settling = false;
        }
        d->nsettle = 0;
        return e;
    }
    for (size_t i = 0; i < d->nsettle; i++) {
        ct_deliver_slot *s = ct_deliver_lookup(d, d->settle[i].seq);
        if (s) ct_deliver_slot_free(d, s);
    }
    d->swept_safe = safe;
    if (d->nsettle == 0) return CT_OK; /* a sweep only */
    d->nsettle = 0;
    d->acked_since_resend = true;
    d->resend_timeout = d->o->resend_ms;
    (void)now;
    return CT_OK;
}

/* ---- monitor ---- */

/* A safe watermark belongs to one aggregator log: on a new connection (the
 * endpoint may now be served by another store) what was learnt on the old
 * one is settled, then forgotten, and the events marked committed there
 * are sent again, to be marked with this log's seqs. */
void ct_deliver_forget_safe(ct_deliver_state *d, int64_t now, const char *why)
{
    ct_deliver_settle_now(d, now);
    size_t unmarked = 0;
    if (ct_outbox_unmark_all(d->ob, &unmarked) != CT_OK) return; /* the sweep is then 0 */
    if (unmarked)
        ct_log(CT_LOG_INFO,
               "resending events committed but not yet safe on the previous connection",
               "server=%s reason=%s count=%zu", ct_deliver_cur_ep(d), why, unmarked);
    d->safe = d->swept_safe = 0;
    d->safe_moved_ms = now;
    d->safe_seen = false;
    d->push_off = d->push_ok = false;
    d->next_load = 1;
}

bool ct_deliver_take_safe(ct_deliver_state *d, uint64_t x, bool has_safe, uint64_t safe)
{
    if (x == 0) x = 1; /* an aggregator that predates epochs */
    if (x < d->epoch) {
        d->st->stale_acks++;
        if (d->st->stale_acks == 1 || d->st->stale_acks % 1000 == 0)
            ct_log(CT_LOG_ERROR,
                   "refusing an ack from a former primary: its epoch is older than one "
                   "this outbox has seen; nothing of it counts, the events stay queued",
                   "server=%s its_epoch=%" PRIu64 " our_epoch=%" PRIu64 " refused_acks=%" PRIu64,
                   ct_deliver_cur_ep(d), x, d->epoch, d->st->stale_acks);
        ct_deliver_want_move(d, ct_monotonic_ms());
        return false;
    }
    if (x > d->epoch && d->epoch != 0) {
        /* a promotion happened: seqs and safe of the old epoch mean
         * nothing on this log. Settle what the old primary confirmed
         * safe, then start over on this one (the caller resets) */
        d->epoch_raised = true;
        d->epoch_to = x;
        return false;
    }
    if (x > d->epoch) {
        if (ct_outbox_raise_epoch(d->ob, x) != CT_OK) return false; /* asked again later */
        d->epoch = x;
    }
    if (has_safe) {
        d->safe_seen = true;
        d->last_safe_ms = ct_monotonic_ms();
        if (safe > d->safe) {
            d->safe = safe;
            d->safe_moved_ms = d->last_safe_ms;
        }
    }
    return true;
}

ct_err ct_deliver_encode_submit(ct_deliver_state *d, uint64_t token, const ct_bytes *evs, size_t n)
{
    ct_buf_reset(&d->out);
    return ct_wire_submit_encode_sp(token, evs, n, true, d->epoch, !d->push_off, &d->out);
}

/* ---- the safe watermark ---- */

static ct_err poll_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    ct_deliver_state *d = ctx;
    (void)seq;
    ct_bytes one = {ev, len};
    ct_err e = ct_deliver_encode_submit(d, ++d->next_token, &one, 1);
    if (e == CT_OK && zmq_send(d->sock, d->out.data, d->out.len, ZMQ_DONTWAIT) >= 0)
        d->st->safe_polls++;
    return CT_OK;
}

/* Events committed at HQ but not yet safe wait for a higher "f": pushed by
 * an aggregator that took "sp" (SAFE_POLL_PUSH_MS covers a lost push), else
 * carried by acks only. With nothing else to send, no ack would come:
 * resend the oldest of them (HQ answers duplicate, with the current "f")
 * once SAFE_POLL_MS passed without a word of safe. */
void ct_deliver_poll_safe(ct_deliver_state *d, int64_t now)
{
    int64_t every = d->push_ok ? SAFE_POLL_PUSH_MS : SAFE_POLL_MS;
    if (!d->connected || now - d->last_safe_ms < every) return;
    ct_outbox_info in;
    if (ct_outbox_get_info(d->ob, &in) != CT_OK || in.committed == 0) return;
    d->last_safe_ms = now;
    ct_outbox_committed_first(d->ob, poll_cb, d);
}
