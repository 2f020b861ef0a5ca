/* ct_follow.c — the follower's client of the replication stream (see
 * ct_follow.h).
 *
 * Invariants: at most one request is outstanding (a repeat after
 * CT_FOLLOW_RETRY_MS replaces it; a late answer to the older one is stale
 * or identical). With read-ahead (ahead; off for good once the primary
 * answers "n" with unknown_key) the request for the next batch leaves as
 * soon as a batch passed its seq and head checks, carrying "n" = the end of
 * that batch and "s" = the durable head; after the receipt's commit a
 * report ("s" = "n" = the new head) makes it safe. Every "s" sent is a
 * received head R the store committed (ct_store_ship_commit), never more;
 * counting follows (ct_follow_apply: H <= R, "a" = H when the primary takes
 * it). Every record is decoded and its seq checked before the receipt
 * transaction begins; the receipt checks the chain on the shipped bytes and
 * keeps them unchanged, and a record that does not chain aborts the whole
 * transaction. One DEALER socket, closed by ct_follow_free.
 */
#include "ct_follow.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_logrec.h"
#include "ct_server.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_wire.h"

/* batches already waiting are received in one transaction up to this many
 * records (then committed: one fsync for all of them) */
#define CT_FOLLOW_GROUP_RECORDS (4 * CT_WIRE_MAX_RECORDS)
#define CT_FOLLOW_RCPT_RING 64

struct ct_follow {
    ct_follow_opts o;
    void *sock;
    uint64_t head_seq; /* R: the received head, durable here */
    uint8_t head[CT_LOGREC_HASH_LEN];
    uint64_t applied_seq;  /* H: the counted head (<= head_seq) */
    bool send_a;           /* "a" in "rq" (off once the primary refuses "n") */
    int64_t next_apply_ms; /* nothing due before (an apply delay) */
    int64_t asked_ms;      /* monotonic time of the outstanding request */
    bool ahead;            /* read-ahead: "rq" with "n" (PROTOCOL.md §3.4) */
    /* batches received and put in the open receipt transaction, not durable:
     * rx_seq / rx_head is what we hold (the durable head when none open) */
    bool open;
    size_t open_records;
    uint64_t rx_seq;
    uint8_t rx_head[CT_LOGREC_HASH_LEN];
    ct_follow_stats st;
    ct_bytes recs[CT_WIRE_MAX_RECORDS];
    ct_logrec dec[CT_WIRE_MAX_RECORDS];
    ct_wire_origin org[CT_WIRE_MAX_RECORDS];
    /* receipts not wholly counted: (last seq, monotonic ms), oldest first;
     * when full the newest absorbs the next (the oldest time is kept) */
    struct {
        uint64_t seq;
        int64_t ms;
    } rcpt[CT_FOLLOW_RCPT_RING];
    size_t rcpt_first, rcpt_n;
    ct_buf out;
    char rid[CT_FOLLOW_RID_LEN + 1]; /* insecure mode only; "" with CURVE */
};

ct_err ct_follow_routing_id(ct_store *store, char *out, size_t outlen)
{
    if (outlen < CT_FOLLOW_RID_LEN + 1) return CT_ERR_ARG;
    uint8_t id[8];
    ct_err e = ct_store_follower_id(store, id);
    if (e) return e;
    memcpy(out, "follower-", 9);
    ct_text_hex(id, sizeof id, out + 9);
    return CT_OK;
}

const char *ct_follow_rid(const ct_follow *f)
{
    return f->rid;
}

void *ct_follow_socket(const ct_follow *f)
{
    return f->sock;
}

const ct_follow_stats *ct_follow_get_stats(const ct_follow *f)
{
    return &f->st;
}

int64_t ct_follow_apply_lag_ms(const ct_follow *f, int64_t now_ms)
{
    if (f->applied_seq >= f->head_seq) return 0;
    if (!f->rcpt_n) return 0; /* received before this run: no time known */
    int64_t d = now_ms - f->rcpt[f->rcpt_first].ms;
    return d > 0 ? d : 0;
}

