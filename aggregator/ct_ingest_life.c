/* ct_ingest_life.c — authorization, log check and log line of a life entry
 * at ingest (see ct_ingest_life.h). Reads the store only through one short
 * read transaction per check (ct_store_log_scan of one record). */
#include "ct_ingest_life.h"

#include <string.h>

#include "ct_event.h"
#include "ct_log.h"

bool ct_ingest_life_may(bool secure, ct_role role, uint32_t key_district, const ct_life *l)
{
    if (!secure || role == CT_ROLE_ADMIN) return true;
    if (role != CT_ROLE_COLLECTOR) return false;
    return (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT) && l->district == key_district;
}

typedef struct {
    const ct_life *l;
    bool ok;
} check_arg;

static ct_err check_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    (void)raw;
    (void)raw_len;
    check_arg *a = arg;
    ct_event ev;
    if (ct_entry_is_life(rec->event, rec->event_len) ||
        ct_event_decode(rec->event, rec->event_len, &ev, NULL) != CT_OK)
        return CT_STOP;
    a->ok = ev.action == CT_ACTION_ENROLL && ev.district == a->l->district &&
            memcmp(ev.id, a->l->target_id, CT_EVENT_ID_LEN) == 0 &&
            memcmp(ev.person, a->l->person, CT_PERSON_LEN) == 0;
    return CT_STOP;
}

ct_err ct_ingest_life_log_check(ct_store *s, const ct_life *l)
{
    if (l->kind != CT_LIFE_VOID && l->kind != CT_LIFE_CORRECT) return CT_OK;
    if (l->target_seq == 0) return CT_ERR_UNKNOWN_EVENT;
    check_arg a = {l, false};
    ct_err e = ct_store_log_scan(s, l->target_seq, l->target_seq, check_cb, &a, NULL);
    if (e) return e;
    return a.ok ? CT_OK : CT_ERR_UNKNOWN_EVENT;
}

void ct_ingest_life_logged(const ct_life *l, const char *key, uint64_t seq)
{
    ct_log(CT_LOG_INFO, "life entry accepted", "kind=%s unit=%u actor=%s seq=%llu key=%s",
           ct_life_kind_name(l->kind), (unsigned)l->district, CT_LOG_Q(l->actor),
           (unsigned long long)seq, CT_LOG_Q(key && key[0] ? key : "-"));
}
