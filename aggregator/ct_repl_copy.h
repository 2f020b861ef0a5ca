/* ct_repl_copy.h — the primary's side of a follower's bootstrap over the
 * wire (docs/PROTOCOL.md §3.4 "Bootstrap over the wire"): "cq" asks for a
 * chunk of a consistent copy of this store, "cc" answers it.
 *
 * One copy at a time, in DATA/serve-copy/: made on the first "cq" by a
 * thread (ct_store_copy on the live environment: one LMDB read
 * transaction, compacted; then its head, epoch, size and BLAKE2b digest,
 * ct_bootstrap_describe), served by offset from the loop thread while it
 * is in use, and removed CT_REPL_COPY_IDLE_MS after the last "cq" (and at
 * start, when a crash left one). While the copy is being made a "cq" is
 * answered with z = 0 (ask again). A copy id is 63 random bits, so a "cq"
 * for a copy that is gone (removed, or a restart of this process) gets the
 * current copy's chunk at offset 0 under another id, never a chunk of
 * another copy under the id it asked for.
 *
 * Threads: the copy thread reads the store's environment (MDB_NOTLS, its
 * own read transaction) and writes only the copy's directory and its own
 * fields, published to the loop thread by one atomic state; everything
 * else is the loop thread's.
 */
#ifndef CT_REPL_COPY_H
#define CT_REPL_COPY_H

#include <stdint.h>

#include "ct_buf.h"
#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_store.h"

#define CT_REPL_COPY_IDLE_MS 60000

typedef struct ct_repl_copy ct_repl_copy;

ct_err ct_repl_copy_create(ct_store *store, const char *data, const ct_campaign *camp,
                           ct_repl_copy **out);
/* Waits for a copy thread, removes the copy. NULL is a no-op. */
void ct_repl_copy_free(ct_repl_copy *c);
/* The "cc" answering "cq" (copy_id, offset) into out; epoch = this
 * store's. CT_ERR_BAD_VALUE for an offset past the copy's end. */
ct_err ct_repl_copy_answer(ct_repl_copy *c, uint64_t copy_id, uint64_t offset, uint64_t epoch,
                           int64_t now_ms, ct_buf *out);
/* Removes a copy idle for CT_REPL_COPY_IDLE_MS; reaps a finished thread. */
void ct_repl_copy_tick(ct_repl_copy *c, int64_t now_ms);

#endif
