/* test_time.c — ct_time: ISO-8601 parse/format with offsets, civil dates,
 * campaign-local day boundaries in +07:00. Expected values were computed
 * independently (Python calendar.timegm). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ct_time.h"

#define ICT 420 /* +07:00 */

static int64_t P(const char *s, int32_t def)
{
    int64_t ms = 0;
    assert_int_equal(ct_time_parse(s, def, &ms), CT_OK);
    return ms;
}

static void test_parse_offsets(void **state)
{
    (void)state;
    assert_int_equal(P("2023-07-22T08:00:00+07:00", 0), INT64_C(1689987600000));
    assert_int_equal(P("2023-07-22T01:00:00Z", ICT), INT64_C(1689987600000));
    assert_int_equal(P("2023-07-22T01:00:00z", ICT), INT64_C(1689987600000));
    assert_int_equal(P("2023-07-22T01:00:00+00:00", ICT), INT64_C(1689987600000));
    assert_int_equal(P("2023-07-21T19:30:00-05:30", ICT), INT64_C(1689987600000));
    /* no zone: the default offset applies */
    assert_int_equal(P("2023-07-22T08:00:00", ICT), INT64_C(1689987600000));
    assert_int_equal(P("2023-07-22T08:00", ICT), INT64_C(1689987600000));
    /* date only: local midnight */
    assert_int_equal(P("2023-07-22", ICT), INT64_C(1689987600000) - 8 * 3600000);
    assert_int_equal(P("2023-08-01T00:00:00+07:00", 0), INT64_C(1690822800000));
    /* fractions of a second */
    assert_int_equal(P("2023-07-22T01:00:00.5Z", 0), INT64_C(1689987600500));
    assert_int_equal(P("2023-07-22T01:00:00.05Z", 0), INT64_C(1689987600050));
    assert_int_equal(P("2023-07-22T01:00:00.123Z", 0), INT64_C(1689987600123));
    /* epoch and before */
    assert_int_equal(P("1970-01-01T00:00:00Z", 0), 0);
    assert_int_equal(P("1969-12-31T23:59:59.999Z", 0), -1);
    /* leap day */
    assert_int_equal(P("2024-02-29T00:00:00Z", 0), INT64_C(1709164800000));
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "2023",
        "2023-07",
        "2023-7-22",
        "2023-07-22T",
        "2023-07-22T8:00",
        "2023-02-29",
        "2023-13-01",
        "2023-00-10",
        "2023-07-32",
        "2023-04-31",
        "2023-07-22T24:00:00Z",
        "2023-07-22T23:60:00Z",
        "2023-07-22T23:59:60Z",
        "2023-07-22T08:00:00+7:00",
        "2023-07-22T08:00:00+0700",
        "2023-07-22T08:00:00+19:00",
        "2023-07-22T08:00:00+07:60",
        "2023-07-22T08:00:00.1234Z",
        "2023-07-22T08:00:00.Z",
        "2023-07-22T08:00:00Zjunk",
        "2023-07-22 08:00:00",
        " 2023-07-22",
        "2023-07-22x",
        "2023-07-22T08:00:00+07:00 ",
        "+2023-07-22",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 12345;
        if (ct_time_parse(bad[i], ICT, &ms) != CT_ERR_BAD_VALUE) fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(ms, 12345);
    }
    assert_int_equal(ct_time_parse(NULL, 0, NULL), CT_ERR_ARG);
}

static void test_tz_parse(void **state)
{
    (void)state;
    int32_t off = 1;
    assert_int_equal(ct_tz_parse("+07:00", &off), CT_OK);
    assert_int_equal(off, 420);
    assert_int_equal(ct_tz_parse("-05:30", &off), CT_OK);
    assert_int_equal(off, -330);
    assert_int_equal(ct_tz_parse("Z", &off), CT_OK);
    assert_int_equal(off, 0);
    assert_int_equal(ct_tz_parse("+18:00", &off), CT_OK);
    assert_int_equal(off, 1080);
    assert_int_equal(ct_tz_parse("+18:01", &off), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_tz_parse("07:00", &off), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_tz_parse("+07", &off), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_tz_parse("+07:00x", &off), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_tz_parse("", &off), CT_ERR_BAD_VALUE);
}

