/* ct_offices.c — the office telemetry table (see ct_offices.h).
 *
 * Invariants: entries stay sorted by (district, origin) with no two equal
 * keys; n <= CT_STATUS_MAX_OFFICES; at most CT_OFFICES_PER_DISTRICT entries
 * share a district. One allocation, made at creation.
 */
#include "ct_offices.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct ct_offices {
    ct_wire_office *e;
    size_t n;
};

ct_err ct_offices_create(ct_offices **out)
{
    ct_offices *t = calloc(1, sizeof *t);
    if (t) t->e = calloc(CT_STATUS_MAX_OFFICES, sizeof *t->e);
    if (!t || !t->e) {
        ct_offices_free(t);
        return CT_ERR_NOMEM;
    }
    *out = t;
    return CT_OK;
}

void ct_offices_free(ct_offices *t)
{
    if (!t) return;
    free(t->e);
    free(t);
}

static int cmp_key(uint32_t d, const uint8_t *o, const ct_wire_office *x)
{
    if (d != x->tel.district) return d < x->tel.district ? -1 : 1;
    return memcmp(o, x->tel.origin, CT_ORIGIN_LEN);
}

ct_err ct_offices_record(ct_offices *t, const ct_wire_telemetry *tel, int64_t seen_ms)
{
    assert(t && tel);
    size_t same = 0, oldest = SIZE_MAX;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].tel.district != tel->district) continue;
        if (cmp_key(tel->district, tel->origin, &t->e[i]) == 0) { /* this office again */
            t->e[i].tel = *tel;
            t->e[i].tel.token = 0;
            t->e[i].seen_ms = seen_ms;
            return CT_OK;
        }
        same++;
        if (oldest == SIZE_MAX || t->e[i].seen_ms < t->e[oldest].seen_ms) oldest = i;
    }
    if (same >= CT_OFFICES_PER_DISTRICT) { /* that district's longest silent goes */
        memmove(&t->e[oldest], &t->e[oldest + 1], (t->n - oldest - 1) * sizeof *t->e);
        t->n--;
    } else if (t->n >= CT_STATUS_MAX_OFFICES) {
        return CT_ERR_TOO_MANY;
    }
    size_t i = 0;
    while (i < t->n && cmp_key(tel->district, tel->origin, &t->e[i]) > 0)
        i++;
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof *t->e);
    t->e[i].tel = *tel;
    t->e[i].tel.token = 0;
    t->e[i].seen_ms = seen_ms;
    t->n++;
    return CT_OK;
}

const ct_wire_office *ct_offices_list(const ct_offices *t, size_t *n)
{
    *n = t->n;
    return t->e;
}
