/* ct_office.c — the office screen's application (see ct_office.h).
 *
 * Invariants: a session slot is live iff token[0] != 0; tokens and CSRF
 * tokens are 32 random bytes in hex, compared in constant time; every
 * authenticated request re-reads the password file, so a removed login or a
 * changed role takes effect at once; a sign-up is queued, with its note, in
 * one outbox transaction, and replied "queued" only after its commit.
 */
#include "ct_office.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_be.h"
#include "ct_deliver.h"
#include "ct_form.h"
#include "ct_import.h"
#include "ct_log.h"
#include "ct_num.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_users.h"

#define TOKEN_HEX 64
#define RATE_SLOTS 256
#define NOTE_VERSION 1

enum { NOTE_RECORD = 0, NOTE_CANCEL = 1 };

typedef struct {
    char token[TOKEN_HEX + 1];
    char csrf[TOKEN_HEX + 1];
    char user[CT_USER_NAME_MAX + 1];
    int64_t created_ms, used_ms;
} session;

typedef struct {
    char key[80]; /* "u:NAME" or "a:ADDR" */
    int64_t since_ms;
    unsigned fails;
} rate_slot;

struct ct_office {
    ct_office_opts opt;
    session sess[CT_OFFICE_SESSIONS_MAX];
    rate_slot rate[RATE_SLOTS];
    pthread_mutex_t mu; /* guards link */
    ct_office_link link;
};

/* A note beside an event (ct_outbox_note_put): who recorded it. */
typedef struct {
    int kind;
    ct_role role;
    char user[CT_USER_NAME_MAX + 1];
    char reason[CT_OFFICE_REASON_MAX + 1];
    uint64_t target; /* cancel: the seq it cancels */
    ct_event ev;
    uint64_t seq;
    ct_outbox_state state;
    uint16_t code;
} note;

/* ---- small helpers ---- */

static int64_t clock_ms(const ct_office *o)
{
    return ct_now_ms() + o->opt.clock_offset_ms;
}

static void random_hex(char out[TOKEN_HEX + 1])
{
    uint8_t b[TOKEN_HEX / 2];
    randombytes_buf(b, sizeof b);
    ct_text_hex(b, sizeof b, out);
    sodium_memzero(b, sizeof b);
}

static bool token_eq(const char *a, const char *b)
{
    return a && b && strlen(a) == TOKEN_HEX && strlen(b) == TOKEN_HEX &&
           sodium_memcmp(a, b, TOKEN_HEX) == 0;
}

static void jkey(ct_buf *b, const char *k)
{
    ct_buf_printf(b, "%s", b->len > 1 ? "," : "");
    ct_text_json_str(b, k);
    ct_buf_append(b, ":", 1);
}

static void jstr(ct_buf *b, const char *k, const char *v)
{
    jkey(b, k);
    ct_text_json_str(b, v);
}

static void jnum(ct_buf *b, const char *k, int64_t v)
{
    jkey(b, k);
    ct_buf_printf(b, "%" PRId64, v);
}

static void jbool(ct_buf *b, const char *k, bool v)
{
    jkey(b, k);
    ct_buf_printf(b, "%s", v ? "true" : "false");
}

static void jtime(ct_buf *b, const char *k, int64_t ms, int32_t tz)
{
    if (ms <= 0) {
        jkey(b, k);
        ct_buf_printf(b, "null");
        return;
    }
    char t[48];
    ct_time_format(ms, tz, t, sizeof t);
    jstr(b, k, t);
}

static void begin(ct_office_resp *r, unsigned status, bool ok)
{
    r->status = status;
    ct_buf_reset(&r->body);
    ct_buf_printf(&r->body, "{\"ok\":%s", ok ? "true" : "false");
}

static void end(ct_office_resp *r)
{
    ct_buf_append(&r->body, "}\n", 2);
}

