/* ct_sheetval.c — spreadsheet values: times, amounts, mangled national IDs
 * (see ct_sheetval.h).
 *
 * Invariants: a value is converted only when exactly one reading exists
 * under the file's conventions; the result is exact (integer arithmetic,
 * overflow refused); national IDs are never copied into a reason.
 */
#include "ct_sheetval.h"

#include <stdio.h>
#include <string.h>

#include "ct_num.h"
#include "ct_time.h"

#define TIME_FORMS                                                                                 \
    "expected dd/mm/yyyy HH:MM[:SS], e.g. 22/07/2023 09:15, or yyyy-mm-dd HH:MM[:SS], e.g. "       \
    "2023-07-22 09:15, or ISO 8601 with a zone, e.g. 2023-07-22T09:15:00+07:00"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1..max digits at *p into *v; advances *p. */
static bool take_digits(const char **p, int min, int max, int *v)
{
    int n = 0, x = 0;
    while (n < max && is_digit((*p)[n])) {
        x = x * 10 + ((*p)[n] - '0');
        n++;
    }
    if (n < min || is_digit((*p)[n])) return false;
    *p += n;
    *v = x;
    return true;
}

static ct_err civil(int y, int mo, int d, int hh, int mi, int ss, int32_t off, int64_t *ms)
{
    char iso[40];
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return CT_ERR_BAD_VALUE;
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, hh, mi, ss);
    return ct_time_parse(iso, off, ms);
}

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};

ct_err ct_sheet_time_iso(const char *s, int32_t offset_min, int64_t *ms)
{
    char tmp[64];
    size_t n = strlen(s);
    if (n >= sizeof tmp) return CT_ERR_BAD_VALUE;
    memcpy(tmp, s, n + 1);
    if (n > 10 && tmp[10] == ' ') tmp[10] = 'T';
    int64_t t;
    if (ct_time_parse(tmp, offset_min, &t) != CT_OK || t < 0) return CT_ERR_BAD_VALUE;
    *ms = t;
    return CT_OK;
}

ct_err ct_sheet_time(const char *s, const ct_sheet_conv *cv, int32_t offset_min, int64_t *ms,
                     char *why, size_t whylen)
{
    why[0] = 0;
    if (!strchr(s, '/')) {
        if (ct_sheet_time_iso(s, offset_min, ms) == CT_OK) return CT_OK;
        snprintf(why, whylen, "bad time '%.40s' (" TIME_FORMS ")", s);
        return CT_ERR_BAD_VALUE;
    }
    const char *p = s;
    int a, b, y, hh, mi, ss = 0;
    bool ok = take_digits(&p, 1, 2, &a) && *p++ == '/' && take_digits(&p, 1, 2, &b) &&
              *p++ == '/' && take_digits(&p, 4, 4, &y) && *p == ' ';
    while (ok && *p == ' ')
        p++;
    ok = ok && take_digits(&p, 1, 2, &hh) && *p++ == ':' && take_digits(&p, 2, 2, &mi);
    if (ok && *p == ':') {
        p++;
        ok = take_digits(&p, 2, 2, &ss);
    }
    ok = ok && *p == 0;
    int64_t dm = -1, md = -1;
    if (!ok || civil(y, b, a, hh, mi, ss, offset_min, &dm) != CT_OK || dm < 0) {
        snprintf(why, whylen, "bad time '%.40s' (" TIME_FORMS ")", s);
        return CT_ERR_BAD_VALUE;
    }
    if (!cv->vi_locale && a != b && civil(y, a, b, hh, mi, ss, offset_min, &md) == CT_OK) {
        snprintf(why, whylen,
                 "ambiguous date '%.40s' (%d %s or %s %d?): write it as yyyy-mm-dd HH:MM, e.g. "
                 "%04d-%02d-%02d %02d:%02d for %d %s",
                 s, a, month_names[b - 1], month_names[a - 1], b, y, b, a, hh, mi, a,
                 month_names[b - 1]);
        return CT_ERR_BAD_VALUE;
    }
    *ms = dm;
    return CT_OK;
}

