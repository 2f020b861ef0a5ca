/* ct_campaign.c — the campaign model: lookups, the ONE event check and its
 * memo (ct_campaign_checker), the life-entry check, campaign-local days (see ct_campaign.h,
 * docs/PROTOCOL.md §4). Reading campaign files is campaign/ct_campaign_load.c.
 *
 * Invariants: a ct_campaign's arrays are sorted (districts by code, agents
 * and groups by id, reorganizations by name, their moves by agent) and never change after loading,
 * so lookups are bsearch and a checker's remembered passes stay true for the campaign's lifetime.
 */
#include "ct_campaign.h"

#include <assert.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ct_life.h"
#include "ct_time.h"

void ct_campaign_free(ct_campaign *c)
{
    if (!c) return;
    for (size_t i = 0; c->districts && i < c->n_districts; i++)
        free(c->districts[i].communes);
    free(c->districts);
    free(c->agents);
    free(c->groups);
    for (size_t i = 0; c->reorgs && i < c->n_reorgs; i++) {
        free(c->reorgs[i].maps);
        free(c->reorgs[i].moves);
        free(c->reorgs[i].renames);
    }
    free(c->reorgs);
    memset(c, 0, sizeof *c);
}

static int cmp_code_key(const void *key, const void *elem)
{
    uint32_t k = *(const uint32_t *)key, v = ((const ct_district *)elem)->code;
    return (k > v) - (k < v);
}

const ct_district *ct_campaign_district(const ct_campaign *c, uint32_t code)
{
    if (!c || !c->n_districts) return NULL;
    return bsearch(&code, c->districts, c->n_districts, sizeof *c->districts, cmp_code_key);
}

static int cmp_agent_key(const void *key, const void *elem)
{
    return strcmp(key, ((const ct_agent *)elem)->id);
}

const ct_agent *ct_campaign_agent(const ct_campaign *c, const char *id)
{
    if (!c || !id || !c->n_agents) return NULL;
    return bsearch(id, c->agents, c->n_agents, sizeof *c->agents, cmp_agent_key);
}

static int cmp_group_key(const void *key, const void *elem)
{
    return strcmp(key, ((const ct_group *)elem)->id);
}

const ct_group *ct_campaign_group(const ct_campaign *c, const char *id)
{
    if (!c || !id || !c->n_groups) return NULL;
    return bsearch(id, c->groups, c->n_groups, sizeof *c->groups, cmp_group_key);
}

/* ---- the event check ----
 *
 * Two parts. check_roster() is given ONLY the event's campaign id, district,
 * agent and group, so it can read nothing else of the event: those four
 * values are the key under which ct_campaign_checker remembers a pass.
 * check_rest() gets the whole event and runs for every event, memo or not.
 * A rule that reads any other field (time, program, action, ...) can only be
 * written in check_rest(). */

static int cmp_move_key(const void *key, const void *elem)
{
    return strcmp(key, ((const ct_reorg_move *)elem)->agent);
}

/* Whether a declared reorganization moves staff member agent to unit
 * (docs/PROTOCOL.md §4.5): such a staff member may record for that unit,
 * whether or not the reorganization is in force yet (the check reads the
 * campaign, not the log). */
static bool moved_to(const ct_campaign *c, const char *agent, uint32_t unit)
{
    for (size_t i = 0; i < c->n_reorgs; i++) {
        const ct_reorg *r = &c->reorgs[i];
        const ct_reorg_move *m =
            r->n_moves ? bsearch(agent, r->moves, r->n_moves, sizeof *r->moves, cmp_move_key)
                       : NULL;
        if (m && m->to == unit) return true;
    }
    return false;
}

static ct_err check_roster(const ct_campaign *c, const char *campaign, uint32_t district,
                           const char *agent, const char *group)
{
    if (strcmp(campaign, c->id) != 0) return CT_ERR_WRONG_CAMPAIGN;
    if (!ct_campaign_district(c, district)) return CT_ERR_UNKNOWN_DISTRICT;
    const ct_agent *a = ct_campaign_agent(c, agent);
    if (!a) return CT_ERR_UNKNOWN_AGENT;
    if (a->district != district && !moved_to(c, agent, district)) return CT_ERR_AGENT_DISTRICT;
    if (group[0] && !ct_campaign_group(c, group)) return CT_ERR_UNKNOWN_GROUP;
    return CT_OK;
}

static int cmp_commune(const void *key, const void *elem)
{
    return strcmp(key, elem);
}

bool ct_campaign_commune_listed(const ct_district *d, const char *commune)
{
    return d && d->n_communes &&
           bsearch(commune, d->communes, d->n_communes, sizeof *d->communes, cmp_commune);
}

uint16_t ct_campaign_commune_code(const ct_campaign *c, uint32_t district, const char *commune)
{
    if (!c || !commune || !commune[0]) return 0;
    const ct_district *d = ct_campaign_district(c, district);
    if (!d || !d->n_communes) return 0;
    const char(*hit)[CT_COMMUNE_MAX + 1] =
        bsearch(commune, d->communes, d->n_communes, sizeof *d->communes, cmp_commune);
    if (!hit) return 0;
    assert(d->n_communes <= CT_COMMUNES_MAX);
    return (uint16_t)(hit - d->communes + 1);
}