static void fail(ct_office_resp *r, unsigned status, ct_err code, const char *field,
                 const char *why)
{
    begin(r, status, false);
    jstr(&r->body, "code", ct_err_name(code));
    if (field && field[0]) jstr(&r->body, "field", field);
    jstr(&r->body, "error", why);
    end(r);
}

static void add_cookie(const ct_office *o, ct_office_resp *r, const char *name, const char *val,
                       bool clear)
{
    assert(r->n_cookies < 2);
    snprintf(r->cookies[r->n_cookies++], sizeof r->cookies[0],
             "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, val, clear ? "; Max-Age=0" : "",
             o->opt.secure_cookies ? "; Secure" : "");
}

/* ---- sessions and logins ---- */

static session *find_session(ct_office *o, const char *token)
{
    if (!token) return NULL;
    int64_t now = ct_now_ms();
    for (int i = 0; i < CT_OFFICE_SESSIONS_MAX; i++) {
        session *s = &o->sess[i];
        if (!s->token[0]) continue;
        if (now - s->used_ms > o->opt.session_idle_ms ||
            now - s->created_ms > CT_OFFICE_SESSION_MAX_MS) {
            sodium_memzero(s, sizeof *s);
            continue;
        }
        if (token_eq(s->token, token)) return s;
    }
    return NULL;
}

static session *new_session(ct_office *o, const char *user)
{
    session *slot = NULL;
    for (int i = 0; i < CT_OFFICE_SESSIONS_MAX; i++) {
        session *s = &o->sess[i];
        if (!s->token[0]) {
            slot = s;
            break;
        }
        if (!slot || s->used_ms < slot->used_ms) slot = s; /* else: the least recently used */
    }
    sodium_memzero(slot, sizeof *slot);
    random_hex(slot->token);
    random_hex(slot->csrf);
    snprintf(slot->user, sizeof slot->user, "%s", user);
    slot->created_ms = slot->used_ms = ct_now_ms();
    return slot;
}

static rate_slot *rate_find(ct_office *o, const char *key, bool create)
{
    int64_t now = ct_now_ms();
    rate_slot *oldest = NULL;
    for (int i = 0; i < RATE_SLOTS; i++) {
        rate_slot *x = &o->rate[i];
        if (x->key[0] && now - x->since_ms >= CT_OFFICE_LOGIN_WINDOW_MS) memset(x, 0, sizeof *x);
        if (x->key[0] && strcmp(x->key, key) == 0) return x;
        if (!oldest || !x->key[0] || (oldest->key[0] && x->since_ms < oldest->since_ms)) oldest = x;
    }
    if (!create) return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    oldest->since_ms = now;
    return oldest;
}

/* Seconds until key may try again (0: now). */
static int64_t rate_wait_s(ct_office *o, const char *key)
{
    rate_slot *x = rate_find(o, key, false);
    if (!x || x->fails < CT_OFFICE_LOGIN_FAILS) return 0;
    return (x->since_ms + CT_OFFICE_LOGIN_WINDOW_MS - ct_now_ms() + 999) / 1000;
}

static void rate_fail(ct_office *o, const char *key)
{
    rate_slot *x = rate_find(o, key, true);
    x->fails++;
}

/* The login of a session as the password file says now; false when gone. */
static bool session_user(ct_office *o, const session *ss, ct_user *out)
{
    char path[CT_OUTBOX_PATH_MAX + 8], err[CT_OUTBOX_PATH_MAX + 128];
    ct_users_path(o->opt.s->dir, path, sizeof path);
    ct_users u;
    if (ct_users_load(path, &u, err, sizeof err) != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot read the password file", "detail=%s", CT_LOG_Q(err));
        return false;
    }
    ct_user *x = ct_users_find(&u, ss->user);
    if (x) *out = *x;
    ct_users_free(&u);
    return x != NULL;
}

