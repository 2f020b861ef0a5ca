/* ct_aggregator_store.h — chitieu-aggregator's store as the command line
 * asks for it: opened with the campaign, the map size and the person-state
 * checkpoint policy; reopened after a group member discarded an unsafe tail.
 *
 * Invariants: a failure is logged and leaves no store open; the exit code
 * set on failure is 2 for a store of another campaign, else 1.
 */
#ifndef CT_AGGREGATOR_STORE_H
#define CT_AGGREGATOR_STORE_H

#include "ct_aggregator_args.h"

/* Opens the store at a->data for camp; NULL on failure (logged, the exit
 * code in *code). */
ct_store *ct_aggregator_store_open(const ct_aggregator_args *a, const ct_campaign *camp, int *code);

/* Group mode: the member's log has an unsafe tail that the leader at leader
 * refuses; discards it (kept aside) as --rejoin does, closes store and opens
 * it again. NULL when that fails (logged). kp NULL = insecure. */
ct_store *ct_aggregator_store_rejoin(const ct_aggregator_args *a, ct_store *store,
                                     const ct_campaign *camp, const ct_keypair *kp,
                                     const char *primary_pub, const char *leader);

#endif
