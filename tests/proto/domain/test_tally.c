/* test_tally.c — the tally rule (ct_tally.h table), counter keys and the
 * person-state encoding. The long random sequence (fixed seed) is replayed
 * through a ct_counts and the invariants NET == sum(AGENT) == sum(DAY) >=
 * sum(COMMUNE) and GROSS - CANCELLED == NET are checked per district and
 * program, and NET and every COMMUNE counter are checked against an
 * independent model (the set of enrolled persons and their communes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_counts.h"
#include "ct_tally.h"
#include "ct_time.h"

#define T0 INT64_C(1689987600000) /* 2023-07-22T08:00:00+07:00 */
#define DAY_MS INT64_C(86400000)

static ct_event mk(ct_action a, ct_program p, uint32_t district, const char *agent, int person,
                   const char *group)
{
    ct_event e;
    memset(&e, 0, sizeof e);
    e.occurred_ms = T0;
    strcpy(e.campaign, "lamdong-2023");
    e.district = district;
    strcpy(e.agent, agent);
    e.program = p;
    e.action = a;
    memset(e.person, 0, sizeof e.person);
    e.person[0] = (uint8_t)person;
    e.person[1] = (uint8_t)(person >> 8);
    if (group) strcpy(e.group, group);
    return e;
}

static int64_t delta_of(const ct_tally_result *r, ct_count_key k)
{
    for (size_t i = 0; i < r->n; i++)
        if (ct_count_key_cmp(&r->changes[i].key, &k) == 0) return r->changes[i].delta;
    return 0;
}

static ct_count_key K(ct_count_kind kind, ct_program p, uint32_t d, const char *dim)
{
    return ct_count_key_make(kind, p, d, dim, dim ? strlen(dim) : 0);
}

static ct_count_key KDAY(ct_program p, uint32_t d, uint32_t day)
{
    uint8_t b[4] = {(uint8_t)(day >> 24), (uint8_t)(day >> 16), (uint8_t)(day >> 8), (uint8_t)day};
    return ct_count_key_make(CT_COUNT_DAY, p, d, b, 4);
}

static void test_enroll_and_repeat(void **state)
{
    (void)state;
    const ct_program P = CT_PROGRAM_BHYT_HGD;
    ct_event e = mk(CT_ACTION_ENROLL, P, 672, "LD672-001", 1, "nq143");
    ct_person_state next;
    ct_tally_result r;
    ct_tally_apply(&e, 20230722, 0, 17, NULL, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_true(r.state_changed);
    assert_int_equal(r.n, 5);
    assert_int_equal(delta_of(&r, K(CT_COUNT_NET, P, 672, NULL)), 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_GROSS, P, 672, NULL)), 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_AGENT, P, 672, "LD672-001")), 1);
    assert_int_equal(delta_of(&r, KDAY(P, 672, 20230722)), 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_GROUP, P, 672, "nq143")), 1);
    assert_true(next.enrolled);
    assert_int_equal(next.district, 672);
    assert_int_equal(next.day, 20230722);
    assert_int_equal(next.seq, 17);
    assert_string_equal(next.agent, "LD672-001");
    assert_string_equal(next.group, "nq143");

    /* the same person again, even by another agent: recorded, not counted */
    ct_person_state prior = next, next2;
    memset(&next2, 0xAB, sizeof next2);
    ct_event e2 = mk(CT_ACTION_ENROLL, P, 672, "LD672-002", 1, NULL);
    ct_tally_apply(&e2, 20230723, 0, 18, &prior, &next2, &r);
    assert_int_equal(r.outcome, CT_TALLY_REPEAT);
    assert_false(r.state_changed);
    assert_int_equal(r.n, 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_REPEAT, P, 672, NULL)), 1);
    assert_int_equal(((uint8_t *)&next2)[0], 0xAB); /* next untouched */

    /* enroll without a group: no GROUP change */
    ct_event e3 = mk(CT_ACTION_ENROLL, CT_PROGRAM_BHXH_TN, 673, "LD673-001", 2, NULL);
    ct_tally_apply(&e3, 20230724, 0, 19, NULL, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_int_equal(r.n, 4);
    assert_string_equal(next.group, "");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_COUNTED), "counted");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_REPEAT), "repeat");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_CANCELLED), "cancelled");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_CANCEL_NOOP), "cancel_noop");
    assert_string_equal(ct_tally_outcome_name(CT_TALLY_CANCEL_FOREIGN), "cancel_foreign");
}

