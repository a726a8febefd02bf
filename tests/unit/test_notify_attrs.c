/*
 * SNS MessageAttributes: every Publish rule refused with a message naming
 * the attribute (and its boundary accepted), the two input shapes, the
 * CLI's NAME=TYPE:VALUE form, the 256 KiB limit shared with the body, the
 * log (migration 14) with sealed topics, the attributes of certhub's own
 * event messages, and MessageAttributes-scope filter policies over the
 * stored shape (numbers, String.Array, exists, anything-but, prefix).
 */
#include <jansson.h>

#include "certhub/deliver_store.h"
#include "certhub/notify.h"
#include "certhub/notify_filter.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"
#include "notify/filter_hook.h"
#include "notify/proto.h"
#include "test_store_util.h"

/* Check json; on success the normalised text must be want (NULL: none). */
static void ok(const char *json, const char *want)
{
  char *out = NULL, *why = NULL;
  size_t size = 0;
  ch_err rc = certhub_msg_attrs_check(json, strlen(json), &out, &size, &why);
  if(rc)
    fail_msg("%s: %s", json, why ? why : "?");
  if(want)
    assert_string_equal(out, want);
  else
    assert_null(out);
  free(out);
  free(why);
}

/* json must be refused with rc and a message containing both parts. */
static void bad(const char *json, ch_err want, const char *part1,
                const char *part2)
{
  char *out = NULL, *why = NULL;
  ch_err rc = certhub_msg_attrs_check(json, strlen(json), &out, NULL, &why);
  if(rc != want)
    fail_msg("%s: rc %d, want %d (%s)", json, rc, want, why ? why : "-");
  assert_null(out);
  assert_non_null(why);
  if(!strstr(why, part1) || (part2 && !strstr(why, part2)))
    fail_msg("%s: '%s' lacks '%s' / '%s'", json, why, part1,
             part2 ? part2 : "");
  free(why);
}

/* One attribute {"n": {"DataType": type, "StringValue": value}}. */
static char *one(const char *name, const char *type, const char *key,
                 const char *value)
{
  json_t *o = json_pack("{s:{s:s, s:s}}", name, "DataType", type, key, value);
  char *t = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return t;
}

static void bad_one(const char *name, const char *type, const char *value,
                    const char *part)
{
  char *j = one(name, type,
                strcmp(type, "Binary") ? "StringValue" : "BinaryValue", value);
  char quoted[300];
  snprintf(quoted, sizeof(quoted), "'%.200s'", name);
  bad(j, CH_ERR_PARSE, quoted, part);
  free(j);
}

static void ok_one(const char *name, const char *type, const char *value)
{
  char *j = one(name, type,
                strcmp(type, "Binary") ? "StringValue" : "BinaryValue", value);
  char *out = NULL, *why = NULL;
  if(certhub_msg_attrs_check(j, strlen(j), &out, NULL, &why))
    fail_msg("%s: %s", j, why ? why : "?");
  assert_non_null(out);
  free(out);
  free(j);
}

static void test_names(void **state)
{
  (void)state;
  const char *why = NULL;
  char n256[258], n257[259];
  memset(n256, 'a', 256);
  n256[256] = '\0';
  memset(n257, 'a', 257);
  n257[257] = '\0';
  assert_int_equal(certhub_msg_attr_name_check(n256, &why), CH_OK);
  assert_int_equal(certhub_msg_attr_name_check("a.b-c_D9", &why), CH_OK);
  assert_int_equal(certhub_msg_attr_name_check("AWSx.y", &why), CH_OK);
  assert_int_equal(certhub_msg_attr_name_check(n257, &why), CH_ERR_PARSE);
  assert_non_null(strstr(why, "256"));
  assert_int_equal(certhub_msg_attr_name_check("", &why), CH_ERR_PARSE);
  assert_non_null(strstr(why, "empty"));
  static const struct {
    const char *name, *part;
  } refused[] = {
      {"a b", "only A-Z"},         {"a/b", "only A-Z"},
      {"caf\xc3\xa9", "only A-Z"}, {".a", "start or end"},
      {"a.", "start or end"},      {"a..b", "successive"},
      {"AWS.x", "reserved"},       {"aws.x", "reserved"},
      {"Amazon.x", "reserved"},    {"AMAZON.x", "reserved"},
  };
  for(size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    assert_int_equal(certhub_msg_attr_name_check(refused[i].name, &why),
                     CH_ERR_PARSE);
    if(!strstr(why, refused[i].part))
      fail_msg("%s: %s", refused[i].name, why);
    /* and through the whole check, naming the attribute */
    bad_one(refused[i].name, "String", "v", refused[i].part);
  }
}

