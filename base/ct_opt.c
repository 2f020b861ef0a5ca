/* ct_opt.c — the table-driven command-line parser (see ct_opt.h).
 *
 * getopt_long does the scanning (GNU permutation: options and positional
 * arguments may be mixed); this file turns the table into getopt's array,
 * applies the sources in order of precedence — defaults, configuration file
 * and environment (ct_conf.c), then the flags collected from argv — through
 * ct_opt_set(), checks command masks, required options and positional
 * counts, and prints help from the table. The other renderings of the table
 * (--print-config, man page, completion) are in ct_opt_doc.c. */
#include "ct_opt.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ct_cli.h"
#include "ct_conf.h"
#include "ct_opt_doc.h"

#define HELP_COL 26
#define HELP_WIDTH 79

static size_t table_len(const ct_opt *opts)
{
    size_t n = 0;
    while (opts[n].name)
        n++;
    assert(n <= CT_OPT_MAX);
    return n;
}

static void *field(void *settings, const ct_opt *o)
{
    return (char *)settings + o->off;
}

static bool parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = (int64_t)v;
    return true;
}

static bool parse_dbl(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static void range_text(const ct_opt *o, char *buf, size_t len)
{
    if (o->max > o->min)
        snprintf(buf, len, "from %.15g to %.15g", o->min, o->max);
    else
        snprintf(buf, len, "of at least %.15g", o->min);
}

ct_err ct_opt_set(const ct_opt *o, const char *value, void *settings, bool first_of_list, char *err,
                  size_t errlen)
{
    void *f = field(settings, o);
    char range[96];
    switch (o->kind) {
    case CT_OPT_FLAG: {
        static const char *const yes[] = {"true", "yes", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "off", "0", NULL};
        if (!value) {
            *(bool *)f = true;
            return CT_OK;
        }
        for (int i = 0; yes[i]; i++) {
            if (strcmp(value, yes[i]) == 0) {
                *(bool *)f = true;
                return CT_OK;
            }
            if (strcmp(value, no[i]) == 0) {
                *(bool *)f = false;
                return CT_OK;
            }
        }
        snprintf(err, errlen, "--%s: '%s' is not one of true, false, yes, no, on, off, 1, 0",
                 o->name, value);
        return CT_ERR_USAGE;
    }
    case CT_OPT_STR:
        *(const char **)f = value;
        return CT_OK;
    case CT_OPT_INT: {
        int64_t v;
        if (!parse_int64(value, &v) || (double)v < o->min ||
            (o->max > o->min && (double)v > o->max)) {
            range_text(o, range, sizeof range);
            snprintf(err, errlen, "--%s: '%s' is not a whole number %s", o->name, value, range);
            return CT_ERR_USAGE;
        }
        *(int64_t *)f = v;
        return CT_OK;
    }
    case CT_OPT_DOUBLE: {
        double v;
        if (!parse_dbl(value, &v) || v < o->min || (o->max > o->min && v > o->max)) {
            range_text(o, range, sizeof range);
            snprintf(err, errlen, "--%s: '%s' is not a number %s", o->name, value, range);
            return CT_ERR_USAGE;
        }
        *(double *)f = v;
        return CT_OK;
    }
    case CT_OPT_SIZE: {
        size_t v;
        if (!ct_cli_parse_size(value, (size_t)o->min, &v)) {
            snprintf(err, errlen,
                     "--%s: '%s' is not a size of at least %.0f bytes (e.g. 512M, 16G)", o->name,
                     value, o->min);
            return CT_ERR_USAGE;
        }
        *(size_t *)f = v;
        return CT_OK;
    }
    case CT_OPT_CHOICE:
        assert(o->choices);
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(value, o->choices[i]) == 0) {
                *(int *)f = i;
                return CT_OK;
            }
        }
        {
            int n = snprintf(err, errlen, "--%s: '%s' is not one of", o->name, value);
            for (int i = 0; o->choices[i] && n >= 0 && (size_t)n < errlen; i++)
                n += snprintf(err + n, errlen - (size_t)n, "%s%s", i ? ", " : " ", o->choices[i]);
        }
        return CT_ERR_USAGE;
    case CT_OPT_LIST: {
        ct_opt_list *l = f;
        if (first_of_list) l->n = 0;
        if (l->n == CT_OPT_LIST_MAX) {
            snprintf(err, errlen, "--%s: at most %d values", o->name, CT_OPT_LIST_MAX);
            return CT_ERR_USAGE;
        }
        l->v[l->n++] = value;
        return CT_OK;
    }
    }
    snprintf(err, errlen, "--%s: option of unknown kind", o->name);
    return CT_ERR_INTERNAL;
}

