/* ct_aggregator.c — the aggregator's poll loop and timers (see
 * ct_aggregator.h).
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

enum { S_INGEST = 0, S_FEED = 1, S_SNAP = 2, S_REPL = 3, S_N = 4 };

/* The /metrics figures are handed over this often. */
#define METRICS_PUBLISH_MS 250

/* An alert when safe has not moved for this long while committed is ahead. */
#define SAFE_STALL_ALERT_MS 5000
/* a follower counts after at most this many receipts in a row */
#define FOLLOW_APPLY_EVERY 4

typedef struct {
    int64_t t_ms;
    ct_ingest_stats in;
} stats_mark;

static void log_stats(const ct_ingest_stats *s, stats_mark *prev, const ct_server_conns *cs,
                      uint64_t head_seq, bool insecure, ct_auth *auth, const ct_feed_stats *fs)
{
    int64_t now = ct_monotonic_ms();
    double dt = (double)(now - prev->t_ms) / 1000.0;
    if (dt <= 0) dt = 1;
    uint64_t ev = s->events - prev->in.events;
    uint64_t batches = s->batches - prev->in.batches;
    uint64_t commits = s->commits - prev->in.commits;
    char rej[512] = "";
    size_t rl = 0;
    for (int c = 0; c < CT_INGEST_MAX_CODES; c++) {
        if (!s->rejects_by_code[c]) continue;
        int w = snprintf(rej + rl, sizeof rej - rl, "%s%s:%llu", rl ? "," : "", ct_err_name(c),
                         (unsigned long long)s->rejects_by_code[c]);
        if (w < 0 || (size_t)w >= sizeof rej - rl) break;
        rl += (size_t)w;
    }
    uint64_t zok = 0, zden = 0;
    if (auth) ct_auth_zap_stats(auth, &zok, &zden);
    ct_log(insecure ? CT_LOG_WARN : CT_LOG_INFO, "stats",
           "events_per_s=%.0f accepted_per_s=%.0f batches=%llu batch_avg=%.1f batch_max=%llu "
           "commits_per_s=%.1f commit_ms_avg=%.2f round_ms_avg=%.2f accepted=%llu duplicates=%llu "
           "rejected=%llu rejects=\"%s\" "
           "retry=%llu bad_messages=%llu commit_failures=%llu acks_undeliverable=%llu "
           "peers=%ld conn_refused=%llu auth_ok=%llu auth_denied=%llu snapshots=%llu "
           "head_seq=%llu%s",
           (double)ev / dt, (double)(s->accepted - prev->in.accepted) / dt,
           (unsigned long long)batches, batches ? (double)ev / (double)batches : 0.0,
           (unsigned long long)s->batch_max_seen, (double)commits / dt,
           commits ? (double)(s->commit_ns - prev->in.commit_ns) / 1e6 / (double)commits : 0.0,
           batches ? (double)(s->round_ns - prev->in.round_ns) / 1e6 / (double)batches : 0.0,
           (unsigned long long)s->accepted, (unsigned long long)s->duplicates,
           (unsigned long long)s->rejected, rej, (unsigned long long)s->retry,
           (unsigned long long)s->bad_messages, (unsigned long long)s->commit_failures,
           (unsigned long long)s->acks_undeliverable, cs->open, (unsigned long long)cs->refused,
           (unsigned long long)zok, (unsigned long long)zden, (unsigned long long)fs->snapshots,
           (unsigned long long)head_seq,
           insecure ? " INSECURE=1 (no CurveZMQ, no authorization)" : "");
    prev->t_ms = now;
    prev->in = *s;
}

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

/* State of one run: everything the loop reads and writes. */
typedef struct {
    const ct_aggregator_opts *o;
    ct_server_sock ss[S_N];
    ct_server_conns cs;
    ct_ingest *ing;
    ct_feed *feed;
    ct_repl *repl;
    ct_follow *follow; /* a follower's client; NULL for a primary */
    ct_offices *offices;
    uint64_t epoch;
    ct_wire_follower sta_fl[CT_REPL_MAX_FOLLOWERS]; /* the last "sta"'s followers */
    ct_counts changed;
    uint64_t head_seq; /* H: the counted head (the log's) */
    uint8_t head[CT_LOGREC_HASH_LEN];
    uint64_t rx_seq; /* R: the received head (>= H; = H for a primary) */
    unsigned receipts_since_apply;
    bool store_failing;
    int64_t last_fail_log;
    uint64_t refused_submits;                  /* a follower's "err" not_primary answers */
    uint64_t m_events, m_commits, m_commit_ns; /* ingest stats at the last round */
    /* group mode: whether this member takes events now, the endpoint it
     * follows, the last election view, and a leader epoch whose endpoint
     * answered stale_epoch (not followed again) */
    bool accepting;
    char follow_ep[CT_ETCD_VALUE_MAX + 1];
    ct_elect_view gv;
    uint64_t bad_leader_epoch;
    int64_t readonly_log_ms; /* last "not accepting" line, 0 = accepting */
    uint64_t promotions, demotions;
} run_state;

