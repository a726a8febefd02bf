/* Container readers: PEM bundles with good and bad blocks, DER, PKCS#7,
 * PKCS#12, sniffing and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "certhub/cert.h"
#include "test_x509_util.h"

typedef struct got {
  unsigned n_certs;
  unsigned n_errs;
  unsigned cert_pos[16];
  char cns[16][64];
  unsigned err_pos[16];
  ch_err errs[16];
  char reasons[16][160];
  ch_err stop_after; /* return this from on_cert once, if set */
} got;

static ch_err on_cert(void *ctx, certhub_cert *c, unsigned pos)
{
  got *g = ctx;
  if(g->n_certs < 16) {
    g->cert_pos[g->n_certs] = pos;
    snprintf(g->cns[g->n_certs], 64, "%s",
             c->common_name ? c->common_name : "");
  }
  g->n_certs++;
  certhub_cert_free(c);
  return g->stop_after;
}

static void on_error(void *ctx, unsigned pos, ch_err err, const char *reason)
{
  got *g = ctx;
  if(g->n_errs < 16) {
    g->err_pos[g->n_errs] = pos;
    g->errs[g->n_errs] = err;
    snprintf(g->reasons[g->n_errs], 160, "%s", reason);
  }
  g->n_errs++;
}

static ch_err read_all(const void *buf, size_t len, const char *password,
                       const char *hint, got *g, enum certhub_format *fmt)
{
  certhub_read_opts o = {password, hint};
  memset(g, 0, sizeof(*g));
  return certhub_read_buffer(buf, len, &o, on_cert, on_error, g, fmt);
}

static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca_cert, *leaf1, *leaf2;

static X509 *make(const char *cn, EVP_PKEY *k, long serial)
{
  X509_NAME *n = tu_name(cn), *in = tu_name("Reader CA");
  X509 *x = tu_cert(k, n, in, serial, "20240101000000Z", "20300101000000Z");
  tu_sign(x, ca_key, EVP_sha256());
  X509_NAME_free(n);
  X509_NAME_free(in);
  return x;
}

static int setup(void **state)
{
  (void)state;
  ca_key = tu_key("EC", NID_X9_62_prime256v1);
  leaf_key = tu_key("RSA", 2048);
  X509_NAME *n = tu_name("Reader CA");
  ca_cert = tu_cert(ca_key, n, NULL, 1, "20240101000000Z", "20340101000000Z");
  tu_ext(ca_cert, NULL, NID_basic_constraints, "critical,CA:TRUE");
  tu_sign(ca_cert, ca_key, EVP_sha256());
  X509_NAME_free(n);
  leaf1 = make("leaf one", leaf_key, 2);
  leaf2 = make("leaf two", leaf_key, 3);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  X509_free(ca_cert);
  X509_free(leaf1);
  X509_free(leaf2);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(leaf_key);
  return 0;
}

static char *key_pem(EVP_PKEY *k)
{
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
  char *p;
  long l = BIO_get_mem_data(b, &p);
  char *s = strndup(p, (size_t)l);
  BIO_free(b);
  return s;
}

static size_t lines_in(const char *s)
{
  size_t n = 0;
  for(; *s; s++)
    n += *s == '\n';
  return n;
}

static void pem_bundle_good_and_bad(void **state)
{
  (void)state;
  char *a = tu_pem(leaf1), *b = tu_pem(leaf2), *c = tu_pem(ca_cert);
  char *k = key_pem(leaf_key);
  /* Block 2: a '!' in its third base64 line. */
  char *bad = strdup(b);
  char *l3 = bad;
  for(int i = 0; i < 3; i++)
    l3 = strchr(l3, '\n') + 1;
  l3[5] = '!';
  /* Block 3: the first 300 bytes of a certificate, encoded. */
  uint8_t *der;
  size_t dlen = tu_der(leaf2, &der);
  char *trunc;
  size_t tlen;
  assert_int_equal(certhub_pem_encode(der, 300, &trunc, &tlen), CH_OK);
  /* Block 5: no END line. */
  char *open = strdup(c);
  *strstr(open, "-----END") = '\0';

  size_t cap = strlen(a) + strlen(bad) + strlen(trunc) + strlen(k) +
               strlen(c) + strlen(open) + 256;
  char *all = malloc(cap);
  snprintf(all, cap, "junk before\n%s%s%s%s%s%s", a, bad, trunc, k, c, open);
  got g;
  enum certhub_format fmt;
  ch_err rc = read_all(all, strlen(all), NULL, "bundle.pem", &g, &fmt);
  assert_int_equal(fmt, CERTHUB_FMT_PEM);
  assert_int_equal(rc, CH_ERR_PARSE); /* the first error */
  assert_int_equal(g.n_certs, 2);
  assert_int_equal(g.cert_pos[0], 1);
  assert_string_equal(g.cns[0], "leaf one");
  assert_int_equal(g.cert_pos[1], 4);
  assert_string_equal(g.cns[1], "Reader CA");
  assert_int_equal(g.n_errs, 3);
  assert_int_equal(g.err_pos[0], 2);
  assert_int_equal(g.errs[0], CH_ERR_PARSE);
  char want[160];
  /* 1 junk line + block 1, then BEGIN line and two body lines. */
  snprintf(want, sizeof(want), "bad base64 at line %zu", 1 + lines_in(a) + 4);
  assert_string_equal(g.reasons[0], want);
  assert_int_equal(g.err_pos[1], 3);
  assert_int_equal(g.errs[1], CH_ERR_TRUNCATED);
  snprintf(want, sizeof(want),
           "truncated certificate (DER ends after 300 of %zu bytes)", dlen);
  assert_string_equal(g.reasons[1], want);
  assert_int_equal(g.err_pos[2], 5);
  assert_int_equal(g.errs[2], CH_ERR_TRUNCATED);
  assert_non_null(strstr(g.reasons[2], "no END line"));

  free(all);
  free(open);
  free(trunc);
  OPENSSL_free(der);
  free(bad);
  free(a);
  free(b);
  free(c);
  free(k);
}

