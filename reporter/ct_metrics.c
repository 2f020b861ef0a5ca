/* ct_metrics.c — Prometheus text format of the report (see ct_metrics.h).
 * Label values are district codes, program ids and state names: ASCII,
 * nothing to escape. Every family has one HELP and one TYPE line before its
 * samples. */
#include "ct_metrics.h"

#include <stdio.h>
#include <string.h>

#include "ct_link.h"
#include "ct_status_life.h"

typedef enum { F_NET, F_TARGET, F_GROSS, F_CANCELLED, F_REPEATS, F_STAFF_MET, F_EXPECTED } field;

static const struct {
    const char *name, *help;
} fields[] = {
    {"net", "Net participants currently counted (enrolled, not cancelled)"},
    {"target", "Target (quota) of net participants"},
    {"gross", "Counted enrollments ever, before cancellations"},
    {"cancelled", "Cancellations that undid an enrollment"},
    {"repeats", "Enrollments of an already enrolled person (not counted)"},
    {"staff_met", "Staff who met their personal quota for the program"},
    {"expected", "Net expected by now at a steady pace"},
};

static const char *const FEED_STATES[] = {"not_connected", "live", "lagging", "stale"};

static int64_t value_x(const ct_status_prog *p, field k, int *x10)
{
    *x10 = 0;
    switch (k) {
    case F_NET:
        return p->net;
    case F_TARGET:
        return p->target;
    case F_GROSS:
        return p->gross;
    case F_CANCELLED:
        return p->cancelled;
    case F_REPEATS:
        return p->repeats;
    case F_STAFF_MET:
        return p->staff_met;
    case F_EXPECTED:
        *x10 = 1;
        return p->expected_x10;
    }
    return 0;
}

static void num(const ct_status_prog *p, field k, char *buf, size_t len)
{
    int x10;
    int64_t v = value_x(p, k, &x10);
    if (x10)
        ct_status_fmt_x10(v, buf, len);
    else
        snprintf(buf, len, "%lld", (long long)v);
}

/* The campaign's life (ct_status_life.h), when the report has it: voids,
 * corrections and the original target per district and program; lateness
 * per district. */
static ct_err render_life(const ct_status_figures *f, ct_buf *b)
{
    const ct_status_life *l = f->life;
    static const char *const PROG[] = {
        "voided",          "Sign-ups voided (entered wrongly; not cancellations)",
        "corrected",       "Corrections applied",
        "target_original", "The campaign file's target (before revisions)"};
    ct_err e = CT_OK;
    for (int k = 0; !e && k < 3; k++) {
        e = ct_buf_printf(b, "# HELP chitieu_%s %s, per district\n# TYPE chitieu_%s gauge\n",
                          PROG[2 * k], PROG[2 * k + 1], PROG[2 * k]);
        for (size_t i = 0; !e && i < l->n_units; i++)
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
                const ct_life_unit *u = &l->units[i];
                int64_t v = k == 0   ? u->voided[p]
                            : k == 1 ? u->corrected[p]
                                     : u->target_original[p];
                e = ct_buf_printf(b, "chitieu_%s{district=\"%u\",program=\"%s\"} %lld\n",
                                  PROG[2 * k], f->districts[i].code, ct_program_name((ct_program)p),
                                  (long long)v);
            }
    }
    static const char *const LATE[] = {
        "late_max_seconds",   "Largest lateness (received - occurred) of a counted sign-up",
        "received_after_day", "Counted sign-ups received after their day ended",
        "late_after_close",   "Sign-ups counted for a day while it was closed"};
    for (int k = 0; !e && k < 3; k++) {
        e = ct_buf_printf(b, "# HELP chitieu_%s %s, per district\n# TYPE chitieu_%s gauge\n",
                          LATE[2 * k], LATE[2 * k + 1], LATE[2 * k]);
        for (size_t i = 0; !e && i < l->n_units; i++) {
            const ct_life_late *lt = &l->units[i].late;
            int64_t v = k == 0 ? lt->max_s : k == 1 ? lt->after_day : lt->late_closed;
            e = ct_buf_printf(b, "chitieu_%s{district=\"%u\"} %lld\n", LATE[2 * k],
                              f->districts[i].code, (long long)v);
        }
    }
    return e;
}

