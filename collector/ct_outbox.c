/* ct_outbox.c — the collector's durable LMDB outbox (see ct_outbox.h).
 *
 * Invariants: one MDB_env per handle, opened with default (durable) flags;
 * every write goes through one write transaction that is either committed
 * (fsynced by LMDB) or aborted; counters live in the same transaction as the
 * entries they count. A ct_outbox_txn owns its MDB_txn until commit/abort.
 */
#include "ct_outbox.h"
#include "ct_outbox_int.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_be.h"
#include "ct_buf.h"
#include "ct_life.h"

#define CT_OUTBOX_VERSION 1
#define ORIGIN_REC (8 + CT_ORIGIN_LEN) /* one "origins_old" entry */

ct_err ct_outbox_lmdb_fail(ct_outbox *ob, int rc, const char *what)
{
    snprintf(ob->errmsg, sizeof ob->errmsg, "%s: %s", what, mdb_strerror(rc));
    if (rc == MDB_MAP_FULL) return CT_ERR_MAP_FULL;
    if (rc == ENOSPC) return CT_ERR_DISK_FULL;
    if (rc == ENOMEM) return CT_ERR_NOMEM;
    return CT_ERR_LMDB;
}

/* Begins a transaction (flags 0 or MDB_RDONLY) and opens a cursor on dbi. On
 * failure nothing is left open. */
ct_err ct_outbox_txn_cursor(ct_outbox *ob, unsigned flags, MDB_dbi dbi, MDB_txn **txn,
                            MDB_cursor **cur)
{
    int rc = mdb_txn_begin(ob->env, NULL, flags, txn);
    if (rc != 0)
        return ct_outbox_lmdb_fail(ob, rc,
                                   flags & MDB_RDONLY ? "read transaction" : "write transaction");
    rc = mdb_cursor_open(*txn, dbi, cur);
    if (rc != 0) {
        mdb_txn_abort(*txn);
        return ct_outbox_lmdb_fail(ob, rc, "cursor");
    }
    return CT_OK;
}

const char *ct_outbox_errmsg(const ct_outbox *ob)
{
    return ob ? ob->errmsg : "";
}

/* mkdir -p of the parents (0755, umask applies); the outbox itself is 0700. */
static void make_parents(const char *dir)
{
    char tmp[CT_OUTBOX_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp) return;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
}

ct_err ct_outbox_open(const char *dir, size_t map_size, ct_outbox **out, char *err, size_t errlen)
{
    *out = NULL;
    make_parents(dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create outbox directory: %s", dir, strerror(errno));
        return CT_ERR_IO;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return CT_ERR_IO;
    }
    ct_outbox *ob = calloc(1, sizeof *ob);
    if (!ob) return CT_ERR_NOMEM;
    int rc = mdb_env_create(&ob->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(ob->env, 8);
    if (rc == 0) rc = mdb_env_set_mapsize(ob->env, map_size ? map_size : CT_OUTBOX_DEFAULT_MAP);
    if (rc == 0) rc = mdb_env_open(ob->env, dir, 0, 0600);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open outbox: %s", dir, mdb_strerror(rc));
        if (ob->env) mdb_env_close(ob->env);
        free(ob);
        return CT_ERR_LMDB;
    }
    int dead = 0;
    mdb_reader_check(ob->env, &dead);
    MDB_txn *txn = NULL;
    rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ob->meta);
    if (rc == 0) rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &ob->outbox);
    if (rc == 0) rc = mdb_dbi_open(txn, "rejected", MDB_CREATE, &ob->rejected);
    if (rc == 0) rc = mdb_dbi_open(txn, "imports", MDB_CREATE, &ob->imports);
    if (rc == 0) rc = mdb_dbi_open(txn, "committed", MDB_CREATE, &ob->committed);
    if (rc == 0) rc = mdb_dbi_open(txn, "notes", MDB_CREATE, &ob->notes);
    if (rc == 0) rc = mdb_dbi_open(txn, "acked", MDB_CREATE, &ob->acked);
    if (rc == 0) rc = mdb_dbi_open(txn, "life", MDB_CREATE, &ob->life);
    if (rc == 0) {
        /* version check / stamp */
        MDB_val k = {7, (void *)"version"}, v;
        int g = mdb_get(txn, ob->meta, &k, &v);
        if (g == MDB_NOTFOUND) {
            uint8_t b[4];
            ct_be32_put(b, CT_OUTBOX_VERSION);
            MDB_val nv = {4, b};
            rc = mdb_put(txn, ob->meta, &k, &nv, 0);
        } else if (g != 0) {
            rc = g;
        } else if (v.mv_size != 4 || ct_be32_get(v.mv_data) != CT_OUTBOX_VERSION) {
            mdb_txn_abort(txn);
            snprintf(err, errlen, "%s: outbox format version is not %d", dir, CT_OUTBOX_VERSION);
            mdb_env_close(ob->env);
            free(ob);
            return CT_ERR_CONFIG;
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    } else if (txn) {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open outbox databases: %s", dir, mdb_strerror(rc));
        mdb_env_close(ob->env);
        free(ob);
        return rc == MDB_MAP_FULL ? CT_ERR_MAP_FULL : CT_ERR_LMDB;
    }
    *out = ob;
    return CT_OK;
}

