/* ct_status.c — the quota status report (see ct_status.h): figures computed
 * from a counter table and a clock, rendered as a terminal table, one JSON
 * line or CSV.
 *
 * Invariants: pure (no clock reads, no I/O, no globals); integer arithmetic
 * only (every ratio is computed as an exact rational and rounded half away
 * from zero to one decimal), so the live reporter and the audit replay render
 * the same bytes from the same (campaign, counts, position). Every renderer
 * appends to the caller's buffer; on error the buffer may hold a partial
 * report (the caller discards it).
 */
#include "ct_status.h"

#include "ct_logrec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_time.h"

#define DAY_MS 86400000LL
#define PROVINCE_NAME "Toàn tỉnh"

/* ---------------------------------------------------------------- arithmetic */

/* round(a * b / d) half away from zero; d > 0. Exact for the magnitudes
 * used here (128-bit intermediate where available). */
static int64_t muldiv_round(int64_t a, int64_t b, int64_t d)
{
#ifdef __SIZEOF_INT128__
    __int128 n = (__int128)a * b;
    int neg = n < 0;
    if (neg) n = -n;
    __int128 q = (2 * n + d) / (2 * (__int128)d);
    return (int64_t)(neg ? -q : q);
#else
    long double n = (long double)a * (long double)b / (long double)d;
    return (int64_t)(n < 0 ? n - 0.5L : n + 0.5L);
#endif
}

/* a * b >= c * d, exactly. */
static int prod_ge(int64_t a, int64_t b, int64_t c, int64_t d)
{
#ifdef __SIZEOF_INT128__
    return (__int128)a * b >= (__int128)c * d;
#else
    return (long double)a * (long double)b >= (long double)c * (long double)d;
#endif
}

void ct_status_fmt_x10(int64_t v, char *buf, size_t len)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(buf, len, "%s%llu.%llu", v < 0 ? "-" : "", (unsigned long long)(m / 10),
             (unsigned long long)(m % 10));
}

const char *ct_status_phase_name(ct_status_phase p)
{
    switch (p) {
    case CT_PHASE_NOT_STARTED:
        return "not_started";
    case CT_PHASE_RUNNING:
        return "running";
    case CT_PHASE_FINAL:
        return "final";
    }
    return "unknown";
}

const char *ct_status_verdict_name(ct_status_verdict v)
{
    switch (v) {
    case CT_VERDICT_NOT_STARTED:
        return "not_started";
    case CT_VERDICT_REACHED:
        return "reached";
    case CT_VERDICT_ON_TRACK:
        return "on_track";
    case CT_VERDICT_AT_RISK:
        return "at_risk";
    case CT_VERDICT_MISSED:
        return "missed";
    }
    return "unknown";
}

ct_err ct_status_format_parse(const char *s, ct_status_format *out)
{
    if (!s) return CT_ERR_ARG;
    if (strcmp(s, "table") == 0)
        *out = CT_FMT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = CT_FMT_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = CT_FMT_CSV;
    else
        return CT_ERR_ARG;
    return CT_OK;
}

/* ---------------------------------------------------------------- display width */

static int is_zero_width(uint32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x200B ||
           cp == 0x200C || cp == 0x200D || cp == 0xFEFF;
}

