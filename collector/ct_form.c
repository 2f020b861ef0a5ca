/* ct_form.c — bounded, checked urlencoded form bodies (see ct_form.h).
 *
 * Invariant: a value reaches f->v only after every rule held; on any
 * refusal every copy made so far is wiped and freed. */
#include "ct_form.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_event.h"
#include "ct_text.h"

/* Decodes s[0..n) into out (at least n + 1 bytes); returns the length or -1
 * for a malformed escape. */
static long decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n) return -1;
            uint8_t byte;
            if (ct_text_unhex(s + i + 1, 2, &byte) != CT_OK) return -1;
            out[o++] = (char)byte;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return (long)o;
}

static void wipe_free(char *p)
{
    if (!p) return;
    sodium_memzero(p, strlen(p));
    free(p);
}

void ct_form_free(ct_form *f)
{
    for (int i = 0; i < CT_FORM_FIELDS_MAX; i++) {
        wipe_free(f->v[i]);
        f->v[i] = NULL;
    }
}

const char *ct_form_get(const ct_form *f, const char *name)
{
    for (int i = 0; f->spec[i].name; i++)
        if (strcmp(f->spec[i].name, name) == 0) return f->v[i] ? f->v[i] : "";
    assert(!"field not in the form's spec");
    return "";
}

static ct_err refuse(ct_form *f, char *field, size_t fieldlen, const char *name, char *why,
                     size_t whylen, const char *msg)
{
    ct_form_free(f);
    snprintf(field, fieldlen, "%s", name);
    snprintf(why, whylen, "%s", msg);
    return CT_ERR_BAD_VALUE;
}

ct_err ct_form_parse(const char *body, size_t len, const ct_form_field *spec, ct_form *f,
                     char *field, size_t fieldlen, char *why, size_t whylen)
{
    memset(f, 0, sizeof *f);
    f->spec = spec;
    field[0] = 0;
    why[0] = 0;
    char name[64], msg[160];
    if (len > CT_FORM_BODY_MAX)
        return refuse(f, field, fieldlen, "", why, whylen, "the form is too large");
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j == i) {
            i = j + 1;
            continue;
        }
        const char *eq = memchr(body + i, '=', j - i);
        size_t klen = eq ? (size_t)(eq - (body + i)) : j - i;
        char kbuf[64 * 3 + 1];
        long kn = klen < 64 * 3 ? decode(body + i, klen, kbuf) : -1;
        if (kn < 0 || (size_t)kn >= sizeof name || memchr(kbuf, 0, (size_t)kn))
            return refuse(f, field, fieldlen, "", why, whylen, "malformed field name");
        memcpy(name, kbuf, (size_t)kn + 1);
        int k = -1;
        for (int x = 0; spec[x].name; x++)
            if (strcmp(spec[x].name, name) == 0) k = x;
        if (k < 0) return refuse(f, field, fieldlen, name, why, whylen, "unknown field");
        if (f->v[k]) return refuse(f, field, fieldlen, name, why, whylen, "given twice");
        const char *val = eq ? eq + 1 : body + j;
        size_t vlen = eq ? (size_t)(body + j - val) : 0;
        char *out = malloc(vlen + 1);
        if (!out) {
            ct_form_free(f);
            return CT_ERR_NOMEM;
        }
        long n = decode(val, vlen, out);
        const char *bad = NULL;
        if (n < 0)
            bad = "malformed %-escape";
        else if ((size_t)n > spec[k].max) {
            snprintf(msg, sizeof msg, "too long (%ld bytes, at most %zu)", n, spec[k].max);
            bad = msg;
        } else if (memchr(out, 0, (size_t)n))
            bad = "holds a NUL byte";
        else if (!ct_utf8_valid((const uint8_t *)out, (size_t)n))
            bad = "is not valid UTF-8";
        else
            for (long c = 0; c < n && !bad; c++)
                if ((unsigned char)out[c] < 0x20 || out[c] == 0x7f)
                    bad = "holds a control character";
        if (bad) {
            sodium_memzero(out, vlen + 1);
            free(out);
            return refuse(f, field, fieldlen, name, why, whylen, bad);
        }
        f->v[k] = out;
        i = j + 1;
    }
    for (int x = 0; spec[x].name; x++)
        if (spec[x].required && (!f->v[x] || !f->v[x][0]))
            return refuse(f, field, fieldlen, spec[x].name, why, whylen, "is missing");
    return CT_OK;
}
