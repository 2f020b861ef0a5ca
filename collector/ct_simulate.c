/* ct_simulate.c — reproducible sign-up streams for a district (see ct_simulate.h).
 *
 * Invariants: everything random comes from one xoshiro256** stream seeded
 * from (seed, district), so a plan is a pure function of the options; the
 * plan is compact (ct_sim_item, 28 bytes an event) and events are built one at
 * a time when queued; a cancel or repeat is always later than the enrollment
 * it refers to, and the plan is queued in time order, so ids (creation
 * order) follow campaign time.
 */
#include "ct_simulate.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct_keys.h"
#include "ct_time.h"

#define DAY_MS 86400000LL
#define CHUNK 5000

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t rng_below(rng_t *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

static void rng_seed(rng_t *r, uint64_t seed, uint32_t district)
{
    uint64_t x = seed ^ ((uint64_t)district * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

/* Local midnight (ms, UTC) of the campaign-local day containing ms. */
static int64_t local_midnight(const ct_campaign *c, int64_t ms)
{
    int64_t off = (int64_t)c->tz_offset_min * 60000;
    int64_t local = ms + off;
    int64_t day = local >= 0 ? local / DAY_MS : (local - DAY_MS + 1) / DAY_MS;
    return day * DAY_MS - off;
}

/* A working-hours time on a campaign day in [from_ms, end). */
static int64_t work_time(rng_t *r, const ct_campaign *c, int64_t from_ms)
{
    int64_t first = local_midnight(c, from_ms);
    int64_t ndays = (c->end_ms - first + DAY_MS - 1) / DAY_MS;
    if (ndays < 1) ndays = 1;
    for (int attempt = 0; attempt < 64; attempt++) {
        int64_t day = first + (int64_t)rng_below(r, (uint64_t)ndays) * DAY_MS;
        int64_t tod;
        if (rng_unit(r) < 0.55) {
            tod = 7 * 3600000LL + 30 * 60000LL + (int64_t)(rng_unit(r) * 4 * 3600000.0);
        } else {
            tod = 13 * 3600000LL + 30 * 60000LL + (int64_t)(rng_unit(r) * 3.5 * 3600000.0);
        }
        tod -= tod % 1000;
        int64_t t = day + tod;
        if (t > from_ms && t >= c->start_ms && t < c->end_ms) return t;
    }
    int64_t t = from_ms + 60000;
    if (t < c->start_ms) t = c->start_ms;
    if (t >= c->end_ms) t = c->end_ms - 1000;
    return t;
}

static int cmp_item(const void *a, const void *b)
{
    const ct_sim_item *x = a, *y = b;
    if (x->t_ms != y->t_ms) return x->t_ms < y->t_ms ? -1 : 1;
    if (x->person != y->person) return x->person < y->person ? -1 : 1;
    if (x->program != y->program) return x->program < y->program ? -1 : 1;
    if (x->action != y->action) return x->action < y->action ? -1 : 1;
    if (x->agent != y->agent) return x->agent < y->agent ? -1 : 1;
    return 0;
}

/* grp: 0 none, 1 the BHYT support group (nq143), 2 the farmers' group. */
static void fill_payment(rng_t *r, ct_sim_item *it, bool has_group)
{
    double u = rng_unit(r);
    if (it->program == CT_PROGRAM_BHXH_TN) {
        static const uint8_t months[] = {1, 3, 6, 12};
        it->months = months[u < 0.3 ? 0 : u < 0.55 ? 1 : u < 0.75 ? 2 : 3];
        /* declared income 1.5M..5M VND, 22% contribution, minus the state's
         * 10% support of the minimum (33,000 VND a month) */
        uint32_t income_k = 1500 + 100 * (uint32_t)rng_below(r, 36);
        it->amount_k = it->months * (income_k * 22 / 100 - 33);
        it->grp = has_group && rng_unit(r) < 0.4 ? 2 : 0;
    } else {
        it->months = u < 0.7 ? 12 : u < 0.9 ? 6 : 3;
        it->amount_k = it->months * 81u; /* 4.5% of the 1.8M base salary */
        it->grp = has_group && rng_unit(r) < 0.3 ? 1 : 0;
    }
}

ct_err ct_simulate_plan(const ct_sim_opts *o, ct_sim_item **items_out, size_t *n_out,
                        ct_sim_summary *sum)
{
    *items_out = NULL;
    *n_out = 0;
    memset(sum, 0, sizeof *sum);
    const ct_campaign *c = o->campaign;
    rng_t r;
    rng_seed(&r, o->seed, o->district);
    uint32_t *agents = malloc((c->n_agents ? c->n_agents : 1) * sizeof *agents);
    if (!agents) return CT_ERR_NOMEM;
    size_t na = 0;
    for (size_t i = 0; i < c->n_agents; i++)
        if (c->agents[i].district == o->district) agents[na++] = (uint32_t)i;
    if (na == 0) {
        free(agents);
        return CT_ERR_UNKNOWN_DISTRICT;
    }
    sum->agents = na;
    bool has_group = c->n_groups > 0;
    double fill = o->fill > 0 ? o->fill : 0.0;

    /* enrollments */
    size_t cap = 1024, n = 0;
    ct_sim_item *it = malloc(cap * sizeof *it);
    if (!it) {
        free(agents);
        return CT_ERR_NOMEM;
    }
    size_t n_cancel, n_repeat;
#define PUSH_ENROLL(AG, PROG)                                                                      \
    do {                                                                                           \
        if (n == cap) {                                                                            \
            ct_sim_item *nit = realloc(it, 2 * cap * sizeof *it);                                  \
            if (!nit) {                                                                            \
                free(it);                                                                          \
                free(agents);                                                                      \
                return CT_ERR_NOMEM;                                                               \
            }                                                                                      \
            it = nit;                                                                              \
            cap *= 2;                                                                              \
        }                                                                                          \
        memset(&it[n], 0, sizeof it[n]);                                                           \
        it[n].agent = (AG);                                                                        \
        it[n].program = (uint8_t)(PROG);                                                           \
        it[n].action = CT_ACTION_ENROLL;                                                           \
        it[n].person = (uint32_t)n;                                                                \
        it[n].t_ms = work_time(&r, c, c->start_ms - 1);                                            \
        fill_payment(&r, &it[n], has_group);                                                       \
        sum->enroll[(PROG)]++;                                                                     \
        n++;                                                                                       \
    } while (0)

    if (o->count >= 0) {
        size_t total = (size_t)o->count;
        n_cancel = (size_t)llround((double)total * 0.03);
        n_repeat = (size_t)llround((double)total * 0.02);
        size_t n_enroll = total - n_cancel - n_repeat;
        for (size_t i = 0; i < n_enroll; i++) {
            uint32_t ag = agents[rng_below(&r, na)];
            int prog = rng_unit(&r) < 1.0 / 3.0 ? CT_PROGRAM_BHXH_TN : CT_PROGRAM_BHYT_HGD;
            PUSH_ENROLL(ag, prog);
        }
        if (n_cancel + n_repeat > n_enroll) n_cancel = n_repeat = 0;
    } else {
        for (size_t a = 0; a < na; a++) {
            double m = fill * (0.35 + 1.3 * rng_unit(&r));
            bool below = false;
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                double want = (double)c->agent_target[p] * m + rng_unit(&r);
                size_t k = want > 0 ? (size_t)want : 0;
                if (k < c->agent_target[p]) below = true;
                for (size_t j = 0; j < k; j++)
                    PUSH_ENROLL(agents[a], p);
            }
            if (below) sum->agents_below_quota++;
        }
        n_cancel = (size_t)llround((double)n * 0.03);
        n_repeat = (size_t)llround((double)n * 0.02);
        if (n >= 10 && n_repeat == 0) n_repeat = 1;
        if (n >= 20 && n_cancel == 0) n_cancel = 1;
    }
#undef PUSH_ENROLL
    size_t n_enroll = n;
    /* cancels and repeats refer to distinct earlier enrollments */
    size_t extra = n_cancel + n_repeat;
    if (extra > n_enroll) extra = n_cancel = n_repeat = 0;
    ct_sim_item *nit = realloc(it, (n_enroll + extra + 1) * sizeof *it);
    if (!nit) {
        free(it);
        free(agents);
        return CT_ERR_NOMEM;
    }
    it = nit;
    uint8_t *used = calloc(n_enroll + 1, 1);
    if (!used) {
        free(it);
        free(agents);
        return CT_ERR_NOMEM;
    }
    for (size_t k = 0; k < extra; k++) {
        size_t base;
        do {
            base = (size_t)rng_below(&r, n_enroll);
        } while (used[base]);
        used[base] = 1;
        ct_sim_item x = it[base];
        x.t_ms = work_time(&r, c, it[base].t_ms);
        if (k < n_cancel) {
            x.action = CT_ACTION_CANCEL;
            x.months = 0;
            x.amount_k = 0;
            x.grp = 0;
            sum->cancels++;
        } else {
            x.agent = agents[rng_below(&r, na)]; /* someone else signs them up again */
            fill_payment(&r, &x, has_group);
            sum->repeats++;
        }
        it[n++] = x;
    }
    free(used);
    free(agents);
    qsort(it, n, sizeof *it, cmp_item);
    sum->total = n;
    *items_out = it;
    *n_out = n;
    return CT_OK;
}

ct_err ct_simulate_event(const ct_sim_opts *o, const ct_sim_item *it, ct_event *ev)
{
    const ct_campaign *c = o->campaign;
    memset(ev, 0, sizeof *ev);
    snprintf(ev->campaign, sizeof ev->campaign, "%s", c->id);
    ev->district = o->district;
    ev->occurred_ms = it->t_ms;
    snprintf(ev->agent, sizeof ev->agent, "%s", c->agents[it->agent].id);
    ev->program = (ct_program)it->program;
    ev->action = (ct_action)it->action;
    /* a 12-digit national ID: 068 (born in Lâm Đồng), district, scrambled number */
    uint64_t off = (o->seed * 2654435761u) % 10000000u;
    uint64_t num = ((uint64_t)it->person * 7919u + off) % 10000000u;
    char nid[16];
    snprintf(nid, sizeof nid, "068%02u%07u", (unsigned)(o->district % 100), (unsigned)num);
    if (o->person_key) {
        ct_err e = ct_person_hash(o->person_key, nid, ev->person);
        if (e != CT_OK) return e;
    } else {
        static const char tag[] = "chitieu-simulated-person";
        crypto_generichash(ev->person, CT_PERSON_LEN, (const uint8_t *)nid, 12,
                           (const uint8_t *)tag, sizeof tag - 1);
    }
    sodium_memzero(nid, sizeof nid);
    if (it->action == CT_ACTION_ENROLL) {
        if (it->months) {
            ev->has_months = true;
            ev->months = it->months;
        }
        if (it->amount_k) {
            ev->has_amount = true;
            ev->amount_vnd = (uint64_t)it->amount_k * 1000u;
        }
        if (it->grp && c->n_groups > 0) {
            const ct_group *g = ct_campaign_group(c, it->grp == 1 ? "nq143" : "nongdan");
            if (!g) g = &c->groups[0];
            snprintf(ev->group, sizeof ev->group, "%s", g->id);
        }
    }
    return CT_OK;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

ct_err ct_simulate_run(ct_outbox *ob, const ct_sim_opts *o, ct_sim_summary *sum, char *err,
                       size_t errlen)
{
    err[0] = 0;
    ct_sim_item *items = NULL;
    size_t n = 0;
    ct_err e = ct_simulate_plan(o, &items, &n, sum);
    if (e != CT_OK) {
        if (e == CT_ERR_UNKNOWN_DISTRICT)
            snprintf(err, errlen, "no staff of district %u on the roster", o->district);
        else
            snprintf(err, errlen, "cannot plan the simulation: %s", ct_err_str(e));
        return e;
    }
    const ct_campaign *c = o->campaign;
    int64_t t0 = ct_monotonic_ms();
    int64_t last_progress = t0;
    size_t i = 0;
    ct_err result = CT_OK;
    while (i < n) {
        if (o->stop && *o->stop) break;
        size_t limit = n;
        if (o->realtime_factor > 0) {
            double elapsed = (double)(ct_monotonic_ms() - t0);
            int64_t camp_now = c->start_ms + (int64_t)(elapsed * o->realtime_factor);
            limit = i;
            while (limit < n && items[limit].t_ms <= camp_now)
                limit++;
            if (limit == i) {
                int64_t wait = (int64_t)((double)(items[i].t_ms - camp_now) / o->realtime_factor);
                sleep_ms(wait < 1 ? 1 : wait > 200 ? 200 : wait);
                continue;
            }
        }
        if (limit - i > CHUNK) limit = i + CHUNK;
        ct_outbox_txn *t;
        if ((e = ct_outbox_begin(ob, &t)) != CT_OK) {
            snprintf(err, errlen, "%s", ct_outbox_errmsg(ob));
            result = e;
            break;
        }
        size_t q = 0, a = 0;
        for (; i < limit; i++) {
            ct_event ev;
            uint8_t key[CT_OUTBOX_IDEM_LEN];
            bool queued;
            if ((e = ct_simulate_event(o, &items[i], &ev)) != CT_OK ||
                (e = ct_outbox_idem_key(&ev, key)) != CT_OK ||
                (e = ct_outbox_queue(t, &ev, key, &queued, NULL)) != CT_OK)
                break;
            if (queued) {
                q++;
            } else {
                a++;
            }
        }
        if (e != CT_OK) {
            ct_outbox_abort(t);
            snprintf(err, errlen, "cannot queue: %s %s", ct_err_str(e), ct_outbox_errmsg(ob));
            result = e;
            break;
        }
        if ((e = ct_outbox_commit(t)) != CT_OK) {
            snprintf(err, errlen, "commit failed: %s", ct_outbox_errmsg(ob));
            result = e;
            break;
        }
        sum->queued += q;
        sum->already += a;
        int64_t now = ct_monotonic_ms();
        if (o->progress && now - last_progress >= 2000) {
            last_progress = now;
            char ts[40];
            ct_time_format(items[i - 1].t_ms, c->tz_offset_min, ts, sizeof ts);
            fprintf(o->progress, "simulate: %zu/%zu events recorded (campaign time %s)\n", i, n,
                    ts);
            fflush(o->progress);
        }
    }
    free(items);
    return result;
}
