/* ct_wire_copy.c — the store-copy messages "cq" and "cc" (see ct_wire.h and
 * docs/PROTOCOL.md §3.4 "Bootstrap over the wire"): a follower asks for the
 * chunks of a consistent copy of the primary's store, each chunk carrying
 * the whole copy's size, head, epoch, digest and campaign. The same
 * invariants as ct_wire.c (canonical key order, smallest encodings, nothing
 * appended on failure; strict decoding in the documented order), through
 * the helpers of ct_wire_int.h.
 */
#include <msgpack.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_wire.h"
#include "ct_wire_int.h"

static const char *const ct_keys_cq[] = {"v", "k", "i", "o", NULL};
static const char *const ct_keys_cc[] = {"v", "k",  "i",  "z",  "o",  "d", "s",
                                         "h", "ep", "dg", "ci", "cf", NULL};

ct_err ct_wire_copy_req_encode(uint64_t copy_id, uint64_t offset, ct_buf *out)
{
    if (!out) return CT_ERR_ARG;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 40)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 4, CT_MSG_COPY_REQ);
    ct_wire_pk_str(&pk, "i");
    bad |= msgpack_pack_uint64(&pk, copy_id);
    ct_wire_pk_str(&pk, "o");
    bad |= msgpack_pack_uint64(&pk, offset);
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_copy_req_decode(const uint8_t *buf, size_t len, uint64_t *copy_id, uint64_t *offset)
{
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_COPY_REQ, &root);
    if (e) return e;
    const msgpack_object *f[4];
    if ((e = ct_wire_fields(&root, ct_keys_cq, f, 4))) return e;
    uint64_t i = 0, o = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &i))) return e;
    if (f[3] && (e = ct_codec_uint(f[3], UINT64_MAX, &o))) return e;
    if (!f[2] || !f[3]) return CT_ERR_MISSING_FIELD;
    if (!copy_id || !offset) return CT_ERR_ARG;
    *copy_id = i;
    *offset = o;
    return CT_OK;
}

static bool chunk_ok(const ct_wire_copy_chunk *c)
{
    return c->copy_id >= 1 && c->epoch >= 1 && c->len <= CT_WIRE_MAX_CHUNK &&
           (c->len == 0 || c->data) && !(c->size == 0 && c->len > 0) && c->offset <= c->size &&
           c->len <= c->size - c->offset && c->campaign_id && c->campaign_id_len >= 1 &&
           c->campaign_id_len <= CT_CAMPAIGN_ID_MAX;
}

static int pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    return msgpack_pack_bin(pk, n) | (n ? msgpack_pack_bin_body(pk, p, n) : 0);
}

ct_err ct_wire_copy_chunk_encode(const ct_wire_copy_chunk *c, ct_buf *out)
{
    if (!c || !out) return CT_ERR_ARG;
    if (!chunk_ok(c)) return CT_ERR_BAD_VALUE;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 200 + c->len + c->campaign_id_len)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 12, CT_MSG_COPY_CHUNK);
    ct_wire_pk_str(&pk, "i");
    bad |= msgpack_pack_uint64(&pk, c->copy_id);
    ct_wire_pk_str(&pk, "z");
    bad |= msgpack_pack_uint64(&pk, c->size);
    ct_wire_pk_str(&pk, "o");
    bad |= msgpack_pack_uint64(&pk, c->offset);
    ct_wire_pk_str(&pk, "d");
    bad |= pk_bin(&pk, c->data, c->len);
    ct_wire_pk_str(&pk, "s");
    bad |= msgpack_pack_uint64(&pk, c->seq);
    ct_wire_pk_str(&pk, "h");
    bad |= pk_bin(&pk, c->head, CT_HASH_LEN);
    ct_wire_pk_str(&pk, "ep");
    bad |= msgpack_pack_uint64(&pk, c->epoch);
    ct_wire_pk_str(&pk, "dg");
    bad |= pk_bin(&pk, c->digest, CT_HASH_LEN);
    ct_wire_pk_str(&pk, "ci");
    bad |= msgpack_pack_str(&pk, c->campaign_id_len);
    bad |= msgpack_pack_str_body(&pk, c->campaign_id, c->campaign_id_len);
    ct_wire_pk_str(&pk, "cf");
    bad |= pk_bin(&pk, c->fingerprint, CT_HASH_LEN);
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_copy_chunk_decode(const uint8_t *buf, size_t len, ct_wire_copy_chunk *c)
{
    if (!c) return CT_ERR_ARG;
    memset(c, 0, sizeof *c);
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_COPY_CHUNK, &root);
    if (e) return e;
    const msgpack_object *f[12];
    if ((e = ct_wire_fields(&root, ct_keys_cc, f, 12))) return e;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &c->copy_id))) return e;
    if (f[3] && (e = ct_codec_uint(f[3], UINT64_MAX, &c->size))) return e;
    if (f[4] && (e = ct_codec_uint(f[4], UINT64_MAX, &c->offset))) return e;
    if (f[5]) {
        if (f[5]->type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
        if (f[5]->via.bin.size > CT_WIRE_MAX_CHUNK) return CT_ERR_STRING_TOO_LONG;
        c->data = (const uint8_t *)f[5]->via.bin.ptr;
        c->len = f[5]->via.bin.size;
    }
    if (f[6] && (e = ct_codec_uint(f[6], UINT64_MAX, &c->seq))) return e;
    if (f[7]) {
        if ((e = ct_wire_get_bin(f[7], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
        memcpy(c->head, f[7]->via.bin.ptr, CT_HASH_LEN);
    }
    if (f[8] && (e = ct_codec_uint(f[8], UINT64_MAX, &c->epoch))) return e;
    if (f[9]) {
        if ((e = ct_wire_get_bin(f[9], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
        memcpy(c->digest, f[9]->via.bin.ptr, CT_HASH_LEN);
    }
    if (f[10]) {
        if (f[10]->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
        if (f[10]->via.str.size > CT_CAMPAIGN_ID_MAX) return CT_ERR_STRING_TOO_LONG;
        c->campaign_id = f[10]->via.str.ptr;
        c->campaign_id_len = f[10]->via.str.size;
    }
    if (f[11]) {
        if ((e = ct_wire_get_bin(f[11], CT_HASH_LEN, CT_ERR_BAD_VALUE))) return e;
        memcpy(c->fingerprint, f[11]->via.bin.ptr, CT_HASH_LEN);
    }
    for (unsigned i = 2; i < 12; i++)
        if (!f[i]) return CT_ERR_MISSING_FIELD;
    return chunk_ok(c) ? CT_OK : CT_ERR_BAD_VALUE;
}
