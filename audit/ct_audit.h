/* ct_audit.h — the audit engine: walks log records in order (from the store
 * or a .ctlog file), checks seq continuity and the hash chain, decodes each
 * entry (an enrollment event or a campaign life entry, ct_entry_decode),
 * checks it against the campaign, checks that a void or correction names a
 * record the walk has seen (an enroll event with that id, person and unit
 * at that seq), and recounts with the tally rule (ct_tally_entry — the same
 * code the aggregator counts with) over its own counters and person map.
 * An entry the rule refuses is a divergence: the aggregator never logs one.
 *
 * Usage: ct_audit_init; ct_audit_run over a source (or feed every record to
 * ct_audit_record: it has the signature of ct_store_log_cb / ct_ctlog_cb,
 * then ct_audit_finish); read the result with ct_audit_result; ct_audit_free.
 * The commands built on it (verify, replay, rebuild, export, trace) are
 * ct_verify.h, ct_replay.h, ct_rebuild.h, ct_export.h and ct_trace.h.
 *
 * The FIRST divergence stops the walk and is described precisely in
 * a->finding ("seq N: hash mismatch (record altered or reordered)", "seq N
 * missing (log jumps from N-1 to M)", ...). On a seq jump the walk continues
 * without counting to tell a deleted record (never seen) from a reordered one
 * (seen later): both name the first seq that is not where it belongs.
 */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_counts.h"
#include "ct_ctlog.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_pmap.h"
#include "ct_store.h"
#include "ct_tally.h"

/* One applied log entry: exactly one of ev and life is non-NULL. */
typedef struct {
    const ct_logrec *rec;
    const ct_entry *entry;
    const ct_event *ev;  /* an enrollment event, else NULL */
    const ct_life *life; /* a life entry, else NULL */
    uint32_t local_day;  /* event: campaign-local day of its occurred-at; else 0 */
    ct_tally_outcome outcome;
    const ct_tally_entry_result *res; /* the counter changes and person states applied */
} ct_audit_event;

/* Called once per counted record (after the tally): CT_OK goes on, CT_STOP
 * ends the walk, another code ends it as a runtime failure (a->err). */
typedef ct_err (*ct_audit_event_cb)(const ct_audit_event *ae, void *arg);

typedef struct {
    const ct_campaign *campaign;
    uint64_t stop_seq;    /* 0 = none: records with seq > stop_seq end the walk */
    int64_t stop_time_ms; /* INT64_MAX = none: first record received after it ends the walk */
    ct_store *ids_store;  /* non-NULL: keep per-seq id fingerprints for ct_audit_check_ids */
    ct_audit_event_cb on_event;
    void *arg;
    const char *progress;    /* non-NULL: a progress line on stderr every second, this label */
    uint64_t progress_total; /* for "of N" in the progress line, 0 = unknown */
    unsigned threads;        /* threads doing the per-record checks (chain hash, event
                                decode, campaign and ids checks), the caller's included
                                (threads - 1 workers; the caller checks batches while it
                                waits for them); 0 or 1 = everything in the caller's thread */
} ct_audit_opts;

struct ct_audit_pool;

/* The engine's state. Its fields are PRIVATE to ct_audit.c (the struct is
 * here so callers can hold one on the stack): read results with
 * ct_audit_result, never from the fields. */
typedef struct {
    ct_audit_opts o;
    uint64_t expect;                  /* next expected seq */
    uint64_t last_seq;                /* last seq applied (first - 1 before any) */
    uint8_t head[CT_LOGREC_HASH_LEN]; /* hash of record last_seq (prev before any) */
    int64_t last_received_ms;
    uint64_t n_records; /* records applied */
    ct_pmap persons;
    ct_counts counts;
    bool stopped; /* the walk ended at stop_seq / stop_time_ms */
    bool diverged;
    uint64_t bad_seq;
    char finding[512];
    ct_err err; /* runtime failure (nomem, store error), CT_OK otherwise */
    /* seq-jump lookahead */
    uint64_t missing, jump_to, missing_prev;
    /* progress */
    int64_t t0_ms, next_progress_ms;
    ct_campaign_checker *checker; /* the calling thread's (NULL: plain checks) */
    /* pipeline (threads > 1): records are batched, checked by workers, and
     * tallied here in scan order */
    struct ct_audit_pool *pool;
    uint8_t scan_prev[CT_LOGREC_HASH_LEN]; /* stored hash of the last record scanned */
    bool halt;                             /* stage 2 stopped: tell the scanner */
    uint64_t corrupt_seq; /* a stored record that does not decode or holds another seq
                             (stage 2 reached it: the walk ends there) */
    uint64_t first_seq;
    uint64_t *idfp; /* [seq - first_seq]: id fingerprints (when ids_store) */
    size_t idfp_cap;
    uint64_t *tfp; /* [seq - first_seq]: what a void/correct may name (enroll id, person,
                      unit; 0 for other records) */
    size_t tfp_cap;
    uint64_t n_life;      /* life entries applied */
    uint64_t n_unapplied; /* partial walk (first_seq > 1): entries refused for want of
                             the log before first_seq (not a divergence there) */
    bool any_close;       /* a CLOSE counter was ever changed (until then every one is 0) */
    ct_buf more;          /* further findings, one per line (every differing counter) */
} ct_audit;

