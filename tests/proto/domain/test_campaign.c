/* test_campaign.c — the campaign loader and event check.
 *
 * - the shipped examples/lamdong-2023 campaign: 13 units, 184 staff, province
 *   targets 184/368, each unit's targets = staff x 1 and staff x 2, fingerprint;
 * - broken files from fixtures/ through ct_campaign_load (exact "path:line: message");
 * - many more broken variants in memory (one line of fixtures/small.ini or
 *   fixtures/staff-ok.csv replaced), each with its exact message and line;
 * - ct_campaign_check_event: every reason, the boundaries and the check order.
 * - ct_campaign_checker: the same answers as ct_campaign_check_event, memo or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ct_buf.h"
#include "ct_campaign_load.h"
#include "ct_campaign_default.h"
#include "ct_time.h"

static char src[1024];

static void src_path(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", src, rel);
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("cannot open %s", p);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    const char *s = getenv("CT_SOURCE_DIR");
    snprintf(src, sizeof src, "%s", s ? s : ".");
    return 0;
}

/* ---------- the shipped campaign ---------- */

static const struct {
    uint32_t code;
    const char *name;
    uint32_t staff;
} units[] = {
    {68, "Văn phòng BHXH tỉnh Lâm Đồng", 34},
    {672, "Thành phố Đà Lạt", 22},
    {673, "Thành phố Bảo Lộc", 18},
    {674, "Huyện Đam Rông", 8},
    {675, "Huyện Lạc Dương", 7},
    {676, "Huyện Lâm Hà", 15},
    {677, "Huyện Đơn Dương", 13},
    {678, "Huyện Đức Trọng", 17},
    {679, "Huyện Di Linh", 15},
    {680, "Huyện Bảo Lâm", 12},
    {681, "Huyện Đạ Huoai", 8},
    {682, "Huyện Đạ Tẻh", 7},
    {683, "Huyện Cát Tiên", 8},
};

static void check_lamdong(const ct_campaign *c)
{
    assert_string_equal(c->id, "lamdong-2023");
    assert_int_equal(c->start_ms, INT64_C(1689987600000)); /* 2023-07-22T08:00+07:00 */
    assert_int_equal(c->end_ms, INT64_C(1690822800000));   /* 2023-08-01T00:00+07:00 */
    assert_int_equal(c->tz_offset_min, 420);
    assert_int_equal(c->tolerance_ms, 600000);
    assert_int_equal(c->max_future_ms, 300000);
    assert_int_equal(c->agent_target[CT_PROGRAM_BHXH_TN], 1);
    assert_int_equal(c->agent_target[CT_PROGRAM_BHYT_HGD], 2);
    assert_int_equal(c->n_districts, 13);
    assert_int_equal(c->n_agents, 184);
    assert_int_equal(c->province_target[CT_PROGRAM_BHXH_TN], 184);
    assert_int_equal(c->province_target[CT_PROGRAM_BHYT_HGD], 368);
    uint32_t total = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        const ct_district *d = ct_campaign_district(c, units[i].code);
        assert_non_null(d);
        assert_string_equal(d->name, units[i].name);
        assert_int_equal(d->n_agents, units[i].staff);
        /* recount the roster independently */
        uint32_t n = 0;
        for (size_t a = 0; a < c->n_agents; a++)
            n += c->agents[a].district == d->code;
        assert_int_equal(n, d->n_agents);
        assert_int_equal(d->target[CT_PROGRAM_BHXH_TN], n * 1);
        assert_int_equal(d->target[CT_PROGRAM_BHYT_HGD], n * 2);
        total += n;
    }
    assert_int_equal(total, 184);
    /* sorted, lookups */
    for (size_t i = 1; i < c->n_districts; i++)
        assert_true(c->districts[i - 1].code < c->districts[i].code);
    for (size_t i = 1; i < c->n_agents; i++)
        assert_true(strcmp(c->agents[i - 1].id, c->agents[i].id) < 0);
    const ct_agent *a = ct_campaign_agent(c, "LD672-007");
    assert_non_null(a);
    assert_int_equal(a->district, 672);
    assert_int_equal(a->roster_line, 2 + 34 + 6); /* header, 34 office staff, 7th of 672 */
    assert_null(ct_campaign_agent(c, "LD672-099"));
    assert_null(ct_campaign_agent(c, ""));
    assert_null(ct_campaign_district(c, 684));
    assert_non_null(ct_campaign_group(c, "nq143"));
    assert_null(ct_campaign_group(c, "nq144"));
    size_t buudien = 0;
    for (size_t i = 0; i < c->n_agents; i++)
        buudien += c->agents[i].org == CT_ORG_BUUDIEN;
    assert_true(buudien > 0 && buudien < 184 / 2);
    assert_int_equal(ct_campaign_local_day(c, INT64_C(1690045199000)), 20230722);
    assert_int_equal(ct_campaign_local_day(c, INT64_C(1690045200000)), 20230723);
}

