/* ct_cmd_life.c — the commands that queue the campaign's life entries
 * (docs/PROTOCOL.md §2.2, docs/collector.md "Voids, corrections and the
 * campaign's life"): void and correct (of a sign-up of this outbox, or, for
 * an admin key, of any office's with its log position given), target,
 * close, reopen and reorg (admin keys). Each builds ONE entry, checks it
 * against the campaign, queues it like an event (same ids, same delivery)
 * and prints "queued ID" after the durable commit; with --wait SEC it then
 * waits for the aggregator's answer (delivered by the `run` of this
 * outbox) and prints it with its exact code and a sentence.
 *
 * Exit codes as everywhere: 2 for the caller's mistakes (a missing or empty
 * reason, an unknown event, a bad value), 1 when the sign-up cannot be
 * named yet (not acknowledged by headquarters) and when the answer is a
 * refusal or does not come within --wait.
 */
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ct_commands.h"
#include "ct_life.h"
#include "ct_life_msg.h"
#include "ct_lifeq.h"
#include "ct_num.h"
#include "ct_text.h"
#include "ct_time.h"

/* The reason of a life entry: mandatory, 1..CT_REASON_MAX bytes of UTF-8. */
static ct_err check_reason(ct_collector *s, const ct_collector_cfg *c)
{
    char where[600];
    snprintf(where, sizeof where, "%s%s", c->reason_from ? c->reason_from : "--reason",
             c->reason_from ? ": reason" : "");
    if (!c->reason) return ct_collector_usage(s, "a reason is mandatory: give --reason TEXT");
    size_t n = strlen(c->reason);
    if (n == 0 || ct_life_reason_blank(c->reason))
        return ct_collector_usage(s, "%s: must not be empty", where);
    if (n > CT_REASON_MAX)
        return ct_collector_usage(s, "%s: at most %d bytes (got %zu)", where, CT_REASON_MAX, n);
    if (!ct_utf8_valid((const uint8_t *)c->reason, n))
        return ct_collector_usage(s, "%s: not valid UTF-8", where);
    return CT_OK;
}

/* --by, else the login name of the user running the command. */
static ct_err actor(ct_collector *s, const ct_collector_cfg *c, char out[CT_ACTOR_MAX + 1])
{
    const char *by = c->by;
    if (!by) {
        const struct passwd *pw = getpwuid(getuid());
        by = pw ? pw->pw_name : NULL;
    }
    if (!by || !by[0])
        return ct_collector_usage(s, "who issues it: give --by NAME (or `by = NAME` in the "
                                     "configuration file)");
    size_t n = strlen(by);
    if (n > CT_ACTOR_MAX || !ct_utf8_valid((const uint8_t *)by, n))
        return ct_collector_usage(s, "--by: 1 to %d bytes of UTF-8 (got %zu)", CT_ACTOR_MAX, n);
    memcpy(out, by, n + 1);
    return CT_OK;
}

static ct_err parse_program(ct_collector *s, const char *opt, const char *v, ct_program *p)
{
    if (ct_program_parse(v, p) != CT_OK)
        return ct_collector_usage(s, "%s: unknown program '%s' (bhxh_tn or bhyt_hgd)", opt, v);
    return CT_OK;
}

static ct_err parse_time(ct_collector *s, const char *opt, const char *v, int64_t *ms)
{
    if (!v) return ct_collector_usage(s, "%s TIME is required", opt);
    if (ct_time_parse(v, s->camp.tz_offset_min, ms) != CT_OK || *ms < 0)
        return ct_collector_usage(s,
                                  "%s: bad time '%s' (expected YYYY-MM-DDTHH:MM[:SS][+HH:MM], "
                                  "campaign time without a zone)",
                                  opt, v);
    return CT_OK;
}

