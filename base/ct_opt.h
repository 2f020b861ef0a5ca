/* ct_opt.h — the one command-line parser of every chitieu binary.
 *
 * A binary describes its options ONCE, as a table of ct_opt (long name, kind
 * of value, where the value goes in the binary's settings struct, which
 * commands accept it, default, help text). From that table alone come the
 * parsing, the defaults, the range checks and their messages, `--help` (for
 * the binary and for each command) and `--version`. There is no second list
 * to keep in step.
 *
 *   static const ct_opt opts[] = {
 *       {.name = "outbox", .kind = CT_OPT_STR, .off = offsetof(cfg, outbox), .arg = "DIR",
 *        .flags = CT_OPT_REQUIRED, .help = "the outbox directory"},
 *       {.name = "window", .kind = CT_OPT_INT, .off = offsetof(cfg, window), .min = 1,
 *        .max = 65536, .def = "4096", .cmds = C_RUN, .help = "events in flight"},
 *       {0}};
 *   ct_opt_result r;
 *   if (ct_opt_parse(&spec, argc, argv, &cfg, &r) != CT_OK) return 2;
 *   if (r.exit_now) return 0;
 *
 * Conventions (the same in every binary):
 *   - ct_opt_parse() returns CT_OK or CT_ERR_USAGE. On CT_ERR_USAGE it has
 *     already printed "PROG: what is wrong" and "(see PROG --help)" on stderr:
 *     the caller exits 2. On CT_OK with exit_now set, --help or --version was
 *     printed on stdout: the caller exits 0.
 *   - Binaries with commands (spec.cmds != NULL) take the command first:
 *     `PROG COMMAND [options] [args]`; `PROG COMMAND --help` shows that
 *     command's options only. An option whose .cmds mask does not include the
 *     command is refused by name.
 *   - Every option is a long option; -h is --help.
 *   - Every option is also a key of the configuration file and an environment
 *     variable CHITIEU_<NAME> (ct_conf.h); precedence flag > environment >
 *     file > default. Built in to every binary: --config FILE,
 *     --print-config (prints every effective setting and its source, exit 0)
 *     and the hidden --options-table, --scdoc and --bash-completion that the
 *     build turns into man pages and completions.
 *
 * Value kinds and the settings field each writes (at .off):
 *   CT_OPT_FLAG   bool          present = true; in a file or the environment
 *                               true/false, yes/no, on/off, 1/0
 *   CT_OPT_STR    const char *  points into argv, .def or the environment, or
 *                               to a copy of a file's value that lives until
 *                               the process exits
 *   CT_OPT_INT    int64_t       decimal, .min <= v <= .max
 *   CT_OPT_DOUBLE double        decimal, .min <= v <= .max
 *   CT_OPT_SIZE   size_t        bytes with optional K/M/G/T suffix, >= .min
 *   CT_OPT_CHOICE int           index into the NULL-terminated .choices
 *   CT_OPT_LIST   ct_opt_list   repeatable; the first given value replaces
 *                               the default list
 *
 * Invariants: a table ends with an entry whose name is NULL; at most
 * CT_OPT_MAX entries; names are unique; .def, when set, is a valid value of
 * the option's kind (checked by ct_opt_parse: a bad default is a program
 * error, reported as CT_ERR_INTERNAL).
 */
#ifndef CT_OPT_H
#define CT_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_error.h"

#define CT_OPT_MAX 96
#define CT_OPT_LIST_MAX 16

typedef enum {
    CT_OPT_FLAG = 1,
    CT_OPT_STR,
    CT_OPT_INT,
    CT_OPT_DOUBLE,
    CT_OPT_SIZE,
    CT_OPT_CHOICE,
    CT_OPT_LIST,
} ct_opt_kind;

enum {
    CT_OPT_REQUIRED = 1u << 0, /* must be given (for the commands in .cmds) */
    CT_OPT_HIDDEN = 1u << 1,   /* parsed, but not shown by --help (test-only switches) */
    CT_OPT_SECRET = 1u << 2,   /* a credential: --print-config shows "(hidden)", never the value */
};

typedef struct {
    const char *v[CT_OPT_LIST_MAX];
    size_t n;
} ct_opt_list;

