/* test_natstatus.c — the national campaign file's loader (exact file:line
 * errors) and the national figures against values computed by hand: three
 * provinces (P 10 and P 20 with counts, P 30 never synced), totals over the
 * two included against the national targets, the ranking rule (pct, then
 * net, then code), the pins string, and a report rendered from parsed pins
 * equal to the original (what chitieu-audit national-replay relies on).
 *
 * Campaigns (written to a temporary directory): window 2023-07-22T08:00+07:00
 * .. 2023-08-01T00:00+07:00; every province has units 1 and 2 with one staff
 * member each, agent targets 1 + 2, so each province's targets are 2 / 4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_counts.h"
#include "ct_national.h"
#include "ct_natstatus.h"
#include "ct_time.h"

static char dir[64];

static void put_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void campaign(const char *id)
{
    char ini[1024], roster[256], name[64];
    snprintf(ini, sizeof ini,
             "[campaign]\nid = %s\nstart = 2023-07-22T08:00:00+07:00\n"
             "end = 2023-08-01T00:00:00+07:00\ntimezone = +07:00\nroster = %s.csv\n"
             "[program bhxh_tn]\nagent_target = 1\n[program bhyt_hgd]\nagent_target = 2\n"
             "[district 1]\nname = Unit 1\n[district 2]\nname = Unit 2\n",
             id, id);
    snprintf(roster, sizeof roster, "agent_id,name,district,org\n%s-a,A,1,bhxh\n%s-b,B,2,bhxh\n",
             id, id);
    snprintf(name, sizeof name, "%s.ini", id);
    put_file(name, ini);
    snprintf(name, sizeof name, "%s.csv", id);
    put_file(name, roster);
}

static const char NAT[] = "[national]\nid = nat\nname = Nation\ntarget.bhxh_tn = 10\n"
                          "[province 30]\nname = Thirty\ncampaign = c30.ini\n"
                          "feed = ipc://f30\nsnapshot = ipc://s30\n"
                          "[province 10]\nname = Ten\ncampaign = c10.ini\n"
                          "feed = ipc://f10, ipc://g10\nsnapshot = ipc://s10,ipc://t10\n"
                          "[province 20]\nname = Twenty\ncampaign = c20.ini\n"
                          "feed = ipc://f20\nsnapshot = ipc://s20\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ct-natstatus-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    campaign("c10");
    campaign("c20");
    campaign("c30");
    put_file("nat.ini", NAT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void load_err(const char *text, const char *want)
{
    put_file("bad.ini", text);
    char p[256], err[1024] = "", w[512];
    snprintf(p, sizeof p, "%s/bad.ini", dir);
    int n0 = snprintf(w, sizeof w, "%s/bad.ini:", dir);
    for (const char *c = want; *c && n0 < (int)sizeof w - 64; c++) /* '@': the directory */
        n0 += *c == '@' ? snprintf(w + n0, sizeof w - (size_t)n0, "%s", dir)
                        : snprintf(w + n0, sizeof w - (size_t)n0, "%c", *c);
    ct_national n;
    assert_int_equal(ct_national_load(p, &n, err, sizeof err), CT_ERR_CONFIG);
    assert_string_equal(err, w);
    assert_int_equal(n.n_provinces, 0);
}

static void test_load_errors(void **state)
{
    (void)state;
    load_err("[national]\nid = x\n[province 10]\nname = A\ncampaign = c10.ini\nfeed = ipc://a\n"
             "snapshot = ipc://b\n[province 10]\n",
             "8: duplicate province 10 (first at line 3)");
    load_err("[national]\nid = x\n[province 10]\nfeed = nowhere\n",
             "4: 'feed': bad endpoint 'nowhere' (expected e.g. tcp://host:port)");
    load_err("[national]\nid = x\n[province 10]\nname = A\nfeed = ipc://a\nsnapshot = ipc://b\n",
             "3: [province 10] has no 'campaign' key");
    load_err("[national]\nname = x\n", "1: [national] has no 'id' key");
    load_err("[national]\nid = x\n[province 10]\nname = A\ncampaign = c10.ini\nfeed = ipc://a\n"
             "snapshot = ipc://b\n[province 20]\nname = B\ncampaign = c10.ini\nfeed = ipc://a\n"
             "snapshot = ipc://b\n",
             "10: province 20 runs campaign 'c10', as province 10 does");
    load_err("[national]\nid = x\n[province 10]\nname = A\ncampaign = c10.ini\nfeed = ipc://a\n"
             "snapshot = ipc://b\ncampaign_id = c99\n",
             "8: province 10: campaign_id 'c99' but @/c10.ini has id 'c10'");
}

