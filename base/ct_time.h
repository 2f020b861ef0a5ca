/* ct_time.h — clocks and ISO-8601 times. All times are int64 ms since the
 * Unix epoch (UTC); offsets are minutes east of UTC. */
#ifndef CT_TIME_H
#define CT_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

int64_t ct_now_ms(void);       /* CLOCK_REALTIME */
int64_t ct_monotonic_ms(void); /* CLOCK_MONOTONIC */
uint64_t ct_monotonic_ns(void);

/* Parses "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|+HH:MM|-HH:MM)" or, without a zone,
 * uses default_offset_min. Also accepts "YYYY-MM-DD" (midnight). */
ct_err ct_time_parse(const char *s, int32_t default_offset_min, int64_t *ms);
/* Parses "+07:00" / "-05:30" / "Z" into minutes. */
ct_err ct_tz_parse(const char *s, int32_t *offset_min);
/* "2023-07-22T08:00:00+07:00" (or with .fff if ms % 1000 != 0). buf >= 32. */
void ct_time_format(int64_t ms, int32_t offset_min, char *buf, size_t len);
/* Civil date of ms at the offset, as YYYYMMDD. */
uint32_t ct_time_yyyymmdd(int64_t ms, int32_t offset_min);
/* 1 when ymd (YYYYMMDD) is a real date of years 1..9999, else 0. */
int ct_time_yyyymmdd_valid(uint32_t ymd);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t ct_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
