/* ct_deliver_ep.c — the deliverer's connection: socket options, the
 * socket monitor's events (connected, disconnected, handshake failures),
 * the endpoint list (one at a time, the next on refusal or silence),
 * epoch changes, and the status probe.
 *
 * Invariants: at most one move per REFUSED_HOLD_MS when endpoints refuse;
 * after a disconnection, a move or a new epoch every event in flight is
 * sent again; the CURVE server key is set before the connection it
 * authenticates. The probe closes its DEALER and monitor on every path.
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

#include "ct_zmon.h"

const char *ct_deliver_server_key(const ct_deliver_opts *o, size_t i)
{
    assert(o->n_server_keys <= 1 || i < o->n_server_keys);
    return o->n_server_keys > 1 ? o->server_keys[i] : o->server_key;
}

ct_err ct_deliver_socket_setup(void *sock, const ct_deliver_opts *o)
{
    int zero = 0, one = 1, ivl = 100, ivl_max = 2000, hs = 10000;
    int64_t maxmsg = CT_WIRE_MAX_FRAME;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs) != 0)
        return CT_ERR_ZMQ;
    if (o->secure) {
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, o->server_key, CT_Z85_KEY_LEN + 1) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, o->public_key, CT_Z85_KEY_LEN + 1) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->secret_key, CT_Z85_KEY_LEN + 1) != 0)
            return CT_ERR_ZMQ;
    }
    return CT_OK;
}

const char *ct_deliver_cur_ep(const ct_deliver_state *d)
{
    return d->o->n_endpoints ? d->o->endpoints[d->ep] : d->o->endpoint;
}

/* Asks for a move to the next endpoint (at most one per REFUSED_HOLD_MS). */
void ct_deliver_want_move(ct_deliver_state *d, int64_t now)
{
    if (d->o->n_endpoints < 2 || d->move_at) return;
    d->move_at = d->moved_ms + REFUSED_HOLD_MS > now ? d->moved_ms + REFUSED_HOLD_MS : now;
}

void ct_deliver_handle_monitor(ct_deliver_state *d, void *mon, const char *ep)
{
    ct_zmon_event ev;
    for (;;) {
        ct_err e = ct_zmon_read(mon, ZMQ_DONTWAIT, &ev);
        if (e == CT_ERR_MALFORMED) continue;
        if (e != CT_OK) return;
        int64_t now = ct_monotonic_ms();
        switch (ev.event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            ct_deliver_forget_safe(d, now, "connected");
            d->connected = true;
            d->tel.at = now; /* telemetry on every connection */
            d->blocked_until = 0;
            ct_log(CT_LOG_INFO, "connected", "server=%s window=%zu", ep, d->used);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            /* whatever went out on that connection may be lost with it (or
             * its acks are): resend it all as soon as a new one is up */
            if (d->connected)
                ct_log(CT_LOG_WARN, "disconnected (will reconnect and resend)", "server=%s", ep);
            d->connected = false;
            ct_deliver_resend_all(d);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            if (now - d->last_fail_log >= 10000 || d->last_fail_log == 0) {
                d->last_fail_log = now;
                ct_log(CT_LOG_ERROR, "handshake with the aggregator failed",
                       "server=%s kind=%s code=%u hint=\"check --server-key, --keys and the "
                       "aggregator's authorization file (or --insecure on both sides)\"",
                       ep,
                       ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? "auth"
                       : ev.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol"
                                                                         : "other",
                       ev.value);
            }
            break;
        default:
            break;
        }
    }
}

/* ---- endpoints and epochs ---- */

/* Moves the DEALER to the next endpoint: whatever went out may be lost
 * with the old connection, so everything in flight is sent again. */
