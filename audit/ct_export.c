/* ct_export.c — log records as CSV and JSON lines (see ct_export.h). One
 * row struct holds every column as text, so both renderings print the same
 * values in the same order. */
#include "ct_export.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_text.h"
#include "ct_time.h"

static const char *const COLS[] = {"seq",      "received",   "received_ms", "collector", "hash",
                                   "event_id", "occurred",   "occurred_ms", "campaign",  "district",
                                   "commune",  "agent",      "program",     "action",    "person",
                                   "months",   "amount_vnd", "group"};
#define NCOLS (sizeof COLS / sizeof COLS[0])

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
    ct_text_hex(ev->person, CT_PERSON_LEN, r->person);
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

ct_err ct_export_csv_header(ct_buf *out, int with_outcome)
{
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < NCOLS; i++)
        e = ct_buf_printf(out, "%s%s", i ? "," : "", COLS[i]);
    return e ? e : ct_buf_printf(out, "%s", with_outcome ? ",outcome\r\n" : "\r\n");
}

ct_err ct_export_csv_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                         const ct_event *ev, const char *outcome)
{
    row r;
    make_row(&r, c, rec, ev);
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < NCOLS; i++) {
        if (i) e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_csv_field(out, r.v[i]);
    }
    if (!e && outcome) {
        e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_csv_field(out, outcome);
    }
    return e ? e : ct_buf_append(out, "\r\n", 2);
}

ct_err ct_export_csv_life_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                              const ct_life *l)
{
    ct_event ev;
    memset(&ev, 0, sizeof ev);
    memcpy(ev.id, l->id, sizeof ev.id);
    ev.occurred_ms = l->issued_ms;
    memcpy(ev.campaign, l->campaign, sizeof ev.campaign);
    ev.district = l->kind == CT_LIFE_REORG ? 0 : l->district;
    if (l->kind == CT_LIFE_CORRECT && l->has_new_commune)
        memcpy(ev.commune, l->new_commune, sizeof ev.commune);
    snprintf(ev.agent, sizeof ev.agent, "%s", l->actor);
    if (l->kind == CT_LIFE_CORRECT && l->has_new_group)
        memcpy(ev.group, l->new_group, sizeof ev.group);
    if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT)
        memcpy(ev.person, l->person, sizeof ev.person);
    row r;
    make_row(&r, c, rec, &ev);
    bool has_program =
        l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT || l->kind == CT_LIFE_TARGET;
    r.v[9] = l->kind == CT_LIFE_REORG ? "" : r.district;
    r.v[12] = has_program ? ct_program_name(l->program) : "";
    r.v[13] = ct_life_kind_name(l->kind);
    if (l->kind != CT_LIFE_VOID && l->kind != CT_LIFE_CORRECT) r.v[14] = "";
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < NCOLS; i++) {
        if (i) e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_csv_field(out, r.v[i]);
    }
    return e ? e : ct_buf_append(out, "\r\n", 2);
}

/* numeric columns are written as JSON numbers; empty optional ones as null */
static int is_num_col(size_t i)
{
    return i == 0 || i == 2 || i == 7 || i == 9 || i == 15 || i == 16;
}

ct_err ct_export_json_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                          const ct_event *ev, const char *outcome)
{
    row r;
    make_row(&r, c, rec, ev);
    ct_err e = ct_buf_append(out, "{", 1);
    for (size_t i = 0; !e && i < NCOLS; i++) {
        if (i) e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_json_str(out, COLS[i]);
        if (!e) e = ct_buf_append(out, ":", 1);
        if (e) break;
        if (is_num_col(i))
            e = ct_buf_printf(out, "%s", r.v[i][0] ? r.v[i] : "null");
        else if ((i == 10 || i == 17) && !r.v[i][0])
            e = ct_buf_printf(out, "null");
        else
            e = ct_text_json_str(out, r.v[i]);
    }
    if (!e && outcome) {
        e = ct_buf_printf(out, ",\"outcome\":");
        if (!e) e = ct_text_json_str(out, outcome);
    }
    return e ? e : ct_buf_append(out, "}\n", 2);
}
