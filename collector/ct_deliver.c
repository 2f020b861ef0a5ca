/* ct_deliver.c — the delivery loop (see ct_deliver.h for the state machine).
 *
 * Invariants: the window holds at most o->window slots; the ring lists the
 * window's events in seq order (entries whose slot was freed or reused are
 * holes, skipped and compacted away), so first sends and resends both go out
 * in creation order (requeued events are appended after the ones held); a
 * slot is freed only after its ack was
 * settled durably in the outbox (or, for a settle failure, never: it is resent
 * and acked as duplicate later). The safe watermark is that of one aggregator
 * log: it is forgotten (and the committed marks cleared, those events sent
 * again) on every new connection, endpoint move and epoch change, so an "f"
 * of one store never deletes an event another store committed; an accepted
 * or duplicate item without q beside an "f" is kept. One DEALER socket and
 * one monitor PAIR socket, both closed on every return path.
 */
#include "ct_deliver.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_notify.h"
#include "ct_telemetry.h"
#include "ct_time.h"
#include "ct_wire.h"
#include "ct_zmon.h"

#define RESEND_CHECK_MS 100
#define BLOCKED_RETRY_MS 100
#define MAX_DRAIN 256
#define STOP_GRACE_MS 1000
#define LAT_STEP_US 50
#define LAT_BUCKETS 4000 /* 50 us steps up to 200 ms, then one overflow bucket */
#define SAFE_POLL_MS 1000
#define UNKNOWN_Q UINT64_MAX /* a committed mark that no safe watermark reaches */
#define FAILOVER_MS 3000     /* silence that moves a deliverer to its next endpoint */
#define REFUSED_HOLD_MS 500  /* at most one move per this, when endpoints refuse */
/* Acks are settled in the outbox in groups: one durable transaction for
 * all the acks (and the safe sweep) that waited at most SETTLE_DELAY_MS,
 * at once when SETTLE_GROUP are waiting, no slot is free, nothing else is
 * in flight, or the run stops. An ack that is not settled yet only costs a
 * resend after a crash, which the aggregator answers "duplicate". */
#define SETTLE_DELAY_MS 20
#define SETTLE_GROUP 256

typedef struct {
    uint64_t seq; /* 0 = free */
    uint64_t gen; /* load number: tells a ring entry of this load from stale ones */
    uint8_t *bytes;
    size_t len;
    int64_t sent_ms;  /* 0 = never sent */
    uint64_t sent_ns; /* monotonic, for the ack latency */
    uint64_t token;
    bool queued;   /* needs to be sent (first send or resend) */
    bool settling; /* ack received, settle pending */
} slot_t;

typedef struct {
    size_t idx;
    uint64_t gen;
} ring_ent;

typedef struct {
    uint64_t token;
    size_t n;
    uint64_t *seqs;
} token_rec;

typedef struct {
    const ct_deliver_opts *o;
    ct_outbox *ob;
    ct_outbox_info info;     /* the origin history: an event's id from its seq */
    bool conflict_explained; /* the conflict explanation was logged this run */
    ct_deliver_stats *st;
    /* window */
    slot_t *slots;
    size_t cap, used; /* cap = window + max(window, SETTLE_GROUP) */
    size_t window;
    size_t *freelist;
    size_t nfree;
    uint32_t *hash; /* slot index + 1, 0 = empty */
    size_t hmask;
    ring_ent *ring;
    size_t rhead, rcount;
    size_t nqueued;     /* slots with queued set */
    uint64_t next_load; /* next seq to load from the outbox */
    size_t scan_calls;  /* events the current scan passed on, held ones included */
    uint64_t loads;     /* events loaded so far (slot generations) */
    /* tokens */
    token_rec *tokens;
    size_t ntok, tokpos;
    uint64_t next_token;
    /* timing */
    int64_t resend_timeout;
    int64_t last_heard;
    int64_t blocked_until;
    bool acked_since_resend;
    bool connected;
    int64_t last_fail_log; /* last handshake-failure line (monotonic ms), 0 = none */
    /* scratch */
    ct_bytes *evs;
    ct_ack_item *items;
    ct_outbox_settle_item *settle;
    uint64_t *settle_q;   /* per settle item: its log seq when committed but not yet safe, else 0 */
    uint64_t *settle_log; /* per settle item: its log seq from the ack (0: not given) */
    size_t nsettle;
    int64_t settle_since; /* monotonic ms since settles or a sweep wait; 0 = none */
    /* watermarks: the highest safe seq any ack carried; the safe seq the
     * outbox was last swept with; when an ack last carried one */
    uint64_t safe, swept_safe;
    int64_t last_safe_ms;
    int64_t safe_moved_ms; /* when safe last advanced, or nothing waited for it */
    bool safe_seen;        /* the aggregator answers with "f" */
    /* endpoints and epochs: the endpoint in use (index into o's list); the
     * highest epoch seen (durable in the outbox); a move to the next
     * endpoint requested for this time (0 = none); the last move */
    size_t ep;
    uint64_t epoch;
    int64_t move_at, moved_ms;
    bool epoch_raised; /* an ack carried a higher epoch: reset and resend */
    uint64_t epoch_to;
    ct_buf out;
    void *sock; /* the DEALER (owned by ct_deliver_run) */
    /* rates, ack latency histogram (LAT_STEP_US buckets) */
    uint64_t acked_at_last_stats;
    uint64_t lat[LAT_BUCKETS + 1];
    uint64_t lat_n;
    uint64_t recv_ns;
    ct_telemetry tel; /* the office's telemetry (ct_telemetry.h) */
} dstate;

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

