/* main.c — chitieu-collector: a district office's durable outbox and its
 * delivery to the aggregator (docs/collector.md).
 *
 *   chitieu-collector COMMAND --outbox DIR [options]
 *   init | add | cancel | import FILE.csv | simulate | run | status | rejected
 *
 * Exit codes: 0 ok, 1 runtime failure (store, network, give-up), 2 usage or
 * configuration error (bad option, bad campaign/roster, wrong district, bad
 * sign-up fields, key file problems). "queued <id>" is printed only after the
 * outbox transaction committed durably.
 *
 * Invariants: main owns the campaign, the outbox handle, the person key (wiped
 * on exit) and the ZeroMQ context; every path out of run_command() releases
 * them through one cleanup block.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_deliver.h"
#include "ct_import.h"
#include "ct_keys.h"
#include "ct_cli.h"
#include "ct_log.h"
#include "ct_outbox.h"
#include "ct_simulate.h"
#include "ct_time.h"
#include "ct_wire.h"

#define PROG "chitieu-collector"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

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
    C_ALL = 0x1ff,
    C_QUEUEING = C_ADD | C_CANCEL | C_IMPORT | C_SIM,
};

enum {
    O_OUTBOX = 1000,
    O_CAMPAIGN,
    O_DISTRICT,
    O_MAPSIZE,
    O_LOGLEVEL,
    O_AGENT,
    O_PROGRAM,
    O_NATID,
    O_PHASH,
    O_PKEY,
    O_COMMUNE,
    O_TIME,
    O_AMOUNT,
    O_MONTHS,
    O_GROUP,
    O_NOVALIDATE,
    O_STRICT,
    O_SEED,
    O_FILL,
    O_COUNT,
    O_RTF,
    O_DDEF,
    O_SERVER,
    O_KEYS,
    O_SKEY,
    O_INSECURE,
    O_WINDOW,
    O_BATCH,
    O_ONCE,
    O_GIVEUP,
    O_RESEND,
    O_STATS,
    O_TIMEOUT,
    O_REASON,
    O_HELP,
};

typedef struct {
    int id;
    const char *name;
    int has_arg;
    unsigned cmds;
} optdef;

static const optdef optdefs[] = {
    {O_OUTBOX, "outbox", 1, C_ALL},
    {O_CAMPAIGN, "campaign", 1, C_ALL},
    {O_DISTRICT, "district", 1, C_INIT | C_QUEUEING},
    {O_MAPSIZE, "map-size", 1, C_ALL},
    {O_LOGLEVEL, "log-level", 1, C_ALL},
    {O_AGENT, "agent", 1, C_ADD | C_CANCEL},
    {O_PROGRAM, "program", 1, C_ADD | C_CANCEL},
    {O_NATID, "national-id", 1, C_ADD | C_CANCEL},
    {O_PHASH, "person-hash", 1, C_ADD | C_CANCEL},
    {O_PKEY, "person-key", 1, C_ADD | C_CANCEL | C_IMPORT | C_SIM},
    {O_COMMUNE, "commune", 1, C_ADD | C_CANCEL},
    {O_TIME, "time", 1, C_ADD | C_CANCEL},
    {O_AMOUNT, "amount", 1, C_ADD},
    {O_MONTHS, "months", 1, C_ADD},
    {O_GROUP, "group", 1, C_ADD},
    {O_NOVALIDATE, "no-validate", 0, C_ADD | C_CANCEL | C_IMPORT},
    {O_STRICT, "strict", 0, C_IMPORT},
    {O_SEED, "seed", 1, C_SIM},
    {O_FILL, "fill", 1, C_SIM},
    {O_COUNT, "count", 1, C_SIM},
    {O_RTF, "realtime-factor", 1, C_SIM},
    {O_DDEF, "district-defaults", 0, C_SIM},
    {O_SERVER, "server", 1, C_RUN | C_STATUS},
    {O_KEYS, "keys", 1, C_RUN | C_STATUS},
    {O_SKEY, "server-key", 1, C_RUN | C_STATUS},
    {O_INSECURE, "insecure", 0, C_RUN | C_STATUS},
    {O_WINDOW, "window", 1, C_RUN},
    {O_BATCH, "batch", 1, C_RUN},
    {O_ONCE, "once", 0, C_RUN},
    {O_GIVEUP, "give-up", 1, C_RUN},
    {O_RESEND, "resend-ms", 1, C_RUN},
    {O_STATS, "stats-interval", 1, C_RUN},
    {O_TIMEOUT, "timeout", 1, C_STATUS},
    {O_REASON, "reason", 1, C_REQUEUE},
    {O_HELP, "help", 0, C_ALL},
};
#define N_OPTDEFS (sizeof optdefs / sizeof optdefs[0])

typedef struct {
    const char *outbox, *campaign, *district, *map_size, *log_level;
    const char *agent, *program, *national_id, *person_hash, *person_key, *commune, *time;
    const char *amount, *months, *group;
    bool no_validate, strict;
    const char *seed, *fill, *count, *rtf;
    const char *server, *keys, *server_key;
    bool insecure, once;
    const char *window, *batch, *give_up, *resend, *stats, *timeout, *reason;
    const char *file;
} cli;

static const char usage_text[] =
    "usage: " PROG " COMMAND --outbox DIR [options]\n"
    "\n"
    "A district office's durable outbox: sign-ups are stored (fsynced) before\n"
    "\"queued\" is printed, and delivered to the aggregator exactly once.\n"
    "\n"
    "commands:\n"
    "  init      --district D [--campaign FILE]      create the outbox for office D\n"
    "  add       --agent A --program bhxh_tn|bhyt_hgd\n"
    "            (--national-id 12DIGITS --person-key FILE | --person-hash HEX64)\n"
    "            [--commune W] [--time ISO] [--amount VND] [--months M] [--group G]\n"
    "  cancel    --agent A --program P (--national-id N --person-key F | --person-hash H)\n"
    "            [--time ISO]                        undo an enrollment\n"
    "  import    FILE.csv [--person-key FILE] [--strict]\n"
    "            header: agent_id,program,action,national_id,commune,occurred_at,\n"
    "            months,amount,group; bad rows reported as FILE:LINE: reason\n"
    "  simulate  [--person-key F] [--seed N] [--fill F] [--count N]\n"
    "            [--realtime-factor F] [--district-defaults]\n"
    "  run       --server EP (--keys F --server-key F | --insecure) [--window W]\n"
    "            [--batch B] [--once] [--give-up SEC] [--stats-interval SEC]\n"
    "  status    [--server EP (--keys F --server-key F | --insecure) [--timeout MS]]\n"
    "  rejected                                      events the aggregator refused\n"
    "  requeue   [--reason NAME]                     send rejected events again (e.g.\n"
    "            after fixing the authorization file); same ids\n"
    "\n"
    "common options: --outbox DIR (required), --campaign FILE (default: the one\n"
    "given to init, else the built-in Lam Dong 2023 campaign), --district D\n"
    "(implicit init on first queue), --map-size SIZE[K|M|G] (default 1G),\n"
    "--log-level debug|info|warn|error, --no-validate (tests only: skip the\n"
    "local campaign check).\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see " PROG " --help)\n");
    return 2;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-' || v > max) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0)) return false;
    *out = v;
    return true;
}

static unsigned command_bit(const char *cmd)
{
    static const struct {
        const char *name;
        unsigned bit;
    } t[] = {{"init", C_INIT},     {"add", C_ADD},           {"cancel", C_CANCEL},
             {"import", C_IMPORT}, {"simulate", C_SIM},      {"run", C_RUN},
             {"status", C_STATUS}, {"rejected", C_REJECTED}, {"requeue", C_REQUEUE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(cmd, t[i].name) == 0) return t[i].bit;
    return 0;
}

static int parse_cli(int argc, char **argv, unsigned cmd, cli *c)
{
    struct option lopts[N_OPTDEFS + 1];
    for (size_t i = 0; i < N_OPTDEFS; i++) {
        lopts[i].name = optdefs[i].name;
        lopts[i].has_arg = optdefs[i].has_arg ? required_argument : no_argument;
        lopts[i].flag = NULL;
        lopts[i].val = optdefs[i].id;
    }
    memset(&lopts[N_OPTDEFS], 0, sizeof lopts[N_OPTDEFS]);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        if (ch == '?' || ch == ':') {
            return usage_error("unknown option or missing value: %s", argv[optind - 1]);
        }
        if (ch == 'h' || ch == O_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        const optdef *d = NULL;
        for (size_t i = 0; i < N_OPTDEFS; i++)
            if (optdefs[i].id == ch) d = &optdefs[i];
        if (!d) return usage_error("bad option %s", argv[optind - 1]);
        if (!(d->cmds & cmd)) {
            fprintf(stderr, PROG ": option --%s does not apply to '%s'\n", d->name, argv[0]);
            return 2;
        }
        switch (ch) {
        case O_OUTBOX:
            c->outbox = optarg;
            break;
        case O_CAMPAIGN:
            c->campaign = optarg;
            break;
        case O_DISTRICT:
            c->district = optarg;
            break;
        case O_MAPSIZE:
            c->map_size = optarg;
            break;
        case O_LOGLEVEL:
            c->log_level = optarg;
            break;
        case O_AGENT:
            c->agent = optarg;
            break;
        case O_PROGRAM:
            c->program = optarg;
            break;
        case O_NATID:
            c->national_id = optarg;
            break;
        case O_PHASH:
            c->person_hash = optarg;
            break;
        case O_PKEY:
            c->person_key = optarg;
            break;
        case O_COMMUNE:
            c->commune = optarg;
            break;
        case O_TIME:
            c->time = optarg;
            break;
        case O_AMOUNT:
            c->amount = optarg;
            break;
        case O_MONTHS:
            c->months = optarg;
            break;
        case O_GROUP:
            c->group = optarg;
            break;
        case O_NOVALIDATE:
            c->no_validate = true;
            break;
        case O_STRICT:
            c->strict = true;
            break;
        case O_SEED:
            c->seed = optarg;
            break;
        case O_FILL:
            c->fill = optarg;
            break;
        case O_COUNT:
            c->count = optarg;
            break;
        case O_RTF:
            c->rtf = optarg;
            break;
        case O_DDEF:
            break; /* the default behaviour; accepted for clarity */
        case O_SERVER:
            c->server = optarg;
            break;
        case O_KEYS:
            c->keys = optarg;
            break;
        case O_SKEY:
            c->server_key = optarg;
            break;
        case O_INSECURE:
            c->insecure = true;
            break;
        case O_WINDOW:
            c->window = optarg;
            break;
        case O_BATCH:
            c->batch = optarg;
            break;
        case O_ONCE:
            c->once = true;
            break;
        case O_GIVEUP:
            c->give_up = optarg;
            break;
        case O_RESEND:
            c->resend = optarg;
            break;
        case O_STATS:
            c->stats = optarg;
            break;
        case O_TIMEOUT:
            c->timeout = optarg;
            break;
        case O_REASON:
            c->reason = optarg;
            break;
        default:
            break;
        }
    }
    int npos = argc - optind;
    if (cmd == C_IMPORT) {
        if (npos != 1) return usage_error("%s", "import needs exactly one CSV file");
        c->file = argv[optind];
    } else if (npos != 0) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (!c->outbox) return usage_error("%s", "--outbox DIR is required");
    return -1; /* continue */
}

