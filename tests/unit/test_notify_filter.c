/*
 * SNS filter policies: the data-driven cases in tests/data/filter_policies/
 * (one .txt file per topic) and the limits that need generated input.
 *
 * Case file format, one item per line:
 *
 *   # comment            ignored, as are blank lines
 *   scope S              the scope of the policies that follow
 *                        (MessageAttributes until changed; a new file
 *                        starts with MessageAttributes)
 *   policy JSON          compile JSON (rest of the line) as the current
 *                        policy; when invalid, the next line must be
 *   error SUBSTRING      a substring of the compile error
 *   true INPUT           the current policy accepts INPUT: under
 *                        MessageAttributes scope the MessageAttributes
 *                        JSON, under MessageBody the message text
 *   false INPUT          it does not
 *   input-error INPUT    the attributes are refused; the next line is
 *   ! SUBSTRING          a substring of that error
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

#include "certhub/notify_filter.h"
#include "notify/filter_hook.h"
#include "notify/proto.h"

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

static const char *after(const char *line, const char *word)
{
  size_t n = strlen(word);
  if(strncmp(line, word, n) != 0)
    return NULL;
  if(line[n] == '\0')
    return line + n;
  return line[n] == ' ' ? line + n + 1 : NULL;
}

static ch_err accepts(certhub_filter_policy *p, const char *in, bool *got,
                      char **why)
{
  if(certhub_filter_policy_scope(p) == CERTHUB_FILTER_ATTRIBUTES)
    return certhub_filter_policy_accepts(p, in, "{}", 2, got, why);
  return certhub_filter_policy_accepts(p, NULL, in, strlen(in), got, why);
}

static void run_file(struct run *r, const char *path)
{
  FILE *f = fopen(path, "r");
  char *line = NULL, *ptext = NULL, *pending = NULL, *pending_in = NULL;
  size_t cap = 0;
  ssize_t n;
  certhub_filter_policy *p = NULL;
  certhub_filter_scope scope = CERTHUB_FILTER_ATTRIBUTES;
  assert_non_null(f);
  r->file = path;
  r->line = 0;
  while((n = getline(&line, &cap, f)) != -1) {
    const char *rest;
    r->line++;
    while(n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    if(!n || line[0] == '#')
      continue;
    if(pending && !(rest = after(line, "error"))) {
      report(r, "policy %s did not compile: %s", ptext, pending);
      free(pending);
      pending = NULL;
    }
    if(pending_in && !(rest = after(line, "!"))) {
      report(r, "input-error needs a '!' line");
      free(pending_in);
      pending_in = NULL;
    }
    if((rest = after(line, "scope"))) {
      if(certhub_filter_scope_parse(rest, &scope))
        report(r, "bad scope %s", rest);
    }
    else if((rest = after(line, "policy"))) {
      certhub_filter_policy_free(p);
      p = NULL;
      free(ptext);
      ptext = strdup(rest);
      char *why = NULL;
      if(certhub_filter_policy_compile(rest, scope, &p, &why))
        pending = why ? why : strdup("(no message)");
      else
        free(why);
    }
    else if((rest = after(line, "error"))) {
      r->cases++;
      if(!pending)
        report(r, "policy %s compiled, expected error '%s'", ptext, rest);
      else if(!strstr(pending, rest))
        report(r, "policy %s: error '%s' lacks '%s'", ptext, pending, rest);
      free(pending);
      pending = NULL;
    }
    else if((rest = after(line, "true")) || (rest = after(line, "false"))) {
      bool want = line[0] == 't', got = !want;
      char *why = NULL;
      r->cases++;
      if(!p) {
        report(r, "no policy");
        continue;
      }
      if(accepts(p, rest, &got, &why))
        report(r, "policy %s input %s: error %s", ptext, rest,
               why ? why : "?");
      else if(got != want)
        report(r, "policy %s input %s: got %s, want %s", ptext, rest,
               got ? "true" : "false", want ? "true" : "false");
      free(why);
    }
    else if((rest = after(line, "input-error"))) {
      free(pending_in);
      pending_in = strdup(rest);
    }
    else if((rest = after(line, "!"))) {
      bool got = false;
      char *why = NULL;
      r->cases++;
      if(!p || !pending_in)
        report(r, "'!' without input-error");
      else if(!accepts(p, pending_in, &got, &why))
        report(r, "input %s accepted (%d), expected an error", pending_in,
               got);
      else if(!why || !strstr(why, rest))
        report(r, "input %s: error '%s' lacks '%s'", pending_in,
               why ? why : "", rest);
      free(why);
      free(pending_in);
      pending_in = NULL;
    }
    else
      report(r, "unknown line: %s", line);
  }
  if(pending)
    report(r, "policy %s did not compile: %s", ptext, pending);
  free(pending);
  free(pending_in);
  free(ptext);
  free(line);
  certhub_filter_policy_free(p);
  fclose(f);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
  return strcmp((*a)->d_name, (*b)->d_name);
}

static void test_data_files(void **state)
{
  (void)state;
  const char *data = getenv("CERTHUB_TEST_DATA");
  char dir[4096];
  struct dirent **names = NULL;
  struct run r = {0};
  assert_non_null(data);
  snprintf(dir, sizeof(dir), "%s/filter_policies", data);
  int n = scandir(dir, &names, NULL, by_name);
  assert_true(n > 0);
  int files = 0;
  for(int i = 0; i < n; i++) {
    size_t l = strlen(names[i]->d_name);
    if(l > 4 && !strcmp(names[i]->d_name + l - 4, ".txt")) {
      char path[8192];
      snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
      run_file(&r, path);
      files++;
    }
    free(names[i]);
  }
  free(names);
  fprintf(stderr, "filter policies: %d cases in %d files, %d failures\n",
          r.cases, files, r.failures);
  assert_true(files >= 8);
  assert_true(r.cases >= 100);
  assert_int_equal(r.failures, 0);
}

/* Generated input: the 256 KB size limit, a policy near it that is still
 * valid (long values), and a deep MessageBody policy. */
