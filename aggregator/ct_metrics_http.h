/* ct_metrics_http.h — the aggregator's Prometheus endpoint (libmicrohttpd):
 * GET /metrics in text format 0.0.4, base units (seconds, events, records).
 *
 *   chitieu_aggregator_events_received_total            counter (ingest rate: rate())
 *   chitieu_aggregator_events_total{result}             counter accepted|duplicate|rejected|retry
 *   chitieu_aggregator_rejects_total{reason}            counter, per error name seen
 *   chitieu_aggregator_telemetry_total{result}          counter recorded|refused (office telemetry)
 *   chitieu_aggregator_bad_messages_total, _batches_total, _commits_total,
 *   _commit_failures_total, _acks_undeliverable_total   counters
 *   chitieu_aggregator_batch_events                     histogram, events per round
 *   chitieu_aggregator_commit_duration_seconds          histogram, one per commit
 *   chitieu_aggregator_open_connections                 gauge (over all sockets)
 *   chitieu_aggregator_connections_refused_total        counter
 *   chitieu_aggregator_log_seq                          gauge, the log's head
 *   chitieu_aggregator_feed_updates_total, _snapshots_total  counters
 *   replication, primary with followers configured:
 *   chitieu_aggregator_committed_seq, _safe_seq, _safe_stalled_seconds  gauges
 *   chitieu_aggregator_safe_pushes_total (counter), _safe_push_waiting (gauge):
 *   the pushed watermark's "sf" sent, collectors waiting for one
 *   chitieu_aggregator_follower_lag_records{follower}, _follower_lag_seconds{follower}
 *   (durable lag), _follower_applied_seq{follower} (its counted head)
 *   replication, follower:
 *   chitieu_aggregator_replication_lag_records, _primary_connected,
 *   _received_seq, _apply_lag_records, _apply_lag_seconds  gauges
 *   group mode (etcd election):
 *   chitieu_aggregator_group_leader{leader}, _group_role{role}, _group_accepting,
 *   _group_epoch, _group_leader_since_seconds, _group_lease_seconds_left,
 *   _group_etcd_up                                      gauges
 *   chitieu_aggregator_group_leader_changes_total       counter
 *
 * Threads: libmicrohttpd's one internal thread answers scrapes from a copy
 * of the figures the aggregator's loop hands over (ct_metrics_http_set,
 * ct_metrics_http_observe) under one mutex; the loop never waits on a
 * scrape beyond that lock. One owner: ct_metrics_http_stop() frees it.
 */
#ifndef CT_METRICS_HTTP_H
#define CT_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_ingest.h"
#include "ct_etcd.h"
#include "ct_repl.h"

typedef struct ct_metrics_http ct_metrics_http;

/* What the loop knows, handed over as a whole. */
typedef struct {
    ct_ingest_stats ingest;
    long open_connections;
    uint64_t connections_refused;
    uint64_t log_seq;
    uint64_t feed_updates, snapshots;
    bool primary; /* followers configured: the fields below */
    uint64_t committed, safe;
    int64_t safe_stalled_ms;
    uint64_t safe_pushes; /* "sf" sent (ct_safe_push.h) */
    size_t safe_push_waiting;
    size_t n_followers;
    ct_repl_follower_view followers[CT_REPL_MAX_FOLLOWERS];
    bool follower; /* this process follows a primary */
    uint64_t replication_lag_records;
    bool primary_connected;
    uint64_t received_seq; /* R; log_seq is H */
    int64_t apply_lag_ms;  /* age of the oldest received record not counted */
    bool group;            /* group mode (etcd election): the fields below */
    int group_role;        /* ct_elect_role: 0 unknown, 1 leader, 2 follower */
    bool group_accepting, group_etcd_ok;
    uint64_t group_epoch, group_leader_changes;
    int64_t group_since_ms, group_lease_left_ms;
    char group_leader[CT_ETCD_VALUE_MAX + 1];
} ct_metrics_http_state;

/* Serves ADDR:PORT (":PORT" or "PORT" alone: 127.0.0.1; port 0: any free
 * one, logged). CT_ERR_USAGE for a bad address, CT_ERR_IO when it cannot
 * listen; err says which. */
ct_err ct_metrics_http_start(const char *addr_port, ct_metrics_http **out, char *err,
                             size_t errlen);
void ct_metrics_http_stop(ct_metrics_http *m);

/* Replaces the figures served. */
void ct_metrics_http_set(ct_metrics_http *m, const ct_metrics_http_state *s);
/* One round: its events (batch size), and its commit's duration when it
 * committed (commit_ns > 0). */
void ct_metrics_http_observe(ct_metrics_http *m, uint64_t batch_events, uint64_t commit_ns);

#endif
