/* The report's clock (ct_report_clock.h). */
#include "ct_report_clock.h"

#include <assert.h>

#include "ct_time.h"

int64_t ct_report_clock_now(const ct_report_clock *c, int64_t mono_start)
{
    switch (c->kind) {
    case CT_CLOCK_FIXED:
        return c->fixed_ms;
    case CT_CLOCK_SIM:
        assert(c->sim_factor > 0);
        return c->sim_start_ms +
               (int64_t)((double)(ct_monotonic_ms() - mono_start) * c->sim_factor);
    case CT_CLOCK_REAL:
        break;
    }
    return ct_now_ms();
}
