/* test_opt.c — the table-driven option parser: defaults, every value kind and
 * its error message, command masks, required options, positional counts,
 * --help / --version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct_opt.h"

enum { C_RUN = 1, C_IMPORT = 2 };

typedef struct {
    const char *outbox;
    bool once;
    int64_t window;
    double ratio;
    size_t map;
    int level;
    ct_opt_list eps;
} cfg;

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const ct_opt opts[] = {
    {.name = "outbox",
     .kind = CT_OPT_STR,
     .off = offsetof(cfg, outbox),
     .arg = "DIR",
     .flags = CT_OPT_REQUIRED,
     .help = "the outbox"},
    {.name = "once",
     .kind = CT_OPT_FLAG,
     .off = offsetof(cfg, once),
     .cmds = C_RUN,
     .help = "deliver once"},
    {.name = "window",
     .kind = CT_OPT_INT,
     .off = offsetof(cfg, window),
     .min = 1,
     .max = 65536,
     .def = "4096",
     .cmds = C_RUN,
     .arg = "N",
     .help = "events in flight"},
    {.name = "ratio",
     .kind = CT_OPT_DOUBLE,
     .off = offsetof(cfg, ratio),
     .min = 0,
     .max = 1,
     .def = "0.5",
     .arg = "F",
     .help = "a ratio"},
    {.name = "map-size",
     .kind = CT_OPT_SIZE,
     .off = offsetof(cfg, map),
     .min = 1 << 20,
     .def = "1G",
     .arg = "SIZE",
     .help = "map size"},
    {.name = "log-level",
     .kind = CT_OPT_CHOICE,
     .off = offsetof(cfg, level),
     .choices = levels,
     .def = "info",
     .help = "log level"},
    {.name = "ep",
     .kind = CT_OPT_LIST,
     .off = offsetof(cfg, eps),
     .def = "tcp://127.0.0.1:1",
     .arg = "EP",
     .help = "endpoint"},
    {0},
};

static const ct_opt_cmd cmds[] = {
    {.name = "run", .bit = C_RUN, .summary = "deliver"},
    {.name = "import",
     .bit = C_IMPORT,
     .args = "FILE.csv [options]",
     .npos_min = 1,
     .npos_max = 1,
     .summary = "import a CSV"},
    {0},
};

static const ct_opt_spec spec = {.prog = "prog",
                                 .usage = "COMMAND --outbox DIR [options]",
                                 .about = "a test",
                                 .cmds = cmds,
                                 .opts = opts};

static ct_err parse(cfg *c, ct_opt_result *r, int argc, const char **argv)
{
    memset(c, 0, sizeof *c);
    return ct_opt_parse(&spec, argc, (char **)argv, c, r);
}

static void test_defaults_and_values(void **st)
{
    (void)st;
    cfg c;
    ct_opt_result r;
    const char *a[] = {"prog",    "run",  "--outbox",   "/x", "--once",      "--window=7",
                       "--ratio", "0.25", "--map-size", "2M", "--log-level", "warn",
                       "--ep",    "a",    "--ep",       "b"};
    assert_int_equal(parse(&c, &r, 16, a), CT_OK);
    assert_false(r.exit_now);
    assert_string_equal(r.cmd->name, "run");
    assert_string_equal(c.outbox, "/x");
    assert_true(c.once);
    assert_int_equal(c.window, 7);
    assert_true(c.ratio == 0.25);
    assert_int_equal(c.map, 2u << 20);
    assert_int_equal(c.level, 2);
    assert_int_equal(c.eps.n, 2); /* the default list is replaced, not appended to */
    assert_string_equal(c.eps.v[0], "a");
    assert_string_equal(c.eps.v[1], "b");
    assert_true(r.given[2] && r.given[3]);

    const char *b[] = {"prog", "run", "--outbox", "/y"};
    assert_int_equal(parse(&c, &r, 4, b), CT_OK);
    assert_int_equal(c.window, 4096);
    assert_true(c.ratio == 0.5);
    assert_int_equal(c.map, 1u << 30);
    assert_int_equal(c.level, 1);
    assert_int_equal(c.eps.n, 1);
    assert_string_equal(c.eps.v[0], "tcp://127.0.0.1:1");
    assert_false(c.once);
    assert_true(r.given[0] && !r.given[2] && !r.given[3]);
}