/* One round into the /metrics histograms: its events and its commit. */
static void metrics_round(run_state *r)
{
    const ct_ingest_stats *s = ct_ingest_get_stats(r->ing);
    uint64_t commit_ns = s->commits > r->m_commits ? s->commit_ns - r->m_commit_ns : 0;
    ct_metrics_http_observe(r->o->metrics, s->events - r->m_events, commit_ns);
    r->m_events = s->events;
    r->m_commits = s->commits;
    r->m_commit_ns = s->commit_ns;
}

/* Everything else /metrics shows, handed over as a whole. */
static void metrics_publish(run_state *r, int64_t now)
{
    ct_metrics_http_state st;
    memset(&st, 0, sizeof st);
    st.ingest = *ct_ingest_get_stats(r->ing);
    st.open_connections = r->cs.open;
    st.connections_refused = r->cs.refused;
    st.log_seq = r->head_seq;
    const ct_feed_stats *fs = ct_feed_get_stats(r->feed);
    st.feed_updates = fs->updates;
    st.snapshots = fs->snapshots;
    if (r->o->elect) {
        const ct_elect_view *v = &r->gv;
        st.group = true;
        st.group_role = (int)v->role;
        st.group_accepting = r->accepting;
        st.group_epoch = v->epoch;
        st.group_since_ms = v->since_ms;
        st.group_lease_left_ms = v->lease_ok_until_ms > now ? v->lease_ok_until_ms - now : 0;
        st.group_etcd_ok = v->etcd_ok;
        st.group_leader_changes = v->leader_changes;
        snprintf(st.group_leader, sizeof st.group_leader, "%s", v->leader);
    }
    if (r->follow) {
        const ct_follow_stats *ws = ct_follow_get_stats(r->follow);
        st.follower = true;
        st.replication_lag_records =
            ws->primary_committed > ws->head_seq ? ws->primary_committed - ws->head_seq : 0;
        st.primary_connected = ws->connected;
        st.received_seq = ws->head_seq;
        st.apply_lag_ms = ct_follow_apply_lag_ms(r->follow, now);
    } else if (r->o->n_replicate && (!r->o->elect || r->accepting)) {
        st.primary = true;
        st.committed = ct_repl_committed_seq(r->repl);
        st.safe = ct_repl_safe(r->repl);
        st.safe_stalled_ms = ct_repl_safe_stalled_ms(r->repl, now);
        st.n_followers = ct_repl_followers(r->repl, now, st.followers, CT_REPL_MAX_FOLLOWERS);
        if (st.n_followers > CT_REPL_MAX_FOLLOWERS) st.n_followers = CT_REPL_MAX_FOLLOWERS;
    }
    ct_metrics_http_set(r->o->metrics, &st);
}

/* The "sta" a reporter asks for (PROTOCOL.md §3.6): replication state as
 * the stats line and /metrics show it, and the offices' telemetry. */
