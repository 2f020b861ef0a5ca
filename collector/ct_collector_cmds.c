/* ct_collector_cmds.c — chitieu-collector's commands: each one's name,
 * usage line, positional arguments and summary (the table --help, the man
 * page and completion are made from), and the dispatch from a command's
 * bit to its library call (ct_commands.h).
 *
 * Invariant: every command of the table has a case in the dispatch.
 */
#include "ct_collector_main.h"
#include "ct_life.h"

const ct_opt_cmd ct_collector_cmds[] = {
    {"init", C_INIT, "--outbox DIR --district D [--campaign FILE]", 0, 0,
     "create the outbox for office D (its campaign and a random origin for its event ids)"},
    {"add", C_ADD,
     "--outbox DIR --agent A --program P (--national-id N --person-key F | "
     "--person-hash H) [options]",
     0, 0, "queue one sign-up"},
    {"cancel", C_CANCEL,
     "--outbox DIR --agent A --program P (--national-id N --person-key F | "
     "--person-hash H) [--time ISO]",
     0, 0, "undo an enrollment"},
    {"import", C_IMPORT, "FILE.csv --outbox DIR [--person-key FILE] [--dry-run]", 1, 1,
     "queue the good rows of a CSV file (UTF-8, ',' or ';' separated; header: agent_id,program,"
     "action,national_id,commune,occurred_at,months,amount,group); bad rows are reported as "
     "FILE:LINE: reason, and make the exit code 1"},
    {"simulate", C_SIM, "--outbox DIR [options]", 0, 0,
     "queue a realistic, reproducible stream of sign-ups for the office"},
    {"run", C_RUN, "--outbox DIR --server EP (--keys F --server-key F | --insecure) [options]", 0,
     0, "deliver the outbox to the aggregator"},
    {"status", C_STATUS, "--outbox DIR [--server EP (--keys F --server-key F | --insecure)]", 0, 0,
     "the outbox's counters; with --server, whether the aggregator answers"},
    {"rejected", C_REJECTED, "--outbox DIR", 0, 0, "events the aggregator refused"},
    {"requeue", C_REQUEUE, "--outbox DIR [--reason NAME]", 0, 0,
     "send rejected events again with the same ids (e.g. after fixing the authorization file); "
     "never those refused as conflict"},
    {"reissue", C_REISSUE, "--outbox DIR", 0, 0,
     "queue the events refused as conflict again under new ids (same content; a fresh origin "
     "when needed): the way out after an outbox was copied onto a second machine"},
    {"void", C_VOID,
     "--outbox DIR --event ID --reason TEXT [--by NAME] [--seq Q --program P --person-ref HEX "
     "--unit D] [--wait SEC]",
     0, 0,
     "void a sign-up entered wrongly (not a cancellation): one of this outbox's, or with --seq "
     "(admin key) any office's"},
    {"correct", C_CORRECT,
     "--outbox DIR --event ID [--agent A] [--program P] [--commune W] [--group G] --reason TEXT "
     "[--by NAME] [--seq Q --from-program P --person-ref HEX --unit D] [--wait SEC]",
     0, 0,
     "correct a sign-up's staff member, program, commune or group (new values on the command "
     "line)"},
    {"target", C_TARGET,
     "--outbox DIR (--unit D | --quota) --program P --target N --effective TIME --reason TEXT "
     "[--wait SEC]",
     0, 0, "revise a unit's target or the per-staff quota from a time on (admin key)"},
    {"close", C_CLOSE, "--outbox DIR --day YYYY-MM-DD [--unit D] --reason TEXT [--wait SEC]", 0, 0,
     "close a day's figures for a unit or (no --unit) the province (admin key)"},
    {"reopen", C_REOPEN, "--outbox DIR --day YYYY-MM-DD [--unit D] --reason TEXT [--wait SEC]", 0,
     0, "reopen a closed day (admin key)"},
    {"reorg", C_REORG, "--outbox DIR --name NAME --effective TIME --reason TEXT [--wait SEC]", 0, 0,
     "put a [reorg NAME] section of the campaign file in force from a time on (admin key)"},
    {"users", C_USERS, "add|passwd|remove NAME | list --outbox DIR [--role R --agent A]", 1, 2,
     "the office screen's logins, in DIR/users (passwords from stdin, hashed with Argon2id): "
     "staff record for their own agent id, a lead for anyone of the office"},
    {"serve", C_SERVE, "--outbox DIR --http ADDR:PORT --person-key F [options]", 0, 0,
     "the office screen: record, cancel and follow sign-ups in a browser (delivery stays with "
     "`run`)"},
    {0},
};

ct_err ct_collector_dispatch(unsigned cmd, ct_collector *s, const ct_collector_cfg *c)
{
    switch (cmd) {
    case C_INIT:
        return ct_collector_cmd_init(s, c);
    case C_ADD:
        return ct_collector_cmd_add(s, c, CT_ACTION_ENROLL);
    case C_CANCEL:
        return ct_collector_cmd_add(s, c, CT_ACTION_CANCEL);
    case C_IMPORT:
        return ct_collector_cmd_import(s, c);
    case C_SIM:
        return ct_collector_cmd_simulate(s, c);
    case C_RUN:
        return ct_collector_cmd_run(s, c);
    case C_STATUS:
        return ct_collector_cmd_status(s, c);
    case C_REJECTED:
        return ct_collector_cmd_rejected(s, c);
    case C_REQUEUE:
        return ct_collector_cmd_requeue(s, c);
    case C_REISSUE:
        return ct_collector_cmd_reissue(s, c);
    case C_USERS:
        return ct_collector_cmd_users(s, c);
    case C_SERVE:
        return ct_collector_cmd_serve(s, c);
    case C_VOID:
        return ct_collector_cmd_life(s, c, CT_LIFE_VOID);
    case C_CORRECT:
        return ct_collector_cmd_life(s, c, CT_LIFE_CORRECT);
    case C_TARGET:
        return ct_collector_cmd_life(s, c, CT_LIFE_TARGET);
    case C_CLOSE:
        return ct_collector_cmd_life(s, c, CT_LIFE_CLOSE);
    case C_REOPEN:
        return ct_collector_cmd_life(s, c, CT_LIFE_REOPEN);
    case C_REORG:
        return ct_collector_cmd_life(s, c, CT_LIFE_REORG);
    default:
        return CT_ERR_INTERNAL;
    }
}
