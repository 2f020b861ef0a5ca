/* main.c — chitieu-audit: verify | replay | export | rebuild | trace.
 *
 * Exit codes: 0 OK; 1 divergence found or runtime failure (the finding or
 * error is printed); 2 usage or configuration error. Each command opens the
 * store read-only (short read transactions: safe on a live aggregator),
 * except rebuild, which creates a fresh store. docs/audit.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_audit.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_ctlog.h"
#include "ct_export.h"
#include "ct_file.h"
#include "ct_keys.h"
#include "ct_status.h"
#include "ct_store.h"
#include "ct_time.h"

#define EXIT_DIVERGED 1
#define EXIT_USAGE 2

static const char *prog_name = "chitieu-audit";

static void usage_main(FILE *f)
{
    fprintf(f, "usage: chitieu-audit COMMAND [options]   (COMMAND --help for details)\n"
               "  verify   check seq continuity, the hash chain, every event, the ids index,\n"
               "           and recount everything with the tally rule against the stored counts\n"
               "  replay   the status report as of a log position (--seq N | --time ISO)\n"
               "  export   the log (or a range) as ctlog (self-verifying), jsonl or csv\n"
               "  rebuild  import a ctlog export into a fresh data directory\n"
               "  trace    list the events of one agent, district, person hash or day\n"
               "Exit: 0 ok, 1 divergence or runtime failure, 2 usage/config error.\n"
               "Options common to all: --campaign FILE (default: the built-in lamdong-2023);\n"
               "  --threads N: threads for the per-record checks, this one included (default:\n"
               "  CPUs, <= 4; 1 = single-threaded); --quiet: no progress lines on stderr.\n");
}

static const char *const HELP_VERIFY =
    "usage: chitieu-audit verify (--data DIR | --file EXPORT.ctlog) [--campaign FILE]\n"
    "                            [--no-ids] [--threads N] [--quiet]\n"
    "Walks the whole log in order: seq 1..head without gaps, every record's hash\n"
    "= BLAKE2b-256(prev || body), each event decodes and passes the campaign check,\n"
    "its id maps to its seq in the ids index (store; --no-ids skips), and a recount\n"
    "with the tally rule equals the stored counts. Prints \"OK seq=N head=HEX\" or\n"
    "the first divergence (\"seq N: hash mismatch ...\", \"seq N missing ...\",\n"
    "\"count <key>: stored X, recount Y\") and exits 1. On a .ctlog file it checks\n"
    "the chain from the header's prev, the trailer, and recounts (from seq 1).\n";

static const char *const HELP_REPLAY =
    "usage: chitieu-audit replay (--data DIR | --file F.ctlog) [--campaign FILE]\n"
    "          (--seq N | --time ISO) [--now ISO] [--format table|json|csv] [--staff]\n"
    "          [--feed-label LABEL] [--output FILE]\n"
    "Recounts the log up to seq N (or up to the last record received at or before\n"
    "--time, stopping at the first record received later) and prints the status\n"
    "report exactly as chitieu-reporter renders it (ct_status_render) at that\n"
    "position: seq N, chain head at N, clock --now (default: the receive time of\n"
    "record N, or --time), feed label --feed-label (default \"replay\"; give the\n"
    "label the reporter printed, e.g. \"live\", to reproduce its report byte for byte).\n";

static const char *const HELP_EXPORT =
    "usage: chitieu-audit export --data DIR [--campaign FILE]\n"
    "          [--from-seq A] [--to-seq B] | [--from-time ISO] [--to-time ISO]\n"
    "          --format ctlog|jsonl|csv --output FILE   (FILE '-' = stdout)\n"
    "ctlog: header map, the records exactly as stored, trailer (self-verifying;\n"
    "verify --file and rebuild read it). jsonl/csv: one row per record with the\n"
    "decoded event (person as its 64-hex keyed hash, never a national ID).\n"
    "Time ranges select records by receive time: from the first received at or\n"
    "after --from-time to the last of the prefix received at or before --to-time.\n"
    "The output file is written atomically (temp file + rename).\n";

static const char *const HELP_REBUILD =
    "usage: chitieu-audit rebuild --input F.ctlog --data NEWDIR [--campaign FILE]\n"
    "Verifies the export (chain + recount), imports it into a fresh data directory\n"
    "keeping seq, receive time and collector of every record, then checks that the\n"
    "new store's counts and chain head equal the recount; prints them.\n";

static const char *const HELP_TRACE =
    "usage: chitieu-audit trace (--data DIR | --file F.ctlog) [--campaign FILE]\n"
    "          (--agent ID | --district CODE | --person HEX | --day YYYY-MM-DD)...\n"
    "          [--format table|jsonl]\n"
    "Lists the matching events (all filters must match): seq, occurred-at and\n"
    "received (campaign time zone), collector, district, agent, program, action,\n"
    "person hash prefix, and the tally outcome at replay (COUNTED, REPEAT,\n"
    "CANCELLED, CANCEL_NOOP, CANCEL_FOREIGN). --person takes the hex hash or a\n"
    "prefix of it (at least 8 hex digits).\n";

static int usage_err(const char *help, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_err(const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(help, stderr);
    return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_DIVERGED;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

/* ---- common options ---- */

typedef struct {
    const char *data, *file, *campaign_path, *output, *input, *format, *now, *feed_label;
    const char *seq, *time, *from_seq, *to_seq, *from_time, *to_time;
    const char *agent, *district, *person, *day;
    const char *threads;
    int staff, no_ids, quiet, help;
} opts;

enum {
    O_DATA = 1000,
    O_FILE,
    O_CAMPAIGN,
    O_OUTPUT,
    O_INPUT,
    O_FORMAT,
    O_NOW,
    O_FEED,
    O_SEQ,
    O_TIME,
    O_FROM_SEQ,
    O_TO_SEQ,
    O_FROM_TIME,
    O_TO_TIME,
    O_AGENT,
    O_DISTRICT,
    O_PERSON,
    O_DAY,
    O_STAFF,
    O_NO_IDS,
    O_QUIET,
    O_HELP,
    O_THREADS
};

