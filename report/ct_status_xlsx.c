/* ct_status_xlsx.c — the status figures as an XLSX workbook (see
 * ct_status_xlsx.h). Column names and values are the CSV renderings', so a
 * spreadsheet and a CSV made at one position hold the same figures.
 *
 * Invariants: one owner of the workbook and of the temporary file (this
 * call); the file is removed on every return; the first libxlsxwriter error
 * is the one reported.
 */
#include "ct_status_xlsx.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "ct_logrec.h"
#include "ct_time.h"

typedef struct {
    lxw_worksheet *ws;
    lxw_format *pct, *head;
    lxw_row_t row;
    lxw_col_t col;
    lxw_error err;
} sheet;

static void next_row(sheet *s)
{
    s->row++;
    s->col = 0;
}

static void cell_str(sheet *s, const char *v)
{
    lxw_error e = worksheet_write_string(s->ws, s->row, s->col++, v, NULL);
    if (!s->err) s->err = e;
}

static void cell_hdr(sheet *s, const char *v)
{
    lxw_error e = worksheet_write_string(s->ws, s->row, s->col++, v, s->head);
    if (!s->err) s->err = e;
}

static void cell_num(sheet *s, double v)
{
    lxw_error e = worksheet_write_number(s->ws, s->row, s->col++, v, NULL);
    if (!s->err) s->err = e;
}

static void cell_x10(sheet *s, int64_t v)
{
    lxw_error e = worksheet_write_number(s->ws, s->row, s->col++, (double)v / 10.0, s->pct);
    if (!s->err) s->err = e;
}

typedef struct {
    char as_of[40], head[65];
    uint64_t seq;
    const char *feed;
} position_cells;

static void cells_position(sheet *s, const position_cells *p)
{
    cell_str(s, p->as_of);
    cell_num(s, (double)p->seq);
    cell_str(s, p->head);
    cell_str(s, p->feed);
}

static void hdr_position(sheet *s)
{
    static const char *const H[] = {"as_of", "seq", "head", "feed"};
    for (size_t i = 0; i < sizeof H / sizeof *H; i++)
        cell_hdr(s, H[i]);
    worksheet_freeze_panes(s->ws, 1, 0);
}

/* The CSV's unit columns from program onwards (district_code and name are
 * the caller's). */
static void unit_header(sheet *s, int with_district)
{
    static const char *const H[] = {
        "program",    "net",       "target",  "pct",       "remaining",
        "gross",      "cancelled", "repeats", "expected",  "required_daily",
        "projection", "verdict",   "staff",   "staff_met", "staff_met_both",
        "phase"};
    if (with_district) {
        cell_hdr(s, "district_code");
        cell_hdr(s, "district_name");
    }
    for (size_t i = 0; i < sizeof H / sizeof *H; i++)
        cell_hdr(s, H[i]);
    hdr_position(s);
}

static void unit_rows(sheet *s, const ct_status_figures *f, const ct_status_unit *u,
                      int with_district, const position_cells *pc)
{
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const ct_status_prog *pr = &u->prog[p];
        next_row(s);
        if (with_district) {
            cell_num(s, u->code);
            cell_str(s, u->name);
        }
        cell_str(s, ct_program_name((ct_program)p));
        cell_num(s, (double)pr->net);
        cell_num(s, (double)pr->target);
        cell_x10(s, pr->pct_x10);
        cell_num(s, (double)pr->remaining);
        cell_num(s, (double)pr->gross);
        cell_num(s, (double)pr->cancelled);
        cell_num(s, (double)pr->repeats);
        cell_x10(s, pr->expected_x10);
        cell_x10(s, pr->required_daily_x10);
        cell_x10(s, pr->projection_x10);
        cell_str(s, ct_status_verdict_name(pr->verdict));
        cell_num(s, u->staff);
        cell_num(s, pr->staff_met);
        cell_num(s, u->staff_met_both);
        cell_str(s, ct_status_phase_name(f->phase));
        cells_position(s, pc);
    }
}

