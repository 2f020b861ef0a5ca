/* ct_repl.c — the primary's replication socket and watermarks (see
 * ct_repl.h).
 *
 * Invariants: a follower's acked seq is recorded only after its (s, h) was
 * found on this log (s <= committed and our chain hash at s == h); safe <=
 * committed and safe never decreases; an "rb" carries records p+1, p+2, ...
 * read from the store in one scan, exactly as stored (only the TEST ONLY
 * flip alters a byte, once); commit times are kept for the last
 * CT_REPL_RING commits only (older lags are reported from the oldest kept);
 * every "rb" carries this store's epoch and, for each distinct origin of
 * its records, the binding when that origin is bound to the collector of a
 * record in the batch (so a follower binds exactly what this store bound);
 * only an "rq"'s "s" is ever recorded as durable, never its read-ahead "n",
 * and a request is answered once: an "rq" whose "n" names the position of
 * the follower's last request (answered or held) is a report, not answered.
 */
#include "ct_repl.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_event.h"
#include "ct_life.h"
#include "ct_log.h"
#include "ct_logrec.h"
#include "ct_repl_copy.h"
#include "ct_time.h"
#include "ct_wire.h"

#define CT_REPL_RING 4096
#define CT_REPL_RID_MAX 256

typedef struct {
    char id[CT_REPL_ID_MAX];
    uint8_t rid[CT_REPL_RID_MAX];
    size_t rid_len;
    uint64_t acked;
    uint64_t applied; /* its counted head ("a"), when has_applied */
    bool has_applied;
    int64_t last_seen_ms;
    bool parked;
    uint64_t parked_seq;
    int64_t parked_since_ms;
    bool asked;          /* asked_from holds the position of the last request */
    uint64_t asked_from; /* answered (an "rb" with p = it) or held (parked) */
} follower;

typedef struct {
    uint64_t seq;
    int64_t mono_ms;
} commit_mark;

struct ct_repl {
    ct_repl_opts o;
    follower f[CT_REPL_MAX_FOLLOWERS];
    size_t nf;
    uint64_t committed, safe;
    uint8_t head[CT_LOGREC_HASH_LEN];
    int64_t safe_moved_ms; /* when safe last advanced (or caught up) */
    commit_mark ring[CT_REPL_RING];
    size_t ring_n, ring_pos;
    bool flipped;
    /* scratch */
    ct_buf stage; /* concatenated records of one batch */
    size_t offs[CT_WIRE_MAX_RECORDS + 1];
    ct_bytes recs[CT_WIRE_MAX_RECORDS];
    size_t nrec;
    uint64_t epoch; /* this store's epoch, carried by every "rb" */
    /* origin bindings of the batch: origin -> key when the record's
     * collector is the key its origin is bound to (deduplicated) */
    ct_wire_origin org[CT_WIRE_MAX_RECORDS];
    char org_key[CT_WIRE_MAX_RECORDS][CT_COLLECTOR_ID_MAX + 1];
    size_t norg;
    ct_buf out;
    ct_repl_copy *copy; /* made on the first "cq" */
};

ct_err ct_repl_create(const ct_repl_opts *o, ct_repl **out)
{
    *out = NULL;
    ct_repl *r = calloc(1, sizeof *r);
    if (!r) return CT_ERR_NOMEM;
    r->o = *o;
    ct_err e = ct_store_head(o->store, &r->committed, r->head);
    if (!e) e = ct_store_epoch(o->store, &r->epoch);
    if (e) {
        free(r);
        return e;
    }
    r->safe = o->sync_k == 0 ? r->committed : 0;
    r->safe_moved_ms = ct_monotonic_ms();
    *out = r;
    return CT_OK;
}

void ct_repl_free(ct_repl *r)
{
    if (!r) return;
    ct_repl_copy_free(r->copy);
    ct_buf_free(&r->stage);
    ct_buf_free(&r->out);
    free(r);
}

uint64_t ct_repl_committed_seq(const ct_repl *r)
{
    return r->committed;
}

uint64_t ct_repl_safe(const ct_repl *r)
{
    return r->safe;
}

