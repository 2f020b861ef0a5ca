/* ct_office.h — the office screen's application: logins and sessions,
 * recording and cancelling sign-ups, the list of what the office recorded,
 * re-sending rejected events, and the connection to headquarters. HTTP-free:
 * ct_serve.c hands it a parsed request and sends back its reply, so every
 * rule lives here once.
 *
 * Requests and replies (docs/collector.md, "The office screen"): every reply
 * is JSON, {"ok":true,...} or {"ok":false,"code":NAME,"field":F,"error":TEXT}
 * where TEXT is, for a refused sign-up, the CLI's own message (the one
 * builder and event check of ct_import.h). POST bodies are urlencoded forms
 * (ct_form.h), except the CSV upload.
 *   GET  /api/session  who is logged in, the office, its roster, programs,
 *                      groups, the unit's communes and the CSRF token;
 *                      when nobody is: 401 and a login token (cookie
 *                      ct_login, double-submitted)
 *   POST /api/login    user, password, csrf (the login token)
 *   POST /api/logout   csrf
 *   POST /api/record   csrf, form, agent, program, national_id, commune,
 *                      months, amount, group, time
 *   POST /api/cancel   csrf, form, seq, reason, confirm=yes
 *   POST /api/void     csrf, form, event, reason: void a delivered sign-up
 *                      of this office entered wrongly (ct_office_life.c)
 *   POST /api/correct  csrf, form, event, reason, agent/program/commune/
 *                      group (the new values): correct one
 *   POST /api/resend   csrf, code (a rejection reason name) and/or seq; a
 *                      staff member's covers their own agent's events only
 *   GET  /api/list     ?after=SEQ&limit=N: one page (seq order) of what the
 *                      office recorded (screen, command line, imports), with
 *                      states and the outbox's totals
 *   POST /api/import   ?mode=preview|queue, a raw text/csv body (at most
 *                      CT_OFFICE_UPLOAD_MAX bytes), the CSRF token in the
 *                      X-CSRF-Token header: the import of ct_import.h, its
 *                      per-row report, queued (mode=queue) in one commit
 *   GET  /api/status   the connection: reachable, last answer, waiting
 *
 * Who recorded an event: a note beside it in the outbox (ct_outbox_note_put,
 * same transaction; the event's wire format is unchanged): login, role, and
 * for a cancel its reason and the seq it cancels, with the event's bytes (so
 * the list shows it after delivery removed it from the outbox).
 *
 * A form carries a nonce ("form"): the outbox's idempotency key of the
 * event is derived from (login, nonce), so the same form submitted twice,
 * even at once, queues exactly one event (the second reply names it).
 *
 * Invariants: one thread calls ct_office_handle at a time (ct_serve.c runs
 * libmicrohttpd with one polling thread); ct_office_set_link may be called
 * from another thread (it takes the link mutex). A clear national ID lives
 * only in the request body and the parsed form, both wiped after use; it is
 * never logged or stored. "queued" is replied only after the outbox commit.
 */
#ifndef CT_OFFICE_H
#define CT_OFFICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_collector.h"
#include "ct_error.h"

#define CT_OFFICE_SESSIONS_MAX 256
#define CT_OFFICE_LOGIN_FAILS 5           /* failures per window ... */
#define CT_OFFICE_LOGIN_WINDOW_MS 300000  /* ... then refused until the window ends */
#define CT_OFFICE_SESSION_MAX_MS 43200000 /* a session ends 12 h after login */
#define CT_OFFICE_REASON_MAX 200

typedef struct ct_office ct_office;

typedef struct {
    ct_collector *s;         /* bound, with the person key; borrowed */
    int64_t session_idle_ms; /* a session unused this long ends */
    int64_t clock_offset_ms; /* the screen's clock = real time + this */
    bool secure_cookies;     /* served over TLS: cookies get "Secure" */
} ct_office_opts;

typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path;
    const char *cookie_session; /* NULL when absent */
    const char *cookie_login;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *peer; /* the client's address, for the login rate limit */
    /* a query argument (CT_OFFICE_ARG) or a request header
     * (CT_OFFICE_HEADER) by name, NULL when absent; lookup may be NULL */
    const char *(*lookup)(const void *ctx, int kind, const char *name);
    const void *lookup_ctx;
} ct_office_req;

enum { CT_OFFICE_ARG = 0, CT_OFFICE_HEADER = 1 };

/* The largest CSV upload (POST /api/import); other bodies are bounded by
 * CT_FORM_BODY_MAX. */
#define CT_OFFICE_UPLOAD_MAX ((size_t)5 << 20)
/* Entries per page of GET /api/list (the default and the most). */
#define CT_OFFICE_PAGE_DEFAULT 200
#define CT_OFFICE_PAGE_MAX 500

typedef struct {
    unsigned status;
    ct_buf body; /* JSON */
    char cookies[2][256];
    int n_cookies;
} ct_office_resp;

typedef struct {
    bool probing;        /* a --server is being probed */
    bool reachable;      /* at the last probe */
    int64_t checked_ms;  /* when (0: not yet) */
    int64_t answered_ms; /* last successful probe (0: never) */
    char detail[160];
} ct_office_link;

ct_err ct_office_new(const ct_office_opts *o, ct_office **out);
void ct_office_free(ct_office *o);

/* Answers one request into r (r->body is initialised here; the caller frees
 * it with ct_buf_free). */
void ct_office_handle(ct_office *o, const ct_office_req *q, ct_office_resp *r);

void ct_office_set_link(ct_office *o, const ct_office_link *l);

/* Whether a request with this session cookie and X-CSRF-Token header may
 * send an upload body (checked on the headers, before the body is read: the
 * server keeps no upload body of anyone else). The request itself is still
 * answered by ct_office_handle, which checks both again. */
bool ct_office_upload_allowed(ct_office *o, const char *cookie_session, const char *csrf);

#endif
