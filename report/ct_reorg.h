/* ct_reorg.h — the two projections of one log's counters onto units
 * (docs/PROTOCOL.md §4.5 "Projection"): by the ORIGINAL units (the counters
 * as the tally keeps them) or by the units in force at the report's clock T
 * (CURRENT: merges summed, splits routed by commune, renames applied, staff
 * rows following their unit).
 *
 * The result is a campaign (the units shown, their names, targets, staff and
 * communes) and a counters table in the shape every report renderer takes,
 * so the reporter and `chitieu-audit replay` render either projection with
 * the same code and the same bytes. Pure: reads only its arguments.
 */
#ifndef CT_REORG_H
#define CT_REORG_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_status.h"

typedef enum { CT_UNITS_CURRENT = 0, CT_UNITS_ORIGINAL = 1 } ct_units;

/* "current", "original", NULL: the choices of the --units option. */
extern const char *const ct_units_names[];

/* A projection. When `projected` is false, the inputs are the projection
 * (a campaign without [reorg] sections: nothing to change) and the members
 * are empty; ct_reorg_campaign / ct_reorg_counts return the right pair. */
typedef struct {
    bool projected;
    ct_campaign campaign; /* owned: districts, agents, groups (no reorgs) */
    ct_counts counts;
    bool own_counts; /* counts is the projection (else the input's are) */
} ct_reorg_view;

/* Projects (c, in) for a report with clock now_ms. A reorganization is in
 * force when its REORG counter in `in` is in 1..now_ms. *v is initialised
 * here and freed with ct_reorg_view_free (also after a failure). */
ct_err ct_reorg_project(const ct_campaign *c, const ct_counts *in, int64_t now_ms, ct_units units,
                        ct_reorg_view *v);
const ct_campaign *ct_reorg_campaign(const ct_reorg_view *v, const ct_campaign *c);
const ct_counts *ct_reorg_counts(const ct_reorg_view *v, const ct_counts *in);
void ct_reorg_view_free(ct_reorg_view *v);

/* The JSON report (every staff member and day: the live page's) of (c, in)
 * projected by `units` at pos->now_ms, appended to out. */
ct_err ct_reorg_status_json(const ct_campaign *c, const ct_counts *in,
                            const ct_status_position *pos, ct_units units, ct_buf *out);

/* The unit a (unit, commune) of the original units belongs to once the
 * reorganizations in force (in[], n of them, in the order they apply)
 * are: each map whose (from, commune) matches, else the rest map of the
 * unit, else the unit itself. commune may be "" (a figure without one). */
uint32_t ct_reorg_route(const ct_reorg *const *in, size_t n, uint32_t unit, const char *commune);

#endif
