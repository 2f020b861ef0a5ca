/* CONTRACT (docs/PROTOCOL.md §8): a change here is a change to the protocol.
 *
 * ct_keys.h — key files: CurveZMQ key pairs and the province's person-hash key.
 *
 * CURVE key pair files (text, one "name = value" per line, '#' comments):
 *   NAME.key   public = <Z85 40 chars>\n secret = <Z85 40 chars>\n  (mode 0600)
 *   NAME.pub   public = <Z85 40 chars>\n                             (mode 0644)
 * A secret file readable by group or others is refused (CT_ERR_KEY_PERMS).
 *
 * Person key file: "person_key = <64 hex chars>" (mode 0600, same rule).
 * The person reference of a national ID is BLAKE2b-256 keyed with the person
 * key over the 12 ASCII digits (crypto_generichash, key 32 bytes). The ID
 * itself never leaves the collector.
 */
#ifndef CT_KEYS_H
#define CT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"
#include "ct_event.h"

#define CT_Z85_KEY_LEN 40
#define CT_PERSON_KEY_BYTES 32

typedef struct {
    char public_z85[CT_Z85_KEY_LEN + 1];
    char secret_z85[CT_Z85_KEY_LEN + 1];
} ct_keypair;

/* Calls sodium_init() if needed; safe to call many times. */
ct_err ct_crypto_init(void);

ct_err ct_keypair_generate(ct_keypair *kp);
/* Writes base.key (0600, O_EXCL unless force) and base.pub. */
ct_err ct_keypair_save(const char *base, const ct_keypair *kp, int force, char *err, size_t errlen);
/* Loads a .key file (checks mode) — both halves. */
ct_err ct_keypair_load(const char *path, ct_keypair *kp, char *err, size_t errlen);
/* Loads the public key from a .pub or .key file. */
ct_err ct_public_key_load(const char *path, char out[CT_Z85_KEY_LEN + 1], char *err, size_t errlen);
/* 1 if s is a syntactically valid 40-char Z85 key. */
int ct_z85_key_valid(const char *s);

ct_err ct_person_key_generate(uint8_t key[CT_PERSON_KEY_BYTES]);
ct_err ct_person_key_save(const char *path, const uint8_t key[CT_PERSON_KEY_BYTES], int force,
                          char *err, size_t errlen);
ct_err ct_person_key_load(const char *path, uint8_t key[CT_PERSON_KEY_BYTES], char *err,
                          size_t errlen);
/* national_id: exactly 12 ASCII digits, else CT_ERR_BAD_NATIONAL_ID. */
ct_err ct_person_hash(const uint8_t key[CT_PERSON_KEY_BYTES], const char *national_id,
                      uint8_t out[CT_PERSON_LEN]);

#endif