/* ---- window bookkeeping ---- */

static size_t hslot(const dstate *d, uint64_t seq)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & d->hmask;
}

static slot_t *lookup(dstate *d, uint64_t seq)
{
    size_t i = hslot(d, seq);
    while (d->hash[i]) {
        slot_t *s = &d->slots[d->hash[i] - 1];
        if (s->seq == seq) return s;
        i = (i + 1) & d->hmask;
    }
    return NULL;
}

static void hash_insert(dstate *d, uint64_t seq, size_t idx)
{
    size_t i = hslot(d, seq);
    while (d->hash[i])
        i = (i + 1) & d->hmask;
    d->hash[i] = (uint32_t)(idx + 1);
}

static void hash_remove(dstate *d, uint64_t seq)
{
    size_t i = hslot(d, seq);
    while (d->hash[i] && d->slots[d->hash[i] - 1].seq != seq)
        i = (i + 1) & d->hmask;
    if (!d->hash[i]) return;
    d->hash[i] = 0;
    /* backward-shift deletion keeps probe chains intact */
    size_t j = (i + 1) & d->hmask;
    while (d->hash[j]) {
        uint32_t v = d->hash[j];
        size_t home = hslot(d, d->slots[v - 1].seq);
        /* is home cyclically in (i, j]? if not, move v to i */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            d->hash[i] = v;
            d->hash[j] = 0;
            i = j;
        }
        j = (j + 1) & d->hmask;
    }
}

/* The window's invariants: every slot is either free (on the freelist) or
 * held; the ring is a circular queue inside cap entries; marked and settling
 * slots are held ones. */
static void window_check(const dstate *d)
{
    assert(d->used + d->nfree == d->cap);
    assert(d->used <= d->cap);
    assert(d->rhead < d->cap);
    assert(d->rcount <= d->cap);
    assert(d->nqueued <= d->used);
    assert(d->nsettle <= d->used);
    (void)d;
}

static void mark_send(dstate *d, size_t idx)
{
    slot_t *s = &d->slots[idx];
    if (s->queued || s->settling || s->seq == 0) return;
    s->queued = true;
    d->nqueued++;
}

static bool ring_valid(const dstate *d, const ring_ent *r)
{
    return d->slots[r->idx].seq != 0 && d->slots[r->idx].gen == r->gen;
}

static ring_ent *ring_at(dstate *d, size_t i)
{
    assert(i < d->cap);
    return &d->ring[(d->rhead + i) % d->cap];
}

static void ring_trim(dstate *d)
{
    while (d->rcount && !ring_valid(d, ring_at(d, 0))) {
        d->rhead = (d->rhead + 1) % d->cap;
        d->rcount--;
    }
}

static void ring_compact(dstate *d)
{
    size_t w = 0;
    for (size_t i = 0; i < d->rcount; i++) {
        ring_ent e = *ring_at(d, i);
        if (ring_valid(d, &e)) *ring_at(d, w++) = e;
    }
    d->rcount = w;
}

