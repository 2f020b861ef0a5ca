/* ct_audit.c — the audit engine (ct_audit.h). One ct_audit owns its person
 * map and recount table (freed by ct_audit_free); records are borrowed for
 * the duration of one ct_audit_record call. */
#include "ct_audit.h"
#include "ct_audit_int.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ct_time.h"

/* ---- the pipeline ---- */

#define CT_AUDIT_BATCH 512
#define CT_AUDIT_NBATCH 16

enum { B_FREE = 0, B_FILLING, B_QUEUED, B_WORKING, B_DONE };

typedef struct {
    ct_audit_item *items;
    size_t n;
    uint8_t *arena; /* event bytes of the items */
    size_t used, cap;
    uint8_t prev[CT_LOGREC_HASH_LEN]; /* stored hash of the record before items[0] */
    int state;
} ct_audit_batch;

struct ct_audit_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *thr;
    unsigned n_thr;
    bool quit;
    ct_audit_batch b[CT_AUDIT_NBATCH];
    uint64_t fill;  /* number of the batch being filled */
    uint64_t drain; /* number of the next batch to tally */
    const ct_campaign *c;
    ct_store *ids;
};

static void batch_stage1(struct ct_audit_pool *p, ct_audit_batch *b, ct_campaign_checker *checker)
{
    for (size_t i = 0; i < b->n; i++)
        ct_audit_check_record(p->c, checker, p->ids, &b->items[i],
                              i ? b->items[i - 1].rec.hash : b->prev);
}

