/* The grab TLS engine against libssl's server side, in process over memory
 * BIOs: every version, suite, HelloRetryRequest, SNI, OCSP staples, long
 * chains, byte-at-a-time input, caps and hostile bytes. Certificates are
 * made here with OpenSSL's API.
 *
 * With CERTHUB_GRAB_CORPUS=DIR set, the server flights of a few handshakes
 * made with a deterministic RAND (the one fuzz_probe_grab.c uses) are
 * written to DIR: that is how tests/fuzz/corpus/fuzz_probe_grab/ was made,
 * so the fuzzer replays TLS 1.3 flights it can actually decrypt. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_set_rand_method, for the corpus   \
                                     */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "probe/probe_int.h"

/* ---- certificates ------------------------------------------------------- */

static EVP_PKEY *ec_key, *rsa_key;

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
                       EVP_PKEY *issuer_key, long serial, bool ca)
{
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(
      NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  X509_NAME_free(n);
  return x;
}

static int group_setup(void **state)
{
  (void)state;
  ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  return ec_key && rsa_key ? 0 : -1;
}

static int group_teardown(void **state)
{
  (void)state;
  EVP_PKEY_free(ec_key);
  EVP_PKEY_free(rsa_key);
  return 0;
}

/* ---- the in-process server ---------------------------------------------- */

typedef struct server_cfg {
  EVP_PKEY *key; /* NULL: ec_key */
  int min_version, max_version;
  const char *suites13; /* SSL_CTX_set_ciphersuites */
  const char *ciphers;  /* SSL_CTX_set_cipher_list */
  const char *groups;
  int seclevel; /* -1: default */
  X509 **chain; /* extra certificates after the leaf */
  size_t chain_n;
  const uint8_t *ocsp; /* staple to return */
  size_t ocsp_len;
} server_cfg;

typedef struct server {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio, *wbio;
  X509 *leaf;
  char sni[256];
  bool sni_seen, status_asked;
  const server_cfg *cfg;
} server;

static int sni_cb(SSL *s, int *al, void *arg)
{
  (void)al;
  server *sv = arg;
  const char *n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
  if(n) {
    sv->sni_seen = true;
    snprintf(sv->sni, sizeof(sv->sni), "%s", n);
  }
  return SSL_TLSEXT_ERR_OK;
}

static int status_cb(SSL *s, void *arg)
{
  server *sv = arg;
  sv->status_asked = true;
  if(!sv->cfg->ocsp)
    return SSL_TLSEXT_ERR_NOACK;
  unsigned char *p = OPENSSL_memdup(sv->cfg->ocsp, sv->cfg->ocsp_len);
  SSL_set_tlsext_status_ocsp_resp(s, p, (long)sv->cfg->ocsp_len);
  return SSL_TLSEXT_ERR_OK;
}

static void server_start(server *sv, const server_cfg *cfg)
{
  memset(sv, 0, sizeof(*sv));
  sv->cfg = cfg;
  EVP_PKEY *key = cfg->key ? cfg->key : ec_key;
  sv->ctx = SSL_CTX_new(TLS_server_method());
  assert_non_null(sv->ctx);
  if(cfg->seclevel >= 0)
    SSL_CTX_set_security_level(sv->ctx, cfg->seclevel);
  if(cfg->min_version)
    SSL_CTX_set_min_proto_version(sv->ctx, cfg->min_version);
  if(cfg->max_version)
    SSL_CTX_set_max_proto_version(sv->ctx, cfg->max_version);
  if(cfg->suites13)
    assert_true(SSL_CTX_set_ciphersuites(sv->ctx, cfg->suites13));
  if(cfg->ciphers)
    assert_true(SSL_CTX_set_cipher_list(sv->ctx, cfg->ciphers));
  if(cfg->groups)
    assert_true(SSL_CTX_set1_groups_list(sv->ctx, cfg->groups));
  sv->leaf = make_cert(key, "leaf.example.test", NULL, NULL, 1, false);
  assert_true(SSL_CTX_use_certificate(sv->ctx, sv->leaf));
  assert_true(SSL_CTX_use_PrivateKey(sv->ctx, key));
  for(size_t i = 0; i < cfg->chain_n; i++)
    assert_true(SSL_CTX_add1_chain_cert(sv->ctx, cfg->chain[i]));
  SSL_CTX_set_tlsext_servername_callback(sv->ctx, sni_cb);
  SSL_CTX_set_tlsext_servername_arg(sv->ctx, sv);
  SSL_CTX_set_tlsext_status_cb(sv->ctx, status_cb);
  SSL_CTX_set_tlsext_status_arg(sv->ctx, sv);
  sv->ssl = SSL_new(sv->ctx);
  sv->rbio = BIO_new(BIO_s_mem());
  sv->wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(sv->ssl, sv->rbio, sv->wbio);
  SSL_set_accept_state(sv->ssl);
}

static void server_stop(server *sv)
{
  SSL_free(sv->ssl);
  SSL_CTX_free(sv->ctx);
  X509_free(sv->leaf);
  ERR_clear_error();
}

/* ---- deterministic RAND for the corpus (same as fuzz_probe_grab.c) ------ */

static uint64_t det_state;
static int det_bytes(unsigned char *buf, int num)
{
  for(int i = 0; i < num; i++) {
    det_state ^= det_state << 13;
    det_state ^= det_state >> 7;
    det_state ^= det_state << 17;
    buf[i] = (unsigned char)(det_state >> 24);
  }
  return 1;
}
static int det_status(void)
{
  return 1;
}
static const RAND_METHOD det_method = {NULL, det_bytes, NULL,
                                       NULL, det_bytes, det_status};

/* ---- driving the engine ------------------------------------------------- */

typedef struct run {
  ch_tls_params p;
  size_t chunk;    /* feed this many bytes at a time; 0: all */
  size_t truncate; /* feed only this many bytes of the first server
                      flight and stop there */
  void *st;
  ch_step step;
  ch_tls_info info;
  ch_fail f;
  int hellos;      /* ClientHellos sent */
  uint8_t *flight; /* everything the server sent */
  size_t flight_len;
  int server_err; /* SSL_get_error() after our closing bytes */
  bool corrupt;   /* flip a bit in the first encrypted record */
  bool det;       /* the engine (only) draws from the deterministic
                     RAND, as it does in fuzz_probe_grab */
} run;

static ch_step feed(run *r, const uint8_t *p, size_t n, ch_buf *out)
{
  size_t step = r->chunk ? r->chunk : (n ? n : 1);
  ch_step st = CH_STEP_MORE;
  for(size_t off = 0; st == CH_STEP_MORE && off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    st = ch_tls_grab.input(r->st, p + off, k, out, &r->info, &r->f);
  }
  return st;
}

static void drive(run *r, server *sv)
{
  ch_buf out;
  ch_buf_init(&out, 1 << 20);
  memset(&r->f, 0, sizeof(r->f));
  assert_int_equal(ch_tls_grab.create(&r->p, &r->st, &out, &r->f), CH_OK);
  r->step = CH_STEP_MORE;
  for(int round = 0; round < 8 && r->step == CH_STEP_MORE; round++) {
    if(out.len) {
      r->hellos++;
      assert_int_equal(BIO_write(sv->rbio, out.data, (int)out.len),
                       (int)out.len);
      ch_buf_reset(&out);
    }
    if(r->det)
      RAND_set_rand_method(NULL);
    (void)SSL_do_handshake(sv->ssl);
    if(r->det)
      RAND_set_rand_method(&det_method);
    char *data;
    long n = BIO_get_mem_data(sv->wbio, &data);
    if(n <= 0)
      break;
    r->flight = realloc(r->flight, r->flight_len + (size_t)n);
    memcpy(r->flight + r->flight_len, data, (size_t)n);
    r->flight_len += (size_t)n;
    size_t feed_n = (size_t)n;
    for(size_t off = 0; r->corrupt && off + 5 < feed_n;) {
      uint8_t *h = (uint8_t *)data + off;
      if(h[0] == 23) {
        h[5 + 3] ^= 0x10;
        break;
      }
      off += 5 + ((size_t)h[3] << 8 | h[4]);
    }
    if(r->truncate && round == 0) {
      assert_true(r->truncate < feed_n);
      feed_n = r->truncate;
    }
    r->step = feed(r, (const uint8_t *)data, feed_n, &out);
    (void)BIO_reset(sv->wbio);
    if(r->truncate)
      break;
  }
  /* The server reads our closing alert: it must see an alert, not junk. */
  r->server_err = 0;
  if(r->step == CH_STEP_DONE && out.len) {
    BIO_write(sv->rbio, out.data, (int)out.len);
    ERR_clear_error();
    r->server_err = SSL_get_error(sv->ssl, SSL_do_handshake(sv->ssl));
  }
  ch_buf_free(&out);
}

static void run_free(run *r)
{
  ch_tls_grab.destroy(r->st);
  free(r->flight);
  memset(r, 0, sizeof(*r));
}

static void assert_chain(const run *r, X509 *leaf, X509 **chain, size_t n)
{
  assert_int_equal(r->info.chain_n, n + 1);
  for(size_t i = 0; i <= n; i++) {
    uint8_t *der = NULL;
    int len = i2d_X509(i ? chain[i - 1] : leaf, &der);
    assert_true(len > 0);
    assert_int_equal(r->info.chain_len[i], (size_t)len);
    assert_memory_equal(r->info.chain_der[i], der, (size_t)len);
    OPENSSL_free(der);
  }
}

/* The server read our closing alerts: it decrypted them (TLS 1.3) and
 * saw close_notify, a clean end rather than a record error. */
static void assert_polite_close(const run *r)
{
  assert_int_equal(r->server_err, SSL_ERROR_ZERO_RETURN);
}

/* A full handshake against cfg; returns with the result in r. */
static void handshake(run *r, const server_cfg *cfg, server *sv)
{
  server_start(sv, cfg);
  drive(r, sv);
}

static void write_corpus(const char *name, const server_cfg *cfg,
                         const ch_tls_params *p)
{
  const char *dir = getenv("CERTHUB_GRAB_CORPUS");
  if(!dir || !*dir)
    return;
  server sv;
  run r;
  memset(&r, 0, sizeof(r));
  r.p = *p;
  server_start(&sv, cfg);
  det_state = 0x9e3779b97f4a7c15ull;
  r.det = true;
  RAND_set_rand_method(&det_method);
  drive(&r, &sv);
  RAND_set_rand_method(NULL);
  assert_int_equal(r.step, CH_STEP_DONE);
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(r.flight, 1, r.flight_len, fp), r.flight_len);
  fclose(fp);
  run_free(&r);
  server_stop(&sv);
}

