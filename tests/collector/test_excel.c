/* test_excel.c — CSV files as Excel writes them, imported by ct_import into a
 * real LMDB outbox: the fixtures of tests/collector/fixtures (made by
 * make_fixtures.py) with every report line and refusal asserted exactly,
 * the values they were read as, the spreadsheet value rules one by one, and
 * the dry run (nothing stored, exact counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_csvsniff.h"
#include "ct_import.h"
#include "ct_keys.h"
#include "ct_outbox.h"
#include "ct_sheetval.h"
#include "ct_testkit.h"
#include "ct_time.h"

static ct_campaign camp;
static uint8_t pkey[CT_PERSON_KEY_BYTES];
static char fixtures[512];

typedef struct {
    ct_tmpdir tmp;
    char ob_dir[300];
    ct_outbox *ob;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(ct_tmpdir_make(&f->tmp, "ct-test-excel"), 0);
    snprintf(f->ob_dir, sizeof f->ob_dir, "%s/ob", f->tmp.dir);
    char err[256];
    assert_int_equal(ct_outbox_open(f->ob_dir, 16u << 20, &f->ob, err, sizeof err), CT_OK);
    assert_int_equal(ct_outbox_init(f->ob, 672, camp.id, "builtin", err, sizeof err), CT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ct_outbox_close(f->ob);
    assert_int_equal(ct_tmpdir_remove(&f->tmp), 0);
    free(f);
    return 0;
}

static ct_signup_ctx ctx(void)
{
    ct_signup_ctx c = {.campaign = &camp,
                       .district = 672,
                       .person_key = pkey,
                       .validate = true,
                       .time_required = true};
    return c;
}

static void fixture_path(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", fixtures, name);
}

typedef struct {
    size_t n;
    ct_event evs[16];
} scan_acc;

static ct_err scan_cb(void *c, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)seq;
    scan_acc *a = c;
    bool idk;
    assert_true(a->n < 16);
    assert_int_equal(ct_event_decode(b, len, &a->evs[a->n++], &idk), CT_OK);
    return CT_OK;
}

/* Runs one import; the report (bad rows) and the plan (dry run) are
 * returned as strings with every occurrence of the fixture directory
 * replaced by "F". */
typedef struct {
    ct_err rc;
    ct_import_stats st;
    char err[700];
    char report[4096];
    char plan[4096];
} run_result;

static void strip_dir(char *s)
{
    size_t dl = strlen(fixtures);
    char *p;
    while ((p = strstr(s, fixtures)) != NULL) {
        p[0] = 'F';
        memmove(p + 1, p + dl, strlen(p + dl) + 1);
    }
}

static void run_import(fixture *f, const char *name, bool dry, run_result *r)
{
    char path[700];
    fixture_path(name, path, sizeof path);
    char *rep = NULL, *plan = NULL;
    size_t rl = 0, pl = 0;
    FILE *rf = open_memstream(&rep, &rl), *pf = open_memstream(&plan, &pl);
    assert_non_null(rf);
    assert_non_null(pf);
    ct_signup_ctx c = ctx();
    ct_import_opts o = {.report = rf, .plan = dry ? pf : NULL, .dry_run = dry};
    r->rc = ct_import_csv(f->ob, path, &c, &o, &r->st, r->err, sizeof r->err);
    fclose(rf);
    fclose(pf);
    assert_true(rl < sizeof r->report && pl < sizeof r->plan);
    memcpy(r->report, rep, rl + 1);
    memcpy(r->plan, plan, pl + 1);
    free(rep);
    free(plan);
    strip_dir(r->report);
    strip_dir(r->plan);
    strip_dir(r->err);
}

static void assert_outbox(fixture *f, uint64_t next_seq, uint64_t queued, uint64_t imports)
{
    ct_outbox_info in;
    assert_int_equal(ct_outbox_get_info(f->ob, &in), CT_OK);
    assert_int_equal(in.next_seq, next_seq);
    assert_int_equal(in.queued, queued);
    assert_int_equal(in.imports, imports);
}

static int64_t t(const char *iso)
{
    int64_t ms;
    assert_int_equal(ct_time_parse(iso, 0, &ms), CT_OK);
    return ms;
}

