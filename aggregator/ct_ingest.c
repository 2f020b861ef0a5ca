/* ct_ingest.c — group-commit ingest round (see ct_ingest.h).
 *
 * Invariants: no ack leaves before ct_store_apply_batch() returned; an ack
 * says ACCEPTED/DUPLICATE only for events the store reported so after a
 * successful commit (or, for DUPLICATE, that are already in the log byte for
 * byte: checked before any validation/authorization rejection); the zmq messages of a round stay
 * alive until its acks are sent because decoded events point into them. All arrays are sized at
 * creation (batch_max + one full submit) and reused every round.
 */
#include "ct_ingest.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_buf.h"
#include "ct_event.h"
#include "ct_ingest_life.h"
#include "ct_log.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_wire.h"

typedef struct {
    zmq_msg_t rid;
    zmq_msg_t body;
    bool delim;
    bool ok;  /* decoded as a submit */
    bool tel; /* an office's telemetry: err is the answer's code (0 = recorded) */
    bool has_token;
    bool want_safe; /* the submit carried "w" */
    bool push;      /* the submit carried "sp": push "sf" to this routing id */
    uint64_t epoch; /* the submit's "ep" (0 = absent) */
    uint16_t err;   /* when !ok */
    size_t sock;
    uint64_t token;
    size_t first, n;  /* item range */
    const char *user; /* identity (valid while body is open) */
} in_msg;

struct ct_ingest {
    ct_ingest_opts o;
    size_t cap_items, cap_msgs;
    in_msg *msgs;
    ct_bytes *raw;
    ct_event *ev;   /* item -> the event, when it is one */
    ct_entry *lent; /* item -> the life entry, when it is one (pages touched
                       only by life entries: a round of events never does) */
    bool *is_life;  /* item -> which of the two */
    ct_ack_item *acks;
    int32_t *sidx; /* item -> store item index or -1 */
    ct_store_item *sitems;
    ct_buf out;
    size_t round_bytes; /* frame bytes the last round held */
    uint64_t safe;      /* see ct_ingest_set_safe */
    ct_safe_push *push; /* collectors waiting for a pushed safe watermark */
    ct_ingest_stats st;
};

void ct_ingest_set_safe(ct_ingest *g, uint64_t safe)
{
    g->safe = safe;
}

ct_err ct_ingest_create(const ct_ingest_opts *o, ct_ingest **out)
{
    *out = NULL;
    ct_ingest *g = calloc(1, sizeof *g);
    if (!g) return CT_ERR_NOMEM;
    g->o = *o;
    if (g->o.batch_max == 0) g->o.batch_max = 8192;
    if (g->o.epoch == 0) g->o.epoch = 1;
    g->cap_items = g->o.batch_max + CT_WIRE_MAX_EVENTS;
    g->cap_msgs = g->o.batch_max;
    g->msgs = calloc(g->cap_msgs, sizeof *g->msgs);
    g->raw = calloc(g->cap_items, sizeof *g->raw);
    g->ev = calloc(g->cap_items, sizeof *g->ev);
    g->lent = calloc(g->cap_items, sizeof *g->lent);
    g->is_life = calloc(g->cap_items, sizeof *g->is_life);
    g->acks = calloc(g->cap_items, sizeof *g->acks);
    g->sidx = calloc(g->cap_items, sizeof *g->sidx);
    g->sitems = calloc(g->cap_items, sizeof *g->sitems);
    if (ct_safe_push_create(CT_SAFE_PUSH_MAX, &g->push) != CT_OK) g->push = NULL;
    if (!g->push || !g->msgs || !g->raw || !g->ev || !g->lent || !g->is_life || !g->acks ||
        !g->sidx || !g->sitems) {
        ct_ingest_free(g);
        return CT_ERR_NOMEM;
    }
    *out = g;
    return CT_OK;
}

