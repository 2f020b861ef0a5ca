/* ct_reporter.c — the reporter's loop (see ct_reporter.h): poll the view,
 * print a report on the interval, refresh the HTTP documents between reports.
 * One owner of the three render buffers (a run), freed on every return. */
#include "ct_reporter.h"

#include <assert.h>
#include <string.h>

#include "ct_file.h"
#include "ct_log.h"
#include "ct_metrics.h"
#include "ct_time.h"

#define POLL_MS 200          /* longest wait for the view between timer checks */
#define PUBLISH_DIRTY_MS 200 /* HTTP documents follow an update after this long */
#define PUBLISH_MAX_MS 1000  /* ... and are refreshed at least this often */

typedef struct {
    const ct_reporter_config *cfg;
    const ct_campaign *c;
    ct_view *v;
    ct_http *http;
    int64_t mono_start;
    ct_buf out, json, metrics;
} run_st;

static int64_t clock_now(const run_st *r)
{
    switch (r->cfg->clock) {
    case CT_CLOCK_FIXED:
        return r->cfg->fixed_ms;
    case CT_CLOCK_SIM:
        return r->cfg->sim_start_ms +
               (int64_t)((double)(ct_monotonic_ms() - r->mono_start) * r->cfg->sim_factor);
    case CT_CLOCK_REAL:
        break;
    }
    return ct_now_ms();
}

static ct_err write_report(run_st *r, const ct_status_figures *f, const ct_status_position *pos)
{
    const ct_reporter_config *cfg = r->cfg;
    ct_buf_reset(&r->out);
    ct_err e = ct_status_render_figures(r->c, f, pos, cfg->fmt, cfg->flags, &r->out);
    /* periodic tables on a terminal: a blank line between reports */
    if (!e && cfg->fmt == CT_FMT_TABLE && !cfg->output && !cfg->once)
        e = ct_buf_append(&r->out, "\n", 1);
    if (e) return e;
    char err[512] = "";
    e = ct_file_replace(cfg->output ? cfg->output : "-", r->out.data, r->out.len, err, sizeof err);
    if (e)
        ct_log(CT_LOG_ERROR, "cannot write the report", "output=%s err=\"%s\"",
               cfg->output ? cfg->output : "stdout", err);
    return e;
}

static ct_err publish(run_st *r, const ct_status_figures *f, const ct_status_position *pos)
{
    ct_buf_reset(&r->json);
    ct_buf_reset(&r->metrics);
    ct_err e = ct_status_render_figures(r->c, f, pos, CT_FMT_JSON, CT_STATUS_STAFF, &r->json);
    ct_metrics_input mi = {.seq = r->v->seq,
                           .feed = pos->feed,
                           .lag_ms = r->v->last_lag_ms,
                           .last_rx_mono = r->v->last_rx_mono,
                           .last_apply_mono = r->v->last_apply_mono,
                           .updates = r->v->n_updates,
                           .snapshots = r->v->n_snapshots,
                           .gaps = r->v->n_gaps};
    if (!e) e = ct_metrics_render(r->c, f, &mi, &r->metrics);
    if (!e)
        ct_http_publish(r->http, (const char *)r->json.data, r->json.len,
                        (const char *)r->metrics.data, r->metrics.len, &mi);
    return e;
}

/* Renders the report (when to_output) and the HTTP documents from the view
 * as it is now. */
static ct_err emit(run_st *r, bool to_output)
{
    ct_status_position pos;
    memset(&pos, 0, sizeof pos);
    pos.seq = r->v->seq;
    memcpy(pos.head, r->v->head, sizeof pos.head);
    pos.now_ms = clock_now(r);
    pos.feed = ct_view_feed_state(r->v, ct_monotonic_ms());
    ct_status_figures f;
    ct_err e = ct_status_compute(r->c, &r->v->counts, pos.now_ms, &f);
    if (e) return e;
    if (to_output) e = write_report(r, &f, &pos);
    if (!e && r->http) e = publish(r, &f, &pos);
    ct_status_figures_free(&f);
    return e;
}

/* The loop; returns as ct_reporter_run() says. */
static ct_err loop(run_st *r, const volatile sig_atomic_t *stop)
{
    const ct_reporter_config *cfg = r->cfg;
    int64_t interval_ms = (int64_t)(cfg->interval_s * 1000.0);
    if (interval_ms < 1) interval_ms = 1;
    int64_t deadline = r->mono_start + (int64_t)(cfg->timeout_s * 1000.0);
    int64_t next_report = 0; /* 0: first report as soon as synced */
    int64_t last_publish = 0;
    bool dirty = false;
    while (!*stop) {
        int64_t now = ct_monotonic_ms();
        int timeout = POLL_MS;
        if (next_report && next_report - now < timeout)
            timeout = next_report > now ? (int)(next_report - now) : 0;
        bool changed = false;
        ct_err e = ct_view_poll(r->v, timeout, &changed);
        if (e) {
            ct_log(CT_LOG_ERROR, "feed failure", "err=%s", ct_err_name((int)e));
            return e;
        }
        dirty = dirty || changed;
        now = ct_monotonic_ms();
        if (cfg->once) {
            if (r->v->ever_synced && r->v->synced) return emit(r, true);
            if (now >= deadline) {
                ct_log(CT_LOG_ERROR, "no snapshot from the aggregator in time",
                       "snapshot=%s timeout_s=%.3g", r->v->cfg.snapshot_ep, cfg->timeout_s);
                return CT_ERR_TIMEOUT;
            }
            continue;
        }
        if (!r->v->ever_synced) continue;
        if (next_report == 0 || now >= next_report) {
            e = emit(r, true);
            if (e && !cfg->output) return e; /* stdout gone */
            next_report = (next_report == 0 ? now : next_report) + interval_ms;
            if (next_report < now) next_report = now + interval_ms;
            last_publish = now;
            dirty = false;
        } else if ((dirty && now - last_publish >= PUBLISH_DIRTY_MS) ||
                   now - last_publish >= PUBLISH_MAX_MS) {
            /* Live page: push within a second of each applied update. */
            if (r->http) (void)emit(r, false);
            last_publish = now;
            dirty = false;
        }
    }
    ct_log(CT_LOG_INFO, "stopping on signal", "seq=%llu", (unsigned long long)r->v->seq);
    return CT_OK;
}

ct_err ct_reporter_run(const ct_reporter_config *cfg, const ct_campaign *c, ct_view *v,
                       ct_http *http, const volatile sig_atomic_t *stop)
{
    assert(cfg && c && v && stop);
    assert(cfg->interval_s > 0 && (cfg->clock != CT_CLOCK_SIM || cfg->sim_factor > 0));
    run_st r = {.cfg = cfg, .c = c, .v = v, .http = http, .mono_start = ct_monotonic_ms()};
    ct_err e = loop(&r, stop);
    ct_buf_free(&r.out);
    ct_buf_free(&r.json);
    ct_buf_free(&r.metrics);
    return e;
}
