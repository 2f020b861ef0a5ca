/* ct_office_list.c — the office screen's list of what the office recorded
 * (GET /api/list, see ct_office.h): one page of the outbox's entries, in seq
 * order after a cursor, with the outbox's totals.
 *
 * Invariants: a request reads at most one page (ct_outbox_entries: limit
 * entries, one read transaction) and the outbox's counters; nothing is
 * gathered across the whole outbox, so the cost and memory of a request do
 * not grow with it. An entry without a note was recorded outside the screen
 * (add, import, simulate): "recorded_by" is null. A life entry's row
 * (void, correct, ...) names the sign-up it is about ("event",
 * "target_seq"), its new values, actor and reason, and its state.
 */
#include <stdlib.h>
#include <string.h>

#include "ct_deliver.h"
#include "ct_life_msg.h"
#include "ct_num.h"
#include "ct_office_int.h"

static const char *state_name(ct_outbox_state st)
{
    /* committed at HQ and not yet safe is delivered too; "safe" says which */
    return st == CT_OUTBOX_QUEUED ? "queued" : st == CT_OUTBOX_REJECTED ? "rejected" : "delivered";
}

typedef struct {
    const ct_campaign *c;
    ct_buf *b;
    size_t n;
} page_ctx;

/* The state, and for a refusal its code and sentence. */
static void state_keys(ct_buf *b, const ct_office_note *n, bool life)
{
    jstr(b, "state", state_name(n->state));
    if (n->state == CT_OUTBOX_COMMITTED || n->state == CT_OUTBOX_SETTLED)
        jbool(b, "safe", n->state == CT_OUTBOX_SETTLED);
    if (n->q) jnum(b, "q", (int64_t)n->q);
    if (n->state == CT_OUTBOX_REJECTED) {
        jstr(b, "reason_code", ct_err_name((ct_err)n->code));
        jstr(b, "reason",
             n->code == CT_ERR_CONFLICT ? CT_DELIVER_CONFLICT_MSG
             : life                     ? ct_life_answer_msg((ct_err)n->code)
                                        : ct_err_str((ct_err)n->code));
    }
}

/* A life entry's row: kind, the sign-up it is about, new values, actor,
 * reason, state. */
static void life_row(page_ctx *x, const ct_office_note *n)
{
    ct_buf *b = x->b;
    const ct_life *l = &n->life;
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_event_id_hex(l->id, hex);
    ct_buf_printf(b, "%s{\"seq\":%" PRIu64, x->n++ ? "," : "", n->seq);
    jstr(b, "id", hex);
    jstr(b, "kind", ct_life_kind_name(l->kind));
    jtime(b, "time", l->issued_ms, x->c->tz_offset_min);
    if (l->kind == CT_LIFE_VOID || l->kind == CT_LIFE_CORRECT) {
        ct_event_id_hex(l->target_id, hex);
        jstr(b, "event", hex);
        if (n->target) jnum(b, "target_seq", (int64_t)n->target);
        jnum(b, "event_q", (int64_t)l->target_seq);
        jstr(b, "program", ct_program_name(l->program));
    }
    if (l->has_new_program) jstr(b, "new_program", ct_program_name(l->new_program));
    if (l->has_new_agent) jstr(b, "new_agent", l->new_agent);
    if (l->has_new_commune) jstr(b, "new_commune", l->new_commune);
    if (l->has_new_group) jstr(b, "new_group", l->new_group);
    jstr(b, "by", l->actor);
    jstr(b, "life_reason", l->reason);
    if (n->user[0]) {
        jstr(b, "recorded_by", n->user);
    } else {
        jkey(b, "recorded_by");
        ct_buf_printf(b, "null");
    }
    state_keys(b, n, true);
    ct_buf_append(b, "}", 1);
}

