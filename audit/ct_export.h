/* ct_export.h — `chitieu-audit export` (ct_export_range: a seq or time range
 * of the log as ctlog, JSON lines or CSV) and the renderings of log records
 * it and trace use: JSON lines and CSV (RFC 4180). Strings follow
 * base/ct_text's rules; output files are written through base/ct_file
 * (atomic replacement).
 *
 * The person is only ever written as the 64-hex keyed hash the system holds;
 * national IDs never reach the aggregator, so no export can contain one.
 * Times are ISO-8601 in the campaign's time zone plus raw ms columns.
 * Every function appends one complete line (CRLF for CSV, LF for JSON) to
 * out; on CT_ERR_NOMEM out may hold a partial line.
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_store.h"

/* The columns, in order (CSV header and JSON keys). outcome is optional:
 * pass NULL to omit it (export), a name for trace. */
ct_err ct_export_csv_header(ct_buf *out, int with_outcome);
ct_err ct_export_csv_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                         const ct_event *ev, const char *outcome);
ct_err ct_export_json_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                          const ct_event *ev, const char *outcome);
/* A life entry (docs/PROTOCOL.md §2.2) in the event columns of the CSV
 * export: event_id = the entry's id, occurred = issued-at, district = its
 * unit, commune = a correction's new commune, agent = the actor, program,
 * action = the kind ("void", "correct", ...), person, group = a correction's
 * new group. Its other fields (reason, target, day, ...) are in
 * `chitieu-audit life` and in the jsonl export. */
ct_err ct_export_csv_life_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                              const ct_life *l);

typedef enum { CT_EXPORT_CTLOG = 0, CT_EXPORT_JSONL = 1, CT_EXPORT_CSV = 2 } ct_export_format;

typedef struct {
    const ct_campaign *campaign;
    ct_export_format format;
    uint64_t from_seq, to_seq; /* from_seq >= 1; to_seq 0 or past the head = the head */
    bool by_time;              /* select by receive time (from_ms, to_ms) instead */
    int64_t from_ms, to_ms;
    const char *progress; /* label of a progress line on stderr, NULL = quiet */
    const char *out_name; /* the output, for messages (NULL or "-": "standard output") */
} ct_export_opts;

typedef struct {
    uint64_t from, last, count;            /* the records written: from..last */
    uint8_t last_hash[CT_LOGREC_HASH_LEN]; /* hash of record last (prev when none) */
} ct_export_info;

/* Writes records of the store to f. A time range is the contiguous seq range
 * from the first record received at or after from_ms to the last record of
 * the prefix received at or before to_ms. ctlog: header (campaign, from,
 * hash of record from - 1), the records as stored, trailer (count, last,
 * head). Refuses a start beyond the head + 1, a log that jumps, an event
 * that does not decode (run verify), and names a write error's cause
 * (ENOSPC, EFBIG, EIO). Returns CT_OK or the failure with a message in err;
 * on failure what f holds is not an export. */
ct_err ct_export_range(ct_store *s, const char *name, const ct_export_opts *o, FILE *f,
                       ct_export_info *info, char *err, size_t errlen);

/* ct_export_range into path, atomically (ct_file; "-" = stdout): on failure
 * nothing is left at path. */
ct_err ct_export_to_file(ct_store *s, const char *name, const ct_export_opts *o, const char *path,
                         ct_export_info *info, char *err, size_t errlen);

#endif
