/* ct_life.c — campaign life entries, schema v1: canonical encoder, strict
 * decoder, kind names, and the log-entry dispatch between life entries and
 * enrollment events (see ct_life.h and docs/PROTOCOL.md §2.2).
 *
 * Invariants: the encoder writes "k", "v", "id", "t", "c", "by", "r" and then
 * the kind's keys in the order of ct_life_key_names[] with msgpack-c's
 * smallest encodings, and refuses (appending nothing) any entry the decoder
 * would reject, so decode(encode(l)) == l. The decoder shares the event
 * decoder's field readers (ct_codec.h), looks at no byte before ct_prescan()
 * has accepted the frame and returns the FIRST problem found:
 *   size -> prescan -> not a map -> "k" first (kind) -> "v" second (version)
 *   -> each further key in map order (unknown for the kind, duplicate, type,
 *   rule) -> missing required keys.
 */
#include "ct_life.h"

#include <msgpack.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_time.h"

/* ---- kinds --------------------------------------------------------------- */

static const char *const ct_life_kind_names[] = {NULL,    "void",   "correct", "target",
                                                 "close", "reopen", "reorg"};
#define CT_LIFE_KINDS 6

const char *ct_life_kind_name(ct_life_kind k)
{
    return (unsigned)k >= 1 && (unsigned)k <= CT_LIFE_KINDS ? ct_life_kind_names[k] : "unknown";
}

static ct_err ct_life_kind_from(const char *s, size_t n, ct_life_kind *out)
{
    for (unsigned i = 1; i <= CT_LIFE_KINDS; i++)
        if (strlen(ct_life_kind_names[i]) == n && memcmp(ct_life_kind_names[i], s, n) == 0) {
            *out = (ct_life_kind)i;
            return CT_OK;
        }
    return CT_ERR_BAD_VALUE;
}

ct_err ct_life_kind_parse(const char *s, ct_life_kind *out)
{
    if (!s || !out) return CT_ERR_BAD_VALUE;
    return ct_life_kind_from(s, strlen(s), out);
}

/* ---- keys ---------------------------------------------------------------- */

/* In canonical order. */
enum {
    L_K,
    L_V,
    L_ID,
    L_T,
    L_C,
    L_BY,
    L_R,
    L_D,
    L_P,
    L_H,
    L_E,
    L_Q,
    L_NP,
    L_A,
    L_W,
    L_G,
    L_N,
    L_DAY,
    L_EF,
    L_COUNT
};

static const char *const ct_life_key_names[L_COUNT] = {"k", "v", "id", "t",   "c", "by", "r",
                                                       "d", "p", "h",  "e",   "q", "np", "a",
                                                       "w", "g", "n",  "day", "ef"};

#define B(f) (1u << (f))
#define L_COMMON (B(L_K) | B(L_V) | B(L_ID) | B(L_T) | B(L_C) | B(L_BY) | B(L_R))
#define L_SIGNUP (B(L_D) | B(L_P) | B(L_H) | B(L_E) | B(L_Q))
#define L_NEWVALS (B(L_NP) | B(L_A) | B(L_W) | B(L_G))

/* Keys a kind may carry / must carry. */
static unsigned ct_life_allowed(ct_life_kind k)
{
    switch (k) {
    case CT_LIFE_VOID:
        return L_COMMON | L_SIGNUP;
    case CT_LIFE_CORRECT:
        return L_COMMON | L_SIGNUP | L_NEWVALS;
    case CT_LIFE_TARGET:
        return L_COMMON | B(L_D) | B(L_P) | B(L_N) | B(L_EF);
    case CT_LIFE_CLOSE:
    case CT_LIFE_REOPEN:
        return L_COMMON | B(L_D) | B(L_DAY);
    case CT_LIFE_REORG:
        return L_COMMON | B(L_N) | B(L_EF);
    }
    return 0;
}

static unsigned ct_life_required(ct_life_kind k)
{
    return ct_life_allowed(k) & ~(unsigned)L_NEWVALS;
}

static int ct_life_field(const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR) return -1;
    for (int i = 0; i < L_COUNT; i++)
        if (ct_codec_key_is(&k->via.str, ct_life_key_names[i], strlen(ct_life_key_names[i])))
            return i;
    return -1;
}

/* ---- encode -------------------------------------------------------------- */

static uint8_t *ct_life_key(uint8_t *p, int f)
{
    const char *k = ct_life_key_names[f];
    return ct_mp_str(p, k, strlen(k));
}

