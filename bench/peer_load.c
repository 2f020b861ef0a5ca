/* peer_load.c — the same logical work as chitieu's ingest, against PostgreSQL
 * or Redis, for scripts/bench-peers.sh (bench only; built by that script with
 * libpq-dev / libhiredis-dev, not by CMake, so the project does not depend on them).
 *
 * Per event: insert the event (16-byte unique id, ~200-byte body) skipping a
 * duplicate id, and only if it was new, add 1 to its district x program and
 * agent x program counters; durably (PostgreSQL: default synchronous_commit,
 * one transaction per event, or per --batch events; Redis: one Lua script per
 * event, AOF with appendfsync always, optionally --pipeline P scripts in flight).
 * Events use the campaign's real districts and agents (roster CSV) and fresh
 * ids per run. C clients (one thread + one connection per client), so the
 * comparison with ct_loadgen is not skewed by a slower client language.
 *
 * Output: one JSON line: clients, events, secs, events_per_s, lat_p50_ms,
 * lat_p99_ms (per transaction / per pipelined round), inserted, duplicates.
 * Invariant: every thread runs for --seconds and stops after its in-flight
 * work is answered; a failed statement aborts the run (exit 1).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PEER_NO_REDIS /* -DPEER_NO_REDIS: PostgreSQL only (no libhiredis-dev) */
#include <hiredis/hiredis.h>
#endif
#include <libpq-fe.h>

typedef struct {
    char id[40];
    unsigned district;
} agent_t;

static agent_t g_agents[1024];
static size_t g_nagents;

typedef struct {
    const char *pg, *redis_host;
    int redis_port;
    int clients, seconds, batch, pipeline;
} opts_t;

typedef struct {
    const opts_t *o;
    int idx;
    uint64_t origin;
    uint64_t events, inserted, dup;
    uint32_t *lat_us;
    size_t nlat, caplat;
    char err[512];
    int failed;
} worker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void add_lat(worker *w, uint64_t ns)
{
    if (w->nlat == w->caplat) {
        size_t nc = w->caplat ? 2 * w->caplat : 4096;
        uint32_t *p = realloc(w->lat_us, nc * sizeof *p);
        if (!p) return;
        w->lat_us = p;
        w->caplat = nc;
    }
    w->lat_us[w->nlat++] = (uint32_t)(ns / 1000u);
}

/* One event: id (16 bytes), district, agent, program (0/1), body (200 bytes). */
typedef struct {
    uint8_t id[16];
    unsigned district;
    const char *agent;
    int program;
    uint8_t body[200];
} event_t;

static void make_event(worker *w, uint64_t k, event_t *e)
{
    uint64_t x = w->origin ^ k;
    uint64_t be = k;
    memcpy(e->id, &w->origin, 8);
    for (int i = 0; i < 8; i++)
        e->id[8 + i] = (uint8_t)(be >> (56 - 8 * i));
    const agent_t *a = &g_agents[splitmix(&x) % g_nagents];
    e->district = a->district;
    e->agent = a->id;
    e->program = (k % 3 == 0) ? 0 : 1;
    for (size_t i = 0; i < sizeof e->body; i += 8) {
        uint64_t v = splitmix(&x);
        memcpy(e->body + i, &v, 8);
    }
}

/* ---- PostgreSQL ---- */

static const char *PG_SQL =
    "WITH ins AS (INSERT INTO ev(id, district, agent, program, body) VALUES ($1, $2::int, $3, "
    "$4::smallint, $5) ON CONFLICT (id) DO NOTHING RETURNING district, agent, program), "
    "d AS (INSERT INTO cnt_district(district, program, n) SELECT district, program, 1 FROM ins "
    "ON CONFLICT (district, program) DO UPDATE SET n = cnt_district.n + 1), "
    "a AS (INSERT INTO cnt_agent(agent, program, n) SELECT agent, program, 1 FROM ins "
    "ON CONFLICT (agent, program) DO UPDATE SET n = cnt_agent.n + 1) "
    "SELECT count(*) FROM ins";

static const char *PG_SQL_EV =
    "INSERT INTO ev(id, district, agent, program, body) VALUES ($1, $2::int, $3, $4::smallint, $5) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1";
static const char *PG_SQL_CD =
    "INSERT INTO cnt_district(district, program, n) SELECT * FROM unnest($1::int[], "
    "$2::smallint[], $3::bigint[]) AS u(d, p, n) ORDER BY d, p "
    "ON CONFLICT (district, program) DO UPDATE SET n = cnt_district.n + EXCLUDED.n";
