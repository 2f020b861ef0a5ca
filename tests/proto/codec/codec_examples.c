/* codec_examples.c — prints hex dumps of canonical frames produced by the
 * real encoders (the typical event, a submit of two events, an ack, a log
 * record, a feed update, a void and a close life entry). The output is pasted into
 * docs/PROTOCOL.md; as a ctest it also checks that each dump decodes again. Exit 0 on success.
 */
#include <stdio.h>

#include "codec_fixtures.h"
#include "ct_life.h"

static void dump(const char *title, const ct_buf *b)
{
    printf("%s (%zu bytes):\n", title, b->len);
    for (size_t i = 0; i < b->len; i += 16) {
        printf("  %04zx:", i);
        for (size_t j = i; j < i + 16 && j < b->len; j++)
            printf(" %02x", b->data[j]);
        printf("\n");
    }
    printf("\n");
}

int main(void)
{
    int rc = 0;
    ct_buf ev = CT_BUF_INIT, ev2 = CT_BUF_INIT, sub = CT_BUF_INIT, ack = CT_BUF_INIT,
           rec = CT_BUF_INIT, upd = CT_BUF_INIT;
    ct_event e = fx_event(true);
    char idhex[33];
    ct_event_id_hex(e.id, idhex);
    printf("event: id=%s t=%lld c=%s d=%u w=%s a=%s p=%s x=%s m=%u amt=%llu g=%s\n"
           "       h=a0a1a2...bf (32 bytes)\n\n",
           idhex, (long long)e.occurred_ms, e.campaign, e.district, e.commune, e.agent,
           ct_program_name(e.program), ct_action_name(e.action), e.months,
           (unsigned long long)e.amount_vnd, e.group);
    if (ct_event_encode(&e, &ev)) return 1;
    dump("event (all fields)", &ev);

    ct_event m = fx_event(false);
    ct_event_id_make(m.id, fx_origin, 43);
    m.program = CT_PROGRAM_BHYT_HGD;
    m.action = CT_ACTION_CANCEL;
    if (ct_event_encode(&m, &ev2)) return 1;
    dump("event (required fields only; id seq 43, bhyt_hgd, cancel)", &ev2);

    ct_bytes two[2] = {{ev.data, ev.len}, {ev2.data, ev2.len}};
    if (ct_wire_submit_encode(7, two, 2, &sub)) return 1;
    dump("sub (token 7, the two events above)", &sub);

    ct_ack_item it[2];
    memset(it, 0, sizeof it);
    it[0].has_id = true;
    memcpy(it[0].id, e.id, 16);
    it[0].status = CT_ACK_DUPLICATE;
    it[0].seq = 998;
    it[1].has_id = true;
    memcpy(it[1].id, m.id, 16);
    it[1].status = CT_ACK_ACCEPTED;
    it[1].seq = 1001;
    if (ct_wire_ack_encode(7, 1001, it, 2, &ack)) return 1;
    dump("ack (token 7, head 1001: 42 duplicate of seq 998, 43 accepted at seq 1001)", &ack);

    uint8_t h[32];
    fx_encode_logrec(&rec, h);
    char hx[65];
    ct_hash_hex(h, hx);
    dump("log record (seq 1, received 1690000000500, collector = a Z85 key, event above)", &rec);
    printf("hash of that record (prev = 32 zero bytes): %s\n\n", hx);

    ct_count_entry ce[2];
    ce[0].key = ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHXH_TN, 672, NULL, 0);
    ce[0].value = 1;
    ce[1].key = ct_count_key_make(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, "LD672-007", 9);
    ce[1].value = 1;
    ct_wire_state us;
    memset(&us, 0, sizeof us);
    us.kind = CT_MSG_UPDATE;
    us.seq = 1;
    us.prev_seq = 0;
    memcpy(us.head, h, 32); /* the record above on an empty log ("ph" = zero) */
    us.time_ms = 1690000000600;
    us.entries = ce;
    us.n_entries = 2;
    if (ct_wire_state_encode(&us, &upd)) return 1;
    dump("upd (seq 1 after 0, ph = zero head, h = that record's hash, 2 counters)", &upd);

    /* office telemetry (PROTOCOL.md §3.6) */
    ct_wire_telemetry tel = {.token = 9,
                             .district = 672,
                             .origin = {0x4c, 0x44, 0x36, 0x37, 0x32, 0x00, 0x01, 0x02},
                             .clock_ms = 1690000000000,
                             .waiting = 12,
                             .unsafe = 2,
                             .rejected = 1,
                             .oldest_ms = 1689990000000,
                             .version = "0.9.0"};
    ct_buf telb = CT_BUF_INIT;
    if (ct_wire_telemetry_encode(&tel, &telb)) rc = 1;
    dump("tel (token 9, office 672, 12 waiting of which 2 not yet safe, 1 rejected)", &telb);
    ct_wire_telemetry teld;
    if (ct_wire_telemetry_decode(telb.data, telb.len, &teld) || teld.waiting != 12) rc = 1;
    ct_buf_free(&telb);

    /* life entries (PROTOCOL.md §2.2): a void of the event above (seq 1) from
     * its office, and the close of 2023-07-22 for the province by an admin */
    ct_life lv;
    memset(&lv, 0, sizeof lv);
    lv.kind = CT_LIFE_VOID;
    ct_event_id_make(lv.id, fx_origin, 44);
    lv.issued_ms = 1690003600000;
    strcpy(lv.campaign, "lamdong-2023");
    strcpy(lv.actor, "LD672-001");
    strcpy(lv.reason, "nhập trùng");
    lv.district = 672;
    lv.program = CT_PROGRAM_BHXH_TN;
    memcpy(lv.person, e.person, CT_PERSON_LEN);
    memcpy(lv.target_id, e.id, CT_EVENT_ID_LEN);
    lv.target_seq = 1;
    ct_life lc;
    memset(&lc, 0, sizeof lc);
    lc.kind = CT_LIFE_CLOSE;
    static const uint8_t hq_origin[CT_ORIGIN_LEN] = {0x48, 0x51, 0x36, 0x38,
                                                     0x00, 0x00, 0x00, 0x01};
    ct_event_id_make(lc.id, hq_origin, 1);
    lc.issued_ms = 1690045200000;
    strcpy(lc.campaign, "lamdong-2023");
    strcpy(lc.actor, "admin");
    strcpy(lc.reason, "đã báo cáo");
    lc.district = 0;
    lc.day = 20230722;
    ct_buf lvb = CT_BUF_INIT, lcb = CT_BUF_INIT;
    if (ct_life_encode(&lv, &lvb) || ct_life_encode(&lc, &lcb)) return 1;
    dump("life void (id seq 44, of the event above at seq 1, by LD672-001)", &lvb);
    dump("life close (province, 20230722, by admin)", &lcb);
    ct_entry le;
    if (ct_entry_decode(lvb.data, lvb.len, &le, NULL) || le.type != CT_ENTRY_LIFE ||
        le.u.life.kind != CT_LIFE_VOID || ct_entry_decode(lcb.data, lcb.len, &le, NULL) ||
        le.u.life.kind != CT_LIFE_CLOSE || le.u.life.day != 20230722)
        rc = 1;
    ct_buf_free(&lvb);
    ct_buf_free(&lcb);

    /* self-check */
    ct_event d;
    ct_bytes out[4];
    uint64_t tok, seq;
    size_t n;
    ct_logrec r;
    uint8_t zero[32] = {0};
    if (ct_event_decode(ev.data, ev.len, &d, NULL) ||
        ct_wire_submit_decode(sub.data, sub.len, &tok, out, 4, &n) || n != 2 ||
        ct_wire_ack_decode(ack.data, ack.len, &tok, &seq, it, 2, &n) || it[0].seq != 998 ||
        it[1].seq != 1001 || ct_logrec_decode(rec.data, rec.len, &r) || ct_logrec_check(&r, zero))
        rc = 1;
    ct_wire_state ud;
    if (ct_wire_state_decode(upd.data, upd.len, &ud) || ud.n_entries != 2 ||
        memcmp(ud.head, h, 32) || memcmp(ud.prev_head, zero, 32))
        rc = 1;
    ct_wire_state_free(&ud);
    ct_buf_free(&ev);
    ct_buf_free(&ev2);
    ct_buf_free(&sub);
    ct_buf_free(&ack);
    ct_buf_free(&rec);
    ct_buf_free(&upd);
    return rc;
}
