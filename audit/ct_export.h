/* ct_export.h — renderings of log records for export and trace: JSON lines
 * and CSV (RFC 4180). Strings follow base/ct_text's rules; output files are
 * written through base/ct_file (atomic replacement).
 *
 * The person is only ever written as the 64-hex keyed hash the system holds;
 * national IDs never reach the aggregator, so no export can contain one.
 * Times are ISO-8601 in the campaign's time zone plus raw ms columns.
 * Every function appends one complete line (CRLF for CSV, LF for JSON) to
 * out; on CT_ERR_NOMEM out may hold a partial line.
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_logrec.h"

/* The columns, in order (CSV header and JSON keys). outcome is optional:
 * pass NULL to omit it (export), a name for trace. */
ct_err ct_export_csv_header(ct_buf *out, int with_outcome);
ct_err ct_export_csv_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                         const ct_event *ev, const char *outcome);
ct_err ct_export_json_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec,
                          const ct_event *ev, const char *outcome);

#endif
