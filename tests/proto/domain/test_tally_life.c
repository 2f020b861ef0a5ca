/* test_tally_life.c — the tally rule over log entries (ct_tally_entry,
 * docs/PROTOCOL.md §5.3): hand-computed cases for every life entry kind,
 * the lateness and closed-day counters of enrollment events, and a seeded
 * random sequence of events and life entries checked against the invariants
 * NET == GROSS - CANCELLED - sum(VOIDED) and NET == sum(AGENT) == sum(DAY)
 * per unit and program, through a small in-memory ctx (a ct_counts and a
 * table of person states) that applies exactly what each result says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_counts.h"
#include "ct_life.h"
#include "ct_tally.h"
#include "ct_time.h"

#define T0 INT64_C(1689987600000) /* 2023-07-22T08:00:00+07:00 */
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)
#define D1 20230722u
#define D2 20230723u

/* ---- the in-memory world -------------------------------------------------- */

#define MAX_PERSONS 512

typedef struct {
    ct_program p;
    uint8_t h[CT_PERSON_LEN];
    ct_person_state st;
} person_row;

typedef struct {
    ct_counts counts;
    person_row persons[MAX_PERSONS];
    size_t n_persons;
    uint64_t seq; /* last seq given */
} world;

static ct_err w_count(void *arg, const ct_count_key *k, int64_t *v)
{
    *v = ct_counts_get(&((world *)arg)->counts, k);
    return CT_OK;
}

static person_row *w_find(world *w, ct_program p, const uint8_t h[CT_PERSON_LEN])
{
    for (size_t i = 0; i < w->n_persons; i++)
        if (w->persons[i].p == p && memcmp(w->persons[i].h, h, CT_PERSON_LEN) == 0)
            return &w->persons[i];
    return NULL;
}

static ct_err w_person(void *arg, ct_program p, const uint8_t h[CT_PERSON_LEN], ct_person_state *st,
                       bool *found)
{
    person_row *r = w_find(arg, p, h);
    *found = r != NULL;
    if (r) *st = r->st;
    return CT_OK;
}

static void w_init(world *w)
{
    memset(w, 0, sizeof *w);
    ct_counts_init(&w->counts);
}

static void w_free(world *w)
{
    ct_counts_free(&w->counts);
}

/* Applies one entry at the next seq (a refused one gets none). */
static ct_tally_entry_result w_apply(world *w, const ct_entry *e, int64_t received_ms,
                                     uint16_t commune)
{
    ct_tally_ctx ctx = {w_count, w_person, w};
    ct_tally_in in;
    memset(&in, 0, sizeof in);
    in.seq = w->seq + 1;
    in.received_ms = received_ms;
    in.recv_day = ct_time_yyyymmdd(received_ms, 7 * 60);
    in.commune = commune;
    if (e->type == CT_ENTRY_EVENT) in.local_day = ct_time_yyyymmdd(e->u.ev.occurred_ms, 7 * 60);
    ct_tally_entry_result r;
    assert_int_equal(ct_tally_entry(&ctx, e, &in, &r), CT_OK);
    if (e->type == CT_ENTRY_EVENT) { /* its kinds 1..9 are exactly ct_tally_apply's */
        person_row *row = w_find(w, e->u.ev.program, e->u.ev.person);
        ct_person_state next;
        ct_tally_result v2;
        ct_tally_apply(&e->u.ev, in.local_day, commune, in.seq, row ? &row->st : NULL, &next, &v2);
        size_t j = 0;
        for (size_t i = 0; i < r.n; i++) {
            if (ct_count_key_kind(&r.changes[i].key) > CT_COUNT_COMMUNE) continue;
            assert_true(j < v2.n);
            assert_int_equal(ct_count_key_cmp(&r.changes[i].key, &v2.changes[j].key), 0);
            assert_int_equal(r.changes[i].delta, v2.changes[j].delta);
            j++;
        }
        assert_int_equal(j, v2.n);
        assert_int_equal(r.outcome, v2.outcome);
        assert_int_equal(r.n_persons, v2.state_changed ? 1 : 0);
    }
    if (r.refused) {
        assert_int_equal(r.n, 0);
        assert_int_equal(r.n_persons, 0);
        return r;
    }
    w->seq++;
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(ct_counts_add(&w->counts, &r.changes[i].key, r.changes[i].delta), CT_OK);
    for (size_t i = 0; i < r.n_persons; i++) {
        /* every state stored must encode (flags never combined) */
        uint8_t b[CT_PERSON_STATE_MAX];
        size_t bl;
        ct_person_state back;
        assert_int_equal(ct_person_state_encode(&r.persons[i].state, b, &bl), CT_OK);
        assert_int_equal(ct_person_state_decode(b, bl, &back), CT_OK);
        person_row *row = w_find(w, r.persons[i].program, r.persons[i].person);
        if (!row) {
            assert_true(w->n_persons < MAX_PERSONS);
            row = &w->persons[w->n_persons++];
            row->p = r.persons[i].program;
            memcpy(row->h, r.persons[i].person, CT_PERSON_LEN);
        }
        row->st = r.persons[i].state;
    }
    return r;
}

static int64_t get(world *w, ct_count_key k)
{
    return ct_counts_get(&w->counts, &k);
}

/* ---- keys and entries ------------------------------------------------------ */

static ct_count_key K(ct_count_kind kind, ct_program p, uint32_t d, const char *dim)
{
    return ct_count_key_make(kind, p, d, dim, dim ? strlen(dim) : 0);
}

static ct_count_key KD(ct_count_kind kind, ct_program p, uint32_t d, uint32_t day)
{
    uint8_t b[4] = {(uint8_t)(day >> 24), (uint8_t)(day >> 16), (uint8_t)(day >> 8), (uint8_t)day};
    return ct_count_key_make(kind, p, d, b, 4);
}

static void be64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static ct_count_key KAC(ct_program p, uint32_t d, uint32_t day, uint64_t s)
{
    uint8_t b[12] = {(uint8_t)(day >> 24), (uint8_t)(day >> 16), (uint8_t)(day >> 8), (uint8_t)day};
    be64(b + 4, s);
    return ct_count_key_make(CT_COUNT_AFTER_CLOSE, p, d, b, 12);
}

static ct_count_key KLIFE(uint32_t d, uint64_t s)
{
    uint8_t b[8];
    be64(b, s);
    return ct_count_key_make(CT_COUNT_LIFE, CT_PROGRAM_BHXH_TN, d, b, 8);
}

