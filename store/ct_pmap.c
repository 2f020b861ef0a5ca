/* ct_pmap.c — see ct_pmap.h. Invariants: tab_cap is 0 or a power of two with
 * n * 2 <= tab_cap; strings.strs[0] is the empty string (index 0 = no group). */
#include "ct_pmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t key_hash(const uint8_t key[CT_PERSON_KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key + 1, sizeof h);
    h ^= (uint64_t)key[0] * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return h;
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void intern_free(ct_pmap_intern *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->strs[i]);
    free(in->strs);
    free(in->tab);
    memset(in, 0, sizeof *in);
}

static ct_err intern_grow(ct_pmap_intern *in)
{
    size_t ncap = in->tab_cap ? in->tab_cap * 2 : 64;
    uint32_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return CT_ERR_NOMEM;
    for (size_t i = 0; i < in->n; i++) {
        size_t j = (size_t)str_hash(in->strs[i]) & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = (uint32_t)(i + 1);
    }
    free(in->tab);
    in->tab = nt;
    in->tab_cap = ncap;
    return CT_OK;
}

/* Index of s in the string table, added if new. */
static ct_err intern(ct_pmap_intern *in, const char *s, uint32_t *ix)
{
    if (!s[0] && in->n) { /* "" is always index 0 once the table exists */
        *ix = 0;
        return CT_OK;
    }
    if ((in->n + 1) * 2 > in->tab_cap) {
        ct_err e = intern_grow(in);
        if (e) return e;
    }
    size_t j = (size_t)str_hash(s) & (in->tab_cap - 1);
    while (in->tab[j]) {
        uint32_t k = in->tab[j] - 1;
        if (strcmp(in->strs[k], s) == 0) {
            *ix = k;
            return CT_OK;
        }
        j = (j + 1) & (in->tab_cap - 1);
    }
    if (in->n == in->cap) {
        size_t nc = in->cap ? in->cap * 2 : 64;
        char **ns = realloc(in->strs, nc * sizeof *ns);
        if (!ns) return CT_ERR_NOMEM;
        in->strs = ns;
        in->cap = nc;
    }
    char *copy = strdup(s);
    if (!copy) return CT_ERR_NOMEM;
    in->strs[in->n] = copy;
    in->tab[j] = (uint32_t)(in->n + 1);
    *ix = (uint32_t)in->n++;
    return CT_OK;
}

void ct_pmap_init(ct_pmap *m)
{
    memset(m, 0, sizeof *m);
}

void ct_pmap_free(ct_pmap *m)
{
    free(m->tab);
    free(m->entries);
    intern_free(&m->strings);
    memset(m, 0, sizeof *m);
}

static ct_pmap_entry *find(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], size_t *slot)
{
    if (!m->tab_cap) {
        *slot = 0;
        return NULL;
    }
    size_t mask = m->tab_cap - 1;
    size_t j = (size_t)key_hash(key) & mask;
    for (;;) {
        uint32_t v = m->tab[j];
        if (!v) break;
        ct_pmap_entry *e = &m->entries[v - 1];
        if (memcmp(e->key, key, CT_PERSON_KEY_LEN) == 0) {
            *slot = j;
            return e;
        }
        j = (j + 1) & mask;
    }
    *slot = j;
    return NULL;
}

void ct_pmap_entry_state(const ct_pmap *m, const ct_pmap_entry *e, ct_person_state *st)
{
    memset(st, 0, sizeof *st);
    st->enrolled = e->enrolled != 0;
    st->district = e->district;
    st->day = e->day;
    st->seq = e->seq;
    const char *a = m->strings.strs[e->agent_ix];
    const char *g = m->strings.strs[e->group_ix];
    size_t al = strlen(a), gl = strlen(g);
    memcpy(st->agent, a, al < CT_AGENT_ID_MAX ? al : CT_AGENT_ID_MAX);
    memcpy(st->group, g, gl < CT_GROUP_MAX ? gl : CT_GROUP_MAX);
}

bool ct_pmap_get(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], ct_person_state *st)
{
    size_t slot;
    const ct_pmap_entry *e = find(m, key, &slot);
    if (!e) return false;
    ct_pmap_entry_state(m, e, st);
    return true;
}

ct_pmap_entry *ct_pmap_find(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN])
{
    size_t slot;
    return find(m, key, &slot);
}

void ct_pmap_prefetch(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], int level)
{
    if (!m->tab_cap) return;
    size_t j = (size_t)key_hash(key) & (m->tab_cap - 1);
    if (level == 0) {
        __builtin_prefetch(&m->tab[j]);
    } else {
        uint32_t v = m->tab[j];
        if (v) __builtin_prefetch(&m->entries[v - 1]);
    }
}

static ct_err set_state(ct_pmap_entry *e, const ct_person_state *st, uint32_t aix, uint32_t gix);

ct_err ct_pmap_entry_set(ct_pmap *m, ct_pmap_entry *e, const ct_person_state *st)
{
    uint32_t aix, gix;
    ct_err err = intern(&m->strings, st->agent, &aix);
    if (!err) err = intern(&m->strings, st->group, &gix);
    if (err) return err;
    return set_state(e, st, aix, gix);
}

static ct_err grow(ct_pmap *m)
{
    size_t ncap = m->tab_cap ? m->tab_cap * 2 : 1024;
    uint32_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return CT_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = (size_t)key_hash(m->entries[i].key) & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = (uint32_t)(i + 1);
    }
    free(m->tab);
    m->tab = nt;
    m->tab_cap = ncap;
    return CT_OK;
}

ct_err ct_pmap_put(ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], const ct_person_state *st)
{
    if (!m->strings.n) { /* index 0 is "" */
        uint32_t ix;
        ct_err e = intern(&m->strings, "", &ix);
        if (e) return e;
    }
    uint32_t aix, gix;
    ct_err err = intern(&m->strings, st->agent, &aix);
    if (!err) err = intern(&m->strings, st->group, &gix);
    if (err) return err;
    size_t slot;
    ct_pmap_entry *e = find(m, key, &slot);
    if (!e) {
        if (m->n >= UINT32_MAX - 1) return CT_ERR_NOMEM;
        if ((m->n + 1) * 2 > m->tab_cap) {
            err = grow(m);
            if (err) return err;
            find(m, key, &slot);
        }
        if (m->n == m->cap) {
            size_t nc = m->cap ? m->cap * 2 : 1024;
            ct_pmap_entry *ne = realloc(m->entries, nc * sizeof *ne);
            if (!ne) return CT_ERR_NOMEM;
            m->entries = ne;
            m->cap = nc;
        }
        e = &m->entries[m->n];
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, CT_PERSON_KEY_LEN);
        m->tab[slot] = (uint32_t)(m->n + 1);
        m->n++;
    }
    return set_state(e, st, aix, gix);
}

static ct_err set_state(ct_pmap_entry *e, const ct_person_state *st, uint32_t aix, uint32_t gix)
{
    e->seq = st->seq;
    e->district = st->district;
    e->day = st->day;
    e->agent_ix = aix;
    e->group_ix = gix;
    e->enrolled = st->enrolled ? 1 : 0;
    return CT_OK;
}