typedef struct {
    const char *name; /* long name without "--"; NULL ends the table */
    ct_opt_kind kind;
    size_t off;                 /* offsetof(settings struct, field) */
    unsigned cmds;              /* mask of ct_opt_cmd.bit accepting it; 0 = every command */
    unsigned flags;             /* CT_OPT_REQUIRED | CT_OPT_HIDDEN | CT_OPT_SECRET */
    const char *arg;            /* value placeholder in --help, e.g. "DIR" */
    const char *def;            /* default as it would be typed; NULL = none */
    double min, max;            /* CT_OPT_INT, CT_OPT_DOUBLE (max 0 = no upper bound); SIZE: min */
    const char *const *choices; /* CT_OPT_CHOICE: NULL-terminated */
    const char *help;           /* one sentence or two; wrapped by --help */
} ct_opt;

typedef struct {
    const char *name;       /* "run" */
    unsigned bit;           /* this command's bit in ct_opt.cmds */
    const char *args;       /* what follows the command in usage, e.g. "FILE.csv [options]" */
    int npos_min, npos_max; /* positional arguments accepted */
    const char *summary;    /* one line for the command list */
} ct_opt_cmd;

typedef struct {
    const char *prog;       /* "chitieu-collector" */
    const char *usage;      /* after "usage: PROG ", e.g. "--data DIR [options]" */
    const char *about;      /* a paragraph: what the binary is for */
    const ct_opt_cmd *cmds; /* NULL for a binary without commands; else ends with name NULL */
    const ct_opt *opts;     /* ends with name NULL */
    const char *epilog;     /* signals, exit codes; printed last */
    int npos_min, npos_max; /* positional arguments, binaries without commands */
} ct_opt_spec;

/* Where an option's effective value came from. */
typedef enum {
    CT_OPT_SRC_DEFAULT = 0, /* .def, or unset */
    CT_OPT_SRC_FILE,        /* the configuration file, at .line */
    CT_OPT_SRC_ENV,         /* CHITIEU_<NAME> */
    CT_OPT_SRC_FLAG,        /* the command line */
} ct_opt_src;

typedef struct {
    const ct_opt_cmd *cmd; /* the command given, NULL for a binary without commands */
    char **pos;            /* positional arguments (into argv) */
    int npos;
    bool exit_now;          /* --help, --version, --print-config, ... was printed */
    bool given[CT_OPT_MAX]; /* given[i]: opts[i] was set by flag, environment or file */
    ct_opt_src src[CT_OPT_MAX];
    unsigned line[CT_OPT_MAX];    /* CT_OPT_SRC_FILE: the (last) line that set it */
    const char *text[CT_OPT_MAX]; /* the effective value as text (not for lists and flags) */
    const char *config;           /* the configuration file read; NULL = none */
} ct_opt_result;

/* Applies every default, then the configuration file, the environment and
 * argv, in that order (ct_conf.h). See the conventions above. */
ct_err ct_opt_parse(const ct_opt_spec *spec, int argc, char **argv, void *settings,
                    ct_opt_result *res);

/* Sets one option from text (also for configuration sources other than
 * argv). CT_ERR_USAGE with a message in err ("--window: 'x' is not a whole
 * number from 1 to 65536") when the value does not fit the option. A
 * CT_OPT_FLAG takes value NULL (true) or a truth word (true/false, yes/no,
 * on/off, 1/0). */
ct_err ct_opt_set(const ct_opt *o, const char *value, void *settings, bool first_of_list, char *err,
                  size_t errlen);

/* Prints the help of the binary (cmd NULL) or of one command. */
void ct_opt_help(const ct_opt_spec *spec, const ct_opt_cmd *cmd, FILE *f);

/* Whether option o is taken by command cmd (cmd NULL: a binary without
 * commands, every option). */
bool ct_opt_applies(const ct_opt *o, const ct_opt_cmd *cmd);

/* ct_opt_set() on spec->opts[i] that also records the source in res (src,
 * line, text, given). The message in err is ct_opt_set()'s. */
ct_err ct_opt_assign(const ct_opt_spec *spec, size_t i, const char *value, ct_opt_src src,
                     unsigned line, bool first_of_list, void *settings, ct_opt_result *res,
                     char *err, size_t errlen);

/* The binary's short name: "aggregator" for "chitieu-aggregator". */
const char *ct_opt_short_name(const ct_opt_spec *spec);

/* Prints "PROG: <message>\n(see PROG --help)\n" on stderr; returns 2, the
 * usage exit code, for `return ct_opt_usage_error(...)` in mains. */
int ct_opt_usage_error(const ct_opt_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
