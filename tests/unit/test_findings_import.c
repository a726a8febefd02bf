/*
 * BatchImportFindings against a real SQLite store: required fields, limits,
 * upsert by (ProductArn, Id) with the UpdatedAt rule, customer fields kept,
 * automatic workflow changes.
 */
#include <jansson.h>

#include "certhub/findings.h"
#include "certhub/store_hub.h"
#include "findings/findings_int.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"

static json_t *finding(const char *id, const char *updated)
{
  json_t *f = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s],"
      " s:{s:s}, s:[{s:s, s:s}]}",
      "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
      "GeneratorId", "gen-1", "AwsAccountId", "000000000000", "CreatedAt",
      "2026-11-01T00:00:00Z", "UpdatedAt", updated, "Title", "A title",
      "Description", "A description", "Types",
      "Software and Configuration Checks/Certificate Expiry", "Severity",
      "Label", "MEDIUM", "Resources", "Type", "Other", "Id", "res-1");
  assert_non_null(f);
  return f;
}

static char *dump_array(json_t *f)
{
  json_t *a = json_array();
  json_array_append_new(a, f);
  char *s = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  assert_non_null(s);
  return s;
}

static ch_err import_one(certhub_store *s, json_t *f, certhub_import_result *r)
{
  char *text = dump_array(f);
  ch_err rc = certhub_findings_import(s, text, strlen(text), T_NOW, r);
  free(text);
  return rc;
}

typedef struct fstate {
  size_t n;
  char json[8192];
  char workflow[32], record[32], severity[32], region[64], resource[64];
  int64_t updated_at;
} fstate;

static ch_err grab(void *ctx, const certhub_finding_row *row)
{
  fstate *st = ctx;
  st->n++;
  snprintf(st->json, sizeof(st->json), "%s", row->json);
  snprintf(st->workflow, sizeof(st->workflow), "%s", row->workflow_status);
  snprintf(st->record, sizeof(st->record), "%s", row->record_state);
  snprintf(st->severity, sizeof(st->severity), "%s", row->severity_label);
  snprintf(st->region, sizeof(st->region), "%s", row->region);
  snprintf(st->resource, sizeof(st->resource), "%s", row->resource_id);
  st->updated_at = row->updated_at;
  return CH_OK;
}

static void get(certhub_store *s, const char *id, fstate *st)
{
  memset(st, 0, sizeof(*st));
  assert_int_equal(certhub_findings_get(s, PARN, id, grab, st), CH_OK);
  assert_int_equal(st->n, 1);
}

static size_t count(certhub_store *s)
{
  fstate st = {0};
  assert_int_equal(certhub_findings_list(s, NULL, grab, &st), CH_OK);
  return st.n;
}

static void test_valid_import(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_import_result r;
  json_t *f = finding("f-1", "2026-11-02T00:00:00.500Z");
  json_object_set_new(f, "Severity", json_pack("{s:i}", "Normalized", 75));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.success, 1);
  assert_int_equal(r.created, 1);
  assert_int_equal(r.failed, 0);
  certhub_import_result_free(&r);
  fstate st;
  get(s, "f-1", &st);
  assert_string_equal(st.workflow, "NEW");
  assert_string_equal(st.record, "ACTIVE");
  assert_string_equal(st.severity, "HIGH"); /* from Normalized 75 */
  assert_string_equal(st.region, "local");  /* from the ProductArn */
  assert_string_equal(st.resource, "res-1");
  assert_int_equal(st.updated_at, 1793577600500LL);
  assert_non_null(strstr(st.json, "\"Label\":\"HIGH\""));
  /* The {"Findings": [...]} form is accepted too. */
  const char *wrapped = "{\"Findings\": []}";
  assert_int_equal(
      certhub_findings_import(s, wrapped, strlen(wrapped), T_NOW, &r), CH_OK);
  assert_int_equal(r.success, 0);
  certhub_import_result_free(&r);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Each required field missing gives a per-finding error naming it, while
 * the valid finding of the same call is stored. */
