/*
 * BatchImportFindings, default path against the plain one: the default
 * path prepares each finding's new form before the writer, inserts it when
 * the lookup finds no stored finding, and decides "not newer" from the
 * updated_at column without parsing the stored finding;
 * CH_FINDINGS_IMPORT_PLAIN is the path before that (every stored finding
 * parsed, the new form built under the writer, update then insert). Random
 * calls (new, updated, repeated and stale Ids, Ids repeated inside a call,
 * customer fields, FindingProviderFields, invalid findings) and customer
 * updates (BatchUpdateFindings) run against three stores: the plain path,
 * the default path (certhub_findings_import: prepare, then apply) and the
 * in-process path (ch_findings_import_array, as events and probes import);
 * their answers and stored rows must be the same after every call.
 */
#include <jansson.h>

#include "certhub/findings.h"
#include "certhub/store_hub.h"
#include "findings/findings_int.h"
#include "test_store_util.h"

#define PARN_A                                                                \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"
#define PARN_B "arn:aws:securityhub:eu-west-1:111111111111:product/x/y"

/* The Id pool: IDS, and one more per call, so calls hit stored findings
 * and keep bringing new ones. */
#define IDS 40
#define T0_MS 1793491200000LL /* 2026-11-01T00:00:00Z */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
  /* xorshift64*: the same sequence on every machine. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (unsigned)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static const char *pick(const char *const *set, size_t n)
{
  return set[rnd((unsigned)n)];
}

#define PICK(set) pick(set, CH_ARRAY_LEN(set))

static const char *const labels[] = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH",
                                     "CRITICAL"};
static const char *const types[] = {
    "Software and Configuration Checks/Certificate Expiry",
    "Software and Configuration Checks/Industry and Regulatory Standards",
    "Effects/Data Exposure",
};

/* A severity object: Label, Normalized or both. */
static json_t *severity(void)
{
  switch(rnd(3)) {
  case 0:
    return json_pack("{s:s}", "Label", PICK(labels));
  case 1:
    return json_pack("{s:i}", "Normalized", (int)rnd(101));
  default:
    return json_pack("{s:s, s:i, s:s}", "Label", PICK(labels), "Normalized",
                     (int)rnd(101), "Original", "7");
  }
}

static json_t *type_list(void)
{
  json_t *a = json_array();
  unsigned n = 1 + rnd(2);
  for(unsigned i = 0; i < n; i++)
    json_array_append_new(a, json_string(PICK(types)));
  return a;
}

static json_t *related(void)
{
  return json_pack("[{s:s, s:s}]", "ProductArn", PARN_A, "Id",
                   rnd(2) ? "rel-1" : "rel-2");
}

