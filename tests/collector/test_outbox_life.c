/* test_outbox_life.c — what the outbox keeps for the campaign's life
 * entries, on real LMDB files: an acked entry keeps its bytes and log seq
 * (from the ack, or from its committed mark once safe), a life entry is
 * queued like an event (same ids, same settle, reissued under a new id),
 * the "life" links of an event, and ct_lifeq_find (what a void/correct of
 * this outbox must name, and when it cannot be named yet).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_keys.h"
#include "ct_life.h"
#include "ct_lifeq.h"
#include "ct_outbox.h"

static ct_campaign camp;

typedef struct {
    char dir[256];
    char ob_dir[300];
    ct_outbox *ob;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ct-test-oblife-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ob_dir, sizeof f->ob_dir, "%s/ob", f->dir);
    char err[256];
    assert_int_equal(ct_outbox_open(f->ob_dir, 16u << 20, &f->ob, err, sizeof err), CT_OK);
    assert_int_equal(ct_outbox_init(f->ob, 672, camp.id, "builtin", err, sizeof err), CT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ct_outbox_close(f->ob);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make_event(ct_event *ev, int i, ct_action action)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->campaign, sizeof ev->campaign, "%s", camp.id);
    ev->district = 672;
    snprintf(ev->agent, sizeof ev->agent, "LD672-%03d", 1 + i % 5);
    ev->program = CT_PROGRAM_BHXH_TN;
    ev->action = action;
    ev->occurred_ms = camp.start_ms + 3600000LL * (i + 1);
    memset(ev->person, 0xa0 + i, CT_PERSON_LEN);
}

static uint64_t queue_event(ct_outbox *ob, int i, ct_action action)
{
    ct_outbox_txn *t;
    ct_event ev;
    make_event(&ev, i, action);
    uint64_t seq = 0;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    assert_int_equal(ct_outbox_queue(t, &ev, NULL, NULL, &seq), CT_OK);
    assert_int_equal(ct_outbox_commit(t), CT_OK);
    return seq;
}

static void make_life(ct_life *l, ct_life_kind kind, const ct_lifeq_target *tg)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->issued_ms = camp.start_ms + 86400000LL;
    snprintf(l->campaign, sizeof l->campaign, "%s", camp.id);
    snprintf(l->actor, sizeof l->actor, "lead1");
    snprintf(l->reason, sizeof l->reason, "nhập sai chương trình");
    ct_lifeq_fill(tg, l);
}

static uint64_t queue_life(ct_outbox *ob, ct_life *l, uint64_t target)
{
    ct_outbox_txn *t;
    uint64_t seq = 0;
    bool queued = false;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    assert_int_equal(ct_outbox_queue_life(t, l, NULL, target, &queued, &seq), CT_OK);
    assert_true(queued);
    assert_int_equal(ct_outbox_commit(t), CT_OK);
    return seq;
}

static void settle(ct_outbox *ob, uint64_t seq, uint16_t code, uint64_t q)
{
    ct_outbox_settle_item it = {seq, code};
    assert_int_equal(ct_outbox_settle_q(ob, &it, &q, NULL, 1, 0, 1000, NULL, NULL), CT_OK);
}

typedef struct {
    int n;
    uint64_t seq[8], q[8];
    ct_outbox_state st[8];
    uint16_t code[8];
    ct_entry en[8];
} seen;

static ct_err seen_cb(void *ctx, const ct_outbox_entry *e)
{
    seen *s = ctx;
    assert_true(s->n < 8);
    s->seq[s->n] = e->seq;
    s->q[s->n] = e->q;
    s->st[s->n] = e->state;
    s->code[s->n] = e->code;
    assert_non_null(e->ev);
    assert_int_equal(ct_entry_decode(e->ev, e->ev_len, &s->en[s->n], NULL), CT_OK);
    s->n++;
    return CT_OK;
}

/* An acked entry keeps its bytes and log seq; without a log seq it goes. */
static void test_acked_keeps_bytes(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(queue_event(f->ob, i, CT_ACTION_ENROLL), (uint64_t)i + 1);
    ct_outbox_settle_item items[] = {{1, CT_OK}, {2, CT_OK}, {3, CT_ERR_FORBIDDEN}, {4, CT_OK}};
    uint64_t logq[] = {11, 0, 0, 20}, unsafe[] = {0, 0, 0, 20};
    size_t nd = 0, nr = 0;
    assert_int_equal(ct_outbox_settle_q(f->ob, items, logq, unsafe, 4, 10, 5, &nd, &nr), CT_OK);
    assert_int_equal(nd, 2);
    assert_int_equal(nr, 1);
    seen s = {0};
    bool found = false;
    assert_int_equal(ct_outbox_entry_get(f->ob, 1, seen_cb, &s, &found), CT_OK);
    assert_true(found);
    assert_int_equal(s.st[0], CT_OUTBOX_SETTLED);
    assert_int_equal(s.q[0], 11);
    assert_int_equal(s.en[0].type, CT_ENTRY_EVENT);
    assert_int_equal(ct_event_id_seq(s.en[0].u.ev.id), 1);
    assert_string_equal(s.en[0].u.ev.agent, "LD672-001");
    /* delivered without a log seq: nothing kept */
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_outbox_entry_get(f->ob, 2, seen_cb, &s, &found), CT_OK);
    assert_false(found);
    /* committed at q 20, not yet safe: still queued, its q known */
    assert_int_equal(ct_outbox_entry_get(f->ob, 4, seen_cb, &s, &found), CT_OK);
    assert_true(found);
    assert_int_equal(s.st[0], CT_OUTBOX_COMMITTED);
    assert_int_equal(s.q[0], 20);
    /* the safe watermark reaches it: it leaves the outbox, its mark's q kept */
    assert_int_equal(ct_outbox_settle_ex(f->ob, NULL, NULL, 0, 20, 6, &nd, &nr), CT_OK);
    assert_int_equal(nd, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_outbox_entry_get(f->ob, 4, seen_cb, &s, &found), CT_OK);
    assert_true(found);
    assert_int_equal(s.st[0], CT_OUTBOX_SETTLED);
    assert_int_equal(s.q[0], 20);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    assert_int_equal(in.queued, 0);
    assert_int_equal(in.delivered, 3);
    assert_int_equal(in.rejected, 1);
    /* the log seq from the committed mark when the ack that deletes it has none */
    assert_int_equal(queue_event(f->ob, 5, CT_ACTION_ENROLL), 5);
    ct_outbox_settle_item mark = {5, CT_OK};
    uint64_t mq = 30;
    assert_int_equal(ct_outbox_settle_ex(f->ob, &mark, &mq, 1, 20, 7, NULL, NULL), CT_OK);
    settle(f->ob, 5, CT_OK, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_outbox_entry_get(f->ob, 5, seen_cb, &s, &found), CT_OK);
    assert_true(found);
    assert_int_equal(s.q[0], 30);
}

