/* ct_national.h — the national campaign file (docs/PROTOCOL.md §11): the
 * provinces a national reporter follows and the national targets.
 *
 *   [national]
 *   id = vn-2023
 *   name = Toàn quốc 2023
 *   target.bhxh_tn = 400          ; optional; default: the provinces' sum
 *   timezone = +07:00             ; optional; default: the first province's
 *
 *   [province 68]
 *   name = Lâm Đồng
 *   campaign = ../lamdong-2023/campaign.ini   ; relative to this file
 *   feed = tcp://10.0.0.1:7702, tcp://10.0.0.2:7702
 *   snapshot = tcp://10.0.0.1:7703, tcp://10.0.0.2:7703
 *   server_key = keys/lamdong-aggregator.pub  ; optional (--insecure)
 *   campaign_id = lamdong-2023                ; optional pin
 *   fingerprint = <64 hex>                    ; optional pin
 *
 * Loading reads every province's campaign file (campaign/ct_campaign_load)
 * and checks everything; the first error is "path:line: message" (a
 * province's campaign error is prefixed with the national file's line of its
 * `campaign` key). The national window is the provinces' union
 * [earliest start, latest end). On failure *out is zeroed and owns nothing;
 * on success ct_national_free releases it. Provinces are sorted by code.
 */
#ifndef CT_NATIONAL_H
#define CT_NATIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_error.h"

#define CT_NAT_MAX_PROVINCES 256
#define CT_NAT_MAX_ENDPOINTS 8
#define CT_NAT_EP_MAX 255
#define CT_NAT_PATH_MAX 1024

typedef struct {
    uint32_t code; /* 1..65535 */
    char name[CT_NAME_MAX + 1];
    char feed[CT_NAT_MAX_ENDPOINTS][CT_NAT_EP_MAX + 1];
    char snapshot[CT_NAT_MAX_ENDPOINTS][CT_NAT_EP_MAX + 1];
    size_t n_endpoints;               /* feed and snapshot lists have this many each, in pairs */
    char server_key[CT_NAT_PATH_MAX]; /* resolved path; "" when not given */
    char campaign_path[CT_NAT_PATH_MAX];
    ct_campaign campaign; /* loaded from campaign_path */
} ct_nat_province;

typedef struct {
    char id[CT_CAMPAIGN_ID_MAX + 1];
    char name[CT_NAME_MAX + 1];
    uint64_t target[CT_PROGRAM_COUNT]; /* national target per program */
    bool target_given[CT_PROGRAM_COUNT];
    int64_t start_ms, end_ms; /* union of the provinces' windows */
    int32_t tz_offset_min;
    ct_nat_province *provinces; /* sorted by code */
    size_t n_provinces;
    uint8_t fingerprint[32]; /* BLAKE2b-256 of the national file's bytes */
} ct_national;

ct_err ct_national_load(const char *path, ct_national *out, char *errbuf, size_t errlen);
void ct_national_free(ct_national *n);
/* The province with that code, or NULL. */
const ct_nat_province *ct_national_province(const ct_national *n, uint32_t code);

#endif
