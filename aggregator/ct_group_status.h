/* ct_group_status.h — the "gr" of an aggregator's "sta" (PROTOCOL.md §3.6):
 * the group as the election view (ct_elect) and, on the leader, the
 * replication server (ct_repl) know it.
 *
 * Invariants: members come in the view's order (sorted by endpoint); this
 * member's own head is its store's, not its last published key; lags count
 * against the leader's head (its committed seq when this member leads, else
 * the leader's member key), never below 0; lag_ms is measured only on the
 * leader (0 elsewhere). */
#ifndef CT_GROUP_STATUS_H
#define CT_GROUP_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_elect.h"
#include "ct_repl.h"
#include "ct_wire.h"

/* repl: the replication server while this member leads and accepts, else
 * NULL; now_ms monotonic. */
void ct_group_status_fill(const ct_elect_view *v, const char *group, const char *advertise,
                          uint64_t own_head, bool accepting, const ct_repl *repl, int64_t now_ms,
                          ct_wire_group *g);

#endif
