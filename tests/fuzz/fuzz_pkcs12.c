/* Fuzz the PKCS#12 and PKCS#7 paths of the container reader. */
#include <stddef.h>
#include <stdint.h>

#include "certhub/cert.h"
#include "fuzz_read_cb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
