/* ct_buf.c — growable byte buffer (see ct_buf.h). Growth is geometric. */
#include "ct_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ct_err ct_buf_reserve(ct_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return CT_OK;
    size_t need = b->len + extra;
    if (need < b->len) return CT_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return CT_ERR_NOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) return CT_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return CT_OK;
}

ct_err ct_buf_append(ct_buf *b, const void *p, size_t n)
{
    if (n == 0) return CT_OK;
    ct_err e = ct_buf_reserve(b, n);
    if (e) return e;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return CT_OK;
}

void ct_buf_reset(ct_buf *b)
{
    b->len = 0;
}

void ct_buf_free(ct_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ct_buf_msgpack_write(void *data, const char *p, size_t n)
{
    return ct_buf_append((ct_buf *)data, p, n) == CT_OK ? 0 : -1;
}

ct_err ct_buf_printf(ct_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return CT_ERR_INTERNAL;
    if ((size_t)n < sizeof tmp) return ct_buf_append(b, tmp, (size_t)n);
    ct_err e = ct_buf_reserve(b, (size_t)n + 1);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CT_OK;
}
