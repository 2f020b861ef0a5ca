/* ct_store.c — the aggregator's durable state in one LMDB environment
 * (see ct_store.h for the layout and the contract).
 *
 * Invariants kept here:
 *   - every mutation happens inside ONE write transaction per batch (or per
 *     import chunk) opened with LMDB's default durable flags; on any failure
 *     the transaction is aborted, so a batch is applied entirely or not at all;
 *   - the log is appended with MDB_APPEND under key seq (8 bytes BE), seq =
 *     previous head + 1, and the head in meta is updated in the same txn;
 *   - counter deltas of a batch are accumulated in memory (s->delta) and each
 *     changed counter is written once, as an absolute value, at the end;
 *   - ids are read through the write txn, which sees its own writes, so
 *     duplicates inside one batch are exact; person states are looked up in
 *     the batch overlay, then the pending (committed, not yet written) map,
 *     then "persons" — so repeat enrolls inside and across batches are exact;
 *   - "persons" always equals the person states after log[1..persons_seq]: it
 *     is written only by a checkpoint, which sets persons_seq in the same txn;
 *     opening a writer replays log(persons_seq..head] (counts untouched);
 *   - after MDB_PANIC (a failed meta write) the environment is closed and
 *     reopened before the next batch;
 *   - received_ms is non-decreasing along the log: each appended record gets
 *     max(item's received_ms, last_received_ms), last_received_ms being read
 *     from the head record at a writer's open and advanced after each commit.
 */
#include "ct_store.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_log.h"
#include "ct_tally.h"
#include "ct_time.h"
#include "ct_wire.h"

#define CT_STORE_FORMAT "chitieu-store-1"
#define CT_IDHASH_LEN 16
#define CT_SCAN_RENEW 4096
#define CT_CKPT_MAX_DEFAULT 32768
#define CT_CKPT_AGE_DEFAULT 5000

/* In-memory person states not yet in "persons" (open addressing, linear
 * probing, load <= 1/2). Keys are program || person hash (random bytes). */
typedef struct {
    uint8_t key[CT_PERSON_KEY_LEN];
    uint8_t used;
    ct_person_state st;
} ct_pslot;

typedef struct {
    ct_pslot *slots;
    size_t cap, n;
} ct_pmap;

struct ct_store {
    MDB_env *env;
    MDB_dbi meta, log, ids, persons, counts;
    MDB_dbi origins;  /* (added) origin -> identity; see ct_store.h */
    bool has_origins; /* false: a read-only open of a store without it */
    bool read_only;
    bool need_reopen;
    char *dir;
    size_t map_size;
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
    ct_counts delta; /* per-batch counter deltas (reused) */
    ct_buf rec;      /* encoded log record (reused) */
    char last_err[160];
    /* person-state checkpoints (see ct_store.h): states changed by the batch
     * in progress (overlay) and by committed batches not yet written (dirty) */
    const ct_campaign *campaign;
    bool replay_due; /* a replay waits for the campaign */
    int lock_fd;     /* writer: flock(LOCK_EX) on DIR/writer.lock, else -1 */
    ct_pmap overlay, dirty;
    size_t ckpt_max;
    int64_t ckpt_age_ms, dirty_since_ms;
    /* received_ms of the head record: the next record's is clamped to >= it
     * (non-decreasing along the log even if the wall clock steps back) */
    int64_t last_received_ms;
    /* import state */
    int64_t imp_last_received_ms;
    MDB_txn *imp_txn;
    uint64_t imp_seq;
    uint8_t imp_head[CT_LOGREC_HASH_LEN];
};

/* ---- small helpers ---------------------------------------------------- */

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t pmap_hash(const uint8_t *k)
{
    uint64_t h;
    memcpy(&h, k + 1, sizeof h); /* the person hash is already uniform */
    return (size_t)(h ^ ((uint64_t)k[0] * 0x9E3779B97F4A7C15ull));
}

static ct_pslot *pmap_find(const ct_pmap *m, const uint8_t *k)
{
    if (!m->n) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = pmap_hash(k) & mask;; i = (i + 1) & mask) {
        ct_pslot *sl = &m->slots[i];
        if (!sl->used) return NULL;
        if (memcmp(sl->key, k, CT_PERSON_KEY_LEN) == 0) return sl;
    }
}

static int pmap_grow(ct_pmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    ct_pslot *ns = calloc(cap, sizeof *ns);
    if (!ns) return ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].used) continue;
        size_t j = pmap_hash(m->slots[i].key) & (cap - 1);
        while (ns[j].used)
            j = (j + 1) & (cap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    return 0;
}

/* Sets k's state (inserting it if needed). */
static int pmap_set(ct_pmap *m, const uint8_t *k, const ct_person_state *st)
{
    if ((m->n + 1) * 2 > m->cap && pmap_grow(m)) return ENOMEM;
    size_t mask = m->cap - 1;
    size_t i = pmap_hash(k) & mask;
    while (m->slots[i].used && memcmp(m->slots[i].key, k, CT_PERSON_KEY_LEN) != 0)
        i = (i + 1) & mask;
    ct_pslot *sl = &m->slots[i];
    if (!sl->used) {
        sl->used = 1;
        memcpy(sl->key, k, CT_PERSON_KEY_LEN);
        m->n++;
    }
    sl->st = *st;
    return 0;
}

static void pmap_clear(ct_pmap *m)
{
    if (m->n) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0;
}

static void pmap_free(ct_pmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* Maps an LMDB (or errno) code to a ct_err. */
static ct_err map_rc(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return CT_OK;
    case MDB_MAP_FULL:
        return CT_ERR_MAP_FULL;
    case ENOSPC:
        return CT_ERR_DISK_FULL;
    case MDB_NOTFOUND:
        return CT_ERR_NOT_FOUND;
    case ENOMEM:
        return CT_ERR_NOMEM;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return CT_ERR_STORE_CORRUPT;
    default:
        return CT_ERR_STORE_UNAVAILABLE;
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
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

static int meta_get(MDB_txn *t, MDB_dbi dbi, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(t, dbi, &k, v);
}

static int meta_put(MDB_txn *t, MDB_dbi dbi, const char *key, const void *p, size_t n)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {n, (void *)p};
    return mdb_put(t, dbi, &k, &v, 0);
}

static int head_read(MDB_txn *t, MDB_dbi meta, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_val v;
    int rc = meta_get(t, meta, "head", &v);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        memset(head, 0, CT_LOGREC_HASH_LEN);
        return 0;
    }
    if (rc) return rc;
    if (v.mv_size != 8 + CT_LOGREC_HASH_LEN) return MDB_CORRUPTED;
    *seq = be64_get(v.mv_data);
    memcpy(head, (const uint8_t *)v.mv_data + 8, CT_LOGREC_HASH_LEN);
    return 0;
}

