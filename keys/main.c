/* chitieu-keys — key files for chitieu: options, wiring, exit code (the
 * formats are in proto/ct_keys.h).
 *
 *   chitieu-keys gen NAME [--force]         NAME.key (0600) + NAME.pub; prints the public key
 *   chitieu-keys person-key FILE [--force]  the province's person-hash key (0600)
 *   chitieu-keys show FILE                  prints the public key of a .pub or .key file
 *
 * Exit status: 0 ok, 1 runtime failure (I/O, permissions), 2 usage error.
 * Never prints secret material; secrets are wiped from memory after use.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ct_keys.h"
#include "ct_opt.h"

enum { C_GEN = 1, C_PERSON = 2, C_SHOW = 4 };

typedef struct {
    bool force;
} settings;

static const ct_opt_cmd CMDS[] = {
    {.name = "gen",
     .bit = C_GEN,
     .args = "NAME [--force]",
     .npos_min = 1,
     .npos_max = 1,
     .summary = "writes NAME.key (public + secret, mode 0600) and NAME.pub (public) and prints "
                "the Z85 public key (40 characters) on stdout."},
    {.name = "person-key",
     .bit = C_PERSON,
     .args = "FILE [--force]",
     .npos_min = 1,
     .npos_max = 1,
     .summary = "writes FILE (mode 0600) with a new random 32-byte person-hash key: collectors "
                "hash national ID numbers with it (keyed BLAKE2b-256)."},
    {.name = "show",
     .bit = C_SHOW,
     .args = "FILE",
     .npos_min = 1,
     .npos_max = 1,
     .summary = "prints the Z85 public key stored in a .pub or .key file."},
    {0}};

static const ct_opt OPTS[] = {
    {.name = "force",
     .kind = CT_OPT_FLAG,
     .off = offsetof(settings, force),
     .cmds = C_GEN | C_PERSON,
     .help = "overwrite existing files (otherwise they are never replaced)"},
    {0}};

static const ct_opt_spec SPEC = {
    .prog = "chitieu-keys",
    .usage = "COMMAND ARG [--force]",
    .about = "Creates CURVE key pairs and the province's person-hash key as files.",
    .cmds = CMDS,
    .opts = OPTS,
    .epilog = "Exit status: 0 ok, 1 runtime failure (I/O, permissions), 2 usage error.",
};

static int gen(const char *name, bool force)
{
    char err[512] = "";
    ct_keypair kp;
    if (ct_keypair_generate(&kp) != CT_OK) {
        fprintf(stderr, "chitieu-keys: key generation failed\n");
        return 1;
    }
    ct_err e = ct_keypair_save(name, &kp, force, err, sizeof err);
    memset(kp.secret_z85, 0, sizeof kp.secret_z85);
    if (e != CT_OK) {
        fprintf(stderr, "chitieu-keys: %s\n", err);
        return 1;
    }
    printf("%s\n", kp.public_z85);
    return 0;
}

static int person_key(const char *path, bool force)
{
    char err[512] = "";
    unsigned char key[CT_PERSON_KEY_BYTES];
    if (ct_person_key_generate(key) != CT_OK) {
        fprintf(stderr, "chitieu-keys: key generation failed\n");
        return 1;
    }
    ct_err e = ct_person_key_save(path, key, force, err, sizeof err);
    memset(key, 0, sizeof key);
    if (e != CT_OK) {
        fprintf(stderr, "chitieu-keys: %s\n", err);
        return 1;
    }
    fprintf(stderr, "chitieu-keys: wrote %s (mode 0600); copy it only to collectors\n", path);
    return 0;
}

static int show(const char *path)
{
    char err[512] = "";
    char pub[CT_Z85_KEY_LEN + 1];
    if (ct_public_key_load(path, pub, err, sizeof err) != CT_OK) {
        fprintf(stderr, "chitieu-keys: %s\n", err);
        return 1;
    }
    printf("%s\n", pub);
    return 0;
}

int main(int argc, char **argv)
{
    settings s = {0};
    ct_opt_result res;
    if (ct_opt_parse(&SPEC, argc, argv, &s, &res) != CT_OK) return 2;
    if (res.exit_now) return 0;
    if (ct_crypto_init() != CT_OK) {
        fprintf(stderr, "chitieu-keys: cannot initialise libsodium\n");
        return 1;
    }
    switch (res.cmd->bit) {
    case C_GEN:
        return gen(res.pos[0], s.force);
    case C_PERSON:
        return person_key(res.pos[0], s.force);
    default:
        return show(res.pos[0]);
    }
}
