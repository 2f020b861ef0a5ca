/* ct_rejoin.c — a former primary's unsafe tail discarded, checked against
 * the new primary (see ct_rejoin.h).
 *
 * Invariants: the fork point F is the highest seq whose (seq, hash) the
 * primary confirmed on its log, and seq F + 1 of this store was refused
 * (or F is the head); only records 1..F reach the rebuilt store, through
 * ct_store_import_record (seq and chain checked again); the old directory
 * is renamed, never deleted; on any failure before the swap the rebuilt
 * directory is left beside DIR as DIR.rejoin and DIR is unchanged.
 */
#include "ct_rejoin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "ct_event.h"
#include "ct_life.h"
#include "ct_log.h"
#include "ct_logrec.h"

#define PROBE_MS 5000
#define CHUNK 4096

typedef struct {
    ct_store *from, *to;
    const ct_campaign *campaign;
    size_t in_chunk;
    uint8_t last_origin[CT_ORIGIN_LEN];
    bool have_last;
} copy_state;

/* Records 1..F one by one into the rebuilt store, with the bindings they
 * made (an origin bound, in the old store, to the record's collector). */
static ct_err copy_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    copy_state *c = arg;
    (void)raw;
    (void)raw_len;
    ct_err e = ct_store_import_record(c->to, rec, c->campaign);
    if (e) return e;
    ct_entry en;
    const uint8_t *id = NULL;
    if (rec->collector[0] && ct_entry_decode(rec->event, rec->event_len, &en, NULL) == CT_OK)
        id = ct_entry_id(&en);
    if (id && !(c->have_last && memcmp(c->last_origin, id, CT_ORIGIN_LEN) == 0)) {
        char key[CT_COLLECTOR_ID_MAX + 1];
        bool found = false;
        if ((e = ct_store_origin_get(c->from, id, key, sizeof key, &found))) return e;
        if (found && strcmp(key, rec->collector) == 0 &&
            (e = ct_store_import_origin(c->to, id, key, strlen(key))))
            return e;
        memcpy(c->last_origin, id, CT_ORIGIN_LEN);
        c->have_last = true;
    }
    if (++c->in_chunk == CHUNK) {
        c->in_chunk = 0;
        if ((e = ct_store_import_commit(c->to)) || (e = ct_store_import_begin(c->to))) return e;
    }
    return CT_OK;
}

/* The fork point: the highest seq of ours the primary has on its log. */
static ct_err find_fork(const ct_rejoin_opts *o, ct_follow *fl, uint64_t head, uint64_t *fork,
                        uint64_t *pepoch, char *msg, size_t msglen)
{
    uint8_t h[CT_LOGREC_HASH_LEN];
    bool on = false;
    uint64_t lo = 0, hi = head, ep = 0;
    ct_err e = ct_follow_probe(fl, 0, (const uint8_t[CT_LOGREC_HASH_LEN]){0}, PROBE_MS, &on, &ep);
    if (!e && !on) e = CT_ERR_CHAIN;
    if (!e && (e = ct_store_hash_at(o->store, head, h)) == CT_OK)
        e = ct_follow_probe(fl, head, h, PROBE_MS, &on, &ep);
    if (e) {
        snprintf(msg, msglen, "asking the primary at %s: %s", o->follow.endpoint,
                 e == CT_ERR_TIMEOUT ? "no answer (is it up, and are we authorized as follower?)"
                                     : ct_err_str(e));
        return e;
    }
    *pepoch = ep;
    if (on) {
        *fork = head;
        return CT_OK;
    }
    while (hi - lo > 1) { /* lo on its log, hi not */
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t ep2 = 0;
        if ((e = ct_store_hash_at(o->store, mid, h)) ||
            (e = ct_follow_probe(fl, mid, h, PROBE_MS, &on, &ep2))) {
            snprintf(msg, msglen, "probing seq %llu on the primary: %s", (unsigned long long)mid,
                     ct_err_str(e));
            return e;
        }
        if (on) {
            lo = mid;
            *pepoch = ep2;
        } else {
            hi = mid;
        }
    }
    *fork = lo;
    return CT_OK;
}

/* Writes records 1..fork of o->store into a fresh store at dir. */
static ct_err rebuild(const ct_rejoin_opts *o, const char *dir, uint64_t fork, uint64_t epoch,
                      char *msg, size_t msglen)
{
    char err[512] = "";
    ct_store *to = NULL;
    ct_store_opts so = {.dir = dir, .map_size = o->map_size, .campaign_id = o->campaign->id};
    uint8_t fp[32];
    if (ct_store_fingerprint(o->store, fp) == CT_OK) so.fingerprint = fp;
    ct_err e = ct_store_open(&so, &to, err, sizeof err);
    if (!e) e = ct_store_set_campaign(to, o->campaign, err, sizeof err);
    uint64_t seq = 0;
    uint8_t h[CT_LOGREC_HASH_LEN];
    if (!e && (e = ct_store_head(to, &seq, h)) == CT_OK && seq != 0) {
        snprintf(err, sizeof err, "%.400s is not empty (a rejoin left half-way? move it away)",
                 dir);
        e = CT_ERR_IO;
    }
    if (!e) e = ct_store_import_begin(to);
    if (!e && fork > 0) {
        copy_state c = {.from = o->store, .to = to, .campaign = o->campaign};
        e = ct_store_log_scan(o->store, 1, fork, copy_cb, &c, NULL);
        if (e) ct_store_import_abort(to);
    }
    if (!e) e = ct_store_import_commit(to);
    if (!e) e = ct_store_adopt_epoch(to, epoch);
    if (!e && (e = ct_store_head(to, &seq, h)) == CT_OK && seq != fork) e = CT_ERR_INTERNAL;
    if (e && !err[0]) snprintf(err, sizeof err, "%s", ct_err_str(e));
    if (e)
        snprintf(msg, msglen, "rebuilding records 1..%llu in %s: %s", (unsigned long long)fork, dir,
                 err);
    ct_store_close(to);
    return e;
}

