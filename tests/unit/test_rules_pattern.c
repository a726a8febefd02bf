/*
 * EventBridge event patterns: the data-driven cases in
 * tests/data/patterns/ (one .txt file per topic), plus the limits that
 * need generated input.
 *
 * Case file format (in the spirit of jq's tests), one item per line:
 *
 *   # comment            ignored, as are blank lines
 *   pattern JSON         compile JSON (rest of the line) as the current
 *                        pattern; the line after must be "error ..." when
 *                        the pattern is invalid
 *   error SUBSTRING      the pattern just given fails to compile with a
 *                        message containing SUBSTRING
 *   true EVENT           the current pattern matches EVENT (JSON, rest of
 *                        the line)
 *   false EVENT          the current pattern does not match EVENT
 *   event-error EVENT    matching EVENT fails; the next line is
 *   ! SUBSTRING          a substring of that error message
 *
 * Every true/false/error/event-error line is one case; each is checked
 * through both certhub_pattern_match (text) and, where the event parses,
 * certhub_pattern_match_json.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certhub/pattern.h"

struct run {
  const char *file;
  int line;
  int cases;
  int failures;
};

static void report(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(struct run *r, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "FAIL %s:%d: ", r->file, r->line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  r->failures++;
}

/* "word rest": rest after the word and one space, or NULL. */
static const char *after(const char *line, const char *word)
{
  size_t n = strlen(word);
  if(strncmp(line, word, n) != 0)
    return NULL;
  if(line[n] == '\0')
    return line + n;
  return line[n] == ' ' ? line + n + 1 : NULL;
}

static void check_event(struct run *r, const certhub_pattern *p,
                        const char *ptext, const char *ev, bool want)
{
  bool got = !want;
  char *err = NULL;
  ch_err e = certhub_pattern_match(p, ev, strlen(ev), &got, &err);
  r->cases++;
  if(e != CH_OK) {
    report(r, "pattern %s event %s: error %s", ptext, ev, err ? err : "?");
    free(err);
    return;
  }
  if(got != want)
    report(r, "pattern %s event %s: got %s, want %s", ptext, ev,
           got ? "true" : "false", want ? "true" : "false");
  /* The parsed-event entry point must agree. */
  json_error_t jerr;
  json_t *j = json_loads(ev, JSON_DECODE_ANY, &jerr);
  if(!j) {
    report(r, "event %s does not parse", ev);
    return;
  }
  bool got2 = !want;
  e = certhub_pattern_match_json(p, j, &got2, &err);
  json_decref(j);
  if(e != CH_OK || got2 != got)
    report(r, "match_json disagrees on event %s", ev);
  free(err);
}

static void run_file(const char *path, const char *name, int *cases,
                     int *failures)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  struct run r = {name, 0, 0, 0};
  certhub_pattern *p = NULL;
  char *ptext = NULL, *perr = NULL, *everr = NULL;
  bool need_error = false, need_bang = false;
  char line[8192];
  while(fgets(line, sizeof(line), f)) {
    r.line++;
    line[strcspn(line, "\n")] = '\0';
    const char *rest;
    if(need_bang) {
      need_bang = false;
      if(!(rest = after(line, "!"))) {
        report(&r, "expected '! SUBSTRING' after event-error");
        continue;
      }
      if(!everr || !strstr(everr, rest))
        report(&r, "event error \"%s\" lacks \"%s\"", everr ? everr : "",
               rest);
      free(everr);
      everr = NULL;
      continue;
    }
    if(line[0] == '#' || line[0] == '\0')
      continue;
    if(need_error && !after(line, "error")) {
      report(&r, "pattern %s failed (%s) but no 'error' line follows", ptext,
             perr ? perr : "?");
      need_error = false;
    }
    if((rest = after(line, "pattern"))) {
      certhub_pattern_free(p);
      p = NULL;
      free(ptext);
      free(perr);
      perr = NULL;
      ptext = strdup(rest);
      assert_non_null(ptext);
      ch_err e = certhub_pattern_compile(rest, strlen(rest), &p, &perr);
      if(e != CH_OK) {
        assert_null(p);
        assert_non_null(perr);
        need_error = true;
      }
      else {
        assert_null(perr);
      }
    }
    else if((rest = after(line, "error"))) {
      r.cases++;
      if(!need_error)
        report(&r, "pattern %s compiled but an error \"%s\" was expected",
               ptext ? ptext : "(none)", rest);
      else if(!strstr(perr, rest))
        report(&r, "pattern error \"%s\" lacks \"%s\"", perr, rest);
      need_error = false;
    }
    else if((rest = after(line, "event-error"))) {
      bool got = true;
      r.cases++;
      if(!p) {
        report(&r, "no valid pattern before this line");
        continue;
      }
      ch_err e = certhub_pattern_match(p, rest, strlen(rest), &got, &everr);
      if(e == CH_OK)
        report(&r, "event %s matched (%d) but an error was expected", rest,
               got);
      if(got)
        report(&r, "matched must be false on an error");
      need_bang = true;
    }
    else if((rest = after(line, "true")) || (rest = after(line, "false"))) {
      if(!p) {
        report(&r, "no valid pattern before this line");
        continue;
      }
      check_event(&r, p, ptext, rest, line[0] == 't');
    }
    else {
      report(&r, "unknown line: %s", line);
    }
  }
  if(need_error || need_bang)
    report(&r, "file ends inside a case");
  fclose(f);
  certhub_pattern_free(p);
  free(ptext);
  free(perr);
  free(everr);
  fprintf(stderr, "%s: %d cases, %d failures\n", name, r.cases, r.failures);
  *cases += r.cases;
  *failures += r.failures;
}

