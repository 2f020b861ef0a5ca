/* CONTRACT (docs/PROTOCOL.md §3): a change here is a change to the protocol.
 *
 * ct_wire.h — the wire messages between collectors, aggregator and reporters.
 *
 * Every message is ONE ZeroMQ frame holding ONE MessagePack map with
 * "v" (protocol version, 1) and "k" (kind). docs/PROTOCOL.md §3 is normative.
 * (Over ROUTER/DEALER the routing-id frame ZeroMQ adds is not part of this.)
 *
 *   kind  direction                 fields
 *   "sub" collector -> aggregator   "n" uint token, "e" array of bin (events)
 *   "ack" aggregator -> collector   "n" token, "s" uint head seq of the log
 *                                   when the ack was built (after this
 *                                   round's commit), "r" array of [id
 *                                   bin16|nil, status uint, code uint, seq
 *                                   uint], one per event, in submit order;
 *                                   seq = the log seq of the event's record
 *                                   (accepted: the new one; duplicate: the
 *                                   original one), 0 for rejected/retry.
 *                                   Decoders also take 3-element items
 *                                   (seq then reads 0).
 *   "err" aggregator -> collector   "n" token|nil, "c" code: the whole
 *                                   message was refused (nothing stored)
 *   "upd" aggregator PUB            "s" seq, "p" previous seq, "ph" bin32 chain
 *                                   head at seq "p" (before the batch), "h"
 *                                   bin32 chain head, "t" commit ms,
 *                                   "c" [[key bin, int]...]
 *   "hb"  aggregator PUB            "s", "h", "t" (heartbeat, once a second)
 *   "snq" reporter -> aggregator    (snapshot request, no other field)
 *   "snp" aggregator -> reporter    "s", "h", "t", "c": the full state
 *                                   "upd" and "snp" may end with "ci" str
 *                                   campaign id (1..32 bytes) and "cf" bin32
 *                                   campaign fingerprint, both or neither:
 *                                   the campaign the counts were made under
 *   "rq"  follower -> primary       "s" uint, "h" bin32: the follower's
 *                                   durable head (seq, chain hash); asks for
 *                                   the records after s and confirms that
 *                                   everything up to s is on its disk
 *                                   (counted or not); optional "ep", "n",
 *                                   "a" (its counted head, <= s)
 *   "rb"  primary -> follower       "p" uint seq the batch follows, "ph"
 *                                   bin32 the primary's chain hash at p, "c"
 *                                   uint committed head, "f" uint safe seq,
 *                                   "t" uint primary clock ms, "r" array of
 *                                   0..4096 bin: stored log records p+1,
 *                                   p+2, ... exactly as in the primary's log;
 *                                   optional "ep" uint epoch, "o" array of
 *                                   [origin bin8, key str] bindings
 *   "tel" collector -> aggregator   office telemetry (docs/PROTOCOL.md §3.6):
 *                                   "n" token, "d" district, "o" origin,
 *                                   "t" collector clock, "q" waiting, "u"
 *                                   committed not safe, "rj" rejected, "sv"
 *                                   version, optional "ot" oldest waiting
 *                                   event's occurred-at; answered by "err"
 *                                   with "c" 0 (recorded) or the refusal;
 *                                   never written to the log
 *   "stq" reporter -> aggregator    status request (no other field)
 *   "sta" aggregator -> reporter    the aggregator's status: replication
 *                                   state and the latest telemetry per office
 *   "cq"  follower -> primary       "i" uint copy id (0: any), "o" uint
 *                                   offset: asks for a chunk of a
 *                                   consistent copy of the primary's store
 *   "cc"  primary -> follower       "i" copy id, "z" size (0: being made),
 *                                   "o" offset, "d" bin chunk, "s" + "h"
 *                                   the copy's head, "ep" its epoch, "dg"
 *                                   BLAKE2b-256 of the whole copy, "ci" +
 *                                   "cf" the campaign
 *   "sf"  aggregator -> collector   "s" committed seq, "f" safe seq, "ep"
 *                                   epoch: the safe watermark pushed,
 *                                   unasked, to a collector that sent "sp"
 *
 * Watermarks: a "sub" may carry "w": 1 (after "e"): the sender asks for the
 * safe watermark, and the "ack" then carries "f" (after "r"), the highest
 * seq fsynced by the primary AND the followers it waits for (f <= s). An
 * ack to a "sub" without "w" has no "f" (clients that predate it decode
 * it as before).
 *
 * Epochs (docs/PROTOCOL.md §3.5): a "sub" may end with "ep" (after "w"),
 * the highest epoch the sender has seen; the "ack" to a "sub" with "w" or
 * "ep" ends with "ep" (after "f"), the aggregator's epoch. An aggregator
 * whose epoch is lower than a "sub"'s "ep" answers "err" stale_epoch and stores
 * nothing; a follower answers every "sub" with "err" not_primary.
 *
 * Pushed watermark: a "sub" with "w" may end with "sp": 1 (after "ep"): the
 * primary then sends that routing id an "sf" when its safe seq moves while
 * the collector holds events of it committed but not yet safe. An
 * aggregator that predates "sp" answers "err" unknown_key.
 *
 * Counter values are absolute (not increments). A feed subscriber at seq S
 * applies "upd" only if p == S AND ph == its head H (then S := s, H := h);
 * if p > S, or p == S with ph != H (the log it follows is not the log this
 * update extends, e.g. the aggregator restarted on another store), it takes
 * a snapshot; if s <= S it ignores it. "hb" with s > S, or s == S with h != H,
 * also means a gap. Events inside "sub" are bin so their exact bytes reach the log.
 *
 * Decoders are strict like ct_event_decode (pre-scan, exact types, unknown
 * and duplicate keys rejected) and never read past len. Decoded byte ranges
 * (ct_bytes) point INTO the input buffer; arrays are caller-provided.
 */
