/* test_life.c — the life-entry codec (docs/PROTOCOL.md §2.2): round trip of
 * every kind and every combination of a correction's optional keys,
 * canonical re-encoding, encoder refusals, every decoder rejection with its
 * exact code (wrong type, range, empty, too long, bad UTF-8, NUL, unknown,
 * duplicate, keys in another order, missing), the id reported when read, and
 * the dispatch between life entries and events (ct_entry_decode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codec_fixtures.h"
#include "ct_life.h"

static const ct_life_kind all_kinds[] = {CT_LIFE_VOID,  CT_LIFE_CORRECT, CT_LIFE_TARGET,
                                         CT_LIFE_CLOSE, CT_LIFE_REOPEN,  CT_LIFE_REORG};
#define N_KINDS 6

static uint8_t lx_id[CT_EVENT_ID_LEN], lx_eid[CT_EVENT_ID_LEN], lx_person[CT_PERSON_LEN];

/* A typical entry of each kind, every optional key present. */
static ct_life lx_life(ct_life_kind k)
{
    ct_life l;
    memset(&l, 0, sizeof l);
    l.kind = k;
    ct_event_id_make(l.id, fx_origin, 43);
    l.issued_ms = 1690100000000;
    strcpy(l.campaign, "lamdong-2023");
    strcpy(l.actor, "LD672-001");
    strcpy(l.reason, "nhập nhầm cán bộ");
    switch (k) {
    case CT_LIFE_VOID:
    case CT_LIFE_CORRECT:
        l.district = 672;
        l.program = CT_PROGRAM_BHXH_TN;
        for (int i = 0; i < CT_PERSON_LEN; i++)
            l.person[i] = (uint8_t)(0xa0 + i);
        ct_event_id_make(l.target_id, fx_origin, 42);
        l.target_seq = 1;
        if (k == CT_LIFE_CORRECT) {
            l.has_new_program = true;
            l.new_program = CT_PROGRAM_BHYT_HGD;
            l.has_new_agent = true;
            strcpy(l.new_agent, "LD672-008");
            l.has_new_commune = true;
            strcpy(l.new_commune, "Phường 2");
            l.has_new_group = true;
            strcpy(l.new_group, "nq143");
        }
        break;
    case CT_LIFE_TARGET:
        l.district = 672;
        l.program = CT_PROGRAM_BHYT_HGD;
        l.target = 1500;
        l.effective_ms = 1689958800000;
        break;
    case CT_LIFE_CLOSE:
    case CT_LIFE_REOPEN:
        l.district = 0;
        l.day = 20230722;
        break;
    case CT_LIFE_REORG:
        strcpy(l.reorg, "merge-672-683");
        l.effective_ms = 1690300000000;
        break;
    }
    memcpy(lx_id, l.id, sizeof lx_id);
    memcpy(lx_eid, l.target_id, sizeof lx_eid);
    memcpy(lx_person, l.person, sizeof lx_person);
    return l;
}

#define S(str) FV_STR, 0, str, sizeof(str) - 1
#define U(v) FV_UINT, v, NULL, 0

/* The same entry as a field list in canonical order. */
static fx_map lx_map(ct_life_kind k)
{
    ct_life l = lx_life(k);
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"k", FV_STR, 0, ct_life_kind_name(k), strlen(ct_life_kind_name(k))});
    fx_map_add(&m, (fx_field){"v", U(1)});
    fx_map_add(&m, (fx_field){"id", FV_BIN, 0, lx_id, CT_EVENT_ID_LEN});
    fx_map_add(&m, (fx_field){"t", U((uint64_t)l.issued_ms)});
    fx_map_add(&m, (fx_field){"c", S("lamdong-2023")});
    fx_map_add(&m, (fx_field){"by", S("LD672-001")});
    fx_map_add(&m, (fx_field){"r", S("nhập nhầm cán bộ")});
    switch (k) {
    case CT_LIFE_VOID:
    case CT_LIFE_CORRECT:
        fx_map_add(&m, (fx_field){"d", U(672)});
        fx_map_add(&m, (fx_field){"p", S("bhxh_tn")});
        fx_map_add(&m, (fx_field){"h", FV_BIN, 0, lx_person, CT_PERSON_LEN});
        fx_map_add(&m, (fx_field){"e", FV_BIN, 0, lx_eid, CT_EVENT_ID_LEN});
        fx_map_add(&m, (fx_field){"q", U(1)});
        if (k == CT_LIFE_CORRECT) {
            fx_map_add(&m, (fx_field){"np", S("bhyt_hgd")});
            fx_map_add(&m, (fx_field){"a", S("LD672-008")});
            fx_map_add(&m, (fx_field){"w", S("Phường 2")});
            fx_map_add(&m, (fx_field){"g", S("nq143")});
        }
        break;
    case CT_LIFE_TARGET:
        fx_map_add(&m, (fx_field){"d", U(672)});
        fx_map_add(&m, (fx_field){"p", S("bhyt_hgd")});
        fx_map_add(&m, (fx_field){"n", U(1500)});
        fx_map_add(&m, (fx_field){"ef", U(1689958800000)});
        break;
    case CT_LIFE_CLOSE:
    case CT_LIFE_REOPEN:
        fx_map_add(&m, (fx_field){"d", U(0)});
        fx_map_add(&m, (fx_field){"day", U(20230722)});
        break;
    case CT_LIFE_REORG:
        fx_map_add(&m, (fx_field){"n", S("merge-672-683")});
        fx_map_add(&m, (fx_field){"ef", U(1690300000000)});
        break;
    }
    return m;
}

