/* ct_store_persons.c — a writer's person states: the batch overlay, the
 * pending (committed, not yet written) states, the generation being written
 * to "persons" slice by slice, the full checkpoint, and the replay that
 * rebuilds them from the log.
 *
 * Why: person hashes are random keys, so writing a person's state in every
 * batch dirties one random B-tree leaf per new person per commit, which
 * bounds ingest. The states are kept in memory and written in bulk; and so
 * that no single commit carries many leaves (stalling every ack behind it),
 * a batch writes only a bounded slice of a frozen generation.
 *
 * The layout. A "persons" key is run (8 BE) || person key (program ||
 * person hash), run = the seq F of the generation (or the head of the full
 * checkpoint) that wrote it. A generation writes its states in person-key
 * order under its run, which is larger than every run stored: each put is an
 * append at the right edge of the B-tree (MDB_APPEND), ~1 leaf per ~50
 * states whatever the store's size. A person is held under one run only:
 * writing it under a new run deletes it from its old run in the same
 * transaction (a random leaf, only for a person whose state changed again).
 * The index (ct_pindex, built at a writer's open by one cursor pass, changed
 * only after a transaction commits: pend) names, for every stored person
 * key, its run; a lookup that misses the maps asks LMDB only for the runs
 * the index names (none at all for a person never stored).
 *
 * The invariant. Let H = the committed meta "head" seq, P = the committed
 * meta "persons_seq" (absent: P = H) and, while a generation is partly
 * written, (F, W) = the committed meta "persons_gen" (F: 8 BE, W: a person
 * key); absent: F = P and no key is <= W.
 *   (1) P <= F <= H; every person key k is held under at most one run r,
 *       r <= F; its value is the state after applying log[1..F] to the
 *       empty state with ct_tally_entry if r == F and k <= W, else the
 *       state after log[1..P]; a key that is not held has the empty state
 *       after log[1..P] (and after log[1..F] if k <= W).
 *   (2) For a writer between calls, "persons" overlaid with `frozen`, then
 *       with `dirty`, == the states after log[1..H]: frozen holds the state
 *       after log[1..gen_seq] of exactly the persons changed by a record
 *       with seq in (P, gen_seq] (gen_seq = F once its first slice
 *       committed; empty when no generation is in progress), and dirty the
 *       latest state of exactly the persons changed in (gen_seq, H] (in
 *       (P, H] without a generation).
 *   (3) `overlay` holds the states changed by the batch or import chunk in
 *       progress (seq > H); it is empty between calls.
 *   (4) A writer's index holds exactly one entry per key of "persons" as
 *       committed, naming its run.
 * ct_store_persons_get reads overlay, dirty, frozen, then "persons", so the
 * tally of record seq always sees the states after log[1..seq-1].
 *
 * Writes. "persons" is written only here:
 *   - a slice (ct_store_persons_write, with a batch or a follower's import
 *     chunk): the next entries of frozen in key order under run F, each
 *     deleted from its older run, and persons_gen := (F, last key written); the
 *     slice that completes the generation sets persons_seq := F and deletes
 *     persons_gen instead. Every key <= W that is in frozen was written (key
 *     order); every other key <= W had no record in (P, F], so its state
 *     after log[1..P] is its state after log[1..F]: (1) holds. A generation
 *     is frozen (dirty becomes frozen, gen_seq := the committed head) at the
 *     start of a batch, when dirty is due and no generation is in progress;
 *     memory only. Due: ckpt_max states or ckpt_age_ms old. A slice
 *     holds 1.5 x the states its batch changed (at least ckpt_max / 32), so
 *     a generation is written before the next one is due: memory stays
 *     within about 2 generations of states.
 *   - a full checkpoint (ct_store_persons_checkpoint: with a batch when the
 *     checkpoint size is 0, with every rebuild import chunk, at close): every
 *     frozen, dirty and overlay state (merged, newest wins) under run = the
 *     head the transaction commits, persons_seq := that head, persons_gen
 *     deleted.
 * Runs only grow: a generation is frozen at the committed head, above the
 * run of every earlier generation or checkpoint (its states come from
 * records after them), so a slice appends. A put that finds a larger key
 * (none is expected) falls back to an ordinary put.
 * A transaction that aborts leaves nothing of its slice or its overlay on
 * disk; gen_next falls back to gen_done and (1)-(3) hold as before.
 *
 * Crashes. A crash at any point loses only memory: LMDB keeps the last
 * committed transaction, in which (1) holds (a slice's deletes and puts
 * commit together). A writer's open
 * (ct_store_persons_replay; ct_store_set_campaign when the campaign comes
 * after the open) first completes a partly written generation: log(P..F]
 * re-applied on top of "persons" for the keys above W only, written as the
 * rest of generation F (persons_seq := F); then log(F..H] as a generation of
 * its own (persons_seq := H). One record may change two states (a
 * correction moving a sign-up to the other program: keys (p, h) and (np, h));
 * if such a record in (P..F] has one key <= W and the other above, the state
 * of the first before it is no longer at hand ("persons" holds it as of F):
 * then "persons" is emptied with persons_seq := 0 in one transaction (which
 * holds (1) with P = F = 0) and the whole log is replayed. Rare (a crash
 * while a generation was partly written, and such a correction inside it)
 * and slower (the replay holds every person state), never wrong. Both are written in key order, at
 * most replay_chunk() states per transaction, each commit a slice under (1), so a crash or a full
 * disk in the middle leaves a store the next open completes, and no transaction holds more than a
 * bounded number of dirty pages. Counts are not touched (they were committed with their batches).
 * H - P stays within about 2 generations, so the replay's length does not
 * grow with the store beyond 2 x ckpt_max (the index's cursor pass does:
 * one pass over "persons"). If a commit fails (disk or map
 * full) the open fails naming the cause, and the next open replays what is
 * left. ct_store_close writes a full checkpoint; if it cannot, it logs what
 * it skipped and the next open replays it. A reopen after MDB_PANIC drops
 * every state in memory and replays like an open.
 */
