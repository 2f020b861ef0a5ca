/* ct_store_persons.c — a writer's person states: the batch overlay, the
 * pending (committed, not yet written) states, the checkpoint that writes
 * them to "persons", and the replay that rebuilds them from the log.
 *
 * Why: person hashes are random keys, so writing a person's state in every
 * batch dirties one random B-tree leaf per new person per commit, which
 * bounds ingest. The states are kept in memory and written in bulk.
 *
 * The invariant. Let H = the committed meta "head" seq and P = the committed
 * meta "persons_seq" (absent: P = H, a store written before checkpoints).
 *   (1) "persons" == the person states after applying log[1..P] to the
 *       empty state with ct_tally_apply; P <= H.
 *   (2) For a writer between calls, "persons" overlaid with `dirty` == the
 *       states after log[1..H]: dirty holds the latest state of exactly the
 *       persons changed by a record with seq in (P, H].
 *   (3) `overlay` holds the states changed by the batch or import chunk in
 *       progress (seq > H); it is empty between calls.
 * ct_store_persons_get reads overlay, then dirty, then "persons", so the
 * tally of record seq always sees the states after log[1..seq-1].
 *
 * Writes. "persons" is written only by ct_store_persons_checkpoint: every
 * dirty and overlay state plus persons_seq := the head the transaction
 * commits, in the SAME transaction as that batch (or import chunk, or
 * replay). Hence:
 *   - a batch commits with a checkpoint: P = H = its last seq; dirty and
 *     overlay are cleared;
 *   - a batch commits without one: H advances, P stays; overlay joins dirty;
 *   - a batch aborts (any error): nothing of it is on disk; overlay is
 *     cleared, dirty is untouched; (1)-(3) hold as before.
 *
 * Crashes. A crash at any point loses only memory (overlay and dirty): LMDB
 * keeps the last committed transaction, in which (1) holds. A writer's open
 * (ct_store_persons_replay; ct_store_set_campaign when the campaign comes
 * after the open) re-applies log(P..H] on top of "persons" and writes the
 * result with P := H in one transaction; counts are not touched (they were
 * committed with their batches). If that transaction fails (disk or map
 * full) nothing changed: the open fails naming the cause, and the next open
 * replays again. ct_store_close writes dirty as a checkpoint; if it cannot,
 * it logs what it skipped and the next open replays it. A reopen after
 * MDB_PANIC drops dirty and replays like an open.
 */
#include "ct_store_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_log.h"
#include "ct_tally.h"
#include "ct_time.h"

