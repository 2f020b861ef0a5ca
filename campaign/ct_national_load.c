/* ct_national_load.c — reads the national campaign file (see ct_national.h,
 * docs/PROTOCOL.md §11) and every province's campaign file it names.
 *
 * Lines are cut by base/ct_ini (the same line rules as the provincial
 * campaign: CRLF, BOM, NUL and over-long lines); a line is blank, a comment
 * (';' or '#' first), "[kind argument]" or "key = value". Every key and
 * section is known; a key or section given twice is an error.
 *
 * Invariants: the first error wins ("path:line: message") and stops the
 * reading; on failure *out is zeroed and owns nothing.
 */
#define _GNU_SOURCE /* memmem */
#include "ct_national.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_campaign_load.h"
#include "ct_campaign_load_int.h"
#include "ct_ini.h"
#include "ct_num.h"
#include "ct_time.h"

#define NAT_MAX_BYTES (1u << 20)
#define LINE_MAX_BYTES 4096

enum { K_NAME, K_CAMPAIGN, K_FEED, K_SNAPSHOT, K_SERVER_KEY, K_CAMPAIGN_ID, K_FINGERPRINT, K_N };
static const char *const PKEYS[K_N] = {"name",       "campaign",    "feed",       "snapshot",
                                       "server_key", "campaign_id", "fingerprint"};

typedef struct {
    ct_nat_province p;
    unsigned line;
    unsigned kline[K_N];
    char pin_id[CT_CAMPAIGN_ID_MAX + 1];
    uint8_t pin_fp[32];
    size_t n_feed, n_snapshot;
} xprov;

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    bool failed;
    unsigned line;
    bool in_national;
    unsigned national_line, id_line, name_line, tz_line, target_line[CT_PROGRAM_COUNT];
    xprov *prov; /* current [province] or NULL */
    xprov *provs;
    size_t n_provs;
    ct_national *out;
} nctx;

static void fail(nctx *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(nctx *c, unsigned line, const char *fmt, ...)
{
    if (c->failed) return;
    c->failed = true;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen) snprintf(c->err, c->errlen, "%s:%u: %s", c->path, line, msg);
}

/* path relative to the national file's directory (unless absolute) */
static bool resolve(nctx *c, const char *rel, char *dst, size_t cap)
{
    const char *slash = strrchr(c->path, '/');
    size_t dl = (rel[0] == '/' || !slash) ? 0 : (size_t)(slash - c->path) + 1;
    if (dl + strlen(rel) + 1 > cap) return false;
    memcpy(dst, c->path, dl);
    strcpy(dst + dl, rel);
    return true;
}

/* "a, b, c" into up to CT_NAT_MAX_ENDPOINTS endpoints; the count, or 0 after
 * an error. */
static size_t ep_list(nctx *c, const char *key, const char *v,
                      char out[CT_NAT_MAX_ENDPOINTS][CT_NAT_EP_MAX + 1])
{
    size_t n = 0;
    const char *p = v;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l == 0) {
            fail(c, c->line, "'%s': empty endpoint in the list", key);
            return 0;
        }
        if (n == CT_NAT_MAX_ENDPOINTS) {
            fail(c, c->line, "'%s': more than %d endpoints", key, CT_NAT_MAX_ENDPOINTS);
            return 0;
        }
        if (l > CT_NAT_EP_MAX || !memmem(p, l, "://", 3) || memchr(p, ' ', l) ||
            memchr(p, '\t', l)) {
            fail(c, c->line, "'%s': bad endpoint '%.*s' (expected e.g. tcp://host:port)", key,
                 (int)(l > 300 ? 300 : l), p);
            return 0;
        }
        memcpy(out[n], p, l);
        out[n][l] = '\0';
        n++;
        if (!e) return n;
        p = e + 1;
    }
}