#include "ct_store_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_log.h"
#include "ct_tally.h"
#include "ct_time.h"

/* meta "persons_gen": F (8 BE) || W (a person key); see the top. */
#define GEN_MARK_LEN (8 + CT_PERSON_KEY_LEN)
/* How many keys ahead a loop over many keys prefetches their index slots
 * (each a cache miss in a table of ~100 MB at 10M persons). */
#define PREFETCH_AHEAD 16

/* The "persons" key of key under run. */
static void run_key(uint64_t run, const uint8_t key[CT_PERSON_KEY_LEN],
                    uint8_t out[CT_PERSONS_KEY_LEN])
{
    ct_be64_put(out, run);
    memcpy(out + 8, key, CT_PERSON_KEY_LEN);
}

int ct_store_persons_get(ct_store *s, MDB_txn *t, const uint8_t key[CT_PERSON_KEY_LEN],
                         ct_person_state *st, bool *found)
{
    *found = true;
    if (ct_pmap_get(&s->overlay, key, st) || ct_pmap_get(&s->dirty, key, st) ||
        ct_pmap_get(&s->frozen, key, st))
        return 0;
    assert(s->pindex_ok);
    *found = false;
    uint32_t fp = ct_pindex_fp(key);
    size_t pos = SIZE_MAX;
    uint64_t run;
    while (ct_pindex_next(&s->pindex, fp, &pos, &run)) {
        uint8_t kb[CT_PERSONS_KEY_LEN];
        run_key(run, key, kb);
        MDB_val k = {sizeof kb, kb}, v;
        int rc = mdb_get(t, s->persons, &k, &v);
        if (rc == MDB_NOTFOUND) continue; /* another key's fingerprint */
        if (rc) return rc;
        *found = true;
        return ct_person_state_decode(v.mv_data, v.mv_size, st) ? MDB_CORRUPTED : 0;
    }
    return 0;
}

void ct_store_persons_prefetch(const ct_store *s, const uint8_t key[CT_PERSON_KEY_LEN])
{
    ct_pmap_prefetch(&s->dirty, key, 0);
    ct_pmap_prefetch(&s->frozen, key, 0);
    if (s->pindex_ok) ct_pindex_prefetch_lookup(&s->pindex, ct_pindex_fp(key));
}

int ct_store_persons_set(ct_store *s, const uint8_t key[CT_PERSON_KEY_LEN],
                         const ct_person_state *st)
{
    assert(!s->read_only);
    return ct_pmap_put(&s->overlay, key, st) ? ENOMEM : 0;
}

/* dirty (with extra more states) holds a generation: ckpt_max states, or
 * its oldest is ckpt_age_ms old. A slice appends its states at the right
 * edge of "persons" (run F is the largest), so a generation's cost per state
 * does not depend on the store's size, and a small generation keeps memory
 * and the restart replay short. */
