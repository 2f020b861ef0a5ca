/* ct_outbox.h — the collector's durable outbox (one LMDB environment).
 *
 * Layout (docs/collector.md): the directory holds an LMDB environment
 * (created 0700, files 0600) opened with LMDB's default durable flags, with
 * eight named databases:
 *   meta      string key -> value: "version" u32, "origin" 8 bytes (drawn
 *             at init, random; drawn again only by ct_outbox_reissue),
 *             "origin_from" u64 (first seq of the current origin; absent: 1),
 *             "origins_old" (first seq u64, origin) pairs of earlier origins,
 *             "district" u32, "campaign" id, "campaign_path", "next_seq" u64,
 *             "delivered" u64, "rejected" u64, "reissued" u64, "last_ack" i64,
 *             "requeue_gen" u64, "epoch" u64 (all integers big-endian)
 *   outbox    seq (u64 BE) -> canonical entry bytes: an event
 *             (ct_event_encode) or a life entry (ct_life_encode)
 *   rejected  seq (u64 BE) -> code (u16 BE) || event bytes
 *   imports   idempotency key (16 bytes) -> seq (u64 BE)
 *   committed seq (u64 BE) -> log seq q (u64 BE) at HQ: the event is
 *             committed at HQ but not yet safe (not yet fsynced by the
 *             followers HQ waits for); it stays in "outbox", is not sent
 *             again while marked, and is deleted when an ack's safe
 *             watermark reaches q (ct_outbox_settle_ex)
 *   notes     seq (u64 BE) -> bytes kept beside the event by the one who
 *             queued it (the office screen: who recorded it), never sent
 *             and never removed; written in the event's own transaction
 *             (and rewritten by the office screen in a later cancel's
 *             transaction to link the sign-up to its cancel)
 *   acked     seq (u64 BE) -> q (u64 BE) || entry bytes: an entry that
 *             left the outbox acked (accepted or duplicate) with its log
 *             seq q >= 1 at HQ, kept so a void or correct can name it
 *             (docs/PROTOCOL.md §2.2: its p, h, d and q); never removed
 *   life      target seq (u64 BE) || life seq (u64 BE) -> 1 byte: the void
 *             and correct entries queued here for an event of this outbox
 *
 * Invariants:
 *   - an event gets its id (origin || seq) when it is queued, from the
 *     origin current then; seqs are handed out 1, 2, 3, ... under LMDB's
 *     single-writer lock, so several processes may queue at once and ids
 *     still sort in creation order; the origin of seq s is the one whose
 *     first seq is the greatest <= s (ct_outbox_event_id);
 *   - ct_outbox_commit() returns CT_OK only after mdb_txn_commit() (fsync);
 *   - an event leaves "outbox" only in ct_outbox_settle(): deleted when the
 *     aggregator acked it (accepted / duplicate), or moved to "rejected";
 *     the counters change in the same transaction and only for entries that
 *     were actually still in the outbox, so they are exact:
 *     next_seq - 1 == queued + delivered + rejected + reissued, always;
 *   - an event rejected as "conflict" (its id is taken at HQ by a different
 *     sign-up: the outbox was copied and both copies queued) is never resent
 *     under that id: ct_outbox_requeue keeps it; ct_outbox_reissue queues its
 *     content again under a new seq (and a fresh origin) and counts it in
 *     "reissued";
 *   - "imports" entries are never removed: a row once queued stays "already
 *     queued" after it has been delivered;
 *   - an entry is in at most one of "outbox", "rejected" and "acked"; it
 *     enters "acked" in the transaction that removes it from "outbox", and
 *     only when its ack (or its committed mark) gave its log seq.
 * The national ID never reaches this file: events carry the person hash.
 */
#ifndef CT_OUTBOX_H
#define CT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_event.h"

#define CT_OUTBOX_IDEM_LEN 16
#define CT_OUTBOX_PATH_MAX 1024
#define CT_OUTBOX_DEFAULT_MAP ((size_t)1 << 30) /* 1 GiB, sparse */
#define CT_OUTBOX_ORIGINS_MAX 16                /* origins one outbox may have had */

typedef struct ct_outbox ct_outbox;
typedef struct ct_outbox_txn ct_outbox_txn;