void ct_outbox_close(ct_outbox *ob)
{
    if (!ob) return;
    mdb_env_close(ob->env);
    free(ob);
}

/* meta helpers (inside txn) */
static int meta_get(MDB_txn *txn, ct_outbox *ob, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, ob->meta, &k, v);
}

static int meta_put(MDB_txn *txn, ct_outbox *ob, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {len, (void *)val};
    return mdb_put(txn, ob->meta, &k, &v, 0);
}

int ct_outbox_meta_get_u64(MDB_txn *txn, ct_outbox *ob, const char *key, uint64_t *out)
{
    MDB_val v;
    int rc = meta_get(txn, ob, key, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc != 0) return rc;
    if (v.mv_size != 8) return MDB_CORRUPTED;
    *out = ct_be64_get(v.mv_data);
    return 0;
}

int ct_outbox_meta_put_u64(MDB_txn *txn, ct_outbox *ob, const char *key, uint64_t val)
{
    uint8_t b[8];
    ct_be64_put(b, val);
    return meta_put(txn, ob, key, b, 8);
}

/* A stored string becomes a C string only whole: one that does not fit or
 * holds a NUL byte is a damaged record, never a shorter value. */
static int copy_str(char *dst, size_t cap, const MDB_val *v)
{
    if (v->mv_size >= cap || memchr(v->mv_data, 0, v->mv_size)) return MDB_CORRUPTED;
    memcpy(dst, v->mv_data, v->mv_size);
    dst[v->mv_size] = 0;
    return 0;
}

/* The origin history: "origins_old" holds (first seq u64 BE, origin) pairs
 * of the origins before the current one, oldest first; "origin_from" the
 * first seq of the current one (absent: 1). */
static int read_origins(MDB_txn *txn, ct_outbox *ob, ct_outbox_info *info)
{
    info->n_origins = 0;
    if (!info->initialised) return 0;
    MDB_val v;
    int rc = meta_get(txn, ob, "origins_old", &v);
    if (rc == 0) {
        if (v.mv_size % ORIGIN_REC != 0 || v.mv_size / ORIGIN_REC >= CT_OUTBOX_ORIGINS_MAX)
            return MDB_CORRUPTED;
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < v.mv_size / ORIGIN_REC; i++) {
            info->origins[i].first_seq = ct_be64_get(p + i * ORIGIN_REC);
            memcpy(info->origins[i].origin, p + i * ORIGIN_REC + 8, CT_ORIGIN_LEN);
        }
        info->n_origins = v.mv_size / ORIGIN_REC;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    uint64_t from = 0;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "origin_from", &from)) != 0) return rc;
    info->origins[info->n_origins].first_seq = from ? from : 1;
    memcpy(info->origins[info->n_origins].origin, info->origin, CT_ORIGIN_LEN);
    info->n_origins++;
    for (size_t i = 1; i < info->n_origins; i++)
        if (info->origins[i].first_seq <= info->origins[i - 1].first_seq) return MDB_CORRUPTED;
    return 0;
}

