/* test_ingest.c — the group-commit round (ct_ingest) and the aggregator
 * loop (ct_aggregator_run) in-process: a real LMDB store in a temporary
 * directory, real ZeroMQ sockets over inproc:// (ipc:// with CURVE and the
 * ZAP handler where an authenticated identity is needed), and the
 * authorization file reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>
#include <zmq.h>

#include "ct_testkit.h"

#include "ct_aggregator.h"
#include "ct_auth.h"
#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_event.h"
#include "ct_follow.h"
#include "ct_ingest.h"
#include "ct_logrec.h"
#include "ct_server.h"
#include "ct_store.h"
#include "ct_wire.h"

static ct_campaign g_camp;
#define T0 ((int64_t)1690246800000) /* 2023-07-25T08:00:00+07:00 */

typedef struct {
    ct_tmpdir td;
    ct_store *store;
    void *ctx;
    void *router;
    ct_ingest *ing;
} fixture;

static void fx_open(fixture *f, ct_auth *auth, const char *ep)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ct_tmpdir_make(&f->td, "ct-ingest-test"), 0);
    ct_store_opts so = {.dir = f->td.dir, .map_size = 64u << 20, .campaign_id = g_camp.id};
    char err[256];
    assert_int_equal(ct_store_open(&so, &f->store, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_set_campaign(f->store, &g_camp, err, sizeof err), CT_OK);
    if (!f->ctx) f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(f->router, ep), 0);
    ct_ingest_opts io = {&g_camp, f->store, auth, 8192, true, 0, 1, NULL};
    assert_int_equal(ct_ingest_create(&io, &f->ing), CT_OK);
}

static void fx_close(fixture *f)
{
    ct_ingest_free(f->ing);
    zmq_close(f->router);
    ct_store_close(f->store);
    zmq_ctx_term(f->ctx);
    assert_int_equal(ct_tmpdir_remove(&f->td), 0);
}

static void *dealer(fixture *f, const char *ep)
{
    void *d = zmq_socket(f->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(d, ep), 0);
    return d;
}

/* Encodes the event (origin o, seq) into out. */
static void mk_event(ct_buf *out, uint8_t o, uint64_t seq, uint32_t district, const char *agent,
                     ct_program p)
{
    ct_event ev;
    memset(&ev, 0, sizeof ev);
    const uint8_t origin[CT_ORIGIN_LEN] = {o, 2, 3, 4, 5, 6, 7, 8};
    ct_event_id_make(ev.id, origin, seq);
    ev.occurred_ms = T0;
    snprintf(ev.campaign, sizeof ev.campaign, "%s", g_camp.id);
    ev.district = district;
    snprintf(ev.agent, sizeof ev.agent, "%s", agent);
    ev.program = p;
    ev.action = CT_ACTION_ENROLL;
    uint64_t person = seq * 256 + o;
    memcpy(ev.person, &person, sizeof person);
    ct_buf_reset(out);
    assert_int_equal(ct_event_encode(&ev, out), CT_OK);
}

/* Sends one submit of n events (origin o, seqs first..first+n-1), with "w"
 * so that the ack carries each item's q. */
static void submit(void *d, uint64_t token, uint8_t o, uint64_t first, size_t n, ct_program p)
{
    ct_buf evb[8];
    ct_bytes b[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        memset(&evb[i], 0, sizeof evb[i]);
        mk_event(&evb[i], o, first + i, 672, "LD672-001", p);
        b[i] = (ct_bytes){evb[i].data, evb[i].len};
    }
    ct_buf sub = CT_BUF_INIT;
    assert_int_equal(ct_wire_submit_encode_wm(token, b, n, true, &sub), CT_OK);
    assert_int_equal(zmq_send(d, sub.data, sub.len, 0), (int)sub.len);
    ct_buf_free(&sub);
    for (size_t i = 0; i < n; i++)
        ct_buf_free(&evb[i]);
}

