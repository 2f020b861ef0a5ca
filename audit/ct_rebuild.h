/* ct_rebuild.h — `chitieu-audit rebuild`: a fresh store from a .ctlog export
 * (docs/audit.md "rebuild").
 *
 * Steps, each of which must pass before the next: the export starts at seq 1;
 * it verifies (ct_audit_verify_ctlog: chain, events, trailer rule) and is
 * recounted into *a; dir holds no store; the records are imported keeping
 * seq, receive time and collector (in transactions of CT_REBUILD_CHUNK
 * records); the new store's head and counts equal the recount. A failed
 * check is the finding (ct_audit_result: "seq 100: hash mismatch ...",
 * "trailer: says ...", "rebuilt head seq=..., export ends at ...", "count
 * <key>: stored X, recount Y"); nothing is imported after a failed
 * verification. Returns CT_OK when the steps ran (diverged or not), else the
 * runtime failure with a message in err. *a is initialised here and freed by
 * the caller (also on error).
 */
#ifndef CT_REBUILD_H
#define CT_REBUILD_H

#include "ct_audit.h"

#define CT_REBUILD_CHUNK 8192

typedef struct {
    uint64_t seq;                     /* the rebuilt store's head */
    uint8_t head[CT_LOGREC_HASH_LEN]; /* its hash */
    size_t counters;                  /* counters in the rebuilt store */
} ct_rebuild_info;

/* import_progress: label of the import's progress line (NULL: quiet). */
ct_err ct_rebuild(ct_audit *a, ct_ctlog_reader *r, const char *path, const char *dir,
                  const ct_audit_opts *o, const char *import_progress, ct_rebuild_info *info,
                  char *err, size_t errlen);

#endif
