/* ct_bootstrap.c — a follower's store from a consistent copy of another
 * node's store (see ct_bootstrap.h for the two commands, the manifest and
 * the invariants). One cleanup path per function; the temporary directory
 * of an install is removed whatever fails.
 */
#include "ct_bootstrap.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "ct_buf.h"
#include "ct_file.h"
#include "ct_logrec.h"
#include "ct_store.h"
#include "ct_text.h"

#define MANIFEST_MAGIC "chitieu-store-copy 1"
#define CHUNK ((size_t)1 << 20)

typedef ct_bootstrap_manifest manifest;

static void join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    assert(n > 0 && (size_t)n < outlen);             /* paths are shorter than PATH_MAX */
    if (n < 0 || (size_t)n >= outlen) out[0] = '\0'; /* an unusable path names no file */
}

/* Copies (when to_fd >= 0) and hashes the file at path: *bytes, digest. */
static ct_err hash_file(const char *path, int to_fd, uint64_t *bytes, uint8_t digest[32], char *msg,
                        size_t msglen)
{
    ct_err e = CT_OK;
    uint8_t *buf = malloc(CHUNK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    *bytes = 0;
    if (!buf || fd < 0) {
        snprintf(msg, msglen, "%s: %s", path, buf ? strerror(errno) : "out of memory");
        e = buf ? CT_ERR_IO : CT_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(msg, msglen, "read %s: %s", path, strerror(errno));
            e = CT_ERR_IO;
            goto out;
        }
        if (n == 0) break;
        crypto_generichash_update(&st, buf, (unsigned long long)n);
        *bytes += (uint64_t)n;
        for (ssize_t off = 0; to_fd >= 0 && off < n;) {
            ssize_t w = write(to_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                snprintf(msg, msglen, "write: %s", strerror(errno));
                e = errno == ENOSPC ? CT_ERR_DISK_FULL : CT_ERR_IO;
                goto out;
            }
            off += w;
        }
    }
    crypto_generichash_final(&st, digest, 32);
    if (to_fd >= 0 && fsync(to_fd) != 0) {
        snprintf(msg, msglen, "fsync: %s", strerror(errno));
        e = CT_ERR_IO;
    }
out:
    if (fd >= 0) close(fd);
    free(buf);
    return e;
}

ct_err ct_bootstrap_manifest_write(const char *dest, const manifest *m, char *msg, size_t msglen)
{
    char head[65], fp[65], dg[65], path[4096], text[512];
    ct_text_hex(m->head, 32, head);
    ct_text_hex(m->fingerprint, 32, fp);
    ct_text_hex(m->digest, 32, dg);
    int n =
        snprintf(text, sizeof text,
                 MANIFEST_MAGIC "\nseq %" PRIu64 "\nhead %s\nepoch %" PRIu64
                                "\ncampaign_id %s\nfingerprint %s\nbytes %" PRIu64 "\ndigest %s\n",
                 m->seq, head, m->epoch, m->campaign_id, fp, m->bytes, dg);
    join(path, sizeof path, dest, CT_BOOTSTRAP_MANIFEST);
    return ct_file_replace(path, text, (size_t)n, msg, msglen);
}

static bool hex32(const char *v, uint8_t out[32])
{
    return strlen(v) == 64 && ct_text_unhex(v, 64, out) == CT_OK;
}

static ct_err manifest_read(const char *src, manifest *m, char *msg, size_t msglen)
{
    char path[4096], line[256];
    join(path, sizeof path, src, CT_BOOTSTRAP_MANIFEST);
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msglen, "%s: %s (make the copy with --copy-store)", path, strerror(errno));
        return CT_ERR_IO;
    }
    unsigned seen = 0, lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, ' ');
        if (lineno++ == 0) {
            ok = strcmp(line, MANIFEST_MAGIC) == 0;
            continue;
        }
        if (!v) {
            ok = false;
            break;
        }
        *v++ = '\0';
        char *end = NULL;
        if (strcmp(line, "seq") == 0 || strcmp(line, "epoch") == 0 || strcmp(line, "bytes") == 0) {
            errno = 0;
            uint64_t x = strtoull(v, &end, 10);
            ok = errno == 0 && end != v && *end == '\0';
            *(line[0] == 's' ? &m->seq : line[0] == 'e' ? &m->epoch : &m->bytes) = x;
            seen |= line[0] == 's' ? 1u : line[0] == 'e' ? 2u : 4u;
        } else if (strcmp(line, "head") == 0) {
            ok = hex32(v, m->head);
            seen |= 8u;
        } else if (strcmp(line, "fingerprint") == 0) {
            ok = hex32(v, m->fingerprint);
            seen |= 16u;
        } else if (strcmp(line, "digest") == 0) {
            ok = hex32(v, m->digest);
            seen |= 32u;
        } else if (strcmp(line, "campaign_id") == 0) {
            ok = strlen(v) >= 1 && strlen(v) <= CT_CAMPAIGN_ID_MAX;
            if (ok) memcpy(m->campaign_id, v, strlen(v) + 1);
            seen |= 64u;
        } else {
            ok = false;
        }
    }
    fclose(f);
    if (!ok || seen != 127u) {
        snprintf(msg, msglen, "%s: not a chitieu store copy manifest (line %u)", path, lineno);
        return CT_ERR_STORE_CORRUPT;
    }
    return CT_OK;
}

