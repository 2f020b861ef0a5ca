/* test_wire_status_group.c — the optional "gr" (aggregator group) of the
 * aggregator's status "sta", PROTOCOL.md §3.6: round trip and canonical
 * bytes, a "sta" without it (an older aggregator, manual mode), every
 * rejection with its exact code (wrong types, lengths, ranges, too many
 * members), and every truncation of a frame carrying it.
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

static ct_wire_status base(void)
{
    ct_wire_status s = {.time_ms = 1690000001000, .epoch = 17, .committed = 100, .safe = 100};
    return s;
}

static ct_wire_group example_group(void)
{
    ct_wire_group g;
    memset(&g, 0, sizeof g);
    g.present = true;
    snprintf(g.name, sizeof g.name, "hq");
    snprintf(g.leader, sizeof g.leader, "tcp://10.0.0.1:7003");
    g.role = CT_GROUP_LEADER;
    g.epoch = 17;
    g.since_ms = 1690000000000;
    g.lease_left_ms = 2500;
    g.etcd_ok = true;
    g.accepting = true;
    g.n_members = 2;
    snprintf(g.members[0].endpoint, sizeof g.members[0].endpoint, "tcp://10.0.0.1:7003");
    g.members[0].epoch = 17;
    g.members[0].head = 100;
    snprintf(g.members[1].endpoint, sizeof g.members[1].endpoint, "tcp://10.0.0.2:7003");
    g.members[1].epoch = 17;
    g.members[1].head = 97;
    g.members[1].lag_records = 3;
    g.members[1].lag_ms = 40;
    return g;
}

static void test_group_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT, b2 = CT_BUF_INIT;
    ct_wire_status s = base();
    /* without "gr": 12 keys, decoded as no group */
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    assert_int_equal(b.data[0], 0x8c);
    ct_wire_status d;
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_false(d.group.present);
    size_t plain = b.len;
    ct_buf_reset(&b);
    s.group = example_group();
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    assert_int_equal(b.data[0], 0x8d);
    /* "gr" follows "of" (an empty array, 0x90) at the end of the map */
    const uint8_t gr_head[] = {0xa2, 'g', 'r', 0x9a, 0xa2, 'h', 'q', 0xa4, 'e', 't', 'c', 'd'};
    assert_memory_equal(b.data + plain, gr_head, sizeof gr_head);
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_true(d.group.present);
    assert_string_equal(d.group.name, "hq");
    assert_string_equal(d.group.leader, "tcp://10.0.0.1:7003");
    assert_int_equal(d.group.role, CT_GROUP_LEADER);
    assert_int_equal(d.group.epoch, 17);
    assert_int_equal(d.group.since_ms, 1690000000000);
    assert_int_equal(d.group.lease_left_ms, 2500);
    assert_true(d.group.etcd_ok);
    assert_true(d.group.accepting);
    assert_int_equal(d.group.n_members, 2);
    assert_string_equal(d.group.members[1].endpoint, "tcp://10.0.0.2:7003");
    assert_int_equal(d.group.members[1].head, 97);
    assert_int_equal(d.group.members[1].lag_records, 3);
    assert_int_equal(d.group.members[1].lag_ms, 40);
    assert_memory_equal(&d.group, &s.group, sizeof s.group);
    assert_int_equal(ct_wire_status_encode(&d, &b2), CT_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    ct_wire_status_free(&d);
    /* no leader yet: empty endpoint, epoch 0, role unknown, no members */
    ct_wire_group g = example_group();
    memset(g.leader, 0, sizeof g.leader);
    g.epoch = 0;
    g.since_ms = 0;
    g.role = CT_GROUP_UNKNOWN;
    g.accepting = g.etcd_ok = false;
    g.n_members = 0;
    memset(g.members, 0, sizeof g.members);
    s.group = g;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    assert_int_equal(ct_wire_status_decode(b.data, b.len, &d), CT_OK);
    assert_memory_equal(&d.group, &g, sizeof g);
    /* encoder refusals */
    s.group = example_group();
    s.group.name[0] = 0;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    s.group = example_group();
    s.group.role = (ct_wire_group_role)3;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    s.group = example_group();
    s.group.members[0].endpoint[0] = 0;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    s.group = example_group();
    s.group.members[1].lag_ms = -1;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_BAD_VALUE);
    s.group = example_group();
    s.group.n_members = CT_GROUP_MAX_MEMBERS + 1;
    assert_int_equal(ct_wire_status_encode(&s, &b2), CT_ERR_TOO_MANY);
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

/* ---- hand-made "gr" values ---- */

static void pstr(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}
#define PS(pk, lit) pstr(pk, lit, sizeof lit - 1)

