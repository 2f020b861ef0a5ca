/* ct_form.h — the office screen's request bodies: application/x-www-form-
 * urlencoded, read against a fixed list of fields, bounded and checked
 * before any value is used.
 *
 * Rules (each refusal names the field and says why, in field/why):
 *   - only the listed names; each at most once; the required ones present
 *     (a required field given empty counts as missing);
 *   - '+' is a space, %XX a byte; a malformed escape is refused;
 *   - a decoded value holds at most its field's max bytes, no NUL byte, no
 *     other control character (below 0x20, or 0x7F), and is valid UTF-8.
 * Values are NUL-terminated copies owned by the ct_form; ct_form_free wipes
 * them (a national ID or a password passes through here).
 */
#ifndef CT_FORM_H
#define CT_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_error.h"

#define CT_FORM_FIELDS_MAX 16
#define CT_FORM_BODY_MAX 8192 /* bytes of a whole body */

typedef struct {
    const char *name; /* NULL ends a list */
    size_t max;       /* bytes after decoding */
    bool required;
} ct_form_field;

typedef struct {
    const ct_form_field *spec;
    char *v[CT_FORM_FIELDS_MAX]; /* NULL: not given */
} ct_form;

/* Parses body[0..len) against spec. On error f holds nothing (freed),
 * field names the culprit ("" for the body as a whole) and why says what is
 * wrong (never echoing the value). CT_ERR_NOMEM, or CT_ERR_BAD_VALUE. */
ct_err ct_form_parse(const char *body, size_t len, const ct_form_field *spec, ct_form *f,
                     char *field, size_t fieldlen, char *why, size_t whylen);
/* The value of name ("" when not given); name must be in the spec. */
const char *ct_form_get(const ct_form *f, const char *name);
void ct_form_free(ct_form *f);

#endif
