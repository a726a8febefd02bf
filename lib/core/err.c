#include "certhub/certhub.h"

static const char *const ch_err_text[CH_ERR__MAX] = {
    [CH_OK] = "ok",
    [CH_ERR_NOMEM] = "out of memory",
    [CH_ERR_IO] = "I/O error",
    [CH_ERR_PARSE] = "malformed input",
    [CH_ERR_TRUNCATED] = "truncated input",
    [CH_ERR_TOOBIG] = "too large",
    [CH_ERR_UNSUPPORTED] = "unsupported",
    [CH_ERR_PASSWORD] = "wrong or missing password",
    [CH_ERR_NOTFOUND] = "not found",
    [CH_ERR_AMBIGUOUS] = "ambiguous reference",
    [CH_ERR_EXISTS] = "already exists",
    [CH_ERR_USAGE] = "invalid usage",
    [CH_ERR_CONFIG] = "invalid configuration",
    [CH_ERR_DB] = "storage error",
    [CH_ERR_BUSY] = "storage busy",
    [CH_ERR_LOOP] = "symlink or directory loop",
    [CH_ERR_INTERNAL] = "internal error",
};

const char *certhub_strerror(ch_err e)
{
  if((unsigned)e >= CH_ERR__MAX || !ch_err_text[e])
    return "unknown error";
  return ch_err_text[e];
}

const char *certhub_version(void)
{
  return CERTHUB_VERSION;
}
