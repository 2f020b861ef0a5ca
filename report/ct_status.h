/* ct_status.h — the quota status report: figures computed from counts
 * (ct_status.c), and their renderings (terminal table, JSON line, CSV;
 * ct_status_render.c). Strings are escaped, quoted and measured by the rules
 * of base/ct_text.h.
 *
 * Shared by chitieu-reporter (live) and chitieu-audit replay (as of a log
 * position), so a report printed live is reproduced byte for byte by the
 * replay given the same (campaign, counts, seq, head, clock, feed label).
 * Pure: no I/O, no clock reads; "now" is an argument.
 *
 * Pace, per district and province, per program (campaign window [start,end),
 * now clamped into it):
 *   elapsed_frac   = (now - start) / (end - start)          (0 before, 1 after)
 *   expected_now   = target * elapsed_frac                  (steady pace)
 *   days_left      = (end - now) / 86400000                 (fractional)
 *   required_daily = max(0, target - net) / days_left       (0 if no time left)
 *   projection     = net / elapsed_frac                     (net if frac == 0)
 *   verdict        = "reached" if net >= target; else "on_track" if
 *                    projection >= target; else "at_risk"; "not_started" before
 *                    start (no verdict); after end "final" + reached/missed.
 * Integers stay integers; ratios are rounded half-away-from-zero to 1 decimal
 * in every rendering (so renderings are reproducible bit for bit).
 */
#ifndef CT_STATUS_H
#define CT_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_error.h"

/* CSV: one row per district and program, then the province's rows.
 * STAFF_CSV: one row per staff member (roster order within campaign district
 * order) with both programs' counts, targets, attainment and whether met.
 * COMMUNE_CSV: per unit that lists communes, one row per commune (code
 * order) with both programs' net, then a row of code 0 and no name: the
 * unit's enrollments that named no listed commune.
 * CHANGES_CSV, DAYS_CSV, LATE_CSV, RANKING_CSV: the campaign's life
 * (ct_status_life.h): the life entries by seq; per unit, day and program
 * recorded / official / received; lateness per unit; the rankings. Header
 * only when the counters hold no life figures.
 * All end every row with the position (as_of, seq, head, feed). */
typedef enum {
    CT_FMT_TABLE = 0,
    CT_FMT_JSON = 1,
    CT_FMT_CSV = 2,
    CT_FMT_STAFF_CSV = 3,
    CT_FMT_COMMUNE_CSV = 4,
    CT_FMT_CHANGES_CSV = 5,
    CT_FMT_DAYS_CSV = 6,
    CT_FMT_LATE_CSV = 7,
    CT_FMT_RANKING_CSV = 8
} ct_status_format;

enum {
    CT_STATUS_STAFF = 1 << 0, /* list staff below quota, per district (long) */
    CT_STATUS_DETAIL = 1 << 1 /* JSON: every staff member and the days, per district
                                 (the live page's drill-down) */
};

typedef struct {
    uint64_t seq;     /* log position the counts reflect */
    uint8_t head[32]; /* chain head at seq */
    int64_t now_ms;   /* the report's clock */
    const char *feed; /* "live" | "lagging" | "stale" | "replay" */
} ct_status_position;

/* Renders the whole report into out (appends). */
ct_err ct_status_render(const ct_campaign *c, const ct_counts *counts,
                        const ct_status_position *pos, ct_status_format fmt, unsigned flags,
                        ct_buf *out);

/* The computed figures behind the renderings (reporter's /metrics, tests).
 * ct_status_render() == ct_status_compute() + a renderer.
 *
 * Phases: not_started when now <= start (nothing can have elapsed: verdict
 * "not_started"), running when start < now < end, final when now >= end
 * (verdict "reached" or "missed"). Every "_x10" value is the ratio x 10,
 * rounded half away from zero (so 12.5% is 125): renderings print it with one
 * decimal. Districts are in campaign order (ascending code, so the provincial
 * office 68 comes first); the province row sums the districts.
 *   target         = the target in force at now (ct_status_life.h: a
 *                    revision effective at or before now, else the file's)
 *   pct            = net * 100 / target        (100.0 when target == 0)
 *   remaining      = max(0, target - net)
 *   staff_met[p]   = staff whose AGENT count for p >= agent_target[p] (the
 *                    quota in force)
 *   staff_met_both = staff meeting every program's agent_target
 * Per district, day_net sums the district's DAY counters (so the districts'
 * rows add up to the province's days). A district whose unit lists communes
 * has one row per commune (code order, docs/PROTOCOL.md §4.4) with its
 * COMMUNE counters, and commune_none = net - the communes' sum (enrollments
 * that named no listed commune); a unit without a list has none of these.
 */
typedef enum { CT_PHASE_NOT_STARTED = 0, CT_PHASE_RUNNING = 1, CT_PHASE_FINAL = 2 } ct_status_phase;

typedef enum {
    CT_VERDICT_NOT_STARTED = 0,
    CT_VERDICT_REACHED = 1,
    CT_VERDICT_ON_TRACK = 2,
    CT_VERDICT_AT_RISK = 3,
    CT_VERDICT_MISSED = 4
} ct_status_verdict;

