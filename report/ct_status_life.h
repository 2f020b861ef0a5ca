/* ct_status_life.h — the campaign's life in the status report: what the
 * counters of tally version 3 (docs/PROTOCOL.md §5.1 kinds 10..21, §5.3)
 * say about voids and corrections, revised targets, closed days, late data,
 * and the rankings by attainment of each one's own quota. Computed from
 * (campaign, counters, clock) only (ct_status_life.c), rendered with the
 * rest of the report (ct_status_life_render.c, ct_status_life_xlsx.c), so
 * `chitieu-audit replay` reproduces every figure at the same position.
 *
 * Present (ct_status_figures.life != NULL) when the counters hold any key
 * of kinds 10..21: a store of tally version 3 with at least one counted
 * enroll or life entry. Without them the report is the one of tally
 * version 2, byte for byte.
 *
 * Rules (docs/reporter.md, "The campaign's life"):
 *  - target in force for (program p, unit u) at the clock T: the TARGET
 *    (p, u, ef || seq) with the greatest (ef, seq) among ef <= T; else, when
 *    a per-staff quota revision (u = 0) is in force at T, that quota x the
 *    unit's staff (campaign roster); else the campaign file's target. The
 *    province's is the sum over its units. The quota in force for staff is
 *    the TARGET (p, 0, ...) of greatest (ef, seq) with ef <= T, else the
 *    file's agent_target. Pace, required daily rate, projection, verdicts
 *    and staff_met use the targets in force.
 *  - target history: every revision the counters hold (in force or not yet,
 *    ef > T: "pending"), ordered by (program, unit, ef, seq); its "old" is
 *    the value of the revision before it in that order for the same
 *    (program, unit), else the campaign file's (target, or agent_target for
 *    u = 0).
 *  - a day D is closed for unit u by CLOSE(u, D) (the unit's close) or
 *    CLOSE(0, D) (the province's); the close in force for the unit is its
 *    own when it has one, else the province's. Official figure = DAY -
 *    AFTER_CLOSE(p, u, D, close seq) (= DAY at close seq - 1); the
 *    province's official figure of a day exists when the province closed it
 *    (sum over units with the province's close seq). By units in force, a
 *    merged unit's day closed only by the closes of some of its parts (the
 *    projection's CLOSE (u, D || part)) is closed "by part": official = DAY
 *    - the AFTER_CLOSE of each of those closes (ct_life_day.part).
 *  - lateness per unit (both programs): LATE_HIST summed; p50 / p90 = the
 *    first bucket where the cumulative count c satisfies 2c >= n / 10c >=
 *    9n; reported as the bucket and its upper bound in seconds (none for
 *    bucket 7, "7 days or more"); max = the greatest LATE_MAX.
 *  - ranking (per program): attainment = net / target in force (100 % when
 *    the target is 0), compared exactly; ties by larger net, then fewer
 *    voided, then unit code (offices) or unit code then agent id bytes
 *    (staff). Positions 1..n, no shared ranks. Staff are ranked against the
 *    quota in force; each counts the AGENT counters of its roster unit.
 */
#ifndef CT_STATUS_LIFE_H
#define CT_STATUS_LIFE_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_status.h"

#define CT_LIFE_KINDS 6

typedef struct {
    ct_program program;
    uint32_t unit; /* 0: the per-staff quota */
    int64_t ef_ms;
    uint64_t seq;
    int64_t old_value, new_value;
    bool pending; /* ef_ms > the report's clock: not in force yet */
} ct_life_target;

typedef struct {
    uint64_t seq;
    uint8_t kind;  /* 1 void .. 6 reorg (docs/PROTOCOL.md §5.3) */
    uint32_t unit; /* 0: province (close, reopen), quota (target), reorg */
    uint32_t day;  /* a close still in force: its day; else 0 */
    int target;    /* a target: index in ct_status_life.targets; else -1 */
} ct_life_change;

typedef struct {
    uint32_t day;
    uint64_t close_seq; /* close in force (the unit's, else the province's, else the latest
                           of its parts'); 0 = open */
    bool by_province;   /* close_seq is the province's */
    /* by units in force, a merged unit's day closed by none of those but by
     * the close of one or more of its parts (units merged into it): part =
     * the part whose close is close_seq, n_parts of them; official = current
     * - the part's arrivals after its close, summed over those parts (each
     * part pinned at its close, the other parts' figures current). 0 when
     * the unit's own or the province's close is in force. */
    uint32_t part, n_parts;
    uint64_t part_seq;
    int64_t part_after[CT_PROGRAM_COUNT];
    int64_t current[CT_PROGRAM_COUNT];
    int64_t official[CT_PROGRAM_COUNT]; /* = current when open */
    int64_t late_closed[CT_PROGRAM_COUNT];
    int64_t after_day[CT_PROGRAM_COUNT];
    int64_t received[CT_PROGRAM_COUNT]; /* RECV_DAY */
} ct_life_day;

