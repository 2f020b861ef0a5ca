/* ct_bootstrap_fetch.c — a follower's bootstrap over the wire (--follow EP
 * --bootstrap): the chunks of a consistent copy of the primary's store,
 * asked with "cq" and answered with "cc" (docs/PROTOCOL.md §3.4 "Bootstrap
 * over the wire"; the primary's side is ct_repl_copy.c), written into a
 * temporary directory beside DATA, then installed by ct_bootstrap_install
 * with the manifest the chunks carried: the same checks as a copy brought
 * by hand (digest, campaign, head, epoch, chain 1..N).
 *
 * Invariants: one request outstanding; a chunk is written only when it is
 * of the copy being fetched and at the offset asked; a chunk of another
 * copy restarts the file from offset 0; every chunk must carry the same
 * size, head, epoch and digest as the first (else the fetch fails); the
 * temporary directory is removed whatever happens.
 */
#include "ct_bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "ct_log.h"
#include "ct_text.h"
#include "ct_time.h"
#include "ct_wire.h"

#define ASK_AGAIN_MS 1000
#define ANSWER_MS 10000
#define TRIES 6
#define PROGRESS_BYTES ((uint64_t)256 << 20) /* a progress line every 256 MiB */

static ct_err open_socket(void *zctx, const ct_bootstrap_fetch_opts *o, void **out)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (!s) return CT_ERR_ZMQ;
    int zero = 0;
    int64_t maxmsg = CT_WIRE_MAX_FRAME + (1 << 20);
    char rid[32] = "bootstrap-";
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    ct_text_hex(rnd, sizeof rnd, rid + 10);
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        (!o->kp && zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid))) ||
        (o->kp &&
         (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, o->primary_key_z85, CT_Z85_KEY_LEN + 1) ||
          zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, o->kp->public_z85, CT_Z85_KEY_LEN + 1) ||
          zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, o->kp->secret_z85, CT_Z85_KEY_LEN + 1))) ||
        zmq_connect(s, o->endpoint)) {
        zmq_close(s);
        return CT_ERR_ZMQ;
    }
    *out = s;
    return CT_OK;
}

static ct_err ask(void *s, uint64_t id, uint64_t off, ct_buf *b)
{
    ct_buf_reset(b);
    ct_err e = ct_wire_copy_req_encode(id, off, b);
    if (!e && zmq_send(s, b->data, b->len, 0) < 0) e = CT_ERR_ZMQ;
    return e;
}

/* Waits up to ms for one message into b (CT_ERR_TIMEOUT without). */
static ct_err receive(void *s, int ms, ct_buf *b)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0) return CT_ERR_TIMEOUT;
    zmq_msg_t m;
    zmq_msg_init(&m);
    ct_err e = zmq_msg_recv(&m, s, 0) < 0 ? CT_ERR_ZMQ : CT_OK;
    ct_buf_reset(b);
    if (!e) e = ct_buf_append(b, zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    return e;
}

/* The chunk's copy description, to compare with the first one's. */
static void describe(const ct_wire_copy_chunk *c, ct_bootstrap_manifest *m)
{
    memset(m, 0, sizeof *m);
    m->seq = c->seq;
    m->epoch = c->epoch;
    m->bytes = c->size;
    memcpy(m->head, c->head, 32);
    memcpy(m->digest, c->digest, 32);
    memcpy(m->fingerprint, c->fingerprint, 32);
    memcpy(m->campaign_id, c->campaign_id, c->campaign_id_len);
}

typedef struct {
    const ct_bootstrap_fetch_opts *o;
    void *sock;
    int fd;
    ct_buf b;
    uint64_t id, off;
    ct_bootstrap_manifest m;
} fetch;