static void test_cancel_paths(void **state)
{
    (void)state;
    const ct_program P = CT_PROGRAM_BHXH_TN;
    ct_person_state st, next;
    ct_tally_result r;
    ct_event en = mk(CT_ACTION_ENROLL, P, 672, "LD672-003", 7, "nq143");
    ct_tally_apply(&en, 20230722, 0, 100, NULL, &st, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);

    /* cancel of an unknown person */
    ct_event cu = mk(CT_ACTION_CANCEL, P, 672, "LD672-003", 8, NULL);
    ct_tally_apply(&cu, 20230725, 0, 101, NULL, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCEL_NOOP);
    assert_false(r.state_changed);
    assert_int_equal(r.n, 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_CANCEL_NOOP, P, 672, NULL)), 1);

    /* cancel from another district: no effect */
    ct_event cf = mk(CT_ACTION_CANCEL, P, 673, "LD673-001", 7, NULL);
    ct_tally_apply(&cf, 20230725, 0, 102, &st, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCEL_FOREIGN);
    assert_false(r.state_changed);
    assert_int_equal(r.n, 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_CANCEL_NOOP, P, 673, NULL)), 1);

    /* cancel in the same district, by another agent on another day: debits the
     * crediting enroll's agent, day and group */
    ct_event cs = mk(CT_ACTION_CANCEL, P, 672, "LD672-009", 7, NULL);
    ct_tally_apply(&cs, 20230726, 0, 103, &st, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCELLED);
    assert_true(r.state_changed);
    assert_int_equal(r.n, 5);
    assert_int_equal(delta_of(&r, K(CT_COUNT_NET, P, 672, NULL)), -1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_AGENT, P, 672, "LD672-003")), -1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_AGENT, P, 672, "LD672-009")), 0);
    assert_int_equal(delta_of(&r, KDAY(P, 672, 20230722)), -1);
    assert_int_equal(delta_of(&r, KDAY(P, 672, 20230726)), 0);
    assert_int_equal(delta_of(&r, K(CT_COUNT_GROUP, P, 672, "nq143")), -1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_CANCELLED, P, 672, NULL)), 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_GROSS, P, 672, NULL)), 0);
    assert_false(next.enrolled);

    /* a second cancel: the person is no longer enrolled */
    ct_person_state cancelled = next;
    ct_tally_apply(&cs, 20230726, 0, 104, &cancelled, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCEL_NOOP);
    assert_int_equal(delta_of(&r, K(CT_COUNT_CANCEL_NOOP, P, 672, NULL)), 1);

    /* re-enroll after the cancel: counted again, credited to the new agent and day */
    ct_event re = mk(CT_ACTION_ENROLL, P, 672, "LD672-005", 7, NULL);
    ct_tally_apply(&re, 20230728, 0, 105, &cancelled, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_int_equal(r.n, 4);
    assert_int_equal(delta_of(&r, K(CT_COUNT_AGENT, P, 672, "LD672-005")), 1);
    assert_int_equal(delta_of(&r, KDAY(P, 672, 20230728)), 1);
    assert_int_equal(delta_of(&r, K(CT_COUNT_GROUP, P, 672, "nq143")), 0);
    assert_int_equal(next.seq, 105);
    assert_string_equal(next.agent, "LD672-005");
    assert_string_equal(next.group, "");
}

