/* test_wire_repl.c — the epoch ("ep") and origin-binding ("o") fields, the
 * replication messages "rq" and "rb" and the store-copy messages "cq" and
 * "cc" (docs/PROTOCOL.md §3.2, §3.4, §3.5):
 * round trips with canonical re-encoding, every strict prefix of every valid
 * frame (the truncation codes), and each wrong type or value with its exact
 * code. Frames with wrong values are packed by hand with msgpack-c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codec_fixtures.h"

static uint8_t g_hash[CT_HASH_LEN];
static const uint8_t g_rec1[] = {0x95, 0x01, 0x02};
static uint8_t g_rec2[CT_WIRE_MAX_RECORD];
static const ct_wire_origin g_origins[2] = {
    {{'L', 'D', '6', '7', '2', 0, 1, 2}, "key-of-672", 10},
    {{'L', 'D', '6', '7', '3', 0, 1, 2}, "key-of-673", 10},
};

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static ct_wire_repl_batch full_batch(ct_bytes recs[2])
{
    recs[0] = (ct_bytes){g_rec1, sizeof g_rec1};
    recs[1] = (ct_bytes){g_rec2, sizeof g_rec2};
    ct_wire_repl_batch rb = {.prev_seq = 7,
                             .committed = 12,
                             .safe = 9,
                             .time_ms = 1690000000123,
                             .recs = recs,
                             .n = 2,
                             .epoch = 3,
                             .origins = g_origins,
                             .n_origins = 2,
                             .campaign_id = "lamdong-2023",
                             .campaign_id_len = 12};
    memcpy(rb.prev_head, g_hash, CT_HASH_LEN);
    memset(rb.fingerprint, 0x5a, CT_HASH_LEN);
    return rb;
}

/* An "rb" packed by hand: the valid keys, then "ep" = ep_val (packed by
 * ep_fn when given) and "o" (packed by o_fn when given). */
typedef void (*val_fn)(msgpack_packer *pk);

static void pack_rb(ct_buf *out, val_fn ep_fn, val_fn o_fn)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    msgpack_pack_map(&pk, 8 + (ep_fn ? 1u : 0u) + (o_fn ? 1u : 0u));
    pk_str(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pk_str(&pk, "k");
    pk_str(&pk, "rb");
    pk_str(&pk, "p");
    msgpack_pack_uint64(&pk, 7);
    pk_str(&pk, "ph");
    pk_bin(&pk, g_hash, CT_HASH_LEN);
    pk_str(&pk, "c");
    msgpack_pack_uint64(&pk, 9);
    pk_str(&pk, "f");
    msgpack_pack_uint64(&pk, 8);
    pk_str(&pk, "t");
    msgpack_pack_uint64(&pk, 5);
    pk_str(&pk, "r");
    msgpack_pack_array(&pk, 1);
    pk_bin(&pk, g_rec1, sizeof g_rec1);
    if (ep_fn) {
        pk_str(&pk, "ep");
        ep_fn(&pk);
    }
    if (o_fn) {
        pk_str(&pk, "o");
        o_fn(&pk);
    }
}

static ct_err decode_rb(const ct_buf *b, size_t max_origins)
{
    ct_wire_repl_batch d;
    ct_bytes recs[4];
    ct_wire_origin o[4];
    return ct_wire_repl_batch_decode_o(b->data, b->len, &d, recs, 4, o, max_origins);
}

