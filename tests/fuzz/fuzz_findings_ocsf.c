/* Fuzz the OCSF mappings without a store: the first byte picks ASFF ->
 * OCSF (even) or OCSF -> ASFF (odd). Whatever maps must map back: an OCSF
 * export of an ASFF object is an OCSF finding import accepts, and an
 * import is valid JSON the export takes again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/findings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  char *out = NULL, *back = NULL, *err = NULL;
  size_t out_len = 0;
  if(data[0] % 2 == 0) {
    if(certhub_findings_ocsf_json(in, len, &out, &out_len) == CH_OK) {
      if(!out || strlen(out) != out_len)
        abort();
      /* Our own export carries a time and finding_info.uid. */
      if(certhub_findings_asff_from_ocsf(out, out_len, &back, &err) != CH_OK)
        abort();
    }
  }
  else if(certhub_findings_asff_from_ocsf(in, len, &out, &err) == CH_OK) {
    if(certhub_findings_ocsf_json(out, strlen(out), &back, NULL) != CH_OK)
      abort();
  }
  else if(!err)
    abort(); /* a refusal says why */
  free(out);
  free(back);
  free(err);
  return 0;
}
