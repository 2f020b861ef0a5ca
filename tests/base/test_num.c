/* test_num.c — the strict unsigned parser (base/ct_num.h) at its edges, and
 * the big-endian helpers (base/ct_be.h) against fixed byte patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct_be.h"
#include "ct_num.h"

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 77;
    assert_true(ct_num_parse_u64("0", 10, &v));
    assert_int_equal(v, 0);
    assert_true(ct_num_parse_u64("007", 10, &v));
    assert_int_equal(v, 7);
    assert_true(ct_num_parse_u64("65535", 65535, &v));
    assert_int_equal(v, 65535);
    assert_true(ct_num_parse_u64("18446744073709551615", UINT64_MAX, &v));
    assert_true(v == UINT64_MAX);
    v = 77;
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "١", NULL};
    for (int i = 0; bad[i]; i++)
        assert_false(ct_num_parse_u64(bad[i], UINT64_MAX, &v));
    assert_false(ct_num_parse_u64(NULL, 10, &v));
    assert_false(ct_num_parse_u64("65536", 65535, &v));
    assert_false(ct_num_parse_u64("18446744073709551616", UINT64_MAX, &v)); /* overflow */
    assert_false(ct_num_parse_u64("99999999999999999999999", UINT64_MAX, &v));
    assert_false(ct_num_parse_u64("5", 4, &v));
    assert_false(ct_num_parse_u64("1", 0, &v));
    assert_true(ct_num_parse_u64("0", 0, &v));
    assert_int_equal(v, 0);
}

static void test_be(void **state)
{
    (void)state;
    uint8_t b[8];
    ct_be16_put(b, 0x1234);
    assert_memory_equal(b, "\x12\x34", 2);
    assert_int_equal(ct_be16_get(b), 0x1234);
    ct_be32_put(b, 0xdeadbeefu);
    assert_memory_equal(b, "\xde\xad\xbe\xef", 4);
    assert_int_equal(ct_be32_get(b), 0xdeadbeefu);
    ct_be64_put(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(ct_be64_get(b) == 0x0102030405060708ull);
    ct_be64_put(b, UINT64_MAX);
    assert_true(ct_be64_get(b) == UINT64_MAX);
    /* memcmp order is numeric order */
    uint8_t x[8], y[8];
    ct_be64_put(x, 255);
    ct_be64_put(y, 256);
    assert_true(memcmp(x, y, 8) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_be),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
