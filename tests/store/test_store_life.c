/* test_store_life.c — life entries in the store (docs/PROTOCOL.md §2.2, §5.3)
 * on real LMDB files: a refused entry leaves nothing (no record, no seq, no
 * id, no counter, no person state) and entries of one batch see each other;
 * the CLOSE / LATE_MAX cache across batches and a reopen; an imported record
 * the rule refuses is store_corrupt; the person-state replay after a crash
 * with a correction that changed two states, including one lying across a
 * partly written generation (the replay then starts over from seq 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_storekit.h"

#include "ct_be.h"
#include "ct_life.h"
#include "ct_tally.h"

#define D0 20230725u
#define LM CT_PROGRAM_BHXH_TN
#define HG CT_PROGRAM_BHYT_HGD

static const uint8_t ORIGIN[CT_ORIGIN_LEN] = {7, 7, 7, 7, 1, 2, 3, 4};

/* One entry and its bytes, as ingest hands it to the store. */
typedef struct {
    ct_entry e;
    ct_buf raw;
} tent;

static void person_of(uint8_t out[CT_PERSON_LEN], uint8_t tag)
{
    memset(out, tag, CT_PERSON_LEN);
}

static void enroll(tent *t, uint64_t idseq, uint8_t who, ct_program p, ct_action a,
                   const char *agent)
{
    memset(t, 0, sizeof *t);
    t->e.type = CT_ENTRY_EVENT;
    ct_event *ev = &t->e.u.ev;
    ct_event_id_make(ev->id, ORIGIN, idseq);
    ev->occurred_ms = SK_T0;
    snprintf(ev->campaign, sizeof ev->campaign, "%s", sk_camp.id);
    ev->district = 672;
    snprintf(ev->agent, sizeof ev->agent, "%s", agent);
    ev->program = p;
    ev->action = a;
    person_of(ev->person, who);
    assert_int_equal(ct_event_encode(ev, &t->raw), CT_OK);
}

static ct_life *life_base(tent *t, ct_life_kind k, uint64_t idseq)
{
    memset(t, 0, sizeof *t);
    t->e.type = CT_ENTRY_LIFE;
    ct_life *l = &t->e.u.life;
    l->kind = k;
    ct_event_id_make(l->id, ORIGIN, idseq);
    l->issued_ms = SK_T0 + 1000;
    snprintf(l->campaign, sizeof l->campaign, "%s", sk_camp.id);
    snprintf(l->actor, sizeof l->actor, "%s", "admin");
    snprintf(l->reason, sizeof l->reason, "%s", "test");
    return l;
}

static void life_done(tent *t)
{
    assert_int_equal(ct_life_encode(&t->e.u.life, &t->raw), CT_OK);
}

/* void (np = -1) or correct of (p, who) credited at seq q by event idq. */
static void life_vc(tent *t, uint64_t idseq, ct_program p, uint8_t who, uint64_t idq, uint64_t q,
                    int np)
{
    ct_life *l = life_base(t, np < 0 ? CT_LIFE_VOID : CT_LIFE_CORRECT, idseq);
    l->district = 672;
    l->program = p;
    person_of(l->person, who);
    ct_event_id_make(l->target_id, ORIGIN, idq);
    l->target_seq = q;
    if (np >= 0) {
        l->has_new_program = true;
        l->new_program = (ct_program)np;
    }
    life_done(t);
}

static void life_close(tent *t, uint64_t idseq, ct_life_kind k, uint32_t unit, uint32_t day)
{
    ct_life *l = life_base(t, k, idseq);
    l->district = unit;
    l->day = day;
    life_done(t);
}

static void items_of(ct_store_item *it, tent *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].entry = &t[i].e;
        it[i].raw = t[i].raw.data;
        it[i].raw_len = t[i].raw.len;
        it[i].collector = "insecure";
        it[i].received_ms = SK_T0 + 3600000;
        if (t[i].e.type == CT_ENTRY_EVENT)
            it[i].local_day = ct_campaign_local_day(&sk_camp, t[i].e.u.ev.occurred_ms);
    }
}

static void apply(ct_store *s, tent *t, size_t n, ct_store_item *it)
{
    items_of(it, t, n);
    assert_int_equal(ct_store_apply_batch(s, it, n, NULL), CT_OK);
}

static void tents_free(tent *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct_buf_free(&t[i].raw);
}

/* A store whose person-state checkpoint is ckpt states (set before the
 * campaign, so a replay at the open runs with it). */
static ct_store *open_ok(const char *dir, size_t ckpt)
{
    char err[512];
    ct_err rc;
    ct_store *s = sk_open_raw(dir, (size_t)64 << 20, sk_camp.id, &rc, err, sizeof err);
    assert_int_equal(rc, CT_OK);
    ct_store_set_checkpoint(s, ckpt, 3600 * 1000);
    assert_int_equal(ct_store_set_campaign(s, &sk_camp, err, sizeof err), CT_OK);
    return s;
}

