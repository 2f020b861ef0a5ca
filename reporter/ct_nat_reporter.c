/* ct_nat_reporter.c — the national reporter's loop (see ct_nat_reporter.h):
 * one ct_view per province polled together, the national report on the
 * interval, the page's documents between reports, each province's state
 * changes logged. One owner of the views and the render buffers (a run),
 * released on every return.
 */
#include "ct_nat_reporter.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_file.h"
#include "ct_log.h"
#include "ct_logrec.h"
#include "ct_natstatus_xlsx.h"
#include "ct_notify.h"
#include "ct_text.h"
#include "ct_time.h"

#define POLL_MS 200
#define SAY_AGAIN_MS 30000 /* a province without live figures is named again this often */
#define PUBLISH_MS 1000    /* the page's report at most this often when a position moved ... */
#define PUBLISH_REFRESH_MS                                                                         \
    60000 /* ... and at least this often (its clock-derived figures move; the ages of the          \
             provinces' figures travel in the small feed document, every 5 s) */
#define PUBLISH_DIRTY_MS 200 /* the page's documents follow a change after this long ... */
#define PUBLISH_IDLE_MS 1000 /* ... and are remade this often without one (states, ages) */
#define XLSX_MIN_MS 5000     /* the page's workbook is remade at most this often */

typedef struct {
    const ct_nat_province *p;
    ct_view v;
    bool opened;
    bool mismatch;              /* the aggregator names another campaign */
    char said[CT_NAT_FEED_MAX]; /* the state last logged */
    char said_reason[200];      /* ... with this reason */
    int64_t said_mono;          /* ... at this time */
} prov_st;

typedef struct {
    const ct_nat_reporter_config *cfg;
    const ct_national *n;
    ct_http *http;
    int64_t mono_start;
    prov_st *ps;
    ct_natstatus_input *in;
    ct_buf out, json, csv, feed, metrics, key, xlsx;
    char *pub_key; /* positions and states of the last published report */
    int64_t pub_mono;
    char *xlsx_key; /* ... of the page's workbook */
    int64_t xlsx_mono;
} run_st;

static const char *prov_feed(const prov_st *p, int64_t mono)
{
    return p->mismatch ? "campaign_mismatch" : ct_view_feed_state(&p->v, mono);
}

/* The aggregator's campaign against the province's file (as the provincial
 * reporter checks it); a change is logged once each way. */
static void check_campaign(prov_st *p)
{
    const ct_view *v = &p->v;
    const ct_campaign *c = &p->p->campaign;
    bool bad = v->has_campaign && (memcmp(v->campaign_fp, c->fingerprint, CT_HASH_LEN) != 0 ||
                                   strcmp(v->campaign_id, c->id) != 0);
    if (bad && !p->mismatch) {
        char ours[65], theirs[65];
        ct_hash_hex(c->fingerprint, ours);
        ct_hash_hex(v->campaign_fp, theirs);
        ct_log(CT_LOG_ERROR,
               "a province's aggregator runs another campaign file: its figures are left out",
               "province=%u campaign=%s fingerprint=%s aggregator_campaign=%s "
               "aggregator_fingerprint=%s",
               p->p->code, c->id, ours, v->campaign_id, theirs);
    }
    p->mismatch = bad;
}

/* Logs each province's state when it changes. */
static void say_states(run_st *r, int64_t mono)
{
    for (size_t i = 0; i < r->n->n_provinces; i++) {
        prov_st *p = &r->ps[i];
        const char *st = prov_feed(p, mono);
        char reason[sizeof p->said_reason];
        ct_view_problem(&p->v, mono, reason, sizeof reason);
        bool same = strcmp(st, p->said) == 0;
        /* a changed state at once; a province without live figures again when
         * its reason changed (connecting → handshake failed) or, unchanged,
         * every SAY_AGAIN_MS */
        if (same && (strcmp(st, "live") == 0 ||
                     (strcmp(reason, p->said_reason) == 0 && mono - p->said_mono < SAY_AGAIN_MS)))
            continue;
        ct_log(strcmp(st, "live") == 0 ? CT_LOG_INFO : CT_LOG_WARN, "province feed state",
               "province=%u feed=%s seq=%llu reason=\"%s\"", p->p->code, st,
               (unsigned long long)p->v.seq, reason);
        snprintf(p->said, sizeof p->said, "%s", st);
        snprintf(p->said_reason, sizeof p->said_reason, "%s", reason);
        p->said_mono = mono;
    }
}

