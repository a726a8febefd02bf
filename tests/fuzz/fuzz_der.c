/* Fuzz the DER certificate parser and the DER sniffers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "certhub/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  certhub_cert *c = NULL;
  const char *detail = NULL;
  if(certhub_cert_parse_der(data, size, &c, &detail) == CH_OK) {
    /* Touch every string so ASan checks they are terminated. */
    size_t n = strlen(c->subject) + strlen(c->issuer) + strlen(c->serial) +
               strlen(c->key_alg) + strlen(c->sig_alg);
    for(size_t i = 0; i < c->n_sans; i++)
      n += strlen(c->sans[i].value);
    for(size_t i = 0; i < c->n_ext_key_usage; i++)
      n += strlen(c->ext_key_usage[i]);
    if(c->common_name)
      n += strlen(c->common_name);
    (void)n;
    certhub_cert_free(c);
  }
  (void)certhub_sniff_format(data, size, NULL);
  return 0;
}