static ct_err check_rest(const ct_campaign *c, const ct_event *ev, int64_t now_ms)
{
    if (ev->commune[0]) {
        const ct_district *d = ct_campaign_district(c, ev->district);
        if (d && d->n_communes && !ct_campaign_commune_listed(d, ev->commune))
            return CT_ERR_UNKNOWN_COMMUNE;
    }
    /* [start - tolerance, end + tolerance), computed without overflow */
    if (ev->occurred_ms < c->start_ms - c->tolerance_ms ||
        ev->occurred_ms >= c->end_ms + c->tolerance_ms)
        return CT_ERR_OUTSIDE_WINDOW;
    if (now_ms != INT64_MAX && now_ms <= INT64_MAX - c->max_future_ms &&
        ev->occurred_ms > now_ms + c->max_future_ms)
        return CT_ERR_IN_FUTURE;
    return CT_OK;
}

ct_err ct_campaign_check_event(const ct_campaign *c, const ct_event *ev, int64_t now_ms)
{
    if (!c || !ev) return CT_ERR_ARG;
    ct_err e = check_roster(c, ev->campaign, ev->district, ev->agent, ev->group);
    return e ? e : check_rest(c, ev, now_ms);
}

/* ---- the checker: the roster part's passes, remembered ---- */

#define CT_CHECKER_SLOTS 1024 /* a power of two */

typedef struct {
    bool used;
    uint32_t district;
    char campaign[CT_CAMPAIGN_ID_MAX + 1];
    char agent[CT_AGENT_ID_MAX + 1];
    char group[CT_GROUP_MAX + 1];
} checker_slot;

struct ct_campaign_checker {
    const ct_campaign *c;
    checker_slot slot[CT_CHECKER_SLOTS];
};

ct_err ct_campaign_checker_new(const ct_campaign *c, ct_campaign_checker **out)
{
    *out = NULL;
    if (!c) return CT_ERR_ARG;
    ct_campaign_checker *k = calloc(1, sizeof *k);
    if (!k) return CT_ERR_NOMEM;
    k->c = c;
    *out = k;
    return CT_OK;
}

void ct_campaign_checker_free(ct_campaign_checker *k)
{
    free(k);
}

static size_t checker_ix(const ct_event *ev)
{
    uint64_t h = 1469598103934665603ull ^ ev->district; /* FNV-1a */
    for (const char *s = ev->agent; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (const char *s = ev->group; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (CT_CHECKER_SLOTS - 1);
}

ct_err ct_campaign_checker_check(ct_campaign_checker *k, const ct_event *ev, int64_t now_ms)
{
    if (!k || !ev) return CT_ERR_ARG;
    checker_slot *sl = &k->slot[checker_ix(ev)];
    bool hit = sl->used && sl->district == ev->district && strcmp(sl->agent, ev->agent) == 0 &&
               strcmp(sl->group, ev->group) == 0 && strcmp(sl->campaign, ev->campaign) == 0;
    if (!hit) {
        ct_err e = check_roster(k->c, ev->campaign, ev->district, ev->agent, ev->group);
        if (e) return e; /* failures are not remembered */
        sl->used = true;
        sl->district = ev->district;
        memcpy(sl->campaign, ev->campaign, sizeof sl->campaign);
        memcpy(sl->agent, ev->agent, sizeof sl->agent);
        memcpy(sl->group, ev->group, sizeof sl->group);
    }
    return check_rest(k->c, ev, now_ms);
}

uint32_t ct_campaign_local_day(const ct_campaign *c, int64_t ms)
{
    return ct_time_yyyymmdd(ms, c ? c->tz_offset_min : 0);
}

/* ---- reorganizations and the life-entry check ---- */

static int cmp_reorg_key(const void *key, const void *elem)
{
    return strcmp(key, ((const ct_reorg *)elem)->name);
}

const ct_reorg *ct_campaign_reorg(const ct_campaign *c, const char *name)
{
    if (!c || !name || !c->n_reorgs) return NULL;
    return bsearch(name, c->reorgs, c->n_reorgs, sizeof *c->reorgs, cmp_reorg_key);
}

ct_err ct_campaign_check_life(const ct_campaign *c, const ct_life *l)
{
    if (!c || !l) return CT_ERR_ARG;
    if (strcmp(l->campaign, c->id) != 0) return CT_ERR_WRONG_CAMPAIGN;
    const bool has_unit = l->kind != CT_LIFE_REORG;
    const bool unit_zero_ok =
        l->kind == CT_LIFE_TARGET || l->kind == CT_LIFE_CLOSE || l->kind == CT_LIFE_REOPEN;
    const ct_district *d = NULL;
    if (has_unit) {
        d = ct_campaign_district(c, l->district);
        if (!d && !(l->district == 0 && unit_zero_ok)) return CT_ERR_UNKNOWN_DISTRICT;
    }
    if (l->kind == CT_LIFE_CORRECT) {
        if (l->has_new_agent) {
            const ct_agent *a = ct_campaign_agent(c, l->new_agent);
            if (!a) return CT_ERR_UNKNOWN_AGENT;
            if (a->district != l->district && !moved_to(c, l->new_agent, l->district))
                return CT_ERR_AGENT_DISTRICT;
        }
        if (l->has_new_commune && l->new_commune[0] && d && d->n_communes &&
            !ct_campaign_commune_listed(d, l->new_commune))
            return CT_ERR_UNKNOWN_COMMUNE;
        if (l->has_new_group && l->new_group[0] && !ct_campaign_group(c, l->new_group))
            return CT_ERR_UNKNOWN_GROUP;
    }
    if (l->kind == CT_LIFE_CLOSE || l->kind == CT_LIFE_REOPEN) {
        if (l->day < ct_campaign_local_day(c, c->start_ms) ||
            l->day > ct_campaign_local_day(c, c->end_ms - 1))
            return CT_ERR_OUTSIDE_WINDOW;
    }
    if (l->kind == CT_LIFE_REORG && !ct_campaign_reorg(c, l->reorg)) return CT_ERR_UNKNOWN_REORG;
    return CT_OK;
}