static void test_keys(void **state)
{
    (void)state;
    ct_count_key k = K(CT_COUNT_AGENT, CT_PROGRAM_BHYT_HGD, 672, "LD672-007");
    assert_int_equal(k.len, 4 + 9);
    static const uint8_t want[] = {4, 1, 0x02, 0xA0, 'L', 'D', '6', '7', '2', '-', '0', '0', '7'};
    assert_memory_equal(k.b, want, sizeof want);
    assert_int_equal(ct_count_key_kind(&k), CT_COUNT_AGENT);
    assert_int_equal(ct_count_key_program(&k), CT_PROGRAM_BHYT_HGD);
    assert_int_equal(ct_count_key_district(&k), 672);
    size_t dl;
    const uint8_t *dim = ct_count_key_dim(&k, &dl);
    assert_int_equal(dl, 9);
    assert_memory_equal(dim, "LD672-007", 9);
    ct_count_key d = KDAY(CT_PROGRAM_BHXH_TN, 68, 20230722);
    static const uint8_t wantd[] = {5, 0, 0, 68, 0x01, 0x34, 0xB2, 0x42};
    assert_int_equal(d.len, 8);
    assert_memory_equal(d.b, wantd, 8);

    ct_count_key p;
    assert_int_equal(ct_count_key_parse(k.b, k.len, &p), CT_OK);
    assert_int_equal(ct_count_key_cmp(&p, &k), 0);
    assert_int_equal(ct_count_key_parse(d.b, d.len, &p), CT_OK);
    uint8_t bad[40];
    memcpy(bad, k.b, k.len);
    bad[0] = 9;
    assert_int_equal(ct_count_key_parse(bad, k.len, &p), CT_ERR_BAD_VALUE); /* kind */
    bad[0] = 4;
    bad[1] = 2;
    assert_int_equal(ct_count_key_parse(bad, k.len, &p), CT_ERR_BAD_VALUE); /* program */
    assert_int_equal(ct_count_key_parse(k.b, 4, &p), CT_ERR_BAD_VALUE);     /* AGENT w/o dim */
    assert_int_equal(ct_count_key_parse(d.b, 7, &p), CT_ERR_BAD_VALUE);     /* DAY != 4 */
    assert_int_equal(ct_count_key_parse(k.b, 3, &p), CT_ERR_BAD_VALUE);
    ct_count_key n = K(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL);
    assert_int_equal(ct_count_key_parse(n.b, 4, &p), CT_OK);
    assert_int_equal(ct_count_key_parse(k.b, 5, &p), CT_OK); /* AGENT with a 1-byte dim */
    memcpy(bad, n.b, 4);
    bad[4] = 'x';
    assert_int_equal(ct_count_key_parse(bad, 5, &p), CT_ERR_BAD_VALUE); /* NET with dim */
    memset(bad, 'a', sizeof bad);
    bad[0] = 4;
    bad[1] = 0;
    assert_int_equal(ct_count_key_parse(bad, 36, &p), CT_OK);
    assert_int_equal(ct_count_key_parse(bad, 37, &p), CT_ERR_BAD_VALUE);

    /* ordering: memcmp, then length */
    ct_count_key a = K(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, "A");
    ct_count_key ab = K(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, "AB");
    ct_count_key b = K(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, "B");
    assert_true(ct_count_key_cmp(&a, &ab) < 0);
    assert_true(ct_count_key_cmp(&ab, &b) < 0);
    assert_true(ct_count_key_cmp(&b, &a) > 0);
    assert_true(ct_count_key_cmp(&n, &a) < 0);

    uint8_t person[CT_PERSON_LEN], pk[CT_PERSON_KEY_LEN];
    for (int i = 0; i < CT_PERSON_LEN; i++)
        person[i] = (uint8_t)i;
    ct_person_key(CT_PROGRAM_BHYT_HGD, person, pk);
    assert_int_equal(pk[0], 1);
    assert_memory_equal(pk + 1, person, CT_PERSON_LEN);
}

