/* test_outbox.c — the collector's outbox, import and simulation on real LMDB
 * files in a temp directory: persistence across reopen, ids in creation
 * order, settle (delete / move to rejected, exact counters), idempotent CSV
 * import, CSV errors with exact line numbers, national IDs never stored.
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

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_import.h"
#include "ct_keys.h"
#include "ct_outbox.h"
#include "ct_simulate.h"
#include "ct_time.h"

static ct_campaign camp;
static uint8_t pkey[CT_PERSON_KEY_BYTES];

typedef struct {
    char dir[256];
    char ob_dir[300];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ct-test-outbox-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ob_dir, sizeof f->ob_dir, "%s/ob", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static ct_outbox *open_ob(fixture *f)
{
    ct_outbox *ob = NULL;
    char err[256];
    assert_int_equal(ct_outbox_open(f->ob_dir, 16u << 20, &ob, err, sizeof err), CT_OK);
    return ob;
}

static ct_outbox *open_init(fixture *f)
{
    ct_outbox *ob = open_ob(f);
    char err[256];
    assert_int_equal(ct_outbox_init(ob, 672, camp.id, "builtin", err, sizeof err), CT_OK);
    return ob;
}

static void make_event(ct_event *ev, int i)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->campaign, sizeof ev->campaign, "%s", camp.id);
    ev->district = 672;
    snprintf(ev->agent, sizeof ev->agent, "LD672-%03d", 1 + i % 20);
    ev->program = (ct_program)(i % 2);
    ev->action = CT_ACTION_ENROLL;
    ev->occurred_ms = camp.start_ms + 3600000LL * i;
    char nid[13];
    snprintf(nid, sizeof nid, "0681%08d", i);
    assert_int_equal(ct_person_hash(pkey, nid, ev->person), CT_OK);
}

static void queue_n(ct_outbox *ob, int first, int n)
{
    ct_outbox_txn *t;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    for (int i = first; i < first + n; i++) {
        ct_event ev;
        make_event(&ev, i);
        bool q;
        uint64_t seq;
        assert_int_equal(ct_outbox_queue(t, &ev, NULL, &q, &seq), CT_OK);
        assert_true(q);
    }
    assert_int_equal(ct_outbox_commit(t), CT_OK);
}

typedef struct {
    uint64_t seqs[64];
    ct_event evs[64];
    size_t n;
} scan_acc;

static ct_err scan_cb(void *ctx, uint64_t seq, const uint8_t *b, size_t len)
{
    scan_acc *a = ctx;
    bool idk;
    assert_true(a->n < 64);
    assert_int_equal(ct_event_decode(b, len, &a->evs[a->n], &idk), CT_OK);
    a->seqs[a->n++] = seq;
    return CT_OK;
}

static void test_outbox_dir_mode(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_ob(f);
    struct stat st;
    assert_int_equal(stat(f->ob_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_false(in.initialised);
    /* queueing before init is refused */
    ct_outbox_txn *t;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_ERR_CONFIG);
    ct_outbox_close(ob);
}

static void test_queue_persists_in_order(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    uint8_t origin[CT_ORIGIN_LEN];
    memcpy(origin, in.origin, sizeof origin);
    queue_n(ob, 0, 3);
    queue_n(ob, 3, 2);
    ct_outbox_close(ob);

    ob = open_ob(f);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_true(in.initialised);
    assert_memory_equal(in.origin, origin, CT_ORIGIN_LEN);
    assert_int_equal(in.district, 672);
    assert_string_equal(in.campaign_id, "lamdong-2023");
    assert_int_equal(in.queued, 5);
    assert_int_equal(in.next_seq, 6);
    assert_int_equal(in.delivered, 0);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 1, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(acc.seqs[i], i + 1);
        uint8_t id[CT_EVENT_ID_LEN];
        ct_event_id_make(id, origin, i + 1);
        assert_memory_equal(acc.evs[i].id, id, CT_EVENT_ID_LEN);
        ct_event want;
        make_event(&want, (int)i);
        assert_string_equal(acc.evs[i].agent, want.agent);
        assert_memory_equal(acc.evs[i].person, want.person, CT_PERSON_LEN);
        assert_int_equal(acc.evs[i].occurred_ms, want.occurred_ms);
    }
    /* ids sort in creation order as bytes too */
    for (size_t i = 1; i < 5; i++)
        assert_true(memcmp(acc.evs[i - 1].id, acc.evs[i].id, CT_EVENT_ID_LEN) < 0);
    /* scan from the middle, bounded */
    scan_acc acc2 = {0};
    assert_int_equal(ct_outbox_scan(ob, 3, 2, scan_cb, &acc2), CT_OK);
    assert_int_equal(acc2.n, 2);
    assert_int_equal(acc2.seqs[0], 3);
    assert_int_equal(acc2.seqs[1], 4);
    ct_outbox_close(ob);
}

static void test_abort_queues_nothing(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 1);
    ct_outbox_txn *t;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    ct_event ev;
    make_event(&ev, 7);
    assert_int_equal(ct_outbox_queue(t, &ev, NULL, NULL, NULL), CT_OK);
    ct_outbox_abort(t);
    ct_outbox_close(ob);
    ob = open_ob(f);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 1);
    assert_int_equal(in.next_seq, 2);
    ct_outbox_close(ob);
}

