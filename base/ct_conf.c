/* ct_conf.c — configuration file and environment sources of the options
 * (see ct_conf.h for the rules).
 *
 * How line numbers are known: the file is fed to inih through our own line
 * reader (ini_parse_stream), which counts lines, handles section headers,
 * comments and the BOM itself and refuses NUL bytes, indented lines and
 * over-long lines; inih calls the key handler synchronously for the line just
 * read. Keys are first collected (option, value, line, layer) and applied
 * afterwards, the keys before any section first and then the [COMMAND]
 * section's, so a section overrides regardless of order in the file.
 *
 * Invariants: the first error wins and is the only one reported; after it
 * nothing is applied. Kept values (ct_conf_keep) are never freed: option
 * fields of the caller's settings point into them for the process's life.
 */
#include "ct_conf.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_ini.h"

#define MAX_ENTRIES 1024

/* ---- storage that lives until exit --------------------------------------- */

typedef struct kept {
    struct kept *next;
    char s[];
} kept;

static kept *g_kept; /* every copy, reachable (not a leak) */

static const char *keep(const char *s, size_t len)
{
    kept *k = malloc(sizeof *k + len + 1);
    if (!k) return NULL;
    memcpy(k->s, s, len);
    k->s[len] = '\0';
    k->next = g_kept;
    g_kept = k;
    return k->s;
}

/* ---- names ------------------------------------------------------------- */

void ct_conf_env_name(const ct_opt *o, char *buf, size_t len)
{
    assert(len > sizeof CT_CONF_ENV_PREFIX);
    size_t n = strlen(CT_CONF_ENV_PREFIX);
    memcpy(buf, CT_CONF_ENV_PREFIX, n);
    for (const char *p = o->name; *p && n + 1 < len; p++) {
        char ch = *p;
        if (ch == '-') ch = '_';
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        buf[n++] = ch;
    }
    buf[n] = '\0';
}

const char *ct_conf_path(const ct_opt_spec *spec, const char *flag_value)
{
    if (flag_value) return *flag_value ? flag_value : NULL;
    const char *env = getenv(CT_CONF_ENV_FILE);
    if (env) return *env ? keep(env, strlen(env)) : NULL;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s/%s.conf", CT_SYSCONFDIR, ct_opt_short_name(spec));
    if (n < 0 || (size_t)n >= sizeof buf || access(buf, F_OK) != 0) return NULL;
    return keep(buf, (size_t)n);
}

/* ---- the file ------------------------------------------------------------ */

typedef struct {
    size_t opt;
    const char *value; /* kept */
    unsigned line;
    int layer; /* 0: before any section, 1: the running command's section */
} entry;

typedef struct {
    const ct_opt_spec *spec;
    const ct_opt_cmd *cmd;
    const char *path;
    ct_ini_src src;      /* unread text and the current line number */
    int section;         /* -1 none yet; 0 the running command's; 1 another command's */
    const char *sec_cmd; /* command of the current section */
    entry *e;
    size_t n;
    bool failed;
    ct_err rc;
    char *err;
    size_t errlen;
} fctx;

