/* ct_zmon.h — reading ZeroMQ socket-monitor events.
 *
 * zmq_socket_monitor() publishes each event as a two-frame message on an
 * inproc PAIR endpoint: frame 1 is 6 bytes (event code u16, value u32, both
 * in host byte order), frame 2 the endpoint the event is about. This is the
 * one place that decodes it; every process that watches its sockets
 * (deliverer, status probe, aggregator connection bound) reads events here.
 *
 *   void *mon;
 *   if (ct_zmon_open(zctx, sock, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED, &mon) != CT_OK) ...
 *   ct_zmon_event ev;
 *   while (ct_zmon_read(mon, ZMQ_DONTWAIT, &ev) == CT_OK) ... ev.event, ev.value, ev.endpoint
 *   ct_zmon_close(sock, mon);
 *
 * Invariants: a read consumes a whole event message (every frame), also a
 * malformed one, so the next read starts at the next event; the monitor PAIR
 * socket has no receive high-water mark (a burst of events is never dropped
 * by the reader side) and linger 0; the caller owns the returned PAIR socket
 * and gives it back with ct_zmon_close() before closing the watched socket.
 */
#ifndef CT_ZMON_H
#define CT_ZMON_H

#include <stdint.h>

#include "ct_error.h"

#define CT_ZMON_ENDPOINT_MAX 256

typedef struct {
    uint16_t event;                          /* one ZMQ_EVENT_* bit */
    uint32_t value;                          /* fd, errno or handshake error code, per event */
    char endpoint[CT_ZMON_ENDPOINT_MAX + 1]; /* "" when absent; truncated past the max */
} ct_zmon_event;

/* Starts monitoring sock for the events mask (ZMQ_EVENT_*) on an inproc
 * endpoint unique in this process and connects a PAIR socket to it
 * (*mon). CT_ERR_ZMQ (errno set by ZeroMQ) when either step fails; then
 * nothing is left open and monitoring is off. */
ct_err ct_zmon_open(void *zctx, void *sock, int events, void **mon);

/* Reads one event. flags: 0 (wait) or ZMQ_DONTWAIT. CT_OK with *ev filled;
 * CT_ERR_TIMEOUT when nothing is waiting (ZMQ_DONTWAIT) or the read was
 * interrupted (EINTR); CT_ERR_MALFORMED when the message is not a monitor
 * event (consumed, *ev zeroed); CT_ERR_ZMQ on another socket error. */
ct_err ct_zmon_read(void *mon, int flags, ct_zmon_event *ev);

/* Stops monitoring sock and closes mon (either may be NULL). */
void ct_zmon_close(void *sock, void *mon);

/* "connected", "accepted", "disconnected", "handshake_failed_auth", ...;
 * "unknown" for a code that is not one ZMQ_EVENT_* bit. Never NULL. */
const char *ct_zmon_event_name(uint16_t event);

#endif