static void test_values(void **state)
{
  (void)state;
  /* types */
  bad_one("t", "Strin", "v", "is not String, String.Array, Number or Binary");
  bad_one("t", "string", "v", "is not String");
  bad_one("t", "Number.float", "1", "is not String");
  bad("{\"t\":{\"StringValue\":\"v\"}}", CH_ERR_PARSE, "'t'", "DataType");
  bad("{\"t\":\"v\"}", CH_ERR_PARSE, "'t'", "expected an object");
  /* values */
  bad_one("s", "String", "", "missing or empty");
  bad("{\"s\":{\"DataType\":\"String\"}}", CH_ERR_PARSE, "'s'",
      "missing or empty");
  /* NUL (and invalid UTF-8) cannot even be read as JSON text */
  bad("{\"s\":{\"DataType\":\"String\",\"StringValue\":\"a\\u0000b\"}}",
      CH_ERR_PARSE, "invalid JSON", NULL);
  bad("{\"s\":{\"DataType\":\"String\",\"BinaryValue\":\"YQ==\"}}",
      CH_ERR_PARSE, "'s'", "takes StringValue");
  bad("{\"n\":{\"DataType\":\"Number\",\"StringValue\":14}}", CH_ERR_PARSE,
      "'n'", "must be a string");
  /* Number: syntax, precision, range */
  ok_one("n", "Number", "14");
  ok_one("n", "Number", "-2.5e3");
  ok_one("n", "Number", "+007");
  ok_one("n", "Number", "0");
  ok_one("n", "Number", "-0.000");
  ok_one("n", "Number", "12345678901234567890123456789012345678");
  ok_one("n", "Number", "1234567890123456789012345678901234567800000");
  ok_one("n", "Number", "0.00000000000000000000000000000000000000000001");
  ok_one("n", "Number", "1E-128");
  ok_one("n", "Number", "9.99E125");
  bad_one("n", "Number", "fourteen", "not a number");
  bad_one("n", "Number", "1.", "digits must follow '.'");
  bad_one("n", "Number", ".5", "not a number");
  bad_one("n", "Number", "1e", "exponent");
  bad_one("n", "Number", "0x10", "not a number");
  bad_one("n", "Number", "1 ", "not a number");
  bad_one("n", "Number", "NaN", "not a number");
  bad_one("n", "Number", "123456789012345678901234567890123456789",
          "38 significant digits");
  bad_one("n", "Number", "1.00000000000000000000000000000000000001",
          "38 significant digits");
  bad_one("n", "Number", "1E126", "out of range");
  bad_one("n", "Number", "-1E126", "out of range");
  bad_one("n", "Number", "0.9E-128", "out of range");
  bad_one("n", "Number", "1e99999999", "out of range");
  /* String.Array */
  ok_one("a", "String.Array", "[\"a\", 1, true, false, null]");
  ok_one("a", "String.Array", "[]");
  bad_one("a", "String.Array", "a,b", "not a JSON array");
  bad_one("a", "String.Array", "{\"a\":1}", "not a JSON array");
  bad_one("a", "String.Array", "[[1]]", "array elements must be");
  bad_one("a", "String.Array", "[{\"a\":1}]", "array elements must be");
  /* Binary */
  ok_one("b", "Binary", "aGVsbG8=");
  ok_one("b", "Binary", "AA==");
  bad_one("b", "Binary", "aGVsbG8", "not base64");
  bad_one("b", "Binary", "aGV sbG8=", "not base64");
  bad_one("b", "Binary", "a=GV", "not base64");
  bad_one("b", "Binary", "====", "not base64");
  bad("{\"b\":{\"DataType\":\"Binary\",\"StringValue\":\"aGVsbG8=\"}}",
      CH_ERR_PARSE, "'b'", "takes BinaryValue");
  /* the object */
  bad("[]", CH_ERR_PARSE, "not a JSON object", NULL);
  bad("{\"a\":", CH_ERR_PARSE, "invalid JSON", NULL);
  bad("{\"a\":{\"DataType\":\"String\",\"StringValue\":\"1\"},"
      "\"a\":{\"DataType\":\"String\",\"StringValue\":\"2\"}}",
      CH_ERR_PARSE, "invalid JSON", "duplicate");
  ok("{}", NULL);
}