static int is_wide(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
           (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t ct_status_display_width(const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t w = 0, i = 0;
    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp;
        size_t k;
        if (b < 0x80) {
            cp = b;
            k = 1;
        } else if ((b & 0xE0) == 0xC0) {
            cp = b & 0x1Fu;
            k = 2;
        } else if ((b & 0xF0) == 0xE0) {
            cp = b & 0x0Fu;
            k = 3;
        } else if ((b & 0xF8) == 0xF0) {
            cp = b & 0x07u;
            k = 4;
        } else {
            w++;
            i++;
            continue;
        }
        if (i + k > n) {
            w++;
            i++;
            continue;
        }
        size_t j;
        for (j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) break;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if (j < k) {
            w++;
            i++;
            continue;
        }
        i += k;
        if (is_zero_width(cp)) continue;
        w += is_wide(cp) ? 2 : 1;
    }
    return w;
}

/* ---------------------------------------------------------------- figures */

static void prog_figures(ct_status_prog *pr, const ct_status_figures *f)
{
    pr->remaining = pr->target > pr->net ? pr->target - pr->net : 0;
    pr->pct_x10 = pr->target > 0 ? muldiv_round(pr->net, 1000, pr->target) : 1000;
    pr->expected_x10 = muldiv_round(pr->target * 10, f->elapsed_ms, f->span_ms);
    switch (f->phase) {
    case CT_PHASE_NOT_STARTED:
        pr->required_daily_x10 = muldiv_round(pr->remaining * 10, DAY_MS, f->span_ms);
        pr->projection_x10 = pr->net * 10;
        pr->verdict = CT_VERDICT_NOT_STARTED;
        break;
    case CT_PHASE_RUNNING:
        pr->required_daily_x10 =
            f->left_ms > 0 ? muldiv_round(pr->remaining * 10, DAY_MS, f->left_ms) : 0;
        pr->projection_x10 = muldiv_round(pr->net * 10, f->span_ms, f->elapsed_ms);
        if (pr->net >= pr->target)
            pr->verdict = CT_VERDICT_REACHED;
        else if (prod_ge(pr->net, f->span_ms, pr->target, f->elapsed_ms))
            pr->verdict = CT_VERDICT_ON_TRACK;
        else
            pr->verdict = CT_VERDICT_AT_RISK;
        break;
    case CT_PHASE_FINAL:
        pr->required_daily_x10 = 0;
        pr->projection_x10 = pr->net * 10;
        pr->verdict = pr->net >= pr->target ? CT_VERDICT_REACHED : CT_VERDICT_MISSED;
        break;
    }
}

static int64_t get_plain(const ct_counts *counts, ct_count_kind kind, ct_program p, uint32_t d)
{
    ct_count_key k = ct_count_key_make(kind, p, d, NULL, 0);
    return ct_counts_get(counts, &k);
}

static int cmp_day(const void *a, const void *b)
{
    uint32_t x = ((const ct_status_day *)a)->day, y = ((const ct_status_day *)b)->day;
    return x < y ? -1 : x > y;
}

static ct_status_day *find_day(ct_status_figures *f, uint32_t day)
{
    for (size_t i = 0; i < f->n_days; i++)
        if (f->days[i].day == day) return &f->days[i];
    return NULL;
}

static ct_err push_day(ct_status_figures *f, size_t *cap, uint32_t day)
{
    if (f->n_days == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        ct_status_day *p = realloc(f->days, nc * sizeof *p);
        if (!p) return CT_ERR_NOMEM;
        f->days = p;
        *cap = nc;
    }
    memset(&f->days[f->n_days], 0, sizeof f->days[0]);
    f->days[f->n_days++].day = day;
    return CT_OK;
}

static ct_err push_group(ct_status_figures *f, size_t *cap, const char *id, size_t idlen,
                         const char *name)
{
    if (f->n_groups == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        ct_status_group *p = realloc(f->groups, nc * sizeof *p);
        if (!p) return CT_ERR_NOMEM;
        f->groups = p;
        *cap = nc;
    }
    ct_status_group *g = &f->groups[f->n_groups++];
    memset(g, 0, sizeof *g);
    if (idlen > CT_GROUP_MAX) idlen = CT_GROUP_MAX;
    memcpy(g->id, id, idlen);
    g->id[idlen] = '\0';
    g->name = name ? name : g->id;
    return CT_OK;
}

/* Local day (YYYYMMDD) containing ms at the campaign's offset. */
static int64_t local_daynum(const ct_campaign *c, int64_t ms)
{
    int64_t x = ms + (int64_t)c->tz_offset_min * 60000;
    int64_t q = x / DAY_MS;
    if (x % DAY_MS < 0) q--;
    return q;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void ct_status_figures_free(ct_status_figures *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_districts; i++)
        free(f->districts[i].below);
    free(f->districts);
    free(f->groups);
    free(f->days);
    memset(f, 0, sizeof *f);
}

ct_err ct_status_compute(const ct_campaign *c, const ct_counts *counts, int64_t now_ms,
                         ct_status_figures *f)
{
    ct_err e = CT_OK;
    memset(f, 0, sizeof *f);
    if (!c || !counts || c->end_ms <= c->start_ms) return CT_ERR_ARG;
    f->now_ms = now_ms;
    f->span_ms = c->end_ms - c->start_ms;
    int64_t clamped = clamp64(now_ms, c->start_ms, c->end_ms);
    f->elapsed_ms = clamped - c->start_ms;
    f->left_ms = c->end_ms - clamped;
    f->phase = now_ms <= c->start_ms ? CT_PHASE_NOT_STARTED
               : now_ms >= c->end_ms ? CT_PHASE_FINAL
                                     : CT_PHASE_RUNNING;
    f->elapsed_days_x10 = muldiv_round(f->elapsed_ms, 10, DAY_MS);
    f->days_left_x10 = muldiv_round(f->left_ms, 10, DAY_MS);
    f->span_days_x10 = muldiv_round(f->span_ms, 10, DAY_MS);

    /* Districts and the province. */
    f->n_districts = c->n_districts;
    f->districts = calloc(c->n_districts ? c->n_districts : 1, sizeof *f->districts);
    if (!f->districts) return CT_ERR_NOMEM;
    ct_status_unit *prov = &f->province;
    prov->code = 0;
    prov->name = PROVINCE_NAME;
    for (size_t i = 0; i < c->n_districts; i++) {
        const ct_district *d = &c->districts[i];
        ct_status_unit *u = &f->districts[i];
        u->code = d->code;
        u->name = d->name;
        u->staff = d->n_agents;
        prov->staff += d->n_agents;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            ct_status_prog *pr = &u->prog[p];
            pr->net = get_plain(counts, CT_COUNT_NET, (ct_program)p, d->code);
            pr->gross = get_plain(counts, CT_COUNT_GROSS, (ct_program)p, d->code);
            pr->cancelled = get_plain(counts, CT_COUNT_CANCELLED, (ct_program)p, d->code);
            pr->repeats = get_plain(counts, CT_COUNT_REPEAT, (ct_program)p, d->code);
            pr->target = d->target[p];
            ct_status_prog *pp = &prov->prog[p];
            pp->net += pr->net;
            pp->gross += pr->gross;
            pp->cancelled += pr->cancelled;
            pp->repeats += pr->repeats;
            pp->target += pr->target;
        }
    }

    /* Staff: personal quotas from the AGENT counters. */
    for (size_t i = 0; i < c->n_agents; i++) {
        const ct_agent *a = &c->agents[i];
        const ct_district *d = ct_campaign_district(c, a->district);
        if (!d) continue;
        ct_status_unit *u = &f->districts[d - c->districts];
        ct_status_staff st;
        st.agent = a;
        int both = 1;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            ct_count_key k =
                ct_count_key_make(CT_COUNT_AGENT, (ct_program)p, a->district, a->id, strlen(a->id));
            st.count[p] = ct_counts_get(counts, &k);
            if (st.count[p] >= (int64_t)c->agent_target[p]) {
                u->prog[p].staff_met++;
                prov->prog[p].staff_met++;
            } else {
                both = 0;
            }
        }
        if (both) {
            u->staff_met_both++;
            prov->staff_met_both++;
        } else {
            ct_status_staff *nb = realloc(u->below, (u->n_below + 1) * sizeof *nb);
            if (!nb) {
                e = CT_ERR_NOMEM;
                goto fail;
            }
            u->below = nb;
            u->below[u->n_below++] = st;
        }
    }

    for (size_t i = 0; i < c->n_districts; i++)
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            prog_figures(&f->districts[i].prog[p], f);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        prog_figures(&prov->prog[p], f);

    /* Groups (campaign's, sorted by id) and days (the window's local days). */
    size_t gcap = 0, dcap = 0;
    for (size_t i = 0; i < c->n_groups; i++) {
        e = push_group(f, &gcap, c->groups[i].id, strlen(c->groups[i].id), c->groups[i].name);
        if (e) goto fail;
    }
    size_t n_campaign_groups = f->n_groups;
    int64_t d0 = local_daynum(c, c->start_ms), d1 = local_daynum(c, c->end_ms - 1);
    for (int64_t dn = d0; dn <= d1 && dn - d0 < 4000; dn++) {
        e = push_day(f, &dcap, ct_time_yyyymmdd(dn * DAY_MS, 0));
        if (e) goto fail;
    }
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        if (!s->used || s->value == 0) continue;
        ct_count_kind kind = ct_count_key_kind(&s->key);
        int p = (int)ct_count_key_program(&s->key);
        if (p < 0 || p >= CT_PROGRAM_COUNT) continue;
        if (!ct_campaign_district(c, ct_count_key_district(&s->key))) continue;
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(&s->key, &dl);
        if (kind == CT_COUNT_DAY && dl == 4) {
            uint32_t day =
                (uint32_t)dim[0] << 24 | (uint32_t)dim[1] << 16 | (uint32_t)dim[2] << 8 | dim[3];
            ct_status_day *dd = find_day(f, day);
            if (!dd) {
                e = push_day(f, &dcap, day);
                if (e) goto fail;
                dd = &f->days[f->n_days - 1];
            }
            dd->net[p] += s->value;
        } else if (kind == CT_COUNT_GROUP) {
            ct_status_group *g = NULL;
            for (size_t j = 0; j < f->n_groups; j++)
                if (strlen(f->groups[j].id) == dl && memcmp(f->groups[j].id, dim, dl) == 0)
                    g = &f->groups[j];
            if (!g) {
                e = push_group(f, &gcap, (const char *)dim, dl, NULL);
                if (e) goto fail;
                g = &f->groups[f->n_groups - 1];
            }
            g->net[p] += s->value;
        }
    }
    /* Unknown group ids (not in the campaign) after the known ones, by id;
     * their name points at their own id, so fix the pointers after sorting. */
    for (size_t i = n_campaign_groups + 1; i < f->n_groups; i++)
        for (size_t j = i;
             j > n_campaign_groups && strcmp(f->groups[j - 1].id, f->groups[j].id) > 0; j--) {
            ct_status_group t = f->groups[j];
            f->groups[j] = f->groups[j - 1];
            f->groups[j - 1] = t;
        }
    for (size_t i = n_campaign_groups; i < f->n_groups; i++)
        f->groups[i].name = f->groups[i].id;
    if (f->n_days > 1) qsort(f->days, f->n_days, sizeof f->days[0], cmp_day);
    int64_t cum[CT_PROGRAM_COUNT] = {0};
    for (size_t i = 0; i < f->n_days; i++) {
        ct_status_day *dd = &f->days[i];
        /* end of this local day, as ms UTC */
        int32_t y = (int32_t)(dd->day / 10000);
        unsigned m = (unsigned)(dd->day / 100 % 100), dm = (unsigned)(dd->day % 100);
        int64_t day_end =
            (ct_days_from_civil(y, m, dm) + 1) * DAY_MS - (int64_t)c->tz_offset_min * 60000;
        int64_t el = clamp64(day_end, c->start_ms, c->end_ms) - c->start_ms;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            cum[p] += dd->net[p];
            dd->cum[p] = cum[p];
            dd->steady_x10[p] = muldiv_round(prov->prog[p].target * 10, el, f->span_ms);
        }
    }
    return CT_OK;
