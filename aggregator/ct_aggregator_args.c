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

#include "ct_log.h"
#include "ct_rejoin.h"

const char *ct_aggregator_args_check(const ct_aggregator_args *a)
{
    if (a->insecure && (a->keys || a->auth)) return "--insecure excludes --keys/--auth";
    if (!a->insecure && (!a->keys || !a->auth))
        return "give --keys FILE and --auth FILE (CurveZMQ), or --insecure for plaintext";
    if (a->sync_followers > 0 && (a->replicate.n == 0 || a->follow))
        return "--sync-followers needs --replicate (and a primary)";
    if (a->follow && !a->insecure && !a->primary_key)
        return "--follow needs --primary-key FILE (or --insecure)";
    if ((a->promote && (a->rejoin || a->follow)) || (a->rejoin && !a->follow))
        return "--promote takes no --follow; --rejoin needs --follow EP";
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
    o->primary_key_z85 = a->insecure ? NULL : primary_pub;
    o->test_flip_seq = (uint64_t)a->test_flip_shipped;
}

ct_err ct_aggregator_args_load_keys(const ct_aggregator_args *a, const ct_campaign *camp,
                                    ct_keypair *kp, ct_auth **auth, char *primary_pub, char *err,
                                    size_t errlen)
{
    assert(!a->insecure);
    err[0] = 0;
    ct_err e = ct_keypair_load(a->keys, kp, err, errlen);
    if (!e) e = ct_auth_load(a->auth, camp, auth, err, errlen);
    if (!e && a->follow) e = ct_public_key_load(a->primary_key, primary_pub, err, errlen);
    if (e && !err[0]) snprintf(err, errlen, "%s", ct_err_str(e));
    return e;
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
    ct_err e = a->promote ? ct_rejoin_promote(store, msg, sizeof msg)
                          : ct_rejoin_run(&ro, msg, sizeof msg);
    ct_log(e ? CT_LOG_ERROR : CT_LOG_INFO, a->promote ? "promote" : "rejoin",
           "err=%s detail=\"%s\"", ct_err_name(e), msg);
    return e ? 1 : 0;
}