static void test_init_mismatch(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    char err[256];
    assert_int_equal(ct_outbox_init(ob, 672, camp.id, NULL, err, sizeof err), CT_OK);
    assert_int_equal(ct_outbox_init(ob, 673, camp.id, NULL, err, sizeof err), CT_ERR_CONFIG);
    assert_non_null(strstr(err, "672"));
    assert_int_equal(ct_outbox_init(ob, 672, "other-2024", NULL, err, sizeof err), CT_ERR_CONFIG);
    /* a campaign path the outbox cannot hold whole is refused, not cut short */
    char longpath[CT_OUTBOX_PATH_MAX + 10];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = 0;
    assert_int_equal(ct_outbox_init(ob, 672, camp.id, longpath, err, sizeof err), CT_ERR_CONFIG);
    assert_non_null(strstr(err, "campaign path is longer than 1023 bytes"));
    longpath[CT_OUTBOX_PATH_MAX - 1] = 0;
    assert_int_equal(ct_outbox_init(ob, 672, camp.id, longpath, err, sizeof err), CT_OK);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_string_equal(in.campaign_path, longpath);
    ct_outbox_close(ob);
}

typedef struct {
    uint64_t seq[8];
    uint16_t code[8];
    ct_event ev[8];
    size_t n;
} rej_acc;

static ct_err rej_cb(void *ctx, uint64_t seq, uint16_t code, const uint8_t *b, size_t len)
{
    rej_acc *r = ctx;
    bool idk;
    assert_true(r->n < 8);
    assert_int_equal(ct_event_decode(b, len, &r->ev[r->n], &idk), CT_OK);
    r->seq[r->n] = seq;
    r->code[r->n] = code;
    r->n++;
    return CT_OK;
}

static void test_settle_delete_and_reject(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 5);
    ct_outbox_settle_item items[] = {
        {1, CT_OK}, {3, CT_OK}, {2, CT_ERR_UNKNOWN_AGENT}, {99, CT_OK} /* unknown: skipped */};
    size_t nd, nr;
    assert_int_equal(ct_outbox_settle(ob, items, 4, 1690000000000, &nd, &nr), CT_OK);
    assert_int_equal(nd, 2);
    assert_int_equal(nr, 1);
    ct_outbox_close(ob);

    ob = open_ob(f);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 2);
    assert_int_equal(in.delivered, 2);
    assert_int_equal(in.rejected, 1);
    assert_int_equal(in.rejected_entries, 1);
    assert_int_equal(in.last_ack_ms, 1690000000000);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 2);
    assert_int_equal(acc.seqs[0], 4);
    assert_int_equal(acc.seqs[1], 5);
    rej_acc r = {0};
    assert_int_equal(ct_outbox_rejected_each(ob, rej_cb, &r), CT_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 2);
    assert_int_equal(r.code[0], CT_ERR_UNKNOWN_AGENT);
    ct_event want;
    make_event(&want, 1);
    assert_string_equal(r.ev[0].agent, want.agent);
    /* a repeated ack changes nothing */
    assert_int_equal(ct_outbox_settle(ob, items, 3, 1690000000001, &nd, &nr), CT_OK);
    assert_int_equal(nd, 0);
    assert_int_equal(nr, 0);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.delivered, 2);
    assert_int_equal(in.rejected, 1);
    /* new events continue the sequence */
    queue_n(ob, 5, 1);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.next_seq, 7);
    ct_outbox_close(ob);
}

/* The safe-watermark delete rule (ct_outbox_settle_ex): an acked event
 * whose log seq q is above safe is kept, marked; a later sweep with safe >=
 * q deletes it; an event with q <= safe is deleted at once; unmark clears
 * every mark (the events are queued again, nothing deleted). */
static void test_settle_safe_marks(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 5);
    ct_outbox_settle_item items[] = {{1, CT_OK}, {2, CT_OK}, {3, CT_OK}};
    uint64_t q[] = {10, 11, 12};
    size_t nd, nr;
    /* safe 10: q 10 deleted directly, 11 and 12 kept and marked */
    assert_int_equal(ct_outbox_settle_ex(ob, items, q, 3, 10, 1690000000000, &nd, &nr), CT_OK);
    assert_int_equal(nd, 1);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 4);
    assert_int_equal(in.committed, 2);
    assert_int_equal(in.delivered, 1);
    /* marked events are not sent again */
    scan_acc acc = {0};
    uint64_t next = 0;
    assert_int_equal(ct_outbox_scan_unsent(ob, 1, 100, scan_cb, &acc, &next), CT_OK);
    assert_int_equal(acc.n, 2);
    assert_int_equal(acc.seqs[0], 4);
    assert_int_equal(acc.seqs[1], 5);
    /* a sweep with safe 11 deletes the mark at 11, keeps the one at 12 */
    assert_int_equal(ct_outbox_settle_ex(ob, NULL, NULL, 0, 11, 1690000000001, &nd, &nr), CT_OK);
    assert_int_equal(nd, 1);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 3);
    assert_int_equal(in.committed, 1);
    /* safe 0 sweeps nothing */
    assert_int_equal(ct_outbox_settle_ex(ob, NULL, NULL, 0, 0, 1690000000002, &nd, &nr), CT_OK);
    assert_int_equal(nd, 0);
    /* a mark no watermark reaches (q unknown) stays */
    ct_outbox_settle_item it4[] = {{4, CT_OK}};
    uint64_t q4[] = {UINT64_MAX};
    assert_int_equal(ct_outbox_settle_ex(ob, it4, q4, 1, 11, 1690000000003, &nd, &nr), CT_OK);
    assert_int_equal(nd, 0);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.committed, 2);
    /* unmark: every mark cleared, nothing deleted, the events unsent again */
    size_t un = 0;
    assert_int_equal(ct_outbox_unmark_all(ob, &un), CT_OK);
    assert_int_equal(un, 2);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.committed, 0);
    assert_int_equal(in.queued, 3);
    assert_int_equal(in.delivered, 2);
    memset(&acc, 0, sizeof acc);
    assert_int_equal(ct_outbox_scan_unsent(ob, 1, 100, scan_cb, &acc, &next), CT_OK);
    assert_int_equal(acc.n, 3);
    assert_int_equal(acc.seqs[0], 3);
    assert_int_equal(acc.seqs[1], 4);
    assert_int_equal(acc.seqs[2], 5);
    /* a later sweep finds no marks: nothing deleted */
    assert_int_equal(ct_outbox_settle_ex(ob, NULL, NULL, 0, 1000, 1690000000004, &nd, &nr), CT_OK);
    assert_int_equal(nd, 0);
    ct_outbox_close(ob);
}

