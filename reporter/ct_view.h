/* ct_view.h — the reporter's mirror of the aggregator's counts, kept with the
 * ZeroMQ guide's Clone pattern over two sockets:
 *   SUB    -> the aggregator's feed (subscribed to everything): "upd", "hb";
 *   DEALER -> the aggregator's snapshot ROUTER: "snq" -> "snp".
 *
 * Protocol (docs/reporter.md):
 *   - subscribe first, then request a snapshot; while it is pending, feed
 *     updates are buffered (bounded; on overflow the buffer is dropped and a
 *     second snapshot is taken);
 *   - snapshot at seq S: counts := snapshot; then buffered updates are applied
 *     in order: s <= S ignored, p == S applied (S := s), p > S is a gap;
 *   - synced: "upd" with p == S applied; s <= S ignored; p > S (or a "hb" with
 *     s > S, or "hb" with s == S but another chain head) is a gap -> snapshot;
 *   - restart detection: "hb"/"upd" with s < S more than 2 s after the last
 *     sync (the aggregator's log went backwards), or no feed message at all for
 *     3 s (heartbeats absent) -> snapshot. ZeroMQ reconnects both sockets by
 *     itself; a snapshot request unanswered for 3 s is retried on a fresh
 *     DEALER socket (stale replies can never be mistaken for new ones).
 *   - status: while synced and no snapshot is pending, "stq" every
 *     status_ms on the same DEALER; the "sta" replaces `hq`.
 * Several aggregators (a primary and its followers, each serving the feed
 * and snapshots of its own store): the view follows one at a time and
 * moves to the next when its snapshot request goes unanswered for
 * snapshot_timeout_ms, is refused, or its feed is silent for silence_ms.
 * A move closes both sockets, drops the buffered updates and takes a
 * snapshot from the new aggregator, which replaces the counts whole: an
 * update is only ever applied onto a snapshot of the store that sent it,
 * and `hq` is only ever the status of the aggregator followed. An
 * aggregator whose status names an older store epoch than one already seen
 * (a former primary, fenced by a promotion: PROTOCOL.md §3.5) is left the
 * same way on that status reply.
 * Invariant: when synced, counts == the counts of the aggregator at
 * cfg.feed_ep at log seq `seq` (chain head `head`).
 *
 * Single-threaded: one owner calls ct_view_poll(); everything else reads the
 * fields between polls.
 */
#ifndef CT_VIEW_H
#define CT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_counts.h"
#include "ct_error.h"
#include "ct_keys.h"
#include "ct_link.h"
#include "ct_opt.h"
#include "ct_wire.h"

#define CT_VIEW_MAX_ENDPOINTS 16

typedef struct {
    const char *feed_ep; /* the aggregator followed (set by the view from the lists) */
    const char *snapshot_ep;
    bool secure;       /* CURVE client on both sockets */
    ct_keypair client; /* when secure */
    char server_public[CT_Z85_KEY_LEN + 1];
    /* n_eps > 0: aggregator i is feed_eps[i] + snapshot_eps[i], with the
     * key server_publics[i] when n_publics > 1 (else server_public for
     * all); the view starts with aggregator 0 */
    const char *feed_eps[CT_VIEW_MAX_ENDPOINTS];
    const char *snapshot_eps[CT_VIEW_MAX_ENDPOINTS];
    size_t n_eps;
    char server_publics[CT_VIEW_MAX_ENDPOINTS][CT_Z85_KEY_LEN + 1];
    size_t n_publics;
    int snapshot_timeout_ms; /* default 3000 */
    int silence_ms;          /* default 3000: no message -> resync */
    size_t max_buffered;     /* default 20000 updates while snapshotting */
    int feed_hwm;            /* ZMQ_RCVHWM of the SUB socket (0: libzmq default 1000) */
    int status_ms;           /* "stq" period while synced (0: default 2000; < 0: never) */
} ct_view_config;

