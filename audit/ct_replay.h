/* ct_replay.h — `chitieu-audit replay`: the recount as of a log position
 * (docs/audit.md "replay"), for the status report the reporter would have
 * printed there.
 */
#ifndef CT_REPLAY_H
#define CT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_audit.h"

/* Recounts the source from seq 1 into *a (initialised here, freed by the
 * caller) up to seq (by_time false; 0 = nothing) or up to the last record
 * received at or before at_ms (by_time true). A store's head below seq, a
 * file not starting at seq 1, or a log ending before seq are errors (message
 * in err); a divergence on the way is the finding (ct_audit_result). */
ct_err ct_audit_replay(ct_audit *a, const ct_audit_src *src, const ct_audit_opts *o, bool by_time,
                       uint64_t seq, int64_t at_ms, char *err, size_t errlen);

#endif
