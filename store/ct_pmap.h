/* ct_pmap.h — in-memory person map for the audit recount:
 * (program(1) || person hash(32)) -> ct_person_state.
 *
 * Open addressing (linear probing) over a power-of-two array of uint32 entry
 * indices, load <= 1/2; entries live in one growable array of 64-byte records
 * (agent and group strings are interned, so a state costs no string copies
 * per probe). The person hash is already a BLAKE2b output, so its first
 * 8 bytes are the hash. Invariant: every index in the table is < n_entries;
 * entries are never removed (a cancelled person keeps a not-enrolled state).
 */
#ifndef CT_PMAP_H
#define CT_PMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_tally.h"

typedef struct {
    uint64_t seq;
    uint32_t district;
    uint32_t day;
    uint32_t agent_ix;
    uint32_t group_ix;
    uint8_t key[CT_PERSON_KEY_LEN];
    uint8_t enrolled;
    uint8_t pad[6];
} ct_pmap_entry;

typedef struct {
    char **strs; /* interned strings, strs[0] == "" */
    size_t n, cap;
    uint32_t *tab;  /* index+1, 0 = empty */
    size_t tab_cap; /* power of two */
} ct_pmap_intern;

typedef struct {
    uint32_t *tab;  /* entry index + 1, 0 = empty */
    size_t tab_cap; /* power of two or 0 */
    ct_pmap_entry *entries;
    size_t n, cap;
    ct_pmap_intern strings;
} ct_pmap;

void ct_pmap_init(ct_pmap *m);
void ct_pmap_free(ct_pmap *m);
/* Looks the key up; on a hit fills *st and returns true. */
bool ct_pmap_get(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], ct_person_state *st);
/* Inserts or replaces the state of key. */
ct_err ct_pmap_put(ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], const ct_person_state *st);

/* One-lookup access for the hot path: the entry of key or NULL; its state;
 * replacing its state in place (entry pointers are valid until the next
 * ct_pmap_put of a NEW key). */
ct_pmap_entry *ct_pmap_find(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN]);
void ct_pmap_entry_state(const ct_pmap *m, const ct_pmap_entry *e, ct_person_state *st);
ct_err ct_pmap_entry_set(ct_pmap *m, ct_pmap_entry *e, const ct_person_state *st);
/* Cache hints for a key about to be looked up: level 0 fetches its home
 * slot, level 1 (a few keys later) the entry that slot points to. */
void ct_pmap_prefetch(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], int level);

#endif
