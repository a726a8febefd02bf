/*
 * Target input shaping (Input, InputPath, InputTransformer): the
 * data-driven cases in tests/data/transform/ (*.txt), plus the limits that
 * need generated input.
 *
 * Case file format, one item per line:
 *
 *   # comment            ignored, as are blank lines
 *   event JSON           the event the next cases shape
 *   ctx rule=R bus=B time=T   the rule name, bus and ingestion time
 *   input JSON           input fields (an object merged into a file target);
 *                        the next line says what they give:
 *   json TEXT            a JSON output, byte for byte (and valid JSON)
 *   text TEXT            a text-template output, byte for byte
 *   jsonstr "..."        like json/text, the expected bytes given as a
 *   textstr "..."          JSON string literal (for newlines and the like)
 *   error SUBSTRING      the target fails to parse, the message containing
 *                        SUBSTRING
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
#include <jansson.h>

#include "certhub/target.h"
#include "core/core.h"

struct run {
  const char *file;
  int line;
  int cases;
  int failures;
  char *event;
  char rule[128], bus[128];
  long long time;
  certhub_rule_target *t;
  char *terr;
  ch_err trc;
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
  if(strncmp(line, word, n) != 0 || line[n] != ' ')
    return NULL;
  return line + n + 1;
}

/* {"Id":"t","Type":"file","Path":"/dev/null"} plus the input fields. */
static void make_target(struct run *r, const char *fields)
{
  certhub_rule_target_free(r->t);
  r->t = NULL;
  free(r->terr);
  r->terr = NULL;
  json_t *o = json_loads(fields, 0, NULL);
  if(!json_is_object(o)) {
    report(r, "input line is not a JSON object");
    json_decref(o);
    r->trc = CH_ERR_PARSE;
    return;
  }
  json_object_set_new(o, "Id", json_string("t"));
  json_object_set_new(o, "Type", json_string("file"));
  json_object_set_new(o, "Path", json_string("/dev/null"));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  r->trc = certhub_rule_target_parse(s, strlen(s), &r->t, &r->terr);
  free(s);
}

static void expect_output(struct run *r, const char *want, size_t wlen,
                          bool want_json)
{
  r->cases++;
  if(r->trc != CH_OK) {
    report(r, "target did not parse: %s", r->terr ? r->terr : "?");
    return;
  }
  certhub_target_ctx ctx = {
      .rule_name = r->rule, .bus_name = r->bus, .ingestion_time = r->time};
  char *out = NULL, *err = NULL;
  size_t len = 0;
  bool is_json = !want_json;
  ch_err rc = certhub_rule_target_input(r->t, &ctx, r->event, strlen(r->event),
                                        &out, &len, &is_json, &err);
  if(rc != CH_OK) {
    report(r, "shaping failed: %s", err ? err : certhub_strerror(rc));
  }
  else if(len != wlen || memcmp(out, want, wlen) != 0) {
    report(r, "output\n  got:  %s\n  want: %s", out, want);
  }
  else if(is_json != want_json) {
    report(r, "output is %s, expected %s", is_json ? "JSON" : "text",
           want_json ? "JSON" : "text");
  }
  else if(is_json) {
    json_t *j = json_loadb(out, len, JSON_DECODE_ANY, NULL);
    if(!j)
      report(r, "output is not valid JSON: %s", out);
    json_decref(j);
  }
  free(out);
  free(err);
}

