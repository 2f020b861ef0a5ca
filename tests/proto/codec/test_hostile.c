/* test_hostile.c — the hostile corpus against every decoder:
 *   - every truncation of valid frames (event, sub, ack, err, upd, hb, snp,
 *     snq, log record) -> exactly frame_empty / malformed / declared_size;
 *   - crafted frames with the exact code each must give, covering every
 *     code of the frame-decoding range (11..30) at least once;
 *   - 100k random frames from a fixed seed (half raw bytes, half
 *     structure-aware MessagePack built from the protocol's vocabulary);
 *   - single-byte flips of every valid frame at every position.
 * For random input the assertion is "a code from the table, no crash, no
 * leak" (the ASan+UBSan build runs this too); for events that still decode,
 * encode(decode(x)) must decode to the same event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codec_fixtures.h"
#include "ct_keys.h"

/* ---- run one frame through one decoder ---------------------------------- */

enum { D_EVENT, D_SUBMIT, D_ACK, D_ERROR, D_STATE, D_SNAPREQ, D_PEEK, D_LOGREC, D_COUNT };

static ct_err run_decoder(int which, const uint8_t *b, size_t n)
{
    static ct_bytes evs[CT_WIRE_MAX_EVENTS];
    static ct_ack_item items[CT_WIRE_MAX_EVENTS];
    uint64_t tok, seq;
    size_t cnt;
    ct_err e = CT_ERR_INTERNAL;
    switch (which) {
    case D_EVENT: {
        ct_event ev;
        bool idk;
        e = ct_event_decode(b, n, &ev, &idk);
        if (e == CT_OK) { /* re-encode must round trip */
            ct_buf o = CT_BUF_INIT;
            assert_int_equal(ct_event_encode(&ev, &o), CT_OK);
            ct_event ev2;
            assert_int_equal(ct_event_decode(o.data, o.len, &ev2, NULL), CT_OK);
            ct_buf o2 = CT_BUF_INIT;
            assert_int_equal(ct_event_encode(&ev2, &o2), CT_OK);
            assert_int_equal(o.len, o2.len);
            assert_memory_equal(o.data, o2.data, o.len);
            ct_buf_free(&o);
            ct_buf_free(&o2);
        }
        break;
    }
    case D_SUBMIT:
        e = ct_wire_submit_decode(b, n, &tok, evs, CT_WIRE_MAX_EVENTS, &cnt);
        if (e == CT_OK)
            for (size_t i = 0; i < cnt; i++) {
                ct_event ev;
                ct_err ee = ct_event_decode(evs[i].data, evs[i].len, &ev, NULL);
                assert_true(ct_err_known(ee));
            }
        break;
    case D_ACK:
        e = ct_wire_ack_decode(b, n, &tok, &seq, items, CT_WIRE_MAX_EVENTS, &cnt);
        break;
    case D_ERROR: {
        bool has;
        uint16_t code;
        e = ct_wire_error_decode(b, n, &has, &tok, &code);
        break;
    }
    case D_STATE: {
        ct_wire_state st;
        e = ct_wire_state_decode(b, n, &st);
        if (e != CT_OK) assert_null(st.entries);
        ct_wire_state_free(&st);
        break;
    }
    case D_SNAPREQ:
        e = ct_wire_snapreq_decode(b, n);
        break;
    case D_PEEK: {
        ct_msg_kind k;
        e = ct_wire_peek_kind(b, n, &k);
        break;
    }
    case D_LOGREC: {
        ct_logrec r;
        e = ct_logrec_decode(b, n, &r);
        if (e == CT_OK) {
            uint8_t z[32] = {0};
            ct_err c = ct_logrec_check(&r, z);
            assert_true(c == CT_OK || c == CT_ERR_CHAIN);
        }
        break;
    }
    }
    assert_true(ct_err_known(e));
    return e;
}

/* ---- valid frames -------------------------------------------------------- */

typedef struct {
    const char *name;
    int decoder;
    ct_buf b;
} frame;

#define N_FRAMES 11
static frame frames[N_FRAMES];

