/* ct_store_copy.c — a consistent copy of a store's environment, and what a
 * copy must not keep when it becomes another node's store.
 *
 * Invariants: the copy is made by LMDB from ONE read transaction
 * (mdb_env_copy2 with MDB_CP_COMPACT: free pages left out), so it holds the
 * log, ids, persons, counts, origins and meta of one committed state; it
 * works on a read-only open while the store's writer runs (a hot copy);
 * the destination is a new directory (created 0700, or an existing empty
 * one), never a store being replaced. It may run in another thread than
 * the store's owner (the environment is MDB_NOTLS): it holds s->env_mu
 * meanwhile, and the owner's reopen after MDB_PANIC only trylocks it (its
 * next transaction tries again). "follower_id" is an identity, not
 * state: a copy that becomes another follower drops it
 * (ct_store_forget_follower_id) and draws its own.
 */
#include "ct_store_int.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

/* dir does not exist (created) or is an empty directory. */
static ct_err empty_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0) return CT_OK;
    if (errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return CT_ERR_IO;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return CT_ERR_IO;
    }
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    if (!empty) {
        snprintf(err, errlen, "%s is not empty: a copy goes to a new directory", dir);
        return CT_ERR_IO;
    }
    return CT_OK;
}

ct_err ct_store_copy(ct_store *s, const char *dest_dir, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!s || !dest_dir) return CT_ERR_ARG;
    ct_err e = empty_dir(dest_dir, err, errlen);
    if (e) return e;
    pthread_mutex_lock(&s->env_mu);
    int rc = s->env ? mdb_env_copy2(s->env, dest_dir, MDB_CP_COMPACT) : EINVAL;
    pthread_mutex_unlock(&s->env_mu);
    if (rc) {
        snprintf(err, errlen, "copy to %s: %s", dest_dir, mdb_strerror(rc));
        return rc == ENOSPC ? CT_ERR_DISK_FULL : CT_ERR_LMDB;
    }
    return CT_OK;
}

ct_err ct_store_forget_follower_id(ct_store *s)
{
    if (!s || s->read_only) return CT_ERR_ARG;
    MDB_txn *t;
    ct_err r = ct_store_txn_begin(s, 0, &t);
    if (r) return r;
    MDB_val k = {strlen("follower_id"), (void *)"follower_id"};
    int rc = mdb_del(t, s->meta, &k, NULL);
    if (rc == MDB_NOTFOUND) rc = 0;
    if (rc) {
        mdb_txn_abort(t);
    } else {
        rc = mdb_txn_commit(t);
        if (rc == MDB_PANIC) s->need_reopen = true;
    }
    return map_rc(rc);
}
