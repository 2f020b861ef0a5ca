/* test_wire.c — wire messages: round trip and canonical re-encoding of every
 * kind, the fixed key order, and every rejection with its exact code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codec_fixtures.h"

static void test_submit_round_trip(void **state)
{
    (void)state;
    size_t sizes[] = {1, 2, 17, 1000, CT_WIRE_MAX_EVENTS};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        ct_buf b = CT_BUF_INIT;
        fx_encode_submit(n, 0xfedcba9876543210ull, &b);
        ct_msg_kind k;
        assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
        assert_int_equal(k, CT_MSG_SUBMIT);
        ct_bytes *ev = calloc(n, sizeof *ev);
        uint64_t tok = 0;
        size_t got = 0;
        assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, ev, n, &got), CT_OK);
        assert_int_equal(got, n);
        assert_true(tok == 0xfedcba9876543210ull);
        for (size_t i = 0; i < n; i++) {
            /* ranges point into the frame */
            assert_true(ev[i].data > b.data && ev[i].data + ev[i].len <= b.data + b.len);
            ct_event e;
            assert_int_equal(ct_event_decode(ev[i].data, ev[i].len, &e, NULL), CT_OK);
            assert_true(ct_event_id_seq(e.id) == i + 1);
        }
        /* canonical */
        ct_buf b2 = CT_BUF_INIT;
        assert_int_equal(ct_wire_submit_encode(tok, ev, got, &b2), CT_OK);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        /* caller's array too small */
        if (n > 1)
            assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, ev, n - 1, &got),
                             CT_ERR_TOO_MANY);
        free(ev);
        ct_buf_free(&b);
        ct_buf_free(&b2);
    }
    /* key order: v k n e */
    ct_buf b = CT_BUF_INIT;
    fx_encode_submit(1, 5, &b);
    const uint8_t head[] = {0x84, 0xa1, 'v', 0x01, 0xa1, 'k', 0xa3, 's', 'u',
                            'b',  0xa1, 'n', 0x05, 0xa1, 'e', 0x91, 0xc4};
    assert_memory_equal(b.data, head, sizeof head);
    ct_buf_free(&b);
    /* encoder refusals */
    ct_bytes one = {(const uint8_t *)"x", 1};
    assert_int_equal(ct_wire_submit_encode(1, &one, 0, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_wire_submit_encode(1, &one, CT_WIRE_MAX_EVENTS + 1, &b), CT_ERR_TOO_MANY);
    assert_int_equal(b.len, 0);
}

static void test_ack_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    fx_encode_ack(&b);
    ct_ack_item it[4];
    uint64_t tok, seq;
    size_t n;
    assert_int_equal(ct_wire_ack_decode(b.data, b.len, &tok, &seq, it, 4, &n), CT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(tok, 7);
    assert_int_equal(seq, 123456);
    assert_true(it[0].has_id && it[1].has_id && !it[2].has_id);
    assert_int_equal(ct_event_id_seq(it[1].id), 2);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(it[1].status, CT_ACK_REJECTED);
    assert_int_equal(it[1].code, CT_ERR_UNKNOWN_AGENT);
    assert_int_equal(it[2].code, CT_ERR_MALFORMED);
    ct_buf b2 = CT_BUF_INIT;
    assert_int_equal(ct_wire_ack_encode(tok, seq, it, n, &b2), CT_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    assert_int_equal(ct_wire_ack_decode(b.data, b.len, &tok, &seq, it, 2, &n), CT_ERR_TOO_MANY);
    /* an ack is not a submit and vice versa */
    ct_bytes ev[4];
    assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, ev, 4, &n), CT_ERR_BAD_KIND);
    ct_buf_free(&b2);
    ct_buf_free(&b);
    /* empty ack, all statuses */
    assert_int_equal(ct_wire_ack_encode(1, 0, NULL, 0, &b), CT_OK);
    assert_int_equal(ct_wire_ack_decode(b.data, b.len, &tok, &seq, it, 4, &n), CT_OK);
    assert_int_equal(n, 0);
    ct_buf_reset(&b);
    it[0].status = 4;
    assert_int_equal(ct_wire_ack_encode(1, 0, it, 1, &b), CT_ERR_BAD_VALUE);
    ct_buf_free(&b);
}

static void test_error_round_trip(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    bool has;
    uint64_t tok;
    uint16_t code;
    assert_int_equal(ct_wire_error_encode(true, 99, CT_ERR_UNAUTHENTICATED, &b), CT_OK);
    assert_int_equal(ct_wire_error_decode(b.data, b.len, &has, &tok, &code), CT_OK);
    assert_true(has);
    assert_int_equal(tok, 99);
    assert_int_equal(code, CT_ERR_UNAUTHENTICATED);
    ct_buf b2 = CT_BUF_INIT;
    assert_int_equal(ct_wire_error_encode(has, tok, (ct_err)code, &b2), CT_OK);
    assert_memory_equal(b.data, b2.data, b.len);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_error_encode(false, 0, CT_ERR_MALFORMED, &b), CT_OK);
    const uint8_t want[] = {0x84, 0xa1, 'v',  0x01, 0xa1, 'k',  0xa3, 'e',
                            'r',  'r',  0xa1, 'n',  0xc0, 0xa1, 'c',  0x0d};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    assert_int_equal(ct_wire_error_decode(b.data, b.len, &has, &tok, &code), CT_OK);
    assert_false(has);
    assert_int_equal(code, CT_ERR_MALFORMED);
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

