/* ct_deliver.c — the delivery loop (see ct_deliver.h for the state machine):
 * loads events into the window while it has room, sends, settles acks in
 * groups, moves between endpoints, resends on timeout, gives up, logs
 * stats; the options' defaults.
 *
 * Invariants: the window holds at most o->window unsettled events (the
 * rest of the cap is for acked ones waiting for their settle); one DEALER
 * socket and one monitor PAIR socket, both closed on every return path;
 * whatever was acked is settled before returning.
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

#include "ct_notify.h"
#include "ct_zmon.h"

void ct_deliver_opts_default(ct_deliver_opts *o)
{
    memset(o, 0, sizeof *o);
    o->window = 4096;
    o->batch = 256;
    o->resend_ms = 2000;
    o->resend_max_ms = 30000;
    o->stats_interval_s = 10;
    o->poll_ms = 50;
    o->telemetry_s = 30;
}

ct_err ct_deliver_run(ct_outbox *ob, void *zctx, const ct_deliver_opts *o, ct_deliver_stats *st,
                      char *err, size_t errlen)
{
    err[0] = 0;
    memset(st, 0, sizeof *st);
    if (o->window == 0 || o->batch == 0 || o->batch > CT_WIRE_MAX_EVENTS) return CT_ERR_ARG;
    ct_outbox_info info;
    ct_err e = ct_outbox_get_info(ob, &info);
    if (e != CT_OK) {
        snprintf(err, errlen, "%s", ct_outbox_errmsg(ob));
        return e;
    }
    if (!info.initialised) {
        snprintf(err, errlen, "outbox not initialised (run init first)");
        return CT_ERR_CONFIG;
    }
    ct_deliver_state d;
    memset(&d, 0, sizeof d);
    d.o = o;
    d.ob = ob;
    d.st = st;
    d.info = info;
    d.next_load = 1;
    d.resend_timeout = o->resend_ms;
    size_t batch = o->batch < o->window ? o->batch : o->window;
    e = ct_deliver_state_init(&d, o->window, batch);
    if (e != CT_OK) {
        ct_deliver_state_free(&d);
        snprintf(err, errlen, "out of memory for a window of %zu", o->window);
        return e;
    }
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    void *mon = NULL;
    if (!sock || (e = ct_deliver_socket_setup(sock, o)) != CT_OK) {
        snprintf(err, errlen, "cannot set up the socket: %s", zmq_strerror(errno));
        if (sock) zmq_close(sock);
        ct_deliver_state_free(&d);
        return CT_ERR_ZMQ;
    }
    {
        int hwm = (int)(2 * (o->window / batch) + 16);
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    if (ct_zmon_open(zctx, sock,
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                     &mon) != CT_OK)
        mon = NULL;
    if (ct_outbox_epoch(ob, &d.epoch) != CT_OK) d.epoch = 0;
    if (zmq_connect(sock, ct_deliver_cur_ep(&d)) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", ct_deliver_cur_ep(&d),
                 zmq_strerror(errno));
        ct_zmon_close(sock, mon);
        zmq_close(sock);
        ct_deliver_state_free(&d);
        return CT_ERR_USAGE;
    }
    d.sock = sock;
    {
        /* events committed at HQ but not yet safe when the last run ended
         * are sent again: HQ answers duplicate (harmless) with the current
         * safe watermark */
        size_t unmarked = 0;
        if (ct_outbox_unmark_all(ob, &unmarked) == CT_OK && unmarked)
            ct_log(CT_LOG_INFO, "resending events committed at HQ but not yet confirmed safe",
                   "count=%zu", unmarked);
    }
    ct_log(CT_LOG_INFO, "delivering",
           "server=%s endpoints=%zu secure=%s window=%zu batch=%zu queued=%" PRIu64
           " epoch=%" PRIu64,
           ct_deliver_cur_ep(&d), o->n_endpoints ? o->n_endpoints : 1, o->secure ? "curve" : "NO",
           o->window, batch, info.queued, d.epoch);

    int64_t start = ct_monotonic_ms();
    d.last_heard = start;
    int64_t next_scan = 0, next_resend = start + RESEND_CHECK_MS;
    int64_t next_stats = start + (int64_t)o->stats_interval_s * 1000;
    int64_t last_stats = start;
    int64_t stop_deadline = 0;
    ct_err result = CT_OK;
    bool scan_at_end = false; /* the last scan reached the outbox's end */
    uint64_t requeue_gen = 0;
    int64_t next_gen_check = start + 1000, next_safe_check = start;
    d.safe_moved_ms = start;
    if (ct_outbox_requeue_gen(ob, &requeue_gen) != CT_OK) requeue_gen = 0;

    for (;;) {
        ct_deliver_window_check(&d);
        int64_t now = ct_monotonic_ms();
        bool stopping = o->stop && *o->stop;
        if (stopping && !stop_deadline) {
            stop_deadline = now + STOP_GRACE_MS;
            ct_log(CT_LOG_INFO, "stopping", "inflight=%zu", d.used);
        }
        if (stopping && (d.used == 0 || now >= stop_deadline)) break;

        /* `requeue` moved rejected events back: rescan from the start */
        if (now >= next_gen_check) {
            uint64_t g;
            if (ct_outbox_requeue_gen(ob, &g) == CT_OK && g != requeue_gen &&
                ct_outbox_get_info(ob, &d.info) == CT_OK) { /* reissue: a new origin */
                requeue_gen = g;
                d.next_load = 1;
                next_scan = now;
                ct_log(CT_LOG_INFO, "requeued events found; rescanning the outbox", "%s", "");
            }
            next_gen_check = now + 1000;
        }
        /* load new events while the window has room */
        size_t budget = d.used - d.nsettle < d.window ? d.window - (d.used - d.nsettle) : 0;
        if (budget > d.nfree) budget = d.nfree;
        if (!stopping && budget > 0 && now >= next_scan) {
            size_t before = d.used;
            size_t want = budget;
            uint64_t next_from = d.next_load;
            d.scan_calls = 0;
            e = ct_outbox_scan_unsent(ob, d.next_load, want, ct_deliver_load_cb, &d, &next_from);
            if (next_from > d.next_load) d.next_load = next_from; /* past marked events */
            if (e != CT_OK) {
                snprintf(err, errlen, "reading the outbox: %s", ct_outbox_errmsg(ob));
                result = e;
                break;
            }
            size_t got = d.used - before;
            if (before == 0 && got > 0) d.last_heard = now; /* give-up counts from here */
            /* fewer calls than asked: the scan reached the outbox's end.
             * Events already held count as calls but load nothing, so
             * `got` alone says nothing about what is left */
            scan_at_end = d.scan_calls < want;
            next_scan = scan_at_end ? now + o->poll_ms : now;
        }
        if (o->once && d.used == 0 && d.nsettle == 0) {
            /* done when the outbox, read now, holds nothing: nothing
             * unsent and nothing waiting for the safe watermark (marked
             * events are queued ones). Unsent events behind the scan
             * position are loaded by a scan from the start */
            ct_outbox_info in;
            e = ct_outbox_get_info(ob, &in);
            if (e != CT_OK) {
                snprintf(err, errlen, "reading the outbox: %s", ct_outbox_errmsg(ob));
                result = e;
                break;
            }
            if (in.queued == 0) break;
            if (in.queued > in.committed && scan_at_end && !stopping) {
                d.next_load = 1;
                next_scan = now;
                scan_at_end = false;
            }
        }

        if (!stopping) {
            e = ct_deliver_send_some(&d, sock, now);
            if (e != CT_OK) {
                snprintf(err, errlen, "sending failed");
                result = e;
                break;
            }
        }
        /* acks drained in the last rounds: one durable transaction, after the
         * sends above so the aggregator works while the outbox fsyncs, when a
         * group is due (ct_deliver_settle_due). A failure keeps the events in the
         * window; they are resent and acked again. */
        if (d.epoch_raised) ct_deliver_start_epoch(&d, now);
        if (ct_deliver_settle_due(&d, now, stopping)) ct_deliver_settle_now(&d, now);
        if (!stopping) ct_deliver_poll_safe(&d, now);
        if (!stopping && d.connected)
            ct_telemetry_send(&d.tel, ob, sock, o->telemetry_s, now, &d.next_token, &d.out);
        if (o->n_endpoints > 1 && !d.move_at && now - d.last_heard > FAILOVER_MS) {
            ct_outbox_info in;
            if (d.used > 0 || (ct_outbox_get_info(ob, &in) == CT_OK && in.committed > 0))
                ct_deliver_want_move(&d, now);
            else
                d.last_heard = now; /* nothing waits for an answer */
        }
        if (d.move_at && now >= d.move_at)
            ct_deliver_move_endpoint(&d, sock, now,
                                     now - d.last_heard > FAILOVER_MS ? "silent" : "refused");
        if (now >= next_resend) {
            ct_deliver_resend_check(&d, now);
            next_resend = now + RESEND_CHECK_MS;
        }
        if (o->give_up_s > 0 && now >= next_safe_check) {
            /* events committed at HQ wait for safe: give up when it has not
             * moved for give_up_s (a follower down), keeping them */
            ct_outbox_info in;
            next_safe_check = now + 1000;
            bool got = ct_outbox_get_info(ob, &in) == CT_OK;
            if (got && in.committed == 0)
                d.safe_moved_ms = now;
            else if (got && now - d.safe_moved_ms > (int64_t)o->give_up_s * 1000) {
                snprintf(err, errlen,
                         "the safe watermark of %s has not advanced for %d s (safe=%" PRIu64
                         "; a follower down?): %" PRIu64 " events committed at HQ but not "
                         "confirmed safe, all kept in the outbox",
                         ct_deliver_cur_ep(&d), o->give_up_s, d.safe, in.committed);
                result = CT_ERR_TIMEOUT;
                break;
            }
        }
        if (o->give_up_s > 0 && d.used > 0 && now - d.last_heard > (int64_t)o->give_up_s * 1000) {
            snprintf(err, errlen,
                     "aggregator %s unreachable: no reply for %d s (%s; %zu events in the "
                     "window, all kept in the outbox)",
                     ct_deliver_cur_ep(&d), o->give_up_s,
                     d.connected ? "connected but not answering"
                                 : "no connection: down, wrong endpoint, or keys refused",
                     d.used);
            result = CT_ERR_TIMEOUT;
            break;
        }
        if (o->stats_interval_s > 0 && now >= next_stats) {
            ct_outbox_info in;
            uint64_t acked = st->accepted + st->duplicates + st->rejected;
            double secs = (double)(now - last_stats) / 1000.0;
            if (ct_outbox_get_info(ob, &in) == CT_OK)
                ct_log(CT_LOG_INFO, "stats",
                       "queued=%" PRIu64 " inflight=%zu acked_per_s=%.0f sent=%" PRIu64
                       " resent=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64
                       " rejected=%" PRIu64 " ack_p50_ms=%.2f ack_p99_ms=%.2f connected=%s"
                       " committed_not_safe=%" PRIu64 " safe=%" PRIu64 " server=%s epoch=%" PRIu64
                       " moves=%" PRIu64 " stale_acks=%" PRIu64 " safe_pushes=%" PRIu64
                       " safe_polls=%" PRIu64,
                       in.queued, d.used,
                       secs > 0 ? (double)(acked - d.acked_at_last_stats) / secs : 0, st->sent,
                       st->resent, st->accepted, st->duplicates, st->rejected,
                       ct_deliver_lat_pct(&d, 0.5), ct_deliver_lat_pct(&d, 0.99),
                       d.connected ? "yes" : "no", in.committed, d.safe, ct_deliver_cur_ep(&d),
                       d.epoch, st->moves, st->stale_acks, st->safe_pushes, st->safe_polls);
            d.acked_at_last_stats = acked;
            last_stats = now;
            next_stats = now + (int64_t)o->stats_interval_s * 1000;
        }

        /* wait */
        int64_t wait = RESEND_CHECK_MS;
        if (!stopping && budget > 0) wait = next_scan - now;
        if (!stopping && d.nqueued > 0) {
            int64_t w2 = d.blocked_until - now;
            if (w2 < wait) wait = w2;
        }
        if (next_resend - now < wait) wait = next_resend - now;
        if (d.settle_since && d.settle_since + SETTLE_DELAY_MS - now < wait)
            wait = d.settle_since + SETTLE_DELAY_MS - now;
        if (wait < 0) wait = 0;
        if (wait > RESEND_CHECK_MS) wait = RESEND_CHECK_MS;
        ct_notify_watchdog();
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, mon ? 2 : 1, (long)wait);
        if (rc < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll failed: %s", zmq_strerror(errno));
            result = CT_ERR_ZMQ;
            break;
        }
        now = ct_monotonic_ms();
        if (mon && rc > 0 && (items[1].revents & ZMQ_POLLIN))
            ct_deliver_handle_monitor(&d, mon, ct_deliver_cur_ep(&d));
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            ct_deliver_drain(&d, sock, now);
        }
    }
    st->ack_p50_ms = ct_deliver_lat_pct(&d, 0.5);
    st->ack_p99_ms = ct_deliver_lat_pct(&d, 0.99);
    /* settle whatever arrived during the last round */
    if (d.nsettle || d.safe > d.swept_safe) ct_deliver_settle_now(&d, ct_monotonic_ms());
    {
        ct_outbox_info in;
        if (ct_outbox_get_info(ob, &in) == CT_OK)
            ct_log(CT_LOG_INFO, "delivery finished",
                   "queued=%" PRIu64 " delivered_total=%" PRIu64 " rejected_total=%" PRIu64
                   " sent=%" PRIu64 " resent=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64
                   " rejected=%" PRIu64 " ack_p50_ms=%.2f ack_p99_ms=%.2f ack_p999_ms=%.2f"
                   " settles=%" PRIu64 " settle_ms=%.0f safe_pushes=%" PRIu64
                   " safe_polls=%" PRIu64,
                   in.queued, in.delivered, in.rejected, st->sent, st->resent, st->accepted,
                   st->duplicates, st->rejected, ct_deliver_lat_pct(&d, 0.5),
                   ct_deliver_lat_pct(&d, 0.99), ct_deliver_lat_pct(&d, 0.999), st->settles,
                   st->settle_ms, st->safe_pushes, st->safe_polls);
    }
    ct_zmon_close(sock, mon);
    zmq_close(sock);
    ct_deliver_state_free(&d);
    return result;
}
