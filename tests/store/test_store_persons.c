/* test_store_persons.c — the store's person states on real LMDB files:
 * checkpoints with crashes and replay, sliced checkpoints and a follower's
 * import chunks swept over crash points (the raw "persons" table read with
 * LMDB directly), the person-state map's clear and reuse, the person index
 * at a size held in its own mapping.
 *
 * Each test works in its own mkdtemp directory (removed at the end) and uses
 * the built-in lamdong-2023 campaign (tests/store/ct_storekit.h). Assertions
 * are exact: statuses, codes, sequence numbers, counts, and counts == a
 * recount with ct_tally_entry over the log scan.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "ct_storekit.h"
#include "ct_testkit.h"

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_counts.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_pmap.h"
#include "ct_store_int.h"
#include "ct_store.h"
#include "ct_tally.h"
#include "ct_wire.h"

/* Person-state checkpoints: a small checkpoint interval, crashes (abandon)
 * between checkpoints, replay on reopen: the final counts and head equal
 * those of a store that wrote person states in every batch, and the recount. */
static void run_mixed(ct_store *s, sk_tev *e, int from, int to, int B, ct_store_item *it)
{
    for (int b = from; b < to; b += B) {
        ct_store_commit c = {.changed = NULL};
        assert_int_equal(sk_apply(s, e + b, (size_t)(b + B <= to ? B : to - b), it, &c), CT_OK);
    }
}

static void test_checkpoint_crash_replay(void **state)
{
    (void)state;
    sk_tmpdir ref, ck;
    sk_tmp_make(&ref);
    sk_tmp_make(&ck);
    enum { N = 4000, B = 100 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(7);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 300); /* many repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        sk_tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                    SK_T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    /* reference: person states written in every batch */
    ct_store *r = sk_open_ok(ref.dir, 64u << 20);
    ct_store_set_checkpoint(r, 0, 0);
    run_mixed(r, e, 0, N, B, it);
    sk_assert_consistent(r, N);

    ct_store *s = sk_open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 250, 1000000);
    run_mixed(s, e, 0, 1330, B, it);
    ct_store_abandon(s); /* crash: pending person states lost */

    /* a writer that does not give the campaign cannot write before the replay */
    ct_store_opts o = {.dir = ck.dir, .map_size = 64u << 20, .campaign_id = sk_camp.id};
    char err[256];
    assert_int_equal(ct_store_open(&o, &s, err, sizeof err), CT_OK);
    assert_int_equal(sk_apply(s, e, 1, it, NULL), CT_ERR_ARG);
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    ct_store_set_checkpoint(s, 250, 1000000);
    sk_assert_consistent(s, 1330);
    run_mixed(s, e, 1330, 2900, B, it);
    ct_store_abandon(s);
    s = sk_open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 97, 1000000);
    run_mixed(s, e, 2900, N, B, it);
    /* resends after the crashes are duplicates, whatever was pending */
    ct_store_commit c = {.changed = NULL};
    assert_int_equal(sk_apply(s, e + 1300, B, it, &c), CT_OK);
    for (int i = 0; i < B; i++)
        assert_int_equal(it[i].status, CT_ACK_DUPLICATE);
    sk_assert_consistent(s, N);
    ct_store_close(s); /* writes the pending states */
    s = sk_open_ok(ck.dir, 64u << 20);
    sk_assert_consistent(s, N);

    ct_counts c1, c2;
    ct_counts_init(&c1);
    ct_counts_init(&c2);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    assert_int_equal(ct_store_read_counts(r, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(s, &c2, &s2, h2), CT_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    /* and both go on identically */
    sk_tev more[3];
    sk_tev_make(&more[0], N + 1, 5, CT_PROGRAM_BHXH_TN, CT_ACTION_CANCEL, NULL, SK_T0 + 1);
    sk_tev_make(&more[1], N + 2, 5, CT_PROGRAM_BHXH_TN, CT_ACTION_ENROLL, NULL, SK_T0 + 2);
    sk_tev_make(&more[2], N + 3, 6, CT_PROGRAM_BHYT_HGD, CT_ACTION_ENROLL, NULL, SK_T0 + 3);
    assert_int_equal(sk_apply(r, more, 3, it, NULL), CT_OK);
    ct_store_item it2[3];
    assert_int_equal(sk_apply(s, more, 3, it2, NULL), CT_OK);
    assert_int_equal(ct_store_read_counts(r, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(s, &c2, &s2, h2), CT_OK);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    assert_memory_equal(h1, h2, 32);
    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(r);
    ct_store_close(s);
    sk_tevs_free(e, N);
    sk_tevs_free(more, 3);
    free(e);
    free(it);
    sk_tmp_remove(&ref);
    sk_tmp_remove(&ck);
}

/* The raw "persons" table and the meta "persons_gen" mark of a closed (or
 * abandoned) store, read with LMDB directly: each key is run (8 BE) ||
 * person key; kv holds the person keys and values in person-key order (the
 * runs differ between stores that wrote the same states at other times),
 * and no person key is held under two runs. */
typedef struct {
    size_t n;
    uint8_t *kv;   /* n x (key 33 || value len 1 || value 63) */
    bool gen;      /* a generation was partly written */
    size_t n_runs; /* distinct runs */
} raw_persons;

enum { RAW_REC = CT_PERSON_KEY_LEN + 64 };

static int raw_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CT_PERSON_KEY_LEN);
}

