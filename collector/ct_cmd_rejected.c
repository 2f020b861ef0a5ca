/* ct_cmd_rejected.c — what the aggregator refused, and the ways back:
 * rejected (list, with plain words for conflicts), requeue (resend the same
 * ids, e.g. after the authorization file was fixed), reissue (new ids for
 * events refused as conflict). Also the conflict notes of `status` and of
 * the run log.
 *
 * A conflict rejection means HQ already holds a different sign-up under the
 * event's id, i.e. another copy of this outbox (copied or restored onto a
 * second machine) handed out the same ids. Resending the same id can never
 * succeed, so requeue keeps those events and says why; reissue queues the
 * same content under new ids (HQ deduplicates by id). */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "ct_commands.h"
#include "ct_deliver.h"
#include "ct_life.h"
#include "ct_life_msg.h"
#include "ct_log.h"
#include "ct_text.h"
#include "ct_time.h"

static ct_err count_cb(void *ctx, uint64_t seq, uint16_t code, const uint8_t *b, size_t len)
{
    (void)seq;
    (void)b;
    (void)len;
    if (code == CT_ERR_CONFLICT) (*(uint64_t *)ctx)++;
    return CT_OK;
}

static ct_err count_conflicts(ct_collector *s, uint64_t *n)
{
    *n = 0;
    ct_err e = ct_outbox_rejected_each(s->ob, count_cb, n);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    return CT_OK;
}

/* The explanation, in plain words, for n conflict rejections. */
static void explain_conflicts(const ct_collector *s, FILE *f, uint64_t n)
{
    fprintf(f,
            "%" PRIu64 " sign-up%s refused by headquarters as `conflict`: headquarters already "
            "holds a DIFFERENT sign-up under the same event id.\n"
            "This happens when an outbox is copied or restored onto a second machine and both "
            "copies record sign-ups: they hand out the same ids.\n"
            "%s NOT counted at headquarters. `requeue` cannot fix this (it resends the same "
            "ids). Run\n"
            "  %s reissue --outbox %s\n"
            "to queue them again under new ids (same content), then `run`. From now on use each "
            "copy of this outbox on one machine only, and check the other copy with `rejected` "
            "too.\n",
            n, n == 1 ? " was" : "s were", n == 1 ? "It is" : "They are", s->prog, s->dir);
}

void ct_collector_conflicts_log(ct_collector *s)
{
    uint64_t n = 0;
    if (!s->info.initialised || s->info.rejected_entries == 0 ||
        ct_outbox_rejected_each(s->ob, count_cb, &n) != CT_OK || n == 0)
        return;
    ct_log(CT_LOG_ERROR, CT_DELIVER_CONFLICT_MSG, "conflicts=%" PRIu64 " hint=\"%s\"", n,
           CT_DELIVER_CONFLICT_HINT);
}

ct_err ct_collector_conflicts_status(ct_collector *s)
{
    if (s->info.reissued)
        fprintf(s->out,
                "reissued:   %" PRIu64 " (refused as conflict, queued again under new ids)\n",
                s->info.reissued);
    uint64_t n = 0;
    ct_err e = count_conflicts(s, &n);
    if (e != CT_OK || n == 0) return e;
    fprintf(s->out,
            "conflicts:  %" PRIu64 " sign-up%s NOT counted at headquarters: the same event ids "
            "were used by another copy of this outbox; run `%s reissue --outbox %s` (see "
            "`rejected`)\n",
            n, n == 1 ? "" : "s", s->prog, s->dir);
    return CT_OK;
}

typedef struct {
    ct_collector *s;
    size_t n;
    uint64_t conflicts;
} rej_ctx;