static int read_info(MDB_txn *txn, ct_outbox *ob, ct_outbox_info *info)
{
    memset(info, 0, sizeof *info);
    MDB_val v;
    int rc = meta_get(txn, ob, "origin", &v);
    if (rc == 0 && v.mv_size == CT_ORIGIN_LEN) {
        memcpy(info->origin, v.mv_data, CT_ORIGIN_LEN);
        info->initialised = true;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (meta_get(txn, ob, "district", &v) == 0 && v.mv_size == 4)
        info->district = ct_be32_get(v.mv_data);
    if (meta_get(txn, ob, "campaign", &v) == 0 &&
        (rc = copy_str(info->campaign_id, sizeof info->campaign_id, &v)) != 0)
        return rc;
    if (meta_get(txn, ob, "campaign_path", &v) == 0 &&
        (rc = copy_str(info->campaign_path, sizeof info->campaign_path, &v)) != 0)
        return rc;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "next_seq", &info->next_seq)) != 0) return rc;
    if (info->next_seq == 0) info->next_seq = 1;
    if ((rc = read_origins(txn, ob, info)) != 0) return rc;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "reissued", &info->reissued)) != 0) return rc;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "delivered", &info->delivered)) != 0) return rc;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &info->rejected)) != 0) return rc;
    uint64_t la = 0;
    if ((rc = ct_outbox_meta_get_u64(txn, ob, "last_ack", &la)) != 0) return rc;
    info->last_ack_ms = (int64_t)la;
    MDB_stat st;
    if ((rc = mdb_stat(txn, ob->outbox, &st)) != 0) return rc;
    info->queued = st.ms_entries;
    if ((rc = mdb_stat(txn, ob->rejected, &st)) != 0) return rc;
    info->rejected_entries = st.ms_entries;
    if ((rc = mdb_stat(txn, ob->imports, &st)) != 0) return rc;
    info->imports = st.ms_entries;
    if ((rc = mdb_stat(txn, ob->committed, &st)) != 0) return rc;
    info->committed = st.ms_entries;
    return 0;
}

ct_err ct_outbox_get_info(ct_outbox *ob, ct_outbox_info *info)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "read transaction");
    rc = read_info(txn, ob, info);
    mdb_txn_abort(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "reading outbox meta");
    return CT_OK;
}

ct_err ct_outbox_init(ct_outbox *ob, uint32_t district, const char *campaign_id,
                      const char *campaign_path, char *err, size_t errlen)
{
    if (sodium_init() < 0) return CT_ERR_INTERNAL;
    if (campaign_path && strlen(campaign_path) >= CT_OUTBOX_PATH_MAX) {
        snprintf(err, errlen, "campaign path is longer than %d bytes: %.60s...",
                 CT_OUTBOX_PATH_MAX - 1, campaign_path);
        return CT_ERR_CONFIG;
    }
    if (strlen(campaign_id) > CT_CAMPAIGN_ID_MAX) {
        snprintf(err, errlen, "campaign id is longer than %d bytes", CT_CAMPAIGN_ID_MAX);
        return CT_ERR_CONFIG;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) {
        ct_err e = ct_outbox_lmdb_fail(ob, rc, "write transaction");
        snprintf(err, errlen, "%s", ob->errmsg);
        return e;
    }
    ct_outbox_info info;
    rc = read_info(txn, ob, &info);
    if (rc == 0 && info.initialised) {
        if (info.district != district) {
            mdb_txn_abort(txn);
            snprintf(err, errlen,
                     "this outbox belongs to district %u, not %u (use another --outbox)",
                     info.district, district);
            return CT_ERR_CONFIG;
        }
        if (strcmp(info.campaign_id, campaign_id) != 0) {
            mdb_txn_abort(txn);
            snprintf(err, errlen, "this outbox belongs to campaign '%s', not '%s'",
                     info.campaign_id, campaign_id);
            return CT_ERR_CONFIG;
        }
        if (campaign_path && strcmp(campaign_path, info.campaign_path) != 0)
            rc = meta_put(txn, ob, "campaign_path", campaign_path, strlen(campaign_path));
    } else if (rc == 0) {
        uint8_t origin[CT_ORIGIN_LEN];
        randombytes_buf(origin, sizeof origin);
        uint8_t d[4];
        ct_be32_put(d, district);
        rc = meta_put(txn, ob, "origin", origin, sizeof origin);
        if (rc == 0) rc = meta_put(txn, ob, "district", d, 4);
        if (rc == 0) rc = meta_put(txn, ob, "campaign", campaign_id, strlen(campaign_id));
        if (rc == 0 && campaign_path)
            rc = meta_put(txn, ob, "campaign_path", campaign_path, strlen(campaign_path));
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "next_seq", 1);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        ct_err e = ct_outbox_lmdb_fail(ob, rc, "initialising outbox");
        snprintf(err, errlen, "%s", ob->errmsg);
        return e;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        ct_err e = ct_outbox_lmdb_fail(ob, rc, "commit");
        snprintf(err, errlen, "%s", ob->errmsg);
        return e;
    }
    return CT_OK;
}

