/* ct_feed.c — "upd"/"hb" publishing and the snapshot service (see ct_feed.h).
 *
 * Invariants: every send is non-blocking (PUB drops when a subscriber's queue
 * is full; a snapshot reply to a vanished peer is dropped); the entries array
 * and the output buffer are reused and only grow.
 */
#include "ct_feed.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_buf.h"
#include "ct_log.h"
#include "ct_time.h"
#include "ct_wire.h"

struct ct_feed {
    ct_store *store;
    ct_auth *auth;
    void *pub, *snap;
    ct_buf out;
    ct_count_entry *ent;
    size_t ent_cap;
    ct_counts snapc;
    ct_feed_stats st;
    bool has_campaign; /* name it on every "upd" and "snp" */
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    uint8_t campaign_fp[CT_HASH_LEN];
    ct_feed_status_fn status_fn; /* "stq" answered with what it fills */
    void *status_ctx;
};

void ct_feed_set_status(ct_feed *f, ct_feed_status_fn fn, void *ctx)
{
    f->status_fn = fn;
    f->status_ctx = ctx;
}

ct_err ct_feed_create(ct_store *store, ct_auth *auth, void *pub, void *snap, ct_feed **out)
{
    ct_feed *f = calloc(1, sizeof *f);
    if (!f) return CT_ERR_NOMEM;
    f->store = store;
    f->auth = auth;
    f->pub = pub;
    f->snap = snap;
    ct_counts_init(&f->snapc);
    *out = f;
    return CT_OK;
}

void ct_feed_free(ct_feed *f)
{
    if (!f) return;
    ct_buf_free(&f->out);
    free(f->ent);
    ct_counts_free(&f->snapc);
    free(f);
}

void ct_feed_set_campaign(ct_feed *f, const char *id, const uint8_t fingerprint[32])
{
    assert(f && id && fingerprint && strlen(id) <= CT_CAMPAIGN_ID_MAX);
    snprintf(f->campaign_id, sizeof f->campaign_id, "%s", id);
    memcpy(f->campaign_fp, fingerprint, CT_HASH_LEN);
    f->has_campaign = id[0] != '\0';
}

/* The campaign fields of a state message. */
static void name_campaign(const ct_feed *f, ct_wire_state *st)
{
    st->has_campaign = f->has_campaign;
    memcpy(st->campaign_id, f->campaign_id, sizeof st->campaign_id);
    memcpy(st->campaign_fp, f->campaign_fp, CT_HASH_LEN);
}

const ct_feed_stats *ct_feed_get_stats(const ct_feed *f)
{
    return &f->st;
}

/* Copies the used slots of c into f->ent (grows it); returns the count. */
static ct_err fill_entries(ct_feed *f, const ct_counts *c, size_t *n)
{
    if (c->n > f->ent_cap) {
        size_t cap = c->n * 2;
        ct_count_entry *e = realloc(f->ent, cap * sizeof *e);
        if (!e) return CT_ERR_NOMEM;
        f->ent = e;
        f->ent_cap = cap;
    }
    size_t k = 0;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].used) continue;
        f->ent[k].key = c->slots[i].key;
        f->ent[k].value = c->slots[i].value;
        k++;
    }
    *n = k;
    return CT_OK;
}

ct_err ct_feed_update(ct_feed *f, const ct_store_commit *c, int64_t time_ms)
{
    ct_wire_state st;
    memset(&st, 0, sizeof st);
    st.kind = CT_MSG_UPDATE;
    st.seq = c->seq_after;
    st.prev_seq = c->seq_before;
    memcpy(st.prev_head, c->head_before, CT_HASH_LEN);
    memcpy(st.head, c->head, CT_HASH_LEN);
    st.time_ms = time_ms;
    name_campaign(f, &st);
    if (c->changed) {
        ct_err e = fill_entries(f, c->changed, &st.n_entries);
        if (e) return e;
        st.entries = f->ent;
    }
    ct_buf_reset(&f->out);
    ct_err e = ct_wire_state_encode(&st, &f->out);
    if (e) return e;
    zmq_send(f->pub, f->out.data, f->out.len, ZMQ_DONTWAIT);
    f->st.updates++;
    return CT_OK;
}

ct_err ct_feed_heartbeat(ct_feed *f, uint64_t seq, const uint8_t head[32], int64_t time_ms)
{
    ct_wire_state st;
    memset(&st, 0, sizeof st);
    st.kind = CT_MSG_HEARTBEAT;
    st.seq = seq;
    memcpy(st.head, head, CT_HASH_LEN);
    st.time_ms = time_ms;
    ct_buf_reset(&f->out);
    ct_err e = ct_wire_state_encode(&st, &f->out);
    if (e) return e;
    zmq_send(f->pub, f->out.data, f->out.len, ZMQ_DONTWAIT);
    f->st.heartbeats++;
    return CT_OK;
}

