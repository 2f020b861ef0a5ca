/* ct_reorg_load.c — the [reorg NAME] sections of a campaign file
 * (docs/PROTOCOL.md §4.5): unit reorganizations a "reorg" life entry can put
 * in force. Lines are read as they come (ct_cload_reorg_key) and checked
 * against the districts and the roster once both are read
 * (ct_cload_reorgs_finish), each error naming the line of the offending key.
 *
 *   [reorg dahuoai-2025]
 *   label = Sáp nhập Đạ Tẻh vào Đạ Huoai
 *   map = 682 -> 681                  ; the whole unit 682 belongs to 681
 *   map = 675 Xã Lát -> 690           ; one commune of 675 (in its list) to 690
 *   map = 675 -> 677                  ; the rest of 675 (required with commune maps)
 *   rename = 681 Huyện Đạ Huoai (mới)
 *   move = LD682-003 -> 673           ; a staff member records for 673
 *
 * Invariants: within one reorganization a (unit, commune) pair is mapped at
 * most once, a unit with commune maps has a rest map, no map sends a unit or
 * a commune to its own unit, no target, move or rename names a unit that the
 * same reorganization maps away, a staff member is moved at most once and a
 * unit renamed at most once. On success cp->reorgs is sorted by name, each
 * reorganization's maps by (from, commune), moves by agent, renames by unit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_campaign_load_int.h"
#include "ct_num.h"

void ct_cload_reorg_begin(lctx *c, const char *arg)
{
    const char *name = c->ini_name;
    unsigned line = c->src.line;
    if (!*arg) {
        ct_cload_fail(c, name, line, "section [reorg] needs a name, e.g. [reorg merge-2025]");
        return;
    }
    if (!ct_cload_ident_ok(arg, CT_REORG_NAME_MAX)) {
        ct_cload_fail(c, name, line,
                      "bad reorganization name '%s' (1..%d characters of A-Z a-z 0-9 _ - .)", arg,
                      CT_REORG_NAME_MAX);
        return;
    }
    for (size_t i = 0; i < c->n_reorgs; i++) {
        if (strcmp(c->reorgs[i].r.name, arg) == 0) {
            ct_cload_fail(c, name, line, "duplicate reorg %s (first at line %u)", arg,
                          c->reorgs[i].line);
            return;
        }
    }
    if (c->n_reorgs >= CT_MAX_REORGS) {
        ct_cload_fail(c, name, line, "too many reorganizations (max %d)", CT_MAX_REORGS);
        return;
    }
    if (!ct_cload_grow((void **)&c->reorgs, &c->cap_reorgs, c->n_reorgs, sizeof *c->reorgs)) {
        ct_cload_fail_nomem(c);
        return;
    }
    xreorg *x = &c->reorgs[c->n_reorgs++];
    memset(x, 0, sizeof *x);
    strcpy(x->r.name, arg);
    x->line = line;
    c->sec = SEC_REORG;
    c->sec_idx = c->n_reorgs - 1;
}

/* Cuts "LEFT -> RIGHT" at the last "->": both sides trimmed, non-empty. */
static bool split_arrow(const char *v, char *left, size_t lcap, char *right, size_t rcap)
{
    const char *arrow = NULL;
    for (const char *p = strstr(v, "->"); p; p = strstr(p + 1, "->"))
        arrow = p;
    if (!arrow) return false;
    const char *ls = v, *le = arrow, *rs = arrow + 2, *re = v + strlen(v);
    while (ls < le && (*ls == ' ' || *ls == '\t'))
        ls++;
    while (le > ls && (le[-1] == ' ' || le[-1] == '\t'))
        le--;
    while (rs < re && (*rs == ' ' || *rs == '\t'))
        rs++;
    while (re > rs && (re[-1] == ' ' || re[-1] == '\t'))
        re--;
    if (le == ls || re == rs || (size_t)(le - ls) >= lcap || (size_t)(re - rs) >= rcap)
        return false;
    memcpy(left, ls, (size_t)(le - ls));
    left[le - ls] = '\0';
    memcpy(right, rs, (size_t)(re - rs));
    right[re - rs] = '\0';
    return true;
}

/* "CODE" or "CODE REST": the unit code (1..65535) and the rest, trimmed. */
static bool split_unit(const char *v, uint32_t *unit, const char **rest)
{
    char num[8];
    size_t n = 0;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof num || (v[n] && v[n] != ' ' && v[n] != '\t')) return false;
    memcpy(num, v, n);
    num[n] = '\0';
    uint64_t code;
    if (!ct_num_parse_u64(num, 65535, &code) || code == 0) return false;
    *unit = (uint32_t)code;
    const char *r = v + n;
    while (*r == ' ' || *r == '\t')
        r++;
    *rest = r;
    return true;
}