static int head_write(MDB_txn *t, MDB_dbi meta, uint64_t seq,
                      const uint8_t head[CT_LOGREC_HASH_LEN])
{
    uint8_t b[8 + CT_LOGREC_HASH_LEN];
    be64_put(b, seq);
    memcpy(b + 8, head, CT_LOGREC_HASH_LEN);
    return meta_put(t, meta, "head", b, sizeof b);
}

/* ---- open / close ----------------------------------------------------- */

static ct_err persons_replay(ct_store *s, char *err, size_t errlen);

static void hex16(const uint8_t *b, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Writer open of an existing store: compares meta "fingerprint" with the
 * loaded campaign's (see ct_store_opts.accept_campaign_change). Returns an
 * LMDB rc, or -1 for a refused change (err filled). */
static int fingerprint_check(ct_store *s, MDB_txn *t, const uint8_t *fp, bool accept, char *err,
                             size_t errlen)
{
    MDB_val v;
    int rc = meta_get(t, s->meta, "fingerprint", &v);
    if (rc == MDB_NOTFOUND) return meta_put(t, s->meta, "fingerprint", fp, 32);
    if (rc) return rc;
    if (v.mv_size == 32 && memcmp(v.mv_data, fp, 32) == 0) return 0;
    char have[17] = "(malformed)", want[17];
    if (v.mv_size == 32) hex16(v.mv_data, have);
    hex16(fp, want);
    if (!accept) {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: the campaign file (or roster) differs from the one this store runs "
                     "with: store fingerprint %s..., campaign fingerprint %s...; if the edit is "
                     "intended, start again with --accept-campaign-change",
                     s->dir, have, want);
        return -1;
    }
    uint64_t seq;
    uint8_t head[CT_LOGREC_HASH_LEN];
    if ((rc = head_read(t, s->meta, &seq, head))) return rc;
    char key[48];
    snprintf(key, sizeof key, "fingerprint@%llu", (unsigned long long)seq);
    if ((rc = meta_put(t, s->meta, "fingerprint", fp, 32)) ||
        (rc = meta_put(t, s->meta, key, fp, 32)))
        return rc;
    ct_log(CT_LOG_WARN, "campaign changed; new fingerprint accepted (--accept-campaign-change)",
           "old=%s new=%s head_seq=%llu", have, want, (unsigned long long)seq);
    return 0;
}