static int setup_frames(void **state)
{
    (void)state;
    memset(frames, 0, sizeof frames);
    int i = 0;
    frames[i] = (frame){"event-full", D_EVENT, CT_BUF_INIT};
    fx_encode_event(true, &frames[i++].b);
    frames[i] = (frame){"event-min", D_EVENT, CT_BUF_INIT};
    fx_encode_event(false, &frames[i++].b);
    frames[i] = (frame){"submit-3", D_SUBMIT, CT_BUF_INIT};
    fx_encode_submit(3, 77, &frames[i++].b);
    frames[i] = (frame){"ack", D_ACK, CT_BUF_INIT};
    fx_encode_ack(&frames[i++].b);
    frames[i] = (frame){"err", D_ERROR, CT_BUF_INIT};
    ct_wire_error_encode(true, 5, CT_ERR_FORBIDDEN, &frames[i++].b);
    frames[i] = (frame){"upd", D_STATE, CT_BUF_INIT};
    fx_encode_state(CT_MSG_UPDATE, 4, &frames[i++].b);
    frames[i] = (frame){"hb", D_STATE, CT_BUF_INIT};
    fx_encode_state(CT_MSG_HEARTBEAT, 0, &frames[i++].b);
    frames[i] = (frame){"snp", D_STATE, CT_BUF_INIT};
    fx_encode_state(CT_MSG_SNAPSHOT, 6, &frames[i++].b);
    frames[i] = (frame){"snq", D_SNAPREQ, CT_BUF_INIT};
    ct_wire_snapreq_encode(&frames[i++].b);
    frames[i] = (frame){"logrec", D_LOGREC, CT_BUF_INIT};
    fx_encode_logrec(&frames[i++].b, NULL);
    frames[i] = (frame){"submit-peek", D_PEEK, CT_BUF_INIT};
    fx_encode_submit(2, 1, &frames[i++].b);
    assert_int_equal(i, N_FRAMES);
    for (i = 0; i < N_FRAMES; i++)
        if (run_decoder(frames[i].decoder, frames[i].b.data, frames[i].b.len) != CT_OK) return -1;
    return 0;
}

static int teardown_frames(void **state)
{
    (void)state;
    for (int i = 0; i < N_FRAMES; i++)
        ct_buf_free(&frames[i].b);
    return 0;
}

/* Every strict prefix of every valid frame: the exact code set of truncation. */
static void test_truncations(void **state)
{
    (void)state;
    size_t total = 0;
    for (int f = 0; f < N_FRAMES; f++) {
        const ct_buf *b = &frames[f].b;
        for (size_t n = 0; n < b->len; n++) {
            /* copy so ASan sees a read past the prefix */
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, b->data, n);
            for (int d = 0; d < D_COUNT; d++) {
                ct_err e = run_decoder(d, p, n);
                if (n == 0) {
                    assert_int_equal(e, CT_ERR_FRAME_EMPTY);
                } else if (d == frames[f].decoder) {
                    if (e != CT_ERR_MALFORMED && e != CT_ERR_DECLARED_SIZE)
                        print_error("%s prefix %zu: %s\n", frames[f].name, n, ct_err_name(e));
                    assert_true(e == CT_ERR_MALFORMED || e == CT_ERR_DECLARED_SIZE);
                } else {
                    assert_int_not_equal(e, CT_OK);
                }
                total++;
            }
            free(p);
        }
    }
    print_message("truncations: %zu decoder runs\n", total);
}

/* Flip every byte of every valid frame with several masks. */
static void test_byte_flips(void **state)
{
    (void)state;
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x20, 0x40, 0x80, 0xff};
    size_t ok = 0, total = 0;
    for (int f = 0; f < N_FRAMES; f++) {
        const ct_buf *b = &frames[f].b;
        uint8_t *p = malloc(b->len);
        for (size_t i = 0; i < b->len; i++)
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(p, b->data, b->len);
                p[i] ^= masks[m];
                for (int d = 0; d < D_COUNT; d++) {
                    ok += run_decoder(d, p, b->len) == CT_OK;
                    total++;
                }
            }
        free(p);
    }
    print_message("byte flips: %zu decoder runs, %zu still valid\n", total, ok);
}

/* ---- random frames ------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{ /* splitmix64: fixed seed, same corpus on every run */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *const vocab[] = {
    "v",     "k",   "id",  "t",   "c",   "d",       "w",        "a",      "p",      "x",
    "h",     "m",   "amt", "g",   "n",   "e",       "r",        "s",      "sub",    "ack",
    "err",   "upd", "hb",  "snq", "snp", "bhxh_tn", "bhyt_hgd", "enroll", "cancel", "lamdong-2023",
    "Đà Lạt"};

