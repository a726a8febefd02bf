/*
 * GetFindings, BatchUpdateFindings, insights and retention over JSON,
 * against a real SQLite store. The filter cases are data:
 * tests/data/findings_filters/{findings,cases}.json.
 */
#include <jansson.h>

#include "certhub/findings.h"
#include "certhub/findings_query.h"
#include "certhub/store_hub.h"
#include "findings/findings_int.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"

static json_t *load_data(const char *name)
{
  char path[1024];
  const char *dir = getenv("CERTHUB_TEST_DATA");
  snprintf(path, sizeof(path), "%s/findings_filters/%s",
           dir ? dir : "tests/data", name);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if(!j)
    fail_msg("%s: %s", path, e.text);
  return j;
}

static void import_json(certhub_store *s, json_t *arr)
{
  certhub_import_result r;
  char *t = json_dumps(arr, JSON_COMPACT);
  assert_int_equal(certhub_findings_import(s, t, strlen(t), T_NOW, &r), CH_OK);
  if(r.failed)
    fail_msg("import: %s", r.failures[0].message);
  certhub_import_result_free(&r);
  free(t);
}

static certhub_store *fixture(tdir *d)
{
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  tdir_make(d);
  certhub_store *s = t_open(d->db);
  json_t *fs = load_data("findings.json");
  import_json(s, fs);
  json_decref(fs);
  return s;
}

/* Run req; rc expected; the response parsed (NULL on error). */
static json_t *query(certhub_store *s, const char *req, ch_err want)
{
  char *out = NULL;
  size_t n = 0;
  ch_err rc = certhub_findings_query_json(s, req, strlen(req), &out, &n);
  if(rc != want)
    fail_msg("request %s: rc %d (%s), want %d", req, rc,
             certhub_store_errmsg(s), want);
  if(rc) {
    assert_null(out);
    return NULL;
  }
  assert_int_equal(strlen(out), n);
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  free(out);
  return o;
}

/* "id id id" of the response's Findings. */
static void ids_of(json_t *resp, char *buf, size_t len)
{
  size_t i;
  json_t *f;
  buf[0] = '\0';
  json_array_foreach(json_object_get(resp, "Findings"), i, f)
  {
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s", n ? " " : "",
             json_string_value(json_object_get(f, "Id")));
  }
}