/* ---- shared setup ---- */

typedef struct {
    cli *c;
    unsigned cmd;
    ct_outbox *ob;
    ct_outbox_info info;
    ct_campaign camp;
    bool camp_loaded;
    uint8_t pkey[CT_PERSON_KEY_BYTES];
    bool has_pkey;
    void *zctx;
} app;

static int load_campaign(app *a, const char *path)
{
    char errbuf[512];
    ct_err e = ct_campaign_load_arg(path, &a->camp, errbuf, sizeof errbuf);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s\n", errbuf[0] ? errbuf : ct_err_str(e));
        return 2;
    }
    a->camp_loaded = true;
    return 0;
}

static const char *stored_campaign_path(const app *a)
{
    if (a->c->campaign) return a->c->campaign;
    if (a->info.campaign_path[0] && strcmp(a->info.campaign_path, "builtin") != 0)
        return a->info.campaign_path;
    return NULL;
}

static int parse_district(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!parse_uint(s, UINT32_MAX, &v)) return usage_error("bad district code '%s'", s);
    *out = (uint32_t)v;
    return 0;
}

/* Initialises the outbox for --district (init, or implicit on first queue). */
static int do_init(app *a, bool explicit_cmd)
{
    uint32_t district;
    if (!a->c->district) {
        if (explicit_cmd) return usage_error("%s", "init needs --district D");
        fprintf(stderr,
                PROG ": outbox %s is not initialised: run `" PROG
                     " init --outbox %s --district D` first (or pass --district)\n",
                a->c->outbox, a->c->outbox);
        return 2;
    }
    int rc = parse_district(a->c->district, &district);
    if (rc) return rc;
    if (!a->camp_loaded && (rc = load_campaign(a, a->info.initialised ? stored_campaign_path(a)
                                                                      : a->c->campaign)) != 0)
        return rc;
    const ct_district *d = ct_campaign_district(&a->camp, district);
    if (!d) {
        fprintf(stderr, PROG ": district %u is not in campaign '%s' (", district, a->camp.id);
        for (size_t i = 0; i < a->camp.n_districts; i++)
            fprintf(stderr, "%s%u", i ? ", " : "known: ", a->camp.districts[i].code);
        fprintf(stderr, ")\n");
        return 2;
    }
    char path[PATH_MAX];
    const char *store = "builtin";
    if (a->c->campaign && strcmp(a->c->campaign, "builtin") != 0) {
        if (!realpath(a->c->campaign, path)) {
            fprintf(stderr, PROG ": %s: %s\n", a->c->campaign, strerror(errno));
            return 2;
        }
        store = path;
    }
    char err[512];
    ct_err e =
        ct_outbox_init(a->ob, district, a->camp.id,
                       a->info.initialised && !a->c->campaign ? NULL : store, err, sizeof err);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s: %s\n", a->c->outbox, err);
        return e == CT_ERR_CONFIG ? 2 : 1;
    }
    bool was = a->info.initialised;
    if (ct_outbox_get_info(a->ob, &a->info) != CT_OK) {
        fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a->ob));
        return 1;
    }
    if (explicit_cmd || !was) {
        char hex[2 * CT_ORIGIN_LEN + 1];
        for (int i = 0; i < CT_ORIGIN_LEN; i++)
            sprintf(hex + 2 * i, "%02x", a->info.origin[i]);
        printf("%s %s: district %u (%s), campaign %s, origin %s\n",
               was ? "outbox" : "initialised outbox", a->c->outbox, district, d->name, a->camp.id,
               hex);
    }
    return 0;
}

