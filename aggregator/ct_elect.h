/* ct_elect.h — the leader election of an aggregator group in etcd
 * (--etcd, --group, --advertise; docs/replication.md "Automatic failover").
 *
 * etcd decides, chitieu fences. One thread per process talks to etcd
 * (ct_etcd) and publishes what it learnt as a ct_elect_view; the
 * aggregator's loop reads the view and changes role (ct_aggregator.c).
 *
 * Keys, under /chitieu/<group>/:
 *   leader          = the leader's advertised replication endpoint, created
 *                     only if absent (one transaction) and bound to the
 *                     creator's lease: it disappears when that lease
 *                     expires or is revoked. Its create_revision is the
 *                     group's epoch (the fencing token of §3.5).
 *   members/<adv>   = "<store epoch> <head seq>" of each live member, bound
 *                     to its lease.
 * A member campaigns (creates "leader") only when the key is absent and no
 * other live member publishes a later log: a higher store epoch, or the
 * same and a higher head (as Raft compares the last entry's term, then its
 * index). A store of epoch E holds a prefix of the log of E's leader, so the
 * winner holds every record a live member of the latest epoch holds. With
 * the group's size N (--group-size), a member campaigns only when it sees
 * at least N - K live members: an event acked safe is on K + 1 members, so
 * at least one of them is among those seen, and the winner has it.
 *
 * Lease and clock: the lease has TTL T (--lease-ttl). A keepalive is sent
 * every T/6; the instant t0 just before a keepalive (or the grant) that
 * succeeded makes the lease good until t0 + T/2 on this process's monotonic
 * clock. etcd cannot expire the lease before t0 + T on its own clock (and
 * extends leases when its own leader changes), so as long as the two
 * clocks' rates differ by less than a factor 2, a leader stops acking
 * (ct_elect_may_lead false) before any other node can have been elected.
 * The thread never blocks the loop: the loop reads the view under a mutex.
 */
#ifndef CT_ELECT_H
#define CT_ELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_etcd.h"

typedef enum {
    CT_ELECT_UNKNOWN = 0, /* no answer from etcd yet, or no leader */
    CT_ELECT_LEADER,      /* the leader key is bound to our lease */
    CT_ELECT_FOLLOWER     /* another member holds the leader key */
} ct_elect_role;

#define CT_ELECT_MAX_MEMBERS 16
#define CT_ELECT_ENDPOINT_MAX 120 /* bytes of --advertise */

/* A live member as its member key says. */
typedef struct {
    char endpoint[CT_ELECT_ENDPOINT_MAX + 1];
    uint64_t epoch, head;
} ct_elect_member;

typedef struct {
    ct_elect_role role;
    uint64_t epoch;                     /* the leader key's create revision */
    char leader[CT_ETCD_VALUE_MAX + 1]; /* the leader's replication endpoint */
    int64_t lease_ok_until_ms;          /* monotonic; 0 = no valid lease */
    bool etcd_ok;                       /* the last request was answered */
    int64_t etcd_silent_ms;             /* since etcd last answered */
    char etcd_err[256];                 /* the last failure, "" when none */
    int64_t since_ms;                   /* wall clock: the current leader seen first */
    uint64_t leader_changes;            /* leaders seen by this process */
    bool refused;                       /* won with a revision not above the store's epoch */
    /* the live members' keys as last listed (sorted by endpoint; every
     * lease period / 6 while this member holds a lease) */
    size_t n_members;
    ct_elect_member members[CT_ELECT_MAX_MEMBERS];
} ct_elect_view;

typedef struct {
    ct_etcd_opts etcd;
    const char *group;     /* key prefix /chitieu/<group>/ */
    const char *advertise; /* our replication endpoint as others reach it */
    int64_t ttl_s;         /* lease TTL, seconds (>= 2) */
    /* the group's size N and --sync-followers K: a member campaigns only
     * when it sees at least N - K live members (itself included); 0 = no
     * such check */
    size_t group_size, sync_k;
} ct_elect_opts;

typedef struct ct_elect ct_elect;

/* Starts the thread. CT_ERR_ARG for bad options (err says which). */
ct_err ct_elect_start(const ct_elect_opts *o, ct_elect **out, char *err, size_t errlen);
/* Stops the thread; a leader revokes its lease (the others take over at
 * once). NULL is a no-op. */
void ct_elect_stop(ct_elect *e);
void ct_elect_get(ct_elect *e, ct_elect_view *v);
/* The loop publishes its store's head and epoch, the highest it adopted or
 * led (before that, this member never campaigns). */
void ct_elect_set_store(ct_elect *e, uint64_t head_seq, uint64_t epoch);
/* The loop cannot lead (its store refused the group's epoch): the thread
 * gives the leader key up (revokes the lease) and does not campaign for
 * 10 lease TTLs, so another member can lead. */
void ct_elect_resign(ct_elect *e);
/* True while this member is leader with a lease good at now_ms. */
bool ct_elect_may_lead(const ct_elect_view *v, int64_t now_ms);
const char *ct_elect_role_name(ct_elect_role r);
/* --group as started. */
const char *ct_elect_group(const ct_elect *e);

#endif
