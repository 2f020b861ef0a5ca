/* ct_reporter.c — the reporter's loop (see ct_reporter.h): poll the view,
 * print a report on the interval, refresh the HTTP documents between reports,
 * and say loudly (at a bounded rate) when there is no data.
 * One owner of the render buffers (a run), freed on every return. */
#include "ct_reporter.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "ct_file.h"
#include "ct_hq.h"
#include "ct_log.h"
#include "ct_logrec.h"
#include "ct_metrics.h"
#include "ct_notify.h"
#include "ct_reorg.h"
#include "ct_status_xlsx.h"
#include "ct_text.h"
#include "ct_time.h"

#define POLL_MS 200          /* longest wait for the view between timer checks */
#define PUBLISH_DIRTY_MS 200 /* HTTP documents follow an update after this long */
#define PUBLISH_MAX_MS 1000  /* ... and are refreshed at least this often */
#define REPORT_REFRESH_MS                                                                          \
    300000                     /* an unchanged report is re-sent to pages this often               \
                                  (its clock-derived figures move) */
#define NODATA_FIRST_MS 3000   /* no data for this long: say so ... */
#define NODATA_REPEAT_MS 30000 /* ... and again this often while it lasts */
#define XLSX_MIN_MS 2000       /* the page's workbook is remade at most this often */

typedef struct {
    const ct_reporter_config *cfg;
    const ct_campaign *c;
    const ct_campaign *rc; /* the report's units: c projected (ct_reorg.h) during emit */
    ct_view *v;
    ct_http *http;
    int64_t mono_start;
    ct_buf out, json, metrics, feed, csv, staff_csv, commune_csv, xlsx, hq, hq_stable, hq_pub;
    ct_buf by_units[2]; /* the JSON report by each ct_units, for a campaign with reorganizations */
    ct_buf life_csv[CT_HTTP_LIFE_CSVS];
    /* the page's workbook: position it was made from, when */
    bool xlsx_made;
    uint64_t xlsx_seq;
    uint8_t xlsx_head[CT_HASH_LEN];
    int64_t xlsx_mono;
    /* what the pages were last given */
    bool pub_report;
    uint64_t pub_seq;
    uint8_t pub_head[CT_HASH_LEN];
    char pub_feed[16], pub_link[20], pub_reason[200];
    int64_t pub_report_mono;
    /* the campaign change accepted and said (--accept-campaign-change) */
    bool campaign_warned;
    uint8_t campaign_warned_fp[CT_HASH_LEN];
    /* the no-data warning */
    int64_t nodata_since, nodata_logged;
} run_st;

static ct_err write_report(run_st *r, const ct_status_figures *f, const ct_status_position *pos)
{
    const ct_reporter_config *cfg = r->cfg;
    ct_buf_reset(&r->out);
    ct_err e = CT_OK;
    char err[512] = "";
    bool csv = cfg->fmt != CT_FMT_TABLE && cfg->fmt != CT_FMT_JSON;
    /* a CSV file is a document Excel opens: UTF-8 says so with a BOM */
    if (!cfg->xlsx && csv && cfg->output) e = ct_buf_append(&r->out, "\xEF\xBB\xBF", 3);
    if (!e && cfg->xlsx) {
        e = ct_status_xlsx(r->rc, f, pos, &r->out, err, sizeof err);
        if (e) {
            ct_log(CT_LOG_ERROR, "cannot make the workbook", "err=\"%s\"", err);
            return e;
        }
    } else if (!e) {
        e = ct_status_render_figures(r->rc, f, pos, cfg->fmt, cfg->flags, &r->out);
    }
    /* periodic tables on a terminal: a blank line between reports */
    if (!e && cfg->fmt == CT_FMT_TABLE && !cfg->output && !cfg->once)
        e = ct_buf_append(&r->out, "\n", 1);
    if (e) return e;
    e = ct_file_replace(cfg->output ? cfg->output : "-", r->out.data, r->out.len, err, sizeof err);
    if (e)
        ct_log(CT_LOG_ERROR, "cannot write the report", "output=%s err=\"%s\"",
               cfg->output ? cfg->output : "stdout", err);
    return e;
}

