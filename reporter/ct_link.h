/* ct_link.h — the state of the reporter's link to the aggregator, as
 * ZeroMQ's socket monitor tells it (base/ct_zmon): connecting, connection
 * refused or unreachable (a connect attempt failed and is being retried),
 * handshake failed (wrong --server-key, a key the aggregator does not
 * authorize, or --insecure on one side only), up (a handshake succeeded), or
 * disconnected after being up.
 *
 * Invariants: state only moves on a monitor event; `since_mono` is when it
 * last changed; the monitor socket is owned here and closed by
 * ct_link_close() before the watched socket is closed. Single-threaded (the
 * view's owner polls it).
 */
#ifndef CT_LINK_H
#define CT_LINK_H

#include <stdint.h>

#include "ct_error.h"

typedef enum {
    CT_LINK_CONNECTING = 0,   /* no attempt has finished yet */
    CT_LINK_CONNECT_FAILED,   /* connect refused / unreachable, retrying */
    CT_LINK_HANDSHAKE_FAILED, /* connected, the handshake failed */
    CT_LINK_UP,               /* handshake succeeded, connection open */
    CT_LINK_DISCONNECTED      /* was up, connection lost, retrying */
} ct_link_state;

#define CT_LINK_STATES 5

typedef struct {
    void *mon;
    ct_link_state state;
    uint16_t fail_event; /* the ZMQ_EVENT_HANDSHAKE_FAILED_* seen last */
    uint32_t fail_value; /* its value (protocol error code or errno) */
    int64_t since_mono;  /* when state last changed */
    uint64_t n_handshake_failures;
} ct_link;

/* Starts watching sock (before it connects). */
ct_err ct_link_open(ct_link *l, void *zctx, void *sock);
/* Reads every waiting monitor event; never blocks. */
void ct_link_poll(ct_link *l);
void ct_link_close(ct_link *l, void *sock);
/* "connecting", "connect_failed", "handshake_failed", "up", "disconnected". */
const char *ct_link_state_name(ct_link_state s);
/* One sentence for a person: what is wrong and what to check ("" when up). */
const char *ct_link_hint(const ct_link *l);

#endif
