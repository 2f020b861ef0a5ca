/* ct_wire.c — the wire messages (see ct_wire.h and docs/PROTOCOL.md §3).
 *
 * Invariants: every encoder writes "v", "k" first and then the kind's keys in
 * the fixed order of the ct_keys_* tables below, with msgpack-c's smallest
 * encodings, and appends nothing on failure. Every decoder: size cap ->
 * ct_prescan -> msgpack-c (per-thread zone) -> map -> "v" (missing /
 * wrong_type / bad_version) -> "k" (missing / wrong_type / bad_message_kind)
 * -> each key in map order (unknown, duplicate, type, value) -> missing
 * required keys. Decoded ranges point into the caller's buffer; only
 * ct_wire_state_decode allocates (entries), and frees it itself on error.
 */
#include "ct_wire.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_wire_int.h"

#define CT_WIRE_MAX_COUNTERS (1u << 20) /* entries in one "upd"/"snp" */

typedef struct {
    const char *name;
    ct_msg_kind kind;
} ct_kind_row;

static const ct_kind_row ct_kinds[] = {
    {"sub", CT_MSG_SUBMIT},    {"ack", CT_MSG_ACK},        {"err", CT_MSG_ERROR},
    {"upd", CT_MSG_UPDATE},    {"hb", CT_MSG_HEARTBEAT},   {"snq", CT_MSG_SNAP_REQ},
    {"snp", CT_MSG_SNAPSHOT},  {"rq", CT_MSG_REPL_REQ},    {"rb", CT_MSG_REPL_BATCH},
    {"tel", CT_MSG_TELEMETRY}, {"stq", CT_MSG_STATUS_REQ}, {"sta", CT_MSG_STATUS},
    {"cq", CT_MSG_COPY_REQ},   {"cc", CT_MSG_COPY_CHUNK},  {"sf", CT_MSG_SAFE_PUSH},
};

const char *ct_wire_kind_name(ct_msg_kind k)
{
    for (size_t i = 0; i < sizeof ct_kinds / sizeof ct_kinds[0]; i++)
        if (ct_kinds[i].kind == k) return ct_kinds[i].name;
    return NULL;
}

/* Key tables: index 0 and 1 are always "v" and "k". */
static const char *const ct_keys_sub[] = {"v", "k", "n", "e", "w", "ep", "sp", NULL};
static const char *const ct_keys_ack[] = {"v", "k", "n", "s", "r", "f", "ep", NULL};
static const char *const ct_keys_err[] = {"v", "k", "n", "c", NULL};
static const char *const ct_keys_upd[] = {"v", "k", "s",  "p",  "ph", "h",
                                          "t", "c", "ci", "cf", NULL};
static const char *const ct_keys_hb[] = {"v", "k", "s", "h", "t", NULL};
static const char *const ct_keys_snp[] = {"v", "k", "s", "h", "t", "c", "ci", "cf", NULL};
static const char *const ct_keys_snq[] = {"v", "k", NULL};

static const ct_prescan_limits ct_lim_sub = {CT_CODEC_MAX_DEPTH, CT_WIRE_MAX_EVENTS,
                                             CT_WIRE_MAX_EVENTS + 64};
static const ct_prescan_limits ct_lim_ack = {CT_CODEC_MAX_DEPTH, CT_WIRE_MAX_EVENTS,
                                             5 * CT_WIRE_MAX_EVENTS + 64};
const ct_prescan_limits ct_wire_lim_small = {CT_CODEC_MAX_DEPTH, 64, 256};
static const ct_prescan_limits ct_lim_state = {CT_CODEC_MAX_DEPTH, CT_WIRE_MAX_COUNTERS,
                                               3 * CT_WIRE_MAX_COUNTERS + 64};
/* peek accepts anything a decoder could accept */
static const ct_prescan_limits ct_lim_any = {CT_CODEC_MAX_DEPTH, CT_WIRE_MAX_COUNTERS,
                                             3 * CT_WIRE_MAX_COUNTERS + 64};

/* ---- decoding ------------------------------------------------------------ */