static ct_err env_open(ct_store *s, const uint8_t *fingerprint, bool accept_change, char *err,
                       size_t errlen)
{
    int rc = mdb_env_create(&s->env);
    if (rc) {
        set_err(err, errlen, "%s: mdb_env_create: %s", s->dir, mdb_strerror(rc));
        return CT_ERR_LMDB;
    }
    const char *what = NULL;
    if ((rc = mdb_env_set_maxdbs(s->env, 8)))
        what = "mdb_env_set_maxdbs";
    else if ((rc = mdb_env_set_maxreaders(s->env, 126)))
        what = "mdb_env_set_maxreaders";
    else if (s->map_size && (rc = mdb_env_set_mapsize(s->env, s->map_size)))
        what = "mdb_env_set_mapsize";
    if (rc) {
        if (err && errlen) snprintf(err, errlen, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
        mdb_env_close(s->env);
        s->env = NULL;
        return CT_ERR_LMDB;
    }
    unsigned flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(s->env, s->dir, flags, 0600);
    if (rc) {
        set_err(err, errlen, "%s: cannot open LMDB environment: %s", s->dir, mdb_strerror(rc));
        mdb_env_close(s->env);
        s->env = NULL;
        return rc == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_LMDB;
    }
    int stale = 0;
    rc = mdb_reader_check(s->env, &stale);
    if (rc) /* not fatal: stale slots only cost reader slots and file growth */
        ct_log(CT_LOG_WARN, "mdb_reader_check failed", "dir=%s err=\"%s\"", s->dir,
               mdb_strerror(rc));

    MDB_txn *t;
    rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &t);
    if (rc) {
        set_err(err, errlen, "%s: mdb_txn_begin: %s", s->dir, mdb_strerror(rc));
        goto fail_env;
    }
    unsigned dflags = s->read_only ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(t, "meta", dflags, &s->meta)) ||
        (rc = mdb_dbi_open(t, "log", dflags, &s->log)) ||
        (rc = mdb_dbi_open(t, "ids", dflags, &s->ids)) ||
        (rc = mdb_dbi_open(t, "persons", dflags, &s->persons)) ||
        (rc = mdb_dbi_open(t, "counts", dflags, &s->counts))) {
        if (rc == MDB_NOTFOUND)
            set_err(err, errlen, "%s: %s", s->dir, "not a chitieu data directory (no store)");
        else if (rc == MDB_MAP_FULL)
            set_err(err, errlen, "%s: %s", s->dir, "LMDB map is full (raise --map-size)");
        else
            set_err(err, errlen, "%s: mdb_dbi_open: %s", s->dir, mdb_strerror(rc));
        mdb_txn_abort(t);
        if (rc == MDB_NOTFOUND) {
            mdb_env_close(s->env);
            s->env = NULL;
            return CT_ERR_NOT_FOUND;
        }
        goto fail_env;
    }
    rc = mdb_dbi_open(t, "origins", dflags, &s->origins);
    s->has_origins = rc == 0;
    if (rc && !(rc == MDB_NOTFOUND && s->read_only)) {
        set_err(err, errlen, "%s: mdb_dbi_open(origins): %s", s->dir, mdb_strerror(rc));
        mdb_txn_abort(t);
        goto fail_env;
    }
    MDB_val v;
    rc = meta_get(t, s->meta, "campaign_id", &v);
    if (rc == MDB_NOTFOUND) {
        if (s->read_only) {
            mdb_txn_abort(t);
            set_err(err, errlen, "%s: %s", s->dir, "store is empty (never initialised)");
            mdb_env_close(s->env);
            s->env = NULL;
            return CT_ERR_NOT_FOUND;
        }
        if (!s->campaign_id[0]) {
            mdb_txn_abort(t);
            set_err(err, errlen, "%s: %s", s->dir, "a new store needs a campaign id");
            mdb_env_close(s->env);
            s->env = NULL;
            return CT_ERR_ARG;
        }
        uint8_t zero[CT_LOGREC_HASH_LEN] = {0};
        if ((rc = meta_put(t, s->meta, "format", CT_STORE_FORMAT, strlen(CT_STORE_FORMAT))) ||
            (rc = meta_put(t, s->meta, "campaign_id", s->campaign_id, strlen(s->campaign_id))) ||
            (fingerprint && (rc = meta_put(t, s->meta, "fingerprint", fingerprint, 32))) ||
            (rc = head_write(t, s->meta, 0, zero)) ||
            (rc = meta_put(t, s->meta, "persons_seq", zero, 8))) {
            mdb_txn_abort(t);
            set_err(err, errlen, "%s: cannot initialise store: %s", s->dir, mdb_strerror(rc));
            goto fail_env;
        }
    } else if (rc) {
        mdb_txn_abort(t);
        set_err(err, errlen, "%s: reading meta: %s", s->dir, mdb_strerror(rc));
        goto fail_env;
    } else {
        char have[CT_CAMPAIGN_ID_MAX + 1];
        size_t n = v.mv_size < CT_CAMPAIGN_ID_MAX ? v.mv_size : CT_CAMPAIGN_ID_MAX;
        memcpy(have, v.mv_data, n);
        have[n] = '\0';
        if (s->campaign_id[0] && strcmp(have, s->campaign_id) != 0) {
            mdb_txn_abort(t);
            if (err && errlen)
                snprintf(err, errlen,
                         "%s: data directory belongs to campaign \"%s\", not \"%s\" "
                         "(use another --data directory)",
                         s->dir, have, s->campaign_id);
            mdb_env_close(s->env);
            s->env = NULL;
            return CT_ERR_CAMPAIGN_MISMATCH;
        }
        if (!s->campaign_id[0]) memcpy(s->campaign_id, have, n + 1);
        if (!s->read_only && fingerprint) {
            rc = fingerprint_check(s, t, fingerprint, accept_change, err, errlen);
            if (rc == -1) {
                mdb_txn_abort(t);
                mdb_env_close(s->env);
                s->env = NULL;
                return CT_ERR_CAMPAIGN_MISMATCH;
            }
            if (rc) {
                mdb_txn_abort(t);
                set_err(err, errlen, "%s: campaign fingerprint: %s", s->dir, mdb_strerror(rc));
                goto fail_env;
            }
        }
    }
    if (!s->read_only) {
        uint64_t hs;
        uint8_t hh[CT_LOGREC_HASH_LEN];
        s->last_received_ms = 0;
        rc = head_read(t, s->meta, &hs, hh);
        if (!rc && hs > 0) {
            uint8_t kb[8];
            be64_put(kb, hs);
            MDB_val k = {8, kb}, lv;
            ct_logrec hr;
            rc = mdb_get(t, s->log, &k, &lv);
            /* a head record that does not decode is left to audit verify */
            if (!rc && ct_logrec_decode(lv.mv_data, lv.mv_size, &hr) == CT_OK)
                s->last_received_ms = hr.received_ms;
            if (rc == MDB_NOTFOUND) rc = 0;
        }
        if (rc) {
            mdb_txn_abort(t);
            set_err(err, errlen, "%s: reading the head record: %s", s->dir, mdb_strerror(rc));
            goto fail_env;
        }
    }
    rc = mdb_txn_commit(t);
    if (rc) {
        set_err(err, errlen, "%s: mdb_txn_commit: %s", s->dir, mdb_strerror(rc));
        goto fail_env;
    }
    if (!s->read_only) {
        /* without the campaign the replay waits for ct_store_set_campaign */
        ct_err pr = persons_replay(s, err, errlen);
        if (pr) {
            mdb_env_close(s->env);
            s->env = NULL;
            return pr;
        }
    }
    return CT_OK;
fail_env:
    mdb_env_close(s->env);
    s->env = NULL;
    return map_rc(rc) == CT_ERR_STORE_UNAVAILABLE ? CT_ERR_LMDB : map_rc(rc);
}

ct_err ct_store_open(const ct_store_opts *o, ct_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->dir || !o->dir[0]) {
        set_err(err, errlen, "%s%s", "no data directory given", "");
        return CT_ERR_ARG;
    }
    if (o->campaign_id && strlen(o->campaign_id) > CT_CAMPAIGN_ID_MAX) {
        set_err(err, errlen, "%s%s", "campaign id too long", "");
        return CT_ERR_ARG;
    }
    if (sodium_init() < 0) {
        set_err(err, errlen, "%s%s", "libsodium initialisation failed", "");
        return CT_ERR_INTERNAL;
    }
    ct_store *s = calloc(1, sizeof *s);
    if (!s) return CT_ERR_NOMEM;
    s->dir = strdup(o->dir);
    if (!s->dir) {
        free(s);
        return CT_ERR_NOMEM;
    }
    s->read_only = o->read_only;
    s->ckpt_max = CT_CKPT_MAX_DEFAULT;
    s->ckpt_age_ms = CT_CKPT_AGE_DEFAULT;
    s->map_size = o->map_size ? o->map_size : (o->read_only ? 0 : CT_STORE_DEFAULT_MAP);
    if (o->campaign_id) memcpy(s->campaign_id, o->campaign_id, strlen(o->campaign_id) + 1);
    ct_counts_init(&s->delta);
    s->lock_fd = -1;
    if (!s->read_only) {
        int e = mkdir_p(o->dir);
        if (e) {
            set_err(err, errlen, "%s: cannot create data directory: %s", o->dir, strerror(e));
            free(s->dir);
            free(s);
            return CT_ERR_IO;
        }
        /* One writer per store: pending person states live in the writer's
         * memory, so a second writer would tally from stale states. */
        char lp[4096];
        snprintf(lp, sizeof lp, "%s/writer.lock", o->dir);
        s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            int en = errno;
            if (s->lock_fd >= 0) close(s->lock_fd);
            set_err(err, errlen, "%s: %s", o->dir,
                    en == EWOULDBLOCK ? "another process (aggregator or rebuild) is writing this "
                                        "data directory"
                                      : strerror(en));
            free(s->dir);
            free(s);
            return CT_ERR_IO;
        }
    }
    ct_err r = env_open(s, o->fingerprint, o->accept_campaign_change, err, errlen);
    if (r) {
        if (s->lock_fd >= 0) close(s->lock_fd);
        pmap_free(&s->overlay);
        ct_counts_free(&s->delta);
        ct_buf_free(&s->rec);
        free(s->dir);
        free(s);
        return r;
    }
    *out = s;
    return CT_OK;
}

