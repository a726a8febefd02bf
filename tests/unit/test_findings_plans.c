/*
 * The findings store's optimised query plans give what the plain plans
 * give: insights answered from findings_counts (migration 16) and sorts
 * served by an index, after imports, re-imports that move findings between
 * counts, customer updates and retention. Each request runs twice, with
 * ch_sq_findq_mode AUTO, PLAIN (and COMBO for queries), and the responses
 * (every page) must be byte for byte the same.
 */
#include <jansson.h>
#include <time.h>

#include "certhub/findings.h"
#include "certhub/findings_query.h"
#include "store/store_sqlite_int.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"
#define DAY_S 86400

static const char *const sev[] = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH",
                                  "CRITICAL"};
static const char *const wf[] = {"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"};
static const char *const comp[] = {"PASSED", "WARNING", "FAILED",
                                   "NOT_AVAILABLE", NULL};
static const char *const regions[] = {"us-east-1", "eu-west-1", "eu-west-2"};
static const char *const rtype[] = {"AwsCertificateManagerCertificate",
                                    "AwsElbLoadBalancer", "Other"};

static unsigned mix(unsigned x)
{
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* Findings from..to-1; round r shifts severity and compliance so a
 * re-import moves findings between counts. UpdatedAt: `updated` (seconds)
 * minus up to a day. */
static void import_range(certhub_store *s, int from, int to, int r,
                         int64_t updated, int64_t now)
{
  /* calls of at most 100 findings */
  for(; to - from > 100; from += 100)
    import_range(s, from, from + 100, r, updated, now);
  json_t *arr = json_array();
  for(int k = from; k < to; k++) {
    unsigned h = mix((unsigned)k);
    char id[64], acct[16], title[96], ts[32];
    snprintf(id, sizeof(id), "f%04d", k);
    snprintf(acct, sizeof(acct), "%012u", 100u + h % 5);
    /* Some titles tie, so the sort's tie-break is exercised. */
    snprintf(title, sizeof(title), "Certificate host-%u.example expires",
             (h >> 4) % 97);
    time_t t = (time_t)(updated - (int64_t)(h % DAY_S));
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *f = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s],"
        " s:{s:s}, s:s, s:[{s:s, s:s}]}",
        "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
        "GeneratorId", "gen", "AwsAccountId", acct, "Region",
        regions[(h >> 8) % 3], "CreatedAt", "2026-08-01T00:00:00Z",
        "UpdatedAt", ts, "Title", title, "Description", "d", "Types",
        "Software and Configuration Checks", "Severity", "Label",
        sev[((h >> 11) + (unsigned)r) % 5], "RecordState",
        (h >> 14) % 4 ? "ACTIVE" : "ARCHIVED", "Resources", "Type",
        rtype[(h >> 17) % 3], "Id", "arn:certhub:acm:local:0:certificate/x");
    assert_non_null(f);
    const char *c = comp[((h >> 20) + (unsigned)r) % 5];
    json_object_set_new(f, "Workflow",
                        json_pack("{s:s}", "Status", wf[(h >> 23) % 4]));
    if(c)
      json_object_set_new(f, "Compliance", json_pack("{s:s}", "Status", c));
    json_array_append_new(arr, f);
  }
  char *txt = json_dumps(arr, JSON_COMPACT);
  certhub_import_result res;
  ch_err rc = certhub_findings_import(s, txt, strlen(txt), now, &res);
  if(rc)
    fail_msg("import: rc %d: %s %s", rc, res.error, certhub_store_errmsg(s));
  if(res.failed)
    fail_msg("import: %s", res.failures[0].message);
  certhub_import_result_free(&res);
  free(txt);
  json_decref(arr);
}

/* Customer updates: findings k % 7 == 0 of 0..n-1 get workflow and
 * severity. */
