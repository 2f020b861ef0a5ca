/* CONTRACT (docs/PROTOCOL.md §4): a change here is a change to the protocol.
 *
 * ct_campaign.h — the campaign model and the ONE check of an event against
 * it. A campaign (id, window, time zone, tolerance, programs, districts and
 * their targets, groups, the staff roster) is read from its files by
 * campaign/ct_campaign_load.h; this header is what every process and an
 * outside implementation must agree on once it is loaded.
 *
 * Province targets are the sums of the district targets, leaving out units that
 * exist only after a reorganization (docs/PROTOCOL.md §4.5). Lookups are
 * O(log n) (sorted arrays, bsearch). A loaded ct_campaign is immutable and
 * owned by the caller (ct_campaign_free).
 */
#ifndef CT_CAMPAIGN_H
#define CT_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_event.h"

#define CT_NAME_MAX 160

typedef enum { CT_ORG_BHXH = 0, CT_ORG_BUUDIEN = 1 } ct_org;

typedef struct {
    char id[CT_AGENT_ID_MAX + 1];
    char name[CT_NAME_MAX + 1];
    uint32_t district;
    ct_org org;
    unsigned roster_line; /* line in the CSV, for messages */
} ct_agent;

#define CT_COMMUNES_MAX 1024 /* communes one unit may list */

typedef struct {
    uint32_t code;
    char name[CT_NAME_MAX + 1];
    uint32_t target[CT_PROGRAM_COUNT];
    uint32_t n_agents; /* staff on the roster in this district */
    /* the unit's communes (sorted bytewise, unique); none: any commune */
    char (*communes)[CT_COMMUNE_MAX + 1];
    size_t n_communes;
} ct_district;

typedef struct {
    char id[CT_GROUP_MAX + 1];
    char name[CT_NAME_MAX + 1];
} ct_group;

/* A declared unit reorganization (docs/PROTOCOL.md §4.5): in force only
 * once a "reorg" life entry names it (§2.2, §5.3). */
typedef struct {
    uint32_t from;                    /* an original unit */
    char commune[CT_COMMUNE_MAX + 1]; /* one of its communes; "" = the rest of it */
    uint32_t to;                      /* the unit it belongs to once in force */
} ct_reorg_map;

typedef struct {
    char agent[CT_AGENT_ID_MAX + 1]; /* a staff member of the roster */
    uint32_t to;                     /* the unit they record for once in force */
} ct_reorg_move;

typedef struct {
    uint32_t unit;
    char name[CT_NAME_MAX + 1]; /* the unit's name once in force */
} ct_reorg_rename;

#define CT_REORG_NAME_MAX 32

typedef struct {
    char name[CT_REORG_NAME_MAX + 1]; /* the section's NAME: what a "reorg" entry names */
    char label[CT_NAME_MAX + 1];      /* for people */
    ct_reorg_map *maps;               /* sorted by (from, commune) */
    size_t n_maps;
    ct_reorg_move *moves; /* sorted by agent */
    size_t n_moves;
    ct_reorg_rename *renames; /* sorted by unit */
    size_t n_renames;
} ct_reorg;

typedef struct {
    char id[CT_CAMPAIGN_ID_MAX + 1];
    char name[CT_NAME_MAX + 1];
    int64_t start_ms;      /* inclusive */
    int64_t end_ms;        /* exclusive */
    int32_t tz_offset_min; /* e.g. +420 for UTC+07:00 */
    int64_t tolerance_ms;
    int64_t max_future_ms;
    uint32_t agent_target[CT_PROGRAM_COUNT];
    uint32_t province_target[CT_PROGRAM_COUNT];
    ct_district *districts; /* sorted by code */
    size_t n_districts;
    ct_agent *agents; /* sorted by id */
    size_t n_agents;
    ct_group *groups; /* sorted by id */
    size_t n_groups;
    ct_reorg *reorgs; /* sorted by name */
    size_t n_reorgs;
    uint8_t fingerprint[32]; /* BLAKE2b-256 over campaign file bytes || roster bytes */
} ct_campaign;

/* Frees what a loader put in *c and zeroes it; NULL is fine. */
void ct_campaign_free(ct_campaign *c);

const ct_district *ct_campaign_district(const ct_campaign *c, uint32_t code);
const ct_agent *ct_campaign_agent(const ct_campaign *c, const char *id);
const ct_group *ct_campaign_group(const ct_campaign *c, const char *id);
/* Whether commune is one of d's communes (false when d lists none). */
bool ct_campaign_commune_listed(const ct_district *d, const char *commune);
/* The commune code (docs/PROTOCOL.md §4.4) of commune in unit district: its
 * 1-based index in the unit's commune list sorted bytewise; 0 when commune
 * is empty, the unit lists no communes or does not list this one. */
uint16_t ct_campaign_commune_code(const ct_campaign *c, uint32_t district, const char *commune);

/* Validation of a decoded event against the campaign. now_ms is the
 * receiver's clock (for CT_ERR_IN_FUTURE); pass INT64_MAX to skip that check.
 * Checks, in order: campaign id, district, agent on roster, agent's district,
 * group known, commune (when present and the unit lists communes) listed,
 * occurred-at in [start - tolerance, end + tolerance),
 * occurred-at <= now + max_future. */
ct_err ct_campaign_check_event(const ct_campaign *c, const ct_event *ev, int64_t now_ms);

/* ct_campaign_check_event for one thread checking many events against one
 * campaign (the audit's replay of millions): same result and error code for
 * every input, faster when events repeat their staff member.
 *
 * The check has two parts (ct_campaign.c). The roster part is given only the
 * event's campaign id, district, agent and group; the checker remembers its
 * PASSES keyed by exactly those four values (compared in full, not by hash).
 * The other part (window, clock, anything reading another field) runs for
 * every event. So a rule added to the check can never be skipped by a memo
 * hit: in the roster part it can read only the key; anywhere else it is never
 * memoised. Failures are never remembered. The checker borrows c (which must
 * outlive it) and is not thread-safe: one per thread. */
typedef struct ct_campaign_checker ct_campaign_checker;

ct_err ct_campaign_checker_new(const ct_campaign *c, ct_campaign_checker **out);
void ct_campaign_checker_free(ct_campaign_checker *k);
ct_err ct_campaign_checker_check(ct_campaign_checker *k, const ct_event *ev, int64_t now_ms);

/* The declared reorganization of that name, NULL if none. */
const ct_reorg *ct_campaign_reorg(const ct_campaign *c, const char *name);

struct ct_life;
/* Validation of a decoded life entry against the campaign (docs/PROTOCOL.md
 * §2.2 "Checked against the campaign"): campaign id, unit (0 where the kind
 * allows it), new agent on the roster of the unit or moved to it by a
 * declared reorganization, new commune listed, new group known, day within
 * the campaign, reorganization declared. */
ct_err ct_campaign_check_life(const ct_campaign *c, const struct ct_life *l);

/* Campaign-local calendar day of ms as YYYYMMDD (uses tz_offset_min). */
uint32_t ct_campaign_local_day(const ct_campaign *c, int64_t ms);

#endif