ct_err ct_outbox_begin(ct_outbox *ob, ct_outbox_txn **out)
{
    *out = NULL;
    ct_outbox_txn *t = calloc(1, sizeof *t);
    if (!t) return CT_ERR_NOMEM;
    t->ob = ob;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &t->txn);
    if (rc != 0) {
        free(t);
        return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    }
    MDB_val v;
    rc = meta_get(t->txn, ob, "origin", &v);
    if (rc != 0 || v.mv_size != CT_ORIGIN_LEN) {
        mdb_txn_abort(t->txn);
        free(t);
        snprintf(ob->errmsg, sizeof ob->errmsg, "outbox not initialised (run init first)");
        return CT_ERR_CONFIG;
    }
    memcpy(t->origin, v.mv_data, CT_ORIGIN_LEN);
    rc = ct_outbox_meta_get_u64(t->txn, ob, "next_seq", &t->next_seq);
    if (rc != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        return ct_outbox_lmdb_fail(ob, rc, "reading next_seq");
    }
    if (t->next_seq == 0) t->next_seq = 1;
    t->first_seq = t->next_seq;
    *out = t;
    return CT_OK;
}

ct_err ct_outbox_idem_seen(ct_outbox_txn *t, const uint8_t *idem, bool *seen, uint64_t *seq)
{
    MDB_val k = {CT_OUTBOX_IDEM_LEN, (void *)idem}, v;
    int rc = mdb_get(t->txn, t->ob->imports, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *seen = false;
        return CT_OK;
    }
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "reading imports");
    *seen = true;
    if (seq) *seq = v.mv_size == 8 ? ct_be64_get(v.mv_data) : 0;
    return CT_OK;
}

