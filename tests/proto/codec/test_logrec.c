/* test_logrec.c — the log record and its hash chain (independent recomputation
 * of BLAKE2b-256 over prev || body), strict record decoding, and ct_prescan's
 * own contract (each return code, depth 32 vs 33, max_items, max_total).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <sodium.h>

#include "codec_fixtures.h"
#include "ct_prescan.h"

static void test_logrec_chain(void **state)
{
    (void)state;
    ct_buf ev = CT_BUF_INIT;
    fx_encode_event(true, &ev);
    uint8_t prev[32] = {0};
    ct_buf recs[3] = {CT_BUF_INIT, CT_BUF_INIT, CT_BUF_INIT};
    uint8_t hashes[3][32];
    for (int i = 0; i < 3; i++) {
        ct_logrec r;
        memset(&r, 0, sizeof r);
        r.seq = (uint64_t)i + 1;
        r.received_ms = 1690000000000 + i;
        strcpy(r.collector, i == 2 ? "insecure" : "rq>{0h/9lYBfl7^vh:<[n8=wJ#dFJ9zDkYqTHr+e");
        r.event = ev.data;
        r.event_len = ev.len;
        assert_int_equal(ct_logrec_encode(&r, prev, &recs[i]), CT_OK);
        /* independent recomputation: body = array(4) of the first elements */
        ct_buf body = CT_BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &body, ct_buf_msgpack_write);
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, r.seq);
        msgpack_pack_uint64(&pk, (uint64_t)r.received_ms);
        msgpack_pack_str(&pk, strlen(r.collector));
        msgpack_pack_str_body(&pk, r.collector, strlen(r.collector));
        msgpack_pack_bin(&pk, ev.len);
        msgpack_pack_bin_body(&pk, ev.data, ev.len);
        ct_buf in = CT_BUF_INIT;
        ct_buf_append(&in, prev, 32);
        ct_buf_append(&in, body.data, body.len);
        uint8_t h[32];
        crypto_generichash(h, 32, in.data, in.len, NULL, 0);
        assert_memory_equal(h, r.hash, 32);
        /* stored = 0x95 || body[1..] || c4 20 hash */
        assert_int_equal(recs[i].len, body.len + 34);
        assert_int_equal(recs[i].data[0], 0x95);
        assert_memory_equal(recs[i].data + 1, body.data + 1, body.len - 1);
        assert_int_equal(recs[i].data[body.len], 0xc4);
        assert_int_equal(recs[i].data[body.len + 1], 0x20);
        assert_memory_equal(recs[i].data + body.len + 2, h, 32);
        memcpy(hashes[i], h, 32);
        memcpy(prev, h, 32);
        ct_buf_free(&body);
        ct_buf_free(&in);
    }
    /* decode + check the chain */
    uint8_t p[32] = {0};
    for (int i = 0; i < 3; i++) {
        ct_logrec r;
        assert_int_equal(ct_logrec_decode(recs[i].data, recs[i].len, &r), CT_OK);
        assert_int_equal(r.seq, (uint64_t)i + 1);
        assert_int_equal(r.received_ms, 1690000000000 + i);
        assert_int_equal(r.event_len, ev.len);
        assert_memory_equal(r.event, ev.data, ev.len);
        assert_true(r.event > recs[i].data && r.event < recs[i].data + recs[i].len);
        assert_memory_equal(r.hash, hashes[i], 32);
        assert_int_equal(ct_logrec_check(&r, p), CT_OK);
        /* wrong prev -> chain broken */
        uint8_t q[32];
        memcpy(q, p, 32);
        q[31] ^= 1;
        assert_int_equal(ct_logrec_check(&r, q), CT_ERR_CHAIN);
        /* canonical re-encode */
        ct_buf again = CT_BUF_INIT;
        assert_int_equal(ct_logrec_encode(&r, p, &again), CT_OK);
        assert_int_equal(again.len, recs[i].len);
        assert_memory_equal(again.data, recs[i].data, again.len);
        ct_buf_free(&again);
        memcpy(p, r.hash, 32);
    }
    /* tamper: flip one byte inside the event -> still decodes, chain broken */
    ct_buf t = CT_BUF_INIT;
    ct_buf_append(&t, recs[1].data, recs[1].len);
    t.data[t.len - 40] ^= 0x01;
    ct_logrec r;
    assert_int_equal(ct_logrec_decode(t.data, t.len, &r), CT_OK);
    assert_int_equal(ct_logrec_check(&r, hashes[0]), CT_ERR_CHAIN);
    ct_buf_free(&t);
    char hex[65];
    uint8_t hh[32];
    for (int i = 0; i < 32; i++)
        hh[i] = (uint8_t)(i * 8 + 1);
    ct_hash_hex(hh, hex);
    assert_string_equal(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
    for (int i = 0; i < 3; i++)
        ct_buf_free(&recs[i]);
    ct_buf_free(&ev);
}