static void raw_persons_read(const char *dir, raw_persons *out)
{
    memset(out, 0, sizeof *out);
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi meta, persons;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(t, "persons", 0, &persons), 0);
    MDB_val k = {sizeof "persons_gen" - 1, (void *)"persons_gen"}, v;
    out->gen = mdb_get(t, meta, &k, &v) == 0;
    MDB_stat st;
    assert_int_equal(mdb_stat(t, persons, &st), 0);
    out->kv = calloc(st.ms_entries + 1, RAW_REC);
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(t, persons, &c), 0);
    uint64_t last_run = 0;
    while (mdb_cursor_get(c, &k, &v, out->n ? MDB_NEXT : MDB_FIRST) == 0) {
        assert_int_equal(k.mv_size, 8 + CT_PERSON_KEY_LEN);
        assert_true(v.mv_size < 64);
        uint64_t run = ct_be64_get(k.mv_data);
        if (!out->n || run != last_run) out->n_runs++;
        last_run = run;
        uint8_t *r = out->kv + out->n * RAW_REC;
        memcpy(r, (const uint8_t *)k.mv_data + 8, CT_PERSON_KEY_LEN);
        r[CT_PERSON_KEY_LEN] = (uint8_t)v.mv_size;
        memcpy(r + CT_PERSON_KEY_LEN + 1, v.mv_data, v.mv_size);
        out->n++;
    }
    assert_int_equal(out->n, st.ms_entries);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    mdb_env_close(env);
    qsort(out->kv, out->n, RAW_REC, raw_cmp);
    for (size_t i = 1; i < out->n; i++) /* one run per person */
        assert_true(raw_cmp(out->kv + (i - 1) * RAW_REC, out->kv + i * RAW_REC) < 0);
}

/* The writer's person index (ct_pindex) names, for every key of "persons",
 * the run that holds it, and holds nothing else. */
static void assert_index_matches(ct_store *s)
{
    assert_true(s->pindex_ok);
    MDB_txn *t;
    MDB_cursor *c;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(mdb_cursor_open(t, s->persons, &c), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        const uint8_t *kb = k.mv_data;
        size_t pos = SIZE_MAX;
        uint64_t run, want = ct_be64_get(kb);
        bool hit = false;
        while (!hit && ct_pindex_next(&s->pindex, ct_pindex_fp(kb + 8), &pos, &run))
            hit = run == want;
        assert_true(hit);
    }
    assert_int_equal(n, s->pindex.n);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
}

/* Sliced checkpoints: a generation of pending states is written a key range
 * per batch; crashes at every phase of it (before the first slice, between
 * slices, right after the last one), each followed by the replay of an open,
 * leave counts, chain and the "persons" table identical to a store that
 * wrote every state in every batch. */
static void test_sliced_checkpoint_crash_sweep(void **state)
{
    (void)state;
    sk_tmpdir ref, ck;
    sk_tmp_make(&ref);
    sk_tmp_make(&ck);
    enum { N = 3000, B = 10 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(11);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 400); /* repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        sk_tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                    SK_T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    ct_store *r = sk_open_ok(ref.dir, 64u << 20);
    ct_store_set_checkpoint(r, 0, 0);
    run_mixed(r, e, 0, N, B, it);
    ct_store_close(r);

    /* 30 pending states (~5 batches) freeze a generation; slices of twice
     * the states a batch changed: ~3 slices per generation */
    ct_store *s = sk_open_ok(ck.dir, 64u << 20);
    ct_store_set_checkpoint(s, 30, 1000000);
    int at = 0, crashes = 0, mid_gen = 0, gap = 3;
    size_t max_runs = 0;
    while (at < N) {
        int to = at + gap * B < N ? at + gap * B : N;
        run_mixed(s, e, at, to, B, it);
        at = to;
        assert_index_matches(s); /* as the slices kept it */
        ct_store_abandon(s);     /* crash */
        raw_persons rp;
        raw_persons_read(ck.dir, &rp);
        mid_gen += rp.gen;
        max_runs = rp.n_runs > max_runs ? rp.n_runs : max_runs;
        crashes++;
        free(rp.kv);
        s = sk_open_ok(ck.dir, 64u << 20); /* replays */
        ct_store_set_checkpoint(s, 30, 1000000);
        assert_index_matches(s); /* as the open rebuilt it */
        sk_assert_consistent(s, (uint64_t)at);
        gap = gap % 11 + 1; /* 1..11 batches between crashes: every phase */
    }
    ct_store_close(s);
    assert_true(crashes > 20);
    assert_true(mid_gen >= 5);  /* the sweep did crash between slices */
    assert_true(max_runs >= 3); /* persons were rewritten by later generations */

    raw_persons a, b;
    raw_persons_read(ref.dir, &a);
    raw_persons_read(ck.dir, &b);
    assert_false(a.gen);
    assert_false(b.gen);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.kv, b.kv, a.n * RAW_REC);
    free(a.kv);
    free(b.kv);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&ref);
    sk_tmp_remove(&ck);
}

