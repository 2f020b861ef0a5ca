/* ct_status_life.c — the campaign's life figures (see ct_status_life.h):
 * targets in force and their history, the LIFE index, closed days with
 * their official figures, lateness, and the rankings, from a counter table
 * and a clock.
 *
 * Invariants: pure (no clock reads, no I/O); integer arithmetic only; every
 * list is sorted by a total order on its own fields (never by table slot),
 * so equal (campaign, counters, clock) give equal figures. On error the
 * figures are freed and zeroed.
 */
#include "ct_status_life.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ct_be.h"

static const char *const KIND_NAMES[CT_LIFE_KINDS] = {"void",  "correct", "target",
                                                      "close", "reopen",  "reorg"};

const char *ct_status_life_kind_name(uint8_t kind)
{
    return kind >= 1 && kind <= CT_LIFE_KINDS ? KIND_NAMES[kind - 1] : "unknown";
}

int64_t ct_status_late_bound_s(int bucket)
{
    static const int64_t B[CT_LATE_BUCKETS - 1] = {900, 3600, 21600, 86400, 172800, 259200, 604800};
    return bucket >= 0 && bucket < CT_LATE_BUCKETS - 1 ? B[bucket] : -1;
}

bool ct_status_life_present(const ct_counts *counts)
{
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        if (s->used && ct_count_key_kind(&s->key) >= CT_COUNT_VOIDED &&
            ct_count_key_kind(&s->key) <= CT_COUNT_LIFE)
            return true;
    }
    return false;
}

/* The TARGET key's (ef, seq); false when its dim is not 16 bytes. */
static bool target_dim(const ct_count_key *k, int64_t *ef, uint64_t *seq)
{
    size_t dl;
    const uint8_t *dim = ct_count_key_dim(k, &dl);
    if (dl != 16) return false;
    *ef = (int64_t)ct_be64_get(dim);
    *seq = ct_be64_get(dim + 8);
    return true;
}

/* (ef, seq) of a before (ef2, seq2). */
static bool before(int64_t ef, uint64_t seq, int64_t ef2, uint64_t seq2)
{
    return ef < ef2 || (ef == ef2 && seq < seq2);
}

/* The latest revision in force of one (program, unit) series so far. */
typedef struct {
    bool found;
    int64_t ef, value;
    uint64_t seq;
} best_rev;

ct_err ct_status_life_targets_in_force(const ct_campaign *c, const ct_counts *counts,
                                       int64_t now_ms, int64_t quota[CT_PROGRAM_COUNT],
                                       int64_t (*unit_target)[CT_PROGRAM_COUNT])
{
    /* per program: the units in campaign order, then the quota (index n) */
    size_t n = c->n_districts;
    best_rev(*best)[CT_PROGRAM_COUNT] = calloc(n + 1, sizeof *best);
    if (!best) return CT_ERR_NOMEM;
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        if (!s->used || ct_count_key_kind(&s->key) != CT_COUNT_TARGET) continue;
        int p = (int)ct_count_key_program(&s->key);
        uint32_t u = ct_count_key_district(&s->key);
        int64_t ef;
        uint64_t seq;
        if (p < 0 || p >= CT_PROGRAM_COUNT || !target_dim(&s->key, &ef, &seq) || ef > now_ms)
            continue;
        size_t ix = n;
        if (u) {
            const ct_district *d = ct_campaign_district(c, u);
            if (!d) continue;
            ix = (size_t)(d - c->districts);
        }
        best_rev *r = &best[ix][p];
        if (!r->found || before(r->ef, r->seq, ef, seq))
            *r = (best_rev){.found = true, .ef = ef, .seq = seq, .value = s->value};
    }
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        const best_rev *q = &best[n][p];
        quota[p] = q->found ? q->value : (int64_t)c->agent_target[p];
        for (size_t i = 0; i < n; i++)
            unit_target[i][p] = best[i][p].found ? best[i][p].value
                                : q->found       ? q->value * c->districts[i].n_agents
                                                 : (int64_t)c->districts[i].target[p];
    }
    free(best);
    return CT_OK;
}

