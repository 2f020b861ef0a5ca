/* ct_status_render.c — the three renderings of the status figures (see
 * ct_status.h): a terminal table, one JSON line, CSV. Strings go through
 * base/ct_text (JSON string, CSV field, display width), the one place those
 * rules live.
 *
 * Invariants: pure (no clock reads, no I/O); every renderer appends to the
 * caller's buffer and prints only what the figures and the position hold, so
 * equal inputs render equal bytes (the audit replay relies on it). On error
 * the buffer may hold a partial report (the caller discards it).
 */
#include "ct_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_logrec.h"
#include "ct_status_life.h"
#include "ct_table.h"
#include "ct_text.h"
#include "ct_time.h"

/* ---------------------------------------------------------------- output helpers */

static ct_err put(ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

static void fmt_day(uint32_t day, char *buf, size_t len)
{
    snprintf(buf, len, "%04u-%02u-%02u", day / 10000, day / 100 % 100, day % 100);
}

static const char *feed_label(const ct_status_position *pos)
{
    return pos->feed ? pos->feed : "unknown";
}

/* ---------------------------------------------------------------- JSON */

static ct_err json_x10(ct_buf *b, const char *key, int64_t v)
{
    char t[32];
    ct_status_fmt_x10(v, t, sizeof t);
    return ct_buf_printf(b, "\"%s\":%s", key, t);
}

static ct_err json_staff(ct_buf *b, const ct_status_figures *f, const ct_status_staff *s)
{
    ct_err e = put(b, "{\"id\":");
    if (!e) e = ct_text_json_str(b, s->agent->id);
    if (!e) e = put(b, ",\"name\":");
    if (!e) e = ct_text_json_str(b, s->agent->name);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p),
                          (long long)s->count[p]);
    for (int p = 0; !e && f->life && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "%s\"%s\":%lld", p ? "," : ",\"voided\":{",
                          ct_program_name((ct_program)p), (long long)s->voided[p]);
    if (!e && f->life) e = put(b, "}");
    return e ? e : put(b, "}");
}

/* ,"members":[every staff member],"days":[{day, net per program, steady per program}] */
static ct_err json_detail(ct_buf *b, const ct_status_figures *f, const ct_status_unit *u)
{
    ct_err e = put(b, ",\"members\":[");
    for (size_t i = 0; !e && i < u->n_members; i++) {
        if (i) e = put(b, ",");
        if (!e) e = json_staff(b, f, &u->members[i]);
    }
    if (!e) e = put(b, "],\"days\":[");
    for (size_t i = 0; !e && i < f->n_days; i++) {
        char ds[16];
        fmt_day(f->days[i].day, ds, sizeof ds);
        e = ct_buf_printf(b, "%s{\"day\":\"%s\"", i ? "," : "", ds);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p),
                              (long long)u->day_net[i][p]);
        if (!e) e = put(b, ",\"steady\":{");
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
            char t[32];
            ct_status_fmt_x10(u->day_steady_x10[i][p], t, sizeof t);
            e = ct_buf_printf(b, "%s\"%s\":%s", p ? "," : "", ct_program_name((ct_program)p), t);
        }
        if (!e) e = put(b, "}}");
    }
    if (!e) e = put(b, "]");
    if (!e && f->life) e = ct_status_life_json_days(b, f, (size_t)(u - f->districts));
    return e;
}

static ct_err json_programs(ct_buf *b, const int64_t net[CT_PROGRAM_COUNT])
{
    ct_err e = CT_OK;
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p), (long long)net[p]);
    return e;
}

/* ,"communes":[{code, name, net per program}],"commune_none":{net per program} */
static ct_err json_communes(ct_buf *b, const ct_status_unit *u)
{
    ct_err e = put(b, ",\"communes\":[");
    for (size_t i = 0; !e && i < u->n_communes; i++) {
        const ct_status_commune *m = &u->communes[i];
        e = ct_buf_printf(b, "%s{\"code\":%u,\"name\":", i ? "," : "", (unsigned)m->code);
        if (!e) e = ct_text_json_str(b, m->name);
        if (!e) e = json_programs(b, m->net);
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "],\"commune_none\":{");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "%s\"%s\":%lld", p ? "," : "", ct_program_name((ct_program)p),
                          (long long)u->commune_none[p]);
    return e ? e : put(b, "}");
}