typedef struct {
    ct_view_config cfg;
    void *zctx;
    void *sub;
    void *dealer;
    ct_link link; /* the SUB socket's link, from its monitor */

    ct_counts counts;
    uint64_t seq;
    uint8_t head[CT_HASH_LEN];
    int64_t commit_ms; /* "t" of the last applied update/snapshot */

    bool ever_synced;
    bool synced;             /* false while a snapshot is pending */
    int64_t snap_sent_mono;  /* when the pending request was sent */
    int64_t synced_mono;     /* when the last snapshot was applied */
    ct_wire_state *buffered; /* updates received while snapshotting */
    size_t n_buffered, cap_buffered;
    bool buffer_overflow;

    bool gap_open;   /* a gap/restart was detected, snapshot pending */
    uint64_t gap_at; /* our seq when it was detected */
    char gap_why[64];

    int64_t last_rx_mono;    /* any feed message or snapshot, ms (0 = never) */
    int64_t last_apply_mono; /* last applied change */
    int64_t last_apply_real; /* same, real clock (for the lag figure) */
    int64_t last_lag_ms;     /* real receive time - commit time of that change */

    /* the campaign the aggregator named on the last applied "snp"/"upd" that
     * named one (an aggregator that names none leaves has_campaign false) */
    bool has_campaign;
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    uint8_t campaign_fp[CT_HASH_LEN];

    uint16_t snap_refused; /* error code of the last refused snapshot request, 0 = none */

    uint64_t n_updates, n_snapshots, n_gaps, n_ignored;

    /* the aggregator's status ("stq" -> "sta" on the snapshot DEALER, asked
     * every status_ms while synced; PROTOCOL.md §3.6): the last one, when it
     * arrived, how many so far; the code of the last refused request
     * (bad_message_kind: the aggregator predates it, asked every 30 s) */
    ct_wire_status hq;
    bool has_hq, hq_pending;
    /* keys of "stq" the aggregator refused (older): 0 = none, ask "gr" and
     * "ap"; 1 = "ap", ask "gr" only; 2 = "gr" too, ask neither */
    unsigned hq_older;
    int64_t hq_mono, hq_sent_mono;
    uint64_t hq_seq; /* the view's seq when the last "stq" left */
    uint16_t hq_refused;
    uint64_t n_hq;

    size_t ep;        /* index of the aggregator followed (0 without lists) */
    uint64_t n_moves; /* moves to the next aggregator */
    /* the highest store epoch any followed aggregator's "sta" named; with a
     * list, an aggregator whose "sta" names a lower one is left at once
     * (n_fenced counts those moves) */
    uint64_t epoch_seen;
    uint64_t n_fenced;
} ct_view;

/* The aggregators from the command line: feeds[i] and snapshots[i] are
 * aggregator i; keys holds one public-key file for all or one per feed, in
 * order. NULL when the lists fit together, else the usage message. */
const char *ct_view_config_endpoints(ct_view_config *vc, const ct_opt_list *feeds,
                                     const ct_opt_list *snapshots, const ct_opt_list *keys);
/* Loads the public-key files of ct_view_config_endpoints' keys (secure
 * mode); err names the file that fails. */
ct_err ct_view_config_keys(ct_view_config *vc, const ct_opt_list *keys, char *err, size_t errlen);

/* Opens both sockets on zctx (owned by the caller) and sends the first
 * snapshot request. */
ct_err ct_view_open(ct_view *v, void *zctx, const ct_view_config *cfg);
void ct_view_close(ct_view *v);

/* Waits up to timeout_ms for messages, handles everything available, runs
 * the timers. *changed is set to true when the counts or the position
 * changed. */
ct_err ct_view_poll(ct_view *v, int timeout_ms, bool *changed);

/* "not_connected" (no snapshot yet) | "live" | "lagging" | "stale" at
 * monotonic time now (see docs). */
const char *ct_view_feed_state(const ct_view *v, int64_t mono_now);

/* Why the feed is not live, in one sentence for a person ("" when live):
 * the link's state (ct_link_hint), a refused or unanswered snapshot request,
 * or the silence since the last message. */
void ct_view_problem(const ct_view *v, int64_t mono_now, char *buf, size_t len);

#endif
