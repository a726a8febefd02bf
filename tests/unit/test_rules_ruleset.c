/*
 * The compiled ruleset against the reference matcher (certhub_pattern_*):
 *
 * - every case of tests/data/patterns/ (format in test_rules_pattern.c),
 *   each pattern alone in a ruleset: same compile errors, and each event
 *   gives the reference's answer and the expected one;
 * - all those patterns in one ruleset: every event of the files against
 *   all rules at once equals the reference run pattern by pattern;
 * - hostile JSON (validity must agree with jansson, which the reference
 *   uses), duplicate keys, depth limits;
 * - seeded random patterns and events over a small vocabulary (so they
 *   hit each other), compared one by one and all at once.
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
#include "certhub/ruleset.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int failures;

static void fail_at(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void fail_at(const char *fmt, ...)
{
  va_list ap;
  fputs("FAIL ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  failures++;
}

/* Collected from the data files. */
struct item {
  char *text;
};
static struct item *pats, *evs;
static size_t npats, nevs;

static void push(struct item **v, size_t *n, const char *s)
{
  *v = realloc(*v, (*n + 1) * sizeof(**v));
  assert_non_null(*v);
  (*v)[*n].text = strdup(s);
  assert_non_null((*v)[*n].text);
  (*n)++;
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

/* The reference's answer: CH_OK with *m, or an error code. */
static ch_err ref(const certhub_pattern *p, const char *ev, size_t len,
                  bool *m)
{
  char *err = NULL;
  ch_err e = certhub_pattern_match(p, ev, len, m, &err);
  free(err);
  return e;
}

/* ev[0..len) followed by 80 spaces (malloc'd, *plen its length): the
 * same JSON, but with the bytes after every value that the matcher's
 * block-wise fast paths need (they are skipped near the end of the
 * buffer, so short events alone never reach them). */
static char *padded(const char *ev, size_t len, size_t *plen)
{
  char *b = malloc(len + 81);
  assert_non_null(b);
  memcpy(b, ev, len);
  memset(b + len, ' ', 80);
  b[len + 80] = '\0';
  *plen = len + 80;
  return b;
}

static void check_one1(const char *where, const char *pat,
                       const certhub_pattern *p, const certhub_ruleset *rs,
                       certhub_match_scratch *sc, const char *ev, size_t len,
                       int want);

/* One pattern, one event, as is and padded: ruleset == reference (==
 * want when want >= 0). */
static void check_one(const char *where, const char *pat,
                      const certhub_pattern *p, const certhub_ruleset *rs,
                      certhub_match_scratch *sc, const char *ev, size_t len,
                      int want)
{
  size_t plen;
  char *pe = padded(ev, len, &plen);
  check_one1(where, pat, p, rs, sc, ev, len, want);
  check_one1(where, pat, p, rs, sc, pe, plen, want);
  free(pe);
}

static void check_one1(const char *where, const char *pat,
                       const certhub_pattern *p, const certhub_ruleset *rs,
                       certhub_match_scratch *sc, const char *ev, size_t len,
                       int want)
{
  bool rm = false;
  ch_err re = ref(p, ev, len, &rm);
  const size_t *mv = NULL;
  size_t nm = 0;
  char *err = NULL;
  ch_err e = certhub_ruleset_match(rs, sc, ev, len, &mv, &nm, &err);
  if(e != re)
    fail_at("%s: pattern %s event %.300s: ruleset %s (%s), reference %s",
            where, pat, ev, certhub_strerror(e), err ? err : "",
            certhub_strerror(re));
  else if(e == CH_OK && (nm == 1) != rm)
    fail_at("%s: pattern %s event %.300s: ruleset %d, reference %d", where,
            pat, ev, (int)nm, rm);
  else if(e == CH_OK && want >= 0 && rm != (want == 1))
    fail_at("%s: pattern %s event %.300s: both %d, expected %d", where, pat,
            ev, rm, want);
  if(e != CH_OK && !err)
    fail_at("%s: error without a message", where);
  if(e == CH_OK && err)
    fail_at("%s: message without an error", where);
  free(err);
}

static void run_file(const char *path, const char *name)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[8192], *ptext = NULL;
  certhub_pattern *p = NULL;
  certhub_ruleset *rs = NULL;
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  int ln = 0;
  while(fgets(line, sizeof(line), f)) {
    ln++;
    line[strcspn(line, "\n")] = '\0';
    char where[300];
    snprintf(where, sizeof(where), "%s:%d", name, ln);
    const char *rest;
    if((rest = after(line, "pattern"))) {
      certhub_pattern_free(p);
      certhub_ruleset_free(rs);
      p = NULL;
      rs = NULL;
      free(ptext);
      ptext = strdup(rest);
      char *e1 = NULL, *e2 = NULL;
      ch_err a = certhub_pattern_compile(rest, strlen(rest), &p, &e1);
      assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
      size_t idx = 99;
      ch_err b = certhub_ruleset_add(rs, name, rest, strlen(rest), &idx, &e2);
      if(a != b || (a && (!e1 || !e2 || strcmp(e1, e2) != 0)))
        fail_at("%s: compile %s / %s", where, e1 ? e1 : "ok", e2 ? e2 : "ok");
      if(b == CH_OK && idx != 0)
        fail_at("%s: first rule index %zu", where, idx);
      if(b != CH_OK && certhub_ruleset_count(rs) != 0)
        fail_at("%s: failed add changed the ruleset", where);
      if(a == CH_OK)
        push(&pats, &npats, rest);
      free(e1);
      free(e2);
    }
    else if(p &&
            ((rest = after(line, "true")) || (rest = after(line, "false")) ||
             (rest = after(line, "event-error")))) {
      int want = line[0] == 't' ? 1 : line[0] == 'f' ? 0 : -1;
      check_one(where, ptext, p, rs, sc, rest, strlen(rest), want);
      push(&evs, &nevs, rest);
    }
  }
  fclose(f);
  free(ptext);
  certhub_pattern_free(p);
  certhub_ruleset_free(rs);
  certhub_match_scratch_free(sc);
}

