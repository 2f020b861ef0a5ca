/* ct_sweep.c — the allocation-failure sweep (ct_sweep.h). */
#include "ct_sweep.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_faultsim.h"

/* Present in ASan/LSan builds only. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static bool allowed(const ct_sweep *s, ct_err e)
{
    if (e == CT_OK) return true;
    for (size_t i = 0; i < s->n_allowed; i++)
        if (s->allowed[i] == e) return true;
    return false;
}

void ct_sweep_run(const ct_sweep *s, ct_sweep_result *out)
{
    memset(out, 0, sizeof *out);
    bool verbose = getenv("CT_FAULTSIM_VERBOSE") != NULL;
    for (long k = 1;; k++) {
        if (k > s->max_k) fail_msg("faultsim %s: still failing at k=%ld (max_k)", s->name, k);
        if (verbose) fprintf(stderr, "faultsim %s: k=%ld\n", s->name, k);
        if (s->before) s->before(s->arg);
        ct_faultsim_config(k - 1, s->persistent ? -1 : 1);
        ct_err e = s->fn(s->arg);
        long failed = ct_faultsim_failed();
        long seen = ct_faultsim_seen();
        ct_faultsim_disarm();
        if (s->after) s->after(s->arg);
        if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
            fail_msg("faultsim %s: leak after a failure of allocation %ld", s->name, k);
        if (failed == 0) {
            if (e != CT_OK)
                fail_msg("faultsim %s: run without an injected failure returned %s", s->name,
                         ct_err_name(e));
            out->allocs = seen;
            break;
        }
        if (!allowed(s, e))
            fail_msg("faultsim %s: allocation %ld failed: returned %s (%d), not an allowed code",
                     s->name, k, ct_err_name(e), (int)e);
        out->runs++;
        if (e == CT_OK)
            out->absorbed++;
        else
            out->errors++;
        if ((int)e >= 0 && (int)e < 128) out->by_code[e]++;
    }
    char codes[512] = "";
    size_t len = 0;
    for (int c = 0; c < 128; c++)
        if (out->by_code[c] && len < sizeof codes)
            len += (size_t)snprintf(codes + len, sizeof codes - len, " %s=%ld", ct_err_name(c),
                                    out->by_code[c]);
    printf("faultsim %s (%s): %ld allocations; %ld runs with a failure: %ld errors, %ld "
           "absorbed;%s\n",
           s->name, s->persistent ? "persistent" : "transient", out->allocs, out->runs, out->errors,
           out->absorbed, codes);
    fflush(stdout);
}
