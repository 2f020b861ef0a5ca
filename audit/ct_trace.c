/* ct_trace.c — see ct_trace.h. Holds nothing beyond the call. */
#include "ct_trace.h"

#include "ct_text.h"

#include <inttypes.h>
#include <string.h>

#include "ct_export.h"
#include "ct_time.h"

typedef struct {
    const ct_trace_filter *t;
    const ct_campaign *c;
    FILE *out;
    uint64_t matches;
    ct_buf row; /* one rendered jsonl line */
} trace_st;

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

static void upper_outcome(ct_tally_outcome oc, char *buf, size_t len)
{
    const char *n = ct_tally_outcome_name(oc);
    size_t i = 0;
    for (; n[i] && i + 1 < len; i++)
        buf[i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
    buf[i] = 0;
}

static bool matches(const ct_trace_filter *t, const ct_audit_event *ae)
{
    const ct_event *ev = ae->ev;
    if (t->agent && strcmp(ev->agent, t->agent) != 0) return false;
    if (t->district && ev->district != t->district) return false;
    if (t->day && ae->local_day != t->day) return false;
    for (size_t i = 0; i < t->person_nibbles; i++) {
        uint8_t want = (uint8_t)(i % 2 ? t->person[i / 2] & 15 : t->person[i / 2] >> 4);
        uint8_t have = (uint8_t)(i % 2 ? ev->person[i / 2] & 15 : ev->person[i / 2] >> 4);
        if (want != have) return false;
    }
    return true;
}

static ct_err trace_cb(const ct_audit_event *ae, void *arg)
{
    trace_st *s = arg;
    if (!matches(s->t, ae)) return CT_OK;
    const ct_event *ev = ae->ev;
    s->matches++;
    char oc[32];
    upper_outcome(ae->outcome, oc, sizeof oc);
    if (s->t->jsonl) {
        ct_buf_reset(&s->row);
        ct_err e = ct_export_json_row(&s->row, s->c, ae->rec, ev, oc);
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
    return e;
}
