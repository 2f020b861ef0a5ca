/* ct_faultsim.h — allocation-failure injection for tests, after SQLite's
 * src/test_malloc.c (faultsimConfig): once armed, the next `delay`
 * allocations succeed, then `repeat` fail (repeat < 0: every later one), then
 * allocations succeed again.
 *
 * The shim (ct_faultsim.c) defines malloc, calloc, realloc, strdup and
 * strndup in the test executable; they forward to the next definition (libc, or the sanitizer
 * runtime) found with dlsym(RTLD_NEXT). Being defined in the executable, they
 * also serve the shared libraries (msgpack-c, LMDB, libc's own strdup ...),
 * so a failure inside those is injected too. free is not wrapped.
 *
 * Only allocations made while armed are counted, so start-up of libc and
 * cmocka is never hit; and only in the arming thread and in threads started
 * (pthread_create, also wrapped) once they run their own code: a sanitizer
 * runtime's set-up of a new thread is not code under test. Counters are atomic: allocations from
 * other threads (the audit engine's workers) are counted and failed in the order they happen.
 */
#ifndef CT_FAULTSIM_H
#define CT_FAULTSIM_H

#include <stdbool.h>

/* Arms the injector and clears the counters. */
void ct_faultsim_config(long delay, long repeat);
/* Disarms: every later allocation succeeds and is not counted. */
void ct_faultsim_disarm(void);
/* Allocations seen while armed since the last ct_faultsim_config. */
long ct_faultsim_seen(void);
/* Allocations failed since the last ct_faultsim_config. */
long ct_faultsim_failed(void);

#endif
