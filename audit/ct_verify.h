/* ct_verify.h — the auditor's rules for `chitieu-audit verify`, over a store
 * or a .ctlog export (docs/audit.md "verify").
 *
 * Both run the engine (ct_audit.h) over the whole log into *a, which they
 * initialise and the caller frees with ct_audit_free (also on error), and add
 * the rules around the walk:
 *   store: the walk must end exactly at the stored head (else "seq N missing
 *     (log ends at ..., head is at ...)"), its hash must be the stored head
 *     ("head mismatch"), no record may lie beyond the head unless the head
 *     has moved there meanwhile ("record beyond the log's head"), the ids
 *     index must map every event to its record (unless no_ids), and the
 *     recount must equal the stored counts;
 *   file: the trailer rule (ct_ctlog_check_trailer).
 * The first divergence is the finding (ct_audit_result). They return CT_OK
 * when the checks ran (diverged or not), or a runtime failure with a message
 * in err.
 */
#ifndef CT_VERIFY_H
#define CT_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_audit.h"

typedef struct {
    bool fingerprint_differs; /* the campaign given is not the one the store holds */
    uint8_t store_fingerprint[32];
    char warning[256];       /* then: what to tell the auditor (not a failure: the counts are
                                re-derived with the campaign given, which is what is checked) */
    int64_t walk_ms, ids_ms; /* time in the log walk and in the ids pass */
} ct_verify_info;

/* o->ids_store is set here (to s) unless no_ids; o->progress_total too. */
ct_err ct_audit_verify_store(ct_audit *a, ct_store *s, const char *name, const ct_audit_opts *o,
                             bool no_ids, ct_verify_info *info, char *err, size_t errlen);
ct_err ct_audit_verify_ctlog(ct_audit *a, ct_ctlog_reader *r, const char *path,
                             const ct_audit_opts *o, char *err, size_t errlen);

/* The figures of a clean verify for the auditor (records, persons,
 * counters, speed, notes on the file, per-program totals). */
void ct_verify_print_summary(FILE *f, const ct_audit *a, const ct_audit_src *src,
                             const ct_verify_info *vi, int64_t total_ms);

#endif