/* The feed document (ct_http.h) into r->feed; *changed when its state,
 * link, reason or position differ from the last published one. */
static ct_err render_feed(run_st *r, const char *state, const char *reason, int64_t mono,
                          bool *changed)
{
    const ct_view *v = r->v;
    const char *link = ct_link_state_name(v->link.state);
    char hx[65];
    ct_hash_hex(v->head, hx);
    ct_buf_reset(&r->feed);
    ct_err e = ct_buf_printf(&r->feed, "{\"feed\":\"%s\",\"link\":\"%s\",\"reason\":", state, link);
    if (!e) e = ct_text_json_str(&r->feed, reason);
    if (!e)
        e = ct_buf_printf(&r->feed,
                          ",\"synced\":%s,\"seq\":%llu,\"head\":\"%s\",\"now_ms\":%lld,"
                          "\"update_age_ms\":%lld,\"message_age_ms\":%lld}",
                          v->ever_synced ? "true" : "false", (unsigned long long)v->seq, hx,
                          (long long)ct_now_ms(),
                          (long long)(v->last_apply_mono ? mono - v->last_apply_mono : -1),
                          (long long)(v->last_rx_mono ? mono - v->last_rx_mono : -1));
    *changed = strcmp(state, r->pub_feed) != 0 || strcmp(link, r->pub_link) != 0 ||
               strcmp(reason, r->pub_reason) != 0 || v->seq != r->pub_seq;
    if (*changed) {
        snprintf(r->pub_feed, sizeof r->pub_feed, "%s", state);
        snprintf(r->pub_link, sizeof r->pub_link, "%s", link);
        snprintf(r->pub_reason, sizeof r->pub_reason, "%s", reason);
    }
    return e;
}

/* The page's workbook into d when the position moved since the last one and
 * XLSX_MIN_MS passed (making one costs a temporary file and a zip). A failure
 * is logged and leaves the previous workbook served. */
static void publish_xlsx(run_st *r, const ct_status_figures *f, const ct_status_position *pos,
                         int64_t mono, ct_http_docs *d)
{
    if (r->xlsx_made && r->xlsx_seq == pos->seq &&
        memcmp(r->xlsx_head, pos->head, CT_HASH_LEN) == 0)
        return;
    if (r->xlsx_made && mono - r->xlsx_mono < XLSX_MIN_MS) return;
    char err[512] = "";
    ct_buf_reset(&r->xlsx);
    r->xlsx_mono = mono;
    if (ct_status_xlsx(r->rc, f, pos, &r->xlsx, err, sizeof err)) {
        ct_log(CT_LOG_WARN, "cannot make the page's workbook", "err=\"%s\"", err);
        return;
    }
    r->xlsx_made = true;
    r->xlsx_seq = pos->seq;
    memcpy(r->xlsx_head, pos->head, CT_HASH_LEN);
    d->xlsx = r->xlsx.data;
    d->xlsx_len = r->xlsx.len;
}

/* The offices and replication document (ct_hq.h) into d, flagged changed
 * when its stable form moved; its series appended to r->metrics. */
static ct_err publish_hq(run_st *r, int64_t mono, ct_http_docs *d)
{
    int64_t sa = r->cfg->silent_after_ms > 0 ? r->cfg->silent_after_ms : 900000;
    ct_buf_reset(&r->hq);
    ct_buf_reset(&r->hq_stable);
    ct_err e = ct_hq_json(r->v, r->c, sa, mono, true, &r->hq);
    if (!e) e = ct_hq_json(r->v, r->c, sa, mono, false, &r->hq_stable);
    if (!e) e = ct_hq_metrics(r->v, r->c, sa, mono, &r->metrics);
    if (e) return e;
    d->hq = (const char *)r->hq.data;
    d->hq_len = r->hq.len;
    d->hq_changed = r->hq_stable.len != r->hq_pub.len ||
                    memcmp(r->hq_stable.data, r->hq_pub.data, r->hq_stable.len) != 0;
    if (d->hq_changed) {
        ct_buf_reset(&r->hq_pub);
        e = ct_buf_append(&r->hq_pub, r->hq_stable.data, r->hq_stable.len);
    }
    return e;
}

