/* ct_import.c — sign-up builder and CSV import (see ct_import.h).
 *
 * Invariants: a CSV field reaches the builder as a C string only when its
 * bytes hold no NUL (a field with one is a bad row, a header with one a bad
 * header), so no value is ever cut short silently; the national ID is only
 * ever held in the caller's field strings and hashed here; nothing with it is
 * written anywhere. The import owns one csv_parser and at most one open
 * outbox transaction at a time; every exit path frees both (abort if not
 * committed); a dry run never commits.
 */
#include "ct_import.h"

#include <assert.h>
#include <csv.h>
#include <sodium.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ct_csvsniff.h"
#include "ct_num.h"
#include "ct_text.h"
#include "ct_time.h"

static bool empty(const char *s)
{
    return s == NULL || s[0] == 0;
}

static ct_err set_str(char *dst, size_t cap, const char *src, const char *what, char *why,
                      size_t whylen)
{
    size_t n = strlen(src);
    if (n >= cap) {
        snprintf(why, whylen, "%s is too long (%zu bytes, at most %zu)", what, n, cap - 1);
        return CT_ERR_STRING_TOO_LONG;
    }
    if (!ct_utf8_valid((const uint8_t *)src, n)) {
        snprintf(why, whylen, "%s is not valid UTF-8", what);
        return CT_ERR_BAD_UTF8;
    }
    memcpy(dst, src, n + 1);
    return CT_OK;
}

