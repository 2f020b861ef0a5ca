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

#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_outbox.h"
#include "ct_wire.h"

/* Fills t from the outbox (token and clock_ms given by the caller). */
ct_err ct_telemetry_fill(ct_outbox *ob, uint64_t token, int64_t clock_ms, ct_wire_telemetry *t);

#endif