/* Counter keys as people read them (audit findings). */
static void test_key_str(void **state)
{
    (void)state;
    static const struct {
        ct_count_kind k;
        const char *name;
    } names[] = {{CT_COUNT_NET, "net"},
                 {CT_COUNT_GROSS, "gross"},
                 {CT_COUNT_CANCELLED, "cancelled"},
                 {CT_COUNT_AGENT, "agent"},
                 {CT_COUNT_DAY, "day"},
                 {CT_COUNT_GROUP, "group"},
                 {CT_COUNT_REPEAT, "repeat"},
                 {CT_COUNT_CANCEL_NOOP, "cancel_noop"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(ct_count_kind_name(names[i].k), names[i].name);
    assert_string_equal(ct_count_kind_name((ct_count_kind)0), "unknown");
    char out[160];
    ct_count_key k = ct_count_key_make(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, "LD-001", 6);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=agent program=bhxh_tn district=672 dim=LD-001");
    const uint8_t day[4] = {0x01, 0x34, 0xa8, 0x32}; /* 20228146 */
    k = ct_count_key_make(CT_COUNT_DAY, CT_PROGRAM_BHYT_HGD, 673, day, 4);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=day program=bhyt_hgd district=673 dim=20228146");
    k = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 1, NULL, 0);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=net program=bhxh_tn district=1");
    k = ct_count_key_make(CT_COUNT_GROUP, CT_PROGRAM_BHXH_TN, 2, "a b\x01", 4);
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=group program=bhxh_tn district=2 dim=a\\x20b\\x01");
    k.len = 2;
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "(short key of 2 bytes)");
}

static void test_person_state_encoding(void **state)
{
    (void)state;
    ct_person_state s, d;
    memset(&s, 0, sizeof s);
    s.enrolled = true;
    s.district = 672;
    s.day = 20230722;
    s.seq = UINT64_C(0x0102030405060708);
    strcpy(s.agent, "LD672-007");
    strcpy(s.group, "nq143");
    uint8_t b[CT_PERSON_STATE_MAX];
    size_t n = 0;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    static const uint8_t want[] = {1,    1,    0,    0,    0x02, 0xA0, 0x01, 0x34, 0xB2,
                                   0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   9,    'L',  'D',  '6',  '7',  '2',  '-',  '0',  '0',
                                   '7',  5,    'n',  'q',  '1',  '4',  '3'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(ct_person_state_decode(b, n, &d), CT_OK);
    assert_true(d.enrolled);
    assert_int_equal(d.district, 672);
    assert_int_equal(d.day, 20230722);
    assert_int_equal(d.seq, s.seq);
    assert_string_equal(d.agent, "LD672-007");
    assert_string_equal(d.group, "nq143");

    /* maximum size fits */
    memset(s.agent, 'a', CT_AGENT_ID_MAX);
    s.agent[CT_AGENT_ID_MAX] = 0;
    memset(s.group, 'g', CT_GROUP_MAX);
    s.group[CT_GROUP_MAX] = 0;
    s.enrolled = false;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    assert_int_equal(n, 84);
    assert_true(n <= CT_PERSON_STATE_MAX);
    assert_int_equal(ct_person_state_decode(b, n, &d), CT_OK);
    assert_false(d.enrolled);
    assert_int_equal(strlen(d.agent), CT_AGENT_ID_MAX);

    /* corrupt encodings */
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    assert_int_equal(ct_person_state_decode(b, n - 1, &d), CT_ERR_STORE_CORRUPT);
    uint8_t c[CT_PERSON_STATE_MAX + 1];
    memcpy(c, b, n);
    c[n] = 0;
    assert_int_equal(ct_person_state_decode(c, n + 1, &d), CT_ERR_STORE_CORRUPT); /* trailing */
    memcpy(c, b, n);
    c[0] = 2;
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT); /* version */
    memcpy(c, b, n);
    c[1] = 3;
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT); /* flags */
    memcpy(c, b, n);
    c[18] = 33;
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT); /* agent len */
    assert_int_equal(ct_person_state_decode(b, 0, &d), CT_ERR_STORE_CORRUPT);
    for (size_t i = 0; i < n; i++) /* every truncation */
        assert_int_equal(ct_person_state_decode(b, i, &d), CT_ERR_STORE_CORRUPT);
}