static void fill_inputs(run_st *r, int64_t mono)
{
    for (size_t i = 0; i < r->n->n_provinces; i++) {
        const prov_st *p = &r->ps[i];
        ct_natstatus_input *in = &r->in[i];
        memset(in, 0, sizeof *in);
        snprintf(in->feed, sizeof in->feed, "%s", prov_feed(p, mono));
        in->age_ms = -1;
        if (!p->v.ever_synced || p->mismatch) continue;
        in->counts = &p->v.counts;
        in->seq = p->v.seq;
        memcpy(in->head, p->v.head, sizeof in->head);
        int64_t last = p->v.last_rx_mono > p->v.synced_mono ? p->v.last_rx_mono : p->v.synced_mono;
        in->age_ms = mono - last;
    }
}

static ct_err write_report(run_st *r, const ct_natstatus *s)
{
    const ct_nat_reporter_config *cfg = r->cfg;
    ct_buf_reset(&r->out);
    ct_err e = CT_OK;
    char err[512] = "";
    if (cfg->xlsx) {
        e = ct_natstatus_xlsx(r->n, s, &r->out, err, sizeof err);
        if (e) {
            ct_log(CT_LOG_ERROR, "cannot make the workbook", "err=\"%s\"", err);
            return e;
        }
    } else if (cfg->fmt == CT_NAT_CSV && cfg->output) {
        e = ct_buf_append(&r->out, "\xEF\xBB\xBF", 3);
    }
    if (!e && !cfg->xlsx) e = ct_natstatus_render(r->n, s, cfg->fmt, 0, &r->out);
    if (!e && cfg->fmt == CT_NAT_TABLE && !cfg->output && !cfg->once)
        e = ct_buf_append(&r->out, "\n", 1);
    if (e) return e;
    e = ct_file_replace(cfg->output ? cfg->output : "-", r->out.data, r->out.len, err, sizeof err);
    if (e)
        ct_log(CT_LOG_ERROR, "cannot write the national report", "output=%s err=\"%s\"",
               cfg->output ? cfg->output : "stdout", err);
    return e;
}

/* The feed document: the overall state and each province's. */
static ct_err render_feed(run_st *r, const ct_natstatus *s, int64_t mono)
{
    ct_buf *b = &r->feed;
    ct_buf_reset(b);
    size_t live = 0;
    for (size_t i = 0; i < r->n->n_provinces; i++)
        live += strcmp(prov_feed(&r->ps[i], mono), "live") == 0;
    const char *overall = live == r->n->n_provinces ? "live"
                          : s->n_included == 0      ? "not_connected"
                                                    : "partial";
    ct_err e =
        ct_buf_printf(b,
                      "{\"feed\":\"%s\",\"national\":true,\"provinces_live\":%zu,"
                      "\"provinces_included\":%zu,\"provinces_total\":%zu,\"now_ms\":%lld,"
                      "\"provinces\":[",
                      overall, live, s->n_included, r->n->n_provinces, (long long)ct_now_ms());
    for (size_t i = 0; !e && i < r->n->n_provinces; i++) {
        const prov_st *p = &r->ps[i];
        char reason[200];
        ct_view_problem(&p->v, mono, reason, sizeof reason);
        e = ct_buf_printf(b,
                          "%s{\"code\":%u,\"feed\":\"%s\",\"link\":\"%s\",\"seq\":%llu,\"reason\":",
                          i ? "," : "", p->p->code, prov_feed(p, mono),
                          ct_link_state_name(p->v.link.state), (unsigned long long)p->v.seq);
        if (!e) e = ct_text_json_str(b, reason);
        if (!e)
            e = ct_buf_printf(b, ",\"age_ms\":%lld,\"snapshots\":%llu,\"gaps\":%llu,\"endpoint\":",
                              (long long)r->in[i].age_ms, (unsigned long long)p->v.n_snapshots,
                              (unsigned long long)p->v.n_gaps);
        if (!e) e = ct_text_json_str(b, p->v.cfg.feed_ep);
        if (!e)
            e = ct_buf_printf(b, ",\"moves\":%llu,\"fenced\":%llu}",
                              (unsigned long long)p->v.n_moves, (unsigned long long)p->v.n_fenced);
    }
    return e ? e : ct_buf_printf(b, "]}");
}