bool ct_opt_applies(const ct_opt *o, const ct_opt_cmd *cmd)
{
    return !cmd || !o->cmds || (o->cmds & cmd->bit);
}

ct_err ct_opt_assign(const ct_opt_spec *spec, size_t i, const char *value, ct_opt_src src,
                     unsigned line, bool first_of_list, void *settings, ct_opt_result *res,
                     char *err, size_t errlen)
{
    assert(i < table_len(spec->opts));
    ct_err rc = ct_opt_set(&spec->opts[i], value, settings, first_of_list, err, errlen);
    if (rc != CT_OK) return rc;
    res->src[i] = src;
    res->line[i] = line;
    res->text[i] = value;
    res->given[i] = src != CT_OPT_SRC_DEFAULT;
    return CT_OK;
}

const char *ct_opt_short_name(const ct_opt_spec *spec)
{
    const char *dash = strchr(spec->prog, '-');
    return dash && dash[1] ? dash + 1 : spec->prog;
}

int ct_opt_usage_error(const ct_opt_spec *spec, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n(see %s --help)\n", spec->prog, msg, spec->prog);
    return 2;
}

/* ---- help ---------------------------------------------------------------- */

/* Writes text wrapped at HELP_WIDTH, continuation lines indented by indent;
 * col is the column the cursor is at. Explicit '\n' in text are kept. */
static void wrap(FILE *f, const char *text, size_t col, size_t indent)
{
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
            p++;
            continue;
        }
        size_t w = strcspn(p, " \n");
        if (col > indent && col + 1 + w > HELP_WIDTH) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, w, f);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
}

static void help_option(FILE *f, const ct_opt *o)
{
    char head[96];
    if (o->kind == CT_OPT_FLAG)
        snprintf(head, sizeof head, "  --%s", o->name);
    else if (o->kind == CT_OPT_CHOICE && !o->arg) {
        int n = snprintf(head, sizeof head, "  --%s ", o->name);
        for (int i = 0; o->choices[i] && n > 0 && (size_t)n < sizeof head; i++)
            n += snprintf(head + n, sizeof head - (size_t)n, "%s%s", i ? "|" : "", o->choices[i]);
    } else
        snprintf(head, sizeof head, "  --%s %s", o->name, o->arg ? o->arg : "VALUE");
    size_t col = strlen(head);
    fputs(head, f);
    if (col + 2 > HELP_COL) {
        fprintf(f, "\n%*s", HELP_COL, "");
    } else {
        fprintf(f, "%*s", (int)(HELP_COL - col), "");
    }
    char text[1024];
    int n = snprintf(text, sizeof text, "%s", o->help ? o->help : "");
    if (o->def && *o->def && n >= 0 && (size_t)n < sizeof text)
        n += snprintf(text + n, sizeof text - (size_t)n, " (default %s)", o->def);
    if (o->kind == CT_OPT_LIST && n >= 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, "; repeatable");
    wrap(f, text, HELP_COL, HELP_COL);
    fputc('\n', f);
}

static void help_line(FILE *f, const char *head, const char *text)
{
    fprintf(f, "%-*s", HELP_COL, head);
    wrap(f, text, HELP_COL, HELP_COL);
    fputc('\n', f);
}

static void help_builtins(const ct_opt_spec *spec, FILE *f)
{
    char text[512];
    snprintf(text, sizeof text,
             "settings file (default %s/%s.conf when it exists); every option is also a key "
             "there and an environment variable CHITIEU_NAME; flag > environment > file > "
             "default",
             CT_SYSCONFDIR, ct_opt_short_name(spec));
    help_line(f, "  --config FILE", text);
    help_line(f, "  --print-config", "print every effective setting and where it came from");
}