/* The session of q (NULL and a 401 reply when none). */
static session *need_session(ct_office *o, const ct_office_req *q, ct_office_resp *r, ct_user *u)
{
    session *ss = find_session(o, q->cookie_session);
    if (!ss || !session_user(o, ss, u)) {
        if (ss) sodium_memzero(ss, sizeof *ss);
        fail(r, 401, CT_ERR_UNAUTHENTICATED, "", "login required");
        return NULL;
    }
    ss->used_ms = ct_now_ms();
    return ss;
}

/* Parses the form of a POST and checks its CSRF token against want. */
static bool need_form(const ct_office_req *q, ct_office_resp *r, const ct_form_field *spec,
                      ct_form *f, const char *want)
{
    char field[64], why[160];
    if (!q->content_type ||
        strncmp(q->content_type, "application/x-www-form-urlencoded", 33) != 0) {
        fail(r, 415, CT_ERR_BAD_VALUE, "", "expected an application/x-www-form-urlencoded form");
        return false;
    }
    ct_err e = ct_form_parse(q->body, q->body_len, spec, f, field, sizeof field, why, sizeof why);
    if (e != CT_OK) {
        if (e == CT_ERR_NOMEM) {
            fail(r, 500, e, "", "out of memory");
        } else {
            char msg[240];
            snprintf(msg, sizeof msg, "%s%s%s", field, field[0] ? ": " : "", why);
            fail(r, strcmp(field, "csrf") == 0 ? 403 : 400, e, field, msg);
        }
        return false;
    }
    if (!token_eq(ct_form_get(f, "csrf"), want)) {
        ct_form_free(f);
        fail(r, 403, CT_ERR_FORBIDDEN, "csrf",
             "the form's security token is wrong or expired: "
             "reload the page");
        return false;
    }
    return true;
}

/* ---- notes ---- */

static ct_err note_encode(const note *n, ct_buf *out)
{
    ct_buf ev = CT_BUF_INIT;
    ct_err e = ct_event_encode(&n->ev, &ev);
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

static bool note_decode(const uint8_t *p, size_t len, note *n)
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
    return ct_event_decode(p + i, el, &n->ev, NULL) == CT_OK;
}

typedef struct {
    note *v;
    size_t n, cap;
} note_list;

static ct_err collect_cb(void *ctx, uint64_t seq, const uint8_t *p, size_t len, ct_outbox_state st,
                         uint16_t code)
{
    note_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        note *v = realloc(l->v, cap * sizeof *v);
        if (!v) return CT_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    note *n = &l->v[l->n];
    if (!note_decode(p, len, n)) return CT_OK; /* not one of the screen's: skipped */
    n->seq = seq;
    n->state = st;
    n->code = code;
    l->n++;
    return CT_OK;
}

static note *note_by_seq(note_list *l, uint64_t seq)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].seq == seq) return &l->v[i];
    return NULL;
}

static const note *cancel_of(const note_list *l, uint64_t seq)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == NOTE_CANCEL && l->v[i].target == seq) return &l->v[i];
    return NULL;
}

/* ---- queueing ---- */

/* The idempotency key of a form: (login, nonce). */
static void form_key(const char *user, const char *nonce, uint8_t key[CT_OUTBOX_IDEM_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CT_OUTBOX_IDEM_LEN);
    crypto_generichash_update(&st, (const uint8_t *)"ct-office-form", 15);
    crypto_generichash_update(&st, (const uint8_t *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const uint8_t *)nonce, strlen(nonce));
    crypto_generichash_final(&st, key, CT_OUTBOX_IDEM_LEN);
}

static bool nonce_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Queues ev with its note n under the form key; replies. */
static void queue_event(ct_office *o, ct_office_resp *r, ct_event *ev, note *n,
                        const uint8_t key[CT_OUTBOX_IDEM_LEN])
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
        e = note_encode(n, &nb);
        if (e == CT_OK) e = ct_outbox_note_put(t, seq, nb.data, nb.len);
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

