/* ct_cmd_users.c — `chitieu-collector users`: the logins of the office
 * screen (ct_users.h), in DIR/users next to the outbox.
 *
 *   users add NAME --role staff|lead [--agent A]   password read from stdin
 *   users passwd NAME                              new password from stdin
 *   users remove NAME
 *   users list
 *
 * A staff login is bound to one agent id of this office's roster (checked
 * against the campaign the outbox is bound to); a lead may have one. The
 * password is read from the terminal without echo (twice), or as the first
 * line of stdin when stdin is not a terminal; it is wiped after hashing and
 * never printed. */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "ct_commands.h"
#include "ct_users.h"

/* One line from stdin (no echo on a terminal) into buf; false on EOF. */
static bool read_line(const char *prompt, bool tty, char *buf, size_t len)
{
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    bool ok = fgets(buf, (int)len, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!ok) return false;
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return true;
}

static ct_err read_password(ct_collector *s, const char *name, ct_user *u)
{
    char pw[CT_PASSWORD_MAX + 8], again[CT_PASSWORD_MAX + 8];
    bool tty = isatty(STDIN_FILENO);
    char prompt[96], why[128];
    ct_err e = CT_OK;
    snprintf(prompt, sizeof prompt, "password for %s: ", name);
    if (!read_line(prompt, tty, pw, sizeof pw)) {
        e = ct_collector_fail(s, CT_ERR_USAGE, "no password given on stdin");
        goto out;
    }
    if (tty && (!read_line("again: ", tty, again, sizeof again) || strcmp(pw, again) != 0)) {
        e = ct_collector_fail(s, CT_ERR_USAGE, "the two passwords differ; nothing changed");
        goto out;
    }
    if (ct_password_check(pw, why, sizeof why) != CT_OK) {
        e = ct_collector_fail(s, CT_ERR_USAGE, "%s; nothing changed", why);
        goto out;
    }
    if ((e = ct_user_set_password(u, pw)) != CT_OK)
        e = ct_collector_fail(s, e, "cannot hash the password: %s", ct_err_str(e));
out:
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(again, sizeof again);
    return e;
}

/* The staff member agent of this office's roster, or a refusal. */
static ct_err check_agent(ct_collector *s, const char *agent)
{
    const ct_agent *a = ct_campaign_agent(&s->camp, agent);
    if (!a) return ct_collector_fail(s, CT_ERR_USAGE, "agent '%s' is not on the roster", agent);
    if (a->district != s->info.district)
        return ct_collector_fail(s, CT_ERR_USAGE,
                                 "agent '%s' belongs to district %u, not to this office's %u",
                                 agent, a->district, s->info.district);
    return CT_OK;
}

ct_err ct_collector_cmd_users(ct_collector *s, const ct_collector_cfg *c)
{
    ct_collector_bind_opts b = {.district = -1, .campaign = c->campaign, .person_key = NULL};
    ct_err e = ct_collector_bind(s, &b);
    if (e != CT_OK) return e;
    const char *sub = c->users_sub;
    const char *name = c->users_name;
    bool is_list = strcmp(sub, "list") == 0;
    if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "passwd") != 0 &&
        strcmp(sub, "remove") != 0)
        return ct_collector_usage(s, "users: unknown action '%s' (add, passwd, remove, list)", sub);
    if (is_list ? name != NULL : name == NULL)
        return ct_collector_usage(
            s, is_list ? "users list takes no name" : "users %s needs a login NAME", sub);
    if (name && !ct_user_name_valid(name))
        return ct_collector_usage(s,
                                  "bad login name '%.40s' (1 to %d of a-z 0-9 . _ -, starting "
                                  "with a letter or digit)",
                                  name, CT_USER_NAME_MAX);
    char path[CT_OUTBOX_PATH_MAX + 8], err[CT_OUTBOX_PATH_MAX + 128];
    ct_users_path(s->dir, path, sizeof path);
    ct_users u;
    if ((e = ct_users_load(path, &u, err, sizeof err)) != CT_OK)
        return ct_collector_fail(s, CT_ERR_CONFIG, "%s", err);
    if (is_list) {
        for (size_t i = 0; i < u.n; i++) {
            const ct_agent *a = u.v[i].agent[0] ? ct_campaign_agent(&s->camp, u.v[i].agent) : NULL;
            fprintf(s->out, "%s\t%s\t%s\t%s\n", u.v[i].name, ct_role_name(u.v[i].role),
                    u.v[i].agent[0] ? u.v[i].agent : "-", a ? a->name : "");
        }
        goto out;
    }
    ct_user *x = ct_users_find(&u, name);
    if (strcmp(sub, "remove") == 0) {
        if (!x) {
            e = ct_collector_fail(s, CT_ERR_USAGE, "no login '%s'", name);
            goto out;
        }
        ct_users_remove(&u, name);
    } else if (strcmp(sub, "passwd") == 0) {
        if (!x) {
            e = ct_collector_fail(s, CT_ERR_USAGE, "no login '%s'", name);
            goto out;
        }
        if ((e = read_password(s, name, x)) != CT_OK) goto out;
    } else {
        ct_user n = {0};
        snprintf(n.name, sizeof n.name, "%s", name);
        if (x) {
            e = ct_collector_fail(s, CT_ERR_USAGE, "login '%s' exists (use passwd or remove)",
                                  name);
            goto out;
        }
        if (!c->role || ct_role_parse(c->role, &n.role) != CT_OK) {
            e = ct_collector_usage(s, "users add needs --role staff or --role lead");
            goto out;
        }
        if (c->agent) {
            if ((e = check_agent(s, c->agent)) != CT_OK) goto out;
            snprintf(n.agent, sizeof n.agent, "%s", c->agent);
        } else if (n.role == CT_ROLE_STAFF) {
            e = ct_collector_usage(s, "a staff login needs --agent (its id on the roster)");
            goto out;
        }
        for (size_t i = 0; n.agent[0] && i < u.n; i++)
            if (strcmp(u.v[i].agent, n.agent) == 0) {
                e = ct_collector_fail(s, CT_ERR_USAGE, "agent %s already has login '%s'", n.agent,
                                      u.v[i].name);
                goto out;
            }
        if ((e = read_password(s, name, &n)) != CT_OK) goto out;
        if ((e = ct_users_add(&u, &n, err, sizeof err)) != CT_OK) {
            e = ct_collector_fail(s, e, "%s", err);
            goto out;
        }
    }
    if ((e = ct_users_save(path, &u, err, sizeof err)) != CT_OK) {
        e = ct_collector_fail(s, e, "%s", err);
        goto out;
    }
    fprintf(s->out, "%s %s\n",
            strcmp(sub, "add") == 0      ? "added"
            : strcmp(sub, "remove") == 0 ? "removed"
                                         : "password changed for",
            name);
out:
    ct_users_free(&u);
    return e;
}