int ct_store_persons_get(ct_store *s, MDB_txn *t, const uint8_t key[CT_PERSON_KEY_LEN],
                         ct_person_state *st, bool *found)
{
    *found = true;
    if (ct_pmap_get(&s->overlay, key, st) || ct_pmap_get(&s->dirty, key, st)) return 0;
    MDB_val k = {CT_PERSON_KEY_LEN, (void *)key}, v;
    int rc = mdb_get(t, s->persons, &k, &v);
    if (rc == 0) return ct_person_state_decode(v.mv_data, v.mv_size, st) ? MDB_CORRUPTED : 0;
    *found = false;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ct_store_persons_set(ct_store *s, const uint8_t key[CT_PERSON_KEY_LEN],
                         const ct_person_state *st)
{
    assert(!s->read_only);
    return ct_pmap_put(&s->overlay, key, st) ? ENOMEM : 0;
}

bool ct_store_persons_due(const ct_store *s)
{
    size_t pending = s->dirty.n + s->overlay.n;
    if (!pending) return false;
    if (pending >= s->ckpt_max) return true;
    return s->dirty.n && ct_monotonic_ms() - s->dirty_since_ms >= s->ckpt_age_ms;
}

static int by_key(const void *a, const void *b)
{
    return memcmp((*(const ct_pmap_entry *const *)a)->key, (*(const ct_pmap_entry *const *)b)->key,
                  CT_PERSON_KEY_LEN);
}

/* Writes the states of m to "persons" in key order (B-tree locality). */
static int write_map(ct_store *s, MDB_txn *t, const ct_pmap *m)
{
    if (!m->n) return 0;
    const ct_pmap_entry **order = malloc(m->n * sizeof *order);
    if (!order) return ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        order[i] = &m->entries[i];
    qsort(order, m->n, sizeof *order, by_key);
    int rc = 0;
    for (size_t i = 0; i < m->n && !rc; i++) {
        ct_person_state st;
        ct_pmap_entry_state(m, order[i], &st);
        uint8_t enc[CT_PERSON_STATE_MAX];
        size_t n = 0;
        if (ct_person_state_encode(&st, enc, &n) != CT_OK) {
            rc = EINVAL;
            break;
        }
        MDB_val key = {CT_PERSON_KEY_LEN, (void *)order[i]->key}, val = {n, enc};
        rc = mdb_put(t, s->persons, &key, &val, 0);
    }
    free(order);
    return rc;
}

int ct_store_persons_checkpoint(ct_store *s, MDB_txn *t, uint64_t seq)
{
    /* dirty first: an overlay state is newer than a dirty one of the same key */
    int rc = write_map(s, t, &s->dirty);
    if (!rc) rc = write_map(s, t, &s->overlay);
    if (!rc) {
        uint8_t b[8];
        ct_be64_put(b, seq);
        rc = meta_put(t, s->meta, "persons_seq", b, sizeof b);
    }
    return rc;
}

int ct_store_persons_committed(ct_store *s, bool checkpointed)
{
    int rc = 0;
    if (checkpointed) {
        ct_pmap_clear(&s->dirty);
    } else {
        if (!s->dirty.n && s->overlay.n) s->dirty_since_ms = ct_monotonic_ms();
        for (size_t i = 0; i < s->overlay.n && !rc; i++) {
            ct_person_state st;
            ct_pmap_entry_state(&s->overlay, &s->overlay.entries[i], &st);
            rc = ct_pmap_put(&s->dirty, s->overlay.entries[i].key, &st) ? ENOMEM : 0;
        }
    }
    ct_pmap_clear(&s->overlay);
    return rc;
}

void ct_store_persons_aborted(ct_store *s)
{
    ct_pmap_clear(&s->overlay);
}

void ct_store_persons_forget(ct_store *s)
{
    ct_pmap_clear(&s->overlay);
    ct_pmap_clear(&s->dirty);
}

/* The committed P and H (see the top); *due = P < H. */
static int read_marks(ct_store *s, MDB_txn *t, uint64_t *p, uint64_t *h, bool *due)
{
    uint8_t head[CT_LOGREC_HASH_LEN];
    MDB_val v;
    int rc = head_read(t, s->meta, h, head);
    if (!rc) rc = meta_get(t, s->meta, "persons_seq", &v);
    *due = false;
    if (rc == MDB_NOTFOUND) { /* a store from before checkpoints: P = H */
        *p = *h;
        return 0;
    }
    if (rc) return rc;
    if (v.mv_size != 8) { /* left to audit verify, as a store without it */
        *p = *h;
        return 0;
    }
    *p = ct_be64_get(v.mv_data);
    *due = *p < *h;
    return 0;
}

/* Re-applies log[from..] into the overlay inside t. */
static ct_err replay_records(ct_store *s, MDB_txn *t, uint64_t from, uint64_t *n, int *lmdb_rc)
{
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(t, s->log, &c);
    if (rc) {
        *lmdb_rc = rc;
        return CT_ERR_LMDB;
    }
    uint8_t kb[8];
    ct_be64_put(kb, from);
    MDB_val k = {8, kb}, v;
    ct_err r = CT_OK;
    int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; g == 0; g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ct_logrec rec;
        ct_event ev;
        if (k.mv_size != 8 || ct_logrec_decode(v.mv_data, v.mv_size, &rec) != CT_OK ||
            rec.seq != ct_be64_get(k.mv_data) ||
            ct_event_decode(rec.event, rec.event_len, &ev, NULL) != CT_OK) {
            r = CT_ERR_STORE_CORRUPT;
            break;
        }
        rc = ct_store_tally_one(s, t, &ev, ct_campaign_local_day(s->campaign, ev.occurred_ms),
                                rec.seq);
        if (rc) break;
        (*n)++;
    }
    if (!rc && !r && g != MDB_NOTFOUND) rc = g;
    if (rc && !r) r = CT_ERR_LMDB;
    *lmdb_rc = rc;
    mdb_cursor_close(c);
    return r;
}

