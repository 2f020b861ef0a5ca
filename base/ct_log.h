/* ct_log.h — structured log lines on stderr, one event per line:
 *   2026-11-28T12:00:00.123Z level=info comp=aggregator msg="..." key=value ...
 * The caller writes key=value pairs in fmt; msg is the first argument.
 * Thread-safe (one write(2) per line). ct_log_set_level() filters. When
 * stderr is journald's stream (JOURNAL_STREAM), each line starts with its
 * syslog priority "<N>" (debug 7, info 6, warn 4, error 3). Values from
 * outside go through ct_log_quote (CT_LOG_Q). */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <stdarg.h>

typedef enum { CT_LOG_DEBUG = 0, CT_LOG_INFO, CT_LOG_WARN, CT_LOG_ERROR } ct_log_level;

void ct_log_set_level(ct_log_level l);
void ct_log_set_component(const char *comp); /* e.g. "aggregator"; default "chitieu" */
void ct_log(ct_log_level l, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value that comes from outside (a login name, a path, a file name, a
 * peer's name) as ONE field value, for "key=%s": written bare when it is
 * non-empty and every byte is above ' ' and none of '"', '=', '\\' or DEL;
 * otherwise as a JSON string literal (ct_text.h's rule), quotes included.
 * So a value can never end its field or forge another key. At most
 * CT_LOG_VAL_MAX - 1 bytes: a longer value is cut (between escapes) and
 * ends in "..." inside its quotes. Returns b->s. */
#define CT_LOG_VAL_MAX 320
typedef struct {
    char s[CT_LOG_VAL_MAX];
} ct_log_val;
const char *ct_log_quote(ct_log_val *b, const char *s);
/* ct_log_quote into a buffer that lives until the end of the full
 * expression's block: ct_log(..., "user=%s", CT_LOG_Q(name)). */
#define CT_LOG_Q(s) ct_log_quote(&(ct_log_val){{0}}, (s))

/* A library's own message in this format: one warn line with msg = what (a
 * const char *, passed as void * to fit libmicrohttpd's
 * MHD_OPTION_EXTERNAL_LOGGER) and the text, trailing newline dropped, as
 * detail=CT_LOG_Q(text). */
void ct_log_external(void *what, const char *fmt, va_list ap);

#endif
