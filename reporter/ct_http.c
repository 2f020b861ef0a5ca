/* ct_http.c — the reporter's HTTP endpoints on libmicrohttpd (see ct_http.h).
 *
 * Invariants: the published documents change only under h->mu and are
 * immutable once published: a handler or a stream holds a reference (refs,
 * under h->mu) and reads the bytes without the lock; the last reference frees
 * a document. `report_ver` and `feed_ver` increase when their document
 * changes, `hb_gen` every heartbeat period; a stream remembers the ones it
 * sent. A stream with nothing to send is on the `waiting` list and suspended
 * in libmicrohttpd, and only there: whoever takes it off the list resumes it,
 * exactly once. Each /events stream owns its sse_stream (freed by MHD's free
 * callback, which takes it off the list). Nothing here touches ZeroMQ or the
 * view: the main thread hands over rendered bytes.
 */
#include "ct_http.h"

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
#include <sys/resource.h>
#include <sys/socket.h>

#include "ct_addr.h"
#include "ct_buf.h"
#include "ct_log.h"
#include "ct_time.h"

extern const char ct_page_html[];
extern const size_t ct_page_html_len;

#define SSE_HEARTBEAT_MS 5000
#define POOL_THREADS 2
#define CONN_MEMORY (16 * 1024) /* per connection: headers and the send buffer */
#define CONN_TIMEOUT_S 120      /* idle keep-alive connections (streams are never idle) */
#define FD_SPARE 64             /* descriptors kept for everything but HTTP clients */

typedef struct {
    unsigned refs;
    size_t len;
    char data[];
} doc;

typedef struct sse_stream sse_stream;

enum {
    D_REPORT,
    D_REPORT_EV,
    D_FEED,
    D_FEED_EV,
    D_CSV,
    D_STAFF_CSV,
    D_COMMUNE_CSV,
    D_LIFE_CSV, /* CT_HTTP_LIFE_CSVS of them, in ct_http_life_csv_paths order */
    D_XLSX = D_LIFE_CSV + CT_HTTP_LIFE_CSVS,
    D_HQ,
    D_HQ_EV,
    D_UNITS_CURRENT, /* the report by ct_units (report/ct_reorg.h), in that order */
    D_UNITS_ORIGINAL,
    D_COUNT
};

struct ct_http {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    bool stopping;
    uint64_t report_ver, feed_ver, hb_gen, hq_ver;
    int64_t last_hb_mono;
    doc *docs[D_COUNT];
    ct_buf metrics;
    ct_metrics_input mi;
    sse_stream *waiting; /* doubly linked, suspended streams */
    char token[256];
    bool has_token;
    const char *page; /* GET / (static, not owned) */
    size_t page_len;
};

struct sse_stream {
    ct_http *h;
    struct MHD_Connection *conn;
    uint64_t report_ver, feed_ver, hb_gen, hq_ver;
    doc *cur;        /* being sent (a reference) */
    const char *lit; /* or a literal */
    size_t lit_len, off;
    bool hello, waiting;
    sse_stream *prev, *next;
};

static const char HELLO[] = "retry: 2000\n\n";

const char *const ct_http_life_csv_paths[CT_HTTP_LIFE_CSVS] = {
    "/report-changes.csv", "/report-days.csv", "/report-late.csv", "/report-ranking.csv"};

/* ---------------------------------------------------------------- documents */

static doc *doc_new(const char *pre, const void *body, size_t n, const char *post)
{
    size_t lp = strlen(pre), lq = strlen(post);
    doc *d = malloc(sizeof *d + lp + n + lq);
    if (!d) return NULL;
    d->refs = 1;
    d->len = lp + n + lq;
    memcpy(d->data, pre, lp);
    if (n) memcpy(d->data + lp, body, n);
    memcpy(d->data + lp + n, post, lq);
    return d;
}

/* Under h->mu. */
static void doc_unref(doc *d)
{
    if (d && --d->refs == 0) free(d);
}

/* Under h->mu: replaces slot k with d (NULL keeps the old one on failure). */
static void doc_set(ct_http *h, int k, doc *d)
{
    if (!d) return;
    doc_unref(h->docs[k]);
    h->docs[k] = d;
}

