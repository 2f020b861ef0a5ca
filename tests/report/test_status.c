/* test_status.c — the status report's figures and renderings against values
 * computed by hand (docs/reporter.md), for fixed clocks: before the
 * start, mid-campaign (2023-07-26T20:00+07:00) and after the end; the exact
 * JSON line for a small fixed counts table; CSV quoting (parsed back by a
 * small RFC 4180 reader); table alignment by display width with Vietnamese
 * names (NFC, NFD and wide characters).
 *
 * The campaign: window 2023-07-22T08:00+07:00 .. 2023-08-01T00:00+07:00
 * (9 days 16 h = 835200000 ms); 3 staff (A1 in 68; A2, A3 in 672);
 * agent targets 1 + 2, so targets 68: 1/2, 672: 2/4, province 3/6. A3's name
 * is in NFD (combining marks) to exercise the display-width alignment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_campaign_load.h"
#include "ct_counts.h"
#include "ct_status.h"
#include "ct_text.h"
#include "ct_time.h"

static const char INI[] = "[campaign]\n"
                          "id = t1\n"
                          "name = Thử nghiệm\n"
                          "start = 2023-07-22T08:00:00+07:00\n"
                          "end = 2023-08-01T00:00:00+07:00\n"
                          "timezone = +07:00\n"
                          "tolerance = 600\n"
                          "max_future = 300\n"
                          "roster = staff.csv\n"
                          "[program bhxh_tn]\n"
                          "agent_target = 1\n"
                          "[program bhyt_hgd]\n"
                          "agent_target = 2\n"
                          "[group nq143]\n"
                          "name = Nghị quyết 143\n"
                          "[district 68]\n"
                          "name = Văn phòng tỉnh\n"
                          "[district 672]\n"
                          "name = Thành phố \"Đà Lạt\", Lâm Đồng\n";

static const char ROSTER[] = "agent_id,name,district,org\n"
                             "A1,Nguyễn Văn An,68,bhxh\n"
                             "A2,Lê Thị Bình,672,bhxh\n"
                             "A3,Tra\xcc\x82\xcc\x80n Đức Cường,672,buudien\n"; /* NFD */

typedef struct {
    ct_campaign c;
    ct_counts k;
} fixture;