static uint64_t seq_of(ct_store *s, uint64_t idseq)
{
    uint8_t id[CT_EVENT_ID_LEN];
    uint64_t seq = 0;
    ct_event_id_make(id, ORIGIN, idseq);
    assert_int_equal(ct_store_find_id(s, id, &seq), CT_OK);
    return seq;
}

static void test_refused_leaves_nothing(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = open_ok(td.dir, 32768);
    tent t[5];
    ct_store_item it[5];
    enroll(&t[0], 1, 1, LM, CT_ACTION_ENROLL, "LD672-001");
    life_vc(&t[1], 2, LM, 1, 1, 5, -1);          /* seq 5 is not the sign-up: not_current */
    life_vc(&t[2], 3, LM, 1, 1, 1, -1);          /* the void */
    life_vc(&t[3], 4, LM, 1, 1, 1, -1);          /* again: already_voided */
    life_close(&t[4], 5, CT_LIFE_REOPEN, 0, D0); /* not_closed */
    apply(s, t, 5, it);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[0].seq, 1);
    assert_int_equal(it[1].status, CT_ACK_REJECTED);
    assert_int_equal(it[1].code, CT_ERR_NOT_CURRENT);
    assert_int_equal(it[1].seq, 0);
    assert_int_equal(it[2].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[2].seq, 2); /* the refused one took no seq */
    assert_int_equal(it[3].status, CT_ACK_REJECTED);
    assert_int_equal(it[3].code, CT_ERR_ALREADY_VOIDED);
    assert_int_equal(it[4].status, CT_ACK_REJECTED);
    assert_int_equal(it[4].code, CT_ERR_NOT_CLOSED);
    assert_int_equal(sk_head(s), 2);
    assert_int_equal(seq_of(s, 2), 0);
    assert_int_equal(seq_of(s, 4), 0);
    assert_int_equal(seq_of(s, 5), 0);
    assert_int_equal(seq_of(s, 3), 2);
    assert_int_equal(sk_count(s, CT_COUNT_NET, LM, 672, NULL, 0), 0);
    assert_int_equal(sk_count(s, CT_COUNT_GROSS, LM, 672, NULL, 0), 1);
    assert_int_equal(sk_count(s, CT_COUNT_VOIDED, LM, 672, "LD672-001", 9), 1);
    uint8_t sd[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    assert_int_equal(sk_count(s, CT_COUNT_LIFE, LM, 672, sd, 8), CT_LIFE_VOID);
    /* the refused ids are free: the same id with other bytes is judged afresh */
    tent u[1];
    life_close(&u[0], 5, CT_LIFE_CLOSE, 0, D0);
    apply(s, u, 1, it);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[0].seq, 3);
    uint8_t dd[4];
    ct_be32_put(dd, D0);
    assert_int_equal(sk_count(s, CT_COUNT_CLOSE, LM, 0, dd, 4), 3);
    tents_free(t, 5);
    tents_free(u, 1);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* A late enroll reads CLOSE through the cache: in the next batch, in the
 * same batch, after a reopen, and no longer after a reopen of the day. */