static void rb_round_trip(void **state)
{
    (void)state;
    ct_bytes recs[2], got[4];
    ct_wire_origin og[4];
    ct_wire_repl_batch rb = full_batch(recs);
    ct_buf b = CT_BUF_INIT, again = CT_BUF_INIT;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_OK);
    ct_wire_repl_batch d;
    assert_int_equal(ct_wire_repl_batch_decode_o(b.data, b.len, &d, got, 4, og, 4), CT_OK);
    assert_int_equal(d.prev_seq, 7);
    assert_int_equal(d.committed, 12);
    assert_int_equal(d.safe, 9);
    assert_int_equal(d.time_ms, 1690000000123);
    assert_int_equal(d.epoch, 3);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.recs[1].len, CT_WIRE_MAX_RECORD);
    assert_memory_equal(d.recs[0].data, g_rec1, sizeof g_rec1);
    assert_int_equal(d.n_origins, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_memory_equal(d.origins[i].origin, g_origins[i].origin, CT_ORIGIN_LEN);
        assert_int_equal(d.origins[i].key_len, g_origins[i].key_len);
        assert_memory_equal(d.origins[i].key, g_origins[i].key, g_origins[i].key_len);
    }
    assert_int_equal(d.campaign_id_len, 12);
    assert_memory_equal(d.fingerprint, rb.fingerprint, CT_HASH_LEN);
    /* canonical: what was decoded encodes to the same bytes */
    assert_int_equal(ct_wire_repl_batch_encode(&d, &again), CT_OK);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    /* a reader without room for the bindings: too_many */
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 4), CT_ERR_TOO_MANY);
    assert_int_equal(ct_wire_repl_batch_decode_o(b.data, b.len, &d, got, 4, og, 1),
                     CT_ERR_TOO_MANY);
    /* ep and o absent: decoded 0 and none */
    rb.epoch = 0;
    rb.n_origins = 0;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_OK);
    assert_int_equal(ct_wire_repl_batch_decode_o(b.data, b.len, &d, got, 4, og, 4), CT_OK);
    assert_int_equal(d.epoch, 0);
    assert_int_equal(d.n_origins, 0);
    /* the encoder refuses a binding key out of range */
    rb.origins = (const ct_wire_origin[]){{{0}, "", 0}};
    rb.n_origins = 1;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_ERR_BAD_VALUE);
    ct_buf_free(&again);
    ct_buf_free(&b);
}

static void rq_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    uint64_t s = 0, ep = 9;
    uint8_t h[CT_HASH_LEN];
    assert_int_equal(ct_wire_repl_req_encode_ep(42, g_hash, 5, &b), CT_OK);
    assert_int_equal(b.data[0], 0x85);
    assert_int_equal(ct_wire_repl_req_decode_ep(b.data, b.len, &s, h, &ep), CT_OK);
    assert_int_equal(s, 42);
    assert_int_equal(ep, 5);
    assert_memory_equal(h, g_hash, CT_HASH_LEN);
    /* "ep" is last: a2 65 70 05; 0 on the wire is bad_value */
    assert_int_equal(b.data[b.len - 1], 0x05);
    b.data[b.len - 1] = 0x00;
    assert_int_equal(ct_wire_repl_req_decode_ep(b.data, b.len, &s, h, &ep), CT_ERR_BAD_VALUE);
    /* ep a str: wrong_type */
    b.data[b.len - 1] = 0xa0;
    assert_int_equal(ct_wire_repl_req_decode_ep(b.data, b.len, &s, h, &ep), CT_ERR_WRONG_TYPE);
    /* without ep: a map of 4, decoded 0 */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_req_encode_ep(42, g_hash, 0, &b), CT_OK);
    assert_int_equal(b.data[0], 0x84);
    assert_int_equal(ct_wire_repl_req_decode_ep(b.data, b.len, &s, h, &ep), CT_OK);
    assert_int_equal(ep, 0);
    /* an "rq" is not an "rb", nor a state message */
    ct_wire_repl_batch d;
    ct_bytes recs[1];
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, recs, 1), CT_ERR_BAD_KIND);
    ct_buf_free(&b);
}

