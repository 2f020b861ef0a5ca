/* ct_metrics_http.c — the aggregator's /metrics (see ct_metrics_http.h).
 *
 * Invariants: the served figures and the histograms change only under mu;
 * a scrape renders from them under mu into its own buffer; histogram
 * buckets are cumulative at render time (stored per bucket); label values
 * hold no '"', '\' or control characters (replaced by '_').
 */
#include "ct_metrics_http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_buf.h"
#include "ct_life.h"
#include "ct_addr.h"
#include "ct_log.h"

static const double BATCH_LE[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
static const double COMMIT_LE[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_BATCH (sizeof BATCH_LE / sizeof *BATCH_LE)
#define N_COMMIT (sizeof COMMIT_LE / sizeof *COMMIT_LE)

typedef struct {
    uint64_t bucket[16]; /* per bucket (not cumulative); [n] is +Inf only */
    uint64_t count;
    double sum;
} histo;

struct ct_metrics_http {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    ct_metrics_http_state st;
    histo batch, commit;
};

static void observe(histo *h, const double *le, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > le[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

void ct_metrics_http_observe(ct_metrics_http *m, uint64_t batch_events, uint64_t commit_ns)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    if (batch_events) observe(&m->batch, BATCH_LE, N_BATCH, (double)batch_events);
    if (commit_ns) observe(&m->commit, COMMIT_LE, N_COMMIT, (double)commit_ns / 1e9);
    pthread_mutex_unlock(&m->mu);
}

void ct_metrics_http_set(ct_metrics_http *m, const ct_metrics_http_state *s)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->st = *s;
    pthread_mutex_unlock(&m->mu);
}

/* ---------------------------------------------------------------- rendering */

typedef struct {
    ct_buf *b;
    ct_err e;
} sink;

static void pf(sink *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(sink *o, const char *fmt, ...)
{
    if (o->e) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        o->e = CT_ERR_INTERNAL;
        return;
    }
    o->e = ct_buf_append(o->b, line, (size_t)n);
}

static void family(sink *o, const char *name, const char *type, const char *help)
{
    pf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(sink *o, const char *name, const char *type, const char *help, double v)
{
    family(o, name, type, help);
    pf(o, "%s %.17g\n", name, v);
}

static void render_histo(sink *o, const char *name, const char *help, const histo *h,
                         const double *le, size_t n)
{
    family(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += h->bucket[i];
        pf(o, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)cum);
    }
    pf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    pf(o, "%s_sum %.17g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void label_value(const char *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '_';
}

static ct_err render(const ct_metrics_http *m, ct_buf *b)
{
    const ct_metrics_http_state *s = &m->st;
    const ct_ingest_stats *in = &s->ingest;
    sink o = {b, CT_OK};
    one(&o, "chitieu_aggregator_events_received_total", "counter",
        "events received in submit messages", (double)in->events);
    family(&o, "chitieu_aggregator_events_total", "counter", "events answered, by result");
    pf(&o, "chitieu_aggregator_events_total{result=\"accepted\"} %llu\n",
       (unsigned long long)in->accepted);
    pf(&o, "chitieu_aggregator_events_total{result=\"duplicate\"} %llu\n",
       (unsigned long long)in->duplicates);
    pf(&o, "chitieu_aggregator_events_total{result=\"rejected\"} %llu\n",
       (unsigned long long)in->rejected);
    pf(&o, "chitieu_aggregator_events_total{result=\"retry\"} %llu\n",
       (unsigned long long)in->retry);
    family(&o, "chitieu_aggregator_rejects_total", "counter",
           "rejected events by reason (the error's name)");
    for (int c = 0; c < CT_INGEST_MAX_CODES; c++)
        if (in->rejects_by_code[c])
            pf(&o, "chitieu_aggregator_rejects_total{reason=\"%s\"} %llu\n", ct_err_name(c),
               (unsigned long long)in->rejects_by_code[c]);
    family(&o, "chitieu_aggregator_life_entries_total", "counter",
           "campaign life entries accepted, by kind (void, correct, target, close, reopen, reorg)");
    for (int k = 1; k < CT_INGEST_LIFE_KINDS; k++)
        pf(&o, "chitieu_aggregator_life_entries_total{kind=\"%s\"} %llu\n",
           ct_life_kind_name((ct_life_kind)k), (unsigned long long)in->life_accepted[k]);
    one(&o, "chitieu_aggregator_bad_messages_total", "counter",
        "messages refused as a whole (answered err)", (double)in->bad_messages);
    family(&o, "chitieu_aggregator_telemetry_total", "counter",
           "office telemetry messages, by result (never logged or counted)");
    pf(&o, "chitieu_aggregator_telemetry_total{result=\"recorded\"} %llu\n",
       (unsigned long long)in->telemetry);
    pf(&o, "chitieu_aggregator_telemetry_total{result=\"refused\"} %llu\n",
       (unsigned long long)in->telemetry_refused);
    one(&o, "chitieu_aggregator_batches_total", "counter", "ingest rounds that received something",
        (double)in->batches);
    one(&o, "chitieu_aggregator_commits_total", "counter", "successful store commits",
        (double)in->commits);
    one(&o, "chitieu_aggregator_commit_failures_total", "counter",
        "failed store commits (answered retry)", (double)in->commit_failures);
    one(&o, "chitieu_aggregator_acks_undeliverable_total", "counter",
        "acks dropped: peer gone or its queue full", (double)in->acks_undeliverable);
    render_histo(&o, "chitieu_aggregator_batch_events", "events per ingest round", &m->batch,
                 BATCH_LE, N_BATCH);
    render_histo(&o, "chitieu_aggregator_commit_duration_seconds",
                 "duration of one store commit (the group commit)", &m->commit, COMMIT_LE,
                 N_COMMIT);
    one(&o, "chitieu_aggregator_open_connections", "gauge",
        "connections open over all sockets (ingest, feed, snapshot, replication)",
        (double)s->open_connections);
    one(&o, "chitieu_aggregator_connections_refused_total", "counter",
        "connections cut at the connection bound", (double)s->connections_refused);
    one(&o, "chitieu_aggregator_log_seq", "gauge", "sequence number of the log's head",
        (double)s->log_seq);
    one(&o, "chitieu_aggregator_feed_updates_total", "counter", "feed updates published",
        (double)s->feed_updates);
    one(&o, "chitieu_aggregator_snapshots_total", "counter", "snapshots served",
        (double)s->snapshots);
    if (s->primary) {
        one(&o, "chitieu_aggregator_committed_seq", "gauge", "committed watermark",
            (double)s->committed);
        one(&o, "chitieu_aggregator_safe_seq", "gauge",
            "safe watermark: fsynced here and by the followers waited for", (double)s->safe);
        one(&o, "chitieu_aggregator_safe_stalled_seconds", "gauge",
            "time safe has not moved while committed is ahead (0 when equal)",
            (double)s->safe_stalled_ms / 1000.0);
        one(&o, "chitieu_aggregator_safe_pushes_total", "counter",
            "sf messages sent: the safe watermark pushed to collectors that asked (sp)",
            (double)s->safe_pushes);
        one(&o, "chitieu_aggregator_safe_push_waiting", "gauge",
            "collectors holding events committed here and waiting for a pushed safe watermark",
            (double)s->safe_push_waiting);
        family(&o, "chitieu_aggregator_follower_lag_records", "gauge",
               "records committed here and not yet confirmed by the follower");
        for (size_t i = 0; i < s->n_followers; i++) {
            char id[CT_REPL_ID_MAX];
            label_value(s->followers[i].id, id, sizeof id);
            pf(&o, "chitieu_aggregator_follower_lag_records{follower=\"%s\"} %llu\n", id,
               (unsigned long long)s->followers[i].lag_records);
        }
        family(&o, "chitieu_aggregator_follower_lag_seconds", "gauge",
               "age of the oldest record the follower lacks");
        for (size_t i = 0; i < s->n_followers; i++) {
            char id[CT_REPL_ID_MAX];
            label_value(s->followers[i].id, id, sizeof id);
            pf(&o, "chitieu_aggregator_follower_lag_seconds{follower=\"%s\"} %.3f\n", id,
               (double)s->followers[i].lag_ms / 1000.0);
        }
        family(&o, "chitieu_aggregator_follower_applied_seq", "gauge",
               "the follower's counted head (its durable head when it does not say)");
        for (size_t i = 0; i < s->n_followers; i++) {
            char id[CT_REPL_ID_MAX];
            label_value(s->followers[i].id, id, sizeof id);
            pf(&o, "chitieu_aggregator_follower_applied_seq{follower=\"%s\"} %llu\n", id,
               (unsigned long long)s->followers[i].applied);
        }
    }
    if (s->follower) {
        one(&o, "chitieu_aggregator_replication_lag_records", "gauge",
            "records the primary committed that this follower has not appended",
            (double)s->replication_lag_records);
        one(&o, "chitieu_aggregator_primary_connected", "gauge", "1 when connected to the primary",
            s->primary_connected ? 1 : 0);
        one(&o, "chitieu_aggregator_received_seq", "gauge",
            "the received head: records durable here, counted or not", (double)s->received_seq);
        one(&o, "chitieu_aggregator_apply_lag_records", "gauge",
            "records received (durable here) and not yet counted",
            (double)(s->received_seq > s->log_seq ? s->received_seq - s->log_seq : 0));
        one(&o, "chitieu_aggregator_apply_lag_seconds", "gauge",
            "how long the oldest received record not yet counted has waited",
            (double)s->apply_lag_ms / 1000.0);
    }
    if (s->group) {
        static const char *const roles[] = {"unknown", "leader", "follower"};
        char id[2 * CT_ETCD_VALUE_MAX + 8];
        label_value(s->group_leader[0] ? s->group_leader : "-", id, sizeof id);
        family(&o, "chitieu_aggregator_group_leader", "gauge",
               "1 for the leader's replication endpoint, as etcd names it");
        pf(&o, "chitieu_aggregator_group_leader{leader=\"%s\"} 1\n", id);
        family(&o, "chitieu_aggregator_group_role", "gauge",
               "1 for this member's role in the election");
        for (int i = 0; i < 3; i++)
            pf(&o, "chitieu_aggregator_group_role{role=\"%s\"} %d\n", roles[i],
               s->group_role == i ? 1 : 0);
        one(&o, "chitieu_aggregator_group_accepting", "gauge",
            "1 while this member takes events (leader with a sure lease)",
            s->group_accepting ? 1 : 0);
        one(&o, "chitieu_aggregator_group_epoch", "gauge",
            "the group's epoch: the leader key's etcd create revision", (double)s->group_epoch);
        one(&o, "chitieu_aggregator_group_leader_since_seconds", "gauge",
            "unix time when this member first saw the current leader",
            (double)s->group_since_ms / 1000.0);
        one(&o, "chitieu_aggregator_group_lease_seconds_left", "gauge",
            "how long this member's lease is still sure (0 = not sure: a leader stops acking)",
            (double)s->group_lease_left_ms / 1000.0);
        one(&o, "chitieu_aggregator_group_etcd_up", "gauge",
            "1 when etcd answered the last request", s->group_etcd_ok ? 1 : 0);
        family(&o, "chitieu_aggregator_group_leader_changes_total", "counter",
               "leaders this process has seen");
        pf(&o, "chitieu_aggregator_group_leader_changes_total %llu\n",
           (unsigned long long)s->group_leader_changes);
    }
    return o.e;
}

/* ---------------------------------------------------------------- server */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    ct_metrics_http *m = cls;
    static const char TXT[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, TXT, "method not allowed\n", 19);
    if (*upload_data_size) return reply(c, MHD_HTTP_BAD_REQUEST, TXT, "no body expected\n", 17);
    if (strcmp(url, "/metrics") != 0) return reply(c, MHD_HTTP_NOT_FOUND, TXT, "not found\n", 10);
    ct_buf b = CT_BUF_INIT;
    pthread_mutex_lock(&m->mu);
    ct_err e = render(m, &b);
    pthread_mutex_unlock(&m->mu);
    enum MHD_Result r =
        e ? reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TXT, "error\n", 6)
          : reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    ct_buf_free(&b);
    return r;
}

ct_err ct_metrics_http_start(const char *addr_port, ct_metrics_http **out, char *err, size_t errlen)
{
    assert(addr_port && out);
    *out = NULL;
    struct sockaddr_in sa;
    ct_err e = ct_addr_parse(addr_port, &sa, err, errlen);
    if (e) return e;
    ct_metrics_http *m = calloc(1, sizeof *m);
    if (!m) return CT_ERR_NOMEM;
    pthread_mutex_init(&m->mu, NULL);
    m->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
        m, MHD_OPTION_EXTERNAL_LOGGER, ct_log_external, (void *)"metrics http server",
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!m->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr_port, strerror(errno));
        pthread_mutex_destroy(&m->mu);
        free(m);
        return CT_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    ct_log(CT_LOG_INFO, "metrics ready", "addr=%s port=%u path=/metrics", ip,
           di ? (unsigned)di->port : (unsigned)ntohs(sa.sin_port));
    *out = m;
    return CT_OK;
}

void ct_metrics_http_stop(ct_metrics_http *m)
{
    if (!m) return;
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
