/* ct_audit_cmd_replay.c — chitieu-audit replay and national-replay: the
 * status report (one province) or the national report exactly as
 * chitieu-reporter renders it, recomputed from the log at a position or
 * at the pins; written atomically to --output or stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_audit_main.h"
#include "ct_file.h"
#include "ct_natreplay.h"
#include "ct_reorg.h"
#include "ct_replay.h"
#include "ct_status.h"
#include "ct_time.h"

int ct_audit_cmd_replay(const ct_audit_cfg *o, const ct_opt_result *res, const ct_audit_src *src,
                        ct_audit_opts *ao, ct_audit *a)
{
    const ct_campaign *c = ao->campaign;
    int64_t at_ms = INT64_MAX, now_ms = 0;
    ct_status_format fmt = CT_FMT_TABLE;
    if (o->format) (void)ct_status_format_parse(o->format, &fmt); /* checked in check_args */
    if (o->time && ct_time_parse(o->time, c->tz_offset_min, &at_ms))
        return ct_audit_main_usage("--time: not an ISO time");
    if (o->now && ct_time_parse(o->now, c->tz_offset_min, &now_ms))
        return ct_audit_main_usage("--now: not an ISO time");
    char err[1024] = "";
    ao->progress = o->quiet ? NULL : "replay";
    ct_err e =
        ct_audit_replay(a, src, ao, !res->given[O_SEQ], (uint64_t)o->seq, at_ms, err, sizeof err);
    if (e) return ct_audit_main_fail(EXIT_DIVERGED, err);
    if (ct_audit_main_finding(a, 0)) return EXIT_DIVERGED;
    ct_audit_result r;
    ct_audit_result_get(a, &r);
    if (!o->now) now_ms = o->time ? at_ms : (r.last_seq ? r.last_received_ms : c->start_ms);
    ct_status_position pos = {
        .seq = r.last_seq, .now_ms = now_ms, .feed = o->feed ? o->feed : "replay"};
    memcpy(pos.head, r.head, sizeof pos.head);
    ct_buf out = CT_BUF_INIT;
    ct_reorg_view rv;
    e = ct_reorg_project(c, r.counts, now_ms, (ct_units)o->units, &rv);
    if (!e)
        e = ct_status_render(ct_reorg_campaign(&rv, c), ct_reorg_counts(&rv, r.counts), &pos, fmt,
                             o->staff ? CT_STATUS_STAFF : 0, &out);
    ct_reorg_view_free(&rv);
    err[0] = 0;
    if (!e) e = ct_file_replace(o->output ? o->output : "-", out.data, out.len, err, sizeof err);
    int rc =
        e ? ct_audit_main_fail(EXIT_DIVERGED, err[0] ? err : "rendering the report failed") : 0;
    ct_buf_free(&out);
    return rc;
}

int ct_audit_cmd_natreplay(const ct_audit_cfg *o, unsigned threads)
{
    char err[1536] = "";
    ct_national n;
    if (ct_national_load(o->national, &n, err, sizeof err))
        return ct_audit_main_fail(EXIT_USAGE, err);
    ct_natreplay_opts no = {.sources = o->sources ? o->sources : "",
                            .pins = o->pins,
                            .fmt = CT_NAT_TABLE,
                            .threads = threads,
                            .quiet = o->quiet};
    if (o->format) (void)ct_natstatus_format_parse(o->format, &no.fmt); /* checked in check_args */
    ct_buf out = CT_BUF_INIT;
    ct_err e = CT_OK;
    /* a CSV file is a document Excel opens: the reporter's carries a BOM */
    if (no.fmt == CT_NAT_CSV && o->output && strcmp(o->output, "-") != 0)
        e = ct_buf_append(&out, "\xEF\xBB\xBF", 3);
    if (!e) e = ct_audit_national_replay(&n, &no, &out, err, sizeof err);
    if (!e) e = ct_file_replace(o->output ? o->output : "-", out.data, out.len, err, sizeof err);
    int rc = !e ? 0 : ct_audit_main_fail(e == CT_ERR_USAGE ? EXIT_USAGE : EXIT_DIVERGED, err);
    ct_buf_free(&out);
    ct_national_free(&n);
    return rc;
}
