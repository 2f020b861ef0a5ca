/* ct_serve.c — the office screen's HTTP layer (see ct_serve.h).
 *
 * Invariants: each connection owns one `upload` (its body, at most
 * CT_FORM_BODY_MAX bytes kept, CT_OFFICE_UPLOAD_MAX for /api/import) from its first callback until
 * MHD's completion callback, which wipes and frees it; the TLS key file's bytes are wiped once the
 * daemon has them.
 */
#include "ct_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ct_addr.h"
#include "ct_buf.h"
#include "ct_form.h"
#include "ct_log.h"

extern const char ct_office_html[], ct_office_js[], ct_office_css[];
extern const size_t ct_office_html_len, ct_office_js_len, ct_office_css_len;

#define MAX_CONNECTIONS 64
#define TLS_FILE_MAX (64 * 1024)

struct ct_serve {
    struct MHD_Daemon *d;
    ct_office *o;
    bool tls;
};

typedef struct {
    ct_buf body;
    bool too_large;
    bool discard; /* an upload without a session and its CSRF token: not kept */
} upload;

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'";

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                                  const void *data, size_t len, const ct_office_resp *r)
{
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!res) return MHD_NO;
    MHD_add_response_header(res, "Content-Type", ctype);
    MHD_add_response_header(res, "Cache-Control", "no-store");
    MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(res, "X-Frame-Options", "DENY");
    MHD_add_response_header(res, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(res, "Content-Security-Policy", CSP);
    for (int i = 0; r && i < r->n_cookies; i++)
        MHD_add_response_header(res, "Set-Cookie", r->cookies[i]);
    enum MHD_Result ret = MHD_queue_response(c, status, res);
    MHD_destroy_response(res);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *con_cls;
    if (!u) return;
    if (u->body.data) sodium_memzero(u->body.data, u->body.cap);
    ct_buf_free(&u->body);
    free(u);
    *con_cls = NULL;
}

static const char *lookup(const void *ctx, int kind, const char *name)
{
    struct MHD_Connection *c = (struct MHD_Connection *)(uintptr_t)ctx;
    return MHD_lookup_connection_value(
        c, kind == CT_OFFICE_HEADER ? MHD_HEADER_KIND : MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    ct_serve *sv = cls;
    upload *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u) return MHD_NO;
        *con_cls = u;
        if (strcmp(url, "/api/import") == 0)
            u->discard = !ct_office_upload_allowed(
                sv->o, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "ct_session"),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"));
        return MHD_YES;
    }
    if (*upload_data_size && u->discard) {
        *upload_data_size = 0; /* answered 401/403 below, from the headers */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t max = strcmp(url, "/api/import") == 0 ? CT_OFFICE_UPLOAD_MAX : CT_FORM_BODY_MAX;
        if (!u->too_large && u->body.len + *upload_data_size <= max) {
            if (ct_buf_append(&u->body, upload_data, *upload_data_size) != CT_OK)
                u->too_large = true;
        } else {
            u->too_large = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (u->too_large && strcmp(url, "/api/import") == 0) {
        static const char msg[] =
            "{\"ok\":false,\"code\":\"frame_too_large\",\"error\":\"the file is larger than "
            "5 MiB: split it into smaller files (nothing was imported)\"}\n";
        return send_reply(c, 413, "application/json; charset=utf-8", msg, sizeof msg - 1, NULL);
    }
    if (u->too_large) {
        static const char msg[] =
            "{\"ok\":false,\"code\":\"frame_too_large\",\"error\":\"the request is too large\"}\n";
        return send_reply(c, 413, "application/json; charset=utf-8", msg, sizeof msg - 1, NULL);
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (get && (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0))
        return send_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", ct_office_html,
                          ct_office_html_len, NULL);
    if (get && strcmp(url, "/office.js") == 0)
        return send_reply(c, MHD_HTTP_OK, "text/javascript; charset=utf-8", ct_office_js,
                          ct_office_js_len, NULL);
    if (get && strcmp(url, "/office.css") == 0)
        return send_reply(c, MHD_HTTP_OK, "text/css; charset=utf-8", ct_office_css,
                          ct_office_css_len, NULL);
    char peer[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
                  sizeof peer);
    ct_office_req q = {
        .method = strcmp(method, "HEAD") == 0 ? "GET" : method,
        .path = url,
        .cookie_session = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "ct_session"),
        .cookie_login = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "ct_login"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .body = u->body.data ? (const char *)u->body.data : "",
        .body_len = u->body.len,
        .peer = peer,
        .lookup = lookup,
        .lookup_ctx = c,
    };
    ct_office_resp r;
    ct_office_handle(sv->o, &q, &r);
    enum MHD_Result ret =
        send_reply(c, r.status, "application/json; charset=utf-8", r.body.data, r.body.len, &r);
    ct_buf_free(&r.body);
    return ret;
}