void ct_opt_help(const ct_opt_spec *spec, const ct_opt_cmd *cmd, FILE *f)
{
    if (cmd) {
        fprintf(f, "usage: %s %s %s\n\n", spec->prog, cmd->name,
                cmd->args ? cmd->args : "[options]");
        wrap(f, cmd->summary, 0, 0);
        fputs("\n\noptions:\n", f);
    } else {
        fprintf(f, "usage: %s %s\n\n", spec->prog, spec->usage);
        if (spec->about) {
            wrap(f, spec->about, 0, 0);
            fputs("\n\n", f);
        }
        if (spec->cmds) {
            fputs("commands:\n", f);
            for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
                fprintf(f, "  %-10s ", c->name);
                wrap(f, c->summary, 13, 13);
                fputc('\n', f);
            }
            fprintf(f, "\n'%s COMMAND --help' shows the options of one command.\n\n", spec->prog);
            fputs("options of every command:\n", f);
        } else {
            fputs("options:\n", f);
        }
    }
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (o->flags & CT_OPT_HIDDEN) continue;
        if (cmd ? (o->cmds && !(o->cmds & cmd->bit)) : (spec->cmds && o->cmds)) continue;
        help_option(f, o);
    }
    help_builtins(spec, f);
    fputs("  --help, --version\n", f);
    if (spec->epilog) {
        fputc('\n', f);
        wrap(f, spec->epilog, 0, 0);
        fputc('\n', f);
    }
}

/* ---- parsing ------------------------------------------------------------- */

