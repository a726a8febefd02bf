/* Fuzz chain analysis with what a hostile server could present: the input
 * is cut into up to 4 "certificates" (2-byte big-endian lengths) and an
 * optional stapled OCSP response (the rest), checked against the system
 * trust store for a fixed name and time. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ch_verifier *ver;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *der[4];
  size_t len[4], n = 0;
  certhub_chain_check out;
  if(!ver) {
    char *err = NULL;
    if(ch_verifier_new(NULL, NULL, &ver, &err) != CH_OK)
      abort();
  }
  while(n < 4 && size >= 2) {
    size_t l = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if(l > size)
      l = size;
    der[n] = data;
    len[n] = l;
    n++;
    data += l;
    size -= l;
  }
  if(n == 0)
    return 0;
  (void)ch_verifier_check(ver, der, len, n, "leaf.example.test",
                          size ? data : NULL, size, 1893456000, &out);
  return 0;
}