static void test_close_cache(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = open_ok(td.dir, 32768);
    tent t[3];
    ct_store_item it[3];
    uint8_t dd[4];
    ct_be32_put(dd, D0);
    life_close(&t[0], 1, CT_LIFE_CLOSE, 672, D0);
    enroll(&t[1], 2, 1, LM, CT_ACTION_ENROLL, "LD672-001");
    apply(s, t, 2, it); /* same batch */
    assert_int_equal(sk_count(s, CT_COUNT_LATE_CLOSED, LM, 672, dd, 4), 1);
    tents_free(t, 2);
    enroll(&t[0], 3, 2, LM, CT_ACTION_ENROLL, "LD672-001");
    apply(s, t, 1, it); /* next batch */
    assert_int_equal(sk_count(s, CT_COUNT_LATE_CLOSED, LM, 672, dd, 4), 2);
    tents_free(t, 1);
    ct_store_close(s);
    s = open_ok(td.dir, 32768);
    enroll(&t[0], 4, 3, LM, CT_ACTION_ENROLL, "LD672-002");
    apply(s, t, 1, it); /* after a reopen */
    assert_int_equal(sk_count(s, CT_COUNT_LATE_CLOSED, LM, 672, dd, 4), 3);
    tents_free(t, 1);
    life_close(&t[0], 5, CT_LIFE_REOPEN, 672, D0);
    enroll(&t[1], 6, 4, LM, CT_ACTION_ENROLL, "LD672-002");
    apply(s, t, 2, it);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(sk_count(s, CT_COUNT_LATE_CLOSED, LM, 672, dd, 4), 3);
    assert_int_equal(sk_count(s, CT_COUNT_CLOSE, LM, 672, dd, 4), 0);
    assert_int_equal(sk_count(s, CT_COUNT_NET, LM, 672, NULL, 0), 4);
    tents_free(t, 2);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* An imported record the rule refuses: store_corrupt, nothing kept. */
static void test_import_refused_is_corrupt(void **state)
{
    (void)state;
    sk_tmpdir td;
    sk_tmp_make(&td);
    ct_store *s = open_ok(td.dir, 32768);
    tent t[2];
    enroll(&t[0], 1, 1, LM, CT_ACTION_ENROLL, "LD672-001");
    life_vc(&t[1], 2, LM, 1, 1, 7, -1); /* names seq 7: not_current */
    uint8_t prev[CT_LOGREC_HASH_LEN] = {0};
    ct_buf b = {0};
    assert_int_equal(ct_store_import_begin(s), CT_OK);
    for (int i = 0; i < 2; i++) {
        ct_logrec r;
        memset(&r, 0, sizeof r);
        r.seq = (uint64_t)i + 1;
        r.received_ms = SK_T0 + 5000;
        snprintf(r.collector, sizeof r.collector, "%s", "insecure");
        r.event = t[i].raw.data;
        r.event_len = t[i].raw.len;
        ct_buf_reset(&b);
        assert_int_equal(ct_logrec_encode(&r, prev, &b), CT_OK);
        memcpy(prev, r.hash, sizeof prev);
        assert_int_equal(ct_store_import_record(s, &r, &sk_camp),
                         i == 0 ? CT_OK : CT_ERR_STORE_CORRUPT);
    }
    ct_store_import_abort(s);
    assert_int_equal(sk_head(s), 0);
    assert_int_equal(sk_count(s, CT_COUNT_NET, LM, 672, NULL, 0), 0);
    ct_buf_free(&b);
    tents_free(t, 2);
    ct_store_close(s);
    sk_tmp_remove(&td);
}

/* A crash (abandon) after a correction moved a sign-up between programs:
 * the reopen replays both states. With a checkpoint of 4 states, the
 * generation holding the correction is partly written when the crash comes,
 * and the program-0 key (person 0x00..., the smallest) is below the written
 * mark while the program-1 key is above it: the replay starts over from seq
 * 1 and gets every state right. */
static void test_replay_two_states(void **state)
{
    (void)state;
    for (int straddle = 0; straddle < 2; straddle++) {
        sk_tmpdir td;
        sk_tmp_make(&td);
        ct_store *s = open_ok(td.dir, straddle ? 4 : 32768);
        tent t[6];
        ct_store_item it[6];
        enroll(&t[0], 1, 0x00, LM, CT_ACTION_ENROLL, "LD672-001");
        enroll(&t[1], 2, 0xe1, LM, CT_ACTION_ENROLL, "LD672-001");
        enroll(&t[2], 3, 0xe2, LM, CT_ACTION_ENROLL, "LD672-001");
        enroll(&t[3], 4, 0xe3, LM, CT_ACTION_ENROLL, "LD672-001");
        life_vc(&t[4], 5, LM, 0x00, 1, 1, HG); /* moves person 0x00 to bhyt_hgd */
        apply(s, t, 5, it);
        for (int i = 0; i < 5; i++)
            assert_int_equal(it[i].status, CT_ACK_ACCEPTED);
        tents_free(t, 5);
        /* the next batch freezes the 5 pending states and writes one slice */
        enroll(&t[0], 6, 0xf0, HG, CT_ACTION_ENROLL, "LD672-002");
        apply(s, t, 1, it);
        tents_free(t, 1);
        ct_store_abandon(s);
        s = open_ok(td.dir, 32768);
        /* (LM, 0x00) moved: not current; (HG, 0x00) current; a new enroll in
         * LM counts (the state there is not enrolled) */
        life_vc(&t[0], 7, LM, 0x00, 1, 1, -1);
        life_vc(&t[1], 8, HG, 0x00, 1, 1, -1);
        enroll(&t[2], 9, 0x00, LM, CT_ACTION_ENROLL, "LD672-003");
        life_vc(&t[3], 10, LM, 0xe1, 2, 2, HG);
        apply(s, t, 4, it);
        assert_int_equal(it[0].status, CT_ACK_REJECTED);
        assert_int_equal(it[0].code, CT_ERR_NOT_CURRENT);
        assert_int_equal(it[1].status, CT_ACK_ACCEPTED);
        assert_int_equal(it[2].status, CT_ACK_ACCEPTED);
        assert_int_equal(it[3].status, CT_ACK_ACCEPTED);
        assert_int_equal(sk_head(s), 9);
        assert_int_equal(sk_count(s, CT_COUNT_NET, LM, 672, NULL, 0), 3);
        assert_int_equal(sk_count(s, CT_COUNT_NET, HG, 672, NULL, 0), 2);
        assert_int_equal(sk_count(s, CT_COUNT_GROSS, LM, 672, NULL, 0), 3);
        assert_int_equal(sk_count(s, CT_COUNT_REPEAT, LM, 672, NULL, 0), 0);
        tents_free(t, 4);
        ct_store_close(s);
        sk_tmp_remove(&td);
    }
}

static int setup(void **state)
{
    (void)state;
    return sk_campaign_load() ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_campaign_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_leaves_nothing),
        cmocka_unit_test(test_close_cache),
        cmocka_unit_test(test_import_refused_is_corrupt),
        cmocka_unit_test(test_replay_two_states),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
