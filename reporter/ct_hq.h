/* ct_hq.h — what the reporter shows of the aggregator's status ("sta",
 * PROTOCOL.md §3.6): the offices panel and the replication panel, as one
 * JSON document (the page's "hq" event, /hq.json, the "hq" member of
 * /status.json) and as Prometheus series for /metrics.
 *
 * An office is silent when the aggregator has not heard from it for
 * silent_after_ms (--silent-after), measured on the aggregator's clock: its
 * status time plus the time since the status arrived here. Every district
 * of the campaign is listed; one whose offices never reported since the
 * aggregator started says "reported": false.
 *
 * with_times false renders the stable form: without the figures that move
 * with the clock (ages, lags in ms, the seen and clock times), except the
 * silence of a silent office; two stable forms differ only when something
 * a viewer must see changed, so pages are sent it only then.
 */
#ifndef CT_HQ_H
#define CT_HQ_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_view.h"

/* The view's side of "stq" -> "sta" (ct_view.c calls these): asks when
 * due (synced, no snapshot pending, every status_ms; every 30 s while the
 * aggregator answers bad_message_kind), and takes a reply off the DEALER: a
 * "sta" replaces v->hq, an "err" is the refusal of our "stq". */
void ct_hq_ask(ct_view *v, int64_t mono_now);
void ct_hq_on_reply(ct_view *v, const uint8_t *buf, size_t len, ct_msg_kind kind);

ct_err ct_hq_json(const ct_view *v, const ct_campaign *c, int64_t silent_after_ms, int64_t mono_now,
                  bool with_times, ct_buf *out);
/* chitieu_hq_* (replication) and chitieu_office_* series, base units. */
ct_err ct_hq_metrics(const ct_view *v, const ct_campaign *c, int64_t silent_after_ms,
                     int64_t mono_now, ct_buf *out);
bool ct_hq_office_silent(const ct_view *v, const ct_wire_office *o, int64_t silent_after_ms,
                         int64_t mono_now);

#endif
