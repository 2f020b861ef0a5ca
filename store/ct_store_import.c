/* ct_store_import.c — appending records that already carry their hash
 * (chitieu-audit rebuild from a verified .ctlog; a follower storing the
 * records its primary shipped, as their stored bytes).
 *
 * Invariants: between ct_store_import_begin and _commit / _abort, imp_txn is
 * the open write transaction, imp_seq / imp_head the head it has reached and
 * the overlay the chunk's person states; every imported record has seq =
 * imp_seq + 1 and chains onto imp_head (checked, never assumed: a shipped
 * record on its own bytes, which are then stored unchanged); imp_seq0 /
 * imp_head0 are the head the chunk started from; ct_store_import_commit
 * checkpoints the person states with the chunk (persons_seq = the new head),
 * ct_store_import_commit_ex writes its share of them as a batch does (a
 * slice of a generation, ct_store_persons_write), so that no follower
 * commit carries a whole checkpoint. Records are applied by the same rule as
 * a batch's entries (ct_store_tally_run); a record the rule refuses was never
 * accepted by a primary from this log: CT_ERR_STORE_CORRUPT.
 */
#include "ct_store_int.h"

#include <assert.h>
#include <string.h>

ct_err ct_store_import_begin(ct_store *s)
{
    if (!s || s->read_only || s->imp_txn || s->ship_txn || s->replay_due) return CT_ERR_ARG;
    assert(s->overlay.n == 0);
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, 0, &t);
    if (r) return r;
    if (s->replay_due) { /* set again by a reopen inside ct_store_txn_begin */
        mdb_txn_abort(t);
        return CT_ERR_ARG;
    }
    int rc = head_read(t, s->meta, &s->imp_seq, s->imp_head);
    if (!rc) rc = ct_store_tally_prepare(s, t);
    if (rc) {
        mdb_txn_abort(t);
        return map_rc(rc);
    }
    ct_counts_clear(&s->delta);
    s->imp_last_received_ms = s->last_received_ms;
    s->imp_seq0 = s->imp_seq;
    memcpy(s->imp_head0, s->imp_head, CT_LOGREC_HASH_LEN);
    s->imp_txn = t;
    return CT_OK;
}

/* One record: raw (when not NULL) holds rec's stored bytes, checked and
 * written as they are; otherwise rec is checked, encoded and hashed. */
static ct_err import_one(ct_store *s, const ct_logrec *rec, const uint8_t *raw, size_t raw_len,
                         const ct_campaign *c)
{
    if (!s || !s->imp_txn || !rec || !c) return CT_ERR_ARG;
    if (rec->seq != s->imp_seq + 1) return CT_ERR_CHAIN;
    ct_err r =
        raw ? ct_logrec_check_stored(raw, raw_len, s->imp_head) : ct_logrec_check(rec, s->imp_head);
    if (r) return r;
    /* rec is the decoding of raw: its event lies inside raw, its hash ends it */
    assert(!raw ||
           (rec->event >= raw && rec->event + rec->event_len <= raw + raw_len &&
            memcmp(rec->hash, raw + raw_len - CT_LOGREC_HASH_LEN, CT_LOGREC_HASH_LEN) == 0));
    ct_entry *en = &s->imp_entry;
    r = ct_entry_decode(rec->event, rec->event_len, en, NULL);
    if (r) return CT_ERR_STORE_CORRUPT;
    if (s->campaign_id[0] && strcmp(ct_store_entry_campaign(en), s->campaign_id) != 0)
        return CT_ERR_WRONG_CAMPAIGN;
    MDB_txn *t = s->imp_txn;
    uint8_t h[CT_IDHASH_LEN];
    ct_store_idhash(rec->event, rec->event_len, h);
    MDB_val iv;
    int rc = ct_store_ids_put(s, t, ct_entry_id(en), rec->seq, h, &iv);
    if (rc == MDB_KEYEXIST) return CT_ERR_CONFLICT; /* a valid log never holds an id twice */
    if (rc) return map_rc(rc);
    uint8_t head[CT_LOGREC_HASH_LEN];
    if (raw) {
        uint8_t kb[8];
        ct_be64_put(kb, rec->seq);
        MDB_val k = {8, kb}, v = {raw_len, (void *)raw};
        rc = mdb_put(t, s->log, &k, &v, MDB_APPEND);
        if (rc) return map_rc(rc);
        memcpy(head, rec->hash, sizeof head);
    } else {
        ct_logrec copy = *rec;
        memcpy(head, s->imp_head, sizeof head);
        rc = ct_store_append_one(s, t, &copy, head);
        if (rc) return map_rc(rc);
        if (memcmp(copy.hash, rec->hash, CT_LOGREC_HASH_LEN) != 0) return CT_ERR_CHAIN;
    }
    ct_tally_in in;
    ct_tally_in_make(c, en, rec->seq, rec->received_ms, &in);
    rc = ct_store_tally_run(s, t, true, en, &in, &s->res);
    if (rc) return map_rc(rc);
    if (s->res.refused != CT_OK) return CT_ERR_STORE_CORRUPT; /* see the top */
    if ((rc = ct_store_tally_keep(s, &s->res))) return map_rc(rc);
    s->imp_seq = rec->seq;
    memcpy(s->imp_head, head, sizeof head);
    if (rec->received_ms > s->imp_last_received_ms) s->imp_last_received_ms = rec->received_ms;
    return CT_OK;
}

