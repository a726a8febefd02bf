/*
 * lib/http without a socket: the route matcher (captures, rest captures,
 * percent-decoding, 404 against 405, HEAD), scopes, token hashing, and
 * tokens and handlers against a real SQLite store (create, verify,
 * expired, revoked; the import handler's request parsing and answers).
 */
#include <jansson.h>

#include "certhub/findings.h"
#include "http/http_int.h"
#include "test_store_util.h"

static char caps[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX];

static void test_match(void **state)
{
  (void)state;
  size_t n = 9;
  assert_true(ch_http_route_match("/healthz", "/healthz", caps, &n));
  assert_int_equal(n, 0);
  assert_false(ch_http_route_match("/healthz", "/healthz/", caps, &n));
  assert_false(ch_http_route_match("/healthz", "/health", caps, &n));
  assert_false(ch_http_route_match("/v1/events", "/v1/events/x", caps, &n));
  assert_true(
      ch_http_route_match("/v1/events/{id}", "/v1/events/abc-1", caps, &n));
  assert_int_equal(n, 1);
  assert_string_equal(caps[0], "abc-1");
  /* one segment only, and never empty */
  assert_false(
      ch_http_route_match("/v1/events/{id}", "/v1/events/a/b", caps, &n));
  assert_false(
      ch_http_route_match("/v1/events/{id}", "/v1/events/", caps, &n));
  /* rest capture keeps slashes (finding Ids are ARNs) */
  assert_true(ch_http_route_match(
      "/v1/findings/{id*}", "/v1/findings/arn:x:y/cert/1/expiry", caps, &n));
  assert_string_equal(caps[0], "arn:x:y/cert/1/expiry");
  /* percent-decoding; a bad escape stays literal; %00 is refused */
  assert_true(ch_http_route_match("/a/{x}/{y}", "/a/b%2Fc/%41%zz", caps, &n));
  assert_int_equal(n, 2);
  assert_string_equal(caps[0], "b/c");
  assert_string_equal(caps[1], "A%zz");
  assert_false(ch_http_route_match("/a/{x}", "/a/b%00c", caps, &n));
  /* too long a segment is no match rather than a cut value */
  char *lng = malloc(CH_HTTP_CAP_MAX + 16);
  assert_non_null(lng);
  memcpy(lng, "/a/", 3);
  memset(lng + 3, 'x', CH_HTTP_CAP_MAX + 4);
  lng[CH_HTTP_CAP_MAX + 7] = '\0';
  assert_false(ch_http_route_match("/a/{x}", lng, caps, &n));
  free(lng);
}

static void h_dummy(ch_http_req *rq, ch_http_resp *rs)
{
  (void)rq;
  ch_http_error(rs, 200, "x", "y");
}

static void test_find(void **state)
{
  (void)state;
  static const ch_http_route table[] = {
      {"GET", "/v1/things", CERTHUB_SCOPE_READ, 0, h_dummy},
      {"POST", "/v1/things", CERTHUB_SCOPE_FINDINGS_WRITE, 0, h_dummy},
      {"GET", "/v1/things/{id}", CERTHUB_SCOPE_READ, 0, h_dummy},
  };
  const ch_http_route *r = NULL;
  size_t n = 0;
  char allow[64];
  assert_int_equal(ch_http_route_find(table, 3, "POST", "/v1/things", &r, caps,
                                      &n, allow, sizeof(allow)),
                   CH_OK);
  assert_ptr_equal(r, &table[1]);
  assert_int_equal(ch_http_route_find(table, 3, "HEAD", "/v1/things/7", &r,
                                      caps, &n, allow, sizeof(allow)),
                   CH_OK);
  assert_ptr_equal(r, &table[2]);
  assert_string_equal(caps[0], "7");
  assert_int_equal(ch_http_route_find(table, 3, "DELETE", "/v1/things", &r,
                                      caps, &n, allow, sizeof(allow)),
                   CH_ERR_UNSUPPORTED);
  assert_string_equal(allow, "GET, POST");
  assert_null(r);
  assert_int_equal(ch_http_route_find(table, 3, "GET", "/v1/other", &r, caps,
                                      &n, allow, sizeof(allow)),
                   CH_ERR_NOTFOUND);
  /* the real table: every route has a handler and a known method */
  for(size_t i = 0; i < ch_http_n_routes; i++) {
    assert_non_null(ch_http_routes[i].fn);
    assert_true(!strcmp(ch_http_routes[i].method, "GET") ||
                !strcmp(ch_http_routes[i].method, "POST"));
  }
}