/* ---- the value rules ---- */

static void test_sniff_rules(void **state)
{
    (void)state;
    static const char *const h1 = "agent_id;program;occurred_at\r\n";
    assert_int_equal(ct_csvsniff_sep(h1, strlen(h1)), ';');
    static const char *const h2 = "agent_id,program,occurred_at\n";
    assert_int_equal(ct_csvsniff_sep(h2, strlen(h2)), ',');
    static const char *const h3 = "agent_id\tprogram\toccurred_at\n";
    assert_int_equal(ct_csvsniff_sep(h3, strlen(h3)), '\t');
    static const char *const h4 = "\"a;b;c\",program,x\n"; /* quoted ';' do not count */
    assert_int_equal(ct_csvsniff_sep(h4, strlen(h4)), ',');
    static const char *const h5 = "agent_id\n";
    assert_int_equal(ct_csvsniff_sep(h5, strlen(h5)), ',');
    /* "Phường" in Windows-1258 (ư ơ, combining grave); "Xã Tà" in Windows-1252 */
    static const uint8_t w1258[] = {'P', 'h', 0xFD, 0xF5, 0xCC, 'n', 'g'};
    static const uint8_t w1252[] = {'X', 0xE3, ' ', 'T', 0xE0};
    assert_int_equal(ct_csvsniff_codepage(w1258, sizeof w1258), CT_CODEPAGE_1258);
    assert_int_equal(ct_csvsniff_codepage(w1252, sizeof w1252), CT_CODEPAGE_1252);
}

