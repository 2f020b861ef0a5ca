/* ct_wire_status.c — office telemetry ("tel") and the aggregator's status
 * ("stq" -> "sta"), docs/PROTOCOL.md §3.6. Telemetry is never a sign-up: no
 * decoder here produces anything the log or the counts take.
 *
 * The same invariants as ct_wire.c (key order of the tables below, smallest
 * encodings, nothing appended on failure; decoding: size, pre-scan, "v",
 * "k", keys in map order, values in table order, missing keys), through the
 * helpers of ct_wire_int.h. Only ct_wire_status_decode allocates (followers,
 * offices) and frees what it allocated on error.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_wire.h"
#include "ct_wire_int.h"

static const char *const ct_keys_tel[] = {"v", "k", "n",  "d",  "o",  "t",
                                          "q", "u", "rj", "sv", "ot", NULL};
static const char *const ct_keys_stq[] = {"v", "k", "gr", "ap", NULL};
static const char *const ct_keys_sta[] = {"v",  "k",  "t",  "ro", "ep", "c",  "f", "sk",
                                          "al", "sm", "fl", "of", "gr", "ap", NULL};
#define N_TEL 11
#define N_STQ 4
#define N_STA 14
#define N_STA_REQ 12 /* "gr" and "ap" are optional */
#define OFFICE_ITEM 9
#define FOLLOWER_ITEM 5
#define GROUP_ITEM 10
#define MEMBER_ITEM 5
#define APPLY_ITEM 3

static const ct_prescan_limits ct_lim_sta = {
    CT_CODEC_MAX_DEPTH, CT_STATUS_MAX_OFFICES,
    (OFFICE_ITEM + 1) * CT_STATUS_MAX_OFFICES + (FOLLOWER_ITEM + 1) * CT_STATUS_MAX_FOLLOWERS +
        (MEMBER_ITEM + 1) * CT_GROUP_MAX_MEMBERS + GROUP_ITEM +
        (APPLY_ITEM + 1) * CT_STATUS_MAX_FOLLOWERS + 64};

static const char *const ct_group_roles[] = {"unknown", "leader", "follower"};

/* A str of 1..cap bytes, valid UTF-8, no NUL, copied into dst[cap + 1]. */
static ct_err get_str(const msgpack_object *o, size_t cap, char *dst)
{
    if (o->type != MSGPACK_OBJECT_STR) return CT_ERR_WRONG_TYPE;
    size_t n = o->via.str.size;
    if (n == 0) return CT_ERR_BAD_VALUE;
    if (n > cap) return CT_ERR_STRING_TOO_LONG;
    if (!ct_utf8_valid((const uint8_t *)o->via.str.ptr, n)) return CT_ERR_BAD_UTF8;
    if (memchr(o->via.str.ptr, '\0', n)) return CT_ERR_BAD_VALUE;
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    return CT_OK;
}

static ct_err get_i64(const msgpack_object *o, int64_t *v)
{
    uint64_t u;
    ct_err e = ct_codec_uint(o, INT64_MAX, &u);
    if (!e) *v = (int64_t)u;
    return e;
}

static size_t vlen(const char *s, size_t cap)
{
    size_t n = 0;
    while (n <= cap && s[n])
        n++;
    return n;
}

static ct_err tel_check(const ct_wire_telemetry *t)
{
    size_t n = vlen(t->version, CT_TEL_VERSION_MAX);
    if (t->district == 0 || t->district > 0xffff || t->unsafe > t->waiting || t->clock_ms < 0 ||
        t->oldest_ms < 0 || (t->oldest_ms && t->waiting == 0) || n == 0 || n > CT_TEL_VERSION_MAX ||
        !ct_utf8_valid((const uint8_t *)t->version, n))
        return CT_ERR_BAD_VALUE;
    return CT_OK;
}

/* ---- "tel" --------------------------------------------------------------- */

