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

#include "ct_log.h"
#include "ct_time.h"

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

ct_err ct_offices_take(ct_offices *t, const ct_campaign *c, ct_auth *auth, zmq_msg_t *body,
                       bool *has_token, uint64_t *token)
{
    const uint8_t *buf = zmq_msg_data(body);
    size_t len = zmq_msg_size(body);
    ct_wire_telemetry tel;
    ct_err e = ct_wire_telemetry_decode(buf, len, &tel);
    *has_token = e == CT_OK || ct_wire_submit_peek_token(buf, len, token) == CT_OK;
    if (!e) *token = tel.token;
    if (!e && !ct_campaign_district(c, tel.district)) e = CT_ERR_UNKNOWN_DISTRICT;
    if (!e && auth) {
        const char *user = zmq_msg_gets(body, "User-Id");
        ct_role role = CT_ROLE_NONE;
        uint32_t district = 0;
        bool known = user && ct_auth_lookup(auth, user, &role, &district);
        bool may = known && (role == CT_ROLE_ADMIN ||
                             (role == CT_ROLE_COLLECTOR && district == tel.district));
        if (!may) {
            e = CT_ERR_FORBIDDEN;
            ct_log(CT_LOG_WARN, "security",
                   "event=telemetry_forbidden key=%s role=%s key_district=%u telemetry_district=%u",
                   user && user[0] ? user : "-", known ? ct_role_name(role) : "revoked_or_unknown",
                   district, tel.district);
        }
    }
    if (!e) e = ct_offices_record(t, &tel, ct_now_ms());
    return e;
}

const ct_wire_office *ct_offices_list(const ct_offices *t, size_t *n)
{
    *n = t->n;
    return t->e;
}