/* Hands the HTTP documents to the server: the feed document and metrics
 * always, the report (f != NULL) only when it changed for a page. */
static ct_err publish(run_st *r, const ct_status_figures *f, const ct_status_position *pos)
{
    const ct_view *v = r->v;
    int64_t mono = ct_monotonic_ms();
    const char *state = ct_view_feed_state(v, mono);
    char reason[200];
    ct_view_problem(v, mono, reason, sizeof reason);
    ct_http_docs d;
    memset(&d, 0, sizeof d);
    bool seq_moved = v->seq != r->pub_seq || memcmp(v->head, r->pub_head, CT_HASH_LEN) != 0;
    bool state_moved = strcmp(state, r->pub_feed) != 0;
    ct_err e = render_feed(r, state, reason, mono, &d.feed_changed);
    if (!e && f &&
        (!r->pub_report || seq_moved || state_moved ||
         mono - r->pub_report_mono >= REPORT_REFRESH_MS)) {
        ct_buf_reset(&r->json);
        e = ct_status_render_figures(r->rc, f, pos, CT_FMT_JSON, CT_STATUS_STAFF | CT_STATUS_DETAIL,
                                     &r->json);
        ct_buf_reset(&r->csv);
        if (!e) e = ct_buf_append(&r->csv, "\xEF\xBB\xBF", 3); /* UTF-8 for Excel */
        if (!e) e = ct_status_render_figures(r->rc, f, pos, CT_FMT_CSV, 0, &r->csv);
        ct_buf_reset(&r->staff_csv);
        if (!e) e = ct_buf_append(&r->staff_csv, "\xEF\xBB\xBF", 3);
        if (!e) e = ct_status_render_figures(r->rc, f, pos, CT_FMT_STAFF_CSV, 0, &r->staff_csv);
        ct_buf_reset(&r->commune_csv);
        if (!e) e = ct_buf_append(&r->commune_csv, "\xEF\xBB\xBF", 3);
        if (!e) e = ct_status_render_figures(r->rc, f, pos, CT_FMT_COMMUNE_CSV, 0, &r->commune_csv);
        for (int k = 0; !e && k < CT_HTTP_LIFE_CSVS; k++) {
            ct_buf_reset(&r->life_csv[k]);
            e = ct_buf_append(&r->life_csv[k], "\xEF\xBB\xBF", 3);
            if (!e)
                e = ct_status_render_figures(
                    r->rc, f, pos, (ct_status_format)(CT_FMT_CHANGES_CSV + k), 0, &r->life_csv[k]);
            d.life_csv[k] = r->life_csv[k].data;
            d.life_csv_len[k] = r->life_csv[k].len;
        }
        if (!e) {
            d.csv = r->csv.data;
            d.csv_len = r->csv.len;
            d.staff_csv = r->staff_csv.data;
            d.staff_csv_len = r->staff_csv.len;
            d.commune_csv = r->commune_csv.data;
            d.commune_csv_len = r->commune_csv.len;
            d.report = (const char *)r->json.data;
            d.report_len = r->json.len;
            for (int u = 0; !e && r->c->n_reorgs && u < 2; u++) {
                ct_buf_reset(&r->by_units[u]);
                e = ct_reorg_status_json(r->c, &v->counts, pos, (ct_units)u, &r->by_units[u]);
                d.by_units[u] = (const char *)r->by_units[u].data;
                d.by_units_len[u] = r->by_units[u].len;
            }
            r->pub_report = true;
            r->pub_report_mono = mono;
        }
    }
    if (!e && f) publish_xlsx(r, f, pos, mono, &d);
    r->pub_seq = v->seq;
    memcpy(r->pub_head, v->head, CT_HASH_LEN);
    d.mi = (ct_metrics_input){.seq = v->seq,
                              .feed = state,
                              .link = ct_link_state_name(v->link.state),
                              .handshake_failures = v->link.n_handshake_failures,
                              .lag_ms = v->last_lag_ms,
                              .last_rx_mono = v->last_rx_mono,
                              .last_apply_mono = v->last_apply_mono,
                              .updates = v->n_updates,
                              .snapshots = v->n_snapshots,
                              .gaps = v->n_gaps};
    ct_buf_reset(&r->metrics);
    if (!e) e = ct_metrics_render(f, &d.mi, &r->metrics);
    if (!e) e = publish_hq(r, mono, &d);
    if (e) return e;
    d.feed = (const char *)r->feed.data;
    d.feed_len = r->feed.len;
    d.metrics = (const char *)r->metrics.data;
    d.metrics_len = r->metrics.len;
    ct_http_publish(r->http, &d);
    return CT_OK;
}

