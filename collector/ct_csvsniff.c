/* ct_csvsniff.c — encoding and separator of a CSV file (see ct_csvsniff.h).
 *
 * Invariants: the whole file is read once, line by line (a UTF-8 sequence
 * never holds the byte '\n', so a line is checked on its own); the line
 * buffer may hold national IDs and is wiped before it is freed; fp is left
 * after the BOM only when CT_OK is returned.
 */
#include "ct_csvsniff.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ct_event.h"

#define SAVE_AS                                                                                    \
    "open it in Excel, choose Save As, file type \"CSV UTF-8 (Comma delimited)\", and import "     \
    "that file"

char ct_csvsniff_sep(const char *line, size_t n)
{
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (c == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (c == ',')
            comma++;
        else if (c == ';')
            semi++;
        else if (c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab) return ';';
    if (tab > comma && tab > semi) return '\t';
    return ',';
}

ct_codepage ct_csvsniff_codepage(const uint8_t *s, size_t n)
{
    static const uint8_t viet[] = {0xD0, 0xF0, 0xD5, 0xF5, 0xDD, 0xFD, 0xDE};
    for (size_t i = 0; i < n; i++)
        if (memchr(viet, s[i], sizeof viet)) return CT_CODEPAGE_1258;
    return CT_CODEPAGE_1252;
}

const char *ct_csvsniff_codepage_name(ct_codepage cp)
{
    return cp == CT_CODEPAGE_1258 ? "Windows-1258 (Vietnamese)" : "Windows-1252 (Western European)";
}

/* Offset of the first byte of s[0..n) that does not start a valid UTF-8
 * sequence, or n. */
static size_t utf8_bad_at(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : 4;
        if (k > n - i) k = n - i;
        if (!ct_utf8_valid(s + i, k)) return i;
        i += k;
    }
    return n;
}

ct_err ct_csvsniff_file(FILE *fp, const char *path, ct_csvsniff *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->sep = ',';
    err[0] = 0;
    ct_err result = CT_OK;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool bad = false, viet = false;
    size_t bad_line = 0, bad_col = 0;
    uint8_t bad_byte = 0;
    rewind(fp);
    while ((n = getline(&line, &cap, fp)) > 0) {
        const uint8_t *u = (const uint8_t *)line;
        size_t len = (size_t)n, skip = 0;
        out->lines++;
        if (out->lines == 1) {
            if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
                snprintf(err, errlen,
                         "%s: this file is UTF-16 (Excel's \"Unicode Text\"): " SAVE_AS, path);
                result = CT_ERR_BAD_UTF8;
                goto out;
            }
            if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
                out->bom = true;
                skip = 3;
            }
            out->sep = ct_csvsniff_sep(line + skip, len - skip);
        }
        size_t at = skip + utf8_bad_at(u + skip, len - skip);
        if (at < len) {
            if (!bad) {
                bad = true;
                bad_line = out->lines;
                bad_col = at + 1;
                bad_byte = u[at];
            }
            if (ct_csvsniff_codepage(u, len) == CT_CODEPAGE_1258) viet = true;
        }
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        result = CT_ERR_IO;
        goto out;
    }
    if (bad) {
        snprintf(err, errlen,
                 "%s:%zu: this file is not UTF-8 (byte 0x%02X at byte %zu of the line); it looks "
                 "like %s, what Excel writes for \"CSV (Comma delimited)\": " SAVE_AS,
                 path, bad_line, bad_byte, bad_col,
                 ct_csvsniff_codepage_name(viet ? CT_CODEPAGE_1258 : CT_CODEPAGE_1252));
        result = CT_ERR_BAD_UTF8;
        goto out;
    }
    rewind(fp);
    if (out->bom && fseek(fp, 3, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        result = CT_ERR_IO;
    }
out:
    if (line) sodium_memzero(line, cap);
    free(line);
    return result;
}
