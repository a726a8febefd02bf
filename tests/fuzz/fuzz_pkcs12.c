/* Fuzz the PKCS#12 and PKCS#7 paths of the container reader. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "certhub/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* Seeds are written with the password "fuzz". */
  certhub_read_opts o = {"fuzz", "fuzz.p12"};
  (void)certhub_read_buffer(data, size, &o, on_cert, on_error, NULL, NULL);
  o.password = NULL;
  o.name_hint = "fuzz.p7b";
  (void)certhub_read_buffer(data, size, &o, on_cert, on_error, NULL, NULL);
  return 0;
}
