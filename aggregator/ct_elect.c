/* ct_elect.c — the election thread (see ct_elect.h).
 *
 * Invariants: lease_ok_until_ms only moves to t0 + T/2 where t0 was read
 * before the request that proved the lease alive, and drops to 0 when etcd
 * says the lease is gone; role LEADER is published only after etcd showed
 * the leader key bound to our lease; a won key whose revision is not above
 * the store's epoch is given up at once (lease revoked) and never led;
 * every field of the view is written under the mutex, and the thread holds
 * the mutex only to copy, never during a request.
 */
#include "ct_elect.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_log.h"
#include "ct_time.h"

#define MAX_MEMBERS CT_ELECT_MAX_MEMBERS

struct ct_elect {
    ct_elect_opts o;
    char key_leader[200], key_members[200], key_me[400];
    ct_etcd *etcd;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    ct_elect_view v;           /* under mu */
    uint64_t head_seq;         /* under mu */
    uint64_t store_ep;         /* under mu */
    bool have_store;           /* under mu */
    int stop;                  /* atomic */
    int resign;                /* atomic: set by ct_elect_resign */
    int64_t quiet_until;       /* thread only: no campaign before (monotonic ms) */
    int64_t lease;             /* thread only */
    uint64_t put_head, put_ep; /* thread only: the head last written to our member key */
    bool put_done;             /* thread only */
    bool refused_local;        /* thread only */
    bool reported;             /* under mu: etcd's state was logged once */
    int64_t last_ok_ms;        /* thread only */
    int64_t few_log_ms;        /* thread only: the last "too few members" line */
    ct_etcd_kv kvs[MAX_MEMBERS];
    char keys[MAX_MEMBERS][256];
};

const char *ct_elect_role_name(ct_elect_role r)
{
    return r == CT_ELECT_LEADER ? "leader" : r == CT_ELECT_FOLLOWER ? "follower" : "unknown";
}

bool ct_elect_may_lead(const ct_elect_view *v, int64_t now_ms)
{
    return v->role == CT_ELECT_LEADER && !v->refused && now_ms < v->lease_ok_until_ms;
}

const char *ct_elect_group(const ct_elect *e)
{
    return e->o.group;
}

void ct_elect_get(ct_elect *e, ct_elect_view *v)
{
    pthread_mutex_lock(&e->mu);
    *v = e->v;
    v->etcd_silent_ms = e->last_ok_ms ? ct_monotonic_ms() - e->last_ok_ms : -1;
    pthread_mutex_unlock(&e->mu);
}

void ct_elect_set_store(ct_elect *e, uint64_t head_seq, uint64_t epoch)
{
    pthread_mutex_lock(&e->mu);
    e->head_seq = head_seq;
    e->store_ep = epoch;
    e->have_store = true;
    pthread_mutex_unlock(&e->mu);
}

/* The result of one request: etcd reachable or not (logged on a change). */
static void etcd_state(ct_elect *e, ct_err r)
{
    bool ok = r == CT_OK;
    pthread_mutex_lock(&e->mu);
    bool was = e->reported ? e->v.etcd_ok : !ok; /* the first answer or failure is logged */
    e->reported = true;
    e->v.etcd_ok = ok;
    if (ok) {
        e->v.etcd_err[0] = 0;
        e->last_ok_ms = ct_monotonic_ms();
    } else {
        snprintf(e->v.etcd_err, sizeof e->v.etcd_err, "%s", ct_etcd_last_error(e->etcd));
    }
    pthread_mutex_unlock(&e->mu);
    if (ok && !was)
        ct_log(CT_LOG_INFO, "group: etcd answers", "group=%s", e->o.group);
    else if (!ok && was)
        ct_log(CT_LOG_WARN,
               "group: etcd cannot be reached; a leader stops accepting when its "
               "lease is no longer sure",
               "group=%s detail=\"%s\"", e->o.group, ct_etcd_last_error(e->etcd));
}