/* Receives one reply; kind ack fills token, seq, items. */
static ct_msg_kind reply(void *d, uint64_t *token, uint64_t *seq, ct_ack_item *it, size_t *n,
                         uint16_t *code)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, d, 0) >= 0);
    ct_msg_kind k;
    const uint8_t *data = zmq_msg_data(&m);
    size_t len = zmq_msg_size(&m);
    assert_int_equal(ct_wire_peek_kind(data, len, &k), CT_OK);
    if (k == CT_MSG_ACK) {
        assert_int_equal(ct_wire_ack_decode(data, len, token, seq, it, CT_WIRE_MAX_EVENTS, n),
                         CT_OK);
    } else {
        bool has = false;
        assert_int_equal(ct_wire_error_decode(data, len, &has, token, code), CT_OK);
        if (!has) *token = UINT64_MAX;
    }
    zmq_msg_close(&m);
    return k;
}

static bool readable(void *d)
{
    zmq_pollitem_t it = {d, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, 50) == 1;
}

static void round_of(fixture *f, size_t want_msgs, ct_err want_commit)
{
    void *socks[1] = {f->router};
    ct_store_commit cm = {0};
    ct_err cerr = CT_ERR_INTERNAL;
    size_t got = 0;
    ct_ingest_batch(f->ing, socks, 1, &cm, &cerr, &got);
    assert_int_equal(got, want_msgs);
    assert_int_equal(cerr, want_commit);
}

static uint64_t head_of(ct_store *s)
{
    uint64_t seq = 0;
    uint8_t h[CT_LOGREC_HASH_LEN];
    assert_int_equal(ct_store_head(s, &seq, h), CT_OK);
    return seq;
}

/* Three submitters' frames, one round, one commit; acks only after it. */
static void test_group_commit(void **st)
{
    (void)st;
    fixture f;
    fx_open(&f, NULL, "inproc://gc");
    void *d[3];
    for (int i = 0; i < 3; i++)
        d[i] = dealer(&f, "inproc://gc");
    for (int i = 0; i < 3; i++)
        submit(d[i], 10 + (uint64_t)i, (uint8_t)(i + 1), 1, (size_t)(i + 2), CT_PROGRAM_BHXH_TN);
    for (int i = 0; i < 3; i++)
        assert_false(readable(d[i])); /* nothing before the round */
    round_of(&f, 3, CT_OK);
    const ct_ingest_stats *s = ct_ingest_get_stats(f.ing);
    assert_int_equal(s->batches, 1);
    assert_int_equal(s->commits, 1);
    assert_int_equal(s->events, 9);
    assert_int_equal(s->accepted, 9);
    assert_int_equal(head_of(f.store), 9);
    uint64_t next = 1;
    for (int i = 0; i < 3; i++) {
        uint64_t tok, seq;
        ct_ack_item it[8];
        size_t n;
        uint16_t code;
        assert_int_equal(reply(d[i], &tok, &seq, it, &n, &code), CT_MSG_ACK);
        assert_int_equal(tok, 10 + (uint64_t)i);
        assert_int_equal(seq, 9); /* the store's head after the one commit */
        assert_int_equal(n, (size_t)(i + 2));
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(it[j].status, CT_ACK_ACCEPTED);
            assert_int_equal(it[j].seq, next++); /* submit order = log order */
        }
        zmq_close(d[i]);
    }
    fx_close(&f);
}

