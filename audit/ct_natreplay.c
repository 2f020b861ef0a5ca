/* ct_natreplay.c — see ct_natreplay.h. One replay per province that the
 * pins give figures, all held until the report is rendered, then released
 * on the one cleanup path.
 */
#include "ct_natreplay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_audit.h"
#include "ct_num.h"
#include "ct_replay.h"

static bool needs_counts(const char *feed)
{
    return strcmp(feed, "live") == 0 || strcmp(feed, "lagging") == 0 || strcmp(feed, "stale") == 0;
}

/* The path given for code in "CODE=PATH,..." into path; false if none. */
static bool find_source(const char *sources, uint32_t code, char *path, size_t cap)
{
    const char *p = sources;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            char c[16];
            size_t cl = (size_t)(eq - p);
            uint64_t v;
            if (cl < sizeof c) {
                memcpy(c, p, cl);
                c[cl] = '\0';
                size_t pl = len - cl - 1;
                if (ct_num_parse_u64(c, 65535, &v) && v == code && pl < cap) {
                    memcpy(path, eq + 1, pl);
                    path[pl] = '\0';
                    return true;
                }
            }
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

ct_err ct_audit_national_replay(const ct_national *n, const ct_natreplay_opts *o, ct_buf *out,
                                char *err, size_t errlen)
{
    size_t np = n->n_provinces;
    ct_natstatus_input *in = calloc(np ? np : 1, sizeof *in);
    ct_audit *a = calloc(np ? np : 1, sizeof *a);
    ct_audit_src *src = calloc(np ? np : 1, sizeof *src);
    bool *opened = calloc(np ? np : 1, sizeof *opened);
    int64_t now_ms = 0;
    ct_err e = in && a && src && opened ? CT_OK : CT_ERR_NOMEM;
    if (!e && ct_natstatus_pins_parse(n, o->pins, &now_ms, in, err, errlen)) e = CT_ERR_USAGE;
    for (size_t i = 0; !e && i < np; i++) {
        const ct_nat_province *p = &n->provinces[i];
        if (!needs_counts(in[i].feed)) continue;
        char path[CT_NAT_PATH_MAX], msg[1024] = "";
        if (!find_source(o->sources, p->code, path, sizeof path)) {
            snprintf(err, errlen, "no source for province %u (--sources CODE=DIR|F.ctlog,...)",
                     p->code);
            e = CT_ERR_USAGE;
            break;
        }
        size_t pl = strlen(path);
        bool file = pl > 6 && strcmp(path + pl - 6, ".ctlog") == 0;
        e = ct_audit_src_open(&src[i], &p->campaign, file ? NULL : path, file ? path : NULL, msg,
                              sizeof msg);
        if (e) {
            snprintf(err, errlen, "province %u: %s", p->code, msg);
            break;
        }
        opened[i] = true;
        ct_audit_opts ao = {.campaign = &p->campaign,
                            .threads = o->threads,
                            .progress = o->quiet ? NULL : "national-replay"};
        e = ct_audit_replay(&a[i], &src[i], &ao, false, in[i].seq, 0, msg, sizeof msg);
        ct_audit_result r;
        ct_audit_result_get(&a[i], &r);
        if (!e && r.diverged) {
            snprintf(err, errlen, "province %u: FAIL %s", p->code, r.finding);
            e = CT_ERR_STORE_CORRUPT;
        } else if (e) {
            snprintf(err, errlen, "province %u: %s", p->code, msg);
        } else {
            in[i].counts = r.counts;
            memcpy(in[i].head, r.head, sizeof in[i].head);
        }
    }
    ct_natstatus s;
    if (!e) e = ct_natstatus_compute(n, in, now_ms, &s);
    if (!e) {
        e = ct_natstatus_render(n, &s, o->fmt, 0, out);
        ct_natstatus_free(&s);
        if (e) snprintf(err, errlen, "rendering the report failed: %s", ct_err_str(e));
    }
    for (size_t i = 0; opened && i < np; i++) {
        if (!opened[i]) continue;
        ct_audit_free(&a[i]);
        ct_audit_src_close(&src[i]);
    }
    free(in);
    free(a);
    free(src);
    free(opened);
    return e;
}
