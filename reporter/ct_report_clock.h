/* The report's clock: the time a report is made "as of". Real time, a fixed
 * instant (--now) or a simulated clock that starts at sim_start_ms and runs
 * sim_factor times faster than the monotonic clock (--sim-clock). It is the
 * only input of a report that does not come from the log, so a report is
 * reproduced by replaying the log at its seq with the clock it names.
 * Invariant: with CT_CLOCK_SIM, sim_factor > 0. */
#ifndef CT_REPORT_CLOCK_H
#define CT_REPORT_CLOCK_H

#include <stdint.h>

typedef enum { CT_CLOCK_REAL = 0, CT_CLOCK_FIXED, CT_CLOCK_SIM } ct_reporter_clock;

typedef struct {
    ct_reporter_clock kind;
    int64_t fixed_ms;     /* CT_CLOCK_FIXED */
    int64_t sim_start_ms; /* CT_CLOCK_SIM */
    double sim_factor;    /* CT_CLOCK_SIM, > 0 */
} ct_report_clock;

/* The clock's time in ms since the epoch; mono_start is the monotonic time
 * (ct_monotonic_ms) the simulated clock started at. */
int64_t ct_report_clock_now(const ct_report_clock *c, int64_t mono_start);

#endif