static void update_some(certhub_store *s, int n, int64_t now)
{
  json_t *ids = json_array();
  for(int k = 0; k < n; k += 7) {
    char id[64];
    snprintf(id, sizeof(id), "f%04d", k);
    json_array_append_new(
        ids, json_pack("{s:s, s:s}", "Id", id, "ProductArn", PARN));
  }
  json_t *req = json_pack("{s:o, s:{s:s}, s:{s:s}}", "FindingIdentifiers", ids,
                          "Workflow", "Status", "SUPPRESSED", "Severity",
                          "Label", "LOW");
  char *txt = json_dumps(req, JSON_COMPACT), *out = NULL;
  size_t len = 0;
  assert_int_equal(
      certhub_findings_update_json(s, txt, strlen(txt), now, &out, &len),
      CH_OK);
  free(out);
  free(txt);
  json_decref(req);
}

typedef ch_err (*api_fn)(certhub_store *, const char *, size_t, char **,
                         size_t *);

/* noinline: GCC -O3 otherwise reports a false dangling-pointer warning */
static __attribute__((noinline)) char *run(certhub_store *s, api_fn fn,
                                          const char *req, int mode)
{
  char *out = NULL;
  size_t len = 0;
  ch_sq_findq_mode = mode;
  ch_err rc = fn(s, req, strlen(req), &out, &len);
  ch_sq_findq_mode = CH_SQ_FINDQ_AUTO;
  if(rc)
    fail_msg("%s (mode %d): %s", req, mode, certhub_store_errmsg(s));
  return out;
}

/* Every page of a GetFindings request, responses joined by newlines. */
static char *all_pages(certhub_store *s, const char *req, int mode, int *pages)
{
  char *acc = strdup(""), cur[4096];
  snprintf(cur, sizeof(cur), "%s", req);
  *pages = 0;
  for(;;) {
    char *out = run(s, certhub_findings_query_json, cur, mode);
    size_t n = strlen(acc);
    acc = realloc(acc, n + strlen(out) + 2);
    assert_non_null(acc);
    snprintf(acc + n, strlen(out) + 2, "%s\n", out);
    ++*pages;
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    const char *tok = json_string_value(json_object_get(o, "NextToken"));
    if(!tok) {
      json_decref(o);
      free(out);
      break;
    }
    /* req with its closing brace replaced by the token */
    snprintf(cur, sizeof(cur), "%.*s,\"NextToken\":\"%s\"}",
             (int)strlen(req) - 1, req, tok);
    json_decref(o);
    free(out);
    assert_true(*pages < 500);
  }
  return acc;
}

static const char *const insights[] = {
    "{\"GroupByAttribute\":\"SeverityLabel\"}",
    "{\"GroupByAttribute\":\"SeverityLabel\",\"Filters\":{\"RecordState\":"
    "[{\"Value\":\"ACTIVE\",\"Comparison\":\"EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"AwsAccountId\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"FAILED\",\"Comparison\":"
    "\"EQUALS\"}]}}",
    /* absent statuses group as "" and match negative filters */
    "{\"GroupByAttribute\":\"ComplianceStatus\"}",
    "{\"GroupByAttribute\":\"ComplianceStatus\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"PASSED\",\"Comparison\":"
    "\"NOT_EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"AwsAccountId\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"P\",\"Comparison\":"
    "\"PREFIX_NOT_EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"RecordState\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"ED\",\"Comparison\":"
    "\"NOT_CONTAINS\"}]}}",
    "{\"GroupByAttribute\":\"Region\",\"Filters\":{\"AwsAccountId\":[{"
    "\"Value\":\"00000000010\",\"Comparison\":\"PREFIX\"}],"
    "\"WorkflowStatus\":[{\"Value\":\"RESOLVED\",\"Comparison\":"
    "\"NOT_EQUALS\"},{\"Value\":\"SUPPRESSED\",\"Comparison\":"
    "\"NOT_EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"WorkflowStatus\",\"Filters\":{"
    "\"SeverityLabel\":[{\"Value\":\"HIGH\",\"Comparison\":\"EQUALS\"},{"
    "\"Value\":\"CRITICAL\",\"Comparison\":\"EQUALS\"}],\"Region\":[{"
    "\"Value\":\"west\",\"Comparison\":\"CONTAINS\"}]}}",
    "{\"GroupByAttribute\":\"ComplianceStatus\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"FAILED\",\"Comparison\":\"EQUALS\"},"
    "{\"Value\":\"WARN\",\"Comparison\":\"PREFIX\"}],\"SeverityLabel\":[{"
    "\"Value\":\"LOW\",\"Comparison\":\"NOT_EQUALS\"}]}}",
    /* PREFIX "" is "present": absent statuses must not match */
    "{\"GroupByAttribute\":\"SeverityLabel\",\"Filters\":{"
    "\"ComplianceStatus\":[{\"Value\":\"\",\"Comparison\":"
    "\"PREFIX\"}]}}",
    /* not answerable from the counts: both runs take the plain plan */
    "{\"GroupByAttribute\":\"ResourceType\",\"Filters\":{\"SeverityLabel\":"
    "[{\"Value\":\"HIGH\",\"Comparison\":\"EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"SeverityLabel\",\"Filters\":{\"Title\":[{"
    "\"Value\":\"Certificate host-1\",\"Comparison\":\"PREFIX\"}]}}",
    /* findings_by_region_type (migration 18), the resource type alone */
    "{\"GroupByAttribute\":\"Region\",\"Filters\":{\"ResourceType\":[{"
    "\"Value\":\"Other\",\"Comparison\":\"EQUALS\"}]}}",
    "{\"GroupByAttribute\":\"ResourceType\",\"Filters\":{\"Region\":[{"
    "\"Value\":\"us-east-1\",\"Comparison\":\"EQUALS\"}]}}",
};

