/* ct_wire_repl.c — the replication messages "rq" and "rb" (see ct_wire.h
 * and docs/PROTOCOL.md §3.4): a follower's durable head (and read-ahead
 * position), and the primary's
 * batch of stored records with its watermarks, epoch, origin bindings and
 * campaign. The same invariants as ct_wire.c (key order, smallest encodings,
 * nothing appended on failure; strict decoding in the documented order),
 * through the helpers of ct_wire_int.h.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_wire.h"
#include "ct_wire_int.h"

static const char *const ct_keys_rq[] = {"v", "k", "s", "h", "ep", "n", "a", NULL};
static const char *const ct_keys_rb[] = {"v", "k",  "p", "ph", "c",  "f", "t",
                                         "r", "ep", "o", "ci", "cf", NULL};
static const ct_prescan_limits ct_lim_rb = {CT_CODEC_MAX_DEPTH, CT_WIRE_MAX_RECORDS,
                                            4 * CT_WIRE_MAX_RECORDS + 64};

ct_err ct_wire_repl_req_encode(uint64_t seq, const uint8_t head[CT_HASH_LEN], ct_buf *out)
{
    return ct_wire_repl_req_encode_ep(seq, head, 0, out);
}

ct_err ct_wire_repl_req_encode_ep(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                  ct_buf *out)
{
    return ct_wire_repl_req_encode_n(seq, head, epoch, false, 0, out);
}

ct_err ct_wire_repl_req_encode_n(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                 bool has_ahead, uint64_t ahead, ct_buf *out)
{
    return ct_wire_repl_req_encode_a(seq, head, epoch, has_ahead, ahead, false, 0, out);
}

ct_err ct_wire_repl_req_encode_a(uint64_t seq, const uint8_t head[CT_HASH_LEN], uint64_t epoch,
                                 bool has_ahead, uint64_t ahead, bool has_applied, uint64_t applied,
                                 ct_buf *out)
{
    if (!out || !head || (has_ahead && ahead < seq) ||
        (has_applied && (!has_ahead || applied > seq)))
        return CT_ERR_ARG;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 80)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 4 + (epoch ? 1 : 0) + (has_ahead ? 1 : 0) + (has_applied ? 1 : 0),
                    CT_MSG_REPL_REQ);
    ct_wire_pk_str(&pk, "s");
    bad |= msgpack_pack_uint64(&pk, seq);
    ct_wire_pk_str(&pk, "h");
    bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
    bad |= msgpack_pack_bin_body(&pk, head, CT_HASH_LEN);
    if (epoch) {
        ct_wire_pk_str(&pk, "ep");
        bad |= msgpack_pack_uint64(&pk, epoch);
    }
    if (has_ahead) {
        ct_wire_pk_str(&pk, "n");
        bad |= msgpack_pack_uint64(&pk, ahead);
    }
    if (has_applied) {
        ct_wire_pk_str(&pk, "a");
        bad |= msgpack_pack_uint64(&pk, applied);
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_repl_req_decode(const uint8_t *buf, size_t len, uint64_t *seq,
                               uint8_t head[CT_HASH_LEN])
{
    uint64_t epoch;
    return ct_wire_repl_req_decode_ep(buf, len, seq, head, &epoch);
}

ct_err ct_wire_repl_req_decode_ep(const uint8_t *buf, size_t len, uint64_t *seq,
                                  uint8_t head[CT_HASH_LEN], uint64_t *epoch)
{
    bool has_ahead;
    uint64_t ahead;
    return ct_wire_repl_req_decode_n(buf, len, seq, head, epoch, &has_ahead, &ahead);
}

ct_err ct_wire_repl_req_decode_n(const uint8_t *buf, size_t len, uint64_t *seq,
                                 uint8_t head[CT_HASH_LEN], uint64_t *epoch, bool *has_ahead,
                                 uint64_t *ahead)
{
    bool has_a;
    uint64_t a;
    return ct_wire_repl_req_decode_a(buf, len, seq, head, epoch, has_ahead, ahead, &has_a, &a);
}

ct_err ct_wire_repl_req_decode_a(const uint8_t *buf, size_t len, uint64_t *seq,
                                 uint8_t head[CT_HASH_LEN], uint64_t *epoch, bool *has_ahead,
                                 uint64_t *ahead, bool *has_applied, uint64_t *applied)
{
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_REPL_REQ, &root);
    if (e) return e;
    const msgpack_object *f[7];
    if ((e = ct_wire_fields(&root, ct_keys_rq, f, 7))) return e;
    uint64_t s = 0, x = 0, n = 0, a = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &s))) return e;
    if (f[3] && (e = ct_wire_get_bin(f[3], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
    if (f[4]) {
        if ((e = ct_codec_uint(f[4], UINT64_MAX, &x))) return e;
        if (x == 0) return CT_ERR_BAD_VALUE;
    }
    if (f[5] && (e = ct_codec_uint(f[5], UINT64_MAX, &n))) return e;
    if (f[6] && (e = ct_codec_uint(f[6], UINT64_MAX, &a))) return e;
    if (!f[2] || !f[3]) return CT_ERR_MISSING_FIELD;
    if (f[5] && n < s) return CT_ERR_BAD_VALUE;
    if (f[6] && a > s) return CT_ERR_BAD_VALUE;
    if (!seq || !head || !epoch || !has_ahead || !ahead || !has_applied || !applied)
        return CT_ERR_ARG;
    *has_applied = f[6] != NULL;
    *applied = f[6] ? a : s;
    *seq = s;
    *epoch = x;
    *has_ahead = f[5] != NULL;
    *ahead = f[5] ? n : s;
    memcpy(head, f[3]->via.bin.ptr, CT_HASH_LEN);
    return CT_OK;
}

ct_err ct_wire_repl_batch_encode(const ct_wire_repl_batch *b, ct_buf *out)
{
    if (!b || !out || (b->n && !b->recs)) return CT_ERR_ARG;
    if (b->n > CT_WIRE_MAX_RECORDS) return CT_ERR_TOO_MANY;
    if (b->time_ms < 0 || b->safe > b->committed || b->prev_seq > b->committed ||
        b->committed - b->prev_seq < b->n)
        return CT_ERR_BAD_VALUE;
    size_t total = 160;
    for (size_t i = 0; i < b->n; i++) {
        if (b->recs[i].len == 0 || b->recs[i].len > CT_WIRE_MAX_RECORD || !b->recs[i].data)
            return CT_ERR_BAD_VALUE;
        total += b->recs[i].len + 3;
    }
    if (b->n_origins > CT_WIRE_MAX_RECORDS || (b->n_origins && !b->origins))
        return CT_ERR_BAD_VALUE;
    for (size_t i = 0; i < b->n_origins; i++) {
        if (b->origins[i].key_len == 0 || b->origins[i].key_len > CT_WIRE_MAX_ORIGIN_KEY ||
            !b->origins[i].key)
            return CT_ERR_BAD_VALUE;
        total += 16 + b->origins[i].key_len;
    }
    if (b->campaign_id && (b->campaign_id_len == 0 || b->campaign_id_len > CT_CAMPAIGN_ID_MAX))
        return CT_ERR_BAD_VALUE;
    total += b->campaign_id ? 48 + b->campaign_id_len : 0;
    const size_t start = out->len;
    if (ct_buf_reserve(out, total)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(
        &pk, 8 + (b->epoch ? 1u : 0u) + (b->n_origins ? 1u : 0u) + (b->campaign_id ? 2u : 0u),
        CT_MSG_REPL_BATCH);
    ct_wire_pk_str(&pk, "p");
    bad |= msgpack_pack_uint64(&pk, b->prev_seq);
    ct_wire_pk_str(&pk, "ph");
    bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
    bad |= msgpack_pack_bin_body(&pk, b->prev_head, CT_HASH_LEN);
    ct_wire_pk_str(&pk, "c");
    bad |= msgpack_pack_uint64(&pk, b->committed);
    ct_wire_pk_str(&pk, "f");
    bad |= msgpack_pack_uint64(&pk, b->safe);
    ct_wire_pk_str(&pk, "t");
    bad |= msgpack_pack_uint64(&pk, (uint64_t)b->time_ms);
    ct_wire_pk_str(&pk, "r");
    bad |= msgpack_pack_array(&pk, b->n);
    for (size_t i = 0; i < b->n; i++) {
        bad |= msgpack_pack_bin(&pk, b->recs[i].len);
        bad |= msgpack_pack_bin_body(&pk, b->recs[i].data, b->recs[i].len);
    }
    if (b->epoch) {
        ct_wire_pk_str(&pk, "ep");
        bad |= msgpack_pack_uint64(&pk, b->epoch);
    }
    if (b->n_origins) {
        ct_wire_pk_str(&pk, "o");
        bad |= msgpack_pack_array(&pk, b->n_origins);
        for (size_t i = 0; i < b->n_origins; i++) {
            bad |= msgpack_pack_array(&pk, 2);
            bad |= msgpack_pack_bin(&pk, CT_ORIGIN_LEN);
            bad |= msgpack_pack_bin_body(&pk, b->origins[i].origin, CT_ORIGIN_LEN);
            bad |= msgpack_pack_str(&pk, b->origins[i].key_len);
            bad |= msgpack_pack_str_body(&pk, b->origins[i].key, b->origins[i].key_len);
        }
    }
    if (b->campaign_id) {
        ct_wire_pk_str(&pk, "ci");
        bad |= msgpack_pack_str(&pk, b->campaign_id_len);
        bad |= msgpack_pack_str_body(&pk, b->campaign_id, b->campaign_id_len);
        ct_wire_pk_str(&pk, "cf");
        bad |= msgpack_pack_bin(&pk, CT_HASH_LEN);
        bad |= msgpack_pack_bin_body(&pk, b->fingerprint, CT_HASH_LEN);
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_repl_batch_decode(const uint8_t *buf, size_t len, ct_wire_repl_batch *b,
                                 ct_bytes *recs, size_t max)
{
    return ct_wire_repl_batch_decode_o(buf, len, b, recs, max, NULL, 0);
}

/* One "o" item: [origin bin 8, key str 1..CT_WIRE_MAX_ORIGIN_KEY]. */
static ct_err ct_origin_item_check(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != 2) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    ct_err e = ct_wire_get_bin(&x[0], CT_ORIGIN_LEN, CT_ERR_BAD_VALUE);
    if (e) return e;
    if (x[1].type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    if (x[1].via.str.size == 0) return CT_ERR_BAD_VALUE;
    if (x[1].via.str.size > CT_WIRE_MAX_ORIGIN_KEY) return CT_ERR_STRING_TOO_LONG;
    return CT_OK;
}

