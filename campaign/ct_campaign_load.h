/* ct_campaign_load.h — reads a campaign from its files into the model of
 * proto/ct_campaign.h. The file format is docs/PROTOCOL.md §4's.
 *
 * A campaign is an INI file (parsed with inih) plus a roster CSV (parsed with
 * libcsv) that it names. examples/lamdong-2023/ shows both. Example:
 *
 *   [campaign]
 *   id = lamdong-2023
 *   name = Lâm Đồng: ra quân BHXH tự nguyện, BHYT hộ gia đình
 *   start = 2023-07-22T08:00:00+07:00     ; inclusive
 *   end = 2023-08-01T00:00:00+07:00       ; exclusive
 *   timezone = +07:00                     ; campaign-local days use this offset
 *   tolerance = 600                       ; seconds accepted outside the window
 *   max_future = 300                      ; seconds an event may be ahead of "now"
 *   roster = staff.csv                    ; relative to this file
 *
 *   [program bhxh_tn]
 *   agent_target = 1
 *   [program bhyt_hgd]
 *   agent_target = 2
 *
 *   [district 672]
 *   name = Thành phố Đà Lạt
 *   ; target.bhxh_tn = 30   (optional; default agent_target x staff in district)
 *
 *   [group nq143]
 *   name = Hỗ trợ theo Nghị quyết 143/NQ-HĐND
 *
 *   roster CSV, header required:  agent_id,name,district,org
 *   org is "bhxh" (social-insurance office) or "buudien" (post office).
 *
 * Loading checks everything (unknown keys and sections, duplicate
 * districts/agents, agents of unknown districts, bad times, empty roster, a
 * NUL byte anywhere in either file) and reports the FIRST error as
 * "path:line: message" in errbuf. The fingerprint is BLAKE2b-256 over the
 * campaign file's bytes || the roster's bytes. On failure *out is zeroed and
 * owns nothing; on success the caller frees it with ct_campaign_free.
 */
#ifndef CT_CAMPAIGN_LOAD_H
#define CT_CAMPAIGN_LOAD_H

#include <stddef.h>

#include "ct_campaign.h"
#include "ct_error.h"

ct_err ct_campaign_load(const char *path, ct_campaign *out, char *errbuf, size_t errlen);
/* Same, from memory (name is used in messages; roster given as bytes too). */
ct_err ct_campaign_load_mem(const char *name, const char *ini, size_t ini_len,
                            const char *roster_name, const char *roster, size_t roster_len,
                            ct_campaign *out, char *errbuf, size_t errlen);

#endif
