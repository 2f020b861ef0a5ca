/* ct_table.c — the terminal table of the text reports (see ct_table.h). */
#include "ct_table.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_text.h"

static ct_err put(ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

void ct_table_init(ct_table *t, const char *align)
{
    memset(t, 0, sizeof *t);
    t->ncol = strlen(align);
    memcpy(t->align, align, t->ncol);
}

void ct_table_free(ct_table *t)
{
    ct_buf_free(&t->arena);
    free(t->cells);
}

static size_t *newrow(ct_table *t)
{
    if (t->err) return NULL;
    if (t->nrows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 32;
        size_t *p = realloc(t->cells, nc * t->ncol * sizeof *p);
        if (!p) {
            t->err = CT_ERR_NOMEM;
            return NULL;
        }
        t->cells = p;
        t->cap = nc;
    }
    return &t->cells[t->nrows++ * t->ncol];
}

/* Adds a row of ncol strings (varargs const char *). */
void ct_table_row(ct_table *t, ...)
{
    size_t *row = newrow(t);
    if (!row) return;
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->ncol; i++) {
        const char *s = va_arg(ap, const char *);
        row[i] = t->arena.len;
        if (!t->err) t->err = ct_buf_append(&t->arena, s, strlen(s) + 1);
    }
    va_end(ap);
}

void ct_table_rule(ct_table *t)
{
    size_t *row = newrow(t);
    if (!row) return;
    for (size_t i = 0; i < t->ncol; i++)
        row[i] = SIZE_MAX;
}

static ct_err pad(ct_buf *b, size_t n)
{
    static const char sp[] = "                                ";
    ct_err e = CT_OK;
    while (!e && n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        e = ct_buf_append(b, sp, k);
        n -= k;
    }
    return e;
}

/* Columns separated by two spaces; left-aligned text padded, right-aligned
 * numbers; no trailing spaces (the last column, if left-aligned, is not
 * padded, and a row whose last cells are empty ends at its last text).
 * Widths are display widths. */
ct_err ct_table_render(ct_table *t, ct_buf *b)
{
    if (t->err) return t->err;
    size_t w[CT_TABLE_MAXCOL] = {0};
    const char *base = (const char *)t->arena.data;
    for (size_t r = 0; r < t->nrows; r++) {
        size_t *row = &t->cells[r * t->ncol];
        if (row[0] == SIZE_MAX) continue;
        for (size_t i = 0; i < t->ncol; i++) {
            size_t dw = ct_text_display_width(base + row[i], strlen(base + row[i]));
            if (dw > w[i]) w[i] = dw;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < t->ncol; i++)
        total += w[i] + (i ? 2 : 0);
    ct_err e = CT_OK;
    for (size_t r = 0; !e && r < t->nrows; r++) {
        size_t *row = &t->cells[r * t->ncol];
        if (row[0] == SIZE_MAX) {
            for (size_t i = 0; !e && i < total; i++)
                e = put(b, "-");
            if (!e) e = put(b, "\n");
            continue;
        }
        for (size_t i = 0; !e && i < t->ncol; i++) {
            const char *s = base + row[i];
            size_t dw = ct_text_display_width(s, strlen(s));
            if (i) e = put(b, "  ");
            if (!e && t->align[i] == 'r') e = pad(b, w[i] - dw);
            if (!e) e = put(b, s);
            if (!e && t->align[i] == 'l' && i + 1 < t->ncol) e = pad(b, w[i] - dw);
        }
        while (!e && b->len && b->data[b->len - 1] == ' ') /* empty last cells */
            b->len--;
        if (!e) e = put(b, "\n");
    }
    return e;
}