fail:
    ct_status_figures_free(f);
    return e;
}

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

static ct_err json_str(ct_buf *b, const char *s)
{
    ct_err e = put(b, "\"");
    for (const uint8_t *p = (const uint8_t *)s; !e && *p; p++) {
        switch (*p) {
        case '"':
            e = put(b, "\\\"");
            break;
        case '\\':
            e = put(b, "\\\\");
            break;
        case '\n':
            e = put(b, "\\n");
            break;
        case '\r':
            e = put(b, "\\r");
            break;
        case '\t':
            e = put(b, "\\t");
            break;
        case '\b':
            e = put(b, "\\b");
            break;
        case '\f':
            e = put(b, "\\f");
            break;
        default:
            if (*p < 0x20 || *p == 0x7F)
                e = ct_buf_printf(b, "\\u%04x", *p);
            else
                e = ct_buf_append(b, p, 1);
        }
    }
    return e ? e : put(b, "\"");
}

static ct_err json_x10(ct_buf *b, const char *key, int64_t v)
{
    char t[32];
    ct_status_fmt_x10(v, t, sizeof t);
    return ct_buf_printf(b, "\"%s\":%s", key, t);
}

static ct_err json_unit(ct_buf *b, const ct_status_unit *u, int is_province, unsigned flags)
{
    ct_err e = CT_OK;
    if (is_province)
        e = put(b, "{\"name\":");
    else
        e = ct_buf_printf(b, "{\"code\":%u,\"name\":", u->code);
    if (!e) e = json_str(b, u->name);
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
            e = ct_buf_printf(b, ",\"verdict\":\"%s\",\"staff_met\":%u}",
                              ct_status_verdict_name(pr->verdict), pr->staff_met);
    }
    if (!e) e = put(b, "}");
    if (!e && !is_province && (flags & CT_STATUS_STAFF)) {
        e = put(b, ",\"below_quota\":[");
        for (size_t i = 0; !e && i < u->n_below; i++) {
            const ct_status_staff *s = &u->below[i];
            e = put(b, i ? ",{\"id\":" : "{\"id\":");
            if (!e) e = json_str(b, s->agent->id);
            if (!e) e = put(b, ",\"name\":");
            if (!e) e = json_str(b, s->agent->name);
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
                e = ct_buf_printf(b, ",\"%s\":%lld", ct_program_name((ct_program)p),
                                  (long long)s->count[p]);
            if (!e) e = put(b, "}");
        }
        if (!e) e = put(b, "]");
    }
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
    if (!e) e = json_str(b, c->id);
    if (!e) e = put(b, ",\"name\":");
    if (!e) e = json_str(b, c->name);
    if (!e)
        e = ct_buf_printf(
            b, ",\"as_of\":\"%s\",\"as_of_ms\":%lld,\"seq\":%llu,\"head\":\"%s\",\"feed\":", t_now,
            (long long)pos->now_ms, (unsigned long long)pos->seq, hx);
    if (!e) e = json_str(b, feed_label(pos));
    if (!e)
        e = ct_buf_printf(
            b,
            ",\"phase\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"start_ms\":%lld,"
            "\"end_ms\":%lld,\"tz_offset_min\":%d,\"elapsed_days\":%s,\"days_left\":%s,"
            "\"span_days\":%s,\"agent_target\":{",
            ct_status_phase_name(f->phase), t_start, t_end, (long long)c->start_ms,
            (long long)c->end_ms, (int)c->tz_offset_min, t1, t2, t3);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "%s\"%s\":%u", p ? "," : "", ct_program_name((ct_program)p),
                          c->agent_target[p]);
    if (!e) e = put(b, "},\"programs\":[");
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
        e = ct_buf_printf(b, "%s{\"id\":\"%s\",\"label\":", p ? "," : "",
                          ct_program_name((ct_program)p));
        if (!e) e = json_str(b, ct_program_label((ct_program)p));
        if (!e) e = put(b, "}");
    }
    if (!e) e = put(b, "],\"province\":");
    if (!e) e = json_unit(b, &f->province, 1, flags);
    if (!e) e = put(b, ",\"districts\":[");
    for (size_t i = 0; !e && i < f->n_districts; i++) {
        if (i) e = put(b, ",");
        if (!e) e = json_unit(b, &f->districts[i], 0, flags);
    }
    if (!e) e = put(b, "],\"groups\":[");
    for (size_t i = 0; !e && i < f->n_groups; i++) {
        const ct_status_group *g = &f->groups[i];
        e = put(b, i ? ",{\"id\":" : "{\"id\":");
        if (!e) e = json_str(b, g->id);
        if (!e) e = put(b, ",\"name\":");
        if (!e) e = json_str(b, g->name);
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
    if (!e) e = put(b, "]}\n");
    return e;
}

