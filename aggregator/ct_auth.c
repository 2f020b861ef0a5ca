/* ct_auth.c — authorization table + ZAP handler thread (see ct_auth.h).
 *
 * Invariants: the table (a sorted array, bsearch by key) is only read or
 * replaced with a->mu held; readers copy what they need out. The ZAP socket
 * is created and bound by the starting thread, then used only by the handler
 * thread until it exits (pthread_create/join are the memory barriers).
 */
#include "ct_auth.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_num.h"
#include "ct_time.h"

#define CT_AUTH_NAME_MAX 64
#define CT_AUTH_LINE_MAX 1023 /* bytes of a line, its newline included */
#define CT_AUTH_LOG_PER_S 20

typedef struct {
    char key[CT_Z85_KEY_LEN + 1];
    ct_role role;
    uint32_t district;
    char name[CT_AUTH_NAME_MAX + 1];
} ct_auth_entry;

struct ct_auth {
    pthread_mutex_t mu;
    ct_auth_entry *tab;
    size_t n;
    char *path;
    const ct_campaign *campaign;
    /* ZAP */
    void *zap;
    pthread_t thr;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t zap_ok, zap_denied;
    /* log rate limit (handler thread only) */
    int64_t log_window_ms;
    unsigned log_lines;
    uint64_t log_suppressed;
};

const char *ct_role_name(ct_role r)
{
    switch (r) {
    case CT_ROLE_COLLECTOR:
        return "collector";
    case CT_ROLE_REPORTER:
        return "reporter";
    case CT_ROLE_ADMIN:
        return "admin";
    case CT_ROLE_FOLLOWER:
        return "follower";
    default:
        return "none";
    }
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ct_auth_entry *)a)->key, ((const ct_auth_entry *)b)->key);
}