static ct_err json_unit(ct_buf *b, const ct_status_figures *f, const ct_status_unit *u,
                        int is_province, unsigned flags)
{
    ct_err e = CT_OK;
    if (is_province)
        e = put(b, "{\"name\":");
    else
        e = ct_buf_printf(b, "{\"code\":%u,\"name\":", u->code);
    if (!e) e = ct_text_json_str(b, u->name);
    if (!e)
        e = ct_buf_printf(b, ",\"staff\":%u,\"staff_met_both\":%u,\"programs\":{", u->staff,
                          u->staff_met_both);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        const ct_status_prog *pr = &u->prog[p];
        e = ct_buf_printf(b, "%s\"%s\":{\"net\":%lld,\"target\":%lld,", p ? "," : "",
                          ct_program_name((ct_program)p), (long long)pr->net,
                          (long long)pr->target);
        if (!e) e = json_x10(b, "pct", pr->pct_x10);
        if (!e)
            e = ct_buf_printf(
                b, ",\"remaining\":%lld,\"gross\":%lld,\"cancelled\":%lld,\"repeats\":%lld,",
                (long long)pr->remaining, (long long)pr->gross, (long long)pr->cancelled,
                (long long)pr->repeats);
        if (!e) e = json_x10(b, "expected", pr->expected_x10);
        if (!e) e = put(b, ",");
        if (!e) e = json_x10(b, "required_daily", pr->required_daily_x10);
        if (!e) e = put(b, ",");
        if (!e) e = json_x10(b, "projection", pr->projection_x10);
        if (!e)
            e = ct_buf_printf(b, ",\"verdict\":\"%s\",\"staff_met\":%u",
                              ct_status_verdict_name(pr->verdict), pr->staff_met);
        if (!e && f->life)
            e = ct_status_life_json_prog(b, f,
                                         is_province ? (size_t)-1 : (size_t)(u - f->districts), p);
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "}");
    if (!e && u->n_communes) e = json_communes(b, u);
    if (!e && !is_province && (flags & CT_STATUS_STAFF)) {
        e = put(b, ",\"below_quota\":[");
        for (size_t i = 0; !e && i < u->n_below; i++) {
            if (i) e = put(b, ",");
            if (!e) e = json_staff(b, f, &u->below[i]);
        }
        if (!e) e = put(b, "]");
    }
    if (!e && !is_province && (flags & CT_STATUS_DETAIL)) e = json_detail(b, f, u);
    return e ? e : put(b, "}");
}