static void set(ct_counts *k, ct_count_kind kind, ct_program p, uint32_t d, const char *dim,
                int64_t v)
{
    ct_count_key key = ct_count_key_make(kind, p, d, dim, dim ? strlen(dim) : 0);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

static void set_day(ct_counts *k, ct_program p, uint32_t d, uint32_t day, int64_t v)
{
    uint8_t b[4] = {(uint8_t)(day >> 24), (uint8_t)(day >> 16), (uint8_t)(day >> 8), (uint8_t)day};
    ct_count_key key = ct_count_key_make(CT_COUNT_DAY, p, d, b, 4);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

/* The fixed counts table (consistent with the tally rule):
 *   68  bhxh: A1 enrolled 1 (day 22)            -> NET 1 GROSS 1
 *   68  bhyt: A1 enrolled 1 (day 22)            -> NET 1 GROSS 1
 *   672 bhxh: A2 enrolled 1 (day 23), cancelled; one repeat -> NET 0 GROSS 1 CANC 1 REP 1
 *   672 bhyt: A2 2 + A3 1 (day 24), 2 in nq143  -> NET 3 GROSS 3 */
static void fill(ct_counts *k)
{
    const ct_program X = CT_PROGRAM_BHXH_TN, Y = CT_PROGRAM_BHYT_HGD;
    set(k, CT_COUNT_NET, X, 68, NULL, 1);
    set(k, CT_COUNT_GROSS, X, 68, NULL, 1);
    set(k, CT_COUNT_NET, Y, 68, NULL, 1);
    set(k, CT_COUNT_GROSS, Y, 68, NULL, 1);
    set(k, CT_COUNT_AGENT, X, 68, "A1", 1);
    set(k, CT_COUNT_AGENT, Y, 68, "A1", 1);
    set_day(k, X, 68, 20230722, 1);
    set_day(k, Y, 68, 20230722, 1);
    set(k, CT_COUNT_NET, X, 672, NULL, 0);
    set(k, CT_COUNT_GROSS, X, 672, NULL, 1);
    set(k, CT_COUNT_CANCELLED, X, 672, NULL, 1);
    set(k, CT_COUNT_REPEAT, X, 672, NULL, 1);
    set(k, CT_COUNT_AGENT, X, 672, "A2", 0);
    set_day(k, X, 672, 20230723, 0);
    set(k, CT_COUNT_NET, Y, 672, NULL, 3);
    set(k, CT_COUNT_GROSS, Y, 672, NULL, 3);
    set(k, CT_COUNT_AGENT, Y, 672, "A2", 2);
    set(k, CT_COUNT_AGENT, Y, 672, "A3", 1);
    set_day(k, Y, 672, 20230724, 3);
    set(k, CT_COUNT_GROUP, Y, 672, "nq143", 2);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    char err[256];
    ct_err e = ct_campaign_load_mem("t1.ini", INI, sizeof INI - 1, "staff.csv", ROSTER,
                                    sizeof ROSTER - 1, &fx->c, err, sizeof err);
    if (e) fprintf(stderr, "campaign: %s\n", err);
    assert_int_equal(e, CT_OK);
    ct_counts_init(&fx->k);
    fill(&fx->k);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ct_counts_free(&fx->k);
    ct_campaign_free(&fx->c);
    free(fx);
    return 0;
}

static int64_t at(const char *iso)
{
    int64_t ms;
    assert_int_equal(ct_time_parse(iso, 0, &ms), CT_OK);
    return ms;
}

static void check_prog(const ct_status_prog *p, int64_t net, int64_t target, int64_t pct,
                       int64_t remaining, int64_t expected, int64_t required, int64_t projection,
                       ct_status_verdict v, uint32_t staff_met)
{
    assert_int_equal(p->net, net);
    assert_int_equal(p->target, target);
    assert_int_equal(p->pct_x10, pct);
    assert_int_equal(p->remaining, remaining);
    assert_int_equal(p->expected_x10, expected);
    assert_int_equal(p->required_daily_x10, required);
    assert_int_equal(p->projection_x10, projection);
    assert_int_equal(p->verdict, v);
    assert_int_equal(p->staff_met, staff_met);
}

/* Mid-campaign, 2023-07-26T20:00+07:00: elapsed 4.5 d of 9.6667 d,
 * frac = 388800000 / 835200000 = 0.465517; days left 5.1667.
 *   province bhxh: net 1/3 -> 33.3%, expected 3*frac = 1.397 -> 1.4,
 *     need 2/5.1667 = 0.387 -> 0.4/day, projection 1/frac = 2.148 -> 2.1 < 3: at_risk
 *   province bhyt: net 4/6 -> 66.7%, expected 2.793 -> 2.8, need 2/5.1667 -> 0.4,
 *     projection 8.593 -> 8.6: on_track
 *   68 bhxh 1/1 reached (expected 0.5, projection 2.1, need 0.0)
 *   68 bhyt 1/2: 50.0%, expected 0.9, need 0.2, projection 2.148 -> 2.1 >= 2: on_track
 *   672 bhxh 0/2: 0.0%, expected 0.9, need 0.4, projection 0.0: at_risk
 *   672 bhyt 3/4: 75.0%, expected 1.862 -> 1.9, need 0.2, projection 6.444 -> 6.4 */
static void test_mid_campaign(void **state)
{
    fixture *fx = *state;
    ct_status_figures f;
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, at("2023-07-26T20:00+07:00"), &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_RUNNING);
    assert_int_equal(f.span_ms, 835200000);
    assert_int_equal(f.elapsed_ms, 388800000);
    assert_int_equal(f.elapsed_days_x10, 45);
    assert_int_equal(f.days_left_x10, 52);
    assert_int_equal(f.span_days_x10, 97);
    assert_int_equal(f.n_districts, 2);
    const ct_status_unit *d68 = &f.districts[0], *d672 = &f.districts[1];
    assert_int_equal(d68->code, 68); /* campaign order: provincial office first */
    assert_int_equal(d672->code, 672);
    check_prog(&f.province.prog[0], 1, 3, 333, 2, 14, 4, 21, CT_VERDICT_AT_RISK, 1);
    check_prog(&f.province.prog[1], 4, 6, 667, 2, 28, 4, 86, CT_VERDICT_ON_TRACK, 1);
    check_prog(&d68->prog[0], 1, 1, 1000, 0, 5, 0, 21, CT_VERDICT_REACHED, 1);
    check_prog(&d68->prog[1], 1, 2, 500, 1, 9, 2, 21, CT_VERDICT_ON_TRACK, 0);
    check_prog(&d672->prog[0], 0, 2, 0, 2, 9, 4, 0, CT_VERDICT_AT_RISK, 0);
    check_prog(&d672->prog[1], 3, 4, 750, 1, 19, 2, 64, CT_VERDICT_ON_TRACK, 1);
    assert_int_equal(d672->prog[0].gross, 1);
    assert_int_equal(d672->prog[0].cancelled, 1);
    assert_int_equal(d672->prog[0].repeats, 1);
    assert_int_equal(f.province.prog[0].gross, 2);
    assert_int_equal(f.province.prog[0].cancelled, 1);
    /* staff: nobody met both; A1 below in 68, A2 and A3 below in 672 */
    assert_int_equal(f.province.staff, 3);
    assert_int_equal(f.province.staff_met_both, 0);
    assert_int_equal(d68->n_below, 1);
    assert_string_equal(d68->below[0].agent->id, "A1");
    assert_int_equal(d68->below[0].count[1], 1);
    assert_int_equal(d672->n_below, 2);
    assert_string_equal(d672->below[0].agent->id, "A2");
    assert_int_equal(d672->below[0].count[0], 0);
    assert_int_equal(d672->below[0].count[1], 2);
    assert_string_equal(d672->below[1].agent->id, "A3");
    /* groups */
    assert_int_equal(f.n_groups, 1);
    assert_string_equal(f.groups[0].id, "nq143");
    assert_int_equal(f.groups[0].net[0], 0);
    assert_int_equal(f.groups[0].net[1], 2);
    /* days: the 10 local days 22..31 July; steady line at each day's end */
    assert_int_equal(f.n_days, 10);
    assert_int_equal(f.days[0].day, 20230722);
    assert_int_equal(f.days[9].day, 20230731);
    assert_int_equal(f.days[0].net[1], 1);
    assert_int_equal(f.days[2].net[1], 3);
    assert_int_equal(f.days[2].cum[1], 4);
    assert_int_equal(f.days[9].cum[0], 1);
    assert_int_equal(f.days[0].steady_x10[0], 2); /* 3 x 16h/232h = 0.207 */
    assert_int_equal(f.days[0].steady_x10[1], 4); /* 6 x 0.069 = 0.414 */
    assert_int_equal(f.days[9].steady_x10[0], 30);
    assert_int_equal(f.days[9].steady_x10[1], 60);
    ct_status_figures_free(&f);
}

/* Before the start (2023-07-20T12:00+07:00), no counts: nothing elapsed, the
 * whole window left: need = target / 9.6667 d (3 -> 0.310 -> 0.3; 6 -> 0.6). */
static void test_before_start(void **state)
{
    fixture *fx = *state;
    ct_counts empty;
    ct_counts_init(&empty);
    ct_status_figures f;
    assert_int_equal(ct_status_compute(&fx->c, &empty, at("2023-07-20T12:00+07:00"), &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_NOT_STARTED);
    assert_int_equal(f.elapsed_days_x10, 0);
    assert_int_equal(f.days_left_x10, 97);
    check_prog(&f.province.prog[0], 0, 3, 0, 3, 0, 3, 0, CT_VERDICT_NOT_STARTED, 0);
    check_prog(&f.province.prog[1], 0, 6, 0, 6, 0, 6, 0, CT_VERDICT_NOT_STARTED, 0);
    assert_int_equal(f.districts[1].n_below, 2);
    ct_buf b = CT_BUF_INIT;
    ct_status_position pos = {.seq = 0, .now_ms = at("2023-07-20T12:00+07:00"), .feed = "live"};
    assert_int_equal(ct_status_render(&fx->c, &empty, &pos, CT_FMT_TABLE, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_non_null(strstr((char *)b.data, "NOT STARTED"));
    assert_non_null(strstr((char *)b.data, "not_started"));
    ct_buf_free(&b);
    ct_status_figures_free(&f);
    ct_counts_free(&empty);
}

/* After the end: final; expected = target; nothing needed any more;
 * projection = net; verdicts reached / missed. */
static void test_after_end(void **state)
{
    fixture *fx = *state;
    ct_status_figures f;
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, at("2023-08-02T09:00+07:00"), &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_FINAL);
    assert_int_equal(f.days_left_x10, 0);
    assert_int_equal(f.elapsed_days_x10, 97);
    check_prog(&f.province.prog[0], 1, 3, 333, 2, 30, 0, 10, CT_VERDICT_MISSED, 1);
    check_prog(&f.province.prog[1], 4, 6, 667, 2, 60, 0, 40, CT_VERDICT_MISSED, 1);
    check_prog(&f.districts[0].prog[0], 1, 1, 1000, 0, 10, 0, 10, CT_VERDICT_REACHED, 1);
    ct_buf b = CT_BUF_INIT;
    ct_status_position pos = {.seq = 9, .now_ms = at("2023-08-02T09:00+07:00"), .feed = "replay"};
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_TABLE, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_non_null(strstr((char *)b.data, "FINAL"));
    assert_non_null(strstr((char *)b.data, "missed"));
    ct_buf_free(&b);
    ct_status_figures_free(&f);
}

/* Exactly at the start nothing has elapsed: still not_started. One ms later
 * it runs. */
static void test_phase_edges(void **state)
{
    fixture *fx = *state;
    ct_status_figures f;
    int64_t s = at("2023-07-22T08:00+07:00"), e = at("2023-08-01T00:00+07:00");
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, s, &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_NOT_STARTED);
    ct_status_figures_free(&f);
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, s + 1, &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_RUNNING);
    ct_status_figures_free(&f);
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, e - 1, &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_RUNNING);
    ct_status_figures_free(&f);
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, e, &f), CT_OK);
    assert_int_equal(f.phase, CT_PHASE_FINAL);
    ct_status_figures_free(&f);
}

