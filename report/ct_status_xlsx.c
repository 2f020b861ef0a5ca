/* ct_status_xlsx.c — the status figures as an XLSX workbook (see
 * ct_status_xlsx.h). Column names and values are the CSV renderings', so a
 * spreadsheet and a CSV made at one position hold the same figures.
 *
 * Invariants: the workbook and its temporary file are report/ct_xlsx's; the
 * first libxlsxwriter error is the one reported.
 */
#include "ct_status_xlsx.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <xlsxwriter.h>

#include "ct_logrec.h"
#include "ct_status_life_xlsx.h"
#include "ct_xlsx.h"
#include "ct_time.h"

typedef struct {
    char as_of[40], head[65];
    uint64_t seq;
    const char *feed;
} position_cells;

static void cells_position(ct_xlsx_sheet *s, const position_cells *p)
{
    ct_xlsx_str(s, p->as_of);
    ct_xlsx_num(s, (double)p->seq);
    ct_xlsx_str(s, p->head);
    ct_xlsx_str(s, p->feed);
}

static void hdr_position(ct_xlsx_sheet *s)
{
    static const char *const H[] = {"as_of", "seq", "head", "feed"};
    for (size_t i = 0; i < sizeof H / sizeof *H; i++)
        ct_xlsx_hdr(s, H[i]);
    worksheet_freeze_panes(s->ws, 1, 0);
}

/* The CSV's unit columns from program onwards (district_code and name are
 * the caller's). */
static void unit_header(ct_xlsx_sheet *s, int with_district)
{
    static const char *const H[] = {
        "program",    "net",       "target",  "pct",       "remaining",
        "gross",      "cancelled", "repeats", "expected",  "required_daily",
        "projection", "verdict",   "staff",   "staff_met", "staff_met_both",
        "phase"};
    if (with_district) {
        ct_xlsx_hdr(s, "district_code");
        ct_xlsx_hdr(s, "district_name");
    }
    for (size_t i = 0; i < sizeof H / sizeof *H; i++)
        ct_xlsx_hdr(s, H[i]);
    hdr_position(s);
}

static void unit_rows(ct_xlsx_sheet *s, const ct_status_figures *f, const ct_status_unit *u,
                      int with_district, const position_cells *pc)
{
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const ct_status_prog *pr = &u->prog[p];
        ct_xlsx_next_row(s);
        if (with_district) {
            ct_xlsx_num(s, u->code);
            ct_xlsx_str(s, u->name);
        }
        ct_xlsx_str(s, ct_program_name((ct_program)p));
        ct_xlsx_num(s, (double)pr->net);
        ct_xlsx_num(s, (double)pr->target);
        ct_xlsx_x10(s, pr->pct_x10);
        ct_xlsx_num(s, (double)pr->remaining);
        ct_xlsx_num(s, (double)pr->gross);
        ct_xlsx_num(s, (double)pr->cancelled);
        ct_xlsx_num(s, (double)pr->repeats);
        ct_xlsx_x10(s, pr->expected_x10);
        ct_xlsx_x10(s, pr->required_daily_x10);
        ct_xlsx_x10(s, pr->projection_x10);
        ct_xlsx_str(s, ct_status_verdict_name(pr->verdict));
        ct_xlsx_num(s, u->staff);
        ct_xlsx_num(s, pr->staff_met);
        ct_xlsx_num(s, u->staff_met_both);
        ct_xlsx_str(s, ct_status_phase_name(f->phase));
        cells_position(s, pc);
    }
}

