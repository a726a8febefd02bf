/* Fuzz the findings hub's JSON inputs against a real SQLite store: the
 * first byte picks BatchImportFindings (even) or the bus-event mapping
 * (odd); the rest is the request or the event. One store in a temporary
 * directory serves the whole run, so findings accumulate like in use. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certhub/findings.h"
#include "certhub/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static certhub_store *store;
static char dir[64];

static void cleanup(void)
{
  char cmd[128];
  certhub_store_close(store);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if(system(cmd) != 0)
    fprintf(stderr, "fuzz_findings: could not remove %s\n", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(!store) {
    char path[96];
    snprintf(dir, sizeof(dir), "/tmp/fuzz_findings.XXXXXX");
    if(!mkdtemp(dir))
      abort();
    snprintf(path, sizeof(path), "%s/f.db", dir);
    if(certhub_store_open(path, &store, NULL))
      abort();
    atexit(cleanup);
  }
  if(size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  if(data[0] % 2 == 0) {
    certhub_import_result r;
    ch_err rc = certhub_findings_import(store, in, len, 1795428000, &r);
    /* Every outcome is accounted for: failures listed, or a reason. */
    if(rc == CH_OK && r.success + r.failed > CERTHUB_FINDINGS_BATCH_MAX)
      abort();
    if(rc != CH_OK && !r.error[0])
      abort();
    certhub_import_result_free(&r);
  }
  else {
    char *detail = NULL;
    size_t n = 0;
    (void)certhub_findings_from_event(store, in, len, 1795428000, &n, &detail);
    if(!detail || strlen(detail) > 4096)
      abort(); /* always a short explanation */
    free(detail);
  }
  return 0;
}