#ifndef CT_WIRE_H
#define CT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_tally.h"

#define CT_WIRE_VERSION 1
#define CT_WIRE_MAX_EVENTS 4096      /* events per "sub" */
#define CT_WIRE_MAX_FRAME (8u << 20) /* ZMQ_MAXMSGSIZE on every socket */
#define CT_HASH_LEN 32
#define CT_WIRE_MAX_RECORDS 4096 /* log records per "rb" */
#define CT_WIRE_MAX_RECORD 1280  /* bytes of one stored log record */

typedef enum {
    CT_MSG_SUBMIT = 1,
    CT_MSG_ACK,
    CT_MSG_ERROR,
    CT_MSG_UPDATE,
    CT_MSG_HEARTBEAT,
    CT_MSG_SNAP_REQ,
    CT_MSG_SNAPSHOT,
    CT_MSG_REPL_REQ,
    CT_MSG_REPL_BATCH,
    CT_MSG_TELEMETRY,
    CT_MSG_STATUS_REQ,
    CT_MSG_STATUS,
    CT_MSG_COPY_REQ,
    CT_MSG_COPY_CHUNK,
    CT_MSG_SAFE_PUSH
} ct_msg_kind;

typedef enum {
    CT_ACK_ACCEPTED = 0,  /* newly committed to the log */
    CT_ACK_DUPLICATE = 1, /* this id with identical bytes was already in the log */
    CT_ACK_REJECTED = 2,  /* invalid; never resend; code says why */
    CT_ACK_RETRY = 3      /* not stored now (store unavailable); resend later */
} ct_ack_status;

typedef struct {
    bool has_id;
    uint8_t id[CT_EVENT_ID_LEN];
    uint8_t status; /* ct_ack_status */
    uint16_t code;  /* ct_err; CT_OK for accepted/duplicate */
    uint64_t seq;   /* log seq of the event's record (accepted: new, duplicate:
                       original); 0 for rejected and retry */
} ct_ack_item;