typedef struct {
    uint64_t seq[8];
    char note[8][16];
    ct_outbox_state st[8];
    uint16_t code[8];
    size_t n;
} note_acc;

static ct_err note_cb(void *ctx, uint64_t seq, const uint8_t *note, size_t len, ct_outbox_state st,
                      uint16_t code)
{
    note_acc *a = ctx;
    assert_true(a->n < 8 && len < 16);
    a->seq[a->n] = seq;
    memcpy(a->note[a->n], note, len);
    a->note[a->n][len] = 0;
    a->st[a->n] = st;
    a->code[a->n++] = code;
    return CT_OK;
}

/* A note is stored with its event (commit) or not at all (abort), and follows
 * the event's state: queued, rejected with its code, settled after an ack. */
static void test_notes_follow_events(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    ct_outbox_txn *t;
    ct_event ev;
    uint64_t seq;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
        make_event(&ev, i);
        assert_int_equal(ct_outbox_queue(t, &ev, NULL, NULL, &seq), CT_OK);
        char n[16];
        snprintf(n, sizeof n, "by-%d", i);
        assert_int_equal(ct_outbox_note_put(t, seq, n, strlen(n)), CT_OK);
        assert_int_equal(ct_outbox_note_put(t, seq, n, 0), CT_ERR_BAD_VALUE);
        if (i == 2)
            ct_outbox_abort(t);
        else
            assert_int_equal(ct_outbox_commit(t), CT_OK);
    }
    queue_n(ob, 3, 1); /* seq 3: no note */
    ct_outbox_settle_item items[] = {{1, CT_OK}, {2, CT_ERR_FORBIDDEN}};
    size_t nd, nr;
    assert_int_equal(ct_outbox_settle(ob, items, 2, 1690000000000, &nd, &nr), CT_OK);
    ct_outbox_close(ob);
    ob = open_ob(f);
    note_acc a = {0};
    assert_int_equal(ct_outbox_notes_each(ob, note_cb, &a), CT_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.seq[0], 1);
    assert_string_equal(a.note[0], "by-0");
    assert_int_equal(a.st[0], CT_OUTBOX_SETTLED);
    assert_int_equal(a.seq[1], 2);
    assert_string_equal(a.note[1], "by-1");
    assert_int_equal(a.st[1], CT_OUTBOX_REJECTED);
    assert_int_equal(a.code[1], CT_ERR_FORBIDDEN);
    size_t n, nc;
    assert_int_equal(ct_outbox_requeue(ob, -1, &n, &nc), CT_OK);
    memset(&a, 0, sizeof a);
    assert_int_equal(ct_outbox_notes_each(ob, note_cb, &a), CT_OK);
    assert_int_equal(a.st[1], CT_OUTBOX_QUEUED);
    ct_outbox_close(ob);
}

static void test_requeue_rejected(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 6);
    ct_outbox_settle_item items[] = {{2, CT_ERR_FORBIDDEN},
                                     {3, CT_ERR_UNKNOWN_AGENT},
                                     {4, CT_ERR_FORBIDDEN},
                                     {5, CT_ERR_FORBIDDEN},
                                     {1, CT_OK}};
    assert_int_equal(ct_outbox_settle(ob, items, 5, 5, NULL, NULL), CT_OK);
    uint64_t gen0, gen1;
    assert_int_equal(ct_outbox_requeue_gen(ob, &gen0), CT_OK);
    size_t n;
    assert_int_equal(ct_outbox_requeue(ob, CT_ERR_FORBIDDEN, &n, NULL), CT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ct_outbox_requeue_gen(ob, &gen1), CT_OK);
    assert_int_equal(gen1, gen0 + 1);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 4); /* 2, 4, 5, 6 */
    assert_int_equal(in.rejected, 1);
    assert_int_equal(in.rejected_entries, 1);
    assert_int_equal(in.delivered, 1);
    assert_int_equal(in.next_seq - 1, in.queued + in.delivered + in.rejected);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 4);
    assert_int_equal(acc.seqs[0], 2);
    assert_int_equal(acc.seqs[1], 4);
    assert_int_equal(acc.seqs[2], 5);
    assert_int_equal(acc.seqs[3], 6);
    ct_event want;
    make_event(&want, 3); /* seq 4 is event 3, bytes unchanged */
    assert_memory_equal(acc.evs[1].person, want.person, CT_PERSON_LEN);
    rej_acc r = {0};
    assert_int_equal(ct_outbox_rejected_each(ob, rej_cb, &r), CT_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 3);
    assert_int_equal(ct_outbox_requeue(ob, -1, &n, NULL), CT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ct_outbox_requeue(ob, -1, &n, NULL), CT_OK);
    assert_int_equal(n, 0);
    ct_outbox_close(ob);
}

/* A page of entries: the union of notes, queued and rejected seqs, in seq
 * order after the cursor, each with its state, note and event bytes; a
 * delivered event without a note is in no page; *last and *more page on. */
typedef struct {
    uint64_t seq[16];
    int st[16];
    uint16_t code[16];
    bool note[16], ev[16];
    size_t n;
} ent_acc;

static ct_err ent_cb(void *ctx, const ct_outbox_entry *en)
{
    ent_acc *a = ctx;
    assert_true(a->n < 16);
    a->seq[a->n] = en->seq;
    a->st[a->n] = en->state;
    a->code[a->n] = en->code;
    a->note[a->n] = en->note != NULL;
    a->ev[a->n] = en->ev != NULL;
    if (en->ev) {
        ct_event ev;
        assert_int_equal(ct_event_decode(en->ev, en->ev_len, &ev, NULL), CT_OK);
    }
    a->n++;
    return CT_OK;
}

