/* ct_event.c — the enrollment event, schema v1: canonical encoder, strict
 * decoder, names, id helpers, UTF-8 check (see ct_event.h and
 * docs/PROTOCOL.md §2).
 *
 * Invariants: the encoder writes keys in the order of ct_event_fields[] with
 * msgpack-c's smallest encodings and refuses (appending nothing) any event
 * the decoder would reject, so decode(encode(e)) == e. The decoder looks at
 * no byte before ct_prescan() has accepted the frame, never allocates per
 * call (per-thread zone, ct_codec.h) and returns the FIRST problem found:
 *   size -> prescan -> not a map -> "v" (BAD_VERSION wins over everything
 *   that a future version might change) -> each key in map order (unknown,
 *   duplicate, type, cap, UTF-8, value) -> missing required fields.
 */
#include "ct_event.h"

#include <msgpack.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_text.h"

/* ---- names --------------------------------------------------------------- */

static const char *const ct_program_names[CT_PROGRAM_COUNT] = {"bhxh_tn", "bhyt_hgd"};
static const char *const ct_program_labels[CT_PROGRAM_COUNT] = {"BHXH tự nguyện",
                                                                "BHYT hộ gia đình"};
static const char *const ct_action_names[2] = {"enroll", "cancel"};

const char *ct_program_name(ct_program p)
{
    return (unsigned)p < CT_PROGRAM_COUNT ? ct_program_names[p] : "unknown";
}

const char *ct_program_label(ct_program p)
{
    return (unsigned)p < CT_PROGRAM_COUNT ? ct_program_labels[p] : "unknown";
}

static ct_err ct_program_from(const char *s, size_t n, ct_program *out)
{
    for (int i = 0; i < CT_PROGRAM_COUNT; i++)
        if (strlen(ct_program_names[i]) == n && memcmp(ct_program_names[i], s, n) == 0) {
            *out = (ct_program)i;
            return CT_OK;
        }
    return CT_ERR_UNKNOWN_PROGRAM;
}

ct_err ct_program_parse(const char *s, ct_program *out)
{
    if (!s) return CT_ERR_UNKNOWN_PROGRAM;
    return ct_program_from(s, strlen(s), out);
}

const char *ct_action_name(ct_action a)
{
    return (unsigned)a < 2 ? ct_action_names[a] : "unknown";
}

static ct_err ct_action_from(const char *s, size_t n, ct_action *out)
{
    for (int i = 0; i < 2; i++)
        if (strlen(ct_action_names[i]) == n && memcmp(ct_action_names[i], s, n) == 0) {
            *out = (ct_action)i;
            return CT_OK;
        }
    return CT_ERR_BAD_VALUE;
}

ct_err ct_action_parse(const char *s, ct_action *out)
{
    if (!s) return CT_ERR_BAD_VALUE;
    return ct_action_from(s, strlen(s), out);
}

/* ---- ids ----------------------------------------------------------------- */

