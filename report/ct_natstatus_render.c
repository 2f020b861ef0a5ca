/* ct_natstatus_render.c — the national report's renderings (see
 * ct_natstatus.h): a terminal table, one JSON line, CSV. Strings go through
 * base/ct_text; tables through report/ct_table.
 *
 * Invariants: pure (no clock reads, no I/O); everything printed comes from
 * the figures and the national file, so equal inputs render equal bytes
 * (chitieu-audit national-replay relies on it). On error the buffer may hold
 * a partial report (the caller discards it).
 */
#include "ct_natstatus.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_logrec.h"
#include "ct_table.h"
#include "ct_text.h"
#include "ct_time.h"

static ct_err put(ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

static void x10(int64_t v, char *buf)
{
    ct_status_fmt_x10(v, buf, 24);
}

/* ---------------------------------------------------------------- JSON */

/* "prog":{net,target,pct,remaining,gross,cancelled,repeats,expected,
 * required_daily,projection,verdict,staff_met[,rank]} */
static ct_err json_prog(ct_buf *b, int p, const ct_status_prog *pr, int64_t rank, int64_t tsum)
{
    char t[4][24];
    x10(pr->pct_x10, t[0]);
    x10(pr->expected_x10, t[1]);
    x10(pr->required_daily_x10, t[2]);
    x10(pr->projection_x10, t[3]);
    ct_err e = ct_buf_printf(
        b,
        "%s\"%s\":{\"net\":%lld,\"target\":%lld,\"pct\":%s,\"remaining\":%lld,\"gross\":%lld,"
        "\"cancelled\":%lld,\"repeats\":%lld,\"expected\":%s,\"required_daily\":%s,"
        "\"projection\":%s,\"verdict\":\"%s\",\"staff_met\":%u",
        p ? "," : "", ct_program_name((ct_program)p), (long long)pr->net, (long long)pr->target,
        t[0], (long long)pr->remaining, (long long)pr->gross, (long long)pr->cancelled,
        (long long)pr->repeats, t[1], t[2], t[3], ct_status_verdict_name(pr->verdict),
        pr->staff_met);
    if (!e && rank >= 0) e = ct_buf_printf(b, ",\"rank\":%lld", (long long)rank);
    if (!e && tsum >= 0) e = ct_buf_printf(b, ",\"province_target_sum\":%lld", (long long)tsum);
    return e ? e : put(b, "}");
}

static ct_err json_province(ct_buf *b, const ct_national *n, const ct_natstatus *s,
                            const ct_natstatus_prov *pv, unsigned flags)
{
    const ct_campaign *c = &pv->p->campaign;
    char hx[65], fp[65];
    ct_hash_hex(pv->head, hx);
    ct_hash_hex(c->fingerprint, fp);
    ct_err e = ct_buf_printf(b, "{\"code\":%u,\"name\":", pv->p->code);
    if (!e) e = ct_text_json_str(b, pv->p->name);
    if (!e) e = put(b, ",\"campaign\":");
    if (!e) e = ct_text_json_str(b, c->id);
    if (!e)
        e = ct_buf_printf(b,
                          ",\"fingerprint\":\"%s\",\"seq\":%" PRIu64
                          ",\"head\":\"%s\",\"feed\":\"%s\",\"age_ms\":%lld,\"figures\":%s",
                          fp, pv->seq, hx, pv->feed, (long long)pv->age_ms,
                          pv->has ? "true" : "false");
    if (!e && pv->has) {
        const ct_status_unit *u = &pv->f.province;
        e = ct_buf_printf(b, ",\"phase\":\"%s\",\"staff\":%u,\"staff_met_both\":%u,\"programs\":{",
                          ct_status_phase_name(pv->f.phase), u->staff, u->staff_met_both);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = json_prog(b, p, &u->prog[p], pv->rank[p], -1);
        if (!e) e = put(b, "},\"districts\":[");
        for (size_t i = 0; !e && i < pv->f.n_districts; i++) {
            const ct_status_unit *d = &pv->f.districts[i];
            e = ct_buf_printf(b, "%s{\"code\":%u,\"name\":", i ? "," : "", d->code);
            if (!e) e = ct_text_json_str(b, d->name);
            if (!e) e = ct_buf_printf(b, ",\"staff\":%u,\"programs\":{", d->staff);
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
                char pct[24];
                x10(d->prog[p].pct_x10, pct);
                e = ct_buf_printf(b, "%s\"%s\":{\"net\":%lld,\"target\":%lld,\"pct\":%s}",
                                  p ? "," : "", ct_program_name((ct_program)p),
                                  (long long)d->prog[p].net, (long long)d->prog[p].target, pct);
            }
            if (!e) e = put(b, "}}");
        }
        if (!e) e = put(b, "]");
        if (!e && (flags & CT_NAT_DETAIL)) {
            /* the provincial report as the provincial page's (every staff member
             * and day per unit) */
            ct_status_position pos = {.seq = pv->seq, .now_ms = s->clock.now_ms, .feed = pv->feed};
            memcpy(pos.head, pv->head, sizeof pos.head);
            e = put(b, ",\"report\":");
            size_t at = b->len;
            if (!e) e = ct_status_render_figures(c, &pv->f, &pos, CT_FMT_JSON, CT_STATUS_DETAIL, b);
            if (!e && b->len > at && b->data[b->len - 1] == '\n') b->len--;
        }
    }
    (void)n;
    return e ? e : put(b, "}");
}

