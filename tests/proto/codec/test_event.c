/* test_event.c — the event codec: round trip of every field with every
 * combination of optional fields, canonical re-encoding, encoder refusals,
 * and every decoder rejection with its exact code (wrong type for every key,
 * missing required keys, unknown/duplicate keys, caps, UTF-8, values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>

#include "codec_fixtures.h"

static void assert_event_eq(const ct_event *a, const ct_event *b)
{
    assert_memory_equal(a->id, b->id, CT_EVENT_ID_LEN);
    assert_int_equal(a->occurred_ms, b->occurred_ms);
    assert_string_equal(a->campaign, b->campaign);
    assert_int_equal(a->district, b->district);
    assert_string_equal(a->commune, b->commune);
    assert_string_equal(a->agent, b->agent);
    assert_int_equal(a->program, b->program);
    assert_int_equal(a->action, b->action);
    assert_memory_equal(a->person, b->person, CT_PERSON_LEN);
    assert_int_equal(a->has_months, b->has_months);
    if (a->has_months) assert_int_equal(a->months, b->months);
    assert_int_equal(a->has_amount, b->has_amount);
    if (a->has_amount) assert_true(a->amount_vnd == b->amount_vnd);
    assert_string_equal(a->group, b->group);
}

static ct_err decode_map(const fx_map *m)
{
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(m, &b);
    ct_event ev;
    ct_err e = ct_event_decode(b.data, b.len, &ev, NULL);
    ct_buf_free(&b);
    return e;
}

/* Every combination of the 4 optional fields, both programs and actions. */
static void test_round_trip_all_combinations(void **state)
{
    (void)state;
    for (unsigned mask = 0; mask < 64; mask++) {
        ct_event e = fx_event(true);
        if (!(mask & 1)) e.commune[0] = '\0';
        if (!(mask & 2)) e.has_months = false, e.months = 0;
        if (!(mask & 4)) e.has_amount = false, e.amount_vnd = 0;
        if (!(mask & 8)) e.group[0] = '\0';
        e.program = (mask & 16) ? CT_PROGRAM_BHYT_HGD : CT_PROGRAM_BHXH_TN;
        e.action = (mask & 32) ? CT_ACTION_CANCEL : CT_ACTION_ENROLL;
        ct_buf b = CT_BUF_INIT;
        assert_int_equal(ct_event_encode(&e, &b), CT_OK);
        ct_event d;
        memset(&d, 0x5a, sizeof d); /* garbage: the decoder must reset optional fields */
        bool idk = false;
        assert_int_equal(ct_event_decode(b.data, b.len, &d, &idk), CT_OK);
        assert_true(idk);
        assert_event_eq(&e, &d);
        /* canonical: encode(decode(b)) == b */
        ct_buf b2 = CT_BUF_INIT;
        assert_int_equal(ct_event_encode(&d, &b2), CT_OK);
        assert_int_equal(b.len, b2.len);
        assert_memory_equal(b.data, b2.data, b.len);
        ct_buf_free(&b);
        ct_buf_free(&b2);
    }
}

/* Extremes: maximal strings (Vietnamese UTF-8), maximal integers, the 1..600 range. */
static void test_round_trip_extremes(void **state)
{
    (void)state;
    ct_event e = fx_event(true);
    memset(e.campaign, 'c', CT_CAMPAIGN_ID_MAX);
    e.campaign[CT_CAMPAIGN_ID_MAX] = '\0';
    /* "Đ" is 2 bytes: 48 of them = 96 bytes exactly */
    e.commune[0] = '\0';
    for (int i = 0; i < 48; i++)
        strcat(e.commune, "Đ");
    assert_int_equal(strlen(e.commune), CT_COMMUNE_MAX);
    memset(e.agent, 'a', CT_AGENT_ID_MAX);
    e.agent[CT_AGENT_ID_MAX] = '\0';
    memset(e.group, 'g', CT_GROUP_MAX);
    e.group[CT_GROUP_MAX] = '\0';
    e.occurred_ms = INT64_MAX;
    e.amount_vnd = UINT64_MAX;
    e.district = 65535;
    uint64_t seqs[] = {0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, UINT64_MAX};
    uint32_t months[] = {1, 127, 128, 600};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        ct_event_id_make(e.id, fx_origin, seqs[i]);
        assert_true(ct_event_id_seq(e.id) == seqs[i]);
        e.months = months[i % 4];
        ct_buf b = CT_BUF_INIT;
        assert_int_equal(ct_event_encode(&e, &b), CT_OK);
        assert_true(b.len <= CT_EVENT_MAX_BYTES);
        ct_event d;
        assert_int_equal(ct_event_decode(b.data, b.len, &d, NULL), CT_OK);
        assert_event_eq(&e, &d);
        ct_buf_free(&b);
    }
    /* small integers use the smallest encodings: t=0 is one byte */
    e = fx_event(false);
    e.occurred_ms = 0;
    e.district = 1;
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_event_encode(&e, &b), CT_OK);
    ct_event d;
    assert_int_equal(ct_event_decode(b.data, b.len, &d, NULL), CT_OK);
    assert_event_eq(&e, &d);
    /* 9 keys; "t" then fixint 0 */
    assert_int_equal(b.data[0], 0x89);
    const uint8_t t0[] = {0xa1, 't', 0x00};
    bool found = false;
    for (size_t i = 0; i + sizeof t0 <= b.len; i++)
        if (memcmp(b.data + i, t0, sizeof t0) == 0) found = true;
    assert_true(found);
    ct_buf_free(&b);
}