static void test_count_and_shape(void **state)
{
  (void)state;
  json_t *o = json_object();
  for(int i = 0; i < 10; i++) {
    char n[8];
    snprintf(n, sizeof(n), "a%d", i);
    json_object_set_new(
        o, n,
        json_pack("{s:s,s:s}", "DataType", "String", "StringValue", "v"));
  }
  char *ten = json_dumps(o, JSON_COMPACT);
  char *out = NULL, *why = NULL;
  assert_int_equal(certhub_msg_attrs_check(ten, strlen(ten), &out, NULL, &why),
                   CH_OK);
  free(out);
  json_object_set_new(
      o, "a10",
      json_pack("{s:s,s:s}", "DataType", "String", "StringValue", "v"));
  char *eleven = json_dumps(o, JSON_COMPACT);
  bad(eleven, CH_ERR_TOOBIG, "11 given, at most 10", NULL);
  free(ten);
  free(eleven);
  json_decref(o);

  /* both shapes become the notification shape, keys sorted; the size is
   * name + type + value bytes (Binary: decoded) */
  const char *in = "{\"z\":{\"Type\":\"Number\",\"Value\":\"14\"},"
                   "\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":"
                   "\"aGVsbG8=\"},"
                   "\"a\":{\"DataType\":\"String\",\"StringValue\":\"x\"}}";
  size_t size = 0;
  assert_int_equal(certhub_msg_attrs_check(in, strlen(in), &out, &size, &why),
                   CH_OK);
  assert_string_equal(out, "{\"a\":{\"Type\":\"String\",\"Value\":\"x\"},"
                           "\"b\":{\"Type\":\"Binary\",\"Value\":"
                           "\"aGVsbG8=\"},"
                           "\"z\":{\"Type\":\"Number\",\"Value\":\"14\"}}");
  assert_int_equal(size, (1 + 6 + 1) + (1 + 6 + 5) + (1 + 6 + 2));
  free(out);
}

