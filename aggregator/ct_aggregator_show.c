/* ct_aggregator_show.c — what an aggregator run shows: the periodic stats
 * line (ingest, group, replication), the figures handed to /metrics and the
 * "sta" a reporter asks for (PROTOCOL.md §3.6).
 *
 * Invariants: these only read the run's state and its parts' stats (the
 * stats mark and the metrics round counters excepted); a follower's view
 * never claims safe above its counted head.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "ct_aggregator_run.h"
#include "ct_group_status.h"
#include "ct_log.h"
#include "ct_metrics_http.h"
#include "ct_time.h"

/* An alert when safe has not moved for this long while committed is ahead. */
#define SAFE_STALL_ALERT_MS 5000

void ct_aggregator_log_stats(const ct_ingest_stats *s, ct_aggregator_stats_mark *prev,
                             const ct_server_conns *cs, uint64_t head_seq, bool insecure,
                             ct_auth *auth, const ct_feed_stats *fs)
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

/* One round into the /metrics histograms: its events and its commit. */
void ct_aggregator_metrics_round(ct_aggregator_state *r)
{
    const ct_ingest_stats *s = ct_ingest_get_stats(r->ing);
    uint64_t commit_ns = s->commits > r->m_commits ? s->commit_ns - r->m_commit_ns : 0;
    ct_metrics_http_observe(r->o->metrics, s->events - r->m_events, commit_ns);
    r->m_events = s->events;
    r->m_commits = s->commits;
    r->m_commit_ns = s->commit_ns;
}

/* Everything else /metrics shows, handed over as a whole. */
void ct_aggregator_metrics_publish(ct_aggregator_state *r, int64_t now)
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
        ct_safe_push_stats ps = ct_ingest_push_stats(r->ing);
        st.safe_pushes = ps.pushes;
        st.safe_push_waiting = ps.waiting;
        st.n_followers = ct_repl_followers(r->repl, now, st.followers, CT_REPL_MAX_FOLLOWERS);
        if (st.n_followers > CT_REPL_MAX_FOLLOWERS) st.n_followers = CT_REPL_MAX_FOLLOWERS;
    }
    ct_metrics_http_set(r->o->metrics, &st);
}

/* The "sta" a reporter asks for (PROTOCOL.md §3.6): replication state as
 * the stats line and /metrics show it, and the offices' telemetry. */
void ct_aggregator_fill_status(void *ctx, ct_wire_status *st)
{
    ct_aggregator_state *r = ctx;
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

/* The lease as words: sure (may lead), unsure (held, past the margin), none. */
static const char *lease_state(const ct_elect_view *v, int64_t now)
{
    if (ct_elect_may_lead(v, now)) return "sure";
    return v->role == CT_ELECT_LEADER ? "unsure" : v->lease_ok_until_ms ? "held" : "none";
}

/* Group mode: the election's part of the stats line. */
void ct_aggregator_log_group_stats(ct_aggregator_state *r, int64_t now)
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
void ct_aggregator_log_repl_stats(ct_aggregator_state *r, int64_t now)
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
    char det[8192] = "";
    size_t dl = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(det + dl, sizeof det - dl,
                         "%s%s:acked=%llu:applied=%llu:lag_records=%llu:lag_ms=%lld:silent_ms=%lld"
                         ":apply_lag_records=%llu:apply_lag_ms=%lld",
                         dl ? "," : "", v[i].id, (unsigned long long)v[i].acked,
                         (unsigned long long)v[i].applied, (unsigned long long)v[i].lag_records,
                         (long long)v[i].lag_ms, (long long)v[i].silent_ms,
                         (unsigned long long)v[i].apply_lag_records, (long long)v[i].apply_lag_ms);
        if (w < 0 || (size_t)w >= sizeof det - dl) break;
        dl += (size_t)w;
    }
    uint64_t c = ct_repl_committed_seq(r->repl), sf = ct_repl_safe(r->repl);
    int64_t stalled = ct_repl_safe_stalled_ms(r->repl, now);
    ct_safe_push_stats ps = ct_ingest_push_stats(r->ing);
    ct_log(CT_LOG_INFO, "replication",
           "role=primary committed=%llu safe=%llu unsafe_records=%llu sync_followers=%zu "
           "followers=%zu safe_stalled_ms=%lld detail=\"%s\" safe_pushes=%llu "
           "push_waiting=%zu push_dropped=%llu push_full=%llu",
           (unsigned long long)c, (unsigned long long)sf, (unsigned long long)(c - sf),
           o->sync_followers, n, (long long)stalled, det, (unsigned long long)ps.pushes, ps.waiting,
           (unsigned long long)ps.dropped, (unsigned long long)ps.full);
    if (o->sync_followers > 0 && stalled >= SAFE_STALL_ALERT_MS)
        ct_log(CT_LOG_WARN, "ALERT: safe watermark stalled while committed moves",
               "committed=%llu safe=%llu stalled_ms=%lld sync_followers=%zu followers=%zu "
               "hint=\"a follower is down, behind or refused; acked events stay in the "
               "collectors' outboxes until it catches up\"",
               (unsigned long long)c, (unsigned long long)sf, (long long)stalled, o->sync_followers,
               n);
}
