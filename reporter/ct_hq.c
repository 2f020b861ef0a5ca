/* ct_hq.c — the aggregator's status for the reporter (see ct_hq.h): asking
 * for it on the view's snapshot DEALER, and the offices and replication
 * document and series made from it.
 *
 * Invariants: a "stq" is sent only while the view is synced (no snapshot
 * request pending on that DEALER), so the next "err" on it answers the
 * "stq"; the renderings are pure functions of the view's last "sta" and the
 * campaign at the given monotonic time; every district of the campaign appears once in
 * "offices" (reported or not), each reporting office once; the stable form
 * (with_times false) leaves out exactly the fields that move with the clock.
 */
#include "ct_hq.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "ct_hq_group.h"
#include "ct_log.h"
#include "ct_text.h"
#include "ct_time.h"

/* ---- asking (the view's snapshot DEALER) ---- */

#define HQ_FOLLOW_MS 300 /* after the log moved, ask again this soon */

/* A "sta", or the "err" answering our "stq" (replies come in order, and a
 * "stq" is sent only while no snapshot request is pending). */
void ct_hq_on_reply(ct_view *v, const uint8_t *buf, size_t len, ct_msg_kind kind)
{
    v->hq_pending = false;
    if (kind == CT_MSG_ERROR) {
        bool ht;
        uint64_t tok;
        uint16_t code = CT_ERR_INTERNAL;
        ct_wire_error_decode(buf, len, &ht, &tok, &code);
        if (code == CT_ERR_UNKNOWN_KEY && v->hq_older < 2) {
            /* an aggregator that predates "ap" (then "gr"): ask without it
             * for the rest of the run */
            ct_log(CT_LOG_INFO,
                   v->hq_older ? "the aggregator does not know the group status (older "
                                 "version): asking without it"
                               : "the aggregator does not know the followers' apply lag "
                                 "(older version): asking without it",
                   "err=%s", ct_err_name(code));
            v->hq_older++;
            v->hq_sent_mono = 0;
            return;
        }
        if (code != v->hq_refused)
            ct_log(code == CT_ERR_BAD_KIND ? CT_LOG_INFO : CT_LOG_WARN,
                   code == CT_ERR_BAD_KIND
                       ? "the aggregator publishes no status (older version): no office or "
                         "replication panel"
                       : "status request refused by the aggregator",
                   "err=%s", ct_err_name(code));
        v->hq_refused = code ? code : (uint16_t)CT_ERR_INTERNAL;
        return;
    }
    ct_wire_status st;
    ct_err e = ct_wire_status_decode(buf, len, &st);
    if (e) {
        ct_log(CT_LOG_WARN, "bad status reply ignored", "err=%s len=%zu", ct_err_name((int)e), len);
        return;
    }
    ct_wire_status_free(&v->hq);
    v->hq = st;
    v->has_hq = true;
    v->hq_refused = 0;
    v->hq_mono = ct_monotonic_ms();
    v->n_hq++;
}

/* Asks for the aggregator's status when due (see ct_view.h). */
void ct_hq_ask(ct_view *v, int64_t now)
{
    int64_t period = v->hq_refused == CT_ERR_BAD_KIND ? 30000 : v->cfg.status_ms;
    /* the log moved: ask soon, so committed and safe follow the report */
    if (v->seq != v->hq_seq && v->hq_refused != CT_ERR_BAD_KIND && period > HQ_FOLLOW_MS)
        period = HQ_FOLLOW_MS;
    if (v->cfg.status_ms < 0 || !v->synced || !v->dealer) return;
    if (v->hq_pending && now - v->hq_sent_mono < v->cfg.snapshot_timeout_ms) return;
    if (!v->hq_pending && v->hq_sent_mono && now - v->hq_sent_mono < period) return;
    ct_buf b = CT_BUF_INIT;
    if (ct_wire_statusreq_encode(v->hq_older < 2, v->hq_older < 1, &b) == CT_OK &&
        zmq_send(v->dealer, b.data, b.len, ZMQ_DONTWAIT) >= 0) {
        v->hq_pending = true;
        v->hq_sent_mono = now;
        v->hq_seq = v->seq;
    }
    ct_buf_free(&b);
}

/* ---- rendering ---- */

/* ms since the office was last heard from, on the aggregator's clock as of
 * now (its status time plus the time since that status arrived). */
static int64_t silence_ms(const ct_view *v, const ct_wire_office *o, int64_t mono_now)
{
    int64_t s = v->hq.time_ms - o->seen_ms + (mono_now - v->hq_mono);
    return s > 0 ? s : 0;
}

