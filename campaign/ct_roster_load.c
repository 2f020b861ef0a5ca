/* ct_roster_load.c — the staff roster of a campaign: a CSV file
 * (agent_id,name,district,org) read with libcsv one physical line at a time,
 * so every callback knows its line; a line holding a NUL byte is refused
 * before libcsv sees it. Each row is validated against the districts the INI
 * declared (see ct_campaign_load_int.h, docs/PROTOCOL.md §4).
 */
#include <assert.h>
#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ct_campaign_load_int.h"
#include "ct_num.h"

static void row_fail(lctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_fail(lctx *c, const char *fmt, ...)
{
    if (c->row_failed) return;
    c->row_failed = true;
    c->row_err_line = c->rec_line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->row_err, sizeof c->row_err, fmt, ap);
    va_end(ap);
}

static void csv_field_cb(void *s, size_t len, void *data)
{
    lctx *c = data;
    assert(len == 0 || memchr(s, '\0', len) == NULL); /* lines holding NUL never reach libcsv */
    if (c->failed || c->row_failed) return;
    if (c->nfields == 0) c->rec_line = c->rline;
    if (c->nfields < 4) {
        size_t n = len < CT_VALUE_MAX - 1 ? len : CT_VALUE_MAX - 1;
        if (n) memcpy(c->field[c->nfields], s, n);
        c->field[c->nfields][n] = '\0';
        c->field_len[c->nfields] = len;
    }
    c->nfields++;
}

static void roster_row(lctx *c)
{
    const char *id = c->field[0], *nm = c->field[1], *dist = c->field[2], *org = c->field[3];
    if (c->nfields != 4) {
        row_fail(c, "expected 4 fields (agent_id,name,district,org), got %zu", c->nfields);
        return;
    }
    if (c->field_len[0] > CT_AGENT_ID_MAX) {
        row_fail(c, "agent id is longer than %d characters", CT_AGENT_ID_MAX);
        return;
    }
    if (!ct_cload_agent_id_ok(id, c->field_len[0]) || strlen(id) != c->field_len[0]) {
        row_fail(c, "bad agent id '%s' (1..%d printable ASCII characters, no spaces)", id,
                 CT_AGENT_ID_MAX);
        return;
    }
    if (c->field_len[1] == 0) {
        row_fail(c, "agent '%s': empty name", id);
        return;
    }
    if (c->field_len[1] > CT_NAME_MAX) {
        row_fail(c, "agent '%s': name is longer than %d bytes", id, CT_NAME_MAX);
        return;
    }
    if (!ct_cload_utf8_ok(nm, c->field_len[1])) {
        row_fail(c, "agent '%s': name is not valid UTF-8 text", id);
        return;
    }
    uint64_t code;
    if (!ct_num_parse_u64(dist, 65535, &code) || code == 0 || strlen(dist) != c->field_len[2]) {
        row_fail(c, "agent '%s': bad district '%s' (expected a district code)", id, dist);
        return;
    }
    if (!ct_cload_district(c, (uint32_t)code)) {
        row_fail(c, "agent '%s': district %u is not declared in %s", id, (unsigned)code,
                 c->ini_name);
        return;
    }
    ct_org o;
    if (strcmp(org, "bhxh") == 0 && c->field_len[3] == 4) {
        o = CT_ORG_BHXH;
    } else if (strcmp(org, "buudien") == 0 && c->field_len[3] == 7) {
        o = CT_ORG_BUUDIEN;
    } else {
        row_fail(c, "agent '%s': bad org '%s' (expected bhxh or buudien)", id, org);
        return;
    }
    if (c->n_agents >= CT_MAX_AGENTS) {
        row_fail(c, "too many staff (max %d)", CT_MAX_AGENTS);
        return;
    }
    if (!ct_cload_grow((void **)&c->agents, &c->cap_agents, c->n_agents, sizeof *c->agents)) {
        ct_cload_fail_nomem(c);
        return;
    }
    ct_agent *a = &c->agents[c->n_agents++];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, c->field_len[0]);
    memcpy(a->name, nm, c->field_len[1]);
    a->district = (uint32_t)code;
    a->org = o;
    a->roster_line = c->rec_line;
}

static void csv_record_cb(int term, void *data)
{
    lctx *c = data;
    (void)term;
    if (c->failed || c->row_failed) return;
    if (c->nfields == 0) return;
    if (!c->header_seen) {
        static const char *const hdr[4] = {"agent_id", "name", "district", "org"};
        bool ok = c->nfields == 4;
        for (size_t i = 0; ok && i < 4; i++)
            ok = strcmp(c->field[i], hdr[i]) == 0;
        if (!ok) row_fail(c, "the first line must be the header agent_id,name,district,org");
        c->header_seen = true;
    } else {
        roster_row(c);
    }
    c->nfields = 0;
}

void ct_cload_roster(lctx *c, const char *rname, const char *roster, size_t len)
{
    if (c->failed) return;
    c->roster_name = rname;
    if (len > CT_ROSTER_MAX_BYTES) {
        ct_cload_fail(c, rname, 1, "roster too large (max %u bytes)", CT_ROSTER_MAX_BYTES);
        return;
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        ct_cload_fail_nomem(c);
        return;
    }
    const char *s = roster, *end = roster + len;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
    c->rline = 0;
    while (s < end && !c->failed && !c->row_failed) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *lend = nl ? nl + 1 : end;
        c->rline++;
        size_t n = (size_t)(lend - s);
        if (memchr(s, '\0', n)) {
            ct_cload_fail(c, rname, c->rline, "NUL byte in line");
            break;
        }
        if (csv_parse(&p, s, n, csv_field_cb, csv_record_cb, c) != n) {
            if (csv_error(&p) == CSV_ENOMEM)
                ct_cload_fail_nomem(c);
            else
                ct_cload_fail(c, rname, c->rline, "malformed CSV (%s)",
                              csv_strerror(csv_error(&p)));
            break;
        }
        s = lend;
    }
    if (!c->failed && !c->row_failed) {
        if (c->rline == 0) c->rline = 1;
        if (csv_fini(&p, csv_field_cb, csv_record_cb, c) != 0)
            ct_cload_fail(c, rname, c->rline,
                          "malformed CSV (unterminated quoted field at end of file)");
    }
    csv_free(&p);
}