/* Every event against every pattern: one ruleset vs the reference. */
static void check_all(const char *what, struct item *pv, size_t np,
                      struct item *ev, size_t ne)
{
  certhub_ruleset *rs = NULL;
  certhub_match_scratch *sc = NULL;
  certhub_pattern **ps = calloc(np + 1, sizeof(*ps));
  bool *want = calloc(np + 1, sizeof(*want));
  assert_non_null(ps);
  assert_non_null(want);
  assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  for(size_t i = 0; i < np; i++) {
    char *err = NULL;
    size_t idx;
    char name[32];
    snprintf(name, sizeof(name), "r%zu", i);
    assert_int_equal(
        certhub_pattern_compile(pv[i].text, strlen(pv[i].text), &ps[i], &err),
        CH_OK);
    assert_int_equal(certhub_ruleset_add(rs, name, pv[i].text,
                                         strlen(pv[i].text), &idx, &err),
                     CH_OK);
    assert_int_equal(idx, i);
    assert_string_equal(certhub_ruleset_name(rs, i), name);
  }
  assert_int_equal(certhub_ruleset_count(rs), np);
  assert_null(certhub_ruleset_name(rs, np));
  size_t matches = 0;
  for(size_t jj = 0; jj < 2 * ne; jj++) {
    /* each event as is, then padded (see padded()) */
    size_t j = jj / 2, len;
    char *pe = NULL;
    const char *e = ev[j].text;
    len = strlen(e);
    if(jj % 2)
      e = pe = padded(e, len, &len);
    ch_err worst = CH_OK;
    for(size_t i = 0; i < np; i++) {
      ch_err r = ref(ps[i], e, len, &want[i]);
      if(r != CH_OK && worst == CH_OK)
        worst = r;
      if(r != CH_OK)
        want[i] = false;
    }
    const size_t *mv = NULL;
    size_t nm = 0;
    char *err = NULL;
    ch_err got = certhub_ruleset_match(rs, sc, e, len, &mv, &nm, &err);
    free(err);
    if(got != worst) {
      fail_at("%s: event %.300s: ruleset %s, reference %s", what, e,
              certhub_strerror(got), certhub_strerror(worst));
      free(pe);
      continue;
    }
    if(got != CH_OK) {
      free(pe);
      continue;
    }
    size_t k = 0;
    for(size_t i = 0; i < np; i++) {
      bool in = k < nm && mv[k] == i;
      if(in)
        k++;
      if(in != want[i])
        fail_at("%s: event %.300s pattern %s: ruleset %d, reference %d", what,
                e, pv[i].text, in, want[i]);
      matches += want[i];
    }
    if(k != nm)
      fail_at("%s: event %.300s: unsorted or extra rule indices", what, e);
    free(pe);
  }
  fprintf(stderr, "%s: %zu rules x %zu events, %zu matches\n", what, np, ne,
          matches);
  for(size_t i = 0; i < np; i++)
    certhub_pattern_free(ps[i]);
  free(ps);
  free(want);
  certhub_ruleset_free(rs);
  certhub_match_scratch_free(sc);
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
  int files = 0;
  while((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if(n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
      continue;
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    run_file(path, de->d_name);
    files++;
  }
  closedir(d);
  fprintf(stderr, "data files: %zu patterns, %zu events\n", npats, nevs);
  assert_true(files >= 10);
  assert_true(npats > 50);
  check_all("all data patterns", pats, npats, evs, nevs);
  assert_int_equal(failures, 0);
}

/* Event texts whose validity or meaning is delicate, each against a few
 * patterns, one by one and all at once. */
static const char *const hostile_events[] = {
    "{\"a\":1}",
    "{\"a\":1} ",
    " \t\r\n{\"a\":1}\n",
    "{\"a\":1}x",
    "{\"a\":1}{}",
    "{\"a\":1,}",
    "{,}",
    "{\"a\" 1}",
    "{\"a\":01}",
    "{\"a\":-0}",
    "{\"a\":-0.0}",
    "{\"a\":-}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":1e}",
    "{\"a\":1e+}",
    "{\"a\":+1}",
    "{\"a\":1E2}",
    "{\"a\":100}",
    "{\"a\":1e400}",
    "{\"b\":1e400}",
    "{\"b\":-1e400}",
    "{\"a\":1e-400}",
    "{\"b\":1e-400}",
    "{\"a\":9223372036854775807}",
    "{\"a\":9223372036854775808}",
    "{\"b\":9223372036854775808}",
    "{\"a\":-9223372036854775808}",
    "{\"b\":-9223372036854775809}",
    "{\"a\":9007199254740993}",
    "{\"a\":0.1e1}",
    "{\"a\":1000000000000000000000000.0}",
    "{\"a\":0.00000000000000000000000000000000000001e38}",
    "{\"a\":123456789012345678901234567890e-29}",
    "{\"b\":1" /* truncated */,
    "{\"a\":\"x\"}",
    "{\"a\":\"\\u0078\"}",
    "{\"a\":\"\\u0000\"}",
    "{\"b\":\"\\u0000\"}",
    "{\"\\u0000\":1}",
    "{\"a\":\"\\ud83d\\ude00\"}",
    "{\"a\":\"\xf0\x9f\x98\x80\"}",
    "{\"a\":\"\\ud83d\"}",
    "{\"b\":\"\\ud83dx\"}",
    "{\"b\":\"\\ude00\"}",
    "{\"b\":\"\\ud83d\\u0041\"}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
    "{\"b\":\"\t\"}",
    "{\"b\":\"\xc3\"}",
    "{\"b\":\"\xc0\xaf\"}",
    "{\"b\":\"\xed\xa0\x80\"}",
    "{\"b\":\"\xf4\x90\x80\x80\"}",
    "{\"b\":\"\xe0\x80\xaf\"}",
    "{\"b\":\"\xff\"}",
    "{\"a\":\"\xc3\xa9\"}",
    "{\"a\":\"\\u00e9\"}",
    "{\"a\":\"unterminated}",
    "{\"a\":tru}",
    "{\"a\":true}",
    "{\"a\":truex}",
    "{\"a\":nul}",
    "{\"a\":null}",
    "{\"a\":false}",
    "[]",
    "[1,2",
    "\"s\"",
    "1",
    "null",
    "",
    "   ",
    "{",
    "}",
    "{\"a\":[1,2,]}",
    "{\"a\":[]}",
    "{\"a\":{}}",
    "{\"a\":[[]]}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":2,\"a\":1}",
    "{\"a\":{\"b\":1},\"a\":3}",
    "{\"a\":3,\"a\":{\"b\":1}}",
    "{\"a\":1,\"\\u0061\":2}",
    "{\"a.b\":1}",
    "{\"a\":{\"b\":1}}",
    "{\"a\":{\"b\":1,\"b\":5}}",
    "{\"a\":[{\"b\":1,\"c\":2},{\"b\":2,\"c\":1}]}",
    "{\"a\":[{\"b\":1},{\"c\":2}],\"a.c\":2}",
    "{\"a\":{\"b\":[1,2]},\"a.b\":3}",
    "{\"a\":\"10.0.0.1\"}",
    "{\"a\":\"::ffff:10.0.0.1\"}",
    "{\"a\":\"x\",\"a\":[]}",
    "{\"a\":[\"x\"],\"a\":[]}",
    "{\"c\":\"\\\"\"}",
};

static const char *const hostile_patterns[] = {
    "{}",
    "{\"a\":[{\"exists\":true}]}",
    "{\"a\":[{\"exists\":false}]}",
    "{\"a\":[1]}",
    "{\"a\":[100]}",
    "{\"a\":[0]}",
    "{\"a\":[\"x\"]}",
    "{\"a\":[\"\xf0\x9f\x98\x80\"]}",
    "{\"a\":[\"\xc3\xa9\"]}",
    "{\"a\":[{\"anything-but\":\"x\"}]}",
    "{\"a\":[{\"numeric\":[\">\",1]}]}",
    "{\"a\":[9007199254740992]}",
    "{\"a\":{\"b\":[1]}}",
    "{\"a\":{\"b\":[1],\"c\":[2]}}",
    "{\"a\":{\"b\":[2],\"c\":[1]}}",
    "{\"a\":{\"c\":[2]}}",
    "{\"a\":{\"b\":[3]}}",
    "{\"a\":[{\"cidr\":\"10.0.0.0/8\"}]}",
    "{\"a\":[null]}",
    "{\"a\":[true,false]}",
    "{\"c\":[\"\\\"\"]}",
};

static void test_hostile(void **state)
{
  (void)state;
  size_t ne = NELEM(hostile_events), np = NELEM(hostile_patterns);
  struct item *ev = calloc(ne, sizeof(*ev)), *pv = calloc(np, sizeof(*pv));
  assert_non_null(ev);
  assert_non_null(pv);
  for(size_t i = 0; i < ne; i++)
    ev[i].text = (char *)hostile_events[i];
  for(size_t i = 0; i < np; i++)
    pv[i].text = (char *)hostile_patterns[i];
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  for(size_t i = 0; i < np; i++) {
    certhub_pattern *p = NULL;
    certhub_ruleset *rs = NULL;
    char *err = NULL;
    assert_int_equal(
        certhub_pattern_compile(pv[i].text, strlen(pv[i].text), &p, &err),
        CH_OK);
    assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
    assert_int_equal(certhub_ruleset_add(rs, "x", pv[i].text,
                                         strlen(pv[i].text), NULL, &err),
                     CH_OK);
    for(size_t j = 0; j < ne; j++) {
      check_one("hostile", pv[i].text, p, rs, sc, ev[j].text,
                strlen(ev[j].text), -1);
    }
    /* NUL bytes inside and after the value */
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":\"x\"}\0", 10, -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":\"x\0\"}", 10, -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":1\0}", 8, -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":1\0\0}", 9, -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":true\0}", 11, -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"b\":[1e5\0,null\0]}", 19,
              -1);
    check_one("hostile", pv[i].text, p, rs, sc, "{\"a\":\"x\"\0}", 10, -1);
    certhub_pattern_free(p);
    certhub_ruleset_free(rs);
  }
  certhub_match_scratch_free(sc);
  check_all("hostile, all at once", pv, np, ev, ne);
  free(ev);
  free(pv);
  assert_int_equal(failures, 0);
}

/* Depth: jansson refuses more than 2048 levels anywhere; the reference
 * refuses 100 levels on a pattern's path. */
static void test_depth(void **state)
{
  (void)state;
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  const char *pats_[] = {"{\"a\":[1]}", "{\"z\":[1]}", "{\"a\":{\"a\":[1]}}"};
  static const int depths[] = {98, 99, 100, 101, 2046, 2047, 2048, 2049};
  char *buf = malloc(20000);
  assert_non_null(buf);
  for(size_t i = 0; i < NELEM(pats_); i++) {
    certhub_pattern *p = NULL;
    certhub_ruleset *rs = NULL;
    char *err = NULL;
    assert_int_equal(
        certhub_pattern_compile(pats_[i], strlen(pats_[i]), &p, &err), CH_OK);
    assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
    assert_int_equal(
        certhub_ruleset_add(rs, "d", pats_[i], strlen(pats_[i]), NULL, &err),
        CH_OK);
    for(size_t k = 0; k < NELEM(depths); k++)
      for(int shape = 0; shape < 3; shape++) {
        /* {"a": [[[...1...]]]} or {"a":{"a":{...}}} or the array after a
         * duplicate key replaces it */
        int n = depths[k];
        size_t o = 0;
        o += (size_t)sprintf(buf + o, "{\"a\":");
        for(int j = 0; j < n; j++)
          o += (size_t)sprintf(buf + o, shape == 1 ? "{\"a\":" : "[");
        o += (size_t)sprintf(buf + o, "1");
        for(int j = 0; j < n; j++)
          o += (size_t)sprintf(buf + o, shape == 1 ? "}" : "]");
        o += (size_t)sprintf(buf + o, shape == 2 ? ",\"a\":1}" : "}");
        char where[64];
        snprintf(where, sizeof(where), "depth %d shape %d", n, shape);
        check_one(where, pats_[i], p, rs, sc, buf, o, -1);
      }
    certhub_pattern_free(p);
    certhub_ruleset_free(rs);
  }
  free(buf);
  certhub_match_scratch_free(sc);
  assert_int_equal(failures, 0);
}

/* --- random ------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static const char *const fields[] = {"a", "b", "c"};
static const char *const svals[] = {
    "\"x\"", "\"X\"", "\"xy\"", "\"yx\"", "\"\"", "\"10.1.2.3\"", "\"a*b\"",
    "\"\\u0078\"", "\"x\\u00e9\"", "\"xyz\"",
    /* for the non-ASCII ignore-case matchers: É, é, ß, SS */
    "\"X\\u00c9\"", "\"\\u00dfx\"", "\"SSX\""};
static const char *const nvals[] = {"1",   "1.0", "3e2", "300", "-0",
                                    "2.5", "-7",  "0",   "1e0", "12345678"};

static void add(char *b, size_t *o, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *b, size_t *o, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b + *o, cap - *o, fmt, ap);
  va_end(ap);
  if(n > 0 && (size_t)n < cap - *o)
    *o += (size_t)n;
}

static void rand_scalar(char *b, size_t *o, size_t cap)
{
  switch(rnd(6)) {
  case 0:
  case 1:
    add(b, o, cap, "%s", svals[rnd(NELEM(svals))]);
    break;
  case 2:
  case 3:
    add(b, o, cap, "%s", nvals[rnd(NELEM(nvals))]);
    break;
  case 4:
    add(b, o, cap, "%s", rnd(2) ? "true" : "false");
    break;
  default:
    add(b, o, cap, "null");
  }
}

static void rand_value(char *b, size_t *o, size_t cap, int depth)
{
  unsigned k = depth > 3 ? 0 : rnd(6);
  if(k <= 2) {
    rand_scalar(b, o, cap);
  }
  else if(k == 3 || k == 4) {
    add(b, o, cap, "[");
    unsigned n = rnd(4);
    for(unsigned i = 0; i < n; i++) {
      if(i)
        add(b, o, cap, ",");
      rand_value(b, o, cap, depth + 1);
    }
    add(b, o, cap, "]");
  }
  else {
    add(b, o, cap, "{");
    unsigned n = rnd(4);
    for(unsigned i = 0; i < n; i++) {
      add(b, o, cap, "%s\"%s\":", i ? "," : "", fields[rnd(NELEM(fields))]);
      rand_value(b, o, cap, depth + 1);
    }
    add(b, o, cap, "}");
  }
}