bool ct_hq_office_silent(const ct_view *v, const ct_wire_office *o, int64_t silent_after_ms,
                         int64_t mono_now)
{
    return silence_ms(v, o, mono_now) >= silent_after_ms;
}

static ct_err office_json(ct_buf *b, const ct_view *v, const ct_campaign *c,
                          const ct_wire_office *o, int64_t silent_after_ms, int64_t mono_now,
                          bool with_times)
{
    const ct_district *d = ct_campaign_district(c, o->tel.district);
    char ohex[2 * CT_ORIGIN_LEN + 1];
    ct_text_hex(o->tel.origin, CT_ORIGIN_LEN, ohex);
    int64_t sil = silence_ms(v, o, mono_now);
    ct_err e = ct_buf_printf(b, "{\"district\":%u,\"name\":", o->tel.district);
    if (!e) e = ct_text_json_str(b, d ? d->name : "");
    if (!e)
        e = ct_buf_printf(b,
                          ",\"office\":\"%s\",\"reported\":true,\"silent\":%s,\"waiting\":%llu,"
                          "\"unsafe\":%llu,\"rejected\":%llu,\"oldest_ms\":%lld,\"version\":",
                          ohex, sil >= silent_after_ms ? "true" : "false",
                          (unsigned long long)o->tel.waiting, (unsigned long long)o->tel.unsafe,
                          (unsigned long long)o->tel.rejected, (long long)o->tel.oldest_ms);
    if (!e) e = ct_text_json_str(b, o->tel.version);
    /* silent: the silence at the flip is part of the stable form (it is
     * extrapolated by the page from then on) */
    if (!e && (with_times || sil >= silent_after_ms))
        e = ct_buf_printf(b, ",\"silence_ms\":%lld", (long long)sil);
    if (!e && with_times)
        e = ct_buf_printf(b, ",\"seen_ms\":%lld,\"clock_ms\":%lld,\"skew_ms\":%lld",
                          (long long)o->seen_ms, (long long)o->tel.clock_ms,
                          (long long)(o->seen_ms - o->tel.clock_ms));
    if (!e) e = ct_buf_printf(b, "}");
    return e;
}

static ct_err offices_json(ct_buf *b, const ct_view *v, const ct_campaign *c,
                           int64_t silent_after_ms, int64_t mono_now, bool with_times)
{
    ct_err e = ct_buf_printf(b, "\"offices\":[");
    bool first = true;
    for (size_t i = 0; !e && i < c->n_districts; i++) {
        const ct_district *d = &c->districts[i];
        bool any = false;
        for (size_t j = 0; !e && v->has_hq && j < v->hq.n_offices; j++) {
            if (v->hq.offices[j].tel.district != d->code) continue;
            any = true;
            if (!first) e = ct_buf_printf(b, ",");
            first = false;
            if (!e)
                e = office_json(b, v, c, &v->hq.offices[j], silent_after_ms, mono_now, with_times);
        }
        if (any || e) continue;
        if (!first) e = ct_buf_printf(b, ",");
        first = false;
        if (!e) e = ct_buf_printf(b, "{\"district\":%u,\"name\":", d->code);
        if (!e) e = ct_text_json_str(b, d->name);
        if (!e) e = ct_buf_printf(b, ",\"reported\":false}");
    }
    if (!e) e = ct_buf_printf(b, "]");
    return e;
}