void ct_status_life_free(ct_status_life *l)
{
    if (!l) return;
    free(l->targets);
    free(l->changes);
    free(l->province.days);
    for (size_t i = 0; i < l->n_units; i++)
        free(l->units[i].days);
    free(l->units);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        free(l->offices[p]);
        free(l->staff[p]);
    }
    memset(l, 0, sizeof *l);
}

/* ---------------------------------------------------------------- targets, changes */

static int cmp_target(const void *a, const void *b)
{
    const ct_life_target *x = a, *y = b;
    if (x->program != y->program) return x->program < y->program ? -1 : 1;
    if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
    if (x->ef_ms != y->ef_ms) return x->ef_ms < y->ef_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_change(const void *a, const void *b)
{
    const ct_life_change *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

static ct_err list_targets(const ct_campaign *c, const ct_counts *counts, int64_t now_ms,
                           ct_status_life *l)
{
    size_t n = 0;
    for (size_t i = 0; i < counts->cap; i++)
        if (counts->slots[i].used && ct_count_key_kind(&counts->slots[i].key) == CT_COUNT_TARGET)
            n++;
    l->targets = calloc(n ? n : 1, sizeof *l->targets);
    if (!l->targets) return CT_ERR_NOMEM;
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        ct_life_target t;
        memset(&t, 0, sizeof t);
        if (!s->used || ct_count_key_kind(&s->key) != CT_COUNT_TARGET ||
            !target_dim(&s->key, &t.ef_ms, &t.seq))
            continue;
        t.program = ct_count_key_program(&s->key);
        t.unit = ct_count_key_district(&s->key);
        if ((int)t.program < 0 || t.program >= CT_PROGRAM_COUNT) continue;
        t.new_value = s->value;
        t.pending = t.ef_ms > now_ms;
        l->targets[l->n_targets++] = t;
    }
    if (l->n_targets > 1) qsort(l->targets, l->n_targets, sizeof *l->targets, cmp_target);
    for (size_t i = 0; i < l->n_targets; i++) {
        ct_life_target *t = &l->targets[i];
        const ct_life_target *prev = i ? &l->targets[i - 1] : NULL;
        if (prev && prev->program == t->program && prev->unit == t->unit) {
            t->old_value = prev->new_value;
        } else if (t->unit == 0) {
            t->old_value = c->agent_target[t->program];
        } else {
            const ct_district *d = ct_campaign_district(c, t->unit);
            t->old_value = d ? d->target[t->program] : 0;
        }
    }
    return CT_OK;
}

/* The LIFE index by seq; a target names its revision, a close in force its
 * day (CLOSE(unit, day) == seq, or a part's CLOSE(unit, day || part)). */
static ct_err list_changes(const ct_counts *counts, ct_status_life *l)
{
    size_t n = 0;
    for (size_t i = 0; i < counts->cap; i++)
        if (counts->slots[i].used && ct_count_key_kind(&counts->slots[i].key) == CT_COUNT_LIFE) n++;
    l->changes = calloc(n ? n : 1, sizeof *l->changes);
    if (!l->changes) return CT_ERR_NOMEM;
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(&s->key, &dl);
        if (!s->used || ct_count_key_kind(&s->key) != CT_COUNT_LIFE || dl != 8) continue;
        ct_life_change *ch = &l->changes[l->n_changes++];
        ch->seq = ct_be64_get(dim);
        ch->kind = s->value >= 1 && s->value <= CT_LIFE_KINDS ? (uint8_t)s->value : 0;
        ch->unit = ct_count_key_district(&s->key);
        ch->target = -1;
    }
    if (l->n_changes > 1) qsort(l->changes, l->n_changes, sizeof *l->changes, cmp_change);
    /* a target names its revision: the TARGET key with its seq */
    for (size_t j = 0; j < l->n_targets; j++) {
        ct_life_change key = {.seq = l->targets[j].seq, .unit = l->targets[j].unit};
        ct_life_change *ch =
            bsearch(&key, l->changes, l->n_changes, sizeof *l->changes, cmp_change);
        if (ch && ch->kind == 3) ch->target = (int)j;
    }
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(&s->key, &dl);
        if (!s->used || ct_count_key_kind(&s->key) != CT_COUNT_CLOSE || (dl != 4 && dl != 8) ||
            s->value <= 0)
            continue;
        ct_life_change key = {.seq = (uint64_t)s->value, .unit = ct_count_key_district(&s->key)};
        ct_life_change *ch =
            bsearch(&key, l->changes, l->n_changes, sizeof *l->changes, cmp_change);
        if (ch && ch->kind == 4) ch->day = ct_be32_get(dim);
    }
    return CT_OK;
}

