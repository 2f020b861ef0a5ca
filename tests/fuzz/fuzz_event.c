/* fuzz_event.c — libFuzzer target: the event decoder + validator
 * (ct_event_decode). Invariants: returns a code from the table; when it
 * accepts, the canonical re-encoding decodes to the same event and
 * re-encodes to the same bytes; id_known implies the id was copied.
 */
#include <string.h>

#include "ct_event.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_event ev;
    bool idk = false;
    ct_err e = ct_event_decode(data, size, &ev, &idk);
    FUZZ_CHECK(ct_err_known(e));
    if (e != CT_OK) return 0;
    FUZZ_CHECK(idk);
    ct_buf b1 = CT_BUF_INIT, b2 = CT_BUF_INIT;
    FUZZ_CHECK(ct_event_encode(&ev, &b1) == CT_OK);
    ct_event ev2;
    FUZZ_CHECK(ct_event_decode(b1.data, b1.len, &ev2, NULL) == CT_OK);
    FUZZ_CHECK(ct_event_encode(&ev2, &b2) == CT_OK);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    FUZZ_CHECK(b1.len <= size); /* canonical is never longer than what was accepted */
    ct_buf_free(&b1);
    ct_buf_free(&b2);
    return 0;
}