ct_err ct_store_persons_replay(ct_store *s, char *err, size_t errlen)
{
    assert(!s->read_only && s->env && !s->imp_txn && s->overlay.n == 0);
    MDB_txn *t = NULL;
    uint64_t p = 0, h = 0, n = 0;
    bool due;
    ct_err r = CT_OK;
    const char *what = "mdb_txn_begin";
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) {
        t = NULL;
        goto lmdb_fail;
    }
    what = "reading meta";
    if ((rc = read_marks(s, t, &p, &h, &due))) goto lmdb_fail;
    if (!due) goto leave;
    if (!s->campaign) { /* done by ct_store_set_campaign() */
        s->replay_due = true;
        goto leave;
    }
    ct_counts_clear(&s->delta);
    r = replay_records(s, t, p + 1, &n, &rc);
    ct_counts_clear(&s->delta); /* counts were committed with their batches */
    if (r == CT_ERR_STORE_CORRUPT) {
        ct_store_errf(err, errlen, "%s: undecodable log record during replay", s->dir);
        goto leave;
    }
    what = "person-state replay";
    if (rc || (rc = ct_store_persons_checkpoint(s, t, h))) goto write_fail;
    what = "person-state replay commit";
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) goto write_fail;
    ct_log(CT_LOG_INFO, "person states replayed from the log", "records=%llu from_seq=%llu",
           (unsigned long long)n, (unsigned long long)(p + 1));
    goto leave;
write_fail : {
    char cause[256];
    ct_store_write_cause(s, rc, &r, cause, sizeof cause);
    if (r != CT_ERR_MAP_FULL && r != CT_ERR_DISK_FULL) r = CT_ERR_LMDB;
    ct_store_errf(err, errlen,
                  "%s: %s of seq %llu..%llu failed: %s; nothing is lost (the log holds every "
                  "record): the replay runs again at the next start",
                  s->dir, what, (unsigned long long)(p + 1), (unsigned long long)h, cause);
    goto leave;
}
lmdb_fail:
    ct_store_errf(err, errlen, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
    r = CT_ERR_LMDB;
leave:
    if (t) mdb_txn_abort(t);
    ct_pmap_clear(&s->overlay);
    return r;
}

void ct_store_persons_close(ct_store *s)
{
    if (!s->env || s->need_reopen || !s->dirty.n) return;
    MDB_txn *t = NULL;
    uint64_t p = 0, h = 0;
    bool due;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) t = NULL;
    if (!rc) rc = read_marks(s, t, &p, &h, &due);
    if (!rc) rc = ct_store_persons_checkpoint(s, t, h);
    if (!rc) {
        rc = mdb_txn_commit(t);
        t = NULL;
    }
    if (t) mdb_txn_abort(t);
    if (!rc) {
        ct_pmap_clear(&s->dirty);
        return;
    }
    char cause[256];
    ct_err e;
    ct_store_write_cause(s, rc, &e, cause, sizeof cause);
    ct_log(CT_LOG_WARN,
           "person-state checkpoint skipped at close; the next start replays these states "
           "from the log",
           "err=%s cause=\"%s\" states=%zu from_seq=%llu to_seq=%llu data=%s", ct_err_name(e),
           cause, s->dirty.n, (unsigned long long)(p + 1), (unsigned long long)h, s->dir);
}