static void test_required_fields(void **state)
{
  (void)state;
  static const char *const required[] = {
      "AwsAccountId", "CreatedAt",  "Description", "GeneratorId",
      "Id",           "ProductArn", "Resources",   "SchemaVersion",
      "Severity",     "Title",      "Types",       "UpdatedAt",
  };
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  for(size_t i = 0; i < CH_ARRAY_LEN(required); i++) {
    char id[32], want[64];
    snprintf(id, sizeof(id), "req-%zu", i);
    json_t *bad = finding(id, "2026-11-02T00:00:00Z");
    json_object_del(bad, required[i]);
    json_t *arr = json_array();
    json_array_append_new(arr, bad);
    snprintf(id, sizeof(id), "ok-%zu", i);
    json_array_append_new(arr, finding(id, "2026-11-02T00:00:00Z"));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    certhub_import_result r;
    assert_int_equal(certhub_findings_import(s, text, strlen(text), T_NOW, &r),
                     CH_OK);
    free(text);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.success, 1);
    snprintf(want, sizeof(want), "'%s'", required[i]);
    if(!strstr(r.failures[0].message, want))
      fail_msg("%s: message '%s'", required[i], r.failures[0].message);
    assert_string_equal(r.failures[0].code, "MissingRequiredField");
    /* The failure names the finding unless its Id is what is missing. */
    snprintf(want, sizeof(want), "req-%zu", i);
    assert_string_equal(r.failures[0].id,
                        strcmp(required[i], "Id") ? want : "");
    certhub_import_result_free(&r);
  }
  assert_int_equal(count(s), CH_ARRAY_LEN(required));
  certhub_store_close(s);
  tdir_remove(&d);
}

static void expect_invalid(certhub_store *s, json_t *f, const char *text)
{
  certhub_import_result r;
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.failed, 1);
  assert_int_equal(r.success, 0);
  if(!strstr(r.failures[0].message, text))
    fail_msg("want '%s' in '%s'", text, r.failures[0].message);
  certhub_import_result_free(&r);
}

