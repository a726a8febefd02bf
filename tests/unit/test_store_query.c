/* Store: list filters and order, resolve, issuers, tags, delete. */
#include <sys/stat.h>

#include "test_store_util.h"

typedef struct fixture {
  tdir d;
  certhub_store *s;
  tcert c[6];
  int64_t id[6];
  int64_t src1, src2;
} fixture;

/* c0 expired, c1 expires in 3 days (23:59 of that day), c2 in 30 days,
 * c3 inactive (gone from its source), c4 and c5 share not_after (sorted by
 * common name). */
static int setup(void **state)
{
  fixture *fx = calloc(1, sizeof(*fx));
  int64_t scan1, scan2;
  const char *k1[] = {"env", "team"};
  const char *v1[] = {"prod", "web"};
  certhub_labels lab = {.tag_keys = k1, .tag_values = v1, .n_tags = 2};
  tdir_make(&fx->d);
  fx->s = t_open(fx->d.db);
  certhub_store *s = fx->s;
  int64_t today = (T_NOW / T_DAY) * T_DAY;
  tcert_init(&fx->c[0], 40, "expired.example", T_NOW - 10, 'a', 'z');
  tcert_init(&fx->c[1], 41, "soon.example", today + 3 * T_DAY + T_DAY - 1, 'b',
             'y');
  tcert_init(&fx->c[2], 42, "later.example", today + 30 * T_DAY, 'c', 'y');
  tcert_init(&fx->c[3], 43, "gone.example", today + 40 * T_DAY, 'd', 'y');
  tcert_init(&fx->c[4], 44, "zeta.example", today + 50 * T_DAY, 'e', 'y');
  tcert_init(&fx->c[5], 45, "alpha.example", today + 50 * T_DAY, 'f', 'y');
  tcert_sans(&fx->c[2], "later.example", "Shop.Example.ORG");
  fx->c[1].c.issuer = "CN=Let's Encrypt R3,O=Let's Encrypt";
  fx->c[1].c.serial = "DEADBEEF01";

  assert_int_equal(certhub_store_source(s, "file", "/srv/one.pem", &fx->src1),
                   CH_OK);
  assert_int_equal(
      certhub_store_source(s, "file", "/srv/two_%.pem", &fx->src2), CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, fx->src1, T_NOW, &scan1),
                   CH_OK);
  for(int i = 0; i < 4; i++)
    fx->id[i] = t_put(s, &fx->c[i], fx->src1, (unsigned)i + 1, scan1, T_NOW);
  assert_int_equal(certhub_store_put_cert(s, &fx->c[2].c, &lab, fx->src1, 3,
                                          scan1, T_NOW, NULL, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_store_scan_finish(s, fx->src1, scan1, T_NOW, NULL, NULL), CH_OK);
  /* Second scan of one.pem without c3: it goes absent. */
  assert_int_equal(certhub_store_scan_begin(s, fx->src1, T_NOW, &scan2),
                   CH_OK);
  for(int i = 0; i < 3; i++)
    t_put(s, &fx->c[i], fx->src1, (unsigned)i + 1, scan2, T_NOW);
  assert_int_equal(
      certhub_store_scan_finish(s, fx->src1, scan2, T_NOW, NULL, NULL), CH_OK);
  fx->id[4] = t_put(s, &fx->c[4], fx->src2, 1, 0, T_NOW);
  fx->id[5] = t_put(s, &fx->c[5], fx->src2, 2, 0, T_NOW);
  assert_int_equal(certhub_store_tag_set(s, fx->id[4], "env", "dev"), CH_OK);
  assert_int_equal(certhub_store_tag_set(s, fx->id[5], "owner", NULL), CH_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fixture *fx = *state;
  certhub_store_close(fx->s);
  tdir_remove(&fx->d);
  free(fx);
  return 0;
}

/* Row ids of a listing as "i,j,k" indexes into the fixture. */
static void list_idx(fixture *fx, const certhub_filter *f, char *out,
                     size_t len)
{
  trows rs;
  out[0] = '\0';
  t_list(fx->s, f, T_NOW, &rs);
  for(size_t i = 0; i < rs.n; i++)
    for(int k = 0; k < 6; k++)
      if(rs.r[i].rowid == fx->id[k]) {
        char b[8];
        snprintf(b, sizeof(b), "%d", k);
        tjoin(out, len, ",", b);
      }
}

#define LIST_IS(fx, f, want)                                                  \
  do {                                                                        \
    char got_[64];                                                            \
    list_idx((fx), (f), got_, sizeof(got_));                                  \
    assert_string_equal(got_, (want));                                        \
  } while(0)

static void list_order_and_status(void **state)
{
  fixture *fx = *state;
  certhub_filter f = {0};
  trows rs;
  LIST_IS(fx, &f, "0,1,2,3,5,4"); /* not_after, then common name */
  LIST_IS(fx, NULL, "0,1,2,3,5,4");
  t_list(fx->s, &f, T_NOW, &rs);
  assert_string_equal(rs.r[0].status, CERTHUB_STATUS_EXPIRED);
  assert_string_equal(rs.r[1].status, CERTHUB_STATUS_ISSUED);
  assert_int_equal(rs.r[1].days, 3);
  assert_string_equal(rs.r[3].status, CERTHUB_STATUS_INACTIVE);

  f.status = CERTHUB_STATUS_ISSUED;
  LIST_IS(fx, &f, "1,2,5,4");
  f.status = CERTHUB_STATUS_EXPIRED;
  LIST_IS(fx, &f, "0");
  f.status = CERTHUB_STATUS_INACTIVE;
  LIST_IS(fx, &f, "3");
  f.status = "BOGUS";
  assert_int_equal(certhub_store_list(fx->s, &f, T_NOW, t_collect, &rs),
                   CH_ERR_USAGE);
  assert_non_null(strstr(certhub_store_errmsg(fx->s), "BOGUS"));

  f = (certhub_filter){.limit = 2};
  LIST_IS(fx, &f, "0,1");
  f = (certhub_filter){.rowid = fx->id[2]};
  LIST_IS(fx, &f, "2");
}

static void list_expiry_filters(void **state)
{
  fixture *fx = *state;
  certhub_filter f = {.expiring = true, .expiring_within = 3};
  LIST_IS(fx, &f, "1"); /* 3 calendar days, even at 23:59:59 */
  f.expiring_within = 2;
  LIST_IS(fx, &f, "");
  f.expiring_within = 30;
  LIST_IS(fx, &f, "1,2");
  f.expiring_within = 0;
  LIST_IS(fx, &f, "");
  f = (certhub_filter){.expired = true};
  LIST_IS(fx, &f, "0");
  /* Tomorrow c0..c1 boundaries shift by one day. */
  f = (certhub_filter){.expiring = true, .expiring_within = 2};
  trows rs;
  t_list(fx->s, &f, T_NOW + T_DAY, &rs);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.r[0].rowid, fx->id[1]);
  assert_int_equal(rs.r[0].days, 2);
}

