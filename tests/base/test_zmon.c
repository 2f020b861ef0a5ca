/* test_zmon.c — socket-monitor events read through ct_zmon over a real TCP
 * loopback connection (connect, accept, handshake, disconnect seen on both
 * sides, with their endpoints), plus malformed and absent events on a
 * hand-fed PAIR pipe, and the event names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "ct_time.h"
#include "ct_zmon.h"

/* Reads events until one with code want arrives (CT_OK, *out filled) or
 * timeout_ms pass (CT_ERR_TIMEOUT). Every event read is OR-ed into *seen. */
static ct_err wait_event(void *mon, uint16_t want, int timeout_ms, ct_zmon_event *out,
                         unsigned *seen)
{
    int64_t deadline = ct_monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ct_monotonic_ms();
        if (left <= 0) return CT_ERR_TIMEOUT;
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0) continue;
        ct_zmon_event ev;
        ct_err e = ct_zmon_read(mon, ZMQ_DONTWAIT, &ev);
        if (e == CT_ERR_TIMEOUT) continue;
        if (e != CT_OK) return e;
        *seen |= ev.event;
        if (ev.event == want) {
            *out = ev;
            return CT_OK;
        }
    }
}

static void test_tcp_connect_accept_disconnect(void **st)
{
    (void)st;
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    int zero = 0;
    void *srv = zmq_socket(ctx, ZMQ_ROUTER);
    void *cli = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(srv);
    assert_non_null(cli);
    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(cli, ZMQ_LINGER, &zero, sizeof zero);

    void *smon = NULL, *cmon = NULL;
    assert_int_equal(ct_zmon_open(ctx, srv,
                                  ZMQ_EVENT_LISTENING | ZMQ_EVENT_ACCEPTED |
                                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED,
                                  &smon),
                     CT_OK);
    assert_int_equal(
        ct_zmon_open(ctx, cli,
                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED,
                     &cmon),
        CT_OK);
    assert_non_null(smon);
    assert_non_null(cmon);
    assert_ptr_not_equal(smon, cmon);

    /* nothing waiting yet on the client side */
    ct_zmon_event ev;
    assert_int_equal(ct_zmon_read(cmon, ZMQ_DONTWAIT, &ev), CT_ERR_TIMEOUT);
    assert_int_equal(ev.event, 0);

    assert_int_equal(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    unsigned sseen = 0, cseen = 0;
    assert_int_equal(wait_event(smon, ZMQ_EVENT_LISTENING, 5000, &ev, &sseen), CT_OK);
    assert_string_equal(ev.endpoint, ep);

    assert_int_equal(zmq_connect(cli, ep), 0);
    assert_int_equal(wait_event(cmon, ZMQ_EVENT_CONNECTED, 5000, &ev, &cseen), CT_OK);
    assert_string_equal(ev.endpoint, ep);
    assert_true(ev.value > 0); /* the connection's file descriptor */
    assert_int_equal(wait_event(cmon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 5000, &ev, &cseen), CT_OK);
    assert_string_equal(ev.endpoint, ep);
    assert_int_equal(wait_event(smon, ZMQ_EVENT_ACCEPTED, 5000, &ev, &sseen), CT_OK);
    assert_true(ev.value > 0);
    assert_int_equal(wait_event(smon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 5000, &ev, &sseen), CT_OK);

    /* the server goes away: the client sees its connection drop */
    ct_zmon_close(srv, smon);
    zmq_close(srv);
    assert_int_equal(wait_event(cmon, ZMQ_EVENT_DISCONNECTED, 5000, &ev, &cseen), CT_OK);
    assert_string_equal(ev.endpoint, ep);
    assert_int_equal(cseen,
                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
    assert_int_equal(sseen,
                     ZMQ_EVENT_LISTENING | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    ct_zmon_close(cli, cmon);
    zmq_close(cli);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_server_sees_client_leave(void **st)
{
    (void)st;
    void *ctx = zmq_ctx_new();
    int zero = 0;
    void *srv = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
    void *smon;
    assert_int_equal(ct_zmon_open(ctx, srv, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED, &smon),
                     CT_OK);
    assert_int_equal(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t eplen = sizeof ep;
    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen);
    unsigned seen = 0;
    ct_zmon_event ev;
    for (int round = 0; round < 3; round++) {
        void *cli = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(cli, ZMQ_LINGER, &zero, sizeof zero);
        assert_int_equal(zmq_connect(cli, ep), 0);
        assert_int_equal(wait_event(smon, ZMQ_EVENT_ACCEPTED, 5000, &ev, &seen), CT_OK);
        uint32_t fd = ev.value;
        zmq_close(cli);
        assert_int_equal(wait_event(smon, ZMQ_EVENT_DISCONNECTED, 5000, &ev, &seen), CT_OK);
        assert_int_equal(ev.value, fd); /* the same connection */
    }
    /* the mask is honoured: nothing else was delivered */
    assert_int_equal(seen, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    ct_zmon_close(srv, smon);
    zmq_close(srv);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_malformed_and_endpoint_limit(void **st)
{
    (void)st;
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR);
    void *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://zmon-test"), 0);
    assert_int_equal(zmq_connect(b, "inproc://zmon-test"), 0);
    ct_zmon_event ev;

    /* a 3-byte first frame with an endpoint frame: malformed, fully consumed */
    zmq_send(b, "abc", 3, ZMQ_SNDMORE);
    zmq_send(b, "tcp://x", 7, 0);
    /* then a valid event whose endpoint is longer than the limit */
    uint8_t f1[6];
    uint16_t code = ZMQ_EVENT_DISCONNECTED;
    uint32_t val = 42;
    memcpy(f1, &code, 2);
    memcpy(f1 + 2, &val, 4);
    char longep[CT_ZMON_ENDPOINT_MAX + 40];
    memset(longep, 'e', sizeof longep);
    zmq_send(b, f1, 6, ZMQ_SNDMORE);
    zmq_send(b, longep, sizeof longep, 0);
    /* an event code of zero is no event */
    memset(f1, 0, sizeof f1);
    zmq_send(b, f1, 6, ZMQ_SNDMORE);
    zmq_send(b, "", 0, 0);

    assert_int_equal(ct_zmon_read(a, 0, &ev), CT_ERR_MALFORMED);
    assert_int_equal(ev.event, 0);
    assert_string_equal(ev.endpoint, "");
    assert_int_equal(ct_zmon_read(a, 0, &ev), CT_OK);
    assert_int_equal(ev.event, ZMQ_EVENT_DISCONNECTED);
    assert_int_equal(ev.value, 42);
    assert_int_equal(strlen(ev.endpoint), CT_ZMON_ENDPOINT_MAX);
    assert_int_equal(ct_zmon_read(a, 0, &ev), CT_ERR_MALFORMED);
    assert_int_equal(ct_zmon_read(a, ZMQ_DONTWAIT, &ev), CT_ERR_TIMEOUT);

    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void test_names(void **st)
{
    (void)st;
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_CONNECTED), "connected");
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_ACCEPTED), "accepted");
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_DISCONNECTED), "disconnected");
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_HANDSHAKE_SUCCEEDED), "handshake_succeeded");
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
                        "handshake_failed_auth");
    assert_string_equal(ct_zmon_event_name(0), "unknown");
    assert_string_equal(ct_zmon_event_name(ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_connect_accept_disconnect),
        cmocka_unit_test(test_server_sees_client_leave),
        cmocka_unit_test(test_malformed_and_endpoint_limit),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
