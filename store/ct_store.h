/* ct_store.h — the aggregator's durable state in one LMDB environment; the
 * aggregator writes it, chitieu-audit reads (and rebuilds) it.
 *
 * Named databases (docs/ARCHITECTURE.md "Store layout"):
 *   meta     "campaign_id" -> str, "fingerprint" -> 32 bytes (campaign file +
 *            roster hash the store runs with: checked at every writer open,
 *            see ct_store_opts.accept_campaign_change), "fingerprint@<seq>" ->
 *            32 bytes (history: the fingerprint accepted at head seq <seq>),
 *            "head" -> seq(8 BE) || hash(32),
 *            "format" -> "chitieu-store-1",
 *            "epoch" -> 8 BE (absent = 1; raised by a promotion, or by a
 *            follower that receives a higher one), "epoch@<E>" -> seq(8 BE)
 *            || hash(32): the head at which this store became primary of
 *            epoch E (ct_store_epoch.c),
 *            "follower_id" -> 8 random bytes: this store's identity as an
 *            insecure-mode follower (drawn once, ct_store_follower_id),
 *            "tally_version" -> u32 BE (absent = 1): the tally rule the
 *            counters were computed with (docs/PROTOCOL.md §5.2; checked by
 *            ct_store_set_campaign, which stamps an older store whose log is
 *            empty and refuses one with records: recount it with
 *            chitieu-audit export + rebuild)
 *   log      seq (8 bytes BE) -> ct_logrec stored encoding (append only)
 *   ids      entry id (16) -> seq (8 BE) || BLAKE2b-128 of the entry bytes (16)
 *            (events and life entries alike)
 *   persons  program(1) || person hash(32) -> ct_person_state encoding
 *            (checkpointed: see "Person-state checkpoints" below)
 *   counts   ct_count_key bytes -> int64 (8 bytes BE, two's complement)
 *   ship     seq (8 BE) -> a shipped record's stored bytes, received and
 *            fsynced by a follower, not yet counted (ct_store_ship.c)
 *   ship_origins origin (8) -> seq (8 BE) || identity: a binding shipped
 *            with the batch ending at seq, moved to "origins" when counted
 *   origins  event-id origin (8) -> the identity (collector Z85 key) that
 *            first had an event with that origin accepted; written in the
 *            batch's transaction (see ct_store_item.check_origin). A store
 *            may lack it: a read-only open tolerates that, a writer creates
 *            it.
 *
 * Invariants (checked by chitieu-audit verify):
 *   - log keys are exactly 1..head.seq; each record chains to the previous;
 *   - every log record's event id is in ids with that seq, and vice versa;
 *   - counts == the tally rule replayed over the log from empty state.
 *
 * ONE write transaction per batch with LMDB's default durable flags: dedup +
 * log append + person states + counts commit together or not at all. If the
 * commit (or any put) fails — MDB_MAP_FULL, ENOSPC, EIO — the transaction is
 * aborted, nothing of the batch is visible, and ct_store_apply_batch returns
 * CT_ERR_MAP_FULL / CT_ERR_DISK_FULL / CT_ERR_STORE_UNAVAILABLE; the store
 * stays usable and the next batch tries again.
 *
 * Person-state checkpoints: person hashes are random keys, so writing
 * a person's state in every batch dirties one random B-tree leaf (4 KiB) per
 * new person per commit, which bounds ingest. Instead, changed states are kept
 * in memory (bounded); every ct_store_set_checkpoint() entries/ms they are
 * frozen as a generation, which the following batches write to "persons" a
 * key range each, in their own transactions, so that no commit carries more
 * than a bounded share; the last slice sets meta "persons_seq" -> seq (8 BE):
 * "persons" reflects the log up to that seq (while a generation is partly
 * written, meta "persons_gen" says up to which key it reflects a later seq).
 * Counts, log and ids are still written by every batch. Opening a writer
 * replays the log after persons_seq (a crash lost only the in-memory part),
 * which needs the campaign: a writer calls ct_store_set_campaign() after
 * ct_store_open() (batches and imports are refused until then if a replay is
 * due); closing writes the pending states. A missing persons_seq means "up to
 * head". The exact invariant, and what a crash at each point leaves, is at
 * the top of ct_store_persons.c.
 *
 * Errors. Opening names its failure in err (err, errlen: a buffer the caller
 * owns; NULL/0 for none); the other calls return a ct_err and, for the write
 * path, ct_store_last_error() says more. Codes that matter to a caller:
 *   CT_ERR_MAP_FULL          the LMDB map is full (raise --map-size);
 *   CT_ERR_DISK_FULL         the disk holding the data directory is full
 *                            (LMDB's EIO on a short write is reported as
 *                            this when the disk is nearly full, where said);
 *   CT_ERR_STORE_UNAVAILABLE any other failed write or transaction (I/O
 *                            error, MDB_PANIC: reopened before the next);
 *   CT_ERR_STORE_CORRUPT     a stored value does not decode;
 *   CT_ERR_NOMEM             out of memory;
 *   CT_ERR_ARG               a call out of order (see each function).
 *
 * The environment is opened with MDB_NOTLS so read transactions may be used
 * from any thread; readers use short transactions (ct_store_log_scan renews
 * its transaction every few thousand records) so a live aggregator's file does
 * not grow. Never fork while a store is open.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"

typedef struct ct_store ct_store;

typedef struct {
    const char *dir;            /* created 0700 if missing (unless read_only) */
    size_t map_size;            /* bytes; 0 = default (CT_STORE_DEFAULT_MAP) */
    const char *campaign_id;    /* refuse a store created for another campaign */
    const uint8_t *fingerprint; /* 32 bytes stored at creation, may be NULL */
    bool read_only;             /* MDB_RDONLY; for audit on a live store */
    /* A writer given a fingerprint refuses (CT_ERR_CAMPAIGN_MISMATCH,
     * err names both fingerprints) a store whose meta "fingerprint" differs,
     * unless this is set: then meta "fingerprint" := the new one, and
     * "fingerprint@<head seq, decimal>" := the new one records when it
     * changed (history), and a warn line is logged. A store without a
     * fingerprint adopts the given one. Read-only opens never check. */
    bool accept_campaign_change;
} ct_store_opts;

