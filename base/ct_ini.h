/* ct_ini.h — the physical line layer of chitieu's INI readers (settings
 * files in base/ct_conf.c, campaign files in campaign/ct_campaign_load.c).
 * Both feed inih from memory through ini_parse_stream(); this is the one
 * place that cuts the text into lines, so both agree on what a line is:
 *
 *   - lines end at '\n'; a '\r' before it is dropped (CRLF files);
 *   - a UTF-8 byte-order mark at the start of line 1 is skipped (Notepad);
 *   - a line holding a NUL byte is an error ("NUL byte in line"): a value
 *     turned into a C string would silently end there;
 *   - a line longer than max bytes is an error ("line too long (max N
 *     bytes)").
 *
 * What a line means (comments, sections, keys) stays with each reader.
 * Invariants: p <= end; line counts the lines returned so far, so after a
 * call it is the number of the line just returned (or refused). */
#ifndef CT_INI_H
#define CT_INI_H

#include <stddef.h>

typedef struct {
    const char *p;   /* next unread byte */
    const char *end; /* one past the text */
    unsigned line;   /* number of the last line returned */
} ct_ini_src;

typedef enum { CT_INI_END = 0, CT_INI_LINE, CT_INI_BAD } ct_ini_result;

/* Next line of src: CT_INI_LINE with *s, *len (no '\n', no '\r', no BOM),
 * CT_INI_END after the last line, CT_INI_BAD with a message in msg. */
ct_ini_result ct_ini_next_line(ct_ini_src *src, size_t max, const char **s, size_t *len, char *msg,
                               size_t msglen);

#endif
