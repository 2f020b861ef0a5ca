/* ct_reorg.c — the projection of counters onto the units in force or the
 * original units (see ct_reorg.h; the rules, kind by kind, are
 * docs/PROTOCOL.md §4.5 "Projection").
 *
 * Invariants: the projection only moves figures between units (re-keys
 * them), so for every kind summed over units it keeps the province's sum;
 * the two exceptions are stated in §4.5 (LATE_MAX takes the maximum, the
 * target revisions of merged units are folded, and a part's unit-level close
 * is kept under the merged unit as a part close, CLOSE with day || part). A
 * campaign without [reorg] sections is never copied: the inputs are the
 * projection. Everything a projection allocates is owned by its view.
 */
#include "ct_reorg.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ct_be.h"

const char *const ct_units_names[] = {"current", "original", NULL};

/* ---------- routing through the reorganizations in force ---------- */

typedef struct {
    uint32_t from;
    const char *commune;
} map_key;

static int cmp_map_key(const void *key, const void *elem)
{
    const map_key *k = key;
    const ct_reorg_map *m = elem;
    if (k->from != m->from) return k->from < m->from ? -1 : 1;
    return strcmp(k->commune, m->commune);
}

static const ct_reorg_map *find_map(const ct_reorg *r, uint32_t from, const char *commune)
{
    map_key k = {from, commune};
    return r->n_maps ? bsearch(&k, r->maps, r->n_maps, sizeof *r->maps, cmp_map_key) : NULL;
}

uint32_t ct_reorg_route(const ct_reorg *const *in, size_t n, uint32_t unit, const char *commune)
{
    for (size_t i = 0; i < n; i++) {
        const ct_reorg_map *m = commune[0] ? find_map(in[i], unit, commune) : NULL;
        if (!m) m = find_map(in[i], unit, "");
        if (m) unit = m->to;
    }
    return unit;
}

static int cmp_move_key(const void *key, const void *elem)
{
    return strcmp(key, ((const ct_reorg_move *)elem)->agent);
}

/* The unit of staff member a once the reorganizations in force are: their
 * move in each, else the rest map of the unit they are in. */
static uint32_t staff_unit(const ct_reorg *const *in, size_t n, const ct_agent *a)
{
    uint32_t u = a->district;
    for (size_t i = 0; i < n; i++) {
        const ct_reorg *r = in[i];
        const ct_reorg_move *mv =
            r->n_moves ? bsearch(a->id, r->moves, r->n_moves, sizeof *r->moves, cmp_move_key)
                       : NULL;
        const ct_reorg_map *m = mv ? NULL : find_map(r, u, "");
        if (mv) u = mv->to;
        if (m) u = m->to;
    }
    return u;
}

/* A unit that exists only after a reorganization: the target of a map of a
 * declared one, and the unit of no staff on the roster (§4.5). */
static bool unit_is_new(const ct_campaign *c, const ct_district *d)
{
    if (d->n_agents) return false;
    for (size_t i = 0; i < c->n_reorgs; i++)
        for (size_t j = 0; j < c->reorgs[i].n_maps; j++)
            if (c->reorgs[i].maps[j].to == d->code && c->reorgs[i].maps[j].from != d->code)
                return true;
    return false;
}

/* ---------- the projection's working state ---------- */

typedef struct {
    const ct_campaign *c;
    const ct_counts *in;
    int64_t now_ms;
    const ct_reorg *inf[64]; /* in force, in the order they apply: (ef, name) */
    int64_t inf_ef[64];
    size_t n_inf;
    /* per campaign district (index as in c->districts) */
    uint32_t *rest;   /* where its figures without a commune go */
    bool *fresh;      /* a unit that exists only after a reorganization */
    uint32_t *nsrc;   /* units whose rest goes here (a merge when >= 2) */
    size_t *src;      /* with nsrc == 1: that unit */
    int64_t *ef_in;   /* latest ef of a reorganization in force mapping another unit here */
    bool *shown;      /* in the projection's campaign */
    uint32_t *staff;  /* per campaign agent: its unit */
    ct_count_key *tk; /* the TARGET keys of `in`, sorted */
    size_t ntk;
    uint32_t *ix;   /* unit code (0..65535) -> 1 + its index in c->districts, 0 if none */
    bool any_moves; /* a declared reorganization moves staff */
} proj;

static size_t didx(const proj *P, uint32_t code)
{
    return code <= 65535 && P->ix[code] ? (size_t)P->ix[code] - 1 : SIZE_MAX;
}