static const char *const queries[] = {
    "{\"Filters\":{\"Title\":[{\"Value\":\"Certificate host-1\","
    "\"Comparison\":\"PREFIX\"}]},\"SortCriteria\":[{\"Field\":\"Title\","
    "\"SortOrder\":\"asc\"}],\"MaxResults\":7}",
    "{\"Filters\":{\"Title\":[{\"Value\":\"Certificate host-\","
    "\"Comparison\":\"PREFIX\"}],\"ResourceType\":[{\"Value\":\"Other\","
    "\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":"
    "\"INFORMATIONAL\",\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":[{"
    "\"Field\":\"Title\",\"SortOrder\":\"desc\"}],\"MaxResults\":9}",
    "{\"Filters\":{\"ComplianceStatus\":[{\"Value\":\"FAILED\","
    "\"Comparison\":\"EQUALS\"},{\"Value\":\"PASSED\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"ComplianceStatus\","
    "\"SortOrder\":\"asc\"},{\"Field\":\"UpdatedAt\",\"SortOrder\":"
    "\"desc\"}],\"MaxResults\":11}",
    "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"000000000102\","
    "\"Comparison\":\"EQUALS\"}],\"ComplianceStatus\":[{\"Value\":"
    "\"FAILED\",\"Comparison\":\"EQUALS\"}],\"Region\":[{\"Value\":"
    "\"eu-west-1\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
    "\"Field\":\"SeverityLabel\",\"SortOrder\":\"desc\"}],\"MaxResults\":3}",
    /* dimensions with a date range and a region checked in the index */
    "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"000000000103\","
    "\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":\"HIGH\","
    "\"Comparison\":\"EQUALS\"},{\"Value\":\"LOW\",\"Comparison\":"
    "\"EQUALS\"}],\"Region\":[{\"Value\":\"eu-\",\"Comparison\":"
    "\"PREFIX\"}],\"UpdatedAt\":[{\"DateRange\":{\"Value\":30,\"Unit\":"
    "\"DAYS\"}}]},\"SortCriteria\":[{\"Field\":\"UpdatedAt\","
    "\"SortOrder\":\"desc\"}],\"MaxResults\":2}",
    "{\"Filters\":{\"Title\":[{\"Value\":\"host-2\",\"Comparison\":"
    "\"CONTAINS\"}]},\"SortCriteria\":[{\"Field\":\"Title\",\"SortOrder\":"
    "\"asc\"}],\"MaxResults\":5}",
    /* dimensions without the account: the combination plan */
    "{\"Filters\":{\"SeverityLabel\":[{\"Value\":\"HIGH\",\"Comparison\":"
    "\"EQUALS\"}],\"ComplianceStatus\":[{\"Value\":\"FAILED\","
    "\"Comparison\":\"EQUALS\"},{\"Value\":\"WARNING\",\"Comparison\":"
    "\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
    "\"Comparison\":\"NOT_EQUALS\"}],\"Region\":[{\"Value\":\"eu-west-1\","
    "\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
    "\"Title\",\"SortOrder\":\"asc\"}],\"MaxResults\":4}",
    /* a negative filter admits absent values: the sort keeps coalesce */
    "{\"Filters\":{\"ComplianceStatus\":[{\"Value\":\"FAILED\","
    "\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
    "\"ComplianceStatus\",\"SortOrder\":\"desc\"}],\"MaxResults\":40}",
    /* Q_RT..: findings_by_region_type (migration 18). Region, resource
     * type and workflow seeked, the severity order from the index. */
    "{\"Filters\":{\"Region\":[{\"Value\":\"eu-west-1\",\"Comparison\":"
    "\"EQUALS\"}],\"ResourceType\":[{\"Value\":\"AwsElbLoadBalancer\","
    "\"Comparison\":\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":\"NEW\","
    "\"Comparison\":\"EQUALS\"},{\"Value\":\"NOTIFIED\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"SeverityLabel\","
    "\"SortOrder\":\"desc\"}],\"MaxResults\":3}",
    /* resource type without a region: every region seeked */
    "{\"Filters\":{\"ResourceType\":[{\"Value\":\"Other\",\"Comparison\":"
    "\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":\"HIGH\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"UpdatedAt\","
    "\"SortOrder\":\"desc\"}],\"MaxResults\":4}",
    /* ... and with a negative region filter, a region prefix */
    "{\"Filters\":{\"ResourceType\":[{\"Value\":\"Aws\",\"Comparison\":"
    "\"PREFIX\"}],\"Region\":[{\"Value\":\"eu-west-2\",\"Comparison\":"
    "\"NOT_EQUALS\"}],\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
    "\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":\"HIGH\","
    "\"Comparison\":\"EQUALS\"},{\"Value\":\"LOW\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
    "\"SeverityLabel\",\"SortOrder\":\"asc\"},{\"Field\":\"Title\","
    "\"SortOrder\":\"desc\"}],\"MaxResults\":6}",
    "{\"Filters\":{\"Region\":[{\"Value\":\"eu-\",\"Comparison\":"
    "\"PREFIX\"}],\"ResourceType\":[{\"Value\":\"AwsCertificateManager"
    "Certificate\",\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{"
    "\"Value\":\"LOW\",\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":"
    "[{\"Field\":\"Region\",\"SortOrder\":\"desc\"}],\"MaxResults\":8}",
    /* Q_BROAD..: broad filters, the default sort (issue 6) */
    "{\"Filters\":{\"Region\":[{\"Value\":\"eu-west-2\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"UpdatedAt\","
    "\"SortOrder\":\"desc\"}],\"MaxResults\":7}",
    "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"000000000101\","
    "\"Comparison\":\"EQUALS\"}]},\"MaxResults\":6}",
    "{\"Filters\":{\"WorkflowStatus\":[{\"Value\":\"NEW\","
    "\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
    "\"UpdatedAt\",\"SortOrder\":\"desc\"}],\"MaxResults\":8}",
    "{\"Filters\":{\"SeverityLabel\":[{\"Value\":\"MEDIUM\","
    "\"Comparison\":\"EQUALS\"}],\"RecordState\":[{\"Value\":"
    "\"ACTIVE\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
    "\"Field\":\"UpdatedAt\",\"SortOrder\":\"desc\"}],\"MaxResults\":5}",
    "{\"Filters\":{\"Region\":[{\"Value\":\"us-east-1\",\"Comparison\":"
    "\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
    "\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
    "\"UpdatedAt\",\"SortOrder\":\"desc\"}],\"MaxResults\":9}",
    /* ascending, and a negative filter off the dimensions */
    "{\"Filters\":{\"Region\":[{\"Value\":\"eu-\",\"Comparison\":"
    "\"PREFIX\"}],\"ResourceType\":[{\"Value\":\"Other\",\"Comparison\":"
    "\"NOT_EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"UpdatedAt\","
    "\"SortOrder\":\"asc\"}],\"MaxResults\":10}",
    /* a filter of unknown share (CONTAINS) might keep next to nothing:
     * the walk could read every row, more than twice the region's */
    "{\"Filters\":{\"Region\":[{\"Value\":\"eu-west-1\",\"Comparison\":"
    "\"EQUALS\"}],\"Title\":[{\"Value\":\"host-1\",\"Comparison\":"
    "\"CONTAINS\"}]},\"MaxResults\":3}",
};
/* The first query of findings_by_region_type's shapes. */
#define Q_RT 8
/* The first of the broad ones; walk[i - Q_BROAD]: whether the cost model
 * must choose the walk of findings_by_updated (1), must not (0), or may
 * either way with this data (-1). Region alone and the region shapes
 * walk; account alone, workflow alone and severity + ACTIVE weigh the walk
 * against reading their counted combinations (since migration 17 no
 * single-field index is in UpdatedAt order), and on this small set the
 * choice flips once the prune removed a quarter of it; a CONTAINS filter
 * of unknown share never walks. Whatever is chosen, the rows must equal
 * the plain plan's (below). */
#define Q_BROAD 12
static const int walk[] = {1, -1, -1, -1, 1, 1, 0};

/* big: the 300-finding set, where most queries have several pages. */
static void compare_all(certhub_store *s, bool big)
{
  for(size_t i = 0; i < sizeof(insights) / sizeof(*insights); i++) {
    char *a =
        run(s, certhub_findings_insight_json, insights[i], CH_SQ_FINDQ_AUTO);
    char *b =
        run(s, certhub_findings_insight_json, insights[i], CH_SQ_FINDQ_PLAIN);
    if(strcmp(a, b))
      fail_msg("insight %s:\n optimised %s\n plain     %s", insights[i], a, b);
    /* a test that cannot fail would prove nothing: the data has groups */
    assert_non_null(strstr(a, "\"Count\":"));
    free(a);
    free(b);
  }
  unsigned long combos = ch_sq_findq_combos;
  unsigned long by_rt;
  for(size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++) {
    int pa = 0, pb = 0, pc = 0, pw = 0;
    by_rt = ch_sq_findq_region_type;
    char *a = all_pages(s, queries[i], CH_SQ_FINDQ_AUTO, &pa);
    /* the new shapes take findings_by_region_type (every page) */
    if(i >= Q_RT && i < Q_BROAD &&
       ch_sq_findq_region_type < by_rt + (unsigned long)pa)
      fail_msg("query %s: %lu of %d pages by findings_by_region_type",
               queries[i], ch_sq_findq_region_type - by_rt, pa);
    /* (the cost model's choice on the 300-finding set) */
    if(big && i >= Q_BROAD) {
      unsigned long walks = ch_sq_findq_walks;
      char *w = all_pages(s, queries[i], CH_SQ_FINDQ_AUTO, &pw);
      free(w);
      int want = walk[i - Q_BROAD];
      if(want >= 0 && (want ? walks + (unsigned long)pw != ch_sq_findq_walks
                            : walks != ch_sq_findq_walks))
        fail_msg("query %s: %lu of %d pages walked findings_by_updated",
                 queries[i], ch_sq_findq_walks - walks, pw);
    }
    char *b = all_pages(s, queries[i], CH_SQ_FINDQ_PLAIN, &pb);
    char *c = all_pages(s, queries[i], CH_SQ_FINDQ_COMBO, &pc);
    /* the walk forced wherever the sort allows it */
    unsigned long walks = ch_sq_findq_walks;
    char *w = all_pages(s, queries[i], CH_SQ_FINDQ_WALK, &pw);
    if(i >= Q_BROAD && walks + (unsigned long)pw != ch_sq_findq_walks)
      fail_msg("query %s: forced, %lu of %d pages walked", queries[i],
               ch_sq_findq_walks - walks, pw);
    if(strcmp(a, b) || strcmp(c, b) || strcmp(w, b))
      fail_msg("query %s: pages differ (%d chosen, %d plain, %d combination,"
               " %d walk)",
               queries[i], pa, pb, pc, pw);
    free(w);
    if(big && pa < 2 && i != 3 && i != 5)
      fail_msg("query %s: one page only", queries[i]);
    assert_non_null(strstr(a, "\"SchemaVersion\""));
    free(a);
    free(b);
    free(c);
  }
  /* the combination plan ran (every page of the queries on dimensions) */
  assert_true(ch_sq_findq_combos >= combos + (big ? 10 : 3));
}

/* findings_counts holds exactly the counts of the findings table. */
static void counts_exact(certhub_store *s)
{
  const char *grouped =
      "SELECT severity_label, record_state, workflow_status,"
      " coalesce(compliance_status, ''), aws_account_id, count(*)"
      " FROM findings GROUP BY 1, 2, 3, 4, 5";
  const char *kept = "SELECT severity_label, record_state, workflow_status,"
                     " compliance_status, aws_account_id, n"
                     " FROM findings_counts WHERE n > 0";
  char sql[1024];
  snprintf(sql, sizeof(sql),
           "SELECT (SELECT count(*) FROM (%s EXCEPT %s)) + (SELECT count(*)"
           " FROM (%s EXCEPT %s))",
           grouped, kept, kept, grouped);
  t_query_eq(s, sql, "0");
  t_query_eq(s, "SELECT count(*) FROM findings_counts WHERE n < 0", "0");
}

/* The cache of findings_counts' sums answers a repeated request, and a
 * write makes it miss. */
static void cache_check(certhub_store *s, int from)
{
  const char *req = queries[Q_BROAD + 3];
  free(run(s, certhub_findings_query_json, req, CH_SQ_FINDQ_AUTO));
  unsigned long h = ch_sq_findq_cache_hits;
  free(run(s, certhub_findings_query_json, req, CH_SQ_FINDQ_AUTO));
  assert_true(ch_sq_findq_cache_hits == h + 1);
  import_range(s, from, from + 1, 3, T_NOW - DAY_S, T_NOW + 120);
  free(run(s, certhub_findings_query_json, req, CH_SQ_FINDQ_AUTO));
  assert_true(ch_sq_findq_cache_hits == h + 1);
}

static void test_plans_agree(void **state)
{
  (void)state;
  tdir d;
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  /* 0..99 old (pruned below), 100..399 current */
  import_range(s, 0, 100, 0, T_NOW - 100 * DAY_S, T_NOW - 99 * DAY_S);
  import_range(s, 100, 400, 0, T_NOW - 10 * DAY_S, T_NOW);
  counts_exact(s);
  compare_all(s, true);

  /* Re-imports, newer: severity and compliance move (some lose theirs). */
  import_range(s, 100, 250, 1, T_NOW - 5 * DAY_S, T_NOW);
  update_some(s, 400, T_NOW + 60);
  counts_exact(s);
  compare_all(s, true);
  cache_check(s, 120);

  uint64_t n = 0;
  assert_int_equal(certhub_findings_prune(s, T_NOW, 30, &n), CH_OK);
  /* the old ones but the 15 updated by a customer since */
  assert_int_equal(n, 85);
  t_query_eq(s, "SELECT count(*) FROM findings", "315");
  counts_exact(s);
  compare_all(s, true);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A database from before migration 16 gets its counts on open. */
static void test_counts_migration(void **state)
{
  (void)state;
  tdir d;
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  import_range(s, 0, 120, 0, T_NOW - DAY_S, T_NOW);
  free(t_query(s, "DROP TRIGGER findings_counts_update"));
  free(t_query(s, "DROP TRIGGER findings_counts_delete"));
  free(t_query(s, "DROP TABLE findings_counts"));
  free(t_query(s, "DROP INDEX findings_by_dims"));
  free(t_query(s, "CREATE INDEX findings_by_compliance ON"
                  " findings(compliance_status)"));
  free(t_query(s, "CREATE INDEX findings_by_state_severity ON"
                  " findings(record_state, severity_label)"));
  /* 19 after 16 again: it drops the insert trigger 16 makes. */
  free(t_query(s, "DELETE FROM schema_migrations WHERE version IN (16, 19)"));
  certhub_store_close(s);
  s = t_open(d.db);
  t_query_eq(s, "SELECT sum(n) FROM findings_counts", "120");
  counts_exact(s);
  /* and new findings are counted once (19 dropped 16's insert trigger
   * again) */
  import_range(s, 120, 150, 0, T_NOW - DAY_S, T_NOW);
  t_query_eq(s, "SELECT sum(n) FROM findings_counts", "150");
  counts_exact(s);
  compare_all(s, false);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plans_agree),
      cmocka_unit_test(test_counts_migration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