static void sub_ack_epoch(void **state)
{
    (void)state;
    uint8_t ev[] = {0x81, 0xa1, 0x76, 0x01};
    ct_bytes one = {ev, sizeof ev}, got[2];
    ct_buf b = CT_BUF_INIT;
    uint64_t tok = 0, ep = 0, seq = 0, safe = 0;
    bool want = false, has = false;
    size_t n = 0;
    assert_int_equal(ct_wire_submit_encode_ep(5, &one, 1, true, 4, &b), CT_OK);
    assert_int_equal(ct_wire_submit_decode_ep(b.data, b.len, &tok, &want, &ep, got, 2, &n), CT_OK);
    assert_true(want);
    assert_int_equal(ep, 4);
    /* "ep" last (a2 65 70 04): 0 bad_value, a str wrong_type */
    b.data[b.len - 1] = 0x00;
    assert_int_equal(ct_wire_submit_decode_ep(b.data, b.len, &tok, &want, &ep, got, 2, &n),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0xa0;
    assert_int_equal(ct_wire_submit_decode_ep(b.data, b.len, &tok, &want, &ep, got, 2, &n),
                     CT_ERR_WRONG_TYPE);
    ct_ack_item it = {.has_id = false, .status = CT_ACK_ACCEPTED, .seq = 9};
    ct_ack_item out[2];
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_ack_encode_ep(1, 10, true, 9, 6, &it, 1, &b), CT_OK);
    assert_int_equal(ct_wire_ack_decode_ep(b.data, b.len, &tok, &seq, &has, &safe, &ep, out, 2, &n),
                     CT_OK);
    assert_true(has);
    assert_int_equal(safe, 9);
    assert_int_equal(ep, 6);
    b.data[b.len - 1] = 0x00;
    assert_int_equal(ct_wire_ack_decode_ep(b.data, b.len, &tok, &seq, &has, &safe, &ep, out, 2, &n),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0xc0; /* nil */
    assert_int_equal(ct_wire_ack_decode_ep(b.data, b.len, &tok, &seq, &has, &safe, &ep, out, 2, &n),
                     CT_ERR_WRONG_TYPE);
    ct_buf_free(&b);
}

/* Every strict prefix of each valid frame with "ep"/"o": malformed or
 * declared_size (frame_empty for the empty prefix), never OK. */
/* "rq" read-ahead "n": last after "ep", absent = s, n < s bad_value */
static void rq_ahead(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    uint64_t s = 0, ep = 9, n = 0;
    bool has = false;
    uint8_t h[CT_HASH_LEN];
    assert_int_equal(ct_wire_repl_req_encode_n(42, g_hash, 5, true, 300, &b), CT_OK);
    assert_int_equal(b.data[0], 0x86);
    /* ... a1 6e cd 01 2c: "n" 300 last */
    assert_int_equal(b.data[b.len - 5], 0xa1);
    assert_int_equal(b.data[b.len - 4], 'n');
    assert_int_equal(b.data[b.len - 3], 0xcd);
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n), CT_OK);
    assert_int_equal(s, 42);
    assert_int_equal(ep, 5);
    assert_true(has);
    assert_int_equal(n, 300);
    assert_memory_equal(h, g_hash, CT_HASH_LEN);
    /* n = s is a valid "n" (a report) */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_req_encode_n(42, g_hash, 0, true, 42, &b), CT_OK);
    assert_int_equal(b.data[0], 0x85);
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n), CT_OK);
    assert_true(has);
    assert_int_equal(n, 42);
    assert_int_equal(ep, 0);
    /* n < s: bad_value; n a str: wrong_type */
    b.data[b.len - 1] = 41;
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0xa0;
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n),
                     CT_ERR_WRONG_TYPE);
    /* encoding n < s is refused; without n: has false, n = s */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_req_encode_n(42, g_hash, 5, true, 41, &b), CT_ERR_ARG);
    assert_int_equal(b.len, 0);
    assert_int_equal(ct_wire_repl_req_encode_n(42, g_hash, 5, false, 0, &b), CT_OK);
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n), CT_OK);
    assert_false(has);
    assert_int_equal(n, 42);
    ct_buf_free(&b);
}

/* "rq" applied head "a": last after "n", absent = s, a > s bad_value, not a
 * uint wrong_type; an older decoder's key list refuses it (unknown_key is
 * the fallback's trigger, tested with the primary in test_read_ahead.py) */
