/* ct_status.c — the quota status figures (see ct_status.h): computed from a
 * counter table and a clock; the renderings are in ct_status_render.c.
 *
 * Invariants: pure (no clock reads, no I/O, no globals); integer arithmetic
 * only (every ratio is computed as an exact rational and rounded half away
 * from zero to one decimal), so the live reporter and the audit replay compute
 * the same figures from the same (campaign, counts, clock). On error the
 * figures are freed and zeroed.
 */
#include "ct_status.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_be.h"
#include "ct_status_life.h"
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
    else if (strcmp(s, "commune-csv") == 0)
        *out = CT_FMT_COMMUNE_CSV;
    else if (strcmp(s, "changes-csv") == 0)
        *out = CT_FMT_CHANGES_CSV;
    else if (strcmp(s, "days-csv") == 0)
        *out = CT_FMT_DAYS_CSV;
    else if (strcmp(s, "late-csv") == 0)
        *out = CT_FMT_LATE_CSV;
    else if (strcmp(s, "ranking-csv") == 0)
        *out = CT_FMT_RANKING_CSV;
    else
        return CT_ERR_ARG;
    return CT_OK;
}

/* ---------------------------------------------------------------- figures */

void ct_status_pace(ct_status_prog *pr, const ct_status_figures *f)
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

void ct_status_set_clock(ct_status_figures *f, int64_t start_ms, int64_t end_ms, int64_t now_ms)
{
    assert(end_ms > start_ms);
    f->now_ms = now_ms;
    f->span_ms = end_ms - start_ms;
    int64_t clamped = clamp64(now_ms, start_ms, end_ms);
    f->elapsed_ms = clamped - start_ms;
    f->left_ms = end_ms - clamped;
    f->phase = now_ms <= start_ms ? CT_PHASE_NOT_STARTED
               : now_ms >= end_ms ? CT_PHASE_FINAL
                                  : CT_PHASE_RUNNING;
    f->elapsed_days_x10 = muldiv_round(f->elapsed_ms, 10, DAY_MS);
    f->days_left_x10 = muldiv_round(f->left_ms, 10, DAY_MS);
    f->span_days_x10 = muldiv_round(f->span_ms, 10, DAY_MS);
}

void ct_status_figures_free(ct_status_figures *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_districts; i++) {
        free(f->districts[i].below);
        free(f->districts[i].members);
        free(f->districts[i].day_net);
        free(f->districts[i].day_steady_x10);
        free(f->districts[i].communes);
    }
    free(f->districts);
    free(f->groups);
    free(f->days);
    ct_status_life_free(f->life);
    free(f->life);
    memset(f, 0, sizeof *f);
}

static int cmp_day_key(const void *key, const void *elem)
{
    uint32_t x = *(const uint32_t *)key, y = ((const ct_status_day *)elem)->day;
    return x < y ? -1 : x > y;
}

/* Each district's day rows (f->days sorted): net from its DAY counters and
 * the steady pace to its own target. */
static ct_err district_days(const ct_campaign *c, const ct_counts *counts, ct_status_figures *f)
{
    size_t nd = f->n_days ? f->n_days : 1;
    for (size_t i = 0; i < f->n_districts; i++) {
        ct_status_unit *u = &f->districts[i];
        u->day_net = calloc(nd, sizeof *u->day_net);
        u->day_steady_x10 = calloc(nd, sizeof *u->day_steady_x10);
        if (!u->day_net || !u->day_steady_x10) return CT_ERR_NOMEM;
        for (size_t j = 0; j < f->n_days; j++)
            for (int p = 0; p < CT_PROGRAM_COUNT; p++)
                u->day_steady_x10[j][p] =
                    muldiv_round(u->prog[p].target * 10, f->days[j].elapsed_ms, f->span_ms);
    }
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        if (!s->used || s->value == 0 || ct_count_key_kind(&s->key) != CT_COUNT_DAY) continue;
        int p = (int)ct_count_key_program(&s->key);
        const ct_district *d = ct_campaign_district(c, ct_count_key_district(&s->key));
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(&s->key, &dl);
        if (p < 0 || p >= CT_PROGRAM_COUNT || !d || dl != 4) continue;
        uint32_t day = ct_be32_get(dim);
        const ct_status_day *dd = bsearch(&day, f->days, f->n_days, sizeof *f->days, cmp_day_key);
        assert(dd); /* every counted day is one of f->days */
        f->districts[d - c->districts].day_net[dd - f->days][p] += s->value;
    }
    return CT_OK;
}

/* Each listing district's commune rows: the COMMUNE counters by code, and
 * the rest of its net. */
