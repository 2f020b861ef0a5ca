/* ct_syncfloor.c — the disk's floor under a one-at-a-time ack: N durable LMDB
 * commits in a row, each as small as the aggregator's one-event round (one
 * ~300-byte record appended to an ordered table, one 16-byte key at a random
 * place in a second table, one counter rewritten in a third), with the
 * store's environment flags (MDB_NOTLS, durable: LMDB's fdatasync of the data
 * pages, then its synchronous meta-page write). Prints p50/p90/p99 of one
 * commit (mdb_txn_begin to the return of mdb_txn_commit) in ms and the bytes
 * handed to write() per commit, as one JSON line. bench/run.py runs it in the
 * file system of the data dirs before and after each 1x1 repetition, so the
 * 1x1 ack p50 is quoted with the floor the disk set in those minutes. Not a
 * test: the numbers are the machine's.
 *   ct_syncfloor DIR [COMMITS]      DIR: created, used, removed
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* wchar of this process (bytes passed to write/pwrite/writev); 0 if unknown */
static uint64_t wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    uint64_t v = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %" SCNu64, &v) == 1) break;
    fclose(f);
    return v;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double ms_at(const uint64_t *v, size_t n, double q)
{
    size_t i = (size_t)((double)n * q);
    return (double)v[i < n ? i : n - 1] / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ct_syncfloor DIR [COMMITS]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1000;
    if (n < 10) n = 10;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    uint64_t *lat = calloc(n, sizeof *lat);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi log, ids, counts;
    int rc = lat ? mdb_env_create(&env) : ENOMEM;
    if (!rc) rc = mdb_env_set_maxdbs(env, 4);
    if (!rc) rc = mdb_env_set_mapsize(env, (size_t)1 << 30);
    if (!rc) rc = mdb_env_open(env, dir, MDB_NOTLS, 0600);
    if (!rc) rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc) rc = mdb_dbi_open(txn, "log", MDB_CREATE, &log);
    if (!rc) rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &ids);
    if (!rc) rc = mdb_dbi_open(txn, "counts", MDB_CREATE, &counts);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    uint8_t rec[300];
    memset(rec, 0x5a, sizeof rec);
    uint64_t seed = 0x9e3779b97f4a7c15u, w0 = wchar();
    /* 20 warm-up commits, then n measured */
    for (size_t i = 0; !rc && i < n + 20; i++) {
        uint64_t t0 = now_ns();
        uint64_t seq = __builtin_bswap64((uint64_t)i + 1), id[2] = {rnd(&seed), rnd(&seed)};
        uint32_t ckey = (uint32_t)(i % 64);
        uint64_t cval = i;
        MDB_val k1 = {sizeof seq, &seq}, v1 = {sizeof rec, rec};
        MDB_val k2 = {sizeof id, id}, v2 = {sizeof seq, &seq};
        MDB_val k3 = {sizeof ckey, &ckey}, v3 = {sizeof cval, &cval};
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (!rc) rc = mdb_put(txn, log, &k1, &v1, MDB_APPEND);
        if (!rc) rc = mdb_put(txn, ids, &k2, &v2, 0);
        if (!rc) rc = mdb_put(txn, counts, &k3, &v3, 0);
        if (!rc)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        txn = NULL;
        if (i == 19) w0 = wchar();
        if (i >= 20) lat[i - 20] = now_ns() - t0;
    }
    uint64_t w1 = wchar();
    if (env) mdb_env_close(env);
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    if (rc) {
        fprintf(stderr, "ct_syncfloor: %s\n", mdb_strerror(rc));
        free(lat);
        return 1;
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("{\"commits\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"written_per_commit\":%.0f}\n",
           n, ms_at(lat, n, 0.5), ms_at(lat, n, 0.9), ms_at(lat, n, 0.99),
           w1 > w0 ? (double)(w1 - w0) / (double)n : 0.0);
    free(lat);
    return 0;
}