/* One counter value as carried by "upd" and "snp". */
typedef struct {
    ct_count_key key;
    int64_t value;
} ct_count_entry;

/* Decoded "upd" / "hb" / "snp". entries is malloc'ed by the decoder
 * (NULL when n_entries == 0); release with ct_wire_state_free(). */
typedef struct {
    ct_msg_kind kind;
    uint64_t seq;
    uint64_t prev_seq; /* "upd" only */
    uint8_t head[CT_HASH_LEN];
    int64_t time_ms;
    ct_count_entry *entries;
    size_t n_entries;
    uint8_t prev_head[CT_HASH_LEN]; /* "upd" only ("ph"): head at prev_seq */
    /* "upd"/"snp" "ci" + "cf": the sender's campaign (never on "hb") */
    bool has_campaign;
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    uint8_t campaign_fp[CT_HASH_LEN];
} ct_wire_state;

/* Reads "v" and "k" only (after a full pre-scan). */
ct_err ct_wire_peek_kind(const uint8_t *buf, size_t len, ct_msg_kind *kind);

ct_err ct_wire_submit_encode(uint64_t token, const ct_bytes *events, size_t n, ct_buf *out);
/* events[max]: filled with ranges pointing into buf. */
ct_err ct_wire_submit_decode(const uint8_t *buf, size_t len, uint64_t *token, ct_bytes *events,
                             size_t max, size_t *n);

/* Best effort for a message that failed ct_wire_submit_decode: the uint "n"
 * of its top-level map, read after a pre-scan with generous counts (so the
 * token of a frame with too many events, or over CT_WIRE_MAX_FRAME, is still
 * found). CT_OK and *token, or the first reason it cannot be read. */
ct_err ct_wire_submit_peek_token(const uint8_t *buf, size_t len, uint64_t *token);

ct_err ct_wire_ack_encode(uint64_t token, uint64_t seq, const ct_ack_item *items, size_t n,
                          ct_buf *out);
ct_err ct_wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                          ct_ack_item *items, size_t max, size_t *n);

/* The watermark forms: a "sub" with "w": 1 when want_safe, and an "ack"
 * with "f" = safe when has_safe (safe <= seq, else CT_ERR_BAD_VALUE). The
 * decoders accept both forms; "w" must be 1 and "f" <= "s" (bad_value). The
 * plain functions above are these with want_safe / has_safe false (the plain
 * decoders also accept and ignore "w" / "f"). */
ct_err ct_wire_submit_encode_wm(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                ct_buf *out);
ct_err ct_wire_submit_decode_wm(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                ct_bytes *events, size_t max, size_t *n);
ct_err ct_wire_ack_encode_wm(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                             const ct_ack_item *items, size_t n, ct_buf *out);
ct_err ct_wire_ack_decode_wm(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                             bool *has_safe, uint64_t *safe, ct_ack_item *items, size_t max,
                             size_t *n);

/* The epoch forms (docs/PROTOCOL.md §3.5): a "sub" may end with "ep" = the
 * highest epoch the sender has seen (epoch 0 = omitted), and an "ack" with
 * "ep" = the aggregator's epoch (0 = omitted). "ep" must be >= 1 (bad_value);
 * decoders give 0 when it is absent. The _wm functions are these with
 * epoch 0. */
ct_err ct_wire_submit_encode_ep(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                uint64_t epoch, ct_buf *out);
ct_err ct_wire_submit_decode_ep(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                uint64_t *epoch, ct_bytes *events, size_t max, size_t *n);
ct_err ct_wire_ack_encode_ep(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                             uint64_t epoch, const ct_ack_item *items, size_t n, ct_buf *out);
ct_err ct_wire_ack_decode_ep(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                             bool *has_safe, uint64_t *safe, uint64_t *epoch, ct_ack_item *items,
                             size_t max, size_t *n);