/* ---------------------------------------------------------------- requests */

static int const_time_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool authorized(ct_http *h, struct MHD_Connection *c)
{
    if (!h->has_token) return true;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (q && const_time_eq(q, h->token)) return true;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (a && strncmp(a, "Bearer ", 7) == 0 && const_time_eq(a + 7, h->token)) return true;
    return false;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *ctype,
                             struct MHD_Response *r, const char *filename)
{
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (filename) {
        char cd[160];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *data, size_t len)
{
    return queue(c, status, ctype,
                 MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY), NULL);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

typedef struct {
    ct_http *h;
    doc *d;
} doc_ref;

static void doc_ref_free(void *cls)
{
    doc_ref *r = cls;
    pthread_mutex_lock(&r->h->mu);
    doc_unref(r->d);
    pthread_mutex_unlock(&r->h->mu);
    free(r);
}

/* Serves published document k without copying it (the response holds a
 * reference); 503 with msg when there is none yet. */
static enum MHD_Result reply_doc(ct_http *h, struct MHD_Connection *c, int k, const char *ctype,
                                 const char *filename, const char *msg)
{
    doc_ref *r = malloc(sizeof *r);
    if (!r) return MHD_NO;
    r->h = h;
    pthread_mutex_lock(&h->mu);
    r->d = h->docs[k];
    if (r->d) r->d->refs++;
    pthread_mutex_unlock(&h->mu);
    if (!r->d) {
        free(r);
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        r->d->len, r->d->data, doc_ref_free, r);
    if (!resp) {
        doc_ref_free(r);
        return MHD_NO;
    }
    return queue(c, MHD_HTTP_OK, ctype, resp, filename);
}

/* ---------------------------------------------------------------- /events */

/* Under h->mu. */
static void wait_push(ct_http *h, sse_stream *s)
{
    assert(!s->waiting);
    s->waiting = true;
    s->prev = NULL;
    s->next = h->waiting;
    if (h->waiting) h->waiting->prev = s;
    h->waiting = s;
}

/* Under h->mu. */
static void wait_remove(ct_http *h, sse_stream *s)
{
    assert(s->waiting);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->waiting = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->waiting = false;
}

/* Under h->mu: every waiting stream back to work. */
static void resume_all(ct_http *h)
{
    while (h->waiting) {
        sse_stream *s = h->waiting;
        wait_remove(h, s);
        MHD_resume_connection(s->conn);
    }
}

/* Under h->mu: what the stream sends next, or false when nothing is due. */
static bool next_chunk(ct_http *h, sse_stream *s)
{
    if (!s->hello) {
        s->hello = true;
        s->lit = HELLO;
        s->lit_len = sizeof HELLO - 1;
        return true;
    }
    doc *d = NULL;
    if (h->docs[D_HQ_EV] && s->hq_ver != h->hq_ver) { /* small: before the report */
        d = h->docs[D_HQ_EV];
        s->hq_ver = h->hq_ver;
    } else if (h->docs[D_REPORT_EV] && s->report_ver != h->report_ver) {
        d = h->docs[D_REPORT_EV];
        s->report_ver = h->report_ver;
        s->hb_gen = h->hb_gen;
    } else if (h->docs[D_FEED_EV] && (s->feed_ver != h->feed_ver || s->hb_gen != h->hb_gen)) {
        d = h->docs[D_FEED_EV];
        s->feed_ver = h->feed_ver;
        s->hb_gen = h->hb_gen;
    }
    if (!d) return false;
    d->refs++;
    s->cur = d;
    return true;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *s = cls;
    ct_http *h = s->h;
    const char *src = s->cur ? s->cur->data : s->lit;
    size_t len = s->cur ? s->cur->len : s->lit ? s->lit_len : 0;
    if (s->off >= len) {
        pthread_mutex_lock(&h->mu);
        doc_unref(s->cur);
        s->cur = NULL;
        s->lit = NULL;
        s->off = 0;
        if (h->stopping) {
            pthread_mutex_unlock(&h->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!next_chunk(h, s)) {
            wait_push(h, s);
            MHD_suspend_connection(s->conn);
            pthread_mutex_unlock(&h->mu);
            return 0;
        }
        pthread_mutex_unlock(&h->mu);
        src = s->cur ? s->cur->data : s->lit;
        len = s->cur ? s->cur->len : s->lit_len;
    }
    size_t n = len - s->off < max ? len - s->off : max;
    memcpy(buf, src + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;
    pthread_mutex_lock(&s->h->mu);
    if (s->waiting) wait_remove(s->h, s);
    doc_unref(s->cur);
    pthread_mutex_unlock(&s->h->mu);
    free(s);
}

static enum MHD_Result start_events(ct_http *h, struct MHD_Connection *c)
{
    sse_stream *s = calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->h = h;
    s->conn = c;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(c, MHD_HTTP_OK, "text/event-stream; charset=utf-8", r, NULL);
}

/* ---------------------------------------------------------------- routing */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    ct_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (*upload_data_size) return reply_text(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
    if (!authorized(h, c))
        return reply_text(c, MHD_HTTP_UNAUTHORIZED,
                          "token required (?token=... or "
                          "Authorization: Bearer ...)\n");
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return queue(
            c, MHD_HTTP_OK, "text/html; charset=utf-8",
            MHD_create_response_from_buffer(h->page_len, (void *)h->page, MHD_RESPMEM_PERSISTENT),
            NULL);
    if (strcmp(url, "/status.json") == 0) {
        pthread_mutex_lock(&h->mu);
        bool have = h->docs[D_REPORT] != NULL;
        ct_buf b = CT_BUF_INIT;
        ct_err e = CT_OK;
        /* the report with "hq" as its last member, built outside the lock
         * from references */
        doc *rep = h->docs[D_REPORT], *hq = h->docs[D_HQ];
        bool splice = have && hq && rep->len > 1 && rep->data[rep->len - 1] == '}';
        if (splice) {
            rep->refs++;
            hq->refs++;
            pthread_mutex_unlock(&h->mu);
            e = ct_buf_reserve(&b, rep->len + hq->len + 8);
            if (!e) e = ct_buf_append(&b, rep->data, rep->len - 1);
            if (!e) e = ct_buf_printf(&b, ",\"hq\":");
            if (!e) e = ct_buf_append(&b, hq->data, hq->len);
            if (!e) e = ct_buf_printf(&b, "}");
            pthread_mutex_lock(&h->mu);
            doc_unref(rep);
            doc_unref(hq);
        } else if (!have) {
            e = ct_buf_printf(&b, "{\"error\":\"no snapshot from the aggregator yet\",\"feed\":");
            if (!e && h->docs[D_FEED])
                e = ct_buf_append(&b, h->docs[D_FEED]->data, h->docs[D_FEED]->len);
            else if (!e)
                e = ct_buf_printf(&b, "null");
            if (!e) e = ct_buf_printf(&b, "}\n");
        }
        pthread_mutex_unlock(&h->mu);
        enum MHD_Result r;
        if (splice && !e) {
            struct MHD_Response *resp =
                MHD_create_response_from_buffer_with_free_callback(b.len, b.data, free);
            if (!resp) {
                ct_buf_free(&b);
                return MHD_NO;
            }
            return queue(c, MHD_HTTP_OK, "application/json; charset=utf-8", resp, NULL);
        }
        if (have)
            r = reply_doc(h, c, D_REPORT, "application/json; charset=utf-8", NULL,
                          "no snapshot from the aggregator yet\n");
        else if (e)
            r = reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n");
        else
            r = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json; charset=utf-8", b.data,
                      b.len);
        ct_buf_free(&b);
        return r;
    }
    if (strcmp(url, "/hq.json") == 0)
        return reply_doc(h, c, D_HQ, "application/json; charset=utf-8", NULL, "starting\n");
    if (strcmp(url, "/feed.json") == 0)
        return reply_doc(h, c, D_FEED, "application/json; charset=utf-8", NULL, "starting\n");
    if (strcmp(url, "/metrics") == 0) {
        ct_buf b = CT_BUF_INIT;
        pthread_mutex_lock(&h->mu);
        ct_err e = ct_buf_append(&b, h->metrics.data, h->metrics.len);
        ct_metrics_input mi = h->mi;
        pthread_mutex_unlock(&h->mu);
        if (!e) e = ct_metrics_render_ages(&mi, ct_monotonic_ms(), &b);
        enum MHD_Result r =
            e ? reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "error\n")
              : reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
        ct_buf_free(&b);
        return r;
    }
    if (strcmp(url, "/events") == 0) return start_events(h, c);
    static const char NOT_YET[] = "no snapshot from the aggregator yet\n";
    if (strcmp(url, "/report.csv") == 0)
        return reply_doc(h, c, D_CSV, "text/csv; charset=utf-8", "chitieu-report.csv", NOT_YET);
    if (strcmp(url, "/report-staff.csv") == 0)
        return reply_doc(h, c, D_STAFF_CSV, "text/csv; charset=utf-8", "chitieu-staff.csv",
                         NOT_YET);
    if (strcmp(url, "/report-communes.csv") == 0)
        return reply_doc(h, c, D_COMMUNE_CSV, "text/csv; charset=utf-8", "chitieu-communes.csv",
                         NOT_YET);
    if (strcmp(url, "/status-current.json") == 0 || strcmp(url, "/status-original.json") == 0)
        return reply_doc(h, c, url[8] == 'c' ? D_UNITS_CURRENT : D_UNITS_ORIGINAL,
                         "application/json; charset=utf-8", NULL,
                         "no report by units: the campaign declares no reorganization, or no "
                         "snapshot yet\n");
    static const char *const LIFE_FILES[CT_HTTP_LIFE_CSVS] = {
        "chitieu-changes.csv", "chitieu-days.csv", "chitieu-late.csv", "chitieu-ranking.csv"};
    for (int k = 0; k < CT_HTTP_LIFE_CSVS; k++)
        if (strcmp(url, ct_http_life_csv_paths[k]) == 0)
            return reply_doc(h, c, D_LIFE_CSV + k, "text/csv; charset=utf-8", LIFE_FILES[k],
                             NOT_YET);
    if (strcmp(url, "/report.xlsx") == 0)
        return reply_doc(h, c, D_XLSX,
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         "chitieu-report.xlsx", NOT_YET);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---------------------------------------------------------------- daemon */

/* The open-file limit raised (soft up to hard) to fit want clients; returns
 * how many clients fit. */
static unsigned fit_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    rlim_t need = (rlim_t)want + FD_SPARE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = old;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        unsigned fit = rl.rlim_cur > FD_SPARE + 16 ? (unsigned)(rl.rlim_cur - FD_SPARE) : 16;
        ct_log(CT_LOG_WARN, "open-file limit too low for the requested HTTP clients",
               "want=%u serving=%u nofile=%llu hint=\"raise ulimit -n\"", want, fit,
               (unsigned long long)rl.rlim_cur);
        return fit;
    }
    return want;
}