/* ---- tests -------------------------------------------------------------- */

static void tls13_each_suite(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    uint16_t id;
  } suites[] = {{"TLS_AES_128_GCM_SHA256", 0x1301},
                {"TLS_AES_256_GCM_SHA384", 0x1302},
                {"TLS_CHACHA20_POLY1305_SHA256", 0x1303}};
  for(size_t i = 0; i < 3; i++) {
    server_cfg cfg = {.seclevel = -1, .suites13 = suites[i].name};
    server sv;
    run r = {.p = {.sni = "leaf.example.test"}};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_int_equal(r.hellos, 1);
    assert_int_equal(r.info.version, 0x0304);
    assert_int_equal(r.info.cipher_id, suites[i].id);
    assert_string_equal(r.info.cipher, suites[i].name);
    assert_chain(&r, sv.leaf, NULL, 0);
    assert_null(r.info.ocsp_der);
    assert_polite_close(&r);
    run_free(&r);
    server_stop(&sv);
  }
}

static void hello_retry(void **state)
{
  (void)state;
  static const char *const groups[] = {"P-256", "P-384", "P-521"};
  for(size_t i = 0; i < 3; i++) {
    server_cfg cfg = {.seclevel = -1, .groups = groups[i]};
    server sv;
    run r = {0};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_int_equal(r.hellos, 2); /* a second ClientHello after HRR */
    assert_int_equal(r.info.version, 0x0304);
    assert_chain(&r, sv.leaf, NULL, 0);
    assert_polite_close(&r);
    run_free(&r);
    server_stop(&sv);
  }
}

