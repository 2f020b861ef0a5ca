/* ct_aggregator.h — the aggregator's event loop: one thread polls the ingest
 * and snapshot sockets, the socket monitors and a wake-up fd, and runs the
 * timers (feed heartbeat every second, LMDB reader check, stats line).
 *
 * ct_aggregator_run() opens the three servers (ct_server), then loops until
 * *stop is set: each readable ingest socket gives one group-commit round
 * (ct_ingest_round), whose commit goes to the feed (ct_feed_update); a
 * failing commit is logged with its cause (map full, disk full, I/O) at most
 * once a second while it lasts, and its recovery once. *reload set means
 * "re-read the authorization file" (SIGHUP): revocations apply to open
 * connections, and feed connections are dropped when a reader lost access.
 * On stop the round in flight has been committed and acked; the ingest
 * socket closes with a 1 s linger so the last acks leave.
 *
 * Replication: with replicate endpoints, a ROUTER serves followers
 * (ct_repl) and every commit is offered to them; acks carry the safe
 * watermark to collectors that ask for it. With follow set, the process is
 * a follower: no ingest socket is bound; batches from the primary are
 * appended (ct_follow) and published on the feed like commits; a divergence
 * ends the run with CT_ERR_CHAIN and err naming the seq.
 *
 * Group mode (elect set): the process starts taking no events; while the
 * election says it leads with a sure lease it is the primary, with the
 * group's epoch written in its store (after applying every record already
 * received as a follower); while another member leads it follows that
 * member's endpoint; otherwise (no leader, lease no longer sure, etcd
 * unreachable) it answers submits and replication requests with
 * not_primary, ships nothing and says so in its log. A member whose log
 * the leader refuses (an unsafe tail) ends the run for a rejoin (rejoin_to).
 *
 * The flags are written by signal handlers or another thread; whoever sets
 * one writes a byte to the write end of wake_fd's pipe so the poll returns.
 * The caller owns the ZeroMQ context, the store, the campaign and the auth
 * table (and has started the ZAP handler, in secure mode, before the call).
 */
#ifndef CT_AGGREGATOR_H
#define CT_AGGREGATOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_elect.h"
#include "ct_error.h"
#include "ct_keys.h"
#include "ct_metrics_http.h"
#include "ct_store.h"

typedef struct {
    const ct_campaign *campaign;
    ct_store *store;
    ct_auth *auth;        /* NULL = insecure: no CURVE, no authorization */
    const ct_keypair *kp; /* server key pair; NULL with auth NULL */
    void *zctx;
    const char *data; /* data directory: for the disk-space check and logs */
    const char *const *ingest, *const *feed, *const *snapshot;
    size_t n_ingest, n_feed, n_snapshot;
    size_t batch_max;
    bool no_future_check;
    double stats_interval; /* seconds; 0 = no stats line */
    long max_connections, handshake_ivl_ms, feed_hwm, reader_check_s;
    volatile sig_atomic_t *stop, *reload;
    int wake_fd; /* read end of a non-blocking pipe; -1 = none */
    /* replication (ct_repl.h, ct_follow.h): the ROUTER followers connect to
     * (n_replicate 0 = none), the number of followers that must confirm an
     * event before acks call it safe, and, for a follower, the primary's
     * replication endpoint (NULL = a primary) and public key (secure mode;
     * the follower's own key pair is kp) */
    const char *const *replicate;
    size_t n_replicate;
    size_t sync_followers;
    const char *follow;
    int64_t apply_delay_ms; /* --apply-delay: a follower counts a record this
                               long after the primary received it */
    const char *primary_key_z85;
    uint64_t test_flip_seq; /* TEST ONLY: see ct_repl_opts */
    bool test_no_ahead;     /* TEST ONLY: see ct_repl_opts */
    /* the /metrics server (started and stopped by the caller) that the loop
     * keeps current: every round observed, the figures handed over every
     * METRICS_PUBLISH_MS; NULL = none */
    ct_metrics_http *metrics;
    /* group mode (ct_elect.h; started and stopped by the caller): the role
     * follows the election at runtime. NULL = the role is the command
     * line's. With it, follow is NULL and replicate is given. */
    ct_elect *elect;
    const char *advertise; /* our replication endpoint in the leader key */
    /* group mode: when this member must rejoin (its log is not a prefix of
     * the leader's), the run ends with CT_ERR_CHAIN and the leader's
     * replication endpoint in rejoin_to (else rejoin_to[0] = 0) */
    char *rejoin_to;
    size_t rejoin_to_len;
} ct_aggregator_opts;

/* Runs until *o->stop. CT_OK after a clean stop; otherwise err says what
 * failed (socket setup, zmq_poll, out of memory). */
ct_err ct_aggregator_run(const ct_aggregator_opts *o, char *err, size_t errlen);

#endif
