/* ct_trace.c — see ct_trace.h. Holds nothing beyond the call (the seqs of
 * the events listed, ascending, are freed on return). */
#include "ct_trace.h"

#include "ct_text.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ct_export.h"
#include "ct_export_life.h"
#include "ct_time.h"

typedef struct {
    const ct_trace_filter *t;
    const ct_campaign *c;
    FILE *out;
    uint64_t matches;
    ct_buf row;    /* one rendered jsonl line */
    uint64_t *seq; /* seqs of the events listed, ascending (log order) */
    size_t n_seq, cap_seq;
} trace_st;

ct_err ct_trace_set_event(ct_trace_filter *t, const char *hex, char *err, size_t errlen)
{
    if (strlen(hex) != 2 * CT_EVENT_ID_LEN ||
        ct_text_unhex(hex, 2 * CT_EVENT_ID_LEN, t->event_id) != CT_OK) {
        snprintf(err, errlen, "--event: give the 32 hex digits of an event id");
        return CT_ERR_USAGE;
    }
    t->has_event_id = true;
    return CT_OK;
}

ct_err ct_trace_set_person(ct_trace_filter *t, const char *hex, char *err, size_t errlen)
{
    size_t n = strlen(hex);
    if (n < 8 || n > 2 * CT_PERSON_LEN) {
        snprintf(err, errlen, "--person: give 8 to 64 hex digits");
        return CT_ERR_USAGE;
    }
    /* an odd count of digits: the last byte's low nibble is 0 (matches
     * compare person_nibbles digits) */
    char even[2 * CT_PERSON_LEN + 1];
    memcpy(even, hex, n);
    even[n] = '0';
    memset(t->person, 0, sizeof t->person);
    if (ct_text_unhex(even, n + n % 2, t->person) != CT_OK) {
        snprintf(err, errlen, "--person: not hex: '%s'", hex);
        return CT_ERR_USAGE;
    }
    t->person_nibbles = n;
    return CT_OK;
}

