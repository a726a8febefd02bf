/*
 * certhub-target-deliver: a test driver (not installed) for the target
 * integration tests. Parses a target spec file, delivers one event file to
 * it, prints "RESULT<TAB>detail" and exits 0 (OK), 1 (RETRY), 2 (FAILED),
 * 3 (the spec did not parse), 4 (usage or internal error).
 *
 *   certhub-target-deliver SPEC.json EVENT.json [RULE [BUS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certhub/target.h"

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return NULL;
  size_t cap = 1 << 16, n = 0, r;
  char *buf = malloc(cap + 1);
  while(buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if(n == cap) {
      char *nb = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;
      if(!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if(buf)
    buf[n] = '\0';
  *len = n;
  return buf;
}

int main(int argc, char **argv)
{
  if(argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s SPEC.json EVENT.json [RULE [BUS]]\n", argv[0]);
    return 4;
  }
  size_t sl, el;
  char *spec = slurp(argv[1], &sl), *ev = slurp(argv[2], &el);
  if(!spec || !ev) {
    fprintf(stderr, "cannot read %s\n", spec ? argv[2] : argv[1]);
    free(spec);
    free(ev);
    return 4;
  }
  certhub_rule_target *t = NULL;
  char *err = NULL;
  if(certhub_rule_target_parse(spec, sl, &t, &err) != CH_OK) {
    printf("PARSE\t%s\n", err ? err : "?");
    free(err);
    free(spec);
    free(ev);
    return 3;
  }
  certhub_target_ctx ctx = {.rule_name = argc > 3 ? argv[3] : "test-rule",
                            .bus_name = argc > 4 ? argv[4] : NULL,
                            .ingestion_time = (int64_t)time(NULL)};
  certhub_delivery d;
  char *detail = NULL;
  if(certhub_rule_target_deliver(t, &ctx, ev, el, &d, &detail) != CH_OK) {
    printf("ERROR\n");
    certhub_rule_target_free(t);
    free(spec);
    free(ev);
    return 4;
  }
  printf("%s\t%s\n", certhub_delivery_name(d), detail ? detail : "");
  free(detail);
  certhub_rule_target_free(t);
  free(spec);
  free(ev);
  return d == CERTHUB_DELIVERY_OK ? 0 : d == CERTHUB_DELIVERY_RETRY ? 1 : 2;
}
