/* ct_collector.c — the collector session and the outbox binding policy (see
 * ct_collector.h). */
#include "ct_collector.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sodium.h>

#include "ct_campaign_default.h"
#include "ct_text.h"

ct_err ct_collector_usage(const ct_collector *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->err, "%s: ", s->prog);
    vfprintf(s->err, fmt, ap);
    fprintf(s->err, "\n(see %s --help)\n", s->prog);
    va_end(ap);
    return CT_ERR_USAGE;
}

ct_err ct_collector_fail(const ct_collector *s, ct_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->err, "%s: ", s->prog);
    vfprintf(s->err, fmt, ap);
    fputc('\n', s->err);
    va_end(ap);
    return code;
}

ct_err ct_collector_open(ct_collector *s, const char *prog, const char *dir, size_t map_size,
                         bool must_exist, FILE *out, FILE *err)
{
    memset(s, 0, sizeof *s);
    s->prog = prog;
    s->dir = dir;
    s->out = out;
    s->err = err;
    if (must_exist) {
        char mdb[PATH_MAX];
        snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
        if (access(mdb, F_OK) != 0)
            return ct_collector_fail(s, CT_ERR_CONFIG, "no outbox at %s (create it with `%s init`)",
                                     dir, prog);
    }
    char msg[512];
    ct_err e = ct_outbox_open(dir, map_size, &s->ob, msg, sizeof msg);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s", msg);
    if ((e = ct_outbox_get_info(s->ob, &s->info)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    return CT_OK;
}

void ct_collector_close(ct_collector *s)
{
    if (s->camp_loaded) ct_campaign_free(&s->camp);
    s->camp_loaded = false;
    sodium_memzero(s->pkey, sizeof s->pkey);
    s->has_pkey = false;
    if (s->ob) ct_outbox_close(s->ob);
    s->ob = NULL;
}

const char *ct_collector_campaign_path(const ct_collector *s, const char *given)
{
    if (given) return given;
    if (s->info.campaign_path[0] && strcmp(s->info.campaign_path, "builtin") != 0)
        return s->info.campaign_path;
    return NULL;
}

ct_err ct_collector_load_campaign(ct_collector *s, const char *path)
{
    if (s->camp_loaded) {
        ct_campaign_free(&s->camp);
        s->camp_loaded = false;
    }
    char msg[512];
    ct_err e = ct_campaign_load_arg(path, &s->camp, msg, sizeof msg);
    if (e != CT_OK) return ct_collector_fail(s, CT_ERR_CONFIG, "%s", msg[0] ? msg : ct_err_str(e));
    s->camp_loaded = true;
    return CT_OK;
}

ct_err ct_collector_run_lock(const ct_collector *s, int *fd)
{
    char lockpath[PATH_MAX];
    snprintf(lockpath, sizeof lockpath, "%s/run.lock", s->dir);
    *fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) return CT_ERR_IO;
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return CT_ERR_TIMEOUT;
    }
    return CT_OK;
}

bool ct_collector_run_active(const ct_collector *s)
{
    char lockpath[PATH_MAX];
    snprintf(lockpath, sizeof lockpath, "%s/run.lock", s->dir);
    int fd = open(lockpath, O_RDONLY | O_CLOEXEC);
    bool running = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (fd >= 0) close(fd);
    return running;
}

void ct_collector_id_hex(const ct_collector *s, uint64_t seq, char out[2 * CT_EVENT_ID_LEN + 1])
{
    uint8_t id[CT_EVENT_ID_LEN];
    ct_outbox_event_id(&s->info, seq, id);
    ct_event_id_hex(id, out);
}

