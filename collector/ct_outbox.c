/* ct_outbox.c — the collector's durable LMDB outbox (see ct_outbox.h):
 * the handle (open, close, errors), the meta table, the outbox info, init,
 * the epoch and the requeue generation. Queueing is in ct_outbox_queue.c,
 * delivery bookkeeping in ct_outbox_deliver.c, reissue in ct_outbox_reissue.c.
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
int ct_outbox_meta_get(MDB_txn *txn, ct_outbox *ob, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, ob->meta, &k, v);
}

int ct_outbox_meta_put(MDB_txn *txn, ct_outbox *ob, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {len, (void *)val};
    return mdb_put(txn, ob->meta, &k, &v, 0);
}

int ct_outbox_meta_get_u64(MDB_txn *txn, ct_outbox *ob, const char *key, uint64_t *out)
{
    MDB_val v;
    int rc = ct_outbox_meta_get(txn, ob, key, &v);
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
    return ct_outbox_meta_put(txn, ob, key, b, 8);
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
    int rc = ct_outbox_meta_get(txn, ob, "origins_old", &v);
    if (rc == 0) {
        if (v.mv_size % CT_OUTBOX_ORIGIN_REC != 0 ||
            v.mv_size / CT_OUTBOX_ORIGIN_REC >= CT_OUTBOX_ORIGINS_MAX)
            return MDB_CORRUPTED;
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < v.mv_size / CT_OUTBOX_ORIGIN_REC; i++) {
            info->origins[i].first_seq = ct_be64_get(p + i * CT_OUTBOX_ORIGIN_REC);
            memcpy(info->origins[i].origin, p + i * CT_OUTBOX_ORIGIN_REC + 8, CT_ORIGIN_LEN);
        }
        info->n_origins = v.mv_size / CT_OUTBOX_ORIGIN_REC;
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

int ct_outbox_read_info(MDB_txn *txn, ct_outbox *ob, ct_outbox_info *info)
{
    memset(info, 0, sizeof *info);
    MDB_val v;
    int rc = ct_outbox_meta_get(txn, ob, "origin", &v);
    if (rc == 0 && v.mv_size == CT_ORIGIN_LEN) {
        memcpy(info->origin, v.mv_data, CT_ORIGIN_LEN);
        info->initialised = true;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (ct_outbox_meta_get(txn, ob, "district", &v) == 0 && v.mv_size == 4)
        info->district = ct_be32_get(v.mv_data);
    if (ct_outbox_meta_get(txn, ob, "campaign", &v) == 0 &&
        (rc = copy_str(info->campaign_id, sizeof info->campaign_id, &v)) != 0)
        return rc;
    if (ct_outbox_meta_get(txn, ob, "campaign_path", &v) == 0 &&
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
    rc = ct_outbox_read_info(txn, ob, info);
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
    rc = ct_outbox_read_info(txn, ob, &info);
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
            rc = ct_outbox_meta_put(txn, ob, "campaign_path", campaign_path, strlen(campaign_path));
    } else if (rc == 0) {
        uint8_t origin[CT_ORIGIN_LEN];
        randombytes_buf(origin, sizeof origin);
        uint8_t d[4];
        ct_be32_put(d, district);
        rc = ct_outbox_meta_put(txn, ob, "origin", origin, sizeof origin);
        if (rc == 0) rc = ct_outbox_meta_put(txn, ob, "district", d, 4);
        if (rc == 0) rc = ct_outbox_meta_put(txn, ob, "campaign", campaign_id, strlen(campaign_id));
        if (rc == 0 && campaign_path)
            rc = ct_outbox_meta_put(txn, ob, "campaign_path", campaign_path, strlen(campaign_path));
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
