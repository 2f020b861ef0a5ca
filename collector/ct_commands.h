/* ct_commands.h — the commands of chitieu-collector, as library calls over a
 * session (ct_collector.h), so they run the same from the binary and from C
 * tests.
 *
 * ct_collector_cfg holds every option of every command (the binary's option
 * table writes straight into it; docs/collector.md describes each). A
 * command reads only the options its command accepts; the others keep their
 * defaults. Each command prints its result on s->out and its refusals on
 * s->err and returns CT_OK, CT_ERR_USAGE / CT_ERR_CONFIG (the caller's
 * mistake: exit 2) or another error (a runtime failure: exit 1; see
 * ct_collector_exit_code).
 */
#ifndef CT_COMMANDS_H
#define CT_COMMANDS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_collector.h"
#include "ct_deliver.h"
#include "ct_event.h"
#include "ct_opt.h"

typedef struct {
    /* every command */
    const char *outbox;
    const char *campaign;
    size_t map_size;
    int log_level; /* < 0: not given */
    /* init and queueing */
    int64_t district; /* < 0: not given */
    const char *person_key;
    bool no_validate;
    /* add, cancel */
    const char *agent, *program, *national_id, *person_hash, *commune, *time;
    const char *amount, *months, *group;
    /* import */
    const char *file;
    bool strict;  /* accepted; bad rows fail the import (exit 1) with or without it */
    bool dry_run; /* report what would be queued; the outbox is left unchanged */
    /* simulate */
    const char *seed; /* decimal, 0..2^64-1; NULL: 1 */
    double fill;
    int64_t count; /* < 0: quota-driven */
    double realtime_factor;
    bool district_defaults;
    /* run, status */
    ct_opt_list servers; /* --server, repeatable: the primary and its followers */
    const char *keys;
    ct_opt_list server_keys; /* --server-key: one for every --server, or one each, in order */
    bool insecure, once;
    int64_t window, batch, give_up_s, resend_ms, stats_interval_s, timeout_ms, telemetry_s;
    /* requeue: a reason code name; life entries: the reason text */
    const char *reason;
    const char *reason_from; /* where --reason was set ("FILE:LINE", "CHITIEU_REASON", NULL) */
    /* life entries: void, correct, target, close, reopen, reorg */
    const char *event, *by, *person_ref, *from_program, *effective, *day, *name;
    int64_t seq_q, unit, target_n, wait_s; /* < 0: not given (wait_s 0: do not wait) */
    bool quota;
    /* users: ACTION [NAME] (positional), --role */
    const char *users_sub, *users_name, *role;
    /* serve */
    const char *http, *tls_cert, *tls_key, *now;
    bool no_tls;
    int64_t session_ttl_s, probe_interval_s;
    volatile sig_atomic_t *stop; /* set by a signal: finish and return */
} ct_collector_cfg;

ct_err ct_collector_cmd_init(ct_collector *s, const ct_collector_cfg *c);
/* add (action enroll) and cancel: one sign-up, "queued ID" once durable. */
ct_err ct_collector_cmd_add(ct_collector *s, const ct_collector_cfg *c, ct_action action);
ct_err ct_collector_cmd_import(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_simulate(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_run(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_status(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_rejected(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_requeue(ct_collector *s, const ct_collector_cfg *c);
/* New ids (and, if needed, a fresh origin) for the events refused as
 * conflict; refused while a `run` delivers this outbox. */
ct_err ct_collector_cmd_reissue(ct_collector *s, const ct_collector_cfg *c);

/* The campaign's life entries (docs/PROTOCOL.md §2.2): queue one, print
 * "queued ID", and with --wait SEC the aggregator's answer. */
ct_err ct_collector_cmd_life(ct_collector *s, const ct_collector_cfg *c, int kind);

/* The office screen's logins (ct_users.h) and the screen itself (ct_serve.h). */
ct_err ct_collector_cmd_users(ct_collector *s, const ct_collector_cfg *c);
ct_err ct_collector_cmd_serve(ct_collector *s, const ct_collector_cfg *c);

/* --keys/--server-key or --insecure into o (the caller wipes o's secret key
 * once a socket has it); refusals printed, CT_ERR_USAGE / CT_ERR_CONFIG. */
ct_err ct_collector_client_keys(ct_collector *s, const ct_collector_cfg *c, ct_deliver_opts *o);

/* Conflict notes: an ERROR line in the run log when conflict-rejected events
 * wait for `reissue`; the "conflicts:" and "reissued:" lines of status. */
void ct_collector_conflicts_log(ct_collector *s);
ct_err ct_collector_conflicts_status(ct_collector *s);

/* 0 for CT_OK, 2 for the caller's mistakes (CT_ERR_USAGE, CT_ERR_CONFIG,
 * CT_ERR_KEY_PERMS), 1 for any other failure. */
int ct_collector_exit_code(ct_err e);

#endif