/* The push form (docs/PROTOCOL.md §3.2 "Pushed watermark"): a "sub" may end
 * with "sp": 1 after "ep" = "push me the safe watermark" (push true; needs
 * want_safe, else CT_ERR_BAD_VALUE; "sp" other than 1 bad_value). The _ep
 * functions are these with push false (their decoder accepts and drops
 * "sp"). */
ct_err ct_wire_submit_encode_sp(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                uint64_t epoch, bool push, ct_buf *out);
ct_err ct_wire_submit_decode_sp(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                uint64_t *epoch, bool *push, ct_bytes *events, size_t max,
                                size_t *n);
/* "sf" (aggregator -> collector, unsolicited, on the ingest socket): "s"
 * committed seq, "f" safe seq (<= "s", else bad_value), "ep" epoch (>= 1,
 * else bad_value); all three required. */
ct_err ct_wire_safe_push_encode(uint64_t committed, uint64_t safe, uint64_t epoch, ct_buf *out);
ct_err ct_wire_safe_push_decode(const uint8_t *buf, size_t len, uint64_t *committed, uint64_t *safe,
                                uint64_t *epoch);

/* The ack an aggregator sends to a "sub" (docs/PROTOCOL.md §3.2): when the
 * sub carried "w" (want_safe), 4-element items with "q", then "f" = safe
 * and "ep" = epoch (0 = omitted); without "w", 3-element items [id, status,
 * code] and neither "f" nor "ep": the form every client of protocol v1
 * decodes. */
ct_err ct_wire_ack_encode_reply(uint64_t token, uint64_t seq, bool want_safe, uint64_t safe,
                                uint64_t epoch, const ct_ack_item *items, size_t n, ct_buf *out);

/* Replication (docs/PROTOCOL.md §3.4). */
ct_err ct_wire_repl_req_encode(uint64_t seq, const uint8_t head[CT_HASH_LEN], ct_buf *out);
ct_err ct_wire_repl_req_decode(const uint8_t *buf, size_t len, uint64_t *seq,
                               uint8_t head[CT_HASH_LEN]);
/* "rq" with "ep" (after "h"): the follower's epoch (0 = omitted; decoded 0
 * when absent; 0 on the wire bad_value). A primary of a lower epoch answers
 * "err" stale_epoch. */
ct_err ct_wire_repl_req_encode_ep(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                  ct_buf *out);
ct_err ct_wire_repl_req_decode_ep(const uint8_t *buf, size_t len, uint64_t *seq,
                                  uint8_t head[CT_HASH_LEN], uint64_t *epoch);
/* "rq" with "n" (after "ep"): read-ahead, the follower also holds records
 * seq+1..ahead, checked but not durable (has_ahead false = omitted;
 * encoding ahead < seq is CT_ERR_ARG). Decoded: *has_ahead, and *ahead = "n"
 * or seq when absent; "n" < "s" bad_value. */
ct_err ct_wire_repl_req_encode_n(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                 bool has_ahead, uint64_t ahead, ct_buf *out);
ct_err ct_wire_repl_req_decode_n(const uint8_t *buf, size_t len, uint64_t *seq,
                                 uint8_t head[CT_HASH_LEN], uint64_t *epoch, bool *has_ahead,
                                 uint64_t *ahead);
/* "rq" with "a" (after "n", which it needs): the follower's applied head,
 * the records it has counted (a <= s; encoding a > s or a without "n" is
 * CT_ERR_ARG). Decoded: *has_applied, and *applied = "a" or "s" when
 * absent; "a" > "s" bad_value, not a uint wrong_type. */
ct_err ct_wire_repl_req_encode_a(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                 bool has_ahead, uint64_t ahead, bool has_applied, uint64_t applied,
                                 ct_buf *out);
ct_err ct_wire_repl_req_decode_a(const uint8_t *buf, size_t len, uint64_t *seq,
                                 uint8_t head[CT_HASH_LEN], uint64_t *epoch, bool *has_ahead,
                                 uint64_t *ahead, bool *has_applied, uint64_t *applied);

