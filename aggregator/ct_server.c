/* ct_server.c — listening sockets, their monitors and the connection bound
 * (see ct_server.h).
 *
 * Invariants: ss->sock and ss->mon are either NULL or owned by ss until
 * ct_server_close(); monitor events are read through base/ct_zmon (one
 * decoder of the monitor format for every process).
 */
#include "ct_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_zmon.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* draft API macro in libzmq 4.3; the option exists */
#endif

static ct_err zfail(const ct_server_opts *o, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s socket: %s", o->what, zmq_strerror(errno));
    return CT_ERR_IO;
}

ct_err ct_server_open(void *zctx, const ct_server_opts *o, ct_server_sock *ss, char *err,
                      size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    ss->what = o->what;
    ss->sock = zmq_socket(zctx, o->type);
    if (!ss->sock) return zfail(o, err, errlen);
    int64_t maxmsg = CT_SERVER_MAX_MSG;
    int one = 1, linger = 0, hs = o->handshake_ivl_ms;
    if (zmq_setsockopt(ss->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(ss->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(ss->sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs) ||
        zmq_setsockopt(ss->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one))
        return zfail(o, err, errlen);
    if (o->type == ZMQ_ROUTER && zmq_setsockopt(ss->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one))
        return zfail(o, err, errlen);
    if (o->type == ZMQ_PUB && zmq_setsockopt(ss->sock, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm))
        return zfail(o, err, errlen);
    if (o->kp) {
        if (zmq_setsockopt(ss->sock, ZMQ_ZAP_DOMAIN, o->domain, strlen(o->domain)) ||
            zmq_setsockopt(ss->sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) ||
            zmq_setsockopt(ss->sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(ss->sock, ZMQ_CURVE_SECRETKEY, o->kp->secret_z85, CT_Z85_KEY_LEN))
            return zfail(o, err, errlen);
    }
    if (ct_zmon_open(zctx, ss->sock,
                     ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                     &ss->mon) != CT_OK)
        return zfail(o, err, errlen);
    for (size_t i = 0; i < o->n_eps; i++) {
        if (zmq_bind(ss->sock, o->eps[i]) != 0) {
            snprintf(err, errlen, "bind %s %s: %s", o->what, o->eps[i], zmq_strerror(errno));
            return CT_ERR_IO;
        }
    }
    return CT_OK;
}

/* Cuts one connection past the bound. shutdown() (not close()) so the I/O
 * thread that owns the fd sees EOF and cleans up itself. */
static void refuse(const ct_server_sock *ss, ct_server_conns *cs, int fd)
{
    cs->refused++;
    shutdown(fd, SHUT_RDWR);
    if (cs->refused == 1 || cs->refused % 1000 == 0)
        ct_log(CT_LOG_WARN, "security",
               "event=connection_refused socket=%s open=%ld max=%ld refused=%llu", ss->what,
               cs->open, cs->max, (unsigned long long)cs->refused);
}

void ct_server_drain_monitor(ct_server_sock *ss, ct_server_conns *cs)
{
    /* An ACCEPTED event may be read long after the connection ended and its fd
     * number went to a new connection (a busy loop, a flood of short ones).
     * libzmq emits DISCONNECTED before it closes the fd, so the whole queue is
     * read first: a connection to cut whose DISCONNECTED is also in it is
     * gone already, and only the rest are shut down. */
    ss->n_cut = 0;
    ct_zmon_event ev;
    ct_err e;
    while ((e = ct_zmon_read(ss->mon, ZMQ_DONTWAIT, &ev)) != CT_ERR_TIMEOUT) {
        if (e == CT_ERR_MALFORMED) continue;
        if (e) break; /* a socket error: the next poll tries again */
        int fd = (int)ev.value;
        switch (ev.event) {
        case ZMQ_EVENT_ACCEPTED:
            cs->accepted++;
            cs->open++;
            if (cs->open <= cs->max) break;
            if (ss->n_cut == ss->cap_cut) {
                size_t cap = ss->cap_cut ? 2 * ss->cap_cut : 64;
                int *p = realloc(ss->cut, cap * sizeof *p);
                if (!p) {
                    refuse(ss, cs, fd); /* no room to defer: cut it now */
                    break;
                }
                ss->cut = p;
                ss->cap_cut = cap;
            }
            ss->cut[ss->n_cut++] = fd;
            break;
        case ZMQ_EVENT_DISCONNECTED:
            cs->disconnected++;
            if (cs->open > 0) cs->open--;
            for (size_t i = ss->n_cut; i-- > 0;) {
                if (ss->cut[i] != fd) continue;
                ss->cut[i] = ss->cut[--ss->n_cut]; /* ended on its own */
                break;
            }
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            cs->auth_failed++;
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < ss->n_cut; i++)
        refuse(ss, cs, ss->cut[i]);
    ss->n_cut = 0;
}

void ct_server_rebind(ct_server_sock *ss, const char *const *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (zmq_unbind(ss->sock, eps[i]) != 0 || zmq_bind(ss->sock, eps[i]) != 0)
            ct_log(CT_LOG_ERROR, "feed rebind failed", "endpoint=%s err=\"%s\"", eps[i],
                   zmq_strerror(errno));
    }
    ct_log(CT_LOG_WARN, "security", "event=feed_connections_dropped reason=reader_revoked");
}

void ct_server_close(ct_server_sock *ss, int linger)
{
    ct_zmon_close(ss->sock, ss->mon);
    ss->mon = NULL;
    free(ss->cut);
    ss->cut = NULL;
    ss->n_cut = ss->cap_cut = 0;
    if (ss->sock) {
        zmq_setsockopt(ss->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(ss->sock);
        ss->sock = NULL;
    }
}
