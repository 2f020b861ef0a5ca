/* ct_view.c — the Clone-pattern mirror of the aggregator's counts (see
 * ct_view.h for the protocol and invariants). One owner, one cleanup path:
 * ct_view_close() releases the sockets, the counts and the buffer. */
#include "ct_view.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_hq.h"
#include "ct_log.h"
#include "ct_time.h"

#define SNAPSHOT_MAX_BYTES (256 << 20)

static ct_err set_curve(void *s, const ct_view_config *cfg)
{
    if (!cfg->secure) return CT_OK;
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, cfg->server_public, CT_Z85_KEY_LEN + 1) ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cfg->client.public_z85, CT_Z85_KEY_LEN + 1) ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, cfg->client.secret_z85, CT_Z85_KEY_LEN + 1))
        return CT_ERR_ZMQ;
    return CT_OK;
}

static ct_err open_dealer(ct_view *v)
{
    int zero = 0;
    int64_t maxsz = SNAPSHOT_MAX_BYTES;
    v->dealer = zmq_socket(v->zctx, ZMQ_DEALER);
    if (!v->dealer) return CT_ERR_ZMQ;
    if (zmq_setsockopt(v->dealer, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(v->dealer, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) ||
        set_curve(v->dealer, &v->cfg) || zmq_connect(v->dealer, v->cfg.snapshot_ep)) {
        ct_log(CT_LOG_ERROR, "cannot open snapshot socket", "endpoint=%s err=\"%s\"",
               v->cfg.snapshot_ep, zmq_strerror(zmq_errno()));
        return CT_ERR_ZMQ;
    }
    return CT_OK;
}

static void free_buffered(ct_view *v)
{
    for (size_t i = 0; i < v->n_buffered; i++)
        ct_wire_state_free(&v->buffered[i]);
    v->n_buffered = 0;
    v->buffer_overflow = false;
}

/* Sends a snapshot request on a fresh DEALER (drops any stale reply). */
static ct_err request_snapshot(ct_view *v)
{
    if (v->dealer) zmq_close(v->dealer);
    v->dealer = NULL;
    ct_err e = open_dealer(v);
    if (e) return e;
    ct_buf b = CT_BUF_INIT;
    e = ct_wire_snapreq_encode(&b);
    if (!e && zmq_send(v->dealer, b.data, b.len, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN)
        e = CT_ERR_ZMQ;
    ct_buf_free(&b);
    v->synced = false;
    v->hq_pending = false; /* a pending "stq" went with the old socket */
    v->snap_sent_mono = ct_monotonic_ms();
    return e;
}

static void open_gap(ct_view *v, const char *why, uint64_t p, uint64_t s)
{
    if (!v->gap_open) {
        v->gap_open = true;
        v->gap_at = v->seq;
        snprintf(v->gap_why, sizeof v->gap_why, "%s", why);
        v->n_gaps++;
        ct_log(CT_LOG_WARN, "gap detected", "at_seq=%llu reason=%s msg_p=%llu msg_s=%llu",
               (unsigned long long)v->seq, why, (unsigned long long)p, (unsigned long long)s);
    }
}

const char *ct_view_config_endpoints(ct_view_config *vc, const ct_opt_list *feeds,
                                     const ct_opt_list *snapshots, const ct_opt_list *keys)
{
    _Static_assert(CT_VIEW_MAX_ENDPOINTS >= CT_OPT_LIST_MAX, "one aggregator per --feed");
    if (feeds->n == 0 || feeds->n != snapshots->n || (keys->n > 1 && keys->n != feeds->n))
        return "give one --snapshot per --feed, and one --server-key for all or one per --feed, "
               "in the same order";
    for (size_t i = 0; i < feeds->n; i++) {
        vc->feed_eps[i] = feeds->v[i];
        vc->snapshot_eps[i] = snapshots->v[i];
    }
    vc->n_eps = feeds->n;
    vc->feed_ep = feeds->v[0];
    vc->snapshot_ep = snapshots->v[0];
    return NULL;
}

ct_err ct_view_config_keys(ct_view_config *vc, const ct_opt_list *keys, char *err, size_t errlen)
{
    assert(keys->n >= 1);
    ct_err e = ct_public_key_load(keys->v[0], vc->server_public, err, errlen);
    for (size_t i = 0; !e && keys->n > 1 && i < keys->n; i++)
        e = ct_public_key_load(keys->v[i], vc->server_publics[i], err, errlen);
    vc->n_publics = keys->n > 1 ? keys->n : 0;
    return e;
}

/* The configuration's fields for aggregator i of the lists. */
static void select_endpoint(ct_view *v, size_t i)
{
    v->ep = i;
    if (v->cfg.n_eps == 0) return;
    assert(i < v->cfg.n_eps);
    v->cfg.feed_ep = v->cfg.feed_eps[i];
    v->cfg.snapshot_ep = v->cfg.snapshot_eps[i];
    if (v->cfg.n_publics > 1) {
        assert(v->cfg.n_publics == v->cfg.n_eps);
        memcpy(v->cfg.server_public, v->cfg.server_publics[i], sizeof v->cfg.server_public);
    }
}

static ct_err open_sub(ct_view *v)
{
    int zero = 0;
    int64_t maxsz = CT_WIRE_MAX_FRAME;
    v->sub = zmq_socket(v->zctx, ZMQ_SUB);
    if (!v->sub) return CT_ERR_ZMQ;
    if (zmq_setsockopt(v->sub, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(v->sub, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) ||
        (v->cfg.feed_hwm > 0 &&
         zmq_setsockopt(v->sub, ZMQ_RCVHWM, &v->cfg.feed_hwm, sizeof v->cfg.feed_hwm)) ||
        set_curve(v->sub, &v->cfg) || zmq_setsockopt(v->sub, ZMQ_SUBSCRIBE, "", 0) ||
        ct_link_open(&v->link, v->zctx, v->sub) || zmq_connect(v->sub, v->cfg.feed_ep)) {
        ct_log(CT_LOG_ERROR, "cannot open feed socket", "endpoint=%s err=\"%s\"", v->cfg.feed_ep,
               zmq_strerror(zmq_errno()));
        return CT_ERR_ZMQ;
    }
    return CT_OK;
}

/* Follows the next aggregator of the list: both sockets anew, buffered
 * updates dropped (they extend the previous aggregator's store), and a
 * snapshot that replaces the counts whole. Without a list: a new snapshot
 * from the same one. */
static ct_err move_endpoint(ct_view *v, const char *why)
{
    if (v->cfg.n_eps < 2) return request_snapshot(v);
    const char *from = v->cfg.feed_ep;
    ct_link_close(&v->link, v->sub);
    if (v->sub) zmq_close(v->sub);
    v->sub = NULL;
    free_buffered(v);
    ct_wire_status_free(&v->hq); /* the previous aggregator's status */
    v->has_hq = false;
    v->hq_refused = 0;
    v->hq_older = 0; /* the next one is asked for the group and apply lag again */
    select_endpoint(v, (v->ep + 1) % v->cfg.n_eps);
    v->n_moves++;
    v->snap_refused = 0;
    ct_log(CT_LOG_WARN, "trying the next aggregator", "from=%s to=%s snapshot=%s reason=%s", from,
           v->cfg.feed_ep, v->cfg.snapshot_ep, why);
    ct_err e = open_sub(v);
    return e ? e : request_snapshot(v);
}

ct_err ct_view_open(ct_view *v, void *zctx, const ct_view_config *cfg)
{
    memset(v, 0, sizeof *v);
    v->cfg = *cfg;
    select_endpoint(v, 0);
    if (v->cfg.snapshot_timeout_ms <= 0) v->cfg.snapshot_timeout_ms = 3000;
    if (v->cfg.silence_ms <= 0) v->cfg.silence_ms = 3000;
    if (v->cfg.max_buffered == 0) v->cfg.max_buffered = 20000;
    if (v->cfg.status_ms == 0) v->cfg.status_ms = 2000;
    v->zctx = zctx;
    ct_counts_init(&v->counts);
    ct_err e = open_sub(v);
    return e ? e : request_snapshot(v);
}

void ct_view_close(ct_view *v)
{
    ct_link_close(&v->link, v->sub);
    if (v->sub) zmq_close(v->sub);
    if (v->dealer) zmq_close(v->dealer);
    v->sub = v->dealer = NULL;
    free_buffered(v);
    free(v->buffered);
    v->buffered = NULL;
    v->cap_buffered = 0;
    ct_counts_free(&v->counts);
    ct_wire_status_free(&v->hq);
}

static ct_err apply_entries(ct_view *v, const ct_wire_state *st)
{
    for (size_t i = 0; i < st->n_entries; i++) {
        ct_err e = ct_counts_set(&v->counts, &st->entries[i].key, st->entries[i].value);
        if (e) return e;
    }
    v->seq = st->seq;
    memcpy(v->head, st->head, CT_HASH_LEN);
    v->commit_ms = st->time_ms;
    if (st->has_campaign) {
        v->has_campaign = true;
        memcpy(v->campaign_id, st->campaign_id, sizeof v->campaign_id);
        memcpy(v->campaign_fp, st->campaign_fp, CT_HASH_LEN);
    }
    v->last_apply_mono = ct_monotonic_ms();
    v->last_apply_real = ct_now_ms();
    v->last_lag_ms = v->last_apply_real - st->time_ms;
    return CT_OK;
}

/* Handles one feed message while synced. */
static ct_err on_feed_synced(ct_view *v, const ct_wire_state *st, bool *changed)
{
    int64_t now = ct_monotonic_ms();
    bool settled = now - v->synced_mono > 2000;
    if (st->kind == CT_MSG_UPDATE) {
        if (st->prev_seq == v->seq && memcmp(st->prev_head, v->head, CT_HASH_LEN) != 0) {
            /* same position, another log (e.g. the aggregator restarted on a
             * fresh store that reached this seq): the absolute values of this
             * update do not extend our counts */
            open_gap(v, "chain_head_differs", st->prev_seq, st->seq);
            return request_snapshot(v);
        }
        if (st->prev_seq == v->seq) {
            ct_err e = apply_entries(v, st);
            if (e) return e;
            v->n_updates++;
            *changed = true;
            return CT_OK;
        }
        if (st->seq <= v->seq) {
            v->n_ignored++;
            if (settled && st->seq < v->seq) {
                open_gap(v, "log_went_backwards", st->prev_seq, st->seq);
                return request_snapshot(v);
            }
            return CT_OK;
        }
        open_gap(v, st->prev_seq > v->seq ? "missed_updates" : "overlap", st->prev_seq, st->seq);
        return request_snapshot(v);
    }
    /* heartbeat */
    if (st->seq > v->seq) {
        open_gap(v, "heartbeat_ahead", 0, st->seq);
        return request_snapshot(v);
    }
    if (st->seq == v->seq && memcmp(st->head, v->head, CT_HASH_LEN) != 0) {
        open_gap(v, "chain_head_differs", 0, st->seq);
        return request_snapshot(v);
    }
    if (st->seq < v->seq && settled) {
        open_gap(v, "log_went_backwards", 0, st->seq);
        return request_snapshot(v);
    }
    return CT_OK;
}

static ct_err buffer_update(ct_view *v, ct_wire_state *st)
{
    if (v->buffer_overflow) {
        ct_wire_state_free(st);
        return CT_OK;
    }
    if (v->n_buffered >= v->cfg.max_buffered) {
        free_buffered(v);
        v->buffer_overflow = true;
        ct_wire_state_free(st);
        return CT_OK;
    }
    if (v->n_buffered == v->cap_buffered) {
        size_t nc = v->cap_buffered ? v->cap_buffered * 2 : 64;
        ct_wire_state *p = realloc(v->buffered, nc * sizeof *p);
        if (!p) {
            ct_wire_state_free(st);
            return CT_ERR_NOMEM;
        }
        v->buffered = p;
        v->cap_buffered = nc;
    }
    v->buffered[v->n_buffered++] = *st; /* takes ownership of st->entries */
    memset(st, 0, sizeof *st);
    return CT_OK;
}

static ct_err on_snapshot(ct_view *v, const ct_wire_state *st, bool *changed)
{
    bool was_synced_once = v->ever_synced;
    uint64_t old_seq = v->seq;
    ct_counts_clear(&v->counts);
    ct_err e = apply_entries(v, st);
    if (e) return e;
    v->n_snapshots++;
    v->ever_synced = true;
    v->synced = true;
    v->synced_mono = ct_monotonic_ms();
    *changed = true;
    if (v->gap_open) {
        char msg[160];
        snprintf(msg, sizeof msg, "gap detected at seq %llu, snapshot at seq %llu",
                 (unsigned long long)v->gap_at, (unsigned long long)st->seq);
        ct_log(CT_LOG_WARN, msg, "reason=%s entries=%zu", v->gap_why, st->n_entries);
        v->gap_open = false;
    } else {
        ct_log(CT_LOG_INFO, "snapshot applied", "seq=%llu entries=%zu", (unsigned long long)st->seq,
               st->n_entries);
    }
    if (was_synced_once && st->seq < old_seq)
        ct_log(CT_LOG_WARN, "aggregator log position went backwards (restarted on other data?)",
               "old_seq=%llu new_seq=%llu", (unsigned long long)old_seq,
               (unsigned long long)st->seq);
    bool overflow = v->buffer_overflow;
    /* Apply what was buffered while the snapshot was in flight. */
    for (size_t i = 0; i < v->n_buffered && v->synced; i++) {
        const ct_wire_state *u = &v->buffered[i];
        if (u->seq <= v->seq) continue;
        if (u->prev_seq == v->seq && memcmp(u->prev_head, v->head, CT_HASH_LEN) == 0) {
            e = apply_entries(v, u);
            if (e) break;
            v->n_updates++;
        } else {
            open_gap(v, u->prev_seq == v->seq ? "chain_head_differs" : "missed_updates",
                     u->prev_seq, u->seq);
            e = request_snapshot(v);
        }
    }
    free_buffered(v);
    if (!e && overflow && v->synced) {
        open_gap(v, "buffer_overflow", 0, 0);
        e = request_snapshot(v);
    }
    return e;
}

static ct_err recv_last_frame(void *s, ct_buf *b, bool *got)
{
    *got = false;
    ct_buf_reset(b);
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, s, ZMQ_DONTWAIT);
        if (rc < 0) {
            int err = zmq_errno();
            zmq_msg_close(&m);
            if (err == EAGAIN || err == EINTR) return CT_OK;
            return CT_ERR_ZMQ;
        }
        int more = zmq_msg_more(&m);
        if (zmq_msg_size(&m) > 0) {
            ct_buf_reset(b);
            ct_err e = ct_buf_append(b, zmq_msg_data(&m), zmq_msg_size(&m));
            if (e) {
                zmq_msg_close(&m);
                return e;
            }
        }
        zmq_msg_close(&m);
        if (!more) {
            *got = b->len > 0;
            return CT_OK;
        }
    }
}

static ct_err drain_feed(ct_view *v, ct_buf *b, bool *changed)
{
    for (int n = 0; n < 10000; n++) {
        bool got;
        ct_err e = recv_last_frame(v->sub, b, &got);
        if (e || !got) return e;
        v->last_rx_mono = ct_monotonic_ms();
        ct_wire_state st;
        e = ct_wire_state_decode(b->data, b->len, &st);
        if (e) {
            ct_log(CT_LOG_WARN, "bad feed message ignored", "err=%s len=%zu", ct_err_name((int)e),
                   b->len);
            continue;
        }
        if (st.kind == CT_MSG_UPDATE || st.kind == CT_MSG_HEARTBEAT) {
            if (v->synced) {
                e = on_feed_synced(v, &st, changed);
            } else if (st.kind == CT_MSG_UPDATE) {
                e = buffer_update(v, &st);
            }
        }
        ct_wire_state_free(&st);
        if (e) return e;
    }
    return CT_OK;
}

static ct_err drain_dealer(ct_view *v, ct_buf *b, bool *changed)
{
    for (int n = 0; n < 16 && v->dealer; n++) {
        bool got;
        ct_err e = recv_last_frame(v->dealer, b, &got);
        if (e || !got) return e;
        ct_msg_kind kind;
        e = ct_wire_peek_kind(b->data, b->len, &kind);
        if (!e && (kind == CT_MSG_STATUS || (kind == CT_MSG_ERROR && v->hq_pending))) {
            ct_hq_on_reply(v, b->data, b->len, kind);
            if (v->has_hq && v->hq.epoch > v->epoch_seen) v->epoch_seen = v->hq.epoch;
            if (v->has_hq && v->hq.epoch && v->hq.epoch < v->epoch_seen && v->cfg.n_eps > 1) {
                /* a former primary (or a store left behind by a promotion):
                 * its figures are not the log of the epoch seen */
                ct_log(CT_LOG_WARN, "the aggregator followed runs an older epoch (fenced)",
                       "endpoint=%s epoch=%llu seen=%llu", v->cfg.feed_ep,
                       (unsigned long long)v->hq.epoch, (unsigned long long)v->epoch_seen);
                v->n_fenced++;
                return move_endpoint(v, "older_epoch");
            }
            continue;
        }
        if (!e && kind == CT_MSG_ERROR) {
            bool ht;
            uint64_t tok;
            uint16_t code = 0;
            ct_wire_error_decode(b->data, b->len, &ht, &tok, &code);
            ct_log(CT_LOG_ERROR, "snapshot refused by the aggregator", "err=%s", ct_err_name(code));
            v->snap_refused = code ? code : (uint16_t)CT_ERR_INTERNAL;
            if (v->cfg.n_eps > 1 && !v->synced) return move_endpoint(v, "snapshot_refused");
            continue;
        }
        ct_wire_state st;
        e = ct_wire_state_decode(b->data, b->len, &st);
        if (e || st.kind != CT_MSG_SNAPSHOT) {
            ct_log(CT_LOG_WARN, "bad snapshot reply ignored", "err=%s len=%zu",
                   ct_err_name((int)(e ? e : CT_ERR_BAD_KIND)), b->len);
            if (!e) ct_wire_state_free(&st);
            continue;
        }
        v->last_rx_mono = ct_monotonic_ms();
        v->snap_refused = 0;
        if (!v->synced) e = on_snapshot(v, &st, changed);
        ct_wire_state_free(&st);
        if (e) return e;
    }
    return CT_OK;
}

static ct_err timers(ct_view *v)
{
    int64_t now = ct_monotonic_ms();
    if (!v->synced) {
        if (now - v->snap_sent_mono >= v->cfg.snapshot_timeout_ms) {
            ct_log(CT_LOG_DEBUG, "snapshot request timed out, retrying", "endpoint=%s",
                   v->cfg.snapshot_ep);
            return move_endpoint(v, "snapshot_unanswered");
        }
        return CT_OK;
    }
    ct_hq_ask(v, now);
    int64_t last = v->last_rx_mono > v->synced_mono ? v->last_rx_mono : v->synced_mono;
    if (now - last >= v->cfg.silence_ms) {
        open_gap(v, "feed_silent", 0, 0);
        return move_endpoint(v, "feed_silent");
    }
    return CT_OK;
}

ct_err ct_view_poll(ct_view *v, int timeout_ms, bool *changed)
{
    *changed = false;
    zmq_pollitem_t items[2] = {{v->sub, 0, ZMQ_POLLIN, 0}, {v->dealer, 0, ZMQ_POLLIN, 0}};
    int rc = zmq_poll(items, 2, timeout_ms);
    if (rc < 0 && zmq_errno() != EINTR) return CT_ERR_ZMQ;
    ct_buf b = CT_BUF_INIT;
    ct_err e = CT_OK;
    if (rc > 0) {
        /* Feed first: updates that arrive with a snapshot get buffered. */
        if (items[0].revents & ZMQ_POLLIN) e = drain_feed(v, &b, changed);
        if (!e && (items[1].revents & ZMQ_POLLIN)) e = drain_dealer(v, &b, changed);
    }
    ct_buf_free(&b);
    ct_link_poll(&v->link);
    if (!e) e = timers(v);
    return e;
}

const char *ct_view_feed_state(const ct_view *v, int64_t mono_now)
{
    if (!v->ever_synced) return "not_connected";
    if (v->last_rx_mono == 0) return "stale";
    int64_t age = mono_now - v->last_rx_mono;
    if (age > 10000) return "stale";
    if (!v->synced || age > 3000) return "lagging";
    return "live";
}

void ct_view_problem(const ct_view *v, int64_t mono_now, char *buf, size_t len)
{
    assert(buf && len > 0);
    buf[0] = '\0';
    const char *state = ct_view_feed_state(v, mono_now);
    if (strcmp(state, "live") == 0) return;
    if (v->link.state != CT_LINK_UP) {
        snprintf(buf, len, "%s", ct_link_hint(&v->link));
    } else if (v->snap_refused && !v->synced) {
        snprintf(buf, len, "the aggregator refused the snapshot request (%s)",
                 ct_err_name(v->snap_refused));
    } else if (!v->synced) {
        snprintf(buf, len, "connected to the feed, no snapshot reply from %s yet",
                 v->cfg.snapshot_ep);
    } else {
        snprintf(buf, len, "the aggregator's feed is silent (not even a heartbeat)");
    }
}
