/* ct_natstatus.c — the national report's figures and its pins (see
 * ct_natstatus.h); the renderings are in ct_natstatus_render.c.
 *
 * Invariants: pure (no clock reads, no I/O); each province's figures are
 * ct_status_compute's for its own campaign, so a province's row equals its
 * provincial report at the same position and clock; on error the figures
 * are freed and zeroed.
 */
#include "ct_natstatus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_num.h"

static const char *const FEEDS[] = {"live",          "lagging",           "stale",
                                    "not_connected", "campaign_mismatch", NULL};

void ct_natstatus_free(ct_natstatus *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_provs; i++)
        ct_status_figures_free(&s->provs[i].f);
    free(s->provs);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        free(s->order[p]);
    memset(s, 0, sizeof *s);
}

/* the ranking comparator's context (qsort has none) */
typedef struct {
    const ct_natstatus_prov *pv;
    int p;
    size_t i;
} rank_item;

static int cmp_rank(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    const ct_natstatus_prov *px = &x->pv[x->i], *py = &y->pv[y->i];
    if (px->has != py->has) return px->has ? -1 : 1;
    if (px->has) {
        const ct_status_prog *gx = &px->f.province.prog[x->p], *gy = &py->f.province.prog[x->p];
        if (gx->pct_x10 != gy->pct_x10) return gx->pct_x10 > gy->pct_x10 ? -1 : 1;
        if (gx->net != gy->net) return gx->net > gy->net ? -1 : 1;
    }
    return (px->p->code > py->p->code) - (px->p->code < py->p->code);
}

ct_err ct_natstatus_compute(const ct_national *n, const ct_natstatus_input *in, int64_t now_ms,
                            ct_natstatus *s)
{
    memset(s, 0, sizeof *s);
    if (!n || !in || n->end_ms <= n->start_ms) return CT_ERR_ARG;
    ct_err e = CT_OK;
    rank_item *ri = NULL;
    ct_status_set_clock(&s->clock, n->start_ms, n->end_ms, now_ms);
    s->provs = calloc(n->n_provinces ? n->n_provinces : 1, sizeof *s->provs);
    ri = calloc(n->n_provinces ? n->n_provinces : 1, sizeof *ri);
    if (!s->provs || !ri) {
        e = CT_ERR_NOMEM;
        goto fail;
    }
    s->n_provs = n->n_provinces;
    for (size_t i = 0; i < n->n_provinces; i++) {
        ct_natstatus_prov *pv = &s->provs[i];
        pv->p = &n->provinces[i];
        pv->seq = in[i].seq;
        memcpy(pv->head, in[i].head, sizeof pv->head);
        snprintf(pv->feed, sizeof pv->feed, "%s", in[i].feed);
        pv->age_ms = in[i].age_ms;
        if (!in[i].counts) continue;
        e = ct_status_compute(&pv->p->campaign, in[i].counts, now_ms, &pv->f);
        if (e) goto fail;
        pv->has = true;
        s->n_included++;
        const ct_status_unit *u = &pv->f.province;
        s->staff += u->staff;
        s->staff_met_both += u->staff_met_both;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            ct_status_prog *t = &s->total[p];
            t->net += u->prog[p].net;
            t->gross += u->prog[p].gross;
            t->cancelled += u->prog[p].cancelled;
            t->repeats += u->prog[p].repeats;
            t->staff_met += u->prog[p].staff_met;
            s->province_target_sum[p] += u->prog[p].target;
        }
    }
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        s->total[p].target = (int64_t)n->target[p];
        ct_status_pace(&s->total[p], &s->clock);
        s->order[p] = calloc(s->n_provs ? s->n_provs : 1, sizeof *s->order[p]);
        if (!s->order[p]) {
            e = CT_ERR_NOMEM;
            goto fail;
        }
        for (size_t i = 0; i < s->n_provs; i++)
            ri[i] = (rank_item){.pv = s->provs, .p = p, .i = i};
        if (s->n_provs > 1) qsort(ri, s->n_provs, sizeof *ri, cmp_rank);
        for (size_t i = 0; i < s->n_provs; i++) {
            s->order[p][i] = ri[i].i;
            if (s->provs[ri[i].i].has) s->provs[ri[i].i].rank[p] = (uint32_t)(i + 1);
        }
    }
    free(ri);
    return CT_OK;