static void check_state_rt(ct_msg_kind kind, size_t n)
{
    ct_count_entry *ents = calloc(n ? n : 1, sizeof *ents);
    ct_wire_state st, d;
    fx_state(&st, kind, ents, n);
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_state_encode(&st, &b), CT_OK);
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, kind);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    assert_int_equal(d.kind, kind);
    assert_true(d.seq == st.seq && d.prev_seq == st.prev_seq && d.time_ms == st.time_ms);
    assert_memory_equal(d.head, st.head, CT_HASH_LEN);
    assert_memory_equal(d.prev_head, st.prev_head, CT_HASH_LEN);
    assert_int_equal(d.n_entries, kind == CT_MSG_HEARTBEAT ? 0 : n);
    for (size_t i = 0; i < d.n_entries; i++) {
        assert_int_equal(ct_count_key_cmp(&d.entries[i].key, &ents[i].key), 0);
        assert_true(d.entries[i].value == ents[i].value);
    }
    ct_buf b2 = CT_BUF_INIT;
    assert_int_equal(ct_wire_state_encode(&d, &b2), CT_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    ct_wire_state_free(&d);
    assert_null(d.entries);
    ct_buf_free(&b);
    ct_buf_free(&b2);
    free(ents);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    check_state_rt(CT_MSG_UPDATE, 0);
    check_state_rt(CT_MSG_UPDATE, 5);
    check_state_rt(CT_MSG_HEARTBEAT, 0);
    check_state_rt(CT_MSG_SNAPSHOT, 0);
    check_state_rt(CT_MSG_SNAPSHOT, 3000);
    /* values at the extremes use smallest encodings and survive */
    ct_count_entry e[4];
    ct_wire_state st;
    fx_state(&st, CT_MSG_SNAPSHOT, e, 4);
    e[0].value = INT64_MIN;
    e[1].value = INT64_MAX;
    e[2].value = -1;
    e[3].value = 0;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_state_encode(&st, &b), CT_OK);
    ct_wire_state d;
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    assert_true(d.entries[0].value == INT64_MIN && d.entries[1].value == INT64_MAX);
    assert_true(d.entries[2].value == -1 && d.entries[3].value == 0);
    ct_wire_state_free(&d);
    ct_buf_free(&b);
    /* refusals */
    fx_state(&st, CT_MSG_UPDATE, e, 1);
    st.prev_seq = st.seq;
    assert_int_equal(ct_wire_state_encode(&st, &b), CT_ERR_BAD_VALUE);
    st.kind = CT_MSG_ACK;
    assert_int_equal(ct_wire_state_encode(&st, &b), CT_ERR_BAD_KIND);
    assert_int_equal(b.len, 0);
    /* a submit is not a state message */
    fx_encode_submit(1, 1, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_KIND);
    assert_null(d.entries);
    ct_buf_free(&b);
}

static void test_snapreq(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_wire_snapreq_encode(&b), CT_OK);
    const uint8_t want[] = {0x82, 0xa1, 'v', 0x01, 0xa1, 'k', 0xa3, 's', 'n', 'q'};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, CT_MSG_SNAP_REQ);
    assert_int_equal(ct_wire_snapreq_decode(b.data, b.len), CT_OK);
    const uint8_t extra[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 'k', 0xa3,
                             's',  'n',  'q', 0xa1, 's',  0x00};
    assert_int_equal(ct_wire_snapreq_decode(extra, sizeof extra), CT_ERR_UNKNOWN_KEY);
    ct_buf_free(&b);
}

/* ---- crafted rejections, via the field-list builder --------------------- */

static fx_map sub_map(void)
{
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, "sub", 3});
    fx_map_add(&m, (fx_field){"n", FV_UINT, 1, NULL, 0});
    return m;
}

/* sub_map + "e": [bin "abc"] appended by hand */
static ct_err decode_sub(const fx_map *m, bool add_e)
{
    ct_buf b = CT_BUF_INIT;
    fx_map mm = *m;
    if (add_e) fx_map_add(&mm, (fx_field){"e", FV_ARRAY0, 0, NULL, 0});
    fx_map_pack(&mm, &b);
    if (add_e) { /* replace the trailing empty array 0x90 by [bin "abc"] */
        b.len--;
        ct_buf_append(&b,
                      "\x91\xc4\x03"
                      "abc",
                      6);
    }
    ct_bytes ev[8];
    uint64_t tok;
    size_t n;
    ct_err e = ct_wire_submit_decode(b.data, b.len, &tok, ev, 8, &n);
    ct_buf_free(&b);
    return e;
}

