/* ct_collector.h — one collector session: an open outbox, the campaign it is
 * bound to, the person key, and the streams its messages go to.
 *
 * Binding policy (docs/collector.md): an outbox belongs to one district of
 * one campaign. It is bound once (by `init`, or implicitly by the first
 * queueing command given --district); the campaign path given then is
 * recorded and used later when --campaign is not given (else the built-in
 * campaign). Every queueing path goes through ct_collector_bind(), which
 * binds if needed and checks that the campaign loaded is the outbox's and
 * holds its district.
 *
 * Messages: every refusal is printed on s->err as "PROG: what is wrong"
 * (usage errors add "(see PROG --help)"), results on s->out. Return codes:
 * CT_ERR_USAGE and CT_ERR_CONFIG are the caller's mistakes (exit 2); any
 * other error is a runtime failure (exit 1).
 *
 * Invariants: the session owns the outbox handle, the campaign (when
 * camp_loaded) and the person key (wiped by ct_collector_close); s->info is
 * the outbox's state as of open or the last bind.
 */
#ifndef CT_COLLECTOR_H
#define CT_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ct_campaign.h"
#include "ct_error.h"
#include "ct_keys.h"
#include "ct_outbox.h"

typedef struct {
    const char *prog; /* prefix of every message, e.g. "chitieu-collector" */
    const char *dir;  /* the outbox directory */
    FILE *out;        /* results */
    FILE *err;        /* refusals and failures */
    ct_outbox *ob;
    ct_outbox_info info;
    ct_campaign camp;
    bool camp_loaded;
    uint8_t pkey[CT_PERSON_KEY_BYTES];
    bool has_pkey;
} ct_collector;

typedef struct {
    int64_t district;       /* < 0: not given */
    const char *campaign;   /* --campaign FILE or "builtin"; NULL: the recorded one */
    const char *person_key; /* NULL: none (national IDs are then refused) */
} ct_collector_bind_opts;

/* Opens the outbox at dir (map_size 0: the default). With must_exist, an
 * absent outbox is CT_ERR_CONFIG ("no outbox at DIR") and nothing is
 * created: a mistyped path must not look like an empty outbox. */
ct_err ct_collector_open(ct_collector *s, const char *prog, const char *dir, size_t map_size,
                         bool must_exist, FILE *out, FILE *err);
/* Releases what the session holds; safe on a session that failed to open. */
void ct_collector_close(ct_collector *s);

/* The campaign file to use: the given one, else the one recorded at binding
 * (NULL: the built-in campaign). */
const char *ct_collector_campaign_path(const ct_collector *s, const char *given);
/* Loads path (NULL: built-in) into the session; CT_ERR_CONFIG with the
 * loader's message (file:line) printed on failure. */
ct_err ct_collector_load_campaign(ct_collector *s, const char *path);

/* Binds the outbox to b->district of the campaign (the `init` command when
 * explicit; else the implicit init of a first queueing command). Prints
 * "initialised outbox DIR: district D (NAME), campaign ID, origin HEX" on a
 * first binding, and "outbox DIR: ..." for an explicit init of a bound one. */
ct_err ct_collector_init(ct_collector *s, const ct_collector_bind_opts *b, bool explicit_cmd);

/* What every queueing command calls first: binds an unbound outbox (needs
 * b->district), refuses another district or campaign, loads the campaign and
 * the person key. */
ct_err ct_collector_bind(ct_collector *s, const ct_collector_bind_opts *b);

/* One deliverer per outbox: an exclusive flock on DIR/run.lock. *fd is the
 * held lock (close it to release); CT_ERR_TIMEOUT when another process holds
 * it; CT_ERR_IO when the lock file cannot be opened. */
ct_err ct_collector_run_lock(const ct_collector *s, int *fd);
/* Whether a `run` holds the lock now. */
bool ct_collector_run_active(const ct_collector *s);

/* The event id of seq in this outbox, in hex. */
void ct_collector_id_hex(const ct_collector *s, uint64_t seq, char out[2 * CT_EVENT_ID_LEN + 1]);

/* Prints "PROG: message\n(see PROG --help)\n" on s->err; returns CT_ERR_USAGE. */
ct_err ct_collector_usage(const ct_collector *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "PROG: message\n" on s->err; returns code. */
ct_err ct_collector_fail(const ct_collector *s, ct_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
