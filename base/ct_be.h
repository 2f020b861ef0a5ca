/* ct_be.h — big-endian (network order) integers in byte arrays, the layout of
 * every on-disk key and counter that must sort numerically under memcmp.
 *
 * Inline, no alignment assumptions (byte by byte), no allocation. p points to
 * at least 2, 4 or 8 bytes; get(put(x)) == x for every x.
 */
#ifndef CT_BE_H
#define CT_BE_H

#include <stdint.h>

static inline void ct_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint16_t ct_be16_get(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline void ct_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t ct_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ct_be64_put(uint8_t *p, uint64_t v)
{
    ct_be32_put(p, (uint32_t)(v >> 32));
    ct_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t ct_be64_get(const uint8_t *p)
{
    return (uint64_t)ct_be32_get(p) << 32 | ct_be32_get(p + 4);
}

#endif
