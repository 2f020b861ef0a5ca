/* ct_export.h — renderings of log records for export and trace: JSON lines
 * and CSV (RFC 4180), plus atomic output files (temp file in the target's
 * directory, fsync, rename, fsync of the directory).
 *
 * The person is only ever written as the 64-hex keyed hash the system holds;
 * national IDs never reach the aggregator, so no export can contain one.
 * Times are ISO-8601 in the campaign's time zone plus raw ms columns.
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include <stdio.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_logrec.h"

/* One output file written atomically. path "-" means stdout (not atomic). */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
} ct_outfile;

ct_err ct_outfile_open(ct_outfile *o, const char *path, char *err, size_t errlen);
/* Flushes, fsyncs and renames into place; closes in every case. */
ct_err ct_outfile_commit(ct_outfile *o, char *err, size_t errlen);
/* Closes and removes the temp file. */
void ct_outfile_abort(ct_outfile *o);

/* Writes s as a JSON string literal (with quotes). */
void ct_json_str(FILE *f, const char *s);
/* Writes s as one CSV field (quoted when it holds , " CR or LF). */
void ct_csv_field(FILE *f, const char *s);

/* The columns, in order (CSV header and JSON keys). outcome is optional:
 * pass NULL to omit it (export), a name for trace. */
void ct_export_csv_header(FILE *f, int with_outcome);
void ct_export_csv_row(FILE *f, const ct_campaign *c, const ct_logrec *rec, const ct_event *ev,
                       const char *outcome);
void ct_export_json_row(FILE *f, const ct_campaign *c, const ct_logrec *rec, const ct_event *ev,
                        const char *outcome);

#endif