static void staff_sheet(ct_xlsx_sheet *s, const ct_status_figures *f, const position_cells *pc)
{
    char h[4][48];
    ct_xlsx_hdr(s, "district_code");
    ct_xlsx_hdr(s, "district_name");
    ct_xlsx_hdr(s, "agent_id");
    ct_xlsx_hdr(s, "agent_name");
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const char *pn = ct_program_name((ct_program)p);
        snprintf(h[0], sizeof h[0], "%s_net", pn);
        snprintf(h[1], sizeof h[1], "%s_target", pn);
        snprintf(h[2], sizeof h[2], "%s_pct", pn);
        snprintf(h[3], sizeof h[3], "%s_met", pn);
        for (int i = 0; i < 4; i++)
            ct_xlsx_hdr(s, h[i]);
    }
    ct_xlsx_hdr(s, "met_both");
    hdr_position(s);
    for (size_t i = 0; i < f->n_districts; i++) {
        const ct_status_unit *u = &f->districts[i];
        for (size_t j = 0; j < u->n_members; j++) {
            const ct_status_staff *st = &u->members[j];
            int both = 1;
            ct_xlsx_next_row(s);
            ct_xlsx_num(s, u->code);
            ct_xlsx_str(s, u->name);
            ct_xlsx_str(s, st->agent->id);
            ct_xlsx_str(s, st->agent->name);
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                int met = st->count[p] >= f->agent_target[p];
                both = both && met;
                ct_xlsx_num(s, (double)st->count[p]);
                ct_xlsx_num(s, (double)f->agent_target[p]);
                ct_xlsx_x10(s, st->pct_x10[p]);
                ct_xlsx_num(s, met);
            }
            ct_xlsx_num(s, both);
            cells_position(s, pc);
        }
    }
}

/* One row per commune of each listing unit, then its code-0 row (the
 * commune CSV's rows). */
static void commune_sheet(ct_xlsx_sheet *s, const ct_status_figures *f, const position_cells *pc)
{
    char h[48];
    ct_xlsx_hdr(s, "district_code");
    ct_xlsx_hdr(s, "district_name");
    ct_xlsx_hdr(s, "commune_code");
    ct_xlsx_hdr(s, "commune_name");
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        snprintf(h, sizeof h, "%s_net", ct_program_name((ct_program)p));
        ct_xlsx_hdr(s, h);
    }
    hdr_position(s);
    for (size_t i = 0; i < f->n_districts; i++) {
        const ct_status_unit *u = &f->districts[i];
        for (size_t j = 0; j <= u->n_communes && u->n_communes; j++) {
            const ct_status_commune *m = j < u->n_communes ? &u->communes[j] : NULL;
            ct_xlsx_next_row(s);
            ct_xlsx_num(s, u->code);
            ct_xlsx_str(s, u->name);
            ct_xlsx_num(s, m ? m->code : 0);
            ct_xlsx_str(s, m ? m->name : "");
            for (int p = 0; p < CT_PROGRAM_COUNT; p++)
                ct_xlsx_num(s, (double)(m ? m->net[p] : u->commune_none[p]));
            cells_position(s, pc);
        }
    }
}

/* The workbook into path; the first error's text into err. */
typedef struct {
    const ct_campaign *c;
    const ct_status_figures *f;
    const ct_status_position *pos;
} book;

static lxw_error fill(lxw_workbook *wb, lxw_format *pct, lxw_format *head, void *arg)
{
    const book *bk = arg;
    const ct_campaign *c = bk->c;
    const ct_status_figures *f = bk->f;
    const ct_status_position *pos = bk->pos;
    position_cells pc;
    ct_time_format(pos->now_ms, c->tz_offset_min, pc.as_of, sizeof pc.as_of);
    ct_hash_hex(pos->head, pc.head);
    pc.seq = pos->seq;
    pc.feed = pos->feed ? pos->feed : "unknown";
    static const char *const NAMES[4] = {"province", "districts", "staff", "communes"};
    int sheets = 3;
    for (size_t i = 0; i < f->n_districts; i++)
        if (f->districts[i].n_communes) sheets = 4;
    lxw_error first = LXW_NO_ERROR;
    for (int k = 0; k < sheets && !first; k++) {
        ct_xlsx_sheet s = {.ws = workbook_add_worksheet(wb, NAMES[k]), .pct = pct, .head = head};
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
        } else if (k == 2) {
            staff_sheet(&s, f, &pc);
        } else {
            commune_sheet(&s, f, &pc);
        }
        first = s.err;
    }
    if (!first && f->life) first = ct_status_life_sheets(wb, pct, head, c, f, pos);
    return first;
}

ct_err ct_status_xlsx(const ct_campaign *c, const ct_status_figures *f,
                      const ct_status_position *pos, ct_buf *out, char *err, size_t errlen)
{
    assert(c && f && pos && out && err && errlen > 0);
    book bk = {.c = c, .f = f, .pos = pos};
    return ct_xlsx_make(fill, &bk, out, err, errlen);
}
