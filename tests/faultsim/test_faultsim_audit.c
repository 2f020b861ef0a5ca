/* test_faultsim_audit.c — allocation-failure sweep over the audit engine
 * (audit/ct_audit.h) verifying a small store made by ct_testgen — events and
 * campaign life entries (voids, corrections incl. program moves, target
 * revisions, closes and reopens) — as `chitieu-audit verify` does: read the
 * stored counts, walk the log through ct_audit_record, check the ids index,
 * compare the recount with every stored counter (the store's own write path
 * is the oracle here: the failure-free run must find them equal, and so
 * must every run that the injected failure did not stop). Single-threaded
 * and with 3 checking threads (failures then also land in the workers, in the
 * order they allocate). A failed allocation must come back as a runtime error
 * (a.err or the scan's ct_err), never as a divergence: a finding caused by
 * memory would be a false alarm about the data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_audit.h"
#include "ct_campaign_default.h"
#include "ct_counts.h"
#include "ct_faultsim.h"
#include "ct_keys.h"
#include "ct_store.h"
#include "ct_sweep.h"
#include "ct_testgen.h"
#include "ct_testkit.h"

#define N_EVENTS 3000 /* two pipeline batches */

typedef struct {
    ct_campaign camp;
    ct_tmpdir dir;
    uint8_t head[CT_LOGREC_HASH_LEN];
    uint64_t n_records, n_life; /* the store's: events + the life entries it accepted */
    unsigned threads;
} fixture;

static ct_err verify(void *arg)
{
    fixture *f = arg;
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    ct_err e;
    char err[256] = "";
    ct_store *s = NULL;
    ct_counts stored;
    ct_counts_init(&stored);
    ct_audit a;
    bool audit_live = false;
    ct_store_opts so = {.dir = f->dir.dir, .campaign_id = f->camp.id, .read_only = true};
    if ((e = ct_store_open(&so, &s, err, sizeof err)) != CT_OK) goto out;
    uint64_t seq = 0;
    uint8_t head[CT_LOGREC_HASH_LEN];
    if ((e = ct_store_read_counts(s, &stored, &seq, head)) != CT_OK) goto out;
    ct_audit_opts ao = {.campaign = &f->camp, .ids_store = s, .threads = f->threads};
    ct_audit_init(&a, &ao, 1, zero);
    audit_live = true;
    uint64_t bad = 0;
    ct_err rc = ct_store_log_scan(s, 1, seq, ct_audit_record, &a, &bad);
    ct_audit_finish(&a);
    if (rc && !a.diverged && !a.stopped && !a.err) a.err = rc;
    if (a.err) {
        e = a.err;
        goto out;
    }
    if (!a.diverged && (e = ct_audit_check_ids(&a, s)) != CT_OK) goto out;
    char finding[512] = "";
    if (a.diverged || !ct_audit_compare_counts(&stored, &a.counts, finding, sizeof finding)) {
        fprintf(stderr, "faultsim audit: false finding: %s%s\n", a.finding, finding);
        e = CT_ERR_CHAIN;
        goto out;
    }
    e = CT_ERR_INTERNAL;
    if (seq != f->n_records || a.last_seq != f->n_records || a.n_records != f->n_records ||
        a.n_life != f->n_life || memcmp(a.head, f->head, sizeof a.head) != 0)
        goto out;
    e = CT_OK;
out:
    if (audit_live) ct_audit_free(&a);
    ct_counts_free(&stored);
    ct_store_close(s);
    return e;
}

/* A read transaction LMDB could not allocate is an LMDB error. */
static const ct_err allowed[] = {CT_ERR_NOMEM, CT_ERR_LMDB};

static void test_audit_verify(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char err[256];
    assert_int_equal(ct_crypto_init(), CT_OK);
    assert_int_equal(ct_campaign_load_default(&f->camp, err, sizeof err), CT_OK);
    assert_int_equal(ct_tmpdir_make(&f->dir, "ct-faultsim-audit"), 0);
    ct_testgen_opts go = {.events = N_EVENTS, .seed = 3, .batch = 250, .life_per_mille = 100};
    assert_int_equal(ct_testgen_make_store(f->dir.dir, &f->camp, &go), CT_OK);
    assert_true(go.life_logged > 100); /* of 275 offered: the rest refused by the rule */
    f->n_life = go.life_logged;
    f->n_records = N_EVENTS + go.life_logged;
    ct_store *s;
    ct_store_opts so = {.dir = f->dir.dir, .campaign_id = f->camp.id, .read_only = true};
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    uint64_t seq;
    assert_int_equal(ct_store_head(s, &seq, f->head), CT_OK);
    assert_int_equal(seq, f->n_records);
    ct_store_close(s);
    static const unsigned threads[] = {1, 3};
    for (size_t t = 0; t < 2; t++) {
        f->threads = threads[t];
        for (int persistent = 0; persistent < 2; persistent++) {
            char name[32];
            snprintf(name, sizeof name, "audit threads=%u", threads[t]);
            ct_sweep sw = {.name = name,
                           .fn = verify,
                           .arg = f,
                           .persistent = persistent,
                           .allowed = allowed,
                           .n_allowed = sizeof allowed / sizeof allowed[0],
                           .max_k = 100000};
            ct_sweep_result r;
            ct_sweep_run(&sw, &r);
            assert_true(r.errors > 5);
        }
    }
    assert_int_equal(ct_tmpdir_remove(&f->dir), 0);
    ct_campaign_free(&f->camp);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