static void test_shipped_campaign(void **state)
{
    (void)state;
    char ini[1200], roster[1200], err[512] = "";
    src_path(ini, sizeof ini, "examples/lamdong-2023/campaign.ini");
    src_path(roster, sizeof roster, "examples/lamdong-2023/staff.csv");
    ct_campaign c;
    ct_err e = ct_campaign_load(ini, &c, err, sizeof err);
    if (e != CT_OK) fail_msg("%s", err);
    check_lamdong(&c);
    /* fingerprint = BLAKE2b-256(ini bytes || roster bytes) */
    size_t il, rl;
    char *ib = slurp(ini, &il), *rb = slurp(roster, &rl);
    uint8_t fp[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)ib, il);
    crypto_generichash_update(&st, (const uint8_t *)rb, rl);
    crypto_generichash_final(&st, fp, 32);
    assert_memory_equal(c.fingerprint, fp, 32);
    /* the same bytes from memory give the same campaign */
    ct_campaign m;
    assert_int_equal(
        ct_campaign_load_mem("campaign.ini", ib, il, "staff.csv", rb, rl, &m, err, sizeof err),
        CT_OK);
    check_lamdong(&m);
    assert_memory_equal(m.fingerprint, fp, 32);
    /* and the copy embedded in the binaries is the same file */
    ct_campaign b;
    assert_int_equal(ct_campaign_load_default(&b, err, sizeof err), CT_OK);
    assert_memory_equal(b.fingerprint, fp, 32);
    ct_campaign_free(&b);
    ct_campaign_free(&m);
    ct_campaign_free(&c);
    assert_null(c.agents);
    free(ib);
    free(rb);
}

static void test_small_campaign(void **state)
{
    (void)state;
    char ini[1200], err[512] = "";
    src_path(ini, sizeof ini, "tests/proto/domain/fixtures/small.ini");
    ct_campaign c;
    ct_err e = ct_campaign_load(ini, &c, err, sizeof err);
    if (e != CT_OK) fail_msg("%s", err);
    assert_string_equal(c.id, "test-2023");
    assert_string_equal(c.name, "Thử nghiệm");
    assert_int_equal(c.n_districts, 2);
    assert_int_equal(c.n_agents, 3);
    assert_int_equal(c.n_groups, 1);
    assert_string_equal(c.groups[0].name, "Nghị quyết 143");
    const ct_district *d = ct_campaign_district(&c, 672);
    assert_int_equal(d->n_agents, 2);
    assert_int_equal(d->target[CT_PROGRAM_BHXH_TN], 2);
    assert_int_equal(d->target[CT_PROGRAM_BHYT_HGD], 10); /* override */
    d = ct_campaign_district(&c, 673);
    assert_int_equal(d->target[CT_PROGRAM_BHXH_TN], 1);
    assert_int_equal(d->target[CT_PROGRAM_BHYT_HGD], 2);
    assert_int_equal(c.province_target[CT_PROGRAM_BHXH_TN], 3);
    assert_int_equal(c.province_target[CT_PROGRAM_BHYT_HGD], 12);
    const ct_agent *a = ct_campaign_agent(&c, "LD672-002");
    assert_string_equal(a->name, "Trần Thị Bình, con"); /* quoted field with a comma */
    assert_int_equal(a->org, CT_ORG_BUUDIEN);
    assert_int_equal(a->roster_line, 3);
    ct_campaign_free(&c);
}

/* ---------- broken fixture files ---------- */

static void test_fixture_errors(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *msg; /* after "<path>:" ; %s = fixtures dir */
        ct_err err;
    } cases[] = {
        {"bad-unknown-key.ini", "bad-unknown-key.ini:4: unknown key 'colour' in [campaign]",
         CT_ERR_CONFIG},
        {"bad-dup-district.ini",
         "bad-dup-district.ini:23: duplicate district 672 (first at line 19)", CT_ERR_CONFIG},
        {"bad-window.ini",
         "bad-window.ini:6: end (2023-07-22T08:00:00+07:00) must be after start "
         "(2023-07-22T08:00:00+07:00)",
         CT_ERR_CONFIG},
        {"bad-syntax.ini", "bad-syntax.ini:9: syntax error (expected 'key = value' or '[section]')",
         CT_ERR_CONFIG},
        {"bad-roster-path.ini",
         "bad-roster-path.ini:8: cannot read roster '%s/missing.csv': No such file or directory",
         CT_ERR_IO},
        {"bad-roster-dup.ini",
         "staff-dup-agent.csv:4: duplicate agent id 'LD672-001' (first at line 2)", CT_ERR_CONFIG},
        {"bad-roster-district.ini",
         "staff-undeclared-district.csv:3: agent 'LD672-002': district 999 is not declared in "
         "%s/bad-roster-district.ini",
         CT_ERR_CONFIG},
        {"bad-roster-org.ini",
         "staff-bad-org.csv:4: agent 'LD673-001': bad org 'vnpost' (expected bhxh or buudien)",
         CT_ERR_CONFIG},
    };
    char dir[1200];
    src_path(dir, sizeof dir, "tests/proto/domain/fixtures");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[1400], want[3000], tail[1600], err[1024] = "";
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].file);
        snprintf(tail, sizeof tail, cases[i].msg, dir);
        snprintf(want, sizeof want, "%s/%s", dir, tail);
        ct_campaign c;
        memset(&c, 0x55, sizeof c);
        ct_err e = ct_campaign_load(p, &c, err, sizeof err);
        if (e != cases[i].err || strcmp(err, want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", cases[i].file, e, err, cases[i].err, want);
        assert_null(c.agents); /* zeroed on failure */
        assert_int_equal(c.n_agents, 0);
    }
    char err[512] = "";
    ct_campaign c;
    char p[1300];
    snprintf(p, sizeof p, "%s/nonexistent.ini", dir);
    assert_int_equal(ct_campaign_load(p, &c, err, sizeof err), CT_ERR_IO);
    assert_non_null(strstr(err, "nonexistent.ini: cannot read campaign file: No such file"));
}

/* ---------- in-memory variants ---------- */