static void list_tag_issuer_search(void **state)
{
  fixture *fx = *state;
  certhub_tag t1[] = {{"env", "prod"}};
  certhub_tag t2[] = {{"env", NULL}};
  certhub_tag t3[] = {{"env", "prod"}, {"team", "web"}};
  certhub_tag t4[] = {{"env", "prod"}, {"team", "ops"}};
  certhub_tag t5[] = {{"owner", NULL}};
  certhub_filter f = {.tags = t1, .n_tags = 1};
  LIST_IS(fx, &f, "2");
  f.tags = t2;
  LIST_IS(fx, &f, "2,4");
  f.tags = t3;
  f.n_tags = 2;
  LIST_IS(fx, &f, "2");
  f.tags = t4;
  LIST_IS(fx, &f, "");
  f.tags = t5;
  f.n_tags = 1;
  LIST_IS(fx, &f, "5");

  f = (certhub_filter){.issuer = "let's ENCRYPT"};
  LIST_IS(fx, &f, "1");
  f.issuer = "issuer y";
  LIST_IS(fx, &f, "2,3,5,4");

  f = (certhub_filter){.search = "SOON"}; /* CN */
  LIST_IS(fx, &f, "1");
  f.search = "shop.example.org"; /* SAN */
  LIST_IS(fx, &f, "2");
  f.search = "deadbeef"; /* serial */
  LIST_IS(fx, &f, "1");
  f.search = fx->c[3].c.sha256_hex + 20; /* sha256 */
  LIST_IS(fx, &f, "3");
  f.search = "two_%"; /* locator, no wildcard */
  LIST_IS(fx, &f, "5,4");
  f.search = "two__";
  LIST_IS(fx, &f, "");
  f.search = "o=test b"; /* subject */
  LIST_IS(fx, &f, "1");
  f = (certhub_filter){.search = "example", .status = "ISSUED", .limit = 3};
  LIST_IS(fx, &f, "1,2,5");
}

