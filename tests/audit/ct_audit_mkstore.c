/* ct_audit_mkstore.c — test/bench helper: creates (or extends) a store with
 * N synthetic events through the real store API.
 *   ct_audit_mkstore DIR N [SEED] [BATCH] [CAMPAIGN-FILE]
 * (default campaign: the built-in lamdong-2023).
 * Prints "seq=<head> head=<hex>" on success. */
#include <stdio.h>
#include <stdlib.h>

#include "ct_campaign_default.h"
#include "ct_keys.h"
#include "ct_testgen.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ct_audit_mkstore DIR N [SEED] [BATCH] [CAMPAIGN-FILE]\n");
        return 2;
    }
    ct_campaign c;
    char err[512];
    if (ct_crypto_init() || ct_campaign_load_arg(argc > 5 ? argv[5] : NULL, &c, err, sizeof err)) {
        fprintf(stderr, "campaign: %s\n", err);
        return 2;
    }
    ct_testgen_opts o = {.events = strtoull(argv[2], NULL, 10),
                         .seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1,
                         .batch = argc > 4 ? (size_t)strtoull(argv[4], NULL, 10) : 4096};
    ct_err e = ct_testgen_make_store(argv[1], &c, &o);
    if (e) {
        fprintf(stderr, "mkstore: %s\n", ct_err_str(e));
        ct_campaign_free(&c);
        return 1;
    }
    ct_store *s;
    ct_store_opts so = {.dir = argv[1], .campaign_id = c.id, .read_only = true};
    uint64_t seq;
    uint8_t h[32];
    char hex[65];
    if (ct_store_open(&so, &s, err, sizeof err) || ct_store_head(s, &seq, h)) {
        ct_campaign_free(&c);
        return 1;
    }
    ct_hash_hex(h, hex);
    printf("seq=%llu head=%s\n", (unsigned long long)seq, hex);
    ct_store_close(s);
    ct_campaign_free(&c);
    return 0;
}