static ct_err render_json(const ct_campaign *c, const ct_status_figures *f,
                          const ct_status_position *pos, unsigned flags, ct_buf *b)
{
    char t_now[40], t_start[40], t_end[40], hx[65], t1[32], t2[32], t3[32];
    ct_time_format(pos->now_ms, c->tz_offset_min, t_now, sizeof t_now);
    ct_time_format(c->start_ms, c->tz_offset_min, t_start, sizeof t_start);
    ct_time_format(c->end_ms, c->tz_offset_min, t_end, sizeof t_end);
    ct_hash_hex(pos->head, hx);
    ct_status_fmt_x10(f->elapsed_days_x10, t1, sizeof t1);
    ct_status_fmt_x10(f->days_left_x10, t2, sizeof t2);
    ct_status_fmt_x10(f->span_days_x10, t3, sizeof t3);

    ct_err e = put(b, "{\"campaign\":");
    if (!e) e = ct_text_json_str(b, c->id);
    if (!e) e = put(b, ",\"name\":");
    if (!e) e = ct_text_json_str(b, c->name);
    if (!e)
        e = ct_buf_printf(
            b, ",\"as_of\":\"%s\",\"as_of_ms\":%lld,\"seq\":%llu,\"head\":\"%s\",\"feed\":", t_now,
            (long long)pos->now_ms, (unsigned long long)pos->seq, hx);
    if (!e) e = ct_text_json_str(b, feed_label(pos));
    if (!e)
        e = ct_buf_printf(
            b,
            ",\"phase\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"start_ms\":%lld,"
            "\"end_ms\":%lld,\"tz_offset_min\":%d,\"elapsed_days\":%s,\"days_left\":%s,"
            "\"span_days\":%s,\"agent_target\":{",
            ct_status_phase_name(f->phase), t_start, t_end, (long long)c->start_ms,
            (long long)c->end_ms, (int)c->tz_offset_min, t1, t2, t3);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "%s\"%s\":%lld", p ? "," : "", ct_program_name((ct_program)p),
                          (long long)f->agent_target[p]);
    if (!e) e = put(b, "},\"programs\":[");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s{\"id\":\"%s\",\"label\":", p ? "," : "",
                          ct_program_name((ct_program)p));
        if (!e) e = ct_text_json_str(b, ct_program_label((ct_program)p));
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "],\"province\":");
    if (!e) e = json_unit(b, f, &f->province, 1, flags);
    if (!e) e = put(b, ",\"districts\":[");
    for (size_t i = 0; !e && i < f->n_districts; i++) {
        if (i) e = put(b, ",");
        if (!e) e = json_unit(b, f, &f->districts[i], 0, flags);
    }
    if (!e) e = put(b, "],\"groups\":[");
    for (size_t i = 0; !e && i < f->n_groups; i++) {
        const ct_status_group *g = &f->groups[i];
        e = put(b, i ? ",{\"id\":" : "{\"id\":");
        if (!e) e = ct_text_json_str(b, g->id);
        if (!e) e = put(b, ",\"name\":");
        if (!e) e = ct_text_json_str(b, g->name);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p),
                              (long long)g->net[p]);
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "],\"days\":[");
    for (size_t i = 0; !e && i < f->n_days; i++) {
        const ct_status_day *d = &f->days[i];
        char ds[16];
        fmt_day(d->day, ds, sizeof ds);
        e = ct_buf_printf(b, "%s{\"day\":\"%s\"", i ? "," : "", ds);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p),
                              (long long)d->net[p]);
        if (!e) e = put(b, ",\"cum\":{");
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = ct_buf_printf(b, "%s\"%s\":%lld", p ? "," : "", ct_program_name((ct_program)p),
                              (long long)d->cum[p]);
        if (!e) e = put(b, "},\"steady\":{");
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
            char s[32];
            ct_status_fmt_x10(d->steady_x10[p], s, sizeof s);
            e = ct_buf_printf(b, "%s\"%s\":%s", p ? "," : "", ct_program_name((ct_program)p), s);
        }
        if (!e) e = put(b, "}}");
    }
    if (!e) e = put(b, "]");
    if (!e && f->life) e = ct_status_life_json(b, c, f);
    if (!e) e = put(b, "}\n");
    return e;
}

/* ---------------------------------------------------------------- CSV */

static ct_err csv_field(ct_buf *b, const char *s, int first)
{
    ct_err e = first ? CT_OK : put(b, ",");
    return e ? e : ct_text_csv_field(b, s);
}

static ct_err csv_row(ct_buf *b, const ct_status_unit *u, int is_province, int p,
                      const char *common_tail)
{
    char code[16], n[8][32];
    const ct_status_prog *pr = &u->prog[p];
    snprintf(code, sizeof code, "%u", u->code);
    ct_err e = csv_field(b, is_province ? "province" : "district", 1);
    if (!e) e = csv_field(b, is_province ? "" : code, 0);
    if (!e) e = csv_field(b, u->name, 0);
    if (!e) e = csv_field(b, ct_program_name((ct_program)p), 0);
    ct_status_fmt_x10(pr->pct_x10, n[0], sizeof n[0]);
    ct_status_fmt_x10(pr->expected_x10, n[1], sizeof n[1]);
    ct_status_fmt_x10(pr->required_daily_x10, n[2], sizeof n[2]);
    ct_status_fmt_x10(pr->projection_x10, n[3], sizeof n[3]);
    if (!e)
        e = ct_buf_printf(b, ",%lld,%lld,%s,%lld,%lld,%lld,%lld,%s,%s,%s,%s,%u,%u,%u",
                          (long long)pr->net, (long long)pr->target, n[0], (long long)pr->remaining,
                          (long long)pr->gross, (long long)pr->cancelled, (long long)pr->repeats,
                          n[1], n[2], n[3], ct_status_verdict_name(pr->verdict), u->staff,
                          pr->staff_met, u->staff_met_both);
    if (!e) e = put(b, common_tail);
    return e ? e : put(b, "\r\n");
}