static const struct option LONGOPTS[] = {{"data", required_argument, 0, O_DATA},
                                         {"file", required_argument, 0, O_FILE},
                                         {"campaign", required_argument, 0, O_CAMPAIGN},
                                         {"output", required_argument, 0, O_OUTPUT},
                                         {"input", required_argument, 0, O_INPUT},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {"now", required_argument, 0, O_NOW},
                                         {"feed-label", required_argument, 0, O_FEED},
                                         {"seq", required_argument, 0, O_SEQ},
                                         {"time", required_argument, 0, O_TIME},
                                         {"from-seq", required_argument, 0, O_FROM_SEQ},
                                         {"to-seq", required_argument, 0, O_TO_SEQ},
                                         {"from-time", required_argument, 0, O_FROM_TIME},
                                         {"to-time", required_argument, 0, O_TO_TIME},
                                         {"agent", required_argument, 0, O_AGENT},
                                         {"district", required_argument, 0, O_DISTRICT},
                                         {"person", required_argument, 0, O_PERSON},
                                         {"day", required_argument, 0, O_DAY},
                                         {"staff", no_argument, 0, O_STAFF},
                                         {"no-ids", no_argument, 0, O_NO_IDS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"help", no_argument, 0, O_HELP},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {0, 0, 0, 0}};

/* allowed: string of the O_* codes (as chars offset from 1000) this command takes */
/* parse_opts() result when --help was given and printed: the command exits 0. */
#define OPTS_HELP_SHOWN (-1)

/* Parses a command's options into *o; 0 to go on, OPTS_HELP_SHOWN, or the exit
 * code of a usage error (already reported). */
static int parse_opts(int argc, char **argv, opts *o, const char *help, const int *allowed)
{
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":", LONGOPTS, NULL)) != -1) {
        if (ch == '?') return usage_err(help, "unknown option '%s'", argv[optind - 1]);
        if (ch == ':') return usage_err(help, "option '%s' needs a value", argv[optind - 1]);
        int ok = ch == O_HELP || ch == O_CAMPAIGN || ch == O_THREADS;
        for (const int *a = allowed; *a; a++)
            ok |= *a == ch;
        if (!ok)
            return usage_err(help, "option '%s' does not apply to this command", argv[optind - 1]);
        switch (ch) {
        case O_DATA:
            o->data = optarg;
            break;
        case O_FILE:
            o->file = optarg;
            break;
        case O_CAMPAIGN:
            o->campaign_path = optarg;
            break;
        case O_OUTPUT:
            o->output = optarg;
            break;
        case O_INPUT:
            o->input = optarg;
            break;
        case O_FORMAT:
            o->format = optarg;
            break;
        case O_NOW:
            o->now = optarg;
            break;
        case O_FEED:
            o->feed_label = optarg;
            break;
        case O_SEQ:
            o->seq = optarg;
            break;
        case O_TIME:
            o->time = optarg;
            break;
        case O_FROM_SEQ:
            o->from_seq = optarg;
            break;
        case O_TO_SEQ:
            o->to_seq = optarg;
            break;
        case O_FROM_TIME:
            o->from_time = optarg;
            break;
        case O_TO_TIME:
            o->to_time = optarg;
            break;
        case O_AGENT:
            o->agent = optarg;
            break;
        case O_DISTRICT:
            o->district = optarg;
            break;
        case O_PERSON:
            o->person = optarg;
            break;
        case O_DAY:
            o->day = optarg;
            break;
        case O_STAFF:
            o->staff = 1;
            break;
        case O_NO_IDS:
            o->no_ids = 1;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_HELP:
            o->help = 1;
            break;
        case O_THREADS:
            o->threads = optarg;
            break;
        }
    }
    if (optind < argc) return usage_err(help, "unexpected argument '%s'", argv[optind]);
    uint64_t t;
    if (o->threads && (parse_u64(o->threads, &t) || t < 1 || t > 64))
        return usage_err(help, "--threads: expected 1..64, not '%s'", o->threads);
    if (o->help) {
        fputs(help, stdout);
        return OPTS_HELP_SHOWN;
    }
    return 0;
}

/* Threads for the per-record checks (this one included): --threads N (1 = no workers), default
 * the number of online CPUs (at most 4). */
static unsigned n_threads(const opts *o)
{
    uint64_t v;
    if (o->threads && parse_u64(o->threads, &v) == 0) return (unsigned)v; /* 1..64, checked */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

/* ---- sources: a store (read-only) or a .ctlog file ---- */

typedef struct {
    ct_campaign campaign;
    bool have_campaign;
    ct_store *store;
    ct_ctlog_reader file;
    bool is_file;
    const char *file_path;
} ctx;

static void ctx_free(ctx *x)
{
    if (x->store) ct_store_close(x->store);
    if (x->is_file) ct_ctlog_close(&x->file);
    if (x->have_campaign) ct_campaign_free(&x->campaign);
}

static int load_campaign(ctx *x, const char *path)
{
    char err[512] = "";
    ct_err e = ct_campaign_load_arg(path, &x->campaign, err, sizeof err);
    if (e) {
        fprintf(stderr, "%s: %s\n", prog_name, err[0] ? err : ct_err_str(e));
        return EXIT_USAGE;
    }
    x->have_campaign = true;
    return 0;
}

static int open_store_ro(ctx *x, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: no such data directory\n", prog_name, dir);
        return EXIT_USAGE;
    }
    char err[512] = "";
    ct_store_opts so = {.dir = dir, .campaign_id = x->campaign.id, .read_only = true};
    ct_err e = ct_store_open(&so, &x->store, err, sizeof err);
    if (e) {
        fprintf(stderr, "%s: %s: %s\n", prog_name, dir, err[0] ? err : ct_err_str(e));
        return e == CT_ERR_CAMPAIGN_MISMATCH ? EXIT_USAGE : EXIT_DIVERGED;
    }
    return 0;
}

