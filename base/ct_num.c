/* ct_num.c — numbers read from text (see ct_num.h). */
#include "ct_num.h"

#include <stddef.h>

bool ct_num_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (d > max || v > (max - d) / 10) return false; /* v * 10 + d > max */
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
