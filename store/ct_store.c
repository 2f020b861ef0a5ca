/* ct_store.c — opening and closing the store: the LMDB environment and its
 * databases, meta (format, campaign id, fingerprint, head), the writer lock,
 * the reopen after MDB_PANIC (see ct_store.h for the contract, ct_store_int.h
 * for the map of the other files).
 *
 * Invariants kept here:
 *   - one writer per data directory: a writer holds flock(LOCK_EX) on
 *     DIR/writer.lock for its whole life (pending person states live in its
 *     memory, so a second writer would tally from stale states);
 *   - a writer's open leaves "persons" current (a replay ran) or replay_due
 *     set (it waits for the campaign);
 *   - after MDB_PANIC (a failed meta write) the environment is closed and
 *     reopened before the next transaction; in-memory person states are
 *     dropped and replayed from the log by that reopen;
 *   - last_received_ms is the head record's received_ms at a writer's open.
 */
#include "ct_store_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ct_log.h"
#include "ct_text.h"

void ct_store_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

const char *ct_store_write_cause(const ct_store *s, int rc, ct_err *e, char *buf, size_t len)
{
    uint64_t fb = rc == ENOSPC || rc == EIO ? free_bytes(s->dir) : UINT64_MAX;
    if (rc == MDB_MAP_FULL) {
        *e = CT_ERR_MAP_FULL;
        snprintf(buf, len, "the LMDB map is full (%s): raise --map-size", mdb_strerror(rc));
    } else if (rc == ENOSPC || (rc == EIO && fb < CT_STORE_LOW_SPACE)) {
        *e = CT_ERR_DISK_FULL;
        snprintf(buf, len,
                 "no space left on device (%llu bytes free; LMDB: %s): free space on the disk "
                 "holding the data directory",
                 (unsigned long long)fb, mdb_strerror(rc));
    } else {
        *e = map_rc(rc);
        snprintf(buf, len, "%s", mdb_strerror(rc));
    }
    return buf;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp) return ENAMETOOLONG;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return errno;
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    return 0;
}

/* An LMDB failure while opening, as the ct_err open returns. */
static ct_err open_rc(int rc)
{
    ct_err e = map_rc(rc);
    return e == CT_ERR_STORE_UNAVAILABLE ? CT_ERR_LMDB : e;
}

/* Writer open of an existing store: compares meta "fingerprint" with the
 * loaded campaign's (see ct_store_opts.accept_campaign_change). */
static ct_err fingerprint_check(ct_store *s, MDB_txn *t, const uint8_t *fp, bool accept, char *err,
                                size_t errlen)
{
    MDB_val v;
    int rc = meta_get(t, s->meta, "fingerprint", &v);
    if (rc == MDB_NOTFOUND) { /* a store without one adopts ours */
        rc = meta_put(t, s->meta, "fingerprint", fp, 32);
        if (rc) goto lmdb_fail;
        return CT_OK;
    }
    if (rc) goto lmdb_fail;
    if (v.mv_size == 32 && memcmp(v.mv_data, fp, 32) == 0) return CT_OK;
    char have[17] = "(malformed)", want[17];
    if (v.mv_size == 32) ct_text_hex(v.mv_data, 8, have);
    ct_text_hex(fp, 8, want);
    if (!accept) {
        ct_store_errf(err, errlen,
                      "%s: the campaign file (or roster) differs from the one this store runs "
                      "with: store fingerprint %s..., campaign fingerprint %s...; if the edit is "
                      "intended, start again with --accept-campaign-change",
                      s->dir, have, want);
        return CT_ERR_CAMPAIGN_MISMATCH;
    }
    uint64_t seq;
    uint8_t head[CT_LOGREC_HASH_LEN];
    if ((rc = head_read(t, s->meta, &seq, head))) goto lmdb_fail;
    char key[48];
    snprintf(key, sizeof key, "fingerprint@%llu", (unsigned long long)seq);
    if ((rc = meta_put(t, s->meta, "fingerprint", fp, 32)) ||
        (rc = meta_put(t, s->meta, key, fp, 32)))
        goto lmdb_fail;
    ct_log(CT_LOG_WARN, "campaign changed; new fingerprint accepted (--accept-campaign-change)",
           "old=%s new=%s head_seq=%llu", have, want, (unsigned long long)seq);
    return CT_OK;
lmdb_fail:
    ct_store_errf(err, errlen, "%s: campaign fingerprint: %s", s->dir, mdb_strerror(rc));
    return open_rc(rc);
}

