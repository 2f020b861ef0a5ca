/* codec_fixtures.h — shared fixtures for the codec tests: a typical event,
 * valid frames of every message kind, and a tiny field-list builder that
 * packs arbitrary (also invalid) maps with msgpack-c so tests can craft
 * wrong types, missing/extra/duplicate keys precisely.
 * Header-only (static functions): each test executable includes it once.
 */
#ifndef CODEC_FIXTURES_H
#define CODEC_FIXTURES_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_buf.h"
#include "ct_event.h"
#include "ct_logrec.h"
#include "ct_tally.h"
#include "ct_wire.h"

static const uint8_t fx_origin[CT_ORIGIN_LEN] = {0x4c, 0x44, 0x36, 0x37, 0x32, 0x00, 0x01, 0x02};

/* A typical, fully populated event (Đà Lạt, ward 1, BHXH tự nguyện). */
static inline ct_event fx_event(bool optional)
{
    ct_event e;
    memset(&e, 0, sizeof e);
    ct_event_id_make(e.id, fx_origin, 42);
    e.occurred_ms = 1690000000123; /* 2023-07-22T04:26:40.123Z */
    strcpy(e.campaign, "lamdong-2023");
    e.district = 672;
    strcpy(e.agent, "LD672-007");
    e.program = CT_PROGRAM_BHXH_TN;
    e.action = CT_ACTION_ENROLL;
    for (int i = 0; i < CT_PERSON_LEN; i++)
        e.person[i] = (uint8_t)(0xa0 + i);
    if (optional) {
        strcpy(e.commune, "Phường 1");
        e.has_months = true;
        e.months = 12;
        e.has_amount = true;
        e.amount_vnd = 1980000;
        strcpy(e.group, "nq143");
    }
    return e;
}

/* ---- field-list builder -------------------------------------------------- */

typedef enum {
    FV_UINT,
    FV_NEG,
    FV_STR,
    FV_BIN,
    FV_NIL,
    FV_FLOAT,
    FV_BOOL,
    FV_ARRAY0,
    FV_MAP0
} fv_type;

typedef struct {
    const char *key;
    fv_type t;
    uint64_t u;
    const void *p; /* str/bin bytes */
    size_t n;
} fx_field;

#define FX_MAX_FIELDS 24

typedef struct {
    fx_field f[FX_MAX_FIELDS];
    size_t n;
} fx_map;

static inline void fx_pack_val(msgpack_packer *pk, const fx_field *f)
{
    switch (f->t) {
    case FV_UINT:
        msgpack_pack_uint64(pk, f->u);
        break;
    case FV_NEG:
        msgpack_pack_int64(pk, -(int64_t)f->u);
        break;
    case FV_STR:
        msgpack_pack_str(pk, f->n);
        msgpack_pack_str_body(pk, f->p, f->n);
        break;
    case FV_BIN:
        msgpack_pack_bin(pk, f->n);
        msgpack_pack_bin_body(pk, f->p, f->n);
        break;
    case FV_NIL:
        msgpack_pack_nil(pk);
        break;
    case FV_FLOAT:
        msgpack_pack_double(pk, 1.5);
        break;
    case FV_BOOL:
        msgpack_pack_true(pk);
        break;
    case FV_ARRAY0:
        msgpack_pack_array(pk, 0);
        break;
    case FV_MAP0:
        msgpack_pack_map(pk, 0);
        break;
    }
}

static inline void fx_map_pack(const fx_map *m, ct_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    msgpack_pack_map(&pk, m->n);
    for (size_t i = 0; i < m->n; i++) {
        size_t kl = strlen(m->f[i].key);
        msgpack_pack_str(&pk, kl);
        msgpack_pack_str_body(&pk, m->f[i].key, kl);
        fx_pack_val(&pk, &m->f[i]);
    }
}

static inline fx_field *fx_map_get(fx_map *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->f[i].key, key) == 0) return &m->f[i];
    return NULL;
}

static inline void fx_map_del(fx_map *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->f[i].key, key) == 0) {
            memmove(&m->f[i], &m->f[i + 1], (m->n - i - 1) * sizeof m->f[0]);
            m->n--;
            return;
        }
}

static inline void fx_map_add(fx_map *m, fx_field f)
{
    if (m->n < FX_MAX_FIELDS) m->f[m->n++] = f;
}

static uint8_t fx_id_bytes[CT_EVENT_ID_LEN];
static uint8_t fx_person_bytes[CT_PERSON_LEN];