typedef struct {
    bool initialised; /* origin/district/campaign recorded */
    uint8_t origin[CT_ORIGIN_LEN];
    uint32_t district;
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    char campaign_path[CT_OUTBOX_PATH_MAX]; /* "" if none recorded */
    uint64_t next_seq;                      /* seq of the next queued event */
    uint64_t delivered;                     /* acked and removed */
    uint64_t rejected;                      /* in "rejected" now */
    int64_t last_ack_ms;                    /* 0 = never */
    uint64_t queued;                        /* entries in "outbox" now */
    uint64_t rejected_entries;              /* entries in "rejected" now */
    uint64_t imports;                       /* idempotency keys recorded */
    uint64_t reissued;                      /* conflict rejections queued again */
    uint64_t committed;                     /* queued entries committed at HQ, not yet safe */
    size_t n_origins;                       /* origins[n_origins - 1] is the current one */
    struct {
        uint64_t first_seq;
        uint8_t origin[CT_ORIGIN_LEN];
    } origins[CT_OUTBOX_ORIGINS_MAX];
} ct_outbox_info;

/* Opens (creating dir 0700 and the environment if needed). map_size 0 means
 * CT_OUTBOX_DEFAULT_MAP. Clears stale reader slots of dead processes. */
ct_err ct_outbox_open(const char *dir, size_t map_size, ct_outbox **out, char *err, size_t errlen);
void ct_outbox_close(ct_outbox *ob);
/* Last LMDB/system error message of this handle ("" if none). */
const char *ct_outbox_errmsg(const ct_outbox *ob);

/* Records district, campaign id and path, and draws the origin, the first
 * time. Later calls succeed if district and campaign id match (the path is
 * updated when campaign_path is not NULL), else CT_ERR_CONFIG with a message
 * in err. */
ct_err ct_outbox_init(ct_outbox *ob, uint32_t district, const char *campaign_id,
                      const char *campaign_path, char *err, size_t errlen);
ct_err ct_outbox_get_info(ct_outbox *ob, ct_outbox_info *info);

/* Queueing: begin, queue any number of events, commit (durable) or abort.
 * The outbox must be initialised. */
ct_err ct_outbox_begin(ct_outbox *ob, ct_outbox_txn **out);
/* Assigns ev->id = origin || next seq, encodes and stores ev. With idem (16
 * bytes) already recorded, stores nothing and sets *queued = false and *seq to
 * the earlier event's seq. queued/seq may be NULL. Errors leave the txn
 * usable only for abort. */
ct_err ct_outbox_queue(ct_outbox_txn *t, ct_event *ev, const uint8_t *idem, bool *queued,
                       uint64_t *seq);
/* Checks whether idem is already recorded (inside the txn). */
ct_err ct_outbox_idem_seen(ct_outbox_txn *t, const uint8_t *idem, bool *seen, uint64_t *seq);
/* Commits durably; t is freed whatever the result. */
ct_err ct_outbox_commit(ct_outbox_txn *t);
void ct_outbox_abort(ct_outbox_txn *t);

/* Delivery side. Calls fn for up to max queued events with seq >= from, in
 * seq order, inside one short read transaction (ev points into the map and
 * is valid only during the call). fn returning non-CT_OK stops the scan and
 * is returned. */
typedef ct_err (*ct_outbox_scan_fn)(void *ctx, uint64_t seq, const uint8_t *ev, size_t len);
ct_err ct_outbox_scan(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn, void *ctx);
/* The same, skipping events marked committed (see "committed"); *next_from
 * (may be NULL) = the seq after the last entry visited, marked or not. */
ct_err ct_outbox_scan_unsent(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn,
                             void *ctx, uint64_t *next_from);

typedef struct {
    uint64_t seq;
    uint16_t code; /* CT_OK: delivered (delete); else rejected with this code (move) */
} ct_outbox_settle_item;

/* One durable write transaction for a group of acks. Items whose seq is no
 * longer in the outbox are skipped (counted in neither output). */
ct_err ct_outbox_settle(ct_outbox *ob, const ct_outbox_settle_item *items, size_t n, int64_t now_ms,
                        size_t *n_delivered, size_t *n_rejected);
