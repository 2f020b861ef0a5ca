/* ct_opt_doc.c — --print-config, --options-table, --scdoc and
 * --bash-completion from an option table (see ct_opt_doc.h).
 *
 * Invariants: everything printed comes from the table and the spec; the man
 * page text is escaped for scdoc (\ * _ are literal) and each option's help
 * is one paragraph line.
 */
#include "ct_opt_doc.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ct_conf.h"

static const char *kind_name(ct_opt_kind k)
{
    switch (k) {
    case CT_OPT_FLAG:
        return "flag";
    case CT_OPT_STR:
        return "str";
    case CT_OPT_INT:
        return "int";
    case CT_OPT_DOUBLE:
        return "double";
    case CT_OPT_SIZE:
        return "size";
    case CT_OPT_CHOICE:
        return "choice";
    case CT_OPT_LIST:
        return "list";
    }
    return "?";
}

static const void *cfield(const void *settings, const ct_opt *o)
{
    return (const char *)settings + o->off;
}

/* ---- --print-config ------------------------------------------------------ */

static void source_text(const ct_opt_spec *spec, const ct_opt_result *res, size_t i, char *buf,
                        size_t len)
{
    const ct_opt *o = &spec->opts[i];
    switch (res->src[i]) {
    case CT_OPT_SRC_DEFAULT:
        snprintf(buf, len, "default");
        break;
    case CT_OPT_SRC_FILE:
        snprintf(buf, len, "%s:%u", res->config ? res->config : "?", res->line[i]);
        break;
    case CT_OPT_SRC_ENV: {
        char env[128];
        ct_conf_env_name(o, env, sizeof env);
        snprintf(buf, len, "env %s", env);
        break;
    }
    case CT_OPT_SRC_FLAG:
        snprintf(buf, len, "flag --%s", o->name);
        break;
    }
}

void ct_opt_doc_print_config(const ct_opt_spec *spec, const ct_opt_result *res,
                             const void *settings, FILE *f)
{
    fprintf(f, "# %s %s%s%s: effective settings (source after ';')\n", spec->prog, CT_VERSION,
            res->cmd ? " " : "", res->cmd ? res->cmd->name : "");
    fprintf(f, "# configuration file: %s\n", res->config ? res->config : "none");
    char src[640];
    for (size_t i = 0; spec->opts[i].name; i++) {
        const ct_opt *o = &spec->opts[i];
        if (!ct_opt_applies(o, res->cmd)) continue;
        source_text(spec, res, i, src, sizeof src);
        if (o->kind == CT_OPT_FLAG) {
            fprintf(f, "%s = %s ; %s\n", o->name,
                    *(const bool *)cfield(settings, o) ? "true" : "false", src);
        } else if (o->kind == CT_OPT_LIST) {
            const ct_opt_list *l = cfield(settings, o);
            if (l->n == 0) fprintf(f, "# %s: not set\n", o->name);
            for (size_t k = 0; k < l->n; k++)
                fprintf(f, "%s = %s ; %s\n", o->name, l->v[k], src);
        } else if (!res->text[i]) {
            fprintf(f, "# %s: not set\n", o->name);
        } else {
            fprintf(f, "%s = %s ; %s\n", o->name,
                    o->flags & CT_OPT_SECRET ? "(hidden)" : res->text[i], src);
        }
    }
}

/* ---- --options-table ----------------------------------------------------- */

static void print_cmds(const ct_opt_spec *spec, const ct_opt *o, FILE *f)
{
    if (!spec->cmds || !o->cmds) {
        fputc('*', f);
        return;
    }
    bool first = true;
    for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
        if (!(o->cmds & c->bit)) continue;
        fprintf(f, "%s%s", first ? "" : ",", c->name);
        first = false;
    }
}

void ct_opt_doc_table(const ct_opt_spec *spec, FILE *f)
{
    char env[128];
    for (const ct_opt *o = spec->opts; o->name; o++) {
        fprintf(f, "%s\t%s\t", o->name, kind_name(o->kind));
        print_cmds(spec, o, f);
        fprintf(f, "\t%s\t%.17g\t%.17g\t", o->def ? o->def : "-", o->min, o->max);
        if (o->kind == CT_OPT_CHOICE) {
            for (int i = 0; o->choices[i]; i++)
                fprintf(f, "%s%s", i ? "," : "", o->choices[i]);
        } else {
            fputc('-', f);
        }
        ct_conf_env_name(o, env, sizeof env);
        fprintf(f, "\t%s\t%s\t", env, o->arg ? o->arg : "-");
        static const struct {
            unsigned bit;
            const char *name;
        } fl[] = {
            {CT_OPT_REQUIRED, "required"}, {CT_OPT_HIDDEN, "hidden"}, {CT_OPT_SECRET, "secret"}};
        bool any = false;
        for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++) {
            if (!(o->flags & fl[k].bit)) continue;
            fprintf(f, "%s%s", any ? "," : "", fl[k].name);
            any = true;
        }
        if (!any) fputc('-', f);
        fputc('\n', f);
    }
}