static ct_err render_json(const ct_national *n, const ct_natstatus *s, unsigned flags, ct_buf *b)
{
    char t_now[40], t_start[40], t_end[40], d[3][24];
    ct_time_format(s->clock.now_ms, n->tz_offset_min, t_now, sizeof t_now);
    ct_time_format(n->start_ms, n->tz_offset_min, t_start, sizeof t_start);
    ct_time_format(n->end_ms, n->tz_offset_min, t_end, sizeof t_end);
    x10(s->clock.elapsed_days_x10, d[0]);
    x10(s->clock.days_left_x10, d[1]);
    x10(s->clock.span_days_x10, d[2]);
    ct_err e = put(b, "{\"national\":");
    if (!e) e = ct_text_json_str(b, n->id);
    if (!e) e = put(b, ",\"name\":");
    if (!e) e = ct_text_json_str(b, n->name);
    if (!e)
        e = ct_buf_printf(b, ",\"as_of\":\"%s\",\"as_of_ms\":%lld,\"pins\":\"", t_now,
                          (long long)s->clock.now_ms);
    if (!e) e = ct_natstatus_pins(s, b);
    if (!e)
        e = ct_buf_printf(
            b,
            "\",\"phase\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"elapsed_days\":%s,"
            "\"days_left\":%s,\"span_days\":%s,\"provinces_included\":%zu,\"provinces_total\":%zu,"
            "\"programs\":[",
            ct_status_phase_name(s->clock.phase), t_start, t_end, d[0], d[1], d[2], s->n_included,
            s->n_provs);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s{\"id\":\"%s\",\"label\":", p ? "," : "",
                          ct_program_name((ct_program)p));
        if (!e) e = ct_text_json_str(b, ct_program_label((ct_program)p));
        if (!e) e = put(b, "}");
    }
    if (!e)
        e = ct_buf_printf(b, "],\"totals\":{\"staff\":%u,\"staff_met_both\":%u,\"programs\":{",
                          s->staff, s->staff_met_both);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = json_prog(b, p, &s->total[p], -1, s->province_target_sum[p]);
    if (!e) e = put(b, "}},\"rankings\":{");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s\"%s\":[", p ? "," : "", ct_program_name((ct_program)p));
        size_t k = 0;
        for (size_t i = 0; !e && i < s->n_provs; i++) {
            const ct_natstatus_prov *pv = &s->provs[s->order[p][i]];
            if (!pv->has) continue;
            e = ct_buf_printf(b, "%s%u", k++ ? "," : "", pv->p->code);
        }
        if (!e) e = put(b, "]");
    }
    if (!e) e = put(b, "},\"provinces\":[");
    for (size_t i = 0; !e && i < s->n_provs; i++) {
        if (i) e = put(b, ",");
        if (!e) e = json_province(b, n, s, &s->provs[i], flags);
    }
    return e ? e : put(b, "]}\n");
}

/* ---------------------------------------------------------------- CSV */

static ct_err csv_field(ct_buf *b, const char *s, int first)
{
    ct_err e = first ? CT_OK : put(b, ",");
    return e ? e : ct_text_csv_field(b, s);
}

/* level,province_code,province_name,unit_code,unit_name,program,net,target,pct,
 * remaining,expected,required_daily,projection,verdict,rank,staff,staff_met,
 * feed,age_ms,as_of,seq,head */