/* ---------------------------------------------------------------- units and days */

static int day_index(const ct_status_figures *f, uint32_t day)
{
    size_t lo = 0, hi = f->n_days;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n_days && f->days[lo].day == day ? (int)lo : -1;
}

static int64_t get_key(const ct_counts *counts, ct_count_kind kind, int p, uint32_t unit,
                       const uint8_t *dim, size_t dl)
{
    ct_count_key k = ct_count_key_make(kind, (ct_program)p, unit, dim, dl);
    return ct_counts_get(counts, &k);
}

static uint64_t close_seq(const ct_counts *counts, uint32_t unit, uint32_t day)
{
    uint8_t dim[4];
    ct_be32_put(dim, day);
    int64_t v = get_key(counts, CT_COUNT_CLOSE, 0, unit, dim, 4);
    return v > 0 ? (uint64_t)v : 0;
}

static int64_t after_close(const ct_counts *counts, int p, uint32_t unit, uint32_t day, uint64_t s)
{
    uint8_t dim[12];
    ct_be32_put(dim, day);
    ct_be64_put(dim + 4, s);
    return get_key(counts, CT_COUNT_AFTER_CLOSE, p, unit, dim, 12);
}

static void late_percentiles(ct_life_late *lt)
{
    lt->counted = 0;
    for (int b = 0; b < CT_LATE_BUCKETS; b++)
        lt->counted += lt->hist[b];
    lt->p50 = lt->p90 = -1;
    int64_t cum = 0;
    for (int b = 0; b < CT_LATE_BUCKETS && lt->counted > 0; b++) {
        cum += lt->hist[b];
        if (lt->p50 < 0 && 2 * cum >= lt->counted) lt->p50 = b;
        if (lt->p90 < 0 && 10 * cum >= 9 * lt->counted) lt->p90 = b;
    }
}

