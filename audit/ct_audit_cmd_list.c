/* ct_audit_cmd_list.c — chitieu-audit export, trace and life: the log
 * listed (all or a range, as ctlog, jsonl or csv), an event's history
 * (trace) and the campaign's life entries; a divergence met on the way
 * stops the listing with exit 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_audit_main.h"
#include "ct_export.h"
#include "ct_file.h"
#include "ct_lifelist.h"
#include "ct_time.h"
#include "ct_trace.h"

int ct_audit_cmd_export(const ct_audit_cfg *o, const ct_audit_src *src, const ct_campaign *c)
{
    static const char *const fmts[] = {"ctlog", "jsonl", "csv"};
    ct_export_opts eo = {.campaign = c,
                         .from_seq = (uint64_t)o->from_seq,
                         .to_seq = (uint64_t)o->to_seq,
                         .by_time = o->from_time || o->to_time,
                         .from_ms = INT64_MIN,
                         .to_ms = INT64_MAX};
    for (int i = 0; i < 3; i++)
        if (strcmp(o->format, fmts[i]) == 0) eo.format = (ct_export_format)i;
    if ((o->from_time && ct_time_parse(o->from_time, c->tz_offset_min, &eo.from_ms)) ||
        (o->to_time && ct_time_parse(o->to_time, c->tz_offset_min, &eo.to_ms)))
        return ct_audit_main_usage("--from-time/--to-time: not an ISO time");
    bool to_stdout = strcmp(o->output, "-") == 0;
    eo.progress = o->quiet || to_stdout ? NULL : "export";
    eo.out_name = o->output;
    char err[1024] = "", hex[65];
    ct_export_info info;
    if (ct_export_to_file(src->store, src->name, &eo, o->output, &info, err, sizeof err))
        return ct_audit_main_fail(EXIT_DIVERGED, err);
    if (!o->quiet && !to_stdout)
        fprintf(
            stderr, "export: %" PRIu64 " records, seq %" PRIu64 "..%" PRIu64 ", head=%s -> %s\n",
            info.count, info.from, info.last, (ct_hash_hex(info.last_hash, hex), hex), o->output);
    return 0;
}

int ct_audit_cmd_trace(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                       ct_audit *a)
{
    char err[1024] = "";
    ct_trace_filter t = {.agent = o->agent,
                         .district = (uint32_t)o->district,
                         .seq = (uint64_t)o->seq,
                         .jsonl = o->format && strcmp(o->format, "jsonl") == 0};
    if ((o->person && ct_trace_set_person(&t, o->person, err, sizeof err)) ||
        (o->day && ct_trace_set_day(&t, o->day, err, sizeof err)) ||
        (o->event && ct_trace_set_event(&t, o->event, err, sizeof err)))
        return ct_audit_main_usage(err);
    uint64_t n = 0;
    ct_err e = ct_trace(a, src, ao, &t, stdout, &n, err, sizeof err);
    int rc = e ? ct_audit_main_fail(EXIT_DIVERGED, err) : 0;
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    if (!rc && r.diverged) {
        fflush(stdout);
        fprintf(stderr, "chitieu-audit: FAIL %s (trace stops there; run verify)\n", r.finding);
        rc = EXIT_DIVERGED;
    }
    if (!rc && !o->quiet)
        fprintf(stderr, "trace: %" PRIu64 " matching of %" PRIu64 " records\n", n, r.n_records);
    return fflush(stdout) != 0 ? EXIT_DIVERGED : rc;
}

int ct_audit_cmd_life(const ct_audit_cfg *o, const ct_opt_result *res, const ct_audit_src *src,
                      ct_audit_opts *ao, ct_audit *a)
{
    char err[1024] = "";
    ct_lifelist_filter f = {.has_unit = res->given[O_UNIT], .unit = (uint32_t)o->unit};
    if (o->format) (void)ct_lifelist_format_parse(o->format, &f.fmt); /* checked in check_args */
    if (o->kind && ct_lifelist_set_kinds(&f, o->kind, err, sizeof err))
        return ct_audit_main_usage(err);
    ao->progress = o->quiet ? NULL : "life";
    ct_buf out = CT_BUF_INIT;
    uint64_t n = 0;
    ct_err e = ct_lifelist(a, src, ao, &f, &out, &n, err, sizeof err);
    int rc = e ? ct_audit_main_fail(EXIT_DIVERGED, err) : ct_audit_main_finding(a, 0);
    if (!rc) {
        err[0] = 0;
        e = ct_file_replace(o->output ? o->output : "-", out.data, out.len, err, sizeof err);
        if (e) rc = ct_audit_main_fail(EXIT_DIVERGED, err[0] ? err : ct_err_str(e));
    }
    if (!rc && !o->quiet) fprintf(stderr, "life: %" PRIu64 " entries listed\n", n);
    ct_buf_free(&out);
    return rc;
}