ct_err ct_life_encode(const ct_life *l, ct_buf *out)
{
    if (!l || !out) return CT_ERR_ARG;
    const unsigned allowed = ct_life_allowed(l->kind);
    if (!allowed) return CT_ERR_BAD_VALUE;
    size_t lc, lby, lr, la = 0, lw = 0, lg = 0, ln = 0;
    if (ct_codec_check_cstr(l->campaign, CT_CAMPAIGN_ID_MAX, true, &lc) ||
        ct_codec_check_cstr(l->actor, CT_ACTOR_MAX, true, &lby) ||
        ct_codec_check_cstr(l->reason, CT_REASON_MAX, true, &lr))
        return CT_ERR_BAD_VALUE;
    if (l->issued_ms < 0) return CT_ERR_BAD_VALUE;
    unsigned present = ct_life_required(l->kind);
    if (present & B(L_D)) {
        if (l->district > 0xffff) return CT_ERR_BAD_VALUE;
        if (l->district == 0 && (present & B(L_E))) return CT_ERR_BAD_VALUE;
    }
    if ((present & B(L_P)) && (unsigned)l->program >= CT_PROGRAM_COUNT) return CT_ERR_BAD_VALUE;
    if ((present & B(L_Q)) && l->target_seq == 0) return CT_ERR_BAD_VALUE;
    if (l->kind == CT_LIFE_CORRECT) {
        if (!l->has_new_program && !l->has_new_agent && !l->has_new_commune && !l->has_new_group)
            return CT_ERR_BAD_VALUE;
        if (l->has_new_program) {
            if ((unsigned)l->new_program >= CT_PROGRAM_COUNT) return CT_ERR_BAD_VALUE;
            present |= B(L_NP);
        }
        if (l->has_new_agent) {
            if (ct_codec_check_cstr(l->new_agent, CT_AGENT_ID_MAX, true, &la))
                return CT_ERR_BAD_VALUE;
            present |= B(L_A);
        }
        if (l->has_new_commune) {
            if (ct_codec_check_cstr(l->new_commune, CT_COMMUNE_MAX, false, &lw))
                return CT_ERR_BAD_VALUE;
            present |= B(L_W);
        }
        if (l->has_new_group) {
            if (ct_codec_check_cstr(l->new_group, CT_GROUP_MAX, false, &lg))
                return CT_ERR_BAD_VALUE;
            present |= B(L_G);
        }
    }
    if (l->kind == CT_LIFE_TARGET && (l->target < 1 || l->target > CT_LIFE_TARGET_MAX))
        return CT_ERR_BAD_VALUE;
    if (l->kind == CT_LIFE_REORG && ct_codec_check_cstr(l->reorg, CT_REORG_NAME_MAX, true, &ln))
        return CT_ERR_BAD_VALUE;
    if ((present & B(L_DAY)) && !ct_time_yyyymmdd_valid(l->day)) return CT_ERR_BAD_VALUE;
    if ((present & B(L_EF)) && l->effective_ms < 0) return CT_ERR_BAD_VALUE;

    unsigned n_keys = 0;
    for (int f = 0; f < L_COUNT; f++)
        n_keys += (present >> f) & 1u;
    /* Worst case (a correct with every key at its cap) is ~650 bytes. */
    if (ct_buf_reserve(out, CT_EVENT_MAX_BYTES)) return CT_ERR_NOMEM;
    uint8_t *const start = out->data + out->len;
    uint8_t *p = start;
    if (n_keys < 16) {
        *p++ = (uint8_t)(0x80 | n_keys);
    } else {
        *p++ = 0xde;
        p = ct_mp_be(p, n_keys, 2);
    }
    for (int f = 0; f < L_COUNT; f++) {
        if (!(present & B(f))) continue;
        p = ct_life_key(p, f);
        switch (f) {
        case L_K: {
            const char *kn = ct_life_kind_names[l->kind];
            p = ct_mp_str(p, kn, strlen(kn));
            break;
        }
        case L_V:
            *p++ = CT_LIFE_VERSION;
            break;
        case L_ID:
            p = ct_mp_bin(p, l->id, CT_EVENT_ID_LEN);
            break;
        case L_T:
            p = ct_mp_uint(p, (uint64_t)l->issued_ms);
            break;
        case L_C:
            p = ct_mp_str(p, l->campaign, lc);
            break;
        case L_BY:
            p = ct_mp_str(p, l->actor, lby);
            break;
        case L_R:
            p = ct_mp_str(p, l->reason, lr);
            break;
        case L_D:
            p = ct_mp_uint(p, l->district);
            break;
        case L_P: {
            const char *pn = ct_program_name(l->program);
            p = ct_mp_str(p, pn, strlen(pn));
            break;
        }
        case L_H:
            p = ct_mp_bin(p, l->person, CT_PERSON_LEN);
            break;
        case L_E:
            p = ct_mp_bin(p, l->target_id, CT_EVENT_ID_LEN);
            break;
        case L_Q:
            p = ct_mp_uint(p, l->target_seq);
            break;
        case L_NP: {
            const char *pn = ct_program_name(l->new_program);
            p = ct_mp_str(p, pn, strlen(pn));
            break;
        }
        case L_A:
            p = ct_mp_str(p, l->new_agent, la);
            break;
        case L_W:
            p = ct_mp_str(p, l->new_commune, lw);
            break;
        case L_G:
            p = ct_mp_str(p, l->new_group, lg);
            break;
        case L_N:
            if (l->kind == CT_LIFE_REORG)
                p = ct_mp_str(p, l->reorg, ln);
            else
                p = ct_mp_uint(p, l->target);
            break;
        case L_DAY:
            p = ct_mp_uint(p, l->day);
            break;
        case L_EF:
            p = ct_mp_uint(p, (uint64_t)l->effective_ms);
            break;
        default:
            break;
        }
    }
    out->len += (size_t)(p - start);
    return CT_OK;
}

