/* test_safe_push.c — the pushed watermark's table (ct_safe_push) with real
 * ZeroMQ sockets over inproc://: a ROUTER with ZMQ_ROUTER_MANDATORY as the
 * ingest socket is, DEALERs with set routing ids as collectors. What is
 * noted, what each send pass sends (exact "sf" values), what is dropped
 * (covered, unroutable), the bound and the clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "ct_safe_push.h"
#include "ct_wire.h"

typedef struct {
    void *ctx, *router, *a, *b;
} fx;

static void *dealer(void *ctx, const char *rid)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid));
    assert_int_equal(zmq_connect(s, "inproc://push"), 0);
    /* the ROUTER learns the routing id from a first message */
    assert_int_equal(zmq_send(s, "hi", 2, 0), 2);
    return s;
}

static int setup(void **state)
{
    static fx f;
    f.ctx = zmq_ctx_new();
    f.router = zmq_socket(f.ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(f.router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(f.router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(f.router, "inproc://push"), 0);
    f.a = dealer(f.ctx, "col-A");
    f.b = dealer(f.ctx, "col-B");
    for (int i = 0; i < 4; i++) { /* [rid][hi] twice */
        char buf[16];
        assert_true(zmq_recv(f.router, buf, sizeof buf, 0) >= 0);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    zmq_close(f->a);
    zmq_close(f->b);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    return 0;
}

/* The next "sf" on s (waits up to 1 s); false when none. */
static bool got_sf(void *s, uint64_t *c, uint64_t *f, uint64_t *ep)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 1000) <= 0) return false;
    uint8_t buf[256];
    int n = zmq_recv(s, buf, sizeof buf, 0);
    assert_true(n > 0);
    assert_int_equal(ct_wire_safe_push_decode(buf, (size_t)n, c, f, ep), CT_OK);
    return true;
}

static bool nothing(void *s)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, 50) == 0;
}

#define RID(s) (const uint8_t *)(s), strlen(s)

static void pushes_and_drops(void **state)
{
    fx *x = *state;
    void *socks[1] = {x->router};
    ct_safe_push *p;
    assert_int_equal(ct_safe_push_create(3, &p), CT_OK);
    uint64_t c, f, ep;
    /* nothing waits: nothing noted, nothing sent */
    ct_safe_push_note(p, 0, RID("col-A"), 5, 5);
    ct_safe_push_note(p, 0, RID("col-A"), 5, 9);
    ct_safe_push_note(p, 0, (const uint8_t *)"", 0, 9, 1);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 0);
    ct_safe_push_send(p, socks, 1, 10, 10, 1);
    assert_true(nothing(x->a));
    /* A waits for 10 (told 3), then for 12: one entry, the highest want */
    ct_safe_push_note(p, 0, RID("col-A"), 10, 3);
    ct_safe_push_note(p, 0, RID("col-A"), 12, 3);
    ct_safe_push_note(p, 0, RID("col-B"), 5, 3);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 2);
    /* safe still 3: nobody told anything new */
    ct_safe_push_send(p, socks, 1, 12, 3, 7);
    assert_true(nothing(x->a) && nothing(x->b));
    /* safe 4: one "sf" each, both still wait */
    ct_safe_push_send(p, socks, 1, 12, 4, 7);
    assert_true(got_sf(x->a, &c, &f, &ep));
    assert_true(c == 12 && f == 4 && ep == 7);
    assert_true(got_sf(x->b, &c, &f, &ep));
    assert_true(c == 12 && f == 4 && ep == 7);
    assert_true(nothing(x->a) && nothing(x->b));
    /* the same safe again: nothing (coalesced) */
    ct_safe_push_send(p, socks, 1, 13, 4, 7);
    assert_true(nothing(x->a) && nothing(x->b));
    /* safe 6 covers B (5): B told and dropped, A told and kept */
    ct_safe_push_send(p, socks, 1, 13, 6, 7);
    assert_true(got_sf(x->a, &c, &f, &ep) && f == 6);
    assert_true(got_sf(x->b, &c, &f, &ep) && f == 6);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 1);
    ct_safe_push_send(p, socks, 1, 14, 7, 7);
    assert_true(got_sf(x->a, &c, &f, &ep) && f == 7);
    assert_true(nothing(x->b));
    /* a routing id the ROUTER does not know (a gone connection): dropped */
    ct_safe_push_note(p, 0, RID("col-Z"), 20, 7);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 2);
    ct_safe_push_send(p, socks, 1, 20, 8, 7);
    assert_true(got_sf(x->a, &c, &f, &ep) && f == 8);
    ct_safe_push_stats st = ct_safe_push_get_stats(p);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.pushes, 6);
    /* the bound: 3 entries, the 4th note is counted, not kept */
    ct_safe_push_note(p, 0, RID("col-B"), 30, 8);
    ct_safe_push_note(p, 0, RID("col-C"), 30, 8);
    ct_safe_push_note(p, 0, RID("col-D"), 30, 8);
    st = ct_safe_push_get_stats(p);
    assert_int_equal(st.waiting, 3);
    assert_int_equal(st.full, 1);
    /* clear (an epoch change) forgets them all */
    ct_safe_push_clear(p);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 0);
    ct_safe_push_send(p, socks, 1, 30, 30, 7);
    assert_true(nothing(x->a) && nothing(x->b));
    /* the same routing id on another socket is another collector */
    ct_safe_push_note(p, 0, RID("col-A"), 40, 30);
    ct_safe_push_note(p, 1, RID("col-A"), 40, 30);
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 2);
    /* an entry of a socket the pass is not given is kept, not sent */
    ct_safe_push_send(p, socks, 1, 40, 40, 7);
    assert_true(got_sf(x->a, &c, &f, &ep) && f == 40);
    assert_true(nothing(x->a));
    assert_int_equal(ct_safe_push_get_stats(p).waiting, 1);
    ct_safe_push_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pushes_and_drops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