ct_err ct_signup_build(const ct_signup_fields *f, const ct_signup_ctx *c, ct_event *ev, char *why,
                       size_t whylen)
{
    memset(ev, 0, sizeof *ev);
    why[0] = 0;
    const ct_campaign *cp = c->campaign;
    ct_err e;
    snprintf(ev->campaign, sizeof ev->campaign, "%s", cp->id);
    ev->district = c->district;

    if (empty(f->agent)) {
        snprintf(why, whylen, "agent id is missing");
        return CT_ERR_MISSING_FIELD;
    }
    if ((e = set_str(ev->agent, sizeof ev->agent, f->agent, "agent id", why, whylen)) != CT_OK)
        return e;
    if (empty(f->program)) {
        snprintf(why, whylen, "program is missing (bhxh_tn or bhyt_hgd)");
        return CT_ERR_MISSING_FIELD;
    }
    if (ct_program_parse(f->program, &ev->program) != CT_OK) {
        snprintf(why, whylen, "unknown program '%.40s' (expected bhxh_tn or bhyt_hgd)", f->program);
        return CT_ERR_UNKNOWN_PROGRAM;
    }
    ev->action = CT_ACTION_ENROLL;
    if (!empty(f->action) && ct_action_parse(f->action, &ev->action) != CT_OK) {
        snprintf(why, whylen, "unknown action '%.40s' (expected enroll or cancel)", f->action);
        return CT_ERR_BAD_VALUE;
    }
    /* person */
    if (!empty(f->national_id) && !empty(f->person_hash)) {
        snprintf(why, whylen, "give either a national ID or a person hash, not both");
        return CT_ERR_ARG;
    }
    if (!empty(f->national_id)) {
        size_t n = strlen(f->national_id);
        bool digits = n == 12;
        for (size_t i = 0; digits && i < n; i++)
            if (f->national_id[i] < '0' || f->national_id[i] > '9') digits = false;
        if (!digits) {
            /* never echo the value: it is personal data */
            if (c->sheet && ct_sheet_id_mangled(f->national_id, why, whylen))
                return CT_ERR_BAD_NATIONAL_ID;
            snprintf(why, whylen, "national ID must be exactly 12 digits (got %zu characters)", n);
            return CT_ERR_BAD_NATIONAL_ID;
        }
        if (!c->person_key) {
            snprintf(why, whylen, "a national ID needs the province key (--person-key FILE)");
            return CT_ERR_CONFIG;
        }
        if ((e = ct_person_hash(c->person_key, f->national_id, ev->person)) != CT_OK) {
            snprintf(why, whylen, "cannot hash the national ID: %s", ct_err_str(e));
            return e;
        }
    } else if (!empty(f->person_hash)) {
        const char *h = f->person_hash;
        if (strlen(h) != 2 * CT_PERSON_LEN) {
            snprintf(why, whylen, "person hash must be %d hex characters", 2 * CT_PERSON_LEN);
            return CT_ERR_BAD_PERSON;
        }
        if (ct_text_unhex(h, 2 * CT_PERSON_LEN, ev->person) != CT_OK) {
            snprintf(why, whylen, "person hash is not hexadecimal");
            return CT_ERR_BAD_PERSON;
        }
    } else {
        snprintf(why, whylen, "national ID is missing");
        return CT_ERR_MISSING_FIELD;
    }
    /* time */
    if (empty(f->occurred_at)) {
        if (c->time_required) {
            snprintf(why, whylen, "occurred_at is missing");
            return CT_ERR_MISSING_FIELD;
        }
        ev->occurred_ms = c->default_time_ms;
    } else if (c->sheet) {
        if ((e = ct_sheet_time(f->occurred_at, c->sheet, cp->tz_offset_min, &ev->occurred_ms, why,
                               whylen)) != CT_OK)
            return e;
    } else if (ct_sheet_time_iso(f->occurred_at, cp->tz_offset_min, &ev->occurred_ms) != CT_OK) {
        snprintf(why, whylen, "bad time '%.40s' (expected e.g. 2023-07-24T09:30:00+07:00)",
                 f->occurred_at);
        return CT_ERR_BAD_VALUE;
    }
    if (!empty(f->commune) &&
        (e = set_str(ev->commune, sizeof ev->commune, f->commune, "commune", why, whylen)) != CT_OK)
        return e;
    if (!empty(f->months)) {
        uint64_t m;
        if (!ct_num_parse_u64(f->months, UINT64_MAX, &m) || m < 1 || m > CT_MONTHS_MAX) {
            snprintf(why, whylen, "months must be a whole number from 1 to %d (got '%.20s')",
                     CT_MONTHS_MAX, f->months);
            return CT_ERR_BAD_VALUE;
        }
        ev->has_months = true;
        ev->months = (uint32_t)m;
    }
    if (!empty(f->amount)) {
        uint64_t a;
        if (c->sheet) {
            if ((e = ct_sheet_amount(f->amount, c->sheet, &a, why, whylen)) != CT_OK) return e;
        } else if (!ct_num_parse_u64(f->amount, UINT64_MAX, &a)) {
            snprintf(why, whylen, "amount must be a whole number of VND (got '%.30s')", f->amount);
            return CT_ERR_BAD_VALUE;
        }
        ev->has_amount = true;
        ev->amount_vnd = a;
    }
    if (!empty(f->group) &&
        (e = set_str(ev->group, sizeof ev->group, f->group, "group", why, whylen)) != CT_OK)
        return e;

    if (!c->validate) return CT_OK;
    e = ct_campaign_check_event(cp, ev, INT64_MAX);
    if (e == CT_OK) return CT_OK;
    switch (e) {
    case CT_ERR_UNKNOWN_AGENT:
        snprintf(why, whylen, "agent '%s' is not on the roster", ev->agent);
        break;
    case CT_ERR_AGENT_DISTRICT: {
        const ct_agent *a = ct_campaign_agent(cp, ev->agent);
        snprintf(why, whylen, "agent '%s' belongs to district %u, not to this office's %u",
                 ev->agent, a ? a->district : 0, ev->district);
        break;
    }
    case CT_ERR_UNKNOWN_DISTRICT:
        snprintf(why, whylen, "district %u is not in campaign '%s'", ev->district, cp->id);
        break;
    case CT_ERR_UNKNOWN_GROUP:
        snprintf(why, whylen, "unknown subsidy group '%s'", ev->group);
        break;
    case CT_ERR_UNKNOWN_COMMUNE: {
        const ct_district *d = ct_campaign_district(cp, ev->district);
        snprintf(why, whylen,
                 "commune '%s' is not one of the %zu communes the campaign lists for %s",
                 ev->commune, d ? d->n_communes : 0, d ? d->name : "this unit");
        break;
    }
    case CT_ERR_OUTSIDE_WINDOW: {
        /* say the range the check accepts: the window widened by the tolerance */
        char t[40], s[40], en[40], lo[40], hi[40];
        ct_time_format(ev->occurred_ms, cp->tz_offset_min, t, sizeof t);
        ct_time_format(cp->start_ms, cp->tz_offset_min, s, sizeof s);
        ct_time_format(cp->end_ms, cp->tz_offset_min, en, sizeof en);
        ct_time_format(cp->start_ms - cp->tolerance_ms, cp->tz_offset_min, lo, sizeof lo);
        ct_time_format(cp->end_ms + cp->tolerance_ms, cp->tz_offset_min, hi, sizeof hi);
        snprintf(why, whylen,
                 "time %s is outside the campaign window: accepted from %s up to (not "
                 "including) %s (the window %s to %s with its %" PRId64 " s tolerance)",
                 t, lo, hi, s, en, cp->tolerance_ms / 1000);
        break;
    }
    default:
        snprintf(why, whylen, "%s (%s)", ct_err_str(e), ct_err_name(e));
        break;
    }
    return e;
}

