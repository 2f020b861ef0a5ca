/* ct_cmd_deliver.c — the commands that talk to the aggregator: run (deliver
 * the outbox) and status (the outbox's counters, optionally a handshake
 * probe). One `run` per outbox: it holds an exclusive flock on DIR/run.lock
 * while it delivers; a second `run --once` watches the first drain the
 * outbox instead. Each command owns its ZeroMQ context and wipes the secret
 * key it loaded before returning. */
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "ct_commands.h"
#include "ct_deliver.h"
#include "ct_log.h"
#include "ct_notify.h"
#include "ct_text.h"
#include "ct_time.h"

_Static_assert(CT_DELIVER_MAX_ENDPOINTS >= CT_OPT_LIST_MAX, "one server key per --server");

ct_err ct_collector_client_keys(ct_collector *s, const ct_collector_cfg *c, ct_deliver_opts *o)
{
    if (c->insecure && (c->keys || c->server_keys.n))
        return ct_collector_usage(s, "--insecure cannot be combined with --keys/--server-key");
    if (!c->insecure && (!c->keys || !c->server_keys.n))
        return ct_collector_usage(s, "CurveZMQ needs --keys FILE (this office's .key) and "
                                     "--server-key FILE (the aggregator's .pub); or --insecure");
    if (c->server_keys.n > 1 && c->server_keys.n != c->servers.n)
        return ct_collector_usage(s,
                                  "give one --server-key for every --server, or one per --server "
                                  "in the same order (%zu keys for %zu servers)",
                                  c->server_keys.n, c->servers.n);
    if (c->insecure) {
        o->secure = false;
        ct_log(CT_LOG_WARN, "INSECURE: plaintext connection, no authentication (--insecure)",
               "server=%s", CT_LOG_Q(c->servers.n ? c->servers.v[0] : "-"));
        return CT_OK;
    }
    char msg[512];
    ct_keypair kp;
    ct_err e = ct_keypair_load(c->keys, &kp, msg, sizeof msg);
    if (e != CT_OK) {
        sodium_memzero(&kp, sizeof kp);
        return ct_collector_fail(s, CT_ERR_CONFIG, "%s", msg[0] ? msg : ct_err_str(e));
    }
    e = ct_public_key_load(c->server_keys.v[0], o->server_key, msg, sizeof msg);
    for (size_t i = 0; e == CT_OK && c->server_keys.n > 1 && i < c->server_keys.n; i++)
        e = ct_public_key_load(c->server_keys.v[i], o->server_keys[i], msg, sizeof msg);
    if (e == CT_OK) {
        o->n_server_keys = c->server_keys.n > 1 ? c->server_keys.n : 0;
        memcpy(o->public_key, kp.public_z85, sizeof o->public_key);
        memcpy(o->secret_key, kp.secret_z85, sizeof o->secret_key);
        o->secure = true;
    }
    sodium_memzero(&kp, sizeof kp);
    if (e != CT_OK) return ct_collector_fail(s, CT_ERR_CONFIG, "%s", msg[0] ? msg : ct_err_str(e));
    return CT_OK;
}

/* The closing line of `run --once`: what this command saw delivered
 * (removed from the outbox as acked) and what the outbox still holds, of it
 * committed at HQ but not yet safe. Warns when something remains. */
static void once_closing_line(ct_collector *s, uint64_t delivered_before, const char *how)
{
    ct_outbox_info in;
    if (ct_outbox_get_info(s->ob, &in) != CT_OK) {
        ct_log(CT_LOG_WARN, "run --once finished; cannot read the outbox", "outbox=%s detail=%s",
               CT_LOG_Q(s->dir), CT_LOG_Q(ct_outbox_errmsg(s->ob)));
        return;
    }
    uint64_t delivered = in.delivered >= delivered_before ? in.delivered - delivered_before : 0;
    ct_log(in.queued ? CT_LOG_WARN : CT_LOG_INFO,
           in.queued ? "run --once finished with events still in the outbox"
                     : "run --once finished: outbox empty",
           "outbox=%s by=%s delivered=%" PRIu64 " remaining=%" PRIu64 " unsafe=%" PRIu64,
           CT_LOG_Q(s->dir), how, delivered, in.queued, in.committed);
}

