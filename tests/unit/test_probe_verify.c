/* Chain analysis (lib/probe/verify.c): trust, every problem kind, the
 * per-chain cache with time checks per call, RFC 6125 hostnames and OCSP
 * staples. Fixtures: tests/data/chains/ (make-chains.sh), with dates pinned
 * around NOW. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include "certhub/cert.h"
#include "probe/probe_int.h"

#define NOW INT64_C(1893456000)      /* 2030-01-01T00:00:00Z */
#define JUN_2030 INT64_C(1906502400) /* leaf notAfter */
#define JAN_2029 INT64_C(1861920000) /* old intermediate's notAfter */
#define JAN_2031 INT64_C(1924992000)
#define JAN_2050 INT64_C(2524608000)
#define JAN_2026 INT64_C(1767225600) /* before the OCSP thisUpdate */

#define MAX_CHAIN 8

typedef struct chain {
  size_t n;
  uint8_t *der[MAX_CHAIN];
  size_t len[MAX_CHAIN];
} chain;

static char *data_path(const char *name)
{
  const char *dir = getenv("CERTHUB_TEST_DATA");
  char *p;
  assert_non_null(dir);
  assert_true(asprintf(&p, "%s/chains/%s", dir, name) > 0);
  return p;
}

static uint8_t *read_file(const char *name, size_t *len)
{
  char *path = data_path(name);
  FILE *f = fopen(path, "rb");
  uint8_t *buf = malloc(1 << 16);
  assert_non_null(f);
  assert_non_null(buf);
  *len = fread(buf, 1, 1 << 16, f);
  assert_true(*len > 0);
  fclose(f);
  free(path);
  return buf;
}

/* The exact DER bytes of every CERTIFICATE block (no re-encoding, so the
 * flipped signature byte survives). */
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
    assert_string_equal(type, "CERTIFICATE");
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

static struct ch_verifier *verifier(const char *ca, const char *pool)
{
  struct ch_verifier *v = NULL;
  char *errmsg = NULL;
  char *ca_path = ca ? data_path(ca) : NULL;
  char *pool_path = pool ? data_path(pool) : NULL;
  ch_err rc = ch_verifier_new(ca_path, pool_path, &v, &errmsg);
  if(rc)
    fail_msg("ch_verifier_new: %s", errmsg ? errmsg : "?");
  assert_null(errmsg);
  free(ca_path);
  free(pool_path);
  return v;
}

/* Check chain file `name` for `host` at `now`, with staple file `ocsp`. */
static void check(struct ch_verifier *v, const char *name, const char *host,
                  const char *ocsp, int64_t now, certhub_chain_check *out)
{
  chain c;
  size_t olen = 0;
  uint8_t *o = ocsp ? read_file(ocsp, &olen) : NULL;
  load_chain(name, &c);
  assert_int_equal(ch_verifier_check(v, (const uint8_t *const *)c.der, c.len,
                                     c.n, host, o, olen, now, out),
                   CH_OK);
  free_chain(&c);
  free(o);
}

static const char *vtext(int code)
{
  return X509_verify_cert_error_string(code);
}

/* ---- trust and problems ------------------------------------------------ */