static void staff_sheet(sheet *s, const ct_campaign *c, const ct_status_figures *f,
                        const position_cells *pc)
{
    char h[4][48];
    cell_hdr(s, "district_code");
    cell_hdr(s, "district_name");
    cell_hdr(s, "agent_id");
    cell_hdr(s, "agent_name");
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const char *pn = ct_program_name((ct_program)p);
        snprintf(h[0], sizeof h[0], "%s_net", pn);
        snprintf(h[1], sizeof h[1], "%s_target", pn);
        snprintf(h[2], sizeof h[2], "%s_pct", pn);
        snprintf(h[3], sizeof h[3], "%s_met", pn);
        for (int i = 0; i < 4; i++)
            cell_hdr(s, h[i]);
    }
    cell_hdr(s, "met_both");
    hdr_position(s);
    for (size_t i = 0; i < f->n_districts; i++) {
        const ct_status_unit *u = &f->districts[i];
        for (size_t j = 0; j < u->n_members; j++) {
            const ct_status_staff *st = &u->members[j];
            int both = 1;
            next_row(s);
            cell_num(s, u->code);
            cell_str(s, u->name);
            cell_str(s, st->agent->id);
            cell_str(s, st->agent->name);
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                int met = st->count[p] >= (int64_t)c->agent_target[p];
                both = both && met;
                cell_num(s, (double)st->count[p]);
                cell_num(s, c->agent_target[p]);
                cell_x10(s, st->pct_x10[p]);
                cell_num(s, met);
            }
            cell_num(s, both);
            cells_position(s, pc);
        }
    }
}

/* The workbook into path; the first error's text into err. */
static ct_err write_book(const ct_campaign *c, const ct_status_figures *f,
                         const ct_status_position *pos, const char *path, char *err, size_t errlen)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb) {
        snprintf(err, errlen, "cannot create the workbook %s", path);
        return CT_ERR_IO;
    }
    position_cells pc;
    ct_time_format(pos->now_ms, c->tz_offset_min, pc.as_of, sizeof pc.as_of);
    ct_hash_hex(pos->head, pc.head);
    pc.seq = pos->seq;
    pc.feed = pos->feed ? pos->feed : "unknown";
    lxw_format *pct = workbook_add_format(wb);
    lxw_format *head = workbook_add_format(wb);
    format_set_num_format(pct, "0.0");
    format_set_bold(head);
    static const char *const NAMES[3] = {"province", "districts", "staff"};
    lxw_error first = LXW_NO_ERROR;
    for (int k = 0; k < 3 && !first; k++) {
        sheet s = {.ws = workbook_add_worksheet(wb, NAMES[k]), .pct = pct, .head = head};
        if (!s.ws) {
            first = LXW_ERROR_MEMORY_MALLOC_FAILED;
            break;
        }
        if (k == 0) {
            unit_header(&s, 0);
            unit_rows(&s, f, &f->province, 0, &pc);
        } else if (k == 1) {
            unit_header(&s, 1);
            for (size_t i = 0; i < f->n_districts; i++)
                unit_rows(&s, f, &f->districts[i], 1, &pc);
        } else {
            staff_sheet(&s, c, f, &pc);
        }
        first = s.err;
    }
    lxw_error ce = workbook_close(wb); /* frees wb whatever it returns */
    if (!first) first = ce;
    if (first) {
        snprintf(err, errlen, "cannot write the workbook: %s", lxw_strerror(first));
        return CT_ERR_IO;
    }
    return CT_OK;
}

static ct_err read_all(const char *path, ct_buf *out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot read the workbook back: %s", strerror(errno));
        return CT_ERR_IO;
    }
    ct_err e = CT_OK;
    char chunk[65536];
    size_t n;
    while (!e && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e = ct_buf_append(out, chunk, n);
    if (!e && ferror(fp)) {
        snprintf(err, errlen, "cannot read the workbook back: %s", strerror(errno));
        e = CT_ERR_IO;
    }
    fclose(fp);
    return e;
}

ct_err ct_status_xlsx(const ct_campaign *c, const ct_status_figures *f,
                      const ct_status_position *pos, ct_buf *out, char *err, size_t errlen)
{
    assert(c && f && pos && out && err && errlen > 0);
    err[0] = '\0';
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/chitieu-xlsx-XXXXXX", dir) >= sizeof path) {
        snprintf(err, errlen, "TMPDIR too long");
        return CT_ERR_IO;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        return CT_ERR_IO;
    }
    close(fd);
    ct_err e = write_book(c, f, pos, path, err, errlen);
    if (!e) e = read_all(path, out, err, errlen);
    unlink(path);
    return e;
}
