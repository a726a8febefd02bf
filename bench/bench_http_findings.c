/*
 * HTTP API benchmark client: BatchImportFindings through POST
 * /v1/findings/import of a running `certhub serve`, 100 findings a call,
 * CONC requests in flight at once (libcurl multi, kept-alive connections).
 * Every finding has a new Id, so the store grows by TOTAL findings.
 *
 *   bench_http_findings URL TOKEN TOTAL CONC [STEP]
 *
 * Prints a Markdown row per STEP findings (default 100000): the rate over
 * that step and the store size reached, then the overall rate. Exits 1 if
 * any call fails or a finding is not accepted.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 100
#define MAX_CONC 256

static double wall(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct slot {
  CURL *h;
  char *body;
  size_t body_len;
  char resp[4096];
  size_t resp_len;
  struct curl_slist *hdrs;
} slot;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
  slot *s = ud;
  size_t len = sz * n, room = sizeof(s->resp) - 1 - s->resp_len;
  memcpy(s->resp + s->resp_len, p, len < room ? len : room);
  s->resp_len += len < room ? len : room;
  s->resp[s->resp_len] = '\0';
  return len;
}

/* 100 findings with Ids base..base+99, about 1 KB each, as a
 * scanner would send them. */
static size_t make_body(char *buf, size_t cap, long base)
{
  size_t n = 0;
  n += (size_t)snprintf(buf + n, cap - n, "{\"Findings\":[");
  for(int i = 0; i < BATCH; i++) {
    long id = base + i;
    n += (size_t)snprintf(
        buf + n, cap - n,
        "%s{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"bench/finding/%ld\","
        "\"ProductArn\":\"arn:certhub:securityhub:local:000000000000:"
        "product/bench/scanner\",\"GeneratorId\":\"bench-rule-%ld\","
        "\"AwsAccountId\":\"000000000000\",\"Types\":[\"Software and "
        "Configuration Checks/Vulnerabilities/CVE\"],\"CreatedAt\":"
        "\"2026-11-20T00:00:00Z\",\"UpdatedAt\":\"2026-11-21T00:00:00Z\","
        "\"Severity\":{\"Label\":\"%s\"},\"Title\":\"Weak certificate "
        "%ld\",\"Description\":\"The certificate of host-%ld.example.com "
        "uses a key or signature the policy no longer allows; renew it with "
        "a stronger key.\",\"Resources\":[{\"Type\":\"Other\",\"Id\":"
        "\"host-%ld.example.com:443\",\"Region\":\"local\"}],"
        "\"Compliance\":{\"Status\":\"FAILED\"}}",
        i ? "," : "", id, id % 50,
        (id % 4) == 0   ? "HIGH"
        : (id % 4) == 1 ? "MEDIUM"
                        : "LOW",
        id, id, id);
  }
  n += (size_t)snprintf(buf + n, cap - n, "]}");
  return n;
}

int main(int argc, char **argv)
{
  if(argc < 5) {
    fprintf(stderr,
            "usage: bench_http_findings URL TOKEN TOTAL CONC [STEP]\n");
    return 2;
  }
  const char *url = argv[1];
  long total = atol(argv[3]), conc = atol(argv[4]);
  long step = argc > 5 ? atol(argv[5]) : 100000;
  if(total < BATCH || conc < 1 || conc > MAX_CONC || step < BATCH) {
    fprintf(stderr, "bad TOTAL, CONC (1..%d) or STEP\n", MAX_CONC);
    return 2;
  }
  char endpoint[512], auth[256];
  snprintf(endpoint, sizeof(endpoint), "%s/v1/findings/import", url);
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *m = curl_multi_init();
  slot *slots = calloc((size_t)conc, sizeof(*slots));
  if(!m || !slots)
    return 1;
  long next = 0, done = 0, failed = 0, step_mark = step;
  double t0 = wall(), ts = t0;
  printf("| findings in store | step rate (findings/s) |\n| --- | --- |\n");
  for(long i = 0; i < conc; i++) {
    slot *s = &slots[i];
    s->body = malloc(BATCH * 1200 + 64);
    s->h = curl_easy_init();
    s->hdrs = curl_slist_append(NULL, auth);
    s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    curl_easy_setopt(s->h, CURLOPT_URL, endpoint);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYPEER, 0L); /* bench only */
  }
  long running_slots = 0;
  for(long i = 0; i < conc && next < total; i++, next += BATCH) {
    slot *s = &slots[i];
    s->body_len = make_body(s->body, BATCH * 1200 + 64, next);
    s->resp_len = 0;
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)s->body_len);
    curl_multi_add_handle(m, s->h);
    running_slots++;
  }
  while(running_slots) {
    int still = 0, q = 0;
    curl_multi_perform(m, &still);
    curl_multi_poll(m, NULL, 0, 100, NULL);
    CURLMsg *msg;
    while((msg = curl_multi_info_read(m, &q))) {
      if(msg->msg != CURLMSG_DONE)
        continue;
      slot *s;
      long code = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
      curl_multi_remove_handle(m, s->h);
      running_slots--;
      if(msg->data.result != CURLE_OK || code != 200 ||
         !strstr(s->resp, "\"FailedCount\":0")) {
        if(failed++ < 5)
          fprintf(stderr, "call failed: %s, HTTP %ld: %.300s\n",
                  curl_easy_strerror(msg->data.result), code, s->resp);
      }
      done += BATCH;
      if(done >= step_mark) {
        double now = wall();
        printf("| %ld | %.0f |\n", done, (double)step / (now - ts));
        fflush(stdout);
        ts = now;
        step_mark += step;
      }
      if(next < total) {
        s->body_len = make_body(s->body, BATCH * 1200 + 64, next);
        s->resp_len = 0;
        next += BATCH;
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)s->body_len);
        curl_multi_add_handle(m, s->h);
        running_slots++;
      }
    }
  }
  double el = wall() - t0;
  printf("\ntotal: %ld findings in %.2f s: %.0f findings/s, %ld failed "
         "calls, %ld concurrent\n",
         done, el, (double)done / el, failed, conc);
  for(long i = 0; i < conc; i++) {
    curl_easy_cleanup(slots[i].h);
    curl_slist_free_all(slots[i].hdrs);
    free(slots[i].body);
  }
  free(slots);
  curl_multi_cleanup(m);
  curl_global_cleanup();
  return failed ? 1 : 0;
}
