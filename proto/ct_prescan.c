/* ct_prescan.c — bounded structural walk of a MessagePack frame (see
 * ct_prescan.h) and the one guarded entry into msgpack-c's unpacker
 * (ct_codec_unpack, see ct_codec.h). ct_prescan and ct_prescan_object_len
 * share one walker: one table of MessagePack type bytes.
 *
 * Invariants: ct_prescan never allocates, never reads at or past buf[len],
 * uses an explicit stack of CT_PRESCAN_MAX_DEPTH + 1 counters and consumes at
 * least one byte per object, so it is O(len). After it returns CT_OK, every
 * declared count is <= the bytes left after its header, so msgpack-c reserves
 * at most ~32 bytes per byte of input, and max_total bounds it further.
 */
#include "ct_prescan.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "ct_be.h"
#include "ct_codec.h"

/* Walks the one object at buf[0..len): on CT_OK, *end is the offset just past
 * it (<= len; bytes after it are the caller's business). */
static ct_err walk(const uint8_t *buf, size_t len, const ct_prescan_limits *lim, size_t *end)
{
    if (len == 0 || buf == NULL) return CT_ERR_FRAME_EMPTY;
    unsigned max_depth = lim ? lim->max_depth : CT_PRESCAN_MAX_DEPTH;
    if (max_depth > CT_PRESCAN_MAX_DEPTH) max_depth = CT_PRESCAN_MAX_DEPTH;
    uint64_t max_items = lim ? lim->max_items : UINT32_MAX;
    uint64_t max_total = lim && lim->max_total ? lim->max_total : UINT64_MAX;

    uint64_t rem[CT_PRESCAN_MAX_DEPTH + 1]; /* objects still due at each level */
    unsigned d = 0;
    rem[0] = 1;
    uint64_t total = 0;
    size_t pos = 0;

    for (;;) {
        if (pos >= len) return CT_ERR_MALFORMED; /* an object is due but bytes ended */
        if (++total > max_total) return CT_ERR_TOO_MANY;
        const uint8_t b = buf[pos];
        const size_t left = len - pos - 1; /* bytes after the type byte */
        const uint8_t *p = buf + pos + 1;
        size_t hdr = 0;     /* bytes after the type byte that belong to the header */
        uint64_t body = 0;  /* payload bytes (str/bin/ext) */
        uint64_t count = 0; /* container entries */
        uint64_t items = 0; /* objects inside the container (2 per map entry) */
        bool container = false;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, negative fixint, nil, bool: one byte */
        } else if (b <= 0x8f) {
            container = true, count = b & 0x0fu, items = 2 * count;
        } else if (b <= 0x9f) {
            container = true, count = b & 0x0fu, items = count;
        } else if (b <= 0xbf) {
            body = b & 0x1fu;
        } else {
            switch (b) {
            case 0xc1:
                return CT_ERR_MALFORMED;
            case 0xc4: /* bin8 */
            case 0xd9: /* str8 */
                if (left < 1) return CT_ERR_MALFORMED;
                hdr = 1, body = p[0];
                break;
            case 0xc5:
            case 0xda:
                if (left < 2) return CT_ERR_MALFORMED;
                hdr = 2, body = ct_be16_get(p);
                break;
            case 0xc6:
            case 0xdb:
                if (left < 4) return CT_ERR_MALFORMED;
                hdr = 4, body = ct_be32_get(p);
                break;
            case 0xc7: /* ext8: len(1) type(1) */
                if (left < 2) return CT_ERR_MALFORMED;
                hdr = 2, body = p[0];
                break;
            case 0xc8:
                if (left < 3) return CT_ERR_MALFORMED;
                hdr = 3, body = ct_be16_get(p);
                break;
            case 0xc9:
                if (left < 5) return CT_ERR_MALFORMED;
                hdr = 5, body = ct_be32_get(p);
                break;
            case 0xca:
                hdr = 4;
                break; /* float32 */
            case 0xcb:
                hdr = 8;
                break; /* float64 */
            case 0xcc:
            case 0xd0:
                hdr = 1;
                break;
            case 0xcd:
            case 0xd1:
                hdr = 2;
                break;
            case 0xce:
            case 0xd2:
                hdr = 4;
                break;
            case 0xcf:
            case 0xd3:
                hdr = 8;
                break;
            case 0xd4:
                hdr = 2;
                break; /* fixext1: type + 1 */
            case 0xd5:
                hdr = 3;
                break; /* fixext2 */
            case 0xd6:
                hdr = 5;
                break; /* fixext4 */
            case 0xd7:
                hdr = 9;
                break; /* fixext8 */
            case 0xd8:
                hdr = 17;
                break; /* fixext16 */
            case 0xdc:
                if (left < 2) return CT_ERR_MALFORMED;
                hdr = 2, container = true, count = ct_be16_get(p), items = count;
                break;
            case 0xdd:
                if (left < 4) return CT_ERR_MALFORMED;
                hdr = 4, container = true, count = ct_be32_get(p), items = count;
                break;
            case 0xde:
                if (left < 2) return CT_ERR_MALFORMED;
                hdr = 2, container = true, count = ct_be16_get(p), items = 2 * count;
                break;
            case 0xdf:
                if (left < 4) return CT_ERR_MALFORMED;
                hdr = 4, container = true, count = ct_be32_get(p), items = 2 * count;
                break;
            default:
                return CT_ERR_MALFORMED; /* unreachable: every byte is covered */
            }
            if (hdr > left) return CT_ERR_MALFORMED; /* fixed-size scalar truncated */
        }
        const size_t after = left - hdr; /* bytes after the whole header */
        if (body > after) return CT_ERR_DECLARED_SIZE;
        pos += 1 + hdr + (size_t)body;
        rem[d]--;

        if (container) {
            if (items > after) return CT_ERR_DECLARED_SIZE;
            if (count > max_items) return CT_ERR_TOO_MANY;
            if (d + 1 > max_depth) return CT_ERR_TOO_DEEP;
            if (items > 0) {
                rem[++d] = items;
                continue;
            }
        }
        while (rem[d] == 0) {
            if (d == 0) {
                *end = pos;
                return CT_OK;
            }
            d--;
        }
    }
}

