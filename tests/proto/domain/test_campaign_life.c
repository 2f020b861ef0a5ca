/* test_campaign_life.c — a life entry checked against the campaign
 * (ct_campaign_check_life, docs/PROTOCOL.md §2.2 "Checked against the
 * campaign"), the reorganization lookup (ct_campaign_reorg) and the
 * campaign-derived inputs of the tally (ct_tally_in_make), on a
 * campaign built in memory with declared reorganizations (their loader is
 * campaign/ct_campaign_load.c): every code, in the documented order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_campaign.h"
#include "ct_life.h"
#include "ct_tally.h"

static char communes_672[2][CT_COMMUNE_MAX + 1] = {"Phường 1", "Phường 2"};
static ct_district districts[3];
static ct_agent agents[4];
static ct_group groups[1];
static ct_reorg_move moves_a[1], moves_b[2];
static ct_reorg reorgs[2];
static ct_campaign camp;

static void build(void)
{
    memset(&camp, 0, sizeof camp);
    strcpy(camp.id, "lamdong-2023");
    camp.start_ms = INT64_C(1689958800000); /* 2023-07-22T00:00+07:00 */
    camp.end_ms = INT64_C(1690390800000);   /* 2023-07-27T00:00+07:00 */
    camp.tz_offset_min = 420;
    memset(districts, 0, sizeof districts);
    districts[0].code = 672;
    districts[0].communes = communes_672;
    districts[0].n_communes = 2;
    districts[1].code = 683;
    districts[2].code = 684;
    camp.districts = districts;
    camp.n_districts = 3;
    memset(agents, 0, sizeof agents);
    strcpy(agents[0].id, "A1"), agents[0].district = 672;
    strcpy(agents[1].id, "B1"), agents[1].district = 683;
    strcpy(agents[2].id, "B2"), agents[2].district = 683;
    strcpy(agents[3].id, "C1"), agents[3].district = 684;
    camp.agents = agents;
    camp.n_agents = 4;
    memset(groups, 0, sizeof groups);
    strcpy(groups[0].id, "nq143");
    camp.groups = groups;
    camp.n_groups = 1;
    memset(reorgs, 0, sizeof reorgs);
    strcpy(moves_a[0].agent, "C1"), moves_a[0].to = 683;
    strcpy(moves_b[0].agent, "A1"), moves_b[0].to = 684;
    strcpy(moves_b[1].agent, "B2"), moves_b[1].to = 684;
    strcpy(reorgs[0].name, "merge-683-684");
    reorgs[0].moves = moves_a;
    reorgs[0].n_moves = 1;
    strcpy(reorgs[1].name, "split-672");
    reorgs[1].moves = moves_b;
    reorgs[1].n_moves = 2;
    camp.reorgs = reorgs;
    camp.n_reorgs = 2;
}

static ct_life entry(ct_life_kind k)
{
    ct_life l;
    memset(&l, 0, sizeof l);
    l.kind = k;
    strcpy(l.campaign, "lamdong-2023");
    strcpy(l.actor, "admin");
    strcpy(l.reason, "r");
    l.district = 672;
    l.target_seq = 1;
    l.target = 10;
    l.day = 20230722;
    strcpy(l.reorg, "split-672");
    l.effective_ms = 1;
    return l;
}

static void test_reorg_lookup(void **state)
{
    (void)state;
    build();
    assert_ptr_equal(ct_campaign_reorg(&camp, "merge-683-684"), &reorgs[0]);
    assert_ptr_equal(ct_campaign_reorg(&camp, "split-672"), &reorgs[1]);
    assert_null(ct_campaign_reorg(&camp, "split"));
    assert_null(ct_campaign_reorg(&camp, ""));
    assert_null(ct_campaign_reorg(&camp, NULL));
    assert_null(ct_campaign_reorg(NULL, "split-672"));
    ct_campaign empty;
    memset(&empty, 0, sizeof empty);
    assert_null(ct_campaign_reorg(&empty, "split-672"));
}