/* The columns every CSV row ends with: [",PHASE"] ",NOW,SEQ,HEAD,FEED" (the
 * report's clock in the campaign's zone, the log position, the feed label as
 * a CSV field) into tail; phase NULL leaves that column out. */
static ct_err position_tail(const ct_campaign *c, const ct_status_position *pos, const char *phase,
                            char *tail, size_t cap)
{
    char t_now[40], hx[65];
    ct_time_format(pos->now_ms, c->tz_offset_min, t_now, sizeof t_now);
    ct_hash_hex(pos->head, hx);
    ct_buf fb = CT_BUF_INIT;
    ct_err e = csv_field(&fb, feed_label(pos), 1);
    if (!e) e = ct_buf_append(&fb, "", 1);
    if (!e)
        snprintf(tail, cap, "%s%s,%s,%llu,%s,%s", phase ? "," : "", phase ? phase : "", t_now,
                 (unsigned long long)pos->seq, hx, (const char *)fb.data);
    ct_buf_free(&fb);
    return e;
}

static ct_err render_csv(const ct_campaign *c, const ct_status_figures *f,
                         const ct_status_position *pos, ct_buf *b)
{
    char tail[256];
    ct_err e = position_tail(c, pos, ct_status_phase_name(f->phase), tail, sizeof tail);
    if (e) return e;
    e = put(b, "level,district_code,district_name,program,net,target,pct,remaining,gross,"
               "cancelled,repeats,expected,required_daily,projection,verdict,staff,staff_met,"
               "staff_met_both,phase,as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && i < f->n_districts; i++)
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = csv_row(b, &f->districts[i], 0, p, tail);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = csv_row(b, &f->province, 1, p, tail);
    return e;
}

/* One row per staff member: who, per program net/target/pct/met, both met,
 * then the position. */
static ct_err render_staff_csv(const ct_campaign *c, const ct_status_figures *f,
                               const ct_status_position *pos, ct_buf *b)
{
    char t_now[40], hx[65];
    ct_time_format(pos->now_ms, c->tz_offset_min, t_now, sizeof t_now);
    ct_hash_hex(pos->head, hx);
    ct_err e = put(b, "district_code,district_name,agent_id,agent_name");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        const char *pn = ct_program_name((ct_program)p);
        e = ct_buf_printf(b, ",%s_net,%s_target,%s_pct,%s_met", pn, pn, pn, pn);
    }
    if (!e) e = put(b, ",met_both,as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && i < f->n_districts; i++) {
        const ct_status_unit *u = &f->districts[i];
        for (size_t j = 0; !e && j < u->n_members; j++) {
            const ct_status_staff *s = &u->members[j];
            int both = 1;
            e = ct_buf_printf(b, "%u", u->code);
            if (!e) e = csv_field(b, u->name, 0);
            if (!e) e = csv_field(b, s->agent->id, 0);
            if (!e) e = csv_field(b, s->agent->name, 0);
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
                char pct[32];
                int met = s->count[p] >= f->agent_target[p];
                both = both && met;
                ct_status_fmt_x10(s->pct_x10[p], pct, sizeof pct);
                e = ct_buf_printf(b, ",%lld,%lld,%s,%d", (long long)s->count[p],
                                  (long long)f->agent_target[p], pct, met);
            }
            if (!e)
                e = ct_buf_printf(b, ",%d,%s,%llu,%s,", both, t_now, (unsigned long long)pos->seq,
                                  hx);
            if (!e) e = ct_text_csv_field(b, feed_label(pos));
            if (!e) e = put(b, "\r\n");
        }
    }
    return e;
}

