/*
 * The hub forwarding queue against a real SQLite store: nothing queued
 * while forwarding is off, every stored finding queued when it is turned
 * on, one row per finding however often it changes, a later write of a
 * finding survives the removal of the version sent before it, off empties
 * the queue.
 */
#include <jansson.h>

#include "certhub/findings.h"
#include "certhub/hub.h"
#include "certhub/store_hub.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:eu-west-1:111122223333:product/certhub/certhub"

static void import(certhub_store *s, const char *id, const char *updated)
{
  certhub_import_result r;
  json_t *f = json_pack(
      "[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s],"
      " s:{s:s}, s:[{s:s, s:s}]}]",
      "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
      "GeneratorId", "gen-1", "AwsAccountId", "111122223333", "Region",
      "eu-west-1", "CreatedAt", "2026-11-01T00:00:00Z", "UpdatedAt", updated,
      "Title", "A title", "Description", "A description", "Types",
      "Software and Configuration Checks/Certificate Expiry", "Severity",
      "Label", "MEDIUM", "Resources", "Type", "Other", "Id", "res-1");
  char *text = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  ch_err rc = certhub_findings_import(s, text, strlen(text), T_NOW, &r);
  if(rc)
    fprintf(stderr, "import: %s: %s\n", certhub_strerror(rc), r.error);
  assert_int_equal(rc, CH_OK);
  assert_int_equal(r.failed, 0);
  certhub_import_result_free(&r);
  free(text);
}

typedef struct seen {
  size_t n;
  int64_t seq[16];
  char id[16][32];
  bool json_ok;
} seen;

static ch_err collect(void *ctx, const certhub_hub_item *it)
{
  seen *s = ctx;
  assert_true(s->n < 16);
  s->seq[s->n] = it->seq;
  snprintf(s->id[s->n], sizeof(s->id[0]), "%s", it->id);
  assert_string_equal(it->product_arn, PARN);
  json_t *j = json_loads(it->json, 0, NULL);
  s->json_ok =
      j && !strcmp(json_string_value(json_object_get(j, "Id")), it->id);
  json_decref(j);
  s->n++;
  return CH_OK;
}

static seen pending(certhub_store *s)
{
  seen x = {0};
  assert_int_equal(certhub_store_hub_pending(s, 100, collect, &x), CH_OK);
  return x;
}

static uint64_t queued(certhub_store *s, bool *on)
{
  uint64_t n = 0;
  assert_int_equal(certhub_store_hub_state(s, on, &n), CH_OK);
  return n;
}

static void test_queue(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  bool on = true, changed = false;

  import(s, "a", "2026-11-02T00:00:00Z");
  import(s, "b", "2026-11-02T00:00:00Z");
  assert_int_equal(queued(s, &on), 0);
  assert_false(on);

  /* On: the stored findings are queued (the hub gets the whole store). */
  assert_int_equal(certhub_store_hub_enable(s, true, &changed), CH_OK);
  assert_true(changed);
  assert_int_equal(certhub_store_hub_enable(s, true, &changed), CH_OK);
  assert_false(changed);
  assert_int_equal(queued(s, &on), 2);
  assert_true(on);

  /* A new finding and an update of a queued one: still one row each. */
  import(s, "c", "2026-11-02T00:00:00Z");
  import(s, "a", "2026-11-03T00:00:00Z");
  import(s, "a", "2026-11-04T00:00:00Z");
  seen x = pending(s);
  assert_int_equal(x.n, 3);
  assert_true(x.json_ok);
  assert_string_equal(x.id[0], "b"); /* oldest write first */
  assert_string_equal(x.id[1], "c");
  assert_string_equal(x.id[2], "a");
  assert_true(x.seq[0] < x.seq[1] && x.seq[1] < x.seq[2]);

  /* A write after the batch was read survives the batch's removal. */
  import(s, "b", "2026-11-05T00:00:00Z");
  assert_int_equal(certhub_store_hub_done(s, x.seq, x.n), CH_OK);
  seen y = pending(s);
  assert_int_equal(y.n, 1);
  assert_string_equal(y.id[0], "b");
  assert_true(y.seq[0] > x.seq[2]);

  /* An import ignored as not newer changes nothing. */
  assert_int_equal(certhub_store_hub_done(s, y.seq, y.n), CH_OK);
  import(s, "b", "2026-11-05T00:00:00Z");
  assert_int_equal(queued(s, &on), 0);

  /* Off empties the queue and stops queueing. */
  import(s, "d", "2026-11-02T00:00:00Z");
  assert_int_equal(queued(s, &on), 1);
  assert_int_equal(certhub_store_hub_enable(s, false, &changed), CH_OK);
  assert_true(changed);
  import(s, "e", "2026-11-02T00:00:00Z");
  assert_int_equal(queued(s, &on), 0);
  assert_false(on);

  /* Bad arguments. */
  assert_int_equal(certhub_store_hub_pending(s, 0, collect, &x), CH_ERR_USAGE);
  assert_int_equal(certhub_store_hub_pending(s, 1001, collect, &x),
                   CH_ERR_USAGE);
  certhub_store_close(s);
  tdir_remove(&d);
}