static void fill_status(void *ctx, ct_wire_status *st)
{
    run_state *r = ctx;
    int64_t now = ct_monotonic_ms();
    st->time_ms = ct_now_ms();
    st->epoch = r->epoch;
    st->committed = st->safe = r->head_seq;
    if (r->follow) {
        const ct_follow_stats *ws = ct_follow_get_stats(r->follow);
        st->follower = true;
        if (ws->epoch) st->epoch = ws->epoch;
        st->safe = ws->primary_safe < r->head_seq ? ws->primary_safe : r->head_seq;
    } else if (r->o->n_replicate && (!r->o->elect || r->accepting)) {
        ct_repl_follower_view v[CT_REPL_MAX_FOLLOWERS];
        size_t n = ct_repl_followers(r->repl, now, v, CT_REPL_MAX_FOLLOWERS);
        if (n > CT_REPL_MAX_FOLLOWERS) n = CT_REPL_MAX_FOLLOWERS;
        st->committed = ct_repl_committed_seq(r->repl);
        st->safe = ct_repl_safe(r->repl);
        if (st->safe > st->committed) st->safe = st->committed;
        st->sync_k = r->o->sync_followers;
        st->stalled_ms = ct_repl_safe_stalled_ms(r->repl, now);
        if (st->stalled_ms < 0) st->stalled_ms = 0;
        st->alert = r->o->sync_followers > 0 && st->stalled_ms >= SAFE_STALL_ALERT_MS;
        for (size_t i = 0; i < n; i++) {
            ct_wire_follower *w = &r->sta_fl[i];
            size_t idl = strnlen(v[i].id, sizeof v[i].id);
            if (idl > CT_STATUS_FOLLOWER_ID_MAX) idl = CT_STATUS_FOLLOWER_ID_MAX;
            memcpy(w->id, v[i].id, idl);
            w->id[idl] = '\0';
            if (idl == 0) snprintf(w->id, sizeof w->id, "-");
            w->acked = v[i].acked;
            w->lag_records = v[i].lag_records;
            w->lag_ms = v[i].lag_ms > 0 ? v[i].lag_ms : 0;
            w->silent_ms = v[i].silent_ms > 0 ? v[i].silent_ms : 0;
            w->applied = v[i].applied;
            w->apply_lag_records = v[i].apply_lag_records;
            w->apply_lag_ms = v[i].apply_lag_ms > 0 ? v[i].apply_lag_ms : 0;
        }
        st->followers = r->sta_fl;
        st->n_followers = n;
    }
    st->offices = ct_offices_list(r->offices, &st->n_offices);
    if (r->o->elect)
        ct_group_status_fill(
            &r->gv, ct_elect_group(r->o->elect), r->o->advertise, r->head_seq, r->accepting,
            r->o->n_replicate && r->accepting && !r->follow ? r->repl : NULL, now, &st->group);
}