ct_err ct_prescan(const uint8_t *buf, size_t len, const ct_prescan_limits *lim)
{
    size_t end = 0;
    ct_err e = walk(buf, len, lim, &end);
    if (e) return e;
    return end == len ? CT_OK : CT_ERR_TRAILING_BYTES;
}

ct_err ct_prescan_object_len(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                             size_t *out)
{
    size_t end = 0;
    ct_err e = walk(buf, len, lim, &end);
    if (e) return e;
    assert(end > 0 && end <= len);
    *out = end;
    return CT_OK;
}

/* ---- the per-thread zone ---------------------------------------------- */

/* First chunk: enough for a full "sub" of CT_WIRE_MAX_EVENTS bins. Larger
 * messages (big snapshots) grow the zone for that call only: clear() frees
 * every chunk but the first. */
#define CT_ZONE_CHUNK (96u * 1024u)

static pthread_key_t ct_zone_key;
static pthread_once_t ct_zone_once = PTHREAD_ONCE_INIT;
static int ct_zone_key_ok;
static _Thread_local msgpack_zone *ct_tl_zone;

static void ct_zone_destroy(void *z)
{
    msgpack_zone_free((msgpack_zone *)z);
}

static void ct_zone_key_init(void)
{
    ct_zone_key_ok = pthread_key_create(&ct_zone_key, ct_zone_destroy) == 0;
}

static msgpack_zone *ct_zone_get(void)
{
    if (ct_tl_zone) return ct_tl_zone;
    pthread_once(&ct_zone_once, ct_zone_key_init);
    msgpack_zone *z = msgpack_zone_new(CT_ZONE_CHUNK);
    if (!z) return NULL;
    /* The key's destructor frees the zone when a thread exits. */
    if (ct_zone_key_ok) pthread_setspecific(ct_zone_key, z);
    ct_tl_zone = z;
    return z;
}

ct_err ct_codec_unpack(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                       msgpack_object *out)
{
    ct_err e = ct_prescan(buf, len, lim);
    if (e) return e;
    msgpack_zone *z = ct_zone_get();
    if (!z) return CT_ERR_NOMEM;
    msgpack_zone_clear(z);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)buf, len, &off, z, out);
    switch (r) {
    case MSGPACK_UNPACK_SUCCESS:
        return off == len ? CT_OK : CT_ERR_TRAILING_BYTES;
    case MSGPACK_UNPACK_EXTRA_BYTES:
        return CT_ERR_TRAILING_BYTES;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        return CT_ERR_NOMEM;
    default:
        return CT_ERR_MALFORMED;
    }
}
