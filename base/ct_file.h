/* ct_file.h — output files replaced atomically: a reader of PATH sees the old
 * file or the new one, whole, never a mix, and after ct_file_commit() returns
 * CT_OK the new content survives a crash or power cut.
 *
 * How: the content goes to a temporary in PATH's directory named
 *   .NAME.tmp.PID.XXXXXX   (NAME = PATH's last component, PID the writer's
 *                           process id, XXXXXX random from mkstemp)
 * which is fsynced, renamed over PATH, and the directory fsynced.
 *
 * Stale temporaries: a writer killed between open and commit (SIGKILL, power
 * cut) leaves its temporary behind. ct_file_open() removes every temporary of
 * the same PATH whose PID no longer runs (kill(PID, 0) fails with ESRCH), so
 * the next run of an export or a reporter cleans up after a killed one.
 * Temporaries of running processes (this one included) are never touched. A
 * recycled PID keeps a stale temporary until that process is gone too.
 *
 * PATH "-" is stdout: written in place (not atomic), commit flushes it.
 * Ownership: a ct_file owns its FILE and names from a successful open until
 * ct_file_commit() or ct_file_abort(), each of which releases everything
 * (the temporary is removed unless it was renamed into place).
 * Errors name the file and the system's reason ("out.csv: No space left on
 * device") in err.
 */
#ifndef CT_FILE_H
#define CT_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "ct_error.h"

typedef struct {
    FILE *f;    /* write here */
    char *path; /* target; NULL for stdout */
    char *tmp;  /* the temporary; NULL for stdout */
} ct_file;

/* Removes stale temporaries of path, creates a fresh temporary (mode 0644)
 * and opens it for writing (1 MiB buffer). CT_ERR_IO or CT_ERR_NOMEM with a
 * message; on error *o holds nothing. */
ct_err ct_file_open(ct_file *o, const char *path, char *err, size_t errlen);

/* ct_file_open with the file's mode (e.g. 0600 for secrets): the temporary
 * is created 0600 (mkstemp) and set to mode before anything is written, and
 * PATH gets it by the rename. */
ct_err ct_file_open_mode(ct_file *o, const char *path, mode_t mode, char *err, size_t errlen);

/* Flushes, fsyncs, closes, renames into place and fsyncs the directory.
 * Releases o in every case; on error the temporary is removed and PATH is
 * unchanged. */
ct_err ct_file_commit(ct_file *o, char *err, size_t errlen);

/* Closes and removes the temporary; PATH is unchanged. */
void ct_file_abort(ct_file *o);

/* open + write all len bytes + commit. */
ct_err ct_file_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Removes the stale temporaries of path (see above); returns how many were
 * removed. Called by ct_file_open(). */
size_t ct_file_remove_stale(const char *path);

#endif
