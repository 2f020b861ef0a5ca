/* ct_ctlog.c — reader and writer of the .ctlog export format (ct_ctlog.h).
 * The reader owns one read-only mapping of the file (released by
 * ct_ctlog_close); records handed to callbacks point into it. Each object's
 * extent comes from ct_prescan_object_len (proto's one MessagePack walker). */
#include "ct_ctlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_be.h"
#include "ct_prescan.h"

/* Big-endian unsigned of n = 1, 2, 4 or 8 bytes. */
static uint64_t be(const uint8_t *p, unsigned n)
{
    return n == 1 ? p[0] : n == 2 ? ct_be16_get(p) : n == 4 ? ct_be32_get(p) : ct_be64_get(p);
}

/* ---- tiny strict readers for the header and trailer maps ---- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} rd;

static int rd_map(rd *r, uint64_t *n)
{
    if (r->pos >= r->len) return -1;
    uint8_t t = r->p[r->pos];
    if (t >= 0x80 && t <= 0x8f) {
        *n = t & 0x0fu;
        r->pos++;
        return 0;
    }
    if (t == 0xde && r->len - r->pos >= 3) {
        *n = be(r->p + r->pos + 1, 2);
        r->pos += 3;
        return 0;
    }
    return -1;
}

static int rd_str(rd *r, const uint8_t **s, size_t *n)
{
    if (r->pos >= r->len) return -1;
    uint8_t t = r->p[r->pos];
    size_t hdr = 1;
    uint64_t l;
    if (t >= 0xa0 && t <= 0xbf)
        l = t & 0x1fu;
    else if (t == 0xd9 && r->len - r->pos >= 2)
        l = r->p[r->pos + 1], hdr = 2;
    else
        return -1;
    if (l > r->len - r->pos - hdr) return -1;
    *s = r->p + r->pos + hdr;
    *n = (size_t)l;
    r->pos += hdr + (size_t)l;
    return 0;
}

static int rd_uint(rd *r, uint64_t *v)
{
    if (r->pos >= r->len) return -1;
    uint8_t t = r->p[r->pos];
    unsigned n;
    if (t <= 0x7f) {
        *v = t;
        r->pos++;
        return 0;
    }
    switch (t) {
    case 0xcc:
        n = 1;
        break;
    case 0xcd:
        n = 2;
        break;
    case 0xce:
        n = 4;
        break;
    case 0xcf:
        n = 8;
        break;
    default:
        return -1;
    }
    if (r->len - r->pos < 1 + n) return -1;
    *v = be(r->p + r->pos + 1, n);
    r->pos += 1 + n;
    return 0;
}

static int rd_bin32(rd *r, uint8_t out[32])
{
    if (r->len - r->pos < 34 || r->p[r->pos] != 0xc4 || r->p[r->pos + 1] != 32) return -1;
    memcpy(out, r->p + r->pos + 2, 32);
    r->pos += 34;
    return 0;
}

static int rd_key(rd *r, const char *want)
{
    const uint8_t *s;
    size_t n;
    if (rd_str(r, &s, &n)) return -1;
    return (n == strlen(want) && memcmp(s, want, n) == 0) ? 0 : -1;
}

static ct_err parse_header(ct_ctlog_reader *r, const char *path, char *err, size_t errlen)
{
    size_t hlen;
    if (r->len == 0 || ct_prescan_object_len(r->data, r->len, NULL, &hlen) != CT_OK) {
        snprintf(err, errlen, "%s: offset 0: not a ctlog file (no complete header map)", path);
        return CT_ERR_MALFORMED;
    }
    rd h = {r->data, hlen, 0};
    uint64_t n, v, from;
    const uint8_t *s;
    size_t sl;
    if (rd_map(&h, &n) || n != 5 || rd_key(&h, "v") || rd_uint(&h, &v) || rd_key(&h, "k") ||
        rd_str(&h, &s, &sl) || sl != 5 || memcmp(s, "ctlog", 5) != 0) {
        snprintf(err, errlen, "%s: offset 0: not a ctlog file (bad header map)", path);
        return CT_ERR_MALFORMED;
    }
    if (v != CT_CTLOG_VERSION) {
        snprintf(err, errlen, "%s: offset 0: unsupported ctlog version %llu", path,
                 (unsigned long long)v);
        return CT_ERR_BAD_VERSION;
    }
    if (rd_key(&h, "campaign") || rd_str(&h, &s, &sl) || sl == 0 || sl > CT_CAMPAIGN_ID_MAX ||
        rd_key(&h, "from") || rd_uint(&h, &from) || from == 0 || rd_key(&h, "prev") ||
        rd_bin32(&h, r->prev) || h.pos != hlen) {
        snprintf(err, errlen, "%s: offset 0: bad ctlog header (campaign/from/prev)", path);
        return CT_ERR_MALFORMED;
    }
    memcpy(r->campaign, s, sl);
    r->campaign[sl] = 0;
    r->from = from;
    r->body_off = hlen;
    return CT_OK;
}

ct_err ct_ctlog_open(const char *path, ct_ctlog_reader *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return CT_ERR_IO;
    }
    if (st.st_size == 0) {
        close(fd);
        snprintf(err, errlen, "%s: offset 0: empty file, not a ctlog file", path);
        return CT_ERR_MALFORMED;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    (void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    r->data = m;
    r->len = (size_t)st.st_size;
    ct_err e = parse_header(r, path, err, errlen);
    if (e) ct_ctlog_close(r);
    return e;
}

void ct_ctlog_close(ct_ctlog_reader *r)
{
    if (r->data) munmap((void *)r->data, r->len);
    memset(r, 0, sizeof *r);
}

static int parse_trailer(ct_ctlog_reader *r, const uint8_t *p, size_t n)
{
    rd t = {p, n, 0};
    uint64_t cnt;
    const uint8_t *s;
    size_t sl;
    if (rd_map(&t, &cnt) || cnt != 4 || rd_key(&t, "k") || rd_str(&t, &s, &sl) || sl != 3 ||
        memcmp(s, "end", 3) != 0 || rd_key(&t, "count") || rd_uint(&t, &r->trailer_count) ||
        rd_key(&t, "last") || rd_uint(&t, &r->trailer_last) || rd_key(&t, "head") ||
        rd_bin32(&t, r->trailer_head) || t.pos != n)
        return -1;
    r->has_trailer = true;
    return 0;
}

ct_err ct_ctlog_scan(ct_ctlog_reader *r, ct_ctlog_cb cb, void *arg, uint64_t *bad_index, char *err,
                     size_t errlen)
{
    size_t pos = r->body_off;
    uint64_t index = 0;
    r->has_trailer = false;
    while (pos < r->len) {
        size_t n;
        const uint8_t *p = r->data + pos;
        if (r->has_trailer) {
            snprintf(err, errlen, "offset %zu: data after the trailer", pos);
            *bad_index = index;
            return CT_ERR_TRAILING_BYTES;
        }
        if (ct_prescan_object_len(p, r->len - pos, NULL, &n) != CT_OK) {
            snprintf(err, errlen, "offset %zu: truncated or malformed object (record #%llu)", pos,
                     (unsigned long long)index);
            *bad_index = index;
            return CT_ERR_MALFORMED;
        }
        if ((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf) {
            if (parse_trailer(r, p, n) != 0) {
                snprintf(err, errlen, "offset %zu: bad trailer map", pos);
                *bad_index = index;
                return CT_ERR_MALFORMED;
            }
            pos += n;
            continue;
        }
        ct_logrec rec;
        ct_err e = ct_logrec_decode(p, n, &rec);
        if (e) {
            snprintf(err, errlen, "offset %zu: record #%llu does not decode (%s)", pos,
                     (unsigned long long)index, ct_err_name(e));
            *bad_index = index;
            return CT_ERR_STORE_CORRUPT;
        }
        ct_err rc = cb(&rec, p, n, arg);
        if (rc == CT_STOP) return CT_OK;
        if (rc) return rc;
        pos += n;
        index++;
    }
    return CT_OK;
}

ct_err ct_ctlog_check_trailer(const ct_ctlog_reader *r, uint64_t count, uint64_t last_seq,
                              const uint8_t head[CT_LOGREC_HASH_LEN], char *msg, size_t len)
{
    if (!r->has_trailer) return CT_OK;
    if (r->trailer_count != count || r->trailer_last != last_seq) {
        snprintf(msg, len,
                 "trailer: says %" PRIu64 " records ending at seq %" PRIu64 ", file holds %" PRIu64
                 " ending at seq %" PRIu64,
                 r->trailer_count, r->trailer_last, count, last_seq);
        return CT_ERR_STORE_CORRUPT;
    }
    if (memcmp(r->trailer_head, head, CT_LOGREC_HASH_LEN) != 0) {
        snprintf(msg, len, "seq %" PRIu64 ": trailer head differs from the chain", last_seq);
        return CT_ERR_STORE_CORRUPT;
    }
    return CT_OK;
}

/* ---- writers ---- */