void ct_ingest_free(ct_ingest *g)
{
    if (!g) return;
    free(g->msgs);
    free(g->raw);
    free(g->ev);
    free(g->lent);
    free(g->is_life);
    free(g->acks);
    free(g->sidx);
    free(g->sitems);
    ct_safe_push_free(g->push);
    ct_buf_free(&g->out);
    free(g);
}

const ct_ingest_stats *ct_ingest_get_stats(const ct_ingest *g)
{
    return &g->st;
}

/* After a round that held large frames: give the freed pages back (see
 * ct_ingest.h "Memory"). */
static void release_heap(const ct_ingest *g)
{
#ifdef __GLIBC__
    if (g->round_bytes >= CT_INGEST_TRIM_BYTES) malloc_trim(0);
#else
    (void)g;
#endif
}

static void note_reject(ct_ingest *g, uint16_t code)
{
    g->st.rejected++;
    if (code < CT_INGEST_MAX_CODES) g->st.rejects_by_code[code]++;
}

/* Receives one multipart message from sock into m. Returns 1 if got one, 0
 * if nothing waiting, -1 on error (m released). */
static int recv_one(void *sock, in_msg *m)
{
    zmq_msg_init(&m->rid);
    if (zmq_msg_recv(&m->rid, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m->rid);
        return errno == EAGAIN ? 0 : -1;
    }
    m->delim = false;
    m->ok = false;
    m->tel = false;
    m->has_token = false;
    m->want_safe = false;
    m->push = false;
    m->epoch = 0;
    m->err = CT_OK;
    m->n = 0;
    zmq_msg_init(&m->body);
    if (!zmq_msg_more(&m->rid)) {
        /* a bare frame from a ROUTER cannot happen; treat as empty body */
        m->err = CT_ERR_FRAME_EMPTY;
        return 1;
    }
    if (zmq_msg_recv(&m->body, sock, 0) < 0) {
        zmq_msg_close(&m->rid);
        zmq_msg_close(&m->body);
        return -1;
    }
    if (zmq_msg_size(&m->body) == 0 && zmq_msg_more(&m->body)) {
        m->delim = true;
        zmq_msg_close(&m->body);
        zmq_msg_init(&m->body);
        if (zmq_msg_recv(&m->body, sock, 0) < 0) {
            zmq_msg_close(&m->rid);
            zmq_msg_close(&m->body);
            return -1;
        }
    }
    if (zmq_msg_more(&m->body)) {
        /* extra frames: drain them and refuse the message */
        int more = 1;
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, sock, 0) < 0) {
                zmq_msg_close(&x);
                break;
            }
            more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        m->err = CT_ERR_MALFORMED;
    }
    return 1;
}

