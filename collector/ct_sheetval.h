/* ct_sheetval.h — values as a spreadsheet writes them into a CSV file: dates
 * like 22/07/2023 09:15, amounts like 1.500.000, national IDs that lost
 * their leading zeros. Used by the CSV import only; `add` keeps its strict
 * forms.
 *
 * A value is accepted only when it can be read one way. The file's
 * separator tells its locale: ';' is written by Excel on Vietnamese Windows,
 * whose conventions are day/month/year, '.' between thousands and ',' before
 * decimals (vi_locale). Any other separator says nothing about the locale,
 * so a value that reads two ways there (05/07/2023: 5 July or May 7; 1.500:
 * 1500 or 1.5) is refused with the way to write it unambiguously.
 *
 * Times: ISO 8601 (ct_time_parse, also with a space for the 'T'), or
 * D/M/YYYY H:MM[:SS] (day and month of one or two digits, one or more spaces
 * before the time); without a zone, the campaign's offset applies.
 * Amounts: digits, optionally grouped by thousands with '.' or ',' (groups
 * of exactly three digits after the first of one to three), optionally
 * followed by a decimal mark (the other character) and zeros only.
 * Every refusal leaves a one-line reason that names the accepted forms.
 */
#ifndef CT_SHEETVAL_H
#define CT_SHEETVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

typedef struct {
    bool vi_locale; /* the file is ';'-separated: Vietnamese conventions */
} ct_sheet_conv;

/* An ISO 8601 time (ct_time_parse, also with a space for the 'T') at or
 * after 1970-01-01T00:00Z; CT_ERR_BAD_VALUE otherwise. The one ISO rule of
 * ct_sheet_time and of the strict forms (`add`, the office screen). */
ct_err ct_sheet_time_iso(const char *s, int32_t offset_min, int64_t *ms);

/* CT_ERR_BAD_VALUE with why = "bad time '...' (expected ...)" or
 * "ambiguous date '...' (...)". */
ct_err ct_sheet_time(const char *s, const ct_sheet_conv *cv, int32_t offset_min, int64_t *ms,
                     char *why, size_t whylen);

/* CT_ERR_BAD_VALUE with why = "amount must be a whole number of VND (got
 * '...')" or "ambiguous amount '...' (...)". */
ct_err ct_sheet_amount(const char *s, const ct_sheet_conv *cv, uint64_t *vnd, char *why,
                       size_t whylen);

/* Whether a national ID of digits reads as a 12-digit ID that lost its
 * leading zeros (10 or 11 digits, the first not 0: every Vietnamese ID
 * starts with a 0 of its province code), or as a number Excel wrote in
 * scientific notation (6.8019E+11). The reason, if any, goes to why (the
 * value is never echoed: it is personal data). */
bool ct_sheet_id_mangled(const char *s, char *why, size_t whylen);

#endif
