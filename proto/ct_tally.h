/* CONTRACT (docs/PROTOCOL.md §5, §7): a change here is a change to the protocol.
 *
 * ct_tally.h — the tally rule: how one log entry changes the counts.
 *
 * ONE rule, ct_tally_entry() (tally version 3, docs/PROTOCOL.md §5.3), used
 * by the live aggregator, the follower and rebuild import, the audit replay
 * and (through the counts it produces) the reporter: it takes an event or a
 * life entry and reads the state before it only through a ct_tally_ctx.
 * ct_tally_apply() is its part for one enrollment event without the arrival
 * and closed-day counters (the table below, tally version 2): pure, it
 * reads nothing but its arguments and writes nothing but its outputs.
 *
 * State per (program, person): a ct_person_state, absent until the person's
 * first enroll in that program. The rule (docs/PROTOCOL.md §5):
 *
 *   event   prior state            outcome          counters
 *   enroll  absent / not enrolled  COUNTED          +1 NET, GROSS, AGENT, DAY, GROUP*,
 *                                                   COMMUNE**
 *   enroll  enrolled               REPEAT           +1 REPEAT (recorded, not counted)
 *   cancel  enrolled, same distr.  CANCELLED        -1 NET, AGENT, DAY, GROUP*, COMMUNE** of the
 *                                                   crediting enroll; +1 CANCELLED
 *   cancel  enrolled, other distr. CANCEL_FOREIGN   +1 CANCEL_NOOP (no effect)
 *   cancel  absent / not enrolled  CANCEL_NOOP      +1 CANCEL_NOOP (no effect)
 *   (* GROUP only when the enroll named a subsidy group;
 *   ** COMMUNE only when the enroll's commune code is not 0)
 *
 * A re-enroll after a cancel counts again, credited to the new event. The
 * counters of a COUNTED enroll are keyed by the event's district, agent and
 * campaign-local day (YYYYMMDD, computed by the caller from the campaign's
 * time zone), group and commune code (computed by the caller with
 * ct_campaign_commune_code: 1-based index of the event's commune in its
 * unit's sorted commune list, 0 for none or a unit without a list); a cancel debits exactly the
 * keys the crediting enroll credited (stored in the person state), so NET == sum over agents == sum
 * over days >= sum over communes, always.
 *
 * Counter keys are short byte strings (<= CT_COUNT_KEY_MAX):
 *   kind(1) | program(1) | district(2, BE) | dim (0..32 bytes)
 * dim: AGENT -> agent id bytes; DAY -> YYYYMMDD as uint32 BE; GROUP -> group
 * id bytes; COMMUNE -> commune code as uint16 BE; other kinds -> empty. Keys compare as bytes
 * (memcmp, then length).
 */
#ifndef CT_TALLY_H
#define CT_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"

typedef enum {
    CT_COUNT_NET = 1,         /* participants currently counted */
    CT_COUNT_GROSS = 2,       /* counted enrollments ever (before cancels) */
    CT_COUNT_CANCELLED = 3,   /* cancels that undid an enrollment */
    CT_COUNT_AGENT = 4,       /* NET per agent */
    CT_COUNT_DAY = 5,         /* NET per campaign-local day of the enrollment */
    CT_COUNT_GROUP = 6,       /* NET per subsidy group */
    CT_COUNT_REPEAT = 7,      /* enrolls of an already-enrolled person */
    CT_COUNT_CANCEL_NOOP = 8, /* cancels with no effect (unknown or foreign) */
    CT_COUNT_COMMUNE = 9,     /* NET per commune code (1..1024) of the enrollment */
    /* tally version 3: the campaign's life (docs/PROTOCOL.md §5.1, §5.3) */
    CT_COUNT_VOIDED = 10,      /* voided sign-ups, dim = agent of the sign-up */
    CT_COUNT_CORRECTED = 11,   /* corrections applied */
    CT_COUNT_TARGET = 12,      /* revised target; unit 0 = per-staff quota; dim = ef || seq */
    CT_COUNT_CLOSE = 13,       /* program 0; unit 0 = province; dim = day; value = close seq */
    CT_COUNT_AFTER_CLOSE = 14, /* DAY change since a close; dim = day || close seq */
    CT_COUNT_LATE_CLOSED = 15, /* enrolls counted for a day while it was closed; dim = day */
    CT_COUNT_LATE_HIST = 16,   /* counted enrolls by lateness bucket (dim 1 byte, 0..7) */
    CT_COUNT_LATE_MAX = 17,    /* largest lateness of a counted enroll, seconds */
    CT_COUNT_AFTER_DAY = 18,   /* counted enrolls received after their day; dim = day */
    CT_COUNT_RECV_DAY = 19,    /* counted enrolls by day received; dim = day */
    CT_COUNT_REORG = 20,       /* program 0, unit 0; dim = reorg name; value = effective ms */
    CT_COUNT_LIFE = 21         /* program 0; dim = seq; value = ct_life_kind */
} ct_count_kind;

