/* ct_time.c — clocks, ISO-8601 parsing/formatting and civil-date arithmetic.
 *
 * Invariants: no dependence on the process time zone or locale (no mktime,
 * timegm, localtime, strftime); all conversions go through
 * ct_days_from_civil() / civil_from_days() (H. Hinnant's algorithms, exact
 * for the proleptic Gregorian calendar) and floor division, so negative
 * times and offsets behave. Times are int64 ms since the epoch, UTC.
 */
#include "ct_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CT_MS_PER_DAY INT64_C(86400000)
#define CT_MAX_OFFSET_MIN (18 * 60)

int64_t ct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ct_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t ct_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

int64_t ct_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                         /* [0, 399] */
    const int64_t mp = (int64_t)(m > 2 ? m - 3 : m + 9);       /* [0, 11] */
    const int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;   /* [0, 365] */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097; /* [0, 146096] */
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365] */
    const int64_t mp = (5 * doy + 2) / 153;                      /* [0, 11] */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int ct_time_yyyymmdd_valid(uint32_t ymd)
{
    uint32_t y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* Reads exactly n decimal digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return 0;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* Parses a zone designator at *p: "Z" or "+HH:MM" / "-HH:MM". */
static ct_err parse_zone(const char **p, int32_t *offset_min)
{
    const char *s = *p;
    if (*s == 'Z' || *s == 'z') {
        *offset_min = 0;
        *p = s + 1;
        return CT_OK;
    }
    if (*s != '+' && *s != '-') return CT_ERR_BAD_VALUE;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int hh, mm;
    if (!digits(&s, 2, &hh) || *s++ != ':' || !digits(&s, 2, &mm)) return CT_ERR_BAD_VALUE;
    if (mm > 59) return CT_ERR_BAD_VALUE;
    int32_t off = (int32_t)(sign * (hh * 60 + mm));
    if (off > CT_MAX_OFFSET_MIN || off < -CT_MAX_OFFSET_MIN) return CT_ERR_BAD_VALUE;
    *offset_min = off;
    *p = s;
    return CT_OK;
}

ct_err ct_tz_parse(const char *s, int32_t *offset_min)
{
    if (!s || !offset_min) return CT_ERR_ARG;
    int32_t off;
    const char *p = s;
    if (parse_zone(&p, &off) != CT_OK || *p != '\0') return CT_ERR_BAD_VALUE;
    *offset_min = off;
    return CT_OK;
}

ct_err ct_time_parse(const char *s, int32_t default_offset_min, int64_t *ms)
{
    if (!s || !ms) return CT_ERR_ARG;
    const char *p = s;
    int y, mo, d, hh = 0, mi = 0, ss = 0, frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return CT_ERR_BAD_VALUE;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
        return CT_ERR_BAD_VALUE;
    int32_t off = default_offset_min;
    if (*p == 'T' || *p == 't') {
        p++;
        if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mi)) return CT_ERR_BAD_VALUE;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &ss)) return CT_ERR_BAD_VALUE;
            if (*p == '.') {
                p++;
                int n = 0;
                while (p[n] >= '0' && p[n] <= '9')
                    n++;
                if (n < 1 || n > 3) return CT_ERR_BAD_VALUE;
                if (!digits(&p, n, &frac)) return CT_ERR_BAD_VALUE;
                for (int i = n; i < 3; i++)
                    frac *= 10;
            }
        }
        if (hh > 23 || mi > 59 || ss > 59) return CT_ERR_BAD_VALUE;
        if (*p != '\0') {
            if (parse_zone(&p, &off) != CT_OK) return CT_ERR_BAD_VALUE;
        }
    }
    if (*p != '\0') return CT_ERR_BAD_VALUE;
    if (off > CT_MAX_OFFSET_MIN || off < -CT_MAX_OFFSET_MIN) return CT_ERR_BAD_VALUE;
    int64_t days = ct_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t local = days * CT_MS_PER_DAY + (int64_t)hh * 3600000 + (int64_t)mi * 60000 +
                    (int64_t)ss * 1000 + frac;
    *ms = local - (int64_t)off * 60000;
    return CT_OK;
}

void ct_time_format(int64_t ms, int32_t offset_min, char *buf, size_t len)
{
    if (!buf || len == 0) return;
    int64_t local = ms + (int64_t)offset_min * 60000;
    int64_t days = floor_div(local, CT_MS_PER_DAY);
    int64_t rem = local - days * CT_MS_PER_DAY; /* [0, 86400000) */
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int hh = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), ss = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    char zone[8];
    if (offset_min == 0) {
        strcpy(zone, "Z");
    } else {
        int32_t a = offset_min < 0 ? -offset_min : offset_min;
        snprintf(zone, sizeof zone, "%c%02d:%02d", offset_min < 0 ? '-' : '+',
                 (int)((a / 60) % 100), (int)(a % 60));
    }
    if (frac)
        snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%03d%s", (long long)y, m, d, hh, mi, ss,
                 frac, zone);
    else
        snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d%s", (long long)y, m, d, hh, mi, ss,
                 zone);
}

uint32_t ct_time_yyyymmdd(int64_t ms, int32_t offset_min)
{
    int64_t days = floor_div(ms + (int64_t)offset_min * 60000, CT_MS_PER_DAY);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) return 0;
    return (uint32_t)y * 10000u + m * 100u + d;
}
