/* ct_xlsx.h — what the workbook renderings (ct_status_xlsx,
 * ct_natstatus_xlsx) share: cells written to a sheet with the first error
 * kept, and the making of a workbook in a temporary file read back into a
 * buffer (libxlsxwriter writes files only).
 */
#ifndef CT_XLSX_H
#define CT_XLSX_H

#include <stddef.h>
#include <xlsxwriter.h>

#include "ct_buf.h"
#include "ct_error.h"

typedef struct {
    lxw_worksheet *ws;
    lxw_format *pct, *head; /* one decimal; bold (headers) */
    lxw_row_t row;
    lxw_col_t col;
    lxw_error err; /* the first error */
} ct_xlsx_sheet;

void ct_xlsx_next_row(ct_xlsx_sheet *s);
void ct_xlsx_str(ct_xlsx_sheet *s, const char *v);
void ct_xlsx_hdr(ct_xlsx_sheet *s, const char *v);
void ct_xlsx_num(ct_xlsx_sheet *s, double v);
/* an _x10 value as a number with one decimal */
void ct_xlsx_x10(ct_xlsx_sheet *s, int64_t v);

/* Fills the workbook (its two formats given); the first error or
 * LXW_NO_ERROR. */
typedef lxw_error (*ct_xlsx_fill)(lxw_workbook *wb, lxw_format *pct, lxw_format *head, void *arg);

/* Makes the workbook under $TMPDIR (or /tmp), appends its bytes to out and
 * removes the file; CT_ERR_IO with the reason in err when it cannot. */
ct_err ct_xlsx_make(ct_xlsx_fill fn, void *arg, ct_buf *out, char *err, size_t errlen);

#endif