/* The line arrays grow in step with the item arrays (same start, same
 * doubling), so the item array's capacity before growing is theirs. */
static bool item_room(lctx *c, xreorg *x)
{
    if (x->r.n_maps + x->r.n_moves + x->r.n_renames < CT_REORG_ITEMS_MAX) return true;
    ct_cload_fail(c, c->ini_name, c->src.line, "too many lines in [reorg %s] (max %d)", x->r.name,
                  CT_REORG_ITEMS_MAX);
    return false;
}

static int take_map(lctx *c, xreorg *x, const char *value)
{
    char left[CT_VALUE_MAX], right[CT_VALUE_MAX];
    uint32_t from, to;
    const char *commune, *tail;
    if (!split_arrow(value, left, sizeof left, right, sizeof right) ||
        !split_unit(left, &from, &commune) || !split_unit(right, &to, &tail) || *tail) {
        ct_cload_fail(c, c->ini_name, c->src.line,
                      "bad map '%s' (expected 'UNIT -> UNIT' or 'UNIT COMMUNE -> UNIT')", value);
        return 0;
    }
    ct_reorg_map m = {.from = from, .to = to};
    if (*commune && !ct_cload_take_text(c, "map", commune, m.commune, sizeof m.commune)) return 0;
    if (!item_room(c, x)) return 0;
    size_t n = x->r.n_maps, cap = x->cap_maps;
    if (!ct_cload_grow((void **)&x->r.maps, &x->cap_maps, n, sizeof *x->r.maps) ||
        !ct_cload_grow((void **)&x->map_line, &cap, n, sizeof *x->map_line)) {
        ct_cload_fail_nomem(c);
        return 0;
    }
    x->r.maps[n] = m;
    x->map_line[n] = c->src.line;
    x->r.n_maps++;
    return 1;
}

static int take_move(lctx *c, xreorg *x, const char *value)
{
    char left[CT_VALUE_MAX], right[CT_VALUE_MAX];
    uint32_t to;
    const char *tail;
    if (!split_arrow(value, left, sizeof left, right, sizeof right) ||
        !ct_cload_agent_id_ok(left, strlen(left)) || !split_unit(right, &to, &tail) || *tail) {
        ct_cload_fail(c, c->ini_name, c->src.line, "bad move '%s' (expected 'STAFF_ID -> UNIT')",
                      value);
        return 0;
    }
    if (!item_room(c, x)) return 0;
    size_t n = x->r.n_moves, cap = x->cap_moves;
    if (!ct_cload_grow((void **)&x->r.moves, &x->cap_moves, n, sizeof *x->r.moves) ||
        !ct_cload_grow((void **)&x->move_line, &cap, n, sizeof *x->move_line)) {
        ct_cload_fail_nomem(c);
        return 0;
    }
    memset(&x->r.moves[n], 0, sizeof x->r.moves[n]);
    strcpy(x->r.moves[n].agent, left);
    x->r.moves[n].to = to;
    x->move_line[n] = c->src.line;
    x->r.n_moves++;
    return 1;
}

static int take_rename(lctx *c, xreorg *x, const char *value)
{
    uint32_t unit;
    const char *rest;
    if (!split_unit(value, &unit, &rest) || !*rest) {
        ct_cload_fail(c, c->ini_name, c->src.line, "bad rename '%s' (expected 'UNIT NEW NAME')",
                      value);
        return 0;
    }
    ct_reorg_rename rn = {.unit = unit};
    if (!ct_cload_take_text(c, "rename", rest, rn.name, sizeof rn.name)) return 0;
    if (!item_room(c, x)) return 0;
    size_t n = x->r.n_renames, cap = x->cap_renames;
    if (!ct_cload_grow((void **)&x->r.renames, &x->cap_renames, n, sizeof *x->r.renames) ||
        !ct_cload_grow((void **)&x->rename_line, &cap, n, sizeof *x->rename_line)) {
        ct_cload_fail_nomem(c);
        return 0;
    }
    x->r.renames[n] = rn;
    x->rename_line[n] = c->src.line;
    x->r.n_renames++;
    return 1;
}

int ct_cload_reorg_key(lctx *c, const char *key, const char *value)
{
    xreorg *x = &c->reorgs[c->sec_idx];
    if (strcmp(key, "map") == 0) return take_map(c, x, value);
    if (strcmp(key, "move") == 0) return take_move(c, x, value);
    if (strcmp(key, "rename") == 0) return take_rename(c, x, value);
    if (strcmp(key, "label") == 0) {
        if (x->label_line) {
            ct_cload_fail(c, c->ini_name, c->src.line,
                          "duplicate key 'label' in [reorg %s] (first at line %u)", x->r.name,
                          x->label_line);
            return 0;
        }
        if (!ct_cload_take_text(c, key, value, x->r.label, sizeof x->r.label)) return 0;
        x->label_line = c->src.line;
        return 1;
    }
    ct_cload_fail(c, c->ini_name, c->src.line,
                  "unknown key '%s' in [reorg %s] (expected label, map, move or rename)", key,
                  x->r.name);
    return 0;
}