static void rand_matcher(char *b, size_t *o, size_t cap)
{
  static const char *const ops[] = {
      "{\"prefix\":\"x\"}",
      "{\"prefix\":{\"equals-ignore-case\":\"X\"}}",
      "{\"suffix\":\"x\"}",
      "{\"suffix\":{\"equals-ignore-case\":\"YX\"}}",
      "{\"equals-ignore-case\":\"x\"}",
      "{\"equals-ignore-case\":\"x\\u00e9\"}",
      "{\"prefix\":{\"equals-ignore-case\":\"\\u00df\"}}",
      "{\"suffix\":{\"equals-ignore-case\":\"\\u00e9\"}}",
      "{\"anything-but\":{\"equals-ignore-case\":[\"\\u00dfX\"]}}",
      "{\"wildcard\":\"x*\"}",
      "{\"wildcard\":\"*y*\"}",
      "{\"wildcard\":\"a\\\\*b\"}",
      "{\"anything-but\":\"x\"}",
      "{\"anything-but\":[1,300]}",
      "{\"anything-but\":{\"prefix\":\"x\"}}",
      "{\"anything-but\":{\"suffix\":\"x\"}}",
      "{\"anything-but\":{\"equals-ignore-case\":[\"X\",\"XY\"]}}",
      "{\"anything-but\":{\"wildcard\":\"*x*\"}}",
      "{\"numeric\":[\">\",0]}",
      "{\"numeric\":[\">=\",1,\"<\",300]}",
      "{\"numeric\":[\"=\",300]}",
      "{\"numeric\":[\"<=\",-0.5]}",
      "{\"exists\":true}",
      "{\"exists\":false}",
      "{\"cidr\":\"10.0.0.0/8\"}",
      "true",
      "false",
      "null",
  };
  if(rnd(2))
    rand_scalar(b, o, cap);
  else
    add(b, o, cap, "%s", ops[rnd(NELEM(ops))]);
}

static void rand_object(char *b, size_t *o, size_t cap, int depth, bool *used)
{
  add(b, o, cap, "{");
  unsigned n = 1 + rnd(2);
  bool mine[3] = {false, false, false};
  unsigned w = 0;
  for(unsigned i = 0; i < n; i++) {
    unsigned fi = rnd(3);
    if(mine[fi])
      continue;
    mine[fi] = true;
    add(b, o, cap, "%s\"%s\":", w++ ? "," : "", fields[fi]);
    if(depth < 2 && rnd(3) == 0) {
      rand_object(b, o, cap, depth + 1, used);
    }
    else {
      add(b, o, cap, "[");
      unsigned m = 1 + rnd(2);
      for(unsigned j = 0; j < m; j++) {
        if(j)
          add(b, o, cap, ",");
        rand_matcher(b, o, cap);
      }
      add(b, o, cap, "]");
    }
  }
  if(depth == 0 && rnd(5) == 0 && !*used) {
    *used = true;
    add(b, o, cap, "%s\"$or\":[", w ? "," : "");
    rand_object(b, o, cap, 1, used);
    add(b, o, cap, ",");
    rand_object(b, o, cap, 1, used);
    add(b, o, cap, "]");
  }
  add(b, o, cap, "}");
}