/* base with line `line` (1-based) replaced by text (text may hold newlines) */
static char *patch(const char *base, int line, const char *text, size_t *len)
{
    size_t bl = strlen(base), tl = strlen(text);
    char *out = malloc(bl + tl + 2);
    assert_non_null(out);
    const char *s = base;
    for (int i = 1; i < line; i++) {
        const char *nl = strchr(s, '\n');
        assert_non_null(nl);
        s = nl + 1;
    }
    const char *e = strchr(s, '\n');
    if (!e) e = base + bl;
    size_t pre = (size_t)(s - base);
    memcpy(out, base, pre);
    memcpy(out + pre, text, tl);
    size_t rest = bl - (size_t)(e - base);
    memcpy(out + pre + tl, e, rest);
    *len = pre + tl + rest;
    out[*len] = 0;
    return out;
}

static char *base_ini, *base_roster;
static size_t base_ini_len, base_roster_len;

static void load_bases(void)
{
    char p[1200];
    if (base_ini) return;
    src_path(p, sizeof p, "tests/proto/domain/fixtures/small.ini");
    base_ini = slurp(p, &base_ini_len);
    src_path(p, sizeof p, "tests/proto/domain/fixtures/staff-ok.csv");
    base_roster = slurp(p, &base_roster_len);
}

static void expect_mem(const char *ini, size_t il, const char *ros, size_t rl, const char *want,
                       int prefix_only)
{
    char err[1024] = "";
    ct_campaign c;
    ct_err e = ct_campaign_load_mem("t.ini", ini, il, "r.csv", ros, rl, &c, err, sizeof err);
    if (want == NULL) {
        if (e != CT_OK) fail_msg("expected success, got '%s'", err);
        ct_campaign_free(&c);
        return;
    }
    int ok = e == CT_ERR_CONFIG &&
             (prefix_only ? strncmp(err, want, strlen(want)) == 0 : strcmp(err, want) == 0);
    if (!ok) fail_msg("got %d '%s'\n want '%s'", e, err, want);
    assert_null(c.districts);
}

