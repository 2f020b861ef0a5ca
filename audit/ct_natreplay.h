/* ct_natreplay.h — `chitieu-audit national-replay`: the national report
 * reproduced from the provinces' logs at the positions it pins
 * (report/ct_natstatus.h "Pins"), byte for byte as chitieu-reporter
 * --national rendered it.
 *
 * Sources: "CODE=PATH,CODE=PATH,..." — per province a store directory or a
 * .ctlog export (a path ending in ".ctlog"), opened read-only. Every province
 * the pins give figures (feed live, lagging or stale) needs a source; each is
 * replayed from seq 1 to its pinned seq with its own campaign file and
 * checked on the way (a divergence is the finding).
 */
#ifndef CT_NATREPLAY_H
#define CT_NATREPLAY_H

#include <stdbool.h>

#include "ct_buf.h"
#include "ct_error.h"
#include "ct_national.h"
#include "ct_natstatus.h"

typedef struct {
    const char *sources;
    const char *pins;
    ct_natstatus_format fmt;
    unsigned threads;
    bool quiet;
} ct_natreplay_opts;

/* The report into out. CT_ERR_USAGE: bad sources or pins (message in err);
 * another code: a source that cannot be read or a log that ends before its
 * pin; a divergence is CT_ERR_STORE_CORRUPT with the finding in err. */
ct_err ct_audit_national_replay(const ct_national *n, const ct_natreplay_opts *o, ct_buf *out,
                                char *err, size_t errlen);

#endif