/* The field-list builder reproduces ct_event_encode byte for byte. */
static void test_fixture_matches_encoder(void **state)
{
    (void)state;
    fx_map m = fx_event_map();
    ct_buf a = CT_BUF_INIT, b = CT_BUF_INIT;
    fx_map_pack(&m, &a);
    fx_encode_event(true, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    ct_buf_free(&a);
    ct_buf_free(&b);
}

static void test_encoder_refuses_invalid(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    ct_event e;
    e = fx_event(true), e.campaign[0] = '\0';
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.agent[0] = '\0';
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.program = (ct_program)2;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.action = (ct_action)7;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.months = 0;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.months = 601;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.occurred_ms = -1;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.district = 0;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), e.district = 65536;
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), memcpy(e.agent, "\xc3\x28", 3);
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    e = fx_event(true), memset(e.group, 'g', sizeof e.group); /* not terminated */
    assert_int_equal(ct_event_encode(&e, &b), CT_ERR_BAD_VALUE);
    assert_int_equal(b.len, 0); /* nothing appended */
    ct_buf_free(&b);
}

static void test_missing_each_required(void **state)
{
    (void)state;
    const char *req[] = {"v", "id", "t", "c", "d", "a", "p", "x", "h"};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        fx_map m = fx_event_map();
        fx_map_del(&m, req[i]);
        assert_int_equal(decode_map(&m), CT_ERR_MISSING_FIELD);
    }
    const char *opt[] = {"w", "m", "amt", "g"};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        fx_map m = fx_event_map();
        fx_map_del(&m, opt[i]);
        assert_int_equal(decode_map(&m), CT_OK);
    }
}

/* A wrong type for every key: each non-matching msgpack type gives wrong_type. */
static void test_wrong_type_every_key(void **state)
{
    (void)state;
    const char *keys[] = {"v", "id", "t", "c", "d", "w", "a", "p", "x", "h", "m", "amt", "g"};
    const fv_type types[] = {FV_UINT,  FV_NEG,  FV_STR,    FV_BIN, FV_NIL,
                             FV_FLOAT, FV_BOOL, FV_ARRAY0, FV_MAP0};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        fx_map base = fx_event_map();
        fv_type right = fx_map_get(&base, keys[k])->t;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            if (types[t] == right) continue;
            fx_map m = base;
            fx_field *f = fx_map_get(&m, keys[k]);
            f->t = types[t];
            f->u = 1;
            f->p = "x";
            f->n = 1;
            ct_err e = decode_map(&m);
            if (e != CT_ERR_WRONG_TYPE)
                print_error("key %s type %zu: %s\n", keys[k], t, ct_err_name(e));
            assert_int_equal(e, CT_ERR_WRONG_TYPE);
        }
    }
}

