/* ct_export.c — see ct_export.h. A ct_outfile owns its FILE and temp path
 * until ct_outfile_commit / ct_outfile_abort (each releases everything). */
#include "ct_export.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_time.h"

ct_err ct_outfile_open(ct_outfile *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return CT_OK;
    }
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp = malloc(n + 16);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        return CT_ERR_NOMEM;
    }
    snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", o->tmp, strerror(errno));
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return CT_ERR_IO;
    }
    (void)fchmod(fd, 0644);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return CT_ERR_IO;
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return CT_OK;
}

void ct_outfile_abort(ct_outfile *o)
{
    if (o->f && o->f != stdout) {
        fclose(o->f);
        unlink(o->tmp);
    }
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

ct_err ct_outfile_commit(ct_outfile *o, char *err, size_t errlen)
{
    if (o->f == stdout) {
        int bad = fflush(stdout) != 0 || ferror(stdout);
        memset(o, 0, sizeof *o);
        if (bad) {
            snprintf(err, errlen, "stdout: write error");
            return CT_ERR_IO;
        }
        return CT_OK;
    }
    ct_err e = CT_OK;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0) {
        snprintf(err, errlen, "%s: %s", o->tmp, strerror(errno));
        e = CT_ERR_IO;
    }
    if (fclose(o->f) != 0 && !e) {
        snprintf(err, errlen, "%s: %s", o->tmp, strerror(errno));
        e = CT_ERR_IO;
    }
    o->f = NULL;
    if (!e && rename(o->tmp, o->path) != 0) {
        snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
        e = CT_ERR_IO;
    }
    if (e) {
        unlink(o->tmp);
    } else {
        char *dir = strdup(o->path);
        if (dir) {
            char *slash = strrchr(dir, '/');
            const char *d = ".";
            if (slash) {
                *slash = 0;
                d = slash == dir ? "/" : dir;
            }
            int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
            free(dir);
        }
    }
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    return e;
}

void ct_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void ct_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char *const COLS[] = {"seq",      "received",   "received_ms", "collector", "hash",
                                   "event_id", "occurred",   "occurred_ms", "campaign",  "district",
                                   "commune",  "agent",      "program",     "action",    "person",
                                   "months",   "amount_vnd", "group"};
#define NCOLS (sizeof COLS / sizeof COLS[0])

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* All columns as strings, in COLS order. */
typedef struct {
    char seq[24], received[40], received_ms[24], hash[65], id[33], occurred[40], occurred_ms[24],
        district[12], person[65], months[12], amount[24];
    const char *v[NCOLS];
} row;

static void make_row(row *r, const ct_campaign *c, const ct_logrec *rec, const ct_event *ev)
{
    snprintf(r->seq, sizeof r->seq, "%" PRIu64, rec->seq);
    ct_time_format(rec->received_ms, c->tz_offset_min, r->received, sizeof r->received);
    snprintf(r->received_ms, sizeof r->received_ms, "%" PRId64, rec->received_ms);
    ct_hash_hex(rec->hash, r->hash);
    ct_event_id_hex(ev->id, r->id);
    ct_time_format(ev->occurred_ms, c->tz_offset_min, r->occurred, sizeof r->occurred);
    snprintf(r->occurred_ms, sizeof r->occurred_ms, "%" PRId64, ev->occurred_ms);
    snprintf(r->district, sizeof r->district, "%u", (unsigned)ev->district);
    hex(ev->person, CT_PERSON_LEN, r->person);
    r->months[0] = r->amount[0] = 0;
    if (ev->has_months) snprintf(r->months, sizeof r->months, "%u", (unsigned)ev->months);
    if (ev->has_amount) snprintf(r->amount, sizeof r->amount, "%" PRIu64, ev->amount_vnd);
    const char *v[NCOLS] = {r->seq,
                            r->received,
                            r->received_ms,
                            rec->collector,
                            r->hash,
                            r->id,
                            r->occurred,
                            r->occurred_ms,
                            ev->campaign,
                            r->district,
                            ev->commune,
                            ev->agent,
                            ct_program_name(ev->program),
                            ct_action_name(ev->action),
                            r->person,
                            r->months,
                            r->amount,
                            ev->group};
    memcpy(r->v, v, sizeof v);
}

void ct_export_csv_header(FILE *f, int with_outcome)
{
    for (size_t i = 0; i < NCOLS; i++)
        fprintf(f, "%s%s", i ? "," : "", COLS[i]);
    fputs(with_outcome ? ",outcome\r\n" : "\r\n", f);
}

void ct_export_csv_row(FILE *f, const ct_campaign *c, const ct_logrec *rec, const ct_event *ev,
                       const char *outcome)
{
    row r;
    make_row(&r, c, rec, ev);
    for (size_t i = 0; i < NCOLS; i++) {
        if (i) fputc(',', f);
        ct_csv_field(f, r.v[i]);
    }
    if (outcome) {
        fputc(',', f);
        ct_csv_field(f, outcome);
    }
    fputs("\r\n", f);
}

/* numeric columns are written as JSON numbers; empty optional ones as null */
static int is_num_col(size_t i)
{
    return i == 0 || i == 2 || i == 7 || i == 9 || i == 15 || i == 16;
}

void ct_export_json_row(FILE *f, const ct_campaign *c, const ct_logrec *rec, const ct_event *ev,
                        const char *outcome)
{
    row r;
    make_row(&r, c, rec, ev);
    fputc('{', f);
    for (size_t i = 0; i < NCOLS; i++) {
        if (i) fputc(',', f);
        ct_json_str(f, COLS[i]);
        fputc(':', f);
        if (is_num_col(i))
            fputs(r.v[i][0] ? r.v[i] : "null", f);
        else if ((i == 10 || i == 17) && !r.v[i][0])
            fputs("null", f);
        else
            ct_json_str(f, r.v[i]);
    }
    if (outcome) {
        fputs(",\"outcome\":", f);
        ct_json_str(f, outcome);
    }
    fputs("}\n", f);
}
