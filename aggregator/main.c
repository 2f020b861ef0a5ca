/* main.c — chitieu-aggregator: options, sockets, and the single-threaded
 * zmq_poll loop (group commit ingest, feed, snapshots, timers, signals).
 *
 * Invariants: one thread does all socket and store work (the only other
 * thread is the ZAP handler, which touches nothing but its own socket and
 * the mutex-protected auth table); the ZAP socket is bound before any CURVE
 * server socket; acks leave only after the durable commit (ct_ingest);
 * signals only set flags and write to a self-pipe that the loop polls; on
 * SIGINT/SIGTERM the batch in flight is finished (committed and acked)
 * before exit 0. No fork ever happens after the store is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_feed.h"
#include "ct_ingest.h"
#include "ct_keys.h"
#include "ct_cli.h"
#include "ct_log.h"
#include "ct_store.h"
#include "ct_time.h"
#include "ct_wire.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* draft API macro in libzmq 4.3; the option exists */
#endif

#define MAX_EP 16
#define DEF_INGEST "tcp://127.0.0.1:7701"
#define DEF_FEED "tcp://127.0.0.1:7702"
#define DEF_SNAPSHOT "tcp://127.0.0.1:7703"

typedef struct {
    const char *campaign, *data, *keys, *auth;
    const char *ingest[MAX_EP], *feed[MAX_EP], *snapshot[MAX_EP];
    size_t n_ingest, n_feed, n_snapshot;
    size_t map_size, batch_max;
    bool insecure, no_future_check, test_no_zap, accept_campaign_change;
    double stats_interval;
    long max_connections, handshake_ivl, feed_hwm, reader_check, persons_ckpt;
} opts_t;

static volatile sig_atomic_t g_stop, g_reload;
static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
    char c = 1;
    ssize_t w = write(g_sigpipe[1], &c, 1);
    (void)w;
    errno = saved;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: chitieu-aggregator --data DIR [options]\n"
               "\n"
               "Receives enrollment events from collectors, commits them durably to an LMDB\n"
               "store (hash-chained log + counts) and acks only after the commit; publishes the\n"
               "changed counts and serves snapshots to reporters.\n"
               "\n"
               "  --campaign FILE        campaign INI (default: the built-in lamdong-2023)\n"
               "  --data DIR             data directory (created 0700)            [required]\n"
               "  --ingest EP            ROUTER endpoint for collectors, repeatable\n"
               "                         (default " DEF_INGEST ")\n"
               "  --feed EP              PUB endpoint for the live feed, repeatable\n"
               "                         (default " DEF_FEED ")\n"
               "  --snapshot EP          ROUTER endpoint for snapshots, repeatable\n"
               "                         (default " DEF_SNAPSHOT ")\n"
               "  --map-size SIZE        LMDB map size, K/M/G/T suffix (default 16G)\n"
               "  --batch-max N          events per group commit (default 8192)\n"
               "  --keys FILE            server CURVE key pair (.key, mode 0600)\n"
               "  --auth FILE            authorization file (key role [district] [name]);\n"
               "                         reloaded on SIGHUP\n"
               "  --insecure             no CurveZMQ, no authorization (warns loudly)\n"
               "  --stats-interval SEC   stats log line period, 0 = off (default 10)\n"
               "  --max-connections N    bound on open connections over all sockets (default\n"
               "                         1000; more are cut as soon as they are accepted)\n"
               "  --handshake-ivl MS     ZMTP/CURVE handshake deadline (default 5000)\n"
               "  --feed-hwm N           messages queued per subscriber before PUB drops\n"
               "                         (default 1000)\n"
               "  --reader-check SEC     mdb_reader_check period (default 10)\n"
               "  --persons-checkpoint N write person states to the store when N are\n"
               "                         pending (or after 5 s); 0 = in every batch\n"
               "                         (default 32768; a restart replays the rest)\n"
               "  --no-future-check      accept events dated in the future (replays, tests)\n"
               "  --accept-campaign-change  run an existing store with an edited campaign\n"
               "                         file/roster (its fingerprint differs; recorded in\n"
               "                         the store's meta; without it such a start exits 2)\n"
               "  --log-level L          debug|info|warn|error (default info)\n"
               "  --test-no-zap          TEST ONLY: do not start the ZAP handler (every\n"
               "                         connection must then fail: ZAP is enforced)\n"
               "  --help, --version\n"
               "\n"
               "Signals: SIGINT/SIGTERM finish the batch in flight, ack it and exit 0;\n"
               "SIGHUP reloads --auth (revocations apply to open connections).\n"
               "Exit: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

