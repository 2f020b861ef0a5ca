/* ct_office_record.c — the office screen's writes: the note kept beside
 * each event it queues (who recorded it), recording a sign-up, cancelling
 * one, and re-sending rejected ones (see ct_office.h).
 *
 * Invariants: a sign-up is queued, with its note, in one outbox
 * transaction, and replied "queued" only after its commit; a cancel's note
 * and the back-link in its original's note are written in that same
 * transaction; the clear national ID is wiped as soon as it is hashed.
 */
#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ct_be.h"
#include "ct_deliver.h"
#include "ct_import.h"
#include "ct_log.h"
#include "ct_num.h"
#include "ct_office_int.h"

#define NOTE_VERSION 1

/* ---- notes ---- */

ct_err ct_office_note_encode(const ct_office_note *n, ct_buf *out)
{
    ct_buf ev = CT_BUF_INIT;
    ct_err e = n->kind == CT_OFFICE_NOTE_LIFE ? ct_life_encode(&n->life, &ev)
                                              : ct_event_encode(&n->ev, &ev);
    if (e != CT_OK) goto out;
    size_t ul = strlen(n->user), rl = strlen(n->reason);
    assert(ul <= 255 && rl <= 255 && ev.len <= 0xffff);
    uint8_t hdr[4] = {NOTE_VERSION, (uint8_t)n->kind, (uint8_t)n->role, (uint8_t)ul};
    uint8_t t[8], el[2];
    ct_be64_put(t, n->target);
    ct_be16_put(el, (uint16_t)ev.len);
    uint8_t rlb = (uint8_t)rl;
    if ((e = ct_buf_append(out, hdr, 4)) || (e = ct_buf_append(out, n->user, ul)) ||
        (e = ct_buf_append(out, &rlb, 1)) || (e = ct_buf_append(out, n->reason, rl)) ||
        (e = ct_buf_append(out, t, 8)) || (e = ct_buf_append(out, el, 2)) ||
        (e = ct_buf_append(out, ev.data, ev.len)))
        goto out;
out:
    ct_buf_free(&ev);
    return e;
}

/* Decodes an entry's bytes into n->ev or n->life: 1 a life entry, 0 an
 * event, -1 neither. */
static int entry_into(const uint8_t *p, size_t len, ct_office_note *n)
{
    ct_entry en;
    if (ct_entry_decode(p, len, &en, NULL) != CT_OK) return -1;
    if (en.type == CT_ENTRY_LIFE) {
        n->life = en.u.life;
        return 1;
    }
    n->ev = en.u.ev;
    return 0;
}

bool ct_office_note_decode(const uint8_t *p, size_t len, ct_office_note *n)
{
    memset(n, 0, sizeof *n);
    size_t i = 0;
    if (len < 4 || p[0] != NOTE_VERSION) return false;
    n->kind = p[1];
    n->role = p[2] == CT_ROLE_LEAD ? CT_ROLE_LEAD : CT_ROLE_STAFF;
    size_t ul = p[3];
    i = 4;
    if (ul > CT_USER_NAME_MAX || i + ul + 1 > len) return false;
    memcpy(n->user, p + i, ul);
    i += ul;
    size_t rl = p[i++];
    if (rl > CT_OFFICE_REASON_MAX || i + rl + 10 > len) return false;
    memcpy(n->reason, p + i, rl);
    i += rl;
    n->target = ct_be64_get(p + i);
    i += 8;
    size_t el = ct_be16_get(p + i);
    i += 2;
    if (i + el != len) return false;
    int t = entry_into(p + i, el, n);
    return t >= 0 && (n->kind == CT_OFFICE_NOTE_LIFE) == (t == 1);
}

bool ct_office_entry_note(const ct_outbox_entry *en, ct_office_note *n)
{
    if (!en->note || !ct_office_note_decode(en->note, en->note_len, n)) {
        memset(n, 0, sizeof *n); /* recorded outside the screen: user "" */
        int t = en->ev ? entry_into(en->ev, en->ev_len, n) : -1;
        if (t < 0) return false;
        n->kind = t == 1                             ? CT_OFFICE_NOTE_LIFE
                  : n->ev.action == CT_ACTION_CANCEL ? CT_OFFICE_NOTE_CANCEL
                                                     : CT_OFFICE_NOTE_RECORD;
    }
    n->seq = en->seq;
    n->state = en->state;
    n->code = en->code;
    n->q = en->q;
    return true;
}

/* ---- queueing ---- */

