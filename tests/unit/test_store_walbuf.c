/* Store: the WAL-write coalescing VFS (lib/store/sqlite_vfs.c) and the
 * checkpoint calls. Writers and readers in threads and in processes check
 * that no reader sees a commit in part, that every commit is there after
 * all, and that a writer killed with SIGKILL loses no commit it had
 * finished. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "store/store_sqlite_int.h"
#include "test_store_util.h"

#define ROWS_PER_TXN 20
#define STR_(x) #x
#define STR(x) STR_(x)

static void exec_ok(certhub_store *s, const char *sql)
{
  ch_err rc = ch_store_test_exec(s, sql, NULL);
  if(rc)
    fail_msg("%s: %s", sql, certhub_store_errmsg(s));
}

static long query_long(certhub_store *s, const char *sql)
{
  char *v = NULL;
  ch_err rc = ch_store_test_exec(s, sql, &v);
  if(rc)
    fail_msg("%s: %s", sql, certhub_store_errmsg(s));
  long n = v ? atol(v) : -1;
  free(v);
  return n;
}

static void make_tables(certhub_store *s)
{
  exec_ok(s, "CREATE TABLE IF NOT EXISTS wb_rows(w INTEGER, seq INTEGER,"
             " pad BLOB)");
  exec_ok(s, "CREATE INDEX IF NOT EXISTS wb_rows_pad ON wb_rows(pad)");
  exec_ok(s, "CREATE TABLE IF NOT EXISTS wb_sum(id INTEGER PRIMARY KEY,"
             " n INTEGER)");
  exec_ok(s, "INSERT OR IGNORE INTO wb_sum VALUES (1, 0)");
}

/* One commit of writer w: ROWS_PER_TXN rows of about 1.5 KB (random, so
 * the index gets pages all over) and the sum, which readers compare with
 * the rows they see. CH_ERR_BUSY is retried. */
static ch_err write_txn(certhub_store *s, int w, int seq)
{
  char sql[256];
  ch_err rc;
  for(;;) {
    if((rc = certhub_store_begin(s)) == CH_ERR_BUSY)
      continue;
    if(rc)
      return rc;
    snprintf(sql, sizeof(sql),
             "INSERT INTO wb_rows SELECT %d, %d, randomblob(1500) FROM"
             " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1"
             " FROM c WHERE i < %d) SELECT i FROM c)",
             w, seq, ROWS_PER_TXN);
    if(!(rc = ch_store_test_exec(s, sql, NULL)))
      rc = ch_store_test_exec(
          s, "UPDATE wb_sum SET n = n + " STR(ROWS_PER_TXN) " WHERE id = 1",
          NULL);
    if(!rc)
      rc = certhub_store_commit(s);
    if(rc) {
      certhub_store_rollback(s);
      if(rc == CH_ERR_BUSY)
        continue;
    }
    return rc;
  }
}

/* A reader's check: in one read transaction (deferred BEGIN: a reader,
 * not a writer) the rows match the sum and no commit is there in part.
 * False with *why set (threads must not fail the test themselves). */
static bool consistent(certhub_store *s, char *why, size_t len)
{
  char *rows = NULL, *sum = NULL, *parts = NULL;
  bool ok = false;
  if(ch_store_test_exec(s, "BEGIN", NULL) ||
     ch_store_test_exec(s, "SELECT count(*) FROM wb_rows", &rows) ||
     ch_store_test_exec(s, "SELECT n FROM wb_sum WHERE id = 1", &sum) ||
     ch_store_test_exec(
         s,
         "SELECT count(*) FROM (SELECT w, seq FROM wb_rows"
         " GROUP BY w, seq HAVING count(*) <> " STR(ROWS_PER_TXN) ")",
         &parts))
    snprintf(why, len, "read: %s", certhub_store_errmsg(s));
  else if(!rows || !sum || !parts || strcmp(rows, sum) || strcmp(parts, "0"))
    snprintf(why, len, "reader saw %s rows, sum %s, %s partial commits",
             rows ? rows : "-", sum ? sum : "-", parts ? parts : "-");
  else
    ok = true;
  ch_store_test_exec(s, "ROLLBACK", NULL);
  free(rows);
  free(sum);
  free(parts);
  return ok;
}

static void check_consistent(certhub_store *s)
{
  char why[512];
  if(!consistent(s, why, sizeof(why)))
    fail_msg("%s", why);
}

