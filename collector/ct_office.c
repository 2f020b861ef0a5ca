/* ct_office.c — the office screen's application (see ct_office.h): logins,
 * sessions, the rate limit, the session and status replies, and the router
 * to the handlers of ct_office_record.c, ct_office_list.c and
 * ct_office_import.c.
 *
 * Invariants: a session slot is live iff token[0] != 0; tokens and CSRF
 * tokens are 32 random bytes in hex, compared in constant time; every
 * authenticated request re-reads the password file, so a removed login or a
 * changed role takes effect at once.
 */
#include "ct_office_int.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_form.h"
#include "ct_log.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_users.h"

/* ---- small helpers ---- */

int64_t ct_office_clock_ms(const ct_office *o)
{
    return ct_now_ms() + o->opt.clock_offset_ms;
}

void ct_office_random_hex(char out[CT_OFFICE_TOKEN_HEX + 1])
{
    uint8_t b[CT_OFFICE_TOKEN_HEX / 2];
    randombytes_buf(b, sizeof b);
    ct_text_hex(b, sizeof b, out);
    sodium_memzero(b, sizeof b);
}

bool ct_office_token_eq(const char *a, const char *b)
{
    return a && b && strlen(a) == CT_OFFICE_TOKEN_HEX && strlen(b) == CT_OFFICE_TOKEN_HEX &&
           sodium_memcmp(a, b, CT_OFFICE_TOKEN_HEX) == 0;
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

static ct_office_rate_slot *rate_find(ct_office *o, const char *key, bool create)
{
    int64_t now = ct_now_ms();
    ct_office_rate_slot *oldest = NULL;
    for (int i = 0; i < CT_OFFICE_RATE_SLOTS; i++) {
        ct_office_rate_slot *x = &o->rate[i];
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
    ct_office_rate_slot *x = rate_find(o, key, false);
    if (!x || x->fails < CT_OFFICE_LOGIN_FAILS) return 0;
    return (x->since_ms + CT_OFFICE_LOGIN_WINDOW_MS - ct_now_ms() + 999) / 1000;
}

static void rate_fail(ct_office *o, const char *key)
{
    ct_office_rate_slot *x = rate_find(o, key, true);
    x->fails++;
}

/* The login of a session as the password file says now; false when gone. */
static bool session_user(ct_office *o, const ct_office_session *ss, ct_user *out)
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
ct_office_session *ct_office_need_session(ct_office *o, const ct_office_req *q, ct_office_resp *r,
                                          ct_user *u)
{
    ct_office_session *ss = ct_office_session_find(o, q->cookie_session);
    if (!ss || !session_user(o, ss, u)) {
        if (ss) ct_office_session_end(o, ss);
        fail(r, 401, CT_ERR_UNAUTHENTICATED, "", "login required");
        return NULL;
    }
    ct_office_session_touch(o, ss);
    return ss;
}

/* Parses the form of a POST and checks its CSRF token against want. */
bool ct_office_need_form(const ct_office_req *q, ct_office_resp *r, const ct_form_field *spec,
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
    if (!ct_office_token_eq(ct_form_get(f, "csrf"), want)) {
        ct_form_free(f);
        fail(r, 403, CT_ERR_FORBIDDEN, "csrf",
             "the form's security token is wrong or expired: "
             "reload the page");
        return false;
    }
    return true;
}

/* ---- reading ---- */

static void session_reply(ct_office *o, ct_office_resp *r, const ct_office_session *ss,
                          const ct_user *u)
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
    jtime(b, "now", ct_office_clock_ms(o), c->tz_offset_min);
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
    /* the unit's communes: the page offers them in a searchable select
     * (empty: the commune is free text) */
    ct_buf_printf(b, "],\"communes\":[");
    for (size_t i = 0; d && i < d->n_communes; i++) {
        if (i) ct_buf_append(b, ",", 1);
        ct_text_json_str(b, d->communes[i]);
    }
    ct_buf_append(b, "]", 1);
    end(r);
}

static void do_session(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    ct_office_session *ss = ct_office_session_find(o, q->cookie_session);
    if (ss && session_user(o, ss, &u)) {
        ct_office_session_touch(o, ss);
        session_reply(o, r, ss, &u);
        return;
    }
    char tok[CT_OFFICE_TOKEN_HEX + 1];
    ct_office_random_hex(tok);
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
    if (!ct_office_need_form(q, r, LOGIN_FORM, &f, q->cookie_login)) return;
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
    char token[CT_OFFICE_TOKEN_HEX + 1];
    ct_office_session *ss = ct_office_session_new(o, u.name, token);
    add_cookie(o, r, "ct_session", token, false);
    sodium_memzero(token, sizeof token);
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
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    ct_form f;
    if (!ct_office_need_form(q, r, LOGOUT_FORM, &f, ss->csrf)) return;
    ct_form_free(&f);
    ct_office_session_end(o, ss);
    add_cookie(o, r, "ct_session", "", true);
    begin(r, 200, true);
    end(r);
}

static void do_status(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    if (!ct_office_need_session(o, q, r, &u)) return;
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
        {"GET", "/api/session", do_session},
        {"POST", "/api/login", do_login},
        {"POST", "/api/logout", do_logout},
        {"POST", "/api/record", ct_office_do_record},
        {"POST", "/api/cancel", ct_office_do_cancel},
        {"POST", "/api/resend", ct_office_do_resend},
        {"GET", "/api/list", ct_office_do_list},
        {"GET", "/api/status", do_status},
        {"POST", "/api/import", ct_office_do_import},
        {"POST", "/api/void", ct_office_do_void},
        {"POST", "/api/correct", ct_office_do_correct},
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
    ct_office_sessions_load(o);
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
