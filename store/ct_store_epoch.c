/* ct_store_epoch.c — what replication and failover keep in the store beside
 * the log: the epoch (meta "epoch", meta "epoch@<E>"), the follower
 * identity (meta "follower_id") and the origin bindings a follower receives
 * with the records they belong to.
 *
 * Invariants: a store's epoch never decreases (absent = 1: a store that was
 * never promoted); ct_store_promote writes epoch + 1 (ct_store_promote_to a
 * given higher epoch) and "epoch@<E>" = the
 * head (seq || hash) at which epoch E began, in one durable transaction; an
 * origin binding is written once and never changed (a shipped binding that
 * differs from the stored one is refused, CT_ERR_CONFLICT); "follower_id"
 * is written once and never changed.
 */
#include "ct_store_int.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int epoch_read(MDB_txn *t, MDB_dbi meta, uint64_t *epoch)
{
    MDB_val v;
    int rc = meta_get(t, meta, "epoch", &v);
    if (rc == MDB_NOTFOUND) {
        *epoch = 1;
        return 0;
    }
    if (rc) return rc;
    if (v.mv_size != 8) return MDB_CORRUPTED;
    *epoch = ct_be64_get(v.mv_data);
    return *epoch ? 0 : MDB_CORRUPTED;
}

ct_err ct_store_epoch(ct_store *s, uint64_t *epoch)
{
    if (!s || !epoch) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    int rc = epoch_read(t, s->meta, epoch);
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_epoch_start(ct_store *s, uint64_t epoch, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN])
{
    if (!s || !seq || !head) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    char key[32];
    snprintf(key, sizeof key, "epoch@%llu", (unsigned long long)epoch);
    MDB_val v;
    int rc = meta_get(t, s->meta, key, &v);
    if (!rc && v.mv_size != 8 + CT_LOGREC_HASH_LEN) rc = MDB_CORRUPTED;
    if (!rc) {
        *seq = ct_be64_get(v.mv_data);
        memcpy(head, (const uint8_t *)v.mv_data + 8, CT_LOGREC_HASH_LEN);
    }
    mdb_txn_abort(t);
    return map_rc(rc);
}

/* Writes epoch (and, when start is true, "epoch@<epoch>" = the head) in t. */
static int epoch_write(ct_store *s, MDB_txn *t, uint64_t epoch, bool start)
{
    uint8_t b[8];
    ct_be64_put(b, epoch);
    int rc = meta_put(t, s->meta, "epoch", b, sizeof b);
    if (rc || !start) return rc;
    uint64_t seq;
    uint8_t hb[8 + CT_LOGREC_HASH_LEN];
    if ((rc = head_read(t, s->meta, &seq, hb + 8))) return rc;
    ct_be64_put(hb, seq);
    char key[32];
    snprintf(key, sizeof key, "epoch@%llu", (unsigned long long)epoch);
    return meta_put(t, s->meta, key, hb, sizeof hb);
}

typedef enum {
    EPOCH_NEXT,  /* a promotion to the epoch after the current one */
    EPOCH_TO,    /* a promotion to want; want <= current is CT_ERR_STALE_EPOCH */
    EPOCH_ADOPT, /* a follower takes want when it is higher; nothing begins here */
} epoch_mode;

/* Sets the epoch as mode says; a promotion records where its epoch began.
 * *out (may be NULL) is the epoch after the call. */
static ct_err epoch_set(ct_store *s, uint64_t want, epoch_mode mode, uint64_t *out)
{
    if (!s || s->read_only || s->imp_txn || s->ship_txn) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, 0, &t);
    if (r) return r;
    uint64_t cur;
    int rc = epoch_read(t, s->meta, &cur);
    if (!rc && mode == EPOCH_NEXT) want = cur + 1;
    if (!rc && mode == EPOCH_TO && want <= cur) {
        mdb_txn_abort(t);
        return CT_ERR_STALE_EPOCH;
    }
    if (!rc && want > cur) rc = epoch_write(s, t, want, mode != EPOCH_ADOPT);
    if (rc) {
        mdb_txn_abort(t);
    } else {
        rc = mdb_txn_commit(t);
        if (rc == MDB_PANIC) s->need_reopen = true;
    }
    if (!rc && out) *out = want > cur ? want : cur;
    assert(rc || mode == EPOCH_ADOPT || want > cur);
    return map_rc(rc);
}

ct_err ct_store_promote(ct_store *s, uint64_t *epoch)
{
    if (s && s->ship_last) return CT_ERR_ARG; /* shipped records are counted first */
    return epoch_set(s, 0, EPOCH_NEXT, epoch);
}

ct_err ct_store_adopt_epoch(ct_store *s, uint64_t epoch)
{
    return epoch_set(s, epoch, EPOCH_ADOPT, NULL);
}

ct_err ct_store_promote_to(ct_store *s, uint64_t want)
{
    if (s && s->ship_last) return CT_ERR_ARG; /* shipped records are counted first */
    return epoch_set(s, want, EPOCH_TO, NULL);
}

ct_err ct_store_follower_id(ct_store *s, uint8_t id[8])
{
    if (!s || !id) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, s->read_only ? MDB_RDONLY : 0, &t);
    if (r) return r;
    MDB_val v;
    int rc = meta_get(t, s->meta, "follower_id", &v);
    if (rc == 0) {
        if (v.mv_size == 8)
            memcpy(id, v.mv_data, 8);
        else
            rc = MDB_CORRUPTED;
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    if (rc != MDB_NOTFOUND || s->read_only) {
        mdb_txn_abort(t);
        return rc == MDB_NOTFOUND ? CT_ERR_ARG : map_rc(rc);
    }
    randombytes_buf(id, 8);
    if ((rc = meta_put(t, s->meta, "follower_id", id, 8))) {
        mdb_txn_abort(t);
    } else {
        rc = mdb_txn_commit(t);
        if (rc == MDB_PANIC) s->need_reopen = true;
    }
    return map_rc(rc);
}

ct_err ct_store_origin_get(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], char *key,
                           size_t keylen, bool *found)
{
    if (!s || !key || keylen == 0 || !found) return CT_ERR_ARG;
    *found = false;
    if (!s->has_origins) return CT_OK;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val k = {CT_ORIGIN_LEN, (void *)origin}, v;
    int rc = mdb_get(t, s->origins, &k, &v);
    if (rc == 0 && v.mv_size < keylen) {
        memcpy(key, v.mv_data, v.mv_size);
        key[v.mv_size] = '\0';
        *found = true;
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    mdb_txn_abort(t);
    return rc == MDB_NOTFOUND ? CT_OK : map_rc(rc);
}

ct_err ct_store_import_origin(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], const char *key,
                              size_t key_len)
{
    if (!s || !s->imp_txn || !key || key_len == 0) return CT_ERR_ARG;
    MDB_val k = {CT_ORIGIN_LEN, (void *)origin}, v = {key_len, (void *)key};
    int rc = mdb_put(s->imp_txn, s->origins, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return v.mv_size == key_len && memcmp(v.mv_data, key, key_len) == 0 ? CT_OK
                                                                            : CT_ERR_CONFLICT;
    return map_rc(rc);
}
