/* ct_cmd_queue.c — the commands that put sign-ups into the outbox: init,
 * add/cancel, import, simulate. Each goes through ct_collector_bind() first,
 * so the outbox is bound to its campaign and district before anything is
 * queued; "queued" is printed only after the outbox commit returned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct_commands.h"
#include "ct_import.h"
#include "ct_num.h"
#include "ct_simulate.h"
#include "ct_time.h"

int ct_collector_exit_code(ct_err e)
{
    if (e == CT_OK) return 0;
    if (e == CT_ERR_USAGE || e == CT_ERR_CONFIG || e == CT_ERR_KEY_PERMS) return 2;
    return 1;
}

static ct_collector_bind_opts bind_opts(const ct_collector_cfg *c)
{
    ct_collector_bind_opts b = {
        .district = c->district, .campaign = c->campaign, .person_key = c->person_key};
    return b;
}

ct_err ct_collector_cmd_init(ct_collector *s, const ct_collector_cfg *c)
{
    ct_collector_bind_opts b = bind_opts(c);
    b.person_key = NULL;
    return ct_collector_init(s, &b, true);
}

ct_err ct_collector_cmd_add(ct_collector *s, const ct_collector_cfg *c, ct_action action)
{
    ct_collector_bind_opts b = bind_opts(c);
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    if (!c->agent || !c->program)
        return ct_collector_usage(s, "add/cancel need --agent and --program");
    if (!c->national_id && !c->person_hash)
        return ct_collector_usage(s, "add/cancel need --national-id (with --person-key) or "
                                     "--person-hash");
    ct_signup_fields f = {
        .agent = c->agent,
        .program = c->program,
        .action = action == CT_ACTION_CANCEL ? "cancel" : "enroll",
        .national_id = c->national_id,
        .person_hash = c->person_hash,
        .commune = c->commune,
        .occurred_at = c->time,
        .months = c->months,
        .amount = c->amount,
        .group = c->group,
    };
    ct_signup_ctx ctx = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = s->has_pkey ? s->pkey : NULL,
        .validate = !c->no_validate,
        .time_required = false,
        .default_time_ms = ct_now_ms(),
    };
    ct_event ev;
    char why[300];
    e = ct_signup_build(&f, &ctx, &ev, why, sizeof why);
    if (e != CT_OK)
        return ct_collector_fail(s, CT_ERR_USAGE, "%s refused (%s): %s; nothing queued",
                                 action == CT_ACTION_CANCEL ? "cancel" : "add", ct_err_name(e),
                                 why);
    ct_outbox_txn *t;
    uint64_t seq = 0;
    if ((e = ct_outbox_begin(s->ob, &t)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    if ((e = ct_outbox_queue(t, &ev, NULL, NULL, &seq)) != CT_OK) {
        ct_outbox_abort(t);
        return ct_collector_fail(s, e, "cannot queue: %s %s", ct_err_str(e),
                                 ct_outbox_errmsg(s->ob));
    }
    if ((e = ct_outbox_commit(t)) != CT_OK)
        return ct_collector_fail(s, e, "commit failed, nothing queued: %s",
                                 ct_outbox_errmsg(s->ob));
    if ((e = ct_outbox_get_info(s->ob, &s->info)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_collector_id_hex(s, seq, hex);
    fprintf(s->out, "queued %s\n", hex);
    return CT_OK;
}

ct_err ct_collector_cmd_import(ct_collector *s, const ct_collector_cfg *c)
{
    ct_collector_bind_opts b = bind_opts(c);
    if (c->dry_run && !s->info.initialised)
        return ct_collector_fail(s, CT_ERR_CONFIG,
                                 "outbox %s is not initialised: a dry run changes nothing, run "
                                 "`%s init --outbox %s --district D` first",
                                 s->dir, s->prog, s->dir);
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    ct_signup_ctx ctx = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = s->has_pkey ? s->pkey : NULL,
        .validate = !c->no_validate,
        .time_required = true,
        .default_time_ms = 0,
    };
    ct_import_stats st;
    char msg[600];
    ct_import_opts o = {
        .report = s->err,
        .progress = s->err,
        .plan = c->dry_run ? s->out : NULL,
        .dry_run = c->dry_run,
    };
    e = ct_import_csv(s->ob, c->file, &ctx, &o, &st, msg, sizeof msg);
    char sum[CT_OUTBOX_PATH_MAX + 200];
    ct_import_summary(c->file, &st, c->dry_run, sum, sizeof sum);
    fprintf(s->out, "%s\n", sum);
    /* a file refused as a whole (not UTF-8, bad header) is the caller's to
     * fix: exit 2, like a bad option */
    if (e != CT_OK)
        return ct_collector_fail(s, e == CT_ERR_BAD_UTF8 ? CT_ERR_CONFIG : e, "import stopped: %s",
                                 msg);
    /* some rows bad: exit 1 (the good ones are queued) */
    if (st.bad) return CT_ERR_BAD_VALUE;
    return CT_OK;
}

ct_err ct_collector_cmd_simulate(ct_collector *s, const ct_collector_cfg *c)
{
    ct_collector_bind_opts b = bind_opts(c);
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    ct_sim_opts o = {
        .campaign = &s->camp,
        .district = s->info.district,
        .person_key = s->has_pkey ? s->pkey : NULL,
        .seed = 1,
        .fill = c->fill,
        .count = c->count,
        .realtime_factor = c->realtime_factor,
        .stop = c->stop,
        .progress = s->err,
    };
    if (c->seed) {
        if (!ct_num_parse_u64(c->seed, UINT64_MAX, &o.seed))
            return ct_collector_usage(s, "bad --seed '%s'", c->seed);
    }
    ct_sim_summary sum;
    char msg[512];
    e = ct_simulate_run(s->ob, &o, &sum, msg, sizeof msg);
    const ct_district *d = ct_campaign_district(&s->camp, s->info.district);
    fprintf(s->out,
            "simulated district %u (%s): %zu staff, %zu bhxh_tn + %zu bhyt_hgd enrollments, "
            "%zu repeats, %zu cancels = %zu events; %zu queued, %zu already queued",
            s->info.district, d ? d->name : "?", sum.agents, sum.enroll[0], sum.enroll[1],
            sum.repeats, sum.cancels, sum.total, sum.queued, sum.already);
    if (c->count < 0) fprintf(s->out, "; %zu staff below quota", sum.agents_below_quota);
    fprintf(s->out, "\n");
    if (e != CT_OK)
        return ct_collector_fail(s, e == CT_ERR_UNKNOWN_DISTRICT ? CT_ERR_CONFIG : e,
                                 "simulate: %s", msg);
    if (c->stop && *c->stop) return CT_ERR_TIMEOUT; /* interrupted: not everything queued */
    return CT_OK;
}