int64_t ct_repl_safe_stalled_ms(const ct_repl *r, int64_t now_ms)
{
    return r->safe >= r->committed ? 0 : now_ms - r->safe_moved_ms;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void update_safe(ct_repl *r, int64_t now_ms)
{
    uint64_t cand = r->safe;
    if (r->o.sync_k == 0) {
        cand = r->committed;
    } else if (r->nf >= r->o.sync_k) {
        uint64_t a[CT_REPL_MAX_FOLLOWERS];
        for (size_t i = 0; i < r->nf; i++)
            a[i] = r->f[i].acked;
        qsort(a, r->nf, sizeof a[0], cmp_desc);
        cand = a[r->o.sync_k - 1];
    }
    if (cand > r->committed) cand = r->committed;
    if (cand > r->safe) {
        r->safe = cand;
        r->safe_moved_ms = now_ms;
    }
    if (r->safe >= r->committed) r->safe_moved_ms = now_ms;
    assert(r->safe <= r->committed);
}

/* When the first record after seq was committed (monotonic ms). */
static int64_t commit_time_after(const ct_repl *r, uint64_t seq, int64_t now_ms)
{
    int64_t t = now_ms;
    for (size_t i = 0; i < r->ring_n; i++) {
        const commit_mark *m = &r->ring[(r->ring_pos + CT_REPL_RING - 1 - i) % CT_REPL_RING];
        if (m->seq <= seq) break;
        t = m->mono_ms; /* the commit that first reached past seq, going back */
    }
    return t;
}

int64_t ct_repl_lag_ms(const ct_repl *r, uint64_t seq, int64_t now_ms)
{
    return r->committed > seq ? now_ms - commit_time_after(r, seq, now_ms) : 0;
}

size_t ct_repl_followers(const ct_repl *r, int64_t now_ms, ct_repl_follower_view *out, size_t max)
{
    for (size_t i = 0; i < r->nf && i < max; i++) {
        const follower *f = &r->f[i];
        ct_repl_follower_view *v = &out[i];
        snprintf(v->id, sizeof v->id, "%s", f->id);
        v->acked = f->acked;
        v->applied = f->has_applied ? f->applied : f->acked;
        v->lag_records = r->committed > f->acked ? r->committed - f->acked : 0;
        v->lag_ms = v->lag_records ? now_ms - commit_time_after(r, f->acked, now_ms) : 0;
        v->silent_ms = now_ms - f->last_seen_ms;
        v->apply_lag_records = v->acked > v->applied ? v->acked - v->applied : 0;
        v->apply_lag_ms =
            v->apply_lag_records ? now_ms - commit_time_after(r, v->applied, now_ms) : 0;
    }
    return r->nf;
}

static void send_to(ct_repl *r, const uint8_t *rid, size_t rid_len)
{
    if (zmq_send(r->o.sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return;
    zmq_send(r->o.sock, r->out.data, r->out.len, ZMQ_DONTWAIT);
}

static void send_err(ct_repl *r, const uint8_t *rid, size_t rid_len, ct_err code)
{
    ct_buf_reset(&r->out);
    if (ct_wire_error_encode(false, 0, code, &r->out) == CT_OK) send_to(r, rid, rid_len);
}

/* The entry id's origin: canonical events begin with the map header and
 * "v" 1, "id" bin 16 (§2); anything else is decoded. */
static bool event_origin(const ct_logrec *rec, uint8_t origin[CT_ORIGIN_LEN])
{
    static const uint8_t pre[] = {0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xc4, 0x10};
    if (rec->event_len > 1 + sizeof pre + CT_ORIGIN_LEN && (rec->event[0] & 0xf0) == 0x80 &&
        memcmp(rec->event + 1, pre, sizeof pre) == 0) {
        memcpy(origin, rec->event + 1 + sizeof pre, CT_ORIGIN_LEN);
        return true;
    }
    ct_entry en; /* a life entry (§2.2), or an event in another key order */
    if (ct_entry_decode(rec->event, rec->event_len, &en, NULL) != CT_OK) return false;
    memcpy(origin, ct_entry_id(&en), CT_ORIGIN_LEN);
    return true;
}

/* Adds the binding of rec's origin when it is bound to rec's collector. */
static ct_err stage_origin(ct_repl *r, const ct_logrec *rec)
{
    uint8_t o[CT_ORIGIN_LEN];
    if (!rec->collector[0] || !event_origin(rec, o)) return CT_OK;
    for (size_t i = r->norg; i-- > 0;)
        if (memcmp(r->org[i].origin, o, CT_ORIGIN_LEN) == 0) return CT_OK;
    char *key = r->org_key[r->norg];
    bool found = false;
    ct_err e = ct_store_origin_get(r->o.store, o, key, CT_COLLECTOR_ID_MAX + 1, &found);
    if (e) return e;
    if (!found || strcmp(key, rec->collector) != 0) return CT_OK;
    ct_wire_origin *w = &r->org[r->norg++];
    memcpy(w->origin, o, CT_ORIGIN_LEN);
    w->key = key;
    w->key_len = strlen(key);
    return CT_OK;
}

static ct_err stage_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    ct_repl *r = arg;
    if (r->nrec == CT_WIRE_MAX_RECORDS ||
        (r->nrec > 0 && r->stage.len + raw_len > CT_REPL_BATCH_BYTES))
        return CT_STOP;
    if (ct_buf_append(&r->stage, raw, raw_len)) return CT_ERR_NOMEM;
    r->offs[++r->nrec] = r->stage.len;
    return stage_origin(r, rec);
}

/* One "rb" with the records after seq (our hash at seq is head_at). */
static void send_batch(ct_repl *r, follower *f, uint64_t seq, const uint8_t *head_at)
{
    ct_buf_reset(&r->stage);
    r->nrec = 0;
    r->norg = 0;
    r->offs[0] = 0;
    if (seq < r->committed) {
        ct_err e = ct_store_log_scan(r->o.store, seq + 1, r->committed, stage_cb, r, NULL);
        if (e) {
            ct_log(CT_LOG_ERROR, "replication: cannot read the log", "err=%s from_seq=%llu",
                   ct_err_name(e), (unsigned long long)(seq + 1));
            return; /* the follower asks again */
        }
    }
    for (size_t i = 0; i < r->nrec; i++) {
        r->recs[i].data = r->stage.data + r->offs[i];
        r->recs[i].len = r->offs[i + 1] - r->offs[i];
        if (r->o.test_flip_seq && !r->flipped && seq + 1 + i == r->o.test_flip_seq) {
            r->stage.data[r->offs[i] + r->recs[i].len / 2] ^= 0x01;
            r->flipped = true;
            ct_log(CT_LOG_WARN, "TEST MODE: flipped one byte of a shipped record", "seq=%llu",
                   (unsigned long long)r->o.test_flip_seq);
        }
    }
    ct_wire_repl_batch b = {.prev_seq = seq,
                            .committed = r->committed,
                            .safe = r->safe,
                            .time_ms = ct_now_ms(),
                            .recs = r->recs,
                            .n = r->nrec,
                            .epoch = r->epoch,
                            .origins = r->org,
                            .n_origins = r->norg};
    memcpy(b.prev_head, head_at, CT_LOGREC_HASH_LEN);
    if (r->o.campaign) {
        b.campaign_id = r->o.campaign->id;
        b.campaign_id_len = strlen(r->o.campaign->id);
        memcpy(b.fingerprint, r->o.campaign->fingerprint, sizeof b.fingerprint);
    }
    ct_buf_reset(&r->out);
    if (ct_wire_repl_batch_encode(&b, &r->out) != CT_OK) return;
    send_to(r, f->rid, f->rid_len);
    f->parked = false;
}

/* Our chain hash at seq (seq <= committed). */
static ct_err our_hash(ct_repl *r, uint64_t seq, uint8_t out[CT_LOGREC_HASH_LEN])
{
    if (seq == r->committed) {
        memcpy(out, r->head, CT_LOGREC_HASH_LEN);
        return CT_OK;
    }
    return ct_store_hash_at(r->o.store, seq, out);
}

static follower *find_follower(ct_repl *r, const char *id)
{
    for (size_t i = 0; i < r->nf; i++)
        if (strcmp(r->f[i].id, id) == 0) return &r->f[i];
    if (r->nf == CT_REPL_MAX_FOLLOWERS) return NULL;
    follower *f = &r->f[r->nf++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    return f;
}

/* The follower's identity: its CURVE key (must have role follower now), or
 * its routing id with --insecure. false = not allowed. */
static bool identity(ct_repl *r, zmq_msg_t *body, const uint8_t *rid, size_t rid_len, char *id,
                     size_t idlen)
{
    if (!r->o.auth) {
        size_t w = (size_t)snprintf(id, idlen, "rid:");
        for (size_t i = 0; i < rid_len && w + 3 < idlen; i++) {
            unsigned char c = rid[i];
            w += (size_t)snprintf(id + w, idlen - w,
                                  c > 0x20 && c < 0x7f && c != '"' ? "%c" : "%%%02x", c);
        }
        return true;
    }
    const char *u = zmq_msg_gets(body, "User-Id");
    ct_role role = CT_ROLE_NONE;
    uint32_t d = 0;
    if (!u || !ct_auth_lookup(r->o.auth, u, &role, &d) || role != CT_ROLE_FOLLOWER) return false;
    snprintf(id, idlen, "%s", u);
    return true;
}

static void handle_rq(ct_repl *r, const uint8_t *rid, size_t rid_len, zmq_msg_t *body,
                      int64_t now_ms)
{
    char id[CT_REPL_ID_MAX];
    if (!identity(r, body, rid, rid_len, id, sizeof id)) {
        ct_log(CT_LOG_WARN, "security", "event=replication_forbidden");
        send_err(r, rid, rid_len, CT_ERR_FORBIDDEN);
        return;
    }
    uint64_t s, fep, n, a;
    bool has_n, has_a;
    uint8_t h[CT_LOGREC_HASH_LEN];
    ct_err e = ct_wire_repl_req_decode_a(zmq_msg_data(body), zmq_msg_size(body), &s, h, &fep,
                                         &has_n, &n, &has_a, &a);
    if (!e && has_n && r->o.test_no_ahead) e = CT_ERR_UNKNOWN_KEY;
    if (e) {
        send_err(r, rid, rid_len, e);
        return;
    }
    if (fep > r->epoch) { /* fencing: that follower has seen a newer primary */
        ct_log(CT_LOG_ERROR,
               "replication: a follower has seen a newer epoch: this aggregator is a former "
               "primary; refused (stale_epoch)",
               "follower=%s follower_epoch=%llu our_epoch=%llu", id, (unsigned long long)fep,
               (unsigned long long)r->epoch);
        send_err(r, rid, rid_len, CT_ERR_STALE_EPOCH);
        return;
    }
    follower *f = find_follower(r, id);
    if (!f) {
        ct_log(CT_LOG_WARN, "replication: too many followers; ignoring one", "follower=%s max=%d",
               id, CT_REPL_MAX_FOLLOWERS);
        return;
    }
    bool first = f->last_seen_ms == 0;
    f->last_seen_ms = now_ms;
    uint8_t ours[CT_LOGREC_HASH_LEN];
    if (s > r->committed || (e = our_hash(r, s, ours)) != CT_OK ||
        memcmp(ours, h, CT_LOGREC_HASH_LEN) != 0) {
        if (e && e != CT_ERR_NOT_FOUND && s <= r->committed) return; /* read failed: it retries */
        char hh[2 * CT_LOGREC_HASH_LEN + 1];
        ct_hash_hex(h, hh);
        ct_log(CT_LOG_ERROR,
               "replication: a follower's log is not a prefix of ours; refused, not counted",
               "follower=%s follower_seq=%llu follower_head=%s committed=%llu", id,
               (unsigned long long)s, hh, (unsigned long long)r->committed);
        send_err(r, rid, rid_len, CT_ERR_CHAIN);
        return;
    }
    memcpy(f->rid, rid, rid_len);
    f->rid_len = rid_len;
    if (first)
        ct_log(CT_LOG_INFO, "replication: follower connected",
               "follower=%s follower_seq=%llu committed=%llu", id, (unsigned long long)s,
               (unsigned long long)r->committed);
    if (s > f->acked) f->acked = s;
    if (has_a) { /* absent (a request without "n"): the last "a" stands */
        f->has_applied = true;
        f->applied = a;
    }
    update_safe(r, now_ms);
    /* a report: durable s recorded above; nothing new is asked for */
    if (has_n && (n > r->committed || (f->asked && n == f->asked_from))) return;
    uint8_t at[CT_LOGREC_HASH_LEN];
    memcpy(at, h, sizeof at);
    if (n != s && our_hash(r, n, at) != CT_OK) return; /* read failed: it asks again */
    f->asked = true;
    f->asked_from = n;
    if (n < r->committed) {
        send_batch(r, f, n, at);
    } else {
        f->parked = true;
        f->parked_seq = n;
        f->parked_since_ms = now_ms;
    }
}

/* A bootstrapping follower's "cq": one chunk of the copy (ct_repl_copy.h). */
static void handle_cq(ct_repl *r, const uint8_t *rid, size_t rid_len, zmq_msg_t *body,
                      int64_t now_ms)
{
    char id[CT_REPL_ID_MAX];
    if (!identity(r, body, rid, rid_len, id, sizeof id)) {
        ct_log(CT_LOG_WARN, "security", "event=replication_forbidden");
        send_err(r, rid, rid_len, CT_ERR_FORBIDDEN);
        return;
    }
    uint64_t copy_id, offset;
    ct_err e = ct_wire_copy_req_decode(zmq_msg_data(body), zmq_msg_size(body), &copy_id, &offset);
    if (!e && !r->copy && (!r->o.data || !r->o.campaign)) e = CT_ERR_NOT_FOUND;
    if (!e && !r->copy) e = ct_repl_copy_create(r->o.store, r->o.data, r->o.campaign, &r->copy);
    ct_buf_reset(&r->out);
    if (!e) e = ct_repl_copy_answer(r->copy, copy_id, offset, r->epoch, now_ms, &r->out);
    if (e)
        send_err(r, rid, rid_len, e);
    else
        send_to(r, rid, rid_len);
}

/* Receives one [rid, body] request without waiting; frames after the body
 * are dropped (*extra: there were some). false: nothing waits. *usable: both
 * frames arrived and the routing id fits. The caller closes both messages,
 * whatever the result. */
static bool recv_request(ct_repl *r, zmq_msg_t *rid, zmq_msg_t *body, bool *usable, bool *extra)
{
    zmq_msg_init(rid);
    zmq_msg_init(body);
    *usable = *extra = false;
    if (zmq_msg_recv(rid, r->o.sock, ZMQ_DONTWAIT) < 0) return false;
    bool ok = zmq_msg_more(rid) && zmq_msg_recv(body, r->o.sock, 0) >= 0;
    *extra = ok && zmq_msg_more(body);
    while (ok && zmq_msg_more(body)) {
        zmq_msg_close(body);
        zmq_msg_init(body);
        if (zmq_msg_recv(body, r->o.sock, 0) < 0) ok = false;
    }
    *usable = ok && zmq_msg_size(rid) <= CT_REPL_RID_MAX;
    return true;
}

void ct_repl_serve(ct_repl *r, int64_t now_ms)
{
    for (int n = 0; n < 256; n++) {
        zmq_msg_t rid, body;
        bool usable, extra;
        bool got = recv_request(r, &rid, &body, &usable, &extra);
        ct_msg_kind kind;
        if (usable) {
            if (extra)
                send_err(r, zmq_msg_data(&rid), zmq_msg_size(&rid), CT_ERR_MALFORMED);
            else if (ct_wire_peek_kind(zmq_msg_data(&body), zmq_msg_size(&body), &kind) == CT_OK &&
                     kind == CT_MSG_COPY_REQ)
                handle_cq(r, zmq_msg_data(&rid), zmq_msg_size(&rid), &body, now_ms);
            else
                handle_rq(r, zmq_msg_data(&rid), zmq_msg_size(&rid), &body, now_ms);
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
        if (!got) return;
    }
}

void ct_repl_refuse(ct_repl *r, ct_err code)
{
    for (int n = 0; n < 256; n++) {
        zmq_msg_t rid, body;
        bool usable, extra;
        bool got = recv_request(r, &rid, &body, &usable, &extra);
        if (usable) send_err(r, zmq_msg_data(&rid), zmq_msg_size(&rid), code);
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
        if (!got) return;
    }
}

void ct_repl_committed(ct_repl *r, uint64_t seq, const uint8_t head[32], int64_t now_ms)
{
    if (seq <= r->committed) return;
    r->committed = seq;
    memcpy(r->head, head, CT_LOGREC_HASH_LEN);
    r->ring[r->ring_pos] = (commit_mark){seq, now_ms};
    r->ring_pos = (r->ring_pos + 1) % CT_REPL_RING;
    if (r->ring_n < CT_REPL_RING) r->ring_n++;
    update_safe(r, now_ms);
    for (size_t i = 0; i < r->nf; i++) {
        follower *f = &r->f[i];
        if (!f->parked) continue;
        uint8_t h[CT_LOGREC_HASH_LEN];
        if (our_hash(r, f->parked_seq, h) == CT_OK) send_batch(r, f, f->parked_seq, h);
    }
}

void ct_repl_tick(ct_repl *r, int64_t now_ms)
{
    ct_repl_copy_tick(r->copy, now_ms);
    for (size_t i = 0; i < r->nf; i++) {
        follower *f = &r->f[i];
        if (!f->parked || now_ms - f->parked_since_ms < CT_REPL_IDLE_MS) continue;
        uint8_t h[CT_LOGREC_HASH_LEN];
        if (our_hash(r, f->parked_seq, h) == CT_OK) send_batch(r, f, f->parked_seq, h);
    }
}