static bool dirty_due(const ct_store *s, size_t extra)
{
    size_t pending = s->dirty.n + extra;
    if (!pending) return false;
    if (pending >= s->ckpt_max) return true;
    return s->dirty.n && ct_monotonic_ms() - s->dirty_since_ms >= s->ckpt_age_ms;
}

bool ct_store_persons_due(const ct_store *s)
{
    return s->frozen.n || dirty_due(s, s->overlay.n);
}

static int by_key(const void *a, const void *b)
{
    return memcmp((*(const ct_pmap_entry *const *)a)->key, (*(const ct_pmap_entry *const *)b)->key,
                  CT_PERSON_KEY_LEN);
}

/* Records an index change of the transaction in progress (see pend). */
static int pend_add(ct_store *s, size_t pos, uint32_t fp)
{
    if (s->pend_n == s->pend_cap) {
        size_t nc = s->pend_cap ? s->pend_cap * 2 : 1024;
        struct ct_store_pend *np = realloc(s->pend, nc * sizeof *np);
        if (!np) return ENOMEM;
        s->pend = np;
        s->pend_cap = nc;
    }
    s->pend[s->pend_n].pos = pos;
    s->pend[s->pend_n].fp = fp;
    s->pend_n++;
    return 0;
}

/* Moves key to run in t: deletes it from the run the index names (a person
 * is held under one run only) and records the index change. */
static int unlink_old(ct_store *s, MDB_txn *t, const uint8_t key[CT_PERSON_KEY_LEN], uint64_t run)
{
    uint32_t fp = ct_pindex_fp(key);
    size_t pos = SIZE_MAX;
    uint64_t old;
    while (ct_pindex_next(&s->pindex, fp, &pos, &old)) {
        uint8_t kb[CT_PERSONS_KEY_LEN];
        run_key(old, key, kb);
        MDB_val k = {sizeof kb, kb}, v;
        int rc = old == run ? mdb_get(t, s->persons, &k, &v) : mdb_del(t, s->persons, &k, NULL);
        if (rc == MDB_NOTFOUND) continue; /* another key's fingerprint */
        if (rc) return rc;
        return pend_add(s, pos, fp);
    }
    return pend_add(s, SIZE_MAX, fp);
}

/* Writes the states order[0..n) of m (in key order) to "persons" under run:
 * appends when run is the largest run stored (the usual case). */
static int write_entries(ct_store *s, MDB_txn *t, const ct_pmap *m, const ct_pmap_entry **order,
                         size_t n, uint64_t run)
{
    assert(s->pindex_ok && (s->pend_n == 0 || s->pend_run == run));
    s->pend_run = run;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        assert(i == 0 || memcmp(order[i - 1]->key, order[i]->key, CT_PERSON_KEY_LEN) < 0);
        if (i + 2 * PREFETCH_AHEAD < n) /* the entry, then its index lookup */
            __builtin_prefetch(order[i + 2 * PREFETCH_AHEAD]);
        if (i + PREFETCH_AHEAD < n)
            ct_pindex_prefetch_lookup(&s->pindex, ct_pindex_fp(order[i + PREFETCH_AHEAD]->key));
        ct_person_state st;
        ct_pmap_entry_state(m, order[i], &st);
        uint8_t enc[CT_PERSON_STATE_MAX], kb[CT_PERSONS_KEY_LEN];
        size_t len = 0;
        if (ct_person_state_encode(&st, enc, &len) != CT_OK) return EINVAL;
        if ((rc = unlink_old(s, t, order[i]->key, run))) break;
        run_key(run, order[i]->key, kb);
        MDB_val key = {sizeof kb, kb}, val = {len, enc};
        rc = mdb_put(t, s->persons, &key, &val, MDB_APPEND);
        if (rc == MDB_KEYEXIST) /* a key above it is stored under this run */
            rc = mdb_put(t, s->persons, &key, &val, 0);
    }
    return rc;
}

/* Writes every state of m to "persons" under run, in key order. */
static int write_map(ct_store *s, MDB_txn *t, const ct_pmap *m, uint64_t run)
{
    if (!m->n) return 0;
    const ct_pmap_entry **order = malloc(m->n * sizeof *order);
    if (!order) return ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        order[i] = &m->entries[i];
    qsort(order, m->n, sizeof *order, by_key);
    int rc = write_entries(s, t, m, order, m->n, run);
    free(order);
    return rc;
}

/* Copies the states of entries [0, n) of from into to (a later copy of a
 * key replaces an earlier one). */
static int merge_into(ct_pmap *to, const ct_pmap *from, const ct_pmap_entry **order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ct_pmap_entry *e = order ? order[i] : &from->entries[i];
        ct_person_state st;
        ct_pmap_entry_state(from, e, &st);
        if (ct_pmap_put(to, e->key, &st)) return ENOMEM;
    }
    return 0;
}

