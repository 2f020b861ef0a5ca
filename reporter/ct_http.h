/* ct_http.h — the reporter's HTTP server (libmicrohttpd).
 *
 *   GET /             the live page (reporter/page.html, embedded at build time)
 *   GET /status.json  the latest JSON report (every staff member, per-district
 *                     days) with the "hq" document as its last member; 503 with the feed document
 * before the first snapshot GET /feed.json    the feed document: state, link, reason, seq, ages GET
 * /events       Server-Sent Events: "status" carries the JSON report, sent at once and again only
 * when the report changed (log position, feed state, or the periodic refresh of the clock-derived
 * figures); "feed" carries the feed document, sent at once, when the state or reason changes, and
 * as a heartbeat every 5 s; "retry: 2000" so browsers reconnect after a restart "hq" carries the
 * offices and replication document (ct_hq.h), sent at once and again when its stable form changed
 *   GET /hq.json      the offices and replication document, current ages
 *   GET /metrics      Prometheus text format (ct_metrics, ct_hq)
 *   GET /report.csv   the report as CSV for Excel (UTF-8 with a BOM), made from
 *                     the same log position and chain head as /status.json
 *   GET /report-staff.csv  every staff member, both programs (UTF-8 with a BOM)
 *   GET /status-current.json, /status-original.json  the JSON report by the units
 *                     in force / the original units (PROTOCOL §4.5), for a campaign
 *                     that declares reorganizations (the page's "Đơn vị" switch)
 *   GET /report-changes.csv, /report-days.csv, /report-late.csv,
 *       /report-ranking.csv  the campaign's life (report/ct_status_life.h;
 *                     header only while the counters hold none)
 *   GET /report.xlsx  the workbook (report/ct_status_xlsx: province, districts,
 *                     staff sheets); made at most every few seconds, so it may
 *                     trail /status.json briefly; its rows name their position
 *
 * Threads: libmicrohttpd runs a small pool of polling threads (epoll), so an
 * idle /events stream costs a descriptor and a few KB, not a thread: a stream
 * with nothing to send is suspended and resumed by the next publish. The
 * reporter's main thread calls ct_http_publish() with freshly rendered
 * documents; handlers take references to them under a mutex (one copy of
 * each document, however many viewers). One owner: ct_http_stop() resumes
 * and ends every stream, stops the daemon, frees everything.
 *
 * Access: ADDR:PORT binds ADDR (":PORT" or "PORT" alone: 127.0.0.1). A token
 * is required when ADDR is not loopback; with a token every request must carry
 * "?token=T" or "Authorization: Bearer T" (else 401).
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_error.h"
#include "ct_metrics.h"

typedef struct ct_http ct_http;

/* The life CSVs, in CT_FMT_CHANGES_CSV .. CT_FMT_RANKING_CSV order. */
#define CT_HTTP_LIFE_CSVS 4
extern const char *const ct_http_life_csv_paths[CT_HTTP_LIFE_CSVS];

typedef struct {
    const char *addr_port;
    const char *token;    /* NULL or "": none */
    unsigned max_clients; /* simultaneous connections; 0: CT_HTTP_DEFAULT_CLIENTS */
    const char *page;     /* GET /: NULL serves the provincial page.html */
    size_t page_len;
} ct_http_config;

#define CT_HTTP_DEFAULT_CLIENTS 4096

/* Starts the server. Raises the process's open-file limit (soft, up to the
 * hard limit) to fit max_clients; when the hard limit is lower, serves fewer
 * and logs how many. */
ct_err ct_http_start(const ct_http_config *cfg, ct_http **out, char *err, size_t errlen);

/* One publish. Every pointer is copied before return. */
typedef struct {
    const char *report; /* JSON report line; NULL: the report did not change */
    size_t report_len;
    const char *feed; /* the feed document (JSON object), always given */
    size_t feed_len;
    bool feed_changed;   /* its state, reason or position differs from the last one */
    const char *metrics; /* always given */
    size_t metrics_len;
    ct_metrics_input mi; /* for the age gauges at scrape time */
    const void *csv;     /* /report.csv; NULL leaves the previous one */
    size_t csv_len;
    const void *staff_csv; /* /report-staff.csv; NULL leaves the previous one */
    size_t staff_csv_len;
    const void *commune_csv; /* /report-communes.csv; NULL leaves the previous one */
    size_t commune_csv_len;
    const void *life_csv[CT_HTTP_LIFE_CSVS]; /* the life CSVs; NULL leaves the previous one */
    size_t life_csv_len[CT_HTTP_LIFE_CSVS];
    const void *xlsx; /* /report.xlsx; NULL leaves the previous one */
    size_t xlsx_len;
    /* /status-current.json, /status-original.json: the JSON report by each ct_units
     * (report/ct_reorg.h), for a campaign that declares reorganizations; NULL leaves
     * the previous one */
    const char *by_units[2];
    size_t by_units_len[2];
    const char *hq; /* the offices and replication document (JSON object); NULL: none */
    size_t hq_len;
    bool hq_changed; /* its stable form differs from the last one: pages get it */
} ct_http_docs;

void ct_http_publish(ct_http *h, const ct_http_docs *d);
void ct_http_stop(ct_http *h);

#endif
