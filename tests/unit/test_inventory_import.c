#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certhub/inventory.h"
#include "certhub/store.h"
#include "core/core.h"

#define T_2025 1735689600 /* 2025-01-01 */
#define T_2026 1767225600 /* 2026-01-01 */
#define T_2027 1798761600 /* 2027-01-01 */
#define NOW1 (T_2025 + 86400 * 100)
#define NOW2 (T_2025 + 86400 * 200)

static char dir[64];
static char dbpath[128];
static certhub_store *store;

typedef struct probs {
  char *lines[32];
  size_t n;
  certhub_store *peek; /* second handle, read during the import */
  int64_t peek_certs;  /* certificates it saw, -1 if never looked */
} probs;

static void on_problem(void *ctx, const char *path, unsigned position,
                       ch_err err, const char *reason)
{
  probs *p = ctx;
  const char *base = strrchr(path, '/');
  char buf[1024];
  snprintf(buf, sizeof(buf), "%s:%u:%s:%s", base ? base + 1 : path, position,
           certhub_strerror(err), reason);
  if(p->n < CH_ARRAY_LEN(p->lines))
    p->lines[p->n++] = strdup(buf);
  if(p->peek) {
    certhub_store_counts c;
    assert_int_equal(certhub_store_counts_get(p->peek, &c), CH_OK);
    p->peek_certs = (int64_t)c.certs;
  }
}

static void probs_free(probs *p)
{
  for(size_t i = 0; i < p->n; i++)
    free(p->lines[i]);
  p->n = 0;
}

static char *bio_text(BIO *b)
{
  char *data;
  long len = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)len + 1);
  memcpy(s, data, (size_t)len);
  s[len] = '\0';
  BIO_free(b);
  return s;
}

/* A self-signed P-256 certificate, PEM. */
static char *make_cert(const char *cn, int64_t nb, int64_t na, long serial)
{
  EVP_PKEY *k = EVP_EC_gen("P-256");
  assert_non_null(k);
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
  assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_set_pubkey(x, k);
  assert_true(X509_sign(x, k, EVP_sha256()) > 0);
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  X509_free(x);
  EVP_PKEY_free(k);
  return bio_text(b);
}

static char *make_key(void)
{
  EVP_PKEY *k = EVP_EC_gen("P-256");
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
  EVP_PKEY_free(k);
  return bio_text(b);
}

static const char BAD_BLOCK[] = "-----BEGIN CERTIFICATE-----\n"
                                "aGVsbG8gd29ybGQ=\n"
                                "-----END CERTIFICATE-----\n";

static void put(const char *rel, const char *a, const char *b)
{
  char p[256];
  snprintf(p, sizeof(p), "%s/%s", dir, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(a, f);
  if(b)
    fputs(b, f);
  assert_int_equal(fclose(f), 0);
}

static ch_err import(const char *rel, size_t batch, int64_t now, probs *p,
                     certhub_import_stats *st)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  const char *paths[] = {path};
  certhub_import_opts o = {
      .now = now, .batch_size = batch, .on_problem = on_problem, .ctx = p};
  memset(st, 0, sizeof(*st));
  return certhub_import(store, paths, 1, &o, st);
}

static certhub_store_counts counts(void)
{
  certhub_store_counts c;
  assert_int_equal(certhub_store_counts_get(store, &c), CH_OK);
  return c;
}

typedef struct row {
  char id[CERTHUB_ID_LEN + 1];
  char cn[64];
  char status[16];
  char replaced_by[CERTHUB_ID_LEN + 1];
  bool present;
} row;

typedef struct rows {
  row v[16];
  size_t n;
} rows;

static ch_err collect(void *ctx, const certhub_cert_row *r)
{
  rows *rs = ctx;
  assert_true(rs->n < CH_ARRAY_LEN(rs->v));
  row *o = &rs->v[rs->n++];
  snprintf(o->id, sizeof(o->id), "%s", r->id);
  snprintf(o->cn, sizeof(o->cn), "%s", r->common_name ? r->common_name : "");
  snprintf(o->status, sizeof(o->status), "%s", r->status);
  snprintf(o->replaced_by, sizeof(o->replaced_by), "%s",
           r->n_replaced_by ? r->replaced_by[0] : "");
  o->present = r->n_sources && r->sources[0].present;
  return CH_OK;
}