static void test_good_chain(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", "pool.pem");
  certhub_chain_check r;
  check(v, "good.pem", "www.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);
  assert_string_equal(r.verify_error, "");
  assert_true(r.hostname_match);
  assert_int_equal(r.earliest_not_after, JUN_2030);
  assert_int_equal(r.earliest_index, 0);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_NONE);
  assert_int_equal(r.ocsp_next_update, 0);
  /* The right order through two intermediates is fine too. */
  check(v, "deep.pem", "deep.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);
  ch_verifier_free(v);
}

static void test_missing_intermediate(void **state)
{
  (void)state;
  certhub_chain_check r;
  /* certhub knows the intermediate the server left out. */
  struct ch_verifier *v = verifier("ca.pem", "pool.pem");
  check(v, "leaf-only.pem", "www.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_MISSING_INTERMEDIATE);
  assert_string_equal(r.verify_error,
                      vtext(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
  assert_true(r.hostname_match);
  ch_verifier_free(v);

  /* Without that knowledge it is just an unknown issuer. */
  v = verifier("ca.pem", NULL);
  check(v, "leaf-only.pem", "www.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_UNKNOWN_ISSUER);
  ch_verifier_free(v);
}

static void test_missing_intermediate_in_store(void **state)
{
  (void)state;
  /* A trust store holding the intermediate verifies the bare leaf, but the
   * server still failed to send it. */
  char tmpl[] = "/tmp/certhub-verify-ca-XXXXXX";
  int fd = mkstemp(tmpl);
  size_t l1, l2;
  uint8_t *root = read_file("ca.pem", &l1);
  uint8_t *inter = read_file("pool.pem", &l2);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, root, l1), (ssize_t)l1);
  assert_int_equal(write(fd, inter, l2), (ssize_t)l2);
  close(fd);
  struct ch_verifier *v = NULL;
  char *errmsg = NULL;
  assert_int_equal(ch_verifier_new(tmpl, NULL, &v, &errmsg), CH_OK);
  certhub_chain_check r;
  check(v, "leaf-only.pem", "www.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_MISSING_INTERMEDIATE);
  assert_string_equal(r.verify_error, "");
  check(v, "good.pem", "www.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);
  ch_verifier_free(v);
  unlink(tmpl);
  free(root);
  free(inter);
}

static void test_unknown_issuer(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", "pool.pem");
  certhub_chain_check r;
  check(v, "unknown.pem", "stranger.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_UNKNOWN_ISSUER);
  assert_string_equal(r.verify_error,
                      vtext(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY));
  assert_true(r.hostname_match);
  ch_verifier_free(v);

  /* The test root is in no system store either. */
  v = verifier(NULL, NULL);
  check(v, "good.pem", "www.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_UNKNOWN_ISSUER);
  ch_verifier_free(v);
}

static void test_wrong_order(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  /* leaf2, inter, inter2: inter2 issued leaf2 but comes last. OpenSSL
   * still builds the path, so it is trusted with a problem. */
  check(v, "wrong-order.pem", "deep.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_WRONG_ORDER);
  assert_string_equal(r.verify_error, "");
  ch_verifier_free(v);
}

static void test_expired_intermediate(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  check(v, "expired-inter.pem", "lapsed.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_EXPIRED_INTERMEDIATE);
  assert_string_equal(r.verify_error, vtext(X509_V_ERR_CERT_HAS_EXPIRED));
  /* The earliest expiry is the intermediate's, at position 1. */
  assert_int_equal(r.earliest_not_after, JAN_2029);
  assert_int_equal(r.earliest_index, 1);
  /* Before it expired the leaf was not valid yet: the time checks are
   * redone per call on the cached chain. */
  check(v, "expired-inter.pem", "lapsed.example.test", NULL, JAN_2029 - 1, &r);
  assert_int_equal(r.problems, CERTHUB_CHAIN_NOT_YET_VALID);
  assert_string_equal(r.verify_error, vtext(X509_V_ERR_CERT_NOT_YET_VALID));
  ch_verifier_free(v);
}

static void test_expired_leaf(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  check(v, "expired.pem", "old.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_EXPIRED);
  assert_string_equal(r.verify_error, vtext(X509_V_ERR_CERT_HAS_EXPIRED));
  assert_int_equal(r.earliest_index, 0);
  assert_true(r.earliest_not_after < NOW);
  ch_verifier_free(v);
}

static void test_not_yet_valid(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  check(v, "future.pem", "soon.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_NOT_YET_VALID);
  assert_string_equal(r.verify_error, vtext(X509_V_ERR_CERT_NOT_YET_VALID));
  check(v, "future.pem", "soon.example.test", NULL, JAN_2031 + 1, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);
  ch_verifier_free(v);
}

static void test_self_signed(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", "pool.pem");
  certhub_chain_check r;
  check(v, "self-signed.pem", "self.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_SELF_SIGNED);
  assert_string_equal(r.verify_error,
                      vtext(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
  assert_true(r.hostname_match);
  ch_verifier_free(v);
  /* Pinned in the CA file it is trusted and no problem. */
  v = verifier("self-signed.pem", NULL);
  check(v, "self-signed.pem", "self.example.test", NULL, NOW, &r);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);
  ch_verifier_free(v);
}

static void test_bad_signature(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  check(v, "bad-signature.pem", "www.example.test", NULL, NOW, &r);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_BAD_SIGNATURE);
  assert_string_equal(r.verify_error,
                      vtext(X509_V_ERR_CERT_SIGNATURE_FAILURE));
  /* Expired too: both problems, and OpenSSL would have reported the
   * signature first (same depth: signature before time). */
  check(v, "bad-signature.pem", "www.example.test", NULL, JAN_2031, &r);
  assert_int_equal(r.problems,
                   CERTHUB_CHAIN_BAD_SIGNATURE | CERTHUB_CHAIN_EXPIRED);
  assert_string_equal(r.verify_error,
                      vtext(X509_V_ERR_CERT_SIGNATURE_FAILURE));
  ch_verifier_free(v);
}

static void test_cache(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  uint64_t hits, misses;
  check(v, "good.pem", "www.example.test", NULL, NOW, &r);
  ch_verifier_stats(v, &hits, &misses);
  assert_int_equal(hits, 0);
  assert_int_equal(misses, 1);
  assert_true(r.trusted);
  assert_int_equal(r.problems, 0);

  /* Same chain, later: a hit, and the time checks are redone. */
  check(v, "good.pem", "other.example.test", NULL, JAN_2031, &r);
  ch_verifier_stats(v, &hits, &misses);
  assert_int_equal(hits, 1);
  assert_int_equal(misses, 1);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_EXPIRED);
  assert_string_equal(r.verify_error, vtext(X509_V_ERR_CERT_HAS_EXPIRED));
  assert_false(r.hostname_match); /* hostname is per call too */

  check(v, "good.pem", NULL, NULL, NOW, &r);
  ch_verifier_stats(v, &hits, &misses);
  assert_int_equal(hits, 2);
  assert_true(r.trusted);
  assert_string_equal(r.verify_error, "");
  assert_false(r.hostname_match); /* no name, no match */

  /* A different chain (the leaf alone) is a miss. */
  check(v, "leaf-only.pem", "www.example.test", NULL, NOW, &r);
  ch_verifier_stats(v, &hits, &misses);
  assert_int_equal(hits, 2);
  assert_int_equal(misses, 2);
  assert_int_equal(r.problems, CERTHUB_CHAIN_UNKNOWN_ISSUER);
  ch_verifier_free(v);
}

static void test_bad_input(void **state)
{
  (void)state;
  struct ch_verifier *v = NULL;
  char *errmsg = NULL;
  char *garbage = data_path("ocsp-garbage.der");

  assert_int_equal(ch_verifier_new("/nonexistent/ca.pem", NULL, &v, &errmsg),
                   CH_ERR_CONFIG);
  assert_null(v);
  assert_non_null(errmsg);
  assert_non_null(strstr(errmsg, "/nonexistent/ca.pem"));
  free(errmsg);

  assert_int_equal(ch_verifier_new(NULL, "/nonexistent/pool.pem", &v, &errmsg),
                   CH_ERR_IO);
  assert_non_null(strstr(errmsg, "/nonexistent/pool.pem"));
  free(errmsg);

  assert_int_equal(ch_verifier_new(NULL, garbage, &v, &errmsg), CH_ERR_PARSE);
  assert_non_null(strstr(errmsg, garbage));
  assert_non_null(strstr(errmsg, "no PEM certificates"));
  free(errmsg);
  free(garbage);

  v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  const uint8_t junk[] = "not a certificate";
  const uint8_t *der[1] = {junk};
  size_t len[1] = {sizeof(junk)};
  assert_int_equal(ch_verifier_check(v, der, len, 0, NULL, NULL, 0, NOW, &r),
                   CH_ERR_USAGE);
  assert_int_equal(
      ch_verifier_check(v, der, len, 1, "a.example", NULL, 0, NOW, &r), CH_OK);
  assert_false(r.trusted);
  assert_int_equal(r.problems, CERTHUB_CHAIN_OTHER);
  assert_non_null(strstr(r.verify_error, "could not be parsed"));
  assert_false(r.hostname_match);

  /* A good chain followed by junk: analysed without the junk. */
  chain c;
  load_chain("good.pem", &c);
  const uint8_t *der2[3] = {c.der[0], c.der[1], junk};
  size_t len2[3] = {c.len[0], c.len[1], sizeof(junk)};
  assert_int_equal(ch_verifier_check(v, der2, len2, 3, "www.example.test",
                                     NULL, 0, NOW, &r),
                   CH_OK);
  assert_int_equal(r.problems, CERTHUB_CHAIN_OTHER);
  assert_false(r.trusted);
  assert_true(r.hostname_match);
  free_chain(&c);
  ch_verifier_free(v);
  ch_verifier_free(NULL);
}

/* A self-signed leaf whose SAN has a DNS name with a byte over 0x7f:
 * certhub's parser refuses the IA5String, OpenSSL (like TLS clients)
 * accepts it, so the names come from OpenSSL's decoding. */
static void test_names_from_openssl(void **state)
{
  (void)state;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  static const char *const names[] = {"www.example.test", "b\xfc"
                                                          "cher.example.test"};
  assert_non_null(key);
  assert_non_null(x);
  for(size_t i = 0; i < 2; i++) {
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    assert_true(ASN1_STRING_set(ia5, names[i], (int)strlen(names[i])));
    GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
    assert_true(sk_GENERAL_NAME_push(gens, g));
  }
  X509_NAME *nm = X509_get_subject_name(x);
  assert_true(X509_NAME_add_entry_by_txt(
      nm, "CN", MBSTRING_ASC, (const unsigned char *)"cn.example.test", -1, -1,
      0));
  assert_true(X509_set_issuer_name(x, nm));
  assert_true(X509_set_version(x, 2));
  assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
  assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), NOW - 86400));
  assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), NOW + 86400));
  assert_true(X509_set_pubkey(x, key));
  assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0));
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);
  unsigned char *der = NULL;
  int len = i2d_X509(x, &der);
  assert_true(len > 0);

  certhub_cert *c = NULL;
  assert_int_not_equal(certhub_cert_parse_der(der, (size_t)len, &c, NULL),
                       CH_OK);

  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  const uint8_t *d[1] = {der};
  size_t l[1] = {(size_t)len};
  assert_int_equal(
      ch_verifier_check(v, d, l, 1, "WWW.example.test.", NULL, 0, NOW, &r),
      CH_OK);
  assert_int_equal(r.problems, CERTHUB_CHAIN_SELF_SIGNED);
  assert_true(r.hostname_match);
  assert_int_equal(r.earliest_not_after, NOW + 86400);
  assert_int_equal(ch_verifier_check(v, d, l, 1, "cn.example.test", NULL, 0,
                                     NOW + 2 * 86400, &r),
                   CH_OK);
  assert_false(r.hostname_match); /* it has SANs: no CN fallback */
  assert_int_equal(r.problems,
                   CERTHUB_CHAIN_SELF_SIGNED | CERTHUB_CHAIN_EXPIRED);
  ch_verifier_free(v);
  OPENSSL_free(der);
  GENERAL_NAMES_free(gens);
  X509_free(x);
  EVP_PKEY_free(key);
}

/* ---- hostnames ------------------------------------------------------- */

static const struct {
  const char *chain;
  const char *name;
  bool match;
} name_cases[] = {
    /* names.pem SANs: www.example.test, *.wild.example.test,
     * f*.partial.example.test, *.test, xn--bcher-kva.example.test,
     * *.xn--caf-dma.example.test, MiXeD.Example.TEST, dotted.example.test.,
     * IP 192.0.2.10, IP 2001:db8::10, email ops@example.test;
     * CN cn.names.example.test */
    {"names.pem", "www.example.test", true},
    {"names.pem", "WWW.Example.TEST", true},
    {"names.pem", "www.example.test.", true},
    {"names.pem", "www.example.test..", false},
    {"names.pem", "example.test", false},
    {"names.pem", "ww.example.test", false},
    {"names.pem", "www.example.test.evil", false},
    {"names.pem", "wwwexample.test", false},
    {"names.pem", "a.wild.example.test", true},
    {"names.pem", "A-1.WILD.example.test.", true},
    {"names.pem", "xn--nxasmq6b.wild.example.test", true},
    {"names.pem", "wild.example.test", false},
    {"names.pem", "a.b.wild.example.test", false},
    {"names.pem", ".wild.example.test", false},
    {"names.pem", "*.wild.example.test", false},
    {"names.pem", "foo.partial.example.test", false},
    {"names.pem", "f.partial.example.test", false},
    {"names.pem", "f*.partial.example.test", false},
    {"names.pem", "a.test", false},
    {"names.pem", "test", false},
    {"names.pem", "xn--bcher-kva.example.test", true},
    {"names.pem", "XN--BCHER-KVA.example.test", true},
    {"names.pem",
     "b\xc3\xbc"
     "cher.example.test",
     false},
    {"names.pem", "xn--80ak6aa92e.xn--caf-dma.example.test", true},
    {"names.pem", "xn--caf-dma.example.test", false},
    {"names.pem", "mixed.example.test", true},
    {"names.pem", "dotted.example.test", true},
    {"names.pem", "dotted.example.test.", true},
    {"names.pem", "cn.names.example.test", false},
    {"names.pem", "ops@example.test", false},
    {"names.pem", "192.0.2.10", true},
    {"names.pem", "192.0.2.11", false},
    {"names.pem", "192.0.2.010", false},
    {"names.pem", "2001:db8::10", true},
    {"names.pem", "2001:DB8:0:0:0:0:0:10", true},
    {"names.pem", "[2001:db8::10]", true},
    {"names.pem", "2001:db8::11", false},
    {"names.pem", "::ffff:192.0.2.10", false},
    {"names.pem", "", false},
    {"names.pem", "www.example.test ", false},
    /* No SAN at all: the CN is the identity. */
    {"cnonly.pem", "cnonly.example.test", true},
    {"cnonly.pem", "CNONLY.example.test.", true},
    {"cnonly.pem", "x.cnonly.example.test", false},
    {"cnonly.pem", "192.0.2.10", false},
    /* An IP SAN only: the CN is ignored. */
    {"iponly.pem", "ipcn.example.test", false},
    {"iponly.pem", "198.51.100.7", true},
    {"iponly.pem", "[198.51.100.7]", true},
    {"iponly.pem", "198.51.100.8", false},
};

static void test_hostnames(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", NULL);
  certhub_chain_check r;
  for(size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
    check(v, name_cases[i].chain, name_cases[i].name, NULL, NOW, &r);
    if(r.hostname_match != name_cases[i].match)
      fail_msg("%s vs '%s': got %d, want %d", name_cases[i].chain,
               name_cases[i].name, r.hostname_match, name_cases[i].match);
    assert_true(r.trusted);
  }
  /* A 300-character name is refused, not overflowed. */
  char longname[301];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  check(v, "names.pem", longname, NULL, NOW, &r);
  assert_false(r.hostname_match);
  ch_verifier_free(v);
}

/* ---- OCSP ------------------------------------------------------------ */

static void test_ocsp(void **state)
{
  (void)state;
  struct ch_verifier *v = verifier("ca.pem", "pool.pem");
  certhub_chain_check r;
  static const struct {
    const char *file;
    certhub_ocsp_status want;
  } cases[] = {
      {"ocsp-good.der", CERTHUB_OCSP_GOOD},
      {"ocsp-revoked.der", CERTHUB_OCSP_REVOKED},
      {"ocsp-unknown.der", CERTHUB_OCSP_UNKNOWN},
      {"ocsp-stale.der", CERTHUB_OCSP_INVALID},      /* nextUpdate passed */
      {"ocsp-garbage.der", CERTHUB_OCSP_INVALID},    /* not DER */
      {"ocsp-trylater.der", CERTHUB_OCSP_INVALID},   /* no basic response */
      {"ocsp-wrong-cert.der", CERTHUB_OCSP_INVALID}, /* about another leaf */
      {"ocsp-forged.der", CERTHUB_OCSP_INVALID},     /* stranger signed */
      {"ocsp-good.der", CERTHUB_OCSP_GOOD},          /* again, after others */
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    check(v, "good.pem", "www.example.test", cases[i].file, NOW, &r);
    if(r.ocsp != cases[i].want)
      fail_msg("%s: got %s, want %s", cases[i].file,
               certhub_ocsp_status_name(r.ocsp),
               certhub_ocsp_status_name(cases[i].want));
    assert_true(r.trusted); /* the staple never changes the chain verdict */
  }
  check(v, "good.pem", "www.example.test", "ocsp-good.der", NOW, &r);
  int64_t next = r.ocsp_next_update;
  assert_true(next > NOW);
  assert_true(next < JAN_2050);
  check(v, "good.pem", "www.example.test", "ocsp-stale.der", NOW, &r);
  assert_true(r.ocsp_next_update != 0 && r.ocsp_next_update < NOW);
  check(v, "good.pem", "www.example.test", "ocsp-garbage.der", NOW, &r);
  assert_int_equal(r.ocsp_next_update, 0);

  /* Freshness is judged at each call's now. */
  check(v, "good.pem", "www.example.test", "ocsp-good.der", JAN_2050, &r);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_INVALID);
  assert_int_equal(r.ocsp_next_update, next);
  check(v, "good.pem", "www.example.test", "ocsp-good.der", JAN_2026, &r);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_INVALID); /* thisUpdate ahead */
  check(v, "good.pem", "www.example.test", "ocsp-good.der", NOW, &r);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_GOOD);

  /* The bare leaf: the issuer comes from the known intermediates. */
  check(v, "leaf-only.pem", "www.example.test", "ocsp-good.der", NOW, &r);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_GOOD);
  /* A staple for a certificate whose issuer is nowhere is invalid. */
  check(v, "self-signed.pem", "self.example.test", "ocsp-good.der", NOW, &r);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_INVALID);
  ch_verifier_free(v);

  /* Trailing bytes after the response. */
  v = verifier("ca.pem", NULL);
  size_t olen;
  uint8_t *o = read_file("ocsp-good.der", &olen);
  chain c;
  load_chain("good.pem", &c);
  o[olen] = 0;
  assert_int_equal(ch_verifier_check(v, (const uint8_t *const *)c.der, c.len,
                                     c.n, NULL, o, olen + 1, NOW, &r),
                   CH_OK);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_INVALID);
  assert_int_equal(ch_verifier_check(v, (const uint8_t *const *)c.der, c.len,
                                     c.n, NULL, o, olen, NOW, &r),
                   CH_OK);
  assert_int_equal(r.ocsp, CERTHUB_OCSP_GOOD);
  free(o);
  free_chain(&c);
  ch_verifier_free(v);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_chain),
      cmocka_unit_test(test_missing_intermediate),
      cmocka_unit_test(test_missing_intermediate_in_store),
      cmocka_unit_test(test_unknown_issuer),
      cmocka_unit_test(test_wrong_order),
      cmocka_unit_test(test_expired_intermediate),
      cmocka_unit_test(test_expired_leaf),
      cmocka_unit_test(test_not_yet_valid),
      cmocka_unit_test(test_self_signed),
      cmocka_unit_test(test_bad_signature),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_hostnames),
      cmocka_unit_test(test_names_from_openssl),
      cmocka_unit_test(test_ocsp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
