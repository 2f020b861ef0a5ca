/* ct_offices.h — the latest telemetry of each district office (PROTOCOL.md
 * §3.6), kept by the aggregator in memory and published in "sta".
 *
 * Telemetry is not a sign-up: nothing here touches the store, the log or the
 * counts. An office is one collector outbox, known by (district, origin);
 * the newest message of an office replaces its entry. The table is bounded:
 * at most CT_OFFICES_PER_DISTRICT offices per district (a new origin beyond
 * that replaces the one of that district heard from longest ago) and
 * CT_STATUS_MAX_OFFICES in all (then CT_ERR_TOO_MANY, nothing changes).
 * After a restart the table is empty until each office reports again (every
 * --telemetry-interval seconds and on every connection).
 *
 * Single owner: the aggregator's loop thread.
 */
#ifndef CT_OFFICES_H
#define CT_OFFICES_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>
#include <zmq.h>

#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_wire.h"

#define CT_OFFICES_PER_DISTRICT 8

typedef struct ct_offices ct_offices;

ct_err ct_offices_create(ct_offices **out);
void ct_offices_free(ct_offices *t);

/* Records one office's telemetry as received at seen_ms (aggregator clock).
 * CT_ERR_TOO_MANY when the table is full (nothing changes). */
ct_err ct_offices_record(ct_offices *t, const ct_wire_telemetry *tel, int64_t seen_ms);

/* One "tel" message as received on the ingest socket (body: its last
 * frame, carrying the ZAP User-Id): decoded, checked (the district is one of
 * the campaign's: else unknown_district; auth non-NULL: a collector key
 * reports only for its own district, an admin for any, anyone else for none:
 * forbidden, logged as a security event) and recorded at the aggregator's
 * clock. Returns the answer's code (CT_OK: recorded); *token and *has_token
 * say what the answer carries (the token is read from a refused message when
 * possible). Nothing changes unless it returns CT_OK. */
ct_err ct_offices_take(ct_offices *t, const ct_campaign *c, ct_auth *auth, zmq_msg_t *body,
                       bool *has_token, uint64_t *token);

/* The entries, sorted by (district, origin); valid until the next record. */
const ct_wire_office *ct_offices_list(const ct_offices *t, size_t *n);

#endif