static void store_free(ct_store *s)
{
    if (s->imp_txn) mdb_txn_abort(s->imp_txn);
    if (s->env) mdb_env_close(s->env);
    pmap_free(&s->overlay);
    pmap_free(&s->dirty);
    ct_counts_free(&s->delta);
    ct_buf_free(&s->rec);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the writer lock */
    free(s->dir);
    free(s);
}

static int persons_checkpoint(ct_store *s, MDB_txn *t, uint64_t seq);

void ct_store_close(ct_store *s)
{
    if (!s) return;
    if (s->imp_txn) {
        mdb_txn_abort(s->imp_txn);
        s->imp_txn = NULL;
        pmap_clear(&s->overlay);
    }
    if (!s->read_only && s->env && !s->need_reopen && s->dirty.n) {
        /* write the pending person states; if this fails the next open
         * replays them from the log */
        MDB_txn *t;
        if (mdb_txn_begin(s->env, NULL, 0, &t) == 0) {
            uint64_t seq;
            uint8_t head[CT_LOGREC_HASH_LEN];
            if (head_read(t, s->meta, &seq, head) == 0 && persons_checkpoint(s, t, seq) == 0)
                mdb_txn_commit(t);
            else
                mdb_txn_abort(t);
        }
    }
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
    if (!s->replay_due || !s->env) return CT_OK;
    s->replay_due = false;
    ct_err r = persons_replay(s, err, errlen);
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

/* Closes and reopens the environment after MDB_PANIC. */
static ct_err store_reopen(ct_store *s)
{
    if (s->env) mdb_env_close(s->env);
    s->env = NULL;
    /* the log is the truth: pending states are replayed from it on open */
    pmap_clear(&s->overlay);
    pmap_clear(&s->dirty);
    char err[256];
    ct_err r = env_open(s, NULL, false, err, sizeof err);
    if (r == CT_OK) s->need_reopen = false;
    return r;
}

static ct_err txn_begin(ct_store *s, unsigned flags, MDB_txn **t)
{
    if (s->need_reopen) {
        ct_err r = store_reopen(s);
        if (r) return CT_ERR_STORE_UNAVAILABLE;
    }
    if (!s->env) return CT_ERR_STORE_UNAVAILABLE;
    int rc = mdb_txn_begin(s->env, NULL, flags, t);
    if (rc == MDB_PANIC) {
        s->need_reopen = true;
        return CT_ERR_STORE_UNAVAILABLE;
    }
    return map_rc(rc);
}

/* ---- the write path --------------------------------------------------- */

/* Applies the tally for one new (valid, not yet recorded) event with log seq
 * seq inside txn t: reads and updates the person state, adds counter deltas
 * to s->delta. */
static int tally_one(ct_store *s, MDB_txn *t, const ct_event *ev, uint32_t local_day, uint64_t seq)
{
    uint8_t pk[CT_PERSON_KEY_LEN];
    ct_person_key(ev->program, ev->person, pk);
    MDB_val k = {sizeof pk, pk}, v;
    ct_person_state prior, next;
    const ct_person_state *pp = NULL;
    const ct_pslot *sl = pmap_find(&s->overlay, pk);
    if (!sl) sl = pmap_find(&s->dirty, pk);
    if (sl) {
        prior = sl->st;
        pp = &prior;
    } else {
        int rc = mdb_get(t, s->persons, &k, &v);
        if (rc == 0) {
            if (ct_person_state_decode(v.mv_data, v.mv_size, &prior) != CT_OK) return MDB_CORRUPTED;
            pp = &prior;
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    ct_tally_result res;
    memset(&next, 0, sizeof next);
    ct_tally_apply(ev, local_day, seq, pp, &next, &res);
    if (res.state_changed && pmap_set(&s->overlay, pk, &next)) return ENOMEM;
    for (size_t i = 0; i < res.n; i++)
        if (ct_counts_add(&s->delta, &res.changes[i].key, res.changes[i].delta) != CT_OK)
            return ENOMEM;
    return 0;
}

static int pslot_cmp(const void *a, const void *b)
{
    return memcmp((*(const ct_pslot *const *)a)->key, (*(const ct_pslot *const *)b)->key,
                  CT_PERSON_KEY_LEN);
}

/* Writes the states of m to "persons" in key order (locality). */
static int persons_write_map(ct_store *s, MDB_txn *t, const ct_pmap *m)
{
    if (!m->n) return 0;
    const ct_pslot **v = malloc(m->n * sizeof *v);
    if (!v) return ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used) v[k++] = &m->slots[i];
    qsort(v, k, sizeof *v, pslot_cmp);
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        uint8_t enc[CT_PERSON_STATE_MAX];
        size_t n = 0;
        if (ct_person_state_encode(&v[i]->st, enc, &n) != CT_OK) {
            rc = EINVAL;
            break;
        }
        MDB_val key = {CT_PERSON_KEY_LEN, (void *)v[i]->key}, val = {n, enc};
        rc = mdb_put(t, s->persons, &key, &val, 0);
    }
    free(v);
    return rc;
}

/* Writes dirty then overlay states and marks "persons" current up to seq. */
static int persons_checkpoint(ct_store *s, MDB_txn *t, uint64_t seq)
{
    int rc = persons_write_map(s, t, &s->dirty);
    if (!rc) rc = persons_write_map(s, t, &s->overlay);
    if (!rc) {
        uint8_t b[8];
        be64_put(b, seq);
        rc = meta_put(t, s->meta, "persons_seq", b, sizeof b);
    }
    return rc;
}

/* After a successful commit: either everything was written (checkpoint) or
 * the batch's states join the pending ones. */
static int persons_after_commit(ct_store *s, bool checkpointed)
{
    int rc = 0;
    if (checkpointed) {
        pmap_clear(&s->dirty);
    } else {
        if (!s->dirty.n && s->overlay.n) s->dirty_since_ms = ct_monotonic_ms();
        for (size_t i = 0; i < s->overlay.cap && !rc; i++)
            if (s->overlay.slots[i].used)
                rc = pmap_set(&s->dirty, s->overlay.slots[i].key, &s->overlay.slots[i].st);
    }
    pmap_clear(&s->overlay);
    return rc;
}

static bool checkpoint_due(const ct_store *s)
{
    size_t pending = s->dirty.n + s->overlay.n;
    if (!pending) return false;
    if (pending >= s->ckpt_max) return true;
    return s->dirty.n && ct_monotonic_ms() - s->dirty_since_ms >= s->ckpt_age_ms;
}

/* Appends the log record (computes its hash from *head, updates *head) and
 * registers its id. */
static int append_one(ct_store *s, MDB_txn *t, ct_logrec *r, uint8_t head[CT_LOGREC_HASH_LEN])
{
    ct_buf_reset(&s->rec);
    if (ct_logrec_encode(r, head, &s->rec) != CT_OK) return EINVAL;
    uint8_t kb[8];
    be64_put(kb, r->seq);
    MDB_val k = {8, kb}, v = {s->rec.len, s->rec.data};
    int rc = mdb_put(t, s->log, &k, &v, MDB_APPEND);
    if (rc) return rc;
    memcpy(head, r->hash, CT_LOGREC_HASH_LEN);
    return 0;
}

/* Registers id -> seq || idhash unless the id is already there: then returns
 * MDB_KEYEXIST and *existing points to the stored value (one B-tree search
 * for both the dedup check and the insert). */
static int ids_put(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN], uint64_t seq,
                   const uint8_t idhash[CT_IDHASH_LEN], MDB_val *existing)
{
    uint8_t ib[8 + CT_IDHASH_LEN];
    be64_put(ib, seq);
    memcpy(ib + 8, idhash, CT_IDHASH_LEN);
    MDB_val ik = {CT_EVENT_ID_LEN, (void *)id};
    existing->mv_size = sizeof ib;
    existing->mv_data = ib;
    return mdb_put(t, s->ids, &ik, existing, MDB_NOOVERWRITE);
}

