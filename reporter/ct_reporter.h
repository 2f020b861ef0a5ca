/* ct_reporter.h — the reporter's loop: follows a ct_view and emits the quota
 * status report (report/ct_status) every interval, or once, to stdout or to a
 * file replaced atomically (base/ct_file), and keeps the HTTP documents
 * (ct_http: JSON report, metrics) within a second of each applied update.
 *
 * Invariants: a report is never made from counts the aggregator says belong
 * to another campaign file than the reporter's (unless accepted). A report is always rendered from
 * the view's counts at the view's log position (seq, head), so chitieu-audit replay reproduces it
 * from the same (seq, clock, feed label). The clock is the only input that is not from the
 * aggregator: real time, fixed, or simulated (start + real time elapsed since the loop began x
 * factor). Nothing is printed before the view first synced.
 */
#ifndef CT_REPORTER_H
#define CT_REPORTER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_http.h"
#include "ct_report_clock.h"
#include "ct_status.h"
#include "ct_view.h"

typedef struct {
    double interval_s;    /* between reports, > 0 */
    bool once;            /* one report after the first snapshot, then return */
    double timeout_s;     /* with once: CT_ERR_TIMEOUT when no snapshot by then */
    ct_status_format fmt; /* of the printed report (unless xlsx) */
    bool xlsx;            /* the report is a workbook (report/ct_status_xlsx); needs output */
    unsigned flags;       /* CT_STATUS_STAFF */
    const char *output;   /* NULL: stdout */
    ct_report_clock clock;
    bool accept_campaign_change; /* report although the aggregator names another campaign */
    int64_t silent_after_ms;     /* an office unheard of this long is silent (ct_hq.h) */
    int units; /* ct_units (report/ct_reorg.h): the units of the report, in force or original */
} ct_reporter_config;

/* Polls v (opened by the caller) and reports until *stop is set (CT_OK), the
 * --once report is out (CT_OK), or a failure: the feed fails (its error),
 * no snapshot within timeout_s with once (CT_ERR_TIMEOUT), the aggregator
 * names another campaign (id or fingerprint) than c and the change is not
 * accepted (CT_ERR_CAMPAIGN_MISMATCH, before any report of its counts), a report cannot be
 * written to stdout or, with once, to the output file (CT_ERR_IO). A failed
 * write to the output file in the periodic mode is logged and retried at the
 * next interval. http may be NULL. Every failure is logged before return. */
ct_err ct_reporter_run(const ct_reporter_config *cfg, const ct_campaign *c, ct_view *v,
                       ct_http *http, const volatile sig_atomic_t *stop);

#endif
