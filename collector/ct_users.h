/* ct_users.h — the office screen's logins: a password file next to the
 * outbox (DIR/users), managed by `chitieu-collector users`, read by `serve`
 * at every login (so a change applies without a restart).
 *
 * File format (UTF-8 text, mode 0600, replaced atomically): '#' comments and
 * one login per line,
 *   NAME:ROLE:AGENT:HASH
 * NAME   1..32 of [a-z0-9._-], starting with a letter or digit (unique);
 * ROLE   "staff" (records for AGENT only) or "lead" (records for anyone of
 *        the office's roster);
 * AGENT  the staff id on this office's roster this login records as; "-"
 *        only for a lead without an own roster entry;
 * HASH   libsodium crypto_pwhash_str (Argon2id, interactive limits).
 *
 * Invariants: the clear password is held only in the caller's buffer and
 * wiped by the caller; every entry of a loaded ct_users passed the checks
 * above (a file with a bad line is refused as a whole, with its line); at
 * most CT_USERS_MAX logins.
 */
#ifndef CT_USERS_H
#define CT_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_campaign.h"
#include "ct_error.h"

#define CT_USERS_MAX 1024
#define CT_USER_NAME_MAX 32
#define CT_USER_HASH_MAX 128
#define CT_PASSWORD_MIN 8
#define CT_PASSWORD_MAX 128

typedef enum { CT_ROLE_STAFF = 0, CT_ROLE_LEAD = 1 } ct_role;

typedef struct {
    char name[CT_USER_NAME_MAX + 1];
    ct_role role;
    char agent[CT_AGENT_ID_MAX + 1]; /* "" for a lead without a roster entry */
    char hash[CT_USER_HASH_MAX];
} ct_user;

typedef struct {
    ct_user *v;
    size_t n;
} ct_users;

/* DIR/users into out (len bytes). */
void ct_users_path(const char *dir, char *out, size_t len);

/* Loads the file; an absent file is an empty list. CT_ERR_CONFIG with
 * "PATH:LINE: reason" in err for a bad line; CT_ERR_KEY_PERMS when the file
 * is readable by group or others. */
ct_err ct_users_load(const char *path, ct_users *u, char *err, size_t errlen);
/* Writes u atomically (temporary 0600, fsync, rename, fsync of the directory). */
ct_err ct_users_save(const char *path, const ct_users *u, char *err, size_t errlen);
void ct_users_free(ct_users *u);

const char *ct_role_name(ct_role r);
ct_err ct_role_parse(const char *s, ct_role *out);
/* Whether name has the NAME form above. */
bool ct_user_name_valid(const char *name);
ct_user *ct_users_find(const ct_users *u, const char *name);

/* Checks a new password (length, valid UTF-8, no control characters);
 * CT_ERR_BAD_VALUE with the reason in err. */
ct_err ct_password_check(const char *pw, char *err, size_t errlen);
/* Sets u->hash from pw (crypto_pwhash_str). */
ct_err ct_user_set_password(ct_user *u, const char *pw);
/* Whether pw is u's password (constant work whether or not it is). */
bool ct_user_verify(const ct_user *u, const char *pw);
/* The same work as one ct_user_verify, for an unknown name (so a wrong name
 * and a wrong password take the same time). */
void ct_user_verify_dummy(const char *pw);

/* Adds (CT_ERR_CONFIG if the name exists) or replaces the entry of a name. */
ct_err ct_users_add(ct_users *u, const ct_user *entry, char *err, size_t errlen);
/* CT_ERR_NOT_FOUND if absent. */
ct_err ct_users_remove(ct_users *u, const char *name);

#endif
