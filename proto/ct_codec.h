/* CONTRACT (docs/PROTOCOL.md §1): a change here is a change to the protocol.
 *
 * ct_codec.h — helpers shared by the MessagePack decoders of proto/
 * (ct_event.c, ct_wire.c, ct_logrec.c); only proto/ includes it.
 *
 * ct_codec_unpack() is the only place where bytes from outside become
 * msgpack_objects: one walk (ct_prescan's, same checks, same codes) checks
 * the frame and builds the objects msgpack-c's msgpack_unpack() would build
 * (msgpack-c's unpacker never sees outside bytes), reserving a container's
 * elements only after its declared size passed the checks, from a
 * per-thread msgpack_zone that is cleared, not freed, on every call: no
 * malloc per frame in the steady state. Its codes are ct_prescan's for the
 * same bytes (CT_ERR_NOMEM only for a frame the walk accepts). The
 * returned object (and everything it points to inside the zone) is valid
 * until the next ct_codec_unpack() on the same thread; strings/bins point
 * into buf.
 */
#ifndef CT_CODEC_H
#define CT_CODEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ct_error.h"
#include "ct_event.h"
#include "ct_prescan.h"

/* Depth allowed by every chitieu decoder (legal messages use <= 3). */
#define CT_CODEC_MAX_DEPTH 8

ct_err ct_codec_unpack(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                       msgpack_object *out);

/* Key equality against a C string literal. */
static inline bool ct_codec_key_is(const msgpack_object_str *k, const char *lit, size_t n)
{
    return k->size == n && memcmp(k->ptr, lit, n) == 0;
}

/* A uint field: positive integer (msgpack-c folds non-negative signed
 * encodings into POSITIVE_INTEGER too). */
static inline ct_err ct_codec_uint(const msgpack_object *o, uint64_t max, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return CT_ERR_WRONG_TYPE;
    if (o->via.u64 > max) return CT_ERR_BAD_VALUE;
    *v = o->via.u64;
    return CT_OK;
}

/* Shared field readers and checks (ct_event.c), used by every decoder of an
 * entry of the log (event, life entry) so their string rules are one code:
 * ct_codec_str: a str of valid UTF-8, NUL-free, 1..cap bytes (0..cap with
 * allow_empty), copied NUL-terminated into dst (cap + 1 bytes); wrong type
 * WRONG_TYPE, empty BAD_VALUE, over cap STRING_TOO_LONG, BAD_UTF8, NUL
 * BAD_VALUE. ct_codec_program: a str naming a program (UNKNOWN_PROGRAM).
 * ct_codec_check_cstr: the encoder's check of a char[cap + 1] field: *len =
 * its length; BAD_VALUE when unterminated, empty while required, or not UTF-8. */
ct_err ct_codec_str(const msgpack_object *o, bool allow_empty, size_t cap, char *dst);
ct_err ct_codec_program(const msgpack_object *o, ct_program *out);
ct_err ct_codec_check_cstr(const char *s, size_t cap, bool required, size_t *len);

/* ---- direct canonical packing (hot paths: event, log record) -------------
 * Each writes at p (the caller reserved enough) and returns the new end.
 * The forms chosen are exactly msgpack-c's (smallest encoding), so output is
 * byte-identical to msgpack_pack_* (tests compare both). */
static inline uint8_t *ct_mp_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
    return p + n;
}

static inline uint8_t *ct_mp_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p++ = (uint8_t)v;
        return p;
    }
    if (v <= 0xff) {
        *p++ = 0xcc;
        return ct_mp_be(p, v, 1);
    }
    if (v <= 0xffff) {
        *p++ = 0xcd;
        return ct_mp_be(p, v, 2);
    }
    if (v <= 0xffffffffu) {
        *p++ = 0xce;
        return ct_mp_be(p, v, 4);
    }
    *p++ = 0xcf;
    return ct_mp_be(p, v, 8);
}

static inline uint8_t *ct_mp_str(uint8_t *p, const void *s, size_t n)
{
    if (n < 32) {
        *p++ = (uint8_t)(0xa0 | n);
    } else if (n <= 0xff) {
        *p++ = 0xd9;
        p = ct_mp_be(p, n, 1);
    } else if (n <= 0xffff) {
        *p++ = 0xda;
        p = ct_mp_be(p, n, 2);
    } else {
        *p++ = 0xdb;
        p = ct_mp_be(p, n, 4);
    }
    memcpy(p, s, n);
    return p + n;
}

static inline uint8_t *ct_mp_bin(uint8_t *p, const void *b, size_t n)
{
    if (n <= 0xff) {
        *p++ = 0xc4;
        p = ct_mp_be(p, n, 1);
    } else if (n <= 0xffff) {
        *p++ = 0xc5;
        p = ct_mp_be(p, n, 2);
    } else {
        *p++ = 0xc6;
        p = ct_mp_be(p, n, 4);
    }
    if (n) memcpy(p, b, n);
    return p + n;
}

/* A one-character key (fixstr 1). */
static inline uint8_t *ct_mp_key1(uint8_t *p, char k)
{
    p[0] = 0xa1;
    p[1] = (uint8_t)k;
    return p + 2;
}

#endif