ct_err ct_hq_json(const ct_view *v, const ct_campaign *c, int64_t silent_after_ms, int64_t mono_now,
                  bool with_times, ct_buf *b)
{
    const ct_wire_status *h = &v->hq;
    ct_err e =
        ct_buf_printf(b, "{\"available\":%s,\"refused\":\"%s\",\"silent_after_ms\":%lld",
                      v->has_hq ? "true" : "false", v->hq_refused ? ct_err_name(v->hq_refused) : "",
                      (long long)silent_after_ms);
    if (!e && v->has_hq && with_times)
        e = ct_buf_printf(b, ",\"age_ms\":%lld,\"time_ms\":%lld",
                          (long long)(mono_now - v->hq_mono), (long long)h->time_ms);
    /* without replication committed = safe = the report's seq: the stable
     * form leaves them out (the report's own push carries the seq) */
    bool repl = h->follower || h->sync_k > 0 || h->n_followers > 0;
    if (!e && v->has_hq) {
        e = ct_buf_printf(b, ",\"role\":\"%s\",\"epoch\":%llu,\"replication\":%s",
                          h->follower ? "follower" : "primary", (unsigned long long)h->epoch,
                          repl ? "true" : "false");
        if (!e && (repl || with_times))
            e = ct_buf_printf(b, ",\"committed\":%llu,\"safe\":%llu,\"unsafe_records\":%llu",
                              (unsigned long long)h->committed, (unsigned long long)h->safe,
                              (unsigned long long)(h->committed - h->safe));
        if (!e)
            e = ct_buf_printf(b, ",\"sync_followers\":%llu,\"alert\":%s",
                              (unsigned long long)h->sync_k, h->alert ? "true" : "false");
        if (!e && with_times)
            e = ct_buf_printf(b, ",\"safe_stalled_ms\":%lld", (long long)h->stalled_ms);
        if (!e) e = ct_buf_printf(b, ",\"followers\":[");
        for (size_t i = 0; !e && i < h->n_followers; i++) {
            const ct_wire_follower *f = &h->followers[i];
            e = ct_buf_printf(b, "%s{\"id\":", i ? "," : "");
            if (!e) e = ct_text_json_str(b, f->id);
            if (!e)
                e = ct_buf_printf(b, ",\"acked\":%llu,\"lag_records\":%llu",
                                  (unsigned long long)f->acked, (unsigned long long)f->lag_records);
            if (!e && with_times)
                e = ct_buf_printf(b, ",\"lag_ms\":%lld,\"silent_ms\":%lld", (long long)f->lag_ms,
                                  (long long)f->silent_ms);
            if (!e && h->has_apply)
                e = ct_buf_printf(b, ",\"applied\":%llu,\"apply_lag_records\":%llu",
                                  (unsigned long long)f->applied,
                                  (unsigned long long)f->apply_lag_records);
            if (!e && h->has_apply && with_times)
                e = ct_buf_printf(b, ",\"apply_lag_ms\":%lld", (long long)f->apply_lag_ms);
            if (!e) e = ct_buf_printf(b, "}");
        }
        if (!e) e = ct_buf_printf(b, "],");
        if (!e) e = ct_hq_group_json(&h->group, with_times, b);
    }
    if (!e) e = ct_buf_printf(b, ",");
    if (!e) e = offices_json(b, v, c, silent_after_ms, mono_now, with_times);
    if (!e) e = ct_buf_printf(b, "}");
    return e;
}