static void slot_free(dstate *d, slot_t *s)
{
    size_t idx = (size_t)(s - d->slots);
    if (s->queued) d->nqueued--;
    hash_remove(d, s->seq);
    free(s->bytes);
    s->bytes = NULL;
    s->seq = 0;
    s->queued = false;
    s->settling = false;
    assert(d->used > 0 && d->nfree < d->cap);
    d->freelist[d->nfree++] = idx;
    d->used--;
}

static ct_err load_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    dstate *d = ctx;
    d->scan_calls++;
    if (lookup(d, seq)) { /* a rescan (requeue, connection, epoch) meets held events */
        d->next_load = seq + 1;
        return CT_OK;
    }
    if (d->nfree == 0) return CT_ERR_TOO_MANY; /* cannot happen: scan max = nfree */
    uint8_t *copy = malloc(len);
    if (!copy) return CT_ERR_NOMEM;
    memcpy(copy, ev, len);
    size_t idx = d->freelist[--d->nfree];
    slot_t *s = &d->slots[idx];
    memset(s, 0, sizeof *s);
    s->seq = seq;
    s->gen = ++d->loads;
    s->bytes = copy;
    s->len = len;
    hash_insert(d, seq, idx);
    d->used++;
    ring_trim(d);
    if (d->rcount == d->cap) ring_compact(d);
    ring_ent *r = ring_at(d, d->rcount++);
    r->idx = idx;
    r->gen = s->gen;
    mark_send(d, idx);
    d->next_load = seq + 1;
    window_check(d);
    return CT_OK;
}

static token_rec *token_find(dstate *d, uint64_t token)
{
    for (size_t i = 0; i < d->ntok; i++)
        if (d->tokens[i].token == token && d->tokens[i].n) return &d->tokens[i];
    return NULL;
}

/* ---- sending ---- */