#define CT_STORE_DEFAULT_MAP ((size_t)16 << 30) /* 16 GiB (sparse) */

/* Opens (a writer creates) the store in o->dir; a writer takes the writer
 * lock and, if its campaign is known (see ct_store_set_campaign), replays
 * person states a crash left behind. Errors (err says which and why):
 *   CT_ERR_ARG               no directory, campaign id too long, a new store
 *                            without a campaign id;
 *   CT_ERR_IO                the directory cannot be created, or another
 *                            process holds the writer lock;
 *   CT_ERR_NOT_FOUND         read-only: no store there (or never initialised);
 *   CT_ERR_CAMPAIGN_MISMATCH another campaign's store, or (writer) another
 *                            fingerprint without accept_campaign_change;
 *   CT_ERR_MAP_FULL / CT_ERR_DISK_FULL  the replay cannot be written (err
 *                            names the cause and that the next open retries);
 *   CT_ERR_STORE_CORRUPT     a log record to replay does not decode;
 *   CT_ERR_LMDB              any other LMDB failure; CT_ERR_NOMEM. */
ct_err ct_store_open(const ct_store_opts *o, ct_store **out, char *err, size_t errlen);
/* Writes pending person states (a writer), then closes. If they cannot be
 * written (disk or map full, I/O error) a warn line says what was skipped
 * and that the next open replays it from the log. NULL is a no-op. */
void ct_store_close(ct_store *s);
/* Gives a writer the campaign (kept by pointer; must outlive the store) and
 * replays person states from the log if a crash left them behind. Call once
 * after ct_store_open(); returns the replay's error as ct_store_open does
 * (CT_ERR_MAP_FULL, CT_ERR_DISK_FULL, CT_ERR_STORE_CORRUPT, CT_ERR_LMDB;
 * CT_ERR_ARG for a NULL argument; CT_ERR_BAD_VERSION for counters of another
 * tally version, see meta "tally_version"); batches stay refused until it
 * succeeds. */
