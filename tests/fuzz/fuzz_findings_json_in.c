/* Differential fuzzing of the import's JSON parser (lib/findings/json_in.c)
 * against jansson: every input must give the same tree (same text from
 * json_dumps, so the same types and key order) or the same error, line
 * and column as json_loadb(JSON_REJECT_DUPLICATES); anything else
 * aborts. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "findings/findings_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_error_t ea, eb;
  memset(&ea, 0, sizeof(ea));
  memset(&eb, 0, sizeof(eb));
  json_t *a = ch_findings_json_parse((const char *)data, size, &ea);
  json_t *b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &eb);
  if(!a != !b)
    abort();
  if(!a) {
    if(strcmp(ea.text, eb.text) || ea.line != eb.line ||
       ea.column != eb.column || ea.position != eb.position)
      abort();
    return 0;
  }
  char *da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
  char *db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
  if(!da || !db || strcmp(da, db) || !json_equal(a, b))
    abort();
  free(da);
  free(db);
  json_decref(a);
  json_decref(b);
  return 0;
}