/* A follower's import chunks (ct_store_import_commit_ex) write person states
 * as batches do, a slice per chunk: crashes between chunks, each followed by
 * an open's replay, leave counts, chain, head and the "persons" table
 * identical to the source store's, and no chunk wrote a full checkpoint
 * (a generation was seen partly written). */
static void test_import_slices_crash_sweep(void **state)
{
    (void)state;
    sk_tmpdir src_d, fol_d;
    sk_tmp_make(&src_d);
    sk_tmp_make(&fol_d);
    enum { N = 3000, B = 10, CHUNK = 40 };
    sk_tev *e = calloc(N, sizeof *e);
    ct_store_item *it = calloc(B, sizeof *it);
    srand(13);
    for (int i = 0; i < N; i++) {
        uint32_t person = (uint32_t)(rand() % 400); /* repeats and cancels */
        ct_program p = (rand() % 2) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        ct_action a = (rand() % 3) ? CT_ACTION_ENROLL : CT_ACTION_CANCEL;
        sk_tev_make(&e[i], (uint64_t)i + 1, person, p, a, (rand() % 5) ? NULL : "nq143",
                    SK_T0 + (int64_t)(rand() % 8) * 86400000 + i);
    }
    ct_store *src = sk_open_ok(src_d.dir, 64u << 20);
    ct_store_set_checkpoint(src, 0, 0);
    run_mixed(src, e, 0, N, B, it);

    ct_store *f = sk_open_ok(fol_d.dir, 64u << 20);
    ct_store_set_checkpoint(f, 30, 1000000);
    int at = 0, crashes = 0, mid_gen = 0, gap = 2;
    while (at < N) {
        for (int k = 0; k < gap && at < N; k++) {
            int to = at + CHUNK < N ? at + CHUNK : N;
            assert_int_equal(ct_store_import_begin(f), CT_OK);
            sk_import_ctx x = {f, 0, CT_OK};
            uint64_t bad;
            assert_int_equal(
                ct_store_log_scan(src, (uint64_t)at + 1, (uint64_t)to, sk_import_cb, &x, &bad),
                CT_OK);
            ct_store_commit cm = {.changed = NULL};
            assert_int_equal(ct_store_import_commit_ex(f, &cm), CT_OK);
            assert_int_equal(cm.seq_after, (uint64_t)to);
            at = to;
        }
        assert_index_matches(f);
        ct_store_abandon(f); /* crash */
        raw_persons rp;
        raw_persons_read(fol_d.dir, &rp);
        mid_gen += rp.gen;
        crashes++;
        free(rp.kv);
        f = sk_open_ok(fol_d.dir, 64u << 20); /* replays */
        ct_store_set_checkpoint(f, 30, 1000000);
        assert_index_matches(f);
        sk_assert_consistent(f, (uint64_t)at);
        gap = gap % 7 + 1;
    }
    ct_counts c1, c2;
    ct_counts_init(&c1);
    ct_counts_init(&c2);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    assert_int_equal(ct_store_read_counts(src, &c1, &s1, h1), CT_OK);
    assert_int_equal(ct_store_read_counts(f, &c2, &s2, h2), CT_OK);
    assert_int_equal(s1, s2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(ct_counts_equal(&c1, &c2, NULL), 1);
    ct_counts_free(&c1);
    ct_counts_free(&c2);
    ct_store_close(src);
    ct_store_close(f);
    assert_true(crashes > 10);
    assert_true(mid_gen >= 3); /* chunks wrote slices, not whole checkpoints */

    raw_persons a, b;
    raw_persons_read(src_d.dir, &a);
    raw_persons_read(fol_d.dir, &b);
    assert_false(a.gen);
    assert_false(b.gen);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.kv, b.kv, a.n * RAW_REC);
    free(a.kv);
    free(b.kv);
    sk_tevs_free(e, N);
    free(e);
    free(it);
    sk_tmp_remove(&src_d);
    sk_tmp_remove(&fol_d);
}