static int ct_key_index(const msgpack_object *k, const char *const *keys)
{
    if (k->type != MSGPACK_OBJECT_STR) return -1;
    for (int i = 0; keys[i]; i++)
        if (ct_codec_key_is(&k->via.str, keys[i], strlen(keys[i]))) return i;
    return -1;
}

/* Unpacks and checks "v" and "k"; *root is the top-level map. */
static ct_err ct_wire_open(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                           msgpack_object *root, ct_msg_kind *kind)
{
    if (len == 0 || !buf) return CT_ERR_FRAME_EMPTY;
    if (len > CT_WIRE_MAX_FRAME) return CT_ERR_FRAME_TOO_LARGE;
    ct_err e = ct_codec_unpack(buf, len, lim, root);
    if (e) return e;
    if (root->type != MSGPACK_OBJECT_MAP) return CT_ERR_NOT_MAP;
    const msgpack_object *v = NULL, *k = NULL;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *key = &root->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != 1) continue;
        if (key->via.str.ptr[0] == 'v' && !v) v = &root->via.map.ptr[i].val;
        if (key->via.str.ptr[0] == 'k' && !k) k = &root->via.map.ptr[i].val;
    }
    if (!v) return CT_ERR_MISSING_FIELD;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return CT_ERR_WRONG_TYPE;
    if (v->via.u64 != CT_WIRE_VERSION) return CT_ERR_BAD_VERSION;
    if (!k) return CT_ERR_MISSING_FIELD;
    if (k->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    for (size_t i = 0; i < sizeof ct_kinds / sizeof ct_kinds[0]; i++)
        if (ct_codec_key_is(&k->via.str, ct_kinds[i].name, strlen(ct_kinds[i].name))) {
            *kind = ct_kinds[i].kind;
            return CT_OK;
        }
    return CT_ERR_BAD_KIND;
}

/* Opens a message that must be of kind want (or one of the state kinds when
 * want == 0). */
ct_err ct_wire_open_kind(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                         ct_msg_kind want, msgpack_object *root)
{
    ct_msg_kind kind;
    ct_err e = ct_wire_open(buf, len, lim, root, &kind);
    if (e) return e;
    if (kind != want) return CT_ERR_BAD_KIND;
    return CT_OK;
}

/* Walks the map once: unknown -> UNKNOWN_KEY, repeated -> DUP_KEY. Fills
 * vals[i] with the value of keys[i]. */
ct_err ct_wire_fields(const msgpack_object *root, const char *const *keys,
                      const msgpack_object **vals, unsigned nkeys)
{
    unsigned seen = 0;
    for (unsigned i = 0; i < nkeys; i++)
        vals[i] = NULL;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        int idx = ct_key_index(&root->via.map.ptr[i].key, keys);
        if (idx < 0) return CT_ERR_UNKNOWN_KEY;
        if (seen & (1u << idx)) return CT_ERR_DUP_KEY;
        seen |= 1u << idx;
        vals[idx] = &root->via.map.ptr[i].val;
    }
    return CT_OK;
}

ct_err ct_wire_get_bin(const msgpack_object *o, size_t want, ct_err bad_len)
{
    if (o->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
    if (o->via.bin.size != want) return bad_len;
    return CT_OK;
}

static ct_err ct_get_int64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return CT_OK;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return CT_ERR_WRONG_TYPE;
    if (o->via.u64 > INT64_MAX) return CT_ERR_BAD_VALUE;
    *v = (int64_t)o->via.u64;
    return CT_OK;
}

ct_err ct_wire_peek_kind(const uint8_t *buf, size_t len, ct_msg_kind *kind)
{
    if (!kind) return CT_ERR_ARG;
    msgpack_object root;
    return ct_wire_open(buf, len, &ct_lim_any, &root, kind);
}

ct_err ct_wire_submit_decode(const uint8_t *buf, size_t len, uint64_t *token, ct_bytes *events,
                             size_t max, size_t *n)
{
    bool want;
    return ct_wire_submit_decode_wm(buf, len, token, &want, events, max, n);
}

ct_err ct_wire_submit_decode_wm(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                ct_bytes *events, size_t max, size_t *n)
{
    uint64_t epoch;
    return ct_wire_submit_decode_ep(buf, len, token, want_safe, &epoch, events, max, n);
}

