/* Callbacks for the container-reader fuzz targets: free each certificate
 * and touch each reason so ASan checks it is terminated. */
#ifndef CERTHUB_FUZZ_READ_CB_H
#define CERTHUB_FUZZ_READ_CB_H

#include <string.h>

#include "certhub/cert.h"

static ch_err on_cert(void *ctx, certhub_cert *c, unsigned pos)
{
  (void)ctx;
  (void)pos;
  certhub_cert_free(c);
  return CH_OK;
}

static void on_error(void *ctx, unsigned pos, ch_err err, const char *reason)
{
  (void)ctx;
  (void)pos;
  (void)err;
  (void)strlen(reason);
}

#endif