ct_err ct_hq_metrics(const ct_view *v, const ct_campaign *c, int64_t silent_after_ms,
                     int64_t mono_now, ct_buf *b)
{
    const ct_wire_status *h = &v->hq;
    ct_err e =
        ct_buf_printf(b,
                      "# HELP chitieu_hq_status_available 1 when the aggregator's status (offices, "
                      "replication) has been received\n# TYPE chitieu_hq_status_available gauge\n"
                      "chitieu_hq_status_available %d\n",
                      v->has_hq ? 1 : 0);
    if (e || !v->has_hq) return e;
    e = ct_buf_printf(
        b,
        "# HELP chitieu_hq_status_age_seconds Seconds since the aggregator's status arrived\n"
        "# TYPE chitieu_hq_status_age_seconds gauge\nchitieu_hq_status_age_seconds %.3f\n"
        "# HELP chitieu_hq_primary 1 when the aggregator followed is a primary, 0 a follower\n"
        "# TYPE chitieu_hq_primary gauge\nchitieu_hq_primary %d\n"
        "# HELP chitieu_hq_epoch Replication epoch of the aggregator\n"
        "# TYPE chitieu_hq_epoch gauge\nchitieu_hq_epoch %llu\n"
        "# HELP chitieu_hq_committed_seq Log seq fsynced on the aggregator's disk\n"
        "# TYPE chitieu_hq_committed_seq gauge\nchitieu_hq_committed_seq %llu\n"
        "# HELP chitieu_hq_safe_seq Log seq fsynced on the aggregator and the followers it "
        "waits for\n# TYPE chitieu_hq_safe_seq gauge\nchitieu_hq_safe_seq %llu\n"
        "# HELP chitieu_hq_safe_stalled 1 while safe has not advanced for the alert time with "
        "committed ahead\n# TYPE chitieu_hq_safe_stalled gauge\nchitieu_hq_safe_stalled %d\n"
        "# HELP chitieu_hq_safe_stalled_seconds Seconds safe has not advanced while committed "
        "was ahead\n# TYPE chitieu_hq_safe_stalled_seconds gauge\n"
        "chitieu_hq_safe_stalled_seconds %.3f\n",
        (double)(mono_now - v->hq_mono) / 1000.0, h->follower ? 0 : 1, (unsigned long long)h->epoch,
        (unsigned long long)h->committed, (unsigned long long)h->safe, h->alert ? 1 : 0,
        (double)h->stalled_ms / 1000.0);
    static const char *const fam[4][2] = {
        {"chitieu_hq_follower_lag_records", "Records committed on the primary not yet confirmed "
                                            "durable by the follower"},
        {"chitieu_hq_follower_lag_seconds", "Age of the oldest record the follower lacks"},
        {"chitieu_hq_follower_apply_lag_records",
         "Records the follower holds durable but has not counted yet"},
        {"chitieu_hq_follower_apply_lag_seconds",
         "Age (on the primary) of the oldest record the follower has not counted yet"}};
    for (int k = 0; !e && k < (h->has_apply ? 4 : 2); k++) {
        e = ct_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", fam[k][0], fam[k][1], fam[k][0]);
        for (size_t i = 0; !e && i < h->n_followers; i++) {
            e = ct_buf_printf(b, "%s{follower=\"", fam[k][0]);
            if (!e) e = ct_text_prom_label(b, h->followers[i].id);
            if (!e && k == 0)
                e = ct_buf_printf(b, "\"} %llu\n", (unsigned long long)h->followers[i].lag_records);
            if (!e && k == 1)
                e = ct_buf_printf(b, "\"} %.3f\n", (double)h->followers[i].lag_ms / 1000.0);
            if (!e && k == 2)
                e = ct_buf_printf(b, "\"} %llu\n",
                                  (unsigned long long)h->followers[i].apply_lag_records);
            if (!e && k == 3)
                e = ct_buf_printf(b, "\"} %.3f\n", (double)h->followers[i].apply_lag_ms / 1000.0);
        }
    }
    if (!e) e = ct_hq_group_metrics(&h->group, b);
    static const char *const ofam[][2] = {
        {"chitieu_office_last_seen_seconds",
         "When the office last reported (Unix time, aggregator clock)"},
        {"chitieu_office_silence_seconds", "Seconds since the office last reported"},
        {"chitieu_office_silent", "1 when the office has been silent longer than --silent-after"},
        {"chitieu_office_outbox_events", "Events waiting in the office's outbox"},
        {"chitieu_office_unsafe_events", "Events of the outbox committed at HQ, not yet safe"},
        {"chitieu_office_rejected_events", "Events the office keeps aside as rejected"},
        {"chitieu_office_oldest_waiting_seconds",
         "Occurred-at of the oldest waiting event (Unix time; 0: none waiting)"},
        {"chitieu_office_clock_skew_seconds",
         "Aggregator clock minus the office's clock when it last reported"},
    };
    for (size_t k = 0; !e && k < sizeof ofam / sizeof ofam[0]; k++) {
        e = ct_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", ofam[k][0], ofam[k][1], ofam[k][0]);
        for (size_t i = 0; !e && i < h->n_offices; i++) {
            const ct_wire_office *o = &h->offices[i];
            char ohex[2 * CT_ORIGIN_LEN + 1];
            ct_text_hex(o->tel.origin, CT_ORIGIN_LEN, ohex);
            int64_t sil = silence_ms(v, o, mono_now);
            double val = 0;
            switch (k) {
            case 0:
                val = (double)o->seen_ms / 1000.0;
                break;
            case 1:
                val = (double)sil / 1000.0;
                break;
            case 2:
                val = sil >= silent_after_ms ? 1 : 0;
                break;
            case 3:
                val = (double)o->tel.waiting;
                break;
            case 4:
                val = (double)o->tel.unsafe;
                break;
            case 5:
                val = (double)o->tel.rejected;
                break;
            case 6:
                val = (double)o->tel.oldest_ms / 1000.0;
                break;
            default:
                val = (double)(o->seen_ms - o->tel.clock_ms) / 1000.0;
                break;
            }
            e = ct_buf_printf(b, "%s{district=\"%u\",office=\"%s\"} %.3f\n", ofam[k][0],
                              o->tel.district, ohex, val);
        }
    }
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_office_never_reported 1 for a district no office of "
                             "which has reported since the aggregator started\n"
                             "# TYPE chitieu_office_never_reported gauge\n");
    for (size_t i = 0; !e && i < c->n_districts; i++) {
        bool any = false;
        for (size_t j = 0; j < h->n_offices && !any; j++)
            any = h->offices[j].tel.district == c->districts[i].code;
        e = ct_buf_printf(b, "chitieu_office_never_reported{district=\"%u\"} %d\n",
                          c->districts[i].code, any ? 0 : 1);
    }
    return e;
}