/* ct_outbox_settle with the two watermarks: an item with code CT_OK and
 * unsafe_q[i] > safe (unsafe_q may be NULL: all 0) is only marked committed
 * at log seq unsafe_q[i] (it stays queued); every other CT_OK item is
 * deleted (and unmarked); then every marked event with q <= safe is
 * deleted (safe 0: none). *n_delivered counts all deletions. A deleted
 * entry whose log seq is known (its committed mark's) goes to "acked" with
 * it. Items and sweep in ONE durable transaction; n may be 0 (sweep only). */
ct_err ct_outbox_settle_ex(ct_outbox *ob, const ct_outbox_settle_item *items,
                           const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                           size_t *n_delivered, size_t *n_rejected);
/* ct_outbox_settle_ex with each CT_OK item's log seq at HQ (q[i], the ack
 * item's q; q may be NULL: none known): a deleted entry goes to "acked"
 * with q[i], else with its committed mark's seq, else nowhere. */
ct_err ct_outbox_settle_q(ct_outbox *ob, const ct_outbox_settle_item *items, const uint64_t *q,
                          const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                          size_t *n_delivered, size_t *n_rejected);
/* Clears every committed mark (a starting `run` resends those events: HQ
 * answers duplicate and they are marked again until safe). *n = how many. */
ct_err ct_outbox_unmark_all(ct_outbox *ob, size_t *n);
/* Calls fn once with the marked event of lowest seq (nothing if none). */
ct_err ct_outbox_committed_first(ct_outbox *ob, ct_outbox_scan_fn fn, void *ctx);

typedef ct_err (*ct_outbox_rej_fn)(void *ctx, uint64_t seq, uint16_t code, const uint8_t *ev,
                                   size_t len);
ct_err ct_outbox_rejected_each(ct_outbox *ob, ct_outbox_rej_fn fn, void *ctx);

/* Moves rejected events back into the outbox (same seq, same id: the
 * aggregator stored nothing for them), all of them (code < 0) or those with
 * that reason code; the "rejected" counter goes down by *n and the requeue
 * generation (ct_outbox_requeue_gen) goes up, so a running deliverer rescans.
 * Events rejected as conflict are never moved (their id is taken at HQ):
 * *n_conflict (may be NULL) says how many of those the request matched. */
ct_err ct_outbox_requeue(ct_outbox *ob, int code, size_t *n, size_t *n_conflict);

/* ct_outbox_requeue of the rejected events matching every given part of f:
 * reason code (< 0: any), agent (NULL: any; an event that does not decode
 * matches no agent), seq (0: any). One durable transaction. */
typedef struct {
    int code;
    const char *agent;
    uint64_t seq;
} ct_outbox_requeue_filter;
ct_err ct_outbox_requeue_where(ct_outbox *ob, const ct_outbox_requeue_filter *f, size_t *n,
                               size_t *n_conflict);

/* Gives every event rejected as conflict a new id and queues it again, in
 * one durable transaction: same content, the next seqs, and a freshly drawn
 * origin if any of them was under the current origin (*new_origin; the
 * earlier origins stay in the history for the events that carry them).
 * "rejected" goes down and "reissued" up by *n; the requeue generation goes
 * up. Nothing changes when there is no conflict. CT_ERR_CONFIG when the
 * origin history is full. */
ct_err ct_outbox_reissue(ct_outbox *ob, size_t *n, bool *new_origin);

/* The id of the event queued under seq (its origin from the history). */
void ct_outbox_event_id(const ct_outbox_info *info, uint64_t seq, uint8_t id[CT_EVENT_ID_LEN]);
/* Sign-ups recorded: next_seq - 1 - reissued (a reissued event counts once). */
uint64_t ct_outbox_recorded(const ct_outbox_info *info);
ct_err ct_outbox_requeue_gen(ct_outbox *ob, uint64_t *gen);
/* The highest aggregator epoch this outbox has seen (meta "epoch", 0 =
 * none yet), and raising it (durably; never lowered). A deliverer sends it
 * with every submit and refuses acks from a lower epoch (docs/PROTOCOL.md
 * §3.5), so a former primary is refused even after a restart. */