static int64_t reorg_ef(const ct_counts *in, const char *name)
{
    ct_count_key k = ct_count_key_make(CT_COUNT_REORG, CT_PROGRAM_BHXH_TN, 0, name, strlen(name));
    return ct_counts_get(in, &k);
}

static void collect_in_force(proj *P)
{
    const ct_campaign *c = P->c;
    for (size_t i = 0; i < c->n_reorgs && P->n_inf < 64; i++) {
        int64_t ef = reorg_ef(P->in, c->reorgs[i].name);
        if (ef < 1 || ef > P->now_ms) continue;
        /* insertion by (ef, name); c->reorgs is sorted by name already */
        size_t j = P->n_inf++;
        while (j > 0 && P->inf_ef[j - 1] > ef) {
            P->inf[j] = P->inf[j - 1];
            P->inf_ef[j] = P->inf_ef[j - 1];
            j--;
        }
        P->inf[j] = &c->reorgs[i];
        P->inf_ef[j] = ef;
    }
}

/* The target in force of original unit d for program p at the clock, from
 * its own revisions with ef < lim (§5.3), else the per-staff quota revision
 * x its roster staff, else the campaign file's. tk: the TARGET keys. */
static int64_t part_target(const proj *P, const ct_count_key *tk, size_t ntk, const ct_district *d,
                           ct_program p, int64_t lim)
{
    const ct_count_key *best = NULL, *quota = NULL;
    for (size_t i = 0; i < ntk; i++) {
        const ct_count_key *k = &tk[i];
        if (ct_count_key_program(k) != p) continue;
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(k, &dl);
        assert(dl == 16);
        int64_t ef = (int64_t)ct_be64_get(dim);
        if (ef > P->now_ms) continue;
        uint32_t u = ct_count_key_district(k);
        /* keys are in ascending byte order: the last match is the greatest (ef, seq) */
        if (u == d->code && ef < lim) best = k;
        if (u == 0) quota = k;
    }
    if (best) return ct_counts_get(P->in, best);
    if (quota) return ct_counts_get(P->in, quota) * (int64_t)d->n_agents;
    return d->target[p];
}

static int cmp_key(const void *a, const void *b)
{
    return ct_count_key_cmp(a, b);
}

static ct_err put(ct_counts *out, const ct_count_key *k, ct_count_kind kind, ct_program p,
                  uint32_t unit, int64_t v)
{
    size_t dl;
    const uint8_t *dim = ct_count_key_dim(k, &dl);
    ct_count_key nk = ct_count_key_make(kind, p, unit, dim, dl);
    return ct_counts_add(out, &nk, v);
}

/* One counter of the original units into the projection (all but TARGET of
 * merged units, done by merged_targets). */
