/* test_wire_push.c — the pushed safe watermark (docs/PROTOCOL.md §3.2
 * "Pushed watermark"): the "sub" key "sp" and the message "sf". Exact bytes
 * of the documented example, round trips, every strict prefix, and each
 * wrong type, value, missing, unknown or repeated key with its exact code.
 * Frames with wrong values are packed by hand (codec_fixtures.h fx_map).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codec_fixtures.h"

/* the example of PROTOCOL.md §3.2: "sf" s 1001, f 998, ep 1 */
static const uint8_t g_sf[] = {0x85, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa2, 0x73,
                               0x66, 0xa1, 0x73, 0xcd, 0x03, 0xe9, 0xa1, 0x66,
                               0xcd, 0x03, 0xe6, 0xa2, 0x65, 0x70, 0x01};

static fx_map sf_map(void)
{
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, "sf", 2});
    fx_map_add(&m, (fx_field){"s", FV_UINT, 1001, NULL, 0});
    fx_map_add(&m, (fx_field){"f", FV_UINT, 998, NULL, 0});
    fx_map_add(&m, (fx_field){"ep", FV_UINT, 1, NULL, 0});
    return m;
}

static ct_err sf_decode_map(const fx_map *m)
{
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(m, &b);
    uint64_t s = 0, f = 0, ep = 0;
    ct_err e = ct_wire_safe_push_decode(b.data, b.len, &s, &f, &ep);
    ct_buf_free(&b);
    return e;
}

