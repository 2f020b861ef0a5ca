/* test_offices.c — the aggregator's office telemetry table: the latest
 * message per (district, origin) wins, entries stay sorted, a district holds
 * at most CT_OFFICES_PER_DISTRICT offices (a new one replaces the one heard
 * from longest ago) and the table at most CT_STATUS_MAX_OFFICES (then
 * too_many and nothing changes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ct_offices.h"

static ct_wire_telemetry tel(uint32_t d, uint32_t o, uint64_t waiting)
{
    ct_wire_telemetry t;
    memset(&t, 0, sizeof t);
    t.token = 77;
    t.district = d;
    t.origin[0] = (uint8_t)(o >> 24);
    t.origin[7] = (uint8_t)o;
    t.waiting = waiting;
    snprintf(t.version, sizeof t.version, "v");
    return t;
}

static void test_latest_sorted(void **state)
{
    (void)state;
    ct_offices *t;
    assert_int_equal(ct_offices_create(&t), CT_OK);
    ct_wire_telemetry a = tel(673, 1, 5), b = tel(672, 2, 3), c = tel(673, 1, 9);
    assert_int_equal(ct_offices_record(t, &a, 1000), CT_OK);
    assert_int_equal(ct_offices_record(t, &b, 1001), CT_OK);
    assert_int_equal(ct_offices_record(t, &c, 1002), CT_OK);
    size_t n;
    const ct_wire_office *e = ct_offices_list(t, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].tel.district, 672);
    assert_int_equal(e[1].tel.district, 673);
    assert_int_equal(e[1].tel.waiting, 9); /* the latest */
    assert_int_equal(e[1].seen_ms, 1002);
    assert_int_equal(e[1].tel.token, 0);
    ct_offices_free(t);
}

static void test_bounds(void **state)
{
    (void)state;
    ct_offices *t;
    assert_int_equal(ct_offices_create(&t), CT_OK);
    /* one district: the 9th office replaces the one heard from longest ago */
    for (uint32_t o = 1; o <= CT_OFFICES_PER_DISTRICT; o++) {
        ct_wire_telemetry x = tel(672, o, o);
        assert_int_equal(ct_offices_record(t, &x, 100 + o), CT_OK);
    }
    ct_wire_telemetry again = tel(672, 1, 1); /* office 1 heard again: 2 is the oldest */
    assert_int_equal(ct_offices_record(t, &again, 500), CT_OK);
    ct_wire_telemetry ninth = tel(672, 99, 99);
    assert_int_equal(ct_offices_record(t, &ninth, 600), CT_OK);
    size_t n;
    const ct_wire_office *e = ct_offices_list(t, &n);
    assert_int_equal(n, CT_OFFICES_PER_DISTRICT);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(e[i].tel.origin[7], 2);
    for (size_t i = 1; i < n; i++)
        assert_true(memcmp(e[i - 1].tel.origin, e[i].tel.origin, 8) < 0);
    /* the whole table */
    ct_offices_free(t);
    assert_int_equal(ct_offices_create(&t), CT_OK);
    uint32_t d = 1, o = 0;
    for (size_t i = 0; i < CT_STATUS_MAX_OFFICES; i++) {
        if (++o > CT_OFFICES_PER_DISTRICT) {
            o = 1;
            d++;
        }
        ct_wire_telemetry x = tel(d, o, 0);
        assert_int_equal(ct_offices_record(t, &x, 1), CT_OK);
    }
    ct_wire_telemetry full = tel(60000, 1, 0);
    assert_int_equal(ct_offices_record(t, &full, 2), CT_ERR_TOO_MANY);
    e = ct_offices_list(t, &n);
    assert_int_equal(n, CT_STATUS_MAX_OFFICES);
    ct_wire_telemetry known = tel(1, 1, 42); /* a known office still reports */
    assert_int_equal(ct_offices_record(t, &known, 3), CT_OK);
    assert_int_equal(ct_offices_list(t, &n)[0].tel.waiting, 42);
    ct_offices_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_sorted),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
