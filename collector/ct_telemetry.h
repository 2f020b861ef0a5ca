/* ct_telemetry.h — the office's telemetry message ("tel", PROTOCOL.md
 * §3.6): what the outbox holds now, made for the deliverer to send on its
 * DEALER every telemetry interval and on every new connection.
 *
 * Telemetry is not a sign-up: the aggregator keeps the latest per office
 * (district, origin) outside the log and answers "err" with code 0 when it
 * recorded it. Reading the outbox is one info read and one scan of its first
 * waiting event (its occurred-at is the "oldest waiting" figure).
 */
#ifndef CT_TELEMETRY_H
#define CT_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_outbox.h"
#include "ct_wire.h"

/* Fills t from the outbox (token and clock_ms given by the caller). */
ct_err ct_telemetry_fill(ct_outbox *ob, uint64_t token, int64_t clock_ms, ct_wire_telemetry *t);

/* A deliverer's telemetry state (zeroed at start). */
typedef struct {
    int64_t at;       /* the next one is due (monotonic ms; 0 = not before a connection) */
    uint64_t token;   /* of the last one sent (0 = none) */
    bool off;         /* the aggregator does not take it (bad_message_kind): not sent again */
    uint16_t refused; /* the code of the last refusal logged, 0 = none */
} ct_telemetry;

/* Sends one "tel" on sock when due (interval_s > 0, not off, now >= at),
 * without blocking; the next is due interval_s later. The token is the
 * deliverer's next token (so it never equals a submit's). out is scratch. */
void ct_telemetry_send(ct_telemetry *t, ct_outbox *ob, void *sock, int interval_s, int64_t now,
                       uint64_t *next_token, ct_buf *out);

/* An "err" with this token and code: true when it answers our telemetry
 * (not_primary and stale_epoch are left to the deliverer, which moves on);
 * counts a recorded one in *recorded, logs a refusal once per reason, and
 * turns telemetry off for an aggregator that predates it. */
bool ct_telemetry_answer(ct_telemetry *t, uint64_t token, uint16_t code, const char *server,
                         uint64_t *recorded);

#endif
