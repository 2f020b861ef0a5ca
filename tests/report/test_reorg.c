/* test_reorg.c — the projection onto the units in force / the original units
 * (report/ct_reorg.h, docs/PROTOCOL.md §4.5), on counters made by the tally
 * rule (ct_tally_apply) from enroll events, with exact hand-computed values:
 *
 * - unit 675 lists communes Xã A..Xã D and has 8 sign-ups, 2 per commune;
 *   the reorganization "split" sends Xã A and Xã B to 677 (the rest of 675
 *   stays): exactly half (4) of 675's past sign-ups move, with their
 *   COMMUNE counters re-coded in 677's list; DAY, GROSS and staff rows stay
 *   with the rest (what a split cannot attribute);
 * - "merge" (later) maps 672 and 677 whole into the new unit 690, renames it
 *   and moves one staff member of 675 there: 690 = exact sum, targets summed
 *   from the parts' targets in force (a revision of 672 included), a part's
 *   close dropped, LATE_MAX the maximum;
 * - a reorganization is in force only from its effective time (clock), and
 *   the original projection is the counters as kept, without the new unit;
 * - the province's sums are the same in both projections;
 * - a unit-level close of a unit merged into another is shown under the
 *   unit in force, closed "by part" (the part named): official = the merged
 *   unit's figure minus that part's arrivals after its close, exactly; the
 *   JSON day names the part; the original projection shows the part's own
 *   close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_be.h"
#include "ct_campaign_load.h"
#include "ct_counts.h"
#include "ct_reorg.h"
#include "ct_status.h"
#include "ct_status_life.h"

static const char INI[] = "[campaign]\n"
                          "id = r1\n"
                          "start = 2023-07-22T08:00:00+07:00\n"
                          "end = 2023-08-01T00:00:00+07:00\n"
                          "timezone = +07:00\n"
                          "roster = staff.csv\n"
                          "[program bhxh_tn]\n"
                          "agent_target = 1\n"
                          "[program bhyt_hgd]\n"
                          "agent_target = 2\n"
                          "[district 672]\n"
                          "name = Đà Lạt\n"
                          "[district 675]\n"
                          "name = Lạc Dương\n"
                          "commune = Xã D\n"
                          "commune = Xã C\n"
                          "commune = Xã B\n"
                          "commune = Xã A\n"
                          "[district 677]\n"
                          "name = Đơn Dương\n"
                          "commune = Xã E\n"
                          "commune = Xã B\n"
                          "commune = Xã A\n"
                          "[district 690]\n"
                          "name = Đơn vị mới\n"
                          "commune = Xã A\n"
                          "[reorg split]\n"
                          "map = 675 Xã A -> 677\n"
                          "map = 675 Xã B -> 677\n"
                          "map = 675 -> 675\n"
                          "[reorg merge]\n"
                          "label = Hợp nhất Đà Lạt và Đơn Dương\n"
                          "map = 672 -> 690\n"
                          "map = 677 -> 690\n"
                          "rename = 690 Đà Lạt - Đơn Dương\n"
                          "move = S675-2 -> 690\n";

static const char ROSTER[] = "agent_id,name,district,org\n"
                             "S672-1,A,672,bhxh\n"
                             "S672-2,B,672,bhxh\n"
                             "S675-1,C,675,bhxh\n"
                             "S675-2,D,675,bhxh\n"
                             "S677-1,E,677,buudien\n";

#define T0 INT64_C(1689987600000) /* 2023-07-22T08:00+07:00 */
#define HOUR INT64_C(3600000)
#define EF_SPLIT (T0 + 48 * HOUR)
#define EF_MERGE (T0 + 96 * HOUR)

static ct_campaign C;
static ct_counts K;
static uint64_t seq;

static void enroll(uint32_t unit, const char *agent, const char *commune, int64_t t, int who)
{
    ct_event ev;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.campaign, "r1");
    ev.district = unit;
    strcpy(ev.agent, agent);
    strcpy(ev.commune, commune);
    ev.program = CT_PROGRAM_BHXH_TN;
    ev.action = CT_ACTION_ENROLL;
    ev.occurred_ms = t;
    ev.person[0] = (uint8_t)who;
    ev.person[1] = (uint8_t)(who >> 8);
    assert_int_equal(ct_campaign_check_event(&C, &ev, INT64_MAX), CT_OK);
    ct_person_state next;
    ct_tally_result r;
    ct_tally_apply(&ev, ct_campaign_local_day(&C, t), ct_campaign_commune_code(&C, unit, commune),
                   ++seq, NULL, &next, &r);
    assert_int_equal(r.outcome, CT_TALLY_COUNTED);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(ct_counts_add(&K, &r.changes[i].key, r.changes[i].delta), CT_OK);
}