static int open_file(ctx *x, const char *path)
{
    char err[512] = "";
    ct_err e = ct_ctlog_open(path, &x->file, err, sizeof err);
    if (e) {
        fprintf(stderr, "%s: %s\n", prog_name, err);
        return e == CT_ERR_IO ? EXIT_USAGE : EXIT_DIVERGED;
    }
    x->is_file = true;
    x->file_path = path;
    if (strcmp(x->file.campaign, x->campaign.id) != 0) {
        fprintf(stderr, "%s: %s: export of campaign '%s', not '%s'\n", prog_name, path,
                x->file.campaign, x->campaign.id);
        return EXIT_USAGE;
    }
    return 0;
}

/* Opens campaign + exactly one of --data / --file. */
static int open_source(ctx *x, const opts *o, const char *help)
{
    if (!!o->data == !!o->file)
        return usage_err(help, "give exactly one of --data DIR or --file F.ctlog");
    int rc = load_campaign(x, o->campaign_path);
    if (rc) return rc;
    return o->data ? open_store_ro(x, o->data) : open_file(x, o->file);
}

/* Runs the audit engine over the source (all of it, or 1..to_seq). For a
 * file, a decode failure becomes the audit's finding. Returns 0, or exit 1
 * after printing a runtime error. */
static int run_scan(ctx *x, ct_audit *a, uint64_t to_seq)
{
    char err[512] = "";
    if (x->is_file) {
        uint64_t bad = 0;
        ct_err rc = ct_ctlog_scan(&x->file, ct_audit_record, a, &bad, err, sizeof err);
        ct_audit_finish(a);
        if (rc && !a->diverged && !a->stopped && !a->err)
            ct_audit_diverge(a, x->file.from + bad, "seq %" PRIu64 ": %s: %s", x->file.from + bad,
                             x->file_path, err);
    } else {
        uint64_t bad = 0;
        ct_err rc = ct_store_log_scan(x->store, 1, to_seq, ct_audit_record, a, &bad);
        ct_audit_finish(a);
        if (rc == CT_ERR_STORE_CORRUPT && !a->diverged)
            ct_audit_diverge(a, bad,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "the stored record does not decode or holds another seq",
                             bad);
        else if (rc && !a->diverged && !a->stopped && !a->err)
            a->err = rc;
    }
    if (a->err) return fail("scan failed: %s", ct_err_str(a->err));
    return 0;
}

static void print_totals(FILE *f, const ct_counts *c)
{
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        fprintf(f,
                "%s net=%" PRId64 " gross=%" PRId64 " cancelled=%" PRId64 " repeat=%" PRId64 "\n",
                ct_program_name((ct_program)p), ct_counts_sum(c, CT_COUNT_NET, p, 0),
                ct_counts_sum(c, CT_COUNT_GROSS, p, 0), ct_counts_sum(c, CT_COUNT_CANCELLED, p, 0),
                ct_counts_sum(c, CT_COUNT_REPEAT, p, 0));
}

/* ---- verify ---- */

static ct_err max_seq_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    uint64_t *m = arg;
    if (rec->seq > *m) *m = rec->seq;
    return CT_OK;
}

