/* ct_lifeq.c — finding the sign-up a void or correct is about (see
 * ct_lifeq.h). Reads only. */
#include "ct_lifeq.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ct_life_msg.h"

typedef struct {
    ct_lifeq_target *t;
    const ct_outbox_info *info;
    bool found, decoded;
    ct_outbox_state state;
    uint16_t code;
    uint64_t pending; /* a life entry of the event still waiting (seq) */
    ct_err err;
} find_ctx;

static ct_err event_cb(void *ctx, const ct_outbox_entry *en)
{
    find_ctx *x = ctx;
    x->found = true;
    x->state = en->state;
    x->code = en->code;
    x->t->q = en->q;
    if (!en->ev) return CT_OK;
    ct_entry e;
    if (ct_entry_decode(en->ev, en->ev_len, &e, NULL) != CT_OK || e.type != CT_ENTRY_EVENT)
        return CT_OK;
    x->decoded = true;
    x->t->ev = e.u.ev;
    return CT_OK;
}

/* One life entry queued for the event: a waiting one blocks, an accepted
 * one changes what the sign-up is now. */
static ct_err life_cb(void *ctx, const ct_outbox_entry *en)
{
    find_ctx *x = ctx;
    ct_lifeq_target *t = x->t;
    if (en->state == CT_OUTBOX_REJECTED) return CT_OK;
    if (en->state == CT_OUTBOX_QUEUED) {
        x->pending = en->seq;
        return CT_OK;
    }
    ct_entry e;
    if (ct_entry_decode(en->ev, en->ev_len, &e, NULL) != CT_OK || e.type != CT_ENTRY_LIFE)
        return CT_OK;
    const ct_life *l = &e.u.life;
    if (l->kind == CT_LIFE_VOID) t->voided = true;
    if (l->kind != CT_LIFE_CORRECT) return CT_OK;
    t->corrected = true;
    if (l->has_new_program) t->program = l->new_program;
    if (l->has_new_agent) snprintf(t->agent, sizeof t->agent, "%s", l->new_agent);
    if (l->has_new_commune) snprintf(t->commune, sizeof t->commune, "%s", l->new_commune);
    if (l->has_new_group) snprintf(t->group, sizeof t->group, "%s", l->new_group);
    return CT_OK;
}

ct_err ct_lifeq_find(ct_outbox *ob, const ct_outbox_info *info, const uint8_t id[CT_EVENT_ID_LEN],
                     ct_lifeq_target *t, char *why, size_t whylen)
{
    memset(t, 0, sizeof *t);
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_event_id_hex(id, hex);
    uint64_t seq = ct_event_id_seq(id);
    uint8_t mine[CT_EVENT_ID_LEN];
    ct_outbox_event_id(info, seq, mine);
    if (seq == 0 || seq >= info->next_seq || memcmp(mine, id, CT_EVENT_ID_LEN) != 0) {
        snprintf(why, whylen,
                 "event %s is not one of this outbox's (another office's, or "
                 "mistyped)",
                 hex);
        return CT_ERR_NOT_FOUND;
    }
    t->seq = seq;
    find_ctx x = {.t = t, .info = info};
    bool found = false;
    ct_err e = ct_outbox_entry_get(ob, seq, event_cb, &x, &found);
    if (e != CT_OK) {
        snprintf(why, whylen, "cannot read the outbox: %s", ct_outbox_errmsg(ob));
        return e;
    }
    if (!found || (!x.decoded && x.state == CT_OUTBOX_SETTLED)) {
        snprintf(why, whylen,
                 "event %s was delivered but this outbox did not keep its log position; give "
                 "--seq, --program, --person-ref and --unit as `chitieu-audit trace` prints them",
                 hex);
        return CT_ERR_NOT_FOUND;
    }
    if (!x.decoded || t->ev.action != CT_ACTION_ENROLL) {
        snprintf(why, whylen,
                 "event %s is not a sign-up (only an enroll can be voided or "
                 "corrected)",
                 hex);
        return CT_ERR_BAD_VALUE;
    }
    if (x.state == CT_OUTBOX_REJECTED) {
        snprintf(why, whylen,
                 "headquarters refused sign-up %s (%s): it never counted, there is "
                 "nothing to void or correct",
                 hex, ct_err_name((ct_err)x.code));
        return CT_ERR_BAD_VALUE;
    }
    if (x.state == CT_OUTBOX_QUEUED || t->q == 0) {
        snprintf(why, whylen,
                 "sign-up %s is not acknowledged by headquarters yet (it waits in "
                 "the outbox): deliver it with `run`, then void or correct it",
                 hex);
        return CT_ERR_TIMEOUT;
    }
    t->program = t->ev.program;
    snprintf(t->agent, sizeof t->agent, "%s", t->ev.agent);
    snprintf(t->commune, sizeof t->commune, "%s", t->ev.commune);
    snprintf(t->group, sizeof t->group, "%s", t->ev.group);
    if ((e = ct_outbox_life_each(ob, seq, life_cb, &x)) != CT_OK) {
        snprintf(why, whylen, "cannot read the outbox: %s", ct_outbox_errmsg(ob));
        return e;
    }
    if (x.pending) {
        char lh[2 * CT_EVENT_ID_LEN + 1];
        uint8_t lid[CT_EVENT_ID_LEN];
        ct_outbox_event_id(info, x.pending, lid);
        ct_event_id_hex(lid, lh);
        snprintf(why, whylen,
                 "a void or correction of sign-up %s (entry %s) is still waiting for "
                 "headquarters' answer: wait for it (`run` delivers it), then try again",
                 hex, lh);
        return CT_ERR_TIMEOUT;
    }
    if (t->voided) {
        snprintf(why, whylen, "sign-up %s was voided already by this office", hex);
        return CT_ERR_BAD_VALUE;
    }
    return CT_OK;
}

void ct_lifeq_fill(const ct_lifeq_target *t, ct_life *l)
{
    l->district = t->ev.district;
    l->program = t->program;
    memcpy(l->person, t->ev.person, CT_PERSON_LEN);
    memcpy(l->target_id, t->ev.id, CT_EVENT_ID_LEN);
    l->target_seq = t->q;
}
