/* ct_export_range.c — ct_export_range (see ct_export.h): a range of the log
 * written as ctlog, JSON lines or CSV. Owns only its header/trailer buffer,
 * released on every path; f belongs to the caller. */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <string.h>

#include "ct_audit.h"
#include "ct_ctlog.h"
#include "ct_export.h"
#include "ct_export_life.h"
#include "ct_file.h"

typedef struct {
    FILE *f;
    const ct_export_opts *o;
    int64_t from_ms, to_ms;
    uint64_t first, last, count;
    uint8_t last_hash[CT_LOGREC_HASH_LEN];
    uint64_t bad_seq;
    ct_err bad;   /* an entry that does not decode */
    int wr_errno; /* a write failed: its errno */
    ct_audit_progress progress;
    ct_buf row; /* one rendered jsonl/csv line */
} export_st;

/* The seq range of a time range (see ct_export.h). */
static ct_err range_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    export_st *s = arg;
    if (rec->received_ms > s->to_ms) {
        return CT_STOP;
    }
    if (!s->first && rec->received_ms >= s->from_ms) s->first = rec->seq;
    s->last = rec->seq;
    return CT_OK;
}

static ct_err prev_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    (void)raw;
    (void)len;
    memcpy(arg, rec->hash, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

static ct_err export_cb(const ct_logrec *rec, const uint8_t *raw, size_t len, void *arg)
{
    export_st *s = arg;
    ct_audit_progress_tick(&s->progress, rec->seq, s->count);
    errno = 0;
    if (s->o->format == CT_EXPORT_CTLOG) {
        fwrite(raw, 1, len, s->f);
    } else {
        ct_entry ent;
        ct_err e = ct_entry_decode(rec->event, rec->event_len, &ent, NULL);
        if (e) {
            s->bad = e;
            s->bad_seq = rec->seq;
            return CT_STOP;
        }
        ct_buf_reset(&s->row);
        bool json = s->o->format == CT_EXPORT_JSONL;
        if (ent.type == CT_ENTRY_LIFE && json) {
            e = ct_life_json_row(&s->row, s->o->campaign, rec, &ent.u.life, NULL);
            if (!e) e = ct_buf_append(&s->row, "\n", 1);
        } else if (ent.type == CT_ENTRY_LIFE) {
            e = ct_export_csv_life_row(&s->row, s->o->campaign, rec, &ent.u.life);
        } else {
            e = json ? ct_export_json_row(&s->row, s->o->campaign, rec, &ent.u.ev, NULL)
                     : ct_export_csv_row(&s->row, s->o->campaign, rec, &ent.u.ev, NULL);
        }
        if (e) return e;
        fwrite(s->row.data, 1, s->row.len, s->f);
    }
    if (ferror(s->f)) {
        s->wr_errno = errno ? errno : EIO; /* set by this record's failed write */
        return CT_ERR_IO;
    }
    s->count++;
    s->last = rec->seq;
    memcpy(s->last_hash, rec->hash, CT_LOGREC_HASH_LEN);
    return CT_OK;
}

static const char *out_name(const ct_export_opts *o)
{
    return o->out_name && strcmp(o->out_name, "-") != 0 ? o->out_name : "standard output";
}

static ct_err put(const ct_export_opts *o, FILE *f, const ct_buf *b, char *err, size_t errlen)
{
    errno = 0;
    if (fwrite(b->data, 1, b->len, f) == b->len) return CT_OK;
    snprintf(err, errlen, "%s: write failed: %s", out_name(o), strerror(errno ? errno : EIO));
    return CT_ERR_IO;
}

ct_err ct_export_range(ct_store *st, const char *name, const ct_export_opts *o, FILE *f,
                       ct_export_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    export_st s = {.f = f, .o = o, .from_ms = o->from_ms, .to_ms = o->to_ms};
    s.progress.label = o->progress;
    ct_buf hb = CT_BUF_INIT;
    uint64_t head_seq, from = o->from_seq ? o->from_seq : 1, to = o->to_seq;
    uint8_t head[CT_LOGREC_HASH_LEN], prev[CT_LOGREC_HASH_LEN] = {0};
    ct_err e = ct_store_head(st, &head_seq, head);
    if (e) {
        snprintf(err, errlen, "%s: %s", name, ct_err_str(e));
        goto out;
    }
    if (to == 0 || to > head_seq) to = head_seq;
    if (o->by_time) {
        e = ct_store_log_scan(st, 1, head_seq, range_cb, &s, NULL);
        if (e) {
            snprintf(err, errlen, "%s: scan failed: %s", name, ct_err_str(e));
            goto out;
        }
        from = s.first ? s.first : head_seq + 1;
        to = s.first ? s.last : head_seq;
        s.first = s.last = 0;
    }
    s.progress.total = to;
    if (from > head_seq + 1) {
        snprintf(err, errlen, "--from-seq %" PRIu64 " is beyond the log's head (seq %" PRIu64 ")",
                 from, head_seq);
        e = CT_ERR_ARG;
        goto out;
    }
    if (from > 1) {
        e = ct_store_log_scan(st, from - 1, from - 1, prev_cb, prev, NULL);
        if (e) {
            snprintf(err, errlen, "%s: reading record %" PRIu64 ": %s", name, from - 1,
                     ct_err_str(e));
            goto out;
        }
    }
    if (o->format == CT_EXPORT_CTLOG) {
        e = ct_ctlog_put_header(&hb, o->campaign->id, from, prev);
        if (!e) e = put(o, f, &hb, err, errlen);
    } else if (o->format == CT_EXPORT_CSV) {
        e = ct_export_csv_header(&hb, 0);
        if (!e) e = put(o, f, &hb, err, errlen);
    }
    if (e) goto out;
    memcpy(s.last_hash, prev, sizeof prev);
    s.last = from - 1;
    if (from <= to) e = ct_store_log_scan(st, from, to, export_cb, &s, NULL);
    if (s.wr_errno) {
        snprintf(err, errlen, "%s: write failed: %s", out_name(o), strerror(s.wr_errno));
        e = CT_ERR_IO;
    } else if (s.bad) {
        snprintf(err, errlen, "seq %" PRIu64 ": entry does not decode (%s); run verify", s.bad_seq,
                 ct_err_name(s.bad));
        e = s.bad;
    } else if (e) {
        snprintf(err, errlen, "%s: scan failed: %s", name, ct_err_str(e));
    } else if (s.last != to) {
        snprintf(err, errlen,
                 "%s: the log jumps after seq %" PRIu64 " (expected records up to %" PRIu64
                 "); run verify",
                 name, s.last, to);
        e = CT_ERR_STORE_CORRUPT;
    } else if (o->format == CT_EXPORT_CTLOG) {
        ct_buf_reset(&hb);
        e = ct_ctlog_put_trailer(&hb, s.count, s.last, s.last_hash);
        if (!e) e = put(o, f, &hb, err, errlen);
    }
    if (e) goto out;
    info->from = from;
    info->last = s.last;
    info->count = s.count;
    memcpy(info->last_hash, s.last_hash, CT_LOGREC_HASH_LEN);
out:
    ct_buf_free(&s.row);
    ct_buf_free(&hb);
    return e;
}

ct_err ct_export_to_file(ct_store *st, const char *name, const ct_export_opts *o, const char *path,
                         ct_export_info *info, char *err, size_t errlen)
{
    ct_file of;
    ct_err e = ct_file_open(&of, path, err, errlen);
    if (e) {
        if (!err[0]) snprintf(err, errlen, "%s: %s", path, ct_err_str(e));
        return e;
    }
    e = ct_export_range(st, name, o, of.f, info, err, errlen);
    if (e) {
        ct_file_abort(&of);
        return e;
    }
    return ct_file_commit(&of, err, errlen);
}