ct_err ct_wire_submit_decode_ep(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                uint64_t *epoch, ct_bytes *events, size_t max, size_t *n)
{
    bool push;
    return ct_wire_submit_decode_sp(buf, len, token, want_safe, epoch, &push, events, max, n);
}

ct_err ct_wire_submit_decode_sp(const uint8_t *buf, size_t len, uint64_t *token, bool *want_safe,
                                uint64_t *epoch, bool *push, ct_bytes *events, size_t max,
                                size_t *n)
{
    if (n) *n = 0;
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_lim_sub, CT_MSG_SUBMIT, &root);
    if (e) return e;
    const msgpack_object *f[7];
    if ((e = ct_wire_fields(&root, ct_keys_sub, f, 7))) return e;
    /* values in table order */
    uint64_t tok = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &tok))) return e;
    if (f[3]) {
        if (f[3]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        const msgpack_object_array *a = &f[3]->via.array;
        if (a->size == 0) return CT_ERR_BAD_VALUE;
        if (a->size > CT_WIRE_MAX_EVENTS || a->size > max) return CT_ERR_TOO_MANY;
        for (uint32_t i = 0; i < a->size; i++)
            if (a->ptr[i].type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
    }
    uint64_t w = 0;
    if (f[4]) {
        if ((e = ct_codec_uint(f[4], UINT64_MAX, &w))) return e;
        if (w != 1) return CT_ERR_BAD_VALUE;
    }
    uint64_t x = 0;
    if (f[5]) {
        if ((e = ct_codec_uint(f[5], UINT64_MAX, &x))) return e;
        if (x == 0) return CT_ERR_BAD_VALUE;
    }
    uint64_t sp = 0;
    if (f[6]) {
        if ((e = ct_codec_uint(f[6], UINT64_MAX, &sp))) return e;
        if (sp != 1) return CT_ERR_BAD_VALUE;
    }
    if (!f[2] || !f[3]) return CT_ERR_MISSING_FIELD;
    if (sp && !w) return CT_ERR_BAD_VALUE; /* a push without the watermark */
    if (!events || !n || !token || !want_safe || !epoch || !push) return CT_ERR_ARG;
    *want_safe = w == 1;
    *epoch = x;
    *push = sp == 1;
    const msgpack_object_array *a = &f[3]->via.array;
    for (uint32_t i = 0; i < a->size; i++) {
        events[i].data = (const uint8_t *)a->ptr[i].via.bin.ptr;
        events[i].len = a->ptr[i].via.bin.size;
    }
    *token = tok;
    *n = a->size;
    return CT_OK;
}

ct_err ct_wire_submit_peek_token(const uint8_t *buf, size_t len, uint64_t *token)
{
    /* counts unbounded per container; max_total bounds what msgpack-c may
     * allocate for any frame (~16-32 bytes per object) */
    static const ct_prescan_limits lim = {CT_CODEC_MAX_DEPTH, UINT32_MAX, 1u << 16};
    if (!token) return CT_ERR_ARG;
    msgpack_object root;
    ct_err e = ct_codec_unpack(buf, len, &lim, &root);
    if (e) return e;
    if (root.type != MSGPACK_OBJECT_MAP) return CT_ERR_NOT_MAP;
    for (uint32_t i = 0; i < root.via.map.size; i++) {
        const msgpack_object_kv *kv = &root.via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && ct_codec_key_is(&kv->key.via.str, "n", 1))
            return ct_codec_uint(&kv->val, UINT64_MAX, token);
    }
    return CT_ERR_MISSING_FIELD;
}

ct_err ct_wire_snapreq_decode(const uint8_t *buf, size_t len)
{
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_SNAP_REQ, &root);
    if (e) return e;
    const msgpack_object *f[2];
    return ct_wire_fields(&root, ct_keys_snq, f, 2);
}