ct_err ct_trace_set_day(ct_trace_filter *t, const char *day, char *err, size_t errlen)
{
    unsigned y, m, d;
    char tail;
    if (sscanf(day, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31) {
        snprintf(err, errlen, "--day: expected YYYY-MM-DD, not '%s'", day);
        return CT_ERR_USAGE;
    }
    t->day = y * 10000 + m * 100 + d;
    return CT_OK;
}

static bool matches(const ct_trace_filter *t, const ct_audit_event *ae)
{
    const ct_event *ev = ae->ev;
    if (t->agent && strcmp(ev->agent, t->agent) != 0) return false;
    if (t->district && ev->district != t->district) return false;
    if (t->day && ae->local_day != t->day) return false;
    if (t->seq && ae->rec->seq != t->seq) return false;
    if (t->has_event_id && memcmp(ev->id, t->event_id, CT_EVENT_ID_LEN) != 0) return false;
    for (size_t i = 0; i < t->person_nibbles; i++) {
        uint8_t want = (uint8_t)(i % 2 ? t->person[i / 2] & 15 : t->person[i / 2] >> 4);
        uint8_t have = (uint8_t)(i % 2 ? ev->person[i / 2] & 15 : ev->person[i / 2] >> 4);
        if (want != have) return false;
    }
    return true;
}

/* A void or correction naming an event listed so far. */
static bool names_listed(const trace_st *s, const ct_life *l)
{
    if (l->kind != CT_LIFE_VOID && l->kind != CT_LIFE_CORRECT) return false;
    size_t lo = 0, hi = s->n_seq;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->seq[mid] < l->target_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_seq && s->seq[lo] == l->target_seq;
}

static ct_err remember(trace_st *s, uint64_t seq)
{
    if (s->n_seq == s->cap_seq) {
        size_t nc = s->cap_seq ? s->cap_seq * 2 : 256;
        uint64_t *n = realloc(s->seq, nc * sizeof *n);
        if (!n) return CT_ERR_NOMEM;
        s->seq = n;
        s->cap_seq = nc;
    }
    s->seq[s->n_seq++] = seq;
    return CT_OK;
}

static ct_err life_row(trace_st *s, const ct_audit_event *ae, const char *oc)
{
    const ct_life *l = ae->life;
    ct_buf_reset(&s->row);
    if (s->t->jsonl) {
        ct_err e = ct_life_json_row(&s->row, s->c, ae->rec, l, oc);
        if (!e) e = ct_buf_append(&s->row, "\n", 1);
        if (e) return e;
        fwrite(s->row.data, 1, s->row.len, s->out);
        return CT_OK;
    }
    char iss[40], rcv[40], ph[17], fields[512];
    ct_time_format(l->issued_ms, s->c->tz_offset_min, iss, sizeof iss);
    ct_time_format(ae->rec->received_ms, s->c->tz_offset_min, rcv, sizeof rcv);
    ct_text_hex(l->person, 8, ph);
    ct_life_fields_text(s->c, l, fields, sizeof fields);
    ct_err e = ct_text_json_str(&s->row, l->reason); /* quoted, control bytes escaped */
    if (!e) e = ct_buf_append(&s->row, "", 1);
    if (e) return e;
    fprintf(s->out,
            "%8" PRIu64 "  %-25s  %-29s  %-40s  %8u  %-12s  %-8s  %-6s  %s  %s  %s  reason=%s\n",
            ae->rec->seq, iss, rcv, ae->rec->collector, (unsigned)l->district, l->actor,
            ct_program_name(l->program), ct_life_kind_name(l->kind), ph, oc, fields,
            (const char *)s->row.data);
    return CT_OK;
}

static ct_err trace_cb(const ct_audit_event *ae, void *arg)
{
    trace_st *s = arg;
    char oc[32];
    ct_outcome_upper(ae->outcome, oc, sizeof oc);
    if (ae->life) return names_listed(s, ae->life) ? life_row(s, ae, oc) : CT_OK;
    if (!matches(s->t, ae)) return CT_OK;
    const ct_event *ev = ae->ev;
    s->matches++;
    ct_err e = remember(s, ae->rec->seq);
    if (e) return e;
    if (s->t->jsonl) {
        ct_buf_reset(&s->row);
        e = ct_export_json_row(&s->row, s->c, ae->rec, ev, oc);
        if (e) return e;
        fwrite(s->row.data, 1, s->row.len, s->out);
        return CT_OK;
    }
    char occ[40], rcv[40], ph[17];
    ct_time_format(ev->occurred_ms, s->c->tz_offset_min, occ, sizeof occ);
    ct_time_format(ae->rec->received_ms, s->c->tz_offset_min, rcv, sizeof rcv);
    ct_text_hex(ev->person, 8, ph);
    fprintf(s->out, "%8" PRIu64 "  %-25s  %-29s  %-40s  %8u  %-12s  %-8s  %-6s  %s  %s\n",
            ae->rec->seq, occ, rcv, ae->rec->collector, (unsigned)ev->district, ev->agent,
            ct_program_name(ev->program), ct_action_name(ev->action), ph, oc);
    return CT_OK;
}

ct_err ct_trace(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o,
                const ct_trace_filter *t, FILE *out, uint64_t *n_matches, char *err, size_t errlen)
{
    static const uint8_t zero[CT_LOGREC_HASH_LEN];
    trace_st s = {.t = t, .c = o->campaign, .out = out};
    ct_audit_opts ao = *o;
    ao.on_event = trace_cb;
    ao.arg = &s;
    ct_audit_init(a, &ao, 1, zero);
    *n_matches = 0;
    if (src->file && src->file->from != 1) {
        snprintf(err, errlen,
                 "%s: export starts at seq %" PRIu64 "; trace needs the log from seq 1", src->name,
                 src->file->from);
        return CT_ERR_ARG;
    }
    if (!t->jsonl)
        fprintf(out, "%8s  %-25s  %-29s  %-40s  %8s  %-12s  %-8s  %-6s  %-16s  %s\n", "seq",
                "occurred", "received", "collector", "district", "agent", "program", "action",
                "person", "outcome");
    ct_err e = ct_audit_run(a, src, 0, err, errlen);
    *n_matches = s.matches;
    ct_buf_free(&s.row);
    free(s.seq);
    return e;
}
