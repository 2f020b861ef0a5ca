/* ct_auth.h — the aggregator's authorization table and its ZAP handler.
 *
 * Authorization file (--auth), one peer per line; '#' at the start of a line
 * or after blank space starts a comment ('#' is also a Z85 character):
 *   <Z85 public key, 40 chars>  collector <district code>  [name...]
 *   <Z85 public key>            reporter                   [name...]
 *   <Z85 public key>            admin                      [name...]
 *   <Z85 public key>            follower                   [name...]
 * A UTF-8 byte order mark before the first line is skipped; a NUL byte
 * anywhere is an error. Errors are reported as "path:line: message". A key
 * may appear once.
 *
 * The table lives behind a mutex: the ZAP handler thread reads it at connect
 * time, the main loop reads it per message (so a key removed from the file
 * and reloaded with ct_auth_reload() is refused on connections that are
 * already open), and the main loop replaces it on SIGHUP. A failed reload
 * keeps the previous table.
 *
 * ZAP (RFC 27): ct_auth_zap_start() binds a REP socket to
 * inproc://zeromq.zap.01 in the calling thread (call it BEFORE binding any
 * CURVE server socket) and serves it from its own thread. Domains:
 *   CT_ZAP_DOMAIN_INGEST  ("chitieu-ingest"):   collector or admin
 *   CT_ZAP_DOMAIN_READ    ("chitieu-read"):     reporter or admin
 *   CT_ZAP_DOMAIN_REPLICATE ("chitieu-replicate"): follower only (a
 *                         follower reads the log through the replication
 *                         socket and nothing else)
 * It answers 200 with User-Id = the client's Z85 public key when the key is
 * in the table with a role allowed for the domain, else 400. Any other
 * mechanism than CURVE is refused.
 */
#ifndef CT_AUTH_H
#define CT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_keys.h"

#define CT_ZAP_DOMAIN_INGEST "chitieu-ingest"
#define CT_ZAP_DOMAIN_READ "chitieu-read"
#define CT_ZAP_DOMAIN_REPLICATE "chitieu-replicate"

typedef enum {
    CT_ROLE_NONE = 0,
    CT_ROLE_COLLECTOR = 1,
    CT_ROLE_REPORTER = 2,
    CT_ROLE_ADMIN = 3,
    CT_ROLE_FOLLOWER = 4
} ct_role;

typedef struct ct_auth ct_auth;

/* Loads path; c (may be NULL) is used to refuse unknown district codes. */
ct_err ct_auth_load(const char *path, const ct_campaign *c, ct_auth **out, char *err,
                    size_t errlen);
/* Re-reads the file given to ct_auth_load; on error keeps the old table.
 * *readers_revoked (may be NULL) receives how many keys that could read
 * (reporter/admin) before may no longer read: the caller then drops the open
 * feed connections so they must authenticate again. */
ct_err ct_auth_reload(ct_auth *a, size_t *readers_revoked, char *err, size_t errlen);
/* Looks key up in the current table: true and role/district if present. */
bool ct_auth_lookup(ct_auth *a, const char *z85, ct_role *role, uint32_t *district);
size_t ct_auth_count(ct_auth *a);
/* Keys in the current table that may submit (collector, admin) and that may
 * read the feed and snapshots (reporter, admin). */
void ct_auth_count_roles(ct_auth *a, size_t *may_write, size_t *may_read);
const char *ct_role_name(ct_role r);

/* Starts the ZAP handler (see top). zctx is the process's ZeroMQ context. */
ct_err ct_auth_zap_start(ct_auth *a, void *zctx, char *err, size_t errlen);
/* Stops the handler thread (if started) and frees everything. */
void ct_auth_free(ct_auth *a);
/* Number of ZAP requests answered 200 / 400 so far. */
void ct_auth_zap_stats(ct_auth *a, uint64_t *ok, uint64_t *denied);

#endif