static ct_err ct_ack_item_decode(const msgpack_object *o, ct_ack_item *it)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != 3 && o->via.array.size != 4) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    ct_err e;
    if (x[0].type == MSGPACK_OBJECT_NIL) {
        it->has_id = false;
        memset(it->id, 0, sizeof it->id);
    } else {
        if ((e = ct_wire_get_bin(&x[0], CT_EVENT_ID_LEN, CT_ERR_BAD_ID))) return e;
        it->has_id = true;
        memcpy(it->id, x[0].via.bin.ptr, CT_EVENT_ID_LEN);
    }
    uint64_t u;
    if ((e = ct_codec_uint(&x[1], CT_ACK_RETRY, &u))) return e;
    it->status = (uint8_t)u;
    if ((e = ct_codec_uint(&x[2], 0xffff, &u))) return e;
    it->code = (uint16_t)u;
    it->seq = 0;
    if (o->via.array.size == 4 && (e = ct_codec_uint(&x[3], UINT64_MAX, &it->seq))) return e;
    return CT_OK;
}

ct_err ct_wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                          ct_ack_item *items, size_t max, size_t *n)
{
    bool has_safe;
    uint64_t safe;
    return ct_wire_ack_decode_wm(buf, len, token, seq, &has_safe, &safe, items, max, n);
}

ct_err ct_wire_ack_decode_wm(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                             bool *has_safe, uint64_t *safe, ct_ack_item *items, size_t max,
                             size_t *n)
{
    uint64_t epoch;
    return ct_wire_ack_decode_ep(buf, len, token, seq, has_safe, safe, &epoch, items, max, n);
}

ct_err ct_wire_ack_decode_ep(const uint8_t *buf, size_t len, uint64_t *token, uint64_t *seq,
                             bool *has_safe, uint64_t *safe, uint64_t *epoch, ct_ack_item *items,
                             size_t max, size_t *n)
{
    if (n) *n = 0;
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_lim_ack, CT_MSG_ACK, &root);
    if (e) return e;
    const msgpack_object *f[7];
    if ((e = ct_wire_fields(&root, ct_keys_ack, f, 7))) return e;
    uint64_t tok = 0, s = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &tok))) return e;
    if (f[3] && (e = ct_codec_uint(f[3], UINT64_MAX, &s))) return e;
    if (f[4]) {
        if (f[4]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        const msgpack_object_array *a = &f[4]->via.array;
        if (a->size > CT_WIRE_MAX_EVENTS || a->size > max) return CT_ERR_TOO_MANY;
        if (a->size && !items) return CT_ERR_ARG;
        for (uint32_t i = 0; i < a->size; i++)
            if ((e = ct_ack_item_decode(&a->ptr[i], &items[i]))) return e;
    }
    uint64_t fs = 0;
    if (f[5] && (e = ct_codec_uint(f[5], UINT64_MAX, &fs))) return e;
    uint64_t x = 0;
    if (f[6]) {
        if ((e = ct_codec_uint(f[6], UINT64_MAX, &x))) return e;
        if (x == 0) return CT_ERR_BAD_VALUE;
    }
    if (!f[2] || !f[3] || !f[4]) return CT_ERR_MISSING_FIELD;
    if (f[5] && fs > s) return CT_ERR_BAD_VALUE;
    if (!token || !seq || !n || !has_safe || !safe || !epoch) return CT_ERR_ARG;
    *has_safe = f[5] != NULL;
    *epoch = x;
    *safe = fs;
    *token = tok;
    *seq = s;
    *n = f[4]->via.array.size;
    return CT_OK;
}

ct_err ct_wire_error_decode(const uint8_t *buf, size_t len, bool *has_token, uint64_t *token,
                            uint16_t *code)
{
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_ERROR, &root);
    if (e) return e;
    const msgpack_object *f[4];
    if ((e = ct_wire_fields(&root, ct_keys_err, f, 4))) return e;
    uint64_t tok = 0, c = 0;
    bool has = false;
    if (f[2] && f[2]->type != MSGPACK_OBJECT_NIL) {
        if ((e = ct_codec_uint(f[2], UINT64_MAX, &tok))) return e;
        has = true;
    }
    if (f[3] && (e = ct_codec_uint(f[3], 0xffff, &c))) return e;
    if (!f[2] || !f[3]) return CT_ERR_MISSING_FIELD;
    if (!has_token || !token || !code) return CT_ERR_ARG;
    *has_token = has;
    *token = tok;
    *code = (uint16_t)c;
    return CT_OK;
}

