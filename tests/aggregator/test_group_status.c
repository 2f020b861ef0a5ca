/* test_group_status.c — the group of an aggregator's status ("gr",
 * PROTOCOL.md §3.6) built from an election view on a member that does not
 * lead: the leader's head from its member key, this member's own head from
 * its store (not its stale key), lags never negative, no lag without a
 * leader, the view's fields carried exactly; and the result encodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ct_group_status.h"

static ct_elect_view view(void)
{
    ct_elect_view v;
    memset(&v, 0, sizeof v);
    v.role = CT_ELECT_FOLLOWER;
    v.epoch = 17;
    snprintf(v.leader, sizeof v.leader, "tcp://hq1:7704");
    v.lease_ok_until_ms = 10000;
    v.etcd_ok = true;
    v.since_ms = 1690000000000;
    v.n_members = 3;
    const char *eps[3] = {"tcp://hq1:7704", "tcp://hq2:7704", "tcp://hq3:7704"};
    const uint64_t heads[3] = {100, 95, 103};
    for (int i = 0; i < 3; i++) {
        snprintf(v.members[i].endpoint, sizeof v.members[i].endpoint, "%s", eps[i]);
        v.members[i].epoch = i == 2 ? 12 : 17;
        v.members[i].head = heads[i];
    }
    return v;
}

static void test_follower_view(void **state)
{
    (void)state;
    ct_elect_view v = view();
    ct_wire_group g;
    ct_group_status_fill(&v, "hq", "tcp://hq2:7704", 98, false, NULL, 7000, &g);
    assert_true(g.present);
    assert_string_equal(g.name, "hq");
    assert_string_equal(g.leader, "tcp://hq1:7704");
    assert_int_equal(g.role, CT_GROUP_FOLLOWER);
    assert_int_equal(g.epoch, 17);
    assert_int_equal(g.since_ms, 1690000000000);
    assert_int_equal(g.lease_left_ms, 3000);
    assert_true(g.etcd_ok);
    assert_false(g.accepting);
    assert_int_equal(g.n_members, 3);
    assert_int_equal(g.members[0].lag_records, 0);
    assert_int_equal(g.members[1].head, 98); /* its store, not its key's 95 */
    assert_int_equal(g.members[1].lag_records, 2);
    assert_int_equal(g.members[2].head, 103); /* an older epoch's longer log */
    assert_int_equal(g.members[2].epoch, 12);
    assert_int_equal(g.members[2].lag_records, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g.members[i].lag_ms, 0);
    ct_wire_status s = {.time_ms = 1, .epoch = 17, .committed = 98, .safe = 98, .follower = true};
    s.group = g;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    ct_wire_status d;
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_memory_equal(&d.group, &g, sizeof g);
    ct_buf_free(&b);
}

static void test_no_leader(void **state)
{
    (void)state;
    ct_elect_view v = view();
    v.role = CT_ELECT_UNKNOWN;
    v.leader[0] = 0;
    v.lease_ok_until_ms = 0;
    v.etcd_ok = false;
    ct_wire_group g;
    ct_group_status_fill(&v, "hq", "tcp://hq2:7704", 98, false, NULL, 7000, &g);
    assert_int_equal(g.role, CT_GROUP_UNKNOWN);
    assert_string_equal(g.leader, "");
    assert_int_equal(g.epoch, 0);
    assert_int_equal(g.since_ms, 0);
    assert_int_equal(g.lease_left_ms, 0);
    assert_false(g.etcd_ok);
    assert_int_equal(g.n_members, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g.members[i].lag_records, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follower_view),
        cmocka_unit_test(test_no_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