static int cmd_verify(int argc, char **argv)
{
    opts o;
    static const int allowed[] = {O_DATA, O_FILE, O_NO_IDS, O_QUIET, 0};
    int rc = parse_opts(argc, argv, &o, HELP_VERIFY, allowed);
    if (rc) return rc == OPTS_HELP_SHOWN ? 0 : rc;
    ctx x = {0};
    rc = open_source(&x, &o, HELP_VERIFY);
    if (rc) {
        ctx_free(&x);
        return rc;
    }
    char hexh[65];
    int64_t t0 = ct_monotonic_ms(), t_walk = 0;
    ct_audit a;
    ct_counts stored;
    ct_counts_init(&stored);
    if (!x.is_file) {
        uint64_t head_seq = 0;
        uint8_t head[CT_LOGREC_HASH_LEN], sfp[32];
        if (ct_store_fingerprint(x.store, sfp) == CT_OK &&
            memcmp(sfp, x.campaign.fingerprint, sizeof sfp) != 0) {
            char a16[17], b16[17];
            for (int i = 0; i < 8; i++) {
                snprintf(a16 + 2 * i, 3, "%02x", x.campaign.fingerprint[i]);
                snprintf(b16 + 2 * i, 3, "%02x", sfp[i]);
            }
            /* a warning, not a failure: the counts are re-derived with the
             * campaign file given, which is what is being checked */
            fprintf(stderr,
                    "%s: warning: the campaign file's fingerprint %s... differs from the "
                    "store's current one %s... (campaign edited, or another file)\n",
                    prog_name, a16, b16);
        }
        ct_err e = ct_store_read_counts(x.store, &stored, &head_seq, head);
        if (e) {
            rc = fail("%s: reading counts: %s", o.data, ct_err_str(e));
            goto out_nocount;
        }
        static const uint8_t zero[CT_LOGREC_HASH_LEN];
        ct_audit_opts ao = {.campaign = &x.campaign,
                            .ids_store = o.no_ids ? NULL : x.store,
                            .progress = o.quiet ? NULL : "verify",
                            .progress_total = head_seq};
        ao.threads = n_threads(&o);
        (void)ct_audit_init(&a, &ao, 1, zero);
        if (head_seq > 0) rc = run_scan(&x, &a, head_seq);
        if (rc) goto out;
        if (!a.diverged && a.last_seq != head_seq)
            ct_audit_diverge(&a, a.last_seq + 1,
                             "seq %" PRIu64 " missing (log ends at %" PRIu64 ", head is at %" PRIu64
                             ")",
                             a.last_seq + 1, a.last_seq, head_seq);
        if (!a.diverged && memcmp(a.head, head, CT_LOGREC_HASH_LEN) != 0) {
            char h2[65];
            ct_hash_hex(head, hexh);
            ct_hash_hex(a.head, h2);
            ct_audit_diverge(&a, head_seq,
                             "seq %" PRIu64 ": head mismatch: stored head %s, chain gives %s",
                             head_seq, hexh, h2);
        }
        if (!a.diverged) {
            /* records past the head: new commits on a live store (the head
             * has moved on by now), else appended behind the head's back */
            uint64_t beyond = 0, now_seq = 0;
            uint8_t nh[CT_LOGREC_HASH_LEN];
            ct_err be =
                ct_store_log_scan(x.store, head_seq + 1, UINT64_MAX, max_seq_cb, &beyond, NULL);
            if (!be && beyond) be = ct_store_head(x.store, &now_seq, nh);
            if (!be && beyond > now_seq)
                ct_audit_diverge(&a, beyond,
                                 "seq %" PRIu64 ": record beyond the log's head (seq %" PRIu64 ")",
                                 beyond, now_seq > head_seq ? now_seq : head_seq);
        }
        t_walk = ct_monotonic_ms();
        if (!a.diverged && !o.no_ids) {
            ct_err ie = ct_audit_check_ids(&a, x.store);
            if (ie) {
                rc = fail("%s: scanning the ids index: %s", o.data, ct_err_str(ie));
                goto out;
            }
        }
        if (!a.diverged &&
            !ct_audit_compare_counts(&stored, &a.counts, a.finding, sizeof a.finding))
            a.diverged = true;
    } else {
        ct_audit_opts ao = {.campaign = &x.campaign, .progress = o.quiet ? NULL : "verify"};
        ao.threads = n_threads(&o);
        (void)ct_audit_init(&a, &ao, x.file.from, x.file.prev);
        rc = run_scan(&x, &a, 0);
        if (rc) goto out;
        if (!a.diverged && x.file.has_trailer) {
            if (x.file.trailer_count != a.n_records || x.file.trailer_last != a.last_seq)
                ct_audit_diverge(&a, a.last_seq,
                                 "trailer: says %" PRIu64 " records ending at seq %" PRIu64
                                 ", file holds %" PRIu64 " ending at seq %" PRIu64,
                                 x.file.trailer_count, x.file.trailer_last, a.n_records,
                                 a.last_seq);
            else if (memcmp(x.file.trailer_head, a.head, CT_LOGREC_HASH_LEN) != 0)
                ct_audit_diverge(&a, a.last_seq,
                                 "seq %" PRIu64 ": trailer head differs from the chain",
                                 a.last_seq);
        }
    }
    if (a.diverged) {
        printf("FAIL %s\n", a.finding);
        rc = EXIT_DIVERGED;
        goto out;
    }
    ct_hash_hex(a.head, hexh);
    printf("OK seq=%" PRIu64 " head=%s\n", a.last_seq, hexh);
    if (!o.quiet) {
        int64_t ms = ct_monotonic_ms() - t0;
        fprintf(stderr,
                "verify: %" PRIu64 " records, %zu persons, %zu counters, %" PRId64
                " ms (%.0f records/s; log walk %" PRId64 " ms, ids index %" PRId64 " ms)%s%s\n",
                a.n_records, a.persons.n, a.counts.n, ms,
                ms > 0 ? (double)a.n_records * 1000.0 / (double)ms : 0.0,
                (t_walk ? t_walk : t0 + ms) - t0, t_walk ? t0 + ms - t_walk : 0,
                x.is_file && !x.file.has_trailer ? "; file has no trailer" : "",
                x.is_file && x.file.from > 1 ? "; partial export: recount covers only it" : "");
        print_totals(stderr, &a.counts);
    }
out:
    ct_audit_free(&a);
out_nocount:
    ct_counts_free(&stored);
    ctx_free(&x);
    return rc;
}

/* ---- replay ---- */

