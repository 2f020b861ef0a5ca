/* ct_http.c — the reporter's HTTP endpoints on libmicrohttpd (see ct_http.h).
 *
 * Invariants: the published documents (json, metrics, mi) change only under
 * h->mu; `version` increases with every publish and /events streams wait on
 * h->cv for it to change (or for `stopping`). Each /events stream owns its
 * sse_stream (freed by MHD's free callback). Nothing here touches ZeroMQ or
 * the view: the main thread hands over rendered bytes.
 */
#include "ct_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ct_buf.h"
#include "ct_log.h"
#include "ct_time.h"

extern const char ct_page_html[];
extern const size_t ct_page_html_len;

#define SSE_PING_MS 10000
#define MAX_CONNECTIONS 64

struct ct_http {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    uint64_t version;
    ct_buf json; /* without the trailing newline */
    ct_buf metrics;
    ct_metrics_input mi;
    char token[256];
    bool has_token;
};

typedef struct {
    ct_http *h;
    uint64_t sent_version;
    ct_buf out;
    size_t off;
    bool hello;
} sse_stream;

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

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Blocks (in this connection's own thread) until there is something to send. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *s = cls;
    ct_http *h = s->h;
    if (s->off < s->out.len) {
        size_t n = s->out.len - s->off;
        if (n > max) n = max;
        memcpy(buf, s->out.data + s->off, n);
        s->off += n;
        return (ssize_t)n;
    }
    ct_buf_reset(&s->out);
    s->off = 0;
    pthread_mutex_lock(&h->mu);
    if (!s->hello) {
        s->hello = true;
        ct_buf_append(&s->out, "retry: 2000\n\n", 13);
    }
    if (s->out.len == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SSE_PING_MS / 1000;
        while (!h->stopping && h->version == s->sent_version) {
            if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT) break;
        }
    }
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    ct_err e = CT_OK;
    if (h->version != s->sent_version && h->json.len > 0) {
        e = ct_buf_append(&s->out, "event: status\ndata: ", 20);
        if (!e) e = ct_buf_append(&s->out, h->json.data, h->json.len);
        if (!e) e = ct_buf_append(&s->out, "\n\n", 2);
        s->sent_version = h->version;
    } else if (s->out.len == 0) {
        e = ct_buf_append(&s->out, "event: ping\ndata: {}\n\n", 22);
    }
    pthread_mutex_unlock(&h->mu);
    if (e) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = s->out.len < max ? s->out.len : max;
    memcpy(buf, s->out.data, n);
    s->off = n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;
    ct_buf_free(&s->out);
    free(s);
}

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
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", ct_page_html, ct_page_html_len);
    if (strcmp(url, "/status.json") == 0) {
        pthread_mutex_lock(&h->mu);
        enum MHD_Result r;
        if (h->json.len == 0)
            r = reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json; charset=utf-8",
                      "{\"error\":\"no snapshot from the aggregator yet\"}\n", 47);
        else
            r = reply(c, MHD_HTTP_OK, "application/json; charset=utf-8", h->json.data, h->json.len);
        pthread_mutex_unlock(&h->mu);
        return r;
    }
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
    if (strcmp(url, "/events") == 0) {
        sse_stream *s = calloc(1, sizeof *s);
        if (!s) return MHD_NO;
        s->h = h;
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
        if (!r) {
            free(s);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static ct_err parse_addr(const char *s, struct sockaddr_in *sa, char *err, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(s, ':');
    const char *port = colon ? colon + 1 : s;
    if (colon && colon != s) {
        size_t hl = (size_t)(colon - s);
        if (hl >= sizeof host) {
            snprintf(err, errlen, "address too long: %s", s);
            return CT_ERR_USAGE;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "bad port in %s (want ADDR:PORT, e.g. 127.0.0.1:8080)", s);
        return CT_ERR_USAGE;
    }
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "bad IPv4 address in %s", s);
        return CT_ERR_USAGE;
    }
    sa->sin_port = htons((uint16_t)p);
    return CT_OK;
}

ct_err ct_http_start(const char *addr_port, const char *token, ct_http **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    struct sockaddr_in sa;
    ct_err e = parse_addr(addr_port, &sa, err, errlen);
    if (e) return e;
    bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && (!token || !*token)) {
        snprintf(err, errlen, "binding %s (not loopback) needs --http-token", addr_port);
        return CT_ERR_USAGE;
    }
    if (token && strlen(token) >= sizeof((ct_http *)0)->token) {
        snprintf(err, errlen, "--http-token too long");
        return CT_ERR_USAGE;
    }
    ct_http *h = calloc(1, sizeof *h);
    if (!h) return CT_ERR_NOMEM;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (token && *token) {
        snprintf(h->token, sizeof h->token, "%s", token);
        h->has_token = true;
    }
    h->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        1u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr_port, strerror(errno));
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        return CT_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    ct_log(CT_LOG_INFO, "http ready", "addr=%s port=%u token=%s", ip,
           di ? (unsigned)di->port : (unsigned)ntohs(sa.sin_port), h->has_token ? "yes" : "no");
    *out = h;
    return CT_OK;
}

void ct_http_publish(ct_http *h, const char *json, size_t json_len, const char *metrics,
                     size_t metrics_len, const ct_metrics_input *mi)
{
    while (json_len > 0 && (json[json_len - 1] == '\n' || json[json_len - 1] == '\r'))
        json_len--;
    pthread_mutex_lock(&h->mu);
    ct_buf_reset(&h->json);
    ct_buf_reset(&h->metrics);
    if (ct_buf_append(&h->json, json, json_len) ||
        ct_buf_append(&h->metrics, metrics, metrics_len)) {
        ct_buf_reset(&h->json);
        ct_buf_reset(&h->metrics);
    }
    h->mi = *mi;
    h->version++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void ct_http_stop(ct_http *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    ct_buf_free(&h->json);
    ct_buf_free(&h->metrics);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