static void ingest_round(run_state *r)
{
    ct_store_commit cm = {.changed = &r->changed};
    ct_err cerr = CT_OK;
    size_t got = 0;
    void *socks[1] = {r->ss[S_INGEST].sock};
    ct_ingest_batch(r->ing, socks, 1, &cm, &cerr, &got);
    if (r->o->metrics) metrics_round(r);
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
static void refuse_submits(run_state *r)
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

/* A follower: one apply of received records, published like a commit.
 * CT_ERR_CHAIN ends the run. */
static ct_err follow_apply(run_state *r, char *err, size_t errlen)
{
    ct_store_commit cm = {.changed = &r->changed};
    ct_err e = ct_follow_apply(r->follow, ct_monotonic_ms(), &cm, err, errlen);
    if (e) return e;
    if (cm.seq_after > cm.seq_before) {
        r->head_seq = cm.seq_after;
        memcpy(r->head, cm.head, sizeof r->head);
        ct_feed_update(r->feed, &cm, ct_now_ms());
        if (!r->o->elect) ct_repl_committed(r->repl, cm.seq_after, cm.head, ct_monotonic_ms());
    }
    return CT_OK;
}

/* A follower: batches from the primary, made durable (a receipt) and
 * reported; then counted: at once when no batch waits on the socket, and
 * after every FOLLOW_APPLY_EVERY receipts otherwise, so that counting
 * keeps up under a constant stream. CT_ERR_CHAIN ends the run. */
static ct_err follow_round(run_state *r, char *err, size_t errlen)
{
    bool received = false;
    ct_err e = ct_follow_on_readable(r->follow, &received, err, errlen);
    if (e) return e;
    r->rx_seq = ct_follow_get_stats(r->follow)->head_seq;
    if (received) r->receipts_since_apply++;
    if (ct_follow_waiting(r->follow) && r->receipts_since_apply < FOLLOW_APPLY_EVERY) return CT_OK;
    r->receipts_since_apply = 0;
    return follow_apply(r, err, errlen);
}

/* The lease as words: sure (may lead), unsure (held, past the margin), none. */
static const char *lease_state(const ct_elect_view *v, int64_t now)
{
    if (ct_elect_may_lead(v, now)) return "sure";
    return v->role == CT_ELECT_LEADER ? "unsure" : v->lease_ok_until_ms ? "held" : "none";
}

/* Group mode: the election's part of the stats line. */
static void log_group_stats(run_state *r, int64_t now)
{
    const ct_elect_view *v = &r->gv;
    char since[40] = "-";
    if (v->since_ms) ct_time_format(v->since_ms, 0, since, sizeof since);
    ct_log(r->accepting || r->follow ? CT_LOG_INFO : CT_LOG_WARN, "group",
           "role=%s accepting=%s leader=%s epoch=%llu since=%s lease=%s lease_left_ms=%lld "
           "etcd=%s etcd_silent_ms=%lld etcd_error=\"%s\" leader_changes=%llu promotions=%llu "
           "demotions=%llu%s",
           ct_elect_role_name(v->role), r->accepting ? "yes" : "no", v->leader[0] ? v->leader : "-",
           (unsigned long long)v->epoch, since, lease_state(v, now),
           (long long)(v->lease_ok_until_ms > now ? v->lease_ok_until_ms - now : 0),
           v->etcd_ok ? "ok" : "unreachable", (long long)v->etcd_silent_ms, v->etcd_err,
           (unsigned long long)v->leader_changes, (unsigned long long)r->promotions,
           (unsigned long long)r->demotions,
           r->accepting || r->follow ? "" : " READ-ONLY=1 (not taking events)");
}

/* The replication part of the stats line (and the stall alert). */
static void log_repl_stats(run_state *r, int64_t now)
{
    const ct_aggregator_opts *o = r->o;
    if (r->follow) {
        const ct_follow_stats *fs = ct_follow_get_stats(r->follow);
        uint64_t lag =
            fs->primary_committed > fs->head_seq ? fs->primary_committed - fs->head_seq : 0;
        ct_log(CT_LOG_INFO, "replication",
               "role=follower primary=%s connected=%s head_seq=%llu applied_seq=%llu "
               "apply_lag_records=%llu apply_lag_ms=%lld primary_committed=%llu "
               "primary_safe=%llu lag_records=%llu batches=%llu records=%llu empty_batches=%llu "
               "stale_batches=%llu store_failures=%llu epoch=%llu refused_submits=%llu",
               r->follow_ep, fs->connected ? "yes" : "no", (unsigned long long)fs->head_seq,
               (unsigned long long)fs->applied_seq,
               (unsigned long long)(fs->head_seq - fs->applied_seq),
               (long long)ct_follow_apply_lag_ms(r->follow, now),
               (unsigned long long)fs->primary_committed, (unsigned long long)fs->primary_safe,
               (unsigned long long)lag, (unsigned long long)fs->batches,
               (unsigned long long)fs->records, (unsigned long long)fs->empty_batches,
               (unsigned long long)fs->stale_batches, (unsigned long long)fs->store_failures,
               (unsigned long long)fs->epoch, (unsigned long long)r->refused_submits);
        return;
    }
    if (!o->n_replicate || (o->elect && !r->accepting)) return;
    ct_repl_follower_view v[CT_REPL_MAX_FOLLOWERS];
    size_t n = ct_repl_followers(r->repl, now, v, CT_REPL_MAX_FOLLOWERS);
    char det[4096] = "";
    size_t dl = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(det + dl, sizeof det - dl,
                         "%s%s:acked=%llu:applied=%llu:lag_records=%llu:lag_ms=%lld:silent_ms=%lld",
                         dl ? "," : "", v[i].id, (unsigned long long)v[i].acked,
                         (unsigned long long)v[i].applied, (unsigned long long)v[i].lag_records,
                         (long long)v[i].lag_ms, (long long)v[i].silent_ms);
        if (w < 0 || (size_t)w >= sizeof det - dl) break;
        dl += (size_t)w;
    }
    uint64_t c = ct_repl_committed_seq(r->repl), sf = ct_repl_safe(r->repl);
    int64_t stalled = ct_repl_safe_stalled_ms(r->repl, now);
    ct_log(CT_LOG_INFO, "replication",
           "role=primary committed=%llu safe=%llu unsafe_records=%llu sync_followers=%zu "
           "followers=%zu safe_stalled_ms=%lld detail=\"%s\"",
           (unsigned long long)c, (unsigned long long)sf, (unsigned long long)(c - sf),
           o->sync_followers, n, (long long)stalled, det);
    if (o->sync_followers > 0 && stalled >= SAFE_STALL_ALERT_MS)
        ct_log(CT_LOG_WARN, "ALERT: safe watermark stalled while committed moves",
               "committed=%llu safe=%llu stalled_ms=%lld sync_followers=%zu followers=%zu "
               "hint=\"a follower is down, behind or refused; acked events stay in the "
               "collectors' outboxes until it catches up\"",
               (unsigned long long)c, (unsigned long long)sf, (long long)stalled, o->sync_followers,
               n);
}