static const char EXPECTED_JSON[] =
    "{\"campaign\":\"t1\",\"name\":\"Thử nghiệm\",\"as_of\":\"2023-07-26T20:00:00+07:00\","
    "\"as_of_ms\":1690376400000,\"seq\":42,\"head\":"
    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",\"feed\":\"live\","
    "\"phase\":\"running\",\"start\":\"2023-07-22T08:00:00+07:00\",\"end\":\"2023-08-01T00:00:"
    "00+07:00\",\"start_ms\":1689987600000,\"end_ms\":1690822800000,\"tz_offset_min\":420,"
    "\"elapsed_days\":4.5,\"days_left\":5.2,\"span_days\":9.7,\"agent_target\":{\"bhxh_tn\":1,"
    "\"bhyt_hgd\":2},\"programs\":[{\"id\":\"bhxh_tn\",\"label\":\"BHXH tự nguyện\"},{\"id\":"
    "\"bhyt_hgd\",\"label\":\"BHYT hộ gia đình\"}],"
    "\"province\":{\"name\":\"Toàn tỉnh\",\"staff\":3,\"staff_met_both\":0,\"programs\":{"
    "\"bhxh_tn\":{\"net\":1,\"target\":3,\"pct\":33.3,\"remaining\":2,\"gross\":2,\"cancelled\":1,"
    "\"repeats\":1,\"expected\":1.4,\"required_daily\":0.4,\"projection\":2.1,\"verdict\":"
    "\"at_risk\",\"staff_met\":1},"
    "\"bhyt_hgd\":{\"net\":4,\"target\":6,\"pct\":66.7,\"remaining\":2,\"gross\":4,\"cancelled\":0,"
    "\"repeats\":0,\"expected\":2.8,\"required_daily\":0.4,\"projection\":8.6,\"verdict\":"
    "\"on_track\",\"staff_met\":1}}},"
    "\"districts\":["
    "{\"code\":68,\"name\":\"Văn phòng tỉnh\",\"staff\":1,\"staff_met_both\":0,\"programs\":{"
    "\"bhxh_tn\":{\"net\":1,\"target\":1,\"pct\":100.0,\"remaining\":0,\"gross\":1,\"cancelled\":0,"
    "\"repeats\":0,\"expected\":0.5,\"required_daily\":0.0,\"projection\":2.1,\"verdict\":"
    "\"reached\",\"staff_met\":1},"
    "\"bhyt_hgd\":{\"net\":1,\"target\":2,\"pct\":50.0,\"remaining\":1,\"gross\":1,\"cancelled\":0,"
    "\"repeats\":0,\"expected\":0.9,\"required_daily\":0.2,\"projection\":2.1,\"verdict\":"
    "\"on_track\",\"staff_met\":0}},"
    "\"below_quota\":[{\"id\":\"A1\",\"name\":\"Nguyễn Văn An\",\"bhxh_tn\":1,\"bhyt_hgd\":1}]},"
    "{\"code\":672,\"name\":\"Thành phố \\\"Đà Lạt\\\", Lâm "
    "Đồng\",\"staff\":2,\"staff_met_both\":0,"
    "\"programs\":{"
    "\"bhxh_tn\":{\"net\":0,\"target\":2,\"pct\":0.0,\"remaining\":2,\"gross\":1,\"cancelled\":1,"
    "\"repeats\":1,\"expected\":0.9,\"required_daily\":0.4,\"projection\":0.0,\"verdict\":"
    "\"at_risk\",\"staff_met\":0},"
    "\"bhyt_hgd\":{\"net\":3,\"target\":4,\"pct\":75.0,\"remaining\":1,\"gross\":3,\"cancelled\":0,"
    "\"repeats\":0,\"expected\":1.9,\"required_daily\":0.2,\"projection\":6.4,\"verdict\":"
    "\"on_track\",\"staff_met\":1}},"
    "\"below_quota\":[{\"id\":\"A2\",\"name\":\"Lê Thị Bình\",\"bhxh_tn\":0,\"bhyt_hgd\":2},"
    "{\"id\":\"A3\",\"name\":\"Tra\xcc\x82\xcc\x80n Đức Cường\",\"bhxh_tn\":0,\"bhyt_hgd\":1}]}],"
    "\"groups\":[{\"id\":\"nq143\",\"name\":\"Nghị quyết 143\",\"bhxh_tn\":0,\"bhyt_hgd\":2}],"
    "\"days\":["
    "{\"day\":\"2023-07-22\",\"bhxh_tn\":1,\"bhyt_hgd\":1,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":1},"
    "\"steady\":{\"bhxh_tn\":0.2,\"bhyt_hgd\":0.4}},"
    "{\"day\":\"2023-07-23\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":1},"
    "\"steady\":{\"bhxh_tn\":0.5,\"bhyt_hgd\":1.0}},"
    "{\"day\":\"2023-07-24\",\"bhxh_tn\":0,\"bhyt_hgd\":3,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":0.8,\"bhyt_hgd\":1.7}},"
    "{\"day\":\"2023-07-25\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":1.1,\"bhyt_hgd\":2.3}},"
    "{\"day\":\"2023-07-26\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":1.4,\"bhyt_hgd\":2.9}},"
    "{\"day\":\"2023-07-27\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":1.8,\"bhyt_hgd\":3.5}},"
    "{\"day\":\"2023-07-28\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":2.1,\"bhyt_hgd\":4.1}},"
    "{\"day\":\"2023-07-29\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":2.4,\"bhyt_hgd\":4.8}},"
    "{\"day\":\"2023-07-30\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":2.7,\"bhyt_hgd\":5.4}},"
    "{\"day\":\"2023-07-31\",\"bhxh_tn\":0,\"bhyt_hgd\":0,\"cum\":{\"bhxh_tn\":1,\"bhyt_hgd\":4},"
    "\"steady\":{\"bhxh_tn\":3.0,\"bhyt_hgd\":6.0}}]}\n";

