/* test_status_life.c — the campaign's life in the status report
 * (report/ct_status_life.h) on real counter tables built by hand from the
 * tally rule of docs/PROTOCOL.md §5.3, against values computed by hand:
 *
 *  - target revisions: the one in force is the greatest (ef, seq) with
 *    ef <= clock (an earlier-issued, later-effective one wins over a
 *    later-issued, earlier-effective one); a revision effective in the past
 *    changes pct, expected, required daily rate, projection and verdict
 *    exactly; a per-staff quota revision gives quota x staff and the
 *    staff's attainment; a pending one is listed and not used; the history
 *    chains old -> new;
 *  - closed days: the official figure (DAY - AFTER_CLOSE) beside the
 *    current one after a late event, unit and province closes, a reopened
 *    close listed without a day;
 *  - lateness percentiles exactly at the bucket boundaries (50 %, 90 %), the
 *    open bucket 7, the max;
 *  - rankings by attainment of the own target, with the tie rules;
 *  - the JSON members and the life CSVs byte for byte; no life member at
 *    all for counters without kinds 10..21.
 *
 * The campaign is tests/report/test_status.c's: window 2023-07-22T08:00+07
 * .. 2023-08-01T00:00+07 (835200000 ms); A1 in 68; A2, A3 in 672; agent
 * targets 1 + 2, so targets 68: 1/2, 672: 2/4. Clock mid-campaign
 * 2023-07-26T20:00+07 (elapsed 388800000 ms, left 446400000 ms).
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
#include "ct_status.h"
#include "ct_status_life.h"
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
                          "[district 68]\n"
                          "name = Văn phòng tỉnh\n"
                          "[district 672]\n"
                          "name = Đà Lạt\n";

static const char ROSTER[] = "agent_id,name,district,org\n"
                             "A1,An,68,bhxh\n"
                             "A2,Bình,672,bhxh\n"
                             "A3,Cường,672,buudien\n";

static const ct_program X = CT_PROGRAM_BHXH_TN, Y = CT_PROGRAM_BHYT_HGD;

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

static void set_day(ct_counts *k, ct_count_kind kind, ct_program p, uint32_t d, uint32_t day,
                    int64_t v)
{
    uint8_t b[4];
    ct_be32_put(b, day);
    ct_count_key key = ct_count_key_make(kind, p, d, b, 4);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

static int64_t at(const char *iso)
{
    int64_t ms;
    assert_int_equal(ct_time_parse(iso, 0, &ms), CT_OK);
    return ms;
}

static void set_target(ct_counts *k, ct_program p, uint32_t unit, const char *ef, uint64_t seq,
                       int64_t v)
{
    uint8_t dim[16];
    ct_be64_put(dim, (uint64_t)at(ef));
    ct_be64_put(dim + 8, seq);
    ct_count_key key = ct_count_key_make(CT_COUNT_TARGET, p, unit, dim, 16);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

static void set_life(ct_counts *k, uint32_t unit, uint64_t seq, int64_t kind)
{
    uint8_t dim[8];
    ct_be64_put(dim, seq);
    ct_count_key key = ct_count_key_make(CT_COUNT_LIFE, 0, unit, dim, 8);
    assert_int_equal(ct_counts_set(k, &key, kind), CT_OK);
}

static void set_after_close(ct_counts *k, ct_program p, uint32_t unit, uint32_t day, uint64_t s,
                            int64_t v)
{
    uint8_t dim[12];
    ct_be32_put(dim, day);
    ct_be64_put(dim + 4, s);
    ct_count_key key = ct_count_key_make(CT_COUNT_AFTER_CLOSE, p, unit, dim, 12);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

static void set_hist(ct_counts *k, ct_program p, uint32_t unit, uint8_t bucket, int64_t v)
{
    ct_count_key key = ct_count_key_make(CT_COUNT_LATE_HIST, p, unit, &bucket, 1);
    assert_int_equal(ct_counts_set(k, &key, v), CT_OK);
}

/* The enrollments of test_status.c's table (consistent with the rule):
 *   68  bhxh: A1 1 (day 22); 68 bhyt: A1 1 (day 22)
 *   672 bhxh: A2 1 (day 23), cancelled; 672 bhyt: A2 2 + A3 1 (day 24) */
