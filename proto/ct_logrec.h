/* CONTRACT (docs/PROTOCOL.md §6): a change here is a change to the protocol.
 *
 * ct_logrec.h — one record of the aggregator's append-only, hash-chained log.
 *
 * Stored value (and export stream element) = MessagePack array of 5:
 *   [seq uint, received_ms uint, collector str (<= 64), event bin, hash bin32]
 * body  = MessagePack array of the first 4 elements, smallest encodings
 * hash  = BLAKE2b-256( prev_hash(32) || body )
 * prev_hash of seq 1 is 32 zero bytes. seq starts at 1 and increases by 1.
 * "collector" is the submitting peer's identity: its CURVE public key in Z85
 * (40 chars), or "insecure" when the aggregator runs with --insecure.
 * docs/PROTOCOL.md §6 is normative.
 */
#ifndef CT_LOGREC_H
#define CT_LOGREC_H

#include <stddef.h>
#include <stdint.h>

#include "ct_buf.h"
#include "ct_error.h"

#define CT_COLLECTOR_ID_MAX 64
#define CT_LOGREC_HASH_LEN 32

typedef struct {
    uint64_t seq;
    int64_t received_ms;
    char collector[CT_COLLECTOR_ID_MAX + 1];
    const uint8_t *event; /* borrowed: into the decoded buffer or the caller's bytes */
    size_t event_len;
    uint8_t hash[CT_LOGREC_HASH_LEN];
} ct_logrec;

/* Computes r->hash from prev_hash and the other fields, then appends the
 * stored encoding to out. */
ct_err ct_logrec_encode(ct_logrec *r, const uint8_t prev_hash[CT_LOGREC_HASH_LEN], ct_buf *out);
/* Strict decode; r->event points into buf. Does not check the hash. */
ct_err ct_logrec_decode(const uint8_t *buf, size_t len, ct_logrec *r);
/* Recomputes the hash of r given prev_hash; CT_OK if equal to r->hash,
 * CT_ERR_CHAIN if not. */
ct_err ct_logrec_check(const ct_logrec *r, const uint8_t prev_hash[CT_LOGREC_HASH_LEN]);

/* Checks the stored bytes buf[0..len) of a record as they are: 0x95, the
 * body elements, then bin 32 (c4 20) holding the hash, which must equal
 * BLAKE2b-256(prev_hash || 0x94 || the body elements). CT_OK, or
 * CT_ERR_CHAIN (another layout, or another hash). With a record decoded
 * from buf, equal to ct_logrec_check for the encoding ct_logrec_encode
 * writes, and refuses every other encoding of the same fields; it does not
 * decode (ct_logrec_decode first). */
ct_err ct_logrec_check_stored(const uint8_t *buf, size_t len,
                              const uint8_t prev_hash[CT_LOGREC_HASH_LEN]);

/* 64 lowercase hex chars + NUL. */
void ct_hash_hex(const uint8_t h[CT_LOGREC_HASH_LEN], char out[2 * CT_LOGREC_HASH_LEN + 1]);

#endif
