/* ct_simulate.h — a realistic, reproducible stream of sign-ups for one
 * district office, for demos and benchmarks.
 *
 * The plan (fixed by --seed): the district's staff from the roster; per agent
 * a performance factor drawn around --fill, and for each program a number of
 * enrollments around the agent's quota (so some agents miss it and some
 * exceed it; bhxh_tn : bhyt_hgd about 1 : 2 as the quotas are); ~3% cancels
 * of earlier enrollments; ~2% repeat enrollments of an already enrolled
 * person (recorded, not counted); times spread over the campaign days in
 * working hours (07:30-11:30, 13:30-17:00 campaign-local). --count N
 * replaces the quota-driven total with exactly N events in the same
 * proportions. National IDs are 12 digits unique per (district, person) and
 * hashed with the person key, or, without a key file, person hashes are
 * derived from the seed directly.
 *
 * Queueing: all at once, or with realtime_factor F progressively: an event
 * is queued when the campaign clock (start + elapsed_real * F) reaches its
 * time. Each event's idempotency key is its content hash, so running the
 * same simulation again queues nothing new.
 */
#ifndef CT_SIMULATE_H
#define CT_SIMULATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_outbox.h"

typedef struct {
    const ct_campaign *campaign;
    uint32_t district;
    const uint8_t *person_key; /* NULL: derived hashes */
    uint64_t seed;
    double fill;            /* default 1.0 */
    int64_t count;          /* < 0: quota-driven */
    double realtime_factor; /* 0: queue everything at once */
    volatile sig_atomic_t *stop;
    FILE *progress; /* may be NULL */
} ct_sim_opts;

typedef struct {
    size_t agents;
    size_t enroll[2]; /* counted-intended enrollments per program */
    size_t repeats;
    size_t cancels;
    size_t total;
    size_t queued;
    size_t already;
    size_t agents_below_quota;
} ct_sim_summary;

/* One planned event (compact: the event is built when queued). */
typedef struct {
    int64_t t_ms;
    uint32_t agent;  /* index into the campaign's agents */
    uint32_t person; /* person number within this district/seed */
    uint8_t program;
    uint8_t action;
    uint8_t months;
    uint8_t grp;       /* 0 none; 1 nq143, 2 nongdan (else the first group) */
    uint32_t amount_k; /* amount / 1000 VND */
} ct_sim_item;

/* Builds the plan, sorted by time. *items is malloc'ed (caller frees). */
ct_err ct_simulate_plan(const ct_sim_opts *o, ct_sim_item **items, size_t *n, ct_sim_summary *sum);
/* Builds the event of one plan item (id zeroed). */
ct_err ct_simulate_event(const ct_sim_opts *o, const ct_sim_item *it, ct_event *ev);
/* Plans and queues (see above). */
ct_err ct_simulate_run(ct_outbox *ob, const ct_sim_opts *o, ct_sim_summary *sum, char *err,
                       size_t errlen);

#endif