/* ---- decode -------------------------------------------------------------- */

static const ct_prescan_limits ct_life_limits = {CT_CODEC_MAX_DEPTH, 64, 256};

static ct_err ct_bin_field(const msgpack_object *o, size_t n, ct_err bad_len, uint8_t *dst)
{
    if (o->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
    if (o->via.bin.size != n) return bad_len;
    memcpy(dst, o->via.bin.ptr, n);
    return CT_OK;
}

static ct_err ct_life_value(int f, const msgpack_object *o, ct_life *out)
{
    ct_err e;
    uint64_t u;
    switch (f) {
    case L_ID:
        return ct_bin_field(o, CT_EVENT_ID_LEN, CT_ERR_BAD_ID, out->id);
    case L_T:
        if ((e = ct_codec_uint(o, INT64_MAX, &u))) return e;
        out->issued_ms = (int64_t)u;
        return CT_OK;
    case L_C:
        return ct_codec_str(o, false, CT_CAMPAIGN_ID_MAX, out->campaign);
    case L_BY:
        return ct_codec_str(o, false, CT_ACTOR_MAX, out->actor);
    case L_R:
        return ct_codec_str(o, false, CT_REASON_MAX, out->reason);
    case L_D:
        if ((e = ct_codec_uint(o, 0xffff, &u))) return e;
        if (u == 0 && (out->kind == CT_LIFE_VOID || out->kind == CT_LIFE_CORRECT))
            return CT_ERR_BAD_VALUE;
        out->district = (uint32_t)u;
        return CT_OK;
    case L_P:
        return ct_codec_program(o, &out->program);
    case L_H:
        return ct_bin_field(o, CT_PERSON_LEN, CT_ERR_BAD_PERSON, out->person);
    case L_E:
        return ct_bin_field(o, CT_EVENT_ID_LEN, CT_ERR_BAD_ID, out->target_id);
    case L_Q:
        if ((e = ct_codec_uint(o, UINT64_MAX, &u))) return e;
        if (u == 0) return CT_ERR_BAD_VALUE;
        out->target_seq = u;
        return CT_OK;
    case L_NP:
        out->has_new_program = true;
        return ct_codec_program(o, &out->new_program);
    case L_A:
        out->has_new_agent = true;
        return ct_codec_str(o, false, CT_AGENT_ID_MAX, out->new_agent);
    case L_W:
        out->has_new_commune = true;
        return ct_codec_str(o, true, CT_COMMUNE_MAX, out->new_commune);
    case L_G:
        out->has_new_group = true;
        return ct_codec_str(o, true, CT_GROUP_MAX, out->new_group);
    case L_N:
        if (out->kind == CT_LIFE_REORG)
            return ct_codec_str(o, false, CT_REORG_NAME_MAX, out->reorg);
        if ((e = ct_codec_uint(o, CT_LIFE_TARGET_MAX, &u))) return e;
        if (u == 0) return CT_ERR_BAD_VALUE;
        out->target = (uint32_t)u;
        return CT_OK;
    case L_DAY:
        if ((e = ct_codec_uint(o, UINT32_MAX, &u))) return e;
        if (!ct_time_yyyymmdd_valid((uint32_t)u)) return CT_ERR_BAD_VALUE;
        out->day = (uint32_t)u;
        return CT_OK;
    case L_EF:
        if ((e = ct_codec_uint(o, INT64_MAX, &u))) return e;
        out->effective_ms = (int64_t)u;
        return CT_OK;
    default:
        return CT_ERR_INTERNAL;
    }
}

ct_err ct_life_decode(const uint8_t *buf, size_t len, ct_life *out, bool *id_known)
{
    if (id_known) *id_known = false;
    if (len == 0 || !buf) return CT_ERR_FRAME_EMPTY;
    if (len > CT_EVENT_MAX_BYTES) return CT_ERR_FRAME_TOO_LARGE;
    if (!out) return CT_ERR_ARG;
    msgpack_object root;
    ct_err e = ct_codec_unpack(buf, len, &ct_life_limits, &root);
    if (e) return e;
    if (root.type != MSGPACK_OBJECT_MAP) return CT_ERR_NOT_MAP;
    const msgpack_object_kv *kv = root.via.map.ptr;
    const uint32_t n = root.via.map.size;
    memset(out, 0, sizeof *out);

    /* The (first) id names the nack, whatever else is wrong. */
    for (uint32_t i = 0; i < n; i++)
        if (ct_life_field(&kv[i].key) == L_ID) {
            const msgpack_object *o = &kv[i].val;
            if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == CT_EVENT_ID_LEN) {
                memcpy(out->id, o->via.bin.ptr, CT_EVENT_ID_LEN);
                if (id_known) *id_known = true;
            }
            break;
        }

    /* "k" first, "v" second. */
    if (n < 1 || ct_life_field(&kv[0].key) != L_K) return CT_ERR_MISSING_FIELD;
    const msgpack_object *ko = &kv[0].val;
    if (ko->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    if ((e = ct_life_kind_from(ko->via.str.ptr, ko->via.str.size, &out->kind))) return e;
    if (n < 2 || ct_life_field(&kv[1].key) != L_V) return CT_ERR_MISSING_FIELD;
    uint64_t u;
    if ((e = ct_codec_uint(&kv[1].val, UINT64_MAX, &u))) return e;
    if (u != CT_LIFE_VERSION) return CT_ERR_BAD_VERSION;

    const unsigned allowed = ct_life_allowed(out->kind);
    unsigned seen = B(L_K) | B(L_V);
    for (uint32_t i = 2; i < n; i++) {
        int f = ct_life_field(&kv[i].key);
        if (f < 0 || !(allowed & B(f))) return CT_ERR_UNKNOWN_KEY;
        if (seen & B(f)) return CT_ERR_DUP_KEY;
        seen |= B(f);
        if ((e = ct_life_value(f, &kv[i].val, out))) return e;
    }
    const unsigned req = ct_life_required(out->kind);
    if ((seen & req) != req) return CT_ERR_MISSING_FIELD;
    if (out->kind == CT_LIFE_CORRECT && !(seen & L_NEWVALS)) return CT_ERR_MISSING_FIELD;
    return CT_OK;
}

/* ---- the log-entry dispatch ---------------------------------------------- */

int ct_entry_is_life(const uint8_t *buf, size_t len)
{
    if (!buf || len < 1) return 0;
    size_t i;
    uint32_t n;
    if (buf[0] >= 0x80 && buf[0] <= 0x8f) {
        n = buf[0] & 0x0fu;
        i = 1;
    } else if (buf[0] == 0xde && len >= 3) {
        n = (uint32_t)buf[1] << 8 | buf[2];
        i = 3;
    } else if (buf[0] == 0xdf && len >= 5) {
        n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
        i = 5;
    } else {
        return 0;
    }
    if (n == 0 || i >= len) return 0;
    /* the first key: the 1-byte string "k" in any str form */
    static const uint8_t forms[4][6] = {
        {1, 0xa1}, {2, 0xd9, 0x01}, {3, 0xda, 0x00, 0x01}, {5, 0xdb, 0x00, 0x00, 0x00, 0x01}};
    for (int f = 0; f < 4; f++) {
        size_t h = forms[f][0];
        if (len - i > h && memcmp(buf + i, forms[f] + 1, h) == 0) return buf[i + h] == 'k';
    }
    return 0;
}

ct_err ct_entry_decode(const uint8_t *buf, size_t len, ct_entry *out, bool *id_known)
{
    if (id_known) *id_known = false;
    if (len == 0 || !buf) return CT_ERR_FRAME_EMPTY;
    if (len > CT_EVENT_MAX_BYTES) return CT_ERR_FRAME_TOO_LARGE;
    if (!out) return CT_ERR_ARG;
    if (ct_entry_is_life(buf, len)) {
        out->type = CT_ENTRY_LIFE;
        return ct_life_decode(buf, len, &out->u.life, id_known);
    }
    out->type = CT_ENTRY_EVENT;
    return ct_event_decode(buf, len, &out->u.ev, id_known);
}

const uint8_t *ct_entry_id(const ct_entry *e)
{
    return e->type == CT_ENTRY_LIFE ? e->u.life.id : e->u.ev.id;
}
