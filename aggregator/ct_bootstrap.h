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
 *   chitieu-aggregator --follow EP --bootstrap --data DIR2
 *     (ct_bootstrap_fetch) the same, with the copy made by the primary on
 *     request and fetched over its replication socket.
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
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_keys.h"

#define CT_BOOTSTRAP_MANIFEST "copy.txt"

/* What copy.txt says. */
typedef struct {
    uint64_t seq, epoch, bytes;
    uint8_t head[32], fingerprint[32], digest[32];
    char campaign_id[CT_CAMPAIGN_ID_MAX + 1];
} ct_bootstrap_manifest;

/* The manifest of the copy in dest (its data.mdb made by ct_store_copy):
 * head, epoch and fingerprint read from the copy, size and digest of the
 * file. */
ct_err ct_bootstrap_describe(const char *dest, size_t map_size, const ct_campaign *camp,
                             ct_bootstrap_manifest *m, char *msg, size_t msglen);
/* Writes dest/copy.txt (atomically). */
ct_err ct_bootstrap_manifest_write(const char *dest, const ct_bootstrap_manifest *m, char *msg,
                                   size_t msglen);

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

/* --follow EP --bootstrap when data holds no store yet (*installed false
 * and CT_OK otherwise): fetches a copy of the primary's store over its
 * replication socket ("cq"/"cc", docs/PROTOCOL.md §3.4) into a temporary
 * directory beside data and installs it with ct_bootstrap_install (the
 * same checks); the temporary directory is removed after. Errors: those
 * of ct_bootstrap_install, the primary's "err" code (forbidden,
 * stale_epoch ...), CT_ERR_TIMEOUT (no answer for a minute), CT_ERR_IO;
 * msg says which. (ct_bootstrap_fetch.c) */
typedef struct {
    const char *data;
    size_t map_size;
    const ct_campaign *campaign;
    const char *endpoint;        /* the primary's --replicate endpoint */
    const ct_keypair *kp;        /* own key pair; NULL = insecure */
    const char *primary_key_z85; /* the primary's public key (secure) */
} ct_bootstrap_fetch_opts;

ct_err ct_bootstrap_fetch(const ct_bootstrap_fetch_opts *o, bool *installed, char *msg,
                          size_t msglen);

#endif