/* ---------------------------------------------------------------- CSV */

static ct_err csv_field(ct_buf *b, const char *s, int first)
{
    ct_err e = first ? CT_OK : put(b, ",");
    if (e) return e;
    int quote = s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' ') || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) return put(b, s);
    e = put(b, "\"");
    for (const char *p = s; !e && *p; p++)
        e = *p == '"' ? put(b, "\"\"") : ct_buf_append(b, p, 1);
    return e ? e : put(b, "\"");
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

static ct_err render_csv(const ct_campaign *c, const ct_status_figures *f,
                         const ct_status_position *pos, ct_buf *b)
{
    char t_now[40], hx[65], tail[256];
    ct_time_format(pos->now_ms, c->tz_offset_min, t_now, sizeof t_now);
    ct_hash_hex(pos->head, hx);
    ct_buf fb = CT_BUF_INIT;
    ct_err e = csv_field(&fb, feed_label(pos), 1);
    if (!e) e = ct_buf_append(&fb, "", 1);
    if (!e)
        snprintf(tail, sizeof tail, ",%s,%s,%llu,%s,%s", ct_status_phase_name(f->phase), t_now,
                 (unsigned long long)pos->seq, hx, (const char *)fb.data);
    ct_buf_free(&fb);
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

/* ---------------------------------------------------------------- table */

#define TBL_MAXCOL 16

/* A table of UTF-8 cells; cells live in one arena, rows hold offsets.
 * A row with ncol == 0 is a rule (dashes across the table's width). */
typedef struct {
    size_t ncol;
    char align[TBL_MAXCOL]; /* 'l' or 'r' */
    ct_buf arena;
    size_t *cells; /* nrows * ncol offsets into arena; SIZE_MAX for a rule row */
    size_t nrows;
    size_t cap;
    ct_err err;
} tbl;

static void tbl_init(tbl *t, const char *align)
{
    memset(t, 0, sizeof *t);
    t->ncol = strlen(align);
    memcpy(t->align, align, t->ncol);
}

static void tbl_free(tbl *t)
{
    ct_buf_free(&t->arena);
    free(t->cells);
}

static size_t *tbl_newrow(tbl *t)
{
    if (t->err) return NULL;
    if (t->nrows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 32;
        size_t *p = realloc(t->cells, nc * t->ncol * sizeof *p);
        if (!p) {
            t->err = CT_ERR_NOMEM;
            return NULL;
        }
        t->cells = p;
        t->cap = nc;
    }
    return &t->cells[t->nrows++ * t->ncol];
}

/* Adds a row of ncol strings (varargs const char *). */
static void tbl_row(tbl *t, ...)
{
    size_t *row = tbl_newrow(t);
    if (!row) return;
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->ncol; i++) {
        const char *s = va_arg(ap, const char *);
        row[i] = t->arena.len;
        if (!t->err) t->err = ct_buf_append(&t->arena, s, strlen(s) + 1);
    }
    va_end(ap);
}

