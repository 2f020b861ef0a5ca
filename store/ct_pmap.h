/* ct_pmap.h — in-memory person-state map:
 * (program(1) || person hash(32)) -> ct_person_state.
 *
 * Used by the store (the batch overlay and the pending states of a
 * checkpoint, ct_store_persons.c) and by the audit recount (all persons).
 *
 * Open addressing (linear probing) over a power-of-two array of slots, load
 * <= 1/2; a slot holds an entry index and 32 bits of the key's hash (its tag),
 * so a probe past another key's slot does not read that key's entry: a
 * lookup of an absent key touches the table only, a hit one entry (two cache
 * misses at most in a table of millions, not one per probe). Entries live in
 * one growable array of 64-byte records
 * in insertion order (agent and group strings are interned in one growable
 * arena, so a state costs no string copy per probe and no allocation per
 * insert: only the arrays grow, by doubling). The person hash is already a
 * BLAKE2b output, so its first 8 bytes are the hash.
 *
 * Invariants: tab_cap is 0 or a power of two >= 1024 with n * 2 <= tab_cap;
 * every index in tab is < n, stored with the tag of its entry's key; entries are never removed one
 * by one (a cancelled person keeps a not-enrolled state), only all at once by ct_pmap_clear; offset
 * 0 of the string arena is "" (no group).
 *
 * The fields are visible for inlining and iteration (entries[0..n) in
 * insertion order); callers read them, never write them.
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
    uint32_t agent; /* offset of the agent in the string arena */
    uint32_t group; /* offset of the group in the string arena (0 = "") */
    uint8_t key[CT_PERSON_KEY_LEN];
    uint8_t enrolled;
    uint16_t commune; /* commune code of the crediting enroll */
    uint8_t flags;    /* CT_PMAP_VOIDED | CT_PMAP_MOVED (docs/PROTOCOL.md §7) */
    uint8_t pad[3];
} ct_pmap_entry;

typedef struct {
    char *b; /* NUL-terminated strings back to back; b[0] == '\0' */
    size_t len, cap;
    uint32_t *tab;  /* string offset + 1, 0 = empty */
    size_t tab_cap; /* power of two or 0 */
    size_t n;       /* strings in tab */
} ct_pmap_strings;

typedef struct {
    uint64_t *tab;  /* tag << 32 | (entry index + 1); 0 = empty */
    size_t tab_cap; /* power of two or 0 */
    ct_pmap_entry *entries;
    size_t n, cap;
    ct_pmap_strings strings;
} ct_pmap;

#define CT_PMAP_VOIDED 1u /* ct_person_state.voided */
#define CT_PMAP_MOVED 2u  /* ct_person_state.moved */

void ct_pmap_init(ct_pmap *m);
void ct_pmap_free(ct_pmap *m);
/* Forgets every entry and string; keeps the memory for reuse (O(n) when the
 * table is sparse). */
void ct_pmap_clear(ct_pmap *m);
/* Looks the key up; on a hit fills *st and returns true. */
bool ct_pmap_get(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], ct_person_state *st);
/* Inserts or replaces the state of key. CT_ERR_NOMEM if an array cannot
 * grow (the map is unchanged then). */
ct_err ct_pmap_put(ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], const ct_person_state *st);

/* One-lookup access for the hot path: the entry of key or NULL; its state;
 * replacing its state in place (entry pointers are valid until the next
 * ct_pmap_put of a NEW key or ct_pmap_clear). ct_pmap_entry_set fails only
 * with CT_ERR_NOMEM (a new string that does not fit). */
ct_pmap_entry *ct_pmap_find(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN]);
void ct_pmap_entry_state(const ct_pmap *m, const ct_pmap_entry *e, ct_person_state *st);
ct_err ct_pmap_entry_set(ct_pmap *m, ct_pmap_entry *e, const ct_person_state *st);
/* Cache hints for a key about to be looked up: level 0 fetches its home
 * slot, level 1 (a few keys later) the entry that slot points to. */
void ct_pmap_prefetch(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], int level);

#endif
