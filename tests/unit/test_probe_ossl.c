/*
 * The OpenSSL engine (ossl.c) against libssl's server side, in-process over
 * memory BIOs: a real TLS implementation on the other end, no sockets.
 * Certificates (a CA, a server leaf, a client leaf) are made fresh with
 * libcrypto; the client's are written to a temp dir because the engine
 * takes file names.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "probe/probe_int.h"

static EVP_PKEY *ca_key, *srv_key, *cli_key, *other_key;
static X509 *ca_cert, *srv_cert, *cli_cert;
static char dir[64], cli_cert_f[128], cli_key_f[128], other_key_f[128],
    junk_f[128];
static const uint8_t staple[] = {0x30, 0x03, 0x0a, 0x01, 0x06}; /* fake */

static X509 *make_cert(const char *cn, EVP_PKEY *key, EVP_PKEY *signer,
                       X509 *issuer, bool ca)
{
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  X509_set_pubkey(x, key);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(
      NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
  return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  if(x)
    assert_true(PEM_write_X509(fp, x));
  if(k)
    assert_true(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL));
  fclose(fp);
}

static int setup(void **state)
{
  (void)state;
  ca_key = EVP_EC_gen("P-256");
  srv_key = EVP_EC_gen("P-256");
  cli_key = EVP_EC_gen("P-256");
  other_key = EVP_EC_gen("P-256");
  ca_cert = make_cert("certhub test CA", ca_key, ca_key, NULL, true);
  srv_cert = make_cert("server.test", srv_key, ca_key, ca_cert, false);
  cli_cert = make_cert("client.test", cli_key, ca_key, ca_cert, false);
  snprintf(dir, sizeof(dir), "/tmp/certhub-ossl.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(cli_cert_f, sizeof(cli_cert_f), "%s/client.pem", dir);
  snprintf(cli_key_f, sizeof(cli_key_f), "%s/client.key", dir);
  snprintf(other_key_f, sizeof(other_key_f), "%s/other.key", dir);
  snprintf(junk_f, sizeof(junk_f), "%s/junk.pem", dir);
  write_pem(cli_cert_f, cli_cert, NULL);
  write_pem(cli_key_f, NULL, cli_key);
  write_pem(other_key_f, NULL, other_key);
  FILE *fp = fopen(junk_f, "w");
  assert_non_null(fp);
  fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
        "-----END CERTIFICATE-----\n",
        fp);
  fclose(fp);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  unlink(cli_cert_f);
  unlink(cli_key_f);
  unlink(other_key_f);
  unlink(junk_f);
  rmdir(dir);
  X509_free(ca_cert);
  X509_free(srv_cert);
  X509_free(cli_cert);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(srv_key);
  EVP_PKEY_free(cli_key);
  EVP_PKEY_free(other_key);
  return 0;
}

static int staple_cb(SSL *s, void *arg)
{
  (void)arg;
  unsigned char *p = OPENSSL_malloc(sizeof(staple));
  memcpy(p, staple, sizeof(staple));
  SSL_set_tlsext_status_ocsp_resp(s, p, sizeof(staple));
  return SSL_TLSEXT_ERR_OK;
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
  (void)ok;
  (void)x;
  return 1;
}

typedef struct srv_opts {
  int max_version; /* 0: TLS 1.3 */
  int min_version;
  bool require_client; /* SSL_VERIFY_FAIL_IF_NO_PEER_CERT */
  bool ocsp;
  bool send_chain; /* leaf and CA, else the leaf only */
} srv_opts;

typedef struct server {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out; /* in: client -> server */
  int hs;        /* SSL_do_handshake result once != -1 */
} server;