static void tbl_rule(tbl *t)
{
    size_t *row = tbl_newrow(t);
    if (!row) return;
    for (size_t i = 0; i < t->ncol; i++)
        row[i] = SIZE_MAX;
}

static ct_err pad(ct_buf *b, size_t n)
{
    static const char sp[] = "                                ";
    ct_err e = CT_OK;
    while (!e && n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        e = ct_buf_append(b, sp, k);
        n -= k;
    }
    return e;
}

/* Columns separated by two spaces; left-aligned text padded, right-aligned
 * numbers; no trailing spaces (the last column, if left-aligned, is not
 * padded). Widths are display widths. */
static ct_err tbl_render(tbl *t, ct_buf *b)
{
    if (t->err) return t->err;
    size_t w[TBL_MAXCOL] = {0};
    const char *base = (const char *)t->arena.data;
    for (size_t r = 0; r < t->nrows; r++) {
        size_t *row = &t->cells[r * t->ncol];
        if (row[0] == SIZE_MAX) continue;
        for (size_t i = 0; i < t->ncol; i++) {
            size_t dw = ct_status_display_width(base + row[i], strlen(base + row[i]));
            if (dw > w[i]) w[i] = dw;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < t->ncol; i++)
        total += w[i] + (i ? 2 : 0);
    ct_err e = CT_OK;
    for (size_t r = 0; !e && r < t->nrows; r++) {
        size_t *row = &t->cells[r * t->ncol];
        if (row[0] == SIZE_MAX) {
            for (size_t i = 0; !e && i < total; i++)
                e = put(b, "-");
            if (!e) e = put(b, "\n");
            continue;
        }
        for (size_t i = 0; !e && i < t->ncol; i++) {
            const char *s = base + row[i];
            size_t dw = ct_status_display_width(s, strlen(s));
            if (i) e = put(b, "  ");
            if (!e && t->align[i] == 'r') e = pad(b, w[i] - dw);
            if (!e) e = put(b, s);
            if (!e && t->align[i] == 'l' && i + 1 < t->ncol) e = pad(b, w[i] - dw);
        }
        if (!e) e = put(b, "\n");
    }
    return e;
}

static void x10s(int64_t v, char *buf)
{
    ct_status_fmt_x10(v, buf, 24);
}

static void prog_row(tbl *t, const char *code, const char *name, const ct_status_unit *u, int p)
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
    tbl_row(t, code, name, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9],
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
        e = ct_buf_printf(b, "\n%s (%s): personal quota %u per staff member\n",
                          ct_program_label((ct_program)p), ct_program_name((ct_program)p),
                          c->agent_target[p]);
        if (e) break;
        tbl t;
        tbl_init(&t, "llrrrrrrrrrrlr");
        tbl_row(&t, "Code", "District", "Net", "Target", "%", "Left", "Gross", "Canc.", "Rep.",
                "Expected", "Need/day", "Proj.", "Verdict", "Staff met");
        tbl_rule(&t);
        for (size_t i = 0; i < f->n_districts; i++) {
            char code[16];
            snprintf(code, sizeof code, "%u", f->districts[i].code);
            prog_row(&t, code, f->districts[i].name, &f->districts[i], p);
        }
        tbl_rule(&t);
        prog_row(&t, "", f->province.name, &f->province, p);
        e = tbl_render(&t, b);
        tbl_free(&t);
    }

    if (!e) {
        e = put(b, "\nStaff who met their personal quota\n");
        tbl t;
        tbl_init(&t, "llrrrr");
        char h[CT_PROGRAM_COUNT][40];
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            snprintf(h[p], sizeof h[p], "%s>=%u", ct_program_name((ct_program)p),
                     c->agent_target[p]);
        tbl_row(&t, "Code", "District", "Staff", h[0], h[1], "Both");
        tbl_rule(&t);
        for (size_t i = 0; i <= f->n_districts; i++) {
            const ct_status_unit *u = i < f->n_districts ? &f->districts[i] : &f->province;
            char code[16] = "", n[4][24];
            if (i < f->n_districts)
                snprintf(code, sizeof code, "%u", u->code);
            else
                tbl_rule(&t);
            snprintf(n[0], 24, "%u", u->staff);
            snprintf(n[1], 24, "%u", u->prog[0].staff_met);
            snprintf(n[2], 24, "%u", u->prog[1].staff_met);
            snprintf(n[3], 24, "%u", u->staff_met_both);
            tbl_row(&t, code, u->name, n[0], n[1], n[2], n[3]);
        }
        if (!e) e = tbl_render(&t, b);
        tbl_free(&t);
    }

    if (!e && f->n_groups) {
        e = put(b, "\nSubsidy groups (net participants)\n");
        tbl t;
        tbl_init(&t, "llrr");
        tbl_row(&t, "Group", "Name", ct_program_name(CT_PROGRAM_BHXH_TN),
                ct_program_name(CT_PROGRAM_BHYT_HGD));
        tbl_rule(&t);
        for (size_t i = 0; i < f->n_groups; i++) {
            char n[2][24];
            snprintf(n[0], 24, "%lld", (long long)f->groups[i].net[0]);
            snprintf(n[1], 24, "%lld", (long long)f->groups[i].net[1]);
            tbl_row(&t, f->groups[i].id, f->groups[i].name, n[0], n[1]);
        }
        if (!e) e = tbl_render(&t, b);
        tbl_free(&t);
    }

    if (!e) {
        e = put(b, "\nSign-ups per campaign day (province, net; cumulative vs steady pace)\n");
        tbl t;
        tbl_init(&t, "lrrrrrr");
        char h[6][48];
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            const char *pn = ct_program_name((ct_program)p);
            snprintf(h[3 * p], sizeof h[0], "%s", pn);
            snprintf(h[3 * p + 1], sizeof h[0], "cum.");
            snprintf(h[3 * p + 2], sizeof h[0], "steady");
        }
        tbl_row(&t, "Day", h[0], h[1], h[2], h[3], h[4], h[5]);
        tbl_rule(&t);
        for (size_t i = 0; i < f->n_days; i++) {
            const ct_status_day *d = &f->days[i];
            char ds[16], n[6][24];
            fmt_day(d->day, ds, sizeof ds);
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                snprintf(n[3 * p], 24, "%lld", (long long)d->net[p]);
                snprintf(n[3 * p + 1], 24, "%lld", (long long)d->cum[p]);
                x10s(d->steady_x10[p], n[3 * p + 2]);
            }
            tbl_row(&t, ds, n[0], n[1], n[2], n[3], n[4], n[5]);
        }
        if (!e) e = tbl_render(&t, b);
        tbl_free(&t);
    }

    if (!e && (flags & CT_STATUS_STAFF)) {
        size_t total = 0;
        for (size_t i = 0; i < f->n_districts; i++)
            total += f->districts[i].n_below;
        e = ct_buf_printf(b, "\nStaff below their personal quota: %zu\n", total);
        tbl t;
        tbl_init(&t, "lllrr");
        tbl_row(&t, "Code", "Agent", "Name", ct_program_name(CT_PROGRAM_BHXH_TN),
                ct_program_name(CT_PROGRAM_BHYT_HGD));
        tbl_rule(&t);
        for (size_t i = 0; i < f->n_districts; i++) {
            const ct_status_unit *u = &f->districts[i];
            char code[16];
            snprintf(code, sizeof code, "%u", u->code);
            for (size_t j = 0; j < u->n_below; j++) {
                char n[2][24];
                snprintf(n[0], 24, "%lld", (long long)u->below[j].count[0]);
                snprintf(n[1], 24, "%lld", (long long)u->below[j].count[1]);
                tbl_row(&t, code, u->below[j].agent->id, u->below[j].agent->name, n[0], n[1]);
            }
        }
        if (!e) e = tbl_render(&t, b);
        tbl_free(&t);
    }
    return e;
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