static void test_wire_header_rejections(void **state)
{
    (void)state;
    fx_map m = sub_map();
    assert_int_equal(decode_sub(&m, true), CT_OK);
    m = sub_map();
    fx_map_del(&m, "v");
    assert_int_equal(decode_sub(&m, true), CT_ERR_MISSING_FIELD);
    m = sub_map();
    fx_map_get(&m, "v")->t = FV_STR;
    fx_map_get(&m, "v")->p = "1";
    fx_map_get(&m, "v")->n = 1;
    assert_int_equal(decode_sub(&m, true), CT_ERR_WRONG_TYPE);
    m = sub_map();
    fx_map_get(&m, "v")->u = 2;
    assert_int_equal(decode_sub(&m, true), CT_ERR_BAD_VERSION);
    m = sub_map();
    fx_map_del(&m, "k");
    assert_int_equal(decode_sub(&m, true), CT_ERR_MISSING_FIELD);
    m = sub_map();
    fx_map_get(&m, "k")->t = FV_UINT;
    assert_int_equal(decode_sub(&m, true), CT_ERR_WRONG_TYPE);
    m = sub_map();
    fx_map_get(&m, "k")->p = "subx";
    fx_map_get(&m, "k")->n = 4;
    assert_int_equal(decode_sub(&m, true), CT_ERR_BAD_KIND);
    m = sub_map();
    fx_map_get(&m, "k")->p = "hb";
    fx_map_get(&m, "k")->n = 2;
    assert_int_equal(decode_sub(&m, true), CT_ERR_BAD_KIND);
    m = sub_map();
    fx_map_add(&m, (fx_field){"x", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_sub(&m, true), CT_ERR_UNKNOWN_KEY);
    m = sub_map();
    fx_map_add(&m, (fx_field){"n", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_sub(&m, true), CT_ERR_DUP_KEY);
    m = sub_map();
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_sub(&m, true), CT_ERR_DUP_KEY);
    m = sub_map();
    assert_int_equal(decode_sub(&m, false), CT_ERR_MISSING_FIELD); /* no "e" */
    m = sub_map();
    fx_map_del(&m, "n");
    assert_int_equal(decode_sub(&m, true), CT_ERR_MISSING_FIELD);
    /* wrong types */
    const fv_type bad[] = {FV_NEG, FV_STR, FV_BIN, FV_NIL, FV_FLOAT, FV_BOOL, FV_ARRAY0, FV_MAP0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = sub_map();
        fx_field *f = fx_map_get(&m, "n");
        f->t = bad[i], f->p = "x", f->n = 1;
        assert_int_equal(decode_sub(&m, true), CT_ERR_WRONG_TYPE);
        if (bad[i] == FV_ARRAY0) continue;
        m = sub_map();
        fx_map_add(&m, (fx_field){"e", bad[i], 1, "x", 1});
        assert_int_equal(decode_sub(&m, false), CT_ERR_WRONG_TYPE);
    }
    /* empty "e" */
    m = sub_map();
    fx_map_add(&m, (fx_field){"e", FV_ARRAY0, 0, NULL, 0});
    assert_int_equal(decode_sub(&m, false), CT_ERR_BAD_VALUE);
    /* an element that is not bin */
    const uint8_t s1[] = {0x84, 0xa1, 'v',  0x01, 0xa1, 'k',  0xa3, 's', 'u',  'b', 0xa1,
                          'n',  0x01, 0xa1, 'e',  0x92, 0xc4, 0x01, 'x', 0xa1, 'x'};
    ct_bytes ev[8];
    uint64_t tok;
    size_t n;
    assert_int_equal(ct_wire_submit_decode(s1, sizeof s1, &tok, ev, 8, &n), CT_ERR_WRONG_TYPE);
    /* not a map, empty, trailing */
    const uint8_t arr[] = {0x90};
    assert_int_equal(ct_wire_submit_decode(arr, 1, &tok, ev, 8, &n), CT_ERR_NOT_MAP);
    assert_int_equal(ct_wire_submit_decode(arr, 0, &tok, ev, 8, &n), CT_ERR_FRAME_EMPTY);
    uint8_t s2[sizeof s1 + 1];
    memcpy(s2, s1, sizeof s1);
    s2[sizeof s1] = 0xc0;
    assert_int_equal(ct_wire_submit_decode(s2, sizeof s2, &tok, ev, 8, &n), CT_ERR_TRAILING_BYTES);
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(s2, sizeof s2, &k), CT_ERR_TRAILING_BYTES);
    /* too large */
    uint8_t *huge = calloc(1, CT_WIRE_MAX_FRAME + 1);
    assert_int_equal(ct_wire_submit_decode(huge, CT_WIRE_MAX_FRAME + 1, &tok, ev, 8, &n),
                     CT_ERR_FRAME_TOO_LARGE);
    free(huge);
}

static ct_err decode_ack_items(const uint8_t *item, size_t ilen)
{
    ct_buf b = CT_BUF_INIT;
    const uint8_t head[] = {0x85, 0xa1, 'v',  0x01, 0xa1, 'k',  0xa3, 'a', 'c', 'k',
                            0xa1, 'n',  0x01, 0xa1, 's',  0x02, 0xa1, 'r', 0x91};
    ct_buf_append(&b, head, sizeof head);
    ct_buf_append(&b, item, ilen);
    ct_ack_item it[2];
    uint64_t tok, seq;
    size_t n;
    ct_err e = ct_wire_ack_decode(b.data, b.len, &tok, &seq, it, 2, &n);
    ct_buf_free(&b);
    return e;
}

