/* ct_office_life.c — the office screen's void ("Hủy bỏ (nhập sai)") and
 * correct ("Sửa") of a delivered sign-up of this office (docs/PROTOCOL.md
 * §2.2, docs/collector.md "The office screen"):
 *   POST /api/void     csrf, form, event, reason
 *   POST /api/correct  csrf, form, event, reason, and any of agent,
 *                      program, commune, group (a field given is a new
 *                      value: commune or group empty = none)
 * The actor is the logged-in user; a staff login voids and corrects its own
 * agent's sign-ups only and moves none to another agent; a lead any of the
 * office's.
 *
 * Invariants: nothing is queued unless every check passed (CSRF, nonce,
 * reason, the event is an acknowledged sign-up of this outbox, the login may
 * act on it, the new values are the campaign's and change something); the
 * entry and its note are queued in one outbox transaction under the form's
 * idempotency key (the same form twice queues one entry), and "queued" is
 * replied only after the commit.
 */
#include <inttypes.h>
#include <string.h>

#include "ct_life_msg.h"
#include "ct_lifeq.h"
#include "ct_log.h"
#include "ct_office_int.h"

static const ct_form_field VOID_FORM[] = {
    {"csrf", 64, true},
    {"form", 64, true},
    {"event", 2 * CT_EVENT_ID_LEN, true},
    {"reason", CT_OFFICE_REASON_MAX, true},
    {NULL, 0, false},
};

static const ct_form_field CORRECT_FORM[] = {
    {"csrf", 64, true},
    {"form", 64, true},
    {"event", 2 * CT_EVENT_ID_LEN, true},
    {"reason", CT_OFFICE_REASON_MAX, true},
    {"agent", CT_AGENT_ID_MAX, false},
    {"program", 16, false},
    {"commune", CT_COMMUNE_MAX, false},
    {"group", CT_GROUP_MAX, false},
    {NULL, 0, false},
};

/* Whether the form carried the field (even empty). */
static const char *given(const ct_form *f, const char *name)
{
    for (size_t i = 0; f->spec[i].name; i++)
        if (strcmp(f->spec[i].name, name) == 0) return f->v[i];
    return NULL;
}

/* The HTTP status of a ct_lifeq_find refusal. */
static unsigned find_status(ct_err e)
{
    return e == CT_ERR_NOT_FOUND ? 404 : e == CT_ERR_BAD_VALUE || e == CT_ERR_TIMEOUT ? 409 : 503;
}

/* The new values of a correct into l; false: replied. */
static bool correct_values(ct_office_resp *r, const ct_form *f, const ct_user *u,
                           const ct_lifeq_target *t, ct_life *l)
{
    const char *a = given(f, "agent"), *p = given(f, "program"), *w = given(f, "commune"),
               *g = given(f, "group");
    if (a && a[0]) {
        if (u->role == CT_ROLE_STAFF && strcmp(a, u->agent) != 0) {
            fail(r, 403, CT_ERR_FORBIDDEN, "agent",
                 "a staff login cannot move a sign-up to another staff member (a lead can)");
            return false;
        }
        l->has_new_agent = true;
        snprintf(l->new_agent, sizeof l->new_agent, "%s", a);
    }
    if (p && p[0]) {
        if (ct_program_parse(p, &l->new_program) != CT_OK) {
            fail(r, 422, CT_ERR_UNKNOWN_PROGRAM, "program", "program: bhxh_tn or bhyt_hgd");
            return false;
        }
        l->has_new_program = true;
    }
    if (w) {
        l->has_new_commune = true;
        snprintf(l->new_commune, sizeof l->new_commune, "%s", w);
    }
    if (g) {
        l->has_new_group = true;
        snprintf(l->new_group, sizeof l->new_group, "%s", g);
    }
    if (!l->has_new_agent && !l->has_new_program && !l->has_new_commune && !l->has_new_group) {
        fail(r, 400, CT_ERR_MISSING_FIELD, "agent",
             "give at least one new value (staff member, program, commune or group)");
        return false;
    }
    if ((!l->has_new_program || l->new_program == t->program) &&
        (!l->has_new_agent || strcmp(l->new_agent, t->agent) == 0) &&
        (!l->has_new_commune || strcmp(l->new_commune, t->commune) == 0) &&
        (!l->has_new_group || strcmp(l->new_group, t->group) == 0)) {
        fail(r, 422, CT_ERR_BAD_VALUE, "", "this correction changes nothing");
        return false;
    }
    return true;
}

/* The field a campaign refusal of a life entry is about. */
static const char *life_field(ct_err e)
{
    switch (e) {
    case CT_ERR_UNKNOWN_AGENT:
    case CT_ERR_AGENT_DISTRICT:
        return "agent";
    case CT_ERR_UNKNOWN_PROGRAM:
        return "program";
    case CT_ERR_UNKNOWN_COMMUNE:
        return "commune";
    case CT_ERR_UNKNOWN_GROUP:
        return "group";
    default:
        return "";
    }
}

