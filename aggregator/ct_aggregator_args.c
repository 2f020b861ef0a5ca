/* ct_aggregator_args.c — checks between the aggregator's options and their
 * wiring to the loop and to the failover commands (see
 * ct_aggregator_args.h).
 *
 * Invariants: the checks only read the parsed values; a follower is never
 * given --sync-followers; --promote and --rejoin never reach the loop.
 */
#include "ct_aggregator_args.h"

#include <assert.h>
#include <stdio.h>

#include "ct_bootstrap.h"
#include "ct_log.h"
#include "ct_rejoin.h"

const char *ct_aggregator_args_check(const ct_aggregator_args *a)
{
    if (a->copy_store)
        return a->follow || a->promote || a->rejoin || a->from_copy
                   ? "--copy-store DEST takes only --data (and --campaign, --map-size)"
                   : NULL;
    if ((a->from_copy || a->bootstrap) && (!a->follow || a->rejoin))
        return "--from-copy SRC and --bootstrap go with --follow EP (a follower started from a "
               "copy)";
    if (a->from_copy && a->bootstrap) return "--from-copy SRC or --bootstrap, not both";
    if (a->insecure && (a->keys || a->auth)) return "--insecure excludes --keys/--auth";
    if (!a->insecure && (!a->keys || !a->auth))
        return "give --keys FILE and --auth FILE (CurveZMQ), or --insecure for plaintext";
    if (a->sync_followers > 0 && (a->replicate.n == 0 || a->follow))
        return "--sync-followers needs --replicate (and a primary)";
    if (a->follow && !a->insecure && !a->primary_key)
        return "--follow needs --primary-key FILE (or --insecure)";
    if ((a->promote && (a->rejoin || a->follow)) || (a->rejoin && !a->follow))
        return "--promote takes no --follow; --rejoin needs --follow EP";
    if (a->etcd.n && (a->follow || a->promote || a->rejoin || !a->group || !a->replicate.n))
        return "--etcd needs --group NAME and --replicate EP, and takes no --follow, --promote "
               "or --rejoin (the election decides the role)";
    if (a->etcd.n && a->sync_followers < 1)
        return "--etcd needs --sync-followers K >= 1: with 0 an ack means one disk, and an "
               "automatic failover would lose what only the dead primary had";
    if (a->etcd.n && a->group_size && a->sync_followers >= a->group_size)
        return "--sync-followers K must be below --group-size N (K followers besides the leader)";
    if (!a->etcd.n && (a->group || a->advertise))
        return "--group and --advertise need --etcd ENDPOINT";
    if (a->etcd.n > CT_ETCD_MAX_ENDPOINTS) return "at most 8 --etcd endpoints";
    return NULL;
}

void ct_aggregator_args_wire(const ct_aggregator_args *a, const char *primary_pub,
                             ct_aggregator_opts *o)
{
    assert(!(a->follow && a->sync_followers > 0));
    o->data = a->data;
    o->ingest = a->ingest.v;
    o->feed = a->feed.v;
    o->snapshot = a->snapshot.v;
    o->n_ingest = a->ingest.n;
    o->n_feed = a->feed.n;
    o->n_snapshot = a->snapshot.n;
    o->batch_max = (size_t)a->batch_max;
    o->no_future_check = a->no_future_check;
    o->stats_interval = a->stats_interval;
    o->max_connections = (long)a->max_connections;
    o->handshake_ivl_ms = (long)a->handshake_ivl;
    o->feed_hwm = (long)a->feed_hwm;
    o->reader_check_s = (long)a->reader_check;
    o->replicate = a->replicate.v;
    o->n_replicate = a->replicate.n;
    o->sync_followers = (size_t)a->sync_followers;
    o->follow = a->follow;
    o->apply_delay_ms = a->apply_delay;
    o->advertise = a->advertise ? a->advertise : a->replicate.n ? a->replicate.v[0] : NULL;
    o->primary_key_z85 = a->insecure ? NULL : primary_pub;
    o->test_flip_seq = (uint64_t)a->test_flip_shipped;
    o->test_no_ahead = a->test_no_read_ahead;
}

