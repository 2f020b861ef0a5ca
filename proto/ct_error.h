/* CONTRACT (docs/PROTOCOL.md Appendix A): a change here is a change to the protocol.
 *
 * ct_error.h — the one project-wide error enum and its string table.
 *
 * Every fallible function in chitieu returns a ct_err. CT_OK is 0. The numeric
 * values are part of the wire protocol (acks carry them) and are therefore
 * stable: never renumber, only append. docs/PROTOCOL.md lists the table.
 *
 * ct_err_name() gives the short symbolic name ("unknown_district"),
 * ct_err_str() a one-line human message. Both never return NULL.
 *
 * CT_STOP is not part of the table (nor of the protocol): it is a callback's
 * request to stop a walk (ct_store_log_scan, ct_store_ids_scan,
 * ct_ctlog_scan), which then returns CT_OK. It is never sent and never
 * stored; its value lies outside the range of wire codes (uint16).
 */
#ifndef CT_ERROR_H
#define CT_ERROR_H

/* X(symbol, number, name, message) */
/* clang-format off */
#define CT_ERROR_TABLE(X)                                                                  \
    X(CT_OK, 0, "ok", "success")                                                           \
    /* generic */                                                                          \
    X(CT_ERR_NOMEM, 1, "nomem", "out of memory")                                           \
    X(CT_ERR_IO, 2, "io", "input/output error")                                            \
    X(CT_ERR_ARG, 3, "bad_argument", "invalid argument")                                   \
    X(CT_ERR_INTERNAL, 4, "internal", "internal error")                                    \
    X(CT_ERR_NOT_FOUND, 5, "not_found", "not found")                                       \
    X(CT_ERR_TIMEOUT, 6, "timeout", "timed out")                                           \
    X(CT_ERR_ZMQ, 7, "zmq", "ZeroMQ error")                                                \
    X(CT_ERR_LMDB, 8, "lmdb", "LMDB error")                                                \
    X(CT_ERR_CONFIG, 9, "config", "invalid configuration")                                 \
    X(CT_ERR_USAGE, 10, "usage", "invalid command line")                                   \
    /* frame decoding (11..39) */                                                          \
    X(CT_ERR_FRAME_EMPTY, 11, "frame_empty", "empty frame")                                \
    X(CT_ERR_FRAME_TOO_LARGE, 12, "frame_too_large", "frame exceeds the size limit")       \
    X(CT_ERR_MALFORMED, 13, "malformed", "malformed MessagePack (truncated or invalid)")    \
    X(CT_ERR_TRAILING_BYTES, 14, "trailing_bytes", "bytes after the end of the message")   \
    X(CT_ERR_TOO_DEEP, 15, "too_deep", "nesting deeper than allowed")                      \
    X(CT_ERR_DECLARED_SIZE, 16, "declared_size",                                           \
      "declared length or count exceeds the bytes present or the limit")                   \
    X(CT_ERR_NOT_MAP, 17, "not_map", "message is not a MessagePack map")                   \
    X(CT_ERR_DUP_KEY, 18, "duplicate_key", "duplicate key in map")                         \
    X(CT_ERR_UNKNOWN_KEY, 19, "unknown_key", "unknown key in map")                         \
    X(CT_ERR_MISSING_FIELD, 20, "missing_field", "required field missing")                 \
    X(CT_ERR_WRONG_TYPE, 21, "wrong_type", "field has the wrong type")                     \
    X(CT_ERR_STRING_TOO_LONG, 22, "string_too_long", "string or binary too long")          \
    X(CT_ERR_BAD_UTF8, 23, "bad_utf8", "string is not valid UTF-8")                        \
    X(CT_ERR_BAD_VERSION, 24, "bad_version", "unsupported schema or protocol version")     \
    X(CT_ERR_BAD_VALUE, 25, "bad_value", "field value out of range or not allowed")        \
    X(CT_ERR_BAD_ID, 26, "bad_event_id", "event id is not 16 bytes")                       \
    X(CT_ERR_BAD_PERSON, 27, "bad_person_ref", "person reference is not a 32-byte hash")   \
    X(CT_ERR_BAD_KIND, 28, "bad_message_kind", "unknown or unexpected message kind")       \
    X(CT_ERR_TOO_MANY, 29, "too_many", "too many items in one message")                    \
    X(CT_ERR_BAD_NATIONAL_ID, 30, "bad_national_id", "national ID is not 12 digits")       \
    /* validation against the campaign (40..59) */                                         \
    X(CT_ERR_WRONG_CAMPAIGN, 40, "wrong_campaign", "event is for another campaign")        \
    X(CT_ERR_UNKNOWN_DISTRICT, 41, "unknown_district", "unknown district code")            \
    X(CT_ERR_UNKNOWN_AGENT, 42, "unknown_agent", "agent is not on the roster")             \
    X(CT_ERR_AGENT_DISTRICT, 43, "agent_not_in_district",                                  \
      "agent belongs to another district")                                                 \
    X(CT_ERR_UNKNOWN_PROGRAM, 44, "unknown_program", "unknown program")                    \
    X(CT_ERR_OUTSIDE_WINDOW, 45, "outside_window",                                         \
      "occurred-at is outside the campaign window")                                        \
    X(CT_ERR_IN_FUTURE, 46, "in_future", "occurred-at is in the future (clock skew?)")     \
    X(CT_ERR_UNKNOWN_GROUP, 47, "unknown_group", "unknown subsidy group")                  \
    X(CT_ERR_UNKNOWN_REORG, 48, "unknown_reorg",                                           \
      "no such reorganization in the campaign file")                                       \
    /* ingest and security (60..79) */                                                     \
    X(CT_ERR_CONFLICT, 60, "conflict", "event id already recorded with different content") \
    X(CT_ERR_FORBIDDEN, 61, "forbidden", "this key may not write for that district")       \
    X(CT_ERR_UNAUTHENTICATED, 62, "unauthenticated", "peer is not authenticated")          \
    X(CT_ERR_STORE_UNAVAILABLE, 63, "store_unavailable",                                   \
      "store cannot commit now (map or disk full, I/O error); retry later")                \
    X(CT_ERR_MAP_FULL, 64, "map_full", "LMDB map is full (raise --map-size)")              \
    X(CT_ERR_DISK_FULL, 65, "disk_full", "no space left on device")                        \
    X(CT_ERR_KEY_PERMS, 66, "key_permissions",                                             \
      "secret key file is readable by group or others (chmod 600)")                        \
    X(CT_ERR_CAMPAIGN_MISMATCH, 67, "campaign_mismatch",                                   \
      "data directory belongs to another campaign")                                        \
    X(CT_ERR_CHAIN, 68, "chain_broken", "hash chain or recount does not match")            \
    X(CT_ERR_STORE_CORRUPT, 69, "store_corrupt", "stored record cannot be decoded")        \
    X(CT_ERR_STALE_EPOCH, 70, "stale_epoch", "the aggregator runs an older epoch")         \
    X(CT_ERR_NOT_PRIMARY, 71, "not_primary", "this aggregator is a follower")              \
    X(CT_ERR_NOT_CURRENT, 72, "not_current",                                               \
      "that sign-up is not the person's current one (cancelled, superseded or moved)")     \
    X(CT_ERR_ALREADY_VOIDED, 73, "already_voided", "that sign-up was already voided")      \
    X(CT_ERR_CORRECT_CONFLICT, 74, "correct_conflict",                                     \
      "the person is already enrolled in the program the correction moves to")             \
    X(CT_ERR_UNKNOWN_COMMUNE, 75, "unknown_commune", "commune is not in the unit's list") \
    X(CT_ERR_ALREADY_CLOSED, 76, "already_closed", "that day is already closed for that unit") \
    X(CT_ERR_NOT_CLOSED, 77, "not_closed", "that day is not closed for that unit")         \
    X(CT_ERR_UNKNOWN_EVENT, 78, "unknown_event",                                           \
      "no enroll event with that id, person and unit at that log position")                \
    X(CT_ERR_ALREADY_APPLIED, 79, "already_applied",                                       \
      "that reorganization is already in force")                                           \
    /* coordination (81..85) */                                                            \
    X(CT_ERR_ETCD, 81, "etcd", "the coordination service (etcd) cannot be reached or refused")

/* clang-format on */

typedef enum {
#define CT_X_ENUM(sym, num, name, msg) sym = num,
    CT_ERROR_TABLE(CT_X_ENUM)
#undef CT_X_ENUM
    /* a callback's request to stop; never sent, never stored */
    CT_STOP = 0x10000
} ct_err;

/* Short, stable symbolic name, e.g. "unknown_district"; "stop" for CT_STOP;
 * "unknown_error" if not in the table. */
const char *ct_err_name(int err);
/* One-line human message; "unknown error" if neither in the table nor CT_STOP. */
const char *ct_err_str(int err);
/* 1 if err is a code from the table (CT_STOP is not). */
int ct_err_known(int err);

#endif
