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
 *
 * Value kinds and the settings field each writes (at .off):
 *   CT_OPT_FLAG   bool          present = true
 *   CT_OPT_STR    const char *  points into argv or .def (never copied)
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
    unsigned flags;             /* CT_OPT_REQUIRED | CT_OPT_HIDDEN */
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

typedef struct {
    const ct_opt_cmd *cmd; /* the command given, NULL for a binary without commands */
    char **pos;            /* positional arguments (into argv) */
    int npos;
    bool exit_now;          /* --help or --version was printed */
    bool given[CT_OPT_MAX]; /* given[i]: opts[i] came from the command line */
} ct_opt_result;

/* Applies every default, then argv. See the conventions above. */
ct_err ct_opt_parse(const ct_opt_spec *spec, int argc, char **argv, void *settings,
                    ct_opt_result *res);

/* Sets one option from text (also for configuration sources other than
 * argv). CT_ERR_USAGE with a message in err ("--window: 'x' is not a whole
 * number from 1 to 65536") when the value does not fit the option. */
ct_err ct_opt_set(const ct_opt *o, const char *value, void *settings, bool first_of_list, char *err,
                  size_t errlen);

/* Prints the help of the binary (cmd NULL) or of one command. */
void ct_opt_help(const ct_opt_spec *spec, const ct_opt_cmd *cmd, FILE *f);

/* Prints "PROG: <message>\n(see PROG --help)\n" on stderr; returns 2, the
 * usage exit code, for `return ct_opt_usage_error(...)` in mains. */
int ct_opt_usage_error(const ct_opt_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
