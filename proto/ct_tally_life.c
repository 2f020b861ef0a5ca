/* ct_tally_life.c — the tally rule over log entries, tally version 3
 * (ct_tally_entry, see ct_tally.h and docs/PROTOCOL.md §5.3): enrollment
 * events through the table of §5 (ct_tally_apply) plus the lateness and
 * closed-day counters, and the six life entries (void, correct, target,
 * close, reopen, reorg).
 *
 * Invariants: ct_tally_entry reads the state before the entry only through
 * ctx and writes only *res; a refused entry has no changes and no person
 * states. Every DAY change goes through day_change(), which adds the same
 * delta to AFTER_CLOSE for each close in force on that day and unit, so for
 * a close at seq s: DAY - AFTER_CLOSE(.., s) = DAY at seq s - 1. A void or a
 * correction debits exactly the keys the crediting enroll credited (taken
 * from the person state), so per unit and program NET == sum(AGENT) ==
 * sum(DAY) and NET == GROSS - CANCELLED - sum(VOIDED) after any sequence.
 */
#include <assert.h>
#include <string.h>

#include "ct_be.h"
#include "ct_campaign.h"
#include "ct_life.h"
#include "ct_tally.h"

static void put(ct_tally_entry_result *res, ct_count_kind kind, ct_program p, uint32_t unit,
                const void *dim, size_t dim_len, int64_t delta)
{
    assert(res->n < CT_TALLY_MAX_CHANGES);
    ct_tally_change *c = &res->changes[res->n++];
    c->key = ct_count_key_make(kind, p, unit, dim, dim_len);
    c->delta = delta;
}

static ct_err get(const ct_tally_ctx *ctx, ct_count_kind kind, ct_program p, uint32_t unit,
                  const void *dim, size_t dim_len, int64_t *v)
{
    ct_count_key k = ct_count_key_make(kind, p, unit, dim, dim_len);
    *v = 0;
    return ctx->count(ctx->arg, &k, v);
}

/* The seqs of the closes in force for (unit, day): CLOSE(unit, day) and
 * CLOSE(0, day); 0 where none. */
static ct_err closes(const ct_tally_ctx *ctx, uint32_t unit, uint32_t day, int64_t s[2])
{
    uint8_t d[4];
    ct_be32_put(d, day);
    ct_err e = get(ctx, CT_COUNT_CLOSE, (ct_program)0, unit, d, 4, &s[0]);
    if (!e && unit != 0) e = get(ctx, CT_COUNT_CLOSE, (ct_program)0, 0, d, 4, &s[1]);
    if (unit == 0) s[1] = 0;
    return e;
}

/* DAY (p, unit, day) += delta, and the same to AFTER_CLOSE for each close in
 * force; s receives those closes (closes()). */
static ct_err day_change(const ct_tally_ctx *ctx, ct_tally_entry_result *res, ct_program p,
                         uint32_t unit, uint32_t day, int64_t delta, int64_t s[2])
{
    uint8_t d[12];
    ct_be32_put(d, day);
    put(res, CT_COUNT_DAY, p, unit, d, 4, delta);
    ct_err e = closes(ctx, unit, day, s);
    if (e) return e;
    for (int i = 0; i < 2; i++) {
        if (s[i] == 0) continue;
        ct_be64_put(d + 4, (uint64_t)s[i]);
        put(res, CT_COUNT_AFTER_CLOSE, p, unit, d, 12, delta);
    }
    return CT_OK;
}

uint8_t ct_tally_late_bucket(int64_t late_ms)
{
    static const int64_t upper[CT_LATE_BUCKETS - 1] = {
        15 * 60000LL,   60 * 60000LL,   6 * 3600000LL, 24 * 3600000LL,
        48 * 3600000LL, 72 * 3600000LL, 7 * 86400000LL};
    uint8_t b = 0;
    while (b < CT_LATE_BUCKETS - 1 && late_ms >= upper[b])
        b++;
    return b;
}

/* The credit of a sign-up (NET, GROSS when gross, AGENT, DAY + AFTER_CLOSE,
 * GROUP*, COMMUNE**) in program p, unit st->district, times sign. */
static ct_err credit(const ct_tally_ctx *ctx, ct_tally_entry_result *res, ct_program p,
                     const ct_person_state *st, bool gross, int64_t sign)
{
    const uint32_t u = st->district;
    size_t al = strnlen(st->agent, CT_AGENT_ID_MAX);
    size_t gl = strnlen(st->group, CT_GROUP_MAX);
    put(res, CT_COUNT_NET, p, u, NULL, 0, sign);
    if (gross) put(res, CT_COUNT_GROSS, p, u, NULL, 0, sign);
    put(res, CT_COUNT_AGENT, p, u, st->agent, al, sign);
    int64_t s[2];
    ct_err e = day_change(ctx, res, p, u, st->day, sign, s);
    if (e) return e;
    if (gl) put(res, CT_COUNT_GROUP, p, u, st->group, gl, sign);
    if (st->commune) {
        uint8_t c[2] = {(uint8_t)(st->commune >> 8), (uint8_t)st->commune};
        put(res, CT_COUNT_COMMUNE, p, u, c, 2, sign);
    }
    return CT_OK;
}

