/* test_wire_status_apply.c — the followers' applied head and apply lag in
 * "sta" ("ap", asked for with "stq" "ap": 1), PROTOCOL.md §3.6: exact bytes
 * of the request, round trip, "ap" only when set, and every rejection with
 * its exact code.
 */
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ct_wire.h"

static int wr(void *data, const char *buf, size_t len)
{
    return ct_buf_append((ct_buf *)data, buf, len) == CT_OK ? 0 : -1;
}

static void str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A "sta" with one follower ("fl") and no office, then "ap" as ap() packs
 * it (no "ap" when ap is NULL). */
static void pack_sta(ct_buf *b, void (*ap)(msgpack_packer *))
{
    ct_buf_reset(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, wr);
    msgpack_pack_map(&pk, ap ? 13 : 12);
    str(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    str(&pk, "k");
    str(&pk, "sta");
    const char *const keys[] = {"t", "ro", "ep", "c", "f", "sk", "al", "sm"};
    const uint64_t vals[] = {1690000001000, 0, 3, 40, 30, 1, 0, 0};
    for (int i = 0; i < 8; i++) {
        str(&pk, keys[i]);
        if (i == 1)
            str(&pk, "primary");
        else
            msgpack_pack_uint64(&pk, vals[i]);
    }
    str(&pk, "fl");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 5);
    str(&pk, "fol-1");
    msgpack_pack_uint64(&pk, 30);
    msgpack_pack_uint64(&pk, 10);
    msgpack_pack_uint64(&pk, 250);
    msgpack_pack_uint64(&pk, 4);
    str(&pk, "of");
    msgpack_pack_array(&pk, 0);
    if (ap) {
        str(&pk, "ap");
        ap(&pk);
    }
}

static void item(msgpack_packer *pk, uint64_t a, uint64_t r, uint64_t ms)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, a);
    msgpack_pack_uint64(pk, r);
    msgpack_pack_uint64(pk, ms);
}

static void ap_ok(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    item(pk, 22, 8, 700);
}
static void ap_not_array(msgpack_packer *pk)
{
    str(pk, "x");
}
static void ap_item_not_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, 22);
}
static void ap_item_short(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 22);
    msgpack_pack_uint64(pk, 8);
}
static void ap_more_than_fl(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    item(pk, 22, 8, 700);
    item(pk, 22, 8, 700);
}
static void ap_fewer_than_fl(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void ap_too_many(msgpack_packer *pk)
{
    msgpack_pack_array(pk, CT_STATUS_MAX_FOLLOWERS + 1);
    for (int i = 0; i <= CT_STATUS_MAX_FOLLOWERS; i++)
        item(pk, 22, 8, 700);
}
static void ap_ms_too_big(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    item(pk, 22, 8, (uint64_t)INT64_MAX + 1);
}
static void ap_negative(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_int64(pk, -1);
    msgpack_pack_uint64(pk, 8);
    msgpack_pack_uint64(pk, 700);
}
static void ap_str_item(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, 22);
    str(pk, "8");
    msgpack_pack_uint64(pk, 700);
}