ct_err ct_store_set_campaign(ct_store *s, const ct_campaign *c, char *err, size_t errlen);
/* Person-state checkpoint policy: freeze pending states as a generation
 * (written a slice per batch) when at least max_dirty are pending, or when
 * the oldest is max_age_ms old (checked at each batch). max_dirty 0 = write
 * them all in every batch. Default 32768 / 5000 ms. */
void ct_store_set_checkpoint(ct_store *s, size_t max_dirty, int64_t max_age_ms);
/* For tests: closes WITHOUT writing pending person states, which is what a
 * crash leaves behind. */
void ct_store_abandon(ct_store *s);
/* Runs mdb_reader_check; returns the number of stale readers cleared, or -1
 * if it failed (ct_store_last_error() then says why). */
int ct_store_reader_check(ct_store *s);

/* One log entry of a batch: an enrollment event or a campaign life entry
 * (docs/PROTOCOL.md §2.2). The caller has decoded and validated it (and
 * filled status=REJECTED itself for invalid ones, which it does not pass
 * here). The store applies it with the tally rule (ct_tally_entry) over the
 * state before it, including the entries before it in the same batch, and
 * sets status and seq (log seq of the record, new or old):
 *   CT_ACK_ACCEPTED                    a new record;
 *   CT_ACK_DUPLICATE                   its id is in the log with these bytes;
 *   CT_ACK_REJECTED CT_ERR_CONFLICT    its id is in the log with other bytes;
 *   CT_ACK_REJECTED CT_ERR_FORBIDDEN   see check_origin;
 *   CT_ACK_REJECTED <the rule's code>  the rule refuses it (a life entry:
 *                                      not_current, already_voided, ...):
 *                                      NOTHING of it is kept: no record, no
 *                                      seq, its id not registered (a later
 *                                      entry with that id is new), no
 *                                      counter, no person state. */
typedef struct {
    const ct_entry *entry; /* the decoded entry; NULL: ev below */
    const ct_event *ev;    /* an enrollment event (when entry is NULL) */
    const uint8_t *raw;    /* the exact entry bytes from the wire */
    size_t raw_len;
    const char *collector; /* identity for the log record */
    int64_t received_ms;   /* the log record gets max(this, the previous
                              record's): non-decreasing along the log */
    /* the tally's recv_day: the store computes it from the record's
     * received_ms when it has its campaign (ct_store_set_campaign), as an
     * audit replay does; this value only serves a store without one */
    uint32_t recv_day;
    /* an event: ct_campaign_local_day(ev->occurred_ms) and
     * ct_campaign_commune_code(ev->district, ev->commune); a correct with a
     * new commune: commune = ct_campaign_commune_code(d, its "w"); else 0 */
    uint32_t local_day;
    uint16_t commune;
    /* out */
    uint8_t status;
    uint16_t code;
    uint64_t seq;
    /* Origin binding: when true, the event's origin (first 8 bytes of
     * its id) must be unbound or bound to `collector` in "origins"; the first
     * ACCEPTED event of an unbound origin binds it to `collector` (same
     * transaction). An event whose origin is bound to another identity is
     * answered CT_ACK_REJECTED / CT_ERR_FORBIDDEN (or CT_ACK_DUPLICATE if the
     * identical event is already in the log). The aggregator sets it for
     * collector keys; false (admins, --insecure, imports) neither checks nor
     * binds. */
    bool check_origin;
} ct_store_item;

typedef struct {
    uint64_t seq_before; /* head seq before the batch */
    uint64_t seq_after;  /* head seq after commit */
    uint8_t head[CT_LOGREC_HASH_LEN];
    ct_counts *changed;                      /* if non-NULL: receives ABSOLUTE values of every
                                                counter the batch changed (cleared first) */
    uint8_t head_before[CT_LOGREC_HASH_LEN]; /* head at seq_before: the feed's
                                                "ph" */
} ct_store_commit;

/* Applies items[0..n) in one durable transaction (see top). On error nothing
 * was applied and every item's status is CT_ACK_RETRY: CT_ERR_MAP_FULL,
 * CT_ERR_DISK_FULL (ENOSPC), CT_ERR_STORE_UNAVAILABLE (any other LMDB or I/O
 * failure, a corrupt stored value; also after MDB_PANIC, the handle reopens
 * before the next call), CT_ERR_NOMEM; CT_ERR_ARG for a read-only store, an
 * import in progress, or a person-state replay still waiting for
 * ct_store_set_campaign(). */