/* ---- CSV import ---- */

enum {
    COL_AGENT,
    COL_PROGRAM,
    COL_ACTION,
    COL_NATIONAL_ID,
    COL_PERSON_HASH,
    COL_COMMUNE,
    COL_OCCURRED_AT,
    COL_MONTHS,
    COL_AMOUNT,
    COL_GROUP,
    COL_COUNT
};
static const char *const col_names[COL_COUNT] = {
    "agent_id", "program",     "action", "national_id", "person_hash",
    "commune",  "occurred_at", "months", "amount",      "group"};

#define MAX_FIELDS 32
#define FIELD_MAX 256

typedef struct {
    /* config */
    ct_outbox *ob;
    const char *path;
    const ct_signup_ctx *c;
    const ct_import_opts *o;
    ct_import_stats *st;
    /* parser state */
    unsigned long lineno;   /* line being fed */
    unsigned long row_line; /* line where the current row started */
    size_t nf;              /* fields in the current row */
    char fields[MAX_FIELDS][FIELD_MAX + 1];
    bool field_too_long[MAX_FIELDS];
    bool field_has_nul[MAX_FIELDS]; /* the field's bytes hold a NUL: damage */
    bool header_done;
    int colmap[MAX_FIELDS]; /* field index -> COL_* or -1 */
    size_t ncols;
    ct_outbox_txn *txn;
    size_t in_txn;
    ct_err fatal;
    char *err;
    size_t errlen;
    int64_t last_progress_ms;
} import_state;

static void on_field(void *s, size_t len, void *data)
{
    import_state *is = data;
    if (is->nf == 0) is->row_line = is->lineno;
    if (is->nf < MAX_FIELDS) {
        size_t n = len;
        is->field_too_long[is->nf] = len > FIELD_MAX;
        is->field_has_nul[is->nf] = len > 0 && memchr(s, 0, len) != NULL;
        if (n > FIELD_MAX) n = FIELD_MAX;
        if (n) memcpy(is->fields[is->nf], s, n);
        is->fields[is->nf][n] = 0;
    }
    is->nf++;
}

static void bad_row(import_state *is, const char *reason)
{
    is->st->bad++;
    if (is->o->report) fprintf(is->o->report, "%s:%lu: %s\n", is->path, is->row_line, reason);
}

static ct_err flush_txn(import_state *is)
{
    if (!is->txn) return CT_OK;
    ct_err e = ct_outbox_commit(is->txn);
    if (e != CT_OK) is->st->queued -= is->in_txn; /* that chunk is not durable */
    is->txn = NULL;
    is->in_txn = 0;
    return e;
}

