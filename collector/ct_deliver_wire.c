/* ct_deliver_wire.c — the deliverer's messages: submits of the marked
 * events in seq order, and the replies: acks (matched by event id, or by
 * the submit's token for items without an id), "err" replies (telemetry
 * answers, refusals that move to the next endpoint), epochs carried by
 * acks.
 *
 * Invariants: an event is marked sent only once ZeroMQ took its submit
 * (ZMQ_DONTWAIT; a full pipe retries after BLOCKED_RETRY_MS); an ack of an
 * epoch older than the outbox's counts for nothing; an ack whose id is not
 * this outbox's is ignored; each held slot is noted for settling at most
 * once (nsettle <= used).
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

static ct_err send_batch(ct_deliver_state *d, void *sock, int64_t now, const size_t *idxs, size_t n,
                         bool *blocked)
{
    *blocked = false;
    for (size_t i = 0; i < n; i++) {
        d->evs[i].data = d->slots[idxs[i]].bytes;
        d->evs[i].len = d->slots[idxs[i]].len;
    }
    uint64_t token = ++d->next_token;
    ct_err e = ct_deliver_encode_submit(d, token, d->evs, n);
    if (e != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot encode submit", "err=%s", ct_err_name(e));
        return e;
    }
    if (zmq_send(sock, d->out.data, d->out.len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            d->blocked_until = now + BLOCKED_RETRY_MS;
            *blocked = true;
            return CT_OK;
        }
        ct_log(CT_LOG_ERROR, "send failed", "error=\"%s\"", zmq_strerror(errno));
        return CT_ERR_ZMQ;
    }
    uint64_t now_ns = ct_monotonic_ns();
    ct_deliver_token *tr = &d->tokens[d->tokpos];
    d->tokpos = (d->tokpos + 1) % d->ntok;
    tr->token = token;
    tr->n = n;
    for (size_t i = 0; i < n; i++) {
        ct_deliver_slot *s = &d->slots[idxs[i]];
        tr->seqs[i] = s->seq;
        if (s->sent_ms) {
            d->st->resent++;
        } else {
            d->st->sent++;
        }
        s->sent_ms = now;
        s->sent_ns = now_ns;
        s->token = token;
        assert(d->nqueued > 0);
        s->queued = false;
        d->nqueued--;
    }
    return CT_OK;
}

/* Sends every slot marked for sending, in seq order, in batches. */
ct_err ct_deliver_send_some(ct_deliver_state *d, void *sock, int64_t now)
{
    if (d->nqueued == 0 || now < d->blocked_until) return CT_OK;
    size_t idxs[CT_WIRE_MAX_EVENTS];
    size_t n = 0;
    bool blocked = false;
    for (size_t i = 0; i < d->rcount && d->nqueued > n; i++) {
        ct_deliver_ring_ent *r = ct_deliver_ring_at(d, i);
        if (!ct_deliver_ring_valid(d, r)) continue;
        ct_deliver_slot *s = &d->slots[r->idx];
        if (!s->queued || s->settling) continue;
        idxs[n++] = r->idx;
        if (n == d->o->batch) {
            ct_err e = send_batch(d, sock, now, idxs, n, &blocked);
            if (e != CT_OK || blocked) return e;
            n = 0;
        }
    }
    if (n) return send_batch(d, sock, now, idxs, n, &blocked);
    return CT_OK;
}

/* ---- receiving ---- */