static void test_ack_rejections(void **state)
{
    (void)state;
    const uint8_t ok[] = {0x93, 0xc0, 0x02, 0x2a};
    assert_int_equal(decode_ack_items(ok, sizeof ok), CT_OK);
    const uint8_t two[] = {0x92, 0xc0, 0x02};
    assert_int_equal(decode_ack_items(two, sizeof two), CT_ERR_BAD_VALUE);
    const uint8_t notarr[] = {0x02};
    assert_int_equal(decode_ack_items(notarr, sizeof notarr), CT_ERR_WRONG_TYPE);
    const uint8_t status4[] = {0x93, 0xc0, 0x04, 0x00};
    assert_int_equal(decode_ack_items(status4, sizeof status4), CT_ERR_BAD_VALUE);
    const uint8_t code_big[] = {0x93, 0xc0, 0x02, 0xce, 0x00, 0x01, 0x00, 0x00};
    assert_int_equal(decode_ack_items(code_big, sizeof code_big), CT_ERR_BAD_VALUE);
    const uint8_t id15[] = {0x93, 0xc4, 0x0f, 0, 0, 0, 0, 0, 0,    0,
                            0,    0,    0,    0, 0, 0, 0, 0, 0x00, 0x00};
    assert_int_equal(decode_ack_items(id15, sizeof id15), CT_ERR_BAD_ID);
    const uint8_t idstr[] = {0x93, 0xa1, 'x', 0x00, 0x00};
    assert_int_equal(decode_ack_items(idstr, sizeof idstr), CT_ERR_WRONG_TYPE);
    const uint8_t negst[] = {0x93, 0xc0, 0xff, 0x00};
    assert_int_equal(decode_ack_items(negst, sizeof negst), CT_ERR_WRONG_TYPE);
    /* missing "s" */
    const uint8_t nos[] = {0x84, 0xa1, 'v',  0x01, 0xa1, 'k',  0xa3, 'a',
                           'c',  'k',  0xa1, 'n',  0x01, 0xa1, 'r',  0x90};
    ct_ack_item it[2];
    uint64_t tok, seq;
    size_t n;
    assert_int_equal(ct_wire_ack_decode(nos, sizeof nos, &tok, &seq, it, 2, &n),
                     CT_ERR_MISSING_FIELD);
}

static void test_error_rejections(void **state)
{
    (void)state;
    bool has;
    uint64_t tok;
    uint16_t code;
    const uint8_t nocode[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 'k', 0xa3,
                              'e',  'r',  'r', 0xa1, 'n',  0xc0};
    assert_int_equal(ct_wire_error_decode(nocode, sizeof nocode, &has, &tok, &code),
                     CT_ERR_MISSING_FIELD);
    const uint8_t strtok[] = {0x84, 0xa1, 'v', 0x01, 0xa1, 'k',  0xa3, 'e', 'r',
                              'r',  0xa1, 'n', 0xa1, '1',  0xa1, 'c',  0x01};
    assert_int_equal(ct_wire_error_decode(strtok, sizeof strtok, &has, &tok, &code),
                     CT_ERR_WRONG_TYPE);
    const uint8_t bigc[] = {0x84, 0xa1, 'v',  0x01, 0xa1, 'k',  0xa3, 'e',  'r',  'r',
                            0xa1, 'n',  0xc0, 0xa1, 'c',  0xce, 0x00, 0x01, 0x00, 0x00};
    assert_int_equal(ct_wire_error_decode(bigc, sizeof bigc, &has, &tok, &code), CT_ERR_BAD_VALUE);
}