static void begin_section(nctx *c, const char *hdr)
{
    c->prov = NULL;
    c->in_national = false;
    if (strcmp(hdr, "national") == 0) {
        if (c->national_line) {
            fail(c, c->line, "duplicate section [national] (first at line %u)", c->national_line);
            return;
        }
        c->national_line = c->line;
        c->in_national = true;
        return;
    }
    if (strncmp(hdr, "province", 8) != 0 || (hdr[8] != ' ' && hdr[8] != '\0')) {
        fail(c, c->line, "unknown section [%s] (expected national or province)", hdr);
        return;
    }
    const char *arg = hdr + 8;
    while (*arg == ' ')
        arg++;
    uint64_t code;
    if (!ct_num_parse_u64(arg, 65535, &code) || code == 0) {
        fail(c, c->line, "bad province code '%s' (expected a number 1..65535)", arg);
        return;
    }
    for (size_t i = 0; i < c->n_provs; i++)
        if (c->provs[i].p.code == code) {
            fail(c, c->line, "duplicate province %s (first at line %u)", arg, c->provs[i].line);
            return;
        }
    if (c->n_provs == CT_NAT_MAX_PROVINCES) {
        fail(c, c->line, "too many provinces (max %d)", CT_NAT_MAX_PROVINCES);
        return;
    }
    xprov *np = realloc(c->provs, (c->n_provs + 1) * sizeof *np);
    if (!np) {
        fail(c, c->line, "out of memory");
        return;
    }
    c->provs = np;
    c->prov = &c->provs[c->n_provs++];
    memset(c->prov, 0, sizeof *c->prov);
    c->prov->p.code = (uint32_t)code;
    c->prov->line = c->line;
}

static void national_key(nctx *c, const char *k, const char *v)
{
    ct_national *n = c->out;
    unsigned *seen = NULL;
    if (strcmp(k, "id") == 0) {
        seen = &c->id_line;
    } else if (strcmp(k, "name") == 0) {
        seen = &c->name_line;
    } else if (strcmp(k, "timezone") == 0) {
        seen = &c->tz_line;
    } else if (strncmp(k, "target.", 7) == 0) {
        ct_program p;
        if (ct_program_parse(k + 7, &p) != CT_OK) {
            fail(c, c->line, "unknown program in '%s' (expected bhxh_tn or bhyt_hgd)", k);
            return;
        }
        seen = &c->target_line[p];
    } else {
        fail(c, c->line, "unknown key '%s' in [national]", k);
        return;
    }
    if (*seen) {
        fail(c, c->line, "duplicate key '%s' (first at line %u)", k, *seen);
        return;
    }
    *seen = c->line;
    uint64_t u;
    if (seen == &c->id_line) {
        if (!ct_cload_ident_ok(v, CT_CAMPAIGN_ID_MAX))
            fail(c, c->line, "bad national id '%s' (1..%d characters of A-Z a-z 0-9 _ - .)", v,
                 CT_CAMPAIGN_ID_MAX);
        else
            strcpy(n->id, v);
    } else if (seen == &c->name_line) {
        if (!*v || strlen(v) > CT_NAME_MAX || !ct_cload_utf8_ok(v, strlen(v)))
            fail(c, c->line, "'name' must be 1..%d bytes of UTF-8 text", CT_NAME_MAX);
        else
            strcpy(n->name, v);
    } else if (seen == &c->tz_line) {
        if (ct_tz_parse(v, &n->tz_offset_min) != CT_OK)
            fail(c, c->line, "bad timezone '%s' (expected +HH:MM, -HH:MM or Z)", v);
    } else if (!ct_num_parse_u64(v, 1000000000000ULL, &u)) {
        fail(c, c->line, "bad target '%s' (expected a number 0..10^12)", v);
    } else {
        int p = (int)(seen - c->target_line);
        n->target[p] = u;
        n->target_given[p] = true;
    }
}

static void province_key(nctx *c, const char *k, const char *v)
{
    xprov *x = c->prov;
    int ki = -1;
    for (int i = 0; i < K_N; i++)
        if (strcmp(k, PKEYS[i]) == 0) ki = i;
    if (ki < 0) {
        fail(c, c->line, "unknown key '%s' in [province %u]", k, x->p.code);
        return;
    }
    if (x->kline[ki]) {
        fail(c, c->line, "duplicate key '%s' (first at line %u)", k, x->kline[ki]);
        return;
    }
    x->kline[ki] = c->line;
    switch (ki) {
    case K_NAME:
        if (!*v || strlen(v) > CT_NAME_MAX || !ct_cload_utf8_ok(v, strlen(v)))
            fail(c, c->line, "'name' must be 1..%d bytes of UTF-8 text", CT_NAME_MAX);
        else
            strcpy(x->p.name, v);
        break;
    case K_CAMPAIGN:
        if (!*v || !resolve(c, v, x->p.campaign_path, sizeof x->p.campaign_path))
            fail(c, c->line, "bad campaign path '%s'", v);
        break;
    case K_SERVER_KEY:
        if (!*v || !resolve(c, v, x->p.server_key, sizeof x->p.server_key))
            fail(c, c->line, "bad server_key path '%s'", v);
        break;
    case K_FEED:
        x->n_feed = ep_list(c, k, v, x->p.feed);
        break;
    case K_SNAPSHOT:
        x->n_snapshot = ep_list(c, k, v, x->p.snapshot);
        break;
    case K_CAMPAIGN_ID:
        if (!ct_cload_ident_ok(v, CT_CAMPAIGN_ID_MAX))
            fail(c, c->line, "bad campaign_id '%s'", v);
        else
            strcpy(x->pin_id, v);
        break;
    case K_FINGERPRINT:
        if (strlen(v) != 64 || sodium_hex2bin(x->pin_fp, 32, v, 64, NULL, NULL, NULL) != 0)
            fail(c, c->line, "bad fingerprint '%s' (expected 64 hex digits)", v);
        break;
    }
}

