/*
 * lib/findings/json_in.c against jansson: for every input, the import's
 * parser gives what json_loadb(JSON_REJECT_DUPLICATES) gives, the same
 * tree (same types, values and key order) or the same error (text, line,
 * column, position). Hand-written edge cases, then many random mutations
 * of a real import body; valid findings must be parsed by the fast path
 * itself, not handed over.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "findings/findings_int.h"

/* The tree as text: types and key order show (1 and 1.0 differ). */
static char *dump(const json_t *j)
{
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  assert_non_null(s);
  return s;
}

/* Same answer as jansson for text[0..len). Returns whether it parsed. */
static bool same(const char *text, size_t len)
{
  json_error_t ea, eb;
  memset(&ea, 0, sizeof(ea));
  memset(&eb, 0, sizeof(eb));
  json_t *a = ch_findings_json_parse(text, len, &ea);
  json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &eb);
  if(!a != !b)
    fail_msg("%.*s: %s by json_in, %s by jansson (%s)", (int)len, text,
             a ? "parsed" : "refused", b ? "parsed" : "refused",
             a ? eb.text : ea.text);
  if(!a) {
    if(strcmp(ea.text, eb.text) || ea.line != eb.line ||
       ea.column != eb.column || ea.position != eb.position)
      fail_msg("%.*s: error '%s' %d:%d, jansson '%s' %d:%d", (int)len, text,
               ea.text, ea.line, ea.column, eb.text, eb.line, eb.column);
    return false;
  }
  char *da = dump(a), *db = dump(b);
  if(strcmp(da, db) || !json_equal(a, b))
    fail_msg("%.*s:\n json_in %s\n jansson %s", (int)len, text, da, db);
  free(da);
  free(db);
  json_decref(a);
  json_decref(b);
  return true;
}

static bool same_s(const char *s)
{
  return same(s, strlen(s));
}

/* Parsed by the fast path itself (not handed to json_loadb). */
static void fast(const char *s)
{
  json_t *a = ch_findings_json_parse_fast(s, strlen(s));
  if(!a)
    fail_msg("%s: handed over", s);
  json_decref(a);
  assert_true(same_s(s));
}

static void test_valid(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "[]",
      "{}",
      " \t\r\n[ 1 , -2 , 0 , -0 , 3.5 , -0.25 , 1e3 , 1E-3 , 2.5e+2 ] \n",
      "{\"a\":true,\"b\":false,\"c\":null,\"d\":[[],{}],\"e\":{\"f\":[1]}}",
      "[9223372036854775807,-9223372036854775808]",
      "[\"\",\"plain\",\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]",
      "[\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00 x\"]",
      "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"]",
      /* an escaped key, then a value with escapes (both use the scratch
       * buffer) */
      "{\"k\\n1\":\"v\\t1\",\"k\\n2\":\"v\\t2\",\"k3\":[\"\\\"\"]}",
      "{\"\\u00e9\":1,\"\xc3\xa9x\":2}",
      "[0.1,123456789012345678e-5,1.7976931348623157e308]",
  };
  for(size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
    fast(ok[i]);
}

