/* ct_office_session.c — the office screen's sessions: lookup, creation,
 * expiry, and their file, so a restart of `serve` keeps everyone logged in.
 *
 * The file is DIR/office-sessions (DIR = the outbox directory), mode 0600,
 * replaced atomically (ct_file) on every login, logout and expiry, and when
 * a session's last use has moved by CT_OFFICE_SESSION_SAVE_MS since it was
 * last written (so after a restart a session may live up to that much
 * longer than its idle time). One line per live session:
 *   s1 HASH CSRF USER CREATED_MS USED_MS
 * HASH = BLAKE2b-256 of the cookie's token, in hex: the token itself, the
 * bearer secret, is never stored (a copy of the file does not log anyone
 * in). A file that does not read (damaged, another version) is ignored with
 * a warning: everyone logs in again, nothing else is lost.
 *
 * Invariants: a slot is live iff user[0] != 0; tokens are compared through
 * their hashes in constant time; expired slots are wiped (sodium_memzero)
 * when met; a file write failure is logged and leaves the sessions in
 * memory as they are.
 */
#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_file.h"
#include "ct_log.h"
#include "ct_office_int.h"

#define FILE_NAME "office-sessions"
#define LINE_MAX_BYTES 512

static void token_hash(const char *token, uint8_t out[CT_OFFICE_TOKEN_HASH])
{
    crypto_generichash(out, CT_OFFICE_TOKEN_HASH, (const uint8_t *)token, strlen(token),
                       (const uint8_t *)"ct-office-session", 17);
}

static void sessions_path(const ct_office *o, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", o->opt.s->dir, FILE_NAME);
}

static bool expired(const ct_office *o, const ct_office_session *s, int64_t now)
{
    return now - s->used_ms > o->opt.session_idle_ms ||
           now - s->created_ms > CT_OFFICE_SESSION_MAX_MS;
}

static void save(ct_office *o)
{
    char path[CT_OUTBOX_PATH_MAX + 32], err[CT_OUTBOX_PATH_MAX + 128];
    sessions_path(o, path, sizeof path);
    ct_file f;
    if (ct_file_open_mode(&f, path, 0600, err, sizeof err) != CT_OK) {
        ct_log(CT_LOG_WARN, "cannot save the sessions", "detail=%s", CT_LOG_Q(err));
        return;
    }
    for (int i = 0; i < CT_OFFICE_SESSIONS_MAX; i++) {
        ct_office_session *s = &o->sess[i];
        if (!s->user[0]) continue;
        char hex[2 * CT_OFFICE_TOKEN_HASH + 1];
        ct_text_hex(s->hash, sizeof s->hash, hex);
        fprintf(f.f, "s1 %s %s %s %" PRId64 " %" PRId64 "\n", hex, s->csrf, s->user, s->created_ms,
                s->used_ms);
        s->saved_used_ms = s->used_ms;
    }
    if (ct_file_commit(&f, err, sizeof err) != CT_OK)
        ct_log(CT_LOG_WARN, "cannot save the sessions", "detail=%s", CT_LOG_Q(err));
}

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

void ct_office_sessions_load(ct_office *o)
{
    char path[CT_OUTBOX_PATH_MAX + 32];
    sessions_path(o, path, sizeof path);
    FILE *f = fopen(path, "re");
    if (!f) return; /* none yet */
    char line[LINE_MAX_BYTES];
    int n = 0, bad = 0;
    int64_t now = ct_now_ms();
    while (fgets(line, sizeof line, f)) {
        char hex[LINE_MAX_BYTES], csrf[LINE_MAX_BYTES], user[LINE_MAX_BYTES];
        int64_t created, used;
        ct_office_session s = {0};
        if (sscanf(line, "s1 %511s %511s %511s %" SCNd64 " %" SCNd64, hex, csrf, user, &created,
                   &used) != 5 ||
            !is_hex(hex, 2 * CT_OFFICE_TOKEN_HASH) || !is_hex(csrf, CT_OFFICE_TOKEN_HEX) ||
            !ct_user_name_valid(user) || n >= CT_OFFICE_SESSIONS_MAX) {
            bad++;
            continue;
        }
        ct_text_unhex(hex, 2 * CT_OFFICE_TOKEN_HASH, s.hash);
        size_t ul = strlen(user); /* valid: at most CT_USER_NAME_MAX */
        assert(ul < sizeof s.user);
        memcpy(s.csrf, csrf, CT_OFFICE_TOKEN_HEX + 1);
        memcpy(s.user, user, ul + 1);
        s.created_ms = created;
        s.used_ms = s.saved_used_ms = used;
        if (expired(o, &s, now)) continue;
        o->sess[n++] = s;
    }
    fclose(f);
    sodium_memzero(line, sizeof line);
    if (bad)
        ct_log(CT_LOG_WARN, "session file: lines ignored", "path=%s ignored=%d", CT_LOG_Q(path),
               bad);
    ct_log(CT_LOG_INFO, "sessions restored", "n=%d", n);
}

ct_office_session *ct_office_session_find(ct_office *o, const char *token)
{
    if (!token || strlen(token) != CT_OFFICE_TOKEN_HEX) return NULL;
    uint8_t h[CT_OFFICE_TOKEN_HASH];
    token_hash(token, h);
    int64_t now = ct_now_ms();
    bool gone = false;
    ct_office_session *found = NULL;
    for (int i = 0; i < CT_OFFICE_SESSIONS_MAX; i++) {
        ct_office_session *s = &o->sess[i];
        if (!s->user[0]) continue;
        if (expired(o, s, now)) {
            sodium_memzero(s, sizeof *s);
            gone = true;
            continue;
        }
        if (!found && sodium_memcmp(s->hash, h, sizeof h) == 0) found = s;
    }
    if (gone) save(o);
    return found;
}

ct_office_session *ct_office_session_new(ct_office *o, const char *user,
                                         char token[CT_OFFICE_TOKEN_HEX + 1])
{
    ct_office_session *slot = NULL;
    for (int i = 0; i < CT_OFFICE_SESSIONS_MAX; i++) {
        ct_office_session *s = &o->sess[i];
        if (!s->user[0]) {
            slot = s;
            break;
        }
        if (!slot || s->used_ms < slot->used_ms) slot = s; /* else: the least recently used */
    }
    sodium_memzero(slot, sizeof *slot);
    ct_office_random_hex(token);
    token_hash(token, slot->hash);
    ct_office_random_hex(slot->csrf);
    snprintf(slot->user, sizeof slot->user, "%s", user);
    slot->created_ms = slot->used_ms = ct_now_ms();
    save(o);
    return slot;
}

void ct_office_session_touch(ct_office *o, ct_office_session *s)
{
    s->used_ms = ct_now_ms();
    if (s->used_ms - s->saved_used_ms >= CT_OFFICE_SESSION_SAVE_MS) save(o);
}

void ct_office_session_end(ct_office *o, ct_office_session *s)
{
    sodium_memzero(s, sizeof *s);
    save(o);
}
