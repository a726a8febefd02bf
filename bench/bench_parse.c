/*
 * bench_parse: certificate parsing throughput.
 *
 *   bench_parse --gen N OUT.pem   write N distinct certificates
 *   bench_parse FILE.pem          time the parsers on every certificate
 *
 * Variants: (a) certhub_cert_parse_der with fingerprints; (b) what a
 * d2i-based importer must do: d2i_X509, key bits through X509_get0_pubkey +
 * EVP_PKEY_get_bits, X509_digest SHA-256; (c) d2i_X509 alone. Two more lines
 * compare the hash strategies (one-shot SHA256()/SHA1() against EVP with a
 * reused context), which is how the parser's choice was made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certhub/cert.h"

typedef struct blob {
  uint8_t *der;
  size_t len;
} blob;

typedef struct blobs {
  blob *v;
  size_t n, cap;
} blobs;

static double now(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_ext(X509 *x, X509 *ca, int nid, const char *v)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
  if(e) {
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
}

static X509_NAME *name(const char *cn)
{
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US",
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                             (const unsigned char *)"Bench Corp", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  return n;
}

static int gen(long n, const char *out)
{
  EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  FILE *f = fopen(out, "w");
  if(!ca_key || !rsa || !ec || !f) {
    fprintf(stderr, "bench_parse: setup failed for %s\n", out);
    return 1;
  }
  X509_NAME *can = name("Bench Root CA");
  X509 *ca = X509_new();
  X509_set_version(ca, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
  X509_set_subject_name(ca, can);
  X509_set_issuer_name(ca, can);
  X509_gmtime_adj(X509_getm_notBefore(ca), 0);
  X509_gmtime_adj(X509_getm_notAfter(ca), 10L * 365 * 86400);
  X509_set_pubkey(ca, ca_key);
  add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca, ca, NID_subject_key_identifier, "hash");
  X509_sign(ca, ca_key, EVP_sha256());
  for(long i = 0; i < n; i++) {
    char cn[64], san[160];
    snprintf(cn, sizeof(cn), "host%07ld.bench.example", i);
    snprintf(san, sizeof(san), "DNS:%s,DNS:www.%s,IP:10.%ld.%ld.%ld", cn, cn,
             (i >> 16) & 255, (i >> 8) & 255, i & 255);
    X509_NAME *ln = name(cn);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1000 + i);
    X509_set_subject_name(x, ln);
    X509_set_issuer_name(x, can);
    X509_gmtime_adj(X509_getm_notBefore(x), -i);
    X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400 + i);
    X509_set_pubkey(x, i % 2 ? ec : rsa);
    add_ext(x, ca, NID_basic_constraints, "CA:FALSE");
    add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(x, ca, NID_subject_alt_name, san);
    add_ext(x, ca, NID_authority_key_identifier, "keyid");
    X509_sign(x, ca_key, EVP_sha256());
    PEM_write_X509(f, x);
    X509_free(x);
    X509_NAME_free(ln);
  }
  X509_free(ca);
  X509_NAME_free(can);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  if(fclose(f)) {
    fprintf(stderr, "bench_parse: writing %s failed\n", out);
    return 1;
  }
  return 0;
}

static ch_err collect(void *ctx, certhub_cert *c, unsigned pos)
{
  blobs *b = ctx;
  (void)pos;
  if(b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 1024;
    b->v = realloc(b->v, b->cap * sizeof(*b->v));
    if(!b->v)
      return CH_ERR_NOMEM;
  }
  b->v[b->n].der = malloc(c->der_len);
  if(!b->v[b->n].der)
    return CH_ERR_NOMEM;
  memcpy(b->v[b->n].der, c->der, c->der_len);
  b->v[b->n].len = c->der_len;
  b->n++;
  certhub_cert_free(c);
  return CH_OK;
}

static uint8_t *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if(buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

typedef int (*variant_fn)(const blob *b, void *scratch);

static int v_certhub(const blob *b, void *scratch)
{
  (void)scratch;
  certhub_cert *c;
  if(certhub_cert_parse_der(b->der, b->len, &c, NULL))
    return 1;
  int bad = c->key_bits == 0;
  certhub_cert_free(c);
  return bad;
}

static int v_d2i_full(const blob *b, void *scratch)
{
  (void)scratch;
  const unsigned char *p = b->der;
  X509 *x = d2i_X509(NULL, &p, (long)b->len);
  if(!x)
    return 1;
  unsigned char md[32];
  unsigned mdlen;
  int bits = EVP_PKEY_get_bits(X509_get0_pubkey(x));
  int ok = X509_digest(x, EVP_sha256(), md, &mdlen);
  X509_free(x);
  return bits <= 0 || !ok;
}

static int v_d2i(const blob *b, void *scratch)
{
  (void)scratch;
  const unsigned char *p = b->der;
  X509 *x = d2i_X509(NULL, &p, (long)b->len);
  X509_free(x);
  return x == NULL;
}

static int v_hash_oneshot(const blob *b, void *scratch)
{
  (void)scratch;
  unsigned char h1[32], h2[20];
  SHA256(b->der, b->len, h1);
  SHA1(b->der, b->len, h2);
  return 0;
}

typedef struct evp_scratch {
  EVP_MD_CTX *ctx;
  EVP_MD *sha256, *sha1;
} evp_scratch;

static int v_hash_evp(const blob *b, void *scratch)
{
  evp_scratch *s = scratch;
  unsigned char h[32];
  unsigned n;
  EVP_DigestInit_ex(s->ctx, s->sha256, NULL);
  EVP_DigestUpdate(s->ctx, b->der, b->len);
  EVP_DigestFinal_ex(s->ctx, h, &n);
  EVP_DigestInit_ex(s->ctx, s->sha1, NULL);
  EVP_DigestUpdate(s->ctx, b->der, b->len);
  EVP_DigestFinal_ex(s->ctx, h, &n);
  return 0;
}

static void run(const char *label, variant_fn fn, const blobs *bs,
                void *scratch)
{
  size_t fails = 0;
  double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
  for(size_t i = 0; i < bs->n; i++)
    fails += (size_t)fn(&bs->v[i], scratch);
  double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
  double wall = now(CLOCK_MONOTONIC) - w0;
  printf("%s certs_per_s=%.0f cpu_us_per_cert=%.2f wall_s=%.3f failures=%zu\n",
         label, (double)bs->n / cpu, cpu * 1e6 / (double)bs->n, wall, fails);
}

int main(int argc, char **argv)
{
  if(argc == 4 && strcmp(argv[1], "--gen") == 0)
    return gen(atol(argv[2]), argv[3]);
  if(argc != 2) {
    fprintf(stderr, "usage: bench_parse --gen N OUT.pem | bench_parse FILE\n");
    return 2;
  }
  size_t len;
  uint8_t *buf = slurp(argv[1], &len);
  if(!buf) {
    fprintf(stderr, "bench_parse: cannot read %s\n", argv[1]);
    return 1;
  }
  blobs bs = {0};
  certhub_read_opts o = {NULL, argv[1]};
  ch_err rc = certhub_read_buffer(buf, len, &o, collect, NULL, &bs, NULL);
  free(buf);
  if(rc) {
    fprintf(stderr, "bench_parse: %s: %s\n", argv[1], certhub_strerror(rc));
    return 1;
  }
  size_t total = 0;
  for(size_t i = 0; i < bs.n; i++)
    total += bs.v[i].len;
  printf("loaded %zu certificates, %.0f bytes average\n", bs.n,
         (double)total / (double)bs.n);
  evp_scratch es = {EVP_MD_CTX_new(), EVP_MD_fetch(NULL, "SHA256", NULL),
                    EVP_MD_fetch(NULL, "SHA1", NULL)};
  /* Warm up caches and OpenSSL's lazy provider loading. */
  for(size_t i = 0; i < bs.n && i < 100; i++) {
    v_certhub(&bs.v[i], NULL);
    v_d2i_full(&bs.v[i], NULL);
  }
  run("certhub_parse_der", v_certhub, &bs, NULL);
  run("openssl_d2i_bits_digest", v_d2i_full, &bs, NULL);
  run("openssl_d2i_only", v_d2i, &bs, NULL);
  run("hash_sha256_sha1_oneshot", v_hash_oneshot, &bs, NULL);
  run("hash_sha256_sha1_evp_reused", v_hash_evp, &bs, &es);
  EVP_MD_CTX_free(es.ctx);
  EVP_MD_free(es.sha256);
  EVP_MD_free(es.sha1);
  for(size_t i = 0; i < bs.n; i++)
    free(bs.v[i].der);
  free(bs.v);
  return 0;
}
