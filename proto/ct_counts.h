/* CONTRACT (docs/PROTOCOL.md §5): a change here is a change to the protocol.
 *
 * ct_counts.h — an in-memory table of counters: ct_count_key -> int64.
 *
 * Open addressing with linear probing, power-of-two capacity, load <= 1/2.
 * Used where counts live in memory: the reporter's mirror of the aggregator,
 * the audit recount, and the aggregator's per-batch delta accumulator.
 * A key whose value is 0 stays in the table (absolute values matter for the
 * feed); ct_counts_equal() treats a missing key and a 0 value as equal.
 */
#ifndef CT_COUNTS_H
#define CT_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_tally.h"

typedef struct {
    ct_count_key key;
    int64_t value;
    uint8_t used;
} ct_counts_slot;

typedef struct {
    ct_counts_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;   /* used slots */
} ct_counts;

void ct_counts_init(ct_counts *c);
void ct_counts_free(ct_counts *c);
void ct_counts_clear(ct_counts *c); /* keeps memory */
ct_err ct_counts_set(ct_counts *c, const ct_count_key *k, int64_t v);
ct_err ct_counts_add(ct_counts *c, const ct_count_key *k, int64_t delta);
/* Value of k, 0 if absent. */
int64_t ct_counts_get(const ct_counts *c, const ct_count_key *k);
/* Iteration: for (size_t i = 0; i < c->cap; i++) if (c->slots[i].used) ... */

/* 1 if every key has the same value in both (absent == 0). On a difference,
 * if first_diff is non-NULL, it receives one differing key (the smallest). */
int ct_counts_equal(const ct_counts *a, const ct_counts *b, ct_count_key *first_diff);

/* Sum of values over keys with the given kind/program/district filter.
 * program < 0 or district == 0 means "any". */
int64_t ct_counts_sum(const ct_counts *c, ct_count_kind kind, int program, uint32_t district);

#endif