static void test_entries_pages(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 6); /* seqs 1..6 */
    ct_outbox_txn *t;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    assert_int_equal(ct_outbox_note_put(t, 2, "n2", 2), CT_OK);
    assert_int_equal(ct_outbox_note_put(t, 3, "n3", 2), CT_OK);
    assert_int_equal(ct_outbox_commit(t), CT_OK);
    /* 1 delivered (no note: gone), 2 delivered (note stays), 3 rejected,
     * 4 committed at HQ not yet safe, 5 and 6 queued */
    ct_outbox_settle_item items[] = {{1, CT_OK}, {2, CT_OK}, {3, CT_ERR_FORBIDDEN}, {4, CT_OK}};
    uint64_t q[] = {0, 0, 0, 20};
    assert_int_equal(ct_outbox_settle_ex(ob, items, q, 4, 10, 5, NULL, NULL), CT_OK);
    ent_acc a = {0};
    uint64_t last;
    bool more;
    assert_int_equal(ct_outbox_entries(ob, 0, 3, ent_cb, &a, &last, &more), CT_OK);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.seq[0], 2);
    assert_int_equal(a.st[0], CT_OUTBOX_SETTLED);
    assert_true(a.note[0] && !a.ev[0]);
    assert_int_equal(a.seq[1], 3);
    assert_int_equal(a.st[1], CT_OUTBOX_REJECTED);
    assert_int_equal(a.code[1], CT_ERR_FORBIDDEN);
    assert_true(a.note[1] && a.ev[1]);
    assert_int_equal(a.seq[2], 4);
    assert_int_equal(a.st[2], CT_OUTBOX_COMMITTED);
    assert_true(!a.note[2] && a.ev[2]);
    assert_int_equal(last, 4);
    assert_true(more);
    memset(&a, 0, sizeof a);
    assert_int_equal(ct_outbox_entries(ob, last, 3, ent_cb, &a, &last, &more), CT_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.seq[0], 5);
    assert_int_equal(a.st[0], CT_OUTBOX_QUEUED);
    assert_int_equal(a.seq[1], 6);
    assert_int_equal(last, 6);
    assert_false(more);
    memset(&a, 0, sizeof a);
    assert_int_equal(ct_outbox_entries(ob, 6, 3, ent_cb, &a, &last, &more), CT_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(last, 0);
    assert_false(more);
    /* one entry */
    bool found;
    memset(&a, 0, sizeof a);
    assert_int_equal(ct_outbox_entry_get(ob, 3, ent_cb, &a, &found), CT_OK);
    assert_true(found);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.seq[0], 3);
    memset(&a, 0, sizeof a);
    assert_int_equal(ct_outbox_entry_get(ob, 1, ent_cb, &a, &found), CT_OK);
    assert_false(found); /* delivered without a note: gone */
    assert_int_equal(a.n, 0);
    /* a note read back inside a transaction */
    ct_buf nb = CT_BUF_INIT;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    assert_int_equal(ct_outbox_note_get(t, 3, &nb, &found), CT_OK);
    assert_true(found);
    assert_int_equal(nb.len, 2);
    assert_memory_equal(nb.data, "n3", 2);
    assert_int_equal(ct_outbox_note_get(t, 5, &nb, &found), CT_OK);
    assert_false(found);
    ct_outbox_abort(t);
    ct_buf_free(&nb);
    ct_outbox_close(ob);
}

/* A requeue by agent and by seq moves exactly the matching rejected events
 * (a staff member re-sends their own), in one transaction, with exact
 * counters. */
static void test_requeue_where(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 3);  /* seqs 1, 2, 3: agents LD672-001, -002, -003 */
    queue_n(ob, 20, 2); /* seqs 4, 5: agents LD672-001, -002 */
    ct_outbox_settle_item items[] = {{1, CT_ERR_FORBIDDEN},
                                     {2, CT_ERR_FORBIDDEN},
                                     {3, CT_ERR_FORBIDDEN},
                                     {4, CT_ERR_FORBIDDEN},
                                     {5, CT_ERR_UNKNOWN_AGENT}};
    assert_int_equal(ct_outbox_settle(ob, items, 5, 5, NULL, NULL), CT_OK);
    size_t n, nc;
    ct_outbox_requeue_filter w = {.code = CT_ERR_FORBIDDEN, .agent = "LD672-001"};
    assert_int_equal(ct_outbox_requeue_where(ob, &w, &n, &nc), CT_OK);
    assert_int_equal(n, 2); /* 1 and 4 */
    assert_int_equal(nc, 0);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 2);
    assert_int_equal(acc.seqs[0], 1);
    assert_int_equal(acc.seqs[1], 4);
    /* seq 5 is not LD672-001's; nor is LD672-002's rejected as unknown_agent */
    w = (ct_outbox_requeue_filter){.code = -1, .agent = "LD672-001", .seq = 5};
    assert_int_equal(ct_outbox_requeue_where(ob, &w, &n, NULL), CT_OK);
    assert_int_equal(n, 0);
    w = (ct_outbox_requeue_filter){.code = CT_ERR_UNKNOWN_AGENT, .agent = "LD672-003"};
    assert_int_equal(ct_outbox_requeue_where(ob, &w, &n, NULL), CT_OK);
    assert_int_equal(n, 0);
    w = (ct_outbox_requeue_filter){.code = -1, .agent = "LD672-002", .seq = 5};
    assert_int_equal(ct_outbox_requeue_where(ob, &w, &n, NULL), CT_OK);
    assert_int_equal(n, 1);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 3);           /* 1, 4, 5 */
    assert_int_equal(in.rejected_entries, 2); /* 2, 3 */
    assert_int_equal(in.rejected, 2);
    rej_acc r = {0};
    assert_int_equal(ct_outbox_rejected_each(ob, rej_cb, &r), CT_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.seq[0], 2);
    assert_int_equal(r.seq[1], 3);
    ct_outbox_close(ob);
}