ct_err ct_outbox_queue_encoded(ct_outbox_txn *t, uint8_t id[CT_EVENT_ID_LEN],
                               ct_err (*encode)(const void *obj, ct_buf *out), const void *obj,
                               const uint8_t *idem, const char *what, bool *queued, uint64_t *seq)
{
    if (queued) *queued = false;
    if (idem) {
        bool seen;
        uint64_t old = 0;
        ct_err e = ct_outbox_idem_seen(t, idem, &seen, &old);
        if (e != CT_OK) return e;
        if (seen) {
            if (seq) *seq = old;
            return CT_OK;
        }
    }
    uint64_t s = t->next_seq;
    ct_event_id_make(id, t->origin, s);
    ct_buf_reset(&t->buf);
    ct_err e = encode(obj, &t->buf);
    if (e != CT_OK) return e;
    uint8_t kb[8];
    ct_be64_put(kb, s);
    MDB_val k = {8, kb}, v = {t->buf.len, t->buf.data};
    int rc = mdb_put(t->txn, t->ob->outbox, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(t->txn, t->ob->outbox, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, what);
    if (idem) {
        MDB_val ik = {CT_OUTBOX_IDEM_LEN, (void *)idem}, iv = {8, kb};
        rc = mdb_put(t->txn, t->ob->imports, &ik, &iv, 0);
        if (rc != 0) return ct_outbox_lmdb_fail(t->ob, rc, "storing idempotency key");
    }
    t->next_seq = s + 1;
    if (queued) *queued = true;
    if (seq) *seq = s;
    return CT_OK;
}

static ct_err encode_event(const void *ev, ct_buf *out)
{
    return ct_event_encode(ev, out);
}

ct_err ct_outbox_queue(ct_outbox_txn *t, ct_event *ev, const uint8_t *idem, bool *queued,
                       uint64_t *seq)
{
    return ct_outbox_queue_encoded(t, ev->id, encode_event, ev, idem, "storing event", queued, seq);
}

ct_err ct_outbox_commit(ct_outbox_txn *t)
{
    ct_outbox *ob = t->ob;
    int rc = 0;
    if (t->next_seq != t->first_seq)
        rc = ct_outbox_meta_put_u64(t->txn, ob, "next_seq", t->next_seq);
    if (rc != 0) {
        mdb_txn_abort(t->txn);
    } else {
        rc = mdb_txn_commit(t->txn);
    }
    ct_buf_free(&t->buf);
    free(t);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    return CT_OK;
}

void ct_outbox_abort(ct_outbox_txn *t)
{
    if (!t) return;
    mdb_txn_abort(t->txn);
    ct_buf_free(&t->buf);
    free(t);
}

static ct_err scan(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn, void *ctx,
                   bool skip_marked, uint64_t *next_from)
{
    if (next_from) *next_from = from;
    if (max == 0) return CT_OK;
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->outbox, &txn, &cur);
    if (e0) return e0;
    int rc;
    uint8_t kb[8];
    ct_be64_put(kb, from);
    MDB_val k = {8, kb}, v;
    ct_err e = CT_OK;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        MDB_val mv;
        int m = skip_marked ? mdb_get(txn, ob->committed, &k, &mv) : MDB_NOTFOUND;
        if (m != 0 && m != MDB_NOTFOUND) {
            rc = m;
            break;
        }
        if (m == MDB_NOTFOUND) { /* marked events are not sent again */
            e = fn(ctx, ct_be64_get(k.mv_data), v.mv_data, v.mv_size);
            if (e != CT_OK) break;
            n++;
        }
        if (next_from) *next_from = ct_be64_get(k.mv_data) + 1;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "scanning outbox");
    return CT_OK;
}

ct_err ct_outbox_scan(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn, void *ctx)
{
    return scan(ob, from, max, fn, ctx, false, NULL);
}

ct_err ct_outbox_scan_unsent(ct_outbox *ob, uint64_t from, size_t max, ct_outbox_scan_fn fn,
                             void *ctx, uint64_t *next_from)
{
    return scan(ob, from, max, fn, ctx, true, next_from);
}

ct_err ct_outbox_settle(ct_outbox *ob, const ct_outbox_settle_item *items, size_t n, int64_t now_ms,
                        size_t *n_delivered, size_t *n_rejected)
{
    if (n == 0) {
        if (n_delivered) *n_delivered = 0;
        if (n_rejected) *n_rejected = 0;
        return CT_OK;
    }
    return ct_outbox_settle_ex(ob, items, NULL, n, 0, now_ms, n_delivered, n_rejected);
}

/* Deletes every marked event with q <= safe (from "committed" and
 * "outbox"); *nd += how many. */
static int sweep_safe(MDB_txn *txn, ct_outbox *ob, uint64_t safe, size_t *nd)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ob->committed, &cur);
    if (rc != 0) return rc;
    ct_buf keys = CT_BUF_INIT; /* (seq, q) to delete, 16 bytes each: deleted after the walk */
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (ct_be64_get(v.mv_data) <= safe && (ct_buf_append(&keys, k.mv_data, 8) != CT_OK ||
                                               ct_buf_append(&keys, v.mv_data, 8) != CT_OK)) {
            rc = ENOMEM;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;
    for (size_t i = 0; rc == 0 && i + 16 <= keys.len; i += 16) {
        MDB_val dk = {8, keys.data + i}, ev;
        rc = mdb_del(txn, ob->committed, &dk, NULL);
        if (rc == 0) {
            int d = mdb_get(txn, ob->outbox, &dk, &ev);
            if (d == 0) d = ct_outbox_acked_put(txn, ob, &dk, &ev, ct_be64_get(keys.data + i + 8));
            if (d == 0) d = mdb_del(txn, ob->outbox, &dk, NULL);
            if (d == 0) (*nd)++;
            if (d != 0 && d != MDB_NOTFOUND) rc = d;
        }
    }
    ct_buf_free(&keys);
    return rc;
}

