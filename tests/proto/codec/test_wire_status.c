/* test_wire_status.c — office telemetry ("tel") and the aggregator's status
 * ("stq", "sta"), PROTOCOL.md §3.6: round trip, canonical bytes equal to the
 * documented example, and every rejection with its exact code.
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

static const uint8_t ORIGIN[8] = {0x4c, 0x44, 0x36, 0x37, 0x32, 0x00, 0x01, 0x02};

static ct_wire_telemetry example(void)
{
    ct_wire_telemetry t;
    memset(&t, 0, sizeof t);
    t.token = 9;
    t.district = 672;
    memcpy(t.origin, ORIGIN, 8);
    t.clock_ms = 1690000000000;
    t.waiting = 12;
    t.unsafe = 2;
    t.rejected = 1;
    t.oldest_ms = 1689990000000;
    snprintf(t.version, sizeof t.version, "0.9.0");
    return t;
}

static void test_tel_round_trip(void **state)
{
    (void)state;
    ct_wire_telemetry t = example(), d;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_telemetry_encode(&t, &b), CT_OK);
    assert_int_equal(b.len, 72); /* the PROTOCOL.md §3.6 example */
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, CT_MSG_TELEMETRY);
    assert_int_equal(ct_wire_telemetry_decode(b.data, b.len, &d), CT_OK);
    assert_memory_equal(&t, &d, sizeof t);
    /* a submit decoder does not take it */
    uint64_t tok;
    ct_bytes ev[4];
    size_t n;
    assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, ev, 4, &n), CT_ERR_BAD_KIND);
    /* without "ot" */
    t.oldest_ms = 0;
    t.waiting = t.unsafe = 0;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_telemetry_encode(&t, &b), CT_OK);
    assert_int_equal(ct_wire_telemetry_decode(b.data, b.len, &d), CT_OK);
    assert_memory_equal(&t, &d, sizeof t);
    /* encoder refusals */
    ct_wire_telemetry x = example();
    x.unsafe = 13;
    assert_int_equal(ct_wire_telemetry_encode(&x, &b), CT_ERR_BAD_VALUE);
    x = example();
    x.district = 0;
    assert_int_equal(ct_wire_telemetry_encode(&x, &b), CT_ERR_BAD_VALUE);
    x = example();
    x.version[0] = 0;
    assert_int_equal(ct_wire_telemetry_encode(&x, &b), CT_ERR_BAD_VALUE);
    ct_buf_free(&b);
}

/* Packs a "tel" map with the given extra/changed entries (python-like). */
typedef struct {
    const char *k;
    int type; /* 0 uint, 1 str, 2 bin */
    uint64_t u;
    const char *s;
    size_t len;
} kv;

static void pack(ct_buf *b, const kv *e, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, ct_buf_msgpack_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&pk, strlen(e[i].k));
        msgpack_pack_str_body(&pk, e[i].k, strlen(e[i].k));
        if (e[i].type == 0) msgpack_pack_uint64(&pk, e[i].u);
        if (e[i].type == 1) {
            msgpack_pack_str(&pk, e[i].len);
            msgpack_pack_str_body(&pk, e[i].s, e[i].len);
        }
        if (e[i].type == 2) {
            msgpack_pack_bin(&pk, e[i].len);
            msgpack_pack_bin_body(&pk, e[i].s, e[i].len);
        }
    }
}

static ct_err decode_with(size_t which, kv repl, bool drop)
{
    kv e[11] = {{"v", 0, 1, NULL, 0},
                {"k", 1, 0, "tel", 3},
                {"n", 0, 9, NULL, 0},
                {"d", 0, 672, NULL, 0},
                {"o", 2, 0, "LD672\0\1\2", 8},
                {"t", 0, 1690000000000, NULL, 0},
                {"q", 0, 12, NULL, 0},
                {"u", 0, 2, NULL, 0},
                {"rj", 0, 1, NULL, 0},
                {"sv", 1, 0, "0.9.0", 5},
                {"ot", 0, 1689990000000, NULL, 0}};
    kv f[12];
    size_t n = 0;
    for (size_t i = 0; i < 11; i++) {
        if (i == which && drop) continue;
        f[n++] = i == which ? repl : e[i];
    }
    if (which == 11) f[n++] = repl;
    ct_buf b = CT_BUF_INIT;
    pack(&b, f, n);
    ct_wire_telemetry t;
    ct_err r = ct_wire_telemetry_decode(b.data, b.len, &t);
    ct_buf_free(&b);
    return r;
}