/* Every unit's and the province's voids, corrections, lateness and days. */
static ct_err units_and_days(const ct_campaign *c, const ct_counts *counts,
                             const ct_status_figures *f, ct_status_life *l)
{
    size_t nd = f->n_days ? f->n_days : 1;
    l->n_units = f->n_districts;
    l->units = calloc(l->n_units ? l->n_units : 1, sizeof *l->units);
    l->province.days = calloc(nd, sizeof *l->province.days);
    if (!l->units || !l->province.days) return CT_ERR_NOMEM;
    for (size_t i = 0; i < l->n_units; i++) {
        l->units[i].days = calloc(nd, sizeof *l->units[i].days);
        if (!l->units[i].days) return CT_ERR_NOMEM;
    }
    for (size_t i = 0; i < counts->cap; i++) {
        const ct_counts_slot *s = &counts->slots[i];
        if (!s->used) continue;
        ct_count_kind kind = ct_count_key_kind(&s->key);
        int p = (int)ct_count_key_program(&s->key);
        const ct_district *d = ct_campaign_district(c, ct_count_key_district(&s->key));
        if (p < 0 || p >= CT_PROGRAM_COUNT || !d) continue;
        ct_life_unit *u = &l->units[d - c->districts];
        size_t dl;
        const uint8_t *dim = ct_count_key_dim(&s->key, &dl);
        int j = dl == 4 ? day_index(f, ct_be32_get(dim)) : -1;
        switch (kind) {
        case CT_COUNT_VOIDED:
            u->voided[p] += s->value;
            break;
        case CT_COUNT_CORRECTED:
            u->corrected[p] += s->value;
            break;
        case CT_COUNT_CLOSE:
            /* a part's close under the merged unit (projection `current`):
             * CLOSE (unit, day || part) = its seq */
            if (dl == 8 && s->value > 0) {
                uint32_t day = ct_be32_get(dim);
                int k = day_index(f, day);
                if (k < 0) break;
                ct_life_day *ud = &u->days[k];
                ud->n_parts++;
                if ((uint64_t)s->value > ud->part_seq) {
                    ud->part_seq = (uint64_t)s->value;
                    ud->part = ct_be32_get(dim + 4);
                }
                for (int q = 0; q < CT_PROGRAM_COUNT; q++)
                    ud->part_after[q] += after_close(counts, q, d->code, day, (uint64_t)s->value);
            }
            break;
        case CT_COUNT_LATE_HIST:
            if (dl == 1 && dim[0] < CT_LATE_BUCKETS) u->late.hist[dim[0]] += s->value;
            break;
        case CT_COUNT_LATE_MAX:
            if (s->value > u->late.max_s) u->late.max_s = s->value;
            break;
        case CT_COUNT_LATE_CLOSED:
            u->late.late_closed += s->value;
            if (j >= 0) u->days[j].late_closed[p] += s->value;
            break;
        case CT_COUNT_AFTER_DAY:
            u->late.after_day += s->value;
            if (j >= 0) u->days[j].after_day[p] += s->value;
            break;
        case CT_COUNT_RECV_DAY:
            if (j >= 0)
                u->days[j].received[p] += s->value;
            else if (dl == 4)
                u->received_outside[p] += s->value;
            break;
        default:
            break;
        }
    }
    ct_life_unit *pv = &l->province;
    for (size_t j = 0; j < f->n_days; j++) {
        uint32_t day = f->days[j].day;
        ct_life_day *pd = &pv->days[j];
        pd->day = day;
        pd->close_seq = close_seq(counts, 0, day);
        pd->by_province = pd->close_seq != 0;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            pd->current[p] = pd->official[p] = f->days[j].net[p];
        for (size_t i = 0; i < l->n_units; i++) {
            uint32_t code = f->districts[i].code;
            ct_life_day *ud = &l->units[i].days[j];
            ud->day = day;
            uint64_t own = close_seq(counts, code, day);
            ud->close_seq = own ? own : pd->close_seq;
            ud->by_province = !own && pd->close_seq;
            bool by_parts = !ud->close_seq && ud->n_parts;
            if (by_parts) ud->close_seq = ud->part_seq;
            if (!by_parts) ud->part = ud->n_parts = 0;
            for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
                ud->current[p] = ud->official[p] = f->districts[i].day_net[j][p];
                if (by_parts)
                    ud->official[p] -= ud->part_after[p];
                else if (ud->close_seq)
                    ud->official[p] -= after_close(counts, p, code, day, ud->close_seq);
                if (pd->close_seq)
                    pd->official[p] -= after_close(counts, p, code, day, pd->close_seq);
                pd->late_closed[p] += ud->late_closed[p];
                pd->after_day[p] += ud->after_day[p];
                pd->received[p] += ud->received[p];
            }
        }
    }
    for (size_t i = 0; i < l->n_units; i++) {
        ct_life_unit *u = &l->units[i];
        late_percentiles(&u->late);
        for (int b = 0; b < CT_LATE_BUCKETS; b++)
            pv->late.hist[b] += u->late.hist[b];
        if (u->late.max_s > pv->late.max_s) pv->late.max_s = u->late.max_s;
        pv->late.after_day += u->late.after_day;
        pv->late.late_closed += u->late.late_closed;
        for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
            u->target_original[p] = c->districts[i].target[p];
            pv->target_original[p] += u->target_original[p];
            pv->voided[p] += u->voided[p];
            pv->corrected[p] += u->corrected[p];
            pv->received_outside[p] += u->received_outside[p];
        }
    }
    late_percentiles(&pv->late);
    return CT_OK;
}

/* ---------------------------------------------------------------- rankings */

/* sign of a/b - c/d for b, d > 0 */
static int cmp_ratio(int64_t a, int64_t b, int64_t c, int64_t d)
{
#ifdef __SIZEOF_INT128__
    __int128 x = (__int128)a * d, y = (__int128)c * b;
#else
    long double x = (long double)a * (long double)d, y = (long double)c * (long double)b;
#endif
    return x < y ? -1 : x > y;
}