static void tls12_suites(void **state)
{
  (void)state;
  static const struct {
    const char *ossl;
    bool rsa;
    uint16_t id;
    const char *iana;
  } cases[] = {
      {"ECDHE-RSA-AES128-GCM-SHA256", true, 0xc02f,
       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
      {"ECDHE-ECDSA-AES256-GCM-SHA384", false, 0xc02c,
       "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
      {"ECDHE-ECDSA-CHACHA20-POLY1305", false, 0xcca9,
       "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
      {"AES128-GCM-SHA256", true, 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
      {"AES256-SHA", true, 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
    server_cfg cfg = {.seclevel = -1,
                      .max_version = TLS1_2_VERSION,
                      .ciphers = cases[i].ossl,
                      .key = cases[i].rsa ? rsa_key : ec_key};
    server sv;
    run r = {0};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_int_equal(r.info.version, 0x0303);
    assert_int_equal(r.info.cipher_id, cases[i].id);
    assert_string_equal(r.info.cipher, cases[i].iana);
    assert_chain(&r, sv.leaf, NULL, 0);
    assert_polite_close(&r);
    run_free(&r);
    server_stop(&sv);
  }
}

static void chain_of_three(void **state)
{
  (void)state;
  X509 *root = make_cert(rsa_key, "Test Root", NULL, NULL, 10, true);
  X509 *inter =
      make_cert(ec_key, "Test Intermediate", root, rsa_key, 11, true);
  X509 *chain[] = {inter, root};
  for(int v = 0; v < 2; v++) {
    server_cfg cfg = {.seclevel = -1,
                      .chain = chain,
                      .chain_n = 2,
                      .max_version = v ? TLS1_2_VERSION : 0};
    server sv;
    run r = {0};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_int_equal(r.info.version, v ? 0x0303 : 0x0304);
    assert_chain(&r, sv.leaf, chain, 2);
    run_free(&r);
    server_stop(&sv);
  }
  X509_free(inter);
  X509_free(root);
}

static void sni_sent(void **state)
{
  (void)state;
  server_cfg cfg = {.seclevel = -1};
  server sv;
  run r = {.p = {.sni = "www.example.test."}};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_DONE);
  assert_true(sv.sni_seen);
  assert_string_equal(sv.sni, "www.example.test"); /* trailing dot gone */
  run_free(&r);
  server_stop(&sv);

  run r2 = {0};
  handshake(&r2, &cfg, &sv);
  assert_int_equal(r2.step, CH_STEP_DONE);
  assert_false(sv.sni_seen);
  run_free(&r2);
  server_stop(&sv);
}

static void ocsp_staple(void **state)
{
  (void)state;
  uint8_t blob[700];
  for(size_t i = 0; i < sizeof(blob); i++)
    blob[i] = (uint8_t)(i * 7 + 3);
  blob[0] = 0x30;
  for(int v = 0; v < 2; v++) {
    server_cfg cfg = {.seclevel = -1,
                      .ocsp = blob,
                      .ocsp_len = sizeof(blob),
                      .max_version = v ? TLS1_2_VERSION : 0};
    server sv;
    run r = {.chunk = v ? 0 : 3};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_true(sv.status_asked);
    assert_int_equal(r.info.version, v ? 0x0303 : 0x0304);
    assert_int_equal(r.info.ocsp_len, sizeof(blob));
    assert_memory_equal(r.info.ocsp_der, blob, sizeof(blob));
    assert_chain(&r, sv.leaf, NULL, 0);
    run_free(&r);
    server_stop(&sv);
  }
  /* Asked but nothing to staple. */
  server_cfg cfg = {.seclevel = -1, .max_version = TLS1_2_VERSION};
  server sv;
  run r = {0};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_DONE);
  assert_true(sv.status_asked);
  assert_null(r.info.ocsp_der);
  run_free(&r);
  server_stop(&sv);
}

static void version_mismatch_alert(void **state)
{
  (void)state;
  server_cfg cfg = {.seclevel = -1, .min_version = TLS1_3_VERSION};
  server sv;
  run r = {.p = {.max_version = 0x0303}};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_FAIL);
  assert_int_equal(r.f.status, CERTHUB_PROBE_TLS_ALERT);
  assert_string_equal(r.f.reason,
                      "server sent TLS alert protocol_version (70)");
  run_free(&r);
  server_stop(&sv);
}

static void legacy_versions(void **state)
{
  (void)state;
  static const uint16_t versions[] = {0x0301, 0x0302};
  for(size_t i = 0; i < 2; i++) {
    server_cfg cfg = {.seclevel = 0,
                      .min_version = TLS1_VERSION,
                      .ciphers = "DEFAULT:@SECLEVEL=0",
                      .key = rsa_key};
    server sv;
    run r = {.p = {.max_version = versions[i]}};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_int_equal(r.info.version, versions[i]);
    assert_string_not_equal(r.info.cipher, "");
    assert_chain(&r, sv.leaf, NULL, 0);
    run_free(&r);
    server_stop(&sv);
  }
  /* A server without TLS 1.0 refuses the legacy hello with an alert. */
  server_cfg cfg = {.seclevel = -1, .min_version = TLS1_2_VERSION};
  server sv;
  run r = {.p = {.max_version = 0x0301}};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_FAIL);
  assert_int_equal(r.f.status, CERTHUB_PROBE_TLS_ALERT);
  run_free(&r);
  server_stop(&sv);
}

static void byte_at_a_time(void **state)
{
  (void)state;
  X509 *inter = make_cert(ec_key, "Byte Intermediate", NULL, NULL, 5, true);
  uint8_t blob[40] = {0x30, 0x26};
  for(int v = 0; v < 3; v++) {
    server_cfg cfg = {.seclevel = -1,
                      .chain = &inter,
                      .chain_n = 1,
                      .ocsp = blob,
                      .ocsp_len = sizeof(blob),
                      .groups = v == 2 ? "P-384" : NULL,
                      .max_version = v == 1 ? TLS1_2_VERSION : 0};
    server sv;
    run r = {.chunk = 1};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_chain(&r, sv.leaf, &inter, 1);
    assert_int_equal(r.info.ocsp_len, sizeof(blob));
    run_free(&r);
    server_stop(&sv);
  }
  X509_free(inter);
}

static void truncated_flight(void **state)
{
  (void)state;
  /* Cut inside the record header, the ServerHello, the certificate. */
  static const size_t keep[] = {1, 4, 5, 60, 200, 300};
  for(size_t i = 0; i < CH_ARRAY_LEN(keep); i++) {
    for(int v = 0; v < 2; v++) {
      server_cfg cfg = {.seclevel = -1, .max_version = v ? TLS1_2_VERSION : 0};
      server sv;
      run r = {.truncate = keep[i], .chunk = i % 2 ? 7 : 0};
      handshake(&r, &cfg, &sv);
      assert_int_equal(r.step, CH_STEP_MORE);
      run_free(&r);
      server_stop(&sv);
    }
  }
}

/* Feed handcrafted server bytes to a fresh engine. */
static ch_step feed_raw(const uint8_t *p, size_t n, const ch_tls_params *prm,
                        ch_fail *f)
{
  ch_buf out;
  ch_tls_info info;
  void *st = NULL;
  ch_tls_params def = {0};
  ch_buf_init(&out, 1 << 20);
  memset(f, 0, sizeof(*f));
  assert_int_equal(ch_tls_grab.create(prm ? prm : &def, &st, &out, f), CH_OK);
  ch_step s = ch_tls_grab.input(st, p, n, &out, &info, f);
  if(s == CH_STEP_FAIL) { /* used after failure: still a clean failure */
    ch_fail f2;
    assert_int_equal(ch_tls_grab.input(st, p, n, &out, &info, &f2),
                     CH_STEP_FAIL);
  }
  ch_tls_grab.destroy(st);
  ch_buf_free(&out);
  return s;
}

/* A ServerHello record with the given fields. */
static size_t server_hello(uint8_t *buf, uint16_t version, uint16_t suite,
                           const uint8_t *exts, size_t exts_len)
{
  size_t n = 0;
  uint8_t body[512];
  body[n++] = version >> 8;
  body[n++] = version & 0xff;
  memset(body + n, 0x42, 32);
  n += 32;
  body[n++] = 0;
  body[n++] = suite >> 8;
  body[n++] = suite & 0xff;
  body[n++] = 0;
  body[n++] = (uint8_t)(exts_len >> 8);
  body[n++] = (uint8_t)exts_len;
  if(exts_len)
    memcpy(body + n, exts, exts_len);
  n += exts_len;
  uint8_t hdr[9] = {22,
                    3,
                    3,
                    (uint8_t)((n + 4) >> 8),
                    (uint8_t)(n + 4),
                    2,
                    0,
                    (uint8_t)(n >> 8),
                    (uint8_t)n};
  memcpy(buf, hdr, 9);
  memcpy(buf + 9, body, n);
  return n + 9;
}

static void hostile_bytes(void **state)
{
  (void)state;
  ch_fail f;
  static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
  assert_int_equal(feed_raw((const uint8_t *)http, strlen(http), NULL, &f),
                   CH_STEP_FAIL);
  assert_int_equal(f.status, CERTHUB_PROBE_PROTOCOL);
  assert_string_equal(f.reason,
                      "not a TLS server: it sent \"HTTP/1.1 400 Bad...\"");
  static const char smtp[] = "220 mx\r\n";
  assert_int_equal(feed_raw((const uint8_t *)smtp, strlen(smtp), NULL, &f),
                   CH_STEP_FAIL);
  assert_string_equal(f.reason, "not a TLS server: it sent \"220 mx\\r\\n\"");
  static const uint8_t bin[] = {0x00, 0xff, '"', 0x16};
  assert_int_equal(feed_raw(bin, sizeof(bin), NULL, &f), CH_STEP_FAIL);
  assert_string_equal(f.reason,
                      "not a TLS server: it sent \"\\x00\\xff\\x22\\x16\"");
  /* SSLv2 SERVER-HELLO */
  static const uint8_t v2[] = {0x80, 0x2e, 0x04, 0x00, 0x01, 0x00, 0x02};
  assert_int_equal(feed_raw(v2, sizeof(v2), NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "SSLv2"));
  /* Plaintext alert, and a warning then a fatal one. */
  static const uint8_t al[] = {21, 3, 3, 0, 2, 2, 40};
  assert_int_equal(feed_raw(al, sizeof(al), NULL, &f), CH_STEP_FAIL);
  assert_int_equal(f.status, CERTHUB_PROBE_TLS_ALERT);
  assert_string_equal(f.reason,
                      "server sent TLS alert handshake_failure (40)");
  static const uint8_t al2[] = {21, 3, 1, 0, 2, 1, 112,
                                21, 3, 1, 0, 2, 2, 200};
  assert_int_equal(feed_raw(al2, sizeof(al2), NULL, &f), CH_STEP_FAIL);
  assert_string_equal(f.reason, "server sent TLS alert unknown (200)");
  /* Record too long, empty record, bad record version. */
  static const uint8_t big[] = {22, 3, 3, 0xff, 0xff};
  assert_int_equal(feed_raw(big, sizeof(big), NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "65535 bytes"));
  static const uint8_t empty[] = {22, 3, 3, 0, 0};
  assert_int_equal(feed_raw(empty, sizeof(empty), NULL, &f), CH_STEP_FAIL);
  static const uint8_t badv[] = {22, 4, 3, 0, 4, 2, 0, 0, 0};
  assert_int_equal(feed_raw(badv, sizeof(badv), NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "not a TLS server"));
  /* Wrong message first, application data first. */
  static const uint8_t cert_first[] = {22, 3, 3, 0, 7, 11, 0, 0, 3, 0, 0, 0};
  assert_int_equal(feed_raw(cert_first, sizeof(cert_first), NULL, &f),
                   CH_STEP_FAIL);
  assert_string_equal(f.reason, "server sent handshake message Certificate "
                                "(11) where ServerHello was expected");

  uint8_t rec[600];
  size_t n;
  /* A ServerHello picking SSLv3, an unoffered suite, TLS 1.3 without a
   * key share, a garbage key share, HRR for an unoffered group. */
  n = server_hello(rec, 0x0300, 0x002f, NULL, 0);
  assert_int_equal(feed_raw(rec, n, NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "SSLv3"));
  n = server_hello(rec, 0x0303, 0x1304, NULL, 0);
  assert_int_equal(feed_raw(rec, n, NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "0x1304"));
  n = server_hello(rec, 0x0303, 0xc02f, NULL, 0);
  ch_tls_params legacy = {.max_version = 0x0301};
  assert_int_equal(feed_raw(rec, n, &legacy, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "outside the offered"));
  static const uint8_t sv13[] = {0, 43, 0, 2, 3, 4};
  n = server_hello(rec, 0x0303, 0x1301, sv13, sizeof(sv13));
  assert_int_equal(feed_raw(rec, n, NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "key_share"));
  uint8_t ks[6 + 4 + 4 + 32] = {0,  43, 0,  2, 3,    4, 0,
                                51, 0,  36, 0, 0x1d, 0, 32};
  n = server_hello(rec, 0x0303, 0x1301, ks, sizeof(ks));
  assert_int_equal(feed_raw(rec, n, NULL, &f), CH_STEP_FAIL); /* all-zero */
  /* A truncated ServerHello inside a complete message. */
  n = server_hello(rec, 0x0303, 0xc02f, NULL, 0);
  rec[3] = 0;
  rec[4] = 10;
  rec[8] = 6;
  assert_int_equal(feed_raw(rec, 15, NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "malformed"));
  /* TLS 1.2 ServerHello, then an empty chain, then a lying length. */
  n = server_hello(rec, 0x0303, 0xc02f, NULL, 0);
  static const uint8_t empty_chain[] = {22, 3, 3, 0, 7, 11, 0, 0, 3, 0, 0, 0};
  memcpy(rec + n, empty_chain, sizeof(empty_chain));
  assert_int_equal(feed_raw(rec, n + sizeof(empty_chain), NULL, &f),
                   CH_STEP_FAIL);
  assert_string_equal(f.reason, "server sent an empty certificate chain");
  static const uint8_t liar[] = {22, 3, 3, 0, 10, 11, 0, 0,
                                 6,  0, 0, 3, 0,  0,  9};
  n = server_hello(rec, 0x0303, 0xc02f, NULL, 0);
  memcpy(rec + n, liar, sizeof(liar));
  assert_int_equal(feed_raw(rec, n + sizeof(liar), NULL, &f), CH_STEP_FAIL);
  assert_non_null(strstr(f.reason, "malformed"));
  /* Random noise after a valid record header never crashes. */
  srand(7);
  for(int i = 0; i < 200; i++) {
    uint8_t noise[300] = {22, 3, 3, 1, 20};
    for(size_t k = 5; k < sizeof(noise); k++)
      noise[k] = (uint8_t)rand();
    noise[5] = 2;
    ch_step s = feed_raw(noise, sizeof(noise), NULL, &f);
    assert_true(s == CH_STEP_FAIL || s == CH_STEP_MORE);
  }
}

/* A decrypted record with a flipped bit fails the AEAD tag. */
static void decrypt_failure(void **state)
{
  (void)state;
  static const char *const suites[] = {"TLS_AES_128_GCM_SHA256",
                                       "TLS_AES_256_GCM_SHA384",
                                       "TLS_CHACHA20_POLY1305_SHA256"};
  for(size_t i = 0; i < 3; i++) {
    server_cfg cfg = {.seclevel = -1, .suites13 = suites[i]};
    server sv;
    run r = {.corrupt = true};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_FAIL);
    assert_int_equal(r.f.status, CERTHUB_PROBE_PROTOCOL);
    assert_non_null(strstr(r.f.reason, "could not decrypt"));
    run_free(&r);
    server_stop(&sv);
  }
}

