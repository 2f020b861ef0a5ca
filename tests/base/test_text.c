/* test_text.c — the text output rules of base/ct_text.h, byte for byte: JSON
 * string escapes (every control byte, quotes, backslash, DEL, UTF-8 verbatim),
 * CSV quoting (separators, quotes, CR/LF, leading and trailing spaces), display
 * width (NFC and NFD Vietnamese, wide, invalid bytes) and hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct_text.h"

/* Renders s with fn and compares with want (NUL-terminated). */
static void check(ct_err (*fn)(ct_buf *, const char *), const char *s, const char *want)
{
    ct_buf b = CT_BUF_INIT;
    assert_int_equal(fn(&b, s), CT_OK);
    assert_int_equal(ct_buf_append(&b, "", 1), CT_OK);
    assert_string_equal((const char *)b.data, want);
    ct_buf_free(&b);
}

static void test_json_plain(void **state)
{
    (void)state;
    check(ct_text_json_str, "", "\"\"");
    check(ct_text_json_str, "abc 123", "\"abc 123\"");
    check(ct_text_json_str, "Đà Lạt", "\"Đà Lạt\"");                   /* UTF-8 verbatim */
    check(ct_text_json_str, "Da\xcc\x80", "\"Da\xcc\x80\"");           /* NFD verbatim */
    check(ct_text_json_str, "\xff\xfe", "\"\xff\xfe\"");               /* invalid verbatim */
    check(ct_text_json_str, "/ <tag> '", "\"/ <tag> '\"");             /* no other escapes */
    check(ct_text_json_str, "say \"hi\"\\", "\"say \\\"hi\\\"\\\\\""); /* quote, backslash */
}

static void test_json_control(void **state)
{
    (void)state;
    check(ct_text_json_str, "\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    check(ct_text_json_str, "a\x01z", "\"a\\u0001z\"");
    check(ct_text_json_str, "\x1b[0m", "\"\\u001b[0m\"");
    check(ct_text_json_str, "\x1f\x7f", "\"\\u001f\\u007f\"");
    check(ct_text_json_str, " \x0b ", "\" \\u000b \"");
    /* every byte from 1 to 0x1f escapes to a 2- or 6-character form */
    for (int c = 1; c < 0x20; c++) {
        char in[2] = {(char)c, 0};
        ct_buf b = CT_BUF_INIT;
        assert_int_equal(ct_text_json_str(&b, in), CT_OK);
        int shortform = c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t';
        assert_int_equal(b.len, shortform ? 4 : 8);
        assert_int_equal(b.data[1], '\\');
        ct_buf_free(&b);
    }
}

static void test_prom_label(void **state)
{
    (void)state;
    check(ct_text_prom_label, "", "");
    check(ct_text_prom_label, "tcp://127.0.0.1:7701", "tcp://127.0.0.1:7701");
    check(ct_text_prom_label, "a\"b", "a\\\"b");
    check(ct_text_prom_label, "a\\b", "a\\\\b");
    check(ct_text_prom_label, "line\nbreak", "line\\nbreak");
    check(ct_text_prom_label, "\"\\\n", "\\\"\\\\\\n");
    check(ct_text_prom_label, "Đà Lạt\t", "Đà Lạt\t"); /* other bytes as they are */
}

static void test_csv(void **state)
{
    (void)state;
    check(ct_text_csv_field, "", "");
    check(ct_text_csv_field, "plain", "plain");
    check(ct_text_csv_field, "Đà Lạt", "Đà Lạt"); /* inner space: bare */
    check(ct_text_csv_field, "a,b", "\"a,b\"");
    check(ct_text_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\"");
    check(ct_text_csv_field, "\"", "\"\"\"\"");
    check(ct_text_csv_field, "line\nbreak", "\"line\nbreak\"");
    check(ct_text_csv_field, "cr\r", "\"cr\r\"");
    check(ct_text_csv_field, " lead", "\" lead\"");
    check(ct_text_csv_field, "trail ", "\"trail \"");
    check(ct_text_csv_field, " ", "\" \"");
    check(ct_text_csv_field, "tab\tinside", "tab\tinside");
    check(ct_text_csv_field, "\x01\x7f", "\x01\x7f"); /* control bytes are not CSV's business */
    check(ct_text_csv_field, "Thành phố \"Đà Lạt\", Lâm Đồng",
          "\"Thành phố \"\"Đà Lạt\"\", Lâm Đồng\"");
}

static void test_display_width(void **state)
{
    (void)state;
    const char *nfc = "Lâm Đồng";                                /* 8 code points */
    const char *nfd = "La\xcc\x82m \xc4\x90o\xcc\x82\xcc\x80ng"; /* NFD: combining marks */
    assert_int_equal(ct_text_display_width(nfc, strlen(nfc)), 8);
    assert_int_equal(ct_text_display_width(nfd, strlen(nfd)), 8);
    assert_int_equal(ct_text_display_width("漢字", strlen("漢字")), 4);
    assert_int_equal(ct_text_display_width("", 0), 0);
    assert_int_equal(ct_text_display_width("abc", 2), 2); /* n, not strlen */
    assert_int_equal(ct_text_display_width("\xff"
                                           "a",
                                           2),
                     2);                                   /* invalid byte: 1 */
    assert_int_equal(ct_text_display_width("\xc3", 1), 1); /* truncated: 1 */
    assert_int_equal(ct_text_display_width("\xe1\xba"
                                           "a",
                                           3),
                     3); /* broken 3-byte: 1 each */
    assert_int_equal(ct_text_display_width("a\xe2\x80\x8b"
                                           "b",
                                           5),
                     2); /* zero-width space */
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof b + 1];
    memset(out, 'x', sizeof out);
    ct_text_hex(b, sizeof b, out);
    assert_string_equal(out, "00017f80abff");
    ct_text_hex(b, 0, out);
    assert_string_equal(out, "");
}

static void test_unhex(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(ct_text_unhex("00017f80abFF", 12, out), CT_OK);
    const uint8_t want[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(ct_text_unhex("", 0, out), CT_OK);
    assert_int_equal(ct_text_unhex("12345", 4, out), CT_OK); /* n digits, not up to the NUL */
    assert_int_equal(out[0], 0x12);
    assert_int_equal(out[1], 0x34);
    /* round trip of every byte */
    uint8_t all[256], back[256];
    char hex[513];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    ct_text_hex(all, sizeof all, hex);
    assert_int_equal(ct_text_unhex(hex, 512, back), CT_OK);
    assert_memory_equal(back, all, sizeof all);
    /* refusals leave out untouched */
    const char *bad[] = {"abc",  "0x12", " 12a", "12 a",     "+1ab",
                         "-1ab", "g0",   "0g",   "\xc3\xa1", NULL};
    for (int i = 0; bad[i]; i++) {
        memset(out, 0x5a, sizeof out);
        if (ct_text_unhex(bad[i], strlen(bad[i]), out) != CT_ERR_BAD_VALUE)
            fail_msg("accepted \"%s\"", bad[i]);
        for (size_t j = 0; j < sizeof out; j++)
            assert_int_equal(out[j], 0x5a);
    }
    assert_int_equal(ct_text_unhex("1\0", 2, out), CT_ERR_BAD_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_plain),    cmocka_unit_test(test_json_control),
        cmocka_unit_test(test_csv),           cmocka_unit_test(test_prom_label),
        cmocka_unit_test(test_display_width), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_unhex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
