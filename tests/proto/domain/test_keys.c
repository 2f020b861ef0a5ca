/* test_keys.c — key files (modes, O_EXCL, refusal of readable secrets,
 * malformed files), Z85 validation, the person hash (known answer computed
 * independently with Python's hashlib.blake2b(digest_size=32, key=...)), and
 * the chitieu-keys binary (real process, real files in a temp directory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct_keys.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ct-keys-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    return ct_crypto_init() == CT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_text(const char *p, const char *text, mode_t mode)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_mode & 07777;
}

static void test_keypair_files(void **state)
{
    (void)state;
    char base[256], kp_path[256], pub_path[256], err[512];
    path(base, sizeof base, "server");
    path(kp_path, sizeof kp_path, "server.key");
    path(pub_path, sizeof pub_path, "server.pub");
    ct_keypair kp, back;
    assert_int_equal(ct_keypair_generate(&kp), CT_OK);
    assert_true(ct_z85_key_valid(kp.public_z85));
    assert_true(ct_z85_key_valid(kp.secret_z85));
    assert_string_not_equal(kp.public_z85, kp.secret_z85);
    assert_int_equal(ct_keypair_save(base, &kp, 0, err, sizeof err), CT_OK);
    assert_int_equal(mode_of(kp_path), 0600);
    assert_int_equal(mode_of(pub_path), 0644);
    assert_int_equal(ct_keypair_load(kp_path, &back, err, sizeof err), CT_OK);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, kp.secret_z85);
    char pub[CT_Z85_KEY_LEN + 1];
    assert_int_equal(ct_public_key_load(pub_path, pub, err, sizeof err), CT_OK);
    assert_string_equal(pub, kp.public_z85);
    assert_int_equal(ct_public_key_load(kp_path, pub, err, sizeof err), CT_OK);
    assert_string_equal(pub, kp.public_z85);

    /* never overwritten without force */
    ct_keypair kp2;
    assert_int_equal(ct_keypair_generate(&kp2), CT_OK);
    assert_int_equal(ct_keypair_save(base, &kp2, 0, err, sizeof err), CT_ERR_IO);
    assert_non_null(strstr(err, "exists"));
    assert_int_equal(ct_keypair_load(kp_path, &back, err, sizeof err), CT_OK);
    assert_string_equal(back.secret_z85, kp.secret_z85);
    /* force: replaced, and an existing 0644 secret file is put back to 0600 */
    assert_int_equal(chmod(kp_path, 0644), 0);
    assert_int_equal(ct_keypair_save(base, &kp2, 1, err, sizeof err), CT_OK);
    assert_int_equal(mode_of(kp_path), 0600);
    assert_int_equal(ct_keypair_load(kp_path, &back, err, sizeof err), CT_OK);
    assert_string_equal(back.secret_z85, kp2.secret_z85);

    /* group/other access refused, with a clear message */
    static const mode_t bad_modes[] = {0644, 0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        assert_int_equal(chmod(kp_path, bad_modes[i]), 0);
        err[0] = 0;
        assert_int_equal(ct_keypair_load(kp_path, &back, err, sizeof err), CT_ERR_KEY_PERMS);
        assert_non_null(strstr(err, kp_path));
        assert_non_null(strstr(err, "chmod 600"));
    }
    assert_int_equal(chmod(kp_path, 0400), 0);
    assert_int_equal(ct_keypair_load(kp_path, &back, err, sizeof err), CT_OK);
    /* the public half may be read from a readable file */
    assert_int_equal(chmod(kp_path, 0644), 0);
    assert_int_equal(ct_public_key_load(kp_path, pub, err, sizeof err), CT_OK);
    assert_int_equal(ct_keypair_load("/nonexistent/x.key", &back, err, sizeof err),
                     CT_ERR_NOT_FOUND);
}

static void test_keypair_malformed(void **state)
{
    (void)state;
    char p[256], err[512];
    ct_keypair kp;
    path(p, sizeof p, "bad.key");
    /* the key pair of the zmq_curve(7) manual: public derived from secret matches */
    write_text(p,
               "# comment\n\npublic = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n"
               "secret = D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\n",
               0600);
    assert_int_equal(ct_keypair_load(p, &kp, err, sizeof err), CT_OK);
    assert_string_equal(kp.public_z85, "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");

    struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"public = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\nsecret = "
         "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n",
         "does not match"},
        {"public = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n", "missing 'secret"},
        {"public = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\nsecret = short\n", ":2: 'secret'"},
        {"public = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\ncolour = blue\n",
         ":2: unknown key 'colour'"},
        {"public = Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\npublic = x\n", ":2: duplicate key"},
        {"just some text\n", ":1: expected 'name = value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(p, cases[i].text, 0600);
        err[0] = 0;
        assert_int_equal(ct_keypair_load(p, &kp, err, sizeof err), CT_ERR_CONFIG);
        if (!strstr(err, cases[i].msg)) fail_msg("case %zu: '%s'", i, err);
    }
}