static const char hub_triggers[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN"
    " ('hub_queue_insert', 'hub_queue_update')";

/* Migration 20: the insert and update triggers exist only while the hub
 * is on; a store migrated with the hub on keeps queueing, one migrated
 * with it off has none. */
static void test_triggers(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  bool on = false, changed = false;
  t_query_eq(s, hub_triggers, "0");
  assert_int_equal(certhub_store_hub_enable(s, true, &changed), CH_OK);
  t_query_eq(s, hub_triggers, "2");
  assert_int_equal(certhub_store_hub_enable(s, false, &changed), CH_OK);
  t_query_eq(s, hub_triggers, "0");
  assert_int_equal(certhub_store_hub_enable(s, true, &changed), CH_OK);
  /* As before 20: triggers that check hub_state, 20 not applied. */
  free(t_query(s, "DROP TRIGGER hub_queue_insert"));
  free(t_query(s, "DROP TRIGGER hub_queue_update"));
  free(t_query(s, "CREATE TRIGGER hub_queue_insert AFTER INSERT ON findings"
                  " WHEN (SELECT enabled FROM hub_state WHERE id = 1) BEGIN"
                  " INSERT INTO hub_outbox(product_arn, id)"
                  " VALUES(NEW.product_arn, NEW.id); END"));
  free(t_query(s, "CREATE TRIGGER hub_queue_update AFTER UPDATE ON findings"
                  " WHEN (SELECT enabled FROM hub_state WHERE id = 1) BEGIN"
                  " SELECT 1; END"));
  free(t_query(s, "DELETE FROM schema_migrations WHERE version = 20"));
  certhub_store_close(s);
  s = t_open(d.db); /* migrates: 20 again, with the hub on */
  t_query_eq(s, hub_triggers, "2");
  t_query_eq(s,
             "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
             " AND sql LIKE '%hub_state%'",
             "0");
  import(s, "a", "2026-11-02T00:00:00Z");
  import(s, "a", "2026-11-03T00:00:00Z");
  assert_int_equal(queued(s, &on), 1);
  assert_true(on);
  /* And with the hub off: none. */
  assert_int_equal(certhub_store_hub_enable(s, false, &changed), CH_OK);
  free(t_query(s, "DELETE FROM schema_migrations WHERE version = 20"));
  certhub_store_close(s);
  s = t_open(d.db);
  t_query_eq(s, hub_triggers, "0");
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A token file: first line, trimmed; empty, missing, spaced or huge ones
 * are refused with the file named. */
static void test_token_file(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  char path[512], err[512];
  char *tok = NULL;
  snprintf(path, sizeof(path), "%s/tok", d.path);
  FILE *f = fopen(path, "w");
  fputs("  chk_abc123 \nsecond line\n", f);
  fclose(f);
  assert_int_equal(certhub_hub_read_token(path, &tok, err, sizeof(err)),
                   CH_OK);
  assert_string_equal(tok, "chk_abc123");
  free(tok);
  f = fopen(path, "w");
  fputs("\n", f);
  fclose(f);
  assert_int_equal(certhub_hub_read_token(path, &tok, err, sizeof(err)),
                   CH_ERR_PARSE);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "empty"));
  f = fopen(path, "w");
  fputs("two words\n", f);
  fclose(f);
  assert_int_equal(certhub_hub_read_token(path, &tok, err, sizeof(err)),
                   CH_ERR_PARSE);
  f = fopen(path, "w");
  for(int i = 0; i < 5000; i++)
    fputc('x', f);
  fclose(f);
  assert_int_equal(certhub_hub_read_token(path, &tok, err, sizeof(err)),
                   CH_ERR_PARSE);
  assert_non_null(strstr(err, "4 KiB"));
  snprintf(path, sizeof(path), "%s/missing", d.path);
  assert_int_equal(certhub_hub_read_token(path, &tok, err, sizeof(err)),
                   CH_ERR_IO);
  assert_non_null(strstr(err, "missing"));
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queue),
      cmocka_unit_test(test_triggers),
      cmocka_unit_test(test_token_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
