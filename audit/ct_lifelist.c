/* ct_lifelist.c — see ct_lifelist.h. Holds nothing beyond the call. */
#include "ct_lifelist.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_export_life.h"
#include "ct_keys.h"
#include "ct_text.h"
#include "ct_time.h"

typedef struct {
    const ct_lifelist_filter *f;
    const ct_campaign *c;
    ct_buf *out;
    ct_buf rows; /* JSON: the entries, until the walk's end is known */
    uint64_t n;
} list_st;

ct_err ct_lifelist_set_kinds(ct_lifelist_filter *f, const char *list, char *err, size_t errlen)
{
    f->kinds = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char k[16];
        ct_life_kind kind;
        if (len == 0 || len >= sizeof k) goto bad;
        memcpy(k, p, len);
        k[len] = 0;
        if (ct_life_kind_parse(k, &kind) != CT_OK) goto bad;
        f->kinds |= 1u << (unsigned)kind;
        if (!end) return CT_OK;
        p = end + 1;
    }
bad:
    snprintf(err, errlen,
             "--kind: expected void, correct, target, close, reopen or reorg "
             "(or a comma-separated list), not '%s'",
             list);
    return CT_ERR_USAGE;
}

ct_err ct_lifelist_format_parse(const char *s, ct_lifelist_format *out)
{
    static const char *const names[] = {"table", "csv", "json"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (ct_lifelist_format)i;
            return CT_OK;
        }
    return CT_ERR_USAGE;
}

static bool wanted(const ct_lifelist_filter *f, const ct_life *l)
{
    if (f->kinds && !(f->kinds & (1u << (unsigned)l->kind))) return false;
    if (f->has_unit && (l->kind == CT_LIFE_REORG || l->district != f->unit)) return false;
    return true;
}

static ct_err table_row(list_st *s, const ct_audit_event *ae, const char *oc)
{
    const ct_life *l = ae->life;
    char rcv[40], unit[12] = "-", fields[512];
    ct_time_format(ae->rec->received_ms, s->c->tz_offset_min, rcv, sizeof rcv);
    if (l->kind != CT_LIFE_REORG) snprintf(unit, sizeof unit, "%u", (unsigned)l->district);
    ct_life_fields_text(s->c, l, fields, sizeof fields);
    ct_err e = ct_buf_printf(
        s->out, "%8" PRIu64 "  %-29s  %-7s  %5s  %-16s  %-10s  %s  reason=", ae->rec->seq, rcv,
        ct_life_kind_name(l->kind), unit, l->actor, oc, fields);
    if (!e) e = ct_text_json_str(s->out, l->reason); /* quoted, control bytes escaped */
    return e ? e : ct_buf_append(s->out, "\n", 1);
}

static ct_err list_cb(const ct_audit_event *ae, void *arg)
{
    list_st *s = arg;
    if (!ae->life || !wanted(s->f, ae->life)) return CT_OK;
    char oc[32];
    ct_outcome_upper(ae->outcome, oc, sizeof oc);
    ct_err e = CT_OK;
    switch (s->f->fmt) {
    case CT_LIFELIST_TABLE:
        e = table_row(s, ae, oc);
        break;
    case CT_LIFELIST_CSV:
        e = ct_life_csv_row(s->out, s->c, ae->rec, ae->life, oc);
        break;
    case CT_LIFELIST_JSON:
        if (s->n) e = ct_buf_append(&s->rows, ",", 1);
        if (!e) e = ct_life_json_row(&s->rows, s->c, ae->rec, ae->life, oc);
        break;
    }
    s->n++;
    return e;
}

ct_err ct_lifelist(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o,
                   const ct_lifelist_filter *f, ct_buf *out, uint64_t *n, char *err, size_t errlen)
{
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    list_st s = {.f = f, .c = o->campaign, .out = out};
    ct_audit_opts ao = *o;
    ao.on_event = list_cb;
    ao.arg = &s;
    ct_audit_init(a, &ao, 1, zero);
    *n = 0;
    if (src->file && src->file->from != 1) {
        snprintf(err, errlen, "%s: export starts at seq %" PRIu64 "; life needs the log from seq 1",
                 src->name, src->file->from);
        return CT_ERR_ARG;
    }
    ct_err e = CT_OK;
    switch (f->fmt) {
    case CT_LIFELIST_TABLE:
        e = ct_buf_printf(out, "%8s  %-29s  %-7s  %5s  %-16s  %-10s  %s\n", "seq", "received",
                          "kind", "unit", "actor", "outcome", "fields, reason");
        break;
    case CT_LIFELIST_CSV: /* a document Excel opens: UTF-8 BOM */
        e = ct_buf_append(out, "\xEF\xBB\xBF", 3);
        if (!e) e = ct_life_csv_header(out, true);
        break;
    case CT_LIFELIST_JSON:
        break;
    }
    if (!e)
        e = ct_audit_run(a, src, 0, err, errlen);
    else
        snprintf(err, errlen, "%s", ct_err_str(e));
    *n = s.n;
    if (!e && f->fmt == CT_LIFELIST_JSON) {
        ct_audit_result r;
        ct_audit_result_get(a, &r);
        char hex[65];
        ct_hash_hex(r.head, hex);
        e = ct_buf_printf(out, "{\"campaign\":");
        if (!e) e = ct_text_json_str(out, o->campaign->id);
        if (!e)
            e = ct_buf_printf(
                out, ",\"seq\":%" PRIu64 ",\"head\":\"%s\",\"count\":%" PRIu64 ",\"entries\":[",
                r.last_seq, hex, s.n);
        if (!e && s.rows.len) e = ct_buf_append(out, s.rows.data, s.rows.len);
        if (!e) e = ct_buf_append(out, "]}\n", 3);
        if (e) snprintf(err, errlen, "%s", ct_err_str(e));
    }
    ct_buf_free(&s.rows);
    return e;
}