void ct_event_id_make(uint8_t id[CT_EVENT_ID_LEN], const uint8_t origin[CT_ORIGIN_LEN],
                      uint64_t seq)
{
    memcpy(id, origin, CT_ORIGIN_LEN);
    for (int i = 0; i < 8; i++)
        id[CT_ORIGIN_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
}

uint64_t ct_event_id_seq(const uint8_t id[CT_EVENT_ID_LEN])
{
    uint64_t s = 0;
    for (int i = 0; i < 8; i++)
        s = s << 8 | id[CT_ORIGIN_LEN + i];
    return s;
}

void ct_event_id_hex(const uint8_t id[CT_EVENT_ID_LEN], char out[2 * CT_EVENT_ID_LEN + 1])
{
    ct_text_hex(id, CT_EVENT_ID_LEN, out);
}

static int ct_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ct_err ct_event_id_parse_hex(const char *hex, uint8_t id[CT_EVENT_ID_LEN])
{
    if (!hex || strlen(hex) != 2 * CT_EVENT_ID_LEN) return CT_ERR_BAD_ID;
    uint8_t tmp[CT_EVENT_ID_LEN];
    for (int i = 0; i < CT_EVENT_ID_LEN; i++) {
        int hi = ct_hexval(hex[2 * i]), lo = ct_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return CT_ERR_BAD_ID;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(id, tmp, sizeof tmp);
    return CT_OK;
}

/* ---- UTF-8 --------------------------------------------------------------- */

int ct_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1, cp = c & 0x1fu, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, cp = c & 0x0fu, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return 0; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5.. */
        }
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            uint8_t cc = s[i + j];
            if ((cc & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (cc & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += k + 1;
    }
    return 1;
}

/* ---- encode -------------------------------------------------------------- */

ct_err ct_codec_check_cstr(const char *s, size_t cap, bool required, size_t *len)
{
    size_t n = strnlen(s, cap + 1);
    if (n > cap) return CT_ERR_BAD_VALUE;
    if (n == 0 && required) return CT_ERR_BAD_VALUE;
    if (!ct_utf8_valid((const uint8_t *)s, n)) return CT_ERR_BAD_VALUE;
    *len = n;
    return CT_OK;
}

ct_err ct_event_encode(const ct_event *ev, ct_buf *out)
{
    if (!ev || !out) return CT_ERR_ARG;
    size_t lc, lw, la, lg;
    if (ct_codec_check_cstr(ev->campaign, CT_CAMPAIGN_ID_MAX, true, &lc) ||
        ct_codec_check_cstr(ev->commune, CT_COMMUNE_MAX, false, &lw) ||
        ct_codec_check_cstr(ev->agent, CT_AGENT_ID_MAX, true, &la) ||
        ct_codec_check_cstr(ev->group, CT_GROUP_MAX, false, &lg))
        return CT_ERR_BAD_VALUE;
    if (ev->occurred_ms < 0 || ev->district == 0 || ev->district > 0xffff) return CT_ERR_BAD_VALUE;
    if ((unsigned)ev->program >= CT_PROGRAM_COUNT || (unsigned)ev->action > 1)
        return CT_ERR_BAD_VALUE;
    if (ev->has_months && (ev->months < 1 || ev->months > CT_MONTHS_MAX)) return CT_ERR_BAD_VALUE;

    /* Worst case (all caps, 64-bit integers) is ~330 bytes < CT_EVENT_MAX_BYTES:
     * reserve once and write directly. */
    if (ct_buf_reserve(out, CT_EVENT_MAX_BYTES)) return CT_ERR_NOMEM;
    uint8_t *const start = out->data + out->len;
    uint8_t *p = start;
    *p++ = (uint8_t)(0x80 | (9 + (lw > 0) + ev->has_months + ev->has_amount + (lg > 0)));
    p = ct_mp_key1(p, 'v');
    *p++ = CT_SCHEMA_VERSION;
    p = ct_mp_str(p, "id", 2);
    p = ct_mp_bin(p, ev->id, CT_EVENT_ID_LEN);
    p = ct_mp_key1(p, 't');
    p = ct_mp_uint(p, (uint64_t)ev->occurred_ms);
    p = ct_mp_key1(p, 'c');
    p = ct_mp_str(p, ev->campaign, lc);
    p = ct_mp_key1(p, 'd');
    p = ct_mp_uint(p, ev->district);
    if (lw) {
        p = ct_mp_key1(p, 'w');
        p = ct_mp_str(p, ev->commune, lw);
    }
    p = ct_mp_key1(p, 'a');
    p = ct_mp_str(p, ev->agent, la);
    p = ct_mp_key1(p, 'p');
    const char *pn = ct_program_names[ev->program];
    p = ct_mp_str(p, pn, strlen(pn));
    p = ct_mp_key1(p, 'x');
    const char *an = ct_action_names[ev->action];
    p = ct_mp_str(p, an, strlen(an));
    p = ct_mp_key1(p, 'h');
    p = ct_mp_bin(p, ev->person, CT_PERSON_LEN);
    if (ev->has_months) {
        p = ct_mp_key1(p, 'm');
        p = ct_mp_uint(p, ev->months);
    }
    if (ev->has_amount) {
        p = ct_mp_str(p, "amt", 3);
        p = ct_mp_uint(p, ev->amount_vnd);
    }
    if (lg) {
        p = ct_mp_key1(p, 'g');
        p = ct_mp_str(p, ev->group, lg);
    }
    out->len += (size_t)(p - start);
    return CT_OK;
}

/* ---- decode -------------------------------------------------------------- */

enum { F_V, F_ID, F_T, F_C, F_D, F_W, F_A, F_P, F_X, F_H, F_M, F_AMT, F_G, F_COUNT };
#define F_REQUIRED                                                                                 \
    (1u << F_V | 1u << F_ID | 1u << F_T | 1u << F_C | 1u << F_D | 1u << F_A | 1u << F_P |          \
     1u << F_X | 1u << F_H)

static int ct_event_field(const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR) return -1;
    const char *s = k->via.str.ptr;
    switch (k->via.str.size) {
    case 1:
        switch (s[0]) {
        case 'v':
            return F_V;
        case 't':
            return F_T;
        case 'c':
            return F_C;
        case 'd':
            return F_D;
        case 'w':
            return F_W;
        case 'a':
            return F_A;
        case 'p':
            return F_P;
        case 'x':
            return F_X;
        case 'h':
            return F_H;
        case 'm':
            return F_M;
        case 'g':
            return F_G;
        default:
            return -1;
        }
    case 2:
        return s[0] == 'i' && s[1] == 'd' ? F_ID : -1;
    case 3:
        return memcmp(s, "amt", 3) == 0 ? F_AMT : -1;
    default:
        return -1;
    }
}

ct_err ct_codec_str(const msgpack_object *o, bool allow_empty, size_t cap, char *dst)
{
    if (o->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    size_t n = o->via.str.size;
    if (n == 0 && !allow_empty) return CT_ERR_BAD_VALUE;
    if (n > cap) return CT_ERR_STRING_TOO_LONG;
    if (!ct_utf8_valid((const uint8_t *)o->via.str.ptr, n)) return CT_ERR_BAD_UTF8;
    if (memchr(o->via.str.ptr, 0, n)) return CT_ERR_BAD_VALUE; /* C strings end at NUL */
    if (n) memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    return CT_OK;
}

ct_err ct_codec_program(const msgpack_object *o, ct_program *out)
{
    if (o->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    return ct_program_from(o->via.str.ptr, o->via.str.size, out);
}

static const ct_prescan_limits ct_event_limits = {CT_CODEC_MAX_DEPTH, 64, 256};

ct_err ct_event_decode(const uint8_t *buf, size_t len, ct_event *out, bool *id_known)
{
    if (id_known) *id_known = false;
    if (len == 0 || !buf) return CT_ERR_FRAME_EMPTY;
    if (len > CT_EVENT_MAX_BYTES) return CT_ERR_FRAME_TOO_LARGE;
    if (!out) return CT_ERR_ARG;
    msgpack_object root;
    ct_err e = ct_codec_unpack(buf, len, &ct_event_limits, &root);
    if (e) return e;
    if (root.type != MSGPACK_OBJECT_MAP) return CT_ERR_NOT_MAP;
    const msgpack_object_kv *kv = root.via.map.ptr;
    const uint32_t n = root.via.map.size;

    /* Pass 1: classify every key once; the version decides how to read the
     * rest; the id names the nack. (n <= 64: the prescan limit.) */
    int8_t fld[64];
    if (n > sizeof fld) return CT_ERR_TOO_MANY;
    bool id_seen = false, v_seen = false;
    for (uint32_t i = 0; i < n; i++) {
        int f = ct_event_field(&kv[i].key);
        fld[i] = (int8_t)f;
        const msgpack_object *o = &kv[i].val;
        if (f == F_V && !v_seen) {
            v_seen = true;
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 != CT_SCHEMA_VERSION)
                return CT_ERR_BAD_VERSION;
        } else if (f == F_ID && !id_seen) {
            id_seen = true;
            if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == CT_EVENT_ID_LEN) {
                memcpy(out->id, o->via.bin.ptr, CT_EVENT_ID_LEN);
                if (id_known) *id_known = true;
            }
        }
    }

    out->commune[0] = '\0';
    out->group[0] = '\0';
    out->has_months = false;
    out->months = 0;
    out->has_amount = false;
    out->amount_vnd = 0;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        int f = fld[i];
        if (f < 0) return CT_ERR_UNKNOWN_KEY;
        if (seen & (1u << f)) return CT_ERR_DUP_KEY;
        seen |= 1u << f;
        const msgpack_object *o = &kv[i].val;
        uint64_t u;
        switch (f) {
        case F_V:
            if ((e = ct_codec_uint(o, UINT64_MAX, &u))) return e;
            if (u != CT_SCHEMA_VERSION) return CT_ERR_BAD_VERSION;
            break;
        case F_ID:
            if (o->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
            if (o->via.bin.size != CT_EVENT_ID_LEN) return CT_ERR_BAD_ID;
            break; /* copied in pass 1 */
        case F_T:
            if ((e = ct_codec_uint(o, INT64_MAX, &u))) return e;
            out->occurred_ms = (int64_t)u;
            break;
        case F_C:
            if ((e = ct_codec_str(o, false, CT_CAMPAIGN_ID_MAX, out->campaign))) return e;
            break;
        case F_D:
            if ((e = ct_codec_uint(o, 0xffff, &u))) return e;
            if (u == 0) return CT_ERR_BAD_VALUE;
            out->district = (uint32_t)u;
            break;
        case F_W:
            if ((e = ct_codec_str(o, false, CT_COMMUNE_MAX, out->commune))) return e;
            break;
        case F_A:
            if ((e = ct_codec_str(o, false, CT_AGENT_ID_MAX, out->agent))) return e;
            break;
        case F_P:
            if ((e = ct_codec_program(o, &out->program))) return e;
            break;
        case F_X:
            if (o->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
            if ((e = ct_action_from(o->via.str.ptr, o->via.str.size, &out->action))) return e;
            break;
        case F_H:
            if (o->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
            if (o->via.bin.size != CT_PERSON_LEN) return CT_ERR_BAD_PERSON;
            memcpy(out->person, o->via.bin.ptr, CT_PERSON_LEN);
            break;
        case F_M:
            if ((e = ct_codec_uint(o, UINT64_MAX, &u))) return e;
            if (u < 1 || u > CT_MONTHS_MAX) return CT_ERR_BAD_VALUE;
            out->has_months = true;
            out->months = (uint32_t)u;
            break;
        case F_AMT:
            if ((e = ct_codec_uint(o, UINT64_MAX, &u))) return e;
            out->has_amount = true;
            out->amount_vnd = u;
            break;
        case F_G:
            if ((e = ct_codec_str(o, false, CT_GROUP_MAX, out->group))) return e;
            break;
        default:
            return CT_ERR_INTERNAL;
        }
    }
    if ((seen & F_REQUIRED) != F_REQUIRED) return CT_ERR_MISSING_FIELD;
    return CT_OK;
}