static void test_scopes(void **state)
{
  (void)state;
  unsigned b = 0;
  char text[64];
  assert_true(ch_http_scope_ok(0, 0));
  assert_false(ch_http_scope_ok(0, CERTHUB_SCOPE_READ));
  assert_true(ch_http_scope_ok(CERTHUB_SCOPE_READ, CERTHUB_SCOPE_READ));
  assert_false(
      ch_http_scope_ok(CERTHUB_SCOPE_READ, CERTHUB_SCOPE_FINDINGS_WRITE));
  assert_false(
      ch_http_scope_ok(CERTHUB_SCOPE_FINDINGS_WRITE, CERTHUB_SCOPE_READ));
  assert_true(ch_http_scope_ok(CERTHUB_SCOPE_ADMIN, CERTHUB_SCOPE_READ));
  assert_true(
      ch_http_scope_ok(CERTHUB_SCOPE_ADMIN, CERTHUB_SCOPE_FINDINGS_WRITE));
  assert_int_equal(certhub_scope_parse("findings:write", &b), CH_OK);
  assert_int_equal(b, CERTHUB_SCOPE_FINDINGS_WRITE);
  assert_int_equal(certhub_scope_parse("write", &b), CH_ERR_PARSE);
  assert_int_equal(certhub_scope_parse("Read", &b), CH_ERR_PARSE);
  certhub_scopes_text(CERTHUB_SCOPE_READ | CERTHUB_SCOPE_ADMIN, text,
                      sizeof(text));
  assert_string_equal(text, "read admin");
  assert_int_equal(certhub_scopes_from_text("admin  read future:scope"),
                   CERTHUB_SCOPE_ADMIN | CERTHUB_SCOPE_READ);
  assert_int_equal(certhub_scopes_from_text(""), 0);
}

