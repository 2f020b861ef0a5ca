/* ct_status_life_render.c — the campaign's life figures (ct_status_life.h)
 * in the report's renderings: JSON members, terminal table sections, and
 * the four life CSVs (changes, days, late, ranking).
 *
 * Invariants: pure (no clock reads, no I/O); prints only what the figures
 * hold, in their order, so equal figures render equal bytes (the audit
 * replay relies on it). Strings go through base/ct_text. On error the
 * buffer may hold a partial rendering (the caller discards it).
 */
#include "ct_status_life.h"

#include <stdio.h>
#include <string.h>

#include "ct_table.h"
#include "ct_text.h"
#include "ct_time.h"

#define PROVINCE_UNIT ((size_t)-1)

static const char *const BUCKET_NAMES[CT_LATE_BUCKETS] = {
    "late_15m", "late_1h", "late_6h", "late_24h", "late_48h", "late_72h", "late_7d", "late_more"};

static ct_err put(ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

static void fmt_day(uint32_t day, char *buf, size_t len)
{
    if (!day) {
        snprintf(buf, len, "%s", "");
        return;
    }
    snprintf(buf, len, "%04u-%02u-%02u", day / 10000, day / 100 % 100, day % 100);
}

void ct_status_fmt_duration(int64_t s, char *buf, size_t len)
{
    if (s < 0) s = 0;
    if (s < 60)
        snprintf(buf, len, "%lld s", (long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%lld min", (long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, len, "%lld h %02lld min", (long long)(s / 3600), (long long)(s / 60 % 60));
    else
        snprintf(buf, len, "%lld d %02lld h", (long long)(s / 86400), (long long)(s / 3600 % 24));
}

static const ct_life_unit *unit_of(const ct_status_figures *f, size_t unit)
{
    return unit == PROVINCE_UNIT ? &f->life->province : &f->life->units[unit];
}

static const char *unit_name(const ct_status_figures *f, uint32_t code)
{
    for (size_t i = 0; i < f->n_districts; i++)
        if (f->districts[i].code == code) return f->districts[i].name;
    return "";
}

/* ---------------------------------------------------------------- JSON */

static ct_err json_progs(ct_buf *b, const char *key, const int64_t v[CT_PROGRAM_COUNT])
{
    ct_err e = ct_buf_printf(b, "\"%s\":{", key);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "%s\"%s\":%lld", p ? "," : "", ct_program_name((ct_program)p),
                          (long long)v[p]);
    return e ? e : put(b, "}");
}

ct_err ct_status_life_json_prog(ct_buf *b, const ct_status_figures *f, size_t unit, int p)
{
    const ct_life_unit *u = unit_of(f, unit);
    return ct_buf_printf(b, ",\"target_original\":%lld,\"voided\":%lld,\"corrected\":%lld",
                         (long long)u->target_original[p], (long long)u->voided[p],
                         (long long)u->corrected[p]);
}

/* "" (open), "province", "unit", or "part" (a merged unit's day closed by
 * the close of a unit merged into it, by units in force). */
static const char *closed_by(const ct_life_day *d)
{
    return !d->close_seq ? "" : d->by_province ? "province" : d->part ? "part" : "unit";
}

static ct_err json_day(ct_buf *b, const ct_life_day *d, int first)
{
    char ds[16];
    fmt_day(d->day, ds, sizeof ds);
    ct_err e = ct_buf_printf(b, "%s{\"day\":\"%s\",\"close_seq\":%llu,\"closed_by\":\"%s\",",
                             first ? "" : ",", ds, (unsigned long long)d->close_seq, closed_by(d));
    if (!e && d->part)
        e = ct_buf_printf(b, "\"part\":%u,\"parts_closed\":%u,", d->part, d->n_parts);
    if (!e) e = json_progs(b, "recorded", d->current);
    if (!e) e = put(b, ",");
    if (!e) e = json_progs(b, "official", d->official);
    if (!e) e = put(b, ",");
    if (!e) e = json_progs(b, "late_after_close", d->late_closed);
    if (!e) e = put(b, ",");
    if (!e) e = json_progs(b, "after_day", d->after_day);
    if (!e) e = put(b, ",");
    if (!e) e = json_progs(b, "received", d->received);
    return e ? e : put(b, "}");
}

static ct_err json_days(ct_buf *b, const ct_status_figures *f, const ct_life_unit *u)
{
    ct_err e = put(b, "[");
    for (size_t j = 0; !e && j < f->n_days; j++)
        e = json_day(b, &u->days[j], j == 0);
    return e ? e : put(b, "]");
}

ct_err ct_status_life_json_days(ct_buf *b, const ct_status_figures *f, size_t unit)
{
    ct_err e = put(b, ",\"life_days\":");
    return e ? e : json_days(b, f, unit_of(f, unit));
}

static ct_err json_late(ct_buf *b, const ct_life_unit *u)
{
    const ct_life_late *lt = &u->late;
    ct_err e = ct_buf_printf(b, "\"counted\":%lld,\"hist\":[", (long long)lt->counted);
    for (int k = 0; !e && k < CT_LATE_BUCKETS; k++)
        e = ct_buf_printf(b, "%s%lld", k ? "," : "", (long long)lt->hist[k]);
    int pb[2] = {lt->p50, lt->p90};
    const char *pn[2] = {"p50", "p90"};
    for (int k = 0; !e && k < 2; k++) {
        if (pb[k] < 0)
            e = ct_buf_printf(b, "%s\"%s_bucket\":null,\"%s_s\":null", k ? "," : "],", pn[k],
                              pn[k]);
        else if (ct_status_late_bound_s(pb[k]) < 0)
            e = ct_buf_printf(b, "%s\"%s_bucket\":%d,\"%s_s\":null", k ? "," : "],", pn[k], pb[k],
                              pn[k]);
        else
            e = ct_buf_printf(b, "%s\"%s_bucket\":%d,\"%s_s\":%lld", k ? "," : "],", pn[k], pb[k],
                              pn[k], (long long)ct_status_late_bound_s(pb[k]));
    }
    if (!e)
        e = ct_buf_printf(b, ",\"max_s\":%lld,\"after_day\":%lld,\"late_after_close\":%lld,",
                          (long long)lt->max_s, (long long)lt->after_day,
                          (long long)lt->late_closed);
    return e ? e : json_progs(b, "received_outside", u->received_outside);
}

static ct_err json_targets(ct_buf *b, const ct_campaign *c, const ct_status_life *l)
{
    ct_err e = put(b, "\"targets\":[");
    for (size_t i = 0; !e && i < l->n_targets; i++) {
        const ct_life_target *t = &l->targets[i];
        char ef[40];
        ct_time_format(t->ef_ms, c->tz_offset_min, ef, sizeof ef);
        e = ct_buf_printf(b,
                          "%s{\"program\":\"%s\",\"unit\":%u,\"effective\":\"%s\","
                          "\"effective_ms\":%lld,\"seq\":%llu,\"old\":%lld,\"new\":%lld,"
                          "\"pending\":%s}",
                          i ? "," : "", ct_program_name(t->program), t->unit, ef,
                          (long long)t->ef_ms, (unsigned long long)t->seq, (long long)t->old_value,
                          (long long)t->new_value, t->pending ? "true" : "false");
    }
    return e ? e : put(b, "]");
}

static ct_err json_changes(ct_buf *b, const ct_status_life *l)
{
    ct_err e = put(b, "\"changes\":[");
    for (size_t i = 0; !e && i < l->n_changes; i++) {
        const ct_life_change *ch = &l->changes[i];
        char ds[16];
        fmt_day(ch->day, ds, sizeof ds);
        e = ct_buf_printf(b, "%s{\"seq\":%llu,\"kind\":\"%s\",\"unit\":%u", i ? "," : "",
                          (unsigned long long)ch->seq, ct_status_life_kind_name(ch->kind),
                          ch->unit);
        if (!e && ch->day) e = ct_buf_printf(b, ",\"day\":\"%s\"", ds);
        if (!e && ch->target >= 0) {
            const ct_life_target *t = &l->targets[ch->target];
            e = ct_buf_printf(b, ",\"program\":\"%s\",\"old\":%lld,\"new\":%lld",
                              ct_program_name(t->program), (long long)t->old_value,
                              (long long)t->new_value);
        }
        if (!e) e = put(b, "}");
    }
    return e ? e : put(b, "]");
}

static ct_err json_ranking(ct_buf *b, const ct_status_figures *f, const ct_status_life *l)
{
    ct_err e = put(b, "\"ranking\":{\"offices\":{");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s\"%s\":[", p ? "," : "", ct_program_name((ct_program)p));
        for (size_t i = 0; !e && i < l->n_units; i++) {
            const ct_life_office_rank *r = &l->offices[p][i];
            char pct[32];
            ct_status_fmt_x10(r->pct_x10, pct, sizeof pct);
            e = ct_buf_printf(b,
                              "%s{\"rank\":%zu,\"code\":%u,\"net\":%lld,\"target\":%lld,"
                              "\"pct\":%s,\"voided\":%lld,\"corrected\":%lld,\"cancelled\":%lld}",
                              i ? "," : "", i + 1, f->districts[r->unit].code, (long long)r->net,
                              (long long)r->target, pct, (long long)r->voided,
                              (long long)l->units[r->unit].corrected[p],
                              (long long)f->districts[r->unit].prog[p].cancelled);
        }
        if (!e) e = put(b, "]");
    }
    if (!e) e = put(b, "},\"staff\":{");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s\"%s\":[", p ? "," : "", ct_program_name((ct_program)p));
        for (size_t i = 0; !e && i < l->n_staff; i++) {
            const ct_life_staff_rank *r = &l->staff[p][i];
            char pct[32];
            ct_status_fmt_x10(r->pct_x10, pct, sizeof pct);
            e = ct_buf_printf(b, "%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
            if (!e) e = ct_text_json_str(b, r->agent->id);
            if (!e)
                e = ct_buf_printf(b,
                                  ",\"district\":%u,\"net\":%lld,\"target\":%lld,\"pct\":%s,"
                                  "\"voided\":%lld}",
                                  f->districts[r->unit].code, (long long)r->net,
                                  (long long)r->target, pct, (long long)r->voided);
        }
        if (!e) e = put(b, "]");
    }
    return e ? e : put(b, "}}");
}

