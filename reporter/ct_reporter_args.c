/* ct_reporter_args.c — chitieu-reporter's settings checked against each
 * other (--insecure or keys, --national's exclusions of --server-key,
 * --format xlsx needs --output, --now or --sim-clock) and wired into the
 * report loop's and the view's configuration.
 *
 * Invariant: on 0, cfg and vc are complete for the mode; on 2 the message
 * was printed against the option spec and nothing else happened.
 */
#include <stdlib.h>
#include <string.h>

#include "ct_reporter_main.h"
#include "ct_time.h"

/* The clock options into cfg; 0 or the usage exit code. */
static int parse_clock(const ct_reporter_settings *s, const ct_opt_spec *spec,
                       ct_reporter_config *cfg)
{
    if (s->now && s->sim_clock)
        return ct_opt_usage_error(spec, "--now and --sim-clock are exclusive");
    if (s->now) {
        if (ct_time_parse(s->now, 0, &cfg->clock.fixed_ms))
            return ct_opt_usage_error(spec, "--now: not an ISO-8601 time: %s", s->now);
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
                spec, "--sim-clock START_ISO,FACTOR (e.g. 2023-07-22T08:00:00+07:00,14400)");
        memcpy(t, s->sim_clock, tl);
        t[tl] = '\0';
        if (ct_time_parse(t, 0, &cfg->clock.sim_start_ms))
            return ct_opt_usage_error(spec, "--sim-clock: not an ISO-8601 time: %s", t);
        cfg->clock.sim_factor = f;
        cfg->clock.kind = CT_CLOCK_SIM;
    }
    return 0;
}

/* Settings into the loop's and the view's configuration; 0 or 2. */
int ct_reporter_args_configure(const ct_reporter_settings *s, const ct_opt_spec *spec,
                               ct_reporter_config *cfg, ct_view_config *vc)
{
    memset(cfg, 0, sizeof *cfg);
    memset(vc, 0, sizeof *vc);
    if (s->insecure && (s->keys || s->server_key.n))
        return ct_opt_usage_error(spec, "--insecure excludes --keys/--server-key");
    if (!s->insecure && (!s->keys || (!s->server_key.n && !s->national)))
        return ct_opt_usage_error(
            spec, "give --keys FILE and --server-key FILE (CurveZMQ; with --national the server "
                  "keys are the national file's), or --insecure");
    if (s->national && s->server_key.n)
        return ct_opt_usage_error(spec, "--national takes each province's server_key from the "
                                        "national file, not --server-key");
    if (!s->national) {
        const char *bad = ct_view_config_endpoints(vc, &s->feed, &s->snapshot, &s->server_key);
        if (bad) return ct_opt_usage_error(spec, "%s", bad);
    }
    cfg->interval_s = s->interval;
    cfg->once = s->once;
    cfg->timeout_s = s->timeout;
    cfg->xlsx = s->format == CT_REPORTER_FORMAT_XLSX;
    cfg->fmt = cfg->xlsx ? CT_FMT_CSV : (ct_status_format)s->format;
    if (cfg->xlsx && !s->output)
        return ct_opt_usage_error(spec, "--format xlsx writes a file: give --output FILE");
    cfg->flags = s->staff ? CT_STATUS_STAFF : 0;
    cfg->output = s->output;
    cfg->accept_campaign_change = s->accept_campaign_change;
    cfg->silent_after_ms = s->silent_after * 1000;
    cfg->units = s->units;
    vc->feed_hwm = (int)s->feed_hwm;
    vc->secure = !s->insecure;
    return parse_clock(s, spec, cfg);
}
