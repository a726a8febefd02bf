/*
 * Schedules: fire times from tests/data/schedules/next.txt, rejected
 * expressions from tests/data/schedules/invalid.txt, and round trips of the
 * canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certhub/schedule.h"
#include "certhub/time.h"

static char *trim(char *s)
{
  while(*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while(n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
              s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

static FILE *open_data(const char *name)
{
  const char *dir = getenv("CERTHUB_TEST_DATA");
  assert_non_null(dir);
  char path[1024];
  snprintf(path, sizeof(path), "%s/schedules/%s", dir, name);
  FILE *f = fopen(path, "r");
  if(!f)
    fail_msg("cannot open %s", path);
  return f;
}

static int64_t parse_time(const char *s, int line)
{
  int64_t t;
  if(certhub_time_parse(s, &t) != CH_OK)
    fail_msg("line %d: bad time '%s'", line, s);
  return t;
}

/* Each line: expr | from [anchor=T] | t1 t2 ... [NONE]. */
static void fire_times_from_table(void **state)
{
  (void)state;
  FILE *f = open_data("next.txt");
  char line[2048];
  int lineno = 0, cases = 0, checks = 0;
  while(fgets(line, sizeof(line), f)) {
    lineno++;
    char *l = trim(line);
    if(!*l || *l == '#')
      continue;
    char *p1 = strchr(l, '|'), *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
    if(!p2)
      fail_msg("line %d: expected expr | from | times", lineno);
    *p1 = *p2 = '\0';
    char *expr = trim(l), *from = trim(p1 + 1), *exp = trim(p2 + 1);
    certhub_schedule *s = NULL;
    char *err = NULL;
    if(certhub_schedule_parse(expr, &s, &err) != CH_OK)
      fail_msg("line %d: %s: %s", lineno, expr, err ? err : "?");
    char *anchor = strstr(from, "anchor=");
    if(anchor) {
      anchor[-1] = '\0';
      certhub_schedule_set_anchor(s, parse_time(anchor + 7, lineno));
    }
    int64_t t = parse_time(trim(from), lineno);
    char *save = NULL;
    for(char *tok = strtok_r(exp, " ", &save); tok;
        tok = strtok_r(NULL, " ", &save)) {
      int64_t next = 0;
      char got[32] = "NONE";
      ch_err e = certhub_schedule_next(s, t, &next);
      if(e == CH_OK)
        certhub_time_format(next, got, sizeof(got));
      else if(e != CH_ERR_NOTFOUND)
        fail_msg("line %d: %s: error %d", lineno, expr, e);
      if(strcmp(got, tok) != 0) {
        char after[32];
        certhub_time_format(t, after, sizeof(after));
        fail_msg("line %d: %s after %s: got %s, expected %s", lineno, expr,
                 after, got, tok);
      }
      checks++;
      if(e != CH_OK)
        break;
      t = next;
    }
    certhub_schedule_free(s);
    cases++;
  }
  fclose(f);
  assert_true(cases >= 40);
  assert_true(checks >= 120);
}

/* Each line: expr | substring of the message. */
static void invalid_from_table(void **state)
{
  (void)state;
  FILE *f = open_data("invalid.txt");
  char line[2048];
  int lineno = 0, cases = 0;
  while(fgets(line, sizeof(line), f)) {
    lineno++;
    char *l = trim(line);
    if(!*l || *l == '#')
      continue;
    char *bar = strrchr(l, '|');
    if(!bar)
      fail_msg("line %d: expected expr | message", lineno);
    *bar = '\0';
    char *expr = trim(l), *want = trim(bar + 1);
    if(strcmp(expr, "<empty>") == 0)
      expr = "";
    certhub_schedule *s = NULL;
    char *err = NULL;
    ch_err e = certhub_schedule_parse(expr, &s, &err);
    if(e == CH_OK)
      fail_msg("line %d: %s was accepted", lineno, expr);
    assert_null(s);
    if(!err || !strstr(err, want))
      fail_msg("line %d: %s: message '%s' lacks '%s'", lineno, expr,
               err ? err : "(none)", want);
    free(err);
    cases++;
  }
  fclose(f);
  assert_true(cases >= 30);
}

