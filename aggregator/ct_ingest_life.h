/* ct_ingest_life.h — what the ingest round checks of a campaign life entry
 * (docs/PROTOCOL.md §2.2) besides decoding and the campaign check, and what
 * it logs of an accepted one.
 *
 *   who may issue it (§9): with --insecure every peer, every kind; an admin
 *   key every kind for every unit; a collector key only "void" and
 *   "correct" of a sign-up of its own unit (the entry's "d"); any other key
 *   nothing (CT_ERR_FORBIDDEN);
 *
 *   the log check of a "void" or "correct": the record at seq "q" exists
 *   (committed: an entry never names a record of its own round, whose seq
 *   its sender cannot know yet), is an enrollment event (not a life entry)
 *   whose action is enroll, whose id is "e", person "h" and unit "d"; else
 *   CT_ERR_UNKNOWN_EVENT. The program is not compared: "p" names the
 *   program the sign-up counts in now, which a correction may have changed
 *   (the tally rule checks the person state of ("p", "h")).
 */
#ifndef CT_INGEST_LIFE_H
#define CT_INGEST_LIFE_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_auth.h"
#include "ct_error.h"
#include "ct_life.h"
#include "ct_store.h"

/* true when a key of role (collector: for unit key_district) may issue l;
 * secure false = --insecure. */
bool ct_ingest_life_may(bool secure, ct_role role, uint32_t key_district, const ct_life *l);

/* The log check (see top) for a void or correct; CT_OK for the other kinds.
 * CT_ERR_UNKNOWN_EVENT, or the store's read error. */
ct_err ct_ingest_life_log_check(ct_store *s, const ct_life *l);

/* One info line for an accepted life entry: kind, unit, actor, seq and the
 * key that sent it (the reason is in the log record). */
void ct_ingest_life_logged(const ct_life *l, const char *key, uint64_t seq);

#endif