ct_err ct_status_life_json(ct_buf *b, const ct_campaign *c, const ct_status_figures *f)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, ",\"life\":{");
    if (!e) e = json_progs(b, "quota", l->quota);
    if (!e) e = put(b, ",");
    if (!e) e = json_progs(b, "quota_original", l->quota_original);
    if (!e) e = put(b, ",");
    if (!e) e = json_targets(b, c, l);
    if (!e) e = put(b, ",");
    if (!e) e = json_changes(b, l);
    if (!e) e = put(b, ",\"days\":");
    if (!e) e = json_days(b, f, &l->province);
    if (!e) e = put(b, ",\"late\":{\"province\":{");
    if (!e) e = json_late(b, &l->province);
    if (!e) e = put(b, "},\"districts\":[");
    for (size_t i = 0; !e && i < l->n_units; i++) {
        e = ct_buf_printf(b, "%s{\"code\":%u,", i ? "," : "", f->districts[i].code);
        if (!e) e = json_late(b, &l->units[i]);
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "]},");
    if (!e) e = json_ranking(b, f, l);
    return e ? e : put(b, "}");
}

/* ---------------------------------------------------------------- table */

static void late_cell(int bucket, char *buf, size_t len)
{
    int64_t s = ct_status_late_bound_s(bucket);
    if (bucket < 0)
        snprintf(buf, len, "-");
    else if (s < 0)
        snprintf(buf, len, ">= 7 d");
    else {
        snprintf(buf, len, "<= ");
        size_t n = strlen(buf);
        if (n < len) ct_status_fmt_duration(s, buf + n, len - n);
    }
}

