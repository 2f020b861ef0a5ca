/* bench_codec.c — micro-benchmark of the MessagePack codec layer (proto/):
 * ns per operation for the typical event (encode, prescan, full strict
 * decode), a 1000-event "sub" (encode, prescan, decode, decode + every event
 * inside), an ack for 1000 events, and the log record (encode + BLAKE2b,
 * decode + chain check), the log-entry dispatch (ct_entry_decode of the event
 * and of a void life entry) and the tally rule of one counted enroll
 * (ct_tally_apply; ct_tally_entry over a ct_counts of 1000 counters and no
 * person state). Single thread; each row runs ~0.2 s after a warm-up
 * and reports the best of 3 rounds. Prints a table, then one JSON line.
 *   bench_codec [--quick]     --quick: ~10x shorter rounds
 * Not a test: the numbers depend on the machine and its load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct_counts.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_logrec.h"
#include "ct_prescan.h"
#include "ct_tally.h"
#include "ct_wire.h"

#define N_SUB 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint64_t sink;
static double round_s = 0.2;

typedef void (*bench_fn)(void *ctx);

/* Best-of-3 ns per call of fn. */
static double measure(bench_fn fn, void *ctx)
{
    long iters = 1;
    for (;;) { /* calibrate */
        double t0 = now_s();
        for (long i = 0; i < iters; i++)
            fn(ctx);
        double dt = now_s() - t0;
        if (dt > round_s / 10) {
            iters = (long)((double)iters * (round_s / dt)) + 1;
            break;
        }
        iters *= 4;
    }
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now_s();
        for (long i = 0; i < iters; i++)
            fn(ctx);
        double ns = (now_s() - t0) * 1e9 / (double)iters;
        if (ns < best) best = ns;
    }
    return best;
}

static ct_event typical;
static ct_buf ev_bytes = CT_BUF_INIT, sub_bytes = CT_BUF_INIT, ack_bytes = CT_BUF_INIT,
              rec_bytes = CT_BUF_INIT, out = CT_BUF_INIT;
static ct_bytes events[N_SUB];
static ct_ack_item items[N_SUB];
static uint8_t zero_hash[32];

static void b_event_encode(void *c)
{
    (void)c;
    ct_buf_reset(&out);
    ct_event_encode(&typical, &out);
    sink += out.len;
}

static void b_event_prescan(void *c)
{
    (void)c;
    ct_prescan_limits l = {8, 64, 256};
    sink += (uint64_t)ct_prescan(ev_bytes.data, ev_bytes.len, &l);
}

static void b_event_decode(void *c)
{
    (void)c;
    ct_event e;
    sink += (uint64_t)ct_event_decode(ev_bytes.data, ev_bytes.len, &e, NULL) + e.district;
}

static void b_sub_encode(void *c)
{
    (void)c;
    ct_buf_reset(&out);
    ct_wire_submit_encode(1, events, N_SUB, &out);
    sink += out.len;
}

static void b_sub_prescan(void *c)
{
    (void)c;
    ct_prescan_limits l = {8, CT_WIRE_MAX_EVENTS, CT_WIRE_MAX_EVENTS + 64};
    sink += (uint64_t)ct_prescan(sub_bytes.data, sub_bytes.len, &l);
}

static ct_bytes got[N_SUB];

static void b_sub_decode(void *c)
{
    (void)c;
    uint64_t tok;
    size_t n;
    sink += (uint64_t)ct_wire_submit_decode(sub_bytes.data, sub_bytes.len, &tok, got, N_SUB, &n);
}

static void b_sub_decode_all(void *c)
{
    (void)c;
    uint64_t tok;
    size_t n;
    sink += (uint64_t)ct_wire_submit_decode(sub_bytes.data, sub_bytes.len, &tok, got, N_SUB, &n);
    for (size_t i = 0; i < n; i++) {
        ct_event e;
        sink += (uint64_t)ct_event_decode(got[i].data, got[i].len, &e, NULL);
    }
}

static void b_ack_encode(void *c)
{
    (void)c;
    ct_buf_reset(&out);
    ct_wire_ack_encode(1, 12345678, items, N_SUB, &out);
    sink += out.len;
}

static void b_ack_decode(void *c)
{
    (void)c;
    static ct_ack_item it[N_SUB];
    uint64_t tok, seq;
    size_t n;
    sink += (uint64_t)ct_wire_ack_decode(ack_bytes.data, ack_bytes.len, &tok, &seq, it, N_SUB, &n);
}

