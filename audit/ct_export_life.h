/* ct_export_life.h — renderings of a campaign life entry's log record
 * (docs/PROTOCOL.md §2.2) for `chitieu-audit life`, `trace` and `export`:
 * CSV (RFC 4180) and JSON rows with the same columns, and a compact text of
 * the kind's fields for tables.
 *
 * Columns, in order: seq, received, received_ms, collector, hash, entry_id,
 * kind, issued, issued_ms, campaign, actor, reason, unit, program, person,
 * event_id, event_seq, new_program, new_agent, new_commune, new_group,
 * target, day, reorg, effective, effective_ms, then outcome when given.
 * A field the entry's kind does not carry is empty (CSV) or null (JSON);
 * new_commune / new_group "" (cleared by the correction) is "" in JSON.
 * Times are ISO-8601 in the campaign's time zone; day is YYYY-MM-DD.
 * Every function appends to out; on CT_ERR_NOMEM out may hold a partial row.
 */
#ifndef CT_EXPORT_LIFE_H
#define CT_EXPORT_LIFE_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_tally.h"

/* The header line (CRLF), with ",outcome" when with_outcome. */
ct_err ct_life_csv_header(ct_buf *out, bool with_outcome);
/* One CSV line (CRLF); outcome NULL: no outcome column. */
ct_err ct_life_csv_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec, const ct_life *l,
                       const char *outcome);
/* One JSON object (no newline); outcome NULL: no "outcome" key. */
ct_err ct_life_json_row(ct_buf *out, const ct_campaign *c, const ct_logrec *rec, const ct_life *l,
                        const char *outcome);
/* The kind's fields for a table, e.g. `q=117 e=ca22...0001 p=bhxh_tn h=9c1e0f3a a=LD672-002`
 * or `day=2023-07-25` (strings as given; at most len - 1 bytes). */
void ct_life_fields_text(const ct_campaign *c, const ct_life *l, char *out, size_t len);
/* The outcome's name in capitals ("VOIDED", "CORRECTED", ...). */
void ct_outcome_upper(ct_tally_outcome o, char *buf, size_t len);

#endif
