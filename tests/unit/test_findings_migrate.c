/*
 * Migration 15 on a store that has findings under the schema before it
 * (migration 10's virtual generated columns): nothing lost, rowids kept,
 * the query columns become stored ones, the indexes and hub triggers are
 * back, and queries and insights answer as before the migration.
 */
#include <jansson.h>
#include <sqlite3.h>

#include "certhub/findings.h"
#include "certhub/findings_query.h"
#include "certhub/store_hub.h"
#include "store/store_sqlite_int.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"
#define N 60

/* Findings that differ in every migrated column; some have no Compliance
 * and no ProductName (NULL columns). */
static char *batch(int from, int to)
{
  static const char *const cs[] = {"PASSED", "FAILED", "WARNING", NULL};
  static const char *const rt[] = {"AwsCertificateManagerCertificate", "Other",
                                   "Endpoint"};
  json_t *a = json_array();
  for(int i = from; i < to; i++) {
    char id[64], title[64], res[64];
    snprintf(id, sizeof(id), "f-%03d", i);
    snprintf(title, sizeof(title), "Title %d", i % 7);
    snprintf(res, sizeof(res), "res-%d", i);
    json_t *f = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s},"
        " s:[{s:s, s:s}]}",
        "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
        "GeneratorId", "gen", "AwsAccountId", "000000000000", "CreatedAt",
        "2026-11-01T00:00:00Z", "UpdatedAt", "2026-11-02T00:00:00Z", "Title",
        title, "Description", "d", "Types",
        "Software and Configuration Checks/Certificate Expiry", "Severity",
        "Label", i % 2 ? "HIGH" : "LOW", "Resources", "Type", rt[i % 3], "Id",
        res);
    if(cs[i % 4])
      json_object_set_new(f, "Compliance",
                          json_pack("{s:s}", "Status", cs[i % 4]));
    if(i % 5)
      json_object_set_new(f, "ProductName",
                          json_string(i % 2 ? "certhub" : "other"));
    json_array_append_new(a, f);
  }
  char *s = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  assert_non_null(s);
  return s;
}

static void import(certhub_store *s, int from, int to)
{
  certhub_import_result r;
  char *text = batch(from, to);
  assert_int_equal(certhub_findings_import(s, text, strlen(text), T_NOW, &r),
                   CH_OK);
  assert_int_equal(r.failed, 0);
  assert_int_equal(r.success, (size_t)(to - from));
  certhub_import_result_free(&r);
  free(text);
}

static const char *const queries[] = {
    "{\"Filters\":{\"Title\":[{\"Value\":\"Title 3\",\"Comparison\":"
    "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"Id\",\"SortOrder\":"
    "\"asc\"}]}",
    "{\"Filters\":{\"ComplianceStatus\":[{\"Value\":\"FAILED\","
    "\"Comparison\":\"EQUALS\"}],\"ResourceType\":[{\"Value\":\"Other\","
    "\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"Title\","
    "\"SortOrder\":\"desc\"}]}",
    "{\"Filters\":{\"ProductName\":[{\"Value\":\"certhub\",\"Comparison\":"
    "\"NOT_EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"ComplianceStatus\","
    "\"SortOrder\":\"asc\"}],\"MaxResults\":100}",
};

static const char *const insights[] = {
    "{\"GroupByAttribute\":\"ResourceType\"}",
    "{\"GroupByAttribute\":\"ComplianceStatus\"}",
    "{\"GroupByAttribute\":\"ProductName\",\"Filters\":{\"Title\":"
    "[{\"Value\":\"Title\",\"Comparison\":\"PREFIX\"}]}}",
    "{\"GroupByAttribute\":\"Title\"}",
};

#define NQ (CH_ARRAY_LEN(queries) + CH_ARRAY_LEN(insights))

static void answers(certhub_store *s, char *out[NQ])
{
  size_t k = 0, len;
  for(size_t i = 0; i < CH_ARRAY_LEN(queries); i++, k++)
    assert_int_equal(certhub_findings_query_json(
                         s, queries[i], strlen(queries[i]), &out[k], &len),
                     CH_OK);
  for(size_t i = 0; i < CH_ARRAY_LEN(insights); i++, k++)
    assert_int_equal(certhub_findings_insight_json(
                         s, insights[i], strlen(insights[i]), &out[k], &len),
                     CH_OK);
}

