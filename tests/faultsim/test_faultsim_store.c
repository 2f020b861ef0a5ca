/* test_faultsim_store.c — allocation-failure sweep over the LMDB store
 * (store/ct_store.h only): open a fresh store, give it the campaign, apply
 * one batch (new enrollments, a duplicate, a cancel), scan the log, read the
 * counts, close. LMDB and msgpack-c allocate too: a failure inside them must
 * come back as a clean error. The failure-free run checks every status, seq
 * and count. Each run gets a fresh directory (made and removed unarmed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_counts.h"
#include "ct_faultsim.h"
#include "ct_store.h"
#include "ct_sweep.h"
#include "ct_tally.h"
#include "ct_testkit.h"
#include "ct_wire.h"

#define N_EV 12 /* 10 enrollments, a duplicate of the first, a cancel of the second */
#define T0 ((int64_t)1690246800000) /* 2023-07-25T08:00:00+07:00 */

typedef struct {
    ct_campaign camp;
    ct_event ev[N_EV];
    ct_buf raw[N_EV];
    ct_tmpdir dir;
} fixture;

static void make_events(fixture *f)
{
    static const uint8_t origin[CT_ORIGIN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (uint32_t i = 0; i < N_EV; i++) {
        ct_event *e = &f->ev[i];
        f->raw[i] = (ct_buf)CT_BUF_INIT;
        if (i == 10) { /* the exact duplicate of event 0 */
            *e = f->ev[0];
            assert_int_equal(ct_event_encode(e, &f->raw[i]), CT_OK);
            continue;
        }
        memset(e, 0, sizeof *e);
        uint32_t person = i < 10 ? 100 + i : 101;
        ct_event_id_make(e->id, origin, i + 1);
        e->occurred_ms = T0 + i * 1000;
        snprintf(e->campaign, sizeof e->campaign, "%s", f->camp.id);
        e->district = 672;
        snprintf(e->agent, sizeof e->agent, "LD672-00%u", 1 + i % 3);
        e->program = CT_PROGRAM_BHYT_HGD;
        e->action = i == 11 ? CT_ACTION_CANCEL : CT_ACTION_ENROLL;
        memcpy(e->person, &person, sizeof person);
        assert_int_equal(ct_event_encode(e, &f->raw[i]), CT_OK);
    }
}

static void before(void *arg)
{
    fixture *f = arg;
    assert_int_equal(ct_tmpdir_make(&f->dir, "ct-faultsim-store"), 0);
}

static void after(void *arg)
{
    fixture *f = arg;
    assert_int_equal(ct_tmpdir_remove(&f->dir), 0);
}

typedef struct {
    uint64_t next;
    int bad;
} scan_state;

static ct_err on_record(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    scan_state *st = arg;
    if (rec->seq != st->next) st->bad = 1;
    st->next++;
    return CT_OK;
}

static ct_err scenario(void *arg)
{
    fixture *f = arg;
    ct_err e;
    char err[256] = "";
    ct_store *s = NULL;
    ct_counts changed, all;
    ct_counts_init(&changed);
    ct_counts_init(&all);
    ct_store_opts o = {.dir = f->dir.dir,
                       .map_size = (size_t)64 << 20,
                       .campaign_id = f->camp.id,
                       .fingerprint = f->camp.fingerprint};
    if ((e = ct_store_open(&o, &s, err, sizeof err)) != CT_OK) goto out;
    if ((e = ct_store_set_campaign(s, &f->camp, err, sizeof err)) != CT_OK) goto out;
    ct_store_item it[N_EV];
    for (size_t i = 0; i < N_EV; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].ev = &f->ev[i];
        it[i].raw = f->raw[i].data;
        it[i].raw_len = f->raw[i].len;
        it[i].collector = "insecure";
        it[i].received_ms = T0 + 60000;
        it[i].local_day = ct_campaign_local_day(&f->camp, f->ev[i].occurred_ms);
    }
    ct_store_commit c = {.changed = &changed};
    if ((e = ct_store_apply_batch(s, it, N_EV, &c)) != CT_OK) goto out;
    e = CT_ERR_INTERNAL; /* until every value is checked */
    if (c.seq_before != 0 || c.seq_after != 11) goto out;
    for (size_t i = 0; i < N_EV; i++)
        if (it[i].status != (i == 10 ? CT_ACK_DUPLICATE : CT_ACK_ACCEPTED)) goto out;
    ct_count_key net = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHYT_HGD, 672, NULL, 0);
    if (ct_counts_get(&changed, &net) != 9) goto out;
    scan_state st = {.next = 1};
    uint64_t bad = 0;
    if ((e = ct_store_log_scan(s, 1, 0, on_record, &st, &bad)) != CT_OK) goto out;
    e = CT_ERR_INTERNAL;
    if (st.bad || st.next != 12) goto out;
    uint64_t seq = 0;
    uint8_t head[CT_LOGREC_HASH_LEN];
    if ((e = ct_store_read_counts(s, &all, &seq, head)) != CT_OK) goto out;
    e = CT_ERR_INTERNAL;
    if (seq != 11 || memcmp(head, c.head, sizeof head) != 0 || ct_counts_get(&all, &net) != 9)
        goto out;
    e = CT_OK;
out:
    ct_store_close(s);
    ct_counts_free(&changed);
    ct_counts_free(&all);
    return e;
}

/* An allocation LMDB could not make comes back as an LMDB error (ENOMEM
 * inside it) or, for a batch, as "store unavailable, retry". */
static const ct_err allowed[] = {CT_ERR_NOMEM, CT_ERR_LMDB, CT_ERR_STORE_UNAVAILABLE};

static void test_store(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char err[256];
    assert_int_equal(ct_campaign_load_default(&f->camp, err, sizeof err), CT_OK);
    make_events(f);
    for (int persistent = 0; persistent < 2; persistent++) {
        ct_sweep s = {.name = "store",
                      .fn = scenario,
                      .before = before,
                      .after = after,
                      .arg = f,
                      .persistent = persistent,
                      .allowed = allowed,
                      .n_allowed = sizeof allowed / sizeof allowed[0],
                      .max_k = 100000};
        ct_sweep_result r;
        ct_sweep_run(&s, &r);
        assert_true(r.errors > 10);
    }
    for (int i = 0; i < N_EV; i++)
        ct_buf_free(&f->raw[i]);
    ct_campaign_free(&f->camp);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