/* A conflict rejection (the id is taken at HQ by another sign-up) is never
 * requeued unchanged; reissue queues the same content under new ids, under a
 * fresh origin, and the history keeps every earlier event's id. */
static void test_conflict_reissue(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_init(f);
    queue_n(ob, 0, 5);
    ct_outbox_info in0;
    assert_int_equal(ct_outbox_get_info(ob, &in0), CT_OK);
    assert_int_equal(in0.n_origins, 1);
    ct_outbox_settle_item items[] = {
        {1, CT_OK}, {2, CT_ERR_CONFLICT}, {3, CT_ERR_CONFLICT}, {4, CT_ERR_FORBIDDEN}};
    assert_int_equal(ct_outbox_settle(ob, items, 4, 5, NULL, NULL), CT_OK);
    size_t n, kept;
    assert_int_equal(ct_outbox_requeue(ob, CT_ERR_CONFLICT, &n, &kept), CT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kept, 2);
    assert_int_equal(ct_outbox_requeue(ob, -1, &n, &kept), CT_OK);
    assert_int_equal(n, 1); /* the forbidden one */
    assert_int_equal(kept, 2);
    uint64_t gen0, gen1;
    assert_int_equal(ct_outbox_requeue_gen(ob, &gen0), CT_OK);

    bool fresh;
    assert_int_equal(ct_outbox_reissue(ob, &n, &fresh), CT_OK);
    assert_int_equal(n, 2);
    assert_true(fresh);
    assert_int_equal(ct_outbox_requeue_gen(ob, &gen1), CT_OK);
    assert_int_equal(gen1, gen0 + 1);
    ct_outbox_close(ob);
    ob = open_ob(f); /* everything below is durable */
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.next_seq, 8);
    assert_int_equal(in.queued, 4); /* 4, 5, 6, 7 */
    assert_int_equal(in.delivered, 1);
    assert_int_equal(in.rejected, 0);
    assert_int_equal(in.rejected_entries, 0);
    assert_int_equal(in.reissued, 2);
    assert_int_equal(ct_outbox_recorded(&in), 5);
    assert_int_equal(in.next_seq - 1, in.queued + in.delivered + in.rejected + in.reissued);
    assert_int_equal(in.n_origins, 2);
    assert_int_equal(in.origins[0].first_seq, 1);
    assert_memory_equal(in.origins[0].origin, in0.origin, CT_ORIGIN_LEN);
    assert_int_equal(in.origins[1].first_seq, 6);
    assert_memory_equal(in.origins[1].origin, in.origin, CT_ORIGIN_LEN);
    assert_memory_not_equal(in.origin, in0.origin, CT_ORIGIN_LEN);
    uint8_t id[CT_EVENT_ID_LEN], want_id[CT_EVENT_ID_LEN];
    ct_outbox_event_id(&in, 5, id);
    ct_event_id_make(want_id, in0.origin, 5);
    assert_memory_equal(id, want_id, CT_EVENT_ID_LEN);
    ct_outbox_event_id(&in, 7, id);
    ct_event_id_make(want_id, in.origin, 7);
    assert_memory_equal(id, want_id, CT_EVENT_ID_LEN);

    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 4);
    assert_int_equal(acc.seqs[2], 6);
    assert_int_equal(acc.seqs[3], 7);
    for (size_t i = 0; i < 4; i++) {
        ct_outbox_event_id(&in, acc.seqs[i], id);
        assert_memory_equal(acc.evs[i].id, id, CT_EVENT_ID_LEN); /* the stored id is that id */
    }
    ct_event want;
    make_event(&want, 1); /* seq 2 was event 1: same content under seq 6 */
    assert_memory_equal(acc.evs[2].person, want.person, CT_PERSON_LEN);
    assert_int_equal(acc.evs[2].occurred_ms, want.occurred_ms);
    make_event(&want, 2);
    assert_memory_equal(acc.evs[3].person, want.person, CT_PERSON_LEN);

    /* nothing left to reissue: no change, not even a new origin */
    assert_int_equal(ct_outbox_reissue(ob, &n, &fresh), CT_OK);
    assert_int_equal(n, 0);
    assert_false(fresh);
    /* a conflict on an old-origin event reuses the current (fresh) origin */
    ct_outbox_settle_item again[] = {{5, CT_ERR_CONFLICT}};
    assert_int_equal(ct_outbox_settle(ob, again, 1, 6, NULL, NULL), CT_OK);
    assert_int_equal(ct_outbox_reissue(ob, &n, &fresh), CT_OK);
    assert_int_equal(n, 1);
    assert_false(fresh);
    /* a conflict under the current origin draws another one */
    ct_outbox_settle_item third[] = {{6, CT_ERR_CONFLICT}};
    assert_int_equal(ct_outbox_settle(ob, third, 1, 7, NULL, NULL), CT_OK);
    assert_int_equal(ct_outbox_reissue(ob, &n, &fresh), CT_OK);
    assert_int_equal(n, 1);
    assert_true(fresh);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.n_origins, 3);
    assert_int_equal(in.origins[2].first_seq, 9);
    assert_int_equal(in.reissued, 4);
    assert_int_equal(ct_outbox_recorded(&in), 5);
    assert_int_equal(in.next_seq - 1, in.queued + in.delivered + in.rejected + in.reissued);
    /* new sign-ups take the current origin */
    queue_n(ob, 10, 1);
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    ct_outbox_event_id(&in, 10, id);
    ct_event_id_make(want_id, in.origin, 10);
    assert_memory_equal(id, want_id, CT_EVENT_ID_LEN);
    ct_outbox_close(ob);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static ct_signup_ctx import_ctx(void)
{
    ct_signup_ctx c = {.campaign = &camp,
                       .district = 672,
                       .person_key = pkey,
                       .validate = true,
                       .time_required = true};
    return c;
}