void ct_office_form_key(const char *user, const char *nonce, uint8_t key[CT_OUTBOX_IDEM_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CT_OUTBOX_IDEM_LEN);
    crypto_generichash_update(&st, (const uint8_t *)"ct-office-form", 15);
    crypto_generichash_update(&st, (const uint8_t *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const uint8_t *)nonce, strlen(nonce));
    crypto_generichash_final(&st, key, CT_OUTBOX_IDEM_LEN);
}

bool ct_office_nonce_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* In t: marks the original of the cancel queued as seq (orig: its note, or
 * its event when it has none) as cancelled by seq. CT_ERR_CONFLICT when it
 * is cancelled already. */
static ct_err link_cancel(ct_outbox_txn *t, const ct_office_note *orig, uint64_t seq)
{
    ct_buf nb = CT_BUF_INIT;
    bool found = false;
    ct_office_note on = *orig;
    ct_err e = ct_outbox_note_get(t, orig->seq, &nb, &found);
    if (e == CT_OK && found && !ct_office_note_decode(nb.data, nb.len, &on)) e = CT_ERR_MALFORMED;
    if (e == CT_OK && on.target) e = CT_ERR_CONFLICT;
    if (e == CT_OK) {
        on.target = seq;
        ct_buf_reset(&nb);
        e = ct_office_note_encode(&on, &nb);
    }
    if (e == CT_OK) e = ct_outbox_note_put(t, orig->seq, nb.data, nb.len);
    ct_buf_free(&nb);
    return e;
}

/* Queues ev with its note n under the form key (a cancel: linked to its
 * original orig in the same transaction); replies. */
static void queue_event(ct_office *o, ct_office_resp *r, ct_event *ev, ct_office_note *n,
                        const uint8_t key[CT_OUTBOX_IDEM_LEN], const ct_office_note *orig)
{
    ct_collector *s = o->opt.s;
    ct_outbox_txn *t = NULL;
    ct_buf nb = CT_BUF_INIT;
    uint64_t seq = 0;
    bool queued = false;
    ct_err e = ct_outbox_begin(s->ob, &t);
    if (e == CT_OK) e = ct_outbox_queue(t, ev, key, &queued, &seq);
    if (e == CT_OK && queued) {
        n->ev = *ev; /* with its id */
        e = ct_office_note_encode(n, &nb);
        if (e == CT_OK) e = ct_outbox_note_put(t, seq, nb.data, nb.len);
        if (e == CT_OK && orig) e = link_cancel(t, orig, seq);
    }
    if (e == CT_ERR_CONFLICT) {
        ct_outbox_abort(t);
        fail(r, 409, CT_ERR_CONFLICT, "seq", "this sign-up is cancelled already");
        ct_buf_free(&nb);
        return;
    }
    if (e != CT_OK) {
        ct_outbox_abort(t);
        goto store_fail;
    }
    if (!queued) {
        ct_outbox_abort(t);
    } else if ((e = ct_outbox_commit(t)) != CT_OK) {
        goto store_fail;
    }
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_collector_id_hex(s, seq, hex);
    if (queued)
        ct_log(CT_LOG_INFO, "queued", "id=%s seq=%" PRIu64 " by=%s action=%s", hex, seq,
               CT_LOG_Q(n->user), ct_action_name(ev->action));
    begin(r, 200, true);
    jstr(&r->body, "id", hex);
    jnum(&r->body, "seq", (int64_t)seq);
    jstr(&r->body, "state", "queued");
    jbool(&r->body, "already", !queued);
    end(r);
    ct_buf_free(&nb);
    return;
store_fail:
    ct_log(CT_LOG_ERROR, "cannot queue", "err=%s detail=\"%s\"", ct_err_name(e),
           ct_outbox_errmsg(s->ob));
    fail(r, 503, e, "", "the outbox could not store it: nothing queued");
    ct_buf_free(&nb);
}

/* The form field a refusal of the builder is about. */
static const char *field_of(ct_err e, const char *why)
{
    static const struct {
        const char *prefix, *field;
    } by_text[] = {
        {"agent", "agent"},
        {"program", "program"},
        {"unknown program", "program"},
        {"national ID", "national_id"},
        {"a national ID", "national_id"},
        {"commune", "commune"},
        {"months", "months"},
        {"amount", "amount"},
        {"group", "group"},
        {"unknown subsidy", "group"},
        {"bad time", "time"},
        {"time ", "time"},
    };
    switch (e) {
    case CT_ERR_UNKNOWN_AGENT:
    case CT_ERR_AGENT_DISTRICT:
        return "agent";
    case CT_ERR_UNKNOWN_PROGRAM:
        return "program";
    case CT_ERR_BAD_NATIONAL_ID:
        return "national_id";
    case CT_ERR_UNKNOWN_GROUP:
        return "group";
    case CT_ERR_UNKNOWN_COMMUNE:
        return "commune";
    case CT_ERR_OUTSIDE_WINDOW:
    case CT_ERR_IN_FUTURE:
        return "time";
    default:
        break;
    }
    for (size_t i = 0; i < sizeof by_text / sizeof by_text[0]; i++)
        if (strncmp(why, by_text[i].prefix, strlen(by_text[i].prefix)) == 0)
            return by_text[i].field;
    return "";
}