static ct_count_key key(ct_count_kind kind, ct_program p, uint32_t unit, const void *dim, size_t dl)
{
    return ct_count_key_make(kind, p, unit, dim, dl);
}

static int64_t get(const ct_counts *k, ct_count_kind kind, uint32_t unit, const void *dim,
                   size_t dl)
{
    ct_count_key kk = key(kind, CT_PROGRAM_BHXH_TN, unit, dim, dl);
    return ct_counts_get(k, &kk);
}

static int64_t net(const ct_counts *k, uint32_t unit)
{
    return get(k, CT_COUNT_NET, unit, NULL, 0);
}

static int64_t commune(const ct_counts *k, uint32_t unit, uint16_t code)
{
    uint8_t b[2];
    ct_be16_put(b, code);
    return get(k, CT_COUNT_COMMUNE, unit, b, 2);
}

static int64_t agent(const ct_counts *k, uint32_t unit, const char *id)
{
    return get(k, CT_COUNT_AGENT, unit, id, strlen(id));
}

static void set_reorg(const char *name, int64_t ef)
{
    ct_count_key k = key(CT_COUNT_REORG, CT_PROGRAM_BHXH_TN, 0, name, strlen(name));
    assert_int_equal(ct_counts_set(&K, &k, ef), CT_OK);
}

