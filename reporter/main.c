/* main.c — chitieu-reporter: options, wiring, exit code. Follows the
 * aggregator's feed (ct_view, Clone pattern) and emits the quota status
 * report every --interval seconds or once (ct_reporter), optionally serving
 * the live page over HTTP (ct_http); with --national, every province of a
 * national campaign file at once (ct_nat_reporter). The checks between
 * options are ct_reporter_args.c, each mode ct_reporter_mode_*.c
 * (ct_reporter_main.h).
 *
 * Exit: 0 ok (signal, or --once printed), 1 runtime failure, 2 usage or
 * configuration (bad option, campaign, keys, --http address, or the
 * aggregator runs another campaign file without --accept-campaign-change).
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_cli.h"
#include "ct_log.h"
#include "ct_opt.h"
#include "ct_reorg.h"
#include "ct_reporter_main.h"

/* CT_FMT_* order, then the workbook */
static const char *const FORMATS[] = {"table",       "json",        "csv",      "staff-csv",
                                      "commune-csv", "changes-csv", "days-csv", "late-csv",
                                      "ranking-csv", "xlsx",        NULL};
static const char *const LEVELS[] = {"debug", "info", "warn", "error", NULL};

#define S(f) offsetof(ct_reporter_settings, f)
static const ct_opt OPTS[] = {
    {.name = "campaign",
     .kind = CT_OPT_STR,
     .off = S(campaign),
     .arg = "FILE",
     .help = "campaign .ini (default: the built-in Lam Dong 2023 one)"},
    {.name = "feed",
     .kind = CT_OPT_LIST,
     .off = S(feed),
     .arg = "EP",
     .def = "tcp://127.0.0.1:7702",
     .help = "aggregator feed (PUB); repeat it (with one --snapshot each, same order) for a "
             "primary and its followers: the reporter follows whichever answers"},
    {.name = "snapshot",
     .kind = CT_OPT_LIST,
     .off = S(snapshot),
     .arg = "EP",
     .def = "tcp://127.0.0.1:7703",
     .help = "aggregator snapshot service (one per --feed)"},
    {.name = "keys",
     .kind = CT_OPT_STR,
     .off = S(keys),
     .arg = "FILE",
     .help = "this reporter's CURVE key pair (.key, mode 0600)"},
    {.name = "server-key",
     .kind = CT_OPT_LIST,
     .off = S(server_key),
     .arg = "FILE",
     .help = "the aggregator's public key (.pub); one for all, or one per --feed in order"},
    {.name = "insecure",
     .kind = CT_OPT_FLAG,
     .off = S(insecure),
     .help = "plaintext ZeroMQ (testing only)"},
    {.name = "interval",
     .kind = CT_OPT_DOUBLE,
     .off = S(interval),
     .arg = "SEC",
     .def = "5",
     .min = 0.001,
     .max = 86400.0 * 365,
     .help = "seconds between reports"},
    {.name = "once",
     .kind = CT_OPT_FLAG,
     .off = S(once),
     .help = "wait for the first snapshot, print one report, exit 0"},
    {.name = "timeout",
     .kind = CT_OPT_DOUBLE,
     .off = S(timeout),
     .arg = "SEC",
     .def = "30",
     .min = 0.001,
     .max = 86400.0 * 365,
     .help = "with --once: exit 1 if no snapshot within SEC"},
    {.name = "format",
     .kind = CT_OPT_CHOICE,
     .off = S(format),
     .choices = FORMATS,
     .def = "table",
     .help = "table, json (one line per report), csv (districts), staff-csv (every staff "
             "member), commune-csv (every commune of the units that list them), changes-csv, "
             "days-csv, late-csv, ranking-csv (the campaign's life: docs/reporter.md) or xlsx (a "
             "workbook: province, districts, staff, communes and life sheets; needs --output)"},
    {.name = "output",
     .kind = CT_OPT_STR,
     .off = S(output),
     .arg = "FILE",
     .help = "write each report to FILE, replaced atomically"},
    {.name = "staff",
     .kind = CT_OPT_FLAG,
     .off = S(staff),
     .help = "list the staff below their personal quota"},
    {.name = "units",
     .kind = CT_OPT_CHOICE,
     .off = S(units),
     .choices = ct_units_names,
     .def = "current",
     .help = "report by the units in force at the report's clock (current: reorganizations "
             "in force applied) or by the original units of the campaign file (original)"},
    {.name = "now",
     .kind = CT_OPT_STR,
     .off = S(now),
     .arg = "TIME",
     .help = "fixed report clock, ISO-8601 (e.g. 2023-07-26T20:00+07:00)"},
    {.name = "sim-clock",
     .kind = CT_OPT_STR,
     .off = S(sim_clock),
     .arg = "S,F",
     .help = "campaign clock = S + real time since start x F"},
    {.name = "http",
     .kind = CT_OPT_STR,
     .off = S(http),
     .arg = "ADDR:PORT",
     .help = "serve the live page, /events, /status.json, /metrics (binds 127.0.0.1 unless "
             "told; another address needs --http-token)"},
    {.name = "http-token",
     .kind = CT_OPT_STR,
     .off = S(http_token),
     .flags = CT_OPT_SECRET,
     .arg = "T",
     .help = "require ?token=T or 'Authorization: Bearer T'"},
    {.name = "http-max-clients",
     .kind = CT_OPT_INT,
     .off = S(http_max_clients),
     .arg = "N",
     .min = 1,
     .max = 1000000,
     .help = "simultaneous HTTP connections, live pages included (default 4096; the open-file "
             "limit is raised to fit)"},
    {.name = "feed-hwm",
     .kind = CT_OPT_INT,
     .off = S(feed_hwm),
     .arg = "N",
     .min = 1,
     .max = 1000000,
     .help = "feed messages queued before ZeroMQ drops (default 1000; a drop is a gap, "
             "resolved by a snapshot)"},
    {.name = "accept-campaign-change",
     .kind = CT_OPT_FLAG,
     .off = S(accept_campaign_change),
     .help = "report although the aggregator runs another campaign file (its fingerprint "
             "differs; logged); without it the reporter exits 2"},
    {"silent-after", CT_OPT_INT, S(silent_after), 0, 0, "SEC", "900", 1, 86400 * 365, NULL,
     "an office the aggregator has not heard from this long is shown silent"},
    {.name = "national",
     .kind = CT_OPT_STR,
     .off = S(national),
     .arg = "FILE",
     .help = "national mode: follow every province of this national campaign file "
             "(docs/national.md); --format table, json, csv or xlsx"},
    {.name = "log-level",
     .kind = CT_OPT_CHOICE,
     .off = S(log_level),
     .choices = LEVELS,
     .def = "info",
     .help = "log verbosity"},
    {0}};

static const ct_opt_spec SPEC = {
    .prog = "chitieu-reporter",
    .usage = "(--keys FILE --server-key FILE | --insecure) [options]",
    .about = "Follows the aggregator's live feed and prints the campaign's quota status.",
    .opts = OPTS,
    .epilog = "SIGINT/SIGTERM stop. Exit status: 0 ok, 1 runtime failure, 2 usage or "
              "configuration (also: the aggregator runs another campaign file).",
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    ct_log_set_component("reporter");
    ct_reporter_settings s = {0};
    ct_opt_result res;
    if (ct_opt_parse(&SPEC, argc, argv, &s, &res) != CT_OK) return 2;
    if (res.exit_now) return 0;
    ct_log_set_level((ct_log_level)s.log_level);
    ct_reporter_config cfg;
    ct_view_config vc;
    int rc = ct_reporter_args_configure(&s, &SPEC, &cfg, &vc);
    if (rc) return rc;
    ct_reporter_signals sig = {.stop = &g_stop, .on_signal = on_signal};
    if (s.national) return ct_reporter_mode_national(&s, &SPEC, &cfg, &vc, &sig);
    return ct_reporter_mode_province(&s, &cfg, &vc, &sig);
}
