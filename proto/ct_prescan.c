/* ct_prescan.c — bounded structural walk of a MessagePack frame (see
 * ct_prescan.h) and the one guarded entry that turns bytes from outside into
 * msgpack_object trees (ct_codec_unpack, see ct_codec.h). ct_prescan,
 * ct_prescan_object_len and ct_codec_unpack share one walker: one table of
 * MessagePack type bytes, one set of checks, the same codes.
 *
 * Invariants: the walker never reads at or past buf[len], uses an explicit
 * stack of CT_PRESCAN_MAX_DEPTH + 1 counters and consumes at least one byte
 * per object, so it is O(len). Walking only, it never allocates. Building
 * (ct_codec_unpack), it allocates a container's children from the zone only
 * after the container passed every check, so every array it reserves holds
 * at most as many objects as bytes are left; the objects it builds are the
 * ones msgpack-c's msgpack_unpack() builds from the same bytes (same types,
 * non-negative signed integers folded into POSITIVE_INTEGER, str/bin/ext
 * pointing into buf; test_codec_unpack compares both).
 */
#include "ct_prescan.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "ct_be.h"
#include "ct_codec.h"

/* Fills o with the scalar that starts with type byte b, whose header bytes
 * after b start at p (hdr of them) and whose payload is body bytes. */
static inline void put_scalar(msgpack_object *o, uint8_t b, const uint8_t *p, size_t hdr,
                              uint64_t body)
{
    uint64_t u = 0;
    int64_t i = 0;
    if (b <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
        return;
    }
    if (b >= 0xe0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t)b;
        return;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = (uint32_t)body;
        o->via.str.ptr = (const char *)p;
        return;
    }
    switch (b) {
    case 0xc0:
        o->type = MSGPACK_OBJECT_NIL;
        return;
    case 0xc2:
    case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = b == 0xc3;
        return;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        o->type = MSGPACK_OBJECT_BIN;
        o->via.bin.size = (uint32_t)body;
        o->via.bin.ptr = (const char *)p + hdr;
        return;
    case 0xd9:
    case 0xda:
    case 0xdb:
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = (uint32_t)body;
        o->via.str.ptr = (const char *)p + hdr;
        return;
    case 0xc7:
    case 0xc8:
    case 0xc9: /* length, then the type byte */
        o->type = MSGPACK_OBJECT_EXT;
        o->via.ext.type = (int8_t)p[hdr - 1];
        o->via.ext.size = (uint32_t)body;
        o->via.ext.ptr = (const char *)p + hdr;
        return;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: /* the type byte, then hdr - 1 bytes of data */
        o->type = MSGPACK_OBJECT_EXT;
        o->via.ext.type = (int8_t)p[0];
        o->via.ext.size = (uint32_t)(hdr - 1);
        o->via.ext.ptr = (const char *)p + 1;
        return;
    case 0xca: {
        uint32_t w = ct_be32_get(p);
        float f;
        memcpy(&f, &w, sizeof f);
        o->type = MSGPACK_OBJECT_FLOAT32;
        o->via.f64 = (double)f;
        return;
    }
    case 0xcb: {
        uint64_t w = ct_be64_get(p);
        double f;
        memcpy(&f, &w, sizeof f);
        o->type = MSGPACK_OBJECT_FLOAT64;
        o->via.f64 = f;
        return;
    }
    case 0xcc:
        u = p[0];
        break;
    case 0xcd:
        u = ct_be16_get(p);
        break;
    case 0xce:
        u = ct_be32_get(p);
        break;
    case 0xcf:
        u = ct_be64_get(p);
        break;
    case 0xd0:
        i = (int8_t)p[0];
        goto sint;
    case 0xd1:
        i = (int16_t)ct_be16_get(p);
        goto sint;
    case 0xd2:
        i = (int32_t)ct_be32_get(p);
        goto sint;
    case 0xd3:
        i = (int64_t)ct_be64_get(p);
        goto sint;
    default:
        assert(0 && "not a scalar type byte");
        o->type = MSGPACK_OBJECT_NIL;
        return;
    }
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = u;
    return;