static ct_count_key KHIST(ct_program p, uint32_t d, uint8_t bucket)
{
    return ct_count_key_make(CT_COUNT_LATE_HIST, p, d, &bucket, 1);
}

static ct_entry ev(ct_action a, ct_program p, uint32_t d, const char *agent, int person,
                   const char *group, int64_t t)
{
    ct_entry e;
    memset(&e, 0, sizeof e);
    e.type = CT_ENTRY_EVENT;
    e.u.ev.occurred_ms = t;
    strcpy(e.u.ev.campaign, "lamdong-2023");
    e.u.ev.district = d;
    strcpy(e.u.ev.agent, agent);
    e.u.ev.program = p;
    e.u.ev.action = a;
    e.u.ev.person[0] = (uint8_t)person;
    e.u.ev.person[1] = (uint8_t)(person >> 8);
    if (group) strcpy(e.u.ev.group, group);
    return e;
}

static ct_entry life(ct_life_kind k)
{
    ct_entry e;
    memset(&e, 0, sizeof e);
    e.type = CT_ENTRY_LIFE;
    e.u.life.kind = k;
    e.u.life.issued_ms = T0 + DAY_MS;
    strcpy(e.u.life.campaign, "lamdong-2023");
    strcpy(e.u.life.actor, "admin");
    strcpy(e.u.life.reason, "test");
    return e;
}

static ct_entry signup(ct_life_kind k, ct_program p, uint32_t d, int person, uint64_t q)
{
    ct_entry e = life(k);
    e.u.life.program = p;
    e.u.life.district = d;
    e.u.life.person[0] = (uint8_t)person;
    e.u.life.person[1] = (uint8_t)(person >> 8);
    e.u.life.target_seq = q;
    return e;
}

static ct_entry day_entry(ct_life_kind k, uint32_t d, uint32_t day)
{
    ct_entry e = life(k);
    e.u.life.district = d;
    e.u.life.day = day;
    return e;
}

static const uint8_t *person_of(int person)
{
    static uint8_t h[CT_PERSON_LEN];
    memset(h, 0, sizeof h);
    h[0] = (uint8_t)person;
    h[1] = (uint8_t)(person >> 8);
    return h;
}

static const ct_person_state *state_of(world *w, ct_program p, int person)
{
    person_row *r = w_find(w, p, person_of(person));
    assert_non_null(r);
    return &r->st;
}

#define TN CT_PROGRAM_BHXH_TN
#define HGD CT_PROGRAM_BHYT_HGD

/* NET, GROSS, CANCELLED and sum(VOIDED) of (p, d), and the invariants. */
static void check_invariants(world *w, ct_program p, uint32_t d)
{
    int64_t net = ct_counts_sum(&w->counts, CT_COUNT_NET, p, d);
    int64_t gross = ct_counts_sum(&w->counts, CT_COUNT_GROSS, p, d);
    int64_t canc = ct_counts_sum(&w->counts, CT_COUNT_CANCELLED, p, d);
    int64_t voided = ct_counts_sum(&w->counts, CT_COUNT_VOIDED, p, d);
    assert_int_equal(net, gross - canc - voided);
    assert_int_equal(net, ct_counts_sum(&w->counts, CT_COUNT_AGENT, p, d));
    assert_int_equal(net, ct_counts_sum(&w->counts, CT_COUNT_DAY, p, d));
    assert_true(net >= ct_counts_sum(&w->counts, CT_COUNT_COMMUNE, p, d));
}

/* ---- hand-computed cases ---------------------------------------------------- */

static void test_enroll_arrival(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    /* day D1, received 20 min later: bucket 1, LATE_MAX 1200 s, RECV_DAY D1 */
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    ct_tally_entry_result r = w_apply(&w, &e, T0 + 20 * MIN_MS, 0);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_int_equal(get(&w, KHIST(TN, 672, 1)), 1);
    assert_int_equal(get(&w, K(CT_COUNT_LATE_MAX, TN, 672, NULL)), 1200);
    assert_int_equal(get(&w, KD(CT_COUNT_RECV_DAY, TN, 672, D1)), 1);
    assert_int_equal(get(&w, KD(CT_COUNT_AFTER_DAY, TN, 672, D1)), 0);
    assert_int_equal(get(&w, KD(CT_COUNT_LATE_CLOSED, TN, 672, D1)), 0);
    /* 50 h late: bucket 5, LATE_MAX raised to 180000 (change 178800), after its day */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 2, NULL, T0);
    r = w_apply(&w, &e, T0 + 50 * HOUR_MS, 0);
    assert_int_equal(get(&w, KHIST(TN, 672, 5)), 1);
    ct_count_key lm = K(CT_COUNT_LATE_MAX, TN, 672, NULL);
    int64_t dmax = 0;
    for (size_t i = 0; i < r.n; i++)
        if (ct_count_key_cmp(&r.changes[i].key, &lm) == 0) dmax = r.changes[i].delta;
    assert_int_equal(dmax, 178800);
    assert_int_equal(get(&w, lm), 180000);
    assert_int_equal(get(&w, KD(CT_COUNT_RECV_DAY, TN, 672, 20230724)), 1);
    assert_int_equal(get(&w, KD(CT_COUNT_AFTER_DAY, TN, 672, D1)), 1);
    /* less late: no LATE_MAX change at all; received before it happened: bucket 0 */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 3, NULL, T0);
    r = w_apply(&w, &e, T0 - 5000, 0);
    for (size_t i = 0; i < r.n; i++)
        assert_true(ct_count_key_kind(&r.changes[i].key) != CT_COUNT_LATE_MAX);
    assert_int_equal(get(&w, KHIST(TN, 672, 0)), 1);
    assert_int_equal(get(&w, lm), 180000);
    /* a repeat adds none of them */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 3, NULL, T0);
    r = w_apply(&w, &e, T0 + 30 * DAY_MS, 0);
    assert_int_equal(r.outcome, CT_TALLY_REPEAT);
    assert_int_equal(r.n, 1);
    assert_int_equal(get(&w, KHIST(TN, 672, 7)), 0);
    check_invariants(&w, TN, 672);
    w_free(&w);
}