static void test_tel_rejections(void **state)
{
    (void)state;
    kv none = {0};
    assert_int_equal(decode_with(99, none, false), CT_OK);
    assert_int_equal(decode_with(3, (kv){"d", 0, 0, NULL, 0}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(3, (kv){"d", 0, 65536, NULL, 0}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(3, (kv){"d", 1, 0, "672", 3}, false), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(4, (kv){"o", 2, 0, "1234567", 7}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(4, (kv){"o", 1, 0, "12345678", 8}, false), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_with(7, (kv){"u", 0, 13, NULL, 0}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(9, (kv){"sv", 1, 0, "", 0}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(
        decode_with(9, (kv){"sv", 1, 0, "0123456789012345678901234567890123", 33}, false),
        CT_ERR_STRING_TOO_LONG);
    assert_int_equal(decode_with(9, (kv){"sv", 1, 0, "\xc3\x28", 2}, false), CT_ERR_BAD_UTF8);
    assert_int_equal(decode_with(10, (kv){"ot", 0, 0, NULL, 0}, false), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_with(6, (kv){"q", 0, 0, NULL, 0}, false), CT_ERR_BAD_VALUE); /* u > q */
    assert_int_equal(decode_with(11, (kv){"x", 0, 1, NULL, 0}, false), CT_ERR_UNKNOWN_KEY);
    assert_int_equal(decode_with(11, (kv){"d", 0, 672, NULL, 0}, false), CT_ERR_DUP_KEY);
    for (size_t i = 2; i < 10; i++)
        assert_int_equal(decode_with(i, none, true), CT_ERR_MISSING_FIELD);
    assert_int_equal(decode_with(10, none, true), CT_OK); /* "ot" is optional */
    /* oversized: a long unknown key pushes it over 256 bytes */
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(decode_with(11, (kv){"x", 1, 0, big, sizeof big}, false),
                     CT_ERR_FRAME_TOO_LARGE);
    assert_int_equal(ct_wire_telemetry_decode((const uint8_t *)"", 0, &(ct_wire_telemetry){0}),
                     CT_ERR_FRAME_EMPTY);
    const uint8_t trunc[] = {0x8b, 0xa1, 0x76};
    assert_int_equal(ct_wire_telemetry_decode(trunc, sizeof trunc, &(ct_wire_telemetry){0}),
                     CT_ERR_DECLARED_SIZE);
    const uint8_t cut[] = {0x81, 0xa1, 0x76, 0xc1};
    assert_int_equal(ct_wire_telemetry_decode(cut, sizeof cut, &(ct_wire_telemetry){0}),
                     CT_ERR_MALFORMED);
}

static void test_status_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_statusreq_encode(false, false, &b), CT_OK);
    const uint8_t stq[] = {0x82, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa3, 0x73, 0x74, 0x71};
    assert_int_equal(b.len, sizeof stq);
    assert_memory_equal(b.data, stq, sizeof stq);
    assert_int_equal(ct_wire_statusreq_decode(b.data, b.len, NULL, NULL), CT_OK);
    ct_wire_follower fl[2] = {
        {"rq>{0h/9lYBfl7^vh:<[n8=wJ#dFJ9zDkYqTHr+e", 90, 10, 1500, 20, 0, 0, 0},
        {"follower-0011223344556677", 100, 0, 0, 5, 0, 0, 0}};
    ct_wire_office of[2];
    memset(of, 0, sizeof of);
    of[0].tel = example();
    of[0].tel.token = 0;
    of[0].seen_ms = 1690000000500;
    of[1].tel = example();
    of[1].tel.token = 0;
    of[1].tel.district = 673;
    of[1].tel.waiting = of[1].tel.unsafe = 0;
    of[1].tel.oldest_ms = 0;
    ct_wire_status s = {.time_ms = 1690000001000,
                        .epoch = 2,
                        .committed = 100,
                        .safe = 90,
                        .sync_k = 1,
                        .alert = true,
                        .stalled_ms = 6000,
                        .followers = fl,
                        .n_followers = 2,
                        .offices = of,
                        .n_offices = 2};
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    ct_wire_status d;
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_int_equal(d.time_ms, s.time_ms);
    assert_false(d.follower);
    assert_int_equal(d.epoch, 2);
    assert_int_equal(d.committed, 100);
    assert_int_equal(d.safe, 90);
    assert_int_equal(d.sync_k, 1);
    assert_true(d.alert);
    assert_int_equal(d.stalled_ms, 6000);
    assert_int_equal(d.n_followers, 2);
    assert_memory_equal(d.followers, fl, sizeof fl);
    assert_int_equal(d.n_offices, 2);
    assert_memory_equal(d.offices, of, sizeof of);
    /* canonical */
    ct_buf b2 = CT_BUF_INIT;
    d.follower = false;
    assert_int_equal(ct_wire_status_encode(&d, &b2), CT_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    ct_wire_status_free(&d);
    /* refusals */
    s.safe = 101;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    s.safe = 90;
    s.epoch = 0;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    /* a "sta" is not a state message for an old decoder: bad_message_kind */
    ct_wire_state st;
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &st), CT_ERR_BAD_KIND);
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tel_round_trip),
        cmocka_unit_test(test_tel_rejections),
        cmocka_unit_test(test_status_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
