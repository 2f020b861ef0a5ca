/* ct_http.h — the reporter's HTTP server (libmicrohttpd).
 *
 *   GET /             the live page (reporter/page.html, embedded at build time)
 *   GET /status.json  the latest JSON report (with the staff below quota);
 *                     503 before the first snapshot
 *   GET /events       Server-Sent Events: "status" events carry the JSON report,
 *                     sent at once and after every publish; "ping" every 10 s;
 *                     "retry: 2000" so browsers reconnect after a restart
 *   GET /metrics      Prometheus text format (ct_metrics)
 *
 * Threads: libmicrohttpd runs its own threads (one per connection, bounded);
 * the reporter's main thread calls ct_http_publish() with freshly rendered
 * documents; handlers copy them under a mutex. One owner: ct_http_stop()
 * wakes every /events stream, stops the daemon, frees everything.
 *
 * Access: ADDR:PORT binds ADDR (":PORT" or "PORT" alone: 127.0.0.1). A token
 * is required when ADDR is not loopback; with a token every request must carry
 * "?token=T" or "Authorization: Bearer T" (else 401).
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stddef.h>

#include "ct_error.h"
#include "ct_metrics.h"

typedef struct ct_http ct_http;

ct_err ct_http_start(const char *addr_port, const char *token, ct_http **out, char *err,
                     size_t errlen);
/* json: one JSON report line; metrics: ct_metrics_render() output; mi: the
 * view's counters for the age gauges (copied). */
void ct_http_publish(ct_http *h, const char *json, size_t json_len, const char *metrics,
                     size_t metrics_len, const ct_metrics_input *mi);
void ct_http_stop(ct_http *h);

#endif