static rows list(int64_t now)
{
  rows rs = {0};
  assert_int_equal(certhub_store_list(store, NULL, now, collect, &rs), CH_OK);
  return rs;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f)
{
  (void)st;
  (void)f;
  if(flag == FTW_DP)
    rmdir(p);
  else
    unlink(p);
  return 0;
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/certhub-import-XXXXXX");
  if(!mkdtemp(dir))
    return -1;
  snprintf(dbpath, sizeof(dbpath), "%s/store/certhub.db", dir);
  char sub[128];
  snprintf(sub, sizeof(sub), "%s/certs", dir);
  mkdir(sub, 0755);
  char *msg = NULL;
  ch_err rc = certhub_store_open(dbpath, &store, &msg);
  if(rc)
    fprintf(stderr, "store: %s\n", msg);
  free(msg);
  return rc ? -1 : 0;
}

static int teardown(void **state)
{
  (void)state;
  certhub_store_close(store);
  store = NULL;
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void reimport_is_idempotent(void **state)
{
  (void)state;
  char *c1 = make_cert("one.example", T_2025, T_2027, 1);
  char *c2 = make_cert("two.example", T_2025, T_2027, 2);
  char *c3 = make_cert("three.example", T_2025, T_2027, 3);
  put("certs/a.pem", c1, NULL);
  put("certs/b.pem", c2, c3);
  probs p = {0};
  certhub_import_stats st;
  assert_int_equal(import("certs", 0, NOW1, &p, &st), CH_OK);
  assert_int_equal(p.n, 0);
  assert_int_equal(st.files_imported, 2);
  assert_int_equal(st.files_failed, 0);
  assert_int_equal(st.certs_seen, 3);
  assert_int_equal(st.certs_new, 3);
  certhub_store_counts c = counts();
  assert_int_equal(c.certs, 3);
  assert_int_equal(c.sources, 2);
  assert_int_equal(c.sightings, 3);

  assert_int_equal(import("certs", 0, NOW2, &p, &st), CH_OK);
  assert_int_equal(st.files_imported, 2);
  assert_int_equal(st.certs_seen, 3);
  assert_int_equal(st.certs_new, 0);
  assert_int_equal(st.sightings_gone, 0);
  assert_int_equal(st.replacements, 0);
  c = counts();
  assert_int_equal(c.certs, 3);
  assert_int_equal(c.sources, 2);
  assert_int_equal(c.sightings, 3);
  rows rs = list(NOW2);
  for(size_t i = 0; i < rs.n; i++)
    assert_string_equal(rs.v[i].status, CERTHUB_STATUS_ISSUED);
  free(c1);
  free(c2);
  free(c3);
}

static void failing_file_changes_nothing(void **state)
{
  (void)state;
  char *c1 = make_cert("kept.example", T_2025, T_2027, 10);
  char *c2 = make_cert("never.example", T_2025, T_2027, 11);
  put("certs/bundle.pem", c1, NULL);
  probs p = {0};
  certhub_import_stats st;
  assert_int_equal(import("certs", 0, NOW1, &p, &st), CH_OK);
  assert_int_equal(counts().certs, 1);

  /* The file now holds a new certificate and a corrupt block. */
  put("certs/bundle.pem", c2, BAD_BLOCK);
  ch_err rc = import("certs", 0, NOW2, &p, &st);
  assert_int_not_equal(rc, CH_OK);
  assert_int_equal(st.files_failed, 1);
  assert_int_equal(st.files_imported, 0);
  assert_int_equal(st.certs_new, 0);
  assert_int_equal(st.sightings_gone, 0);
  assert_int_equal(p.n, 1);
  assert_non_null(strstr(p.lines[0], "bundle.pem:2:"));
  certhub_store_counts c = counts();
  assert_int_equal(c.certs, 1);
  assert_int_equal(c.sightings, 1);
  rows rs = list(NOW2);
  assert_int_equal(rs.n, 1);
  assert_string_equal(rs.v[0].cn, "kept.example");
  assert_string_equal(rs.v[0].status, CERTHUB_STATUS_ISSUED);
  assert_true(rs.v[0].present);
  probs_free(&p);
  free(c1);
  free(c2);
}

static void renewal_is_recorded(void **state)
{
  (void)state;
  char *old = make_cert("renew.example", T_2025, T_2026, 20);
  char *renewed = make_cert("renew.example", T_2026 - 86400, T_2027, 21);
  put("certs/site.pem", old, NULL);
  probs p = {0};
  certhub_import_stats st;
  assert_int_equal(import("certs/site.pem", 0, NOW1, &p, &st), CH_OK);
  rows rs = list(NOW1);
  assert_int_equal(rs.n, 1);
  char old_id[CERTHUB_ID_LEN + 1];
  memcpy(old_id, rs.v[0].id, sizeof(old_id));

  put("certs/site.pem", renewed, NULL);
  assert_int_equal(import("certs/site.pem", 0, NOW2, &p, &st), CH_OK);
  assert_int_equal(p.n, 0);
  assert_int_equal(st.files_imported, 1);
  assert_int_equal(st.certs_new, 1);
  assert_int_equal(st.sightings_gone, 1);
  assert_int_equal(st.replacements, 1);
  rs = list(NOW2);
  assert_int_equal(rs.n, 2);
  const row *o = strcmp(rs.v[0].id, old_id) ? &rs.v[1] : &rs.v[0];
  const row *n = o == &rs.v[0] ? &rs.v[1] : &rs.v[0];
  assert_string_equal(o->id, old_id);
  assert_string_equal(o->status, CERTHUB_STATUS_INACTIVE);
  assert_string_equal(o->replaced_by, n->id);
  assert_string_equal(n->status, CERTHUB_STATUS_ISSUED);
  free(old);
  free(renewed);
}

static void key_only_files(void **state)
{
  (void)state;
  char *key = make_key();
  char *c1 = make_cert("with-key.example", T_2025, T_2027, 30);
  put("certs/server.key", key, NULL);
  put("certs/cert.pem", c1, NULL);
  put("certs/README", "Certificates for the web tier.\n", NULL);
  put("certs/empty.pem", "", NULL);
  probs p = {0};
  certhub_import_stats st;

  /* Inside a directory: skipped quietly. */
  assert_int_equal(import("certs", 0, NOW1, &p, &st), CH_OK);
  assert_int_equal(p.n, 0);
  assert_int_equal(st.files_imported, 1);
  assert_int_equal(st.files_skipped, 3);
  assert_int_equal(st.files_failed, 0);
  certhub_store_counts c = counts();
  assert_int_equal(c.certs, 1);
  assert_int_equal(c.sources, 1); /* no rows for the skipped files */

  /* Named explicitly: a failure. */
  assert_int_equal(import("certs/server.key", 0, NOW1, &p, &st),
                   CH_ERR_NOTFOUND);
  assert_int_equal(st.files_failed, 1);
  assert_int_equal(st.files_skipped, 0);
  assert_int_equal(p.n, 1);
  assert_string_equal(p.lines[0], "server.key:0:not found:no certificate "
                                  "found");
  assert_int_equal(import("certs/empty.pem", 0, NOW1, &p, &st),
                   CH_ERR_NOTFOUND);
  assert_int_equal(p.n, 2);
  assert_string_equal(p.lines[1], "empty.pem:0:not found:empty file");
  assert_int_equal(counts().sources, 1);
  probs_free(&p);
  free(key);
  free(c1);
}

static void batches_are_committed(void **state)
{
  (void)state;
  char *c[5];
  for(int i = 0; i < 5; i++) {
    char cn[32], rel[32];
    snprintf(cn, sizeof(cn), "batch%d.example", i);
    snprintf(rel, sizeof(rel), "certs/%d.pem", i);
    c[i] = make_cert(cn, T_2025, T_2027, 40 + i);
    put(rel, c[i], NULL);
  }
  /* Sorted last: its problem is reported after the five good files, while
   * the import's transaction is still open. */
  put("certs/z-bad.pem", BAD_BLOCK, NULL);
  certhub_store *second = NULL;
  char *msg = NULL;
  assert_int_equal(certhub_store_open(dbpath, &second, &msg), CH_OK);
  probs p = {.peek = second, .peek_certs = -1};
  certhub_import_stats st;
  assert_int_not_equal(import("certs", 2, NOW1, &p, &st), CH_OK);
  assert_int_equal(st.files_imported, 5);
  assert_int_equal(st.files_failed, 1);
  /* Batches of 2: committed after files 2 and 4, file 5 still pending. */
  assert_int_equal(p.peek_certs, 4);
  certhub_store_counts sc;
  assert_int_equal(certhub_store_counts_get(second, &sc), CH_OK);
  assert_int_equal(sc.certs, 5);
  certhub_store_close(second);
  probs_free(&p);
  for(int i = 0; i < 5; i++)
    free(c[i]);
}

static void missing_path_is_a_problem(void **state)
{
  (void)state;
  probs p = {0};
  certhub_import_stats st;
  assert_int_equal(import("certs/nope.pem", 0, NOW1, &p, &st),
                   CH_ERR_NOTFOUND);
  assert_int_equal(st.problems, 1);
  assert_string_equal(p.lines[0], "nope.pem:0:not found:cannot stat: No such "
                                  "file or directory");
  probs_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(reimport_is_idempotent, setup, teardown),
      cmocka_unit_test_setup_teardown(failing_file_changes_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(renewal_is_recorded, setup, teardown),
      cmocka_unit_test_setup_teardown(key_only_files, setup, teardown),
      cmocka_unit_test_setup_teardown(batches_are_committed, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_path_is_a_problem, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
