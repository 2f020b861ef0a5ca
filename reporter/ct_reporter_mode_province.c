/* ct_reporter_mode_province.c — chitieu-reporter for one province: the
 * campaign, the keys, the view of the aggregator(s) (ct_view), the live page
 * (ct_http) and the report loop (ct_reporter_run); the exit code (2 also
 * when the aggregator runs another campaign file).
 *
 * Invariant: the campaign, view, HTTP server and ZeroMQ context are
 * released on every path.
 */
#include <stdio.h>
#include <zmq.h>

#include "ct_campaign_default.h"
#include "ct_cli.h"
#include "ct_keys.h"
#include "ct_log.h"
#include "ct_reporter_main.h"

int ct_reporter_mode_province(const ct_reporter_settings *s, const ct_reporter_config *cfg,
                              ct_view_config *vc, const ct_reporter_signals *sig)
{
    ct_campaign camp = {0};
    ct_view view = {0};
    ct_http *http = NULL;
    void *zctx = NULL;
    char err[512] = "";
    int rc = 2;
    if (ct_campaign_load_arg(s->campaign, &camp, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (s->insecure) {
        ct_log(CT_LOG_WARN, "INSECURE: plaintext ZeroMQ, the aggregator cannot authenticate us",
               "feed=%s snapshot=%s", s->feed.v[0], s->snapshot.v[0]);
    } else if (ct_crypto_init() || ct_keypair_load(s->keys, &vc->client, err, sizeof err) ||
               ct_view_config_keys(vc, &s->server_key, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: %s\n", err[0] ? err : "cannot load keys");
        goto out;
    }
    ct_cli_on_stop_signals(sig->on_signal);
    rc = 1;
    zctx = zmq_ctx_new();
    if (!zctx) {
        ct_log(CT_LOG_ERROR, "cannot create the ZeroMQ context", "err=\"%s\"",
               zmq_strerror(zmq_errno()));
        goto out;
    }
    ct_http_config hc = {
        .addr_port = s->http, .token = s->http_token, .max_clients = (unsigned)s->http_max_clients};
    if (s->http && ct_http_start(&hc, &http, err, sizeof err)) {
        fprintf(stderr, "chitieu-reporter: --http: %s\n", err);
        rc = 2;
        goto out;
    }
    ct_err e = ct_view_open(&view, zctx, vc);
    if (e) {
        ct_log(CT_LOG_ERROR, "cannot open the feed", "feed=%s err=%s", s->feed.v[0],
               ct_err_name((int)e));
        goto out;
    }
    ct_log(CT_LOG_INFO, "ready", "feed=%s snapshot=%s aggregators=%zu format=%d secure=%d",
           s->feed.v[0], s->snapshot.v[0], s->feed.n, s->format, (int)vc->secure);
    e = ct_reporter_run(cfg, &camp, &view, http, sig->stop);
    rc = e == CT_OK ? 0 : e == CT_ERR_CAMPAIGN_MISMATCH ? 2 : 1;
out:
    if (http) ct_http_stop(http);
    ct_view_close(&view);
    if (zctx) zmq_ctx_term(zctx);
    ct_campaign_free(&camp);
    return rc;
}