/* ---------- checks once districts and roster are known ---------- */

static bool commune_in(const xdistrict *d, const char *commune)
{
    for (size_t i = 0; i < d->d.n_communes; i++)
        if (strcmp(d->d.communes[i], commune) == 0) return true;
    return false;
}

/* The rest map of unit u in x (commune ""), or NULL. */
static const ct_reorg_map *rest_map(const xreorg *x, uint32_t u)
{
    for (size_t i = 0; i < x->r.n_maps; i++)
        if (x->r.maps[i].from == u && !x->r.maps[i].commune[0]) return &x->r.maps[i];
    return NULL;
}

static bool declared(lctx *c, uint32_t unit, unsigned line, const char *what)
{
    if (ct_cload_district(c, unit)) return true;
    ct_cload_fail(c, c->ini_name, line, "%s: unit %u is not declared as a [district %u]", what,
                  unit, unit);
    return false;
}

static void check_maps(lctx *c, xreorg *x)
{
    const char *f = c->ini_name;
    for (size_t i = 0; i < x->r.n_maps && !c->failed; i++) {
        const ct_reorg_map *m = &x->r.maps[i];
        unsigned line = x->map_line[i];
        if (!declared(c, m->from, line, "map") || !declared(c, m->to, line, "map")) return;
        const xdistrict *d = ct_cload_district(c, m->from);
        if (m->commune[0] && !commune_in(d, m->commune)) {
            ct_cload_fail(c, f, line, "map: commune '%s' is not in the list of [district %u]",
                          m->commune, m->from);
            return;
        }
        for (size_t j = 0; j < i; j++) {
            const ct_reorg_map *o = &x->r.maps[j];
            if (o->from != m->from || strcmp(o->commune, m->commune) != 0) continue;
            if (m->commune[0])
                ct_cload_fail(c, f, line,
                              "map: commune '%s' of unit %u mapped twice (first at line %u)",
                              m->commune, m->from, x->map_line[j]);
            else
                ct_cload_fail(c, f, line, "map: unit %u mapped twice (first at line %u)", m->from,
                              x->map_line[j]);
            return;
        }
    }
    for (size_t i = 0; i < x->r.n_maps && !c->failed; i++) {
        const ct_reorg_map *m = &x->r.maps[i];
        unsigned line = x->map_line[i];
        const ct_reorg_map *rest = rest_map(x, m->from);
        if (m->commune[0] && !rest) {
            ct_cload_fail(c, f, line,
                          "map: the split of unit %u has no rest mapping (add 'map = %u -> UNIT')",
                          m->from, m->from);
            return;
        }
        if (m->commune[0] && m->to == rest->to) {
            ct_cload_fail(c, f, line, "map: commune '%s' goes where the rest of unit %u goes",
                          m->commune, m->from);
            return;
        }
        if (!m->commune[0] && m->from == m->to) {
            bool split = false;
            for (size_t j = 0; j < x->r.n_maps; j++)
                split |= x->r.maps[j].from == m->from && x->r.maps[j].commune[0];
            if (!split) {
                ct_cload_fail(c, f, line, "map: unit %u is mapped to itself", m->from);
                return;
            }
        }
        const ct_reorg_map *away = rest_map(x, m->to);
        if (away && away->to != m->to) {
            ct_cload_fail(c, f, line,
                          "map: target unit %u is itself mapped away by this reorganization "
                          "(line %u); map to its final unit",
                          m->to, x->map_line[away - x->r.maps]);
            return;
        }
    }
}

static void check_moves(lctx *c, xreorg *x)
{
    const char *f = c->ini_name;
    for (size_t i = 0; i < x->r.n_moves && !c->failed; i++) {
        const ct_reorg_move *m = &x->r.moves[i];
        unsigned line = x->move_line[i];
        const ct_agent *a = NULL;
        for (size_t j = 0; j < c->n_agents && !a; j++)
            if (strcmp(c->agents[j].id, m->agent) == 0) a = &c->agents[j];
        if (!a) {
            ct_cload_fail(c, f, line, "move: staff '%s' is not on the roster", m->agent);
            return;
        }
        if (!declared(c, m->to, line, "move")) return;
        if (a->district == m->to) {
            ct_cload_fail(c, f, line, "move: staff '%s' is already in unit %u", m->agent, m->to);
            return;
        }
        const ct_reorg_map *away = rest_map(x, m->to);
        if (away && away->to != m->to) {
            ct_cload_fail(c, f, line,
                          "move: unit %u is mapped away by this reorganization (line %u)", m->to,
                          x->map_line[away - x->r.maps]);
            return;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(x->r.moves[j].agent, m->agent) == 0) {
                ct_cload_fail(c, f, line, "move: staff '%s' moved twice (first at line %u)",
                              m->agent, x->move_line[j]);
                return;
            }
        }
    }
}