ct_err ct_rejoin_run(const ct_rejoin_opts *o, char *msg, size_t msglen)
{
    msg[0] = '\0';
    uint64_t head = 0, own_epoch = 1, fork = 0, pepoch = 0;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    /* received records are counted first: the fork is looked for on the log */
    ct_err e = ct_store_ship_apply_all(o->store, o->campaign, NULL);
    if (!e) e = ct_store_head(o->store, &head, hh);
    if (!e) e = ct_store_epoch(o->store, &own_epoch);
    if (e) {
        snprintf(msg, msglen, "reading %s: %s", o->data, ct_err_str(e));
        return e;
    }
    ct_follow_opts fo = o->follow;
    fo.probe_only = true;
    fo.zctx = zmq_ctx_new();
    if (!fo.zctx) return CT_ERR_ZMQ;
    ct_follow *fl = NULL;
    e = ct_follow_create(&fo, &fl, msg, msglen);
    if (!e) e = find_fork(o, fl, head, &fork, &pepoch, msg, msglen);
    ct_follow_free(fl);
    zmq_ctx_term(fo.zctx);
    if (e) return e;
    if (pepoch <= own_epoch) {
        snprintf(msg, msglen,
                 "the primary at %s runs epoch %llu, not newer than this store's epoch %llu: "
                 "this store is not a former primary of it; nothing done",
                 o->follow.endpoint, (unsigned long long)pepoch, (unsigned long long)own_epoch);
        return CT_ERR_STALE_EPOCH;
    }
    char fh[2 * CT_LOGREC_HASH_LEN + 1] = "";
    uint8_t fb[CT_LOGREC_HASH_LEN];
    if ((e = ct_store_hash_at(o->store, fork, fb))) {
        snprintf(msg, msglen, "reading seq %llu: %s", (unsigned long long)fork, ct_err_str(e));
        return e;
    }
    ct_hash_hex(fb, fh);
    ct_log(CT_LOG_INFO, "rejoin: fork point found on the primary",
           "primary=%s primary_epoch=%llu our_epoch=%llu fork_seq=%llu fork_head=%s head_seq=%llu "
           "tail_records=%llu",
           o->follow.endpoint, (unsigned long long)pepoch, (unsigned long long)own_epoch,
           (unsigned long long)fork, fh, (unsigned long long)head,
           (unsigned long long)(head - fork));
    if (fork == head) {
        if ((e = ct_store_adopt_epoch(o->store, pepoch))) {
            snprintf(msg, msglen, "recording epoch %llu: %s", (unsigned long long)pepoch,
                     ct_err_str(e));
            return e;
        }
        snprintf(msg, msglen,
                 "rejoined: no unsafe tail (all %llu records are on the primary's log at %s); "
                 "epoch %llu adopted; start this node with --follow %s",
                 (unsigned long long)head, o->follow.endpoint, (unsigned long long)pepoch,
                 o->follow.endpoint);
        return CT_OK;
    }
    char tmp[4096], kept[4096];
    snprintf(tmp, sizeof tmp, "%s.rejoin", o->data);
    snprintf(kept, sizeof kept, "%s.discarded-e%llu-%lld", o->data, (unsigned long long)own_epoch,
             (long long)time(NULL));
    if ((e = rebuild(o, tmp, fork, pepoch, msg, msglen))) return e;
    if (rename(o->data, kept) != 0 || rename(tmp, o->data) != 0) {
        snprintf(msg, msglen, "swapping %s and %s: %s (the rebuilt store is in %s)", o->data, tmp,
                 strerror(errno), tmp);
        return CT_ERR_IO;
    }
    snprintf(msg, msglen,
             "rejoined: kept seq 1..%llu (head %s, on the primary's log at %s, epoch %llu); "
             "discarded the unsafe tail seq %llu..%llu (%llu records of epoch %llu), kept whole "
             "in %s; start this node with --follow %s",
             (unsigned long long)fork, fh, o->follow.endpoint, (unsigned long long)pepoch,
             (unsigned long long)(fork + 1), (unsigned long long)head,
             (unsigned long long)(head - fork), (unsigned long long)own_epoch, kept,
             o->follow.endpoint);
    return CT_OK;
}

ct_err ct_rejoin_promote(ct_store *store, char *msg, size_t msglen)
{
    uint64_t epoch = 0, seq = 0;
    uint8_t h[CT_LOGREC_HASH_LEN];
    char hh[2 * CT_LOGREC_HASH_LEN + 1];
    ct_err e = ct_store_promote(store, &epoch);
    if (!e) e = ct_store_head(store, &seq, h);
    if (e) {
        snprintf(msg, msglen, "cannot write the new epoch: %s", ct_err_str(e));
        return e;
    }
    ct_hash_hex(h, hh);
    snprintf(msg, msglen,
             "promoted: this store is a primary of a new epoch: epoch %llu from seq %llu head %s; "
             "start it with --replicate and without --follow",
             (unsigned long long)epoch, (unsigned long long)seq, hh);
    return CT_OK;
}