ct_err ct_http_start(const ct_http_config *cfg, ct_http **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_in sa;
    const char *token = cfg->token;
    ct_err e = ct_addr_parse(cfg->addr_port, &sa, err, errlen);
    if (e) return e;
    bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && (!token || !*token)) {
        snprintf(err, errlen, "binding %s (not loopback) needs --http-token", cfg->addr_port);
        return CT_ERR_USAGE;
    }
    if (token && strlen(token) >= sizeof((ct_http *)0)->token) {
        snprintf(err, errlen, "--http-token too long");
        return CT_ERR_USAGE;
    }
    ct_http *h = calloc(1, sizeof *h);
    if (!h) return CT_ERR_NOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->page = cfg->page ? cfg->page : ct_page_html;
    h->page_len = cfg->page ? cfg->page_len : ct_page_html_len;
    if (token && *token) {
        snprintf(h->token, sizeof h->token, "%s", token);
        h->has_token = true;
    }
    unsigned clients = fit_fd_limit(cfg->max_clients ? cfg->max_clients : CT_HTTP_DEFAULT_CLIENTS);
    h->d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        handler, h, MHD_OPTION_EXTERNAL_LOGGER, ct_log_external, (void *)"http server",
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)POOL_THREADS, MHD_OPTION_CONNECTION_LIMIT, clients,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONN_TIMEOUT_S, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->addr_port, strerror(errno));
        pthread_mutex_destroy(&h->mu);
        free(h);
        return CT_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    ct_log(CT_LOG_INFO, "http ready", "addr=%s port=%u token=%s max_clients=%u", ip,
           di ? (unsigned)di->port : (unsigned)ntohs(sa.sin_port), h->has_token ? "yes" : "no",
           clients);
    *out = h;
    return CT_OK;
}

