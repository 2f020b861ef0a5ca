/* ct_safe_push.c — the pushed safe watermark's table (see ct_safe_push.h):
 * entries in an array, found by routing id through an open-addressing hash
 * that is rebuilt whenever a send pass drops entries (the only removal).
 *
 * Invariants: hash slots hold entry index + 1 (0 = empty), exactly one slot
 * per entry; nent <= max; the hash has at least 2 * max slots, a power of
 * two, so a probe always ends.
 */
#include "ct_safe_push.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_buf.h"
#include "ct_wire.h"

typedef struct {
    uint8_t rid[CT_SAFE_PUSH_RID_MAX];
    uint8_t rid_len;
    size_t sock;
    uint64_t want, told;
} entry;

struct ct_safe_push {
    entry *ent;
    size_t nent, max;
    uint32_t *hash;
    size_t hmask;
    ct_buf out;
    ct_safe_push_stats st;
};

ct_err ct_safe_push_create(size_t max, ct_safe_push **out)
{
    *out = NULL;
    if (max == 0 || max > (1u << 24)) return CT_ERR_ARG;
    ct_safe_push *p = calloc(1, sizeof *p);
    if (!p) return CT_ERR_NOMEM;
    size_t hs = 1;
    while (hs < 2 * max)
        hs <<= 1;
    p->max = max;
    p->hmask = hs - 1;
    p->ent = calloc(max, sizeof *p->ent);
    p->hash = calloc(hs, sizeof *p->hash);
    if (!p->ent || !p->hash) {
        ct_safe_push_free(p);
        return CT_ERR_NOMEM;
    }
    *out = p;
    return CT_OK;
}

void ct_safe_push_free(ct_safe_push *p)
{
    if (!p) return;
    free(p->ent);
    free(p->hash);
    ct_buf_free(&p->out);
    free(p);
}

static size_t slot_of(const ct_safe_push *p, size_t sock, const uint8_t *rid, size_t len)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)sock;
    for (size_t i = 0; i < len; i++) {
        h ^= rid[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29)) & p->hmask;
}

/* The slot holding (sock, rid), or the empty slot where it would go. */
static size_t find(const ct_safe_push *p, size_t sock, const uint8_t *rid, size_t len)
{
    size_t i = slot_of(p, sock, rid, len);
    while (p->hash[i]) {
        const entry *e = &p->ent[p->hash[i] - 1];
        if (e->sock == sock && e->rid_len == len && memcmp(e->rid, rid, len) == 0) return i;
        i = (i + 1) & p->hmask;
    }
    return i;
}

static void rebuild(ct_safe_push *p)
{
    memset(p->hash, 0, (p->hmask + 1) * sizeof *p->hash);
    for (size_t k = 0; k < p->nent; k++) {
        const entry *e = &p->ent[k];
        size_t i = find(p, e->sock, e->rid, e->rid_len);
        assert(p->hash[i] == 0);
        p->hash[i] = (uint32_t)(k + 1);
    }
}

void ct_safe_push_note(ct_safe_push *p, size_t sock, const uint8_t *rid, size_t rid_len,
                       uint64_t want, uint64_t told)
{
    if (told >= want || rid_len == 0 || rid_len > CT_SAFE_PUSH_RID_MAX) return;
    size_t i = find(p, sock, rid, rid_len);
    if (p->hash[i]) {
        entry *e = &p->ent[p->hash[i] - 1];
        if (want > e->want) e->want = want;
        if (told > e->told) e->told = told;
        return;
    }
    if (p->nent == p->max) {
        p->st.full++;
        return;
    }
    entry *e = &p->ent[p->nent];
    memcpy(e->rid, rid, rid_len);
    e->rid_len = (uint8_t)rid_len;
    e->sock = sock;
    e->want = want;
    e->told = told;
    p->hash[i] = (uint32_t)(++p->nent);
}

void ct_safe_push_send(ct_safe_push *p, void **socks, size_t nsock, uint64_t committed,
                       uint64_t safe, uint64_t epoch)
{
    if (p->nent == 0) return;
    bool encoded = false;
    size_t kept = 0;
    for (size_t k = 0; k < p->nent; k++) {
        entry *e = &p->ent[k];
        bool keep = true;
        if (safe > e->told && e->sock < nsock) {
            if (!encoded) {
                ct_buf_reset(&p->out);
                if (ct_wire_safe_push_encode(committed, safe, epoch ? epoch : 1, &p->out) != CT_OK)
                    return; /* safe > committed cannot happen: nothing sent, nothing dropped */
                encoded = true;
            }
            void *s = socks[e->sock];
            if (zmq_send(s, e->rid, e->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(s, p->out.data, p->out.len, ZMQ_DONTWAIT) < 0) {
                p->st.dropped++;
                keep = false;
            } else {
                p->st.pushes++;
                e->told = safe;
                keep = safe < e->want;
            }
        }
        if (keep) p->ent[kept++] = *e;
    }
    if (kept != p->nent) {
        p->nent = kept;
        rebuild(p);
    }
}

void ct_safe_push_clear(ct_safe_push *p)
{
    p->nent = 0;
    memset(p->hash, 0, (p->hmask + 1) * sizeof *p->hash);
}

ct_safe_push_stats ct_safe_push_get_stats(const ct_safe_push *p)
{
    ct_safe_push_stats s = p->st;
    s.waiting = p->nent;
    return s;
}