static void handle_header(import_state *is)
{
    bool seen[COL_COUNT] = {false};
    if (is->nf > MAX_FIELDS) {
        snprintf(is->err, is->errlen, "%s:%lu: header has more than %d columns", is->path,
                 is->row_line, MAX_FIELDS);
        is->fatal = CT_ERR_CONFIG;
        return;
    }
    for (size_t i = 0; i < is->nf; i++) {
        if (is->field_has_nul[i]) {
            snprintf(is->err, is->errlen,
                     "%s:%lu: header column %zu contains a NUL byte (damaged file?)", is->path,
                     is->row_line, i + 1);
            is->fatal = CT_ERR_CONFIG;
            return;
        }
        char *name = is->fields[i];
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int col = -1;
        for (int k = 0; k < COL_COUNT; k++)
            if (strcmp(name, col_names[k]) == 0) col = k;
        if (col < 0) {
            snprintf(is->err, is->errlen,
                     "%s:%lu: unknown column '%.40s' (expected agent_id, program, action, "
                     "national_id or person_hash, commune, occurred_at, months, amount, group)",
                     is->path, is->row_line, name);
            is->fatal = CT_ERR_CONFIG;
            return;
        }
        if (seen[col]) {
            snprintf(is->err, is->errlen, "%s:%lu: column '%s' appears twice", is->path,
                     is->row_line, name);
            is->fatal = CT_ERR_CONFIG;
            return;
        }
        seen[col] = true;
        is->colmap[i] = col;
    }
    const char *missing = NULL;
    if (!seen[COL_AGENT])
        missing = "agent_id";
    else if (!seen[COL_PROGRAM])
        missing = "program";
    else if (!seen[COL_OCCURRED_AT])
        missing = "occurred_at";
    else if (!seen[COL_NATIONAL_ID] && !seen[COL_PERSON_HASH])
        missing = "national_id";
    if (missing) {
        snprintf(is->err, is->errlen, "%s:%lu: header lacks the column '%s'", is->path,
                 is->row_line, missing);
        is->fatal = CT_ERR_CONFIG;
        return;
    }
    is->ncols = is->nf;
    is->header_done = true;
}

/* One good row as it would be (or is already) queued: what the file's
 * values were read as, without the person. */
static void plan_row(import_state *is, const ct_event *ev, bool queued)
{
    FILE *f = is->o->plan;
    char t[40];
    ct_time_format(ev->occurred_ms, is->c->campaign->tz_offset_min, t, sizeof t);
    fprintf(f, "%s:%lu: %s: %s %s, agent %s, %s", is->path, is->row_line,
            !queued          ? "already queued"
            : is->o->dry_run ? "would queue"
                             : "queued",
            ct_action_name(ev->action), ct_program_name(ev->program), ev->agent, t);
    if (ev->commune[0]) fprintf(f, ", commune %s", ev->commune);
    if (ev->has_months) fprintf(f, ", %" PRIu32 " months", ev->months);
    if (ev->has_amount) fprintf(f, ", %" PRIu64 " VND", ev->amount_vnd);
    if (ev->group[0]) fprintf(f, ", group %s", ev->group);
    fputc('\n', f);
}

