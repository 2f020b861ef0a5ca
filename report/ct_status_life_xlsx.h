/* ct_status_life_xlsx.h — the campaign's life sheets of the status workbook
 * (ct_status_xlsx adds them when the figures hold life figures):
 *
 *   "changes"  the changes CSV's rows (life entries by seq)
 *   "days"     the days CSV's rows (recorded, official, received per day)
 *   "late"     the late CSV's rows (lateness per unit)
 *   "ranking"  the ranking CSV's rows (offices, then staff)
 */
#ifndef CT_STATUS_LIFE_XLSX_H
#define CT_STATUS_LIFE_XLSX_H

#include <xlsxwriter.h>

#include "ct_status.h"
#include "ct_xlsx.h"

/* Adds the four sheets; the first error or LXW_NO_ERROR. */
lxw_error ct_status_life_sheets(lxw_workbook *wb, lxw_format *pct, lxw_format *head,
                                const ct_campaign *c, const ct_status_figures *f,
                                const ct_status_position *pos);

#endif
