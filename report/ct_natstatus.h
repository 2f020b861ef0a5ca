/* ct_natstatus.h — the national report: every province's figures (the
 * provincial report's, report/ct_status, from that province's counts at its
 * log position), national totals over the provinces that have figures,
 * against the national targets, and rankings by attainment.
 *
 * Shared by chitieu-reporter --national (live) and chitieu-audit
 * national-replay, so a national report is reproduced byte for byte from the
 * provinces' logs given the same pins. Pure: no I/O, no clock reads.
 *
 * Pins: the report names, for each province, the position and the state its
 * figures were taken at, and the report's clock, in one string
 *     <now_ms>/<code>:<seq>:<feed>:<age_ms>,<code>:<seq>:<feed>:<age_ms>,...
 * (provinces in code order; feed is live|lagging|stale|not_connected|
 * campaign_mismatch; age_ms is -1 when there are no figures). A province
 * whose feed is not_connected or campaign_mismatch has no figures and seq 0.
 *
 * National figures (national window = ct_national's union window):
 *   included       = provinces with figures; totals say "of included/all"
 *   net, gross, cancelled, repeats, staff, staff_met = sums over included
 *   target         = the national target (ct_national.target)
 *   province_target_sum = sum of the included provinces' own targets
 *   pace           = ct_status_pace over the national window
 *   rank[p]        = 1.. by pct (desc), then net (desc), then code (asc),
 *                    among the included; 0 for the others
 */
#ifndef CT_NATSTATUS_H
#define CT_NATSTATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_national.h"
#include "ct_status.h"

#define CT_NAT_FEED_MAX 24

/* One province as the caller saw it. counts NULL: no figures. */
typedef struct {
    const ct_counts *counts;
    uint64_t seq;
    uint8_t head[32];
    char feed[CT_NAT_FEED_MAX]; /* see Pins */
    int64_t age_ms;             /* age of the figures; -1 none */
} ct_natstatus_input;

typedef struct {
    const ct_nat_province *p; /* points into the ct_national */
    bool has;                 /* figures present */
    ct_status_figures f;      /* the provincial figures (has) */
    uint64_t seq;
    uint8_t head[32];
    char feed[CT_NAT_FEED_MAX];
    int64_t age_ms;
    uint32_t rank[CT_PROGRAM_COUNT];
} ct_natstatus_prov;

typedef struct {
    ct_status_figures clock; /* the national window's clock part only */
    ct_status_prog total[CT_PROGRAM_COUNT];
    int64_t province_target_sum[CT_PROGRAM_COUNT];
    uint32_t staff, staff_met_both;
    size_t n_included;
    ct_natstatus_prov *provs; /* ct_national order (by code) */
    size_t n_provs;
    size_t *order[CT_PROGRAM_COUNT]; /* ranking: indices into provs, included first */
} ct_natstatus;

ct_err ct_natstatus_compute(const ct_national *n, const ct_natstatus_input *in, int64_t now_ms,
                            ct_natstatus *out);
void ct_natstatus_free(ct_natstatus *s);

typedef enum { CT_NAT_TABLE = 0, CT_NAT_JSON = 1, CT_NAT_CSV = 2 } ct_natstatus_format;
/* JSON: each province also carries its provincial report ("report": the
 * provincial JSON with CT_STATUS_DETAIL: every staff member and day per
 * unit) for the page. */
#define CT_NAT_DETAIL 1u

ct_err ct_natstatus_render(const ct_national *n, const ct_natstatus *s, ct_natstatus_format fmt,
                           unsigned flags, ct_buf *out);
/* The pins string of s (see above) into out (appends, NUL not included). */
ct_err ct_natstatus_pins(const ct_natstatus *s, ct_buf *out);
/* Parses a pins string against n: *now_ms and one input per province (counts
 * NULL, seq, feed, age); CT_ERR_ARG with a message when it does not name
 * exactly n's provinces in order or a field is malformed. */
ct_err ct_natstatus_pins_parse(const ct_national *n, const char *pins, int64_t *now_ms,
                               ct_natstatus_input *in, char *err, size_t errlen);
/* "table" | "json" | "csv". */
ct_err ct_natstatus_format_parse(const char *s, ct_natstatus_format *out);

#endif