/* The handshake bytes of a real TLS 1.2 flight, framed differently:
 * several messages per record, messages spanning records, one byte per
 * record. TLS 1.2 binds nothing to our ClientHello, so any engine takes
 * them. */
static void reframed_tls12(void **state)
{
  (void)state;
  X509 *inter = make_cert(ec_key, "Reframe Intermediate", NULL, NULL, 9, true);
  uint8_t blob[300] = {0x30, 0x82, 0x01, 0x28};
  server_cfg cfg = {.seclevel = -1,
                    .max_version = TLS1_2_VERSION,
                    .chain = &inter,
                    .chain_n = 1,
                    .ocsp = blob,
                    .ocsp_len = sizeof(blob)};
  server sv;
  run r = {0};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_DONE);
  /* Collect the handshake bytes. */
  uint8_t *hs = malloc(r.flight_len);
  size_t hs_len = 0;
  for(size_t off = 0; off + 5 <= r.flight_len;) {
    const uint8_t *h = r.flight + off;
    size_t len = (size_t)h[3] << 8 | h[4];
    assert_true(off + 5 + len <= r.flight_len);
    if(h[0] == 22) {
      memcpy(hs + hs_len, h + 5, len);
      hs_len += len;
    }
    off += 5 + len;
  }
  static const size_t sizes[] = {1, 7, 100, 16384};
  for(size_t i = 0; i < CH_ARRAY_LEN(sizes); i++) {
    size_t nrec = (hs_len + sizes[i] - 1) / sizes[i];
    uint8_t *fl = malloc(hs_len + 5 * nrec);
    size_t fl_len = 0;
    for(size_t off = 0; off < hs_len; off += sizes[i]) {
      size_t n = hs_len - off < sizes[i] ? hs_len - off : sizes[i];
      uint8_t h[5] = {22, 3, 3, (uint8_t)(n >> 8), (uint8_t)n};
      memcpy(fl + fl_len, h, 5);
      memcpy(fl + fl_len + 5, hs + off, n);
      fl_len += 5 + n;
    }
    ch_buf out;
    ch_fail f;
    ch_tls_info info;
    void *st = NULL;
    ch_tls_params p = {0};
    ch_buf_init(&out, 1 << 20);
    assert_int_equal(ch_tls_grab.create(&p, &st, &out, &f), CH_OK);
    assert_int_equal(ch_tls_grab.input(st, fl, fl_len, &out, &info, &f),
                     CH_STEP_DONE);
    assert_int_equal(info.version, 0x0303);
    assert_int_equal(info.chain_n, 2);
    for(size_t k = 0; k < 2; k++) {
      assert_int_equal(info.chain_len[k], r.info.chain_len[k]);
      assert_memory_equal(info.chain_der[k], r.info.chain_der[k],
                          info.chain_len[k]);
    }
    assert_int_equal(info.ocsp_len, sizeof(blob));
    assert_memory_equal(info.ocsp_der, blob, sizeof(blob));
    ch_tls_grab.destroy(st);
    ch_buf_free(&out);
    free(fl);
  }
  /* Out of order: ServerKeyExchange where the Certificate belongs. */
  size_t sh_len = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
  uint8_t bad[600] = {22, 3, 3, 0, 0};
  assert_true(sh_len + 9 < sizeof(bad));
  memcpy(bad + 5, hs, sh_len);
  memcpy(bad + 5 + sh_len, "\x0c\x00\x00\x00", 4);
  bad[3] = (uint8_t)((sh_len + 4) >> 8);
  bad[4] = (uint8_t)(sh_len + 4);
  ch_fail f;
  assert_int_equal(feed_raw(bad, 5 + sh_len + 4, NULL, &f), CH_STEP_FAIL);
  assert_non_null(
      strstr(f.reason, "ServerKeyExchange (12) where Certificate"));
  free(hs);
  run_free(&r);
  server_stop(&sv);
  X509_free(inter);
}

