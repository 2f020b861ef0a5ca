/* ct_testgen.c — see ct_testgen.h. Deterministic: the same seed and count
 * give byte-identical logs (receive times are synthetic, not the clock). */
#include "ct_testgen.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ct_buf.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_wire.h"

#define RING 64
#define LRING 256 /* accepted enrolls a life entry may name */

typedef struct {
    ct_program program;
    const ct_agent *agent;
    uint8_t person[CT_PERSON_LEN];
} ring_ent;

/* An accepted enroll: what a void or correction names. */
typedef struct {
    uint64_t seq;
    uint8_t id[CT_EVENT_ID_LEN];
    uint8_t person[CT_PERSON_LEN];
    ct_program program;
    uint32_t district;
} target_ent;

typedef struct {
    target_ent ring[LRING];
    size_t n, pos;
    uint8_t origin[CT_ORIGIN_LEN];
    uint64_t next; /* sequence of the next life entry's id */
} life_gen;

/* One life entry into *l (kinds by r): voids and corrections of recent
 * enrolls (some of them superseded since: the store refuses those), target
 * revisions, closes and reopens of the campaign's days. */
static void make_life(const ct_campaign *c, life_gen *g, uint64_t r, int64_t now, ct_life *l)
{
    memset(l, 0, sizeof *l);
    ct_event_id_make(l->id, g->origin, ++g->next);
    l->issued_ms = now;
    strcpy(l->campaign, c->id);
    strcpy(l->actor, "admin");
    snprintf(l->reason, sizeof l->reason, "testgen %u", (unsigned)(r % 97));
    unsigned k = (unsigned)(r % 20);
    uint32_t days = (uint32_t)((c->end_ms - c->start_ms) / 86400000);
    uint32_t day =
        ct_campaign_local_day(c, c->start_ms + (int64_t)((r >> 8) % (days ? days : 1)) * 86400000);
    const ct_agent *ag = &c->agents[(r >> 20) % c->n_agents];
    if (k < 12 && g->n) {
        const target_ent *t = &g->ring[(r >> 32) % g->n];
        l->kind = k < 6 ? CT_LIFE_VOID : CT_LIFE_CORRECT;
        l->district = t->district;
        l->program = t->program;
        memcpy(l->person, t->person, CT_PERSON_LEN);
        memcpy(l->target_id, t->id, CT_EVENT_ID_LEN);
        l->target_seq = t->seq;
        if (k >= 10) { /* to the other program */
            l->has_new_program = true;
            l->new_program =
                t->program == CT_PROGRAM_BHXH_TN ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        } else if (k >= 6) { /* to another staff member of the unit */
            for (size_t i = 0; i < c->n_agents; i++) {
                const ct_agent *a = &c->agents[(i + (r >> 40)) % c->n_agents];
                if (a->district == t->district) {
                    l->has_new_agent = true;
                    strcpy(l->new_agent, a->id);
                    break;
                }
            }
            if (!l->has_new_agent) {
                l->has_new_group = true; /* "" = no group */
            }
        }
    } else if (k < 14) {
        l->kind = CT_LIFE_TARGET;
        l->district = (r >> 44) % 3 == 0 ? 0 : ag->district;
        l->program = (ct_program)((r >> 50) & 1);
        l->target = 1 + (uint32_t)((r >> 12) % 400);
        l->effective_ms = c->start_ms + (int64_t)((r >> 16) % 864000000);
    } else {
        l->kind = k < 18 ? CT_LIFE_CLOSE : CT_LIFE_REOPEN;
        l->district = (r >> 44) % 4 == 0 ? 0 : ag->district;
        l->day = day;
    }
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void person_of(uint64_t seed, uint64_t p, uint8_t out[CT_PERSON_LEN])
{
    uint8_t in[16];
    memcpy(in, &seed, 8);
    memcpy(in + 8, &p, 8);
    crypto_generichash(out, CT_PERSON_LEN, in, sizeof in, NULL, 0);
}

ct_err ct_testgen_fill(ct_store *s, const ct_campaign *c, ct_testgen_opts *o)
{
    size_t batch = o->batch ? o->batch : 1000;
    size_t n_life_max = (size_t)((uint64_t)batch * o->life_per_mille / 1000) + 1;
    const char *collector = o->collector ? o->collector : "insecure";
    ct_event *evs = calloc(batch, sizeof *evs);
    ct_store_item *items = calloc(batch + n_life_max, sizeof *items);
    size_t *offs = calloc(batch + n_life_max + 1, sizeof *offs);
    ct_entry *lives = calloc(n_life_max, sizeof *lives);
    life_gen *lg = calloc(1, sizeof *lg);
    ct_buf raw = CT_BUF_INIT;
    ct_err err = (evs && items && offs && lives && lg) ? CT_OK : CT_ERR_NOMEM;
    uint64_t st = o->seed * 7919 + 1;
    uint8_t origin[CT_ORIGIN_LEN];
    for (int i = 0; i < CT_ORIGIN_LEN; i++)
        origin[i] = (uint8_t)rng(&st);
    if (lg) {
        memcpy(lg->origin, origin, CT_ORIGIN_LEN);
        lg->origin[0] ^= 0xff; /* the admin's origin */
    }
    uint64_t life_st = o->seed * 104729 + 7;
    uint64_t head = 0;
    uint8_t hh[32];
    if (!err) err = ct_store_head(s, &head, hh);
    uint64_t persons = o->events * 3 / 4 + 1;
    ring_ent ring[RING];
    size_t n_ring = 0, ring_pos = 0;
    int64_t span = c->end_ms - c->start_ms - 60000;
    for (uint64_t done = 0; !err && done < o->events;) {
        size_t n = (size_t)(o->events - done < batch ? o->events - done : batch);
        ct_buf_reset(&raw);
        for (size_t i = 0; i < n && !err; i++) {
            uint64_t k = head + done + i; /* global index, for times */
            ct_event *ev = &evs[i];
            memset(ev, 0, sizeof *ev);
            ct_event_id_make(ev->id, origin, head + done + i + 1);
            uint64_t tot = head + o->events;
            if (o->total_hint > tot) tot = o->total_hint;
            ev->occurred_ms = c->start_ms + (int64_t)((double)span * (double)k / (double)tot);
            strcpy(ev->campaign, c->id);
            const ct_agent *ag = &c->agents[rng(&st) % c->n_agents];
            ev->district = ag->district;
            strcpy(ev->agent, ag->id);
            uint64_t r = rng(&st);
            ev->program = (ct_program)(r & 1);
            ev->action = (r >> 1) % 10 == 0 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL;
            person_of(o->seed, (r >> 8) % persons, ev->person);
            if (ev->action == CT_ACTION_CANCEL && n_ring && (r >> 20) % 4 != 0) {
                /* cancel a recent enroll: same agent (CANCELLED unless already
                 * cancelled) or, one time in four, another district's agent */
                const ring_ent *re = &ring[(r >> 24) % n_ring];
                ev->program = re->program;
                memcpy(ev->person, re->person, CT_PERSON_LEN);
                if ((r >> 28) % 4 != 0) {
                    ag = re->agent;
                    ev->district = ag->district;
                    strcpy(ev->agent, ag->id);
                }
            }
            if (ev->action == CT_ACTION_ENROLL) {
                ring_ent *re = &ring[ring_pos++ % RING];
                if (n_ring < RING) n_ring++;
                re->program = ev->program;
                re->agent = ag;
                memcpy(re->person, ev->person, CT_PERSON_LEN);
                if ((r >> 5) % 3 == 0 && c->n_groups)
                    strcpy(ev->group, c->groups[(r >> 12) % c->n_groups].id);
                if ((r >> 7) % 2) {
                    ev->has_months = true;
                    ev->months = 12;
                    ev->has_amount = true;
                    ev->amount_vnd = 1188000;
                }
                const ct_district *dd = ct_campaign_district(c, ev->district);
                if (dd && dd->n_communes) { /* one of the unit's communes, or none */
                    size_t w = (size_t)((r >> 9) % (dd->n_communes + 1));
                    if (w < dd->n_communes) strcpy(ev->commune, dd->communes[w]);
                } else if ((r >> 9) % 4 == 0) {
                    strcpy(ev->commune, "Phường 1, \"Đà Lạt\"");
                }
            }
            offs[i] = raw.len;
            err = ct_event_encode(ev, &raw);
        }
        /* life entries after the events, naming enrolls of earlier batches */
        size_t n_life = 0;
        if (o->life_per_mille && done > 0)
            n_life = (size_t)((uint64_t)n * o->life_per_mille / 1000);
        int64_t now = evs[n - 1].occurred_ms + 1500;
        for (size_t j = 0; j < n_life && !err; j++) {
            lives[j].type = CT_ENTRY_LIFE;
            make_life(c, lg, rng(&life_st), now, &lives[j].u.life);
            offs[n + j] = raw.len;
            err = ct_life_encode(&lives[j].u.life, &raw);
        }
        offs[n + n_life] = raw.len;
        for (size_t i = 0; i < n && !err; i++) {
            ct_store_item *it = &items[i];
            memset(it, 0, sizeof *it);
            it->ev = &evs[i];
            it->raw = raw.data + offs[i];
            it->raw_len = offs[i + 1] - offs[i];
            it->collector = collector;
            it->received_ms = evs[i].occurred_ms + 1500;
            it->local_day = ct_campaign_local_day(c, evs[i].occurred_ms);
            it->commune = ct_campaign_commune_code(c, evs[i].district, evs[i].commune);
        }
        for (size_t j = 0; j < n_life && !err; j++) {
            ct_store_item *it = &items[n + j];
            memset(it, 0, sizeof *it);
            it->entry = &lives[j];
            it->raw = raw.data + offs[n + j];
            it->raw_len = offs[n + j + 1] - offs[n + j];
            it->collector = collector;
            it->received_ms = now;
        }
        if (!err) {
            ct_store_commit cm = {0};
            err = ct_store_apply_batch(s, items, n + n_life, &cm);
            for (size_t i = 0; i < n && !err; i++)
                if (items[i].status != CT_ACK_ACCEPTED) err = CT_ERR_INTERNAL;
            for (size_t j = 0; j < n_life && !err; j++) {
                const ct_store_item *it = &items[n + j];
                if (it->status == CT_ACK_ACCEPTED)
                    o->life_logged++;
                else if (it->status != CT_ACK_REJECTED || it->code == CT_ERR_UNKNOWN_EVENT)
                    err = CT_ERR_INTERNAL; /* a refusal by the rule is fine, nothing else */
            }
            for (size_t i = 0; i < n && !err && o->life_per_mille; i++) {
                if (evs[i].action != CT_ACTION_ENROLL) continue;
                target_ent *t = &lg->ring[lg->pos++ % LRING];
                if (lg->n < LRING) lg->n++;
                t->seq = items[i].seq;
                memcpy(t->id, evs[i].id, CT_EVENT_ID_LEN);
                memcpy(t->person, evs[i].person, CT_PERSON_LEN);
                t->program = evs[i].program;
                t->district = evs[i].district;
            }
        }
        done += n;
    }
    ct_buf_free(&raw);
    free(evs);
    free(items);
    free(offs);
    free(lives);
    free(lg);
    return err;
}

ct_err ct_testgen_make_store(const char *dir, const ct_campaign *c, ct_testgen_opts *o)
{
    ct_store *s = NULL;
    char err[256];
    ct_store_opts so = {.dir = dir, .campaign_id = c->id, .fingerprint = c->fingerprint};
    ct_err e = ct_store_open(&so, &s, err, sizeof err);
    if (e) return e;
    e = ct_store_set_campaign(s, c, err, sizeof err);
    if (e) {
        ct_store_close(s);
        return e;
    }
    e = ct_testgen_fill(s, c, o);
    ct_store_close(s);
    return e;
}