static void reply(ct_feed *f, zmq_msg_t *rid, bool delim)
{
    if (zmq_send(f->snap, zmq_msg_data(rid), zmq_msg_size(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    if (delim) zmq_send(f->snap, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(f->snap, f->out.data, f->out.len, ZMQ_DONTWAIT);
}

static bool may_read(ct_feed *f, zmq_msg_t *body, const char **user)
{
    *user = "insecure";
    if (!f->auth) return true;
    const char *u = zmq_msg_gets(body, "User-Id");
    *user = u ? u : "-";
    ct_role role;
    uint32_t d;
    if (!u || !ct_auth_lookup(f->auth, u, &role, &d)) return false;
    return role == CT_ROLE_REPORTER || role == CT_ROLE_ADMIN;
}

static void serve_one(ct_feed *f, zmq_msg_t *rid, zmq_msg_t *body, bool delim, bool bad_frames)
{
    ct_buf_reset(&f->out);
    const char *user;
    ct_msg_kind kind;
    ct_err e = bad_frames ? CT_ERR_MALFORMED
                          : ct_wire_peek_kind(zmq_msg_data(body), zmq_msg_size(body), &kind);
    bool status = !e && kind == CT_MSG_STATUS_REQ && f->status_fn, group = false, apply = false;
    if (status)
        e = ct_wire_statusreq_decode(zmq_msg_data(body), zmq_msg_size(body), &group, &apply);
    if (!e && kind != CT_MSG_SNAP_REQ && !status) e = CT_ERR_BAD_KIND;
    if (e) {
        f->st.bad_requests++;
        if (ct_wire_error_encode(false, 0, e, &f->out) == CT_OK) reply(f, rid, delim);
        return;
    }
    if (!may_read(f, body, &user)) {
        f->st.snapshot_denied++;
        ct_log(CT_LOG_WARN, "security", "event=snapshot_denied key=%s", user);
        if (ct_wire_error_encode(false, 0, CT_ERR_FORBIDDEN, &f->out) == CT_OK)
            reply(f, rid, delim);
        return;
    }
    if (status) {
        ct_wire_status sta;
        memset(&sta, 0, sizeof sta);
        f->status_fn(f->status_ctx, &sta);
        sta.group.present = sta.group.present && group; /* "gr" only to who asked */
        sta.has_apply = apply;                          /* "ap" likewise */
        e = ct_wire_status_encode(&sta, &f->out);
        if (e) {
            ct_log(CT_LOG_ERROR, "status reply failed", "err=%s", ct_err_name(e));
            ct_buf_reset(&f->out);
            if (ct_wire_error_encode(false, 0, e, &f->out) != CT_OK) return;
        } else {
            f->st.status_replies++;
        }
        reply(f, rid, delim);
        return;
    }
    ct_wire_state st;
    memset(&st, 0, sizeof st);
    st.kind = CT_MSG_SNAPSHOT;
    name_campaign(f, &st);
    e = ct_store_read_counts(f->store, &f->snapc, &st.seq, st.head);
    if (!e) e = fill_entries(f, &f->snapc, &st.n_entries);
    if (!e) {
        st.entries = f->ent;
        st.time_ms = ct_now_ms();
        e = ct_wire_state_encode(&st, &f->out);
    }
    if (e) {
        ct_log(CT_LOG_ERROR, "snapshot failed", "err=%s", ct_err_name(e));
        ct_buf_reset(&f->out);
        if (ct_wire_error_encode(false, 0, e, &f->out) == CT_OK) reply(f, rid, delim);
        return;
    }
    f->st.snapshots++;
    reply(f, rid, delim);
}

void ct_feed_serve_snapshots(ct_feed *f)
{
    for (int k = 0; k < 64; k++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, f->snap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        zmq_msg_init(&body);
        bool delim = false, bad = false;
        if (zmq_msg_more(&rid) && zmq_msg_recv(&body, f->snap, 0) >= 0) {
            if (zmq_msg_size(&body) == 0 && zmq_msg_more(&body)) {
                delim = true;
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                if (zmq_msg_recv(&body, f->snap, 0) < 0) bad = true;
            }
            int more = zmq_msg_more(&body);
            if (more) bad = true;
            while (more) {
                zmq_msg_t x;
                zmq_msg_init(&x);
                if (zmq_msg_recv(&x, f->snap, 0) < 0) {
                    zmq_msg_close(&x);
                    break;
                }
                more = zmq_msg_more(&x);
                zmq_msg_close(&x);
            }
        } else {
            bad = true;
        }
        serve_one(f, &rid, &body, delim, bad);
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
}