static void test_sheet_time_rules(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool vi;
        const char *want; /* ISO at +07:00, or NULL */
        const char *why;
    } cases[] = {
        {"22/07/2023 09:15", true, "2023-07-22T09:15:00+07:00", NULL},
        {"22/07/2023 09:15", false, "2023-07-22T09:15:00+07:00", NULL},
        {"2/7/2023 9:05:30", true, "2023-07-02T09:05:30+07:00", NULL},
        {"22/07/2023  23:59:59", true, "2023-07-22T23:59:59+07:00", NULL},
        {"05/07/2023 09:15", true, "2023-07-05T09:15:00+07:00", NULL},
        {"07/07/2023 09:15", false, "2023-07-07T09:15:00+07:00", NULL}, /* reads one way */
        {"2023-07-22 09:15", false, "2023-07-22T09:15:00+07:00", NULL},
        {"2023-07-22T09:15:00+05:00", false, "2023-07-22T11:15:00+07:00", NULL},
        {"05/07/2023 09:15", false, NULL,
         "ambiguous date '05/07/2023 09:15' (5 July or May 7?): write it as yyyy-mm-dd HH:MM, "
         "e.g. 2023-07-05 09:15 for 5 July"},
        {"07/24/2023 15:00", true, NULL,
         "bad time '07/24/2023 15:00' (expected dd/mm/yyyy HH:MM[:SS], e.g. 22/07/2023 09:15, "
         "or yyyy-mm-dd HH:MM[:SS], e.g. 2023-07-22 09:15, or ISO 8601 with a zone, e.g. "
         "2023-07-22T09:15:00+07:00)"},
        {"07/24/2023 15:00", false, NULL, "bad time '07/24/2023 15:00' (expected dd/mm/yyyy"},
        {"25/07/2023", true, NULL, "bad time '25/07/2023' (expected"},
        {"31/06/2023 09:00", true, NULL, "bad time '31/06/2023 09:00' (expected"},
        {"22/07/23 09:00", true, NULL, "bad time '22/07/23 09:00' (expected"},
        {"22/07/2023 24:00", true, NULL, "bad time '22/07/2023 24:00' (expected"},
        {"22/07/2023 9:5", true, NULL, "bad time '22/07/2023 9:5' (expected"},
        {"22/07/2023 09:15 SA", true, NULL, "bad time '22/07/2023 09:15 SA' (expected"},
        {"22/07/2023T09:15", true, NULL, "bad time '22/07/2023T09:15' (expected"},
        {"yesterday", true, NULL, "bad time 'yesterday' (expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_sheet_conv cv = {.vi_locale = cases[i].vi};
        int64_t ms = -1;
        char why[400];
        ct_err e = ct_sheet_time(cases[i].in, &cv, 420, &ms, why, sizeof why);
        if (cases[i].want) {
            if (e != CT_OK) fail_msg("'%s': %s", cases[i].in, why);
            assert_int_equal(ms, t(cases[i].want));
        } else {
            assert_int_equal(e, CT_ERR_BAD_VALUE);
            if (strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
                fail_msg("'%s': got '%s', want '%s'", cases[i].in, why, cases[i].why);
        }
    }
}

static void test_sheet_amount_rules(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool vi;
        int64_t want; /* < 0: refused with why */
        const char *why;
    } cases[] = {
        {"1500000", false, 1500000, NULL},
        {"1.500.000", true, 1500000, NULL},
        {"1.500.000", false, 1500000, NULL},
        {"1,500,000", true, 1500000, NULL},
        {"1,500,000", false, 1500000, NULL},
        {"486.000", true, 486000, NULL},
        {"1.500.000,00", true, 1500000, NULL},
        {"1,500,000.00", false, 1500000, NULL},
        {"1500.00", false, 1500, NULL},
        {"1,000", true, 1, NULL}, /* vi-VN: one, with three decimals */
        {"18446744073709551615", false, INT64_MAX, NULL},
        {"1.500", false, -1,
         "ambiguous amount '1.500' ('.' between thousands or before decimals?): write it "
         "without separators, e.g. 1500"},
        {"1,500", false, -1,
         "ambiguous amount '1,500' (',' between thousands or before decimals?): write it "
         "without separators, e.g. 1500"},
        {"891,5", true, -1, "amount must be a whole number of VND (got '891,5')"},
        {"1.5", false, -1, "amount must be a whole number of VND (got '1.5')"},
        {"1.5000.000", true, -1, "amount must be a whole number of VND (got '1.5000.000')"},
        {"1.500,000.00", true, -1, "amount must be a whole number of VND (got '1.500,000.00')"},
        {"01.500", true, -1, "amount must be a whole number of VND (got '01.500')"},
        {"1.500.", true, -1, "amount must be a whole number of VND (got '1.500.')"},
        {".500", true, -1, "amount must be a whole number of VND (got '.500')"},
        {"-5", true, -1, "amount must be a whole number of VND (got '-5')"},
        {"1 500 000", true, -1, "amount must be a whole number of VND (got '1 500 000')"},
        {"18446744073709551616", false, -1,
         "amount must be a whole number of VND (got '18446744073709551616')"},
        {"18.446.744.073.709.551.616", true, -1,
         "amount must be a whole number of VND (got '18.446.744.073.709.551.616')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ct_sheet_conv cv = {.vi_locale = cases[i].vi};
        uint64_t v = 0;
        char why[300];
        ct_err e = ct_sheet_amount(cases[i].in, &cv, &v, why, sizeof why);
        if (cases[i].want >= 0) {
            if (e != CT_OK) fail_msg("'%s': %s", cases[i].in, why);
            if (cases[i].want == INT64_MAX)
                assert_true(v == UINT64_MAX);
            else
                assert_int_equal(v, (uint64_t)cases[i].want);
        } else {
            assert_int_equal(e, CT_ERR_BAD_VALUE);
            assert_string_equal(why, cases[i].why);
        }
    }
}

static void test_sheet_id_rules(void **state)
{
    (void)state;
    char why[300];
    assert_true(ct_sheet_id_mangled("68190004521", why, sizeof why));
    assert_string_equal(why, "national ID has 11 digits: Excel removed the leading zero: format "
                             "the column as Text");
    assert_true(ct_sheet_id_mangled("1199003344", why, sizeof why));
    assert_string_equal(why, "national ID has 10 digits: Excel removed the leading zeros: format "
                             "the column as Text");
    static const char *const sci[] = {"6.8190E+11", "6,8190E+11", "6.819e11", "7E+11"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(ct_sheet_id_mangled(sci[i], why, sizeof why));
        assert_string_equal(why, "national ID is a number in scientific notation: Excel rounded "
                                 "it and its digits are lost: format the column as Text and "
                                 "enter the IDs again");
    }
    /* a typo, not Excel: an 11-digit ID that still starts with 0, 13 digits, letters */
    static const char *const other[] = {"06819000452",  "0681900045211", "068190004521",
                                        "12345678901x", "E+11",          "6.8E+"};
    for (size_t i = 0; i < 6; i++)
        assert_false(ct_sheet_id_mangled(other[i], why, sizeof why));
}

/* ---- the fixtures ---- */

static const char vi_report[] =
    "F/excel-vi.csv:6: national ID has 11 digits: Excel removed the leading zero: format the "
    "column as Text\n"
    "F/excel-vi.csv:7: national ID has 10 digits: Excel removed the leading zeros: format the "
    "column as Text\n"
    "F/excel-vi.csv:8: national ID is a number in scientific notation: Excel rounded it and its "
    "digits are lost: format the column as Text and enter the IDs again\n"
    "F/excel-vi.csv:9: bad time '07/24/2023 15:00' (expected dd/mm/yyyy HH:MM[:SS], e.g. "
    "22/07/2023 09:15, or yyyy-mm-dd HH:MM[:SS], e.g. 2023-07-22 09:15, or ISO 8601 with a zone, "
    "e.g. 2023-07-22T09:15:00+07:00)\n"
    "F/excel-vi.csv:10: bad time '25/07/2023' (expected dd/mm/yyyy HH:MM[:SS], e.g. 22/07/2023 "
    "09:15, or yyyy-mm-dd HH:MM[:SS], e.g. 2023-07-22 09:15, or ISO 8601 with a zone, e.g. "
    "2023-07-22T09:15:00+07:00)\n"
    "F/excel-vi.csv:11: amount must be a whole number of VND (got '891,5')\n"
    "F/excel-vi.csv:12: amount must be a whole number of VND (got '1.5000.000')\n";

static const char vi_plan[] =
    "F/excel-vi.csv:2: would queue: enroll bhxh_tn, agent LD672-001, 2023-07-22T09:15:00+07:00, "
    "commune Phường 1, 12 months, 3564000 VND, group nongdan\n"
    "F/excel-vi.csv:3: would queue: enroll bhyt_hgd, agent LD672-002, 2023-07-22T10:40:05+07:00, "
    "commune Phường 3, 12 months, 972000 VND, group nq143\n"
    "F/excel-vi.csv:4: would queue: enroll bhyt_hgd, agent LD672-003, 2023-07-23T08:05:00+07:00, "
    "commune Xã Tà Nung; thôn 2, 12 months, 972000 VND, group nq143\n"
    "F/excel-vi.csv:5: would queue: enroll bhxh_tn, agent LD672-004, 2023-07-23T14:20:00+07:00, "
    "commune Phường 8, 6 months, 1500000 VND, group nongdan\n"
    "F/excel-vi.csv:13: would queue: cancel bhyt_hgd, agent LD672-002, 2023-07-28T11:00:00+07:00, "
    "commune Phường 3\n";

/* "CSV UTF-8 (Comma delimited)" of a Vietnamese Excel: BOM, ';', CRLF,
 * dd/mm/yyyy, 1.500.000, IDs Excel turned into numbers. */
static void test_fixture_vi(void **state)
{
    fixture *f = *state;
    run_result r;
    run_import(f, "excel-vi.csv", false, &r);
    assert_int_equal(r.rc, CT_OK);
    assert_true(r.st.bom);
    assert_int_equal(r.st.sep, ';');
    assert_int_equal(r.st.rows, 12);
    assert_int_equal(r.st.queued, 5);
    assert_int_equal(r.st.already, 0);
    assert_int_equal(r.st.bad, 7);
    assert_string_equal(r.report, vi_report);
    assert_string_equal(r.plan, "");
    assert_outbox(f, 6, 5, 5);
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(f->ob, 0, 16, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 5);
    static const struct {
        const char *agent, *commune, *time;
        uint64_t amount;
    } want[] = {
        {"LD672-001", "Phường 1", "2023-07-22T09:15:00+07:00", 3564000},
        {"LD672-002", "Phường 3", "2023-07-22T10:40:05+07:00", 972000},
        {"LD672-003", "Xã Tà Nung; thôn 2", "2023-07-23T08:05:00+07:00", 972000},
        {"LD672-004", "Phường 8", "2023-07-23T14:20:00+07:00", 1500000},
        {"LD672-002", "Phường 3", "2023-07-28T11:00:00+07:00", 0},
    };
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(acc.evs[i].agent, want[i].agent);
        assert_string_equal(acc.evs[i].commune, want[i].commune);
        assert_int_equal(acc.evs[i].occurred_ms, t(want[i].time));
        assert_int_equal(acc.evs[i].has_amount, want[i].amount != 0);
        assert_int_equal(acc.evs[i].amount_vnd, want[i].amount);
    }
    uint8_t h[CT_PERSON_LEN];
    assert_int_equal(ct_person_hash(pkey, "068190004521", h), CT_OK);
    assert_memory_equal(acc.evs[0].person, h, CT_PERSON_LEN);
    assert_int_equal(acc.evs[4].action, CT_ACTION_CANCEL);
    assert_memory_equal(acc.evs[4].person, acc.evs[1].person, CT_PERSON_LEN);
}