static void add_person(ct_tally_entry_result *res, ct_program p, const uint8_t h[CT_PERSON_LEN],
                       const ct_person_state *st)
{
    assert(res->n_persons < 2);
    ct_tally_person *tp = &res->persons[res->n_persons++];
    tp->program = p;
    memcpy(tp->person, h, CT_PERSON_LEN);
    tp->state = *st;
}

/* ---- enrollment events --------------------------------------------------- */

static ct_err tally_event(const ct_tally_ctx *ctx, const ct_event *ev, const ct_tally_in *in,
                          ct_tally_entry_result *res)
{
    ct_person_state prior, next;
    bool found = false;
    memset(&prior, 0, sizeof prior);
    ct_err e = ctx->person(ctx->arg, ev->program, ev->person, &prior, &found);
    if (e) return e;
    ct_tally_result r;
    ct_tally_apply(ev, in->local_day, in->commune, in->seq, found ? &prior : NULL, &next, &r);
    res->outcome = r.outcome;
    /* the §5 changes, each DAY one with its AFTER_CLOSE; a counted enroll has
     * one, of (p, d, local_day): its closes serve LATE_CLOSED below */
    int64_t s[2] = {0, 0};
    for (size_t i = 0; i < r.n; i++) {
        const ct_count_key *k = &r.changes[i].key;
        if (ct_count_key_kind(k) == CT_COUNT_DAY) {
            const uint8_t *d = ct_count_key_dim(k, NULL);
            e = day_change(ctx, res, ct_count_key_program(k), ct_count_key_district(k),
                           ct_be32_get(d), r.changes[i].delta, s);
            if (e) return e;
        } else {
            assert(res->n < CT_TALLY_MAX_CHANGES);
            res->changes[res->n++] = r.changes[i];
        }
    }
    if (r.state_changed) add_person(res, ev->program, ev->person, &next);
    if (r.outcome != CT_TALLY_COUNTED) return CT_OK;

    /* arrival of a counted enroll */
    const ct_program p = ev->program;
    const uint32_t u = ev->district, day = in->local_day;
    int64_t late = in->received_ms - ev->occurred_ms;
    if (late < 0) late = 0;
    uint8_t b = ct_tally_late_bucket(late);
    put(res, CT_COUNT_LATE_HIST, p, u, &b, 1, 1);
    int64_t old_max;
    if ((e = get(ctx, CT_COUNT_LATE_MAX, p, u, NULL, 0, &old_max))) return e;
    if (late / 1000 > old_max) put(res, CT_COUNT_LATE_MAX, p, u, NULL, 0, late / 1000 - old_max);
    uint8_t d[4];
    ct_be32_put(d, in->recv_day);
    put(res, CT_COUNT_RECV_DAY, p, u, d, 4, 1);
    ct_be32_put(d, day);
    if (in->recv_day > day) put(res, CT_COUNT_AFTER_DAY, p, u, d, 4, 1);
    if (s[0] || s[1]) put(res, CT_COUNT_LATE_CLOSED, p, u, d, 4, 1);
    return CT_OK;
}

/* ---- void and correct ---------------------------------------------------- */

/* Refusals common to void and correct: S must be current for (q, d). */
static ct_err check_current(const ct_life *l, const ct_person_state *st, bool found)
{
    if (!found || st->seq != l->target_seq || st->district != l->district)
        return CT_ERR_NOT_CURRENT;
    if (st->voided) return l->kind == CT_LIFE_VOID ? CT_ERR_ALREADY_VOIDED : CT_ERR_NOT_CURRENT;
    if (st->moved) return CT_ERR_NOT_CURRENT;
    return CT_OK;
}

static ct_err tally_void(const ct_tally_ctx *ctx, const ct_life *l, ct_person_state *st,
                         ct_tally_entry_result *res)
{
    const ct_program p = l->program;
    const uint32_t u = l->district;
    ct_err e;
    if (st->enrolled) {
        if ((e = credit(ctx, res, p, st, false, -1))) return e;
    } else {
        put(res, CT_COUNT_CANCELLED, p, u, NULL, 0, -1);
    }
    put(res, CT_COUNT_VOIDED, p, u, st->agent, strnlen(st->agent, CT_AGENT_ID_MAX), 1);
    st->enrolled = false;
    st->voided = true;
    add_person(res, p, l->person, st);
    res->outcome = CT_TALLY_VOIDED;
    return CT_OK;
}

