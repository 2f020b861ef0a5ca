/* ct_cli.h — small command-line helpers shared by every chitieu binary, so
 * that options mean the same thing everywhere: sizes ("512M", "16G"), log
 * levels, and the usual signal set-up (SIGINT/SIGTERM to a handler, SIGPIPE
 * ignored). */
#ifndef CT_CLI_H
#define CT_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Parses a positive byte size with an optional K/M/G/T suffix (powers of 1024)
 * and an optional trailing 'B': "1048576", "512M", "16G", "4KiB" is refused.
 * False on syntax errors, 0, overflow or a value below min. */
bool ct_cli_parse_size(const char *s, size_t min, size_t *out);

/* "debug" | "info" | "warn" | "error" -> ct_log_set_level(); false otherwise. */
bool ct_cli_set_log_level(const char *s);

/* SIGINT and SIGTERM call handler (no SA_RESTART, so blocking calls return
 * EINTR); SIGPIPE is ignored. */
void ct_cli_on_stop_signals(void (*handler)(int));

#endif
