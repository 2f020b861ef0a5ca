/* ct_loadgen.c — ingest load generator for the benchmarks (bench/, never a test).
 *
 * N collector threads, each one ZeroMQ DEALER connected to the aggregator's
 * ingest endpoint, keep at most W events unacked (submits of at most B
 * events). Events are valid for the campaign (roster agents in their
 * district, both programs 1:2, times inside the window, some subsidy groups,
 * optional cancels of earlier sign-ups), pre-encoded as templates and patched
 * in place (event id and person hash) so generation costs almost nothing and
 * memory stays bounded however many events are sent. Each run draws fresh
 * 8-byte origins, so runs into the same store never collide.
 *
 * Measured: events/s from the moment every thread has had its warm-up event
 * acked (connections and CURVE handshakes done) until the last ack; per-event
 * ack latency (time from sending its submit to receiving the ack, in a
 * log-linear histogram, ~3% resolution); ack statuses; commits (distinct "s"
 * values in the acks: every commit appends, so its head seq is unique);
 * optionally the aggregator's CPU time (utime+stime from /proc/PID/stat) and
 * peak RSS (VmHWM), and the feed lag (SUB thread: wall clock at arrival of an
 * "upd" minus its "t" commit time, 1 ms resolution).
 *
 * --safe (a primary with followers): submits ask for the safe watermark
 * ("w": 1) and, as a collector does, a committed ack frees the window while
 * the event waits in a FIFO until an ack's "f" covers its seq ("q"); the
 * safe latency is from the send of its submit to the receipt of that ack,
 * the safe rate counts to the moment the last event became safe. At the end
 * an event already acked (the warm-up one) is resent every millisecond as a
 * probe until "f" covers everything (its duplicate acks are not counted).
 * Submits also carry "sp" (unless --no-push): the primary pushes "sf" when
 * safe moves, and an "f" pushed counts like an ack's.
 *
 * Invariants: a thread never has more than W events in flight; every event
 * id is sent once (no resend: a timeout is a failure of the run, reported);
 * one JSON line on stdout, human-readable lines on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ct_campaign.h"
#include "ct_campaign_default.h"
#include "ct_event.h"
#include "ct_keys.h"
#include "ct_wire.h"

#define N_TEMPLATES 1024
#define HBUCKETS 1600

/* ---- log-linear latency histogram (microseconds) ---- */

typedef struct {
    uint64_t b[HBUCKETS];
    uint64_t n;
    uint64_t max_us;
} hist;

static unsigned hbucket(uint64_t us)
{
    if (us < 64) return (unsigned)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= 6 */
    unsigned sub = (unsigned)((us >> (e - 5)) & 31u);
    unsigned b = 64u + (e - 6u) * 32u + sub;
    return b < HBUCKETS ? b : HBUCKETS - 1;
}

static double hbucket_mid(unsigned b)
{
    if (b < 64) return (double)b + 0.5;
    unsigned e = (b - 64u) / 32u + 6u, sub = (b - 64u) % 32u;
    double lo = (double)(1ull << e) + (double)sub * (double)(1ull << (e - 5));
    return lo + (double)(1ull << (e - 5)) / 2.0;
}

static void hist_add(hist *h, uint64_t us, uint64_t weight)
{
    h->b[hbucket(us)] += weight;
    h->n += weight;
    if (us > h->max_us) h->max_us = us;
}

