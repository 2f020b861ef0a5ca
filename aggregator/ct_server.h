/* ct_server.h — the aggregator's listening sockets: options, CURVE/ZAP
 * settings, binding, the connection bound and the socket monitors.
 *
 * One ct_server_sock per kind of endpoint (ingest ROUTER, feed PUB, snapshot
 * ROUTER), bound to every endpoint of that kind. Each socket has a monitor
 * (a PAIR connected to zmq_socket_monitor) that the owner drains with
 * ct_server_drain_monitor() whenever it is readable: accepted connections
 * past ct_server_conns.max are cut (shutdown of the fd, so the I/O thread
 * that owns it cleans up) once the whole queue is read, unless their
 * DISCONNECTED is in it too (their fd number may already belong to a new
 * connection), and the counters stay exact because the monitor pipe has no
 * high-water mark.
 *
 * Every socket gets ZMQ_MAXMSGSIZE = CT_SERVER_MAX_MSG, above the protocol's
 * frame limit CT_WIRE_MAX_FRAME, so a frame a little over the limit reaches
 * the decoder and is answered frame_too_large (docs/PROTOCOL.md §3.1); a
 * frame over CT_SERVER_MAX_MSG makes ZeroMQ drop the connection.
 *
 * Single owner: the thread that runs the loop. The ZAP handler must already
 * be bound when a CURVE socket is opened (ct_auth_zap_start).
 */
#ifndef CT_SERVER_H
#define CT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_keys.h"
#include "ct_wire.h"

/* Transport cap: the frame limit plus 1 MiB of margin. */
#define CT_SERVER_MAX_MSG ((int64_t)CT_WIRE_MAX_FRAME + (1 << 20))

typedef struct {
    void *sock;
    void *mon; /* PAIR connected to the socket's monitor */
    const char *what;
    int *cut; /* fds to cut once the monitor queue is read (drain only) */
    size_t n_cut, cap_cut;
} ct_server_sock;

typedef struct {
    long open; /* connections accepted and not yet disconnected */
    uint64_t accepted, refused, disconnected, auth_failed;
    long max; /* bound on open connections over all sockets */
} ct_server_conns;

typedef struct {
    int type;             /* ZMQ_ROUTER or ZMQ_PUB */
    const char *what;     /* "ingest", "feed", "snapshot": for logs and errors */
    const ct_keypair *kp; /* NULL = plaintext (--insecure) */
    const char *domain;   /* ZAP domain when kp is set */
    int handshake_ivl_ms;
    int sndhwm; /* ZMQ_PUB only */
    const char *const *eps;
    size_t n_eps;
} ct_server_opts;

/* Creates the socket and its monitor and binds every endpoint. On error err
 * says which socket or endpoint failed and *ss holds whatever was created
 * (ct_server_close releases it). */
ct_err ct_server_open(void *zctx, const ct_server_opts *o, ct_server_sock *ss, char *err,
                      size_t errlen);
/* Handles every waiting monitor event (never blocks). */
void ct_server_drain_monitor(ct_server_sock *ss, ct_server_conns *cs);
/* Unbinds and binds every endpoint again: every connection is dropped and
 * must pass ZAP again. Logs each failure. */
void ct_server_rebind(ct_server_sock *ss, const char *const *eps, size_t n);
/* Closes the socket (with linger ms) and its monitor; safe on a zeroed or
 * half-opened ct_server_sock. */
void ct_server_close(ct_server_sock *ss, int linger);

#endif