static void coalesces(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  unsigned long f0 = ch_sq_walbuf_flushes, c0 = ch_sq_walbuf_coalesced;
  for(int i = 0; i < 20; i++)
    assert_int_equal(write_txn(s, 0, i), CH_OK);
  unsigned long flushes = ch_sq_walbuf_flushes - f0;
  unsigned long writes = ch_sq_walbuf_coalesced - c0;
  /* 20 rows of 1.5 KB and their index entries: well over 20 pages a
   * commit, two writes a page, about one pwrite a commit */
  assert_true(writes >= 20 * 40);
  assert_true(flushes >= 20);
  assert_true(flushes <= 2 * 20 + 4);
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"),
                   20 * ROWS_PER_TXN);
  t_query_eq(s, "PRAGMA integrity_check", "ok");
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A writer's own uncommitted frames are read back (cache spill): a
 * transaction larger than the page cache, rolled back, then committed. */
static void spill_and_rollback(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  exec_ok(s, "PRAGMA cache_size = 20");
  assert_int_equal(certhub_store_begin(s), CH_OK);
  exec_ok(s, "INSERT INTO wb_rows SELECT 9, 1, randomblob(1500) FROM"
             " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1"
             " FROM c WHERE i < 2000) SELECT i FROM c)");
  exec_ok(s, "UPDATE wb_rows SET pad = randomblob(1400) WHERE rowid % 3 = 0");
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"), 2000);
  assert_int_equal(certhub_store_rollback(s), CH_OK);
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"), 0);
  assert_int_equal(certhub_store_begin(s), CH_OK);
  exec_ok(s, "INSERT INTO wb_rows SELECT 9, 2, randomblob(1500) FROM"
             " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1"
             " FROM c WHERE i < 2000) SELECT i FROM c)");
  exec_ok(s, "UPDATE wb_rows SET pad = randomblob(1400) WHERE rowid % 3 = 0");
  assert_int_equal(certhub_store_commit(s), CH_OK);
  certhub_store *r = t_open(d.db);
  assert_int_equal(query_long(r, "SELECT count(*) FROM wb_rows"), 2000);
  t_query_eq(r, "PRAGMA integrity_check", "ok");
  certhub_store_close(r);
  certhub_store_close(s);
  tdir_remove(&d);
}

typedef struct targ {
  const char *db;
  int w, n;
  volatile int *stop;
  ch_err rc;
  int checks;
  char why[512]; /* a reader's failure, "" when none */
} targ;

static void *writer_thread(void *p)
{
  targ *a = p;
  certhub_store *s = t_open(a->db);
  if(a->w == 1)
    certhub_store_wal_external(s, 0); /* checkpoints left to the test */
  for(int i = 0; i < a->n && !a->rc; i++)
    a->rc = write_txn(s, a->w, i);
  certhub_store_close(s);
  return NULL;
}

static void *reader_thread(void *p)
{
  targ *a = p;
  certhub_store *s = t_open(a->db);
  while(!*a->stop && !a->why[0]) {
    if(consistent(s, a->why, sizeof(a->why)))
      a->checks++;
  }
  certhub_store_close(s);
  return NULL;
}

static void *ckpt_thread(void *p)
{
  targ *a = p;
  certhub_store *s = t_open(a->db);
  while(!*a->stop) {
    unsigned pages, done;
    ch_err rc = certhub_store_checkpoint(s, a->checks % 4 == 3, &pages, &done);
    if(rc && rc != CH_ERR_BUSY)
      a->rc = rc;
    a->checks++;
    usleep(2000);
  }
  certhub_store_close(s);
  return NULL;
}

/* Three writers (one with external checkpoints), two readers and a
 * checkpointer (PASSIVE, every fourth RESTART) on one database. */
static void threads_consistent(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  certhub_store_close(s);
  volatile int stop = 0;
  targ w[3], r[2], c = {.db = d.db, .stop = &stop};
  pthread_t tw[3], tr[2], tc;
  for(int i = 0; i < 2; i++) {
    r[i] = (targ){.db = d.db, .stop = &stop};
    assert_int_equal(pthread_create(&tr[i], NULL, reader_thread, &r[i]), 0);
  }
  assert_int_equal(pthread_create(&tc, NULL, ckpt_thread, &c), 0);
  for(int i = 0; i < 3; i++) {
    w[i] = (targ){.db = d.db, .w = i, .n = 60, .stop = &stop};
    assert_int_equal(pthread_create(&tw[i], NULL, writer_thread, &w[i]), 0);
  }
  for(int i = 0; i < 3; i++) {
    pthread_join(tw[i], NULL);
    assert_int_equal(w[i].rc, CH_OK);
  }
  stop = 1;
  for(int i = 0; i < 2; i++) {
    pthread_join(tr[i], NULL);
    if(r[i].why[0])
      fail_msg("reader %d: %s", i, r[i].why);
    assert_true(r[i].checks > 0);
  }
  pthread_join(tc, NULL);
  assert_int_equal(c.rc, CH_OK);
  s = t_open(d.db);
  check_consistent(s);
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"),
                   3 * 60 * ROWS_PER_TXN);
  t_query_eq(s, "PRAGMA integrity_check", "ok");
  unsigned pages = 0, done = 0;
  assert_int_equal(certhub_store_checkpoint(s, true, &pages, &done), CH_OK);
  assert_int_equal(pages, done);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* The same across processes: two writer processes, a reader process that
 * exits 1 on a torn view; the test process reads too. */