static void resolve_forms(void **state)
{
  fixture *fx = *state;
  certhub_store *s = fx->s;
  int64_t *ids = NULL;
  size_t n = 0;
  char ref[160];
  const certhub_cert *c = &fx->c[2].c;

#define RESOLVES_TO(r, want)                                                  \
  do {                                                                        \
    ch_err rc_ = certhub_store_resolve(s, (r), &ids, &n);                     \
    if(rc_)                                                                   \
      fail_msg("resolve %s: %s", (r), certhub_store_errmsg(s));               \
    assert_int_equal(n, 1);                                                   \
    assert_int_equal(ids[0], (want));                                         \
    ch_safefree(ids);                                                         \
  } while(0)

  RESOLVES_TO(c->id, fx->id[2]);
  snprintf(ref, sizeof(ref), "%.6s", c->id);
  RESOLVES_TO(ref, fx->id[2]);
  RESOLVES_TO(c->sha256_hex, fx->id[2]);
  /* Upper case with colons. */
  size_t k = 0;
  for(int i = 0; i < 32; i++)
    k += (size_t)snprintf(ref + k, sizeof(ref) - k, "%s%02X", i ? ":" : "",
                          c->sha256[i]);
  RESOLVES_TO(ref, fx->id[2]);
  RESOLVES_TO(c->sha1_hex, fx->id[2]);
  k = 0;
  for(int i = 0; i < 20; i++)
    k += (size_t)snprintf(ref + k, sizeof(ref) - k, "%s%02x", i ? ":" : "",
                          c->sha1[i]);
  RESOLVES_TO(ref, fx->id[2]);

  trows rs;
  const trow *r = t_row(s, fx->id[2], T_NOW, &rs);
  RESOLVES_TO(r->arn, fx->id[2]);

  /* A path: every cert seen there, present or not, in position order. */
  assert_int_equal(certhub_store_resolve(s, "/srv/one.pem", &ids, &n), CH_OK);
  assert_int_equal(n, 4);
  assert_int_equal(ids[0], fx->id[0]);
  assert_int_equal(ids[3], fx->id[3]);
  ch_safefree(ids);

  /* A relative path is made absolute (realpath when it exists). */
  char cwd[256], file[300];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(fx->d.path), 0);
  snprintf(file, sizeof(file), "%s/rel.pem", fx->d.path);
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  char *real = realpath(file, NULL);
  int64_t src;
  assert_int_equal(certhub_store_source(s, "file", real, &src), CH_OK);
  free(real);
  t_put(s, &fx->c[0], src, 1, 0, T_NOW);
  assert_int_equal(
      certhub_store_source(s, "file", "/nonexistent-x/y.pem", &src), CH_OK);
  t_put(s, &fx->c[1], src, 1, 0, T_NOW);
  RESOLVES_TO("rel.pem", fx->id[0]);
  RESOLVES_TO("./rel.pem", fx->id[0]);
  RESOLVES_TO("/nonexistent-x/y.pem", fx->id[1]);
  assert_int_equal(chdir(cwd), 0);

  assert_int_equal(certhub_store_resolve(s, "no-such-thing", &ids, &n),
                   CH_ERR_NOTFOUND);
  assert_non_null(strstr(certhub_store_errmsg(s), "no-such-thing"));
  assert_int_equal(certhub_store_resolve(s, "ffffffff", &ids, &n),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_store_resolve(s,
                                         "arn:certhub:acm:x:y:certificate/"
                                         "zz",
                                         &ids, &n),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_store_resolve(s, "", &ids, &n), CH_ERR_USAGE);
}