/* ---- the person-state map: clear and reuse (the store's overlay) --------- */

static void pkey(uint8_t k[CT_PERSON_KEY_LEN], uint32_t i)
{
    memset(k, 0, CT_PERSON_KEY_LEN);
    k[0] = (uint8_t)(i & 1);
    k[1] = (uint8_t)(i * 2654435761u >> 24); /* spread, with collisions in 8 bits */
    memcpy(k + 2, &i, sizeof i);
}

static void test_pmap_clear_reuse(void **state)
{
    (void)state;
    ct_pmap m;
    ct_pmap_init(&m);
    for (int round = 0; round < 3; round++) {
        uint32_t n = round == 1 ? 40 : 3000; /* sparse and dense clears */
        for (uint32_t i = 0; i < n; i++) {
            ct_person_state st = {.enrolled = true,
                                  .district = 672,
                                  .day = 20230725,
                                  .seq = i + 1 + (uint64_t)round * 100000};
            snprintf(st.agent, sizeof st.agent, "LD672-%03u", i % 7);
            if (i % 3) snprintf(st.group, sizeof st.group, "g%u", i % 5);
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            assert_int_equal(ct_pmap_put(&m, k, &st), CT_OK);
        }
        assert_int_equal(m.n, n);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            ct_person_state got;
            assert_true(ct_pmap_get(&m, k, &got));
            assert_int_equal(got.seq, i + 1 + (uint64_t)round * 100000);
            char want[CT_AGENT_ID_MAX + 1];
            snprintf(want, sizeof want, "LD672-%03u", i % 7);
            assert_string_equal(got.agent, want);
            if (i % 3) {
                snprintf(want, sizeof want, "g%u", i % 5);
                assert_string_equal(got.group, want);
            } else {
                assert_string_equal(got.group, "");
            }
        }
        size_t tab_cap = m.tab_cap;
        ct_pmap_clear(&m);
        assert_int_equal(m.n, 0);
        assert_int_equal(m.tab_cap, tab_cap); /* memory kept */
        for (size_t j = 0; j < m.tab_cap; j++)
            assert_int_equal(m.tab[j], 0);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k[CT_PERSON_KEY_LEN];
            pkey(k, i);
            assert_null(ct_pmap_find(&m, k));
        }
    }
    ct_pmap_free(&m);
}

/* The person index past the size of its own huge-page mapping (2 MiB of
 * slots): grown from a calloc'ed table through mapped ones, every key is
 * found under its run, moved in place, and a clear leaves it empty. */
static void test_pindex_large(void **state)
{
    (void)state;
    enum { N = 390000 }; /* slots: 1024 .. 524288 (4 MiB, load <= 3/4) by doubling */
    ct_pindex x;
    memset(&x, 0, sizeof x);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t k[CT_PERSON_KEY_LEN];
        pkey(k, i);
        assert_int_equal(ct_pindex_add(&x, ct_pindex_fp(k), 100 + i / 1000), CT_OK);
    }
    assert_int_equal(x.n, N);
    assert_int_equal(x.cap, 524288);
    assert_int_equal(x.n_runs, N / 1000);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t k[CT_PERSON_KEY_LEN];
        pkey(k, i);
        size_t pos = SIZE_MAX, at = SIZE_MAX;
        uint64_t run;
        while (at == SIZE_MAX && ct_pindex_next(&x, ct_pindex_fp(k), &pos, &run))
            if (run == 100 + i / 1000) at = pos;
        assert_true(at != SIZE_MAX);
        if (i % 2) assert_int_equal(ct_pindex_set_run(&x, at, 7000), CT_OK);
    }
    size_t moved = 0;
    for (size_t j = 0; j < x.cap; j++)
        moved += x.slots[j] && x.runs[x.slots[j] & 0xffffffffu] == 7000;
    assert_int_equal(moved, N / 2);
    assert_true(ct_pindex_bytes(&x) >= 524288 * 8);
    ct_pindex_clear(&x);
    assert_int_equal(x.n, 0);
    for (size_t j = 0; j < x.cap; j++)
        assert_int_equal(x.slots[j], 0);
    uint8_t k[CT_PERSON_KEY_LEN];
    pkey(k, 1);
    size_t pos = SIZE_MAX;
    uint64_t run;
    assert_false(ct_pindex_next(&x, ct_pindex_fp(k), &pos, &run));
    ct_pindex_free(&x);
    assert_null(x.slots);
}

int main(void)
{
    if (sk_campaign_load() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_crash_replay),
        cmocka_unit_test(test_sliced_checkpoint_crash_sweep),
        cmocka_unit_test(test_import_slices_crash_sweep),
        cmocka_unit_test(test_pmap_clear_reuse),
        cmocka_unit_test(test_pindex_large),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_campaign_free();
    return rc;
}
