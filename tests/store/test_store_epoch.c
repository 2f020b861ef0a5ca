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
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_testkit.h"

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_logrec.h"
#include "ct_store.h"

static ct_campaign g_camp;

static ct_store *open_ok(const char *dir)
{
    ct_store_opts o = {.dir = dir, .campaign_id = g_camp.id};
    ct_store *s = NULL;
    char err[256] = "";
    assert_int_equal(ct_store_open(&o, &s, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_set_campaign(s, &g_camp, err, sizeof err), CT_OK);
    return s;
}

static void test_promote_to(void **state)
{
    (void)state;
    ct_tmpdir td;
    assert_int_equal(ct_tmpdir_make(&td, "ct-store-epoch"), 0);
    ct_store *s = open_ok(td.dir);
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
    s = open_ok(td.dir);
    assert_int_equal(ct_store_epoch(s, &ep), CT_OK);
    assert_int_equal(ep, 58);
    assert_int_equal(ct_store_epoch_start(s, 57, &seq, h), CT_OK);
    ct_store_close(s);
    assert_int_equal(ct_tmpdir_remove(&td), 0);
}

int main(void)
{
    char err[256];
    if (ct_campaign_load_default(&g_camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promote_to),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&g_camp);
    return rc;
}
