/* ct_log.c — structured stderr logging (see ct_log.h).
 *
 * Under systemd, stderr is a stream to journald and JOURNAL_STREAM names it
 * ("DEVICE:INODE"); each line then starts with the syslog priority "<N>"
 * (sd-daemon(3)), which journald strips and records as PRIORITY. Decided
 * once per process by comparing JOURNAL_STREAM with fstat(2) of stderr, so a
 * variable inherited by a process whose stderr went elsewhere changes
 * nothing. */
#include "ct_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct_text.h"

static ct_log_level ct_log_min = CT_LOG_INFO;
static const char *ct_log_comp = "chitieu";

void ct_log_set_level(ct_log_level l)
{
    ct_log_min = l;
}

void ct_log_set_component(const char *comp)
{
    ct_log_comp = comp;
}

static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

const char *ct_log_quote(ct_log_val *b, const char *s)
{
    assert(b && s);
    bool bare = s[0] != 0;
    for (const char *p = s; bare && *p; p++) {
        unsigned char c = (unsigned char)*p;
        bare = c > ' ' && c != '"' && c != '=' && c != '\\' && c != 0x7F;
    }
    size_t n = 0, cap = sizeof b->s;
    if (bare && strlen(s) < cap) {
        memcpy(b->s, s, strlen(s) + 1);
        return b->s;
    }
    /* quoted; room kept for the closing quote, "..." and the NUL */
    const size_t room = cap - 5;
    b->s[n++] = '"';
    const char *p = s;
    for (; *p; p++) {
        char esc[7];
        const char *x = ct_text_json_escape((uint8_t)*p, esc);
        size_t k = x ? strlen(x) : 1;
        if (n + k > room) break;
        if (x)
            memcpy(b->s + n, x, k);
        else
            b->s[n] = *p;
        n += k;
    }
    if (*p) {
        memcpy(b->s + n, "...", 3);
        n += 3;
    }
    b->s[n++] = '"';
    b->s[n] = 0;
    assert(n < cap);
    return b->s;
}

/* "<N>" before each line: 0 not known yet, 1 no, 2 yes */
static atomic_int ct_log_journal;

void ct_log(ct_log_level l, const char *msg, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    static const int prio[] = {7, 6, 4, 3}; /* LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
    if (l < ct_log_min) return;
    int j = atomic_load(&ct_log_journal);
    if (j == 0) {
        j = stderr_is_journal() ? 2 : 1;
        atomic_store(&ct_log_journal, j);
    }
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char pfx[8] = "";
    if (j == 2) snprintf(pfx, sizeof pfx, "<%d>", prio[l]);
    int n = snprintf(line, sizeof line,
                     "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s msg=\"%s\"", pfx,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[l], ct_log_comp, msg);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt && fmt[0] && len < sizeof line - 2) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (m > 0) len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    if (len >= sizeof line - 1) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void ct_log_external(void *what, const char *fmt, va_list ap)
{
    char m[CT_LOG_VAL_MAX];
    vsnprintf(m, sizeof m, fmt, ap);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        m[--n] = '\0';
    ct_log(CT_LOG_WARN, what ? (const char *)what : "library", "detail=%s", CT_LOG_Q(m));
}
