/* ct_zmon.c — ZeroMQ socket-monitor events: open, read, name (see ct_zmon.h).
 *
 * Invariant: ct_zmon_read() receives every frame of the message it started,
 * whatever it finds in them, so the PAIR socket is always at a message
 * boundary between calls. */
#include "ct_zmon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static unsigned next_monitor_id(void)
{
    static unsigned counter;
    return __atomic_add_fetch(&counter, 1u, __ATOMIC_RELAXED);
}

ct_err ct_zmon_open(void *zctx, void *sock, int events, void **mon)
{
    *mon = NULL;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ct-zmon-%u", next_monitor_id());
    if (zmq_socket_monitor(sock, ep, events) != 0) return CT_ERR_ZMQ;
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    if (!pair) goto fail;
    int zero = 0;
    if (zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(pair, ZMQ_RCVHWM, &zero, sizeof zero) != 0 || zmq_connect(pair, ep) != 0)
        goto fail;
    *mon = pair;
    return CT_OK;
fail:;
    int saved = errno;
    if (pair) zmq_close(pair);
    zmq_socket_monitor(sock, NULL, 0);
    errno = saved;
    return CT_ERR_ZMQ;
}

ct_err ct_zmon_read(void *mon, int flags, ct_zmon_event *ev)
{
    memset(ev, 0, sizeof *ev);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, flags) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        return e == EAGAIN || e == EINTR ? CT_ERR_TIMEOUT : CT_ERR_ZMQ;
    }
    ct_err rc = CT_OK;
    if (zmq_msg_size(&m) == 6) {
        const uint8_t *p = zmq_msg_data(&m);
        memcpy(&ev->event, p, 2);
        memcpy(&ev->value, p + 2, 4);
    } else {
        rc = CT_ERR_MALFORMED;
    }
    /* the rest of the message: the endpoint, then nothing (tolerated) */
    for (int part = 1; zmq_msg_more(&m); part++) {
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, 0) < 0) {
            zmq_msg_close(&m);
            memset(ev, 0, sizeof *ev);
            return CT_ERR_ZMQ;
        }
        if (part == 1 && rc == CT_OK) {
            size_t n = zmq_msg_size(&m);
            if (n > CT_ZMON_ENDPOINT_MAX) n = CT_ZMON_ENDPOINT_MAX;
            memcpy(ev->endpoint, zmq_msg_data(&m), n);
            ev->endpoint[n] = 0;
        }
    }
    zmq_msg_close(&m);
    if (rc == CT_OK && ev->event == 0) rc = CT_ERR_MALFORMED;
    if (rc != CT_OK) memset(ev, 0, sizeof *ev);
    return rc;
}

void ct_zmon_close(void *sock, void *mon)
{
    if (sock) zmq_socket_monitor(sock, NULL, 0);
    if (mon) zmq_close(mon);
}

const char *ct_zmon_event_name(uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        return "connected";
    case ZMQ_EVENT_CONNECT_DELAYED:
        return "connect_delayed";
    case ZMQ_EVENT_CONNECT_RETRIED:
        return "connect_retried";
    case ZMQ_EVENT_LISTENING:
        return "listening";
    case ZMQ_EVENT_BIND_FAILED:
        return "bind_failed";
    case ZMQ_EVENT_ACCEPTED:
        return "accepted";
    case ZMQ_EVENT_ACCEPT_FAILED:
        return "accept_failed";
    case ZMQ_EVENT_CLOSED:
        return "closed";
    case ZMQ_EVENT_CLOSE_FAILED:
        return "close_failed";
    case ZMQ_EVENT_DISCONNECTED:
        return "disconnected";
    case ZMQ_EVENT_MONITOR_STOPPED:
        return "monitor_stopped";
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return "handshake_failed_no_detail";
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return "handshake_succeeded";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return "handshake_failed_protocol";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return "handshake_failed_auth";
    default:
        return "unknown";
    }
}
