/* CONTRACT (docs/PROTOCOL.md §10): a change here is a change to the protocol.
 *
 * ct_ctlog.h — the self-verifying export file (.ctlog); docs/audit.md shows its use.
 *
 * A .ctlog file is a plain concatenation of MessagePack objects:
 *   1. header map, keys in this order, smallest encodings:
 *        {"v":1, "k":"ctlog", "campaign":str, "from":uint A, "prev":bin32}
 *      "prev" is the hash of record A-1 (32 zero bytes when A == 1);
 *   2. the log records A, A+1, ..., B exactly as stored by the aggregator
 *      (ct_logrec stored encoding: a MessagePack array of 5);
 *   3. optionally a trailer map {"k":"end", "count":uint, "last":uint B,
 *      "head":bin32} (count = B - A + 1, head = hash of record B).
 * Nothing may follow the trailer. The chain makes the file self-verifying:
 * starting from "prev", every record's hash must equal
 * BLAKE2b-256(previous hash || body) and seqs must run A, A+1, ...
 *
 * The reader maps the file read-only and never allocates per record; each
 * object's extent is found by ct_prescan_object_len (no declared size is
 * trusted beyond the bytes present).
 */
#ifndef CT_CTLOG_H
#define CT_CTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_event.h"
#include "ct_logrec.h"

#define CT_CTLOG_VERSION 1

typedef struct {
    const uint8_t *data; /* mmap of the whole file */
    size_t len;
    char campaign[CT_CAMPAIGN_ID_MAX + 1];
    uint64_t from;
    uint8_t prev[CT_LOGREC_HASH_LEN];
    size_t body_off; /* first byte after the header */
    /* filled by ct_ctlog_scan when it reaches the trailer */
    bool has_trailer;
    uint64_t trailer_count, trailer_last;
    uint8_t trailer_head[CT_LOGREC_HASH_LEN];
} ct_ctlog_reader;

/* Per record, in file order: CT_OK to go on, CT_STOP to end the walk (then
 * ct_ctlog_scan returns CT_OK), any other code to fail it with that code. */
typedef ct_err (*ct_ctlog_cb)(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg);

ct_err ct_ctlog_open(const char *path, ct_ctlog_reader *r, char *err, size_t errlen);
void ct_ctlog_close(ct_ctlog_reader *r);
/* Walks every record in file order. Returns CT_OK at the end or when the
 * callback returned CT_STOP; the callback's code if it returned another
 * error; CT_ERR_STORE_CORRUPT (a record does not decode), CT_ERR_MALFORMED
 * (truncated or malformed object, bad trailer) or CT_ERR_TRAILING_BYTES
 * (data after the trailer), with *bad_index (0-based record position) and a
 * message in err. */
ct_err ct_ctlog_scan(ct_ctlog_reader *r, ct_ctlog_cb cb, void *arg, uint64_t *bad_index, char *err,
                     size_t errlen);

/* The trailer rule, the one place it is written: after a scan that walked
 * every record (count records, the last one last_seq with hash head), a
 * trailer, when the file has one, must state exactly those three. CT_OK when
 * there is no trailer or all three agree; otherwise CT_ERR_STORE_CORRUPT and
 * the finding in msg: "trailer: says N records ending at seq S, file holds M
 * ending at seq T" or "seq T: trailer head differs from the chain". */
ct_err ct_ctlog_check_trailer(const ct_ctlog_reader *r, uint64_t count, uint64_t last_seq,
                              const uint8_t head[CT_LOGREC_HASH_LEN], char *msg, size_t len);

/* Writers: append the header / trailer encodings to out. */
ct_err ct_ctlog_put_header(ct_buf *out, const char *campaign, uint64_t from,
                           const uint8_t prev[CT_LOGREC_HASH_LEN]);
ct_err ct_ctlog_put_trailer(ct_buf *out, uint64_t count, uint64_t last,
                            const uint8_t head[CT_LOGREC_HASH_LEN]);

#endif
