/* Shared helpers for the x509 unit tests: certificates made with
 * OpenSSL's API, so every field can be checked against what it reports. */
#ifndef TEST_X509_UTIL_H
#define TEST_X509_UTIL_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline EVP_PKEY *tu_key(const char *alg, int bits_or_curve_nid)
{
  EVP_PKEY *k = NULL;
  if(strcmp(alg, "RSA") == 0)
    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits_or_curve_nid);
  else if(strcmp(alg, "EC") == 0)
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(bits_or_curve_nid));
  else if(strcmp(alg, "DSA") == 0) {
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
    EVP_PKEY *params = NULL;
    EVP_PKEY_paramgen_init(pc);
    EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, bits_or_curve_nid);
    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pc, 160);
    EVP_PKEY_paramgen(pc, &params);
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new(params, NULL);
    EVP_PKEY_keygen_init(kc);
    EVP_PKEY_keygen(kc, &k);
    EVP_PKEY_CTX_free(kc);
    EVP_PKEY_free(params);
    EVP_PKEY_CTX_free(pc);
  }
  else
    k = EVP_PKEY_Q_keygen(NULL, NULL, alg);
  if(!k)
    fail_msg("keygen %s failed", alg);
  return k;
}

static inline X509_NAME *tu_name(const char *cn)
{
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"DE",
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                             (const unsigned char *)"Example Org", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                             -1, -1, 0);
  return n;
}

/* Add an extension from its config text ("critical,CA:TRUE"). */
static inline void tu_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if(!e)
    fail_msg("extension %s=%s", OBJ_nid2sn(nid), value);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

/* An unsigned certificate for key; sign it with tu_sign() after adding
 * extensions. Dates are ASN.1 strings ("20250101000000Z"). */
static inline X509 *tu_cert(EVP_PKEY *key, X509_NAME *subj, X509_NAME *iss,
                            long serial, const char *nb, const char *na)
{
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_set_subject_name(x, subj);
  X509_set_issuer_name(x, iss ? iss : subj);
  ASN1_TIME_set_string_X509(X509_getm_notBefore(x), nb);
  ASN1_TIME_set_string_X509(X509_getm_notAfter(x), na);
  X509_set_pubkey(x, key);
  return x;
}

static inline void tu_sign(X509 *x, EVP_PKEY *signkey, const EVP_MD *md)
{
  if(!X509_sign(x, signkey, md))
    fail_msg("X509_sign failed");
}

static inline size_t tu_der(X509 *x, uint8_t **der)
{
  *der = NULL;
  int n = i2d_X509(x, der);
  assert_true(n > 0);
  return (size_t)n;
}

static inline char *tu_name_str(const X509_NAME *n)
{
  BIO *b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char *p;
  long l = BIO_get_mem_data(b, &p);
  char *s = strndup(p, (size_t)l);
  BIO_free(b);
  /* OpenSSL's short name for streetAddress is "street"; RFC 4514's table
   * (and certhub) say STREET. */
  for(char *q = s; (q = strstr(q, "street=")); q += 7) {
    if(q == s || q[-1] == ',' || q[-1] == '+')
      memcpy(q, "STREET", 6);
  }
  return s;
}

static inline char *tu_pem(X509 *x)
{
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char *p;
  long l = BIO_get_mem_data(b, &p);
  char *s = strndup(p, (size_t)l);
  BIO_free(b);
  return s;
}

#endif