static const ct_form_field RECORD_FORM[] = {
    {"csrf", 64, true},
    {"form", 64, true},
    {"agent", 256, false},
    {"program", 256, false},
    {"national_id", 256, false},
    {"commune", 256, false},
    {"months", 256, false},
    {"amount", 256, false},
    {"group", 256, false},
    {"time", 256, false},
    {NULL, 0, false},
};

void ct_office_do_record(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!ct_office_need_form(q, r, RECORD_FORM, &f, ss->csrf)) return;
    ct_collector *s = o->opt.s;
    const char *agent = ct_form_get(&f, "agent");
    if (!ct_office_nonce_ok(ct_form_get(&f, "form"))) {
        fail(r, 400, CT_ERR_BAD_VALUE, "form", "form: bad form nonce (16 to 64 hex digits)");
        goto out;
    }
    if (u.role == CT_ROLE_STAFF && strcmp(agent, u.agent) != 0) {
        char why[160];
        snprintf(why, sizeof why, "login %s records for %s only (a lead records for anyone)",
                 u.name, u.agent);
        fail(r, 403, CT_ERR_FORBIDDEN, "agent", why);
        goto out;
    }
    ct_signup_fields sf = {
        .agent = agent,
        .program = ct_form_get(&f, "program"),
        .action = "enroll",
        .national_id = ct_form_get(&f, "national_id"),
        .commune = ct_form_get(&f, "commune"),
        .occurred_at = ct_form_get(&f, "time"),
        .months = ct_form_get(&f, "months"),
        .amount = ct_form_get(&f, "amount"),
        .group = ct_form_get(&f, "group"),
    };
    ct_signup_ctx ctx = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = s->pkey,
        .validate = true,
        .time_required = false,
        .default_time_ms = ct_office_clock_ms(o),
    };
    ct_event ev;
    char why[300];
    ct_err e = ct_signup_build(&sf, &ctx, &ev, why, sizeof why);
    if (e != CT_OK) {
        fail(r, 422, e, field_of(e, why), why);
        goto out;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    ct_office_form_key(u.name, ct_form_get(&f, "form"), key);
    ct_form_free(&f); /* the national ID goes as soon as it is hashed */
    ct_office_note n = {.kind = CT_OFFICE_NOTE_RECORD, .role = u.role};
    snprintf(n.user, sizeof n.user, "%s", u.name);
    queue_event(o, r, &ev, &n, key, NULL);
    sodium_memzero(&ev, sizeof ev);
    return;
out:
    ct_form_free(&f);
}

static const ct_form_field CANCEL_FORM[] = {
    {"csrf", 64, true},   {"form", 64, true},
    {"seq", 20, true},    {"reason", CT_OFFICE_REASON_MAX, true},
    {"confirm", 8, true}, {NULL, 0, false},
};

/* Copies the entry of a seq into a note (ct_outbox_entry_get). */
static ct_err get_cb(void *ctx, const ct_outbox_entry *en)
{
    ct_office_note *n = ctx;
    if (!ct_office_entry_note(en, n)) n->seq = 0;
    return CT_OK;
}

