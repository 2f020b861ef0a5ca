/* ct_campaign_load.c — reads a campaign (INI via inih) and its staff roster
 * (CSV via libcsv) into the model of proto/ct_campaign.h, validating
 * everything (see ct_campaign_load.h, docs/PROTOCOL.md §4).
 *
 * How line numbers are known: the INI is fed to inih through our own
 * line reader (ini_parse_stream), which counts lines, recognises section
 * headers itself (so empty sections and their lines are seen) and rejects
 * over-long, indented (continuation) and NUL-containing lines (so no value
 * is ever cut short at a NUL when it becomes a C string); inih calls the
 * key handler synchronously for the line just read. The roster is read by
 * ct_roster_load.c into the same load context.
 *
 * Invariants: the first error wins and is reported as "name:line: message";
 * after it nothing else is parsed. ct_campaign_load_mem() never touches the
 * filesystem. On success *out owns four sorted arrays (districts by code,
 * agents by id, groups by id, reorganizations by name; [reorg NAME] sections
 * are read by ct_reorg_load.c); on failure *out is zeroed and owns nothing.
 */
#include "ct_campaign_load.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_campaign_load_int.h"
#include "ct_ini.h"
#include "ct_num.h"
#include "ct_time.h"

void ct_cload_fail(lctx *c, const char *file, unsigned line, const char *fmt, ...)
{
    if (c->failed) return;
    c->failed = true;
    c->fail_line = line;
    c->err = CT_ERR_CONFIG;
    if (!c->errbuf || c->errlen == 0) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->errbuf, c->errlen, "%s:%u: %s", file, line, msg);
}

void ct_cload_fail_nomem(lctx *c)
{
    if (c->failed) return;
    c->failed = true;
    c->err = CT_ERR_NOMEM;
    if (c->errbuf && c->errlen) snprintf(c->errbuf, c->errlen, "out of memory");
}

int ct_cload_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 1;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p) return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

/* ---------- small validators ---------- */

bool ct_cload_utf8_ok(const char *s, size_t n)
{
    /* valid UTF-8 and no control characters */
    if (!ct_utf8_valid((const uint8_t *)s, n)) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return false;
    }
    return true;
}

