/* ct_reporter_mode_national.c — chitieu-reporter --national: the national
 * campaign file loaded, the reporter's keys, the national live page, and
 * ct_nat_reporter_run over every province; the exit code.
 *
 * Invariant: every path after the national file loaded frees it; the HTTP
 * server and the ZeroMQ context are stopped on every path.
 */
#include <stdio.h>
#include <zmq.h>

#include "ct_cli.h"
#include "ct_keys.h"
#include "ct_log.h"
#include "ct_nat_reporter.h"
#include "ct_reporter_main.h"

extern const char ct_page_national_html[];
extern const size_t ct_page_national_html_len;

int ct_reporter_mode_national(const ct_reporter_settings *s, const ct_opt_spec *spec,
                              const ct_reporter_config *cfg, ct_view_config *vc,
                              const ct_reporter_signals *sig)
{
    if (s->campaign || s->staff || s->format == (int)CT_FMT_STAFF_CSV ||
        (s->format >= (int)CT_FMT_CHANGES_CSV && s->format <= (int)CT_FMT_RANKING_CSV) ||
        s->accept_campaign_change)
        return ct_opt_usage_error(spec, "--national excludes --campaign, --staff, "
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
    ct_cli_on_stop_signals(sig->on_signal);
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
    ct_err e = ct_nat_reporter_run(&nc, &nat, zctx, http, sig->stop);
    rc = e == CT_OK ? 0 : e == CT_ERR_CONFIG ? 2 : 1;
out:
    if (http) ct_http_stop(http);
    if (zctx) zmq_ctx_term(zctx);
    ct_national_free(&nat);
    return rc;
}
