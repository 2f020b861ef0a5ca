/* main.c — chitieu-reporter: follows the aggregator's feed (ct_view, Clone
 * pattern) and emits the quota status report (ct_status) every --interval
 * seconds, or once (--once), to stdout or to a file replaced atomically;
 * optionally serves the live page over HTTP (ct_http, issue 11).
 *
 * Invariants: the report is always rendered from the view's counts at the
 * view's log position (seq, head), so chitieu-audit replay reproduces it from
 * the same (seq, clock, feed label). The clock is the only input that is not
 * from the aggregator: real time, fixed (--now) or simulated (--sim-clock).
 * Exit: 0 ok (signal or --once printed), 1 runtime failure, 2 usage/config.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_keys.h"
#include "ct_cli.h"
#include "ct_log.h"
#include "ct_metrics.h"
#include "ct_status.h"
#include "ct_time.h"
#include "ct_view.h"
#ifdef CT_HAVE_MHD
#include "ct_http.h"
#endif

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: chitieu-reporter [--campaign FILE] [--feed EP] [--snapshot EP]\n"
               "                        (--keys FILE --server-key FILE | --insecure)\n"
               "                        [--interval SEC] [--once [--timeout SEC]]\n"
               "                        [--format table|json|csv] [--output FILE] [--staff]\n"
               "                        [--now TIME | --sim-clock START,FACTOR]\n"
               "                        [--http ADDR:PORT [--http-token TOKEN]] [--feed-hwm N]\n"
               "                        [--log-level L]\n"
               "\n"
               "Follows the aggregator's live feed and prints the campaign's quota status.\n"
               "  --campaign FILE     campaign .ini (default: the built-in Lam Dong 2023 one)\n"
               "  --feed EP           aggregator feed (PUB), default tcp://127.0.0.1:7702\n"
               "  --snapshot EP       aggregator snapshot service, default tcp://127.0.0.1:7703\n"
               "  --keys FILE         this reporter's CURVE key pair (.key, mode 0600)\n"
               "  --server-key FILE   the aggregator's public key (.pub)\n"
               "  --insecure          plaintext ZeroMQ (testing only)\n"
               "  --interval SEC      seconds between reports (default 5)\n"
               "  --once              wait for the first snapshot, print one report, exit 0\n"
               "  --timeout SEC       with --once: exit 1 if no snapshot within SEC (default 30)\n"
               "  --format F          table (default), json (one line per report), csv\n"
               "  --output FILE       write each report to FILE, replaced atomically\n"
               "  --staff             list the staff below their personal quota\n"
               "  --now TIME          fixed report clock, ISO-8601 (e.g. 2023-07-26T20:00+07:00)\n"
               "  --sim-clock S,F     campaign clock = S + real time since start x F\n"
               "  --http ADDR:PORT    serve the live page, /events, /status.json, /metrics\n"
               "                      (binds 127.0.0.1 unless told; another address needs\n"
               "                      --http-token)\n"
               "  --http-token T      require ?token=T or 'Authorization: Bearer T'\n"
               "  --feed-hwm N        feed messages queued before ZeroMQ drops (default 1000;\n"
               "                      a drop is a gap, resolved by a snapshot)\n"
               "  --log-level L       debug|info|warn|error (default info)\n"
               "  --help, --version\n");
}

typedef struct {
    const char *campaign;
    const char *feed;
    const char *snapshot;
    const char *keys;
    const char *server_key;
    int insecure;
    double interval;
    int once;
    double timeout;
    ct_status_format fmt;
    const char *output;
    unsigned flags;
    int clock_mode; /* 0 real, 1 fixed, 2 sim */
    int64_t fixed_ms;
    int64_t sim_start_ms;
    double sim_factor;
    const char *http;
    const char *http_token;
    int feed_hwm;
} options;

static int64_t clock_now(const options *o, int64_t mono_start)
{
    switch (o->clock_mode) {
    case 1:
        return o->fixed_ms;
    case 2:
        return o->sim_start_ms +
               (int64_t)((double)(ct_monotonic_ms() - mono_start) * o->sim_factor);
    default:
        return ct_now_ms();
    }
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400 * 365) return -1;
    *out = v;
    return 0;
}

/* Writes b to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync the directory. */
static ct_err write_atomic(const char *path, const ct_buf *b)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return CT_ERR_ARG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return CT_ERR_IO;
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return CT_ERR_IO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return CT_ERR_IO;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return CT_ERR_IO;
    }
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CT_OK;
}

static ct_err write_stdout(const ct_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(STDOUT_FILENO, b->data + off, b->len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return CT_ERR_IO;
        }
        off += (size_t)w;
    }
    return CT_OK;
}

