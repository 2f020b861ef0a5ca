/* ct_aggregator_store.c — opening the aggregator's store from its command
 * line, and reopening it after a group rejoin (see ct_aggregator_store.h).
 *
 * Invariants: a failed open closes what it opened; a rejoin always closes
 * the store it was given.
 */
#include "ct_aggregator_store.h"

#include "ct_log.h"

ct_store *ct_aggregator_store_open(const ct_aggregator_args *a, const ct_campaign *camp, int *code)
{
    char err[512] = "";
    ct_store *store = NULL;
    ct_store_opts so = {.dir = a->data,
                        .map_size = a->map_size,
                        .campaign_id = camp->id,
                        .fingerprint = camp->fingerprint,
                        .accept_campaign_change = a->accept_campaign_change};
    ct_err e = ct_store_open(&so, &store, err, sizeof err);
    if (!e) e = ct_store_set_campaign(store, camp, err, sizeof err);
    if (!e) ct_store_set_checkpoint(store, (size_t)a->persons_ckpt, 5000);
    if (e) {
        ct_log(CT_LOG_ERROR, "cannot open store", "err=%s detail=\"%s\"", ct_err_name(e), err);
        *code = e == CT_ERR_CAMPAIGN_MISMATCH ? 2 : 1;
        ct_store_close(store);
        return NULL;
    }
    return store;
}

ct_store *ct_aggregator_store_rejoin(const ct_aggregator_args *a, ct_store *store,
                                     const ct_campaign *camp, const ct_keypair *kp,
                                     const char *primary_pub, const char *leader)
{
    ct_aggregator_args r = *a;
    r.follow = leader;
    r.rejoin = true;
    int code = ct_aggregator_failover(&r, store, camp, kp, primary_pub);
    ct_store_close(store);
    if (code != 0) return NULL;
    return ct_aggregator_store_open(a, camp, &code);
}