static ct_err send_batch(dstate *d, void *sock, int64_t now, const size_t *idxs, size_t n,
                         bool *blocked)
{
    *blocked = false;
    for (size_t i = 0; i < n; i++) {
        d->evs[i].data = d->slots[idxs[i]].bytes;
        d->evs[i].len = d->slots[idxs[i]].len;
    }
    uint64_t token = ++d->next_token;
    ct_buf_reset(&d->out);
    ct_err e = ct_wire_submit_encode_ep(token, d->evs, n, true, d->epoch, &d->out);
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
    token_rec *tr = &d->tokens[d->tokpos];
    d->tokpos = (d->tokpos + 1) % d->ntok;
    tr->token = token;
    tr->n = n;
    for (size_t i = 0; i < n; i++) {
        slot_t *s = &d->slots[idxs[i]];
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
static ct_err send_some(dstate *d, void *sock, int64_t now)
{
    if (d->nqueued == 0 || now < d->blocked_until) return CT_OK;
    size_t idxs[CT_WIRE_MAX_EVENTS];
    size_t n = 0;
    bool blocked = false;
    for (size_t i = 0; i < d->rcount && d->nqueued > n; i++) {
        ring_ent *r = ring_at(d, i);
        if (!ring_valid(d, r)) continue;
        slot_t *s = &d->slots[r->idx];
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

static void note_ack(dstate *d, uint64_t seq, const ct_ack_item *it, bool has_safe)
{
    slot_t *s = lookup(d, seq);
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

static const char *cur_ep(const dstate *d)
{
    return d->o->n_endpoints ? d->o->endpoints[d->ep] : d->o->endpoint;
}

/* Asks for a move to the next endpoint (at most one per REFUSED_HOLD_MS). */
static void want_move(dstate *d, int64_t now)
{
    if (d->o->n_endpoints < 2 || d->move_at) return;
    d->move_at = d->moved_ms + REFUSED_HOLD_MS > now ? d->moved_ms + REFUSED_HOLD_MS : now;
}

static void handle_msg(dstate *d, const uint8_t *buf, size_t len)
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
        if (x == 0) x = 1; /* an aggregator that predates epochs */
        if (x < d->epoch) {
            d->st->stale_acks++;
            if (d->st->stale_acks == 1 || d->st->stale_acks % 1000 == 0)
                ct_log(CT_LOG_ERROR,
                       "refusing an ack from a former primary: its epoch is older than one "
                       "this outbox has seen; nothing of it counts, the events stay queued",
                       "server=%s its_epoch=%" PRIu64 " our_epoch=%" PRIu64
                       " refused_acks=%" PRIu64,
                       cur_ep(d), x, d->epoch, d->st->stale_acks);
            want_move(d, ct_monotonic_ms());
            return;
        }
        if (x > d->epoch && d->epoch != 0) {
            /* a promotion happened: seqs and safe of the old epoch mean
             * nothing on this log. Settle what the old primary confirmed
             * safe, then start over on this one (the caller resets) */
            d->epoch_raised = true;
            d->epoch_to = x;
            return;
        }
        if (x > d->epoch) {
            if (ct_outbox_raise_epoch(d->ob, x) != CT_OK) return; /* asked again later */
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
        token_rec *tr = token_find(d, token);
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
    } else if (kind == CT_MSG_ERROR) {
        bool has_token;
        uint64_t token;
        uint16_t code;
        e = ct_wire_error_decode(buf, len, &has_token, &token, &code);
        if (e != CT_OK) {
            ct_log(CT_LOG_WARN, "bad err reply", "err=%s", ct_err_name(e));
            return;
        }
        if (has_token && ct_telemetry_answer(&d->tel, token, code, cur_ep(d), &d->st->telemetry))
            return;
        d->st->errors++;
        if (code == CT_ERR_NOT_PRIMARY || code == CT_ERR_STALE_EPOCH) {
            if (d->st->refusals++ % 1000 == 0)
                ct_log(CT_LOG_WARN,
                       code == CT_ERR_NOT_PRIMARY
                           ? "this endpoint is a follower, not the primary; trying the next one"
                           : "this endpoint is a former primary (older epoch); trying the next "
                             "one",
                       "server=%s reason=%s endpoints=%zu", cur_ep(d), ct_err_name(code),
                       d->o->n_endpoints ? d->o->n_endpoints : 1);
            want_move(d, ct_monotonic_ms());
            return;
        }
        ct_log(CT_LOG_WARN, "aggregator refused a submit (will resend later)",
               "reason=%s detail=\"%s\"", ct_err_name(code), ct_err_str(code));
    } else {
        ct_log(CT_LOG_WARN, "unexpected message kind from the aggregator", "kind=%d", (int)kind);
    }
}

/* A group of settles (or a sweep) is due: see SETTLE_DELAY_MS. */
static bool settle_due(dstate *d, int64_t now, bool stopping)
{
    if (d->nsettle == 0 && d->safe <= d->swept_safe) {
        d->settle_since = 0;
        return false;
    }
    if (!d->settle_since) d->settle_since = now;
    return stopping || d->nsettle >= SETTLE_GROUP || d->nfree == 0 || d->used == d->nsettle ||
           now - d->settle_since >= SETTLE_DELAY_MS;
}

static ct_err settle_now(dstate *d, int64_t now)
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
            slot_t *s = lookup(d, d->settle[i].seq);
            if (s) s->settling = false;
        }
        d->nsettle = 0;
        return e;
    }
    for (size_t i = 0; i < d->nsettle; i++) {
        slot_t *s = lookup(d, d->settle[i].seq);
        if (s) slot_free(d, s);
    }
    d->swept_safe = safe;
    if (d->nsettle == 0) return CT_OK; /* a sweep only */
    d->nsettle = 0;
    d->acked_since_resend = true;
    d->resend_timeout = d->o->resend_ms;
    (void)now;
    return CT_OK;
}

static void drain(dstate *d, void *sock, int64_t now)
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

static void resend_check(dstate *d, int64_t now)
{
    bool any = false;
    for (size_t i = 0; i < d->cap; i++) {
        slot_t *s = &d->slots[i];
        if (s->seq == 0 || s->queued || s->settling || s->sent_ms == 0) continue;
        if (now - s->sent_ms >= d->resend_timeout) {
            mark_send(d, i);
            any = true;
        }
    }
    if (any) {
        if (!d->acked_since_resend) {
            d->resend_timeout *= 2;
            if (d->resend_timeout > d->o->resend_max_ms) d->resend_timeout = d->o->resend_max_ms;
        }
        d->acked_since_resend = false;
    }
}

static void resend_all(dstate *d)
{
    for (size_t i = 0; i < d->cap; i++) {
        slot_t *s = &d->slots[i];
        if (s->seq && !s->queued && !s->settling && s->sent_ms) mark_send(d, i);
    }
}

/* Ack latency percentile in ms (upper edge of the bucket). */
static double lat_pct(const dstate *d, double q)
{
    if (d->lat_n == 0) return 0;
    uint64_t want = (uint64_t)((double)d->lat_n * q);
    if (want >= d->lat_n) want = d->lat_n - 1;
    uint64_t acc = 0;
    for (size_t i = 0; i <= LAT_BUCKETS; i++) {
        acc += d->lat[i];
        if (acc > want) return (double)((i + 1) * LAT_STEP_US) / 1000.0;
    }
    return (double)(LAT_BUCKETS * LAT_STEP_US) / 1000.0;
}

/* ---- monitor ---- */

/* A safe watermark belongs to one aggregator log: on a new connection (the
 * endpoint may now be served by another store) what was learnt on the old
 * one is settled, then forgotten, and the events marked committed there
 * are sent again, to be marked with this log's seqs. */
static void forget_safe(dstate *d, int64_t now, const char *why)
{
    settle_now(d, now);
    size_t unmarked = 0;
    if (ct_outbox_unmark_all(d->ob, &unmarked) != CT_OK) return; /* the sweep is then 0 */
    if (unmarked)
        ct_log(CT_LOG_INFO,
               "resending events committed but not yet safe on the previous connection",
               "server=%s reason=%s count=%zu", cur_ep(d), why, unmarked);
    d->safe = d->swept_safe = 0;
    d->safe_moved_ms = now;
    d->safe_seen = false;
    d->next_load = 1;
}

static void handle_monitor(dstate *d, void *mon, const char *ep)
{
    ct_zmon_event ev;
    for (;;) {
        ct_err e = ct_zmon_read(mon, ZMQ_DONTWAIT, &ev);
        if (e == CT_ERR_MALFORMED) continue;
        if (e != CT_OK) return;
        int64_t now = ct_monotonic_ms();
        switch (ev.event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            forget_safe(d, now, "connected");
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
            resend_all(d);
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

/* ---- the safe watermark ---- */

static ct_err poll_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    dstate *d = ctx;
    (void)seq;
    ct_bytes one = {ev, len};
    ct_buf_reset(&d->out);
    ct_err e = ct_wire_submit_encode_ep(++d->next_token, &one, 1, true, d->epoch, &d->out);
    if (e == CT_OK) zmq_send(d->sock, d->out.data, d->out.len, ZMQ_DONTWAIT);
    return CT_OK;
}

/* Events committed at HQ but not yet safe wait for an ack carrying a higher
 * "f". With nothing else to send, no ack would come: resend the oldest of
 * them (HQ answers duplicate, with the current "f") once a second. */
static void poll_safe(dstate *d, int64_t now)
{
    if (!d->connected || now - d->last_safe_ms < SAFE_POLL_MS) return;
    ct_outbox_info in;
    if (ct_outbox_get_info(d->ob, &in) != CT_OK || in.committed == 0) return;
    d->last_safe_ms = now;
    ct_outbox_committed_first(d->ob, poll_cb, d);
}

/* ---- endpoints and epochs ---- */

/* Moves the DEALER to the next endpoint: whatever went out may be lost
 * with the old connection, so everything in flight is sent again. */
static void move_endpoint(dstate *d, void *sock, int64_t now, const char *why)
{
    const char *from = cur_ep(d);
    zmq_disconnect(sock, from);
    d->ep = (d->ep + 1) % d->o->n_endpoints;
    /* the CURVE server key applies to the connections made after it is set */
    if (d->o->secure && zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY,
                                       ct_deliver_server_key(d->o, d->ep), CT_Z85_KEY_LEN + 1) != 0)
        ct_log(CT_LOG_ERROR, "cannot set the server key", "server=%s err=\"%s\"", cur_ep(d),
               zmq_strerror(errno));
    if (zmq_connect(sock, cur_ep(d)) != 0)
        ct_log(CT_LOG_ERROR, "cannot connect", "server=%s err=\"%s\"", cur_ep(d),
               zmq_strerror(errno));
    d->st->moves++;
    forget_safe(d, now, "endpoint");
    ct_log(CT_LOG_INFO, "trying the next aggregator endpoint", "from=%s to=%s reason=%s", from,
           cur_ep(d), why);
    d->connected = false;
    d->move_at = 0;
    d->moved_ms = now;
    d->last_heard = now;
    resend_all(d);
}

/* An ack carried a higher epoch than the one the outbox knew: a follower
 * was promoted. What the old primary called safe was settled; from here its
 * seqs and safe watermark mean nothing, so the events it had committed but
 * not made safe are sent again to this primary. */
static void start_epoch(dstate *d, int64_t now)
{
    settle_now(d, now);
    if (ct_outbox_raise_epoch(d->ob, d->epoch_to) != CT_OK) return; /* tried again */
    size_t unmarked = 0;
    if (ct_outbox_unmark_all(d->ob, &unmarked) != CT_OK) return;
    ct_log(CT_LOG_WARN,
           "a newer epoch: a follower was promoted; resending the events the old primary had "
           "committed but not made safe",
           "server=%s epoch=%" PRIu64 " previous_epoch=%" PRIu64 " resending=%zu", cur_ep(d),
           d->epoch_to, d->epoch, unmarked);
    d->epoch = d->epoch_to;
    d->epoch_raised = false;
    d->safe = d->swept_safe = 0;
    d->safe_moved_ms = now;
    d->safe_seen = false;
    d->next_load = 1;
    resend_all(d);
}

/* ---- main loop ---- */

static void dstate_free(dstate *d)
{
    if (d->slots)
        for (size_t i = 0; i < d->cap; i++)
            free(d->slots[i].bytes);
    if (d->tokens)
        for (size_t i = 0; i < d->ntok; i++)
            free(d->tokens[i].seqs);
    free(d->slots);
    free(d->freelist);
    free(d->hash);
    free(d->ring);
    free(d->tokens);
    free(d->evs);
    free(d->items);
    free(d->settle);
    free(d->settle_q);
    free(d->settle_log);
    ct_buf_free(&d->out);
}

/* Slots: the window of unacked events plus as many acked-but-not-yet-settled
 * ones (settled after the next sends, so the outbox fsync overlaps the
 * aggregator's work on them), at least SETTLE_GROUP of those. */
static ct_err dstate_init(dstate *d, size_t window, size_t batch)
{
    d->window = window;
    window += window > SETTLE_GROUP ? window : SETTLE_GROUP;
    d->cap = window;
    size_t hsz = 16;
    while (hsz < 2 * window)
        hsz <<= 1;
    d->hmask = hsz - 1;
    d->ntok = 2 * (window / batch) + 8;
    d->slots = calloc(window, sizeof *d->slots);
    d->freelist = calloc(window, sizeof *d->freelist);
    d->hash = calloc(hsz, sizeof *d->hash);
    d->ring = calloc(window, sizeof *d->ring);
    d->tokens = calloc(d->ntok, sizeof *d->tokens);
    d->evs = calloc(batch, sizeof *d->evs);
    d->items = calloc(CT_WIRE_MAX_EVENTS, sizeof *d->items);
    d->settle = calloc(window, sizeof *d->settle); /* one per held slot at most */
    d->settle_q = calloc(window, sizeof *d->settle_q);
    d->settle_log = calloc(window, sizeof *d->settle_log);
    if (!d->slots || !d->freelist || !d->hash || !d->ring || !d->tokens || !d->evs || !d->items ||
        !d->settle || !d->settle_q || !d->settle_log)
        return CT_ERR_NOMEM;
    for (size_t i = 0; i < d->ntok; i++) {
        d->tokens[i].seqs = calloc(batch, sizeof(uint64_t));
        if (!d->tokens[i].seqs) return CT_ERR_NOMEM;
    }
    for (size_t i = 0; i < window; i++)
        d->freelist[i] = window - 1 - i;
    d->nfree = window;
    return CT_OK;
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
    dstate d;
    memset(&d, 0, sizeof d);
    d.o = o;
    d.ob = ob;
    d.st = st;
    d.info = info;
    d.next_load = 1;
    d.resend_timeout = o->resend_ms;
    size_t batch = o->batch < o->window ? o->batch : o->window;
    e = dstate_init(&d, o->window, batch);
    if (e != CT_OK) {
        dstate_free(&d);
        snprintf(err, errlen, "out of memory for a window of %zu", o->window);
        return e;
    }
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    void *mon = NULL;
    if (!sock || (e = ct_deliver_socket_setup(sock, o)) != CT_OK) {
        snprintf(err, errlen, "cannot set up the socket: %s", zmq_strerror(errno));
        if (sock) zmq_close(sock);
        dstate_free(&d);
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
    if (zmq_connect(sock, cur_ep(&d)) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", cur_ep(&d), zmq_strerror(errno));
        ct_zmon_close(sock, mon);
        zmq_close(sock);
        dstate_free(&d);
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
           cur_ep(&d), o->n_endpoints ? o->n_endpoints : 1, o->secure ? "curve" : "NO", o->window,
           batch, info.queued, d.epoch);

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
        window_check(&d);
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
            e = ct_outbox_scan_unsent(ob, d.next_load, want, load_cb, &d, &next_from);
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
            e = send_some(&d, sock, now);
            if (e != CT_OK) {
                snprintf(err, errlen, "sending failed");
                result = e;
                break;
            }
        }
        /* acks drained in the last rounds: one durable transaction, after the
         * sends above so the aggregator works while the outbox fsyncs, when a
         * group is due (settle_due). A failure keeps the events in the
         * window; they are resent and acked again. */
        if (d.epoch_raised) start_epoch(&d, now);
        if (settle_due(&d, now, stopping)) settle_now(&d, now);
        if (!stopping) poll_safe(&d, now);
        if (!stopping && d.connected)
            ct_telemetry_send(&d.tel, ob, sock, o->telemetry_s, now, &d.next_token, &d.out);
        if (o->n_endpoints > 1 && !d.move_at && now - d.last_heard > FAILOVER_MS) {
            ct_outbox_info in;
            if (d.used > 0 || (ct_outbox_get_info(ob, &in) == CT_OK && in.committed > 0))
                want_move(&d, now);
            else
                d.last_heard = now; /* nothing waits for an answer */
        }
        if (d.move_at && now >= d.move_at)
            move_endpoint(&d, sock, now, now - d.last_heard > FAILOVER_MS ? "silent" : "refused");
        if (now >= next_resend) {
            resend_check(&d, now);
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
                         cur_ep(&d), o->give_up_s, d.safe, in.committed);
                result = CT_ERR_TIMEOUT;
                break;
            }
        }
        if (o->give_up_s > 0 && d.used > 0 && now - d.last_heard > (int64_t)o->give_up_s * 1000) {
            snprintf(err, errlen,
                     "aggregator %s unreachable: no reply for %d s (%s; %zu events in the "
                     "window, all kept in the outbox)",
                     cur_ep(&d), o->give_up_s,
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
                       " moves=%" PRIu64 " stale_acks=%" PRIu64,
                       in.queued, d.used,
                       secs > 0 ? (double)(acked - d.acked_at_last_stats) / secs : 0, st->sent,
                       st->resent, st->accepted, st->duplicates, st->rejected, lat_pct(&d, 0.5),
                       lat_pct(&d, 0.99), d.connected ? "yes" : "no", in.committed, d.safe,
                       cur_ep(&d), d.epoch, st->moves, st->stale_acks);
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
        if (mon && rc > 0 && (items[1].revents & ZMQ_POLLIN)) handle_monitor(&d, mon, cur_ep(&d));
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            drain(&d, sock, now);
        }
    }
    st->ack_p50_ms = lat_pct(&d, 0.5);
    st->ack_p99_ms = lat_pct(&d, 0.99);
    /* settle whatever arrived during the last round */
    if (d.nsettle || d.safe > d.swept_safe) settle_now(&d, ct_monotonic_ms());
    {
        ct_outbox_info in;
        if (ct_outbox_get_info(ob, &in) == CT_OK)
            ct_log(CT_LOG_INFO, "delivery finished",
                   "queued=%" PRIu64 " delivered_total=%" PRIu64 " rejected_total=%" PRIu64
                   " sent=%" PRIu64 " resent=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64
                   " rejected=%" PRIu64 " ack_p50_ms=%.2f ack_p99_ms=%.2f ack_p999_ms=%.2f"
                   " settles=%" PRIu64 " settle_ms=%.0f",
                   in.queued, in.delivered, in.rejected, st->sent, st->resent, st->accepted,
                   st->duplicates, st->rejected, lat_pct(&d, 0.5), lat_pct(&d, 0.99),
                   lat_pct(&d, 0.999), st->settles, st->settle_ms);
    }
    ct_zmon_close(sock, mon);
    zmq_close(sock);
    dstate_free(&d);
    return result;
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