static void set_target(uint32_t unit, int64_t ef, uint64_t s, int64_t n)
{
    uint8_t dim[16];
    ct_be64_put(dim, (uint64_t)ef);
    ct_be64_put(dim + 8, s);
    ct_count_key k = key(CT_COUNT_TARGET, CT_PROGRAM_BHXH_TN, unit, dim, 16);
    assert_int_equal(ct_counts_set(&K, &k, n), CT_OK);
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(ct_campaign_load_mem("r.ini", INI, strlen(INI), "staff.csv", ROSTER,
                                          strlen(ROSTER), &C, err, sizeof err),
                     CT_OK);
    ct_counts_init(&K);
    static const char *const names[] = {"Xã A", "Xã B", "Xã C", "Xã D"};
    for (int i = 0; i < 8; i++) /* 2 per commune, days 22 and 23 */
        enroll(675, "S675-1", names[i / 2], T0 + (i % 2) * 24 * HOUR, 100 + i);
    enroll(672, "S672-1", "", T0 + HOUR, 200);
    enroll(672, "S672-2", "", T0 + HOUR, 201);
    enroll(672, "S672-2", "", T0 + 30 * HOUR, 202);
    enroll(677, "S677-1", "Xã E", T0 + HOUR, 300);
    enroll(677, "S677-1", "Xã A", T0 + HOUR, 301);
    /* moved staff record for the unit moved to (before and after it is in force) */
    enroll(690, "S675-2", "Xã A", T0 + 100 * HOUR, 400);
    set_reorg("split", EF_SPLIT);
    set_reorg("merge", EF_MERGE);
    set_target(672, T0, 9, 10); /* 672's bhxh_tn target revised to 10 before the merge */
    uint8_t day[4];
    ct_be32_put(day, 20230722);
    ct_count_key close672 = key(CT_COUNT_CLOSE, CT_PROGRAM_BHXH_TN, 672, day, 4);
    ct_count_key close0 = key(CT_COUNT_CLOSE, CT_PROGRAM_BHXH_TN, 0, day, 4);
    assert_int_equal(ct_counts_set(&K, &close672, 21), CT_OK);
    assert_int_equal(ct_counts_set(&K, &close0, 22), CT_OK);
    ct_count_key lm672 = key(CT_COUNT_LATE_MAX, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
    ct_count_key lm677 = key(CT_COUNT_LATE_MAX, CT_PROGRAM_BHXH_TN, 677, NULL, 0);
    assert_int_equal(ct_counts_set(&K, &lm672, 100), CT_OK);
    assert_int_equal(ct_counts_set(&K, &lm677, 50), CT_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ct_counts_free(&K);
    ct_campaign_free(&C);
    return 0;
}

static int64_t province(const ct_counts *k, ct_count_kind kind)
{
    return ct_counts_sum(k, kind, CT_PROGRAM_BHXH_TN, 0);
}

static void same_province(const ct_counts *k)
{
    static const ct_count_kind kinds[] = {CT_COUNT_NET,   CT_COUNT_GROSS,    CT_COUNT_AGENT,
                                          CT_COUNT_DAY,   CT_COUNT_RECV_DAY, CT_COUNT_LATE_HIST,
                                          CT_COUNT_REPEAT};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        assert_int_equal(province(k, kinds[i]), province(&K, kinds[i]));
}

/* Before the split's effective time both projections are the counters as kept. */
static void test_before(void **state)
{
    (void)state;
    for (int u = 0; u < 2; u++) {
        ct_reorg_view v;
        assert_int_equal(ct_reorg_project(&C, &K, EF_SPLIT - 1, (ct_units)u, &v), CT_OK);
        assert_ptr_equal(ct_reorg_counts(&v, &K), &K);
        const ct_campaign *vc = ct_reorg_campaign(&v, &C);
        /* 690 has figures (a moved staff member recorded there): shown, target 0 */
        assert_int_equal(vc->n_districts, 4);
        assert_int_equal(ct_campaign_district(vc, 690)->target[0], 0);
        assert_int_equal(vc->province_target[0], 5);
        assert_int_equal(ct_campaign_agent(vc, "S675-2")->district, 675);
        ct_reorg_view_free(&v);
    }
}

static void test_split(void **state)
{
    (void)state;
    ct_reorg_view v;
    assert_int_equal(ct_reorg_project(&C, &K, EF_MERGE - 1, CT_UNITS_CURRENT, &v), CT_OK);
    const ct_counts *k = ct_reorg_counts(&v, &K);
    assert_ptr_not_equal(k, &K);
    assert_int_equal(net(&K, 675), 8);
    assert_int_equal(net(k, 675), 4); /* exactly half: Xã C and Xã D stay */
    assert_int_equal(net(k, 677), 2 + 4);
    /* 675's list: A 1, B 2, C 3, D 4; 677's: A 1, B 2, E 3 */
    assert_int_equal(commune(k, 675, 1), 0);
    assert_int_equal(commune(k, 675, 2), 0);
    assert_int_equal(commune(k, 675, 3), 2);
    assert_int_equal(commune(k, 675, 4), 2);
    assert_int_equal(commune(k, 677, 1), 1 + 2);
    assert_int_equal(commune(k, 677, 2), 2);
    assert_int_equal(commune(k, 677, 3), 1);
    /* what a split cannot attribute stays with the rest: staff rows, days, gross */
    assert_int_equal(agent(k, 675, "S675-1"), 8);
    assert_int_equal(get(k, CT_COUNT_GROSS, 675, NULL, 0), 8);
    uint8_t d22[4], d23[4];
    ct_be32_put(d22, 20230722);
    ct_be32_put(d23, 20230723);
    assert_int_equal(get(k, CT_COUNT_DAY, 675, d22, 4) + get(k, CT_COUNT_DAY, 675, d23, 4), 8);
    same_province(k);
    const ct_campaign *vc = ct_reorg_campaign(&v, &C);
    assert_int_equal(vc->n_districts, 4); /* 690 not in force, but has figures */
    /* 677 receives the rest of nothing: one source, its own target */
    assert_int_equal(ct_campaign_district(vc, 677)->target[0], 1);
    /* the original projection at the same clock: as kept */
    ct_reorg_view o;
    assert_int_equal(ct_reorg_project(&C, &K, EF_MERGE - 1, CT_UNITS_ORIGINAL, &o), CT_OK);
    assert_ptr_equal(ct_reorg_counts(&o, &K), &K);
    ct_reorg_view_free(&o);
    ct_reorg_view_free(&v);
}

static void test_merge(void **state)
{
    (void)state;
    set_target(690, EF_MERGE, 30, 40); /* a revision issued for the new unit: kept as it is */
    ct_reorg_view v;
    assert_int_equal(ct_reorg_project(&C, &K, EF_MERGE, CT_UNITS_CURRENT, &v), CT_OK);
    const ct_counts *k = ct_reorg_counts(&v, &K);
    const ct_campaign *vc = ct_reorg_campaign(&v, &C);
    /* units in force: 675 and 690 */
    assert_int_equal(vc->n_districts, 2);
    assert_int_equal(vc->districts[0].code, 675);
    assert_int_equal(vc->districts[1].code, 690);
    assert_string_equal(vc->districts[1].name, "Đà Lạt - Đơn Dương");
    /* 690 = 672 (3) + 677 (2) + 675's Xã A and Xã B (4) + its own (1) */
    assert_int_equal(net(k, 690), 3 + 2 + 4 + 1);
    assert_int_equal(net(k, 675), 4);
    assert_int_equal(net(k, 672), 0);
    assert_int_equal(net(k, 677), 0);
    /* 690 lists only Xã A: A's figures carry its code there, the others only NET */
    assert_int_equal(commune(k, 690, 1), 1 + 2 + 1);
    /* staff follow their unit: 672's, 677's, and the moved S675-2 */
    assert_int_equal(agent(k, 690, "S672-2"), 2);
    assert_int_equal(agent(k, 690, "S677-1"), 2);
    assert_int_equal(agent(k, 690, "S675-2"), 1);
    assert_int_equal(agent(k, 675, "S675-1"), 8);
    assert_int_equal(ct_campaign_district(vc, 690)->n_agents, 4);
    assert_int_equal(ct_campaign_district(vc, 675)->n_agents, 1);
    assert_int_equal(ct_campaign_agent(vc, "S675-2")->district, 690);
    /* target: 672's revision in force (10) + 677's file target (1); bhyt_hgd 4 + 2 */
    assert_int_equal(ct_campaign_district(vc, 690)->target[0], 11);
    assert_int_equal(ct_campaign_district(vc, 690)->target[1], 6);
    uint8_t zero[16] = {0};
    assert_int_equal(get(k, CT_COUNT_TARGET, 690, zero, 16), 11);
    uint8_t rev[16];
    ct_be64_put(rev, (uint64_t)EF_MERGE);
    ct_be64_put(rev + 8, 30);
    assert_int_equal(get(k, CT_COUNT_TARGET, 690, rev, 16), 40);
    ct_be64_put(rev, (uint64_t)T0);
    ct_be64_put(rev + 8, 9);
    assert_int_equal(get(k, CT_COUNT_TARGET, 672, rev, 16), 0); /* folded into 690's */
    assert_int_equal(vc->province_target[0], 2 + 11);
    /* the part's close is not the merged unit's; the province's stays */
    uint8_t day[4];
    ct_be32_put(day, 20230722);
    assert_int_equal(get(k, CT_COUNT_CLOSE, 690, day, 4), 0);
    assert_int_equal(get(k, CT_COUNT_CLOSE, 672, day, 4), 0);
    assert_int_equal(get(k, CT_COUNT_CLOSE, 0, day, 4), 22);
    assert_int_equal(get(k, CT_COUNT_LATE_MAX, 690, NULL, 0), 100);
    assert_int_equal(get(k, CT_COUNT_REORG, 0, "merge", 5), EF_MERGE);
    same_province(k);
    /* the renderings take the projection like any campaign and counters */
    ct_status_figures f;
    assert_int_equal(ct_status_compute(vc, k, EF_MERGE, &f), CT_OK);
    ct_status_figures_free(&f);
    ct_reorg_view_free(&v);
}

/* A campaign without [reorg] sections is never copied. */
static void test_none(void **state)
{
    (void)state;
    static const char ini[] = "[campaign]\nid = x\nstart = 2023-07-22T08:00:00+07:00\n"
                              "end = 2023-08-01T00:00:00+07:00\ntimezone = +07:00\n"
                              "roster = s.csv\n[program bhxh_tn]\nagent_target = 1\n"
                              "[program bhyt_hgd]\nagent_target = 2\n[district 1]\nname = A\n";
    static const char ros[] = "agent_id,name,district,org\nA,B,1,bhxh\n";
    ct_campaign c;
    char err[256];
    assert_int_equal(
        ct_campaign_load_mem("x.ini", ini, strlen(ini), "s.csv", ros, strlen(ros), &c, err, 256),
        CT_OK);
    ct_reorg_view v;
    assert_int_equal(ct_reorg_project(&c, &K, INT64_MAX, CT_UNITS_CURRENT, &v), CT_OK);
    assert_false(v.projected);
    assert_ptr_equal(ct_reorg_campaign(&v, &c), &c);
    assert_ptr_equal(ct_reorg_counts(&v, &K), &K);
    ct_reorg_view_free(&v);
    ct_campaign_free(&c);
}

/* Without staff moves, staff rows follow the unit they were recorded in. */
static void test_merge_no_moves(void **state)
{
    (void)state;
    static const char ini[] = "[campaign]\nid = x\nstart = 2023-07-22T08:00:00+07:00\n"
                              "end = 2023-08-01T00:00:00+07:00\ntimezone = +07:00\n"
                              "roster = s.csv\n[program bhxh_tn]\nagent_target = 1\n"
                              "[program bhyt_hgd]\nagent_target = 2\n[district 1]\nname = A\n"
                              "[district 2]\nname = B\n[reorg m]\nmap = 2 -> 1\n";
    static const char ros[] = "agent_id,name,district,org\nA,B,1,bhxh\nB,C,2,bhxh\n";
    ct_campaign c;
    char err[256];
    assert_int_equal(
        ct_campaign_load_mem("x.ini", ini, strlen(ini), "s.csv", ros, strlen(ros), &c, err, 256),
        CT_OK);
    ct_counts k;
    ct_counts_init(&k);
    ct_count_key a = key(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 1, "A", 1);
    ct_count_key b = key(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 2, "B", 1);
    ct_count_key r = key(CT_COUNT_REORG, CT_PROGRAM_BHXH_TN, 0, "m", 1);
    assert_int_equal(ct_counts_set(&k, &a, 3), CT_OK);
    assert_int_equal(ct_counts_set(&k, &b, 4), CT_OK);
    assert_int_equal(ct_counts_set(&k, &r, T0), CT_OK);
    ct_reorg_view v;
    assert_int_equal(ct_reorg_project(&c, &k, T0, CT_UNITS_CURRENT, &v), CT_OK);
    const ct_counts *pk = ct_reorg_counts(&v, &k);
    assert_int_equal(agent(pk, 1, "A"), 3);
    assert_int_equal(agent(pk, 1, "B"), 4);
    assert_int_equal(agent(pk, 2, "B"), 0);
    assert_int_equal(ct_reorg_campaign(&v, &c)->n_districts, 1);
    assert_int_equal(ct_campaign_agent(ct_reorg_campaign(&v, &c), "B")->district, 1);
    ct_reorg_view_free(&v);
    ct_counts_free(&k);
    ct_campaign_free(&c);
}

static void set_key(ct_counts *k, ct_count_kind kind, uint32_t unit, const void *dim, size_t dl,
                    int64_t v)
{
    ct_count_key kk = key(kind, CT_PROGRAM_BHXH_TN, unit, dim, dl);
    assert_int_equal(ct_counts_set(k, &kk, v), CT_OK);
}

/* Unit 2 merged into unit 1 (map = 2 -> 1): 2 closed 22 July at seq 10, one
 * of its 2 sign-ups of that day arrived after the close; 1 has 3 that day. */
static void test_part_close(void **state)
{
    (void)state;
    static const char ini[] = "[campaign]\nid = x\nstart = 2023-07-22T08:00:00+07:00\n"
                              "end = 2023-08-01T00:00:00+07:00\ntimezone = +07:00\n"
                              "roster = s.csv\n[program bhxh_tn]\nagent_target = 1\n"
                              "[program bhyt_hgd]\nagent_target = 2\n[district 1]\nname = A\n"
                              "[district 2]\nname = B\n[reorg m]\nmap = 2 -> 1\n";
    static const char ros[] = "agent_id,name,district,org\nA,B,1,bhxh\nB,C,2,bhxh\n";
    ct_campaign c;
    char err[256];
    assert_int_equal(
        ct_campaign_load_mem("x.ini", ini, strlen(ini), "s.csv", ros, strlen(ros), &c, err, 256),
        CT_OK);
    ct_counts k;
    ct_counts_init(&k);
    uint8_t day[4], ac[12], life[8], pday[8];
    ct_be32_put(day, 20230722);
    memcpy(ac, day, 4);
    ct_be64_put(ac + 4, 10);
    ct_be64_put(life, 10);
    memcpy(pday, day, 4);
    ct_be32_put(pday + 4, 2);
    set_key(&k, CT_COUNT_NET, 1, NULL, 0, 3);
    set_key(&k, CT_COUNT_NET, 2, NULL, 0, 2);
    set_key(&k, CT_COUNT_DAY, 1, day, 4, 3);
    set_key(&k, CT_COUNT_DAY, 2, day, 4, 2);
    set_key(&k, CT_COUNT_CLOSE, 2, day, 4, 10);
    set_key(&k, CT_COUNT_AFTER_CLOSE, 2, ac, 12, 1);
    set_key(&k, CT_COUNT_LIFE, 2, life, 8, 4);
    set_key(&k, CT_COUNT_REORG, 0, "m", 1, T0);
    ct_reorg_view v;
    assert_int_equal(ct_reorg_project(&c, &k, T0 + HOUR, CT_UNITS_CURRENT, &v), CT_OK);
    const ct_counts *pk = ct_reorg_counts(&v, &k);
    const ct_campaign *vc = ct_reorg_campaign(&v, &c);
    assert_int_equal(get(pk, CT_COUNT_CLOSE, 1, pday, 8), 10);
    assert_int_equal(get(pk, CT_COUNT_CLOSE, 1, day, 4), 0); /* 1 itself is not closed */
    assert_int_equal(get(pk, CT_COUNT_CLOSE, 2, day, 4), 0);
    assert_int_equal(get(pk, CT_COUNT_AFTER_CLOSE, 1, ac, 12), 1);
    assert_int_equal(get(pk, CT_COUNT_DAY, 1, day, 4), 5);
    ct_status_figures f;
    assert_int_equal(ct_status_compute(vc, pk, T0 + HOUR, &f), CT_OK);
    assert_non_null(f.life);
    assert_int_equal(f.n_districts, 1);
    assert_true(f.n_days > 0 && f.days[0].day == 20230722);
    const ct_life_day *d = &f.life->units[0].days[0];
    assert_int_equal(d->close_seq, 10);
    assert_false(d->by_province);
    assert_int_equal(d->part, 2);
    assert_int_equal(d->n_parts, 1);
    assert_int_equal(d->current[0], 5);
    assert_int_equal(d->official[0], 4); /* 1's 3 + 2's 1 as at its close */
    assert_int_equal(f.life->n_changes, 1);
    assert_int_equal(f.life->changes[0].unit, 1);
    assert_int_equal(f.life->changes[0].day, 20230722);
    ct_status_position pos = {.seq = 10, .now_ms = T0 + HOUR, .feed = "replay"};
    ct_buf out = CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(vc, &f, &pos, CT_FMT_JSON, CT_STATUS_DETAIL, &out),
                     CT_OK);
    assert_int_equal(ct_buf_append(&out, "", 1), CT_OK);
    assert_non_null(
        strstr((const char *)out.data,
               "{\"day\":\"2023-07-22\",\"close_seq\":10,\"closed_by\":\"part\","
               "\"part\":2,\"parts_closed\":1,\"recorded\":{\"bhxh_tn\":5,\"bhyt_hgd\":0},"
               "\"official\":{\"bhxh_tn\":4,\"bhyt_hgd\":0}"));
    ct_buf_free(&out);
    ct_status_figures_free(&f);
    ct_reorg_view_free(&v);
    /* by the original units: 2's own close, its official figure 1 */
    assert_int_equal(ct_reorg_project(&c, &k, T0 + HOUR, CT_UNITS_ORIGINAL, &v), CT_OK);
    assert_int_equal(
        ct_status_compute(ct_reorg_campaign(&v, &c), ct_reorg_counts(&v, &k), T0 + HOUR, &f),
        CT_OK);
    assert_int_equal(f.n_districts, 2);
    d = &f.life->units[1].days[0];
    assert_true(d->close_seq == 10 && !d->by_province && d->part == 0);
    assert_int_equal(d->official[0], 1);
    ct_status_figures_free(&f);
    ct_reorg_view_free(&v);
    ct_counts_free(&k);
    ct_campaign_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before),         cmocka_unit_test(test_split),
        cmocka_unit_test(test_merge),          cmocka_unit_test(test_none),
        cmocka_unit_test(test_merge_no_moves), cmocka_unit_test(test_part_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
