/* ct_text.c — JSON strings, CSV fields, display width, hex both ways (rules in
 * ct_text.h). Writers copy runs of bytes that need no escaping in one append,
 * so a long plain string costs one ct_buf_append. */
#include "ct_text.h"

#include <assert.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";

/* ---------------------------------------------------------------- JSON */

/* The escape for byte c, or NULL when c is copied verbatim. esc holds the
 * \u00XX form. */
const char *ct_text_json_escape(uint8_t c, char esc[7])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        if (c >= 0x20 && c != 0x7F) return NULL;
        memcpy(esc, "\\u00", 4);
        esc[4] = HEX[c >> 4];
        esc[5] = HEX[c & 15];
        esc[6] = '\0';
        return esc;
    }
}

ct_err ct_text_json_str(ct_buf *b, const char *s)
{
    assert(b && s);
    ct_err e = ct_buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; !e && *p; p++) {
        char esc[7];
        const char *x = ct_text_json_escape((uint8_t)*p, esc);
        if (!x) continue;
        e = ct_buf_append(b, run, (size_t)(p - run));
        if (!e) e = ct_buf_append(b, x, strlen(x));
        run = p + 1;
    }
    if (!e) e = ct_buf_append(b, run, strlen(run));
    return e ? e : ct_buf_append(b, "\"", 1);
}

/* ---------------------------------------------------------------- CSV */

ct_err ct_text_csv_field(ct_buf *b, const char *s)
{
    assert(b && s);
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ' || strpbrk(s, ",\"\r\n") != NULL);
    if (!quote) return ct_buf_append(b, s, n);
    ct_err e = ct_buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *q = strchr(run, '"'); !e && q; q = strchr(run, '"')) {
        e = ct_buf_append(b, run, (size_t)(q - run) + 1); /* up to the quote, included */
        if (!e) e = ct_buf_append(b, "\"", 1);            /* ... doubled */
        run = q + 1;
    }
    if (!e) e = ct_buf_append(b, run, strlen(run));
    return e ? e : ct_buf_append(b, "\"", 1);
}

/* ---------------------------------------------------------------- Prometheus */

ct_err ct_text_prom_label(ct_buf *b, const char *s)
{
    assert(b && s);
    ct_err e = CT_OK;
    for (const char *run = s; !e && *run;) {
        size_t n = strcspn(run, "\\\"\n");
        e = ct_buf_append(b, run, n);
        run += n;
        if (!e && *run) {
            e = ct_buf_append(b, *run == '\n' ? "\\n" : (*run == '"' ? "\\\"" : "\\\\"), 2);
            run++;
        }
    }
    return e;
}

/* ---------------------------------------------------------------- width */

static int is_zero_width(uint32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x200B ||
           cp == 0x200C || cp == 0x200D || cp == 0xFEFF;
}

static int is_wide(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
           (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
           (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

/* Decodes the sequence at s[0..n) (n >= 1): its length in *k and the code
 * point, or 0 when s[0] does not start a complete valid sequence. */
static int utf8_decode(const uint8_t *s, size_t n, size_t *k, uint32_t *cp)
{
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        *k = 1;
        return 1;
    }
    if ((b & 0xE0) == 0xC0) {
        *cp = b & 0x1Fu;
        *k = 2;
    } else if ((b & 0xF0) == 0xE0) {
        *cp = b & 0x0Fu;
        *k = 3;
    } else if ((b & 0xF8) == 0xF0) {
        *cp = b & 0x07u;
        *k = 4;
    } else {
        return 0;
    }
    if (*k > n) return 0;
    for (size_t j = 1; j < *k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[j] & 0x3Fu);
    }
    return 1;
}

size_t ct_text_display_width(const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t w = 0, i = 0;
    while (i < n) {
        size_t k;
        uint32_t cp;
        if (!utf8_decode(s + i, n - i, &k, &cp)) {
            w++;
            i++;
            continue;
        }
        i += k;
        if (!is_zero_width(cp)) w += is_wide(cp) ? 2 : 1;
    }
    return w;
}

/* ---------------------------------------------------------------- hex */

void ct_text_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[p[i] >> 4];
        out[2 * i + 1] = HEX[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ct_err ct_text_unhex(const char *s, size_t n, uint8_t *out)
{
    assert(s || n == 0);
    if (n % 2) return CT_ERR_BAD_VALUE;
    for (size_t i = 0; i < n; i++)
        if (hex_digit(s[i]) < 0) return CT_ERR_BAD_VALUE;
    for (size_t i = 0; i < n / 2; i++)
        out[i] = (uint8_t)(hex_digit(s[2 * i]) << 4 | hex_digit(s[2 * i + 1]));
    return CT_OK;
}