ct_err ct_collector_init(ct_collector *s, const ct_collector_bind_opts *b, bool explicit_cmd)
{
    if (b->district < 0) {
        if (explicit_cmd) return ct_collector_usage(s, "init needs --district D");
        return ct_collector_fail(s, CT_ERR_CONFIG,
                                 "outbox %s is not initialised: run `%s init --outbox %s "
                                 "--district D` first (or pass --district)",
                                 s->dir, s->prog, s->dir);
    }
    if (b->district > UINT32_MAX)
        return ct_collector_usage(s, "bad district code '%" PRId64 "'", b->district);
    uint32_t district = (uint32_t)b->district;
    ct_err e;
    if (!s->camp_loaded && (e = ct_collector_load_campaign(
                                s, s->info.initialised ? ct_collector_campaign_path(s, b->campaign)
                                                       : b->campaign)) != CT_OK)
        return e;
    const ct_district *d = ct_campaign_district(&s->camp, district);
    if (!d) {
        fprintf(s->err, "%s: district %u is not in campaign '%s' (", s->prog, district, s->camp.id);
        for (size_t i = 0; i < s->camp.n_districts; i++)
            fprintf(s->err, "%s%u", i ? ", " : "known: ", s->camp.districts[i].code);
        fprintf(s->err, ")\n");
        return CT_ERR_CONFIG;
    }
    char path[PATH_MAX];
    const char *store = "builtin";
    if (b->campaign && strcmp(b->campaign, "builtin") != 0) {
        if (!realpath(b->campaign, path))
            return ct_collector_fail(s, CT_ERR_CONFIG, "%s: %s", b->campaign, strerror(errno));
        store = path;
    }
    char msg[512];
    e = ct_outbox_init(s->ob, district, s->camp.id,
                       s->info.initialised && !b->campaign ? NULL : store, msg, sizeof msg);
    if (e != CT_OK) return ct_collector_fail(s, e, "%s: %s", s->dir, msg);
    bool was = s->info.initialised;
    if ((e = ct_outbox_get_info(s->ob, &s->info)) != CT_OK)
        return ct_collector_fail(s, e, "%s", ct_outbox_errmsg(s->ob));
    if (explicit_cmd || !was) {
        char hex[2 * CT_ORIGIN_LEN + 1];
        ct_text_hex(s->info.origin, CT_ORIGIN_LEN, hex);
        fprintf(s->out, "%s %s: district %u (%s), campaign %s, origin %s\n",
                was ? "outbox" : "initialised outbox", s->dir, district, d->name, s->camp.id, hex);
    }
    return CT_OK;
}

ct_err ct_collector_bind(ct_collector *s, const ct_collector_bind_opts *b)
{
    ct_err e;
    if (!s->info.initialised) {
        if ((e = ct_collector_init(s, b, false)) != CT_OK) return e;
    } else {
        if (b->district >= 0 && b->district != (int64_t)s->info.district)
            return ct_collector_fail(s, CT_ERR_CONFIG,
                                     "wrong district: outbox %s belongs to district %u, not "
                                     "%" PRId64,
                                     s->dir, s->info.district, b->district);
        if (!s->camp_loaded && (e = ct_collector_load_campaign(
                                    s, ct_collector_campaign_path(s, b->campaign))) != CT_OK)
            return e;
    }
    if (strcmp(s->camp.id, s->info.campaign_id) != 0)
        return ct_collector_fail(s, CT_ERR_CONFIG,
                                 "campaign file is for '%s' but this outbox is for '%s'",
                                 s->camp.id, s->info.campaign_id);
    if (!ct_campaign_district(&s->camp, s->info.district))
        return ct_collector_fail(s, CT_ERR_CONFIG,
                                 "district %u of this outbox is not in campaign '%s'",
                                 s->info.district, s->camp.id);
    if (b->person_key) {
        char msg[512];
        e = ct_person_key_load(b->person_key, s->pkey, msg, sizeof msg);
        if (e != CT_OK)
            return ct_collector_fail(s, CT_ERR_CONFIG, "%s", msg[0] ? msg : ct_err_str(e));
        s->has_pkey = true;
    }
    return CT_OK;
}