static void send_reply(ct_ingest *g, void *sock, in_msg *m)
{
    if (zmq_send(sock, zmq_msg_data(&m->rid), zmq_msg_size(&m->rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) <
        0) {
        g->st.acks_undeliverable++;
        return;
    }
    if (m->delim) zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (zmq_send(sock, g->out.data, g->out.len, ZMQ_DONTWAIT) < 0) g->st.acks_undeliverable++;
}

/* Authorization of one message: sets role and district; false = not allowed
 * to write anything (revoked key, reporter key, no identity). */
static bool msg_identity(ct_ingest *g, in_msg *m, const char **user, ct_role *role,
                         uint32_t *district)
{
    if (!g->o.auth) {
        *user = "insecure";
        *role = CT_ROLE_ADMIN;
        *district = 0;
        return true;
    }
    const char *u = zmq_msg_gets(&m->body, "User-Id");
    *user = u ? u : "";
    *role = CT_ROLE_NONE;
    *district = 0;
    if (!u || !ct_auth_lookup(g->o.auth, u, role, district)) return false;
    return *role == CT_ROLE_COLLECTOR || *role == CT_ROLE_ADMIN;
}

/* ---- the ack policy (ct_ingest.h "Ack policy"; rows 3-6 are the store's) -- */

/* Rows 1-2: an entry the aggregator itself refuses (code e) is a DUPLICATE
 * when its exact bytes are already in the log under its id (accepted before
 * a revocation or a campaign edit; its ack was lost): the resend changes
 * nothing and must not be turned into a rejection. The id is acks[j].id. */
static bool refuse_event(ct_ingest *g, size_t j, ct_err e, bool id_known)
{
    ct_ack_item *a = &g->acks[j];
    uint64_t old_seq = 0;
    if (id_known &&
        ct_store_find_event(g->o.store, a->id, g->raw[j].data, g->raw[j].len, &old_seq) == CT_OK &&
        old_seq > 0) {
        a->status = CT_ACK_DUPLICATE;
        a->code = CT_OK;
        a->seq = old_seq;
        g->st.duplicates++;
        return false;
    }
    a->status = CT_ACK_REJECTED;
    a->code = (uint16_t)e;
    a->seq = 0;
    note_reject(g, (uint16_t)e);
    return true;
}

/* Rows 3-6 (and RETRY after a failed commit): the store's answer, as is. */
static void ack_from_store(ct_ingest *g, ct_ack_item *a, const ct_store_item *si)
{
    a->status = si->status;
    a->code = si->code;
    a->seq = si->status == CT_ACK_ACCEPTED || si->status == CT_ACK_DUPLICATE ? si->seq : 0;
    switch (si->status) {
    case CT_ACK_ACCEPTED:
        g->st.accepted++;
        break;
    case CT_ACK_DUPLICATE:
        g->st.duplicates++;
        break;
    case CT_ACK_RETRY:
        g->st.retry++;
        break;
    default:
        note_reject(g, si->code);
        break;
    }
}

/* ---- phase 1: drain ------------------------------------------------------ */

/* Receives, round robin and without blocking, until batch_max events, the
 * message slots or the byte budget are used up. Returns the message count;
 * *nev = events decoded from well-formed submits. */
static size_t drain(ct_ingest *g, void **socks, size_t nsock, size_t *nev)
{
    size_t nm = 0, ni = 0, bytes = 0;
    bool any = true;
    while (any && ni < g->o.batch_max && nm < g->cap_msgs && bytes < CT_INGEST_ROUND_BYTES) {
        any = false;
        for (size_t s = 0; s < nsock && ni < g->o.batch_max && nm < g->cap_msgs; s++) {
            in_msg *m = &g->msgs[nm];
            if (recv_one(socks[s], m) <= 0) continue;
            any = true;
            m->sock = s;
            m->first = ni;
            nm++;
            g->st.messages++;
            if (m->err) continue;
            const uint8_t *body = zmq_msg_data(&m->body);
            size_t len = zmq_msg_size(&m->body);
            bytes += len;
            size_t n = 0;
            ct_err e = ct_wire_submit_decode_sp(body, len, &m->token, &m->want_safe, &m->epoch,
                                                &m->push, g->raw + ni, g->cap_items - ni, &n);
            ct_msg_kind kind;
            if (e == CT_ERR_BAD_KIND && g->o.offices &&
                ct_wire_peek_kind(body, len, &kind) == CT_OK && kind == CT_MSG_TELEMETRY) {
                /* an office's telemetry: answered, never the store */
                m->tel = true;
                m->err = (uint16_t)ct_offices_take(g->o.offices, g->o.campaign, g->o.auth, &m->body,
                                                   &m->has_token, &m->token);
                if (m->err)
                    g->st.telemetry_refused++;
                else
                    g->st.telemetry++;
                continue;
            }
            if (e) {
                m->err = (uint16_t)e;
                m->has_token = ct_wire_submit_peek_token(body, len, &m->token) == CT_OK;
                continue;
            }
            if (m->epoch > g->o.epoch) { /* fencing: a newer primary exists */
                m->err = CT_ERR_STALE_EPOCH;
                m->has_token = true;
                g->st.stale_epoch++;
                if (g->st.stale_epoch == 1 || g->st.stale_epoch % 1000 == 0)
                    ct_log(CT_LOG_ERROR,
                           "a collector has seen a newer epoch: this aggregator is a former "
                           "primary; its submits are refused (stale_epoch), nothing is stored. "
                           "Stop it and rejoin it as a follower (docs/replication.md)",
                           "our_epoch=%llu collector_epoch=%llu refused=%llu",
                           (unsigned long long)g->o.epoch, (unsigned long long)m->epoch,
                           (unsigned long long)g->st.stale_epoch);
                continue;
            }
            m->ok = true;
            m->has_token = true;
            m->n = n;
            ni += n;
        }
    }
    g->round_bytes = bytes;
    *nev = ni;
    return nm;
}

/* ---- phase 2: decode + validate ------------------------------------------ */

/* A life entry (item j of a message from a key of role / district): decode,
 * campaign check, authorization (§9), log check (ct_ingest_life.h). On
 * CT_OK g->lent[j] holds it. *auth_fail: refused for authorization. */
static ct_err check_life(ct_ingest *g, size_t j, bool may_write, ct_role role, uint32_t district,
                         bool *id_known, bool *auth_fail)
{
    ct_entry *en = &g->lent[j];
    ct_ack_item *a = &g->acks[j];
    ct_err e = ct_entry_decode(g->raw[j].data, g->raw[j].len, en, id_known);
    if (*id_known) memcpy(a->id, ct_entry_id(en), CT_EVENT_ID_LEN);
    a->has_id = *id_known;
    if (!e && en->type != CT_ENTRY_LIFE) e = CT_ERR_MALFORMED; /* ct_entry_is_life said so */
    if (!e) e = ct_campaign_check_life(g->o.campaign, &en->u.life);
    *auth_fail =
        !e && (!may_write || !ct_ingest_life_may(g->o.auth != NULL, role, district, &en->u.life));
    if (*auth_fail) e = CT_ERR_FORBIDDEN;
    if (!e) e = ct_ingest_life_log_check(g->o.store, &en->u.life);
    return e;
}

/* An event (item j): decode, campaign check, authorization. */
static ct_err check_event(ct_ingest *g, size_t j, int64_t check_now, bool may_write, ct_role role,
                          uint32_t district, bool *id_known, bool *auth_fail)
{
    ct_event *ev = &g->ev[j];
    ct_ack_item *a = &g->acks[j];
    ct_err e = ct_event_decode(g->raw[j].data, g->raw[j].len, ev, id_known);
    a->has_id = *id_known;
    if (*id_known) memcpy(a->id, ev->id, CT_EVENT_ID_LEN);
    if (!e) e = ct_campaign_check_event(g->o.campaign, ev, check_now);
    *auth_fail = !e && (!may_write || (role == CT_ROLE_COLLECTOR && ev->district != district));
    if (*auth_fail) e = CT_ERR_FORBIDDEN;
    return e;
}

/* Decodes and checks every entry of the well-formed submits (an event, or
 * a life entry: a map whose first key is "k", docs/PROTOCOL.md §2.2); the
 * valid ones become store items. Returns their count. */
static size_t validate(ct_ingest *g, size_t nm, int64_t now)
{
    int64_t check_now = g->o.no_future_check ? INT64_MAX : now;
    uint32_t recv_day = ct_campaign_local_day(g->o.campaign, now);
    size_t ns = 0;
    for (size_t i = 0; i < nm; i++) {
        in_msg *m = &g->msgs[i];
        if (!m->ok) continue;
        const char *user;
        ct_role role;
        uint32_t district;
        bool may_write = msg_identity(g, m, &user, &role, &district);
        m->user = user;
        size_t forbidden = 0;
        uint32_t forbidden_d = 0;
        const char *forbidden_kind = "event";
        for (size_t j = m->first; j < m->first + m->n; j++) {
            bool id_known = false, auth_fail = false;
            g->sidx[j] = -1;
            g->is_life[j] = ct_entry_is_life(g->raw[j].data, g->raw[j].len) != 0;
            ct_err e = g->is_life[j]
                           ? check_life(g, j, may_write, role, district, &id_known, &auth_fail)
                           : check_event(g, j, check_now, may_write, role, district, &id_known,
                                         &auth_fail);
            if (e) {
                if (refuse_event(g, j, e, id_known) && auth_fail) {
                    forbidden++;
                    forbidden_d = g->is_life[j] ? g->lent[j].u.life.district : g->ev[j].district;
                    forbidden_kind =
                        g->is_life[j] ? ct_life_kind_name(g->lent[j].u.life.kind) : "event";
                }
                continue;
            }
            ct_store_item *si = &g->sitems[ns];
            memset(si, 0, sizeof *si);
            si->raw = g->raw[j].data;
            si->raw_len = g->raw[j].len;
            si->collector = user;
            /* origin binding for collector keys; admins may resend anyone's
             * entries, and --insecure has one identity for everybody */
            si->check_origin = g->o.auth && role == CT_ROLE_COLLECTOR;
            si->received_ms = now;
            si->recv_day = recv_day;
            if (g->is_life[j]) {
                const ct_life *l = &g->lent[j].u.life;
                si->entry = &g->lent[j];
                if (l->kind == CT_LIFE_CORRECT && l->has_new_commune)
                    si->commune =
                        ct_campaign_commune_code(g->o.campaign, l->district, l->new_commune);
            } else {
                const ct_event *ev = &g->ev[j];
                si->ev = ev;
                si->local_day = ct_campaign_local_day(g->o.campaign, ev->occurred_ms);
                si->commune = ct_campaign_commune_code(g->o.campaign, ev->district, ev->commune);
            }
            g->sidx[j] = (int32_t)ns;
            ns++;
        }
        if (forbidden) {
            g->st.forbidden += forbidden;
            ct_log(CT_LOG_WARN, "security",
                   "event=forbidden key=%s role=%s key_district=%u event_district=%u events=%zu "
                   "kind=%s",
                   user[0] ? user : "-", may_write ? ct_role_name(role) : "revoked_or_unknown",
                   district, forbidden_d, forbidden, forbidden_kind);
        }
    }
    return ns;
}

/* ---- phase 3: one durable transaction ------------------------------------ */

/* Applies the ns store items; returns the head seq the acks carry. */
static uint64_t commit_round(ct_ingest *g, size_t ns, ct_store_commit *commit, ct_err *commit_err)
{
    if (ns > 0) {
        uint64_t c0 = ct_monotonic_ns();
        ct_err e = ct_store_apply_batch(g->o.store, g->sitems, ns, commit);
        g->st.commit_ns += ct_monotonic_ns() - c0;
        if (e) {
            *commit_err = e;
            g->st.commit_failures++;
        } else {
            g->st.commits++;
        }
    }
    if (commit && ns > 0 && *commit_err == CT_OK) return commit->seq_after;
    uint64_t head_seq = 0;
    uint8_t h[CT_LOGREC_HASH_LEN];
    if (ct_store_head(g->o.store, &head_seq, h) != CT_OK) head_seq = 0;
    return head_seq;
}

/* ---- phase 4: acks, only now --------------------------------------------- */

/* A submit with "sp" whose accepted or duplicate events lie above the
 * ack's "f": its sender waits for safe to reach the highest of them. */
static void note_push(ct_ingest *g, in_msg *m, uint64_t told)
{
    uint64_t want = 0;
    for (size_t j = m->first; j < m->first + m->n; j++) {
        const ct_ack_item *a = &g->acks[j];
        if ((a->status == CT_ACK_ACCEPTED || a->status == CT_ACK_DUPLICATE) && a->seq > want)
            want = a->seq;
    }
    ct_safe_push_note(g->push, m->sock, zmq_msg_data(&m->rid), zmq_msg_size(&m->rid), want, told);
}

static void send_acks(ct_ingest *g, void **socks, size_t nm, uint64_t head_seq)
{
    for (size_t i = 0; i < nm; i++) {
        in_msg *m = &g->msgs[i];
        ct_buf_reset(&g->out);
        ct_err e;
        if (m->tel) {
            e = ct_wire_error_encode(m->has_token, m->token, (ct_err)m->err, &g->out);
        } else if (!m->ok) {
            g->st.bad_messages++;
            e = ct_wire_error_encode(m->has_token, m->token, (ct_err)m->err, &g->out);
        } else {
            size_t hijack = 0, first_hijack = 0;
            for (size_t j = m->first; j < m->first + m->n; j++) {
                if (g->sidx[j] < 0) continue;
                const ct_store_item *si = &g->sitems[g->sidx[j]];
                ack_from_store(g, &g->acks[j], si);
                if (g->is_life[j] && si->status == CT_ACK_ACCEPTED) {
                    const ct_life *l = &g->lent[j].u.life;
                    g->st.life_accepted[l->kind < CT_INGEST_LIFE_KINDS ? l->kind : 0]++;
                    ct_ingest_life_logged(l, m->user, si->seq);
                }
                if (si->status == CT_ACK_REJECTED && si->code == CT_ERR_FORBIDDEN && !hijack++)
                    first_hijack = j;
            }
            if (hijack) {
                char ohex[2 * CT_ORIGIN_LEN + 1];
                ct_text_hex(g->acks[first_hijack].id, CT_ORIGIN_LEN, ohex);
                g->st.forbidden += hijack;
                ct_log(CT_LOG_WARN, "security",
                       "event=origin_bound_to_other_key key=%s origin=%s events=%zu",
                       m->user && m->user[0] ? m->user : "-", ohex, hijack);
            }
            uint64_t safe = g->o.sync_followers == 0 || g->safe > head_seq ? head_seq : g->safe;
            e = ct_wire_ack_encode_reply(m->token, head_seq, m->want_safe, safe, g->o.epoch,
                                         g->acks + m->first, m->n, &g->out);
            if (e == CT_OK && m->push && !m->delim) note_push(g, m, safe);
        }
        if (e == CT_OK) send_reply(g, socks[m->sock], m);
        zmq_msg_close(&m->rid);
        zmq_msg_close(&m->body);
    }
}

void ct_ingest_batch(ct_ingest *g, void **socks, size_t nsock, ct_store_commit *commit,
                     ct_err *commit_err, size_t *got)
{
    *got = 0;
    *commit_err = CT_OK;
    if (commit) {
        commit->seq_before = commit->seq_after = 0;
        if (commit->changed) ct_counts_clear(commit->changed);
    }
    size_t ni = 0;
    size_t nm = drain(g, socks, nsock, &ni);
    *got = nm;
    if (nm == 0) return;
    uint64_t r0 = ct_monotonic_ns();
    g->st.batches++;
    g->st.events += ni;
    if (ni > g->st.batch_max_seen) g->st.batch_max_seen = ni;
    size_t ns = validate(g, nm, ct_now_ms());
    uint64_t head_seq = commit_round(g, ns, commit, commit_err);
    send_acks(g, socks, nm, head_seq);
    g->st.round_ns += ct_monotonic_ns() - r0;
    release_heap(g);
}

void ct_ingest_set_epoch(ct_ingest *g, uint64_t epoch)
{
    if ((epoch ? epoch : 1) != g->o.epoch) ct_safe_push_clear(g->push);
    g->o.epoch = epoch ? epoch : 1;
}

void ct_ingest_push_safe(ct_ingest *g, void **socks, size_t n, uint64_t committed)
{
    if (g->o.sync_followers == 0) return; /* every ack's "f" is its "s": nobody waits */
    uint64_t safe = g->safe > committed ? committed : g->safe;
    ct_safe_push_send(g->push, socks, n, committed, safe, g->o.epoch);
}

ct_safe_push_stats ct_ingest_push_stats(const ct_ingest *g)
{
    return ct_safe_push_get_stats(g->push);
}