bool ct_cload_ident_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* Agent ids: 1..32 printable ASCII characters, no space. */
bool ct_cload_agent_id_ok(const char *s, size_t n)
{
    if (n < 1 || n > CT_AGENT_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return false;
    return true;
}

/* ---------- INI: sections (seen by our reader) ---------- */

xdistrict *ct_cload_district(lctx *c, uint32_t code)
{
    for (size_t i = 0; i < c->n_districts; i++)
        if (c->districts[i].d.code == code) return &c->districts[i];
    return NULL;
}

static void begin_section(lctx *c, const char *hdr)
{
    const char *name = c->ini_name;
    unsigned line = c->src.line;
    char kind[32];
    const char *sp = hdr;
    while (*sp && *sp != ' ' && *sp != '\t')
        sp++;
    size_t kl = (size_t)(sp - hdr);
    const char *arg = sp;
    while (*arg == ' ' || *arg == '\t')
        arg++;
    if (kl == 0 || kl >= sizeof kind) {
        ct_cload_fail(c, name, line, "unknown section [%s]", hdr);
        return;
    }
    memcpy(kind, hdr, kl);
    kind[kl] = '\0';
    if (strcmp(kind, "campaign") == 0) {
        if (*arg) {
            ct_cload_fail(c, name, line, "section [campaign] takes no argument");
        } else if (c->campaign_line) {
            ct_cload_fail(c, name, line, "duplicate section [campaign] (first at line %u)",
                          c->campaign_line);
        } else {
            c->campaign_line = line;
            c->sec = SEC_CAMPAIGN;
        }
    } else if (strcmp(kind, "program") == 0) {
        ct_program p;
        if (!*arg) {
            ct_cload_fail(c, name, line,
                          "section [program] needs a program id, e.g. [program bhxh_tn]");
        } else if (ct_program_parse(arg, &p) != CT_OK) {
            ct_cload_fail(c, name, line, "unknown program '%s' (expected bhxh_tn or bhyt_hgd)",
                          arg);
        } else if (c->prog_line[p]) {
            ct_cload_fail(c, name, line, "duplicate section [program %s] (first at line %u)", arg,
                          c->prog_line[p]);
        } else {
            c->prog_line[p] = line;
            c->sec = SEC_PROGRAM;
            c->sec_idx = (size_t)p;
        }
    } else if (strcmp(kind, "district") == 0) {
        uint64_t code;
        if (!*arg) {
            ct_cload_fail(c, name, line, "section [district] needs a code, e.g. [district 672]");
        } else if (!ct_num_parse_u64(arg, 65535, &code) || code == 0) {
            ct_cload_fail(c, name, line, "bad district code '%s' (expected a number 1..65535)",
                          arg);
        } else if (ct_cload_district(c, (uint32_t)code)) {
            ct_cload_fail(c, name, line, "duplicate district %s (first at line %u)", arg,
                          ct_cload_district(c, (uint32_t)code)->line);
        } else if (c->n_districts >= CT_MAX_DISTRICTS) {
            ct_cload_fail(c, name, line, "too many districts (max %d)", CT_MAX_DISTRICTS);
        } else if (!ct_cload_grow((void **)&c->districts, &c->cap_districts, c->n_districts,
                                  sizeof *c->districts)) {
            ct_cload_fail_nomem(c);
        } else {
            xdistrict *x = &c->districts[c->n_districts++];
            memset(x, 0, sizeof *x);
            x->d.code = (uint32_t)code;
            x->line = line;
            c->sec = SEC_DISTRICT;
            c->sec_idx = c->n_districts - 1;
        }
    } else if (strcmp(kind, "group") == 0) {
        if (!*arg) {
            ct_cload_fail(c, name, line, "section [group] needs an id, e.g. [group nq143]");
            return;
        }
        if (!ct_cload_ident_ok(arg, CT_GROUP_MAX)) {
            ct_cload_fail(c, name, line,
                          "bad group id '%s' (1..%d characters of A-Z a-z 0-9 _ - .)", arg,
                          CT_GROUP_MAX);
            return;
        }
        for (size_t i = 0; i < c->n_groups; i++) {
            if (strcmp(c->groups[i].g.id, arg) == 0) {
                ct_cload_fail(c, name, line, "duplicate group %s (first at line %u)", arg,
                              c->groups[i].line);
                return;
            }
        }
        if (c->n_groups >= CT_MAX_GROUPS) {
            ct_cload_fail(c, name, line, "too many groups (max %d)", CT_MAX_GROUPS);
        } else if (!ct_cload_grow((void **)&c->groups, &c->cap_groups, c->n_groups,
                                  sizeof *c->groups)) {
            ct_cload_fail_nomem(c);
        } else {
            xgroup *x = &c->groups[c->n_groups++];
            memset(x, 0, sizeof *x);
            strcpy(x->g.id, arg);
            x->line = line;
            c->sec = SEC_GROUP;
            c->sec_idx = c->n_groups - 1;
        }
    } else if (strcmp(kind, "reorg") == 0) {
        ct_cload_reorg_begin(c, arg);
    } else {
        ct_cload_fail(c, name, line,
                      "unknown section [%s] (expected campaign, program, district, group or reorg)",
                      hdr);
    }
}

/* inih's line reader over memory. Returns one line (with '\n') or NULL at
 * the end or after the first error. Section headers are handled here. */
static char *line_reader(char *str, int num, void *stream)
{
    lctx *c = stream;
    if (c->failed || num < 4) return NULL;
    const char *s;
    size_t len;
    char msg[64];
    ct_ini_result r = ct_ini_next_line(&c->src, (size_t)num - 3, &s, &len, msg, sizeof msg);
    if (r == CT_INI_END) return NULL;
    strcpy(str, "\n");
    if (r == CT_INI_BAD) {
        ct_cload_fail(c, c->ini_name, c->src.line, "%s", msg);
        return str;
    }
    /* trim trailing whitespace; blank lines pass as "\n" */
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0) return str;
    if (s[0] == ' ' || s[0] == '\t') {
        ct_cload_fail(
            c, c->ini_name, c->src.line,
            "indented line (continuation lines are not supported; remove the leading spaces)");
        return str;
    }
    if (s[0] == ';' || s[0] == '#') return str;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            ct_cload_fail(c, c->ini_name, c->src.line, "section header without closing ']'");
            return str;
        }
        const char *rest = close + 1;
        while (rest < s + len && (*rest == ' ' || *rest == '\t'))
            rest++;
        if (rest < s + len && *rest != ';' && *rest != '#') {
            ct_cload_fail(c, c->ini_name, c->src.line, "text after section header");
            return str;
        }
        char hdr[CT_VALUE_MAX];
        const char *h = s + 1;
        size_t hl = (size_t)(close - h);
        while (hl && (*h == ' ' || *h == '\t'))
            h++, hl--;
        while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
            hl--;
        if (hl >= sizeof hdr) hl = sizeof hdr - 1;
        memcpy(hdr, h, hl);
        hdr[hl] = '\0';
        if (!ct_cload_utf8_ok(hdr, hl)) {
            ct_cload_fail(c, c->ini_name, c->src.line, "section header is not valid UTF-8 text");
            return str;
        }
        begin_section(c, hdr);
        return str; /* inih sees a blank line; the section state is ours */
    }
    if (!memchr(s, '=', len) && !memchr(s, ':', len)) {
        ct_cload_fail(c, c->ini_name, c->src.line,
                      "syntax error (expected 'key = value' or '[section]')");
        return str;
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static const char *sec_label(lctx *c, char *buf, size_t n)
{
    switch (c->sec) {
    case SEC_CAMPAIGN:
        snprintf(buf, n, "[campaign]");
        break;
    case SEC_PROGRAM:
        snprintf(buf, n, "[program %s]", ct_program_name((ct_program)c->sec_idx));
        break;
    case SEC_DISTRICT:
        snprintf(buf, n, "[district %u]", c->districts[c->sec_idx].d.code);
        break;
    case SEC_GROUP:
        snprintf(buf, n, "[group %s]", c->groups[c->sec_idx].g.id);
        break;
    case SEC_REORG:
        snprintf(buf, n, "[reorg %s]", c->reorgs[c->sec_idx].r.name);
        break;
    default:
        snprintf(buf, n, "(no section)");
    }
    return buf;
}

bool ct_cload_take_text(lctx *c, const char *key, const char *value, char *dst, size_t cap)
{
    size_t n = strlen(value);
    if (n == 0) {
        ct_cload_fail(c, c->ini_name, c->src.line, "'%s' is empty", key);
        return false;
    }
    if (n >= cap) {
        ct_cload_fail(c, c->ini_name, c->src.line, "'%s' is too long (max %zu bytes)", key,
                      cap - 1);
        return false;
    }
    if (!ct_cload_utf8_ok(value, n)) {
        ct_cload_fail(c, c->ini_name, c->src.line, "'%s' is not valid UTF-8 text", key);
        return false;
    }
    memcpy(dst, value, n + 1);
    return true;
}

/* One `commune = NAME` line of a [district N] section (repeatable). */
static int take_commune(lctx *c, xdistrict *x, const char *value)
{
    char v[CT_COMMUNE_MAX + 1], lbl[40];
    if (!ct_cload_take_text(c, "commune", value, v, sizeof v)) return 0;
    for (size_t i = 0; i < x->d.n_communes; i++) {
        if (strcmp(x->d.communes[i], v) == 0) {
            ct_cload_fail(c, c->ini_name, c->src.line, "commune '%s' given twice in %s", v,
                          sec_label(c, lbl, sizeof lbl));
            return 0;
        }
    }
    if (x->d.n_communes >= CT_COMMUNES_MAX) {
        ct_cload_fail(c, c->ini_name, c->src.line, "too many communes in %s (max %d)",
                      sec_label(c, lbl, sizeof lbl), CT_COMMUNES_MAX);
        return 0;
    }
    if (!ct_cload_grow((void **)&x->d.communes, &x->cap_communes, x->d.n_communes,
                       sizeof *x->d.communes)) {
        ct_cload_fail_nomem(c);
        return 0;
    }
    memcpy(x->d.communes[x->d.n_communes++], v, sizeof v);
    return 1;
}

static int key_handler(void *user, const char *section, const char *key, const char *value)
{
    lctx *c = user;
    (void)section;
    if (!key) return 1; /* new-section callback, if inih was built with it */
    if (c->failed) return 0;
    const char *name = c->ini_name;
    unsigned line = c->src.line;
    char lbl[64];
    switch (c->sec) {
    case SEC_NONE:
        ct_cload_fail(c, name, line, "key '%s' outside of any section", key);
        return 0;
    case SEC_CAMPAIGN:
        for (int i = 0; i < CK_N; i++) {
            ckey *k = &c->ck[i];
            if (strcmp(k->name, key) != 0) continue;
            if (k->line) {
                ct_cload_fail(c, name, line, "duplicate key '%s' in [campaign] (first at line %u)",
                              key, k->line);
                return 0;
            }
            if (!ct_cload_take_text(c, key, value, k->value, sizeof k->value)) return 0;
            k->line = line;
            return 1;
        }
        break;
    case SEC_PROGRAM: {
        size_t p = c->sec_idx;
        if (strcmp(key, "agent_target") != 0) break;
        uint64_t v;
        if (c->agent_target_line[p]) {
            ct_cload_fail(c, name, line, "duplicate key 'agent_target' in %s (first at line %u)",
                          sec_label(c, lbl, sizeof lbl), c->agent_target_line[p]);
            return 0;
        }
        if (!ct_num_parse_u64(value, CT_MAX_AGENT_TARGET, &v)) {
            ct_cload_fail(c, name, line, "bad agent_target '%s' (expected a number 0..%d)", value,
                          CT_MAX_AGENT_TARGET);
            return 0;
        }
        c->agent_target[p] = (uint32_t)v;
        c->agent_target_line[p] = line;
        return 1;
    }
    case SEC_DISTRICT: {
        xdistrict *x = &c->districts[c->sec_idx];
        if (strcmp(key, "name") == 0) {
            if (x->name_line) {
                ct_cload_fail(c, name, line, "duplicate key 'name' in %s (first at line %u)",
                              sec_label(c, lbl, sizeof lbl), x->name_line);
                return 0;
            }
            if (!ct_cload_take_text(c, key, value, x->d.name, sizeof x->d.name)) return 0;
            x->name_line = line;
            return 1;
        }
        if (strncmp(key, "target.", 7) == 0) {
            ct_program p;
            if (ct_program_parse(key + 7, &p) != CT_OK) {
                ct_cload_fail(c, name, line, "unknown program '%s' in key '%s'", key + 7, key);
                return 0;
            }
            if (x->target_line[p]) {
                ct_cload_fail(c, name, line, "duplicate key '%s' in %s (first at line %u)", key,
                              sec_label(c, lbl, sizeof lbl), x->target_line[p]);
                return 0;
            }
            uint64_t v;
            if (!ct_num_parse_u64(value, CT_MAX_DISTRICT_TARGET, &v)) {
                ct_cload_fail(c, name, line, "bad %s '%s' (expected a number 0..%u)", key, value,
                              CT_MAX_DISTRICT_TARGET);
                return 0;
            }
            x->d.target[p] = (uint32_t)v;
            x->target_line[p] = line;
            return 1;
        }
        if (strcmp(key, "commune") == 0) return take_commune(c, x, value);
        break;
    }
    case SEC_GROUP: {
        xgroup *x = &c->groups[c->sec_idx];
        if (strcmp(key, "name") != 0) break;
        if (x->name_line) {
            ct_cload_fail(c, name, line, "duplicate key 'name' in %s (first at line %u)",
                          sec_label(c, lbl, sizeof lbl), x->name_line);
            return 0;
        }
        if (!ct_cload_take_text(c, key, value, x->g.name, sizeof x->g.name)) return 0;
        x->name_line = line;
        return 1;
    }
    case SEC_REORG:
        return ct_cload_reorg_key(c, key, value);
    }
    ct_cload_fail(c, name, line, "unknown key '%s' in %s", key, sec_label(c, lbl, sizeof lbl));
    return 0;
}

static void ctx_init(lctx *c, char *errbuf, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->errbuf = errbuf;
    c->errlen = errlen;
    c->err = CT_OK;
    static const char *const names[CK_N] = {"id",       "name",      "start",      "end",
                                            "timezone", "tolerance", "max_future", "roster"};
    for (int i = 0; i < CK_N; i++)
        c->ck[i].name = names[i];
    if (errbuf && errlen) errbuf[0] = '\0';
}

static void ctx_free(lctx *c)
{
    for (size_t i = 0; c->districts && i < c->n_districts; i++)
        free(c->districts[i].d.communes);
    free(c->districts);
    free(c->groups);
    free(c->agents);
    ct_cload_reorgs_free(c);
    c->districts = NULL;
    c->groups = NULL;
    c->agents = NULL;
}

/* Parses the INI bytes into c (no cross-checks yet). */
static void phase_ini(lctx *c, const char *name, const char *ini, size_t len)
{
    c->ini_name = name;
    if (len > CT_INI_MAX_BYTES) {
        ct_cload_fail(c, name, 1, "campaign file too large (max %u bytes)", CT_INI_MAX_BYTES);
        return;
    }
    c->src.p = ini;
    c->src.end = ini + len;
    c->src.line = 0;
    int r = ini_parse_stream(line_reader, c, key_handler, c);
    if (r == -2) {
        ct_cload_fail_nomem(c);
    } else if (r > 0 && (!c->failed || (unsigned)r < c->fail_line)) {
        /* a line inih could not parse, before any error of ours */
        c->failed = false;
        ct_cload_fail(c, name, (unsigned)r, "syntax error (expected 'key = value' or '[section]')");
    } else if (r < 0 && !c->failed) {
        ct_cload_fail(c, name, 1, "cannot parse campaign file");
    }
}

/* Cross-checks of the INI: required keys and sections, times. */
static void check_ini(lctx *c, ct_campaign *cp)
{
    const char *name = c->ini_name;
    unsigned eof = c->src.line ? c->src.line : 1;
    if (c->failed) return;
    if (!c->campaign_line) {
        ct_cload_fail(c, name, eof, "missing [campaign] section");
        return;
    }
    static const int required[] = {CK_ID, CK_START, CK_END, CK_TIMEZONE, CK_ROSTER};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!c->ck[required[i]].line) {
            ct_cload_fail(c, name, c->campaign_line, "[campaign] has no '%s' key",
                          c->ck[required[i]].name);
            return;
        }
    }
    ckey *k = &c->ck[CK_ID];
    if (!ct_cload_ident_ok(k->value, CT_CAMPAIGN_ID_MAX)) {
        ct_cload_fail(c, name, k->line,
                      "bad campaign id '%s' (1..%d characters of A-Z a-z 0-9 _ - .)", k->value,
                      CT_CAMPAIGN_ID_MAX);
        return;
    }
    strcpy(cp->id, k->value);
    k = &c->ck[CK_NAME];
    if (k->line) {
        if (strlen(k->value) > CT_NAME_MAX) {
            ct_cload_fail(c, name, k->line, "'name' is too long (max %d bytes)", CT_NAME_MAX);
            return;
        }
        strcpy(cp->name, k->value);
    } else {
        strcpy(cp->name, cp->id);
    }
    k = &c->ck[CK_TIMEZONE];
    if (ct_tz_parse(k->value, &cp->tz_offset_min) != CT_OK) {
        ct_cload_fail(c, name, k->line, "bad timezone '%s' (expected +HH:MM, -HH:MM or Z)",
                      k->value);
        return;
    }
    k = &c->ck[CK_START];
    if (ct_time_parse(k->value, cp->tz_offset_min, &cp->start_ms) != CT_OK) {
        ct_cload_fail(c, name, k->line,
                      "bad start time '%s' (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM])", k->value);
        return;
    }
    k = &c->ck[CK_END];
    if (ct_time_parse(k->value, cp->tz_offset_min, &cp->end_ms) != CT_OK) {
        ct_cload_fail(c, name, k->line,
                      "bad end time '%s' (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM])", k->value);
        return;
    }
    if (cp->end_ms <= cp->start_ms) {
        ct_cload_fail(c, name, k->line, "end (%s) must be after start (%s)", c->ck[CK_END].value,
                      c->ck[CK_START].value);
        return;
    }
    uint64_t v;
    cp->tolerance_ms = 600 * 1000;
    k = &c->ck[CK_TOLERANCE];
    if (k->line) {
        if (!ct_num_parse_u64(k->value, CT_MAX_TOLERANCE_S, &v)) {
            ct_cload_fail(c, name, k->line, "bad tolerance '%s' (expected seconds, 0..%d)",
                          k->value, CT_MAX_TOLERANCE_S);
            return;
        }
        cp->tolerance_ms = (int64_t)v * 1000;
    }
    cp->max_future_ms = 300 * 1000;
    k = &c->ck[CK_MAX_FUTURE];
    if (k->line) {
        if (!ct_num_parse_u64(k->value, CT_MAX_TOLERANCE_S, &v)) {
            ct_cload_fail(c, name, k->line, "bad max_future '%s' (expected seconds, 0..%d)",
                          k->value, CT_MAX_TOLERANCE_S);
            return;
        }
        cp->max_future_ms = (int64_t)v * 1000;
    }
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        if (!c->prog_line[p]) {
            ct_cload_fail(c, name, eof, "missing [program %s] section",
                          ct_program_name((ct_program)p));
            return;
        }
        if (!c->agent_target_line[p]) {
            ct_cload_fail(c, name, c->prog_line[p], "[program %s] has no 'agent_target' key",
                          ct_program_name((ct_program)p));
            return;
        }
        cp->agent_target[p] = c->agent_target[p];
    }
    if (c->n_districts == 0) {
        ct_cload_fail(c, name, eof, "no [district N] section");
        return;
    }
    for (size_t i = 0; i < c->n_districts; i++) {
        if (!c->districts[i].name_line) {
            ct_cload_fail(c, name, c->districts[i].line, "[district %u] has no 'name' key",
                          c->districts[i].d.code);
            return;
        }
    }
    for (size_t i = 0; i < c->n_groups; i++)
        if (!c->groups[i].name_line) strcpy(c->groups[i].g.name, c->groups[i].g.id);
}