/* ct_logrec_check_stored: the chain checked on the stored bytes as they
 * are; another encoding of the same fields, or another layout, is refused. */
static void test_logrec_check_stored(void **state)
{
    (void)state;
    ct_buf ev = CT_BUF_INIT, rec = CT_BUF_INIT;
    fx_encode_event(true, &ev);
    uint8_t prev[32];
    for (int i = 0; i < 32; i++)
        prev[i] = (uint8_t)(0xa0 + i);
    ct_logrec r;
    memset(&r, 0, sizeof r);
    r.seq = 7;
    r.received_ms = 1690000000000;
    strcpy(r.collector, "insecure");
    r.event = ev.data;
    r.event_len = ev.len;
    assert_int_equal(ct_logrec_encode(&r, prev, &rec), CT_OK);
    assert_int_equal(ct_logrec_check_stored(rec.data, rec.len, prev), CT_OK);
    uint8_t q[32];
    memcpy(q, prev, 32);
    q[0] ^= 1;
    assert_int_equal(ct_logrec_check_stored(rec.data, rec.len, q), CT_ERR_CHAIN);
    /* one byte flipped anywhere (header, body, hash marker, hash): refused */
    for (size_t at = 0; at < rec.len; at++) {
        rec.data[at] ^= 0x01;
        assert_int_equal(ct_logrec_check_stored(rec.data, rec.len, prev), CT_ERR_CHAIN);
        rec.data[at] ^= 0x01;
    }
    /* cut short or too short for the layout: refused */
    assert_int_equal(ct_logrec_check_stored(rec.data, rec.len - 1, prev), CT_ERR_CHAIN);
    assert_int_equal(ct_logrec_check_stored(rec.data, 35, prev), CT_ERR_CHAIN);
    assert_int_equal(ct_logrec_check_stored(rec.data, 0, prev), CT_ERR_CHAIN);
    assert_int_equal(ct_logrec_check_stored(NULL, 10, prev), CT_ERR_ARG);
    /* the same fields with seq as uint 8 (cc 07) instead of a fixint (07) and
     * the hash of the canonical body: the re-encoding check passes when the
     * decoder takes it, the check on the bytes as stored never does */
    ct_buf wide = CT_BUF_INIT;
    uint8_t hdr[3] = {0x95, 0xcc, 0x07};
    assert_int_equal(rec.data[1], 0x07);
    ct_buf_append(&wide, hdr, 3);
    ct_buf_append(&wide, rec.data + 2, rec.len - 2);
    assert_int_equal(ct_logrec_check_stored(wide.data, wide.len, prev), CT_ERR_CHAIN);
    ct_logrec w;
    if (ct_logrec_decode(wide.data, wide.len, &w) == CT_OK)
        assert_int_equal(ct_logrec_check(&w, prev), CT_OK);
    ct_buf_free(&wide);
    ct_buf_free(&rec);
    ct_buf_free(&ev);
}