void ct_office_do_cancel(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!ct_office_need_form(q, r, CANCEL_FORM, &f, ss->csrf)) return;
    ct_collector *s = o->opt.s;
    uint64_t seq;
    ct_office_note orig = {0};
    bool found = false;
    ct_err e;
    if (!ct_office_nonce_ok(ct_form_get(&f, "form"))) {
        fail(r, 400, CT_ERR_BAD_VALUE, "form", "form: bad form nonce (16 to 64 hex digits)");
        goto out;
    }
    if (strcmp(ct_form_get(&f, "confirm"), "yes") != 0) {
        fail(r, 400, CT_ERR_BAD_VALUE, "confirm", "confirm: a cancel must be confirmed (yes)");
        goto out;
    }
    if (!ct_num_parse_u64(ct_form_get(&f, "seq"), UINT64_MAX, &seq)) {
        fail(r, 400, CT_ERR_BAD_VALUE, "seq", "seq: not a whole number");
        goto out;
    }
    if ((e = ct_outbox_entry_get(s->ob, seq, get_cb, &orig, &found)) != CT_OK) {
        fail(r, 503, e, "", "cannot read the outbox");
        goto out;
    }
    if (!found || !orig.seq || orig.kind != CT_OFFICE_NOTE_RECORD ||
        orig.ev.action != CT_ACTION_ENROLL) {
        fail(r, 404, CT_ERR_NOT_FOUND, "seq", "no sign-up under that seq in this outbox");
        goto out;
    }
    if (u.role == CT_ROLE_STAFF && strcmp(orig.ev.agent, u.agent) != 0) {
        char why[160];
        snprintf(why, sizeof why, "login %s cancels sign-ups of %s only", u.name, u.agent);
        fail(r, 403, CT_ERR_FORBIDDEN, "seq", why);
        goto out;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    ct_office_form_key(u.name, ct_form_get(&f, "form"), key);
    if (orig.target) {
        /* the same form again: its event; another form: refused */
        ct_outbox_txn *t;
        bool seen = false;
        uint64_t old = 0;
        if (ct_outbox_begin(s->ob, &t) == CT_OK) {
            ct_outbox_idem_seen(t, key, &seen, &old);
            ct_outbox_abort(t);
        }
        if (!seen || old != orig.target) {
            fail(r, 409, CT_ERR_CONFLICT, "seq", "this sign-up is cancelled already");
            goto out;
        }
    }
    char ph[2 * CT_PERSON_LEN + 1], months[16] = "", amount[24] = "";
    ct_text_hex(orig.ev.person, CT_PERSON_LEN, ph);
    ct_signup_fields sf = {
        .agent = orig.ev.agent,
        .program = ct_program_name(orig.ev.program),
        .action = "cancel",
        .person_hash = ph,
        .commune = orig.ev.commune,
        .months = months,
        .amount = amount,
        .group = NULL, /* as `cancel` on the command line */
    };
    ct_signup_ctx ctx = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = NULL,
        .validate = true,
        .time_required = false,
        .default_time_ms = ct_office_clock_ms(o),
    };
    ct_event ev;
    char why[300];
    if ((e = ct_signup_build(&sf, &ctx, &ev, why, sizeof why)) != CT_OK) {
        fail(r, 422, e, field_of(e, why), why);
        goto out;
    }
    ct_office_note n = {.kind = CT_OFFICE_NOTE_CANCEL, .role = u.role, .target = seq};
    snprintf(n.user, sizeof n.user, "%s", u.name);
    snprintf(n.reason, sizeof n.reason, "%s", ct_form_get(&f, "reason"));
    queue_event(o, r, &ev, &n, key, orig.target ? NULL : &orig);
out:
    ct_form_free(&f);
}

static const ct_form_field RESEND_FORM[] = {
    {"csrf", 64, true}, {"code", 40, false}, {"seq", 20, false}, {NULL, 0, false}};

/* Re-sends rejected events: those with a reason code, or the one of a seq,
 * or both; a staff member's request covers their own agent's events only,
 * a lead's the whole office's. */
void ct_office_do_resend(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!ct_office_need_form(q, r, RESEND_FORM, &f, ss->csrf)) return;
    const char *name = ct_form_get(&f, "code"), *seqs = ct_form_get(&f, "seq");
    ct_outbox_requeue_filter w = {.code = -1, .agent = u.role == CT_ROLE_STAFF ? u.agent : NULL};
    for (int c = 1; name[0] && c < 200 && w.code < 0; c++)
        if (strcmp(ct_err_name((ct_err)c), name) == 0 && strcmp(name, "unknown") != 0) w.code = c;
    if (name[0] && w.code < 0) {
        fail(r, 400, CT_ERR_BAD_VALUE, "code", "code: not a rejection reason");
        goto out;
    }
    if (seqs[0] && (!ct_num_parse_u64(seqs, UINT64_MAX, &w.seq) || w.seq == 0)) {
        fail(r, 400, CT_ERR_BAD_VALUE, "seq", "seq: not a whole number");
        goto out;
    }
    if (!name[0] && !seqs[0]) {
        fail(r, 400, CT_ERR_MISSING_FIELD, "code", "give a rejection reason (code) or a seq");
        goto out;
    }
    size_t n = 0, nc = 0;
    ct_err e = ct_outbox_requeue_where(o->opt.s->ob, &w, &n, &nc);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot requeue");
        goto out;
    }
    ct_log(CT_LOG_INFO, "requeued", "n=%zu code=%s seq=%" PRIu64 " by=%s", n,
           name[0] ? name : "any", w.seq, CT_LOG_Q(u.name));
    begin(r, 200, true);
    jnum(&r->body, "requeued", (int64_t)n);
    jnum(&r->body, "conflicts", (int64_t)nc);
    if (nc) jstr(&r->body, "hint", CT_DELIVER_CONFLICT_HINT);
    end(r);
out:
    ct_form_free(&f);
}
