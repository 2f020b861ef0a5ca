/* ct_import.h — turning sign-ups (command-line fields or CSV rows) into
 * validated events, and importing CSV files into the outbox.
 *
 * One builder, ct_signup_build(), is used by `add`, `cancel` and `import`, so
 * a sign-up is checked the same way whatever way it came in: field syntax
 * (program, action, 12-digit national ID, ISO time, months 1..600, amount),
 * then the campaign rules (ct_campaign_check_event with now = INT64_MAX) for
 * the collector's own district. The national ID is hashed with the province's
 * person key (ct_person_hash) right here and never stored or returned.
 *
 * CSV import (libcsv): the file is checked first (ct_csvsniff.h: UTF-8 with
 * or without BOM, else refused as a whole; separator ',', ';' or TAB from the
 * header line). A header row names the columns, in any order:
 *   agent_id, program, action, national_id | person_hash, commune,
 *   occurred_at, months, amount, group
 * (agent_id, program, occurred_at and one of national_id / person_hash are
 * required; action defaults to "enroll"). Rows are read with the spreadsheet
 * forms of ct_sheetval.h (dd/mm/yyyy times, 1.500.000 amounts, IDs that
 * lost their leading zero named as such). Each bad row is reported as
 * "FILE:LINE: reason" and skipped; good rows are queued in chunks (one
 * durable transaction per chunk). A row's idempotency key is the hash of the
 * event it produces (ct_outbox_idem_key), so importing the same file again
 * queues nothing new. Identical rows inside one file are queued once.
 *
 * A dry run does all of that inside one outbox transaction that is aborted,
 * never committed: the counts (would be queued / already queued / bad) are
 * exact, and the outbox is unchanged.
 */
#ifndef CT_IMPORT_H
#define CT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_keys.h"
#include "ct_outbox.h"
#include "ct_sheetval.h"

typedef struct {
    const char *agent;
    const char *program;
    const char *action; /* NULL/"" = enroll */
    const char *national_id;
    const char *person_hash; /* 64 hex chars, instead of national_id */
    const char *commune;
    const char *occurred_at; /* NULL/"" = default_time_ms (if allowed) */
    const char *months;
    const char *amount;
    const char *group;
} ct_signup_fields;

typedef struct {
    const ct_campaign *campaign;
    uint32_t district;
    const uint8_t *person_key; /* CT_PERSON_KEY_BYTES, or NULL (then national IDs are refused) */
    bool validate;             /* check against the campaign (tests may turn it off) */
    bool time_required;        /* else an absent time means default_time_ms */
    int64_t default_time_ms;
    /* the spreadsheet forms of times, amounts and national IDs (CSV import);
     * NULL: the strict forms of `add` */
    const ct_sheet_conv *sheet;
} ct_signup_ctx;

/* Fills ev (id zeroed). On error returns the specific code and a one-line
 * reason in why (without file/line). */
ct_err ct_signup_build(const ct_signup_fields *f, const ct_signup_ctx *c, ct_event *ev, char *why,
                       size_t whylen);

typedef struct {
    size_t rows;    /* data rows seen (excluding header) */
    size_t queued;  /* a dry run: would be queued */
    size_t already; /* queued before, or earlier in this file */
    size_t bad;
    bool bom; /* the file starts with a UTF-8 BOM */
    char sep; /* its separator (0 when the file was not read) */
} ct_import_stats;

typedef struct {
    FILE *report;   /* bad rows, "path:LINE: reason" (may be NULL) */
    FILE *progress; /* a progress line at most every second (may be NULL) */
    FILE *plan;     /* every good row, "path:LINE: queued: ..." ("would
                     * queue" in a dry run) or "path:LINE: already queued:
                     * ..." (may be NULL) */
    bool dry_run;   /* queue nothing: the transaction is aborted */
    size_t chunk;   /* rows per durable transaction (0: CT_IMPORT_CHUNK;
                     * SIZE_MAX: the whole file in one commit) */
    /* when set, a row for another agent is a bad row naming login */
    const char *only_agent;
    const char *login;
    /* called for each row queued, inside its transaction (e.g. to keep a
     * note beside it; ev carries its id); an error stops the import */
    ct_err (*on_queued)(void *ctx, ct_outbox_txn *t, uint64_t seq, const ct_event *ev);
    void *on_queued_ctx;
} ct_import_opts;

/* Imports path into ob. Returns CT_OK when the file was processed (even with
 * bad rows); a fatal problem (unreadable file, not UTF-8 (CT_ERR_BAD_UTF8),
 * bad header, store error) returns an error with a message in err (rows
 * already committed stay queued; re-running the import is safe). */
ct_err ct_import_csv(ct_outbox *ob, const char *path, const ct_signup_ctx *c,
                     const ct_import_opts *o, ct_import_stats *st, char *err, size_t errlen);

/* ct_import_csv over an open stream (a file, or an upload in memory);
 * path names it in every message. fp stays open. */
ct_err ct_import_stream(ct_outbox *ob, FILE *fp, const char *path, const ct_signup_ctx *c,
                        const ct_import_opts *o, ct_import_stats *st, char *err, size_t errlen);

/* The one-line summary of an import, as `import` prints it and the page
 * shows it: "PATH: R rows: Q queued, A already queued, B bad" (a dry run:
 * "would be queued" and "(dry run: nothing queued)"). */
void ct_import_summary(const char *path, const ct_import_stats *st, bool dry_run, char *out,
                       size_t outlen);

/* Rows per durable transaction during import. */
#define CT_IMPORT_CHUNK 2000

#endif
