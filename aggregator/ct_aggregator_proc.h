/* ct_aggregator_proc.h — what chitieu-aggregator sets up for its process
 * before the loop: the signal flags and their self-pipe, the open-file
 * limit, the heap policy.
 *
 * Invariants: the handlers only set a flag and write one byte to a
 * non-blocking pipe (async-signal-safe); the pipe is close-on-exec; one set
 * of signals per process.
 */
#ifndef CT_AGGREGATOR_PROC_H
#define CT_AGGREGATOR_PROC_H

#include <signal.h>

#include "ct_error.h"

/* The flags the loop reads (ct_aggregator_opts stop, reload, wake_fd). */
typedef struct {
    volatile sig_atomic_t *stop;   /* SIGINT, SIGTERM */
    volatile sig_atomic_t *reload; /* SIGHUP */
    int wake_fd;                   /* the self-pipe's read end: readable after a signal */
} ct_aggregator_signals;

/* Creates the self-pipe and installs the handlers; CT_ERR_IO (errno says
 * why) when the pipe or a handler cannot be set up. */
ct_err ct_aggregator_signals_install(ct_aggregator_signals *s);

/* Closes the self-pipe (safe when install failed or never ran). */
void ct_aggregator_signals_close(void);

/* Raises the soft open-file limit to the hard one (each connection and each
 * monitor is a descriptor); leaves it as it is when that is refused. */
void ct_aggregator_raise_nofile(void);

/* Heap policy (docs/aggregator.md "Memory"): large received frames stay
 * mmapped and go back to the system when freed; two malloc arenas. */
void ct_aggregator_heap_policy(void);

#endif