ct_err ct_store_import_record(ct_store *s, const ct_logrec *rec, const ct_campaign *c)
{
    return import_one(s, rec, NULL, 0, c);
}

ct_err ct_store_import_stored(ct_store *s, const ct_logrec *rec, const uint8_t *raw, size_t raw_len,
                              const ct_campaign *c)
{
    if (!raw) return CT_ERR_ARG;
    return import_one(s, rec, raw, raw_len, c);
}

static ct_err import_commit(ct_store *s, bool always_ckpt, ct_store_commit *out)
{
    if (!s || !s->imp_txn) return CT_ERR_ARG;
    MDB_txn *t = s->imp_txn;
    s->imp_txn = NULL;
    bool ckpt = always_ckpt;
    int rc = ct_store_flush_counts(s, t, out ? out->changed : NULL);
    if (!rc) rc = head_write(t, s->meta, s->imp_seq, s->imp_head);
    if (!rc && ckpt) rc = ct_store_persons_checkpoint(s, t, s->imp_seq);
    if (!rc && !ckpt) rc = ct_store_persons_write(s, t, s->imp_seq0, s->imp_seq, &ckpt);
    if (rc) {
        mdb_txn_abort(t);
    } else {
        rc = mdb_txn_commit(t);
        if (rc == MDB_PANIC) s->need_reopen = true;
    }
    if (rc == 0) {
        /* out of memory merging states: the log is the truth; force a
         * replay (as ct_store_apply_batch does) */
        if (ct_store_persons_committed(s, ckpt)) s->need_reopen = true;
        s->last_received_ms = s->imp_last_received_ms;
        if (out) {
            out->seq_before = s->imp_seq0;
            out->seq_after = s->imp_seq;
            memcpy(out->head, s->imp_head, CT_LOGREC_HASH_LEN);
            memcpy(out->head_before, s->imp_head0, CT_LOGREC_HASH_LEN);
        }
    } else {
        ct_store_tally_aborted(s);
        if (out && out->changed) ct_counts_clear(out->changed);
    }
    ct_store_persons_aborted(s);
    ct_counts_clear(&s->delta);
    return map_rc(rc);
}

ct_err ct_store_import_commit(ct_store *s)
{
    return import_commit(s, true, NULL);
}

ct_err ct_store_import_commit_ex(ct_store *s, ct_store_commit *out)
{
    return import_commit(s, false, out);
}

void ct_store_import_abort(ct_store *s)
{
    if (!s || !s->imp_txn) return;
    mdb_txn_abort(s->imp_txn);
    s->imp_txn = NULL;
    ct_store_persons_aborted(s);
    ct_store_tally_aborted(s);
    ct_counts_clear(&s->delta);
}
