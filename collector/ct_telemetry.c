/* ct_telemetry.c — filling an office's "tel" from its outbox (see
 * ct_telemetry.h). Reads only; never changes the outbox. */
#include "ct_telemetry.h"

#include <stdio.h>
#include <string.h>

#include "ct_event.h"

static ct_err first_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    (void)seq;
    ct_event e;
    bool id_known;
    if (ct_event_decode(ev, len, &e, &id_known) == CT_OK && e.occurred_ms > 0)
        *(int64_t *)ctx = e.occurred_ms;
    return CT_OK;
}

ct_err ct_telemetry_fill(ct_outbox *ob, uint64_t token, int64_t clock_ms, ct_wire_telemetry *t)
{
    memset(t, 0, sizeof *t);
    ct_outbox_info in;
    ct_err e = ct_outbox_get_info(ob, &in);
    if (e) return e;
    if (!in.initialised || in.district == 0 || in.district > 0xffff) return CT_ERR_CONFIG;
    t->token = token;
    t->district = in.district;
    memcpy(t->origin, in.origin, CT_ORIGIN_LEN);
    t->clock_ms = clock_ms > 0 ? clock_ms : 0;
    t->waiting = in.queued;
    t->unsafe = in.committed <= in.queued ? in.committed : in.queued;
    t->rejected = in.rejected_entries;
    snprintf(t->version, sizeof t->version, "%s", CT_VERSION);
    if (t->waiting > 0 && (e = ct_outbox_scan(ob, 1, 1, first_cb, &t->oldest_ms))) return e;
    return CT_OK;
}
