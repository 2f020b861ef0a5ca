/* ct_deliver_window.c — the deliverer's window: the slots of the events it
 * holds, the open-addressing hash from seq to slot, the ring in seq order,
 * the tokens of the submits in flight, resend marking and the ack latency
 * histogram.
 *
 * Invariants: every slot is either free (on the freelist) or held; the hash
 * holds exactly the held slots (backward-shift deletion keeps probe chains
 * intact); the ring lists held slots in load order, entries whose slot was
 * freed or reused (another generation) being holes; nqueued counts the held
 * slots marked for sending; a settling slot is never marked.
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

static void hash_insert(ct_deliver_state *d, uint64_t seq, size_t idx)
{
    size_t i = ct_deliver_hslot(d, seq);
    while (d->hash[i])
        i = (i + 1) & d->hmask;
    d->hash[i] = (uint32_t)(idx + 1);
}

static void hash_remove(ct_deliver_state *d, uint64_t seq)
{
    size_t i = ct_deliver_hslot(d, seq);
    while (d->hash[i] && d->slots[d->hash[i] - 1].seq != seq)
        i = (i + 1) & d->hmask;
    if (!d->hash[i]) return;
    d->hash[i] = 0;
    /* backward-shift deletion keeps probe chains intact */
    size_t j = (i + 1) & d->hmask;
    while (d->hash[j]) {
        uint32_t v = d->hash[j];
        size_t home = ct_deliver_hslot(d, d->slots[v - 1].seq);
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
void ct_deliver_window_check(const ct_deliver_state *d)
{
    assert(d->used + d->nfree == d->cap);
    assert(d->used <= d->cap);
    assert(d->rhead < d->cap);
    assert(d->rcount <= d->cap);
    assert(d->nqueued <= d->used);
    assert(d->nsettle <= d->used);
    (void)d;
}

void ct_deliver_mark_send(ct_deliver_state *d, size_t idx)
{
    ct_deliver_slot *s = &d->slots[idx];
    if (s->queued || s->settling || s->seq == 0) return;
    s->queued = true;
    d->nqueued++;
}

static void ring_trim(ct_deliver_state *d)
{
    while (d->rcount && !ct_deliver_ring_valid(d, ct_deliver_ring_at(d, 0))) {
        d->rhead = (d->rhead + 1) % d->cap;
        d->rcount--;
    }
}

static void ring_compact(ct_deliver_state *d)
{
    size_t w = 0;
    for (size_t i = 0; i < d->rcount; i++) {
        ct_deliver_ring_ent e = *ct_deliver_ring_at(d, i);
        if (ct_deliver_ring_valid(d, &e)) *ct_deliver_ring_at(d, w++) = e;
    }
    d->rcount = w;
}

void ct_deliver_slot_free(ct_deliver_state *d, ct_deliver_slot *s)
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

ct_err ct_deliver_load_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    ct_deliver_state *d = ctx;
    d->scan_calls++;
    if (ct_deliver_lookup(d, seq)) { /* a rescan (requeue, connection, epoch) meets held events */
        d->next_load = seq + 1;
        return CT_OK;
    }
    if (d->nfree == 0) return CT_ERR_TOO_MANY; /* cannot happen: scan max = nfree */
    uint8_t *copy = malloc(len);
    if (!copy) return CT_ERR_NOMEM;
    memcpy(copy, ev, len);
    size_t idx = d->freelist[--d->nfree];
    ct_deliver_slot *s = &d->slots[idx];
    memset(s, 0, sizeof *s);
    s->seq = seq;
    s->gen = ++d->loads;
    s->bytes = copy;
    s->len = len;
    hash_insert(d, seq, idx);
    d->used++;
    ring_trim(d);
    if (d->rcount == d->cap) ring_compact(d);
    ct_deliver_ring_ent *r = ct_deliver_ring_at(d, d->rcount++);
    r->idx = idx;
    r->gen = s->gen;
    ct_deliver_mark_send(d, idx);
    d->next_load = seq + 1;
    ct_deliver_window_check(d);
    return CT_OK;
}

ct_deliver_token *ct_deliver_token_find(ct_deliver_state *d, uint64_t token)
{
    for (size_t i = 0; i < d->ntok; i++)
        if (d->tokens[i].token == token && d->tokens[i].n) return &d->tokens[i];
    return NULL;
}

void ct_deliver_resend_check(ct_deliver_state *d, int64_t now)
{
    bool any = false;
    for (size_t i = 0; i < d->cap; i++) {
        ct_deliver_slot *s = &d->slots[i];
        if (s->seq == 0 || s->queued || s->settling || s->sent_ms == 0) continue;
        if (now - s->sent_ms >= d->resend_timeout) {
            ct_deliver_mark_send(d, i);
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

void ct_deliver_resend_all(ct_deliver_state *d)
{
    for (size_t i = 0; i < d->cap; i++) {
        ct_deliver_slot *s = &d->slots[i];
        if (s->seq && !s->queued && !s->settling && s->sent_ms) ct_deliver_mark_send(d, i);
    }
}

/* Ack latency percentile in ms (upper edge of the bucket). */
double ct_deliver_lat_pct(const ct_deliver_state *d, double q)
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

void ct_deliver_state_free(ct_deliver_state *d)
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
ct_err ct_deliver_state_init(ct_deliver_state *d, size_t window, size_t batch)
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