static void test_values(void **state)
{
    (void)state;
    struct {
        const char *key;
        fx_field f;
        ct_err want;
    } cases[] = {
        {"v", {"v", FV_UINT, 2, NULL, 0}, CT_ERR_BAD_VERSION},
        {"v", {"v", FV_UINT, 0, NULL, 0}, CT_ERR_BAD_VERSION},
        {"id", {"id", FV_BIN, 0, "0123456789abcde", 15}, CT_ERR_BAD_ID},
        {"id", {"id", FV_BIN, 0, "0123456789abcdefg", 17}, CT_ERR_BAD_ID},
        {"id", {"id", FV_BIN, 0, "", 0}, CT_ERR_BAD_ID},
        {"h", {"h", FV_BIN, 0, "0123456789abcdef0123456789abcde", 31}, CT_ERR_BAD_PERSON},
        {"h", {"h", FV_BIN, 0, "0123456789abcdef0123456789abcdef!", 33}, CT_ERR_BAD_PERSON},
        {"p", {"p", FV_STR, 0, "bhyt", 4}, CT_ERR_UNKNOWN_PROGRAM},
        {"p", {"p", FV_STR, 0, "BHXH_TN", 7}, CT_ERR_UNKNOWN_PROGRAM},
        {"p", {"p", FV_STR, 0, "", 0}, CT_ERR_UNKNOWN_PROGRAM},
        {"x", {"x", FV_STR, 0, "enrol", 5}, CT_ERR_BAD_VALUE},
        {"x", {"x", FV_STR, 0, "", 0}, CT_ERR_BAD_VALUE},
        {"c", {"c", FV_STR, 0, "", 0}, CT_ERR_BAD_VALUE},
        {"a", {"a", FV_STR, 0, "", 0}, CT_ERR_BAD_VALUE},
        {"w", {"w", FV_STR, 0, "", 0}, CT_ERR_BAD_VALUE},
        {"g", {"g", FV_STR, 0, "", 0}, CT_ERR_BAD_VALUE},
        {"m", {"m", FV_UINT, 0, NULL, 0}, CT_ERR_BAD_VALUE},
        {"m", {"m", FV_UINT, 601, NULL, 0}, CT_ERR_BAD_VALUE},
        {"m", {"m", FV_UINT, 600, NULL, 0}, CT_OK},
        {"m", {"m", FV_UINT, 1, NULL, 0}, CT_OK},
        {"m", {"m", FV_UINT, UINT64_MAX, NULL, 0}, CT_ERR_BAD_VALUE},
        {"d", {"d", FV_UINT, 0, NULL, 0}, CT_ERR_BAD_VALUE},
        {"d", {"d", FV_UINT, 65536, NULL, 0}, CT_ERR_BAD_VALUE},
        {"t", {"t", FV_UINT, (uint64_t)INT64_MAX + 1, NULL, 0}, CT_ERR_BAD_VALUE},
        {"amt", {"amt", FV_UINT, UINT64_MAX, NULL, 0}, CT_OK},
        {"amt", {"amt", FV_UINT, 0, NULL, 0}, CT_OK},
        {"c", {"c", FV_STR, 0, "123456789012345678901234567890123", 33}, CT_ERR_STRING_TOO_LONG},
        {"a", {"a", FV_STR, 0, "123456789012345678901234567890123", 33}, CT_ERR_STRING_TOO_LONG},
        {"g", {"g", FV_STR, 0, "123456789012345678901234567890123", 33}, CT_ERR_STRING_TOO_LONG},
        {"c", {"c", FV_STR, 0, "\xff", 1}, CT_ERR_BAD_UTF8},
        {"w", {"w", FV_STR, 0, "Ph\xc6", 3}, CT_ERR_BAD_UTF8},
        {"a", {"a", FV_STR, 0, "\xc0\x80", 2}, CT_ERR_BAD_UTF8},
        {"g", {"g", FV_STR, 0, "\xed\xa0\x80", 3}, CT_ERR_BAD_UTF8},
        {"a", {"a", FV_STR, 0, "LD\0x", 4}, CT_ERR_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_map m = fx_event_map();
        *fx_map_get(&m, cases[i].key) = cases[i].f;
        ct_err e = decode_map(&m);
        if (e != cases[i].want) print_error("case %zu: %s\n", i, ct_err_name(e));
        assert_int_equal(e, cases[i].want);
    }
    /* commune cap is 96 */
    char w97[98];
    memset(w97, 'w', 97);
    fx_map m = fx_event_map();
    *fx_map_get(&m, "w") = (fx_field){"w", FV_STR, 0, w97, 97};
    assert_int_equal(decode_map(&m), CT_ERR_STRING_TOO_LONG);
    fx_map_get(&m, "w")->n = 96;
    assert_int_equal(decode_map(&m), CT_OK);
}

static void test_keys_unknown_dup(void **state)
{
    (void)state;
    fx_map m = fx_event_map();
    fx_map_add(&m, (fx_field){"zz", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_map(&m), CT_ERR_UNKNOWN_KEY);
    m = fx_event_map();
    fx_map_add(&m, (fx_field){"V", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_map(&m), CT_ERR_UNKNOWN_KEY);
    m = fx_event_map();
    fx_map_add(&m, (fx_field){"", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_map(&m), CT_ERR_UNKNOWN_KEY);
    m = fx_event_map();
    fx_map_add(&m, (fx_field){"id", FV_BIN, 0, fx_id_bytes, 16}); /* same value */
    assert_int_equal(decode_map(&m), CT_ERR_DUP_KEY);
    m = fx_event_map();
    fx_map_add(&m, (fx_field){"g", FV_STR, 0, "other", 5});
    assert_int_equal(decode_map(&m), CT_ERR_DUP_KEY);
    /* the version decides first: an unknown key in a v2 event is bad_version */
    m = fx_event_map();
    fx_map_get(&m, "v")->u = 2;
    fx_map_add(&m, (fx_field){"new", FV_UINT, 1, NULL, 0});
    assert_int_equal(decode_map(&m), CT_ERR_BAD_VERSION);

    /* a non-string key (uint 1) is unknown */
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(&(fx_map){.n = 0}, &b);
    uint8_t raw[] = {0x81, 0x01, 0x01};
    ct_event ev;
    assert_int_equal(ct_event_decode(raw, sizeof raw, &ev, NULL), CT_ERR_UNKNOWN_KEY);
    ct_buf_free(&b);
}

/* id_known: set whenever "id" is a valid bin16, even if something else is wrong. */
static void test_id_known_on_error(void **state)
{
    (void)state;
    fx_map m = fx_event_map();
    fx_map_get(&m, "p")->p = "nope";
    fx_map_get(&m, "p")->n = 4;
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(&m, &b);
    ct_event ev;
    bool idk = false;
    assert_int_equal(ct_event_decode(b.data, b.len, &ev, &idk), CT_ERR_UNKNOWN_PROGRAM);
    assert_true(idk);
    assert_memory_equal(ev.id, fx_id_bytes, 16);
    ct_buf_free(&b);
    /* id after the faulty key in map order: still known */
    m = fx_event_map();
    fx_field idf = *fx_map_get(&m, "id");
    fx_map_del(&m, "id");
    fx_map_get(&m, "t")->t = FV_STR;
    fx_map_add(&m, idf);
    b = (ct_buf)CT_BUF_INIT;
    fx_map_pack(&m, &b);
    idk = false;
    assert_int_equal(ct_event_decode(b.data, b.len, &ev, &idk), CT_ERR_WRONG_TYPE);
    assert_true(idk);
    ct_buf_free(&b);
    /* bad id: not known */
    m = fx_event_map();
    fx_map_get(&m, "id")->n = 8;
    b = (ct_buf)CT_BUF_INIT;
    fx_map_pack(&m, &b);
    idk = true;
    assert_int_equal(ct_event_decode(b.data, b.len, &ev, &idk), CT_ERR_BAD_ID);
    assert_false(idk);
    ct_buf_free(&b);
}

static void test_frame_level(void **state)
{
    (void)state;
    ct_event ev;
    assert_int_equal(ct_event_decode(NULL, 0, &ev, NULL), CT_ERR_FRAME_EMPTY);
    uint8_t one = 0x80;
    assert_int_equal(ct_event_decode(&one, 0, &ev, NULL), CT_ERR_FRAME_EMPTY);
    assert_int_equal(ct_event_decode(&one, 1, &ev, NULL), CT_ERR_MISSING_FIELD); /* {} */
    uint8_t big[CT_EVENT_MAX_BYTES + 1];
    memset(big, 0, sizeof big);
    assert_int_equal(ct_event_decode(big, sizeof big, &ev, NULL), CT_ERR_FRAME_TOO_LARGE);
    /* a large commune still fits: the limit is on the frame */
    ct_buf b = CT_BUF_INIT;
    fx_encode_event(true, &b);
    ct_buf_append(&b, "\x00", 1);
    assert_int_equal(ct_event_decode(b.data, b.len, &ev, NULL), CT_ERR_TRAILING_BYTES);
    /* two events back to back */
    size_t l = b.len - 1;
    b.len = l;
    ct_buf_append(&b, b.data, l);
    assert_int_equal(ct_event_decode(b.data, b.len, &ev, NULL), CT_ERR_TRAILING_BYTES);
    ct_buf_free(&b);
    uint8_t arr[] = {0x91, 0x01};
    assert_int_equal(ct_event_decode(arr, sizeof arr, &ev, NULL), CT_ERR_NOT_MAP);
    uint8_t str[] = {0xa1, 'v'};
    assert_int_equal(ct_event_decode(str, sizeof str, &ev, NULL), CT_ERR_NOT_MAP);
    uint8_t c1[] = {0xc1};
    assert_int_equal(ct_event_decode(c1, sizeof c1, &ev, NULL), CT_ERR_MALFORMED);
}

static void test_names(void **state)
{
    (void)state;
    ct_program p;
    ct_action a;
    assert_int_equal(ct_program_parse("bhyt_hgd", &p), CT_OK);
    assert_int_equal(p, CT_PROGRAM_BHYT_HGD);
    assert_int_equal(ct_program_parse("bhyt_hgdx", &p), CT_ERR_UNKNOWN_PROGRAM);
    assert_int_equal(ct_program_parse(NULL, &p), CT_ERR_UNKNOWN_PROGRAM);
    assert_string_equal(ct_program_name(CT_PROGRAM_BHXH_TN), "bhxh_tn");
    assert_string_equal(ct_program_label(CT_PROGRAM_BHYT_HGD), "BHYT hộ gia đình");
    assert_int_equal(ct_action_parse("cancel", &a), CT_OK);
    assert_int_equal(a, CT_ACTION_CANCEL);
    assert_int_equal(ct_action_parse("Cancel", &a), CT_ERR_BAD_VALUE);
    assert_string_equal(ct_action_name(CT_ACTION_ENROLL), "enroll");
    uint8_t id[16], id2[16];
    ct_event_id_make(id, fx_origin, 0x0102030405060708ull);
    char hex[33];
    ct_event_id_hex(id, hex);
    assert_string_equal(hex, "4c443637320001020102030405060708");
    assert_int_equal(ct_event_id_parse_hex(hex, id2), CT_OK);
    assert_memory_equal(id, id2, 16);
    assert_int_equal(ct_event_id_parse_hex("4C443637320001020102030405060708", id2), CT_OK);
    assert_int_equal(ct_event_id_parse_hex("4c44363732000102010203040506070", id2), CT_ERR_BAD_ID);
    assert_int_equal(ct_event_id_parse_hex("4c44363732000102010203040506070g", id2), CT_ERR_BAD_ID);
    /* ids sort in creation order */
    uint8_t i1[16], i2[16];
    ct_event_id_make(i1, fx_origin, 255);
    ct_event_id_make(i2, fx_origin, 256);
    assert_true(memcmp(i1, i2, 16) < 0);
}

static void test_utf8(void **state)
{
    (void)state;
    struct {
        const char *s;
        int ok;
    } c[] = {
        {"", 1},
        {"Lâm Đồng", 1},
        {"\x7f", 1},
        {"\xc2\x80", 1},
        {"\xdf\xbf", 1},
        {"\xe0\xa0\x80", 1},
        {"\xef\xbf\xbf", 1},
        {"\xf0\x90\x80\x80", 1},
        {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
        {"\x80", 0},             /* lone continuation */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x80\xaf", 0},     /* overlong 3-byte */
        {"\xe0\x9f\xbf", 0},     /* overlong 3-byte (U+07FF) */
        {"\xf0\x80\x80\xaf", 0}, /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 0}, /* overlong 4-byte (U+FFFF) */
        {"\xed\xa0\x80", 0},     /* surrogate U+D800 */
        {"\xed\xbf\xbf", 0},     /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\xc3", 0},          /* truncated */
        {"\xe1\x80", 0},      /* truncated */
        {"\xf0\x90\x80", 0},  /* truncated */
        {"\xc3\x28", 0},      /* bad continuation */
        {"a\xe2\x82\xac", 1}, /* € */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        assert_int_equal(ct_utf8_valid((const uint8_t *)c[i].s, strlen(c[i].s)), c[i].ok);
    assert_int_equal(ct_utf8_valid((const uint8_t *)"a\0b", 3), 1); /* NUL is valid UTF-8 */
}

/* The per-thread msgpack zone: concurrent decoders do not share state, and a
 * thread's zone is freed when it exits (LeakSanitizer checks this in CI). */
static void *decode_many(void *arg)
{
    const ct_buf *b = arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        ct_event ev;
        if (ct_event_decode(b->data, b->len, &ev, NULL) != CT_OK || ev.district != 672) bad++;
        uint8_t junk[] = {0x81, 0xa1, 'v', 0x02};
        if (ct_event_decode(junk, sizeof junk, &ev, NULL) != CT_ERR_BAD_VERSION) bad++;
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    fx_encode_event(true, &b);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, decode_many, &b), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    ct_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_combinations),
        cmocka_unit_test(test_round_trip_extremes),
        cmocka_unit_test(test_fixture_matches_encoder),
        cmocka_unit_test(test_encoder_refuses_invalid),
        cmocka_unit_test(test_missing_each_required),
        cmocka_unit_test(test_wrong_type_every_key),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_keys_unknown_dup),
        cmocka_unit_test(test_id_known_on_error),
        cmocka_unit_test(test_frame_level),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
