/* ct_addr.h — the HTTP listening address of a command line ("ADDR:PORT")
 * read into an IPv4 socket address, with one rule for every server.
 *
 * Accepted: "HOST:PORT", ":PORT" and "PORT" (HOST then 127.0.0.1). HOST is a
 * dotted IPv4 address or "localhost" (127.0.0.1); PORT is 0 to 65535 by
 * ct_num_parse_u64's rule (digits only: no sign, no spaces). IPv6 is not
 * served (neither server binds it), so "[::1]:80" is refused.
 */
#ifndef CT_ADDR_H
#define CT_ADDR_H

#include <netinet/in.h>
#include <stddef.h>

#include "ct_error.h"

/* Fills *sa (AF_INET, address and port in network order) from s; on refusal
 * CT_ERR_USAGE with a message naming s in err. */
ct_err ct_addr_parse(const char *s, struct sockaddr_in *sa, char *err, size_t errlen);

#endif