static void test_ini_errors(void **state)
{
    (void)state;
    load_bases();
    char longline[400];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "name = ", 7);
    longline[sizeof longline - 1] = 0;
    const struct {
        int line;
        const char *text;
        const char *msg;
    } cases[] = {
        {4, "colour = blue", "t.ini:4: unknown key 'colour' in [campaign]"},
        {9, "id = again", "t.ini:9: duplicate key 'id' in [campaign] (first at line 3)"},
        {23, "[district 672]", "t.ini:23: duplicate district 672 (first at line 19)"},
        {16, "[county 5]",
         "t.ini:16: unknown section [county 5] (expected campaign, program, district, group or "
         "reorg)"},
        {6, "end = 2023-07-21",
         "t.ini:6: end (2023-07-21) must be after start (2023-07-22T08:00:00+07:00)"},
        {5, "start = 2023-07-32T08:00",
         "t.ini:5: bad start time '2023-07-32T08:00' (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM])"},
        {6, "end = soon", "t.ini:6: bad end time 'soon' (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM])"},
        {7, "timezone = UTC+7", "t.ini:7: bad timezone 'UTC+7' (expected +HH:MM, -HH:MM or Z)"},
        {3, "id = bad id!",
         "t.ini:3: bad campaign id 'bad id!' (1..32 characters of A-Z a-z 0-9 _ - .)"},
        {3, "; no id", "t.ini:2: [campaign] has no 'id' key"},
        {8, "; no roster", "t.ini:2: [campaign] has no 'roster' key"},
        {8, "roster =", "t.ini:8: 'roster' is empty"},
        {11, "agent_target = -1", "t.ini:11: bad agent_target '-1' (expected a number 0..10000)"},
        {11, "agent_target = 10001",
         "t.ini:11: bad agent_target '10001' (expected a number 0..10000)"},
        {11, "; none", "t.ini:10: [program bhxh_tn] has no 'agent_target' key"},
        {13, "[program bhxh_vn]",
         "t.ini:13: unknown program 'bhxh_vn' (expected bhxh_tn or bhyt_hgd)"},
        {13, "[program bhxh_tn]",
         "t.ini:13: duplicate section [program bhxh_tn] (first at line 10)"},
        {13, "; gone",
         "t.ini:14: duplicate key 'agent_target' in [program bhxh_tn] (first at line 11)"},
        {10, "[program]", "t.ini:10: section [program] needs a program id, e.g. [program bhxh_tn]"},
        {19, "[district 0]", "t.ini:19: bad district code '0' (expected a number 1..65535)"},
        {19, "[district 65536]",
         "t.ini:19: bad district code '65536' (expected a number 1..65535)"},
        {19, "[district 67x]", "t.ini:19: bad district code '67x' (expected a number 1..65535)"},
        {19, "[district]", "t.ini:19: section [district] needs a code, e.g. [district 672]"},
        {20, "; no name", "t.ini:19: [district 672] has no 'name' key"},
        {22, "name = X", "t.ini:22: duplicate key 'name' in [district 672] (first at line 20)"},
        {21, "target.bhxh = 3", "t.ini:21: unknown program 'bhxh' in key 'target.bhxh'"},
        {21, "target.bhyt_hgd = lots",
         "t.ini:21: bad target.bhyt_hgd 'lots' (expected a number 0..1000000000)"},
        {22, "target.bhyt_hgd = 3",
         "t.ini:22: duplicate key 'target.bhyt_hgd' in [district 672] (first at line 21)"},
        {1, "id = x", "t.ini:1: key 'id' outside of any section"},
        {9, "this line has no equals sign",
         "t.ini:9: syntax error (expected 'key = value' or '[section]')"},
        {9, "key ; = x", "t.ini:9: syntax error (expected 'key = value' or '[section]')"},
        {9, "[campaign", "t.ini:9: section header without closing ']'"},
        {9, "[campaign] extra", "t.ini:9: text after section header"},
        {9, "  indented = 1",
         "t.ini:9: indented line (continuation lines are not supported; remove the leading "
         "spaces)"},
        {9, "[campaign]", "t.ini:9: duplicate section [campaign] (first at line 2)"},
        {9, "[campaign x]", "t.ini:9: section [campaign] takes no argument"},
        {17, "name = \xff\xfe", "t.ini:17: 'name' is not valid UTF-8 text"},
        {4, "name = Tab\there", "t.ini:4: 'name' is not valid UTF-8 text"},
        {16, "[group nq 143]",
         "t.ini:16: bad group id 'nq 143' (1..32 characters of A-Z a-z 0-9 _ - .)"},
        {18, "[group nq143]", "t.ini:18: duplicate group nq143 (first at line 16)"},
        {17, "title = x", "t.ini:17: unknown key 'title' in [group nq143]"},
        {9, "tolerance = 99999999",
         "t.ini:9: bad tolerance '99999999' (expected seconds, 0..2592000)"},
        {9, "max_future = 1.5", "t.ini:9: bad max_future '1.5' (expected seconds, 0..2592000)"},
        {2, "; no campaign", "t.ini:3: key 'id' outside of any section"},
        {9, "colour = blue\nid = x", "t.ini:9: unknown key 'colour' in [campaign]"}, /* first */
        {9, longline, "t.ini:9: line too long (max "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *ini = patch(base_ini, cases[i].line, cases[i].text, &len);
        expect_mem(ini, len, base_roster, base_roster_len, cases[i].msg, cases[i].text == longline);
        free(ini);
    }
    /* the unpatched base loads */
    expect_mem(base_ini, base_ini_len, base_roster, base_roster_len, NULL, 0);
    /* a missing program section is reported at the end of the file */
    size_t l1, l2;
    char *a = patch(base_ini, 13, "; gone", &l1);
    char *b = patch(a, 14, "; gone", &l2);
    expect_mem(b, l2, base_roster, base_roster_len, "t.ini:24: missing [program bhyt_hgd] section",
               0);
    free(a);
    free(b);
    /* a syntax error before one of ours is the first error */
    a = patch(base_ini, 4, "no equals here", &l1);
    b = patch(a, 9, "colour = blue", &l2);
    expect_mem(b, l2, base_roster, base_roster_len,
               "t.ini:4: syntax error (expected 'key = value' or '[section]')", 0);
    free(a);
    free(b);
    /* NUL byte */
    char nul[64] = "[campaign]\nid = a\0b\n";
    expect_mem(nul, 20, base_roster, base_roster_len, "t.ini:2: NUL byte in line", 0);
    /* no districts at all */
    const char *nod = "[campaign]\nid = x\nstart = 2023-07-22\nend = 2023-07-23\n"
                      "timezone = Z\nroster = r.csv\n[program bhxh_tn]\nagent_target = 1\n"
                      "[program bhyt_hgd]\nagent_target = 1\n";
    expect_mem(nod, strlen(nod), base_roster, base_roster_len, "t.ini:10: no [district N] section",
               0);
    /* empty file */
    expect_mem("", 0, base_roster, base_roster_len, "t.ini:1: missing [campaign] section", 0);
    /* CRLF line ends, a BOM and inline comments are fine */
    size_t n = 0;
    char *crlf = malloc(2 * base_ini_len + 4);
    memcpy(crlf, "\xEF\xBB\xBF", 3);
    n = 3;
    for (size_t i = 0; i < base_ini_len; i++) {
        if (base_ini[i] == '\n') crlf[n++] = '\r';
        crlf[n++] = base_ini[i];
    }
    expect_mem(crlf, n, base_roster, base_roster_len, NULL, 0);
    free(crlf);
    char *ic = patch(base_ini, 11, "agent_target = 1 ; per staff member", &l1);
    expect_mem(ic, l1, base_roster, base_roster_len, NULL, 0);
    free(ic);
}

