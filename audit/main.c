/* main.c — chitieu-audit: verify | replay | national-replay | export | rebuild | trace | life.
 *
 * Options (one ct_opt table), wiring and exit codes only; each command's
 * output is ct_audit_cmd_*.c (ct_audit_main.h); the auditor's rules
 * are the library (ct_verify.h, ct_replay.h, ct_export.h, ct_rebuild.h,
 * ct_trace.h, ct_lifelist.h, ct_natreplay.h over the engine ct_audit.h). Exit codes: 0 OK; 1
 * divergence found or runtime failure (the finding or error is printed); 2 usage or configuration
 * error. Every command opens the store read-only (safe on a live aggregator), except rebuild, which
 * creates a fresh store. docs/audit.md.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ct_audit_main.h"
#include "ct_campaign_default.h"
#include "ct_keys.h"
#include "ct_lifelist.h"
#include "ct_opt.h"
#include "ct_reorg.h"
#include "ct_status.h"

/* clang-format off */
#define O(n, k, f, c, a, h) {.name = n, .kind = k, .off = offsetof(ct_audit_cfg, f), .cmds = c, .arg = a, .help = h}
#define I(n, f, c, a, lo, hi, h) {.name = n, .kind = CT_OPT_INT, .off = offsetof(ct_audit_cfg, f), .cmds = c, \
                                  .arg = a, .min = lo, .max = hi, .help = h}
static const ct_opt OPTS[] = {
    O("data", CT_OPT_STR, data, 0, "DIR", "the store (rebuild: the fresh directory to create)"),
    O("file", CT_OPT_STR, file, VERIFY | REPLAY | REBUILD | TRACE | LIFE, "F.ctlog", "a .ctlog export"),
    O("campaign", CT_OPT_STR, campaign, 0, "FILE", "campaign file (default: built-in lamdong-2023)"),
    I("threads", threads, 0, "N", 1, 64, "threads for the per-record checks, this one included "
      "(default: CPUs, at most 4; 1 = single-threaded)"),
    O("quiet", CT_OPT_FLAG, quiet, 0, NULL, "no progress lines on stderr"),
    O("no-ids", CT_OPT_FLAG, no_ids, VERIFY, NULL, "skip the ids index check"),
    O("format", CT_OPT_STR, format, REPLAY | EXPORT | TRACE | NATREPLAY | LIFE, "FMT",
      "replay: table|json|csv|commune-csv; national-replay: table|json|csv; export: ctlog|jsonl|csv; trace: table|jsonl; life: table|csv|json"),
    O("output", CT_OPT_STR, output, REPLAY | EXPORT | NATREPLAY | LIFE, "FILE", "written atomically; '-' = stdout"),
    I("seq", seq, REPLAY | TRACE, "N", 0, 0, "replay: up to seq N; trace: the event at seq N"),
    O("time", CT_OPT_STR, time, REPLAY, "ISO", "replay up to the last record received at or before ISO"),
    O("now", CT_OPT_STR, now, REPLAY, "ISO", "report clock (default: record N's receive time, or --time)"),
    O("staff", CT_OPT_FLAG, staff, REPLAY, NULL, "the per-staff table too"),
    O("feed-label", CT_OPT_STR, feed, REPLAY, "LABEL", "feed label of the report (default replay; "
      "give the reporter's, e.g. live, to reproduce its report byte for byte)"),
    I("from-seq", from_seq, EXPORT, "A", 1, 0, "first seq"),
    I("to-seq", to_seq, EXPORT, "B", 1, 0, "last seq"),
    O("from-time", CT_OPT_STR, from_time, EXPORT, "ISO", "from the first record received at or after ISO"),
    O("to-time", CT_OPT_STR, to_time, EXPORT, "ISO", "to the last of the prefix received at or before ISO"),
    O("input", CT_OPT_STR, input, REBUILD, "F.ctlog", "the export to rebuild from"),
    O("agent", CT_OPT_STR, agent, TRACE, "ID", "events of this agent"),
    I("district", district, TRACE, "CODE", 1, 4294967295.0, "events of this district"),
    O("person", CT_OPT_STR, person, TRACE, "HEX", "person hash or a prefix of it (8 to 64 hex digits)"),
    O("day", CT_OPT_STR, day, TRACE, "YYYY-MM-DD", "events of this campaign-local day"),
    O("event", CT_OPT_STR, event, TRACE, "HEX", "the event with this id (32 hex digits)"),
    O("kind", CT_OPT_STR, kind, LIFE, "KIND,...", "life entries of these kinds: void, correct, "
      "target, close, reopen, reorg"),
    I("unit", unit, LIFE, "CODE", 0, 65535, "life entries of this unit (0: the province, the "
      "per-staff quota)"),
    O("national", CT_OPT_STR, national, NATREPLAY, "FILE", "the national campaign file"),
    O("sources", CT_OPT_STR, sources, NATREPLAY, "CODE=PATH,...", "each province's store "
      "directory or .ctlog export"),
    O("pins", CT_OPT_STR, pins, NATREPLAY, "PINS", "the national report's pins (its \"pins\" "
      "field or Pins: line): now_ms/code:seq:feed:age_ms,..."),
    {.name = "units", .kind = CT_OPT_CHOICE, .off = offsetof(ct_audit_cfg, units), .cmds = REPLAY,
     .choices = ct_units_names, .def = "current", .help = "the report's units: current (the "
     "reorganizations in force at the report clock applied) or original; the reporter's --units"},
    {0}};
