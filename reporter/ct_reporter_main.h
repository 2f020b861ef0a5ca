/* ct_reporter_main.h — the parts of chitieu-reporter's main (binary-only,
 * not in ct_reporter): its settings (written by the option table in
 * main.c), the checks between options and their wiring into the loop's
 * and the view's configuration (ct_reporter_args.c), and the two modes,
 * each to its exit code: one province (ct_reporter_mode_province.c) and
 * --national (ct_reporter_mode_national.c).
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration.
 */
#ifndef CT_REPORTER_MAIN_H
#define CT_REPORTER_MAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ct_opt.h"
#include "ct_reporter.h"
#include "ct_view.h"

typedef struct {
    const char *campaign, *keys;
    ct_opt_list feed, snapshot, server_key; /* aggregator i: feed[i], snapshot[i], its key */
    bool insecure, once, staff, accept_campaign_change;
    double interval, timeout;
    int format, log_level, units;
    const char *output, *now, *sim_clock, *http, *http_token, *national;
    int64_t feed_hwm, http_max_clients, silent_after;
} ct_reporter_settings;

/* --format's index of the workbook (after the CT_FMT_* names) */
#define CT_REPORTER_FORMAT_XLSX 9

/* the stop flag a SIGINT/SIGTERM handler sets, and that handler */
typedef struct {
    volatile sig_atomic_t *stop;
    void (*on_signal)(int);
} ct_reporter_signals;

/* Settings into the loop's and the view's configuration; 0 or 2 (the
 * message printed against spec). */
int ct_reporter_args_configure(const ct_reporter_settings *s, const ct_opt_spec *spec,
                               ct_reporter_config *cfg, ct_view_config *vc);

/* One province's aggregator(s): the report loop (ct_reporter); the exit code. */
int ct_reporter_mode_province(const ct_reporter_settings *s, const ct_reporter_config *cfg,
                              ct_view_config *vc, const ct_reporter_signals *sig);

/* --national: every province of the national file (ct_nat_reporter); the exit code. */
int ct_reporter_mode_national(const ct_reporter_settings *s, const ct_opt_spec *spec,
                              const ct_reporter_config *cfg, ct_view_config *vc,
                              const ct_reporter_signals *sig);

#endif