/* ---- --scdoc ------------------------------------------------------------- */

/* Text for scdoc: \ * _ escaped, newlines as spaces. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '*' || *s == '_') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void upper(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, f);
}

/* The first sentence of the about text, without its final period. */
static void summary(FILE *f, const char *about)
{
    if (!about) return;
    const char *end = strstr(about, ". ");
    size_t n = end ? (size_t)(end - about) : strlen(about);
    if (!end && n && about[n - 1] == '.') n--;
    char buf[512];
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, about, n);
    buf[n] = '\0';
    esc(f, buf);
}

static void scdoc_option(const ct_opt_spec *spec, const ct_opt *o, FILE *f)
{
    fprintf(f, "*--");
    esc(f, o->name);
    fputc('*', f);
    if (o->kind == CT_OPT_CHOICE) {
        fputc(' ', f);
        for (int i = 0; o->choices[i]; i++) {
            fputs(i ? "|" : "", f);
            esc(f, o->choices[i]);
        }
    } else if (o->kind != CT_OPT_FLAG) {
        fputs(" _", f);
        esc(f, o->arg ? o->arg : "VALUE");
        fputc('_', f);
    }
    fputs("\n\t", f);
    esc(f, o->help);
    if (o->help && *o->help && o->help[strlen(o->help) - 1] != '.') fputc('.', f);
    if (o->flags & CT_OPT_REQUIRED) fputs(" Required.", f);
    if (o->def && *o->def) {
        fputs(" Default: ", f);
        esc(f, o->def);
        fputc('.', f);
    }
    if (o->kind == CT_OPT_LIST) fputs(" Repeatable.", f);
    if (spec->cmds && o->cmds) {
        fputs(" Commands:", f);
        bool first = true;
        for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
            if (!(o->cmds & c->bit)) continue;
            fprintf(f, "%s *%s*", first ? "" : ",", c->name);
            first = false;
        }
        fputc('.', f);
    }
    char env[128];
    ct_conf_env_name(o, env, sizeof env);
    fputs(" File key: *", f);
    esc(f, o->name);
    fputs("*; environment: *", f);
    esc(f, env);
    fputs("*.\n\n", f);
}

void ct_opt_doc_scdoc(const ct_opt_spec *spec, FILE *f)
{
    const char *shortname = ct_opt_short_name(spec);
    upper(f, spec->prog);
    fprintf(f, "(1) \"chitieu %s\" \"chitieu manual\"\n\n# NAME\n\n", CT_VERSION);
    esc(f, spec->prog);
    fputs(" - ", f);
    summary(f, spec->about);
    fputs("\n\n# SYNOPSIS\n\n", f);
    if (spec->cmds) {
        for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
            fprintf(f, "*%s* *%s* ", spec->prog, c->name);
            esc(f, c->args ? c->args : "[options]");
            fputs("\n\n", f);
        }
    } else {
        fprintf(f, "*%s* ", spec->prog);
        esc(f, spec->usage);
        fputs("\n\n", f);
    }
    fputs("# DESCRIPTION\n\n", f);
    esc(f, spec->about);
    fputs("\n\n", f);
    if (spec->cmds) {
        fputs("# COMMANDS\n\n", f);
        for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
            fprintf(f, "*%s*\n\t", c->name);
            esc(f, c->summary);
            fputs("\n\n", f);
        }
    }
    fputs("# OPTIONS\n\n", f);
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (o->flags & CT_OPT_HIDDEN) continue;
        scdoc_option(spec, o, f);
    }
    fprintf(f,
            "*--config* _FILE_\n\tRead settings from _FILE_ (default: _%s/%s.conf_ when it "
            "exists; *--config* '' reads none). Environment: *%s*.\n\n",
            CT_SYSCONFDIR, shortname, CT_CONF_ENV_FILE);
    fputs("*--print-config*\n\tPrint every effective setting and where it came from (default, "
          "FILE:LINE, env NAME or flag), as a valid configuration file, and exit 0.\n\n",
          f);
    fputs("*--help*, *--version*\n\tPrint the help or the version and exit 0.\n\n", f);

    fputs("# CONFIGURATION\n\n", f);
    fprintf(f,
            "Every option is also a key of the configuration file (its name without the "
            "dashes, e.g. *batch-max = 8192*) and an environment variable (*CHITIEU\\_* and the "
            "name in upper case with underscores, e.g. *CHITIEU\\_BATCH\\_MAX*). The command "
            "line wins over the environment, the environment over the file, the file over the "
            "default. Without *--config*, _%s/%s.conf_ is read when it exists. ",
            CT_SYSCONFDIR, shortname);
    if (spec->cmds)
        fputs("Keys before any section apply to every command that takes them; keys in a "
              "section named after a command (e.g. *[run]*) apply to that command only. ",
              f);
    fputs("The format and the rules are in *chitieu.conf*(5).\n\n", f);
    if (spec->epilog) {
        fputs("# NOTES\n\n", f);
        esc(f, spec->epilog);
        fputs("\n\n", f);
    }
    fprintf(f, "# FILES\n\n_%s/%s.conf_\n\tThe default configuration file.\n\n", CT_SYSCONFDIR,
            shortname);
    fputs("# SEE ALSO\n\n*chitieu.conf*(5), *chitieu-aggregator*(1), *chitieu-collector*(1), "
          "*chitieu-reporter*(1), *chitieu-audit*(1), *chitieu-keys*(1)\n",
          f);
}