static void gen_obj(msgpack_packer *pk, int depth)
{
    static const uint8_t bytes[64] = {1, 2, 3};
    unsigned r = (unsigned)(rnd() % (depth > 3 ? 10 : 13));
    switch (r) {
    case 0:
        msgpack_pack_uint64(pk, rnd() % 3);
        break;
    case 1:
        msgpack_pack_uint64(pk, rnd() >> (rnd() % 64));
        break;
    case 2:
        msgpack_pack_int64(pk, -(int64_t)(rnd() % 100000));
        break;
    case 3:
    case 4: {
        const char *s = vocab[rnd() % (sizeof vocab / sizeof vocab[0])];
        msgpack_pack_str(pk, strlen(s));
        msgpack_pack_str_body(pk, s, strlen(s));
        break;
    }
    case 5: {
        size_t n = rnd() % 40;
        char s[40];
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(rnd() % 4 ? 'a' + rnd() % 26 : rnd());
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
        break;
    }
    case 6: {
        static const size_t lens[] = {0, 1, 4, 15, 16, 17, 31, 32, 33, 36, 40};
        size_t n = lens[rnd() % (sizeof lens / sizeof lens[0])];
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, bytes, n);
        break;
    }
    case 7:
        msgpack_pack_nil(pk);
        break;
    case 8:
        msgpack_pack_true(pk);
        break;
    case 9:
        msgpack_pack_double(pk, 0.5);
        break;
    case 10:
    case 11: { /* map with protocol keys */
        size_t n = rnd() % 14;
        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n; i++) {
            const char *k = vocab[rnd() % 18];
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            gen_obj(pk, depth + 1);
        }
        break;
    }
    default: {
        size_t n = rnd() % 5;
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
            gen_obj(pk, depth + 1);
        break;
    }
    }
}

static void test_random_frames(void **state)
{
    (void)state;
    enum { N = 100000 };
    ct_buf b = CT_BUF_INIT;
    size_t codes[128] = {0};
    for (int i = 0; i < N; i++) {
        ct_buf_reset(&b);
        if (i % 2 == 0) {
            size_t n = rnd() % 96;
            ct_buf_reserve(&b, n + 1);
            for (size_t j = 0; j < n; j++)
                b.data[j] = (uint8_t)rnd();
            if (n && rnd() % 2) b.data[0] = (uint8_t)(0x80 | (rnd() % 16)); /* looks like a map */
            b.len = n;
        } else {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &b, ct_buf_msgpack_write);
            if (rnd() % 4) { /* a map that starts like a real message */
                size_t n = 2 + rnd() % 12;
                msgpack_pack_map(&pk, n);
                msgpack_pack_str(&pk, 1);
                msgpack_pack_str_body(&pk, "v", 1);
                msgpack_pack_uint64(&pk, rnd() % 8 ? 1 : 2);
                for (size_t j = 1; j < n; j++) {
                    const char *k = vocab[rnd() % 18];
                    msgpack_pack_str(&pk, strlen(k));
                    msgpack_pack_str_body(&pk, k, strlen(k));
                    gen_obj(&pk, 1);
                }
            } else {
                gen_obj(&pk, 0);
            }
        }
        uint8_t *p = malloc(b.len ? b.len : 1); /* exact-size copy for ASan */
        if (b.len) memcpy(p, b.data, b.len);
        for (int d = 0; d < D_COUNT; d++) {
            ct_err e = run_decoder(d, p, b.len);
            codes[(unsigned)e < 128 ? e : 127]++;
        }
        free(p);
    }
    ct_buf_free(&b);
    print_message("random frames: %d x %d decoders; codes:", N, D_COUNT);
    for (int c = 0; c < 128; c++)
        if (codes[c]) print_message(" %s=%zu", ct_err_name(c), codes[c]);
    print_message("\n");
}

/* ---- crafted frames with exact codes; coverage of 11..30 ---------------- */

typedef struct {
    const char *what;
    int decoder;
    const char *bytes;
    size_t n;
    ct_err want;
} crafted;

#define B(s) s, sizeof(s) - 1

/* A valid submit header up to "e": */
#define SUBHDR                                                                                     \
    "\x84\xa1v\x01\xa1k\xa3sub\xa1n\x01\xa1"                                                       \
    "e"

