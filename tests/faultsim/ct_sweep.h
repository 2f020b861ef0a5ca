/* ct_sweep.h — the allocation-failure sweep over one scenario (cmocka).
 *
 * For k = 1, 2, ...: arm the injector so that the k-th allocation fails (and,
 * in persistent mode, every one after it), run the scenario, disarm; stop at
 * the first run in which no failure was injected (the scenario then ran to
 * its end and must return CT_OK). Every run must end cleanly:
 *   - a ct_err from the scenario's allowed list (CT_ERR_NOMEM, or a specific
 *     code the failure maps to, e.g. CT_ERR_LMDB when LMDB could not
 *     allocate), or CT_OK when the failure was absorbed (a fallback path); a
 *     scenario returns CT_OK only after checking its results are exact;
 *   - no crash (a crash ends the test; CT_FAULTSIM_VERBOSE=1 prints each k);
 *   - no leak: in a LeakSanitizer build the heap is checked after each run.
 * Prints one summary line per sweep and fills the result for assertions. */
#ifndef CT_SWEEP_H
#define CT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_error.h"

typedef ct_err (*ct_sweep_fn)(void *arg);
typedef void (*ct_sweep_hook)(void *arg);

typedef struct {
    const char *name;
    ct_sweep_fn fn;
    ct_sweep_hook before; /* optional, unarmed, before each run (e.g. a fresh directory) */
    ct_sweep_hook after;  /* optional, unarmed, after each run (e.g. remove it) */
    void *arg;
    bool persistent;       /* every allocation after the k-th fails too */
    const ct_err *allowed; /* codes a failing run may return (CT_OK is always allowed) */
    size_t n_allowed;
    long max_k; /* a sweep longer than this fails (runaway guard) */
} ct_sweep;

typedef struct {
    long runs;         /* runs with an injected failure (k = 1 .. runs) */
    long errors;       /* of those, runs that returned an error */
    long absorbed;     /* of those, runs that returned CT_OK */
    long allocs;       /* allocations of the final, failure-free run */
    long by_code[128]; /* runs per returned code */
} ct_sweep_result;

/* Runs the sweep; a violation fails the current cmocka test naming k. */
void ct_sweep_run(const ct_sweep *s, ct_sweep_result *out);

#endif