/* A life entry: queued with the next id, linked to its event, settled like
 * an event, reissued under a new id with the same content. */
static void test_life_entries(void **state)
{
    fixture *f = *state;
    assert_int_equal(queue_event(f->ob, 0, CT_ACTION_ENROLL), 1);
    settle(f->ob, 1, CT_OK, 41);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    ct_lifeq_target tg;
    char why[400];
    uint8_t id[CT_EVENT_ID_LEN];
    ct_outbox_event_id(&in, 1, id);
    assert_int_equal(ct_lifeq_find(f->ob, &in, id, &tg, why, sizeof why), CT_OK);
    assert_int_equal(tg.q, 41);
    ct_life v, c;
    make_life(&v, CT_LIFE_VOID, &tg);
    make_life(&c, CT_LIFE_CORRECT, &tg);
    c.has_new_agent = true;
    snprintf(c.new_agent, sizeof c.new_agent, "LD672-002");
    assert_int_equal(queue_life(f->ob, &v, 1), 2);
    assert_int_equal(queue_life(f->ob, &c, 1), 3);
    assert_int_equal(ct_event_id_seq(v.id), 2);
    assert_memory_equal(v.id, in.origin, CT_ORIGIN_LEN);
    seen s = {0};
    assert_int_equal(ct_outbox_life_each(f->ob, 1, seen_cb, &s), CT_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], 2);
    assert_int_equal(s.st[0], CT_OUTBOX_QUEUED);
    assert_int_equal(s.en[0].type, CT_ENTRY_LIFE);
    assert_int_equal(s.en[0].u.life.kind, CT_LIFE_VOID);
    assert_int_equal(s.en[0].u.life.target_seq, 41);
    assert_memory_equal(s.en[0].u.life.target_id, id, CT_EVENT_ID_LEN);
    assert_int_equal(s.en[1].u.life.kind, CT_LIFE_CORRECT);
    /* no links for another event */
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_outbox_life_each(f->ob, 2, seen_cb, &s), CT_OK);
    assert_int_equal(s.n, 0);
    /* answers: the void refused, the correction refused as conflict */
    settle(f->ob, 2, CT_ERR_NOT_CURRENT, 0);
    settle(f->ob, 3, CT_ERR_CONFLICT, 0);
    size_t n = 0;
    bool fresh = false;
    assert_int_equal(ct_outbox_reissue(f->ob, &n, &fresh), CT_OK);
    assert_int_equal(n, 1);
    assert_true(fresh);
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    memset(&s, 0, sizeof s);
    bool found = false;
    assert_int_equal(ct_outbox_entry_get(f->ob, 4, seen_cb, &s, &found), CT_OK);
    assert_true(found);
    assert_int_equal(s.st[0], CT_OUTBOX_QUEUED);
    assert_int_equal(s.en[0].type, CT_ENTRY_LIFE);
    assert_int_equal(s.en[0].u.life.kind, CT_LIFE_CORRECT);
    assert_string_equal(s.en[0].u.life.new_agent, "LD672-002");
    assert_string_equal(s.en[0].u.life.reason, "nhập sai chương trình");
    assert_int_equal(ct_event_id_seq(s.en[0].u.life.id), 4);
    assert_memory_equal(s.en[0].u.life.id, in.origin, CT_ORIGIN_LEN);
    /* the void still listed for the event (refused); the reissued one is not
     * linked: its old seq is gone */
    memset(&s, 0, sizeof s);
    assert_int_equal(ct_outbox_life_each(f->ob, 1, seen_cb, &s), CT_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.st[0], CT_OUTBOX_REJECTED);
    assert_int_equal(s.code[0], CT_ERR_NOT_CURRENT);
}