enum {
    O_CAMPAIGN = 256,
    O_DATA,
    O_INGEST,
    O_FEED,
    O_SNAPSHOT,
    O_MAP,
    O_BATCH,
    O_KEYS,
    O_AUTH,
    O_INSECURE,
    O_STATS,
    O_MAXCONN,
    O_HSIVL,
    O_HWM,
    O_RCHECK,
    O_PCKPT,
    O_NOFUT,
    O_LOGLEVEL,
    O_NOZAP,
    O_ACCEPTCC,
    O_HELP,
    O_VERSION
};

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {{"campaign", required_argument, 0, O_CAMPAIGN},
                                       {"data", required_argument, 0, O_DATA},
                                       {"ingest", required_argument, 0, O_INGEST},
                                       {"feed", required_argument, 0, O_FEED},
                                       {"snapshot", required_argument, 0, O_SNAPSHOT},
                                       {"map-size", required_argument, 0, O_MAP},
                                       {"batch-max", required_argument, 0, O_BATCH},
                                       {"keys", required_argument, 0, O_KEYS},
                                       {"auth", required_argument, 0, O_AUTH},
                                       {"insecure", no_argument, 0, O_INSECURE},
                                       {"stats-interval", required_argument, 0, O_STATS},
                                       {"max-connections", required_argument, 0, O_MAXCONN},
                                       {"handshake-ivl", required_argument, 0, O_HSIVL},
                                       {"feed-hwm", required_argument, 0, O_HWM},
                                       {"reader-check", required_argument, 0, O_RCHECK},
                                       {"persons-checkpoint", required_argument, 0, O_PCKPT},
                                       {"no-future-check", no_argument, 0, O_NOFUT},
                                       {"accept-campaign-change", no_argument, 0, O_ACCEPTCC},
                                       {"log-level", required_argument, 0, O_LOGLEVEL},
                                       {"test-no-zap", no_argument, 0, O_NOZAP},
                                       {"help", no_argument, 0, O_HELP},
                                       {"version", no_argument, 0, O_VERSION},
                                       {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->batch_max = 8192;
    o->stats_interval = 10;
    o->max_connections = 1000;
    o->handshake_ivl = 5000;
    o->feed_hwm = 1000;
    o->reader_check = 10;
    o->persons_ckpt = 32768;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long v;
        switch (c) {
        case O_CAMPAIGN:
            o->campaign = optarg;
            break;
        case O_DATA:
            o->data = optarg;
            break;
        case O_INGEST:
        case O_FEED:
        case O_SNAPSHOT: {
            const char **arr = c == O_INGEST ? o->ingest : c == O_FEED ? o->feed : o->snapshot;
            size_t *n = c == O_INGEST ? &o->n_ingest : c == O_FEED ? &o->n_feed : &o->n_snapshot;
            if (*n >= MAX_EP) {
                fprintf(stderr, "chitieu-aggregator: at most %d endpoints per kind\n", MAX_EP);
                return 2;
            }
            arr[(*n)++] = optarg;
            break;
        }
        case O_MAP:
            if (!ct_cli_parse_size(optarg, 1, &o->map_size)) {
                fprintf(stderr, "chitieu-aggregator: --map-size: bad size \"%s\"\n", optarg);
                return 2;
            }
            break;
        case O_BATCH:
            if (!parse_long(optarg, 1, 1 << 20, &v)) {
                fprintf(stderr, "chitieu-aggregator: --batch-max: 1..1048576\n");
                return 2;
            }
            o->batch_max = (size_t)v;
            break;
        case O_KEYS:
            o->keys = optarg;
            break;
        case O_AUTH:
            o->auth = optarg;
            break;
        case O_INSECURE:
            o->insecure = true;
            break;
        case O_STATS: {
            char *end = NULL;
            o->stats_interval = strtod(optarg, &end);
            if (end == optarg || *end || o->stats_interval < 0) {
                fprintf(stderr, "chitieu-aggregator: --stats-interval: seconds >= 0\n");
                return 2;
            }
            break;
        }
        case O_MAXCONN:
            if (!parse_long(optarg, 1, 1000000, &o->max_connections)) {
                fprintf(stderr, "chitieu-aggregator: --max-connections: 1..1000000\n");
                return 2;
            }
            break;
        case O_HSIVL:
            if (!parse_long(optarg, 100, 600000, &o->handshake_ivl)) {
                fprintf(stderr, "chitieu-aggregator: --handshake-ivl: 100..600000 ms\n");
                return 2;
            }
            break;
        case O_HWM:
            if (!parse_long(optarg, 1, 10000000, &o->feed_hwm)) {
                fprintf(stderr, "chitieu-aggregator: --feed-hwm: 1..10000000\n");
                return 2;
            }
            break;
        case O_RCHECK:
            if (!parse_long(optarg, 1, 86400, &o->reader_check)) {
                fprintf(stderr, "chitieu-aggregator: --reader-check: 1..86400 s\n");
                return 2;
            }
            break;
        case O_PCKPT:
            if (!parse_long(optarg, 0, 10000000, &o->persons_ckpt)) {
                fprintf(stderr, "chitieu-aggregator: --persons-checkpoint: 0..10000000\n");
                return 2;
            }
            break;
        case O_NOFUT:
            o->no_future_check = true;
            break;
        case O_ACCEPTCC:
            o->accept_campaign_change = true;
            break;
        case O_LOGLEVEL:
            if (!ct_cli_set_log_level(optarg)) {
                fprintf(stderr, "chitieu-aggregator: --log-level: debug|info|warn|error\n");
                return 2;
            }
            break;
        case O_NOZAP:
            o->test_no_zap = true;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("chitieu-aggregator %s\n", CT_VERSION);
            return 0;
        default:
            fprintf(stderr, "chitieu-aggregator: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chitieu-aggregator: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!o->data) {
        fprintf(stderr, "chitieu-aggregator: --data DIR is required\n");
        return 2;
    }
    if (o->insecure && (o->keys || o->auth)) {
        fprintf(stderr, "chitieu-aggregator: --insecure excludes --keys/--auth\n");
        return 2;
    }
    if (!o->insecure && (!o->keys || !o->auth)) {
        fprintf(stderr, "chitieu-aggregator: give --keys FILE and --auth FILE (CurveZMQ), "
                        "or --insecure for plaintext\n");
        return 2;
    }
    if (!o->n_ingest) o->ingest[o->n_ingest++] = DEF_INGEST;
    if (!o->n_feed) o->feed[o->n_feed++] = DEF_FEED;
    if (!o->n_snapshot) o->snapshot[o->n_snapshot++] = DEF_SNAPSHOT;
    return -1;
}

/* ---- sockets ----------------------------------------------------------- */

typedef struct {
    void *sock;
    void *mon; /* PAIR connected to the socket monitor */
    const char *what;
} server_sock;

typedef struct {
    long open; /* connections accepted and not yet disconnected */
    uint64_t accepted, refused, disconnected, auth_failed;
    long max;
} conn_state;

static int setup_server(void *ctx, server_sock *ss, int type, const char *what, const opts_t *o,
                        const ct_keypair *kp, const char *domain, int idx, char *err, size_t errlen)
{
    ss->what = what;
    ss->sock = zmq_socket(ctx, type);
    if (!ss->sock) goto zfail;
    int64_t maxmsg = CT_WIRE_MAX_FRAME;
    int one = 1, linger = 0, hs = (int)o->handshake_ivl;
    if (zmq_setsockopt(ss->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(ss->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(ss->sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof hs) ||
        zmq_setsockopt(ss->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one))
        goto zfail;
    if (type == ZMQ_ROUTER && zmq_setsockopt(ss->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one))
        goto zfail;
    if (type == ZMQ_PUB) {
        int hwm = (int)o->feed_hwm;
        if (zmq_setsockopt(ss->sock, ZMQ_SNDHWM, &hwm, sizeof hwm)) goto zfail;
    }
    if (kp) {
        if (zmq_setsockopt(ss->sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) ||
            zmq_setsockopt(ss->sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) ||
            zmq_setsockopt(ss->sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(ss->sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, CT_Z85_KEY_LEN))
            goto zfail;
    }
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://ct-monitor-%d", idx);
    if (zmq_socket_monitor(ss->sock, monep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        goto zfail;
    ss->mon = zmq_socket(ctx, ZMQ_PAIR);
    if (!ss->mon) goto zfail;
    zmq_setsockopt(ss->mon, ZMQ_LINGER, &linger, sizeof linger);
    /* unbounded pipe: a burst of connection events must not be dropped (the
     * connection count would drift); the loop drains it every iteration */
    int nohwm = 0;
    zmq_setsockopt(ss->mon, ZMQ_RCVHWM, &nohwm, sizeof nohwm);
    if (zmq_connect(ss->mon, monep) != 0) goto zfail;
    return 0;
zfail:
    snprintf(err, errlen, "%s socket: %s", what, zmq_strerror(errno));
    return -1;
}

/* Handles every waiting monitor event; cuts connections past the bound. */
static void drain_monitor(server_sock *ss, conn_state *cs)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, ss->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t ev = 0;
        uint32_t val = 0;
        if (zmq_msg_size(&m) >= 6) {
            const uint8_t *d = zmq_msg_data(&m);
            memcpy(&ev, d, 2);
            memcpy(&val, d + 2, 4);
        }
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, ss->mon, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        switch (ev) {
        case ZMQ_EVENT_ACCEPTED:
            cs->accepted++;
            cs->open++;
            if (cs->open > cs->max) {
                /* Past the bound: end it now. shutdown() (not close()) so the
                 * I/O thread that owns the fd sees EOF and cleans up itself. */
                cs->refused++;
                shutdown((int)val, SHUT_RDWR);
                if (cs->refused == 1 || cs->refused % 1000 == 0)
                    ct_log(CT_LOG_WARN, "security",
                           "event=connection_refused socket=%s open=%ld max=%ld refused=%llu",
                           ss->what, cs->open, cs->max, (unsigned long long)cs->refused);
            }
            break;
        case ZMQ_EVENT_DISCONNECTED:
            cs->disconnected++;
            if (cs->open > 0) cs->open--;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            cs->auth_failed++;
            break;
        default:
            break;
        }
    }
}

static void close_server(server_sock *ss, int linger)
{
    if (ss->sock) {
        zmq_socket_monitor(ss->sock, NULL, 0);
        zmq_setsockopt(ss->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(ss->sock);
        ss->sock = NULL;
    }
    if (ss->mon) {
        zmq_close(ss->mon);
        ss->mon = NULL;
    }
}

static void rebind_feed(void *pub, const char *const *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (zmq_unbind(pub, eps[i]) != 0 || zmq_bind(pub, eps[i]) != 0)
            ct_log(CT_LOG_ERROR, "feed rebind failed", "endpoint=%s err=\"%s\"", eps[i],
                   zmq_strerror(errno));
    }
    ct_log(CT_LOG_WARN, "security", "event=feed_connections_dropped reason=reader_revoked");
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- stats --------------------------------------------------------------- */

typedef struct {
    int64_t t_ms;
    ct_ingest_stats in;
} stats_mark;

static void log_stats(const ct_ingest_stats *s, stats_mark *prev, const conn_state *cs,
                      uint64_t head_seq, bool insecure, ct_auth *auth, const ct_feed_stats *fs)
{
    int64_t now = ct_monotonic_ms();
    double dt = (double)(now - prev->t_ms) / 1000.0;
    if (dt <= 0) dt = 1;
    uint64_t ev = s->events - prev->in.events;
    uint64_t batches = s->batches - prev->in.batches;
    uint64_t commits = s->commits - prev->in.commits;
    char rej[512] = "";
    size_t rl = 0;
    for (int c = 0; c < CT_INGEST_MAX_CODES; c++) {
        if (!s->rejects_by_code[c]) continue;
        int w = snprintf(rej + rl, sizeof rej - rl, "%s%s:%llu", rl ? "," : "", ct_err_name(c),
                         (unsigned long long)s->rejects_by_code[c]);
        if (w < 0 || (size_t)w >= sizeof rej - rl) break;
        rl += (size_t)w;
    }
    uint64_t zok = 0, zden = 0;
    ct_auth_zap_stats(auth, &zok, &zden);
    ct_log(insecure ? CT_LOG_WARN : CT_LOG_INFO, "stats",
           "events_per_s=%.0f accepted_per_s=%.0f batches=%llu batch_avg=%.1f batch_max=%llu "
           "commits_per_s=%.1f commit_ms_avg=%.2f round_ms_avg=%.2f accepted=%llu duplicates=%llu "
           "rejected=%llu rejects=\"%s\" "
           "retry=%llu bad_messages=%llu commit_failures=%llu acks_undeliverable=%llu "
           "peers=%ld conn_refused=%llu auth_ok=%llu auth_denied=%llu snapshots=%llu "
           "head_seq=%llu%s",
           (double)ev / dt, (double)(s->accepted - prev->in.accepted) / dt,
           (unsigned long long)batches, batches ? (double)ev / (double)batches : 0.0,
           (unsigned long long)s->batch_max_seen, (double)commits / dt,
           commits ? (double)(s->commit_ns - prev->in.commit_ns) / 1e6 / (double)commits : 0.0,
           batches ? (double)(s->round_ns - prev->in.round_ns) / 1e6 / (double)batches : 0.0,
           (unsigned long long)s->accepted, (unsigned long long)s->duplicates,
           (unsigned long long)s->rejected, rej, (unsigned long long)s->retry,
           (unsigned long long)s->bad_messages, (unsigned long long)s->commit_failures,
           (unsigned long long)s->acks_undeliverable, cs->open, (unsigned long long)cs->refused,
           (unsigned long long)zok, (unsigned long long)zden, (unsigned long long)fs->snapshots,
           (unsigned long long)head_seq,
           insecure ? " INSECURE=1 (no CurveZMQ, no authorization)" : "");
    prev->t_ms = now;
    prev->in = *s;
}

/* ---- main ------------------------------------------------------------------ */

static uint64_t free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

static void log_commit_error(ct_err e, const char *data, const char *detail)
{
    if (e == CT_ERR_MAP_FULL)
        ct_log(CT_LOG_ERROR, "store commit failed: LMDB map is full, raise --map-size",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
    else if (e == CT_ERR_DISK_FULL)
        ct_log(CT_LOG_ERROR, "store commit failed: no space left on device",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
    else if (free_bytes(data) < (16u << 20))
        /* LMDB reports a short write (ENOSPC mid-flush) as EIO */
        ct_log(CT_LOG_ERROR, "store commit failed: no space left on device (disk nearly full)",
               "err=%s detail=\"%s\" free_bytes=%llu data=%s acked=none answer=retry",
               ct_err_name(e), detail, (unsigned long long)free_bytes(data), data);
    else
        ct_log(CT_LOG_ERROR, "store commit failed: I/O or LMDB error",
               "err=%s detail=\"%s\" data=%s acked=none answer=retry", ct_err_name(e), detail,
               data);
}

int main(int argc, char **argv)
{
    ct_log_set_component("aggregator");
    opts_t o;
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0) return rc;

    char err[512] = "";
    int exit_code = 1;
    ct_campaign camp;
    memset(&camp, 0, sizeof camp);
    ct_store *store = NULL;
    ct_auth *auth = NULL;
    ct_ingest *ing = NULL;
    ct_feed *feed = NULL;
    void *ctx = NULL;
    server_sock ss[3];
    memset(ss, 0, sizeof ss);
    size_t nss = 0;
    ct_counts changed;
    ct_counts_init(&changed);
    ct_keypair kp;
    memset(&kp, 0, sizeof kp);

    if (ct_crypto_init() != CT_OK) {
        ct_log(CT_LOG_ERROR, "libsodium init failed", NULL);
        return 1;
    }
    ct_err e = ct_campaign_load_arg(o.campaign, &camp, err, sizeof err);
    if (e) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (!o.insecure) {
        e = ct_keypair_load(o.keys, &kp, err, sizeof err);
        if (e) {
            fprintf(stderr, "%s\n", err[0] ? err : ct_err_str(e));
            exit_code = 2;
            goto out;
        }
        e = ct_auth_load(o.auth, &camp, &auth, err, sizeof err);
        if (e) {
            fprintf(stderr, "%s\n", err);
            exit_code = 2;
            goto out;
        }
    }
    raise_nofile();
    ct_store_opts so = {.dir = o.data,
                        .map_size = o.map_size,
                        .campaign_id = camp.id,
                        .fingerprint = camp.fingerprint,
                        .accept_campaign_change = o.accept_campaign_change};
    e = ct_store_open(&so, &store, err, sizeof err);
    if (!e) e = ct_store_set_campaign(store, &camp, err, sizeof err);
    if (!e) ct_store_set_checkpoint(store, (size_t)o.persons_ckpt, 5000);
    if (e) {
        ct_log(CT_LOG_ERROR, "cannot open store", "err=%s detail=\"%s\"", ct_err_name(e), err);
        exit_code = e == CT_ERR_CAMPAIGN_MISMATCH ? 2 : 1;
        goto out;
    }
    int stale = ct_store_reader_check(store);
    if (stale > 0) ct_log(CT_LOG_INFO, "cleared stale LMDB readers", "count=%d", stale);
    if (stale < 0)
        ct_log(CT_LOG_WARN, "LMDB reader check failed", "detail=\"%s\"",
               ct_store_last_error(store));

    /* signals: flags + self-pipe */
    if (pipe(g_sigpipe) != 0) goto out;
    for (int i = 0; i < 2; i++) {
        fcntl(g_sigpipe[i], F_SETFL, fcntl(g_sigpipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(g_sigpipe[i], F_SETFD, FD_CLOEXEC);
    }
    ct_cli_on_stop_signals(on_signal);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);

    ctx = zmq_ctx_new();
    if (!ctx) goto out;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 4096);
    if (auth && !o.test_no_zap) {
        e = ct_auth_zap_start(auth, ctx, err, sizeof err);
        if (e) {
            ct_log(CT_LOG_ERROR, "cannot start ZAP handler", "detail=\"%s\"", err);
            goto out;
        }
    }
    if (o.test_no_zap)
        ct_log(CT_LOG_WARN, "TEST MODE: ZAP handler not started; every connection must fail", NULL);

    /* One socket per kind, bound to every endpoint of that kind. */
    const ct_keypair *kpp = o.insecure ? NULL : &kp;
    enum { S_INGEST = 0, S_FEED = 1, S_SNAP = 2 };
    static const char *const what[3] = {"ingest", "feed", "snapshot"};
    const int types[3] = {ZMQ_ROUTER, ZMQ_PUB, ZMQ_ROUTER};
    const char *const domains[3] = {CT_ZAP_DOMAIN_INGEST, CT_ZAP_DOMAIN_READ, CT_ZAP_DOMAIN_READ};
    const char *const *eps[3] = {o.ingest, o.feed, o.snapshot};
    const size_t neps[3] = {o.n_ingest, o.n_feed, o.n_snapshot};
    for (int k = 0; k < 3; k++, nss++) {
        if (setup_server(ctx, &ss[k], types[k], what[k], &o, kpp, domains[k], k, err, sizeof err))
            goto sockfail;
        for (size_t i = 0; i < neps[k]; i++) {
            if (zmq_bind(ss[k].sock, eps[k][i]) != 0) {
                snprintf(err, sizeof err, "bind %s %s: %s", what[k], eps[k][i],
                         zmq_strerror(errno));
                goto sockfail;
            }
        }
    }
    void *ingest_socks[1] = {ss[S_INGEST].sock};
    ct_ingest_opts io = {&camp, store, auth, o.batch_max, o.no_future_check};
    if (ct_ingest_create(&io, &ing) != CT_OK) goto out;
    if (ct_feed_create(store, auth, ss[S_FEED].sock, ss[S_SNAP].sock, &feed) != CT_OK) goto out;

    uint64_t head_seq = 0;
    uint8_t head[CT_LOGREC_HASH_LEN];
    ct_store_head(store, &head_seq, head);
    char hh[2 * CT_LOGREC_HASH_LEN + 1];
    ct_hash_hex(head, hh);
    if (o.insecure) {
        for (int i = 0; i < 3; i++)
            ct_log(CT_LOG_WARN,
                   "INSECURE MODE: no CurveZMQ encryption, no authentication, no per-district "
                   "authorization. Anyone who can reach the endpoints can read the feed and "
                   "inject events. Use --keys/--auth in production.",
                   NULL);
    }
    ct_log(CT_LOG_INFO, "ready",
           "campaign=%s data=%s ingest=%s feed=%s snapshot=%s security=%s head_seq=%llu "
           "head=%s batch_max=%zu max_connections=%ld pid=%ld",
           camp.id, o.data, o.ingest[0], o.feed[0], o.snapshot[0],
           o.insecure ? "INSECURE" : "curve", (unsigned long long)head_seq, hh, o.batch_max,
           o.max_connections, (long)getpid());

    /* ---- the loop ---- */
    conn_state cs;
    memset(&cs, 0, sizeof cs);
    cs.max = o.max_connections;
    zmq_pollitem_t items[8];
    stats_mark mark;
    memset(&mark, 0, sizeof mark);
    mark.t_ms = ct_monotonic_ms();
    int64_t next_hb = ct_monotonic_ms() + 1000;
    int64_t next_stats =
        o.stats_interval > 0 ? ct_monotonic_ms() + (int64_t)(o.stats_interval * 1000) : INT64_MAX;
    int64_t next_rc = ct_monotonic_ms() + o.reader_check * 1000;
    bool store_failing = false;
    int64_t last_fail_log = 0;
    while (!g_stop) {
        size_t ni = 0;
        items[ni++] = (zmq_pollitem_t){NULL, g_sigpipe[0], ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){ss[S_INGEST].sock, 0, ZMQ_POLLIN, 0};
        items[ni++] = (zmq_pollitem_t){ss[S_SNAP].sock, 0, ZMQ_POLLIN, 0};
        const size_t mon0 = ni;
        for (size_t i = 0; i < nss; i++)
            items[ni++] = (zmq_pollitem_t){ss[i].mon, 0, ZMQ_POLLIN, 0};
        int64_t now = ct_monotonic_ms();
        int64_t due = next_hb < next_stats ? next_hb : next_stats;
        if (next_rc < due) due = next_rc;
        long timeout = due > now ? (long)(due - now) : 0;
        int n = zmq_poll(items, (int)ni, timeout);
        if (n < 0 && errno != EINTR) {
            ct_log(CT_LOG_ERROR, "zmq_poll failed", "err=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char buf[64];
            while (read(g_sigpipe[0], buf, sizeof buf) > 0) {
            }
        }
        if (g_reload) {
            g_reload = 0;
            if (auth) {
                size_t revoked = 0;
                e = ct_auth_reload(auth, &revoked, err, sizeof err);
                if (e) {
                    ct_log(CT_LOG_ERROR, "auth reload failed; keeping the previous table",
                           "detail=\"%s\"", err);
                } else {
                    ct_log(CT_LOG_INFO, "auth reloaded", "peers=%zu readers_revoked=%zu",
                           ct_auth_count(auth), revoked);
                    /* PUB has no per-message check: drop every feed connection
                     * (unbind + bind) so each must pass ZAP again; legitimate
                     * subscribers reconnect by themselves and resync. */
                    if (revoked) rebind_feed(ss[S_FEED].sock, o.feed, o.n_feed);
                }
            } else {
                ct_log(CT_LOG_INFO, "SIGHUP ignored (insecure mode has no --auth)", NULL);
            }
        }
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            ct_store_commit cm = {.changed = &changed};
            ct_err cerr = CT_OK;
            size_t got = 0;
            ct_ingest_batch(ing, ingest_socks, 1, &cm, &cerr, &got);
            if (cerr) {
                int64_t t = ct_monotonic_ms();
                if (!store_failing || t - last_fail_log >= 1000) {
                    log_commit_error(cerr, o.data, ct_store_last_error(store));
                    last_fail_log = t;
                }
                store_failing = true;
            } else if (cm.seq_after > cm.seq_before) {
                if (store_failing) {
                    ct_log(CT_LOG_INFO, "store commits again", "head_seq=%llu",
                           (unsigned long long)cm.seq_after);
                    store_failing = false;
                }
                head_seq = cm.seq_after;
                memcpy(head, cm.head, sizeof head);
                ct_feed_update(feed, &cm, ct_now_ms());
            }
        }
        if (n > 0 && (items[2].revents & ZMQ_POLLIN)) ct_feed_serve_snapshots(feed);
        for (size_t i = mon0; i < ni; i++)
            if (n > 0 && (items[i].revents & ZMQ_POLLIN)) drain_monitor(&ss[i - mon0], &cs);
        now = ct_monotonic_ms();
        if (now >= next_hb) {
            ct_feed_heartbeat(feed, head_seq, head, ct_now_ms());
            next_hb = now + 1000;
        }
        if (now >= next_rc) {
            int cleared = ct_store_reader_check(store);
            if (cleared > 0) ct_log(CT_LOG_INFO, "cleared stale LMDB readers", "count=%d", cleared);
            if (cleared < 0)
                ct_log(CT_LOG_WARN, "LMDB reader check failed", "detail=\"%s\"",
                       ct_store_last_error(store));
            next_rc = now + o.reader_check * 1000;
        }
        if (now >= next_stats) {
            log_stats(ct_ingest_get_stats(ing), &mark, &cs, head_seq, o.insecure, auth,
                      ct_feed_get_stats(feed));
            next_stats = now + (int64_t)(o.stats_interval * 1000);
        }
    }
    {
        const ct_ingest_stats *s = ct_ingest_get_stats(ing);
        ct_log(CT_LOG_INFO, "stopping", "accepted=%llu duplicates=%llu rejected=%llu head_seq=%llu",
               (unsigned long long)s->accepted, (unsigned long long)s->duplicates,
               (unsigned long long)s->rejected, (unsigned long long)head_seq);
    }
    exit_code = 0;
    goto out;
sockfail:
    ct_log(CT_LOG_ERROR, "socket setup failed", "detail=\"%s\"", err);
    exit_code = 1;
out:
    /* ingest sockets get a short linger so the last acks leave */
    for (size_t i = 0; i < 3; i++) /* also a socket whose setup failed half-way */
        close_server(&ss[i], i == 0 ? 1000 : 0);
    ct_feed_free(feed);
    ct_auth_free(auth);
    if (ctx) zmq_ctx_term(ctx);
    ct_ingest_free(ing);
    ct_store_close(store);
    ct_counts_free(&changed);
    ct_campaign_free(&camp);
    sodium_memzero(&kp, sizeof kp);
    if (g_sigpipe[0] >= 0) close(g_sigpipe[0]);
    if (g_sigpipe[1] >= 0) close(g_sigpipe[1]);
    if (exit_code == 0) ct_log(CT_LOG_INFO, "stopped", NULL);
    return exit_code;
}
