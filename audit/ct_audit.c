/* ct_audit.c — the audit engine (ct_audit.h). One ct_audit owns its person
 * map and recount table (freed by ct_audit_free); records are borrowed for
 * the duration of one ct_audit_record call. */
#include "ct_audit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ct_time.h"

void ct_audit_init(ct_audit *a, const ct_audit_opts *o, uint64_t first_seq,
                   const uint8_t prev[CT_LOGREC_HASH_LEN])
{
    memset(a, 0, sizeof *a);
    a->o = *o;
    if (a->o.stop_time_ms == 0) a->o.stop_time_ms = INT64_MAX;
    a->expect = first_seq;
    a->last_seq = first_seq - 1;
    memcpy(a->head, prev, CT_LOGREC_HASH_LEN);
    ct_pmap_init(&a->persons);
    ct_counts_init(&a->counts);
    a->t0_ms = ct_monotonic_ms();
    a->next_progress_ms = a->t0_ms + 1000;
}

void ct_audit_free(ct_audit *a)
{
    ct_pmap_free(&a->persons);
    ct_counts_free(&a->counts);
}

void ct_audit_diverge(ct_audit *a, uint64_t seq, const char *fmt, ...)
{
    if (a->diverged) return;
    a->diverged = true;
    a->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->finding, sizeof a->finding, fmt, ap);
    va_end(ap);
}

static void progress(ct_audit *a)
{
    int64_t now = ct_monotonic_ms();
    if (now < a->next_progress_ms) return;
    a->next_progress_ms = now + 1000;
    double secs = (double)(now - a->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)a->n_records / secs : 0;
    if (a->o.progress_total)
        fprintf(stderr, "%s: seq %" PRIu64 " of %" PRIu64 " (%.0f%%), %.0f records/s\n",
                a->o.progress, a->last_seq, a->o.progress_total,
                100.0 * (double)a->last_seq / (double)a->o.progress_total, rate);
    else
        fprintf(stderr, "%s: seq %" PRIu64 ", %.0f records/s\n", a->o.progress, a->last_seq, rate);
}

int ct_audit_record(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    ct_audit *a = arg;
    (void)raw;
    (void)raw_len;
    if (a->o.progress && (a->n_records & 4095) == 0) progress(a);
    if (a->missing) { /* after a jump: is the missing record somewhere later? */
        if (rec->seq == a->missing) {
            ct_audit_diverge(a, a->missing,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "record %" PRIu64 " stands where %" PRIu64 " belongs, record %" PRIu64
                             " appears later",
                             a->missing, a->jump_to, a->missing, a->missing);
            a->missing = 0;
            return 1;
        }
        return 0;
    }
    if (rec->seq != a->expect) {
        if (a->o.stop_seq && a->expect > a->o.stop_seq) {
            a->stopped = true;
            return 1;
        }
        if (rec->seq < a->expect) {
            ct_audit_diverge(a, a->expect,
                             "seq %" PRIu64 ": hash mismatch (record altered or reordered): "
                             "record %" PRIu64 " stands where %" PRIu64 " belongs",
                             a->expect, rec->seq, a->expect);
            return 1;
        }
        a->missing = a->expect;
        a->jump_to = rec->seq;
        a->missing_prev = a->last_seq;
        return 0;
    }
    if ((a->o.stop_seq && rec->seq > a->o.stop_seq) || rec->received_ms > a->o.stop_time_ms) {
        a->stopped = true;
        return 1;
    }
    ct_err e = ct_logrec_check(rec, a->head);
    if (e) {
        ct_audit_diverge(a, rec->seq,
                         "seq %" PRIu64 ": hash mismatch (record altered or reordered)", rec->seq);
        return 1;
    }
    ct_event ev;
    e = ct_event_decode(rec->event, rec->event_len, &ev, NULL);
    if (e) {
        ct_audit_diverge(a, rec->seq, "seq %" PRIu64 ": event does not decode (%s: %s)", rec->seq,
                         ct_err_name(e), ct_err_str(e));
        return 1;
    }
    const ct_campaign *c = a->o.campaign;
    e = ct_campaign_check_event(c, &ev, INT64_MAX);
    if (e) {
        ct_audit_diverge(a, rec->seq, "seq %" PRIu64 ": event fails the campaign check (%s: %s)",
                         rec->seq, ct_err_name(e), ct_err_str(e));
        return 1;
    }
    if (a->o.ids_store) {
        uint64_t at = 0;
        e = ct_store_find_id(a->o.ids_store, ev.id, &at);
        if (e && e != CT_ERR_NOT_FOUND) {
            a->err = e;
            return 1;
        }
        if (at != rec->seq) {
            char idhex[2 * CT_EVENT_ID_LEN + 1];
            ct_event_id_hex(ev.id, idhex);
            if (at == 0)
                ct_audit_diverge(a, rec->seq,
                                 "seq %" PRIu64 ": event id %s is missing from the ids index",
                                 rec->seq, idhex);
            else
                ct_audit_diverge(a, rec->seq,
                                 "seq %" PRIu64 ": event id %s maps to seq %" PRIu64
                                 " in the ids index",
                                 rec->seq, idhex, at);
            return 1;
        }
    }
    uint32_t day = ct_campaign_local_day(c, ev.occurred_ms);
    uint8_t pkey[CT_PERSON_KEY_LEN];
    ct_person_key(ev.program, ev.person, pkey);
    ct_person_state prior, next;
    bool have = ct_pmap_get(&a->persons, pkey, &prior);
    ct_tally_result res;
    ct_tally_apply(&ev, day, rec->seq, have ? &prior : NULL, &next, &res);
    for (size_t i = 0; i < res.n; i++) {
        e = ct_counts_add(&a->counts, &res.changes[i].key, res.changes[i].delta);
        if (e) {
            a->err = e;
            return 1;
        }
    }
    if (res.state_changed) {
        e = ct_pmap_put(&a->persons, pkey, &next);
        if (e) {
            a->err = e;
            return 1;
        }
    }
    memcpy(a->head, rec->hash, CT_LOGREC_HASH_LEN);
    a->last_seq = rec->seq;
    a->expect = rec->seq + 1;
    a->last_received_ms = rec->received_ms;
    a->n_records++;
    if (a->o.on_event) {
        ct_audit_event ae = {rec, &ev, day, res.outcome};
        int rc = a->o.on_event(&ae, a->o.arg);
        if (rc) return rc;
    }
    return 0;
}

