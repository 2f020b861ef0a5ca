/* ct_storekit.h — the store tests' shared kit: the built-in lamdong-2023
 * campaign (loaded once per test executable), temporary directories, stores
 * opened on them, encoded events as ingest would hand them to the store,
 * batches applied from them, a consistency check that recounts the log
 * with the tally rule, and the LMDB file of a closed store read directly.
 *
 * Every helper asserts through cmocka: a failure ends the running test case.
 * Events are made in district 672, by one of three agents chosen by the
 * event's id sequence, with a fixed origin; items are received at
 * SK_T0 + 1000 ms from the "insecure" collector.
 */
#ifndef CT_STOREKIT_H
#define CT_STOREKIT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_counts.h"
#include "ct_event.h"
#include "ct_logrec.h"
#include "ct_store.h"
#include "ct_testkit.h"
#include "ct_wire.h"

/* 2023-07-25T08:00:00+07:00 */
#define SK_T0 ((int64_t)1690246800000)

/* the campaign every store of the kit is opened with (sk_campaign_load) */
extern ct_campaign sk_camp;

typedef ct_tmpdir sk_tmpdir;

/* An event and its encoding, as ingest would hand it to the store. */
typedef struct {
    ct_event ev;
    ct_buf raw;
} sk_tev;

/* Loads sk_camp; 0 or 1 (reason on stderr). For main(), before the tests. */
int sk_campaign_load(void);
void sk_campaign_free(void);

void sk_tmp_make(sk_tmpdir *t);
void sk_tmp_remove(sk_tmpdir *t);

/* Opens a store on dir for campaign (map 0 = the store's default) without
 * giving it a campaign; *rc and err[errlen] say how it went. */
ct_store *sk_open_raw(const char *dir, size_t map, const char *campaign, ct_err *rc, char *err,
                      size_t errlen);
/* Opens a store on dir and sets sk_camp on it; *rc says how it went. */
ct_store *sk_open_store(const char *dir, size_t map, const char *campaign, ct_err *rc);
/* sk_open_store with sk_camp's id, asserted to succeed. */
ct_store *sk_open_ok(const char *dir, size_t map);
/* The store's head seq. */
uint64_t sk_head(ct_store *s);

/* Makes and encodes one event of person (4 bytes, the rest zero). */
void sk_tev_make(sk_tev *t, uint64_t idseq, uint32_t person, ct_program p, ct_action a,
                 const char *group, int64_t t_ms);
void sk_item_of(ct_store_item *it, sk_tev *t);
/* Applies evs[0..n) as one batch (items: n slots of scratch). */
ct_err sk_apply(ct_store *s, sk_tev *evs, size_t n, ct_store_item *items, ct_store_commit *c);
/* The store's count of kind k, program p, unit, dimension dim[dim_len]. */
int64_t sk_count(ct_store *s, ct_count_kind k, ct_program p, uint32_t unit, const void *dim,
                 size_t dim_len);
/* The store's count of kind k, program p, district 672. */
int64_t sk_count_of(ct_store *s, ct_count_kind k, ct_program p);
/* Scans the log, recounts, checks the chain and compares with the store. */
void sk_assert_consistent(ct_store *s, uint64_t expect_seq);
void sk_tevs_free(sk_tev *t, size_t n);

/* A log_scan callback importing each record into dst (an audit rebuild or a
 * follower's chunk); the record of seq fail_at (0 = none) has its body changed
 * with its hash kept. first_err: the import's first failure. */
typedef struct {
    ct_store *dst;
    int fail_at; /* tamper with this seq (0 = none) */
    ct_err first_err;
} sk_import_ctx;

ct_err sk_import_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg);

/* The LMDB file of a closed store, read (or written) directly: a
 * transaction on it and its "meta" table. */
typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
} sk_raw;

/* Opens dir's environment and begins a transaction (read-only unless
 * write); asserted to succeed. */
void sk_raw_open(sk_raw *r, const char *dir, bool write);
/* Commits (write) or aborts the transaction, asserted, and closes. */
void sk_raw_close(sk_raw *r, bool commit);

#endif
