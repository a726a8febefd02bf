/* Fuzz the ruleset's event reader and matcher on arbitrary bytes as the
 * event, against a fixed set of rules covering every operator, nested
 * paths and arrays. Checks, besides memory safety: the event is refused
 * as invalid JSON exactly when jansson refuses it (or it is not an
 * object), and the matched indices are sorted and in range. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/pattern.h"
#include "certhub/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rules[] = {
    "{}",
    "{\"a\":[1,\"x\",true,null]}",
    "{\"a\":{\"b\":[{\"prefix\":\"p\"},{\"suffix\":{\"equals-ignore-case\":"
    "\"S\"}}]}}",
    "{\"a.b\":[{\"wildcard\":\"*x*y\"}],\"c\":[{\"exists\":false}]}",
    "{\"a\":{\"b\":[{\"numeric\":[\">\",0,\"<=\",10]}],\"c\":[{\"anything-"
    "but\":[\"q\"]}]}}",
    "{\"c\":[{\"cidr\":\"10.0.0.0/8\"},{\"cidr\":\"::1/128\"}]}",
    "{\"d\":[{\"exists\":true}],\"$or\":[{\"a\":[2]},{\"e\":[{\"equals-"
    "ignore-case\":\"E\"}]}]}",
    "{\"a\":[{\"anything-but\":{\"wildcard\":[\"*1\",\"x*\"]}}]}",
    "{\"\":[\"\"],\"a\":{\"\":[0]}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static certhub_ruleset *rs;
  static certhub_match_scratch *sc;
  if(!rs) {
    char *err = NULL;
    if(certhub_ruleset_new(&rs) || certhub_match_scratch_new(&sc))
      abort();
    for(size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
      if(certhub_ruleset_add(rs, "r", rules[i], strlen(rules[i]), NULL,
                             &err) != CH_OK)
        abort();
  }
  const size_t *mv = NULL;
  size_t nm = 0;
  char *err = NULL;
  ch_err e =
      certhub_ruleset_match(rs, sc, (const char *)data, size, &mv, &nm, &err);
  if((e != CH_OK) != (err != NULL))
    abort();
  free(err);
  for(size_t i = 0; i < nm; i++)
    if(mv[i] >= certhub_ruleset_count(rs) || (i && mv[i] <= mv[i - 1]))
      abort();
  if(size <= CERTHUB_EVENT_MAX_LEN) {
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    bool valid = j && json_is_object(j);
    json_decref(j);
    if(valid != (e != CH_ERR_PARSE))
      abort(); /* must agree with jansson on what is a JSON object */
  }
  return 0;
}
