/* test_addr.c — "ADDR:PORT" as the servers read it (base/ct_addr.h): the
 * accepted forms with their exact address and port, and the refusals,
 * among them the port forms strtol would take (" +80", "80 "). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ct_addr.h"

static void expect(const char *s, const char *host, uint16_t port)
{
    struct sockaddr_in sa;
    char err[128] = "";
    assert_int_equal(ct_addr_parse(s, &sa, err, sizeof err), CT_OK);
    assert_int_equal(sa.sin_family, AF_INET);
    char got[INET_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET, &sa.sin_addr, got, sizeof got));
    assert_string_equal(got, host);
    assert_int_equal(ntohs(sa.sin_port), port);
}

static void test_accepted(void **state)
{
    (void)state;
    expect("127.0.0.1:8080", "127.0.0.1", 8080);
    expect("0.0.0.0:443", "0.0.0.0", 443);
    expect("localhost:80", "127.0.0.1", 80);
    expect(":9000", "127.0.0.1", 9000);
    expect("9001", "127.0.0.1", 9001);
    expect("10.1.2.3:0", "10.1.2.3", 0);
    expect("10.1.2.3:65535", "10.1.2.3", 65535);
    expect("10.1.2.3:080", "10.1.2.3", 80);
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "127.0.0.1:",
                         "127.0.0.1: 80",
                         "127.0.0.1: +80",
                         "127.0.0.1:+80",
                         "127.0.0.1:-1",
                         "127.0.0.1:80 ",
                         "127.0.0.1:65536",
                         "127.0.0.1:0x50",
                         "127.0.0.1:99999999999999999999",
                         "127.0.0.1:8o",
                         "example.org:80",
                         "256.0.0.1:80",
                         "[::1]:80",
                         "::1:80",
                         "1.2.3.4.5:80",
                         "0123456789012345678901234567890123456789012345678901234567890123:80",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        struct sockaddr_in sa;
        char err[160] = "";
        if (ct_addr_parse(bad[i], &sa, err, sizeof err) != CT_ERR_USAGE)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err, bad[i]));
    }
    char err[160];
    struct sockaddr_in sa;
    ct_addr_parse("127.0.0.1: +80", &sa, err, sizeof err);
    assert_string_equal(err, "bad port in 127.0.0.1: +80 (want ADDR:PORT, e.g. 127.0.0.1:8080)");
    ct_addr_parse("example.org:80", &sa, err, sizeof err);
    assert_string_equal(err, "bad IPv4 address in example.org:80");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