static ct_err district_communes(const ct_campaign *c, const ct_counts *counts, ct_status_figures *f)
{
    for (size_t i = 0; i < f->n_districts; i++) {
        const ct_district *d = &c->districts[i];
        ct_status_unit *u = &f->districts[i];
        if (!d->n_communes) continue;
        assert(d->n_communes <= CT_COMMUNES_MAX);
        u->communes = calloc(d->n_communes, sizeof *u->communes);
        if (!u->communes) return CT_ERR_NOMEM;
        u->n_communes = d->n_communes;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            u->commune_none[p] = u->prog[p].net;
        for (size_t j = 0; j < d->n_communes; j++) {
            ct_status_commune *m = &u->communes[j];
            m->code = (uint16_t)(j + 1);
            m->name = d->communes[j];
            uint8_t dim[2] = {(uint8_t)(m->code >> 8), (uint8_t)m->code};
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                ct_count_key k =
                    ct_count_key_make(CT_COUNT_COMMUNE, (ct_program)p, d->code, dim, sizeof dim);
                m->net[p] = ct_counts_get(counts, &k);
                u->commune_none[p] -= m->net[p];
            }
        }
    }
    return CT_OK;
}

ct_err ct_status_compute(const ct_campaign *c, const ct_counts *counts, int64_t now_ms,
                         ct_status_figures *f)
{
    ct_err e = CT_OK;
    memset(f, 0, sizeof *f);
    if (!c || !counts || c->end_ms <= c->start_ms) return CT_ERR_ARG;
    ct_status_set_clock(f, c->start_ms, c->end_ms, now_ms);

    /* Districts and the province. */
    f->n_districts = c->n_districts;
    f->districts = calloc(c->n_districts ? c->n_districts : 1, sizeof *f->districts);
    if (!f->districts) return CT_ERR_NOMEM;
    int64_t(*unit_target)[CT_PROGRAM_COUNT] =
        calloc(c->n_districts ? c->n_districts : 1, sizeof *unit_target);
    if (!unit_target) {
        e = CT_ERR_NOMEM;
        goto fail;
    }
    e = ct_status_life_targets_in_force(c, counts, now_ms, f->agent_target, unit_target);
    if (e) goto fail;
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
            pr->target = unit_target[i][p];
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
        if (!u->members) {
            u->members = calloc(d->n_agents ? d->n_agents : 1, sizeof *u->members);
            if (!u->members) {
                e = CT_ERR_NOMEM;
                goto fail;
            }
        }
        ct_status_staff st;
        st.agent = a;
        int both = 1;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            ct_count_key k =
                ct_count_key_make(CT_COUNT_AGENT, (ct_program)p, a->district, a->id, strlen(a->id));
            st.count[p] = ct_counts_get(counts, &k);
            k = ct_count_key_make(CT_COUNT_VOIDED, (ct_program)p, a->district, a->id,
                                  strlen(a->id));
            st.voided[p] = ct_counts_get(counts, &k);
            st.pct_x10[p] =
                f->agent_target[p] > 0 ? muldiv_round(st.count[p], 1000, f->agent_target[p]) : 1000;
            if (st.count[p] >= f->agent_target[p]) {
                u->prog[p].staff_met++;
                prov->prog[p].staff_met++;
            } else {
                both = 0;
            }
        }
        if (u->n_members < d->n_agents) u->members[u->n_members++] = st;
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
            ct_status_pace(&f->districts[i].prog[p], f);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        ct_status_pace(&prov->prog[p], f);

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
        bool day_kind =
            kind == CT_COUNT_DAY || kind == CT_COUNT_AFTER_DAY || kind == CT_COUNT_LATE_CLOSED;
        if (day_kind && dl == 4) {
            /* a day something was recorded for (the days received on that
             * fall outside these are ct_status_life's received_outside) */
            uint32_t day = ct_be32_get(dim);
            ct_status_day *dd = find_day(f, day);
            if (!dd) {
                e = push_day(f, &dcap, day);
                if (e) goto fail;
                dd = &f->days[f->n_days - 1];
            }
            if (kind == CT_COUNT_DAY) dd->net[p] += s->value;
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
        dd->elapsed_ms = el;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            cum[p] += dd->net[p];
            dd->cum[p] = cum[p];
            dd->steady_x10[p] = muldiv_round(prov->prog[p].target * 10, el, f->span_ms);
        }
    }
    e = district_days(c, counts, f);
    if (!e) e = district_communes(c, counts, f);
    if (!e && ct_status_life_present(counts)) {
        f->life = calloc(1, sizeof *f->life);
        e = f->life ? ct_status_life_compute(c, counts, f, f->life) : CT_ERR_NOMEM;
    }
    if (e) goto fail;
    free(unit_target);
    return CT_OK;
fail:
    free(unit_target);
    ct_status_figures_free(f);
    return e;
}