static void hundred_certificates(void **state)
{
  (void)state;
  X509 *chain[99];
  for(size_t i = 0; i < 99; i++) {
    char cn[32];
    snprintf(cn, sizeof(cn), "Chain cert %zu", i);
    chain[i] = make_cert(ec_key, cn, NULL, NULL, (long)(100 + i), true);
  }
  server_cfg cfg = {.seclevel = -1, .chain = chain, .chain_n = 99};
  for(int v = 0; v < 2; v++) {
    cfg.max_version = v ? TLS1_2_VERSION : 0;
    server sv;
    run r = {.p = {.max_chain = 100}};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_DONE);
    assert_chain(&r, sv.leaf, chain, 99);
    run_free(&r);
    server_stop(&sv);
  }
  /* max_chain below the chain: the first ones are kept, still a success. */
  server sv;
  run r = {.p = {.max_chain = 10}, .chunk = 1000};
  handshake(&r, &cfg, &sv);
  assert_int_equal(r.step, CH_STEP_DONE);
  assert_int_equal(r.info.chain_n, 10);
  X509 *first[] = {chain[0], chain[1], chain[2], chain[3], chain[4],
                   chain[5], chain[6], chain[7], chain[8]};
  r.info.chain_n = 10;
  assert_chain(&r, sv.leaf, first, 9);
  run_free(&r);
  server_stop(&sv);
  for(size_t i = 0; i < 99; i++)
    X509_free(chain[i]);
}

