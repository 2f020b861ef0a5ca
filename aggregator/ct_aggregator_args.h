/* ct_aggregator_args.h — the command line of chitieu-aggregator as parsed
 * values (main.c's option table fills it: that table is the single source
 * for --help, config files and man pages), the checks between options, and
 * the wiring from those values to the parts: ct_aggregator_opts for the
 * loop, and the one-shot failover commands (--promote, --rejoin).
 */
#ifndef CT_AGGREGATOR_ARGS_H
#define CT_AGGREGATOR_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_aggregator.h"
#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_elect.h"
#include "ct_keys.h"
#include "ct_opt.h"
#include "ct_store.h"

typedef struct {
    const char *campaign, *data, *keys, *auth, *follow, *primary_key, *metrics;
    const char *copy_store, *from_copy; /* ct_bootstrap.h */
    ct_opt_list ingest, feed, snapshot, replicate;
    ct_opt_list etcd; /* group mode: etcd endpoints */
    const char *group, *advertise, *etcd_cacert, *etcd_cert, *etcd_key;
    int64_t lease_ttl, group_size;
    size_t map_size;
    int64_t batch_max, max_connections, handshake_ivl, feed_hwm, reader_check, persons_ckpt;
    int64_t sync_followers, test_flip_shipped, apply_delay;
    double stats_interval;
    int log_level;
    bool insecure, no_future_check, test_no_zap, accept_campaign_change, promote, rejoin;
    bool bootstrap, test_no_read_ahead;
} ct_aggregator_args;

/* The rules between options (security, replication, promotion, rejoin):
 * NULL when they hold, else the usage message naming the broken rule. */
const char *ct_aggregator_args_check(const ct_aggregator_args *a);

/* Fills the fields of o that come from the command line (endpoints, limits,
 * replication); the caller sets campaign, store, auth, kp, zctx, stop,
 * reload and wake_fd. primary_pub: the primary's public key (secure mode). */
void ct_aggregator_args_wire(const ct_aggregator_args *a, const char *primary_pub,
                             ct_aggregator_opts *o);

/* Group mode (--etcd): the election's options (endpoints, TLS files,
 * group, advertised endpoint: --advertise or the first --replicate). */
void ct_aggregator_args_elect(const ct_aggregator_args *a, ct_elect_opts *eo);

/* Secure mode: loads the server key pair (--keys), the authorization file
 * (--auth, checked against camp) and, for --follow, the primary's public
 * key (primary_pub, CT_Z85_KEY_LEN + 1 bytes). On failure err says why (the
 * caller exits 2); *auth is then owned by the caller (may be set). */
ct_err ct_aggregator_args_load_keys(const ct_aggregator_args *a, const ct_campaign *camp,
                                    ct_keypair *kp, ct_auth **auth, char *primary_pub, char *err,
                                    size_t errlen);

/* --copy-store DEST: the copy of --data (read-only, beside its running
 * writer), logged; returns the exit code (0 done, 1 failed). */
int ct_aggregator_copy_store(const ct_aggregator_args *a, const ct_campaign *camp);
/* --from-copy SRC or --bootstrap (with --follow): installs a copy when
 * --data holds no store yet (before the store is opened); logged. The exit
 * code to stop with (1 failed, 2 another campaign), or 0 to go on (also
 * without either option). kp NULL = insecure. */
int ct_aggregator_from_copy(const ct_aggregator_args *a, const ct_campaign *camp,
                            const ct_keypair *kp, const char *primary_pub);

/* --promote or --rejoin on the opened store: one change, logged, then the
 * process exits with the returned code (0 done, 1 failed). kp NULL =
 * insecure. */
int ct_aggregator_failover(const ct_aggregator_args *a, ct_store *store, const ct_campaign *camp,
                           const ct_keypair *kp, const char *primary_pub);

#endif
