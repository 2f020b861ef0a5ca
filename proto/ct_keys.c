/* ct_keys.c — CURVE key pair files, the person-hash key file, the person hash.
 *
 * Invariants: secret material is written only to files created with mode 0600
 * (O_EXCL unless force; with force an existing file is truncated and chmod'ed
 * to 0600 before the secret is written); a secret file whose mode grants any
 * access to group or others is refused with CT_ERR_KEY_PERMS before its
 * contents are read. Z85 encoding is libzmq's (zmq_z85_encode/decode); key
 * generation and hashing are libsodium's. Secrets on the stack are wiped with
 * sodium_memzero before returning.
 */
#include "ct_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define CT_KEYFILE_MAX 4096

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

ct_err ct_crypto_init(void)
{
    return sodium_init() < 0 ? CT_ERR_INTERNAL : CT_OK;
}

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                ".-:+=^!/*?&<>()[]{}@%$#";

int ct_z85_key_valid(const char *s)
{
    if (!s || strlen(s) != CT_Z85_KEY_LEN) return 0;
    for (size_t i = 0; i < CT_Z85_KEY_LEN; i++)
        if (!strchr(z85_chars, s[i])) return 0;
    uint8_t raw[32];
    /* Each 5-char group must decode to a value < 2^32. */
    return zmq_z85_decode(raw, s) != NULL;
}

ct_err ct_keypair_generate(ct_keypair *kp)
{
    if (!kp) return CT_ERR_ARG;
    if (ct_crypto_init() != CT_OK) return CT_ERR_INTERNAL;
    uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    ct_err e = CT_OK;
    if (!zmq_z85_encode(kp->public_z85, pk, 32) || !zmq_z85_encode(kp->secret_z85, sk, 32))
        e = CT_ERR_INTERNAL;
    sodium_memzero(sk, sizeof sk);
    return e;
}

/* Creates path with mode and writes text; 0600 files are chmod'ed even when
 * they existed (force). */
static ct_err write_file(const char *path, const char *text, mode_t mode, int force, char *err,
                         size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            seterr(err, errlen, "%s: file exists (use --force to overwrite)", path);
        else
            seterr(err, errlen, "%s: %s", path, strerror(errno));
        return CT_ERR_IO;
    }
    ct_err e = CT_OK;
    if (fchmod(fd, mode) != 0) {
        seterr(err, errlen, "%s: chmod: %s", path, strerror(errno));
        e = CT_ERR_IO;
    }
    size_t len = strlen(text), off = 0;
    while (e == CT_OK && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            seterr(err, errlen, "%s: write: %s", path, strerror(errno));
            e = CT_ERR_IO;
            break;
        }
        off += (size_t)w;
    }
    if (e == CT_OK && fsync(fd) != 0) {
        seterr(err, errlen, "%s: fsync: %s", path, strerror(errno));
        e = CT_ERR_IO;
    }
    if (close(fd) != 0 && e == CT_OK) {
        seterr(err, errlen, "%s: close: %s", path, strerror(errno));
        e = CT_ERR_IO;
    }
    return e;
}

ct_err ct_keypair_save(const char *base, const ct_keypair *kp, int force, char *err, size_t errlen)
{
    if (!base || !kp || !ct_z85_key_valid(kp->public_z85) || !ct_z85_key_valid(kp->secret_z85)) {
        seterr(err, errlen, "invalid key pair");
        return CT_ERR_ARG;
    }
    char kpath[4096], ppath[4096];
    if ((size_t)snprintf(kpath, sizeof kpath, "%s.key", base) >= sizeof kpath ||
        (size_t)snprintf(ppath, sizeof ppath, "%s.pub", base) >= sizeof ppath) {
        seterr(err, errlen, "%s: path too long", base);
        return CT_ERR_ARG;
    }
    if (!force) {
        struct stat st;
        if (lstat(kpath, &st) == 0 || lstat(ppath, &st) == 0) {
            seterr(err, errlen, "%s: file exists (use --force to overwrite)",
                   lstat(kpath, &st) == 0 ? kpath : ppath);
            return CT_ERR_IO;
        }
    }
    char text[512];
    snprintf(text, sizeof text,
             "# chitieu CURVE key pair (secret: keep this file mode 0600)\n"
             "public = %s\nsecret = %s\n",
             kp->public_z85, kp->secret_z85);
    ct_err e = write_file(kpath, text, 0600, force, err, errlen);
    sodium_memzero(text, sizeof text);
    if (e != CT_OK) return e;
    snprintf(text, sizeof text, "# chitieu CURVE public key\npublic = %s\n", kp->public_z85);
    return write_file(ppath, text, 0644, force, err, errlen);
}