void ct_deliver_move_endpoint(ct_deliver_state *d, void *sock, int64_t now, const char *why)
{
    const char *from = ct_deliver_cur_ep(d);
    zmq_disconnect(sock, from);
    d->ep = (d->ep + 1) % d->o->n_endpoints;
    /* the CURVE server key applies to the connections made after it is set */
    if (d->o->secure && zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY,
                                       ct_deliver_server_key(d->o, d->ep), CT_Z85_KEY_LEN + 1) != 0)
        ct_log(CT_LOG_ERROR, "cannot set the server key", "server=%s err=\"%s\"",
               ct_deliver_cur_ep(d), zmq_strerror(errno));
    if (zmq_connect(sock, ct_deliver_cur_ep(d)) != 0)
        ct_log(CT_LOG_ERROR, "cannot connect", "server=%s err=\"%s\"", ct_deliver_cur_ep(d),
               zmq_strerror(errno));
    d->st->moves++;
    ct_deliver_forget_safe(d, now, "endpoint");
    ct_log(CT_LOG_INFO, "trying the next aggregator endpoint", "from=%s to=%s reason=%s", from,
           ct_deliver_cur_ep(d), why);
    d->connected = false;
    d->move_at = 0;
    d->moved_ms = now;
    d->last_heard = now;
    ct_deliver_resend_all(d);
}

/* An ack carried a higher epoch than the one the outbox knew: a follower
 * was promoted. What the old primary called safe was settled; from here its
 * seqs and safe watermark mean nothing, so the events it had committed but
 * not made safe are sent again to this primary. */
void ct_deliver_start_epoch(ct_deliver_state *d, int64_t now)
{
    ct_deliver_settle_now(d, now);
    if (ct_outbox_raise_epoch(d->ob, d->epoch_to) != CT_OK) return; /* tried again */
    size_t unmarked = 0;
    if (ct_outbox_unmark_all(d->ob, &unmarked) != CT_OK) return;
    ct_log(CT_LOG_WARN,
           "a newer epoch: a follower was promoted; resending the events the old primary had "
           "committed but not made safe",
           "server=%s epoch=%" PRIu64 " previous_epoch=%" PRIu64 " resending=%zu",
           ct_deliver_cur_ep(d), d->epoch_to, d->epoch, unmarked);
    d->epoch = d->epoch_to;
    d->epoch_raised = false;
    d->safe = d->swept_safe = 0;
    d->safe_moved_ms = now;
    d->safe_seen = false;
    d->push_ok = false;
    d->next_load = 1;
    ct_deliver_resend_all(d);
}

ct_err ct_deliver_probe(void *zctx, const ct_deliver_opts *o, int timeout_ms, bool *reachable,
                        char *detail, size_t detaillen)
{
    *reachable = false;
    snprintf(detail, detaillen, "no answer within %d ms", timeout_ms);
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!sock) return CT_ERR_ZMQ;
    if (ct_deliver_socket_setup(sock, o) != CT_OK) {
        zmq_close(sock);
        return CT_ERR_ZMQ;
    }
    void *mon = NULL;
    if (ct_zmon_open(zctx, sock,
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                     &mon) != CT_OK) {
        zmq_close(sock);
        return CT_ERR_ZMQ;
    }
    ct_err result = CT_OK;
    if (zmq_connect(sock, o->endpoint) != 0) {
        snprintf(detail, detaillen, "bad endpoint: %s", zmq_strerror(errno));
        result = CT_ERR_USAGE;
    } else {
        int64_t deadline = ct_monotonic_ms() + timeout_ms;
        for (;;) {
            int64_t left = deadline - ct_monotonic_ms();
            if (left <= 0) break;
            zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, (long)left) <= 0) continue;
            ct_zmon_event zev;
            if (ct_zmon_read(mon, ZMQ_DONTWAIT, &zev) != CT_OK) continue;
            uint16_t ev = zev.event;
            if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                *reachable = true;
                snprintf(detail, detaillen, "handshake ok%s", o->secure ? " (CURVE)" : "");
                break;
            }
            if (ev) {
                snprintf(detail, detaillen, "handshake failed (%s)",
                         ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "authentication refused"
                                                               : "protocol/keys mismatch");
                break;
            }
        }
    }
    ct_zmon_close(sock, mon);
    zmq_close(sock);
    return result;
}