static void test_handed_over(void **state)
{
  (void)state;
  /* jansson refuses these: same error, line and column */
  static const char *const bad[] = {
      "",
      "   ",
      "1",
      "\"s\"",
      "null",
      "[",
      "[1,]",
      "[1 2]",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "{a:1}",
      "{\"a\":1,\"a\":2}",
      "{\"x\":{\"a\":1,\"b\":{},\"a\":[]}}",
      "[01]",
      "[-]",
      "[1.]",
      "[.5]",
      "[1e]",
      "[+1]",
      "[1e400]",
      "[9223372036854775808]",
      "[-9223372036854775809]",
      "[tru]",
      "[nul]",
      "[\"\\u0000\"]",
      "{\"\\u0000\":1}",
      "[\"\\ud800\"]",
      "[\"\\udc00\"]",
      "[\"\\ud800\\u0041\"]",
      "[\"\\x\"]",
      "[\"\\u12G4\"]",
      "[\"tab\there\"]",
      "[\"\xc3\"]",
      "[\"\xc0\xaf\"]",
      "[\"\xed\xa0\x80\"]",
      "[\"\xf4\x90\x80\x80\"]",
      "[\"\xff\"]",
      "[\"unterminated]",
      "[] x",
      "[]]",
      "\xef\xbb\xbf[]",
  };
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    assert_false(same_s(bad[i]));
  /* a NUL byte inside the buffer */
  assert_false(same("[1,\0 2]", 7));
  /* legal, but left to jansson: underflow, deep nesting */
  assert_true(same_s("[1e-400]"));
  char deep[2 * 600 + 1];
  memset(deep, '[', 600);
  memset(deep + 600, ']', 600);
  deep[1200] = '\0';
  assert_null(ch_findings_json_parse_fast(deep, 1200));
  assert_true(same_s(deep));
}

/* A body like bench_http_findings' (two findings, escapes, numbers). */
static const char body[] =
    "{\"Findings\":[{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"arn:certhub:"
    "acm:local:000000000000:certificate/1/expiry\",\"ProductArn\":\"arn:"
    "certhub:securityhub:local:000000000000:product/certhub/certhub\","
    "\"GeneratorId\":\"gen-1\",\"AwsAccountId\":\"000000000001\","
    "\"CreatedAt\":\"2026-08-01T00:00:00Z\",\"UpdatedAt\":\"2026-11-01T00:"
    "00:00.123Z\",\"Title\":\"Certificate \\\"host-1\\\" expires\","
    "\"Description\":\"line\\nnext \\u00e9t\xc3\xa9\",\"Types\":[\"Software "
    "and Configuration Checks/Certificate Expiry\"],\"Severity\":{\"Label\":"
    "\"HIGH\",\"Normalized\":70,\"Product\":7.5},\"Confidence\":-0,"
    "\"Resources\":[{\"Type\":\"Other\",\"Id\":\"x\",\"Tags\":{\"env\":"
    "\"prod\"}}],\"Sample\":true,\"Note\":null},{\"SchemaVersion\":"
    "\"2018-10-08\",\"Id\":\"b\",\"ProductFields\":{\"k/v\":\"\\/\"},"
    "\"Criticality\":1.5e1}]}";

static void test_mutations(void **state)
{
  (void)state;
  static const char pieces[][4] = {"\"",   "\\", "{",  "}", "[", "]",   ",",
                                   ":",    "0",  "-",  ".", "e", "\\u", "\xc3",
                                   "\x01", " ",  "\0", "1", "n", "t"};
  size_t n = sizeof(body) - 1, parsed = 0;
  char buf[sizeof(body) + 16];
  assert_true(same(body, n));
  json_t *j = ch_findings_json_parse_fast(body, n);
  assert_non_null(j);
  json_decref(j);
  uint32_t seed = 12345;
  for(int round = 0; round < 20000; round++) {
    seed = seed * 1103515245u + 12345u;
    size_t at = (seed >> 8) % n, len = n;
    memcpy(buf, body, n);
    switch((seed >> 4) % 4) {
    case 0: /* replace a byte */
      buf[at] = pieces[(seed >> 20) % 20][0];
      break;
    case 1: /* insert a piece */ {
      const char *pc = pieces[(seed >> 20) % 20];
      size_t pl = pc[0] ? strlen(pc) : 1;
      memmove(buf + at + pl, buf + at, n - at);
      memcpy(buf + at, pc, pl);
      len = n + pl;
      break;
    }
    case 2: /* delete a byte */
      memmove(buf + at, buf + at + 1, n - at - 1);
      len = n - 1;
      break;
    default: /* cut */
      len = at;
      break;
    }
    parsed += same(buf, len);
  }
  /* both kinds were exercised */
  assert_true(parsed > 1000 && parsed < 19000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_handed_over),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