/* A ','-separated file says nothing about its locale: what reads two ways is
 * refused, what reads one way is accepted. */
static void test_fixture_comma(void **state)
{
    fixture *f = *state;
    run_result r;
    run_import(f, "excel-comma.csv", false, &r);
    assert_int_equal(r.rc, CT_OK);
    assert_false(r.st.bom);
    assert_int_equal(r.st.sep, ',');
    assert_int_equal(r.st.rows, 6);
    assert_int_equal(r.st.queued, 3);
    assert_int_equal(r.st.bad, 3);
    assert_string_equal(
        r.report,
        "F/excel-comma.csv:4: ambiguous amount '1,500' (',' between thousands or before "
        "decimals?): write it without separators, e.g. 1500\n"
        "F/excel-comma.csv:5: ambiguous date '05/07/2023 09:15' (5 July or May 7?): write it as "
        "yyyy-mm-dd HH:MM, e.g. 2023-07-05 09:15 for 5 July\n"
        "F/excel-comma.csv:7: ambiguous amount '1.500' ('.' between thousands or before "
        "decimals?): write it without separators, e.g. 1500\n");
    scan_acc acc = {0};
    assert_int_equal(ct_outbox_scan(f->ob, 0, 16, scan_cb, &acc), CT_OK);
    assert_int_equal(acc.n, 3);
    assert_int_equal(acc.evs[0].amount_vnd, 3564000);
    assert_int_equal(acc.evs[0].occurred_ms, t("2023-07-22T09:15:00+07:00"));
    assert_int_equal(acc.evs[1].amount_vnd, 1500000);
    assert_int_equal(acc.evs[2].amount_vnd, 1500);
    assert_int_equal(acc.evs[2].occurred_ms, t("2023-07-24T09:15:00+07:00"));
}