static void set(ct_counts *k, ct_count_kind kind, ct_program p, uint32_t d, int64_t v)
{
    ct_count_key key = ct_count_key_make(kind, p, d, NULL, 0);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

static void test_figures(void **state)
{
    (void)state;
    char p[256], err[1024] = "";
    snprintf(p, sizeof p, "%s/nat.ini", dir);
    ct_national n;
    assert_int_equal(ct_national_load(p, &n, err, sizeof err), CT_OK);
    assert_int_equal(n.n_provinces, 3);
    assert_int_equal(n.provinces[0].code, 10);
    assert_int_equal(n.provinces[0].n_endpoints, 2);
    assert_string_equal(n.provinces[0].snapshot[1], "ipc://t10");
    assert_int_equal(n.target[0], 10); /* given */
    assert_int_equal(n.target[1], 12); /* 3 x 4 */

    /* P10: bhxh net 1 (50%), bhyt net 4 (100%); P20: bhxh net 1 (50%), bhyt 1 */
    ct_counts a, b;
    ct_counts_init(&a);
    ct_counts_init(&b);
    const ct_program X = CT_PROGRAM_BHXH_TN, Y = CT_PROGRAM_BHYT_HGD;
    set(&a, CT_COUNT_NET, X, 1, 1);
    set(&a, CT_COUNT_NET, Y, 1, 3);
    set(&a, CT_COUNT_NET, Y, 2, 1);
    set(&b, CT_COUNT_NET, X, 2, 1);
    set(&b, CT_COUNT_NET, Y, 2, 1);
    set(&b, CT_COUNT_GROSS, Y, 2, 2);
    ct_natstatus_input in[3] = {
        {.counts = &a, .seq = 7, .feed = "live", .age_ms = 120},
        {.counts = &b, .seq = 3, .feed = "stale", .age_ms = 15000},
        {.counts = NULL, .seq = 0, .feed = "not_connected", .age_ms = -1},
    };
    memset(in[0].head, 0xab, 32);
    int64_t now;
    assert_int_equal(ct_time_parse("2023-07-26T20:00:00+07:00", 0, &now), CT_OK);
    ct_natstatus s;
    assert_int_equal(ct_natstatus_compute(&n, in, now, &s), CT_OK);
    assert_int_equal(s.n_included, 2);
    assert_int_equal(s.total[X].net, 2);
    assert_int_equal(s.total[X].target, 10);
    assert_int_equal(s.total[X].pct_x10, 200);
    assert_int_equal(s.total[Y].net, 5);
    assert_int_equal(s.total[Y].gross, 2);
    assert_int_equal(s.total[Y].target, 12);
    assert_int_equal(s.province_target_sum[Y], 8);
    assert_int_equal(s.staff, 4);
    /* bhxh: both 50.0 and net 1: code decides (10 before 20); 30 unranked last */
    assert_int_equal(s.provs[0].rank[X], 1);
    assert_int_equal(s.provs[1].rank[X], 2);
    assert_int_equal(s.provs[2].rank[X], 0);
    assert_int_equal(s.order[X][2], 2);
    /* bhyt: 100.0 (P10) before 25.0 (P20) */
    assert_int_equal(s.provs[0].rank[Y], 1);
    assert_int_equal(s.provs[1].rank[Y], 2);

    ct_buf pins = CT_BUF_INIT, j1 = CT_BUF_INIT, j2 = CT_BUF_INIT, csv = CT_BUF_INIT;
    assert_int_equal(ct_natstatus_pins(&s, &pins), CT_OK);
    assert_int_equal(ct_buf_append(&pins, "", 1), CT_OK);
    assert_string_equal((const char *)pins.data,
                        "1690376400000/10:7:live:120,20:3:stale:15000,30:0:not_connected:-1");
    assert_int_equal(ct_natstatus_render(&n, &s, CT_NAT_JSON, 0, &j1), CT_OK);
    assert_int_equal(ct_natstatus_render(&n, &s, CT_NAT_CSV, 0, &csv), CT_OK);
    assert_int_equal(ct_buf_append(&csv, "", 1), CT_OK);
    assert_non_null(
        strstr((const char *)csv.data, "national,,2/3 provinces,,,bhxh_tn,2,10,20.0,8,"));
    assert_non_null(strstr((const char *)csv.data, "province,20,Twenty,,,bhyt_hgd,1,4,25.0,3,"));

    /* the same report from parsed pins (heads and counts supplied again) */
    ct_natstatus_input back[3];
    int64_t now2;
    char perr[256] = "";
    assert_int_equal(
        ct_natstatus_pins_parse(&n, (const char *)pins.data, &now2, back, perr, sizeof perr),
        CT_OK);
    assert_int_equal(now2, now);
    back[0].counts = &a;
    memcpy(back[0].head, in[0].head, 32);
    back[1].counts = &b;
    ct_natstatus s2;
    assert_int_equal(ct_natstatus_compute(&n, back, now2, &s2), CT_OK);
    assert_int_equal(ct_natstatus_render(&n, &s2, CT_NAT_JSON, 0, &j2), CT_OK);
    assert_int_equal(j1.len, j2.len);
    assert_memory_equal(j1.data, j2.data, j1.len);
    assert_int_equal(
        ct_natstatus_pins_parse(&n, "1/10:7:live:1,30:0:live:1", &now2, back, perr, sizeof perr),
        CT_ERR_ARG);
    assert_string_equal(perr, "pins: item 2 names province 30, expected 20");
    assert_int_equal(ct_natstatus_pins_parse(&n, "1/10:7:live:1:9,20:0:live:1,30:0:live:1", &now2,
                                             back, perr, sizeof perr),
                     CT_ERR_ARG);
    assert_int_equal(ct_natstatus_pins_parse(&n,
                                             "1/10:7:live:1,20:0:live:1,30:0:live:1,40:0:live:1",
                                             &now2, back, perr, sizeof perr),
                     CT_ERR_ARG);
    assert_string_equal(perr, "pins: more items than provinces (3)");

    ct_natstatus_free(&s);
    ct_natstatus_free(&s2);
    ct_buf_free(&pins);
    ct_buf_free(&j1);
    ct_buf_free(&j2);
    ct_buf_free(&csv);
    ct_counts_free(&a);
    ct_counts_free(&b);
    ct_national_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_figures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