/* "upd"/"snp" name the campaign ("ci" + "cf", both or neither); "hb" never. */
static void test_state_campaign(void **state)
{
    (void)state;
    ct_count_entry e[2];
    ct_wire_state st, d;
    ct_buf b = CT_BUF_INIT, plain = CT_BUF_INIT;
    const ct_msg_kind kinds[] = {CT_MSG_UPDATE, CT_MSG_SNAPSHOT};
    for (size_t k = 0; k < 2; k++) {
        fx_state(&st, kinds[k], e, 2);
        ct_buf_reset(&plain);
        assert_int_equal(ct_wire_state_encode(&st, &plain), CT_OK);
        st.has_campaign = true;
        snprintf(st.campaign_id, sizeof st.campaign_id, "lamdong-2023");
        memset(st.campaign_fp, 0xc7, CT_HASH_LEN);
        ct_buf_reset(&b);
        assert_int_equal(ct_wire_state_encode(&st, &b), CT_OK);
        /* two more keys: "ci" (2+1) + 12 bytes, "cf" (2+1) + 2 + 32 */
        assert_int_equal(b.len, plain.len + 3 + 1 + 12 + 3 + 2 + 32);
        assert_int_equal(b.data[0] & 0x0f, plain.data[0] + 2 - 0x80);
        assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
        assert_true(d.has_campaign);
        assert_string_equal(d.campaign_id, "lamdong-2023");
        assert_memory_equal(d.campaign_fp, st.campaign_fp, CT_HASH_LEN);
        ct_wire_state_free(&d);
        /* without: decodes as before, names none */
        assert_int_equal(ct_wire_state_decode(plain.data, plain.len, &d), CT_OK);
        assert_false(d.has_campaign);
        ct_wire_state_free(&d);
        /* the encoder refuses an empty id */
        st.campaign_id[0] = '\0';
        ct_buf_reset(&b);
        assert_int_equal(ct_wire_state_encode(&st, &b), CT_ERR_BAD_VALUE);
    }
    /* a heartbeat never carries them */
    fx_state(&st, CT_MSG_HEARTBEAT, e, 0);
    st.has_campaign = true;
    snprintf(st.campaign_id, sizeof st.campaign_id, "x");
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_state_encode(&st, &b), CT_OK);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    assert_false(d.has_campaign);
    /* one without the other, wrong types, lengths */
    uint8_t head32[32] = {0}, fp[33] = {0};
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, "snp", 3});
    fx_map_add(&m, (fx_field){"s", FV_UINT, 5, NULL, 0});
    fx_map_add(&m, (fx_field){"h", FV_BIN, 0, head32, 32});
    fx_map_add(&m, (fx_field){"t", FV_UINT, 5, NULL, 0});
    fx_map_add(&m, (fx_field){"c", FV_ARRAY0, 0, NULL, 0});
    fx_map m2 = m;
    fx_map_add(&m2, (fx_field){"ci", FV_STR, 0, "lamdong-2023", 12});
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_MISSING_FIELD);
    fx_map_add(&m2, (fx_field){"cf", FV_BIN, 0, fp, 32});
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    ct_wire_state_free(&d);
    fx_map_get(&m2, "cf")->n = 33;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_VALUE);
    fx_map_get(&m2, "cf")->n = 32;
    fx_map_get(&m2, "ci")->t = FV_BIN;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_WRONG_TYPE);
    fx_map_get(&m2, "ci")->t = FV_STR;
    fx_map_get(&m2, "ci")->p = "a-campaign-id-longer-than-32-bytes";
    fx_map_get(&m2, "ci")->n = 34;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_STRING_TOO_LONG);
    fx_map_get(&m2, "ci")->n = 0;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_VALUE);
    /* not on a heartbeat */
    m2 = m;
    fx_map_get(&m2, "k")->p = "hb";
    fx_map_get(&m2, "k")->n = 2;
    fx_map_del(&m2, "c");
    fx_map_add(&m2, (fx_field){"ci", FV_STR, 0, "x", 1});
    fx_map_add(&m2, (fx_field){"cf", FV_BIN, 0, fp, 32});
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_UNKNOWN_KEY);
    ct_buf_free(&b);
    ct_buf_free(&plain);
}