static void do_record(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    session *ss = need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!need_form(q, r, RECORD_FORM, &f, ss->csrf)) return;
    ct_collector *s = o->opt.s;
    const char *agent = ct_form_get(&f, "agent");
    if (!nonce_ok(ct_form_get(&f, "form"))) {
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
        .default_time_ms = clock_ms(o),
    };
    ct_event ev;
    char why[300];
    ct_err e = ct_signup_build(&sf, &ctx, &ev, why, sizeof why);
    if (e != CT_OK) {
        fail(r, 422, e, field_of(e, why), why);
        goto out;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    form_key(u.name, ct_form_get(&f, "form"), key);
    ct_form_free(&f); /* the national ID goes as soon as it is hashed */
    note n = {.kind = NOTE_RECORD, .role = u.role};
    snprintf(n.user, sizeof n.user, "%s", u.name);
    queue_event(o, r, &ev, &n, key);
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

static void do_cancel(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    session *ss = need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!need_form(q, r, CANCEL_FORM, &f, ss->csrf)) return;
    ct_collector *s = o->opt.s;
    note_list l = {0};
    uint64_t seq;
    if (!nonce_ok(ct_form_get(&f, "form"))) {
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
    ct_err e = ct_outbox_notes_each(s->ob, collect_cb, &l);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot read the outbox");
        goto out;
    }
    note *orig = note_by_seq(&l, seq);
    if (!orig || orig->kind != NOTE_RECORD || orig->ev.action != CT_ACTION_ENROLL) {
        fail(r, 404, CT_ERR_NOT_FOUND, "seq", "no sign-up recorded on this screen under that seq");
        goto out;
    }
    if (u.role == CT_ROLE_STAFF && strcmp(orig->ev.agent, u.agent) != 0) {
        char why[160];
        snprintf(why, sizeof why, "login %s cancels sign-ups of %s only", u.name, u.agent);
        fail(r, 403, CT_ERR_FORBIDDEN, "seq", why);
        goto out;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    form_key(u.name, ct_form_get(&f, "form"), key);
    const note *prev = cancel_of(&l, seq);
    if (prev) {
        /* the same form again: its event; another form: refused */
        ct_outbox_txn *t;
        bool seen = false;
        uint64_t old = 0;
        if (ct_outbox_begin(s->ob, &t) == CT_OK) {
            ct_outbox_idem_seen(t, key, &seen, &old);
            ct_outbox_abort(t);
        }
        if (!seen || old != prev->seq) {
            fail(r, 409, CT_ERR_CONFLICT, "seq", "this sign-up is cancelled already");
            goto out;
        }
    }
    char ph[2 * CT_PERSON_LEN + 1], months[16] = "", amount[24] = "";
    ct_text_hex(orig->ev.person, CT_PERSON_LEN, ph);
    ct_signup_fields sf = {
        .agent = orig->ev.agent,
        .program = ct_program_name(orig->ev.program),
        .action = "cancel",
        .person_hash = ph,
        .commune = orig->ev.commune,
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
        .default_time_ms = clock_ms(o),
    };
    ct_event ev;
    char why[300];
    if ((e = ct_signup_build(&sf, &ctx, &ev, why, sizeof why)) != CT_OK) {
        fail(r, 422, e, field_of(e, why), why);
        goto out;
    }
    note n = {.kind = NOTE_CANCEL, .role = u.role, .target = seq};
    snprintf(n.user, sizeof n.user, "%s", u.name);
    snprintf(n.reason, sizeof n.reason, "%s", ct_form_get(&f, "reason"));
    queue_event(o, r, &ev, &n, key);
out:
    free(l.v);
    ct_form_free(&f);
}

/* Counts the rejected events with reason code that are not agent's (an
 * event that does not decode counts as another's). */
typedef struct {
    int code;
    const char *agent;
    size_t others;
} others_ctx;

static ct_err others_cb(void *ctx, uint64_t seq, uint16_t code, const uint8_t *p, size_t len)
{
    (void)seq;
    others_ctx *x = ctx;
    if (code != x->code || code == CT_ERR_CONFLICT) return CT_OK; /* conflicts are never moved */
    ct_event ev;
    if (ct_event_decode(p, len, &ev, NULL) != CT_OK || strcmp(ev.agent, x->agent) != 0) x->others++;
    return CT_OK;
}

static const ct_form_field RESEND_FORM[] = {
    {"csrf", 64, true}, {"code", 40, true}, {NULL, 0, false}};

static void do_resend(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    session *ss = need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!need_form(q, r, RESEND_FORM, &f, ss->csrf)) return;
    const char *name = ct_form_get(&f, "code");
    int code = -1;
    for (int c = 1; c < 200 && code < 0; c++)
        if (strcmp(ct_err_name((ct_err)c), name) == 0 && strcmp(name, "unknown") != 0) code = c;
    if (code < 0) {
        fail(r, 400, CT_ERR_BAD_VALUE, "code", "code: not a rejection reason");
        goto out;
    }
    if (u.role == CT_ROLE_STAFF) {
        /* staff re-send their own agent's sign-ups only: refused while any
         * other one is rejected with this reason (a lead re-sends those) */
        others_ctx oc = {.code = code, .agent = u.agent};
        ct_err ce = ct_outbox_rejected_each(o->opt.s->ob, others_cb, &oc);
        if (ce != CT_OK) {
            fail(r, 503, ce, "", "cannot read the outbox");
            goto out;
        }
        if (oc.others) {
            char why[200];
            snprintf(why, sizeof why,
                     "login %s re-sends sign-ups of %s only: %zu other sign-up%s rejected as %s "
                     "(a lead re-sends them)",
                     u.name, u.agent, oc.others, oc.others == 1 ? " is" : "s are", name);
            fail(r, 403, CT_ERR_FORBIDDEN, "code", why);
            goto out;
        }
    }
    size_t n = 0, nc = 0;
    ct_err e = ct_outbox_requeue(o->opt.s->ob, code, &n, &nc);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot requeue");
        goto out;
    }
    ct_log(CT_LOG_INFO, "requeued", "n=%zu code=%s by=%s", n, name, CT_LOG_Q(u.name));
    begin(r, 200, true);
    jnum(&r->body, "requeued", (int64_t)n);
    jnum(&r->body, "conflicts", (int64_t)nc);
    if (nc) jstr(&r->body, "hint", CT_DELIVER_CONFLICT_HINT);
    end(r);