static void test_late_buckets(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        uint8_t b;
    } cases[] = {{INT64_MIN, 0},
                 {-1, 0},
                 {0, 0},
                 {15 * MIN_MS - 1, 0},
                 {15 * MIN_MS, 1},
                 {HOUR_MS - 1, 1},
                 {HOUR_MS, 2},
                 {6 * HOUR_MS - 1, 2},
                 {6 * HOUR_MS, 3},
                 {24 * HOUR_MS - 1, 3},
                 {24 * HOUR_MS, 4},
                 {48 * HOUR_MS - 1, 4},
                 {48 * HOUR_MS, 5},
                 {72 * HOUR_MS - 1, 5},
                 {72 * HOUR_MS, 6},
                 {7 * DAY_MS - 1, 6},
                 {7 * DAY_MS, 7},
                 {INT64_MAX, 7}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ct_tally_late_bucket(cases[i].ms), cases[i].b);
}

static void test_correct_moves_staff(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, "nq143", T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    ct_entry c = signup(CT_LIFE_CORRECT, TN, 672, 1, 1);
    c.u.life.has_new_agent = true;
    strcpy(c.u.life.new_agent, "A2");
    ct_tally_entry_result r = w_apply(&w, &c, T0 + DAY_MS, 0); /* seq 2 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(r.outcome, CT_TALLY_CORRECTED);
    assert_int_equal(r.n, 4); /* AGENT -1, AGENT +1, CORRECTED, LIFE */
    assert_int_equal(get(&w, K(CT_COUNT_AGENT, TN, 672, "A1")), 0);
    assert_int_equal(get(&w, K(CT_COUNT_AGENT, TN, 672, "A2")), 1);
    assert_int_equal(get(&w, K(CT_COUNT_NET, TN, 672, NULL)), 1);
    assert_int_equal(get(&w, K(CT_COUNT_GROSS, TN, 672, NULL)), 1);
    assert_int_equal(get(&w, K(CT_COUNT_CORRECTED, TN, 672, NULL)), 1);
    assert_int_equal(get(&w, KLIFE(672, 2)), CT_LIFE_CORRECT);
    const ct_person_state *s = state_of(&w, TN, 1);
    assert_string_equal(s->agent, "A2");
    assert_string_equal(s->group, "nq143");
    assert_true(s->enrolled);
    assert_int_equal(s->seq, 1);
    /* the same values again: bad_value, nothing changes */
    r = w_apply(&w, &c, T0 + DAY_MS, 0);
    assert_int_equal(r.refused, CT_ERR_BAD_VALUE);
    assert_int_equal(w.seq, 2);
    /* group to none and a commune code: GROUP -1, COMMUNE +1 */
    ct_entry g = signup(CT_LIFE_CORRECT, TN, 672, 1, 1);
    g.u.life.has_new_group = true;
    g.u.life.has_new_commune = true;
    strcpy(g.u.life.new_commune, "Phường 1");
    r = w_apply(&w, &g, T0 + DAY_MS, 3);
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(get(&w, K(CT_COUNT_GROUP, TN, 672, "nq143")), 0);
    uint8_t c3[2] = {0, 3};
    assert_int_equal(get(&w, ct_count_key_make(CT_COUNT_COMMUNE, TN, 672, c3, 2)), 1);
    assert_int_equal(state_of(&w, TN, 1)->commune, 3);
    assert_int_equal(get(&w, K(CT_COUNT_CORRECTED, TN, 672, NULL)), 2);
    check_invariants(&w, TN, 672);
    w_free(&w);
}

static void test_correct_moves_program(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, "nq143", T0);
    w_apply(&w, &e, T0, 2); /* seq 1, commune code 2 */
    ct_entry c = signup(CT_LIFE_CORRECT, TN, 672, 1, 1);
    c.u.life.has_new_program = true;
    c.u.life.new_program = HGD;
    ct_tally_entry_result r = w_apply(&w, &c, T0 + DAY_MS, 0); /* seq 2 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(r.n, 14); /* 6 out, 6 in, CORRECTED, LIFE */
    assert_int_equal(r.n_persons, 2);
    uint8_t c2[2] = {0, 2};
    for (int p = 0; p < 2; p++) {
        int64_t want = p == HGD ? 1 : 0;
        assert_int_equal(get(&w, K(CT_COUNT_NET, (ct_program)p, 672, NULL)), want);
        assert_int_equal(get(&w, K(CT_COUNT_GROSS, (ct_program)p, 672, NULL)), want);
        assert_int_equal(get(&w, K(CT_COUNT_AGENT, (ct_program)p, 672, "A1")), want);
        assert_int_equal(get(&w, KD(CT_COUNT_DAY, (ct_program)p, 672, D1)), want);
        assert_int_equal(get(&w, K(CT_COUNT_GROUP, (ct_program)p, 672, "nq143")), want);
        assert_int_equal(get(&w, ct_count_key_make(CT_COUNT_COMMUNE, (ct_program)p, 672, c2, 2)),
                         want);
        assert_int_equal(get(&w, K(CT_COUNT_CORRECTED, (ct_program)p, 672, NULL)), want);
        check_invariants(&w, (ct_program)p, 672);
    }
    const ct_person_state *s = state_of(&w, TN, 1);
    assert_false(s->enrolled);
    assert_true(s->moved);
    assert_false(s->voided);
    s = state_of(&w, HGD, 1);
    assert_true(s->enrolled);
    assert_false(s->moved);
    assert_int_equal(s->seq, 1);
    assert_int_equal(s->day, D1);
    assert_int_equal(s->district, 672);
    assert_int_equal(s->commune, 2);
    /* the old program's state is not current any more */
    ct_entry v = signup(CT_LIFE_VOID, TN, 672, 1, 1);
    r = w_apply(&w, &v, T0 + DAY_MS, 0);
    assert_int_equal(r.refused, CT_ERR_NOT_CURRENT);
    r = w_apply(&w, &c, T0 + DAY_MS, 0);
    assert_int_equal(r.refused, CT_ERR_NOT_CURRENT);
    /* the new one is: void it */
    v = signup(CT_LIFE_VOID, HGD, 672, 1, 1);
    r = w_apply(&w, &v, T0 + DAY_MS, 0);
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(get(&w, K(CT_COUNT_NET, HGD, 672, NULL)), 0);
    assert_int_equal(get(&w, K(CT_COUNT_VOIDED, HGD, 672, "A1")), 1);
    check_invariants(&w, HGD, 672);
    check_invariants(&w, TN, 672);
    w_free(&w);
}

