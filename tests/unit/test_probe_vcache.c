/* The persistent side of chain analysis (lib/probe/verify.c): entries
 * serialized through the cache_get/cache_put hooks round-trip to the same
 * verdicts, a corrupt, truncated or foreign blob is rejected (verified
 * afresh, never trusted), and the trust identity follows the trust store.
 * Fixtures: tests/data/chains/ (make-chains.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "probe/probe_int.h"

#define NOW INT64_C(1893456000)      /* 2030-01-01T00:00:00Z */
#define JAN_2031 INT64_C(1924992000) /* after the leaves expired */
#define MAX_CHAIN 8
#define MAX_KEPT 16

typedef struct chain {
  size_t n;
  uint8_t *der[MAX_CHAIN];
  size_t len[MAX_CHAIN];
} chain;

/* An in-memory cache behind the hooks, with call counts. */
typedef struct mcache {
  size_t n;
  uint8_t trust[MAX_KEPT][32], key[MAX_KEPT][32];
  uint8_t *blob[MAX_KEPT];
  size_t len[MAX_KEPT];
  unsigned gets, found, puts;
} mcache;

static bool m_get(void *arg, const uint8_t trust_id[32],
                  const uint8_t chain_key[32], const uint8_t **blob,
                  size_t *len)
{
  mcache *m = arg;
  m->gets++;
  for(size_t i = 0; i < m->n; i++) {
    if(!memcmp(m->trust[i], trust_id, 32) &&
       !memcmp(m->key[i], chain_key, 32)) {
      *blob = m->blob[i];
      *len = m->len[i];
      m->found++;
      return true;
    }
  }
  return false;
}

static void m_put(void *arg, const uint8_t trust_id[32],
                  const uint8_t chain_key[32], const uint8_t *blob, size_t len)
{
  mcache *m = arg;
  size_t i;
  m->puts++;
  for(i = 0; i < m->n; i++)
    if(!memcmp(m->trust[i], trust_id, 32) && !memcmp(m->key[i], chain_key, 32))
      break;
  assert_true(i < MAX_KEPT);
  if(i == m->n)
    m->n++;
  free(m->blob[i]);
  memcpy(m->trust[i], trust_id, 32);
  memcpy(m->key[i], chain_key, 32);
  m->blob[i] = malloc(len);
  assert_non_null(m->blob[i]);
  memcpy(m->blob[i], blob, len);
  m->len[i] = len;
}

static void m_free(mcache *m)
{
  for(size_t i = 0; i < m->n; i++)
    free(m->blob[i]);
  memset(m, 0, sizeof(*m));
}

static char *data_path(const char *name)
{
  const char *dir = getenv("CERTHUB_TEST_DATA");
  char *p;
  assert_non_null(dir);
  assert_true(asprintf(&p, "%s/chains/%s", dir, name) > 0);
  return p;
}

static void load_chain(const char *name, chain *c)
{
  char *path = data_path(name);
  BIO *bio = BIO_new_file(path, "r");
  char *type, *header;
  unsigned char *data;
  long len;
  assert_non_null(bio);
  memset(c, 0, sizeof(*c));
  while(c->n < MAX_CHAIN &&
        PEM_read_bio(bio, &type, &header, &data, &len) == 1) {
    c->der[c->n] = data;
    c->len[c->n] = (size_t)len;
    c->n++;
    OPENSSL_free(type);
    OPENSSL_free(header);
  }
  assert_true(c->n > 0);
  BIO_free(bio);
  free(path);
}

static void free_chain(chain *c)
{
  for(size_t i = 0; i < c->n; i++)
    OPENSSL_free(c->der[i]);
}

/* A verifier on CA file `ca` (a fixture name, or an absolute path) with
 * the hooks on m. */
static struct ch_verifier *verifier(const char *ca, const char *pool,
                                    mcache *m)
{
  struct ch_verifier *v = NULL;
  char *errmsg = NULL;
  char *ca_path = ca[0] == '/' ? strdup(ca) : data_path(ca);
  char *pool_path = pool ? data_path(pool) : NULL;
  certhub_probe_opts o = {.ca_file = ca_path,
                          .intermediates = pool_path,
                          .cache_get = m_get,
                          .cache_put = m_put,
                          .cache_arg = m};
  if(ch_verifier_new(ca_path, pool_path, &v, &errmsg) ||
     ch_verifier_set_cache(v, &o, &errmsg))
    fail_msg("verifier: %s", errmsg ? errmsg : "?");
  free(ca_path);
  free(pool_path);
  return v;
}

static void check(struct ch_verifier *v, const char *name, const char *host,
                  int64_t now, certhub_chain_check *out)
{
  chain c;
  load_chain(name, &c);
  assert_int_equal(ch_verifier_check(v, (const uint8_t *const *)c.der, c.len,
                                     c.n, host, NULL, 0, now, out),
                   CH_OK);
  free_chain(&c);
}