ct_err ct_outbox_epoch(ct_outbox *ob, uint64_t *epoch);
ct_err ct_outbox_raise_epoch(ct_outbox *ob, uint64_t epoch);

/* The idempotency key of an event: BLAKE2b-128 over its canonical encoding
 * with the id zeroed (so it depends on the content only: agent, program,
 * action, person hash, time, commune, months, amount, group, district,
 * campaign). */
ct_err ct_outbox_idem_key(const ct_event *ev, uint8_t key[CT_OUTBOX_IDEM_LEN]);

/* Notes (the "notes" database above): up to CT_OUTBOX_NOTE_MAX opaque bytes
 * beside the event queued as seq, stored in t (so durable with the event).
 * CT_ERR_BAD_VALUE for an empty or oversized note. */
#define CT_OUTBOX_NOTE_MAX 2048
ct_err ct_outbox_note_put(ct_outbox_txn *t, uint64_t seq, const void *note, size_t len);

/* Where an event is now: in the outbox waiting, in the outbox committed at
 * HQ but not yet safe ("committed" database), rejected (with its code), or
 * gone from both (acked and safe at HQ, or queued again under another seq by
 * ct_outbox_reissue). */
typedef enum {
    CT_OUTBOX_QUEUED = 0,
    CT_OUTBOX_REJECTED = 1,
    CT_OUTBOX_SETTLED = 2,
    CT_OUTBOX_COMMITTED = 3,
} ct_outbox_state;
typedef ct_err (*ct_outbox_note_fn)(void *ctx, uint64_t seq, const uint8_t *note, size_t len,
                                    ct_outbox_state state, uint16_t code);
/* Calls fn for every note in seq order with its event's state, in one read
 * transaction (note points into the map, valid during the call only). */
ct_err ct_outbox_notes_each(ct_outbox *ob, ct_outbox_note_fn fn, void *ctx);
/* The note of seq inside t (copied into out; *found false: none). */
ct_err ct_outbox_note_get(ct_outbox_txn *t, uint64_t seq, ct_buf *out, bool *found);

/* One seq as the outbox knows it: its note (NULL: none), its entry's bytes
 * while it is queued or rejected, or delivered with its log seq known ("acked";
 * NULL once delivered and safe otherwise), its state, (rejected) code and
 * (committed or acked) log seq q at HQ (0: not known). Pointers into the
 * map, valid during the call only. */
typedef struct {
    uint64_t seq;
    const uint8_t *note;
    size_t note_len;
    const uint8_t *ev;
    size_t ev_len;
    ct_outbox_state state;
    uint16_t code;
    uint64_t q;
} ct_outbox_entry;
typedef ct_err (*ct_outbox_entry_fn)(void *ctx, const ct_outbox_entry *en);
/* A page: fn for each of the first max seqs > after that have a note, are
 * queued or are rejected, in seq order, in one read transaction; *last = the
 * last seq visited (0: none), *more = further seqs exist. The cost is
 * O(max log n): nothing is gathered beyond the page. */
ct_err ct_outbox_entries(ct_outbox *ob, uint64_t after, size_t max, ct_outbox_entry_fn fn,
                         void *ctx, uint64_t *last, bool *more);
/* fn for the entry of seq alone, "acked" included (*found false: the outbox
 * knows nothing of it). */
ct_err ct_outbox_entry_get(ct_outbox *ob, uint64_t seq, ct_outbox_entry_fn fn, void *ctx,
                           bool *found);

/* Life entries (ct_outbox_life.c). Assigns l->id = origin || next seq,
 * encodes and stores l like ct_outbox_queue (idem may be NULL); target_seq
 * (0: none) is the seq of the event of this outbox that l voids or
 * corrects, recorded in "life" for ct_outbox_life_each. */
struct ct_life;
ct_err ct_outbox_queue_life(ct_outbox_txn *t, struct ct_life *l, const uint8_t *idem,
                            uint64_t target_seq, bool *queued, uint64_t *seq);
/* fn for each life entry queued for target_seq, in seq order (an entry the
 * outbox no longer knows, e.g. reissued under another seq, is skipped). */
ct_err ct_outbox_life_each(ct_outbox *ob, uint64_t target_seq, ct_outbox_entry_fn fn, void *ctx);

#endif