/* mdb_env_create + limits + mdb_env_open; s->env is set (maybe half-built)
 * for the caller to close on failure. */
static ct_err env_create(ct_store *s, char *err, size_t errlen)
{
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, 12)))
        what = "mdb_env_set_maxdbs";
    else if ((rc = mdb_env_set_maxreaders(s->env, 126)))
        what = "mdb_env_set_maxreaders";
    else if (s->map_size && (rc = mdb_env_set_mapsize(s->env, s->map_size)))
        what = "mdb_env_set_mapsize";
    if (rc) goto fail;
    rc = mdb_env_open(s->env, s->dir, MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0), 0600);
    if (rc) {
        ct_store_errf(err, errlen, "%s: cannot open LMDB environment: %s", s->dir,
                      mdb_strerror(rc));
        return rc == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_LMDB;
    }
    int stale = 0;
    rc = mdb_reader_check(s->env, &stale);
    if (rc) /* not fatal: stale slots only cost reader slots and file growth */
        ct_log(CT_LOG_WARN, "mdb_reader_check failed", "dir=%s err=\"%s\"", s->dir,
               mdb_strerror(rc));
    return CT_OK;
fail:
    ct_store_errf(err, errlen, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
    return CT_ERR_LMDB;
}

static ct_err dbis_open(ct_store *s, MDB_txn *t, char *err, size_t errlen)
{
    unsigned dflags = s->read_only ? 0 : MDB_CREATE;
    int rc;
    if ((rc = mdb_dbi_open(t, "meta", dflags, &s->meta)) ||
        (rc = mdb_dbi_open(t, "log", dflags, &s->log)) ||
        (rc = mdb_dbi_open(t, "ids", dflags, &s->ids)) ||
        (rc = mdb_dbi_open(t, "persons", dflags, &s->persons)) ||
        (rc = mdb_dbi_open(t, "counts", dflags, &s->counts))) {
        if (rc == MDB_NOTFOUND) {
            ct_store_errf(err, errlen, "%s: not a chitieu data directory (no store)", s->dir);
            return CT_ERR_NOT_FOUND;
        }
        if (rc == MDB_MAP_FULL)
            ct_store_errf(err, errlen, "%s: LMDB map is full (raise --map-size)", s->dir);
        else
            ct_store_errf(err, errlen, "%s: mdb_dbi_open: %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    rc = mdb_dbi_open(t, "origins", dflags, &s->origins);
    s->has_origins = rc == 0;
    if (rc && !(rc == MDB_NOTFOUND && s->read_only)) {
        ct_store_errf(err, errlen, "%s: mdb_dbi_open(origins): %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    rc = mdb_dbi_open(t, "ship", dflags, &s->ship);
    if (!rc) rc = mdb_dbi_open(t, "ship_origins", dflags, &s->ship_origins);
    s->has_ship = rc == 0;
    if (rc && !(rc == MDB_NOTFOUND && s->read_only)) {
        ct_store_errf(err, errlen, "%s: mdb_dbi_open(ship): %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    return CT_OK;
}

static int tally_version_put(MDB_txn *t, MDB_dbi meta)
{
    uint8_t b[4];
    ct_be32_put(b, CT_TALLY_VERSION);
    return meta_put(t, meta, "tally_version", b, sizeof b);
}

/* A writer's counters must come from this tally rule (meta "tally_version",
 * absent = 1; docs/PROTOCOL.md §5.2). Version 3 adds counters to every
 * counted enroll (lateness), so a store of an older version is stamped 3
 * only when its log is empty, and refused otherwise (its counters are
 * recomputed by chitieu-audit export + rebuild). A store of a later version
 * is refused. */
static ct_err tally_version_check(ct_store *s, char *err, size_t errlen)
{
    MDB_txn *t = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) {
        ct_store_errf(err, errlen, "%s: mdb_txn_begin: %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    ct_err r = CT_OK;
    MDB_val v;
    uint32_t have = 1;
    rc = meta_get(t, s->meta, "tally_version", &v);
    if (rc == 0 && v.mv_size == 4) {
        have = ct_be32_get(v.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        ct_store_errf(err, errlen, "%s: meta tally_version unreadable", s->dir);
        r = rc ? open_rc(rc) : CT_ERR_STORE_CORRUPT;
        goto leave;
    }
    if (have == CT_TALLY_VERSION) goto leave;
    if (have > CT_TALLY_VERSION) {
        ct_store_errf(err, errlen, "%s: counters of tally version %u, this build knows %u", s->dir,
                      (unsigned)have, (unsigned)CT_TALLY_VERSION);
        r = CT_ERR_BAD_VERSION;
        goto leave;
    }
    uint64_t head = 0;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    if ((rc = head_read(t, s->meta, &head, hh))) {
        ct_store_errf(err, errlen, "%s: reading head: %s", s->dir, mdb_strerror(rc));
        r = open_rc(rc);
        goto leave;
    }
    if (head > 0) {
        ct_store_errf(err, errlen,
                      "%s: counters of tally version %u lack the counters of version %u (life "
                      "entries, lateness); recount them: chitieu-audit export, then "
                      "chitieu-audit rebuild into a fresh directory",
                      s->dir, (unsigned)have, (unsigned)CT_TALLY_VERSION);
        r = CT_ERR_BAD_VERSION;
        goto leave;
    }
    if (!(rc = tally_version_put(t, s->meta))) {
        rc = mdb_txn_commit(t);
        t = NULL;
    }
    if (rc) {
        ct_store_errf(err, errlen, "%s: writing tally_version: %s", s->dir, mdb_strerror(rc));
        r = open_rc(rc);
    }
leave:
    if (t) mdb_txn_abort(t);
    return r;
}

/* A store without meta "campaign_id": initialise it (writers only). */
static ct_err meta_init(ct_store *s, MDB_txn *t, const uint8_t *fingerprint, char *err,
                        size_t errlen)
{
    if (s->read_only) {
        ct_store_errf(err, errlen, "%s: store is empty (never initialised)", s->dir);
        return CT_ERR_NOT_FOUND;
    }
    if (!s->campaign_id[0]) {
        ct_store_errf(err, errlen, "%s: a new store needs a campaign id", s->dir);
        return CT_ERR_ARG;
    }
    uint8_t zero[CT_LOGREC_HASH_LEN] = {0};
    int rc;
    if ((rc = meta_put(t, s->meta, "format", CT_STORE_FORMAT, strlen(CT_STORE_FORMAT))) ||
        (rc = meta_put(t, s->meta, "campaign_id", s->campaign_id, strlen(s->campaign_id))) ||
        (fingerprint && (rc = meta_put(t, s->meta, "fingerprint", fingerprint, 32))) ||
        (rc = head_write(t, s->meta, 0, zero)) ||
        (rc = meta_put(t, s->meta, "persons_seq", zero, 8)) ||
        (rc = tally_version_put(t, s->meta))) {
        ct_store_errf(err, errlen, "%s: cannot initialise store: %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    return CT_OK;
}

/* An initialised store: its campaign must be ours (or adopted), and a
 * writer checks the fingerprint. */
static ct_err meta_check(ct_store *s, MDB_txn *t, const MDB_val *v, const uint8_t *fingerprint,
                         bool accept_change, char *err, size_t errlen)
{
    char have[CT_CAMPAIGN_ID_MAX + 1];
    size_t n = v->mv_size < CT_CAMPAIGN_ID_MAX ? v->mv_size : CT_CAMPAIGN_ID_MAX;
    memcpy(have, v->mv_data, n);
    have[n] = '\0';
    if (s->campaign_id[0] && strcmp(have, s->campaign_id) != 0) {
        ct_store_errf(err, errlen,
                      "%s: data directory belongs to campaign \"%s\", not \"%s\" "
                      "(use another --data directory)",
                      s->dir, have, s->campaign_id);
        return CT_ERR_CAMPAIGN_MISMATCH;
    }
    if (!s->campaign_id[0]) memcpy(s->campaign_id, have, n + 1);
    if (!s->read_only && fingerprint)
        return fingerprint_check(s, t, fingerprint, accept_change, err, errlen);
    return CT_OK;
}

/* A writer reads the head record's received_ms (see last_received_ms). */
static ct_err read_last_received(ct_store *s, MDB_txn *t, char *err, size_t errlen)
{
    uint64_t hs;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    s->last_received_ms = 0;
    int rc = head_read(t, s->meta, &hs, hh);
    if (!rc && hs > 0) {
        uint8_t kb[8];
        ct_be64_put(kb, hs);
        MDB_val k = {8, kb}, lv;
        ct_logrec hr;
        rc = mdb_get(t, s->log, &k, &lv);
        /* a head record that does not decode is left to audit verify */
        if (!rc && ct_logrec_decode(lv.mv_data, lv.mv_size, &hr) == CT_OK)
            s->last_received_ms = hr.received_ms;
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc) {
        ct_store_errf(err, errlen, "%s: reading the head record: %s", s->dir, mdb_strerror(rc));
        return open_rc(rc);
    }
    return CT_OK;
}

ct_err ct_store_env_open(ct_store *s, const uint8_t *fingerprint, bool accept_change, char *err,
                         size_t errlen)
{
    assert(!s->env && !s->imp_txn);
    MDB_txn *t = NULL;
    ct_err r = env_create(s, err, errlen);
    if (r) goto leave;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &t);
    if (rc) {
        t = NULL;
        ct_store_errf(err, errlen, "%s: mdb_txn_begin: %s", s->dir, mdb_strerror(rc));
        r = open_rc(rc);
        goto leave;
    }
    if ((r = dbis_open(s, t, err, errlen))) goto leave;
    MDB_val v;
    rc = meta_get(t, s->meta, "campaign_id", &v);
    if (rc == MDB_NOTFOUND) {
        r = meta_init(s, t, fingerprint, err, errlen);
    } else if (rc) {
        ct_store_errf(err, errlen, "%s: reading meta: %s", s->dir, mdb_strerror(rc));
        r = open_rc(rc);
    } else {
        r = meta_check(s, t, &v, fingerprint, accept_change, err, errlen);
    }
    if (!r && !s->read_only) r = read_last_received(s, t, err, errlen);
    if (!r && !s->read_only) r = ct_store_ship_load(s, t, err, errlen);
    if (r) goto leave;
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) {
        ct_store_errf(err, errlen, "%s: mdb_txn_commit: %s", s->dir, mdb_strerror(rc));
        r = open_rc(rc);
        goto leave;
    }
    /* without the campaign the replay waits for ct_store_set_campaign */
    if (!s->read_only) r = ct_store_persons_replay(s, err, errlen);
leave:
    if (t) mdb_txn_abort(t);
    if (r && s->env) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return r;
}

static void store_free(ct_store *s)
{
    if (s->imp_txn) mdb_txn_abort(s->imp_txn);
    if (s->ship_txn) mdb_txn_abort(s->ship_txn);
    if (s->env) mdb_env_close(s->env);
    ct_pmap_free(&s->overlay);
    ct_pmap_free(&s->dirty);
    ct_pmap_free(&s->frozen);
    ct_store_persons_free(s);
    free(s->gen_order);
    ct_counts_free(&s->delta);
    ct_counts_free(&s->cache);
    ct_buf_free(&s->rec);
    ct_buf_free(&s->ship_buf);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the writer lock */
    free(s->dir);
    pthread_mutex_destroy(&s->env_mu);
    free(s);
}

/* Takes the writer lock on DIR/writer.lock (see the top comment). */
static ct_err writer_lock(ct_store *s, char *err, size_t errlen)
{
    int e = mkdir_p(s->dir);
    if (e) {
        ct_store_errf(err, errlen, "%s: cannot create data directory: %s", s->dir, strerror(e));
        return CT_ERR_IO;
    }
    char lp[4096];
    snprintf(lp, sizeof lp, "%s/writer.lock", s->dir);
    s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int en = errno;
        ct_store_errf(err, errlen, "%s: %s", s->dir,
                      en == EWOULDBLOCK
                          ? "another process (aggregator or rebuild) is writing this data directory"
                          : strerror(en));
        return CT_ERR_IO;
    }
    return CT_OK;
}

ct_err ct_store_open(const ct_store_opts *o, ct_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->dir || !o->dir[0]) {
        ct_store_errf(err, errlen, "no data directory given");
        return CT_ERR_ARG;
    }
    if (o->campaign_id && strlen(o->campaign_id) > CT_CAMPAIGN_ID_MAX) {
        ct_store_errf(err, errlen, "campaign id too long");
        return CT_ERR_ARG;
    }
    if (sodium_init() < 0) {
        ct_store_errf(err, errlen, "libsodium initialisation failed");
        return CT_ERR_INTERNAL;
    }
    ct_store *s = calloc(1, sizeof *s);
    if (!s) return CT_ERR_NOMEM;
    ct_err r = CT_ERR_NOMEM;
    s->lock_fd = -1;
    pthread_mutex_init(&s->env_mu, NULL);
    ct_counts_init(&s->delta);
    ct_counts_init(&s->cache);
    ct_pmap_init(&s->overlay);
    ct_pmap_init(&s->dirty);
    ct_pmap_init(&s->frozen);
    ct_pmap_init(&s->merged);
    s->dir = strdup(o->dir);
    if (!s->dir) goto fail;
    s->read_only = o->read_only;
    s->ckpt_max = CT_CKPT_MAX_DEFAULT;
    s->ckpt_age_ms = CT_CKPT_AGE_DEFAULT;
    s->map_size = o->map_size ? o->map_size : (o->read_only ? 0 : CT_STORE_DEFAULT_MAP);
    if (o->campaign_id) memcpy(s->campaign_id, o->campaign_id, strlen(o->campaign_id) + 1);
    if (!s->read_only && (r = writer_lock(s, err, errlen))) goto fail;
    r = ct_store_env_open(s, o->fingerprint, o->accept_campaign_change, err, errlen);
    if (r) goto fail;
    assert((s->lock_fd >= 0) == !s->read_only);
    *out = s;
    return CT_OK;
fail:
    store_free(s);
    return r;
}

void ct_store_close(ct_store *s)
{
    if (!s) return;
    if (s->imp_txn) {
        mdb_txn_abort(s->imp_txn);
        s->imp_txn = NULL;
        ct_store_persons_aborted(s);
    }
    if (!s->read_only) ct_store_persons_close(s);
    store_free(s);
}

void ct_store_abandon(ct_store *s)
{
    if (s) store_free(s);
}

ct_err ct_store_set_campaign(ct_store *s, const ct_campaign *c, char *err, size_t errlen)
{
    if (!s || !c) return CT_ERR_ARG;
    s->campaign = c;
    if (s->env && !s->read_only) {
        ct_err tv = tally_version_check(s, err, errlen);
        if (tv) return tv;
    }
    if (!s->replay_due || !s->env) return CT_OK;
    s->replay_due = false;
    ct_err r = ct_store_persons_replay(s, err, errlen);
    if (r) s->replay_due = true;
    return r;
}

void ct_store_set_checkpoint(ct_store *s, size_t max_dirty, int64_t max_age_ms)
{
    if (!s) return;
    s->ckpt_max = max_dirty;
    s->ckpt_age_ms = max_age_ms;
}

int ct_store_reader_check(ct_store *s)
{
    int dead = 0;
    if (!s || !s->env) return 0;
    int rc = mdb_reader_check(s->env, &dead);
    if (rc) {
        snprintf(s->last_err, sizeof s->last_err, "mdb_reader_check: %s (%d)", mdb_strerror(rc),
                 rc);
        return -1;
    }
    return dead;
}

const char *ct_store_last_error(const ct_store *s)
{
    return s ? s->last_err : "";
}

/* Closes and reopens the environment after MDB_PANIC. */
static ct_err store_reopen(ct_store *s)
{
    assert(!s->imp_txn);
    if (pthread_mutex_trylock(&s->env_mu) != 0) return CT_ERR_STORE_UNAVAILABLE; /* a copy */
    if (s->env) mdb_env_close(s->env);
    s->env = NULL;
    /* the log is the truth: pending states are replayed from it on open */
    ct_store_persons_forget(s);
    ct_store_tally_forget(s);
    char err[256];
    ct_err r = ct_store_env_open(s, NULL, false, err, sizeof err);
    if (r == CT_OK) s->need_reopen = false;
    pthread_mutex_unlock(&s->env_mu);
    return r;
}

ct_err ct_store_txn_begin(ct_store *s, unsigned flags, MDB_txn **t)
{
    if (s->need_reopen && store_reopen(s)) return CT_ERR_STORE_UNAVAILABLE;
    if (!s->env) return CT_ERR_STORE_UNAVAILABLE;
    int rc = mdb_txn_begin(s->env, NULL, flags, t);
    if (rc == MDB_PANIC) {
        s->need_reopen = true;
        return CT_ERR_STORE_UNAVAILABLE;
    }
    return map_rc(rc);
}

ct_err ct_store_fingerprint(ct_store *s, uint8_t out[32])
{
    if (!s) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val v;
    int rc = meta_get(t, s->meta, "fingerprint", &v);
    if (rc == 0 && v.mv_size != 32) rc = MDB_CORRUPTED;
    if (rc == 0) memcpy(out, v.mv_data, 32);
    mdb_txn_abort(t);
    return map_rc(rc);
}