static ct_err csv_row(ct_buf *b, const char *level, const ct_natstatus_prov *pv,
                      const ct_status_unit *u, int p, const ct_status_prog *pr, uint32_t staff,
                      const char *as_of, const char *fallback_name)
{
    char code[16] = "", ucode[16] = "", n[4][24], hx[65] = "";
    if (pv) snprintf(code, sizeof code, "%u", pv->p->code);
    if (u && u->code) snprintf(ucode, sizeof ucode, "%u", u->code);
    ct_err e = csv_field(b, level, 1);
    if (!e) e = csv_field(b, code, 0);
    if (!e) e = csv_field(b, pv ? pv->p->name : fallback_name, 0);
    if (!e) e = csv_field(b, ucode, 0);
    if (!e) e = csv_field(b, u && u->code ? u->name : "", 0);
    if (!e) e = csv_field(b, ct_program_name((ct_program)p), 0);
    x10(pr->pct_x10, n[0]);
    x10(pr->expected_x10, n[1]);
    x10(pr->required_daily_x10, n[2]);
    x10(pr->projection_x10, n[3]);
    char rank[16] = "";
    if (pv && !(u && u->code) && pv->rank[p]) snprintf(rank, sizeof rank, "%u", pv->rank[p]);
    if (!e)
        e = ct_buf_printf(b, ",%lld,%lld,%s,%lld,%s,%s,%s,%s,%s,%u,%u", (long long)pr->net,
                          (long long)pr->target, n[0], (long long)pr->remaining, n[1], n[2], n[3],
                          ct_status_verdict_name(pr->verdict), rank, staff, pr->staff_met);
    if (pv) ct_hash_hex(pv->head, hx);
    if (!e && pv)
        e = ct_buf_printf(b, ",%s,%lld,%s,%" PRIu64 ",%s\r\n", pv->feed, (long long)pv->age_ms,
                          as_of, pv->seq, hx);
    else if (!e)
        e = ct_buf_printf(b, ",,,%s,,\r\n", as_of);
    return e;
}

static ct_err render_csv(const ct_national *n, const ct_natstatus *s, ct_buf *b)
{
    char t_now[40];
    ct_time_format(s->clock.now_ms, n->tz_offset_min, t_now, sizeof t_now);
    ct_err e = put(b, "level,province_code,province_name,unit_code,unit_name,program,net,target,"
                      "pct,remaining,expected,required_daily,projection,verdict,rank,staff,"
                      "staff_met,feed,age_ms,as_of,seq,head\r\n");
    for (size_t i = 0; !e && i < s->n_provs; i++) {
        const ct_natstatus_prov *pv = &s->provs[i];
        if (!pv->has) continue;
        for (size_t j = 0; !e && j < pv->f.n_districts; j++)
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
                e = csv_row(b, "unit", pv, &pv->f.districts[j], p, &pv->f.districts[j].prog[p],
                            pv->f.districts[j].staff, t_now, NULL);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
            e = csv_row(b, "province", pv, NULL, p, &pv->f.province.prog[p], pv->f.province.staff,
                        t_now, NULL);
    }
    char label[64];
    snprintf(label, sizeof label, "%zu/%zu provinces", s->n_included, s->n_provs);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = csv_row(b, "national", NULL, NULL, p, &s->total[p], s->staff, t_now, label);
    /* the pins (no comma in them), the other columns empty */
    if (!e) e = put(b, "pins,,");
    if (!e) e = ct_natstatus_pins(s, b);
    if (!e) e = put(b, ",,,,,,,,,,,,,,,,,,,\r\n");
    return e;
}

/* ---------------------------------------------------------------- table */

static void age_str(int64_t age_ms, char *buf)
{
    if (age_ms < 0) {
        snprintf(buf, 24, "-");
        return;
    }
    x10((age_ms + 50) / 100, buf);
    size_t l = strlen(buf);
    if (l + 3 <= 24) memcpy(buf + l, " s", 3);
}