static ct_err render_metrics(run_st *r, const ct_natstatus *s)
{
    ct_buf *b = &r->metrics;
    ct_buf_reset(b);
    ct_err e = ct_buf_printf(
        b,
        "# HELP chitieu_national_provinces_included Provinces whose figures are in the totals.\n"
        "# TYPE chitieu_national_provinces_included gauge\n"
        "chitieu_national_provinces_included %zu\n"
        "# HELP chitieu_national_provinces Provinces in the national campaign file.\n"
        "# TYPE chitieu_national_provinces gauge\nchitieu_national_provinces %zu\n"
        "# HELP chitieu_national_net National net sign-ups over the included provinces.\n"
        "# TYPE chitieu_national_net gauge\n",
        s->n_included, s->n_provs);
    for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++)
        e = ct_buf_printf(b, "chitieu_national_net{program=\"%s\"} %lld\n",
                          ct_program_name((ct_program)p), (long long)s->total[p].net);
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_national_province_feed_state 1 for the province's "
                             "feed state.\n# TYPE chitieu_national_province_feed_state gauge\n");
    for (size_t i = 0; !e && i < s->n_provs; i++)
        e = ct_buf_printf(b,
                          "chitieu_national_province_feed_state{province=\"%u\",state=\"%s\"} 1\n",
                          s->provs[i].p->code, s->provs[i].feed);
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_national_province_net A province's net sign-ups.\n"
                             "# TYPE chitieu_national_province_net gauge\n");
    for (size_t i = 0; !e && i < s->n_provs; i++)
        for (int p = 0; !e && p < CT_PROGRAM_COUNT && s->provs[i].has; p++)
            e = ct_buf_printf(
                b, "chitieu_national_province_net{province=\"%u\",program=\"%s\"} %lld\n",
                s->provs[i].p->code, ct_program_name((ct_program)p),
                (long long)s->provs[i].f.province.prog[p].net);
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_national_province_seq A province's log position.\n"
                             "# TYPE chitieu_national_province_seq gauge\n");
    for (size_t i = 0; !e && i < s->n_provs; i++)
        e = ct_buf_printf(b, "chitieu_national_province_seq{province=\"%u\"} %llu\n",
                          s->provs[i].p->code, (unsigned long long)s->provs[i].seq);
    return e;
}

/* The page's documents: the report when a position or state moved (at most
 * every PUBLISH_MS) or PUBLISH_REFRESH_MS passed; feed and metrics always (the
 * feed document marked changed with the report or a province's state). */
static ct_err publish(run_st *r, const ct_natstatus *s, int64_t mono, bool force)
{
    ct_http_docs d;
    memset(&d, 0, sizeof d);
    ct_buf_reset(&r->key);
    ct_err e = CT_OK;
    for (size_t i = 0; !e && i < s->n_provs; i++)
        e = ct_buf_printf(&r->key, "%u:%llu:%s,", s->provs[i].p->code,
                          (unsigned long long)s->provs[i].seq, s->provs[i].feed);
    if (!e) e = ct_buf_append(&r->key, "", 1); /* a C string: compared and kept below */
    if (e) return e;
    bool moved = !r->pub_key || strcmp(r->pub_key, (const char *)r->key.data) != 0;
    d.feed_changed = moved;
    if (force || (moved && mono - r->pub_mono >= PUBLISH_MS) ||
        mono - r->pub_mono >= PUBLISH_REFRESH_MS) {
        ct_buf_reset(&r->json);
        ct_buf_reset(&r->csv);
        e = ct_natstatus_render(r->n, s, CT_NAT_JSON, CT_NAT_DETAIL, &r->json);
        if (!e) e = ct_buf_append(&r->csv, "\xEF\xBB\xBF", 3);
        if (!e) e = ct_natstatus_render(r->n, s, CT_NAT_CSV, 0, &r->csv);
        if (e) return e;
        d.report = (const char *)r->json.data;
        d.report_len = r->json.len;
        d.csv = r->csv.data;
        d.csv_len = r->csv.len;
        char *k = strdup((const char *)r->key.data);
        if (!k) return CT_ERR_NOMEM;
        free(r->pub_key);
        r->pub_key = k;
        r->pub_mono = mono;
        d.feed_changed = true;
    }
    char *xk;
    if (!e && (!r->xlsx_key || (strcmp(r->xlsx_key, (const char *)r->key.data) != 0 &&
                                mono - r->xlsx_mono >= XLSX_MIN_MS))) {
        char err[512] = "";
        ct_buf_reset(&r->xlsx);
        r->xlsx_mono = mono;
        if (ct_natstatus_xlsx(r->n, s, &r->xlsx, err, sizeof err)) {
            ct_log(CT_LOG_WARN, "cannot make the page's workbook", "err=\"%s\"", err);
        } else if ((xk = strdup((const char *)r->key.data)) != NULL) {
            free(r->xlsx_key);
            r->xlsx_key = xk;
            d.xlsx = r->xlsx.data;
            d.xlsx_len = r->xlsx.len;
        }
    }
    if (!e) e = render_feed(r, s, mono);
    if (!e) e = render_metrics(r, s);
    if (e) return e;
    int64_t last_rx = 0;
    for (size_t i = 0; i < r->n->n_provinces; i++)
        if (r->ps[i].v.last_rx_mono > last_rx) last_rx = r->ps[i].v.last_rx_mono;
    d.mi = (ct_metrics_input){.feed = s->n_included ? "live" : "not_connected",
                              .link = "up",
                              .last_rx_mono = last_rx,
                              .last_apply_mono = last_rx};
    d.feed = (const char *)r->feed.data;
    d.feed_len = r->feed.len;
    d.metrics = (const char *)r->metrics.data;
    d.metrics_len = r->metrics.len;
    ct_http_publish(r->http, &d);
    return CT_OK;
}