ct_err ct_wire_telemetry_encode(const ct_wire_telemetry *t, ct_buf *out)
{
    if (!t || !out) return CT_ERR_ARG;
    ct_err e = tel_check(t);
    if (e) return e;
    const size_t start = out->len;
    if (ct_buf_reserve(out, CT_TEL_MAX_FRAME)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, t->oldest_ms ? 11 : 10, CT_MSG_TELEMETRY);
    ct_wire_pk_str(&pk, "n");
    bad |= msgpack_pack_uint64(&pk, t->token);
    ct_wire_pk_str(&pk, "d");
    bad |= msgpack_pack_uint64(&pk, t->district);
    ct_wire_pk_str(&pk, "o");
    bad |= msgpack_pack_bin(&pk, CT_ORIGIN_LEN);
    bad |= msgpack_pack_bin_body(&pk, t->origin, CT_ORIGIN_LEN);
    ct_wire_pk_str(&pk, "t");
    bad |= msgpack_pack_uint64(&pk, (uint64_t)t->clock_ms);
    ct_wire_pk_str(&pk, "q");
    bad |= msgpack_pack_uint64(&pk, t->waiting);
    ct_wire_pk_str(&pk, "u");
    bad |= msgpack_pack_uint64(&pk, t->unsafe);
    ct_wire_pk_str(&pk, "rj");
    bad |= msgpack_pack_uint64(&pk, t->rejected);
    ct_wire_pk_str(&pk, "sv");
    ct_wire_pk_str(&pk, t->version);
    if (t->oldest_ms) {
        ct_wire_pk_str(&pk, "ot");
        bad |= msgpack_pack_uint64(&pk, (uint64_t)t->oldest_ms);
    }
    if (!bad && out->len - start > CT_TEL_MAX_FRAME) {
        out->len = start;
        return CT_ERR_FRAME_TOO_LARGE;
    }
    return ct_wire_pk_finish(out, start, bad);
}

ct_err ct_wire_telemetry_decode(const uint8_t *buf, size_t len, ct_wire_telemetry *t)
{
    if (!t) return CT_ERR_ARG;
    memset(t, 0, sizeof *t);
    if (len > CT_TEL_MAX_FRAME) return CT_ERR_FRAME_TOO_LARGE;
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_TELEMETRY, &root);
    if (e) return e;
    const msgpack_object *f[N_TEL];
    if ((e = ct_wire_fields(&root, ct_keys_tel, f, N_TEL))) return e;
    uint64_t u = 0;
    if (f[2] && (e = ct_codec_uint(f[2], UINT64_MAX, &t->token))) return e;
    if (f[3]) {
        if ((e = ct_codec_uint(f[3], 0xffff, &u))) return e;
        if (u == 0) return CT_ERR_BAD_VALUE;
        t->district = (uint32_t)u;
    }
    if (f[4]) {
        if ((e = ct_wire_get_bin(f[4], CT_ORIGIN_LEN, CT_ERR_BAD_VALUE))) return e;
        memcpy(t->origin, f[4]->via.bin.ptr, CT_ORIGIN_LEN);
    }
    if (f[5] && (e = get_i64(f[5], &t->clock_ms))) return e;
    if (f[6] && (e = ct_codec_uint(f[6], UINT64_MAX, &t->waiting))) return e;
    if (f[7] && (e = ct_codec_uint(f[7], UINT64_MAX, &t->unsafe))) return e;
    if (f[8] && (e = ct_codec_uint(f[8], UINT64_MAX, &t->rejected))) return e;
    if (f[9] && (e = get_str(f[9], CT_TEL_VERSION_MAX, t->version))) return e;
    if (f[10]) {
        if ((e = get_i64(f[10], &t->oldest_ms))) return e;
        if (t->oldest_ms == 0) return CT_ERR_BAD_VALUE;
    }
    for (int i = 2; i < 10; i++)
        if (!f[i]) return CT_ERR_MISSING_FIELD;
    if (t->unsafe > t->waiting || (t->oldest_ms && t->waiting == 0)) return CT_ERR_BAD_VALUE;
    return CT_OK;
}

/* ---- "stq" --------------------------------------------------------------- */