static void exec_db(const char *db, const char *sql)
{
  sqlite3 *h = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  if(sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("%s", err);
  sqlite3_close(h);
}

/* The findings table of db as it was before migration 15 (migrations 7,
 * 10, 11 and 13's parts of it), with the same rows. */
static void downgrade(const char *db)
{
  char *sql = NULL;
  const char *parts[] = {
      "BEGIN;"
      "CREATE TABLE keep AS SELECT rowid AS r, product_arn, id,"
      " generator_id, aws_account_id, region, severity_label,"
      " workflow_status, record_state, resource_id, created_at,"
      " updated_at, first_observed_at, last_observed_at,"
      " imported_at, finding FROM findings;"
      "DROP TABLE findings;",
      ch_sq_findings_schema,
      ch_sq_findq_schema,
      "CREATE INDEX findings_by_id ON findings(id);" CH_SQ_HUB_TRIGGERS,
      "INSERT INTO findings(rowid, product_arn, id,"
      " generator_id, aws_account_id, region, severity_label,"
      " workflow_status, record_state, resource_id, created_at,"
      " updated_at, first_observed_at, last_observed_at,"
      " imported_at, finding) SELECT * FROM keep;"
      "DROP TABLE keep;"
      "DELETE FROM schema_migrations WHERE version = 15;"
      /* before 15, so before 16's counts (the rebuild dropped their
       * triggers with the old table) */
      "DROP TABLE findings_counts;"
      "DELETE FROM schema_migrations WHERE version = 16;"
      /* and 17 and 18, which change the indexes 15 makes, 19, which
       * drops a trigger 16 makes, and 20, which drops two of 13's */
      "DELETE FROM schema_migrations WHERE version IN (17, 18, 19, 20);"
      "COMMIT;",
  };
  size_t len = 1;
  for(size_t i = 0; i < CH_ARRAY_LEN(parts); i++)
    len += strlen(parts[i]);
  sql = calloc(1, len);
  assert_non_null(sql);
  for(size_t i = 0; i < CH_ARRAY_LEN(parts); i++)
    strcat(sql, parts[i]);
  exec_db(db, sql);
  free(sql);
}

static const char index_list[] =
    "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master"
    " WHERE tbl_name = 'findings' AND type IN ('index', 'trigger')"
    " ORDER BY name)";
/* hidden: 2 virtual generated, 3 stored generated, 0 ordinary. */
static const char kinds[] =
    "SELECT group_concat(name || ':' || hidden) FROM (SELECT name, hidden"
    " FROM pragma_table_xinfo('findings') WHERE name IN ('title',"
    " 'compliance_status', 'resource_type', 'product_name') ORDER BY name)";
static const char rows[] =
    "SELECT count(*) || ':' || sum(rowid) || ':' || sum(length(finding))"
    " FROM findings";

static void test_migration_15(void **state)
{
  (void)state;
  tdir d;
  char *before[NQ], *after[NQ];
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char *idx = t_query(s, index_list);
  import(s, 0, N);
  answers(s, before);
  char *count_before = t_query(s, rows);
  certhub_store_close(s);

  /* Findings stored under the old schema (this build's writer fills the
   * columns, which the old table generates: the rows are copied in). */
  downgrade(d.db);
  s = t_open(d.db); /* migrates */
  int v = 0;
  assert_int_equal(certhub_store_schema_version(s, &v), CH_OK);
  assert_int_equal(v, 20);
  t_query_eq(s, kinds,
             "compliance_status:0,product_name:0,resource_type:0,title:0");
  t_query_eq(s, rows, count_before);
  t_query_eq(s, index_list, idx);
  /* Copied from the virtual columns: the values the JSON gives. */
  t_query_eq(s,
             "SELECT count(*) FROM findings WHERE"
             " title IS json_extract(finding, '$.Title') AND"
             " compliance_status IS json_extract(finding,"
             " '$.Compliance.Status') AND resource_type IS"
             " json_extract(finding, '$.Resources[0].Type') AND"
             " product_name IS json_extract(finding, '$.ProductName')",
             "60");
  t_query_eq(s,
             "SELECT count(*) FROM findings WHERE compliance_status IS"
             " NULL",
             "15");
  t_query_eq(s, "SELECT count(*) FROM findings WHERE product_name IS NULL",
             "12");
  answers(s, after);
  for(size_t i = 0; i < NQ; i++) {
    assert_string_equal(after[i], before[i]);
    free(after[i]);
    free(before[i]);
  }
  /* The hub triggers (made when forwarding is turned on, migration 20)
   * queue writes; the queue starts with the stored findings. */
  assert_int_equal(certhub_store_hub_enable(s, true, NULL), CH_OK);
  free(t_query(s, "DELETE FROM hub_outbox"));
  import(s, N, N + 2);
  t_query_eq(s, "SELECT count(*) FROM hub_outbox", "2");
  free(t_query(s, "DELETE FROM findings WHERE id = 'f-060'"));
  t_query_eq(s, "SELECT count(*) FROM hub_outbox", "1");
  /* This build's writer fills the columns. */
  t_query_eq(s,
             "SELECT title || '/' || resource_type || '/' ||"
             " compliance_status || '/' || product_name FROM findings"
             " WHERE id = 'f-061'",
             "Title 5/Other/FAILED/certhub");
  /* Off again: the old table below is compared with a store that never
   * forwarded (20 keeps an enabled hub's triggers). */
  assert_int_equal(certhub_store_hub_enable(s, false, NULL), CH_OK);
  certhub_store_close(s);

  /* The old table itself: virtual columns, the same index names. */
  downgrade(d.db);
  exec_db(d.db, "INSERT INTO schema_migrations VALUES(15, 'x', 0)");
  s = t_open(d.db);
  t_query_eq(s, kinds,
             "compliance_status:2,product_name:2,resource_type:2,title:2");
  t_query_eq(s, index_list, idx);
  certhub_store_close(s);
  free(count_before);
  free(idx);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migration_15),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