/* Parses the file into a new sorted array. */
static ct_err parse_file(const char *path, const ct_campaign *c, ct_auth_entry **out, size_t *nout,
                         char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    ct_auth_entry *tab = NULL;
    size_t n = 0, cap = 0;
    char *buf = NULL;
    size_t bufcap = 0;
    ssize_t got;
    unsigned lineno = 0;
    ct_err r = CT_OK;
    while ((got = getline(&buf, &bufcap, f)) > 0) {
        lineno++;
        size_t len = (size_t)got;
        char *line = buf;
        /* a UTF-8 byte order mark (Notepad) before the first line */
        if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
            line += 3;
            len -= 3;
        }
        if (memchr(line, '\0', len)) {
            snprintf(err, errlen, "%s:%u: NUL byte in the line (not a text file?)", path, lineno);
            r = CT_ERR_CONFIG;
            break;
        }
        if (len > CT_AUTH_LINE_MAX) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            r = CT_ERR_CONFIG;
            break;
        }
        /* '#' starts a comment only at the start of a line or after blank
         * space: it is also a Z85 character and may appear inside a key */
        for (char *h = line; *h; h++) {
            if (*h == '#' && (h == line || h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                break;
            }
        }
        char *save = NULL;
        char *key = strtok_r(line, " \t\r\n", &save);
        if (!key) continue;
        char *role = strtok_r(NULL, " \t\r\n", &save);
        if (!ct_z85_key_valid(key)) {
            snprintf(err, errlen, "%s:%u: \"%.60s\" is not a 40-character Z85 public key", path,
                     lineno, key);
            r = CT_ERR_CONFIG;
            break;
        }
        if (!role) {
            snprintf(err, errlen,
                     "%s:%u: missing role (collector <district>, reporter, admin, follower)", path,
                     lineno);
            r = CT_ERR_CONFIG;
            break;
        }
        ct_auth_entry e;
        memset(&e, 0, sizeof e);
        memcpy(e.key, key, CT_Z85_KEY_LEN);
        if (strcmp(role, "collector") == 0) {
            e.role = CT_ROLE_COLLECTOR;
            char *d = strtok_r(NULL, " \t\r\n", &save);
            uint64_t v = 0;
            if (!ct_num_parse_u64(d, UINT32_MAX, &v) || v == 0) {
                snprintf(err, errlen, "%s:%u: collector needs a district code", path, lineno);
                r = CT_ERR_CONFIG;
                break;
            }
            e.district = (uint32_t)v;
            if (c && !ct_campaign_district(c, e.district)) {
                snprintf(err, errlen, "%s:%u: district %" PRIu64 " is not in campaign %s", path,
                         lineno, v, c->id);
                r = CT_ERR_CONFIG;
                break;
            }
        } else if (strcmp(role, "reporter") == 0) {
            e.role = CT_ROLE_REPORTER;
        } else if (strcmp(role, "admin") == 0) {
            e.role = CT_ROLE_ADMIN;
        } else if (strcmp(role, "follower") == 0) {
            e.role = CT_ROLE_FOLLOWER;
        } else {
            snprintf(
                err, errlen,
                "%s:%u: unknown role \"%.32s\" (collector <district>, reporter, admin, follower)",
                path, lineno, role);
            r = CT_ERR_CONFIG;
            break;
        }
        /* the rest of the line is the name */
        char *rest = save ? save + strspn(save, " \t") : NULL;
        if (rest) {
            size_t rl = strcspn(rest, "\r\n");
            while (rl && (rest[rl - 1] == ' ' || rest[rl - 1] == '\t'))
                rl--;
            if (rl > CT_AUTH_NAME_MAX) rl = CT_AUTH_NAME_MAX;
            memcpy(e.name, rest, rl);
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            ct_auth_entry *nt = realloc(tab, nc * sizeof *nt);
            if (!nt) {
                r = CT_ERR_NOMEM;
                snprintf(err, errlen, "%s: out of memory", path);
                break;
            }
            tab = nt;
            cap = nc;
        }
        tab[n++] = e;
        for (size_t i = 0; i + 1 < n; i++) {
            if (strcmp(tab[i].key, e.key) == 0) {
                snprintf(err, errlen, "%s:%u: key %s appears twice", path, lineno, e.key);
                r = CT_ERR_CONFIG;
                break;
            }
        }
        if (r) break;
    }
    if (!r && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        r = CT_ERR_IO;
    }
    free(buf);
    fclose(f);
    if (r) {
        free(tab);
        return r;
    }
    if (n) qsort(tab, n, sizeof *tab, entry_cmp);
    *out = tab;
    *nout = n;
    return CT_OK;
}

ct_err ct_auth_load(const char *path, const ct_campaign *c, ct_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    ct_auth *a = calloc(1, sizeof *a);
    if (!a) return CT_ERR_NOMEM;
    a->path = strdup(path);
    if (!a->path) {
        free(a);
        return CT_ERR_NOMEM;
    }
    a->campaign = c;
    pthread_mutex_init(&a->mu, NULL);
    atomic_init(&a->stop, false);
    atomic_init(&a->zap_ok, 0);
    atomic_init(&a->zap_denied, 0);
    ct_err r = parse_file(path, c, &a->tab, &a->n, err, errlen);
    if (r) {
        pthread_mutex_destroy(&a->mu);
        free(a->path);
        free(a);
        return r;
    }
    *out = a;
    return CT_OK;
}

static bool can_read(ct_role r)
{
    return r == CT_ROLE_REPORTER || r == CT_ROLE_ADMIN;
}

ct_err ct_auth_reload(ct_auth *a, size_t *readers_revoked, char *err, size_t errlen)
{
    ct_auth_entry *tab = NULL;
    size_t n = 0;
    if (readers_revoked) *readers_revoked = 0;
    ct_err r = parse_file(a->path, a->campaign, &tab, &n, err, errlen);
    if (r) return r;
    pthread_mutex_lock(&a->mu);
    ct_auth_entry *old = a->tab;
    size_t old_n = a->n;
    a->tab = tab;
    a->n = n;
    pthread_mutex_unlock(&a->mu);
    /* only this thread replaces the table, so reading both is safe here */
    for (size_t i = 0; i < old_n && readers_revoked; i++) {
        if (!can_read(old[i].role)) continue;
        const ct_auth_entry *e = n ? bsearch(&old[i], tab, n, sizeof *tab, entry_cmp) : NULL;
        if (!e || !can_read(e->role)) (*readers_revoked)++;
    }
    free(old);
    return CT_OK;
}