static void resolve_ambiguous_prefix(void **state)
{
  fixture *fx = *state;
  tcert a, b;
  int64_t *ids = NULL;
  size_t n = 0;
  tcert_init(&a, 200, "amb1", T_NOW + T_DAY, 'p', 'q');
  tcert_init(&b, 201, "amb2", T_NOW + T_DAY, 'p', 'q');
  /* Same first 3 bytes, different after. */
  b.c.sha256[0] = a.c.sha256[0];
  b.c.sha256[1] = a.c.sha256[1];
  b.c.sha256[2] = a.c.sha256[2];
  b.c.sha256[3] = (uint8_t)(a.c.sha256[3] ^ 0x0f);
  ch_hex_encode(b.c.sha256, 32, b.c.sha256_hex);
  memcpy(b.c.id, b.c.sha256_hex, CERTHUB_ID_LEN);
  int64_t ia = t_put(fx->s, &a, fx->src2, 5, 0, T_NOW);
  t_put(fx->s, &b, fx->src2, 6, 0, T_NOW);
  char ref[16];
  snprintf(ref, sizeof(ref), "%.6s", a.c.id);
  assert_int_equal(certhub_store_resolve(fx->s, ref, &ids, &n),
                   CH_ERR_AMBIGUOUS);
  assert_null(ids);
  assert_non_null(strstr(certhub_store_errmsg(fx->s), ref));
  snprintf(ref, sizeof(ref), "%.8s", a.c.id);
  assert_int_equal(certhub_store_resolve(fx->s, ref, &ids, &n), CH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], ia);
  free(ids);
}

static void issuers_with_key_ids(void **state)
{
  fixture *fx = *state;
  certhub_store *s = fx->s;
  tcert ca1, ca2, root, leaf, leaf2;
  int64_t *ids = NULL;
  size_t n = 0;
  trows rs;
  /* ca1 and ca2 share a subject ('I') but have different keys. */
  tcert_init(&ca1, 300, "CA", T_NOW + 900 * T_DAY, 'I', 'R');
  ca1.c.ski = "aa01";
  ca1.c.aki = "bb00";
  tcert_init(&ca2, 301, "CA", T_NOW + 800 * T_DAY, 'I', 'R');
  ca2.c.ski = "aa02";
  tcert_init(&root, 302, "Root", T_NOW + 3000 * T_DAY, 'R', 'R');
  root.c.ski = "bb00";
  root.c.self_signed = true;
  tcert_init(&leaf, 303, "leaf", T_NOW + 60 * T_DAY, 'L', 'I');
  leaf.c.aki = "aa01";
  tcert_init(&leaf2, 304, "leaf2", T_NOW + 60 * T_DAY, 'M', 'I');
  int64_t i1 = t_put(s, &ca1, fx->src2, 10, 0, T_NOW);
  int64_t i2 = t_put(s, &ca2, fx->src2, 11, 0, T_NOW);
  int64_t ir = t_put(s, &root, fx->src2, 12, 0, T_NOW);
  int64_t il = t_put(s, &leaf, fx->src2, 13, 0, T_NOW);
  int64_t il2 = t_put(s, &leaf2, fx->src2, 14, 0, T_NOW);

  assert_int_equal(certhub_store_issuers(s, il, &ids, &n), CH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], i1);
  ch_safefree(ids);
  assert_string_equal(t_row(s, il, T_NOW, &rs)->issuers, ca1.c.id);

  /* No AKI: both same-subject CAs qualify. */
  assert_int_equal(certhub_store_issuers(s, il2, &ids, &n), CH_OK);
  assert_int_equal(n, 2);
  assert_true((ids[0] == i1 && ids[1] == i2) ||
              (ids[0] == i2 && ids[1] == i1));
  ch_safefree(ids);

  assert_int_equal(certhub_store_issuers(s, i1, &ids, &n), CH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], ir);
  ch_safefree(ids);
  assert_string_equal(t_row(s, i2, T_NOW, &rs)->issuers, root.c.id);

  /* The self-signed root is not its own issuer. */
  assert_int_equal(certhub_store_issuers(s, ir, &ids, &n), CH_OK);
  assert_int_equal(n, 0);
  free(ids);
  assert_string_equal(t_row(s, ir, T_NOW, &rs)->issuers, "");
  assert_int_equal(certhub_store_issuers(s, 99999, &ids, &n), CH_ERR_NOTFOUND);
}

