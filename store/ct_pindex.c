/* ct_pindex.c — the in-memory index of "persons" keys to their runs (see
 * ct_pindex.h for the layout and its invariants).
 *
 * Memory: a slot table (or filter) of PINDEX_HUGE bytes (2 MiB) or more is its own anonymous
 * mapping, aligned to it and advised MADV_HUGEPAGE, so that a lookup (one random slot in a table of
 * ~100 MB at 10M persons) costs a cache miss but no page walk: with 4 KiB pages every lookup also
 * missed the TLB, and in a virtual machine a page walk is itself several memory reads. The advice
 * is a hint: where transparent huge pages are off, the table works as before. Smaller ones come
 * from calloc. Either way they start zeroed. */
#include "ct_pindex.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CAP_MIN 1024
#define PINDEX_HUGE ((size_t)2 << 20) /* the x86-64 / arm64 huge page */

/* bytes of zeroes (a power of two), NULL if out of memory. */
static void *zalloc(size_t bytes)
{
    if (bytes < PINDEX_HUGE) return calloc(1, bytes);
    assert(bytes % PINDEX_HUGE == 0);
    uint8_t *p =
        mmap(NULL, bytes + PINDEX_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + PINDEX_HUGE - 1) & ~(uintptr_t)(PINDEX_HUGE - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (a + bytes < p + bytes + PINDEX_HUGE)
        munmap(a + bytes, (size_t)(p + bytes + PINDEX_HUGE - (a + bytes)));
#ifdef MADV_HUGEPAGE
    (void)madvise(a, bytes, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
    return a;
}

static void zfree(void *p, size_t bytes)
{
    if (!p) return;
    if (bytes < PINDEX_HUGE)
        free(p);
    else
        munmap(p, bytes);
}

/* The filter of a table of cap slots: 4 x cap bits. */
static size_t filter_bytes(size_t cap)
{
    return cap / 2;
}

static size_t filter_bit(const ct_pindex *x, uint32_t fp)
{
    return (size_t)(((uint64_t)fp * 0x9e3779b97f4a7c15u) >> x->filter_shift);
}

static void filter_set(ct_pindex *x, uint32_t fp)
{
    size_t b = filter_bit(x, fp);
    x->filter[b >> 3] |= (uint8_t)(1u << (b & 7));
}

uint32_t ct_pindex_fp(const uint8_t key[CT_PERSON_KEY_LEN])
{
    /* the person hash is uniformly random: its bytes are the hash */
    uint32_t f;
    memcpy(&f, key + 1, sizeof f);
    f ^= (uint32_t)key[0] * 0x9e3779b9u;
    return f ? f : 1;
}

void ct_pindex_free(ct_pindex *x)
{
    zfree(x->slots, x->cap * sizeof *x->slots);
    zfree(x->filter, filter_bytes(x->cap));
    free(x->runs);
    memset(x, 0, sizeof *x);
}

void ct_pindex_clear(ct_pindex *x)
{
    if (x->slots) memset(x->slots, 0, x->cap * sizeof *x->slots);
    if (x->filter) memset(x->filter, 0, filter_bytes(x->cap));
    x->n = 0;
    x->n_runs = 0;
}

bool ct_pindex_next(const ct_pindex *x, uint32_t fp, size_t *pos, uint64_t *run)
{
    assert(fp != 0);
    if (!x->cap) return false;
    size_t mask = x->cap - 1;
    if (*pos == SIZE_MAX) {
        size_t b = filter_bit(x, fp);
        if (!(x->filter[b >> 3] & (1u << (b & 7)))) return false; /* never added */
    }
    size_t i = *pos == SIZE_MAX ? (size_t)fp & mask : (*pos + 1) & mask;
    for (; x->slots[i]; i = (i + 1) & mask) {
        if (x->slots[i] >> 32 == fp) {
            uint64_t id = x->slots[i] & 0xffffffffu;
            assert(id < x->n_runs);
            *run = x->runs[id];
            *pos = i;
            return true;
        }
    }
    return false;
}

/* The id of run, added to the run table if it is not there (runs arrive in
 * increasing order, so the last one is the usual answer). */
static ct_err run_id(ct_pindex *x, uint64_t run, uint32_t *id)
{
    for (size_t i = x->n_runs; i-- > 0;) {
        if (x->runs[i] == run) {
            *id = (uint32_t)i;
            return CT_OK;
        }
        if (x->runs[i] < run) break;
    }
    if (x->n_runs >= UINT32_MAX) return CT_ERR_NOMEM;
    if (x->n_runs == x->runs_cap) {
        size_t nc = x->runs_cap ? x->runs_cap * 2 : 64;
        uint64_t *nr = realloc(x->runs, nc * sizeof *nr);
        if (!nr) return CT_ERR_NOMEM;
        x->runs = nr;
        x->runs_cap = nc;
    }
    x->runs[x->n_runs] = run;
    *id = (uint32_t)x->n_runs++;
    return CT_OK;
}

static void place(uint64_t *slots, size_t cap, uint64_t v)
{
    size_t mask = cap - 1, i = (size_t)(v >> 32) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = v;
}

/* Moves the entries to a table of ncap slots (a power of two), with its
 * filter made from them. */
static ct_err resize(ct_pindex *x, size_t ncap)
{
    uint64_t *ns = zalloc(ncap * sizeof *ns);
    uint8_t *nf = zalloc(filter_bytes(ncap));
    if (!ns || !nf) {
        zfree(ns, ncap * sizeof *ns);
        zfree(nf, filter_bytes(ncap));
        return CT_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i]) place(ns, ncap, x->slots[i]);
    zfree(x->slots, x->cap * sizeof *x->slots);
    zfree(x->filter, filter_bytes(x->cap));
    x->slots = ns;
    x->filter = nf;
    x->cap = ncap;
    unsigned lg = 0; /* log2 of the filter's bits: 4 x ncap */
    while (((size_t)1 << lg) < ncap * 4)
        lg++;
    x->filter_shift = 64 - lg;
    for (size_t i = 0; i < ncap; i++)
        if (ns[i]) filter_set(x, (uint32_t)(ns[i] >> 32));
    return CT_OK;
}

static ct_err grow(ct_pindex *x)
{
    return resize(x, x->cap ? x->cap * 2 : CAP_MIN);
}

ct_err ct_pindex_reserve(ct_pindex *x, size_t n)
{
    size_t cap = x->cap ? x->cap : CAP_MIN;
    while (n * 4 > cap * 3) {
        if (cap > SIZE_MAX / 16) return CT_ERR_NOMEM;
        cap *= 2;
    }
    return cap > x->cap ? resize(x, cap) : CT_OK;
}

void ct_pindex_prefetch(const ct_pindex *x, uint32_t fp)
{
    if (!x->cap) return;
    __builtin_prefetch(&x->slots[fp & (x->cap - 1)], 1);
    __builtin_prefetch(&x->filter[filter_bit(x, fp) >> 3], 1);
}

void ct_pindex_prefetch_lookup(const ct_pindex *x, uint32_t fp)
{
    if (x->cap) __builtin_prefetch(&x->filter[filter_bit(x, fp) >> 3]);
}

void ct_pindex_prefetch_slot(const ct_pindex *x, size_t pos)
{
    if (pos < x->cap) __builtin_prefetch(&x->slots[pos], 1);
}

ct_err ct_pindex_add(ct_pindex *x, uint32_t fp, uint64_t run)
{
    assert(fp != 0);
    uint32_t id;
    ct_err r = run_id(x, run, &id);
    if (r) return r;
    if ((x->n + 1) * 4 > x->cap * 3 && (r = grow(x))) return r;
    place(x->slots, x->cap, (uint64_t)fp << 32 | id);
    filter_set(x, fp);
    x->n++;
    return CT_OK;
}

ct_err ct_pindex_set_run(ct_pindex *x, size_t pos, uint64_t run)
{
    assert(pos < x->cap && x->slots[pos]);
    uint32_t id;
    ct_err r = run_id(x, run, &id);
    if (r) return r;
    x->slots[pos] = (x->slots[pos] & ~(uint64_t)0xffffffffu) | id;
    return CT_OK;
}

size_t ct_pindex_bytes(const ct_pindex *x)
{
    return x->cap * sizeof *x->slots + filter_bytes(x->cap) + x->runs_cap * sizeof *x->runs;
}