static ct_count_key KCOM(ct_program p, uint32_t d, uint16_t code)
{
    uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return ct_count_key_make(CT_COUNT_COMMUNE, p, d, b, 2);
}

/* Hand-computed: an enroll in commune 2 credits COMMUNE(2); its cancel, sent
 * from another commune and day, takes it back from commune 2; a unit without
 * a list (code 0) has no COMMUNE counter at all. */
static void test_commune(void **state)
{
    (void)state;
    const ct_program P = CT_PROGRAM_BHYT_HGD;
    ct_event en = mk(CT_ACTION_ENROLL, P, 672, "LD672-001", 7, NULL);
    ct_person_state st, next;
    ct_tally_result r;
    ct_tally_apply(&en, 20230722, 2, 50, NULL, &st, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    assert_int_equal(r.n, 5); /* NET GROSS AGENT DAY COMMUNE */
    assert_int_equal(delta_of(&r, KCOM(P, 672, 2)), 1);
    assert_int_equal(delta_of(&r, KCOM(P, 672, 1)), 0);
    assert_int_equal(st.commune, 2);
    ct_counts c;
    ct_counts_init(&c);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(ct_counts_add(&c, &r.changes[i].key, r.changes[i].delta), CT_OK);
    ct_count_key k2 = KCOM(P, 672, 2);
    assert_int_equal(ct_counts_get(&c, &k2), 1);
    /* the state goes through its version-2 encoding */
    uint8_t b[CT_PERSON_STATE_MAX];
    size_t n = 0;
    ct_person_state back;
    assert_int_equal(ct_person_state_encode(&st, b, &n), CT_OK);
    assert_int_equal(b[0], 2);
    assert_int_equal(ct_person_state_decode(b, n, &back), CT_OK);
    assert_int_equal(back.commune, 2);
    ct_event cu = mk(CT_ACTION_CANCEL, P, 672, "LD672-002", 7, NULL);
    ct_tally_apply(&cu, 20230725, 3, 51, &back, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCELLED);
    assert_int_equal(delta_of(&r, KCOM(P, 672, 2)), -1);
    assert_int_equal(delta_of(&r, KCOM(P, 672, 3)), 0);
    assert_int_equal(next.commune, 2); /* kept with enrolled = 0 */
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(ct_counts_add(&c, &r.changes[i].key, r.changes[i].delta), CT_OK);
    assert_int_equal(ct_counts_get(&c, &k2), 0);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_COMMUNE, P, 672), 0);
    /* a repeat enroll in another commune changes nothing */
    ct_tally_apply(&en, 20230722, 2, 52, NULL, &st, &r);
    ct_tally_apply(&en, 20230723, 1, 53, &st, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_REPEAT);
    assert_int_equal(delta_of(&r, KCOM(P, 672, 1)), 0);
    /* a unit without a list: code 0, no COMMUNE change, a version-1 state */
    ct_event e0 = mk(CT_ACTION_ENROLL, P, 683, "LD683-001", 8, "nq143");
    ct_tally_apply(&e0, 20230722, 0, 54, NULL, &st, &r);
    assert_int_equal(r.n, 5); /* NET GROSS AGENT DAY GROUP */
    for (size_t i = 0; i < r.n; i++)
        assert_int_not_equal(ct_count_key_kind(&r.changes[i].key), CT_COUNT_COMMUNE);
    assert_int_equal(st.commune, 0);
    assert_int_equal(ct_person_state_encode(&st, b, &n), CT_OK);
    assert_int_equal(b[0], 1);
    ct_tally_apply(&cu, 20230725, 0, 55, &st, &next, &r); /* foreign: 672 vs 683 */
    assert_int_equal(r.outcome, CT_TALLY_CANCEL_FOREIGN);
    ct_event c0 = mk(CT_ACTION_CANCEL, P, 683, "LD683-001", 8, NULL);
    ct_tally_apply(&c0, 20230725, 0, 56, &st, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_CANCELLED);
    assert_int_equal(r.n, 5); /* NET AGENT DAY GROUP CANCELLED */
    ct_counts_free(&c);
}

