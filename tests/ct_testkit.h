/* ct_testkit.h — small helpers shared by the C tests (header-only, test code
 * only): a temporary directory per test, removed with everything in it. */
#ifndef CT_TESTKIT_H
#define CT_TESTKIT_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char dir[256];
} ct_tmpdir;

/* Creates /tmp/<prefix>-XXXXXX; returns 0 on success. */
static inline int ct_tmpdir_make(ct_tmpdir *t, const char *prefix)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/%s-XXXXXX", prefix);
    return mkdtemp(t->dir) ? 0 : -1;
}

static inline int ct_tmpdir_rm_one(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the directory and everything below it; returns 0 on success. */
static inline int ct_tmpdir_remove(ct_tmpdir *t)
{
    return nftw(t->dir, ct_tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
