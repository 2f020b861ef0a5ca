/* ct_num.h — numbers read from text (configuration files, CSV fields,
 * command-line values), with one strict rule everywhere.
 *
 * ct_num_parse_u64() accepts one or more ASCII digits and nothing else: no
 * sign, no spaces, no "0x", no suffix, no empty string. Leading zeros are
 * accepted ("007" is 7). The value must be <= max; overflow of uint64_t is a
 * refusal like any value above max.
 */
#ifndef CT_NUM_H
#define CT_NUM_H

#include <stdbool.h>
#include <stdint.h>

/* True and *out set when s is a decimal number <= max; false (and *out
 * untouched) otherwise. s may be NULL (false). */
bool ct_num_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
