/* ct_wire_push.c — the pushed safe watermark "sf" (see ct_wire.h and
 * docs/PROTOCOL.md §3.2 "Pushed watermark"): sent by a primary, unasked, to
 * a collector that opted in with "sp", when the safe seq moves while that
 * collector holds events committed but not yet safe. The same invariants as
 * ct_wire.c (canonical key order, smallest encodings, nothing appended on
 * failure; strict decoding in the documented order), through the helpers of
 * ct_wire_int.h.
 */
#include <msgpack.h>

#include "ct_codec.h"
#include "ct_wire.h"
#include "ct_wire_int.h"

static const char *const ct_keys_sf[] = {"v", "k", "s", "f", "ep", NULL};

ct_err ct_wire_safe_push_encode(uint64_t committed, uint64_t safe, uint64_t epoch, ct_buf *out)
{
    if (!out) return CT_ERR_ARG;
    if (safe > committed || epoch == 0) return CT_ERR_BAD_VALUE;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 48)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, 5, CT_MSG_SAFE_PUSH);
    ct_wire_pk_str(&pk, "s");
    bad |= msgpack_pack_uint64(&pk, committed);
    ct_wire_pk_str(&pk, "f");
    bad |= msgpack_pack_uint64(&pk, safe);
    ct_wire_pk_str(&pk, "ep");
    bad |= msgpack_pack_uint64(&pk, epoch);
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_safe_push_decode(const uint8_t *buf, size_t len, uint64_t *committed, uint64_t *safe,
                                uint64_t *epoch)
{
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_SAFE_PUSH, &root);
    if (e) return e;
    const msgpack_object *f[5];
    if ((e = ct_wire_fields(&root, ct_keys_sf, f, 5))) return e;
    uint64_t s = 0, sf = 0, x = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &s))) return e;
    if (f[3] && (e = ct_codec_uint(f[3], UINT64_MAX, &sf))) return e;
    if (f[4]) {
        if ((e = ct_codec_uint(f[4], UINT64_MAX, &x))) return e;
        if (x == 0) return CT_ERR_BAD_VALUE;
    }
    if (!f[2] || !f[3] || !f[4]) return CT_ERR_MISSING_FIELD;
    if (sf > s) return CT_ERR_BAD_VALUE;
    if (!committed || !safe || !epoch) return CT_ERR_ARG;
    *committed = s;
    *safe = sf;
    *epoch = x;
    return CT_OK;
}
