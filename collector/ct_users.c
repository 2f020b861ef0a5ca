/* ct_users.c — the office screen's password file (see ct_users.h).
 *
 * Invariants: the file is only ever replaced whole, mode 0600, through
 * ct_file (a temporary 0600 from creation, every write checked, fsynced,
 * renamed, the directory fsynced; a killed writer's temporary is removed by
 * the next save); a loaded list owns its array; the clear password is never copied
 * here beyond libsodium's own work.
 */
#include "ct_users.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_file.h"

#define LINE_MAX_BYTES 512

static const char HEADER[] = "# chitieu-collector users: NAME:ROLE:AGENT:HASH (written by "
                             "`chitieu-collector users`; do not edit by hand)\n";

void ct_users_path(const char *dir, char *out, size_t len)
{
    snprintf(out, len, "%s/users", dir);
}

const char *ct_role_name(ct_role r)
{
    return r == CT_ROLE_LEAD ? "lead" : "staff";
}

ct_err ct_role_parse(const char *s, ct_role *out)
{
    if (strcmp(s, "staff") == 0)
        *out = CT_ROLE_STAFF;
    else if (strcmp(s, "lead") == 0)
        *out = CT_ROLE_LEAD;
    else
        return CT_ERR_BAD_VALUE;
    return CT_OK;
}

bool ct_user_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CT_USER_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

static bool agent_valid(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > CT_AGENT_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] <= ' ' || a[i] == ':' || (unsigned char)a[i] >= 0x7f) return false;
    return true;
}

ct_user *ct_users_find(const ct_users *u, const char *name)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->v[i].name, name) == 0) return &u->v[i];
    return NULL;
}

void ct_users_free(ct_users *u)
{
    if (u->v) sodium_memzero(u->v, u->n * sizeof *u->v);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

/* Splits "NAME:ROLE:AGENT:HASH" into e; the reason in why. */
static bool parse_line(char *line, ct_user *e, char *why, size_t whylen)
{
    char *f[4];
    char *p = line;
    for (int i = 0; i < 3; i++) {
        char *c = strchr(p, ':');
        if (!c) {
            snprintf(why, whylen, "expected NAME:ROLE:AGENT:HASH");
            return false;
        }
        *c = 0;
        f[i] = p;
        p = c + 1;
    }
    f[3] = p;
    memset(e, 0, sizeof *e);
    if (!ct_user_name_valid(f[0])) {
        snprintf(why, whylen, "bad login name");
        return false;
    }
    snprintf(e->name, sizeof e->name, "%s", f[0]);
    if (ct_role_parse(f[1], &e->role) != CT_OK) {
        snprintf(why, whylen, "role must be staff or lead");
        return false;
    }
    if (strcmp(f[2], "-") == 0) {
        if (e->role != CT_ROLE_LEAD) {
            snprintf(why, whylen, "a staff login needs its agent id");
            return false;
        }
    } else if (!agent_valid(f[2])) {
        snprintf(why, whylen, "bad agent id");
        return false;
    } else {
        snprintf(e->agent, sizeof e->agent, "%s", f[2]);
    }
    size_t hl = strlen(f[3]);
    if (hl == 0 || hl >= sizeof e->hash || strncmp(f[3], "$argon2", 7) != 0) {
        snprintf(why, whylen, "bad password hash");
        return false;
    }
    memcpy(e->hash, f[3], hl + 1);
    return true;
}

ct_err ct_users_load(const char *path, ct_users *u, char *err, size_t errlen)
{
    u->v = NULL;
    u->n = 0;
    ct_err e = CT_OK;
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) return CT_OK;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s: readable by group or others (chmod 600 it)", path);
        e = CT_ERR_KEY_PERMS;
        goto out;
    }
    char line[LINE_MAX_BYTES];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            e = CT_ERR_CONFIG;
            goto out;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#') continue;
        ct_user ent;
        char why[128];
        if (!parse_line(line, &ent, why, sizeof why)) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            e = CT_ERR_CONFIG;
            goto out;
        }
        if ((e = ct_users_add(u, &ent, why, sizeof why)) != CT_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        e = CT_ERR_IO;
    }
out:
    fclose(f);
    sodium_memzero(line, sizeof line);
    if (e != CT_OK) ct_users_free(u);
    return e;
}

ct_err ct_users_save(const char *path, const ct_users *u, char *err, size_t errlen)
{
    ct_file o;
    ct_err e = ct_file_open_mode(&o, path, 0600, err, errlen);
    if (e != CT_OK) return e;
    fputs(HEADER, o.f);
    for (size_t i = 0; i < u->n; i++) {
        const ct_user *x = &u->v[i];
        fprintf(o.f, "%s:%s:%s:%s\n", x->name, ct_role_name(x->role), x->agent[0] ? x->agent : "-",
                x->hash);
    }
    return ct_file_commit(&o, err, errlen); /* checks every write (ferror) and fsyncs */
}

ct_err ct_password_check(const char *pw, char *err, size_t errlen)
{
    size_t n = strlen(pw);
    if (n < CT_PASSWORD_MIN || n > CT_PASSWORD_MAX) {
        snprintf(err, errlen, "a password has %d to %d bytes (got %zu)", CT_PASSWORD_MIN,
                 CT_PASSWORD_MAX, n);
        return CT_ERR_BAD_VALUE;
    }
    if (!ct_utf8_valid((const uint8_t *)pw, n)) {
        snprintf(err, errlen, "the password is not valid UTF-8");
        return CT_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)pw[i] < 0x20 || pw[i] == 0x7f) {
            snprintf(err, errlen, "the password holds a control character");
            return CT_ERR_BAD_VALUE;
        }
    return CT_OK;
}

ct_err ct_user_set_password(ct_user *u, const char *pw)
{
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return CT_ERR_NOMEM;
    assert(strlen(out) < sizeof u->hash);
    snprintf(u->hash, sizeof u->hash, "%s", out);
    return CT_OK;
}

bool ct_user_verify(const ct_user *u, const char *pw)
{
    return crypto_pwhash_str_verify(u->hash, pw, strlen(pw)) == 0;
}

void ct_user_verify_dummy(const char *pw)
{
    static char dummy[crypto_pwhash_STRBYTES];
    if (!dummy[0]) {
        static const char fixed[] = "not a password of anyone";
        if (crypto_pwhash_str(dummy, fixed, sizeof fixed - 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return;
    }
    int r = crypto_pwhash_str_verify(dummy, pw, strlen(pw));
    (void)r;
}

ct_err ct_users_add(ct_users *u, const ct_user *entry, char *err, size_t errlen)
{
    if (ct_users_find(u, entry->name)) {
        snprintf(err, errlen, "login '%s' exists", entry->name);
        return CT_ERR_CONFIG;
    }
    if (u->n >= CT_USERS_MAX) {
        snprintf(err, errlen, "at most %d logins", CT_USERS_MAX);
        return CT_ERR_CONFIG;
    }
    ct_user *v = realloc(u->v, (u->n + 1) * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return CT_ERR_NOMEM;
    }
    u->v = v;
    u->v[u->n++] = *entry;
    return CT_OK;
}

ct_err ct_users_remove(ct_users *u, const char *name)
{
    ct_user *x = ct_users_find(u, name);
    if (!x) return CT_ERR_NOT_FOUND;
    size_t i = (size_t)(x - u->v);
    memmove(&u->v[i], &u->v[i + 1], (u->n - i - 1) * sizeof *x);
    u->n--;
    sodium_memzero(&u->v[u->n], sizeof *x);
    return CT_OK;
}
