/* ct_testgen.h — deterministic synthetic campaign logs for the audit tests and
 * bench: valid events for the campaign (roster agents in their districts,
 * both programs, known groups, times inside the window), with repeats
 * (a person enrolled twice), cancels (own district, foreign and unknown) and
 * re-enrolls, and (life_per_mille > 0) campaign life entries — voids and
 * corrections (of staff, or to the other program) of recent sign-ups,
 * target revisions, closes and reopens of days — committed through the real
 * store (ct_store_apply_batch); a life entry the rule refuses (the store
 * answers it rejected with the rule's code) is simply not in the log. */
#ifndef CT_TESTGEN_H
#define CT_TESTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_store.h"

typedef struct {
    uint64_t events;         /* how many events to commit */
    uint64_t seed;           /* PRNG seed */
    size_t batch;            /* events per ct_store_apply_batch */
    const char *collector;   /* log identity, default "insecure" */
    uint64_t total_hint;     /* expected final log size: occurred-at times spread
                                over the window as k / max(total_hint, head + events),
                                so stores grown in several fills stay time-ordered */
    unsigned life_per_mille; /* life entries offered per 1000 events (0: none); each
                                batch after the first carries them after its events */
    uint64_t life_logged;    /* out: life entries the store accepted */
} ct_testgen_opts;

/* Appends opts->events new events to the open store s. */
ct_err ct_testgen_fill(ct_store *s, const ct_campaign *c, ct_testgen_opts *o);

/* Creates (or extends) the store in dir with the built-in campaign. */
ct_err ct_testgen_make_store(const char *dir, const ct_campaign *c, ct_testgen_opts *o);

#endif