void ct_wire_state_free(ct_wire_state *st)
{
    if (!st) return;
    free(st->entries);
    st->entries = NULL;
    st->n_entries = 0;
}

static ct_err ct_entries_decode(const msgpack_object *o, ct_wire_state *out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    const msgpack_object_array *a = &o->via.array;
    if (a->size > CT_WIRE_MAX_COUNTERS) return CT_ERR_TOO_MANY;
    if (a->size == 0) return CT_OK;
    ct_count_entry *ents = malloc((size_t)a->size * sizeof *ents);
    if (!ents) return CT_ERR_NOMEM;
    ct_err e = CT_OK;
    for (uint32_t i = 0; i < a->size && !e; i++) {
        const msgpack_object *it = &a->ptr[i];
        if (it->type != MSGPACK_OBJECT_ARRAY) {
            e = CT_ERR_WRONG_TYPE;
        } else if (it->via.array.size != 2) {
            e = CT_ERR_BAD_VALUE;
        } else {
            const msgpack_object *x = it->via.array.ptr;
            if (x[0].type != MSGPACK_OBJECT_BIN)
                e = CT_ERR_WRONG_TYPE;
            else if (x[0].via.bin.size == 0 || x[0].via.bin.size > CT_COUNT_KEY_MAX)
                e = CT_ERR_BAD_VALUE;
            else if ((e = ct_count_key_parse((const uint8_t *)x[0].via.bin.ptr, x[0].via.bin.size,
                                             &ents[i].key)))
                ;
            else
                e = ct_get_int64(&x[1], &ents[i].value);
        }
    }
    if (e) {
        free(ents);
        return e;
    }
    out->entries = ents;
    out->n_entries = a->size;
    return CT_OK;
}

/* The key table of a state message kind, NULL if kind is not one. */
static const char *const *state_keys(ct_msg_kind kind)
{
    switch (kind) {
    case CT_MSG_UPDATE:
        return ct_keys_upd;
    case CT_MSG_HEARTBEAT:
        return ct_keys_hb;
    case CT_MSG_SNAPSHOT:
        return ct_keys_snp;
    default:
        return NULL;
    }
}

