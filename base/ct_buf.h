/* ct_buf.h — a growable byte buffer, the one output type of every encoder.
 *
 * Invariants: len <= cap; data is NULL iff cap == 0. The owner calls
 * ct_buf_free() exactly once; ct_buf_reset() keeps the memory for reuse.
 * ct_buf_msgpack_write() lets a msgpack_packer write into a ct_buf
 * (msgpack_packer_init(&pk, buf, ct_buf_msgpack_write)).
 */
#ifndef CT_BUF_H
#define CT_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} ct_buf;

#define CT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

ct_err ct_buf_reserve(ct_buf *b, size_t extra);
ct_err ct_buf_append(ct_buf *b, const void *p, size_t n);
void ct_buf_reset(ct_buf *b);
void ct_buf_free(ct_buf *b);
/* Appends printf-formatted text (any length). */
ct_err ct_buf_printf(ct_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* msgpack-c write callback: data is a ct_buf*. Returns 0 or -1 on ENOMEM. */
int ct_buf_msgpack_write(void *data, const char *p, size_t n);

/* A borrowed byte range (points into someone else's memory). */
typedef struct {
    const uint8_t *data;
    size_t len;
} ct_bytes;

#endif