/* persons_seq := seq, no generation in progress. */
static int marks_done(ct_store *s, MDB_txn *t, uint64_t seq)
{
    uint8_t b[8];
    ct_be64_put(b, seq);
    int rc = meta_put(t, s->meta, "persons_seq", b, sizeof b);
    if (rc) return rc;
    MDB_val k = {sizeof "persons_gen" - 1, (void *)"persons_gen"};
    rc = mdb_del(t, s->meta, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ct_store_persons_checkpoint(ct_store *s, MDB_txn *t, uint64_t seq)
{
    /* the generation's unwritten rest, then dirty, then overlay, merged
     * (each is newer than the one before for a key in both) and written
     * once each under run seq */
    int rc = 0;
    size_t rest = s->frozen.n - s->gen_done;
    const ct_pmap *m = NULL;
    if (!s->frozen.n && !s->dirty.n)
        m = &s->overlay;
    else if (!s->frozen.n && !s->overlay.n)
        m = &s->dirty;
    if (m) {
        rc = write_map(s, t, m, seq);
    } else {
        ct_pmap_clear(&s->merged);
        if (s->frozen.n) rc = merge_into(&s->merged, &s->frozen, s->gen_order + s->gen_done, rest);
        if (!rc) rc = merge_into(&s->merged, &s->dirty, NULL, s->dirty.n);
        if (!rc) rc = merge_into(&s->merged, &s->overlay, NULL, s->overlay.n);
        if (!rc) rc = write_map(s, t, &s->merged, seq);
        ct_pmap_clear(&s->merged);
    }
    return rc ? rc : marks_done(s, t, seq);
}

/* The states of *m become the generation of states after log[1..seq], in
 * key order (memory only); *m is left empty. */
static int freeze(ct_store *s, ct_pmap *m, uint64_t seq)
{
    assert(!s->frozen.n && m->n);
    if (s->gen_order_cap < m->n) {
        size_t cap = m->n + m->n / 2;
        const ct_pmap_entry **o = realloc(s->gen_order, cap * sizeof *o);
        if (!o) return ENOMEM;
        s->gen_order = o;
        s->gen_order_cap = cap;
    }
    ct_pmap tmp = s->frozen;
    s->frozen = *m;
    *m = tmp;
    for (size_t i = 0; i < s->frozen.n; i++)
        s->gen_order[i] = &s->frozen.entries[i];
    qsort(s->gen_order, s->frozen.n, sizeof *s->gen_order, by_key);
    s->gen_seq = seq;
    s->gen_done = s->gen_next = 0;
    return 0;
}

/* States per slice: at least 1.5 x what the batch changed (the generation
 * is written before the pending states are due again), at least 1/32 of a
 * checkpoint. */
static size_t slice_size(const ct_store *s)
{
    size_t k = s->ckpt_max / 32, b = s->overlay.n + s->overlay.n / 2;
    if (k < b) k = b;
    return k ? k : 1;
}

/* Writes the generation's next (at most k) states in t, and the marks: the
 * slice that completes it sets persons_seq := gen_seq; gen_next = its end. */
static int write_slice(ct_store *s, MDB_txn *t, size_t k)
{
    assert(s->frozen.n > s->gen_done && k > 0);
    size_t n = s->frozen.n - s->gen_done;
    if (n > k) n = k;
    const ct_pmap_entry **slice = s->gen_order + s->gen_done;
    int rc = write_entries(s, t, &s->frozen, slice, n, s->gen_seq);
    if (rc) return rc;
    if (s->gen_done + n == s->frozen.n) {
        if ((rc = marks_done(s, t, s->gen_seq))) return rc;
    } else {
        uint8_t b[GEN_MARK_LEN];
        ct_be64_put(b, s->gen_seq);
        memcpy(b + 8, slice[n - 1]->key, CT_PERSON_KEY_LEN);
        if ((rc = meta_put(t, s->meta, "persons_gen", b, sizeof b))) return rc;
    }
    s->gen_next = s->gen_done + n;
    return 0;
}

int ct_store_persons_write(ct_store *s, MDB_txn *t, uint64_t seq0, uint64_t seq, bool *full)
{
    assert(s->gen_next == s->gen_done);
    *full = s->ckpt_max == 0 ? ct_store_persons_due(s) : false;
    if (s->ckpt_max == 0) return *full ? ct_store_persons_checkpoint(s, t, seq) : 0;
    int rc = 0;
    if (!s->frozen.n) {
        if (!dirty_due(s, 0)) return 0;
        if ((rc = freeze(s, &s->dirty, seq0))) return rc;
    }
    return write_slice(s, t, slice_size(s));
}

static void gen_clear(ct_store *s)
{
    ct_pmap_clear(&s->frozen);
    s->gen_done = s->gen_next = 0;
}

/* The transaction that wrote pend committed: the index follows it (moves
 * first: an add may move slots). ENOMEM leaves the index invalid (a reopen
 * rebuilds it). */
static int pend_apply(ct_store *s)
{
    ct_err r = CT_OK;
    for (size_t i = 0; i < s->pend_n && !r; i++) {
        if (i + PREFETCH_AHEAD < s->pend_n && s->pend[i + PREFETCH_AHEAD].pos != SIZE_MAX)
            ct_pindex_prefetch_slot(&s->pindex, s->pend[i + PREFETCH_AHEAD].pos);
        if (s->pend[i].pos != SIZE_MAX)
            r = ct_pindex_set_run(&s->pindex, s->pend[i].pos, s->pend_run);
    }
    for (size_t i = 0; i < s->pend_n && !r; i++) {
        if (i + PREFETCH_AHEAD < s->pend_n && s->pend[i + PREFETCH_AHEAD].pos == SIZE_MAX)
            ct_pindex_prefetch(&s->pindex, s->pend[i + PREFETCH_AHEAD].fp);
        if (s->pend[i].pos == SIZE_MAX) r = ct_pindex_add(&s->pindex, s->pend[i].fp, s->pend_run);
    }
    s->pend_n = 0;
    if (!r) return 0;
    ct_pindex_clear(&s->pindex);
    s->pindex_ok = false;
    return ENOMEM;
}

int ct_store_persons_committed(ct_store *s, bool checkpointed)
{
    int rc = pend_apply(s);
    if (checkpointed) {
        ct_pmap_clear(&s->dirty);
        gen_clear(s);
    } else {
        s->gen_done = s->gen_next;
        if (s->frozen.n && s->gen_done == s->frozen.n) gen_clear(s);
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
    s->gen_next = s->gen_done;
    s->pend_n = 0;
}

void ct_store_persons_forget(ct_store *s)
{
    ct_pmap_clear(&s->overlay);
    ct_pmap_clear(&s->dirty);
    gen_clear(s);
    s->pend_n = 0;
    ct_pindex_clear(&s->pindex);
    s->pindex_ok = false;
}

void ct_store_persons_free(ct_store *s)
{
    ct_pindex_free(&s->pindex);
    ct_pmap_free(&s->merged);
    free(s->pend);
    s->pend = NULL;
    s->pend_n = s->pend_cap = 0;
}

/* Builds the index from "persons" with one cursor pass (a writer's open),
 * and stamps meta "format". A key of another length is a store whose person
 * states are keyed by program || person hash only (chitieu-store-1):
 * CT_ERR_BAD_VERSION. */
static ct_err pindex_build(ct_store *s, char *err, size_t errlen)
{
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    ct_err r = CT_OK;
    const char *what = "mdb_txn_begin";
    ct_pindex_clear(&s->pindex);
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) {
        t = NULL;
        goto lmdb_fail;
    }
    what = "reading \"persons\"";
    int64_t t0 = ct_monotonic_ms();
    MDB_stat st;
    if ((rc = mdb_stat(t, s->persons, &st)) || (rc = mdb_cursor_open(t, s->persons, &c)))
        goto lmdb_fail;
    if ((r = ct_pindex_reserve(&s->pindex, st.ms_entries))) goto nomem;
    enum { AHEAD = 16 };
    uint32_t q_fp[AHEAD];
    uint64_t q_run[AHEAD];
    size_t nq = 0;
    MDB_val k, v;
    int g;
    for (g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != CT_PERSONS_KEY_LEN) {
            ct_store_errf(err, errlen,
                          "%s: person states keyed by the chitieu-store-1 layout (a %zu-byte "
                          "key), this build reads %s; rebuild the store: chitieu-audit export, "
                          "then chitieu-audit rebuild into a fresh directory",
                          s->dir, k.mv_size, CT_STORE_FORMAT);
            r = CT_ERR_BAD_VERSION;
            goto leave;
        }
        /* each key is added AHEAD rows after its slot was prefetched */
        const uint8_t *kb = k.mv_data;
        size_t i = nq++ % AHEAD;
        if (nq > AHEAD && (r = ct_pindex_add(&s->pindex, q_fp[i], q_run[i]))) goto nomem;
        q_fp[i] = ct_pindex_fp(kb + 8);
        q_run[i] = ct_be64_get(kb);
        ct_pindex_prefetch(&s->pindex, q_fp[i]);
    }
    for (size_t j = nq > AHEAD ? nq - AHEAD : 0; j < nq && !r; j++)
        r = ct_pindex_add(&s->pindex, q_fp[j % AHEAD], q_run[j % AHEAD]);
    if (r) goto nomem;
    if (g != MDB_NOTFOUND) {
        rc = g;
        goto lmdb_fail;
    }
    mdb_cursor_close(c);
    c = NULL;
    ct_log(CT_LOG_INFO, "person index built", "persons=%zu runs=%zu bytes=%zu ms=%lld", s->pindex.n,
           s->pindex.n_runs, ct_pindex_bytes(&s->pindex), (long long)(ct_monotonic_ms() - t0));
    what = "writing meta format";
    rc = meta_get(t, s->meta, "format", &v);
    if (rc == 0 && v.mv_size == strlen(CT_STORE_FORMAT) &&
        memcmp(v.mv_data, CT_STORE_FORMAT, v.mv_size) == 0) {
        s->pindex_ok = true;
        goto leave;
    }
    if ((rc = meta_put(t, s->meta, "format", CT_STORE_FORMAT, strlen(CT_STORE_FORMAT))))
        goto lmdb_fail;
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) goto lmdb_fail;
    s->pindex_ok = true;
    goto leave;
nomem:
    ct_store_errf(err, errlen, "%s: no memory for the person index", s->dir);
    goto leave;
lmdb_fail:
    ct_store_errf(err, errlen, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
    r = CT_ERR_LMDB;
leave:
    if (c) mdb_cursor_close(c);
    if (t) mdb_txn_abort(t);
    if (r) ct_pindex_clear(&s->pindex);
    return r;
}

/* The committed marks (see the top): P, H, and F, W (f = p, has_w = false
 * without a generation in progress); *due = P < H. */
typedef struct {
    uint64_t p, h, f;
    bool has_w;
    uint8_t w[CT_PERSON_KEY_LEN];
} marks;

static int read_marks(ct_store *s, MDB_txn *t, marks *m, bool *due)
{
    uint8_t head[CT_LOGREC_HASH_LEN];
    MDB_val v;
    memset(m, 0, sizeof *m);
    *due = false;
    int rc = head_read(t, s->meta, &m->h, head);
    if (!rc) rc = meta_get(t, s->meta, "persons_seq", &v);
    if (rc == MDB_NOTFOUND || (!rc && v.mv_size != 8)) {
        /* a store from before checkpoints: P = H; a malformed one is left
         * to audit verify, as a store without it */
        m->p = m->f = m->h;
        return 0;
    }
    if (rc) return rc;
    m->p = m->f = ct_be64_get(v.mv_data);
    rc = meta_get(t, s->meta, "persons_gen", &v);
    if (rc == 0) {
        if (v.mv_size != GEN_MARK_LEN) return MDB_CORRUPTED;
        m->f = ct_be64_get(v.mv_data);
        memcpy(m->w, (const uint8_t *)v.mv_data + 8, CT_PERSON_KEY_LEN);
        m->has_w = true;
        if (m->f < m->p || m->f > m->h) return MDB_CORRUPTED;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    *due = m->p < m->h;
    return 0;
}

/* Re-applies log[from..to] into the overlay inside t (person states only:
 * the counters were committed with their batches), skipping the records
 * whose person keys are all <= *w (when w is given: those are in
 * "persons"). A record with keys on both sides of *w (a correction moving a
 * sign-up to the other program) cannot be re-applied on these states: the
 * replay stops with *straddle = true (the caller starts over from seq 1). A
 * record that does not decode, or that the rule refuses (it was applied when
 * logged), is CT_ERR_STORE_CORRUPT with *bad = its seq. */
static ct_err replay_records(ct_store *s, MDB_txn *t, uint64_t from, uint64_t to, const uint8_t *w,
                             uint64_t *n, int *lmdb_rc, bool *straddle, uint64_t *bad)
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
    ct_entry *e = &s->imp_entry;
    int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; g == 0; g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ct_logrec rec;
        *bad = k.mv_size == 8 ? ct_be64_get(k.mv_data) : 0;
        if (k.mv_size != 8 || ct_logrec_decode(v.mv_data, v.mv_size, &rec) != CT_OK ||
            rec.seq != ct_be64_get(k.mv_data) ||
            ct_entry_decode(rec.event, rec.event_len, e, NULL) != CT_OK) {
            r = CT_ERR_STORE_CORRUPT;
            break;
        }
        if (rec.seq > to) break;
        uint8_t keys[2][CT_PERSON_KEY_LEN];
        size_t nk = ct_store_entry_persons(e, keys), below = 0;
        if (nk == 0) continue; /* changes no person state */
        for (size_t i = 0; w && i < nk; i++)
            below += memcmp(keys[i], w, CT_PERSON_KEY_LEN) <= 0;
        if (below == nk && w) continue;
        if (below) {
            *straddle = true;
            break;
        }
        ct_tally_in in;
        ct_tally_in_make(s->campaign, e, rec.seq, rec.received_ms, &in);
        if ((rc = ct_store_tally_run(s, t, false, e, &in, &s->res))) break;
        if (s->res.refused != CT_OK) {
            r = CT_ERR_STORE_CORRUPT;
            break;
        }
        for (size_t i = 0; i < s->res.n_persons && !rc; i++) {
            uint8_t pk[CT_PERSON_KEY_LEN];
            ct_person_key(s->res.persons[i].program, s->res.persons[i].person, pk);
            rc = ct_store_persons_set(s, pk, &s->res.persons[i].state);
        }
        if (rc) break;
        (*n)++;
    }
    if (!rc && !r && g != 0 && g != MDB_NOTFOUND) rc = g;
    if (rc && !r) r = CT_ERR_LMDB;
    *lmdb_rc = rc;
    mdb_cursor_close(c);
    return r;
}

