/* crashshim.c — TEST ONLY LD_PRELOAD shim for the crash-point sweep
 * (fault scenario 2). It wraps the aggregator's calls into LMDB and ZeroMQ and kills
 * the process with _exit(CT_CRASH_CODE) at a chosen step of the commit path,
 * so that no atexit handler, no destructor and no buffered ZeroMQ message
 * runs — the same as a power cut at that instruction, from the process's
 * point of view (the kernel still closes the sockets).
 *
 * Environment (each unset = never):
 *   CT_CRASH_BEFORE_COMMIT=k  die on entering the k-th mdb_txn_commit() of a
 *                             WRITE transaction (nothing of it is durable)
 *   CT_CRASH_AFTER_COMMIT=k   die right after the k-th write mdb_txn_commit()
 *                             returned (durable, no ack sent)
 *   CT_CRASH_SEND=k           die on entering the k-th zmq_send() (any socket:
 *                             ack frames — routing id, delimiter, body — feed
 *                             updates, snapshots); k ranges over "mid-ack"
 *   CT_FAIL_COMMIT=k[,n]      make write commits k..k+n-1 (n default 1) fail
 *                             with EIO after aborting them (an I/O error)
 *   CT_STOP_AFTER_RDONLY=k    raise(SIGSTOP) right after the k-th read-only
 *                             mdb_txn_begin() succeeded: the process (e.g.
 *                             chitieu-audit) then sits on an open read
 *                             transaction until a test kill -9s it
 *   CT_CRASH_LOG=FILE         append one line per counted call ("commit N",
 *                             "send N") — lets a test learn how many steps a
 *                             run has, to sweep every k
 * Exit code on a crash: 86. Invariant: the shim never changes what a call
 * does except to not return (crash) or to return EIO after mdb_txn_abort.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CT_CRASH_CODE 86

typedef int (*commit_fn)(MDB_txn *);
typedef void (*abort_fn)(MDB_txn *);
typedef int (*begin_fn)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **);
typedef int (*send_fn)(void *, const void *, size_t, int);

int zmq_send(void *s, const void *buf, size_t len, int flags);

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

static void note(const char *what, long n)
{
    const char *path = getenv("CT_CRASH_LOG");
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) return;
    char line[64];
    int len = snprintf(line, sizeof line, "%s %ld\n", what, n);
    if (len > 0) {
        ssize_t w = write(fd, line, (size_t)len);
        (void)w;
    }
    close(fd);
}

/* Read-only transactions are not steps of the commit path: remember them. */
#define MAX_RO 64
static MDB_txn *ro_txns[MAX_RO];

static int is_ro(MDB_txn *t, int forget)
{
    for (int i = 0; i < MAX_RO; i++)
        if (ro_txns[i] == t) {
            if (forget) ro_txns[i] = NULL;
            return 1;
        }
    return 0;
}

int mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
    static begin_fn real;
    if (!real) real = (begin_fn)dlsym(RTLD_NEXT, "mdb_txn_begin");
    int rc = real(env, parent, flags, txn);
    if (rc == 0 && (flags & MDB_RDONLY)) {
        static long nro;
        nro++;
        note("rdonly", nro);
        if (env_long("CT_STOP_AFTER_RDONLY") == nro) raise(SIGSTOP);
        for (int i = 0; i < MAX_RO; i++)
            if (!ro_txns[i]) {
                ro_txns[i] = *txn;
                break;
            }
    }
    return rc;
}

void mdb_txn_abort(MDB_txn *txn)
{
    static abort_fn real;
    if (!real) real = (abort_fn)dlsym(RTLD_NEXT, "mdb_txn_abort");
    is_ro(txn, 1);
    real(txn);
}

int mdb_txn_commit(MDB_txn *txn)
{
    static commit_fn real;
    static long n;
    if (!real) real = (commit_fn)dlsym(RTLD_NEXT, "mdb_txn_commit");
    if (is_ro(txn, 1)) return real(txn);
    n++;
    note("commit", n);
    if (env_long("CT_CRASH_BEFORE_COMMIT") == n) _exit(CT_CRASH_CODE);
    const char *f = getenv("CT_FAIL_COMMIT");
    if (f && *f) {
        long k = strtol(f, NULL, 10), cnt = 1;
        const char *comma = strchr(f, ',');
        if (comma) cnt = strtol(comma + 1, NULL, 10);
        if (n >= k && n < k + cnt) {
            mdb_txn_abort(txn);
            return EIO;
        }
    }
    int rc = real(txn);
    if (env_long("CT_CRASH_AFTER_COMMIT") == n) _exit(CT_CRASH_CODE);
    return rc;
}

int zmq_send(void *s, const void *buf, size_t len, int flags)
{
    static send_fn real;
    static long n;
    if (!real) real = (send_fn)dlsym(RTLD_NEXT, "zmq_send");
    n++;
    note("send", n);
    if (env_long("CT_CRASH_SEND") == n) _exit(CT_CRASH_CODE);
    return real(s, buf, len, flags);
}