ct_err ct_wire_statusreq_encode(bool group, bool apply, ct_buf *out)
{
    if (!out) return CT_ERR_ARG;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 24)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    ct_wire_pk_head(&pk, 2 + (group ? 1 : 0) + (apply ? 1 : 0), CT_MSG_STATUS_REQ);
    int bad = 0;
    if (group) {
        ct_wire_pk_str(&pk, "gr");
        bad |= msgpack_pack_uint64(&pk, 1);
    }
    if (apply) {
        ct_wire_pk_str(&pk, "ap");
        bad |= msgpack_pack_uint64(&pk, 1);
    }
    return ct_wire_pk_finish(out, start, bad);
}

/* An "stq" flag: absent, or 1 (0 is not the smallest form: absent). */
static ct_err stq_flag(const msgpack_object *o, bool *on)
{
    uint64_t u = 0;
    *on = false;
    if (!o) return CT_OK;
    ct_err e = ct_codec_uint(o, 1, &u);
    if (e) return e;
    if (u == 0) return CT_ERR_BAD_VALUE;
    *on = true;
    return CT_OK;
}

ct_err ct_wire_statusreq_decode(const uint8_t *buf, size_t len, bool *group, bool *apply)
{
    if (group) *group = false;
    if (apply) *apply = false;
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_wire_lim_small, CT_MSG_STATUS_REQ, &root);
    if (e) return e;
    const msgpack_object *f[N_STQ];
    if ((e = ct_wire_fields(&root, ct_keys_stq, f, N_STQ))) return e;
    bool g, a;
    if ((e = stq_flag(f[2], &g)) || (e = stq_flag(f[3], &a))) return e;
    if (group) *group = g;
    if (apply) *apply = a;
    return CT_OK;
}

/* ---- "sta" --------------------------------------------------------------- */

/* "gr": a present group's fields in range (the decoder's rules). */
static ct_err group_check(const ct_wire_group *g)
{
    if (!g->present) return CT_OK;
    if (g->n_members > CT_GROUP_MAX_MEMBERS) return CT_ERR_TOO_MANY;
    size_t n = vlen(g->name, CT_GROUP_NAME_MAX);
    size_t nl = vlen(g->leader, CT_GROUP_ENDPOINT_MAX);
    if (n == 0 || n > CT_GROUP_NAME_MAX || nl > CT_GROUP_ENDPOINT_MAX ||
        !ct_utf8_valid((const uint8_t *)g->name, n) ||
        !ct_utf8_valid((const uint8_t *)g->leader, nl) || (unsigned)g->role > CT_GROUP_FOLLOWER ||
        g->since_ms < 0 || g->lease_left_ms < 0)
        return CT_ERR_BAD_VALUE;
    for (size_t i = 0; i < g->n_members; i++) {
        const ct_wire_member *m = &g->members[i];
        size_t ne = vlen(m->endpoint, CT_GROUP_ENDPOINT_MAX);
        if (ne == 0 || ne > CT_GROUP_ENDPOINT_MAX ||
            !ct_utf8_valid((const uint8_t *)m->endpoint, ne) || m->lag_ms < 0)
            return CT_ERR_BAD_VALUE;
    }
    return CT_OK;
}

static int group_encode(msgpack_packer *pk, const ct_wire_group *g)
{
    int bad = 0;
    ct_wire_pk_str(pk, "gr");
    bad |= msgpack_pack_array(pk, GROUP_ITEM);
    ct_wire_pk_str(pk, g->name);
    ct_wire_pk_str(pk, "etcd");
    ct_wire_pk_str(pk, g->leader);
    ct_wire_pk_str(pk, ct_group_roles[g->role]);
    bad |= msgpack_pack_uint64(pk, g->epoch);
    bad |= msgpack_pack_uint64(pk, (uint64_t)g->since_ms);
    bad |= msgpack_pack_uint64(pk, (uint64_t)g->lease_left_ms);
    bad |= msgpack_pack_uint64(pk, g->etcd_ok ? 1 : 0);
    bad |= msgpack_pack_uint64(pk, g->accepting ? 1 : 0);
    bad |= msgpack_pack_array(pk, g->n_members);
    for (size_t i = 0; i < g->n_members; i++) {
        const ct_wire_member *m = &g->members[i];
        bad |= msgpack_pack_array(pk, MEMBER_ITEM);
        ct_wire_pk_str(pk, m->endpoint);
        bad |= msgpack_pack_uint64(pk, m->epoch);
        bad |= msgpack_pack_uint64(pk, m->head);
        bad |= msgpack_pack_uint64(pk, m->lag_records);
        bad |= msgpack_pack_uint64(pk, (uint64_t)m->lag_ms);
    }
    return bad;
}

