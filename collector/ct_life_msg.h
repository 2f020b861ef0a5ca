/* ct_life_msg.h — how the collector words the campaign's life entries
 * (docs/PROTOCOL.md §2.2) for people: the aggregator's answer to one, in a
 * sentence, and a one-line summary of an entry (kind, target, reason), as
 * the command line, `rejected` and the office screen print them.
 */
#ifndef CT_LIFE_MSG_H
#define CT_LIFE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_life.h"

/* A human sentence for an aggregator's refusal code of a life entry (the
 * codes of §2.2 and §5.3 in plain words; any other code: ct_err_str). */
const char *ct_life_answer_msg(ct_err code);

/* "kind=correct event=HEX q=Q unit=D program=P np=P2 a=A w=\"W\" g=G
 * by=NAME why=\"...\"" (only the kind's fields), times at tz. */
void ct_life_summary(const ct_life *l, int32_t tz_offset_min, char *buf, size_t len);

/* Whether a reason holds nothing but spaces and tabs (a reason must say
 * something). */
bool ct_life_reason_blank(const char *reason);

#endif