sint:
    if (i >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)i;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = i;
    }
}

/* Walks the one object at buf[0..len): on CT_OK, *end is the offset just past
 * it (<= len; bytes after it are the caller's business). With a zone, also
 * builds the object into *root (children from z); CT_ERR_NOMEM when z runs
 * out. Inlined into its two callers so the walk alone carries no building. */
static inline __attribute__((always_inline)) ct_err walk_impl(const uint8_t *buf, size_t len,
                                                              const ct_prescan_limits *lim,
                                                              size_t *end, msgpack_zone *z,
                                                              msgpack_object *root)
{
    if (len == 0 || buf == NULL) return CT_ERR_FRAME_EMPTY;
    unsigned max_depth = lim ? lim->max_depth : CT_PRESCAN_MAX_DEPTH;
    if (max_depth > CT_PRESCAN_MAX_DEPTH) max_depth = CT_PRESCAN_MAX_DEPTH;
    uint64_t max_items = lim ? lim->max_items : UINT32_MAX;
    uint64_t max_total = lim && lim->max_total ? lim->max_total : UINT64_MAX;

    uint64_t rem[CT_PRESCAN_MAX_DEPTH + 1];         /* objects still due at each level */
    msgpack_object *next[CT_PRESCAN_MAX_DEPTH + 1]; /* building: the next one at each level */
    unsigned d = 0;
    rem[0] = 1;
    next[0] = root;
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
        msgpack_object *o = z ? next[d]++ : NULL;

        if (container) {
            if (items > after) return CT_ERR_DECLARED_SIZE;
            if (count > max_items) return CT_ERR_TOO_MANY;
            if (d + 1 > max_depth) return CT_ERR_TOO_DEEP;
            if (z) {
                /* a map's entries are key, value pairs: 2 objects each */
                _Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object),
                               "a kv is two objects");
                msgpack_object *kids = NULL;
                if (items > 0) {
                    kids = msgpack_zone_malloc(z, (size_t)items * sizeof(msgpack_object));
                    if (!kids) return CT_ERR_NOMEM;
                }
                bool is_map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
                o->type = is_map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
                if (is_map) {
                    o->via.map.size = (uint32_t)count;
                    o->via.map.ptr = (msgpack_object_kv *)(void *)kids;
                } else {
                    o->via.array.size = (uint32_t)count;
                    o->via.array.ptr = kids;
                }
                next[d + 1] = kids;
            }
            if (items > 0) {
                rem[++d] = items;
                continue;
            }
        } else if (z) {
            put_scalar(o, b, p, hdr, body);
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

static ct_err walk(const uint8_t *buf, size_t len, const ct_prescan_limits *lim, size_t *end)
{
    return walk_impl(buf, len, lim, end, NULL, NULL);
}

static ct_err walk_build(const uint8_t *buf, size_t len, const ct_prescan_limits *lim, size_t *end,
                         msgpack_zone *z, msgpack_object *root)
{
    return walk_impl(buf, len, lim, end, z, root);
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
    msgpack_zone *z = ct_zone_get();
    if (!z) {
        ct_err e = ct_prescan(buf, len, lim);
        return e ? e : CT_ERR_NOMEM;
    }
    msgpack_zone_clear(z);
    size_t end = 0;
    ct_err e = walk_build(buf, len, lim, &end, z, out);
    /* out of memory part-way: a fault of the frame further on still wins,
     * as it does when the frame is walked before anything is built */
    if (e == CT_ERR_NOMEM) {
        ct_err f = ct_prescan(buf, len, lim);
        return f ? f : CT_ERR_NOMEM;
    }
    if (e == CT_OK && end != len) e = CT_ERR_TRAILING_BYTES;
    return e;
}
