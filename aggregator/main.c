/* main.c — chitieu-aggregator: options, wiring of campaign, keys, auth table,
 * store (ct_aggregator_store.h) and ZeroMQ context, signals
 * (ct_aggregator_proc.h), exit code. The loop itself is ct_aggregator_run()
 * (ct_aggregator.h).
 *
 * Invariants: the ZAP handler is bound before any CURVE server socket (it
 * starts before ct_aggregator_run); signals only set flags and write to a
 * self-pipe that the loop polls; every exit-1 path logs why; no fork ever
 * happens after the store is opened.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "ct_aggregator.h"
#include "ct_aggregator_args.h"
#include "ct_aggregator_proc.h"
#include "ct_aggregator_store.h"
#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_cli.h"
#include "ct_keys.h"
#include "ct_log.h"
#include "ct_opt.h"
#include "ct_store.h"

typedef ct_aggregator_args opts_t;

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

#define O(field) offsetof(opts_t, field)
/* {name, kind, field, commands, flags, arg, default, min, max, choices, help} */
static const ct_opt opts[] = {
    {"campaign", CT_OPT_STR, O(campaign), 0, 0, "FILE", NULL, 0, 0, NULL,
     "campaign INI (default: the built-in lamdong-2023)"},
    {"data", CT_OPT_STR, O(data), 0, CT_OPT_REQUIRED, "DIR", NULL, 0, 0, NULL,
     "data directory (created 0700)"},
    {"ingest", CT_OPT_LIST, O(ingest), 0, 0, "EP", "tcp://127.0.0.1:7701", 0, 0, NULL,
     "ROUTER endpoint for collectors"},
    {"feed", CT_OPT_LIST, O(feed), 0, 0, "EP", "tcp://127.0.0.1:7702", 0, 0, NULL,
     "PUB endpoint for the live feed"},
    {"snapshot", CT_OPT_LIST, O(snapshot), 0, 0, "EP", "tcp://127.0.0.1:7703", 0, 0, NULL,
     "ROUTER endpoint for snapshots"},
    {"replicate", CT_OPT_LIST, O(replicate), 0, 0, "EP", NULL, 0, 0, NULL,
     "ROUTER endpoint followers connect to (role follower in --auth); none by default"},
    {"sync-followers", CT_OPT_INT, O(sync_followers), 0, 0, "K", "0", 0, 32, NULL,
     "an event is safe once K followers fsynced it; acks carry safe, and collectors keep "
     "events until safe covers them; 0 = safe equals committed"},
    {"follow", CT_OPT_STR, O(follow), 0, 0, "EP", NULL, 0, 0, NULL,
     "run as a follower of the primary whose --replicate endpoint is EP: take no events, "
     "make the primary's log durable here, count it, serve the feed and snapshots"},
    {"apply-delay", CT_OPT_INT, O(apply_delay), 0, 0, "MS", "0", 0, 86400000, NULL,
     "with --follow or --etcd: count a received record only MS after the primary received it "
     "(it is durable here, and reported so, at once); 0 = count as soon as possible"},
    {"primary-key", CT_OPT_STR, O(primary_key), 0, 0, "FILE", NULL, 0, 0, NULL,
     "the primary's public key (.pub) for --follow in secure mode (own key pair: --keys)"},
    {"promote", CT_OPT_FLAG, O(promote), 0, 0, NULL, NULL, 0, 0, NULL,
     "make this (stopped) follower's store a primary: a new epoch from its head; then exit. "
     "Start it again with --replicate and without --follow"},
    {"rejoin", CT_OPT_FLAG, O(rejoin), 0, 0, NULL, NULL, 0, 0, NULL,
     "with --follow EP: make this (stopped) former primary's store a follower of EP: find the "
     "fork point on EP's log by chain hash, keep the records up to it, move the old directory "
     "aside as DIR.discarded-*; then exit"},
    {"etcd", CT_OPT_LIST, O(etcd), 0, 0, "URL", NULL, 0, 0, NULL,
     "automatic failover: an etcd v3 endpoint (http:// or https://, repeat for each member); the "
     "group's members elect the primary there (docs/replication.md)"},
    {"group", CT_OPT_STR, O(group), 0, 0, "NAME", NULL, 0, 0, NULL,
     "with --etcd: the group's name (its keys live under /chitieu/NAME/ in etcd)"},
    {"advertise", CT_OPT_STR, O(advertise), 0, 0, "EP", NULL, 0, 0, NULL,
     "with --etcd: the replication endpoint the other members connect to when this one leads "
     "(default: the first --replicate)"},
    {"group-size", CT_OPT_INT, O(group_size), 0, 0, "N", "0", 0, 32, NULL,
     "with --etcd: the number of aggregators in the group; a member campaigns only when it "
     "sees N - K of them alive (K = --sync-followers), so the winner holds every event acked "
     "safe; 0 = no such check"},
    {"lease-ttl", CT_OPT_INT, O(lease_ttl), 0, 0, "SEC", "5", 2, 60, NULL,
     "with --etcd: the leadership lease's TTL; a leader stops acking SEC/2 after its last "
     "successful renewal"},
    {"etcd-cacert", CT_OPT_STR, O(etcd_cacert), 0, 0, "FILE", NULL, 0, 0, NULL,
     "CA certificate (PEM) that signed the etcd members' certificates (https:// endpoints)"},
    {"etcd-cert", CT_OPT_STR, O(etcd_cert), 0, 0, "FILE", NULL, 0, 0, NULL,
     "client certificate (PEM) for etcd's client-cert-auth"},
    {"etcd-key", CT_OPT_STR, O(etcd_key), 0, 0, "FILE", NULL, 0, 0, NULL,
     "the client certificate's private key (PEM)"},
    {"copy-store", CT_OPT_STR, O(copy_store), 0, 0, "DEST", NULL, 0, 0, NULL,
     "copy --data consistently (also while it runs) into the new DEST, with DEST/copy.txt; exit"},
    {"from-copy", CT_OPT_STR, O(from_copy), 0, 0, "SRC", NULL, 0, 0, NULL,
     "with --follow and no store in --data yet: start from the checked --copy-store copy SRC"},
    {"bootstrap", CT_OPT_FLAG, O(bootstrap), 0, 0, NULL, NULL, 0, 0, NULL,
     "with --follow and no store in --data yet: fetch a copy from the primary, check it, follow"},
    {"test-flip-shipped", CT_OPT_INT, O(test_flip_shipped), 0, CT_OPT_HIDDEN, "SEQ", "0", 0, 0,
     NULL, "TEST ONLY: flip one byte of the log record SEQ the first time it is shipped"},
    {"test-no-read-ahead", CT_OPT_FLAG, O(test_no_read_ahead), 0, CT_OPT_HIDDEN, NULL, NULL, 0, 0,
     NULL, "TEST ONLY: refuse a follower's read-ahead (err unknown_key), as an older primary"},
    {"map-size", CT_OPT_SIZE, O(map_size), 0, 0, "SIZE", "16G", 1, 0, NULL,
     "LMDB map size, K/M/G/T suffix"},
    {"batch-max", CT_OPT_INT, O(batch_max), 0, 0, "N", "8192", 1, 1 << 20, NULL,
     "events per group commit"},
    {"keys", CT_OPT_STR, O(keys), 0, 0, "FILE", NULL, 0, 0, NULL,
     "server CURVE key pair (.key, mode 0600)"},
    {"auth", CT_OPT_STR, O(auth), 0, 0, "FILE", NULL, 0, 0, NULL,
     "authorization file (key role [district] [name]); reloaded on SIGHUP"},
    {"insecure", CT_OPT_FLAG, O(insecure), 0, 0, NULL, NULL, 0, 0, NULL,
     "no CurveZMQ, no authorization (warns loudly)"},
    {"metrics", CT_OPT_STR, O(metrics), 0, 0, "ADDR:PORT", NULL, 0, 0, NULL,
     "serve Prometheus /metrics over HTTP (':PORT' binds 127.0.0.1)"},
    {"stats-interval", CT_OPT_DOUBLE, O(stats_interval), 0, 0, "SEC", "10", 0, 0, NULL,
     "stats log line period, 0 = off"},
    {"max-connections", CT_OPT_INT, O(max_connections), 0, 0, "N", "1000", 1, 1000000, NULL,
     "bound on open connections over all sockets; more are cut as soon as they are accepted"},
    {"handshake-ivl", CT_OPT_INT, O(handshake_ivl), 0, 0, "MS", "5000", 100, 600000, NULL,
     "ZMTP/CURVE handshake deadline"},
    {"feed-hwm", CT_OPT_INT, O(feed_hwm), 0, 0, "N", "1000", 1, 10000000, NULL,
     "messages queued per subscriber before PUB drops"},
    {"reader-check", CT_OPT_INT, O(reader_check), 0, 0, "SEC", "10", 1, 86400, NULL,
     "mdb_reader_check period"},
    {"persons-checkpoint", CT_OPT_INT, O(persons_ckpt), 0, 0, "N", "32768", 0, 10000000, NULL,
     "write person states to the store when N are pending (or after 5 s); 0 = in every batch (a "
     "restart replays the rest)"},
    {"no-future-check", CT_OPT_FLAG, O(no_future_check), 0, 0, NULL, NULL, 0, 0, NULL,
     "accept events dated in the future (replays, tests)"},
    {"accept-campaign-change", CT_OPT_FLAG, O(accept_campaign_change), 0, 0, NULL, NULL, 0, 0, NULL,
     "run an existing store with an edited campaign file/roster (its fingerprint differs; recorded "
     "in the store's meta; without it such a start exits 2)"},
    {"log-level", CT_OPT_CHOICE, O(log_level), 0, 0, "L", "info", 0, 0, levels,
     "debug|info|warn|error"},
    {"test-no-zap", CT_OPT_FLAG, O(test_no_zap), 0, 0, NULL, NULL, 0, 0, NULL,
     "TEST ONLY: do not start the ZAP handler (every connection must then fail: ZAP is enforced)"},
    {0},
};