static ct_err table_changes(ct_buf *b, const ct_campaign *c, const ct_status_figures *f)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "\nChanges: the campaign's life entries by log position "
                      "(reasons and actors: chitieu-audit life)\n");
    if (e || !l->n_changes) return e ? e : put(b, "(none)\n");
    ct_table t;
    ct_table_init(&t, "rlll");
    ct_table_row(&t, "Seq", "Kind", "Unit", "Detail");
    ct_table_rule(&t);
    for (size_t i = 0; i < l->n_changes; i++) {
        const ct_life_change *ch = &l->changes[i];
        char seq[24], unit[160], det[200] = "";
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)ch->seq);
        if (ch->unit)
            snprintf(unit, sizeof unit, "%u %s", ch->unit, unit_name(f, ch->unit));
        else
            snprintf(unit, sizeof unit, "%s",
                     ch->kind == 3   ? "per-staff quota"
                     : ch->kind == 6 ? "-"
                                     : "province");
        if (ch->target >= 0) {
            const ct_life_target *tg = &l->targets[ch->target];
            char ef[40];
            ct_time_format(tg->ef_ms, c->tz_offset_min, ef, sizeof ef);
            snprintf(det, sizeof det, "%s %lld -> %lld from %s%s", ct_program_name(tg->program),
                     (long long)tg->old_value, (long long)tg->new_value, ef,
                     tg->pending ? " (pending)" : "");
        } else if (ch->day) {
            char ds[16];
            fmt_day(ch->day, ds, sizeof ds);
            snprintf(det, sizeof det, "day %s, in force", ds);
        }
        ct_table_row(&t, seq, ct_status_life_kind_name(ch->kind), unit, det);
    }
    e = ct_table_render(&t, b);
    ct_table_free(&t);
    return e;
}

