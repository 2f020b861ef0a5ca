/* fuzz_entry.c — libFuzzer target: the log-entry decoder (ct_entry_decode:
 * the dispatch between life entries and events, ct_life_decode) and the
 * tally rule over what it accepts (ct_tally_entry). Invariants: returns a
 * code from the table; the dispatch agrees with ct_entry_is_life; when it
 * accepts, the canonical re-encoding decodes to an entry that re-encodes to
 * the same bytes, is never longer than the input, and is dispatched the same
 * way; id_known implies the id was copied; ct_tally_entry on an accepted
 * entry (against an empty state, and against a state that makes a void or a
 * correction current) returns CT_OK with at most CT_TALLY_MAX_CHANGES
 * changes, and none when it refuses.
 */
#include <string.h>

#include "ct_life.h"
#include "ct_tally.h"
#include "fuzz_common.h"

typedef struct {
    const ct_life *l; /* NULL: no person state, every counter 0 */
} fuzz_state;

static ct_err f_count(void *arg, const ct_count_key *k, int64_t *v)
{
    const fuzz_state *s = arg;
    /* a close in force on every day when the entry is a reopen */
    *v = s->l && s->l->kind == CT_LIFE_REOPEN && ct_count_key_kind(k) == CT_COUNT_CLOSE ? 7 : 0;
    return CT_OK;
}

static ct_err f_person(void *arg, ct_program p, const uint8_t person[CT_PERSON_LEN],
                       ct_person_state *st, bool *found)
{
    const fuzz_state *s = arg;
    (void)person;
    *found = false;
    if (!s->l || p != s->l->program) return CT_OK;
    memset(st, 0, sizeof *st);
    st->enrolled = true;
    st->district = s->l->district;
    st->day = 20230722;
    st->seq = s->l->target_seq;
    strcpy(st->agent, "LD672-007");
    *found = true;
    return CT_OK;
}

static void tally(const ct_entry *e, const ct_life *current)
{
    fuzz_state s = {current};
    ct_tally_ctx ctx = {f_count, f_person, &s};
    ct_tally_in in = {.seq = 9, .received_ms = 1690000000000, .recv_day = 20230722};
    if (e->type == CT_ENTRY_EVENT) in.local_day = 20230722;
    ct_tally_entry_result r;
    FUZZ_CHECK(ct_tally_entry(&ctx, e, &in, &r) == CT_OK);
    FUZZ_CHECK(r.n <= CT_TALLY_MAX_CHANGES && r.n_persons <= 2);
    if (r.refused) FUZZ_CHECK(ct_err_known(r.refused) && r.n == 0 && r.n_persons == 0);
    for (size_t i = 0; i < r.n; i++) {
        ct_count_key k;
        FUZZ_CHECK(ct_count_key_parse(r.changes[i].key.b, r.changes[i].key.len, &k) == CT_OK);
    }
}

static ct_err encode(const ct_entry *e, ct_buf *b)
{
    return e->type == CT_ENTRY_LIFE ? ct_life_encode(&e->u.life, b) : ct_event_encode(&e->u.ev, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_entry e;
    bool idk = false;
    ct_err err = ct_entry_decode(data, size, &e, &idk);
    FUZZ_CHECK(ct_err_known(err));
    if (size >= 1 && size <= CT_EVENT_MAX_BYTES)
        FUZZ_CHECK((e.type == CT_ENTRY_LIFE) == (ct_entry_is_life(data, size) == 1));
    if (err != CT_OK) return 0;
    FUZZ_CHECK(idk);
    ct_buf b1 = CT_BUF_INIT, b2 = CT_BUF_INIT;
    FUZZ_CHECK(encode(&e, &b1) == CT_OK);
    ct_entry e2;
    FUZZ_CHECK(ct_entry_decode(b1.data, b1.len, &e2, NULL) == CT_OK);
    FUZZ_CHECK(e2.type == e.type);
    FUZZ_CHECK(memcmp(ct_entry_id(&e2), ct_entry_id(&e), CT_EVENT_ID_LEN) == 0);
    FUZZ_CHECK(encode(&e2, &b2) == CT_OK);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    FUZZ_CHECK(b1.len <= size);
    ct_buf_free(&b1);
    ct_buf_free(&b2);
    tally(&e, NULL);
    if (e.type == CT_ENTRY_LIFE) tally(&e, &e.u.life);
    return 0;
}
