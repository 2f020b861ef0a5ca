/* ct_collector_main.h — chitieu-collector's command table (binary-only,
 * not in ct_collector): the command bits the option table's masks use,
 * the commands' names, usages and summaries (ct_collector_cmds.c), and the
 * library call that runs each.
 */
#ifndef CT_COLLECTOR_MAIN_H
#define CT_COLLECTOR_MAIN_H

#include "ct_commands.h"
#include "ct_opt.h"

enum {
    C_INIT = 1 << 0,
    C_ADD = 1 << 1,
    C_CANCEL = 1 << 2,
    C_IMPORT = 1 << 3,
    C_SIM = 1 << 4,
    C_RUN = 1 << 5,
    C_STATUS = 1 << 6,
    C_REJECTED = 1 << 7,
    C_REQUEUE = 1 << 8,
    C_REISSUE = 1 << 9,
    C_USERS = 1 << 10,
    C_SERVE = 1 << 11,
    C_VOID = 1 << 12,
    C_CORRECT = 1 << 13,
    C_TARGET = 1 << 14,
    C_CLOSE = 1 << 15,
    C_REOPEN = 1 << 16,
    C_REORG = 1 << 17,
    C_LIFE = C_VOID | C_CORRECT | C_TARGET | C_CLOSE | C_REOPEN | C_REORG,
    C_QUEUEING = C_ADD | C_CANCEL | C_IMPORT | C_SIM,
    C_SIGNUP = C_ADD | C_CANCEL,
    C_NET = C_RUN | C_STATUS,
    /* these never create an outbox: a typo must not look like an empty one */
    C_EXISTING = C_RUN | C_STATUS | C_REJECTED | C_REQUEUE | C_REISSUE | C_USERS | C_SERVE | C_LIFE,
};

/* the commands, in --help's order, ended by a zeroed entry */
extern const ct_opt_cmd ct_collector_cmds[];

/* Runs the command whose bit is cmd over the open session (CT_ERR_INTERNAL
 * for an unknown bit). */
ct_err ct_collector_dispatch(unsigned cmd, ct_collector *s, const ct_collector_cfg *c);

#endif