static void rq_applied(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    uint64_t s = 0, ep = 0, n = 0, a = 0;
    bool has = false, has_a = false;
    uint8_t h[CT_HASH_LEN];
    assert_int_equal(ct_wire_repl_req_encode_a(42, g_hash, 5, true, 300, true, 7, &b), CT_OK);
    assert_int_equal(b.data[0], 0x87);
    /* ... a1 61 07: "a" 7 last */
    assert_int_equal(b.data[b.len - 3], 0xa1);
    assert_int_equal(b.data[b.len - 2], 'a');
    assert_int_equal(b.data[b.len - 1], 7);
    assert_int_equal(ct_wire_repl_req_decode_a(b.data, b.len, &s, h, &ep, &has, &n, &has_a, &a),
                     CT_OK);
    assert_int_equal(s, 42);
    assert_int_equal(ep, 5);
    assert_true(has);
    assert_int_equal(n, 300);
    assert_true(has_a);
    assert_int_equal(a, 7);
    /* the decoder without "a" takes the same frame (a is read, not returned) */
    assert_int_equal(ct_wire_repl_req_decode_n(b.data, b.len, &s, h, &ep, &has, &n), CT_OK);
    /* a = s is valid; a > s bad_value; a str wrong_type */
    b.data[b.len - 1] = 42;
    assert_int_equal(ct_wire_repl_req_decode_a(b.data, b.len, &s, h, &ep, &has, &n, &has_a, &a),
                     CT_OK);
    assert_int_equal(a, 42);
    b.data[b.len - 1] = 43;
    assert_int_equal(ct_wire_repl_req_decode_a(b.data, b.len, &s, h, &ep, &has, &n, &has_a, &a),
                     CT_ERR_BAD_VALUE);
    b.data[b.len - 1] = 0xa0;
    assert_int_equal(ct_wire_repl_req_decode_a(b.data, b.len, &s, h, &ep, &has, &n, &has_a, &a),
                     CT_ERR_WRONG_TYPE);
    /* encoding a > s, or a without n, is refused */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_req_encode_a(42, g_hash, 5, true, 50, true, 43, &b), CT_ERR_ARG);
    assert_int_equal(ct_wire_repl_req_encode_a(42, g_hash, 5, false, 0, true, 1, &b), CT_ERR_ARG);
    assert_int_equal(b.len, 0);
    /* absent: has_a false, a = s */
    assert_int_equal(ct_wire_repl_req_encode_n(42, g_hash, 5, true, 50, &b), CT_OK);
    assert_int_equal(ct_wire_repl_req_decode_a(b.data, b.len, &s, h, &ep, &has, &n, &has_a, &a),
                     CT_OK);
    assert_false(has_a);
    assert_int_equal(a, 42);
    ct_buf_free(&b);
}

static void truncations(void **state)
{
    (void)state;
    ct_buf fr[4] = {CT_BUF_INIT, CT_BUF_INIT, CT_BUF_INIT, CT_BUF_INIT};
    ct_bytes recs[2];
    ct_wire_repl_batch rb = full_batch(recs);
    uint8_t ev[] = {0x81, 0xa1, 0x76, 0x01};
    ct_bytes one = {ev, sizeof ev};
    ct_ack_item it = {.has_id = false, .status = CT_ACK_ACCEPTED, .seq = 9};
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &fr[0]), CT_OK);
    assert_int_equal(ct_wire_repl_req_encode_ep(42, g_hash, 5, &fr[1]), CT_OK);
    assert_int_equal(ct_wire_submit_encode_ep(5, &one, 1, true, 4, &fr[2]), CT_OK);
    assert_int_equal(ct_wire_ack_encode_ep(1, 10, true, 9, 6, &it, 1, &fr[3]), CT_OK);
    size_t runs = 0;
    for (int f = 0; f < 4; f++) {
        for (size_t n = 0; n < fr[f].len; n++) {
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, fr[f].data, n);
            ct_err e;
            uint64_t u1, u2, u3, u4;
            bool b1, b2;
            size_t k;
            uint8_t h[CT_HASH_LEN];
            ct_bytes got[4];
            ct_wire_origin og[4];
            ct_ack_item out[2];
            ct_wire_repl_batch d;
            switch (f) {
            case 0:
                e = ct_wire_repl_batch_decode_o(p, n, &d, got, 4, og, 4);
                break;
            case 1:
                e = ct_wire_repl_req_decode_ep(p, n, &u1, h, &u2);
                break;
            case 2:
                e = ct_wire_submit_decode_ep(p, n, &u1, &b1, &u2, got, 4, &k);
                break;
            default:
                e = ct_wire_ack_decode_ep(p, n, &u1, &u2, &b2, &u3, &u4, out, 2, &k);
                break;
            }
            if (n == 0)
                assert_int_equal(e, CT_ERR_FRAME_EMPTY);
            else
                assert_true(e == CT_ERR_MALFORMED || e == CT_ERR_DECLARED_SIZE);
            free(p);
            runs++;
        }
        ct_buf_free(&fr[f]);
    }
    print_message("truncations: %zu decoder runs\n", runs);
}