static void test_logrec_rejections(void **state)
{
    (void)state;
    uint8_t zero[32] = {0};
    ct_buf b = CT_BUF_INIT;
    ct_logrec r;
    memset(&r, 0, sizeof r);
    r.seq = 0;
    r.received_ms = 1;
    strcpy(r.collector, "insecure");
    r.event = (const uint8_t *)"\x80";
    r.event_len = 1;
    assert_int_equal(ct_logrec_encode(&r, zero, &b), CT_ERR_BAD_VALUE);
    r.seq = 1, r.received_ms = -1;
    assert_int_equal(ct_logrec_encode(&r, zero, &b), CT_ERR_BAD_VALUE);
    r.received_ms = 1, r.collector[0] = '\0';
    assert_int_equal(ct_logrec_encode(&r, zero, &b), CT_ERR_BAD_VALUE);
    strcpy(r.collector, "insecure"), r.event_len = 0;
    assert_int_equal(ct_logrec_encode(&r, zero, &b), CT_ERR_BAD_VALUE);
    r.event_len = CT_EVENT_MAX_BYTES + 1;
    assert_int_equal(ct_logrec_encode(&r, zero, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(b.len, 0);

    struct {
        const char *hex_desc;
        uint8_t bytes[64];
        size_t n;
        ct_err want;
    } c[] = {
        {"map", {0x80}, 1, CT_ERR_WRONG_TYPE},
        {"array of 4", {0x94, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80}, 8, CT_ERR_BAD_VALUE},
        {"seq 0",
         {0x95, 0x00, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20},
         10 + 32,
         CT_ERR_BAD_VALUE},
        {"seq str",
         {0x95, 0xa1, '1', 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20},
         11 + 32,
         CT_ERR_WRONG_TYPE},
        {"recv neg",
         {0x95, 0x01, 0xff, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20},
         10 + 32,
         CT_ERR_WRONG_TYPE},
        {"coll bin",
         {0x95, 0x01, 0x01, 0xc4, 0x01, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20},
         11 + 32,
         CT_ERR_WRONG_TYPE},
        {"coll empty",
         {0x95, 0x01, 0x01, 0xa0, 0xc4, 0x01, 0x80, 0xc4, 0x20},
         9 + 32,
         CT_ERR_BAD_VALUE},
        {"coll utf8",
         {0x95, 0x01, 0x01, 0xa1, 0xff, 0xc4, 0x01, 0x80, 0xc4, 0x20},
         10 + 32,
         CT_ERR_BAD_UTF8},
        {"event str",
         {0x95, 0x01, 0x01, 0xa1, 'x', 0xa1, 0x80, 0xc4, 0x20},
         9 + 32,
         CT_ERR_WRONG_TYPE},
        {"event empty",
         {0x95, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x00, 0xc4, 0x20},
         9 + 32,
         CT_ERR_BAD_VALUE},
        {"hash 31",
         {0x95, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x1f},
         10 + 31,
         CT_ERR_BAD_VALUE},
        {"hash nil", {0x95, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc0}, 9, CT_ERR_WRONG_TYPE},
        {"ok", {0x95, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20}, 10 + 32, CT_OK},
        {"trailing",
         {0x95, 0x01, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x80, 0xc4, 0x20},
         10 + 32 + 1,
         CT_ERR_TRAILING_BYTES},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ct_err e = ct_logrec_decode(c[i].bytes, c[i].n, &r);
        if (e != c[i].want) print_error("%s: %s\n", c[i].hex_desc, ct_err_name(e));
        assert_int_equal(e, c[i].want);
    }
    /* collector of 65 chars */
    uint8_t big[200] = {0x95, 0x01, 0x01, 0xd9, 65};
    memset(big + 5, 'k', 65);
    memcpy(big + 70, "\xc4\x01\x80\xc4\x20", 5);
    assert_int_equal(ct_logrec_decode(big, 75 + 32, &r), CT_ERR_STRING_TOO_LONG);
    uint8_t *huge = calloc(1, 4096);
    assert_int_equal(ct_logrec_decode(huge, 4096, &r), CT_ERR_FRAME_TOO_LARGE);
    assert_int_equal(ct_logrec_decode(huge, 0, &r), CT_ERR_FRAME_EMPTY);
    free(huge);
    ct_buf_free(&b);
}

/* ---- ct_prescan ---------------------------------------------------------- */

static ct_err scan(const uint8_t *b, size_t n, unsigned depth, uint32_t items, uint32_t total)
{
    ct_prescan_limits l = {depth, items, total};
    return ct_prescan(b, n, &l);
}

static void test_prescan(void **state)
{
    (void)state;
    uint8_t deep[40];
    for (int d = 1; d <= 33; d++) {
        memset(deep, 0x91, (size_t)d);
        deep[d] = 0x01;
        assert_int_equal(scan(deep, (size_t)d + 1, 32, 100, 0), d <= 32 ? CT_OK : CT_ERR_TOO_DEEP);
        assert_int_equal(scan(deep, (size_t)d + 1, 8, 100, 0), d <= 8 ? CT_OK : CT_ERR_TOO_DEEP);
    }
    /* empty containers count as a level */
    memset(deep, 0x91, 32);
    deep[32] = 0x90;
    assert_int_equal(scan(deep, 33, 32, 100, 0), CT_ERR_TOO_DEEP);
    /* a limit above 32 is clamped */
    memset(deep, 0x91, 33);
    deep[33] = 0x01;
    assert_int_equal(scan(deep, 34, 1000, 100, 0), CT_ERR_TOO_DEEP);

    const struct {
        uint8_t b[12];
        size_t n;
        ct_err want;
    } c[] = {
        {{0}, 0, CT_ERR_FRAME_EMPTY},
        {{0xc1}, 1, CT_ERR_MALFORMED},
        {{0xdd, 0x00, 0xff, 0xff, 0xff}, 5, CT_ERR_DECLARED_SIZE},
        {{0xdb, 0xff, 0xff, 0xff, 0xff}, 5, CT_ERR_DECLARED_SIZE},
        {{0xc6, 0xff, 0xff, 0xff, 0xff}, 5, CT_ERR_DECLARED_SIZE},
        {{0xdf, 0xff, 0xff, 0xff, 0xff}, 5, CT_ERR_DECLARED_SIZE},
        {{0xde, 0xff, 0xff}, 3, CT_ERR_DECLARED_SIZE},
        {{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}, 6, CT_ERR_DECLARED_SIZE},
        {{0x81, 0xa1, 'v', 0xdd, 0x00, 0xff, 0xff, 0xff}, 8, CT_ERR_DECLARED_SIZE},
        {{0x92, 0x01}, 2, CT_ERR_DECLARED_SIZE}, /* 2 elements, 1 byte left */
        {{0x92, 0x01, 0x02}, 3, CT_OK},
        {{0x92, 0x91, 0x01}, 3, CT_ERR_MALFORMED}, /* counts fit, bytes run out */
        {{0x81, 0x01}, 2, CT_ERR_DECLARED_SIZE},   /* a map entry needs 2 objects */
        {{0xa3, 'a', 'b'}, 3, CT_ERR_DECLARED_SIZE},
        {{0xcd, 0x01}, 2, CT_ERR_MALFORMED}, /* truncated uint16 */
        {{0xcb, 0, 0, 0, 0, 0, 0, 0}, 8, CT_ERR_MALFORMED},
        {{0xd8, 0x01, 0x00}, 3, CT_ERR_MALFORMED}, /* fixext16 truncated */
        {{0xd9}, 1, CT_ERR_MALFORMED},
        {{0xc7, 0x01}, 2, CT_ERR_MALFORMED},
        {{0xc7, 0x01, 0x05, 0xaa}, 4, CT_OK}, /* ext8 */
        {{0xd4, 0x05, 0xaa}, 3, CT_OK},       /* fixext1 */
        {{0x01, 0x02}, 2, CT_ERR_TRAILING_BYTES},
        {{0x90, 0x90}, 2, CT_ERR_TRAILING_BYTES},
        {{0xc0}, 1, CT_OK},
        {{0x80}, 1, CT_OK},
        {{0xcf, 1, 2, 3, 4, 5, 6, 7, 8}, 9, CT_OK},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ct_err e = scan(c[i].b, c[i].n, 32, 1000, 0);
        if (e != c[i].want) print_error("case %zu: %s\n", i, ct_err_name(e));
        assert_int_equal(e, c[i].want);
    }
    assert_int_equal(ct_prescan(NULL, 5, NULL), CT_ERR_FRAME_EMPTY);
    uint8_t ok[] = {0x93, 0x01, 0x02, 0x03};
    assert_int_equal(ct_prescan(ok, sizeof ok, NULL), CT_OK); /* NULL limits: defaults */
    /* max_items per container, max_total per frame */
    assert_int_equal(scan(ok, sizeof ok, 32, 3, 0), CT_OK);
    assert_int_equal(scan(ok, sizeof ok, 32, 2, 0), CT_ERR_TOO_MANY);
    assert_int_equal(scan(ok, sizeof ok, 32, 3, 4), CT_OK);
    assert_int_equal(scan(ok, sizeof ok, 32, 3, 3), CT_ERR_TOO_MANY);
    uint8_t m[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02};
    assert_int_equal(scan(m, sizeof m, 32, 2, 0), CT_OK); /* 2 entries */
    assert_int_equal(scan(m, sizeof m, 32, 1, 0), CT_ERR_TOO_MANY);
    assert_int_equal(scan(m, sizeof m, 32, 2, 5), CT_OK); /* map + 4 objects */
    assert_int_equal(scan(m, sizeof m, 32, 2, 4), CT_ERR_TOO_MANY);
    /* 64 KB array of fixints: linear walk */
    size_t n = 65536;
    uint8_t *big = malloc(n + 5);
    big[0] = 0xdd, big[1] = 0, big[2] = 1, big[3] = 0, big[4] = 0;
    memset(big + 5, 0x07, n);
    assert_int_equal(scan(big, n + 5, 32, 65536, 0), CT_OK);
    assert_int_equal(scan(big, n + 4, 32, 65536, 0), CT_ERR_DECLARED_SIZE);
    assert_int_equal(scan(big, n + 5, 32, 65535, 0), CT_ERR_TOO_MANY);
    free(big);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logrec_chain),
        cmocka_unit_test(test_logrec_check_stored),
        cmocka_unit_test(test_logrec_rejections),
        cmocka_unit_test(test_prescan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
