/* Fuzz the notification template parser and renderer: the input is a
 * template (the first byte picks html escaping and is skipped), rendered
 * against a fixed context with a small output cap. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/notify_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static json_t *ctx;
  if(!ctx)
    ctx = json_loads(
        "{\"detail\":{\"DaysToExpiry\":14,\"CommonName\":\"<a&b>\"},"
        "\"certificates\":[{\"CommonName\":\"x\",\"Sources\":[\"/a\",\"/b\"]},"
        "{\"CommonName\":\"y\",\"Owner\":null}],\"groups\":[{\"Owner\":\"o\","
        "\"certificates\":[{\"Link\":\"l\"}]}],\"subject\":\"s\"}",
        0, NULL);
  if(!size || !ctx)
    return 0;
  char *t = malloc(size);
  if(!t)
    return 0;
  memcpy(t, data + 1, size - 1);
  t[size - 1] = '\0';
  certhub_template *tp = NULL;
  char *why = NULL, *out = NULL;
  if(certhub_template_compile(t, data[0] & 1, &tp, &why) == CH_OK) {
    if(certhub_template_render(tp, ctx, 1 << 16, &out, &why) == CH_OK &&
       strlen(out) > (1 << 16))
      abort(); /* the cap holds */
    certhub_template_free(tp);
  }
  else if(why && strlen(why) > 4096) {
    abort();
  }
  free(out);
  free(why);
  free(t);
  return 0;
}