/* Opens the campaign for a queueing command, checks the district. */
static int prepare_queueing(app *a)
{
    int rc;
    if (!a->info.initialised) {
        if ((rc = do_init(a, false)) != 0) return rc;
    } else {
        if (a->c->district) {
            uint32_t d;
            if ((rc = parse_district(a->c->district, &d)) != 0) return rc;
            if (d != a->info.district) {
                fprintf(stderr, PROG ": wrong district: outbox %s belongs to district %u, not %u\n",
                        a->c->outbox, a->info.district, d);
                return 2;
            }
        }
        if (!a->camp_loaded && (rc = load_campaign(a, stored_campaign_path(a))) != 0) return rc;
    }
    if (strcmp(a->camp.id, a->info.campaign_id) != 0) {
        fprintf(stderr, PROG ": campaign file is for '%s' but this outbox is for '%s'\n",
                a->camp.id, a->info.campaign_id);
        return 2;
    }
    if (!ct_campaign_district(&a->camp, a->info.district)) {
        fprintf(stderr, PROG ": district %u of this outbox is not in campaign '%s'\n",
                a->info.district, a->camp.id);
        return 2;
    }
    if (a->c->person_key) {
        char err[512];
        ct_err e = ct_person_key_load(a->c->person_key, a->pkey, err, sizeof err);
        if (e != CT_OK) {
            fprintf(stderr, PROG ": %s\n", err[0] ? err : ct_err_str(e));
            return 2;
        }
        a->has_pkey = true;
    }
    return 0;
}