/* Digits of s[from..to) appended to *v; false on a non-digit or overflow. */
static bool add_digits(const char *s, size_t from, size_t to, uint64_t *v)
{
    for (size_t i = from; i < to; i++) {
        if (!is_digit(s[i])) return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (*v > (UINT64_MAX - d) / 10) return false;
        *v = *v * 10 + d;
    }
    return true;
}

/* s[0..n) as thousands grouped by g (or no g at all): first group 1-3
 * digits (no leading 0 when grouped), then groups of exactly 3. */
static bool grouped(const char *s, size_t n, char g, uint64_t *v)
{
    *v = 0;
    if (n == 0) return false;
    const char *first = memchr(s, g, n);
    if (!first) return add_digits(s, 0, n, v);
    size_t lead = (size_t)(first - s);
    if (lead < 1 || lead > 3 || s[0] == '0') return false;
    if ((n - lead) % 4 != 0) return false;
    for (size_t i = lead; i < n; i += 4)
        if (s[i] != g) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != g && !add_digits(s, i, i + 1, v)) return false;
    return true;
}

ct_err ct_sheet_amount(const char *s, const ct_sheet_conv *cv, uint64_t *vnd, char *why,
                       size_t whylen)
{
    why[0] = 0;
    size_t n = strlen(s), ndot = 0, ncomma = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            ndot++;
        else if (s[i] == ',')
            ncomma++;
        else if (!is_digit(s[i]))
            goto bad;
    }
    uint64_t v = 0;
    if (ndot + ncomma == 0) {
        if (!ct_num_parse_u64(s, UINT64_MAX, &v)) goto bad;
        *vnd = v;
        return CT_OK;
    }
    /* the decimal mark, if any: the last separator when both kinds appear, or
     * a single separator not followed by exactly three digits, or the
     * locale's mark */
    const char *dot = strrchr(s, '.'), *comma = strrchr(s, ',');
    const char *last = dot > comma ? dot : comma;
    size_t nlast = last == dot ? ndot : ncomma;
    const char *mark = NULL;
    if (ndot && ncomma) {
        if (nlast != 1) goto bad;
        mark = last;
    } else if (nlast == 1) {
        size_t after = n - (size_t)(last - s) - 1;
        if (after != 3)
            mark = last;
        else if (cv->vi_locale)
            mark = *last == ',' ? last : NULL;
        else {
            snprintf(why, whylen,
                     "ambiguous amount '%.30s' ('%c' between thousands or before decimals?): "
                     "write it without separators, e.g. %.*s%s",
                     s, *last, (int)(last - s), s, last + 1);
            return CT_ERR_BAD_VALUE;
        }
    }
    size_t ilen = mark ? (size_t)(mark - s) : n;
    char g = mark ? (*mark == '.' ? ',' : '.') : *last;
    if (!grouped(s, ilen, g, &v)) goto bad;
    if (mark) {
        if (!mark[1]) goto bad;
        for (const char *q = mark + 1; *q; q++)
            if (*q != '0') goto bad;
    }
    *vnd = v;
    return CT_OK;
bad:
    snprintf(why, whylen, "amount must be a whole number of VND (got '%.30s')", s);
    return CT_ERR_BAD_VALUE;
}

bool ct_sheet_id_mangled(const char *s, char *why, size_t whylen)
{
    size_t n = strlen(s), digits = 0;
    while (is_digit(s[digits]))
        digits++;
    if (digits == n && (n == 10 || n == 11) && s[0] != '0') {
        snprintf(why, whylen,
                 "national ID has %zu digits: Excel removed the leading zero%s: format the column "
                 "as Text",
                 n, n == 11 ? "" : "s");
        return true;
    }
    /* d[.ddd]E[+]dd */
    const char *p = s + digits;
    if (digits >= 1 && (*p == '.' || *p == ',')) {
        p++;
        while (is_digit(*p))
            p++;
    }
    if (digits >= 1 && (*p == 'E' || *p == 'e')) {
        p++;
        if (*p == '+') p++;
        const char *e = p;
        while (is_digit(*p))
            p++;
        if (p > e && *p == 0) {
            snprintf(why, whylen,
                     "national ID is a number in scientific notation: Excel rounded it and its "
                     "digits are lost: format the column as Text and enter the IDs again");
            return true;
        }
    }
    return false;
}