static int cmp_agent(const void *a, const void *b)
{
    const ct_agent *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    if (r) return r;
    return (x->roster_line > y->roster_line) - (x->roster_line < y->roster_line);
}

static int cmp_commune(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int cmp_district(const void *a, const void *b)
{
    const ct_district *x = a, *y = b;
    return (x->code > y->code) - (x->code < y->code);
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const ct_group *)a)->id, ((const ct_group *)b)->id);
}

/* Duplicates, held-back row error, empty roster, targets, output. */
static void finish(lctx *c, ct_campaign *cp, const char *ini, size_t ini_len, const char *roster,
                   size_t roster_len)
{
    if (c->failed) return;
    const char *rname = c->roster_name;
    /* duplicates among the rows read so far; report the earliest second occurrence */
    if (c->n_agents) qsort(c->agents, c->n_agents, sizeof *c->agents, cmp_agent);
    size_t dup = SIZE_MAX, first = 0;
    for (size_t i = 1, g = 0; i < c->n_agents; i++) {
        if (strcmp(c->agents[i].id, c->agents[g].id) != 0) {
            g = i;
            continue;
        }
        if (dup == SIZE_MAX || c->agents[i].roster_line < c->agents[dup].roster_line) {
            dup = i;
            first = g;
        }
    }
    if (dup != SIZE_MAX) {
        ct_cload_fail(c, rname, c->agents[dup].roster_line,
                      "duplicate agent id '%s' (first at line %u)", c->agents[dup].id,
                      c->agents[first].roster_line);
        return;
    }
    if (c->row_failed) {
        ct_cload_fail(c, rname, c->row_err_line, "%s", c->row_err);
        return;
    }
    if (!c->header_seen) {
        ct_cload_fail(c, rname, 1,
                      "empty roster (the header agent_id,name,district,org is required)");
        return;
    }
    if (c->n_agents == 0) {
        ct_cload_fail(c, rname, c->rline, "the roster lists no staff");
        return;
    }
    /* per-district staff and targets; a unit that exists only after a
     * reorganization is not part of the province's original target */
    for (size_t i = 0; i < c->n_agents; i++)
        ct_cload_district(c, c->agents[i].district)->d.n_agents++;
    ct_cload_reorgs_check(c);
    if (c->failed) return;
    uint64_t prov[CT_PROGRAM_COUNT] = {0};
    for (size_t i = 0; i < c->n_districts; i++) {
        ct_district *d = &c->districts[i].d;
        bool fresh = ct_cload_unit_is_new(c, d->code);
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            if (!c->districts[i].target_line[p])
                d->target[p] = cp->agent_target[p] * d->n_agents; /* <= 1e4 * 1e5 */
            if (!fresh) prov[p] += d->target[p];
        }
    }
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        if (prov[p] > UINT32_MAX) {
            ct_cload_fail(c, c->ini_name, c->src.line ? c->src.line : 1,
                          "province target of %s exceeds %u", ct_program_name((ct_program)p),
                          (unsigned)UINT32_MAX);
            return;
        }
        cp->province_target[p] = (uint32_t)prov[p];
    }
    /* output arrays */
    cp->districts = calloc(c->n_districts, sizeof *cp->districts);
    cp->groups = calloc(c->n_groups ? c->n_groups : 1, sizeof *cp->groups);
    if (!cp->districts || !cp->groups) {
        ct_cload_fail_nomem(c);
        return;
    }
    for (size_t i = 0; i < c->n_districts; i++) {
        ct_district *d = &c->districts[i].d;
        if (d->n_communes) qsort(d->communes, d->n_communes, sizeof *d->communes, cmp_commune);
        cp->districts[i] = *d;
        d->communes = NULL; /* cp owns them now */
        d->n_communes = 0;
    }
    cp->n_districts = c->n_districts;
    qsort(cp->districts, cp->n_districts, sizeof *cp->districts, cmp_district);
    for (size_t i = 0; i < c->n_groups; i++)
        cp->groups[i] = c->groups[i].g;
    cp->n_groups = c->n_groups;
    if (cp->n_groups) qsort(cp->groups, cp->n_groups, sizeof *cp->groups, cmp_group);
    ct_cload_reorgs_output(c, cp);
    if (c->failed) return;
    cp->agents = c->agents; /* already sorted by id */
    cp->n_agents = c->n_agents;
    c->agents = NULL;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof cp->fingerprint);
    crypto_generichash_update(&st, (const unsigned char *)ini, ini_len);
    crypto_generichash_update(&st, (const unsigned char *)roster, roster_len);
    crypto_generichash_final(&st, cp->fingerprint, sizeof cp->fingerprint);
}