static ct_err entry_cb(void *ctx, const ct_outbox_entry *en)
{
    page_ctx *x = ctx;
    ct_buf *b = x->b;
    const ct_campaign *c = x->c;
    ct_office_note nt, *n = &nt;
    if (!ct_office_entry_note(en, n)) return CT_OK; /* neither note nor entry decodes */
    if (n->kind == CT_OFFICE_NOTE_LIFE) {
        life_row(x, n);
        return CT_OK;
    }
    const ct_agent *a = ct_campaign_agent(c, n->ev.agent);
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_event_id_hex(n->ev.id, hex);
    /* the first key by hand: jkey puts a comma before every key */
    ct_buf_printf(b, "%s{\"seq\":%" PRIu64, x->n++ ? "," : "", n->seq);
    jstr(b, "id", hex);
    jstr(b, "kind", n->kind == CT_OFFICE_NOTE_CANCEL ? "cancel" : "record");
    jstr(b, "agent", n->ev.agent);
    jstr(b, "agent_name", a ? a->name : "");
    jstr(b, "program", ct_program_name(n->ev.program));
    jstr(b, "action", ct_action_name(n->ev.action));
    jtime(b, "time", n->ev.occurred_ms, c->tz_offset_min);
    jnum(b, "day", ct_campaign_local_day(c, n->ev.occurred_ms));
    jstr(b, "commune", n->ev.commune);
    if (n->ev.has_months) jnum(b, "months", n->ev.months);
    if (n->ev.has_amount) jnum(b, "amount", (int64_t)n->ev.amount_vnd);
    jstr(b, "group", n->ev.group);
    if (n->user[0]) {
        jstr(b, "recorded_by", n->user);
    } else {
        jkey(b, "recorded_by");
        ct_buf_printf(b, "null");
    }
    state_keys(b, n, false);
    if (n->kind == CT_OFFICE_NOTE_CANCEL) {
        if (n->target) jnum(b, "cancels", (int64_t)n->target);
        if (n->user[0]) jstr(b, "cancel_reason", n->reason);
    } else if (n->target) {
        jnum(b, "cancelled_by", (int64_t)n->target);
    }
    ct_buf_append(b, "}", 1);
    return CT_OK;
}

/* A query argument as a whole number up to max (dflt when absent). */
static bool arg_u64(const ct_office_req *q, const char *name, uint64_t max, uint64_t dflt,
                    uint64_t *out)
{
    const char *v = q->lookup ? q->lookup(q->lookup_ctx, CT_OFFICE_ARG, name) : NULL;
    *out = dflt;
    return !v || ct_num_parse_u64(v, max, out);
}

void ct_office_do_list(ct_office *o, const ct_office_req *q, ct_office_resp *r)
{
    ct_user u;
    if (!ct_office_need_session(o, q, r, &u)) return;
    ct_collector *s = o->opt.s;
    const ct_campaign *c = &s->camp;
    uint64_t after, limit;
    if (!arg_u64(q, "after", UINT64_MAX, 0, &after)) {
        fail(r, 400, CT_ERR_BAD_VALUE, "after", "after: not a whole number");
        return;
    }
    if (!arg_u64(q, "limit", CT_OFFICE_PAGE_MAX, CT_OFFICE_PAGE_DEFAULT, &limit) || limit == 0) {
        char why[80];
        snprintf(why, sizeof why, "limit: a whole number from 1 to %d", CT_OFFICE_PAGE_MAX);
        fail(r, 400, CT_ERR_BAD_VALUE, "limit", why);
        return;
    }
    ct_outbox_info in;
    ct_err e = ct_outbox_get_info(s->ob, &in);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot read the outbox");
        return;
    }
    ct_buf *b = &r->body;
    begin(r, 200, true);
    jnum(b, "today", ct_campaign_local_day(c, ct_office_clock_ms(o)));
    jnum(b, "after", (int64_t)after);
    jnum(b, "limit", (int64_t)limit);
    jkey(b, "totals");
    ct_buf_printf(b,
                  "{\"recorded\":%" PRIu64 ",\"waiting\":%" PRIu64
                  ",\"committed_not_safe\":%" PRIu64 ",\"rejected\":%" PRIu64
                  ",\"delivered\":%" PRIu64 "}",
                  ct_outbox_recorded(&in), in.queued - in.committed, in.committed,
                  in.rejected_entries, in.delivered);
    jkey(b, "entries");
    ct_buf_append(b, "[", 1);
    page_ctx pc = {.c = c, .b = b};
    uint64_t last = 0;
    bool more = false;
    e = ct_outbox_entries(s->ob, after, (size_t)limit, entry_cb, &pc, &last, &more);
    if (e != CT_OK) {
        fail(r, 503, e, "", "cannot read the outbox");
        return;
    }
    ct_buf_append(b, "]", 1);
    jkey(b, "next");
    if (more)
        ct_buf_printf(b, "%" PRIu64, last);
    else
        ct_buf_printf(b, "null");
    end(r);
}