static int cmd_replay(int argc, char **argv)
{
    opts o;
    static const int allowed[] = {O_DATA,  O_FILE, O_SEQ,    O_TIME,  O_NOW, O_FORMAT,
                                  O_STAFF, O_FEED, O_OUTPUT, O_QUIET, 0};
    int rc = parse_opts(argc, argv, &o, HELP_REPLAY, allowed);
    if (rc) return rc == OPTS_HELP_SHOWN ? 0 : rc;
    if (!!o.seq == !!o.time)
        return usage_err(HELP_REPLAY, "give exactly one of --seq N or --time ISO");
    uint64_t seq = 0;
    if (o.seq && parse_u64(o.seq, &seq))
        return usage_err(HELP_REPLAY, "--seq: not a number: '%s'", o.seq);
    ct_status_format fmt = CT_FMT_TABLE;
    if (o.format && ct_status_format_parse(o.format, &fmt))
        return usage_err(HELP_REPLAY, "--format: expected table, json or csv, not '%s'", o.format);
    ctx x = {0};
    rc = open_source(&x, &o, HELP_REPLAY);
    if (rc) {
        ctx_free(&x);
        return rc;
    }
    int64_t at_ms = INT64_MAX, now_ms = 0;
    if (o.time && ct_time_parse(o.time, x.campaign.tz_offset_min, &at_ms)) {
        ctx_free(&x);
        return usage_err(HELP_REPLAY, "--time: not an ISO time: '%s'", o.time);
    }
    if (o.now && ct_time_parse(o.now, x.campaign.tz_offset_min, &now_ms)) {
        ctx_free(&x);
        return usage_err(HELP_REPLAY, "--now: not an ISO time: '%s'", o.now);
    }
    if (x.is_file && x.file.from != 1) {
        ctx_free(&x);
        return fail("%s: export starts at seq %" PRIu64 "; replay needs the log from seq 1", o.file,
                    x.file.from);
    }
    uint64_t head_seq = UINT64_MAX;
    if (!x.is_file) {
        uint8_t h[CT_LOGREC_HASH_LEN];
        ct_err e = ct_store_head(x.store, &head_seq, h);
        if (e) {
            ctx_free(&x);
            return fail("%s: %s", o.data, ct_err_str(e));
        }
    }
    if (o.seq && seq > head_seq) {
        ctx_free(&x);
        return fail("--seq %" PRIu64 " is beyond the log's head (seq %" PRIu64 ")", seq, head_seq);
    }
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    ct_audit_opts ao = {.campaign = &x.campaign,
                        .stop_seq = o.seq ? seq : 0,
                        .stop_time_ms = at_ms,
                        .progress = o.quiet ? NULL : "replay",
                        .progress_total = o.seq ? seq : (x.is_file ? 0 : head_seq)};
    ct_audit a;
    ao.threads = n_threads(&o);
    (void)ct_audit_init(&a, &ao, 1, zero);
    ct_buf out = CT_BUF_INIT;
    if (!(o.seq && seq == 0)) {
        rc = run_scan(&x, &a, o.seq ? seq : (x.is_file ? 0 : head_seq));
        if (rc) goto out;
    }
    if (a.diverged) {
        printf("FAIL %s\n", a.finding);
        rc = EXIT_DIVERGED;
        goto out;
    }
    if (o.seq && a.last_seq != seq) {
        rc = fail("the log ends at seq %" PRIu64 ", before --seq %" PRIu64, a.last_seq, seq);
        goto out;
    }
    if (!o.now) now_ms = o.time ? at_ms : (a.last_seq ? a.last_received_ms : x.campaign.start_ms);
    ct_status_position pos = {
        .seq = a.last_seq, .now_ms = now_ms, .feed = o.feed_label ? o.feed_label : "replay"};
    memcpy(pos.head, a.head, sizeof pos.head);
    ct_err e =
        ct_status_render(&x.campaign, &a.counts, &pos, fmt, o.staff ? CT_STATUS_STAFF : 0, &out);
    if (e) {
        rc = fail("rendering the report: %s", ct_err_str(e));
        goto out;
    }
    char err[512] = "";
    ct_file of;
    e = ct_file_open(&of, o.output ? o.output : "-", err, sizeof err);
    if (e) {
        rc = fail("%s", err[0] ? err : ct_err_str(e));
        goto out;
    }
    fwrite(out.data, 1, out.len, of.f);
    e = ct_file_commit(&of, err, sizeof err);
    if (e) rc = fail("%s", err);
out:
    ct_buf_free(&out);
    ct_audit_free(&a);
    ctx_free(&x);
    return rc;
}

/* ---- export ---- */

/* A progress line on stderr at most once a second (label NULL: quiet). */
typedef struct {
    const char *label;
    uint64_t total;
    int64_t t0, next;
} progress_st;

static void progress_tick(progress_st *p, uint64_t seq, uint64_t done)
{
    if (!p->label || (done & 1023) != 0) return;
    int64_t now = ct_monotonic_ms();
    if (p->t0 == 0) p->t0 = p->next = now;
    if (now < p->next + 1000) return;
    p->next = now;
    double rate = now > p->t0 ? (double)done * 1000.0 / (double)(now - p->t0) : 0;
    fprintf(stderr, "%s: seq %" PRIu64 " of %" PRIu64 ", %.0f records/s\n", p->label, seq, p->total,
            rate);
}

typedef struct {
    FILE *f;
    const ct_campaign *c;
    int kind; /* 0 ctlog, 1 jsonl, 2 csv */
    int64_t from_ms, to_ms;
    uint64_t first, last, count;
    uint8_t last_hash[CT_LOGREC_HASH_LEN];
    uint64_t bad_seq;
    ct_err bad;
    int write_errno; /* errno of a failed write to the output, 0 if none */
    progress_st progress;
    ct_buf row; /* one rendered jsonl/csv line */
} export_st;

/* Finds the seq range of a time range: [first received >= from, last of the
 * prefix received <= to]. */
static ct_err range_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    export_st *s = arg;
    if (rec->received_ms > s->to_ms) return CT_STOP;
    if (!s->first && rec->received_ms >= s->from_ms) s->first = rec->seq;
    s->last = rec->seq;
    return CT_OK;
}

static ct_err prev_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    memcpy(arg, rec->hash, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

static ct_err export_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    export_st *s = arg;
    progress_tick(&s->progress, rec->seq, s->count);
    errno = 0;
    if (s->kind == 0) {
        fwrite(raw, 1, len, s->f);
    } else {
        ct_event ev;
        ct_err e = ct_event_decode(rec->event, rec->event_len, &ev, NULL);
        if (e) {
            s->bad = e;
            s->bad_seq = rec->seq;
            return CT_STOP;
        }
        ct_buf_reset(&s->row);
        e = s->kind == 1 ? ct_export_json_row(&s->row, s->c, rec, &ev, NULL)
                         : ct_export_csv_row(&s->row, s->c, rec, &ev, NULL);
        if (e) return e;
        fwrite(s->row.data, 1, s->row.len, s->f);
    }
    s->count++;
    s->last = rec->seq;
    memcpy(s->last_hash, rec->hash, CT_LOGREC_HASH_LEN);
    if (ferror(s->f)) {
        s->write_errno = errno ? errno : EIO; /* set by this record's failed write */
        return CT_ERR_IO;
    }
    return CT_OK;
}