/* Keeps our lease (granting one when there is none). */
static void keep_lease(ct_elect *e)
{
    int64_t ttl_ms = e->o.ttl_s * 1000;
    int64_t t0 = ct_monotonic_ms();
    ct_err r;
    if (!e->lease) {
        int64_t id = 0;
        r = ct_etcd_lease_grant(e->etcd, e->o.ttl_s, &id);
        etcd_state(e, r);
        if (r) return;
        e->lease = id;
        e->put_done = false;
        pthread_mutex_lock(&e->mu);
        e->v.lease_ok_until_ms = t0 + ttl_ms / 2;
        pthread_mutex_unlock(&e->mu);
        return;
    }
    int64_t left = 0;
    r = ct_etcd_lease_keepalive(e->etcd, e->lease, &left);
    etcd_state(e, r);
    if (r) return;
    pthread_mutex_lock(&e->mu);
    e->v.lease_ok_until_ms = left > 0 ? t0 + ttl_ms / 2 : 0;
    bool was_leader = e->v.role == CT_ELECT_LEADER;
    if (left <= 0 && was_leader) e->v.role = CT_ELECT_UNKNOWN;
    pthread_mutex_unlock(&e->mu);
    if (left <= 0) {
        ct_log(was_leader ? CT_LOG_WARN : CT_LOG_INFO,
               "group: our lease expired in etcd; taking a new one",
               "group=%s lease=%" PRId64 " was_leader=%s", e->o.group, e->lease,
               was_leader ? "yes" : "no");
        e->lease = 0;
    }
}

/* Our store's epoch and head in our member key (when they changed). */
static void publish_head(ct_elect *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t head = e->head_seq, ep = e->store_ep;
    bool have = e->have_store;
    pthread_mutex_unlock(&e->mu);
    if (!have || (e->put_done && head == e->put_head && ep == e->put_ep)) return;
    char val[48];
    snprintf(val, sizeof val, "%" PRIu64 " %" PRIu64, ep, head);
    ct_err r = ct_etcd_put(e->etcd, e->key_me, val, e->lease);
    etcd_state(e, r);
    if (!r) {
        e->put_head = head;
        e->put_ep = ep;
        e->put_done = true;
    }
}

/* The live members' keys into the view (what the status shows). */
static void list_members(ct_elect *e)
{
    size_t n = 0;
    ct_err r = ct_etcd_list(e->etcd, e->key_members, e->kvs, e->keys, MAX_MEMBERS, &n);
    etcd_state(e, r);
    if (r) return;
    if (n > MAX_MEMBERS) n = MAX_MEMBERS;
    ct_elect_member m[MAX_MEMBERS];
    size_t plen = strlen(e->key_members), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(e->keys[i], e->key_members, plen) != 0 || !e->keys[i][plen]) continue;
        snprintf(m[k].endpoint, sizeof m[k].endpoint, "%.*s", CT_ELECT_ENDPOINT_MAX,
                 e->keys[i] + plen);
        char *end = NULL;
        m[k].epoch = strtoull(e->kvs[i].value, &end, 10);
        m[k].head = end ? strtoull(end, NULL, 10) : 0;
        k++;
    }
    pthread_mutex_lock(&e->mu);
    memcpy(e->v.members, m, k * sizeof m[0]);
    e->v.n_members = k;
    pthread_mutex_unlock(&e->mu);
}

/* No other live member has a later log than ours: a higher store epoch, or
 * the same epoch and a higher head (a store of epoch E holds a prefix of the
 * log of E's leader, so among the members of the latest epoch the highest
 * head has every record any of them has; a longer log of an older epoch may
 * be a former leader's unsafe tail). */