static ct_err conclude(lctx *c, ct_campaign *out)
{
    ct_err e = c->failed ? c->err : CT_OK;
    if (e != CT_OK) ct_campaign_free(out);
    ctx_free(c);
    return e;
}

ct_err ct_campaign_load_mem(const char *name, const char *ini, size_t ini_len,
                            const char *roster_name, const char *roster, size_t roster_len,
                            ct_campaign *out, char *errbuf, size_t errlen)
{
    if (!out) return CT_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!name || !roster_name || (!ini && ini_len) || (!roster && roster_len)) return CT_ERR_ARG;
    if (!ini) ini = "";
    if (!roster) roster = "";
    lctx c;
    ctx_init(&c, errbuf, errlen);
    phase_ini(&c, name, ini, ini_len);
    check_ini(&c, out);
    ct_cload_roster(&c, roster_name, roster, roster_len);
    finish(&c, out, ini, ini_len, roster, roster_len);
    return conclude(&c, out);
}

/* Reads a whole file (at most max bytes). */
static ct_err read_all(const char *path, size_t max, char **data, size_t *len, int *err_no)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err_no = errno;
        return CT_ERR_IO;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ct_err e = buf ? CT_OK : CT_ERR_NOMEM;
    while (e == CT_OK) {
        if (n == cap) {
            if (cap > max) {
                *err_no = EFBIG;
                e = CT_ERR_IO;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                e = CT_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                *err_no = errno ? errno : EIO;
                e = CT_ERR_IO;
            }
            break;
        }
    }
    fclose(f);
    if (e != CT_OK) {
        free(buf);
        return e;
    }
    *data = buf;
    *len = n;
    return CT_OK;
}

