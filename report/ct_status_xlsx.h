/* ct_status_xlsx.h — the quota status as an Excel workbook (libxlsxwriter):
 * one sheet per level, made from the same figures as the other renderings.
 *
 *   "province"   one row per program (the CSV's province rows)
 *   "districts"  one row per district and program (the CSV's district rows)
 *   "staff"      one row per staff member (the staff CSV's rows)
 *   "communes"   when a unit lists communes: the commune CSV's rows
 *   "changes", "days", "late", "ranking"  when the counters hold the
 *                campaign's life (ct_status_life_xlsx.h): the life CSVs' rows
 *
 * Every row ends with the position it was made from (as_of, seq, head,
 * feed), so an auditor reproduces it with chitieu-audit replay. Counts and
 * targets are numbers, percentages numbers with one decimal (the _x10 value
 * / 10), everything else text; the header row is frozen.
 */
#ifndef CT_STATUS_XLSX_H
#define CT_STATUS_XLSX_H

#include <stddef.h>

#include "ct_buf.h"
#include "ct_status.h"

/* Appends the workbook's bytes to out. libxlsxwriter writes files only: the
 * workbook is made in a temporary file under $TMPDIR (or /tmp), read back
 * and removed. CT_ERR_IO with the reason in err when it cannot be made. */
ct_err ct_status_xlsx(const ct_campaign *c, const ct_status_figures *f,
                      const ct_status_position *pos, ct_buf *out, char *err, size_t errlen);

#endif