ct_err ct_store_apply_batch(ct_store *s, ct_store_item *items, size_t n, ct_store_commit *out);

/* A human description of the last failure of ct_store_apply_batch() or
 * ct_store_reader_check() (the LMDB/system message, e.g. "No space left on
 * device"); "" if none. Valid until the next call on s. */
const char *ct_store_last_error(const ct_store *s);

/* The store's current campaign fingerprint (meta "fingerprint");
 * CT_ERR_NOT_FOUND if it has none, CT_ERR_STORE_CORRUPT if it is not 32
 * bytes. */
ct_err ct_store_fingerprint(ct_store *s, uint8_t out[32]);

/* Current head (seq 0 and zero hash for an empty log).
 * The readers below fail with CT_ERR_STORE_UNAVAILABLE when no read
 * transaction can be had, CT_ERR_STORE_CORRUPT when a stored value does not
 * decode, CT_ERR_NOMEM. */
ct_err ct_store_head(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN]);
/* All counters plus the head they correspond to, from ONE read transaction. */
ct_err ct_store_read_counts(ct_store *s, ct_counts *out, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN]);
/* Calls cb for each log record with from_seq <= seq <= to_seq (to_seq 0 =
 * to the end at the time of the call). rec->event points into LMDB memory
 * valid only during the call. cb returns CT_OK to go on, CT_STOP to end the
 * scan (which then returns CT_OK), or an error, which ends the scan and is
 * returned unchanged. A record that does not decode gives
 * CT_ERR_STORE_CORRUPT with *bad_seq set (bad_seq may be NULL). */
typedef ct_err (*ct_store_log_cb)(const ct_logrec *rec, const uint8_t *raw, size_t raw_len,
                                  void *arg);
ct_err ct_store_log_scan(ct_store *s, uint64_t from_seq, uint64_t to_seq, ct_store_log_cb cb,
                         void *arg, uint64_t *bad_seq);
/* The same walk without decoding: cb gets each record's key (its seq, as
 * the log's key says) and its stored bytes, neither decoded nor checked
 * (raw points into LMDB memory valid only during the call); the caller
 * decodes them (ct_logrec_decode) and owns the check that the record holds
 * that seq. CT_ERR_STORE_CORRUPT with *bad_seq only for a key that is not a
 * seq. Lets a reader decode on other threads than the one walking. */
typedef ct_err (*ct_store_raw_cb)(uint64_t seq, const uint8_t *raw, size_t raw_len, void *arg);
ct_err ct_store_log_scan_raw(ct_store *s, uint64_t from_seq, uint64_t to_seq, ct_store_raw_cb cb,
                             void *arg, uint64_t *bad_seq);

/* The chain hash after record seq: all zero for seq 0 (the chain's start).
 * CT_ERR_NOT_FOUND when there is no record seq; the scan's errors
 * otherwise. */
ct_err ct_store_hash_at(ct_store *s, uint64_t seq, uint8_t out[CT_LOGREC_HASH_LEN]);
/* Looks up the log seq of an event id (0 if absent). */
ct_err ct_store_find_id(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], uint64_t *seq);
/* Looks up an event by id AND exact bytes: *seq = its log seq if the
 * id is in ids with the BLAKE2b-128 of raw[0..raw_len), else 0 (absent, or
 * present with other bytes). The aggregator uses it before rejecting an event
 * for a validation or authorization reason: a resend of an event already in
 * the log (its ack was lost) is answered DUPLICATE whatever changed since. */
ct_err ct_store_find_event(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], const uint8_t *raw,
                           size_t raw_len, uint64_t *seq);
/* Calls cb for every entry of the ids database in key order — event id, its
 * log seq and the BLAKE2b-128 of the event bytes (crypto_generichash, 16-byte
 * output) — using short read transactions (renewed every few thousand
 * entries, like ct_store_log_scan); chitieu-audit verify checks ids with it.
 * cb returns as for ct_store_log_scan (CT_OK, CT_STOP, or an error returned
 * unchanged). A malformed entry gives CT_ERR_STORE_CORRUPT. */