static void reply_queued(ct_office *o, ct_office_resp *r, uint64_t seq, bool already)
{
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_collector_id_hex(o->opt.s, seq, hex);
    begin(r, 200, true);
    jstr(&r->body, "id", hex);
    jnum(&r->body, "seq", (int64_t)seq);
    jstr(&r->body, "state", "queued");
    jbool(&r->body, "already", already);
    end(r);
}

/* The same form again: its entry (true: replied). */
static bool already_queued(ct_office *o, ct_office_resp *r, const uint8_t *key)
{
    ct_outbox_txn *t;
    bool seen = false;
    uint64_t old = 0;
    if (ct_outbox_begin(o->opt.s->ob, &t) != CT_OK) return false;
    ct_outbox_idem_seen(t, key, &seen, &old);
    ct_outbox_abort(t);
    if (seen) reply_queued(o, r, old, true);
    return seen;
}

static void life_form(ct_office *o, const ct_office_req *q, ct_office_resp *r, ct_life_kind kind)
{
    ct_user u;
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!ct_office_need_form(q, r, kind == CT_LIFE_VOID ? VOID_FORM : CORRECT_FORM, &f, ss->csrf))
        return;
    ct_collector *s = o->opt.s;
    ct_life l;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    ct_lifeq_target t;
    char why[400];
    if (!ct_office_nonce_ok(ct_form_get(&f, "form"))) {
        fail(r, 400, CT_ERR_BAD_VALUE, "form", "form: bad form nonce (16 to 64 hex digits)");
        goto out;
    }
    if (ct_life_reason_blank(ct_form_get(&f, "reason"))) {
        fail(r, 400, CT_ERR_BAD_VALUE, "reason", "reason: is missing (spaces only)");
        goto out;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    ct_office_form_key(u.name, ct_form_get(&f, "form"), key);
    if (already_queued(o, r, key)) goto out;
    if (ct_event_id_parse_hex(ct_form_get(&f, "event"), l.target_id) != CT_OK) {
        fail(r, 400, CT_ERR_BAD_ID, "event", "event: an event id is 32 hex digits");
        goto out;
    }
    ct_outbox_info in;
    ct_err e = ct_outbox_get_info(s->ob, &in);
    if (e == CT_OK) e = ct_lifeq_find(s->ob, &in, l.target_id, &t, why, sizeof why);
    if (e != CT_OK) {
        fail(r, find_status(e), e, "event", why);
        goto out;
    }
    if (u.role == CT_ROLE_STAFF && strcmp(t.agent, u.agent) != 0) {
        snprintf(why, sizeof why, "login %s voids and corrects sign-ups of %s only", u.name,
                 u.agent);
        fail(r, 403, CT_ERR_FORBIDDEN, "event", why);
        goto out;
    }
    ct_lifeq_fill(&t, &l);
    if (kind == CT_LIFE_CORRECT && !correct_values(r, &f, &u, &t, &l)) goto out;
    l.issued_ms = ct_office_clock_ms(o);
    snprintf(l.campaign, sizeof l.campaign, "%s", s->camp.id);
    snprintf(l.actor, sizeof l.actor, "%s", u.name);
    snprintf(l.reason, sizeof l.reason, "%s", ct_form_get(&f, "reason"));
    if ((e = ct_campaign_check_life(&s->camp, &l)) != CT_OK) {
        snprintf(why, sizeof why, "%s: %s", ct_err_name(e), ct_err_str(e));
        fail(r, 422, e, life_field(e), why);
        goto out;
    }
    ct_office_note n = {.kind = CT_OFFICE_NOTE_LIFE, .role = u.role, .target = t.seq};
    snprintf(n.user, sizeof n.user, "%s", u.name);
    ct_outbox_txn *tx = NULL;
    ct_buf nb = CT_BUF_INIT;
    uint64_t seq = 0;
    bool queued = false;
    e = ct_outbox_begin(s->ob, &tx);
    if (e == CT_OK) e = ct_outbox_queue_life(tx, &l, key, t.seq, &queued, &seq);
    if (e == CT_OK && queued) {
        n.life = l; /* with its id */
        e = ct_office_note_encode(&n, &nb);
        if (e == CT_OK) e = ct_outbox_note_put(tx, seq, nb.data, nb.len);
    }
    ct_buf_free(&nb);
    if (e == CT_OK && queued) {
        e = ct_outbox_commit(tx);
    } else {
        ct_outbox_abort(tx);
    }
    if (e != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot queue", "err=%s detail=\"%s\"", ct_err_name(e),
               ct_outbox_errmsg(s->ob));
        fail(r, 503, e, "", "the outbox could not store it: nothing queued");
        goto out;
    }
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_collector_id_hex(s, seq, hex);
    if (queued)
        ct_log(CT_LOG_INFO, "queued", "id=%s seq=%" PRIu64 " by=%s kind=%s target=%" PRIu64, hex,
               seq, CT_LOG_Q(u.name), ct_life_kind_name(kind), t.seq);
    reply_queued(o, r, seq, !queued);
out:
    ct_form_free(&f);
}

void ct_office_do_void(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    life_form(o, q, r, CT_LIFE_VOID);
}

void ct_office_do_correct(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    life_form(o, q, r, CT_LIFE_CORRECT);
}
