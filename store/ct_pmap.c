/* ct_pmap.c — the person-state map (see ct_pmap.h for layout and invariants). */
#include "ct_pmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(ct_pmap_entry) == 64, "one entry per cache line");

#define TAB_MIN 1024
#define STR_TAB_MIN 64
#define STR_MAX (CT_AGENT_ID_MAX > CT_GROUP_MAX ? CT_AGENT_ID_MAX : CT_GROUP_MAX)

static uint64_t key_hash(const uint8_t key[CT_PERSON_KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key + 1, sizeof h);
    h ^= (uint64_t)key[0] * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return h;
}

/* The slot of a key starts at hash & mask; its tag is the high half. */
static uint64_t slot_tag(uint64_t h)
{
    return h & 0xffffffff00000000ull;
}

static uint32_t slot_ix(uint64_t v)
{
    return (uint32_t)v;
}

static uint64_t str_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- the string arena --------------------------------------------------- */

static void strings_free(ct_pmap_strings *in)
{
    free(in->b);
    free(in->tab);
    memset(in, 0, sizeof *in);
}

static void strings_clear(ct_pmap_strings *in)
{
    if (in->tab) memset(in->tab, 0, in->tab_cap * sizeof *in->tab);
    in->n = 0;
    in->len = in->b ? 1 : 0; /* keeps b[0] == "" */
}

static ct_err strings_grow_tab(ct_pmap_strings *in)
{
    size_t ncap = in->tab_cap ? in->tab_cap * 2 : STR_TAB_MIN;
    uint32_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return CT_ERR_NOMEM;
    for (size_t i = 0; i < in->tab_cap; i++) {
        uint32_t v = in->tab[i];
        if (!v) continue;
        const char *s = in->b + v - 1;
        size_t j = (size_t)str_hash(s, strlen(s)) & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = v;
    }
    free(in->tab);
    in->tab = nt;
    in->tab_cap = ncap;
    return CT_OK;
}

/* Makes room for one more string of up to STR_MAX bytes (both arrays), so
 * that intern() cannot fail half-way. */
static ct_err strings_reserve(ct_pmap_strings *in)
{
    if ((in->n + 1) * 2 > in->tab_cap) {
        ct_err e = strings_grow_tab(in);
        if (e) return e;
    }
    if (in->cap - in->len < STR_MAX + 2) {
        size_t nc = in->cap ? in->cap * 2 : 1024;
        char *nb = realloc(in->b, nc);
        if (!nb) return CT_ERR_NOMEM;
        if (!in->b) {
            nb[0] = '\0';
            in->len = 1;
        }
        in->b = nb;
        in->cap = nc;
    }
    return CT_OK;
}

/* Offset of s in the arena, appended if new ("" is offset 0). */
static ct_err intern(ct_pmap_strings *in, const char *s, size_t maxlen, uint32_t *off)
{
    size_t n = strnlen(s, maxlen);
    if (n == 0) {
        *off = 0;
        return CT_OK;
    }
    ct_err e = strings_reserve(in);
    if (e) return e;
    size_t mask = in->tab_cap - 1;
    size_t j = (size_t)str_hash(s, n) & mask;
    for (uint32_t v; (v = in->tab[j]) != 0; j = (j + 1) & mask) {
        const char *t = in->b + v - 1;
        if (strncmp(t, s, n) == 0 && t[n] == '\0') {
            *off = v - 1;
            return CT_OK;
        }
    }
    assert(in->len + n + 1 <= in->cap && in->len <= UINT32_MAX - n - 2);
    memcpy(in->b + in->len, s, n);
    in->b[in->len + n] = '\0';
    *off = (uint32_t)in->len;
    in->tab[j] = (uint32_t)in->len + 1;
    in->len += n + 1;
    in->n++;
    return CT_OK;
}

static const char *str_at(const ct_pmap *m, uint32_t off)
{
    return off ? m->strings.b + off : "";
}

/* ---- the map ------------------------------------------------------------- */

void ct_pmap_init(ct_pmap *m)
{
    memset(m, 0, sizeof *m);
}

void ct_pmap_free(ct_pmap *m)
{
    free(m->tab);
    free(m->entries);
    strings_free(&m->strings);
    memset(m, 0, sizeof *m);
}

/* Slot of key (its entry's, or the empty slot where it would go). */
static size_t slot_of(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN])
{
    assert(m->tab_cap && (m->tab_cap & (m->tab_cap - 1)) == 0);
    size_t mask = m->tab_cap - 1;
    uint64_t h = key_hash(key);
    uint64_t tag = slot_tag(h);
    size_t j = (size_t)h & mask;
    for (uint64_t v; (v = m->tab[j]) != 0; j = (j + 1) & mask) {
        assert(slot_ix(v) - 1 < m->n);
        if (slot_tag(v) == tag &&
            memcmp(m->entries[slot_ix(v) - 1].key, key, CT_PERSON_KEY_LEN) == 0)
            break;
    }
    return j;
}

