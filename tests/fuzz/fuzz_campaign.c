/* fuzz_campaign.c — libFuzzer target: the campaign INI + roster CSV parser
 * (ct_campaign_load_mem). The input is split at its first 0x00 byte: before
 * it the INI, after it the roster (no 0x00: all INI, empty roster).
 * Invariants: codes from the table; on failure the message is a
 * NUL-terminated "name:line: ..." and the campaign owns nothing; on success
 * every agent and district can be looked up and the targets add up.
 */
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
        FUZZ_CHECK(c.districts == NULL && c.agents == NULL && c.groups == NULL);
        ct_campaign_free(&c);
        return 0;
    }
    uint64_t sum[CT_PROGRAM_COUNT] = {0};
    for (size_t i = 0; i < c.n_districts; i++) {
        FUZZ_CHECK(ct_campaign_district(&c, c.districts[i].code) == &c.districts[i]);
        for (int p = 0; p < CT_PROGRAM_COUNT; p++)
            sum[p] += c.districts[i].target[p];
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