static void test_correct_conflict(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    e = ev(CT_ACTION_ENROLL, HGD, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 2 */
    ct_entry c = signup(CT_LIFE_CORRECT, TN, 672, 1, 1);
    c.u.life.has_new_program = true;
    c.u.life.new_program = HGD;
    ct_tally_entry_result r = w_apply(&w, &c, T0, 0);
    assert_int_equal(r.refused, CT_ERR_CORRECT_CONFLICT);
    assert_int_equal(r.outcome, CT_TALLY_CORRECTED);
    /* once the other program's sign-up is cancelled, the move applies */
    e = ev(CT_ACTION_CANCEL, HGD, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 3 */
    r = w_apply(&w, &c, T0, 0);
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(get(&w, K(CT_COUNT_NET, HGD, 672, NULL)), 1);
    assert_int_equal(get(&w, K(CT_COUNT_GROSS, HGD, 672, NULL)), 2);
    assert_int_equal(get(&w, K(CT_COUNT_CANCELLED, HGD, 672, NULL)), 1);
    check_invariants(&w, HGD, 672);
    check_invariants(&w, TN, 672);
    w_free(&w);
}

static void test_void_enrolled_and_after(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, "nq143", T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    ct_entry v = signup(CT_LIFE_VOID, TN, 672, 1, 1);
    ct_tally_entry_result r = w_apply(&w, &v, T0, 0); /* seq 2 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(r.outcome, CT_TALLY_VOIDED);
    assert_int_equal(r.n, 6); /* NET AGENT DAY GROUP -1, VOIDED +1, LIFE */
    assert_int_equal(get(&w, K(CT_COUNT_NET, TN, 672, NULL)), 0);
    assert_int_equal(get(&w, K(CT_COUNT_GROSS, TN, 672, NULL)), 1);
    assert_int_equal(get(&w, K(CT_COUNT_AGENT, TN, 672, "A1")), 0);
    assert_int_equal(get(&w, KD(CT_COUNT_DAY, TN, 672, D1)), 0);
    assert_int_equal(get(&w, K(CT_COUNT_GROUP, TN, 672, "nq143")), 0);
    assert_int_equal(get(&w, K(CT_COUNT_VOIDED, TN, 672, "A1")), 1);
    assert_int_equal(get(&w, K(CT_COUNT_CANCELLED, TN, 672, NULL)), 0);
    assert_int_equal(get(&w, KLIFE(672, 2)), CT_LIFE_VOID);
    const ct_person_state *s = state_of(&w, TN, 1);
    assert_false(s->enrolled);
    assert_true(s->voided);
    check_invariants(&w, TN, 672);
    /* again: already_voided; a correct of it: not_current */
    r = w_apply(&w, &v, T0, 0);
    assert_int_equal(r.refused, CT_ERR_ALREADY_VOIDED);
    ct_entry c = signup(CT_LIFE_CORRECT, TN, 672, 1, 1);
    c.u.life.has_new_agent = true;
    strcpy(c.u.life.new_agent, "A2");
    r = w_apply(&w, &c, T0, 0);
    assert_int_equal(r.refused, CT_ERR_NOT_CURRENT);
    /* a cancel of a voided sign-up is cancel_noop; a new enroll counts again */
    e = ev(CT_ACTION_CANCEL, TN, 672, "A1", 1, NULL, T0);
    r = w_apply(&w, &e, T0, 0); /* seq 3 */
    assert_int_equal(r.outcome, CT_TALLY_CANCEL_NOOP);
    e = ev(CT_ACTION_ENROLL, TN, 672, "A2", 1, NULL, T0);
    r = w_apply(&w, &e, T0, 0); /* seq 4 */
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_false(state_of(&w, TN, 1)->voided);
    assert_int_equal(get(&w, K(CT_COUNT_NET, TN, 672, NULL)), 1);
    check_invariants(&w, TN, 672);
    assert_int_equal(w.seq, 4);
    w_free(&w);
}

static void test_void_cancelled(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    e = ev(CT_ACTION_CANCEL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 2 */
    assert_int_equal(get(&w, K(CT_COUNT_CANCELLED, TN, 672, NULL)), 1);
    ct_entry v = signup(CT_LIFE_VOID, TN, 672, 1, 1);
    ct_tally_entry_result r = w_apply(&w, &v, T0, 0); /* seq 3 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(r.n, 3); /* CANCELLED -1, VOIDED +1, LIFE */
    assert_int_equal(get(&w, K(CT_COUNT_CANCELLED, TN, 672, NULL)), 0);
    assert_int_equal(get(&w, K(CT_COUNT_VOIDED, TN, 672, "A1")), 1);
    assert_int_equal(get(&w, K(CT_COUNT_NET, TN, 672, NULL)), 0);
    assert_int_equal(get(&w, K(CT_COUNT_GROSS, TN, 672, NULL)), 1);
    assert_true(state_of(&w, TN, 1)->voided);
    check_invariants(&w, TN, 672);
    /* a correct of a cancelled sign-up: not_current */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 2, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 4 */
    e = ev(CT_ACTION_CANCEL, TN, 672, "A1", 2, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 5 */
    ct_entry c = signup(CT_LIFE_CORRECT, TN, 672, 2, 4);
    c.u.life.has_new_agent = true;
    strcpy(c.u.life.new_agent, "A2");
    assert_int_equal(w_apply(&w, &c, T0, 0).refused, CT_ERR_NOT_CURRENT);
    w_free(&w);
}

static void test_not_current(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    e = ev(CT_ACTION_CANCEL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 2 */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 3: supersedes seq 1 */
    ct_entry v = signup(CT_LIFE_VOID, TN, 672, 1, 1);
    assert_int_equal(w_apply(&w, &v, T0, 0).refused, CT_ERR_NOT_CURRENT);
    v = signup(CT_LIFE_VOID, TN, 683, 1, 3); /* other unit */
    assert_int_equal(w_apply(&w, &v, T0, 0).refused, CT_ERR_NOT_CURRENT);
    v = signup(CT_LIFE_VOID, TN, 672, 9, 3); /* no state */
    assert_int_equal(w_apply(&w, &v, T0, 0).refused, CT_ERR_NOT_CURRENT);
    v = signup(CT_LIFE_VOID, HGD, 672, 1, 3); /* other program */
    assert_int_equal(w_apply(&w, &v, T0, 0).refused, CT_ERR_NOT_CURRENT);
    v = signup(CT_LIFE_VOID, TN, 672, 1, 3);
    assert_int_equal(w_apply(&w, &v, T0, 0).refused, CT_OK);
    assert_int_equal(w.seq, 4);
    check_invariants(&w, TN, 672);
    w_free(&w);
}

static void test_target(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry t = life(CT_LIFE_TARGET);
    t.u.life.program = HGD;
    t.u.life.district = 672;
    t.u.life.target = 1500;
    t.u.life.effective_ms = T0 - 3 * DAY_MS;          /* in the past */
    ct_tally_entry_result r = w_apply(&w, &t, T0, 0); /* seq 1 */
    assert_int_equal(r.outcome, CT_TALLY_TARGET_SET);
    assert_int_equal(r.n, 2);
    uint8_t dim[16];
    be64(dim, (uint64_t)(T0 - 3 * DAY_MS));
    be64(dim + 8, 1);
    assert_int_equal(get(&w, ct_count_key_make(CT_COUNT_TARGET, HGD, 672, dim, 16)), 1500);
    assert_int_equal(get(&w, KLIFE(672, 1)), CT_LIFE_TARGET);
    /* the per-staff quota: unit 0; the same ef again is a second revision */
    t.u.life.district = 0;
    t.u.life.target = 40;
    r = w_apply(&w, &t, T0, 0); /* seq 2 */
    assert_int_equal(r.refused, CT_OK);
    be64(dim + 8, 2);
    assert_int_equal(get(&w, ct_count_key_make(CT_COUNT_TARGET, HGD, 0, dim, 16)), 40);
    assert_int_equal(get(&w, KLIFE(0, 2)), CT_LIFE_TARGET);
    for (size_t i = 0; i < r.n; i++) { /* every key it writes parses */
        ct_count_key p;
        assert_int_equal(ct_count_key_parse(r.changes[i].key.b, r.changes[i].key.len, &p), CT_OK);
    }
    w_free(&w);
}

static void test_close_late_reopen(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 1, NULL, T0);
    w_apply(&w, &e, T0, 0); /* seq 1 */
    ct_entry cl = day_entry(CT_LIFE_CLOSE, 672, D1);
    ct_tally_entry_result r = w_apply(&w, &cl, T0 + DAY_MS, 0); /* seq 2 */
    assert_int_equal(r.outcome, CT_TALLY_CLOSED);
    ct_count_key close672 = KD(CT_COUNT_CLOSE, TN, 672, D1);
    assert_int_equal(get(&w, close672), 2);
    assert_int_equal(get(&w, KLIFE(672, 2)), CT_LIFE_CLOSE);
    assert_int_equal(w_apply(&w, &cl, T0, 0).refused, CT_ERR_ALREADY_CLOSED);
    const int64_t day_at_close = get(&w, KD(CT_COUNT_DAY, TN, 672, D1)); /* 1 */
    /* a late event for the closed day: counted, LATE_CLOSED and AFTER_CLOSE */
    e = ev(CT_ACTION_ENROLL, TN, 672, "A1", 2, NULL, T0 + HOUR_MS);
    r = w_apply(&w, &e, T0 + 2 * DAY_MS, 0); /* seq 3 */
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_int_equal(get(&w, KD(CT_COUNT_DAY, TN, 672, D1)), 2);
    assert_int_equal(get(&w, KD(CT_COUNT_LATE_CLOSED, TN, 672, D1)), 1);
    assert_int_equal(get(&w, KAC(TN, 672, D1, 2)), 1);
    assert_int_equal(get(&w, KD(CT_COUNT_DAY, TN, 672, D1)) - get(&w, KAC(TN, 672, D1, 2)),
                     day_at_close);
    /* an event of another unit or day is not touched by that close */
    e = ev(CT_ACTION_ENROLL, TN, 683, "B1", 3, NULL, T0);
    r = w_apply(&w, &e, T0 + 2 * DAY_MS, 0); /* seq 4 */
    assert_int_equal(get(&w, KD(CT_COUNT_LATE_CLOSED, TN, 683, D1)), 0);
    /* the province closes D1 too: both closes in force */
    ct_entry cp = day_entry(CT_LIFE_CLOSE, 0, D1);
    r = w_apply(&w, &cp, T0 + 2 * DAY_MS, 0); /* seq 5 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(get(&w, KD(CT_COUNT_CLOSE, TN, 0, D1)), 5);
    assert_int_equal(get(&w, KLIFE(0, 5)), CT_LIFE_CLOSE);
    const int64_t day672_at_5 = get(&w, KD(CT_COUNT_DAY, TN, 672, D1)); /* 2 */
    const int64_t day683_at_5 = get(&w, KD(CT_COUNT_DAY, TN, 683, D1)); /* 1 */
    e = ev(CT_ACTION_ENROLL, HGD, 672, "A1", 4, NULL, T0 + HOUR_MS);    /* seq 6 */
    r = w_apply(&w, &e, T0 + 3 * DAY_MS, 0);
    assert_int_equal(get(&w, KAC(HGD, 672, D1, 2)), 1);
    assert_int_equal(get(&w, KAC(HGD, 672, D1, 5)), 1);
    assert_int_equal(get(&w, KD(CT_COUNT_LATE_CLOSED, HGD, 672, D1)), 1);
    /* a cancel of the first sign-up: DAY -1 and each AFTER_CLOSE -1 */
    e = ev(CT_ACTION_CANCEL, TN, 672, "A1", 1, NULL, T0 + 2 * HOUR_MS);
    r = w_apply(&w, &e, T0 + 3 * DAY_MS, 0); /* seq 7 */
    assert_int_equal(get(&w, KAC(TN, 672, D1, 2)), 0);
    assert_int_equal(get(&w, KAC(TN, 672, D1, 5)), -1);
    e = ev(CT_ACTION_ENROLL, TN, 683, "B1", 5, NULL, T0); /* seq 8 */
    w_apply(&w, &e, T0 + 3 * DAY_MS, 0);
    assert_int_equal(get(&w, KAC(TN, 683, D1, 5)), 1);
    /* official figures of each close = DAY at the seq before it */
    assert_int_equal(get(&w, KD(CT_COUNT_DAY, TN, 672, D1)) - get(&w, KAC(TN, 672, D1, 5)),
                     day672_at_5);
    assert_int_equal(get(&w, KD(CT_COUNT_DAY, TN, 683, D1)) - get(&w, KAC(TN, 683, D1, 5)),
                     day683_at_5);
    /* a void for the closed day goes to AFTER_CLOSE too */
    ct_entry v = signup(CT_LIFE_VOID, TN, 672, 2, 3);
    r = w_apply(&w, &v, T0 + 3 * DAY_MS, 0); /* seq 9 */
    assert_int_equal(r.refused, CT_OK);
    assert_int_equal(get(&w, KAC(TN, 672, D1, 2)), -1);
    assert_int_equal(get(&w, KAC(TN, 672, D1, 5)), -2);
    /* reopen the unit's close: only the province's remains */
    ct_entry ro = day_entry(CT_LIFE_REOPEN, 672, D1);
    r = w_apply(&w, &ro, T0 + 3 * DAY_MS, 0); /* seq 10 */
    assert_int_equal(r.outcome, CT_TALLY_REOPENED);
    assert_int_equal(get(&w, close672), 0);
    assert_int_equal(get(&w, KLIFE(672, 10)), CT_LIFE_REOPEN);
    assert_int_equal(w_apply(&w, &ro, T0, 0).refused, CT_ERR_NOT_CLOSED);
    e = ev(CT_ACTION_ENROLL, HGD, 672, "A1", 6, NULL, T0 + HOUR_MS);
    r = w_apply(&w, &e, T0 + 3 * DAY_MS, 0); /* seq 11 */
    assert_int_equal(get(&w, KAC(HGD, 672, D1, 2)), 1);
    assert_int_equal(get(&w, KAC(HGD, 672, D1, 5)), 2);
    assert_int_equal(get(&w, KD(CT_COUNT_LATE_CLOSED, HGD, 672, D1)), 2);
    /* close again: a new seq */
    r = w_apply(&w, &cl, T0 + 3 * DAY_MS, 0); /* seq 12 */
    assert_int_equal(get(&w, close672), 12);
    /* a day not closed */
    e = ev(CT_ACTION_ENROLL, HGD, 672, "A1", 7, NULL, T0 + DAY_MS);
    r = w_apply(&w, &e, T0 + 3 * DAY_MS, 0);
    for (size_t i = 0; i < r.n; i++) {
        assert_true(ct_count_key_kind(&r.changes[i].key) != CT_COUNT_AFTER_CLOSE);
        assert_true(ct_count_key_kind(&r.changes[i].key) != CT_COUNT_LATE_CLOSED);
    }
    check_invariants(&w, TN, 672);
    check_invariants(&w, HGD, 672);
    w_free(&w);
}

static void test_reorg(void **state)
{
    (void)state;
    world w;
    w_init(&w);
    ct_entry g = life(CT_LIFE_REORG);
    strcpy(g.u.life.reorg, "merge-2023");
    g.u.life.effective_ms = T0 + 5 * DAY_MS;
    ct_tally_entry_result r = w_apply(&w, &g, T0, 0); /* seq 1 */
    assert_int_equal(r.outcome, CT_TALLY_REORG_SET);
    assert_int_equal(get(&w, K(CT_COUNT_REORG, TN, 0, "merge-2023")), T0 + 5 * DAY_MS);
    assert_int_equal(get(&w, KLIFE(0, 1)), CT_LIFE_REORG);
    r = w_apply(&w, &g, T0, 0);
    assert_int_equal(r.refused, CT_ERR_ALREADY_APPLIED);
    assert_int_equal(r.outcome, CT_TALLY_REORG_SET);
    strcpy(g.u.life.reorg, "other");
    g.u.life.effective_ms = 0;
    assert_int_equal(w_apply(&w, &g, T0, 0).refused, CT_ERR_BAD_VALUE);
    assert_int_equal(w.seq, 1);
    w_free(&w);
}

/* ---- keys of kinds 10..21 and the person-state flags ------------------------- */

static ct_err parse_raw(uint8_t kind, uint8_t prog, uint16_t unit, const void *dim, size_t n)
{
    uint8_t b[64];
    b[0] = kind, b[1] = prog, b[2] = (uint8_t)(unit >> 8), b[3] = (uint8_t)unit;
    memcpy(b + 4, dim, n);
    ct_count_key k;
    return ct_count_key_parse(b, 4 + n, &k);
}

static void test_key_parse_life_kinds(void **state)
{
    (void)state;
    static const uint8_t z[40] = {0};
    static const struct {
        uint8_t kind, prog;
        uint16_t unit;
        size_t dim;
        ct_err want;
    } c[] = {
        {CT_COUNT_VOIDED, 0, 672, 1, CT_OK},
        {CT_COUNT_VOIDED, 1, 672, 32, CT_OK},
        {CT_COUNT_VOIDED, 0, 672, 0, CT_ERR_BAD_VALUE},
        {CT_COUNT_VOIDED, 0, 672, 33, CT_ERR_BAD_VALUE},
        {CT_COUNT_VOIDED, 0, 0, 2, CT_ERR_BAD_VALUE},
        {CT_COUNT_VOIDED, 2, 672, 2, CT_ERR_BAD_VALUE},
        {CT_COUNT_CORRECTED, 1, 672, 0, CT_OK},
        {CT_COUNT_CORRECTED, 1, 672, 1, CT_ERR_BAD_VALUE},
        {CT_COUNT_CORRECTED, 1, 0, 0, CT_ERR_BAD_VALUE},
        {CT_COUNT_TARGET, 1, 672, 16, CT_OK},
        {CT_COUNT_TARGET, 1, 0, 16, CT_OK},
        {CT_COUNT_TARGET, 1, 672, 15, CT_ERR_BAD_VALUE},
        {CT_COUNT_TARGET, 1, 672, 17, CT_ERR_BAD_VALUE},
        {CT_COUNT_CLOSE, 0, 0, 4, CT_OK},
        {CT_COUNT_CLOSE, 0, 672, 4, CT_OK},
        {CT_COUNT_CLOSE, 1, 672, 4, CT_ERR_BAD_VALUE},
        {CT_COUNT_CLOSE, 0, 672, 5, CT_ERR_BAD_VALUE},
        {CT_COUNT_AFTER_CLOSE, 1, 672, 12, CT_OK},
        {CT_COUNT_AFTER_CLOSE, 1, 0, 12, CT_ERR_BAD_VALUE},
        {CT_COUNT_AFTER_CLOSE, 1, 672, 4, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_CLOSED, 1, 672, 4, CT_OK},
        {CT_COUNT_LATE_CLOSED, 1, 0, 4, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_CLOSED, 1, 672, 0, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_HIST, 1, 672, 1, CT_OK},
        {CT_COUNT_LATE_HIST, 1, 672, 2, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_HIST, 1, 0, 1, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_MAX, 0, 672, 0, CT_OK},
        {CT_COUNT_LATE_MAX, 0, 672, 1, CT_ERR_BAD_VALUE},
        {CT_COUNT_LATE_MAX, 0, 0, 0, CT_ERR_BAD_VALUE},
        {CT_COUNT_AFTER_DAY, 0, 672, 4, CT_OK},
        {CT_COUNT_AFTER_DAY, 0, 0, 4, CT_ERR_BAD_VALUE},
        {CT_COUNT_AFTER_DAY, 0, 672, 8, CT_ERR_BAD_VALUE},
        {CT_COUNT_RECV_DAY, 1, 672, 4, CT_OK},
        {CT_COUNT_RECV_DAY, 1, 0, 4, CT_ERR_BAD_VALUE},
        {CT_COUNT_RECV_DAY, 1, 672, 3, CT_ERR_BAD_VALUE},
        {CT_COUNT_REORG, 0, 0, 1, CT_OK},
        {CT_COUNT_REORG, 0, 0, 32, CT_OK},
        {CT_COUNT_REORG, 0, 0, 0, CT_ERR_BAD_VALUE},
        {CT_COUNT_REORG, 0, 1, 5, CT_ERR_BAD_VALUE},
        {CT_COUNT_REORG, 1, 0, 5, CT_ERR_BAD_VALUE},
        {CT_COUNT_LIFE, 0, 0, 8, CT_OK},
        {CT_COUNT_LIFE, 0, 672, 8, CT_OK},
        {CT_COUNT_LIFE, 1, 672, 8, CT_ERR_BAD_VALUE},
        {CT_COUNT_LIFE, 0, 672, 7, CT_ERR_BAD_VALUE},
        {22, 0, 672, 0, CT_ERR_BAD_VALUE},
        {255, 0, 672, 8, CT_ERR_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ct_err e = parse_raw(c[i].kind, c[i].prog, c[i].unit, z, c[i].dim);
        if (e != c[i].want) print_error("case %zu: %s\n", i, ct_err_name(e));
        assert_int_equal(e, c[i].want);
    }
    /* buckets 0..7 only */
    for (uint8_t b = 0; b < 10; b++)
        assert_int_equal(parse_raw(CT_COUNT_LATE_HIST, 0, 672, &b, 1),
                         b < CT_LATE_BUCKETS ? CT_OK : CT_ERR_BAD_VALUE);
    /* names and the printed form */
    char out[160];
    uint8_t d[16];
    be64(d, 1689958800000ull);
    be64(d + 8, 7);
    ct_count_key k = ct_count_key_make(CT_COUNT_TARGET, HGD, 0, d, 16);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=target program=bhyt_hgd district=0 dim=1689958800000,seq=7");
    k = KAC(TN, 672, D1, 5);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=after_close program=bhxh_tn district=672 dim=20230722,seq=5");
    k = KLIFE(0, 9);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=life program=- district=0 dim=9");
    k = KD(CT_COUNT_CLOSE, TN, 0, D1);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=close program=- district=0 dim=20230722");
    k = K(CT_COUNT_REORG, TN, 0, "merge-2023");
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=reorg program=- district=0 dim=merge-2023");
    k = KHIST(HGD, 683, 7);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=late_hist program=bhyt_hgd district=683 dim=7");
    k = KD(CT_COUNT_RECV_DAY, TN, 683, D2);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=recv_day program=bhxh_tn district=683 dim=20230723");
    k = K(CT_COUNT_VOIDED, TN, 683, "B1");
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=voided program=bhxh_tn district=683 dim=B1");
    static const char *const names[] = {"voided",      "corrected",   "target",    "close",
                                        "after_close", "late_closed", "late_hist", "late_max",
                                        "after_day",   "recv_day",    "reorg",     "life"};
    for (int i = 0; i < 12; i++)
        assert_string_equal(ct_count_kind_name((ct_count_kind)(CT_COUNT_VOIDED + i)), names[i]);
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_VOIDED), "voided");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_REORG_SET), "reorg_set");
}

static void test_person_state_flags(void **state)
{
    (void)state;
    ct_person_state s, d;
    memset(&s, 0, sizeof s);
    s.district = 672;
    s.day = 20230722;
    s.seq = UINT64_C(0x0102030405060708);
    strcpy(s.agent, "LD672-007");
    strcpy(s.group, "nq143");
    uint8_t b[CT_PERSON_STATE_MAX];
    size_t n = 0;
    /* the §7 example with each flag */
    static const uint8_t want[] = {0x01, 0x02, 0x00, 0x00, 0x02, 0xa0, 0x01, 0x34, 0xb2,
                                   0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x09, 'L',  'D',  '6',  '7',  '2',  '-',  '0',  '0',
                                   '7',  0x05, 'n',  'q',  '1',  '4',  '3'};
    s.voided = true;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, n);
    assert_int_equal(ct_person_state_decode(b, n, &d), CT_OK);
    assert_true(d.voided);
    assert_false(d.moved);
    assert_false(d.enrolled);
    s.voided = false;
    s.moved = true;
    s.commune = 3;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    assert_int_equal(b[0], 2);
    assert_int_equal(b[1], 0x04);
    assert_int_equal(ct_person_state_decode(b, n, &d), CT_OK);
    assert_true(d.moved);
    assert_false(d.voided);
    assert_false(d.enrolled);
    assert_int_equal(d.commune, 3);
    /* flags are never combined; no other bits */
    for (unsigned f = 0; f < 256; f++) {
        b[1] = (uint8_t)f;
        bool ok = f == 0 || f == 1 || f == 2 || f == 4;
        assert_int_equal(ct_person_state_decode(b, n, &d), ok ? CT_OK : CT_ERR_STORE_CORRUPT);
    }
    s.enrolled = true; /* with moved */
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_ERR_BAD_VALUE);
    s.moved = false;
    s.voided = true; /* with enrolled */
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_ERR_BAD_VALUE);
    s.enrolled = false;
    s.moved = true; /* voided and moved */
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_ERR_BAD_VALUE);
}