static void test_limits(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char big[300];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  json_t *f = finding("l-1", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Title", json_string(big));
  expect_invalid(s, f, "'Title' is longer than 256");
  f = finding("l-2", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "SchemaVersion", json_string("2020-01-01"));
  expect_invalid(s, f, "SchemaVersion must be");
  f = finding("l-3", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Types", json_pack("[s]", "Nonsense/Thing"));
  expect_invalid(s, f, "Types[0]");
  f = finding("l-4", "2026-11-02T00:00:00Z");
  json_t *types = json_array();
  for(int i = 0; i < 51; i++)
    json_array_append_new(types, json_string("TTPs"));
  json_object_set_new(f, "Types", types);
  expect_invalid(s, f, "at most 50");
  f = finding("l-5", "2026-11-02T00:00:00Z");
  json_t *res = json_array();
  for(int i = 0; i < 33; i++)
    json_array_append_new(res,
                          json_pack("{s:s,s:s}", "Type", "Other", "Id", "r"));
  json_object_set_new(f, "Resources", res);
  expect_invalid(s, f, "at most 32");
  f = finding("l-6", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Resources", json_pack("[{s:s}]", "Type", "Other"));
  expect_invalid(s, f, "Resources[0].Id");
  f = finding("l-7", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Severity", json_pack("{s:s}", "Label", "SEVERE"));
  expect_invalid(s, f, "Severity.Label");
  f = finding("l-8", "yesterday");
  expect_invalid(s, f, "'UpdatedAt' is not an RFC 3339");
  f = finding("l-9", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "AwsAccountId", json_string("12345"));
  expect_invalid(s, f, "12 digits");
  f = finding("l-10", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Resources", json_array());
  expect_invalid(s, f, "non-empty");
  /* A finding over 240 KiB. */
  f = finding("l-11", "2026-11-02T00:00:00Z");
  char *huge = malloc(250 * 1024);
  memset(huge, 'a', 250 * 1024 - 1);
  huge[250 * 1024 - 1] = '\0';
  /* Details has no limits of its own: only the finding's size applies. */
  json_object_set_new(f, "Resources",
                      json_pack("[{s:s, s:s, s:{s:{s:s}}}]", "Type",
                                "AwsS3Bucket", "Id", "res-1", "Details",
                                "AwsS3Bucket", "OwnerName", huge));
  free(huge);
  expect_invalid(s, f, "bytes (at most");
  assert_int_equal(count(s), 0);

  /* Whole-call refusals: 101 findings, malformed JSON, not an array. */
  json_t *arr = json_array();
  for(int i = 0; i < 101; i++) {
    char id[16];
    snprintf(id, sizeof(id), "m-%d", i);
    json_array_append_new(arr, finding(id, "2026-11-02T00:00:00Z"));
  }
  char *text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  certhub_import_result r;
  assert_int_equal(certhub_findings_import(s, text, strlen(text), T_NOW, &r),
                   CH_ERR_TOOBIG);
  assert_non_null(strstr(r.error, "101 findings"));
  certhub_import_result_free(&r);
  free(text);
  assert_int_equal(certhub_findings_import(s, "[{\"Id\":", 7, T_NOW, &r),
                   CH_ERR_PARSE);
  assert_non_null(strstr(r.error, "invalid JSON"));
  certhub_import_result_free(&r);
  assert_int_equal(certhub_findings_import(s, "{\"x\":1}", 7, T_NOW, &r),
                   CH_ERR_PARSE);
  assert_non_null(strstr(r.error, "expected a JSON array"));
  certhub_import_result_free(&r);
  assert_int_equal(count(s), 0);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A string of n copies of c (caller frees). */
static char *rep(char c, size_t n)
{
  char *b = malloc(n + 1);
  assert_non_null(b);
  memset(b, c, n);
  b[n] = '\0';
  return b;
}

/* Wrong JSON types and values outside enums: refused per finding, with the
 * field named; nothing stored. */
static void test_types(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  static const struct {
    const char *key, *json, *want;
  } cases[] = {
      {"Note",
       "{\"Text\":42,\"UpdatedBy\":\"ops\",\"UpdatedAt\":"
       "\"2026-11-01T00:00:00Z\"}",
       "'Note.Text' must be a string, not a number"},
      {"Note", "{\"Text\":\"x\"}", "'Note' needs Text, UpdatedBy and"},
      {"Note", "\"a note\"", "'Note' must be an object"},
      {"Note", "{\"Text\":\"x\",\"UpdatedBy\":\"ops\",\"UpdatedAt\":\"soon\"}",
       "'Note.UpdatedAt' is not an RFC 3339"},
      {"UserDefinedFields", "{\"a\":1}",
       "'UserDefinedFields.a' must be a string, not a number"},
      {"UserDefinedFields", "[\"a\"]",
       "'UserDefinedFields' must be an object"},
      {"ProductFields", "{\"a\":{\"b\":\"c\"}}",
       "'ProductFields.a' must be a string, not an object"},
      {"ProductFields", "{\"a\":null}", "'ProductFields.a' must be a string"},
      {"VerificationState", "\"MAYBE\"",
       "'VerificationState' must be UNKNOWN"},
      {"VerificationState", "1", "'VerificationState' must be UNKNOWN"},
      {"WorkflowState", "\"DONE\"", "'WorkflowState' must be NEW"},
      {"Sample", "\"true\"", "'Sample' must be true or false, not a string"},
      {"SourceUrl", "7", "'SourceUrl' must be a string, not a number"},
      {"Region", "[]", "'Region' must be a string, not an array"},
      {"CompanyName", "\"\"", "'CompanyName' must not be empty"},
      {"Remediation", "{\"Recommendation\":{\"Url\":5}}",
       "'Remediation.Recommendation.Url' must be a string"},
      {"RelatedFindings", "[{\"Id\":\"x\"}]",
       "'RelatedFindings[0]' must be an object with ProductArn and Id"},
      {"Malware", "{}", "'Malware' must be an array, not an object"},
      {"Malware", "[{},{},{},{},{},{}]",
       "'Malware' has 6 entries (at most 5)"},
      {"Action", "\"PORT_PROBE\"", "'Action' must be an object"},
      {"Resources",
       "[{\"Type\":\"Other\",\"Id\":\"r\",\"Tags\":{\"t\":true}}]",
       "'Resources[0].Tags.t' must be a string, not a boolean"},
      {"Resources", "[{\"Type\":\"Other\",\"Id\":\"r\",\"Tags\":\"t=1\"}]",
       "'Resources[0].Tags' must be an object of strings"},
      {"Resources", "[{\"Type\":\"Other\",\"Id\":7}]",
       "'Resources[0].Id' must be a string, not a number"},
      {"Resources", "[{\"Type\":\"Other\",\"Id\":\"r\",\"Region\":1}]",
       "'Resources[0].Region' must be a string"},
      {"Resources", "[{\"Type\":\"Other\",\"Id\":\"r\",\"Details\":[]}]",
       "'Resources[0].Details' must be an object"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char id[16];
    snprintf(id, sizeof(id), "t-%zu", i);
    json_t *f = finding(id, "2026-11-02T00:00:00Z");
    json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    json_object_set_new(f, cases[i].key, v);
    expect_invalid(s, f, cases[i].want);
  }
  assert_int_equal(count(s), 0);

  /* The same fields with right values are stored. */
  json_t *f = finding("t-ok", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Note",
                      json_pack("{s:s,s:s,s:s}", "Text", "seen", "UpdatedBy",
                                "ops", "UpdatedAt", "2026-11-01T00:00:00Z"));
  json_object_set_new(f, "VerificationState", json_string("TRUE_POSITIVE"));
  json_object_set_new(f, "Sample", json_true());
  json_object_set_new(f, "SourceUrl", json_string("https://example.test/x"));
  json_object_set_new(f, "UserDefinedFields", json_pack("{s:s}", "a", "b"));
  json_object_set_new(
      f, "RelatedFindings",
      json_pack("[{s:s,s:s}]", "ProductArn", PARN, "Id", "other"));
  certhub_import_result r;
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.failed, 0);
  assert_int_equal(r.success, 1);
  certhub_import_result_free(&r);
  assert_int_equal(count(s), 1);
  certhub_store_close(s);
  tdir_remove(&d);
}

static json_t *map_of(size_t n, size_t key_len, size_t val_len)
{
  json_t *m = json_object();
  char *v = rep('v', val_len);
  for(size_t i = 0; i < n; i++) {
    char *k = rep('k', key_len);
    snprintf(k, key_len + 1, "%0*zu", (int)key_len, i); /* unique */
    json_object_set_new(m, k, json_string(v));
    free(k);
  }
  free(v);
  return m;
}

/* Security Hub's map limits (50 pairs, keys 128, values 2048 / 1024 /
 * 256) and the length messages naming the limit. */
static void test_map_limits(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  json_t *f = finding("m-1", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "ProductFields", map_of(51, 8, 4));
  expect_invalid(s, f, "'ProductFields' has 51 entries (at most 50)");
  f = finding("m-2", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "UserDefinedFields", map_of(51, 8, 4));
  expect_invalid(s, f, "'UserDefinedFields' has 51 entries (at most 50)");
  f = finding("m-3", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "ProductFields", map_of(1, 129, 4));
  expect_invalid(s, f, "that is too long (1 to 128 characters)");
  f = finding("m-4", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "ProductFields", map_of(1, 8, 2049));
  expect_invalid(s, f, "is longer than 2048 characters (it has 2049)");
  f = finding("m-5", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "UserDefinedFields", map_of(1, 8, 1025));
  expect_invalid(s, f, "is longer than 1024 characters (it has 1025)");
  f = finding("m-6", "2026-11-02T00:00:00Z");
  json_t *res = json_pack("[{s:s,s:s}]", "Type", "Other", "Id", "r");
  json_object_set_new(json_array_get(res, 0), "Tags", map_of(51, 8, 4));
  json_object_set_new(f, "Resources", res);
  expect_invalid(s, f, "'Resources[0].Tags' has 51 entries (at most 50)");
  f = finding("m-7", "2026-11-02T00:00:00Z");
  res = json_pack("[{s:s,s:s}]", "Type", "Other", "Id", "r");
  json_object_set_new(json_array_get(res, 0), "Tags", map_of(1, 8, 257));
  json_object_set_new(f, "Resources", res);
  expect_invalid(s, f, "is longer than 256 characters (it has 257)");
  /* A 600-character Resources[0].Id: too long, not "missing". */
  f = finding("m-8", "2026-11-02T00:00:00Z");
  char *long_id = rep('r', 600);
  json_object_set_new(
      f, "Resources",
      json_pack("[{s:s,s:s}]", "Type", "Other", "Id", long_id));
  free(long_id);
  expect_invalid(s, f,
                 "'Resources[0].Id' is longer than 512 characters (it has "
                 "600)");
  f = finding("m-9", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Resources", json_pack("[{s:s}]", "Type", "Other"));
  expect_invalid(s, f, "Resources[0].Id is missing");
  f = finding("m-10", "2026-11-02T00:00:00Z");
  char *note = rep('n', 513);
  json_object_set_new(f, "Note",
                      json_pack("{s:s,s:s,s:s}", "Text", note, "UpdatedBy",
                                "ops", "UpdatedAt", "2026-11-01T00:00:00Z"));
  free(note);
  expect_invalid(s, f, "'Note.Text' is longer than 512 characters");
  /* Limits count characters: 256 two-byte characters are a valid Title. */
  f = finding("m-11", "2026-11-02T00:00:00Z");
  char title[2 * 256 + 1];
  for(int i = 0; i < 256; i++)
    memcpy(title + 2 * i, "\xc3\xa9", 2);
  title[512] = '\0';
  json_object_set_new(f, "Title", json_string(title));
  assert_int_equal(count(s), 0);
  /* At the limits: 50 pairs, 128-character keys, longest values: stored. */
  json_object_set_new(f, "ProductFields", map_of(50, 128, 2048));
  json_object_set_new(f, "UserDefinedFields", map_of(50, 128, 1024));
  res = json_pack("[{s:s,s:s}]", "Type", "Other", "Id", "r");
  json_object_set_new(json_array_get(res, 0), "Tags", map_of(50, 128, 256));
  json_object_set_new(f, "Resources", res);
  certhub_import_result r;
  assert_int_equal(import_one(s, f, &r), CH_OK);
  if(r.failed)
    fail_msg("refused: %s", r.failures[0].message);
  assert_int_equal(r.success, 1);
  certhub_import_result_free(&r);
  assert_int_equal(count(s), 1);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_upsert(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_import_result r;
  fstate st;
  assert_int_equal(import_one(s, finding("u-1", "2026-11-02T00:00:00Z"), &r),
                   CH_OK);
  certhub_import_result_free(&r);
  /* The customer changes the workflow and adds a note (as
   * BatchUpdateFindings will; here directly in the store). */
  json_t *cust = finding("u-1", "2026-11-02T00:00:00Z");
  json_object_set_new(cust, "Workflow",
                      json_pack("{s:s}", "Status", "NOTIFIED"));
  json_object_set_new(cust, "Note",
                      json_pack("{s:s,s:s,s:s}", "Text", "ticket 42",
                                "UpdatedBy", "alice", "UpdatedAt",
                                "2026-11-02T01:00:00Z"));
  char *ctext = json_dumps(cust, JSON_COMPACT);
  certhub_finding_row row = {
      .product_arn = PARN,
      .id = "u-1",
      .generator_id = "gen-1",
      .aws_account_id = "000000000000",
      .region = "local",
      .severity_label = "MEDIUM",
      .workflow_status = "NOTIFIED",
      .record_state = "ACTIVE",
      .resource_id = "res-1",
      .updated_at = 1793577600000LL,
      .json = ctext,
  };
  assert_int_equal(certhub_store_finding_put(s, &row, T_NOW), CH_OK);
  free(ctext);
  json_decref(cust);

  /* Same UpdatedAt: ignored. Older: ignored. */
  json_t *f = finding("u-1", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Title", json_string("changed"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.success, 1);
  assert_int_equal(r.unchanged, 1);
  certhub_import_result_free(&r);
  f = finding("u-1", "2026-11-01T12:00:00Z");
  json_object_set_new(f, "Title", json_string("changed"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.unchanged, 1);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_null(strstr(st.json, "changed"));

  /* Newer: replaced, customer fields kept even if the provider sends
   * others. */
  f = finding("u-1", "2026-11-02T00:00:00.001Z");
  json_object_set_new(f, "Title", json_string("changed"));
  json_object_set_new(f, "Workflow", json_pack("{s:s}", "Status", "NEW"));
  json_object_set_new(f, "UserDefinedFields", json_pack("{s:s}", "a", "b"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  assert_int_equal(r.success, 1);
  assert_int_equal(r.unchanged, 0);
  assert_int_equal(r.created, 0);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_non_null(strstr(st.json, "\"Title\":\"changed\""));
  assert_non_null(strstr(st.json, "ticket 42"));
  assert_null(strstr(st.json, "UserDefinedFields"));
  assert_string_equal(st.workflow, "NOTIFIED");
  assert_int_equal(count(s), 1);

  /* Archived alone: the workflow stays NOTIFIED. */
  f = finding("u-1", "2026-11-03T00:00:00Z");
  json_object_set_new(f, "RecordState", json_string("ARCHIVED"));
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "FAILED"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_string_equal(st.record, "ARCHIVED");
  assert_string_equal(st.workflow, "NOTIFIED");
  assert_non_null(strstr(st.json, "ticket 42"));
  /* Active again: NOTIFIED goes back to NEW. */
  f = finding("u-1", "2026-11-04T00:00:00Z");
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "FAILED"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_string_equal(st.record, "ACTIVE");
  assert_string_equal(st.workflow, "NEW");
  /* Compliance FAILED -> PASSED: NEW becomes RESOLVED. */
  f = finding("u-1", "2026-11-05T00:00:00Z");
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "PASSED"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_string_equal(st.workflow, "RESOLVED");
  /* PASSED -> WARNING: RESOLVED goes back to NEW. */
  f = finding("u-1", "2026-11-06T00:00:00Z");
  json_object_set_new(f, "Compliance",
                      json_pack("{s:s}", "Status", "WARNING"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_string_equal(st.workflow, "NEW");
  /* SUPPRESSED (set by the customer) survives every change. */
  free(t_query(s, "UPDATE findings SET finding = json_set(finding,"
                  " '$.Workflow.Status', 'SUPPRESSED'),"
                  " workflow_status = 'SUPPRESSED' WHERE id = 'u-1'"));
  f = finding("u-1", "2026-11-07T00:00:00Z");
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "PASSED"));
  assert_int_equal(import_one(s, f, &r), CH_OK);
  certhub_import_result_free(&r);
  get(s, "u-1", &st);
  assert_string_equal(st.workflow, "SUPPRESSED");
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A storage failure in the middle stores nothing of the call. */
static void test_atomic(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_import_result r;
  /* A trigger makes the second insert fail. */
  free(t_query(s, "CREATE TRIGGER boom BEFORE INSERT ON findings"
                  " WHEN NEW.id = 'a-2' BEGIN SELECT RAISE(ABORT, 'boom');"
                  " END"));
  json_t *arr = json_array();
  json_array_append_new(arr, finding("a-1", "2026-11-02T00:00:00Z"));
  json_array_append_new(arr, finding("a-2", "2026-11-02T00:00:00Z"));
  char *text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  ch_err rc = certhub_findings_import(s, text, strlen(text), T_NOW, &r);
  assert_int_not_equal(rc, CH_OK);
  assert_non_null(strstr(r.error, "boom"));
  assert_int_equal(r.success, 0);
  certhub_import_result_free(&r);
  assert_int_equal(count(s), 0);
  free(t_query(s, "DROP TRIGGER boom"));
  assert_int_equal(certhub_findings_import(s, text, strlen(text), T_NOW, &r),
                   CH_OK);
  assert_int_equal(r.success, 2);
  certhub_import_result_free(&r);
  free(text);
  assert_int_equal(count(s), 2);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* One call that names the same Id several times is applied in order:
 * each entry sees what the earlier ones stored (UpdatedAt rule, merge
 * rules, customer fields), and the query columns follow the last one
 * written. Prepared apart from the store, as the HTTP API does. */
static void test_batch_in_order(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_import_result r;
  fstate st;
  /* A stored finding with a customer note. */
  json_t *c = finding("d-0", "2026-11-02T00:00:00Z");
  assert_int_equal(import_one(s, c, &r), CH_OK);
  certhub_import_result_free(&r);
  free(t_query(s, "UPDATE findings SET finding = json_set(finding,"
                  " '$.Note', json('{\"Text\":\"keep\",\"UpdatedBy\":"
                  "\"bob\",\"UpdatedAt\":\"2026-11-02T01:00:00Z\"}'))"
                  " WHERE id = 'd-0'"));

  json_t *arr = json_array(), *f;
  f = finding("d-1", "2026-11-02T00:00:00Z");
  json_object_set_new(f, "Title", json_string("first"));
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "FAILED"));
  json_array_append_new(arr, f);
  f = finding("d-1", "2026-11-03T00:00:00Z"); /* newer: replaces */
  json_object_set_new(f, "Title", json_string("second"));
  json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", "PASSED"));
  json_object_set_new(f, "Note",
                      json_pack("{s:s,s:s,s:s}", "Text", "prov", "UpdatedBy",
                                "p", "UpdatedAt", "2026-11-03T00:00:00Z"));
  json_array_append_new(arr, f);
  f = finding("d-x", "2026-11-03T00:00:00Z");
  json_object_del(f, "Title"); /* invalid, between the others */
  json_array_append_new(arr, f);
  f = finding("d-1", "2026-11-02T12:00:00Z"); /* older than stored */
  json_object_set_new(f, "Title", json_string("older"));
  json_array_append_new(arr, f);
  f = finding("d-0", "2026-11-04T00:00:00Z"); /* customer note kept */
  json_object_set_new(f, "Title", json_string("zero"));
  json_array_append_new(arr, f);
  f = finding("d-0", "2026-11-05T00:00:00Z");
  json_object_set_new(f, "Title", json_string("zero again"));
  json_array_append_new(arr, f);
  char *text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);

  certhub_import_batch *b = NULL;
  assert_int_equal(certhub_findings_import_prepare(text, strlen(text), &b, &r),
                   CH_OK);
  free(text);
  assert_non_null(b);
  assert_int_equal(r.failed, 1);
  assert_string_equal(r.failures[0].id, "d-x");
  assert_int_equal(r.success, 0); /* nothing stored yet */
  assert_int_equal(count(s), 1);
  assert_int_equal(certhub_findings_import_apply(s, b, T_NOW, &r), CH_OK);
  certhub_import_batch_free(b);
  assert_int_equal(r.success, 5);
  assert_int_equal(r.created, 1);
  assert_int_equal(r.unchanged, 1);
  assert_int_equal(r.failed, 1);
  certhub_import_result_free(&r);

  get(s, "d-1", &st);
  assert_non_null(strstr(st.json, "\"Title\":\"second\""));
  /* FAILED (first entry) -> PASSED (second): NEW became RESOLVED. */
  assert_string_equal(st.workflow, "RESOLVED");
  /* The provider's Note on an existing finding is not taken. */
  assert_null(strstr(st.json, "prov"));
  t_query_eq(s,
             "SELECT title || '/' || compliance_status FROM findings"
             " WHERE id = 'd-1'",
             "second/PASSED");
  get(s, "d-0", &st);
  assert_non_null(strstr(st.json, "\"Title\":\"zero again\""));
  assert_non_null(strstr(st.json, "\"Text\":\"keep\""));
  t_query_eq(s, "SELECT title FROM findings WHERE id = 'd-0'", "zero again");
  assert_int_equal(count(s), 2);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* The stored text is json_dumps's, byte for byte, and the size check
 * counts the same bytes. */
static void test_json_text(void **state)
{
  (void)state;
  const char *src =
      "{\"a\":\"q\\\"b\\\\s\\/\\n\\r\\t\\b\\f\\u0001\\u001f"
      "\\u0000x\\u00e9\\u20ac\\ud83d\\ude00\\u007f\",\"n\":[1,-2,"
      "9223372036854775807,1.5,1e300,-0.0,0.1,true,false,null,[],{}],"
      "\"k\\u0002ey\":{\"\\\"\":{\"deep\":[[[\"x\"]]]}},\"\":\"\"}";
  json_error_t e;
  json_t *j = json_loads(src, JSON_ALLOW_NUL, &e);
  assert_non_null(j);
  char *want = json_dumps(j, JSON_COMPACT);
  assert_non_null(want);
  ch_buf b;
  ch_buf_init(&b, 1 << 20);
  assert_int_equal(ch_findings_json_text(j, &b), CH_OK);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  assert_int_equal(b.data[b.len], '\0');
  assert_int_equal(ch_findings_json_size(j), strlen(want));
  /* Reused buffer: reset, not appended to. */
  assert_int_equal(ch_findings_json_text(json_object_get(j, "n"), &b), CH_OK);
  free(want);
  want = json_dumps(json_object_get(j, "n"), JSON_COMPACT);
  assert_string_equal(b.data, want);
  free(want);
  ch_buf_free(&b);
  json_decref(j);
}

static void test_time(void **state)
{
  (void)state;
  int64_t ms = 0;
  char out[32];
  assert_int_equal(ch_findings_time_ms("2017-03-22T13:22:13.933Z", &ms),
                   CH_OK);
  assert_int_equal(ms, 1490188933933LL);
  ch_findings_time_format(ms, out);
  assert_string_equal(out, "2017-03-22T13:22:13.933Z");
  assert_int_equal(ch_findings_time_ms("2017-03-22T14:22:13.9+01:00", &ms),
                   CH_OK);
  assert_int_equal(ms, 1490188933900LL);
  assert_int_equal(ch_findings_time_ms("2017-03-22", &ms), CH_ERR_PARSE);
  assert_int_equal(ch_findings_time_ms("", &ms), CH_ERR_PARSE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_import),
      cmocka_unit_test(test_required_fields),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_map_limits),
      cmocka_unit_test(test_upsert),
      cmocka_unit_test(test_atomic),
      cmocka_unit_test(test_batch_in_order),
      cmocka_unit_test(test_json_text),
      cmocka_unit_test(test_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