static void max_bytes_cap(void **state)
{
  (void)state;
  for(int v = 0; v < 2; v++) {
    server_cfg cfg = {.seclevel = -1, .max_version = v ? TLS1_2_VERSION : 0};
    server sv;
    run r = {.p = {.max_bytes = 400}, .chunk = v ? 0 : 50};
    handshake(&r, &cfg, &sv);
    assert_int_equal(r.step, CH_STEP_FAIL);
    assert_int_equal(r.f.status, CERTHUB_PROBE_PROTOCOL);
    assert_non_null(strstr(r.f.reason, "400 bytes"));
    run_free(&r);
    server_stop(&sv);
  }
}

static void cipher_names(void **state)
{
  (void)state;
  assert_string_equal(ch_tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
  assert_string_equal(ch_tls_cipher_name(0x0004), "TLS_RSA_WITH_RC4_128_MD5");
  assert_string_equal(ch_tls_cipher_name(0xccaa),
                      "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
  assert_string_equal(ch_tls_cipher_name(0x0000), "");
  assert_string_equal(ch_tls_cipher_name(0xffff), "");
  /* Every suite OpenSSL knows by an IANA name that we also name agrees
   * (catches a mis-sorted table, which bsearch would miss silently). */
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
  SSL *s = SSL_new(ctx);
  STACK_OF(SSL_CIPHER) *sk = SSL_get_ciphers(s);
  int named = 0;
  for(int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
    const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
    uint16_t id = SSL_CIPHER_get_protocol_id(c);
    const char *ours = ch_tls_cipher_name(id);
    if(*ours) {
      assert_string_equal(ours, SSL_CIPHER_standard_name(c));
      named++;
    }
  }
  assert_true(named > 30);
  SSL_free(s);
  SSL_CTX_free(ctx);
}

static void corpus(void **state)
{
  (void)state;
  X509 *inter = make_cert(ec_key, "Corpus Intermediate", NULL, NULL, 7, true);
  uint8_t blob[64] = {0x30, 0x3e, 0x0a, 0x01, 0x00};
  server_cfg c13 = {.seclevel = -1,
                    .chain = &inter,
                    .chain_n = 1,
                    .ocsp = blob,
                    .ocsp_len = sizeof(blob)};
  server_cfg c12 = c13;
  c12.max_version = TLS1_2_VERSION;
  server_cfg hrr = {.seclevel = -1, .groups = "P-256"};
  server_cfg chacha = {.seclevel = -1,
                       .suites13 = "TLS_CHACHA20_POLY1305_SHA256"};
  ch_tls_params p = {.sni = "leaf.example.test"};
  write_corpus("tls13_chain_ocsp", &c13, &p);
  write_corpus("tls12_chain_ocsp", &c12, &p);
  write_corpus("tls13_hrr_p256", &hrr, &p);
  write_corpus("tls13_chacha", &chacha, &p);
  X509_free(inter);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tls13_each_suite),
      cmocka_unit_test(hello_retry),
      cmocka_unit_test(tls12_suites),
      cmocka_unit_test(chain_of_three),
      cmocka_unit_test(sni_sent),
      cmocka_unit_test(ocsp_staple),
      cmocka_unit_test(version_mismatch_alert),
      cmocka_unit_test(legacy_versions),
      cmocka_unit_test(byte_at_a_time),
      cmocka_unit_test(truncated_flight),
      cmocka_unit_test(hostile_bytes),
      cmocka_unit_test(decrypt_failure),
      cmocka_unit_test(reframed_tls12),
      cmocka_unit_test(hundred_certificates),
      cmocka_unit_test(max_bytes_cap),
      cmocka_unit_test(cipher_names),
      cmocka_unit_test(corpus),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