static void fill_base(ct_counts *k)
{
    set(k, CT_COUNT_NET, X, 68, NULL, 1);
    set(k, CT_COUNT_GROSS, X, 68, NULL, 1);
    set(k, CT_COUNT_NET, Y, 68, NULL, 1);
    set(k, CT_COUNT_GROSS, Y, 68, NULL, 1);
    set(k, CT_COUNT_AGENT, X, 68, "A1", 1);
    set(k, CT_COUNT_AGENT, Y, 68, "A1", 1);
    set_day(k, CT_COUNT_DAY, X, 68, 20230722, 1);
    set_day(k, CT_COUNT_DAY, Y, 68, 20230722, 1);
    set(k, CT_COUNT_NET, X, 672, NULL, 0);
    set(k, CT_COUNT_GROSS, X, 672, NULL, 1);
    set(k, CT_COUNT_CANCELLED, X, 672, NULL, 1);
    set(k, CT_COUNT_AGENT, X, 672, "A2", 0);
    set_day(k, CT_COUNT_DAY, X, 672, 20230723, 0);
    set(k, CT_COUNT_NET, Y, 672, NULL, 3);
    set(k, CT_COUNT_GROSS, Y, 672, NULL, 3);
    set(k, CT_COUNT_AGENT, Y, 672, "A2", 2);
    set(k, CT_COUNT_AGENT, Y, 672, "A3", 1);
    set_day(k, CT_COUNT_DAY, Y, 672, 20230724, 3);
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
    fill_base(&fx->k);
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

static ct_status_figures compute(fixture *fx, const char *clock)
{
    ct_status_figures f;
    assert_int_equal(ct_status_compute(&fx->c, &fx->k, at(clock), &f), CT_OK);
    return f;
}

/* The revisions of bhyt_hgd in 672 (issued seq 50, 55, 70) and 68 (pending),
 * and a bhxh_tn quota revision to 3 from before the start. */
static void fill_targets(ct_counts *k)
{
    set_target(k, Y, 672, "2023-07-23T00:00+07:00", 50, 10);
    set_target(k, Y, 672, "2023-07-23T00:00+07:00", 55, 8);
    set_target(k, Y, 672, "2023-07-22T12:00+07:00", 70, 20); /* issued last, effective first */
    set_target(k, Y, 68, "2023-07-30T00:00+07:00", 60, 5);   /* pending at the clock */
    set_target(k, X, 0, "2023-07-22T00:00+07:00", 40, 3);    /* per-staff quota */
    set_life(k, 0, 40, 3);
    set_life(k, 672, 50, 3);
    set_life(k, 672, 55, 3);
    set_life(k, 68, 60, 3);
    set_life(k, 672, 70, 3);
}

static void test_targets_in_force(void **state)
{
    fixture *fx = *state;
    fill_targets(&fx->k);
    ct_status_figures f = compute(fx, "2023-07-26T20:00+07:00");
    assert_non_null(f.life);
    const ct_status_prog *y672 = &f.districts[1].prog[Y];
    /* (ef 23 00:00, seq 55) = 8 is the greatest (ef, seq) with ef <= clock.
     * net 3 / 8 = 37.5 %; remaining 5; expected 8 x 388800000 / 835200000 =
     * 3.724 -> 3.7; need 5 / 5.1667 d = 0.968 -> 1.0; projection 3 x
     * 835200000 / 388800000 = 6.444 -> 6.4 < 8: at risk (was on track with
     * the file's 4). */
    assert_int_equal(y672->target, 8);
    assert_int_equal(y672->pct_x10, 375);
    assert_int_equal(y672->remaining, 5);
    assert_int_equal(y672->expected_x10, 37);
    assert_int_equal(y672->required_daily_x10, 10);
    assert_int_equal(y672->projection_x10, 64);
    assert_int_equal(y672->verdict, CT_VERDICT_AT_RISK);
    /* the quota revision: bhxh 3 per staff: 68 -> 3 x 1, 672 -> 3 x 2;
     * province 9; A1's 1 of 3 = 33.3 %, nobody meets it */
    assert_int_equal(f.agent_target[X], 3);
    assert_int_equal(f.agent_target[Y], 2);
    assert_int_equal(f.districts[0].prog[X].target, 3);
    assert_int_equal(f.districts[1].prog[X].target, 6);
    assert_int_equal(f.province.prog[X].target, 9);
    assert_int_equal(f.province.prog[Y].target, 10); /* 68's 2 (5 pending) + 8 */
    assert_int_equal(f.districts[0].members[0].pct_x10[X], 333);
    assert_int_equal(f.province.prog[X].staff_met, 0);
    /* the originals beside them */
    assert_int_equal(f.life->units[1].target_original[Y], 4);
    assert_int_equal(f.life->province.target_original[X], 3);
    assert_int_equal(f.life->quota_original[X], 1);
    assert_int_equal(f.life->quota[X], 3);
    /* history by (program, unit, ef, seq), old -> new chained */
    assert_int_equal(f.life->n_targets, 5);
    const ct_life_target *t = f.life->targets;
    assert_true(t[0].program == X && t[0].unit == 0 && t[0].old_value == 1 && t[0].new_value == 3 &&
                !t[0].pending);
    assert_true(t[1].program == Y && t[1].unit == 68 && t[1].old_value == 2 &&
                t[1].new_value == 5 && t[1].pending);
    assert_true(t[2].unit == 672 && t[2].seq == 70 && t[2].old_value == 4 && t[2].new_value == 20);
    assert_true(t[3].unit == 672 && t[3].seq == 50 && t[3].old_value == 20 && t[3].new_value == 10);
    assert_true(t[4].unit == 672 && t[4].seq == 55 && t[4].old_value == 10 && t[4].new_value == 8);
    /* the LIFE index by seq names its revisions */
    assert_int_equal(f.life->n_changes, 5);
    assert_int_equal(f.life->changes[0].seq, 40);
    assert_int_equal(f.life->changes[0].target, 0);
    assert_int_equal(f.life->changes[4].seq, 70);
    assert_int_equal(f.life->changes[4].target, 2);
    ct_status_figures_free(&f);

    /* Between 22 12:00 and 23 00:00 only seq 70 (20) is in force: 3/20 =
     * 15 %. Before 22 00:00 the quota revision is not in force either. */
    f = compute(fx, "2023-07-22T20:00+07:00");
    assert_int_equal(f.districts[1].prog[Y].target, 20);
    assert_int_equal(f.districts[1].prog[Y].pct_x10, 150);
    ct_status_figures_free(&f);
    f = compute(fx, "2023-07-21T20:00+07:00");
    assert_int_equal(f.districts[1].prog[Y].target, 4);
    assert_int_equal(f.districts[1].prog[X].target, 2);
    assert_int_equal(f.agent_target[X], 1);
    ct_status_figures_free(&f);
    /* after 30 00:00 the 68 revision is in force: province bhyt 5 + 8 */
    f = compute(fx, "2023-07-30T12:00+07:00");
    assert_int_equal(f.province.prog[Y].target, 13);
    assert_false(f.life->targets[1].pending);
    ct_status_figures_free(&f);
}

/* Day 23 closed for 672 at seq 30 (bhxh DAY was 0 then; a late enroll for
 * the 23rd counted after it: DAY 1, AFTER_CLOSE 1, LATE_CLOSED 1); day 24
 * closed for the province at seq 35 (672 bhyt 2 then, a late one after:
 * 3); day 25 closed at 33 and reopened at 34. */
static void fill_closes(ct_counts *k)
{
    set_day(k, CT_COUNT_CLOSE, 0, 672, 20230723, 30);
    set_day(k, CT_COUNT_DAY, X, 672, 20230723, 1);
    set_after_close(k, X, 672, 20230723, 30, 1);
    set_day(k, CT_COUNT_LATE_CLOSED, X, 672, 20230723, 1);
    set_day(k, CT_COUNT_CLOSE, 0, 0, 20230724, 35);
    set_after_close(k, Y, 672, 20230724, 35, 1);
    set_day(k, CT_COUNT_LATE_CLOSED, Y, 672, 20230724, 1);
    set_day(k, CT_COUNT_CLOSE, 0, 0, 20230725, 0);
    set_life(k, 672, 30, 4);
    set_life(k, 0, 33, 4);
    set_life(k, 0, 34, 5);
    set_life(k, 0, 35, 4);
}

static void test_closed_days(void **state)
{
    fixture *fx = *state;
    fill_closes(&fx->k);
    ct_status_figures f = compute(fx, "2023-07-26T20:00+07:00");
    const ct_status_life *l = f.life;
    assert_non_null(l);
    /* days 22..31: index 1 = the 23rd, 2 = the 24th, 3 = the 25th */
    const ct_life_day *d23 = &l->units[1].days[1], *d24 = &l->units[1].days[2];
    assert_int_equal(d23->day, 20230723);
    assert_int_equal(d23->close_seq, 30);
    assert_false(d23->by_province);
    assert_int_equal(d23->current[X], 1);
    assert_int_equal(d23->official[X], 0);
    assert_int_equal(d23->late_closed[X], 1);
    assert_int_equal(l->province.days[1].close_seq, 0); /* the province did not close it */
    assert_int_equal(l->province.days[1].official[X], 1);
    assert_int_equal(l->units[0].days[1].close_seq, 0); /* nor did 68 */
    assert_int_equal(d24->close_seq, 35);
    assert_true(d24->by_province);
    assert_int_equal(d24->current[Y], 3);
    assert_int_equal(d24->official[Y], 2);
    assert_int_equal(l->units[0].days[2].close_seq, 35); /* 68 too, nothing late there */
    assert_int_equal(l->province.days[2].close_seq, 35);
    assert_int_equal(l->province.days[2].current[Y], 3);
    assert_int_equal(l->province.days[2].official[Y], 2);
    assert_int_equal(l->province.days[2].late_closed[Y], 1);
    assert_int_equal(l->province.days[3].close_seq, 0); /* reopened */
    assert_int_equal(l->units[1].late.late_closed, 2);
    /* the changes: closes in force name their day, the reopened one not */
    assert_int_equal(l->n_changes, 4);
    assert_true(l->changes[0].seq == 30 && l->changes[0].kind == 4 && l->changes[0].unit == 672 &&
                l->changes[0].day == 20230723);
    assert_true(l->changes[1].seq == 33 && l->changes[1].day == 0);
    assert_true(l->changes[2].seq == 34 && l->changes[2].kind == 5);
    assert_true(l->changes[3].seq == 35 && l->changes[3].unit == 0 &&
                l->changes[3].day == 20230724);

    ct_status_position pos = {.seq = 40, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "replay"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_CHANGES_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    static const char TAIL[] = ",2023-07-26T20:00:00+07:00,40,"
                               "0000000000000000000000000000000000000000000000000000000000000000,"
                               "replay\r\n";
    char want[2048];
    snprintf(want, sizeof want,
             "entry_seq,kind,unit_code,unit_name,program,day,effective,old,new,pending,as_of,seq,"
             "head,feed\r\n"
             "30,close,672,Đà Lạt,,2023-07-23,,,,%s"
             "33,close,0,,,,,,,%s"
             "34,reopen,0,,,,,,,%s"
             "35,close,0,,,2023-07-24,,,,%s",
             TAIL, TAIL, TAIL, TAIL);
    assert_string_equal((const char *)b.data, want);
    /* the days CSV: 672's 23rd (bhxh) and the province's 24th (bhyt) */
    ct_buf_reset(&b);
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_DAYS_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "\r\ndistrict,672,Đà Lạt,2023-07-23,bhxh_tn,1,0,30,unit,1,0,0,1,0,"
                              "2023-07-26T20:00:00+07:00,40,"));
    assert_non_null(strstr(s, "\r\nprovince,,Toàn tỉnh,2023-07-24,bhyt_hgd,3,2,35,province,1,0,0,4,"
                              "0,2023-07-26T20:00:00+07:00,40,"));
    /* 2 levels... 3 units (68, 672, province) x 10 days x 2 programs + header */
    size_t lines = 0;
    for (const char *p = s; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    assert_int_equal(lines, 1 + 3 * 10 * 2);
    ct_buf_free(&b);
    ct_status_figures_free(&f);
}

/* 672: 5 in bucket 0, 5 in bucket 3 (n 10): 2 x 5 >= 10 -> p50 bucket 0
 * (<= 900 s) exactly at 50 %; 10 x 5 < 90, 10 x 10 >= 90 -> p90 bucket 3
 * (<= 86400 s). 68: 9 bhxh in bucket 0 and 1 bhyt in bucket 1: 10 x 9 >=
 * 9 x 10 -> p90 bucket 0 exactly at 90 %. 673-less province: [14, 1, 0, 5]
 * n 20 -> p50 0, p90 3 (10 x 15 < 180 <= 10 x 20). The open bucket: a unit
 * with only bucket 7 has no upper bound (null). */
static void test_lateness(void **state)
{
    fixture *fx = *state;
    set_hist(&fx->k, X, 672, 0, 2);
    set_hist(&fx->k, Y, 672, 0, 3);
    set_hist(&fx->k, Y, 672, 3, 5);
    set_hist(&fx->k, X, 68, 0, 9);
    set_hist(&fx->k, Y, 68, 1, 1);
    set(&fx->k, CT_COUNT_LATE_MAX, X, 672, NULL, 80000);
    set(&fx->k, CT_COUNT_LATE_MAX, Y, 672, NULL, 86399);
    set(&fx->k, CT_COUNT_LATE_MAX, Y, 68, NULL, 3000);
    set_day(&fx->k, CT_COUNT_AFTER_DAY, Y, 672, 20230724, 2);
    set_day(&fx->k, CT_COUNT_RECV_DAY, Y, 672, 20230724, 1);
    set_day(&fx->k, CT_COUNT_RECV_DAY, Y, 672, 20230801, 2); /* received after the window */
    ct_status_figures f = compute(fx, "2023-07-26T20:00+07:00");
    const ct_status_life *l = f.life;
    assert_int_equal(l->units[1].late.counted, 10);
    assert_int_equal(l->units[1].late.p50, 0);
    assert_int_equal(l->units[1].late.p90, 3);
    assert_int_equal(l->units[1].late.max_s, 86399);
    assert_int_equal(l->units[1].late.after_day, 2);
    assert_int_equal(l->units[0].late.p50, 0);
    assert_int_equal(l->units[0].late.p90, 0);
    assert_int_equal(l->province.late.counted, 20);
    assert_int_equal(l->province.late.p50, 0);
    assert_int_equal(l->province.late.p90, 3);
    assert_int_equal(l->province.late.max_s, 86399);
    assert_int_equal(ct_status_late_bound_s(0), 900);
    assert_int_equal(ct_status_late_bound_s(3), 86400);
    assert_int_equal(ct_status_late_bound_s(7), -1);
    /* the day received after the window is no row: received_outside */
    assert_int_equal(f.n_days, 10);
    assert_int_equal(l->units[1].received_outside[Y], 2);
    assert_int_equal(l->province.received_outside[Y], 2);
    assert_int_equal(l->province.received_outside[X], 0);
    assert_int_equal(l->units[1].days[2].received[Y], 1);
    assert_int_equal(l->units[1].days[2].current[Y], 3);

    ct_status_position pos = {.seq = 7, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_LATE_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    static const char TAIL[] = ",2023-07-26T20:00:00+07:00,7,"
                               "0000000000000000000000000000000000000000000000000000000000000000,"
                               "live\r\n";
    char want[2048];
    snprintf(want, sizeof want,
             "level,district_code,district_name,counted,late_15m,late_1h,late_6h,late_24h,"
             "late_48h,late_72h,late_7d,late_more,p50_bucket,p50_s,p90_bucket,p90_s,max_s,"
             "after_day,late_after_close,bhxh_tn_received_outside,bhyt_hgd_received_outside,as_of,"
             "seq,head,feed\r\n"
             "district,68,Văn phòng tỉnh,10,9,1,0,0,0,0,0,0,0,900,0,900,3000,0,0,0,0%s"
             "district,672,Đà Lạt,10,5,0,0,5,0,0,0,0,0,900,3,86400,86399,2,0,0,2%s"
             "province,,Toàn tỉnh,20,14,1,0,5,0,0,0,0,0,900,3,86400,86399,2,0,0,2%s",
             TAIL, TAIL, TAIL);
    assert_string_equal((const char *)b.data, want);
    /* JSON: the province's lateness member exactly */
    ct_buf_reset(&b);
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_JSON, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_non_null(strstr((const char *)b.data,
                           "\"late\":{\"province\":{\"counted\":20,\"hist\":[14,1,0,5,0,0,0,0],"
                           "\"p50_bucket\":0,\"p50_s\":900,\"p90_bucket\":3,\"p90_s\":86400,"
                           "\"max_s\":86399,\"after_day\":2,\"late_after_close\":0,"
                           "\"received_outside\":{\"bhxh_tn\":0,\"bhyt_hgd\":2}},"
                           "\"districts\":[{\"code\":68,\"counted\":10,"));
    ct_buf_free(&b);
    ct_status_figures_free(&f);

    /* only bucket 7: p50 = p90 = 7, no upper bound */
    set_hist(&fx->k, X, 672, 0, 0);
    set_hist(&fx->k, Y, 672, 0, 0);
    set_hist(&fx->k, Y, 672, 3, 0);
    set_hist(&fx->k, Y, 672, 7, 4);
    f = compute(fx, "2023-07-26T20:00+07:00");
    assert_int_equal(f.life->units[1].late.p50, 7);
    assert_int_equal(f.life->units[1].late.p90, 7);
    b = (ct_buf)CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_JSON, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_non_null(strstr((const char *)b.data,
                           "{\"code\":672,\"counted\":4,\"hist\":[0,0,0,0,0,0,0,4],"
                           "\"p50_bucket\":7,\"p50_s\":null,\"p90_bucket\":7,\"p90_s\":null,"));
    ct_buf_free(&b);
    ct_status_figures_free(&f);
}

/* Offices, bhyt: 68 2/2 = 100 % before 672 3/4 = 75 % (attainment, not
 * volume). bhxh: 68 1/1 and 672 2/2 tie at 100 %: the larger net first.
 * Staff, bhyt (quota 2): A1 2 (1 voided) and A2 2 (0 voided) tie at 100 %
 * and on net: fewer voided first, A2 before A1 whatever their units; A3 1
 * last. bhxh (quota 1): A1 1 and A2 1 tie on everything but the unit: 68
 * first; A3 0 last. */
static void test_ranking(void **state)
{
    fixture *fx = *state;
    set(&fx->k, CT_COUNT_NET, Y, 68, NULL, 2);
    set(&fx->k, CT_COUNT_AGENT, Y, 68, "A1", 2);
    set(&fx->k, CT_COUNT_VOIDED, Y, 68, "A1", 1);
    set(&fx->k, CT_COUNT_NET, X, 672, NULL, 2);
    set(&fx->k, CT_COUNT_AGENT, X, 672, "A2", 1);
    ct_status_figures f = compute(fx, "2023-07-26T20:00+07:00");
    const ct_status_life *l = f.life;
    assert_non_null(l);
    assert_int_equal(f.districts[l->offices[Y][0].unit].code, 68);
    assert_int_equal(l->offices[Y][0].pct_x10, 1000);
    assert_int_equal(l->offices[Y][0].voided, 1);
    assert_int_equal(f.districts[l->offices[Y][1].unit].code, 672);
    assert_int_equal(l->offices[Y][1].pct_x10, 750);
    assert_int_equal(f.districts[l->offices[X][0].unit].code, 672);
    assert_int_equal(f.districts[l->offices[X][1].unit].code, 68);
    assert_int_equal(l->n_staff, 3);
    assert_string_equal(l->staff[Y][0].agent->id, "A2");
    assert_string_equal(l->staff[Y][1].agent->id, "A1");
    assert_int_equal(l->staff[Y][1].voided, 1);
    assert_string_equal(l->staff[Y][2].agent->id, "A3");
    assert_string_equal(l->staff[X][0].agent->id, "A1");
    assert_string_equal(l->staff[X][1].agent->id, "A2");
    assert_string_equal(l->staff[X][2].agent->id, "A3");
    assert_int_equal(l->staff[X][2].pct_x10, 0);

    ct_status_position pos = {.seq = 9, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_RANKING_CSV, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    static const char TAIL[] = ",2023-07-26T20:00:00+07:00,9,"
                               "0000000000000000000000000000000000000000000000000000000000000000,"
                               "live\r\n";
    char want[4096];
    snprintf(want, sizeof want,
             "level,program,rank,district_code,district_name,agent_id,agent_name,net,target,pct,"
             "voided,corrected,cancelled,as_of,seq,head,feed\r\n"
             "office,bhxh_tn,1,672,Đà Lạt,,,2,2,100.0,0,0,1%s"
             "office,bhxh_tn,2,68,Văn phòng tỉnh,,,1,1,100.0,0,0,0%s"
             "office,bhyt_hgd,1,68,Văn phòng tỉnh,,,2,2,100.0,1,0,0%s"
             "office,bhyt_hgd,2,672,Đà Lạt,,,3,4,75.0,0,0,0%s"
             "staff,bhxh_tn,1,68,Văn phòng tỉnh,A1,An,1,1,100.0,0,,%s"
             "staff,bhxh_tn,2,672,Đà Lạt,A2,Bình,1,1,100.0,0,,%s"
             "staff,bhxh_tn,3,672,Đà Lạt,A3,Cường,0,1,0.0,0,,%s"
             "staff,bhyt_hgd,1,672,Đà Lạt,A2,Bình,2,2,100.0,0,,%s"
             "staff,bhyt_hgd,2,68,Văn phòng tỉnh,A1,An,2,2,100.0,1,,%s"
             "staff,bhyt_hgd,3,672,Đà Lạt,A3,Cường,1,2,50.0,0,,%s",
             TAIL, TAIL, TAIL, TAIL, TAIL, TAIL, TAIL, TAIL, TAIL, TAIL);
    assert_string_equal((const char *)b.data, want);
    ct_buf_reset(&b);
    assert_int_equal(ct_status_render_figures(&fx->c, &f, &pos, CT_FMT_JSON, 0, &b), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_non_null(strstr(
        (const char *)b.data,
        "\"ranking\":{\"offices\":{\"bhxh_tn\":[{\"rank\":1,\"code\":672,\"net\":2,\"target\":2,"
        "\"pct\":100.0,\"voided\":0,\"corrected\":0,\"cancelled\":1},{\"rank\":2,\"code\":68,"
        "\"net\":1,\"target\":1,\"pct\":100.0,\"voided\":0,\"corrected\":0,\"cancelled\":0}],"));
    assert_non_null(strstr((const char *)b.data,
                           "\"staff\":{\"bhxh_tn\":[{\"rank\":1,\"id\":\"A1\",\"district\":68,"
                           "\"net\":1,\"target\":1,\"pct\":100.0,\"voided\":0},"));
    ct_buf_free(&b);
    ct_status_figures_free(&f);
}

/* The JSON members a unit and the report gain, exactly, for the targets
 * fixture; and none of them without life counters. */
static void test_json_members(void **state)
{
    fixture *fx = *state;
    ct_status_position pos = {.seq = 80, .now_ms = at("2023-07-26T20:00+07:00"), .feed = "live"};
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, CT_STATUS_DETAIL, &b),
                     CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    const char *s = (const char *)b.data;
    assert_null(strstr(s, "\"life"));
    assert_null(strstr(s, "voided"));
    assert_null(strstr(s, "target_original"));
    ct_buf_reset(&b);
    fill_targets(&fx->k);
    set(&fx->k, CT_COUNT_VOIDED, Y, 672, "A3", 1);
    set(&fx->k, CT_COUNT_CORRECTED, Y, 672, NULL, 2);
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, CT_STATUS_DETAIL, &b),
                     CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    s = (const char *)b.data;
    assert_non_null(strstr(s, "\"agent_target\":{\"bhxh_tn\":3,\"bhyt_hgd\":2}"));
    assert_non_null(
        strstr(s, "\"bhyt_hgd\":{\"net\":3,\"target\":8,\"pct\":37.5,\"remaining\":5,\"gross\":3,"
                  "\"cancelled\":0,\"repeats\":0,\"expected\":3.7,\"required_daily\":1.0,"
                  "\"projection\":6.4,\"verdict\":\"at_risk\",\"staff_met\":1,"
                  "\"target_original\":4,\"voided\":1,\"corrected\":2}"));
    assert_non_null(strstr(s, "{\"id\":\"A3\",\"name\":\"Cường\",\"bhxh_tn\":0,\"bhyt_hgd\":1,"
                              "\"voided\":{\"bhxh_tn\":0,\"bhyt_hgd\":1}}"));
    assert_non_null(strstr(
        s, ",\"life\":{\"quota\":{\"bhxh_tn\":3,\"bhyt_hgd\":2},\"quota_original\":{\"bhxh_tn\":1,"
           "\"bhyt_hgd\":2},\"targets\":[{\"program\":\"bhxh_tn\",\"unit\":0,\"effective\":"
           "\"2023-07-22T00:00:00+07:00\",\"effective_ms\":1689958800000,\"seq\":40,\"old\":1,"
           "\"new\":3,\"pending\":false},{\"program\":\"bhyt_hgd\",\"unit\":68,\"effective\":"
           "\"2023-07-30T00:00:00+07:00\",\"effective_ms\":1690650000000,\"seq\":60,\"old\":2,"
           "\"new\":5,\"pending\":true},"));
    assert_non_null(strstr(s, "\"changes\":[{\"seq\":40,\"kind\":\"target\",\"unit\":0,"
                              "\"program\":\"bhxh_tn\",\"old\":1,\"new\":3},{\"seq\":50,"
                              "\"kind\":\"target\",\"unit\":672,\"program\":\"bhyt_hgd\","
                              "\"old\":20,\"new\":10},"));
    /* the report still ends with one object and a newline */
    size_t n = strlen(s);
    assert_true(n > 3 && s[n - 1] == '\n' && s[n - 2] == '}');
    /* deterministic */
    ct_buf b2 = CT_BUF_INIT;
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_JSON, CT_STATUS_DETAIL, &b2),
                     CT_OK);
    assert_int_equal(ct_buf_append(&b2, "", 1), CT_OK);
    assert_string_equal((const char *)b2.data, s);
    /* the table carries the sections */
    ct_buf_reset(&b2);
    assert_int_equal(ct_status_render(&fx->c, &fx->k, &pos, CT_FMT_TABLE, 0, &b2), CT_OK);
    assert_int_equal(ct_buf_append(&b2, "", 1), CT_OK);
    assert_non_null(strstr((const char *)b2.data, "chitieu-audit life"));
    assert_non_null(
        strstr((const char *)b2.data, "bhyt_hgd 20 -> 10 from 2023-07-23T00:00:00+07:00"));
    assert_non_null(
        strstr((const char *)b2.data, "bhyt_hgd 2 -> 5 from 2023-07-30T00:00:00+07:00 (pending)"));
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_targets_in_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_days, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lateness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_members, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