/* One random finding; valid unless the dice say otherwise. */
static json_t *random_finding(int c)
{
  static const char *const workflow[] = {"NEW", "NOTIFIED", "RESOLVED",
                                         "SUPPRESSED"};
  static const char *const states[] = {"ACTIVE", "ARCHIVED"};
  static const char *const compliance[] = {"PASSED", "WARNING", "FAILED",
                                           "NOT_AVAILABLE"};
  char id[32], updated[32], title[48];
  unsigned k = rnd(IDS + (unsigned)c);
  snprintf(id, sizeof(id), "f-%u", k);
  /* Times move on an hour per call, four hours back to two ahead, in steps of
   * a quarter of an hour: equal, older and newer UpdatedAt all come up. */
  ch_findings_time_format(T0_MS + ((int64_t)c * 4 + rnd(25) - 16) * 900000 +
                              rnd(2) * 500,
                          updated);
  snprintf(title, sizeof(title), "Title %u", rnd(5));
  json_t *f = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o,"
      " s:[{s:s, s:s}]}",
      "SchemaVersion", "2018-10-08", "Id", id, "ProductArn",
      k % 7 == 3 ? PARN_B : PARN_A, "GeneratorId", rnd(2) ? "gen-1" : "gen-2",
      "AwsAccountId", "000000000000", "CreatedAt", "2026-11-01T00:00:00Z",
      "UpdatedAt", updated, "Title", title, "Description", "Something.",
      "Types", type_list(), "Severity", severity(), "Resources", "Type",
      rnd(2) ? "AwsCertificateManagerCertificate" : "Other", "Id",
      rnd(2) ? "res-1" : "res-2");
  assert_non_null(f);
  if(rnd(3) == 0)
    json_object_set_new(f, "Workflow",
                        rnd(4) ? json_pack("{s:s}", "Status", PICK(workflow))
                               : json_object());
  if(rnd(3) == 0)
    json_object_set_new(f, "RecordState", json_string(PICK(states)));
  if(rnd(2) == 0)
    json_object_set_new(f, "Compliance",
                        json_pack("{s:s}", "Status", PICK(compliance)));
  if(rnd(6) == 0)
    json_object_set_new(f, "Note",
                        json_pack("{s:s, s:s, s:s}", "Text", "provider note",
                                  "UpdatedBy", "provider", "UpdatedAt",
                                  "2026-11-01T00:00:00Z"));
  if(rnd(6) == 0)
    json_object_set_new(f, "UserDefinedFields",
                        json_pack("{s:s}", "owner", rnd(2) ? "a" : "b"));
  if(rnd(6) == 0)
    json_object_set_new(f, "VerificationState",
                        json_string(rnd(2) ? "TRUE_POSITIVE" : "UNKNOWN"));
  if(rnd(3) == 0)
    json_object_set_new(f, "Confidence", json_integer(rnd(101)));
  if(rnd(4) == 0)
    json_object_set_new(f, "Criticality", json_integer(rnd(101)));
  if(rnd(5) == 0)
    json_object_set_new(f, "RelatedFindings", related());
  if(rnd(4) == 0)
    json_object_set_new(f, "Region", json_string("eu-central-1"));
  if(rnd(4) == 0)
    json_object_set_new(f, "ProductName", json_string("certhub"));
  if(rnd(2) == 0) {
    json_t *fpf = json_object();
    if(rnd(2))
      json_object_set_new(fpf, "Severity", severity());
    if(rnd(3) == 0)
      json_object_set_new(fpf, "Types", type_list());
    if(rnd(3) == 0)
      json_object_set_new(fpf, "Confidence", json_integer(rnd(101)));
    if(rnd(3) == 0)
      json_object_set_new(fpf, "Criticality", json_integer(rnd(101)));
    if(rnd(4) == 0)
      json_object_set_new(fpf, "RelatedFindings", related());
    json_object_set_new(f, "FindingProviderFields", fpf);
  }
  if(rnd(25) == 0)
    json_object_del(f, "Title"); /* a FailedFindings entry */
  return f;
}

/* A customer's BatchUpdateFindings of a few Ids of the pool. */
static char *random_update(int c)
{
  static const char *const workflow[] = {"NEW", "NOTIFIED", "RESOLVED",
                                         "SUPPRESSED"};
  json_t *ids = json_array();
  unsigned n = 1 + rnd(4);
  for(unsigned i = 0; i < n; i++) {
    char id[32];
    unsigned k = rnd(IDS + (unsigned)c);
    snprintf(id, sizeof(id), "f-%u", k);
    json_array_append_new(ids, json_pack("{s:s, s:s}", "Id", id, "ProductArn",
                                         k % 7 == 3 ? PARN_B : PARN_A));
  }
  json_t *u = json_pack("{s:o}", "FindingIdentifiers", ids);
  switch(rnd(5)) {
  case 0:
    json_object_set_new(u, "Workflow",
                        json_pack("{s:s}", "Status", PICK(workflow)));
    break;
  case 1:
    json_object_set_new(u, "Severity",
                        json_pack("{s:s}", "Label", PICK(labels)));
    break;
  case 2:
    json_object_set_new(
        u, "Note",
        json_pack("{s:s, s:s}", "Text", "customer", "UpdatedBy", "alice"));
    break;
  case 3:
    json_object_set_new(u, "Confidence", json_integer(rnd(101)));
    json_object_set_new(u, "Types", type_list());
    break;
  default:
    json_object_set_new(u, "UserDefinedFields",
                        json_pack("{s:s}", "team", rnd(2) ? "x" : "y"));
    json_object_set_new(u, "VerificationState", json_string("FALSE_POSITIVE"));
  }
  char *text = json_dumps(u, JSON_COMPACT);
  json_decref(u);
  assert_non_null(text);
  return text;
}

