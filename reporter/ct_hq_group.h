/* ct_hq_group.h — the aggregator group of the reporter's HQ view: the "gr"
 * of the last "sta" (PROTOCOL.md §3.6) as the "group" member of the hq
 * document and as chitieu_hq_group_* series (ct_hq.c calls these).
 *
 * Without "gr" the group is "manual" (no election: --role decides). The
 * stable form (with_times false) leaves out the lease's time left and the
 * members' lags in ms, the figures that move with the clock. */
#ifndef CT_HQ_GROUP_H
#define CT_HQ_GROUP_H

#include <stdbool.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_wire.h"

/* Appends "group":{...} (no leading comma). */
ct_err ct_hq_group_json(const ct_wire_group *g, bool with_times, ct_buf *b);
ct_err ct_hq_group_metrics(const ct_wire_group *g, ct_buf *b);

#endif