/* States per transaction of a replay: a bounded number of dirty pages. */
static size_t replay_chunk(const ct_store *s)
{
    return s->ckpt_max ? s->ckpt_max / 4 + 1 : SIZE_MAX;
}

/* One step of the replay: log[from..to] re-applied on top of "persons"
 * (skipping keys <= *w, see replay_records), inside *tp, then written as the
 * generation of states after log[1..to], replay_chunk() states per
 * transaction (the first is *tp; each is committed here; the last sets
 * persons_seq := to). On return *tp is NULL, except after *straddle (then
 * nothing was written and *tp is still open); on failure *rc and *what say
 * what failed and every committed chunk holds invariant (1). */
static ct_err replay_gen(ct_store *s, MDB_txn **tp, uint64_t from, uint64_t to, const uint8_t *w,
                         uint64_t *n, int *rc, const char **what, bool *straddle, uint64_t *bad)
{
    *what = "person-state replay";
    ct_err r = replay_records(s, *tp, from, to, w, n, rc, straddle, bad);
    if (r || *straddle) return r;
    if (!s->overlay.n) {
        if ((*rc = marks_done(s, *tp, to))) return CT_ERR_LMDB;
    } else {
        if ((*rc = freeze(s, &s->overlay, to))) return CT_ERR_LMDB;
        if ((*rc = write_slice(s, *tp, replay_chunk(s)))) return CT_ERR_LMDB;
    }
    for (;;) {
        *what = "person-state replay commit";
        *rc = mdb_txn_commit(*tp);
        *tp = NULL;
        if (*rc) return CT_ERR_LMDB;
        *what = "person index";
        if ((*rc = pend_apply(s))) return CT_ERR_NOMEM;
        s->gen_done = s->gen_next;
        if (s->gen_done == s->frozen.n) break;
        *what = "mdb_txn_begin";
        if ((*rc = mdb_txn_begin(s->env, NULL, 0, tp))) {
            *tp = NULL;
            return CT_ERR_LMDB;
        }
        *what = "person-state replay";
        if ((*rc = write_slice(s, *tp, replay_chunk(s)))) return CT_ERR_LMDB;
    }
    gen_clear(s);
    return CT_OK;
}

