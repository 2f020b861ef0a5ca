/* ct_addr.c — "ADDR:PORT" to an IPv4 socket address (rule in ct_addr.h). */
#include "ct_addr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ct_num.h"

ct_err ct_addr_parse(const char *s, struct sockaddr_in *sa, char *err, size_t errlen)
{
    assert(s && sa);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(s, ':');
    const char *port = colon ? colon + 1 : s;
    if (colon && colon != s) {
        size_t hl = (size_t)(colon - s);
        if (hl >= sizeof host) {
            snprintf(err, errlen, "address too long: %s", s);
            return CT_ERR_USAGE;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    uint64_t p;
    if (!ct_num_parse_u64(port, 65535, &p)) {
        snprintf(err, errlen, "bad port in %s (want ADDR:PORT, e.g. 127.0.0.1:8080)", s);
        return CT_ERR_USAGE;
    }
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "bad IPv4 address in %s", s);
        return CT_ERR_USAGE;
    }
    sa->sin_port = htons((uint16_t)p);
    return CT_OK;
}
