/* ct_etcd.h — a small client of etcd's v3 API through its HTTP/JSON gateway
 * (etcd 3.4: POST /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke,
 * /v3/kv/range, /v3/kv/txn, /v3/kv/put; keys and values base64 in JSON,
 * 64-bit integers as decimal strings), over libcurl and json-c.
 *
 * Why the gateway and not gRPC: Debian ships libcurl and json-c; a gRPC
 * stack for C does not come with the distribution. Every call chitieu needs
 * is unary over the gateway (a keepalive POST with one request gets one
 * answer), so nothing streams.
 *
 * Endpoints: a list (http:// or https://); a request goes to the endpoint
 * that answered last, and on a transport failure or a 5xx to the next ones
 * in turn, each at most once per call. TLS: a CA file for the server's
 * certificate and a client certificate + key (libcurl options CAINFO,
 * SSLCERT, SSLKEY). Every request is bounded by timeout_ms (connect and
 * total). Not thread-safe: one owner thread (ct_elect's).
 */
#ifndef CT_ETCD_H
#define CT_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

#define CT_ETCD_MAX_ENDPOINTS 8
#define CT_ETCD_VALUE_MAX 512

typedef struct {
    const char *const *endpoints; /* http(s)://host:port */
    size_t n_endpoints;
    const char *cacert, *cert, *key; /* TLS files; NULL = none */
    long timeout_ms;                 /* per request; 0 = 1000 */
} ct_etcd_opts;

typedef struct {
    bool found;
    char value[CT_ETCD_VALUE_MAX + 1]; /* NUL-terminated (values are text here) */
    int64_t create_revision, mod_revision, lease;
} ct_etcd_kv;

typedef struct ct_etcd ct_etcd;

ct_err ct_etcd_create(const ct_etcd_opts *o, ct_etcd **out);
void ct_etcd_free(ct_etcd *c);
/* The last failure in words (endpoint and cause), "" after a success. */
const char *ct_etcd_last_error(const ct_etcd *c);

/* A lease of ttl_s seconds: *id. */
ct_err ct_etcd_lease_grant(ct_etcd *c, int64_t ttl_s, int64_t *id);
/* Renews lease id: *ttl_left = its TTL after the renewal (0 = the lease is
 * gone: expired or revoked). */
ct_err ct_etcd_lease_keepalive(ct_etcd *c, int64_t id, int64_t *ttl_left);
ct_err ct_etcd_lease_revoke(ct_etcd *c, int64_t id);
/* Reads key: kv->found false when absent. */
ct_err ct_etcd_get(ct_etcd *c, const char *key, ct_etcd_kv *kv);
/* Every key under prefix (at most max): *n found. */
ct_err ct_etcd_list(ct_etcd *c, const char *prefix, ct_etcd_kv *kvs, char (*keys)[256], size_t max,
                    size_t *n);
/* Writes key = value attached to lease (0 = none). */
ct_err ct_etcd_put(ct_etcd *c, const char *key, const char *value, int64_t lease);
/* One transaction: if key does not exist, create it = value with lease.
 * *created says whether it did; kv receives the key as it is after the
 * transaction (ours: create_revision = the transaction's revision). */
ct_err ct_etcd_create_if_absent(ct_etcd *c, const char *key, const char *value, int64_t lease,
                                bool *created, ct_etcd_kv *kv);

#endif