ct_err ct_outbox_settle_ex(ct_outbox *ob, const ct_outbox_settle_item *items,
                           const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                           size_t *n_delivered, size_t *n_rejected)
{
    return ct_outbox_settle_q(ob, items, NULL, unsafe_q, n, safe, now_ms, n_delivered, n_rejected);
}

ct_err ct_outbox_settle_q(ct_outbox *ob, const ct_outbox_settle_item *items, const uint64_t *qs,
                          const uint64_t *unsafe_q, size_t n, uint64_t safe, int64_t now_ms,
                          size_t *n_delivered, size_t *n_rejected)
{
    size_t nd = 0, nr = 0;
    if (n_delivered) *n_delivered = 0;
    if (n_rejected) *n_rejected = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    ct_buf rb = CT_BUF_INIT;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t kb[8];
        ct_be64_put(kb, items[i].seq);
        MDB_val k = {8, kb}, v;
        rc = mdb_get(txn, ob->outbox, &k, &v);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0) break;
        if (items[i].code != CT_OK) {
            ct_buf_reset(&rb);
            uint8_t cb[2];
            ct_be16_put(cb, (uint16_t)items[i].code);
            if (ct_buf_append(&rb, cb, 2) != CT_OK ||
                ct_buf_append(&rb, v.mv_data, v.mv_size) != CT_OK) {
                rc = ENOMEM;
                break;
            }
            MDB_val rv = {rb.len, rb.data};
            rc = mdb_put(txn, ob->rejected, &k, &rv, 0);
            if (rc != 0) break;
            nr++;
        } else if (unsafe_q && unsafe_q[i] > safe) {
            /* committed at HQ, not yet safe: stays, marked with its seq */
            uint8_t qb[8];
            ct_be64_put(qb, unsafe_q[i]);
            MDB_val qv = {8, qb};
            rc = mdb_put(txn, ob->committed, &k, &qv, 0);
            continue;
        } else {
            /* its log seq: the ack's, else the committed mark's */
            uint64_t q = qs ? qs[i] : 0;
            MDB_val mv;
            int m = mdb_get(txn, ob->committed, &k, &mv);
            if (m != 0 && m != MDB_NOTFOUND) {
                rc = m;
                break;
            }
            if (!q && m == 0 && mv.mv_size == 8) q = ct_be64_get(mv.mv_data);
            rc = ct_outbox_acked_put(txn, ob, &k, &v, q);
            if (rc != 0) break;
            nd++;
        }
        int d = mdb_del(txn, ob->committed, &k, NULL);
        if (d != 0 && d != MDB_NOTFOUND) {
            rc = d;
            break;
        }
        rc = mdb_del(txn, ob->outbox, &k, NULL);
    }
    ct_buf_free(&rb);
    if (rc == 0 && safe) rc = sweep_safe(txn, ob, safe, &nd);
    uint64_t cnt;
    if (rc == 0 && nd) {
        rc = ct_outbox_meta_get_u64(txn, ob, "delivered", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "delivered", cnt + nd);
    }
    if (rc == 0 && nr) {
        rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "rejected", cnt + nr);
    }
    if (rc == 0 && n) rc = ct_outbox_meta_put_u64(txn, ob, "last_ack", (uint64_t)now_ms);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "settling acks");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    if (n_delivered) *n_delivered = nd;
    if (n_rejected) *n_rejected = nr;
    return CT_OK;
}

ct_err ct_outbox_unmark_all(ct_outbox *ob, size_t *n)
{
    if (n) *n = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    MDB_stat st;
    rc = mdb_stat(txn, ob->committed, &st);
    if (rc == 0 && st.ms_entries) rc = mdb_drop(txn, ob->committed, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "clearing committed marks");
    }
    if (!st.ms_entries) {
        mdb_txn_abort(txn);
        return CT_OK;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    if (n) *n = st.ms_entries;
    return CT_OK;
}