bool ct_auth_lookup(ct_auth *a, const char *z85, ct_role *role, uint32_t *district)
{
    if (!a || !z85 || strlen(z85) != CT_Z85_KEY_LEN) return false;
    ct_auth_entry k;
    memcpy(k.key, z85, CT_Z85_KEY_LEN + 1);
    bool found = false;
    pthread_mutex_lock(&a->mu);
    const ct_auth_entry *e = a->n ? bsearch(&k, a->tab, a->n, sizeof k, entry_cmp) : NULL;
    if (e) {
        found = true;
        if (role) *role = e->role;
        if (district) *district = e->district;
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

size_t ct_auth_count(ct_auth *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->n;
    pthread_mutex_unlock(&a->mu);
    return n;
}

void ct_auth_count_roles(ct_auth *a, size_t *may_write, size_t *may_read)
{
    size_t w = 0, r = 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        if (a->tab[i].role == CT_ROLE_COLLECTOR || a->tab[i].role == CT_ROLE_ADMIN) w++;
        if (can_read(a->tab[i].role)) r++;
    }
    pthread_mutex_unlock(&a->mu);
    *may_write = w;
    *may_read = r;
}

/* ---- ZAP handler ------------------------------------------------------ */

#define ZAP_FRAMES 7

static void zap_reply(void *sock, const zmq_msg_t *reqid, const char *code, const char *text,
                      const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, zmq_msg_data((zmq_msg_t *)reqid), zmq_msg_size((zmq_msg_t *)reqid), ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

static void zap_handle(ct_auth *a)
{
    zmq_msg_t f[ZAP_FRAMES + 1];
    int nf = 0;
    bool more = true;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, a->zap, 0) < 0) {
            zmq_msg_close(&tmp);
            break;
        }
        more = zmq_msg_more(&tmp);
        if (nf < ZAP_FRAMES + 1)
            f[nf++] = tmp;
        else
            zmq_msg_close(&tmp);
    }
    if (nf < 6) {
        /* not a ZAP request we can answer; REP needs a reply anyway */
        if (nf >= 2)
            zap_reply(a->zap, &f[1], "500", "bad request", "");
        else
            zmq_send(a->zap, "", 0, 0);
        goto out;
    }
    /* 0 version, 1 request id, 2 domain, 3 address, 4 routing id, 5 mechanism, 6.. creds */
    char client[CT_Z85_KEY_LEN + 1] = "";
    const char *why = NULL;
    char domain[64] = "";
    size_t dl = zmq_msg_size(&f[2]) < sizeof domain - 1 ? zmq_msg_size(&f[2]) : sizeof domain - 1;
    memcpy(domain, zmq_msg_data(&f[2]), dl);
    domain[dl] = '\0';
    char addr[64] = "";
    size_t al = zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : sizeof addr - 1;
    memcpy(addr, zmq_msg_data(&f[3]), al);
    addr[al] = '\0';
    if (!frame_is(&f[0], "1.0")) {
        why = "bad ZAP version";
    } else if (!frame_is(&f[5], "CURVE") || nf != 7 || zmq_msg_size(&f[6]) != 32) {
        why = "mechanism is not CURVE";
    } else {
        zmq_z85_encode(client, zmq_msg_data(&f[6]), 32);
        ct_role role = CT_ROLE_NONE;
        uint32_t district = 0;
        if (!ct_auth_lookup(a, client, &role, &district)) {
            why = "unknown key";
        } else if (strcmp(domain, CT_ZAP_DOMAIN_INGEST) == 0) {
            if (role != CT_ROLE_COLLECTOR && role != CT_ROLE_ADMIN) why = "role may not submit";
        } else if (strcmp(domain, CT_ZAP_DOMAIN_READ) == 0) {
            if (role != CT_ROLE_REPORTER && role != CT_ROLE_ADMIN) why = "role may not read";
        } else if (strcmp(domain, CT_ZAP_DOMAIN_REPLICATE) == 0) {
            if (role != CT_ROLE_FOLLOWER) why = "role may not replicate";
        } else {
            why = "unknown ZAP domain";
        }
    }
    if (why) {
        atomic_fetch_add(&a->zap_denied, 1);
        /* at most CT_AUTH_LOG_PER_S lines a second: a flood must not flood the log */
        int64_t now = ct_monotonic_ms();
        if (now - a->log_window_ms >= 1000) {
            if (a->log_suppressed)
                ct_log(CT_LOG_WARN, "security", "event=auth_denied_suppressed count=%llu",
                       (unsigned long long)a->log_suppressed);
            a->log_window_ms = now;
            a->log_lines = 0;
            a->log_suppressed = 0;
        }
        if (a->log_lines++ < CT_AUTH_LOG_PER_S)
            ct_log(CT_LOG_WARN, "security",
                   "event=auth_denied reason=\"%s\" domain=%s peer=%s key=%s", why, domain, addr,
                   client[0] ? client : "-");
        else
            a->log_suppressed++;
        zap_reply(a->zap, &f[1], "400", why, "");
    } else {
        atomic_fetch_add(&a->zap_ok, 1);
        ct_log(CT_LOG_DEBUG, "auth ok", "domain=%s peer=%s key=%s", domain, addr, client);
        zap_reply(a->zap, &f[1], "200", "OK", client);
    }
