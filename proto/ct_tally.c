/* ct_tally.c — the tally rule (see ct_tally.h, docs/PROTOCOL.md §5), counter
 * keys and the person-state encoding.
 *
 * Invariants: ct_tally_apply() is pure (reads only its arguments, writes only
 * *next and *res); a CANCELLED outcome debits exactly the keys the crediting
 * enroll credited (taken from the stored person state), so per district and
 * program NET == sum(AGENT) == sum(DAY) after any sequence of events.
 *
 * Person state encoding (big-endian; version 1 20..84 bytes, version 2
 * 22..86 bytes):
 *   0      u8   version: 1 when the commune code is 0, else 2
 *   1      u8   flags: bit0 = enrolled, bit1 = voided, bit2 = moved; at
 *               most one of them; other bits 0
 *   2..5   u32  district of the crediting enroll
 *   6..9   u32  day (YYYYMMDD) of the crediting enroll
 *   10..17 u64  log seq of the crediting enroll
 *   18..19 u16  version 2 only: commune code of the crediting enroll,
 *               1..CT_COMMUNES_MAX (0 is written as version 1)
 *   ..     u8   agent id length A (0..32), then A bytes
 *   ..     u8   group id length G (0..32), then G bytes
 * Nothing may follow. One state has one encoding.
 */
#include "ct_tally.h"

#include <stdio.h>
#include <string.h>

#include "ct_be.h"
#include "ct_campaign.h"

#define CT_DIM_MAX 32

/* person state flag bits (docs/PROTOCOL.md §7) */
#define CT_PSF_ENROLLED 1u
#define CT_PSF_VOIDED 2u
#define CT_PSF_MOVED 4u

ct_count_key ct_count_key_make(ct_count_kind kind, ct_program program, uint32_t district,
                               const void *dim, size_t dim_len)
{
    ct_count_key k;
    memset(&k, 0, sizeof k);
    if (dim_len > CT_DIM_MAX) dim_len = CT_DIM_MAX;
    k.b[0] = (uint8_t)kind;
    k.b[1] = (uint8_t)program;
    k.b[2] = (uint8_t)(district >> 8);
    k.b[3] = (uint8_t)district;
    if (dim_len) memcpy(k.b + 4, dim, dim_len);
    k.len = (uint8_t)(4 + dim_len);
    return k;
}

/* Per kind of tally version 3 (docs/PROTOCOL.md §5.1): dim length range,
 * whether the program byte may be nonzero, and the unit rule. */
enum { U_ANY, U_NONZERO, U_ZERO };
typedef struct {
    uint8_t dim_min, dim_max;
    bool program;
    uint8_t unit;
} ct_kind_rule;

static const ct_kind_rule ct_life_kind_rules[] = {
    [CT_COUNT_VOIDED] = {1, CT_DIM_MAX, true, U_NONZERO},
    [CT_COUNT_CORRECTED] = {0, 0, true, U_NONZERO},
    [CT_COUNT_TARGET] = {16, 16, true, U_ANY},
    [CT_COUNT_CLOSE] = {4, 4, false, U_ANY},
    [CT_COUNT_AFTER_CLOSE] = {12, 12, true, U_NONZERO},
    [CT_COUNT_LATE_CLOSED] = {4, 4, true, U_NONZERO},
    [CT_COUNT_LATE_HIST] = {1, 1, true, U_NONZERO},
    [CT_COUNT_LATE_MAX] = {0, 0, true, U_NONZERO},
    [CT_COUNT_AFTER_DAY] = {4, 4, true, U_NONZERO},
    [CT_COUNT_RECV_DAY] = {4, 4, true, U_NONZERO},
    [CT_COUNT_REORG] = {1, CT_DIM_MAX, false, U_ZERO},
    [CT_COUNT_LIFE] = {8, 8, false, U_ANY},
};

