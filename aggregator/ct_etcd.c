/* ct_etcd.c — etcd v3 JSON gateway client (see ct_etcd.h).
 *
 * Invariants: one CURL easy handle, reused (keeps connections); every
 * request has a bounded duration (CURLOPT_TIMEOUT_MS); a response is taken
 * only with HTTP 200 and a JSON object body; an "error" member makes the
 * call fail (CT_ERR_ETCD) except "lease not found", which a keepalive
 * reports as ttl 0. Keys and values are base64 on the wire, plain here.
 */
#include "ct_etcd.h"

#include <assert.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ct_buf.h"

struct ct_etcd {
    ct_etcd_opts o;
    CURL *curl;
    size_t cur; /* the endpoint that answered last */
    ct_buf body;
    char errbuf[CURL_ERROR_SIZE];
    char last_err[512];
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

ct_err ct_etcd_create(const ct_etcd_opts *o, ct_etcd **out)
{
    *out = NULL;
    if (!o->n_endpoints || o->n_endpoints > CT_ETCD_MAX_ENDPOINTS) return CT_ERR_ARG;
    pthread_once(&g_once, global_init);
    ct_etcd *c = calloc(1, sizeof *c);
    if (!c) return CT_ERR_NOMEM;
    c->o = *o;
    if (c->o.timeout_ms <= 0) c->o.timeout_ms = 1000;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return CT_ERR_NOMEM;
    }
    *out = c;
    return CT_OK;
}

void ct_etcd_free(ct_etcd *c)
{
    if (!c) return;
    curl_easy_cleanup(c->curl);
    ct_buf_free(&c->body);
    free(c);
}

const char *ct_etcd_last_error(const ct_etcd *c)
{
    return c->last_err;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    ct_buf *b = arg;
    if (ct_buf_append(b, (const uint8_t *)p, sz * n)) return 0;
    return sz * n;
}

/* POSTs req to path on one endpoint after another; *resp = the parsed JSON
 * object (caller puts it). */
static ct_err post(ct_etcd *c, const char *path, json_object *req, json_object **resp)
{
    *resp = NULL;
    const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    for (size_t k = 0; k < c->o.n_endpoints; k++) {
        size_t i = (c->cur + k) % c->o.n_endpoints;
        char url[512];
        snprintf(url, sizeof url, "%s%s", c->o.endpoints[i], path);
        ct_buf_reset(&c->body);
        c->errbuf[0] = 0;
        CURL *h = c->curl;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->o.timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        if (c->o.cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->o.cacert);
        if (c->o.cert) curl_easy_setopt(h, CURLOPT_SSLCERT, c->o.cert);
        if (c->o.key) curl_easy_setopt(h, CURLOPT_SSLKEY, c->o.key);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            snprintf(c->last_err, sizeof c->last_err, "%s: %s", c->o.endpoints[i],
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
            continue;
        }
        json_object *j = NULL;
        if (c->body.len > 0) {
            json_tokener *t = json_tokener_new();
            if (t) {
                j = json_tokener_parse_ex(t, (const char *)c->body.data, (int)c->body.len);
                json_tokener_free(t);
            }
        }
        if (!j || !json_object_is_type(j, json_type_object)) {
            snprintf(c->last_err, sizeof c->last_err, "%s: HTTP %ld, no JSON object",
                     c->o.endpoints[i], status);
            json_object_put(j);
            continue;
        }
        if (status >= 500 && status != 504) { /* that member cannot serve: the next one */
            json_object *m = NULL;
            json_object_object_get_ex(j, "message", &m);
            snprintf(c->last_err, sizeof c->last_err, "%s: HTTP %ld %s", c->o.endpoints[i], status,
                     m ? json_object_get_string(m) : "");
            json_object_put(j);
            continue;
        }
        c->cur = i;
        *resp = j;
        return CT_OK;
    }
    return CT_ERR_ETCD;
}

/* "error"/"message" of a response, or NULL. */
static const char *resp_error(json_object *j)
{
    json_object *e = NULL;
    if (json_object_object_get_ex(j, "message", &e) || json_object_object_get_ex(j, "error", &e))
        return json_object_get_string(e);
    return NULL;
}

static int64_t get_i64(json_object *j, const char *name)
{
    json_object *v = NULL;
    if (!j || !json_object_object_get_ex(j, name, &v)) return 0;
    if (json_object_is_type(v, json_type_string))
        return strtoll(json_object_get_string(v), NULL, 10);
    return json_object_get_int64(v);
}

