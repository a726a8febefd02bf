/* Store: open, migrations, upsert, labels, scans, renewals, errors. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test_store_util.h"

static void migrations_new_and_reopen(void **state)
{
  (void)state;
  tdir d;
  struct stat sb;
  int v = 0;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  assert_int_equal(certhub_store_schema_version(s, &v), CH_OK);
  /* 2: endpoints and probes, 3: chain_checks, 4: bus, 5: lifecycle marks,
   * 6: topics, 7: findings, 8: subscriptions and deliveries, 9: sealed
   * topic messages, 10: findings query columns, 11: API tokens, 13: hub
   * forwarding queue, 14: topic message attributes,
   * 15: findings query columns stored, 16: findings insight counts,
   * 17: four findings indexes dropped; 18: findings_by_region_type,
   * 19: new findings counted by their writer, 20: hub triggers only
   * while the hub is enabled */
  assert_int_equal(v, 20);
  t_query_eq(s, "SELECT count(*) FROM schema_migrations", "19");
  t_query_eq(s, "PRAGMA journal_mode", "wal");
  t_query_eq(s, "PRAGMA foreign_keys", "1");
  t_query_eq(s, "PRAGMA synchronous", "1"); /* NORMAL */
  t_query_eq(s,
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
             " name IN ('certs', 'sources', 'scans', 'sightings', 'tags',"
             " 'renewals')",
             "6");
  certhub_store_close(s);

  assert_int_equal(stat(d.db, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  char dir[256];
  snprintf(dir, sizeof(dir), "%s/sub", d.path);
  assert_int_equal(stat(dir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);

  /* Reopen: nothing re-applied, and the "sqlite:" prefix is accepted. */
  char target[256];
  snprintf(target, sizeof(target), "sqlite:%s", d.db);
  s = t_open(target);
  assert_int_equal(certhub_store_schema_version(s, &v), CH_OK);
  /* 2: endpoints and probes, 3: chain_checks, 4: bus, 5: lifecycle marks,
   * 6: topics, 7: findings, 8: subscriptions and deliveries, 9: sealed
   * topic messages, 10: findings query columns, 11: API tokens, 13: hub
   * forwarding queue, 14: topic message attributes,
   * 15: findings query columns stored, 16: findings insight counts,
   * 17: four findings indexes dropped; 18: findings_by_region_type,
   * 19: new findings counted by their writer, 20: hub triggers only
   * while the hub is enabled */
  assert_int_equal(v, 20);
  t_query_eq(s, "SELECT count(*) FROM schema_migrations", "19");
  certhub_store_close(s);
  tdir_remove(&d);
}

static void upsert_is_idempotent(void **state)
{
  (void)state;
  tdir d;
  tcert a;
  int64_t src, scan, id1, id2;
  bool created = false;
  trows rs;
  certhub_store_counts n;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert_init(&a, 1, "a.example", T_NOW + 30 * T_DAY, 'a', 'z');
  assert_int_equal(certhub_store_source(s, "file", "/x/a.pem", &src), CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW - 100, &scan),
                   CH_OK);
  assert_int_equal(certhub_store_put_cert(s, &a.c, NULL, src, 1, scan,
                                          T_NOW - 100, &id1, &created),
                   CH_OK);
  assert_true(created);
  assert_int_equal(certhub_store_put_cert(s, &a.c, NULL, src, 2, scan, T_NOW,
                                          &id2, &created),
                   CH_OK);
  assert_false(created);
  assert_int_equal(id1, id2);

  const trow *r = t_row(s, id1, T_NOW, &rs);
  assert_int_equal(r->first_seen, T_NOW - 100);
  assert_int_equal(r->last_seen, T_NOW);
  assert_string_equal(r->sources, "+/x/a.pem#2");
  assert_string_equal(r->status, CERTHUB_STATUS_ISSUED);
  assert_int_equal(r->days, 30);
  assert_int_equal(r->path_len, -1);
  assert_int_equal(certhub_store_counts_get(s, &n), CH_OK);
  assert_int_equal(n.certs, 1);
  assert_int_equal(n.sources, 1);
  assert_int_equal(n.sightings, 1);
  t_query_eq(s, "SELECT first_seen || ',' || last_seen FROM sightings",
             "1795427900,1795428000");

  /* Same source found again returns the same id. */
  int64_t src2;
  assert_int_equal(certhub_store_source(s, "file", "/x/a.pem", &src2), CH_OK);
  assert_int_equal(src, src2);

  uint8_t *der = NULL;
  size_t len = 0;
  assert_int_equal(certhub_store_get_der(s, id1, &der, &len), CH_OK);
  assert_int_equal(len, sizeof(a.der));
  assert_memory_equal(der, a.der, len);
  free(der);
  assert_int_equal(certhub_store_get_der(s, id1 + 100, &der, &len),
                   CH_ERR_NOTFOUND);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void fields_round_trip(void **state)
{
  (void)state;
  tdir d;
  tcert a;
  trows rs;
  int64_t src;
  const char *eku[] = {"serverAuth", "1.2.3.4"};
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert_init(&a, 2, "a.example", T_NOW + T_DAY, 'a', 'z');
  a.sans[0] = (certhub_san){CERTHUB_SAN_DNS, "a.example"};
  a.sans[1] = (certhub_san){CERTHUB_SAN_IP, "2001:db8::1"};
  a.sans[2] = (certhub_san){CERTHUB_SAN_OTHER, "line\nbreak \\n:x"};
  a.sans[3] = (certhub_san){CERTHUB_SAN_EMAIL, "a@b.example"};
  a.c.sans = a.sans;
  a.c.n_sans = 4;
  a.c.has_key_usage = true;
  a.c.key_usage = CERTHUB_KU_DIGITAL_SIGNATURE | CERTHUB_KU_KEY_ENCIPHERMENT;
  a.c.ext_key_usage = eku;
  a.c.n_ext_key_usage = 2;
  a.c.path_len = 0;
  assert_int_equal(certhub_store_source(s, "file", "/f", &src), CH_OK);
  int64_t id = t_put(s, &a, src, 1, 0, T_NOW);
  const trow *r = t_row(s, id, T_NOW, &rs);
  assert_string_equal(r->sans, "DNS:a.example|IP:2001:db8::1|"
                               "other:line\nbreak \\n:x|email:a@b.example");
  assert_string_equal(r->ku, "digitalSignature,keyEncipherment");
  assert_string_equal(r->eku, "serverAuth,1.2.3.4");
  assert_int_equal(r->path_len, 0);
  assert_string_equal(r->id, a.c.id);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void labels_and_arn(void **state)
{
  (void)state;
  tdir d;
  tcert a, b;
  trows rs;
  int64_t src, ida, idb;
  const char *keys[] = {"owner", "env"};
  const char *vals[] = {"web", "prod"};
  certhub_labels lab = {.account = "123456789012",
                        .region = "eu-west-1",
                        .tag_keys = keys,
                        .tag_values = vals,
                        .n_tags = 2};
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert_init(&a, 3, "a.example", T_NOW + T_DAY, 'a', 'z');
  tcert_init(&b, 4, "b.example", T_NOW + T_DAY, 'b', 'z');
  assert_int_equal(certhub_store_source(s, "file", "/f", &src), CH_OK);
  assert_int_equal(
      certhub_store_put_cert(s, &a.c, &lab, src, 1, 0, T_NOW, &ida, NULL),
      CH_OK);
  idb = t_put(s, &b, src, 2, 0, T_NOW);

  const trow *r = t_row(s, ida, T_NOW, &rs);
  assert_string_equal(r->account, "123456789012");
  assert_string_equal(r->region, "eu-west-1");
  assert_string_equal(r->tags, "env=prod;owner=web"); /* sorted by key */
  char want[160];
  const char *h = a.c.sha256_hex;
  snprintf(want, sizeof(want),
           "arn:certhub:acm:eu-west-1:123456789012:certificate/"
           "%.8s-%.4s-%.4s-%.4s-%.12s",
           h, h + 8, h + 12, h + 16, h + 20);
  assert_string_equal(r->arn, want);

  r = t_row(s, idb, T_NOW, &rs);
  assert_string_equal(r->account, "000000000000");
  assert_string_equal(r->region, "local");
  assert_string_equal(r->tags, "");

  /* NULL members leave existing labels alone; tags are replaced by key. */
  const char *k2[] = {"env"};
  const char *v2[] = {"staging"};
  certhub_labels lab2 = {
      .region = "us-east-1", .tag_keys = k2, .tag_values = v2, .n_tags = 1};
  assert_int_equal(
      certhub_store_put_cert(s, &a.c, &lab2, src, 1, 0, T_NOW, NULL, NULL),
      CH_OK);
  r = t_row(s, ida, T_NOW, &rs);
  assert_string_equal(r->account, "123456789012");
  assert_string_equal(r->region, "us-east-1");
  assert_string_equal(r->tags, "env=staging;owner=web");
  certhub_store_close(s);
  tdir_remove(&d);
}

static void scan_finish_marks_absent(void **state)
{
  (void)state;
  tdir d;
  tcert a, b, old;
  trows rs;
  int64_t src, stdin_src, scan1, scan2, ida, idb, idold;
  unsigned gone = 99, repl = 99;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert_init(&a, 5, "a.example", T_NOW + 10 * T_DAY, 'a', 'z');
  tcert_init(&b, 6, "b.example", T_NOW + 20 * T_DAY, 'b', 'z');
  tcert_init(&old, 7, "old.example", T_NOW - T_DAY, 'c', 'z');
  assert_int_equal(certhub_store_source(s, "file", "/f.pem", &src), CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW, &scan1), CH_OK);
  ida = t_put(s, &a, src, 1, scan1, T_NOW);
  idb = t_put(s, &b, src, 2, scan1, T_NOW);
  idold = t_put(s, &old, src, 3, scan1, T_NOW);
  assert_int_equal(
      certhub_store_scan_finish(s, src, scan1, T_NOW, &gone, &repl), CH_OK);
  assert_int_equal(gone, 0);
  assert_int_equal(repl, 0);
  assert_string_equal(t_row(s, idold, T_NOW, &rs)->status,
                      CERTHUB_STATUS_EXPIRED);

  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW + 1, &scan2), CH_OK);
  t_put(s, &a, src, 1, scan2, T_NOW + 1);
  assert_int_equal(
      certhub_store_scan_finish(s, src, scan2, T_NOW + 1, &gone, &repl),
      CH_OK);
  assert_int_equal(gone, 2);
  assert_int_equal(repl, 0);
  assert_string_equal(t_row(s, ida, T_NOW, &rs)->status,
                      CERTHUB_STATUS_ISSUED);
  const trow *r = t_row(s, idb, T_NOW, &rs);
  assert_string_equal(r->status, CERTHUB_STATUS_INACTIVE);
  assert_string_equal(r->sources, "-/f.pem#2");
  /* INACTIVE wins over EXPIRED. */
  assert_string_equal(t_row(s, idold, T_NOW, &rs)->status,
                      CERTHUB_STATUS_INACTIVE);
  t_query_eq(s, "SELECT last_scan_id FROM sources WHERE locator = '/f.pem'",
             "2");

  /* Seen again elsewhere: present first, then by locator. */
  int64_t src2;
  assert_int_equal(certhub_store_source(s, "file", "/a/other.pem", &src2),
                   CH_OK);
  t_put(s, &b, src2, 4, 0, T_NOW + 2);
  r = t_row(s, idb, T_NOW, &rs);
  assert_string_equal(r->status, CERTHUB_STATUS_ISSUED);
  assert_string_equal(r->sources, "+/a/other.pem#4;-/f.pem#2");

  /* stdin never goes absent. */
  int64_t s3;
  assert_int_equal(
      certhub_store_source(s, CERTHUB_SOURCE_STDIN, "-", &stdin_src), CH_OK);
  t_put(s, &old, stdin_src, 1, 0, T_NOW);
  assert_int_equal(certhub_store_scan_begin(s, stdin_src, T_NOW, &s3), CH_OK);
  assert_int_equal(
      certhub_store_scan_finish(s, stdin_src, s3, T_NOW, &gone, &repl), CH_OK);
  assert_int_equal(gone, 0);

  assert_int_equal(certhub_store_scan_finish(s, 999, s3, T_NOW, NULL, NULL),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_store_scan_begin(s, 999, T_NOW, &s3),
                   CH_ERR_NOTFOUND);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void renewal_links(void **state)
{
  (void)state;
  tdir d;
  tcert o1, n1, o2, n2, keep, other;
  trows rs;
  int64_t src, scan1, scan2;
  unsigned gone = 0, repl = 0;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  /* By subject: same subject hash 'a'. */
  tcert_init(&o1, 10, "www.example", T_NOW + T_DAY, 'a', 'z');
  tcert_init(&n1, 11, "www.example", T_NOW + 90 * T_DAY, 'a', 'z');
  /* By SAN set: different subjects, same names in another order. */
  tcert_init(&o2, 12, "api old", T_NOW + T_DAY, 'b', 'z');
  tcert_sans(&o2, "api.example", "api2.example");
  tcert_init(&n2, 13, "api new", T_NOW + 90 * T_DAY, 'c', 'z');
  tcert_sans(&n2, "api2.example", "api.example");
  /* Unrelated newcomer and a cert that stays. */
  tcert_init(&other, 14, "other", T_NOW + 90 * T_DAY, 'd', 'z');
  tcert_sans(&other, "api.example", NULL);
  tcert_init(&keep, 15, "keep", T_NOW + 90 * T_DAY, 'e', 'z');

  assert_int_equal(certhub_store_source(s, "file", "/r.pem", &src), CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW, &scan1), CH_OK);
  int64_t io1 = t_put(s, &o1, src, 1, scan1, T_NOW);
  int64_t io2 = t_put(s, &o2, src, 2, scan1, T_NOW);
  int64_t ik = t_put(s, &keep, src, 3, scan1, T_NOW);
  assert_int_equal(certhub_store_scan_finish(s, src, scan1, T_NOW, NULL, NULL),
                   CH_OK);

  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW + 5, &scan2), CH_OK);
  int64_t in1 = t_put(s, &n1, src, 1, scan2, T_NOW + 5);
  int64_t in2 = t_put(s, &n2, src, 2, scan2, T_NOW + 5);
  int64_t iot = t_put(s, &other, src, 3, scan2, T_NOW + 5);
  t_put(s, &keep, src, 4, scan2, T_NOW + 5);
  assert_int_equal(
      certhub_store_scan_finish(s, src, scan2, T_NOW + 5, &gone, &repl),
      CH_OK);
  assert_int_equal(gone, 2);
  assert_int_equal(repl, 2);

  assert_string_equal(t_row(s, io1, T_NOW, &rs)->replaced_by, n1.c.id);
  assert_string_equal(t_row(s, in1, T_NOW, &rs)->replaces, o1.c.id);
  assert_string_equal(t_row(s, io2, T_NOW, &rs)->replaced_by, n2.c.id);
  assert_string_equal(t_row(s, in2, T_NOW, &rs)->replaces, o2.c.id);
  assert_string_equal(t_row(s, iot, T_NOW, &rs)->replaces, "");
  assert_string_equal(t_row(s, ik, T_NOW, &rs)->replaced_by, "");
  t_query_eq(s, "SELECT count(*) FROM renewals", "2");
  certhub_store_close(s);
  tdir_remove(&d);
}

