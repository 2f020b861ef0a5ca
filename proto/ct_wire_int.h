/* ct_wire_int.h — what ct_wire.c shares with ct_wire_repl.c: opening a
 * message of one kind (size cap, pre-scan, msgpack-c, "v", "k"), walking its
 * keys, and the packer helpers every encoder uses. Internal to proto/: not
 * part of the contract's interface, the same rules (see ct_wire.c). */
#ifndef CT_WIRE_INT_H
#define CT_WIRE_INT_H

#include <msgpack.h>

#include "ct_buf.h"
#include "ct_prescan.h"
#include "ct_wire.h"

/* a small message: "rq", "snq", "err" */
extern const ct_prescan_limits ct_wire_lim_small;

/* The kind's name on the wire (NULL for none). */
const char *ct_wire_kind_name(ct_msg_kind k);
/* Opens a message that must be of kind want. */
ct_err ct_wire_open_kind(const uint8_t *buf, size_t len, const ct_prescan_limits *lim,
                         ct_msg_kind want, msgpack_object *root);
/* Walks the map once: unknown -> UNKNOWN_KEY, repeated -> DUP_KEY. Fills
 * vals[i] with the value of keys[i] (NULL when absent). */
ct_err ct_wire_fields(const msgpack_object *root, const char *const *keys,
                      const msgpack_object **vals, unsigned nkeys);
/* A bin of exactly want bytes: WRONG_TYPE, or bad_len for another size. */
ct_err ct_wire_get_bin(const msgpack_object *o, size_t want, ct_err bad_len);
void ct_wire_pk_str(msgpack_packer *pk, const char *s);
/* Starts a message: map header with nkeys keys, then "v":1, "k":kind. */
void ct_wire_pk_head(msgpack_packer *pk, size_t nkeys, ct_msg_kind kind);
/* Any failed write (ENOMEM) leaves the buffer as it was. */
ct_err ct_wire_pk_finish(ct_buf *out, size_t start, int failed);

#endif