static void add_i64(json_object *o, const char *name, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    json_object_object_add(o, name, json_object_new_string(s));
}

static void add_b64(json_object *o, const char *name, const char *text, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b = malloc(n);
    if (!b) return;
    sodium_bin2base64(b, n, (const unsigned char *)text, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_object_add(o, name, json_object_new_string(b));
    free(b);
}

/* base64 member name of j into out (NUL-terminated, at most cap - 1). */
static bool get_b64(json_object *j, const char *name, char *out, size_t cap)
{
    json_object *v = NULL;
    out[0] = 0;
    if (!json_object_object_get_ex(j, name, &v)) return true; /* empty */
    const char *s = json_object_get_string(v);
    size_t n = 0;
    if (sodium_base642bin((unsigned char *)out, cap - 1, s, strlen(s), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    out[n] = 0;
    return true;
}

static ct_err fail(ct_etcd *c, const char *what, json_object *j)
{
    const char *m = j ? resp_error(j) : NULL;
    snprintf(c->last_err, sizeof c->last_err, "%s: %s", what, m ? m : "unexpected answer");
    json_object_put(j);
    return CT_ERR_ETCD;
}

ct_err ct_etcd_lease_grant(ct_etcd *c, int64_t ttl_s, int64_t *id)
{
    json_object *req = json_object_new_object(), *j = NULL;
    add_i64(req, "TTL", ttl_s);
    ct_err e = post(c, "/v3/lease/grant", req, &j);
    json_object_put(req);
    if (e) return e;
    *id = get_i64(j, "ID");
    if (*id == 0 || resp_error(j)) return fail(c, "lease grant", j);
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}

ct_err ct_etcd_lease_keepalive(ct_etcd *c, int64_t id, int64_t *ttl_left)
{
    json_object *req = json_object_new_object(), *j = NULL, *r = NULL;
    add_i64(req, "ID", id);
    ct_err e = post(c, "/v3/lease/keepalive", req, &j);
    json_object_put(req);
    if (e) return e;
    if (!json_object_object_get_ex(j, "result", &r)) {
        const char *m = resp_error(j);
        if (m && strstr(m, "lease not found")) { /* expired or revoked */
            *ttl_left = 0;
            json_object_put(j);
            c->last_err[0] = 0;
            return CT_OK;
        }
        return fail(c, "lease keepalive", j);
    }
    *ttl_left = get_i64(r, "TTL");
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}

ct_err ct_etcd_lease_revoke(ct_etcd *c, int64_t id)
{
    json_object *req = json_object_new_object(), *j = NULL;
    add_i64(req, "ID", id);
    ct_err e = post(c, "/v3/lease/revoke", req, &j);
    json_object_put(req);
    if (e) return e;
    json_object_put(j);
    return CT_OK;
}

static void read_kv(json_object *kvj, ct_etcd_kv *kv, char *key, size_t keycap)
{
    memset(kv, 0, sizeof *kv);
    kv->found = true;
    kv->create_revision = get_i64(kvj, "create_revision");
    kv->mod_revision = get_i64(kvj, "mod_revision");
    kv->lease = get_i64(kvj, "lease");
    if (!get_b64(kvj, "value", kv->value, sizeof kv->value)) kv->value[0] = 0;
    if (key && !get_b64(kvj, "key", key, keycap)) key[0] = 0;
}

/* The first kv of a range response (kv->found false when none). */
static void first_kv(json_object *rr, ct_etcd_kv *kv)
{
    json_object *kvs = NULL;
    memset(kv, 0, sizeof *kv);
    if (json_object_object_get_ex(rr, "kvs", &kvs) && json_object_is_type(kvs, json_type_array) &&
        json_object_array_length(kvs) > 0)
        read_kv(json_object_array_get_idx(kvs, 0), kv, NULL, 0);
}

ct_err ct_etcd_get(ct_etcd *c, const char *key, ct_etcd_kv *kv)
{
    json_object *req = json_object_new_object(), *j = NULL;
    add_b64(req, "key", key, strlen(key));
    ct_err e = post(c, "/v3/kv/range", req, &j);
    json_object_put(req);
    if (e) return e;
    if (resp_error(j)) return fail(c, "range", j);
    first_kv(j, kv);
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}

ct_err ct_etcd_list(ct_etcd *c, const char *prefix, ct_etcd_kv *kvs, char (*keys)[256], size_t max,
                    size_t *n)
{
    *n = 0;
    size_t pl = strlen(prefix);
    assert(pl > 0 && pl < 256);
    char end[256];
    memcpy(end, prefix, pl);
    end[pl - 1]++; /* the range [prefix, prefix with its last byte + 1) */
    json_object *req = json_object_new_object(), *j = NULL, *arr = NULL;
    add_b64(req, "key", prefix, pl);
    add_b64(req, "range_end", end, pl);
    ct_err e = post(c, "/v3/kv/range", req, &j);
    json_object_put(req);
    if (e) return e;
    if (resp_error(j)) return fail(c, "range", j);
    if (json_object_object_get_ex(j, "kvs", &arr) && json_object_is_type(arr, json_type_array)) {
        size_t len = json_object_array_length(arr);
        for (size_t i = 0; i < len && *n < max; i++, (*n)++)
            read_kv(json_object_array_get_idx(arr, i), &kvs[*n], keys[*n], sizeof keys[*n]);
    }
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}

ct_err ct_etcd_put(ct_etcd *c, const char *key, const char *value, int64_t lease)
{
    json_object *req = json_object_new_object(), *j = NULL;
    add_b64(req, "key", key, strlen(key));
    add_b64(req, "value", value, strlen(value));
    if (lease) add_i64(req, "lease", lease);
    ct_err e = post(c, "/v3/kv/put", req, &j);
    json_object_put(req);
    if (e) return e;
    if (resp_error(j)) return fail(c, "put", j);
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}

ct_err ct_etcd_create_if_absent(ct_etcd *c, const char *key, const char *value, int64_t lease,
                                bool *created, ct_etcd_kv *kv)
{
    *created = false;
    memset(kv, 0, sizeof *kv);
    json_object *req = json_object_new_object(), *j = NULL;
    json_object *cmp = json_object_new_object(), *put = json_object_new_object();
    json_object *rng = json_object_new_object();
    add_b64(cmp, "key", key, strlen(key));
    json_object_object_add(cmp, "result", json_object_new_string("EQUAL"));
    json_object_object_add(cmp, "target", json_object_new_string("CREATE"));
    add_i64(cmp, "create_revision", 0);
    add_b64(put, "key", key, strlen(key));
    add_b64(put, "value", value, strlen(value));
    if (lease) add_i64(put, "lease", lease);
    add_b64(rng, "key", key, strlen(key));
    json_object *ca = json_object_new_array(), *sa = json_object_new_array(),
                *fa = json_object_new_array();
    json_object *s1 = json_object_new_object(), *f1 = json_object_new_object();
    json_object_object_add(s1, "request_put", put);
    json_object_object_add(f1, "request_range", rng);
    json_object_array_add(ca, cmp);
    json_object_array_add(sa, s1);
    json_object_array_add(fa, f1);
    json_object_object_add(req, "compare", ca);
    json_object_object_add(req, "success", sa);
    json_object_object_add(req, "failure", fa);
    ct_err e = post(c, "/v3/kv/txn", req, &j);
    json_object_put(req);
    if (e) return e;
    if (resp_error(j)) return fail(c, "txn", j);
    json_object *succ = NULL, *hdr = NULL, *resps = NULL;
    bool ok = json_object_object_get_ex(j, "succeeded", &succ) && json_object_get_boolean(succ);
    if (ok) {
        json_object_object_get_ex(j, "header", &hdr);
        kv->found = true;
        kv->create_revision = kv->mod_revision = get_i64(hdr, "revision");
        kv->lease = lease;
        snprintf(kv->value, sizeof kv->value, "%s", value);
        *created = kv->create_revision > 0;
        if (!*created) return fail(c, "txn (no revision)", j);
    } else if (json_object_object_get_ex(j, "responses", &resps) &&
               json_object_is_type(resps, json_type_array) && json_object_array_length(resps) > 0) {
        json_object *r0 = json_object_array_get_idx(resps, 0), *rr = NULL;
        if (json_object_object_get_ex(r0, "response_range", &rr)) first_kv(rr, kv);
    }
    json_object_put(j);
    c->last_err[0] = 0;
    return CT_OK;
}