#define CT_WIRE_MAX_ORIGIN_KEY 64 /* bytes of a collector identity (CT_COLLECTOR_ID_MAX) */

/* One origin binding carried by "rb" ("o"): origin -> the key it is bound
 * to on the primary. key points into the decoded buffer (not terminated). */
typedef struct {
    uint8_t origin[CT_ORIGIN_LEN];
    const char *key;
    size_t key_len;
} ct_wire_origin;

typedef struct {
    uint64_t prev_seq;              /* "p" */
    uint8_t prev_head[CT_HASH_LEN]; /* "ph" */
    uint64_t committed;             /* "c" >= prev_seq + n */
    uint64_t safe;                  /* "f" <= committed */
    int64_t time_ms;                /* "t" */
    const ct_bytes *recs;           /* "r": n records (encode: given; decode:
                                       points into the caller's array) */
    size_t n;
    uint64_t epoch;                /* "ep": the primary's epoch; 0 = absent */
    const ct_wire_origin *origins; /* "o": bindings of these records' origins */
    size_t n_origins;
    /* "ci" str 1..CT_CAMPAIGN_ID_MAX and "cf" bin 32, sent together: the
     * primary's campaign id and fingerprint (ct_campaign.fingerprint);
     * campaign_id NULL = absent (decode: points into buf, not terminated) */
    const char *campaign_id;
    size_t campaign_id_len;
    uint8_t fingerprint[CT_HASH_LEN];
} ct_wire_repl_batch;

/* Records must be 1..CT_WIRE_MAX_RECORD bytes (encode: CT_ERR_BAD_VALUE;
 * decode: not bin wrong_type, empty bad_value, longer string_too_long), at
 * most CT_WIRE_MAX_RECORDS (too_many). The decoder checks only the framing:
 * each record is decoded and chain-checked by the follower. */
ct_err ct_wire_repl_batch_encode(const ct_wire_repl_batch *b, ct_buf *out);
ct_err ct_wire_repl_batch_decode(const uint8_t *buf, size_t len, ct_wire_repl_batch *b,
                                 ct_bytes *recs, size_t max);
/* The same, also reading "o" into origins[max_origins] (too_many beyond);
 * ct_wire_repl_batch_decode takes no origins (an "rb" with "o" items is then
 * too_many). "o" items: not an array wrong_type, not 2 elements or origin
 * not bin 8 or empty key bad_value, key not str wrong_type, longer than
 * CT_WIRE_MAX_ORIGIN_KEY string_too_long. "ci" not str wrong_type, empty
 * bad_value, longer than CT_CAMPAIGN_ID_MAX string_too_long; "cf" not 32
 * bytes bad_value; one of "ci"/"cf" without the other missing_field. */
ct_err ct_wire_repl_batch_decode_o(const uint8_t *buf, size_t len, ct_wire_repl_batch *b,
                                   ct_bytes *recs, size_t max, ct_wire_origin *origins,
                                   size_t max_origins);

/* Store copies for a follower's bootstrap (docs/PROTOCOL.md §3.4,
 * ct_wire_copy.c). "cq": copy_id 0 asks for the copy the primary serves
 * (made on demand); offset = the first byte wanted. "cc": one chunk. */
#define CT_WIRE_MAX_CHUNK ((size_t)1 << 20) /* bytes of "d" */