/* Files that are not UTF-8 are refused as a whole, with the way out; the
 * outbox is untouched. */
static void test_fixture_not_utf8(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *name, *err;
    } cases[] = {
        {"excel-cp1258.csv",
         "F/excel-cp1258.csv:2: this file is not UTF-8 (byte 0xFD at byte 41 of the line); it "
         "looks like Windows-1258 (Vietnamese), what Excel writes for \"CSV (Comma delimited)\": "
         "open it in Excel, choose Save As, file type \"CSV UTF-8 (Comma delimited)\", and "
         "import that file"},
        {"excel-cp1252.csv",
         "F/excel-cp1252.csv:4: this file is not UTF-8 (byte 0xE3 at byte 41 of the line); it "
         "looks like Windows-1252 (Western European), what Excel writes for \"CSV (Comma "
         "delimited)\": open it in Excel, choose Save As, file type \"CSV UTF-8 (Comma "
         "delimited)\", and import that file"},
        {"excel-utf16.csv",
         "F/excel-utf16.csv: this file is UTF-16 (Excel's \"Unicode Text\"): open it in Excel, "
         "choose Save As, file type \"CSV UTF-8 (Comma delimited)\", and import that file"},
    };
    for (size_t i = 0; i < 3; i++) {
        run_result r;
        run_import(f, cases[i].name, false, &r);
        assert_int_equal(r.rc, CT_ERR_BAD_UTF8);
        assert_string_equal(r.err, cases[i].err);
        assert_int_equal(r.st.rows, 0);
        assert_string_equal(r.report, "");
        assert_outbox(f, 1, 0, 0);
    }
}

