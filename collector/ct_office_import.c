/* ct_office_import.c — the office screen's CSV upload (POST /api/import, see
 * ct_office.h): the file's bytes go through the one import of ct_import.h
 * (ct_import_stream over the body in memory), so the page shows exactly the
 * rows, messages and summary `chitieu-collector import` prints.
 *
 * mode=preview is the import's dry run (one transaction, aborted); mode=queue
 * queues the good rows in ONE durable commit and replies "queued" only after
 * it. Each queued row gets a note naming the login that imported it. A staff
 * member imports rows for their own agent only: a row for another agent is a
 * bad row saying so; a lead imports for anyone of the office (the campaign
 * check already refuses other districts' agents).
 *
 * Invariants: the CSRF token (header X-CSRF-Token) is checked before the
 * body is read; the body (which may hold clear national IDs) is only read
 * from memory and wiped by ct_serve.c; the report holds no national ID (the
 * import never echoes one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_import.h"
#include "ct_log.h"
#include "ct_office_int.h"

#define NAME_MAX_BYTES 100

typedef struct {
    ct_role role;
    const char *user;
} note_ctx;

static ct_err on_queued(void *ctx, ct_outbox_txn *t, uint64_t seq, const ct_event *ev)
{
    note_ctx *x = ctx;
    ct_office_note n = {.kind = CT_OFFICE_NOTE_RECORD, .role = x->role, .ev = *ev};
    snprintf(n.user, sizeof n.user, "%s", x->user);
    ct_buf nb = CT_BUF_INIT;
    ct_err e = ct_office_note_encode(&n, &nb);
    if (e == CT_OK) e = ct_outbox_note_put(t, seq, nb.data, nb.len);
    ct_buf_free(&nb);
    return e;
}

/* The upload's name for the messages: its base name when it is short,
 * valid UTF-8 without control characters, else "upload.csv". */
static void upload_name(const char *given, char *out, size_t outlen)
{
    snprintf(out, outlen, "upload.csv");
    if (!given) return;
    const char *b = strrchr(given, '/');
    b = b ? b + 1 : given;
    const char *bs = strrchr(b, '\\');
    b = bs ? bs + 1 : b;
    size_t n = strlen(b);
    if (n == 0 || n > NAME_MAX_BYTES || !ct_utf8_valid((const uint8_t *)b, n)) return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f) return;
    snprintf(out, outlen, "%s", b);
}

/* The lines of text as a JSON array of strings. */
static void lines_json(ct_buf *b, const char *k, const char *text, size_t len)
{
    jkey(b, k);
    ct_buf_append(b, "[", 1);
    size_t i = 0, n = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (text + i)) : len - i;
        char *line = strndup(text + i, l);
        if (line) {
            if (n++) ct_buf_append(b, ",", 1);
            ct_text_json_str(b, line);
            free(line);
        }
        i += l + 1;
    }
    ct_buf_append(b, "]", 1);
}

bool ct_office_upload_allowed(ct_office *o, const char *cookie_session, const char *csrf)
{
    ct_office_session *ss = ct_office_session_find(o, cookie_session);
    return ss && ct_office_token_eq(csrf, ss->csrf);
}

void ct_office_do_import(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    ct_office_session *ss = ct_office_need_session(o, q, r, &u);
    if (!ss) return;
    const char *tok = q->lookup ? q->lookup(q->lookup_ctx, CT_OFFICE_HEADER, "X-CSRF-Token") : NULL;
    if (!ct_office_token_eq(tok, ss->csrf)) {
        fail(r, 403, CT_ERR_FORBIDDEN, "csrf",
             "the form's security token is wrong or expired: reload the page");
        return;
    }
    const char *mode = q->lookup ? q->lookup(q->lookup_ctx, CT_OFFICE_ARG, "mode") : NULL;
    bool preview = mode && strcmp(mode, "preview") == 0;
    if (!preview && !(mode && strcmp(mode, "queue") == 0)) {
        fail(r, 400, CT_ERR_BAD_VALUE, "mode", "mode: preview or queue");
        return;
    }
    if (!q->content_type || strncmp(q->content_type, "text/csv", 8) != 0) {
        fail(r, 415, CT_ERR_BAD_VALUE, "", "expected a text/csv body (the file itself)");
        return;
    }
    if (q->body_len == 0) {
        fail(r, 400, CT_ERR_CONFIG, "file", "the file is empty (a header row is required)");
        return;
    }
    char name[NAME_MAX_BYTES + 1];
    upload_name(q->lookup ? q->lookup(q->lookup_ctx, CT_OFFICE_ARG, "name") : NULL, name,
                sizeof name);
    ct_collector *s = o->opt.s;
    ct_signup_ctx ctx = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = s->pkey,
        .validate = true,
        .time_required = true,
    };
    char *rep = NULL;
    size_t replen = 0;
    FILE *rf = open_memstream(&rep, &replen);
    FILE *in = fmemopen((void *)(uintptr_t)q->body, q->body_len, "r");
    if (!rf || !in) {
        fail(r, 500, CT_ERR_NOMEM, "", "out of memory");
        goto out;
    }
    note_ctx nc = {.role = u.role, .user = u.name};
    ct_import_opts io = {
        .report = rf,
        .plan = rf, /* one stream: bad and good rows in the file's order */
        .dry_run = preview,
        .chunk = SIZE_MAX,
        .only_agent = u.role == CT_ROLE_STAFF ? u.agent : NULL,
        .login = u.name,
        .on_queued = on_queued,
        .on_queued_ctx = &nc,
    };
    ct_import_stats st;
    char err[600], sum[300];
    ct_err e = ct_import_stream(s->ob, in, name, &ctx, &io, &st, err, sizeof err);
    fclose(rf);
    rf = NULL;
    ct_import_summary(name, &st, preview, sum, sizeof sum);
    if (!preview)
        ct_log(CT_LOG_INFO, "imported", "file=%s rows=%zu queued=%zu already=%zu bad=%zu by=%s",
               CT_LOG_Q(name), st.rows, st.queued, st.already, st.bad, CT_LOG_Q(u.name));
    ct_buf *b = &r->body;
    if (e != CT_OK) {
        begin(r, e == CT_ERR_NOMEM || e == CT_ERR_LMDB ? 503 : 422, false);
        jstr(b, "code", ct_err_name(e));
        jstr(b, "field", "file");
        jstr(b, "error", err);
    } else {
        begin(r, 200, true);
        jstr(b, "mode", preview ? "preview" : "queue");
    }
    jstr(b, "file", name);
    jnum(b, "rows", (int64_t)st.rows);
    jnum(b, preview ? "would_queue" : "queued", (int64_t)st.queued);
    jnum(b, "already", (int64_t)st.already);
    jnum(b, "bad", (int64_t)st.bad);
    jstr(b, "summary", sum);
    lines_json(b, "report", rep ? rep : "", replen);
    end(r);
out:
    if (rf) fclose(rf);
    if (in) fclose(in);
    free(rep);
}
