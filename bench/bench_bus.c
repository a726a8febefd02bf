/*
 * bench_bus: event bus throughput on a fresh SQLite store.
 *
 *   bench_bus [EVENTS [RULES]]     (defaults 20000 events, 20 rules)
 *
 * Puts EVENTS ACM-shaped events (1000 per transaction), routes them
 * through RULES pattern rules (every fourth matching the event's
 * detail-type, each with one target), then dispatches every outbox row
 * with a callback that answers DELIVERED at once. Prints the rate of each
 * step. Routing goes through the compiled ruleset (all rules at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certhub/bus.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ch_err deliver(void *ctx, const char *rule, const char *bus,
                      const char *target, const char *event, size_t len,
                      certhub_bus_delivery *result, char **detail)
{
  (void)rule;
  (void)bus;
  (void)target;
  (void)event;
  (void)len;
  (void)detail;
  (*(size_t *)ctx)++;
  *result = CERTHUB_BUS_DELIVERED;
  return CH_OK;
}

static void die(certhub_store *s, const char *what, ch_err rc)
{
  fprintf(stderr, "bench_bus: %s: %s: %s\n", what, certhub_strerror(rc),
          s ? certhub_store_errmsg(s) : "");
  exit(1);
}

int main(int argc, char **argv)
{
  long n = argc > 1 ? atol(argv[1]) : 20000;
  long nr = argc > 2 ? atol(argv[2]) : 20;
  char dir[] = "/tmp/bench_bus.XXXXXX", db[64], *err = NULL;
  certhub_store *s = NULL;
  const int64_t t0 = 1795428000;
  if(n < 1 || nr < 1 || !mkdtemp(dir))
    return 2;
  snprintf(db, sizeof(db), "%s/bus.db", dir);
  ch_err rc = certhub_store_open(db, &s, &err);
  if(rc)
    die(NULL, err, rc);
  static const char *const dts[] = {CERTHUB_DT_APPROACHING, CERTHUB_DT_EXPIRED,
                                    CERTHUB_DT_AVAILABLE,
                                    CERTHUB_DT_RENEWAL_ACTION};
  for(long i = 0; i < nr; i++) {
    char name[32], pattern[256];
    snprintf(name, sizeof(name), "rule%ld", i);
    snprintf(pattern, sizeof(pattern),
             "{\"source\":[\"certhub.acm\"],\"detail-type\":[\"%s\"],"
             "\"detail\":{\"DaysToExpiry\":[{\"numeric\":[\"<=\",%ld]}]}}",
             dts[i % 4], 10 + i);
    certhub_bus_rule r = {.name = name,
                          .pattern = pattern,
                          .enabled = true,
                          .targets = "[{\"Id\":\"t\",\"Type\":\"file\"}]"};
    if((rc = certhub_bus_rule_put(s, &r, t0, NULL, NULL, NULL)))
      die(s, "rule", rc);
  }
  double a = now_s();
  for(long i = 0; i < n; i++) {
    char detail[160], res[96], id[37];
    bool stored;
    snprintf(detail, sizeof(detail),
             "{\"DaysToExpiry\":%ld,\"CommonName\":\"host%ld.example.com\"}",
             i % 60, i);
    snprintf(res, sizeof(res),
             "arn:aws:acm:local:000000000000:certificate/%ld", i);
    const char *rs[] = {res};
    certhub_event ev = {.source = "certhub.acm",
                        .detail_type = dts[i % 4],
                        .resources = rs,
                        .n_resources = 1,
                        .detail = detail};
    if(i % 1000 == 0 && (rc = certhub_store_begin(s)))
      die(s, "begin", rc);
    if((rc = certhub_bus_put(s, &ev, t0, id, &stored)))
      die(s, "put", rc);
    if((i % 1000 == 999 || i == n - 1) && (rc = certhub_store_commit(s)))
      die(s, "commit", rc);
  }
  double b = now_s();
  certhub_bus_stats st = {0};
  if((rc = certhub_bus_route(s, t0, &st)))
    die(s, "route", rc);
  double c = now_s();
  size_t calls = 0;
  for(;;) {
    certhub_bus_stats ds = {0};
    if((rc = certhub_bus_dispatch(s, t0, deliver, &calls, 1000, &ds)))
      die(s, "dispatch", rc);
    if(!ds.attempted)
      break;
  }
  double d = now_s();
  printf("events %ld, rules %ld, outbox rows %llu\n", n, nr,
         (unsigned long long)st.enqueued);
  printf("put      %8.0f events/s\n", (double)n / (b - a));
  printf("route    %8.0f events/s (%.1f us per event and rule)\n",
         (double)n / (c - b), (c - b) / (double)n / (double)nr * 1e6);
  printf("dispatch %8.0f deliveries/s\n", (double)calls / (d - c));
  certhub_store_close(s);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
