/* ct_serve.h — the office screen over HTTP(S): libmicrohttpd in front of
 * ct_office (the application), the page (office.html/.js/.css embedded at
 * build time) and the headers every reply carries.
 *
 * Binding: ADDR:PORT, PORT or :PORT (then 127.0.0.1). Any address outside
 * 127.0.0.0/8 needs TLS (cert and key files, PEM; libmicrohttpd built with
 * GnuTLS) unless plain is set, which is logged as a warning at start: the
 * passwords and national IDs would cross the network in clear.
 *
 * Requests: bodies over CT_FORM_BODY_MAX bytes are refused (413) without
 * being kept; every body is wiped once answered. One polling thread serves
 * every connection, so ct_office sees one request at a time.
 * Every reply carries Content-Security-Policy (self only, no inline script),
 * X-Content-Type-Options, X-Frame-Options DENY, Referrer-Policy no-referrer
 * and Cache-Control no-store.
 */
#ifndef CT_SERVE_H
#define CT_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_error.h"
#include "ct_office.h"

typedef struct ct_serve ct_serve;

typedef struct {
    const char *addr;     /* ADDR:PORT */
    const char *tls_cert; /* PEM files, or both NULL */
    const char *tls_key;
    bool plain; /* allow plain HTTP off loopback */
} ct_serve_opts;

/* Starts serving o (borrowed; must outlive the server). CT_ERR_USAGE for a
 * bad address or a refused plain binding, CT_ERR_CONFIG for TLS problems,
 * CT_ERR_IO when it cannot listen; the reason in err. *url is where it
 * listens (e.g. "https://0.0.0.0:8443/"). */
ct_err ct_serve_start(const ct_serve_opts *so, ct_office *o, ct_serve **out, char *url,
                      size_t urllen, char *err, size_t errlen);
void ct_serve_stop(ct_serve *sv);

#endif
