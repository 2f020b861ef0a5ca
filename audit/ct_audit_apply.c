/* ct_audit_apply.c — the audit engine's work on one record (ct_audit_int.h):
 * the pure checks of stage 1 (chain, entry decode, campaign check,
 * fingerprints) and, in log order, the tally of the entry through
 * ct_tally_entry with a ctx over the engine's counters and person map.
 *
 * Invariants: a record is applied only after its chain, decoding, campaign
 * and target checks passed; an entry the rule refuses changes nothing (in a
 * walk from seq 1 it is a divergence: the aggregator never logs one); the
 * person map holds the states of both programs, as the store does.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ct_audit_int.h"
#include "ct_keys.h"
#include "ct_text.h"

static uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

uint64_t ct_audit_id_fp(const uint8_t id[CT_EVENT_ID_LEN], const uint8_t idhash[16])
{
    uint64_t a, b, c, d;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    memcpy(&c, idhash, 8);
    memcpy(&d, idhash + 8, 8);
    c ^= d * 0x94d049bb133111ebull;
    uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull);
    return mix(h) ^ c;
}

uint64_t ct_audit_target_fp(const uint8_t id[CT_EVENT_ID_LEN], const uint8_t person[CT_PERSON_LEN],
                            uint32_t district)
{
    /* the person hash is a BLAKE2b output: its words are already uniform */
    uint64_t a, b, p0, p1, p2, p3;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    memcpy(&p0, person, 8);
    memcpy(&p1, person + 8, 8);
    memcpy(&p2, person + 16, 8);
    memcpy(&p3, person + 24, 8);
    uint64_t h = mix(a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull));
    h = mix(h ^ p0 ^ (p1 * 0x94d049bb133111ebull));
    h = mix(h ^ p2 ^ (p3 * 0xbf58476d1ce4e5b9ull) ^ ((uint64_t)district << 17));
    return h ? h : 1;
}

/* The campaign check, through the thread's checker when it has one. */
static ct_err campaign_check(const ct_campaign *c, ct_campaign_checker *k, const ct_entry *e)
{
    if (e->type == CT_ENTRY_LIFE) return ct_campaign_check_life(c, &e->u.life);
    return k ? ct_campaign_checker_check(k, &e->u.ev, INT64_MAX)
             : ct_campaign_check_event(c, &e->u.ev, INT64_MAX);
}

void ct_audit_check_record(const ct_campaign *c, ct_campaign_checker *checker, ct_store *ids,
                           ct_audit_item *it, const uint8_t prev[CT_LOGREC_HASH_LEN])
{
    it->corrupt = false;
    if (it->raw &&
        (ct_logrec_decode(it->raw, it->raw_len, &it->rec) != CT_OK || it->rec.seq != it->key)) {
        it->corrupt = true;
        return;
    }
    it->chain = ct_logrec_check(&it->rec, prev);
    it->is_life = ct_entry_is_life(it->rec.event, it->rec.event_len) == 1;
    it->dec = ct_entry_decode(it->rec.event, it->rec.event_len, &it->ent, NULL);
    it->camp = it->dec ? CT_OK : campaign_check(c, checker, &it->ent);
    it->idfp = it->tfp = 0;
    it->has_pkey = false;
    if (it->dec) return;
    if (ids) {
        uint8_t h[16];
        crypto_generichash(h, sizeof h, it->rec.event, it->rec.event_len, NULL, 0);
        it->idfp = ct_audit_id_fp(ct_entry_id(&it->ent), h);
    }
    ct_tally_in_make(c, &it->ent, it->rec.seq, it->rec.received_ms, &it->in);
    if (it->ent.type == CT_ENTRY_EVENT) {
        const ct_event *ev = &it->ent.u.ev;
        if (ev->action == CT_ACTION_ENROLL)
            it->tfp = ct_audit_target_fp(ev->id, ev->person, ev->district);
        ct_person_key(ev->program, ev->person, it->pkey);
        it->has_pkey = true;
        return;
    }
    const ct_life *l = &it->ent.u.life;
    if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT) {
        ct_person_key(l->program, l->person, it->pkey);
        it->has_pkey = true;
    }
}

/* ---- the ctx over the engine's state ---- */

typedef struct {
    ct_audit *a;
    /* the last person looked up: its entry (NULL: absent) until a put of a
     * new key moves the entries */
    bool cached;
    uint8_t key[CT_PERSON_KEY_LEN];
    ct_pmap_entry *pe;
} ctx_st;

static ct_err ctx_count(void *arg, const ct_count_key *k, int64_t *value)
{
    ctx_st *s = arg;
    /* every counted enroll reads the closes of its day: none to find in a
     * log that never closed one */
    if (!s->a->any_close && ct_count_key_kind(k) == CT_COUNT_CLOSE)
        *value = 0;
    else
        *value = ct_counts_get(&s->a->counts, k);
    return CT_OK;
}

static ct_err ctx_person(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                         ct_person_state *st, bool *found)
{
    ctx_st *s = arg;
    ct_person_key(p, person, s->key);
    s->pe = ct_pmap_find(&s->a->persons, s->key);
    s->cached = true;
    *found = s->pe != NULL;
    if (s->pe) ct_pmap_entry_state(&s->a->persons, s->pe, st);
    return CT_OK;
}

static ct_err put_person(ctx_st *s, const ct_tally_person *tp)
{
    uint8_t key[CT_PERSON_KEY_LEN];
    ct_person_key(tp->program, tp->person, key);
    ct_pmap_entry *pe;
    if (s->cached && memcmp(key, s->key, sizeof key) == 0)
        pe = s->pe;
    else
        pe = ct_pmap_find(&s->a->persons, key);
    if (pe) return ct_pmap_entry_set(&s->a->persons, pe, &tp->state);
    s->cached = false; /* a new key may move the entries */
    return ct_pmap_put(&s->a->persons, key, &tp->state);
}