static void id_hex(const app *a, uint64_t seq, char out[2 * CT_EVENT_ID_LEN + 1])
{
    uint8_t id[CT_EVENT_ID_LEN];
    ct_event_id_make(id, a->info.origin, seq);
    ct_event_id_hex(id, out);
}

/* ---- commands ---- */

static int cmd_add(app *a, ct_action action)
{
    int rc = prepare_queueing(a);
    if (rc) return rc;
    cli *c = a->c;
    if (!c->agent || !c->program) return usage_error("%s", "add/cancel need --agent and --program");
    if (!c->national_id && !c->person_hash)
        return usage_error("%s", "add/cancel need --national-id (with --person-key) or "
                                 "--person-hash");
    ct_signup_fields f = {
        .agent = c->agent,
        .program = c->program,
        .action = action == CT_ACTION_CANCEL ? "cancel" : "enroll",
        .national_id = c->national_id,
        .person_hash = c->person_hash,
        .commune = c->commune,
        .occurred_at = c->time,
        .months = c->months,
        .amount = c->amount,
        .group = c->group,
    };
    ct_signup_ctx ctx = {
        .campaign = &a->camp,
        .district = a->info.district,
        .person_key = a->has_pkey ? a->pkey : NULL,
        .validate = !c->no_validate,
        .time_required = false,
        .default_time_ms = ct_now_ms(),
    };
    ct_event ev;
    char why[300];
    ct_err e = ct_signup_build(&f, &ctx, &ev, why, sizeof why);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s refused (%s): %s; nothing queued\n",
                action == CT_ACTION_CANCEL ? "cancel" : "add", ct_err_name(e), why);
        return 2;
    }
    ct_outbox_txn *t;
    uint64_t seq = 0;
    if ((e = ct_outbox_begin(a->ob, &t)) != CT_OK) {
        fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a->ob));
        return 1;
    }
    if ((e = ct_outbox_queue(t, &ev, NULL, NULL, &seq)) != CT_OK) {
        ct_outbox_abort(t);
        fprintf(stderr, PROG ": cannot queue: %s %s\n", ct_err_str(e), ct_outbox_errmsg(a->ob));
        return 1;
    }
    if ((e = ct_outbox_commit(t)) != CT_OK) {
        fprintf(stderr, PROG ": commit failed, nothing queued: %s\n", ct_outbox_errmsg(a->ob));
        return 1;
    }
    char hex[2 * CT_EVENT_ID_LEN + 1];
    id_hex(a, seq, hex);
    printf("queued %s\n", hex);
    return 0;
}