static ct_err print_rejected(void *ctx, uint64_t seq, uint16_t code, const uint8_t *b, size_t len)
{
    rej_ctx *r = ctx;
    ct_collector *s = r->s;
    char hex[2 * CT_EVENT_ID_LEN + 1];
    ct_collector_id_hex(s, seq, hex);
    ct_entry en;
    bool idk;
    r->n++;
    if (code == CT_ERR_CONFLICT) r->conflicts++;
    int32_t tz = s->camp_loaded ? s->camp.tz_offset_min : 0;
    bool life = ct_entry_is_life(b, len);
    fprintf(s->out, "%s seq=%" PRIu64 " reason=%s (%s)", hex, seq, ct_err_name(code),
            life ? ct_life_answer_msg(code) : ct_err_str(code));
    ct_err de = ct_entry_decode(b, len, &en, &idk);
    if (de == CT_OK && en.type == CT_ENTRY_EVENT) {
        char ts[40];
        ct_time_format(en.u.ev.occurred_ms, tz, ts, sizeof ts);
        fprintf(s->out, " agent=%s program=%s action=%s district=%u time=%s", en.u.ev.agent,
                ct_program_name(en.u.ev.program), ct_action_name(en.u.ev.action), en.u.ev.district,
                ts);
    } else if (de == CT_OK) {
        char sum[600];
        ct_life_summary(&en.u.life, tz, sum, sizeof sum);
        fprintf(s->out, " %s", sum);
    } else {
        fprintf(s->out, " (stored bytes do not decode: %s)", ct_err_name(de));
    }
    fprintf(s->out, "\n");
    return CT_OK;
}

ct_err ct_collector_cmd_rejected(ct_collector *s, const ct_collector_cfg *c)
{
    if (!s->info.initialised) {
        fprintf(s->out, "outbox %s is not initialised\n", s->dir);
        return CT_OK;
    }
    if (ct_collector_load_campaign(s, ct_collector_campaign_path(s, c->campaign)) != CT_OK)
        s->camp_loaded = false;
    rej_ctx r = {s, 0, 0};
    ct_err e = ct_outbox_rejected_each(s->ob, print_rejected, &r);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    fprintf(s->out, "%zu rejected event%s (kept; never resent)\n", r.n, r.n == 1 ? "" : "s");
    if (r.conflicts) explain_conflicts(s, s->out, r.conflicts);
    return CT_OK;
}

ct_err ct_collector_cmd_requeue(ct_collector *s, const ct_collector_cfg *c)
{
    int code = -1;
    if (c->reason) {
        for (int i = 1; i < 256 && code < 0; i++)
            if (ct_err_known(i) && strcmp(ct_err_name(i), c->reason) == 0) code = i;
        if (code < 0)
            return ct_collector_usage(s, "unknown reason '%s' (see `rejected`)", c->reason);
    }
    size_t n = 0, kept = 0;
    ct_err e = ct_outbox_requeue(s->ob, code, &n, &kept);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    fprintf(s->out, "requeued %zu event%s\n", n, n == 1 ? "" : "s");
    if (kept == 0) return CT_OK;
    fprintf(s->err, "%s: requeue: not resending %zu conflict-rejected event%s unchanged:\n",
            s->prog, kept, kept == 1 ? "" : "s");
    explain_conflicts(s, s->err, kept);
    return n == 0 ? CT_ERR_CONFIG : CT_OK;
}

ct_err ct_collector_cmd_reissue(ct_collector *s, const ct_collector_cfg *c)
{
    (void)c;
    if (!s->info.initialised)
        return ct_collector_fail(s, CT_ERR_CONFIG, "outbox %s is not initialised", s->dir);
    /* a running deliverer holds the origin history in memory: none may run */
    int lfd;
    ct_err e = ct_collector_run_lock(s, &lfd);
    if (e != CT_OK)
        return ct_collector_fail(s, CT_ERR_CONFIG,
                                 "a `run` is delivering outbox %s: stop it, then reissue", s->dir);
    size_t n = 0;
    bool fresh = false;
    e = ct_outbox_reissue(s->ob, &n, &fresh);
    close(lfd);
    if (e != CT_OK) return ct_collector_fail(s, e, "reissue: %s", ct_outbox_errmsg(s->ob));
    if ((e = ct_outbox_get_info(s->ob, &s->info)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    if (n == 0) {
        fprintf(s->out, "nothing to reissue: no event of outbox %s was refused as conflict\n",
                s->dir);
        return CT_OK;
    }
    char hex[2 * CT_ORIGIN_LEN + 1];
    ct_text_hex(s->info.origin, CT_ORIGIN_LEN, hex);
    fprintf(s->out, "reissued %zu event%s under new ids (%sorigin %s); deliver them with `run`\n",
            n, n == 1 ? "" : "s", fresh ? "fresh " : "", hex);
    ct_log(CT_LOG_INFO, "conflict-rejected events queued again under new ids",
           "outbox=%s events=%zu origin=%s fresh_origin=%s", CT_LOG_Q(s->dir), n, hex,
           fresh ? "yes" : "no");
    return CT_OK;
}