/* All stored rows of a store as one string, in the list's order. */
static ch_err flatten(void *ctx, const certhub_finding_row *f)
{
  ch_buf *b = ctx;
  return ch_buf_printf(
      b,
      "%s|%s|%s|%s|%s|%s|%s|%s|%s|%lld|%lld|%lld|%lld|%s|%s|"
      "%s|%s|%s\n",
      f->product_arn, f->id, f->generator_id, f->aws_account_id, f->region,
      f->severity_label, f->workflow_status, f->record_state, f->resource_id,
      (long long)f->created_at, (long long)f->updated_at,
      (long long)f->first_observed_at, (long long)f->last_observed_at, f->json,
      f->title ? f->title : "(null)",
      f->compliance_status ? f->compliance_status : "(null)",
      f->resource_type ? f->resource_type : "(null)",
      f->product_name ? f->product_name : "(null)");
}

/* The insight counts: findings_counts' rows, which must be the counts of
 * the findings table. */
#define COUNTS_TEXT(q)                                                        \
  "SELECT coalesce(group_concat(k, ';'), '') FROM (SELECT c0 || '/' || c1"    \
  " || '/' || c2 || '/' || c3 || '/' || c4 || '=' || c5 AS k FROM (" q ")"    \
  " ORDER BY k)"

static char *rows_of(certhub_store *s)
{
  ch_buf b;
  ch_buf_init(&b, (size_t)64 << 20);
  assert_int_equal(certhub_findings_list(s, NULL, flatten, &b), CH_OK);
  char *kept = t_query(
      s, COUNTS_TEXT("SELECT severity_label AS c0, record_state AS c1,"
                     " workflow_status AS c2, compliance_status AS c3,"
                     " aws_account_id AS c4, n AS c5 FROM findings_counts"
                     " WHERE n <> 0"));
  char *grouped = t_query(
      s, COUNTS_TEXT("SELECT severity_label AS c0, record_state AS c1,"
                     " workflow_status AS c2,"
                     " coalesce(compliance_status, '') AS c3,"
                     " aws_account_id AS c4, count(*) AS c5 FROM findings"
                     " GROUP BY 1, 2, 3, 4, 5"));
  assert_non_null(kept);
  assert_non_null(grouped);
  assert_string_equal(kept, grouped);
  assert_int_equal(ch_buf_printf(&b, "counts %s\n", kept), CH_OK);
  free(kept);
  free(grouped);
  assert_int_equal(ch_buf_add(&b, "", 1), CH_OK);
  return b.data;
}

/* An answer as text: the code, the counts and the response body. */
static char *answer(ch_err rc, certhub_import_result *r)
{
  char *json = NULL, *out = NULL;
  size_t len = 0;
  assert_int_equal(certhub_import_result_json(r, &json, &len), CH_OK);
  assert_true(asprintf(&out, "rc=%d success=%zu created=%zu unchanged=%zu %s",
                       (int)rc, r->success, r->created, r->unchanged,
                       json) > 0);
  free(json);
  certhub_import_result_free(r);
  return out;
}

enum { PLAIN, PREPARED, ARRAY, NSTORES };

/* Not inlined: through an array index the compiler loses the size of
 * d->path and warns about the helpers' snprintf. */
__attribute__((noinline)) static certhub_store *store_make(tdir *d)
{
  tdir_make(d);
  return t_open(d->db);
}

__attribute__((noinline)) static void store_drop(tdir *d, certhub_store *s)
{
  certhub_store_close(s);
  tdir_remove(d);
}

static char *import_into(certhub_store *s, int how, const char *text,
                         int64_t now)
{
  certhub_import_result r;
  memset(&r, 0, sizeof(r));
  ch_err rc;
  ch_findings_import_mode =
      how == PLAIN ? CH_FINDINGS_IMPORT_PLAIN : CH_FINDINGS_IMPORT_AUTO;
  if(how == ARRAY) {
    json_t *arr = json_loads(text, 0, NULL);
    assert_non_null(arr);
    /* As events import: inside the caller's transaction. */
    assert_int_equal(certhub_store_begin(s), CH_OK);
    rc = ch_findings_import_array(s, arr, now, &r);
    assert_int_equal(certhub_store_commit(s), CH_OK);
    json_decref(arr);
  }
  else
    rc = certhub_findings_import(s, text, strlen(text), now, &r);
  ch_findings_import_mode = CH_FINDINGS_IMPORT_AUTO;
  return answer(rc, &r);
}

