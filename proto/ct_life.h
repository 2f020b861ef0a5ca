/* CONTRACT (docs/PROTOCOL.md §2.2): a change here is a change to the protocol.
 *
 * ct_life.h — campaign life entries: what happens to the campaign itself
 * (a sign-up voided or corrected, a target revised, a day closed or
 * reopened, a unit reorganization put in force), and the log-entry dispatch
 * between them and enrollment events.
 *
 * On the wire and in the log a life entry is ONE MessagePack map whose FIRST
 * key is the 1-byte string "k" (an event never has a "k" key):
 *
 *   key    type          kinds: meaning
 *   "k"    str           all    void correct target close reopen reorg
 *   "v"    uint          all    schema version, must be 1
 *   "id"   bin 16        all    entry id: origin || sequence
 *   "t"    uint          all    issued-at, ms since the epoch
 *   "c"    str 1..32     all    campaign id
 *   "by"   str 1..32     all    actor (staff id or admin name)
 *   "r"    str 1..256    all    reason (mandatory)
 *   "d"    uint 0..65535 void correct target close reopen: unit
 *                               (0: per-staff quota / province; void and
 *                               correct 1..65535)
 *   "p"    str           void correct target: program
 *   "h"    bin 32        void correct: person reference of the sign-up
 *   "e"    bin 16        void correct: id of the enroll event
 *   "q"    uint >= 1     void correct: log seq of that event
 *   "np"   str           correct (opt): new program
 *   "a"    str 1..32     correct (opt): new agent
 *   "w"    str 0..96     correct (opt): new commune ("" = none)
 *   "g"    str 0..32     correct (opt): new group ("" = none)
 *   "n"    uint 1..1e6   target: new target
 *   "day"  uint YYYYMMDD close reopen: campaign-local day
 *   "n"    str 1..32     reorg: reorganization name (campaign file)
 *   "ef"   uint          target reorg: effective from, ms since the epoch
 *
 * Decoding is as strict as the event's (ct_event.h): one map, "k" first and
 * "v" second, then the kind's keys in any order (the encoder writes the
 * order above) and only those, exact types, strings within caps, valid
 * UTF-8 and NUL-free; a correct needs one of np/a/w/g.
 * ct_life_encode() writes the canonical form, so decode(encode(l)) == l and
 * encode(decode(b)) == b for canonical b. Max 1024 bytes, like an event.
 */
#ifndef CT_LIFE_H
#define CT_LIFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"

#define CT_LIFE_VERSION 1
#define CT_ACTOR_MAX 32
#define CT_REASON_MAX 256
#define CT_LIFE_TARGET_MAX 1000000u

/* The numbers are the LIFE counter values (docs/PROTOCOL.md §5.3). */
typedef enum {
    CT_LIFE_VOID = 1,
    CT_LIFE_CORRECT = 2,
    CT_LIFE_TARGET = 3,
    CT_LIFE_CLOSE = 4,
    CT_LIFE_REOPEN = 5,
    CT_LIFE_REORG = 6
} ct_life_kind;

typedef struct ct_life {
    ct_life_kind kind;
    uint8_t id[CT_EVENT_ID_LEN];
    int64_t issued_ms;
    char campaign[CT_CAMPAIGN_ID_MAX + 1];
    char actor[CT_ACTOR_MAX + 1];
    char reason[CT_REASON_MAX + 1];
    /* void, correct, target, close, reopen ("d") */
    uint32_t district;
    /* void, correct, target ("p") */
    ct_program program;
    /* void, correct */
    uint8_t person[CT_PERSON_LEN];      /* "h" */
    uint8_t target_id[CT_EVENT_ID_LEN]; /* "e" */
    uint64_t target_seq;                /* "q" */
    bool has_new_program;               /* correct: "np" */
    ct_program new_program;
    bool has_new_agent; /* correct: "a" */
    char new_agent[CT_AGENT_ID_MAX + 1];
    bool has_new_commune; /* correct: "w" ("" = none) */
    char new_commune[CT_COMMUNE_MAX + 1];
    bool has_new_group; /* correct: "g" ("" = none) */
    char new_group[CT_GROUP_MAX + 1];
    /* target ("n") */
    uint32_t target;
    /* close, reopen ("day", YYYYMMDD) */
    uint32_t day;
    /* reorg ("n") */
    char reorg[CT_REORG_NAME_MAX + 1];
    /* target, reorg ("ef") */
    int64_t effective_ms;
} ct_life;

/* Appends the canonical encoding of l to out; CT_ERR_BAD_VALUE (nothing
 * appended) if l would not decode. */
ct_err ct_life_encode(const ct_life *l, ct_buf *out);

/* Strictly decodes one life entry. As ct_event_decode: *id_known (may be
 * NULL) tells whether l->id holds the entry's id despite an error. A map
 * whose first key is not "k" is CT_ERR_MISSING_FIELD here (ct_entry_decode
 * hands it to the event decoder instead). */
ct_err ct_life_decode(const uint8_t *buf, size_t len, ct_life *out, bool *id_known);

/* "void", "correct", ...; "unknown" outside the enum. */
const char *ct_life_kind_name(ct_life_kind k);
ct_err ct_life_kind_parse(const char *s, ct_life_kind *out);

/* One log entry: an enrollment event or a life entry. */
typedef enum { CT_ENTRY_EVENT = 0, CT_ENTRY_LIFE = 1 } ct_entry_type;

typedef struct ct_entry {
    ct_entry_type type;
    union {
        ct_event ev;
        ct_life life;
    } u;
} ct_entry;

/* 1 when buf is a map whose first key is the 1-byte string "k" (a life
 * entry), 0 otherwise; reads only the first bytes, never fails. */
int ct_entry_is_life(const uint8_t *buf, size_t len);

/* Decodes an entry of the log or of a "sub": ct_life_decode when
 * ct_entry_is_life, else ct_event_decode. The id is always at the same
 * place in out (ct_entry_id). */
ct_err ct_entry_decode(const uint8_t *buf, size_t len, ct_entry *out, bool *id_known);
const uint8_t *ct_entry_id(const ct_entry *e);

#endif
