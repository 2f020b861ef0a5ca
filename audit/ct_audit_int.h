/* ct_audit_int.h — PRIVATE to the audit engine (ct_audit.c: the walk and
 * its pipeline; ct_audit_apply.c: the per-record checks and the tally of one
 * entry). Not for the commands built on the engine.
 *
 * A record goes through two stages: stage 1 (ct_audit_check_record) is pure
 * and runs on worker threads when opts.threads > 1; stage 2 (continuity in
 * ct_audit.c, then ct_audit_apply) runs in log order in the calling thread.
 */
#ifndef CT_AUDIT_INT_H
#define CT_AUDIT_INT_H

#include "ct_audit.h"

/* One record as the engine sees it: the record (event bytes copied into the
 * batch's arena in pipeline mode; from a store, the stored bytes, decoded in
 * stage 1) plus the results of the per-record checks. */
typedef struct {
    const uint8_t *raw; /* non-NULL: rec is still to be decoded from raw[0..raw_len) */
    size_t raw_len;
    uint64_t key; /* the seq the store's key gives raw */
    bool corrupt; /* raw does not decode, or holds another seq than key */
    ct_logrec rec;
    ct_entry ent;
    ct_tally_in in; /* ct_tally_in_make: the rule's inputs from the campaign */
    ct_err chain;   /* ct_logrec_check against the previous record in scan order */
    ct_err dec;     /* ct_entry_decode */
    ct_err camp;    /* campaign check (event or life entry) */
    bool is_life;   /* ct_entry_is_life: names the entry in a decoding finding */
    bool has_pkey;  /* pkey holds the person the entry looks up */
    uint64_t idfp;  /* fingerprint of (entry id, BLAKE2b-128 of the entry bytes) */
    uint64_t tfp;   /* enroll event: ct_audit_target_fp of (id, person, unit); else 0 */
    uint8_t pkey[CT_PERSON_KEY_LEN]; /* program || person hash (the person map key) */
} ct_audit_item;

/* Stage 1: the pure per-record checks (first the record's decode when it
 * carries raw bytes). checker may be NULL (plain checks); ids non-NULL:
 * compute idfp. */
void ct_audit_check_record(const ct_campaign *c, ct_campaign_checker *checker, ct_store *ids,
                           ct_audit_item *it, const uint8_t prev[CT_LOGREC_HASH_LEN]);

/* Stage 2 after continuity: the verdicts of stage 1, the target check of a
 * void or correction, the tally through ct_tally_entry over a's counters and
 * persons, a's position, and the on_event callback. Returns non-zero to stop
 * the walk (a divergence, a->err, or the callback's CT_STOP). */
int ct_audit_apply(ct_audit *a, ct_audit_item *it);

/* The fingerprint a void/correct must find at its seq q: of the enroll
 * event's id, person and unit (never 0). */
uint64_t ct_audit_target_fp(const uint8_t id[CT_EVENT_ID_LEN], const uint8_t person[CT_PERSON_LEN],
                            uint32_t district);

/* The fingerprint of an entry id and its content hash (the ids index check). */
uint64_t ct_audit_id_fp(const uint8_t id[CT_EVENT_ID_LEN], const uint8_t idhash[16]);

#endif