static int cmd_export(int argc, char **argv)
{
    opts o;
    static const int allowed[] = {O_DATA,   O_FROM_SEQ, O_TO_SEQ, O_FROM_TIME, O_TO_TIME, O_FORMAT,
                                  O_OUTPUT, O_QUIET,    0};
    int rc = parse_opts(argc, argv, &o, HELP_EXPORT, allowed);
    if (rc) return rc == OPTS_HELP_SHOWN ? 0 : rc;
    if (!o.data) return usage_err(HELP_EXPORT, "--data DIR is required");
    if (!o.output) return usage_err(HELP_EXPORT, "--output FILE is required");
    int kind;
    if (!o.format)
        return usage_err(HELP_EXPORT, "--format ctlog|jsonl|csv is required");
    else if (strcmp(o.format, "ctlog") == 0)
        kind = 0;
    else if (strcmp(o.format, "jsonl") == 0)
        kind = 1;
    else if (strcmp(o.format, "csv") == 0)
        kind = 2;
    else
        return usage_err(HELP_EXPORT, "--format: expected ctlog, jsonl or csv, not '%s'", o.format);
    if ((o.from_seq || o.to_seq) && (o.from_time || o.to_time))
        return usage_err(HELP_EXPORT, "give a seq range or a time range, not both");
    uint64_t from = 1, to = 0;
    if (o.from_seq && (parse_u64(o.from_seq, &from) || from == 0))
        return usage_err(HELP_EXPORT, "--from-seq: expected a number >= 1, not '%s'", o.from_seq);
    if (o.to_seq && (parse_u64(o.to_seq, &to) || to == 0))
        return usage_err(HELP_EXPORT, "--to-seq: expected a number >= 1, not '%s'", o.to_seq);
    ctx x = {0};
    rc = load_campaign(&x, o.campaign_path);
    if (!rc) rc = open_store_ro(&x, o.data);
    if (rc) {
        ctx_free(&x);
        return rc;
    }
    export_st s = {.c = &x.campaign, .kind = kind, .from_ms = INT64_MIN, .to_ms = INT64_MAX};
    s.progress.label = o.quiet || strcmp(o.output, "-") == 0 ? NULL : "export";
    if ((o.from_time && ct_time_parse(o.from_time, x.campaign.tz_offset_min, &s.from_ms)) ||
        (o.to_time && ct_time_parse(o.to_time, x.campaign.tz_offset_min, &s.to_ms))) {
        ctx_free(&x);
        return usage_err(HELP_EXPORT, "--from-time/--to-time: not an ISO time");
    }
    uint64_t head_seq;
    uint8_t head[CT_LOGREC_HASH_LEN];
    ct_err e = ct_store_head(x.store, &head_seq, head);
    if (e) {
        ctx_free(&x);
        return fail("%s: %s", o.data, ct_err_str(e));
    }
    if (to == 0 || to > head_seq) to = head_seq;
    if (o.from_time || o.to_time) {
        e = ct_store_log_scan(x.store, 1, head_seq, range_cb, &s, NULL);
        if (e) {
            ctx_free(&x);
            return fail("%s: scan failed: %s", o.data, ct_err_str(e));
        }
        from = s.first ? s.first : head_seq + 1;
        to = s.first ? s.last : head_seq;
        s.first = s.last = 0;
    }
    s.progress.total = to;
    uint8_t prev[CT_LOGREC_HASH_LEN] = {0};
    if (from > 1 && from <= head_seq + 1) {
        e = ct_store_log_scan(x.store, from - 1, from - 1, prev_cb, prev, NULL);
        if (e) {
            ctx_free(&x);
            return fail("%s: reading record %" PRIu64 ": %s", o.data, from - 1, ct_err_str(e));
        }
    } else if (from > head_seq + 1) {
        ctx_free(&x);
        return fail("--from-seq %" PRIu64 " is beyond the log's head (seq %" PRIu64 ")", from,
                    head_seq);
    }
    char err[512] = "";
    ct_file of;
    e = ct_file_open(&of, o.output, err, sizeof err);
    if (e) {
        ctx_free(&x);
        return fail("%s", err[0] ? err : ct_err_str(e));
    }
    s.f = of.f;
    ct_buf hb = CT_BUF_INIT;
    if (kind == 0)
        ct_ctlog_put_header(&hb, x.campaign.id, from, prev);
    else if (kind == 2)
        ct_export_csv_header(&hb, 0);
    fwrite(hb.data, 1, hb.len, s.f);
    memcpy(s.last_hash, prev, sizeof prev);
    s.last = from - 1;
    if (from <= to) e = ct_store_log_scan(x.store, from, to, export_cb, &s, NULL);
    if (e == CT_ERR_IO && s.write_errno)
        rc = fail("%s: write failed: %s", strcmp(o.output, "-") == 0 ? "standard output" : o.output,
                  strerror(s.write_errno));
    else if (!e && !s.bad && s.last != to)
        rc = fail("%s: the log jumps after seq %" PRIu64 " (expected records up to %" PRIu64
                  "); run verify",
                  o.data, s.last, to);
    else if (s.bad)
        rc = fail("seq %" PRIu64 ": event does not decode (%s); run verify", s.bad_seq,
                  ct_err_name(s.bad));
    else if (e)
        rc = fail("%s: scan failed: %s", o.data, ct_err_str(e));
    if (!rc && kind == 0) {
        ct_buf_reset(&hb);
        ct_ctlog_put_trailer(&hb, s.count, s.last, s.last_hash);
        fwrite(hb.data, 1, hb.len, s.f);
    }
    ct_buf_free(&hb);
    ct_buf_free(&s.row);
    if (rc) {
        ct_file_abort(&of);
    } else {
        e = ct_file_commit(&of, err, sizeof err);
        if (e) rc = fail("%s", err);
    }
    if (!rc && !o.quiet && strcmp(o.output, "-") != 0) {
        char hexh[65];
        ct_hash_hex(s.last_hash, hexh);
        fprintf(stderr,
                "export: %" PRIu64 " records, seq %" PRIu64 "..%" PRIu64 ", head=%s -> %s\n",
                s.count, from, s.last, hexh, o.output);
    }
    ctx_free(&x);
    return rc;
}

/* ---- rebuild ---- */

typedef struct {
    ct_store *s;
    const ct_campaign *c;
    uint64_t in_txn;
    ct_err err;
    uint64_t err_seq;
    uint64_t done;
    progress_st progress;
} import_st;

