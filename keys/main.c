/* chitieu-keys — key files for chitieu (issue 7).
 *
 *   chitieu-keys gen NAME [--force]         NAME.key (0600) + NAME.pub; prints the public key
 *   chitieu-keys person-key FILE [--force]  the province's person-hash key (0600)
 *   chitieu-keys show FILE                  prints the public key of a .pub or .key file
 *
 * Exit status: 0 ok, 1 runtime failure (I/O, permissions), 2 usage error.
 * Never prints secret material.
 */
#include <stdio.h>
#include <string.h>

#include "ct_keys.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: chitieu-keys gen NAME [--force]\n"
               "       chitieu-keys person-key FILE [--force]\n"
               "       chitieu-keys show FILE\n"
               "       chitieu-keys --help | --version\n"
               "\n"
               "gen         writes NAME.key (public + secret, mode 0600) and NAME.pub (public)\n"
               "            and prints the Z85 public key (40 characters) on stdout.\n"
               "person-key  writes FILE (mode 0600) with a new random 32-byte person-hash key:\n"
               "            collectors hash national ID numbers with it (keyed BLAKE2b-256).\n"
               "show        prints the Z85 public key stored in a .pub or .key file.\n"
               "--force     overwrite existing files (otherwise they are never replaced).\n");
}

int main(int argc, char **argv)
{
    const char *cmd = NULL, *arg = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("chitieu-keys %s\n", CT_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "chitieu-keys: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = argv[i];
        } else if (!arg) {
            arg = argv[i];
        } else {
            fprintf(stderr, "chitieu-keys: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!cmd || !arg || (strcmp(cmd, "show") == 0 && force)) {
        usage(stderr);
        return 2;
    }
    if (ct_crypto_init() != CT_OK) {
        fprintf(stderr, "chitieu-keys: cannot initialise libsodium\n");
        return 1;
    }
    char err[512] = "";
    if (strcmp(cmd, "gen") == 0) {
        ct_keypair kp;
        if (ct_keypair_generate(&kp) != CT_OK) {
            fprintf(stderr, "chitieu-keys: key generation failed\n");
            return 1;
        }
        ct_err e = ct_keypair_save(arg, &kp, force, err, sizeof err);
        memset(kp.secret_z85, 0, sizeof kp.secret_z85);
        if (e != CT_OK) {
            fprintf(stderr, "chitieu-keys: %s\n", err);
            return 1;
        }
        printf("%s\n", kp.public_z85);
        return 0;
    }
    if (strcmp(cmd, "person-key") == 0) {
        unsigned char key[CT_PERSON_KEY_BYTES];
        if (ct_person_key_generate(key) != CT_OK) {
            fprintf(stderr, "chitieu-keys: key generation failed\n");
            return 1;
        }
        ct_err e = ct_person_key_save(arg, key, force, err, sizeof err);
        memset(key, 0, sizeof key);
        if (e != CT_OK) {
            fprintf(stderr, "chitieu-keys: %s\n", err);
            return 1;
        }
        fprintf(stderr, "chitieu-keys: wrote %s (mode 0600); copy it only to collectors\n", arg);
        return 0;
    }
    if (strcmp(cmd, "show") == 0) {
        char pub[CT_Z85_KEY_LEN + 1];
        ct_err e = ct_public_key_load(arg, pub, err, sizeof err);
        if (e != CT_OK) {
            fprintf(stderr, "chitieu-keys: %s\n", err);
            return 1;
        }
        printf("%s\n", pub);
        return 0;
    }
    fprintf(stderr, "chitieu-keys: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
