/*
 * bench_digest: notification content costs.
 *
 *   bench_digest [N [digest]]   (default 100000; "digest": only (1))
 *
 * (1) The weekly digest for N expiring certificates (250 owners and
 *     untagged ones, days 0..44, three sources each): from the parsed
 *     event (what the delivery engine holds) and from its JSON text
 *     (parse included); the bodies are bounded at 256 KiB, so past the
 *     cap the work is grouping and counting. Target: < 1 s at 100,000.
 *     Also the topic target's cut of that event to 256 KiB
 *     (certhub_lifecycle_batch_cut: parse, sort by days, re-serialise).
 * (2) A filter policy decision per message (MessageAttributes scope).
 * (3) Sealing and opening a 4 KiB body (AES-256-GCM).
 * Times are wall clock, best of 5 (median in brackets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "certhub/lifecycle.h"
#include "certhub/notify.h"
#include "certhub/notify_filter.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static json_t *digest(size_t n)
{
  json_t *certs = json_array();
  unsigned seed = 42;
  for(size_t i = 0; i < n; i++) {
    char cn[64], id[17], na[32], owner[32], s1[96], s2[96], s3[96];
    seed = seed * 1103515245u + 12345u;
    unsigned days = (seed >> 8) % 45, ow = (seed >> 16) % 260;
    snprintf(cn, sizeof(cn), "host-%zu.internal.example.com", i);
    snprintf(id, sizeof(id), "%016zx", i * 2654435761u);
    snprintf(na, sizeof(na), "2027-01-%02uT12:00:00Z", 1 + days % 28);
    snprintf(owner, sizeof(owner), "team-%u", ow);
    snprintf(s1, sizeof(s1), "/etc/ssl/private/site-%zu.pem", i);
    snprintf(s2, sizeof(s2), "/srv/app/%zu/tls/fullchain.pem", i);
    snprintf(s3, sizeof(s3), "tls://host-%zu.internal.example.com:443", i);
    json_array_append_new(
        certs, json_pack("{ss ss ss sI ss ss so s[sss]}", "Id", id, "Arn",
                         "arn:certhub:acm:local:000000000000:certificate/"
                         "01234567-89ab-cdef-0123-456789abcdef",
                         "CommonName", cn, "DaysToExpiry", (json_int_t)days,
                         "NotAfter", na, "Issuer", "Example Issuing CA R3",
                         "Owner", ow < 250 ? json_string(owner) : json_null(),
                         "Sources", s1, s2, s3));
  }
  return json_pack("{ss ss ss ss ss s[s] s{so sI ss}}", "version", "0", "id",
                   "bench", "detail-type", "Scheduled Event", "source",
                   "aws.events", "time", "2026-12-06T00:05:00Z", "resources",
                   "arn:certhub:events:local:000000000000:rule/weekly",
                   "detail", "certificates", certs, "count", (json_int_t)n,
                   "generatedAt", "2026-12-06T00:05:00Z");
}

#define RUNS 5

int main(int argc, char **argv)
{
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
  double t[RUNS], c[RUNS];
  certhub_rendered r;
  char *why = NULL;
  json_t *ev = digest(n);
  char *text = json_dumps(ev, JSON_COMPACT);
  size_t tlen = strlen(text);
  printf("digest: %zu certificates, event %.1f MB\n", n, tlen / 1e6);
  for(int k = 0; k < RUNS; k++) {
    double a = now(), ac = cpu();
    if(certhub_render_event_json(ev, NULL, &r, &why)) {
      fprintf(stderr, "render: %s\n", why ? why : "?");
      return 1;
    }
    t[k] = now() - a;
    c[k] = cpu() - ac;
    if(k == 0)
      printf("  listed %zu, omitted %zu, text %zu B, html %zu B\n", r.n_listed,
             r.n_omitted, strlen(r.text), strlen(r.html));
    certhub_rendered_free(&r);
  }
  qsort(t, RUNS, sizeof(t[0]), cmpd);
  qsort(c, RUNS, sizeof(c[0]), cmpd);
  printf("  render from the parsed event:   %.3f s  [%.3f]  cpu %.3f s\n",
         t[0], t[RUNS / 2], c[0]);
  for(int k = 0; k < RUNS; k++) {
    double a = now(), ac = cpu();
    if(certhub_render_event(text, tlen, NULL, &r, &why)) {
      fprintf(stderr, "render: %s\n", why ? why : "?");
      return 1;
    }
    t[k] = now() - a;
    c[k] = cpu() - ac;
    certhub_rendered_free(&r);
  }
  qsort(t, RUNS, sizeof(t[0]), cmpd);
  qsort(c, RUNS, sizeof(c[0]), cmpd);
  printf("  parse JSON text + render:       %.3f s  [%.3f]  cpu %.3f s\n",
         t[0], t[RUNS / 2], c[0]);
  /* the topic target's bounded form of the event (what is published when
   * the batch event is over the 256 KiB message limit) */
  size_t listed = 0;
  for(int k = 0; k < RUNS; k++) {
    char *cut = NULL;
    size_t clen = 0;
    double a = now(), ac = cpu();
    if(certhub_lifecycle_batch_cut(text, tlen, CERTHUB_MESSAGE_MAX, &cut,
                                   &clen, &listed)) {
      fprintf(stderr, "cut failed\n");
      return 1;
    }
    t[k] = now() - a;
    c[k] = cpu() - ac;
    free(cut);
  }
  qsort(t, RUNS, sizeof(t[0]), cmpd);
  qsort(c, RUNS, sizeof(c[0]), cmpd);
  printf("  cut to 256 KiB (%zu listed):    %.3f s  [%.3f]  cpu %.3f s\n",
         listed, t[0], t[RUNS / 2], c[0]);
  free(text);
  json_decref(ev);
  if(argc > 2 && !strcmp(argv[2], "digest"))
    return 0;

  /* filter policy decisions */
  certhub_filter_policy *p = NULL;
  if(certhub_filter_policy_compile(
         "{\"store\":[\"example_corp\"],\"price_usd\":[{\"numeric\":[\">=\","
         "100]}],\"$or\":[{\"kind\":[{\"prefix\":\"order-\"}]},{\"ip\":["
         "{\"cidr\":\"10.0.0.0/8\"}]}]}",
         CERTHUB_FILTER_ATTRIBUTES, &p, &why)) {
    fprintf(stderr, "policy: %s\n", why);
    return 1;
  }
  const char *attrs =
      "{\"store\":{\"Type\":\"String\",\"Value\":\"example_corp\"},"
      "\"price_usd\":{\"Type\":\"Number\",\"Value\":\"210.75\"},\"kind\":"
      "{\"Type\":\"String\",\"Value\":\"order-placed\"},\"tags\":{\"Type\":"
      "\"String.Array\",\"Value\":\"[\\\"a\\\",\\\"b\\\"]\"}}";
  size_t m = 50000, acc = 0;
  for(int k = 0; k < RUNS; k++) {
    double a = now();
    for(size_t i = 0; i < m; i++) {
      bool ok = false;
      certhub_filter_policy_accepts(p, attrs, "x", 1, &ok, NULL);
      acc += ok;
    }
    t[k] = now() - a;
  }
  qsort(t, RUNS, sizeof(t[0]), cmpd);
  printf("filter policy (attributes): %.2f us per message  [%.2f] (%zu "
         "accepted)\n",
         t[0] / (double)m * 1e6, t[RUNS / 2] / (double)m * 1e6, acc / RUNS);
  certhub_filter_policy_free(p);

  /* seal/open */
  uint8_t key[32] = {1};
  certhub_seal_key *sk = NULL;
  certhub_seal_key_from_bytes(key, sizeof(key), &sk);
  char body[4096];
  memset(body, 'm', sizeof(body));
  size_t sm = 20000;
  for(int k = 0; k < RUNS; k++) {
    double a = now();
    for(size_t i = 0; i < sm; i++) {
      uint8_t *s = NULL;
      size_t sl = 0, pl = 0;
      char *pt = NULL;
      certhub_seal(sk, "arn:certhub:sns:local:0:t", "id", body, sizeof(body),
                   &s, &sl);
      certhub_seal_open(sk, "arn:certhub:sns:local:0:t", "id", s, sl, &pt, &pl,
                        NULL);
      free(s);
      free(pt);
    }
    t[k] = now() - a;
  }
  qsort(t, RUNS, sizeof(t[0]), cmpd);
  printf("seal + open, 4 KiB body: %.2f us  [%.2f]\n", t[0] / (double)sm * 1e6,
         t[RUNS / 2] / (double)sm * 1e6);
  certhub_seal_key_free(sk);
  return 0;
}