static void send_rq(ct_follow *f, bool has_n, uint64_t n)
{
    ct_buf_reset(&f->out);
    bool a = has_n && f->send_a && f->applied_seq <= f->head_seq;
    ct_err e = ct_wire_repl_req_encode_a(f->head_seq, f->head, f->st.epoch, has_n, n, a,
                                         f->applied_seq, &f->out);
    if (e == CT_OK) zmq_send(f->sock, f->out.data, f->out.len, ZMQ_DONTWAIT);
}

/* A request without read-ahead: what follows the durable head. */
static void ask(ct_follow *f)
{
    send_rq(f, false, 0);
    f->asked_ms = ct_monotonic_ms();
}

/* A request for what follows seq `end` (held, not yet durable). */
static void ask_ahead(ct_follow *f, uint64_t end)
{
    send_rq(f, true, end);
    f->asked_ms = ct_monotonic_ms();
}

/* The durable head after a commit; answered by nothing. */
static void report(ct_follow *f)
{
    send_rq(f, true, f->head_seq);
}

ct_err ct_follow_create(const ct_follow_opts *o, ct_follow **out, char *err, size_t errlen)
{
    *out = NULL;
    ct_follow *f = calloc(1, sizeof *f);
    if (!f) return CT_ERR_NOMEM;
    f->o = *o;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    ct_err e = ct_store_ship_head(o->store, &f->head_seq, f->head);
    if (!e) e = ct_store_head(o->store, &f->applied_seq, hh);
    if (e) {
        snprintf(err, errlen, "cannot read the store's head: %s", ct_err_str(e));
        goto fail;
    }
    if ((e = ct_store_epoch(o->store, &f->st.epoch))) {
        snprintf(err, errlen, "cannot read the store's epoch: %s", ct_err_str(e));
        goto fail;
    }
    f->sock = zmq_socket(o->zctx, ZMQ_DEALER);
    if (!f->sock) {
        e = CT_ERR_ZMQ;
        snprintf(err, errlen, "follow socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (!o->kp && (e = ct_follow_routing_id(o->store, f->rid, sizeof f->rid))) {
        snprintf(err, errlen, "cannot read or draw the follower id in the store: %s",
                 ct_err_str(e));
        goto fail;
    }
    if (!o->kp && zmq_setsockopt(f->sock, ZMQ_ROUTING_ID, f->rid, strlen(f->rid))) {
        e = CT_ERR_ZMQ;
        snprintf(err, errlen, "follow socket routing id: %s", zmq_strerror(errno));
        goto fail;
    }
    int zero = 0, ivl = 100, ivl_max = 2000, hs = 10000;
    int64_t maxmsg = CT_SERVER_MAX_MSG;
    if (zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(f->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(f->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(f->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) ||
        zmq_setsockopt(f->sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs)) {
        e = CT_ERR_ZMQ;
        snprintf(err, errlen, "follow socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if (o->kp &&
        (zmq_setsockopt(f->sock, ZMQ_CURVE_SERVERKEY, o->primary_key_z85, CT_Z85_KEY_LEN + 1) ||
         zmq_setsockopt(f->sock, ZMQ_CURVE_PUBLICKEY, o->kp->public_z85, CT_Z85_KEY_LEN + 1) ||
         zmq_setsockopt(f->sock, ZMQ_CURVE_SECRETKEY, o->kp->secret_z85, CT_Z85_KEY_LEN + 1))) {
        e = CT_ERR_ZMQ;
        snprintf(err, errlen, "follow socket CURVE keys: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_connect(f->sock, o->endpoint) != 0) {
        e = CT_ERR_USAGE;
        snprintf(err, errlen, "cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
        goto fail;
    }
    f->st.head_seq = f->head_seq;
    f->st.applied_seq = f->applied_seq;
    f->rx_seq = f->head_seq;
    memcpy(f->rx_head, f->head, CT_LOGREC_HASH_LEN);
    f->ahead = true;
    f->send_a = true;
    if (!o->probe_only) ask(f);
    *out = f;
    return CT_OK;
fail:
    ct_follow_free(f);
    return e;
}

void ct_follow_free(ct_follow *f)
{
    if (!f) return;
    if (f->open) ct_store_ship_abort(f->o.store);
    if (f->sock) zmq_close(f->sock);
    ct_buf_free(&f->out);
    free(f);
}

void ct_follow_tick(ct_follow *f, int64_t now_ms)
{
    if (now_ms - f->asked_ms < CT_FOLLOW_RETRY_MS) return;
    if (f->st.connected)
        ct_log(CT_LOG_WARN, "replication: no answer from the primary; asking again",
               "primary=%s head_seq=%llu", f->o.endpoint, (unsigned long long)f->head_seq);
    f->st.connected = false;
    ask(f);
}

/* Checks that b follows what we hold; CT_ERR_CHAIN and err otherwise. */
static ct_err check_head(ct_follow *f, const ct_wire_repl_batch *b, char *err, size_t errlen)
{
    char ours[2 * CT_LOGREC_HASH_LEN + 1], theirs[2 * CT_LOGREC_HASH_LEN + 1];
    if (memcmp(b->prev_head, f->rx_head, CT_LOGREC_HASH_LEN) == 0) return CT_OK;
    ct_hash_hex(f->rx_head, ours);
    ct_hash_hex(b->prev_head, theirs);
    snprintf(err, errlen,
             "the primary's chain hash at seq %llu (%s) differs from ours (%s): the logs "
             "diverge at or before seq %llu; nothing applied",
             (unsigned long long)b->prev_seq, theirs, ours, (unsigned long long)b->prev_seq);
    return CT_ERR_CHAIN;
}

/* Decodes every record of b with its seq; CT_ERR_CHAIN and err naming the
 * first seq that cannot be accepted. The chain itself is checked by the
 * receipt, on the shipped bytes. */
static ct_err decode_batch(ct_follow *f, const ct_wire_repl_batch *b, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->n; i++) {
        uint64_t want = b->prev_seq + 1 + i;
        ct_logrec *r = &f->dec[i];
        ct_err e = ct_logrec_decode(b->recs[i].data, b->recs[i].len, r);
        if (e) {
            snprintf(err, errlen,
                     "the record shipped for seq %llu does not decode (%s): refusing it and "
                     "everything after it; nothing of this batch applied",
                     (unsigned long long)want, ct_err_name(e));
            return CT_ERR_CHAIN;
        }
        if (r->seq != want) {
            snprintf(err, errlen,
                     "the record shipped for seq %llu carries seq %llu: refusing it; nothing of "
                     "this batch applied",
                     (unsigned long long)want, (unsigned long long)r->seq);
            return CT_ERR_CHAIN;
        }
    }
    return CT_OK;
}

/* err for record seq that does not chain onto the one before it. */
static void no_chain(uint64_t seq, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "the record shipped for seq %llu does not chain onto seq %llu (its hash is not "
             "BLAKE2b(previous hash || body)): the logs diverge at seq %llu; refusing it; nothing "
             "of this batch applied",
             (unsigned long long)seq, (unsigned long long)(seq - 1), (unsigned long long)seq);
}

/* Drops the open transaction: we hold the durable head again. */
static void drop_open(ct_follow *f)
{
    if (f->open) ct_store_ship_abort(f->o.store);
    f->open = false;
    f->open_records = 0;
    f->rx_seq = f->head_seq;
    memcpy(f->rx_head, f->head, CT_LOGREC_HASH_LEN);
}

/* A store write failed: nothing held is kept; the request is repeated in
 * about a second. */
static void store_failed(ct_follow *f, ct_err e, size_t records)
{
    f->st.store_failures++;
    ct_log(CT_LOG_ERROR, "replication: cannot append the batch to the store; will ask again",
           "err=%s detail=\"%s\" from_seq=%llu records=%zu", ct_err_name(e),
           ct_store_last_error(f->o.store), (unsigned long long)(f->head_seq + 1), records);
    drop_open(f);
    f->asked_ms = ct_monotonic_ms() - CT_FOLLOW_RETRY_MS + 1000;
}

/* Appends the checked batch to the open receipt transaction (begun here
 * when none is open); on any error nothing held is kept. */
static ct_err apply_batch(ct_follow *f, const ct_wire_repl_batch *b, char *err, size_t errlen)
{
    ct_err e = CT_OK;
    if (!f->open) {
        if ((e = ct_store_ship_begin(f->o.store))) return e;
        f->open = true;
    }
    for (size_t i = 0; i < b->n && !e; i++) {
        e = ct_store_ship_put(f->o.store, &f->dec[i], b->recs[i].data, b->recs[i].len);
        if (e == CT_ERR_CHAIN) {
            no_chain(f->dec[i].seq, err, errlen);
            drop_open(f);
            return CT_ERR_CHAIN;
        }
    }
    for (size_t i = 0; i < b->n_origins && !e; i++) {
        e = ct_store_ship_origin(f->o.store, b->origins[i].origin, b->origins[i].key,
                                 b->origins[i].key_len);
        if (e == CT_ERR_CONFLICT) {
            char oh[2 * CT_ORIGIN_LEN + 1];
            for (size_t k = 0; k < CT_ORIGIN_LEN; k++)
                snprintf(oh + 2 * k, 3, "%02x", b->origins[i].origin[k]);
            snprintf(err, errlen,
                     "the primary binds origin %s to another key than this store does: the "
                     "stores diverge; refusing the batch after seq %llu; nothing of it applied",
                     oh, (unsigned long long)b->prev_seq);
            drop_open(f);
            return CT_ERR_CHAIN;
        }
    }
    if (e) {
        drop_open(f);
        return e;
    }
    f->rx_seq = b->prev_seq + b->n;
    memcpy(f->rx_head, f->dec[b->n - 1].hash, CT_LOGREC_HASH_LEN);
    f->open_records += b->n;
    return CT_OK;
}

/* Commits the open receipt (one fsync for every batch it holds), then
 * reports the new received head (read-ahead) or asks with it. */
static void commit_open(ct_follow *f, bool *appended)
{
    if (!f->open) return;
    size_t n = f->open_records;
    f->open = false;
    f->open_records = 0;
    uint64_t seq;
    uint8_t head[CT_LOGREC_HASH_LEN];
    ct_err e = ct_store_ship_commit(f->o.store, &seq, head);
    if (e) {
        store_failed(f, e, n);
        return;
    }
    f->head_seq = seq;
    memcpy(f->head, head, CT_LOGREC_HASH_LEN);
    assert(f->head_seq == f->rx_seq && memcmp(f->head, f->rx_head, CT_LOGREC_HASH_LEN) == 0);
    f->st.head_seq = f->head_seq;
    f->st.records += n;
    f->st.receipts++;
    int64_t now = ct_monotonic_ms();
    if (f->rcpt_n == CT_FOLLOW_RCPT_RING) {
        f->rcpt[(f->rcpt_first + f->rcpt_n - 1) % CT_FOLLOW_RCPT_RING].seq = seq;
    } else {
        size_t i = (f->rcpt_first + f->rcpt_n++) % CT_FOLLOW_RCPT_RING;
        f->rcpt[i].seq = seq;
        f->rcpt[i].ms = now;
    }
    *appended = true;
    if (f->ahead)
        report(f);
    else
        ask(f);
}

/* CT_ERR_CAMPAIGN_MISMATCH (err names both) when the primary counts with
 * another campaign than ours: the follower would count the same records
 * differently. */
static ct_err check_campaign(const ct_follow *f, const ct_wire_repl_batch *b, char *err,
                             size_t errlen)
{
    const ct_campaign *c = f->o.campaign;
    if (!b->campaign_id || !c) return CT_OK;
    bool same_id = b->campaign_id_len == strlen(c->id) &&
                   memcmp(b->campaign_id, c->id, b->campaign_id_len) == 0;
    if (same_id && memcmp(b->fingerprint, c->fingerprint, sizeof b->fingerprint) == 0) return CT_OK;
    char ours[2 * CT_LOGREC_HASH_LEN + 1], theirs[2 * CT_LOGREC_HASH_LEN + 1];
    ct_hash_hex(c->fingerprint, ours);
    ct_hash_hex(b->fingerprint, theirs);
    snprintf(err, errlen,
             "the primary at %s counts with campaign %.*s fingerprint %s; this follower was "
             "started with campaign %s fingerprint %s: it would count the same records "
             "differently; refusing the primary's records, nothing applied. Start the follower "
             "with the primary's campaign file and roster",
             f->o.endpoint, (int)b->campaign_id_len, b->campaign_id, theirs, c->id, ours);
    return CT_ERR_CAMPAIGN_MISMATCH;
}

/* One message; a batch that follows what we hold goes into the open
 * transaction (committed by the caller, or here when it is full or when
 * another message needs the durable head first); *appended when a commit
 * was made. */
static ct_err handle(ct_follow *f, const uint8_t *buf, size_t len, bool *appended, char *err,
                     size_t errlen)
{
    ct_msg_kind kind;
    ct_err e = ct_wire_peek_kind(buf, len, &kind);
    if (!e && kind == CT_MSG_ERROR) {
        bool has;
        uint64_t tok;
        uint16_t code;
        if (ct_wire_error_decode(buf, len, &has, &tok, &code) != CT_OK) return CT_OK;
        if (code == CT_ERR_CHAIN) {
            snprintf(err, errlen,
                     "the primary refuses our head (seq %llu): our log is not a prefix of the "
                     "primary's; the logs diverge at or before seq %llu",
                     (unsigned long long)f->head_seq, (unsigned long long)f->head_seq);
            return CT_ERR_CHAIN;
        }
        if (code == CT_ERR_UNKNOWN_KEY) { /* a primary without read-ahead */
            if (f->ahead) {
                commit_open(f, appended);
                ct_log(CT_LOG_WARN,
                       "replication: the primary does not take read-ahead (an older version); "
                       "asking for one batch at a time",
                       "primary=%s head_seq=%llu", f->o.endpoint, (unsigned long long)f->head_seq);
                f->ahead = false;
                f->send_a = false;
                ask(f);
            }
            return CT_OK;
        }
        if (code == CT_ERR_STALE_EPOCH) {
            snprintf(err, errlen,
                     "the primary at %s runs an epoch older than this store's epoch %llu: it is "
                     "a former primary (a follower was promoted since); refusing it, nothing "
                     "applied. Follow the current primary instead",
                     f->o.endpoint, (unsigned long long)f->st.epoch);
            return CT_ERR_STALE_EPOCH;
        }
        ct_log(CT_LOG_ERROR, "replication: the primary refused our request",
               "reason=%s detail=\"%s\"", ct_err_name(code), ct_err_str(code));
        return CT_OK;
    }
    ct_wire_repl_batch b;
    if (!e)
        e = ct_wire_repl_batch_decode_o(buf, len, &b, f->recs, CT_WIRE_MAX_RECORDS, f->org,
                                        CT_WIRE_MAX_RECORDS);
    if (e) {
        ct_log(CT_LOG_WARN, "replication: undecodable message from the primary", "err=%s len=%zu",
               ct_err_name(e), len);
        return CT_OK;
    }
    if ((e = check_campaign(f, &b, err, errlen))) return e;
    if (!f->st.connected)
        ct_log(CT_LOG_INFO, "replication: following", "primary=%s head_seq=%llu committed=%llu",
               f->o.endpoint, (unsigned long long)f->head_seq, (unsigned long long)b.committed);
    f->st.connected = true;
    uint64_t ep = b.epoch ? b.epoch : 1;
    if (ep < f->st.epoch) {
        snprintf(err, errlen,
                 "the primary at %s runs epoch %llu, older than this store's epoch %llu: it is "
                 "a former primary (a follower was promoted since); refusing its records, "
                 "nothing applied. Follow the current primary instead",
                 f->o.endpoint, (unsigned long long)ep, (unsigned long long)f->st.epoch);
        return CT_ERR_STALE_EPOCH;
    }
    if (ep > f->st.epoch && f->open) {
        /* the epoch is stored in a transaction of its own, before any record
         * of that epoch: commit what we hold, then ask for this batch again */
        commit_open(f, appended);
        f->st.stale_batches++;
        ask(f);
        return CT_OK;
    }
    if (ep > f->st.epoch) {
        if ((e = ct_store_adopt_epoch(f->o.store, ep))) {
            ct_log(CT_LOG_ERROR, "replication: cannot record the primary's epoch; will ask again",
                   "err=%s epoch=%llu", ct_err_name(e), (unsigned long long)ep);
            f->asked_ms = ct_monotonic_ms() - CT_FOLLOW_RETRY_MS + 1000;
            return CT_OK;
        }
        ct_log(CT_LOG_INFO, "replication: the primary runs a newer epoch; adopted",
               "primary=%s epoch=%llu previous_epoch=%llu", f->o.endpoint, (unsigned long long)ep,
               (unsigned long long)f->st.epoch);
        f->st.epoch = ep;
    }
    if (b.prev_seq != f->rx_seq) { /* the answer to an older request */
        f->st.stale_batches++;
        return CT_OK;
    }
    f->st.primary_committed = b.committed;
    f->st.primary_safe = b.safe;
    f->st.last_batch_ms = ct_monotonic_ms();
    if ((e = check_head(f, &b, err, errlen))) return e;
    f->st.batches++;
    if (b.n == 0) {
        f->st.empty_batches++;
        commit_open(f, appended);
        ask(f);
        return CT_OK;
    }
    if (f->ahead) ask_ahead(f, b.prev_seq + b.n);
    if ((e = decode_batch(f, &b, err, errlen))) return e;
    e = apply_batch(f, &b, err, errlen);
    if (e == CT_ERR_CHAIN) return e;
    if (e) {
        store_failed(f, e, b.n);
        return CT_OK;
    }
    if (f->open_records >= CT_FOLLOW_GROUP_RECORDS) commit_open(f, appended);
    return CT_OK;
}

ct_err ct_follow_on_readable(ct_follow *f, bool *received, char *err, size_t errlen)
{
    bool appended = false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    ct_err e = CT_OK;
    /* batches already waiting join the open transaction: one commit for all */
    while (!appended && !e) {
        if (zmq_msg_recv(&m, f->sock, ZMQ_DONTWAIT) < 0) break;
        if (zmq_msg_more(&m)) continue;
        e = handle(f, zmq_msg_data(&m), zmq_msg_size(&m), &appended, err, errlen);
    }
    if (e)
        drop_open(f);
    else
        commit_open(f, &appended);
    zmq_msg_close(&m);
    assert(!f->open);
    *received = appended;
    return e;
}

bool ct_follow_apply_due(const ct_follow *f, int64_t now_ms)
{
    return f->applied_seq < f->head_seq && now_ms >= f->next_apply_ms;
}

bool ct_follow_waiting(const ct_follow *f)
{
    int ev = 0;
    size_t sz = sizeof ev;
    if (zmq_getsockopt(f->sock, ZMQ_EVENTS, &ev, &sz) != 0) return false;
    return (ev & ZMQ_POLLIN) != 0;
}

ct_err ct_follow_apply(ct_follow *f, int64_t now_ms, ct_store_commit *commit, char *err,
                       size_t errlen)
{
    commit->seq_before = commit->seq_after = 0;
    if (commit->changed) ct_counts_clear(commit->changed);
    if (f->applied_seq >= f->head_seq || now_ms < f->next_apply_ms) return CT_OK;
    int64_t by = f->o.apply_delay_ms > 0 ? ct_now_ms() - f->o.apply_delay_ms : INT64_MAX;
    uint64_t bad = 0;
    ct_err e =
        ct_store_ship_apply(f->o.store, f->o.campaign, CT_FOLLOW_APPLY_CHUNK, by, commit, &bad);
    if (e == CT_ERR_STORE_CORRUPT || e == CT_ERR_CONFLICT || e == CT_ERR_WRONG_CAMPAIGN) {
        snprintf(err, errlen,
                 "the record received for seq %llu (durable here, chain-checked) cannot be "
                 "counted (%s): this store and the primary's diverge; stopping, nothing of it "
                 "counted",
                 (unsigned long long)bad, ct_err_name(e));
        return CT_ERR_CHAIN;
    }
    if (e) {
        f->st.store_failures++;
        ct_log(CT_LOG_ERROR, "replication: cannot count the received records; will try again",
               "err=%s detail=\"%s\" from_seq=%llu", ct_err_name(e),
               ct_store_last_error(f->o.store), (unsigned long long)(f->applied_seq + 1));
        f->next_apply_ms = now_ms + 1000;
        return CT_OK;
    }
    if (commit->seq_after <= commit->seq_before) { /* none due yet (an apply delay) */
        f->next_apply_ms = now_ms + 50;
        return CT_OK;
    }
    f->applied_seq = commit->seq_after;
    f->st.applied_seq = f->applied_seq;
    /* the new "a" in a report: nothing held (every receipt is committed
     * before an apply), so "n" = "s" = the position last asked for */
    assert(!f->open && f->rx_seq == f->head_seq);
    if (f->ahead) report(f);
    while (f->rcpt_n && f->rcpt[f->rcpt_first].seq <= f->applied_seq) {
        f->rcpt_first = (f->rcpt_first + 1) % CT_FOLLOW_RCPT_RING;
        f->rcpt_n--;
    }
    f->st.applies++;
    f->st.last_apply_ms = now_ms;
    return CT_OK;
}

ct_err ct_follow_probe(ct_follow *f, uint64_t seq, const uint8_t hash[32], int timeout_ms,
                       bool *on_log, uint64_t *epoch)
{
    *on_log = false;
    ct_buf_reset(&f->out);
    ct_err e = ct_wire_repl_req_encode_ep(seq, hash, f->st.epoch, &f->out);
    if (e) return e;
    if (zmq_send(f->sock, f->out.data, f->out.len, 0) < 0) return CT_ERR_ZMQ;
    int64_t deadline = ct_monotonic_ms() + timeout_ms;
    zmq_msg_t m;
    zmq_msg_init(&m);
    e = CT_ERR_TIMEOUT;
    for (;;) {
        int64_t left = deadline - ct_monotonic_ms();
        if (left <= 0) break;
        zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0) continue;
        if (zmq_msg_recv(&m, f->sock, ZMQ_DONTWAIT) < 0 || zmq_msg_more(&m)) continue;
        const uint8_t *buf = zmq_msg_data(&m);
        size_t len = zmq_msg_size(&m);
        ct_msg_kind kind;
        if (ct_wire_peek_kind(buf, len, &kind) != CT_OK) continue;
        if (kind == CT_MSG_ERROR) {
            bool has;
            uint64_t tok;
            uint16_t code;
            if (ct_wire_error_decode(buf, len, &has, &tok, &code) != CT_OK) continue;
            e = code == CT_ERR_CHAIN ? CT_OK : (ct_err)code;
            break;
        }
        ct_wire_repl_batch b;
        if (ct_wire_repl_batch_decode_o(buf, len, &b, f->recs, CT_WIRE_MAX_RECORDS, f->org,
                                        CT_WIRE_MAX_RECORDS) != CT_OK ||
            b.prev_seq != seq)
            continue; /* an answer to an earlier probe */
        *on_log = true;
        *epoch = b.epoch ? b.epoch : 1;
        e = CT_OK;
        break;
    }
    zmq_msg_close(&m);
    return e;
}