static int cmd_import(app *a)
{
    int rc = prepare_queueing(a);
    if (rc) return rc;
    ct_signup_ctx ctx = {
        .campaign = &a->camp,
        .district = a->info.district,
        .person_key = a->has_pkey ? a->pkey : NULL,
        .validate = !a->c->no_validate,
        .time_required = true,
        .default_time_ms = 0,
    };
    ct_import_stats st;
    char err[600];
    ct_err e = ct_import_csv(a->ob, a->c->file, &ctx, stderr, stderr, &st, err, sizeof err);
    printf("%s: %zu rows: %zu queued, %zu already queued, %zu bad\n", a->c->file, st.rows,
           st.queued, st.already, st.bad);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": import stopped: %s\n", err);
        return e == CT_ERR_CONFIG ? 2 : 1;
    }
    if (a->c->strict && st.bad) return 1;
    return 0;
}

static int cmd_simulate(app *a)
{
    int rc = prepare_queueing(a);
    if (rc) return rc;
    cli *c = a->c;
    ct_sim_opts o = {
        .campaign = &a->camp,
        .district = a->info.district,
        .person_key = a->has_pkey ? a->pkey : NULL,
        .seed = 1,
        .fill = 1.0,
        .count = -1,
        .realtime_factor = 0,
        .stop = &g_stop,
        .progress = stderr,
    };
    uint64_t v;
    if (c->seed) {
        if (!parse_uint(c->seed, UINT64_MAX, &v)) return usage_error("bad --seed '%s'", c->seed);
        o.seed = v;
    }
    if (c->count) {
        if (!parse_uint(c->count, 100000000, &v)) return usage_error("bad --count '%s'", c->count);
        o.count = (int64_t)v;
    }
    if (c->fill && (!parse_double(c->fill, &o.fill) || o.fill > 10))
        return usage_error("bad --fill '%s' (0..10)", c->fill);
    if (c->rtf && !parse_double(c->rtf, &o.realtime_factor))
        return usage_error("bad --realtime-factor '%s'", c->rtf);
    ct_sim_summary s;
    char err[512];
    ct_err e = ct_simulate_run(a->ob, &o, &s, err, sizeof err);
    const ct_district *d = ct_campaign_district(&a->camp, a->info.district);
    printf("simulated district %u (%s): %zu staff, %zu bhxh_tn + %zu bhyt_hgd enrollments, "
           "%zu repeats, %zu cancels = %zu events; %zu queued, %zu already queued",
           a->info.district, d ? d->name : "?", s.agents, s.enroll[0], s.enroll[1], s.repeats,
           s.cancels, s.total, s.queued, s.already);
    if (!c->count) printf("; %zu staff below quota", s.agents_below_quota);
    printf("\n");
    if (e != CT_OK) {
        fprintf(stderr, PROG ": simulate: %s\n", err);
        return e == CT_ERR_UNKNOWN_DISTRICT ? 2 : 1;
    }
    if (g_stop) return 1;
    return 0;
}