static void test_random(void **state)
{
  (void)state;
  enum { NP = 300, NE = 3000 };
  struct item *pv = calloc(NP, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  char buf[4096];
  size_t np = 0;
  while(np < NP) {
    size_t o = 0;
    bool used = false;
    rand_object(buf, &o, sizeof(buf), 0, &used);
    certhub_pattern *p = NULL;
    char *err = NULL;
    if(certhub_pattern_compile(buf, o, &p, &err) != CH_OK) {
      free(err); /* e.g. mixed anything-but: not what is tested here */
      continue;
    }
    certhub_pattern_free(p);
    pv[np++].text = strdup(buf);
  }
  for(size_t i = 0; i < NE; i++) {
    size_t o = 0;
    add(buf, &o, sizeof(buf), "{");
    unsigned n = rnd(4);
    for(unsigned j = 0; j < n; j++) {
      add(buf, &o, sizeof(buf), "%s\"%s\":", j ? "," : "",
          fields[rnd(NELEM(fields))]);
      rand_value(buf, &o, sizeof(buf), 0);
    }
    add(buf, &o, sizeof(buf), "}");
    ev[i].text = strdup(buf);
  }
  check_all("random", pv, np, ev, NE);
  for(size_t i = 0; i < NP; i++)
    free(pv[i].text);
  for(size_t i = 0; i < NE; i++)
    free(ev[i].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* The double next to v (dir -1 or 1), without libm. */
static double neighbour(double v, int dir)
{
  uint64_t b;
  if(v == 0)
    return dir * 5e-324;
  memcpy(&b, &v, sizeof(b));
  b = (v > 0) == (dir > 0) ? b + 1 : b - 1;
  memcpy(&v, &b, sizeof(v));
  return v;
}

/* Numbers in every form read to the same double as jansson's strtod:
 * random significands (up to 25 digits) and exponents, each matched
 * against the shortest pattern for its double and its neighbours. */
static void test_numbers(void **state)
{
  (void)state;
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  char num[96], pat[160], ev[160];
  for(int i = 0; i < 4000; i++) {
    size_t o = 0;
    if(rnd(2))
      num[o++] = '-';
    unsigned nd = 1 + rnd(rnd(4) ? 19 : 25), dot = rnd(nd + 1);
    for(unsigned k = 0; k < nd; k++) {
      if(k == dot && k > 0)
        num[o++] = '.';
      num[o++] =
          (char)('0' + (k == 0 && nd > 1 && dot != 1 ? 1 + rnd(9) : rnd(10)));
    }
    if(num[o - 1] == '.')
      num[o++] = '0';
    if(rnd(3) == 0)
      o +=
          (size_t)snprintf(num + o, sizeof(num) - o, "e%d", (int)rnd(70) - 35);
    num[o] = '\0';
    double v = strtod(num, NULL);
    snprintf(ev, sizeof(ev), "{\"a\":%s}", num);
    /* exact values, and ranges with a bound at the value or next to it
     * (the compiled matcher compares ranges on an approximation first) */
    static const char *const forms[] = {
        "{\"a\":[%.17g]}", "{\"a\":[{\"numeric\":[\"<\",%.17g]}]}",
        "{\"a\":[{\"numeric\":[\">=\",%.17g]}]}",
        "{\"a\":[{\"numeric\":[\">\",-1e300,\"<=\",%.17g]}]}"};
    for(int q = 0; q < 3 * 4; q++) {
      int k = q / 4 - 1;
      double w = k ? neighbour(v, k) : v;
      snprintf(pat, sizeof(pat), forms[q % 4], w);
      certhub_pattern *p = NULL;
      certhub_ruleset *rs = NULL;
      char *err = NULL;
      if(certhub_pattern_compile(pat, strlen(pat), &p, &err) != CH_OK) {
        free(err); /* e.g. a pattern number jansson reads as too big */
        continue;
      }
      assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
      assert_int_equal(
          certhub_ruleset_add(rs, "n", pat, strlen(pat), NULL, &err), CH_OK);
      check_one("numbers", pat, p, rs, sc, ev, strlen(ev), -1);
      certhub_pattern_free(p);
      certhub_ruleset_free(rs);
    }
  }
  certhub_match_scratch_free(sc);
  assert_int_equal(failures, 0);
}

/* Many bounded ranges on one path (the compiled matcher searches them by
 * lower bound), with events at, next to and between their bounds. */
static void test_range_index(void **state)
{
  (void)state;
  enum { NP = 120, NE = 1500 };
  struct item *pv = calloc(NP, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  double *bound = calloc(2 * NP, sizeof(*bound));
  assert_non_null(pv);
  assert_non_null(ev);
  assert_non_null(bound);
  static const char *const ops[][2] = {
      {">", "<"}, {">=", "<"}, {">", "<="}, {">=", "<="}};
  for(size_t i = 0; i < NP; i++) {
    double lo = ((double)rnd(2000000) - 1000000) / 97.0,
           w = i % 17 == 0 ? (double)rnd(5000) : (double)rnd(1000) / 1e4;
    bound[2 * i] = lo;
    bound[2 * i + 1] = lo + w;
    const char *const *op = ops[rnd(4)];
    char buf[160];
    snprintf(buf, sizeof(buf),
             "{\"a\":[{\"numeric\":[\"%s\",%.17g,\"%s\",%.17g]}]}", op[0], lo,
             op[1], lo + w);
    pv[i].text = strdup(buf);
    assert_non_null(pv[i].text);
  }
  for(size_t j = 0; j < NE; j++) {
    double v = bound[rnd(2 * NP)];
    unsigned how = rnd(4);
    if(how == 1 || how == 2)
      v = neighbour(v, how == 1 ? -1 : 1);
    else if(how == 3)
      v = ((double)rnd(2000000) - 1000000) / 97.0;
    char buf[96];
    /* %.17g, and shorter forms that read back to the same double */
    snprintf(buf, sizeof(buf), "{\"a\":%.*g}", rnd(2) ? 17 : 15, v);
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("range index", pv, NP, ev, NE);
  for(size_t i = 0; i < NP; i++)
    free(pv[i].text);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  free(bound);
  assert_int_equal(failures, 0);
}

/* The shapes the matcher reads through block-wise fast paths (members
 * "key":number skipped or on rule paths, keys looked up in per-node
 * tables) in CityLots-like events long enough to reach them, with the
 * numbers, keys and layouts at their edges: every rule at once against
 * the reference. */
static void test_fast_paths(void **state)
{
  (void)state;
  static const char *const nums[] = {
      "0", "-0", "01", "-01", "0.5", "-0.5", "00.5", "1.", "1.e5", "-", "-.5",
      ".5", "1e5", "1E+5", "2.5e-3", "12345678901234567890",
      "123456789012345678", "1234567890123456789", "-1234567890123456789",
      "9223372036854775808", "-122.42372826963171", "37.70660782123333",
      "-122.4", "37.7", "-122.41600944012424", "-122.42916360922355",
      "1.2345678901234567890123456789012345",
      "12345678901234567890123456789012345.5",
      "1234567890123456789012345678901.5", "1e400", "-1e400", "1.5e400",
      "0.0000000000000000000000000001", "1.0 ", " 1.0", "true", "null",
      "\"-122.4\"", "[1,2]", "{\"x\":1}", "1x", "1.5.5", "--1", "1-",
      /* values for the block skip: structural bytes inside strings,
       * escapes and non-ASCII (left to the byte-wise skip), literals,
       * empty and nested containers, and broken ones */
      "\"}]\"", "\"a,b:c\"", "\"\"", "\"[{\\\"\"", "\"\\u0041\"",
      "\"\xc3\xa9\"", "\"x\ty\"", "[]", "{}", "[[]]", "[{}]", "{\"a\":{}}",
      "[1 2]", "[1,]", "{\"a\":}", "{\"a\" 1}", "[1:2]", "{\"a\",1}", "  7  ",
      "tru", "nul", "false", "fals", "nullx", "[true]", "[\"a\",\"b\"]",
      "{\"a\":[{\"b\":null}]}", "\"a\"\"b\"", "[}", "{\"a\":1,}",
      "{\"a\":1,,\"b\":2}", "[1,,2]", "[,1]", "{,}", "{]", "[\"a\":1]", "1\n",
      "\n1"};
  static const char *const keys[] = {
      "x",        "y",        "z",        "x",
      "y",        "z",        "xy",       "a_long_key_name_over_16",
      "k\\u0078", "\xc3\xa9", "x.y",      "",
      "\\u0078",  "12345678", "123456789"};
  static const char *const pats_[] = {
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",-122.41600944012424]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.5,\"<\",-122.4]}]}}}",
      "{\"t\":[\"F\"],\"g\":{\"c\":{\"y\":[{\"numeric\":[\">\",0]}]}}}",
      "{\"t\":[\"F\"],\"g\":{\"c\":{\"x\":[{\"numeric\":[\"=\",-122.4]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",0]}],\"y\":[{\"numeric\":"
      "[\">\",1]}]}}}",
      "{\"g\":{\"c\":{\"y\":[37.7, 0]}}}",
      "{\"g\":{\"c\":{\"z\":[{\"exists\":false}]}}}",
      "{\"g\":{\"c\":{\"x.y\":[{\"exists\":true}]}}}",
      "{\"g\":{\"c\":{\"xy\":[{\"anything-but\":[1]}]}}}",
      "{\"g\":{\"c\":{\"a_long_key_name_over_16\":[{\"numeric\":[\">\",0]}]}}"
      "}",
      "{\"g\":{\"f\":{\"x\":[{\"numeric\":[\"<\",-122]}]}}}",
      "{\"p\":{\"\xc3\xa9\":[{\"exists\":true}]}}",
      "{\"p\":{\"12345678\":[{\"numeric\":[\">\",0]}]}}",
      "{\"p\":{\"123456789\":[{\"numeric\":[\">\",0]}]}}",
  };
  enum { NE = 1500 };
  size_t np = NELEM(pats_);
  struct item *pv = calloc(np, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  for(size_t i = 0; i < np; i++)
    pv[i].text = (char *)pats_[i];
  char buf[8192];
  for(size_t j = 0; j < NE; j++) {
    size_t o = 0;
    /* members: mostly well-formed coordinates, sometimes an odd one */
#define MEMBER(first)                                                         \
  add(buf, &o, sizeof(buf), "%s%s\"%s\":%s", (first) ? "" : ",",              \
      rnd(8) ? "" : "   ", rnd(4) ? keys[rnd(3)] : keys[rnd(NELEM(keys))],    \
      rnd(3) ? nums[20 + rnd(5)] : nums[rnd(NELEM(nums))])
    add(buf, &o, sizeof(buf), "{\"t\":\"F\",\"p\":{");
    for(unsigned k = 0, n = rnd(4); k < n; k++)
      MEMBER(k == 0);
    add(buf, &o, sizeof(buf), "},\"g\":{\"c\":[[");
    for(unsigned k = 0, n = rnd(8); k < n; k++) {
      add(buf, &o, sizeof(buf), "%s{", k ? "," : "");
      for(unsigned m = 0, nm = rnd(4); m < nm; m++)
        MEMBER(m == 0);
      add(buf, &o, sizeof(buf), "}");
    }
    add(buf, &o, sizeof(buf), "]],\"f\":{");
    for(unsigned k = 0, n = rnd(4); k < n; k++)
      MEMBER(k == 0);
    add(buf, &o, sizeof(buf), "}},\"s\":[[");
    for(unsigned k = 0, n = rnd(6); k < n; k++) { /* skipped by all */
      add(buf, &o, sizeof(buf), "%s{", k ? "," : "");
      for(unsigned m = 0, nm = rnd(4); m < nm; m++)
        MEMBER(m == 0);
      add(buf, &o, sizeof(buf), "}");
    }
    add(buf, &o, sizeof(buf), "]]}");
#undef MEMBER
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("fast paths", pv, np, ev, NE);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* Numbers read through a path's numeric index (regions between the
 * bounds of its conditions), with the saturation that leaves out a
 * number when an earlier one of the event already gave its region's
 * hits: once-only ranges, points and ranges of multi-condition rules
 * (which need every number, for the same-array-element rule), exists
 * true and false with ranges, a condition with two ranges, -0 and 0, a
 * path with an exact number (no index); events of coordinate arrays with
 * numbers at, next to and between the bounds, long enough for the block
 * paths, and duplicate keys that drop values already read (the match is
 * then redone recording every number). */
static void test_numeric_regions(void **state)
{
  (void)state;
  static const char *const pats_[] = {
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",-122.41600944012424]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.41600944012424]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.46471267081272,\"<\","
      "-122.4063085128395]}]}}}",
      "{\"g\":{\"t\":[\"P\"],\"c\":{\"x\":[{\"numeric\":[\"=\","
      "-122.42916360922355]}]}}}",
      "{\"g\":{\"t\":[\"M\"],\"c\":{\"y\":[{\"numeric\":[\"=\",37."
      "72990021621732"
      "4]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"numeric\":[\">=\",37.7,\"<=\",37.75]}],\"x\":["
      "{"
      "\"numeric\":[\"<\",-122.45]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"exists\":true}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"exists\":false},{\"numeric\":[\">\",37.74]}]}}"
      "}",
      "{\"g\":{\"n\":[{\"numeric\":[\">\",0]},{\"numeric\":[\"<\",-5]}]}}",
      "{\"g\":{\"n\":[{\"numeric\":[\"=\",0]}]}}",
      "{\"g\":{\"w\":[{\"numeric\":[\">\",1]}],\"c\":{\"x\":[{\"exists\":true}"
      "]}"
      "}}",
      "{\"g\":{\"m\":[5,{\"numeric\":[\">\",4]}]}}",
      "{\"$or\":[{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<=\",-122.5]}]}}},{"
      "\"g\":"
      "{\"n\":[{\"numeric\":[\">=\",7]}]}}]}",
  };
  static const char *const xs[] = {"-122.41600944012424",
                                   "-122.41600944012425",
                                   "-122.41600944012423",
                                   "-122.46471267081272",
                                   "-122.4063085128395",
                                   "-122.42916360922355",
                                   "-122.42916360922356",
                                   "-122.5",
                                   "-122.50000000000001",
                                   "-122.45",
                                   "-122.44999999999999",
                                   "-122.3",
                                   "-122.4",
                                   "-122",
                                   "-1.2242916360922355e2",
                                   "-122.429163609223550"};
  static const char *const ys[] = {"37.729900216217324",
                                   "37.72990021621732",
                                   "37.7",
                                   "37.75",
                                   "37.700000000000003",
                                   "37.74",
                                   "37.74000000000001",
                                   "37.6",
                                   "37.8",
                                   "37.7299002162173240"};
  static const char *const ns[] = {"0",  "-0", "0.0",  "-0.0", "1",   "-5",
                                   "-6", "7",  "6.99", "5",    "4.5", "-4"};
  enum { NE = 1500 };
  size_t np = NELEM(pats_);
  struct item *pv = calloc(np, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  for(size_t i = 0; i < np; i++)
    pv[i].text = (char *)pats_[i];
  char buf[8192];
  for(size_t j = 0; j < NE; j++) {
    size_t o = 0;
    add(buf, &o, sizeof(buf), "{\"g\":{\"t\":\"%s\",", rnd(2) ? "P" : "M");
    /* one or two "c" members: the first one's values die */
    for(unsigned c = 0, nc = rnd(6) ? 1 : 2; c < nc; c++) {
      add(buf, &o, sizeof(buf), "\"c\":[[");
      for(unsigned k = 0, n = rnd(12); k < n; k++) {
        /* mostly one value a few times over (saturation), sometimes
         * any; now and then a duplicate "x" or no "y" */
        const char *x = rnd(3) ? xs[j % NELEM(xs)] : xs[rnd(NELEM(xs))];
        add(buf, &o, sizeof(buf), "%s{\"x\":%s", k ? "," : "", x);
        if(rnd(10) == 0)
          add(buf, &o, sizeof(buf), ",\"x\":%s", xs[rnd(NELEM(xs))]);
        if(rnd(5))
          add(buf, &o, sizeof(buf), ",\"y\":%s", ys[rnd(NELEM(ys))]);
        add(buf, &o, sizeof(buf), ",\"z\":0}");
      }
      add(buf, &o, sizeof(buf), "]],");
    }
    add(buf, &o, sizeof(buf), "\"n\":[%s,%s],\"w\":%s,\"m\":%s}}",
        ns[rnd(NELEM(ns))], ns[rnd(NELEM(ns))], ns[rnd(NELEM(ns))],
        ns[rnd(NELEM(ns))]);
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("numeric regions", pv, np, ev, NE);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* Many nested ranges on one path: the regions would hold too many
 * condition ids, so the path keeps the range lists (no index); and many
 * disjoint ones, indexed: both against the reference. */
static void test_numeric_nested(void **state)
{
  (void)state;
  enum { NP = 300, NE = 400 };
  struct item *pv = calloc(2 * NP, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  for(size_t i = 0; i < NP; i++) {
    char b[160];
    snprintf(b, sizeof(b), "{\"a\":[{\"numeric\":[\">\",%zu,\"<=\",%zu]}]}",
             NP - i, NP + i + 1);
    pv[i].text = strdup(b);
    snprintf(b, sizeof(b), "{\"b\":[{\"numeric\":[\">=\",%zu.5,\"<\",%zu]}]}",
             i, i + 1);
    pv[NP + i].text = strdup(b);
    assert_non_null(pv[i].text);
    assert_non_null(pv[NP + i].text);
  }
  for(size_t j = 0; j < NE; j++) {
    char b[256];
    unsigned v = rnd(2 * NP + 2);
    snprintf(b, sizeof(b), "{\"a\":[%u,%u.5,%u],\"b\":[%u.5,%u,%u.25]}", v, v,
             rnd(2 * NP), v / 2, v / 2, rnd(NP));
    ev[j].text = strdup(b);
    assert_non_null(ev[j].text);
  }
  check_all("numeric nested", pv, 2 * NP, ev, NE);
  for(size_t i = 0; i < 2 * NP; i++)
    free(pv[i].text);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* The API's edges: empty ruleset, a scratch reused across rulesets,
 * oversized events, a bad pattern leaves the ruleset unchanged. */
static void test_api(void **state)
{
  (void)state;
  certhub_ruleset *rs = NULL, *rs2 = NULL;
  certhub_match_scratch *sc = NULL;
  const size_t *mv = NULL;
  size_t nm = 9;
  char *err = NULL;
  assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  assert_int_equal(certhub_ruleset_match(rs, sc, "{}", 2, &mv, &nm, &err),
                   CH_OK);
  assert_int_equal(nm, 0);
  assert_int_equal(certhub_ruleset_add(rs, "bad", "{\"a\":1}", 7, NULL, &err),
                   CH_ERR_PARSE);
  assert_non_null(strstr(err, "must be in an array"));
  free(err);
  err = NULL;
  assert_int_equal(certhub_ruleset_count(rs), 0);
  assert_int_equal(certhub_ruleset_add(rs, "all", "{}", 2, NULL, &err), CH_OK);
  assert_int_equal(certhub_ruleset_add(rs, "a1", "{\"a\":[1]}", 9, NULL, &err),
                   CH_OK);
  assert_int_equal(
      certhub_ruleset_match(rs, sc, "{\"a\":1}", 7, &mv, &nm, &err), CH_OK);
  assert_int_equal(nm, 2);
  assert_int_equal(mv[0], 0);
  assert_int_equal(mv[1], 1);
  /* a bigger ruleset after a smaller one, same scratch */
  assert_int_equal(certhub_ruleset_new(&rs2), CH_OK);
  for(int i = 0; i < 50; i++) {
    char pat[64];
    snprintf(pat, sizeof(pat), "{\"k%d\":[%d]}", i % 7, i);
    assert_int_equal(
        certhub_ruleset_add(rs2, pat, pat, strlen(pat), NULL, &err), CH_OK);
  }
  assert_int_equal(
      certhub_ruleset_match(rs2, sc, "{\"k3\":10}", 9, &mv, &nm, &err), CH_OK);
  assert_int_equal(nm, 1);
  assert_int_equal(mv[0], 10);
  assert_string_equal(certhub_ruleset_name(rs2, 10), "{\"k3\":[10]}");
  assert_int_equal(
      certhub_ruleset_match(rs, sc, "{\"a\":1}", 7, &mv, &nm, &err), CH_OK);
  assert_int_equal(nm, 2);
  size_t big = CERTHUB_EVENT_MAX_LEN + 1;
  char *b = malloc(big);
  assert_non_null(b);
  memset(b, ' ', big);
  b[0] = '{';
  b[1] = '}';
  assert_int_equal(certhub_ruleset_match(rs, sc, b, big, &mv, &nm, &err),
                   CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "larger than the limit"));
  free(err);
  err = NULL;
  assert_int_equal(certhub_ruleset_match(rs, sc, b, big - 1, &mv, &nm, &err),
                   CH_OK);
  free(b);
  assert_int_equal(
      certhub_ruleset_match(rs, sc, "{\"a\":1,}", 8, &mv, &nm, &err),
      CH_ERR_PARSE);
  assert_non_null(strstr(err, "invalid JSON at byte 7"));
  free(err);
  certhub_ruleset_free(rs);
  certhub_ruleset_free(rs2);
  certhub_match_scratch_free(sc);
}

/* --- string values: one walk for all operators -------------------------- */

/* A random string of letters in both cases, the bytes around the ASCII
 * capitals ('@' '[' '`' '{': ignore-case folds letters by whole words),
 * '.', '-', sometimes an 'É' (two bytes), 0 to 19 of them (the hash takes
 * 8 bytes a step, with overlapping words), into b as JSON text without
 * quotes; '*' only when star. */
static void rand_str(char *b, size_t cap, bool star)
{
  static const char al[] = "aAbBzZ@[`{.-";
  size_t n = rnd(4) ? rnd(6) : rnd(20), o = 0;
  for(size_t i = 0; i < n && o + 4 < cap; i++) {
    if(star && rnd(5) == 0 && (o == 0 || b[o - 1] != '*')) {
      b[o++] = '*';
    }
    else if(rnd(16) == 0) {
      b[o++] = '\xc3';
      b[o++] = '\x89';
    }
    else {
      b[o++] = al[rnd(sizeof(al) - 1)];
    }
  }
  b[o] = '\0';
}

/* Anything-but in all its forms next to exact, ignore-case, prefix,
 * suffix and wildcard conditions on the same paths, so that a string
 * value's walks find hits and exclusions together: more than 64
 * anything-but entries on one path (several words of exclusions),
 * entries with several inner values, wildcards of every shape (one
 * literal, a prefix, a suffix, "*", inner stars: only the last are
 * checked in turn), anything-but with a non-ASCII ignore-case value
 * (left to the general check), entries of rules with another condition
 * (recorded hits) and of single-condition rules (matched at once),
 * $or; events with the strings, arrays of them, numbers, and duplicate
 * keys that drop a value already matched. Against the reference, each
 * event also padded. */
static void test_string_sets(void **state)
{
  (void)state;
  enum { NP = 260, NE = 2500 };
  struct item *pv = calloc(NP, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  char buf[1024], a[64], b2[64];
  size_t np = 0;
  while(np < NP) {
    size_t o = 0;
    const char *path = rnd(4) ? "s" : "t";
    rand_str(a, sizeof(a), false);
    rand_str(b2, sizeof(b2), false);
    char w[64];
    rand_str(w, sizeof(w), true);
    unsigned k = np < 120 ? 8 + rnd(9) : rnd(17);
    add(buf, &o, sizeof(buf), "{\"%s\":[", path);
    switch(k) {
    case 0:
      add(buf, &o, sizeof(buf), "\"%s\"", a);
      break;
    case 1:
      add(buf, &o, sizeof(buf), "{\"equals-ignore-case\":\"%s\"}", a);
      break;
    case 2:
      add(buf, &o, sizeof(buf), "{\"prefix\":\"%s\"}", a);
      break;
    case 3:
      add(buf, &o, sizeof(buf), "{\"suffix\":{\"equals-ignore-case\":\"%s\"}}",
          a);
      break;
    case 4:
      add(buf, &o, sizeof(buf), "{\"wildcard\":\"%s\"}", w);
      break;
    case 5:
      add(buf, &o, sizeof(buf), "{\"wildcard\":\"%s*\"}", a);
      break;
    case 6:
      add(buf, &o, sizeof(buf), "{\"wildcard\":\"*%s\"}", a);
      break;
    case 7:
      add(buf, &o, sizeof(buf), "{\"prefix\":{\"equals-ignore-case\":\"%s\"}}",
          a);
      break;
    case 8:
      add(buf, &o, sizeof(buf), "{\"anything-but\":\"%s\"}", a);
      break;
    case 9:
      add(buf, &o, sizeof(buf), "{\"anything-but\":[\"%s\",\"%s\"]}", a, b2);
      break;
    case 10:
      add(buf, &o, sizeof(buf), "{\"anything-but\":{\"prefix\":\"%s\"}}", a);
      break;
    case 11:
      add(buf, &o, sizeof(buf), "{\"anything-but\":{\"suffix\":\"%s\"}}", a);
      break;
    case 12:
      add(buf, &o, sizeof(buf),
          "{\"anything-but\":{\"equals-ignore-case\":[\"%s\",\"%s\"]}}", a,
          b2);
      break;
    case 13:
      add(buf, &o, sizeof(buf),
          "{\"anything-but\":{\"wildcard\":[\"%s\",\"%s*\",\"*%s\"]}}", w, a,
          b2);
      break;
    case 14:
      add(buf, &o, sizeof(buf), "{\"anything-but\":[1,2]}");
      break;
    case 15:
      add(buf, &o, sizeof(buf),
          "{\"anything-but\":{\"equals-ignore-case\":[\"%s\",\"\\u00e9a\"]}}",
          a);
      break;
    default:
      add(buf, &o, sizeof(buf), "{\"anything-but\":{\"wildcard\":\"%s\"}}", w);
    }
    if(rnd(3) == 0) /* a second value in the same condition */
      add(buf, &o, sizeof(buf), ",\"%s\"", b2);
    add(buf, &o, sizeof(buf), "]");
    unsigned extra = rnd(6);
    if(extra == 0) /* another condition: hits are recorded */
      add(buf, &o, sizeof(buf), ",\"u\":[\"x\",5]");
    else if(extra == 1)
      add(buf, &o, sizeof(buf),
          ",\"$or\":[{\"u\":[\"x\"]},{\"t\":[{\"anything-but\":\"%s\"}]}]",
          b2);
    add(buf, &o, sizeof(buf), "}");
    certhub_pattern *p = NULL;
    char *err = NULL;
    if(certhub_pattern_compile(buf, o, &p, &err) != CH_OK) {
      free(err); /* e.g. consecutive stars */
      continue;
    }
    certhub_pattern_free(p);
    pv[np++].text = strdup(buf);
  }
  for(size_t j = 0; j < NE; j++) {
    size_t o = 0;
    add(buf, &o, sizeof(buf), "{");
    const char *sep = "";
    for(unsigned f = 0, nf = 1 + rnd(3); f < nf; f++) {
      static const char *const keys[] = {"s", "t", "u", "s"};
      add(buf, &o, sizeof(buf), "%s\"%s\":", sep, keys[rnd(NELEM(keys))]);
      sep = ",";
      unsigned t = rnd(10);
      if(t == 0) {
        add(buf, &o, sizeof(buf), "%u", rnd(4));
      }
      else if(t == 1) {
        add(buf, &o, sizeof(buf), "[");
        for(unsigned e = 0, ne = rnd(4); e < ne; e++) {
          rand_str(a, sizeof(a), false);
          add(buf, &o, sizeof(buf), "%s\"%s\"", e ? "," : "", a);
        }
        add(buf, &o, sizeof(buf), "]");
      }
      else if(t == 2) {
        add(buf, &o, sizeof(buf), "\"x\"");
      }
      else {
        rand_str(a, sizeof(a), rnd(4) == 0);
        add(buf, &o, sizeof(buf), "\"%s\"", a);
      }
    }
    add(buf, &o, sizeof(buf), "}");
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("string sets", pv, np, ev, NE);
  for(size_t i = 0; i < np; i++)
    free(pv[i].text);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* Members of objects on rule paths recognised by their start `"key":`
 * (one 16-byte compare per child key of up to 13 bytes), a plain key
 * that matches none decided without the hash, and a path's last numeric
 * interval reused for the next number. Child keys of 1-14 bytes (13 is
 * the longest compared, 14 goes by the hash), keys that extend or cut
 * one another, a child key that is not plain ASCII (DEL, non-ASCII, an
 * escaped quote: that node's plain misses go by the hash), a node with
 * more children than the table holds, a key holding '.', root keys;
 * events with the same keys escaped, with whitespace around the colon,
 * duplicated, near misses, and numbers on ranged paths walking across
 * interval bounds within one array. */
static void test_member_starts(void **state)
{
  (void)state;
  static const char *const pats_[] = {
      "{\"p\":{\"STREET\":[{\"prefix\":\"MA\"}],\"ST_TYPE\":[\"AVE\"]}}",
      "{\"p\":{\"MAPBLKLOT\":[{\"suffix\":\"1\"}]}}",
      "{\"p\":{\"ABCDEFGHIJKLM\":[{\"exists\":true}]}}",
      "{\"p\":{\"ABCDEFGHIJKLMN\":[{\"exists\":true}]}}",
      "{\"p\":{\"STREETS\":[{\"exists\":true}]}}",
      "{\"p\":{\"x\":[{\"numeric\":[\">\",-122.42,\"<\",-122.41]}]}}",
      "{\"p\":{\"12345678\":[{\"numeric\":[\">\",5]}]}}",
      "{\"p\":{\"a.b\":[{\"exists\":true}]}}",
      "{\"properties\":{\"x\":[{\"numeric\":[\"<\",-122.415]}]}}",
      "{\"d\":{\"k\\u007f\":[{\"exists\":true}],\"k\":[{\"exists\":true}]}}",
      "{\"u\":{\"\\u00e9t\\u00e9\":[{\"exists\":true}],\"et\":[1]}}",
      "{\"q\":{\"q\\\"\":[{\"exists\":true}],\"qq\":[{\"exists\":true}]}}",
      "{\"m\":{\"k0\":[0],\"k1\":[1],\"k2\":[2],\"k3\":[3],\"k4\":[4],"
      "\"k5\":[5],\"k6\":[6],\"k7\":[7],\"k8\":[8],\"k9\":[9],"
      "\"k10_long_key\":[10]}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",-122.41600944012424]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",-122.42]}],"
      "\"y\":[{\"numeric\":[\">=\",37.76]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.41600944012424]}]}}}",
      "{\"g\":{\"t\":[\"P\"],\"c\":{\"x\":[{\"numeric\":[\"=\",-122.4]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"numeric\":[\">\",37.7,\"<\",37.71]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"numeric\":[\">\",37.75]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"numeric\":[\"=\",37.75]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.4]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"=\",-122.4]}]}}}",
  };
  /* (the 19-digit numbers are the double of a bound, but their cheap
   * approximation is the next double: only the exact value decides; the
   * last ones share their first 8 digits with a bound) */
  /* keys: the rule's, near misses, escaped forms, a DEL and a non-ASCII
   * key written raw, dotted forms */
  static const char *const pkeys[] = {"STREET",
                                      "ST_TYPE",
                                      "MAPBLKLOT",
                                      "ABCDEFGHIJKLM",
                                      "ABCDEFGHIJKLMN",
                                      "ABCDEFGHIJKL",
                                      "STREETS",
                                      "STREE",
                                      "STREET ",
                                      "x",
                                      "X",
                                      "xx",
                                      "12345678",
                                      "123456789",
                                      "1234567",
                                      "a.b",
                                      "a",
                                      "\\u0053TREET",
                                      "STR\\u0045ET",
                                      "x\\u0000",
                                      "",
                                      "ST_TYP",
                                      "MAPBLKLOTS",
                                      "ABCDEFGHIJKLMNO"};
  static const char *const vals[] = {"\"MASON\"", "\"AVE\"",
                                     "\"x1\"",    "\"ST\"",
                                     "-122.415",  "-122.4199",
                                     "-122.41",   "6",
                                     "5",         "1",
                                     "0",         "null",
                                     "true",      "{}",
                                     "[]",        "{\"STREET\":\"MA\"}",
                                     "{\"b\":1}", "[\"MA\",\"MB\"]",
                                     "\"\""};
  static const char *const dkeys[] = {"k\x7f", "k", "k\\u007f", "kk",
                                      "k\x7f\x7f"};
  static const char *const ukeys[] = {"\xc3\xa9t\xc3\xa9", "\\u00e9t\\u00e9",
                                      "et", "\xc3\xa9t", "t\xc3\xa9"};
  static const char *const qkeys[] = {"q\\\"", "qq", "q", "q\\\\", "qq "};
  static const char *const xs[] = {"-122.41600944012424",
                                   "-122.41600944012425",
                                   "-122.41600944012423",
                                   "-122.416",
                                   "-122.4161",
                                   "-122.4159",
                                   "-122.4",
                                   "-122.39999999999999",
                                   "-122.40000000000001",
                                   "-122.42",
                                   "-122.41",
                                   "-122.5",
                                   "-122",
                                   "-122.41600944012424e0",
                                   "-122.4160094401242347",
                                   "-122.4160094401242348",
                                   "-122.3999999999999986",
                                   "-122.4100000000000000",
                                   "-122.4200000000000000",
                                   "-122.41600945",
                                   "-122.41600943",
                                   "-122.41600001",
                                   "-122.41609999",
                                   "-122.39999999",
                                   "-122.40000001"};
  static const char *const ys[] = {"37.75",
                                   "37.7",
                                   "37.71",
                                   "37.705",
                                   "37.749999999999993",
                                   "37.700000000000003",
                                   "37.76",
                                   "37.755",
                                   "37.6",
                                   "37.75000000000000257",
                                   "37.70000000000000257",
                                   "37.71000000000000257",
                                   "37.74999999",
                                   "37.750000001",
                                   "37.70000001",
                                   "37.709999999"};
  static const char *const colon[] = {":", ":", ":", " :", ": ", "\t:\n"};
  enum { NE = 1500 };
  size_t np = NELEM(pats_);
  struct item *pv = calloc(np, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  for(size_t i = 0; i < np; i++)
    pv[i].text = (char *)pats_[i];
  char buf[8192];
  for(size_t j = 0; j < NE; j++) {
    size_t o = 0;
    add(buf, &o, sizeof(buf), "{\"p\":{");
    for(unsigned k = 0, n = rnd(10); k < n; k++)
      add(buf, &o, sizeof(buf), "%s\"%s\"%s%s", k ? "," : "",
          pkeys[rnd(3) ? rnd(8) : rnd(NELEM(pkeys))], colon[rnd(NELEM(colon))],
          vals[rnd(NELEM(vals))]);
    add(buf, &o, sizeof(buf), "},\"%s\":%s,\"d\":{\"%s\":1,\"%s\":2},",
        rnd(2) ? "p.STREET" : "p.ST_TYPE", vals[rnd(3)],
        dkeys[rnd(NELEM(dkeys))], dkeys[rnd(NELEM(dkeys))]);
    add(buf, &o, sizeof(buf), "\"u\":{\"%s\":1,\"%s\":1},",
        ukeys[rnd(NELEM(ukeys))], ukeys[rnd(NELEM(ukeys))]);
    add(buf, &o, sizeof(buf), "\"q\":{\"%s\":1,\"%s\":1},\"m\":{",
        qkeys[rnd(NELEM(qkeys))], qkeys[rnd(NELEM(qkeys))]);
    for(unsigned k = 0, n = rnd(13); k < n; k++)
      add(buf, &o, sizeof(buf), "%s\"k%u%s\":%u", k ? "," : "", rnd(11),
          rnd(4) ? "" : "_long_key", rnd(11));
    add(buf, &o, sizeof(buf), "},\"properties\":{\"x\":%s},",
        xs[rnd(NELEM(xs))]);
    add(buf, &o, sizeof(buf), "\"g\":{\"t\":\"%s\",\"c\":[[",
        rnd(2) ? "P" : "M");
    /* a walk: mostly the same interval, now and then across a bound */
    for(unsigned k = 0, n = rnd(14), xi = rnd(NELEM(xs)), yi = rnd(NELEM(ys));
        k < n; k++) {
      if(rnd(4) == 0)
        xi = rnd(NELEM(xs));
      if(rnd(4) == 0)
        yi = rnd(NELEM(ys));
      add(buf, &o, sizeof(buf), "%s{\"x\":%s,\"y\":%s,\"z\":0%s}",
          k ? "," : "", xs[xi], ys[yi], rnd(12) ? "" : ",\"x\":-122.3");
    }
    add(buf, &o, sizeof(buf), "]]}}");
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("member starts", pv, np, ev, NE);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* Array elements read by obj_quiet (objects whose members are all
 * numbers that add nothing or plain keys that are no child's): elements
 * with every kind of member next to the coordinates, literals, strings
 * and containers under keys that are no child's (skipped), members that
 * send the element back to object() (strings and exact numbers on
 * paths, a dotted key, an escaped key, whitespace, long keys, numbers
 * with exponents), invalid numbers and literals, and a node with more
 * children than its member-start table holds (h.c: never quiet). */
static void test_quiet_objects(void **state)
{
  (void)state;
  static const char *const pats_[] = {
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\"<\",-122.4]}]}}}",
      "{\"g\":{\"c\":{\"x\":[{\"numeric\":[\">\",-122.45,\"<\",-122.41]}]}}}",
      "{\"g\":{\"t\":[\"M\"],\"c\":{\"y\":[{\"numeric\":[\"=\",37.75]}]}}}",
      "{\"g\":{\"c\":{\"y\":[{\"numeric\":[\"=\",37.7]}]}}}",
      "{\"g\":{\"c\":{\"s\":[\"a\"]}}}",
      "{\"g\":{\"c\":{\"w\":[5]}}}",
      "{\"g\":{\"c\":{\"d\":{\"e\":[{\"numeric\":[\">\",0]}]}}}}",
      "{\"g\":{\"c\":{\"v\":[{\"exists\":false}]}}}",
      "{\"g\":{\"t\":[\"P\"],\"c\":{\"x\":[{\"numeric\":[\">=\",-122.43]}]}}}",
      "{\"h\":{\"c\":{\"k0\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k1\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k2\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k3\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k4\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k5\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k6\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k7\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k8\":[{\"numeric\":[\">\",5]}]}}}",
      "{\"h\":{\"c\":{\"k9\":[{\"numeric\":[\"<\",5]}]}}}"};
  static const char *const xs[] = {"-122.42372826963171",
                                   "-122.39999999999999",
                                   "-122.40000000000001",
                                   "-122.45000000000000",
                                   "-122.41000000000001",
                                   "-122.44999999999999",
                                   "-122.43000000000000",
                                   "-122.42999999999999",
                                   "-122.5",
                                   "-122.4",
                                   "-122.41",
                                   "-123.0",
                                   "-122.4237e0",
                                   "-1.2242372826963171e2"};
  static const char *const ys[] = {"37.75",
                                   "37.7",
                                   "37.70660782123333",
                                   "37.75000000000000257",
                                   "37.74999999999999",
                                   "37.700000000000003",
                                   "37.69999999999999",
                                   "37.8"};
  /* members: mostly the usual, some of every other kind */
  static const char *const other[] = {"\"z\":0",
                                      "\"z\":7",
                                      "\"z\":true",
                                      "\"z\":false",
                                      "\"z\":null",
                                      "\"z\":\"str,}\"",
                                      "\"z\":[1,{\"a\":2}]",
                                      "\"z\":{\"q\":[true]}",
                                      "\"z\":-0.5",
                                      "\"z\":10",
                                      "\"z\":1e5",
                                      "\"s\":\"a\"",
                                      "\"s\":\"b\"",
                                      "\"w\":5",
                                      "\"w\":5.0",
                                      "\"d.e\":1",
                                      "\"d.e\":-1",
                                      "\"v\":1",
                                      " \"x\" : -122.42",
                                      "\"a_very_long_member\":1",
                                      "\"\\u0078\":-122.5",
                                      "\"y\":37.75e0",
                                      "\"q\":\"\\\"\"",
                                      "\"z\":-",
                                      "\"z\":01",
                                      "\"x\":1.",
                                      "\"z\":tru",
                                      "\"x\":-122.4x",
                                      "\"z\":-,",
                                      "\"y\":37.7}",
                                      "\"z\":0 ",
                                      "\"z\":[]",
                                      "\"z\":{}"};
  enum { NE = 1500 };
  size_t np = NELEM(pats_);
  struct item *pv = calloc(np, sizeof(*pv)), *ev = calloc(NE, sizeof(*ev));
  assert_non_null(pv);
  assert_non_null(ev);
  for(size_t i = 0; i < np; i++)
    pv[i].text = (char *)pats_[i];
  char buf[16384];
  for(size_t j = 0; j < NE; j++) {
    size_t o = 0;
    bool tfirst = rnd(4) != 0;
    bool hostile = rnd(5) == 0; /* members of every other kind, often */
    add(buf, &o, sizeof(buf), "{\"g\":{");
    if(tfirst)
      add(buf, &o, sizeof(buf), "\"t\":\"%s\",", rnd(2) ? "P" : "M");
    add(buf, &o, sizeof(buf), "\"c\":[[");
    for(unsigned k = 0, n = rnd(16); k < n; k++) {
      add(buf, &o, sizeof(buf), "%s{", k ? (rnd(30) ? "," : " , ") : "");
      unsigned nm = rnd(30) ? 3 : rnd(6);
      for(unsigned m = 0; m < nm; m++) {
        const char *sep = m ? (rnd(40) ? "," : ", ") : "";
        unsigned kind = rnd(hostile ? 5 : 40) ? m % 3 : 3;
        if(kind == 0)
          add(buf, &o, sizeof(buf), "%s\"x\":%s", sep, xs[rnd(NELEM(xs))]);
        else if(kind == 1)
          add(buf, &o, sizeof(buf), "%s\"y\":%s", sep, ys[rnd(NELEM(ys))]);
        else if(kind == 2)
          add(buf, &o, sizeof(buf), "%s\"z\":%u", sep, rnd(3) ? 0 : rnd(10));
        else
          add(buf, &o, sizeof(buf), "%s%s", sep,
              other[hostile ? rnd(NELEM(other)) : rnd(23)]);
      }
      add(buf, &o, sizeof(buf), "}");
    }
    add(buf, &o, sizeof(buf), "]]");
    if(!tfirst)
      add(buf, &o, sizeof(buf), ",\"t\":\"%s\"", rnd(2) ? "P" : "M");
    add(buf, &o, sizeof(buf), "},\"h\":{\"c\":[");
    for(unsigned k = 0, n = rnd(6); k < n; k++)
      add(buf, &o, sizeof(buf), "%s{\"k%u\":%u.%u,\"k%u\":%u,\"z\":0}",
          k ? "," : "", rnd(10), rnd(10), rnd(10), rnd(10), rnd(10));
    add(buf, &o, sizeof(buf), "]}}");
    ev[j].text = strdup(buf);
    assert_non_null(ev[j].text);
  }
  check_all("quiet objects", pv, np, ev, NE);
  for(size_t j = 0; j < NE; j++)
    free(ev[j].text);
  free(pv);
  free(ev);
  assert_int_equal(failures, 0);
}

/* One scratch used in turn with two rulesets whose paths have the same
 * numbers, and with a ruleset that gains a rule between events: what
 * the scratch keeps across events (the string memo, the numeric
 * intervals and their digit bounds) must be the current ruleset's.
 * Values repeat (the memo answers), some hit more conditions than the
 * memo keeps, and coordinates are long enough for the digit bounds. */
static void test_scratch_reuse(void **state)
{
  (void)state;
  static const char *const pa[] = {
      "{\"a\":[\"xa\"]}",
      "{\"a\":[{\"prefix\":\"x\"}]}",
      "{\"a\":[{\"anything-but\":[\"ya\"]}]}",
      "{\"a\":[{\"anything-but\":{\"prefix\":\"q\"}}]}",
      "{\"n\":{\"v\":[{\"numeric\":[\"<\",4.5]}]}}",
      "{\"n\":{\"v\":[{\"numeric\":[\">\",4.75,\"<\",5.25]}]}}",
      "{\"a\":[{\"suffix\":\"a\"}],\"n\":{\"v\":[{\"numeric\":[\">\",5]}]}}"};
  static const char *const pb[] = {
      "{\"a\":[{\"anything-but\":[\"xa\"]}]}",
      "{\"a\":[{\"equals-ignore-case\":\"YA\"}]}",
      "{\"a\":[{\"wildcard\":\"*a*\"}]}",
      "{\"a\":[{\"suffix\":\"b\"}]}",
      "{\"n\":{\"v\":[{\"numeric\":[\">\",4.9,\"<\",5.1]}]}}",
      "{\"n\":{\"v\":[{\"numeric\":[\"<\",4.95]}]}}",
      "{\"a\":[\"xb\"],\"n\":{\"v\":[{\"numeric\":[\">\",6]}]}}"};
  /* added to A after a third of the events: 20 more conditions that
   * "xa" and "xb" hit (more than a memo entry keeps) */
  static const char *const vals[] = {"\"xa\"", "\"xb\"", "\"ya\"",
                                     "\"qa\"", "\"YA\"", "\"b\"",
                                     "\"\"",   "1",      "\"xab\""};
  static const char *const nums[] = {
      "4.4999999999", "4.5000000001", "4.7600000001", "5.2400000001",
      "5.0000000001", "4.9500000001", "4.9499999999", "5.1000000001",
      "6.0000000001", "5.9999999999", "4.8000000001", "4.2000000001"};
  certhub_ruleset *rs[2] = {NULL, NULL};
  certhub_pattern *ps[2][32];
  size_t np[2] = {NELEM(pa), NELEM(pb)};
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  char *err = NULL;
  for(int r = 0; r < 2; r++) {
    assert_int_equal(certhub_ruleset_new(&rs[r]), CH_OK);
    for(size_t i = 0; i < np[r]; i++) {
      const char *t = r ? pb[i] : pa[i];
      assert_int_equal(certhub_pattern_compile(t, strlen(t), &ps[r][i], &err),
                       CH_OK);
      assert_int_equal(
          certhub_ruleset_add(rs[r], "r", t, strlen(t), NULL, &err), CH_OK);
    }
  }
  enum { NE = 3000 };
  char buf[4096];
  size_t matches = 0;
  for(size_t j = 0; j < NE; j++) {
    if(j == NE / 3)
      for(int k = 0; k < 20; k++) {
        const char *t = k % 2 ? "{\"a\":[{\"prefix\":\"x\"}]}"
                              : "{\"a\":[{\"anything-but\":\"z\"}]}";
        assert_int_equal(
            certhub_pattern_compile(t, strlen(t), &ps[0][np[0]], &err), CH_OK);
        assert_int_equal(
            certhub_ruleset_add(rs[0], "r", t, strlen(t), NULL, &err), CH_OK);
        np[0]++;
      }
    size_t o = 0;
    /* numbers as members of objects (read inline, through the
     * intervals), in an array (obj_quiet) */
    add(buf, &o, sizeof(buf), "{\"a\":%s,\"n\":[", vals[rnd(NELEM(vals))]);
    for(unsigned k = 0, n = rnd(6); k < n; k++)
      add(buf, &o, sizeof(buf), "%s{\"v\":%s,\"w\":1}", k ? "," : "",
          nums[rnd(NELEM(nums))]);
    add(buf, &o, sizeof(buf), "]}");
    int r = (int)rnd(2);
    size_t len = strlen(buf), plen;
    char *pe = padded(buf, len, &plen);
    for(int pass = 0; pass < 2; pass++) {
      const char *e = pass ? pe : buf;
      size_t n = pass ? plen : len;
      const size_t *mv = NULL;
      size_t nm = 0;
      assert_int_equal(certhub_ruleset_match(rs[r], sc, e, n, &mv, &nm, &err),
                       CH_OK);
      size_t k = 0;
      for(size_t i = 0; i < np[r]; i++) {
        bool want = false, in = k < nm && mv[k] == i;
        assert_int_equal(ref(ps[r][i], e, n, &want), CH_OK);
        if(in)
          k++;
        if(in != want)
          fail_at("scratch reuse: ruleset %c rule %zu event %s: ruleset %d, "
                  "reference %d",
                  r ? 'B' : 'A', i, buf, in, want);
        matches += want;
      }
    }
    free(pe);
  }
  fprintf(stderr, "scratch reuse: 2 rulesets x %d events, %zu matches\n", NE,
          matches);
  for(int r = 0; r < 2; r++) {
    for(size_t i = 0; i < np[r]; i++)
      certhub_pattern_free(ps[r][i]);
    certhub_ruleset_free(rs[r]);
  }
  certhub_match_scratch_free(sc);
  assert_int_equal(failures, 0);
}

/* The string memo's replay of matched rules as bits (struct memo): one
 * scratch in turn with rulesets of 40, 100, 300 and 600 rules (the
 * rules a value hits in one, two, more than two words, and no bitmode),
 * on a string path whose values repeat (the memo stays on) and differ
 * in one byte at the start, the middle or the end (4 to 16 bytes and
 * longer: the word compares); some rules have a second condition (not
 * their rule's only one: replayed as hits). Against the reference. */
static void test_memo_bits(void **state)
{
  (void)state;
  static const char *const kinds[] = {
      "{\"s\":[{\"prefix\":\"%s\"}]}",
      "{\"s\":[{\"suffix\":\"%s\"}]}",
      "{\"s\":[\"%s\"]}",
      "{\"s\":[{\"anything-but\":{\"prefix\":\"%s\"}}]}",
      "{\"s\":[{\"equals-ignore-case\":\"%s\"}],\"t\":[1]}",
      "{\"s\":[{\"prefix\":\"%s\"}],\"t\":[2]}"};
  /* the values: base strings with one byte changed somewhere */
  static const char *const base[] = {"ab", "abcd", "abcdefg", "abcdefgh",
                                     "abcdefghijk", "abcdefghijklmnop",
                                     "abcdefghijklmnopqrstu"};
  char vals[64][32];
  size_t nv = 0;
  for(size_t b = 0; b < NELEM(base); b++) {
    size_t n = strlen(base[b]);
    for(int k = 0; k < 3 && nv < NELEM(vals); k++) {
      memcpy(vals[nv], base[b], n + 1);
      if(k == 1)
        vals[nv][0] = 'X';
      else if(k == 2)
        vals[nv][n - 1] = 'X';
      nv++;
    }
    memcpy(vals[nv], base[b], n + 1);
    vals[nv][n / 2] = 'X';
    nv++;
  }
  static const size_t sizes[] = {40, 100, 300, 600};
  enum { NR = 4, MAXR = 600 };
  certhub_ruleset *rs[NR];
  certhub_pattern **ps[NR];
  char *err = NULL;
  for(int r = 0; r < NR; r++) {
    assert_int_equal(certhub_ruleset_new(&rs[r]), CH_OK);
    ps[r] = calloc(MAXR, sizeof(*ps[r]));
    assert_non_null(ps[r]);
    for(size_t i = 0; i < sizes[r]; i++) {
      char t[256], lit[32];
      const char *v = vals[rnd((unsigned)nv)];
      size_t n = strlen(v), cut = 1 + rnd((unsigned)n);
      unsigned kind = rnd(NELEM(kinds));
      /* prefixes and suffixes of the values, whole values otherwise */
      if(kind == 1) /* a suffix */
        memmove(lit, v + n - cut, cut);
      else if(kind == 0 || kind == 3 || kind == 5) /* a prefix */
        memcpy(lit, v, cut);
      else
        memcpy(lit, v, cut = n);
      lit[cut] = '\0';
      snprintf(t, sizeof(t), kinds[kind], lit);
      /* about 12 rules on "s", spread over all the words: a value hits
       * few enough for a memo entry (MEMO_CONDS); the rest on "u", which
       * no event has */
      if(rnd((unsigned)sizes[r] / 12))
        t[2] = 'u';
      assert_int_equal(certhub_pattern_compile(t, strlen(t), &ps[r][i], &err),
                       CH_OK);
      assert_int_equal(
          certhub_ruleset_add(rs[r], "r", t, strlen(t), NULL, &err), CH_OK);
    }
  }
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  enum { NE = 2400 };
  size_t matches = 0;
  for(size_t j = 0; j < NE; j++) {
    char buf[256];
    size_t o = 0;
    int r = (int)(j / 300 % NR); /* runs of 300: the memo warms up */
    add(buf, &o, sizeof(buf), "{\"s\":\"%s\",\"t\":%u}",
        vals[rnd((unsigned)nv)], rnd(3));
    size_t len = strlen(buf);
    const size_t *mv = NULL;
    size_t nm = 0;
    assert_int_equal(certhub_ruleset_match(rs[r], sc, buf, len, &mv, &nm, &err),
                     CH_OK);
    size_t k = 0;
    for(size_t i = 0; i < sizes[r]; i++) {
      bool want = false, in = k < nm && mv[k] == i;
      assert_int_equal(ref(ps[r][i], buf, len, &want), CH_OK);
      if(in)
        k++;
      if(in != want)
        fail_at("memo bits: %zu rules, rule %zu event %s: ruleset %d, "
                "reference %d",
                sizes[r], i, buf, in, want);
      matches += want;
    }
  }
  fprintf(stderr, "memo bits: %d events, %zu matches\n", NE, matches);
  for(int r = 0; r < NR; r++) {
    for(size_t i = 0; i < sizes[r]; i++)
      certhub_pattern_free(ps[r][i]);
    free(ps[r]);
    certhub_ruleset_free(rs[r]);
  }
  certhub_match_scratch_free(sc);
  assert_int_equal(failures, 0);
}

/* The string filter of a path (struct rpath sfirst, slast, sall): rules
 * whose literals are found by a string's first byte, its last byte
 * (suffixes, wildcards starting with '*'), either case (ignore-case),
 * or not at all (an empty prefix, a wildcard with '*' at both ends,
 * non-ASCII ignore-case), on paths of their own and together, also as
 * anything-but exclusions; random short strings over the literals'
 * letters, against the reference. */
static void test_string_filter(void **state)
{
  (void)state;
  static const char *const fpats[] = {
      "{\"s\":[{\"wildcard\":\"*a*Y\"}]}",
      "{\"s\":[{\"anything-but\":{\"wildcard\":\"*d*i\"}}]}",
      "{\"s\":[{\"wildcard\":\"q*s\"}]}",
      "{\"s\":[{\"anything-but\":{\"wildcard\":\"*k*m\"}}]}",
      "{\"s\":[{\"prefix\":{\"equals-ignore-case\":\"Ab\"}}]}",
      "{\"s\":[{\"suffix\":{\"equals-ignore-case\":\"yZ\"}}]}",
      "{\"s\":[{\"equals-ignore-case\":\"Mz\"}]}",
      "{\"s\":[\"mid\"]}",
      "{\"s\":[{\"anything-but\":{\"prefix\":\"zz\"}}]}",
      "{\"s\":[{\"anything-but\":{\"suffix\":\"b\"}}]}",
      "{\"t\":[{\"anything-but\":[\"ab\"]}]}",
      "{\"t\":[{\"wildcard\":\"*b*\"}]}",
      "{\"u\":[{\"prefix\":\"\"}]}",
      "{\"u\":[{\"anything-but\":{\"suffix\":\"a\"}}]}",
      "{\"v\":[{\"equals-ignore-case\":\"\xc3\xa9" "a\"}]}",
      "{\"v\":[{\"anything-but\":[\"ba\"]}]}",
      "{\"w\":[{\"suffix\":\"\"}],\"s\":[{\"prefix\":\"k\"}]}",
      "{\"w\":[{\"anything-but\":{\"prefix\":\"m\"}}]}",
      "{\"x\":[{\"anything-but\":[\"ab\"]}]}",
      "{\"y\":[{\"anything-but\":{\"prefix\":\"z\"}}],\"t\":[{\"prefix\":"
      "\"a\"}]}",
      "{\"y\":[{\"anything-but\":[\"ab\"]}]}",
      "{\"x\":[{\"anything-but\":{\"suffix\":\"m\"}}]}"};
  static const char *const bytes[] = {"a", "b", "z", "A", "B", "Z", "y",
                                      "Y", "k", "m", "M", "q", "r", "s",
                                      "i", "d", "\xc3\xa9", "\xc3\x89"};
  /* x twice in some events: a duplicate key, the last value counts */
  static const char *const keys[] = {"s", "t", "u", "v", "w", "x", "x", "y"};
  certhub_ruleset *rs = NULL;
  certhub_pattern *ps[NELEM(fpats)];
  char *err = NULL;
  assert_int_equal(certhub_ruleset_new(&rs), CH_OK);
  for(size_t i = 0; i < NELEM(fpats); i++) {
    const char *t = fpats[i];
    assert_int_equal(certhub_pattern_compile(t, strlen(t), &ps[i], &err),
                     CH_OK);
    assert_int_equal(certhub_ruleset_add(rs, "r", t, strlen(t), NULL, &err),
                     CH_OK);
  }
  certhub_match_scratch *sc = NULL;
  assert_int_equal(certhub_match_scratch_new(&sc), CH_OK);
  enum { NE = 6000 };
  size_t matches = 0;
  for(size_t j = 0; j < NE; j++) {
    char buf[1024];
    size_t o = 0;
    add(buf, &o, sizeof(buf), "{");
    for(size_t k = 0; k < NELEM(keys); k++) {
      if(rnd(4) == 0)
        continue;
      add(buf, &o, sizeof(buf), "%s\"%s\":\"", o > 1 ? "," : "", keys[k]);
      /* a third of them longer than a memo entry holds (MEMO_STR):
       * through leaf_val each time, filler in the middle */
      bool longer = rnd(3) == 0;
      for(unsigned c = 0, n = rnd(6); c < n; c++)
        add(buf, &o, sizeof(buf), "%s%s", bytes[rnd(NELEM(bytes))],
            longer && c == 0 ? "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr" : "");
      add(buf, &o, sizeof(buf), "\"");
    }
    add(buf, &o, sizeof(buf), "}");
    size_t len = strlen(buf);
    const size_t *mv = NULL;
    size_t nm = 0;
    assert_int_equal(certhub_ruleset_match(rs, sc, buf, len, &mv, &nm, &err),
                     CH_OK);
    size_t k = 0;
    for(size_t i = 0; i < NELEM(fpats); i++) {
      bool want = false, in = k < nm && mv[k] == i;
      assert_int_equal(ref(ps[i], buf, len, &want), CH_OK);
      if(in)
        k++;
      if(in != want)
        fail_at("string filter: rule %s event %s: ruleset %d, reference %d",
                fpats[i], buf, in, want);
      matches += want;
    }
  }
  fprintf(stderr, "string filter: %d events, %zu matches\n", NE, matches);
  for(size_t i = 0; i < NELEM(fpats); i++)
    certhub_pattern_free(ps[i]);
  certhub_ruleset_free(rs);
  certhub_match_scratch_free(sc);
  assert_int_equal(failures, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api),
      cmocka_unit_test(test_data_files),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_range_index),
      cmocka_unit_test(test_fast_paths),
      cmocka_unit_test(test_numeric_regions),
      cmocka_unit_test(test_numeric_nested),
      cmocka_unit_test(test_string_sets),
      cmocka_unit_test(test_member_starts),
      cmocka_unit_test(test_quiet_objects),
      cmocka_unit_test(test_scratch_reuse),
      cmocka_unit_test(test_memo_bits),
      cmocka_unit_test(test_string_filter),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  for(size_t i = 0; i < npats; i++)
    free(pats[i].text);
  for(size_t i = 0; i < nevs; i++)
    free(evs[i].text);
  free(pats);
  free(evs);
  return r;
}
