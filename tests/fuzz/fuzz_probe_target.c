/* Fuzz target specs and target-file lines (user input, possibly hostile). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1), *err = NULL, loc[512];
  certhub_target t;
  bool blank;
  if(!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if(certhub_target_parse_line(s, &t, &blank, &err) == CH_OK && !blank) {
    (void)certhub_target_locator(&t, "192.0.2.1:443", loc, sizeof(loc));
    certhub_target_free(&t);
  }
  free(err);
  err = NULL;
  if(certhub_target_parse(s, NULL, NULL, &t, &err) == CH_OK)
    certhub_target_free(&t);
  free(err);
  err = NULL;
  uint16_t ports[] = {443};
  certhub_target *v = NULL;
  size_t n = 0;
  if(certhub_target_sweep(s, ports, 1, 256, &v, &n, &err) == CH_OK) {
    for(size_t i = 0; i < n; i++)
      certhub_target_free(&v[i]);
    free(v);
  }
  free(err);
  free(s);
  return 0;
}