void ct_pmap_clear(ct_pmap *m)
{
    if (m->n * 8 < m->tab_cap) {
        /* sparse: empty the entries' own slots, newest first: the slots on
         * an entry's probe path before its own hold older entries (inserted
         * or rehashed before it), so they are still there to probe through */
        for (size_t i = m->n; i-- > 0;)
            m->tab[slot_of(m, m->entries[i].key)] = 0;
    } else if (m->tab) {
        memset(m->tab, 0, m->tab_cap * sizeof *m->tab);
    }
    m->n = 0;
    strings_clear(&m->strings);
}

ct_pmap_entry *ct_pmap_find(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN])
{
    if (!m->n) return NULL;
    uint64_t v = m->tab[slot_of(m, key)];
    return v ? &m->entries[slot_ix(v) - 1] : NULL;
}

void ct_pmap_entry_state(const ct_pmap *m, const ct_pmap_entry *e, ct_person_state *st)
{
    memset(st, 0, sizeof *st);
    st->enrolled = e->enrolled != 0;
    st->district = e->district;
    st->day = e->day;
    st->seq = e->seq;
    st->commune = e->commune;
    st->voided = (e->flags & CT_PMAP_VOIDED) != 0;
    st->moved = (e->flags & CT_PMAP_MOVED) != 0;
    const char *a = str_at(m, e->agent), *g = str_at(m, e->group);
    memcpy(st->agent, a, strnlen(a, CT_AGENT_ID_MAX));
    memcpy(st->group, g, strnlen(g, CT_GROUP_MAX));
}

bool ct_pmap_get(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], ct_person_state *st)
{
    const ct_pmap_entry *e = ct_pmap_find(m, key);
    if (!e) return false;
    ct_pmap_entry_state(m, e, st);
    return true;
}

void ct_pmap_prefetch(const ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], int level)
{
    if (!m->tab_cap) return;
    uint64_t h = key_hash(key);
    size_t j = (size_t)h & (m->tab_cap - 1);
    if (level == 0) {
        __builtin_prefetch(&m->tab[j]);
    } else {
        /* the entry only if the home slot holds this key's tag: a new key
         * (the common case) would fetch another key's entry for nothing */
        uint64_t v = m->tab[j];
        if (v && slot_tag(v) == slot_tag(h) && slot_ix(v) - 1 < m->n)
            __builtin_prefetch(&m->entries[slot_ix(v) - 1]);
    }
}

ct_err ct_pmap_entry_set(ct_pmap *m, ct_pmap_entry *e, const ct_person_state *st)
{
    uint32_t a, g;
    ct_err err = intern(&m->strings, st->agent, CT_AGENT_ID_MAX, &a);
    if (!err) err = intern(&m->strings, st->group, CT_GROUP_MAX, &g);
    if (err) return err;
    e->seq = st->seq;
    e->district = st->district;
    e->day = st->day;
    e->agent = a;
    e->group = g;
    e->enrolled = st->enrolled ? 1 : 0;
    e->commune = st->commune;
    e->flags = (uint8_t)((st->voided ? CT_PMAP_VOIDED : 0u) | (st->moved ? CT_PMAP_MOVED : 0u));
    return CT_OK;
}

static ct_err grow(ct_pmap *m)
{
    size_t ncap = m->tab_cap ? m->tab_cap * 2 : TAB_MIN;
    uint64_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return CT_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t h = key_hash(m->entries[i].key);
        size_t j = (size_t)h & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = slot_tag(h) | (i + 1);
    }
    free(m->tab);
    m->tab = nt;
    m->tab_cap = ncap;
    return CT_OK;
}

ct_err ct_pmap_put(ct_pmap *m, const uint8_t key[CT_PERSON_KEY_LEN], const ct_person_state *st)
{
    ct_pmap_entry *e = ct_pmap_find(m, key);
    if (e) return ct_pmap_entry_set(m, e, st);
    if (m->n >= UINT32_MAX - 1) return CT_ERR_NOMEM;
    if ((m->n + 1) * 2 > m->tab_cap) {
        ct_err err = grow(m);
        if (err) return err;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : TAB_MIN / 2;
        ct_pmap_entry *ne = realloc(m->entries, nc * sizeof *ne);
        if (!ne) return CT_ERR_NOMEM;
        m->entries = ne;
        m->cap = nc;
    }
    /* strings first: a failure leaves the map unchanged */
    e = &m->entries[m->n];
    memset(e, 0, sizeof *e);
    ct_err err = ct_pmap_entry_set(m, e, st);
    if (err) return err;
    memcpy(e->key, key, CT_PERSON_KEY_LEN);
    size_t slot = slot_of(m, key);
    assert(m->tab[slot] == 0);
    m->tab[slot] = slot_tag(key_hash(key)) | (m->n + 1);
    m->n++;
    assert(m->n * 2 <= m->tab_cap);
    return CT_OK;
}