static void test_commune_key(void **state)
{
    (void)state;
    ct_count_key k = KCOM(CT_PROGRAM_BHXH_TN, 672, 2), p;
    static const uint8_t want[] = {9, 0, 0x02, 0xa0, 0x00, 0x02};
    assert_int_equal(k.len, sizeof want);
    assert_memory_equal(k.b, want, sizeof want);
    assert_int_equal(ct_count_key_parse(k.b, k.len, &p), CT_OK);
    assert_int_equal(ct_count_key_kind(&p), CT_COUNT_COMMUNE);
    char out[128];
    ct_count_key_str(&k, out, sizeof out);
    assert_string_equal(out, "kind=commune program=bhxh_tn district=672 dim=2");
    assert_string_equal(ct_count_kind_name(CT_COUNT_COMMUNE), "commune");
    uint8_t b[8];
    memcpy(b, want, sizeof want);
    assert_int_equal(ct_count_key_parse(b, 4, &p), CT_ERR_BAD_VALUE); /* no dim */
    assert_int_equal(ct_count_key_parse(b, 5, &p), CT_ERR_BAD_VALUE); /* 1-byte dim */
    b[6] = 0;
    assert_int_equal(ct_count_key_parse(b, 7, &p), CT_ERR_BAD_VALUE); /* 3-byte dim */
    b[4] = 0, b[5] = 0;
    assert_int_equal(ct_count_key_parse(b, 6, &p), CT_ERR_BAD_VALUE); /* code 0 */
    b[4] = 0x04, b[5] = 0x00;
    assert_int_equal(ct_count_key_parse(b, 6, &p), CT_OK); /* code 1024 */
    b[5] = 0x01;
    assert_int_equal(ct_count_key_parse(b, 6, &p), CT_ERR_BAD_VALUE); /* code 1025 */
    b[0] = 22;
    assert_int_equal(ct_count_key_parse(b, 6, &p), CT_ERR_BAD_VALUE); /* kind 22 */
    b[0] = 0;
    assert_int_equal(ct_count_key_parse(b, 6, &p), CT_ERR_BAD_VALUE); /* kind 0 */
}

