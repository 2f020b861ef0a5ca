/* ct_rebuild.c — see ct_rebuild.h. The rebuilt store and the stored-counts
 * table are owned here and released on every path (one exit). */
#include "ct_rebuild.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_keys.h"
#include "ct_verify.h"

typedef struct {
    ct_store *s;
    const ct_campaign *c;
    uint64_t in_txn; /* records in the open import transaction */
    ct_err err;
    uint64_t err_seq;
    uint64_t done;
    ct_audit_progress progress;
} import_st;

static ct_err import_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    import_st *st = arg;
    ct_audit_progress_tick(&st->progress, rec->seq, st->done++);
    ct_err e = CT_OK;
    if (st->in_txn == 0) e = ct_store_import_begin(st->s);
    if (!e) e = ct_store_import_record(st->s, rec, st->c);
    if (!e && ++st->in_txn >= CT_REBUILD_CHUNK) {
        e = ct_store_import_commit(st->s);
        st->in_txn = 0;
    }
    if (e) {
        st->err = e;
        st->err_seq = rec->seq;
        return e;
    }
    return CT_OK;
}

static bool holds_store(const char *dir)
{
    struct stat st;
    char dm[4096];
    snprintf(dm, sizeof dm, "%s/data.mdb", dir);
    return stat(dir, &st) == 0 && stat(dm, &st) == 0;
}

ct_err ct_rebuild(ct_audit *a, ct_ctlog_reader *r, const char *path, const char *dir,
                  const ct_audit_opts *o, const char *import_progress, ct_rebuild_info *info,
                  char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    ct_store *s = NULL;
    ct_counts stored;
    ct_counts_init(&stored);
    ct_err e = CT_OK;
    if (r->from != 1) {
        ct_audit_init(a, o, r->from, r->prev);
        snprintf(err, errlen,
                 "%s: export starts at seq %" PRIu64 "; rebuild needs the log from seq 1", path,
                 r->from);
        e = CT_ERR_ARG;
        goto out;
    }
    /* 1. verify the export (chain, events, trailer) and recount it */
    e = ct_audit_verify_ctlog(a, r, path, o, err, errlen);
    if (e || a->diverged) goto out;
    /* 2. a fresh store */
    if (holds_store(dir)) {
        snprintf(err, errlen, "%s already holds a store; rebuild needs a fresh directory", dir);
        e = CT_ERR_ARG;
        goto out;
    }
    char msg[512] = "";
    ct_store_opts so = {
        .dir = dir, .campaign_id = o->campaign->id, .fingerprint = o->campaign->fingerprint};
    e = ct_store_open(&so, &s, msg, sizeof msg);
    if (!e) e = ct_store_set_campaign(s, o->campaign, msg, sizeof msg);
    if (e) {
        snprintf(err, errlen, "%s: %s", dir, msg[0] ? msg : ct_err_str(e));
        goto out;
    }
    uint64_t hs = 0;
    uint8_t hh[CT_LOGREC_HASH_LEN];
    e = ct_store_head(s, &hs, hh);
    if (e || hs != 0) {
        snprintf(err, errlen, "%s: not a fresh store (head seq %" PRIu64 ")", dir, hs);
        if (!e) e = CT_ERR_ARG;
        goto out;
    }
    /* 3. import */
    import_st is = {.s = s, .c = o->campaign, .progress = {.label = import_progress}};
    is.progress.total = a->last_seq;
    uint64_t bad = 0;
    ct_err sr = ct_ctlog_scan(r, import_cb, &is, &bad, msg, sizeof msg);
    if (!sr && !is.err && is.in_txn) {
        is.err = ct_store_import_commit(s);
        is.err_seq = a->last_seq;
    }
    if (is.err || sr) {
        ct_store_import_abort(s);
        snprintf(err, errlen, "import failed at seq %" PRIu64 ": %s", is.err_seq,
                 is.err ? ct_err_str(is.err) : msg);
        e = is.err ? is.err : CT_ERR_IO;
        goto out;
    }
    /* 4. the new store against the recount */
    e = ct_store_read_counts(s, &stored, &info->seq, info->head);
    if (e) {
        snprintf(err, errlen, "%s: reading counts: %s", dir, ct_err_str(e));
        goto out;
    }
    info->counters = stored.n;
    if (info->seq != a->last_seq || memcmp(info->head, a->head, CT_LOGREC_HASH_LEN) != 0) {
        char h1[65], h2[65];
        ct_hash_hex(info->head, h1);
        ct_hash_hex(a->head, h2);
        ct_audit_diverge(a, a->last_seq,
                         "rebuilt head seq=%" PRIu64 " head=%s, export ends at seq=%" PRIu64
                         " head=%s",
                         info->seq, h1, a->last_seq, h2);
    } else if ((e = ct_audit_compare_all(a, &stored)) != CT_OK) {
        snprintf(err, errlen, "%s: comparing counts: %s", dir, ct_err_str(e));
    }
out:
    ct_counts_free(&stored);
    if (s) ct_store_close(s);
    return e;
}