/* run --once while another run delivers this outbox: watch it drain. */
static ct_err wait_drained(ct_collector *s, const ct_collector_cfg *c)
{
    ct_log(CT_LOG_INFO, "another run is delivering this outbox; waiting for it to drain",
           "outbox=%s", CT_LOG_Q(s->dir));
    int64_t last_change = ct_monotonic_ms();
    uint64_t last_queued = UINT64_MAX;
    int64_t last_ack = -1;
    while (!(c->stop && *c->stop)) {
        ct_outbox_info in;
        ct_err e = ct_outbox_get_info(s->ob, &in);
        if (e != CT_OK) return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
        if (in.queued == 0) {
            once_closing_line(s, s->info.delivered, "another-run");
            return CT_OK;
        }
        int64_t now = ct_monotonic_ms();
        if (in.queued != last_queued || in.last_ack_ms != last_ack) {
            last_queued = in.queued;
            last_ack = in.last_ack_ms;
            last_change = now;
        } else if (c->give_up_s > 0 && now - last_change > c->give_up_s * 1000) {
            return ct_collector_fail(s, CT_ERR_TIMEOUT,
                                     "run: outbox %s is not draining (%" PRIu64
                                     " queued, no ack for %" PRId64
                                     " s; see the delivering run's log)",
                                     s->dir, in.queued, c->give_up_s);
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return CT_ERR_TIMEOUT;
}

ct_err ct_collector_cmd_run(ct_collector *s, const ct_collector_cfg *c)
{
    if (!s->info.initialised)
        return ct_collector_fail(s, CT_ERR_CONFIG, "outbox %s is not initialised (run init first)",
                                 s->dir);
    if (!c->servers.n) return ct_collector_usage(s, "run needs --server ENDPOINT");
    ct_deliver_opts o;
    ct_deliver_opts_default(&o);
    o.endpoint = c->servers.v[0];
    if (c->servers.n > 1) {
        o.endpoints = c->servers.v;
        o.n_endpoints = c->servers.n;
    }
    o.once = c->once;
    o.stop = c->stop;
    o.window = (size_t)c->window;
    o.batch = (size_t)c->batch;
    o.give_up_s = (int)c->give_up_s;
    o.resend_ms = c->resend_ms;
    if (o.resend_max_ms < o.resend_ms) o.resend_max_ms = o.resend_ms;
    o.stats_interval_s = (int)c->stats_interval_s;
    o.telemetry_s = (int)c->telemetry_s;
    ct_err e = ct_collector_client_keys(s, c, &o);
    if (e != CT_OK) return e;
    ct_collector_conflicts_log(s); /* conflicts left from earlier runs */
    int lfd;
    e = ct_collector_run_lock(s, &lfd);
    if (e != CT_OK) {
        sodium_memzero(o.secret_key, sizeof o.secret_key);
        if (!o.once)
            return ct_collector_fail(s, CT_ERR_CONFIG,
                                     "another `run` is already delivering outbox %s", s->dir);
        return wait_drained(s, c);
    }
    void *zctx = zmq_ctx_new();
    if (!zctx) {
        close(lfd);
        sodium_memzero(o.secret_key, sizeof o.secret_key);
        return ct_collector_fail(s, CT_ERR_ZMQ, "cannot create ZeroMQ context");
    }
    ct_deliver_stats st;
    char msg[512];
    if (!o.once) ct_notify_ready("delivering the outbox");
    e = ct_deliver_run(s->ob, zctx, &o, &st, msg, sizeof msg);
    if (!o.once) ct_notify_stopping();
    sodium_memzero(o.secret_key, sizeof o.secret_key);
    zmq_ctx_term(zctx);
    if (o.once) once_closing_line(s, s->info.delivered, "this-run");
    close(lfd);
    if (e != CT_OK) return ct_collector_fail(s, e, "run: %s", msg[0] ? msg : ct_err_str(e));
    return CT_OK;
}

ct_err ct_collector_cmd_status(ct_collector *s, const ct_collector_cfg *c)
{
    ct_outbox_info *in = &s->info;
    fprintf(s->out, "outbox:     %s\n", s->dir);
    if (!in->initialised) {
        fprintf(s->out, "state:      not initialised\n");
        return CT_OK;
    }
    const char *dname = "";
    if (ct_collector_load_campaign(s, ct_collector_campaign_path(s, c->campaign)) == CT_OK) {
        const ct_district *d = ct_campaign_district(&s->camp, in->district);
        if (d) dname = d->name;
    }
    char hex[2 * CT_ORIGIN_LEN + 1];
    ct_text_hex(in->origin, CT_ORIGIN_LEN, hex);
    fprintf(s->out, "district:   %u %s\n", in->district, dname);
    fprintf(s->out, "campaign:   %s\n", in->campaign_id);
    fprintf(s->out, "origin:     %s\n", hex);
    fprintf(s->out, "queued:     %" PRIu64 "\n", in->queued);
    /* of the queued ones: committed at HQ, kept until HQ's followers have
     * them too (the ack's safe watermark) */
    fprintf(s->out, "unsafe:     %" PRIu64 "\n", in->committed);
    fprintf(s->out, "delivered:  %" PRIu64 "\n", in->delivered);
    fprintf(s->out, "rejected:   %" PRIu64 "\n", in->rejected);
    fprintf(s->out, "recorded:   %" PRIu64 "\n", ct_outbox_recorded(in));
    if (in->last_ack_ms) {
        char ts[40];
        ct_time_format(in->last_ack_ms, 0, ts, sizeof ts);
        fprintf(s->out, "last ack:   %s\n", ts);
    } else {
        fprintf(s->out, "last ack:   never\n");
    }
    fprintf(s->out, "delivery:   %s\n",
            ct_collector_run_active(s) ? "a `run` is delivering this outbox (in-flight "
                                         "counts are in its stats lines)"
                                       : "no `run` active");
    ct_err e = ct_collector_conflicts_status(s);
    if (e != CT_OK) return e;
    if (!c->servers.n) return CT_OK;
    const char *server = c->servers.v[0];
    ct_deliver_opts o;
    ct_deliver_opts_default(&o);
    o.endpoint = server;
    if ((e = ct_collector_client_keys(s, c, &o)) != CT_OK) return e;
    void *zctx = zmq_ctx_new();
    if (!zctx) {
        sodium_memzero(o.secret_key, sizeof o.secret_key);
        return CT_ERR_ZMQ;
    }
    bool ok = false;
    char detail[200];
    e = ct_deliver_probe(zctx, &o, (int)c->timeout_ms, &ok, detail, sizeof detail);
    sodium_memzero(o.secret_key, sizeof o.secret_key);
    zmq_ctx_term(zctx);
    if (e == CT_ERR_USAGE) return ct_collector_fail(s, CT_ERR_USAGE, "%s: %s", server, detail);
    fprintf(s->out, "server:     %s %s (%s)\n", server, ok ? "reachable" : "UNREACHABLE", detail);
    return ok ? CT_OK : CT_ERR_TIMEOUT;
}
