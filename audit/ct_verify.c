/* ct_verify.c — verify over a store or a .ctlog export (see ct_verify.h).
 * Each function owns the stored-counts table it reads and frees it on every
 * path; the engine state belongs to the caller. */
#include "ct_verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_keys.h"
#include "ct_time.h"

static ct_err max_seq_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    uint64_t *m = arg;
    if (rec->seq > *m) *m = rec->seq;
    return CT_OK;
}

/* The walk against the stored head: ends there, with its hash, nothing beyond. */
static ct_err check_head(ct_audit *a, ct_store *s, uint64_t head_seq,
                         const uint8_t head[CT_LOGREC_HASH_LEN])
{
    if (a->diverged) return CT_OK;
    if (a->last_seq != head_seq) {
        ct_audit_diverge(a, a->last_seq + 1,
                         "seq %" PRIu64 " missing (log ends at %" PRIu64 ", head is at %" PRIu64
                         ")",
                         a->last_seq + 1, a->last_seq, head_seq);
        return CT_OK;
    }
    if (memcmp(a->head, head, CT_LOGREC_HASH_LEN) != 0) {
        char h1[65], h2[65];
        ct_hash_hex(head, h1);
        ct_hash_hex(a->head, h2);
        ct_audit_diverge(a, head_seq,
                         "seq %" PRIu64 ": head mismatch: stored head %s, chain gives %s", head_seq,
                         h1, h2);
        return CT_OK;
    }
    /* records past the head: new commits on a live store (the head has
     * moved on by now), else appended behind the head's back */
    uint64_t beyond = 0, now_seq = 0;
    uint8_t nh[CT_LOGREC_HASH_LEN];
    ct_err e = ct_store_log_scan(s, head_seq + 1, UINT64_MAX, max_seq_cb, &beyond, NULL);
    if (!e && beyond) e = ct_store_head(s, &now_seq, nh);
    if (!e && beyond > now_seq)
        ct_audit_diverge(a, beyond,
                         "seq %" PRIu64 ": record beyond the log's head (seq %" PRIu64 ")", beyond,
                         now_seq > head_seq ? now_seq : head_seq);
    return CT_OK;
}

ct_err ct_audit_verify_store(ct_audit *a, ct_store *s, const char *name, const ct_audit_opts *o,
                             bool no_ids, ct_verify_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    int64_t t0 = ct_monotonic_ms();
    if (ct_store_fingerprint(s, info->store_fingerprint) == CT_OK)
        info->fingerprint_differs = memcmp(info->store_fingerprint, o->campaign->fingerprint,
                                           sizeof info->store_fingerprint) != 0;
    if (info->fingerprint_differs) {
        char f1[65], f2[65];
        ct_hash_hex(o->campaign->fingerprint, f1);
        ct_hash_hex(info->store_fingerprint, f2);
        snprintf(info->warning, sizeof info->warning,
                 "the campaign file's fingerprint %.16s... differs from the store's current one "
                 "%.16s... (campaign edited, or another file)",
                 f1, f2);
    }
    ct_counts stored;
    ct_counts_init(&stored);
    uint64_t head_seq = 0;
    uint8_t head[CT_LOGREC_HASH_LEN];
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    ct_audit_opts ao = *o;
    ao.ids_store = no_ids ? NULL : s;
    ct_err e = ct_store_read_counts(s, &stored, &head_seq, head);
    ao.progress_total = head_seq;
    ct_audit_init(a, &ao, 1, zero);
    if (e) {
        snprintf(err, errlen, "%s: reading counts: %s", name, ct_err_str(e));
        goto out;
    }
    if (head_seq > 0) {
        e = ct_audit_run(a, &(ct_audit_src){.store = s, .name = name}, head_seq, err, errlen);
        if (e) goto out;
    }
    check_head(a, s, head_seq, head);
    int64_t t_walk = ct_monotonic_ms();
    info->walk_ms = t_walk - t0;
    if (!a->diverged && !no_ids) {
        e = ct_audit_check_ids(a, s);
        if (e) {
            snprintf(err, errlen, "%s: scanning the ids index: %s", name, ct_err_str(e));
            goto out;
        }
    }
    info->ids_ms = ct_monotonic_ms() - t_walk;
    if (!a->diverged && (e = ct_audit_compare_all(a, &stored)) != CT_OK)
        snprintf(err, errlen, "%s: comparing counts: %s", name, ct_err_str(e));
out:
    ct_counts_free(&stored);
    return e;
}

ct_err ct_audit_verify_ctlog(ct_audit *a, ct_ctlog_reader *r, const char *path,
                             const ct_audit_opts *o, char *err, size_t errlen)
{
    ct_audit_init(a, o, r->from, r->prev);
    ct_err e = ct_audit_run(a, &(ct_audit_src){.file = r, .name = path}, 0, err, errlen);
    if (e || a->diverged) return e;
    char msg[256];
    if (ct_ctlog_check_trailer(r, a->n_records, a->last_seq, a->head, msg, sizeof msg) != CT_OK)
        ct_audit_diverge(a, a->last_seq, "%s", msg);
    return CT_OK;
}

void ct_verify_print_summary(FILE *f, const ct_audit *a, const ct_audit_src *src,
                             const ct_verify_info *vi, int64_t ms)
{
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    fprintf(f,
            "verify: %" PRIu64 " records, %zu persons, %zu counters, %" PRId64
            " ms (%.0f records/s; log walk %" PRId64 " ms, ids index %" PRId64 " ms)%s%s\n",
            r.n_records, r.n_persons, r.counts->n, ms,
            ms > 0 ? (double)r.n_records * 1000.0 / (double)ms : 0.0, src->file ? ms : vi->walk_ms,
            src->file ? 0 : vi->ids_ms,
            src->file && !src->file->has_trailer ? "; file has no trailer" : "",
            src->file && src->file->from > 1 ? "; partial export: recount covers only it" : "");
    if (r.n_life) fprintf(f, "life entries: %" PRIu64 " applied\n", r.n_life);
    if (r.n_unapplied)
        fprintf(f,
                "note: %" PRIu64 " life entries name records or days before the export's first "
                "seq %" PRIu64 "; the recount of this partial export leaves them out\n",
                r.n_unapplied, r.first_seq);
    ct_audit_print_totals(f, r.counts);
}
