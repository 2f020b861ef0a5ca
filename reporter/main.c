/* main.c — chitieu-reporter: options, wiring, exit code. Follows the
 * aggregator's feed (ct_view, Clone pattern) and emits the quota status
 * report every --interval seconds or once (ct_reporter), optionally serving
 * the live page over HTTP (ct_http); with --national, every province of a
 * national campaign file at once (ct_nat_reporter).
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
#include <zmq.h>

#include "ct_campaign_default.h"
#include "ct_cli.h"
#include "ct_keys.h"
#include "ct_log.h"
#include "ct_nat_reporter.h"
#include "ct_opt.h"
#include "ct_reorg.h"
#include "ct_reporter.h"
#include "ct_time.h"

typedef struct {
    const char *campaign, *keys;
    ct_opt_list feed, snapshot, server_key; /* aggregator i: feed[i], snapshot[i], its key */
    bool insecure, once, staff, accept_campaign_change;
    double interval, timeout;
    int format, log_level, units;
    const char *output, *now, *sim_clock, *http, *http_token, *national;
    int64_t feed_hwm, http_max_clients, silent_after;
} settings;

/* CT_FMT_* order, then the workbook */
static const char *const FORMATS[] = {"table",       "json",        "csv",      "staff-csv",
                                      "commune-csv", "changes-csv", "days-csv", "late-csv",
                                      "ranking-csv", "xlsx",        NULL};
#define FORMAT_XLSX 9
static const char *const LEVELS[] = {"debug", "info", "warn", "error", NULL};

#define S(f) offsetof(settings, f)
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

extern const char ct_page_national_html[];
extern const size_t ct_page_national_html_len;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* The clock options into cfg; 0 or the usage exit code. */
static int parse_clock(const settings *s, ct_reporter_config *cfg)
{
    if (s->now && s->sim_clock)
        return ct_opt_usage_error(&SPEC, "--now and --sim-clock are exclusive");
    if (s->now) {
        if (ct_time_parse(s->now, 0, &cfg->clock.fixed_ms))
            return ct_opt_usage_error(&SPEC, "--now: not an ISO-8601 time: %s", s->now);
        cfg->clock.kind = CT_CLOCK_FIXED;
    }
    if (s->sim_clock) {
        char t[128];
        const char *comma = strrchr(s->sim_clock, ',');
        size_t tl = comma ? (size_t)(comma - s->sim_clock) : 0;
        char *end = NULL;
        double f = comma ? strtod(comma + 1, &end) : 0;
        if (!comma || tl >= sizeof t || end == comma + 1 || *end || !(f > 0))
            return ct_opt_usage_error(
                &SPEC, "--sim-clock START_ISO,FACTOR (e.g. 2023-07-22T08:00:00+07:00,14400)");
        memcpy(t, s->sim_clock, tl);
        t[tl] = '\0';
        if (ct_time_parse(t, 0, &cfg->clock.sim_start_ms))
            return ct_opt_usage_error(&SPEC, "--sim-clock: not an ISO-8601 time: %s", t);
        cfg->clock.sim_factor = f;
        cfg->clock.kind = CT_CLOCK_SIM;
    }
    return 0;
}

/* Settings into the loop's and the view's configuration; 0 or 2. */
static int configure(const settings *s, ct_reporter_config *cfg, ct_view_config *vc)
{
    memset(cfg, 0, sizeof *cfg);
    memset(vc, 0, sizeof *vc);
    if (s->insecure && (s->keys || s->server_key.n))
        return ct_opt_usage_error(&SPEC, "--insecure excludes --keys/--server-key");
    if (!s->insecure && (!s->keys || (!s->server_key.n && !s->national)))
        return ct_opt_usage_error(
            &SPEC, "give --keys FILE and --server-key FILE (CurveZMQ; with --national the server "
                   "keys are the national file's), or --insecure");
    if (s->national && s->server_key.n)
        return ct_opt_usage_error(&SPEC, "--national takes each province's server_key from the "
                                         "national file, not --server-key");
    if (!s->national) {
        const char *bad = ct_view_config_endpoints(vc, &s->feed, &s->snapshot, &s->server_key);
        if (bad) return ct_opt_usage_error(&SPEC, "%s", bad);
    }
    cfg->interval_s = s->interval;
    cfg->once = s->once;
    cfg->timeout_s = s->timeout;
    cfg->xlsx = s->format == FORMAT_XLSX;
    cfg->fmt = cfg->xlsx ? CT_FMT_CSV : (ct_status_format)s->format;
    if (cfg->xlsx && !s->output)
        return ct_opt_usage_error(&SPEC, "--format xlsx writes a file: give --output FILE");
    cfg->flags = s->staff ? CT_STATUS_STAFF : 0;
    cfg->output = s->output;
    cfg->accept_campaign_change = s->accept_campaign_change;
    cfg->silent_after_ms = s->silent_after * 1000;
    cfg->units = s->units;
    vc->feed_hwm = (int)s->feed_hwm;
    vc->secure = !s->insecure;
    return parse_clock(s, cfg);
}

