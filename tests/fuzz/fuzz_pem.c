/* Fuzz the container reader with PEM-ish input (it also sniffs DER). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "certhub/cert.h"
#include "fuzz_read_cb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