/* State messages: a key of another state kind, bad head, bad counter entries. */
static void test_state_rejections(void **state)
{
    (void)state;
    ct_wire_state d;
    ct_buf b = CT_BUF_INIT;
    uint8_t head32[32] = {0};
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, "hb", 2});
    fx_map_add(&m, (fx_field){"s", FV_UINT, 5, NULL, 0});
    fx_map_add(&m, (fx_field){"h", FV_BIN, 0, head32, 32});
    fx_map_add(&m, (fx_field){"t", FV_UINT, 5, NULL, 0});
    fx_map_pack(&m, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    ct_wire_state_free(&d);
    fx_map m2 = m;
    fx_map_add(&m2, (fx_field){"c", FV_ARRAY0, 0, NULL, 0});
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_UNKNOWN_KEY);
    m2 = m;
    fx_map_get(&m2, "h")->n = 31;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_VALUE);
    m2 = m;
    fx_map_get(&m2, "t")->t = FV_NEG;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_WRONG_TYPE);
    m2 = m;
    fx_map_del(&m2, "s");
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_MISSING_FIELD);
    /* upd needs p < s, "ph" (bin32) and "c" */
    uint8_t ph32[32];
    memset(ph32, 0x5a, sizeof ph32);
    m2 = m;
    fx_map_get(&m2, "k")->p = "upd";
    fx_map_get(&m2, "k")->n = 3;
    fx_map_add(&m2, (fx_field){"p", FV_UINT, 5, NULL, 0});
    fx_map_add(&m2, (fx_field){"ph", FV_BIN, 0, ph32, 32});
    fx_map_add(&m2, (fx_field){"c", FV_ARRAY0, 0, NULL, 0});
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_VALUE);
    fx_map_get(&m2, "p")->u = 4;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_OK);
    assert_memory_equal(d.prev_head, ph32, 32);
    fx_map_get(&m2, "ph")->n = 31;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_BAD_VALUE);
    fx_map_get(&m2, "ph")->n = 32;
    fx_map_get(&m2, "ph")->t = FV_STR;
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_WRONG_TYPE);
    fx_map_del(&m2, "ph");
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_MISSING_FIELD);
    fx_map_add(&m2, (fx_field){"ph", FV_BIN, 0, ph32, 32});
    fx_map_del(&m2, "c");
    ct_buf_reset(&b);
    fx_map_pack(&m2, &b);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &d), CT_ERR_MISSING_FIELD);
    /* bad counter entries inside a snapshot: build [[key, value]] by hand */
    ct_count_key good = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
    struct {
        uint8_t bytes[48];
        size_t n;
        ct_err want;
    } ents[] = {
        {{0x92, 0xc4, 0x04, good.b[0], good.b[1], good.b[2], good.b[3], 0x05}, 8, CT_OK},
        {{0x92, 0xc4, 0x04, good.b[0], good.b[1], good.b[2], good.b[3], 0xd0, 0x80}, 9, CT_OK},
        {{0x92, 0xc4, 0x04, good.b[0], good.b[1], good.b[2], good.b[3], 0xa1, 'x'},
         9,
         CT_ERR_WRONG_TYPE},
        {{0x92, 0xc4, 0x04, good.b[0], good.b[1], good.b[2], good.b[3], 0xcf, 0x80, 0, 0, 0, 0, 0,
          0, 0},
         16,
         CT_ERR_BAD_VALUE},
        {{0x92, 0xa4, good.b[0], good.b[1], good.b[2], good.b[3], 0x05}, 7, CT_ERR_WRONG_TYPE},
        {{0x92, 0xc4, 0x04, 0x63, good.b[1], good.b[2], good.b[3], 0x05}, 8, CT_ERR_BAD_VALUE},
        {{0x92, 0xc4, 0x00, 0x05}, 4, CT_ERR_BAD_VALUE},
        {{0x93, 0xc4, 0x04, good.b[0], good.b[1], good.b[2], good.b[3], 0x05, 0x05},
         9,
         CT_ERR_BAD_VALUE},
        {{0x05}, 1, CT_ERR_WRONG_TYPE},
    };
    for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
        fx_map s = m;
        fx_map_get(&s, "k")->p = "snp";
        fx_map_get(&s, "k")->n = 3;
        fx_map_add(&s, (fx_field){"c", FV_ARRAY0, 0, NULL, 0});
        ct_buf_reset(&b);
        fx_map_pack(&s, &b);
        b.len--; /* drop 0x90, write [entry, entry] (the good one first) */
        ct_buf_append(&b, "\x92", 1);
        ct_buf_append(&b, ents[0].bytes, ents[0].n);
        ct_buf_append(&b, ents[i].bytes, ents[i].n);
        ct_err e = ct_wire_state_decode(b.data, b.len, &d);
        if (e != ents[i].want) print_error("entry %zu: %s\n", i, ct_err_name(e));
        assert_int_equal(e, ents[i].want);
        if (e == CT_OK) {
            assert_int_equal(d.n_entries, 2);
            assert_int_equal(d.entries[0].value, 5);
        } else {
            assert_null(d.entries); /* nothing leaks on error */
        }
        ct_wire_state_free(&d);
    }
    ct_buf_free(&b);
}

/* "w" in a sub and "f" in an ack: both forms decode, the plain decoders
 * accept them, and the rules (w == 1, f <= s) have their codes. */
static void test_watermark_fields(void **state)
{
    (void)state;
    uint8_t ev[] = {0x81, 0xa1, 0x76, 0x01};
    ct_bytes one = {ev, sizeof ev}, got[2];
    ct_buf b = CT_BUF_INIT;
    uint64_t tok = 0, seq = 0, safe = 0;
    bool want = false, has = true;
    size_t n = 0;
    assert_int_equal(ct_wire_submit_encode_wm(5, &one, 1, true, &b), CT_OK);
    assert_int_equal(ct_wire_submit_decode_wm(b.data, b.len, &tok, &want, got, 2, &n), CT_OK);
    assert_true(want);
    assert_int_equal(tok, 5);
    assert_int_equal(n, 1);
    assert_int_equal(ct_wire_submit_decode(b.data, b.len, &tok, got, 2, &n), CT_OK);
    /* the last two bytes are "w": 1 (a1 77 01): w = 2 is bad_value */
    assert_int_equal(b.data[b.len - 1], 0x01);
    b.data[b.len - 1] = 0x02;
    assert_int_equal(ct_wire_submit_decode_wm(b.data, b.len, &tok, &want, got, 2, &n),
                     CT_ERR_BAD_VALUE);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_submit_encode_wm(5, &one, 1, false, &b), CT_OK);
    assert_int_equal(ct_wire_submit_decode_wm(b.data, b.len, &tok, &want, got, 2, &n), CT_OK);
    assert_false(want);

    ct_ack_item it = {.has_id = false, .status = CT_ACK_ACCEPTED, .code = 0, .seq = 9};
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_ack_encode_wm(1, 10, true, 11, &it, 1, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_wire_ack_encode_wm(1, 10, true, 7, &it, 1, &b), CT_OK);
    ct_ack_item out[2];
    assert_int_equal(ct_wire_ack_decode_wm(b.data, b.len, &tok, &seq, &has, &safe, out, 2, &n),
                     CT_OK);
    assert_true(has);
    assert_int_equal(seq, 10);
    assert_int_equal(safe, 7);
    assert_int_equal(ct_wire_ack_decode(b.data, b.len, &tok, &seq, out, 2, &n), CT_OK);
    /* "f" is last: a1 66 07; f = 11 > s = 10 is bad_value */
    b.data[b.len - 1] = 11;
    assert_int_equal(ct_wire_ack_decode_wm(b.data, b.len, &tok, &seq, &has, &safe, out, 2, &n),
                     CT_ERR_BAD_VALUE);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_ack_encode(1, 10, &it, 1, &b), CT_OK);
    assert_int_equal(ct_wire_ack_decode_wm(b.data, b.len, &tok, &seq, &has, &safe, out, 2, &n),
                     CT_OK);
    assert_false(has);
    ct_buf_free(&b);
}