ct_err ct_store_persons_replay(ct_store *s, char *err, size_t errlen)
{
    assert(!s->read_only && s->env && !s->imp_txn && s->overlay.n == 0);
    assert(s->dirty.n == 0 && s->frozen.n == 0);
    MDB_txn *t = NULL;
    marks m;
    uint64_t n = 0;
    bool due;
    ct_err r = s->pindex_ok ? CT_OK : pindex_build(s, err, errlen);
    if (r) return r;
    const char *what = "mdb_txn_begin";
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) {
        t = NULL;
        goto lmdb_fail;
    }
    what = "reading meta";
    if ((rc = read_marks(s, t, &m, &due))) goto lmdb_fail;
    if (!due) goto leave;
    if (!s->campaign) { /* done by ct_store_set_campaign() */
        s->replay_due = true;
        goto leave;
    }
    ct_counts_clear(&s->delta);
    /* first the generation a crash left partly written: the keys above W,
     * as of F; then log(F..H] as a generation of its own */
    bool straddle = false;
    uint64_t bad = 0;
    if (m.has_w) r = replay_gen(s, &t, m.p + 1, m.f, m.w, &n, &rc, &what, &straddle, &bad);
    if (!r && straddle) {
        /* a correction across W in (P..F]: the states before it are not
         * all at hand; start over from the empty state (P = F = 0) */
        ct_log(CT_LOG_WARN, "person states replayed from seq 1",
               "reason=\"a correction moving a sign-up between programs lies across a partly "
               "written generation\" seq=%llu",
               (unsigned long long)bad);
        ct_pmap_clear(&s->overlay);
        what = "person-state reset";
        if ((rc = mdb_drop(t, s->persons, 0)) || (rc = marks_done(s, t, 0))) {
            r = CT_ERR_LMDB;
        } else {
            rc = mdb_txn_commit(t);
            t = NULL;
            if (rc) {
                r = CT_ERR_LMDB;
                s->pindex_ok = false;
            }
            ct_pindex_clear(&s->pindex);
        }
        m.p = m.f = 0;
        n = 0;
        straddle = false;
    }
    if (!r && !t && (rc = mdb_txn_begin(s->env, NULL, 0, &t))) {
        t = NULL;
        what = "mdb_txn_begin";
        r = CT_ERR_LMDB;
    }
    if (!r) r = replay_gen(s, &t, m.f + 1, m.h, NULL, &n, &rc, &what, &straddle, &bad);
    ct_counts_clear(&s->delta); /* counts were committed with their batches */
    if (r == CT_ERR_STORE_CORRUPT) {
        ct_store_errf(err, errlen,
                      "%s: log record seq %llu does not decode, or the tally rule refuses it, "
                      "during the person-state replay",
                      s->dir, (unsigned long long)bad);
        goto leave;
    }
    if (r) goto write_fail;
    ct_log(CT_LOG_INFO, "person states replayed from the log",
           "records=%llu from_seq=%llu generation_seq=%llu", (unsigned long long)n,
           (unsigned long long)(m.p + 1), (unsigned long long)m.f);
    goto leave;