/* A follower's client towards endpoint. */
static ct_err start_follow(run_state *r, const char *endpoint, char *err, size_t errlen)
{
    const ct_aggregator_opts *o = r->o;
    ct_follow_opts fo = {.store = o->store,
                         .campaign = o->campaign,
                         .zctx = o->zctx,
                         .endpoint = endpoint,
                         .data = o->data,
                         .kp = o->kp,
                         .primary_key_z85 = o->primary_key_z85,
                         .apply_delay_ms = o->apply_delay_ms};
    snprintf(r->follow_ep, sizeof r->follow_ep, "%s", endpoint);
    return ct_follow_create(&fo, &r->follow, err, errlen);
}

/* Every received record counted, each apply published on the feed
 * (before this member serves as primary). */
static ct_err apply_all(run_state *r)
{
    ct_err e = CT_OK;
    uint64_t bad = 0, total = ct_store_ship_pending(r->o->store), last_log = 0;
    while (!e && ct_store_ship_pending(r->o->store)) {
        ct_store_commit cm = {.changed = &r->changed};
        e = ct_store_ship_apply(r->o->store, r->o->campaign, CT_STORE_SHIP_CHUNK, INT64_MAX, &cm,
                                &bad);
        if (!e && cm.seq_after <= cm.seq_before) e = CT_ERR_INTERNAL; /* no progress */
        if (e) break;
        r->head_seq = cm.seq_after;
        memcpy(r->head, cm.head, sizeof r->head);
        ct_feed_update(r->feed, &cm, ct_now_ms());
        if (cm.seq_after - last_log >= 100000) {
            ct_log(CT_LOG_INFO, "counting the received records before serving as primary",
                   "head_seq=%llu received=%llu", (unsigned long long)cm.seq_after,
                   (unsigned long long)total);
            last_log = cm.seq_after;
        }
    }
    if (e)
        ct_log(CT_LOG_ERROR, "cannot count the received records", "err=%s seq=%llu detail=\"%s\"",
               ct_err_name(e), (unsigned long long)bad, ct_store_last_error(r->o->store));
    else
        r->rx_seq = r->head_seq;
    return e;
}

/* Group mode: the member wins. Every record already received is applied
 * first, then the group's epoch is written in the store, and only then
 * does it take events and serve followers. */
static void become_primary(run_state *r, uint64_t epoch)
{
    const ct_aggregator_opts *o = r->o;
    char err[512] = "";
    if (r->follow) { /* what is already in the socket is received first */
        for (int i = 0; i < 64; i++) {
            zmq_pollitem_t it = {ct_follow_socket(r->follow), 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, 0) <= 0) break;
            uint64_t before = r->rx_seq;
            bool received = false;
            if (ct_follow_on_readable(r->follow, &received, err, sizeof err) != CT_OK) break;
            r->rx_seq = ct_follow_get_stats(r->follow)->head_seq;
            if (r->rx_seq == before) break;
        }
        ct_follow_free(r->follow);
        r->follow = NULL;
        r->follow_ep[0] = 0;
    }
    /* then every received record is counted: never primary with some not */
    ct_err e = apply_all(r);
    if (!e) e = ct_store_promote_to(o->store, epoch);
    if (e) {
        ct_log(CT_LOG_ERROR,
               "group: cannot write the group's epoch; not taking events, giving the leadership up",
               "err=%s epoch=%llu store_epoch=%llu", ct_err_name(e), (unsigned long long)epoch,
               (unsigned long long)r->epoch);
        ct_elect_resign(o->elect);
        return;
    }
    ct_repl *nr = NULL;
    ct_repl_opts ro = {.store = o->store,
                       .auth = o->auth,
                       .sock = r->ss[S_REPL].sock,
                       .sync_k = o->sync_followers,
                       .campaign = o->campaign,
                       .test_flip_seq = o->test_flip_seq,
                       .test_no_ahead = o->test_no_ahead};
    if ((e = ct_repl_create(&ro, &nr))) {
        ct_log(CT_LOG_ERROR, "group: replication state", "err=%s", ct_err_name(e));
        return;
    }
    ct_repl_free(r->repl);
    r->repl = nr;
    r->epoch = epoch;
    ct_ingest_set_epoch(r->ing, epoch);
    r->accepting = true;
    r->readonly_log_ms = 0;
    r->promotions++;
    char hh[2 * CT_LOGREC_HASH_LEN + 1];
    ct_hash_hex(r->head, hh);
    ct_log(CT_LOG_INFO, "group: primary: taking events", "group_epoch=%llu head_seq=%llu head=%s",
           (unsigned long long)epoch, (unsigned long long)r->head_seq, hh);
    ct_notify_ready("primary (group leader)");
}

