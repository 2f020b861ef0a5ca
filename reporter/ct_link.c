/* ct_link.c — the monitor-derived link state (see ct_link.h). */
#include "ct_link.h"

#include <assert.h>
#include <string.h>
#include <zmq.h>

#include "ct_time.h"
#include "ct_zmon.h"

#define EVENTS                                                                                     \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |                    \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                             \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

ct_err ct_link_open(ct_link *l, void *zctx, void *sock)
{
    memset(l, 0, sizeof *l);
    l->since_mono = ct_monotonic_ms();
    return ct_zmon_open(zctx, sock, EVENTS, &l->mon);
}

static void set_state(ct_link *l, ct_link_state s)
{
    if (l->state == s) return;
    l->state = s;
    l->since_mono = ct_monotonic_ms();
}

void ct_link_poll(ct_link *l)
{
    if (!l->mon) return;
    ct_zmon_event ev;
    for (;;) {
        ct_err e = ct_zmon_read(l->mon, ZMQ_DONTWAIT, &ev);
        if (e == CT_ERR_MALFORMED) continue;
        if (e != CT_OK) return;
        switch (ev.event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            set_state(l, CT_LINK_UP);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            l->fail_event = ev.event;
            l->fail_value = ev.value;
            l->n_handshake_failures++;
            set_state(l, CT_LINK_HANDSHAKE_FAILED);
            break;
        case ZMQ_EVENT_CONNECT_RETRIED:
            /* a handshake failure is followed by a retry: keep its cause */
            if (l->state != CT_LINK_HANDSHAKE_FAILED)
                set_state(l, l->state == CT_LINK_UP || l->state == CT_LINK_DISCONNECTED
                                 ? CT_LINK_DISCONNECTED
                                 : CT_LINK_CONNECT_FAILED);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (l->state == CT_LINK_UP) set_state(l, CT_LINK_DISCONNECTED);
            break;
        default:
            break;
        }
    }
}

void ct_link_close(ct_link *l, void *sock)
{
    ct_zmon_close(sock, l->mon);
    l->mon = NULL;
}

const char *ct_link_state_name(ct_link_state s)
{
    static const char *const names[CT_LINK_STATES] = {"connecting", "connect_failed",
                                                      "handshake_failed", "up", "disconnected"};
    assert((unsigned)s < CT_LINK_STATES);
    return names[s];
}

const char *ct_link_hint(const ct_link *l)
{
    switch (l->state) {
    case CT_LINK_CONNECTING:
        return "no connection to the aggregator yet";
    case CT_LINK_CONNECT_FAILED:
        return "cannot connect to the aggregator (connection refused or unreachable: is it "
               "running, and are --feed/--snapshot right?)";
    case CT_LINK_HANDSHAKE_FAILED:
        return l->fail_event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                   ? "the aggregator refused this reporter's key (check its authorization file)"
                   : "handshake with the aggregator failed (check --server-key and --keys, or "
                     "--insecure on both sides)";
    case CT_LINK_DISCONNECTED:
        return "disconnected from the aggregator, reconnecting";
    case CT_LINK_UP:
        break;
    }
    return "";
}
