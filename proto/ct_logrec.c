/* ct_logrec.c — one record of the hash-chained log (see ct_logrec.h and
 * docs/PROTOCOL.md §6).
 *
 * Invariants: the stored encoding is 0x95 || body-elements || bin32(hash),
 * where body = 0x94 || body-elements is exactly what is hashed after the
 * previous hash, so the hash is computed over the bytes being written and
 * never over a second, possibly different, encoding. Encoding uses
 * msgpack-c's smallest forms; the decoder is strict (prescan, exact array of
 * 5, exact types and sizes) and borrows the event bytes from its input.
 */
#include "ct_logrec.h"

#include <sodium.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_event.h"
#include "ct_text.h"

/* seq(9) + received(9) + collector(2+64) + event(3+1024) + hash(2+32) + 1 */
#define CT_LOGREC_MAX_BYTES 1280

static ct_err ct_logrec_valid(const ct_logrec *r, size_t *clen)
{
    if (r->seq == 0 || r->received_ms < 0) return CT_ERR_BAD_VALUE;
    size_t n = strnlen(r->collector, CT_COLLECTOR_ID_MAX + 1);
    if (n == 0 || n > CT_COLLECTOR_ID_MAX) return CT_ERR_BAD_VALUE;
    if (!ct_utf8_valid((const uint8_t *)r->collector, n)) return CT_ERR_BAD_VALUE;
    if (!r->event || r->event_len == 0 || r->event_len > CT_EVENT_MAX_BYTES)
        return CT_ERR_BAD_VALUE;
    *clen = n;
    return CT_OK;
}

/* Writes the 4 body elements (no array header) at p; returns the end.
 * At most CT_LOGREC_MAX_BYTES - 35 bytes. */
static uint8_t *ct_logrec_put_body(uint8_t *p, const ct_logrec *r, size_t clen)
{
    p = ct_mp_uint(p, r->seq);
    p = ct_mp_uint(p, (uint64_t)r->received_ms);
    p = ct_mp_str(p, r->collector, clen);
    return ct_mp_bin(p, r->event, r->event_len);
}

static void ct_logrec_hash(const uint8_t prev[CT_LOGREC_HASH_LEN], const uint8_t *elems, size_t n,
                           uint8_t out[CT_LOGREC_HASH_LEN])
{
    static const uint8_t hdr = 0x94;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CT_LOGREC_HASH_LEN);
    crypto_generichash_update(&st, prev, CT_LOGREC_HASH_LEN);
    crypto_generichash_update(&st, &hdr, 1);
    crypto_generichash_update(&st, elems, n);
    crypto_generichash_final(&st, out, CT_LOGREC_HASH_LEN);
}

ct_err ct_logrec_encode(ct_logrec *r, const uint8_t prev_hash[CT_LOGREC_HASH_LEN], ct_buf *out)
{
    if (!r || !prev_hash || !out) return CT_ERR_ARG;
    size_t clen;
    ct_err e = ct_logrec_valid(r, &clen);
    if (e) return e;
    if (ct_buf_reserve(out, CT_LOGREC_MAX_BYTES)) return CT_ERR_NOMEM;
    uint8_t *const start = out->data + out->len;
    start[0] = 0x95;
    uint8_t *p = ct_logrec_put_body(start + 1, r, clen);
    ct_logrec_hash(prev_hash, start + 1, (size_t)(p - start - 1), r->hash);
    p = ct_mp_bin(p, r->hash, CT_LOGREC_HASH_LEN);
    out->len += (size_t)(p - start);
    return CT_OK;
}

static const ct_prescan_limits ct_logrec_limits = {CT_CODEC_MAX_DEPTH, 64, 256};

