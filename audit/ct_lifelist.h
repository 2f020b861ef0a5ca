/* ct_lifelist.h — `chitieu-audit life`: every campaign life entry of the log
 * (void, correct, target, close, reopen, reorg; docs/PROTOCOL.md §2.2) with
 * its seq, receive time, kind, unit, actor, reason, the kind's fields and
 * the outcome the tally rule gave it at replay (docs/audit.md "life").
 *
 * The whole log is replayed from seq 1 (an outcome depends on everything
 * before it); an entry the rule refuses is a divergence that stops the
 * listing (ct_audit_result), as in verify.
 */
#ifndef CT_LIFELIST_H
#define CT_LIFELIST_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_audit.h"
#include "ct_buf.h"

typedef enum {
    CT_LIFELIST_TABLE = 0,
    CT_LIFELIST_CSV = 1,
    CT_LIFELIST_JSON = 2
} ct_lifelist_format;

typedef struct {
    unsigned kinds; /* bit (1 << ct_life_kind) per kind listed; 0 = every kind */
    bool has_unit;  /* only entries of this unit (0: the province / per-staff quota) */
    uint32_t unit;
    ct_lifelist_format fmt;
} ct_lifelist_filter;

/* "--kind": one kind or a comma-separated list ("void,correct").
 * CT_ERR_USAGE with the reason in err otherwise. */
ct_err ct_lifelist_set_kinds(ct_lifelist_filter *f, const char *list, char *err, size_t errlen);
/* "--format": table, csv or json. */
ct_err ct_lifelist_format_parse(const char *s, ct_lifelist_format *out);

/* Walks the source from seq 1 into *a (initialised here, freed by the
 * caller) and appends the listing to out: table (a header line, one line per
 * entry), CSV (UTF-8 BOM, header, one CRLF row per entry: the columns of
 * ct_export_life.h plus outcome) or JSON (one object: campaign, seq and head
 * of the walk's end, entries = the rows of ct_export_life.h plus outcome).
 * *n counts the entries listed. Returns CT_OK or the runtime failure with a
 * message in err; a divergence is the finding. */
ct_err ct_lifelist(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o,
                   const ct_lifelist_filter *f, ct_buf *out, uint64_t *n, char *err, size_t errlen);

#endif