/* A str of 0..cap bytes (the leader's endpoint may be empty). */
static ct_err get_str0(const msgpack_object *o, size_t cap, char *dst)
{
    if (o->type == MSGPACK_OBJECT_STR && o->via.str.size == 0) {
        dst[0] = '\0';
        return CT_OK;
    }
    return get_str(o, cap, dst);
}

/* One of a few names (a longer str is simply not one of them). */
static ct_err get_word(const msgpack_object *o, char word[16])
{
    ct_err e = get_str(o, 15, word);
    return e == CT_ERR_STRING_TOO_LONG ? CT_ERR_BAD_VALUE : e;
}

static ct_err member_decode(const msgpack_object *o, ct_wire_member *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != MEMBER_ITEM) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    ct_err e = get_str(&x[0], CT_GROUP_ENDPOINT_MAX, m->endpoint);
    if (!e) e = ct_codec_uint(&x[1], UINT64_MAX, &m->epoch);
    if (!e) e = ct_codec_uint(&x[2], UINT64_MAX, &m->head);
    if (!e) e = ct_codec_uint(&x[3], UINT64_MAX, &m->lag_records);
    if (!e) e = get_i64(&x[4], &m->lag_ms);
    return e;
}

static ct_err group_decode(const msgpack_object *o, ct_wire_group *g)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != GROUP_ITEM) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    char word[16];
    uint64_t u = 0;
    ct_err e = get_str(&x[0], CT_GROUP_NAME_MAX, g->name);
    if (!e) e = get_word(&x[1], word);
    if (!e && strcmp(word, "etcd") != 0) e = CT_ERR_BAD_VALUE;
    if (!e) e = get_str0(&x[2], CT_GROUP_ENDPOINT_MAX, g->leader);
    if (!e) e = get_word(&x[3], word);
    if (!e) {
        e = CT_ERR_BAD_VALUE;
        for (unsigned r = 0; r <= CT_GROUP_FOLLOWER; r++)
            if (strcmp(word, ct_group_roles[r]) == 0) {
                g->role = (ct_wire_group_role)r;
                e = CT_OK;
            }
    }
    if (!e) e = ct_codec_uint(&x[4], UINT64_MAX, &g->epoch);
    if (!e) e = get_i64(&x[5], &g->since_ms);
    if (!e) e = get_i64(&x[6], &g->lease_left_ms);
    if (!e) e = ct_codec_uint(&x[7], 1, &u);
    g->etcd_ok = u == 1;
    if (!e) e = ct_codec_uint(&x[8], 1, &u);
    g->accepting = u == 1;
    if (!e && x[9].type != MSGPACK_OBJECT_ARRAY) e = CT_ERR_WRONG_TYPE;
    if (!e && x[9].via.array.size > CT_GROUP_MAX_MEMBERS) e = CT_ERR_TOO_MANY;
    for (uint32_t i = 0; !e && i < x[9].via.array.size; i++)
        e = member_decode(&x[9].via.array.ptr[i], &g->members[i]);
    if (!e) g->n_members = x[9].via.array.size;
    g->present = !e;
    return e;
}