static void test_person_state_v2(void **state)
{
    (void)state;
    ct_person_state s, d;
    memset(&s, 0, sizeof s);
    s.enrolled = true;
    s.district = 672;
    s.day = 20230722;
    s.seq = UINT64_C(0x0102030405060708);
    s.commune = 0x0102;
    strcpy(s.agent, "LD672-007");
    strcpy(s.group, "nq143");
    uint8_t b[CT_PERSON_STATE_MAX];
    size_t n = 0;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    static const uint8_t want[] = {2,    1,    0,    0,    0x02, 0xA0, 0x01, 0x34, 0xB2,
                                   0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x01, 0x02, 9,    'L',  'D',  '6',  '7',  '2',  '-',
                                   '0',  '0',  '7',  5,    'n',  'q',  '1',  '4',  '3'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(ct_person_state_decode(b, n, &d), CT_OK);
    assert_int_equal(d.commune, 0x0102);
    assert_int_equal(d.district, 672);
    assert_int_equal(d.seq, s.seq);
    assert_string_equal(d.agent, "LD672-007");
    assert_string_equal(d.group, "nq143");
    for (size_t i = 0; i < n; i++) /* every truncation */
        assert_int_equal(ct_person_state_decode(b, i, &d), CT_ERR_STORE_CORRUPT);
    uint8_t c[CT_PERSON_STATE_MAX + 1];
    memcpy(c, b, n);
    c[n] = 0;
    assert_int_equal(ct_person_state_decode(c, n + 1, &d), CT_ERR_STORE_CORRUPT); /* trailing */
    for (unsigned v = 0; v < 256; v++) { /* every other version */
        if (v == 1 || v == 2) continue;
        memcpy(c, b, n);
        c[0] = (uint8_t)v;
        assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT);
    }
    memcpy(c, b, n);
    c[18] = 0, c[19] = 0; /* code 0 is written as version 1: one encoding per state */
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT);
    c[18] = 0x04, c[19] = 0x01; /* 1025 */
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT);
    c[19] = 0x00; /* 1024 */
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_OK);
    assert_int_equal(d.commune, 1024);
    memcpy(c, b, n);
    c[0] = 1; /* the version-2 bytes read as version 1: the lengths no longer fit */
    assert_int_equal(ct_person_state_decode(c, n, &d), CT_ERR_STORE_CORRUPT);
    s.commune = 1025;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_ERR_BAD_VALUE);
    /* maximum size */
    s.commune = 1024;
    memset(s.agent, 'a', CT_AGENT_ID_MAX);
    s.agent[CT_AGENT_ID_MAX] = 0;
    memset(s.group, 'g', CT_GROUP_MAX);
    s.group[CT_GROUP_MAX] = 0;
    assert_int_equal(ct_person_state_encode(&s, b, &n), CT_OK);
    assert_int_equal(n, 86);
    assert_true(n <= CT_PERSON_STATE_MAX);
}

/* ---- the long random sequence ---- */

#define NPERSON 300
#define NDIST 3
static const uint32_t dists[NDIST] = {68, 672, 683};
static const char *const groups[3] = {"", "nq143", "nongdan"};
/* units 68 and 672 list 3 communes (codes 1..3; 0 = the event names none),
 * 683 lists none (always 0) */
#define NCOMMUNE 3