static void assert_life_eq(const ct_life *a, const ct_life *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_memory_equal(a->id, b->id, CT_EVENT_ID_LEN);
    assert_int_equal(a->issued_ms, b->issued_ms);
    assert_string_equal(a->campaign, b->campaign);
    assert_string_equal(a->actor, b->actor);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->district, b->district);
    assert_int_equal(a->program, b->program);
    assert_memory_equal(a->person, b->person, CT_PERSON_LEN);
    assert_memory_equal(a->target_id, b->target_id, CT_EVENT_ID_LEN);
    assert_true(a->target_seq == b->target_seq);
    assert_int_equal(a->has_new_program, b->has_new_program);
    assert_int_equal(a->new_program, b->new_program);
    assert_int_equal(a->has_new_agent, b->has_new_agent);
    assert_string_equal(a->new_agent, b->new_agent);
    assert_int_equal(a->has_new_commune, b->has_new_commune);
    assert_string_equal(a->new_commune, b->new_commune);
    assert_int_equal(a->has_new_group, b->has_new_group);
    assert_string_equal(a->new_group, b->new_group);
    assert_int_equal(a->target, b->target);
    assert_int_equal(a->day, b->day);
    assert_string_equal(a->reorg, b->reorg);
    assert_int_equal(a->effective_ms, b->effective_ms);
}

static ct_err decode_map_id(const fx_map *m, ct_life *out, bool *idk)
{
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(m, &b);
    ct_err e = ct_life_decode(b.data, b.len, out, idk);
    /* the dispatch agrees: a map with "k" first is a life entry */
    ct_entry en;
    bool idk2 = false;
    ct_err e2 = ct_entry_decode(b.data, b.len, &en, &idk2);
    if (m->n && strcmp(m->f[0].key, "k") == 0) {
        assert_int_equal(en.type, CT_ENTRY_LIFE);
        assert_int_equal(e2, e);
    }
    ct_buf_free(&b);
    return e;
}

static ct_err decode_map(const fx_map *m)
{
    ct_life l;
    return decode_map_id(m, &l, NULL);
}

static void round_trip(const ct_life *l)
{
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_life_encode(l, &b), CT_OK);
    assert_true(b.len <= CT_EVENT_MAX_BYTES);
    assert_int_equal(ct_entry_is_life(b.data, b.len), 1);
    ct_life d;
    memset(&d, 0x5a, sizeof d); /* garbage: the decoder resets every field */
    bool idk = false;
    assert_int_equal(ct_life_decode(b.data, b.len, &d, &idk), CT_OK);
    assert_true(idk);
    assert_life_eq(l, &d);
    ct_buf b2 = CT_BUF_INIT;
    assert_int_equal(ct_life_encode(&d, &b2), CT_OK);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    ct_entry en;
    assert_int_equal(ct_entry_decode(b.data, b.len, &en, NULL), CT_OK);
    assert_int_equal(en.type, CT_ENTRY_LIFE);
    assert_memory_equal(ct_entry_id(&en), l->id, CT_EVENT_ID_LEN);
    ct_buf_free(&b);
    ct_buf_free(&b2);
}