static const char *PG_SQL_CA =
    "INSERT INTO cnt_agent(agent, program, n) SELECT * FROM unnest($1::text[], "
    "$2::smallint[], $3::bigint[]) AS u(a, p, n) ORDER BY a, p "
    "ON CONFLICT (agent, program) DO UPDATE SET n = cnt_agent.n + EXCLUDED.n";

typedef struct {
    char key[48];
    int program;
    long n;
} incr;

static void incr_add(incr *v, size_t *n, size_t cap, const char *key, int program)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i].program == program && !strcmp(v[i].key, key)) {
            v[i].n++;
            return;
        }
    if (*n == cap) return;
    snprintf(v[*n].key, sizeof v[*n].key, "%s", key);
    v[*n].program = program;
    v[*n].n = 1;
    (*n)++;
}

/* Array literals {k1,k2}, {p1,p2}, {n1,n2}; the statement sorts by key. */
static int pg_apply(worker *w, PGconn *c, const char *stmt, const incr *v, size_t n)
{
    if (!n) return 0;
    static _Thread_local char ka[65536], pa[8192], na[16384];
    size_t kl = 0, pl = 0, nl = 0;
    ka[kl++] = '{';
    pa[pl++] = '{';
    na[nl++] = '{';
    for (size_t i = 0; i < n; i++) {
        kl += (size_t)snprintf(ka + kl, sizeof ka - kl, "%s\"%s\"", i ? "," : "", v[i].key);
        pl += (size_t)snprintf(pa + pl, sizeof pa - pl, "%s%d", i ? "," : "", v[i].program);
        nl += (size_t)snprintf(na + nl, sizeof na - nl, "%s%ld", i ? "," : "", v[i].n);
    }
    snprintf(ka + kl, sizeof ka - kl, "}");
    snprintf(pa + pl, sizeof pa - pl, "}");
    snprintf(na + nl, sizeof na - nl, "}");
    const char *vals[3] = {ka, pa, na};
    PGresult *r = PQexecPrepared(c, stmt, 3, vals, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) snprintf(w->err, sizeof w->err, "counters: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_exec_ok(worker *w, PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) snprintf(w->err, sizeof w->err, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static void *pg_main(void *arg)
{
    worker *w = arg;
    PGconn *c = PQconnectdb(w->o->pg);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(w->err, sizeof w->err, "connect: %s", PQerrorMessage(c));
        w->failed = 1;
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQprepare(c, "ev", PG_SQL, 5, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(w->err, sizeof w->err, "prepare: %s", PQerrorMessage(c));
        w->failed = 1;
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    uint64_t end = now_ns() + (uint64_t)w->o->seconds * 1000000000ull, k = 0;
    int batch = w->o->batch > 0 ? w->o->batch : 1;
    if (batch > 1) {
        r = PQprepare(c, "evonly", PG_SQL_EV, 5, NULL);
        PGresult *r2 = PQprepare(c, "cd", PG_SQL_CD, 3, NULL);
        PGresult *r3 = PQprepare(c, "ca", PG_SQL_CA, 3, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK && PQresultStatus(r2) == PGRES_COMMAND_OK &&
                 PQresultStatus(r3) == PGRES_COMMAND_OK;
        PQclear(r);
        PQclear(r2);
        PQclear(r3);
        if (!ok) {
            snprintf(w->err, sizeof w->err, "prepare: %s", PQerrorMessage(c));
            goto fail;
        }
    }
    while (now_ns() < end) {
        uint64_t t0 = now_ns();
        if (batch == 1) {
            event_t e;
            make_event(w, ++k, &e);
            char dist[16], prog[4];
            snprintf(dist, sizeof dist, "%u", e.district);
            snprintf(prog, sizeof prog, "%d", e.program);
            const char *vals[5] = {(const char *)e.id, dist, e.agent, prog, (const char *)e.body};
            int lens[5] = {16, 0, 0, 0, (int)sizeof e.body};
            int fmts[5] = {1, 0, 0, 0, 1};
            r = PQexecPrepared(c, "ev", 5, vals, lens, fmts, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                snprintf(w->err, sizeof w->err, "insert: %s", PQerrorMessage(c));
                PQclear(r);
                goto fail;
            }
            if (atoi(PQgetvalue(r, 0, 0)) == 1)
                w->inserted++;
            else
                w->dup++;
            PQclear(r);
            w->events++;
            add_lat(w, now_ns() - t0);
            continue;
        }
        /* batched: the events, then the counter increments summed client-side and
         * applied in key order (one statement per table), so concurrent
         * transactions lock counter rows in the same order and never deadlock */
        if (pg_exec_ok(w, c, "BEGIN")) goto fail;
        incr dd[64], aa[1024];
        size_t nd = 0, na = 0;
        for (int b = 0; b < batch; b++) {
            event_t e;
            make_event(w, ++k, &e);
            char dist[16], prog[4];
            snprintf(dist, sizeof dist, "%u", e.district);
            snprintf(prog, sizeof prog, "%d", e.program);
            const char *vals[5] = {(const char *)e.id, dist, e.agent, prog, (const char *)e.body};
            int lens[5] = {16, 0, 0, 0, (int)sizeof e.body};
            int fmts[5] = {1, 0, 0, 0, 1};
            r = PQexecPrepared(c, "evonly", 5, vals, lens, fmts, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                snprintf(w->err, sizeof w->err, "insert: %s", PQerrorMessage(c));
                PQclear(r);
                goto fail;
            }
            bool fresh = PQntuples(r) == 1;
            PQclear(r);
            w->events++;
            if (!fresh) {
                w->dup++;
                continue;
            }
            w->inserted++;
            char dk[48], ak[48];
            snprintf(dk, sizeof dk, "%u", e.district);
            snprintf(ak, sizeof ak, "%s", e.agent);
            incr_add(dd, &nd, 64, dk, e.program);
            incr_add(aa, &na, 1024, ak, e.program);
        }
        if (pg_apply(w, c, "cd", dd, nd) || pg_apply(w, c, "ca", aa, na)) goto fail;
        if (pg_exec_ok(w, c, "COMMIT")) goto fail;
        add_lat(w, now_ns() - t0);
    }
    PQfinish(c);
    return NULL;
fail:
    w->failed = 1;
    PQfinish(c);
    return NULL;
}

/* ---- Redis ---- */

#ifndef PEER_NO_REDIS
static const char *LUA = "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then "
                         "redis.call('HINCRBY', 'cnt:district', ARGV[2], 1) "
                         "redis.call('HINCRBY', 'cnt:agent', ARGV[3], 1) "
                         "return 1 end return 0";

static void *redis_main(void *arg)
{
    worker *w = arg;
    redisContext *c = redisConnect(w->o->redis_host, w->o->redis_port);
    if (!c || c->err) {
        snprintf(w->err, sizeof w->err, "connect: %s", c ? c->errstr : "alloc");
        w->failed = 1;
        if (c) redisFree(c);
        return NULL;
    }
    redisReply *rp = redisCommand(c, "SCRIPT LOAD %s", LUA);
    if (!rp || rp->type != REDIS_REPLY_STRING) {
        snprintf(w->err, sizeof w->err, "script load failed");
        w->failed = 1;
        if (rp) freeReplyObject(rp);
        redisFree(c);
        return NULL;
    }
    char sha[64];
    snprintf(sha, sizeof sha, "%s", rp->str);
    freeReplyObject(rp);
    int pipe = w->o->pipeline > 0 ? w->o->pipeline : 1;
    uint64_t end = now_ns() + (uint64_t)w->o->seconds * 1000000000ull, k = 0;
    while (now_ns() < end) {
        uint64_t t0 = now_ns();
        for (int p = 0; p < pipe; p++) {
            event_t e;
            make_event(w, ++k, &e);
            char key[2 + 16], dk[32], ak[64];
            memcpy(key, "e:", 2);
            memcpy(key + 2, e.id, 16);
            snprintf(dk, sizeof dk, "%u:%d", e.district, e.program);
            snprintf(ak, sizeof ak, "%s:%d", e.agent, e.program);
            const char *argv[7] = {"EVALSHA", sha, "1", key, (const char *)e.body, dk, ak};
            size_t lens[7] = {7, strlen(sha), 1, sizeof key, sizeof e.body, strlen(dk), strlen(ak)};
            if (redisAppendCommandArgv(c, 7, argv, lens) != REDIS_OK) {
                snprintf(w->err, sizeof w->err, "append: %s", c->errstr);
                goto fail;
            }
        }
        for (int p = 0; p < pipe; p++) {
            void *v = NULL;
            if (redisGetReply(c, &v) != REDIS_OK || !v) {
                snprintf(w->err, sizeof w->err, "reply: %s", c->errstr);
                goto fail;
            }
            rp = v;
            if (rp->type != REDIS_REPLY_INTEGER) {
                snprintf(w->err, sizeof w->err, "script error: %s",
                         rp->type == REDIS_REPLY_ERROR ? rp->str : "?");
                freeReplyObject(rp);
                goto fail;
            }
            if (rp->integer == 1)
                w->inserted++;
            else
                w->dup++;
            freeReplyObject(rp);
            w->events++;
        }
        add_lat(w, now_ns() - t0);
    }
    redisFree(c);
    return NULL;
fail:
    w->failed = 1;
    redisFree(c);
    return NULL;
}
#endif

/* ---- main ---- */

static int load_roster(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    bool header = true;
    while (fgets(line, sizeof line, f) && g_nagents < 1024) {
        if (header) {
            header = false;
            continue;
        }
        /* agent_id,name,district,org — the name has no commas in the shipped roster */
        char *id = strtok(line, ",");
        strtok(NULL, ",");
        char *d = strtok(NULL, ",");
        if (!id || !d) continue;
        snprintf(g_agents[g_nagents].id, sizeof g_agents[g_nagents].id, "%s", id);
        g_agents[g_nagents].district = (unsigned)strtoul(d, NULL, 10);
        g_nagents++;
    }
    fclose(f);
    return g_nagents ? 0 : -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    opts_t o = {NULL, NULL, 0, 1, 5, 1, 1};
    const char *roster = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--pg"))
            o.pg = v;
        else if (!strcmp(a, "--redis")) {
            static char host[256];
            snprintf(host, sizeof host, "%s", v);
            char *c = strrchr(host, ':');
            if (!c) goto usage;
            *c = 0;
            o.redis_host = host;
            o.redis_port = atoi(c + 1);
        } else if (!strcmp(a, "--clients"))
            o.clients = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atoi(v);
        else if (!strcmp(a, "--batch"))
            o.batch = atoi(v);
        else if (!strcmp(a, "--pipeline"))
            o.pipeline = atoi(v);
        else if (!strcmp(a, "--roster"))
            roster = v;
        else
            goto usage;
        i++;
    }
#ifdef PEER_NO_REDIS
    if (o.redis_host) goto usage;
#endif
    if ((!o.pg == !o.redis_host) || !roster || o.clients < 1 || o.clients > 256 || o.seconds < 1)
        goto usage;
    if (load_roster(roster) != 0) {
        fprintf(stderr, "peer_load: cannot read roster %s\n", roster);
        return 2;
    }
    worker *ws = calloc((size_t)o.clients, sizeof *ws);
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    uint64_t seed = now_ns() ^ (uint64_t)getpid();
    uint64_t t0 = now_ns();
    for (int i = 0; i < o.clients; i++) {
        ws[i].o = &o;
        ws[i].idx = i;
        ws[i].origin = splitmix(&seed);
#ifdef PEER_NO_REDIS
        pthread_create(&th[i], NULL, pg_main, &ws[i]);
#else
        pthread_create(&th[i], NULL, o.pg ? pg_main : redis_main, &ws[i]);
#endif
    }
    uint64_t ev = 0, ins = 0, dup = 0;
    size_t nl = 0;
    int failed = 0;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        ev += ws[i].events;
        ins += ws[i].inserted;
        dup += ws[i].dup;
        nl += ws[i].nlat;
        if (ws[i].failed) {
            failed++;
            fprintf(stderr, "peer_load: client %d: %s\n", i, ws[i].err);
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    uint32_t *all = malloc((nl ? nl : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < o.clients; i++) {
        if (ws[i].nlat) memcpy(all + k, ws[i].lat_us, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
        free(ws[i].lat_us);
    }
    qsort(all, nl, sizeof *all, cmp_u32);
    double p50 = nl ? all[nl / 2] / 1000.0 : 0,
           p99 = nl ? all[(size_t)((double)nl * 0.99)] / 1000.0 : 0;
    printf("{\"peer\":\"%s\",\"clients\":%d,\"batch\":%d,\"pipeline\":%d,\"events\":%" PRIu64
           ",\"secs\":%.3f,\"events_per_s\":%.1f,\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,"
           "\"inserted\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"failed\":%d}\n",
           o.pg ? "postgresql" : "redis", o.clients, o.batch, o.pipeline, ev, secs,
           secs > 0 ? (double)ev / secs : 0, p50, p99, ins, dup, failed);
    free(all);
    free(ws);
    free(th);
    return failed ? 1 : 0;
usage:
    fprintf(stderr, "usage: peer_load (--pg CONNINFO | --redis HOST:PORT) --roster staff.csv\n"
                    "                 [--clients N] [--seconds S] [--batch B (pg: events per\n"
                    "                 transaction)] [--pipeline P (redis: scripts in flight)]\n");
    return 2;
}