static void test_repl_messages(void **state)
{
    (void)state;
    uint8_t h[CT_HASH_LEN], h2[CT_HASH_LEN];
    for (int i = 0; i < CT_HASH_LEN; i++)
        h[i] = (uint8_t)i;
    ct_buf b = CT_BUF_INIT;
    uint64_t s = 0;
    assert_int_equal(ct_wire_repl_req_encode(42, h, &b), CT_OK);
    assert_int_equal(ct_wire_repl_req_decode(b.data, b.len, &s, h2), CT_OK);
    assert_int_equal(s, 42);
    assert_memory_equal(h, h2, CT_HASH_LEN);
    ct_msg_kind k;
    assert_int_equal(ct_wire_peek_kind(b.data, b.len, &k), CT_OK);
    assert_int_equal(k, CT_MSG_REPL_REQ);
    /* a hash of 31 bytes: bad_value */
    b.data[b.len - CT_HASH_LEN - 1] = 31;
    assert_int_equal(ct_wire_repl_req_decode(b.data, b.len - 1, &s, h2), CT_ERR_BAD_VALUE);

    uint8_t r1[] = {0x95, 0x01}, r2[CT_WIRE_MAX_RECORD + 1];
    memset(r2, 0xaa, sizeof r2);
    ct_bytes recs[2] = {{r1, sizeof r1}, {r2, CT_WIRE_MAX_RECORD}}, got[4];
    ct_wire_repl_batch rb = {
        .prev_seq = 7, .committed = 9, .safe = 8, .time_ms = 5, .recs = recs, .n = 2};
    memcpy(rb.prev_head, h, CT_HASH_LEN);
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_OK);
    ct_wire_repl_batch d;
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 4), CT_OK);
    assert_int_equal(d.prev_seq, 7);
    assert_int_equal(d.committed, 9);
    assert_int_equal(d.safe, 8);
    assert_int_equal(d.time_ms, 5);
    assert_int_equal(d.n, 2);
    assert_memory_equal(d.prev_head, h, CT_HASH_LEN);
    assert_int_equal(d.recs[1].len, CT_WIRE_MAX_RECORD);
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 1), CT_ERR_TOO_MANY);
    assert_int_equal(ct_wire_state_decode(b.data, b.len, &(ct_wire_state){0}), CT_ERR_BAD_KIND);
    /* committed below p + n, safe above committed, a record too long */
    rb.committed = 8;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_ERR_BAD_VALUE);
    rb.committed = 9;
    rb.safe = 10;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_ERR_BAD_VALUE);
    rb.safe = 8;
    recs[1].len = CT_WIRE_MAX_RECORD + 1;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_ERR_BAD_VALUE);
    /* hand-made frames: r not an array, a record that is a str, an empty
     * record, and c < p + n */
    static const uint8_t hdr[] = {0x88, 0xa1, 0x76, 0x01, 0xa1, 0x6b, 0xa2, 0x72, 0x62,
                                  0xa1, 0x70, 0x07, 0xa2, 0x70, 0x68, 0xc4, 0x20};
    const struct {
        uint8_t c;
        uint8_t tail[4];
        size_t tl;
        ct_err want;
    } cases[] = {
        {9, {0x01}, 1, CT_ERR_WRONG_TYPE},
        {9, {0x91, 0xa1, 0x41}, 3, CT_ERR_WRONG_TYPE},
        {9, {0x91, 0xc4, 0x00}, 3, CT_ERR_BAD_VALUE},
        {7, {0x91, 0xc4, 0x01, 0x00}, 4, CT_ERR_BAD_VALUE},
        {8, {0x91, 0xc4, 0x01, 0x00}, 4, CT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_buf_reset(&b);
        ct_buf_append(&b, hdr, sizeof hdr);
        ct_buf_append(&b, h, CT_HASH_LEN);
        uint8_t mid[] = {0xa1, 0x63, cases[i].c, 0xa1, 0x66, 0x00, 0xa1, 0x74, 0x00, 0xa1, 0x72};
        ct_buf_append(&b, mid, sizeof mid);
        ct_buf_append(&b, cases[i].tail, cases[i].tl);
        assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 4), cases[i].want);
    }
    ct_buf_free(&b);
}