static const ct_opt_spec spec = {
    .prog = "chitieu-aggregator",
    .usage = "--data DIR [options]",
    .about = "Receives enrollment events from collectors, commits them durably to an LMDB store "
             "(hash-chained log + counts) and acks only after the commit; publishes the changed "
             "counts and serves snapshots to reporters.",
    .opts = opts,
    .epilog = "Replication (docs/replication.md): a primary with --replicate EP "
              "[--sync-followers K]; a follower with --follow EP (exits 1 naming the first seq "
              "where its log and the primary's diverge); or, for automatic failover, every "
              "member with --etcd URL... --group NAME --group-size N --replicate EP "
              "--sync-followers K (etcd elects the primary; docs/replication.md). "
              "Signals: SIGINT/SIGTERM finish the batch in flight, ack it and exit 0; SIGHUP "
              "reloads --auth (revocations apply to open connections; an invalid file keeps "
              "the previous table and says so). Exit: 0 ok, 1 runtime failure, 2 usage or "
              "configuration error.",
};

int main(int argc, char **argv)
{
    ct_log_set_component("aggregator");
    ct_aggregator_heap_policy();
    opts_t o;
    memset(&o, 0, sizeof o);
    ct_opt_result res;
    if (ct_opt_parse(&spec, argc, argv, &o, &res) != CT_OK) return 2;
    if (res.exit_now) return 0;
    ct_cli_set_log_level(levels[o.log_level]);
    const char *bad = ct_aggregator_args_check(&o);
    if (bad) return ct_opt_usage_error(&spec, "%s", bad);

    char err[512] = "";
    int exit_code = 1;
    ct_campaign camp;
    memset(&camp, 0, sizeof camp);
    ct_store *store = NULL;
    ct_auth *auth = NULL;
    void *ctx = NULL;
    ct_keypair kp;
    memset(&kp, 0, sizeof kp);
    char primary_pub[CT_Z85_KEY_LEN + 1] = "";
    ct_aggregator_signals sig = {0};

    if (ct_crypto_init() != CT_OK) {
        ct_log(CT_LOG_ERROR, "libsodium init failed", NULL);
        return 1;
    }
    ct_err e = ct_campaign_load_arg(o.campaign, &camp, err, sizeof err);
    if (e) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (o.copy_store || (!o.insecure && ct_aggregator_args_load_keys(
                                            &o, &camp, &kp, &auth, primary_pub, err, sizeof err))) {
        if (!o.copy_store) fprintf(stderr, "%s\n", err); /* --copy-store needs no keys */
        exit_code = o.copy_store ? ct_aggregator_copy_store(&o, &camp) : 2;
        goto out;
    }
    if ((exit_code = ct_aggregator_from_copy(&o, &camp, o.insecure ? NULL : &kp, primary_pub)))
        goto out;
    exit_code = 1;
    ct_aggregator_raise_nofile();
    if (!(store = ct_aggregator_store_open(&o, &camp, &exit_code))) goto out;
    if (o.promote || o.rejoin) {
        exit_code = ct_aggregator_failover(&o, store, &camp, o.insecure ? NULL : &kp, primary_pub);
        goto out;
    }
    int stale = ct_store_reader_check(store);
    if (stale > 0) ct_log(CT_LOG_INFO, "cleared stale LMDB readers", "count=%d", stale);
    if (stale < 0)
        ct_log(CT_LOG_WARN, "LMDB reader check failed", "detail=\"%s\"",
               ct_store_last_error(store));

    if (ct_aggregator_signals_install(&sig) != CT_OK) {
        ct_log(CT_LOG_ERROR, "cannot set up signal handling", "err=\"%s\"", strerror(errno));
        goto out;
    }
    ctx = zmq_ctx_new();
    if (!ctx) {
        ct_log(CT_LOG_ERROR, "cannot create the ZeroMQ context", "err=\"%s\"", zmq_strerror(errno));
        goto out;
    }
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

    ct_aggregator_opts ao = {.campaign = &camp,
                             .store = store,
                             .auth = auth,
                             .kp = o.insecure ? NULL : &kp,
                             .zctx = ctx,
                             .stop = sig.stop,
                             .reload = sig.reload,
                             .wake_fd = sig.wake_fd};
    ct_aggregator_args_wire(&o, primary_pub, &ao);
    if (o.metrics && (e = ct_metrics_http_start(o.metrics, &ao.metrics, err, sizeof err))) {
        ct_log(CT_LOG_ERROR, "--metrics", "err=%s detail=\"%s\"", ct_err_name(e), err);
        exit_code = e == CT_ERR_USAGE ? 2 : 1;
        goto out;
    }
    char rejoin_to[512] = "";
    ct_elect *elect = NULL;
    if (o.etcd.n) {
        ct_elect_opts eo;
        memset(&eo, 0, sizeof eo);
        ct_aggregator_args_elect(&o, &eo);
        if ((e = ct_elect_start(&eo, &elect, err, sizeof err))) {
            ct_log(CT_LOG_ERROR, "--etcd", "err=%s detail=\"%s\"", ct_err_name(e), err);
            exit_code = e == CT_ERR_ARG ? 2 : 1;
            ct_metrics_http_stop(ao.metrics);
            goto out;
        }
        ao.elect = elect;
        ao.rejoin_to = rejoin_to;
        ao.rejoin_to_len = sizeof rejoin_to;
    }
    for (;;) {
        e = ct_aggregator_run(&ao, err, sizeof err);
        if (!(e == CT_ERR_CHAIN && elect && rejoin_to[0] && !*sig.stop)) break;
        /* a former leader's unsafe tail: discarded (kept aside), then the
         * member runs again as a follower */
        store = ct_aggregator_store_rejoin(&o, store, &camp, o.insecure ? NULL : &kp, primary_pub,
                                           rejoin_to);
        if (!store) break;
        ao.store = store;
    }
    ct_elect_stop(elect);
    ct_metrics_http_stop(ao.metrics);
    if (!store) goto out;
    if (e) {
        ct_log(CT_LOG_ERROR, "aggregator failed", "err=%s detail=\"%s\"", ct_err_name(e), err);
        goto out;
    }
    exit_code = 0;
out:
    ct_auth_free(auth);
    if (ctx) zmq_ctx_term(ctx);
    ct_store_close(store);
    ct_campaign_free(&camp);
    sodium_memzero(&kp, sizeof kp);
    ct_aggregator_signals_close();
    if (exit_code == 0) ct_log(CT_LOG_INFO, "stopped", NULL);
    return exit_code;
}