typedef struct {
    int64_t net, target, gross, cancelled, repeats, remaining;
    int64_t pct_x10, expected_x10, required_daily_x10, projection_x10;
    ct_status_verdict verdict;
    uint32_t staff_met;
} ct_status_prog;

typedef struct {
    const ct_agent *agent;             /* points into the campaign */
    int64_t count[CT_PROGRAM_COUNT];   /* AGENT counters */
    int64_t voided[CT_PROGRAM_COUNT];  /* VOIDED counters of the agent in its unit */
    int64_t pct_x10[CT_PROGRAM_COUNT]; /* count * 100 / agent_target (100.0 when 0) */
} ct_status_staff;

typedef struct {
    uint16_t code;                 /* commune code, 1-based */
    const char *name;              /* points into the campaign */
    int64_t net[CT_PROGRAM_COUNT]; /* COMMUNE counters */
} ct_status_commune;

typedef struct {
    uint32_t code;    /* 0 for the province row */
    const char *name; /* campaign's name; "Toàn tỉnh" for the province */
    uint32_t staff;
    uint32_t staff_met_both;
    ct_status_prog prog[CT_PROGRAM_COUNT];
    ct_status_staff *below; /* staff below quota (districts only), by agent id */
    size_t n_below;
    ct_status_staff *members; /* every staff member (districts only), roster order */
    size_t n_members;
    /* districts only: net per program per day, n_days rows aligned with
     * ct_status_figures.days; steady pace to the district's target (x10) */
    int64_t (*day_net)[CT_PROGRAM_COUNT];
    int64_t (*day_steady_x10)[CT_PROGRAM_COUNT];
    /* districts listing communes only (else NULL, 0) */
    ct_status_commune *communes;
    size_t n_communes;
    int64_t commune_none[CT_PROGRAM_COUNT];
} ct_status_unit;

typedef struct {
    char id[CT_GROUP_MAX + 1];
    const char *name;              /* campaign's name, or the id if unknown */
    int64_t net[CT_PROGRAM_COUNT]; /* GROUP counters summed over districts */
} ct_status_group;

typedef struct {
    uint32_t day;                         /* YYYYMMDD, campaign-local */
    int64_t net[CT_PROGRAM_COUNT];        /* DAY counters summed over districts */
    int64_t cum[CT_PROGRAM_COUNT];        /* running sum up to and including day */
    int64_t steady_x10[CT_PROGRAM_COUNT]; /* province target x fraction of the
                                             window elapsed at the day's end */
    int64_t elapsed_ms;                   /* of the window at the day's end */
} ct_status_day;

struct ct_status_life_s;

typedef struct {
    ct_status_phase phase;
    int64_t now_ms;
    int64_t span_ms, elapsed_ms, left_ms; /* now clamped into [start, end] */
    int64_t elapsed_days_x10, days_left_x10, span_days_x10;
    ct_status_unit province;
    ct_status_unit *districts;
    size_t n_districts;
    ct_status_group *groups; /* campaign groups by id, then unknown ids seen */
    size_t n_groups;
    ct_status_day *days; /* the window's local days + any day with counts */
    size_t n_days;
    int64_t agent_target[CT_PROGRAM_COUNT]; /* per-staff quota in force (ct_status_life.h) */
    /* the campaign's life (ct_status_life.h); NULL when the counters hold
     * no key of kinds 10..21 */
    struct ct_status_life_s *life;
} ct_status_figures;

ct_err ct_status_compute(const ct_campaign *c, const ct_counts *counts, int64_t now_ms,
                         ct_status_figures *out);
void ct_status_figures_free(ct_status_figures *f);
/* The clock part of f (now, phase, span, elapsed, left, and their days) for
 * the window [start_ms, end_ms) at now_ms; end_ms > start_ms. */
void ct_status_set_clock(ct_status_figures *f, int64_t start_ms, int64_t end_ms, int64_t now_ms);
/* One program's pace from its net and target under f's clock: remaining,
 * pct, expected, required_daily, projection, verdict (the rules above). */
void ct_status_pace(ct_status_prog *pr, const ct_status_figures *f);
/* Renders precomputed figures (same output as ct_status_render). */
ct_err ct_status_render_figures(const ct_campaign *c, const ct_status_figures *f,
                                const ct_status_position *pos, ct_status_format fmt, unsigned flags,
                                ct_buf *out);
const char *ct_status_phase_name(ct_status_phase p);     /* "not_started"|"running"|"final" */
const char *ct_status_verdict_name(ct_status_verdict v); /* "reached"|"on_track"|... */
/* "12.5", "-0.5", "0.0" — one decimal of an _x10 value. buf >= 24. */
void ct_status_fmt_x10(int64_t v, char *buf, size_t len);
/* Parses "table" | "json" | "csv" | "commune-csv" | "changes-csv" |
 * "days-csv" | "late-csv" | "ranking-csv". */
ct_err ct_status_format_parse(const char *s, ct_status_format *out);

#endif