static int pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pk_bin32(msgpack_packer *pk, const uint8_t h[32])
{
    return msgpack_pack_bin(pk, 32) || msgpack_pack_bin_body(pk, h, 32);
}

ct_err ct_ctlog_put_header(ct_buf *out, const char *campaign, uint64_t from,
                           const uint8_t prev[CT_LOGREC_HASH_LEN])
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    if (msgpack_pack_map(&pk, 5) || pk_str(&pk, "v") ||
        msgpack_pack_uint64(&pk, CT_CTLOG_VERSION) || pk_str(&pk, "k") || pk_str(&pk, "ctlog") ||
        pk_str(&pk, "campaign") || pk_str(&pk, campaign) || pk_str(&pk, "from") ||
        msgpack_pack_uint64(&pk, from) || pk_str(&pk, "prev") || pk_bin32(&pk, prev))
        return CT_ERR_NOMEM;
    return CT_OK;
}

ct_err ct_ctlog_put_trailer(ct_buf *out, uint64_t count, uint64_t last,
                            const uint8_t head[CT_LOGREC_HASH_LEN])
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ct_buf_msgpack_write);
    if (msgpack_pack_map(&pk, 4) || pk_str(&pk, "k") || pk_str(&pk, "end") ||
        pk_str(&pk, "count") || msgpack_pack_uint64(&pk, count) || pk_str(&pk, "last") ||
        msgpack_pack_uint64(&pk, last) || pk_str(&pk, "head") || pk_bin32(&pk, head))
        return CT_ERR_NOMEM;
    return CT_OK;
}