static void swap_key(ct_tally_entry_result *res, ct_count_kind kind, ct_program p, uint32_t u,
                     const void *old, size_t old_len, const void *nw, size_t new_len)
{
    if (old_len) put(res, kind, p, u, old, old_len, -1);
    if (new_len) put(res, kind, p, u, nw, new_len, 1);
}

static ct_err tally_correct(const ct_tally_ctx *ctx, const ct_life *l, const ct_tally_in *in,
                            ct_person_state *st, ct_tally_entry_result *res)
{
    const ct_program p = l->program;
    const uint32_t u = l->district;
    if (!st->enrolled) return CT_ERR_NOT_CURRENT;
    ct_person_state nw = *st;
    if (l->has_new_agent) {
        memset(nw.agent, 0, sizeof nw.agent);
        memcpy(nw.agent, l->new_agent, strnlen(l->new_agent, CT_AGENT_ID_MAX));
    }
    if (l->has_new_group) {
        memset(nw.group, 0, sizeof nw.group);
        memcpy(nw.group, l->new_group, strnlen(l->new_group, CT_GROUP_MAX));
    }
    if (l->has_new_commune) nw.commune = in->commune;
    const ct_program np = l->has_new_program ? l->new_program : p;
    const size_t oal = strnlen(st->agent, CT_AGENT_ID_MAX),
                 nal = strnlen(nw.agent, CT_AGENT_ID_MAX);
    const size_t ogl = strnlen(st->group, CT_GROUP_MAX), ngl = strnlen(nw.group, CT_GROUP_MAX);
    const bool agent_same = oal == nal && memcmp(st->agent, nw.agent, oal) == 0;
    const bool group_same = ogl == ngl && memcmp(st->group, nw.group, ogl) == 0;
    const bool commune_same = st->commune == nw.commune;
    ct_err e;
    if (np == p) {
        if (agent_same && group_same && commune_same) return CT_ERR_BAD_VALUE;
        if (!agent_same) swap_key(res, CT_COUNT_AGENT, p, u, st->agent, oal, nw.agent, nal);
        if (!group_same) swap_key(res, CT_COUNT_GROUP, p, u, st->group, ogl, nw.group, ngl);
        if (!commune_same) {
            uint8_t oc[2] = {(uint8_t)(st->commune >> 8), (uint8_t)st->commune};
            uint8_t nc[2] = {(uint8_t)(nw.commune >> 8), (uint8_t)nw.commune};
            swap_key(res, CT_COUNT_COMMUNE, p, u, oc, st->commune ? 2 : 0, nc, nw.commune ? 2 : 0);
        }
        put(res, CT_COUNT_CORRECTED, p, u, NULL, 0, 1);
        add_person(res, p, l->person, &nw);
        res->outcome = CT_TALLY_CORRECTED;
        return CT_OK;
    }
    /* a move to the other program */
    ct_person_state other;
    bool found = false;
    memset(&other, 0, sizeof other);
    if ((e = ctx->person(ctx->arg, np, l->person, &other, &found))) return e;
    if (found && other.enrolled) return CT_ERR_CORRECT_CONFLICT;
    if ((e = credit(ctx, res, p, st, true, -1))) return e;
    if ((e = credit(ctx, res, np, &nw, true, 1))) return e;
    put(res, CT_COUNT_CORRECTED, np, u, NULL, 0, 1);
    st->enrolled = false;
    st->moved = true;
    add_person(res, p, l->person, st);
    nw.enrolled = true;
    nw.voided = false;
    nw.moved = false;
    add_person(res, np, l->person, &nw);
    res->outcome = CT_TALLY_CORRECTED;
    return CT_OK;
}

static ct_err tally_signup(const ct_tally_ctx *ctx, const ct_life *l, const ct_tally_in *in,
                           ct_tally_entry_result *res)
{
    ct_person_state st;
    bool found = false;
    memset(&st, 0, sizeof st);
    ct_err e = ctx->person(ctx->arg, l->program, l->person, &st, &found);
    if (e) return e;
    if ((e = check_current(l, &st, found))) {
        res->refused = e;
        return CT_OK;
    }
    e = l->kind == CT_LIFE_VOID ? tally_void(ctx, l, &st, res)
                                : tally_correct(ctx, l, in, &st, res);
    if (e == CT_ERR_NOT_CURRENT || e == CT_ERR_BAD_VALUE || e == CT_ERR_CORRECT_CONFLICT) {
        res->refused = e;
        return CT_OK;
    }
    return e;
}

