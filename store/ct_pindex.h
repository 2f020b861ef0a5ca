/* ct_pindex.h — a writer's in-memory index of the "persons" table: for each
 * stored person key (program || person hash), the run (the generation seq)
 * under which "persons" holds it (docs/PROTOCOL.md §7).
 *
 * Layout: open addressing with linear probing over 8-byte slots, a 32-bit
 * fingerprint of the key (never 0: 0 is an empty slot) and a 32-bit id into
 * the table of distinct runs. An entry's home slot is its fingerprint's low
 * bits (so the table grows without the keys). Several keys may share a
 * fingerprint: a lookup yields every candidate, and the caller tells them
 * apart with one LMDB get of the full key each (a key that is not stored
 * meets a candidate with probability n / 2^32 per lookup). Entries
 * are never removed one by one (a stored person stays stored, under one run
 * or another); ct_pindex_set_run moves one to another run in place.
 * A filter of 4 bits per slot (one hash of the fingerprint, a bit set for
 * every entry, rebuilt from the slots when the table grows) answers most
 * lookups of a key that is not stored (a new person: most events) without
 * touching the slot table: a lookup of an absent fingerprint reads its slot
 * only when its bit is set (~12-17 % at load 1/2-3/4). No false negatives:
 * every entry's bit is set from its add until a clear.
 * Memory: 8.5 bytes x capacity (a power of two, load <= 3/4), 11.3 to 22.7
 * bytes per stored person, plus 8 bytes per distinct run; a table (or
 * filter) of 2 MiB or more is an anonymous mapping of its own, advised
 * MADV_HUGEPAGE. */
#ifndef CT_PINDEX_H
#define CT_PINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_tally.h"

typedef struct {
    uint64_t *slots;       /* fingerprint (high 32) || run id (low 32); 0 = empty */
    size_t cap, n;         /* cap: 0 or a power of two */
    uint8_t *filter;       /* 4 x cap bits: bit h(fp) set for every fingerprint held */
    unsigned filter_shift; /* h(fp) = (fp * golden64) >> filter_shift */
    uint64_t *runs;        /* run id -> run */
    size_t n_runs, runs_cap;
} ct_pindex;

/* The fingerprint a key is indexed under (never 0). */
uint32_t ct_pindex_fp(const uint8_t key[CT_PERSON_KEY_LEN]);

void ct_pindex_free(ct_pindex *x);
/* Empties the index (keeps its memory). */
void ct_pindex_clear(ct_pindex *x);

/* The candidates for fingerprint fp, one per call: *pos = SIZE_MAX before the first;
 * returns false when there are no more, else *run and *pos (the slot, for
 * ct_pindex_set_run until the next ct_pindex_add). */
bool ct_pindex_next(const ct_pindex *x, uint32_t fp, size_t *pos, uint64_t *run);

/* Hints that fp is about to be added (a build of many keys overlaps the
 * cache misses of their slots). */
void ct_pindex_prefetch(const ct_pindex *x, uint32_t fp);
/* Hints that fp is about to be looked up (its filter bit: the slot is read
 * only if the bit is set). */
void ct_pindex_prefetch_lookup(const ct_pindex *x, uint32_t fp);
/* Hints that the slot at pos is about to be written (ct_pindex_set_run). */
void ct_pindex_prefetch_slot(const ct_pindex *x, size_t pos);

/* Makes room for n entries in all (a build of known size grows once). */
ct_err ct_pindex_reserve(ct_pindex *x, size_t n);

/* Adds a key with fingerprint fp held under run (the caller knows it is not there
 * yet). CT_ERR_NOMEM leaves the index unchanged. */
ct_err ct_pindex_add(ct_pindex *x, uint32_t fp, uint64_t run);

/* The entry at slot pos is held under run from now on. */
ct_err ct_pindex_set_run(ct_pindex *x, size_t pos, uint64_t run);

/* Bytes of memory held. */
size_t ct_pindex_bytes(const ct_pindex *x);

#endif