out:
    ct_form_free(&f);
}

/* ---- reading ---- */

static void session_reply(ct_office *o, ct_office_resp *r, const session *ss, const ct_user *u)
{
    ct_collector *s = o->opt.s;
    const ct_campaign *c = &s->camp;
    const ct_district *d = ct_campaign_district(c, s->info.district);
    ct_buf *b = &r->body;
    begin(r, 200, true);
    jstr(b, "user", u->name);
    jstr(b, "role", ct_role_name(u->role));
    jstr(b, "agent", u->agent);
    jstr(b, "csrf", ss->csrf);
    jnum(b, "district", s->info.district);
    jstr(b, "office", d ? d->name : "");
    jstr(b, "campaign", c->id);
    jstr(b, "campaign_name", c->name);
    jtime(b, "now", clock_ms(o), c->tz_offset_min);
    jtime(b, "start", c->start_ms, c->tz_offset_min);
    jtime(b, "end", c->end_ms, c->tz_offset_min);
    jkey(b, "roster");
    ct_buf_append(b, "[", 1);
    bool first = true;
    for (size_t i = 0; i < c->n_agents; i++) {
        const ct_agent *a = &c->agents[i];
        if (a->district != s->info.district) continue;
        if (u->role == CT_ROLE_STAFF && strcmp(a->id, u->agent) != 0) continue;
        ct_buf_printf(b, "%s{\"id\":", first ? "" : ",");
        ct_text_json_str(b, a->id);
        ct_buf_printf(b, ",\"name\":");
        ct_text_json_str(b, a->name);
        ct_buf_append(b, "}", 1);
        first = false;
    }
    ct_buf_printf(b, "],\"programs\":[");
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        ct_buf_printf(b, "%s{\"id\":", p ? "," : "");
        ct_text_json_str(b, ct_program_name((ct_program)p));
        ct_buf_printf(b, ",\"name\":");
        ct_text_json_str(b, ct_program_label((ct_program)p));
        ct_buf_append(b, "}", 1);
    }
    ct_buf_printf(b, "],\"groups\":[");
    for (size_t i = 0; i < c->n_groups; i++) {
        ct_buf_printf(b, "%s{\"id\":", i ? "," : "");
        ct_text_json_str(b, c->groups[i].id);
        ct_buf_printf(b, ",\"name\":");
        ct_text_json_str(b, c->groups[i].name);
        ct_buf_append(b, "}", 1);
    }
    ct_buf_append(b, "]", 1);
    end(r);
}