static ct_err emit(run_st *r, bool to_output, bool force_publish)
{
    int64_t mono = ct_monotonic_ms();
    fill_inputs(r, mono);
    ct_natstatus s;
    ct_err e =
        ct_natstatus_compute(r->n, r->in, ct_report_clock_now(&r->cfg->clock, r->mono_start), &s);
    if (e) return e;
    if (to_output) e = write_report(r, &s);
    if (!e && r->http) e = publish(r, &s, mono, force_publish);
    ct_natstatus_free(&s);
    return e;
}

static bool all_synced(const run_st *r)
{
    for (size_t i = 0; i < r->n->n_provinces; i++)
        if (!r->ps[i].v.ever_synced || !r->ps[i].v.synced || r->ps[i].mismatch) return false;
    return true;
}

/* Waits for any province's socket, then lets every view handle what came;
 * *changed when a view's counts or position changed. */
static ct_err poll_views(run_st *r, int timeout_ms, bool *changed)
{
    size_t np = r->n->n_provinces;
    zmq_pollitem_t items[2 * CT_NAT_MAX_PROVINCES];
    for (size_t i = 0; i < np; i++) {
        items[2 * i] = (zmq_pollitem_t){r->ps[i].v.sub, 0, ZMQ_POLLIN, 0};
        items[2 * i + 1] = (zmq_pollitem_t){r->ps[i].v.dealer, 0, ZMQ_POLLIN, 0};
    }
    if (zmq_poll(items, (int)(2 * np), timeout_ms) < 0 && zmq_errno() != EINTR) return CT_ERR_ZMQ;
    for (size_t i = 0; i < np; i++) {
        bool ch = false;
        ct_err e = ct_view_poll(&r->ps[i].v, 0, &ch);
        *changed = *changed || ch;
        if (e) {
            ct_log(CT_LOG_ERROR, "feed failure", "province=%u err=%s", r->ps[i].p->code,
                   ct_err_name((int)e));
            return e;
        }
        check_campaign(&r->ps[i]);
    }
    return CT_OK;
}

static ct_err loop(run_st *r, const volatile sig_atomic_t *stop)
{
    const ct_nat_reporter_config *cfg = r->cfg;
    int64_t interval_ms = (int64_t)(cfg->interval_s * 1000.0);
    if (interval_ms < 1) interval_ms = 1;
    int64_t deadline = r->mono_start + (int64_t)(cfg->timeout_s * 1000.0);
    int64_t next_report = 0;
    int64_t last_publish = 0;
    bool dirty = false;
    while (!*stop) {
        ct_notify_watchdog();
        int64_t now = ct_monotonic_ms();
        int timeout = POLL_MS;
        if (next_report && next_report - now < timeout)
            timeout = next_report > now ? (int)(next_report - now) : 0;
        ct_err e = poll_views(r, timeout, &dirty);
        if (e) return e;
        now = ct_monotonic_ms();
        say_states(r, now);
        if (cfg->once) {
            if (all_synced(r)) return emit(r, true, true);
            if (now >= deadline) {
                ct_log(CT_LOG_ERROR, "not every province has figures in time: reporting without",
                       "timeout_s=%.3g", cfg->timeout_s);
                e = emit(r, true, true);
                return e ? e : CT_ERR_TIMEOUT;
            }
            continue;
        }
        if (next_report == 0 || now >= next_report) {
            e = emit(r, true, false);
            if (e && !cfg->output) return e;
            next_report = (next_report == 0 ? now : next_report) + interval_ms;
            if (next_report < now) next_report = now + interval_ms;
            last_publish = now;
            dirty = false;
        } else if (r->http && ((dirty && now - last_publish >= PUBLISH_DIRTY_MS) ||
                               now - last_publish >= PUBLISH_IDLE_MS)) {
            (void)emit(r, false, false);
            last_publish = now;
            dirty = false;
        }
    }
    ct_log(CT_LOG_INFO, "stopping on signal", "provinces=%zu", r->n->n_provinces);
    return CT_OK;
}