static void canonical_form_round_trips(void **state)
{
  (void)state;
  static const struct {
    const char *in, *canon;
  } cases[] = {
      {"cron(0   9 ?\t* mon-fri *)", "cron(0 9 ? * MON-FRI *)"},
      {"cron(0 0 ? * fril *)", "cron(0 0 ? * FRIL *)"},
      {"cron(0 0 lw jan,jul ? 2030/2)", "cron(0 0 LW JAN,JUL ? 2030/2)"},
      {"rate(1 day)", "rate(1 day)"},
      {"rate( 15 minutes )", "rate(15 minutes)"},
  };
  int64_t from;
  assert_int_equal(certhub_time_parse("2026-11-23T10:07:00Z", &from), CH_OK);
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    certhub_schedule *a = NULL, *b = NULL;
    assert_int_equal(certhub_schedule_parse(cases[i].in, &a, NULL), CH_OK);
    assert_string_equal(certhub_schedule_expr(a), cases[i].canon);
    assert_int_equal(
        certhub_schedule_parse(certhub_schedule_expr(a), &b, NULL), CH_OK);
    assert_string_equal(certhub_schedule_expr(b), cases[i].canon);
    /* Same schedule: same next ten fire times. */
    int64_t ta = from, tb = from;
    for(int k = 0; k < 10; k++) {
      assert_int_equal(certhub_schedule_next(a, ta, &ta), CH_OK);
      assert_int_equal(certhub_schedule_next(b, tb, &tb), CH_OK);
      assert_int_equal(ta, tb);
    }
    certhub_schedule_free(a);
    certhub_schedule_free(b);
  }
}

static void period_and_messages(void **state)
{
  (void)state;
  certhub_schedule *s = NULL;
  char *err = NULL;
  int64_t next, after;
  assert_int_equal(certhub_schedule_parse("rate(3 hours)", &s, NULL), CH_OK);
  assert_int_equal(certhub_schedule_period(s), 3 * 3600);
  /* Far future: no representable time, not an overflow. */
  assert_int_equal(certhub_schedule_next(s, INT64_MAX - 10, &next),
                   CH_ERR_NOTFOUND);
  certhub_schedule_set_anchor(s, INT64_MAX - 100);
  assert_int_equal(certhub_schedule_next(s, 0, &next), CH_ERR_NOTFOUND);
  certhub_schedule_set_anchor(s, INT64_MIN);
  assert_int_equal(certhub_schedule_next(s, INT64_MIN, &next), CH_OK);
  assert_int_equal(next, INT64_MIN + 3 * 3600);
  certhub_schedule_free(s);

  assert_int_equal(certhub_schedule_parse("cron(0 0 31 2 ? *)", &s, NULL),
                   CH_OK);
  assert_int_equal(certhub_schedule_period(s), 0);
  assert_int_equal(certhub_schedule_next_msg(s, 0, &next, &err),
                   CH_ERR_NOTFOUND);
  assert_non_null(strstr(err, "cron(0 0 31 2 ? *): never fires"));
  free(err);
  assert_int_equal(certhub_schedule_next(s, INT64_MIN, &next),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_schedule_next(s, INT64_MAX, &next),
                   CH_ERR_NOTFOUND);
  certhub_schedule_free(s);

  assert_int_equal(certhub_schedule_parse("cron(0 0 1 1 ? 2020)", &s, NULL),
                   CH_OK);
  assert_int_equal(certhub_time_parse("2026-11-23T00:00:00Z", &after), CH_OK);
  assert_int_equal(certhub_schedule_next_msg(s, after, &next, &err),
                   CH_ERR_NOTFOUND);
  assert_non_null(strstr(err, "no fire time after 2026-11-23T00:00:00Z"));
  free(err);
  certhub_schedule_free(s);
  certhub_schedule_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fire_times_from_table),
      cmocka_unit_test(invalid_from_table),
      cmocka_unit_test(canonical_form_round_trips),
      cmocka_unit_test(period_and_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