/* clang-format on */

static const ct_opt_cmd CMDS[] = {
    {"verify", VERIFY, "(--data DIR | --file F.ctlog) [options]", 0, 0,
     "check seq continuity, the hash chain, every event, the ids index, and recount everything "
     "with the tally rule against the stored counts (a .ctlog: chain, trailer, recount)"},
    {"replay", REPLAY, "(--data DIR | --file F.ctlog) (--seq N | --time ISO) [options]", 0, 0,
     "the status report exactly as chitieu-reporter renders it at a log position"},
    {"export", EXPORT, "--data DIR --format ctlog|jsonl|csv --output FILE [range]", 0, 0,
     "the log (or a seq or receive-time range) as ctlog (self-verifying), jsonl or csv"},
    {"rebuild", REBUILD, "--input F.ctlog --data NEWDIR [options]", 0, 0,
     "verify a ctlog export and import it into a fresh data directory, then check it"},
    {"national-replay", NATREPLAY, "--national FILE --sources CODE=PATH,... --pins PINS [options]",
     0, 0, "the national report exactly as chitieu-reporter --national rendered it at its pins"},
    {"trace", TRACE,
     "(--data DIR | --file F.ctlog) (--agent|--district|--person|--day|--event|--seq)...", 0, 0,
     "list the events of an agent, district, person hash, day, id or seq, with the tally "
     "outcome, each followed by the voids and corrections that name it (actor, reason, outcome)"},
    {"life", LIFE, "(--data DIR | --file F.ctlog) [--kind K,...] [--unit CODE] [--format F]", 0, 0,
     "list the campaign life entries (voids, corrections, target revisions, closed and reopened "
     "days, reorganizations) with actor, reason, fields and outcome"},
    {0}};

/* clang-format off */
static const ct_opt_spec SPEC = {.prog = "chitieu-audit", .usage = "COMMAND [options]", .cmds = CMDS,
    .opts = OPTS, .about = "Audits the aggregator's hash-chained log against its counts (docs/audit.md).",
    .epilog = "Exit: 0 ok, 1 divergence or runtime failure, 2 usage/config error."};
/* clang-format on */

int ct_audit_main_fail(int rc, const char *msg)
{
    fprintf(stderr, "chitieu-audit: %s\n", msg);
    return rc;
}

int ct_audit_main_usage(const char *msg)
{
    return ct_opt_usage_error(&SPEC, "%s", msg);
}