/* One row per commune of each listing unit (and its code-0 row): both
 * programs' net, then the position. */
static ct_err commune_csv_row(ct_buf *b, const ct_status_unit *u, unsigned code, const char *name,
                              const int64_t net[CT_PROGRAM_COUNT], const char *tail)
{
    ct_err e = ct_buf_printf(b, "%u", u->code);
    if (!e) e = csv_field(b, u->name, 0);
    if (!e) e = ct_buf_printf(b, ",%u", code);
    if (!e) e = csv_field(b, name, 0);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",%lld", (long long)net[p]);
    if (!e) e = put(b, tail);
    return e ? e : put(b, "\r\n");
}

static ct_err render_commune_csv(const ct_campaign *c, const ct_status_figures *f,
                                 const ct_status_position *pos, ct_buf *b)
{
    char tail[256];
    ct_err e = position_tail(c, pos, NULL, tail, sizeof tail);
    if (!e) e = put(b, "district_code,district_name,commune_code,commune_name");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, ",%s_net", ct_program_name((ct_program)p));
    if (!e) e = put(b, ",as_of,seq,head,feed\r\n");
    for (size_t i = 0; !e && i < f->n_districts; i++) {
        const ct_status_unit *u = &f->districts[i];
        for (size_t j = 0; !e && j < u->n_communes; j++)
            e = commune_csv_row(b, u, u->communes[j].code, u->communes[j].name, u->communes[j].net,
                                tail);
        if (!e && u->n_communes) e = commune_csv_row(b, u, 0, "", u->commune_none, tail);
    }
    return e;
}

/* ---------------------------------------------------------------- table */

static void x10s(int64_t v, char *buf)
{
    ct_status_fmt_x10(v, buf, 24);
}

static void prog_row(ct_table *t, const char *code, const char *name, const ct_status_unit *u,
                     int p)
{
    const ct_status_prog *pr = &u->prog[p];
    char n[12][24];
    snprintf(n[0], 24, "%lld", (long long)pr->net);
    snprintf(n[1], 24, "%lld", (long long)pr->target);
    x10s(pr->pct_x10, n[2]);
    snprintf(n[3], 24, "%lld", (long long)pr->remaining);
    snprintf(n[4], 24, "%lld", (long long)pr->gross);
    snprintf(n[5], 24, "%lld", (long long)pr->cancelled);
    snprintf(n[6], 24, "%lld", (long long)pr->repeats);
    x10s(pr->expected_x10, n[7]);
    x10s(pr->required_daily_x10, n[8]);
    x10s(pr->projection_x10, n[9]);
    snprintf(n[10], 24, "%u/%u", pr->staff_met, u->staff);
    ct_table_row(t, code, name, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9],
                 ct_status_verdict_name(pr->verdict), n[10]);
}