static const ct_opt_cmd *find_cmd(const ct_opt_spec *spec, const char *name)
{
    for (const ct_opt_cmd *c = spec->cmds; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static ct_err apply_defaults(const ct_opt_spec *spec, void *settings, ct_opt_result *res)
{
    char err[256];
    for (size_t i = 0; spec->opts[i].name; i++) {
        const ct_opt *o = &spec->opts[i];
        if (!o->def || o->kind == CT_OPT_FLAG) continue;
        if (ct_opt_assign(spec, i, o->def, CT_OPT_SRC_DEFAULT, 0, true, settings, res, err,
                          sizeof err) != CT_OK) {
            fprintf(stderr, "%s: internal error: bad default: %s\n", spec->prog, err);
            return CT_ERR_INTERNAL;
        }
    }
    return CT_OK;
}

/* The options built into every binary besides the table's. */
enum {
    B_HELP = 'h',
    B_VERSION = 'V',
    B_CONFIG = 900,
    B_PRINT_CONFIG,
    B_TABLE,
    B_SCDOC,
    B_COMPLETION,
};

/* The documentation renderings asked for as the only argument; true when
 * one was printed. */
static bool doc_request(const ct_opt_spec *spec, const char *arg)
{
    if (strcmp(arg, "--options-table") == 0)
        ct_opt_doc_table(spec, stdout);
    else if (strcmp(arg, "--scdoc") == 0)
        ct_opt_doc_scdoc(spec, stdout);
    else if (strcmp(arg, "--bash-completion") == 0)
        ct_opt_doc_completion(spec, stdout);
    else
        return false;
    return true;
}

/* One option given on the command line, applied after file and environment. */
typedef struct {
    size_t i;
    const char *value;
} given_flag;

ct_err ct_opt_parse(const ct_opt_spec *spec, int argc, char **argv, void *settings,
                    ct_opt_result *res)
{
    memset(res, 0, sizeof *res);
    size_t n = table_len(spec->opts);
    ct_err rc = apply_defaults(spec, settings, res);
    if (rc != CT_OK) return rc;
    if (argc >= 2 && doc_request(spec, argv[1])) {
        res->exit_now = true;
        return CT_OK;
    }

    int first = 1; /* argv index getopt starts from (its argv[0] is the command or PROG) */
    if (spec->cmds) {
        if (argc < 2) {
            ct_opt_usage_error(spec, "a command is needed");
            return CT_ERR_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
            const ct_opt_cmd *c =
                argc > 2 && strcmp(argv[1], "help") == 0 ? find_cmd(spec, argv[2]) : NULL;
            ct_opt_help(spec, c, stdout);
            res->exit_now = true;
            return CT_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("%s %s\n", spec->prog, CT_VERSION);
            res->exit_now = true;
            return CT_OK;
        }
        res->cmd = find_cmd(spec, argv[1]);
        if (!res->cmd) {
            ct_opt_usage_error(spec, "unknown command '%s'", argv[1]);
            return CT_ERR_USAGE;
        }
        first = 2;
    }

    struct option lopts[CT_OPT_MAX + 8];
    for (size_t i = 0; i < n; i++) {
        lopts[i].name = spec->opts[i].name;
        lopts[i].has_arg = spec->opts[i].kind == CT_OPT_FLAG ? no_argument : required_argument;
        lopts[i].flag = NULL;
        lopts[i].val = 1000 + (int)i;
    }
    lopts[n] = (struct option){"help", no_argument, NULL, B_HELP};
    lopts[n + 1] = (struct option){"version", no_argument, NULL, B_VERSION};
    lopts[n + 2] = (struct option){"config", required_argument, NULL, B_CONFIG};
    lopts[n + 3] = (struct option){"print-config", no_argument, NULL, B_PRINT_CONFIG};
    lopts[n + 4] = (struct option){NULL, 0, NULL, 0};

    int gargc = argc - first + 1;
    char **gargv = argv + first - 1;
    given_flag *flags = calloc((size_t)argc + 1, sizeof *flags);
    if (!flags) {
        fprintf(stderr, "%s: out of memory\n", spec->prog);
        return CT_ERR_NOMEM;
    }
    size_t nflags = 0;
    const char *config_flag = NULL;
    bool print_config = false;
    optind = 1;
    opterr = 0;
    int ch;
    char err[1024];
    rc = CT_ERR_USAGE;
    while ((ch = getopt_long(gargc, gargv, ":h", lopts, NULL)) != -1) {
        if (ch == '?') {
            ct_opt_usage_error(spec, "unknown option %s", gargv[optind - 1]);
            goto out;
        }
        if (ch == ':') {
            ct_opt_usage_error(spec, "option %s needs a value", gargv[optind - 1]);
            goto out;
        }
        if (ch == B_HELP) {
            ct_opt_help(spec, res->cmd, stdout);
            res->exit_now = true;
            rc = CT_OK;
            goto out;
        }
        if (ch == B_VERSION) {
            printf("%s %s\n", spec->prog, CT_VERSION);
            res->exit_now = true;
            rc = CT_OK;
            goto out;
        }
        if (ch == B_CONFIG) {
            config_flag = optarg;
            continue;
        }
        if (ch == B_PRINT_CONFIG) {
            print_config = true;
            continue;
        }
        size_t i = (size_t)(ch - 1000);
        assert(i < n);
        const ct_opt *o = &spec->opts[i];
        if (!ct_opt_applies(o, res->cmd)) {
            ct_opt_usage_error(spec, "option --%s does not apply to '%s'", o->name, res->cmd->name);
            goto out;
        }
        flags[nflags++] = (given_flag){.i = i, .value = optarg};
    }
    res->pos = gargv + optind;
    res->npos = gargc - optind;

    /* the sources, lowest precedence first */
    const char *path = ct_conf_path(spec, config_flag);
    if (path) {
        rc = ct_conf_apply_file(spec, res->cmd, path, settings, res, err, sizeof err);
        if (rc != CT_OK) {
            fprintf(stderr, "%s: %s\n", spec->prog, err);
            if (rc == CT_ERR_IO) rc = CT_ERR_USAGE;
            goto out;
        }
    }
    rc = ct_conf_apply_env(spec, res->cmd, settings, res, err, sizeof err);
    if (rc != CT_OK) {
        fprintf(stderr, "%s: %s\n", spec->prog, err);
        goto out;
    }
    rc = CT_ERR_USAGE;
    bool listed[CT_OPT_MAX] = {false};
    for (size_t k = 0; k < nflags; k++) {
        size_t i = flags[k].i;
        if (ct_opt_assign(spec, i, flags[k].value, CT_OPT_SRC_FLAG, 0, !listed[i], settings, res,
                          err, sizeof err) != CT_OK) {
            ct_opt_usage_error(spec, "%s", err);
            goto out;
        }
        listed[i] = true;
    }
    if (print_config) {
        ct_opt_doc_print_config(spec, res, settings, stdout);
        res->exit_now = true;
        rc = CT_OK;
        goto out;
    }

    int lo = res->cmd ? res->cmd->npos_min : spec->npos_min;
    int hi = res->cmd ? res->cmd->npos_max : spec->npos_max;
    if (res->npos > hi) {
        ct_opt_usage_error(spec, "unexpected argument '%s'", res->pos[hi]);
        goto out;
    }
    if (res->npos < lo) {
        ct_opt_usage_error(spec, "%s needs %d argument%s: %s",
                           res->cmd ? res->cmd->name : spec->prog, lo, lo == 1 ? "" : "s",
                           res->cmd && res->cmd->args ? res->cmd->args : spec->usage);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const ct_opt *o = &spec->opts[i];
        if (!(o->flags & CT_OPT_REQUIRED) || res->given[i]) continue;
        if (!ct_opt_applies(o, res->cmd)) continue;
        ct_opt_usage_error(spec, "--%s %s is required", o->name, o->arg ? o->arg : "VALUE");
        goto out;
    }
    rc = CT_OK;
out:
    free(flags);
    return rc;
}
