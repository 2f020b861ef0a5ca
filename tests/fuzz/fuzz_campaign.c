/* fuzz_campaign.c — libFuzzer target: the campaign INI + roster CSV parser
 * (ct_campaign_load_mem). The input is split at its first 0x00 byte: before
 * it the INI, after it the roster (no 0x00: all INI, empty roster).
 * Invariants: codes from the table; on failure the message is a
 * NUL-terminated "name:line: ..." and the campaign owns nothing; on success
 * every agent and district can be looked up, the targets of the units that
 * are not new (docs/PROTOCOL.md §4.5) add up to the province's, and every
 * reorganization names declared units and staff, in sorted arrays.
 */
#include <stdbool.h>
#include <string.h>

#include "ct_campaign_load.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z = memchr(data, 0, size);
    size_t ini_len = z ? (size_t)(z - data) : size;
    const char *roster = z ? (const char *)z + 1 : NULL;
    size_t roster_len = z ? size - ini_len - 1 : 0;
    ct_campaign c;
    char err[512];
    err[0] = '\0';
    ct_err e = ct_campaign_load_mem("fuzz.ini", (const char *)data, ini_len, "fuzz.csv", roster,
                                    roster_len, &c, err, sizeof err);
    FUZZ_CHECK(ct_err_known(e));
    FUZZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    if (e != CT_OK) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(c.districts == NULL && c.agents == NULL && c.groups == NULL && c.reorgs == NULL);
        ct_campaign_free(&c);
        return 0;
    }
    uint64_t sum[CT_PROGRAM_COUNT] = {0};
    for (size_t i = 0; i < c.n_districts; i++) {
        const ct_district *d = &c.districts[i];
        FUZZ_CHECK(ct_campaign_district(&c, d->code) == d);
        bool fresh = false; /* a map target that no staff belongs to */
        for (size_t r = 0; r < c.n_reorgs && !d->n_agents; r++)
            for (size_t j = 0; j < c.reorgs[r].n_maps; j++)
                fresh |= c.reorgs[r].maps[j].to == d->code && c.reorgs[r].maps[j].from != d->code;
        for (int p = 0; p < CT_PROGRAM_COUNT && !fresh; p++)
            sum[p] += d->target[p];
    }
    for (size_t r = 0; r < c.n_reorgs; r++) {
        const ct_reorg *g = &c.reorgs[r];
        FUZZ_CHECK(ct_campaign_reorg(&c, g->name) == g);
        FUZZ_CHECK(g->n_maps + g->n_moves + g->n_renames > 0);
        for (size_t j = 0; j < g->n_maps; j++) {
            const ct_district *d = ct_campaign_district(&c, g->maps[j].from);
            FUZZ_CHECK(d && ct_campaign_district(&c, g->maps[j].to));
            FUZZ_CHECK(!g->maps[j].commune[0] || ct_campaign_commune_listed(d, g->maps[j].commune));
            FUZZ_CHECK(j == 0 || g->maps[j - 1].from < g->maps[j].from ||
                       (g->maps[j - 1].from == g->maps[j].from &&
                        strcmp(g->maps[j - 1].commune, g->maps[j].commune) < 0));
        }
        for (size_t j = 0; j < g->n_moves; j++) {
            FUZZ_CHECK(ct_campaign_agent(&c, g->moves[j].agent));
            FUZZ_CHECK(ct_campaign_district(&c, g->moves[j].to));
        }
        for (size_t j = 0; j < g->n_renames; j++)
            FUZZ_CHECK(ct_campaign_district(&c, g->renames[j].unit));
    }
    for (int p = 0; p < CT_PROGRAM_COUNT; p++)
        FUZZ_CHECK(sum[p] == c.province_target[p]);
    for (size_t i = 0; i < c.n_agents; i++) {
        FUZZ_CHECK(ct_campaign_agent(&c, c.agents[i].id) == &c.agents[i]);
        FUZZ_CHECK(ct_campaign_district(&c, c.agents[i].district) != NULL);
    }
    for (size_t i = 0; i < c.n_groups; i++)
        FUZZ_CHECK(ct_campaign_group(&c, c.groups[i].id) == &c.groups[i]);
    FUZZ_CHECK(c.start_ms < c.end_ms);
    ct_campaign_free(&c);
    return 0;
}