/* A resend is a duplicate with the original seq; other bytes: conflict. */
static void test_duplicate_and_conflict(void **st)
{
    (void)st;
    fixture f;
    fx_open(&f, NULL, "inproc://dup");
    void *d = dealer(&f, "inproc://dup");
    uint64_t tok, seq;
    ct_ack_item it[8];
    size_t n;
    uint16_t code;
    submit(d, 1, 1, 1, 3, CT_PROGRAM_BHXH_TN);
    round_of(&f, 1, CT_OK);
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    submit(d, 2, 2, 1, 2, CT_PROGRAM_BHXH_TN); /* another origin: seqs 4, 5 */
    round_of(&f, 1, CT_OK);
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(seq, 5);
    submit(d, 3, 1, 2, 2, CT_PROGRAM_BHXH_TN); /* resend of 1/2, 1/3 */
    round_of(&f, 1, CT_OK);
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(tok, 3);
    assert_int_equal(seq, 5);
    assert_int_equal(n, 2);
    assert_int_equal(it[0].status, CT_ACK_DUPLICATE);
    assert_int_equal(it[0].seq, 2);
    assert_int_equal(it[1].status, CT_ACK_DUPLICATE);
    assert_int_equal(it[1].seq, 3);
    submit(d, 4, 1, 3, 1, CT_PROGRAM_BHYT_HGD); /* id 1/3 with other bytes */
    round_of(&f, 1, CT_OK);
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(it[0].status, CT_ACK_REJECTED);
    assert_int_equal(it[0].code, CT_ERR_CONFLICT);
    assert_int_equal(it[0].seq, 0);
    assert_int_equal(head_of(f.store), 5);
    zmq_close(d);
    fx_close(&f);
}

/* Over the 8 MiB limit: an err frame_too_large naming the token; the
 * connection keeps working. */
static void test_oversized_frame(void **st)
{
    (void)st;
    fixture f;
    fx_open(&f, NULL, "inproc://big");
    void *d = dealer(&f, "inproc://big");
    /* {"v":1,"k":"sub","n":99,"e":[bin32 of 8 MiB]}: the encoder refuses it */
    static const uint8_t head[] = {0x84, 0xa1, 'v',  1,   0xa1, 'k',  0xa3, 's',  'u',  'b', 0xa1,
                                   'n',  99,   0xa1, 'e', 0x91, 0xc6, 0x00, 0x80, 0x00, 0x00};
    size_t blen = sizeof head + CT_WIRE_MAX_FRAME;
    uint8_t *big = calloc(1, blen);
    assert_non_null(big);
    memcpy(big, head, sizeof head);
    assert_true(blen > CT_WIRE_MAX_FRAME && blen < (size_t)CT_SERVER_MAX_MSG);
    assert_int_equal(zmq_send(d, big, blen, 0), (int)blen);
    round_of(&f, 1, CT_OK);
    uint64_t tok = 0, seq;
    ct_ack_item it[8];
    size_t n;
    uint16_t code = 0;
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ERROR);
    assert_int_equal(tok, 99);
    assert_int_equal(code, CT_ERR_FRAME_TOO_LARGE);
    submit(d, 100, 1, 1, 1, CT_PROGRAM_BHXH_TN);
    round_of(&f, 1, CT_OK);
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(it[0].status, CT_ACK_ACCEPTED);
    assert_int_equal(ct_ingest_get_stats(f.ing)->bad_messages, 1);
    free(big);
    zmq_close(d);
    fx_close(&f);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

/* A collector key of district 673 submits an event of 672 (CURVE + ZAP
 * over ipc://, the only way to an authenticated User-Id). */