/* R: what is durable here, counted or not (the head a group compares). */
static uint64_t received_seq(const run_state *r)
{
    if (r->follow) return ct_follow_get_stats(r->follow)->head_seq;
    return r->rx_seq > r->head_seq ? r->rx_seq : r->head_seq;
}

/* Group mode: the role the election says, at most one change per call. */
static ct_err group_tick(run_state *r, int64_t now, char *err, size_t errlen)
{
    const ct_aggregator_opts *o = r->o;
    if (r->follow && ct_follow_get_stats(r->follow)->epoch > r->epoch)
        r->epoch = ct_follow_get_stats(r->follow)->epoch; /* adopted from the leader */
    ct_elect_set_store(o->elect, received_seq(r), r->epoch);
    ct_elect_get(o->elect, &r->gv);
    const ct_elect_view *v = &r->gv;
    if (ct_elect_may_lead(v, now)) {
        if (v->epoch != r->epoch || !r->accepting) {
            if (v->epoch == r->epoch) { /* the same leadership: the lease is sure again */
                r->accepting = true;
                r->readonly_log_ms = 0;
                ct_log(CT_LOG_INFO, "group: lease sure again; taking events", "group_epoch=%llu",
                       (unsigned long long)r->epoch);
            } else {
                become_primary(r, v->epoch);
            }
        }
        return CT_OK;
    }
    if (r->accepting) {
        r->accepting = false;
        r->demotions++;
        ct_log(CT_LOG_WARN,
               "group: not taking events and not shipping: this member's leadership lease is "
               "not sure (etcd unreachable, lease lost, or another leader)",
               "group_epoch=%llu role=%s etcd=%s detail=\"%s\"", (unsigned long long)r->epoch,
               ct_elect_role_name(v->role), v->etcd_ok ? "ok" : "unreachable", v->etcd_err);
        r->readonly_log_ms = now;
    }
    if (v->role == CT_ELECT_FOLLOWER && v->leader[0] && v->epoch != r->bad_leader_epoch &&
        !(o->advertise && strcmp(v->leader, o->advertise) == 0) &&
        (!r->follow || strcmp(r->follow_ep, v->leader) != 0)) {
        ct_follow_free(r->follow);
        r->follow = NULL;
        ct_err e = start_follow(r, v->leader, err, errlen);
        if (e) return e;
        ct_log(CT_LOG_INFO, "group: following the leader", "leader=%s group_epoch=%llu", v->leader,
               (unsigned long long)v->epoch);
        ct_notify_ready("following the group leader");
    }
    if (!r->follow && r->readonly_log_ms && now - r->readonly_log_ms >= 5000) {
        ct_log(CT_LOG_WARN, "group: read-only: no leader to follow and not leading",
               "role=%s etcd=%s etcd_silent_ms=%lld detail=\"%s\"", ct_elect_role_name(v->role),
               v->etcd_ok ? "ok" : "unreachable", (long long)v->etcd_silent_ms, v->etcd_err);
        r->readonly_log_ms = now;
    }
    return CT_OK;
}

/* Group mode: what a follow error means. CT_OK to go on. */
static ct_err group_follow_error(run_state *r, ct_err fe, const char *err)
{
    const ct_aggregator_opts *o = r->o;
    if (fe == CT_ERR_STALE_EPOCH) { /* that endpoint is not the leader any more */
        ct_log(CT_LOG_WARN, "group: the endpoint followed runs an older epoch; waiting for etcd",
               "endpoint=%s detail=\"%s\"", r->follow_ep, err);
        r->bad_leader_epoch = r->gv.epoch;
        ct_follow_free(r->follow);
        r->follow = NULL;
        r->follow_ep[0] = 0;
        return CT_OK;
    }
    if (fe == CT_ERR_CHAIN && o->rejoin_to) {
        snprintf(o->rejoin_to, o->rejoin_to_len, "%s", r->follow_ep);
        ct_log(CT_LOG_WARN,
               "group: the leader's log does not extend ours (an unsafe tail from a former "
               "leadership): rejoining",
               "leader=%s head_seq=%llu detail=\"%s\"", r->follow_ep,
               (unsigned long long)r->head_seq, err);
    }
    return fe;
}

