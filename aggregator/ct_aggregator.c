/* ct_aggregator.c — the aggregator's poll loop and timers (see
 * ct_aggregator.h); what a run shows is in ct_aggregator_show.c, a
 * follower's rounds and the group's roles in ct_aggregator_roles.c.
 *
 * Invariants: one thread does all socket and store work (the ZAP handler
 * thread touches only its own socket and the mutex-protected auth table);
 * an ack leaves only after its round's durable commit (ct_ingest); a
 * timer's next deadline is always in the future after it ran; every socket
 * opened here is closed here, also when setup fails half-way.
 */
#include "ct_aggregator.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zmq.h>

#include "ct_aggregator_run.h"
#include "ct_counts.h"
#include "ct_feed.h"
#include "ct_follow.h"
#include "ct_group_status.h"
#include "ct_ingest.h"
#include "ct_log.h"
#include "ct_logrec.h"
#include "ct_notify.h"
#include "ct_offices.h"
#include "ct_repl.h"
#include "ct_server.h"
#include "ct_time.h"
#include "ct_wire.h"

/* The /metrics figures are handed over this often. */
#define METRICS_PUBLISH_MS 250

static uint64_t free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

/* Names the cause of a failed commit (the acks already said "retry"). */
static void log_commit_error(ct_err e, const char *data, const char *detail)
{
    if (e == CT_ERR_MAP_FULL)
        ct_log(CT_LOG_ERROR, "store commit failed: LMDB map is full, raise --map-size",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
    else if (e == CT_ERR_DISK_FULL)
        ct_log(CT_LOG_ERROR, "store commit failed: no space left on device",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
    else if (free_bytes(data) < (16u << 20))
        /* LMDB reports a short write (ENOSPC mid-flush) as EIO */
        ct_log(CT_LOG_ERROR, "store commit failed: no space left on device (disk nearly full)",
               "err=%s detail=\"%s\" free_bytes=%llu data=%s acked=none answer=retry",
               ct_err_name(e), detail, (unsigned long long)free_bytes(data), data);
    else
        ct_log(CT_LOG_ERROR, "store commit failed: I/O or LMDB error",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
}

static void reader_check(ct_store *store)
{
    int cleared = ct_store_reader_check(store);
    if (cleared > 0) ct_log(CT_LOG_INFO, "cleared stale LMDB readers", "count=%d", cleared);
    if (cleared < 0)
        ct_log(CT_LOG_WARN, "LMDB reader check failed", "detail=\"%s\"",
               ct_store_last_error(store));
}

static void reload_auth(const ct_aggregator_opts *o, ct_server_sock *feed_ss)
{
    if (!o->auth) {
        ct_log(CT_LOG_INFO, "SIGHUP ignored (insecure mode has no --auth)", NULL);
        return;
    }
    char err[512] = "";
    size_t revoked = 0;
    ct_err e = ct_auth_reload(o->auth, &revoked, err, sizeof err);
    if (e) {
        size_t w = 0, r = 0;
        ct_auth_count_roles(o->auth, &w, &r);
        ct_log(CT_LOG_ERROR, "auth reload failed; keeping the previous table",
               "detail=\"%s\" peers=%zu may_write=%zu may_read=%zu", err, ct_auth_count(o->auth), w,
               r);
        return;
    }
    ct_log(CT_LOG_INFO, "auth reloaded", "peers=%zu readers_revoked=%zu", ct_auth_count(o->auth),
           revoked);
    /* PUB has no per-message check: drop every feed connection (unbind +
     * bind) so each must pass ZAP again; legitimate subscribers reconnect by
     * themselves and resync. */
    if (revoked) ct_server_rebind(feed_ss, o->feed, o->n_feed);
}

static void ingest_round(ct_aggregator_state *r)
{
    ct_store_commit cm = {.changed = &r->changed};
    ct_err cerr = CT_OK;
    size_t got = 0;
    void *socks[1] = {r->ss[S_INGEST].sock};
    ct_ingest_batch(r->ing, socks, 1, &cm, &cerr, &got);
    if (r->o->metrics) ct_aggregator_metrics_round(r);
    if (cerr) {
        int64_t t = ct_monotonic_ms();
        if (!r->store_failing || t - r->last_fail_log >= 1000) {
            log_commit_error(cerr, r->o->data, ct_store_last_error(r->o->store));
            r->last_fail_log = t;
        }
        r->store_failing = true;
    } else if (cm.seq_after > cm.seq_before) {
        if (r->store_failing) {
            ct_log(CT_LOG_INFO, "store commits again", "head_seq=%llu",
                   (unsigned long long)cm.seq_after);
            r->store_failing = false;
        }
        r->head_seq = cm.seq_after;
        memcpy(r->head, cm.head, sizeof r->head);
        ct_feed_update(r->feed, &cm, ct_now_ms());
        ct_repl_committed(r->repl, cm.seq_after, cm.head, ct_monotonic_ms());
    }
}

/* A follower refuses submits: "err" not_primary, with the token when it
 * can be read; nothing is stored. */
static void refuse_submits(ct_aggregator_state *r)
{
    void *sock = r->ss[S_INGEST].sock;
    ct_buf out = CT_BUF_INIT;
    for (int n = 0; n < 1024; n++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            break;
        }
        zmq_msg_init(&body);
        bool ok = zmq_msg_more(&rid) && zmq_msg_recv(&body, sock, 0) >= 0;
        while (ok && zmq_msg_more(&body)) { /* the last frame is the message */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, sock, 0) < 0) ok = false;
        }
        uint64_t tok = 0;
        bool has = ok && ct_wire_submit_peek_token(zmq_msg_data(&body), zmq_msg_size(&body),
                                                   &tok) == CT_OK;
        ct_buf_reset(&out);
        if (ok && ct_wire_error_encode(has, tok, CT_ERR_NOT_PRIMARY, &out) == CT_OK &&
            zmq_send(sock, zmq_msg_data(&rid), zmq_msg_size(&rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
            zmq_send(sock, out.data, out.len, ZMQ_DONTWAIT);
        r->refused_submits++;
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
    ct_buf_free(&out);
}

_Static_assert(S_REPL == S_N - 1, "loop(): the replication monitor is the last one polled");

/* The collectors that asked for the pushed watermark ("sp") and wait for
 * safe learn it as soon as the followers' reports move it, not with their
 * next ack (ct_safe_push.h). */
static void push_safe(ct_aggregator_state *r)
{
    void *isock[1] = {r->ss[S_INGEST].sock};
    ct_ingest_set_safe(r->ing, ct_repl_safe(r->repl));
    ct_ingest_push_safe(r->ing, isock, 1, r->head_seq);
}

static ct_err loop(ct_aggregator_state *r, char *err, size_t errlen)
{
    const ct_aggregator_opts *o = r->o;
    zmq_pollitem_t items[5 + S_N];
    ct_aggregator_stats_mark mark;
    memset(&mark, 0, sizeof mark);
    mark.t_ms = ct_monotonic_ms();
    int64_t next_hb = ct_monotonic_ms() + 1000;
    int64_t next_stats =
        o->stats_interval > 0 ? ct_monotonic_ms() + (int64_t)(o->stats_interval * 1000) : INT64_MAX;
    int64_t next_rc = ct_monotonic_ms() + o->reader_check_s * 1000;
    int64_t next_metrics = 0;
    const bool repl_on = o->n_replicate > 0;
    while (!__atomic_load_n(o->stop,
                            __ATOMIC_ACQUIRE)) { /* a signal handler or another thread sets it */
        int ni = 0;
        items[ni++] = (zmq_pollitem_t){NULL, o->wake_fd, o->wake_fd >= 0 ? ZMQ_POLLIN : 0, 0};
        items[ni++] = (zmq_pollitem_t){r->ss[S_INGEST].sock, 0, ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){r->ss[S_SNAP].sock, 0, ZMQ_POLLIN, 0};
        /* without --replicate the replication socket has no endpoint: neither
         * it nor its monitor is polled (each socket polled costs every round
         * two system calls, on the one-event ack's path too) */
        items[ni++] =
            (zmq_pollitem_t){repl_on ? r->ss[S_REPL].sock : NULL, -1, repl_on ? ZMQ_POLLIN : 0, 0};
        items[ni++] = (zmq_pollitem_t){r->follow ? ct_follow_socket(r->follow) : NULL, -1,
                                       r->follow ? ZMQ_POLLIN : 0, 0};
        const int mon0 = ni;
        for (int i = 0; i < S_N; i++)
            if (i != S_REPL || repl_on)
                items[ni++] = (zmq_pollitem_t){r->ss[i].mon, 0, ZMQ_POLLIN, 0};
        int64_t now = ct_monotonic_ms();
        int64_t due = next_hb < next_stats ? next_hb : next_stats;
        if (next_rc < due) due = next_rc;
        if (now + 200 < due) due = now + 200;                            /* replication timers */
        if (r->follow && ct_follow_apply_due(r->follow, now)) due = now; /* counting */
        long timeout = due > now ? (long)(due - now) : 0;
        int n =
            zmq_poll(o->wake_fd >= 0 ? items : items + 1, o->wake_fd >= 0 ? ni : ni - 1, timeout);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "zmq_poll failed: %s", zmq_strerror(errno));
            return CT_ERR_IO;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char buf[64];
            while (read(o->wake_fd, buf, sizeof buf) > 0) {
            }
        }
        ct_notify_watchdog();
        if (*o->reload) {
            *o->reload = 0;
            ct_notify_reloading();
            reload_auth(o, &r->ss[S_FEED]);
            ct_notify_ready("reloaded");
        }
        if (o->elect) {
            ct_err ge = ct_aggregator_group_tick(r, ct_monotonic_ms(), err, errlen);
            if (ge) return ge;
        }
        bool may_act = !o->elect || r->accepting;
        /* followers' requests and reports first (the acks of this round carry
         * the safe watermark they move), and again after the round's commit:
         * one that came in during it is answered without waiting a round */
        bool serve_repl = o->n_replicate && may_act && !r->follow;
        if (serve_repl) {
            ct_repl_serve(r->repl, ct_monotonic_ms());
            push_safe(r); /* before the round's commit, not after it */
        }
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            if (r->follow || !may_act) {
                refuse_submits(r);
            } else {
                ct_ingest_set_safe(r->ing, ct_repl_safe(r->repl));
                ingest_round(r);
            }
        }
        if (n > 0 && (items[2].revents & ZMQ_POLLIN)) ct_feed_serve_snapshots(r->feed);
        if (serve_repl) {
            ct_repl_serve(r->repl, ct_monotonic_ms());
        } else if (n > 0 && (items[3].revents & ZMQ_POLLIN)) {
            if (may_act)
                ct_repl_serve(r->repl, ct_monotonic_ms());
            else
                ct_repl_refuse(r->repl, CT_ERR_NOT_PRIMARY);
        }
        if (n > 0 && r->follow && (items[4].revents & ZMQ_POLLIN)) {
            ct_err fe = ct_aggregator_follow_round(r, err, errlen);
            if (fe && o->elect) fe = ct_aggregator_group_follow_error(r, fe, err);
            if (fe) return fe;
        }
        for (int i = mon0; i < ni; i++)
            if (n > 0 && (items[i].revents & ZMQ_POLLIN))
                ct_server_drain_monitor(&r->ss[i - mon0], &r->cs); /* S_REPL is the last */
        now = ct_monotonic_ms();
        if (may_act) ct_repl_tick(r->repl, now);
        if (serve_repl) push_safe(r);
        if (r->follow) {
            ct_follow_tick(r->follow, now);
            if (!ct_follow_waiting(r->follow)) {
                ct_err fe = ct_aggregator_follow_apply(r, err, errlen);
                if (fe && o->elect) fe = ct_aggregator_group_follow_error(r, fe, err);
                if (fe) return fe;
            }
        }
        if (now >= next_hb) {
            ct_feed_heartbeat(r->feed, r->head_seq, r->head, ct_now_ms());
            next_hb = now + 1000;
        }
        if (o->metrics && now >= next_metrics) {
            ct_aggregator_metrics_publish(r, now);
            next_metrics = now + METRICS_PUBLISH_MS;
        }
        if (now >= next_rc) {
            reader_check(o->store);
            next_rc = now + o->reader_check_s * 1000;
        }
        if (now >= next_stats) {
            ct_aggregator_log_stats(ct_ingest_get_stats(r->ing), &mark, &r->cs, r->head_seq,
                                    o->auth == NULL, o->auth, ct_feed_get_stats(r->feed));
            if (o->elect) ct_aggregator_log_group_stats(r, now);
            ct_aggregator_log_repl_stats(r, now);
            next_stats = now + (int64_t)(o->stats_interval * 1000);
        }
    }
    return CT_OK;
}

ct_err ct_aggregator_run(const ct_aggregator_opts *o, char *err, size_t errlen)
{
    assert(o->stop && o->reload && o->store && o->campaign && o->zctx);
    assert(!o->auth == !o->kp);
    ct_aggregator_state r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.cs.max = o->max_connections;
    ct_counts_init(&r.changed);
    ct_err e = CT_OK;

    static const char *const what[S_N] = {"ingest", "feed", "snapshot", "replicate"};
    const int types[S_N] = {ZMQ_ROUTER, ZMQ_PUB, ZMQ_ROUTER, ZMQ_ROUTER};
    const char *const domains[S_N] = {CT_ZAP_DOMAIN_INGEST, CT_ZAP_DOMAIN_READ, CT_ZAP_DOMAIN_READ,
                                      CT_ZAP_DOMAIN_REPLICATE};
    const char *const *eps[S_N] = {o->ingest, o->feed, o->snapshot, o->replicate};
    /* a follower takes no events: its ingest socket answers every submit
     * with "err" not_primary, so a collector given a list of endpoints moves
     * on at once */
    const size_t neps[S_N] = {o->n_ingest, o->n_feed, o->n_snapshot, o->n_replicate};
    for (int k = 0; k < S_N; k++) {
        ct_server_opts so = {.type = types[k],
                             .what = what[k],
                             .kp = o->kp,
                             .domain = domains[k],
                             .handshake_ivl_ms = (int)o->handshake_ivl_ms,
                             .sndhwm = (int)o->feed_hwm,
                             .eps = eps[k],
                             .n_eps = neps[k]};
        if ((e = ct_server_open(o->zctx, &so, &r.ss[k], err, errlen))) goto out;
    }
    {
        int one = 1; /* a follower that reconnects under its routing id takes over */
        zmq_setsockopt(r.ss[S_REPL].sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    }
    uint64_t epoch = 1;
    if ((e = ct_offices_create(&r.offices))) {
        snprintf(err, errlen, "office table: %s", ct_err_str(e));
        goto out;
    }
    if ((e = ct_store_epoch(o->store, &epoch))) {
        snprintf(err, errlen, "cannot read the store's epoch: %s", ct_err_str(e));
        goto out;
    }
    ct_ingest_opts io = {.campaign = o->campaign,
                         .store = o->store,
                         .auth = o->auth,
                         .batch_max = o->batch_max,
                         .no_future_check = o->no_future_check,
                         .sync_followers = o->sync_followers,
                         .epoch = epoch,
                         .offices = r.offices};
    r.epoch = epoch ? epoch : 1;
    if ((e = ct_ingest_create(&io, &r.ing))) {
        snprintf(err, errlen, "ingest: %s", ct_err_str(e));
        goto out;
    }
    if ((e = ct_feed_create(o->store, o->auth, r.ss[S_FEED].sock, r.ss[S_SNAP].sock, &r.feed))) {
        snprintf(err, errlen, "feed: %s", ct_err_str(e));
        goto out;
    }
    ct_feed_set_campaign(r.feed, o->campaign->id, o->campaign->fingerprint);
    ct_feed_set_status(r.feed, ct_aggregator_fill_status, &r);
    ct_repl_opts ro = {.store = o->store,
                       .auth = o->auth,
                       .sock = r.ss[S_REPL].sock,
                       .sync_k = o->sync_followers,
                       .campaign = o->campaign,
                       .data = o->data,
                       .test_flip_seq = o->test_flip_seq,
                       .test_no_ahead = o->test_no_ahead};
    if ((e = ct_repl_create(&ro, &r.repl))) {
        snprintf(err, errlen, "replication: %s", ct_err_str(e));
        goto out;
    }
    if (o->follow && (e = ct_aggregator_start_follow(&r, o->follow, err, errlen))) goto out;
    if (o->rejoin_to && o->rejoin_to_len) o->rejoin_to[0] = 0;
    if (!o->follow && !o->elect && (e = ct_store_ship_apply_all(o->store, o->campaign, NULL))) {
        snprintf(err, errlen, "cannot count the records received as a follower: %s", ct_err_str(e));
        goto out;
    }
    ct_store_head(o->store, &r.head_seq, r.head);
    {
        uint8_t rh[CT_LOGREC_HASH_LEN];
        if (ct_store_ship_head(o->store, &r.rx_seq, rh) != CT_OK) r.rx_seq = r.head_seq;
    }
    for (int i = 0; !o->auth && i < 3; i++)
        ct_log(CT_LOG_WARN,
               "INSECURE MODE: no CurveZMQ encryption, no authentication, no per-district "
               "authorization. Anyone who can reach the endpoints can read the feed and "
               "inject events. Use --keys/--auth in production.",
               NULL);
    char hh[2 * CT_LOGREC_HASH_LEN + 1];
    ct_hash_hex(r.head, hh);
    ct_log(CT_LOG_INFO, "ready",
           "campaign=%s data=%s ingest=%s feed=%s snapshot=%s security=%s head_seq=%llu "
           "head=%s batch_max=%zu max_connections=%ld epoch=%llu pid=%ld",
           o->campaign->id, o->data, o->ingest[0], o->feed[0], o->snapshot[0],
           o->auth ? "curve" : "INSECURE", (unsigned long long)r.head_seq, hh, o->batch_max,
           o->max_connections, (unsigned long long)epoch, (long)getpid());
    if (o->elect)
        ct_log(CT_LOG_INFO,
               "group: takes no events until the election (etcd) makes it the leader; follows "
               "the leader meanwhile",
               "advertise=%s head_seq=%llu epoch=%llu", o->advertise,
               (unsigned long long)r.head_seq, (unsigned long long)epoch);
    else if (o->follow)
        ct_log(CT_LOG_INFO, "replication: follower; takes no events, serves the feed and snapshots",
               "primary=%s head_seq=%llu", o->follow, (unsigned long long)r.head_seq);
    else if (o->sync_followers == 0)
        ct_log(CT_LOG_INFO,
               "replication: safe equals committed (--sync-followers 0): an ack means the event "
               "is on this machine's disk only",
               "replicate=%s", o->n_replicate ? o->replicate[0] : "none");
    else
        ct_log(CT_LOG_INFO,
               "replication: safe = fsynced here and by followers; collectors keep acked events "
               "until safe covers them",
               "sync_followers=%zu replicate=%s", o->sync_followers,
               o->n_replicate ? o->replicate[0] : "none");
    ct_notify_ready(o->elect    ? "group member: waiting for the election"
                    : o->follow ? "following the primary"
                                : "accepting events");
    e = loop(&r, err, errlen);
    ct_notify_stopping();
    /* a follower stopped on purpose counts what it received (not with an
     * apply delay, which asks for the wait) */
    if (!e && r.follow && o->apply_delay_ms == 0 && ct_store_ship_pending(o->store))
        (void)ct_aggregator_apply_all(&r);
    const ct_ingest_stats *s = ct_ingest_get_stats(r.ing);
    ct_log(CT_LOG_INFO, "stopping", "accepted=%llu duplicates=%llu rejected=%llu head_seq=%llu",
           (unsigned long long)s->accepted, (unsigned long long)s->duplicates,
           (unsigned long long)s->rejected, (unsigned long long)r.head_seq);
out:
    /* ingest sockets get a short linger so the last acks leave */
    for (int k = 0; k < S_N; k++)
        ct_server_close(&r.ss[k], k == S_INGEST ? 1000 : 0);
    ct_follow_free(r.follow);
    ct_repl_free(r.repl);
    ct_feed_free(r.feed);
    ct_ingest_free(r.ing);
    ct_offices_free(r.offices);
    ct_counts_free(&r.changed);
    return e;
}