/* ---- target, close, reopen, reorg ---------------------------------------- */

static ct_err tally_admin(const ct_tally_ctx *ctx, const ct_life *l, const ct_tally_in *in,
                          ct_tally_entry_result *res)
{
    ct_err e;
    int64_t v;
    uint8_t d[16];
    switch (l->kind) {
    case CT_LIFE_TARGET:
        ct_be64_put(d, (uint64_t)l->effective_ms);
        ct_be64_put(d + 8, in->seq);
        put(res, CT_COUNT_TARGET, l->program, l->district, d, 16, l->target);
        res->outcome = CT_TALLY_TARGET_SET;
        return CT_OK;
    case CT_LIFE_CLOSE:
    case CT_LIFE_REOPEN:
        ct_be32_put(d, l->day);
        if ((e = get(ctx, CT_COUNT_CLOSE, (ct_program)0, l->district, d, 4, &v))) return e;
        if (l->kind == CT_LIFE_CLOSE) {
            if (v != 0) {
                res->refused = CT_ERR_ALREADY_CLOSED;
                return CT_OK;
            }
            put(res, CT_COUNT_CLOSE, (ct_program)0, l->district, d, 4, (int64_t)in->seq);
            res->outcome = CT_TALLY_CLOSED;
        } else {
            if (v == 0) {
                res->refused = CT_ERR_NOT_CLOSED;
                return CT_OK;
            }
            put(res, CT_COUNT_CLOSE, (ct_program)0, l->district, d, 4, -v);
            res->outcome = CT_TALLY_REOPENED;
        }
        return CT_OK;
    case CT_LIFE_REORG: {
        size_t nl = strnlen(l->reorg, CT_REORG_NAME_MAX);
        if (l->effective_ms < 1) {
            res->refused = CT_ERR_BAD_VALUE;
            return CT_OK;
        }
        if ((e = get(ctx, CT_COUNT_REORG, (ct_program)0, 0, l->reorg, nl, &v))) return e;
        if (v != 0) {
            res->refused = CT_ERR_ALREADY_APPLIED;
            return CT_OK;
        }
        put(res, CT_COUNT_REORG, (ct_program)0, 0, l->reorg, nl, l->effective_ms);
        res->outcome = CT_TALLY_REORG_SET;
        return CT_OK;
    }
    default:
        return CT_ERR_ARG;
    }
}

/* ---- the rule ------------------------------------------------------------ */

void ct_tally_in_make(const ct_campaign *c, const struct ct_entry *e, uint64_t seq,
                      int64_t received_ms, ct_tally_in *in)
{
    memset(in, 0, sizeof *in);
    in->seq = seq;
    in->received_ms = received_ms;
    in->recv_day = ct_campaign_local_day(c, received_ms);
    if (e->type == CT_ENTRY_EVENT) {
        in->local_day = ct_campaign_local_day(c, e->u.ev.occurred_ms);
        in->commune = ct_campaign_commune_code(c, e->u.ev.district, e->u.ev.commune);
    } else if (e->u.life.kind == CT_LIFE_CORRECT && e->u.life.has_new_commune) {
        in->commune = ct_campaign_commune_code(c, e->u.life.district, e->u.life.new_commune);
    }
}

ct_err ct_tally_entry(const ct_tally_ctx *ctx, const struct ct_entry *e, const ct_tally_in *in,
                      ct_tally_entry_result *res)
{
    if (!res) return CT_ERR_ARG;
    memset(res, 0, sizeof *res);
    if (!ctx || !ctx->count || !ctx->person || !e || !in) return CT_ERR_ARG;
    ct_err err;
    if (e->type == CT_ENTRY_EVENT) {
        err = tally_event(ctx, &e->u.ev, in, res);
    } else {
        const ct_life *l = &e->u.life;
        /* the kind's outcome, also when refused */
        res->outcome = (ct_tally_outcome)(CT_TALLY_VOIDED + (int)l->kind - CT_LIFE_VOID);
        if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT)
            err = tally_signup(ctx, l, in, res);
        else
            err = tally_admin(ctx, l, in, res);
        if (!err && !res->refused) {
            uint8_t d[8];
            ct_be64_put(d, in->seq);
            put(res, CT_COUNT_LIFE, (ct_program)0, l->kind == CT_LIFE_REORG ? 0 : l->district, d, 8,
                (int64_t)l->kind);
        }
    }
    if (err || res->refused) {
        ct_err refused = err ? CT_OK : res->refused;
        ct_tally_outcome o = res->outcome;
        memset(res, 0, sizeof *res);
        res->refused = refused;
        res->outcome = o;
    }
    return err;
}