static void server_new(server *s, const srv_opts *o)
{
  memset(s, 0, sizeof(*s));
  s->ctx = SSL_CTX_new(TLS_server_method());
  assert_non_null(s->ctx);
  assert_int_equal(SSL_CTX_use_certificate(s->ctx, srv_cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, srv_key), 1);
  if(o->send_chain) {
    X509_up_ref(ca_cert);
    assert_int_equal(SSL_CTX_add1_chain_cert(s->ctx, ca_cert), 1);
    X509_free(ca_cert);
  }
  if(o->max_version)
    SSL_CTX_set_max_proto_version(s->ctx, o->max_version);
  if(o->min_version)
    SSL_CTX_set_min_proto_version(s->ctx, o->min_version);
  if(o->require_client)
    SSL_CTX_set_verify(
        s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  if(o->ocsp)
    SSL_CTX_set_tlsext_status_cb(s->ctx, staple_cb);
  s->ssl = SSL_new(s->ctx);
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  SSL_set_bio(s->ssl, s->in, s->out);
  SSL_set_accept_state(s->ssl);
  s->hs = -1;
}

static void server_free(server *s)
{
  SSL_free(s->ssl);
  SSL_CTX_free(s->ctx);
  ERR_clear_error();
}

typedef struct run {
  ch_err create_rc;
  ch_step step;
  ch_fail fail;
  ch_tls_info info;
  void *st;
} run;

/* Handshake the engine with server s, feeding server bytes `chunk` at a
 * time. The engine state stays in r->st for the caller to inspect and
 * destroy. */
static void pump(server *s, const ch_tls_params *p, size_t chunk, run *r)
{
  ch_buf out;
  ch_buf_init(&out, 1 << 20);
  memset(r, 0, sizeof(*r));
  r->create_rc = ch_tls_openssl.create(p, &r->st, &out, &r->fail);
  r->step = CH_STEP_MORE;
  if(r->create_rc) {
    r->step = CH_STEP_FAIL;
    ch_buf_free(&out);
    return;
  }
  for(int round = 0; round < 50; round++) {
    /* client -> server; the server may finish after the client is done */
    if(out.len)
      assert_int_equal(BIO_write(s->in, out.data, (int)out.len), (int)out.len);
    bool fed = out.len > 0;
    ch_buf_reset(&out);
    if(s->hs == -1 || fed) {
      int hr = SSL_do_handshake(s->ssl);
      if(hr == 1 || SSL_get_error(s->ssl, hr) != SSL_ERROR_WANT_READ)
        s->hs = hr;
    }
    if(r->step != CH_STEP_MORE && !fed)
      break;
    uint8_t buf[65536];
    int n = BIO_read(s->out, buf, sizeof(buf));
    if(n <= 0 || r->step != CH_STEP_MORE)
      continue;
    for(size_t off = 0; off < (size_t)n && r->step == CH_STEP_MORE;) {
      size_t k = (size_t)n - off < chunk ? (size_t)n - off : chunk;
      r->step =
          ch_tls_openssl.input(r->st, buf + off, k, &out, &r->info, &r->fail);
      off += k;
    }
  }
  ch_buf_free(&out);
}

static void check_chain(const ch_tls_info *info, size_t want_n)
{
  X509 *want[] = {srv_cert, ca_cert};
  assert_int_equal(info->chain_n, want_n);
  for(size_t i = 0; i < want_n; i++) {
    unsigned char *d = NULL;
    int l = i2d_X509(want[i], &d);
    assert_true(l > 0);
    assert_int_equal(info->chain_len[i], (size_t)l);
    assert_memory_equal(info->chain_der[i], d, (size_t)l);
    OPENSSL_free(d);
  }
}

static void test_tls13(void **state)
{
  (void)state;
  static const size_t chunks[] = {SIZE_MAX, 1, 100};
  for(size_t c = 0; c < 3; c++) {
    server s;
    srv_opts o = {.ocsp = true, .send_chain = true};
    server_new(&s, &o);
    ch_tls_params p = {.sni = "server.test"};
    run r;
    pump(&s, &p, chunks[c], &r);
    if(r.step != CH_STEP_DONE)
      fail_msg("chunk %zu: step %d: %s", chunks[c], r.step, r.fail.reason);
    assert_int_equal(s.hs, 1);
    assert_int_equal(r.info.version, 0x0304);
    const SSL_CIPHER *sc = SSL_get_current_cipher(s.ssl);
    assert_int_equal(r.info.cipher_id,
                     SSL_CIPHER_get_protocol_id(sc) & 0xffff);
    assert_string_equal(r.info.cipher, SSL_CIPHER_standard_name(sc));
    check_chain(&r.info, 2);
    assert_int_equal(r.info.ocsp_len, sizeof(staple));
    assert_memory_equal(r.info.ocsp_der, staple, sizeof(staple));
    /* SNI reached the server */
    assert_string_equal(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name),
                        "server.test");
    ch_tls_openssl.destroy(r.st);
    server_free(&s);
  }
}

