/* ct_error.c — string tables for ct_err (generated from CT_ERROR_TABLE). */
#include "ct_error.h"

#include <stddef.h>

struct ct_err_row {
    int num;
    const char *name;
    const char *msg;
};

static const struct ct_err_row ct_err_rows[] = {
#define CT_X_ROW(sym, num, name, msg) {num, name, msg},
    CT_ERROR_TABLE(CT_X_ROW)
#undef CT_X_ROW
};

static const struct ct_err_row *ct_err_find(int err)
{
    for (size_t i = 0; i < sizeof ct_err_rows / sizeof ct_err_rows[0]; i++)
        if (ct_err_rows[i].num == err) return &ct_err_rows[i];
    return NULL;
}

const char *ct_err_name(int err)
{
    if (err == CT_STOP) return "stop";
    const struct ct_err_row *r = ct_err_find(err);
    return r ? r->name : "unknown_error";
}

const char *ct_err_str(int err)
{
    if (err == CT_STOP) return "stopped by a callback";
    const struct ct_err_row *r = ct_err_find(err);
    return r ? r->msg : "unknown error";
}

int ct_err_known(int err)
{
    return ct_err_find(err) != NULL;
}
