/* Fuzz the container reader with PEM-ish input (it also sniffs DER). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
  certhub_read_opts o = {NULL, "fuzz.pem"};
  enum certhub_format f;
  (void)certhub_read_buffer(data, size, &o, on_cert, on_error, NULL, &f);
  if(size <= 4096) {
    char *pem = NULL;
    size_t n;
    if(certhub_pem_encode(data, size, &pem, &n) == CH_OK) {
      (void)certhub_read_buffer((const uint8_t *)pem, n, &o, on_cert, on_error,
                                NULL, &f);
      free(pem);
    }
  }
  return 0;
}