static ct_err import_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    import_st *st = arg;
    progress_tick(&st->progress, rec->seq, st->done++);
    ct_err e = CT_OK;
    if (st->in_txn == 0) e = ct_store_import_begin(st->s);
    if (!e) e = ct_store_import_record(st->s, rec, st->c);
    if (!e && ++st->in_txn >= 8192) {
        e = ct_store_import_commit(st->s);
        st->in_txn = 0;
    }
    if (e) {
        st->err = e;
        st->err_seq = rec->seq;
        return e;
    }
    return CT_OK;
}

static int cmd_rebuild(int argc, char **argv)
{
    opts o;
    static const int allowed[] = {O_INPUT, O_DATA, O_FILE, O_QUIET, 0};
    int rc = parse_opts(argc, argv, &o, HELP_REBUILD, allowed);
    if (rc) return rc == OPTS_HELP_SHOWN ? 0 : rc;
    const char *input = o.input ? o.input : o.file;
    if (!input || !o.data)
        return usage_err(HELP_REBUILD, "--input F.ctlog and --data NEWDIR are required");
    ctx x = {0};
    rc = load_campaign(&x, o.campaign_path);
    if (!rc) rc = open_file(&x, input);
    if (rc) {
        ctx_free(&x);
        return rc;
    }
    if (x.file.from != 1) {
        ctx_free(&x);
        return fail("%s: export starts at seq %" PRIu64 "; rebuild needs the log from seq 1", input,
                    x.file.from);
    }
    /* 1. verify the export (chain, events, trailer) and recount it */
    ct_audit_opts ao = {.campaign = &x.campaign, .progress = o.quiet ? NULL : "rebuild: verify"};
    ct_audit a;
    ao.threads = n_threads(&o);
    (void)ct_audit_init(&a, &ao, 1, x.file.prev);
    ct_counts stored;
    ct_counts_init(&stored);
    rc = run_scan(&x, &a, 0);
    if (rc) goto out;
    if (!a.diverged && x.file.has_trailer &&
        (x.file.trailer_count != a.n_records ||
         memcmp(x.file.trailer_head, a.head, CT_LOGREC_HASH_LEN) != 0))
        ct_audit_diverge(&a, a.last_seq, "trailer does not match the records (count or head)");
    if (a.diverged) {
        printf("FAIL %s\n", a.finding);
        rc = EXIT_DIVERGED;
        goto out;
    }
    /* 2. a fresh store */
    struct stat st;
    if (stat(o.data, &st) == 0) {
        char dm[1024];
        snprintf(dm, sizeof dm, "%s/data.mdb", o.data);
        if (stat(dm, &st) == 0) {
            rc = fail("%s already holds a store; rebuild needs a fresh directory", o.data);
            goto out;
        }
    }
    char err[512] = "";
    ct_store_opts so = {
        .dir = o.data, .campaign_id = x.campaign.id, .fingerprint = x.campaign.fingerprint};
    ct_err e = ct_store_open(&so, &x.store, err, sizeof err);
    if (!e) e = ct_store_set_campaign(x.store, &x.campaign, err, sizeof err);
    if (e) {
        rc = fail("%s: %s", o.data, err[0] ? err : ct_err_str(e));
        goto out;
    }
    uint64_t hs;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    e = ct_store_head(x.store, &hs, hh);
    if (e || hs != 0) {
        rc = fail("%s: not a fresh store (head seq %" PRIu64 ")", o.data, hs);
        goto out;
    }
    /* 3. import */
    import_st is = {.s = x.store, .c = &x.campaign};
    is.progress.label = o.quiet ? NULL : "rebuild: import";
    is.progress.total = a.last_seq;
    uint64_t bad = 0;
    ct_err sr = ct_ctlog_scan(&x.file, import_cb, &is, &bad, err, sizeof err);
    if (!sr && !is.err && is.in_txn) {
        is.err = ct_store_import_commit(x.store);
        is.err_seq = a.last_seq;
    }
    if (is.err || sr) {
        ct_store_import_abort(x.store);
        rc = fail("import failed at seq %" PRIu64 ": %s", is.err_seq,
                  is.err ? ct_err_str(is.err) : err);
        goto out;
    }
    /* 4. compare the new store with the recount */
    e = ct_store_read_counts(x.store, &stored, &hs, hh);
    if (e) {
        rc = fail("%s: reading counts: %s", o.data, ct_err_str(e));
        goto out;
    }
    char hexh[65], h2[65];
    ct_hash_hex(hh, hexh);
    ct_hash_hex(a.head, h2);
    if (hs != a.last_seq || memcmp(hh, a.head, CT_LOGREC_HASH_LEN) != 0) {
        printf("FAIL rebuilt head seq=%" PRIu64 " head=%s, export ends at seq=%" PRIu64
               " head=%s\n",
               hs, hexh, a.last_seq, h2);
        rc = EXIT_DIVERGED;
        goto out;
    }
    char finding[512];
    if (!ct_audit_compare_counts(&stored, &a.counts, finding, sizeof finding)) {
        printf("FAIL %s\n", finding);
        rc = EXIT_DIVERGED;
        goto out;
    }
    printf("OK seq=%" PRIu64 " head=%s counters=%zu\n", hs, hexh, stored.n);
    print_totals(stdout, &stored);
out:
    ct_counts_free(&stored);
    ct_audit_free(&a);
    ctx_free(&x);
    return rc;
}

/* ---- trace ---- */