static void test_json_exact(void **state)
{
    fixture *fx = *state;
    ct_status_position pos = {.seq = 42, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    for (int i = 0; i < 32; i++)
        pos.head[i] = (uint8_t)i;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, CT_STATUS_STAFF, &b),
                     CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_string_equal((char *)b.data, EXPECTED_JSON);
    /* one line, no trailing spaces */
    assert_int_equal(strchr((char *)b.data, '\n') - (char *)b.data,
                     (long)strlen(EXPECTED_JSON) - 1);
    assert_null(strstr((char *)b.data, " \n"));
    /* Without --staff: no below_quota arrays; deterministic across calls. */
    ct_buf b2 = CT_BUF_INIT, b3 = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, 0, &b2), CT_OK);
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, 0, &b3), CT_OK);
    assert_int_equal(b2.len, b3.len);
    assert_memory_equal(b2.data, b3.data, b2.len);
    assert_int_equal(ct_buf_append(&b2, "", 1), CT_OK);
    assert_null(strstr((char *)b2.data, "below_quota"));
    assert_null(strstr((char *)b2.data, "commune")); /* no unit lists communes */
    ct_buf_free(&b);
    ct_buf_free(&b2);
    ct_buf_free(&b3);
}

/* A minimal RFC 4180 reader: splits one record starting at *p into fields. */
static int csv_record(const char **p, char fields[][128], int max)
{
    int n = 0;
    const char *s = *p;
    if (!*s) return -1;
    for (;;) {
        char *o = fields[n];
        size_t k = 0;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '"' && s[1] == '"') {
                    o[k++] = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    assert_true(*s != '\0');
                    o[k++] = *s++;
                }
            }
        } else {
            while (*s && *s != ',' && *s != '\r' && *s != '\n')
                o[k++] = *s++;
        }
        o[k] = '\0';
        n++;
        if (*s == ',') {
            s++;
            assert_true(n < max);
            continue;
        }
        assert_true(s[0] == '\r' && s[1] == '\n'); /* CRLF record ends */
        *p = s + 2;
        return n;
    }
}