static void do_session(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    session *ss = find_session(o, q->cookie_session);
    if (ss && session_user(o, ss, &u)) {
        ss->used_ms = ct_now_ms();
        session_reply(o, r, ss, &u);
        return;
    }
    char tok[TOKEN_HEX + 1];
    random_hex(tok);
    add_cookie(o, r, "ct_login", tok, false);
    begin(r, 401, false);
    jstr(&r->body, "code", "unauthenticated");
    jstr(&r->body, "error", "login required");
    jstr(&r->body, "login_token", tok);
    end(r);
}

static const ct_form_field LOGIN_FORM[] = {{"csrf", 64, true},
                                           {"user", CT_USER_NAME_MAX, true},
                                           {"password", CT_PASSWORD_MAX, true},
                                           {NULL, 0, false}};

static void do_login(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_form f;
    if (!need_form(q, r, LOGIN_FORM, &f, q->cookie_login)) return;
    const char *name = ct_form_get(&f, "user");
    char ukey[80], akey[80];
    snprintf(ukey, sizeof ukey, "u:%s", name);
    snprintf(akey, sizeof akey, "a:%s", q->peer ? q->peer : "?");
    int64_t wait = rate_wait_s(o, ukey);
    int64_t wa = rate_wait_s(o, akey);
    if (wa > wait) wait = wa;
    if (wait > 0) {
        char why[160];
        snprintf(why, sizeof why, "too many failed logins: try again in %" PRId64 " s", wait);
        ct_log(CT_LOG_WARN, "login refused: rate limit", "user=%s peer=%s", CT_LOG_Q(name),
               CT_LOG_Q(q->peer ? q->peer : "?"));
        fail(r, 429, CT_ERR_FORBIDDEN, "", why);
        goto out;
    }
    char path[CT_OUTBOX_PATH_MAX + 8], err[CT_OUTBOX_PATH_MAX + 128];
    ct_users_path(o->opt.s->dir, path, sizeof path);
    ct_users us;
    if (ct_users_load(path, &us, err, sizeof err) != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot read the password file", "detail=%s", CT_LOG_Q(err));
        fail(r, 500, CT_ERR_CONFIG, "", "the password file cannot be read (see the server log)");
        goto out;
    }
    ct_user *x = ct_user_name_valid(name) ? ct_users_find(&us, name) : NULL;
    bool ok;
    if (x) {
        ok = ct_user_verify(x, ct_form_get(&f, "password"));
    } else {
        ct_user_verify_dummy(ct_form_get(&f, "password"));
        ok = false;
    }
    if (!ok) {
        ct_users_free(&us);
        rate_fail(o, ukey);
        rate_fail(o, akey);
        ct_log(CT_LOG_WARN, "login failed", "user=%s peer=%s",
               ct_user_name_valid(name) ? name : "?", CT_LOG_Q(q->peer ? q->peer : "?"));
        fail(r, 401, CT_ERR_UNAUTHENTICATED, "password", "wrong login or password");
        goto out;
    }
    ct_user u = *x;
    ct_users_free(&us);
    session *ss = new_session(o, u.name);
    add_cookie(o, r, "ct_session", ss->token, false);
    add_cookie(o, r, "ct_login", "", true);
    ct_log(CT_LOG_INFO, "login", "user=%s role=%s peer=%s", CT_LOG_Q(u.name), ct_role_name(u.role),
           CT_LOG_Q(q->peer ? q->peer : "?"));
    session_reply(o, r, ss, &u);
out:
    ct_form_free(&f);
}