/* The finding, if any, on stdout as "FAIL ..." (exit 1). */
int ct_audit_main_finding(const ct_audit *a, int rc_ok)
{
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    if (!r.diverged) return rc_ok;
    printf("FAIL %s\n", r.finding);
    for (const char *p = r.more; *p;) { /* every other differing counter */
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("FAIL %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
    return EXIT_DIVERGED;
}

/* The checks that need no file: usage errors before anything is opened. */
static const char *check_args(unsigned cmd, const ct_audit_cfg *o, const ct_opt_result *res)
{
    ct_status_format f;
    ct_lifelist_format lf;
    switch (cmd) {
    case REPLAY:
        if (res->given[O_SEQ] == !!o->time) return "give exactly one of --seq N or --time ISO";
        if (o->format && ct_status_format_parse(o->format, &f))
            return "--format: expected table, json, csv or commune-csv";
        return NULL;
    case EXPORT:
        if (!o->data) return "--data DIR is required";
        if (!o->output) return "--output FILE is required";
        if (!o->format) return "--format ctlog|jsonl|csv is required";
        if (strcmp(o->format, "ctlog") && strcmp(o->format, "jsonl") && strcmp(o->format, "csv"))
            return "--format: expected ctlog, jsonl or csv";
        if ((o->from_seq || o->to_seq) && (o->from_time || o->to_time))
            return "give a seq range or a time range, not both";
        return NULL;
    case REBUILD:
        return (o->input || o->file) && o->data ? NULL
                                                : "--input F.ctlog and --data NEWDIR are required";
    case NATREPLAY:
        if (!o->national || !o->pins) return "--national FILE and --pins PINS are required";
        if (o->format && strcmp(o->format, "table") && strcmp(o->format, "json") &&
            strcmp(o->format, "csv"))
            return "--format: expected table, json or csv";
        return NULL;
    case TRACE:
        if (!o->agent && !o->district && !o->person && !o->day && !o->event && !res->given[O_SEQ])
            return "give at least one of --agent, --district, --person, --day, --event, --seq";
        if (res->given[O_SEQ] && o->seq < 1) return "--seq: a seq is 1 or more";
        if (o->format && strcmp(o->format, "jsonl") && strcmp(o->format, "table"))
            return "--format: expected table or jsonl";
        return NULL;
    case LIFE:
        if (o->format && ct_lifelist_format_parse(o->format, &lf))
            return "--format: expected table, csv or json";
        return NULL;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ct_audit_cfg o = {0};
    ct_opt_result res;
    if (ct_opt_parse(&SPEC, argc, argv, &o, &res) != CT_OK) return EXIT_USAGE;
    if (res.exit_now) return 0;
    assert(strcmp(OPTS[O_SEQ].name, "seq") == 0);
    assert(strcmp(OPTS[O_UNIT].name, "unit") == 0);
    unsigned cmd = res.cmd->bit;
    const char *bad = check_args(cmd, &o, &res);
    if (bad) return ct_audit_main_usage(bad);
    if (ct_crypto_init() != CT_OK)
        return ct_audit_main_fail(EXIT_DIVERGED, "libsodium initialisation failed");
    if (cmd == NATREPLAY)
        return ct_audit_cmd_natreplay(&o,
                                      o.threads ? (unsigned)o.threads : ct_audit_default_threads());
    char err[1024] = "";
    ct_campaign c;
    ct_err e = ct_campaign_load_arg(o.campaign, &c, err, sizeof err);
    if (e) return ct_audit_main_fail(EXIT_USAGE, err[0] ? err : ct_err_str(e));
    ct_audit_src src;
    const char *dir = cmd == REBUILD ? NULL : o.data;
    const char *file = cmd == EXPORT ? NULL : cmd == REBUILD && o.input ? o.input : o.file;
    e = ct_audit_src_open(&src, &c, dir, file, err, sizeof err);
    int rc = e == CT_ERR_USAGE && !!dir == !!file ? ct_audit_main_usage(err)
             : e ? ct_audit_main_fail(e == CT_ERR_USAGE ? EXIT_USAGE : EXIT_DIVERGED, err)
                 : 0;
    ct_audit_opts ao = {.campaign = &c,
                        .threads = o.threads ? (unsigned)o.threads : ct_audit_default_threads()};
    ct_audit a;
    memset(&a, 0, sizeof a); /* ct_audit_free is safe on it if no command starts a walk */
    if (!rc && cmd == VERIFY) rc = ct_audit_cmd_verify(&o, &src, &ao, &a);
    if (!rc && cmd == REPLAY) rc = ct_audit_cmd_replay(&o, &res, &src, &ao, &a);
    if (!rc && cmd == EXPORT) rc = ct_audit_cmd_export(&o, &src, &c);
    if (!rc && cmd == REBUILD) rc = ct_audit_cmd_rebuild(&o, &src, &ao, &a);
    if (!rc && cmd == TRACE) rc = ct_audit_cmd_trace(&o, &src, &ao, &a);
    if (!rc && cmd == LIFE) rc = ct_audit_cmd_life(&o, &res, &src, &ao, &a);
    ct_audit_free(&a);
    ct_audit_src_close(&src);
    ct_campaign_free(&c);
    return rc;
}
