/* ct_store_ship.c — a follower's shipped records: made durable first
 * (receipt), counted after (apply), each in transactions of its own.
 *
 * "ship" holds seq (8 BE) -> the record's stored bytes exactly as shipped;
 * "ship_origins" holds origin (8) -> seq (8 BE) || key: an origin binding
 * shipped with the batch that ends at seq, written to "origins" by the
 * apply that counts that seq.
 *
 * Invariants (asserted where they are relied on, checked by the receipt):
 *   - the ship keys are exactly H+1..R, contiguous, where H = meta "head"
 *     (the counted log head) and R = the received head (R = H when "ship"
 *     is empty);
 *   - record H+1 chains onto the log head hash, every next one onto the
 *     one before (BLAKE2b(previous hash || body) over the shipped bytes:
 *     ct_logrec_check_stored, at receipt, before the put); a record that
 *     does not chain is refused (CT_ERR_CHAIN) and the receipt keeps none
 *     of its transaction;
 *   - a receipt only appends (MDB_APPEND) and commits durably (a system
 *     crash never undoes it); an apply
 *     moves the first records of "ship" into the log through
 *     ct_store_import_stored (ids, person states, counters: the one import
 *     path), deletes them from "ship" and writes the bindings whose seq it
 *     reached, in ONE transaction: a crash leaves either state, both
 *     consistent (a system crash may undo the last apply: MDB_NOMETASYNC,
 *     see ct_store_ship_apply; its records are then still in "ship");
 *   - s->ship_last is the last committed ship key (0 when empty).
 */
#include "ct_store_int.h"

#include <assert.h>
#include <string.h>

#include "ct_log.h"

/* The last ship key and its record's hash in t (*seq 0 when empty). */
static int ship_last_read(ct_store *s, MDB_txn *t, uint64_t *seq, uint8_t hash[CT_LOGREC_HASH_LEN])
{
    *seq = 0;
    if (!s->has_ship) return 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, s->ship, &c);
    if (rc) return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0) {
        if (k.mv_size != 8 || v.mv_size < CT_LOGREC_HASH_LEN) {
            rc = MDB_CORRUPTED;
        } else {
            *seq = ct_be64_get(k.mv_data);
            if (hash)
                memcpy(hash, (const uint8_t *)v.mv_data + v.mv_size - CT_LOGREC_HASH_LEN,
                       CT_LOGREC_HASH_LEN);
        }
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    mdb_cursor_close(c);
    return rc;
}

ct_err ct_store_ship_load(ct_store *s, MDB_txn *t, char *err, size_t errlen)
{
    uint64_t last = 0, head = 0;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    int rc = ship_last_read(s, t, &last, NULL);
    if (!rc) rc = head_read(t, s->meta, &head, hh);
    if (!rc && last && last <= head) rc = MDB_CORRUPTED; /* keys are H+1..R */
    if (rc) {
        ct_store_errf(err, errlen, "%s: reading the shipped records: %s", s->dir, mdb_strerror(rc));
        return map_rc(rc);
    }
    s->ship_last = last;
    return CT_OK;
}

ct_err ct_store_ship_head(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN])
{
    if (!s || !seq || !head) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, MDB_RDONLY, &t);
    if (r) return r;
    int rc = ship_last_read(s, t, seq, head);
    if (!rc && *seq == 0) rc = head_read(t, s->meta, seq, head);
    mdb_txn_abort(t);
    return map_rc(rc);
}

uint64_t ct_store_ship_pending(const ct_store *s)
{
    return s->ship_last;
}

ct_err ct_store_ship_begin(ct_store *s)
{
    if (!s || s->read_only || s->imp_txn || s->ship_txn) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, 0, &t);
    if (r) return r;
    int rc = ship_last_read(s, t, &s->ship_seq, s->ship_head);
    if (!rc && s->ship_seq == 0) rc = head_read(t, s->meta, &s->ship_seq, s->ship_head);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    s->ship_seq0 = s->ship_seq;
    s->ship_txn = t;
    return CT_OK;
}

