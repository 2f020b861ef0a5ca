/* ct_trace.h — `chitieu-audit trace`: the events of one agent, district,
 * person hash (or prefix), day, event id or seq, with their tally outcome at
 * replay, each followed in log order by its history: every void and
 * correction that names it (by seq q, which the engine has checked holds
 * the event id e), with the actor, reason and outcome (docs/audit.md
 * "trace"). All event filters given must match.
 */
#ifndef CT_TRACE_H
#define CT_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_audit.h"

typedef struct {
    const char *agent; /* NULL = any */
    uint32_t district; /* 0 = any */
    uint8_t person[CT_PERSON_LEN];
    size_t person_nibbles; /* hex digits of person to match, 0 = any */
    uint32_t day;          /* campaign-local YYYYMMDD, 0 = any */
    bool has_event_id;     /* only the event with this id */
    uint8_t event_id[CT_EVENT_ID_LEN];
    uint64_t seq; /* only the event at this seq, 0 = any */
    bool jsonl;   /* JSON lines instead of the table */
} ct_trace_filter;

/* "--person": 8..64 hex digits (a prefix of the hash). CT_ERR_USAGE with
 * the reason in err otherwise. */
ct_err ct_trace_set_person(ct_trace_filter *t, const char *hex, char *err, size_t errlen);
/* "--event": the 32-hex event id. CT_ERR_USAGE otherwise. */
ct_err ct_trace_set_event(ct_trace_filter *t, const char *hex, char *err, size_t errlen);
/* "--day": YYYY-MM-DD. CT_ERR_USAGE otherwise. */
ct_err ct_trace_set_day(ct_trace_filter *t, const char *day, char *err, size_t errlen);

/* Walks the source from seq 1 into *a (initialised here, freed by the
 * caller) and writes the table header (unless jsonl), every matching event
 * and every void or correction naming one of them to out (*matches counts
 * the events). A divergence stops the trace (ct_audit_result). Returns
 * CT_OK or the runtime failure with a message in err. */
ct_err ct_trace(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o,
                const ct_trace_filter *t, FILE *out, uint64_t *matches, char *err, size_t errlen);

#endif
