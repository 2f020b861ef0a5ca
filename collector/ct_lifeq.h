/* ct_lifeq.h — the sign-up a void or correct of this office is about
 * (docs/PROTOCOL.md §2.2): found in the outbox by its event id, with what a
 * void/correct entry must name (its unit d, the program p it counts in now,
 * its person reference h and its log seq q at headquarters), as the command
 * line and the office screen both need it.
 *
 * "Now" is what this outbox knows: the event's own bytes and log seq (kept
 * in "acked" once delivered), changed by the corrections of it that this
 * outbox queued and headquarters accepted, in seq order. Another office's or
 * an admin's corrections are not seen here (headquarters then answers
 * not_current and `chitieu-audit trace` shows why).
 */
#ifndef CT_LIFEQ_H
#define CT_LIFEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_event.h"
#include "ct_life.h"
#include "ct_outbox.h"

typedef struct {
    uint64_t seq; /* the event's seq in this outbox */
    ct_event ev;  /* as it was recorded */
    uint64_t q;   /* its log seq at HQ */
    /* as the accepted corrections of this outbox leave it */
    ct_program program;
    char agent[CT_AGENT_ID_MAX + 1];
    char commune[CT_COMMUNE_MAX + 1];
    char group[CT_GROUP_MAX + 1];
    bool corrected; /* at least one correction accepted */
    bool voided;    /* a void accepted */
} ct_lifeq_target;

/* Finds the enroll event id of this outbox (info: its origins). CT_OK with
 * *t filled; else why says what stands in the way, in a sentence:
 *   CT_ERR_NOT_FOUND   not an id of this outbox, or nothing kept under it
 *   CT_ERR_BAD_VALUE   not a sign-up (a cancel or a life entry), refused by
 *                      headquarters, or voided already
 *   CT_ERR_TIMEOUT     not answered yet: the event waits for delivery, or a
 *                      void/correct of it waits for headquarters' answer
 *   other              the outbox cannot be read */
ct_err ct_lifeq_find(ct_outbox *ob, const ct_outbox_info *info, const uint8_t id[CT_EVENT_ID_LEN],
                     ct_lifeq_target *t, char *why, size_t whylen);

/* Sets l's d, p, h, e and q from t (kind, campaign, actor and reason are the
 * caller's). */
void ct_lifeq_fill(const ct_lifeq_target *t, ct_life *l);

#endif