ct_err ct_wire_status_encode(const ct_wire_status *s, ct_buf *out)
{
    if (!s || !out || (s->n_followers && !s->followers) || (s->n_offices && !s->offices))
        return CT_ERR_ARG;
    if (s->n_followers > CT_STATUS_MAX_FOLLOWERS || s->n_offices > CT_STATUS_MAX_OFFICES)
        return CT_ERR_TOO_MANY;
    if (s->safe > s->committed || s->epoch == 0 || s->time_ms < 0 || s->stalled_ms < 0)
        return CT_ERR_BAD_VALUE;
    for (size_t i = 0; i < s->n_followers; i++) {
        size_t n = vlen(s->followers[i].id, CT_STATUS_FOLLOWER_ID_MAX);
        if (n == 0 || n > CT_STATUS_FOLLOWER_ID_MAX || s->followers[i].lag_ms < 0 ||
            s->followers[i].silent_ms < 0 || (s->has_apply && s->followers[i].apply_lag_ms < 0))
            return CT_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < s->n_offices; i++) {
        ct_err e = tel_check(&s->offices[i].tel);
        if (e) return e;
        if (s->offices[i].seen_ms < 0) return CT_ERR_BAD_VALUE;
    }
    ct_err ge = group_check(&s->group);
    if (ge) return ge;
    const size_t start = out->len;
    if (ct_buf_reserve(out, 512 + s->n_followers * 160 + s->n_offices * 96)) return CT_ERR_NOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    int bad = 0;
    ct_wire_pk_head(&pk, N_STA_REQ + (s->group.present ? 1 : 0) + (s->has_apply ? 1 : 0),
                    CT_MSG_STATUS);
    ct_wire_pk_str(&pk, "t");
    bad |= msgpack_pack_uint64(&pk, (uint64_t)s->time_ms);
    ct_wire_pk_str(&pk, "ro");
    ct_wire_pk_str(&pk, s->follower ? "follower" : "primary");
    ct_wire_pk_str(&pk, "ep");
    bad |= msgpack_pack_uint64(&pk, s->epoch);
    ct_wire_pk_str(&pk, "c");
    bad |= msgpack_pack_uint64(&pk, s->committed);
    ct_wire_pk_str(&pk, "f");
    bad |= msgpack_pack_uint64(&pk, s->safe);
    ct_wire_pk_str(&pk, "sk");
    bad |= msgpack_pack_uint64(&pk, s->sync_k);
    ct_wire_pk_str(&pk, "al");
    bad |= msgpack_pack_uint64(&pk, s->alert ? 1 : 0);
    ct_wire_pk_str(&pk, "sm");
    bad |= msgpack_pack_uint64(&pk, (uint64_t)s->stalled_ms);
    ct_wire_pk_str(&pk, "fl");
    bad |= msgpack_pack_array(&pk, s->n_followers);
    for (size_t i = 0; i < s->n_followers; i++) {
        const ct_wire_follower *w = &s->followers[i];
        bad |= msgpack_pack_array(&pk, FOLLOWER_ITEM);
        ct_wire_pk_str(&pk, w->id);
        bad |= msgpack_pack_uint64(&pk, w->acked);
        bad |= msgpack_pack_uint64(&pk, w->lag_records);
        bad |= msgpack_pack_uint64(&pk, (uint64_t)w->lag_ms);
        bad |= msgpack_pack_uint64(&pk, (uint64_t)w->silent_ms);
    }
    ct_wire_pk_str(&pk, "of");
    bad |= msgpack_pack_array(&pk, s->n_offices);
    for (size_t i = 0; i < s->n_offices; i++) {
        const ct_wire_office *o = &s->offices[i];
        bad |= msgpack_pack_array(&pk, OFFICE_ITEM);
        bad |= msgpack_pack_uint64(&pk, o->tel.district);
        bad |= msgpack_pack_bin(&pk, CT_ORIGIN_LEN);
        bad |= msgpack_pack_bin_body(&pk, o->tel.origin, CT_ORIGIN_LEN);
        bad |= msgpack_pack_uint64(&pk, (uint64_t)o->seen_ms);
        bad |= msgpack_pack_uint64(&pk, (uint64_t)o->tel.clock_ms);
        bad |= msgpack_pack_uint64(&pk, o->tel.waiting);
        bad |= msgpack_pack_uint64(&pk, o->tel.unsafe);
        bad |= msgpack_pack_uint64(&pk, o->tel.rejected);
        bad |= msgpack_pack_uint64(&pk, (uint64_t)o->tel.oldest_ms);
        ct_wire_pk_str(&pk, o->tel.version);
    }
    if (s->group.present) bad |= group_encode(&pk, &s->group);
    if (s->has_apply) {
        ct_wire_pk_str(&pk, "ap");
        bad |= msgpack_pack_array(&pk, s->n_followers);
        for (size_t i = 0; i < s->n_followers; i++) {
            const ct_wire_follower *w = &s->followers[i];
            bad |= msgpack_pack_array(&pk, APPLY_ITEM);
            bad |= msgpack_pack_uint64(&pk, w->applied);
            bad |= msgpack_pack_uint64(&pk, w->apply_lag_records);
            bad |= msgpack_pack_uint64(&pk, (uint64_t)w->apply_lag_ms);
        }
    }
    return ct_wire_pk_finish(out, start, bad);
}

