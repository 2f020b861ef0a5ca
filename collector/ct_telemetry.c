/* ct_telemetry.c — an office's "tel": filled from its outbox, sent when due,
 * its answer handled (see ct_telemetry.h). Reads only; never changes the
 * outbox. */
#include "ct_telemetry.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "ct_event.h"
#include "ct_life.h"
#include "ct_log.h"
#include "ct_time.h"

static ct_err first_cb(void *ctx, uint64_t seq, const uint8_t *ev, size_t len)
{
    (void)seq;
    ct_entry e;
    bool id_known;
    if (ct_entry_decode(ev, len, &e, &id_known) != CT_OK) return CT_OK;
    /* an event's occurred-at, a life entry's issued-at */
    int64_t t = e.type == CT_ENTRY_LIFE ? e.u.life.issued_ms : e.u.ev.occurred_ms;
    if (t > 0) *(int64_t *)ctx = t;
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

void ct_telemetry_send(ct_telemetry *t, ct_outbox *ob, void *sock, int interval_s, int64_t now,
                       uint64_t *next_token, ct_buf *out)
{
    if (interval_s <= 0 || t->off || !t->at || now < t->at) return;
    t->at = now + (int64_t)interval_s * 1000;
    ct_wire_telemetry m;
    uint64_t token = ++*next_token;
    if (ct_telemetry_fill(ob, token, ct_now_ms(), &m) != CT_OK) return;
    ct_buf_reset(out);
    if (ct_wire_telemetry_encode(&m, out) != CT_OK) return;
    if (zmq_send(sock, out->data, out->len, ZMQ_DONTWAIT) >= 0) t->token = token;
}

bool ct_telemetry_answer(ct_telemetry *t, uint64_t token, uint16_t code, const char *server,
                         uint64_t *recorded)
{
    if (!t->token || token != t->token || code == CT_ERR_NOT_PRIMARY || code == CT_ERR_STALE_EPOCH)
        return false;
    if (code == CT_OK) {
        (*recorded)++;
        t->refused = 0;
    } else if (code == CT_ERR_BAD_KIND) {
        t->off = true;
        ct_log(CT_LOG_INFO,
               "the aggregator does not take office telemetry (older version); not sending it "
               "in this run",
               "server=%s", server);
    } else {
        if (code != t->refused)
            ct_log(CT_LOG_WARN, "the aggregator refused this office's telemetry",
                   "server=%s reason=%s detail=\"%s\"", server, ct_err_name(code),
                   ct_err_str(code));
        t->refused = code;
    }
    return true;
}