static void test_data_files(void **state)
{
  (void)state;
  const char *data = getenv("CERTHUB_TEST_DATA");
  assert_non_null(data);
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/patterns", data);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *de;
  int cases = 0, failures = 0, files = 0;
  while((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if(n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
      continue;
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    run_file(path, de->d_name, &cases, &failures);
    files++;
  }
  closedir(d);
  fprintf(stderr, "patterns: %d files, %d cases, %d failures\n", files, cases,
          failures);
  assert_true(files >= 10);
  assert_true(cases >= 150);
  assert_int_equal(failures, 0);
}

static ch_err compile(const char *s, certhub_pattern **p, char **err)
{
  return certhub_pattern_compile(s, strlen(s), p, err);
}

/* The pattern size limit counts characters, not bytes. */
static void test_size_limit(void **state)
{
  (void)state;
  char buf[3 * CERTHUB_PATTERN_MAX_LEN];
  certhub_pattern *p = NULL;
  char *err = NULL;
  /* {"a":["xxx..."]}: 10 characters around the string. */
  size_t fill = CERTHUB_PATTERN_MAX_LEN - 10;
  memcpy(buf, "{\"a\":[\"", 7);
  memset(buf + 7, 'x', fill);
  memcpy(buf + 7 + fill, "\"]}", 4);
  assert_int_equal(strlen(buf), CERTHUB_PATTERN_MAX_LEN);
  assert_int_equal(compile(buf, &p, &err), CH_OK);
  certhub_pattern_free(p);
  memcpy(buf + 7 + fill, "x\"]}", 5);
  assert_int_equal(compile(buf, &p, &err), CH_ERR_TOOBIG);
  assert_null(p);
  assert_non_null(strstr(err, "longer than the limit of 2048"));
  free(err);
  err = NULL;
  /* 2048 two-byte characters are 4096 bytes but within the limit. */
  size_t o = 7;
  for(size_t i = 0; i < fill; i++, o += 2)
    memcpy(buf + o, "\xc3\xa9", 2);
  memcpy(buf + o, "\"]}", 4);
  assert_true(strlen(buf) > CERTHUB_PATTERN_MAX_LEN);
  assert_int_equal(compile(buf, &p, &err), CH_OK);
  certhub_pattern_free(p);
}

/* $or alternatives multiply across groups; the product is bounded. */
static void test_or_combinations(void **state)
{
  (void)state;
  certhub_pattern *p = NULL;
  char *err = NULL;
  /* Three groups of ten branches: 1000 combinations, allowed. */
  char buf[4096];
  size_t o = 0;
  o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{");
  for(int g = 0; g < 3; g++) {
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"g%d\":{\"$or\":[",
                          g ? "," : "", g);
    for(int b = 0; b < 10; b++)
      o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{\"k%d\":[%d]}",
                            b ? "," : "", b, b);
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]}");
  }
  snprintf(buf + o, sizeof(buf) - o, "}");
  assert_int_equal(compile(buf, &p, &err), CH_OK);
  assert_int_equal(certhub_pattern_alternatives(p), 1000);
  const char *ev = "{\"g0\":{\"k3\":3},\"g1\":{\"k9\":9},\"g2\":{\"k0\":0}}";
  bool m = false;
  assert_int_equal(certhub_pattern_match(p, ev, strlen(ev), &m, &err), CH_OK);
  assert_true(m);
  ev = "{\"g0\":{\"k3\":3},\"g1\":{\"k9\":8},\"g2\":{\"k0\":0}}";
  assert_int_equal(certhub_pattern_match(p, ev, strlen(ev), &m, &err), CH_OK);
  assert_false(m);
  certhub_pattern_free(p);
  /* A fourth group of two: 2000, refused. */
  buf[strlen(buf) - 1] = '\0';
  strcat(buf, ",\"g3\":{\"$or\":[{\"x\":[1]},{\"y\":[2]}]}}");
  assert_int_equal(compile(buf, &p, &err), CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "more than 1000 combinations"));
  assert_non_null(strstr(err, "'g3'"));
  free(err);
}