ct_err ct_outbox_committed_first(ct_outbox *ob, ct_outbox_scan_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->committed, &txn, &cur);
    if (e) return e;
    MDB_val k, v, ev;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0) rc = mdb_get(txn, ob->outbox, &k, &ev);
    if (rc == 0 && k.mv_size != 8) rc = MDB_CORRUPTED;
    if (rc == 0) e = fn(ctx, ct_be64_get(k.mv_data), ev.mv_data, ev.mv_size);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e) return e;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ct_outbox_lmdb_fail(ob, rc, "reading committed marks");
    return CT_OK;
}

ct_err ct_outbox_rejected_each(ct_outbox *ob, ct_outbox_rej_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, MDB_RDONLY, ob->rejected, &txn, &cur);
    if (e0) return e0;
    int rc;
    MDB_val k, v;
    ct_err e = CT_OK;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < 2) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        e = fn(ctx, ct_be64_get(k.mv_data), ct_be16_get(p), p + 2, v.mv_size - 2);
        if (e != CT_OK) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (e != CT_OK) return e;
    if (rc != 0 && rc != MDB_NOTFOUND) return ct_outbox_lmdb_fail(ob, rc, "reading rejected");
    return CT_OK;
}

ct_err ct_outbox_idem_key(const ct_event *ev, uint8_t key[CT_OUTBOX_IDEM_LEN])
{
    ct_event tmp = *ev;
    memset(tmp.id, 0, sizeof tmp.id);
    ct_buf b = CT_BUF_INIT;
    ct_err e = ct_event_encode(&tmp, &b);
    if (e == CT_OK) crypto_generichash(key, CT_OUTBOX_IDEM_LEN, b.data, b.len, NULL, 0);
    ct_buf_free(&b);
    return e;
}

void ct_outbox_event_id(const ct_outbox_info *info, uint64_t seq, uint8_t id[CT_EVENT_ID_LEN])
{
    size_t i = info->n_origins;
    while (i > 1 && info->origins[i - 1].first_seq > seq)
        i--;
    ct_event_id_make(id, i ? info->origins[i - 1].origin : info->origin, seq);
}

uint64_t ct_outbox_recorded(const ct_outbox_info *info)
{
    assert(info->next_seq - 1 >= info->reissued);
    return info->next_seq - 1 - info->reissued;
}

/* Moves one conflict-rejected entry (k, v), an event or a life entry, to
 * the outbox under seq *next with the id origin || *next. */
static int reissue_one(MDB_txn *txn, ct_outbox *ob, MDB_cursor *cur, const MDB_val *v,
                       const uint8_t origin[CT_ORIGIN_LEN], uint64_t *next, ct_buf *buf)
{
    const uint8_t *p = v->mv_data;
    ct_entry en;
    bool idk;
    if (ct_entry_decode(p + 2, v->mv_size - 2, &en, &idk) != CT_OK) return MDB_CORRUPTED;
    ct_buf_reset(buf);
    if (en.type == CT_ENTRY_LIFE) {
        ct_event_id_make(en.u.life.id, origin, *next);
        if (ct_life_encode(&en.u.life, buf) != CT_OK) return MDB_CORRUPTED;
    } else {
        ct_event_id_make(en.u.ev.id, origin, *next);
        if (ct_event_encode(&en.u.ev, buf) != CT_OK) return MDB_CORRUPTED;
    }
    uint8_t kb[8];
    ct_be64_put(kb, *next);
    MDB_val nk = {8, kb}, nv = {buf->len, buf->data};
    int rc = mdb_put(txn, ob->outbox, &nk, &nv, MDB_NOOVERWRITE);
    if (rc == 0) rc = mdb_cursor_del(cur, 0);
    if (rc == 0) (*next)++;
    return rc;
}