/* YYYY-MM-DD, a real calendar date, as YYYYMMDD. */
static ct_err parse_day(ct_collector *s, const char *v, uint32_t *day)
{
    unsigned y, m, d;
    char tail;
    if (!v) return ct_collector_usage(s, "--day YYYY-MM-DD is required");
    if (strlen(v) != 10 || sscanf(v, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return ct_collector_usage(s, "--day: bad date '%s' (expected YYYY-MM-DD)", v);
    /* the day after d of month m is day 1 of the next month, or d + 1 */
    int64_t a = ct_days_from_civil(y, m, d), b = ct_days_from_civil(y, m, 1);
    int64_t next = m == 12 ? ct_days_from_civil(y + 1, 1, 1) : ct_days_from_civil(y, m + 1, 1);
    if (a - b != (int64_t)d - 1 || a >= next)
        return ct_collector_usage(s, "--day: %s is not a calendar date", v);
    *day = y * 10000 + m * 100 + d;
    return CT_OK;
}

static ct_err unit_of(ct_collector *s, const ct_collector_cfg *c, bool zero_ok, uint32_t *d)
{
    if (c->unit < 0) return ct_collector_usage(s, "--unit D is required");
    if (c->unit > 65535 || (c->unit == 0 && !zero_ok))
        return ct_collector_usage(s, "--unit: a unit code from 1 to 65535");
    *d = (uint32_t)c->unit;
    return CT_OK;
}

/* void / correct of an event named by the admin form: --seq, --program
 * (correct: --from-program), --person-ref, --unit. */
static ct_err admin_target(ct_collector *s, const ct_collector_cfg *c, ct_life *l)
{
    const char *popt = l->kind == CT_LIFE_CORRECT ? "--from-program" : "--program";
    const char *pv = l->kind == CT_LIFE_CORRECT ? c->from_program : c->program;
    if (!pv || !c->person_ref || c->unit < 0)
        return ct_collector_usage(s,
                                  "with --seq, give %s, --person-ref and --unit too (as "
                                  "`chitieu-audit trace` prints them)",
                                  popt);
    if (c->seq_q < 1) return ct_collector_usage(s, "--seq: the event's log seq, 1 or more");
    l->target_seq = (uint64_t)c->seq_q;
    ct_err e = parse_program(s, popt, pv, &l->program);
    if (e == CT_OK) e = unit_of(s, c, false, &l->district);
    if (e != CT_OK) return e;
    if (strlen(c->person_ref) != 2 * CT_PERSON_LEN ||
        ct_text_unhex(c->person_ref, 2 * CT_PERSON_LEN, l->person) != CT_OK)
        return ct_collector_usage(s, "--person-ref: 64 hex digits");
    return CT_OK;
}

/* The sign-up of a void/correct: this outbox's event, or the admin form. */
static ct_err signup_target(ct_collector *s, const ct_collector_cfg *c, ct_life *l,
                            ct_lifeq_target *t, uint64_t *target_seq)
{
    *target_seq = 0;
    if (!c->event) return ct_collector_usage(s, "--event ID is required");
    if (ct_event_id_parse_hex(c->event, l->target_id) != CT_OK)
        return ct_collector_usage(s, "--event: an event id is 32 hex digits (got '%s')", c->event);
    if (c->seq_q >= 0) return admin_target(s, c, l);
    if (c->person_ref || c->unit >= 0 || c->from_program || (l->kind == CT_LIFE_VOID && c->program))
        return ct_collector_usage(s,
                                  "--person-ref, --unit and --%s go with --seq (another "
                                  "office's event)",
                                  l->kind == CT_LIFE_VOID ? "program" : "from-program");
    char why[400];
    ct_err e = ct_lifeq_find(s->ob, &s->info, l->target_id, t, why, sizeof why);
    if (e == CT_ERR_NOT_FOUND || e == CT_ERR_BAD_VALUE)
        return ct_collector_fail(s, CT_ERR_USAGE, "%s; nothing queued", why);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s; nothing queued", why);
    ct_lifeq_fill(t, l);
    *target_seq = t->seq;
    if (t->program != t->ev.program)
        fprintf(s->err,
                "%s: note: sign-up %s was corrected to %s by this office; it counts in %s now\n",
                s->prog, c->event, ct_program_name(t->program), ct_program_name(t->program));
    return CT_OK;
}

/* The new values of a correct (at least one). */
static ct_err correct_fields(ct_collector *s, const ct_collector_cfg *c, ct_life *l,
                             const ct_lifeq_target *t, bool known)
{
    if (!c->agent && !c->program && !c->commune && !c->group)
        return ct_collector_usage(s, "correct needs at least one of --agent, --program, --commune, "
                                     "--group (the new values)");
    if (c->program) {
        ct_err e = parse_program(s, "--program", c->program, &l->new_program);
        if (e != CT_OK) return e;
        l->has_new_program = true;
    }
    struct {
        const char *v, *opt;
        bool *has;
        char *dst;
        size_t cap;
        bool empty_ok;
    } f[] = {
        {c->agent, "--agent", &l->has_new_agent, l->new_agent, sizeof l->new_agent, false},
        {c->commune, "--commune", &l->has_new_commune, l->new_commune, sizeof l->new_commune, true},
        {c->group, "--group", &l->has_new_group, l->new_group, sizeof l->new_group, true},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].v) continue;
        size_t n = strlen(f[i].v);
        if ((n == 0 && !f[i].empty_ok) || n >= f[i].cap ||
            !ct_utf8_valid((const uint8_t *)f[i].v, n))
            return ct_collector_usage(s, "%s: %s1 to %zu bytes of UTF-8", f[i].opt,
                                      f[i].empty_ok ? "empty (none) or " : "", f[i].cap - 1);
        memcpy(f[i].dst, f[i].v, n + 1);
        *f[i].has = true;
    }
    if (known && (!l->has_new_program || l->new_program == t->program) &&
        (!l->has_new_agent || strcmp(l->new_agent, t->agent) == 0) &&
        (!l->has_new_commune || strcmp(l->new_commune, t->commune) == 0) &&
        (!l->has_new_group || strcmp(l->new_group, t->group) == 0))
        return ct_collector_usage(s,
                                  "this correction changes nothing: sign-up %s already has "
                                  "those values; nothing queued",
                                  c->event);
    return CT_OK;
}