void ct_wire_status_free(ct_wire_status *s)
{
    if (!s) return;
    free((void *)(uintptr_t)s->followers);
    free((void *)(uintptr_t)s->offices);
    s->followers = NULL;
    s->offices = NULL;
    s->n_followers = s->n_offices = 0;
}

static ct_err follower_decode(const msgpack_object *o, ct_wire_follower *w)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != FOLLOWER_ITEM) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    ct_err e = get_str(&x[0], CT_STATUS_FOLLOWER_ID_MAX, w->id);
    if (!e) e = ct_codec_uint(&x[1], UINT64_MAX, &w->acked);
    if (!e) e = ct_codec_uint(&x[2], UINT64_MAX, &w->lag_records);
    if (!e) e = get_i64(&x[3], &w->lag_ms);
    if (!e) e = get_i64(&x[4], &w->silent_ms);
    return e;
}

/* One item of "ap": the applied fields of the follower at the same index. */
static ct_err apply_decode(const msgpack_object *o, ct_wire_follower *w)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != APPLY_ITEM) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    ct_err e = ct_codec_uint(&x[0], UINT64_MAX, &w->applied);
    if (!e) e = ct_codec_uint(&x[1], UINT64_MAX, &w->apply_lag_records);
    if (!e) e = get_i64(&x[2], &w->apply_lag_ms);
    return e;
}

static ct_err office_decode(const msgpack_object *o, ct_wire_office *w)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
    if (o->via.array.size != OFFICE_ITEM) return CT_ERR_BAD_VALUE;
    const msgpack_object *x = o->via.array.ptr;
    memset(w, 0, sizeof *w);
    uint64_t d = 0;
    ct_err e = ct_codec_uint(&x[0], 0xffff, &d);
    if (!e && d == 0) e = CT_ERR_BAD_VALUE;
    w->tel.district = (uint32_t)d;
    if (!e) e = ct_wire_get_bin(&x[1], CT_ORIGIN_LEN, CT_ERR_BAD_VALUE);
    if (!e) memcpy(w->tel.origin, x[1].via.bin.ptr, CT_ORIGIN_LEN);
    if (!e) e = get_i64(&x[2], &w->seen_ms);
    if (!e) e = get_i64(&x[3], &w->tel.clock_ms);
    if (!e) e = ct_codec_uint(&x[4], UINT64_MAX, &w->tel.waiting);
    if (!e) e = ct_codec_uint(&x[5], UINT64_MAX, &w->tel.unsafe);
    if (!e) e = ct_codec_uint(&x[6], UINT64_MAX, &w->tel.rejected);
    if (!e) e = get_i64(&x[7], &w->tel.oldest_ms);
    if (!e) e = get_str(&x[8], CT_TEL_VERSION_MAX, w->tel.version);
    if (!e && (w->tel.unsafe > w->tel.waiting || (w->tel.oldest_ms && w->tel.waiting == 0)))
        e = CT_ERR_BAD_VALUE;
    return e;
}