static void run_series(uint64_t seed, int calls)
{
  tdir d[NSTORES];
  certhub_store *s[NSTORES];
  size_t written = 0, unchanged = 0, created = 0;
  rng_state = seed;
  for(int k = 0; k < NSTORES; k++)
    s[k] = store_make(&d[k]);
  for(int c = 0; c < calls; c++) {
    int64_t now = T_NOW + c;
    if(rnd(6) == 0) {
      char *req = random_update(c), *out[NSTORES];
      for(int k = 0; k < NSTORES; k++) {
        size_t len = 0;
        out[k] = NULL;
        assert_int_equal(certhub_findings_update_json(s[k], req, strlen(req),
                                                      now, &out[k], &len),
                         CH_OK);
      }
      for(int k = 1; k < NSTORES; k++)
        assert_string_equal(out[k], out[PLAIN]);
      for(int k = 0; k < NSTORES; k++)
        free(out[k]);
      free(req);
    }
    else {
      json_t *arr = json_array();
      unsigned n = 1 + rnd(30);
      for(unsigned i = 0; i < n; i++)
        json_array_append_new(arr, random_finding(c));
      char *text = json_dumps(arr, JSON_COMPACT);
      json_decref(arr);
      assert_non_null(text);
      char *ans[NSTORES];
      for(int k = 0; k < NSTORES; k++)
        ans[k] = import_into(s[k], k, text, now);
      for(int k = 1; k < NSTORES; k++)
        if(strcmp(ans[k], ans[PLAIN]))
          fail_msg("call %d (seed %llu), store %d answered\n%s\nthe plain "
                   "path\n%s\nrequest: %s",
                   c, (unsigned long long)seed, k, ans[k], ans[PLAIN], text);
      unsigned long long sc = 0, cr = 0, un = 0;
      assert_int_equal(sscanf(ans[PLAIN],
                              "rc=%*d success=%llu created=%llu "
                              "unchanged=%llu",
                              &sc, &cr, &un),
                       3);
      written += sc - un;
      created += cr;
      unchanged += un;
      for(int k = 0; k < NSTORES; k++)
        free(ans[k]);
      free(text);
    }
    char *rows[NSTORES];
    for(int k = 0; k < NSTORES; k++)
      rows[k] = rows_of(s[k]);
    for(int k = 1; k < NSTORES; k++)
      if(strcmp(rows[k], rows[PLAIN]))
        fail_msg("call %d (seed %llu): store %d's rows differ from the "
                 "plain path's\n%s\n--- plain:\n%s",
                 c, (unsigned long long)seed, k, rows[k], rows[PLAIN]);
    for(int k = 0; k < NSTORES; k++)
      free(rows[k]);
  }
  print_message("seed %llu: %zu created, %zu updates written, %zu not newer\n",
                (unsigned long long)seed, created, written - created,
                unchanged);
  /* The series covered what it is for. */
  assert_true(created > 200);
  assert_true(written > created + 1000); /* updates of stored findings */
  assert_true(unchanged > 200);          /* imports that were not newer */
  for(int k = 0; k < NSTORES; k++)
    store_drop(&d[k], s[k]);
}

static void test_random_series(void **state)
{
  (void)state;
  run_series(0x9e3779b97f4a7c15ULL, 300);
  run_series(12345, 300);
}

/* Ids repeated inside one call, in the order new, stale, newer: the
 * second entry is ignored, the third merges over the first. */
