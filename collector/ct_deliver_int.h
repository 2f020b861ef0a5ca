/* ct_deliver_int.h — the deliverer's state, shared by the files of one
 * delivery run: ct_deliver.c (options and the loop), ct_deliver_window.c
 * (the window of held events, its hash, ring and tokens),
 * ct_deliver_wire.c (sending submits, reading acks and errs),
 * ct_deliver_safe.c (grouped settles and the safe watermark) and
 * ct_deliver_ep.c (socket setup, connection events, endpoints, epochs,
 * the probe). Private to collector/.
 *
 * Invariants: the window holds at most o->window slots; the ring lists the
 * window's events in seq order (entries whose slot was freed or reused are
 * holes, skipped and compacted away), so first sends and resends both go out
 * in creation order (requeued events are appended after the ones held); a
 * slot is freed only after its ack was settled durably in the outbox (or, for
 * a settle failure, never: it is resent and acked as duplicate later).
 */
#ifndef CT_DELIVER_INT_H
#define CT_DELIVER_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_deliver.h"
#include "ct_outbox.h"
#include "ct_telemetry.h"
#include "ct_wire.h"

#define RESEND_CHECK_MS 100
#define BLOCKED_RETRY_MS 100
#define MAX_DRAIN 256
#define STOP_GRACE_MS 1000
#define LAT_STEP_US 50
#define LAT_BUCKETS 4000  /* 50 us steps up to 200 ms, then one overflow bucket */
#define SAFE_POLL_MS 1000 /* no word of safe for this long: resend a kept event */
/* the same, once the aggregator took "sp" on this connection: it pushes "sf"
 * when safe moves, so the poll only covers a push that got lost */
#define SAFE_POLL_PUSH_MS 10000
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
} ct_deliver_slot;

typedef struct {
    size_t idx;
    uint64_t gen;
} ct_deliver_ring_ent;

typedef struct {
    uint64_t token;
    size_t n;
    uint64_t *seqs;
} ct_deliver_token;

typedef struct {
    const ct_deliver_opts *o;
    ct_outbox *ob;
    ct_outbox_info info;     /* the origin history: an event's id from its seq */
    bool conflict_explained; /* the conflict explanation was logged this run */
    ct_deliver_stats *st;
    /* window */
    ct_deliver_slot *slots;
    size_t cap, used; /* cap = window + max(window, SETTLE_GROUP) */
    size_t window;
    size_t *freelist;
    size_t nfree;
    uint32_t *hash; /* slot index + 1, 0 = empty */
    size_t hmask;
    ct_deliver_ring_ent *ring;
    size_t rhead, rcount;
    size_t nqueued;     /* slots with queued set */
    uint64_t next_load; /* next seq to load from the outbox */
    size_t scan_calls;  /* events the current scan passed on, held ones included */
    uint64_t loads;     /* events loaded so far (slot generations) */
    /* tokens */
    ct_deliver_token *tokens;
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
    /* the pushed watermark on this connection: the aggregator refused "sp"
     * (it predates it: submits go without); an ack to a submit with "sp"
     * came back (it pushes "sf") */
    bool push_off, push_ok;
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
} ct_deliver_state;

static inline size_t ct_deliver_hslot(const ct_deliver_state *d, uint64_t seq)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & d->hmask;
}

static inline ct_deliver_slot *ct_deliver_lookup(ct_deliver_state *d, uint64_t seq)
{
    size_t i = ct_deliver_hslot(d, seq);
    while (d->hash[i]) {
        ct_deliver_slot *s = &d->slots[d->hash[i] - 1];
        if (s->seq == seq) return s;
        i = (i + 1) & d->hmask;
    }
    return NULL;
}

static inline bool ct_deliver_ring_valid(const ct_deliver_state *d, const ct_deliver_ring_ent *r)
{
    return d->slots[r->idx].seq != 0 && d->slots[r->idx].gen == r->gen;
}

static inline ct_deliver_ring_ent *ct_deliver_ring_at(ct_deliver_state *d, size_t i)
{
    assert(i < d->cap);
    return &d->ring[(d->rhead + i) % d->cap];
}

/* ---- the window (ct_deliver_window.c) ---- */

/* Allocates the slots, hash, ring, tokens and scratch of a window of
 * `window` events sent `batch` at a time; ct_deliver_state_free releases
 * them (also after a failed init). */
ct_err ct_deliver_state_init(ct_deliver_state *d, size_t window, size_t batch);
void ct_deliver_state_free(ct_deliver_state *d);
/* asserts the window's invariants */
void ct_deliver_window_check(const ct_deliver_state *d);
/* marks a held slot for sending (no-op when queued, settling or free) */
void ct_deliver_mark_send(ct_deliver_state *d, size_t idx);
void ct_deliver_slot_free(ct_deliver_state *d, ct_deliver_slot *s);
/* ct_outbox_scan_unsent's callback: loads one event into a free slot */
ct_err ct_deliver_load_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len);
ct_deliver_token *ct_deliver_token_find(ct_deliver_state *d, uint64_t token);
/* marks the events in flight longer than the resend timeout, doubling it
 * while nothing gets acked */
void ct_deliver_resend_check(ct_deliver_state *d, int64_t now);
/* marks every event in flight */
void ct_deliver_resend_all(ct_deliver_state *d);
/* ack latency percentile in ms (upper edge of the bucket) */
double ct_deliver_lat_pct(const ct_deliver_state *d, double q);

/* ---- sending and receiving (ct_deliver_wire.c) ---- */

/* Sends every slot marked for sending, in seq order, in batches. */
ct_err ct_deliver_send_some(ct_deliver_state *d, void *sock, int64_t now);
/* Reads up to MAX_DRAIN replies and notes their acks for settling. */
void ct_deliver_drain(ct_deliver_state *d, void *sock, int64_t now);

/* ---- settles and the safe watermark (ct_deliver_safe.c) ---- */

bool ct_deliver_settle_due(ct_deliver_state *d, int64_t now, bool stopping);
ct_err ct_deliver_settle_now(ct_deliver_state *d, int64_t now);
void ct_deliver_forget_safe(ct_deliver_state *d, int64_t now, const char *why);
void ct_deliver_poll_safe(ct_deliver_state *d, int64_t now);
/* A watermark from an ack or an "sf" push of epoch x (0: an aggregator that
 * predates epochs): false when the message counts for nothing (an older
 * epoch, or a newer one: the caller's loop starts that epoch); else the
 * epoch is taken and, with has_safe, safe raised to `safe`. */
bool ct_deliver_take_safe(ct_deliver_state *d, uint64_t x, bool has_safe, uint64_t safe);
/* Encodes a submit of evs[0..n) into d->out, with "w", "ep" and, unless
 * the aggregator refused it on this connection, "sp". */
ct_err ct_deliver_encode_submit(ct_deliver_state *d, uint64_t token, const ct_bytes *evs, size_t n);

/* ---- endpoints and epochs (ct_deliver_ep.c) ---- */

const char *ct_deliver_cur_ep(const ct_deliver_state *d);
void ct_deliver_want_move(ct_deliver_state *d, int64_t now);
void ct_deliver_handle_monitor(ct_deliver_state *d, void *mon, const char *ep);
void ct_deliver_move_endpoint(ct_deliver_state *d, void *sock, int64_t now, const char *why);
void ct_deliver_start_epoch(ct_deliver_state *d, int64_t now);

#endif