/* Renders the report (when to_output) and the HTTP documents from the view
 * as it is now; before the first snapshot only the HTTP documents without
 * figures. */
static ct_err emit(run_st *r, bool to_output)
{
    if (!r->v->ever_synced) return r->http ? publish(r, NULL, NULL) : CT_OK;
    ct_status_position pos;
    memset(&pos, 0, sizeof pos);
    pos.seq = r->v->seq;
    memcpy(pos.head, r->v->head, sizeof pos.head);
    pos.now_ms = ct_report_clock_now(&r->cfg->clock, r->mono_start);
    pos.feed = ct_view_feed_state(r->v, ct_monotonic_ms());
    ct_status_figures f;
    ct_reorg_view rv;
    ct_err e = ct_reorg_project(r->c, &r->v->counts, pos.now_ms, r->cfg->units, &rv);
    r->rc = ct_reorg_campaign(&rv, r->c);
    bool made = false;
    if (!e) e = ct_status_compute(r->rc, ct_reorg_counts(&rv, &r->v->counts), pos.now_ms, &f);
    made = !e;
    if (!e && to_output) e = write_report(r, &f, &pos);
    if (!e && r->http) e = publish(r, &f, &pos);
    if (made) ct_status_figures_free(&f);
    ct_reorg_view_free(&rv);
    r->rc = r->c;
    return e;
}

/* Says that there is no data, why, and for how long: first after
 * NODATA_FIRST_MS, then every NODATA_REPEAT_MS while it lasts; once when it
 * is over. */
static void warn_nodata(run_st *r, int64_t now)
{
    const ct_view *v = r->v;
    const char *state = ct_view_feed_state(v, now);
    bool bad = strcmp(state, "not_connected") == 0 || strcmp(state, "stale") == 0;
    if (!bad) {
        if (r->nodata_logged)
            ct_log(CT_LOG_INFO, "data from the aggregator again", "feed=%s seq=%llu after_s=%.1f",
                   state, (unsigned long long)v->seq, (double)(now - r->nodata_since) / 1000.0);
        r->nodata_since = r->nodata_logged = 0;
        return;
    }
    if (!r->nodata_since) r->nodata_since = strcmp(state, "stale") == 0 ? v->last_rx_mono : now;
    if (now - r->nodata_since < NODATA_FIRST_MS) return;
    if (r->nodata_logged && now - r->nodata_logged < NODATA_REPEAT_MS) return;
    r->nodata_logged = now;
    char reason[200];
    ct_view_problem(v, now, reason, sizeof reason);
    ct_log(CT_LOG_WARN,
           v->ever_synced ? "no data from the aggregator" : "no snapshot from the aggregator yet",
           "feed=%s link=%s for_s=%.0f feed_ep=%s snapshot_ep=%s reason=\"%s\"", state,
           ct_link_state_name(v->link.state), (double)(now - r->nodata_since) / 1000.0,
           v->cfg.feed_ep, v->cfg.snapshot_ep, reason);
}

/* The aggregator's campaign (named on its snapshots and updates) against
 * ours: equal, or not named (an aggregator that predates the fields), is
 * fine; another one is CT_ERR_CAMPAIGN_MISMATCH with both named, unless the
 * change is accepted (then said once per fingerprint). */
