/* ct_export_life.c — a life entry's record as CSV, JSON or table text (see
 * ct_export_life.h). One row struct holds every column as text (NULL = the
 * kind does not carry it), so CSV and JSON print the same values in the
 * same order. */
#include "ct_export_life.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_keys.h"
#include "ct_text.h"
#include "ct_time.h"

static const char *const COLS[] = {
    "seq",    "received",  "received_ms", "collector",   "hash",        "entry_id",    "kind",
    "issued", "issued_ms", "campaign",    "actor",       "reason",      "unit",        "program",
    "person", "event_id",  "event_seq",   "new_program", "new_agent",   "new_commune", "new_group",
    "target", "day",       "reorg",       "effective",   "effective_ms"};
#define NCOLS (sizeof COLS / sizeof COLS[0])

/* numeric columns: JSON numbers */
static bool is_num(size_t i)
{
    return i == 0 || i == 2 || i == 8 || i == 12 || i == 16 || i == 21 || i == 25;
}

typedef struct {
    char seq[24], received[40], received_ms[24], hash[65], id[33], issued[40], issued_ms[24],
        unit[12], person[65], event_id[33], event_seq[24], target[12], day[16], effective[40],
        effective_ms[24];
    const char *v[NCOLS];
} row;

static bool has_unit(ct_life_kind k)
{
    return k != CT_LIFE_REORG;
}

static bool is_target_kind(ct_life_kind k)
{
    return k == CT_LIFE_VOID || k == CT_LIFE_CORRECT;
}

static void fmt_day(uint32_t d, char *out, size_t len)
{
    snprintf(out, len, "%04u-%02u-%02u", d / 10000 % 10000, d / 100 % 100, d % 100);
}

static void make_row(row *r, const ct_campaign *c, const ct_logrec *rec, const ct_life *l)
{
    memset(r->v, 0, sizeof r->v);
    snprintf(r->seq, sizeof r->seq, "%" PRIu64, rec->seq);
    ct_time_format(rec->received_ms, c->tz_offset_min, r->received, sizeof r->received);
    snprintf(r->received_ms, sizeof r->received_ms, "%" PRId64, rec->received_ms);
    ct_hash_hex(rec->hash, r->hash);
    ct_event_id_hex(l->id, r->id);
    ct_time_format(l->issued_ms, c->tz_offset_min, r->issued, sizeof r->issued);
    snprintf(r->issued_ms, sizeof r->issued_ms, "%" PRId64, l->issued_ms);
    const char **v = r->v;
    v[0] = r->seq, v[1] = r->received, v[2] = r->received_ms, v[3] = rec->collector;
    v[4] = r->hash, v[5] = r->id, v[6] = ct_life_kind_name(l->kind), v[7] = r->issued;
    v[8] = r->issued_ms, v[9] = l->campaign, v[10] = l->actor, v[11] = l->reason;
    if (has_unit(l->kind)) {
        snprintf(r->unit, sizeof r->unit, "%u", (unsigned)l->district);
        v[12] = r->unit;
    }
    if (is_target_kind(l->kind) || l->kind == CT_LIFE_TARGET) v[13] = ct_program_name(l->program);
    if (is_target_kind(l->kind)) {
        ct_text_hex(l->person, CT_PERSON_LEN, r->person);
        ct_event_id_hex(l->target_id, r->event_id);
        snprintf(r->event_seq, sizeof r->event_seq, "%" PRIu64, l->target_seq);
        v[14] = r->person, v[15] = r->event_id, v[16] = r->event_seq;
    }
    if (l->kind == CT_LIFE_CORRECT) {
        if (l->has_new_program) v[17] = ct_program_name(l->new_program);
        if (l->has_new_agent) v[18] = l->new_agent;
        if (l->has_new_commune) v[19] = l->new_commune;
        if (l->has_new_group) v[20] = l->new_group;
    }
    if (l->kind == CT_LIFE_TARGET) {
        snprintf(r->target, sizeof r->target, "%u", (unsigned)l->target);
        v[21] = r->target;
    }
    if (l->kind == CT_LIFE_CLOSE || l->kind == CT_LIFE_REOPEN) {
        fmt_day(l->day, r->day, sizeof r->day);
        v[22] = r->day;
    }
    if (l->kind == CT_LIFE_REORG) v[23] = l->reorg;
    if (l->kind == CT_LIFE_TARGET || l->kind == CT_LIFE_REORG) {
        ct_time_format(l->effective_ms, c->tz_offset_min, r->effective, sizeof r->effective);
        snprintf(r->effective_ms, sizeof r->effective_ms, "%" PRId64, l->effective_ms);
        v[24] = r->effective, v[25] = r->effective_ms;
    }
}