static void test_filter_cases(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  json_t *cases = load_data("cases.json");
  size_t i, n_ok = 0;
  json_t *c;
  json_array_foreach(json_object_get(cases, "cases"), i, c)
  {
    char *req = json_dumps(json_object_get(c, "request"), JSON_COMPACT);
    char want[512] = "", got[512];
    size_t j;
    json_t *id;
    json_array_foreach(json_object_get(c, "ids"), j, id)
    {
      size_t n = strlen(want);
      snprintf(want + n, sizeof(want) - n, "%s%s", n ? " " : "",
               json_string_value(id));
    }
    json_t *resp = query(s, req, CH_OK);
    ids_of(resp, got, sizeof(got));
    if(strcmp(want, got))
      fail_msg("case '%s': got [%s], want [%s]",
               json_string_value(json_object_get(c, "name")), got, want);
    json_decref(resp);
    free(req);
    n_ok++;
  }
  assert_true(n_ok >= 40);
  json_array_foreach(json_object_get(cases, "errors"), i, c)
  {
    char *req = json_dumps(json_object_get(c, "request"), JSON_COMPACT);
    char *out = NULL;
    size_t n = 0;
    ch_err rc = certhub_findings_query_json(s, req, strlen(req), &out, &n);
    const char *want = json_string_value(json_object_get(c, "error"));
    if(rc != CH_ERR_USAGE || !strstr(certhub_store_errmsg(s), want))
      fail_msg("error case '%s': rc %d, message '%s', want '%s'",
               json_string_value(json_object_get(c, "name")), rc,
               certhub_store_errmsg(s), want);
    assert_null(out);
    free(req);
  }
  json_decref(cases);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_malformed(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  char *out = NULL;
  size_t n;
  assert_int_equal(
      certhub_findings_query_json(s, "{\"Filters\":", 11, &out, &n),
      CH_ERR_PARSE);
  assert_non_null(strstr(certhub_store_errmsg(s), "invalid JSON"));
  assert_int_equal(certhub_findings_query_json(s, "[]", 2, &out, &n),
                   CH_ERR_PARSE);
  assert_int_equal(certhub_findings_query_json(s, "{}{}", 4, &out, &n),
                   CH_ERR_PARSE);
  size_t big = 2 * 1024 * 1024;
  char *huge = malloc(big);
  memset(huge, ' ', big);
  huge[0] = '{';
  huge[big - 1] = '}';
  assert_int_equal(certhub_findings_query_json(s, huge, big, &out, &n),
                   CH_ERR_TOOBIG);
  assert_int_equal(certhub_findings_insight_json(s, huge, big, &out, &n),
                   CH_ERR_TOOBIG);
  free(huge);
  /* Duplicate keys would make the filter ambiguous. */
  const char *dup = "{\"MaxResults\":1,\"MaxResults\":2}";
  assert_int_equal(certhub_findings_query_json(s, dup, strlen(dup), &out, &n),
                   CH_ERR_PARSE);
  /* A NUL inside a value cannot be matched by C strings: refused. */
  const char *nul = "{\"Filters\":{\"Title\":[{\"Value\":\"a\\u0000b\","
                    "\"Comparison\":\"EQUALS\"}]}}";
  assert_int_equal(certhub_findings_query_json(s, nul, strlen(nul), &out, &n),
                   CH_ERR_PARSE);
  assert_null(out);
  certhub_store_close(s);
  tdir_remove(&d);
}

static json_t *numbered(int i, const char *updated)
{
  char id[32];
  snprintf(id, sizeof(id), "p-%04d", i);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s],"
                   " s:{s:s}, s:[{s:s, s:s}]}",
                   "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
                   "GeneratorId", "gen", "AwsAccountId", "000000000000",
                   "CreatedAt", "2026-11-01T00:00:00Z", "UpdatedAt", updated,
                   "Title", "Paged", "Description", "d", "Types",
                   "Software and Configuration Checks/X", "Severity", "Label",
                   i % 2 ? "LOW" : "HIGH", "Resources", "Type", "Other", "Id",
                   "r");
}

/* 250 findings, many with one UpdatedAt (ties broken by Id), paged by 100
 * while newer findings arrive: every original finding exactly once. */
