/* test_unpack.c — ct_codec_unpack against msgpack-c's msgpack_unpack as the
 * oracle: for every frame (hand-made edge cases, seeded random well-formed
 * frames of every MessagePack type, and byte flips and truncations of
 * them), the code equals ct_prescan's then msgpack_unpack's, and on CT_OK
 * the object trees are equal node for node (type, value, sizes, and the
 * str/bin/ext pointers into the frame; an empty one's pointer is left out:
 * msgpack-c's is arbitrary, ct_codec_unpack's points into the frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_codec.h"

/* The reference: the walk, then msgpack-c over the same bytes. */
static ct_err ref_unpack(const uint8_t *b, size_t n, const ct_prescan_limits *lim, msgpack_zone *z,
                         msgpack_object *out)
{
    ct_err e = ct_prescan(b, n, lim);
    if (e) return e;
    msgpack_zone_clear(z);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)b, n, &off, z, out);
    if (r == MSGPACK_UNPACK_SUCCESS) return off == n ? CT_OK : CT_ERR_TRAILING_BYTES;
    return r == MSGPACK_UNPACK_EXTRA_BYTES ? CT_ERR_TRAILING_BYTES : CT_ERR_MALFORMED;
}

static int same_node(const msgpack_object *a, const msgpack_object *b);

/* Compares two trees; prints the first node that differs. */
static int same(const msgpack_object *a, const msgpack_object *b)
{
    int r = same_node(a, b);
    if (!r && a->type != MSGPACK_OBJECT_ARRAY && a->type != MSGPACK_OBJECT_MAP)
        print_error("differs: type %d / %d, u64 %llx / %llx, size %u / %u\n", (int)a->type,
                    (int)b->type, (unsigned long long)a->via.u64, (unsigned long long)b->via.u64,
                    a->via.str.size, b->via.str.size);
    return r;
}