ct_err ct_bootstrap_describe(const char *dest, size_t map_size, const ct_campaign *camp,
                             manifest *m, char *msg, size_t msglen)
{
    ct_store *copy = NULL;
    char path[4096];
    memset(m, 0, sizeof *m);
    /* what the copy holds: its own head, read from it (the copy's read
     * transaction may be later than any head read before) */
    ct_store_opts so = {
        .dir = dest, .map_size = map_size, .campaign_id = camp->id, .read_only = true};
    ct_err e = ct_store_open(&so, &copy, msg, msglen);
    if (e) return e;
    if ((e = ct_store_head(copy, &m->seq, m->head)) || (e = ct_store_epoch(copy, &m->epoch)) ||
        (e = ct_store_fingerprint(copy, m->fingerprint)))
        snprintf(msg, msglen, "cannot read the copy's head: %s", ct_err_str(e));
    ct_store_close(copy);
    if (e) return e;
    snprintf(m->campaign_id, sizeof m->campaign_id, "%s", camp->id);
    join(path, sizeof path, dest, "data.mdb");
    return hash_file(path, -1, &m->bytes, m->digest, msg, msglen);
}

ct_err ct_bootstrap_copy(const char *data, const char *dest, size_t map_size,
                         const ct_campaign *camp, char *msg, size_t msglen)
{
    ct_store *from = NULL;
    manifest m;
    char head[65], dg[65];
    ct_store_opts so = {
        .dir = data, .map_size = map_size, .campaign_id = camp->id, .read_only = true};
    ct_err e = ct_store_open(&so, &from, msg, msglen);
    if (!e) e = ct_store_copy(from, dest, msg, msglen);
    ct_store_close(from);
    if (e) return e;
    if ((e = ct_bootstrap_describe(dest, map_size, camp, &m, msg, msglen)) ||
        (e = ct_bootstrap_manifest_write(dest, &m, msg, msglen)))
        return e;
    ct_text_hex(m.head, 32, head);
    ct_text_hex(m.digest, 32, dg);
    snprintf(msg, msglen,
             "copied seq=%" PRIu64 " head=%s epoch=%" PRIu64 " bytes=%" PRIu64 " digest=%s into %s",
             m.seq, head, m.epoch, m.bytes, dg, dest);
    return CT_OK;
}

typedef struct {
    uint64_t next;
    uint8_t prev[32];
} chain_state;

static ct_err chain_cb(const ct_logrec *rec, const uint8_t *raw, size_t raw_len, void *arg)
{
    chain_state *c = arg;
    (void)raw;
    (void)raw_len;
    if (rec->seq != c->next || ct_logrec_check(rec, c->prev) != CT_OK) return CT_ERR_CHAIN;
    memcpy(c->prev, rec->hash, 32);
    c->next++;
    return CT_OK;
}

/* The copy in tmp: opened as a writer with our campaign (the store checks
 * the fingerprint and replays person states), head, epoch and chain
 * against the manifest, the follower identity and the shipped records not
 * yet counted (a copy of a follower's store) dropped. */
