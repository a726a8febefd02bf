/* Store: SQLite's page caches in the process's reserved region
 * (certhub_store_reserve_cache, store_sqlite.c's pcache_region) and
 * certhub_store_cache_stats(): a
 * handle's cache survives its own writes and empties when another handle
 * writes (why certhub_http keeps one handle for its writers). */
#include "store/store_sqlite_int.h"
#include "test_store_util.h"

static void exec_ok(certhub_store *s, const char *sql)
{
  if(ch_store_test_exec(s, sql, NULL))
    fail_msg("%s: %s", sql, certhub_store_errmsg(s));
}

static certhub_store_cache stats(const certhub_store *s)
{
  certhub_store_cache c;
  assert_int_equal(certhub_store_cache_stats(s, &c), CH_OK);
  return c;
}

/* 2,000 rows of 1 KB: about 600 pages of table and index. */
static void fill(certhub_store *s)
{
  exec_ok(s, "CREATE TABLE pc_rows(id INTEGER PRIMARY KEY, pad BLOB)");
  exec_ok(s, "CREATE INDEX pc_rows_pad ON pc_rows(pad)");
  exec_ok(s, "INSERT INTO pc_rows(pad) SELECT randomblob(1000) FROM"
             " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1"
             " FROM c WHERE i < 2000) SELECT i FROM c)");
}

static void region_holds_pages(void **state)
{
  (void)state;
  ch_sq_pcache_info pi;
  assert_int_equal(certhub_store_reserve_cache(17), CH_ERR_USAGE);
  assert_int_equal(certhub_store_reserve_cache(1), CH_OK);
  /* too late for another size: SQLite is in use */
  assert_int_equal(certhub_store_reserve_cache(2), CH_ERR_BUSY);
  ch_sq_pcache(&pi);
  /* one handle's 64 MiB cache fits, with room for the others */
  assert_true(pi.slots >= 16384 + 4096);
  assert_true(pi.slot_size >= 4096 && pi.slot_size < 4096 + 1024);
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  fill(s);
  ch_sq_pcache(&pi);
  /* the handle's cached pages are slots of the region, not malloc's */
  assert_true(pi.used >= 600);
  size_t held = pi.used;
  certhub_store_close(s);
  ch_sq_pcache(&pi);
  assert_true(pi.used < held); /* given back on close */
  tdir_remove(&d);
}

static void cache_survives_own_writes(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *a = t_open(d.db);
  certhub_store *b = t_open(d.db);
  fill(a);
  certhub_store_cache c0 = stats(a);
  assert_true(c0.writes >= 600);
  /* a's own next transactions find every page in its cache */
  exec_ok(a, "UPDATE pc_rows SET pad = randomblob(1000) WHERE id % 50 = 0");
  t_query_eq(a, "SELECT count(*) FROM pc_rows WHERE length(pad) = 1000",
             "2000");
  certhub_store_cache c1 = stats(a);
  assert_int_equal(c1.misses, c0.misses);
  assert_true(c1.hits > c0.hits + 600);
  assert_true(c1.writes > c0.writes);
  /* b reading changes nothing for a */
  t_query_eq(b, "SELECT count(*) FROM pc_rows", "2000");
  t_query_eq(a, "SELECT count(*) FROM pc_rows WHERE length(pad) = 1000",
             "2000");
  assert_int_equal(stats(a).misses, c0.misses);
  /* b writing empties a's cache: a reads the pages again */
  exec_ok(b, "UPDATE pc_rows SET pad = randomblob(1000) WHERE id = 7");
  t_query_eq(a, "SELECT count(*) FROM pc_rows WHERE length(pad) = 1000",
             "2000");
  assert_true(stats(a).misses >= c0.misses + 300);
  certhub_store_close(b);
  certhub_store_close(a);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(region_holds_pages),
      cmocka_unit_test(cache_survives_own_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
