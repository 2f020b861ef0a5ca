/* ct_repl_copy.c — a consistent copy of this store served in chunks to a
 * bootstrapping follower (see ct_repl_copy.h for the protocol, the
 * lifetime and the threads).
 *
 * Invariants: state is the only field both threads touch (C11 atomic);
 * the copy thread writes dir's contents, m and msg before it stores
 * MADE/FAILED, and the loop thread reads them only after it loaded that
 * state; fd is open exactly in READY; a copy id is never 0.
 */
#include "ct_repl_copy.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "ct_bootstrap.h"
#include "ct_log.h"
#include "ct_wire.h"

enum { C_NONE, C_MAKING, C_MADE, C_FAILED, C_READY };

struct ct_repl_copy {
    ct_store *store;
    const ct_campaign *camp;
    char dir[4096];
    _Atomic int state;
    pthread_t th;
    bool th_live;
    uint64_t id;
    ct_bootstrap_manifest m;
    char msg[512];
    int fd;
    int64_t last_ms;
    uint8_t *chunk;
};

static void remove_dir(const char *dir)
{
    char p[4200];
    static const char *const names[] = {"data.mdb", "lock.mdb", "copy.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

ct_err ct_repl_copy_create(ct_store *store, const char *data, const ct_campaign *camp,
                           ct_repl_copy **out)
{
    ct_repl_copy *c = calloc(1, sizeof *c);
    if (!c) return CT_ERR_NOMEM;
    c->chunk = malloc(CT_WIRE_MAX_CHUNK);
    if (!c->chunk) {
        free(c);
        return CT_ERR_NOMEM;
    }
    c->store = store;
    c->camp = camp;
    c->fd = -1;
    snprintf(c->dir, sizeof c->dir, "%s/serve-copy", data);
    remove_dir(c->dir); /* left by a crash */
    atomic_init(&c->state, C_NONE);
    *out = c;
    return CT_OK;
}

static void *copy_thread(void *arg)
{
    ct_repl_copy *c = arg;
    ct_err e = ct_store_copy(c->store, c->dir, c->msg, sizeof c->msg);
    if (!e) e = ct_bootstrap_describe(c->dir, 0, c->camp, &c->m, c->msg, sizeof c->msg);
    atomic_store(&c->state, e ? C_FAILED : C_MADE);
    return NULL;
}

static void reap(ct_repl_copy *c)
{
    int st = atomic_load(&c->state);
    if (!c->th_live || (st != C_MADE && st != C_FAILED)) return;
    pthread_join(c->th, NULL);
    c->th_live = false;
    if (st == C_FAILED) {
        ct_log(CT_LOG_ERROR, "replication: cannot make a copy of the store for a follower",
               "detail=\"%s\"", c->msg);
        remove_dir(c->dir);
        atomic_store(&c->state, C_NONE);
        return;
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/data.mdb", c->dir);
    c->fd = open(p, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        remove_dir(c->dir);
        atomic_store(&c->state, C_NONE);
        return;
    }
    ct_log(CT_LOG_INFO, "replication: a copy of the store is ready for a follower",
           "copy_id=%llu seq=%llu bytes=%llu", (unsigned long long)c->id,
           (unsigned long long)c->m.seq, (unsigned long long)c->m.bytes);
    atomic_store(&c->state, C_READY);
}

static void drop(ct_repl_copy *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    remove_dir(c->dir);
    atomic_store(&c->state, C_NONE);
}

void ct_repl_copy_free(ct_repl_copy *c)
{
    if (!c) return;
    if (c->th_live) pthread_join(c->th, NULL);
    drop(c);
    free(c->chunk);
    free(c);
}

void ct_repl_copy_tick(ct_repl_copy *c, int64_t now_ms)
{
    if (!c) return;
    reap(c);
    if (atomic_load(&c->state) == C_READY && now_ms - c->last_ms > CT_REPL_COPY_IDLE_MS) {
        ct_log(CT_LOG_INFO, "replication: removing an idle copy of the store", "copy_id=%llu",
               (unsigned long long)c->id);
        drop(c);
    }
}

ct_err ct_repl_copy_answer(ct_repl_copy *c, uint64_t copy_id, uint64_t offset, uint64_t epoch,
                           int64_t now_ms, ct_buf *out)
{
    reap(c);
    c->last_ms = now_ms;
    ct_wire_copy_chunk ch = {.copy_id = c->id,
                             .epoch = epoch,
                             .campaign_id = c->camp->id,
                             .campaign_id_len = strlen(c->camp->id)};
    memcpy(ch.fingerprint, c->camp->fingerprint, sizeof ch.fingerprint);
    int st = atomic_load(&c->state);
    if (st == C_NONE) {
        do
            randombytes_buf(&c->id, sizeof c->id);
        while ((c->id &= INT64_MAX) == 0);
        ch.copy_id = c->id;
        atomic_store(&c->state, C_MAKING);
        if (pthread_create(&c->th, NULL, copy_thread, c) != 0) {
            atomic_store(&c->state, C_NONE);
            return CT_ERR_NOMEM;
        }
        c->th_live = true;
        ct_log(CT_LOG_INFO, "replication: making a copy of the store for a follower",
               "copy_id=%llu", (unsigned long long)c->id);
        return ct_wire_copy_chunk_encode(&ch, out);
    }
    if (st != C_READY) return ct_wire_copy_chunk_encode(&ch, out); /* z = 0: ask again */
    if (copy_id != c->id) offset = 0;                              /* another copy: start again */
    if (offset > c->m.bytes) return CT_ERR_BAD_VALUE;
    size_t n =
        c->m.bytes - offset < CT_WIRE_MAX_CHUNK ? (size_t)(c->m.bytes - offset) : CT_WIRE_MAX_CHUNK;
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(c->fd, c->chunk + got, n - got, (off_t)(offset + got));
        if (r <= 0) return CT_ERR_IO;
        got += (size_t)r;
    }
    ch.size = c->m.bytes;
    ch.offset = offset;
    ch.data = c->chunk;
    ch.len = n;
    ch.seq = c->m.seq;
    ch.epoch = c->m.epoch;
    memcpy(ch.head, c->m.head, sizeof ch.head);
    memcpy(ch.digest, c->m.digest, sizeof ch.digest);
    return ct_wire_copy_chunk_encode(&ch, out);
}