ct_err ct_campaign_load(const char *path, ct_campaign *out, char *errbuf, size_t errlen)
{
    if (!out) return CT_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!path) return CT_ERR_ARG;
    char *ini = NULL, *roster = NULL;
    size_t ini_len = 0, roster_len = 0;
    int en = 0;
    ct_err e = read_all(path, CT_INI_MAX_BYTES, &ini, &ini_len, &en);
    if (e != CT_OK) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: cannot read campaign file: %s", path,
                     e == CT_ERR_NOMEM ? "out of memory" : strerror(en));
        return e;
    }
    lctx c;
    ctx_init(&c, errbuf, errlen);
    phase_ini(&c, path, ini, ini_len);
    check_ini(&c, out);
    char *rpath = NULL;
    if (!c.failed) {
        const ckey *k = &c.ck[CK_ROSTER];
        const char *slash = strrchr(path, '/');
        size_t dl = (k->value[0] == '/' || !slash) ? 0 : (size_t)(slash - path) + 1;
        rpath = malloc(dl + strlen(k->value) + 1);
        if (!rpath) {
            ct_cload_fail_nomem(&c);
        } else {
            memcpy(rpath, path, dl);
            strcpy(rpath + dl, k->value);
            ct_err re = read_all(rpath, CT_ROSTER_MAX_BYTES, &roster, &roster_len, &en);
            if (re == CT_ERR_NOMEM) {
                ct_cload_fail_nomem(&c);
            } else if (re != CT_OK) {
                ct_cload_fail(&c, path, k->line, "cannot read roster '%s': %s", rpath,
                              strerror(en));
                c.err = CT_ERR_IO;
            }
        }
    }
    if (!c.failed) {
        ct_cload_roster(&c, rpath, roster, roster_len);
        finish(&c, out, ini, ini_len, roster, roster_len);
    }
    e = conclude(&c, out);
    free(rpath);
    free(ini);
    free(roster);
    return e;
}