static int client_keys(app *a, ct_deliver_opts *o)
{
    cli *c = a->c;
    if (c->insecure && (c->keys || c->server_key))
        return usage_error("%s", "--insecure cannot be combined with --keys/--server-key");
    if (!c->insecure && (!c->keys || !c->server_key))
        return usage_error("%s", "CurveZMQ needs --keys FILE (this office's .key) and "
                                 "--server-key FILE (the aggregator's .pub); or --insecure");
    if (c->insecure) {
        o->secure = false;
        ct_log(CT_LOG_WARN, "INSECURE: plaintext connection, no authentication (--insecure)",
               "server=%s", c->server);
        return 0;
    }
    char err[512];
    ct_keypair kp;
    ct_err e = ct_keypair_load(c->keys, &kp, err, sizeof err);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : ct_err_str(e));
        return 2;
    }
    e = ct_public_key_load(c->server_key, o->server_key, err, sizeof err);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : ct_err_str(e));
        return 2;
    }
    memcpy(o->public_key, kp.public_z85, sizeof o->public_key);
    memcpy(o->secret_key, kp.secret_z85, sizeof o->secret_key);
    sodium_memzero(&kp, sizeof kp);
    o->secure = true;
    return 0;
}

/* run --once while another run delivers this outbox: watch it drain. */
static int wait_drained(app *a, int give_up_s)
{
    ct_log(CT_LOG_INFO, "another run is delivering this outbox; waiting for it to drain",
           "outbox=%s", a->c->outbox);
    int64_t last_change = ct_monotonic_ms();
    uint64_t last_queued = UINT64_MAX;
    int64_t last_ack = -1;
    while (!g_stop) {
        ct_outbox_info in;
        if (ct_outbox_get_info(a->ob, &in) != CT_OK) {
            fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a->ob));
            return 1;
        }
        if (in.queued == 0) return 0;
        int64_t now = ct_monotonic_ms();
        if (in.queued != last_queued || in.last_ack_ms != last_ack) {
            last_queued = in.queued;
            last_ack = in.last_ack_ms;
            last_change = now;
        } else if (give_up_s > 0 && now - last_change > (int64_t)give_up_s * 1000) {
            fprintf(stderr,
                    PROG ": run: outbox %s is not draining (%" PRIu64
                         " queued, no ack for %d s; see the delivering run's log)\n",
                    a->c->outbox, in.queued, give_up_s);
            return 1;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 1;
}

static int cmd_run(app *a)
{
    cli *c = a->c;
    if (!a->info.initialised) {
        fprintf(stderr, PROG ": outbox %s is not initialised (run init first)\n", c->outbox);
        return 2;
    }
    if (!c->server) return usage_error("%s", "run needs --server ENDPOINT");
    ct_deliver_opts o;
    ct_deliver_opts_default(&o);
    o.endpoint = c->server;
    o.once = c->once;
    o.stop = &g_stop;
    uint64_t v;
    if (c->window) {
        if (!parse_uint(c->window, 1u << 20, &v) || v == 0)
            return usage_error("bad --window '%s' (1..1048576)", c->window);
        o.window = (size_t)v;
    }
    if (c->batch) {
        if (!parse_uint(c->batch, CT_WIRE_MAX_EVENTS, &v) || v == 0)
            return usage_error("bad --batch '%s' (1..4096)", c->batch);
        o.batch = (size_t)v;
    }
    if (c->give_up) {
        if (!parse_uint(c->give_up, 86400 * 365, &v))
            return usage_error("bad --give-up '%s'", c->give_up);
        o.give_up_s = (int)v;
    }
    if (c->resend) {
        if (!parse_uint(c->resend, 3600000, &v) || v < 10)
            return usage_error("bad --resend-ms '%s'", c->resend);
        o.resend_ms = (int64_t)v;
        if (o.resend_max_ms < o.resend_ms) o.resend_max_ms = o.resend_ms;
    }
    if (c->stats) {
        if (!parse_uint(c->stats, 86400, &v))
            return usage_error("bad --stats-interval '%s'", c->stats);
        o.stats_interval_s = (int)v;
    }
    int rc = client_keys(a, &o);
    if (rc) return rc;
    /* one deliverer per outbox */
    char lockpath[PATH_MAX];
    snprintf(lockpath, sizeof lockpath, "%s/run.lock", c->outbox);
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        if (lfd >= 0) close(lfd);
        if (!o.once) {
            fprintf(stderr, PROG ": another `run` is already delivering outbox %s\n", c->outbox);
            return 2;
        }
        return wait_drained(a, o.give_up_s);
    }
    a->zctx = zmq_ctx_new();
    if (!a->zctx) {
        close(lfd);
        fprintf(stderr, PROG ": cannot create ZeroMQ context\n");
        return 1;
    }
    ct_deliver_stats st;
    char err[512];
    ct_err e = ct_deliver_run(a->ob, a->zctx, &o, &st, err, sizeof err);
    sodium_memzero(o.secret_key, sizeof o.secret_key);
    close(lfd);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": run: %s\n", err[0] ? err : ct_err_str(e));
        return e == CT_ERR_USAGE ? 2 : 1;
    }
    return 0;
}

