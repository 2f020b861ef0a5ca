/* ct_aggregator_roles.c — a follower's rounds (receive, make durable, count)
 * and the group's roles (follow the leader, become primary, step down).
 *
 * Invariants: a member serves as primary only after every record it
 * received is counted and the group's epoch is in its store; a follower
 * counts at once when no batch waits and after at most FOLLOW_APPLY_EVERY
 * receipts in a row otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "ct_aggregator_run.h"
#include "ct_log.h"
#include "ct_notify.h"
#include "ct_store.h"
#include "ct_time.h"

/* a follower counts after at most this many receipts in a row */
#define FOLLOW_APPLY_EVERY 8

/* A follower: one apply of received records, published like a commit.
 * CT_ERR_CHAIN ends the run. */
ct_err ct_aggregator_follow_apply(ct_aggregator_state *r, char *err, size_t errlen)
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
ct_err ct_aggregator_follow_round(ct_aggregator_state *r, char *err, size_t errlen)
{
    bool received = false;
    ct_err e = ct_follow_on_readable(r->follow, &received, err, errlen);
    if (e) return e;
    r->rx_seq = ct_follow_get_stats(r->follow)->head_seq;
    if (received) r->receipts_since_apply++;
    if (ct_follow_waiting(r->follow) && r->receipts_since_apply < FOLLOW_APPLY_EVERY) return CT_OK;
    r->receipts_since_apply = 0;
    return ct_aggregator_follow_apply(r, err, errlen);
}

/* A follower's client towards endpoint. */
ct_err ct_aggregator_start_follow(ct_aggregator_state *r, const char *endpoint, char *err,
                                  size_t errlen)
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
ct_err ct_aggregator_apply_all(ct_aggregator_state *r)
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
static void become_primary(ct_aggregator_state *r, uint64_t epoch)
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
    ct_err e = ct_aggregator_apply_all(r);
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
static uint64_t received_seq(const ct_aggregator_state *r)
{
    if (r->follow) return ct_follow_get_stats(r->follow)->head_seq;
    return r->rx_seq > r->head_seq ? r->rx_seq : r->head_seq;
}

/* Group mode: the role the election says, at most one change per call. */
ct_err ct_aggregator_group_tick(ct_aggregator_state *r, int64_t now, char *err, size_t errlen)
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
        ct_err e = ct_aggregator_start_follow(r, v->leader, err, errlen);
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
ct_err ct_aggregator_group_follow_error(ct_aggregator_state *r, ct_err fe, const char *err)
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
