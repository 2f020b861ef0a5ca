/* ct_status.h — the quota status report: figures computed from counts, and
 * their renderings (terminal table, JSON line, CSV).
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

typedef enum { CT_FMT_TABLE = 0, CT_FMT_JSON = 1, CT_FMT_CSV = 2 } ct_status_format;

enum {
    CT_STATUS_STAFF = 1 << 0 /* list staff below quota, per district (long) */
};

typedef struct {
    uint64_t seq;              /* log position the counts reflect */
    uint8_t head[32];          /* chain head at seq */
    int64_t now_ms;            /* the report's clock */
    const char *feed;          /* "live" | "lagging" | "stale" | "replay" */
} ct_status_position;

/* Renders the whole report into out (appends). */
ct_err ct_status_render(const ct_campaign *c, const ct_counts *counts,
                        const ct_status_position *pos, ct_status_format fmt, unsigned flags,
                        ct_buf *out);

#endif