static void run_file(struct run *r, const char *path)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  r->line = 0;
  while((n = getline(&line, &cap, f)) >= 0) {
    r->line++;
    while(n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    const char *rest;
    if(n == 0 || line[0] == '#')
      continue;
    if((rest = after(line, "event"))) {
      free(r->event);
      r->event = strdup(rest);
    }
    else if((rest = after(line, "ctx"))) {
      if(sscanf(rest, "rule=%127s bus=%127s time=%lld", r->rule, r->bus,
                &r->time) != 3)
        report(r, "bad ctx line");
    }
    else if((rest = after(line, "input"))) {
      make_target(r, rest);
    }
    else if((rest = after(line, "json")) || (rest = after(line, "text"))) {
      expect_output(r, rest, strlen(rest), line[0] == 'j');
    }
    else if((rest = after(line, "jsonstr")) ||
            (rest = after(line, "textstr"))) {
      json_t *s = json_loads(rest, JSON_DECODE_ANY, NULL);
      if(!json_is_string(s))
        report(r, "not a JSON string literal");
      else
        expect_output(r, json_string_value(s), json_string_length(s),
                      line[0] == 'j');
      json_decref(s);
    }
    else if((rest = after(line, "error"))) {
      r->cases++;
      if(r->trc == CH_OK)
        report(r, "target parsed, expected an error containing \"%s\"", rest);
      else if(!r->terr || !strstr(r->terr, rest))
        report(r, "error \"%s\" does not contain \"%s\"",
               r->terr ? r->terr : "(none)", rest);
    }
    else {
      report(r, "unknown line: %s", line);
    }
  }
  free(line);
  fclose(f);
}

static void data_cases(void **state)
{
  (void)state;
  const char *base = getenv("CERTHUB_TEST_DATA");
  assert_non_null(base);
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/transform", base);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *de;
  struct run r;
  memset(&r, 0, sizeof(r));
  int files = 0;
  while((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if(l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
      continue;
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    r.file = de->d_name;
    run_file(&r, path);
    files++;
  }
  closedir(d);
  certhub_rule_target_free(r.t);
  free(r.terr);
  free(r.event);
  fprintf(stderr, "%d transform cases in %d files, %d failed\n", r.cases,
          files, r.failures);
  assert_true(files >= 4);
  assert_true(r.cases >= 60);
  assert_int_equal(r.failures, 0);
}

static certhub_rule_target *parse_ok(const char *json)
{
  certhub_rule_target *t = NULL;
  char *err = NULL;
  ch_err rc = certhub_rule_target_parse(json, strlen(json), &t, &err);
  if(rc != CH_OK)
    fprintf(stderr, "unexpected: %s\n", err ? err : "?");
  assert_int_equal(rc, CH_OK);
  free(err);
  return t;
}

/* 100 variables are allowed, 101 are not. */
static void paths_map_limit(void **state)
{
  (void)state;
  for(int n = 100; n <= 101; n++) {
    json_t *map = json_object();
    ch_buf tmpl;
    ch_buf_init(&tmpl, 1 << 20);
    assert_int_equal(ch_buf_addc(&tmpl, '['), CH_OK);
    for(int i = 0; i < n; i++) {
      char k[16];
      snprintf(k, sizeof(k), "v%d", i);
      json_object_set_new(map, k, json_string("$.detail.n"));
      assert_int_equal(ch_buf_printf(&tmpl, "%s<%s>", i ? "," : "", k), CH_OK);
    }
    assert_int_equal(ch_buf_addc(&tmpl, ']'), CH_OK);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:{s:o,s:s}}", "Id", "t", "Type",
                             "file", "Path", "/dev/null", "InputTransformer",
                             "InputPathsMap", map, "InputTemplate", tmpl.data);
    char *s = json_dumps(spec, JSON_COMPACT);
    certhub_rule_target *t = NULL;
    char *err = NULL;
    ch_err rc = certhub_rule_target_parse(s, strlen(s), &t, &err);
    if(n == 100) {
      assert_int_equal(rc, CH_OK);
      const char *ev = "{\"detail\":{\"n\":7}}";
      char *out = NULL;
      size_t len;
      bool js;
      assert_int_equal(certhub_rule_target_input(t, NULL, ev, strlen(ev), &out,
                                                 &len, &js, &err),
                       CH_OK);
      assert_true(js);
      assert_int_equal(len, 2 + 100 + 99);
      free(out);
    }
    else {
      assert_int_equal(rc, CH_ERR_PARSE);
      assert_non_null(strstr(err, "at most 100 variables"));
    }
    certhub_rule_target_free(t);
    free(err);
    free(s);
    json_decref(spec);
    ch_buf_free(&tmpl);
  }
}

