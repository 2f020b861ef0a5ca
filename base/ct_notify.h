/* ct_notify.h — the service manager's notification protocol (sd_notify(3))
 * for the long-running loops: READY once the endpoints are bound, WATCHDOG
 * pings while the loop turns, RELOADING around a SIGHUP reload, STOPPING when
 * the loop ends. Outside systemd (no $NOTIFY_SOCKET) every call does nothing;
 * built without libsystemd, likewise.
 *
 * ct_notify_watchdog() is cheap enough to call on every loop turn: it sends
 * at most one ping per third of WatchdogSec= (none when the unit sets no
 * watchdog). Call these from one thread (the loop's).
 */
#ifndef CT_NOTIFY_H
#define CT_NOTIFY_H

/* READY=1 and STATUS=<status> (a short line for `systemctl status`). */
void ct_notify_ready(const char *status);
void ct_notify_reloading(void);
void ct_notify_stopping(void);
void ct_notify_watchdog(void);

#endif