static void hist_merge(hist *dst, const hist *src)
{
    for (unsigned i = 0; i < HBUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->n += src->n;
    if (src->max_us > dst->max_us) dst->max_us = src->max_us;
}

/* Returns the q-quantile in milliseconds (0 if empty). */
static double hist_q_ms(const hist *h, double q)
{
    if (!h->n) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if (rank >= h->n) rank = h->n - 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HBUCKETS; i++) {
        acc += h->b[i];
        if (acc > rank) {
            double v = hbucket_mid(i);
            return (v > (double)h->max_us ? (double)h->max_us : v) / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* utime+stime in seconds, or -1. */
static double proc_cpu_s(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    /* after ") ": field 3 is state; utime is field 14, stime 15 */
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* wchar from /proc/PID/io: bytes handed to write()/pwrite()/writev() (LMDB's
 * dirty pages + its meta page), or -1. Not write_bytes: with large page-cache
 * folios the kernel accounts a whole folio per dirtied 4 KiB page, which
 * overstated the real device writes ~10x here (checked against
 * /sys/block/vda/stat, which matched wchar). */
static double proc_write_bytes(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/io", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "wchar:", 6)) v = strtod(line + 6, NULL);
    fclose(f);
    return v;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* VmHWM in kB, or -1. pid 0 = self. */
static long proc_hwm_kb(long pid)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---- options ---- */

typedef struct {
    const char *server, *campaign, *server_key, *keys, *feed;
    size_t collectors, window, batch;
    uint64_t events; /* total, over all collectors */
    uint64_t seed;
    unsigned cancel_pct;
    long agg_pid;
    int timeout_s;
    double seconds; /* > 0: stop sending after this long (events = upper bound) */
    const char *label;
    bool safe;    /* --safe: wait for the safe watermark too */
    bool no_push; /* --no-push: no "sp", "f" from acks only */
} opts_t;

/* ---- one collector thread ---- */

typedef struct {
    uint8_t buf[CT_EVENT_MAX_BYTES];
    size_t len, id_off, person_off;
} tmpl;

typedef struct {
    uint64_t token;
    uint64_t t_ns;
    uint32_t n;
    uint64_t first_k; /* unused except for sanity */
} flight;

typedef struct {
    const opts_t *o;
    const ct_campaign *camp;
    void *zctx;
    size_t idx;
    uint64_t m;    /* events to send (measured) */
    uint64_t sent; /* events sent in the measured phase */
    pthread_barrier_t *barrier;
    char server_key[CT_Z85_KEY_LEN + 1];
    ct_keypair kp;
    bool secure;
    /* results */
    hist h;
    uint64_t accepted, duplicates, rejected, retry, acks;
    uint16_t first_reject;
    uint64_t *seqs;
    size_t nseqs, capseqs;
    uint64_t t_end_ns;
    /* --safe */
    hist hs;
    uint64_t safe_events, probes, pushes, t_safe_end_ns;
    char err[256];
    int failed;
} worker;

static bool g_person_seq; /* --person-seq: ordered person refs (experiment) */

static void person_of(uint64_t origin64, uint64_t k, uint8_t out[CT_PERSON_LEN])
{
    if (g_person_seq) {
        /* origin || k big-endian || zeros: person keys arrive in key order */
        memset(out, 0, CT_PERSON_LEN);
        for (int i = 0; i < 8; i++) {
            out[i] = (uint8_t)(origin64 >> (56 - 8 * i));
            out[8 + i] = (uint8_t)(k >> (56 - 8 * i));
        }
        return;
    }
    uint64_t x = origin64 ^ (k * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) {
        uint64_t v = splitmix(&x);
        memcpy(out + 8 * i, &v, 8);
    }
}

static const uint8_t ID_MARK[CT_EVENT_ID_LEN] = {0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0xF0, 0x0F,
                                                 0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0xF0, 0x0F};

static int make_templates(worker *w, tmpl *enr, tmpl *can, uint64_t seed)
{
    const ct_campaign *c = w->camp;
    const ct_district *d = &c->districts[w->idx % c->n_districts];
    /* agents of this district */
    size_t na = 0;
    const ct_agent *ag[512];
    for (size_t i = 0; i < c->n_agents && na < 512; i++)
        if (c->agents[i].district == d->code) ag[na++] = &c->agents[i];
    if (!na) {
        snprintf(w->err, sizeof w->err, "district %u has no agents", d->code);
        return -1;
    }
    static const char *const communes[] = {"Phường 1",  "Xã Tà Nung",      "Thị trấn Nam Ban",
                                           "Xã Đạ Sar", "Phường Lộc Phát", ""};
    uint64_t x = seed;
    uint8_t pmark[CT_PERSON_LEN];
    for (size_t i = 0; i < CT_PERSON_LEN; i++)
        pmark[i] = (uint8_t)(0x5C ^ (i * 37u));
    int64_t span = c->end_ms - c->start_ms;
    for (size_t t = 0; t < N_TEMPLATES; t++) {
        for (int kind = 0; kind < 2; kind++) {
            ct_event ev;
            memset(&ev, 0, sizeof ev);
            memcpy(ev.id, ID_MARK, CT_EVENT_ID_LEN);
            memcpy(ev.person, pmark, CT_PERSON_LEN);
            snprintf(ev.campaign, sizeof ev.campaign, "%s", c->id);
            ev.district = d->code;
            const ct_agent *a = ag[t % na];
            snprintf(ev.agent, sizeof ev.agent, "%s", a->id);
            ev.program = (t % 3 == 0) ? CT_PROGRAM_BHXH_TN : CT_PROGRAM_BHYT_HGD;
            ev.action = kind ? CT_ACTION_CANCEL : CT_ACTION_ENROLL;
            /* times spread over the window, in order of the template index */
            ev.occurred_ms = c->start_ms +
                             (int64_t)((double)span * ((double)t + 0.5) / (double)N_TEMPLATES) +
                             (kind ? 60000 : 0);
            if (ev.occurred_ms >= c->end_ms) ev.occurred_ms = c->end_ms - 1;
            const char *cm = communes[splitmix(&x) % 6];
            snprintf(ev.commune, sizeof ev.commune, "%s", cm);
            if (!kind && ev.program == CT_PROGRAM_BHXH_TN) {
                ev.has_months = true;
                ev.months = 12;
                ev.has_amount = true;
                ev.amount_vnd = 1980000;
            }
            if (!kind && t % 5 == 0 && c->n_groups)
                snprintf(ev.group, sizeof ev.group, "%s", c->groups[t % c->n_groups].id);
            ct_buf b = CT_BUF_INIT;
            ct_err e = ct_event_encode(&ev, &b);
            tmpl *tp = kind ? &can[t] : &enr[t];
            if (e || b.len > sizeof tp->buf) {
                snprintf(w->err, sizeof w->err, "encode template: %s", ct_err_str(e));
                ct_buf_free(&b);
                return -1;
            }
            memcpy(tp->buf, b.data, b.len);
            tp->len = b.len;
            ct_buf_free(&b);
            uint8_t *p = memmem(tp->buf, tp->len, ID_MARK, CT_EVENT_ID_LEN);
            uint8_t *q = memmem(tp->buf, tp->len, pmark, CT_PERSON_LEN);
            if (!p || !q) {
                snprintf(w->err, sizeof w->err, "template markers not found");
                return -1;
            }
            tp->id_off = (size_t)(p - tp->buf);
            tp->person_off = (size_t)(q - tp->buf);
        }
    }
    return 0;
}

static int setup_socket(worker *w, void *s, size_t window, size_t batch)
{
    int zero = 0;
    int hwm = (int)(window / (batch ? batch : 1) + 64);
    int64_t maxmsg = CT_WIRE_MAX_FRAME;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg))
        return -1;
    if (w->secure) {
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, w->server_key, CT_Z85_KEY_LEN + 1) ||
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, w->kp.public_z85, CT_Z85_KEY_LEN + 1) ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, w->kp.secret_z85, CT_Z85_KEY_LEN + 1))
            return -1;
    }
    return 0;
}