static void test_forbidden_district(void **st)
{
    (void)st;
    char spub[41], ssec[41], cpub[41], csec[41];
    assert_int_equal(zmq_curve_keypair(spub, ssec), 0);
    assert_int_equal(zmq_curve_keypair(cpub, csec), 0);
    fixture f;
    memset(&f, 0, sizeof f);
    assert_int_equal(ct_tmpdir_make(&f.td, "ct-ingest-auth"), 0);
    char path[512], ep[600];
    snprintf(path, sizeof path, "%s/auth.txt", f.td.dir);
    char line[128];
    int ll = snprintf(line, sizeof line, "%s collector 673 da-huoai\n", cpub);
    write_file(path, line, (size_t)ll);
    ct_auth *auth = NULL;
    char err[256];
    assert_int_equal(ct_auth_load(path, &g_camp, &auth, err, sizeof err), CT_OK);
    f.ctx = zmq_ctx_new();
    assert_int_equal(ct_auth_zap_start(auth, f.ctx, err, sizeof err), CT_OK);
    /* the fixture's own socket: a CURVE ROUTER through ct_server */
    ct_keypair kp;
    memset(&kp, 0, sizeof kp);
    memcpy(kp.secret_z85, ssec, 41);
    snprintf(ep, sizeof ep, "ipc://%s/in.sock", f.td.dir);
    const char *eps[1] = {ep};
    ct_server_opts so = {.type = ZMQ_ROUTER,
                         .what = "ingest",
                         .kp = &kp,
                         .domain = CT_ZAP_DOMAIN_INGEST,
                         .handshake_ivl_ms = 5000,
                         .eps = eps,
                         .n_eps = 1};
    ct_server_sock ss;
    assert_int_equal(ct_server_open(f.ctx, &so, &ss, err, sizeof err), CT_OK);
    ct_store_opts sto = {.dir = f.td.dir, .map_size = 64u << 20, .campaign_id = g_camp.id};
    assert_int_equal(ct_store_open(&sto, &f.store, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_set_campaign(f.store, &g_camp, err, sizeof err), CT_OK);
    ct_ingest_opts io = {&g_camp, f.store, auth, 8192, true, 0, 1, NULL};
    assert_int_equal(ct_ingest_create(&io, &f.ing), CT_OK);

    void *d = zmq_socket(f.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, spub, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40);
    assert_int_equal(zmq_connect(d, ep), 0);
    submit(d, 5, 1, 1, 1, CT_PROGRAM_BHXH_TN);
    zmq_pollitem_t pi = {ss.sock, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&pi, 1, 5000), 1);
    void *socks[1] = {ss.sock};
    ct_store_commit cm = {0};
    ct_err cerr;
    size_t got;
    ct_ingest_batch(f.ing, socks, 1, &cm, &cerr, &got);
    assert_int_equal(got, 1);
    uint64_t tok, seq;
    ct_ack_item it[8];
    size_t n;
    uint16_t code;
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(n, 1);
    assert_true(it[0].has_id);
    assert_int_equal(it[0].status, CT_ACK_REJECTED);
    assert_int_equal(it[0].code, CT_ERR_FORBIDDEN);
    assert_int_equal(head_of(f.store), 0);
    assert_int_equal(ct_ingest_get_stats(f.ing)->forbidden, 1);
    zmq_close(d);
    ct_ingest_free(f.ing);
    ct_server_close(&ss, 0);
    ct_auth_free(auth);
    ct_store_close(f.store);
    zmq_ctx_term(f.ctx);
    assert_int_equal(ct_tmpdir_remove(&f.td), 0);
}

/* Notepad's UTF-8 byte order mark is accepted; a NUL byte is refused with
 * file:line. */
static void test_auth_file_bom_and_nul(void **st)
{
    (void)st;
    char pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    ct_tmpdir td;
    assert_int_equal(ct_tmpdir_make(&td, "ct-auth-test"), 0);
    char path[512], buf[256], err[256] = "";
    snprintf(path, sizeof path, "%s/authorized.txt", td.dir);
    int n =
        snprintf(buf, sizeof buf, "\xef\xbb\xbf# saved by Notepad\r\n%s collector 672 x\r\n", pub);
    write_file(path, buf, (size_t)n);
    ct_auth *a = NULL;
    assert_int_equal(ct_auth_load(path, &g_camp, &a, err, sizeof err), CT_OK);
    ct_role role;
    uint32_t district;
    assert_true(ct_auth_lookup(a, pub, &role, &district));
    assert_int_equal(role, CT_ROLE_COLLECTOR);
    assert_int_equal(district, 672);
    size_t w, r;
    ct_auth_count_roles(a, &w, &r);
    assert_int_equal(w, 1);
    assert_int_equal(r, 0);
    /* a NUL inside the name: the whole file is refused, naming line 2 */
    n = snprintf(buf, sizeof buf, "# ok\n%s collector 672 x", pub);
    memcpy(buf + n, "\0junk\n", 6);
    write_file(path, buf, (size_t)n + 6);
    size_t revoked = 7;
    assert_int_equal(ct_auth_reload(a, &revoked, err, sizeof err), CT_ERR_CONFIG);
    char want[600];
    snprintf(want, sizeof want, "%s:2: NUL byte", path);
    assert_non_null(strstr(err, want));
    assert_true(ct_auth_lookup(a, pub, NULL, NULL)); /* the old table stays */
    ct_auth_free(a);
    a = NULL;
    assert_int_equal(ct_auth_load(path, &g_camp, &a, err, sizeof err), CT_ERR_CONFIG);
    assert_null(a);
    assert_int_equal(ct_tmpdir_remove(&td), 0);
}