static const char good_csv[] =
    "agent_id,program,action,national_id,commune,occurred_at,months,amount,group\n"
    "LD672-001,bhxh_tn,enroll,068190004521,Phường 1,2023-07-22T09:15:00+07:00,12,3564000,\n"
    "LD672-002,bhyt_hgd,enroll,068285001177,Phường 3,2023-07-22T10:40:00+07:00,12,972000,nq143\n"
    "LD672-003,bhyt_hgd,,068177003390,Xã Tà Nung,2023-07-23 08:05,,,\n"
    "LD672-002,bhyt_hgd,cancel,068285001177,Phường 3,2023-07-28T11:00:00+07:00,,,\n";

static void test_import_idempotent(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/in.csv", f->dir);
    write_file(path, good_csv);
    ct_outbox *ob = open_init(f);
    ct_signup_ctx c = import_ctx();
    ct_import_stats st;
    char err[512];
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_OK);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.already, 0);
    assert_int_equal(st.bad, 0);
    ct_outbox_close(ob);
    ob = open_ob(f);
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_OK);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.already, 4);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 4);
    assert_int_equal(in.next_seq, 5);
    assert_int_equal(in.imports, 4);
    /* still "already queued" after delivery */
    ct_outbox_settle_item items[] = {{1, CT_OK}, {2, CT_OK}, {3, CT_OK}, {4, CT_OK}};
    assert_int_equal(ct_outbox_settle(ob, items, 4, 1, NULL, NULL), CT_OK);
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_OK);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.already, 4);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 0);
    ct_outbox_close(ob);

    /* the rows' content: local time without zone uses the campaign's +07:00 */
    ob = open_ob(f);
    ct_outbox_close(ob);
}

static void test_import_fields(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/in.csv", f->dir);
    write_file(path, good_csv);
    ct_outbox *ob = open_init(f);
    ct_signup_ctx c = import_ctx();
    ct_import_stats st;
    char err[512];
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_OK);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 4);
    assert_string_equal(acc.evs[0].commune, "Phường 1");
    assert_true(acc.evs[0].has_months);
    assert_int_equal(acc.evs[0].months, 12);
    assert_int_equal(acc.evs[0].amount_vnd, 3564000);
    assert_string_equal(acc.evs[1].group, "nq143");
    assert_int_equal(acc.evs[2].action, CT_ACTION_ENROLL);
    assert_false(acc.evs[2].has_months);
    int64_t want;
    assert_int_equal(ct_time_parse("2023-07-23T08:05:00+07:00", 0, &want), CT_OK);
    assert_int_equal(acc.evs[2].occurred_ms, want);
    assert_int_equal(acc.evs[3].action, CT_ACTION_CANCEL);
    assert_memory_equal(acc.evs[3].person, acc.evs[1].person, CT_PERSON_LEN);
    uint8_t h[CT_PERSON_LEN];
    assert_int_equal(ct_person_hash(pkey, "068190004521", h), CT_OK);
    assert_memory_equal(acc.evs[0].person, h, CT_PERSON_LEN);
    ct_outbox_close(ob);

    /* the national IDs are nowhere in the outbox files */
    char dpath[400];
    snprintf(dpath, sizeof dpath, "%s/data.mdb", f->ob_dir);
    FILE *fp = fopen(dpath, "rb");
    assert_non_null(fp);
    static char buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    const char *ids[] = {"068190004521", "068285001177", "068177003390"};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i + 12 <= n; i++)
            assert_true(memcmp(buf + i, ids[k], 12) != 0);
}