/* ---- "ep" and "o" values packed by hand ---- */
static void ep_zero(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 0);
}
static void ep_str(msgpack_packer *pk)
{
    pk_str(pk, "2");
}
static void ep_neg(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -1);
}
static void ep_two(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 2);
}
static void o_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void o_item_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_bin(pk, "x", 1);
}
static void o_item_three(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN);
    pk_str(pk, "k");
    msgpack_pack_nil(pk);
}
static void o_origin7(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN - 1);
    pk_str(pk, "k");
}
static void o_origin_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_str(pk, "LD672\x01\x02\x03");
    pk_str(pk, "k");
}
static void o_key_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN);
    pk_bin(pk, "k", 1);
}
static void o_key_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN);
    pk_str(pk, "");
}
static void o_key_long(msgpack_packer *pk)
{
    char k[CT_WIRE_MAX_ORIGIN_KEY + 2];
    memset(k, 'k', sizeof k - 1);
    k[sizeof k - 1] = '\0';
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN);
    pk_str(pk, k);
}
static void o_key_max(msgpack_packer *pk)
{
    char k[CT_WIRE_MAX_ORIGIN_KEY + 1];
    memset(k, 'k', sizeof k - 1);
    k[sizeof k - 1] = '\0';
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_bin(pk, g_origins[0].origin, CT_ORIGIN_LEN);
    pk_str(pk, k);
}
static void o_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}