/* Writes every counter in s->delta as old + delta; fills changed (absolute). */
static int flush_counts(ct_store *s, MDB_txn *t, ct_counts *changed)
{
    if (changed) ct_counts_clear(changed);
    for (size_t i = 0; i < s->delta.cap; i++) {
        const ct_counts_slot *sl = &s->delta.slots[i];
        if (!sl->used) continue;
        MDB_val k = {sl->key.len, (void *)sl->key.b}, v;
        int64_t old = 0;
        int rc = mdb_get(t, s->counts, &k, &v);
        if (rc == 0) {
            if (v.mv_size != 8) return MDB_CORRUPTED;
            old = (int64_t)be64_get(v.mv_data);
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
        int64_t nv = (int64_t)((uint64_t)old + (uint64_t)sl->value);
        uint8_t b[8];
        be64_put(b, (uint64_t)nv);
        MDB_val wv = {8, b};
        rc = mdb_put(t, s->counts, &k, &wv, 0);
        if (rc) return rc;
        if (changed && ct_counts_set(changed, &sl->key, nv) != CT_OK) return ENOMEM;
    }
    return 0;
}

/* Origin binding of one event (see ct_store_item.check_origin): *bound_other
 * = the origin is bound to another identity; *unbound = not bound at all. */
static int origin_lookup(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN],
                         const char *who, bool *bound_other, bool *unbound)
{
    MDB_val k = {CT_ORIGIN_LEN, (void *)id}, v;
    *bound_other = *unbound = false;
    int rc = mdb_get(t, s->origins, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *unbound = true;
        return 0;
    }
    if (rc) return rc;
    size_t n = strlen(who);
    *bound_other = v.mv_size != n || memcmp(v.mv_data, who, n) != 0;
    return 0;
}

