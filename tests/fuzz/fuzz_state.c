/* fuzz_state.c — libFuzzer target: the feed / snapshot state decoder
 * (ct_wire_state_decode: "upd", "hb", "snp"). Invariants: codes from the
 * table; nothing allocated on error; an accepted state re-encodes
 * canonically, decodes to the same values and re-encodes to the same bytes.
 */
#include <string.h>

#include "ct_wire.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_wire_state st, st2;
    ct_err e = ct_wire_state_decode(data, size, &st);
    FUZZ_CHECK(ct_err_known(e));
    if (e != CT_OK) {
        FUZZ_CHECK(st.entries == NULL && st.n_entries == 0);
        return 0;
    }
    ct_buf b1 = CT_BUF_INIT, b2 = CT_BUF_INIT;
    FUZZ_CHECK(ct_wire_state_encode(&st, &b1) == CT_OK);
    FUZZ_CHECK(ct_wire_state_decode(b1.data, b1.len, &st2) == CT_OK);
    FUZZ_CHECK(st2.kind == st.kind && st2.seq == st.seq && st2.prev_seq == st.prev_seq &&
               st2.time_ms == st.time_ms && st2.n_entries == st.n_entries &&
               memcmp(st2.head, st.head, CT_HASH_LEN) == 0 &&
               memcmp(st2.prev_head, st.prev_head, CT_HASH_LEN) == 0);
    for (size_t i = 0; i < st.n_entries; i++)
        FUZZ_CHECK(ct_count_key_cmp(&st.entries[i].key, &st2.entries[i].key) == 0 &&
                   st.entries[i].value == st2.entries[i].value);
    FUZZ_CHECK(ct_wire_state_encode(&st2, &b2) == CT_OK);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    ct_buf_free(&b1);
    ct_buf_free(&b2);
    ct_wire_state_free(&st);
    ct_wire_state_free(&st2);
    return 0;
}