/* One view per province over the province's whole endpoint list (the view
 * follows one aggregator of it at a time, as the provincial reporter's does);
 * CT_ERR_CONFIG when a server key cannot be read. */
static ct_err open_views(run_st *r, void *zctx)
{
    const ct_nat_reporter_config *cfg = r->cfg;
    for (size_t i = 0; i < r->n->n_provinces; i++) {
        const ct_nat_province *p = &r->n->provinces[i];
        prov_st *ps = &r->ps[i];
        ps->p = p;
        ct_view_config vc = {
            .secure = cfg->secure, .client = cfg->client, .feed_hwm = cfg->feed_hwm};
        _Static_assert(CT_NAT_MAX_ENDPOINTS <= CT_VIEW_MAX_ENDPOINTS, "one view slot per pair");
        assert(p->n_endpoints >= 1 && p->n_endpoints <= CT_NAT_MAX_ENDPOINTS);
        for (size_t k = 0; k < p->n_endpoints; k++) {
            vc.feed_eps[k] = p->feed[k];
            vc.snapshot_eps[k] = p->snapshot[k];
        }
        vc.n_eps = p->n_endpoints;
        if (cfg->secure) {
            char err[512] = "";
            if (!p->server_key[0] ||
                ct_public_key_load(p->server_key, vc.server_public, err, sizeof err)) {
                ct_log(CT_LOG_ERROR, "cannot read a province's server key",
                       "province=%u err=\"%s\"", p->code,
                       err[0] ? err : "no server_key in the national file");
                return CT_ERR_CONFIG;
            }
        }
        ct_err e = ct_view_open(&ps->v, zctx, &vc);
        ps->opened = true;
        if (e) {
            ct_log(CT_LOG_ERROR, "cannot open a province's feed", "province=%u feed=%s err=%s",
                   p->code, p->feed[0], ct_err_name((int)e));
            return e;
        }
    }
    return CT_OK;
}

ct_err ct_nat_reporter_run(const ct_nat_reporter_config *cfg, const ct_national *n, void *zctx,
                           ct_http *http, const volatile sig_atomic_t *stop)
{
    assert(cfg && n && zctx && stop && cfg->interval_s > 0);
    assert(n->n_provinces <= CT_NAT_MAX_PROVINCES);
    run_st r = {.cfg = cfg, .n = n, .http = http, .mono_start = ct_monotonic_ms()};
    r.ps = calloc(n->n_provinces, sizeof *r.ps);
    r.in = calloc(n->n_provinces, sizeof *r.in);
    ct_err e = r.ps && r.in ? open_views(&r, zctx) : CT_ERR_NOMEM;
    if (!e) {
        ct_log(CT_LOG_INFO, "ready", "national=%s provinces=%zu interval=%.3g secure=%d", n->id,
               n->n_provinces, cfg->interval_s, (int)cfg->secure);
        if (!cfg->once) ct_notify_ready("following the provinces' feeds");
        e = loop(&r, stop);
        if (!cfg->once) ct_notify_stopping();
    }
    for (size_t i = 0; r.ps && i < n->n_provinces; i++)
        if (r.ps[i].opened) ct_view_close(&r.ps[i].v);
    free(r.ps);
    free(r.in);
    free(r.pub_key);
    free(r.xlsx_key);
    ct_buf_free(&r.xlsx);
    ct_buf_free(&r.out);
    ct_buf_free(&r.json);
    ct_buf_free(&r.csv);
    ct_buf_free(&r.feed);
    ct_buf_free(&r.metrics);
    ct_buf_free(&r.key);
    return e;
}