static void test_request(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_statusreq_encode(true, true, &b), CT_OK);
    /* {"v":1,"k":"stq","gr":1,"ap":1} */
    const uint8_t stq[] = {0x84, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa3, 0x73, 0x74,
                           0x71, 0xa2, 0x67, 0x72, 0x01, 0xa2, 0x61, 0x70, 0x01};
    assert_int_equal(b.len, sizeof stq);
    assert_memory_equal(b.data, stq, sizeof stq);
    bool g = false, a = false;
    assert_int_equal(ct_wire_statusreq_decode(b.data, b.len, &g, &a), CT_OK);
    assert_true(g);
    assert_true(a);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_statusreq_encode(false, true, &b), CT_OK);
    const uint8_t stq_ap[] = {0x83, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa3,
                              0x73, 0x74, 0x71, 0xa2, 0x61, 0x70, 0x01};
    assert_int_equal(b.len, sizeof stq_ap);
    assert_memory_equal(b.data, stq_ap, sizeof stq_ap);
    assert_int_equal(ct_wire_statusreq_decode(b.data, b.len, &g, &a), CT_OK);
    assert_false(g);
    assert_true(a);
    uint8_t x[sizeof stq];
    memcpy(x, stq, sizeof stq);
    x[17] = 0x00; /* "ap": 0 is not the smallest form (absent) */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, &a), CT_ERR_BAD_VALUE);
    assert_false(a);
    x[17] = 0x02;
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, &a), CT_ERR_BAD_VALUE);
    x[17] = 0xc3; /* true */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, &a), CT_ERR_WRONG_TYPE);
    x[17] = 0x01;
    x[16] = 0x71; /* "aq" */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, &a), CT_ERR_UNKNOWN_KEY);
    ct_buf_free(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    ct_wire_follower fl[2] = {{"fol-1", 30, 10, 250, 4, 22, 8, 700},
                              {"fol-2", 40, 0, 0, 1, 40, 0, 0}};
    ct_wire_status s = {.time_ms = 1690000001000,
                        .epoch = 3,
                        .committed = 40,
                        .safe = 30,
                        .sync_k = 1,
                        .followers = fl,
                        .n_followers = 2,
                        .has_apply = true};
    ct_buf b = CT_BUF_INIT, b2 = CT_BUF_INIT;
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    ct_wire_status d;
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_true(d.has_apply);
    assert_int_equal(d.n_followers, 2);
    assert_memory_equal(d.followers, fl, sizeof fl);
    assert_int_equal(ct_wire_status_encode(&d, &b2), CT_OK); /* canonical */
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    ct_wire_status_free(&d);
    /* without "ap": 14 bytes shorter (a2 61 70, 92, 93 16 08 cd 02 bc, 93 28 00 00),
     * fields left 0 */
    s.has_apply = false;
    ct_buf_reset(&b2);
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_OK);
    assert_int_equal(b2.len, b.len - 14);
    assert_int_equal(ct_wire_status_decode(b2.data, b2.len, &d), CT_OK);
    assert_false(d.has_apply);
    assert_int_equal(d.followers[0].applied, 0);
    assert_int_equal(d.followers[0].apply_lag_records, 0);
    assert_int_equal(d.followers[0].apply_lag_ms, 0);
    ct_wire_status_free(&d);
    /* "ap" with no follower: an empty array */
    s.has_apply = true;
    s.n_followers = 0;
    ct_buf_reset(&b2);
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_OK);
    assert_int_equal(ct_wire_status_decode(b2.data, b2.len, &d), CT_OK);
    assert_true(d.has_apply);
    assert_int_equal(d.n_followers, 0);
    ct_wire_status_free(&d);
    /* encoder: a negative apply lag, nothing appended */
    s.n_followers = 2;
    fl[1].apply_lag_ms = -1;
    ct_buf_reset(&b2);
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    assert_int_equal(b2.len, 0);
    s.has_apply = false; /* not sent: not checked */
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_OK);
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

static ct_err decode_with(ct_buf *b, void (*ap)(msgpack_packer *), ct_wire_status *d)
{
    pack_sta(b, ap);
    ct_err e = ct_wire_status_decode(b->data, b->len, d);
    if (e) {
        assert_null(d->followers); /* freed on error */
        assert_int_equal(d->n_followers, 0);
    }
    return e;
}

static void test_rejections(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    ct_wire_status d;
    assert_int_equal(decode_with(&b, ap_ok, &d), CT_OK);
    assert_true(d.has_apply);
    assert_int_equal(d.followers[0].acked, 30);
    assert_int_equal(d.followers[0].applied, 22);
    assert_int_equal(d.followers[0].apply_lag_records, 8);
    assert_int_equal(d.followers[0].apply_lag_ms, 700);
    ct_wire_status_free(&d);
    assert_int_equal(decode_with(&b, NULL, &d), CT_OK);
    assert_false(d.has_apply);
    ct_wire_status_free(&d);
    assert_int_equal(decode_with(&b, ap_not_array, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(&b, ap_item_not_array, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(&b, ap_str_item, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(&b, ap_negative, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(&b, ap_item_short, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(&b, ap_more_than_fl, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(&b, ap_fewer_than_fl, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(&b, ap_ms_too_big, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(&b, ap_too_many, &d), CT_ERR_TOO_MANY);
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
