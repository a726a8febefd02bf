/* Fuzz the event-pattern parser and the reference matcher. The input is
 * a pattern and an event split by the first NUL byte (no NUL: the input
 * is the pattern, matched against a fixed event). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char fixed[] =
      "{\"source\":\"aws.acm\",\"detail\":{\"n\":45,\"a\":[{\"x\":\"1\"},"
      "{\"x\":\"2\",\"ip\":\"10.0.0.1\"}]},\"resources\":[\"arn:x\"]}";
  const char *in = (const char *)data;
  const char *nul = memchr(in, '\0', size);
  size_t plen = nul ? (size_t)(nul - in) : size;
  const char *ev = nul ? nul + 1 : fixed;
  size_t elen = nul ? size - plen - 1 : sizeof(fixed) - 1;
  certhub_pattern *p = NULL;
  char *err = NULL;
  if(certhub_pattern_compile(in, plen, &p, &err) == CH_OK) {
    bool m = false;
    (void)certhub_pattern_match(p, ev, elen, &m, &err);
    (void)certhub_pattern_alternatives(p);
    certhub_pattern_free(p);
  }
  else if(err && strlen(err) > 4096) {
    abort(); /* messages stay short */
  }
  free(err);
  return 0;
}