typedef struct {
    void *sock;
    tmpl *enr, *can;
    uint64_t origin64;
    uint8_t origin[CT_ORIGIN_LEN];
    uint8_t *scratch; /* batch * CT_EVENT_MAX_BYTES */
    ct_bytes *evs;
    ct_buf out;
    flight *fl;
    size_t fl_cap;
    uint64_t next_token;
    ct_ack_item *items;
    /* --safe: submits committed, not yet safe (FIFO ring) */
    struct pend {
        uint64_t q, t_ns;
        uint32_t n;
    } * pend;
    size_t pcap, phead, pcount;
    uint64_t probe_token; /* a probe in flight (0 = none) */
} wstate;

/* Builds event k (1-based) into slot i of the scratch area. */
static void build_event(worker *w, wstate *s, uint64_t k, size_t i)
{
    const tmpl *t;
    uint8_t person[CT_PERSON_LEN];
    uint64_t r = k * 0x9E3779B97F4A7C15ull;
    bool cancel = w->o->cancel_pct && k > 64 && ((r >> 40) % 100) < w->o->cancel_pct;
    if (cancel) {
        uint64_t j = k - 17; /* an earlier event of this thread, probably committed */
        t = &s->can[j % N_TEMPLATES];
        person_of(s->origin64, j, person);
    } else {
        t = &s->enr[k % N_TEMPLATES];
        person_of(s->origin64, k, person);
    }
    uint8_t *dst = s->scratch + i * CT_EVENT_MAX_BYTES;
    memcpy(dst, t->buf, t->len);
    ct_event_id_make(dst + t->id_off, s->origin, k);
    memcpy(dst + t->person_off, person, CT_PERSON_LEN);
    s->evs[i].data = dst;
    s->evs[i].len = t->len;
}