/* ---- --bash-completion --------------------------------------------------- */

static bool is_dir_arg(const ct_opt *o)
{
    return o->arg && strcmp(o->arg, "DIR") == 0;
}

static bool is_file_arg(const ct_opt *o)
{
    return o->arg && strncmp(o->arg, "FILE", 4) == 0;
}

static void completion_words(const ct_opt_spec *spec, const ct_opt_cmd *cmd, FILE *f)
{
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (o->flags & CT_OPT_HIDDEN) continue;
        if (cmd ? !ct_opt_applies(o, cmd) : (spec->cmds && o->cmds)) continue;
        fprintf(f, "--%s ", o->name);
    }
    fputs("--config --print-config --help", f);
}

void ct_opt_doc_completion(const ct_opt_spec *spec, FILE *f)
{
    char fn[128];
    int n = snprintf(fn, sizeof fn, "_%s", spec->prog);
    for (int i = 0; i < n && (size_t)i < sizeof fn; i++)
        if (fn[i] == '-') fn[i] = '_';
    fprintf(f, "# bash completion for %s (generated from its option table)\n", spec->prog);
    fprintf(f,
            "%s()\n{\n    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n",
            fn);
    fputs("    COMPREPLY=()\n    case \"$prev\" in\n", f);
    /* values: files, directories, choices, or nothing to offer */
    fputs("    --config", f);
    for (const ct_opt *o = spec->opts; o->name; o++)
        if (is_file_arg(o)) fprintf(f, "|--%s", o->name);
    fputs(")\n        COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", f);
    bool any = false;
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (!is_dir_arg(o)) continue;
        fprintf(f, "%s--%s", any ? "|" : "    ", o->name);
        any = true;
    }
    if (any) fputs(")\n        COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", f);
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (o->kind != CT_OPT_CHOICE) continue;
        fprintf(f, "    --%s)\n        COMPREPLY=($(compgen -W \"", o->name);
        for (int i = 0; o->choices[i]; i++)
            fprintf(f, "%s%s", i ? " " : "", o->choices[i]);
        fputs("\" -- \"$cur\")); return ;;\n", f);
    }
    any = false;
    for (const ct_opt *o = spec->opts; o->name; o++) {
        if (o->kind == CT_OPT_FLAG || o->kind == CT_OPT_CHOICE || is_file_arg(o) || is_dir_arg(o))
            continue;
        fprintf(f, "%s--%s", any ? "|" : "    ", o->name);
        any = true;
    }
    if (any) fputs(")\n        return ;;\n", f);
    fputs("    esac\n", f);
    if (spec->cmds) {
        fputs("    if [[ $COMP_CWORD -eq 1 ]]; then\n        COMPREPLY=($(compgen -W \"", f);
        for (const ct_opt_cmd *c = spec->cmds; c->name; c++)
            fprintf(f, "%s ", c->name);
        fputs("--help --version\" -- \"$cur\")); return\n    fi\n", f);
        fputs("    local opts\n    case \"${COMP_WORDS[1]}\" in\n", f);
        for (const ct_opt_cmd *c = spec->cmds; c->name; c++) {
            fprintf(f, "    %s) opts=\"", c->name);
            completion_words(spec, c, f);
            fputs("\" ;;\n", f);
        }
        fputs("    *) return ;;\n    esac\n", f);
    } else {
        fputs("    local opts=\"", f);
        completion_words(spec, NULL, f);
        fputs("\"\n", f);
    }
    fputs("    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    else\n        COMPREPLY=($(compgen -f -- \"$cur\"))\n    fi\n}\n",
          f);
    fprintf(f, "complete -F %s %s\n", fn, spec->prog);
}