static ct_err check_campaign(run_st *r)
{
    const ct_view *v = r->v;
    if (!v->has_campaign) return CT_OK;
    if (memcmp(v->campaign_fp, r->c->fingerprint, CT_HASH_LEN) == 0 &&
        strcmp(v->campaign_id, r->c->id) == 0)
        return CT_OK;
    char ours[65], theirs[65];
    ct_hash_hex(r->c->fingerprint, ours);
    ct_hash_hex(v->campaign_fp, theirs);
    if (r->cfg->accept_campaign_change) {
        if (r->campaign_warned && memcmp(r->campaign_warned_fp, v->campaign_fp, CT_HASH_LEN) == 0)
            return CT_OK;
        r->campaign_warned = true;
        memcpy(r->campaign_warned_fp, v->campaign_fp, CT_HASH_LEN);
        ct_log(CT_LOG_WARN, "reporting with another campaign file than the aggregator's (accepted)",
               "campaign=%s fingerprint=%s aggregator_campaign=%s aggregator_fingerprint=%s",
               r->c->id, ours, v->campaign_id, theirs);
        return CT_OK;
    }
    ct_log(CT_LOG_ERROR,
           "the aggregator runs another campaign file than ours: refusing to report "
           "(--accept-campaign-change to report anyway)",
           "campaign=%s fingerprint=%s aggregator_campaign=%s aggregator_fingerprint=%s", r->c->id,
           ours, v->campaign_id, theirs);
    return CT_ERR_CAMPAIGN_MISMATCH;
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
        ct_notify_watchdog();
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
        if ((e = check_campaign(r))) return e;
        dirty = dirty || changed;
        now = ct_monotonic_ms();
        warn_nodata(r, now);
        if (cfg->once) {
            if (r->v->ever_synced && r->v->synced) return emit(r, true);
            if (now >= deadline) {
                char reason[200];
                ct_view_problem(r->v, now, reason, sizeof reason);
                ct_log(CT_LOG_ERROR, "no snapshot from the aggregator in time",
                       "snapshot=%s timeout_s=%.3g reason=\"%s\"", r->v->cfg.snapshot_ep,
                       cfg->timeout_s, reason);
                return CT_ERR_TIMEOUT;
            }
            continue;
        }
        if (r->v->ever_synced && (next_report == 0 || now >= next_report)) {
            e = emit(r, true);
            if (e && !cfg->output) return e; /* stdout gone */
            next_report = (next_report == 0 ? now : next_report) + interval_ms;
            if (next_report < now) next_report = now + interval_ms;
            last_publish = now;
            dirty = false;
        } else if ((dirty && now - last_publish >= PUBLISH_DIRTY_MS) ||
                   now - last_publish >= PUBLISH_MAX_MS) {
            /* Live page: push within a second of each applied update, and
             * the feed's state from the start. */
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
    assert(cfg->interval_s > 0 && (cfg->clock.kind != CT_CLOCK_SIM || cfg->clock.sim_factor > 0));
    run_st r = {.cfg = cfg, .c = c, .rc = c, .v = v, .http = http, .mono_start = ct_monotonic_ms()};
    if (!cfg->once) ct_notify_ready("following the feed");
    ct_err e = loop(&r, stop);
    if (!cfg->once) ct_notify_stopping();
    ct_buf_free(&r.out);
    ct_buf_free(&r.json);
    ct_buf_free(&r.metrics);
    ct_buf_free(&r.feed);
    ct_buf_free(&r.csv);
    ct_buf_free(&r.staff_csv);
    ct_buf_free(&r.commune_csv);
    ct_buf_free(&r.xlsx);
    for (int k = 0; k < CT_HTTP_LIFE_CSVS; k++)
        ct_buf_free(&r.life_csv[k]);
    ct_buf_free(&r.hq);
    ct_buf_free(&r.hq_stable);
    ct_buf_free(&r.by_units[0]);
    ct_buf_free(&r.by_units[1]);
    ct_buf_free(&r.hq_pub);
    return e;
}
