/*
 * Delivery benchmark: SUBS http subscriptions (pre-confirmed) on one topic
 * pointing at a local keep-alive receiver (bench_notify_recv), MESSAGES
 * published in one transaction, then the engine fans out and delivers
 * everything; the delivery phase (fan-out included) is timed.
 *
 *   bench_notify DIR PORT [MESSAGES [SUBS [IN_FLIGHT [RAW [ATTRS]]]]]
 *
 * Prints "deliveries N seconds S rate R/s cpu C s cpu-rate R/s": the
 * wall-clock rate and, since the machine may be shared, the rate per
 * second of this process's own CPU time (user + system) in that phase. Signed
 * SNS JSON by default (one RSA signature per message, cached across its
 * subscriptions); RAW=1 sends RawMessageDelivery instead. ATTRS=1 publishes
 * each message with the MessageAttributes certhub's own messages carry (5 of
 * them, in the SNS JSON); ATTRS=2 also gives every subscription a
 * MessageAttributes filter policy (that accepts them all) judged by the
 * engine's filter hook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "certhub/deliver.h"
#include "certhub/notify.h"
#include "certhub/notify_filter.h"
#include "certhub/store.h"

int main(int argc, char **argv)
{
  if(argc < 3) {
    fprintf(stderr, "usage: bench_notify DIR PORT [MESSAGES [SUBS "
                    "[IN_FLIGHT [RAW [ATTRS]]]]]\n");
    return 2;
  }
  const char *dir = argv[1];
  int port = atoi(argv[2]);
  unsigned msgs = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
  unsigned subs = argc > 4 ? (unsigned)atoi(argv[4]) : 10;
  unsigned inflight = argc > 5 ? (unsigned)atoi(argv[5]) : 128;
  bool raw = argc > 6 && atoi(argv[6]);
  int attrs = argc > 7 ? atoi(argv[7]) : 0;
  static const char own_attrs[] =
      "{\"detail-type\":{\"Type\":\"String\",\"Value\":\"ACM Certificate "
      "Approaching Expiration\"},\"certificate_id\":{\"Type\":\"String\","
      "\"Value\":\"0123abcdef012345\"},\"days_to_expiry\":{\"Type\":"
      "\"Number\",\"Value\":\"30\"},\"owner\":{\"Type\":\"String\","
      "\"Value\":\"web\"},\"tags\":{\"Type\":\"String.Array\",\"Value\":"
      "\"[\\\"owner=web\\\",\\\"env=prod\\\"]\"}}";
  const char *sub_attrs =
      raw ? "{\"RawMessageDelivery\":\"true\"}"
      : attrs == 2
          ? "{\"FilterPolicy\":\"{\\\"days_to_expiry\\\":[{\\\"numeric\\\":"
            "[\\\"<=\\\",45]}],\\\"owner\\\":[\\\"web\\\"]}\"}"
          : NULL;
  char db[4200], url[256], arn[CERTHUB_SUB_ARN_MAX];
  char id[CERTHUB_MESSAGE_ID_LEN + 1], *err = NULL;
  certhub_store *s = NULL;
  snprintf(db, sizeof(db), "%s/bench.db", dir);
  if(certhub_store_open(db, &s, &err)) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  certhub_topic_create(s, "bench", NULL, NULL, NULL, 1, NULL);
  for(unsigned i = 0; i < subs; i++) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/sub/%u", port, i);
    if(certhub_subscribe(s, "bench", "http", url, sub_attrs, true, 1, arn,
                         NULL)) {
      fprintf(stderr, "subscribe: %s\n", certhub_store_errmsg(s));
      return 1;
    }
  }
  const char body[] = "{\"detail-type\":\"ACM Certificate Approaching "
                      "Expiration\",\"detail\":{\"DaysToExpiry\":30,"
                      "\"CommonName\":\"www.example.com\"}}";
  certhub_store_begin(s);
  for(unsigned i = 0; i < msgs; i++)
    if(certhub_topic_publish_attrs(s, "bench", "Expiry", body,
                                   sizeof(body) - 1, attrs ? own_attrs : NULL,
                                   2, id)) {
      fprintf(stderr, "publish: %s\n", certhub_store_errmsg(s));
      return 1;
    }
  certhub_store_commit(s);
  certhub_notify_engine_cfg cfg = {
      .data_dir = dir, .max_in_flight = inflight, .max_per_host = inflight};
  void *filter = NULL;
  if(attrs == 2) {
    if(certhub_notify_filter_hook_new(&filter))
      return 1;
    cfg.filter_accepts = certhub_notify_filter_hook;
    cfg.filter_ctx = filter;
  }
  certhub_notify_engine *e = NULL;
  if(certhub_notify_engine_new(s, &cfg, &e, &err)) {
    fprintf(stderr, "engine: %s\n", err);
    return 1;
  }
  certhub_notify_stats st = {0};
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  int64_t t0 = certhub_now_ms();
  uint64_t want = (uint64_t)msgs * subs;
  while(st.delivered + st.dead < want) {
    if(certhub_notify_engine_step(e, 20, &st)) {
      fprintf(stderr, "step: %s\n", certhub_store_errmsg(s));
      return 1;
    }
  }
  double sec = (double)(certhub_now_ms() - t0) / 1000.0;
  getrusage(RUSAGE_SELF, &r1);
  double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
                        r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
               (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
                        r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) /
                   1e6;
  printf("deliveries %llu dead %llu seconds %.3f rate %.0f/s cpu %.3f s "
         "cpu-rate %.0f/s\n",
         (unsigned long long)st.delivered, (unsigned long long)st.dead, sec,
         (double)st.delivered / sec, cpu, (double)st.delivered / cpu);
  certhub_notify_engine_free(e, 1000);
  certhub_notify_filter_hook_free(filter);
  certhub_store_close(s);
  return st.dead ? 1 : 0;
}