static void test_cli_form(void **state)
{
  (void)state;
  char *a = NULL, *why = NULL;
  assert_int_equal(certhub_msg_attrs_add_arg(&a, "severity=String:HIGH", &why),
                   CH_OK);
  assert_int_equal(certhub_msg_attrs_add_arg(&a, "days=Number:14", &why),
                   CH_OK);
  assert_int_equal(
      certhub_msg_attrs_add_arg(&a, "owners=String.Array:[\"a\",\"b\"]", &why),
      CH_OK);
  assert_int_equal(
      certhub_msg_attrs_add_arg(&a, "url=String:http://x:1/", &why),
      CH_OK); /* the value may hold ':' and '=' */
  assert_int_equal(certhub_msg_attrs_add_arg(&a, "blob=Binary:AA==", &why),
                   CH_OK);
  char *out = NULL;
  assert_int_equal(certhub_msg_attrs_check(a, strlen(a), &out, NULL, &why),
                   CH_OK);
  assert_non_null(strstr(out, "\"url\":{\"Type\":\"String\",\"Value\":"
                              "\"http://x:1/\"}"));
  assert_non_null(strstr(out, "\"blob\":{\"Type\":\"Binary\""));
  free(out);
  static const struct {
    const char *arg, *part;
  } refused[] = {
      {"severity=String:LOW", "'severity' is given twice"},
      {"nameonly", "use NAME=TYPE:VALUE"},
      {"=String:x", "use NAME=TYPE:VALUE"},
      {"n=:x", "use NAME=TYPE:VALUE"},
      {"n=String", "use NAME=TYPE:VALUE"},
      {"n=Number:abc", "'n': Number 'abc'"},
      {"x..y=String:v", "'x..y'"},
      {"caf\xe9=String:v", "only A-Z"}, /* not UTF-8: still named */
      {"v=String:caf\xe9", "not UTF-8"},
      {"e=String:", "'e': the StringValue is missing or empty"},
  };
  for(size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    char *before = strdup(a);
    why = NULL;
    assert_int_equal(certhub_msg_attrs_add_arg(&a, refused[i].arg, &why),
                     CH_ERR_PARSE);
    if(!why || !strstr(why, refused[i].part))
      fail_msg("%s: %s", refused[i].arg, why ? why : "-");
    assert_string_equal(a, before); /* unchanged */
    free(before);
    free(why);
  }
  /* merge with a file's object: a name in both is refused */
  why = NULL;
  assert_int_equal(
      certhub_msg_attrs_merge(&a,
                              "{\"days\":{\"DataType\":"
                              "\"Number\",\"StringValue\":\"1\"}}",
                              &why),
      CH_ERR_PARSE);
  assert_non_null(strstr(why, "'days' is given twice"));
  free(why);
  why = NULL;
  assert_int_equal(certhub_msg_attrs_merge(&a, "[1]", &why), CH_ERR_PARSE);
  free(why);
  char *b = NULL;
  assert_int_equal(certhub_msg_attrs_merge(&b,
                                           "{\"k\":{\"DataType\":\"String\","
                                           "\"StringValue\":\"v\"}}",
                                           &why),
                   CH_OK);
  assert_non_null(strstr(b, "\"k\""));
  free(b);
  free(a);
}

static ch_err on_msg(void *ctx, const certhub_message *m)
{
  char **attrs = ctx;
  if(!*attrs)
    *attrs = strdup(m->attributes ? m->attributes : "(none)");
  return CH_OK;
}

static void test_publish_and_log(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  char *got = NULL;
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  const char *attrs = "{\"severity\":{\"DataType\":\"String\","
                      "\"StringValue\":\"HIGH\"}}";
  assert_int_equal(
      certhub_topic_publish_attrs(s, "t", NULL, "m", 1, attrs, T_NOW, id),
      CH_OK);
  assert_int_equal(certhub_topic_messages(s, "t", 1, on_msg, &got), CH_OK);
  assert_string_equal(
      got, "{\"severity\":{\"Type\":\"String\",\"Value\":\"HIGH\"}}");
  free(got);
  got = NULL;
  /* without attributes the column is NULL */
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "m", 1, T_NOW + 1, id),
                   CH_OK);
  assert_int_equal(certhub_topic_messages(s, "t", 1, on_msg, &got), CH_OK);
  assert_string_equal(got, "(none)");
  free(got);
  got = NULL;
  t_query_eq(s, "SELECT count(*) FROM topic_messages WHERE attributes IS NULL",
             "1");
  /* an invalid attribute: the error names it, nothing is logged */
  assert_int_equal(
      certhub_topic_publish_attrs(s, "t", NULL, "m", 1,
                                  "{\"AWS.x\":{\"DataType\":\"String\","
                                  "\"StringValue\":\"v\"}}",
                                  T_NOW + 2, id),
      CH_ERR_PARSE);
  assert_non_null(strstr(certhub_store_errmsg(s), "'AWS.x'"));
  assert_string_equal(id, "");
  t_query_eq(s, "SELECT count(*) FROM topic_messages", "2");
  /* the 256 KiB limit counts the attributes: a body of 262144 - 12 bytes
   * takes an attribute of 12 counted bytes ("k" + "String" + 5), not 13 */
  size_t blen = CERTHUB_MESSAGE_MAX - 12;
  char *body = malloc(blen);
  memset(body, 'x', blen);
  const char *a12 = "{\"k\":{\"DataType\":\"String\",\"StringValue\":"
                    "\"12345\"}}";
  const char *a13 = "{\"k\":{\"DataType\":\"String\",\"StringValue\":"
                    "\"123456\"}}";
  assert_int_equal(certhub_topic_publish_attrs(s, "t", NULL, body, blen, a12,
                                               T_NOW + 3, id),
                   CH_OK);
  assert_int_equal(certhub_topic_publish_attrs(s, "t", NULL, body, blen, a13,
                                               T_NOW + 3, id),
                   CH_ERR_TOOBIG);
  assert_non_null(strstr(certhub_store_errmsg(s), "262144"));
  t_query_eq(s, "SELECT count(*) FROM topic_messages", "3");
  free(body);

  /* sealed topics keep the attributes in the clear, the body sealed */
  certhub_seal_key *k = NULL;
  uint8_t raw[32];
  memset(raw, 7, sizeof(raw));
  assert_int_equal(certhub_seal_key_from_bytes(raw, sizeof(raw), &k), CH_OK);
  assert_int_equal(certhub_topic_publish_sealed_attrs(
                       s, "t", NULL, "secret", 6, attrs, T_NOW + 4, k, id),
                   CH_OK);
  t_query_eq(
      s,
      "SELECT sealed || ',' || json_extract(attributes, '$.severity.Value')"
      " FROM topic_messages ORDER BY id DESC LIMIT 1",
      "1,HIGH");
  assert_int_equal(certhub_topic_messages_open(s, "t", 1, k, on_msg, &got),
                   CH_OK);
  assert_non_null(strstr(got, "HIGH"));
  free(got);
  got = NULL;
  /* invalid attributes on a sealed topic are refused the same way */
  assert_int_equal(certhub_topic_publish_sealed_attrs(s, "t", NULL, "secret",
                                                      6, "{\"a\":1}",
                                                      T_NOW + 5, k, id),
                   CH_ERR_PARSE);
  certhub_seal_key_free(k);

  certhub_store_close(s);
  tdir_remove(&d);
}