ct_err ct_wire_state_decode(const uint8_t *buf, size_t len, ct_wire_state *out)
{
    if (!out) return CT_ERR_ARG;
    memset(out, 0, sizeof *out);
    msgpack_object root;
    ct_msg_kind kind;
    ct_err e = ct_wire_open(buf, len, &ct_lim_state, &root, &kind);
    if (e) return e;
    const char *const *keys = state_keys(kind);
    if (!keys) return CT_ERR_BAD_KIND;
    const msgpack_object *f[10];
    if ((e = ct_wire_fields(&root, keys, f, 10))) return e;
    out->kind = kind;
    const msgpack_object *c = NULL;
    bool have_s = false, have_p = false, have_ph = false, have_h = false, have_t = false;
    bool have_ci = false, have_cf = false;
    for (unsigned i = 2; keys[i]; i++) {
        const msgpack_object *o = f[i];
        if (!o) continue;
        uint64_t u;
        if (strcmp(keys[i], "ci") == 0) { /* campaign id */
            if (o->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
            if (o->via.str.size == 0) return CT_ERR_BAD_VALUE;
            if (o->via.str.size > CT_CAMPAIGN_ID_MAX) return CT_ERR_STRING_TOO_LONG;
            if (memchr(o->via.str.ptr, '\0', o->via.str.size)) return CT_ERR_BAD_VALUE;
            memcpy(out->campaign_id, o->via.str.ptr, o->via.str.size);
            out->campaign_id[o->via.str.size] = '\0';
            have_ci = true;
            continue;
        }
        if (strcmp(keys[i], "cf") == 0) { /* campaign fingerprint */
            if ((e = ct_wire_get_bin(o, CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
            memcpy(out->campaign_fp, o->via.bin.ptr, CT_HASH_LEN);
            have_cf = true;
            continue;
        }
        switch (keys[i][0]) {
        case 's':
            if ((e = ct_codec_uint(o, UINT64_MAX, &out->seq))) return e;
            have_s = true;
            break;
        case 'p':
            if (keys[i][1] == 'h') { /* "ph": chain head at seq "p" */
                if ((e = ct_wire_get_bin(o, CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
                memcpy(out->prev_head, o->via.bin.ptr, CT_HASH_LEN);
                have_ph = true;
                break;
            }
            if ((e = ct_codec_uint(o, UINT64_MAX, &out->prev_seq))) return e;
            have_p = true;
            break;
        case 'h':
            if ((e = ct_wire_get_bin(o, CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
            memcpy(out->head, o->via.bin.ptr, CT_HASH_LEN);
            have_h = true;
            break;
        case 't':
            if ((e = ct_codec_uint(o, INT64_MAX, &u))) return e;
            out->time_ms = (int64_t)u;
            have_t = true;
            break;
        case 'c':
            c = o;
            if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
            break;
        default:
            return CT_ERR_INTERNAL;
        }
    }
    if (!have_s || !have_h || !have_t || (kind == CT_MSG_UPDATE && (!have_p || !have_ph)) ||
        (kind != CT_MSG_HEARTBEAT && !c) || have_ci != have_cf)
        return CT_ERR_MISSING_FIELD;
    out->has_campaign = have_ci;
    if (kind == CT_MSG_UPDATE && out->prev_seq >= out->seq) return CT_ERR_BAD_VALUE;
    if (c && (e = ct_entries_decode(c, out))) return e;
    return CT_OK;
}

/* ---- encoding ------------------------------------------------------------ */

void ct_wire_pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Starts a message: map header with n keys, then "v":1, "k":kind. */
void ct_wire_pk_head(msgpack_packer *pk, size_t nkeys, ct_msg_kind kind)
{
    msgpack_pack_map(pk, nkeys);
    ct_wire_pk_str(pk, "v");
    msgpack_pack_uint64(pk, CT_WIRE_VERSION);
    ct_wire_pk_str(pk, "k");
    ct_wire_pk_str(pk, ct_wire_kind_name(kind));
}

/* Any failed write (ENOMEM) leaves the buffer as it was. */
ct_err ct_wire_pk_finish(ct_buf *out, size_t start, int failed)
{
    if (failed) {
        out->len = start;
        return CT_ERR_NOMEM;
    }
    return CT_OK;
}

ct_err ct_wire_submit_encode(uint64_t token, const ct_bytes *events, size_t n, ct_buf *out)
{
    return ct_wire_submit_encode_wm(token, events, n, false, out);
}

ct_err ct_wire_submit_encode_wm(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                ct_buf *out)
{
    return ct_wire_submit_encode_ep(token, events, n, want_safe, 0, out);
}

ct_err ct_wire_submit_encode_ep(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                uint64_t epoch, ct_buf *out)
{
    return ct_wire_submit_encode_sp(token, events, n, want_safe, epoch, false, out);
}

ct_err ct_wire_submit_encode_sp(uint64_t token, const ct_bytes *events, size_t n, bool want_safe,
                                uint64_t epoch, bool push, ct_buf *out)
{
    if (!out || (n && !events)) return CT_ERR_ARG;
    if (push && !want_safe) return CT_ERR_BAD_VALUE;
    if (n == 0) return CT_ERR_BAD_VALUE;
    if (n > CT_WIRE_MAX_EVENTS) return CT_ERR_TOO_MANY;
    size_t total = 32;
    for (size_t i = 0; i < n; i++) {
        if (events[i].len > UINT32_MAX || (events[i].len && !events[i].data)) return CT_ERR_ARG;
        total += events[i].len + 5;
    }
    if (total > CT_WIRE_MAX_FRAME) return CT_ERR_FRAME_TOO_LARGE;
    const size_t start = out->len;
    if (ct_buf_reserve(out, total)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 4 + (want_safe ? 1u : 0u) + (epoch ? 1u : 0u) + (push ? 1u : 0u),
                    CT_MSG_SUBMIT);
    ct_wire_pk_str(&pk, "n");
    bad |= msgpack_pack_uint64(&pk, token);
    ct_wire_pk_str(&pk, "e");
    bad |= msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        bad |= msgpack_pack_bin(&pk, events[i].len);
        bad |= msgpack_pack_bin_body(&pk, events[i].data, events[i].len);
    }
    if (want_safe) {
        ct_wire_pk_str(&pk, "w");
        bad |= msgpack_pack_uint64(&pk, 1);
    }
    if (epoch) {
        ct_wire_pk_str(&pk, "ep");
        bad |= msgpack_pack_uint64(&pk, epoch);
    }
    if (push) {
        ct_wire_pk_str(&pk, "sp");
        bad |= msgpack_pack_uint64(&pk, 1);
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_ack_encode(uint64_t token, uint64_t seq, const ct_ack_item *items, size_t n,
                          ct_buf *out)
{
    return ct_wire_ack_encode_wm(token, seq, false, 0, items, n, out);
}

ct_err ct_wire_ack_encode_wm(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                             const ct_ack_item *items, size_t n, ct_buf *out)
{
    return ct_wire_ack_encode_ep(token, seq, has_safe, safe, 0, items, n, out);
}

static ct_err ct_ack_encode(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                            uint64_t epoch, bool with_q, const ct_ack_item *items, size_t n,
                            ct_buf *out);

ct_err ct_wire_ack_encode_ep(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                             uint64_t epoch, const ct_ack_item *items, size_t n, ct_buf *out)
{
    return ct_ack_encode(token, seq, has_safe, safe, epoch, true, items, n, out);
}

ct_err ct_wire_ack_encode_reply(uint64_t token, uint64_t seq, bool want_safe, uint64_t safe,
                                uint64_t epoch, const ct_ack_item *items, size_t n, ct_buf *out)
{
    if (!want_safe) return ct_ack_encode(token, seq, false, 0, 0, false, items, n, out);
    return ct_ack_encode(token, seq, true, safe, epoch, true, items, n, out);
}

/* with_q false: 3-element items [id, status, code] (the form a client that
 * did not send "w" decodes). */
static ct_err ct_ack_encode(uint64_t token, uint64_t seq, bool has_safe, uint64_t safe,
                            uint64_t epoch, bool with_q, const ct_ack_item *items, size_t n,
                            ct_buf *out)
{
    if (!out || (n && !items)) return CT_ERR_ARG;
    if (has_safe && safe > seq) return CT_ERR_BAD_VALUE;
    if (n > CT_WIRE_MAX_EVENTS) return CT_ERR_TOO_MANY;
    for (size_t i = 0; i < n; i++)
        if (items[i].status > CT_ACK_RETRY) return CT_ERR_BAD_VALUE;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 40 + n * 33)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 5 + (has_safe ? 1u : 0u) + (epoch ? 1u : 0u), CT_MSG_ACK);
    ct_wire_pk_str(&pk, "n");
    bad |= msgpack_pack_uint64(&pk, token);
    ct_wire_pk_str(&pk, "s");
    bad |= msgpack_pack_uint64(&pk, seq);
    ct_wire_pk_str(&pk, "r");
    bad |= msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        bad |= msgpack_pack_array(&pk, with_q ? 4 : 3);
        if (items[i].has_id) {
            bad |= msgpack_pack_bin(&pk, CT_EVENT_ID_LEN);
            bad |= msgpack_pack_bin_body(&pk, items[i].id, CT_EVENT_ID_LEN);
        } else {
            bad |= msgpack_pack_nil(&pk);
        }
        bad |= msgpack_pack_uint64(&pk, items[i].status);
        bad |= msgpack_pack_uint64(&pk, items[i].code);
        if (with_q) bad |= msgpack_pack_uint64(&pk, items[i].seq);
    }
    if (has_safe) {
        ct_wire_pk_str(&pk, "f");
        bad |= msgpack_pack_uint64(&pk, safe);
    }
    if (epoch) {
        ct_wire_pk_str(&pk, "ep");
        bad |= msgpack_pack_uint64(&pk, epoch);
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_error_encode(bool has_token, uint64_t token, ct_err code, ct_buf *out)
{
    if (!out) return CT_ERR_ARG;
    if ((int)code < 0 || (int)code > 0xffff) return CT_ERR_BAD_VALUE;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 32)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 4, CT_MSG_ERROR);
    ct_wire_pk_str(&pk, "n");
    if (has_token)
        bad |= msgpack_pack_uint64(&pk, token);
    else
        bad |= msgpack_pack_nil(&pk);
    ct_wire_pk_str(&pk, "c");
    bad |= msgpack_pack_uint64(&pk, (uint64_t)code);
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_state_encode(const ct_wire_state *st, ct_buf *out)
{
    if (!st || !out) return CT_ERR_ARG;
    const char *const *keys = state_keys(st->kind);
    if (!keys) return CT_ERR_BAD_KIND;
    if (st->time_ms < 0) return CT_ERR_BAD_VALUE;
    if (st->kind == CT_MSG_UPDATE && st->prev_seq >= st->seq) return CT_ERR_BAD_VALUE;
    size_t ne = st->kind == CT_MSG_HEARTBEAT ? 0 : st->n_entries;
    if (ne > CT_WIRE_MAX_COUNTERS) return CT_ERR_TOO_MANY;
    if (ne && !st->entries) return CT_ERR_ARG;
    for (size_t i = 0; i < ne; i++)
        if (st->entries[i].key.len == 0 || st->entries[i].key.len > CT_COUNT_KEY_MAX)
            return CT_ERR_BAD_VALUE;
    size_t ci_len = 0;
    if (st->has_campaign) {
        ci_len = strnlen(st->campaign_id, sizeof st->campaign_id);
        if (ci_len == 0 || ci_len > CT_CAMPAIGN_ID_MAX) return CT_ERR_BAD_VALUE;
    }
    /* the table's keys, less "ci"/"cf" (the last two of upd/snp) without a campaign */
    size_t nkeys = 0, nsend = 0;
    while (keys[nkeys])
        nkeys++;
    for (size_t i = 0; i < nkeys; i++)
        if (st->has_campaign || (strcmp(keys[i], "ci") != 0 && strcmp(keys[i], "cf") != 0)) nsend++;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 160 + ne * (CT_COUNT_KEY_MAX + 12))) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, nsend, st->kind);
    for (size_t i = 2; i < nkeys; i++) {
        if (strcmp(keys[i], "ci") == 0 || strcmp(keys[i], "cf") == 0) {
            if (!st->has_campaign) continue;
            ct_wire_pk_str(&pk, keys[i]);
            if (keys[i][1] == 'i') {
                bad |= msgpack_pack_str(&pk, ci_len);
                bad |= msgpack_pack_str_body(&pk, st->campaign_id, ci_len);
            } else {
                bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
                bad |= msgpack_pack_bin_body(&pk, st->campaign_fp, CT_HASH_LEN);
            }
            continue;
        }
        ct_wire_pk_str(&pk, keys[i]);
        switch (keys[i][0]) {
        case 's':
            bad |= msgpack_pack_uint64(&pk, st->seq);
            break;
        case 'p':
            if (keys[i][1] == 'h') { /* "ph" */
                bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
                bad |= msgpack_pack_bin_body(&pk, st->prev_head, CT_HASH_LEN);
            } else {
                bad |= msgpack_pack_uint64(&pk, st->prev_seq);
            }
            break;
        case 'h':
            bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
            bad |= msgpack_pack_bin_body(&pk, st->head, CT_HASH_LEN);
            break;
        case 't':
            bad |= msgpack_pack_uint64(&pk, (uint64_t)st->time_ms);
            break;
        case 'c':
            bad |= msgpack_pack_array(&pk, ne);
            for (size_t j = 0; j < ne; j++) {
                bad |= msgpack_pack_array(&pk, 2);
                bad |= msgpack_pack_bin(&pk, st->entries[j].key.len);
                bad |= msgpack_pack_bin_body(&pk, st->entries[j].key.b, st->entries[j].key.len);
                bad |= msgpack_pack_int64(&pk, st->entries[j].value);
            }
            break;
        default:
            break;
        }
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_snapreq_encode(ct_buf *out)
{
    if (!out) return CT_ERR_ARG;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 16)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    bad |= msgpack_pack_map(&pk, 2);
    ct_wire_pk_str(&pk, "v");
    bad |= msgpack_pack_uint64(&pk, CT_WIRE_VERSION);
    ct_wire_pk_str(&pk, "k");
    ct_wire_pk_str(&pk, "snq");
    return ct_wire_pk_finish(out, start, bad);
}