static ct_err grow(uint64_t **arr, size_t *cap, uint64_t ix)
{
    if (ix < *cap) return CT_OK;
    size_t nc = *cap ? *cap * 2 : 65536;
    while (nc <= ix)
        nc *= 2;
    uint64_t *n = realloc(*arr, nc * sizeof *n);
    if (!n) return CT_ERR_NOMEM;
    *arr = n;
    *cap = nc;
    return CT_OK;
}

/* A void or correction must name an enroll event the walk has seen, with
 * that id, person and unit (docs/PROTOCOL.md §2.2 "Checked against the
 * log"); before first_seq (a partial export) it cannot be checked. */
static bool target_ok(ct_audit *a, const ct_logrec *rec, const ct_life *l)
{
    const char *kind = ct_life_kind_name(l->kind);
    if (l->target_seq >= rec->seq) {
        ct_audit_diverge(a, rec->seq,
                         "seq %" PRIu64 ": %s names seq %" PRIu64
                         ", which is not before it (unknown_event)",
                         rec->seq, kind, l->target_seq);
        return false;
    }
    if (l->target_seq < a->first_seq) return true;
    uint64_t want = ct_audit_target_fp(l->target_id, l->person, l->district);
    if (a->tfp[l->target_seq - a->first_seq] == want) return true;
    char id[2 * CT_EVENT_ID_LEN + 1], ph[17];
    ct_event_id_hex(l->target_id, id);
    ct_text_hex(l->person, 8, ph);
    ct_audit_diverge(a, rec->seq,
                     "seq %" PRIu64 ": %s names seq %" PRIu64 ", which does not hold enroll event "
                     "%s of person %s... in unit %u (unknown_event)",
                     rec->seq, kind, l->target_seq, id, ph, (unsigned)l->district);
    return false;
}

static int fail(ct_audit *a, ct_err e)
{
    a->err = e;
    return 1;
}

int ct_audit_apply(ct_audit *a, ct_audit_item *it)
{
    const ct_logrec *rec = &it->rec;
    if (it->dec == CT_ERR_NOMEM) return fail(a, CT_ERR_NOMEM); /* the decoder's memory */
    const char *what = it->is_life ? "life entry" : "event";
    if (it->dec) {
        ct_audit_diverge(a, rec->seq, "seq %" PRIu64 ": %s does not decode (%s: %s)", rec->seq,
                         what, ct_err_name(it->dec), ct_err_str(it->dec));
        return 1;
    }
    if (it->camp) {
        ct_audit_diverge(a, rec->seq, "seq %" PRIu64 ": %s fails the campaign check (%s: %s)",
                         rec->seq, what, ct_err_name(it->camp), ct_err_str(it->camp));
        return 1;
    }
    uint64_t ix = rec->seq - a->first_seq;
    if (a->o.ids_store) {
        if (grow(&a->idfp, &a->idfp_cap, ix)) return fail(a, CT_ERR_NOMEM);
        a->idfp[ix] = it->idfp;
    }
    if (grow(&a->tfp, &a->tfp_cap, ix)) return fail(a, CT_ERR_NOMEM);
    a->tfp[ix] = it->tfp;
    const ct_life *life = it->ent.type == CT_ENTRY_LIFE ? &it->ent.u.life : NULL;
    if (life && (life->kind == CT_LIFE_VOID || life->kind == CT_LIFE_CORRECT) &&
        !target_ok(a, rec, life))
        return 1;
    ctx_st cs = {.a = a};
    ct_tally_ctx ctx = {.count = ctx_count, .person = ctx_person, .arg = &cs};
    ct_tally_entry_result res;
    ct_err e = ct_tally_entry(&ctx, &it->ent, &it->in, &res);
    if (e) return fail(a, e);
    bool applied = res.refused == CT_OK;
    if (!applied && a->first_seq <= 1) {
        ct_audit_diverge(a, rec->seq,
                         "seq %" PRIu64 ": %s refused by the tally rule (%s: %s); the aggregator "
                         "never logs a refused entry",
                         rec->seq, life ? ct_life_kind_name(life->kind) : "event",
                         ct_err_name(res.refused), ct_err_str(res.refused));
        return 1;
    }
    if (applied) {
        for (size_t i = 0; i < res.n; i++) {
            if ((e = ct_counts_add(&a->counts, &res.changes[i].key, res.changes[i].delta)))
                return fail(a, e);
            if (ct_count_key_kind(&res.changes[i].key) == CT_COUNT_CLOSE) a->any_close = true;
        }
        for (size_t i = 0; i < res.n_persons; i++)
            if ((e = put_person(&cs, &res.persons[i]))) return fail(a, e);
        if (life) a->n_life++;
    } else {
        a->n_unapplied++; /* a partial walk lacks the log the entry builds on */
    }
    memcpy(a->head, rec->hash, CT_LOGREC_HASH_LEN);
    a->last_seq = rec->seq;
    a->expect = rec->seq + 1;
    a->last_received_ms = rec->received_ms;
    a->n_records++;
    if (a->o.on_event && applied) {
        ct_audit_event ae = {.rec = rec,
                             .entry = &it->ent,
                             .ev = life ? NULL : &it->ent.u.ev,
                             .life = life,
                             .local_day = it->in.local_day,
                             .outcome = res.outcome,
                             .res = &res};
        ct_err rc = a->o.on_event(&ae, a->o.arg);
        if (rc && rc != CT_STOP) a->err = rc;
        if (rc) return 1;
    }
    return 0;
}