#define CT_LATE_BUCKETS 8

/* The version of the tally rule this code implements; a store records the
 * version its counters were computed with (docs/PROTOCOL.md §5.2). */
#define CT_TALLY_VERSION 3

#define CT_COUNT_KEY_MAX 36

typedef struct {
    uint8_t len;
    uint8_t b[CT_COUNT_KEY_MAX];
} ct_count_key;

/* Builds a key; dim_len must be <= 32. */
ct_count_key ct_count_key_make(ct_count_kind kind, ct_program program, uint32_t district,
                               const void *dim, size_t dim_len);
/* Parses a key from bytes (validates kind, program, length per kind). */
ct_err ct_count_key_parse(const uint8_t *b, size_t len, ct_count_key *out);
/* Accessors. */
ct_count_kind ct_count_key_kind(const ct_count_key *k);
ct_program ct_count_key_program(const ct_count_key *k);
uint32_t ct_count_key_district(const ct_count_key *k);
const uint8_t *ct_count_key_dim(const ct_count_key *k, size_t *len);
int ct_count_key_cmp(const ct_count_key *a, const ct_count_key *b);
/* "net", "gross", ..., "cancel_noop"; "unknown" outside the enum. */
const char *ct_count_kind_name(ct_count_kind k);
/* A key for people: "kind=agent program=bhxh_tn district=672 dim=LD-001"
 * (DAY dims as YYYYMMDD; bytes outside printable ASCII as \xHH). */
void ct_count_key_str(const ct_count_key *k, char *out, size_t len);

/* What the store keeps per (program, person). */
typedef struct {
    bool enrolled;
    uint32_t district;               /* of the crediting enroll */
    uint32_t day;                    /* YYYYMMDD of the crediting enroll */
    char agent[CT_AGENT_ID_MAX + 1]; /* of the crediting enroll */
    char group[CT_GROUP_MAX + 1];    /* of the crediting enroll, "" if none */
    uint64_t seq;                    /* log seq of the crediting enroll */
    uint16_t commune;                /* commune code of the crediting enroll, 0 = none */
    bool voided;                     /* flag bit 1: the crediting enroll was voided */
    bool moved;                      /* flag bit 2: a correction moved it to the other program */
} ct_person_state;

#define CT_PERSON_KEY_LEN (1 + CT_PERSON_LEN) /* program(1) || person hash(32) */
#define CT_PERSON_STATE_MAX 96                /* encoded size bound */

void ct_person_key(ct_program p, const uint8_t person[CT_PERSON_LEN],
                   uint8_t out[CT_PERSON_KEY_LEN]);
/* Compact binary encoding for storage (docs/PROTOCOL.md §7). */
ct_err ct_person_state_encode(const ct_person_state *s, uint8_t out[CT_PERSON_STATE_MAX],
                              size_t *len);
ct_err ct_person_state_decode(const uint8_t *b, size_t len, ct_person_state *out);