static void *worker(void *arg)
{
    struct ct_audit_pool *p = arg;
    ct_campaign_checker *checker = NULL; /* stays NULL without memory: plain checks */
    (void)ct_campaign_checker_new(p->c, &checker);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        ct_audit_batch *b = NULL;
        for (uint64_t k = p->drain; k < p->fill + 1 && !b; k++)
            if (p->b[k % CT_AUDIT_NBATCH].state == B_QUEUED) b = &p->b[k % CT_AUDIT_NBATCH];
        if (!b) {
            if (p->quit) break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        b->state = B_WORKING;
        pthread_mutex_unlock(&p->mu);
        batch_stage1(p, b, checker);
        pthread_mutex_lock(&p->mu);
        b->state = B_DONE;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    ct_campaign_checker_free(checker);
    return NULL;
}

static void pool_free(struct ct_audit_pool *p)
{
    if (!p) return;
    if (p->thr) {
        pthread_mutex_lock(&p->mu);
        p->quit = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (unsigned i = 0; i < p->n_thr; i++)
            pthread_join(p->thr[i], NULL);
        free(p->thr);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    for (int i = 0; i < CT_AUDIT_NBATCH; i++) {
        free(p->b[i].items);
        free(p->b[i].arena);
    }
    free(p);
}

static struct ct_audit_pool *pool_new(const ct_audit_opts *o)
{
    struct ct_audit_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->c = o->campaign;
    p->ids = o->ids_store;
    for (int i = 0; i < CT_AUDIT_NBATCH; i++) {
        p->b[i].items = malloc(CT_AUDIT_BATCH * sizeof *p->b[i].items);
        p->b[i].cap = (size_t)CT_AUDIT_BATCH * 256;
        p->b[i].arena = malloc(p->b[i].cap);
        if (!p->b[i].items || !p->b[i].arena) {
            pool_free(p);
            return NULL;
        }
    }
    /* the calling thread checks batches too while it waits (drain), so
     * `threads` checking threads = threads - 1 workers */
    unsigned n_workers = o->threads - 1;
    p->thr = calloc(n_workers, sizeof *p->thr);
    if (!p->thr) {
        pool_free(p);
        return NULL;
    }
    p->b[0].state = B_FILLING; /* before the workers start: they read states */
    for (unsigned i = 0; i < n_workers; i++) {
        if (pthread_create(&p->thr[i], NULL, worker, p) != 0) break;
        p->n_thr++;
    }
    if (p->n_thr == 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

void ct_audit_init(ct_audit *a, const ct_audit_opts *o, uint64_t first_seq,
                   const uint8_t prev[CT_LOGREC_HASH_LEN])
{
    memset(a, 0, sizeof *a);
    a->o = *o;
    if (a->o.stop_time_ms == 0) a->o.stop_time_ms = INT64_MAX;
    a->expect = first_seq;
    a->first_seq = first_seq;
    a->last_seq = first_seq - 1;
    memcpy(a->head, prev, CT_LOGREC_HASH_LEN);
    memcpy(a->scan_prev, prev, CT_LOGREC_HASH_LEN);
    ct_pmap_init(&a->persons);
    ct_counts_init(&a->counts);
    (void)ct_campaign_checker_new(o->campaign, &a->checker); /* NULL: plain checks */
    a->t0_ms = ct_monotonic_ms();
    a->next_progress_ms = a->t0_ms + 1000;
    if (a->o.threads > 1) {
        a->pool = pool_new(&a->o); /* NULL: fall back to one thread */
        if (!a->pool)
            a->o.threads = 1;
        else
            memcpy(a->pool->b[0].prev, prev, CT_LOGREC_HASH_LEN);
    }
}

void ct_audit_result_get(const ct_audit *a, ct_audit_result *out)
{
    memset(out, 0, sizeof *out);
    out->diverged = a->diverged;
    out->bad_seq = a->bad_seq;
    out->finding = a->diverged ? a->finding : "";
    out->stopped = a->stopped;
    out->first_seq = a->first_seq;
    out->last_seq = a->last_seq;
    memcpy(out->head, a->head, CT_LOGREC_HASH_LEN);
    out->last_received_ms = a->last_received_ms;
    out->n_records = a->n_records;
    out->n_persons = a->persons.n;
    out->n_life = a->n_life;
    out->n_unapplied = a->n_unapplied;
    out->more = a->diverged && a->more.len ? (const char *)a->more.data : "";
    out->counts = &a->counts;
}

static ct_err raw_record(uint64_t key, const uint8_t *raw, size_t raw_len, void *arg);

ct_err ct_audit_run(ct_audit *a, const ct_audit_src *src, uint64_t to_seq, char *err, size_t errlen)
{
    assert(!!src->store != !!src->file);
    char msg[512] = "";
    uint64_t bad = 0;
    if (src->file) {
        ct_err rc = ct_ctlog_scan(src->file, ct_audit_record, a, &bad, msg, sizeof msg);
        ct_audit_finish(a);
        if (rc && !a->diverged && !a->stopped && !a->err)
            ct_audit_diverge(a, src->file->from + bad, "seq %" PRIu64 ": %s: %s",
                             src->file->from + bad, src->name, msg);
    } else {
        ct_err rc = ct_store_log_scan_raw(src->store, 1, to_seq, raw_record, a, &bad);
        ct_audit_finish(a);
        /* a record that does not decode (found by stage 2, in order) or a
         * key that is not a seq (found by the scan; one past the stop is
         * never reached by a walk that stopped) */
        if (a->corrupt_seq)
            bad = a->corrupt_seq;
        else if (rc != CT_ERR_STORE_CORRUPT || a->stopped)
            bad = 0;
        if (bad && !a->diverged)
            ct_audit_diverge(a, bad,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "the stored record does not decode or holds another seq",
                             bad);
        else if (rc && rc != CT_ERR_STORE_CORRUPT && !a->diverged && !a->stopped && !a->err)
            a->err = rc;
    }
    if (a->err) {
        snprintf(err, errlen, "scan failed: %s", ct_err_str(a->err));
        return a->err;
    }
    return CT_OK;
}

void ct_audit_free(ct_audit *a)
{
    pool_free(a->pool);
    a->pool = NULL;
    free(a->idfp);
    a->idfp = NULL;
    free(a->tfp);
    a->tfp = NULL;
    ct_buf_free(&a->more);
    ct_campaign_checker_free(a->checker);
    a->checker = NULL;
    ct_pmap_free(&a->persons);
    ct_counts_free(&a->counts);
}

void ct_audit_diverge(ct_audit *a, uint64_t seq, const char *fmt, ...)
{
    if (a->diverged) return;
    a->diverged = true;
    a->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->finding, sizeof a->finding, fmt, ap);
    va_end(ap);
}

static void progress(ct_audit *a)
{
    int64_t now = ct_monotonic_ms();
    if (now < a->next_progress_ms) return;
    a->next_progress_ms = now + 1000;
    double secs = (double)(now - a->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)a->n_records / secs : 0;
    if (a->o.progress_total)
        fprintf(stderr, "%s: seq %" PRIu64 " of %" PRIu64 " (%.0f%%), %.0f records/s\n",
                a->o.progress, a->last_seq, a->o.progress_total,
                100.0 * (double)a->last_seq / (double)a->o.progress_total, rate);
    else
        fprintf(stderr, "%s: seq %" PRIu64 ", %.0f records/s\n", a->o.progress, a->last_seq, rate);
}

void ct_audit_progress_tick(ct_audit_progress *p, uint64_t seq, uint64_t done)
{
    if (!p->label || (done & 1023) != 0) return;
    int64_t now = ct_monotonic_ms();
    if (p->t0 == 0) p->t0 = p->next = now;
    if (now < p->next + 1000) return;
    p->next = now;
    double rate = now > p->t0 ? (double)done * 1000.0 / (double)(now - p->t0) : 0;
    fprintf(stderr, "%s: seq %" PRIu64 " of %" PRIu64 ", %.0f records/s\n", p->label, seq, p->total,
            rate);
}

/* Stage 2: continuity, the verdicts of stage 1, and the tally, in scan
 * order. Returns non-zero to stop the walk. */
static int stage2(ct_audit *a, ct_audit_item *it)
{
    if (it->corrupt) { /* the walk ends here, as a scan that decodes ends at it */
        a->corrupt_seq = it->key;
        return 1;
    }
    const ct_logrec *rec = &it->rec;
    if (a->o.progress && (a->n_records & 4095) == 0) progress(a);
    if (a->missing) { /* after a jump: is the missing record somewhere later? */
        if (rec->seq == a->missing) {
            ct_audit_diverge(a, a->missing,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "record %" PRIu64 " stands where %" PRIu64 " belongs, record %" PRIu64
                             " appears later",
                             a->missing, a->jump_to, a->missing, a->missing);
            a->missing = 0;
            return 1;
        }
        return 0;
    }
    if (rec->seq != a->expect) {
        if (a->o.stop_seq && a->expect > a->o.stop_seq) {
            a->stopped = true;
            return 1;
        }
        if (rec->seq < a->expect) {
            ct_audit_diverge(a, a->expect,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "record %" PRIu64 " stands where %" PRIu64 " belongs",
                             a->expect, rec->seq, a->expect);
            return 1;
        }
        a->missing = a->expect;
        a->jump_to = rec->seq;
        a->missing_prev = a->last_seq;
        return 0;
    }
    if ((a->o.stop_seq && rec->seq > a->o.stop_seq) || rec->received_ms > a->o.stop_time_ms) {
        a->stopped = true;
        return 1;
    }
    if (it->chain) {
        ct_audit_diverge(a, rec->seq,
                         "seq %" PRIu64 ": hash mismatch (record altered or reordered)", rec->seq);
        return 1;
    }
    return ct_audit_apply(a, it);
}

/* Warms the cache for the person lookup of item i (a random access into a
 * table of millions): first its slot, a few items later its entry. */
static void prefetch(ct_audit *a, const ct_audit_batch *b, size_t i, int level)
{
    if (i >= b->n || !b->items[i].has_pkey) return;
    ct_pmap_prefetch(&a->persons, b->items[i].pkey, level);
}

/* Tallies done batches in order; with wait, blocks until batch number
 * `until` (exclusive) has been tallied. Caller does not hold the lock. */
static void drain(ct_audit *a, uint64_t until, bool wait)
{
    struct ct_audit_pool *p = a->pool;
    pthread_mutex_lock(&p->mu);
    while (p->drain < until) {
        ct_audit_batch *b = &p->b[p->drain % CT_AUDIT_NBATCH];
        if (b->state != B_DONE) {
            if (!wait) break;
            /* rather than sleep, check a queued batch here (the oldest:
             * usually the one awaited); the calling thread is one of the
             * `threads` doing the per-record checks */
            ct_audit_batch *q = NULL;
            for (uint64_t k = p->drain; k < p->fill && !q; k++)
                if (p->b[k % CT_AUDIT_NBATCH].state == B_QUEUED) q = &p->b[k % CT_AUDIT_NBATCH];
            if (q) {
                q->state = B_WORKING;
                pthread_mutex_unlock(&p->mu);
                batch_stage1(p, q, a->checker);
                pthread_mutex_lock(&p->mu);
                q->state = B_DONE;
                pthread_cond_broadcast(&p->cv);
                continue;
            }
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < b->n && !a->halt; i++) {
            prefetch(a, b, i + 16, 0);
            prefetch(a, b, i + 8, 1);
            if (stage2(a, &b->items[i])) a->halt = true;
        }
        pthread_mutex_lock(&p->mu);
        b->state = B_FREE;
        b->n = 0;
        b->used = 0;
        p->drain++;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Hands the batch being filled to the workers and starts the next one. */
static void submit(ct_audit *a)
{
    struct ct_audit_pool *p = a->pool;
    ct_audit_batch *b = &p->b[p->fill % CT_AUDIT_NBATCH];
    if (b->n == 0) return;
    /* the next slot must be free: tally what is done, wait if it is not */
    drain(a, p->fill + 2 > CT_AUDIT_NBATCH ? p->fill + 2 - CT_AUDIT_NBATCH : 0, true);
    pthread_mutex_lock(&p->mu);
    b->state = B_QUEUED;
    p->fill++;
    ct_audit_batch *nb = &p->b[p->fill % CT_AUDIT_NBATCH];
    nb->state = B_FILLING;
    memcpy(nb->prev, a->scan_prev, CT_LOGREC_HASH_LEN);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    drain(a, p->fill, false);
}

/* What ct_audit_record answers once the walk has halted. */
static ct_err halted(const ct_audit *a)
{
    return a->err ? a->err : CT_STOP;
}

/* The item for the next record in the batch being filled, with n bytes of
 * the batch's arena at *dst (submitting the batch when it is full); NULL when
 * the walk has halted meanwhile or the arena cannot grow (a->err). */
static ct_audit_item *batch_add(ct_audit *a, size_t n, uint8_t **dst)
{
    struct ct_audit_pool *p = a->pool;
    ct_audit_batch *b = &p->b[p->fill % CT_AUDIT_NBATCH];
    if (b->n == CT_AUDIT_BATCH || b->cap - b->used < n) {
        submit(a);
        if (a->halt) return NULL;
        b = &p->b[p->fill % CT_AUDIT_NBATCH];
        if (b->cap - b->used < n) {
            size_t nc = b->cap * 2 + n;
            uint8_t *na = realloc(b->arena, nc);
            if (!na) {
                a->err = CT_ERR_NOMEM;
                a->halt = true;
                return NULL;
            }
            b->arena = na;
            b->cap = nc;
        }
    }
    /* the arena of a batch never moves while it holds items (it only grows
     * when empty, above) */
    *dst = b->arena + b->used;
    b->used += n;
    return &b->items[b->n++];
}

/* Past the stop: lets stage 2 catch up so the scanner ends here. */
static ct_err past_stop(ct_audit *a)
{
    submit(a);
    drain(a, a->pool->fill, true);
    return a->halt ? halted(a) : CT_OK;
}

ct_err ct_audit_record(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    ct_audit *a = arg;
    (void)raw;
    (void)raw_len;
    if (a->halt) return halted(a);
    if (!a->pool) {
        ct_audit_item it;
        it.raw = NULL;
        it.rec = *rec;
        ct_audit_check_record(a->o.campaign, a->checker, a->o.ids_store, &it, a->scan_prev);
        memcpy(a->scan_prev, rec->hash, CT_LOGREC_HASH_LEN);
        if (stage2(a, &it)) a->halt = true;
        return a->halt ? halted(a) : CT_OK;
    }
    uint8_t *dst;
    ct_audit_item *it = batch_add(a, rec->event_len, &dst);
    if (!it) return halted(a);
    it->raw = NULL;
    it->rec = *rec;
    memcpy(dst, rec->event, rec->event_len);
    it->rec.event = dst;
    memcpy(a->scan_prev, rec->hash, CT_LOGREC_HASH_LEN);
    if ((a->o.stop_seq && rec->seq > a->o.stop_seq) || rec->received_ms > a->o.stop_time_ms)
        return past_stop(a);
    return CT_OK;
}

/* The store's records, undecoded: stage 1 decodes them (on the workers in
 * pipeline mode). The hash of a record that decodes is its last 32 bytes
 * (docs/PROTOCOL.md §6: the stored value ends with bin 32 holding it): the
 * next record's prev, known without decoding; after one that does not
 * decode, stage 2 never gets further. */
static ct_err raw_record(uint64_t key, const uint8_t *raw, size_t raw_len, void *arg)
{
    ct_audit *a = arg;
    if (a->halt) return halted(a);
    ct_audit_item tmp, *it = &tmp;
    uint8_t *dst = NULL;
    if (a->pool) {
        it = batch_add(a, raw_len, &dst);
        if (!it) return halted(a);
        memcpy(dst, raw, raw_len);
        raw = dst;
    }
    it->raw = raw;
    it->raw_len = raw_len;
    it->key = key;
    if (!a->pool)
        ct_audit_check_record(a->o.campaign, a->checker, a->o.ids_store, it, a->scan_prev);
    if (raw_len >= CT_LOGREC_HASH_LEN)
        memcpy(a->scan_prev, raw + raw_len - CT_LOGREC_HASH_LEN, CT_LOGREC_HASH_LEN);
    if (!a->pool) {
        if (stage2(a, it)) a->halt = true;
        return a->halt ? halted(a) : CT_OK;
    }
    if (a->o.stop_seq && key > a->o.stop_seq) return past_stop(a);
    return CT_OK;
}

void ct_audit_finish(ct_audit *a)
{
    if (a->pool) {
        if (!a->halt) submit(a);
        drain(a, a->pool->fill, true);
        pool_free(a->pool);
        a->pool = NULL;
    }
    if (a->missing) {
        ct_audit_diverge(a, a->missing,
                         "seq %" PRIu64 " missing (log jumps from %" PRIu64 " to %" PRIu64 ")",
                         a->missing, a->missing_prev, a->jump_to);
        a->missing = 0;
    }
}

/* ---- ids database vs log ---- */

typedef struct {
    ct_audit *a;
    uint8_t *seen; /* bitmap over [first_seq, last_seq] */
    /* entries past the walked head: fine on a live store if the head has
     * moved on by the end of the scan; the highest one is checked then */
    uint64_t beyond_seq;
    uint8_t beyond_id[CT_EVENT_ID_LEN];
} ids_st;

static ct_err ids_cb(const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq, const uint8_t idhash[16],
                     void *arg)
{
    ids_st *st = arg;
    ct_audit *a = st->a;
    char hex[2 * CT_EVENT_ID_LEN + 1];
    if (seq > a->last_seq) {
        if (seq > st->beyond_seq) {
            st->beyond_seq = seq;
            memcpy(st->beyond_id, id, CT_EVENT_ID_LEN);
        }
        return CT_OK;
    }
    if (seq < a->first_seq) {
        ct_event_id_hex(id, hex);
        ct_audit_diverge(
            a, seq, "ids: event id %s maps to seq %" PRIu64 ", outside the log (1..%" PRIu64 ")",
            hex, seq, a->last_seq);
        return CT_STOP;
    }
    uint64_t ix = seq - a->first_seq;
    if (a->idfp[ix] != ct_audit_id_fp(id, idhash)) {
        ct_event_id_hex(id, hex);
        ct_audit_diverge(a, seq,
                         "seq %" PRIu64 ": the ids index maps event id %s to it, but the record "
                         "holds another event (id or content hash differs)",
                         seq, hex);
        return CT_STOP;
    }
    if (st->seen[ix / 8] & (1u << (ix % 8))) {
        ct_event_id_hex(id, hex);
        ct_audit_diverge(a, seq, "seq %" PRIu64 ": a second ids entry (event id %s) maps to it",
                         seq, hex);
        return CT_STOP;
    }
    st->seen[ix / 8] = (uint8_t)(st->seen[ix / 8] | (1u << (ix % 8)));
    return CT_OK;
}

static ct_err id_of_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    ct_entry ent;
    if (ct_entry_decode(rec->event, rec->event_len, &ent, NULL) == CT_OK)
        ct_event_id_hex(ct_entry_id(&ent), arg);
    return CT_OK;
}

ct_err ct_audit_check_ids(ct_audit *a, ct_store *s)
{
    if (a->diverged || !a->o.ids_store || a->last_seq < a->first_seq) return CT_OK;
    uint64_t n = a->last_seq - a->first_seq + 1;
    ids_st st = {.a = a, .seen = calloc((size_t)(n / 8 + 1), 1)};
    if (!st.seen) return CT_ERR_NOMEM;
    ct_err e = ct_store_ids_scan(s, ids_cb, &st);
    if (a->diverged) e = CT_OK;
    if (!e && !a->diverged && st.beyond_seq) {
        uint64_t now_seq = 0;
        uint8_t h[CT_LOGREC_HASH_LEN];
        e = ct_store_head(s, &now_seq, h);
        if (!e && st.beyond_seq > now_seq) {
            char hex[2 * CT_EVENT_ID_LEN + 1];
            ct_event_id_hex(st.beyond_id, hex);
            ct_audit_diverge(a, st.beyond_seq,
                             "ids: event id %s maps to seq %" PRIu64
                             ", outside the log (1..%" PRIu64 ")",
                             hex, st.beyond_seq, now_seq);
        }
    }
    for (uint64_t ix = 0; !e && !a->diverged && ix < n; ix++) {
        if (st.seen[ix / 8] == 0xff && ix % 8 == 0 && ix + 8 <= n) {
            ix += 7;
            continue;
        }
        if (!(st.seen[ix / 8] & (1u << (ix % 8)))) {
            uint64_t seq = a->first_seq + ix;
            char hex[2 * CT_EVENT_ID_LEN + 1] = "?";
            (void)ct_store_log_scan(s, seq, seq, id_of_cb, hex, NULL);
            ct_audit_diverge(a, seq, "seq %" PRIu64 ": event id %s is missing from the ids index",
                             seq, hex);
        }
    }
    free(st.seen);
    return e;
}

bool ct_audit_compare_counts(const ct_counts *stored, const ct_counts *recount, char *finding,
                             size_t len)
{
    ct_count_key k;
    if (ct_counts_equal(stored, recount, &k)) return true;
    char ks[160];
    ct_count_key_str(&k, ks, sizeof ks);
    snprintf(finding, len, "count %s: stored %" PRId64 ", recount %" PRId64, ks,
             ct_counts_get(stored, &k), ct_counts_get(recount, &k));
    return false;
}

static int key_cmp(const void *x, const void *y)
{
    return ct_count_key_cmp(x, y);
}

/* Appends to *keys every key of from whose value differs in other. */
static ct_err collect_diffs(const ct_counts *from, const ct_counts *other, ct_count_key **keys,
                            size_t *n, size_t *cap)
{
    for (size_t i = 0; i < from->cap; i++) {
        const ct_counts_slot *sl = &from->slots[i];
        if (!sl->used || ct_counts_get(other, &sl->key) == sl->value) continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            ct_count_key *nk = realloc(*keys, nc * sizeof *nk);
            if (!nk) return CT_ERR_NOMEM;
            *keys = nk;
            *cap = nc;
        }
        (*keys)[(*n)++] = sl->key;
    }
    return CT_OK;
}

ct_err ct_audit_compare_all(ct_audit *a, const ct_counts *stored)
{
    if (a->diverged || ct_audit_compare_counts(stored, &a->counts, a->finding, sizeof a->finding))
        return CT_OK;
    a->diverged = true;
    a->bad_seq = 0; /* a counter, not a record */
    ct_count_key *keys = NULL;
    size_t n = 0, cap = 0;
    ct_err e = collect_diffs(stored, &a->counts, &keys, &n, &cap);
    if (!e) e = collect_diffs(&a->counts, stored, &keys, &n, &cap);
    if (!e && n > 1) {
        qsort(keys, n, sizeof *keys, key_cmp); /* a key differing in both tables: twice */
        size_t u = 1;
        for (size_t i = 1; i < n; i++)
            if (ct_count_key_cmp(&keys[i], &keys[u - 1]) != 0) keys[u++] = keys[i];
        n = u;
    }
    if (!e && n > 1) {
        for (size_t i = 1; !e && i < n && i <= CT_AUDIT_MAX_DIFFS; i++) {
            char ks[160];
            ct_count_key_str(&keys[i], ks, sizeof ks);
            e = ct_buf_printf(&a->more, "count %s: stored %" PRId64 ", recount %" PRId64 "\n", ks,
                              ct_counts_get(stored, &keys[i]), ct_counts_get(&a->counts, &keys[i]));
        }
        if (!e && n - 1 > CT_AUDIT_MAX_DIFFS)
            e = ct_buf_printf(&a->more, "count: and %zu more counters differ\n",
                              n - 1 - CT_AUDIT_MAX_DIFFS);
        if (!e) e = ct_buf_append(&a->more, "", 1); /* NUL: read as a string */
    }
    free(keys);
    return e;
}

void ct_audit_print_totals(FILE *f, const ct_counts *c)
{
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        fprintf(f,
                "%s net=%" PRId64 " gross=%" PRId64 " cancelled=%" PRId64 " repeat=%" PRId64 "\n",
                ct_program_name((ct_program)p), ct_counts_sum(c, CT_COUNT_NET, p, 0),
                ct_counts_sum(c, CT_COUNT_GROSS, p, 0), ct_counts_sum(c, CT_COUNT_CANCELLED, p, 0),
                ct_counts_sum(c, CT_COUNT_REPEAT, p, 0));
}

unsigned ct_audit_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}