ct_err ct_aggregator_args_load_keys(const ct_aggregator_args *a, const ct_campaign *camp,
                                    ct_keypair *kp, ct_auth **auth, char *primary_pub, char *err,
                                    size_t errlen)
{
    assert(!a->insecure);
    err[0] = 0;
    ct_err e = ct_keypair_load(a->keys, kp, err, errlen);
    if (!e) e = ct_auth_load(a->auth, camp, auth, err, errlen);
    if (!e && (a->follow || (a->etcd.n && a->primary_key)))
        e = ct_public_key_load(a->primary_key, primary_pub, err, errlen);
    else if (!e && a->etcd.n) /* a group shares one server key pair */
        snprintf(primary_pub, CT_Z85_KEY_LEN + 1, "%s", kp->public_z85);
    if (e && !err[0]) snprintf(err, errlen, "%s", ct_err_str(e));
    return e;
}

void ct_aggregator_args_elect(const ct_aggregator_args *a, ct_elect_opts *eo)
{
    assert(a->etcd.n > 0);
    eo->etcd.endpoints = a->etcd.v;
    eo->etcd.n_endpoints = a->etcd.n;
    eo->etcd.cacert = a->etcd_cacert;
    eo->etcd.cert = a->etcd_cert;
    eo->etcd.key = a->etcd_key;
    eo->etcd.timeout_ms = 1000;
    eo->group = a->group;
    eo->advertise = a->advertise ? a->advertise : a->replicate.v[0];
    eo->ttl_s = a->lease_ttl;
    eo->group_size = (size_t)a->group_size;
    eo->sync_k = (size_t)a->sync_followers;
}

int ct_aggregator_copy_store(const ct_aggregator_args *a, const ct_campaign *camp)
{
    assert(a->copy_store);
    char msg[1024] = "";
    ct_err e = ct_bootstrap_copy(a->data, a->copy_store, a->map_size, camp, msg, sizeof msg);
    ct_log(e ? CT_LOG_ERROR : CT_LOG_INFO, "copy-store", "err=%s detail=\"%s\"", ct_err_name(e),
           msg);
    return e ? 1 : 0;
}

int ct_aggregator_from_copy(const ct_aggregator_args *a, const ct_campaign *camp,
                            const ct_keypair *kp, const char *primary_pub)
{
    if (!a->from_copy && !a->bootstrap) return 0;
    assert(a->follow);
    char msg[1024] = "";
    bool installed = false;
    ct_bootstrap_fetch_opts fo = {.data = a->data,
                                  .map_size = a->map_size,
                                  .campaign = camp,
                                  .endpoint = a->follow,
                                  .kp = kp,
                                  .primary_key_z85 = primary_pub};
    ct_err e = a->bootstrap ? ct_bootstrap_fetch(&fo, &installed, msg, sizeof msg)
                            : ct_bootstrap_install(a->from_copy, a->data, a->map_size, camp,
                                                   &installed, msg, sizeof msg);
    if (e)
        ct_log(CT_LOG_ERROR, "cannot start from the copy", "err=%s detail=\"%s\"", ct_err_name(e),
               msg);
    else if (installed)
        ct_log(CT_LOG_INFO, "bootstrap: started from a copy", "detail=\"%s\"", msg);
    else
        ct_log(CT_LOG_INFO, "bootstrap: the data directory holds a store; following from its head",
               "from_copy=%s", a->from_copy);
    return !e ? 0 : e == CT_ERR_CAMPAIGN_MISMATCH ? 2 : 1;
}

int ct_aggregator_failover(const ct_aggregator_args *a, ct_store *store, const ct_campaign *camp,
                           const ct_keypair *kp, const char *primary_pub)
{
    assert(a->promote || a->rejoin);
    char msg[1024] = "";
    ct_rejoin_opts ro = {.store = store,
                         .campaign = camp,
                         .data = a->data,
                         .map_size = a->map_size,
                         .follow = {.store = store,
                                    .campaign = camp,
                                    .endpoint = a->follow,
                                    .data = a->data,
                                    .kp = kp,
                                    .primary_key_z85 = kp ? primary_pub : NULL}};
    uint64_t bad = 0;
    /* a record received as a follower is counted before the store serves
     * as a primary or finds its fork point */
    ct_err e = ct_store_ship_apply_all(store, camp, &bad);
    if (e)
        snprintf(msg, sizeof msg,
                 "cannot count the records received as a follower (seq %llu): %s; nothing "
                 "changed",
                 (unsigned long long)bad, ct_err_str(e));
    else
        e = a->promote ? ct_rejoin_promote(store, msg, sizeof msg)
                       : ct_rejoin_run(&ro, msg, sizeof msg);
    ct_log(e ? CT_LOG_ERROR : CT_LOG_INFO, a->promote ? "promote" : "rejoin",
           "err=%s detail=\"%s\"", ct_err_name(e), msg);
    return e ? 1 : 0;
}