static ct_err project_one(proj *P, const ct_count_key *k, int64_t v, ct_counts *out)
{
    const ct_campaign *c = P->c;
    ct_count_kind kind = ct_count_key_kind(k);
    ct_program p = ct_count_key_program(k);
    uint32_t unit = ct_count_key_district(k);
    size_t i = unit ? didx(P, unit) : SIZE_MAX;
    if (i == SIZE_MAX || kind == CT_COUNT_REORG) return ct_counts_add(out, k, v);
    uint32_t rest = P->rest[i];
    size_t ri = didx(P, rest);
    size_t dl;
    const uint8_t *dim = ct_count_key_dim(k, &dl);
    switch (kind) {
    case CT_COUNT_COMMUNE: {
        const ct_district *d = &c->districts[i];
        uint16_t code = ct_be16_get(dim);
        if (code < 1 || code > d->n_communes) return CT_OK; /* not a valid log's key */
        const char *name = d->communes[code - 1];
        uint32_t to = ct_reorg_route(P->inf, P->n_inf, unit, name);
        ct_err e = CT_OK;
        if (to != rest) { /* this commune's share of NET leaves the rest */
            ct_count_key a = ct_count_key_make(CT_COUNT_NET, p, rest, NULL, 0);
            ct_count_key b = ct_count_key_make(CT_COUNT_NET, p, to, NULL, 0);
            e = ct_counts_add(out, &a, -v);
            if (!e) e = ct_counts_add(out, &b, v);
        }
        uint16_t nc = ct_campaign_commune_code(c, to, name);
        if (!e && nc) {
            uint8_t be[2];
            ct_be16_put(be, nc);
            ct_count_key b = ct_count_key_make(CT_COUNT_COMMUNE, p, to, be, 2);
            e = ct_counts_add(out, &b, v);
        }
        return e;
    }
    case CT_COUNT_AGENT:
    case CT_COUNT_VOIDED: {
        char id[CT_AGENT_ID_MAX + 1];
        memcpy(id, dim, dl);
        id[dl] = '\0';
        /* without moves a staff member records for their roster unit only, so
         * their unit at T is the rest of the unit of the counter */
        const ct_agent *a = P->any_moves ? ct_campaign_agent(c, id) : NULL;
        uint32_t to = a ? P->staff[a - c->agents] : rest;
        return put(out, k, kind, p, to, v);
    }
    case CT_COUNT_TARGET:
        if (P->nsrc[ri] >= 2) {
            /* a merged unit: only its own revisions issued for it as merged stay */
            bool own = unit == rest && (P->fresh[i] || (int64_t)ct_be64_get(dim) >= P->ef_in[ri]);
            return own ? ct_counts_add(out, k, v) : CT_OK;
        }
        return put(out, k, kind, p, rest, v);
    case CT_COUNT_CLOSE:
        if (P->nsrc[ri] >= 2 && !P->fresh[i]) {
            /* a part's close: it pins the part's figures, not the merged
             * unit's; kept under the merged unit with the part named
             * (CLOSE (rest, day || part), §4.5) */
            if (dl != 4) return CT_OK;
            uint8_t pd[8];
            memcpy(pd, dim, 4);
            ct_be32_put(pd + 4, unit);
            ct_count_key nk = ct_count_key_make(kind, p, rest, pd, sizeof pd);
            return ct_counts_set(out, &nk, v);
        }
        {
            ct_count_key nk = ct_count_key_make(kind, p, rest, dim, dl);
            int64_t old = ct_counts_get(out, &nk);
            return v > old ? ct_counts_set(out, &nk, v) : CT_OK;
        }
    case CT_COUNT_LATE_MAX: {
        ct_count_key nk = ct_count_key_make(kind, p, rest, dim, dl);
        int64_t old = ct_counts_get(out, &nk);
        return v > old ? ct_counts_set(out, &nk, v) : CT_OK;
    }
    default:
        return put(out, k, kind, p, rest, v);
    }
}

/* TARGET (p, U, 0 || 0) := the merged unit U's target: its own declared
 * one when U is new and declares it (not 0), else the sum of the targets in
 * force of the units whose rest it receives. Also the view's target. */
static ct_err merged_targets(proj *P, const ct_count_key *tk, size_t ntk, ct_counts *out,
                             ct_district *vd)
{
    const ct_campaign *c = P->c;
    size_t u = didx(P, vd->code);
    if (u == SIZE_MAX || P->nsrc[u] < 2) return CT_OK;
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        int64_t sum = 0;
        if (P->fresh[u] && c->districts[u].target[p]) {
            sum = c->districts[u].target[p];
        } else {
            for (size_t y = 0; y < c->n_districts; y++) {
                if (P->rest[y] != vd->code || (P->fresh[y] && y != u)) continue;
                int64_t lim = y == u ? P->ef_in[u] : INT64_MAX;
                sum += part_target(P, tk, ntk, &c->districts[y], (ct_program)p, lim);
            }
        }
        uint8_t dim[16] = {0};
        ct_count_key k = ct_count_key_make(CT_COUNT_TARGET, (ct_program)p, vd->code, dim, 16);
        ct_err e = ct_counts_set(out, &k, sum);
        if (e) return e;
        vd->target[p] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)(sum < 0 ? 0 : sum);
    }
    return CT_OK;
}

/* ---------- the projection's campaign ---------- */