static void test_round_trip_every_kind(void **state)
{
    (void)state;
    for (int i = 0; i < N_KINDS; i++) {
        ct_life l = lx_life(all_kinds[i]);
        round_trip(&l);
        /* the field list is the encoder's bytes */
        fx_map m = lx_map(all_kinds[i]);
        ct_buf a = CT_BUF_INIT, b = CT_BUF_INIT;
        fx_map_pack(&m, &a);
        assert_int_equal(ct_life_encode(&l, &b), CT_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        ct_buf_free(&a);
        ct_buf_free(&b);
    }
    /* units 0 where allowed, both programs, the extremes */
    ct_life l = lx_life(CT_LIFE_TARGET);
    l.district = 0;
    l.target = CT_LIFE_TARGET_MAX;
    l.effective_ms = INT64_MAX;
    l.issued_ms = 0;
    round_trip(&l);
    l.target = 1;
    l.effective_ms = 0;
    l.program = CT_PROGRAM_BHXH_TN;
    round_trip(&l);
    l = lx_life(CT_LIFE_CLOSE);
    l.district = 65535;
    l.day = 20240229;
    round_trip(&l);
    l = lx_life(CT_LIFE_REORG);
    l.effective_ms = 0; /* decodes; the tally refuses it */
    memset(l.reorg, 'r', CT_REORG_NAME_MAX);
    round_trip(&l);
    l = lx_life(CT_LIFE_VOID);
    l.target_seq = UINT64_MAX;
    l.district = 65535;
    memset(l.reason, 0, sizeof l.reason);
    for (int i = 0; i < 128; i++) /* 256 bytes of UTF-8 */
        strcat(l.reason, "Đ");
    memset(l.actor, 'a', CT_ACTOR_MAX);
    memset(l.campaign, 'c', CT_CAMPAIGN_ID_MAX);
    round_trip(&l);
}

/* Every combination of np / a / w / g (w and g empty or not). */
static void test_round_trip_correct_combinations(void **state)
{
    (void)state;
    for (unsigned mask = 1; mask < 64; mask++) {
        if (!(mask & 15)) continue;
        ct_life l = lx_life(CT_LIFE_CORRECT);
        l.has_new_program = mask & 1;
        if (!l.has_new_program) l.new_program = CT_PROGRAM_BHXH_TN;
        l.has_new_agent = mask & 2;
        if (!l.has_new_agent) l.new_agent[0] = '\0';
        l.has_new_commune = mask & 4;
        if (!l.has_new_commune || (mask & 16)) l.new_commune[0] = '\0';
        l.has_new_group = mask & 8;
        if (!l.has_new_group || (mask & 32)) l.new_group[0] = '\0';
        round_trip(&l);
    }
    /* all four with their caps: 16 keys, map16 header */
    ct_life l = lx_life(CT_LIFE_CORRECT);
    for (int i = 0; i < 48; i++)
        strcpy(l.new_commune + 2 * i, "Đ");
    memset(l.new_agent, 'a', CT_AGENT_ID_MAX);
    memset(l.new_group, 'g', CT_GROUP_MAX);
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(ct_life_encode(&l, &b), CT_OK);
    assert_int_equal(b.data[0], 0xde);
    assert_int_equal(b.data[1], 0x00);
    assert_int_equal(b.data[2], 16);
    ct_buf_free(&b);
    round_trip(&l);
    /* 15 keys: fixmap */
    l.has_new_group = false;
    l.new_group[0] = '\0';
    assert_int_equal(ct_life_encode(&l, &b), CT_OK);
    assert_int_equal(b.data[0], 0x8f);
    ct_buf_free(&b);
}

static void test_encoder_refuses_invalid(void **state)
{
    (void)state;
    ct_buf b = CT_BUF_INIT;
    ct_life l;
#define REFUSE(kind, stmt)                                                                         \
    do {                                                                                           \
        l = lx_life(kind);                                                                         \
        stmt;                                                                                      \
        assert_int_equal(ct_life_encode(&l, &b), CT_ERR_BAD_VALUE);                                \
    } while (0)
    REFUSE(CT_LIFE_VOID, l.kind = (ct_life_kind)0);
    REFUSE(CT_LIFE_VOID, l.kind = (ct_life_kind)7);
    REFUSE(CT_LIFE_VOID, l.campaign[0] = '\0');
    REFUSE(CT_LIFE_VOID, l.actor[0] = '\0');
    REFUSE(CT_LIFE_VOID, l.reason[0] = '\0');
    REFUSE(CT_LIFE_VOID, memset(l.reason, 'r', sizeof l.reason));
    REFUSE(CT_LIFE_VOID, memcpy(l.actor, "\xc3\x28", 3));
    REFUSE(CT_LIFE_VOID, l.issued_ms = -1);
    REFUSE(CT_LIFE_VOID, l.district = 0);
    REFUSE(CT_LIFE_CORRECT, l.district = 0);
    REFUSE(CT_LIFE_VOID, l.district = 65536);
    REFUSE(CT_LIFE_TARGET, l.district = 65536);
    REFUSE(CT_LIFE_VOID, l.program = (ct_program)2);
    REFUSE(CT_LIFE_VOID, l.target_seq = 0);
    REFUSE(CT_LIFE_CORRECT,
           l.has_new_program = l.has_new_agent = l.has_new_commune = l.has_new_group = false);
    REFUSE(CT_LIFE_CORRECT, l.new_program = (ct_program)2);
    REFUSE(CT_LIFE_CORRECT, l.new_agent[0] = '\0');
    REFUSE(CT_LIFE_CORRECT, memset(l.new_commune, 'w', sizeof l.new_commune));
    REFUSE(CT_LIFE_CORRECT, memset(l.new_group, 'g', sizeof l.new_group));
    REFUSE(CT_LIFE_TARGET, l.target = 0);
    REFUSE(CT_LIFE_TARGET, l.target = CT_LIFE_TARGET_MAX + 1);
    REFUSE(CT_LIFE_TARGET, l.program = (ct_program)2);
    REFUSE(CT_LIFE_TARGET, l.effective_ms = -1);
    REFUSE(CT_LIFE_CLOSE, l.day = 20230229);
    REFUSE(CT_LIFE_REOPEN, l.day = 0);
    REFUSE(CT_LIFE_CLOSE, l.district = 65536);
    REFUSE(CT_LIFE_REORG, l.reorg[0] = '\0');
    REFUSE(CT_LIFE_REORG, memset(l.reorg, 'r', sizeof l.reorg));
    REFUSE(CT_LIFE_REORG, l.effective_ms = -1);
#undef REFUSE
    assert_int_equal(b.len, 0); /* nothing appended */
    assert_int_equal(ct_life_encode(NULL, &b), CT_ERR_ARG);
    ct_buf_free(&b);
}

static const char *const required[N_KINDS][13] = {
    {"k", "v", "id", "t", "c", "by", "r", "d", "p", "h", "e", "q", NULL},
    {"k", "v", "id", "t", "c", "by", "r", "d", "p", "h", "e", "q", NULL},
    {"k", "v", "id", "t", "c", "by", "r", "d", "p", "n", "ef", NULL},
    {"k", "v", "id", "t", "c", "by", "r", "d", "day", NULL},
    {"k", "v", "id", "t", "c", "by", "r", "d", "day", NULL},
    {"k", "v", "id", "t", "c", "by", "r", "n", "ef", NULL},
};

static void test_missing_each_required(void **state)
{
    (void)state;
    for (int i = 0; i < N_KINDS; i++)
        for (int j = 0; required[i][j]; j++) {
            fx_map m = lx_map(all_kinds[i]);
            fx_map_del(&m, required[i][j]);
            ct_err e = decode_map(&m);
            if (e != CT_ERR_MISSING_FIELD)
                print_error("%s without %s: %s\n", ct_life_kind_name(all_kinds[i]), required[i][j],
                            ct_err_name(e));
            assert_int_equal(e, CT_ERR_MISSING_FIELD);
        }
    /* a correction needs one of np, a, w, g; any one is enough */
    const char *opt[] = {"np", "a", "w", "g"};
    fx_map m = lx_map(CT_LIFE_CORRECT);
    for (int j = 0; j < 4; j++)
        fx_map_del(&m, opt[j]);
    assert_int_equal(decode_map(&m), CT_ERR_MISSING_FIELD);
    for (int j = 0; j < 4; j++) {
        m = lx_map(CT_LIFE_CORRECT);
        for (int o = 0; o < 4; o++)
            if (o != j) fx_map_del(&m, opt[o]);
        assert_int_equal(decode_map(&m), CT_OK);
    }
    /* a map of only "k": v missing */
    fx_map k = {.n = 0};
    fx_map_add(&k, (fx_field){"k", S("void")});
    assert_int_equal(decode_map(&k), CT_ERR_MISSING_FIELD);
}

static void test_wrong_type_every_key(void **state)
{
    (void)state;
    const fv_type types[] = {FV_UINT,  FV_NEG,  FV_STR,    FV_BIN, FV_NIL,
                             FV_FLOAT, FV_BOOL, FV_ARRAY0, FV_MAP0};
    for (int i = 0; i < N_KINDS; i++) {
        fx_map base = lx_map(all_kinds[i]);
        for (size_t k = 0; k < base.n; k++) {
            fv_type right = base.f[k].t;
            for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
                if (types[t] == right) continue;
                fx_map m = base;
                m.f[k].t = types[t];
                m.f[k].u = 1;
                m.f[k].p = "x";
                m.f[k].n = 1;
                ct_err e = decode_map(&m);
                if (e != CT_ERR_WRONG_TYPE)
                    print_error("%s key %s type %zu: %s\n", ct_life_kind_name(all_kinds[i]),
                                base.f[k].key, t, ct_err_name(e));
                assert_int_equal(e, CT_ERR_WRONG_TYPE);
            }
        }
    }
}

