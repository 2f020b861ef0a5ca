/* ct_audit_counts.c — test helper: the audit engine's recount of a .ctlog
 * export, every counter, at positions of the walk, so a test can compare it
 * with an independent model key by key.
 *   ct_audit_counts F.ctlog THREADS [SEQ ...] [--campaign FILE]
 * For each SEQ reached (ascending) and at the end of the file it prints
 *   at <seq>
 *   <key hex> <value>        (every counter whose value is not 0, key order)
 * and finally "end seq=<last> records=<n> life=<n> head=<hex>"; a divergence
 * prints "FAIL <finding>" (and every further finding) and exits 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_audit.h"
#include "ct_campaign_default.h"
#include "ct_keys.h"
#include "ct_text.h"
#include "ct_verify.h"

typedef struct {
    ct_audit *a;
    uint64_t *at;
    size_t n_at, next;
} st;

static int key_cmp(const void *x, const void *y)
{
    return ct_count_key_cmp(x, y);
}

static ct_err dump(const ct_counts *c, uint64_t seq)
{
    ct_count_key *keys = malloc((c->n ? c->n : 1) * sizeof *keys);
    if (!keys) return CT_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].used && c->slots[i].value != 0) keys[n++] = c->slots[i].key;
    qsort(keys, n, sizeof *keys, key_cmp);
    printf("at %" PRIu64 "\n", seq);
    for (size_t i = 0; i < n; i++) {
        char hex[2 * CT_COUNT_KEY_MAX + 1];
        ct_text_hex(keys[i].b, keys[i].len, hex);
        printf("%s %" PRId64 "\n", hex, ct_counts_get(c, &keys[i]));
    }
    free(keys);
    return CT_OK;
}

static ct_err on_entry(const ct_audit_event *ae, void *arg)
{
    st *s = arg;
    while (s->next < s->n_at && s->at[s->next] < ae->rec->seq)
        s->next++;
    if (s->next < s->n_at && s->at[s->next] == ae->rec->seq) {
        ct_audit_result r;
        ct_audit_result_get(s->a, &r);
        s->next++;
        return dump(r.counts, ae->rec->seq);
    }
    return CT_OK;
}

int main(int argc, char **argv)
{
    const char *campaign = NULL;
    if (argc >= 5 && strcmp(argv[argc - 2], "--campaign") == 0) {
        campaign = argv[argc - 1];
        argc -= 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: ct_audit_counts F.ctlog THREADS [SEQ ...] [--campaign FILE]\n");
        return 2;
    }
    ct_campaign c;
    char err[1024] = "";
    if (ct_crypto_init() || ct_campaign_load_arg(campaign, &c, err, sizeof err)) {
        fprintf(stderr, "campaign: %s\n", err);
        return 2;
    }
    st s = {.n_at = (size_t)(argc - 3)};
    s.at = calloc(s.n_at + 1, sizeof *s.at);
    for (size_t i = 0; s.at && i < s.n_at; i++)
        s.at[i] = strtoull(argv[3 + i], NULL, 10);
    ct_audit_src src;
    ct_audit a;
    memset(&a, 0, sizeof a);
    s.a = &a;
    int rc = 1;
    if (!s.at || ct_audit_src_open(&src, &c, NULL, argv[1], err, sizeof err)) {
        fprintf(stderr, "ct_audit_counts: %s\n", err);
        free(s.at);
        ct_campaign_free(&c);
        return 2;
    }
    ct_audit_opts o = {.campaign = &c,
                       .threads = (unsigned)strtoul(argv[2], NULL, 10),
                       .on_event = on_entry,
                       .arg = &s};
    ct_err e = ct_audit_verify_ctlog(&a, src.file, argv[1], &o, err, sizeof err);
    ct_audit_result r;
    ct_audit_result_get(&a, &r);
    if (e) {
        fprintf(stderr, "ct_audit_counts: %s\n", err);
    } else if (r.diverged) {
        printf("FAIL %s\n%s", r.finding, r.more);
    } else if (dump(r.counts, r.last_seq) == CT_OK) {
        char hex[65];
        ct_hash_hex(r.head, hex);
        printf("end seq=%" PRIu64 " records=%" PRIu64 " life=%" PRIu64 " head=%s\n", r.last_seq,
               r.n_records, r.n_life, hex);
        rc = 0;
    }
    ct_audit_free(&a);
    ct_audit_src_close(&src);
    ct_campaign_free(&c);
    free(s.at);
    return rc;
}