static void test_roster_errors(void **state)
{
    (void)state;
    load_bases();
    static struct {
        int line;
        const char *text;
        const char *msg;
    } cases[] = {
        {3, "LD672-001,Trần Thị Bình,672,bhxh",
         "r.csv:3: duplicate agent id 'LD672-001' (first at line 2)"},
        {3, "LD672-002,Trần Thị Bình,999,bhxh",
         "r.csv:3: agent 'LD672-002': district 999 is not declared in t.ini"},
        {3, "LD672-002,Trần Thị Bình,672,vnpost",
         "r.csv:3: agent 'LD672-002': bad org 'vnpost' (expected bhxh or buudien)"},
        {3, "LD672-002,Trần Thị Bình,672,BHXH",
         "r.csv:3: agent 'LD672-002': bad org 'BHXH' (expected bhxh or buudien)"},
        {3, "LD672-002,Tr\xff,672,bhxh",
         "r.csv:3: agent 'LD672-002': name is not valid UTF-8 text"},
        {3, "LD672-002,\"Trần\nBình\",672,bhxh",
         "r.csv:3: agent 'LD672-002': name is not valid UTF-8 text"},
        {3, "LĐ672-002,Trần Thị Bình,672,bhxh",
         "r.csv:3: bad agent id 'LĐ672-002' (1..32 printable ASCII characters, no spaces)"},
        {3, "LD 672,Trần Thị Bình,672,bhxh",
         "r.csv:3: bad agent id 'LD 672' (1..32 printable ASCII characters, no spaces)"},
        {3, "LD672-0000000000000000000000000002,Trần Thị Bình,672,bhxh",
         "r.csv:3: agent id is longer than 32 characters"},
        {3, "LD672-002,Trần Thị Bình,672",
         "r.csv:3: expected 4 fields (agent_id,name,district,org), got 3"},
        {3, "LD672-002,Trần Thị Bình,672,bhxh,extra",
         "r.csv:3: expected 4 fields (agent_id,name,district,org), got 5"},
        {3, "LD672-002,,672,bhxh", "r.csv:3: agent 'LD672-002': empty name"},
        {4, "LD673-001,Lê Văn Cường,abc,bhxh",
         "r.csv:4: agent 'LD673-001': bad district 'abc' (expected a district code)"},
        {4, "LD673-001,Lê Văn Cường,0,bhxh",
         "r.csv:4: agent 'LD673-001': bad district '0' (expected a district code)"},
        {3, "LD672-002,\"Trần \"Bình\",672,bhxh", "r.csv:3: malformed CSV ("},
        {1, "id,name,district,org",
         "r.csv:1: the first line must be the header agent_id,name,district,org"},
        {1, "agent_id,name,org,district",
         "r.csv:1: the first line must be the header agent_id,name,district,org"},
        {1, "agent_id,name,district,org\n\nLD672-001,A,672,bhxh\n\nLD672-009,B,672,post",
         "r.csv:5: agent 'LD672-009': bad org 'post' (expected bhxh or buudien)"},
        /* the first error wins: a row error before a duplicate, and after */
        {3, "LD672-002,B,672,post\nLD672-001,C,673,bhxh",
         "r.csv:3: agent 'LD672-002': bad org 'post' (expected bhxh or buudien)"},
        {3, "LD672-001,B,672,bhxh\nLD672-003,C,672,post",
         "r.csv:3: duplicate agent id 'LD672-001' (first at line 2)"},
        {4, "LD672-001,C,673,bhxh\nLD672-002,D,673,bhxh",
         "r.csv:4: duplicate agent id 'LD672-001' (first at line 2)"},
        {2, "LD672-002,A,672,bhxh", "r.csv:3: duplicate agent id 'LD672-002' (first at line 2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *r = patch(base_roster, cases[i].line, cases[i].text, &len);
        expect_mem(base_ini, base_ini_len, r, len, cases[i].msg,
                   strstr(cases[i].msg, "malformed") != NULL);
        free(r);
    }
    const char *hdr_only = "agent_id,name,district,org\n";
    expect_mem(base_ini, base_ini_len, hdr_only, strlen(hdr_only),
               "r.csv:1: the roster lists no staff", 0);
    expect_mem(base_ini, base_ini_len, "", 0,
               "r.csv:1: empty roster (the header agent_id,name,district,org is required)", 0);
    const char *unterminated = "agent_id,name,district,org\nLD672-001,\"Nguyễn,672,bhxh\n";
    expect_mem(base_ini, base_ini_len, unterminated, strlen(unterminated),
               "r.csv:2: malformed CSV (unterminated quoted field at end of file)", 0);
    /* CRLF, BOM and no final newline are fine */
    const char *crlf = "\xEF\xBB\xBF"
                       "agent_id,name,district,org\r\nLD672-001,A,672,bhxh\r\nLD673-001,B,673,"
                       "buudien";
    expect_mem(base_ini, base_ini_len, crlf, strlen(crlf), NULL, 0);
    const char *crlf_bad = "agent_id,name,district,org\r\nLD672-001,A,672,bhxh\r\n"
                           "LD673-001,B,673,x\r\n";
    expect_mem(base_ini, base_ini_len, crlf_bad, strlen(crlf_bad),
               "r.csv:3: agent 'LD673-001': bad org 'x' (expected bhxh or buudien)", 0);
    /* a district without staff gets target 0 unless overridden */
    const char *one = "agent_id,name,district,org\nLD672-001,A,672,bhxh\n";
    char err[256];
    ct_campaign c;
    assert_int_equal(ct_campaign_load_mem("t.ini", base_ini, base_ini_len, "r.csv", one,
                                          strlen(one), &c, err, sizeof err),
                     CT_OK);
    assert_int_equal(ct_campaign_district(&c, 673)->target[CT_PROGRAM_BHXH_TN], 0);
    assert_int_equal(ct_campaign_district(&c, 672)->target[CT_PROGRAM_BHYT_HGD], 10);
    assert_int_equal(c.province_target[CT_PROGRAM_BHXH_TN], 1);
    assert_int_equal(c.province_target[CT_PROGRAM_BHYT_HGD], 10);
    ct_campaign_free(&c);
}

/* A NUL byte inside a value is an error naming the file and line, never a
 * value silently cut at the NUL: in an INI value, in an unquoted or quoted
 * roster field, and on the second line of a quoted field spanning two; also
 * through ct_campaign_load from real files. */
static void put_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    load_bases();
    /* INI: district name "Thành phố Đà Lạt\0 (cũ)" on line 20 */
    size_t il;
    char *ini = patch(base_ini, 20, "name = Da Lat#X (cu)", &il);
    char *x = memchr(ini, '#', il);
    assert_non_null(x);
    *x = '\0';
    expect_mem(ini, il, base_roster, base_roster_len, "t.ini:20: NUL byte in line", 0);
    /* roster: unquoted, quoted, second line of a quoted field */
    static const char *const rows[] = {"LD672-002,Tran#Binh,672,bhxh",
                                       "LD672-002,\"Tran#Binh\",672,bhxh",
                                       "LD672-002,672#-junk,672,bhxh"};
    for (size_t i = 0; i < 3; i++) {
        size_t rl;
        char *r = patch(base_roster, 3, rows[i], &rl);
        char *h = memchr(r, '#', rl);
        assert_non_null(h);
        *h = '\0';
        expect_mem(base_ini, base_ini_len, r, rl, "r.csv:3: NUL byte in line", 0);
        free(r);
    }
    static const char two[] = "agent_id,name,district,org\nLD672-001,A,672,bhxh\n"
                              "LD672-002,\"Tran\nBi#nh\",672,bhxh\n";
    char *t = malloc(sizeof two);
    memcpy(t, two, sizeof two);
    *strchr(t, '#') = '\0';
    expect_mem(base_ini, base_ini_len, t, sizeof two - 1, "r.csv:4: NUL byte in line", 0);
    /* through the files */
    char dir[] = "/tmp/ct-campaign-nul-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ip[128], rp[128], err[512] = "", want[256];
    snprintf(ip, sizeof ip, "%s/c.ini", dir);
    snprintf(rp, sizeof rp, "%s/staff.csv", dir);
    size_t ol;
    char *fini = patch(base_ini, 8, "roster = staff.csv", &ol);
    put_file(ip, fini, ol);
    put_file(rp, t, sizeof two - 1);
    ct_campaign c;
    assert_int_equal(ct_campaign_load(ip, &c, err, sizeof err), CT_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:4: NUL byte in line", rp);
    assert_string_equal(err, want);
    assert_null(c.agents);
    put_file(rp, base_roster, base_roster_len);
    assert_int_equal(ct_campaign_load(ip, &c, err, sizeof err), CT_OK);
    ct_campaign_free(&c);
    char *fini2 = patch(fini, 20, "name = Da Lat#X", &ol);
    *(char *)memchr(fini2, '#', ol) = '\0';
    put_file(ip, fini2, ol);
    assert_int_equal(ct_campaign_load(ip, &c, err, sizeof err), CT_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:20: NUL byte in line", ip);
    assert_string_equal(err, want);
    unlink(ip);
    unlink(rp);
    rmdir(dir);
    free(fini);
    free(fini2);
    free(t);
    free(ini);
}

/* ---------- communes ---------- */

/* base_ini with lines appended (they land in its last section, [district 673]);
 * *first = the line number of the first appended line. */
static char *with_lines(const char *lines, size_t *len, int *first)
{
    int nl = 0;
    for (size_t i = 0; i < base_ini_len; i++)
        nl += base_ini[i] == '\n';
    *first = nl + 1;
    size_t ll = strlen(lines);
    char *b = malloc(base_ini_len + ll + 1);
    assert_non_null(b);
    memcpy(b, base_ini, base_ini_len);
    memcpy(b + base_ini_len, lines, ll + 1);
    *len = base_ini_len + ll;
    return b;
}

static void test_communes(void **state)
{
    (void)state;
    load_bases();
    size_t len;
    int first;
    char *ini = with_lines("commune = Phường 2\ncommune = Phường 1\n", &len, &first);
    ct_campaign c, plain;
    char err[512];
    assert_int_equal(ct_campaign_load_mem("t.ini", ini, len, "r.csv", base_roster, base_roster_len,
                                          &c, err, sizeof err),
                     CT_OK);
    assert_int_equal(ct_campaign_load_mem("t.ini", base_ini, base_ini_len, "r.csv", base_roster,
                                          base_roster_len, &plain, err, sizeof err),
                     CT_OK);
    /* the fingerprint covers the list */
    assert_memory_not_equal(c.fingerprint, plain.fingerprint, sizeof c.fingerprint);
    const ct_district *d = ct_campaign_district(&c, 673);
    assert_int_equal(d->n_communes, 2);
    assert_string_equal(d->communes[0], "Phường 1");
    assert_string_equal(d->communes[1], "Phường 2");
    assert_int_equal(ct_campaign_district(&c, 672)->n_communes, 0);
    /* commune codes: 1-based in the sorted list, whatever the file order */
    assert_int_equal(ct_campaign_commune_code(&c, 673, "Phường 1"), 1);
    assert_int_equal(ct_campaign_commune_code(&c, 673, "Phường 2"), 2);
    assert_int_equal(ct_campaign_commune_code(&c, 673, "Phường 3"), 0);
    assert_int_equal(ct_campaign_commune_code(&c, 673, ""), 0);
    assert_int_equal(ct_campaign_commune_code(&c, 672, "Phường 1"), 0); /* no list */
    assert_int_equal(ct_campaign_commune_code(&c, 999, "Phường 1"), 0); /* no unit */
    ct_event ok;
    memset(&ok, 0, sizeof ok);
    strcpy(ok.campaign, "test-2023");
    ok.district = 673;
    strcpy(ok.agent, "LD673-001");
    ok.occurred_ms = c.start_ms + 3600000;
    ct_campaign_checker *k;
    assert_int_equal(ct_campaign_checker_new(&c, &k), CT_OK);
    const struct {
        uint32_t district;
        const char *agent, *commune;
        ct_err want;
    } cases[] = {
        {673, "LD673-001", "", CT_OK}, /* no commune: nothing to check */
        {673, "LD673-001", "Phường 1", CT_OK},
        {673, "LD673-001", "Phường 2", CT_OK},
        {673, "LD673-001", "Phường 3", CT_ERR_UNKNOWN_COMMUNE},
        {673, "LD673-001", "phường 1", CT_ERR_UNKNOWN_COMMUNE}, /* bytes, not a fuzzy match */
        {673, "LD673-001", "Phường 1 ", CT_ERR_UNKNOWN_COMMUNE},
        {672, "LD672-001", "Phường 3", CT_OK}, /* 672 lists none: free text */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_event e = ok;
        e.district = cases[i].district;
        strcpy(e.agent, cases[i].agent);
        strcpy(e.commune, cases[i].commune);
        assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), cases[i].want);
        /* twice through the checker: a remembered roster pass never skips it */
        assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), cases[i].want);
        assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), cases[i].want);
        assert_int_equal(ct_campaign_check_event(&plain, &e, INT64_MAX), CT_OK);
    }
    /* an unknown commune is checked before the window */
    ct_event e = ok;
    strcpy(e.commune, "Phường 3");
    e.occurred_ms = c.end_ms + 3600000;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_COMMUNE);
    ct_campaign_checker_free(k);
    ct_campaign_free(&c);
    ct_campaign_free(&plain);
    free(ini);

    char want[200], line[200];
    char long_name[CT_COMMUNE_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const struct {
        const char *lines;
        int at; /* the failing line, from the first appended */
        const char *msg;
    } bad[] = {
        {"commune = Phường 1\ncommune = Phường 1\n", 1,
         "commune 'Phường 1' given twice in [district 673]"},
        {"commune =\n", 0, "'commune' is empty"},
        {"commune = \x01x\n", 0, "'commune' is not valid UTF-8 text"},
        {NULL, 0, "'commune' is too long (max 96 bytes)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *lines = bad[i].lines;
        if (!lines) {
            snprintf(line, sizeof line, "commune = %s\n", long_name);
            lines = line;
        }
        ini = with_lines(lines, &len, &first);
        snprintf(want, sizeof want, "t.ini:%d: %s", first + bad[i].at, bad[i].msg);
        expect_mem(ini, len, base_roster, base_roster_len, want, 0);
        free(ini);
    }
    /* the bound: CT_COMMUNES_MAX names, one more refused */
    ct_buf many = CT_BUF_INIT;
    for (int i = 0; i <= CT_COMMUNES_MAX; i++)
        assert_int_equal(ct_buf_printf(&many, "commune = Thôn %d\n", i), CT_OK);
    ct_buf_append(&many, "", 1);
    ini = with_lines((const char *)many.data, &len, &first);
    snprintf(want, sizeof want, "t.ini:%d: too many communes in [district 673] (max %d)",
             first + CT_COMMUNES_MAX, CT_COMMUNES_MAX);
    expect_mem(ini, len, base_roster, base_roster_len, want, 0);
    free(ini);
    ct_buf_free(&many);
}

/* ---------- check_event ---------- */

static void test_check_event(void **state)
{
    (void)state;
    load_bases();
    ct_campaign c;
    char err[256];
    assert_int_equal(ct_campaign_load_mem("t.ini", base_ini, base_ini_len, "r.csv", base_roster,
                                          base_roster_len, &c, err, sizeof err),
                     CT_OK);
    const int64_t start = c.start_ms, end = c.end_ms, tol = 600000, fut = 300000;
    ct_event ok;
    memset(&ok, 0, sizeof ok);
    strcpy(ok.campaign, "test-2023");
    ok.district = 672;
    strcpy(ok.agent, "LD672-001");
    ok.program = CT_PROGRAM_BHXH_TN;
    ok.action = CT_ACTION_ENROLL;
    ok.occurred_ms = start + 3600000;
    assert_int_equal(ct_campaign_check_event(&c, &ok, INT64_MAX), CT_OK);
    assert_int_equal(ct_campaign_check_event(&c, &ok, ok.occurred_ms), CT_OK);

    ct_event e = ok;
    strcpy(e.campaign, "lamdong-2023");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_WRONG_CAMPAIGN);
    e = ok;
    e.district = 999;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_DISTRICT);
    e = ok;
    strcpy(e.agent, "LD999-001");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_AGENT);
    e = ok;
    strcpy(e.agent, "LD673-001");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_AGENT_DISTRICT);
    e = ok;
    strcpy(e.group, "nq999");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_GROUP);
    strcpy(e.group, "nq143");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_OK);
    /* window [start - tolerance, end + tolerance) */
    e = ok;
    e.occurred_ms = start - tol;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_OK);
    e.occurred_ms = start - tol - 1;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_OUTSIDE_WINDOW);
    e.occurred_ms = end + tol - 1;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_OK);
    e.occurred_ms = end + tol;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_OUTSIDE_WINDOW);
    e.occurred_ms = INT64_MIN;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_OUTSIDE_WINDOW);
    e.occurred_ms = INT64_MAX;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_OUTSIDE_WINDOW);
    /* future: occurred <= now + max_future */
    e = ok;
    assert_int_equal(ct_campaign_check_event(&c, &e, e.occurred_ms - fut), CT_OK);
    assert_int_equal(ct_campaign_check_event(&c, &e, e.occurred_ms - fut - 1), CT_ERR_IN_FUTURE);
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX - 1), CT_OK);
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MIN), CT_ERR_IN_FUTURE);
    /* order: campaign, district, agent, agent's district, group, window, future */
    e = ok;
    strcpy(e.campaign, "x");
    e.district = 999;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_WRONG_CAMPAIGN);
    e = ok;
    e.district = 999;
    strcpy(e.agent, "nobody");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_DISTRICT);
    e = ok;
    strcpy(e.agent, "nobody");
    strcpy(e.group, "nq999");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_AGENT);
    e = ok;
    strcpy(e.agent, "LD673-001");
    strcpy(e.group, "nq999");
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_AGENT_DISTRICT);
    e = ok;
    strcpy(e.group, "nq999");
    e.occurred_ms = end + tol;
    assert_int_equal(ct_campaign_check_event(&c, &e, INT64_MAX), CT_ERR_UNKNOWN_GROUP);
    e = ok;
    e.occurred_ms = end + tol;
    assert_int_equal(ct_campaign_check_event(&c, &e, start), CT_ERR_OUTSIDE_WINDOW);
    assert_int_equal(ct_campaign_local_day(&c, start), 20230722);
    assert_int_equal(ct_campaign_local_day(&c, end - 1), 20230731);
    ct_campaign_free(&c);
}

