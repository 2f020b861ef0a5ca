/* ct_office_int.h — what the office screen's files share (ct_office.c:
 * sessions, logins and the router; ct_office_record.c: notes, record, cancel,
 * re-send; ct_office_list.c: the paged list; ct_office_import.c: the CSV
 * upload; ct_office_life.c: void and correct). Private to collector/.
 *
 * Invariants: as in ct_office.h; every handler answers exactly once through
 * begin()/end() or fail(); a handler that needs a login calls
 * ct_office_need_session first, and a POST handler ct_office_need_form (or,
 * for the upload, ct_office_need_csrf) before it changes anything.
 */
#ifndef CT_OFFICE_INT_H
#define CT_OFFICE_INT_H

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "ct_buf.h"
#include "ct_form.h"
#include "ct_life.h"
#include "ct_office.h"
#include "ct_outbox.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_users.h"

#define CT_OFFICE_TOKEN_HEX 64
#define CT_OFFICE_RATE_SLOTS 256

#define CT_OFFICE_TOKEN_HASH 32
#define CT_OFFICE_SESSION_SAVE_MS 30000 /* a session's last use is saved this often */

/* A session (ct_office_session.c): live iff user[0] != 0. */
typedef struct {
    uint8_t hash[CT_OFFICE_TOKEN_HASH]; /* of the cookie's token (never kept) */
    char csrf[CT_OFFICE_TOKEN_HEX + 1];
    char user[CT_USER_NAME_MAX + 1];
    int64_t created_ms, used_ms, saved_used_ms;
} ct_office_session;

typedef struct {
    char key[80]; /* "u:NAME" or "a:ADDR" */
    int64_t since_ms;
    unsigned fails;
} ct_office_rate_slot;

struct ct_office {
    ct_office_opts opt;
    ct_office_session sess[CT_OFFICE_SESSIONS_MAX];
    ct_office_rate_slot rate[CT_OFFICE_RATE_SLOTS];
    pthread_mutex_t mu; /* guards link */
    ct_office_link link;
};

/* A note beside an entry (ct_outbox_note_put): who recorded it. A life
 * note (void, correct, or a life entry queued outside the screen) keeps the
 * life entry's bytes where the others keep the event's. */
enum { CT_OFFICE_NOTE_RECORD = 0, CT_OFFICE_NOTE_CANCEL = 1, CT_OFFICE_NOTE_LIFE = 2 };
typedef struct {
    int kind;
    ct_role role;
    char user[CT_USER_NAME_MAX + 1]; /* "" : recorded outside the screen */
    char reason[CT_OFFICE_REASON_MAX + 1];
    /* cancel: the seq it cancels; record: the seq of its cancel (0: none);
     * life: the seq of the sign-up it voids or corrects (0: none here) */
    uint64_t target;
    ct_event ev;  /* record, cancel */
    ct_life life; /* life */
    uint64_t seq;
    ct_outbox_state state;
    uint16_t code;
    uint64_t q; /* its log seq at HQ (0: not known) */
} ct_office_note;

/* ---- JSON replies ---- */

static inline void jkey(ct_buf *b, const char *k)
{
    ct_buf_printf(b, "%s", b->len > 1 ? "," : "");
    ct_text_json_str(b, k);
    ct_buf_append(b, ":", 1);
}

static inline void jstr(ct_buf *b, const char *k, const char *v)
{
    jkey(b, k);
    ct_text_json_str(b, v);
}

static inline void jnum(ct_buf *b, const char *k, int64_t v)
{
    jkey(b, k);
    ct_buf_printf(b, "%" PRId64, v);
}

static inline void jbool(ct_buf *b, const char *k, bool v)
{
    jkey(b, k);
    ct_buf_printf(b, "%s", v ? "true" : "false");
}

static inline void jtime(ct_buf *b, const char *k, int64_t ms, int32_t tz)
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

static inline void begin(ct_office_resp *r, unsigned status, bool ok)
{
    r->status = status;
    ct_buf_reset(&r->body);
    ct_buf_printf(&r->body, "{\"ok\":%s", ok ? "true" : "false");
}

static inline void end(ct_office_resp *r)
{
    ct_buf_append(&r->body, "}\n", 2);
}

static inline void fail(ct_office_resp *r, unsigned status, ct_err code, const char *field,
                        const char *why)
{
    begin(r, status, false);
    jstr(&r->body, "code", ct_err_name(code));
    if (field && field[0]) jstr(&r->body, "field", field);
    jstr(&r->body, "error", why);
    end(r);
}

/* ---- shared by the handlers (ct_office.c) ---- */

/* The screen's clock (real time + the offset of --now). */
int64_t ct_office_clock_ms(const ct_office *o);
/* The session of q (NULL and a 401 reply when none); u = its login now. */
ct_office_session *ct_office_need_session(ct_office *o, const ct_office_req *q, ct_office_resp *r,
                                          ct_user *u);
/* Parses the urlencoded form of a POST and checks its CSRF token against
 * want (false: replied). */
bool ct_office_need_form(const ct_office_req *q, ct_office_resp *r, const ct_form_field *spec,
                         ct_form *f, const char *want);
/* Whether a is the CSRF token want (constant time). */
bool ct_office_token_eq(const char *a, const char *b);

/* The idempotency key of a form: (login, nonce); whether a nonce is
 * well-formed (16 to 64 lower-case hex digits). */
void ct_office_form_key(const char *user, const char *nonce, uint8_t key[CT_OUTBOX_IDEM_LEN]);
bool ct_office_nonce_ok(const char *s);

/* 32 random bytes in hex. */
void ct_office_random_hex(char out[CT_OFFICE_TOKEN_HEX + 1]);

/* ---- sessions (ct_office_session.c) ---- */

/* Reads the session file of the outbox (missing: none). */
void ct_office_sessions_load(ct_office *o);
/* The live session of a cookie's token (expired ones are ended on the way). */
ct_office_session *ct_office_session_find(ct_office *o, const char *token);
/* A new session for user (the least recently used one makes room); its
 * token, for the cookie, in token. */
ct_office_session *ct_office_session_new(ct_office *o, const char *user,
                                         char token[CT_OFFICE_TOKEN_HEX + 1]);
/* Marks s used now. */
void ct_office_session_touch(ct_office *o, ct_office_session *s);
void ct_office_session_end(ct_office *o, ct_office_session *s);

/* ---- notes (ct_office_record.c) ---- */

ct_err ct_office_note_encode(const ct_office_note *n, ct_buf *out);
bool ct_office_note_decode(const uint8_t *p, size_t len, ct_office_note *n);
/* An outbox entry as a note: its own note, or (recorded outside the screen)
 * one with user "" made from its event; false when neither decodes. */
bool ct_office_entry_note(const ct_outbox_entry *en, ct_office_note *n);

/* ---- handlers ---- */

void ct_office_do_record(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_cancel(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_resend(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_void(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_correct(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_list(ct_office *o, const ct_office_req *q, ct_office_resp *r);
void ct_office_do_import(ct_office *o, const ct_office_req *q, ct_office_resp *r);

#endif