static int cmd_status(app *a)
{
    cli *c = a->c;
    ct_outbox_info *in = &a->info;
    printf("outbox:     %s\n", c->outbox);
    if (!in->initialised) {
        printf("state:      not initialised\n");
        return 0;
    }
    const char *dname = "";
    if (load_campaign(a, stored_campaign_path(a)) == 0) {
        const ct_district *d = ct_campaign_district(&a->camp, in->district);
        if (d) dname = d->name;
    }
    char hex[2 * CT_ORIGIN_LEN + 1];
    for (int i = 0; i < CT_ORIGIN_LEN; i++)
        sprintf(hex + 2 * i, "%02x", in->origin[i]);
    printf("district:   %u %s\n", in->district, dname);
    printf("campaign:   %s\n", in->campaign_id);
    printf("origin:     %s\n", hex);
    printf("queued:     %" PRIu64 "\n", in->queued);
    printf("delivered:  %" PRIu64 "\n", in->delivered);
    printf("rejected:   %" PRIu64 "\n", in->rejected);
    printf("recorded:   %" PRIu64 "\n", in->next_seq - 1);
    if (in->last_ack_ms) {
        char ts[40];
        ct_time_format(in->last_ack_ms, 0, ts, sizeof ts);
        printf("last ack:   %s\n", ts);
    } else {
        printf("last ack:   never\n");
    }
    {
        char lockpath[PATH_MAX];
        snprintf(lockpath, sizeof lockpath, "%s/run.lock", c->outbox);
        int fd = open(lockpath, O_RDONLY | O_CLOEXEC);
        bool running = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        if (fd >= 0) close(fd);
        printf("delivery:   %s\n", running ? "a `run` is delivering this outbox (in-flight "
                                             "counts are in its stats lines)"
                                           : "no `run` active");
    }
    if (!c->server) return 0;
    ct_deliver_opts o;
    ct_deliver_opts_default(&o);
    o.endpoint = c->server;
    int rc = client_keys(a, &o);
    if (rc) return rc;
    uint64_t tmo = 2000;
    if (c->timeout && !parse_uint(c->timeout, 600000, &tmo))
        return usage_error("bad --timeout '%s'", c->timeout);
    a->zctx = zmq_ctx_new();
    if (!a->zctx) return 1;
    bool ok = false;
    char detail[200];
    ct_err e = ct_deliver_probe(a->zctx, &o, (int)tmo, &ok, detail, sizeof detail);
    sodium_memzero(o.secret_key, sizeof o.secret_key);
    if (e == CT_ERR_USAGE) {
        fprintf(stderr, PROG ": %s: %s\n", c->server, detail);
        return 2;
    }
    printf("server:     %s %s (%s)\n", c->server, ok ? "reachable" : "UNREACHABLE", detail);
    return ok ? 0 : 1;
}

typedef struct {
    app *a;
    size_t n;
} rej_ctx;

static ct_err print_rejected(void *ctx, uint64_t seq, uint16_t code, const uint8_t *b, size_t len)
{
    rej_ctx *r = ctx;
    char hex[2 * CT_EVENT_ID_LEN + 1];
    id_hex(r->a, seq, hex);
    ct_event ev;
    bool idk;
    r->n++;
    printf("%s seq=%" PRIu64 " reason=%s (%s)", hex, seq, ct_err_name(code), ct_err_str(code));
    if (ct_event_decode(b, len, &ev, &idk) == CT_OK) {
        char ts[40];
        ct_time_format(ev.occurred_ms, r->a->camp_loaded ? r->a->camp.tz_offset_min : 0, ts,
                       sizeof ts);
        printf(" agent=%s program=%s action=%s district=%u time=%s", ev.agent,
               ct_program_name(ev.program), ct_action_name(ev.action), ev.district, ts);
    }
    printf("\n");
    return CT_OK;
}

