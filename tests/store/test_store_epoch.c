/* test_store_epoch.c — unit tests of the store's epochs (store/ct_store_epoch.c)
 * on real LMDB files: the epoch of a store never promoted, a promotion by one
 * (ct_store_promote), a promotion to a given epoch (ct_store_promote_to: the
 * group's etcd revision) with the head it began at, its refusal of an epoch
 * not above the store's, and adoption that never lowers. Each test works in
 * its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ct_storekit.h"

static void test_promote_to(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = sk_open_ok(td.dir, 0);
    uint64_t ep = 0, seq = 99;
    uint8_t h[CT_LOGREC_HASH_LEN], zero[CT_LOGREC_HASH_LEN] = {0};
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 1);
    assert_int_equal(ct_store_epoch_start(s, 57, &seq, h), CT_ERR_NOT_FOUND);
    /* the group's revision: any higher epoch, recorded with the head */
    assert_int_equal(ct_store_promote_to(s, 57), CT_OK);
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 57);
    assert_int_equal(ct_store_epoch_start(s, 57, &seq, h), CT_OK);
    assert_int_equal(seq, 0);
    assert_memory_equal(h, zero, sizeof h);
    /* not above the store's epoch: refused, nothing written */
    assert_int_equal(ct_store_promote_to(s, 57), CT_ERR_STALE_EPOCH);
    assert_int_equal(ct_store_promote_to(s, 12), CT_ERR_STALE_EPOCH);
    assert_int_equal(ct_store_epoch_start(s, 12, &seq, h), CT_ERR_NOT_FOUND);
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 57);
    /* adoption never lowers; a manual promotion goes on by one */
    assert_int_equal(ct_store_adopt_epoch(s, 40), CT_OK);
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 57);
    assert_int_equal(ct_store_promote(s, &ep), CT_OK);
    assert_int_equal(ep, 58);
    /* durable: the same after a reopen */
    ct_store_close(s);
    s = sk_open_ok(td.dir, 0);
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 58);
    assert_int_equal(ct_store_epoch_start(s, 57, &seq, h), CT_OK);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

int main(void)
{
    if (sk_campaign_load()) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promote_to),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_campaign_free();
    return rc;
}