ct_err ct_count_key_parse(const uint8_t *b, size_t len, ct_count_key *out)
{
    if (!b || !out || len < 4 || len > CT_COUNT_KEY_MAX) return CT_ERR_BAD_VALUE;
    uint8_t kind = b[0];
    if (kind < CT_COUNT_NET || kind > CT_COUNT_LIFE) return CT_ERR_BAD_VALUE;
    if (b[1] >= CT_PROGRAM_COUNT) return CT_ERR_BAD_VALUE;
    size_t dim = len - 4;
    if (kind >= CT_COUNT_VOIDED) {
        const ct_kind_rule *r = &ct_life_kind_rules[kind];
        unsigned unit = (unsigned)b[2] << 8 | b[3];
        if (dim < r->dim_min || dim > r->dim_max) return CT_ERR_BAD_VALUE;
        if (!r->program && b[1] != 0) return CT_ERR_BAD_VALUE;
        if ((r->unit == U_NONZERO && unit == 0) || (r->unit == U_ZERO && unit != 0))
            return CT_ERR_BAD_VALUE;
        if (kind == CT_COUNT_LATE_HIST && b[4] >= CT_LATE_BUCKETS) return CT_ERR_BAD_VALUE;
    } else {
        switch ((ct_count_kind)kind) {
        case CT_COUNT_AGENT:
        case CT_COUNT_GROUP:
            if (dim < 1 || dim > CT_DIM_MAX) return CT_ERR_BAD_VALUE;
            break;
        case CT_COUNT_DAY:
            if (dim != 4) return CT_ERR_BAD_VALUE;
            break;
        case CT_COUNT_COMMUNE: {
            if (dim != 2) return CT_ERR_BAD_VALUE;
            unsigned code = (unsigned)b[4] << 8 | b[5];
            if (code < 1 || code > CT_COMMUNES_MAX) return CT_ERR_BAD_VALUE;
            break;
        }
        default:
            if (dim != 0) return CT_ERR_BAD_VALUE;
        }
    }
    memset(out, 0, sizeof *out);
    memcpy(out->b, b, len);
    out->len = (uint8_t)len;
    return CT_OK;
}

ct_count_kind ct_count_key_kind(const ct_count_key *k)
{
    return (ct_count_kind)k->b[0];
}

ct_program ct_count_key_program(const ct_count_key *k)
{
    return (ct_program)k->b[1];
}

uint32_t ct_count_key_district(const ct_count_key *k)
{
    return (uint32_t)k->b[2] << 8 | k->b[3];
}

const uint8_t *ct_count_key_dim(const ct_count_key *k, size_t *len)
{
    if (len) *len = k->len > 4 ? (size_t)k->len - 4 : 0;
    return k->b + 4;
}

int ct_count_key_cmp(const ct_count_key *a, const ct_count_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->b, b->b, n);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

void ct_person_key(ct_program p, const uint8_t person[CT_PERSON_LEN],
                   uint8_t out[CT_PERSON_KEY_LEN])
{
    out[0] = (uint8_t)p;
    memcpy(out + 1, person, CT_PERSON_LEN);
}

ct_err ct_person_state_encode(const ct_person_state *s, uint8_t out[CT_PERSON_STATE_MAX],
                              size_t *len)
{
    if (!s || !out || !len) return CT_ERR_ARG;
    size_t al = strnlen(s->agent, sizeof s->agent);
    size_t gl = strnlen(s->group, sizeof s->group);
    if (al > CT_AGENT_ID_MAX || gl > CT_GROUP_MAX || s->commune > CT_COMMUNES_MAX)
        return CT_ERR_BAD_VALUE;
    if ((int)s->enrolled + (int)s->voided + (int)s->moved > 1) return CT_ERR_BAD_VALUE;
    size_t n = 0;
    out[n++] = s->commune ? 2 : 1;
    out[n++] = (uint8_t)((s->enrolled ? CT_PSF_ENROLLED : 0) | (s->voided ? CT_PSF_VOIDED : 0) |
                         (s->moved ? CT_PSF_MOVED : 0));
    ct_be32_put(out + n, s->district);
    n += 4;
    ct_be32_put(out + n, s->day);
    n += 4;
    ct_be32_put(out + n, (uint32_t)(s->seq >> 32));
    ct_be32_put(out + n + 4, (uint32_t)s->seq);
    n += 8;
    if (s->commune) {
        out[n++] = (uint8_t)(s->commune >> 8);
        out[n++] = (uint8_t)s->commune;
    }
    out[n++] = (uint8_t)al;
    memcpy(out + n, s->agent, al);
    n += al;
    out[n++] = (uint8_t)gl;
    memcpy(out + n, s->group, gl);
    n += gl;
    *len = n;
    return CT_OK;
}

