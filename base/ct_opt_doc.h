/* ct_opt_doc.h — renderings of an option table besides --help (ct_opt.h):
 * the effective settings with their sources (--print-config), a
 * tab-separated table for tools and tests (--options-table), the man page
 * source in scdoc(5) syntax (--scdoc) and a bash completion script
 * (--bash-completion). The build turns the last two into the installed man
 * pages and completions, so they never drift from the table.
 *
 * --print-config output is itself a valid configuration file: one
 * `key = value` line per setting (one per value for lists), the source after
 * " ; " (default, FILE:LINE, env CHITIEU_NAME or flag --name); options that
 * are not set appear as comment lines "# key: not set".
 *
 * --options-table: one line per option, fields separated by TAB:
 *   name kind commands default min max choices env arg flags
 * kind: flag|str|int|double|size|choice|list; commands: comma-separated
 * names of the commands that take it, or "*"; choices comma-separated; an
 * absent value is "-"; flags: "required", "hidden", comma-separated, or "-".
 */
#ifndef CT_OPT_DOC_H
#define CT_OPT_DOC_H

#include <stdio.h>

#include "ct_opt.h"

void ct_opt_doc_print_config(const ct_opt_spec *spec, const ct_opt_result *res,
                             const void *settings, FILE *f);
void ct_opt_doc_table(const ct_opt_spec *spec, FILE *f);
void ct_opt_doc_scdoc(const ct_opt_spec *spec, FILE *f);
void ct_opt_doc_completion(const ct_opt_spec *spec, FILE *f);

#endif