ct_err ct_store_ship_put(ct_store *s, const ct_logrec *rec, const uint8_t *raw, size_t raw_len)
{
    if (!s || !s->ship_txn || !rec || !raw) return CT_ERR_ARG;
    if (rec->seq != s->ship_seq + 1) return CT_ERR_CHAIN;
    ct_err r = ct_logrec_check_stored(raw, raw_len, s->ship_head);
    if (r) return r;
    assert(memcmp(rec->hash, raw + raw_len - CT_LOGREC_HASH_LEN, CT_LOGREC_HASH_LEN) == 0);
    uint8_t kb[8];
    ct_be64_put(kb, rec->seq);
    MDB_val k = {8, kb}, v = {raw_len, (void *)raw};
    int rc = mdb_put(s->ship_txn, s->ship, &k, &v, MDB_APPEND);
    if (rc) return map_rc(rc);
    s->ship_seq = rec->seq;
    memcpy(s->ship_head, rec->hash, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

ct_err ct_store_ship_origin(ct_store *s, const uint8_t origin[CT_ORIGIN_LEN], const char *key,
                            size_t key_len)
{
    if (!s || !s->ship_txn || !key || key_len == 0 || key_len > 255) return CT_ERR_ARG;
    MDB_val k = {CT_ORIGIN_LEN, (void *)origin}, v;
    int rc = mdb_get(s->ship_txn, s->origins, &k, &v);
    if (rc == 0)
        return v.mv_size == key_len && memcmp(v.mv_data, key, key_len) == 0 ? CT_OK
                                                                            : CT_ERR_CONFLICT;
    if (rc != MDB_NOTFOUND) return map_rc(rc);
    uint8_t b[8 + 255];
    ct_be64_put(b, s->ship_seq);
    memcpy(b + 8, key, key_len);
    v = (MDB_val){8 + key_len, b};
    rc = mdb_put(s->ship_txn, s->ship_origins, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return v.mv_size == 8 + key_len && memcmp((const uint8_t *)v.mv_data + 8, key, key_len) == 0
                   ? CT_OK
                   : CT_ERR_CONFLICT;
    return map_rc(rc);
}

ct_err ct_store_ship_commit(ct_store *s, uint64_t *seq, uint8_t head[CT_LOGREC_HASH_LEN])
{
    if (!s || !s->ship_txn) return CT_ERR_ARG;
    MDB_txn *t = s->ship_txn;
    s->ship_txn = NULL;
    int rc = mdb_txn_commit(t);
    if (rc == MDB_PANIC) s->need_reopen = true;
    if (rc) return map_rc(rc);
    if (s->ship_seq != s->ship_seq0) s->ship_last = s->ship_seq;
    if (seq) *seq = s->ship_seq;
    if (head) memcpy(head, s->ship_head, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

void ct_store_ship_abort(ct_store *s)
{
    if (!s || !s->ship_txn) return;
    mdb_txn_abort(s->ship_txn);
    s->ship_txn = NULL;
}

/* The bindings of "ship_origins" whose batch ends at or before seq, into
 * "origins", in the import transaction. */
static ct_err origins_apply(ct_store *s, uint64_t seq)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->imp_txn, s->ship_origins, &c);
    if (rc) return map_rc(rc);
    ct_err r = CT_OK;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !r;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != CT_ORIGIN_LEN || v.mv_size <= 8) {
            r = CT_ERR_STORE_CORRUPT;
            break;
        }
        if (ct_be64_get(v.mv_data) > seq) continue;
        uint8_t origin[CT_ORIGIN_LEN];
        char key[256];
        size_t kl = v.mv_size - 8 < sizeof key ? v.mv_size - 8 : sizeof key - 1;
        memcpy(origin, k.mv_data, CT_ORIGIN_LEN);
        memcpy(key, (const uint8_t *)v.mv_data + 8, kl);
        if ((r = ct_store_import_origin(s, origin, key, kl))) break;
        if ((rc = mdb_cursor_del(c, 0))) r = map_rc(rc);
    }
    if (!r && rc && rc != MDB_NOTFOUND) r = map_rc(rc);
    mdb_cursor_close(c);
    return r;
}

ct_err ct_store_ship_apply(ct_store *s, const ct_campaign *c, size_t max, int64_t received_by_ms,
                           ct_store_commit *out, uint64_t *bad_seq)
{
    if (!s || !c || max == 0) return CT_ERR_ARG;
    if (out) out->seq_before = out->seq_after = 0;
    if (s->ship_last == 0) return CT_OK;
    ct_err r = ct_store_import_begin(s);
    if (r) return r;
    /* one cursor on "ship" for the transaction: each record is its first */
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(s->imp_txn, s->ship, &cur);
    if (rc) r = map_rc(rc);
    size_t n = 0;
    while (!r && n < max) {
        MDB_val k, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == 0) { /* copied: the import writes while it reads the record */
            ct_buf_reset(&s->ship_buf);
            if (ct_buf_append(&s->ship_buf, v.mv_data, v.mv_size) != CT_OK) rc = ENOMEM;
        }
        if (rc == MDB_NOTFOUND) break;
        if (rc) {
            r = map_rc(rc);
            break;
        }
        uint64_t seq = k.mv_size == 8 ? ct_be64_get(k.mv_data) : 0;
        ct_logrec rec;
        if (seq != s->imp_seq + 1 ||
            ct_logrec_decode(s->ship_buf.data, s->ship_buf.len, &rec) != CT_OK || rec.seq != seq) {
            if (bad_seq) *bad_seq = s->imp_seq + 1;
            r = CT_ERR_STORE_CORRUPT; /* the invariant at the top */
            break;
        }
        if (rec.received_ms > received_by_ms) break;
        r = ct_store_import_stored(s, &rec, s->ship_buf.data, s->ship_buf.len, c);
        if (r) {
            if (bad_seq) *bad_seq = seq;
            break;
        }
        /* the cursor is still on the record: the import wrote other tables */
        if ((rc = mdb_cursor_del(cur, 0))) {
            r = map_rc(rc);
            break;
        }
        n++;
    }
    if (cur) mdb_cursor_close(cur);
    if (!r && n) r = origins_apply(s, s->imp_seq);
    if (r || n == 0) {
        ct_store_import_abort(s);
        return r;
    }
    uint64_t applied = s->imp_seq;
    /* an apply needs atomicity, not durability: its records stay in "ship"
     * until it is on disk. MDB_NOMETASYNC skips the synchronous meta write
     * (one sync less; the data pages are still synced before the meta is
     * written, so the file stays consistent); a system crash may undo the
     * last apply, never a receipt: the next receipt's commit syncs that meta
     * page before it writes its own, with MDB_NOMETASYNC off again. */
    bool lazy = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1) == 0;
    r = ct_store_import_commit_ex(s, out);
    if (lazy) mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0);
    if (r) return r;
    assert(applied <= s->ship_last);
    if (applied == s->ship_last) s->ship_last = 0;
    return CT_OK;
}