static void test_paging(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  for(int b = 0; b < 5; b++) {
    json_t *arr = json_array();
    for(int i = b * 50; i < b * 50 + 50; i++) {
      char upd[40];
      snprintf(upd, sizeof(upd), "2026-11-%02dT00:00:00Z", 1 + i / 20);
      json_array_append_new(arr, numbered(i, upd));
    }
    import_json(s, arr);
    json_decref(arr);
  }
  bool seen[250] = {0};
  char *token = NULL;
  int pages = 0, total = 0, extra = 1000;
  do {
    char req[20000];
    if(token)
      snprintf(req, sizeof(req),
               "{\"Filters\":{\"Title\":[{\"Value\":\"Paged\",\"Comparison\":"
               "\"EQUALS\"}]},\"NextToken\":\"%s\"}",
               token);
    else
      snprintf(req, sizeof(req),
               "{\"Filters\":{\"Title\":[{\"Value\":\"Paged\",\"Comparison\":"
               "\"EQUALS\"}]}}");
    json_t *resp = query(s, req, CH_OK);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(resp, "Findings"), i, f)
    {
      int k = atoi(json_string_value(json_object_get(f, "Id")) + 2);
      assert_true(k >= 0 && k < 250);
      assert_false(seen[k]);
      seen[k] = true;
      total++;
    }
    free(token);
    token = NULL;
    json_t *nt = json_object_get(resp, "NextToken");
    if(nt)
      token = strdup(json_string_value(nt));
    json_decref(resp);
    pages++;
    /* A newer finding arrives between pages: it sorts first (UpdatedAt
     * descending), so later pages must not shift. */
    json_t *arr = json_array();
    json_array_append_new(arr, numbered(extra++, "2026-11-30T00:00:00Z"));
    import_json(s, arr);
    json_decref(arr);
  } while(token && pages < 10);
  assert_int_equal(pages, 3);
  assert_int_equal(total, 250);

  /* A token belongs to its query: another filter, sort or an edited token
   * is refused. */
  json_t *resp = query(s, "{\"MaxResults\":1}", CH_OK);
  const char *t = json_string_value(json_object_get(resp, "NextToken"));
  assert_non_null(t);
  char req[4096];
  snprintf(req, sizeof(req),
           "{\"MaxResults\":1,\"SortCriteria\":[{\"Field\":\"Title\"}],"
           "\"NextToken\":\"%s\"}",
           t);
  assert_null(query(s, req, CH_ERR_USAGE));
  assert_non_null(strstr(certhub_store_errmsg(s), "NextToken"));
  snprintf(req, sizeof(req), "{\"MaxResults\":1,\"NextToken\":\"%s\"}", t);
  json_t *ok = query(s, req, CH_OK);
  assert_int_equal(json_array_size(json_object_get(ok, "Findings")), 1);
  json_decref(ok);
  char *edited = strdup(t);
  edited[strlen(edited) / 2] = edited[strlen(edited) / 2] == '7' ? '6' : '7';
  snprintf(req, sizeof(req), "{\"MaxResults\":1,\"NextToken\":\"%s\"}",
           edited);
  assert_null(query(s, req, CH_ERR_USAGE));
  snprintf(req, sizeof(req), "{\"MaxResults\":1,\"NextToken\":\"%.*s\"}",
           (int)strlen(t) - 2, t);
  assert_null(query(s, req, CH_ERR_USAGE));
  free(edited);
  json_decref(resp);
  /* Sorted by a nullable key (Confidence: absent everywhere) pages too. */
  int n = 0;
  token = NULL;
  do {
    if(token)
      snprintf(req, sizeof(req),
               "{\"SortCriteria\":[{\"Field\":\"Confidence\",\"SortOrder\":"
               "\"asc\"},{\"Field\":\"SeverityLabel\"}],\"NextToken\":\"%s\"}",
               token);
    else
      snprintf(req, sizeof(req),
               "{\"SortCriteria\":[{\"Field\":\"Confidence\",\"SortOrder\":"
               "\"asc\"},{\"Field\":\"SeverityLabel\"}]}");
    free(token);
    token = NULL;
    json_t *r2 = query(s, req, CH_OK);
    n += (int)json_array_size(json_object_get(r2, "Findings"));
    json_t *nt = json_object_get(r2, "NextToken");
    if(nt)
      token = strdup(json_string_value(nt));
    json_decref(r2);
  } while(token);
  assert_int_equal(n, 250 + 3);
  certhub_store_close(s);
  tdir_remove(&d);
}

static json_t *update(certhub_store *s, const char *req, int64_t now,
                      ch_err want)
{
  char *out = NULL;
  size_t n = 0;
  ch_err rc = certhub_findings_update_json(s, req, strlen(req), now, &out, &n);
  if(rc != want)
    fail_msg("update %s: rc %d (%s)", req, rc, certhub_store_errmsg(s));
  if(rc)
    return NULL;
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  free(out);
  return o;
}

static json_t *get_one(certhub_store *s, const char *id)
{
  char req[256];
  snprintf(req, sizeof(req),
           "{\"Filters\":{\"Id\":[{\"Value\":\"%s\",\"Comparison\":"
           "\"EQUALS\"}]}}",
           id);
  json_t *r = query(s, req, CH_OK);
  json_t *f = json_incref(json_array_get(json_object_get(r, "Findings"), 0));
  json_decref(r);
  assert_non_null(f);
  return f;
}

static const char *jpath(json_t *o, const char *a, const char *b)
{
  json_t *j = json_object_get(o, a);
  if(b)
    j = json_object_get(j, b);
  return json_string_value(j);
}

