/* ct_csvsniff.h — what a CSV file is before it is parsed: its encoding and
 * its separator, as Excel writes them.
 *
 * Accepted: UTF-8, with or without a byte order mark (Excel's "CSV UTF-8
 * (Comma delimited)"). Refused as a whole, before any row is read: UTF-16
 * (Excel's "Unicode Text") and any byte sequence that is not UTF-8 — in
 * practice an ANSI file, Windows-1258 on Vietnamese Windows or Windows-1252
 * on Western ones (Excel's plain "CSV (Comma delimited)"). Such a file is
 * not converted: Windows-1258 writes tone marks as separate combining
 * characters, so a conversion would give text that is not in the
 * precomposed (NFC) form every other input uses, and a Windows-1252 file has
 * already lost its Vietnamese letters. The message names the line, the
 * byte, the code page it looks like and the way out: save it as "CSV UTF-8
 * (Comma delimited)".
 *
 * The separator is read from the header line (the column names hold none of
 * the candidates): the most frequent of ',', ';' and TAB outside quotes, ','
 * on a tie. ';' is the list separator of Vietnamese Windows, whose Excel
 * writes ';' even for "Comma delimited"; a ';' file therefore also has that
 * locale's number and date conventions (ct_sheetval.h).
 *
 * A NUL byte is valid UTF-8 here: it is damage inside a field, reported as a
 * bad row by the import, not a reason to refuse the file.
 */
#ifndef CT_CSVSNIFF_H
#define CT_CSVSNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_error.h"

typedef enum {
    CT_CODEPAGE_1252, /* Windows-1252, Western European */
    CT_CODEPAGE_1258, /* Windows-1258, Vietnamese */
} ct_codepage;

typedef struct {
    bool bom;     /* the file starts with the UTF-8 byte order mark */
    char sep;     /* ',', ';' or '\t' */
    size_t lines; /* lines read */
} ct_csvsniff;

/* The separator of a header line (without its BOM). */
char ct_csvsniff_sep(const char *line, size_t n);

/* Which ANSI code page non-UTF-8 text looks like: Windows-1258 when it holds
 * a byte that is a Vietnamese letter there (Đ đ Ơ ơ Ư ư: 0xD0 0xF0 0xD5 0xF5
 * 0xDD 0xFD) or the combining tilde (0xDE) — letters Windows-1252 cannot
 * write and replaces by '?' — else Windows-1252. */
ct_codepage ct_csvsniff_codepage(const uint8_t *s, size_t n);
const char *ct_csvsniff_codepage_name(ct_codepage cp);

/* Reads fp from its start to its end and fills out. A file that is not
 * UTF-8 returns CT_ERR_BAD_UTF8 with "path:LINE: ..." (the first bad line)
 * in err; a read error CT_ERR_IO. Leaves fp positioned after the BOM on
 * success. */
ct_err ct_csvsniff_file(FILE *fp, const char *path, ct_csvsniff *out, char *err, size_t errlen);

#endif
