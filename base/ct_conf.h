/* ct_conf.h — configuration files and environment variables for the options
 * of a ct_opt table (ct_opt.h calls these from ct_opt_parse; docs/deploy.md
 * and chitieu.conf(5) describe them for users).
 *
 * Every option of a binary is, besides --NAME on the command line:
 *   - a key NAME of the configuration file:  batch-max = 8192
 *   - an environment variable CHITIEU_NAME with '-' as '_' and upper case:
 *     CHITIEU_BATCH_MAX=8192
 * Precedence: flag > environment > file > default, per option.
 *
 * Which file: --config FILE; else $CHITIEU_CONFIG; else
 * CT_SYSCONFDIR/<short>.conf (e.g. /etc/chitieu/aggregator.conf) when it
 * exists. --config '' or CHITIEU_CONFIG set to the empty string: no file.
 * A file named by --config or CHITIEU_CONFIG must exist.
 *
 * The file is INI (read with inih through our own line reader, so every
 * message names FILE:LINE): `key = value` lines, `#` or `;` comment lines,
 * comments after a value when preceded by a space (" # ..." or " ; ..."),
 * a UTF-8 byte order mark at the start, CRLF line ends. Refused, with
 * FILE:LINE: unknown keys, values an option does not accept (the same
 * words as on the command line), a scalar key given twice in one section,
 * NUL bytes, indented (continuation) lines, lines longer than inih's line
 * buffer (197 bytes with Debian's inih), unknown sections.
 *   - Binaries without commands: keys only, no sections.
 *   - Binaries with commands (collector, audit): keys before any section
 *     apply to every command that takes them and are ignored (unchecked) by
 *     the others, so one file serves `run`, `status`, `add`...; keys in a
 *     section [COMMAND] apply to that command only (a key it does not take is
 *     an error) and override the keys before any section.
 *   - Flags take true/false, yes/no, on/off, 1/0.
 *   - Repeatable options (lists): one line per value; the values of a file
 *     (or of a [COMMAND] section) replace the default list.
 * The environment: a list is comma-separated; a variable set to the empty
 * string counts as unset; unknown CHITIEU_ variables are ignored (one
 * environment may serve several binaries).
 *
 * Memory: values read from a file or the environment are copied into
 * storage owned by this module that lives until the process exits (option
 * fields point into it); nothing else is allocated.
 */
#ifndef CT_CONF_H
#define CT_CONF_H

#include <stddef.h>

#include "ct_error.h"
#include "ct_opt.h"

#ifndef CT_SYSCONFDIR
#define CT_SYSCONFDIR "/etc/chitieu"
#endif

#define CT_CONF_ENV_PREFIX "CHITIEU_"
#define CT_CONF_ENV_FILE "CHITIEU_CONFIG"
#define CT_CONF_MAX_BYTES (1u << 20)

/* The configuration file to read, given --config's value (NULL when the flag
 * was not given): see above. NULL for none. The string lives until exit. */
const char *ct_conf_path(const ct_opt_spec *spec, const char *flag_value);

/* "CHITIEU_BATCH_MAX" for the option "batch-max". */
void ct_conf_env_name(const ct_opt *o, char *buf, size_t len);

/* Reads the file and applies its keys for command cmd (NULL for a binary
 * without commands). CT_ERR_USAGE with "PATH:LINE: message", CT_ERR_IO with
 * "PATH: reason", CT_ERR_NOMEM. */
ct_err ct_conf_apply_file(const ct_opt_spec *spec, const ct_opt_cmd *cmd, const char *path,
                          void *settings, ct_opt_result *res, char *err, size_t errlen);

/* Applies the CHITIEU_ variables of the options that cmd takes.
 * CT_ERR_USAGE with "CHITIEU_NAME: message", CT_ERR_NOMEM. */
ct_err ct_conf_apply_env(const ct_opt_spec *spec, const ct_opt_cmd *cmd, void *settings,
                         ct_opt_result *res, char *err, size_t errlen);

#endif