static ct_err table_units(ct_buf *b, const ct_status_figures *f)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "\nTargets in force (original), voids, corrections and cancellations\n");
    if (!e)
        e = ct_buf_printf(b,
                          "Personal quota in force: %s %lld (original %lld), %s %lld "
                          "(original %lld)\n",
                          ct_program_name(CT_PROGRAM_BHXH_TN), (long long)l->quota[0],
                          (long long)l->quota_original[0], ct_program_name(CT_PROGRAM_BHYT_HGD),
                          (long long)l->quota[1], (long long)l->quota_original[1]);
    if (e) return e;
    ct_table t;
    ct_table_init(&t, "llrrrrrrrrrr");
    char h[10][40];
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const char *pn = ct_program_name((ct_program)p);
        snprintf(h[5 * p], sizeof h[0], "%s target", pn);
        snprintf(h[5 * p + 1], sizeof h[0], "orig.");
        snprintf(h[5 * p + 2], sizeof h[0], "voided");
        snprintf(h[5 * p + 3], sizeof h[0], "corr.");
        snprintf(h[5 * p + 4], sizeof h[0], "canc.");
    }
    ct_table_row(&t, "Code", "District", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8],
                 h[9]);
    ct_table_rule(&t);
    for (size_t i = 0; i <= l->n_units; i++) {
        const ct_status_unit *su = i < l->n_units ? &f->districts[i] : &f->province;
        const ct_life_unit *u = i < l->n_units ? &l->units[i] : &l->province;
        char code[16] = "", n[10][24];
        if (i < l->n_units)
            snprintf(code, sizeof code, "%u", su->code);
        else
            ct_table_rule(&t);
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            snprintf(n[5 * p], 24, "%lld", (long long)su->prog[p].target);
            snprintf(n[5 * p + 1], 24, "%lld", (long long)u->target_original[p]);
            snprintf(n[5 * p + 2], 24, "%lld", (long long)u->voided[p]);
            snprintf(n[5 * p + 3], 24, "%lld", (long long)u->corrected[p]);
            snprintf(n[5 * p + 4], 24, "%lld", (long long)su->prog[p].cancelled);
        }
        ct_table_row(&t, code, su->name, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8],
                     n[9]);
    }
    e = ct_table_render(&t, b);
    ct_table_free(&t);
    return e;
}

/* Days: province recorded vs official, closes, late after close, and the
 * "as recorded" vs "as known at the time" cumulative views. */