/* "rb" with "ci"/"cf": the primary's campaign travels with its records. */
static void test_repl_batch_campaign(void **state)
{
    (void)state;
    ct_buf b = {0};
    uint8_t r1[] = {0x95, 0x01};
    ct_bytes recs[1] = {{r1, sizeof r1}}, got[2];
    ct_wire_repl_batch rb = {.prev_seq = 1,
                             .committed = 2,
                             .safe = 1,
                             .recs = recs,
                             .n = 1,
                             .campaign_id = "lamdong-2023",
                             .campaign_id_len = 12};
    memset(rb.fingerprint, 0x5a, CT_HASH_LEN);
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_OK);
    ct_wire_repl_batch d;
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 2), CT_OK);
    assert_int_equal(d.campaign_id_len, 12);
    assert_memory_equal(d.campaign_id, "lamdong-2023", 12);
    assert_memory_equal(d.fingerprint, rb.fingerprint, CT_HASH_LEN);
    /* "ci" without "cf": the frame ends with "cf" bin 32 (2 + 1 + 2 + 32 bytes);
     * drop it and lower the map count */
    ct_buf c = {0};
    ct_buf_append(&c, b.data, b.len - 37);
    assert_int_equal(c.data[0], 0x8a);
    c.data[0] = 0x89;
    assert_int_equal(ct_wire_repl_batch_decode(c.data, c.len, &d, got, 2), CT_ERR_MISSING_FIELD);
    /* absent: decoded as NULL */
    rb.campaign_id = NULL;
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_OK);
    assert_int_equal(ct_wire_repl_batch_decode(b.data, b.len, &d, got, 2), CT_OK);
    assert_null(d.campaign_id);
    /* an id longer than a campaign id */
    rb.campaign_id = "0123456789012345678901234567890123";
    rb.campaign_id_len = 34;
    assert_int_equal(ct_wire_repl_batch_encode(&rb, &b), CT_ERR_BAD_VALUE);
    ct_buf_free(&c);
    ct_buf_free(&b);
}

/* First occurrence of needle in hay, or NULL. */
static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* The ack to a sub without "w": 3-element items, no "f", no "ep" (the bytes
 * a client of the release before the watermark decodes); with "w": q, f, ep. */
static void test_ack_reply_forms(void **state)
{
    (void)state;
    ct_buf b = {0};
    ct_ack_item it[2] = {{.has_id = true, .status = CT_ACK_ACCEPTED, .seq = 9},
                         {.has_id = false, .status = CT_ACK_REJECTED, .code = 3}};
    memset(it[0].id, 0x11, CT_EVENT_ID_LEN);
    assert_int_equal(ct_wire_ack_encode_reply(5, 9, false, 7, 2, it, 2, &b), CT_OK);
    /* map of 5: v k n s r */
    assert_int_equal(b.data[0], 0x85);
    static const uint8_t r_key[] = {0xa1, 'r', 0x92, 0x93, 0xc4, CT_EVENT_ID_LEN};
    const uint8_t *r = find_bytes(b.data, b.len, r_key, sizeof r_key);
    assert_non_null(r);
    size_t item1 = (size_t)(r - b.data) + sizeof r_key + CT_EVENT_ID_LEN + 2; /* status, code */
    static const uint8_t second[] = {0x93, 0xc0, 0x02, 0x03};
    assert_int_equal(b.len, item1 + sizeof second);
    assert_memory_equal(b.data + item1, second, sizeof second);
    uint64_t tok, seq, safe, ep;
    bool has_safe;
    ct_ack_item got[2];
    size_t n;
    assert_int_equal(
        ct_wire_ack_decode_ep(b.data, b.len, &tok, &seq, &has_safe, &safe, &ep, got, 2, &n), CT_OK);
    assert_false(has_safe);
    assert_int_equal(ep, 0);
    assert_int_equal(got[0].seq, 0);
    /* with "w": fixarray 4, f and ep */
    ct_buf_reset(&b);
    assert_int_equal(ct_wire_ack_encode_reply(5, 9, true, 7, 2, it, 2, &b), CT_OK);
    assert_int_equal(b.data[0], 0x87);
    static const uint8_t r4[] = {0xa1, 'r', 0x92, 0x94};
    assert_non_null(find_bytes(b.data, b.len, r4, sizeof r4));
    assert_int_equal(
        ct_wire_ack_decode_ep(b.data, b.len, &tok, &seq, &has_safe, &safe, &ep, got, 2, &n), CT_OK);
    assert_true(has_safe);
    assert_int_equal(safe, 7);
    assert_int_equal(ep, 2);
    assert_int_equal(got[0].seq, 9);
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_round_trip),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_error_round_trip),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_snapreq),
        cmocka_unit_test(test_wire_header_rejections),
        cmocka_unit_test(test_ack_rejections),
        cmocka_unit_test(test_error_rejections),
        cmocka_unit_test(test_state_rejections),
        cmocka_unit_test(test_watermark_fields),
        cmocka_unit_test(test_repl_messages),
        cmocka_unit_test(test_state_campaign),
        cmocka_unit_test(test_repl_batch_campaign),
        cmocka_unit_test(test_ack_reply_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