static void test_update(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  int64_t now = T_NOW + 3600;
  json_t *r = update(
      s,
      "{\"FindingIdentifiers\":[{\"Id\":\"a1\",\"ProductArn\":\"" PARN "\"},"
      "{\"Id\":\"nope\",\"ProductArn\":\"" PARN "\"},"
      "{\"Id\":\"a1\",\"ProductArn\":\"" PARN "\"}],"
      "\"Workflow\":{\"Status\":\"RESOLVED\"},"
      "\"Note\":{\"Text\":\"renewed by hand\",\"UpdatedBy\":\"alice\"},"
      "\"Severity\":{\"Label\":\"LOW\"},\"Confidence\":5,\"Criticality\":99,"
      "\"VerificationState\":\"TRUE_POSITIVE\","
      "\"UserDefinedFields\":{\"ticket\":\"OPS-1\"},"
      "\"RelatedFindings\":[{\"Id\":\"a2\",\"ProductArn\":\"" PARN "\"}]}",
      now, CH_OK);
  json_t *done = json_object_get(r, "ProcessedFindings");
  json_t *failed = json_object_get(r, "UnprocessedFindings");
  assert_int_equal(json_array_size(done), 1);
  assert_string_equal(jpath(json_array_get(done, 0), "Id", NULL), "a1");
  assert_int_equal(json_array_size(failed), 2);
  assert_string_equal(jpath(json_array_get(failed, 0), "ErrorCode", NULL),
                      "FindingNotFound");
  assert_string_equal(
      jpath(json_array_get(failed, 0), "FindingIdentifier", "Id"), "nope");
  assert_string_equal(jpath(json_array_get(failed, 1), "ErrorCode", NULL),
                      "DuplicatedFindingIdentifier");
  json_decref(r);

  json_t *f = get_one(s, "a1");
  assert_string_equal(jpath(f, "Workflow", "Status"), "RESOLVED");
  assert_string_equal(jpath(f, "Note", "Text"), "renewed by hand");
  assert_string_equal(jpath(f, "Note", "UpdatedBy"), "alice");
  assert_string_equal(jpath(f, "Note", "UpdatedAt"),
                      "2026-11-23T11:00:00.000Z");
  /* UpdatedAt stays the provider's (Security Hub's rule). */
  assert_string_equal(jpath(f, "UpdatedAt", NULL), "2026-11-20T00:00:00Z");
  /* The provider's severity is kept aside. */
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_object_get(f, "FindingProviderFields"),
                          "Severity"),
          "Label")),
      "HIGH");
  assert_string_equal(jpath(f, "Severity", "Label"), "LOW");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(f, "Severity"), "Normalized")),
                   1);
  assert_int_equal(json_integer_value(json_object_get(f, "Criticality")), 99);
  assert_string_equal(jpath(f, "VerificationState", NULL), "TRUE_POSITIVE");
  /* Merged: the earlier owner stays. */
  assert_string_equal(jpath(f, "UserDefinedFields", "owner"), "alice");
  assert_string_equal(jpath(f, "UserDefinedFields", "ticket"), "OPS-1");
  json_decref(f);

  /* The indexed columns follow: filters see the new values. */
  char ids[256];
  json_t *q =
      query(s,
            "{\"Filters\":{\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
            "\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":"
            "\"LOW\",\"Comparison\":\"EQUALS\"}],\"NoteText\":[{"
            "\"Value\":\"by hand\",\"Comparison\":\"CONTAINS\"}],"
            "\"RelatedFindingsId\":[{\"Value\":\"a2\",\"Comparison\":"
            "\"EQUALS\"}],\"VerificationState\":[{\"Value\":"
            "\"TRUE_POSITIVE\",\"Comparison\":\"EQUALS\"}]}}",
            CH_OK);
  ids_of(q, ids, sizeof(ids));
  assert_string_equal(ids, "a1");
  json_decref(q);

  /* The provider re-imports a newer a1 (and c2, which the customer did not
   * touch) with other severities: customer fields (Note, Workflow,
   * VerificationState, UserDefinedFields) and the customer's Severity and
   * Criticality stay on a1; the provider's values go to
   * FindingProviderFields, and to the top level where the customer changed
   * nothing (a1's Types, all of c2). */
  json_t *all = load_data("findings.json");
  json_t *a1 = json_deep_copy(json_array_get(all, 0));
  json_t *c2 = json_deep_copy(json_array_get(all, 5));
  json_object_set_new(a1, "UpdatedAt", json_string("2026-11-24T00:00:00Z"));
  json_object_set_new(a1, "Title", json_string("Certificate renewed?"));
  json_object_set_new(a1, "Severity", json_pack("{s:i}", "Normalized", 95));
  json_object_set_new(a1, "Types", json_pack("[s]", "Effects/Data Exposure"));
  json_object_set_new(c2, "UpdatedAt", json_string("2026-11-24T00:00:00Z"));
  json_object_set_new(c2, "Severity", json_pack("{s:s}", "Label", "HIGH"));
  json_t *arr = json_pack("[o, o]", a1, c2);
  import_json(s, arr);
  json_decref(arr);
  json_decref(all);
  f = get_one(s, "a1");
  assert_string_equal(jpath(f, "Title", NULL), "Certificate renewed?");
  assert_string_equal(jpath(f, "Workflow", "Status"), "RESOLVED");
  assert_string_equal(jpath(f, "Note", "Text"), "renewed by hand");
  assert_string_equal(jpath(f, "UserDefinedFields", "ticket"), "OPS-1");
  assert_string_equal(jpath(f, "Severity", "Label"), "LOW");
  assert_int_equal(json_integer_value(json_object_get(f, "Criticality")), 99);
  json_t *fpf = json_object_get(f, "FindingProviderFields");
  assert_string_equal(jpath(fpf, "Severity", "Label"), "CRITICAL");
  assert_int_equal(json_integer_value(json_object_get(fpf, "Criticality")),
                   50);
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(f, "Types"), 0)),
      "Effects/Data Exposure");
  json_decref(f);
  f = get_one(s, "c2");
  assert_string_equal(jpath(f, "Severity", "Label"), "HIGH");
  json_decref(f);
  /* The severity column follows the kept value: filters see LOW. */
  q = query(s,
            "{\"Filters\":{\"SeverityLabel\":[{\"Value\":\"LOW\","
            "\"Comparison\":\"EQUALS\"}],\"Id\":[{\"Value\":\"a1\","
            "\"Comparison\":\"EQUALS\"}]}}",
            CH_OK);
  ids_of(q, ids, sizeof(ids));
  assert_string_equal(ids, "a1");
  json_decref(q);
  /* A second re-import (the customer's values still differ from the
   * provider's) keeps them again. */
  all = load_data("findings.json");
  a1 = json_deep_copy(json_array_get(all, 0));
  json_object_set_new(a1, "UpdatedAt", json_string("2026-11-25T00:00:00Z"));
  arr = json_pack("[o]", a1);
  import_json(s, arr);
  json_decref(arr);
  json_decref(all);
  f = get_one(s, "a1");
  assert_string_equal(jpath(f, "Severity", "Label"), "LOW");
  assert_string_equal(
      jpath(json_object_get(f, "FindingProviderFields"), "Severity", "Label"),
      "HIGH");
  json_decref(f);

  /* Normalized alone sets the label. */
  json_decref(update(s,
                     "{\"FindingIdentifiers\":[{\"Id\":\"b1\",\"ProductArn\":"
                     "\"" PARN "\"}],\"Severity\":{\"Normalized\":95}}",
                     now, CH_OK));
  f = get_one(s, "b1");
  assert_string_equal(jpath(f, "Severity", "Label"), "CRITICAL");
  json_decref(f);

  /* A provider's FindingProviderFields get the top-level checks, and a
   * new finding's set the top level. */
  all = load_data("findings.json");
  json_t *nf = json_deep_copy(json_array_get(all, 5));
  json_decref(all);
  json_object_set_new(nf, "Id", json_string("fpf-1"));
  json_object_set_new(nf, "FindingProviderFields",
                      json_pack("{s:i}", "Confidence", 500));
  arr = json_pack("[O]", nf);
  char *text = json_dumps(arr, JSON_COMPACT);
  certhub_import_result ir;
  assert_int_equal(certhub_findings_import(s, text, strlen(text), T_NOW, &ir),
                   CH_OK);
  assert_int_equal(ir.failed, 1);
  assert_string_equal(ir.failures[0].message,
                      "FindingProviderFields.Confidence must be an integer "
                      "from 0 to 100");
  certhub_import_result_free(&ir);
  free(text);
  json_decref(arr);
  json_object_set_new(nf, "FindingProviderFields",
                      json_pack("{s:i, s:{s:s}}", "Confidence", 30, "Severity",
                                "Label", "HIGH"));
  arr = json_pack("[o]", nf);
  import_json(s, arr);
  json_decref(arr);
  f = get_one(s, "fpf-1");
  assert_int_equal(json_integer_value(json_object_get(f, "Confidence")), 30);
  assert_string_equal(jpath(f, "Severity", "Label"), "HIGH");
  json_decref(f);

  /* Invalid requests: refused whole, nothing changed. */
  static const struct {
    const char *req, *msg;
  } bad[] = {
      {"{\"FindingIdentifiers\":[],\"Workflow\":{\"Status\":\"NEW\"}}",
       "non-empty array"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Workflow\":{\"Status\":\"DONE\"}}",
       "Workflow must be"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}]}",
       "nothing to update"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Confidence\":101}",
       "Confidence must be"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Criticality\":-1}",
       "Criticality must be"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Note\":{\"Text\":\"x\"}}",
       "Note must be"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Severity\":{\"Label\":\"SEVERE\"}}",
       "Severity.Label"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"VerificationState\":\"MAYBE\"}",
       "VerificationState must be"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Types\":[\"Bogus/Thing\"]}",
       "Types[0]"},
      {"{\"FindingIdentifiers\":[{\"Id\":\"c2\",\"ProductArn\":\"" PARN
       "\"}],\"Workflow\":{\"Status\":\"NEW\"},\"Extra\":1}",
       "unknown member 'Extra'"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    assert_null(update(s, bad[i].req, now, CH_ERR_USAGE));
    if(!strstr(certhub_store_errmsg(s), bad[i].msg))
      fail_msg("'%s': message '%s'", bad[i].req, certhub_store_errmsg(s));
  }
  /* 101 identifiers. */
  ch_buf b;
  ch_buf_init(&b, 1 << 20);
  ch_buf_addstr(&b, "{\"FindingIdentifiers\":[");
  for(int i = 0; i < 101; i++)
    ch_buf_printf(&b, "%s{\"Id\":\"x%d\",\"ProductArn\":\"%s\"}", i ? "," : "",
                  i, PARN);
  ch_buf_addstr(&b, "],\"Workflow\":{\"Status\":\"NEW\"}}");
  assert_null(update(s, b.data, now, CH_ERR_USAGE));
  assert_non_null(strstr(certhub_store_errmsg(s), "at most 100"));
  ch_buf_free(&b);
  assert_null(update(s, "not json", now, CH_ERR_PARSE));
  f = get_one(s, "c2");
  assert_string_equal(jpath(f, "Workflow", "Status"), "NEW");
  json_decref(f);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_insight(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  char *out = NULL;
  size_t n = 0;
  const char *req = "{\"GroupByAttribute\":\"SeverityLabel\"}";
  assert_int_equal(
      certhub_findings_insight_json(s, req, strlen(req), &out, &n), CH_OK);
  assert_string_equal(
      out, "{\"InsightResults\":{\"GroupByAttribute\":\"SeverityLabel\","
           "\"ResultValues\":[{\"GroupByAttributeValue\":\"MEDIUM\",\"Count\":"
           "2},{\"GroupByAttributeValue\":\"CRITICAL\",\"Count\":1},{"
           "\"GroupByAttributeValue\":\"HIGH\",\"Count\":1},{"
           "\"GroupByAttributeValue\":\"INFORMATIONAL\",\"Count\":1},{"
           "\"GroupByAttributeValue\":\"LOW\",\"Count\":1}]}}");
  assert_int_equal(strlen(out), n);
  free(out);
  req = "{\"GroupByAttribute\":\"ComplianceStatus\",\"Filters\":{"
        "\"RecordState\":[{\"Value\":\"ACTIVE\",\"Comparison\":\"EQUALS\"}]}}";
  assert_int_equal(
      certhub_findings_insight_json(s, req, strlen(req), &out, &n), CH_OK);
  assert_string_equal(
      out, "{\"InsightResults\":{\"GroupByAttribute\":\"ComplianceStatus\","
           "\"ResultValues\":[{\"GroupByAttributeValue\":\"\",\"Count\":2},{"
           "\"GroupByAttributeValue\":\"FAILED\",\"Count\":2},{"
           "\"GroupByAttributeValue\":\"WARNING\",\"Count\":1}]}}");
  free(out);
  static const struct {
    const char *req, *msg;
  } bad[] = {
      {"{}", "GroupByAttribute (a string) is required"},
      {"{\"GroupByAttribute\":\"Type\"}", "cannot group by 'Type'"},
      {"{\"GroupByAttribute\":\"Nope\"}", "cannot group by 'Nope'"},
      {"{\"GroupByAttribute\":\"Title\",\"Filters\":{\"X\":[]}}",
       "unknown or unsupported filter field 'X'"},
      {"{\"GroupByAttribute\":\"Title\",\"MaxResults\":3}",
       "unknown member 'MaxResults'"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    assert_int_equal(certhub_findings_insight_json(
                         s, bad[i].req, strlen(bad[i].req), &out, &n),
                     CH_ERR_USAGE);
    if(!strstr(certhub_store_errmsg(s), bad[i].msg))
      fail_msg("'%s': message '%s'", bad[i].req, certhub_store_errmsg(s));
  }
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A prune of more findings than one batch deletes (PRUNE_BATCH, 2,000)
 * goes on batch after batch: every old finding goes, the count is the
 * total, the finding updated since stays. */
static void test_prune_batches(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  json_t *fs = load_data("findings.json");
  json_t *tmpl = json_array_get(fs, 0);
  for(int call = 0; call < 45; call++) {
    json_t *arr = json_array();
    for(int i = 0; i < 100; i++) {
      json_t *f = json_deep_copy(tmpl);
      char id[32];
      snprintf(id, sizeof(id), "bulk-%04d", call * 100 + i);
      json_object_set_new(f, "Id", json_string(id));
      json_array_append_new(arr, f);
    }
    import_json(s, arr);
    json_decref(arr);
  }
  json_decref(fs);
  json_decref(update(s,
                     "{\"FindingIdentifiers\":[{\"Id\":\"a1\","
                     "\"ProductArn\":\"" PARN "\"}],\"Workflow\":{"
                     "\"Status\":\"NOTIFIED\"}}",
                     T_NOW + 10 * T_DAY, CH_OK));
  uint64_t n = 0;
  assert_int_equal(certhub_findings_prune(s, T_NOW + 25 * T_DAY, 20, &n),
                   CH_OK);
  assert_int_equal(n, 4505);
  json_t *r = query(s, "{}", CH_OK);
  char ids[128];
  ids_of(r, ids, sizeof(ids));
  assert_string_equal(ids, "a1");
  json_decref(r);
  t_query_eq(s, "SELECT count(*) FROM findings", "1");
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_prune_and_import_json(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = fixture(&d);
  uint64_t n = 99;
  /* Imported at T_NOW: kept 10 days after that, whatever the UpdatedAt. */
  assert_int_equal(certhub_findings_prune(s, T_NOW, 10, &n), CH_OK);
  assert_int_equal(n, 0);
  /* A customer update 10 days later counts as an update. */
  json_decref(update(s,
                     "{\"FindingIdentifiers\":[{\"Id\":\"a1\","
                     "\"ProductArn\":\"" PARN "\"}],\"Workflow\":{"
                     "\"Status\":\"NOTIFIED\"}}",
                     T_NOW + 10 * T_DAY, CH_OK));
  /* 25 days on, 20 days' retention: all but a1 go. */
  assert_int_equal(certhub_findings_prune(s, T_NOW + 25 * T_DAY, 20, &n),
                   CH_OK);
  assert_int_equal(n, 5);
  json_t *r = query(s, "{}", CH_OK);
  char ids[128];
  ids_of(r, ids, sizeof(ids));
  assert_string_equal(ids, "a1");
  json_decref(r);
  assert_int_equal(certhub_findings_prune(s, T_NOW + 25 * T_DAY, 90, &n),
                   CH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(certhub_findings_prune(s, T_NOW, 0, &n), CH_ERR_USAGE);

  certhub_import_result ir;
  const char *bad = "[{\"Id\":\"x\"}]";
  assert_int_equal(certhub_findings_import(s, bad, strlen(bad), T_NOW, &ir),
                   CH_OK);
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(certhub_import_result_json(&ir, &out, &len), CH_OK);
  assert_string_equal(out, "{\"FailedCount\":1,\"SuccessCount\":0,"
                           "\"FailedFindings\":[{\"Id\":\"x\",\"ErrorCode\":"
                           "\"MissingRequiredField\",\"ErrorMessage\":"
                           "\"missing required field 'SchemaVersion'\"}]}");
  assert_int_equal(len, strlen(out));
  free(out);
  certhub_import_result_free(&ir);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_cases),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_paging),
      cmocka_unit_test(test_update),
      cmocka_unit_test(test_insight),
      cmocka_unit_test(test_prune_and_import_json),
      cmocka_unit_test(test_prune_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