fail:
    free(ri);
    ct_natstatus_free(s);
    return e;
}

ct_err ct_natstatus_pins(const ct_natstatus *s, ct_buf *out)
{
    ct_err e = ct_buf_printf(out, "%lld/", (long long)s->clock.now_ms);
    for (size_t i = 0; !e && i < s->n_provs; i++) {
        const ct_natstatus_prov *pv = &s->provs[i];
        e = ct_buf_printf(out, "%s%u:%" PRIu64 ":%s:%lld", i ? "," : "", pv->p->code, pv->seq,
                          pv->feed, (long long)pv->age_ms);
    }
    return e;
}

/* A signed decimal (optional '-') into *v. */
static bool parse_i64(const char *s, size_t len, int64_t *v)
{
    char t[24];
    bool neg = len && s[0] == '-';
    if (neg) s++, len--;
    if (len == 0 || len >= sizeof t) return false;
    memcpy(t, s, len);
    t[len] = '\0';
    uint64_t u;
    if (!ct_num_parse_u64(t, INT64_MAX, &u)) return false;
    *v = neg ? -(int64_t)u : (int64_t)u;
    return true;
}

ct_err ct_natstatus_pins_parse(const ct_national *n, const char *pins, int64_t *now_ms,
                               ct_natstatus_input *in, char *err, size_t errlen)
{
    const char *slash = strchr(pins, '/');
    if (!slash || !parse_i64(pins, (size_t)(slash - pins), now_ms)) {
        snprintf(err, errlen, "pins: expected <now_ms>/<code>:<seq>:<feed>:<age_ms>,...");
        return CT_ERR_ARG;
    }
    const char *p = slash + 1;
    for (size_t i = 0; i < n->n_provinces; i++) {
        memset(&in[i], 0, sizeof in[i]);
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "pins: province %u missing (pins name every province in order)",
                     n->provinces[i].code);
            return CT_ERR_ARG;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        size_t colons = 0;
        for (size_t k = 0; k < len; k++)
            colons += item[k] == ':';
        char *f[4];
        size_t nf = 0;
        for (char *t = item; nf < 4; nf++) {
            f[nf] = t;
            char *c = strchr(t, ':');
            if (!c) {
                nf++;
                break;
            }
            *c = '\0';
            t = c + 1;
        }
        uint64_t code = 0, seq = 0;
        int64_t age = 0;
        int fi = -1;
        if (nf == 4)
            for (int k = 0; FEEDS[k]; k++)
                if (strcmp(f[2], FEEDS[k]) == 0) fi = k;
        if (nf != 4 || colons != 3 || !ct_num_parse_u64(f[0], 65535, &code) ||
            !ct_num_parse_u64(f[1], UINT64_MAX, &seq) || fi < 0 ||
            !parse_i64(f[3], strlen(f[3]), &age)) {
            snprintf(err, errlen, "pins: bad item '%.100s' (expected code:seq:feed:age_ms)", p);
            return CT_ERR_ARG;
        }
        if (code != n->provinces[i].code) {
            snprintf(err, errlen, "pins: item %zu names province %llu, expected %u", i + 1,
                     (unsigned long long)code, n->provinces[i].code);
            return CT_ERR_ARG;
        }
        in[i].seq = seq;
        snprintf(in[i].feed, sizeof in[i].feed, "%s", FEEDS[fi]);
        in[i].age_ms = age;
        p = end ? end + 1 : p + len;
    }
    if (*p) {
        snprintf(err, errlen, "pins: more items than provinces (%zu)", n->n_provinces);
        return CT_ERR_ARG;
    }
    return CT_OK;
}

ct_err ct_natstatus_format_parse(const char *s, ct_natstatus_format *out)
{
    if (!s) return CT_ERR_ARG;
    if (strcmp(s, "table") == 0)
        *out = CT_NAT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = CT_NAT_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = CT_NAT_CSV;
    else
        return CT_ERR_ARG;
    return CT_OK;
}