static const ct_form_field LOGOUT_FORM[] = {{"csrf", 64, true}, {NULL, 0, false}};

static void do_logout(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    session *ss = need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!need_form(q, r, LOGOUT_FORM, &f, ss->csrf)) return;
    ct_form_free(&f);
    sodium_memzero(ss, sizeof *ss);
    add_cookie(o, r, "ct_session", "", true);
    begin(r, 200, true);
    end(r);
}

static const char *state_name(ct_outbox_state st)
{
    /* committed at HQ and not yet safe is delivered too; "safe" says which */
    return st == CT_OUTBOX_QUEUED ? "queued" : st == CT_OUTBOX_REJECTED ? "rejected" : "delivered";
}

static void do_list(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    if (!need_session(o, q, r, &u)) return;
    ct_collector *s = o->opt.s;
    const ct_campaign *c = &s->camp;
    note_list l = {0};
    ct_err e = ct_outbox_notes_each(s->ob, collect_cb, &l);
    if (e != CT_OK) {
        free(l.v);
        fail(r, 503, e, "", "cannot read the outbox");
        return;
    }
    ct_buf *b = &r->body;
    begin(r, 200, true);
    jnum(b, "today", ct_campaign_local_day(c, clock_ms(o)));
    jkey(b, "entries");
    ct_buf_append(b, "[", 1);
    for (size_t i = 0; i < l.n; i++) {
        const note *n = &l.v[i];
        const ct_agent *a = ct_campaign_agent(c, n->ev.agent);
        char hex[2 * CT_EVENT_ID_LEN + 1];
        ct_event_id_hex(n->ev.id, hex);
        /* the first key by hand: jkey puts a comma before every key */
        ct_buf_printf(b, "%s{\"seq\":%" PRIu64, i ? "," : "", n->seq);
        jstr(b, "id", hex);
        jstr(b, "kind", n->kind == NOTE_CANCEL ? "cancel" : "record");
        jstr(b, "agent", n->ev.agent);
        jstr(b, "agent_name", a ? a->name : "");
        jstr(b, "program", ct_program_name(n->ev.program));
        jstr(b, "action", ct_action_name(n->ev.action));
        jtime(b, "time", n->ev.occurred_ms, c->tz_offset_min);
        jnum(b, "day", ct_campaign_local_day(c, n->ev.occurred_ms));
        jstr(b, "commune", n->ev.commune);
        if (n->ev.has_months) jnum(b, "months", n->ev.months);
        if (n->ev.has_amount) jnum(b, "amount", (int64_t)n->ev.amount_vnd);
        jstr(b, "group", n->ev.group);
        jstr(b, "recorded_by", n->user);
        jstr(b, "state", state_name(n->state));
        if (n->state == CT_OUTBOX_COMMITTED || n->state == CT_OUTBOX_SETTLED)
            jbool(b, "safe", n->state == CT_OUTBOX_SETTLED);
        if (n->state == CT_OUTBOX_REJECTED) {
            jstr(b, "reason_code", ct_err_name((ct_err)n->code));
            jstr(b, "reason",
                 n->code == CT_ERR_CONFLICT ? CT_DELIVER_CONFLICT_MSG
                                            : ct_err_str((ct_err)n->code));
        }
        if (n->kind == NOTE_CANCEL) {
            jnum(b, "cancels", (int64_t)n->target);
            jstr(b, "cancel_reason", n->reason);
        } else {
            const note *cn = cancel_of(&l, n->seq);
            if (cn) jnum(b, "cancelled_by", (int64_t)cn->seq);
        }
        ct_buf_append(b, "}", 1);
    }
    ct_buf_append(b, "]", 1);
    end(r);
    free(l.v);
}