static void same(const certhub_chain_check *a, const certhub_chain_check *b)
{
  assert_int_equal(a->trusted, b->trusted);
  assert_int_equal(a->problems, b->problems);
  assert_string_equal(a->verify_error, b->verify_error);
  assert_int_equal(a->hostname_match, b->hostname_match);
  assert_int_equal(a->earliest_not_after, b->earliest_not_after);
  assert_int_equal(a->earliest_index, b->earliest_index);
  assert_int_equal(a->ocsp, b->ocsp);
}

/* Chains covering every part of an entry: trusted, missing intermediate
 * (issuer DER for OCSP, a second path), unknown issuer, wrong order, bad
 * signature, self-signed, IP SANs only, CN only, many names. */
static const struct {
  const char *chain, *host;
} cases[] = {
    {"good.pem", "www.example.test"},
    {"leaf-only.pem", "www.example.test"},
    {"unknown.pem", "stranger.example.test"},
    {"wrong-order.pem", "deep.example.test"},
    {"bad-signature.pem", "www.example.test"},
    {"self-signed.pem", "self.example.test"},
    {"iponly.pem", "192.0.2.7"},
    {"cnonly.pem", "cn.example.test"},
    {"names.pem", "a.example.test"},
    {"expired-inter.pem", "www.example.test"},
};

static void test_round_trip(void **state)
{
  (void)state;
  mcache m = {0};
  certhub_chain_check a, b;
  /* First run: every chain verified and put. */
  struct ch_verifier *v1 = verifier("ca.pem", "pool.pem", &m);
  for(size_t i = 0; i < CH_ARRAY_LEN(cases); i++)
    check(v1, cases[i].chain, cases[i].host, NOW, &a);
  assert_int_equal(m.puts, CH_ARRAY_LEN(cases));
  assert_int_equal(m.found, 0);
  /* Second run (a new verifier, the same trust): every chain comes from
   * the blobs, with the same verdicts, at two times and other names. */
  struct ch_verifier *v2 = verifier("ca.pem", "pool.pem", &m);
  for(size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
    const int64_t when[] = {NOW, JAN_2031};
    const char *names[] = {cases[i].host, "other.example.test"};
    for(size_t t = 0; t < 2; t++) {
      for(size_t k = 0; k < 2; k++) {
        check(v1, cases[i].chain, names[k], when[t], &a);
        check(v2, cases[i].chain, names[k], when[t], &b);
        same(&a, &b);
      }
    }
  }
  assert_int_equal(m.puts, CH_ARRAY_LEN(cases));
  assert_int_equal(m.found, CH_ARRAY_LEN(cases)); /* then in memory */
  uint64_t hits, misses;
  ch_verifier_stats(v2, &hits, &misses);
  assert_int_equal(misses, 0);
  /* The verdicts the round trip keeps are not all the same. */
  check(v2, "good.pem", "www.example.test", NOW, &b);
  assert_true(b.trusted && b.hostname_match);
  check(v2, "leaf-only.pem", "www.example.test", NOW, &b);
  assert_int_equal(b.problems, CERTHUB_CHAIN_MISSING_INTERMEDIATE);
  check(v2, "iponly.pem", "192.0.2.7", NOW, &b);
  check(v1, "iponly.pem", "192.0.2.7", NOW, &a);
  assert_int_equal(a.hostname_match, b.hostname_match);
  ch_verifier_free(v1);
  ch_verifier_free(v2);
  m_free(&m);
}

/* Every single-byte change and every truncation of a stored blob is
 * rejected: the chain is verified afresh (a put follows) with the right
 * verdict. Also a blob of another chain or another trust. */
static void test_corrupt_blobs(void **state)
{
  (void)state;
  mcache m = {0};
  certhub_chain_check want, got;
  struct ch_verifier *v = verifier("ca.pem", "pool.pem", &m);
  check(v, "leaf-only.pem", "www.example.test", NOW, &want);
  ch_verifier_free(v);
  assert_int_equal(m.n, 1);
  size_t len = m.len[0];
  uint8_t *orig = malloc(len);
  assert_non_null(orig);
  memcpy(orig, m.blob[0], len);
  assert_true(len > 64);

  for(size_t cut = 0; cut <= len; cut++) {
    for(int flip = 0; flip < 2; flip++) {
      if(cut == len && !flip)
        continue; /* the intact blob */
      if(flip && cut == len)
        break;
      /* flip: byte `cut` XOR 0x01 at full length; else truncated. */
      memcpy(m.blob[0], orig, len);
      m.len[0] = flip ? len : cut;
      if(flip)
        m.blob[0][cut] ^= 0x01;
      unsigned puts = m.puts;
      v = verifier("ca.pem", "pool.pem", &m);
      check(v, "leaf-only.pem", "www.example.test", NOW, &got);
      ch_verifier_free(v);
      if(m.puts != puts + 1)
        fail_msg("blob %s at %zu was accepted", flip ? "flipped" : "cut", cut);
      same(&want, &got);
      /* The put replaced it: restore the damage for the next round. */
    }
  }

  /* The intact blob under another chain's key is rejected too. */
  mcache m2 = {0};
  v = verifier("ca.pem", "pool.pem", &m2);
  check(v, "good.pem", "www.example.test", NOW, &got);
  ch_verifier_free(v);
  assert_int_equal(m2.n, 1);
  free(m2.blob[0]);
  m2.blob[0] = malloc(len);
  assert_non_null(m2.blob[0]);
  memcpy(m2.blob[0], orig, len);
  m2.len[0] = len;
  v = verifier("ca.pem", "pool.pem", &m2);
  check(v, "good.pem", "www.example.test", NOW, &got);
  ch_verifier_free(v);
  assert_int_equal(m2.puts, 2);
  assert_true(got.trusted);
  assert_int_equal(got.problems, 0);
  free(orig);
  m_free(&m);
  m_free(&m2);
}

