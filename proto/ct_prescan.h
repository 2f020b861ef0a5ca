/* CONTRACT (docs/PROTOCOL.md §1.1): a change here is a change to the protocol.
 *
 * ct_prescan.h — bounded structural walk of a MessagePack frame.
 *
 * msgpack-c's unpacker reserves memory from declared container sizes before
 * checking that the bytes exist ("dd 00 ff ff ff" reserves 512 MB), so it
 * never sees bytes from outside: ct_codec_unpack (ct_codec.h) walks them with
 * this walk and builds the objects itself. ct_prescan() alone never
 * allocates and checks, for every object: the header is complete; every
 * string/bin/ext length fits in the bytes left; every array/map count is
 * at most the bytes left (each element needs >= 1 byte) and at most
 * max_items; nesting depth <= max_depth; exactly one top-level object that
 * ends exactly at len (else CT_ERR_TRAILING_BYTES). The walk is iterative
 * (explicit stack), O(len).
 *
 * Returns CT_OK, CT_ERR_FRAME_EMPTY, CT_ERR_MALFORMED (truncated header or
 * the reserved byte 0xc1), CT_ERR_DECLARED_SIZE, CT_ERR_TOO_DEEP,
 * CT_ERR_TOO_MANY or CT_ERR_TRAILING_BYTES.
 */
#ifndef CT_PRESCAN_H
#define CT_PRESCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

#define CT_PRESCAN_MAX_DEPTH 32 /* the deepest legal chitieu message uses 4 */

typedef struct {
    unsigned max_depth; /* <= CT_PRESCAN_MAX_DEPTH */
    uint32_t max_items; /* per container */
    uint32_t max_total; /* objects in the whole frame (keys count); 0 = no limit.
                         * Bounds what msgpack-c allocates (~16-32 bytes per
                         * object). Exceeding it gives CT_ERR_TOO_MANY. */
} ct_prescan_limits;

ct_err ct_prescan(const uint8_t *buf, size_t len, const ct_prescan_limits *lim);

/* The same walk over the ONE object that starts at buf[0], for readers of
 * concatenated objects (the .ctlog file): *out = its length in bytes; the
 * bytes after it are not looked at. Same checks and codes as ct_prescan
 * except CT_ERR_TRAILING_BYTES, which it never returns. */
ct_err ct_prescan_object_len(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                             size_t *out);

#endif