static void prov_row(ct_table *t, const ct_natstatus_prov *pv, int p)
{
    char rank[16] = "", code[16], n[8][24], hx[65], seq[24];
    snprintf(code, sizeof code, "%u", pv->p->code);
    ct_hash_hex(pv->head, hx);
    hx[16] = '\0';
    snprintf(seq, sizeof seq, "%" PRIu64, pv->seq);
    age_str(pv->age_ms, n[7]);
    if (!pv->has) {
        ct_table_row(t, "", code, pv->p->name, "-", "-", "-", "-", "-", "-", "-", pv->feed, n[7],
                     seq, hx);
        return;
    }
    const ct_status_prog *pr = &pv->f.province.prog[p];
    snprintf(rank, sizeof rank, "%u", pv->rank[p]);
    snprintf(n[0], 24, "%lld", (long long)pr->net);
    snprintf(n[1], 24, "%lld", (long long)pr->target);
    x10(pr->pct_x10, n[2]);
    x10(pr->expected_x10, n[3]);
    x10(pr->projection_x10, n[4]);
    snprintf(n[5], 24, "%u/%u", pr->staff_met, pv->f.province.staff);
    ct_table_row(t, rank, code, pv->p->name, n[0], n[1], n[2], n[3], n[4],
                 ct_status_verdict_name(pr->verdict), n[5], pv->feed, n[7], seq, hx);
}

static ct_err render_table(const ct_national *n, const ct_natstatus *s, ct_buf *b)
{
    char t_now[40], t_start[40], t_end[40], d[3][24];
    ct_time_format(s->clock.now_ms, n->tz_offset_min, t_now, sizeof t_now);
    ct_time_format(n->start_ms, n->tz_offset_min, t_start, sizeof t_start);
    ct_time_format(n->end_ms, n->tz_offset_min, t_end, sizeof t_end);
    x10(s->clock.elapsed_days_x10, d[0]);
    x10(s->clock.days_left_x10, d[1]);
    x10(s->clock.span_days_x10, d[2]);
    const char *ph = s->clock.phase == CT_PHASE_NOT_STARTED ? "NOT STARTED"
                     : s->clock.phase == CT_PHASE_FINAL     ? "FINAL"
                                                            : "RUNNING";
    ct_err e = ct_buf_printf(b, "%s (%s)\nWindow: %s .. %s\n", n->name, n->id, t_start, t_end);
    if (!e)
        e = ct_buf_printf(b, "As of %s: %s, day %s of %s elapsed, %s days left\n", t_now, ph, d[0],
                          d[2], d[1]);
    if (!e)
        e = ct_buf_printf(b, "Provinces with figures: %zu of %zu\nPins: ", s->n_included,
                          s->n_provs);
    if (!e) e = ct_natstatus_pins(s, b);
    if (!e) e = put(b, "\n");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b,
                          "\n%s (%s): national target %lld (provinces' own targets: %lld), "
                          "ranked by attainment\n",
                          ct_program_label((ct_program)p), ct_program_name((ct_program)p),
                          (long long)s->total[p].target, (long long)s->province_target_sum[p]);
        if (e) break;
        ct_table t;
        ct_table_init(&t, "rrlrrrrrlrlrrl");
        ct_table_row(&t, "Rank", "Code", "Province", "Net", "Target", "%", "Expected", "Proj.",
                     "Verdict", "Staff met", "Feed", "Age", "Seq", "Head");
        ct_table_rule(&t);
        for (size_t i = 0; i < s->n_provs; i++)
            prov_row(&t, &s->provs[s->order[p][i]], p);
        ct_table_rule(&t);
        const ct_status_prog *pr = &s->total[p];
        char name[64], n2[6][24];
        snprintf(name, sizeof name, "Toàn quốc (%zu/%zu)", s->n_included, s->n_provs);
        snprintf(n2[0], 24, "%lld", (long long)pr->net);
        snprintf(n2[1], 24, "%lld", (long long)pr->target);
        x10(pr->pct_x10, n2[2]);
        x10(pr->expected_x10, n2[3]);
        x10(pr->projection_x10, n2[4]);
        snprintf(n2[5], 24, "%u/%u", pr->staff_met, s->staff);
        ct_table_row(&t, "", "", name, n2[0], n2[1], n2[2], n2[3], n2[4],
                     ct_status_verdict_name(pr->verdict), n2[5], "", "", "", "");
        e = ct_table_render(&t, b);
        ct_table_free(&t);
    }
    return e;
}

ct_err ct_natstatus_render(const ct_national *n, const ct_natstatus *s, ct_natstatus_format fmt,
                           unsigned flags, ct_buf *out)
{
    if (!n || !s || !out) return CT_ERR_ARG;
    switch (fmt) {
    case CT_NAT_TABLE:
        return render_table(n, s, out);
    case CT_NAT_JSON:
        return render_json(n, s, flags, out);
    case CT_NAT_CSV:
        return render_csv(n, s, out);
    }
    return CT_ERR_ARG;
}