/* Too many stars over the whole pattern is refused. */
static void test_wildcard_total(void **state)
{
  (void)state;
  char buf[2048];
  size_t o = (size_t)snprintf(buf, sizeof(buf), "{\"a\":[");
  for(int i = 0; i < 9; i++)
    o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                          "%s{\"wildcard\":\"*a*b*c*d*e*f*g*h*\"}",
                          i ? "," : "");
  snprintf(buf + o, sizeof(buf) - o, "]}");
  certhub_pattern *p = NULL;
  char *err = NULL;
  assert_int_equal(compile(buf, &p, &err), CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "too complex"));
  free(err);
}

/* Events: size limit, depth limit, non-objects. */
static void test_event_limits(void **state)
{
  (void)state;
  certhub_pattern *p = NULL;
  char *err = NULL;
  bool m = true;
  assert_int_equal(compile("{\"a\":[{\"exists\":false}]}", &p, &err), CH_OK);
  size_t n = CERTHUB_EVENT_MAX_LEN + 10;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, ' ', n);
  memcpy(big, "{}", 2);
  big[n] = '\0';
  assert_int_equal(certhub_pattern_match(p, big, n, &m, &err), CH_ERR_TOOBIG);
  assert_false(m);
  assert_non_null(strstr(err, "larger than the limit"));
  free(err);
  err = NULL;
  /* 150 nested arrays: parsed fine; skipped off the pattern's paths,
   * refused as too deep on them. */
  size_t o = 0;
  o += (size_t)sprintf(big + o, "{\"b\":");
  for(int i = 0; i < 150; i++)
    big[o++] = '[';
  big[o++] = '1';
  for(int i = 0; i < 150; i++)
    big[o++] = ']';
  big[o++] = '}';
  big[o] = '\0';
  assert_int_equal(certhub_pattern_match(p, big, o, &m, &err), CH_OK);
  assert_true(m);
  certhub_pattern_free(p);
  assert_int_equal(compile("{\"b\":[1]}", &p, &err), CH_OK);
  assert_int_equal(certhub_pattern_match(p, big, o, &m, &err), CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "nested too deeply"));
  free(err);
  err = NULL;
  assert_int_equal(certhub_pattern_match_json(p, NULL, &m, &err),
                   CH_ERR_PARSE);
  free(err);
  free(big);
  certhub_pattern_free(p);
}

/* Backtracking over array elements stays bounded. */
static void test_match_budget(void **state)
{
  (void)state;
  certhub_pattern *p = NULL;
  char *err = NULL;
  /* Ten fields that each match every element of one array, but no
   * single element has the last field: exhaustive search would take
   * 200^9 steps. Fields come from one array, so they must agree. */
  const char *pat = "{\"o\":{\"a\":[\"x\"],\"b\":[\"x\"],\"c\":[\"x\"],"
                    "\"d\":[\"x\"],\"z\":[\"never\"]}}";
  assert_int_equal(compile(pat, &p, &err), CH_OK);
  char *ev = malloc(64 * 1024);
  assert_non_null(ev);
  size_t o = (size_t)sprintf(ev, "{\"o\":[");
  for(int i = 0; i < 200; i++)
    o += (size_t)sprintf(ev + o,
                         "%s{\"a\":\"x\",\"b\":\"x\",\"c\":\"x\","
                         "\"d\":\"x\"}",
                         i ? "," : "");
  o += (size_t)sprintf(ev + o, "]}");
  bool m = true;
  ch_err e = certhub_pattern_match(p, ev, o, &m, &err);
  /* Consistency prunes this to linear work: a plain false. */
  assert_int_equal(e, CH_OK);
  assert_false(m);
  certhub_pattern_free(p);
  /* Four independent arrays of 60 choices each, then two fields of one
   * array that never agree: the search gives up with an error instead
   * of running for 60^4 steps. */
  pat = "{\"a\":[\"x\"],\"b\":[\"x\"],\"c\":[\"x\"],\"d\":[\"x\"],"
        "\"o\":{\"p\":[\"x\"],\"q\":[\"y\"]}}";
  assert_int_equal(compile(pat, &p, &err), CH_OK);
  o = (size_t)sprintf(ev, "{");
  for(int k = 0; k < 4; k++) {
    o += (size_t)sprintf(ev + o, "\"%c\":[", 'a' + k);
    for(int i = 0; i < 60; i++)
      o += (size_t)sprintf(ev + o, "%s\"x\"", i ? "," : "");
    o += (size_t)sprintf(ev + o, "],");
  }
  o += (size_t)sprintf(ev + o, "\"o\":[{\"p\":\"x\"},{\"q\":\"y\"}]}");
  m = true;
  e = certhub_pattern_match(p, ev, o, &m, &err);
  assert_int_equal(e, CH_ERR_TOOBIG);
  assert_false(m);
  assert_non_null(strstr(err, "too complex to match"));
  free(err);
  free(ev);
  certhub_pattern_free(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_files),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_or_combinations),
      cmocka_unit_test(test_wildcard_total),
      cmocka_unit_test(test_event_limits),
      cmocka_unit_test(test_match_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