static void test_repeat_in_call(void **state)
{
  (void)state;
  tdir d[2];
  certhub_store *s[2];
  const char *text =
      "[{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"r-1\",\"ProductArn\":"
      "\"" PARN_A "\",\"GeneratorId\":\"g\",\"AwsAccountId\":\"000000000000\","
      "\"CreatedAt\":\"2026-11-01T00:00:00Z\",\"UpdatedAt\":"
      "\"2026-11-02T00:00:00Z\",\"Title\":\"t\",\"Description\":\"d\","
      "\"Types\":[\"Effects/Data Exposure\"],\"Severity\":{\"Normalized\":"
      "50},\"Resources\":[{\"Type\":\"Other\",\"Id\":\"x\"}]},"
      "{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"r-1\",\"ProductArn\":"
      "\"" PARN_A "\",\"GeneratorId\":\"g\",\"AwsAccountId\":\"000000000000\","
      "\"CreatedAt\":\"2026-11-01T00:00:00Z\",\"UpdatedAt\":"
      "\"2026-11-02T00:00:00Z\",\"Title\":\"stale\",\"Description\":\"d\","
      "\"Types\":[\"Effects/Data Exposure\"],\"Severity\":{\"Label\":"
      "\"LOW\"},\"Resources\":[{\"Type\":\"Other\",\"Id\":\"x\"}]},"
      "{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"r-1\",\"ProductArn\":"
      "\"" PARN_A "\",\"GeneratorId\":\"g\",\"AwsAccountId\":\"000000000000\","
      "\"CreatedAt\":\"2026-11-01T00:00:00Z\",\"UpdatedAt\":"
      "\"2026-11-03T00:00:00Z\",\"Title\":\"newer\",\"Description\":\"d\","
      "\"Types\":[\"Effects/Data Exposure\"],\"Severity\":{\"Label\":"
      "\"HIGH\"},\"Workflow\":{\"Status\":\"SUPPRESSED\"},"
      "\"Resources\":[{\"Type\":\"Other\",\"Id\":\"x\"}]}]";
  char *ans[2], *rows[2];
  for(int k = 0; k < 2; k++) {
    s[k] = store_make(&d[k]);
    ans[k] = import_into(s[k], k == 0 ? PLAIN : PREPARED, text, T_NOW);
    rows[k] = rows_of(s[k]);
  }
  assert_string_equal(ans[1], ans[0]);
  assert_non_null(strstr(ans[1], "success=3 created=1 unchanged=1"));
  assert_string_equal(rows[1], rows[0]);
  /* The workflow stays the first entry's (a provider cannot change it);
   * the title is the newer one's. */
  assert_non_null(strstr(rows[1], "|HIGH|NEW|ACTIVE|"));
  assert_non_null(strstr(rows[1], "\"Title\":\"newer\""));
  for(int k = 0; k < 2; k++) {
    free(ans[k]);
    free(rows[k]);
    store_drop(&d[k], s[k]);
  }
}

/* The new forms' texts go one after the other into one buffer: each is
 * json_dumps' text, NUL-terminated; past the cap the call fails. */
static void test_json_append(void **state)
{
  (void)state;
  json_t *a = json_pack("{s:s, s:[i, b, n, s], s:{s:s}}", "k", "v \"q\"\n",
                        "arr", -12, 1, "\x01\\", "o", "x", "\xc3\xa9");
  json_t *c = json_pack("[s, {}]", "plain");
  assert_non_null(a);
  assert_non_null(c);
  char *wa = json_dumps(a, JSON_COMPACT), *wc = json_dumps(c, JSON_COMPACT);
  ch_buf b;
  ch_buf_init(&b, 4096);
  for(int round = 0; round < 40; round++) {
    size_t at = b.len;
    json_t *j = round % 2 ? c : a;
    const char *want = round % 2 ? wc : wa;
    assert_int_equal(ch_findings_json_append(j, &b), CH_OK);
    assert_int_equal(b.len - at, strlen(want));
    assert_string_equal(b.data + at, want);
    b.len++; /* keep the NUL, as speculative_new does */
  }
  assert_true(b.len <= 4096);
  /* Past the cap: refused, and the buffer (which ch_buf frees when it
   * cannot grow) is gone, not left half-written. */
  for(;;) {
    ch_err rc = ch_findings_json_append(a, &b);
    if(rc) {
      assert_int_equal(rc, CH_ERR_TOOBIG);
      assert_null(b.data);
      assert_int_equal(b.len, 0);
      break;
    }
    assert_true(b.len <= 4096);
    b.len++;
  }
  ch_buf_free(&b);
  free(wa);
  free(wc);
  json_decref(a);
  json_decref(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_series),
      cmocka_unit_test(test_repeat_in_call),
      cmocka_unit_test(test_json_append),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