/* Reads a whole PEM file (NUL-terminated) into b. */
static ct_err read_pem(const char *path, ct_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_CONFIG;
    }
    char chunk[4096];
    size_t n;
    ct_err e = CT_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && e == CT_OK) {
        if (b->len + n > TLS_FILE_MAX) {
            snprintf(err, errlen, "%s: larger than %d bytes: not a PEM file", path, TLS_FILE_MAX);
            e = CT_ERR_CONFIG;
        } else {
            e = ct_buf_append(b, chunk, n);
        }
    }
    if (e == CT_OK && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        e = CT_ERR_CONFIG;
    }
    fclose(f);
    sodium_memzero(chunk, sizeof chunk);
    if (e == CT_OK) e = ct_buf_append(b, "", 1);
    if (e == CT_OK && !strstr((const char *)b->data, "-----BEGIN ")) {
        snprintf(err, errlen, "%s: not a PEM file", path);
        e = CT_ERR_CONFIG;
    }
    return e;
}

ct_err ct_serve_start(const ct_serve_opts *so, ct_office *o, ct_serve **out, char *url,
                      size_t urllen, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_in sa;
    ct_err e = ct_addr_parse(so->addr, &sa, err, errlen);
    if (e) return e;
    bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    bool tls = so->tls_cert || so->tls_key;
    if (tls && (!so->tls_cert || !so->tls_key)) {
        snprintf(err, errlen, "TLS needs both --tls-cert and --tls-key");
        return CT_ERR_USAGE;
    }
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen,
                 "this libmicrohttpd was built without TLS (GnuTLS): cannot serve "
                 "HTTPS; bind 127.0.0.1 and put a TLS proxy in front");
        return CT_ERR_CONFIG;
    }
    if (!loopback && !tls && !so->plain) {
        snprintf(err, errlen,
                 "refusing to serve %s without TLS: passwords and national IDs would cross the "
                 "network in clear. Give --tls-cert FILE --tls-key FILE (PEM), or bind "
                 "127.0.0.1, or (a trusted network only) --plain-http",
                 so->addr);
        return CT_ERR_USAGE;
    }
    ct_buf cert = CT_BUF_INIT, key = CT_BUF_INIT;
    ct_serve *sv = NULL;
    if (tls && ((e = read_pem(so->tls_cert, &cert, err, errlen)) != CT_OK ||
                (e = read_pem(so->tls_key, &key, err, errlen)) != CT_OK))
        goto out;
    sv = calloc(1, sizeof *sv);
    if (!sv) {
        e = CT_ERR_NOMEM;
        goto out;
    }
    sv->o = o;
    sv->tls = tls;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (tls) {
        flags |= MHD_USE_TLS;
        sv->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, sv, MHD_OPTION_EXTERNAL_LOGGER,
                                 ct_log_external, (void *)"office http server",
                                 MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED,
                                 completed, sv, MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert.data,
                                 MHD_OPTION_HTTPS_MEM_KEY, (const char *)key.data, MHD_OPTION_END);
    } else {
        sv->d = MHD_start_daemon(
            flags, 0, NULL, NULL, handler, sv, MHD_OPTION_EXTERNAL_LOGGER, ct_log_external,
            (void *)"office http server", MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
            30u, MHD_OPTION_NOTIFY_COMPLETED, completed, sv, MHD_OPTION_END);
    }
    if (!sv->d) {
        snprintf(err, errlen, "cannot listen on %s%s: %s", so->addr,
                 tls ? " (or the TLS certificate and key do not load)" : "", strerror(errno));
        e = tls ? CT_ERR_CONFIG : CT_ERR_IO;
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(sv->d, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    unsigned port = di ? (unsigned)di->port : (unsigned)ntohs(sa.sin_port);
    snprintf(url, urllen, "%s://%s:%u/", tls ? "https" : "http", ip, port);
    if (!loopback && !tls)
        ct_log(CT_LOG_WARN,
               "PLAIN HTTP off loopback (--plain-http): passwords and national IDs cross the "
               "network in clear",
               "addr=%s", CT_LOG_Q(so->addr));
    ct_log(CT_LOG_INFO, "office screen ready", "url=%s tls=%s", url, tls ? "yes" : "no");
    *out = sv;
    sv = NULL;
    e = CT_OK;
out:
    if (cert.data) sodium_memzero(cert.data, cert.cap);
    if (key.data) sodium_memzero(key.data, key.cap);
    ct_buf_free(&cert);
    ct_buf_free(&key);
    free(sv);
    return e;
}

void ct_serve_stop(ct_serve *sv)
{
    if (!sv) return;
    MHD_stop_daemon(sv->d);
    free(sv);
}