/* The trust identity: the same files give the same id; another CA file,
 * another intermediates file or changed CA file contents give another,
 * so an untrusted verdict is not reused once the root is trusted. */
static void test_trust_identity(void **state)
{
  (void)state;
  mcache m = {0};
  certhub_chain_check r;
  char tmpl[] = "/tmp/certhub-vcache-ca-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  /* A CA file with an unrelated root: good.pem is not trusted. */
  char *self = data_path("self-signed.pem");
  FILE *f = fopen(self, "rb");
  assert_non_null(f);
  char buf[1 << 15];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  free(self);
  assert_int_equal(write(fd, buf, n), (ssize_t)n);

  struct ch_verifier *v = verifier(tmpl, NULL, &m);
  check(v, "good.pem", "www.example.test", NOW, &r);
  ch_verifier_free(v);
  assert_false(r.trusted);
  assert_int_equal(m.n, 1);

  /* The same file again: a persistent hit. */
  v = verifier(tmpl, NULL, &m);
  check(v, "good.pem", "www.example.test", NOW, &r);
  ch_verifier_free(v);
  assert_false(r.trusted);
  assert_int_equal(m.found, 1);
  assert_int_equal(m.puts, 1);

  /* Append the real root to the same file: another trust, re-verified,
   * now trusted. */
  char *ca = data_path("ca.pem");
  f = fopen(ca, "rb");
  assert_non_null(f);
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  free(ca);
  assert_int_equal(write(fd, buf, n), (ssize_t)n);
  close(fd);
  v = verifier(tmpl, NULL, &m);
  check(v, "good.pem", "www.example.test", NOW, &r);
  ch_verifier_free(v);
  assert_true(r.trusted);
  assert_int_equal(m.puts, 2);
  assert_int_equal(m.n, 2);
  assert_memory_not_equal(m.trust[0], m.trust[1], 32);

  /* The intermediates file is part of the trust too. */
  v = verifier(tmpl, "pool.pem", &m);
  check(v, "good.pem", "www.example.test", NOW, &r);
  ch_verifier_free(v);
  assert_int_equal(m.puts, 3);
  assert_int_equal(m.n, 3);

  /* A CA file that cannot be read is an error naming it. */
  unlink(tmpl);
  struct ch_verifier *w = NULL;
  char *errmsg = NULL;
  char *good = data_path("ca.pem");
  certhub_probe_opts o = {.ca_file = tmpl,
                          .cache_get = m_get,
                          .cache_put = m_put,
                          .cache_arg = &m};
  assert_int_equal(ch_verifier_new(good, NULL, &w, &errmsg), CH_OK);
  assert_int_equal(ch_verifier_set_cache(w, &o, &errmsg), CH_ERR_IO);
  assert_non_null(errmsg);
  assert_non_null(strstr(errmsg, tmpl));
  free(errmsg);
  ch_verifier_free(w);
  free(good);
  m_free(&m);
}

/* The system store has an identity too; without hooks nothing is called. */
static void test_system_store_and_no_hooks(void **state)
{
  (void)state;
  mcache m = {0};
  certhub_chain_check r;
  struct ch_verifier *v = NULL;
  char *errmsg = NULL;
  certhub_probe_opts o = {
      .cache_get = m_get, .cache_put = m_put, .cache_arg = &m};
  assert_int_equal(ch_verifier_new(NULL, NULL, &v, &errmsg), CH_OK);
  assert_int_equal(ch_verifier_set_cache(v, &o, &errmsg), CH_OK);
  check(v, "good.pem", "www.example.test", NOW, &r);
  assert_false(r.trusted);
  ch_verifier_free(v);
  assert_int_equal(m.puts, 1);

  certhub_probe_opts none = {0};
  assert_int_equal(ch_verifier_new(NULL, NULL, &v, &errmsg), CH_OK);
  assert_int_equal(ch_verifier_set_cache(v, &none, &errmsg), CH_OK);
  check(v, "good.pem", "www.example.test", NOW, &r);
  ch_verifier_free(v);
  assert_int_equal(m.puts, 1);
  assert_int_equal(m.gets, 1);
  m_free(&m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_corrupt_blobs),
      cmocka_unit_test(test_trust_identity),
      cmocka_unit_test(test_system_store_and_no_hooks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