/* What a walk established, valid until the next call on a (pointers into it). */
typedef struct {
    bool diverged;                    /* finding says where and how */
    uint64_t bad_seq;                 /* the seq the finding names */
    const char *finding;              /* "" when not diverged */
    bool stopped;                     /* ended at opts.stop_seq / stop_time_ms */
    uint64_t first_seq;               /* as given to ct_audit_init */
    uint64_t last_seq;                /* last record applied (first_seq - 1 before any) */
    uint8_t head[CT_LOGREC_HASH_LEN]; /* its hash (prev before any) */
    int64_t last_received_ms;
    uint64_t n_records;   /* records applied */
    size_t n_persons;     /* (program, person) states */
    uint64_t n_life;      /* life entries applied */
    uint64_t n_unapplied; /* see ct_audit.n_unapplied */
    const char *more;     /* further findings, one per line, "" when none */
    const ct_counts *counts;
} ct_audit_result;

void ct_audit_result_get(const ct_audit *a, ct_audit_result *out);

/* Where records come from: exactly one of store (read from seq 1) and file. */
typedef struct {
    ct_store *store;
    ct_ctlog_reader *file;
    const char *name;       /* the directory or file, for messages */
    ct_ctlog_reader reader; /* file points here when ct_audit_src_open opened one */
} ct_audit_src;

/* Opens exactly one of dir (a store, read-only: safe beside a live
 * aggregator) and file (a .ctlog export) for campaign c; the source owns what
 * it opened until ct_audit_src_close. CT_ERR_USAGE (the caller's mistake:
 * both or neither given, no such directory or file, another campaign's
 * store or export) or another code (a damaged source), with the message in
 * err. */
ct_err ct_audit_src_open(ct_audit_src *src, const ct_campaign *c, const char *dir, const char *file,
                         char *err, size_t errlen);
void ct_audit_src_close(ct_audit_src *src);

/* Walks the source through the engine (records 1..to_seq of a store, 0 = to
 * the end; a whole file) and finishes the walk. A record that does not
 * decode becomes the finding. Returns CT_OK, or a runtime failure (no
 * memory, store error) with a message in err. */
ct_err ct_audit_run(ct_audit *a, const ct_audit_src *src, uint64_t to_seq, char *err,
                    size_t errlen);

/* first_seq: seq of the first record expected; prev: hash of record
 * first_seq - 1 (zeros for 1). Cannot fail: without worker threads, their
 * buffers or the checker's memo, the engine runs in the caller's thread and
 * checks without the memo (same results). */
void ct_audit_init(ct_audit *a, const ct_audit_opts *o, uint64_t first_seq,
                   const uint8_t prev[CT_LOGREC_HASH_LEN]);
/* CT_OK to go on; CT_STOP once the walk has ended (a divergence, the stop
 * position); a->err (CT_ERR_NOMEM, a callback's error) on a runtime failure. */
ct_err ct_audit_record(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg);
/* Drains the pipeline (all records fed so far are tallied), stops the workers
 * and resolves a pending seq jump (-> "missing"). */
void ct_audit_finish(ct_audit *a);
/* Also safe on a zeroed ct_audit (one ct_audit_init never ran on). */
void ct_audit_free(ct_audit *a);

/* After a clean walk of a store from seq 1: checks the ids database against
 * the log in both directions — every entry maps an event id to the seq of the
 * record holding that event, with the BLAKE2b-128 of its bytes, and every
 * record has exactly one entry. Sets the finding on a difference
 * ("seq N: event id <hex> is missing from the ids index", ...). */
ct_err ct_audit_check_ids(ct_audit *a, ct_store *s);

/* A progress line on stderr at most once a second for the passes other than
 * the walk (import, export); label NULL: quiet. */
typedef struct {
    const char *label;
    uint64_t total;
    int64_t t0, next;
} ct_audit_progress;

void ct_audit_progress_tick(ct_audit_progress *p, uint64_t seq, uint64_t done);

/* Marks a divergence at seq (printf-style finding) unless one is already set. */
void ct_audit_diverge(ct_audit *a, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Default opts.threads: the online CPUs, at most 4 (at least 1). */
unsigned ct_audit_default_threads(void);

/* Per program: "bhxh_tn net=N gross=N cancelled=N repeat=N". */
void ct_audit_print_totals(FILE *f, const ct_counts *c);

/* Compares stored counts with the recount; on a difference fills finding
 * ("count <key>: stored X, recount Y", the smallest differing key) and
 * returns false. */
bool ct_audit_compare_counts(const ct_counts *stored, const ct_counts *recount, char *finding,
                             size_t len);

/* Compares stored counts with a's recount and, on a difference, makes it
 * a's finding (the smallest differing key, worded as
 * ct_audit_compare_counts) and lists every other differing key, in key
 * order, in a's further findings (at most CT_AUDIT_MAX_DIFFS lines, then
 * "count: and N more counters differ"). Does nothing when a has a finding.
 * Returns CT_OK or CT_ERR_NOMEM (no room for the list). */
#define CT_AUDIT_MAX_DIFFS 64
ct_err ct_audit_compare_all(ct_audit *a, const ct_counts *stored);

#endif