/* One physical line. */
static void take_line(nctx *c, const char *s, size_t len)
{
    char buf[LINE_MAX_BYTES + 1];
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || s[0] == ';' || s[0] == '#') return;
    if (s[0] == ' ' || s[0] == '\t') {
        fail(c, c->line, "indented line (continuation lines are not supported)");
        return;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close) {
            fail(c, c->line, "section header without closing ']'");
            return;
        }
        char *rest = close + 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest && *rest != ';' && *rest != '#') {
            fail(c, c->line, "text after section header");
            return;
        }
        *close = '\0';
        char *h = buf + 1;
        while (*h == ' ')
            h++;
        for (char *t = close; t > h && (t[-1] == ' ' || t[-1] == '\t');)
            *--t = '\0';
        begin_section(c, h);
        return;
    }
    char *eq = strchr(buf, '=');
    if (!eq) {
        fail(c, c->line, "syntax error (expected 'key = value' or '[section]')");
        return;
    }
    char *k = buf, *v = eq + 1;
    for (char *t = eq; t > k && (t[-1] == ' ' || t[-1] == '\t');)
        *--t = '\0';
    *eq = '\0';
    while (*v == ' ' || *v == '\t')
        v++;
    /* " ; comment" after a value */
    for (char *t = v; *t; t++)
        if ((*t == ';' || *t == '#') && t > v && (t[-1] == ' ' || t[-1] == '\t')) {
            *t = '\0';
            for (char *u = t; u > v && (u[-1] == ' ' || u[-1] == '\t');)
                *--u = '\0';
            break;
        }
    if (c->in_national)
        national_key(c, k, v);
    else if (c->prov)
        province_key(c, k, v);
    else
        fail(c, c->line, "key '%s' outside a section", k);
}

static int cmp_prov(const void *a, const void *b)
{
    uint32_t x = ((const ct_nat_province *)a)->code, y = ((const ct_nat_province *)b)->code;
    return (x > y) - (x < y);
}

