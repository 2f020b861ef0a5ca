/* ct_xlsx.c — the workbook machinery both reports share (see ct_xlsx.h).
 *
 * Invariants: one owner of the workbook and of the temporary file (a
 * ct_xlsx_make call); the file is removed on every return; the first
 * libxlsxwriter error is the one reported.
 */
#include "ct_xlsx.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ct_xlsx_next_row(ct_xlsx_sheet *s)
{
    s->row++;
    s->col = 0;
}

void ct_xlsx_str(ct_xlsx_sheet *s, const char *v)
{
    lxw_error e = worksheet_write_string(s->ws, s->row, s->col++, v, NULL);
    if (!s->err) s->err = e;
}

void ct_xlsx_hdr(ct_xlsx_sheet *s, const char *v)
{
    lxw_error e = worksheet_write_string(s->ws, s->row, s->col++, v, s->head);
    if (!s->err) s->err = e;
}

void ct_xlsx_num(ct_xlsx_sheet *s, double v)
{
    lxw_error e = worksheet_write_number(s->ws, s->row, s->col++, v, NULL);
    if (!s->err) s->err = e;
}

void ct_xlsx_x10(ct_xlsx_sheet *s, int64_t v)
{
    lxw_error e = worksheet_write_number(s->ws, s->row, s->col++, (double)v / 10.0, s->pct);
    if (!s->err) s->err = e;
}

static ct_err read_all(const char *path, ct_buf *out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot read the workbook back: %s", strerror(errno));
        return CT_ERR_IO;
    }
    ct_err e = CT_OK;
    char chunk[65536];
    size_t n;
    while (!e && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e = ct_buf_append(out, chunk, n);
    if (!e && ferror(fp)) {
        snprintf(err, errlen, "cannot read the workbook back: %s", strerror(errno));
        e = CT_ERR_IO;
    }
    fclose(fp);
    return e;
}

static ct_err write_book(ct_xlsx_fill fn, void *arg, const char *path, char *err, size_t errlen)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb) {
        snprintf(err, errlen, "cannot create the workbook %s", path);
        return CT_ERR_IO;
    }
    lxw_format *pct = workbook_add_format(wb);
    lxw_format *head = workbook_add_format(wb);
    format_set_num_format(pct, "0.0");
    format_set_bold(head);
    lxw_error first = fn(wb, pct, head, arg);
    lxw_error ce = workbook_close(wb); /* frees wb whatever it returns */
    if (!first) first = ce;
    if (first) {
        snprintf(err, errlen, "cannot write the workbook: %s", lxw_strerror(first));
        return CT_ERR_IO;
    }
    return CT_OK;
}

ct_err ct_xlsx_make(ct_xlsx_fill fn, void *arg, ct_buf *out, char *err, size_t errlen)
{
    assert(fn && out && err && errlen > 0);
    err[0] = '\0';
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/chitieu-xlsx-XXXXXX", dir) >= sizeof path) {
        snprintf(err, errlen, "TMPDIR too long");
        return CT_ERR_IO;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        return CT_ERR_IO;
    }
    close(fd);
    ct_err e = write_book(fn, arg, path, err, errlen);
    if (!e) e = read_all(path, out, err, errlen);
    unlink(path);
    return e;
}