static void test_format(void **state)
{
    (void)state;
    char buf[40];
    ct_time_format(INT64_C(1689987600000), ICT, buf, sizeof buf);
    assert_string_equal(buf, "2023-07-22T08:00:00+07:00");
    ct_time_format(INT64_C(1689987600000), 0, buf, sizeof buf);
    assert_string_equal(buf, "2023-07-22T01:00:00Z");
    ct_time_format(INT64_C(1689987600123), ICT, buf, sizeof buf);
    assert_string_equal(buf, "2023-07-22T08:00:00.123+07:00");
    ct_time_format(INT64_C(1689987600000), -330, buf, sizeof buf);
    assert_string_equal(buf, "2023-07-21T19:30:00-05:30");
    ct_time_format(-1, 0, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    ct_time_format(INT64_C(1690822800000) - 1, ICT, buf, sizeof buf);
    assert_string_equal(buf, "2023-07-31T23:59:59.999+07:00");
    ct_time_format(INT64_C(1709164800000), 0, buf, sizeof buf);
    assert_string_equal(buf, "2024-02-29T00:00:00Z");
    /* truncation never overflows */
    char small[8];
    ct_time_format(0, 0, small, sizeof small);
    assert_int_equal(strlen(small), 7);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int32_t offs[] = {0, 420, -330, 345, -720, 840};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* 1900 .. 2100 */
        int64_t ms = (int64_t)(x % UINT64_C(6311433600000)) - INT64_C(2208988800000);
        if (i % 3 == 0) ms -= ms % 1000;
        int32_t off = offs[i % 6];
        char buf[40];
        ct_time_format(ms, off, buf, sizeof buf);
        int64_t back = 0;
        if (ct_time_parse(buf, 0, &back) != CT_OK || back != ms)
            fail_msg("round trip of %lld at %d: '%s' -> %lld", (long long)ms, off, buf,
                     (long long)back);
    }
}

static void test_days_and_local_day(void **state)
{
    (void)state;
    assert_int_equal(ct_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ct_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(ct_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ct_days_from_civil(2023, 7, 22), 19560);
    assert_int_equal(ct_days_from_civil(2024, 3, 1) - ct_days_from_civil(2024, 2, 28), 2);
    assert_int_equal(ct_days_from_civil(2100, 3, 1) - ct_days_from_civil(2100, 2, 28), 1);
    /* campaign-local days in +07:00: local midnight is 17:00Z */
    assert_int_equal(ct_time_yyyymmdd(P("2023-07-22T16:59:59Z", 0), ICT), 20230722);
    assert_int_equal(ct_time_yyyymmdd(P("2023-07-22T16:59:59.999Z", 0), ICT), 20230722);
    assert_int_equal(ct_time_yyyymmdd(P("2023-07-22T17:00:00Z", 0), ICT), 20230723);
    assert_int_equal(ct_time_yyyymmdd(P("2023-07-22T17:00:00Z", 0), 0), 20230722);
    assert_int_equal(ct_time_yyyymmdd(P("2023-08-01T00:00:00+07:00", 0) - 1, ICT), 20230731);
    assert_int_equal(ct_time_yyyymmdd(P("2023-08-01T00:00:00+07:00", 0), ICT), 20230801);
    assert_int_equal(ct_time_yyyymmdd(-1, 0), 19691231);
    assert_int_equal(ct_time_yyyymmdd(0, -1), 19691231);
    assert_int_equal(ct_time_yyyymmdd(P("2023-12-31T23:30:00-01:00", 0), 0), 20240101);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = ct_monotonic_ms();
    uint64_t n1 = ct_monotonic_ns(), n2 = ct_monotonic_ns();
    assert_true(n2 >= n1);
    assert_true(ct_monotonic_ms() >= a);
    assert_true(ct_now_ms() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_offsets), cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_tz_parse),      cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_days_and_local_day),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
