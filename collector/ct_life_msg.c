/* ct_life_msg.c — the wording of life entries and of the aggregator's
 * answers to them (see ct_life_msg.h). Pure functions, no state. */
#include "ct_life_msg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_buf.h"
#include "ct_time.h"

const char *ct_life_answer_msg(ct_err code)
{
    switch (code) {
    case CT_ERR_NOT_CURRENT:
        return "this sign-up is no longer the person's current one: it was cancelled or replaced "
               "(or moved to the other program by a correction)";
    case CT_ERR_ALREADY_VOIDED:
        return "this sign-up was voided already";
    case CT_ERR_CORRECT_CONFLICT:
        return "the person is already enrolled in the program the correction moves the sign-up "
               "to";
    case CT_ERR_UNKNOWN_EVENT:
        return "headquarters has no sign-up with that id, person and unit at that log position";
    case CT_ERR_ALREADY_CLOSED:
        return "that day is closed already for that unit";
    case CT_ERR_NOT_CLOSED:
        return "that day is not closed for that unit";
    case CT_ERR_ALREADY_APPLIED:
        return "that reorganization is in force already";
    case CT_ERR_UNKNOWN_REORG:
        return "headquarters' campaign file declares no reorganization of that name";
    case CT_ERR_FORBIDDEN:
        return "this office's key may not issue that entry (void and correct for its own unit "
               "only; targets, closes and reorganizations need an admin key)";
    case CT_ERR_BAD_VALUE:
        return "a value is not allowed (e.g. a correction that changes nothing)";
    default:
        return ct_err_str(code);
    }
}

void ct_life_summary(const ct_life *l, int32_t tz, char *buf, size_t len)
{
    ct_buf b = CT_BUF_INIT;
    char v[48];
    ct_buf_printf(&b, "kind=%s", ct_life_kind_name(l->kind));
    if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT) {
        char hex[2 * CT_EVENT_ID_LEN + 1];
        ct_event_id_hex(l->target_id, hex);
        ct_buf_printf(&b, " event=%s q=%" PRIu64, hex, l->target_seq);
    }
    if (l->kind != CT_LIFE_REORG) ct_buf_printf(&b, " unit=%" PRIu32, l->district);
    if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT || l->kind == CT_LIFE_TARGET)
        ct_buf_printf(&b, " program=%s", ct_program_name(l->program));
    if (l->kind == CT_LIFE_CORRECT) {
        if (l->has_new_program)
            ct_buf_printf(&b, " new_program=%s", ct_program_name(l->new_program));
        if (l->has_new_agent) ct_buf_printf(&b, " new_agent=%s", l->new_agent);
        if (l->has_new_commune) ct_buf_printf(&b, " new_commune=\"%s\"", l->new_commune);
        if (l->has_new_group) ct_buf_printf(&b, " new_group=\"%s\"", l->new_group);
    }
    if (l->kind == CT_LIFE_TARGET) ct_buf_printf(&b, " target=%" PRIu32, l->target);
    if (l->kind == CT_LIFE_CLOSE || l->kind == CT_LIFE_REOPEN)
        ct_buf_printf(&b, " day=%04u-%02u-%02u", l->day / 10000, l->day / 100 % 100, l->day % 100);
    if (l->kind == CT_LIFE_REORG) ct_buf_printf(&b, " name=%s", l->reorg);
    if (l->kind == CT_LIFE_TARGET || l->kind == CT_LIFE_REORG) {
        ct_time_format(l->effective_ms, tz, v, sizeof v);
        ct_buf_printf(&b, " effective=%s", v);
    }
    ct_buf_printf(&b, " by=%s why=\"%s\"", l->actor, l->reason);
    size_t n = b.len < len ? b.len : len - 1;
    if (b.data) memcpy(buf, b.data, n);
    buf[n] = 0;
    ct_buf_free(&b);
}

bool ct_life_reason_blank(const char *reason)
{
    for (const char *p = reason; *p; p++)
        if (*p != ' ' && *p != '\t') return false;
    return true;
}
