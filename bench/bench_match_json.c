/*
 * Baseline and cross-check for the event-matching benchmark
 * (bench/match/run.sh):
 *
 *   bench_match_json EVENTS.jsonl
 *       parse every line with jansson (json_loadb, then free), in memory,
 *       and print "jansson events N cpu_seconds S events_per_cpu_s R"
 *       (also wall-clock): what a matcher built on a JSON library pays
 *       before matching anything.
 *   bench_match_json EVENTS.jsonl RULES.json N
 *       check the compiled ruleset against the reference matcher
 *       (certhub_pattern_match, rule by rule) on the first N events;
 *       prints the disagreements (exit 1 if any).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "certhub/pattern.h"
#include "certhub/ruleset.h"

static double clock_s(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return NULL;
  size_t cap = 1 << 20, n = 0;
  char *b = malloc(cap);
  size_t k;
  while(b && (k = fread(b + n, 1, cap - n, f)) > 0) {
    n += k;
    if(n == cap) {
      char *nb = realloc(b, cap *= 2);
      if(!nb) {
        free(b);
        b = NULL;
      }
      b = nb;
    }
  }
  fclose(f);
  *len = n;
  return b;
}

static int parse_bench(const char *data, size_t len)
{
  size_t events = 0, bad = 0;
  double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  for(size_t o = 0; o < len;) {
    const char *nl = memchr(data + o, '\n', len - o);
    size_t n = nl ? (size_t)(nl - (data + o)) : len - o;
    if(n) {
      json_error_t err;
      json_t *j = json_loadb(data + o, n, 0, &err);
      bad += !j;
      json_decref(j);
      events++;
    }
    o += n + 1;
  }
  double c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0,
         w = clock_s(CLOCK_MONOTONIC) - w0;
  printf("jansson events %zu cpu_seconds %.6f events_per_cpu_s %.0f "
         "wall_seconds %.6f events_per_s %.0f invalid %zu\n",
         events, c, events / c, w, events / w, bad);
  return bad ? 1 : 0;
}

static int verify(const char *data, size_t len, const char *rules_path,
                  size_t max)
{
  json_error_t jerr;
  json_t *rules = json_load_file(rules_path, 0, &jerr);
  if(!json_is_object(rules)) {
    fprintf(stderr, "%s: %s\n", rules_path, jerr.text);
    return 2;
  }
  size_t nr = json_object_size(rules), i = 0, diffs = 0, events = 0;
  certhub_pattern **ps = calloc(nr, sizeof(*ps));
  certhub_ruleset *rs = NULL;
  certhub_match_scratch *sc = NULL;
  if(!ps || certhub_ruleset_new(&rs) || certhub_match_scratch_new(&sc))
    return 3;
  const char *name;
  json_t *pat;
  json_object_foreach(rules, name, pat)
  {
    char *t = json_dumps(pat, JSON_COMPACT), *err = NULL;
    if(!t || certhub_pattern_compile(t, strlen(t), &ps[i], &err) ||
       certhub_ruleset_add(rs, name, t, strlen(t), NULL, &err)) {
      fprintf(stderr, "rule %s: %s\n", name, err ? err : "?");
      return 2;
    }
    free(t);
    i++;
  }
  for(size_t o = 0; o < len && events < max;) {
    const char *nl = memchr(data + o, '\n', len - o);
    size_t n = nl ? (size_t)(nl - (data + o)) : len - o;
    if(n) {
      const size_t *mv;
      size_t nm, k = 0;
      events++;
      if(certhub_ruleset_match(rs, sc, data + o, n, &mv, &nm, NULL)) {
        fprintf(stderr, "event %zu: ruleset error\n", events);
        diffs++;
      }
      else {
        for(size_t r = 0; r < nr; r++) {
          bool m = false;
          bool in = k < nm && mv[k] == r;
          k += in;
          if(certhub_pattern_match(ps[r], data + o, n, &m, NULL) || m != in) {
            fprintf(stderr, "event %zu rule %s: ruleset %d reference %d\n",
                    events, certhub_ruleset_name(rs, r), in, m);
            diffs++;
          }
        }
      }
    }
    o += n + 1;
  }
  printf("verify events %zu rules %zu disagreements %zu\n", events, nr, diffs);
  for(i = 0; i < nr; i++)
    certhub_pattern_free(ps[i]);
  free(ps);
  certhub_ruleset_free(rs);
  certhub_match_scratch_free(sc);
  json_decref(rules);
  return diffs ? 1 : 0;
}

int main(int argc, char **argv)
{
  if(argc != 2 && argc != 4) {
    fprintf(stderr, "usage: bench_match_json EVENTS.jsonl [RULES.json N]\n");
    return 2;
  }
  size_t len = 0;
  char *data = slurp(argv[1], &len);
  if(!data) {
    perror(argv[1]);
    return 2;
  }
  int r = argc == 2 ? parse_bench(data, len)
                    : verify(data, len, argv[2], strtoul(argv[3], NULL, 10));
  free(data);
  return r;
}