write_fail : {
    char cause[256];
    ct_store_write_cause(s, rc, &r, cause, sizeof cause);
    if (r != CT_ERR_MAP_FULL && r != CT_ERR_DISK_FULL) r = CT_ERR_LMDB;
    ct_store_errf(err, errlen,
                  "%s: %s of seq %llu..%llu failed: %s; nothing is lost (the log holds every "
                  "record): the replay runs again at the next start",
                  s->dir, what, (unsigned long long)(m.p + 1), (unsigned long long)m.h, cause);
    goto leave;
}
lmdb_fail:
    ct_store_errf(err, errlen, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
    r = CT_ERR_LMDB;
leave:
    if (t) mdb_txn_abort(t);
    ct_pmap_clear(&s->overlay);
    gen_clear(s);
    s->pend_n = 0;
    return r;
}

void ct_store_persons_close(ct_store *s)
{
    if (!s->env || s->need_reopen || (!s->dirty.n && !s->frozen.n)) return;
    MDB_txn *t = NULL;
    marks m = {0};
    bool due;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) t = NULL;
    if (!rc) rc = read_marks(s, t, &m, &due);
    if (!rc) rc = ct_store_persons_checkpoint(s, t, m.h);
    if (!rc) {
        rc = mdb_txn_commit(t);
        t = NULL;
    }
    if (t) mdb_txn_abort(t);
    s->pend_n = 0; /* closing: the index is not used again */
    if (!rc) {
        ct_pmap_clear(&s->dirty);
        gen_clear(s);
        return;
    }
    char cause[256];
    ct_err e;
    ct_store_write_cause(s, rc, &e, cause, sizeof cause);
    ct_log(CT_LOG_WARN,
           "person-state checkpoint skipped at close; the next start replays these states "
           "from the log",
           "err=%s cause=\"%s\" states=%zu from_seq=%llu to_seq=%llu data=%s", ct_err_name(e),
           cause, s->dirty.n + s->frozen.n - s->gen_done, (unsigned long long)(m.p + 1),
           (unsigned long long)m.h, s->dir);
}
