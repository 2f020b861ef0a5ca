/* ct_status_life_xlsx.c — the campaign's life sheets of the status
 * workbook ("changes", "days", "late", "ranking"): each sheet holds exactly
 * the rows and columns of the life CSV of the same name
 * (ct_status_life_csv), parsed back, so a sheet and a CSV made at one
 * position hold the same figures. Text columns are known by name; every
 * other non-empty field is a number ("pct" with one decimal).
 *
 * Invariants: reads only the CSV it rendered itself (RFC 4180, CRLF); the
 * first libxlsxwriter error is the one reported.
 */
#include "ct_status_life_xlsx.h"

#include <stdlib.h>
#include <string.h>

#include "ct_status_life.h"

#define MAX_COLS 32

static const char *const TEXT_COLS[] = {
    "kind",      "unit_name", "program",    "day",   "effective", "level", "district_name",
    "closed_by", "agent_id",  "agent_name", "as_of", "head",      "feed"};

static bool is_text(const char *name)
{
    for (size_t i = 0; i < sizeof TEXT_COLS / sizeof *TEXT_COLS; i++)
        if (strcmp(TEXT_COLS[i], name) == 0) return true;
    return false;
}

/* One field starting at *p into out (unquoted); returns the separator
 * after it (',' '\r' or '\0'). */
static char field(const char **p, ct_buf *out)
{
    const char *s = *p;
    ct_buf_reset(out);
    if (*s == '"') {
        s++;
        for (;;) {
            if (*s == '"' && s[1] == '"') {
                (void)ct_buf_append(out, "\"", 1);
                s += 2;
            } else if (*s == '"' || !*s) {
                if (*s) s++;
                break;
            } else {
                (void)ct_buf_append(out, s++, 1);
            }
        }
    } else {
        const char *e = s + strcspn(s, ",\r");
        (void)ct_buf_append(out, s, (size_t)(e - s));
        s = e;
    }
    (void)ct_buf_append(out, "", 1);
    char sep = *s;
    if (sep == ',') s++;
    if (sep == '\r') s += s[1] == '\n' ? 2 : 1;
    *p = s;
    return sep;
}

static void csv_sheet(ct_xlsx_sheet *sh, const char *csv)
{
    ct_buf f = CT_BUF_INIT;
    bool text[MAX_COLS], pct[MAX_COLS];
    size_t ncol = 0;
    const char *p = csv;
    /* the header */
    for (;;) {
        char sep = field(&p, &f);
        const char *name = f.data ? (const char *)f.data : "";
        if (ncol < MAX_COLS) {
            text[ncol] = is_text(name);
            pct[ncol] = strcmp(name, "pct") == 0;
            ncol++;
        }
        ct_xlsx_hdr(sh, name);
        if (sep != ',') break;
    }
    worksheet_freeze_panes(sh->ws, 1, 0);
    while (*p) {
        ct_xlsx_next_row(sh);
        for (size_t c = 0;; c++) {
            char sep = field(&p, &f);
            const char *v = f.data ? (const char *)f.data : "";
            if (!*v)
                sh->col++;
            else if (c < ncol && !text[c] && pct[c])
                ct_xlsx_x10(sh, (int64_t)(strtod(v, NULL) * 10.0 + (v[0] == '-' ? -0.5 : 0.5)));
            else if (c < ncol && !text[c])
                ct_xlsx_num(sh, strtod(v, NULL));
            else
                ct_xlsx_str(sh, v);
            if (sep != ',') break;
        }
    }
    ct_buf_free(&f);
}

lxw_error ct_status_life_sheets(lxw_workbook *wb, lxw_format *pct, lxw_format *head,
                                const ct_campaign *c, const ct_status_figures *f,
                                const ct_status_position *pos)
{
    static const struct {
        const char *name;
        ct_status_format fmt;
    } SHEETS[] = {{"changes", CT_FMT_CHANGES_CSV},
                  {"days", CT_FMT_DAYS_CSV},
                  {"late", CT_FMT_LATE_CSV},
                  {"ranking", CT_FMT_RANKING_CSV}};
    lxw_error first = LXW_NO_ERROR;
    for (size_t k = 0; k < sizeof SHEETS / sizeof *SHEETS && !first; k++) {
        ct_buf csv = CT_BUF_INIT;
        if (ct_status_render_figures(c, f, pos, SHEETS[k].fmt, 0, &csv) ||
            ct_buf_append(&csv, "", 1)) {
            ct_buf_free(&csv);
            return LXW_ERROR_MEMORY_MALLOC_FAILED;
        }
        ct_xlsx_sheet s = {
            .ws = workbook_add_worksheet(wb, SHEETS[k].name), .pct = pct, .head = head};
        if (!s.ws)
            first = LXW_ERROR_MEMORY_MALLOC_FAILED;
        else
            csv_sheet(&s, (const char *)csv.data);
        if (!first) first = s.err;
        ct_buf_free(&csv);
    }
    return first;
}