static ct_err table_days(ct_buf *b, const ct_status_figures *f)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "\nDays (province): recorded now vs official as closed; late after close; "
                      "cumulative as recorded by day vs as received by day\n");
    if (e) return e;
    ct_table t;
    ct_table_init(&t, "llrrrrrrrrrr");
    char h[10][40];
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const char *pn = ct_program_name((ct_program)p);
        snprintf(h[5 * p], sizeof h[0], "%s rec.", pn);
        snprintf(h[5 * p + 1], sizeof h[0], "official");
        snprintf(h[5 * p + 2], sizeof h[0], "late/cl.");
        snprintf(h[5 * p + 3], sizeof h[0], "cum.rec.");
        snprintf(h[5 * p + 4], sizeof h[0], "cum.recv.");
    }
    ct_table_row(&t, "Day", "Closed", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]);
    ct_table_rule(&t);
    int64_t rec[CT_PROGRAM_COUNT] = {0}, recv[CT_PROGRAM_COUNT] = {0};
    for (size_t j = 0; j < f->n_days; j++) {
        const ct_life_day *d = &l->province.days[j];
        char ds[16], cl[48], n[10][24];
        size_t units = 0;
        for (size_t i = 0; i < l->n_units; i++)
            units += l->units[i].days[j].close_seq && !l->units[i].days[j].by_province;
        fmt_day(d->day, ds, sizeof ds);
        if (d->close_seq)
            snprintf(cl, sizeof cl, "seq %llu", (unsigned long long)d->close_seq);
        else if (units)
            snprintf(cl, sizeof cl, "%zu unit(s)", units);
        else
            snprintf(cl, sizeof cl, "open");
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            rec[p] += d->current[p];
            recv[p] += d->received[p];
            snprintf(n[5 * p], 24, "%lld", (long long)d->current[p]);
            if (d->close_seq)
                snprintf(n[5 * p + 1], 24, "%lld", (long long)d->official[p]);
            else
                snprintf(n[5 * p + 1], 24, "-");
            snprintf(n[5 * p + 2], 24, "%lld", (long long)d->late_closed[p]);
            snprintf(n[5 * p + 3], 24, "%lld", (long long)rec[p]);
            snprintf(n[5 * p + 4], 24, "%lld", (long long)recv[p]);
        }
        ct_table_row(&t, ds, cl, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9]);
    }
    e = ct_table_render(&t, b);
    ct_table_free(&t);
    if (!e && (l->province.received_outside[0] || l->province.received_outside[1]))
        e = ct_buf_printf(
            b, "Received on other days (after the window): %s %lld, %s %lld\n",
            ct_program_name(CT_PROGRAM_BHXH_TN), (long long)l->province.received_outside[0],
            ct_program_name(CT_PROGRAM_BHYT_HGD), (long long)l->province.received_outside[1]);
    /* units' own closes, one line each */
    for (size_t i = 0; !e && i < l->n_units; i++)
        for (size_t j = 0; !e && j < f->n_days; j++) {
            const ct_life_day *d = &l->units[i].days[j];
            if (!d->close_seq || d->by_province) continue;
            char ds[16], part[64] = "";
            fmt_day(d->day, ds, sizeof ds);
            if (d->part)
                snprintf(part, sizeof part, "part %u (%u part(s) closed) of ", d->part, d->n_parts);
            e = ct_buf_printf(b,
                              "  %s closed for %s%u %s (seq %llu): official %lld + %lld, now "
                              "%lld + %lld\n",
                              ds, part, f->districts[i].code, f->districts[i].name,
                              (unsigned long long)d->close_seq, (long long)d->official[0],
                              (long long)d->official[1], (long long)d->current[0],
                              (long long)d->current[1]);
        }
    return e;
}