static ch_err on_due(void *ctx, const certhub_sns_delivery *d)
{
  char **got = ctx;
  *got = strdup(d->msg_attributes ? d->msg_attributes : "(none)");
  return CH_OK;
}

static void test_due_rows(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char id[CERTHUB_MESSAGE_ID_LEN + 1], arn[CERTHUB_SUB_ARN_MAX];
  char *got = NULL;
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(certhub_subscribe(s, "t", "file", "/dev/null", NULL, true,
                                     T_NOW, arn, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_topic_publish_attrs(s, "t", NULL, "m", 1,
                                  "{\"d\":{\"Type\":\"Number\",\"Value\":"
                                  "\"3\"}}",
                                  T_NOW + 1, id),
      CH_OK);
  assert_int_equal(certhub_notify_fanout(s, (T_NOW + 1) * 1000LL, NULL),
                   CH_OK);
  assert_int_equal(certhub_store_deliveries_due(s, (T_NOW + 2) * 1000LL, 0, 0,
                                                0, on_due, &got),
                   CH_OK);
  assert_string_equal(got, "{\"d\":{\"Type\":\"Number\",\"Value\":\"3\"}}");
  free(got);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A lookup standing in for the inventory. */
static ch_err fake_lookup(void *ctx, const char *arn, json_t **info)
{
  (void)ctx;
  (void)arn;
  *info = json_pack("{s:s, s:{s:s, s:s}}", "Owner", "team-web", "Tags",
                    "owner", "team-web", "env", "prod");
  return CH_OK;
}

static const char *val(json_t *o, const char *name, const char *type)
{
  json_t *a = json_object_get(o, name);
  const char *t = json_string_value(json_object_get(a, "Type"));
  if(!t || strcmp(t, type))
    return NULL;
  return json_string_value(json_object_get(a, "Value"));
}

static void test_own_messages(void **state)
{
  (void)state;
  char *out = NULL;
  const char *ev =
      "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":\"ACM Certificate "
      "Approaching Expiration\",\"source\":\"certhub.acm\",\"resources\":"
      "[\"arn:certhub:acm:local:000000000000:certificate/"
      "0123abcd-ef01-2345-6789-abcdef012345\"],\"detail\":{\"DaysToExpiry\":"
      "14,\"CommonName\":\"www.example.com\"}}";
  assert_int_equal(
      certhub_msg_attrs_from_event(ev, strlen(ev), fake_lookup, NULL, &out),
      CH_OK);
  assert_non_null(out);
  /* what it makes passes Publish's checks */
  char *norm = NULL, *why = NULL;
  assert_int_equal(
      certhub_msg_attrs_check(out, strlen(out), &norm, NULL, &why), CH_OK);
  assert_string_equal(norm, out);
  free(norm);
  json_t *o = json_loads(out, 0, NULL);
  assert_string_equal(val(o, "detail-type", "String"),
                      "ACM Certificate Approaching Expiration");
  assert_string_equal(val(o, "source", "String"), "certhub.acm");
  assert_string_equal(val(o, "certificate_id", "String"), "0123abcdef012345");
  assert_non_null(
      strstr(val(o, "certificate_arn", "String"), "certificate/0123abcd-"));
  assert_string_equal(val(o, "common_name", "String"), "www.example.com");
  assert_string_equal(val(o, "days_to_expiry", "Number"), "14");
  assert_string_equal(val(o, "owner", "String"), "team-web");
  assert_string_equal(val(o, "tags", "String.Array"),
                      "[\"owner=team-web\",\"env=prod\"]");
  json_decref(o);
  free(out);
  /* without a lookup: no owner, no tags */
  assert_int_equal(
      certhub_msg_attrs_from_event(ev, strlen(ev), NULL, NULL, &out), CH_OK);
  o = json_loads(out, 0, NULL);
  assert_null(json_object_get(o, "owner"));
  assert_null(json_object_get(o, "tags"));
  assert_string_equal(val(o, "days_to_expiry", "Number"), "14");
  json_decref(o);
  free(out);

  /* the digest: fewest days, the total count, the owners */
  const char *dig =
      "{\"detail-type\":\"Scheduled Event\",\"source\":\"certhub.acm\","
      "\"resources\":[],\"detail\":{\"certificates\":["
      "{\"DaysToExpiry\":9,\"Owner\":\"web\"},"
      "{\"DaysToExpiry\":2,\"Owner\":\"db\"},"
      "{\"DaysToExpiry\":5,\"Owner\":\"web\"},"
      "{\"DaysToExpiry\":7,\"Owner\":null}],\"count\":40,"
      "\"truncated\":true}}";
  assert_int_equal(
      certhub_msg_attrs_from_event(dig, strlen(dig), NULL, NULL, &out), CH_OK);
  o = json_loads(out, 0, NULL);
  assert_string_equal(val(o, "detail-type", "String"), "Scheduled Event");
  assert_string_equal(val(o, "days_to_expiry", "Number"), "2");
  assert_string_equal(val(o, "certificate_count", "Number"), "40");
  assert_string_equal(val(o, "owners", "String.Array"), "[\"web\",\"db\"]");
  assert_null(json_object_get(o, "certificate_arn"));
  json_decref(o);
  free(out);

  /* not an event (an InputTransformer's text, or JSON without
   * detail-type/detail): no attributes */
  assert_int_equal(certhub_msg_attrs_from_event("hello", 5, NULL, NULL, &out),
                   CH_OK);
  assert_null(out);
  assert_int_equal(
      certhub_msg_attrs_from_event("{\"a\":1}", 7, NULL, NULL, &out), CH_OK);
  assert_null(out);
  /* a value breaking a rule is left out, the rest kept */
  const char *odd = "{\"detail-type\":\"X\",\"detail\":{\"DaysToExpiry\":"
                    "1e300}}";
  assert_int_equal(
      certhub_msg_attrs_from_event(odd, strlen(odd), NULL, NULL, &out), CH_OK);
  o = json_loads(out, 0, NULL);
  assert_null(json_object_get(o, "days_to_expiry"));
  assert_string_equal(val(o, "detail-type", "String"), "X");
  json_decref(o);
  free(out);
}

/* The library's topic-target hook gives bus events their attributes
 * (lookup through the store: an unknown certificate adds no owner). */
static void test_hook(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char *detail = NULL, *got = NULL;
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  const char *ev =
      "{\"detail-type\":\"ACM Certificate Expired\",\"source\":"
      "\"certhub.acm\",\"resources\":[\"arn:certhub:acm:local:000000000000:"
      "certificate/0123abcd-ef01-2345-6789-abcdef012345\"],\"detail\":{"
      "\"CommonName\":\"old.example.com\"}}";
  assert_int_equal(
      certhub_topic_publish_hook(s, "t", NULL, ev, strlen(ev), &detail),
      CH_OK);
  free(detail);
  assert_int_equal(certhub_topic_messages(s, "t", 1, on_msg, &got), CH_OK);
  json_t *o = json_loads(got, 0, NULL);
  assert_string_equal(val(o, "detail-type", "String"),
                      "ACM Certificate Expired");
  assert_string_equal(val(o, "certificate_id", "String"), "0123abcdef012345");
  assert_null(json_object_get(o, "owner"));
  assert_null(json_object_get(o, "days_to_expiry"));
  json_decref(o);
  free(got);
  got = NULL;
  /* a text message: none */
  assert_int_equal(
      certhub_topic_publish_hook(s, "t", NULL, "plain", 5, &detail), CH_OK);
  free(detail);
  assert_int_equal(certhub_topic_messages(s, "t", 1, on_msg, &got), CH_OK);
  assert_string_equal(got, "(none)");
  free(got);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* policy (MessageAttributes scope) against stored attributes */
static bool accepts(const char *policy, const char *attrs)
{
  certhub_filter_policy *p = NULL;
  char *why = NULL;
  bool yes = false;
  if(certhub_filter_policy_compile(policy, CERTHUB_FILTER_ATTRIBUTES, &p,
                                   &why))
    fail_msg("%s: %s", policy, why ? why : "?");
  char *norm = NULL;
  if(certhub_msg_attrs_check(attrs, strlen(attrs), &norm, NULL, &why))
    fail_msg("%s: %s", attrs, why ? why : "?");
  if(certhub_filter_policy_accepts(p, norm, "body", 4, &yes, &why))
    fail_msg("%s / %s: %s", policy, norm ? norm : "-", why ? why : "?");
  free(norm);
  certhub_filter_policy_free(p);
  return yes;
}

static void test_filter_on_stored(void **state)
{
  (void)state;
  const char *a =
      "{\"severity\":{\"DataType\":\"String\",\"StringValue\":\"HIGH\"},"
      "\"days\":{\"DataType\":\"Number\",\"StringValue\":\"+014\"},"
      "\"price\":{\"DataType\":\"Number\",\"StringValue\":\"3.015e2\"},"
      "\"owners\":{\"DataType\":\"String.Array\",\"StringValue\":"
      "\"[\\\"web\\\",\\\"db\\\"]\"},"
      "\"blob\":{\"DataType\":\"Binary\",\"BinaryValue\":\"aGVsbG8=\"}}";
  assert_true(accepts("{\"severity\":[\"HIGH\"]}", a));
  assert_false(accepts("{\"severity\":[\"LOW\"]}", a));
  assert_true(accepts("{\"severity\":[{\"prefix\":\"HI\"}]}", a));
  assert_true(accepts("{\"severity\":[{\"anything-but\":\"LOW\"}]}", a));
  assert_false(accepts("{\"severity\":[{\"anything-but\":\"HIGH\"}]}", a));
  /* numbers compare by value, whatever their spelling */
  assert_true(accepts("{\"days\":[14]}", a));
  assert_true(accepts("{\"days\":[{\"numeric\":[\"<=\",14]}]}", a));
  assert_false(accepts("{\"days\":[{\"numeric\":[\"<\",14]}]}", a));
  assert_true(accepts("{\"price\":[{\"numeric\":[\"=\",301.5]}]}", a));
  assert_false(accepts("{\"days\":[\"14\"]}", a)); /* a string is not 14 */
  /* String.Array: any element */
  assert_true(accepts("{\"owners\":[\"db\"]}", a));
  assert_false(accepts("{\"owners\":[\"ops\"]}", a));
  assert_true(accepts("{\"owners\":[{\"anything-but\":\"web\"}]}", a));
  /* exists */
  assert_true(accepts("{\"severity\":[{\"exists\":true}]}", a));
  assert_true(accepts("{\"team\":[{\"exists\":false}]}", a));
  assert_false(accepts("{\"severity\":[{\"exists\":false}]}", a));
  /* Binary is not compared (as SNS) */
  assert_false(accepts("{\"blob\":[\"aGVsbG8=\"]}", a));
  /* a message without attributes matches only absence */
  assert_false(accepts("{\"severity\":[\"HIGH\"]}", "{}"));
  assert_false(accepts("{\"severity\":[{\"anything-but\":\"LOW\"}]}", "{}"));
  assert_true(accepts("{\"severity\":[{\"exists\":false}]}", "{}"));
}

/* The engine's hook builds a message's attributes event once for its
 * deliveries (cached by the attributes text): answers must not leak from
 * one message to the next. */
static void test_hook_cache(void **state)
{
  (void)state;
  ch_notify_filter_cache *c = NULL;
  char problem[512];
  assert_int_equal(ch_notify_filter_cache_new(&c), CH_OK);
  ch_notify_sub high = {
      .arn = "arn:certhub:sns:local:0:t:1",
      .attributes =
          "{\"FilterPolicy\":\"{\\\"severity\\\":[\\\"HIGH\\\"]}\"}"};
  ch_notify_sub soon = {
      .arn = "arn:certhub:sns:local:0:t:2",
      .attributes =
          "{\"FilterPolicy\":{\"days\":[{\"numeric\":[\"<=\",7]}]}}"};
  ch_notify_sub body = {
      .arn = "arn:certhub:sns:local:0:t:3",
      .attributes = "{\"FilterPolicy\":{\"a\":[1]},\"FilterPolicyScope\":"
                    "\"MessageBody\"}"};
  ch_notify_msg m1 = {.message = "{\"a\":1}",
                      .len = 7,
                      .attributes_json =
                          "{\"severity\":{\"Type\":\"String\",\"Value\":"
                          "\"HIGH\"},\"days\":{\"Type\":\"Number\",\"Value\":"
                          "\"30\"}}"};
  ch_notify_msg m2 = {.message = "{\"a\":2}",
                      .len = 7,
                      .attributes_json =
                          "{\"severity\":{\"Type\":\"String\",\"Value\":"
                          "\"LOW\"},\"days\":{\"Type\":\"Number\",\"Value\":"
                          "\"3\"}}"};
  ch_notify_msg bad = {.message = "x",
                       .len = 1,
                       .attributes_json =
                           "{\"severity\":{\"Value\":\"HIGH\"}}"};
  ch_notify_msg none = {.message = "{\"a\":1}", .len = 7};
  for(int round = 0; round < 2; round++) {
    assert_true(ch_notify_filter_accepts(c, &high, &m1));
    assert_false(ch_notify_filter_accepts(c, &soon, &m1));
    assert_true(ch_notify_filter_accepts(c, &body, &m1));
    assert_false(ch_notify_filter_accepts(c, &high, &m2));
    assert_true(ch_notify_filter_accepts(c, &soon, &m2));
    assert_false(ch_notify_filter_accepts(c, &body, &m2));
    assert_false(ch_notify_filter_accepts(c, &high, &bad));
    ch_notify_filter_problem(c, problem, sizeof(problem));
    assert_non_null(strstr(problem, "has no Type"));
    assert_false(ch_notify_filter_accepts(c, &soon, &bad)); /* cached */
    ch_notify_filter_problem(c, problem, sizeof(problem));
    assert_non_null(strstr(problem, "has no Type"));
    assert_false(ch_notify_filter_accepts(c, &high, &none));
    assert_false(ch_notify_filter_accepts(c, &soon, &none));
    ch_notify_filter_problem(c, problem, sizeof(problem));
    assert_string_equal(problem, "");
  }
  ch_notify_filter_cache_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_count_and_shape),
      cmocka_unit_test(test_cli_form),
      cmocka_unit_test(test_publish_and_log),
      cmocka_unit_test(test_due_rows),
      cmocka_unit_test(test_own_messages),
      cmocka_unit_test(test_hook),
      cmocka_unit_test(test_filter_on_stored),
      cmocka_unit_test(test_hook_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
