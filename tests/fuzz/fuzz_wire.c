/* fuzz_wire.c — libFuzzer target: every wire decoder on the same input
 * (peek, sub + the events inside it, ack, err, upd/hb/snp, snq, tel, stq,
 * sta, sf).
 * Invariants: codes from the table; decoders agree with ct_wire_peek_kind
 * (a decoder of another kind never accepts); accepted messages re-encode
 * canonically and decode to the same content.
 */
#include <string.h>

#include "ct_event.h"
#include "ct_wire.h"
#include "fuzz_common.h"

static ct_bytes evs[CT_WIRE_MAX_EVENTS];
static ct_ack_item items[CT_WIRE_MAX_EVENTS], items2[CT_WIRE_MAX_EVENTS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_msg_kind kind = 0;
    ct_err pk = ct_wire_peek_kind(data, size, &kind);
    FUZZ_CHECK(ct_err_known(pk));

    uint64_t tok, seq, tok2, seq2;
    size_t n, n2;
    ct_err e = ct_wire_submit_decode(data, size, &tok, evs, CT_WIRE_MAX_EVENTS, &n);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) {
        FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_SUBMIT);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(evs[i].data >= data && evs[i].data + evs[i].len <= data + size);
            ct_event ev;
            FUZZ_CHECK(ct_err_known(ct_event_decode(evs[i].data, evs[i].len, &ev, NULL)));
        }
        ct_buf b = CT_BUF_INIT;
        FUZZ_CHECK(ct_wire_submit_encode(tok, evs, n, &b) == CT_OK);
        ct_bytes *again = malloc(n * sizeof *again);
        FUZZ_CHECK(ct_wire_submit_decode(b.data, b.len, &tok2, again, n, &n2) == CT_OK);
        FUZZ_CHECK(tok2 == tok && n2 == n);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(again[i].len == evs[i].len &&
                       (evs[i].len == 0 || memcmp(again[i].data, evs[i].data, evs[i].len) == 0));
        free(again);
        ct_buf_free(&b);
    }

    {
        bool want = false, push = false;
        uint64_t ep = 0;
        e = ct_wire_submit_decode_sp(data, size, &tok, &want, &ep, &push, evs, CT_WIRE_MAX_EVENTS,
                                     &n);
        FUZZ_CHECK(ct_err_known(e));
        if (e == CT_OK) FUZZ_CHECK(kind == CT_MSG_SUBMIT && (!push || want));
    }
    {
        uint64_t c1 = 0, c2 = 0, c3 = 0, d1 = 0, d2 = 0, d3 = 0;
        e = ct_wire_safe_push_decode(data, size, &c1, &c2, &c3);
        FUZZ_CHECK(ct_err_known(e));
        if (e == CT_OK) {
            FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_SAFE_PUSH && c2 <= c1 && c3 >= 1);
            ct_buf b = CT_BUF_INIT;
            FUZZ_CHECK(ct_wire_safe_push_encode(c1, c2, c3, &b) == CT_OK);
            FUZZ_CHECK(ct_wire_safe_push_decode(b.data, b.len, &d1, &d2, &d3) == CT_OK);
            FUZZ_CHECK(d1 == c1 && d2 == c2 && d3 == c3);
            ct_buf_free(&b);
        }
    }

    e = ct_wire_ack_decode(data, size, &tok, &seq, items, CT_WIRE_MAX_EVENTS, &n);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) {
        FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_ACK);
        ct_buf b = CT_BUF_INIT;
        FUZZ_CHECK(ct_wire_ack_encode(tok, seq, items, n, &b) == CT_OK);
        FUZZ_CHECK(ct_wire_ack_decode(b.data, b.len, &tok2, &seq2, items2, n, &n2) == CT_OK);
        FUZZ_CHECK(tok2 == tok && seq2 == seq && n2 == n);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(items2[i].has_id == items[i].has_id && items2[i].status == items[i].status &&
                       items2[i].code == items[i].code &&
                       memcmp(items2[i].id, items[i].id, CT_EVENT_ID_LEN) == 0);
        ct_buf_free(&b);
    }

    bool has;
    uint16_t code;
    e = ct_wire_error_decode(data, size, &has, &tok, &code);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_ERROR);

    ct_wire_state st;
    e = ct_wire_state_decode(data, size, &st);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK)
        FUZZ_CHECK(pk == CT_OK &&
                   (kind == CT_MSG_UPDATE || kind == CT_MSG_HEARTBEAT || kind == CT_MSG_SNAPSHOT));
    else
        FUZZ_CHECK(st.entries == NULL);
    ct_wire_state_free(&st);

    e = ct_wire_snapreq_decode(data, size);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_SNAP_REQ);

    /* office telemetry and the status (PROTOCOL.md §3.6): what decodes
     * re-encodes to a frame that decodes to the same values */
    ct_wire_telemetry tel, tel2;
    e = ct_wire_telemetry_decode(data, size, &tel);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) {
        ct_buf b = CT_BUF_INIT;
        FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_TELEMETRY);
        FUZZ_CHECK(ct_wire_telemetry_encode(&tel, &b) == CT_OK);
        FUZZ_CHECK(ct_wire_telemetry_decode(b.data, b.len, &tel2) == CT_OK);
        FUZZ_CHECK(memcmp(&tel, &tel2, sizeof tel) == 0);
        ct_buf_free(&b);
    }
    e = ct_wire_statusreq_decode(data, size, NULL, NULL);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_STATUS_REQ);
    ct_wire_status sta, sta2;
    e = ct_wire_status_decode(data, size, &sta);
    FUZZ_CHECK(ct_err_known(e));
    if (e == CT_OK) {
        ct_buf b = CT_BUF_INIT;
        FUZZ_CHECK(pk == CT_OK && kind == CT_MSG_STATUS);
        FUZZ_CHECK(ct_wire_status_encode(&sta, &b) == CT_OK);
        FUZZ_CHECK(ct_wire_status_decode(b.data, b.len, &sta2) == CT_OK);
        FUZZ_CHECK(sta2.n_offices == sta.n_offices && sta2.n_followers == sta.n_followers &&
                   sta2.committed == sta.committed && sta2.safe == sta.safe);
        ct_wire_status_free(&sta2);
        ct_buf_free(&b);
    } else {
        FUZZ_CHECK(sta.offices == NULL && sta.followers == NULL);
    }
    ct_wire_status_free(&sta);
    return 0;
}