static void savepoint_rollback_keeps_earlier(void **state)
{
  (void)state;
  tdir d;
  tcert a, b, c;
  certhub_store_counts n;
  int64_t src;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert_init(&a, 20, "a", T_NOW + T_DAY, 'a', 'z');
  tcert_init(&b, 21, "b", T_NOW + T_DAY, 'b', 'z');
  tcert_init(&c, 22, "c", T_NOW + T_DAY, 'c', 'z');
  assert_int_equal(certhub_store_begin(s), CH_OK);
  assert_int_equal(certhub_store_source(s, "file", "/a", &src), CH_OK);
  t_put(s, &a, src, 1, 0, T_NOW);
  assert_int_equal(certhub_store_savepoint(s), CH_OK);
  t_put(s, &b, src, 2, 0, T_NOW);
  assert_int_equal(certhub_store_rollback_to(s), CH_OK);
  assert_int_equal(certhub_store_savepoint(s), CH_OK);
  t_put(s, &c, src, 3, 0, T_NOW);
  assert_int_equal(certhub_store_release(s), CH_OK);
  assert_int_equal(certhub_store_commit(s), CH_OK);
  assert_int_equal(certhub_store_counts_get(s, &n), CH_OK);
  assert_int_equal(n.certs, 2);
  int64_t *ids = NULL;
  size_t nids = 0;
  assert_int_equal(certhub_store_resolve(s, b.c.id, &ids, &nids),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_store_resolve(s, c.c.id, &ids, &nids), CH_OK);
  free(ids);

  /* A rolled back transaction leaves nothing. */
  assert_int_equal(certhub_store_begin(s), CH_OK);
  t_put(s, &b, src, 2, 0, T_NOW);
  assert_int_equal(certhub_store_rollback(s), CH_OK);
  assert_int_equal(certhub_store_counts_get(s, &n), CH_OK);
  assert_int_equal(n.certs, 2);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void full_disk_rolls_back(void **state)
{
  (void)state;
  tdir d;
  tcert t;
  certhub_store_counts n;
  int64_t src;
  static uint8_t big[200000];
  char sql[128];
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  assert_int_equal(certhub_store_source(s, "file", "/full", &src), CH_OK);
  assert_int_equal(certhub_store_begin(s), CH_OK);
  for(unsigned i = 0; i < 10; i++) {
    tcert_init(&t, 30 + i, "keep", T_NOW + T_DAY, 'a', 'z');
    t_put(s, &t, src, i + 1, 0, T_NOW);
  }
  assert_int_equal(certhub_store_commit(s), CH_OK);

  /* Cap the file at its current size, then grow it mid-transaction. */
  char *pages = t_query(s, "PRAGMA page_count");
  snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %s", pages);
  free(pages);
  free(t_query(s, sql));
  assert_int_equal(certhub_store_begin(s), CH_OK);
  ch_err rc = CH_OK;
  unsigned i;
  for(i = 0; i < 100 && !rc; i++) {
    tcert_init(&t, 100 + i, "big", T_NOW + T_DAY, 'b', 'z');
    memset(big, (int)i, sizeof(big));
    t.c.der = big;
    t.c.der_len = sizeof(big);
    rc = certhub_store_put_cert(s, &t.c, NULL, src, i + 1, 0, T_NOW, NULL,
                                NULL);
  }
  assert_int_equal(rc, CH_ERR_DB);
  assert_non_null(strstr(certhub_store_errmsg(s), "full"));
  assert_non_null(strstr(certhub_store_errmsg(s), d.db));
  assert_int_equal(certhub_store_rollback(s), CH_OK);
  free(t_query(s, "PRAGMA max_page_count = 1073741823"));
  t_query_eq(s, "PRAGMA integrity_check", "ok");
  assert_int_equal(certhub_store_counts_get(s, &n), CH_OK);
  assert_int_equal(n.certs, 10);
  assert_int_equal(n.sightings, 10);
  certhub_store_close(s);

  s = t_open(d.db);
  t_query_eq(s, "PRAGMA integrity_check", "ok");
  assert_int_equal(certhub_store_counts_get(s, &n), CH_OK);
  assert_int_equal(n.certs, 10);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void newer_schema_refused(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s;
  char *err = NULL;
  tdir_make(&d);
  s = t_open(d.db);
  free(t_query(s, "INSERT INTO schema_migrations VALUES(99, 'future', 0)"));
  certhub_store_close(s);
  s = NULL;
  assert_int_equal(certhub_store_open(d.db, &s, &err), CH_ERR_UNSUPPORTED);
  assert_null(s);
  assert_non_null(err);
  assert_non_null(strstr(err, d.db));
  assert_non_null(strstr(err, "newer"));
  free(err);
  tdir_remove(&d);
}

static void not_a_database(void **state)
{
  (void)state;
  tdir d;
  certhub_store *s = NULL;
  char *err = NULL, path[256];
  tdir_make(&d);

  snprintf(path, sizeof(path), "%s/notes.txt", d.path);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for(int i = 0; i < 200; i++)
    fputs("this is a text file, not a database\n", f);
  fclose(f);
  assert_int_equal(certhub_store_open(path, &s, &err), CH_ERR_DB);
  assert_null(s);
  assert_non_null(err);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "not an SQLite database"));
  ch_safefree(err);

  /* A valid header with garbage after it. */
  snprintf(path, sizeof(path), "%s/corrupt.db", d.path);
  f = fopen(path, "w");
  assert_non_null(f);
  fwrite("SQLite format 3", 1, 16, f);
  for(int i = 0; i < 8192; i++)
    fputc((i * 7919) & 0xff, f);
  fclose(f);
  assert_int_not_equal(certhub_store_open(path, &s, &err), CH_OK);
  assert_null(s);
  assert_non_null(err);
  assert_non_null(strstr(err, path));
  ch_safefree(err);

  /* A directory. */
  assert_int_not_equal(certhub_store_open(d.path, &s, &err), CH_OK);
  assert_non_null(err);
  assert_non_null(strstr(err, d.path));
  ch_safefree(err);

  assert_int_equal(certhub_store_open("postgresql://db/certhub", &s, &err),
                   CH_ERR_UNSUPPORTED);
  assert_non_null(strstr(err, "PostgreSQL backend is not built yet"));
  ch_safefree(err);
  assert_int_equal(certhub_store_open("postgres://db/certhub", &s, &err),
                   CH_ERR_UNSUPPORTED);
  ch_safefree(err);
  assert_int_equal(certhub_store_open("mysql://db", &s, &err),
                   CH_ERR_UNSUPPORTED);
  ch_safefree(err);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(migrations_new_and_reopen),
      cmocka_unit_test(upsert_is_idempotent),
      cmocka_unit_test(fields_round_trip),
      cmocka_unit_test(labels_and_arn),
      cmocka_unit_test(scan_finish_marks_absent),
      cmocka_unit_test(renewal_links),
      cmocka_unit_test(savepoint_rollback_keeps_earlier),
      cmocka_unit_test(full_disk_rolls_back),
      cmocka_unit_test(newer_schema_refused),
      cmocka_unit_test(not_a_database),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