/* The valid typical event as a field list (same bytes as ct_event_encode of fx_event(true)). */
static inline fx_map fx_event_map(void)
{
    ct_event e = fx_event(true);
    memcpy(fx_id_bytes, e.id, sizeof fx_id_bytes);
    memcpy(fx_person_bytes, e.person, sizeof fx_person_bytes);
    fx_map m = {.n = 0};
    fx_map_add(&m, (fx_field){"v", FV_UINT, 1, NULL, 0});
    fx_map_add(&m, (fx_field){"id", FV_BIN, 0, fx_id_bytes, CT_EVENT_ID_LEN});
    fx_map_add(&m, (fx_field){"t", FV_UINT, (uint64_t)e.occurred_ms, NULL, 0});
    fx_map_add(&m, (fx_field){"c", FV_STR, 0, "lamdong-2023", 12});
    fx_map_add(&m, (fx_field){"d", FV_UINT, 672, NULL, 0});
    fx_map_add(&m, (fx_field){"w", FV_STR, 0, "Phường 1", strlen("Phường 1")});
    fx_map_add(&m, (fx_field){"a", FV_STR, 0, "LD672-007", 9});
    fx_map_add(&m, (fx_field){"p", FV_STR, 0, "bhxh_tn", 7});
    fx_map_add(&m, (fx_field){"x", FV_STR, 0, "enroll", 6});
    fx_map_add(&m, (fx_field){"h", FV_BIN, 0, fx_person_bytes, CT_PERSON_LEN});
    fx_map_add(&m, (fx_field){"m", FV_UINT, 12, NULL, 0});
    fx_map_add(&m, (fx_field){"amt", FV_UINT, 1980000, NULL, 0});
    fx_map_add(&m, (fx_field){"g", FV_STR, 0, "nq143", 5});
    return m;
}

/* ---- valid frames of every kind ----------------------------------------- */

static inline void fx_encode_event(bool optional, ct_buf *out)
{
    ct_event e = fx_event(optional);
    if (ct_event_encode(&e, out) != CT_OK) abort();
}

/* A "sub" holding n copies of the typical event with ids 1..n. */
static inline void fx_encode_submit(size_t n, uint64_t token, ct_buf *out)
{
    ct_buf evs = CT_BUF_INIT;
    ct_bytes *r = calloc(n, sizeof *r);
    size_t *off = calloc(n, sizeof *off);
    for (size_t i = 0; i < n; i++) {
        ct_event e = fx_event(i % 2 == 0);
        ct_event_id_make(e.id, fx_origin, i + 1);
        off[i] = evs.len;
        if (ct_event_encode(&e, &evs)) abort();
    }
    for (size_t i = 0; i < n; i++) {
        r[i].data = evs.data + off[i];
        r[i].len = (i + 1 < n ? off[i + 1] : evs.len) - off[i];
    }
    if (ct_wire_submit_encode(token, r, n, out)) abort();
    free(off);
    free(r);
    ct_buf_free(&evs);
}

static inline void fx_encode_ack(ct_buf *out)
{
    ct_ack_item it[3];
    memset(it, 0, sizeof it);
    it[0].has_id = true;
    ct_event_id_make(it[0].id, fx_origin, 1);
    it[0].status = CT_ACK_ACCEPTED;
    it[1].has_id = true;
    ct_event_id_make(it[1].id, fx_origin, 2);
    it[1].status = CT_ACK_REJECTED;
    it[1].code = CT_ERR_UNKNOWN_AGENT;
    it[2].has_id = false;
    it[2].status = CT_ACK_REJECTED;
    it[2].code = CT_ERR_MALFORMED;
    if (ct_wire_ack_encode(7, 123456, it, 3, out)) abort();
}

static inline void fx_state(ct_wire_state *st, ct_msg_kind kind, ct_count_entry *ents, size_t n)
{
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->seq = 1000;
    st->prev_seq = kind == CT_MSG_UPDATE ? 990 : 0;
    for (int i = 0; i < CT_HASH_LEN; i++)
        st->head[i] = (uint8_t)i;
    if (kind == CT_MSG_UPDATE)
        for (int i = 0; i < CT_HASH_LEN; i++)
            st->prev_head[i] = (uint8_t)(0x80 + i);
    st->time_ms = 1690000001000;
    if (kind == CT_MSG_HEARTBEAT) return;
    for (size_t i = 0; i < n; i++) {
        char agent[16];
        int al = snprintf(agent, sizeof agent, "LD672-%03zu", i);
        ents[i].key =
            i % 3 == 0
                ? ct_count_key_make(CT_COUNT_NET, CT_PROGRAM_BHYT_HGD, 672, NULL, 0)
                : ct_count_key_make(CT_COUNT_AGENT, CT_PROGRAM_BHXH_TN, 672, agent, (size_t)al);
        ents[i].value = (int64_t)i * 37 - 5;
    }
    st->entries = ents;
    st->n_entries = n;
}

static inline void fx_encode_state(ct_msg_kind kind, size_t n, ct_buf *out)
{
    ct_count_entry *ents = calloc(n ? n : 1, sizeof *ents);
    ct_wire_state st;
    fx_state(&st, kind, ents, n);
    if (ct_wire_state_encode(&st, out)) abort();
    free(ents);
}

static inline void fx_encode_logrec(ct_buf *out, uint8_t hash_out[CT_LOGREC_HASH_LEN])
{
    ct_buf ev = CT_BUF_INIT;
    fx_encode_event(true, &ev);
    ct_logrec r;
    memset(&r, 0, sizeof r);
    r.seq = 1;
    r.received_ms = 1690000000500;
    strcpy(r.collector, "rq>{0h/9lYBfl7^vh:<[n8=wJ#dFJ9zDkYqTHr+e");
    r.event = ev.data;
    r.event_len = ev.len;
    uint8_t zero[CT_LOGREC_HASH_LEN] = {0};
    if (ct_logrec_encode(&r, zero, out)) abort();
    if (hash_out) memcpy(hash_out, r.hash, CT_LOGREC_HASH_LEN);
    ct_buf_free(&ev);
}

#endif
