/* ct_replay.c — see ct_replay.h. Holds nothing beyond the call. */
#include "ct_replay.h"

#include <inttypes.h>
#include <stdio.h>

ct_err ct_audit_replay(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o, bool by_time,
                       uint64_t seq, int64_t at_ms, char *err, size_t errlen)
{
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    uint64_t head_seq = UINT64_MAX;
    ct_err e = CT_OK;
    if (src->store) {
        uint8_t h[CT_LOGREC_HASH_LEN];
        e = ct_store_head(src->store, &head_seq, h);
        if (e) snprintf(err, errlen, "%s: %s", src->name, ct_err_str(e));
    }
    ct_audit_opts ao = *o;
    ao.stop_seq = by_time ? 0 : seq;
    ao.stop_time_ms = by_time ? at_ms : INT64_MAX;
    ao.progress_total = !by_time ? seq : (src->file ? 0 : head_seq);
    ct_audit_init(a, &ao, 1, zero);
    if (e) return e;
    if (src->file && src->file->from != 1) {
        snprintf(err, errlen,
                 "%s: export starts at seq %" PRIu64 "; replay needs the log from seq 1", src->name,
                 src->file->from);
        return CT_ERR_ARG;
    }
    if (!by_time && seq > head_seq) {
        snprintf(err, errlen, "--seq %" PRIu64 " is beyond the log's head (seq %" PRIu64 ")", seq,
                 head_seq);
        return CT_ERR_ARG;
    }
    if (by_time || seq > 0) {
        e = ct_audit_run(a, src, by_time ? (src->file ? 0 : head_seq) : seq, err, errlen);
        if (e || a->diverged) return e;
    }
    if (!by_time && a->last_seq != seq) {
        snprintf(err, errlen, "the log ends at seq %" PRIu64 ", before --seq %" PRIu64, a->last_seq,
                 seq);
        return CT_ERR_STORE_CORRUPT;
    }
    return CT_OK;
}