typedef struct {
    int64_t hist[CT_LATE_BUCKETS]; /* both programs */
    int64_t counted;               /* sum of hist */
    int p50, p90;                  /* bucket, -1 when counted == 0 */
    int64_t max_s;
    int64_t after_day, late_closed; /* both programs, every day */
} ct_life_late;

typedef struct {
    int64_t voided[CT_PROGRAM_COUNT], corrected[CT_PROGRAM_COUNT];
    int64_t target_original[CT_PROGRAM_COUNT];
    ct_life_late late;
    ct_life_day *days; /* n_days rows aligned with ct_status_figures.days */
    /* RECV_DAY on a day that is not one of the report's days (received
     * after the window's last day, typically) */
    int64_t received_outside[CT_PROGRAM_COUNT];
} ct_life_unit;

typedef struct {
    size_t unit; /* index in ct_status_figures.districts (code order) */
    int64_t net, target, pct_x10, voided;
} ct_life_office_rank;

typedef struct {
    const ct_agent *agent; /* points into the campaign */
    size_t unit;
    int64_t net, target, pct_x10, voided;
} ct_life_staff_rank;

typedef struct ct_status_life_s {
    int64_t quota[CT_PROGRAM_COUNT];          /* per-staff quota in force */
    int64_t quota_original[CT_PROGRAM_COUNT]; /* the campaign file's */
    ct_life_target *targets;
    size_t n_targets;
    ct_life_change *changes; /* the LIFE index, by seq */
    size_t n_changes;
    ct_life_unit province; /* days: the province's close; official only when closed by it */
    ct_life_unit *units;   /* aligned with ct_status_figures.districts */
    size_t n_units;
    ct_life_office_rank *offices[CT_PROGRAM_COUNT]; /* n_units each, ranked */
    ct_life_staff_rank *staff[CT_PROGRAM_COUNT];    /* n_staff each, ranked */
    size_t n_staff;
} ct_status_life;

/* True when the counters hold a key of kinds 10..21. */
bool ct_status_life_present(const ct_counts *counts);

/* Per-staff quota in force and each unit's target in force at now_ms
 * (quota[p]; unit_target[i][p] for campaign unit i); CT_ERR_NOMEM. */
ct_err ct_status_life_targets_in_force(const ct_campaign *c, const ct_counts *counts,
                                       int64_t now_ms, int64_t quota[CT_PROGRAM_COUNT],
                                       int64_t (*unit_target)[CT_PROGRAM_COUNT]);

/* Fills *out from the counters and the figures already computed (nets,
 * targets in force, days); on error frees and zeroes it. */
ct_err ct_status_life_compute(const ct_campaign *c, const ct_counts *counts,
                              const ct_status_figures *f, ct_status_life *out);
void ct_status_life_free(ct_status_life *l);

/* Renderings (ct_status_life_render.c), called by ct_status_render.c
 * when f->life is set. JSON: the per-program members of a unit (unit =
 * index in f->districts, or SIZE_MAX for the province), a district's days
 * (detail) and the top-level "life" member, each starting with ",". */
ct_err ct_status_life_json_prog(ct_buf *b, const ct_status_figures *f, size_t unit, int p);
ct_err ct_status_life_json_days(ct_buf *b, const ct_status_figures *f, size_t unit);
ct_err ct_status_life_json(ct_buf *b, const ct_campaign *c, const ct_status_figures *f);
/* The terminal table's sections (flags: CT_STATUS_STAFF ranks every staff
 * member, else the first 10 of each program). */
ct_err ct_status_life_table(ct_buf *b, const ct_campaign *c, const ct_status_figures *f,
                            unsigned flags);
/* One of the CSV formats CHANGES_CSV .. RANKING_CSV; tail = the position
 * columns every row ends with (",as_of,seq,head,feed" values). */
ct_err ct_status_life_csv(ct_buf *b, const ct_campaign *c, const ct_status_figures *f,
                          ct_status_format fmt, const char *tail);
/* A lateness in seconds for people: "45 s", "12 min", "3 h 05 min",
 * "2 d 04 h". buf >= 32. */
void ct_status_fmt_duration(int64_t s, char *buf, size_t len);

/* "void" .. "reorg"; "unknown" outside 1..6. */
const char *ct_status_life_kind_name(uint8_t kind);
/* Upper bound of a lateness bucket in seconds; -1 for bucket 7 (none). */
int64_t ct_status_late_bound_s(int bucket);

#endif
