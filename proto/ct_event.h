/* CONTRACT (docs/PROTOCOL.md §2): a change here is a change to the protocol.
 *
 * ct_event.h — the enrollment event, schema v1: the unit everything counts.
 *
 * On the wire and in the log an event is ONE MessagePack map with short string
 * keys (docs/PROTOCOL.md §2 is normative):
 *
 *   key   type            req  meaning
 *   "v"   uint            yes  schema version, must be 1
 *   "id"  bin 16          yes  event id: origin (8 bytes) || sequence (uint64 BE)
 *   "t"   uint            yes  occurred-at, ms since 1970-01-01T00:00Z
 *   "c"   str 1..32       yes  campaign id
 *   "d"   uint            yes  district code (national admin code, e.g. 672)
 *   "w"   str 1..96       no   commune / ward / township name
 *   "a"   str 1..32       yes  agent (staff) id, as on the roster
 *   "p"   str             yes  program: "bhxh_tn" | "bhyt_hgd"
 *   "x"   str             yes  action: "enroll" | "cancel"
 *   "h"   bin 32          yes  person ref: keyed BLAKE2b-256 of the national ID
 *   "m"   uint 1..600     no   months paid
 *   "amt" uint            no   amount paid, VND
 *   "g"   str 1..32       no   subsidy group id (e.g. "nq143")
 *
 * Decoding is strict: exactly one map and nothing after it; every key known
 * (unknown keys are REJECTED, not ignored); no duplicate keys; exact types
 * (a uint field accepts positive fixint/uint8..uint64 only); strings valid
 * UTF-8 within their caps; and the frame is pre-scanned by ct_prescan()
 * before msgpack-c sees it. ct_event_encode() always writes keys in the order
 * of the table above with the smallest MessagePack encodings, so
 * decode(encode(e)) == e and encode(decode(b)) == b for canonical b.
 *
 * Event ids sort in creation order per origin: the collector draws its 8-byte
 * origin once (random) and numbers its events 1, 2, 3, ...
 */
#ifndef CT_EVENT_H
#define CT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"

#define CT_SCHEMA_VERSION 1
#define CT_EVENT_ID_LEN 16
#define CT_ORIGIN_LEN 8
#define CT_PERSON_LEN 32
#define CT_CAMPAIGN_ID_MAX 32
#define CT_AGENT_ID_MAX 32
#define CT_COMMUNE_MAX 96
#define CT_GROUP_MAX 32
#define CT_MONTHS_MAX 600
/* No encoded event may exceed this many bytes. */
#define CT_EVENT_MAX_BYTES 1024

typedef enum { CT_PROGRAM_BHXH_TN = 0, CT_PROGRAM_BHYT_HGD = 1, CT_PROGRAM_COUNT = 2 } ct_program;
typedef enum { CT_ACTION_ENROLL = 0, CT_ACTION_CANCEL = 1 } ct_action;

typedef struct {
    uint8_t id[CT_EVENT_ID_LEN];
    int64_t occurred_ms;
    char campaign[CT_CAMPAIGN_ID_MAX + 1];
    uint32_t district;
    char commune[CT_COMMUNE_MAX + 1]; /* "" when absent */
    char agent[CT_AGENT_ID_MAX + 1];
    ct_program program;
    ct_action action;
    uint8_t person[CT_PERSON_LEN];
    bool has_months;
    uint32_t months;
    bool has_amount;
    uint64_t amount_vnd;
    char group[CT_GROUP_MAX + 1]; /* "" when absent */
} ct_event;

/* Appends the canonical encoding of ev to out. Fails with CT_ERR_BAD_VALUE
 * (and appends nothing) if ev would not decode (empty required string, bad
 * program, months out of range, ...). */
ct_err ct_event_encode(const ct_event *ev, ct_buf *out);

/* Strictly decodes one event frame. On error *out is unspecified and the
 * return value says why (one specific code per cause). If the id field was
 * read before the error, *id_known is set to true and out->id holds it
 * (so a nack can name the event); id_known may be NULL. */
ct_err ct_event_decode(const uint8_t *buf, size_t len, ct_event *out, bool *id_known);

/* Program and action names <-> enums. Return CT_ERR_UNKNOWN_PROGRAM /
 * CT_ERR_BAD_VALUE for unknown names. */
const char *ct_program_name(ct_program p);  /* "bhxh_tn" */
const char *ct_program_label(ct_program p); /* "BHXH tự nguyện" */
ct_err ct_program_parse(const char *s, ct_program *out);
const char *ct_action_name(ct_action a);
ct_err ct_action_parse(const char *s, ct_action *out);

/* Event id helpers: id = origin(8) || seq (uint64 big-endian). */
void ct_event_id_make(uint8_t id[CT_EVENT_ID_LEN], const uint8_t origin[CT_ORIGIN_LEN],
                      uint64_t seq);
uint64_t ct_event_id_seq(const uint8_t id[CT_EVENT_ID_LEN]);
/* 32 lowercase hex chars + NUL. */
void ct_event_id_hex(const uint8_t id[CT_EVENT_ID_LEN], char out[2 * CT_EVENT_ID_LEN + 1]);
ct_err ct_event_id_parse_hex(const char *hex, uint8_t id[CT_EVENT_ID_LEN]);

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ct_utf8_valid(const uint8_t *s, size_t n);

#endif