static void test_csv(void **state)
{
    fixture *fx = *state;
    ct_status_position pos = {.seq = 42, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    const char *p = (const char *)b.data;
    static char f[32][128];
    int n = csv_record(&p, f, 32);
    assert_int_equal(n, 23);
    assert_string_equal(f[0], "level");
    assert_string_equal(f[4], "net");
    assert_string_equal(f[22], "feed");
    int rows = 0, saw672 = 0;
    while ((n = csv_record(&p, f, 32)) > 0) {
        assert_int_equal(n, 23);
        rows++;
        if (strcmp(f[1], "672") == 0 && strcmp(f[3], "bhyt_hgd") == 0) {
            saw672 = 1;
            assert_string_equal(f[2], "Thành phố \"Đà Lạt\", Lâm Đồng");
            assert_string_equal(f[4], "3");
            assert_string_equal(f[6], "75.0");
            assert_string_equal(f[14], "on_track");
        }
        if (strcmp(f[0], "province") == 0 && strcmp(f[3], "bhxh_tn") == 0) {
            assert_string_equal(f[2], "Toàn tỉnh");
            assert_string_equal(f[4], "1");
            assert_string_equal(f[5], "3");
            assert_string_equal(f[11], "1.4");
            assert_string_equal(f[12], "0.4");
            assert_string_equal(f[13], "2.1");
            assert_string_equal(f[14], "at_risk");
            assert_string_equal(f[20], "42");
        }
    }
    assert_int_equal(rows, 6); /* 2 districts x 2 programs + 2 province rows */
    assert_true(saw672);
    /* The raw quoting itself. */
    assert_non_null(strstr((char *)b.data, ",\"Thành phố \"\"Đà Lạt\"\", Lâm Đồng\","));
    ct_buf_free(&b);
}

/* A unit listing communes: figures per commune (code order, whatever the
 * file order), the rest of the net under code 0, in JSON and the commune CSV;
 * the unit without a list has no commune figure. */
static void test_communes(void **state)
{
    (void)state;
    static const char LIST[] = "commune = Phường 2\ncommune = Phường 1\n";
    char ini[sizeof INI + sizeof LIST];
    snprintf(ini, sizeof ini, "%s%s", INI, LIST);
    ct_campaign c;
    char err[256];
    assert_int_equal(ct_campaign_load_mem("t1.ini", ini, strlen(ini), "staff.csv", ROSTER,
                                          sizeof ROSTER - 1, &c, err, sizeof err),
                     CT_OK);
    ct_counts k;
    ct_counts_init(&k);
    fill(&k);
    const uint8_t c1[2] = {0, 1}, c2[2] = {0, 2};
    ct_count_key k1 = ct_count_key_make(CT_COUNT_COMMUNE, CT_PROGRAM_BHYT_HGD, 672, c1, 2);
    ct_count_key k2 = ct_count_key_make(CT_COUNT_COMMUNE, CT_PROGRAM_BHYT_HGD, 672, c2, 2);
    assert_int_equal(ct_counts_set(&k, &k1, 2), CT_OK);
    assert_int_equal(ct_counts_set(&k, &k2, 0), CT_OK);
    ct_status_figures f;
    assert_int_equal(ct_status_compute(&c, &k, at("2023-07-26T20:00+07:00"), &f), CT_OK);
    assert_int_equal(f.districts[0].n_communes, 0);
    assert_null(f.districts[0].communes);
    const ct_status_unit *u = &f.districts[1];
    assert_int_equal(u->n_communes, 2);
    assert_int_equal(u->communes[0].code, 1);
    assert_string_equal(u->communes[0].name, "Phường 1");
    assert_int_equal(u->communes[0].net[CT_PROGRAM_BHYT_HGD], 2);
    assert_int_equal(u->communes[1].code, 2);
    assert_string_equal(u->communes[1].name, "Phường 2");
    assert_int_equal(u->communes[1].net[CT_PROGRAM_BHYT_HGD], 0);
    assert_int_equal(u->commune_none[CT_PROGRAM_BHYT_HGD], 1);
    assert_int_equal(u->commune_none[CT_PROGRAM_BHXH_TN], 0);
    ct_status_position pos = {.seq = 42, .now_ms = f.now_ms, .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(&c, &f, &pos, CT_FMT_JSON, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    const char *want_json = "\"communes\":[{\"code\":1,\"name\":\"Phường 1\",\"bhxh_tn\":0,"
                            "\"bhyt_hgd\":2},{\"code\":2,\"name\":\"Phường 2\",\"bhxh_tn\":0,"
                            "\"bhyt_hgd\":0}],\"commune_none\":{\"bhxh_tn\":0,\"bhyt_hgd\":1}}";
    const char *hit = strstr((char *)b.data, want_json);
    assert_non_null(hit);
    assert_null(strstr(hit + 1, "\"communes\"")); /* only 672 */
    ct_buf_reset(&b);
    assert_int_equal(ct_status_render_figures(&c, &f, &pos, CT_FMT_COMMUNE_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    const char *tail = ",2023-07-26T20:00:00+07:00,42,"
                       "0000000000000000000000000000000000000000000000000000000000000000,live\r\n";
    char want_csv[1024];
    snprintf(want_csv, sizeof want_csv,
             "district_code,district_name,commune_code,commune_name,bhxh_tn_net,bhyt_hgd_net,"
             "as_of,seq,head,feed\r\n"
             "672,\"Thành phố \"\"Đà Lạt\"\", Lâm Đồng\",1,Phường 1,0,2%s"
             "672,\"Thành phố \"\"Đà Lạt\"\", Lâm Đồng\",2,Phường 2,0,0%s"
             "672,\"Thành phố \"\"Đà Lạt\"\", Lâm Đồng\",0,,0,1%s",
             tail, tail, tail);
    assert_string_equal((char *)b.data, want_csv);
    ct_status_format fmt;
    assert_int_equal(ct_status_format_parse("commune-csv", &fmt), CT_OK);
    assert_int_equal(fmt, CT_FMT_COMMUNE_CSV);
    ct_buf_free(&b);
    ct_status_figures_free(&f);
    ct_counts_free(&k);
    ct_campaign_free(&c);
}

static void test_display_width(void **state)
{
    (void)state;
    const char *nfc = "Đà Lạt";                 /* 6 code points, 9 bytes */
    const char *nfd = "Da\xcc\x80 La\xcc\xa3t"; /* D a ` space L a . t: 6 columns */
    const char *wide = "漢字";
    assert_int_equal(ct_text_display_width(nfc, strlen(nfc)), 6);
    assert_int_equal(ct_text_display_width(nfd, strlen(nfd)), 6);
    assert_int_equal(ct_text_display_width(wide, strlen(wide)), 4);
    assert_int_equal(ct_text_display_width("abc", 3), 3);
}

/* Every line of every table block (from its header line to the blank line
 * that ends it) has the same display width, though byte lengths differ. */
static void test_table_alignment(void **state)
{
    fixture *fx = *state;
    /* add an NFD-named staff member's district name through a second campaign */
    ct_status_position pos = {.seq = 42, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_TABLE, CT_STATUS_STAFF, &b),
                     CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    char *text = (char *)b.data;
    int blocks = 0, in_block = 0, differing_bytes = 0;
    size_t width = 0, bytes = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t len = (size_t)(nl - line);
        assert_true(len == 0 || line[len - 1] != ' '); /* no trailing spaces */
        size_t w = ct_text_display_width(line, len);
        int header = strncmp(line, "Code  ", 6) == 0 || strncmp(line, "Group  ", 7) == 0 ||
                     strncmp(line, "Day   ", 6) == 0;
        if (header) {
            in_block = 1;
            blocks++;
            width = w;
            bytes = len;
        } else if (len == 0) {
            in_block = 0;
        } else if (in_block) {
            assert_int_equal(w, width);
            if (len != bytes) differing_bytes++;
        }
        line = nl + 1;
    }
    assert_int_equal(blocks, 6); /* 2 programs, staff, groups, days, below quota */
    assert_true(differing_bytes > 0);
    assert_non_null(strstr(text, "Thành phố \"Đà Lạt\", Lâm Đồng"));
    assert_non_null(strstr(text, "Staff below their personal quota: 3"));
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mid_campaign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phase_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
        cmocka_unit_test(test_communes),
        cmocka_unit_test(test_display_width),
        cmocka_unit_test_setup_teardown(test_table_alignment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
