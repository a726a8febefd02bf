/* Store: lifecycle marks (migration 5) and the migration runner's
 * tolerance of gaps in the version numbers. */
#include "test_store_util.h"

static void marks_set_once(void **state)
{
  (void)state;
  tdir d;
  bool was_new = false, found = true;
  int64_t created = 0;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  assert_int_equal(certhub_store_mark_get(s, "renew:ab:45", &found, &created),
                   CH_OK);
  assert_false(found);
  assert_int_equal(certhub_store_mark_set(s, "renew:ab:45", T_NOW, &was_new),
                   CH_OK);
  assert_true(was_new);
  assert_int_equal(
      certhub_store_mark_set(s, "renew:ab:45", T_NOW + 100, &was_new), CH_OK);
  assert_false(was_new);
  assert_int_equal(certhub_store_mark_get(s, "renew:ab:45", &found, &created),
                   CH_OK);
  assert_true(found);
  assert_int_equal(created, T_NOW); /* the first set wins */
  assert_int_equal(certhub_store_mark_set(s, "renew:ab:30", T_NOW, NULL),
                   CH_OK);
  certhub_store_close(s);

  /* Marks survive a reopen. */
  s = t_open(d.db);
  assert_int_equal(certhub_store_mark_get(s, "renew:ab:30", &found, NULL),
                   CH_OK);
  assert_true(found);
  assert_int_equal(certhub_store_mark_set(s, "renew:ab:30", T_NOW, &was_new),
                   CH_OK);
  assert_false(was_new);

  /* Bad keys are refused, not stored. */
  char big[CERTHUB_MARK_KEY_MAX + 2];
  memset(big, 'k', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(certhub_store_mark_set(s, big, T_NOW, &was_new),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_store_mark_set(s, "", T_NOW, &was_new),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_store_mark_get(s, NULL, &found, NULL),
                   CH_ERR_USAGE);
  t_query_eq(s, "SELECT count(*) FROM lifecycle_marks", "2");
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A database that holds a higher migration but misses a lower one (two
 * branches numbered theirs independently) gets the missing one applied on
 * open, and nothing applied twice. */
static void migration_gap_is_filled(void **state)
{
  (void)state;
  tdir d;
  int v = 0;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  free(t_query(s, "DROP TABLE chain_checks"));
  free(t_query(s, "DELETE FROM schema_migrations WHERE version = 3"));
  t_query_eq(s, "SELECT group_concat(version) FROM schema_migrations",
             "1,2,4,5,6,7,8,9,10,11,13,14,15,16,17,18,19,20");
  certhub_store_close(s);

  s = t_open(d.db);
  t_query_eq(s,
             "SELECT group_concat(version) FROM (SELECT version FROM"
             " schema_migrations ORDER BY version)",
             "1,2,3,4,5,6,7,8,9,10,11,13,14,15,16,17,18,19,20");
  t_query_eq(s,
             "SELECT count(*) FROM sqlite_master WHERE name IN"
             " ('chain_checks', 'lifecycle_marks')",
             "2");
  assert_int_equal(certhub_store_schema_version(s, &v), CH_OK);
  assert_int_equal(v, 20);
  certhub_store_close(s);

  /* A version above what this build knows is still refused. */
  s = t_open(d.db);
  free(t_query(s, "INSERT INTO schema_migrations VALUES(99, 'future', 0)"));
  certhub_store_close(s);
  certhub_store *s2 = NULL;
  char *err = NULL;
  assert_int_equal(certhub_store_open(d.db, &s2, &err), CH_ERR_UNSUPPORTED);
  assert_non_null(err);
  assert_non_null(strstr(err, "newer"));
  free(err);
  certhub_store_close(s2);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(marks_set_once),
      cmocka_unit_test(migration_gap_is_filled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