void ct_audit_finish(ct_audit *a)
{
    if (a->missing) {
        ct_audit_diverge(a, a->missing,
                         "seq %" PRIu64 " missing (log jumps from %" PRIu64 " to %" PRIu64 ")",
                         a->missing, a->missing_prev, a->jump_to);
        a->missing = 0;
    }
}

const char *ct_audit_kind_name(ct_count_kind k)
{
    switch (k) {
    case CT_COUNT_NET:
        return "net";
    case CT_COUNT_GROSS:
        return "gross";
    case CT_COUNT_CANCELLED:
        return "cancelled";
    case CT_COUNT_AGENT:
        return "agent";
    case CT_COUNT_DAY:
        return "day";
    case CT_COUNT_GROUP:
        return "group";
    case CT_COUNT_REPEAT:
        return "repeat";
    case CT_COUNT_CANCEL_NOOP:
        return "cancel_noop";
    }
    return "unknown";
}

void ct_audit_key_str(const ct_count_key *k, char *out, size_t len)
{
    if (k->len < 4) {
        snprintf(out, len, "(short key of %u bytes)", k->len);
        return;
    }
    ct_count_kind kind = ct_count_key_kind(k);
    ct_program p = ct_count_key_program(k);
    const char *pname = (unsigned)p < CT_PROGRAM_COUNT ? ct_program_name(p) : "?";
    size_t dl = 0;
    const uint8_t *d = ct_count_key_dim(k, &dl);
    char dim[80] = "";
    if (kind == CT_COUNT_DAY && dl == 4) {
        snprintf(
            dim, sizeof dim, " dim=%u",
            (unsigned)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]));
    } else if (dl) {
        size_t o = (size_t)snprintf(dim, sizeof dim, " dim=");
        for (size_t i = 0; i < dl && o + 5 < sizeof dim; i++) {
            if (d[i] >= 0x21 && d[i] < 0x7f)
                dim[o++] = (char)d[i];
            else
                o += (size_t)snprintf(dim + o, sizeof dim - o, "\\x%02x", d[i]);
        }
        dim[o] = 0;
    }
    snprintf(out, len, "kind=%s program=%s district=%u%s", ct_audit_kind_name(kind), pname,
             (unsigned)ct_count_key_district(k), dim);
}

bool ct_audit_compare_counts(const ct_counts *stored, const ct_counts *recount, char *finding,
                             size_t len)
{
    ct_count_key k;
    if (ct_counts_equal(stored, recount, &k)) return true;
    char ks[160];
    ct_audit_key_str(&k, ks, sizeof ks);
    snprintf(finding, len, "count %s: stored %" PRId64 ", recount %" PRId64, ks,
             ct_counts_get(stored, &k), ct_counts_get(recount, &k));
    return false;
}