/* Required keys, the provinces' campaigns, pins, targets, window. */
static void finish(nctx *c)
{
    ct_national *n = c->out;
    unsigned eof = c->line ? c->line : 1;
    if (c->failed) return;
    if (!c->national_line) return fail(c, eof, "missing [national] section");
    if (!c->id_line) return fail(c, c->national_line, "[national] has no 'id' key");
    if (!c->name_line) strcpy(n->name, n->id);
    if (c->n_provs == 0) return fail(c, eof, "no [province N] section");
    uint64_t sum[CT_PROGRAM_COUNT] = {0};
    for (size_t i = 0; i < c->n_provs; i++) {
        xprov *x = &c->provs[i];
        static const int req[] = {K_NAME, K_CAMPAIGN, K_FEED, K_SNAPSHOT};
        for (size_t r = 0; r < sizeof req / sizeof req[0]; r++)
            if (!x->kline[req[r]])
                return fail(c, x->line, "[province %u] has no '%s' key", x->p.code, PKEYS[req[r]]);
        if (x->n_feed != x->n_snapshot)
            return fail(c, x->kline[K_SNAPSHOT],
                        "[province %u]: 'snapshot' lists %zu endpoints, 'feed' %zu: give them in "
                        "pairs",
                        x->p.code, x->n_snapshot, x->n_feed);
        x->p.n_endpoints = x->n_feed;
        char err[1024] = "";
        if (ct_campaign_load(x->p.campaign_path, &x->p.campaign, err, sizeof err) != CT_OK)
            return fail(c, x->kline[K_CAMPAIGN], "province %u: %s", x->p.code, err);
        char hx[65];
        if (x->kline[K_CAMPAIGN_ID] && strcmp(x->pin_id, x->p.campaign.id) != 0)
            return fail(c, x->kline[K_CAMPAIGN_ID],
                        "province %u: campaign_id '%s' but %s has id '%s'", x->p.code, x->pin_id,
                        x->p.campaign_path, x->p.campaign.id);
        if (x->kline[K_FINGERPRINT] && memcmp(x->pin_fp, x->p.campaign.fingerprint, 32) != 0)
            return fail(c, x->kline[K_FINGERPRINT],
                        "province %u: the fingerprint pinned here differs from %s's (%s)",
                        x->p.code, x->p.campaign_path,
                        (sodium_bin2hex(hx, sizeof hx, x->p.campaign.fingerprint, 32), hx));
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->provs[j].p.campaign.id, x->p.campaign.id) == 0)
                return fail(c, x->kline[K_CAMPAIGN],
                            "province %u runs campaign '%s', as province %u does", x->p.code,
                            x->p.campaign.id, c->provs[j].p.code);
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            sum[p] += x->p.campaign.province_target[p];
        const ct_campaign *pc = &x->p.campaign;
        if (i == 0 || pc->start_ms < n->start_ms) n->start_ms = pc->start_ms;
        if (i == 0 || pc->end_ms > n->end_ms) n->end_ms = pc->end_ms;
    }
    if (!c->tz_line) n->tz_offset_min = c->provs[0].p.campaign.tz_offset_min;
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        if (!n->target_given[p]) n->target[p] = sum[p];
    n->provinces = calloc(c->n_provs, sizeof *n->provinces);
    if (!n->provinces) return fail(c, eof, "out of memory");
    for (size_t i = 0; i < c->n_provs; i++) {
        n->provinces[i] = c->provs[i].p;
        memset(&c->provs[i].p.campaign, 0, sizeof c->provs[i].p.campaign); /* moved */
    }
    n->n_provinces = c->n_provs;
    qsort(n->provinces, n->n_provinces, sizeof *n->provinces, cmp_prov);
}

void ct_national_free(ct_national *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n_provinces; i++)
        ct_campaign_free(&n->provinces[i].campaign);
    free(n->provinces);
    memset(n, 0, sizeof *n);
}

const ct_nat_province *ct_national_province(const ct_national *n, uint32_t code)
{
    for (size_t i = 0; i < n->n_provinces; i++)
        if (n->provinces[i].code == code) return &n->provinces[i];
    return NULL;
}

ct_err ct_national_load(const char *path, ct_national *out, char *errbuf, size_t errlen)
{
    if (!out) return CT_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!path) return CT_ERR_ARG;
    if (errbuf && errlen) errbuf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: cannot read national campaign file: %s", path,
                     strerror(errno));
        return CT_ERR_IO;
    }
    char *text = malloc(NAT_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, NAT_MAX_BYTES + 1, f) : 0;
    bool rerr = ferror(f) != 0;
    fclose(f);
    nctx c = {.path = path, .err = errbuf, .errlen = errlen, .out = out};
    if (!text) {
        fail(&c, 1, "out of memory");
    } else if (rerr) {
        fail(&c, 1, "read error");
    } else if (len > NAT_MAX_BYTES) {
        fail(&c, 1, "national campaign file too large (max %u bytes)", NAT_MAX_BYTES);
    } else {
        ct_ini_src src = {.p = text, .end = text + len, .line = 0};
        for (;;) {
            const char *s;
            size_t l;
            char msg[64];
            ct_ini_result r = ct_ini_next_line(&src, LINE_MAX_BYTES, &s, &l, msg, sizeof msg);
            c.line = src.line;
            if (r == CT_INI_END) break;
            if (r == CT_INI_BAD) {
                fail(&c, c.line, "%s", msg);
                break;
            }
            take_line(&c, s, l);
            if (c.failed) break;
        }
        finish(&c);
        if (!c.failed)
            crypto_generichash(out->fingerprint, 32, (const unsigned char *)text, len, NULL, 0);
    }
    for (size_t i = 0; i < c.n_provs; i++)
        ct_campaign_free(&c.provs[i].p.campaign);
    free(c.provs);
    free(text);
    if (c.failed) {
        ct_national_free(out);
        return CT_ERR_CONFIG;
    }
    return CT_OK;
}
