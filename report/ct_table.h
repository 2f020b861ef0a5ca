/* ct_table.h — a terminal table of UTF-8 cells for the text reports
 * (report/ct_status_render.c, report/ct_national_render.c): columns separated
 * by two spaces, left-aligned text, right-aligned numbers, display widths from
 * base/ct_text, no trailing spaces. A row with no cells is a rule.
 *
 * Invariants: the first allocation failure is kept in err and every later
 * call is a no-op; ct_table_render returns it.
 */
#ifndef CT_TABLE_H
#define CT_TABLE_H

#include <stddef.h>

#include "ct_buf.h"
#include "ct_error.h"

#define CT_TABLE_MAXCOL 16

/* A table of UTF-8 cells; cells live in one arena, rows hold offsets.
 * A row with ncol == 0 is a rule (dashes across the table's width). */
typedef struct {
    size_t ncol;
    char align[CT_TABLE_MAXCOL]; /* 'l' or 'r' */
    ct_buf arena;
    size_t *cells; /* nrows * ncol offsets into arena; SIZE_MAX for a rule row */
    size_t nrows;
    size_t cap;
    ct_err err;
} ct_table;

/* align: one 'l' or 'r' per column (at most CT_TABLE_MAXCOL). */
void ct_table_init(ct_table *t, const char *align);
void ct_table_free(ct_table *t);
/* Adds a row of ncol strings (varargs const char *). */
void ct_table_row(ct_table *t, ...);
void ct_table_rule(ct_table *t);
ct_err ct_table_render(ct_table *t, ct_buf *b);

#endif