static int send_sub(worker *w, wstate *s, uint64_t k0, size_t n)
{
    for (size_t i = 0; i < n; i++)
        build_event(w, s, k0 + i, i);
    uint64_t token = ++s->next_token;
    ct_buf_reset(&s->out);
    ct_err e = ct_wire_submit_encode_sp(token, s->evs, n, w->o->safe, 0,
                                        w->o->safe && !w->o->no_push, &s->out);
    if (e) {
        snprintf(w->err, sizeof w->err, "submit encode: %s", ct_err_str(e));
        return -1;
    }
    flight *f = &s->fl[token % s->fl_cap];
    f->token = token;
    f->n = (uint32_t)n;
    f->first_k = k0;
    f->t_ns = now_ns();
    if (zmq_send(s->sock, s->out.data, s->out.len, 0) < 0) {
        snprintf(w->err, sizeof w->err, "send: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* --safe: the submits waiting in the FIFO that safe now covers became safe
 * at t. */
static void safe_reached(worker *w, wstate *s, uint64_t safe, uint64_t t)
{
    while (s->pcount && s->pend[s->phead].q <= safe) {
        struct pend *pe = &s->pend[s->phead];
        hist_add(&w->hs, (t - pe->t_ns) / 1000u, pe->n);
        w->safe_events += pe->n;
        w->t_safe_end_ns = t;
        s->phead = (s->phead + 1) % s->pcap;
        s->pcount--;
    }
}

/* Handles one reply; returns events settled, or -1 on a fatal reply. */
static long handle_reply(worker *w, wstate *s, const uint8_t *buf, size_t len, bool record)
{
    ct_msg_kind kind;
    ct_err e = ct_wire_peek_kind(buf, len, &kind);
    if (e) {
        snprintf(w->err, sizeof w->err, "bad reply: %s", ct_err_str(e));
        return -1;
    }
    if (kind == CT_MSG_ERROR) {
        bool ht = false;
        uint64_t tok = 0;
        uint16_t code = 0;
        ct_wire_error_decode(buf, len, &ht, &tok, &code);
        snprintf(w->err, sizeof w->err, "aggregator refused a submit: %s",
                 ct_err_str((ct_err)code));
        return -1;
    }
    if (kind == CT_MSG_SAFE_PUSH) {
        uint64_t committed = 0, safe = 0, epoch = 0;
        e = ct_wire_safe_push_decode(buf, len, &committed, &safe, &epoch);
        if (e) {
            snprintf(w->err, sizeof w->err, "sf decode: %s", ct_err_str(e));
            return -1;
        }
        w->pushes++;
        if (w->o->safe) safe_reached(w, s, safe, now_ns());
        return 0;
    }
    uint64_t token = 0, seq = 0, safe = 0;
    bool has_safe = false;
    size_t n = 0;
    e = ct_wire_ack_decode_wm(buf, len, &token, &seq, &has_safe, &safe, s->items,
                              CT_WIRE_MAX_EVENTS, &n);
    if (e) {
        snprintf(w->err, sizeof w->err, "ack decode: %s", ct_err_str(e));
        return -1;
    }
    if (w->o->safe) {
        if (has_safe) safe_reached(w, s, safe, now_ns());
        if (token == s->probe_token) { /* a probe: not an event of the run */
            s->probe_token = 0;
            return 0;
        }
    }
    flight *f = &s->fl[token % s->fl_cap];
    if (f->token != token || f->n != n) {
        snprintf(w->err, sizeof w->err, "ack for unknown token %" PRIu64, token);
        return -1;
    }
    uint64_t t = now_ns();
    f->token = 0;
    if (w->o->safe && record) { /* wait for "f" to cover the highest "q" */
        uint64_t q = 0;
        for (size_t i = 0; i < n; i++)
            if (s->items[i].seq > q) q = s->items[i].seq;
        if (has_safe && q <= safe) {
            hist_add(&w->hs, (t - f->t_ns) / 1000u, n);
            w->safe_events += n;
            w->t_safe_end_ns = t;
        } else {
            if (s->pcount == s->pcap) {
                snprintf(w->err, sizeof w->err, "safe FIFO full");
                return -1;
            }
            s->pend[(s->phead + s->pcount) % s->pcap] =
                (struct pend){.q = q, .t_ns = f->t_ns, .n = f->n};
            s->pcount++;
        }
    }
    if (record) {
        hist_add(&w->h, (t - f->t_ns) / 1000u, n);
        w->acks++;
        if (w->nseqs == w->capseqs) {
            size_t nc = w->capseqs ? 2 * w->capseqs : 1024;
            uint64_t *ns = realloc(w->seqs, nc * sizeof *ns);
            if (!ns) {
                snprintf(w->err, sizeof w->err, "out of memory");
                return -1;
            }
            w->seqs = ns;
            w->capseqs = nc;
        }
        w->seqs[w->nseqs++] = seq;
        w->t_end_ns = t;
    }
    for (size_t i = 0; i < n && record; i++) {
        switch (s->items[i].status) {
        case CT_ACK_ACCEPTED:
            w->accepted++;
            break;
        case CT_ACK_DUPLICATE:
            w->duplicates++;
            break;
        case CT_ACK_RETRY:
            w->retry++;
            break;
        default:
            if (!w->rejected) w->first_reject = s->items[i].code;
            w->rejected++;
            break;
        }
    }
    return (long)n;
}

/* Waits for replies until at least one arrived (or timeout); drains all. */
static long recv_some(worker *w, wstate *s, bool record)
{
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, (long)w->o->timeout_s * 1000);
    if (rc < 0) {
        if (errno == EINTR) return 0;
        snprintf(w->err, sizeof w->err, "poll: %s", zmq_strerror(errno));
        return -1;
    }
    if (rc == 0) {
        snprintf(w->err, sizeof w->err, "no ack for %d s", w->o->timeout_s);
        return -1;
    }
    long settled = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        long r = handle_reply(w, s, zmq_msg_data(&m), zmq_msg_size(&m), record);
        zmq_msg_close(&m);
        if (r < 0) return -1;
        settled += r;
    }
    return settled;
}

/* --safe, at the end: resends the warm-up event (acked long ago: a
 * duplicate) so that acks bring "f" until every event is safe. */
static int probe_safe(worker *w, wstate *s)
{
    while (s->pcount) {
        if (!s->probe_token) {
            build_event(w, s, 1, 0);
            uint64_t token = ++s->next_token;
            ct_buf_reset(&s->out);
            if (ct_wire_submit_encode_sp(token, s->evs, 1, true, 0, !w->o->no_push, &s->out) !=
                    CT_OK ||
                zmq_send(s->sock, s->out.data, s->out.len, 0) < 0) {
                snprintf(w->err, sizeof w->err, "probe send failed");
                return -1;
            }
            s->probe_token = token;
            w->probes++;
        }
        if (recv_some(w, s, false) < 0) return -1;
        if (s->pcount && !s->probe_token) usleep(1000);
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const opts_t *o = w->o;
    wstate s;
    memset(&s, 0, sizeof s);
    size_t batch = o->batch < o->window ? o->batch : o->window;
    uint64_t x = o->seed ^ (uint64_t)wall_us() ^ ((uint64_t)w->idx << 48) ^ (uint64_t)getpid();
    s.origin64 = splitmix(&x);
    memcpy(s.origin, &s.origin64, CT_ORIGIN_LEN);
    s.enr = calloc(N_TEMPLATES, sizeof *s.enr);
    s.can = calloc(N_TEMPLATES, sizeof *s.can);
    s.scratch = malloc(batch * CT_EVENT_MAX_BYTES);
    s.evs = calloc(batch, sizeof *s.evs);
    s.fl_cap = o->window + 2;
    s.fl = calloc(s.fl_cap, sizeof *s.fl);
    s.items = calloc(CT_WIRE_MAX_EVENTS, sizeof *s.items);
    s.pcap = (size_t)(w->m / (batch ? batch : 1)) + o->window + 16;
    s.pend = calloc(s.pcap, sizeof *s.pend);
    bool at_barrier = false;
    if (!s.enr || !s.can || !s.scratch || !s.evs || !s.fl || !s.items || !s.pend) {
        snprintf(w->err, sizeof w->err, "out of memory");
        goto fail;
    }
    if (make_templates(w, s.enr, s.can, o->seed + w->idx) != 0) goto fail;
    s.sock = zmq_socket(w->zctx, ZMQ_DEALER);
    if (!s.sock || setup_socket(w, s.sock, o->window, batch) != 0 ||
        zmq_connect(s.sock, o->server) != 0) {
        snprintf(w->err, sizeof w->err, "socket/connect %s: %s", o->server, zmq_strerror(errno));
        goto fail;
    }
    /* warm-up: one event, acked, not measured (connection + handshake) */
    if (send_sub(w, &s, 1, 1) != 0) goto fail;
    for (long got = 0; got < 1;) {
        long r = recv_some(w, &s, false);
        if (r < 0) goto fail;
        got += r;
    }
    pthread_barrier_wait(w->barrier);
    at_barrier = true;
    uint64_t next_k = 2, end_k = 2 + w->m, inflight = 0;
    uint64_t deadline = o->seconds > 0 ? now_ns() + (uint64_t)(o->seconds * 1e9) : 0;
    while (next_k < end_k || inflight > 0) {
        if (deadline && next_k < end_k && now_ns() >= deadline) end_k = next_k;
        while (next_k < end_k && inflight < o->window) {
            uint64_t n = o->window - inflight;
            if (n > batch) n = batch;
            if (n > end_k - next_k) n = end_k - next_k;
            if (send_sub(w, &s, next_k, (size_t)n) != 0) goto fail;
            next_k += n;
            inflight += n;
            w->sent += n;
        }
        if (inflight == 0) continue; /* deadline reached with nothing in flight */
        long r = recv_some(w, &s, true);
        if (r < 0) goto fail;
        inflight -= (uint64_t)r;
    }
    if (o->safe && probe_safe(w, &s) != 0) goto fail;
    goto done;
fail:
    w->failed = 1;
    if (!at_barrier) pthread_barrier_wait(w->barrier);
done:
    if (s.sock) zmq_close(s.sock);
    free(s.enr);
    free(s.can);
    free(s.scratch);
    free(s.evs);
    free(s.fl);
    free(s.items);
    free(s.pend);
    ct_buf_free(&s.out);
    return NULL;
}

/* ---- feed lag thread ---- */

typedef struct {
    const opts_t *o;
    void *zctx;
    char server_key[CT_Z85_KEY_LEN + 1];
    ct_keypair kp;
    bool secure;
    atomic_int measuring; /* 1 while the measured phase runs */
    atomic_int stop;
    atomic_int ready;
    hist h;
    uint64_t updates, gaps, hbs;
    char err[256];
} feeder;

static void *feed_main(void *arg)
{
    feeder *f = arg;
    void *s = zmq_socket(f->zctx, ZMQ_SUB);
    int zero = 0, hwm = 100000, to = 100;
    int64_t maxmsg = CT_WIRE_MAX_FRAME;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof to) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0)) {
        snprintf(f->err, sizeof f->err, "feed socket: %s", zmq_strerror(errno));
        atomic_store(&f->ready, 1);
        if (s) zmq_close(s);
        return NULL;
    }
    if (f->secure) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, f->server_key, CT_Z85_KEY_LEN + 1);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, f->kp.public_z85, CT_Z85_KEY_LEN + 1);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, f->kp.secret_z85, CT_Z85_KEY_LEN + 1);
    }
    if (zmq_connect(s, f->o->feed) != 0) {
        snprintf(f->err, sizeof f->err, "feed connect: %s", zmq_strerror(errno));
        atomic_store(&f->ready, 1);
        zmq_close(s);
        return NULL;
    }
    uint64_t last = 0;
    bool have_last = false;
    while (!atomic_load(&f->stop)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        int64_t arr = wall_us();
        ct_wire_state st;
        memset(&st, 0, sizeof st);
        if (ct_wire_state_decode(zmq_msg_data(&m), zmq_msg_size(&m), &st) == CT_OK) {
            if (st.kind == CT_MSG_HEARTBEAT) {
                f->hbs++;
                atomic_store(&f->ready, 1);
            } else if (st.kind == CT_MSG_UPDATE) {
                atomic_store(&f->ready, 1);
                if (have_last && st.prev_seq != last) f->gaps++;
                if (atomic_load(&f->measuring)) {
                    int64_t lag = arr - st.time_ms * 1000;
                    hist_add(&f->h, lag > 0 ? (uint64_t)lag : 0, 1);
                    f->updates++;
                }
            }
            if (st.kind == CT_MSG_UPDATE || st.kind == CT_MSG_HEARTBEAT) {
                last = st.seq;
                have_last = true;
            }
            ct_wire_state_free(&st);
        }
        zmq_msg_close(&m);
    }
    zmq_close(s);
    return NULL;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: ct_loadgen --server EP [options]\n"
               "Ingest load generator (bench only): N DEALER collectors, window W events\n"
               "unacked each, submits of <= B events; prints one JSON line on stdout.\n"
               "  --server EP          aggregator ingest endpoint            [required]\n"
               "  --collectors N       concurrent collectors (default 1)\n"
               "  --window W           unacked events per collector (default 1000)\n"
               "  --batch B            events per submit (default 256, <= 4096)\n"
               "  --events M           measured events in total (default 100000)\n"
               "  --seconds S          stop sending after S s (then --events is an upper bound)\n"
               "  --cancel-pct P       percent of events that cancel an earlier one (default 0)\n"
               "  --campaign FILE      campaign (default: built-in lamdong-2023)\n"
               "  --server-key F --keys F   CURVE: aggregator .pub and this client's .key\n"
               "                       (the key must be an admin in the aggregator's --auth)\n"
               "  --agg-pid PID        measure the aggregator's CPU time and VmHWM\n"
               "  --feed EP            also measure feed lag (SUB on the aggregator's feed)\n"
               "  --seed S             template seed (default 1); origins are fresh per run\n"
               "  --timeout SEC        fail if no ack for SEC (default 60)\n"
               "  --label TEXT         copied into the JSON\n"
               "  --safe               ask for the safe watermark (\"w\"); also measure when each\n"
               "                       event became safe (a primary with --sync-followers)\n"
               "  --no-push            with --safe: no \"sp\" (learn \"f\" from acks only)\n"
               "  --person-seq         EXPERIMENT: person refs in key order instead of hashes\n"
               "                       (shows what the random person index costs)\n");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    o.collectors = 1;
    o.window = 1000;
    o.batch = 256;
    o.events = 100000;
    o.seed = 1;
    o.timeout_s = 60;
    o.label = "";
    static const struct option lo[] = {{"server", 1, 0, 's'},     {"collectors", 1, 0, 'n'},
                                       {"window", 1, 0, 'w'},     {"batch", 1, 0, 'b'},
                                       {"events", 1, 0, 'm'},     {"cancel-pct", 1, 0, 'c'},
                                       {"campaign", 1, 0, 'C'},   {"server-key", 1, 0, 'K'},
                                       {"keys", 1, 0, 'k'},       {"agg-pid", 1, 0, 'p'},
                                       {"feed", 1, 0, 'f'},       {"seed", 1, 0, 'S'},
                                       {"timeout", 1, 0, 't'},    {"label", 1, 0, 'l'},
                                       {"help", 0, 0, 'h'},       {"seconds", 1, 0, 'T'},
                                       {"person-seq", 0, 0, 'P'}, {"safe", 0, 0, 'W'},
                                       {"no-push", 0, 0, 'N'},    {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            o.server = optarg;
            break;
        case 'n':
            o.collectors = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            o.window = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            o.batch = strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o.events = strtoull(optarg, NULL, 10);
            break;
        case 'c':
            o.cancel_pct = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'C':
            o.campaign = optarg;
            break;
        case 'K':
            o.server_key = optarg;
            break;
        case 'k':
            o.keys = optarg;
            break;
        case 'p':
            o.agg_pid = strtol(optarg, NULL, 10);
            break;
        case 'f':
            o.feed = optarg;
            break;
        case 'S':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        case 't':
            o.timeout_s = (int)strtol(optarg, NULL, 10);
            break;
        case 'l':
            o.label = optarg;
            break;
        case 'T':
            o.seconds = strtod(optarg, NULL);
            break;
        case 'P':
            g_person_seq = true;
            break;
        case 'W':
            o.safe = true;
            break;
        case 'N':
            o.no_push = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o.server || !o.collectors || o.collectors > 1024 || !o.window || !o.batch ||
        o.batch > CT_WIRE_MAX_EVENTS || !o.events || o.cancel_pct > 50 ||
        (!o.server_key != !o.keys) || o.timeout_s <= 0) {
        usage(stderr);
        return 2;
    }
    char err[512] = "";
    ct_campaign camp;
    if (ct_crypto_init() != CT_OK || ct_campaign_load_arg(o.campaign, &camp, err, sizeof err)) {
        fprintf(stderr, "ct_loadgen: %s\n", err);
        return 2;
    }
    bool secure = o.server_key != NULL;
    char skey[CT_Z85_KEY_LEN + 1] = "";
    ct_keypair kp;
    memset(&kp, 0, sizeof kp);
    if (secure && (ct_public_key_load(o.server_key, skey, err, sizeof err) ||
                   ct_keypair_load(o.keys, &kp, err, sizeof err))) {
        fprintf(stderr, "ct_loadgen: %s\n", err);
        ct_campaign_free(&camp);
        return 2;
    }
    void *zctx = zmq_ctx_new();
    zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, 4096);

    feeder *fd = NULL;
    pthread_t fth;
    if (o.feed) {
        fd = calloc(1, sizeof *fd);
        if (!fd) return 1;
        fd->o = &o;
        fd->zctx = zctx;
        fd->secure = secure;
        memcpy(fd->server_key, skey, sizeof skey);
        fd->kp = kp;
        pthread_create(&fth, NULL, feed_main, fd);
        /* subscribed once a heartbeat (<= 1 s) or update arrived */
        for (int i = 0; i < 300 && !atomic_load(&fd->ready); i++)
            usleep(10000);
    }

    worker *ws = calloc(o.collectors, sizeof *ws);
    pthread_t *th = calloc(o.collectors, sizeof *th);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)o.collectors + 1);
    for (size_t i = 0; i < o.collectors; i++) {
        worker *w = &ws[i];
        w->o = &o;
        w->camp = &camp;
        w->zctx = zctx;
        w->idx = i;
        w->m = o.events / o.collectors + (i < o.events % o.collectors ? 1 : 0);
        w->barrier = &bar;
        w->secure = secure;
        memcpy(w->server_key, skey, sizeof skey);
        w->kp = kp;
        pthread_create(&th[i], NULL, worker_main, w);
    }
    pthread_barrier_wait(&bar);
    double cpu0 = o.agg_pid ? proc_cpu_s(o.agg_pid) : -1;
    double wb0 = o.agg_pid ? proc_write_bytes(o.agg_pid) : -1;
    double lc0 = self_cpu_s();
    uint64_t t0 = now_ns();
    if (fd) atomic_store(&fd->measuring, 1);
    for (size_t i = 0; i < o.collectors; i++)
        pthread_join(th[i], NULL);
    uint64_t t1 = now_ns();
    double cpu1 = o.agg_pid ? proc_cpu_s(o.agg_pid) : -1;
    double wb1 = o.agg_pid ? proc_write_bytes(o.agg_pid) : -1;
    double lc1 = self_cpu_s();
    if (fd) {
        usleep(200000); /* let the last updates arrive */
        atomic_store(&fd->measuring, 0);
        atomic_store(&fd->stop, 1);
        pthread_join(fth, NULL);
    }

    hist h, hs;
    memset(&h, 0, sizeof h);
    memset(&hs, 0, sizeof hs);
    uint64_t acc = 0, dup = 0, rej = 0, retry = 0, acks = 0, sent = 0, safe_ev = 0, probes = 0,
             pushes = 0;
    uint64_t t_safe = t0;
    int failed = 0;
    size_t nseq = 0;
    for (size_t i = 0; i < o.collectors; i++) {
        worker *w = &ws[i];
        hist_merge(&h, &w->h);
        hist_merge(&hs, &w->hs);
        safe_ev += w->safe_events;
        probes += w->probes;
        pushes += w->pushes;
        if (w->t_safe_end_ns > t_safe) t_safe = w->t_safe_end_ns;
        acc += w->accepted;
        dup += w->duplicates;
        rej += w->rejected;
        retry += w->retry;
        acks += w->acks;
        sent += w->sent;
        nseq += w->nseqs;
        if (w->failed) {
            failed++;
            fprintf(stderr, "ct_loadgen: collector %zu: %s\n", i, w->err);
        }
        if (w->rejected)
            fprintf(stderr, "ct_loadgen: collector %zu: %" PRIu64 " rejected, first: %s\n", i,
                    w->rejected, ct_err_str((ct_err)w->first_reject));
    }
    /* commits seen = distinct head seqs in the acks of the measured phase */
    uint64_t *all = malloc((nseq ? nseq : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < o.collectors; i++) {
        memcpy(all + k, ws[i].seqs, ws[i].nseqs * sizeof *all);
        k += ws[i].nseqs;
    }
    qsort(all, nseq, sizeof *all, cmp_u64);
    uint64_t commits = 0;
    for (size_t i = 0; i < nseq; i++)
        if (i == 0 || all[i] != all[i - 1]) commits++;
    free(all);

    double secs = (double)(t1 - t0) / 1e9;
    uint64_t done = acc + dup + rej + retry;
    double rate = secs > 0 ? (double)done / secs : 0;
    double agg_cpu = (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1;
    long agg_hwm = o.agg_pid ? proc_hwm_kb(o.agg_pid) : -1;
    long self_hwm = proc_hwm_kb(0);
    printf("{\"label\":\"%s\",\"collectors\":%zu,\"window\":%zu,\"batch\":%zu,\"events\":%" PRIu64
           ",\"secure\":%s,\"secs\":%.4f,\"events_per_s\":%.1f,\"lat_p50_ms\":%.3f,"
           "\"lat_p99_ms\":%.3f,\"lat_p999_ms\":%.3f,\"lat_max_ms\":%.3f,\"accepted\":%" PRIu64
           ",\"duplicates\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"retry\":%" PRIu64
           ",\"acks\":%" PRIu64 ",\"commits\":%" PRIu64
           ",\"batch_avg\":%.1f,\"commits_per_s\":%.1f,"
           "\"agg_cpu_s\":%.3f,\"agg_cpu_us_per_event\":%.3f,\"agg_hwm_kb\":%ld,"
           "\"loadgen_hwm_kb\":%ld,\"agg_write_bytes_per_event\":%.0f,\"loadgen_cpu_us_per_event\":"
           "%.3f,"
           "\"failed_collectors\":%d",
           o.label, o.collectors, o.window, o.batch < o.window ? o.batch : o.window, sent,
           secure ? "true" : "false", secs, rate, hist_q_ms(&h, 0.5), hist_q_ms(&h, 0.99),
           hist_q_ms(&h, 0.999), (double)h.max_us / 1000.0, acc, dup, rej, retry, acks, commits,
           commits ? (double)done / (double)commits : 0.0, secs > 0 ? (double)commits / secs : 0.0,
           agg_cpu, agg_cpu >= 0 && done ? agg_cpu * 1e6 / (double)done : -1.0, agg_hwm, self_hwm,
           wb0 >= 0 && wb1 >= 0 && done ? (wb1 - wb0) / (double)done : -1.0,
           done ? (lc1 - lc0) * 1e6 / (double)done : -1.0, failed);
    if (fd)
        printf(",\"feed_updates\":%" PRIu64 ",\"feed_gaps\":%" PRIu64 ",\"feed_lag_p50_ms\":%.3f,"
               "\"feed_lag_p99_ms\":%.3f,\"feed_lag_max_ms\":%.3f%s%s%s",
               fd->updates, fd->gaps, hist_q_ms(&fd->h, 0.5), hist_q_ms(&fd->h, 0.99),
               (double)fd->h.max_us / 1000.0, fd->err[0] ? ",\"feed_error\":\"" : "", fd->err,
               fd->err[0] ? "\"" : "");
    if (o.safe) {
        double ss = (double)(t_safe - t0) / 1e9;
        printf(",\"safe_events\":%" PRIu64 ",\"safe_secs\":%.4f,\"safe_events_per_s\":%.1f,"
               "\"safe_p50_ms\":%.3f,\"safe_p99_ms\":%.3f,\"safe_p999_ms\":%.3f,\"probes\":%" PRIu64
               ",\"pushes\":%" PRIu64,
               safe_ev, ss, ss > 0 ? (double)safe_ev / ss : 0.0, hist_q_ms(&hs, 0.5),
               hist_q_ms(&hs, 0.99), hist_q_ms(&hs, 0.999), probes, pushes);
    }
    printf("}\n");
    fprintf(stderr,
            "ct_loadgen: %zux%zu %" PRIu64 " events in %.3f s = %.0f ev/s; ack p50 %.3f p99 %.3f "
            "p999 %.3f ms; commits %" PRIu64 " (avg batch %.1f)\n",
            o.collectors, o.window, done, secs, rate, hist_q_ms(&h, 0.5), hist_q_ms(&h, 0.99),
            hist_q_ms(&h, 0.999), commits, commits ? (double)done / (double)commits : 0.0);
    for (size_t i = 0; i < o.collectors; i++)
        free(ws[i].seqs);
    free(ws);
    free(th);
    free(fd);
    pthread_barrier_destroy(&bar);
    zmq_ctx_term(zctx);
    ct_campaign_free(&camp);
    int bad = failed || rej || retry || done != sent || (o.safe && safe_ev != done);
    return bad ? 1 : 0;
}
