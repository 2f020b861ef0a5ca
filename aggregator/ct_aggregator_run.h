/* ct_aggregator_run.h — what the parts of one aggregator run share (private
 * to aggregator/): the run's state and the functions ct_aggregator.c's loop
 * calls in ct_aggregator_show.c (the stats line, /metrics, the "sta") and
 * ct_aggregator_roles.c (a follower's rounds, the group's roles).
 *
 * Invariants: one thread owns a ct_aggregator_state and calls all of these;
 * none of them blocks on the network.
 */
#ifndef CT_AGGREGATOR_RUN_H
#define CT_AGGREGATOR_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_aggregator.h"
#include "ct_counts.h"
#include "ct_elect.h"
#include "ct_feed.h"
#include "ct_follow.h"
#include "ct_ingest.h"
#include "ct_logrec.h"
#include "ct_offices.h"
#include "ct_repl.h"
#include "ct_server.h"
#include "ct_wire.h"

enum { S_INGEST = 0, S_FEED = 1, S_SNAP = 2, S_REPL = 3, S_N = 4 };

/* State of one run: everything the loop reads and writes. */
typedef struct {
    const ct_aggregator_opts *o;
    ct_server_sock ss[S_N];
    ct_server_conns cs;
    ct_ingest *ing;
    ct_feed *feed;
    ct_repl *repl;
    ct_follow *follow; /* a follower's client; NULL for a primary */
    ct_offices *offices;
    uint64_t epoch;
    ct_wire_follower sta_fl[CT_REPL_MAX_FOLLOWERS]; /* the last "sta"'s followers */
    ct_counts changed;
    uint64_t head_seq; /* H: the counted head (the log's) */
    uint8_t head[CT_LOGREC_HASH_LEN];
    uint64_t rx_seq; /* R: the received head (>= H; = H for a primary) */
    unsigned receipts_since_apply;
    bool store_failing;
    int64_t last_fail_log;
    uint64_t refused_submits;                  /* a follower's "err" not_primary answers */
    uint64_t m_events, m_commits, m_commit_ns; /* ingest stats at the last round */
    /* group mode: whether this member takes events now, the endpoint it
     * follows, the last election view, and a leader epoch whose endpoint
     * answered stale_epoch (not followed again) */
    bool accepting;
    char follow_ep[CT_ETCD_VALUE_MAX + 1];
    ct_elect_view gv;
    uint64_t bad_leader_epoch;
    int64_t readonly_log_ms; /* last "not accepting" line, 0 = accepting */
    uint64_t promotions, demotions;
} ct_aggregator_state;

typedef struct {
    int64_t t_ms;
    ct_ingest_stats in;
} ct_aggregator_stats_mark;

/* ---- ct_aggregator_show.c ---- */

/* The stats line's ingest part, rates since *prev (then moved to now). */
void ct_aggregator_log_stats(const ct_ingest_stats *s, ct_aggregator_stats_mark *prev,
                             const ct_server_conns *cs, uint64_t head_seq, bool insecure,
                             ct_auth *auth, const ct_feed_stats *fs);
/* Group mode: the election's part of the stats line. */
void ct_aggregator_log_group_stats(ct_aggregator_state *r, int64_t now);
/* The replication part of the stats line (and the stall alert). */
void ct_aggregator_log_repl_stats(ct_aggregator_state *r, int64_t now);
/* One round into the /metrics histograms: its events and its commit. */
void ct_aggregator_metrics_round(ct_aggregator_state *r);
/* Everything else /metrics shows, handed over as a whole. */
void ct_aggregator_metrics_publish(ct_aggregator_state *r, int64_t now);
/* The "sta" a reporter asks for (ct_feed's status callback; ctx = the state). */
void ct_aggregator_fill_status(void *ctx, ct_wire_status *st);

/* ---- ct_aggregator_roles.c ---- */

/* A follower: one apply of received records, published like a commit. */
ct_err ct_aggregator_follow_apply(ct_aggregator_state *r, char *err, size_t errlen);
/* A follower: what its socket brought, made durable, then counted. */
ct_err ct_aggregator_follow_round(ct_aggregator_state *r, char *err, size_t errlen);
/* A follower's client towards endpoint. */
ct_err ct_aggregator_start_follow(ct_aggregator_state *r, const char *endpoint, char *err,
                                  size_t errlen);
/* Every received record counted, each apply published on the feed (before
 * this member serves as primary, and when a follower stops). */
ct_err ct_aggregator_apply_all(ct_aggregator_state *r);
/* Group mode: the role the election says, at most one change per call. */
ct_err ct_aggregator_group_tick(ct_aggregator_state *r, int64_t now, char *err, size_t errlen);
/* Group mode: what a follow error means. CT_OK to go on. */
ct_err ct_aggregator_group_follow_error(ct_aggregator_state *r, ct_err fe, const char *err);

#endif