/* Builds the entry of kind from the options. */
static ct_err build(ct_collector *s, const ct_collector_cfg *c, ct_life *l, uint64_t *target_seq)
{
    ct_err e;
    ct_lifeq_target t;
    *target_seq = 0;
    switch (l->kind) {
    case CT_LIFE_VOID:
        return signup_target(s, c, l, &t, target_seq);
    case CT_LIFE_CORRECT:
        if ((e = signup_target(s, c, l, &t, target_seq)) != CT_OK) return e;
        return correct_fields(s, c, l, &t, *target_seq != 0);
    case CT_LIFE_TARGET:
        if ((c->unit >= 0) == c->quota)
            return ct_collector_usage(s, "target needs either --unit D (a unit's target) or "
                                         "--quota (the per-staff quota)");
        if (c->unit >= 0 && (e = unit_of(s, c, false, &l->district)) != CT_OK) return e;
        if (!c->program) return ct_collector_usage(s, "target needs --program P");
        if ((e = parse_program(s, "--program", c->program, &l->program)) != CT_OK) return e;
        if (c->target_n < 0) return ct_collector_usage(s, "target needs --target N");
        l->target = (uint32_t)c->target_n;
        return parse_time(s, "--effective", c->effective, &l->effective_ms);
    case CT_LIFE_CLOSE:
    case CT_LIFE_REOPEN:
        if (c->unit >= 0 && (e = unit_of(s, c, true, &l->district)) != CT_OK) return e;
        return parse_day(s, c->day, &l->day);
    case CT_LIFE_REORG:
        if (!c->name || !c->name[0] || strlen(c->name) > CT_REORG_NAME_MAX)
            return ct_collector_usage(s,
                                      "reorg needs --name NAME (1 to %d bytes: a [reorg NAME] "
                                      "section of the campaign file)",
                                      CT_REORG_NAME_MAX);
        snprintf(l->reorg, sizeof l->reorg, "%s", c->name);
        return parse_time(s, "--effective", c->effective, &l->effective_ms);
    }
    return CT_ERR_INTERNAL;
}

typedef struct {
    bool found;
    ct_outbox_state state;
    uint16_t code;
    uint64_t q;
} answer;