static void test_limits(void **state)
{
  (void)state;
  size_t big = CERTHUB_FILTER_MAX_LEN + 10;
  char *s = malloc(big + 1);
  char *why = NULL;
  certhub_filter_policy *p = NULL;
  assert_non_null(s);
  /* {"a":["xxxx..."]} over the limit */
  memset(s, 'x', big);
  memcpy(s, "{\"a\":[\"", 7);
  memcpy(s + big - 3, "\"]}", 3);
  s[big] = '\0';
  assert_int_equal(
      certhub_filter_policy_compile(s, CERTHUB_FILTER_ATTRIBUTES, &p, &why),
      CH_ERR_TOOBIG);
  assert_non_null(strstr(why, "256 KB"));
  free(why);
  why = NULL;
  /* 200 KB: valid, and far past the bus's 2048-character pattern limit */
  size_t ok = 200 * 1024;
  memcpy(s + ok - 3, "\"]}", 3);
  s[ok] = '\0';
  assert_int_equal(
      certhub_filter_policy_compile(s, CERTHUB_FILTER_ATTRIBUTES, &p, &why),
      CH_OK);
  assert_null(why);
  /* its value, as a String attribute, matches */
  size_t vlen = ok - 10;
  char *attrs = malloc(vlen + 64);
  assert_non_null(attrs);
  int w = snprintf(attrs, 64, "{\"a\":{\"Type\":\"String\",\"Value\":\"");
  memset(attrs + w, 'x', vlen);
  strcpy(attrs + w + vlen, "\"}}");
  bool got = false;
  assert_int_equal(certhub_filter_policy_accepts(p, attrs, "m", 1, &got, &why),
                   CH_OK);
  assert_true(got);
  attrs[w + 3] = 'y';
  assert_int_equal(certhub_filter_policy_accepts(p, attrs, "m", 1, &got, &why),
                   CH_OK);
  assert_false(got);
  certhub_filter_policy_free(p);
  p = NULL;
  free(attrs);
  free(s);
}

/* The delivery engine's hook: policies from subscription attributes,
 * compiled once per subscription, recompiled when they change. */
