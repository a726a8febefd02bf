/* Fuzz the findings query side: the first byte picks GetFindings (0),
 * an insight (1) or BatchUpdateFindings (2); the rest is the request. A
 * real SQLite store in a temporary directory holds a few findings, so
 * filters, sort keys, NextTokens and updates run against rows. Checks: a
 * success is valid JSON of the documented shape; a failure leaves no
 * output and says why. */
#include <jansson.h>
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
    fprintf(stderr, "fuzz_findings_query: could not remove %s\n", dir);
}

static void seed(void)
{
  char buf[8192];
  size_t n = (size_t)snprintf(buf, sizeof(buf), "[");
  for(int i = 0; i < 12; i++)
    n += (size_t)snprintf(
        buf + n, sizeof(buf) - n,
        "%s{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"f%d\",\"ProductArn\":"
        "\"arn:certhub:securityhub:local:000000000000:product/certhub/"
        "certhub\",\"GeneratorId\":\"g%d\",\"AwsAccountId\":\"00000000000%d\","
        "\"CreatedAt\":\"2026-11-01T00:00:00Z\",\"UpdatedAt\":\"2026-11-%02d"
        "T00:00:00Z\",\"Title\":\"T %d\",\"Description\":\"d\",\"Types\":["
        "\"Software and Configuration Checks/X\"],\"Severity\":{\"Label\":"
        "\"%s\"},\"Confidence\":%d,\"Resources\":[{\"Type\":\"Other\",\"Id\":"
        "\"r%d\",\"Tags\":{\"env\":\"e%d\"}}]}",
        i ? "," : "", i, i % 3, i % 10, 1 + i % 5, i, i % 2 ? "HIGH" : "LOW",
        i * 9, i, i % 2);
  snprintf(buf + n, sizeof(buf) - n, "]");
  certhub_import_result r;
  if(certhub_findings_import(store, buf, strlen(buf), 1795428000, &r) ||
     r.failed)
    abort();
  certhub_import_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(!store) {
    char path[96];
    setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
    snprintf(dir, sizeof(dir), "/tmp/fuzz_findings_query.XXXXXX");
    if(!mkdtemp(dir))
      abort();
    snprintf(path, sizeof(path), "%s/f.db", dir);
    if(certhub_store_open(path, &store, NULL))
      abort();
    atexit(cleanup);
    seed();
  }
  if(size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  char *out = NULL;
  size_t out_len = 0;
  ch_err rc;
  const char *key;
  switch(data[0] % 3) {
  case 0:
    rc = certhub_findings_query_json(store, in, len, &out, &out_len);
    key = "Findings";
    break;
  case 1:
    rc = certhub_findings_insight_json(store, in, len, &out, &out_len);
    key = "InsightResults";
    break;
  default:
    rc = certhub_findings_update_json(store, in, len, 1795428000, &out,
                                      &out_len);
    key = "ProcessedFindings";
    break;
  }
  if(rc) {
    if(out || !*certhub_store_errmsg(store))
      abort();
    return 0;
  }
  json_t *o = json_loadb(out, out_len, 0, NULL);
  if(!o || !json_object_get(o, key) || strlen(out) != out_len)
    abort();
  json_t *f = json_object_get(o, "Findings");
  if(f && json_array_size(f) > 100)
    abort();
  json_decref(o);
  free(out);
  return 0;
}