/* A member; bad selects one broken field. */
static void pack_member(msgpack_packer *pk, int bad)
{
    if (bad == 1) {
        msgpack_pack_uint64(pk, 1); /* not an array */
        return;
    }
    msgpack_pack_array(pk, bad == 2 ? 4 : 5);
    if (bad == 3)
        PS(pk, "");
    else if (bad == 4)
        msgpack_pack_uint64(pk, 7);
    else
        PS(pk, "tcp://10.0.0.2:7003");
    msgpack_pack_uint64(pk, 17);
    if (bad == 5)
        PS(pk, "97");
    else
        msgpack_pack_uint64(pk, 97);
    msgpack_pack_uint64(pk, 3);
    if (bad == 2) return;
    if (bad == 6)
        msgpack_pack_int64(pk, -1);
    else
        msgpack_pack_uint64(pk, 40);
}

/* The "gr" value with field i replaced by what variant says. */
static void pack_gr(msgpack_packer *pk, int field, int variant)
{
    if (field == -1) {
        msgpack_pack_uint64(pk, 1);
        return;
    }
    msgpack_pack_array(pk, field == -2 ? 9 : 10);
    char big[200];
    memset(big, 'a', sizeof big);
    if (field == 0 && variant == 0) PS(pk, "");
    if (field == 0 && variant == 1) msgpack_pack_uint64(pk, 1);
    if (field == 0 && variant == 2) pstr(pk, big, CT_GROUP_NAME_MAX + 1);
    if (field == 0 && variant == 3) PS(pk, "\xc3\x28");
    if (field != 0) PS(pk, "hq");
    if (field == 1 && variant == 0) PS(pk, "manual");
    if (field == 1 && variant == 1) PS(pk, "raft-of-our-own");
    if (field == 1 && variant == 2) msgpack_pack_nil(pk);
    if (field != 1) PS(pk, "etcd");
    if (field == 2 && variant == 0) pstr(pk, big, CT_GROUP_ENDPOINT_MAX + 1);
    if (field == 2 && variant == 1) msgpack_pack_bin(pk, 0);
    if (field != 2) PS(pk, "tcp://10.0.0.1:7003");
    if (field == 3 && variant == 0) PS(pk, "boss");
    if (field == 3 && variant == 1) msgpack_pack_uint64(pk, 1);
    if (field != 3) PS(pk, "follower");
    if (field == 4 && variant == 0) PS(pk, "17");
    if (field == 4 && variant == 1) msgpack_pack_int64(pk, -17);
    if (field != 4) msgpack_pack_uint64(pk, 17);
    if (field == 5) msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1);
    if (field != 5) msgpack_pack_uint64(pk, 1690000000000);
    if (field == 6) msgpack_pack_double(pk, 1.5);
    if (field != 6) msgpack_pack_uint64(pk, 0);
    if (field == 7) msgpack_pack_uint64(pk, 2);
    if (field != 7) msgpack_pack_uint64(pk, 1);
    if (field == 8) msgpack_pack_true(pk);
    if (field != 8) msgpack_pack_uint64(pk, 0);
    if (field == -2) return;
    if (field == 9 && variant == 0) {
        msgpack_pack_map(pk, 0);
        return;
    }
    size_t n = field == 9 && variant == 1 ? CT_GROUP_MAX_MEMBERS + 1 : 1;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        pack_member(pk, field == 9 ? variant - 1 : 0);
}

/* A "sta" with the required keys, then "gr" as pack_gr makes it (dup: a
 * second "gr"). */
static ct_err decode_gr(int field, int variant, bool dup, ct_wire_status *d)
{
    ct_buf b = CT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, ct_buf_msgpack_write);
    msgpack_pack_map(&pk, dup ? 14 : 13);
    PS(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    PS(&pk, "k");
    PS(&pk, "sta");
    const char *keys[] = {"t", "ep", "c", "f", "sk", "al", "sm"};
    const uint64_t vals[] = {1690000001000, 17, 100, 100, 0, 0, 0};
    for (int i = 0; i < 7; i++) {
        pstr(&pk, keys[i], strlen(keys[i]));
        msgpack_pack_uint64(&pk, vals[i]);
    }
    PS(&pk, "ro");
    PS(&pk, "follower");
    PS(&pk, "fl");
    msgpack_pack_array(&pk, 0);
    PS(&pk, "of");
    msgpack_pack_array(&pk, 0);
    for (int i = 0; i < (dup ? 2 : 1); i++) {
        PS(&pk, "gr");
        pack_gr(&pk, field, variant);
    }
    ct_err r = ct_wire_status_decode(b.data, b.len, d);
    if (!r) ct_wire_status_free(d);
    ct_buf_free(&b);
    return r;
}

