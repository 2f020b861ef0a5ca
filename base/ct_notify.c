/* ct_notify.c — sd_notify(3) calls of the loops (see ct_notify.h). Without
 * libsystemd (CT_HAVE_SYSTEMD undefined) every function is empty.
 *
 * Invariant: the watchdog interval is read once, on the first ping; a ping
 * goes out when a third of it has passed since the last one. */
#include "ct_notify.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifdef CT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ct_notify_ready(const char *status)
{
    char msg[256];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status ? status : "ready");
    (void)sd_notify(0, msg);
}

void ct_notify_reloading(void)
{
    (void)sd_notify(0, "RELOADING=1");
}

void ct_notify_stopping(void)
{
    (void)sd_notify(0, "STOPPING=1");
}

void ct_notify_watchdog(void)
{
    static int64_t every_us = -1, last_us;
    if (every_us < 0) {
        uint64_t usec = 0;
        every_us = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 3) : 0;
    }
    if (every_us == 0) return;
    int64_t now = mono_us();
    if (now - last_us < every_us) return;
    last_us = now;
    (void)sd_notify(0, "WATCHDOG=1");
}

#else

void ct_notify_ready(const char *status)
{
    (void)status;
}

void ct_notify_reloading(void) {}

void ct_notify_stopping(void) {}

void ct_notify_watchdog(void) {}

#endif
