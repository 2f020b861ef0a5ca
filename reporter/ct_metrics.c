/* ct_metrics.c — Prometheus text format of the report (see ct_metrics.h).
 * Label values are district codes ("province" for the whole province) and
 * program ids: ASCII, nothing to escape. */
#include "ct_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum { F_NET, F_TARGET, F_GROSS, F_CANCELLED, F_REPEATS, F_STAFF_MET, F_EXPECTED } field;

static const struct {
    const char *name, *help;
} fields[] = {
    {"chitieu_net", "Net participants currently counted (enrolled, not cancelled)"},
    {"chitieu_target", "Target (quota) of net participants"},
    {"chitieu_gross", "Counted enrollments ever, before cancellations"},
    {"chitieu_cancelled", "Cancellations that undid an enrollment"},
    {"chitieu_repeats", "Enrollments of an already enrolled person (not counted)"},
    {"chitieu_staff_met", "Staff who met their personal quota for the program"},
    {"chitieu_expected", "Net expected by now at a steady pace"},
};

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

ct_err ct_metrics_render(const ct_campaign *c, const ct_status_figures *f,
                         const ct_metrics_input *in, ct_buf *b)
{
    ct_err e = CT_OK;
    for (int k = 0; !e && k < (int)(sizeof fields / sizeof fields[0]); k++) {
        e = ct_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", fields[k].name, fields[k].help,
                          fields[k].name);
        for (size_t i = 0; !e && i <= f->n_districts; i++) {
            const ct_status_unit *u = i < f->n_districts ? &f->districts[i] : &f->province;
            char code[16];
            if (i < f->n_districts)
                snprintf(code, sizeof code, "%u", u->code);
            else
                snprintf(code, sizeof code, "province");
            for (int p = 0; !e && p < CT_PROGRAM_COUNT; p++) {
                int x10;
                int64_t v = value_x(&u->prog[p], (field)k, &x10);
                char num[32];
                if (x10)
                    ct_status_fmt_x10(v, num, sizeof num);
                else
                    snprintf(num, sizeof num, "%lld", (long long)v);
                e = ct_buf_printf(b, "%s{district=\"%s\",program=\"%s\"} %s\n", fields[k].name,
                                  code, ct_program_name((ct_program)p), num);
            }
        }
    }
    if (!e) {
        char dl[32];
        ct_status_fmt_x10(f->days_left_x10, dl, sizeof dl);
        e = ct_buf_printf(b,
                          "# HELP chitieu_days_left Days left in the campaign window\n"
                          "# TYPE chitieu_days_left gauge\nchitieu_days_left %s\n"
                          "# HELP chitieu_staff Staff on the roster\n"
                          "# TYPE chitieu_staff gauge\nchitieu_staff %u\n",
                          dl, f->province.staff);
    }
    if (!e)
        e = ct_buf_printf(b,
                          "# HELP chitieu_log_seq Log sequence number the figures reflect\n"
                          "# TYPE chitieu_log_seq gauge\nchitieu_log_seq %llu\n",
                          (unsigned long long)in->seq);
    if (!e) {
        static const char *states[] = {"live", "lagging", "stale"};
        e = ct_buf_printf(b, "# HELP chitieu_feed_state Feed state (1 for the current one)\n"
                             "# TYPE chitieu_feed_state gauge\n");
        for (int i = 0; !e && i < 3; i++)
            e = ct_buf_printf(b, "chitieu_feed_state{state=\"%s\"} %d\n", states[i],
                              in->feed && strcmp(in->feed, states[i]) == 0);
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
                          "snapshot)\n# TYPE chitieu_gaps_total counter\nchitieu_gaps_total %llu\n",
                          (unsigned long long)in->updates, (unsigned long long)in->snapshots,
                          (unsigned long long)in->gaps);
    (void)c;
    return e;
}

ct_err ct_metrics_render_ages(const ct_metrics_input *in, int64_t mono_now, ct_buf *b)
{
    double rx = in->last_rx_mono ? (double)(mono_now - in->last_rx_mono) / 1000.0 : -1.0;
    double ap = in->last_apply_mono ? (double)(mono_now - in->last_apply_mono) / 1000.0 : -1.0;
    return ct_buf_printf(
        b,
        "# HELP chitieu_last_message_age_seconds Seconds since the last feed message "
        "(update, heartbeat or snapshot)\n"
        "# TYPE chitieu_last_message_age_seconds gauge\n"
        "chitieu_last_message_age_seconds %.3f\n"
        "# HELP chitieu_last_update_age_seconds Seconds since the last applied change\n"
        "# TYPE chitieu_last_update_age_seconds gauge\n"
        "chitieu_last_update_age_seconds %.3f\n",
        rx, ap);
}
