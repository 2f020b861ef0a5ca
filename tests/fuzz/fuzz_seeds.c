/* fuzz_seeds.c — writes the seed corpora committed in tests/fuzz/corpus/
 * (valid frames from the real encoders plus a few crafted hostile ones;
 * "entry" holds events and life entries of every kind).
 * Run by hand after a protocol change:  fuzz_seeds tests/fuzz/corpus
 * The campaign corpus is made by scripts/fuzz.sh --seeds from examples/.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "codec_fixtures.h"
#include "ct_life.h"

static const char *root;

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void putb(const char *target, const char *name, ct_buf *b)
{
    put(target, name, b->data, b->len);
    ct_buf_reset(b);
}

#define PUTS(target, name, lit) put(target, name, lit, sizeof(lit) - 1)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds CORPUS_ROOT\n");
        return 2;
    }
    root = argv[1];
    ct_buf b = CT_BUF_INIT;
    /* event */
    fx_encode_event(true, &b);
    putb("event", "valid-full", &b);
    fx_encode_event(false, &b);
    putb("event", "valid-min", &b);
    ct_event e = fx_event(true);
    e.action = CT_ACTION_CANCEL;
    e.program = CT_PROGRAM_BHYT_HGD;
    memset(e.commune, 'w', CT_COMMUNE_MAX);
    e.commune[CT_COMMUNE_MAX] = '\0';
    e.amount_vnd = UINT64_MAX;
    ct_event_encode(&e, &b);
    putb("event", "valid-cancel-max", &b);
    PUTS("event", "hostile-depth33",
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01");
    PUTS("event", "hostile-array32", "\xdd\x00\xff\xff\xff");
    PUTS("event", "hostile-str32",
         "\x81\xa1"
         "c\xdb\xff\xff\xff\xff");
    PUTS("event", "hostile-dupkey", "\x82\xa1v\x01\xa1v\x01");
    PUTS("event", "hostile-utf8",
         "\x81\xa1"
         "c\xa3\xed\xa0\x80");
    /* entry: events and life entries of every kind */
    fx_encode_event(true, &b);
    putb("entry", "event-full", &b);
    fx_encode_event(false, &b);
    putb("entry", "event-min", &b);
    {
        static const char *const names[] = {"",      "void",   "correct", "target",
                                            "close", "reopen", "reorg"};
        for (int k = CT_LIFE_VOID; k <= CT_LIFE_REORG; k++) {
            ct_life l;
            memset(&l, 0, sizeof l);
            l.kind = (ct_life_kind)k;
            ct_event_id_make(l.id, fx_origin, 100 + (uint64_t)k);
            l.issued_ms = 1690003600000;
            strcpy(l.campaign, "lamdong-2023");
            strcpy(l.actor, "LD672-001");
            strcpy(l.reason, "nhập trùng");
            l.district = k >= CT_LIFE_CLOSE ? 0 : 672;
            l.program = CT_PROGRAM_BHXH_TN;
            memset(l.person, 0xa0, CT_PERSON_LEN);
            ct_event_id_make(l.target_id, fx_origin, 42);
            l.target_seq = 1;
            l.has_new_program = l.has_new_agent = l.has_new_commune = l.has_new_group = true;
            l.new_program = CT_PROGRAM_BHYT_HGD;
            strcpy(l.new_agent, "LD672-008");
            strcpy(l.new_commune, "Phường 2");
            l.target = 1500;
            l.day = 20230722;
            strcpy(l.reorg, "merge-672-683");
            l.effective_ms = 1690300000000;
            if (ct_life_encode(&l, &b)) abort();
            char name[32];
            snprintf(name, sizeof name, "life-%s", names[k]);
            putb("entry", name, &b);
        }
    }
    PUTS("entry", "hostile-k-second", "\x82\xa1v\x01\xa1k\xa4void");
    PUTS("entry", "hostile-k-twice", "\x83\xa1k\xa4void\xa1v\x01\xa1k\xa4void");
    PUTS("entry", "hostile-k-type", "\x82\xa1k\x01\xa1v\x01");
    PUTS("entry", "hostile-map16-str8",
         "\xde\x00\x02\xd9\x01k\xa5"
         "close\xa1v\x02");
    PUTS("entry", "hostile-map32", "\xdf\x7f\xff\xff\xff\xa1k");
    /* wire (all kinds) and state */
    fx_encode_submit(1, 1, &b);
    putb("wire", "sub-1", &b);
    fx_encode_submit(3, UINT64_MAX, &b);
    putb("wire", "sub-3", &b);
    fx_encode_ack(&b);
    putb("wire", "ack", &b);
    ct_wire_error_encode(true, 9, CT_ERR_FORBIDDEN, &b);
    putb("wire", "err-token", &b);
    ct_wire_error_encode(false, 0, CT_ERR_MALFORMED, &b);
    putb("wire", "err-nil", &b);
    ct_wire_snapreq_encode(&b);
    putb("wire", "snq", &b);
    ct_wire_safe_push_encode(1001, 998, 1, &b);
    putb("wire", "sf", &b);
    {
        uint8_t one_ev[] = {0x81, 0xa1, 0x76, 0x01};
        ct_bytes one = {one_ev, sizeof one_ev};
        ct_wire_submit_encode_sp(5, &one, 1, true, 4, true, &b);
        putb("wire", "sub-sp", &b);
    }
    fx_encode_state(CT_MSG_UPDATE, 3, &b);
    put("wire", "upd", b.data, b.len);
    putb("state", "upd", &b);
    fx_encode_state(CT_MSG_HEARTBEAT, 0, &b);
    put("wire", "hb", b.data, b.len);
    putb("state", "hb", &b);
    fx_encode_state(CT_MSG_SNAPSHOT, 12, &b);
    put("wire", "snp", b.data, b.len);
    putb("state", "snp", &b);
    fx_encode_state(CT_MSG_SNAPSHOT, 0, &b);
    putb("state", "snp-empty", &b);
    { /* a snapshot with COMMUNE counters (codes 1 and 1024) beside a NET */
        ct_count_entry ents[3];
        ct_wire_state st;
        fx_state(&st, CT_MSG_SNAPSHOT, ents, 0);
        const uint8_t c1[2] = {0, 1}, cmax[2] = {4, 0};
        ents[0].key = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
        ents[0].value = 5;
        ents[1].key = ct_count_key_make(CT_COUNT_COMMUNE, CT_PROGRAM_BHXH_TN, 672, c1, 2);
        ents[1].value = 3;
        ents[2].key = ct_count_key_make(CT_COUNT_COMMUNE, CT_PROGRAM_BHXH_TN, 672, cmax, 2);
        ents[2].value = 2;
        st.entries = ents;
        st.n_entries = 3;
        ct_buf_reset(&b);
        if (ct_wire_state_encode(&st, &b)) abort();
        putb("state", "snp-commune", &b);
    }
    PUTS("wire", "hostile-sub-hugearray",
         "\x84\xa1v\x01\xa1k\xa3sub\xa1n\x01\xa1"
         "e\xdd\x00\xff\xff\xff");
    PUTS("wire", "hostile-kind", "\x82\xa1v\x01\xa1k\xa3zzz");
    PUTS("state", "hostile-map32", "\xdf\x7f\xff\xff\xff");
    /* log records: a chain of two */
    uint8_t h1[32];
    fx_encode_logrec(&b, h1);
    putb("logrec", "rec-1", &b);
    ct_logrec r;
    memset(&r, 0, sizeof r);
    r.seq = 2;
    r.received_ms = 1690000009999;
    strcpy(r.collector, "insecure");
    ct_buf ev = CT_BUF_INIT;
    fx_encode_event(false, &ev);
    r.event = ev.data;
    r.event_len = ev.len;
    ct_logrec_encode(&r, h1, &b);
    putb("logrec", "rec-2", &b);
    PUTS("logrec", "hostile-bin32", "\x95\x01\x01\xa1x\xc6\xff\xff\xff\xff");
    ct_buf_free(&ev);
    ct_buf_free(&b);
    return 0;
}