static void do_status(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    if (!need_session(o, q, r, &u)) return;
    ct_collector *s = o->opt.s;
    ct_outbox_info in;
    ct_err e = ct_outbox_get_info(s->ob, &in);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot read the outbox");
        return;
    }
    pthread_mutex_lock(&o->mu);
    ct_office_link l = o->link;
    pthread_mutex_unlock(&o->mu);
    int32_t tz = s->camp.tz_offset_min;
    ct_buf *b = &r->body;
    begin(r, 200, true);
    jkey(b, "connected");
    ct_buf_printf(b, "%s", !l.probing || !l.checked_ms ? "null" : l.reachable ? "true" : "false");
    jtime(b, "checked_at", l.checked_ms, tz);
    int64_t last = in.last_ack_ms > l.answered_ms ? in.last_ack_ms : l.answered_ms;
    jtime(b, "last_answer", last, tz);
    jstr(b, "detail", l.detail);
    jnum(b, "waiting", (int64_t)(in.queued - in.committed));
    jnum(b, "committed_not_safe", (int64_t)in.committed);
    jnum(b, "rejected", (int64_t)in.rejected_entries);
    jnum(b, "delivered", (int64_t)in.delivered);
    jbool(b, "deliverer_running", ct_collector_run_active(s));
    end(r);
}

/* ---- the router ---- */

void ct_office_handle(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    r->body = (ct_buf)CT_BUF_INIT;
    r->n_cookies = 0;
    static const struct {
        const char *method, *path;
        void (*fn)(ct_office *, const ct_office_req *, ct_office_resp *);
    } routes[] = {
        {"GET", "/api/session", do_session}, {"POST", "/api/login", do_login},
        {"POST", "/api/logout", do_logout},  {"POST", "/api/record", do_record},
        {"POST", "/api/cancel", do_cancel},  {"POST", "/api/resend", do_resend},
        {"GET", "/api/list", do_list},       {"GET", "/api/status", do_status},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(q->path, routes[i].path) != 0) continue;
        if (strcmp(q->method, routes[i].method) != 0) {
            fail(r, 405, CT_ERR_BAD_VALUE, "", "method not allowed");
            return;
        }
        if (strcmp(q->method, "GET") == 0 && q->body_len) {
            fail(r, 400, CT_ERR_BAD_VALUE, "", "no body expected");
            return;
        }
        routes[i].fn(o, q, r);
        return;
    }
    fail(r, 404, CT_ERR_NOT_FOUND, "", "not found");
}

ct_err ct_office_new(const ct_office_opts *opt, ct_office **out)
{
    assert(opt->s && opt->s->has_pkey && opt->s->camp_loaded);
    ct_office *o = calloc(1, sizeof *o);
    if (!o) return CT_ERR_NOMEM;
    o->opt = *opt;
    pthread_mutex_init(&o->mu, NULL);
    *out = o;
    return CT_OK;
}

void ct_office_free(ct_office *o)
{
    if (!o) return;
    pthread_mutex_destroy(&o->mu);
    sodium_memzero(o, sizeof *o);
    free(o);
}

void ct_office_set_link(ct_office *o, const ct_office_link *l)
{
    pthread_mutex_lock(&o->mu);
    o->link = *l;
    pthread_mutex_unlock(&o->mu);
}
