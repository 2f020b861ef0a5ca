/* ct_audit_cmd_verify.c — chitieu-audit verify and rebuild: the log (a
 * store or a .ctlog) checked end to end, and a .ctlog rebuilt into a fresh
 * store and checked; "OK seq=N head=H" on stdout, or the findings as
 * "FAIL ..." lines (exit 1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_audit_main.h"
#include "ct_file.h"
#include "ct_rebuild.h"
#include "ct_time.h"
#include "ct_verify.h"

int ct_audit_cmd_verify(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                        ct_audit *a)
{
    char err[1024] = "", hex[65];
    int64_t t0 = ct_monotonic_ms();
    ct_verify_info vi = {0};
    ao->progress = o->quiet ? NULL : "verify";
    ct_err e = src->store ? ct_audit_verify_store(a, src->store, src->name, ao, o->no_ids, &vi, err,
                                                  sizeof err)
                          : ct_audit_verify_ctlog(a, src->file, src->name, ao, err, sizeof err);
    if (vi.warning[0]) fprintf(stderr, "chitieu-audit: warning: %s\n", vi.warning);
    if (e) return ct_audit_main_fail(EXIT_DIVERGED, err);
    if (ct_audit_main_finding(a, 0)) return EXIT_DIVERGED;
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    printf("OK seq=%" PRIu64 " head=%s\n", r.last_seq, (ct_hash_hex(r.head, hex), hex));
    if (!o->quiet) ct_verify_print_summary(stderr, a, src, &vi, ct_monotonic_ms() - t0);
    return 0;
}

int ct_audit_cmd_rebuild(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                         ct_audit *a)
{
    char err[1024] = "", hex[65];
    ct_rebuild_info info;
    ao->progress = o->quiet ? NULL : "rebuild: verify";
    ct_err e = ct_rebuild(a, src->file, src->name, o->data, ao, o->quiet ? NULL : "rebuild: import",
                          &info, err, sizeof err);
    if (e) return ct_audit_main_fail(EXIT_DIVERGED, err);
    if (ct_audit_main_finding(a, 0)) return EXIT_DIVERGED;
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    printf("OK seq=%" PRIu64 " head=%s counters=%zu\n", info.seq,
           (ct_hash_hex(info.head, hex), hex), info.counters);
    ct_audit_print_totals(stdout, r.counts);
    return 0;
}