static ct_err answer_cb(void *ctx, const ct_outbox_entry *en)
{
    answer *a = ctx;
    a->found = true;
    a->state = en->state;
    a->code = en->code;
    a->q = en->q;
    return CT_OK;
}

/* Waits up to c->wait_s for the aggregator's answer to seq and prints it. */
static ct_err wait_answer(ct_collector *s, const ct_collector_cfg *c, uint64_t seq, const char *hex)
{
    if (!ct_collector_run_active(s))
        fprintf(s->err,
                "%s: no `run` is delivering outbox %s now: start it, the answer comes "
                "once it has delivered the entry\n",
                s->prog, s->dir);
    int64_t until = ct_monotonic_ms() + c->wait_s * 1000;
    for (;;) {
        answer a = {0};
        bool found = false;
        ct_err e = ct_outbox_entry_get(s->ob, seq, answer_cb, &a, &found);
        if (e != CT_OK) return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
        if (a.state == CT_OUTBOX_REJECTED) {
            fprintf(s->out, "rejected %s %s: %s\n", hex, ct_err_name((ct_err)a.code),
                    ct_life_answer_msg((ct_err)a.code));
            return CT_ERR_BAD_VALUE;
        }
        if (a.state == CT_OUTBOX_COMMITTED || a.state == CT_OUTBOX_SETTLED || !found) {
            if (a.q)
                fprintf(s->out, "accepted %s at log seq %" PRIu64 "\n", hex, a.q);
            else
                fprintf(s->out, "accepted %s\n", hex);
            return CT_OK;
        }
        if (ct_monotonic_ms() >= until || (c->stop && *c->stop)) break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return ct_collector_fail(s, CT_ERR_TIMEOUT,
                             "no answer from headquarters within %" PRId64
                             " s: entry %s stays queued (see `status`, `rejected`)",
                             c->wait_s, hex);
}

ct_err ct_collector_cmd_life(ct_collector *s, const ct_collector_cfg *c, int kind)
{
    ct_collector_bind_opts b = {.district = -1, .campaign = c->campaign};
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    if ((e = check_reason(s, c)) != CT_OK) return e;
    ct_life l;
    memset(&l, 0, sizeof l);
    l.kind = (ct_life_kind)kind;
    l.issued_ms = ct_now_ms();
    snprintf(l.campaign, sizeof l.campaign, "%s", s->camp.id);
    snprintf(l.reason, sizeof l.reason, "%s", c->reason);
    if ((e = actor(s, c, l.actor)) != CT_OK) return e;
    uint64_t target_seq = 0;
    if ((e = build(s, c, &l, &target_seq)) != CT_OK) return e;
    if ((e = ct_campaign_check_life(&s->camp, &l)) != CT_OK)
        return ct_collector_fail(s, CT_ERR_USAGE,
                                 "%s refused by the campaign (%s): %s; nothing "
                                 "queued",
                                 ct_life_kind_name(l.kind), ct_err_name(e), ct_err_str(e));
    ct_outbox_txn *t;
    uint64_t seq = 0;
    if ((e = ct_outbox_begin(s->ob, &t)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    if ((e = ct_outbox_queue_life(t, &l, NULL, target_seq, NULL, &seq)) != CT_OK) {
        ct_outbox_abort(t);
        return ct_collector_fail(s, e, "cannot queue: %s %s", ct_err_str(e),
                                 ct_outbox_errmsg(s->ob));
    }
    if ((e = ct_outbox_commit(t)) != CT_OK)
        return ct_collector_fail(s, e, "commit failed, nothing queued: %s",
                                 ct_outbox_errmsg(s->ob));
    if ((e = ct_outbox_get_info(s->ob, &s->info)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    char hex[2 * CT_EVENT_ID_LEN + 1], sum[700];
    ct_event_id_hex(l.id, hex);
    ct_life_summary(&l, s->camp.tz_offset_min, sum, sizeof sum);
    fprintf(s->out, "queued %s %s\n", hex, sum);
    if (c->wait_s <= 0) return CT_OK;
    fflush(s->out);
    return wait_answer(s, c, seq, hex);
}
