/* main.c — chitieu-collector: a district office's durable outbox and its
 * delivery to the aggregator (docs/collector.md). Options, wiring and exit
 * codes only; the command table and its dispatch are ct_collector_cmds.c, the
 * commands library calls (ct_commands.h) over a session (ct_collector.h).
 *
 *   chitieu-collector COMMAND --outbox DIR [options]
 *
 * Exit codes: 0 ok, 1 runtime failure (store, network, give-up) or an import
 * with bad rows (its good rows queued), 2 usage or configuration error (bad
 * option, bad campaign/roster, wrong district, bad sign-up fields, key file
 * problems, a CSV file refused as a whole). "queued <id>" is printed only after the
 * outbox transaction committed durably.
 *
 * Invariant: main owns the session; every path after it opened goes through
 * ct_collector_close(), which wipes the person key.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ct_cli.h"
#include "ct_collector_main.h"
#include "ct_keys.h"
#include "ct_life.h"
#include "ct_log.h"
#include "ct_opt.h"
#include "ct_wire.h"

#define PROG "chitieu-collector"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

#define F(field) offsetof(ct_collector_cfg, field)
static const ct_opt opts[] = {
    {"outbox", CT_OPT_STR, F(outbox), 0, CT_OPT_REQUIRED, "DIR", NULL, 0, 0, NULL,
     "the outbox directory"},
    {"campaign", CT_OPT_STR, F(campaign), 0, 0, "FILE", NULL, 0, 0, NULL,
     "campaign.ini (default: the one given to init, else the built-in Lam Dong 2023 campaign)"},
    {"map-size", CT_OPT_SIZE, F(map_size), 0, 0, "SIZE", "1G", 1 << 20, 0, NULL,
     "LMDB map size, SIZE[K|M|G]"},
    {"log-level", CT_OPT_CHOICE, F(log_level), 0, 0, NULL, NULL, 0, 0, levels, "log level"},
    {"district", CT_OPT_INT, F(district), C_INIT | C_QUEUEING, 0, "D", NULL, 0, 4294967295.0, NULL,
     "this office's district code (a queueing command initialises the outbox with it)"},
    {"agent", CT_OPT_STR, F(agent), C_SIGNUP | C_USERS | C_LIFE, 0, "A", NULL, 0, 0, NULL,
     "staff id, e.g. LD672-001 (correct: the new staff member, from the command line only; the "
     "other life entries: who issues them when --by is not given)"},
    {"program", CT_OPT_STR, F(program), C_SIGNUP | C_VOID | C_CORRECT | C_TARGET, 0, "P", NULL, 0,
     0, NULL, "bhxh_tn or bhyt_hgd (correct: the new program)"},
    {"national-id", CT_OPT_STR, F(national_id), C_SIGNUP, 0, "12DIGITS", NULL, 0, 0, NULL,
     "the participant's national ID (hashed with --person-key; never stored)"},
    {"person-hash", CT_OPT_STR, F(person_hash), C_SIGNUP, 0, "HEX64", NULL, 0, 0, NULL,
     "the person hash instead of a national ID"},
    {"person-key", CT_OPT_STR, F(person_key), C_QUEUEING | C_SERVE, 0, "FILE", NULL, 0, 0, NULL,
     "the province's person-hash key"},
    {"commune", CT_OPT_STR, F(commune), C_SIGNUP | C_CORRECT, 0, "W", NULL, 0, 0, NULL,
     "commune or ward"},
    {"time", CT_OPT_STR, F(time), C_SIGNUP, 0, "ISO", NULL, 0, 0, NULL,
     "when it happened (default: now; without a zone, campaign time)"},
    {"amount", CT_OPT_STR, F(amount), C_ADD, 0, "VND", NULL, 0, 0, NULL, "amount paid"},
    {"months", CT_OPT_STR, F(months), C_ADD, 0, "M", NULL, 0, 0, NULL, "months paid, 1..600"},
    {"group", CT_OPT_STR, F(group), C_ADD | C_CORRECT, 0, "G", NULL, 0, 0, NULL, "subsidy group"},
    {"no-validate", CT_OPT_FLAG, F(no_validate), C_SIGNUP | C_IMPORT, 0, NULL, NULL, 0, 0, NULL,
     "tests only: skip the local campaign check"},
    {"strict", CT_OPT_FLAG, F(strict), C_IMPORT, 0, NULL, NULL, 0, 0, NULL,
     "exit 1 when any row is bad (the default)"},
    {"dry-run", CT_OPT_FLAG, F(dry_run), C_IMPORT, 0, NULL, NULL, 0, 0, NULL,
     "print what would be queued and every bad row; queue nothing"},
    {"seed", CT_OPT_STR, F(seed), C_SIM, 0, "N", "1", 0, 0, NULL, "random seed"},
    {"fill", CT_OPT_DOUBLE, F(fill), C_SIM, 0, "F", "1", 0, 10, NULL,
     "performance around the quotas (1 = on target)"},
    {"count", CT_OPT_INT, F(count), C_SIM, 0, "N", NULL, 0, 100000000, NULL,
     "exactly N events instead of the quota-driven number"},
    {"realtime-factor", CT_OPT_DOUBLE, F(realtime_factor), C_SIM, 0, "F", "0", 0, 0, NULL,
     "queue progressively, campaign clock = F x real time (0: all at once)"},
    {"district-defaults", CT_OPT_FLAG, F(district_defaults), C_SIM, 0, NULL, NULL, 0, 0, NULL,
     "the district's own staff and quotas (the default behaviour)"},
    {"server", CT_OPT_LIST, F(servers), C_NET | C_SERVE, 0, "EP", NULL, 0, 0, NULL,
     "the aggregator's ingest endpoint, e.g. tcp://hq.example:7701; repeat it for a primary "
     "and its followers: run uses whichever answers as primary"},
    {"keys", CT_OPT_STR, F(keys), C_NET | C_SERVE, 0, "FILE", NULL, 0, 0, NULL,
     "this office's .key"},
    {"server-key", CT_OPT_LIST, F(server_keys), C_NET | C_SERVE, 0, "FILE", NULL, 0, 0, NULL,
     "the aggregator's .pub; one for every --server, or repeated once per --server in the same "
     "order (each aggregator its own key)"},
    {"insecure", CT_OPT_FLAG, F(insecure), C_NET | C_SERVE, 0, NULL, NULL, 0, 0, NULL,
     "plaintext, no authentication (tests and demos)"},
    {"window", CT_OPT_INT, F(window), C_RUN, 0, "W", "4096", 1, 1 << 20, NULL, "events in flight"},
    {"batch", CT_OPT_INT, F(batch), C_RUN, 0, "B", "256", 1, CT_WIRE_MAX_EVENTS, NULL,
     "events per submit"},
    {"once", CT_OPT_FLAG, F(once), C_RUN, 0, NULL, NULL, 0, 0, NULL,
     "return when the outbox is empty"},
    {"give-up", CT_OPT_INT, F(give_up_s), C_RUN, 0, "SEC", "0", 0, 86400 * 365, NULL,
     "fail when the server has been silent this long, or its safe watermark has not advanced "
     "this long while events wait for it (they stay in the outbox; 0: never)"},
    {"resend-ms", CT_OPT_INT, F(resend_ms), C_RUN, 0, "MS", "2000", 10, 3600000, NULL,
     "first resend timeout"},
    {"stats-interval", CT_OPT_INT, F(stats_interval_s), C_RUN, 0, "SEC", "10", 0, 86400, NULL,
     "stats line period (0: off)"},
    {"telemetry-interval", CT_OPT_INT, F(telemetry_s), C_RUN, 0, "SEC", "30", 0, 86400, NULL,
     "send this office's outbox telemetry to the aggregator this often and on every connection "
     "(0: never)"},
    {"timeout", CT_OPT_INT, F(timeout_ms), C_STATUS, 0, "MS", "2000", 0, 600000, NULL,
     "how long status waits for the handshake"},
    {"reason", CT_OPT_STR, F(reason), C_REQUEUE | C_LIFE, 0, "TEXT", NULL, 0, 0, NULL,
     "requeue: only events rejected for this reason name (see `rejected`); void, correct, "
     "target, close, reopen, reorg: why (mandatory, 1 to 256 bytes, logged with the entry)"},
    {"event", CT_OPT_STR, F(event), C_VOID | C_CORRECT, 0, "ID", NULL, 0, 0, NULL,
     "the sign-up's event id (32 hex digits, as `add` printed it)"},
    {"by", CT_OPT_STR, F(by), C_LIFE, 0, "NAME", NULL, 0, 0, NULL,
     "who issues it, logged with the entry (default: the configured agent, else the login "
     "name)"},
    {"seq", CT_OPT_INT, F(seq_q), C_VOID | C_CORRECT, 0, "Q", NULL, 1, 9007199254740991.0, NULL,
     "another office's event (admin key): its log seq, as `chitieu-audit trace` prints it"},
    {"person-ref", CT_OPT_STR, F(person_ref), C_VOID | C_CORRECT, 0, "HEX64", NULL, 0, 0, NULL,
     "with --seq: the sign-up's person reference"},
    {"unit", CT_OPT_INT, F(unit), C_VOID | C_CORRECT | C_TARGET | C_CLOSE | C_REOPEN, 0, "D", NULL,
     0, 65535, NULL,
     "void/correct with --seq: the sign-up's unit; target: the unit revised; close/reopen: the "
     "unit (default: the whole province)"},
    {"from-program", CT_OPT_STR, F(from_program), C_CORRECT, 0, "P", NULL, 0, 0, NULL,
     "correct with --seq: the program the sign-up counts in now"},
    {"quota", CT_OPT_FLAG, F(quota), C_TARGET, 0, NULL, NULL, 0, 0, NULL,
     "revise the per-staff quota instead of a unit's target"},
    {"target", CT_OPT_INT, F(target_n), C_TARGET, 0, "N", NULL, 1, 1000000, NULL,
     "the new target (or quota)"},
    {"effective", CT_OPT_STR, F(effective), C_TARGET | C_REORG, 0, "TIME", NULL, 0, 0, NULL,
     "in force from (the campaign file's time grammar; may lie in the past)"},
    {"day", CT_OPT_STR, F(day), C_CLOSE | C_REOPEN, 0, "YYYY-MM-DD", NULL, 0, 0, NULL,
     "the campaign-local day"},
    {"name", CT_OPT_STR, F(name), C_REORG, 0, "NAME", NULL, 0, 0, NULL,
     "the reorganization: a [reorg NAME] section of the campaign file"},
    {"wait", CT_OPT_INT, F(wait_s), C_LIFE, 0, "SEC", "0", 0, 86400, NULL,
     "wait up to SEC seconds for headquarters' answer (delivered by this outbox's `run`) and "
     "print it; exit 1 when it is a refusal or does not come"},
    {"role", CT_OPT_STR, F(role), C_USERS, 0, "R", NULL, 0, 0, NULL,
     "staff (records for its --agent only) or lead (for anyone of the office)"},
    {"http", CT_OPT_STR, F(http), C_SERVE, 0, "ADDR:PORT", NULL, 0, 0, NULL,
     "where the screen listens (PORT alone: 127.0.0.1); another address than loopback needs "
     "--tls-cert/--tls-key"},
    {"tls-cert", CT_OPT_STR, F(tls_cert), C_SERVE, 0, "FILE", NULL, 0, 0, NULL,
     "TLS certificate (PEM): serve HTTPS"},
    {"tls-key", CT_OPT_STR, F(tls_key), C_SERVE, 0, "FILE", NULL, 0, 0, NULL,
     "TLS private key (PEM)"},
    {"plain-http", CT_OPT_FLAG, F(no_tls), C_SERVE, 0, NULL, NULL, 0, 0, NULL,
     "serve plain HTTP off loopback (a trusted network only: passwords and national IDs in "
     "clear)"},
    {"session-ttl", CT_OPT_INT, F(session_ttl_s), C_SERVE, 0, "SEC", "1800", 1, 43200, NULL,
     "a login unused this long is logged out"},
    {"probe-interval", CT_OPT_INT, F(probe_interval_s), C_SERVE, 0, "SEC", "5", 1, 3600, NULL,
     "with --server: how often the screen checks that headquarters answers"},
    {"now", CT_OPT_STR, F(now), C_SERVE, 0, "ISO", NULL, 0, 0, NULL,
     "the screen's clock starts at ISO (rehearsals and demos of a past campaign)"},
    {0},
};
#undef F

static const ct_opt_spec spec = {
    .prog = PROG,
    .usage = "COMMAND --outbox DIR [options]",
    .about = "A district office's durable outbox: sign-ups are stored (fsynced) before "
             "\"queued\" is printed, and delivered to the aggregator exactly once.",
    .cmds = ct_collector_cmds,
    .opts = opts,
    .epilog = "exit codes: 0 ok, 1 runtime failure or an import with bad rows, 2 usage or "
              "configuration error.",
};

static size_t opt_index(const char *name)
{
    size_t i = 0;
    while (opts[i].name && strcmp(opts[i].name, name) != 0)
        i++;
    return i;
}

/* Life entries: where --reason came from (for its messages); a correct's
 * new values only from the command line (a configured agent is not a new
 * agent: it is the default --by). */
