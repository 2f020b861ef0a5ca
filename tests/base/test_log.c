/* test_log.c — values from outside in log fields (base/ct_log.h,
 * ct_log_quote): plain values stay bare, anything that could end a field or
 * forge a key is one JSON-quoted value, long values are cut inside quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct_log.h"

static void test_quote(void **state)
{
    (void)state;
    ct_log_val b;
    assert_string_equal(ct_log_quote(&b, "lan"), "lan");
    assert_string_equal(ct_log_quote(&b, "/var/lib/chitieu/outbox"), "/var/lib/chitieu/outbox");
    assert_string_equal(ct_log_quote(&b, "Phường"), "Phường");
    assert_string_equal(ct_log_quote(&b, ""), "\"\"");
    assert_string_equal(ct_log_quote(&b, "lan\" x=y"), "\"lan\\\" x=y\"");
    assert_string_equal(ct_log_quote(&b, "a=b"), "\"a=b\"");
    assert_string_equal(ct_log_quote(&b, "a b"), "\"a b\"");
    assert_string_equal(ct_log_quote(&b, "a\\b"), "\"a\\\\b\"");
    assert_string_equal(ct_log_quote(&b, "x\ny level=error"), "\"x\\ny level=error\"");
    assert_string_equal(ct_log_quote(&b, "\x01\x7f"), "\"\\u0001\\u007f\"");
    assert_string_equal(CT_LOG_Q("my file.csv"), "\"my file.csv\"");
    /* too long: cut between escapes, "..." inside the quotes */
    char big[1000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *q = ct_log_quote(&b, big);
    size_t n = strlen(q);
    assert_true(n < CT_LOG_VAL_MAX);
    assert_string_equal(q + n - 4, "...\"");
    assert_int_equal(q[0], '"');
    for (size_t i = 1; i + 4 < n; i += 2)
        assert_memory_equal(q + i, "\\\"", 2);
    memset(big, 'a', sizeof big - 1);
    q = ct_log_quote(&b, big); /* bare but too long: quoted and cut */
    n = strlen(q);
    assert_int_equal(q[0], '"');
    assert_string_equal(q + n - 4, "...\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_quote)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