typedef struct {
    bool present;
    ct_person_state st;
} slot;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_random_invariants(void **state)
{
    (void)state;
    static slot store[CT_PROGRAM_COUNT][NPERSON];
    memset(store, 0, sizeof store);
    ct_counts c;
    ct_counts_init(&c);
    int outcomes[5] = {0};
    /* independent model: who is enrolled, in which district */
    static int model[CT_PROGRAM_COUNT][NPERSON]; /* 0 = not enrolled, else district */
    static uint16_t model_commune[CT_PROGRAM_COUNT][NPERSON];
    memset(model, 0, sizeof model);
    memset(model_commune, 0, sizeof model_commune);
    for (uint64_t seq = 1; seq <= 200000; seq++) {
        ct_program p = (ct_program)rnd(CT_PROGRAM_COUNT);
        int person = (int)rnd(NPERSON);
        uint32_t d = dists[rnd(NDIST)];
        char agent[16];
        snprintf(agent, sizeof agent, "LD%03u-%03u", d, rnd(5) + 1);
        ct_action a = rnd(3) == 0 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL;
        ct_event e = mk(a, p, d, agent, person, groups[rnd(3)]);
        e.occurred_ms = T0 + (int64_t)rnd(10) * DAY_MS + rnd(1000) * 1000;
        uint32_t day = ct_time_yyyymmdd(e.occurred_ms, 420);
        uint16_t commune = d == 683 ? 0 : (uint16_t)rnd(NCOMMUNE + 1);
        slot *s = &store[p][person];
        /* the stored state goes through the encoding, as in the real store */
        ct_person_state prior;
        if (s->present) {
            uint8_t b[CT_PERSON_STATE_MAX];
            size_t n;
            assert_int_equal(ct_person_state_encode(&s->st, b, &n), CT_OK);
            assert_int_equal(ct_person_state_decode(b, n, &prior), CT_OK);
        }
        ct_person_state next;
        ct_tally_result r;
        ct_tally_apply(&e, day, commune, seq, s->present ? &prior : NULL, &next, &r);
        outcomes[r.outcome]++;
        for (size_t i = 0; i < r.n; i++)
            assert_int_equal(ct_counts_add(&c, &r.changes[i].key, r.changes[i].delta), CT_OK);
        if (r.state_changed) {
            s->present = true;
            s->st = next;
        }
        /* the model */
        int *m = &model[p][person];
        if (a == CT_ACTION_ENROLL) {
            assert_int_equal(r.outcome, *m ? CT_TALLY_REPEAT : CT_TALLY_COUNTED);
            if (!*m) {
                *m = (int)d;
                model_commune[p][person] = commune;
            }
        } else if (*m == (int)d) {
            assert_int_equal(r.outcome, CT_TALLY_CANCELLED);
            *m = 0;
        } else {
            assert_int_equal(r.outcome, *m ? CT_TALLY_CANCEL_FOREIGN : CT_TALLY_CANCEL_NOOP);
        }
    }
    for (int o = 0; o < 5; o++)
        assert_true(outcomes[o] > 1000); /* every path exercised */
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        for (int i = 0; i < NDIST; i++) {
            uint32_t d = dists[i];
            ct_count_key nk = K(CT_COUNT_NET, (ct_program)p, d, NULL);
            int64_t net = ct_counts_get(&c, &nk);
            int64_t want = 0;
            for (int q = 0; q < NPERSON; q++)
                want += model[p][q] == (int)d;
            assert_int_equal(net, want);
            assert_int_equal(ct_counts_sum(&c, CT_COUNT_AGENT, p, d), net);
            assert_int_equal(ct_counts_sum(&c, CT_COUNT_DAY, p, d), net);
            assert_true(ct_counts_sum(&c, CT_COUNT_GROUP, p, d) <= net);
            int64_t in_communes = 0;
            for (uint16_t code = 1; code <= NCOMMUNE; code++) {
                int64_t wc = 0;
                for (int q = 0; q < NPERSON; q++)
                    wc += model[p][q] == (int)d && model_commune[p][q] == code;
                ct_count_key kc = KCOM((ct_program)p, d, code);
                assert_int_equal(ct_counts_get(&c, &kc), wc);
                in_communes += wc;
            }
            assert_int_equal(ct_counts_sum(&c, CT_COUNT_COMMUNE, p, d), in_communes);
            assert_true(in_communes <= net);
            if (d == 683)
                assert_int_equal(in_communes, 0);
            else
                assert_true(in_communes > 0 && in_communes < net);
            ct_count_key gk = K(CT_COUNT_GROSS, (ct_program)p, d, NULL);
            ct_count_key ck = K(CT_COUNT_CANCELLED, (ct_program)p, d, NULL);
            assert_int_equal(ct_counts_get(&c, &gk) - ct_counts_get(&c, &ck), net);
        }
    }
    /* no counter of NET/AGENT/DAY/GROUP is ever negative */
    for (size_t i = 0; i < c.cap; i++)
        if (c.slots[i].used) assert_true(c.slots[i].value >= 0);
    /* total REPEAT + CANCEL_NOOP match the outcomes */
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_REPEAT, -1, 0), outcomes[CT_TALLY_REPEAT]);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_CANCEL_NOOP, -1, 0),
                     outcomes[CT_TALLY_CANCEL_NOOP] + outcomes[CT_TALLY_CANCEL_FOREIGN]);
    ct_counts_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enroll_and_repeat),
        cmocka_unit_test(test_cancel_paths),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_str),
        cmocka_unit_test(test_person_state_encoding),
        cmocka_unit_test(test_commune),
        cmocka_unit_test(test_commune_key),
        cmocka_unit_test(test_person_state_v2),
        cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