static void check_renames(lctx *c, xreorg *x)
{
    const char *f = c->ini_name;
    for (size_t i = 0; i < x->r.n_renames && !c->failed; i++) {
        const ct_reorg_rename *r = &x->r.renames[i];
        unsigned line = x->rename_line[i];
        if (!declared(c, r->unit, line, "rename")) return;
        const ct_reorg_map *away = rest_map(x, r->unit);
        if (away && away->to != r->unit) {
            ct_cload_fail(c, f, line,
                          "rename: unit %u is mapped away by this reorganization (line %u)",
                          r->unit, x->map_line[away - x->r.maps]);
            return;
        }
        for (size_t j = 0; j < i; j++) {
            if (x->r.renames[j].unit == r->unit) {
                ct_cload_fail(c, f, line, "rename: unit %u renamed twice (first at line %u)",
                              r->unit, x->rename_line[j]);
                return;
            }
        }
    }
}

static int cmp_map(const void *a, const void *b)
{
    const ct_reorg_map *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return strcmp(x->commune, y->commune);
}

static int cmp_move(const void *a, const void *b)
{
    return strcmp(((const ct_reorg_move *)a)->agent, ((const ct_reorg_move *)b)->agent);
}

static int cmp_rename(const void *a, const void *b)
{
    const ct_reorg_rename *x = a, *y = b;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

static int cmp_reorg(const void *a, const void *b)
{
    return strcmp(((const ct_reorg *)a)->name, ((const ct_reorg *)b)->name);
}

bool ct_cload_unit_is_new(lctx *c, uint32_t code)
{
    bool target = false;
    for (size_t i = 0; i < c->n_reorgs && !target; i++)
        for (size_t j = 0; j < c->reorgs[i].r.n_maps && !target; j++)
            target = c->reorgs[i].r.maps[j].to == code && c->reorgs[i].r.maps[j].from != code;
    const xdistrict *d = target ? ct_cload_district(c, code) : NULL;
    return d && d->d.n_agents == 0;
}

void ct_cload_reorgs_check(lctx *c)
{
    for (size_t i = 0; i < c->n_reorgs && !c->failed; i++) {
        xreorg *x = &c->reorgs[i];
        if (!x->r.n_maps && !x->r.n_moves && !x->r.n_renames) {
            ct_cload_fail(c, c->ini_name, x->line, "[reorg %s] has no map, move or rename",
                          x->r.name);
            return;
        }
        check_maps(c, x);
        check_moves(c, x);
        check_renames(c, x);
    }
}

void ct_cload_reorgs_output(lctx *c, ct_campaign *cp)
{
    if (c->failed || !c->n_reorgs) return;
    cp->reorgs = calloc(c->n_reorgs, sizeof *cp->reorgs);
    if (!cp->reorgs) {
        ct_cload_fail_nomem(c);
        return;
    }
    for (size_t i = 0; i < c->n_reorgs; i++) {
        ct_reorg *r = &c->reorgs[i].r;
        if (!c->reorgs[i].label_line) strcpy(r->label, r->name);
        if (r->n_maps) qsort(r->maps, r->n_maps, sizeof *r->maps, cmp_map);
        if (r->n_moves) qsort(r->moves, r->n_moves, sizeof *r->moves, cmp_move);
        if (r->n_renames) qsort(r->renames, r->n_renames, sizeof *r->renames, cmp_rename);
        cp->reorgs[i] = *r;
        memset(r, 0, sizeof *r); /* cp owns the arrays now */
    }
    cp->n_reorgs = c->n_reorgs;
    qsort(cp->reorgs, cp->n_reorgs, sizeof *cp->reorgs, cmp_reorg);
}

void ct_cload_reorgs_free(lctx *c)
{
    for (size_t i = 0; c->reorgs && i < c->n_reorgs; i++) {
        free(c->reorgs[i].r.maps);
        free(c->reorgs[i].r.moves);
        free(c->reorgs[i].r.renames);
        free(c->reorgs[i].map_line);
        free(c->reorgs[i].move_line);
        free(c->reorgs[i].rename_line);
    }
    free(c->reorgs);
    c->reorgs = NULL;
    c->n_reorgs = 0;
}