static ct_err loop(run_state *r, char *err, size_t errlen)
{
    const ct_aggregator_opts *o = r->o;
    zmq_pollitem_t items[5 + S_N];
    stats_mark mark;
    memset(&mark, 0, sizeof mark);
    mark.t_ms = ct_monotonic_ms();
    int64_t next_hb = ct_monotonic_ms() + 1000;
    int64_t next_stats =
        o->stats_interval > 0 ? ct_monotonic_ms() + (int64_t)(o->stats_interval * 1000) : INT64_MAX;
    int64_t next_rc = ct_monotonic_ms() + o->reader_check_s * 1000;
    int64_t next_metrics = 0;
    while (!__atomic_load_n(o->stop,
                            __ATOMIC_ACQUIRE)) { /* a signal handler or another thread sets it */
        int ni = 0;
        items[ni++] = (zmq_pollitem_t){NULL, o->wake_fd, o->wake_fd >= 0 ? ZMQ_POLLIN : 0, 0};
        items[ni++] = (zmq_pollitem_t){r->ss[S_INGEST].sock, 0, ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){r->ss[S_SNAP].sock, 0, ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){r->ss[S_REPL].sock, 0, ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){r->follow ? ct_follow_socket(r->follow) : NULL, -1,
                                       r->follow ? ZMQ_POLLIN : 0, 0};
        const int mon0 = ni;
        for (int i = 0; i < S_N; i++)
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
            ct_err ge = group_tick(r, ct_monotonic_ms(), err, errlen);
            if (ge) return ge;
        }
        bool may_act = !o->elect || r->accepting;
        /* followers' requests and reports first (the acks of this round carry
         * the safe watermark they move), and again after the round's commit:
         * one that came in during it is answered without waiting a round */
        bool serve_repl = o->n_replicate && may_act && !r->follow;
        if (serve_repl) ct_repl_serve(r->repl, ct_monotonic_ms());
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
            ct_err fe = follow_round(r, err, errlen);
            if (fe && o->elect) fe = group_follow_error(r, fe, err);
            if (fe) return fe;
        }
        for (int i = mon0; i < ni; i++)
            if (n > 0 && (items[i].revents & ZMQ_POLLIN))
                ct_server_drain_monitor(&r->ss[i - mon0], &r->cs);
        now = ct_monotonic_ms();
        if (may_act) ct_repl_tick(r->repl, now);
        if (r->follow) {
            ct_follow_tick(r->follow, now);
            if (!ct_follow_waiting(r->follow)) {
                ct_err fe = follow_apply(r, err, errlen);
                if (fe && o->elect) fe = group_follow_error(r, fe, err);
                if (fe) return fe;
            }
        }
        if (now >= next_hb) {
            ct_feed_heartbeat(r->feed, r->head_seq, r->head, ct_now_ms());
            next_hb = now + 1000;
        }
        if (o->metrics && now >= next_metrics) {
            metrics_publish(r, now);
            next_metrics = now + METRICS_PUBLISH_MS;
        }
        if (now >= next_rc) {
            reader_check(o->store);
            next_rc = now + o->reader_check_s * 1000;
        }
        if (now >= next_stats) {
            log_stats(ct_ingest_get_stats(r->ing), &mark, &r->cs, r->head_seq, o->auth == NULL,
                      o->auth, ct_feed_get_stats(r->feed));
            if (o->elect) log_group_stats(r, now);
            log_repl_stats(r, now);
            next_stats = now + (int64_t)(o->stats_interval * 1000);
        }
    }
    return CT_OK;
}

ct_err ct_aggregator_run(const ct_aggregator_opts *o, char *err, size_t errlen)
{
    assert(o->stop && o->reload && o->store && o->campaign && o->zctx);
    assert(!o->auth == !o->kp);
    run_state r;
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
    ct_feed_set_status(r.feed, fill_status, &r);
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
    if (o->follow && (e = start_follow(&r, o->follow, err, errlen))) goto out;
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
        (void)apply_all(&r);
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