ct_err ct_store_ship_apply_all(ct_store *s, const ct_campaign *c, uint64_t *bad_seq)
{
    if (!s || !c) return CT_ERR_ARG;
    uint64_t total = s->ship_last, last_log = 0;
    ct_err r = CT_OK;
    while (s->ship_last && !r) {
        ct_store_commit cm = {0};
        r = ct_store_ship_apply(s, c, CT_STORE_SHIP_CHUNK, INT64_MAX, &cm, bad_seq);
        if (!r && cm.seq_after == cm.seq_before) r = CT_ERR_INTERNAL; /* no progress */
        if (!r && cm.seq_after - last_log >= 100000) {
            ct_log(CT_LOG_INFO, "applying the shipped records before serving",
                   "applied=%llu of=%llu", (unsigned long long)cm.seq_after,
                   (unsigned long long)total);
            last_log = cm.seq_after;
        }
    }
    return r;
}

ct_err ct_store_ship_drop(ct_store *s)
{
    if (!s || s->read_only || s->imp_txn || s->ship_txn) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, 0, &t);
    if (r) return r;
    int rc = mdb_drop(t, s->ship, 0);
    if (!rc) rc = mdb_drop(t, s->ship_origins, 0);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    rc = mdb_txn_commit(t);
    if (rc == MDB_PANIC) s->need_reopen = true;
    if (!rc) s->ship_last = 0;
    return map_rc(rc);
}