typedef struct {
    uint64_t copy_id;            /* "i" >= 1 */
    uint64_t size;               /* "z": bytes of the copy; 0 = being made, ask again */
    uint64_t offset;             /* "o": where "d" starts; o + len <= z */
    const uint8_t *data;         /* "d": 0..CT_WIRE_MAX_CHUNK bytes (decode: into buf) */
    size_t len;                  /* (z = 0: none) */
    uint64_t seq;                /* "s": the copy's head seq */
    uint8_t head[CT_HASH_LEN];   /* "h": its chain hash */
    uint64_t epoch;              /* "ep" >= 1: the copy's epoch */
    uint8_t digest[CT_HASH_LEN]; /* "dg": BLAKE2b-256 of the z bytes */
    const char *campaign_id;     /* "ci" 1..CT_CAMPAIGN_ID_MAX (decode: into buf) */
    size_t campaign_id_len;
    uint8_t fingerprint[CT_HASH_LEN]; /* "cf" */
} ct_wire_copy_chunk;

ct_err ct_wire_copy_req_encode(uint64_t copy_id, uint64_t offset, ct_buf *out);
ct_err ct_wire_copy_req_decode(const uint8_t *buf, size_t len, uint64_t *copy_id, uint64_t *offset);
/* Every key required. i = 0, ep = 0, z = 0 with d not empty, o + len(d) >
 * z, h/dg/cf not 32 bytes, ci empty: bad_value; d longer than
 * CT_WIRE_MAX_CHUNK or ci longer than CT_CAMPAIGN_ID_MAX: string_too_long;
 * a value of another type: wrong_type. */
ct_err ct_wire_copy_chunk_encode(const ct_wire_copy_chunk *c, ct_buf *out);
ct_err ct_wire_copy_chunk_decode(const uint8_t *buf, size_t len, ct_wire_copy_chunk *c);

ct_err ct_wire_error_encode(bool has_token, uint64_t token, ct_err code, ct_buf *out);
ct_err ct_wire_error_decode(const uint8_t *buf, size_t len, bool *has_token, uint64_t *token,
                            uint16_t *code);

/* kind must be CT_MSG_UPDATE, CT_MSG_HEARTBEAT or CT_MSG_SNAPSHOT. */
ct_err ct_wire_state_encode(const ct_wire_state *st, ct_buf *out);
ct_err ct_wire_state_decode(const uint8_t *buf, size_t len, ct_wire_state *out);
void ct_wire_state_free(ct_wire_state *st);

/* ---- office telemetry and the aggregator's status (§3.6) ---- */

#define CT_TEL_MAX_FRAME 256       /* bytes of one "tel" (frame_too_large above) */
#define CT_TEL_VERSION_MAX 32      /* bytes of "sv" */
#define CT_STATUS_MAX_OFFICES 4096 /* items of "of" */
#define CT_STATUS_MAX_FOLLOWERS 32 /* items of "fl" */
#define CT_STATUS_FOLLOWER_ID_MAX 71

/* One office's telemetry ("tel"; token unused inside "sta"). */
typedef struct {
    uint64_t token;
    uint32_t district; /* 1..65535 */
    uint8_t origin[CT_ORIGIN_LEN];
    int64_t clock_ms;  /* the collector's clock when sent */
    uint64_t waiting;  /* events in the outbox ("q") */
    uint64_t unsafe;   /* of them committed at HQ, not yet safe ("u" <= "q") */
    uint64_t rejected; /* events kept aside as rejected ("rj") */
    int64_t oldest_ms; /* occurred-at of the oldest waiting event ("ot"); 0 = absent */
    char version[CT_TEL_VERSION_MAX + 1];
} ct_wire_telemetry;

/* Encode: CT_ERR_BAD_VALUE for a field out of range (district 0 or above
 * 65535, unsafe > waiting, oldest_ms with waiting 0, empty or long version).
 * Decode: size (> CT_TEL_MAX_FRAME frame_too_large), pre-scan, "v", "k",
 * keys, then the rules of docs/PROTOCOL.md §3.6. */
ct_err ct_wire_telemetry_encode(const ct_wire_telemetry *t, ct_buf *out);
ct_err ct_wire_telemetry_decode(const uint8_t *buf, size_t len, ct_wire_telemetry *t);