static void test_z85(void **state)
{
    (void)state;
    assert_true(ct_z85_key_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"));
    assert_false(ct_z85_key_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI"));   /* 39 */
    assert_false(ct_z85_key_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hIDx")); /* 41 */
    assert_false(ct_z85_key_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI~"));  /* '~' */
    assert_false(ct_z85_key_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI\""));
    assert_false(ct_z85_key_valid("%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%")); /* > 2^32 */
    assert_false(ct_z85_key_valid(""));
    assert_false(ct_z85_key_valid(NULL));
}

static void test_person_key_and_hash(void **state)
{
    (void)state;
    char p[256], err[512];
    path(p, sizeof p, "person.key");
    uint8_t key[CT_PERSON_KEY_BYTES], back[CT_PERSON_KEY_BYTES];
    assert_int_equal(ct_person_key_generate(key), CT_OK);
    assert_int_equal(ct_person_key_save(p, key, 0, err, sizeof err), CT_OK);
    assert_int_equal(mode_of(p), 0600);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_OK);
    assert_memory_equal(key, back, sizeof key);
    assert_int_equal(ct_person_key_save(p, key, 0, err, sizeof err), CT_ERR_IO);
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_ERR_KEY_PERMS);
    assert_non_null(strstr(err, "chmod 600"));
    write_text(p, "person_key = 00112233\n", 0600);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_ERR_CONFIG);
    assert_non_null(strstr(err, ":1: person_key must be 64 hexadecimal"));
    write_text(p, "person_key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
               0600);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_ERR_CONFIG);
    write_text(p, "# empty\n", 0600);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_ERR_CONFIG);
    assert_non_null(strstr(err, "missing 'person_key"));
    write_text(p, "person_key = 000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f\n",
               0600);
    assert_int_equal(ct_person_key_load(p, back, err, sizeof err), CT_OK);

    /* known answer: key = 00 01 .. 1f, ID 079123456789 */
    static const uint8_t want[32] = {0xa5, 0xdb, 0xaf, 0x21, 0x84, 0xf4, 0x4e, 0xec,
                                     0x84, 0x8b, 0x80, 0x24, 0x23, 0x74, 0x7b, 0x00,
                                     0xa1, 0xce, 0x12, 0x28, 0x5d, 0x0a, 0x77, 0x0f,
                                     0x12, 0xbf, 0xa7, 0xff, 0x57, 0x8b, 0x24, 0xfc};
    uint8_t k[32], h[CT_PERSON_LEN];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    assert_memory_equal(back, k, 32);
    assert_int_equal(ct_person_hash(k, "079123456789", h), CT_OK);
    assert_memory_equal(h, want, 32);
    uint8_t k2[32];
    memset(k2, 0xff, sizeof k2);
    static const uint8_t want2[32] = {0xd4, 0xc0, 0x13, 0xf6, 0x21, 0xc8, 0xc4, 0x25,
                                      0xb5, 0xce, 0xae, 0x9a, 0x5d, 0x33, 0xaa, 0x59,
                                      0x21, 0xa9, 0xe5, 0x62, 0x1f, 0xfa, 0x5d, 0x3a,
                                      0x8e, 0x5e, 0xe6, 0xf7, 0x19, 0x58, 0x0d, 0x34};
    assert_int_equal(ct_person_hash(k2, "000000000000", h), CT_OK);
    assert_memory_equal(h, want2, 32);

    static const char *bad[] = {"07912345678",   "0791234567890", "07912345678x", "",
                                "079 123456789", "0791234567 8",  "ABCDEFGHIJKL", "-79123456789",
                                "079123456789\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(h, 0x5a, sizeof h);
        assert_int_equal(ct_person_hash(k, bad[i], h), CT_ERR_BAD_NATIONAL_ID);
        assert_int_equal(h[0], 0x5a);
    }
}

/* Runs a shell command; returns its exit status, output in out. */
static int run(const char *cmd, char *out, size_t n)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t len = fread(out, 1, n - 1, f);
    out[len] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_binary(void **state)
{
    (void)state;
    const char *bin = getenv("CT_BIN");
    if (!bin) skip();
    char cmd[1024], out[512], out2[512];
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' gen '%s/coll672' 2>&1", bin, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_int_equal(strlen(out), 41); /* 40 + '\n' */
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' show '%s/coll672.pub'", bin, dir);
    assert_int_equal(run(cmd, out2, sizeof out2), 0);
    assert_string_equal(out, out2);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' gen '%s/coll672' 2>&1", bin, dir);
    assert_int_equal(run(cmd, out2, sizeof out2), 1);
    assert_non_null(strstr(out2, "exists"));
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' gen '%s/coll672' --force", bin, dir);
    assert_int_equal(run(cmd, out2, sizeof out2), 0);
    assert_string_not_equal(out, out2);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' person-key '%s/p.key' 2>/dev/null", bin, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    char p[256];
    path(p, sizeof p, "p.key");
    assert_int_equal(mode_of(p), 0600);
    uint8_t k[32];
    char err[256];
    assert_int_equal(ct_person_key_load(p, k, err, sizeof err), CT_OK);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' --help", bin);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' --version", bin);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "chitieu-keys "));
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' frobnicate x 2>/dev/null", bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' gen 2>/dev/null", bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s/chitieu-keys' gen x --bogus 2>/dev/null", bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keypair_files), cmocka_unit_test(test_keypair_malformed),
        cmocka_unit_test(test_z85),           cmocka_unit_test(test_person_key_and_hash),
        cmocka_unit_test(test_binary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