static ct_err render_table(const ct_campaign *c, const ct_status_figures *f,
                           const ct_status_position *pos, unsigned flags, ct_buf *b)
{
    char t_now[40], t_start[40], t_end[40], hx[65], a[24], l[24], s[24];
    ct_time_format(pos->now_ms, c->tz_offset_min, t_now, sizeof t_now);
    ct_time_format(c->start_ms, c->tz_offset_min, t_start, sizeof t_start);
    ct_time_format(c->end_ms, c->tz_offset_min, t_end, sizeof t_end);
    ct_hash_hex(pos->head, hx);
    x10s(f->elapsed_days_x10, a);
    x10s(f->days_left_x10, l);
    x10s(f->span_days_x10, s);

    ct_err e = ct_buf_printf(b, "%s (%s)\n", c->name, c->id);
    if (!e) e = ct_buf_printf(b, "Window: %s .. %s\n", t_start, t_end);
    if (!e) {
        const char *ph = f->phase == CT_PHASE_NOT_STARTED ? "NOT STARTED"
                         : f->phase == CT_PHASE_FINAL     ? "FINAL"
                                                          : "RUNNING";
        e = ct_buf_printf(b, "As of %s: %s, day %s of %s elapsed, %s days left\n", t_now, ph, a, s,
                          l);
    }
    if (!e)
        e = ct_buf_printf(b, "Log position: seq %llu, chain head %s; feed %s\n",
                          (unsigned long long)pos->seq, hx, feed_label(pos));

    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "\n%s (%s): personal quota %lld per staff member\n",
                          ct_program_label((ct_program)p), ct_program_name((ct_program)p),
                          (long long)f->agent_target[p]);
        if (e) break;
        ct_table t;
        ct_table_init(&t, "llrrrrrrrrrrlr");
        ct_table_row(&t, "Code", "District", "Net", "Target", "%", "Left", "Gross", "Canc.", "Rep.",
                     "Expected", "Need/day", "Proj.", "Verdict", "Staff met");
        ct_table_rule(&t);
        for (size_t i = 0; i < f->n_districts; i++) {
            char code[16];
            snprintf(code, sizeof code, "%u", f->districts[i].code);
            prog_row(&t, code, f->districts[i].name, &f->districts[i], p);
        }
        ct_table_rule(&t);
        prog_row(&t, "", f->province.name, &f->province, p);
        e = ct_table_render(&t, b);
        ct_table_free(&t);
    }

    if (!e) {
        e = put(b, "\nStaff who met their personal quota\n");
        ct_table t;
        ct_table_init(&t, "llrrrr");
        char h[CT_PROGRAM_COUNT][40];
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            snprintf(h[p], sizeof h[p], "%s>=%lld", ct_program_name((ct_program)p),
                     (long long)f->agent_target[p]);
        ct_table_row(&t, "Code", "District", "Staff", h[0], h[1], "Both");
        ct_table_rule(&t);
        for (size_t i = 0; i <= f->n_districts; i++) {
            const ct_status_unit *u = i < f->n_districts ? &f->districts[i] : &f->province;
            char code[16] = "", n[4][24];
            if (i < f->n_districts)
                snprintf(code, sizeof code, "%u", u->code);
            else
                ct_table_rule(&t);
            snprintf(n[0], 24, "%u", u->staff);
            snprintf(n[1], 24, "%u", u->prog[0].staff_met);
            snprintf(n[2], 24, "%u", u->prog[1].staff_met);
            snprintf(n[3], 24, "%u", u->staff_met_both);
            ct_table_row(&t, code, u->name, n[0], n[1], n[2], n[3]);
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
    }

    if (!e && f->n_groups) {
        e = put(b, "\nSubsidy groups (net participants)\n");
        ct_table t;
        ct_table_init(&t, "llrr");
        ct_table_row(&t, "Group", "Name", ct_program_name(CT_PROGRAM_BHXH_TN),
                     ct_program_name(CT_PROGRAM_BHYT_HGD));
        ct_table_rule(&t);
        for (size_t i = 0; i < f->n_groups; i++) {
            char n[2][24];
            snprintf(n[0], 24, "%lld", (long long)f->groups[i].net[0]);
            snprintf(n[1], 24, "%lld", (long long)f->groups[i].net[1]);
            ct_table_row(&t, f->groups[i].id, f->groups[i].name, n[0], n[1]);
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
    }

    if (!e) {
        e = put(b, "\nSign-ups per campaign day (province, net; cumulative vs steady pace)\n");
        ct_table t;
        ct_table_init(&t, "lrrrrrr");
        char h[6][48];
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            const char *pn = ct_program_name((ct_program)p);
            snprintf(h[3 * p], sizeof h[0], "%s", pn);
            snprintf(h[3 * p + 1], sizeof h[0], "cum.");
            snprintf(h[3 * p + 2], sizeof h[0], "steady");
        }
        ct_table_row(&t, "Day", h[0], h[1], h[2], h[3], h[4], h[5]);
        ct_table_rule(&t);
        for (size_t i = 0; i < f->n_days; i++) {
            const ct_status_day *d = &f->days[i];
            char ds[16], n[6][24];
            fmt_day(d->day, ds, sizeof ds);
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                snprintf(n[3 * p], 24, "%lld", (long long)d->net[p]);
                snprintf(n[3 * p + 1], 24, "%lld", (long long)d->cum[p]);
                x10s(d->steady_x10[p], n[3 * p + 2]);
            }
            ct_table_row(&t, ds, n[0], n[1], n[2], n[3], n[4], n[5]);
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
    }

    if (!e && (flags & CT_STATUS_STAFF)) {
        size_t total = 0;
        for (size_t i = 0; i < f->n_districts; i++)
            total += f->districts[i].n_below;
        e = ct_buf_printf(b, "\nStaff below their personal quota: %zu\n", total);
        ct_table t;
        ct_table_init(&t, "lllrr");
        ct_table_row(&t, "Code", "Agent", "Name", ct_program_name(CT_PROGRAM_BHXH_TN),
                     ct_program_name(CT_PROGRAM_BHYT_HGD));
        ct_table_rule(&t);
        for (size_t i = 0; i < f->n_districts; i++) {
            const ct_status_unit *u = &f->districts[i];
            char code[16];
            snprintf(code, sizeof code, "%u", u->code);
            for (size_t j = 0; j < u->n_below; j++) {
                char n[2][24];
                snprintf(n[0], 24, "%lld", (long long)u->below[j].count[0]);
                snprintf(n[1], 24, "%lld", (long long)u->below[j].count[1]);
                ct_table_row(&t, code, u->below[j].agent->id, u->below[j].agent->name, n[0], n[1]);
            }
        }
        if (!e) e = ct_table_render(&t, b);
        ct_table_free(&t);
    }
    if (!e && f->life) e = ct_status_life_table(b, c, f, flags);
    return e;
}

