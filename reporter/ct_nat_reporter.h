/* ct_nat_reporter.h — chitieu-reporter --national: follows every province of
 * a national campaign file at once, one verified mirror per province
 * (ct_view, the same Clone-pattern checks as the provincial reporter), and
 * emits the national report (report/ct_natstatus) every interval or once, and
 * the live national page's documents (ct_http).
 *
 * Per province: its feed state is the view's (live | lagging | stale |
 * not_connected), or campaign_mismatch while its aggregator names another
 * campaign than the province's file (its counts are then left out of the
 * report, the others stay live). The age of a province's figures is the time
 * since its view last received a message (-1 before its first snapshot).
 *
 * Invariants: a province's figures are always its view's counts at the
 * view's (seq, head), and the report names those positions (its pins), so
 * chitieu-audit national-replay reproduces it byte for byte from the
 * provinces' logs. One view per province, owned here; nothing is printed
 * before the first report time.
 */
#ifndef CT_NAT_REPORTER_H
#define CT_NAT_REPORTER_H

#include <signal.h>
#include <stdbool.h>

#include "ct_error.h"
#include "ct_http.h"
#include "ct_keys.h"
#include "ct_national.h"
#include "ct_natstatus.h"
#include "ct_reporter.h"

typedef struct {
    double interval_s; /* > 0 */
    bool once;         /* one report when every province synced (or at timeout_s) */
    double timeout_s;  /* with once: the report is printed then, and CT_ERR_TIMEOUT returned
                          when a province has no figures */
    ct_natstatus_format fmt;
    bool xlsx;          /* the report is a workbook (report/ct_natstatus_xlsx); needs output */
    const char *output; /* NULL: stdout; a CSV file gets a UTF-8 BOM */
    ct_report_clock clock;
    bool secure; /* CURVE with client below and each province's server_key */
    ct_keypair client;
    int feed_hwm;
} ct_nat_reporter_config;

/* Opens the views on zctx, reports until *stop, the --once report, or a
 * failure (a view's socket error; a province's server key that cannot be read:
 * CT_ERR_CONFIG; stdout gone: CT_ERR_IO). http may be NULL. */
ct_err ct_nat_reporter_run(const ct_nat_reporter_config *cfg, const ct_national *n, void *zctx,
                           ct_http *http, const volatile sig_atomic_t *stop);

#endif
