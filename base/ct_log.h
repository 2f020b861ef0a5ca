/* ct_log.h — structured log lines on stderr, one event per line:
 *   2026-11-28T12:00:00.123Z level=info comp=aggregator msg="..." key=value ...
 * The caller writes key=value pairs in fmt; msg is the first argument.
 * Thread-safe (one write(2) per line). ct_log_set_level() filters. When
 * stderr is journald's stream (JOURNAL_STREAM), each line starts with its
 * syslog priority "<N>" (debug 7, info 6, warn 4, error 3). */
#ifndef CT_LOG_H
#define CT_LOG_H

typedef enum { CT_LOG_DEBUG = 0, CT_LOG_INFO, CT_LOG_WARN, CT_LOG_ERROR } ct_log_level;

void ct_log_set_level(ct_log_level l);
void ct_log_set_component(const char *comp); /* e.g. "aggregator"; default "chitieu" */
void ct_log(ct_log_level l, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
