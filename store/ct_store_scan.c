/* ct_store_scan.c — the readers: head, counts, id and event lookups, and the
 * two scans (log, ids) over one cursor walk.
 *
 * Readers use short read transactions: the walk renews its transaction every
 * CT_SCAN_RENEW entries and seeks back to the entry after the last one seen,
 * so a scan over a live aggregator's store does not pin old pages (which
 * would make the file grow). Entries committed meanwhile may be seen; none
 * is seen twice and none present throughout the walk is skipped, because
 * keys only grow (log) or are never deleted (ids).
 */
#include "ct_store_int.h"

#include <assert.h>
#include <string.h>

ct_err ct_store_head(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    int rc = head_read(t, s->meta, seq, head);
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_read_counts(ct_store *s, ct_counts *out, uint64_t *seq,
                            uint8_t head[CT_LOGREC_HASH_LEN])
{
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
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
            if (ct_counts_set(out, &key, (int64_t)ct_be64_get(v.mv_data)) != CT_OK) {
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

/* One entry of a walk: CT_OK to go on, CT_STOP to end it, else an error. */
typedef ct_err (*walk_fn)(const MDB_val *k, const MDB_val *v, void *arg);

#define WALK_KEY_MAX 32

/* Calls fn for every entry of dbi from the first key >= start (start NULL:
 * the first key) in key order, renewing the read transaction every
 * CT_SCAN_RENEW entries (see the top). Keys longer than WALK_KEY_MAX end the
 * walk with CT_ERR_STORE_CORRUPT unless fn stopped at them first. Returns
 * CT_OK at the end or on CT_STOP, fn's error unchanged, or the LMDB error. */
static ct_err walk(ct_store *s, MDB_dbi dbi, const MDB_val *start, walk_fn fn, void *arg)
{
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, dbi, &c);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    uint8_t last[WALK_KEY_MAX];
    size_t last_len = 0;
    unsigned since_renew = 0;
    MDB_val k, v;
    if (start) k = *start;
    int g = mdb_cursor_get(c, &k, &v, start ? MDB_SET_RANGE : MDB_FIRST);
    while (g == 0) {
        r = fn(&k, &v, arg);
        if (r) break;
        if (k.mv_size > sizeof last) {
            r = CT_ERR_STORE_CORRUPT;
            break;
        }
        if (++since_renew < CT_SCAN_RENEW) {
            g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        /* short read transactions: renew, then seek past the last key */
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        since_renew = 0;
        mdb_txn_reset(t);
        rc = mdb_txn_renew(t);
        if (!rc) rc = mdb_cursor_renew(t, c);
        if (rc) {
            r = map_rc(rc);
            break;
        }
        k.mv_size = last_len;
        k.mv_data = last;
        g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (g == 0 && k.mv_size == last_len && memcmp(k.mv_data, last, last_len) == 0)
            g = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (r == CT_STOP) r = CT_OK;
    if (!r && g != 0 && g != MDB_NOTFOUND) r = map_rc(g);
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    return r;
}

typedef struct {
    uint64_t next, to_seq;
    uint64_t *bad_seq;
    ct_store_log_cb cb;     /* decoded records, or */
    ct_store_raw_cb raw_cb; /* stored bytes */
    void *arg;
} log_walk;

static ct_err log_step(const MDB_val *k, const MDB_val *v, void *arg)
{
    log_walk *w = arg;
    if (k->mv_size != 8) {
        if (w->bad_seq) *w->bad_seq = w->next;
        return CT_ERR_STORE_CORRUPT;
    }
    uint64_t key = ct_be64_get(k->mv_data);
    if (key > w->to_seq) return CT_STOP;
    ct_err r;
    if (w->raw_cb) {
        r = w->raw_cb(key, v->mv_data, v->mv_size, w->arg);
    } else {
        ct_logrec rec;
        if (ct_logrec_decode(v->mv_data, v->mv_size, &rec) != CT_OK || rec.seq != key) {
            if (w->bad_seq) *w->bad_seq = key;
            return CT_ERR_STORE_CORRUPT;
        }
        r = w->cb(&rec, v->mv_data, v->mv_size, w->arg);
    }
    if (r) return r;
    w->next = key + 1;
    return key >= w->to_seq ? CT_STOP : CT_OK;
}

static ct_err log_scan(ct_store *s, uint64_t from_seq, uint64_t to_seq, log_walk *w)
{
    if (w->bad_seq) *w->bad_seq = 0;
    if (from_seq == 0) from_seq = 1;
    if (to_seq == 0) {
        uint8_t hd[CT_LOGREC_HASH_LEN];
        ct_err r = ct_store_head(s, &to_seq, hd);
        if (r) return r;
    }
    if (from_seq > to_seq) return CT_OK;
    w->next = from_seq;
    w->to_seq = to_seq;
    uint8_t kb[8];
    ct_be64_put(kb, from_seq);
    MDB_val start = {8, kb};
    return walk(s, s->log, &start, log_step, w);
}

ct_err ct_store_log_scan(ct_store *s, uint64_t from_seq, uint64_t to_seq, ct_store_log_cb cb,
                         void *arg, uint64_t *bad_seq)
{
    log_walk w = {.bad_seq = bad_seq, .cb = cb, .arg = arg};
    return log_scan(s, from_seq, to_seq, &w);
}

ct_err ct_store_log_scan_raw(ct_store *s, uint64_t from_seq, uint64_t to_seq, ct_store_raw_cb cb,
                             void *arg, uint64_t *bad_seq)
{
    log_walk w = {.bad_seq = bad_seq, .raw_cb = cb, .arg = arg};
    return log_scan(s, from_seq, to_seq, &w);
}

typedef struct {
    ct_store_ids_cb cb;
    void *arg;
} ids_walk;

static ct_err ids_step(const MDB_val *k, const MDB_val *v, void *arg)
{
    ids_walk *w = arg;
    if (k->mv_size != CT_EVENT_ID_LEN || v->mv_size != 8 + CT_IDHASH_LEN)
        return CT_ERR_STORE_CORRUPT;
    const uint8_t *vb = v->mv_data;
    return w->cb(k->mv_data, ct_be64_get(vb), vb + 8, w->arg);
}

ct_err ct_store_ids_scan(ct_store *s, ct_store_ids_cb cb, void *arg)
{
    ids_walk w = {cb, arg};
    return walk(s, s->ids, NULL, ids_step, &w);
}

ct_err ct_store_find_id(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], uint64_t *seq)
{
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val k = {CT_EVENT_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t, s->ids, &k, &v);
    *seq = 0;
    if (rc == 0) {
        if (v.mv_size == 8 + CT_IDHASH_LEN)
            *seq = ct_be64_get(v.mv_data);
        else
            rc = MDB_CORRUPTED;
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_txn_abort(t);
    return map_rc(rc);
}

ct_err ct_store_find_event(ct_store *s, const uint8_t id[CT_EVENT_ID_LEN], const uint8_t *raw,
                           size_t raw_len, uint64_t *seq)
{
    *seq = 0;
    if (!s || !raw) return CT_ERR_ARG;
    uint8_t h[CT_IDHASH_LEN];
    ct_store_idhash(raw, raw_len, h);
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    MDB_val k = {CT_EVENT_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t, s->ids, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 8 + CT_IDHASH_LEN)
            rc = MDB_CORRUPTED;
        else if (memcmp((const uint8_t *)v.mv_data + 8, h, CT_IDHASH_LEN) == 0)
            *seq = ct_be64_get(v.mv_data);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_txn_abort(t);
    return map_rc(rc);
}

typedef struct {
    uint8_t hash[CT_LOGREC_HASH_LEN];
    bool found;
} hash_at;

static ct_err hash_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    hash_at *h = arg;
    (void)raw;
    (void)raw_len;
    memcpy(h->hash, rec->hash, CT_LOGREC_HASH_LEN);
    h->found = true;
    return CT_STOP;
}

ct_err ct_store_hash_at(ct_store *s, uint64_t seq, uint8_t out[CT_LOGREC_HASH_LEN])
{
    if (seq == 0) {
        memset(out, 0, CT_LOGREC_HASH_LEN);
        return CT_OK;
    }
    hash_at h = {.found = false};
    ct_err e = ct_store_log_scan(s, seq, seq, hash_cb, &h, NULL);
    if (!e && !h.found) e = CT_ERR_NOT_FOUND;
    if (!e) memcpy(out, h.hash, CT_LOGREC_HASH_LEN);
    return e;
}