static const crafted crafted_cases[] = {
    {"empty", D_EVENT, "", 0, CT_ERR_FRAME_EMPTY},
    {"reserved c1", D_EVENT, B("\xc1"), CT_ERR_MALFORMED},
    {"truncated uint32", D_EVENT, B("\x81\xa1t\xce\x00"), CT_ERR_MALFORMED},
    {"trailing", D_EVENT, B("\x80\x80"), CT_ERR_TRAILING_BYTES},
    {"depth 33", D_EVENT,
     B("\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
       "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01"),
     CT_ERR_TOO_DEEP},
    {"depth 9 in a map value", D_EVENT, B("\x81\xa1v\x91\x91\x91\x91\x91\x91\x91\x91\x01"),
     CT_ERR_TOO_DEEP},
    {"array32 of 16M", D_EVENT, B("\xdd\x00\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"str32 of 4G", D_EVENT, B("\xdb\xff\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"bin32 of 4G", D_EVENT, B("\xc6\xff\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"map32 of 4G", D_EVENT, B("\xdf\xff\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"huge array in submit", D_SUBMIT, B(SUBHDR "\xdd\x00\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"huge bin in submit", D_SUBMIT, B(SUBHDR "\x91\xc6\xff\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"huge map in state", D_STATE, B("\xdf\x7f\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"huge array in logrec", D_LOGREC, B("\xdd\xff\xff\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"huge in ack", D_ACK, B("\xde\xff\xff"), CT_ERR_DECLARED_SIZE},
    {"not a map", D_EVENT, B("\x90"), CT_ERR_NOT_MAP},
    {"not a map (wire)", D_PEEK, B("\xa3sub"), CT_ERR_NOT_MAP},
    {"dup key", D_EVENT, B("\x82\xa1v\x01\xa1v\x01"), CT_ERR_DUP_KEY},
    {"unknown key", D_EVENT, B("\x82\xa1v\x01\xa1q\x01"), CT_ERR_UNKNOWN_KEY},
    {"missing fields", D_EVENT, B("\x81\xa1v\x01"), CT_ERR_MISSING_FIELD},
    {"v as str", D_EVENT, B("\x81\xa1v\xa1\x31"), CT_ERR_WRONG_TYPE},
    {"campaign 33", D_EVENT,
     B("\x81\xa1"
       "c\xd9\x21"
       "123456789012345678901234567890123"),
     CT_ERR_STRING_TOO_LONG},
    {"campaign bad utf8", D_EVENT,
     B("\x81\xa1"
       "c\xa2\xc3\x28"),
     CT_ERR_BAD_UTF8},
    {"version 2", D_EVENT, B("\x81\xa1v\x02"), CT_ERR_BAD_VERSION},
    {"months 0", D_EVENT, B("\x81\xa1m\x00"), CT_ERR_BAD_VALUE},
    {"id 3 bytes", D_EVENT, B("\x81\xa2id\xc4\x03\x01\x02\x03"), CT_ERR_BAD_ID},
    {"person 2 bytes", D_EVENT, B("\x81\xa1h\xc4\x02\x01\x02"), CT_ERR_BAD_PERSON},
    {"program", D_EVENT, B("\x81\xa1p\xa4xxxx"), CT_ERR_UNKNOWN_PROGRAM},
    {"kind", D_PEEK, B("\x82\xa1v\x01\xa1k\xa3zzz"), CT_ERR_BAD_KIND},
    {"kind mismatch", D_SUBMIT, B("\x82\xa1v\x01\xa1k\xa3snq"), CT_ERR_BAD_KIND},
    {"too many keys", D_EVENT,
     B("\xde\x00\x41"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
       "\x01\x01"),
     CT_ERR_TOO_MANY},
    {"submit of 4097", D_SUBMIT, NULL, 0, CT_ERR_TOO_MANY},         /* built at run time */
    {"event 1025 bytes", D_EVENT, NULL, 0, CT_ERR_FRAME_TOO_LARGE}, /* built at run time */
};

static void test_crafted(void **state)
{
    (void)state;
    bool hit[64] = {false};
    for (size_t i = 0; i < sizeof crafted_cases / sizeof crafted_cases[0]; i++) {
        const crafted *c = &crafted_cases[i];
        ct_buf b = CT_BUF_INIT;
        if (c->bytes) {
            ct_buf_append(&b, c->bytes, c->n);
        } else if (c->want == CT_ERR_TOO_MANY) { /* sub with 4097 one-byte bins */
            ct_buf_append(&b, SUBHDR "\xdc\x10\x01", sizeof(SUBHDR) + 2);
            for (int j = 0; j < 4097; j++)
                ct_buf_append(&b, "\xc4\x01\x80", 3);
        } else {
            ct_buf_reserve(&b, CT_EVENT_MAX_BYTES + 1);
            memset(b.data, 0x80, CT_EVENT_MAX_BYTES + 1);
            b.len = CT_EVENT_MAX_BYTES + 1;
        }
        uint8_t *p = malloc(b.len ? b.len : 1);
        if (b.len) memcpy(p, b.data, b.len);
        ct_err e = run_decoder(c->decoder, p, b.len);
        if (e != c->want)
            print_error("%s: got %s want %s\n", c->what, ct_err_name(e), ct_err_name(c->want));
        assert_int_equal(e, c->want);
        hit[e] = true;
        free(p);
        ct_buf_free(&b);
    }
    /* bad_national_id (30) comes from the person hash, not a frame */
    uint8_t key[CT_PERSON_KEY_BYTES] = {0}, h[CT_PERSON_LEN];
    ct_err e = ct_person_hash(key, "12345", h);
    assert_int_equal(e, CT_ERR_BAD_NATIONAL_ID);
    hit[e] = true;
    for (int c = CT_ERR_FRAME_EMPTY; c <= CT_ERR_BAD_NATIONAL_ID; c++) {
        if (!ct_err_known(c)) continue;
        if (!hit[c]) print_error("decoding code %d (%s) not covered\n", c, ct_err_name(c));
        assert_true(hit[c]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crafted),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_random_frames),
    };
    return cmocka_run_group_tests(tests, setup_frames, teardown_frames);
}
