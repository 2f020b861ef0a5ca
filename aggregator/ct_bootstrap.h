/* ct_bootstrap.h — a follower started from a consistent copy of another
 * node's store instead of the whole log over the wire (docs/replication.md
 * "Bootstrap a large follower").
 *
 *   chitieu-aggregator --copy-store DEST --data DIR     (ct_bootstrap_copy)
 *     beside a running primary (or follower): a hot, consistent, compacted
 *     copy of DIR's environment into DEST/data.mdb (one LMDB read
 *     transaction), and DEST/copy.txt, its manifest:
 *         chitieu-store-copy 1
 *         seq N / head HEX64 / epoch E / campaign_id ID / fingerprint HEX64
 *         bytes B / digest HEX64   (BLAKE2b-256 of data.mdb)
 *   chitieu-aggregator --follow EP --from-copy DEST --data DIR2
 *     (ct_bootstrap_install, before the store is opened) when DIR2 holds no
 *     store yet: checks the manifest's campaign id and fingerprint against
 *     the campaign this follower counts with, copies data.mdb into a
 *     temporary directory beside DIR2 while hashing it (bytes and digest
 *     must equal the manifest's), opens it (the store checks the
 *     fingerprint again and replays person states), checks the head and
 *     the epoch against the manifest and the whole chain 1..N record by
 *     record, drops the copied follower identity, and renames the directory
 *     to DIR2 in one step. Then the follower follows from that head as
 *     always: its first "rq" carries (N, head), which the primary accepts
 *     only if it is on its own log (else chain_broken, and the follower
 *     stops).
 *
 * Invariants: nothing is written to DIR2 unless every check passed; DIR2
 * never holds a partly copied store (the temporary directory is removed on
 * failure); a store taken from a primary keeps its epoch and epoch history
 * and becomes a follower only because --follow says so (a node's role is
 * its command line, as for --promote).
 */
#ifndef CT_BOOTSTRAP_H
#define CT_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_campaign.h"
#include "ct_error.h"

#define CT_BOOTSTRAP_MANIFEST "copy.txt"

/* The copy (see above); msg says what was copied, or why not. */
ct_err ct_bootstrap_copy(const char *data, const char *dest, size_t map_size,
                         const ct_campaign *camp, char *msg, size_t msglen);
/* The install (see above). *installed false (and CT_OK) when data already
 * holds a store: the copy is not used. Errors: CT_ERR_CAMPAIGN_MISMATCH
 * (another campaign), CT_ERR_STORE_CORRUPT (bytes or digest differ from
 * the manifest, or a bad manifest), CT_ERR_CHAIN (a record does not chain,
 * or the head or epoch differ from the manifest), CT_ERR_IO, the store's
 * codes; msg says which. */
ct_err ct_bootstrap_install(const char *src, const char *data, size_t map_size,
                            const ct_campaign *camp, bool *installed, char *msg, size_t msglen);

#endif
