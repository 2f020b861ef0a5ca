/* ct_cmd_serve.c — `chitieu-collector serve`: the office screen
 * (ct_office.h over ct_serve.h) on one outbox.
 *
 * The screen queues into the outbox; delivery stays with `run` (its own
 * process next to this one, holding DIR/run.lock): LMDB lets both use the
 * outbox at once, and either can be restarted alone. Given --server (and
 * the keys, as for `status`), a probe thread checks every
 * --probe-interval seconds whether headquarters answers the handshake; the
 * screen shows that, the last answer (probe or ack) and how many events
 * wait. The probe thread owns its ZeroMQ context and never touches the
 * outbox; the secret key it got is wiped when it ends.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ct_commands.h"
#include "ct_log.h"
#include "ct_notify.h"
#include "ct_office.h"
#include "ct_serve.h"
#include "ct_time.h"
#include "ct_users.h"

typedef struct {
    ct_office *office;
    ct_deliver_opts o;
    int64_t interval_ms;
    volatile sig_atomic_t *stop;
    atomic_int done; /* set by the main thread, read by the prober */
} prober;

static bool stopping(const prober *p)
{
    return atomic_load(&p->done) || (p->stop && *p->stop);
}

static void *probe_main(void *arg)
{
    prober *p = arg;
    void *zctx = zmq_ctx_new();
    ct_office_link l = {.probing = true};
    while (zctx && !stopping(p)) {
        bool ok = false;
        char detail[sizeof l.detail];
        ct_deliver_probe(zctx, &p->o, 2000, &ok, detail, sizeof detail);
        l.reachable = ok;
        l.checked_ms = ct_now_ms();
        if (ok) l.answered_ms = l.checked_ms;
        snprintf(l.detail, sizeof l.detail, "%s", detail);
        ct_office_set_link(p->office, &l);
        for (int64_t t = 0; t < p->interval_ms && !stopping(p); t += 100) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (zctx) zmq_ctx_term(zctx);
    return NULL;
}

ct_err ct_collector_cmd_serve(ct_collector *s, const ct_collector_cfg *c)
{
    if (!c->person_key)
        return ct_collector_usage(s, "serve needs --person-key FILE (national IDs are hashed "
                                     "with it before they are stored)");
    if (!c->http) return ct_collector_usage(s, "serve needs --http ADDR:PORT");
    ct_collector_bind_opts b = {
        .district = -1, .campaign = c->campaign, .person_key = c->person_key};
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    int64_t offset = 0;
    if (c->now) {
        int64_t t;
        if (ct_time_parse(c->now, s->camp.tz_offset_min, &t) != CT_OK)
            return ct_collector_usage(s, "bad --now '%s' (e.g. 2023-07-24T09:30:00+07:00)", c->now);
        offset = t - ct_now_ms();
    }
    char path[CT_OUTBOX_PATH_MAX + 8], err[CT_OUTBOX_PATH_MAX + 160];
    ct_users_path(s->dir, path, sizeof path);
    ct_users u;
    if ((e = ct_users_load(path, &u, err, sizeof err)) != CT_OK)
        return ct_collector_fail(s, CT_ERR_CONFIG, "%s", err);
    size_t n_users = u.n;
    ct_users_free(&u);
    if (n_users == 0)
        ct_log(CT_LOG_WARN, "no logins yet: nobody can log in",
               "hint=\"%s users add NAME --outbox %s --role staff --agent ID\"", s->prog, s->dir);

    prober p = {.interval_ms = c->probe_interval_s * 1000, .stop = c->stop};
    bool probing = c->servers.n > 0;
    if (probing) {
        ct_deliver_opts_default(&p.o);
        p.o.endpoint = c->servers.v[0];
        if ((e = ct_collector_client_keys(s, c, &p.o)) != CT_OK) return e;
    } else if (c->keys || c->server_keys.n || c->insecure) {
        return ct_collector_usage(s, "--keys/--server-key/--insecure go with --server");
    }
    ct_office *office = NULL;
    ct_serve *sv = NULL;
    pthread_t th;
    bool th_started = false;
    ct_office_opts oo = {
        .s = s,
        .session_idle_ms = c->session_ttl_s * 1000,
        .clock_offset_ms = offset,
        .secure_cookies = c->tls_cert != NULL,
    };
    if ((e = ct_office_new(&oo, &office)) != CT_OK) {
        e = ct_collector_fail(s, e, "cannot start: %s", ct_err_str(e));
        goto out;
    }
    ct_serve_opts so = {
        .addr = c->http, .tls_cert = c->tls_cert, .tls_key = c->tls_key, .plain = c->no_tls};
    char url[128];
    if ((e = ct_serve_start(&so, office, &sv, url, sizeof url, err, sizeof err)) != CT_OK) {
        e = ct_collector_fail(s, e, "%s", err);
        goto out;
    }
    if (probing) {
        p.office = office;
        if (pthread_create(&th, NULL, probe_main, &p) != 0) {
            e = ct_collector_fail(s, CT_ERR_INTERNAL, "cannot start the probe thread");
            goto out;
        }
        th_started = true;
    }
    const ct_district *d = ct_campaign_district(&s->camp, s->info.district);
    fprintf(s->out, "office screen for district %u (%s): %s\n", s->info.district, d ? d->name : "?",
            url);
    fflush(s->out);
    ct_notify_ready("serving the office screen");
    while (!(c->stop && *c->stop)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        ct_notify_watchdog();
    }
    ct_notify_stopping();
    ct_log(CT_LOG_INFO, "office screen stopping", "url=%s", url);
out:
    atomic_store(&p.done, 1);
    if (th_started) pthread_join(th, NULL);
    sodium_memzero(p.o.secret_key, sizeof p.o.secret_key);
    ct_serve_stop(sv);
    ct_office_free(office);
    return e;
}