static void pem_variants(void **state)
{
  (void)state;
  char *a = tu_pem(leaf1);
  /* CRLF line ends, RFC 1421 headers, an X509 CERTIFICATE label. */
  size_t n = strlen(a);
  char *crlf = malloc(2 * n + 256);
  char *o = crlf;
  for(const char *p = a; *p; p++) {
    if(*p == '\n')
      *o++ = '\r';
    *o++ = *p;
    if(p[0] == '\n' && o - crlf < 40) {
      o += sprintf(o, "Proc-Type: 4,TEST\r\nComment: a header\r\n"
                      "  continued\r\n\r\n");
    }
  }
  *o = '\0';
  got g;
  assert_int_equal(read_all(crlf, strlen(crlf), NULL, NULL, &g, NULL), CH_OK);
  assert_int_equal(g.n_certs, 1);

  char *x = malloc(n + 64);
  const char *body = strchr(a, '\n') + 1;
  const char *end = strstr(a, "-----END");
  snprintf(x, n + 64,
           "-----BEGIN X509 CERTIFICATE-----\n%.*s"
           "-----END X509 CERTIFICATE-----\n",
           (int)(end - body), body);
  assert_int_equal(read_all(x, strlen(x), NULL, NULL, &g, NULL), CH_OK);
  assert_int_equal(g.n_certs, 1);

  /* TRUSTED CERTIFICATE carries trust data after the certificate. */
  BIO *b = BIO_new(BIO_s_mem());
  X509_add1_trust_object(leaf1, OBJ_nid2obj(NID_server_auth));
  PEM_write_bio_X509_AUX(b, leaf1);
  char *p;
  long l = BIO_get_mem_data(b, &p);
  assert_non_null(memmem(p, (size_t)l, "TRUSTED CERTIFICATE", 19));
  assert_int_equal(read_all(p, (size_t)l, NULL, NULL, &g, NULL), CH_OK);
  assert_int_equal(g.n_certs, 1);
  assert_string_equal(g.cns[0], "leaf one");
  BIO_free(b);

  /* A mismatched END label is an error. */
  char *mis = strdup(a);
  memcpy(strstr(mis, "-----END ") + 9, "CERTIFICAT3", 11);
  assert_int_equal(read_all(mis, strlen(mis), NULL, NULL, &g, NULL),
                   CH_ERR_TRUNCATED);
  assert_int_equal(g.n_errs, 1);

  /* Base64 problems: bad padding, a dangling quantum. */
  char *pad = strdup(a);
  char *e = strstr(pad, "\n-----END");
  e[-1] = e[-1] == '=' ? 'A' : '=';
  if(e[-2] == '=')
    e[-2] = 'A';
  assert_int_not_equal(read_all(pad, strlen(pad), NULL, NULL, &g, NULL),
                       CH_OK);
  assert_int_equal(g.n_certs, 0);
  assert_int_equal(g.n_errs, 1);

  /* Callback asking to stop ends the read with its code. */
  char *two = malloc(2 * n + 1);
  snprintf(two, 2 * n + 1, "%s%s", a, a);
  certhub_read_opts opts = {0};
  memset(&g, 0, sizeof(g));
  g.stop_after = CH_ERR_EXISTS;
  assert_int_equal(certhub_read_buffer((uint8_t *)two, strlen(two), &opts,
                                       on_cert, on_error, &g, NULL),
                   CH_ERR_EXISTS);
  assert_int_equal(g.n_certs, 1);
  free(two);
  free(pad);
  free(mis);
  free(x);
  free(crlf);
  free(a);
}