ct_err ct_person_state_decode(const uint8_t *b, size_t len, ct_person_state *out)
{
    if (!b || !out) return CT_ERR_ARG;
    if (len < 20 || (b[0] != 1 && b[0] != 2)) return CT_ERR_STORE_CORRUPT;
    /* at most one flag: 0, enrolled, voided or moved */
    if (b[1] != 0 && b[1] != CT_PSF_ENROLLED && b[1] != CT_PSF_VOIDED && b[1] != CT_PSF_MOVED)
        return CT_ERR_STORE_CORRUPT;
    ct_person_state s;
    memset(&s, 0, sizeof s);
    s.enrolled = b[1] == CT_PSF_ENROLLED;
    s.voided = b[1] == CT_PSF_VOIDED;
    s.moved = b[1] == CT_PSF_MOVED;
    s.district = ct_be32_get(b + 2);
    s.day = ct_be32_get(b + 6);
    s.seq = (uint64_t)ct_be32_get(b + 10) << 32 | ct_be32_get(b + 14);
    size_t n = 18;
    if (b[0] == 2) {
        if (len < 22) return CT_ERR_STORE_CORRUPT;
        unsigned code = (unsigned)b[18] << 8 | b[19];
        if (code < 1 || code > CT_COMMUNES_MAX) return CT_ERR_STORE_CORRUPT;
        s.commune = (uint16_t)code;
        n = 20;
    }
    size_t al = b[n++];
    if (al > CT_AGENT_ID_MAX || n + al + 1 > len) return CT_ERR_STORE_CORRUPT;
    if (memchr(b + n, 0, al)) return CT_ERR_STORE_CORRUPT;
    memcpy(s.agent, b + n, al);
    n += al;
    size_t gl = b[n++];
    if (gl > CT_GROUP_MAX || n + gl != len) return CT_ERR_STORE_CORRUPT;
    if (memchr(b + n, 0, gl)) return CT_ERR_STORE_CORRUPT;
    memcpy(s.group, b + n, gl);
    *out = s;
    return CT_OK;
}

static void add_change(ct_tally_result *res, ct_count_kind kind, ct_program p, uint32_t district,
                       const void *dim, size_t dim_len, int64_t delta)
{
    ct_tally_change *c = &res->changes[res->n++];
    c->key = ct_count_key_make(kind, p, district, dim, dim_len);
    c->delta = delta;
}