/* attainment as (numerator, denominator): net / target, 1/1 for target 0 */
static void attainment(int64_t net, int64_t target, int64_t *n, int64_t *d)
{
    *n = target > 0 ? net : 1;
    *d = target > 0 ? target : 1;
}

/* the order both rankings share: attainment, then net (larger first),
 * then voided (fewer first); 0 when those tie */
static int cmp_rank(int64_t xnet, int64_t xtarget, int64_t xvoid, int64_t ynet, int64_t ytarget,
                    int64_t yvoid)
{
    int64_t xn, xd, yn, yd;
    attainment(xnet, xtarget, &xn, &xd);
    attainment(ynet, ytarget, &yn, &yd);
    int r = cmp_ratio(yn, yd, xn, xd);
    if (r) return r;
    if (xnet != ynet) return xnet > ynet ? -1 : 1;
    return xvoid < yvoid ? -1 : xvoid > yvoid;
}

static int cmp_office(const void *a, const void *b)
{
    const ct_life_office_rank *x = a, *y = b;
    int r = cmp_rank(x->net, x->target, x->voided, y->net, y->target, y->voided);
    if (r) return r;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

static int cmp_staff(const void *a, const void *b)
{
    const ct_life_staff_rank *x = a, *y = b;
    int r = cmp_rank(x->net, x->target, x->voided, y->net, y->target, y->voided);
    if (r) return r;
    if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
    return strcmp(x->agent->id, y->agent->id);
}

static ct_err rankings(const ct_counts *counts, const ct_status_figures *f, ct_status_life *l)
{
    l->n_staff = 0;
    for (size_t i = 0; i < f->n_districts; i++)
        l->n_staff += f->districts[i].n_members;
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        l->offices[p] = calloc(l->n_units ? l->n_units : 1, sizeof *l->offices[p]);
        l->staff[p] = calloc(l->n_staff ? l->n_staff : 1, sizeof *l->staff[p]);
        if (!l->offices[p] || !l->staff[p]) return CT_ERR_NOMEM;
        size_t k = 0;
        for (size_t i = 0; i < l->n_units; i++) {
            const ct_status_prog *pr = &f->districts[i].prog[p];
            l->offices[p][i] = (ct_life_office_rank){.unit = i,
                                                     .net = pr->net,
                                                     .target = pr->target,
                                                     .pct_x10 = pr->pct_x10,
                                                     .voided = l->units[i].voided[p]};
            for (size_t j = 0; j < f->districts[i].n_members; j++) {
                const ct_status_staff *st = &f->districts[i].members[j];
                const ct_agent *a = st->agent;
                ct_count_key key = ct_count_key_make(CT_COUNT_VOIDED, (ct_program)p, a->district,
                                                     a->id, strlen(a->id));
                l->staff[p][k++] = (ct_life_staff_rank){.agent = a,
                                                        .unit = i,
                                                        .net = st->count[p],
                                                        .target = l->quota[p],
                                                        .pct_x10 = st->pct_x10[p],
                                                        .voided = ct_counts_get(counts, &key)};
            }
        }
        assert(k == l->n_staff);
        qsort(l->offices[p], l->n_units, sizeof *l->offices[p], cmp_office);
        qsort(l->staff[p], l->n_staff, sizeof *l->staff[p], cmp_staff);
    }
    return CT_OK;
}

ct_err ct_status_life_compute(const ct_campaign *c, const ct_counts *counts,
                              const ct_status_figures *f, ct_status_life *l)
{
    memset(l, 0, sizeof *l);
    for (int p = 0; p < CT_PROGRAM_COUNT; p++) {
        l->quota[p] = f->agent_target[p];
        l->quota_original[p] = c->agent_target[p];
    }
    ct_err e = list_targets(c, counts, f->now_ms, l);
    if (!e) e = list_changes(counts, l);
    if (!e) e = units_and_days(c, counts, f, l);
    if (!e) e = rankings(counts, f, l);
    if (e) ct_status_life_free(l);
    return e;
}