static ct_err check_store(const char *tmp, size_t map_size, const ct_campaign *camp,
                          const manifest *m, char *msg, size_t msglen)
{
    ct_store *s = NULL;
    ct_store_opts so = {.dir = tmp,
                        .map_size = map_size,
                        .campaign_id = camp->id,
                        .fingerprint = camp->fingerprint};
    ct_err e = ct_store_open(&so, &s, msg, msglen);
    if (!e) e = ct_store_set_campaign(s, camp, msg, msglen);
    if (e) goto out;
    uint64_t seq = 0, epoch = 0, bad = 0;
    uint8_t head[32];
    if ((e = ct_store_head(s, &seq, head)) || (e = ct_store_epoch(s, &epoch))) goto out;
    if (seq != m->seq || memcmp(head, m->head, 32) != 0 || epoch != m->epoch) {
        snprintf(msg, msglen,
                 "the copy's head (seq %" PRIu64 ", epoch %" PRIu64
                 ") is not its manifest's (seq %" PRIu64 ", epoch %" PRIu64 ")",
                 seq, epoch, m->seq, m->epoch);
        e = CT_ERR_CHAIN;
        goto out;
    }
    chain_state c = {.next = 1};
    memset(c.prev, 0, sizeof c.prev);
    e = ct_store_log_scan(s, 1, 0, chain_cb, &c, &bad);
    if (!e && (c.next != seq + 1 || memcmp(c.prev, head, 32) != 0)) e = CT_ERR_CHAIN;
    if (e) {
        snprintf(msg, msglen, "the copy's log does not chain at seq %" PRIu64 " (%s)",
                 bad ? bad : c.next, ct_err_name(e));
        e = CT_ERR_CHAIN;
        goto out;
    }
    e = ct_store_forget_follower_id(s);
    /* records a follower had received and not counted are not part of the
     * copy's head: the new follower receives them again after it */
    if (!e) e = ct_store_ship_drop(s);
out:
    ct_store_close(s);
    return e;
}

/* The rename of a directory is durable once its parent is synced. */
static void sync_parent(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static void remove_tmp(const char *tmp)
{
    char p[4096];
    join(p, sizeof p, tmp, "data.mdb");
    unlink(p);
    join(p, sizeof p, tmp, "lock.mdb");
    unlink(p);
    join(p, sizeof p, tmp, "writer.lock");
    unlink(p);
    rmdir(tmp);
}

ct_err ct_bootstrap_install(const char *src, const char *data, size_t map_size,
                            const ct_campaign *camp, bool *installed, char *msg, size_t msglen)
{
    char path[4096], tmp[4096];
    struct stat sb;
    *installed = false;
    msg[0] = '\0';
    join(path, sizeof path, data, "data.mdb");
    if (stat(path, &sb) == 0) return CT_OK;
    manifest m;
    ct_err e = manifest_read(src, &m, msg, msglen);
    if (e) return e;
    if (strcmp(m.campaign_id, camp->id) != 0 || memcmp(m.fingerprint, camp->fingerprint, 32) != 0) {
        char a[65], b[65];
        ct_text_hex(m.fingerprint, 32, a);
        ct_text_hex(camp->fingerprint, 32, b);
        snprintf(msg, msglen,
                 "the copy counts with campaign %s fingerprint %s, this follower with %s "
                 "fingerprint %s: give it the primary's campaign file and roster",
                 m.campaign_id, a, camp->id, b);
        return CT_ERR_CAMPAIGN_MISMATCH;
    }
    snprintf(tmp, sizeof tmp, "%s.copy-XXXXXX", data);
    if (!mkdtemp(tmp)) {
        snprintf(msg, msglen, "cannot create a directory beside %s: %s", data, strerror(errno));
        return CT_ERR_IO;
    }
    join(path, sizeof path, tmp, "data.mdb");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint64_t bytes = 0;
    uint8_t digest[32];
    char from[4096];
    join(from, sizeof from, src, "data.mdb");
    if (fd < 0) {
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        e = CT_ERR_IO;
        goto out;
    }
    e = hash_file(from, fd, &bytes, digest, msg, msglen);
    close(fd);
    if (e) goto out;
    if (bytes != m.bytes || memcmp(digest, m.digest, 32) != 0) {
        snprintf(msg, msglen,
                 "%s is not the file its manifest describes (%" PRIu64 " bytes, manifest %" PRIu64
                 "; digest %s): damaged or changed after the copy",
                 from, bytes, m.bytes, memcmp(digest, m.digest, 32) ? "differs" : "equal");
        e = CT_ERR_STORE_CORRUPT;
        goto out;
    }
    if ((e = check_store(tmp, map_size, camp, &m, msg, msglen))) goto out;
    join(path, sizeof path, tmp, "lock.mdb");
    unlink(path);
    (void)rmdir(data); /* an empty DIR is replaced; anything else makes rename fail */
    if (rename(tmp, data) != 0) {
        snprintf(msg, msglen, "cannot rename %s to %s: %s", tmp, data, strerror(errno));
        e = CT_ERR_IO;
        goto out;
    }
    sync_parent(data);
    *installed = true;
    char head[65];
    ct_text_hex(m.head, 32, head);
    snprintf(msg, msglen,
             "installed a copy from %s: seq=%" PRIu64 " head=%s epoch=%" PRIu64
             " (digest, campaign and chain 1..%" PRIu64 " checked)",
             src, m.seq, head, m.epoch, m.seq);
out:
    if (!*installed) remove_tmp(tmp);
    return e;
}