ct_err ct_outbox_reissue(ct_outbox *ob, size_t *n_out, bool *new_origin)
{
    *n_out = 0;
    *new_origin = false;
    MDB_txn *txn;
    MDB_cursor *cur;
    ct_err e0 = ct_outbox_txn_cursor(ob, 0, ob->rejected, &txn, &cur);
    if (e0) return e0;
    ct_outbox_info info;
    int rc = read_info(txn, ob, &info);
    if (rc == 0 && !info.initialised) rc = MDB_NOTFOUND;
    MDB_val k, v;
    /* a fresh origin when a conflict was under the current one */
    bool fresh = false;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < 2) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        if (ct_be16_get(p) == CT_ERR_CONFLICT &&
            ct_be64_get(k.mv_data) >= info.origins[info.n_origins - 1].first_seq)
            fresh = true;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    uint8_t origin[CT_ORIGIN_LEN];
    memcpy(origin, info.origin, CT_ORIGIN_LEN);
    if (rc == 0 && fresh) {
        if (info.n_origins >= CT_OUTBOX_ORIGINS_MAX) {
            mdb_cursor_close(cur);
            mdb_txn_abort(txn);
            snprintf(ob->errmsg, sizeof ob->errmsg,
                     "this outbox has had %d origins already; start a new outbox",
                     CT_OUTBOX_ORIGINS_MAX);
            return CT_ERR_CONFIG;
        }
        uint8_t hist[CT_OUTBOX_ORIGINS_MAX * ORIGIN_REC];
        for (size_t i = 0; i < info.n_origins; i++) {
            ct_be64_put(hist + i * ORIGIN_REC, info.origins[i].first_seq);
            memcpy(hist + i * ORIGIN_REC + 8, info.origins[i].origin, CT_ORIGIN_LEN);
        }
        do {
            randombytes_buf(origin, sizeof origin);
        } while (memcmp(origin, info.origin, CT_ORIGIN_LEN) == 0);
        rc = meta_put(txn, ob, "origins_old", hist, info.n_origins * ORIGIN_REC);
        if (rc == 0) rc = meta_put(txn, ob, "origin", origin, CT_ORIGIN_LEN);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "origin_from", info.next_seq);
    }
    uint64_t next = info.next_seq;
    size_t n = 0;
    ct_buf buf = CT_BUF_INIT;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const uint8_t *p = v.mv_data;
        if (ct_be16_get(p) != CT_ERR_CONFLICT) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        rc = reissue_one(txn, ob, cur, &v, origin, &next, &buf);
        if (rc != 0) break;
        n++;
        /* after mdb_cursor_del, MDB_NEXT yields the entry that followed */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    ct_buf_free(&buf);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) rc = 0;
    uint64_t cnt = 0, gen = 0;
    if (rc == 0 && n) {
        rc = ct_outbox_meta_put_u64(txn, ob, "next_seq", next);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "rejected", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "rejected", cnt >= n ? cnt - n : 0);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "reissued", &cnt);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "reissued", cnt + n);
        if (rc == 0) rc = ct_outbox_meta_get_u64(txn, ob, "requeue_gen", &gen);
        if (rc == 0) rc = ct_outbox_meta_put_u64(txn, ob, "requeue_gen", gen + 1);
    }
    if (rc != 0 || n == 0) {
        mdb_txn_abort(txn);
        if (rc == 0) return CT_OK; /* nothing to reissue: no new origin either */
        return ct_outbox_lmdb_fail(ob, rc, "reissuing");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    *n_out = n;
    *new_origin = fresh;
    return CT_OK;
}

/* One meta counter, read in its own short read transaction. */
static ct_err meta_read_u64(ct_outbox *ob, const char *key, uint64_t *v)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "read transaction");
    rc = ct_outbox_meta_get_u64(txn, ob, key, v);
    mdb_txn_abort(txn);
    if (rc != 0) {
        char what[64];
        snprintf(what, sizeof what, "reading %s", key);
        return ct_outbox_lmdb_fail(ob, rc, what);
    }
    return CT_OK;
}

ct_err ct_outbox_requeue_gen(ct_outbox *ob, uint64_t *gen)
{
    return meta_read_u64(ob, "requeue_gen", gen);
}

ct_err ct_outbox_epoch(ct_outbox *ob, uint64_t *epoch)
{
    return meta_read_u64(ob, "epoch", epoch);
}

ct_err ct_outbox_raise_epoch(ct_outbox *ob, uint64_t epoch)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "write transaction");
    uint64_t cur = 0;
    rc = ct_outbox_meta_get_u64(txn, ob, "epoch", &cur);
    if (rc == 0 && epoch > cur) rc = ct_outbox_meta_put_u64(txn, ob, "epoch", epoch);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ct_outbox_lmdb_fail(ob, rc, "recording the epoch");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return ct_outbox_lmdb_fail(ob, rc, "commit");
    return CT_OK;
}