static void test_group_rejections(void **state)
{
    (void)state;
    ct_wire_status d;
    assert_int_equal(decode_gr(99, 0, false, &d), CT_OK);
    assert_true(d.group.present);
    assert_int_equal(d.group.role, CT_GROUP_FOLLOWER);
    assert_int_equal(d.group.n_members, 1);
    assert_int_equal(d.group.members[0].lag_ms, 40);
    assert_int_equal(decode_gr(99, 0, true, &d), CT_ERR_DUP_KEY);
    assert_int_equal(decode_gr(-1, 0, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(-2, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(0, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(0, 1, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(0, 2, false, &d), CT_ERR_STRING_TOO_LONG);
    assert_int_equal(decode_gr(0, 3, false, &d), CT_ERR_BAD_UTF8);
    assert_int_equal(decode_gr(1, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(1, 1, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(1, 2, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(2, 0, false, &d), CT_ERR_STRING_TOO_LONG);
    assert_int_equal(decode_gr(2, 1, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(3, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(3, 1, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(4, 0, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(4, 1, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(5, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(6, 0, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(7, 0, false, &d), CT_ERR_BAD_VALUE);
    assert_int_equal(decode_gr(8, 0, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(9, 0, false, &d), CT_ERR_WRONG_TYPE);
    assert_int_equal(decode_gr(9, 1, false, &d), CT_ERR_TOO_MANY);
    assert_int_equal(decode_gr(9, 2, false, &d), CT_ERR_WRONG_TYPE); /* member not an array */
    assert_int_equal(decode_gr(9, 3, false, &d), CT_ERR_BAD_VALUE);  /* member of 4 */
    assert_int_equal(decode_gr(9, 4, false, &d), CT_ERR_BAD_VALUE);  /* empty endpoint */
    assert_int_equal(decode_gr(9, 5, false, &d), CT_ERR_WRONG_TYPE); /* endpoint uint */
    assert_int_equal(decode_gr(9, 6, false, &d), CT_ERR_WRONG_TYPE); /* head str */
    assert_int_equal(decode_gr(9, 7, false, &d), CT_ERR_WRONG_TYPE); /* lag_ms negative */
}

/* "stq" asking for "gr": exact bytes, and its value's rules. */
static void test_status_request_group(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_statusreq_encode(true, false, &b), CT_OK);
    const uint8_t stq[] = {0x83, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa3,
                           0x73, 0x74, 0x71, 0xa2, 0x67, 0x72, 0x01};
    assert_int_equal(b.len, sizeof stq);
    assert_memory_equal(b.data, stq, sizeof stq);
    bool g = false;
    assert_int_equal(ct_wire_statusreq_decode(b.data, b.len, &g, NULL), CT_OK);
    assert_true(g);
    assert_int_equal(ct_wire_statusreq_decode(b.data, 10, &g, NULL), CT_ERR_MALFORMED);
    uint8_t x[sizeof stq];
    memcpy(x, stq, sizeof stq);
    x[13] = 0x00; /* "gr": 0 is not the smallest form (absent) */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, NULL), CT_ERR_BAD_VALUE);
    x[13] = 0x02;
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, NULL), CT_ERR_BAD_VALUE);
    x[13] = 0xc3; /* true */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, NULL), CT_ERR_WRONG_TYPE);
    x[13] = 0x01;
    x[12] = 0x73; /* "gs" */
    assert_int_equal(ct_wire_statusreq_decode(x, sizeof x, &g, NULL), CT_ERR_UNKNOWN_KEY);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_statusreq_encode(false, false, &b), CT_OK);
    g = true;
    assert_int_equal(ct_wire_statusreq_decode(b.data, b.len, &g, NULL), CT_OK);
    assert_false(g);
    ct_buf_free(&b);
}

/* Every proper prefix of a "sta" carrying "gr" is refused, never decoded. */
static void test_group_truncations(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    ct_wire_status s = base();
    s.group = example_group();
    assert_int_equal(ct_wire_status_encode(&s, &b), CT_OK);
    ct_wire_status d;
    assert_int_equal(ct_wire_status_decode(b.data, 0, &d), CT_ERR_FRAME_EMPTY);
    for (size_t n = 1; n < b.len; n++) {
        ct_err r = ct_wire_status_decode(b.data, n, &d);
        if (r != CT_ERR_DECLARED_SIZE && r != CT_ERR_MALFORMED) {
            print_error("prefix %zu of %zu: %s\n", n, b.len, ct_err_name((int)r));
            fail();
        }
    }
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_round_trip),
        cmocka_unit_test(test_group_rejections),
        cmocka_unit_test(test_group_truncations),
        cmocka_unit_test(test_status_request_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