/* Handles one "cc"; *done when the whole copy is on disk. */
static ct_err on_chunk(fetch *f, const ct_wire_copy_chunk *c, bool *done, char *msg, size_t msglen)
{
    const ct_campaign *camp = f->o->campaign;
    if (c->campaign_id_len != strlen(camp->id) ||
        memcmp(c->campaign_id, camp->id, c->campaign_id_len) != 0 ||
        memcmp(c->fingerprint, camp->fingerprint, 32) != 0) {
        snprintf(msg, msglen,
                 "the primary counts with campaign %.*s and another fingerprint: "
                 "give this follower the primary's campaign file and roster",
                 (int)c->campaign_id_len, c->campaign_id);
        return CT_ERR_CAMPAIGN_MISMATCH;
    }
    if (c->size == 0) { /* being made */
        f->id = 0;
        f->off = 0;
        struct timespec ts = {0, ASK_AGAIN_MS * 1000000L};
        nanosleep(&ts, NULL);
        return ask(f->sock, 0, 0, &f->b);
    }
    ct_bootstrap_manifest m;
    describe(c, &m);
    if (c->copy_id != f->id) { /* a new copy: start again */
        if (c->offset != 0) return ask(f->sock, c->copy_id, 0, &f->b);
        if (ftruncate(f->fd, 0) != 0) return CT_ERR_IO;
        f->id = c->copy_id;
        f->off = 0;
        f->m = m;
        ct_log(CT_LOG_INFO, "bootstrap: fetching a copy of the primary's store",
               "copy_id=%" PRIu64 " seq=%" PRIu64 " bytes=%" PRIu64, c->copy_id, c->seq, c->size);
    } else if (memcmp(&m, &f->m, sizeof m) != 0) {
        snprintf(msg, msglen, "the chunks of copy %" PRIu64 " describe two different copies",
                 f->id);
        return CT_ERR_BAD_VALUE;
    }
    if (c->offset != f->off) return CT_OK; /* an answer to an earlier request */
    if (c->len == 0 && f->off < c->size) return CT_ERR_BAD_VALUE;
    for (size_t w = 0; w < c->len;) {
        ssize_t n = pwrite(f->fd, c->data + w, c->len - w, (off_t)(f->off + w));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(msg, msglen, "write: %s", strerror(errno));
            return errno == ENOSPC ? CT_ERR_DISK_FULL : CT_ERR_IO;
        }
        w += (size_t)n;
    }
    if ((f->off + c->len) / PROGRESS_BYTES != f->off / PROGRESS_BYTES)
        ct_log(CT_LOG_INFO, "bootstrap: fetching",
               "copy_id=%" PRIu64 " bytes=%" PRIu64 " of=%" PRIu64, f->id, f->off + c->len,
               c->size);
    f->off += c->len;
    *done = f->off == c->size;
    return *done ? CT_OK : ask(f->sock, f->id, f->off, &f->b);
}

static ct_err run(fetch *f, char *msg, size_t msglen)
{
    ct_err e = ask(f->sock, 0, 0, &f->b);
    bool done = false;
    int silent = 0;
    while (!e && !done) {
        e = receive(f->sock, ANSWER_MS, &f->b);
        if (e == CT_ERR_TIMEOUT && ++silent < TRIES) {
            e = ask(f->sock, f->id, f->off, &f->b);
            continue;
        }
        if (e) {
            snprintf(msg, msglen, "no answer from the primary at %s", f->o->endpoint);
            break;
        }
        silent = 0;
        ct_msg_kind k;
        if ((e = ct_wire_peek_kind(f->b.data, f->b.len, &k))) break;
        if (k == CT_MSG_ERROR) {
            bool ht;
            uint64_t tok;
            uint16_t code = 0;
            ct_wire_error_decode(f->b.data, f->b.len, &ht, &tok, &code);
            snprintf(msg, msglen, "the primary refused the copy: %s", ct_err_name(code));
            return code ? (ct_err)code : CT_ERR_INTERNAL;
        }
        ct_wire_copy_chunk c;
        if ((e = ct_wire_copy_chunk_decode(f->b.data, f->b.len, &c))) {
            snprintf(msg, msglen, "a chunk from the primary does not decode: %s", ct_err_name(e));
            break;
        }
        e = on_chunk(f, &c, &done, msg, msglen);
    }
    if (!e && fsync(f->fd) != 0) e = CT_ERR_IO;
    return e;
}

ct_err ct_bootstrap_fetch(const ct_bootstrap_fetch_opts *o, bool *installed, char *msg,
                          size_t msglen)
{
    char path[4200], tmp[4096];
    struct stat sb;
    *installed = false;
    msg[0] = '\0';
    snprintf(path, sizeof path, "%s/data.mdb", o->data);
    if (stat(path, &sb) == 0) return CT_OK;
    fetch f = {.o = o, .fd = -1, .b = CT_BUF_INIT};
    void *zctx = zmq_ctx_new();
    ct_err e = zctx ? open_socket(zctx, o, &f.sock) : CT_ERR_ZMQ;
    snprintf(tmp, sizeof tmp, "%s.fetch-XXXXXX", o->data);
    bool made = !e && mkdtemp(tmp) != NULL;
    if (!e && !made) e = CT_ERR_IO;
    snprintf(path, sizeof path, "%s/data.mdb", tmp);
    if (!e && (f.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) e = CT_ERR_IO;
    if (e && !msg[0]) snprintf(msg, msglen, "cannot start the fetch: %s", ct_err_str(e));
    if (!e) e = run(&f, msg, msglen);
    if (f.fd >= 0) close(f.fd);
    if (f.sock) zmq_close(f.sock);
    if (zctx) zmq_ctx_term(zctx);
    ct_buf_free(&f.b);
    if (!e) e = ct_bootstrap_manifest_write(tmp, &f.m, msg, msglen);
    if (!e)
        e = ct_bootstrap_install(tmp, o->data, o->map_size, o->campaign, installed, msg, msglen);
    if (made) {
        unlink(path);
        snprintf(path, sizeof path, "%s/%s", tmp, CT_BOOTSTRAP_MANIFEST);
        unlink(path);
        rmdir(tmp);
    }
    return e;
}