void ct_http_publish(ct_http *h, const ct_http_docs *d)
{
    assert(d->feed && d->metrics);
    size_t rl = d->report_len;
    while (d->report && rl > 0 && (d->report[rl - 1] == '\n' || d->report[rl - 1] == '\r'))
        rl--;
    /* built outside the lock; a failed allocation keeps the previous document */
    doc *rep = d->report ? doc_new("", d->report, rl, "") : NULL;
    doc *rep_ev = d->report ? doc_new("event: status\ndata: ", d->report, rl, "\n\n") : NULL;
    doc *feed = doc_new("", d->feed, d->feed_len, "");
    doc *feed_ev = doc_new("event: feed\ndata: ", d->feed, d->feed_len, "\n\n");
    doc *csv = d->csv ? doc_new("", d->csv, d->csv_len, "") : NULL;
    doc *staff_csv = d->staff_csv ? doc_new("", d->staff_csv, d->staff_csv_len, "") : NULL;
    doc *commune_csv = d->commune_csv ? doc_new("", d->commune_csv, d->commune_csv_len, "") : NULL;
    doc *xlsx = d->xlsx ? doc_new("", d->xlsx, d->xlsx_len, "") : NULL;
    doc *by_units[2];
    for (int u = 0; u < 2; u++)
        by_units[u] = d->by_units[u] ? doc_new("", d->by_units[u], d->by_units_len[u], "") : NULL;
    doc *life[CT_HTTP_LIFE_CSVS];
    for (int k = 0; k < CT_HTTP_LIFE_CSVS; k++)
        life[k] = d->life_csv[k] ? doc_new("", d->life_csv[k], d->life_csv_len[k], "") : NULL;
    doc *hq = d->hq ? doc_new("", d->hq, d->hq_len, "") : NULL;
    doc *hq_ev =
        d->hq && d->hq_changed ? doc_new("event: hq\ndata: ", d->hq, d->hq_len, "\n\n") : NULL;
    int64_t now = ct_monotonic_ms();
    pthread_mutex_lock(&h->mu);
    bool wake = false;
    if (rep && rep_ev) {
        doc_set(h, D_REPORT, rep);
        doc_set(h, D_REPORT_EV, rep_ev);
        h->report_ver++;
        wake = true;
    } else {
        doc_unref(rep);
        doc_unref(rep_ev);
    }
    doc_set(h, D_FEED, feed);
    doc_set(h, D_FEED_EV, feed_ev);
    doc_set(h, D_CSV, csv);
    doc_set(h, D_STAFF_CSV, staff_csv);
    doc_set(h, D_COMMUNE_CSV, commune_csv);
    doc_set(h, D_XLSX, xlsx);
    doc_set(h, D_UNITS_CURRENT, by_units[0]);
    doc_set(h, D_UNITS_ORIGINAL, by_units[1]);
    for (int k = 0; k < CT_HTTP_LIFE_CSVS; k++)
        doc_set(h, D_LIFE_CSV + k, life[k]);
    doc_set(h, D_HQ, hq);
    if (hq_ev) {
        doc_set(h, D_HQ_EV, hq_ev);
        h->hq_ver++;
        wake = true;
    }
    if (d->feed_changed) {
        h->feed_ver++;
        wake = true;
    }
    if (now - h->last_hb_mono >= SSE_HEARTBEAT_MS) {
        h->last_hb_mono = now;
        h->hb_gen++;
        wake = true;
    }
    ct_buf_reset(&h->metrics);
    if (ct_buf_append(&h->metrics, d->metrics, d->metrics_len)) ct_buf_reset(&h->metrics);
    h->mi = d->mi;
    if (wake) resume_all(h);
    pthread_mutex_unlock(&h->mu);
}

void ct_http_stop(ct_http *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    resume_all(h);
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    for (int k = 0; k < D_COUNT; k++)
        doc_unref(h->docs[k]);
    ct_buf_free(&h->metrics);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