static void test_hash(void **state)
{
  (void)state;
  char hex[65];
  /* FIPS 180-2 test vector */
  certhub_token_hash("abc", 3, hex);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  certhub_token_hash("", 0, hex);
  assert_string_equal(
      hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

typedef struct listed {
  size_t n;
  char hash[65];
  char prefix[16];
} listed;

static ch_err on_token(void *ctx, const certhub_token_row *t)
{
  listed *l = ctx;
  l->n++;
  snprintf(l->hash, sizeof(l->hash), "%s", t->hash);
  snprintf(l->prefix, sizeof(l->prefix), "%s", t->prefix);
  return CH_OK;
}

static void test_tokens(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char *sec = NULL, *sec2 = NULL, name[CERTHUB_TOKEN_NAME_MAX + 1], hex[65];
  unsigned sc = 0;
  const char *why = NULL;
  assert_int_equal(
      certhub_token_create(s, "ci",
                           CERTHUB_SCOPE_READ | CERTHUB_SCOPE_FINDINGS_WRITE,
                           T_NOW + T_DAY, T_NOW, &sec),
      CH_OK);
  assert_int_equal(strlen(sec), CERTHUB_TOKEN_LEN);
  assert_memory_equal(sec, "chk_", 4);
  assert_int_equal(
      certhub_token_create(s, "ci", CERTHUB_SCOPE_READ, 0, T_NOW, &sec2),
      CH_ERR_EXISTS);
  assert_null(sec2);
  assert_int_equal(
      certhub_token_create(s, "b/d", CERTHUB_SCOPE_READ, 0, T_NOW, &sec2),
      CH_ERR_USAGE);
  assert_int_equal(certhub_token_create(s, "z", 0, 0, T_NOW, &sec2),
                   CH_ERR_USAGE);
  assert_int_equal(
      certhub_token_create(s, "z", CERTHUB_SCOPE_READ, T_NOW, T_NOW, &sec2),
      CH_ERR_USAGE);
  assert_int_equal(
      certhub_token_create(s, "other", CERTHUB_SCOPE_READ, 0, T_NOW, &sec2),
      CH_OK);
  assert_string_not_equal(sec, sec2);
  /* the store has the hash and a prefix, never the secret */
  listed l = {0};
  assert_int_equal(certhub_store_token_list(s, on_token, &l), CH_OK);
  assert_int_equal(l.n, 2);
  certhub_token_hash(sec2, strlen(sec2), hex);
  assert_string_equal(l.hash, hex); /* "other" sorts last */
  assert_memory_equal(l.prefix, sec2, 12);

  assert_int_equal(
      certhub_token_verify(s, sec, strlen(sec), T_NOW, &sc, name, &why),
      CH_OK);
  assert_int_equal(sc, CERTHUB_SCOPE_READ | CERTHUB_SCOPE_FINDINGS_WRITE);
  assert_string_equal(name, "ci");
  /* one character changed */
  char keep = sec[10];
  sec[10] = keep == 'A' ? 'B' : 'A';
  assert_int_equal(
      certhub_token_verify(s, sec, strlen(sec), T_NOW, &sc, name, &why),
      CH_ERR_NOTFOUND);
  assert_int_equal(sc, 0);
  sec[10] = keep;
  /* truncated, wrong prefix */
  assert_int_equal(
      certhub_token_verify(s, sec, strlen(sec) - 1, T_NOW, &sc, name, &why),
      CH_ERR_NOTFOUND);
  assert_non_null(strstr(why, "malformed"));
  sec[0] = 'x';
  assert_int_equal(
      certhub_token_verify(s, sec, strlen(sec), T_NOW, &sc, name, &why),
      CH_ERR_NOTFOUND);
  sec[0] = 'c';
  /* expired at its instant */
  assert_int_equal(certhub_token_verify(s, sec, strlen(sec), T_NOW + T_DAY,
                                        &sc, name, &why),
                   CH_ERR_NOTFOUND);
  assert_string_equal(why, "token expired");
  /* revoked */
  assert_int_equal(certhub_store_token_revoke(s, "ci"), CH_OK);
  assert_int_equal(certhub_store_token_revoke(s, "ci"), CH_ERR_NOTFOUND);
  assert_int_equal(
      certhub_token_verify(s, sec, strlen(sec), T_NOW, &sc, name, &why),
      CH_ERR_NOTFOUND);
  free(sec);
  free(sec2);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Run the real route for (method, path) with body against s. */
static json_t *call(certhub_store *s, const char *method, const char *path,
                    const char *body, unsigned *status)
{
  const ch_http_route *r = NULL;
  size_t n = 0;
  ch_http_req rq = {.method = method,
                    .path = path,
                    .body = body,
                    .body_len = body ? strlen(body) : 0,
                    .store = s,
                    .now = T_NOW,
                    .scopes = CERTHUB_SCOPE_ADMIN};
  ch_http_resp rs = {0};
  assert_int_equal(ch_http_route_find(ch_http_routes, ch_http_n_routes, method,
                                      path, &r, caps, &n, NULL, 0),
                   CH_OK);
  rq.n_caps = n;
  for(size_t i = 0; i < n; i++)
    rq.caps[i] = caps[i];
  ch_http_dispatch(r, &rq, &rs);
  *status = rs.status;
  json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
  free(rs.body);
  assert_non_null(j); /* every answer is JSON */
  return j;
}

static const char *err_code(json_t *j)
{
  return json_string_value(
      json_object_get(json_object_get(j, "error"), "code"));
}

#define FINDING(ID, TITLE)                                                    \
  "{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"" ID "\","                      \
  "\"ProductArn\":\"arn:certhub:securityhub:local:000000000000:product/"      \
  "certhub/certhub\",\"GeneratorId\":\"g\",\"AwsAccountId\":"                 \
  "\"000000000000\",\"CreatedAt\":\"2026-11-20T00:00:00Z\",\"UpdatedAt\":"    \
  "\"2026-11-21T00:00:00Z\",\"Title\":\"" TITLE "\",\"Description\":\"d\","   \
  "\"Types\":[\"Software and Configuration Checks/Vulnerabilities\"],"        \
  "\"Severity\":{\"Label\":\"LOW\"},\"Resources\":[{\"Type\":\"Other\","      \
  "\"Id\":\"r1\"}]}"

static void test_import_handler(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  unsigned st = 0;
  json_t *j;

  j = call(s, "POST", "/v1/findings/import", "{\"Findings\": [", &st);
  assert_int_equal(st, 400);
  assert_string_equal(err_code(j), "InvalidJson");
  json_decref(j);
  j = call(s, "POST", "/v1/findings/import", "\"text\"", &st);
  assert_int_equal(st, 400);
  json_decref(j);
  j = call(s, "POST", "/v1/findings/import", "{\"Other\": []}", &st);
  assert_int_equal(st, 400);
  json_decref(j);
  j = call(s, "POST", "/v1/findings/import", NULL, &st);
  assert_int_equal(st, 400);
  json_decref(j);

  j = call(s, "POST", "/v1/findings/import",
           "{\"Findings\": [" FINDING("a", "A") "," FINDING("b", "") ", 7]}",
           &st);
  assert_int_equal(st, 200);
  assert_int_equal(json_integer_value(json_object_get(j, "SuccessCount")), 1);
  assert_int_equal(json_integer_value(json_object_get(j, "FailedCount")), 2);
  json_t *ff = json_object_get(j, "FailedFindings");
  assert_int_equal(json_array_size(ff), 2);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(ff, 0), "Id")), "b");
  json_decref(j);
  /* an array works as well */
  j = call(s, "POST", "/v1/findings/import", "[" FINDING("c", "C") "]", &st);
  assert_int_equal(st, 200);
  assert_int_equal(json_integer_value(json_object_get(j, "SuccessCount")), 1);
  json_decref(j);

  j = call(s, "GET", "/v1/findings/a", NULL, &st);
  assert_int_equal(st, 200);
  assert_string_equal(json_string_value(json_object_get(j, "Title")), "A");
  json_decref(j);
  j = call(s, "GET", "/v1/findings/b", NULL, &st);
  assert_int_equal(st, 404);
  assert_string_equal(err_code(j), "NotFound");
  json_decref(j);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match),  cmocka_unit_test(test_find),
      cmocka_unit_test(test_scopes), cmocka_unit_test(test_hash),
      cmocka_unit_test(test_tokens), cmocka_unit_test(test_import_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
