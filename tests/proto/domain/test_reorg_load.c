/* test_reorg_load.c — [reorg NAME] sections of a campaign file
 * (docs/PROTOCOL.md §4.5): a valid file loads into sorted ct_reorg arrays,
 * a new unit is left out of the province target, a moved staff member's
 * events are accepted for the unit they are moved to (and only that one),
 * and every broken line is refused with its exact "file:line: message".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_buf.h"
#include "ct_campaign_load.h"

/* Lines 1..27; [reorg] sections are appended from line 28. */
static const char base_ini[] = "[campaign]\n"                        /* 1 */
                               "id = r-2023\n"                       /* 2 */
                               "start = 2023-07-22T08:00:00+07:00\n" /* 3 */
                               "end = 2023-08-01T00:00:00+07:00\n"   /* 4 */
                               "timezone = +07:00\n"                 /* 5 */
                               "roster = staff.csv\n"                /* 6 */
                               "[program bhxh_tn]\n"                 /* 7 */
                               "agent_target = 1\n"                  /* 8 */
                               "[program bhyt_hgd]\n"                /* 9 */
                               "agent_target = 2\n"                  /* 10 */
                               "[district 672]\n"                    /* 11 */
                               "name = Đà Lạt\n"                     /* 12 */
                               "[district 675]\n"                    /* 13 */
                               "name = Lạc Dương\n"                  /* 14 */
                               "commune = Xã Lát\n"                  /* 15 */
                               "commune = Xã Đạ Chais\n"             /* 16 */
                               "commune = Thị trấn Lạc Dương\n"      /* 17 */
                               "[district 677]\n"                    /* 18 */
                               "name = Đơn Dương\n"                  /* 19 */
                               "[district 690]\n"                    /* 20 */
                               "name = Đà Lạt mới\n"                 /* 21 */
                               "target.bhxh_tn = 50\n"               /* 22 */
                               "[district 691]\n"                    /* 23 */
                               "name = Không dùng\n"                 /* 24 */
                               "[group g1]\n"                        /* 25 */
                               "name = G\n"                          /* 26 */
                               "; reorganizations follow\n";         /* 27 */

static const char roster[] = "agent_id,name,district,org\n"
                             "LD672-001,A,672,bhxh\n"
                             "LD672-002,B,672,bhxh\n"
                             "LD675-001,C,675,bhxh\n"
                             "LD677-001,D,677,buudien\n";

static ct_err load(const char *tail, ct_campaign *c, char *err, size_t errlen)
{
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_buf_append(&b, base_ini, strlen(base_ini)), CT_OK);
    assert_int_equal(ct_buf_append(&b, tail, strlen(tail)), CT_OK);
    ct_err e = ct_campaign_load_mem("t.ini", (const char *)b.data, b.len, "staff.csv", roster,
                                    strlen(roster), c, err, errlen);
    ct_buf_free(&b);
    return e;
}

