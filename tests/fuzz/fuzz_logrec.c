/* fuzz_logrec.c — libFuzzer target: the log-record decoder
 * (ct_logrec_decode) and the chain check. Invariants: codes from the table;
 * an accepted record's event range lies inside the input; ct_logrec_check
 * says OK or chain_broken; re-encoding with the same prev hash reproduces
 * a record that decodes to the same fields and checks OK.
 */
#include <string.h>

#include "ct_event.h"
#include "ct_logrec.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_logrec r, r2;
    ct_err e = ct_logrec_decode(data, size, &r);
    FUZZ_CHECK(ct_err_known(e));
    if (e != CT_OK) return 0;
    FUZZ_CHECK(r.event >= data && r.event + r.event_len <= data + size);
    uint8_t prev[CT_LOGREC_HASH_LEN] = {0};
    ct_err c = ct_logrec_check(&r, prev);
    FUZZ_CHECK(c == CT_OK || c == CT_ERR_CHAIN);
    ct_event ev;
    FUZZ_CHECK(ct_err_known(ct_event_decode(r.event, r.event_len, &ev, NULL)));
    ct_buf b = CT_BUF_INIT;
    FUZZ_CHECK(ct_logrec_encode(&r, prev, &b) == CT_OK);
    FUZZ_CHECK(ct_logrec_decode(b.data, b.len, &r2) == CT_OK);
    FUZZ_CHECK(r2.seq == r.seq && r2.received_ms == r.received_ms &&
               strcmp(r2.collector, r.collector) == 0 && r2.event_len == r.event_len &&
               memcmp(r2.event, r.event, r.event_len) == 0);
    FUZZ_CHECK(ct_logrec_check(&r2, prev) == CT_OK);
    char hex[2 * CT_LOGREC_HASH_LEN + 1];
    ct_hash_hex(r2.hash, hex);
    FUZZ_CHECK(strlen(hex) == 2 * CT_LOGREC_HASH_LEN);
    ct_buf_free(&b);
    return 0;
}