static void handle_row(import_state *is)
{
    char why[300];
    is->st->rows++;
    if (is->nf != is->ncols) {
        snprintf(why, sizeof why, "expected %zu fields, found %zu", is->ncols, is->nf);
        bad_row(is, why);
        return;
    }
    const char *v[COL_COUNT] = {NULL};
    for (size_t i = 0; i < is->nf; i++) {
        if (is->field_too_long[i]) {
            snprintf(why, sizeof why, "field '%s' is too long", col_names[is->colmap[i]]);
            bad_row(is, why);
            return;
        }
        if (is->field_has_nul[i]) {
            snprintf(why, sizeof why, "field '%s' contains a NUL byte (damaged file?)",
                     col_names[is->colmap[i]]);
            bad_row(is, why);
            return;
        }
        v[is->colmap[i]] = is->fields[i];
    }
    ct_signup_fields f = {
        .agent = v[COL_AGENT],
        .program = v[COL_PROGRAM],
        .action = v[COL_ACTION],
        .national_id = v[COL_NATIONAL_ID],
        .person_hash = v[COL_PERSON_HASH],
        .commune = v[COL_COMMUNE],
        .occurred_at = v[COL_OCCURRED_AT],
        .months = v[COL_MONTHS],
        .amount = v[COL_AMOUNT],
        .group = v[COL_GROUP],
    };
    ct_event ev;
    ct_err e = ct_signup_build(&f, is->c, &ev, why, sizeof why);
    /* forget the national ID as soon as it is hashed */
    for (size_t i = 0; i < is->nf; i++)
        if (is->colmap[i] == COL_NATIONAL_ID) sodium_memzero(is->fields[i], FIELD_MAX);
    if (e != CT_OK) {
        bad_row(is, why);
        return;
    }
    if (is->o->only_agent && strcmp(ev.agent, is->o->only_agent) != 0) {
        snprintf(why, sizeof why,
                 "agent '%s': login %s imports rows for %s only (a lead imports for anyone of "
                 "the office)",
                 ev.agent, is->o->login ? is->o->login : "?", is->o->only_agent);
        bad_row(is, why);
        return;
    }
    uint8_t key[CT_OUTBOX_IDEM_LEN];
    if ((e = ct_outbox_idem_key(&ev, key)) != CT_OK) {
        snprintf(why, sizeof why, "cannot encode the event: %s", ct_err_str(e));
        bad_row(is, why);
        return;
    }
    if (!is->txn && (e = ct_outbox_begin(is->ob, &is->txn)) != CT_OK) {
        snprintf(is->err, is->errlen, "%s", ct_outbox_errmsg(is->ob));
        is->fatal = e;
        return;
    }
    bool queued = false;
    uint64_t seq = 0;
    if ((e = ct_outbox_queue(is->txn, &ev, key, &queued, &seq)) != CT_OK) {
        snprintf(is->err, is->errlen, "%s:%lu: cannot queue: %s", is->path, is->row_line,
                 ct_outbox_errmsg(is->ob));
        is->fatal = e;
        return;
    }
    if (queued) {
        is->st->queued++;
        is->in_txn++;
    } else {
        is->st->already++;
    }
    if (queued && is->o->on_queued &&
        (e = is->o->on_queued(is->o->on_queued_ctx, is->txn, seq, &ev)) != CT_OK) {
        snprintf(is->err, is->errlen, "%s:%lu: cannot queue: %s", is->path, is->row_line,
                 ct_outbox_errmsg(is->ob));
        is->fatal = e;
        return;
    }
    if (is->o->plan) plan_row(is, &ev, queued);
    if (!is->o->dry_run && is->in_txn >= (is->o->chunk ? is->o->chunk : CT_IMPORT_CHUNK)) {
        if ((e = flush_txn(is)) != CT_OK) {
            snprintf(is->err, is->errlen, "commit failed: %s", ct_outbox_errmsg(is->ob));
            is->fatal = e;
            return;
        }
    }
    if (is->o->progress) {
        int64_t now = ct_monotonic_ms();
        if (now - is->last_progress_ms >= 1000) {
            is->last_progress_ms = now;
            fprintf(is->o->progress, "import %s: %zu rows, %zu %s, %zu already queued, %zu bad\n",
                    is->path, is->st->rows, is->st->queued,
                    is->o->dry_run ? "would be queued" : "queued", is->st->already, is->st->bad);
        }
    }
}

static void on_row(int c, void *data)
{
    (void)c;
    import_state *is = data;
    if (is->fatal != CT_OK) {
        is->nf = 0;
        return;
    }
    if (is->nf == 0) return;
    if (!is->header_done) {
        handle_header(is);
    } else {
        handle_row(is);
    }
    is->nf = 0;
}