static void test_fixture_nul(void **state)
{
    fixture *f = *state;
    run_result r;
    run_import(f, "excel-nul.csv", false, &r);
    assert_int_equal(r.rc, CT_OK);
    assert_int_equal(r.st.rows, 3);
    assert_int_equal(r.st.queued, 2);
    assert_int_equal(r.st.bad, 1);
    assert_string_equal(r.report,
                        "F/excel-nul.csv:3: field 'amount' contains a NUL byte (damaged file?)\n");
    assert_outbox(f, 3, 2, 2);
}

/* A BOM before a quoted first header field: the BOM is not part of it. */
static void test_bom_before_quote(void **state)
{
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/q.csv", f->tmp.dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("\xEF\xBB\xBF\"agent_id\";\"program\";\"person_hash\";\"occurred_at\"\r\n"
          "LD672-001;bhxh_tn;1111111111111111111111111111111111111111111111111111111111111111;"
          "22/07/2023 09:15\r\n",
          fp);
    fclose(fp);
    ct_signup_ctx c = ctx();
    ct_import_opts o = {.report = stderr};
    ct_import_stats st;
    char err[600];
    assert_int_equal(ct_import_csv(f->ob, path, &c, &o, &st, err, sizeof err), CT_OK);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.bad, 0);
}

/* The dry run: the same reports, every good row planned, exact counts, and
 * the outbox unchanged (nothing queued, no idempotency key recorded). */
static void test_dry_run(void **state)
{
    fixture *f = *state;
    run_result r;
    run_import(f, "excel-vi.csv", true, &r);
    assert_int_equal(r.rc, CT_OK);
    assert_int_equal(r.st.rows, 12);
    assert_int_equal(r.st.queued, 5);
    assert_int_equal(r.st.already, 0);
    assert_int_equal(r.st.bad, 7);
    assert_string_equal(r.report, vi_report);
    assert_string_equal(r.plan, vi_plan);
    assert_outbox(f, 1, 0, 0);

    /* queued for real, then a dry run says all are already queued */
    run_import(f, "excel-vi.csv", false, &r);
    assert_int_equal(r.st.queued, 5);
    assert_outbox(f, 6, 5, 5);
    run_import(f, "excel-vi.csv", true, &r);
    assert_int_equal(r.st.queued, 0);
    assert_int_equal(r.st.already, 5);
    assert_int_equal(r.st.bad, 7);
    assert_non_null(strstr(r.plan, "F/excel-vi.csv:2: already queued: enroll bhxh_tn, agent "
                                   "LD672-001, 2023-07-22T09:15:00+07:00, commune Phường 1"));
    assert_outbox(f, 6, 5, 5);

    /* a file refused as a whole in a dry run: the same refusal */
    run_import(f, "excel-cp1258.csv", true, &r);
    assert_int_equal(r.rc, CT_ERR_BAD_UTF8);
    assert_string_equal(r.plan, "");
    assert_outbox(f, 6, 5, 5);
}

int main(void)
{
    char err[512];
    if (ct_crypto_init() != CT_OK) return 1;
    const char *src = getenv("CT_SOURCE_DIR");
    snprintf(fixtures, sizeof fixtures, "%s/tests/collector/fixtures", src ? src : ".");
    if (ct_campaign_load_default(&camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof pkey; i++)
        pkey[i] = (uint8_t)(i * 7 + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_rules),
        cmocka_unit_test(test_sheet_time_rules),
        cmocka_unit_test(test_sheet_amount_rules),
        cmocka_unit_test(test_sheet_id_rules),
        cmocka_unit_test_setup_teardown(test_fixture_vi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_comma, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom_before_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&camp);
    return rc;
}