static void sf_bytes_and_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_safe_push_encode(1001, 998, 1, &b), CT_OK);
    assert_int_equal(b.len, sizeof g_sf);
    assert_memory_equal(b.data, g_sf, sizeof g_sf);
    ct_msg_kind k = 0;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, CT_MSG_SAFE_PUSH);
    uint64_t s = 0, f = 0, ep = 0;
    assert_int_equal(ct_wire_safe_push_decode(b.data, b.len, &s, &f, &ep), CT_OK);
    assert_int_equal(s, 1001);
    assert_int_equal(f, 998);
    assert_int_equal(ep, 1);
    /* f = s is valid, and large values */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_safe_push_encode(UINT64_MAX, UINT64_MAX, UINT64_MAX, &b), CT_OK);
    assert_int_equal(ct_wire_safe_push_decode(b.data, b.len, &s, &f, &ep), CT_OK);
    assert_true(s == UINT64_MAX && f == UINT64_MAX && ep == UINT64_MAX);
    /* the encoder refuses what the decoder would */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_safe_push_encode(5, 6, 1, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_wire_safe_push_encode(5, 5, 0, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(b.len, 0);
    assert_int_equal(ct_wire_safe_push_encode(5, 5, 1, NULL), CT_ERR_ARG);
    /* the hand-packed map gives the same bytes */
    fx_map m = sf_map();
    fx_map_pack(&m, &b);
    assert_memory_equal(b.data, g_sf, sizeof g_sf);
    ct_buf_free(&b);
}

static void sf_wrong(void **state)
{
    (void)state;
    fx_map m;
    assert_int_equal(sf_decode_map((m = sf_map(), &m)), CT_OK);
    /* values */
    m = sf_map();
    fx_map_get(&m, "f")->u = 1002; /* f > s */
    assert_int_equal(sf_decode_map(&m), CT_ERR_BAD_VALUE);
    m = sf_map();
    fx_map_get(&m, "ep")->u = 0;
    assert_int_equal(sf_decode_map(&m), CT_ERR_BAD_VALUE);
    static const char *const keys[] = {"s", "f", "ep"};
    for (size_t i = 0; i < 3; i++) {
        m = sf_map();
        fx_field *x = fx_map_get(&m, keys[i]);
        x->t = FV_STR;
        x->p = "1";
        x->n = 1;
        assert_int_equal(sf_decode_map(&m), CT_ERR_WRONG_TYPE);
        m = sf_map();
        fx_map_get(&m, keys[i])->t = FV_NEG;
        assert_int_equal(sf_decode_map(&m), CT_ERR_WRONG_TYPE);
        m = sf_map();
        fx_map_del(&m, keys[i]);
        assert_int_equal(sf_decode_map(&m), CT_ERR_MISSING_FIELD);
        m = sf_map();
        fx_map_add(&m, (fx_field){keys[i], FV_UINT, 1, NULL, 0});
        assert_int_equal(sf_decode_map(&m), CT_ERR_DUP_KEY);
    }
    m = sf_map();
    fx_map_add(&m, (fx_field){"n", FV_UINT, 1, NULL, 0});
    assert_int_equal(sf_decode_map(&m), CT_ERR_UNKNOWN_KEY);
    m = sf_map();
    fx_map_get(&m, "k")->p = "sg";
    assert_int_equal(sf_decode_map(&m), CT_ERR_BAD_KIND);
    m = sf_map();
    fx_map_get(&m, "v")->u = 2;
    assert_int_equal(sf_decode_map(&m), CT_ERR_BAD_VERSION);
    /* another kind read as "sf", and "sf" read as an ack */
    ct_buf b = CT_BUF_INIT;
    uint64_t s, f, ep, tok, seq;
    bool has;
    size_t n;
    ct_ack_item it[2];
    fx_encode_ack(&b);
    assert_int_equal(ct_wire_safe_push_decode(b.data, b.len, &s, &f, &ep), CT_ERR_BAD_KIND);
    assert_int_equal(ct_wire_ack_decode_ep(g_sf, sizeof g_sf, &tok, &seq, &has, &f, &ep, it, 2, &n),
                     CT_ERR_BAD_KIND);
    assert_int_equal(ct_wire_safe_push_decode(g_sf, sizeof g_sf, NULL, &f, &ep), CT_ERR_ARG);
    /* every strict prefix: never OK */
    for (size_t k = 0; k < sizeof g_sf; k++) {
        ct_err e = ct_wire_safe_push_decode(g_sf, k, &s, &f, &ep);
        assert_int_not_equal(e, CT_OK);
        if (k == 0) assert_int_equal(e, CT_ERR_FRAME_EMPTY);
    }
    ct_buf_free(&b);
}

static void sub_sp(void **state)
{
    (void)state;
    uint8_t ev[] = {0x81, 0xa1, 0x76, 0x01};
    ct_bytes one = {ev, sizeof ev}, got[2];
    ct_buf b = CT_BUF_INIT;
    uint64_t tok = 0, ep = 0;
    bool want = false, push = false;
    size_t n = 0;
    assert_int_equal(ct_wire_submit_encode_sp(5, &one, 1, true, 4, true, &b), CT_OK);
    assert_int_equal(b.data[0], 0x87);
    /* ... a2 73 70 01: "sp" 1 last */
    assert_memory_equal(b.data + b.len - 4, "\xa2sp\x01", 4);
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_OK);
    assert_true(want && push);
    assert_int_equal(tok, 5);
    assert_int_equal(ep, 4);
    assert_int_equal(n, 1);
    /* the _ep and plain decoders take and drop it */
    assert_int_equal(ct_wire_submit_decode_ep(b.data, b.len, &tok, &want, &ep, got, 2, &n), CT_OK);
    assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, got, 2, &n), CT_OK);
    /* "sp" 0 or 2: bad_value; a str: wrong_type */
    b.data[b.len - 1] = 0x02;
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0x00;
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0xa0;
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_ERR_WRONG_TYPE);
    /* without "sp": push false; without "ep" too */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_submit_encode_sp(6, &one, 1, true, 0, false, &b), CT_OK);
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_OK);
    assert_true(want && !push);
    assert_int_equal(ep, 0);
    /* "sp" without "w": bad_value, both ways */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_submit_encode_sp(6, &one, 1, false, 0, true, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(b.len, 0);
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, "sub", 3});
    fx_map_add(&m, (fx_field){"n", FV_UINT, 9, NULL, 0});
    fx_map_pack(&m, &b);
    /* "e" packed by hand: an array of one bin */
    {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, ct_buf_msgpack_write);
        b.data[0] = 0x85; /* v k n e sp */
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "e", 1);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_bin(&pk, sizeof ev);
        msgpack_pack_bin_body(&pk, ev, sizeof ev);
        msgpack_pack_str(&pk, 2);
        msgpack_pack_str_body(&pk, "sp", 2);
        msgpack_pack_uint64(&pk, 1);
    }
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_ERR_BAD_VALUE);
    /* a repeated "sp" */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_submit_encode_sp(5, &one, 1, true, 4, true, &b), CT_OK);
    b.data[0] = 0x88;
    ct_buf_append(&b, (const uint8_t *)"\xa2sp\x01", 4);
    assert_int_equal(ct_wire_submit_decode_sp(b.data, b.len, &tok, &want, &ep, &push, got, 2, &n),
                     CT_ERR_DUP_KEY);
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sf_bytes_and_round_trip),
        cmocka_unit_test(sf_wrong),
        cmocka_unit_test(sub_sp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