/* What ct_lifeq_find says at each stage of a sign-up's life here. */
static void test_lifeq_find(void **state)
{
    fixture *f = *state;
    assert_int_equal(queue_event(f->ob, 0, CT_ACTION_ENROLL), 1);
    assert_int_equal(queue_event(f->ob, 0, CT_ACTION_CANCEL), 2);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    uint8_t id1[CT_EVENT_ID_LEN], id2[CT_EVENT_ID_LEN], other[CT_EVENT_ID_LEN];
    ct_outbox_event_id(&in, 1, id1);
    ct_outbox_event_id(&in, 2, id2);
    ct_lifeq_target tg;
    char why[400];
    /* not acknowledged yet */
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_ERR_TIMEOUT);
    assert_non_null(strstr(why, "not acknowledged by headquarters yet"));
    /* another origin, a seq never handed out */
    memcpy(other, id1, sizeof other);
    other[0] ^= 1;
    assert_int_equal(ct_lifeq_find(f->ob, &in, other, &tg, why, sizeof why), CT_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "not one of this outbox's"));
    ct_outbox_event_id(&in, 9, other);
    assert_int_equal(ct_lifeq_find(f->ob, &in, other, &tg, why, sizeof why), CT_ERR_NOT_FOUND);
    settle(f->ob, 1, CT_OK, 7);
    settle(f->ob, 2, CT_OK, 8);
    /* a cancel is not a sign-up */
    assert_int_equal(ct_lifeq_find(f->ob, &in, id2, &tg, why, sizeof why), CT_ERR_BAD_VALUE);
    assert_non_null(strstr(why, "not a sign-up"));
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_OK);
    assert_int_equal(tg.seq, 1);
    assert_int_equal(tg.q, 7);
    assert_int_equal(tg.program, CT_PROGRAM_BHXH_TN);
    /* a correction to the other program: waiting blocks, accepted moves it */
    ct_life c;
    make_life(&c, CT_LIFE_CORRECT, &tg);
    c.has_new_program = true;
    c.new_program = CT_PROGRAM_BHYT_HGD;
    c.has_new_group = true; /* "" = no group */
    assert_int_equal(queue_life(f->ob, &c, 1), 3);
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_ERR_TIMEOUT);
    assert_non_null(strstr(why, "still waiting"));
    settle(f->ob, 3, CT_OK, 9);
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_OK);
    assert_true(tg.corrected);
    assert_int_equal(tg.program, CT_PROGRAM_BHYT_HGD);
    assert_int_equal(tg.q, 7); /* a correction keeps the crediting seq */
    ct_life v;
    make_life(&v, CT_LIFE_VOID, &tg);
    assert_int_equal(v.program, CT_PROGRAM_BHYT_HGD);
    assert_int_equal(v.target_seq, 7);
    /* a refused void leaves it as it was; an accepted one ends it */
    assert_int_equal(queue_life(f->ob, &v, 1), 4);
    settle(f->ob, 4, CT_ERR_NOT_CURRENT, 0);
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_OK);
    make_life(&v, CT_LIFE_VOID, &tg);
    assert_int_equal(queue_life(f->ob, &v, 1), 5);
    settle(f->ob, 5, CT_OK, 10);
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    assert_int_equal(ct_lifeq_find(f->ob, &in, id1, &tg, why, sizeof why), CT_ERR_BAD_VALUE);
    assert_non_null(strstr(why, "voided already"));
}

int main(void)
{
    char err[256];
    if (ct_crypto_init() != CT_OK) return 1;
    if (ct_campaign_load_default(&camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_acked_keeps_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_life_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifeq_find, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&camp);
    return rc;
}