static ct_err render_figures(const ct_status_figures *f, ct_buf *b)
{
    ct_err e = CT_OK;
    for (int k = 0; !e && k < (int)(sizeof fields / sizeof fields[0]); k++) {
        e = ct_buf_printf(b, "# HELP chitieu_%s %s, per district\n# TYPE chitieu_%s gauge\n",
                          fields[k].name, fields[k].help, fields[k].name);
        for (size_t i = 0; !e && i < f->n_districts; i++)
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
                char v[32];
                num(&f->districts[i].prog[p], (field)k, v, sizeof v);
                e = ct_buf_printf(b, "chitieu_%s{district=\"%u\",program=\"%s\"} %s\n",
                                  fields[k].name, f->districts[i].code,
                                  ct_program_name((ct_program)p), v);
            }
        if (!e)
            e = ct_buf_printf(b,
                              "# HELP chitieu_province_%s %s, whole province\n"
                              "# TYPE chitieu_province_%s gauge\n",
                              fields[k].name, fields[k].help, fields[k].name);
        for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
            char v[32];
            num(&f->province.prog[p], (field)k, v, sizeof v);
            e = ct_buf_printf(b, "chitieu_province_%s{program=\"%s\"} %s\n", fields[k].name,
                              ct_program_name((ct_program)p), v);
        }
    }
    if (!e)
        e = ct_buf_printf(b,
                          "# HELP chitieu_time_left_seconds Time left in the campaign window\n"
                          "# TYPE chitieu_time_left_seconds gauge\n"
                          "chitieu_time_left_seconds %lld.%03lld\n"
                          "# HELP chitieu_staff Staff on the roster\n"
                          "# TYPE chitieu_staff gauge\nchitieu_staff %u\n",
                          (long long)(f->left_ms / 1000), (long long)(f->left_ms % 1000),
                          f->province.staff);
    if (!e && f->life) e = render_life(f, b);
    return e;
}

ct_err ct_metrics_render(const ct_status_figures *f, const ct_metrics_input *in, ct_buf *b)
{
    ct_err e = f ? render_figures(f, b) : CT_OK;
    if (!e && f)
        e = ct_buf_printf(b,
                          "# HELP chitieu_log_seq Log sequence number the figures reflect\n"
                          "# TYPE chitieu_log_seq gauge\nchitieu_log_seq %llu\n",
                          (unsigned long long)in->seq);
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_feed_state Feed state (1 for the current one; "
                             "not_connected: no snapshot yet)\n"
                             "# TYPE chitieu_feed_state gauge\n");
    for (size_t i = 0; !e && i < sizeof FEED_STATES / sizeof FEED_STATES[0]; i++)
        e = ct_buf_printf(b, "chitieu_feed_state{state=\"%s\"} %d\n", FEED_STATES[i],
                          in->feed && strcmp(in->feed, FEED_STATES[i]) == 0);
    if (!e)
        e = ct_buf_printf(b, "# HELP chitieu_feed_link Link to the aggregator's feed, from the "
                             "socket monitor (1 for the current state)\n"
                             "# TYPE chitieu_feed_link gauge\n");
    for (int i = 0; !e && i < CT_LINK_STATES; i++) {
        const char *n = ct_link_state_name((ct_link_state)i);
        e = ct_buf_printf(b, "chitieu_feed_link{state=\"%s\"} %d\n", n,
                          in->link && strcmp(in->link, n) == 0);
    }
    if (!e)
        e = ct_buf_printf(
            b,
            "# HELP chitieu_feed_lag_seconds Receive time minus commit time of the last "
            "applied change\n# TYPE chitieu_feed_lag_seconds gauge\n"
            "chitieu_feed_lag_seconds %.3f\n",
            (double)in->lag_ms / 1000.0);
    if (!e)
        e = ct_buf_printf(b,
                          "# HELP chitieu_updates_total Feed updates applied\n"
                          "# TYPE chitieu_updates_total counter\nchitieu_updates_total %llu\n"
                          "# HELP chitieu_snapshots_total Snapshots applied\n"
                          "# TYPE chitieu_snapshots_total counter\nchitieu_snapshots_total %llu\n"
                          "# HELP chitieu_gaps_total Gaps or restarts detected (each resolved by a "
                          "snapshot)\n# TYPE chitieu_gaps_total counter\nchitieu_gaps_total %llu\n"
                          "# HELP chitieu_handshake_failures_total Failed handshakes with the "
                          "aggregator's feed\n# TYPE chitieu_handshake_failures_total counter\n"
                          "chitieu_handshake_failures_total %llu\n",
                          (unsigned long long)in->updates, (unsigned long long)in->snapshots,
                          (unsigned long long)in->gaps, (unsigned long long)in->handshake_failures);
    return e;
}

ct_err ct_metrics_render_ages(const ct_metrics_input *in, int64_t mono_now, ct_buf *b)
{
    double rx = in->last_rx_mono ? (double)(mono_now - in->last_rx_mono) / 1000.0 : -1.0;
    double ap = in->last_apply_mono ? (double)(mono_now - in->last_apply_mono) / 1000.0 : -1.0;
    return ct_buf_printf(
        b,
        "# HELP chitieu_last_message_age_seconds Seconds since the last feed message "
        "(update, heartbeat or snapshot; -1: none yet)\n"
        "# TYPE chitieu_last_message_age_seconds gauge\n"
        "chitieu_last_message_age_seconds %.3f\n"
        "# HELP chitieu_last_update_age_seconds Seconds since the last applied change "
        "(-1: none yet)\n"
        "# TYPE chitieu_last_update_age_seconds gauge\n"
        "chitieu_last_update_age_seconds %.3f\n",
        rx, ap);
}