static void processes_consistent(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  certhub_store_close(s);
  pid_t kids[3];
  for(int k = 0; k < 3; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if(kids[k])
      continue;
    certhub_store *c = NULL;
    if(certhub_store_open(d.db, &c, NULL))
      _exit(2);
    if(k < 2) {
      for(int i = 0; i < 80; i++)
        if(write_txn(c, 10 + k, i))
          _exit(3);
      certhub_store_close(c);
      _exit(0);
    }
    for(int i = 0; i < 400; i++) {
      char why[512];
      if(!consistent(c, why, sizeof(why))) {
        fprintf(stderr, "reader process: %s\n", why);
        _exit(1);
      }
    }
    certhub_store_close(c);
    _exit(0);
  }
  s = t_open(d.db);
  for(int i = 0; i < 100; i++)
    check_consistent(s);
  for(int k = 0; k < 3; k++) {
    int st = 0;
    assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  check_consistent(s);
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"),
                   2 * 80 * ROWS_PER_TXN);
  t_query_eq(s, "PRAGMA integrity_check", "ok");
  certhub_store_close(s);
  tdir_remove(&d);
}

/* A writer process killed with SIGKILL in the middle of its commits: the
 * database is intact and holds every commit the writer had reported done
 * (it writes the sequence number to a pipe after each commit returned). */
static void kill_writer(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  certhub_store_close(s);
  for(int round = 0; round < 3; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if(!kid) {
      close(fds[0]);
      certhub_store *c = NULL;
      if(certhub_store_open(d.db, &c, NULL))
        _exit(2);
      for(int i = 0;; i++) {
        if(write_txn(c, 20 + round, i))
          _exit(3);
        if(write(fds[1], &i, sizeof(i)) != sizeof(i))
          _exit(4);
      }
    }
    close(fds[1]);
    int last = -1, v;
    while(last < 20 + 15 * round &&
          read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
      last = v;
    kill(kid, SIGKILL);
    while(read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
      last = v; /* acknowledged before the kill landed */
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFSIGNALED(st));
    s = t_open(d.db);
    t_query_eq(s, "PRAGMA integrity_check", "ok");
    check_consistent(s);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT seq) FROM wb_rows WHERE w = %d AND seq"
             " <= %d",
             20 + round, last);
    assert_int_equal(query_long(s, sql), last + 1);
    certhub_store_close(s);
  }
  tdir_remove(&d);
}

static void checkpoint_calls(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  make_tables(s);
  assert_int_equal(certhub_store_wal_pages(s), 0);
  assert_int_equal(certhub_store_wal_external(s, 0), CH_OK);
  for(int i = 0; i < 5; i++)
    assert_int_equal(write_txn(s, 0, i), CH_OK);
  unsigned before = certhub_store_wal_pages(s);
  assert_true(before > 5 * 20);
  /* no checkpoint in the commits: the WAL only grows */
  assert_int_equal(write_txn(s, 0, 5), CH_OK);
  assert_true(certhub_store_wal_pages(s) > before);
  certhub_store *c = t_open(d.db);
  unsigned pages = 0, done = 0;
  assert_int_equal(certhub_store_checkpoint(c, false, &pages, &done), CH_OK);
  assert_true(pages > before);
  assert_int_equal(done, pages);
  /* the WAL starts again from its beginning at the next commit */
  assert_int_equal(write_txn(s, 0, 6), CH_OK);
  assert_true(certhub_store_wal_pages(s) < before);
  /* fallback: the handle checkpoints itself from that size on */
  assert_int_equal(certhub_store_wal_external(s, 1), CH_OK);
  assert_int_equal(write_txn(s, 0, 7), CH_OK);
  assert_int_equal(certhub_store_checkpoint(c, false, &pages, &done), CH_OK);
  assert_int_equal(done, pages);
  certhub_store_close(c);
  assert_int_equal(query_long(s, "SELECT count(*) FROM wb_rows"),
                   8 * ROWS_PER_TXN);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(coalesces),
      cmocka_unit_test(spill_and_rollback),
      cmocka_unit_test(checkpoint_calls),
      cmocka_unit_test(threads_consistent),
      cmocka_unit_test(processes_consistent),
      cmocka_unit_test(kill_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