static void test_check_life(void **state)
{
    (void)state;
    build();
    ct_life l;
    static const ct_life_kind kinds[] = {CT_LIFE_VOID,  CT_LIFE_CORRECT, CT_LIFE_TARGET,
                                         CT_LIFE_CLOSE, CT_LIFE_REOPEN,  CT_LIFE_REORG};
    for (size_t i = 0; i < 6; i++) {
        l = entry(kinds[i]);
        if (kinds[i] == CT_LIFE_CORRECT) l.has_new_program = true;
        assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
        strcpy(l.campaign, "lamdong-2024");
        assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_WRONG_CAMPAIGN);
        /* unit: unknown; 0 only for target, close, reopen; none for reorg */
        l = entry(kinds[i]);
        l.district = 999;
        assert_int_equal(ct_campaign_check_life(&camp, &l),
                         kinds[i] == CT_LIFE_REORG ? CT_OK : CT_ERR_UNKNOWN_DISTRICT);
        l.district = 0;
        bool zero_ok = kinds[i] >= CT_LIFE_TARGET;
        assert_int_equal(ct_campaign_check_life(&camp, &l),
                         zero_ok ? CT_OK : CT_ERR_UNKNOWN_DISTRICT);
    }
    /* the new agent: on the roster of the unit, or moved to it by a declared reorganization */
    l = entry(CT_LIFE_CORRECT);
    l.has_new_agent = true;
    strcpy(l.new_agent, "A1");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_agent, "Z9");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_AGENT);
    strcpy(l.new_agent, "B1");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_AGENT_DISTRICT);
    l.district = 684;
    strcpy(l.new_agent, "B2"); /* moved to 684 by split-672 */
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_agent, "A1"); /* moved to 684 too */
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_agent, "B1"); /* not moved */
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_AGENT_DISTRICT);
    l.district = 683;
    strcpy(l.new_agent, "C1"); /* moved to 683 by merge-683-684 */
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_agent, "A1"); /* moved, but to 684 */
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_AGENT_DISTRICT);
    /* the new commune: listed when the unit has a list; "" = none */
    l = entry(CT_LIFE_CORRECT);
    l.has_new_commune = true;
    strcpy(l.new_commune, "Phường 2");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_commune, "Phường 9");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_COMMUNE);
    l.new_commune[0] = '\0';
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    l.district = 683; /* no list: any commune */
    strcpy(l.new_commune, "Xã Bất Kỳ");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    /* the new group: known; "" = none */
    l = entry(CT_LIFE_CORRECT);
    l.has_new_group = true;
    strcpy(l.new_group, "nq143");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.new_group, "nq999");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_GROUP);
    l.new_group[0] = '\0';
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    /* order: agent before commune before group */
    l = entry(CT_LIFE_CORRECT);
    l.has_new_agent = l.has_new_commune = l.has_new_group = true;
    strcpy(l.new_agent, "Z9");
    strcpy(l.new_commune, "Phường 9");
    strcpy(l.new_group, "nq999");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_AGENT);
    strcpy(l.new_agent, "A1");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_COMMUNE);
    l.new_commune[0] = '\0';
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_GROUP);
    /* the day: the campaign's local days, 20230722 .. 20230726 */
    static const struct {
        uint32_t day;
        ct_err want;
    } days[] = {{20230721, CT_ERR_OUTSIDE_WINDOW},
                {20230722, CT_OK},
                {20230726, CT_OK},
                {20230727, CT_ERR_OUTSIDE_WINDOW}};
    for (size_t i = 0; i < 4; i++) {
        l = entry(CT_LIFE_CLOSE);
        l.day = days[i].day;
        assert_int_equal(ct_campaign_check_life(&camp, &l), days[i].want);
        l.kind = CT_LIFE_REOPEN;
        l.district = 0;
        assert_int_equal(ct_campaign_check_life(&camp, &l), days[i].want);
    }
    /* the reorganization: declared */
    l = entry(CT_LIFE_REORG);
    strcpy(l.reorg, "merge-683-684");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_OK);
    strcpy(l.reorg, "merge");
    assert_int_equal(ct_campaign_check_life(&camp, &l), CT_ERR_UNKNOWN_REORG);
    assert_int_equal(ct_campaign_check_life(NULL, &l), CT_ERR_ARG);
    assert_int_equal(ct_campaign_check_life(&camp, NULL), CT_ERR_ARG);
}

static void test_tally_in_make(void **state)
{
    (void)state;
    build();
    ct_entry e;
    memset(&e, 0, sizeof e);
    e.type = CT_ENTRY_EVENT;
    e.u.ev.district = 672;
    strcpy(e.u.ev.commune, "Phường 2");
    e.u.ev.occurred_ms = INT64_C(1690045199999); /* 2023-07-22T23:59:59.999+07:00 */
    ct_tally_in in;
    ct_tally_in_make(&camp, &e, 12, INT64_C(1690045200000), &in);
    assert_int_equal(in.seq, 12);
    assert_int_equal(in.received_ms, INT64_C(1690045200000));
    assert_int_equal(in.local_day, 20230722);
    assert_int_equal(in.recv_day, 20230723);
    assert_int_equal(in.commune, 2);
    e.u.ev.district = 683; /* no list: code 0 */
    ct_tally_in_make(&camp, &e, 12, 0, &in);
    assert_int_equal(in.commune, 0);
    /* a correction: the new commune's code in its unit; other life entries: 0 */
    memset(&e, 0, sizeof e);
    e.type = CT_ENTRY_LIFE;
    e.u.life = entry(CT_LIFE_CORRECT);
    e.u.life.has_new_commune = true;
    strcpy(e.u.life.new_commune, "Phường 1");
    ct_tally_in_make(&camp, &e, 13, INT64_C(1690045200000), &in);
    assert_int_equal(in.commune, 1);
    assert_int_equal(in.local_day, 0);
    assert_int_equal(in.recv_day, 20230723);
    e.u.life.new_commune[0] = '\0';
    ct_tally_in_make(&camp, &e, 13, 0, &in);
    assert_int_equal(in.commune, 0);
    e.u.life = entry(CT_LIFE_VOID);
    strcpy(e.u.life.new_commune, "Phường 1"); /* not a correction's "w" */
    ct_tally_in_make(&camp, &e, 13, 0, &in);
    assert_int_equal(in.commune, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reorg_lookup),
        cmocka_unit_test(test_check_life),
        cmocka_unit_test(test_tally_in_make),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