static void b_logrec_encode(void *c)
{
    (void)c;
    ct_logrec r;
    memset(&r, 0, sizeof r);
    r.seq = 123456789;
    r.received_ms = 1690000000500;
    strcpy(r.collector, "rq>{0h/9lYBfl7^vh:<[n8=wJ#dFJ9zDkYqTHr+e");
    r.event = ev_bytes.data;
    r.event_len = ev_bytes.len;
    ct_buf_reset(&out);
    ct_logrec_encode(&r, zero_hash, &out);
    sink += out.len;
}

static void b_logrec_decode_check(void *c)
{
    (void)c;
    ct_logrec r;
    sink += (uint64_t)ct_logrec_decode(rec_bytes.data, rec_bytes.len, &r);
    sink += (uint64_t)ct_logrec_check(&r, zero_hash);
}

static ct_buf void_bytes = CT_BUF_INIT;
static ct_life void_entry;
static ct_counts tally_counts;

static void b_entry_decode_event(void *c)
{
    (void)c;
    ct_entry e;
    sink += (uint64_t)ct_entry_decode(ev_bytes.data, ev_bytes.len, &e, NULL) + e.u.ev.district;
}

static void b_life_encode(void *c)
{
    (void)c;
    ct_buf_reset(&out);
    ct_life_encode(&void_entry, &out);
    sink += out.len;
}

static void b_entry_decode_life(void *c)
{
    (void)c;
    ct_entry e;
    sink +=
        (uint64_t)ct_entry_decode(void_bytes.data, void_bytes.len, &e, NULL) + e.u.life.district;
}

static void b_tally_apply(void *c)
{
    (void)c;
    ct_person_state next;
    ct_tally_result r;
    ct_tally_apply(&typical, 20230722, 1, 7, NULL, &next, &r);
    sink += r.n;
}

static ct_err bench_count(void *arg, const ct_count_key *k, int64_t *v)
{
    *v = ct_counts_get(arg, k);
    return CT_OK;
}

static ct_err bench_person(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                           ct_person_state *st, bool *found)
{
    (void)arg, (void)p, (void)person, (void)st;
    *found = false;
    return CT_OK;
}

static void b_tally_entry(void *c)
{
    (void)c;
    static ct_entry e;
    e.type = CT_ENTRY_EVENT;
    e.u.ev = typical;
    ct_tally_ctx ctx = {bench_count, bench_person, &tally_counts};
    ct_tally_in in = {.seq = 7,
                      .received_ms = 1690000360123,
                      .local_day = 20230722,
                      .recv_day = 20230722,
                      .commune = 1};
    ct_tally_entry_result r;
    ct_tally_entry(&ctx, &e, &in, &r);
    sink += r.n;
}