ct_err ct_logrec_decode(const uint8_t *buf, size_t len, ct_logrec *r)
{
    if (len == 0 || !buf) return CT_ERR_FRAME_EMPTY;
    if (len > CT_LOGREC_MAX_BYTES) return CT_ERR_FRAME_TOO_LARGE;
    if (!r) return CT_ERR_ARG;
    msgpack_object root;
    ct_err e = ct_codec_unpack(buf, len, &ct_logrec_limits, &root);
    if (e) return e;
    if (root.type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (root.via.array.size != 5) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = root.via.array.ptr;
    uint64_t u;
    if ((e = ct_codec_uint(&x[0], UINT64_MAX, &u))) return e;
    if (u == 0) return CT_ERR_BAD_VALUE;
    r->seq = u;
    if ((e = ct_codec_uint(&x[1], INT64_MAX, &u))) return e;
    r->received_ms = (int64_t)u;
    if (x[2].type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    size_t n = x[2].via.str.size;
    if (n == 0) return CT_ERR_BAD_VALUE;
    if (n > CT_COLLECTOR_ID_MAX) return CT_ERR_STRING_TOO_LONG;
    if (!ct_utf8_valid((const uint8_t *)x[2].via.str.ptr, n)) return CT_ERR_BAD_UTF8;
    if (memchr(x[2].via.str.ptr, 0, n)) return CT_ERR_BAD_VALUE;
    memcpy(r->collector, x[2].via.str.ptr, n);
    r->collector[n] = '\0';
    if (x[3].type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
    if (x[3].via.bin.size == 0) return CT_ERR_BAD_VALUE;
    if (x[3].via.bin.size > CT_EVENT_MAX_BYTES) return CT_ERR_STRING_TOO_LONG;
    r->event = (const uint8_t *)x[3].via.bin.ptr;
    r->event_len = x[3].via.bin.size;
    if (x[4].type != MSGPACK_OBJECT_BIN) return CT_ERR_WRONG_TYPE;
    if (x[4].via.bin.size != CT_LOGREC_HASH_LEN) return CT_ERR_BAD_VALUE;
    memcpy(r->hash, x[4].via.bin.ptr, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

ct_err ct_logrec_check(const ct_logrec *r, const uint8_t prev_hash[CT_LOGREC_HASH_LEN])
{
    if (!r || !prev_hash) return CT_ERR_ARG;
    size_t clen;
    ct_err e = ct_logrec_valid(r, &clen);
    if (e) return CT_ERR_CHAIN;
    uint8_t tmp[CT_LOGREC_MAX_BYTES];
    const uint8_t *end = ct_logrec_put_body(tmp, r, clen);
    uint8_t h[CT_LOGREC_HASH_LEN];
    ct_logrec_hash(prev_hash, tmp, (size_t)(end - tmp), h);
    /* the chain hashes are public: a plain compare (no constant time needed) */
    return memcmp(h, r->hash, CT_LOGREC_HASH_LEN) == 0 ? CT_OK : CT_ERR_CHAIN;
}

ct_err ct_logrec_check_stored(const uint8_t *buf, size_t len,
                              const uint8_t prev_hash[CT_LOGREC_HASH_LEN])
{
    if (!buf || !prev_hash) return CT_ERR_ARG;
    const size_t tail = 2 + CT_LOGREC_HASH_LEN;
    if (len <= 1 + tail || buf[0] != 0x95 || buf[len - tail] != 0xc4 ||
        buf[len - tail + 1] != CT_LOGREC_HASH_LEN)
        return CT_ERR_CHAIN;
    uint8_t h[CT_LOGREC_HASH_LEN];
    ct_logrec_hash(prev_hash, buf + 1, len - 1 - tail, h);
    return memcmp(h, buf + len - CT_LOGREC_HASH_LEN, CT_LOGREC_HASH_LEN) == 0 ? CT_OK
                                                                              : CT_ERR_CHAIN;
}

void ct_hash_hex(const uint8_t h[CT_LOGREC_HASH_LEN], char out[2 * CT_LOGREC_HASH_LEN + 1])
{
    ct_text_hex(h, CT_LOGREC_HASH_LEN, out);
}