static int cmd_rejected(app *a)
{
    if (!a->info.initialised) {
        printf("outbox %s is not initialised\n", a->c->outbox);
        return 0;
    }
    if (load_campaign(a, stored_campaign_path(a)) != 0) a->camp_loaded = false;
    rej_ctx r = {a, 0};
    ct_err e = ct_outbox_rejected_each(a->ob, print_rejected, &r);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a->ob));
        return 1;
    }
    printf("%zu rejected event%s (kept; never resent)\n", r.n, r.n == 1 ? "" : "s");
    return 0;
}

static int cmd_requeue(app *a)
{
    int code = -1;
    if (a->c->reason) {
        for (int i = 1; i < 256 && code < 0; i++)
            if (ct_err_known(i) && strcmp(ct_err_name(i), a->c->reason) == 0) code = i;
        if (code < 0) return usage_error("unknown reason '%s' (see `rejected`)", a->c->reason);
    }
    size_t n = 0;
    if (ct_outbox_requeue(a->ob, code, &n) != CT_OK) {
        fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a->ob));
        return 1;
    }
    printf("requeued %zu event%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv)
{
    ct_log_set_component("collector");
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf(PROG " %s\n", CT_VERSION);
        return 0;
    }
    unsigned cmd = command_bit(argv[1]);
    if (!cmd) return usage_error("unknown command '%s'", argv[1]);
    cli c;
    memset(&c, 0, sizeof c);
    int rc = parse_cli(argc - 1, argv + 1, cmd, &c);
    if (rc >= 0) return rc;
    if (c.log_level && !ct_cli_set_log_level(c.log_level))
        return usage_error("bad --log-level '%s'", c.log_level);
    size_t map_size = 0;
    if (c.map_size && !ct_cli_parse_size(c.map_size, 1u << 20, &map_size))
        return usage_error("bad --map-size '%s' (e.g. 512M, 4G; at least 1M)", c.map_size);
    if (ct_crypto_init() != CT_OK) {
        fprintf(stderr, PROG ": cannot initialise libsodium\n");
        return 1;
    }
    ct_cli_on_stop_signals(on_signal);

    app a;
    memset(&a, 0, sizeof a);
    a.c = &c;
    a.cmd = cmd;
    char err[512];
    if (cmd & (C_RUN | C_STATUS | C_REJECTED | C_REQUEUE)) {
        /* these never create an outbox: a typo must not look like an empty one */
        char mdb[PATH_MAX];
        snprintf(mdb, sizeof mdb, "%s/data.mdb", c.outbox);
        if (access(mdb, F_OK) != 0) {
            fprintf(stderr, PROG ": no outbox at %s (create it with `" PROG " init`)\n", c.outbox);
            return 2;
        }
    }
    ct_err e = ct_outbox_open(c.outbox, map_size, &a.ob, err, sizeof err);
    if (e != CT_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return e == CT_ERR_CONFIG ? 2 : 1;
    }
    if ((e = ct_outbox_get_info(a.ob, &a.info)) != CT_OK) {
        fprintf(stderr, PROG ": %s\n", ct_outbox_errmsg(a.ob));
        ct_outbox_close(a.ob);
        return 1;
    }
    switch (cmd) {
    case C_INIT:
        rc = do_init(&a, true);
        break;
    case C_ADD:
        rc = cmd_add(&a, CT_ACTION_ENROLL);
        break;
    case C_CANCEL:
        rc = cmd_add(&a, CT_ACTION_CANCEL);
        break;
    case C_IMPORT:
        rc = cmd_import(&a);
        break;
    case C_SIM:
        rc = cmd_simulate(&a);
        break;
    case C_RUN:
        rc = cmd_run(&a);
        break;
    case C_STATUS:
        rc = cmd_status(&a);
        break;
    case C_REJECTED:
        rc = cmd_rejected(&a);
        break;
    case C_REQUEUE:
        rc = cmd_requeue(&a);
        break;
    default:
        rc = 2;
        break;
    }
    fflush(stdout);
    if (a.camp_loaded) ct_campaign_free(&a.camp);
    sodium_memzero(a.pkey, sizeof a.pkey);
    ct_outbox_close(a.ob);
    if (a.zctx) zmq_ctx_term(a.zctx);
    return rc;
}