static void rb_wrong_values(void **state)
{
    (void)state;
    const struct {
        const char *name;
        val_fn ep, o;
        ct_err want;
    } cases[] = {
        {"valid, ep 2", ep_two, NULL, CT_OK},
        {"ep 0", ep_zero, NULL, CT_ERR_BAD_VALUE},
        {"ep str", ep_str, NULL, CT_ERR_WRONG_TYPE},
        {"ep negative", ep_neg, NULL, CT_ERR_WRONG_TYPE},
        {"o a map", NULL, o_map, CT_ERR_WRONG_TYPE},
        {"o item not an array", NULL, o_item_bin, CT_ERR_WRONG_TYPE},
        {"o item of 3", NULL, o_item_three, CT_ERR_BAD_VALUE},
        {"o origin of 7 bytes", NULL, o_origin7, CT_ERR_BAD_VALUE},
        {"o origin a str", NULL, o_origin_str, CT_ERR_WRONG_TYPE},
        {"o key a bin", NULL, o_key_bin, CT_ERR_WRONG_TYPE},
        {"o key empty", NULL, o_key_empty, CT_ERR_BAD_VALUE},
        {"o key of 65 bytes", NULL, o_key_long, CT_ERR_STRING_TOO_LONG},
        {"o key of 64 bytes", ep_two, o_key_max, CT_OK},
        {"o empty", ep_two, o_empty, CT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_buf b = CT_BUF_INIT;
        pack_rb(&b, cases[i].ep, cases[i].o);
        ct_err e = decode_rb(&b, 4);
        if (e != cases[i].want)
            print_error("%s: %s, want %s\n", cases[i].name, ct_err_name(e),
                        ct_err_name(cases[i].want));
        assert_int_equal(e, cases[i].want);
        ct_buf_free(&b);
    }
}

static ct_wire_copy_chunk full_chunk(void)
{
    ct_wire_copy_chunk c = {.copy_id = 0x1234567890abcdefull & INT64_MAX,
                            .size = 3 * CT_WIRE_MAX_CHUNK + 5,
                            .offset = CT_WIRE_MAX_CHUNK,
                            .data = g_rec2,
                            .len = sizeof g_rec2,
                            .seq = 20256,
                            .epoch = 2,
                            .campaign_id = "lamdong-2023",
                            .campaign_id_len = 12};
    memcpy(c.head, g_hash, CT_HASH_LEN);
    memset(c.digest, 0xd9, CT_HASH_LEN);
    memset(c.fingerprint, 0x5a, CT_HASH_LEN);
    return c;
}

static void copy_messages(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT, again = CT_BUF_INIT;
    uint64_t i = 1, o = 1;
    assert_int_equal(ct_wire_copy_req_encode(0, 0, &b), CT_OK);
    static const uint8_t cq0[] = {0x84, 0xa1, 'v', 0x01, 0xa1, 'k', 0xa2, 'c',
                                  'q',  0xa1, 'i', 0x00, 0xa1, 'o', 0x00};
    assert_int_equal(b.len, sizeof cq0);
    assert_memory_equal(b.data, cq0, sizeof cq0);
    assert_int_equal(ct_wire_copy_req_decode(b.data, b.len, &i, &o), CT_OK);
    assert_int_equal(i, 0);
    assert_int_equal(o, 0);
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, CT_MSG_COPY_REQ);
    b.data[b.len - 1] = 0xa0; /* "o" a str */
    assert_int_equal(ct_wire_copy_req_decode(b.data, b.len, &i, &o), CT_ERR_WRONG_TYPE);
    b.data[0] = 0x83; /* "o" missing */
    assert_int_equal(ct_wire_copy_req_decode(b.data, b.len - 3, &i, &o), CT_ERR_MISSING_FIELD);

    ct_wire_copy_chunk c = full_chunk(), d;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_copy_chunk_encode(&c, &b), CT_OK);
    assert_int_equal(ct_wire_copy_chunk_decode(b.data, b.len, &d), CT_OK);
    assert_int_equal(d.copy_id, c.copy_id);
    assert_int_equal(d.size, c.size);
    assert_int_equal(d.offset, c.offset);
    assert_int_equal(d.len, c.len);
    assert_memory_equal(d.data, g_rec2, c.len);
    assert_int_equal(d.seq, 20256);
    assert_int_equal(d.epoch, 2);
    assert_memory_equal(d.head, g_hash, CT_HASH_LEN);
    assert_memory_equal(d.digest, c.digest, CT_HASH_LEN);
    assert_memory_equal(d.fingerprint, c.fingerprint, CT_HASH_LEN);
    assert_int_equal(d.campaign_id_len, 12);
    assert_int_equal(ct_wire_copy_chunk_encode(&d, &again), CT_OK);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    assert_int_equal(ct_wire_copy_req_decode(b.data, b.len, &i, &o), CT_ERR_BAD_KIND);
    /* "being made": z = 0 and no data */
    ct_wire_copy_chunk z = full_chunk();
    z.size = z.offset = z.len = 0;
    z.data = NULL;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_copy_chunk_encode(&z, &b), CT_OK);
    assert_int_equal(ct_wire_copy_chunk_decode(b.data, b.len, &d), CT_OK);
    assert_int_equal(d.size, 0);
    assert_int_equal(d.len, 0);
    /* the encoder's refusals: id 0, ep 0, data with z = 0, past the end */
    ct_wire_copy_chunk bad = full_chunk();
    bad.copy_id = 0;
    assert_int_equal(ct_wire_copy_chunk_encode(&bad, &b), CT_ERR_BAD_VALUE);
    bad = full_chunk();
    bad.epoch = 0;
    assert_int_equal(ct_wire_copy_chunk_encode(&bad, &b), CT_ERR_BAD_VALUE);
    bad = full_chunk();
    bad.size = 0;
    assert_int_equal(ct_wire_copy_chunk_encode(&bad, &b), CT_ERR_BAD_VALUE);
    bad = full_chunk();
    bad.offset = bad.size - 10;
    assert_int_equal(ct_wire_copy_chunk_encode(&bad, &b), CT_ERR_BAD_VALUE);
    /* every strict prefix of both */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_copy_chunk_encode(&c, &b), CT_OK);
    for (size_t n = 0; n < b.len; n += (n < 64 || n + 64 > b.len) ? 1 : 997) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b.data, n);
        ct_err e = ct_wire_copy_chunk_decode(p, n, &d);
        assert_true(n == 0 ? e == CT_ERR_FRAME_EMPTY
                           : e == CT_ERR_MALFORMED || e == CT_ERR_DECLARED_SIZE);
        free(p);
    }
    for (size_t n = 0; n < sizeof cq0; n++) {
        uint8_t p[sizeof cq0];
        memcpy(p, cq0, n);
        ct_err e = ct_wire_copy_req_decode(p, n, &i, &o);
        assert_true(n == 0 ? e == CT_ERR_FRAME_EMPTY
                           : e == CT_ERR_MALFORMED || e == CT_ERR_DECLARED_SIZE);
    }
    ct_buf_free(&again);
    ct_buf_free(&b);
}

