/* ct_campaign.h — the campaign definition and its staff roster.
 *
 * A campaign is an INI file (parsed with inih) plus a roster CSV (parsed with
 * libcsv) that it names. docs/PROTOCOL.md §4 and examples/lamdong-2023/ show
 * the format. Example:
 *
 *   [campaign]
 *   id = lamdong-2023
 *   name = Lâm Đồng: ra quân BHXH tự nguyện, BHYT hộ gia đình
 *   start = 2023-07-22T08:00:00+07:00     ; inclusive
 *   end = 2023-08-01T00:00:00+07:00       ; exclusive
 *   timezone = +07:00                     ; campaign-local days use this offset
 *   tolerance = 600                       ; seconds accepted outside the window
 *   max_future = 300                      ; seconds an event may be ahead of "now"
 *   roster = staff.csv                    ; relative to this file
 *
 *   [program bhxh_tn]
 *   agent_target = 1
 *   [program bhyt_hgd]
 *   agent_target = 2
 *
 *   [district 672]
 *   name = Thành phố Đà Lạt
 *   ; target.bhxh_tn = 30   (optional; default agent_target x staff in district)
 *
 *   [group nq143]
 *   name = Hỗ trợ theo Nghị quyết 143/NQ-HĐND
 *
 *   roster CSV, header required:  agent_id,name,district,org
 *   org is "bhxh" (social-insurance office) or "buudien" (post office).
 *
 * Province targets are the sums of the district targets. Loading checks
 * everything (unknown keys and sections, duplicate districts/agents, agents
 * of unknown districts, bad times, empty roster) and reports the FIRST error
 * as "path:line: message" in errbuf.
 *
 * Lookups are O(log n) (sorted arrays, bsearch). A loaded ct_campaign is
 * immutable and owned by the caller (ct_campaign_free).
 */
#ifndef CT_CAMPAIGN_H
#define CT_CAMPAIGN_H

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

typedef struct {
    uint32_t code;
    char name[CT_NAME_MAX + 1];
    uint32_t target[CT_PROGRAM_COUNT];
    uint32_t n_agents; /* staff on the roster in this district */
} ct_district;

typedef struct {
    char id[CT_GROUP_MAX + 1];
    char name[CT_NAME_MAX + 1];
} ct_group;

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
    uint8_t fingerprint[32]; /* BLAKE2b-256 over campaign file bytes || roster bytes */
} ct_campaign;

ct_err ct_campaign_load(const char *path, ct_campaign *out, char *errbuf, size_t errlen);
/* Same, from memory (name is used in messages; roster given as bytes too). */
ct_err ct_campaign_load_mem(const char *name, const char *ini, size_t ini_len,
                            const char *roster_name, const char *roster, size_t roster_len,
                            ct_campaign *out, char *errbuf, size_t errlen);
void ct_campaign_free(ct_campaign *c);

const ct_district *ct_campaign_district(const ct_campaign *c, uint32_t code);
const ct_agent *ct_campaign_agent(const ct_campaign *c, const char *id);
const ct_group *ct_campaign_group(const ct_campaign *c, const char *id);

/* Validation of a decoded event against the campaign. now_ms is the
 * receiver's clock (for CT_ERR_IN_FUTURE); pass INT64_MAX to skip that check.
 * Checks, in order: campaign id, district, agent on roster, agent's district,
 * group known, occurred-at in [start - tolerance, end + tolerance),
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

/* Campaign-local calendar day of ms as YYYYMMDD (uses tz_offset_min). */
uint32_t ct_campaign_local_day(const ct_campaign *c, int64_t ms);

#endif