/* Reads a key file (<= 4 KiB). If secret, refuses group/other access. */
static ct_err read_key_file(const char *path, int secret, char *buf, size_t cap, char *err,
                            size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return CT_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(err, errlen, "%s: not a regular file", path);
        close(fd);
        return CT_ERR_IO;
    }
    if (secret && (st.st_mode & 077)) {
        seterr(err, errlen,
               "%s: secret key file is accessible by group or others (mode %04o); "
               "run: chmod 600 %s",
               path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return CT_ERR_KEY_PERMS;
    }
    size_t n = 0;
    for (;;) {
        if (n >= cap - 1) {
            seterr(err, errlen, "%s: file too large for a key file", path);
            close(fd);
            return CT_ERR_CONFIG;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return CT_ERR_IO;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        seterr(err, errlen, "%s: not a text file", path);
        return CT_ERR_CONFIG;
    }
    return CT_OK;
}

typedef struct {
    const char *name;
    char *value; /* receives the value */
    size_t cap;
    unsigned line; /* 0 = not seen */
} kv_slot;

/* Parses "name = value" lines into slots; unknown names and duplicates fail. */
static ct_err parse_kv(const char *path, char *text, kv_slot *slots, size_t nslots, char *err,
                       size_t errlen)
{
    unsigned line = 0;
    char *save = NULL;
    for (char *p = text; p; p = save) {
        line++;
        save = strchr(p, '\n');
        if (save) *save++ = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#') continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            seterr(err, errlen, "%s:%u: expected 'name = value'", path, line);
            return CT_ERR_CONFIG;
        }
        char *ne = eq;
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        *ne = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        kv_slot *s = NULL;
        for (size_t i = 0; i < nslots; i++)
            if (strcmp(slots[i].name, p) == 0) s = &slots[i];
        if (!s) {
            seterr(err, errlen, "%s:%u: unknown key '%s'", path, line, p);
            return CT_ERR_CONFIG;
        }
        if (s->line) {
            seterr(err, errlen, "%s:%u: duplicate key '%s' (first at line %u)", path, line, p,
                   s->line);
            return CT_ERR_CONFIG;
        }
        if (strlen(v) >= s->cap) {
            seterr(err, errlen, "%s:%u: value of '%s' is too long", path, line, p);
            return CT_ERR_CONFIG;
        }
        strcpy(s->value, v);
        s->line = line;
    }
    return CT_OK;
}

ct_err ct_keypair_load(const char *path, ct_keypair *kp, char *err, size_t errlen)
{
    if (!path || !kp) return CT_ERR_ARG;
    char text[CT_KEYFILE_MAX];
    ct_err e = read_key_file(path, 1, text, sizeof text, err, errlen);
    if (e != CT_OK) return e;
    ct_keypair k;
    memset(&k, 0, sizeof k);
    kv_slot slots[2] = {{"public", k.public_z85, sizeof k.public_z85, 0},
                        {"secret", k.secret_z85, sizeof k.secret_z85, 0}};
    e = parse_kv(path, text, slots, 2, err, errlen);
    sodium_memzero(text, sizeof text);
    if (e == CT_OK) {
        for (int i = 0; i < 2 && e == CT_OK; i++) {
            if (!slots[i].line) {
                seterr(err, errlen, "%s: missing '%s = ...'", path, slots[i].name);
                e = CT_ERR_CONFIG;
            } else if (!ct_z85_key_valid(slots[i].value)) {
                seterr(err, errlen, "%s:%u: '%s' is not a 40-character Z85 key", path,
                       slots[i].line, slots[i].name);
                e = CT_ERR_CONFIG;
            }
        }
    }
    if (e == CT_OK) {
        uint8_t sk[32], pk[32], derived[32];
        zmq_z85_decode(sk, k.secret_z85);
        zmq_z85_decode(pk, k.public_z85);
        if (crypto_scalarmult_base(derived, sk) != 0 || sodium_memcmp(derived, pk, 32) != 0) {
            seterr(err, errlen, "%s: public key does not match the secret key", path);
            e = CT_ERR_CONFIG;
        }
        sodium_memzero(sk, sizeof sk);
    }
    if (e == CT_OK) *kp = k;
    sodium_memzero(&k, sizeof k);
    return e;
}