static void private_key_only(void **state)
{
  (void)state;
  char *k = key_pem(leaf_key);
  got g;
  enum certhub_format fmt;
  assert_int_equal(read_all(k, strlen(k), NULL, NULL, &g, &fmt),
                   CH_ERR_NOTFOUND);
  assert_int_equal(fmt, CERTHUB_FMT_PEM);
  assert_int_equal(g.n_certs, 0);
  assert_int_equal(g.n_errs, 0);
  /* Even a "private key" block holding a certificate is never returned. */
  char *a = tu_pem(leaf1);
  char *body = strchr(a, '\n') + 1;
  *strstr(body, "-----END") = '\0';
  char buf[8192];
  snprintf(buf, sizeof(buf),
           "-----BEGIN PRIVATE KEY-----\n%s-----END PRIVATE KEY-----\n"
           "-----BEGIN ENCRYPTED PRIVATE KEY-----\n%s"
           "-----END ENCRYPTED PRIVATE KEY-----\n"
           "-----BEGIN X509 CRL-----\n%s-----END X509 CRL-----\n",
           body, body, body);
  assert_int_equal(read_all(buf, strlen(buf), NULL, NULL, &g, NULL),
                   CH_ERR_NOTFOUND);
  assert_int_equal(g.n_certs + g.n_errs, 0);
  free(a);
  free(k);
}

static void der_and_garbage(void **state)
{
  (void)state;
  uint8_t *der;
  size_t len = tu_der(leaf1, &der);
  got g;
  enum certhub_format fmt;
  assert_int_equal(read_all(der, len, NULL, "x.bin", &g, &fmt), CH_OK);
  assert_int_equal(fmt, CERTHUB_FMT_DER);
  assert_int_equal(g.n_certs, 1);
  /* Truncated DER file. */
  assert_int_equal(read_all(der, len - 10, NULL, NULL, &g, &fmt),
                   CH_ERR_TRUNCATED);
  assert_int_equal(fmt, CERTHUB_FMT_DER);
  assert_non_null(strstr(g.reasons[0], "DER ends after"));
  OPENSSL_free(der);

  const char *text = "hello, this is not a certificate\n";
  assert_int_equal(read_all(text, strlen(text), NULL, "a.pem", &g, &fmt),
                   CH_ERR_NOTFOUND);
  assert_int_equal(fmt, CERTHUB_FMT_UNKNOWN);
  assert_int_equal(read_all("", 0, NULL, NULL, &g, &fmt), CH_ERR_NOTFOUND);

  /* 50 MB of garbage: rejected quickly. */
  size_t big = 50u << 20;
  uint8_t *junk = malloc(big);
  uint32_t s = 12345;
  for(size_t i = 0; i < big; i++) {
    s = s * 1103515245u + 12345u;
    junk[i] = (uint8_t)(s >> 16);
  }
  junk[0] = 0x42;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(read_all(junk, big, NULL, "big.crt", &g, &fmt),
                   CH_ERR_NOTFOUND);
  /* Garbage that starts like a DER SEQUENCE is refused on the header. */
  junk[0] = 0x30;
  junk[1] = 0x84;
  assert_int_not_equal(read_all(junk, big, NULL, NULL, &g, &fmt), CH_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs < 2.0);
  free(junk);
}

static uint8_t *p7_der(size_t *len, bool pem)
{
  PKCS7 *p7 = PKCS7_new();
  PKCS7_set_type(p7, NID_pkcs7_signed);
  PKCS7_content_new(p7, NID_pkcs7_data);
  PKCS7_add_certificate(p7, leaf1);
  PKCS7_add_certificate(p7, ca_cert);
  uint8_t *out = NULL;
  if(pem) {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS7(b, p7);
    char *p;
    long l = BIO_get_mem_data(b, &p);
    out = malloc((size_t)l);
    memcpy(out, p, (size_t)l);
    *len = (size_t)l;
    BIO_free(b);
  }
  else {
    int n = i2d_PKCS7(p7, &out);
    assert_true(n > 0);
    *len = (size_t)n;
  }
  PKCS7_free(p7);
  return out;
}

static void pkcs7(void **state)
{
  (void)state;
  size_t len;
  got g;
  enum certhub_format fmt;
  uint8_t *d = p7_der(&len, false);
  assert_int_equal(certhub_sniff_format(d, len, NULL), CERTHUB_FMT_PKCS7);
  assert_int_equal(read_all(d, len, NULL, "chain.p7b", &g, &fmt), CH_OK);
  assert_int_equal(fmt, CERTHUB_FMT_PKCS7);
  assert_int_equal(g.n_certs, 2);
  assert_string_equal(g.cns[0], "leaf one");
  assert_string_equal(g.cns[1], "Reader CA");
  assert_int_equal(g.cert_pos[1], 2);
  /* Damaged PKCS#7: one error, no crash. */
  assert_int_equal(read_all(d, len - 100, NULL, NULL, &g, &fmt), CH_ERR_PARSE);
  assert_int_equal(g.n_errs, 1);
  assert_string_equal(g.reasons[0], "malformed PKCS#7 structure");
  OPENSSL_free(d);

  uint8_t *p = p7_der(&len, true);
  assert_int_equal(read_all(p, len, NULL, NULL, &g, &fmt), CH_OK);
  assert_int_equal(fmt, CERTHUB_FMT_PEM);
  assert_int_equal(g.n_certs, 2);
  free(p);
}