static void tags_set_and_remove(void **state)
{
  fixture *fx = *state;
  certhub_store *s = fx->s;
  trows rs;
  assert_int_equal(certhub_store_tag_set(s, fx->id[0], "b", "2"), CH_OK);
  assert_int_equal(certhub_store_tag_set(s, fx->id[0], "a", "1"), CH_OK);
  assert_int_equal(certhub_store_tag_set(s, fx->id[0], "b", "3"), CH_OK);
  assert_string_equal(t_row(s, fx->id[0], T_NOW, &rs)->tags, "a=1;b=3");
  assert_int_equal(certhub_store_tag_remove(s, fx->id[0], "a"), CH_OK);
  assert_string_equal(t_row(s, fx->id[0], T_NOW, &rs)->tags, "b=3");
  assert_int_equal(certhub_store_tag_remove(s, fx->id[0], "a"),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_store_tag_set(s, 99999, "a", "1"), CH_ERR_NOTFOUND);
  assert_int_equal(certhub_store_tag_set(s, fx->id[0], "", "1"), CH_ERR_USAGE);
}

static void delete_cascades(void **state)
{
  fixture *fx = *state;
  certhub_store *s = fx->s;
  certhub_store_counts before, after;
  tcert n1;
  int64_t scan;
  unsigned repl = 0;
  /* Give c3 (gone) a renewal so the link must go too. */
  tcert_init(&n1, 400, "gone.example", T_NOW + 400 * T_DAY, 'd', 'y');
  assert_int_equal(certhub_store_scan_begin(s, fx->src1, T_NOW, &scan), CH_OK);
  for(int i = 0; i < 3; i++)
    t_put(s, &fx->c[i], fx->src1, (unsigned)i + 1, scan, T_NOW);
  /* c3 is already absent, so it is not "gone in this scan": no link. */
  t_put(s, &n1, fx->src1, 4, scan, T_NOW);
  assert_int_equal(
      certhub_store_scan_finish(s, fx->src1, scan, T_NOW, NULL, &repl), CH_OK);
  assert_int_equal(repl, 0);
  free(t_query(s, "INSERT INTO renewals VALUES(4, 5, NULL, 0)"));
  t_query_eq(s, "SELECT count(*) FROM renewals", "1");

  assert_int_equal(certhub_store_counts_get(s, &before), CH_OK);
  assert_int_equal(certhub_store_delete(s, fx->id[2]), CH_OK); /* tagged */
  assert_int_equal(certhub_store_delete(s, fx->id[3]), CH_OK); /* renewed */
  assert_int_equal(certhub_store_counts_get(s, &after), CH_OK);
  assert_int_equal(after.certs, before.certs - 2);
  assert_int_equal(after.sightings, before.sightings - 2);
  assert_int_equal(after.sources, before.sources);
  t_query_eq(s, "SELECT count(*) FROM tags WHERE cert_id = 3", "0");
  t_query_eq(s, "SELECT count(*) FROM renewals", "0");
  assert_int_equal(certhub_store_delete(s, fx->id[2]), CH_ERR_NOTFOUND);
  uint8_t *der;
  size_t len;
  assert_int_equal(certhub_store_get_der(s, fx->id[2], &der, &len),
                   CH_ERR_NOTFOUND);
  assert_null(t_query(s, "PRAGMA foreign_key_check"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(list_order_and_status, setup, teardown),
      cmocka_unit_test_setup_teardown(list_expiry_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(list_tag_issuer_search, setup, teardown),
      cmocka_unit_test_setup_teardown(resolve_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(resolve_ambiguous_prefix, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(issuers_with_key_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(tags_set_and_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(delete_cascades, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
