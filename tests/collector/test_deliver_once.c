/* test_deliver_once.c — `run --once` (ct_deliver_run with once) against a
 * fake aggregator: a ROUTER on an ipc socket in a thread, acking every
 * submitted event as accepted. The deliverer must return only when the
 * outbox holds nothing unsent and nothing in flight, whatever its scans
 * met: here every ack of a full window arrives at once, so the scan after
 * it walks events still held in the window (the connection restarted the
 * scan from the first seq) and loads none of them, and the outbox polling
 * period is long, so a decision taken from that scan's result would end
 * the run with most events still queued. Real LMDB files in a temp dir.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_deliver.h"
#include "ct_keys.h"
#include "ct_outbox.h"
#include "ct_time.h"
#include "ct_wire.h"

#define N_EVENTS 40

static ct_campaign camp;
static uint8_t pkey[CT_PERSON_KEY_BYTES];

typedef struct {
    char dir[256];
    char ob_dir[300];
    char ep[320];
    void *zctx;
    atomic_int stop;
    uint64_t acked; /* events the fake aggregator acked */
} fixture;

static void queue_n(ct_outbox *ob, int n)
{
    ct_outbox_txn *t;
    assert_int_equal(ct_outbox_begin(ob, &t), CT_OK);
    for (int i = 0; i < n; i++) {
        ct_event ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.campaign, sizeof ev.campaign, "%s", camp.id);
        ev.district = 672;
        snprintf(ev.agent, sizeof ev.agent, "LD672-%03d", 1 + i % 20);
        ev.program = (ct_program)(i % 2);
        ev.action = CT_ACTION_ENROLL;
        ev.occurred_ms = camp.start_ms + 3600000LL * i;
        char nid[13];
        snprintf(nid, sizeof nid, "0681%08d", i);
        assert_int_equal(ct_person_hash(pkey, nid, ev.person), CT_OK);
        bool q;
        uint64_t seq;
        assert_int_equal(ct_outbox_queue(t, &ev, NULL, &q, &seq), CT_OK);
        assert_true(q);
    }
    assert_int_equal(ct_outbox_commit(t), CT_OK);
}

/* The fake aggregator: one ack per submit, every event accepted, log seqs
 * counting up; anything that is not a submit is ignored. */
static void *fake_agg(void *arg)
{
    fixture *f = arg;
    void *s = zmq_socket(f->zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, f->ep) != 0) {
        zmq_close(s);
        return NULL;
    }
    ct_buf out;
    memset(&out, 0, sizeof out);
    static ct_bytes evs[CT_WIRE_MAX_EVENTS];
    static ct_ack_item items[CT_WIRE_MAX_EVENTS];
    uint64_t logseq = 0;
    while (!f->stop) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) <= 0) continue;
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&id, s, 0) >= 0 && zmq_msg_more(&id) && zmq_msg_recv(&m, s, 0) >= 0) {
            uint64_t token, epoch;
            bool want_safe;
            size_t n;
            if (ct_wire_submit_decode_ep(zmq_msg_data(&m), zmq_msg_size(&m), &token, &want_safe,
                                         &epoch, evs, CT_WIRE_MAX_EVENTS, &n) == CT_OK) {
                memset(items, 0, sizeof items);
                for (size_t i = 0; i < n; i++) {
                    items[i].status = CT_ACK_ACCEPTED;
                    items[i].seq = ++logseq;
                }
                ct_buf_reset(&out);
                if (ct_wire_ack_encode_ep(token, logseq, false, 0, 0, items, n, &out) == CT_OK) {
                    zmq_send(s, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
                    zmq_send(s, out.data, out.len, 0);
                    f->acked += n;
                }
            }
        }
        zmq_msg_close(&id);
        zmq_msg_close(&m);
    }
    ct_buf_free(&out);
    zmq_close(s);
    return NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ct-test-once-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ob_dir, sizeof f->ob_dir, "%s/ob", f->dir);
    snprintf(f->ep, sizeof f->ep, "ipc://%s/agg", f->dir);
    f->zctx = zmq_ctx_new();
    assert_non_null(f->zctx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    zmq_ctx_term(f->zctx);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A window of 8 sent as one submit, acked at once: the scan after the ack
 * meets the 8 held events and loads none; the outbox is polled once a
 * minute. --once must still deliver all 40 and return only then. */
static void test_once_scan_meets_held_events(void **state)
{
    fixture *f = *state;
    ct_outbox *ob = NULL;
    char err[512];
    assert_int_equal(ct_outbox_open(f->ob_dir, 16u << 20, &ob, err, sizeof err), CT_OK);
    assert_int_equal(ct_outbox_init(ob, 672, camp.id, "builtin", err, sizeof err), CT_OK);
    queue_n(ob, N_EVENTS);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fake_agg, f), 0);
    ct_deliver_opts o;
    ct_deliver_opts_default(&o);
    o.endpoint = f->ep;
    o.once = true;
    o.window = 8;
    o.batch = 8;
    o.poll_ms = 60000;
    o.stats_interval_s = 0;
    o.telemetry_s = 0;
    o.give_up_s = 30; /* a run that never finishes fails instead of hanging */
    ct_deliver_stats st;
    ct_err e = ct_deliver_run(ob, f->zctx, &o, &st, err, sizeof err);
    f->stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(e, CT_OK);

    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(ob, &in), CT_OK);
    assert_int_equal(in.queued, 0);
    assert_int_equal(in.committed, 0);
    assert_int_equal(in.delivered, N_EVENTS);
    assert_int_equal(st.accepted, N_EVENTS);
    assert_int_equal(f->acked, st.sent + st.resent);
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
        cmocka_unit_test_setup_teardown(test_once_scan_meets_held_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