ct_err ct_import_csv(ct_outbox *ob, const char *path, const ct_signup_ctx *c,
                     const ct_import_opts *o, ct_import_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    err[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    ct_err e = ct_import_stream(ob, fp, path, c, o, st, err, errlen);
    fclose(fp);
    return e;
}

void ct_import_summary(const char *path, const ct_import_stats *st, bool dry_run, char *out,
                       size_t outlen)
{
    if (dry_run)
        snprintf(out, outlen,
                 "%s: %zu rows: %zu would be queued, %zu already queued, %zu bad (dry run: "
                 "nothing queued)",
                 path, st->rows, st->queued, st->already, st->bad);
    else
        snprintf(out, outlen, "%s: %zu rows: %zu queued, %zu already queued, %zu bad", path,
                 st->rows, st->queued, st->already, st->bad);
}

ct_err ct_import_stream(ct_outbox *ob, FILE *fp, const char *path, const ct_signup_ctx *c,
                        const ct_import_opts *o, ct_import_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    err[0] = 0;
    ct_err result = CT_OK;
    import_state *is = NULL;
    char *line = NULL;
    size_t cap = 0;
    bool parser = false;
    struct csv_parser p;
    ct_csvsniff sn;
    if ((result = ct_csvsniff_file(fp, path, &sn, err, errlen)) != CT_OK) goto out;
    st->bom = sn.bom;
    st->sep = sn.sep;
    ct_sheet_conv conv = {.vi_locale = sn.sep == ';'};
    ct_signup_ctx ctx = *c;
    ctx.sheet = &conv;
    if (!(is = calloc(1, sizeof *is))) {
        result = CT_ERR_NOMEM;
        goto out;
    }
    is->ob = ob;
    is->path = path;
    is->c = &ctx;
    is->o = o;
    is->st = st;
    is->err = err;
    is->errlen = errlen;
    is->last_progress_ms = ct_monotonic_ms();
    if (csv_init(&p, CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        result = CT_ERR_NOMEM;
        goto out;
    }
    parser = true;
    csv_set_delim(&p, (unsigned char)sn.sep);
    ssize_t n;
    while (is->fatal == CT_OK && (n = getline(&line, &cap, fp)) > 0) {
        is->lineno++;
        if (csv_parse(&p, line, (size_t)n, on_field, on_row, is) != (size_t)n) {
            snprintf(err, errlen, "%s:%lu: %s", path, is->lineno, csv_strerror(csv_error(&p)));
            is->fatal = CT_ERR_MALFORMED;
        }
    }
    if (is->fatal == CT_OK && ferror(fp)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        is->fatal = CT_ERR_IO;
    }
    if (is->fatal == CT_OK && csv_fini(&p, on_field, on_row, is) != 0) {
        if (is->fatal == CT_OK) {
            snprintf(err, errlen, "%s:%lu: unterminated quoted field at end of file", path,
                     is->row_line ? is->row_line : is->lineno);
            is->fatal = CT_ERR_MALFORMED;
        }
    }
    if (is->fatal == CT_OK && !is->header_done) {
        snprintf(err, errlen, "%s: empty file (a header row is required)", path);
        is->fatal = CT_ERR_CONFIG;
    }
    result = is->fatal;
out:
    if (is && is->txn) {
        if (o->dry_run) {
            ct_outbox_abort(is->txn);
            is->txn = NULL;
        } else {
            /* rows of a fatal run that were fine are still committed: the
             * import is idempotent, a re-run skips them */
            ct_err e = flush_txn(is);
            if (e != CT_OK && result == CT_OK) {
                snprintf(err, errlen, "commit failed: %s", ct_outbox_errmsg(ob));
                result = e;
            }
        }
    }
    assert(!is || !is->txn);
    if (line) sodium_memzero(line, cap);
    free(line);
    if (parser) csv_free(&p);
    if (is) sodium_memzero(is, sizeof *is);
    free(is);
    return result;
}