static void test_import_errors_line_numbers(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/bad.csv", f->dir);
    write_file(
        path,
        "agent_id,program,action,national_id,commune,occurred_at,months,amount,group\n"
        "LD672-001,bhxh_tn,enroll,068190004521,P1,2023-07-22T09:15:00+07:00,,,\n"     /* 2 ok */
        "LD672-001,bhxh_tn,enroll,06819000452,P1,2023-07-22T09:15:00+07:00,,,\n"      /* 3 */
        "\n"                                                                          /* 4 */
        "LD672-001,bhyt_ttt,enroll,068190004522,P1,2023-07-22T09:15:00+07:00,,,\n"    /* 5 */
        "LD672-001,bhxh_tn,enroll,068190004523,\"multi\nline\",2023-07-22T10:00,,,\n" /* 6-7 ok */
        "LD673-001,bhxh_tn,enroll,068190004524,P1,2023-07-22T09:15:00+07:00,,,\n"     /* 8 */
        "LD672-001,bhxh_tn,enroll,068190004525,P1,2023-08-02T09:15:00+07:00,,,\n"     /* 9 */
        "LD672-001,bhxh_tn,enroll,068190004526,P1,2023-07-22T09:15:00+07:00,,,x1\n"   /* 10 */
        "LD672-001,bhxh_tn,enroll,068190004527,P1\n"                                  /* 11 */
        "LD672-001,bhxh_tn,enrol,068190004528,P1,2023-07-22T09:15:00+07:00,,,\n"      /* 12 */
        "LD672-001,bhxh_tn,enroll,068190004529,P1,yesterday,,,\n"                     /* 13 */
        "LD672-001,bhxh_tn,enroll,068190004530,P1,2023-07-22T09:15:00+07:00,0,,\n"    /* 14 */
        "LD672-001,bhxh_tn,enroll,068190004531,P1,2023-07-22T09:15:00+07:00,,-5,\n"   /* 15 */
        ",bhxh_tn,enroll,068190004532,P1,2023-07-22T09:15:00+07:00,,,\n"              /* 16 */
        "LD672-001,bhxh_tn,enroll,,P1,2023-07-22T09:15:00+07:00,,,\n"                 /* 17 */
        "LD672-002,bhyt_hgd,enroll,068190004533,P1,2023-07-31T16:00:00+07:00,,,\n"    /* 18 ok */
    );
    ct_outbox *ob = open_init(f);
    ct_signup_ctx c = import_ctx();
    ct_import_stats st;
    char err[512];
    char *rep = NULL;
    size_t replen = 0;
    FILE *mem = open_memstream(&rep, &replen);
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = mem}, &st, err, sizeof err), CT_OK);
    fclose(mem);
    assert_int_equal(st.rows, 15); /* the blank line 4 is not a row */
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.bad, 12);
    static const struct {
        int line;
        const char *what;
    } want[] = {
        {3, "national ID must be exactly 12 digits"},
        {5, "unknown program 'bhyt_ttt'"},
        {8, "agent 'LD673-001' belongs to district 673"},
        {9, "outside the campaign window"},
        {10, "unknown subsidy group 'x1'"},
        {11, "expected 9 fields, found 5"},
        {12, "unknown action 'enrol'"},
        {13, "bad time 'yesterday'"},
        {14, "months must be a whole number from 1 to 600"},
        {15, "amount must be a whole number"},
        {16, "agent id is missing"},
        {17, "national ID is missing"},
    };
    char *line = rep;
    size_t k = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (k < sizeof want / sizeof want[0]) {
            char prefix[450];
            snprintf(prefix, sizeof prefix, "%s:%d: ", path, want[k].line);
            if (strncmp(line, prefix, strlen(prefix)) != 0 || !strstr(line, want[k].what))
                fail_msg("report line %zu: got '%s', want '%s%s'", k, line, prefix, want[k].what);
        }
        k++;
        line = nl ? nl + 1 : NULL;
    }
    assert_int_equal(k, st.bad);
    /* the national ID is never echoed in a report */
    assert_null(strstr(rep ? rep : "", "06819000452"));
    free(rep);
    ct_outbox_close(ob);
}

static void test_import_bad_header(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/h.csv", f->dir);
    write_file(path, "agent_id,program,nationalid,occurred_at\nLD672-001,bhxh_tn,1,2\n");
    ct_outbox *ob = open_init(f);
    ct_signup_ctx c = import_ctx();
    ct_import_stats st;
    char err[512];
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_ERR_CONFIG);
    assert_non_null(strstr(err, ":1: unknown column 'nationalid'"));
    write_file(path, "\xEF\xBB\xBF"
                     "agent_id,program,occurred_at\nLD672-001,bhxh_tn,2023-07-22T09:15\n");
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_ERR_CONFIG);
    assert_non_null(strstr(err, ":1: header lacks the column 'national_id'"));
    write_file(path, "");
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_ERR_CONFIG);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 0);
    ct_outbox_close(ob);
}

/* A NUL byte inside a field is damage, not an end of string: the row is bad
 * (with its line and the column), never queued with the text before it. */
static void test_import_nul_bytes(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/nul.csv", f->dir);
    static const char csv[] =
        "agent_id,program,action,national_id,commune,occurred_at,months,amount,group\n"
        "LD672-001,bhxh_tn,enroll,068190004521,P1,2023-07-22T09:15:00\0+05:00,12,3564000,\n"
        "LD672-001,bhxh_tn,enroll,068190004522,P1,2023-07-22T09:15:00+07:00,12,35\00064000,\n"
        "LD672-002\0-junk,bhyt_hgd,enroll,068190004523,P1,2023-07-22T09:15:00+07:00,,,\n"
        "LD672-002,bhyt_hgd,enroll,068190004524,\"P\0\",2023-07-22T09:15:00+07:00,,,\n"
        "LD672-002,bhyt_hgd,enroll,068190004525,P1,2023-07-22T09:15:00+07:00,,,\n";
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(csv, 1, sizeof csv - 1, fp), sizeof csv - 1);
    fclose(fp);
    ct_outbox *ob = open_init(f);
    ct_signup_ctx c = import_ctx();
    ct_import_stats st;
    char err[512];
    char *rep = NULL;
    size_t replen = 0;
    FILE *mem = open_memstream(&rep, &replen);
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = mem}, &st, err, sizeof err), CT_OK);
    fclose(mem);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.bad, 4);
    assert_int_equal(st.queued, 1);
    char want[2048];
    snprintf(want, sizeof want,
             "%s:2: field 'occurred_at' contains a NUL byte (damaged file?)\n"
             "%s:3: field 'amount' contains a NUL byte (damaged file?)\n"
             "%s:4: field 'agent_id' contains a NUL byte (damaged file?)\n"
             "%s:5: field 'commune' contains a NUL byte (damaged file?)\n",
             path, path, path, path);
    assert_string_equal(rep, want);
    free(rep);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(ob, 0, 100, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 1);
    assert_string_equal(acc.evs[0].agent, "LD672-002");
    assert_false(acc.evs[0].has_amount);

    /* a NUL in the header is a bad header, not a shorter column name */
    static const char hdr[] = "agent_id\0x,program,national_id,occurred_at\n"
                              "LD672-001,bhxh_tn,068190004526,2023-07-22T09:15\n";
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(hdr, 1, sizeof hdr - 1, fp), sizeof hdr - 1);
    fclose(fp);
    assert_int_equal(
        ct_import_csv(ob, path, &c, &(ct_import_opts){.report = stderr}, &st, err, sizeof err),
        CT_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:1: header column 1 contains a NUL byte (damaged file?)", path);
    assert_string_equal(err, want);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 1);
    ct_outbox_close(ob);
}