/* The checker gives ct_campaign_check_event's answer for every input, also
 * on a memo hit: every combination of the values the check reads (campaign,
 * district, agent, group, occurred-at, clock), twice through one checker (the
 * second round hits the remembered passes), interleaved with a passing event
 * of the same staff member right before each. */
static void test_checker(void **state)
{
    (void)state;
    load_bases();
    ct_campaign c;
    char err[256];
    assert_int_equal(ct_campaign_load_mem("t.ini", base_ini, base_ini_len, "r.csv", base_roster,
                                          base_roster_len, &c, err, sizeof err),
                     CT_OK);
    const int64_t start = c.start_ms, end = c.end_ms, tol = 600000, fut = 300000;
    static const char *const camps[] = {"test-2023", "x"};
    static const uint32_t dists[] = {672, 673, 999};
    static const char *const agents[] = {"LD672-001", "LD673-001", "nobody"};
    static const char *const groups[] = {"", "nq143", "nq999"};
    const int64_t times[] = {start - tol - 1, start - tol, start + 3600000,
                             end + tol - 1,   end + tol,   INT64_MIN};
    ct_campaign_checker *k = NULL;
    assert_int_equal(ct_campaign_checker_new(&c, &k), CT_OK);
    assert_non_null(k);
    unsigned n = 0, fails[256] = {0};
    for (int round = 0; round < 2; round++)
        for (size_t a = 0; a < 2; a++)
            for (size_t d = 0; d < 3; d++)
                for (size_t g = 0; g < 3; g++)
                    for (size_t ag = 0; ag < 3; ag++)
                        for (size_t t = 0; t < 6; t++)
                            for (int clk = 0; clk < 3; clk++) {
                                ct_event e;
                                memset(&e, 0, sizeof e);
                                strcpy(e.campaign, camps[a]);
                                e.district = dists[d];
                                strcpy(e.agent, agents[ag]);
                                strcpy(e.group, groups[g]);
                                e.program = (ct_program)(t % 2);
                                e.action = CT_ACTION_ENROLL;
                                e.occurred_ms = start + 3600000;
                                /* a pass of this staff member first, when it can pass */
                                ct_err p0 = ct_campaign_check_event(&c, &e, INT64_MAX);
                                assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), p0);
                                e.occurred_ms = times[t];
                                int64_t now = clk == 0   ? INT64_MAX
                                              : clk == 1 ? e.occurred_ms - fut
                                                         : e.occurred_ms - fut - 1;
                                if (e.occurred_ms == INT64_MIN && clk) now = INT64_MIN;
                                ct_err want = ct_campaign_check_event(&c, &e, now);
                                assert_int_equal(ct_campaign_checker_check(k, &e, now), want);
                                n++;
                                if ((unsigned)want < 256) fails[want]++;
                            }
    assert_int_equal(n, 2 * 2 * 3 * 3 * 3 * 6 * 3);
    /* every outcome occurs, the time ones behind a remembered pass */
    assert_true(fails[CT_OK] > 0 && fails[CT_ERR_OUTSIDE_WINDOW] > 0 &&
                fails[CT_ERR_IN_FUTURE] > 0);
    assert_true(fails[CT_ERR_WRONG_CAMPAIGN] > 0 && fails[CT_ERR_UNKNOWN_DISTRICT] > 0 &&
                fails[CT_ERR_UNKNOWN_AGENT] > 0 && fails[CT_ERR_AGENT_DISTRICT] > 0 &&
                fails[CT_ERR_UNKNOWN_GROUP] > 0);
    /* a remembered pass does not outlive a change of any key value */
    ct_event e;
    memset(&e, 0, sizeof e);
    strcpy(e.campaign, "test-2023");
    e.district = 672;
    strcpy(e.agent, "LD672-001");
    e.occurred_ms = start;
    assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), CT_OK);
    strcpy(e.group, "nq999");
    assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), CT_ERR_UNKNOWN_GROUP);
    e.group[0] = 0;
    e.occurred_ms = end + tol;
    assert_int_equal(ct_campaign_checker_check(k, &e, INT64_MAX), CT_ERR_OUTSIDE_WINDOW);
    e.occurred_ms = start;
    assert_int_equal(ct_campaign_checker_check(k, &e, start - fut - 1), CT_ERR_IN_FUTURE);
    assert_int_equal(ct_campaign_checker_check(NULL, &e, INT64_MAX), CT_ERR_ARG);
    ct_campaign_checker_free(k);
    ct_campaign_free(&c);
}

static int teardown(void **state)
{
    (void)state;
    free(base_ini);
    free(base_roster);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_campaign), cmocka_unit_test(test_small_campaign),
        cmocka_unit_test(test_fixture_errors),   cmocka_unit_test(test_ini_errors),
        cmocka_unit_test(test_roster_errors),    cmocka_unit_test(test_check_event),
        cmocka_unit_test(test_checker),          cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_communes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