static void note_ack(ct_deliver_state *d, uint64_t seq, const ct_ack_item *it, bool has_safe)
{
    ct_deliver_slot *s = ct_deliver_lookup(d, seq);
    if (!s || s->settling) return; /* already settled (a duplicate ack) */
    if (it->status != CT_ACK_RETRY && s->sent_ns && d->recv_ns > s->sent_ns) {
        uint64_t b = (d->recv_ns - s->sent_ns) / 1000 / LAT_STEP_US;
        d->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS]++;
        d->lat_n++;
    }
    switch (it->status) {
    case CT_ACK_ACCEPTED:
    case CT_ACK_DUPLICATE:
        if (it->status == CT_ACK_ACCEPTED) {
            d->st->accepted++;
        } else {
            d->st->duplicates++;
        }
        s->settling = true;
        d->settle[d->nsettle].seq = seq;
        d->settle[d->nsettle].code = CT_OK;
        d->settle_log[d->nsettle] = it->seq;
        /* committed at HQ but not yet on the followers' disks: keep it. An
         * item without q (0) beside an "f" says nothing about where the
         * event is: kept, marked at a seq no watermark reaches */
        if (!has_safe)
            d->settle_q[d->nsettle] = 0;
        else if (it->seq == 0)
            d->settle_q[d->nsettle] = UNKNOWN_Q;
        else
            d->settle_q[d->nsettle] = it->seq > d->safe ? it->seq : 0;
        d->nsettle++;
        break;
    case CT_ACK_REJECTED: {
        char hex[2 * CT_EVENT_ID_LEN + 1];
        uint8_t id[CT_EVENT_ID_LEN];
        ct_outbox_event_id(&d->info, seq, id);
        ct_event_id_hex(id, hex);
        uint16_t code = it->code ? it->code : (uint16_t)CT_ERR_INTERNAL;
        ct_log(CT_LOG_WARN, "event rejected by the aggregator",
               "id=%s seq=%" PRIu64 " reason=%s detail=\"%s\"", hex, seq, ct_err_name(code),
               ct_err_str(code));
        if (code == CT_ERR_CONFLICT && !d->conflict_explained) {
            d->conflict_explained = true;
            ct_log(CT_LOG_ERROR, CT_DELIVER_CONFLICT_MSG, "id=%s hint=\"%s\"", hex,
                   CT_DELIVER_CONFLICT_HINT);
        }
        d->st->rejected++;
        s->settling = true;
        d->settle[d->nsettle].seq = seq;
        d->settle[d->nsettle].code = code;
        d->settle_log[d->nsettle] = 0;
        d->settle_q[d->nsettle] = 0;
        d->nsettle++;
        break;
    }
    default: /* retry: the resend timer brings it back */
        d->st->retries++;
        break;
    }
}
static void handle_msg(ct_deliver_state *d, const uint8_t *buf, size_t len)
{
    ct_msg_kind kind;
    ct_err e = ct_wire_peek_kind(buf, len, &kind);
    if (e != CT_OK) {
        ct_log(CT_LOG_WARN, "undecodable reply from the aggregator", "err=%s len=%zu",
               ct_err_name(e), len);
        return;
    }
    if (kind == CT_MSG_ACK) {
        uint64_t token, seq, safe, x;
        bool has_safe;
        size_t n;
        e = ct_wire_ack_decode_ep(buf, len, &token, &seq, &has_safe, &safe, &x, d->items,
                                  CT_WIRE_MAX_EVENTS, &n);
        if (e != CT_OK) {
            ct_log(CT_LOG_WARN, "bad ack", "err=%s", ct_err_name(e));
            return;
        }
        if (!ct_deliver_take_safe(d, x, has_safe, safe)) return;
        if (has_safe && !d->push_off) d->push_ok = true; /* it took "sp" */
        ct_deliver_token *tr = ct_deliver_token_find(d, token);
        for (size_t i = 0; i < n; i++) {
            const ct_ack_item *it = &d->items[i];
            if (it->has_id) {
                uint64_t eseq = ct_event_id_seq(it->id);
                uint8_t mine[CT_EVENT_ID_LEN];
                ct_outbox_event_id(&d->info, eseq, mine);
                if (memcmp(it->id, mine, CT_EVENT_ID_LEN) != 0) continue; /* not ours */
                note_ack(d, eseq, it, has_safe);
            } else if (tr && i < tr->n) {
                note_ack(d, tr->seqs[i], it, has_safe);
            }
        }
    } else if (kind == CT_MSG_SAFE_PUSH) {
        uint64_t committed, safe, x;
        e = ct_wire_safe_push_decode(buf, len, &committed, &safe, &x);
        if (e != CT_OK) {
            ct_log(CT_LOG_WARN, "bad safe push", "err=%s", ct_err_name(e));
            return;
        }
        d->st->safe_pushes++;
        (void)ct_deliver_take_safe(d, x, true, safe);
    } else if (kind == CT_MSG_ERROR) {
        bool has_token;
        uint64_t token;
        uint16_t code;
        e = ct_wire_error_decode(buf, len, &has_token, &token, &code);
        if (e != CT_OK) {
            ct_log(CT_LOG_WARN, "bad err reply", "err=%s", ct_err_name(e));
            return;
        }
        if (has_token &&
            ct_telemetry_answer(&d->tel, token, code, ct_deliver_cur_ep(d), &d->st->telemetry))
            return;
        d->st->errors++;
        if (code == CT_ERR_UNKNOWN_KEY && !d->push_off) {
            /* an aggregator that predates "sp": nothing of the submit was
             * stored; submits go without it on this connection */
            d->push_off = true;
            ct_log(CT_LOG_INFO,
                   "the aggregator does not push the safe watermark (it predates \"sp\"); "
                   "asking for it with acks only on this connection",
                   "server=%s", ct_deliver_cur_ep(d));
            ct_deliver_resend_all(d);
            return;
        }
        if (code == CT_ERR_NOT_PRIMARY || code == CT_ERR_STALE_EPOCH) {
            if (d->st->refusals++ % 1000 == 0)
                ct_log(CT_LOG_WARN,
                       code == CT_ERR_NOT_PRIMARY
                           ? "this endpoint is a follower, not the primary; trying the next one"
                           : "this endpoint is a former primary (older epoch); trying the next "
                             "one",
                       "server=%s reason=%s endpoints=%zu", ct_deliver_cur_ep(d), ct_err_name(code),
                       d->o->n_endpoints ? d->o->n_endpoints : 1);
            ct_deliver_want_move(d, ct_monotonic_ms());
            return;
        }
        ct_log(CT_LOG_WARN, "aggregator refused a submit (will resend later)",
               "reason=%s detail=\"%s\"", ct_err_name(code), ct_err_str(code));
    } else {
        ct_log(CT_LOG_WARN, "unexpected message kind from the aggregator", "kind=%d", (int)kind);
    }
}

void ct_deliver_drain(ct_deliver_state *d, void *sock, int64_t now)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (int i = 0; i < MAX_DRAIN; i++) {
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) break;
        d->last_heard = now;
        d->recv_ns = ct_monotonic_ns();
        /* tolerate a multipart reply: the payload is the last frame */
        if (zmq_msg_more(&m)) continue;
        handle_msg(d, zmq_msg_data(&m), zmq_msg_size(&m)); /* nsettle <= used <= cap */
    }
    zmq_msg_close(&m);
}