static bool eligible(ct_elect *e, uint64_t ep, uint64_t head)
{
    size_t n = 0;
    ct_err r = ct_etcd_list(e->etcd, e->key_members, e->kvs, e->keys, MAX_MEMBERS, &n);
    etcd_state(e, r);
    if (r) return false;
    size_t seen = 1; /* ourselves */
    for (size_t i = 0; i < n; i++)
        if (strcmp(e->keys[i], e->key_me) != 0) seen++;
    size_t need = e->o.group_size > e->o.sync_k ? e->o.group_size - e->o.sync_k : 1;
    if (e->o.group_size && seen < need) {
        int64_t now = ct_monotonic_ms();
        if (now - e->few_log_ms >= 5000) {
            ct_log(CT_LOG_WARN,
                   "group: not campaigning: too few members seen to be sure of holding every "
                   "event acked safe (waiting for them)",
                   "group=%s members_seen=%zu needed=%zu group_size=%zu sync_followers=%zu",
                   e->o.group, seen, need, e->o.group_size, e->o.sync_k);
            e->few_log_ms = now;
        }
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e->keys[i], e->key_me) == 0) continue;
        char *end = NULL;
        uint64_t oep = strtoull(e->kvs[i].value, &end, 10);
        uint64_t h = end ? strtoull(end, NULL, 10) : 0;
        if (oep > ep || (oep == ep && h > head)) {
            ct_log(CT_LOG_INFO, "group: not campaigning: a member has a later log",
                   "group=%s member=\"%s\" its_epoch=%" PRIu64 " its_head=%" PRIu64
                   " our_epoch=%" PRIu64 " our_head=%" PRIu64,
                   e->o.group, e->keys[i] + strlen(e->key_members), oep, h, ep, head);
            return false;
        }
    }
    return true;
}

static void publish_leader(ct_elect *e, const ct_etcd_kv *kv)
{
    ct_elect_role role = kv->lease == e->lease ? CT_ELECT_LEADER : CT_ELECT_FOLLOWER;
    pthread_mutex_lock(&e->mu);
    bool changed = e->v.epoch != (uint64_t)kv->create_revision || e->v.role != role;
    if (e->v.epoch != (uint64_t)kv->create_revision) {
        e->v.since_ms = ct_now_ms();
        e->v.leader_changes++;
    }
    e->v.role = role;
    e->v.epoch = (uint64_t)kv->create_revision;
    snprintf(e->v.leader, sizeof e->v.leader, "%s", kv->value);
    pthread_mutex_unlock(&e->mu);
    if (changed)
        ct_log(CT_LOG_INFO, "group: leader", "group=%s role=%s leader=%s epoch=%" PRId64,
               e->o.group, ct_elect_role_name(role), kv->value, kv->create_revision);
}

void ct_elect_resign(ct_elect *e)
{
    __atomic_store_n(&e->resign, 1, __ATOMIC_RELEASE);
}

static void step(ct_elect *e)
{
    if (__atomic_exchange_n(&e->resign, 0, __ATOMIC_ACQ_REL) && e->lease) {
        pthread_mutex_lock(&e->mu);
        e->v.role = CT_ELECT_UNKNOWN;
        e->v.lease_ok_until_ms = 0;
        pthread_mutex_unlock(&e->mu);
        etcd_state(e, ct_etcd_lease_revoke(e->etcd, e->lease));
        e->lease = 0;
        e->quiet_until = ct_monotonic_ms() + 10 * e->o.ttl_s * 1000;
        ct_log(CT_LOG_WARN, "group: gave the leadership up (this member cannot lead now)",
               "group=%s quiet_s=%lld", e->o.group, (long long)(10 * e->o.ttl_s));
    }
    keep_lease(e);
    if (!e->lease) return;
    publish_head(e);
    list_members(e);
    ct_etcd_kv kv;
    ct_err r = ct_etcd_get(e->etcd, e->key_leader, &kv);
    etcd_state(e, r);
    if (r) return;
    if (kv.found) {
        publish_leader(e, &kv);
        return;
    }
    pthread_mutex_lock(&e->mu);
    bool have = e->have_store;
    uint64_t head = e->head_seq, sep = e->store_ep;
    if (e->v.role != CT_ELECT_UNKNOWN)
        ct_log(CT_LOG_INFO, "group: no leader in etcd", "group=%s previous=%s epoch=%" PRIu64,
               e->o.group, e->v.leader, e->v.epoch);
    e->v.role = CT_ELECT_UNKNOWN;
    pthread_mutex_unlock(&e->mu);
    if (!have || e->refused_local || ct_monotonic_ms() < e->quiet_until || !eligible(e, sep, head))
        return;
    bool created = false;
    r = ct_etcd_create_if_absent(e->etcd, e->key_leader, e->o.advertise, e->lease, &created, &kv);
    etcd_state(e, r);
    if (r || !kv.found) return;
    if (created && (uint64_t)kv.create_revision <= sep) {
        /* etcd's revisions restarted below our epochs (its data was reset):
         * leading would reuse a fencing token; give the key up */
        ct_log(CT_LOG_ERROR,
               "group: won the election with an etcd revision not above this store's epoch; "
               "giving it up and not campaigning again (needs a person: was etcd's data reset?)",
               "group=%s revision=%" PRId64 " store_epoch=%" PRIu64, e->o.group, kv.create_revision,
               sep);
        ct_etcd_lease_revoke(e->etcd, e->lease);
        e->lease = 0;
        e->refused_local = true;
        pthread_mutex_lock(&e->mu);
        e->v.refused = true;
        e->v.lease_ok_until_ms = 0;
        pthread_mutex_unlock(&e->mu);
        return;
    }
    if (created)
        ct_log(CT_LOG_INFO, "group: won the election",
               "group=%s epoch=%" PRId64 " head_seq=%" PRIu64, e->o.group, kv.create_revision,
               head);
    publish_leader(e, &kv);
}

