/* ct_natstatus_xlsx.h — the national report as an Excel workbook
 * (libxlsxwriter), with the CSV's columns (ct_natstatus_render.c):
 *
 *   "provinces"  one row per province and program, then the national rows
 *   "units"      one row per unit of every province with figures, per program
 *
 * Every province row names its feed state, the age of its figures, seq and
 * chain head; the national rows the provinces they include; the pins are in
 * the last row of "provinces", so chitieu-audit national-replay reproduces
 * the figures.
 */
#ifndef CT_NATSTATUS_XLSX_H
#define CT_NATSTATUS_XLSX_H

#include <stddef.h>

#include "ct_buf.h"
#include "ct_natstatus.h"

/* Appends the workbook's bytes to out; CT_ERR_IO with the reason in err. */
ct_err ct_natstatus_xlsx(const ct_national *n, const ct_natstatus *s, ct_buf *out, char *err,
                         size_t errlen);

#endif