static int parse_args(int argc, char **argv, options *o)
{
    enum {
        O_CAMPAIGN = 1000,
        O_FEED,
        O_SNAPSHOT,
        O_KEYS,
        O_SERVER_KEY,
        O_INSECURE,
        O_INTERVAL,
        O_ONCE,
        O_TIMEOUT,
        O_FORMAT,
        O_OUTPUT,
        O_STAFF,
        O_NOW,
        O_SIM,
        O_HTTP,
        O_TOKEN,
        O_LOGLEVEL,
        O_FEEDHWM,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {{"campaign", required_argument, 0, O_CAMPAIGN},
                                       {"feed", required_argument, 0, O_FEED},
                                       {"snapshot", required_argument, 0, O_SNAPSHOT},
                                       {"keys", required_argument, 0, O_KEYS},
                                       {"server-key", required_argument, 0, O_SERVER_KEY},
                                       {"insecure", no_argument, 0, O_INSECURE},
                                       {"interval", required_argument, 0, O_INTERVAL},
                                       {"once", no_argument, 0, O_ONCE},
                                       {"timeout", required_argument, 0, O_TIMEOUT},
                                       {"format", required_argument, 0, O_FORMAT},
                                       {"output", required_argument, 0, O_OUTPUT},
                                       {"staff", no_argument, 0, O_STAFF},
                                       {"now", required_argument, 0, O_NOW},
                                       {"sim-clock", required_argument, 0, O_SIM},
                                       {"http", required_argument, 0, O_HTTP},
                                       {"http-token", required_argument, 0, O_TOKEN},
                                       {"log-level", required_argument, 0, O_LOGLEVEL},
                                       {"feed-hwm", required_argument, 0, O_FEEDHWM},
                                       {"help", no_argument, 0, O_HELP},
                                       {"version", no_argument, 0, O_VERSION},
                                       {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->feed = "tcp://127.0.0.1:7702";
    o->snapshot = "tcp://127.0.0.1:7703";
    o->interval = 5;
    o->timeout = 30;
    o->fmt = CT_FMT_TABLE;
    const char *now_arg = NULL, *sim_arg = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_CAMPAIGN:
            o->campaign = optarg;
            break;
        case O_FEED:
            o->feed = optarg;
            break;
        case O_SNAPSHOT:
            o->snapshot = optarg;
            break;
        case O_KEYS:
            o->keys = optarg;
            break;
        case O_SERVER_KEY:
            o->server_key = optarg;
            break;
        case O_INSECURE:
            o->insecure = 1;
            break;
        case O_INTERVAL:
            if (parse_seconds(optarg, &o->interval)) {
                fprintf(stderr, "chitieu-reporter: --interval: not a positive number: %s\n",
                        optarg);
                return 2;
            }
            break;
        case O_ONCE:
            o->once = 1;
            break;
        case O_TIMEOUT:
            if (parse_seconds(optarg, &o->timeout)) {
                fprintf(stderr, "chitieu-reporter: --timeout: not a positive number: %s\n", optarg);
                return 2;
            }
            break;
        case O_FORMAT:
            if (ct_status_format_parse(optarg, &o->fmt)) {
                fprintf(stderr, "chitieu-reporter: --format must be table, json or csv\n");
                return 2;
            }
            break;
        case O_OUTPUT:
            o->output = optarg;
            break;
        case O_STAFF:
            o->flags |= CT_STATUS_STAFF;
            break;
        case O_NOW:
            now_arg = optarg;
            break;
        case O_SIM:
            sim_arg = optarg;
            break;
        case O_HTTP:
            o->http = optarg;
            break;
        case O_TOKEN:
            o->http_token = optarg;
            break;
        case O_LOGLEVEL:
            if (!ct_cli_set_log_level(optarg)) {
                fprintf(stderr, "chitieu-reporter: --log-level: debug|info|warn|error\n");
                return 2;
            }
            break;
        case O_FEEDHWM: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000) {
                fprintf(stderr, "chitieu-reporter: --feed-hwm: 1..1000000\n");
                return 2;
            }
            o->feed_hwm = (int)v;
            break;
        }
        case O_HELP:
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("chitieu-reporter %s\n", CT_VERSION);
            return 0;
        default:
            fprintf(stderr, "chitieu-reporter: unknown or incomplete option: %s\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chitieu-reporter: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (now_arg && sim_arg) {
        fprintf(stderr, "chitieu-reporter: --now and --sim-clock are exclusive\n");
        return 2;
    }
    if (now_arg) {
        if (ct_time_parse(now_arg, 0, &o->fixed_ms)) {
            fprintf(stderr, "chitieu-reporter: --now: not an ISO-8601 time: %s\n", now_arg);
            return 2;
        }
        o->clock_mode = 1;
    }
    if (sim_arg) {
        char tbuf[128];
        const char *comma = strrchr(sim_arg, ',');
        size_t tl = comma ? (size_t)(comma - sim_arg) : 0;
        char *end = NULL;
        double f = comma ? strtod(comma + 1, &end) : 0;
        if (!comma || tl >= sizeof tbuf || end == comma + 1 || *end || !(f > 0)) {
            fprintf(stderr, "chitieu-reporter: --sim-clock START_ISO,FACTOR (e.g. "
                            "2023-07-22T08:00:00+07:00,14400)\n");
            return 2;
        }
        memcpy(tbuf, sim_arg, tl);
        tbuf[tl] = '\0';
        if (ct_time_parse(tbuf, 0, &o->sim_start_ms)) {
            fprintf(stderr, "chitieu-reporter: --sim-clock: not an ISO-8601 time: %s\n", tbuf);
            return 2;
        }
        o->sim_factor = f;
        o->clock_mode = 2;
    }
    if (o->insecure && (o->keys || o->server_key)) {
        fprintf(stderr, "chitieu-reporter: --insecure excludes --keys/--server-key\n");
        return 2;
    }
    if (!o->insecure && (!o->keys || !o->server_key)) {
        fprintf(stderr, "chitieu-reporter: give --keys FILE and --server-key FILE (CurveZMQ), or "
                        "--insecure\n");
        return 2;
    }
    return -1;
}

typedef struct {
    options o;
    ct_campaign camp;
    ct_view view;
    int64_t mono_start;
    ct_buf out;
    ct_buf json;
    ct_buf metrics;
#ifdef CT_HAVE_MHD
    ct_http *http;
#endif
} reporter;

/* Renders the report (and the HTTP documents) from the view as it is now. */
static ct_err emit(reporter *r, bool to_output)
{
    ct_status_figures f;
    int64_t mono = ct_monotonic_ms();
    ct_status_position pos;
    memset(&pos, 0, sizeof pos);
    pos.seq = r->view.seq;
    memcpy(pos.head, r->view.head, sizeof pos.head);
    pos.now_ms = clock_now(&r->o, r->mono_start);
    pos.feed = ct_view_feed_state(&r->view, mono);
    ct_err e = ct_status_compute(&r->camp, &r->view.counts, pos.now_ms, &f);
    if (e) return e;
    if (to_output) {
        ct_buf_reset(&r->out);
        e = ct_status_render_figures(&r->camp, &f, &pos, r->o.fmt, r->o.flags, &r->out);
        if (!e && r->o.fmt == CT_FMT_TABLE && !r->o.output && !r->o.once)
            e = ct_buf_append(&r->out, "\n", 1);
        if (!e) e = r->o.output ? write_atomic(r->o.output, &r->out) : write_stdout(&r->out);
        if (e)
            ct_log(CT_LOG_ERROR, "cannot write the report", "output=%s err=\"%s\"",
                   r->o.output ? r->o.output : "stdout", strerror(errno));
    }
#ifdef CT_HAVE_MHD
    if (!e && r->http) {
        ct_buf_reset(&r->json);
        ct_buf_reset(&r->metrics);
        e = ct_status_render_figures(&r->camp, &f, &pos, CT_FMT_JSON, CT_STATUS_STAFF, &r->json);
        ct_metrics_input mi = {.seq = r->view.seq,
                               .feed = pos.feed,
                               .lag_ms = r->view.last_lag_ms,
                               .last_rx_mono = r->view.last_rx_mono,
                               .last_apply_mono = r->view.last_apply_mono,
                               .updates = r->view.n_updates,
                               .snapshots = r->view.n_snapshots,
                               .gaps = r->view.n_gaps};
        if (!e) e = ct_metrics_render(&r->camp, &f, &mi, &r->metrics);
        if (!e)
            ct_http_publish(r->http, (const char *)r->json.data, r->json.len,
                            (const char *)r->metrics.data, r->metrics.len, &mi);
    }
#endif
    ct_status_figures_free(&f);
    return e;
}

int main(int argc, char **argv)
{
    ct_log_set_component("reporter");
    reporter r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(argc, argv, &r.o);
    if (rc >= 0) return rc;

    char err[512] = "";
    if (ct_campaign_load_arg(r.o.campaign, &r.camp, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ct_view_config vc;
    memset(&vc, 0, sizeof vc);
    vc.feed_ep = r.o.feed;
    vc.snapshot_ep = r.o.snapshot;
    vc.feed_hwm = r.o.feed_hwm;
    if (r.o.insecure) {
        ct_log(CT_LOG_WARN, "INSECURE: plaintext ZeroMQ, the aggregator cannot authenticate us",
               "feed=%s snapshot=%s", r.o.feed, r.o.snapshot);
    } else {
        vc.secure = true;
        if (ct_crypto_init() || ct_keypair_load(r.o.keys, &vc.client, err, sizeof err) ||
            ct_public_key_load(r.o.server_key, vc.server_public, err, sizeof err)) {
            fprintf(stderr, "chitieu-reporter: %s\n", err[0] ? err : "cannot load keys");
            ct_campaign_free(&r.camp);
            return 2;
        }
    }

    ct_cli_on_stop_signals(on_signal);

    r.mono_start = ct_monotonic_ms();
    int exit_code = 0;
    void *zctx = zmq_ctx_new();
    if (!zctx) {
        ct_campaign_free(&r.camp);
        return 1;
    }
#ifdef CT_HAVE_MHD
    if (r.o.http) {
        if (ct_http_start(r.o.http, r.o.http_token, &r.http, err, sizeof err)) {
            fprintf(stderr, "chitieu-reporter: --http: %s\n", err);
            zmq_ctx_term(zctx);
            ct_campaign_free(&r.camp);
            return 2;
        }
    }
#else
    if (r.o.http) {
        fprintf(stderr, "chitieu-reporter: built without libmicrohttpd: --http unavailable\n");
        zmq_ctx_term(zctx);
        ct_campaign_free(&r.camp);
        return 2;
    }
#endif
    ct_err e = ct_view_open(&r.view, zctx, &vc);
    if (e) {
        exit_code = 1;
        goto done;
    }
    ct_log(CT_LOG_INFO, "ready", "feed=%s snapshot=%s format=%d interval=%.3g secure=%d", r.o.feed,
           r.o.snapshot, (int)r.o.fmt, r.o.interval, (int)vc.secure);

    int64_t interval_ms = (int64_t)(r.o.interval * 1000.0);
    if (interval_ms < 1) interval_ms = 1;
    int64_t deadline = r.mono_start + (int64_t)(r.o.timeout * 1000.0);
    int64_t next_report = 0; /* 0: first report as soon as synced */
    int64_t last_publish = 0;
    bool dirty = false;
    while (!g_stop) {
        int64_t now = ct_monotonic_ms();
        int timeout = 200;
        if (next_report && next_report - now < timeout)
            timeout = next_report > now ? (int)(next_report - now) : 0;
        bool changed = false;
        e = ct_view_poll(&r.view, timeout, &changed);
        if (e) {
            ct_log(CT_LOG_ERROR, "feed failure", "err=%s", ct_err_name((int)e));
            exit_code = 1;
            break;
        }
        dirty = dirty || changed;
        now = ct_monotonic_ms();
        if (r.o.once) {
            if (r.view.ever_synced && r.view.synced) {
                exit_code = emit(&r, true) ? 1 : 0;
                break;
            }
            if (now >= deadline) {
                ct_log(CT_LOG_ERROR, "no snapshot from the aggregator in time",
                       "snapshot=%s timeout_s=%.3g", r.o.snapshot, r.o.timeout);
                exit_code = 1;
                break;
            }
            continue;
        }
        if (!r.view.ever_synced) continue;
        if (next_report == 0 || now >= next_report) {
            if (emit(&r, true) && !r.o.output) {
                exit_code = 1; /* stdout gone */
                break;
            }
            next_report = (next_report == 0 ? now : next_report) + interval_ms;
            if (next_report < now) next_report = now + interval_ms;
            last_publish = now;
            dirty = false;
        } else if ((dirty && now - last_publish >= 200) || now - last_publish >= 1000) {
            /* Live page: push within a second of each applied update. */
#ifdef CT_HAVE_MHD
            if (r.http) emit(&r, false);
#endif
            last_publish = now;
            dirty = false;
        }
    }
    if (g_stop)
        ct_log(CT_LOG_INFO, "stopping on signal", "seq=%llu", (unsigned long long)r.view.seq);
done:
#ifdef CT_HAVE_MHD
    if (r.http) ct_http_stop(r.http);
#endif
    ct_view_close(&r.view);
    zmq_ctx_term(zctx);
    ct_buf_free(&r.out);
    ct_buf_free(&r.json);
    ct_buf_free(&r.metrics);
    ct_campaign_free(&r.camp);
    return exit_code;
}
