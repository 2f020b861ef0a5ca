/* ct_codec.h — PRIVATE helpers shared by the MessagePack decoders of proto/
 * (ct_event.c, ct_wire.c, ct_logrec.c). Not part of the public contract.
 *
 * ct_codec_unpack() is the only place where msgpack-c parses bytes from
 * outside: it runs ct_prescan() first (so declared sizes can never make
 * msgpack-c reserve more than a bounded multiple of the frame) and then
 * unpacks into a per-thread msgpack_zone that is cleared, not freed, on every
 * call: no malloc per frame in the steady state. The returned object (and
 * everything it points to inside the zone) is valid until the next
 * ct_codec_unpack() on the same thread; strings/bins point into buf.
 */
#ifndef CT_CODEC_H
#define CT_CODEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ct_error.h"
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

#endif
