/* Fuzz the bus's input checks: the input is "SOURCE\nDETAIL-TYPE\nDETAIL
 * \nTARGETS". render must refuse with a message or give an envelope that
 * is a JSON object holding the same source, detail-type and detail, within
 * the size limit; rule validation of TARGETS must refuse with a message or
 * accept. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/bus.h"
#include "certhub/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *field(const uint8_t **p, const uint8_t *end)
{
  const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
  const uint8_t *stop = nl ? nl : end;
  size_t n = (size_t)(stop - *p);
  char *s = malloc(n + 1);
  if(!s)
    abort();
  memcpy(s, *p, n);
  s[n] = '\0';
  *p = nl ? nl + 1 : end;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *p = data, *end = data + size;
  char *src = field(&p, end), *dt = field(&p, end), *det = field(&p, end);
  char *targets = field(&p, end);
  char id[37], *env = NULL, *err = NULL;
  certhub_event ev = {.source = src,
                      .detail_type = dt,
                      .detail = *det ? det : NULL,
                      .time = 1795428000};
  if(certhub_bus_render(&ev, 1795428000, id, &env, &err) != CH_OK) {
    if(!err || !*err || env)
      abort();
  }
  else {
    json_t *e = json_loads(env, 0, NULL);
    if(!e || !json_is_object(e) || strlen(env) > CERTHUB_EVENT_MAX_LEN ||
       strcmp(json_string_value(json_object_get(e, "source")), src) ||
       strcmp(json_string_value(json_object_get(e, "detail-type")), dt) ||
       strlen(id) != 36)
      abort();
    json_t *d = *det ? json_loads(det, 0, NULL) : json_object();
    if(!d || !json_equal(d, json_object_get(e, "detail")))
      abort();
    json_decref(d);
    json_decref(e);
  }
  free(env);
  free(err);
  err = NULL;
  certhub_bus_rule r = {.name = "r", .pattern = "{}", .targets = targets};
  if(certhub_bus_rule_validate(&r, NULL, NULL, &err) != CH_OK &&
     (!err || !*err))
    abort();
  free(err);
  free(src);
  free(dt);
  free(det);
  free(targets);
  return 0;
}