static ct_err sta_values(const msgpack_object *const *f, ct_wire_status *s)
{
    ct_err e = CT_OK;
    uint64_t u = 0;
    if (f[2] && (e = get_i64(f[2], &s->time_ms))) return e;
    if (f[3]) {
        char ro[16];
        if ((e = get_str(f[3], sizeof ro - 1, ro)))
            return e == CT_ERR_STRING_TOO_LONG ? CT_ERR_BAD_VALUE : e;
        if (strcmp(ro, "follower") == 0)
            s->follower = true;
        else if (strcmp(ro, "primary") != 0)
            return CT_ERR_BAD_VALUE;
    }
    if (f[4]) {
        if ((e = ct_codec_uint(f[4], UINT64_MAX, &s->epoch))) return e;
        if (s->epoch == 0) return CT_ERR_BAD_VALUE;
    }
    if (f[5] && (e = ct_codec_uint(f[5], UINT64_MAX, &s->committed))) return e;
    if (f[6] && (e = ct_codec_uint(f[6], UINT64_MAX, &s->safe))) return e;
    if (f[7] && (e = ct_codec_uint(f[7], UINT64_MAX, &s->sync_k))) return e;
    if (f[8]) {
        if ((e = ct_codec_uint(f[8], 1, &u))) return e;
        s->alert = u == 1;
    }
    if (f[9] && (e = get_i64(f[9], &s->stalled_ms))) return e;
    if (f[10]) {
        if (f[10]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        if (f[10]->via.array.size > CT_STATUS_MAX_FOLLOWERS) return CT_ERR_TOO_MANY;
    }
    if (f[11]) {
        if (f[11]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        if (f[11]->via.array.size > CT_STATUS_MAX_OFFICES) return CT_ERR_TOO_MANY;
    }
    if (f[12] && (e = group_decode(f[12], &s->group))) return e;
    if (f[13]) {
        if (f[13]->type != MSGPACK_OBJECT_ARRAY) return CT_ERR_WRONG_TYPE;
        if (f[13]->via.array.size > CT_STATUS_MAX_FOLLOWERS) return CT_ERR_TOO_MANY;
    }
    for (int i = 2; i < N_STA_REQ; i++)
        if (!f[i]) return CT_ERR_MISSING_FIELD;
    if (s->safe > s->committed) return CT_ERR_BAD_VALUE;
    /* "ap" is parallel to "fl": one item per follower, in its order */
    if (f[13] && f[13]->via.array.size != f[10]->via.array.size) return CT_ERR_BAD_VALUE;
    s->has_apply = f[13] != NULL;
    return CT_OK;
}

ct_err ct_wire_status_decode(const uint8_t *buf, size_t len, ct_wire_status *out)
{
    if (!out) return CT_ERR_ARG;
    memset(out, 0, sizeof *out);
    msgpack_object root;
    ct_err e = ct_wire_open_kind(buf, len, &ct_lim_sta, CT_MSG_STATUS, &root);
    if (e) return e;
    const msgpack_object *f[N_STA];
    if ((e = ct_wire_fields(&root, ct_keys_sta, f, N_STA))) return e;
    if ((e = sta_values(f, out))) return e;
    const msgpack_object_array *fl = &f[10]->via.array, *of = &f[11]->via.array;
    ct_wire_follower *fw = NULL;
    ct_wire_office *ow = NULL;
    if (fl->size) {
        out->followers = fw = calloc(fl->size, sizeof *fw);
        if (!fw) return CT_ERR_NOMEM;
        out->n_followers = fl->size;
    }
    if (of->size) {
        out->offices = ow = calloc(of->size, sizeof *ow);
        if (!ow) e = CT_ERR_NOMEM;
        out->n_offices = of->size;
    }
    for (uint32_t i = 0; !e && i < fl->size; i++)
        e = follower_decode(&fl->ptr[i], &fw[i]);
    for (uint32_t i = 0; !e && out->has_apply && i < fl->size; i++)
        e = apply_decode(&f[13]->via.array.ptr[i], &fw[i]);
    for (uint32_t i = 0; !e && i < of->size; i++)
        e = office_decode(&of->ptr[i], &ow[i]);
    if (e) ct_wire_status_free(out);
    return e;
}