static void test_value_errors(void **st)
{
    (void)st;
    cfg c = {0};
    char err[256];
    assert_int_equal(ct_opt_set(&opts[2], "0", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_string_equal(err, "--window: '0' is not a whole number from 1 to 65536");
    assert_int_equal(ct_opt_set(&opts[2], "12x", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_int_equal(ct_opt_set(&opts[2], "", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_int_equal(ct_opt_set(&opts[3], "1.5", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_string_equal(err, "--ratio: '1.5' is not a number from 0 to 1");
    assert_int_equal(ct_opt_set(&opts[3], "nan", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_int_equal(ct_opt_set(&opts[4], "12", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_string_equal(
        err, "--map-size: '12' is not a size of at least 1048576 bytes (e.g. 512M, 16G)");
    assert_int_equal(ct_opt_set(&opts[5], "loud", &c, true, err, sizeof err), CT_ERR_USAGE);
    assert_string_equal(err, "--log-level: 'loud' is not one of debug, info, warn, error");
    assert_int_equal(c.window, 0); /* a refused value changes nothing */
}

static void test_usage_errors(void **st)
{
    (void)st;
    cfg c;
    ct_opt_result r;
    const char *nocmd[] = {"prog"};
    assert_int_equal(parse(&c, &r, 1, nocmd), CT_ERR_USAGE);
    const char *badcmd[] = {"prog", "fly", "--outbox", "/x"};
    assert_int_equal(parse(&c, &r, 4, badcmd), CT_ERR_USAGE);
    const char *unknown[] = {"prog", "run", "--outbox", "/x", "--nope"};
    assert_int_equal(parse(&c, &r, 5, unknown), CT_ERR_USAGE);
    const char *noval[] = {"prog", "run", "--outbox"};
    assert_int_equal(parse(&c, &r, 3, noval), CT_ERR_USAGE);
    const char *mask[] = {"prog", "import", "f.csv", "--outbox", "/x", "--once"};
    assert_int_equal(parse(&c, &r, 6, mask), CT_ERR_USAGE); /* --once is run's only */
    const char *req[] = {"prog", "run"};
    assert_int_equal(parse(&c, &r, 2, req), CT_ERR_USAGE);
    const char *pos0[] = {"prog", "import", "--outbox", "/x"};
    assert_int_equal(parse(&c, &r, 4, pos0), CT_ERR_USAGE);
    const char *pos2[] = {"prog", "import", "a.csv", "b.csv", "--outbox", "/x"};
    assert_int_equal(parse(&c, &r, 6, pos2), CT_ERR_USAGE);
    const char *extra[] = {"prog", "run", "--outbox", "/x", "stray"};
    assert_int_equal(parse(&c, &r, 5, extra), CT_ERR_USAGE);
    const char *ok[] = {"prog", "import", "--outbox", "/x", "a.csv"};
    assert_int_equal(parse(&c, &r, 5, ok), CT_OK);
    assert_int_equal(r.npos, 1);
    assert_string_equal(r.pos[0], "a.csv");
}

static void test_help_and_version(void **st)
{
    (void)st;
    cfg c;
    ct_opt_result r;
    const char *h[] = {"prog", "--help"};
    assert_int_equal(parse(&c, &r, 2, h), CT_OK);
    assert_true(r.exit_now);
    const char *ch[] = {"prog", "import", "--help"}; /* no --outbox needed for help */
    assert_int_equal(parse(&c, &r, 3, ch), CT_OK);
    assert_true(r.exit_now);
    const char *v[] = {"prog", "--version"};
    assert_int_equal(parse(&c, &r, 2, v), CT_OK);
    assert_true(r.exit_now);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ct_opt_help(&spec, &cmds[1], f);
    fclose(f);
    assert_non_null(strstr(text, "usage: prog import FILE.csv [options]\n"));
    assert_non_null(strstr(text, "--outbox DIR"));
    assert_non_null(strstr(text, "(default 1G)"));
    assert_null(strstr(text, "--once")); /* run's option is not import's */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