out:
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
}

static void *zap_main(void *arg)
{
    ct_auth *a = arg;
    while (!atomic_load(&a->stop)) {
        zmq_pollitem_t it = {a->zap, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, 200);
        if (rc < 0) {
            if (errno == ETERM) break;
            continue;
        }
        if (rc > 0 && (it.revents & ZMQ_POLLIN)) zap_handle(a);
    }
    return NULL;
}

ct_err ct_auth_zap_start(ct_auth *a, void *zctx, char *err, size_t errlen)
{
    a->zap = zmq_socket(zctx, ZMQ_REP);
    if (!a->zap) {
        snprintf(err, errlen, "ZAP socket: %s", zmq_strerror(errno));
        return CT_ERR_ZMQ;
    }
    int linger = 0;
    zmq_setsockopt(a->zap, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(a->zap, "inproc://zeromq.zap.01") != 0) {
        snprintf(err, errlen, "ZAP bind inproc://zeromq.zap.01: %s", zmq_strerror(errno));
        zmq_close(a->zap);
        a->zap = NULL;
        return CT_ERR_ZMQ;
    }
    if (pthread_create(&a->thr, NULL, zap_main, a) != 0) {
        snprintf(err, errlen, "ZAP thread: %s", strerror(errno));
        zmq_close(a->zap);
        a->zap = NULL;
        return CT_ERR_INTERNAL;
    }
    a->started = true;
    return CT_OK;
}

void ct_auth_zap_stats(ct_auth *a, uint64_t *ok, uint64_t *denied)
{
    *ok = a ? (uint64_t)atomic_load(&a->zap_ok) : 0;
    *denied = a ? (uint64_t)atomic_load(&a->zap_denied) : 0;
}

void ct_auth_free(ct_auth *a)
{
    if (!a) return;
    if (a->started) {
        atomic_store(&a->stop, true);
        pthread_join(a->thr, NULL);
    }
    if (a->zap) zmq_close(a->zap);
    pthread_mutex_destroy(&a->mu);
    free(a->tab);
    free(a->path);
    free(a);
}
