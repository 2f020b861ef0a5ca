/* ct_text.h — text output rules shared by every rendering (status report,
 * export, trace): JSON string literals, CSV fields, terminal display width,
 * lowercase hex (and hex read back), Prometheus label values. ONE rule for each, stated here;
 * callers never escape or quote by hand.
 *
 * Every writer appends to a ct_buf (the one output type); a caller that
 * writes to a FILE renders a line into a ct_buf and writes the buffer. On
 * CT_ERR_NOMEM the buffer may hold a partial field (the caller discards it).
 * Input strings are NUL-terminated UTF-8; bytes are never validated or
 * rewritten beyond the rules below (invalid UTF-8 passes through as is).
 *
 * JSON string (RFC 8259 §7): the value between double quotes, with
 *   "  -> \"        \  -> \\
 *   BS -> \b   FF -> \f   LF -> \n   CR -> \r   TAB -> \t
 *   every other byte below 0x20, and DEL (0x7F) -> \u00XX (lowercase hex)
 *   every other byte (including UTF-8 sequences) copied verbatim.
 *
 * CSV field (RFC 4180): written bare unless it contains a comma, a double
 * quote, CR or LF, or begins or ends with a space (readers that trim would
 * lose it); then it is enclosed in double quotes and each double quote inside
 * is doubled. The empty string is written bare (nothing).
 *
 * Display width: the terminal columns of UTF-8 text. Each code point is 1
 * column, except combining marks and zero-width characters (U+0300-036F,
 * U+1AB0-1AFF, U+1DC0-1DFF, U+20D0-20FF, U+FE20-FE2F, variation selectors
 * U+FE00-FE0F, U+200B-200D, U+FEFF: 0 columns) and East Asian wide ranges (2
 * columns). So Vietnamese reads the same width precomposed (NFC) or decomposed
 * (NFD). A byte that does not start a valid sequence counts 1.
 */
#ifndef CT_TEXT_H
#define CT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"

/* Appends s as a JSON string literal, quotes included. */
ct_err ct_text_json_str(ct_buf *b, const char *s);

/* The JSON escape of byte c ("\\\"", "\\n", "\\u001f", ...), or NULL when c
 * is copied verbatim; esc holds the \\u00XX form. For writers into fixed
 * buffers (ct_log_quote). */
const char *ct_text_json_escape(uint8_t c, char esc[7]);

/* Appends s as one CSV field (no separator). */
ct_err ct_text_csv_field(ct_buf *b, const char *s);

/* Appends s as the inside of a Prometheus label value (text exposition
 * format): '\\' and '"' get a backslash, a newline is "\n", every other byte
 * is copied. The quotes around it are the caller's. */
ct_err ct_text_prom_label(ct_buf *b, const char *s);

/* Terminal columns of the n bytes at s. */
size_t ct_text_display_width(const char *s, size_t n);

/* Writes the n bytes at p as 2n lowercase hex digits and a NUL into out
 * (2n + 1 bytes). */
void ct_text_hex(const uint8_t *p, size_t n, char *out);

/* Reads the n characters at s (n even) as n / 2 bytes into out: every
 * character a hex digit (0-9, a-f, A-F), nothing else (no "0x", no spaces,
 * no sign). CT_ERR_BAD_VALUE, out untouched, when n is odd or a character
 * is not a hex digit. */
ct_err ct_text_unhex(const char *s, size_t n, uint8_t *out);

#endif