/* The output cap: a template that repeats a big value 8000 times. */
static void output_is_capped(void **state)
{
  (void)state;
  ch_buf tmpl;
  ch_buf_init(&tmpl, 1 << 20);
  for(int i = 0; i < 2000; i++)
    assert_int_equal(ch_buf_addstr(&tmpl, "<v>"), CH_OK);
  json_t *spec =
      json_pack("{s:s,s:s,s:s,s:{s:{s:s},s:s}}", "Id", "t", "Type", "file",
                "Path", "/dev/null", "InputTransformer", "InputPathsMap", "v",
                "$.detail.s", "InputTemplate", tmpl.data);
  char *s = json_dumps(spec, JSON_COMPACT);
  certhub_rule_target *t = parse_ok(s);
  /* 200 bytes x 2000 = 400 KB > 256 KiB. */
  char ev[512];
  memset(ev, 0, sizeof(ev));
  strcpy(ev, "{\"detail\":{\"s\":\"");
  size_t l = strlen(ev);
  memset(ev + l, 'x', 200);
  strcpy(ev + l + 200, "\"}}");
  char *out = NULL, *err = NULL;
  size_t len;
  bool js;
  assert_int_equal(certhub_rule_target_input(t, NULL, ev, strlen(ev), &out,
                                             &len, &js, &err),
                   CH_ERR_TOOBIG);
  assert_null(out);
  assert_non_null(strstr(err, "over 262144 bytes"));
  free(err);
  err = NULL;
  /* Delivery of it is FAILED (it would fail every time), not an error. */
  certhub_delivery dv;
  assert_int_equal(
      certhub_rule_target_deliver(t, NULL, ev, strlen(ev), &dv, &err), CH_OK);
  assert_int_equal(dv, CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(err, "over 262144 bytes"));
  free(err);
  /* A smaller value fits: 100 x 2000 = 200 KB. */
  strcpy(ev + l + 100, "\"}}");
  assert_int_equal(certhub_rule_target_input(t, NULL, ev, strlen(ev), &out,
                                             &len, &js, &err),
                   CH_OK);
  assert_int_equal(len, 200000);
  assert_false(js);
  free(out);
  certhub_rule_target_free(t);
  free(s);
  json_decref(spec);
  ch_buf_free(&tmpl);
}

/* Events that are not JSON objects cannot be shaped. */
static void bad_events(void **state)
{
  (void)state;
  certhub_rule_target *t = parse_ok(
      "{\"Id\":\"t\",\"Type\":\"file\",\"Path\":\"/dev/null\",\"InputPath\":"
      "\"$.a\"}");
  const char *bad[] = {"", "{", "[1]", "\"x\"", "{\"a\":1} x"};
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    char *out = NULL, *err = NULL;
    size_t len;
    bool js;
    assert_int_equal(certhub_rule_target_input(t, NULL, bad[i], strlen(bad[i]),
                                               &out, &len, &js, &err),
                     CH_ERR_PARSE);
    assert_non_null(strstr(err, "event: not"));
    free(err);
  }
  /* No input fields: the event byte for byte, even pretty-printed. */
  certhub_rule_target_free(t);
  t = parse_ok("{\"Id\":\"t\",\"Type\":\"file\",\"Path\":\"/dev/null\"}");
  const char *ev = "{ \"a\" :\n 1 }";
  char *out = NULL, *err = NULL;
  size_t len;
  bool js;
  assert_int_equal(certhub_rule_target_input(t, NULL, ev, strlen(ev), &out,
                                             &len, &js, &err),
                   CH_OK);
  assert_string_equal(out, ev);
  assert_true(js);
  free(out);
  certhub_rule_target_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(data_cases),
      cmocka_unit_test(paths_map_limit),
      cmocka_unit_test(output_is_capped),
      cmocka_unit_test(bad_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
