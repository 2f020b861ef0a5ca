/* ct_metrics.h — the reporter's /metrics document in the Prometheus text
 * exposition format (version 0.0.4): the report's figures as gauges plus the
 * feed's health. Pure: renders from computed figures and a snapshot of the
 * view's counters; the two "age" gauges are rendered at scrape time by
 * ct_metrics_render_ages() so they are never older than the scrape.
 *
 * Series: per district chitieu_<figure>{district,program}; the province is
 * its own family chitieu_province_<figure>{program} (so sum() over districts
 * never counts it twice). Times are in seconds. Before the first snapshot
 * there are no figures, only the feed's state, link and counters. */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_status.h"

typedef struct {
    uint64_t seq;
    const char *feed; /* "not_connected" | "live" | "lagging" | "stale" */
    const char *link; /* ct_link_state_name() */
    uint64_t handshake_failures;
    int64_t lag_ms;          /* receive time - commit time of the last change */
    int64_t last_rx_mono;    /* 0 = never */
    int64_t last_apply_mono; /* 0 = never */
    uint64_t updates, snapshots, gaps;
} ct_metrics_input;

/* f: NULL before the first snapshot (no figures are rendered). */
ct_err ct_metrics_render(const ct_status_figures *f, const ct_metrics_input *in, ct_buf *out);
/* chitieu_last_message_age_seconds and chitieu_last_update_age_seconds at
 * monotonic time mono_now (-1 when nothing was ever received/applied). */
ct_err ct_metrics_render_ages(const ct_metrics_input *in, int64_t mono_now, ct_buf *out);

#endif
