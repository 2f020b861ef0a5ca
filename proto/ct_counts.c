/* ct_counts.c — in-memory counter table (see ct_counts.h).
 *
 * Open addressing, linear probing, power-of-two capacity, load <= 1/2, no
 * deletion (a key set to 0 stays). The hash reads the key 8 bytes at a time
 * and mixes with a multiply/xor-shift: keys are <= 36 bytes and this sits on
 * the aggregator's per-batch hot path, so it must be cheap.
 * Invariants: n == number of used slots; cap is 0 or a power of two >= 64;
 * slots is NULL iff cap == 0.
 */
#include "ct_counts.h"

#include <stdlib.h>
#include <string.h>

#define CT_COUNTS_MIN_CAP 64

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= UINT64_C(0xd6e8feb86659fd93);
    h ^= h >> 32;
    return h;
}

static uint64_t key_hash(const ct_count_key *k)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ k->len;
    size_t i = 0;
    for (; i + 8 <= k->len; i += 8) {
        uint64_t w;
        memcpy(&w, k->b + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3) + (h >> 29);
    }
    if (i < k->len) {
        uint64_t w = 0;
        memcpy(&w, k->b + i, k->len - i);
        h = (h ^ w) * UINT64_C(0x100000001b3) + (h >> 29);
    }
    return mix(h);
}

static int key_eq(const ct_count_key *a, const ct_count_key *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

void ct_counts_init(ct_counts *c)
{
    c->slots = NULL;
    c->cap = 0;
    c->n = 0;
}

void ct_counts_free(ct_counts *c)
{
    free(c->slots);
    ct_counts_init(c);
}

void ct_counts_clear(ct_counts *c)
{
    if (c->slots) memset(c->slots, 0, c->cap * sizeof *c->slots);
    c->n = 0;
}

/* Slot of k: the one holding it, or the empty one where it would go. */
static ct_counts_slot *find(const ct_counts *c, const ct_count_key *k)
{
    size_t mask = c->cap - 1;
    size_t i = (size_t)key_hash(k) & mask;
    for (;;) {
        ct_counts_slot *s = &c->slots[i];
        if (!s->used || key_eq(&s->key, k)) return s;
        i = (i + 1) & mask;
    }
}

static ct_err grow(ct_counts *c)
{
    size_t ncap = c->cap ? c->cap * 2 : CT_COUNTS_MIN_CAP;
    if (ncap > SIZE_MAX / 2 / sizeof(ct_counts_slot)) return CT_ERR_NOMEM;
    ct_counts_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return CT_ERR_NOMEM;
    ct_counts old = *c;
    c->slots = ns;
    c->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].used) continue;
        *find(c, &old.slots[i].key) = old.slots[i];
    }
    free(old.slots);
    return CT_OK;
}

static ct_err slot_for(ct_counts *c, const ct_count_key *k, ct_counts_slot **out)
{
    if (!k || k->len > CT_COUNT_KEY_MAX) return CT_ERR_ARG;
    if ((c->n + 1) * 2 > c->cap) {
        ct_err e = grow(c);
        if (e != CT_OK) return e;
    }
    ct_counts_slot *s = find(c, k);
    if (!s->used) {
        memset(s, 0, sizeof *s);
        s->key.len = k->len;
        memcpy(s->key.b, k->b, k->len);
        s->used = 1;
        c->n++;
    }
    *out = s;
    return CT_OK;
}

ct_err ct_counts_set(ct_counts *c, const ct_count_key *k, int64_t v)
{
    ct_counts_slot *s;
    ct_err e = slot_for(c, k, &s);
    if (e != CT_OK) return e;
    s->value = v;
    return CT_OK;
}

ct_err ct_counts_add(ct_counts *c, const ct_count_key *k, int64_t delta)
{
    ct_counts_slot *s;
    ct_err e = slot_for(c, k, &s);
    if (e != CT_OK) return e;
    s->value += delta;
    return CT_OK;
}

int64_t ct_counts_get(const ct_counts *c, const ct_count_key *k)
{
    if (c->cap == 0 || !k) return 0;
    const ct_counts_slot *s = find(c, k);
    return s->used ? s->value : 0;
}

/* Scans a for keys whose value differs in b; keeps the smallest in *best. */
static int scan_diff(const ct_counts *a, const ct_counts *b, ct_count_key *best, int found)
{
    for (size_t i = 0; i < a->cap; i++) {
        const ct_counts_slot *s = &a->slots[i];
        if (!s->used || s->value == ct_counts_get(b, &s->key)) continue;
        if (!found || ct_count_key_cmp(&s->key, best) < 0) *best = s->key;
        found = 1;
    }
    return found;
}

int ct_counts_equal(const ct_counts *a, const ct_counts *b, ct_count_key *first_diff)
{
    ct_count_key best;
    memset(&best, 0, sizeof best);
    int found = scan_diff(a, b, &best, 0);
    found = scan_diff(b, a, &best, found);
    if (found && first_diff) *first_diff = best;
    return !found;
}

int64_t ct_counts_sum(const ct_counts *c, ct_count_kind kind, int program, uint32_t district)
{
    int64_t sum = 0;
    for (size_t i = 0; i < c->cap; i++) {
        const ct_counts_slot *s = &c->slots[i];
        if (!s->used || s->key.b[0] != (uint8_t)kind) continue;
        if (program >= 0 && s->key.b[1] != (uint8_t)program) continue;
        if (district != 0 && ct_count_key_district(&s->key) != district) continue;
        sum += s->value;
    }
    return sum;
}