static int origin_bind(ct_store *s, MDB_txn *t, const uint8_t id[CT_EVENT_ID_LEN], const char *who)
{
    MDB_val k = {CT_ORIGIN_LEN, (void *)id}, v = {strlen(who), (void *)who};
    int rc = mdb_put(t, s->origins, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc; /* bound earlier in this batch */
}

static void idhash_of(const uint8_t *raw, size_t len, uint8_t out[CT_IDHASH_LEN])
{
    crypto_generichash(out, CT_IDHASH_LEN, raw, len, NULL, 0);
}

/* Re-applies the person-state changes of log records persons_seq+1..head
 * (lost from memory by a crash) and writes them, in one transaction. Counts
 * are NOT touched: they were committed with their batches. */
static ct_err persons_replay(ct_store *s, char *err, size_t errlen)
{
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) {
        set_err(err, errlen, "%s: mdb_txn_begin: %s", s->dir, mdb_strerror(rc));
        return CT_ERR_LMDB;
    }
    uint64_t head_seq, from;
    uint8_t head[CT_LOGREC_HASH_LEN];
    MDB_val v;
    rc = head_read(t, s->meta, &head_seq, head);
    if (!rc) rc = meta_get(t, s->meta, "persons_seq", &v);
    if (rc == MDB_NOTFOUND || (!rc && (v.mv_size != 8 || be64_get(v.mv_data) >= head_seq))) {
        mdb_txn_abort(t); /* current (or a store from before checkpoints) */
        return CT_OK;
    }
    if (rc) {
        mdb_txn_abort(t);
        set_err(err, errlen, "%s: reading meta: %s", s->dir, mdb_strerror(rc));
        return CT_ERR_LMDB;
    }
    from = be64_get(v.mv_data) + 1;
    if (!s->campaign) {
        mdb_txn_abort(t); /* done by ct_store_set_campaign() */
        s->replay_due = true;
        return CT_OK;
    }
    MDB_cursor *c = NULL;
    rc = mdb_cursor_open(t, s->log, &c);
    uint8_t kb[8];
    be64_put(kb, from);
    MDB_val k = {8, kb};
    int g = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    ct_counts_clear(&s->delta);
    uint64_t n = 0;
    ct_err result = CT_OK;
    while (!rc && g == 0) {
        ct_logrec rec;
        ct_event ev;
        if (k.mv_size != 8 || ct_logrec_decode(v.mv_data, v.mv_size, &rec) != CT_OK ||
            rec.seq != be64_get(k.mv_data) ||
            ct_event_decode(rec.event, rec.event_len, &ev, NULL) != CT_OK) {
            result = CT_ERR_STORE_CORRUPT;
            set_err(err, errlen, "%s: %s", s->dir, "undecodable log record during replay");
            break;
        }
        rc = tally_one(s, t, &ev, ct_campaign_local_day(s->campaign, ev.occurred_ms), rec.seq);
        if (rc) break;
        n++;
        g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (!rc && g != 0 && g != MDB_NOTFOUND) rc = g;
    if (!rc && !result) {
        mdb_cursor_close(c);
        c = NULL;
        rc = persons_checkpoint(s, t, head_seq);
    }
    if (c) mdb_cursor_close(c);
    ct_counts_clear(&s->delta);
    if (rc || result) {
        mdb_txn_abort(t);
        pmap_clear(&s->overlay);
        if (!result) {
            set_err(err, errlen, "%s: person-state replay: %s", s->dir, mdb_strerror(rc));
            result = map_rc(rc) == CT_ERR_MAP_FULL ? CT_ERR_MAP_FULL : CT_ERR_LMDB;
        }
        return result;
    }
    rc = mdb_txn_commit(t);
    pmap_clear(&s->overlay);
    if (rc) {
        set_err(err, errlen, "%s: person-state replay commit: %s", s->dir, mdb_strerror(rc));
        return CT_ERR_LMDB;
    }
    ct_log(CT_LOG_INFO, "person states replayed from the log", "records=%llu from_seq=%llu",
           (unsigned long long)n, (unsigned long long)from);
    return CT_OK;
}

ct_err ct_store_apply_batch(ct_store *s, ct_store_item *items, size_t n, ct_store_commit *out)
{
    if (!s || s->read_only || s->imp_txn) return CT_ERR_ARG;
    if (s->replay_due) return CT_ERR_ARG; /* ct_store_set_campaign() first */
    MDB_txn *t = NULL;
    s->last_err[0] = '\0';
    ct_err r = txn_begin(s, 0, &t);
    int rc = 0;
    uint64_t seq0 = 0, seq;
    uint8_t head[CT_LOGREC_HASH_LEN], head0[CT_LOGREC_HASH_LEN];
    if (r) goto fail;
    if (s->replay_due) {
        /* txn_begin reopened the environment (after MDB_PANIC) and the
         * person-state replay that needs now waits for the campaign: a batch
         * tallied on stale states would count wrongly */
        snprintf(s->last_err, sizeof s->last_err, "%s",
                 "person-state replay pending (ct_store_set_campaign first)");
        r = CT_ERR_ARG;
        goto fail;
    }
    rc = head_read(t, s->meta, &seq0, head);
    if (rc) goto fail_rc;
    memcpy(head0, head, CT_LOGREC_HASH_LEN);
    seq = seq0;
    int64_t rx = s->last_received_ms;
    ct_counts_clear(&s->delta);
    for (size_t i = 0; i < n; i++) {
        ct_store_item *it = &items[i];
        const ct_event *ev = it->ev;
        uint8_t h[CT_IDHASH_LEN];
        idhash_of(it->raw, it->raw_len, h);
        MDB_val iv;
        bool bind = false;
        if (it->check_origin && it->collector && it->collector[0]) {
            bool other;
            rc = origin_lookup(s, t, ev->id, it->collector, &other, &bind);
            if (rc) goto fail_rc;
            if (other) {
                /* the identical event already in the log stays a duplicate */
                MDB_val ik = {CT_EVENT_ID_LEN, (void *)ev->id};
                rc = mdb_get(t, s->ids, &ik, &iv);
                if (rc && rc != MDB_NOTFOUND) goto fail_rc;
                if (rc == 0 && iv.mv_size == 8 + CT_IDHASH_LEN &&
                    memcmp((const uint8_t *)iv.mv_data + 8, h, CT_IDHASH_LEN) == 0) {
                    it->seq = be64_get(iv.mv_data);
                    it->status = CT_ACK_DUPLICATE;
                    it->code = CT_OK;
                } else {
                    it->seq = 0;
                    it->status = CT_ACK_REJECTED;
                    it->code = CT_ERR_FORBIDDEN;
                }
                rc = 0;
                continue;
            }
        }
        rc = ids_put(s, t, ev->id, seq + 1, h, &iv);
        if (rc == MDB_KEYEXIST) {
            if (iv.mv_size != 8 + CT_IDHASH_LEN) {
                rc = MDB_CORRUPTED;
                goto fail_rc;
            }
            it->seq = be64_get(iv.mv_data);
            if (memcmp((const uint8_t *)iv.mv_data + 8, h, CT_IDHASH_LEN) == 0) {
                it->status = CT_ACK_DUPLICATE;
                it->code = CT_OK;
            } else {
                it->status = CT_ACK_REJECTED;
                it->code = CT_ERR_CONFLICT;
            }
            continue;
        }
        if (rc) goto fail_rc;
        ct_logrec lr;
        memset(&lr, 0, sizeof lr);
        lr.seq = seq + 1;
        lr.received_ms = it->received_ms > rx ? it->received_ms : rx; /* non-decreasing */
        rx = lr.received_ms;
        snprintf(lr.collector, sizeof lr.collector, "%s", it->collector ? it->collector : "");
        lr.event = it->raw;
        lr.event_len = it->raw_len;
        rc = append_one(s, t, &lr, head);
        if (rc) goto fail_rc;
        rc = tally_one(s, t, ev, it->local_day, lr.seq);
        if (rc) goto fail_rc;
        if (bind && (rc = origin_bind(s, t, ev->id, it->collector))) goto fail_rc;
        seq = lr.seq;
        it->status = CT_ACK_ACCEPTED;
        it->code = CT_OK;
        it->seq = seq;
    }
    rc = flush_counts(s, t, out ? out->changed : NULL);
    if (rc) goto fail_rc;
    if (seq != seq0) {
        rc = head_write(t, s->meta, seq, head);
        if (rc) goto fail_rc;
    }
    bool ckpt = checkpoint_due(s);
    if (ckpt) {
        rc = persons_checkpoint(s, t, seq);
        if (rc) goto fail_rc;
    }
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) goto fail_rc;
    s->last_received_ms = rx;
    if (persons_after_commit(s, ckpt)) {
        /* out of memory merging states: the store is consistent (the log is
         * the truth) but this handle's view is not; force a replay */
        s->need_reopen = true;
    }
    if (out) {
        out->seq_before = seq0;
        out->seq_after = seq;
        memcpy(out->head, head, CT_LOGREC_HASH_LEN);
        memcpy(out->head_before, head0, CT_LOGREC_HASH_LEN);
    }
    return CT_OK;
fail_rc:
    r = map_rc(rc);
    snprintf(s->last_err, sizeof s->last_err, "%s (%d)", mdb_strerror(rc), rc);
    if (rc == MDB_PANIC) s->need_reopen = true;
    if (r == CT_OK || r == CT_ERR_NOT_FOUND) r = CT_ERR_STORE_UNAVAILABLE;
fail:
    if (t) mdb_txn_abort(t);
    pmap_clear(&s->overlay); /* the batch's states are gone with it */
    if (r != CT_OK && !s->last_err[0])
        snprintf(s->last_err, sizeof s->last_err, "%s", ct_err_str(r));
    for (size_t i = 0; i < n; i++) {
        items[i].status = CT_ACK_RETRY;
        items[i].code = CT_ERR_STORE_UNAVAILABLE;
        items[i].seq = 0;
    }
    if (out && out->changed) ct_counts_clear(out->changed);
    return r;
}