static ct_err view_campaign(proj *P, ct_campaign *v)
{
    const ct_campaign *c = P->c;
    memcpy(v->id, c->id, sizeof v->id);
    memcpy(v->name, c->name, sizeof v->name);
    v->start_ms = c->start_ms;
    v->end_ms = c->end_ms;
    v->tz_offset_min = c->tz_offset_min;
    v->tolerance_ms = c->tolerance_ms;
    v->max_future_ms = c->max_future_ms;
    memcpy(v->agent_target, c->agent_target, sizeof v->agent_target);
    memcpy(v->fingerprint, c->fingerprint, sizeof v->fingerprint);
    size_t n = 0;
    for (size_t i = 0; i < c->n_districts; i++)
        n += P->shown[i];
    v->districts = calloc(n ? n : 1, sizeof *v->districts);
    v->agents = calloc(c->n_agents ? c->n_agents : 1, sizeof *v->agents);
    v->groups = calloc(c->n_groups ? c->n_groups : 1, sizeof *v->groups);
    if (!v->districts || !v->agents || !v->groups) return CT_ERR_NOMEM;
    if (c->n_groups) memcpy(v->groups, c->groups, c->n_groups * sizeof *c->groups);
    v->n_groups = c->n_groups;
    for (size_t i = 0; i < c->n_agents; i++) {
        v->agents[i] = c->agents[i];
        v->agents[i].district = P->staff[i];
    }
    v->n_agents = c->n_agents;
    for (size_t i = 0; i < c->n_districts; i++) {
        if (!P->shown[i]) continue;
        ct_district *d = &v->districts[v->n_districts++];
        *d = c->districts[i];
        d->n_agents = 0;
        d->communes = NULL;
        d->n_communes = 0;
        if (c->districts[i].n_communes) {
            d->communes = malloc(c->districts[i].n_communes * sizeof *d->communes);
            if (!d->communes) return CT_ERR_NOMEM;
            memcpy(d->communes, c->districts[i].communes,
                   c->districts[i].n_communes * sizeof *d->communes);
            d->n_communes = c->districts[i].n_communes;
        }
        for (size_t r = 0; r < P->n_inf; r++)
            for (size_t j = 0; j < P->inf[r]->n_renames; j++)
                if (P->inf[r]->renames[j].unit == d->code)
                    memcpy(d->name, P->inf[r]->renames[j].name, sizeof d->name);
        if (P->fresh[i] && !P->ef_in[i]) memset(d->target, 0, sizeof d->target); /* not in force */
        if (P->n_inf && P->nsrc[i] == 1 && P->src[i] != i)
            memcpy(d->target, c->districts[P->src[i]].target, sizeof d->target);
    }
    for (size_t i = 0; i < c->n_agents; i++) {
        ct_district *d = (ct_district *)ct_campaign_district(v, v->agents[i].district);
        if (d) d->n_agents++;
    }
    return CT_OK;
}

static void province_targets(ct_campaign *v)
{
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        uint64_t s = 0;
        for (size_t i = 0; i < v->n_districts; i++)
            s += v->districts[i].target[p];
        v->province_target[p] = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
    }
}

/* Every unit a figure of `k` (keyed to a declared unit) is shown. */
static void show_keyed(proj *P, const ct_counts *k)
{
    for (size_t s = 0; s < k->cap; s++) {
        if (!k->slots[s].used || !k->slots[s].value) continue;
        uint32_t u = ct_count_key_district(&k->slots[s].key);
        size_t i = u ? didx(P, u) : SIZE_MAX;
        if (i != SIZE_MAX) P->shown[i] = true;
    }
}

static ct_err alloc_proj(proj *P)
{
    size_t nd = P->c->n_districts ? P->c->n_districts : 1;
    size_t na = P->c->n_agents ? P->c->n_agents : 1;
    P->rest = calloc(nd, sizeof *P->rest);
    P->fresh = calloc(nd, sizeof *P->fresh);
    P->nsrc = calloc(nd, sizeof *P->nsrc);
    P->src = calloc(nd, sizeof *P->src);
    P->ef_in = calloc(nd, sizeof *P->ef_in);
    P->shown = calloc(nd, sizeof *P->shown);
    P->staff = calloc(na, sizeof *P->staff);
    P->ix = calloc(65536, sizeof *P->ix);
    if (!(P->rest && P->fresh && P->nsrc && P->src && P->ef_in && P->shown && P->staff && P->ix))
        return CT_ERR_NOMEM;
    for (size_t i = 0; i < P->c->n_districts; i++) {
        assert(P->c->districts[i].code <= 65535);
        P->ix[P->c->districts[i].code] = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < P->c->n_reorgs; i++)
        P->any_moves |= P->c->reorgs[i].n_moves > 0;
    return CT_OK;
}

static void free_proj(proj *P)
{
    free(P->rest);
    free(P->fresh);
    free(P->nsrc);
    free(P->src);
    free(P->ef_in);
    free(P->shown);
    free(P->staff);
    free(P->ix);
}

