/* ct_audit_src.c — opening and closing the audit's sources (ct_audit.h): a
 * store read-only or a .ctlog export. A source owns the store or the
 * file's mapping it opened; ct_audit_src_close releases it, also after a
 * failed open. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_audit.h"

static ct_err open_store(ct_audit_src *src, const ct_campaign *c, const char *dir, char *err,
                         size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: no such data directory", dir);
        return CT_ERR_USAGE;
    }
    char msg[512] = "";
    ct_store_opts so = {.dir = dir, .campaign_id = c->id, .read_only = true};
    ct_err e = ct_store_open(&so, &src->store, msg, sizeof msg);
    if (e) {
        snprintf(err, errlen, "%s: %s", dir, msg[0] ? msg : ct_err_str(e));
        return e == CT_ERR_CAMPAIGN_MISMATCH ? CT_ERR_USAGE : e;
    }
    return CT_OK;
}

static ct_err open_file(ct_audit_src *src, const ct_campaign *c, const char *path, char *err,
                        size_t errlen)
{
    ct_err e = ct_ctlog_open(path, &src->reader, err, errlen);
    if (e) return e == CT_ERR_IO ? CT_ERR_USAGE : e;
    src->file = &src->reader;
    if (strcmp(src->reader.campaign, c->id) != 0) {
        snprintf(err, errlen, "%s: export of campaign '%s', not '%s'", path, src->reader.campaign,
                 c->id);
        return CT_ERR_USAGE;
    }
    return CT_OK;
}

ct_err ct_audit_src_open(ct_audit_src *src, const ct_campaign *c, const char *dir, const char *file,
                         char *err, size_t errlen)
{
    memset(src, 0, sizeof *src);
    if (!!dir == !!file) {
        snprintf(err, errlen, "give exactly one of --data DIR or --file F.ctlog");
        return CT_ERR_USAGE;
    }
    src->name = dir ? dir : file;
    return dir ? open_store(src, c, dir, err, errlen) : open_file(src, c, file, err, errlen);
}

void ct_audit_src_close(ct_audit_src *src)
{
    if (src->store) ct_store_close(src->store);
    if (src->file) ct_ctlog_close(src->file);
    memset(src, 0, sizeof *src);
}
