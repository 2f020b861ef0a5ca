/* ct_natstatus_xlsx.c — the national report as a workbook (see
 * ct_natstatus_xlsx.h); the workbook machinery is report/ct_xlsx's.
 *
 * Invariants: the columns and values are the national CSV's, so a workbook
 * and a CSV made from one report hold the same figures.
 */
#include "ct_natstatus_xlsx.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "ct_logrec.h"
#include "ct_time.h"
#include "ct_xlsx.h"

typedef struct {
    const ct_national *n;
    const ct_natstatus *s;
    char as_of[40];
} book;

static void header(ct_xlsx_sheet *sh)
{
    static const char *const H[] = {
        "level",      "province_code", "province_name", "unit_code", "unit_name", "program",
        "net",        "target",        "pct",           "remaining", "expected",  "required_daily",
        "projection", "verdict",       "rank",          "staff",     "staff_met", "feed",
        "age_ms",     "as_of",         "seq",           "head"};
    for (size_t i = 0; i < sizeof H / sizeof *H; i++)
        ct_xlsx_hdr(sh, H[i]);
    worksheet_freeze_panes(sh->ws, 1, 0);
}

static void row(ct_xlsx_sheet *sh, const book *bk, const char *level, const ct_natstatus_prov *pv,
                const ct_status_unit *u, int p, const ct_status_prog *pr, uint32_t staff,
                const char *label)
{
    ct_xlsx_next_row(sh);
    ct_xlsx_str(sh, level);
    if (pv)
        ct_xlsx_num(sh, pv->p->code);
    else
        ct_xlsx_str(sh, "");
    ct_xlsx_str(sh, pv ? pv->p->name : label);
    if (u)
        ct_xlsx_num(sh, u->code);
    else
        ct_xlsx_str(sh, "");
    ct_xlsx_str(sh, u ? u->name : "");
    ct_xlsx_str(sh, ct_program_name((ct_program)p));
    ct_xlsx_num(sh, (double)pr->net);
    ct_xlsx_num(sh, (double)pr->target);
    ct_xlsx_x10(sh, pr->pct_x10);
    ct_xlsx_num(sh, (double)pr->remaining);
    ct_xlsx_x10(sh, pr->expected_x10);
    ct_xlsx_x10(sh, pr->required_daily_x10);
    ct_xlsx_x10(sh, pr->projection_x10);
    ct_xlsx_str(sh, ct_status_verdict_name(pr->verdict));
    if (pv && !u && pv->rank[p])
        ct_xlsx_num(sh, pv->rank[p]);
    else
        ct_xlsx_str(sh, "");
    ct_xlsx_num(sh, staff);
    ct_xlsx_num(sh, pr->staff_met);
    if (pv) {
        char hx[65];
        ct_hash_hex(pv->head, hx);
        ct_xlsx_str(sh, pv->feed);
        ct_xlsx_num(sh, (double)pv->age_ms);
        ct_xlsx_str(sh, bk->as_of);
        ct_xlsx_num(sh, (double)pv->seq);
        ct_xlsx_str(sh, hx);
    } else {
        ct_xlsx_str(sh, "");
        ct_xlsx_str(sh, "");
        ct_xlsx_str(sh, bk->as_of);
    }
}

static lxw_error fill(lxw_workbook *wb, lxw_format *pct, lxw_format *head, void *arg)
{
    const book *bk = arg;
    const ct_natstatus *s = bk->s;
    ct_xlsx_sheet ps = {.ws = workbook_add_worksheet(wb, "provinces"), .pct = pct, .head = head};
    ct_xlsx_sheet us = {.ws = workbook_add_worksheet(wb, "units"), .pct = pct, .head = head};
    if (!ps.ws || !us.ws) return LXW_ERROR_MEMORY_MALLOC_FAILED;
    header(&ps);
    header(&us);
    for (size_t i = 0; i < s->n_provs; i++) {
        const ct_natstatus_prov *pv = &s->provs[i];
        if (!pv->has) continue;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            row(&ps, bk, "province", pv, NULL, p, &pv->f.province.prog[p], pv->f.province.staff,
                NULL);
        for (size_t j = 0; j < pv->f.n_districts; j++)
            for (int p = 0; p < CT_PROGRAM_COUNT; p++)
                row(&us, bk, "unit", pv, &pv->f.districts[j], p, &pv->f.districts[j].prog[p],
                    pv->f.districts[j].staff, NULL);
    }
    char label[64];
    snprintf(label, sizeof label, "%zu/%zu provinces", s->n_included, s->n_provs);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        row(&ps, bk, "national", NULL, NULL, p, &s->total[p], s->staff, label);
    ct_buf pins = CT_BUF_INIT;
    if (ct_natstatus_pins(s, &pins) || ct_buf_append(&pins, "", 1)) {
        ct_buf_free(&pins);
        return LXW_ERROR_MEMORY_MALLOC_FAILED;
    }
    ct_xlsx_next_row(&ps);
    ct_xlsx_str(&ps, "pins");
    ct_xlsx_str(&ps, (const char *)pins.data);
    ct_buf_free(&pins);
    return ps.err ? ps.err : us.err;
}

ct_err ct_natstatus_xlsx(const ct_national *n, const ct_natstatus *s, ct_buf *out, char *err,
                         size_t errlen)
{
    assert(n && s && out && err && errlen > 0);
    book bk = {.n = n, .s = s};
    ct_time_format(s->clock.now_ms, n->tz_offset_min, bk.as_of, sizeof bk.as_of);
    return ct_xlsx_make(fill, &bk, out, err, errlen);
}