typedef struct {
    const ct_campaign *c;
    const char *agent;
    uint32_t district;
    uint8_t person[CT_PERSON_LEN];
    size_t person_nibbles;
    uint32_t day;
    int jsonl;
    uint64_t matches;
    ct_buf row; /* one rendered jsonl line */
} trace_st;

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void upper_outcome(ct_tally_outcome oc, char *buf, size_t len)
{
    const char *n = ct_tally_outcome_name(oc);
    size_t i = 0;
    for (; n[i] && i + 1 < len; i++)
        buf[i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
    buf[i] = 0;
}

static ct_err trace_cb(const ct_audit_event *ae, void *arg)
{
    trace_st *t = arg;
    const ct_event *ev = ae->ev;
    if (t->agent && strcmp(ev->agent, t->agent) != 0) return CT_OK;
    if (t->district && ev->district != t->district) return CT_OK;
    if (t->day && ae->local_day != t->day) return CT_OK;
    for (size_t i = 0; i < t->person_nibbles; i++) {
        uint8_t want = (uint8_t)(i % 2 ? t->person[i / 2] & 15 : t->person[i / 2] >> 4);
        uint8_t have = (uint8_t)(i % 2 ? ev->person[i / 2] & 15 : ev->person[i / 2] >> 4);
        if (want != have) return CT_OK;
    }
    t->matches++;
    char oc[32];
    upper_outcome(ae->outcome, oc, sizeof oc);
    if (t->jsonl) {
        ct_buf_reset(&t->row);
        ct_err e = ct_export_json_row(&t->row, t->c, ae->rec, ev, oc);
        if (e) return e;
        fwrite(t->row.data, 1, t->row.len, stdout);
        return CT_OK;
    }
    char occ[40], rcv[40], ph[17];
    ct_time_format(ev->occurred_ms, t->c->tz_offset_min, occ, sizeof occ);
    ct_time_format(ae->rec->received_ms, t->c->tz_offset_min, rcv, sizeof rcv);
    for (int i = 0; i < 8; i++)
        snprintf(ph + 2 * i, 3, "%02x", ev->person[i]);
    printf("%8" PRIu64 "  %-25s  %-29s  %-40s  %8u  %-12s  %-8s  %-6s  %s  %s\n", ae->rec->seq, occ,
           rcv, ae->rec->collector, (unsigned)ev->district, ev->agent, ct_program_name(ev->program),
           ct_action_name(ev->action), ph, oc);
    return CT_OK;
}

static int cmd_trace(int argc, char **argv)
{
    opts o;
    static const int allowed[] = {O_DATA, O_FILE,   O_AGENT, O_DISTRICT, O_PERSON,
                                  O_DAY,  O_FORMAT, O_QUIET, 0};
    int rc = parse_opts(argc, argv, &o, HELP_TRACE, allowed);
    if (rc) return rc == OPTS_HELP_SHOWN ? 0 : rc;
    if (!o.agent && !o.district && !o.person && !o.day)
        return usage_err(HELP_TRACE, "give at least one of --agent, --district, --person, --day");
    trace_st t = {0};
    if (o.format && strcmp(o.format, "jsonl") == 0)
        t.jsonl = 1;
    else if (o.format && strcmp(o.format, "table") != 0)
        return usage_err(HELP_TRACE, "--format: expected table or jsonl, not '%s'", o.format);
    t.agent = o.agent;
    uint64_t d = 0;
    if (o.district && (parse_u64(o.district, &d) || d == 0 || d > UINT32_MAX))
        return usage_err(HELP_TRACE, "--district: not a district code: '%s'", o.district);
    t.district = (uint32_t)d;
    if (o.person) {
        size_t n = strlen(o.person);
        if (n < 8 || n > 2 * CT_PERSON_LEN)
            return usage_err(HELP_TRACE, "--person: give 8 to 64 hex digits");
        for (size_t i = 0; i < n; i++) {
            int v = hexval(o.person[i]);
            if (v < 0) return usage_err(HELP_TRACE, "--person: not hex: '%s'", o.person);
            if (i % 2)
                t.person[i / 2] |= (uint8_t)v;
            else
                t.person[i / 2] = (uint8_t)(v << 4);
        }
        t.person_nibbles = n;
    }
    if (o.day) {
        unsigned y, m, dd;
        char tail;
        if (sscanf(o.day, "%4u-%2u-%2u%c", &y, &m, &dd, &tail) != 3 || m < 1 || m > 12 || dd < 1 ||
            dd > 31)
            return usage_err(HELP_TRACE, "--day: expected YYYY-MM-DD, not '%s'", o.day);
        t.day = y * 10000 + m * 100 + dd;
    }
    ctx x = {0};
    rc = open_source(&x, &o, HELP_TRACE);
    if (rc) {
        ctx_free(&x);
        return rc;
    }
    if (x.is_file && x.file.from != 1) {
        ctx_free(&x);
        return fail("%s: export starts at seq %" PRIu64 "; trace needs the log from seq 1", o.file,
                    x.file.from);
    }
    t.c = &x.campaign;
    if (!t.jsonl)
        printf("%8s  %-25s  %-29s  %-40s  %8s  %-12s  %-8s  %-6s  %-16s  %s\n", "seq", "occurred",
               "received", "collector", "district", "agent", "program", "action", "person",
               "outcome");
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    ct_audit_opts ao = {.campaign = &x.campaign, .on_event = trace_cb, .arg = &t};
    ct_audit a;
    ao.threads = n_threads(&o);
    (void)ct_audit_init(&a, &ao, 1, zero);
    rc = run_scan(&x, &a, 0);
    if (!rc && a.diverged) {
        fflush(stdout);
        fprintf(stderr, "%s: FAIL %s (trace stops there; run verify)\n", prog_name, a.finding);
        rc = EXIT_DIVERGED;
    }
    if (!rc && !o.quiet)
        fprintf(stderr, "trace: %" PRIu64 " matching of %" PRIu64 " records\n", t.matches,
                a.n_records);
    ct_audit_free(&a);
    ctx_free(&x);
    ct_buf_free(&t.row);
    if (fflush(stdout) != 0) rc = EXIT_DIVERGED;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("chitieu-audit %s\n", CT_VERSION);
        return 0;
    }
    if (ct_crypto_init() != CT_OK) {
        fprintf(stderr, "%s: libsodium initialisation failed\n", prog_name);
        return EXIT_DIVERGED;
    }
    if (strcmp(cmd, "verify") == 0) return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "rebuild") == 0) return cmd_rebuild(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0) return cmd_trace(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n", prog_name, cmd);
    usage_main(stderr);
    return EXIT_USAGE;
}