static void test_tls12_no_staple_leaf_only(void **state)
{
  (void)state;
  server s;
  srv_opts o = {.max_version = TLS1_2_VERSION};
  server_new(&s, &o);
  ch_tls_params p = {.sni = NULL};
  run r;
  pump(&s, &p, 7, &r);
  assert_int_equal(r.step, CH_STEP_DONE);
  assert_int_equal(r.info.version, 0x0303);
  const SSL_CIPHER *sc = SSL_get_current_cipher(s.ssl);
  assert_string_equal(r.info.cipher, SSL_CIPHER_standard_name(sc));
  assert_true(strncmp(r.info.cipher, "TLS_ECDHE_ECDSA_", 16) == 0);
  check_chain(&r.info, 1);
  assert_null(r.info.ocsp_der);
  assert_int_equal(r.info.ocsp_len, 0);
  assert_null(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name));
  ch_tls_openssl.destroy(r.st);
  server_free(&s);
}

static void test_max_chain(void **state)
{
  (void)state;
  server s;
  srv_opts o = {.send_chain = true};
  server_new(&s, &o);
  ch_tls_params p = {.max_chain = 1};
  run r;
  pump(&s, &p, SIZE_MAX, &r);
  assert_int_equal(r.step, CH_STEP_DONE);
  check_chain(&r.info, 1);
  ch_tls_openssl.destroy(r.st);
  server_free(&s);
}

static void test_mtls(void **state)
{
  (void)state;
  static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
  for(size_t v = 0; v < 2; v++) {
    server s;
    srv_opts o = {.max_version = versions[v],
                  .require_client = true,
                  .send_chain = true};
    server_new(&s, &o);
    ch_tls_params p = {.sni = "server.test",
                       .client_cert = cli_cert_f,
                       .client_key = cli_key_f};
    run r;
    pump(&s, &p, SIZE_MAX, &r);
    if(r.step != CH_STEP_DONE)
      fail_msg("version %x: %s", versions[v], r.fail.reason);
    assert_int_equal(r.info.version, versions[v]);
    check_chain(&r.info, 2);
    /* the server completed and saw our certificate */
    assert_int_equal(s.hs, 1);
    X509 *peer = SSL_get1_peer_certificate(s.ssl);
    assert_non_null(peer);
    assert_int_equal(X509_cmp(peer, cli_cert), 0);
    X509_free(peer);
    ch_tls_openssl.destroy(r.st);
    server_free(&s);
  }
}

static void test_mtls_without_cert(void **state)
{
  (void)state;
  /* TLS 1.2: the server refuses inside the handshake: an alert. */
  server s;
  srv_opts o = {.max_version = TLS1_2_VERSION, .require_client = true};
  server_new(&s, &o);
  ch_tls_params p = {.sni = "server.test"};
  run r;
  pump(&s, &p, SIZE_MAX, &r);
  assert_int_equal(r.step, CH_STEP_FAIL);
  assert_int_equal(r.fail.status, CERTHUB_PROBE_TLS_ALERT);
  assert_string_equal(r.fail.reason,
                      "server sent TLS alert handshake_failure (40)");
  ch_tls_openssl.destroy(r.st);
  server_free(&s);

  /* TLS 1.3: the client's handshake (and the server's chain) is complete
   * before the server judges the client's empty Certificate, so the
   * engine reports the chain; the server then fails with
   * certificate_required. */
  srv_opts o13 = {.require_client = true};
  server_new(&s, &o13);
  pump(&s, &p, SIZE_MAX, &r);
  assert_int_equal(r.step, CH_STEP_DONE);
  assert_int_equal(r.info.version, 0x0304);
  check_chain(&r.info, 1);
  assert_int_not_equal(s.hs, 1);
  ch_tls_openssl.destroy(r.st);
  server_free(&s);
}

static void test_server_alert(void **state)
{
  (void)state;
  server s;
  srv_opts o = {.min_version = TLS1_3_VERSION};
  server_new(&s, &o);
  ch_tls_params p = {.max_version = 0x0302}; /* the legacy check */
  run r;
  pump(&s, &p, SIZE_MAX, &r);
  assert_int_equal(r.step, CH_STEP_FAIL);
  assert_int_equal(r.fail.status, CERTHUB_PROBE_TLS_ALERT);
  assert_string_equal(r.fail.reason,
                      "server sent TLS alert protocol_version (70)");
  ch_tls_openssl.destroy(r.st);
  server_free(&s);
}

