/* test_faultsim_campaign.c — allocation-failure sweep over loading the
 * embedded Lâm Đồng campaign (INI through inih, roster CSV through libcsv,
 * sorting and indexing). Every failing run must return CT_ERR_NOMEM (a
 * failed allocation is never reported as a bad campaign file) and leak
 * nothing; the failure-free run loads the same campaign as an unarmed load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_faultsim.h"
#include "ct_sweep.h"

static ct_campaign ref;

static ct_err load(void *arg)
{
    (void)arg;
    ct_campaign c;
    char err[256] = "";
    ct_err e = ct_campaign_load_default(&c, err, sizeof err);
    if (e) return e;
    if (c.n_districts != ref.n_districts || c.n_agents != ref.n_agents ||
        c.n_groups != ref.n_groups || strcmp(c.id, ref.id) != 0 ||
        memcmp(c.fingerprint, ref.fingerprint, sizeof c.fingerprint) != 0 ||
        strcmp(c.agents[c.n_agents - 1].id, ref.agents[ref.n_agents - 1].id) != 0)
        e = CT_ERR_INTERNAL;
    ct_campaign_free(&c);
    return e;
}

static const ct_err nomem_only[] = {CT_ERR_NOMEM};

static void test_campaign_load(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(ct_campaign_load_default(&ref, err, sizeof err), CT_OK);
    assert_int_equal(ref.n_agents, 184);
    for (int persistent = 0; persistent < 2; persistent++) {
        ct_sweep s = {.name = "campaign",
                      .fn = load,
                      .persistent = persistent,
                      .allowed = nomem_only,
                      .n_allowed = 1,
                      .max_k = 100000};
        ct_sweep_result r;
        ct_sweep_run(&s, &r);
        assert_true(r.errors > 5);
    }
    ct_campaign_free(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