static ct_err table_late(ct_buf *b, const ct_status_figures *f)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "\nLate data per district (occurred -> received; p50/p90 = bucket upper "
                      "bound)\n");
    if (e) return e;
    ct_table t;
    ct_table_init(&t, "llrllrrr");
    ct_table_row(&t, "Code", "District", "Counted", "p50", "p90", "Max", "After day",
                 "Late/closed");
    ct_table_rule(&t);
    for (size_t i = 0; i <= l->n_units; i++) {
        const ct_life_late *lt = i < l->n_units ? &l->units[i].late : &l->province.late;
        const ct_status_unit *su = i < l->n_units ? &f->districts[i] : &f->province;
        char code[16] = "", n[6][32];
        if (i < l->n_units)
            snprintf(code, sizeof code, "%u", su->code);
        else
            ct_table_rule(&t);
        snprintf(n[0], 32, "%lld", (long long)lt->counted);
        late_cell(lt->p50, n[1], 32);
        late_cell(lt->p90, n[2], 32);
        ct_status_fmt_duration(lt->max_s, n[3], 32);
        snprintf(n[4], 32, "%lld", (long long)lt->after_day);
        snprintf(n[5], 32, "%lld", (long long)lt->late_closed);
        ct_table_row(&t, code, su->name, n[0], n[1], n[2], n[3], n[4], n[5]);
    }
    e = ct_table_render(&t, b);
    ct_table_free(&t);
    return e;
}

static ct_err table_ranking(ct_buf *b, const ct_status_figures *f, unsigned flags)
{
    const ct_status_life *l = f->life;
    ct_err e = CT_OK;
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "\nRanking of offices by attainment of their own target (%s)\n",
                          ct_program_name((ct_program)p));
        ct_table t;
        ct_table_init(&t, "rllrrrrr");
        ct_table_row(&t, "#", "Code", "District", "Net", "Target", "%", "Voided", "Canc.");
        ct_table_rule(&t);
        for (size_t i = 0; i < l->n_units; i++) {
            const ct_life_office_rank *r = &l->offices[p][i];
            const ct_status_unit *su = &f->districts[r->unit];
            char n[7][24];
            snprintf(n[0], 24, "%zu", i + 1);
            snprintf(n[1], 24, "%u", su->code);
            snprintf(n[2], 24, "%lld", (long long)r->net);
            snprintf(n[3], 24, "%lld", (long long)r->target);
            ct_status_fmt_x10(r->pct_x10, n[4], 24);
            snprintf(n[5], 24, "%lld", (long long)r->voided);
            snprintf(n[6], 24, "%lld", (long long)su->prog[p].cancelled);
            ct_table_row(&t, n[0], n[1], su->name, n[2], n[3], n[4], n[5], n[6]);
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
        size_t shown = (flags & CT_STATUS_STAFF) || l->n_staff < 10 ? l->n_staff : 10;
        if (!e)
            e = ct_buf_printf(b,
                              "\nRanking of staff by attainment of the personal quota (%s, %lld): "
                              "%zu of %zu\n",
                              ct_program_name((ct_program)p), (long long)l->quota[p], shown,
                              l->n_staff);
        ct_table_init(&t, "rlllrrr");
        ct_table_row(&t, "#", "Code", "Agent", "Name", "Net", "%", "Voided");
        ct_table_rule(&t);
        for (size_t i = 0; i < shown; i++) {
            const ct_life_staff_rank *r = &l->staff[p][i];
            char n[5][24];
            snprintf(n[0], 24, "%zu", i + 1);
            snprintf(n[1], 24, "%u", f->districts[r->unit].code);
            snprintf(n[2], 24, "%lld", (long long)r->net);
            ct_status_fmt_x10(r->pct_x10, n[3], 24);
            snprintf(n[4], 24, "%lld", (long long)r->voided);
            ct_table_row(&t, n[0], n[1], r->agent->id, r->agent->name, n[2], n[3], n[4]);
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
    }
    return e;
}

ct_err ct_status_life_table(ct_buf *b, const ct_campaign *c, const ct_status_figures *f,
                            unsigned flags)
{
    ct_err e = table_changes(b, c, f);
    if (!e) e = table_units(b, f);
    if (!e) e = table_days(b, f);
    if (!e) e = table_late(b, f);
    if (!e) e = table_ranking(b, f, flags);
    return e;
}

/* ---------------------------------------------------------------- CSV */

static ct_err csv_field(ct_buf *b, const char *s)
{
    ct_err e = put(b, ",");
    return e ? e : ct_text_csv_field(b, s);
}

