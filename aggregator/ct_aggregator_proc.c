/* ct_aggregator_proc.c — the aggregator's process setup: signal flags and
 * their self-pipe, the open-file limit, the heap policy (see
 * ct_aggregator_proc.h).
 *
 * Invariants: the handlers are async-signal-safe (a flag, one write to a
 * non-blocking pipe, errno kept); the pipe's ends are close-on-exec.
 */
#include "ct_aggregator_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ct_cli.h"

static volatile sig_atomic_t g_stop, g_reload;
static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
    char c = 1;
    ssize_t w = write(g_sigpipe[1], &c, 1);
    (void)w;
    errno = saved;
}

ct_err ct_aggregator_signals_install(ct_aggregator_signals *s)
{
    if (pipe(g_sigpipe) != 0) return CT_ERR_IO;
    for (int i = 0; i < 2; i++) {
        if (fcntl(g_sigpipe[i], F_SETFL, fcntl(g_sigpipe[i], F_GETFL) | O_NONBLOCK) != 0 ||
            fcntl(g_sigpipe[i], F_SETFD, FD_CLOEXEC) != 0)
            return CT_ERR_IO;
    }
    ct_cli_on_stop_signals(on_signal);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, NULL) != 0) return CT_ERR_IO;
    s->stop = &g_stop;
    s->reload = &g_reload;
    s->wake_fd = g_sigpipe[0];
    return CT_OK;
}

void ct_aggregator_signals_close(void)
{
    for (int i = 0; i < 2; i++) {
        if (g_sigpipe[i] >= 0) close(g_sigpipe[i]);
        g_sigpipe[i] = -1;
    }
}

void ct_aggregator_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Frames up to 9 MiB are received by ZeroMQ's I/O thread and freed by the
 * loop's. With glibc's dynamic mmap threshold, the first free of such a block
 * raises the threshold, later ones come from an arena and their pages stay
 * after free (one arena per thread that ever allocated). A fixed threshold
 * keeps every large block mmapped, so it goes back to the system when freed;
 * two arenas bound the rest. */
void ct_aggregator_heap_policy(void)
{
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
}