ct_err ct_public_key_load(const char *path, char out[CT_Z85_KEY_LEN + 1], char *err, size_t errlen)
{
    if (!path || !out) return CT_ERR_ARG;
    char text[CT_KEYFILE_MAX];
    ct_err e = read_key_file(path, 0, text, sizeof text, err, errlen);
    if (e != CT_OK) return e;
    char pub[CT_Z85_KEY_LEN + 1] = "", sec[CT_Z85_KEY_LEN + 1] = "";
    kv_slot slots[2] = {{"public", pub, sizeof pub, 0}, {"secret", sec, sizeof sec, 0}};
    e = parse_kv(path, text, slots, 2, err, errlen);
    sodium_memzero(text, sizeof text);
    sodium_memzero(sec, sizeof sec);
    if (e != CT_OK) return e;
    if (!slots[0].line) {
        seterr(err, errlen, "%s: missing 'public = ...'", path);
        return CT_ERR_CONFIG;
    }
    if (!ct_z85_key_valid(pub)) {
        seterr(err, errlen, "%s:%u: 'public' is not a 40-character Z85 key", path, slots[0].line);
        return CT_ERR_CONFIG;
    }
    memcpy(out, pub, CT_Z85_KEY_LEN + 1);
    return CT_OK;
}

ct_err ct_person_key_generate(uint8_t key[CT_PERSON_KEY_BYTES])
{
    if (!key) return CT_ERR_ARG;
    if (ct_crypto_init() != CT_OK) return CT_ERR_INTERNAL;
    crypto_generichash_keygen(key);
    return CT_OK;
}

ct_err ct_person_key_save(const char *path, const uint8_t key[CT_PERSON_KEY_BYTES], int force,
                          char *err, size_t errlen)
{
    if (!path || !key) return CT_ERR_ARG;
    char hex[2 * CT_PERSON_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, key, CT_PERSON_KEY_BYTES);
    char text[256];
    snprintf(text, sizeof text,
             "# chitieu person-hash key of the province (secret: mode 0600, never in events)\n"
             "person_key = %s\n",
             hex);
    ct_err e = write_file(path, text, 0600, force, err, errlen);
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(text, sizeof text);
    return e;
}

ct_err ct_person_key_load(const char *path, uint8_t key[CT_PERSON_KEY_BYTES], char *err,
                          size_t errlen)
{
    if (!path || !key) return CT_ERR_ARG;
    char text[CT_KEYFILE_MAX];
    ct_err e = read_key_file(path, 1, text, sizeof text, err, errlen);
    if (e != CT_OK) return e;
    char hex[2 * CT_PERSON_KEY_BYTES + 1] = "";
    kv_slot slots[1] = {{"person_key", hex, sizeof hex, 0}};
    e = parse_kv(path, text, slots, 1, err, errlen);
    sodium_memzero(text, sizeof text);
    if (e == CT_OK && !slots[0].line) {
        seterr(err, errlen, "%s: missing 'person_key = ...'", path);
        e = CT_ERR_CONFIG;
    }
    size_t bin_len = 0;
    if (e == CT_OK &&
        (strlen(hex) != 2 * CT_PERSON_KEY_BYTES ||
         sodium_hex2bin(key, CT_PERSON_KEY_BYTES, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
         bin_len != CT_PERSON_KEY_BYTES)) {
        seterr(err, errlen, "%s:%u: person_key must be 64 hexadecimal characters", path,
               slots[0].line);
        e = CT_ERR_CONFIG;
    }
    sodium_memzero(hex, sizeof hex);
    return e;
}

ct_err ct_person_hash(const uint8_t key[CT_PERSON_KEY_BYTES], const char *national_id,
                      uint8_t out[CT_PERSON_LEN])
{
    if (!key || !national_id || !out) return CT_ERR_ARG;
    for (int i = 0; i < 12; i++)
        if (national_id[i] < '0' || national_id[i] > '9') return CT_ERR_BAD_NATIONAL_ID;
    if (national_id[12] != '\0') return CT_ERR_BAD_NATIONAL_ID;
    if (crypto_generichash(out, CT_PERSON_LEN, (const unsigned char *)national_id, 12, key,
                           CT_PERSON_KEY_BYTES) != 0)
        return CT_ERR_INTERNAL;
    return CT_OK;
}