typedef struct {
    char id[CT_STATUS_FOLLOWER_ID_MAX + 1];
    uint64_t acked, lag_records;
    int64_t lag_ms, silent_ms;
    /* "ap" (when the status has it): the counted head it last reported, the
     * records it holds durable but has not counted (acked - applied), and
     * how long the oldest of them has been committed on the primary */
    uint64_t applied, apply_lag_records;
    int64_t apply_lag_ms;
} ct_wire_follower;

typedef struct {
    ct_wire_telemetry tel;
    int64_t seen_ms; /* aggregator clock when it arrived */
} ct_wire_office;

#define CT_GROUP_NAME_MAX 64      /* bytes of a group's name */
#define CT_GROUP_ENDPOINT_MAX 120 /* bytes of an advertised endpoint */
#define CT_GROUP_MAX_MEMBERS 16   /* items of "gr"'s members */

/* One member of an aggregator group as etcd shows it (its member key) and,
 * on the leader, as replication measures it. */
typedef struct {
    char endpoint[CT_GROUP_ENDPOINT_MAX + 1]; /* its advertised endpoint */
    uint64_t epoch, head;                     /* its store's epoch and head seq */
    uint64_t lag_records;                     /* leader's head - its head (0 for the leader) */
    int64_t lag_ms; /* how long the oldest record it lacks has been committed */
} ct_wire_member;

typedef enum { CT_GROUP_UNKNOWN = 0, CT_GROUP_LEADER, CT_GROUP_FOLLOWER } ct_wire_group_role;

/* "gr" of a "sta": the aggregator group (automatic failover, etcd). */
typedef struct {
    bool present;                           /* false: no "gr" (manual mode) */
    char name[CT_GROUP_NAME_MAX + 1];       /* --group */
    char leader[CT_GROUP_ENDPOINT_MAX + 1]; /* the leader's endpoint; "" = none */
    ct_wire_group_role role;                /* this member's */
    uint64_t epoch;                         /* the group's epoch; 0 = no leader seen */
    int64_t since_ms;                       /* wall clock: this leader first seen; 0 = none */
    int64_t lease_left_ms;                  /* this member's lease, sure for this long */
    bool etcd_ok;                           /* etcd answered the last request */
    bool accepting;                         /* this member takes events now */
    size_t n_members;
    ct_wire_member members[CT_GROUP_MAX_MEMBERS];
} ct_wire_group;

/* Decoded "sta": followers and offices are malloc'ed by the decoder (NULL
 * when empty); release with ct_wire_status_free(). */
typedef struct {
    int64_t time_ms; /* aggregator clock */
    bool follower;   /* "ro": "follower" (else "primary") */
    uint64_t epoch, committed, safe, sync_k;
    bool alert;         /* safe stalled while committed moves */
    int64_t stalled_ms; /* since safe last moved while behind committed */
    const ct_wire_follower *followers;
    size_t n_followers;
    const ct_wire_office *offices;
    size_t n_offices;
    ct_wire_group group; /* optional "gr" */
    bool has_apply;      /* optional "ap": the followers' applied fields are set */
} ct_wire_status;

ct_err ct_wire_status_encode(const ct_wire_status *s, ct_buf *out);
ct_err ct_wire_status_decode(const uint8_t *buf, size_t len, ct_wire_status *out);
void ct_wire_status_free(ct_wire_status *s);
/* "stq"; group: ask for "gr", apply: ask for "ap" (each key, with 1, sent
 * only when true). Decode: *group, *apply (each may be NULL) = whether
 * that key was asked for. */
ct_err ct_wire_statusreq_encode(bool group, bool apply, ct_buf *out);
ct_err ct_wire_statusreq_decode(const uint8_t *buf, size_t len, bool *group, bool *apply);

ct_err ct_wire_snapreq_encode(ct_buf *out);
/* Strict check of a "snq" (the aggregator validates it like any request). */
ct_err ct_wire_snapreq_decode(const uint8_t *buf, size_t len);

#endif