static void test_engine_hook(void **state)
{
  (void)state;
  ch_notify_filter_cache *c = NULL;
  char problem[512];
  assert_int_equal(ch_notify_filter_cache_new(&c), CH_OK);
  ch_notify_sub sub = {.arn = "arn:certhub:sns:local:0:t:1",
                       .protocol = "https"};
  ch_notify_msg m = {
      .message = "{\"detail\":{\"DaysToExpiry\":3}}",
      .attributes_json = "{\"severity\":{\"Type\":\"String\",\"Value\":"
                         "\"HIGH\"}}",
  };
  m.len = strlen(m.message);
  /* no attributes, no policy: everything */
  assert_true(ch_notify_filter_accepts(c, &sub, &m));
  sub.attributes = "{\"RawMessageDelivery\":\"true\"}";
  assert_true(ch_notify_filter_accepts(c, &sub, &m));
  /* SNS's form: the policy as a string */
  sub.attributes = "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"HIGH\\\"]}\"}";
  assert_true(ch_notify_filter_accepts(c, &sub, &m));
  sub.attributes = "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"LOW\\\"]}\"}";
  assert_false(
      ch_notify_filter_accepts(c, &sub, &m)); /* changed: recompiled */
  /* an object (configuration), body scope */
  sub.attributes = "{\"FilterPolicy\":{\"detail\":{\"DaysToExpiry\":[{"
                   "\"numeric\":[\"<\",7]}]}},\"FilterPolicyScope\":"
                   "\"MessageBody\"}";
  assert_true(ch_notify_filter_accepts(c, &sub, &m));
  m.message = "{\"detail\":{\"DaysToExpiry\":30}}";
  m.len = strlen(m.message);
  assert_false(ch_notify_filter_accepts(c, &sub, &m));
  ch_notify_filter_problem(c, problem, sizeof(problem));
  assert_string_equal(problem, "");
  /* an invalid policy lets nothing through, and says why */
  sub.attributes = "{\"FilterPolicy\":\"{\\\"a\\\":[{\\\"wildcard\\\":"
                   "\\\"x*\\\"}]}\"}";
  assert_false(ch_notify_filter_accepts(c, &sub, &m));
  ch_notify_filter_problem(c, problem, sizeof(problem));
  assert_non_null(strstr(problem, "Unrecognized match type wildcard"));
  sub.attributes = "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"HIGH\\\"]}\","
                   "\"FilterPolicyScope\":\"Body\"}";
  assert_false(ch_notify_filter_accepts(c, &sub, &m));
  /* malformed message attributes */
  sub.attributes = "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"HIGH\\\"]}\"}";
  m.attributes_json = "{\"severity\":{\"Value\":\"HIGH\"}}";
  assert_false(ch_notify_filter_accepts(c, &sub, &m));
  ch_notify_filter_problem(c, problem, sizeof(problem));
  assert_non_null(strstr(problem, "has no Type"));
  sub.attributes = "{not json";
  assert_false(ch_notify_filter_accepts(c, &sub, &m));
  /* many subscriptions */
  m.attributes_json = "{\"severity\":{\"Type\":\"String\",\"Value\":"
                      "\"HIGH\"}}";
  sub.attributes = "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"HIGH\\\"]}\"}";
  for(int i = 0; i < 3000; i++) {
    char arn[64];
    snprintf(arn, sizeof(arn), "arn:certhub:sns:local:0:t:%d", i);
    sub.arn = arn;
    assert_true(ch_notify_filter_accepts(c, &sub, &m));
  }
  ch_notify_filter_cache_free(c);
  /* the subscribe-time check */
  char *why = NULL;
  assert_int_equal(ch_notify_filter_check("{\"a\":[\"1\"]}", NULL, &why),
                   CH_OK);
  assert_int_equal(ch_notify_filter_check(NULL, "MessageBody", &why), CH_OK);
  assert_int_equal(ch_notify_filter_check("{\"a\":[\"1\"]}", "body", &why),
                   CH_ERR_PARSE);
  assert_non_null(strstr(why, "FilterPolicyScope: 'body'"));
  free(why);
  assert_int_equal(ch_notify_filter_check("{\"a\":{\"b\":[1]}}", NULL, &why),
                   CH_ERR_PARSE);
  assert_non_null(strstr(why, "does not support nested filter policy"));
  free(why);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_files),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_engine_hook),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