static void test_not_tls(void **state)
{
  (void)state;
  ch_tls_params p = {.sni = "x.test"};
  ch_buf out;
  ch_buf_init(&out, 1 << 20);
  ch_fail f = {0};
  ch_tls_info info;
  void *st = NULL;
  assert_int_equal(ch_tls_openssl.create(&p, &st, &out, &f), CH_OK);
  assert_true(out.len > 50);
  assert_int_equal(out.data[0], 0x16); /* a handshake record: ClientHello */
  static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
  ch_step s = ch_tls_openssl.input(st, (const uint8_t *)http, sizeof(http) - 1,
                                   &out, &info, &f);
  assert_int_equal(s, CH_STEP_FAIL);
  assert_int_equal(f.status, CERTHUB_PROBE_PROTOCOL);
  assert_true(strncmp(f.reason, "TLS handshake failed: ", 22) == 0);
  ch_tls_openssl.destroy(st);

  /* a server that never stops sending hits max_bytes */
  p.max_bytes = 4096;
  assert_int_equal(ch_tls_openssl.create(&p, &st, &out, &f), CH_OK);
  static const uint8_t hdr[] = {0x16, 0x03, 0x03, 0x40, 0x00};
  uint8_t junk[1000];
  memset(junk, 0, sizeof(junk));
  s = ch_tls_openssl.input(st, hdr, sizeof(hdr), &out, &info, &f);
  for(int i = 0; i < 10 && s == CH_STEP_MORE; i++)
    s = ch_tls_openssl.input(st, junk, sizeof(junk), &out, &info, &f);
  assert_int_equal(s, CH_STEP_FAIL);
  assert_string_equal(
      f.reason, "server sent more than 4096 bytes during the TLS handshake");
  ch_tls_openssl.destroy(st);
  ch_buf_free(&out);
}

static void expect_create_fail(const char *cert, const char *key,
                               const char *prefix)
{
  ch_tls_params p = {.client_cert = cert, .client_key = key};
  ch_buf out;
  ch_buf_init(&out, 1 << 20);
  ch_fail f = {0};
  void *st = (void *)1;
  ch_err rc = ch_tls_openssl.create(&p, &st, &out, &f);
  assert_int_not_equal(rc, CH_OK);
  assert_null(st);
  assert_int_equal(f.status, CERTHUB_PROBE_ERROR);
  if(strncmp(f.reason, prefix, strlen(prefix)))
    fail_msg("reason '%s' does not start with '%s'", f.reason, prefix);
  assert_int_equal(out.len, 0);
  ch_buf_free(&out);
}

static void test_bad_client_files(void **state)
{
  (void)state;
  char want[512];
  snprintf(want, sizeof(want), "cannot load client certificate %s/nope.pem",
           dir);
  char nope[256];
  snprintf(nope, sizeof(nope), "%s/nope.pem", dir);
  expect_create_fail(nope, cli_key_f, want);
  snprintf(want, sizeof(want), "cannot load client certificate %s: ", junk_f);
  expect_create_fail(junk_f, cli_key_f, want);
  snprintf(want, sizeof(want), "cannot load client key %s: ", junk_f);
  expect_create_fail(cli_cert_f, junk_f, want);
  snprintf(want, sizeof(want), "client key %s does not match certificate %s",
           other_key_f, cli_cert_f);
  expect_create_fail(cli_cert_f, other_key_f, want);
  /* a cert file without a key in it, and no key file */
  snprintf(want, sizeof(want), "cannot load client key %s: ", cli_cert_f);
  expect_create_fail(cli_cert_f, NULL, want);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls13),
      cmocka_unit_test(test_tls12_no_staple_leaf_only),
      cmocka_unit_test(test_max_chain),
      cmocka_unit_test(test_mtls),
      cmocka_unit_test(test_mtls_without_cert),
      cmocka_unit_test(test_server_alert),
      cmocka_unit_test(test_not_tls),
      cmocka_unit_test(test_bad_client_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