ct_err ct_wire_repl_batch_decode_o(const uint8_t *buf, size_t len, ct_wire_repl_batch *b,
                                   ct_bytes *recs, size_t max, ct_wire_origin *origins,
                                   size_t max_origins)
{
    if (!b) return CT_ERR_ARG;
    memset(b, 0, sizeof *b);
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_lim_rb, CT_MSG_REPL_BATCH, &root);
    if (e) return e;
    const msgpack_object *f[12];
    if ((e = ct_wire_fields(&root, ct_keys_rb, f, 12))) return e;
    uint64_t u = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &b->prev_seq))) return e;
    if (f[3]) {
        if ((e = ct_wire_get_bin(f[3], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
        memcpy(b->prev_head, f[3]->via.bin.ptr, CT_HASH_LEN);
    }
    if (f[4] && (e = ct_codec_uint(f[4], UINT64_MAX, &b->committed))) return e;
    if (f[5] && (e = ct_codec_uint(f[5], UINT64_MAX, &b->safe))) return e;
    if (f[6]) {
        if ((e = ct_codec_uint(f[6], INT64_MAX, &u))) return e;
        b->time_ms = (int64_t)u;
    }
    if (f[7]) {
        if (f[7]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        const msgpack_object_array *a = &f[7]->via.array;
        if (a->size > CT_WIRE_MAX_RECORDS || a->size > max) return CT_ERR_TOO_MANY;
        for (uint32_t i = 0; i < a->size; i++) {
            const msgpack_object *r = &a->ptr[i];
            if (r->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
            if (r->via.bin.size == 0) return CT_ERR_BAD_VALUE;
            if (r->via.bin.size > CT_WIRE_MAX_RECORD) return CT_ERR_STRING_TOO_LONG;
        }
    }
    if (f[8]) {
        if ((e = ct_codec_uint(f[8], UINT64_MAX, &b->epoch))) return e;
        if (b->epoch == 0) return CT_ERR_BAD_VALUE;
    }
    if (f[9]) {
        if (f[9]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        const msgpack_object_array *a = &f[9]->via.array;
        if (a->size > CT_WIRE_MAX_RECORDS || a->size > max_origins) return CT_ERR_TOO_MANY;
        for (uint32_t i = 0; i < a->size; i++)
            if ((e = ct_origin_item_check(&a->ptr[i]))) return e;
    }
    if (f[10]) {
        if (f[10]->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
        if (f[10]->via.str.size == 0) return CT_ERR_BAD_VALUE;
        if (f[10]->via.str.size > CT_CAMPAIGN_ID_MAX) return CT_ERR_STRING_TOO_LONG;
    }
    if (f[11] && (e = ct_wire_get_bin(f[11], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
    for (unsigned i = 2; i < 8; i++)
        if (!f[i]) return CT_ERR_MISSING_FIELD;
    if (!f[10] != !f[11]) return CT_ERR_MISSING_FIELD;
    if (f[10]) {
        b->campaign_id = f[10]->via.str.ptr;
        b->campaign_id_len = f[10]->via.str.size;
        memcpy(b->fingerprint, f[11]->via.bin.ptr, CT_HASH_LEN);
    }
    if (f[9]) {
        const msgpack_object_array *oa = &f[9]->via.array;
        if (oa->size && !origins) return CT_ERR_ARG;
        for (uint32_t i = 0; i < oa->size; i++) {
            const msgpack_object *x = oa->ptr[i].via.array.ptr;
            memcpy(origins[i].origin, x[0].via.bin.ptr, CT_ORIGIN_LEN);
            origins[i].key = x[1].via.str.ptr;
            origins[i].key_len = x[1].via.str.size;
        }
        b->origins = origins;
        b->n_origins = oa->size;
    }
    const msgpack_object_array *a = &f[7]->via.array;
    if (b->safe > b->committed || b->prev_seq > b->committed ||
        b->committed - b->prev_seq < a->size)
        return CT_ERR_BAD_VALUE;
    if (a->size && !recs) return CT_ERR_ARG;
    for (uint32_t i = 0; i < a->size; i++) {
        recs[i].data = (const uint8_t *)a->ptr[i].via.bin.ptr;
        recs[i].len = a->ptr[i].via.bin.size;
    }
    b->recs = recs;
    b->n = a->size;
    return CT_OK;
}