static void *thread_main(void *arg)
{
    ct_elect *e = arg;
    int64_t ivl = e->o.ttl_s * 1000 / 6;
    if (ivl < 100) ivl = 100;
    while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
        int64_t t = ct_monotonic_ms();
        step(e);
        while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE) && ct_monotonic_ms() - t < ivl)
            usleep(20000);
    }
    pthread_mutex_lock(&e->mu);
    bool leader = e->v.role == CT_ELECT_LEADER;
    e->v.role = CT_ELECT_UNKNOWN;
    e->v.lease_ok_until_ms = 0;
    pthread_mutex_unlock(&e->mu);
    if (e->lease) {
        ct_err r = ct_etcd_lease_revoke(e->etcd, e->lease);
        if (leader)
            ct_log(r ? CT_LOG_WARN : CT_LOG_INFO, "group: stepping down; lease revoked",
                   "group=%s revoked=%s", e->o.group, r ? "no (it expires by itself)" : "yes");
    }
    return NULL;
}

ct_err ct_elect_start(const ct_elect_opts *o, ct_elect **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->group || !o->group[0] || strlen(o->group) > 64 || strchr(o->group, '/') ||
        !o->advertise || !o->advertise[0] || strlen(o->advertise) > 120 || o->ttl_s < 2) {
        snprintf(err, errlen,
                 "--group NAME (1..64 bytes, no '/'), --advertise EP and "
                 "--lease-ttl >= 2 are needed with --etcd");
        return CT_ERR_ARG;
    }
    ct_elect *e = calloc(1, sizeof *e);
    if (!e) return CT_ERR_NOMEM;
    e->o = *o;
    pthread_mutex_init(&e->mu, NULL);
    snprintf(e->key_leader, sizeof e->key_leader, "/chitieu/%s/leader", o->group);
    snprintf(e->key_members, sizeof e->key_members, "/chitieu/%s/members/", o->group);
    snprintf(e->key_me, sizeof e->key_me, "%s%s", e->key_members, o->advertise);
    ct_err r = ct_etcd_create(&o->etcd, &e->etcd);
    if (r) {
        snprintf(err, errlen, "etcd client: %s", ct_err_str(r));
        goto fail;
    }
    if (pthread_create(&e->th, NULL, thread_main, e) != 0) {
        snprintf(err, errlen, "cannot start the election thread");
        r = CT_ERR_INTERNAL;
        goto fail;
    }
    e->started = true;
    *out = e;
    return CT_OK;
fail:
    ct_etcd_free(e->etcd);
    pthread_mutex_destroy(&e->mu);
    free(e);
    return r;
}

void ct_elect_stop(ct_elect *e)
{
    if (!e) return;
    __atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
    if (e->started) pthread_join(e->th, NULL);
    ct_etcd_free(e->etcd);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
