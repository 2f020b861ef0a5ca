/* ct_cli.c — shared command-line helpers (see ct_cli.h). */
#include "ct_cli.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_log.h"

bool ct_cli_parse_size(const char *s, size_t min, size_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || s[0] < '0' || s[0] > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    case 't':
    case 'T':
        mul = 1ull << 40;
        end++;
        break;
    default:
        break;
    }
    if (mul > 1 && (*end == 'B' || *end == 'b')) end++;
    if (*end || v == 0 || v > SIZE_MAX / mul) return false;
    *out = (size_t)(v * mul);
    return *out >= min;
}

bool ct_cli_set_log_level(const char *s)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            ct_log_set_level((ct_log_level)i);
            return true;
        }
    }
    return false;
}

void ct_cli_on_stop_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