static void test_signup_build_rules(void **state)
{
    (void)state;
    ct_signup_ctx c = import_ctx();
    c.time_required = false;
    c.default_time_ms = camp.start_ms + 1000;
    ct_event ev;
    char why[300];
    ct_signup_fields f = {
        .agent = "LD672-001", .program = "bhxh_tn", .national_id = "068190004521"};
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_OK);
    assert_int_equal(ev.occurred_ms, camp.start_ms + 1000);
    assert_int_equal(ev.district, 672);
    /* no key: a national ID is refused */
    c.person_key = NULL;
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_ERR_CONFIG);
    /* a person hash needs no key */
    f.national_id = NULL;
    f.person_hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_OK);
    assert_int_equal(ev.person[1], 0x11);
    f.person_hash = "0011";
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_ERR_BAD_PERSON);
    /* agent of another district: refused unless validation is off */
    f.person_hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    f.agent = "LD673-001";
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_ERR_AGENT_DISTRICT);
    c.validate = false;
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_OK);
    f.agent = "NOBODY";
    c.validate = true;
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_ERR_UNKNOWN_AGENT);

    /* the window's tolerance: what is accepted is what the refusal says */
    f.agent = "LD672-001";
    f.occurred_at = "2023-07-22T07:50:00+07:00";
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_OK);
    f.occurred_at = "2023-08-01T00:09:59+07:00";
    assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_OK);
    static const char *const outside[] = {"2023-07-22T07:49:59+07:00", "2023-08-01T00:10:00+07:00"};
    for (size_t i = 0; i < 2; i++) {
        f.occurred_at = outside[i];
        assert_int_equal(ct_signup_build(&f, &c, &ev, why, sizeof why), CT_ERR_OUTSIDE_WINDOW);
        char want[300];
        snprintf(want, sizeof want,
                 "time %s is outside the campaign window: accepted from "
                 "2023-07-22T07:50:00+07:00 up to (not including) 2023-08-01T00:10:00+07:00 "
                 "(the window 2023-07-22T08:00:00+07:00 to 2023-08-01T00:00:00+07:00 with its "
                 "600 s tolerance)",
                 outside[i]);
        assert_string_equal(why, want);
    }
}

static void test_simulate_plan(void **state)
{
    (void)state;
    ct_sim_opts o = {.campaign = &camp,
                     .district = 674,
                     .person_key = NULL,
                     .seed = 7,
                     .fill = 1.0,
                     .count = -1};
    ct_sim_item *a = NULL, *b = NULL;
    size_t na, nb;
    ct_sim_summary sa, sb;
    assert_int_equal(ct_simulate_plan(&o, &a, &na, &sa), CT_OK);
    assert_int_equal(ct_simulate_plan(&o, &b, &nb, &sb), CT_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a); /* reproducible */
    assert_int_equal(na, sa.enroll[0] + sa.enroll[1] + sa.repeats + sa.cancels);
    const ct_district *d = ct_campaign_district(&camp, 674);
    assert_int_equal(sa.agents, d->n_agents);
    for (size_t i = 0; i < na; i++) {
        assert_true(a[i].t_ms >= camp.start_ms && a[i].t_ms < camp.end_ms);
        if (i) assert_true(a[i - 1].t_ms <= a[i].t_ms);
        assert_int_equal(camp.agents[a[i].agent].district, 674);
        ct_event ev;
        assert_int_equal(ct_simulate_event(&o, &a[i], &ev), CT_OK);
        assert_int_equal(ct_campaign_check_event(&camp, &ev, INT64_MAX), CT_OK);
    }
    free(a);
    free(b);
    /* --count gives exactly that many */
    o.count = 1000;
    assert_int_equal(ct_simulate_plan(&o, &a, &na, &sa), CT_OK);
    assert_int_equal(na, 1000);
    assert_int_equal(sa.cancels, 30);
    assert_int_equal(sa.repeats, 20);
    /* every cancel follows its enrollment of the same person and program */
    for (size_t i = 0; i < na; i++) {
        if (a[i].action != CT_ACTION_CANCEL) continue;
        bool found = false;
        for (size_t j = 0; j < i; j++)
            if (a[j].person == a[i].person && a[j].program == a[i].program &&
                a[j].action == CT_ACTION_ENROLL)
                found = true;
        assert_true(found);
    }
    free(a);
    o.district = 999;
    assert_int_equal(ct_simulate_plan(&o, &a, &na, &sa), CT_ERR_UNKNOWN_DISTRICT);
}

static void test_simulate_run_idempotent(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = open_ob(f);
    char err[256];
    assert_int_equal(ct_outbox_init(ob, 675, camp.id, "builtin", err, sizeof err), CT_OK);
    ct_sim_opts o = {.campaign = &camp,
                     .district = 675,
                     .person_key = pkey,
                     .seed = 3,
                     .fill = 1.0,
                     .count = 300};
    ct_sim_summary s;
    assert_int_equal(ct_simulate_run(ob, &o, &s, err, sizeof err), CT_OK);
    assert_int_equal(s.queued, 300);
    assert_int_equal(ct_simulate_run(ob, &o, &s, err, sizeof err), CT_OK);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.already, 300);
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 300);
    ct_outbox_close(ob);
}

int main(void)
{
    char err[512];
    if (ct_crypto_init() != CT_OK) return 1;
    if (ct_campaign_load_default(&camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof pkey; i++)
        pkey[i] = (uint8_t)(i * 7 + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox_dir_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_persists_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_queues_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_delete_and_reject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_safe_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notes_follow_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requeue_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_errors_line_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_reissue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requeue_where, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_pages, setup, teardown),
        cmocka_unit_test(test_signup_build_rules),
        cmocka_unit_test(test_simulate_plan),
        cmocka_unit_test_setup_teardown(test_simulate_run_idempotent, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&camp);
    return rc;
}