typedef struct {
    ct_aggregator_opts o;
    ct_err rc;
    char err[256];
} run_arg;

static void *run_thread(void *p)
{
    run_arg *r = p;
    r->rc = ct_aggregator_run(&r->o, r->err, sizeof r->err);
    return NULL;
}

/* The whole loop in-process: a submit over inproc is acked; stop ends it. */
static void test_aggregator_run(void **st)
{
    (void)st;
    fixture f;
    memset(&f, 0, sizeof f);
    assert_int_equal(ct_tmpdir_make(&f.td, "ct-agg-run"), 0);
    char err[256];
    ct_store_opts so = {.dir = f.td.dir, .map_size = 64u << 20, .campaign_id = g_camp.id};
    assert_int_equal(ct_store_open(&so, &f.store, err, sizeof err), CT_OK);
    assert_int_equal(ct_store_set_campaign(f.store, &g_camp, err, sizeof err), CT_OK);
    f.ctx = zmq_ctx_new();
    static volatile sig_atomic_t stop, reload;
    stop = reload = 0;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(fcntl(pfd[0], F_SETFL, O_NONBLOCK), 0); /* the loop drains it */
    const char *in[1] = {"inproc://run-in"}, *fe[1] = {"inproc://run-feed"},
               *sn[1] = {"inproc://run-snap"};
    run_arg ra;
    memset(&ra, 0, sizeof ra);
    ra.o = (ct_aggregator_opts){.campaign = &g_camp,
                                .store = f.store,
                                .zctx = f.ctx,
                                .data = f.td.dir,
                                .ingest = in,
                                .feed = fe,
                                .snapshot = sn,
                                .n_ingest = 1,
                                .n_feed = 1,
                                .n_snapshot = 1,
                                .batch_max = 8192,
                                .no_future_check = true,
                                .max_connections = 100,
                                .handshake_ivl_ms = 5000,
                                .feed_hwm = 1000,
                                .reader_check_s = 10,
                                .stop = &stop,
                                .reload = &reload,
                                .wake_fd = pfd[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &ra), 0);
    void *d = zmq_socket(f.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    while (zmq_connect(d, in[0]) != 0) /* until the loop has bound it */
        usleep(1000);
    submit(d, 1, 1, 1, 2, CT_PROGRAM_BHXH_TN);
    uint64_t tok, seq;
    ct_ack_item it[8];
    size_t n;
    uint16_t code;
    assert_int_equal(reply(d, &tok, &seq, it, &n, &code), CT_MSG_ACK);
    assert_int_equal(seq, 2);
    assert_int_equal(it[1].seq, 2);
    zmq_close(d);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE); /* the loop runs in another thread */
    assert_int_equal(write(pfd[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(ra.rc, CT_OK);
    assert_int_equal(head_of(f.store), 2);
    close(pfd[0]);
    close(pfd[1]);
    ct_store_close(f.store);
    zmq_ctx_term(f.ctx);
    assert_int_equal(ct_tmpdir_remove(&f.td), 0);
}

/* Opens (creating) the store at dir/name. */
static ct_store *open_at(const char *dir, const char *name)
{
    char err[256], path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ct_store_opts so = {.dir = path, .map_size = 16u << 20, .campaign_id = g_camp.id};
    ct_store *s = NULL;
    assert_int_equal(ct_store_open(&so, &s, err, sizeof err), CT_OK);
    return s;
}

/* An insecure follower's routing id: drawn once per store and kept, not
 * derived from the data path (two followers with the same data path on two
 * machines must not share one: here two stores made one after the other at
 * one path); a CURVE follower sets none. */
static void test_follower_routing_id(void **state)
{
    (void)state;
    ct_tmpdir a;
    assert_int_equal(ct_tmpdir_make(&a, "ct-fol-a"), 0);
    void *ctx = zmq_ctx_new();
    char err[256], ra[CT_FOLLOW_RID_LEN + 1], rb[CT_FOLLOW_RID_LEN + 1];
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/fol", a.dir);
    snprintf(p2, sizeof p2, "%s/fol-moved", a.dir);
    ct_store *sa = open_at(a.dir, "fol");
    ct_follow_opts fo = {.store = sa,
                         .campaign = &g_camp,
                         .zctx = ctx,
                         .endpoint = "inproc://ct-fol-none",
                         .data = p1,
                         .probe_only = true};
    ct_follow *fa = NULL, *fb = NULL;
    assert_int_equal(ct_follow_create(&fo, &fa, err, sizeof err), CT_OK);
    snprintf(ra, sizeof ra, "%s", ct_follow_rid(fa));
    ct_follow_free(fa);
    ct_store_close(sa);
    /* another follower's store at the same path */
    assert_int_equal(rename(p1, p2), 0);
    ct_store *sb = open_at(a.dir, "fol");
    fo.store = sb;
    assert_int_equal(ct_follow_create(&fo, &fb, err, sizeof err), CT_OK);
    snprintf(rb, sizeof rb, "%s", ct_follow_rid(fb));
    assert_int_equal(strlen(ra), CT_FOLLOW_RID_LEN);
    assert_int_equal(strncmp(ra, "follower-", 9), 0);
    assert_string_not_equal(ra, rb);
    ct_follow_free(fb);
    /* a store keeps its id across restarts (and moves) */
    sa = open_at(a.dir, "fol-moved");
    fo.store = sa;
    fo.data = p2;
    assert_int_equal(ct_follow_create(&fo, &fa, err, sizeof err), CT_OK);
    assert_string_equal(ct_follow_rid(fa), ra);
    ct_follow_free(fa);
    /* CURVE: no routing id of ours */
    ct_keypair kp;
    memset(&kp, 0, sizeof kp);
    assert_int_equal(zmq_curve_keypair(kp.public_z85, kp.secret_z85), 0);
    fo.kp = &kp;
    fo.primary_key_z85 = kp.public_z85;
    assert_int_equal(ct_follow_create(&fo, &fa, err, sizeof err), CT_OK);
    assert_string_equal(ct_follow_rid(fa), "");
    ct_follow_free(fa);
    ct_store_close(sa);
    ct_store_close(sb);
    zmq_ctx_term(ctx);
    assert_int_equal(ct_tmpdir_remove(&a), 0);
}

int main(void)
{
    char err[256];
    if (ct_campaign_load_default(&g_camp, err, sizeof err) != CT_OK) {
        fprintf(stderr, "campaign: %s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit),          cmocka_unit_test(test_duplicate_and_conflict),
        cmocka_unit_test(test_oversized_frame),       cmocka_unit_test(test_forbidden_district),
        cmocka_unit_test(test_auth_file_bom_and_nul), cmocka_unit_test(test_aggregator_run),
        cmocka_unit_test(test_follower_routing_id),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ct_campaign_free(&g_camp);
    return rc;
}