/* rest, fresh, nsrc/src, ef_in, staff and the units in force (shown). */
static void plan(proj *P)
{
    const ct_campaign *c = P->c;
    for (size_t i = 0; i < c->n_districts; i++) {
        const ct_district *d = &c->districts[i];
        P->fresh[i] = unit_is_new(c, d);
        P->rest[i] = ct_reorg_route(P->inf, P->n_inf, d->code, "");
    }
    for (size_t i = 0; i < c->n_districts; i++) {
        size_t r = didx(P, P->rest[i]);
        assert(r != SIZE_MAX); /* maps name declared units (loader) */
        if (P->fresh[i] && P->rest[i] != c->districts[i].code) continue;
        P->nsrc[r]++;
        P->src[r] = i;
        if (!P->fresh[i]) P->shown[r] = true;
        for (size_t w = 0; !P->fresh[i] && w < c->districts[i].n_communes; w++) {
            size_t t = didx(P, ct_reorg_route(P->inf, P->n_inf, c->districts[i].code,
                                              c->districts[i].communes[w]));
            if (t != SIZE_MAX) P->shown[t] = true;
        }
    }
    for (size_t r = 0; r < P->n_inf; r++)
        for (size_t j = 0; j < P->inf[r]->n_maps; j++) {
            const ct_reorg_map *m = &P->inf[r]->maps[j];
            size_t t = didx(P, m->to);
            if (t != SIZE_MAX && m->to != m->from && P->inf_ef[r] > P->ef_in[t])
                P->ef_in[t] = P->inf_ef[r];
        }
    for (size_t i = 0; i < c->n_agents; i++) {
        P->staff[i] = staff_unit(P->inf, P->n_inf, &c->agents[i]);
        size_t t = didx(P, P->staff[i]);
        if (t != SIZE_MAX) P->shown[t] = true;
    }
}

static ct_err project_counts(proj *P, ct_counts *out)
{
    const ct_counts *in = P->in;
    size_t ntk = 0;
    for (size_t s = 0; s < in->cap; s++)
        ntk += in->slots[s].used && ct_count_key_kind(&in->slots[s].key) == CT_COUNT_TARGET;
    ct_count_key *tk = malloc((ntk ? ntk : 1) * sizeof *tk);
    if (!tk) return CT_ERR_NOMEM;
    ntk = 0;
    ct_err e = CT_OK;
    for (size_t s = 0; s < in->cap && !e; s++) {
        if (!in->slots[s].used) continue;
        const ct_count_key *k = &in->slots[s].key;
        if (ct_count_key_kind(k) == CT_COUNT_TARGET) tk[ntk++] = *k;
        e = project_one(P, k, in->slots[s].value, out);
    }
    if (ntk) qsort(tk, ntk, sizeof *tk, cmp_key);
    P->tk = tk;
    P->ntk = ntk;
    return e;
}

ct_err ct_reorg_project(const ct_campaign *c, const ct_counts *in, int64_t now_ms, ct_units units,
                        ct_reorg_view *v)
{
    memset(v, 0, sizeof *v);
    ct_counts_init(&v->counts);
    if (!c || !in) return CT_ERR_ARG;
    if (!c->n_reorgs) return CT_OK;
    v->projected = true;
    proj P;
    memset(&P, 0, sizeof P);
    P.c = c;
    P.in = in;
    P.now_ms = now_ms;
    ct_err e = alloc_proj(&P);
    if (!e && units == CT_UNITS_CURRENT) collect_in_force(&P);
    if (!e) plan(&P);
    if (!e && P.n_inf) e = project_counts(&P, &v->counts);
    if (!e) show_keyed(&P, P.n_inf ? &v->counts : in);
    if (!e) e = view_campaign(&P, &v->campaign);
    for (size_t i = 0; !e && P.n_inf && i < v->campaign.n_districts; i++)
        e = merged_targets(&P, P.tk, P.ntk, &v->counts, &v->campaign.districts[i]);
    if (!e) province_targets(&v->campaign);
    v->own_counts = P.n_inf > 0;
    free(P.tk);
    free_proj(&P);
    return e;
}

const ct_campaign *ct_reorg_campaign(const ct_reorg_view *v, const ct_campaign *c)
{
    return v->projected ? &v->campaign : c;
}

const ct_counts *ct_reorg_counts(const ct_reorg_view *v, const ct_counts *in)
{
    return v->own_counts ? &v->counts : in;
}

void ct_reorg_view_free(ct_reorg_view *v)
{
    if (!v) return;
    ct_campaign_free(&v->campaign);
    ct_counts_free(&v->counts);
    memset(v, 0, sizeof *v);
}

ct_err ct_reorg_status_json(const ct_campaign *c, const ct_counts *in,
                            const ct_status_position *pos, ct_units units, ct_buf *out)
{
    ct_reorg_view v;
    ct_err e = ct_reorg_project(c, in, pos->now_ms, units, &v);
    if (!e)
        e = ct_status_render(ct_reorg_campaign(&v, c), ct_reorg_counts(&v, in), pos, CT_FMT_JSON,
                             CT_STATUS_STAFF | CT_STATUS_DETAIL, out);
    ct_reorg_view_free(&v);
    return e;
}