static int same_node(const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL:
        return 1;
    case MSGPACK_OBJECT_BOOLEAN:
        return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return a->via.u64 == b->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return a->via.i64 == b->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64) == 0;
    /* msgpack-c leaves the pointer of an empty str/bin/ext arbitrary */
    case MSGPACK_OBJECT_STR:
        return a->via.str.size == b->via.str.size &&
               (!a->via.str.size || a->via.str.ptr == b->via.str.ptr);
    case MSGPACK_OBJECT_BIN:
        return a->via.bin.size == b->via.bin.size &&
               (!a->via.bin.size || a->via.bin.ptr == b->via.bin.ptr);
    case MSGPACK_OBJECT_EXT:
        return a->via.ext.type == b->via.ext.type && a->via.ext.size == b->via.ext.size &&
               (!a->via.ext.size || a->via.ext.ptr == b->via.ext.ptr);
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size) return 0;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!same(&a->via.array.ptr[i], &b->via.array.ptr[i])) return 0;
        return 1;
    case MSGPACK_OBJECT_MAP:
        if (a->via.map.size != b->via.map.size) return 0;
        for (uint32_t i = 0; i < a->via.map.size; i++)
            if (!same(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
                !same(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
                return 0;
        return 1;
    default:
        return 0;
    }
}

static size_t n_checked_ok;

static void check(const uint8_t *b, size_t n, const ct_prescan_limits *lim, msgpack_zone *z)
{
    msgpack_object x, y;
    ct_err want = ref_unpack(b, n, lim, z, &y);
    ct_err got = ct_codec_unpack(b, n, lim, &x);
    if (got != want) {
        print_error("frame of %zu bytes (first %02x): got %s, want %s\n", n, n ? b[0] : 0,
                    ct_err_name(got), ct_err_name(want));
        fail();
    }
    if (got == CT_OK) {
        assert_true(same(&x, &y));
        n_checked_ok++;
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* Appends one random well-formed object (depth-limited) at p; returns the
 * end. Room: the caller's buffer holds 64 KB, far more than this writes. */
static uint8_t *gen(uint8_t *p, int depth)
{
    unsigned k = (unsigned)(rnd() % (depth < 4 ? 24 : 19));
    size_t n;
    switch (k) {
    case 0:
        *p++ = (uint8_t)(rnd() & 0x7f);
        return p;
    case 1:
        *p++ = (uint8_t)(0xe0 | (rnd() & 0x1f));
        return p;
    case 2:
        *p++ = (uint8_t)(0xc0 + (rnd() % 4 == 0 ? 0 : 2 + rnd() % 2));
        return p;
    case 3:   /* uint 8..64 */
    case 4: { /* int 8..64, either sign */
        int w = 1 << (rnd() % 4);
        int code = w == 1 ? 0 : w == 2 ? 1 : w == 4 ? 2 : 3;
        *p++ = (uint8_t)((k == 3 ? 0xcc : 0xd0) + code);
        return put_be(p, rnd(), w);
    }
    case 5:
        *p++ = 0xca;
        return put_be(p, rnd(), 4);
    case 6:
        *p++ = 0xcb;
        return put_be(p, rnd(), 8);
    case 7: /* fixstr */
        n = rnd() % 32;
        *p++ = (uint8_t)(0xa0 | n);
        break;
    case 8:   /* str8/16/32 */
    case 9: { /* bin8/16/32 */
        int w = 1 << (rnd() % 3);
        n = rnd() % 300;
        *p++ = (uint8_t)((k == 8 ? 0xd9 : 0xc4) + (w == 1 ? 0 : w == 2 ? 1 : 2));
        p = put_be(p, n, w);
        break;
    }
    case 10: /* fixext */
    case 11: {
        int c = (int)(rnd() % 5);
        *p++ = (uint8_t)(0xd4 + c);
        *p++ = (uint8_t)rnd();
        n = (size_t)1 << c;
        break;
    }
    case 12: /* ext8/16/32 (length, then type) */
    case 13: {
        int w = 1 << (rnd() % 3);
        n = rnd() % 40;
        *p++ = (uint8_t)(0xc7 + (w == 1 ? 0 : w == 2 ? 1 : 2));
        p = put_be(p, n, w);
        *p++ = (uint8_t)rnd();
        break;
    }
    case 14:
    case 15:
    case 16:
    case 17:
    case 18: /* empty containers of every header */
        switch (k) {
        case 14:
            *p++ = 0x90;
            return p;
        case 15:
            *p++ = 0x80;
            return p;
        case 16:
            *p++ = 0xdc;
            return put_be(p, 0, 2);
        case 17:
            *p++ = 0xdf;
            return put_be(p, 0, 4);
        default:
            *p++ = 0xa0;
            return p;
        }
    default: { /* a container with children */
        bool map = rnd() & 1;
        n = rnd() % 8;
        unsigned form = (unsigned)(rnd() % 3);
        if (form == 0) {
            *p++ = (uint8_t)((map ? 0x80 : 0x90) | n);
        } else if (form == 1) {
            *p++ = map ? 0xde : 0xdc;
            p = put_be(p, n, 2);
        } else {
            *p++ = map ? 0xdf : 0xdd;
            p = put_be(p, n, 4);
        }
        for (size_t i = 0; i < (map ? 2 * n : n); i++)
            p = gen(p, depth + 1);
        return p;
    }
    }
    for (size_t i = 0; i < n; i++)
        *p++ = (uint8_t)rnd();
    return p;
}

static void test_edge_cases(void **state)
{
    msgpack_zone *z = *state;
    static const struct {
        uint8_t b[12];
        size_t n;
    } c[] = {
        {{0}, 0},
        {{0xc1}, 1},
        {{0xdd, 0x00, 0xff, 0xff, 0xff}, 5},
        {{0x92, 0x91, 0x01}, 3},
        {{0x81, 0x01}, 2},
        {{0xc7, 0x01, 0x05, 0xaa}, 4},
        {{0xc7, 0x00, 0x05}, 3},
        {{0xd4, 0x05, 0xaa}, 3},
        {{0xd0, 0x80}, 2},
        {{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {{0xca, 0x7f, 0xc0, 0, 0}, 5},
        {{0x01, 0x02}, 2},
        {{0x90, 0x90}, 2},
        {{0x80}, 1},
        {{0x82, 0x90, 0x80, 0xa0, 0xc4, 0x00}, 6},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        check(c[i].b, c[i].n, NULL, z);
    check(NULL, 5, NULL, z);
    /* depth at and past the limit, default and tight limits */
    uint8_t deep[40];
    for (int d = 1; d <= 33; d++) {
        memset(deep, 0x91, (size_t)d);
        deep[d] = 0x01;
        check(deep, (size_t)d + 1, NULL, z);
        check(deep, (size_t)d + 1, &(ct_prescan_limits){8, 100, 0}, z);
    }
    uint8_t m[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02};
    for (uint32_t items = 0; items < 4; items++)
        for (uint32_t total = 0; total < 7; total++)
            check(m, sizeof m, &(ct_prescan_limits){32, items, total}, z);
}

static void test_random(void **state)
{
    msgpack_zone *z = *state;
    uint8_t *buf = malloc(1 << 16), *mut = malloc(1 << 16);
    assert_non_null(buf);
    assert_non_null(mut);
    n_checked_ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(gen(buf, 0) - buf);
        assert_true(n < (1 << 16));
        check(buf, n, NULL, z);
        check(buf, n, &(ct_prescan_limits){CT_CODEC_MAX_DEPTH, 64, 256}, z);
        /* truncations and trailing bytes */
        check(buf, n / 2, NULL, z);
        if (n > 1) check(buf, n - 1, NULL, z);
        buf[n] = 0xc0;
        check(buf, n + 1, NULL, z);
        /* byte flips */
        for (int f = 0; f < 4; f++) {
            memcpy(mut, buf, n);
            size_t at = (size_t)(rnd() % n);
            mut[at] = (uint8_t)rnd();
            check(mut, n, NULL, z);
        }
    }
    /* the generator must reach the success path often: a test that only
     * compared error codes would not test the trees */
    assert_true(n_checked_ok > 20000);
    free(buf);
    free(mut);
}

static int setup(void **state)
{
    *state = msgpack_zone_new(8192);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    msgpack_zone_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