/* ---- random sequences ---------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

typedef struct {
    uint64_t seq;
    ct_program p;
    uint32_t d;
    int person;
} enroll_rec;

/* DAY (p, unit, day) as it stood when a close at seq was applied. */
typedef struct {
    uint64_t seq;
    uint32_t close_unit, unit, day;
    ct_program p;
    int64_t day_count;
} close_snap;

static void test_random_invariants(void **state)
{
    (void)state;
    static const uint32_t units[3] = {672, 683, 684};
    static const char *const agents[3][2] = {{"A1", "A2"}, {"B1", "B2"}, {"C1", "C2"}};
    static const char *const groups[3] = {NULL, "nq143", "hn"};
    static enroll_rec log[4000];
    static close_snap snaps[4000];
    size_t n_log = 0, n_snaps = 0;
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w_init(w);
    rng_state = 0x5eed;
    unsigned applied[7] = {0}, refused = 0;
    for (int i = 0; i < 4000; i++) {
        uint32_t ui = rnd(3), u = units[ui];
        ct_program p = (ct_program)rnd(2);
        int person = (int)rnd(120);
        int64_t t = T0 + (int64_t)rnd(4) * DAY_MS;
        int64_t recv = t + (int64_t)rnd(5 * 24) * HOUR_MS;
        uint32_t what = rnd(20);
        ct_entry e;
        uint16_t commune = 0;
        if (what < 9) {
            e = ev(CT_ACTION_ENROLL, p, u, agents[ui][rnd(2)], person, groups[rnd(3)], t);
            commune = (uint16_t)rnd(3);
        } else if (what < 12) {
            e = ev(CT_ACTION_CANCEL, p, u, agents[ui][0], person, NULL, t);
        } else if (what < 17 && n_log) {
            const enroll_rec *er = &log[rnd((uint32_t)n_log)];
            bool vo = what < 14;
            e = signup(vo ? CT_LIFE_VOID : CT_LIFE_CORRECT, rnd(4) ? er->p : (ct_program)rnd(2),
                       er->d, er->person, er->seq);
            if (!vo) {
                uint32_t m = 1 + rnd(15);
                if (m & 1)
                    e.u.life.has_new_program = true, e.u.life.new_program = (ct_program)rnd(2);
                if (m & 2) {
                    uint32_t ai = 0;
                    while (units[ai] != er->d)
                        ai++;
                    e.u.life.has_new_agent = true;
                    strcpy(e.u.life.new_agent, agents[ai][rnd(2)]);
                }
                if (m & 4) e.u.life.has_new_commune = true, commune = (uint16_t)rnd(3);
                if (m & 8) {
                    const char *gr = groups[rnd(3)];
                    e.u.life.has_new_group = true;
                    strcpy(e.u.life.new_group, gr ? gr : "");
                }
            }
        } else {
            e = day_entry(rnd(2) ? CT_LIFE_CLOSE : CT_LIFE_REOPEN, rnd(4) ? u : 0, D1 + rnd(4));
        }
        ct_tally_entry_result r = w_apply(w, &e, recv, commune);
        if (r.refused) {
            refused++;
            continue;
        }
        if (e.type == CT_ENTRY_EVENT && r.outcome == CT_TALLY_COUNTED) {
            assert_true(n_log < 4000);
            log[n_log++] = (enroll_rec){w->seq, p, u, person};
        }
        applied[e.type == CT_ENTRY_LIFE ? e.u.life.kind : 0]++;
        if (r.outcome == CT_TALLY_CLOSED) /* the counters now are those at seq - 1 */
            for (int pi = 0; pi < 2; pi++)
                for (int k = 0; k < 3; k++) {
                    if (e.u.life.district && e.u.life.district != units[k]) continue;
                    assert_true(n_snaps < 4000);
                    snaps[n_snaps++] = (close_snap){
                        w->seq,
                        e.u.life.district,
                        units[k],
                        e.u.life.day,
                        (ct_program)pi,
                        get(w, KD(CT_COUNT_DAY, (ct_program)pi, units[k], e.u.life.day))};
                }
        if (i % 97 == 0 || i == 3999)
            for (int pi = 0; pi < 2; pi++)
                for (int k = 0; k < 3; k++)
                    check_invariants(w, (ct_program)pi, units[k]);
    }
    /* the sequence exercised every path */
    for (int k = 0; k <= CT_LIFE_REOPEN; k++)
        if (k != CT_LIFE_TARGET) assert_true(applied[k] > 10);
    assert_true(refused > 100);
    /* each close still in force: DAY - AFTER_CLOSE(.., s) = DAY at seq s - 1 */
    size_t in_force = 0;
    for (size_t i = 0; i < n_snaps; i++) {
        const close_snap *c = &snaps[i];
        if (get(w, KD(CT_COUNT_CLOSE, TN, c->close_unit, c->day)) != (int64_t)c->seq) continue;
        in_force++;
        assert_int_equal(get(w, KD(CT_COUNT_DAY, c->p, c->unit, c->day)) -
                             get(w, KAC(c->p, c->unit, c->day, c->seq)),
                         c->day_count);
    }
    assert_true(in_force > 10);
    /* NET = the number of enrolled states */
    for (int pi = 0; pi < 2; pi++) {
        int64_t enrolled = 0;
        for (size_t i = 0; i < w->n_persons; i++)
            if (w->persons[i].p == (ct_program)pi && w->persons[i].st.enrolled) enrolled++;
        assert_int_equal(ct_counts_sum(&w->counts, CT_COUNT_NET, pi, 0), enrolled);
    }
    w_free(w);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enroll_arrival),
        cmocka_unit_test(test_late_buckets),
        cmocka_unit_test(test_correct_moves_staff),
        cmocka_unit_test(test_correct_moves_program),
        cmocka_unit_test(test_correct_conflict),
        cmocka_unit_test(test_void_enrolled_and_after),
        cmocka_unit_test(test_void_cancelled),
        cmocka_unit_test(test_not_current),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_close_late_reopen),
        cmocka_unit_test(test_reorg),
        cmocka_unit_test(test_key_parse_life_kinds),
        cmocka_unit_test(test_person_state_flags),
        cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
