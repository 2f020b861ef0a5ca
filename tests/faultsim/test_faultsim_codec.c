/* test_faultsim_codec.c — allocation-failure sweep over the codec: event,
 * submit, ack, error, state (upd/snp) and log record, each encoded and
 * decoded back (the decoders' per-thread msgpack-c zone included). Every
 * failing run must return CT_ERR_NOMEM and leak nothing; the failure-free
 * run checks every decoded value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec_fixtures.h"
#include "ct_buf.h"
#include "ct_event.h"
#include "ct_faultsim.h"
#include "ct_logrec.h"
#include "ct_sweep.h"
#include "ct_tally.h"
#include "ct_wire.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            e = CT_ERR_INTERNAL;                                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((e = (call)) != CT_OK) goto out;                                                       \
    } while (0)

static bool event_eq(const ct_event *a, const ct_event *b)
{
    return memcmp(a->id, b->id, sizeof a->id) == 0 && a->occurred_ms == b->occurred_ms &&
           strcmp(a->campaign, b->campaign) == 0 && a->district == b->district &&
           strcmp(a->commune, b->commune) == 0 && strcmp(a->agent, b->agent) == 0 &&
           a->program == b->program && a->action == b->action &&
           memcmp(a->person, b->person, sizeof a->person) == 0 && a->has_months == b->has_months &&
           (!a->has_months || a->months == b->months) && a->has_amount == b->has_amount &&
           (!a->has_amount || a->amount_vnd == b->amount_vnd) && strcmp(a->group, b->group) == 0;
}

static ct_err codec_round_trips(void *arg)
{
    (void)arg;
    ct_err e = CT_OK;
    ct_buf ev[2] = {CT_BUF_INIT, CT_BUF_INIT};
    ct_buf msg = CT_BUF_INIT, rec = CT_BUF_INIT;
    ct_wire_state st = {0}, got_st = {0};

    /* events, with and without the optional fields */
    for (int i = 0; i < 2; i++) {
        ct_event in = fx_event(i == 1), out;
        TRY(ct_event_encode(&in, &ev[i]));
        TRY(ct_event_decode(ev[i].data, ev[i].len, &out, NULL));
        CHECK(event_eq(&in, &out));
    }
    /* submit */
    ct_bytes evs[2] = {{ev[0].data, ev[0].len}, {ev[1].data, ev[1].len}}, got[4];
    uint64_t token = 0, seq = 0;
    size_t n = 0;
    TRY(ct_wire_submit_encode(77, evs, 2, &msg));
    TRY(ct_wire_submit_decode(msg.data, msg.len, &token, got, 4, &n));
    CHECK(token == 77 && n == 2);
    for (size_t i = 0; i < 2; i++)
        CHECK(got[i].len == evs[i].len && memcmp(got[i].data, evs[i].data, got[i].len) == 0);
    /* ack */
    ct_ack_item items[2] = {
        {.has_id = true, .status = CT_ACK_ACCEPTED},
        {.has_id = true, .status = CT_ACK_REJECTED, .code = CT_ERR_UNKNOWN_AGENT}};
    memset(items[0].id, 1, sizeof items[0].id);
    memset(items[1].id, 2, sizeof items[1].id);
    ct_ack_item got_items[4];
    ct_buf_reset(&msg);
    TRY(ct_wire_ack_encode(78, 1234, items, 2, &msg));
    TRY(ct_wire_ack_decode(msg.data, msg.len, &token, &seq, got_items, 4, &n));
    CHECK(token == 78 && seq == 1234 && n == 2);
    for (size_t i = 0; i < 2; i++)
        CHECK(got_items[i].has_id && memcmp(got_items[i].id, items[i].id, CT_EVENT_ID_LEN) == 0 &&
              got_items[i].status == items[i].status && got_items[i].code == items[i].code);
    /* error */
    bool has_token = false;
    uint16_t code = 0;
    ct_buf_reset(&msg);
    TRY(ct_wire_error_encode(true, 79, CT_ERR_FORBIDDEN, &msg));
    TRY(ct_wire_error_decode(msg.data, msg.len, &has_token, &token, &code));
    CHECK(has_token && token == 79 && code == CT_ERR_FORBIDDEN);
    /* snapshot with 40 counters (the decoder allocates the entries) */
    st.kind = CT_MSG_SNAPSHOT;
    st.seq = 500;
    st.time_ms = 1690000000000;
    st.n_entries = 40;
    ct_count_entry ents[40];
    for (uint32_t i = 0; i < 40; i++) {
        ents[i].key = ct_count_key_make(CT_COUNT_NET, (ct_program)(i % 2), 672 + i, NULL, 0);
        ents[i].value = (int64_t)i * 3 - 7;
    }
    st.entries = ents;
    ct_buf_reset(&msg);
    TRY(ct_wire_state_encode(&st, &msg));
    TRY(ct_wire_state_decode(msg.data, msg.len, &got_st));
    CHECK(got_st.kind == CT_MSG_SNAPSHOT && got_st.seq == 500 && got_st.n_entries == 40);
    for (size_t i = 0; i < 40; i++)
        CHECK(got_st.entries[i].value == ents[i].value &&
              ct_count_key_cmp(&got_st.entries[i].key, &ents[i].key) == 0);
    /* log record, chained to a previous hash */
    uint8_t prev[CT_LOGREC_HASH_LEN];
    memset(prev, 0x5a, sizeof prev);
    ct_logrec r = {
        .seq = 9, .received_ms = 1690000000999, .event = ev[1].data, .event_len = ev[1].len};
    strcpy(r.collector, "rq:8vXcollector");
    TRY(ct_logrec_encode(&r, prev, &rec));
    ct_logrec back;
    TRY(ct_logrec_decode(rec.data, rec.len, &back));
    CHECK(back.seq == 9 && back.received_ms == r.received_ms &&
          strcmp(back.collector, r.collector) == 0 && back.event_len == r.event_len &&
          memcmp(back.event, r.event, r.event_len) == 0 &&
          memcmp(back.hash, r.hash, sizeof r.hash) == 0);
    TRY(ct_logrec_check(&back, prev));
out:
    ct_wire_state_free(&got_st);
    ct_buf_free(&ev[0]);
    ct_buf_free(&ev[1]);
    ct_buf_free(&msg);
    ct_buf_free(&rec);
    return e;
}

static const ct_err nomem_only[] = {CT_ERR_NOMEM};

static void test_codec_transient(void **state)
{
    (void)state;
    ct_sweep s = {.name = "codec",
                  .fn = codec_round_trips,
                  .allowed = nomem_only,
                  .n_allowed = 1,
                  .max_k = 10000};
    ct_sweep_result r;
    ct_sweep_run(&s, &r);
    assert_true(r.runs > 5);
    assert_int_equal(r.runs, r.allocs);
}

static void test_codec_persistent(void **state)
{
    (void)state;
    ct_sweep s = {.name = "codec",
                  .fn = codec_round_trips,
                  .persistent = true,
                  .allowed = nomem_only,
                  .n_allowed = 1,
                  .max_k = 10000};
    ct_sweep_result r;
    ct_sweep_run(&s, &r);
    assert_true(r.runs > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_transient),
        cmocka_unit_test(test_codec_persistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
