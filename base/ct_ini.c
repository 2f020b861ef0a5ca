/* ct_ini.c — the physical line layer of the INI readers (see ct_ini.h). */
#include "ct_ini.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

ct_ini_result ct_ini_next_line(ct_ini_src *src, size_t max, const char **s, size_t *len, char *msg,
                               size_t msglen)
{
    assert(src->p <= src->end);
    if (src->p >= src->end) return CT_INI_END;
    const char *nl = memchr(src->p, '\n', (size_t)(src->end - src->p));
    const char *b = src->p, *lend = nl ? nl : src->end;
    src->p = nl ? nl + 1 : src->end;
    src->line++;
    if (src->line == 1 && lend - b >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) b += 3;
    size_t n = (size_t)(lend - b);
    if (n && b[n - 1] == '\r') n--;
    if (memchr(b, '\0', n)) {
        snprintf(msg, msglen, "NUL byte in line");
        return CT_INI_BAD;
    }
    if (n > max) {
        snprintf(msg, msglen, "line too long (max %zu bytes)", max);
        return CT_INI_BAD;
    }
    *s = b;
    *len = n;
    return CT_INI_LINE;
}