static void life_sources(const ct_opt_result *r, ct_collector_cfg *c, char *buf, size_t len)
{
    size_t ri = opt_index("reason"), ai = opt_index("agent");
    if (r->src[ri] == CT_OPT_SRC_FILE) {
        snprintf(buf, len, "%s:%u", r->config ? r->config : "?", r->line[ri]);
        c->reason_from = buf;
    } else if (r->src[ri] == CT_OPT_SRC_ENV) {
        c->reason_from = "CHITIEU_REASON";
    }
    if (!c->by && c->agent && (r->cmd->bit != C_CORRECT || r->src[ai] != CT_OPT_SRC_FLAG))
        c->by = c->agent;
    if (r->cmd->bit != C_CORRECT) return;
    static const char *const fields[] = {"agent", "program", "commune", "group"};
    const char **dst[] = {&c->agent, &c->program, &c->commune, &c->group};
    for (size_t i = 0; i < 4; i++)
        if (r->src[opt_index(fields[i])] != CT_OPT_SRC_FLAG) *dst[i] = NULL;
}

int main(int argc, char **argv)
{
    ct_log_set_component("collector");
    ct_collector_cfg c = {.district = -1,
                          .count = -1,
                          .log_level = -1,
                          .seq_q = -1,
                          .unit = -1,
                          .target_n = -1,
                          .stop = &g_stop};
    ct_opt_result r;
    ct_err e = ct_opt_parse(&spec, argc, argv, &c, &r);
    if (e != CT_OK) return e == CT_ERR_USAGE ? 2 : 1;
    if (r.exit_now) return 0;
    char reason_from[512];
    if (r.cmd->bit & C_LIFE) life_sources(&r, &c, reason_from, sizeof reason_from);
    if (r.cmd->bit == C_USERS) {
        c.users_sub = r.pos[0];
        c.users_name = r.npos > 1 ? r.pos[1] : NULL;
    } else if (r.npos > 0) {
        c.file = r.pos[0];
    }
    if (c.log_level >= 0) ct_log_set_level((ct_log_level)c.log_level);
    if (ct_crypto_init() != CT_OK) {
        fprintf(stderr, PROG ": cannot initialise libsodium\n");
        return 1;
    }
    ct_cli_on_stop_signals(on_signal);

    ct_collector s;
    /* a dry run must not create an outbox either */
    bool must_exist = (r.cmd->bit & C_EXISTING) != 0 || (r.cmd->bit == C_IMPORT && c.dry_run);
    e = ct_collector_open(&s, PROG, c.outbox, c.map_size, must_exist, stdout, stderr);
    if (e == CT_OK) e = ct_collector_dispatch(r.cmd->bit, &s, &c);
    fflush(stdout);
    ct_collector_close(&s);
    return ct_collector_exit_code(e);
}