typedef ct_err (*ct_store_ids_cb)(const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq,
                                  const uint8_t idhash[16], void *arg);
ct_err ct_store_ids_scan(ct_store *s, ct_store_ids_cb cb, void *arg);

/* For chitieu-audit rebuild: appends an already-hashed record as is (keeps
 * seq, received_ms, collector); verifies it chains onto the current head and
 * applies the tally. Records are committed in batches by the caller via
 * ct_store_import_begin/commit. After an error from ct_store_import_record
 * the open import transaction may hold part of that record: the caller must
 * call ct_store_import_abort() (nothing of the chunk is then kept).
 * Errors: begin: CT_ERR_ARG (read-only, an import already open, a replay
 * waiting for the campaign); record: CT_ERR_CHAIN (seq not head + 1, or the
 * hash does not chain), CT_ERR_STORE_CORRUPT (the event does not decode),
 * CT_ERR_WRONG_CAMPAIGN, CT_ERR_CONFLICT (the id is already in the store);
 * record and commit: the write errors of ct_store_apply_batch. */
ct_err ct_store_import_begin(ct_store *s);
ct_err ct_store_import_record(ct_store *s, const ct_logrec *rec, const ct_campaign *c);
/* ct_store_import_record for a record shipped as its stored bytes (a
 * follower): rec is ct_logrec_decode(raw, raw_len); the chain is checked on
 * raw itself (ct_logrec_check_stored) and raw is stored as it is, neither
 * re-encoded nor hashed again. Same errors. */
ct_err ct_store_import_stored(ct_store *s, const ct_logrec *rec, const uint8_t *raw, size_t raw_len,
                              const ct_campaign *c);
ct_err ct_store_import_commit(ct_store *s);
void ct_store_import_abort(ct_store *s);
/* ct_store_import_commit for a follower applying shipped records chunk by
 * chunk: person states are written as for batches (a slice of a generation
 * per chunk under ct_store_set_checkpoint's policy; the log replays the rest
 * after a crash), and *out (may be NULL) describes the commit as
 * ct_store_apply_batch does (seq_before/after, heads, and the absolute values
 * of the changed counters in out->changed when given). Same errors. */
ct_err ct_store_import_commit_ex(ct_store *s, ct_store_commit *out);

/* Epochs (docs/PROTOCOL.md §3.5, ct_store_epoch.c). ct_store_epoch: the
 * store's epoch (1 when never set). ct_store_promote (a writer, no import
 * open): epoch := epoch + 1 and "epoch@<new>" := the head, in one durable
 * transaction; *epoch receives the new epoch. ct_store_adopt_epoch: raises
 * the epoch to epoch if it is higher (a follower that hears a promoted
 * primary); never lowers it. ct_store_epoch_start: where this store began
 * epoch as primary (CT_ERR_NOT_FOUND when it did not). */
ct_err ct_store_epoch(ct_store *s, uint64_t *epoch);
ct_err ct_store_promote(ct_store *s, uint64_t *epoch);
ct_err ct_store_adopt_epoch(ct_store *s, uint64_t epoch);
/* A promotion to a given epoch (the group's, from etcd): epoch := want and
 * "epoch@<want>" := the head, in one durable transaction.
 * CT_ERR_STALE_EPOCH when want is not above the store's epoch (nothing
 * written). */
ct_err ct_store_promote_to(ct_store *s, uint64_t want);
/* This store's follower identity (meta "follower_id"): 8 random bytes drawn
 * and written durably the first time a writer asks, the same ever after
 * (a copy of the directory keeps it; two stores never share one by
 * chance). CT_ERR_ARG on a read-only store that has none. */
ct_err ct_store_follower_id(ct_store *s, uint8_t id[8]);
ct_err ct_store_epoch_start(ct_store *s, uint64_t epoch, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN]);
/* Origin bindings for replication: ct_store_origin_get reads the key an
 * origin is bound to (NUL-terminated into key[keylen]; *found false when
 * unbound); ct_store_import_origin binds one inside an open import (between
 * ct_store_import_begin and _commit): CT_OK when unbound or bound to the
 * same key, CT_ERR_CONFLICT when bound to another. */