/* A "cc" packed by hand with one value replaced. */
static void pack_cc(ct_buf *out, const char *key, val_fn fn)
{
    static const char *const keys[] = {"i", "z", "o", "d", "s", "h", "ep", "dg", "ci", "cf"};
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    msgpack_pack_map(&pk, 12);
    pk_str(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pk_str(&pk, "k");
    pk_str(&pk, "cc");
    for (size_t i = 0; i < 10; i++) {
        pk_str(&pk, keys[i]);
        if (strcmp(keys[i], key) == 0) {
            fn(&pk);
        } else if (i < 3 || i == 4 || i == 6) { /* i z o s ep */
            msgpack_pack_uint64(&pk, i == 2 ? 0 : 9);
        } else if (i == 3) {
            pk_bin(&pk, g_rec1, sizeof g_rec1);
        } else if (i == 8) {
            pk_str(&pk, "lamdong-2023");
        } else {
            pk_bin(&pk, g_hash, CT_HASH_LEN);
        }
    }
}

static void v_zero(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 0);
}
static void v_nine(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 9);
}
static void v_two(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 2);
}
static void v_str(msgpack_packer *pk)
{
    pk_str(pk, "x");
}
static void v_bin31(msgpack_packer *pk)
{
    pk_bin(pk, g_hash, CT_HASH_LEN - 1);
}
static void v_chunk_long(msgpack_packer *pk)
{
    static uint8_t big[CT_WIRE_MAX_CHUNK + 1];
    pk_bin(pk, big, sizeof big);
}
static void v_ci_long(msgpack_packer *pk)
{
    pk_str(pk, "0123456789012345678901234567890123");
}
static void v_ci_empty(msgpack_packer *pk)
{
    pk_str(pk, "");
}

static void copy_wrong_values(void **state)
{
    (void)state;
    const struct {
        const char *key;
        val_fn fn;
        ct_err want;
    } cases[] = {
        {"i", v_nine, CT_OK},
        {"i", v_zero, CT_ERR_BAD_VALUE},
        {"i", v_str, CT_ERR_WRONG_TYPE},
        {"z", v_zero, CT_ERR_BAD_VALUE}, /* z 0 with data */
        {"z", v_two, CT_ERR_BAD_VALUE},  /* o 0 + 3 bytes > 2 */
        {"o", v_nine, CT_ERR_BAD_VALUE}, /* 9 + 3 > 9 */
        {"d", v_str, CT_ERR_WRONG_TYPE},
        {"d", v_chunk_long, CT_ERR_STRING_TOO_LONG},
        {"s", v_str, CT_ERR_WRONG_TYPE},
        {"h", v_bin31, CT_ERR_BAD_VALUE},
        {"h", v_str, CT_ERR_WRONG_TYPE},
        {"ep", v_zero, CT_ERR_BAD_VALUE},
        {"dg", v_bin31, CT_ERR_BAD_VALUE},
        {"ci", v_ci_long, CT_ERR_STRING_TOO_LONG},
        {"ci", v_ci_empty, CT_ERR_BAD_VALUE},
        {"ci", v_nine, CT_ERR_WRONG_TYPE},
        {"cf", v_bin31, CT_ERR_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_buf b = CT_BUF_INIT;
        pack_cc(&b, cases[i].key, cases[i].fn);
        ct_wire_copy_chunk d;
        ct_err e = ct_wire_copy_chunk_decode(b.data, b.len, &d);
        if (e != cases[i].want)
            print_error("%s: %s, want %s\n", cases[i].key, ct_err_name(e),
                        ct_err_name(cases[i].want));
        assert_int_equal(e, cases[i].want);
        ct_buf_free(&b);
    }
}

int main(void)
{
    for (int i = 0; i < CT_HASH_LEN; i++)
        g_hash[i] = (uint8_t)(0x10 + i);
    memset(g_rec2, 0xaa, sizeof g_rec2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rb_round_trip),     cmocka_unit_test(rq_round_trip),
        cmocka_unit_test(rq_ahead),          cmocka_unit_test(rq_applied),
        cmocka_unit_test(sub_ack_epoch),     cmocka_unit_test(truncations),
        cmocka_unit_test(rb_wrong_values),   cmocka_unit_test(copy_messages),
        cmocka_unit_test(copy_wrong_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