/* --national: the national mode (ct_nat_reporter); the exit code. */
static int run_national(const settings *s, const ct_reporter_config *cfg, ct_view_config *vc)
{
    if (s->campaign || s->staff || s->format == (int)CT_FMT_STAFF_CSV ||
        (s->format >= (int)CT_FMT_CHANGES_CSV && s->format <= (int)CT_FMT_RANKING_CSV) ||
        s->accept_campaign_change)
        return ct_opt_usage_error(&SPEC, "--national excludes --campaign, --staff, "
                                         "--accept-campaign-change, --format staff-csv and the "
                                         "life CSVs");
    ct_nat_reporter_config nc = {.interval_s = cfg->interval_s,
                                 .once = cfg->once,
                                 .timeout_s = cfg->timeout_s,
                                 .fmt = (ct_natstatus_format)cfg->fmt,
                                 .xlsx = cfg->xlsx,
                                 .output = cfg->output,
                                 .clock = cfg->clock,
                                 .secure = vc->secure,
                                 .feed_hwm = vc->feed_hwm};
    ct_national nat;
    ct_http *http = NULL;
    void *zctx = NULL;
    char err[1536] = "";
    int rc = 2;
    if (ct_crypto_init() || ct_national_load(s->national, &nat, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: %s\n", err[0] ? err : "cannot initialise libsodium");
        return 2;
    }
    if (vc->secure && ct_keypair_load(s->keys, &nc.client, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: %s\n", err);
        goto out;
    }
    ct_cli_on_stop_signals(on_signal);
    ct_http_config hc = {.addr_port = s->http,
                         .token = s->http_token,
                         .max_clients = (unsigned)s->http_max_clients,
                         .page = ct_page_national_html,
                         .page_len = ct_page_national_html_len};
    if (s->http && ct_http_start(&hc, &http, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: --http: %s\n", err);
        goto out;
    }
    rc = 1;
    zctx = zmq_ctx_new();
    if (!zctx) {
        ct_log(CT_LOG_ERROR, "cannot create the ZeroMQ context", "err=\"%s\"",
               zmq_strerror(zmq_errno()));
        goto out;
    }
    ct_err e = ct_nat_reporter_run(&nc, &nat, zctx, http, &g_stop);
    rc = e == CT_OK ? 0 : e == CT_ERR_CONFIG ? 2 : 1;
out:
    if (http) ct_http_stop(http);
    if (zctx) zmq_ctx_term(zctx);
    ct_national_free(&nat);
    return rc;
}

int main(int argc, char **argv)
{
    ct_log_set_component("reporter");
    settings s = {0};
    ct_opt_result res;
    if (ct_opt_parse(&SPEC, argc, argv, &s, &res) != CT_OK) return 2;
    if (res.exit_now) return 0;
    ct_log_set_level((ct_log_level)s.log_level);
    ct_reporter_config cfg;
    ct_view_config vc;
    int rc = configure(&s, &cfg, &vc);
    if (rc) return rc;
    if (s.national) return run_national(&s, &cfg, &vc);

    ct_campaign camp = {0};
    ct_view view = {0};
    ct_http *http = NULL;
    void *zctx = NULL;
    char err[512] = "";
    rc = 2;
    if (ct_campaign_load_arg(s.campaign, &camp, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (s.insecure) {
        ct_log(CT_LOG_WARN, "INSECURE: plaintext ZeroMQ, the aggregator cannot authenticate us",
               "feed=%s snapshot=%s", s.feed.v[0], s.snapshot.v[0]);
    } else if (ct_crypto_init() || ct_keypair_load(s.keys, &vc.client, err, sizeof err) ||
               ct_view_config_keys(&vc, &s.server_key, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: %s\n", err[0] ? err : "cannot load keys");
        goto out;
    }
    ct_cli_on_stop_signals(on_signal);
    rc = 1;
    zctx = zmq_ctx_new();
    if (!zctx) {
        ct_log(CT_LOG_ERROR, "cannot create the ZeroMQ context", "err=\"%s\"",
               zmq_strerror(zmq_errno()));
        goto out;
    }
    ct_http_config hc = {
        .addr_port = s.http, .token = s.http_token, .max_clients = (unsigned)s.http_max_clients};
    if (s.http && ct_http_start(&hc, &http, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: --http: %s\n", err);
        rc = 2;
        goto out;
    }
    ct_err e = ct_view_open(&view, zctx, &vc);
    if (e) {
        ct_log(CT_LOG_ERROR, "cannot open the feed", "feed=%s err=%s", s.feed.v[0],
               ct_err_name((int)e));
        goto out;
    }
    ct_log(CT_LOG_INFO, "ready", "feed=%s snapshot=%s aggregators=%zu format=%d secure=%d",
           s.feed.v[0], s.snapshot.v[0], s.feed.n, s.format, (int)vc.secure);
    e = ct_reporter_run(&cfg, &camp, &view, http, &g_stop);
    rc = e == CT_OK ? 0 : e == CT_ERR_CAMPAIGN_MISMATCH ? 2 : 1;
out:
    if (http) ct_http_stop(http);
    ct_view_close(&view);
    if (zctx) zmq_ctx_term(zctx);
    ct_campaign_free(&camp);
    return rc;
}