static void test_valid(void **state)
{
    (void)state;
    ct_campaign c;
    char err[512];
    ct_err e = load("[reorg merge]\n"                       /* 28 */
                    "label = Hợp nhất\n"                    /* 29 */
                    "map = 672 -> 690\n"                    /* 30 */
                    "map = 675 Xã Lát -> 690\n"             /* 31 */
                    "map = 675 -> 677\n"                    /* 32 */
                    "map = 675 Thị trấn Lạc Dương -> 672\n" /* 33 (672 is mapped: see below) */
                    "rename = 677 Đơn Dương mới\n"          /* 34 */
                    "move = LD672-002 -> 677\n"             /* 35 */
                    "[reorg a-first]\n"                     /* 36 */
                    "move=LD677-001->672\n",                /* 37 */
                    &c, err, sizeof err);
    /* 672 is mapped away by the same reorganization: a commune cannot go there */
    assert_int_equal(e, CT_ERR_CONFIG);
    assert_string_equal(err, "t.ini:33: map: target unit 672 is itself mapped away by this "
                             "reorganization (line 30); map to its final unit");
    e = load("[reorg merge]\n"
             "label = Hợp nhất\n"
             "map = 672 -> 690\n"
             "map = 675 Xã Lát -> 690\n"
             "map = 675 -> 677\n"
             "rename = 677 Đơn Dương mới\n"
             "move = LD672-002 -> 677\n"
             "[reorg a-first]\n"
             "move=LD677-001->672\n",
             &c, err, sizeof err);
    assert_int_equal(e, CT_OK);
    assert_int_equal(c.n_reorgs, 2);
    assert_string_equal(c.reorgs[0].name, "a-first");
    assert_string_equal(c.reorgs[0].label, "a-first"); /* default: the name */
    assert_int_equal(c.reorgs[0].n_moves, 1);
    assert_string_equal(c.reorgs[0].moves[0].agent, "LD677-001");
    assert_int_equal(c.reorgs[0].moves[0].to, 672);
    const ct_reorg *r = &c.reorgs[1];
    assert_string_equal(r->name, "merge");
    assert_string_equal(r->label, "Hợp nhất");
    assert_int_equal(r->n_maps, 3);
    /* sorted by (from, commune): the rest ("") first */
    assert_int_equal(r->maps[0].from, 672);
    assert_string_equal(r->maps[0].commune, "");
    assert_int_equal(r->maps[0].to, 690);
    assert_int_equal(r->maps[1].from, 675);
    assert_string_equal(r->maps[1].commune, "");
    assert_int_equal(r->maps[1].to, 677);
    assert_string_equal(r->maps[2].commune, "Xã Lát");
    assert_int_equal(r->maps[2].to, 690);
    assert_int_equal(r->n_renames, 1);
    assert_int_equal(r->renames[0].unit, 677);
    assert_string_equal(r->renames[0].name, "Đơn Dương mới");
    assert_int_equal(r->n_moves, 1);
    /* 690 exists only after a reorganization: not in the province's original target;
     * 691 (no staff, no map into it) is an ordinary unit with target 0 */
    assert_int_equal(ct_campaign_district(&c, 690)->target[CT_PROGRAM_BHXH_TN], 50);
    assert_int_equal(c.province_target[CT_PROGRAM_BHXH_TN], 4);
    assert_int_equal(c.province_target[CT_PROGRAM_BHYT_HGD], 8);

    /* staff moves: accepted for the unit moved to, still for the roster unit */
    ct_event ev;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.campaign, "r-2023");
    ev.occurred_ms = c.start_ms + 1000;
    const struct {
        const char *agent;
        uint32_t unit;
        ct_err want;
    } cases[] = {
        {"LD672-002", 672, CT_OK},
        {"LD672-002", 677, CT_OK}, /* moved to 677 by "merge" */
        {"LD672-002", 690, CT_ERR_AGENT_DISTRICT},
        {"LD672-001", 677, CT_ERR_AGENT_DISTRICT}, /* not moved */
        {"LD672-001", 690, CT_ERR_AGENT_DISTRICT}, /* a merge moves figures, not staff */
        {"LD677-001", 672, CT_OK},                 /* moved by "a-first" */
        {"LD677-001", 675, CT_ERR_AGENT_DISTRICT},
    };
    ct_campaign_checker *k;
    assert_int_equal(ct_campaign_checker_new(&c, &k), CT_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strcpy(ev.agent, cases[i].agent);
        ev.district = cases[i].unit;
        assert_int_equal(ct_campaign_check_event(&c, &ev, INT64_MAX), cases[i].want);
        assert_int_equal(ct_campaign_checker_check(k, &ev, INT64_MAX), cases[i].want);
        assert_int_equal(ct_campaign_checker_check(k, &ev, INT64_MAX), cases[i].want);
    }
    ct_campaign_checker_free(k);
    ct_campaign_free(&c);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *tail;
        const char *want;
    } cases[] = {
        {"[reorg]\n", "t.ini:28: section [reorg] needs a name, e.g. [reorg merge-2025]"},
        {"[reorg a b]\n",
         "t.ini:28: bad reorganization name 'a b' (1..32 characters of A-Z a-z 0-9 _ - .)"},
        {"[reorg x]\nmap = 672 -> 690\n[reorg x]\n",
         "t.ini:30: duplicate reorg x (first at line 28)"},
        {"[reorg x]\n", "t.ini:28: [reorg x] has no map, move or rename"},
        {"[reorg x]\ncolour = red\n",
         "t.ini:29: unknown key 'colour' in [reorg x] (expected label, map, move or rename)"},
        {"[reorg x]\nlabel = a\nlabel = b\n",
         "t.ini:30: duplicate key 'label' in [reorg x] (first at line 29)"},
        {"[reorg x]\nmap = 672 690\n",
         "t.ini:29: bad map '672 690' (expected 'UNIT -> UNIT' or 'UNIT COMMUNE -> UNIT')"},
        {"[reorg x]\nmap = 672 ->\n",
         "t.ini:29: bad map '672 ->' (expected 'UNIT -> UNIT' or 'UNIT COMMUNE -> UNIT')"},
        {"[reorg x]\nmap = 0 -> 690\n",
         "t.ini:29: bad map '0 -> 690' (expected 'UNIT -> UNIT' or 'UNIT COMMUNE -> UNIT')"},
        {"[reorg x]\nmap = 672 -> 690 x\n",
         "t.ini:29: bad map '672 -> 690 x' (expected 'UNIT -> UNIT' or 'UNIT COMMUNE -> UNIT')"},
        {"[reorg x]\nmap = 999 -> 690\n",
         "t.ini:29: map: unit 999 is not declared as a [district 999]"},
        {"[reorg x]\nmap = 672 -> 999\n",
         "t.ini:29: map: unit 999 is not declared as a [district 999]"},
        {"[reorg x]\nmap = 675 Xã Nào -> 690\nmap = 675 -> 677\n",
         "t.ini:29: map: commune 'Xã Nào' is not in the list of [district 675]"},
        {"[reorg x]\nmap = 672 Phường 1 -> 690\nmap = 672 -> 677\n",
         "t.ini:29: map: commune 'Phường 1' is not in the list of [district 672]"},
        {"[reorg x]\nmap = 675 Xã Lát -> 690\n",
         "t.ini:29: map: the split of unit 675 has no rest mapping (add 'map = 675 -> UNIT')"},
        {"[reorg x]\nmap = 672 -> 690\nmap = 672 -> 677\n",
         "t.ini:30: map: unit 672 mapped twice (first at line 29)"},
        {"[reorg x]\nmap = 675 Xã Lát -> 690\nmap = 675 Xã Lát -> 672\nmap = 675 -> 675\n",
         "t.ini:30: map: commune 'Xã Lát' of unit 675 mapped twice (first at line 29)"},
        {"[reorg x]\nmap = 672 -> 672\n", "t.ini:29: map: unit 672 is mapped to itself"},
        {"[reorg x]\nmap = 675 Xã Lát -> 677\nmap = 675 -> 677\n",
         "t.ini:29: map: commune 'Xã Lát' goes where the rest of unit 675 goes"},
        {"[reorg x]\nmap = 672 -> 690\nmap = 690 -> 677\n",
         "t.ini:29: map: target unit 690 is itself mapped away by this reorganization (line "
         "30); map to its final unit"},
        {"[reorg x]\nmove = LD999-001 -> 672\n",
         "t.ini:29: move: staff 'LD999-001' is not on the roster"},
        {"[reorg x]\nmove = LD672-001 -> 999\n",
         "t.ini:29: move: unit 999 is not declared as a [district 999]"},
        {"[reorg x]\nmove = LD672-001 -> 672\n",
         "t.ini:29: move: staff 'LD672-001' is already in unit 672"},
        {"[reorg x]\nmove = LD672-001 -> 677\nmove = LD672-001 -> 675\n",
         "t.ini:30: move: staff 'LD672-001' moved twice (first at line 29)"},
        {"[reorg x]\nmap = 677 -> 690\nmove = LD672-001 -> 677\n",
         "t.ini:30: move: unit 677 is mapped away by this reorganization (line 29)"},
        {"[reorg x]\nmove = LD 672 -> 677\n", "t.ini:29: bad move 'LD 672 -> 677' (expected "
                                              "'STAFF_ID -> UNIT')"},
        {"[reorg x]\nrename = 672\n", "t.ini:29: bad rename '672' (expected 'UNIT NEW NAME')"},
        {"[reorg x]\nrename = 999 X\n",
         "t.ini:29: rename: unit 999 is not declared as a [district 999]"},
        {"[reorg x]\nrename = 672 X\nrename = 672 Y\n",
         "t.ini:30: rename: unit 672 renamed twice (first at line 29)"},
        {"[reorg x]\nmap = 672 -> 690\nrename = 672 X\n",
         "t.ini:30: rename: unit 672 is mapped away by this reorganization (line 29)"},
        {"[reorg x]\nrename = 672 \x01\n", "t.ini:29: 'rename' is not valid UTF-8 text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_campaign c;
        char err[512];
        ct_err e = load(cases[i].tail, &c, err, sizeof err);
        if (e != CT_ERR_CONFIG || strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu: got %d '%s', want '%s'", i, (int)e, err, cases[i].want);
        assert_null(c.reorgs);
        assert_null(c.districts);
    }
}

/* The fingerprint covers a [reorg] section like any other line. */
static void test_fingerprint(void **state)
{
    (void)state;
    ct_campaign a, b;
    char err[512];
    assert_int_equal(load("", &a, err, sizeof err), CT_OK);
    assert_int_equal(load("[reorg x]\nmap = 672 -> 690\n", &b, err, sizeof err), CT_OK);
    assert_memory_not_equal(a.fingerprint, b.fingerprint, sizeof a.fingerprint);
    assert_int_equal(a.n_reorgs, 0);
    assert_null(a.reorgs);
    ct_campaign_free(&a);
    ct_campaign_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
