/* test_counts.c — ct_counts: set/add/get, growth past many resizes, zero
 * values vs absent keys in ct_counts_equal (and the smallest differing key),
 * clear, and the filtered sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_counts.h"

static ct_count_key agent_key(ct_program p, uint32_t d, const char *agent)
{
    return ct_count_key_make(CT_COUNT_AGENT, p, d, agent, strlen(agent));
}

static ct_count_key net_key(ct_program p, uint32_t d)
{
    return ct_count_key_make(CT_COUNT_NET, p, d, NULL, 0);
}

static void test_basic(void **state)
{
    (void)state;
    ct_counts c;
    ct_counts_init(&c);
    ct_count_key k = net_key(CT_PROGRAM_BHXH_TN, 672);
    assert_int_equal(ct_counts_get(&c, &k), 0);
    assert_int_equal(ct_counts_add(&c, &k, 5), CT_OK);
    assert_int_equal(ct_counts_add(&c, &k, -2), CT_OK);
    assert_int_equal(ct_counts_get(&c, &k), 3);
    assert_int_equal(c.n, 1);
    assert_int_equal(ct_counts_set(&c, &k, -7), CT_OK);
    assert_int_equal(ct_counts_get(&c, &k), -7);
    /* a zero value stays in the table */
    assert_int_equal(ct_counts_set(&c, &k, 0), CT_OK);
    assert_int_equal(c.n, 1);
    /* keys differing only in length are different */
    ct_count_key a1 = agent_key(CT_PROGRAM_BHXH_TN, 672, "LD672-001");
    ct_count_key a2 = agent_key(CT_PROGRAM_BHXH_TN, 672, "LD672-0011");
    assert_int_equal(ct_counts_add(&c, &a1, 1), CT_OK);
    assert_int_equal(ct_counts_add(&c, &a2, 2), CT_OK);
    assert_int_equal(ct_counts_get(&c, &a1), 1);
    assert_int_equal(ct_counts_get(&c, &a2), 2);
    assert_int_equal(c.n, 3);
    ct_counts_clear(&c);
    assert_int_equal(c.n, 0);
    assert_true(c.cap > 0);
    assert_int_equal(ct_counts_get(&c, &a1), 0);
    ct_counts_free(&c);
    assert_null(c.slots);
    assert_int_equal(c.cap, 0);
    ct_counts_free(&c); /* idempotent */
}

static void test_growth(void **state)
{
    (void)state;
    ct_counts c;
    ct_counts_init(&c);
    const int N = 50000;
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "A%d", i);
        ct_count_key k = agent_key((ct_program)(i & 1), (uint32_t)(600 + i % 100), id);
        assert_int_equal(ct_counts_add(&c, &k, i), CT_OK);
    }
    assert_int_equal(c.n, (size_t)N);
    assert_true(c.cap >= 2 * c.n);
    assert_int_equal(c.cap & (c.cap - 1), 0);
    size_t used = 0;
    for (size_t i = 0; i < c.cap; i++)
        used += c.slots[i].used;
    assert_int_equal(used, (size_t)N);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "A%d", i);
        ct_count_key k = agent_key((ct_program)(i & 1), (uint32_t)(600 + i % 100), id);
        assert_int_equal(ct_counts_get(&c, &k), i);
    }
    ct_count_key missing = agent_key(CT_PROGRAM_BHXH_TN, 600, "A1"); /* A1 is program 1 */
    assert_int_equal(ct_counts_get(&c, &missing), 0);
    ct_counts_free(&c);
}

static void test_equal(void **state)
{
    (void)state;
    ct_counts a, b;
    ct_counts_init(&a);
    ct_counts_init(&b);
    ct_count_key diff;
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 1);
    ct_count_key k1 = net_key(CT_PROGRAM_BHXH_TN, 672);
    ct_count_key k2 = net_key(CT_PROGRAM_BHYT_HGD, 672);
    ct_count_key k3 = agent_key(CT_PROGRAM_BHXH_TN, 673, "LD673-001");
    /* absent == 0 */
    assert_int_equal(ct_counts_set(&a, &k1, 0), CT_OK);
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 1);
    assert_int_equal(ct_counts_equal(&b, &a, NULL), 1);
    assert_int_equal(ct_counts_set(&a, &k2, 4), CT_OK);
    assert_int_equal(ct_counts_set(&b, &k2, 4), CT_OK);
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 1);
    /* differences on both sides: the smallest key is reported */
    assert_int_equal(ct_counts_set(&b, &k3, 1), CT_OK); /* only in b */
    assert_int_equal(ct_counts_set(&a, &k1, 2), CT_OK); /* only in a (b absent) */
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 0);
    assert_int_equal(ct_count_key_cmp(&diff, &k1), 0); /* NET(1) < AGENT(4) */
    assert_int_equal(ct_counts_equal(&b, &a, &diff), 0);
    assert_int_equal(ct_count_key_cmp(&diff, &k1), 0);
    assert_int_equal(ct_counts_set(&a, &k1, 0), CT_OK);
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 0);
    assert_int_equal(ct_count_key_cmp(&diff, &k3), 0);
    assert_int_equal(ct_counts_set(&a, &k3, 1), CT_OK);
    assert_int_equal(ct_counts_equal(&a, &b, &diff), 1);
    ct_counts_free(&a);
    ct_counts_free(&b);
}

static void test_sum(void **state)
{
    (void)state;
    ct_counts c;
    ct_counts_init(&c);
    ct_count_key k;
    k = net_key(CT_PROGRAM_BHXH_TN, 672);
    ct_counts_set(&c, &k, 3);
    k = net_key(CT_PROGRAM_BHXH_TN, 673);
    ct_counts_set(&c, &k, 5);
    k = net_key(CT_PROGRAM_BHYT_HGD, 672);
    ct_counts_set(&c, &k, 7);
    k = agent_key(CT_PROGRAM_BHXH_TN, 672, "LD672-001");
    ct_counts_set(&c, &k, 100);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, -1, 0), 15);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 0), 8);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, CT_PROGRAM_BHYT_HGD, 0), 7);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, -1, 672), 10);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 673), 5);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_AGENT, -1, 0), 100);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_DAY, -1, 0), 0);
    ct_counts_free(&c);
    ct_counts_init(&c);
    assert_int_equal(ct_counts_sum(&c, CT_COUNT_NET, -1, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