typedef enum {
    CT_TALLY_COUNTED = 0,
    CT_TALLY_REPEAT = 1,
    CT_TALLY_CANCELLED = 2,
    CT_TALLY_CANCEL_NOOP = 3,
    CT_TALLY_CANCEL_FOREIGN = 4,
    CT_TALLY_VOIDED = 5,
    CT_TALLY_CORRECTED = 6,
    CT_TALLY_TARGET_SET = 7,
    CT_TALLY_CLOSED = 8,
    CT_TALLY_REOPENED = 9,
    CT_TALLY_REORG_SET = 10
} ct_tally_outcome;

#define CT_TALLY_MAX_CHANGES 24

typedef struct {
    ct_count_key key;
    int64_t delta;
} ct_tally_change;

typedef struct {
    ct_tally_outcome outcome;
    bool state_changed; /* true: store *next as the person's new state */
    size_t n;           /* number of changes */
    ct_tally_change changes[CT_TALLY_MAX_CHANGES];
} ct_tally_result;

/* The rule. ev must be valid (decoded and checked against the campaign);
 * local_day is the campaign-local YYYYMMDD of ev->occurred_ms; commune is
 * ct_campaign_commune_code(campaign, ev) (0: none); seq is the log
 * sequence number the event got; prior is NULL if the person has no state for
 * ev->program. Fills *next (when res->state_changed) and *res. */
void ct_tally_apply(const ct_event *ev, uint32_t local_day, uint16_t commune, uint64_t seq,
                    const ct_person_state *prior, ct_person_state *next, ct_tally_result *res);

const char *ct_tally_outcome_name(ct_tally_outcome o);

/* ---- The rule over log entries (events and life entries), tally version 3
 * (docs/PROTOCOL.md §5.3). ct_tally_entry() is THE rule every applier uses
 * (aggregator batch, follower/rebuild import, audit replay); it reads the
 * state before the entry only through ctx and writes only *res. */

/* Read access to the state as it stands before the entry. count() gives 0
 * for an absent counter; person() sets *found = false for an absent state.
 * A non-OK return (memory, store failure) aborts ct_tally_entry with it. */
typedef struct {
    ct_err (*count)(void *arg, const ct_count_key *k, int64_t *value);
    ct_err (*person)(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                     ct_person_state *st, bool *found);
    void *arg;
} ct_tally_ctx;

typedef struct {
    uint64_t seq;        /* the entry's log seq */
    int64_t received_ms; /* the record's received_ms */
    uint32_t local_day;  /* event: ct_campaign_local_day(t); else 0 */
    uint32_t recv_day;   /* ct_campaign_local_day(received_ms) */
    uint16_t commune;    /* event: its commune code; correct with "w": the new code; else 0 */
} ct_tally_in;

typedef struct {
    ct_program program;
    uint8_t person[CT_PERSON_LEN];
    ct_person_state state;
} ct_tally_person;

/* outcome: an event's (counted ... cancel_foreign) or the life entry's kind's
 * (voided ... reorg_set; also when refused). */
typedef struct {
    ct_err refused; /* CT_OK, or why the entry does not apply (then n == n_persons == 0) */
    ct_tally_outcome outcome;
    size_t n;
    ct_tally_change changes[CT_TALLY_MAX_CHANGES];
    size_t n_persons; /* person states to store, in order */
    ct_tally_person persons[2];
} ct_tally_entry_result;

struct ct_entry;
/* Applies one decoded, campaign-checked entry. Returns CT_OK (see
 * res->refused) or the first error of ctx. */
ct_err ct_tally_entry(const ct_tally_ctx *ctx, const struct ct_entry *e, const ct_tally_in *in,
                      ct_tally_entry_result *res);
/* Fills *in for the entry e recorded at seq with received_ms: the
 * campaign-local days of t (events) and of received_ms, and the commune code
 * (an event's, or a correction's new "w" in its unit; else 0). */
void ct_tally_in_make(const ct_campaign *c, const struct ct_entry *e, uint64_t seq,
                      int64_t received_ms, ct_tally_in *in);
/* Lateness bucket 0..7 of a lateness in ms (negative counts as 0). */
uint8_t ct_tally_late_bucket(int64_t late_ms);

#endif
