/* ct_audit_main.h — the parts of chitieu-audit's main (binary-only, not in
 * ct_audit_lib): the settings its option table writes, the command bits,
 * the exit codes, and one function per command (ct_audit_cmd_*.c), each
 * returning the exit code after printing its result or its error.
 */
#ifndef CT_AUDIT_MAIN_H
#define CT_AUDIT_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_audit.h"
#include "ct_opt.h"

enum { EXIT_DIVERGED = 1, EXIT_USAGE = 2 };
enum { VERIFY = 1, REPLAY = 2, EXPORT = 4, REBUILD = 8, TRACE = 16, NATREPLAY = 32, LIFE = 64 };

typedef struct {
    const char *data, *file, *campaign, *output, *input, *format, *now, *feed, *time;
    const char *from_time, *to_time, *agent, *person, *day, *national, *sources, *pins;
    const char *event, *kind;
    int64_t seq, from_seq, to_seq, district, threads, unit;
    bool staff, no_ids, quiet;
    int units;
} ct_audit_cfg;

/* indexes in the option table of options whose presence matters (--seq 0, --unit 0) */
enum { O_SEQ = 8, O_UNIT = 24 };

/* msg on stderr as "chitieu-audit: msg"; returns rc */
int ct_audit_main_fail(int rc, const char *msg);
/* a usage error against the option spec; returns EXIT_USAGE */
int ct_audit_main_usage(const char *msg);
/* The engine's finding, if any, on stdout as "FAIL ..." lines: EXIT_DIVERGED, else rc_ok. */
int ct_audit_main_finding(const ct_audit *a, int rc_ok);

int ct_audit_cmd_verify(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                        ct_audit *a);
int ct_audit_cmd_rebuild(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                         ct_audit *a);
int ct_audit_cmd_replay(const ct_audit_cfg *o, const ct_opt_result *res, const ct_audit_src *src,
                        ct_audit_opts *ao, ct_audit *a);
int ct_audit_cmd_natreplay(const ct_audit_cfg *o, unsigned threads);
int ct_audit_cmd_export(const ct_audit_cfg *o, const ct_audit_src *src, const ct_campaign *c);
int ct_audit_cmd_trace(const ct_audit_cfg *o, const ct_audit_src *src, ct_audit_opts *ao,
                       ct_audit *a);
int ct_audit_cmd_life(const ct_audit_cfg *o, const ct_opt_result *res, const ct_audit_src *src,
                      ct_audit_opts *ao, ct_audit *a);

#endif
