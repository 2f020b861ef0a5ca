/* ct_campaign_default.h — the campaign built into every binary.
 *
 * examples/lamdong-2023/campaign.ini and staff.csv are embedded at build time
 * (cmake/embed.cmake), so every binary runs on the real Lâm Đồng 2023
 * campaign when --campaign is not given. The embedded name is
 * "<builtin>/lamdong-2023/campaign.ini" (it appears in error messages).
 */
#ifndef CT_CAMPAIGN_DEFAULT_H
#define CT_CAMPAIGN_DEFAULT_H

#include <stddef.h>

#include "ct_campaign_load.h"

/* Loads the embedded campaign. */
ct_err ct_campaign_load_default(ct_campaign *out, char *errbuf, size_t errlen);
/* Loads path, or the embedded campaign when path is NULL or "builtin". */
ct_err ct_campaign_load_arg(const char *path, ct_campaign *out, char *errbuf, size_t errlen);

#endif