static ct_err csv_changes(ct_buf *b, const ct_campaign *c, const ct_status_figures *f,
                          const char *tail)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "entry_seq,kind,unit_code,unit_name,program,day,effective,old,new,pending,"
                      "as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && l && i < l->n_changes; i++) {
        const ct_life_change *ch = &l->changes[i];
        const ct_life_target *t = ch->target >= 0 ? &l->targets[ch->target] : NULL;
        char ds[16], ef[40] = "";
        fmt_day(ch->day, ds, sizeof ds);
        if (t) ct_time_format(t->ef_ms, c->tz_offset_min, ef, sizeof ef);
        e = ct_buf_printf(b, "%llu,%s,%u", (unsigned long long)ch->seq,
                          ct_status_life_kind_name(ch->kind), ch->unit);
        if (!e) e = csv_field(b, ch->unit ? unit_name(f, ch->unit) : "");
        if (!e) e = ct_buf_printf(b, ",%s,%s,%s", t ? ct_program_name(t->program) : "", ds, ef);
        if (!e && t)
            e = ct_buf_printf(b, ",%lld,%lld,%d", (long long)t->old_value, (long long)t->new_value,
                              t->pending);
        else if (!e)
            e = put(b, ",,,");
        if (!e) e = put(b, tail);
        if (!e) e = put(b, "\r\n");
    }
    return e;
}

static ct_err csv_day_rows(ct_buf *b, const ct_status_figures *f, const ct_life_unit *u,
                           const ct_status_unit *su, int is_province, const char *tail)
{
    ct_err e = CT_OK;
    int64_t rec[CT_PROGRAM_COUNT] = {0}, recv[CT_PROGRAM_COUNT] = {0};
    for (size_t j = 0; !e && j < f->n_days; j++) {
        const ct_life_day *d = &u->days[j];
        char ds[16];
        fmt_day(d->day, ds, sizeof ds);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
            rec[p] += d->current[p];
            recv[p] += d->received[p];
            if (is_province)
                e = put(b, "province,");
            else
                e = ct_buf_printf(b, "district,%u", su->code);
            if (!e) e = csv_field(b, su->name);
            if (!e)
                e = ct_buf_printf(b, ",%s,%s,%lld,", ds, ct_program_name((ct_program)p),
                                  (long long)d->current[p]);
            if (!e) e = ct_buf_printf(b, "%lld", (long long)d->official[p]);
            if (!e)
                e = ct_buf_printf(b, ",%llu,%s", (unsigned long long)d->close_seq, closed_by(d));
            if (!e && d->part) e = ct_buf_printf(b, ":%u", d->part); /* part:CODE */
            if (!e)
                e = ct_buf_printf(b, ",%lld,%lld,%lld,%lld,%lld", (long long)d->late_closed[p],
                                  (long long)d->after_day[p], (long long)d->received[p],
                                  (long long)rec[p], (long long)recv[p]);
            if (!e) e = put(b, tail);
            if (!e) e = put(b, "\r\n");
        }
    }
    return e;
}

static ct_err csv_days(ct_buf *b, const ct_status_figures *f, const char *tail)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "level,district_code,district_name,day,program,recorded,official,"
                      "close_seq,closed_by,late_after_close,after_day,received,recorded_cum,"
                      "received_cum,as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && l && i < l->n_units; i++)
        e = csv_day_rows(b, f, &l->units[i], &f->districts[i], 0, tail);
    if (!e && l) e = csv_day_rows(b, f, &l->province, &f->province, 1, tail);
    return e;
}

static ct_err csv_late_row(ct_buf *b, const ct_life_unit *u, const ct_status_unit *su,
                           int is_province, const char *tail)
{
    const ct_life_late *lt = &u->late;
    ct_err e = is_province ? put(b, "province,") : ct_buf_printf(b, "district,%u", su->code);
    if (!e) e = csv_field(b, su->name);
    if (!e) e = ct_buf_printf(b, ",%lld", (long long)lt->counted);
    for (int k = 0; !e && k < CT_LATE_BUCKETS; k++)
        e = ct_buf_printf(b, ",%lld", (long long)lt->hist[k]);
    int pb[2] = {lt->p50, lt->p90};
    for (int k = 0; !e && k < 2; k++) {
        int64_t s = ct_status_late_bound_s(pb[k]);
        if (pb[k] < 0)
            e = put(b, ",,");
        else if (s < 0)
            e = ct_buf_printf(b, ",%d,", pb[k]);
        else
            e = ct_buf_printf(b, ",%d,%lld", pb[k], (long long)s);
    }
    if (!e)
        e = ct_buf_printf(b, ",%lld,%lld,%lld", (long long)lt->max_s, (long long)lt->after_day,
                          (long long)lt->late_closed);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",%lld", (long long)u->received_outside[p]);
    if (!e) e = put(b, tail);
    return e ? e : put(b, "\r\n");
}