const char *ct_store_last_error(const ct_store *s)
{
    return s ? s->last_err : "";
}

/* ---- readers ---------------------------------------------------------- */

ct_err ct_store_head(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    int rc = head_read(t, s->meta, seq, head);
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_read_counts(ct_store *s, ct_counts *out, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    ct_counts_clear(out);
    uint64_t sq = 0;
    uint8_t hd[CT_LOGREC_HASH_LEN];
    int rc = head_read(t, s->meta, &sq, hd);
    MDB_cursor *c = NULL;
    if (!rc) rc = mdb_cursor_open(t, s->counts, &c);
    if (!rc) {
        MDB_val k, v;
        int g = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        while (g == 0) {
            ct_count_key key;
            if (v.mv_size != 8 || ct_count_key_parse(k.mv_data, k.mv_size, &key) != CT_OK) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (ct_counts_set(out, &key, (int64_t)be64_get(v.mv_data)) != CT_OK) {
                rc = ENOMEM;
                break;
            }
            g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (!rc && g != MDB_NOTFOUND) rc = g;
        mdb_cursor_close(c);
    }
    mdb_txn_abort(t);
    if (rc) return map_rc(rc);
    if (seq) *seq = sq;
    if (head) memcpy(head, hd, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

ct_err ct_store_log_scan(ct_store *s, uint64_t from_seq, uint64_t to_seq, ct_store_log_cb cb,
                         void *arg, uint64_t *bad_seq)
{
    if (bad_seq) *bad_seq = 0;
    if (from_seq == 0) from_seq = 1;
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    if (to_seq == 0) {
        uint8_t hd[CT_LOGREC_HASH_LEN];
        int rc = head_read(t, s->meta, &to_seq, hd);
        if (rc) {
            mdb_txn_abort(t);
            return map_rc(rc);
        }
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, s->log, &c);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    uint64_t next = from_seq;
    unsigned since_renew = 0;
    ct_err result = CT_OK;
    uint8_t kb[8];
    be64_put(kb, next);
    MDB_val k = {8, kb}, v;
    int g = next <= to_seq ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
    while (g == 0) {
        if (k.mv_size != 8) {
            if (bad_seq) *bad_seq = next;
            result = CT_ERR_STORE_CORRUPT;
            break;
        }
        uint64_t key = be64_get(k.mv_data);
        if (key > to_seq) break;
        ct_logrec rec;
        if (ct_logrec_decode(v.mv_data, v.mv_size, &rec) != CT_OK || rec.seq != key) {
            if (bad_seq) *bad_seq = key;
            result = CT_ERR_STORE_CORRUPT;
            break;
        }
        int cr = cb(&rec, v.mv_data, v.mv_size, arg);
        if (cr != 0) {
            result = ct_err_known(cr) ? (ct_err)cr : CT_ERR_INTERNAL;
            break;
        }
        next = key + 1;
        if (next > to_seq) break;
        if (++since_renew >= CT_SCAN_RENEW) {
            since_renew = 0;
            mdb_txn_reset(t);
            rc = mdb_txn_renew(t);
            if (!rc) rc = mdb_cursor_renew(t, c);
            if (rc) {
                result = map_rc(rc);
                break;
            }
            be64_put(kb, next);
            k.mv_size = 8;
            k.mv_data = kb;
            g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        } else {
            g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    if (result == CT_OK && g != 0 && g != MDB_NOTFOUND) result = map_rc(g);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    return result;
}

ct_err ct_store_find_id(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], uint64_t *seq)
{
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val k = {CT_EVENT_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t, s->ids, &k, &v);
    *seq = 0;
    if (rc == 0) {
        if (v.mv_size == 8 + CT_IDHASH_LEN)
            *seq = be64_get(v.mv_data);
        else
            rc = MDB_CORRUPTED;
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_fingerprint(ct_store *s, uint8_t out[32])
{
    if (!s) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val v;
    int rc = meta_get(t, s->meta, "fingerprint", &v);
    if (rc == 0 && v.mv_size != 32) rc = MDB_CORRUPTED;
    if (rc == 0) memcpy(out, v.mv_data, 32);
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_find_event(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], const uint8_t *raw,
                           size_t raw_len, uint64_t *seq)
{
    *seq = 0;
    if (!s || !raw) return CT_ERR_ARG;
    uint8_t h[CT_IDHASH_LEN];
    idhash_of(raw, raw_len, h);
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val k = {CT_EVENT_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t, s->ids, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 8 + CT_IDHASH_LEN)
            rc = MDB_CORRUPTED;
        else if (memcmp((const uint8_t *)v.mv_data + 8, h, CT_IDHASH_LEN) == 0)
            *seq = be64_get(v.mv_data);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_txn_abort(t);
    return map_rc(rc);
}

/* ---- import (chitieu-audit rebuild) ------------------------------------ */

ct_err ct_store_import_begin(ct_store *s)
{
    if (!s || s->read_only || s->imp_txn || s->replay_due) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = txn_begin(s, 0, &t);
    if (r) return r;
    if (s->replay_due) { /* set again by a reopen inside txn_begin */
        mdb_txn_abort(t);
        return CT_ERR_ARG;
    }
    int rc = head_read(t, s->meta, &s->imp_seq, s->imp_head);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    ct_counts_clear(&s->delta);
    s->imp_last_received_ms = s->last_received_ms;
    s->imp_txn = t;
    return CT_OK;
}

ct_err ct_store_import_record(ct_store *s, const ct_logrec *rec, const ct_campaign *c)
{
    if (!s || !s->imp_txn || !rec || !c) return CT_ERR_ARG;
    if (rec->seq != s->imp_seq + 1) return CT_ERR_CHAIN;
    ct_err r = ct_logrec_check(rec, s->imp_head);
    if (r) return r;
    ct_event ev;
    r = ct_event_decode(rec->event, rec->event_len, &ev, NULL);
    if (r) return CT_ERR_STORE_CORRUPT;
    if (s->campaign_id[0] && strcmp(ev.campaign, s->campaign_id) != 0) return CT_ERR_WRONG_CAMPAIGN;
    MDB_txn *t = s->imp_txn;
    uint8_t h[CT_IDHASH_LEN];
    idhash_of(rec->event, rec->event_len, h);
    MDB_val iv;
    int rc = ids_put(s, t, ev.id, rec->seq, h, &iv);
    if (rc == MDB_KEYEXIST) return CT_ERR_CONFLICT; /* a valid log never holds an id twice */
    if (rc) return map_rc(rc);
    ct_logrec copy = *rec;
    uint8_t head[CT_LOGREC_HASH_LEN];
    memcpy(head, s->imp_head, sizeof head);
    rc = append_one(s, t, &copy, head);
    if (rc) return map_rc(rc);
    if (memcmp(copy.hash, rec->hash, CT_LOGREC_HASH_LEN) != 0) return CT_ERR_CHAIN;
    rc = tally_one(s, t, &ev, ct_campaign_local_day(c, ev.occurred_ms), rec->seq);
    if (rc) return map_rc(rc);
    s->imp_seq = rec->seq;
    memcpy(s->imp_head, head, sizeof head);
    if (rec->received_ms > s->imp_last_received_ms) s->imp_last_received_ms = rec->received_ms;
    return CT_OK;
}

ct_err ct_store_import_commit(ct_store *s)
{
    if (!s || !s->imp_txn) return CT_ERR_ARG;
    MDB_txn *t = s->imp_txn;
    s->imp_txn = NULL;
    int rc = flush_counts(s, t, NULL);
    if (!rc) rc = head_write(t, s->meta, s->imp_seq, s->imp_head);
    if (!rc) rc = persons_checkpoint(s, t, s->imp_seq);
    if (rc) {
        mdb_txn_abort(t);
        pmap_clear(&s->overlay);
        ct_counts_clear(&s->delta);
        return map_rc(rc);
    }
    rc = mdb_txn_commit(t);
    if (rc == MDB_PANIC) s->need_reopen = true;
    if (rc == 0) {
        persons_after_commit(s, true);
        s->last_received_ms = s->imp_last_received_ms;
    }
    pmap_clear(&s->overlay);
    ct_counts_clear(&s->delta);
    return map_rc(rc);
}

void ct_store_import_abort(ct_store *s)
{
    if (!s || !s->imp_txn) return;
    mdb_txn_abort(s->imp_txn);
    s->imp_txn = NULL;
    pmap_clear(&s->overlay);
    ct_counts_clear(&s->delta);
}

/* ---- ids scan (chitieu-audit verify; added by the audit module) --------- */

ct_err ct_store_ids_scan(ct_store *s, ct_store_ids_cb cb, void *arg)
{
    MDB_txn *t;
    ct_err r = txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, s->ids, &c);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    ct_err result = CT_OK;
    unsigned since_renew = 0;
    uint8_t last[CT_EVENT_ID_LEN];
    MDB_val k, v;
    int g = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (g == 0) {
        if (k.mv_size != CT_EVENT_ID_LEN || v.mv_size != 8 + CT_IDHASH_LEN) {
            result = CT_ERR_STORE_CORRUPT;
            break;
        }
        memcpy(last, k.mv_data, CT_EVENT_ID_LEN);
        const uint8_t *vb = v.mv_data;
        int cr = cb(last, be64_get(vb), vb + 8, arg);
        if (cr != 0) {
            result = ct_err_known(cr) ? (ct_err)cr : CT_ERR_INTERNAL;
            break;
        }
        if (++since_renew >= CT_SCAN_RENEW) { /* short read transactions */
            since_renew = 0;
            mdb_txn_reset(t);
            rc = mdb_txn_renew(t);
            if (!rc) rc = mdb_cursor_renew(t, c);
            if (rc) {
                result = map_rc(rc);
                break;
            }
            k.mv_size = CT_EVENT_ID_LEN;
            k.mv_data = last;
            g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            if (g == 0 && k.mv_size == CT_EVENT_ID_LEN &&
                memcmp(k.mv_data, last, CT_EVENT_ID_LEN) == 0)
                g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        } else {
            g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    if (result == CT_OK && g != 0 && g != MDB_NOTFOUND) result = map_rc(g);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    return result;
}
