/* Fuzz the target input shaping: the InputTemplate compiler and renderer
 * and the JSON path parser. The input is a template (or, starting with
 * '$', an InputPath) and an event split by the first NUL byte (no NUL:
 * a fixed event). Oracle: a JSON template's output must be valid JSON,
 * and messages stay short. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char fixed[] =
      "{\"id\":\"e\",\"resources\":[\"arn:x\",{\"k\":\"v\\\"q\"}],\"detail\":"
      "{\"a\":\"x<y>\\\"z\\n\",\"n\":-1.5e3,\"t\":true,\"z\":null,\"o\":{"
      "\"p\":[1,\"2\"]},\"u\":\"\\u00e9\"}}";
  const char *in = (const char *)data;
  const char *nul = memchr(in, '\0', size);
  size_t tlen = nul ? (size_t)(nul - in) : size;
  const char *ev = nul ? nul + 1 : fixed;
  size_t elen = nul ? size - tlen - 1 : sizeof(fixed) - 1;

  json_t *t = json_stringn(in, tlen); /* NULL unless valid UTF-8 */
  if(!t)
    return 0;
  json_t *spec;
  if(tlen && in[0] == '$')
    spec = json_pack("{s:s,s:s,s:s,s:o}", "Id", "f", "Type", "file", "Path",
                     "/dev/null", "InputPath", t);
  else
    spec = json_pack("{s:s,s:s,s:s,s:{s:{s:s,s:s,s:s,s:s,s:s},s:o}}", "Id",
                     "f", "Type", "file", "Path", "/dev/null",
                     "InputTransformer", "InputPathsMap", "a", "$.detail.a",
                     "o", "$.detail.o", "r", "$.resources[1]", "m",
                     "$.missing.x", "n", "$.detail.n", "InputTemplate", t);
  char *s = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
  json_decref(spec);
  if(!s)
    return 0;
  certhub_rule_target *tg = NULL;
  char *err = NULL;
  if(certhub_rule_target_parse(s, strlen(s), &tg, &err) == CH_OK) {
    certhub_target_ctx ctx = {
        .rule_name = "r\"1", .bus_name = "b", .ingestion_time = 1795428000};
    char *out = NULL;
    size_t olen = 0;
    bool is_json = false;
    if(certhub_rule_target_input(tg, &ctx, ev, elen, &out, &olen, &is_json,
                                 &err) == CH_OK &&
       is_json) {
      json_error_t je;
      json_t *j = json_loadb(out, olen, JSON_DECODE_ANY, &je);
      /* A JSON template must give JSON (jansson's own depth limit aside:
       * a deep event inserted into a nested template can pass it). */
      if(!j && !strstr(je.text, "depth"))
        abort();
      json_decref(j);
    }
    free(out);
    certhub_rule_target_free(tg);
  }
  if(err && strlen(err) > 4096)
    abort();
  free(err);
  free(s);
  return 0;
}