static void add_commune(ct_tally_result *res, ct_program p, uint32_t district, uint16_t code,
                        int64_t delta)
{
    if (!code) return;
    uint8_t d[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    add_change(res, CT_COUNT_COMMUNE, p, district, d, 2, delta);
}

static void add_day(ct_tally_result *res, ct_program p, uint32_t district, uint32_t day,
                    int64_t delta)
{
    uint8_t d[4];
    ct_be32_put(d, day);
    add_change(res, CT_COUNT_DAY, p, district, d, 4, delta);
}

void ct_tally_apply(const ct_event *ev, uint32_t local_day, uint16_t commune, uint64_t seq,
                    const ct_person_state *prior, ct_person_state *next, ct_tally_result *res)
{
    memset(res, 0, sizeof *res);
    const ct_program p = ev->program;
    const bool enrolled = prior && prior->enrolled;
    if (ev->action == CT_ACTION_ENROLL) {
        if (enrolled) {
            res->outcome = CT_TALLY_REPEAT;
            add_change(res, CT_COUNT_REPEAT, p, ev->district, NULL, 0, 1);
            return;
        }
        res->outcome = CT_TALLY_COUNTED;
        res->state_changed = true;
        memset(next, 0, sizeof *next);
        next->enrolled = true;
        next->district = ev->district;
        next->day = local_day;
        next->seq = seq;
        next->commune = commune;
        size_t al = strnlen(ev->agent, CT_AGENT_ID_MAX);
        size_t gl = strnlen(ev->group, CT_GROUP_MAX);
        memcpy(next->agent, ev->agent, al);
        memcpy(next->group, ev->group, gl);
        add_change(res, CT_COUNT_NET, p, ev->district, NULL, 0, 1);
        add_change(res, CT_COUNT_GROSS, p, ev->district, NULL, 0, 1);
        add_change(res, CT_COUNT_AGENT, p, ev->district, next->agent, al, 1);
        add_day(res, p, ev->district, local_day, 1);
        if (gl) add_change(res, CT_COUNT_GROUP, p, ev->district, next->group, gl, 1);
        add_commune(res, p, ev->district, commune, 1);
        return;
    }
    /* cancel */
    if (!enrolled) {
        res->outcome = CT_TALLY_CANCEL_NOOP;
        add_change(res, CT_COUNT_CANCEL_NOOP, p, ev->district, NULL, 0, 1);
        return;
    }
    if (prior->district != ev->district) {
        res->outcome = CT_TALLY_CANCEL_FOREIGN;
        add_change(res, CT_COUNT_CANCEL_NOOP, p, ev->district, NULL, 0, 1);
        return;
    }
    res->outcome = CT_TALLY_CANCELLED;
    res->state_changed = true;
    *next = *prior;
    next->enrolled = false;
    const uint32_t d = prior->district;
    size_t al = strnlen(prior->agent, CT_AGENT_ID_MAX);
    size_t gl = strnlen(prior->group, CT_GROUP_MAX);
    add_change(res, CT_COUNT_NET, p, d, NULL, 0, -1);
    add_change(res, CT_COUNT_AGENT, p, d, prior->agent, al, -1);
    add_day(res, p, d, prior->day, -1);
    if (gl) add_change(res, CT_COUNT_GROUP, p, d, prior->group, gl, -1);
    add_commune(res, p, d, prior->commune, -1);
    add_change(res, CT_COUNT_CANCELLED, p, d, NULL, 0, 1);
}

const char *ct_tally_outcome_name(ct_tally_outcome o)
{
    switch (o) {
    case CT_TALLY_COUNTED:
        return "counted";
    case CT_TALLY_REPEAT:
        return "repeat";
    case CT_TALLY_CANCELLED:
        return "cancelled";
    case CT_TALLY_CANCEL_NOOP:
        return "cancel_noop";
    case CT_TALLY_CANCEL_FOREIGN:
        return "cancel_foreign";
    case CT_TALLY_VOIDED:
        return "voided";
    case CT_TALLY_CORRECTED:
        return "corrected";
    case CT_TALLY_TARGET_SET:
        return "target_set";
    case CT_TALLY_CLOSED:
        return "closed";
    case CT_TALLY_REOPENED:
        return "reopened";
    case CT_TALLY_REORG_SET:
        return "reorg_set";
    }
    return "unknown";
}

const char *ct_count_kind_name(ct_count_kind k)
{
    switch (k) {
    case CT_COUNT_NET:
        return "net";
    case CT_COUNT_GROSS:
        return "gross";
    case CT_COUNT_CANCELLED:
        return "cancelled";
    case CT_COUNT_AGENT:
        return "agent";
    case CT_COUNT_DAY:
        return "day";
    case CT_COUNT_GROUP:
        return "group";
    case CT_COUNT_REPEAT:
        return "repeat";
    case CT_COUNT_CANCEL_NOOP:
        return "cancel_noop";
    case CT_COUNT_COMMUNE:
        return "commune";
    case CT_COUNT_VOIDED:
        return "voided";
    case CT_COUNT_CORRECTED:
        return "corrected";
    case CT_COUNT_TARGET:
        return "target";
    case CT_COUNT_CLOSE:
        return "close";
    case CT_COUNT_AFTER_CLOSE:
        return "after_close";
    case CT_COUNT_LATE_CLOSED:
        return "late_closed";
    case CT_COUNT_LATE_HIST:
        return "late_hist";
    case CT_COUNT_LATE_MAX:
        return "late_max";
    case CT_COUNT_AFTER_DAY:
        return "after_day";
    case CT_COUNT_RECV_DAY:
        return "recv_day";
    case CT_COUNT_REORG:
        return "reorg";
    case CT_COUNT_LIFE:
        return "life";
    }
    return "unknown";
}

void ct_count_key_str(const ct_count_key *k, char *out, size_t len)
{
    if (k->len < 4) {
        snprintf(out, len, "(short key of %u bytes)", k->len);
        return;
    }
    ct_count_kind kind = ct_count_key_kind(k);
    ct_program p = ct_count_key_program(k);
    const bool no_program =
        kind == CT_COUNT_CLOSE || kind == CT_COUNT_REORG || kind == CT_COUNT_LIFE;
    const char *pname = no_program && p == 0             ? "-"
                        : (unsigned)p < CT_PROGRAM_COUNT ? ct_program_name(p)
                                                         : "?";
    size_t dl = 0;
    const uint8_t *d = ct_count_key_dim(k, &dl);
    char dim[80] = "";
    if ((kind == CT_COUNT_DAY || kind == CT_COUNT_CLOSE || kind == CT_COUNT_LATE_CLOSED ||
         kind == CT_COUNT_AFTER_DAY || kind == CT_COUNT_RECV_DAY) &&
        dl == 4) {
        snprintf(dim, sizeof dim, " dim=%u", (unsigned)ct_be32_get(d));
    } else if (kind == CT_COUNT_COMMUNE && dl == 2) {
        snprintf(dim, sizeof dim, " dim=%u", (unsigned)d[0] << 8 | d[1]);
    } else if (kind == CT_COUNT_AFTER_CLOSE && dl == 12) {
        snprintf(dim, sizeof dim, " dim=%u,seq=%llu", (unsigned)ct_be32_get(d),
                 (unsigned long long)ct_be64_get(d + 4));
    } else if (kind == CT_COUNT_TARGET && dl == 16) {
        snprintf(dim, sizeof dim, " dim=%llu,seq=%llu", (unsigned long long)ct_be64_get(d),
                 (unsigned long long)ct_be64_get(d + 8));
    } else if (kind == CT_COUNT_LIFE && dl == 8) {
        snprintf(dim, sizeof dim, " dim=%llu", (unsigned long long)ct_be64_get(d));
    } else if (kind == CT_COUNT_LATE_HIST && dl == 1) {
        snprintf(dim, sizeof dim, " dim=%u", (unsigned)d[0]);
    } else if (dl) {
        size_t o = (size_t)snprintf(dim, sizeof dim, " dim=");
        for (size_t i = 0; i < dl && o + 5 < sizeof dim; i++) {
            if (d[i] >= 0x21 && d[i] < 0x7f)
                dim[o++] = (char)d[i];
            else
                o += (size_t)snprintf(dim + o, sizeof dim - o, "\\x%02x", d[i]);
        }
        dim[o] = 0;
    }
    snprintf(out, len, "kind=%s program=%s district=%u%s", ct_count_kind_name(kind), pname,
             (unsigned)ct_count_key_district(k), dim);
}