typedef struct {
    ct_life_kind kind;
    fx_field f;
    ct_err want;
} value_case;

static void test_values(void **state)
{
    (void)state;
    static char s33[34], s257[258], s97[98], s96[97], s256[257];
    memset(s33, 'x', 33);
    memset(s257, 'r', 257);
    memset(s97, 'w', 97);
    memset(s96, 'w', 96);
    memset(s256, 'r', 256);
    const value_case cases[] = {
        /* k and v */
        {CT_LIFE_VOID, {"k", S("vod")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"k", S("VOID")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"k", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"v", U(2)}, CT_ERR_BAD_VERSION},
        {CT_LIFE_VOID, {"v", U(0)}, CT_ERR_BAD_VERSION},
        /* ids, person */
        {CT_LIFE_VOID, {"id", FV_BIN, 0, "0123456789abcde", 15}, CT_ERR_BAD_ID},
        {CT_LIFE_TARGET, {"id", FV_BIN, 0, "", 0}, CT_ERR_BAD_ID},
        {CT_LIFE_VOID, {"e", FV_BIN, 0, "0123456789abcdefg", 17}, CT_ERR_BAD_ID},
        {CT_LIFE_CORRECT, {"e", FV_BIN, 0, "", 0}, CT_ERR_BAD_ID},
        {CT_LIFE_VOID, {"h", FV_BIN, 0, "0123456789abcdef0123456789abcde", 31}, CT_ERR_BAD_PERSON},
        {CT_LIFE_CORRECT,
         {"h", FV_BIN, 0, "0123456789abcdef0123456789abcdef!", 33},
         CT_ERR_BAD_PERSON},
        /* integers */
        {CT_LIFE_VOID, {"t", U((uint64_t)INT64_MAX + 1)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"t", U((uint64_t)INT64_MAX)}, CT_OK},
        {CT_LIFE_VOID, {"d", U(0)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"d", U(0)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"d", U(65536)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"d", U(65535)}, CT_OK},
        {CT_LIFE_TARGET, {"d", U(0)}, CT_OK},
        {CT_LIFE_TARGET, {"d", U(65536)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"d", U(672)}, CT_OK},
        {CT_LIFE_REOPEN, {"d", U(65536)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"q", U(0)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"q", U(UINT64_MAX)}, CT_OK},
        {CT_LIFE_TARGET, {"n", U(0)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_TARGET, {"n", U(1)}, CT_OK},
        {CT_LIFE_TARGET, {"n", U(1000000)}, CT_OK},
        {CT_LIFE_TARGET, {"n", U(1000001)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_TARGET, {"n", S("merge")}, CT_ERR_WRONG_TYPE},
        {CT_LIFE_REORG, {"n", U(5)}, CT_ERR_WRONG_TYPE},
        {CT_LIFE_TARGET, {"ef", U((uint64_t)INT64_MAX + 1)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REORG, {"ef", U((uint64_t)INT64_MAX + 1)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REORG, {"ef", U(0)}, CT_OK},
        {CT_LIFE_CLOSE, {"day", U(20230229)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"day", U(20240229)}, CT_OK},
        {CT_LIFE_CLOSE, {"day", U(20231301)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"day", U(20230732)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"day", U(20230700)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REOPEN, {"day", U(20230431)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REOPEN, {"day", U(0)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REOPEN, {"day", U(10101)}, CT_OK},          /* 0001-01-01 */
        {CT_LIFE_REOPEN, {"day", U(101)}, CT_ERR_BAD_VALUE}, /* year 0 */
        {CT_LIFE_REOPEN, {"day", U(99991231)}, CT_OK},
        {CT_LIFE_REOPEN, {"day", U(100000101)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REOPEN, {"day", U((uint64_t)UINT32_MAX + 20230722)}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REOPEN, {"day", U(UINT64_MAX)}, CT_ERR_BAD_VALUE},
        /* programs */
        {CT_LIFE_VOID, {"p", S("bhyt")}, CT_ERR_UNKNOWN_PROGRAM},
        {CT_LIFE_TARGET, {"p", S("")}, CT_ERR_UNKNOWN_PROGRAM},
        {CT_LIFE_CORRECT, {"np", S("BHYT_HGD")}, CT_ERR_UNKNOWN_PROGRAM},
        {CT_LIFE_CORRECT, {"np", S("bhxh_tn")}, CT_OK}, /* the same program: the tally decides */
        /* strings: empty, cap, over cap, UTF-8, NUL */
        {CT_LIFE_VOID, {"c", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_VOID, {"c", FV_STR, 0, s33, 33}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_VOID, {"c", FV_STR, 0, s33, 32}, CT_OK},
        {CT_LIFE_VOID, {"c", S("\xff")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_VOID, {"c", S("lam\0dong")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_TARGET, {"by", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_TARGET, {"by", FV_STR, 0, s33, 33}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_TARGET, {"by", FV_STR, 0, s33, 32}, CT_OK},
        {CT_LIFE_TARGET, {"by", S("\xc0\x80")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_TARGET, {"by", S("ad\0min")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"r", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CLOSE, {"r", FV_STR, 0, s257, 257}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_CLOSE, {"r", FV_STR, 0, s256, 256}, CT_OK},
        {CT_LIFE_CLOSE, {"r", S("\xed\xa0\x80")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_CLOSE, {"r", S("a\0b")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"a", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"a", FV_STR, 0, s33, 33}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_CORRECT, {"a", S("Ph\xc6")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_CORRECT, {"a", S("LD\0x")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"w", S("")}, CT_OK},
        {CT_LIFE_CORRECT, {"w", FV_STR, 0, s97, 97}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_CORRECT, {"w", FV_STR, 0, s96, 96}, CT_OK},
        {CT_LIFE_CORRECT, {"w", S("\xf5\x80\x80\x80")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_CORRECT, {"w", S("P\0")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_CORRECT, {"g", S("")}, CT_OK},
        {CT_LIFE_CORRECT, {"g", FV_STR, 0, s33, 33}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_CORRECT, {"g", S("\x80")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_CORRECT, {"g", S("\0")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REORG, {"n", S("")}, CT_ERR_BAD_VALUE},
        {CT_LIFE_REORG, {"n", FV_STR, 0, s33, 33}, CT_ERR_STRING_TOO_LONG},
        {CT_LIFE_REORG, {"n", FV_STR, 0, s33, 32}, CT_OK},
        {CT_LIFE_REORG, {"n", S("\xe0\x80\x80")}, CT_ERR_BAD_UTF8},
        {CT_LIFE_REORG, {"n", S("m\0")}, CT_ERR_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_map m = lx_map(cases[i].kind);
        fx_field *f = fx_map_get(&m, cases[i].f.key);
        assert_non_null(f);
        *f = cases[i].f;
        ct_life l;
        bool idk = false;
        ct_err e = decode_map_id(&m, &l, &idk);
        if (e != cases[i].want)
            print_error("case %zu (%s): %s\n", i, cases[i].f.key, ct_err_name(e));
        assert_int_equal(e, cases[i].want);
        /* the id is reported whenever it is a valid bin 16 */
        assert_int_equal(idk, strcmp(cases[i].f.key, "id") != 0);
        if (idk) assert_memory_equal(l.id, lx_id, CT_EVENT_ID_LEN);
    }
}

static void test_keys_unknown_dup_order(void **state)
{
    (void)state;
    /* keys of another kind, or of no kind, are unknown */
    static const struct {
        ct_life_kind kind;
        const char *key;
    } foreign[] = {
        {CT_LIFE_VOID, "np"},  {CT_LIFE_VOID, "a"},     {CT_LIFE_VOID, "w"},
        {CT_LIFE_VOID, "g"},   {CT_LIFE_VOID, "n"},     {CT_LIFE_VOID, "day"},
        {CT_LIFE_VOID, "ef"},  {CT_LIFE_CORRECT, "n"},  {CT_LIFE_CORRECT, "day"},
        {CT_LIFE_TARGET, "h"}, {CT_LIFE_TARGET, "q"},   {CT_LIFE_TARGET, "day"},
        {CT_LIFE_CLOSE, "p"},  {CT_LIFE_CLOSE, "ef"},   {CT_LIFE_REOPEN, "n"},
        {CT_LIFE_REORG, "d"},  {CT_LIFE_REORG, "p"},    {CT_LIFE_REORG, "day"},
        {CT_LIFE_VOID, "x"},   {CT_LIFE_VOID, "zz"},    {CT_LIFE_CLOSE, ""},
        {CT_LIFE_CLOSE, "K"},  {CT_LIFE_TARGET, "amt"}, {CT_LIFE_REORG, "m"},
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        fx_map m = lx_map(foreign[i].kind);
        fx_map_add(&m, (fx_field){foreign[i].key, U(1)});
        ct_err e = decode_map(&m);
        if (e != CT_ERR_UNKNOWN_KEY) print_error("%s: %s\n", foreign[i].key, ct_err_name(e));
        assert_int_equal(e, CT_ERR_UNKNOWN_KEY);
    }
    /* every key twice (same value): duplicate_key, also "k" and "v" */
    for (int i = 0; i < N_KINDS; i++) {
        fx_map base = lx_map(all_kinds[i]);
        for (size_t k = 0; k < base.n; k++) {
            fx_map m = base;
            fx_map_add(&m, base.f[k]);
            assert_int_equal(decode_map(&m), CT_ERR_DUP_KEY);
        }
    }
    /* the kind's keys after "v" in any order: the same entry */
    for (int i = 0; i < N_KINDS; i++) {
        fx_map m = lx_map(all_kinds[i]);
        for (size_t a = 2, b = m.n - 1; a < b; a++, b--) {
            fx_field t = m.f[a];
            m.f[a] = m.f[b];
            m.f[b] = t;
        }
        ct_life want = lx_life(all_kinds[i]), got;
        assert_int_equal(decode_map_id(&m, &got, NULL), CT_OK);
        assert_life_eq(&want, &got);
        /* re-encoded canonically */
        ct_buf a = CT_BUF_INIT, c = CT_BUF_INIT;
        fx_map canon = lx_map(all_kinds[i]);
        fx_map_pack(&canon, &a);
        assert_int_equal(ct_life_encode(&got, &c), CT_OK);
        assert_int_equal(a.len, c.len);
        assert_memory_equal(a.data, c.data, a.len);
        ct_buf_free(&a);
        ct_buf_free(&c);
    }
    /* "v" not second: missing_field (also when it comes later) */
    fx_map m = lx_map(CT_LIFE_VOID);
    fx_field t = m.f[1];
    m.f[1] = m.f[2];
    m.f[2] = t;
    assert_int_equal(decode_map(&m), CT_ERR_MISSING_FIELD);
    /* "k" not first: not a life entry — the event decoder's unknown_key */
    m = lx_map(CT_LIFE_CLOSE);
    t = m.f[0];
    m.f[0] = m.f[1];
    m.f[1] = t;
    ct_buf b = CT_BUF_INIT;
    fx_map_pack(&m, &b);
    ct_entry en;
    bool idk = false;
    assert_int_equal(ct_entry_is_life(b.data, b.len), 0);
    assert_int_equal(ct_entry_decode(b.data, b.len, &en, &idk), CT_ERR_UNKNOWN_KEY);
    assert_int_equal(en.type, CT_ENTRY_EVENT);
    assert_true(idk); /* the event decoder read the id */
    assert_memory_equal(ct_entry_id(&en), lx_id, CT_EVENT_ID_LEN);
    ct_life l;
    assert_int_equal(ct_life_decode(b.data, b.len, &l, NULL), CT_ERR_MISSING_FIELD);
    ct_buf_free(&b);
    /* an event with a "k" key elsewhere: unknown_key */
    fx_map ev = fx_event_map();
    fx_map_add(&ev, (fx_field){"k", S("void")});
    b = (ct_buf)CT_BUF_INIT;
    fx_map_pack(&ev, &b);
    assert_int_equal(ct_entry_decode(b.data, b.len, &en, NULL), CT_ERR_UNKNOWN_KEY);
    assert_int_equal(en.type, CT_ENTRY_EVENT);
    ct_buf_free(&b);
    /* a non-string key after "v" is unknown */
    uint8_t raw[] = {0x83, 0xa1, 'k', 0xa4, 'v', 'o', 'i', 'd', 0xa1, 'v', 0x01, 0x01, 0x01};
    assert_int_equal(ct_life_decode(raw, sizeof raw, &l, NULL), CT_ERR_UNKNOWN_KEY);
}

/* The id names the entry whenever it was read, whatever else is wrong. */
static void test_id_known_on_error(void **state)
{
    (void)state;
    ct_life l;
    bool idk = false;
    /* wrong kind, before anything else */
    fx_map m = lx_map(CT_LIFE_REOPEN);
    *fx_map_get(&m, "k") = (fx_field){"k", S("open")};
    assert_int_equal(decode_map_id(&m, &l, &idk), CT_ERR_BAD_VALUE);
    assert_true(idk);
    assert_memory_equal(l.id, lx_id, CT_EVENT_ID_LEN);
    /* id after the faulty key */
    m = lx_map(CT_LIFE_VOID);
    fx_field idf = *fx_map_get(&m, "id");
    fx_map_del(&m, "id");
    fx_map_get(&m, "r")->t = FV_NIL;
    fx_map_add(&m, idf);
    idk = false;
    assert_int_equal(decode_map_id(&m, &l, &idk), CT_ERR_WRONG_TYPE);
    assert_true(idk);
    /* missing id: not known */
    m = lx_map(CT_LIFE_TARGET);
    fx_map_del(&m, "id");
    idk = true;
    assert_int_equal(decode_map_id(&m, &l, &idk), CT_ERR_MISSING_FIELD);
    assert_false(idk);
    /* an "e" is not the id */
    m = lx_map(CT_LIFE_VOID);
    fx_map_del(&m, "id");
    idk = true;
    assert_int_equal(decode_map_id(&m, &l, &idk), CT_ERR_MISSING_FIELD);
    assert_false(idk);
}

static void test_dispatch(void **state)
{
    (void)state;
    /* map headers in every form, "k" in every str form */
    static const struct {
        const uint8_t b[12];
        size_t n;
        int want;
    } c[] = {
        {{0x81, 0xa1, 'k'}, 3, 1},
        {{0xde, 0x00, 0x01, 0xa1, 'k'}, 5, 1},
        {{0xdf, 0x00, 0x00, 0x00, 0x01, 0xa1, 'k'}, 7, 1},
        {{0x81, 0xd9, 0x01, 'k'}, 4, 1},
        {{0x81, 0xda, 0x00, 0x01, 'k'}, 5, 1},
        {{0x81, 0xdb, 0x00, 0x00, 0x00, 0x01, 'k'}, 7, 1},
        {{0x81, 0xa1, 'v'}, 3, 0},
        {{0x81, 0xa2, 'k', 'k'}, 4, 0},
        {{0x81, 0xc4, 0x01, 'k'}, 4, 0}, /* a bin key */
        {{0x81, 0xd9, 0x02, 'k'}, 4, 0},
        {{0x80}, 1, 0},
        {{0x81, 0xa1}, 2, 0}, /* truncated */
        {{0x81}, 1, 0},
        {{0xde, 0x00}, 2, 0},
        {{0xdf, 0x00, 0x00, 0x00}, 4, 0},
        {{0x91, 0xa1, 'k'}, 3, 0},
        {{0xa1, 'k'}, 2, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        assert_int_equal(ct_entry_is_life(c[i].b, c[i].n), c[i].want);
    assert_int_equal(ct_entry_is_life(NULL, 3), 0);
    /* the canonical event: an event, the same result as ct_event_decode */
    ct_buf b = CT_BUF_INIT;
    fx_encode_event(true, &b);
    ct_entry en;
    bool idk = false;
    assert_int_equal(ct_entry_is_life(b.data, b.len), 0);
    assert_int_equal(ct_entry_decode(b.data, b.len, &en, &idk), CT_OK);
    assert_int_equal(en.type, CT_ENTRY_EVENT);
    assert_true(idk);
    ct_event want = fx_event(true);
    assert_memory_equal(ct_entry_id(&en), want.id, CT_EVENT_ID_LEN);
    assert_string_equal(en.u.ev.commune, "Phường 1");
    ct_buf_free(&b);
    /* non-canonical header and key forms of a life entry still decode */
    fx_map m = lx_map(CT_LIFE_CLOSE);
    b = (ct_buf)CT_BUF_INIT;
    fx_map_pack(&m, &b);
    ct_buf nc = CT_BUF_INIT;
    uint8_t hdr[] = {0xde, 0x00, (uint8_t)m.n, 0xd9, 0x01};
    ct_buf_append(&nc, hdr, sizeof hdr);
    ct_buf_append(&nc, b.data + 2, b.len - 2); /* after 8x a1 */
    assert_int_equal(ct_entry_decode(nc.data, nc.len, &en, NULL), CT_OK);
    assert_int_equal(en.type, CT_ENTRY_LIFE);
    assert_int_equal(en.u.life.kind, CT_LIFE_CLOSE);
    ct_buf_free(&b);
    ct_buf_free(&nc);
    /* frame level */
    assert_int_equal(ct_entry_decode(NULL, 0, &en, NULL), CT_ERR_FRAME_EMPTY);
    uint8_t big[CT_EVENT_MAX_BYTES + 1];
    memset(big, 0, sizeof big);
    big[0] = 0x81, big[1] = 0xa1, big[2] = 'k';
    assert_int_equal(ct_entry_decode(big, sizeof big, &en, NULL), CT_ERR_FRAME_TOO_LARGE);
    assert_int_equal(ct_life_decode(big, sizeof big, &en.u.life, NULL), CT_ERR_FRAME_TOO_LARGE);
    uint8_t arr[] = {0x91, 0x01};
    assert_int_equal(ct_entry_decode(arr, sizeof arr, &en, NULL), CT_ERR_NOT_MAP);
    assert_int_equal(ct_life_decode(arr, sizeof arr, &en.u.life, NULL), CT_ERR_NOT_MAP);
    uint8_t trunc[] = {0x82, 0xa1, 'k', 0xa4, 'v', 'o'};
    assert_int_equal(ct_entry_decode(trunc, sizeof trunc, &en, NULL), CT_ERR_DECLARED_SIZE);
    b = (ct_buf)CT_BUF_INIT;
    ct_life l = lx_life(CT_LIFE_VOID);
    assert_int_equal(ct_life_encode(&l, &b), CT_OK);
    ct_buf_append(&b, "\x00", 1);
    assert_int_equal(ct_entry_decode(b.data, b.len, &en, NULL), CT_ERR_TRAILING_BYTES);
    ct_buf_free(&b);
    uint8_t c1[] = {0x81, 0xa1, 'k', 0xc1};
    assert_int_equal(ct_entry_decode(c1, sizeof c1, &en, NULL), CT_ERR_MALFORMED);
}

static void test_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"void", "correct", "target", "close", "reopen", "reorg"};
    for (int i = 0; i < N_KINDS; i++) {
        ct_life_kind k;
        assert_string_equal(ct_life_kind_name(all_kinds[i]), names[i]);
        assert_int_equal(ct_life_kind_parse(names[i], &k), CT_OK);
        assert_int_equal(k, all_kinds[i]);
        assert_int_equal((int)k, i + 1); /* the LIFE counter values */
    }
    ct_life_kind k;
    assert_int_equal(ct_life_kind_parse("Void", &k), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_life_kind_parse("", &k), CT_ERR_BAD_VALUE);
    assert_int_equal(ct_life_kind_parse(NULL, &k), CT_ERR_BAD_VALUE);
    assert_string_equal(ct_life_kind_name((ct_life_kind)0), "unknown");
    assert_string_equal(ct_life_kind_name((ct_life_kind)7), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_round_trip_correct_combinations),
        cmocka_unit_test(test_encoder_refuses_invalid),
        cmocka_unit_test(test_missing_each_required),
        cmocka_unit_test(test_wrong_type_every_key),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_keys_unknown_dup_order),
        cmocka_unit_test(test_id_known_on_error),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