static void setup(void)
{
    static const uint8_t origin[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(&typical, 0, sizeof typical);
    ct_event_id_make(typical.id, origin, 123456);
    typical.occurred_ms = 1690000000123;
    strcpy(typical.campaign, "lamdong-2023");
    typical.district = 672;
    strcpy(typical.commune, "Phường 1");
    strcpy(typical.agent, "LD672-007");
    typical.program = CT_PROGRAM_BHYT_HGD;
    typical.action = CT_ACTION_ENROLL;
    for (int i = 0; i < 32; i++)
        typical.person[i] = (uint8_t)(i * 7);
    typical.has_months = true;
    typical.months = 12;
    typical.has_amount = true;
    typical.amount_vnd = 1105650;
    strcpy(typical.group, "nq143");
    if (ct_event_encode(&typical, &ev_bytes)) exit(1);
    /* 1000 distinct events in one buffer */
    static ct_buf all = CT_BUF_INIT;
    size_t off[N_SUB];
    for (int i = 0; i < N_SUB; i++) {
        ct_event e = typical;
        ct_event_id_make(e.id, origin, (uint64_t)i + 1);
        off[i] = all.len;
        if (ct_event_encode(&e, &all)) exit(1);
    }
    for (int i = 0; i < N_SUB; i++) {
        events[i].data = all.data + off[i];
        events[i].len = (i + 1 < N_SUB ? off[i + 1] : all.len) - off[i];
        items[i].has_id = true;
        ct_event_id_make(items[i].id, origin, (uint64_t)i + 1);
    }
    if (ct_wire_submit_encode(1, events, N_SUB, &sub_bytes)) exit(1);
    if (ct_wire_ack_encode(1, 12345678, items, N_SUB, &ack_bytes)) exit(1);
    b_logrec_encode(NULL);
    ct_buf_append(&rec_bytes, out.data, out.len);
    void_entry.kind = CT_LIFE_VOID;
    ct_event_id_make(void_entry.id, origin, 123457);
    void_entry.issued_ms = 1690003600000;
    strcpy(void_entry.campaign, "lamdong-2023");
    strcpy(void_entry.actor, "LD672-001");
    strcpy(void_entry.reason, "nhập trùng");
    void_entry.district = 672;
    void_entry.program = CT_PROGRAM_BHYT_HGD;
    memcpy(void_entry.person, typical.person, CT_PERSON_LEN);
    memcpy(void_entry.target_id, typical.id, CT_EVENT_ID_LEN);
    void_entry.target_seq = 7;
    if (ct_life_encode(&void_entry, &void_bytes)) exit(1);
    ct_counts_init(&tally_counts);
    for (uint32_t i = 0; i < 1000; i++) { /* days and staff of 50 units */
        uint8_t d[4] = {0x01, 0x34, 0xb2, (uint8_t)(0x42 + i % 20)};
        ct_count_key k = ct_count_key_make(CT_COUNT_DAY, CT_PROGRAM_BHYT_HGD, 600 + i / 20, d, 4);
        if (ct_counts_add(&tally_counts, &k, 1)) exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) round_s = 0.02;
    setup();
    struct {
        const char *name;
        const char *json;
        bench_fn fn;
        size_t bytes;
        int per_event; /* ops per call over which to also report ns/event */
    } rows[] = {
        {"event encode", "event_encode", b_event_encode, ev_bytes.len, 1},
        {"event prescan", "event_prescan", b_event_prescan, ev_bytes.len, 1},
        {"event decode (prescan+unpack+validate)", "event_decode", b_event_decode, ev_bytes.len, 1},
        {"sub x1000 encode", "sub1000_encode", b_sub_encode, sub_bytes.len, N_SUB},
        {"sub x1000 prescan", "sub1000_prescan", b_sub_prescan, sub_bytes.len, N_SUB},
        {"sub x1000 decode", "sub1000_decode", b_sub_decode, sub_bytes.len, N_SUB},
        {"sub x1000 decode + 1000 event decodes", "sub1000_decode_all", b_sub_decode_all,
         sub_bytes.len, N_SUB},
        {"ack x1000 encode", "ack1000_encode", b_ack_encode, ack_bytes.len, N_SUB},
        {"ack x1000 decode", "ack1000_decode", b_ack_decode, ack_bytes.len, N_SUB},
        {"log record encode + BLAKE2b", "logrec_encode", b_logrec_encode, rec_bytes.len, 1},
        {"log record decode + chain check", "logrec_decode_check", b_logrec_decode_check,
         rec_bytes.len, 1},
        {"entry decode (dispatch + event)", "entry_decode_event", b_entry_decode_event,
         ev_bytes.len, 1},
        {"life entry encode (void)", "life_encode", b_life_encode, void_bytes.len, 1},
        {"entry decode (dispatch + void)", "entry_decode_life", b_entry_decode_life, void_bytes.len,
         1},
        {"tally_apply (counted enroll)", "tally_apply", b_tally_apply, 0, 1},
        {"tally_entry (counted enroll, counts ctx)", "tally_entry", b_tally_entry, 0, 1},
    };
    const size_t nrows = sizeof rows / sizeof rows[0];
    double ns[sizeof rows / sizeof rows[0]];
    printf("%-40s %8s %12s %12s %10s\n", "operation", "bytes", "ns/op", "ns/event", "MB/s");
    for (size_t i = 0; i < nrows; i++) {
        ns[i] = measure(rows[i].fn, NULL);
        printf("%-40s %8zu %12.1f %12.1f %10.1f\n", rows[i].name, rows[i].bytes, ns[i],
               ns[i] / rows[i].per_event, (double)rows[i].bytes / ns[i] * 1e3);
    }
    printf("{\"bench\":\"codec\"");
    for (size_t i = 0; i < nrows; i++)
        printf(",\"%s_ns\":%.1f", rows[i].json, ns[i]);
    printf("}\n");
    ct_buf_free(&ev_bytes);
    ct_buf_free(&sub_bytes);
    ct_buf_free(&ack_bytes);
    ct_buf_free(&rec_bytes);
    ct_buf_free(&out);
    ct_buf_free(&void_bytes);
    ct_counts_free(&tally_counts);
    return (int)(sink & 0); /* keep sink alive */
}