static void fail(fctx *c, ct_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(fctx *c, ct_err rc, const char *fmt, ...)
{
    if (c->failed) return;
    c->failed = true;
    c->rc = rc;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%u: %s", c->path, c->src.line, msg);
}

static void begin_section(fctx *c, const char *name)
{
    if (!c->spec->cmds) {
        fail(c, CT_ERR_USAGE, "unknown section [%s] (this file takes keys only, no sections)",
             name);
        return;
    }
    for (const ct_opt_cmd *k = c->spec->cmds; k->name; k++) {
        if (strcmp(k->name, name) == 0) {
            c->sec_cmd = k->name;
            c->section = c->cmd && c->cmd == k ? 0 : 1;
            return;
        }
    }
    char names[512];
    int n = 0;
    names[0] = '\0';
    for (const ct_opt_cmd *k = c->spec->cmds; k->name && n >= 0 && (size_t)n < sizeof names; k++)
        n += snprintf(names + n, sizeof names - (size_t)n, "%s%s", n ? ", " : "", k->name);
    fail(c, CT_ERR_USAGE, "unknown section [%s] (the sections are commands: %s)", name, names);
}

/* inih's line reader over memory: one line with '\n', or NULL at the end or
 * after the first error. Comments and section headers are handled here;
 * inih sees key lines only (others as blank lines). */
static char *line_reader(char *str, int num, void *stream)
{
    fctx *c = stream;
    if (c->failed || num < 4) return NULL;
    const char *s;
    size_t len;
    char msg[64];
    ct_ini_result r = ct_ini_next_line(&c->src, (size_t)num - 3, &s, &len, msg, sizeof msg);
    if (r == CT_INI_END) return NULL;
    strcpy(str, "\n");
    if (r == CT_INI_BAD) {
        fail(c, CT_ERR_USAGE, "%s", msg);
        return str;
    }
    /* a comment after a value: " #" or " ;" */
    for (size_t i = 1; i < len; i++) {
        if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
            len = i;
            break;
        }
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || s[0] == '#' || s[0] == ';') return str;
    if (s[0] == ' ' || s[0] == '\t') {
        fail(c, CT_ERR_USAGE,
             "indented line (continuation lines are not supported; remove the leading spaces)");
        return str;
    }
    if (s[0] == '[') {
        if (s[len - 1] != ']') {
            fail(c, CT_ERR_USAGE, "section header without closing ']'");
            return str;
        }
        char name[64];
        const char *h = s + 1;
        size_t hl = len - 2;
        while (hl && (*h == ' ' || *h == '\t'))
            h++, hl--;
        while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
            hl--;
        if (hl >= sizeof name) hl = sizeof name - 1;
        memcpy(name, h, hl);
        name[hl] = '\0';
        begin_section(c, name);
        return str;
    }
    if (!memchr(s, '=', len)) {
        fail(c, CT_ERR_USAGE, "syntax error (expected 'key = value' or '[section]')");
        return str;
    }
    /* inih also splits at ':'; a key never holds one, so hide values from it */
    const char *eq = memchr(s, '=', len);
    if (memchr(s, ':', (size_t)(eq - s))) {
        fail(c, CT_ERR_USAGE, "syntax error (expected 'key = value' or '[section]')");
        return str;
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static int key_handler(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* sections are tracked by line_reader */
    fctx *c = user;
    if (c->failed) return 0;
    const ct_opt *opts = c->spec->opts;
    size_t i = 0;
    while (opts[i].name && strcmp(opts[i].name, name) != 0)
        i++;
    if (!opts[i].name) {
        fail(c, CT_ERR_USAGE, "unknown key '%s'", name);
        return 0;
    }
    const ct_opt *o = &opts[i];
    if (c->section >= 0 && o->cmds) {
        for (const ct_opt_cmd *k = c->spec->cmds; k->name; k++) {
            if (strcmp(k->name, c->sec_cmd) == 0 && !(o->cmds & k->bit)) {
                fail(c, CT_ERR_USAGE, "'%s' does not apply to '%s'", name, k->name);
                return 0;
            }
        }
    }
    if (c->section == 1 || (c->section < 0 && !ct_opt_applies(o, c->cmd)))
        return 1; /* another command's */
    int layer = c->section < 0 ? 0 : 1;
    if (o->kind != CT_OPT_LIST) {
        for (size_t j = 0; j < c->n; j++) {
            if (c->e[j].opt == i && c->e[j].layer == layer) {
                fail(c, CT_ERR_USAGE, "'%s' is set twice (first at line %u)", name, c->e[j].line);
                return 0;
            }
        }
    }
    if (c->n == MAX_ENTRIES) {
        fail(c, CT_ERR_USAGE, "too many keys (max %d)", MAX_ENTRIES);
        return 0;
    }
    const char *v = keep(value, strlen(value));
    if (!v) {
        fail(c, CT_ERR_NOMEM, "out of memory");
        return 0;
    }
    c->e[c->n++] = (entry){.opt = i, .value = v, .line = c->src.line, .layer = layer};
    return 1;
}

static ct_err read_all(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    ct_err rc = CT_OK;
    char *buf = malloc(CT_CONF_MAX_BYTES + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = CT_ERR_NOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, CT_CONF_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = CT_ERR_IO;
        goto out;
    }
    if (n > CT_CONF_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, CT_CONF_MAX_BYTES);
        rc = CT_ERR_USAGE;
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

ct_err ct_conf_apply_file(const ct_opt_spec *spec, const ct_opt_cmd *cmd, const char *path,
                          void *settings, ct_opt_result *res, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    ct_err rc = read_all(path, &text, &len, err, errlen);
    if (rc != CT_OK) return rc;
    fctx c = {.spec = spec,
              .cmd = cmd,
              .path = path,
              .src = {.p = text, .end = text + len, .line = 0},
              .section = -1,
              .rc = CT_OK,
              .err = err,
              .errlen = errlen};
    c.e = calloc(MAX_ENTRIES, sizeof *c.e);
    if (!c.e) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = CT_ERR_NOMEM;
        goto out;
    }
    int r = ini_parse_stream(line_reader, &c, key_handler, &c);
    if (!c.failed && r != 0) {
        c.src.line = r > 0 ? (unsigned)r : c.src.line;
        fail(&c, r == -2 ? CT_ERR_NOMEM : CT_ERR_USAGE,
             "syntax error (expected 'key = value' or '[section]')");
    }
    if (c.failed) {
        rc = c.rc;
        goto out;
    }
    char msg[512];
    for (int layer = 0; layer < 2; layer++) {
        bool listed[CT_OPT_MAX] = {false};
        for (size_t j = 0; j < c.n; j++) {
            const entry *e = &c.e[j];
            if (e->layer != layer) continue;
            rc = ct_opt_assign(spec, e->opt, e->value, CT_OPT_SRC_FILE, e->line, !listed[e->opt],
                               settings, res, msg, sizeof msg);
            if (rc != CT_OK) {
                /* ct_opt_set's words without the leading "--" */
                snprintf(err, errlen, "%s:%u: %s", path, e->line,
                         strncmp(msg, "--", 2) == 0 ? msg + 2 : msg);
                goto out;
            }
            listed[e->opt] = true;
        }
    }
    res->config = path;
out:
    free(c.e);
    free(text);
    return rc;
}

/* ---- the environment ------------------------------------------------------ */

ct_err ct_conf_apply_env(const ct_opt_spec *spec, const ct_opt_cmd *cmd, void *settings,
                         ct_opt_result *res, char *err, size_t errlen)
{
    char name[128], msg[512];
    for (size_t i = 0; spec->opts[i].name; i++) {
        const ct_opt *o = &spec->opts[i];
        if (!ct_opt_applies(o, cmd)) continue;
        ct_conf_env_name(o, name, sizeof name);
        const char *env = getenv(name);
        if (!env || !*env) continue;
        const char *s = env;
        bool first = true;
        for (;;) {
            size_t n = o->kind == CT_OPT_LIST ? strcspn(s, ",") : strlen(s);
            const char *v = keep(s, n);
            if (!v) {
                snprintf(err, errlen, "%s: out of memory", name);
                return CT_ERR_NOMEM;
            }
            ct_err rc = CT_OK;
            if (o->kind == CT_OPT_LIST && n == 0) {
                snprintf(msg, sizeof msg, "--%s: empty value in the list '%s'", o->name, env);
                rc = CT_ERR_USAGE;
            } else {
                rc = ct_opt_assign(spec, i, v, CT_OPT_SRC_ENV, 0, first, settings, res, msg,
                                   sizeof msg);
            }
            if (rc != CT_OK) {
                /* "--name: 'v' is ..." becomes "CHITIEU_NAME: 'v' is ..." */
                const char *why = msg;
                size_t pl = strlen(o->name) + 4;
                if (strncmp(msg, "--", 2) == 0 && strlen(msg) >= pl) why = msg + pl;
                snprintf(err, errlen, "%s: %s", name, why);
                return rc;
            }
            first = false;
            if (s[n] != ',') break;
            s += n + 1;
        }
    }
    return CT_OK;
}