static ct_err csv_late(ct_buf *b, const ct_status_figures *f, const char *tail)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "level,district_code,district_name,counted");
    for (int k = 0; !e && k < CT_LATE_BUCKETS; k++)
        e = ct_buf_printf(b, ",%s", BUCKET_NAMES[k]);
    if (!e) e = put(b, ",p50_bucket,p50_s,p90_bucket,p90_s,max_s,after_day,late_after_close");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",%s_received_outside", ct_program_name((ct_program)p));
    if (!e) e = put(b, ",as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && l && i < l->n_units; i++)
        e = csv_late_row(b, &l->units[i], &f->districts[i], 0, tail);
    if (!e && l) e = csv_late_row(b, &l->province, &f->province, 1, tail);
    return e;
}

static ct_err csv_ranking(ct_buf *b, const ct_status_figures *f, const char *tail)
{
    const ct_status_life *l = f->life;
    ct_err e = put(b, "level,program,rank,district_code,district_name,agent_id,agent_name,net,"
                      "target,pct,voided,corrected,cancelled,as_of,seq,head,feed\r\n");
    for (int p = 0; !e && l && p < CT_PROGRAM_COUNT; p++)
        for (size_t i = 0; !e && i < l->n_units; i++) {
            const ct_life_office_rank *r = &l->offices[p][i];
            const ct_status_unit *su = &f->districts[r->unit];
            char pct[32];
            ct_status_fmt_x10(r->pct_x10, pct, sizeof pct);
            e = ct_buf_printf(b, "office,%s,%zu,%u", ct_program_name((ct_program)p), i + 1,
                              su->code);
            if (!e) e = csv_field(b, su->name);
            if (!e)
                e = ct_buf_printf(b, ",,,%lld,%lld,%s,%lld,%lld,%lld", (long long)r->net,
                                  (long long)r->target, pct, (long long)r->voided,
                                  (long long)l->units[r->unit].corrected[p],
                                  (long long)su->prog[p].cancelled);
            if (!e) e = put(b, tail);
            if (!e) e = put(b, "\r\n");
        }
    for (int p = 0; !e && l && p < CT_PROGRAM_COUNT; p++)
        for (size_t i = 0; !e && i < l->n_staff; i++) {
            const ct_life_staff_rank *r = &l->staff[p][i];
            const ct_status_unit *su = &f->districts[r->unit];
            char pct[32];
            ct_status_fmt_x10(r->pct_x10, pct, sizeof pct);
            e = ct_buf_printf(b, "staff,%s,%zu,%u", ct_program_name((ct_program)p), i + 1,
                              su->code);
            if (!e) e = csv_field(b, su->name);
            if (!e) e = csv_field(b, r->agent->id);
            if (!e) e = csv_field(b, r->agent->name);
            if (!e)
                e = ct_buf_printf(b, ",%lld,%lld,%s,%lld,,", (long long)r->net,
                                  (long long)r->target, pct, (long long)r->voided);
            if (!e) e = put(b, tail);
            if (!e) e = put(b, "\r\n");
        }
    return e;
}

ct_err ct_status_life_csv(ct_buf *b, const ct_campaign *c, const ct_status_figures *f,
                          ct_status_format fmt, const char *tail)
{
    switch (fmt) {
    case CT_FMT_CHANGES_CSV:
        return csv_changes(b, c, f, tail);
    case CT_FMT_DAYS_CSV:
        return csv_days(b, f, tail);
    case CT_FMT_LATE_CSV:
        return csv_late(b, f, tail);
    case CT_FMT_RANKING_CSV:
        return csv_ranking(b, f, tail);
    default:
        return CT_ERR_ARG;
    }
}