static uint8_t *p12_der(const char *pass, size_t *len)
{
  STACK_OF(X509) *ca = sk_X509_new_null();
  sk_X509_push(ca, ca_cert);
  PKCS12 *p12 =
      PKCS12_create(pass, "friendly", leaf_key, leaf1, ca, 0, 0, 0, 0, 0);
  assert_non_null(p12);
  uint8_t *out = NULL;
  int n = i2d_PKCS12(p12, &out);
  assert_true(n > 0);
  *len = (size_t)n;
  PKCS12_free(p12);
  sk_X509_free(ca);
  return out;
}

static void pkcs12(void **state)
{
  (void)state;
  size_t len;
  got g;
  enum certhub_format fmt;
  uint8_t *d = p12_der("s3cret", &len);
  assert_int_equal(certhub_sniff_format(d, len, "x.p12"), CERTHUB_FMT_PKCS12);
  assert_int_equal(read_all(d, len, "s3cret", NULL, &g, &fmt), CH_OK);
  assert_int_equal(fmt, CERTHUB_FMT_PKCS12);
  assert_int_equal(g.n_certs, 2);
  assert_string_equal(g.cns[0], "leaf one");
  assert_string_equal(g.cns[1], "Reader CA");

  assert_int_equal(read_all(d, len, "wrong", NULL, &g, &fmt), CH_ERR_PASSWORD);
  assert_int_equal(g.n_certs, 0);
  assert_string_equal(g.reasons[0], "wrong or missing PKCS#12 password");
  assert_int_equal(read_all(d, len, NULL, NULL, &g, &fmt), CH_ERR_PASSWORD);
  OPENSSL_free(d);

  /* Empty password: found without one being given. */
  d = p12_der("", &len);
  assert_int_equal(read_all(d, len, NULL, NULL, &g, &fmt), CH_OK);
  assert_int_equal(g.n_certs, 2);
  d[len - 40] ^= 0x55;
  assert_int_not_equal(read_all(d, len, NULL, NULL, &g, &fmt), CH_OK);
  OPENSSL_free(d);
}

static void sniff_and_encode(void **state)
{
  (void)state;
  uint8_t *der;
  size_t len = tu_der(leaf1, &der);
  assert_int_equal(certhub_sniff_format(der, len, NULL), CERTHUB_FMT_DER);
  assert_int_equal(certhub_sniff_format(der, len, "a.p12"), CERTHUB_FMT_DER);
  assert_int_equal(certhub_sniff_format((const uint8_t *)"x", 1, "a.der"),
                   CERTHUB_FMT_UNKNOWN);
  assert_int_equal(certhub_sniff_format(NULL, 0, NULL), CERTHUB_FMT_UNKNOWN);

  char *pem;
  size_t plen;
  assert_int_equal(certhub_pem_encode(der, len, &pem, &plen), CH_OK);
  assert_int_equal(strlen(pem), plen);
  char *ref = tu_pem(leaf1);
  assert_string_equal(pem, ref);
  assert_int_equal(certhub_sniff_format((uint8_t *)pem, plen, "a.der"),
                   CERTHUB_FMT_PEM);
  for(size_t n = 0; n < 5; n++) {
    free(pem);
    assert_int_equal(certhub_pem_encode(der, n, &pem, &plen), CH_OK);
    BIO *b = BIO_new_mem_buf(pem, (int)plen);
    char *name = NULL, *hdr = NULL;
    unsigned char *data = NULL;
    long dl = 0;
    assert_true(PEM_read_bio(b, &name, &hdr, &data, &dl) || n == 0);
    if(n)
      assert_memory_equal(data, der, n);
    OPENSSL_free(name);
    OPENSSL_free(hdr);
    OPENSSL_free(data);
    BIO_free(b);
  }
  free(pem);
  free(ref);
  OPENSSL_free(der);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pem_bundle_good_and_bad),
      cmocka_unit_test(pem_variants),
      cmocka_unit_test(private_key_only),
      cmocka_unit_test(der_and_garbage),
      cmocka_unit_test(pkcs7),
      cmocka_unit_test(pkcs12),
      cmocka_unit_test(sniff_and_encode),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