/* The life CSVs (ct_status_life.h): their position columns, then the rows. */
static ct_err render_life_csv(const ct_campaign *c, const ct_status_figures *f,
                              const ct_status_position *pos, ct_status_format fmt, ct_buf *b)
{
    char tail[256];
    ct_err e = position_tail(c, pos, NULL, tail, sizeof tail);
    return e ? e : ct_status_life_csv(b, c, f, fmt, tail);
}

/* ---------------------------------------------------------------- entry points */

ct_err ct_status_render_figures(const ct_campaign *c, const ct_status_figures *f,
                                const ct_status_position *pos, ct_status_format fmt, unsigned flags,
                                ct_buf *out)
{
    if (!c || !f || !pos || !out) return CT_ERR_ARG;
    switch (fmt) {
    case CT_FMT_TABLE:
        return render_table(c, f, pos, flags, out);
    case CT_FMT_JSON:
        return render_json(c, f, pos, flags, out);
    case CT_FMT_CSV:
        return render_csv(c, f, pos, out);
    case CT_FMT_STAFF_CSV:
        return render_staff_csv(c, f, pos, out);
    case CT_FMT_COMMUNE_CSV:
        return render_commune_csv(c, f, pos, out);
    case CT_FMT_CHANGES_CSV:
    case CT_FMT_DAYS_CSV:
    case CT_FMT_LATE_CSV:
    case CT_FMT_RANKING_CSV:
        return render_life_csv(c, f, pos, fmt, out);
    }
    return CT_ERR_ARG;
}

ct_err ct_status_render(const ct_campaign *c, const ct_counts *counts,
                        const ct_status_position *pos, ct_status_format fmt, unsigned flags,
                        ct_buf *out)
{
    if (!c || !counts || !pos || !out) return CT_ERR_ARG;
    ct_status_figures f;
    ct_err e = ct_status_compute(c, counts, pos->now_ms, &f);
    if (e) return e;
    e = ct_status_render_figures(c, &f, pos, fmt, flags, out);
    ct_status_figures_free(&f);
    return e;
}