ct_err ct_life_csv_header(ct_buf *out, bool with_outcome)
{
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < NCOLS; i++)
        e = ct_buf_printf(out, "%s%s", i ? "," : "", COLS[i]);
    return e ? e : ct_buf_printf(out, "%s", with_outcome ? ",outcome\r\n" : "\r\n");
}

ct_err ct_life_csv_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec, const ct_life *l,
                       const char *outcome)
{
    row r;
    make_row(&r, c, rec, l);
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < NCOLS; i++) {
        if (i) e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_csv_field(out, r.v[i] ? r.v[i] : "");
    }
    if (!e && outcome) {
        e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_csv_field(out, outcome);
    }
    return e ? e : ct_buf_append(out, "\r\n", 2);
}

ct_err ct_life_json_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec, const ct_life *l,
                        const char *outcome)
{
    row r;
    make_row(&r, c, rec, l);
    ct_err e = ct_buf_append(out, "{", 1);
    for (size_t i = 0; !e && i < NCOLS; i++) {
        if (i) e = ct_buf_append(out, ",", 1);
        if (!e) e = ct_text_json_str(out, COLS[i]);
        if (!e) e = ct_buf_append(out, ":", 1);
        if (e) break;
        if (!r.v[i])
            e = ct_buf_printf(out, "null");
        else if (is_num(i))
            e = ct_buf_printf(out, "%s", r.v[i]);
        else
            e = ct_text_json_str(out, r.v[i]);
    }
    if (!e && outcome) {
        e = ct_buf_printf(out, ",\"outcome\":");
        if (!e) e = ct_text_json_str(out, outcome);
    }
    return e ? e : ct_buf_append(out, "}", 1);
}

void ct_life_fields_text(const ct_campaign *c, const ct_life *l, char *out, size_t len)
{
    char id[33], ph[17], t[40];
    size_t n = 0;
    out[0] = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < len) {                                                                             \
            int w = snprintf(out + n, len - n, __VA_ARGS__);                                       \
            n += w > 0 ? (size_t)w : 0;                                                            \
        }                                                                                          \
    } while (0)
    if (is_target_kind(l->kind)) {
        ct_event_id_hex(l->target_id, id);
        ct_text_hex(l->person, 8, ph);
        ADD("q=%" PRIu64 " e=%s p=%s h=%s", l->target_seq, id, ct_program_name(l->program), ph);
    }
    if (l->kind == CT_LIFE_CORRECT) {
        if (l->has_new_program) ADD(" np=%s", ct_program_name(l->new_program));
        if (l->has_new_agent) ADD(" a=%s", l->new_agent);
        if (l->has_new_commune) ADD(" w=\"%s\"", l->new_commune);
        if (l->has_new_group) ADD(" g=\"%s\"", l->new_group);
    }
    if (l->kind == CT_LIFE_TARGET)
        ADD("p=%s n=%u%s", ct_program_name(l->program), (unsigned)l->target,
            l->district ? "" : " (per-staff quota)");
    if (l->kind == CT_LIFE_CLOSE || l->kind == CT_LIFE_REOPEN) {
        fmt_day(l->day, t, sizeof t);
        ADD("day=%s%s", t, l->district ? "" : " (province)");
    }
    if (l->kind == CT_LIFE_REORG) ADD("n=%s", l->reorg);
    if (l->kind == CT_LIFE_TARGET || l->kind == CT_LIFE_REORG) {
        ct_time_format(l->effective_ms, c->tz_offset_min, t, sizeof t);
        ADD(" ef=%s", t);
    }
#undef ADD
}

void ct_outcome_upper(ct_tally_outcome o, char *buf, size_t len)
{
    const char *n = ct_tally_outcome_name(o);
    size_t i = 0;
    for (; n[i] && i + 1 < len; i++)
        buf[i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
    buf[i] = 0;
}