ct_err ct_store_origin_get(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], char *key,
                           size_t keylen, bool *found);
ct_err ct_store_import_origin(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], const char *key,
                              size_t key_len);

/* Shipped records (a follower; docs/PROTOCOL.md §3.4, ct_store_ship.c):
 * made durable first in "ship" (seq (8 BE) -> the stored bytes as shipped),
 * counted later. H = the log head (ct_store_head: what is counted), R = the
 * received head (ct_store_ship_head: what is durable here, counted or not;
 * R = H when "ship" is empty); the ship keys are exactly H+1..R.
 *
 * Receipt: ct_store_ship_begin opens a write transaction (none may be open:
 * CT_ERR_ARG); ct_store_ship_put appends rec (the decoding of raw, its
 * stored bytes) after checking seq = R + 1 and that raw chains onto R's hash
 * (CT_ERR_CHAIN otherwise: abort, nothing is kept); ct_store_ship_origin
 * keeps an origin binding shipped with the records put so far, written to
 * "origins" when they are counted (CT_ERR_CONFLICT when the origin is
 * bound, or waits to be, to another key); ct_store_ship_commit commits
 * durably and gives the new R (seq, head may be NULL). Write errors as
 * ct_store_apply_batch's.
 *
 * Apply: ct_store_ship_apply counts up to max records from H+1 whose
 * received_ms <= received_by_ms (INT64_MAX: all), through
 * ct_store_import_stored, deletes them from "ship" and writes the bindings
 * they reach, in ONE durable transaction; *out as ct_store_import_commit_ex
 * (seq_after == seq_before == 0 when nothing was due). A record the import
 * refuses (CT_ERR_STORE_CORRUPT, CT_ERR_CONFLICT, CT_ERR_WRONG_CAMPAIGN)
 * returns that code with *bad_seq = its seq, nothing applied.
 * ct_store_ship_apply_all applies everything (a promotion, a store opened
 * to serve as primary), with a progress line every 100000 records.
 * ct_store_ship_pending: the last shipped seq not yet counted (0: "ship" is
 * empty). A store with ct_store_ship_pending() != 0 takes no batch and no
 * promotion (CT_ERR_ARG): it never serves as primary before counting. */
#define CT_STORE_SHIP_CHUNK 4096
ct_err ct_store_ship_head(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN]);
uint64_t ct_store_ship_pending(const ct_store *s);
ct_err ct_store_ship_begin(ct_store *s);
ct_err ct_store_ship_put(ct_store *s, const ct_logrec *rec, const uint8_t *raw, size_t raw_len);
ct_err ct_store_ship_origin(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], const char *key,
                            size_t key_len);
ct_err ct_store_ship_commit(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN]);
void ct_store_ship_abort(ct_store *s);
ct_err ct_store_ship_apply(ct_store *s, const ct_campaign *c, size_t max, int64_t received_by_ms,
                           ct_store_commit *out, uint64_t *bad_seq);
ct_err ct_store_ship_apply_all(ct_store *s, const ct_campaign *c, uint64_t *bad_seq);
/* Drops every shipped record not yet counted, and their bindings (a copy
 * installed as a new follower's store begins at its log head: R := H). */
ct_err ct_store_ship_drop(ct_store *s);

/* A consistent copy of the whole environment into dest_dir (callable from
 * another thread than the store's owner while it writes) (created 0700,
 * or an existing empty directory; anything else is refused, CT_ERR_IO):
 * one read transaction, compacted (mdb_env_copy2, MDB_CP_COMPACT). Works on
 * a read-only open while the writer runs. CT_ERR_DISK_FULL, CT_ERR_LMDB
 * otherwise; err says why. (ct_store_copy.c) */
ct_err ct_store_copy(ct_store *s, const char *dest_dir, char *err, size_t errlen);
/* Removes meta "follower_id" (a writer): a copy that becomes another
 * follower draws its own identity. */
ct_err ct_store_forget_follower_id(ct_store *s);

#endif
