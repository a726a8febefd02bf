/* Certificate parser: every field compared with what OpenSSL reports for
 * certificates generated here with OpenSSL's API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "certhub/cert.h"
#include "test_x509_util.h"

static int64_t asn1_to_unix(const ASN1_TIME *t)
{
  struct tm tm;
  assert_true(ASN1_TIME_to_tm(t, &tm));
  return (int64_t)timegm(&tm);
}

static void hexstr(const unsigned char *p, size_t n, char *out)
{
  for(size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", p[i]);
  out[2 * n] = '\0';
}

static unsigned ku_from_openssl(uint32_t k)
{
  static const uint32_t map[] = {
      KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT,
      KU_DATA_ENCIPHERMENT, KU_KEY_AGREEMENT,   KU_KEY_CERT_SIGN,
      KU_CRL_SIGN,          KU_ENCIPHER_ONLY,   KU_DECIPHER_ONLY};
  unsigned out = 0;
  for(unsigned i = 0; i < 9; i++) {
    if(k & map[i])
      out |= 1u << i;
  }
  return out;
}

static void san_expected(const GENERAL_NAME *g, int *type, char *buf,
                         size_t len)
{
  const ASN1_STRING *s;
  switch(g->type) {
  case GEN_DNS:
  case GEN_EMAIL:
  case GEN_URI:
    s = g->d.ia5;
    *type = g->type == GEN_DNS     ? CERTHUB_SAN_DNS
            : g->type == GEN_EMAIL ? CERTHUB_SAN_EMAIL
                                   : CERTHUB_SAN_URI;
    snprintf(buf, len, "%.*s", ASN1_STRING_length(s),
             (const char *)ASN1_STRING_get0_data(s));
    break;
  case GEN_IPADD: {
    char *t = (char *)ASN1_STRING_get0_data(g->d.ip);
    (void)t;
    /* i2s gives "2001:DB8:0:0:0:0:0:1"; compare via inet_pton below. */
    *type = CERTHUB_SAN_IP;
    buf[0] = '\0';
    break;
  }
  default:
    *type = CERTHUB_SAN_OTHER;
    buf[0] = '\0';
  }
}

/* Parse x with our parser and check every field against OpenSSL. */
static certhub_cert *check(X509 *x)
{
  uint8_t *der;
  size_t len = tu_der(x, &der);
  certhub_cert *c = NULL;
  const char *detail = NULL;
  ch_err rc = certhub_cert_parse_der(der, len, &c, &detail);
  if(rc)
    fail_msg("parse failed: %s (%d)", detail, rc);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen;
  char hex[129];
  assert_true(X509_digest(x, EVP_sha256(), md, &mdlen));
  hexstr(md, mdlen, hex);
  assert_string_equal(c->sha256_hex, hex);
  assert_memory_equal(c->sha256, md, 32);
  assert_true(X509_digest(x, EVP_sha1(), md, &mdlen));
  hexstr(md, mdlen, hex);
  assert_string_equal(c->sha1_hex, hex);
  assert_int_equal(strlen(c->id), CERTHUB_ID_LEN);
  assert_memory_equal(c->id, c->sha256_hex, CERTHUB_ID_LEN);
  assert_int_equal(c->der_len, len);
  assert_memory_equal(c->der, der, len);
  assert_ptr_not_equal(c->der, der);

  char *s = tu_name_str(X509_get_subject_name(x));
  assert_string_equal(c->subject, s);
  free(s);
  s = tu_name_str(X509_get_issuer_name(x));
  assert_string_equal(c->issuer, s);
  free(s);

  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  char *bh = BN_bn2hex(bn);
  assert_string_equal(c->serial, bh[0] == '0' && bh[1] == 0 ? "00" : bh);
  OPENSSL_free(bh);
  BN_free(bn);

  assert_int_equal(c->not_before, asn1_to_unix(X509_get0_notBefore(x)));
  assert_int_equal(c->not_after, asn1_to_unix(X509_get0_notAfter(x)));
  assert_int_equal(c->key_bits, EVP_PKEY_get_bits(X509_get0_pubkey(x)));
  assert_string_equal(c->sig_alg, OBJ_nid2ln(X509_get_signature_nid(x)));

  uint32_t ex = X509_get_extension_flags(x);
  assert_int_equal(c->is_ca, (ex & EXFLAG_CA) != 0);
  assert_int_equal(c->path_len,
                   X509_get_pathlen(x) < 0 ? -1 : X509_get_pathlen(x));
  assert_int_equal(c->has_key_usage, (ex & EXFLAG_KUSAGE) != 0);
  if(c->has_key_usage)
    assert_int_equal(c->key_usage, ku_from_openssl(X509_get_key_usage(x)));

  EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
  assert_int_equal(c->n_ext_key_usage, eku ? sk_ASN1_OBJECT_num(eku) : 0);
  for(size_t i = 0; eku && i < c->n_ext_key_usage; i++) {
    const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, (int)i);
    char t[128];
    if(OBJ_obj2nid(o) != NID_undef)
      snprintf(t, sizeof(t), "%s", OBJ_nid2sn(OBJ_obj2nid(o)));
    else
      OBJ_obj2txt(t, sizeof(t), o, 1);
    assert_string_equal(c->ext_key_usage[i], t);
  }
  EXTENDED_KEY_USAGE_free(eku);

  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  assert_int_equal(c->n_sans, gens ? sk_GENERAL_NAME_num(gens) : 0);
  for(size_t i = 0; gens && i < c->n_sans; i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, (int)i);
    int type;
    char want[512];
    san_expected(g, &type, want, sizeof(want));
    assert_int_equal(c->sans[i].type, type);
    if(type == CERTHUB_SAN_IP) {
      unsigned char ip[16];
      int af = ASN1_STRING_length(g->d.ip) == 4 ? AF_INET : AF_INET6;
      assert_int_equal(inet_pton(af, c->sans[i].value, ip), 1);
      assert_memory_equal(ip, ASN1_STRING_get0_data(g->d.ip),
                          ASN1_STRING_length(g->d.ip));
    }
    else if(want[0])
      assert_string_equal(c->sans[i].value, want);
  }
  GENERAL_NAMES_free(gens);

  const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
  if(ski) {
    hexstr(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), hex);
    assert_string_equal(c->ski, hex);
  }
  else
    assert_null(c->ski);
  const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
  if(aki) {
    hexstr(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki), hex);
    assert_string_equal(c->aki, hex);
  }
  else
    assert_null(c->aki);

  unsigned char *nd = NULL;
  int nl = i2d_X509_NAME(X509_get_subject_name(x), &nd);
  SHA256(nd, (size_t)nl, md);
  hexstr(md, 32, hex);
  assert_string_equal(c->subject_hash, hex);
  OPENSSL_free(nd);
  nd = NULL;
  nl = i2d_X509_NAME(X509_get_issuer_name(x), &nd);
  SHA256(nd, (size_t)nl, md);
  hexstr(md, 32, hex);
  assert_string_equal(c->issuer_hash, hex);
  OPENSSL_free(nd);
  OPENSSL_free(der);
  return c;
}

/* A self-signed certificate for key with typical extensions. */
static certhub_cert *self_signed(EVP_PKEY *k, const EVP_MD *md, const char *cn)
{
  X509_NAME *n = tu_name(cn);
  X509 *x = tu_cert(k, n, NULL, 4242, "20240101000000Z", "20340101000000Z");
  tu_ext(x, NULL, NID_subject_key_identifier, "hash");
  tu_ext(x, NULL, NID_authority_key_identifier, "keyid:always");
  tu_sign(x, k, md);
  certhub_cert *c = check(x);
  assert_true(c->self_signed);
  X509_free(x);
  X509_NAME_free(n);
  return c;
}

static void key_types(void **state)
{
  (void)state;
  struct {
    const char *alg;
    int param;
    const EVP_MD *md;
    const char *key_alg;
    const char *curve;
  } cases[] = {
      {"RSA", 1024, EVP_sha1(), "RSA", NULL},
      {"RSA", 2048, EVP_sha256(), "RSA", NULL},
      {"EC", NID_X9_62_prime256v1, EVP_sha256(), "EC", "P-256"},
      {"EC", NID_secp384r1, EVP_sha384(), "EC", "P-384"},
      {"EC", NID_secp521r1, EVP_sha512(), "EC", "P-521"},
      {"EC", NID_secp256k1, EVP_sha256(), "EC", "secp256k1"},
      {"EC", NID_brainpoolP256r1, EVP_sha256(), "EC", "brainpoolP256r1"},
      {"EC", NID_X9_62_prime256v1, EVP_sha1(), "EC", "P-256"},
      {"ED25519", 0, NULL, "Ed25519", NULL},
      {"ED448", 0, NULL, "Ed448", NULL},
      {"DSA", 1024, EVP_sha256(), "DSA", NULL},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    EVP_PKEY *k = tu_key(cases[i].alg, cases[i].param);
    certhub_cert *c = self_signed(k, cases[i].md, "key test");
    assert_string_equal(c->key_alg, cases[i].key_alg);
    if(cases[i].curve)
      assert_string_equal(c->key_curve, cases[i].curve);
    else
      assert_null(c->key_curve);
    assert_string_equal(c->common_name, "key test");
    assert_string_equal(c->issuer_cn, "key test");
    certhub_cert_free(c);
    EVP_PKEY_free(k);
  }
}

static void x25519_key_signed_by_ca(void **state)
{
  (void)state;
  EVP_PKEY *ca = tu_key("EC", NID_X9_62_prime256v1);
  EVP_PKEY *k = tu_key("X25519", 0);
  X509_NAME *sn = tu_name("x25519 leaf"), *in = tu_name("CA");
  X509 *x = tu_cert(k, sn, in, 7, "20240101000000Z", "20250101000000Z");
  tu_sign(x, ca, EVP_sha256());
  certhub_cert *c = check(x);
  assert_string_equal(c->key_alg, "X25519");
  assert_string_equal(c->issuer_cn, "CA");
  assert_false(c->self_signed);
  certhub_cert_free(c);
  X509_free(x);
  X509_NAME_free(sn);
  X509_NAME_free(in);
  EVP_PKEY_free(k);
  EVP_PKEY_free(ca);
}

static void names_escaping_and_strings(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("EC", NID_X9_62_prime256v1);
  X509_NAME *n = X509_NAME_new();
  const unsigned char bmp[] = {0x00, 'Z', 0x00, 0xfc, 0x04, 0x1f, 0x4e, 0x2d};
  X509_NAME_add_entry_by_txt(n, "DC", MBSTRING_ASC,
                             (const unsigned char *)"com", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US",
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "ST", V_ASN1_T61STRING,
                             (const unsigned char *)"M\xfcnchen", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                             (const unsigned char *)"Acme, Inc.", -1, -1, 0);
  /* Multi-valued RDN: OU + UID in one SET. */
  X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
                             (const unsigned char *)"R&D", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "UID", MBSTRING_ASC,
                             (const unsigned char *)"u42", -1, -1, -1);
  X509_NAME_add_entry_by_txt(n, "L", V_ASN1_BMPSTRING, bmp, sizeof(bmp), -1,
                             0);
  X509_NAME_add_entry_by_txt(
      n, "street", MBSTRING_UTF8,
      (const unsigned char *)"\xc3\xa9t\xc3\xa9 \xe2\x82\xac", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
                             (const unsigned char *)"a@example.com", -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                             (const unsigned char *)"#first", -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      n, "CN", MBSTRING_UTF8,
      (const unsigned char *)" lead+plus\"q\\b<l>g;s=e trail ", -1, -1, 0);
  X509 *x = tu_cert(k, n, NULL, 1, "20240101000000Z", "20250101000000Z");
  tu_sign(x, k, EVP_sha256());
  certhub_cert *c = check(x);
  assert_string_equal(
      c->subject,
      "CN=\\ lead\\+plus\\\"q\\\\b\\<l\\>g\\;s=e trail\\ ,CN=\\#first,"
      "emailAddress=a@example.com,STREET=\xc3\xa9t\xc3\xa9 \xe2\x82\xac,"
      "L=Z\xc3\xbc\xd0\x9f\xe4\xb8\xad,UID=u42+OU=R&D,O=Acme\\, Inc.,"
      "ST=M\xc3\xbcnchen,C=US,DC=com");
  /* The last CN, unescaped. */
  assert_string_equal(c->common_name, " lead+plus\"q\\b<l>g;s=e trail ");
  assert_true(c->self_signed); /* no AKI at all */
  certhub_cert_free(c);
  X509_free(x);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
}

static void unknown_attribute_and_empty_name(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("EC", NID_X9_62_prime256v1);
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "1.3.6.1.4.1.99999.1", MBSTRING_ASC,
                             (const unsigned char *)"zz", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_ASC,
                             (const unsigned char *)"12", -1, -1, 0);
  X509_NAME *empty = X509_NAME_new();
  X509 *x = tu_cert(k, empty, n, 1, "20240101000000Z", "20250101000000Z");
  tu_sign(x, k, EVP_sha256());
  uint8_t *der;
  size_t len = tu_der(x, &der);
  certhub_cert *c = NULL;
  assert_int_equal(certhub_cert_parse_der(der, len, &c, NULL), CH_OK);
  /* Attributes outside the RFC 4514 table print as OID=#hex. */
  assert_string_equal(c->issuer,
                      "2.5.4.5=#13023132,1.3.6.1.4.1.99999.1=#0C027A7A");
  assert_string_equal(c->subject, "");
  assert_null(c->common_name);
  assert_null(c->issuer_cn);
  assert_false(c->self_signed);
  certhub_cert_free(c);
  OPENSSL_free(der);
  X509_free(x);
  X509_NAME_free(n);
  X509_NAME_free(empty);
  EVP_PKEY_free(k);
}

static void dates_utc_and_generalized(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("EC", NID_X9_62_prime256v1);
  X509_NAME *n = tu_name("dates");
  struct {
    const char *nb, *na;
    int64_t want_nb, want_na;
  } cases[] = {
      {"19500101000000Z", "20491231235959Z", -631152000, 2524607999},
      {"19991231235959Z", "20500101000000Z", 946684799, 2524608000},
      {"20000229120000Z", "99991231235959Z", 951825600, 253402300799},
      {"19700101000000Z", "21060207062816Z", 0, 4294967296},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    X509 *x = tu_cert(k, n, NULL, 1, cases[i].nb, cases[i].na);
    tu_sign(x, k, EVP_sha256());
    certhub_cert *c = check(x);
    assert_int_equal(c->not_before, cases[i].want_nb);
    assert_int_equal(c->not_after, cases[i].want_na);
    certhub_cert_free(c);
    X509_free(x);
  }
  X509_NAME_free(n);
  EVP_PKEY_free(k);
}

static void ca_and_leaf_extensions(void **state)
{
  (void)state;
  EVP_PKEY *cak = tu_key("EC", NID_secp384r1);
  EVP_PKEY *k = tu_key("RSA", 2048);
  X509_NAME *can = tu_name("Test Root CA"), *ln = tu_name("www.example.com");
  X509 *ca = tu_cert(cak, can, NULL, 1, "20240101000000Z", "20440101000000Z");
  tu_ext(ca, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:3");
  tu_ext(ca, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
  tu_ext(ca, NULL, NID_subject_key_identifier, "hash");
  tu_ext(ca, NULL, NID_authority_key_identifier, "keyid:always");
  tu_sign(ca, cak, EVP_sha384());
  certhub_cert *c = check(ca);
  assert_true(c->is_ca);
  assert_int_equal(c->path_len, 3);
  assert_int_equal(c->key_usage,
                   CERTHUB_KU_KEY_CERT_SIGN | CERTHUB_KU_CRL_SIGN);
  assert_true(c->self_signed);
  assert_string_equal(c->aki, c->ski);
  char ca_ski[128];
  snprintf(ca_ski, sizeof(ca_ski), "%s", c->ski);
  certhub_cert_free(c);

  X509 *x = tu_cert(k, ln, can, 0x0102030405060708L, "20240101000000Z",
                    "20250101000000Z");
  tu_ext(x, ca, NID_basic_constraints, "CA:FALSE");
  tu_ext(x, ca, NID_key_usage,
         "digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,"
         "keyAgreement,encipherOnly,decipherOnly");
  tu_ext(x, ca, NID_ext_key_usage,
         "serverAuth,clientAuth,codeSigning,OCSPSigning,1.2.3.4.5");
  tu_ext(x, ca, NID_subject_alt_name,
         "DNS:www.example.com,DNS:*.example.com,IP:192.0.2.1,"
         "IP:2001:db8::1,IP:::ffff:10.0.0.1,email:ops@example.com,"
         "URI:https://example.com/a?b=c,RID:1.2.3.4,"
         "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.com");
  tu_ext(x, ca, NID_subject_key_identifier, "hash");
  tu_ext(x, ca, NID_authority_key_identifier, "keyid:always");
  tu_sign(x, cak, EVP_sha384());
  c = check(x);
  assert_false(c->is_ca);
  assert_int_equal(c->path_len, -1);
  assert_false(c->self_signed);
  assert_string_equal(c->aki, ca_ski);
  assert_string_equal(c->serial, "0102030405060708");
  assert_string_equal(c->sig_alg, "ecdsa-with-SHA384");
  assert_int_equal(c->key_bits, 2048);
  assert_int_equal(c->n_sans, 9);
  assert_string_equal(c->sans[3].value, "2001:db8::1");
  assert_string_equal(c->sans[4].value, "::ffff:10.0.0.1");
  assert_string_equal(c->sans[2].value, "192.0.2.1");
  assert_string_equal(c->sans[7].value, "RID:1.2.3.4");
  assert_string_equal(c->sans[8].value, "othername:1.3.6.1.4.1.311.20.2.3");
  assert_string_equal(c->ext_key_usage[4], "1.2.3.4.5");
  char buf[256];
  certhub_key_usage_format(c->key_usage, buf, sizeof(buf));
  assert_string_equal(buf, "digitalSignature,nonRepudiation,"
                           "keyEncipherment,dataEncipherment,keyAgreement,"
                           "encipherOnly,decipherOnly");
  certhub_key_usage_format(c->key_usage, buf, 40);
  assert_string_equal(buf, "digitalSignature,nonRepudiation");
  certhub_key_usage_format(0, buf, sizeof(buf));
  assert_string_equal(buf, "");
  certhub_cert_free(c);
  X509_free(x);
  X509_free(ca);
  X509_NAME_free(can);
  X509_NAME_free(ln);
  EVP_PKEY_free(k);
  EVP_PKEY_free(cak);
}

static X509 *with_sans(EVP_PKEY *k, int n, bool dirname)
{
  X509_NAME *nm = tu_name("many sans");
  X509 *x = tu_cert(k, nm, NULL, 9, "20240101000000Z", "20250101000000Z");
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  for(int i = 0; i < n; i++) {
    char host[64];
    snprintf(host, sizeof(host), "host%05d.example.com", i);
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, host, -1);
    GENERAL_NAME_set0_value(g, GEN_DNS, s);
    sk_GENERAL_NAME_push(gens, g);
  }
  if(dirname) {
    GENERAL_NAME *g = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(g, GEN_DIRNAME, tu_name("dir, name"));
    sk_GENERAL_NAME_push(gens, g);
  }
  X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
  GENERAL_NAMES_free(gens);
  tu_sign(x, k, EVP_sha256());
  X509_NAME_free(nm);
  return x;
}

static void ten_thousand_sans(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("EC", NID_X9_62_prime256v1);
  X509 *x = with_sans(k, 10000, true);
  certhub_cert *c = check(x);
  assert_int_equal(c->n_sans, 10001);
  assert_string_equal(c->sans[9999].value, "host09999.example.com");
  assert_int_equal(c->sans[10000].type, CERTHUB_SAN_OTHER);
  assert_string_equal(c->sans[10000].value,
                      "DirName:CN=dir\\, name,O=Example Org,C=DE");
  assert_string_equal(certhub_san_type_name(c->sans[0].type), "DNS");
  assert_string_equal(certhub_san_type_name(CERTHUB_SAN_IP), "IP");
  assert_string_equal(certhub_san_type_name(CERTHUB_SAN_EMAIL), "email");
  assert_string_equal(certhub_san_type_name(CERTHUB_SAN_URI), "URI");
  assert_string_equal(certhub_san_type_name(CERTHUB_SAN_OTHER), "other");
  certhub_cert_free(c);
  X509_free(x);
  EVP_PKEY_free(k);
}

static void truncated_at_every_length(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("RSA", 1024);
  X509_NAME *n = tu_name("truncate me");
  X509 *x = tu_cert(k, n, NULL, 5, "20240101000000Z", "20250101000000Z");
  tu_ext(x, NULL, NID_subject_alt_name, "DNS:a.example,IP:10.0.0.1");
  tu_ext(x, NULL, NID_basic_constraints, "CA:TRUE");
  tu_sign(x, k, EVP_sha256());
  uint8_t *der;
  size_t len = tu_der(x, &der);
  for(size_t i = 0; i < len; i++) {
    /* A heap copy of exactly i bytes so ASan sees any overread. */
    uint8_t *cut = malloc(i ? i : 1);
    memcpy(cut, der, i);
    certhub_cert *c = (certhub_cert *)1;
    const char *detail = NULL;
    ch_err rc = certhub_cert_parse_der(cut, i, &c, &detail);
    assert_int_not_equal(rc, CH_OK);
    assert_null(c);
    assert_non_null(detail);
    free(cut);
  }
  /* One byte too many is trailing data. */
  uint8_t *more = malloc(len + 1);
  memcpy(more, der, len);
  more[len] = 0;
  certhub_cert *c = NULL;
  assert_int_equal(certhub_cert_parse_der(more, len + 1, &c, NULL),
                   CH_ERR_PARSE);
  /* Every single-byte corruption either parses or fails cleanly. */
  for(size_t i = 0; i < len; i++) {
    memcpy(more, der, len);
    more[i] ^= 0x41;
    c = NULL;
    if(certhub_cert_parse_der(more, len, &c, NULL) == CH_OK)
      certhub_cert_free(c);
  }
  free(more);
  OPENSSL_free(der);
  X509_free(x);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
}

static void rejects_bad_der(void **state)
{
  (void)state;
  certhub_cert *c = NULL;
  const char *d = NULL;
  static const uint8_t indefinite[] = {0x30, 0x80, 0x30, 0x00, 0x00, 0x00};
  static const uint8_t nonminimal[] = {0x30, 0x81, 0x02, 0x30, 0x00};
  static const uint8_t deep[] = {0x30, 0x02, 0x30, 0x00};
  assert_int_equal(
      certhub_cert_parse_der(indefinite, sizeof(indefinite), &c, &d),
      CH_ERR_PARSE);
  assert_int_equal(
      certhub_cert_parse_der(nonminimal, sizeof(nonminimal), &c, &d),
      CH_ERR_PARSE);
  assert_int_not_equal(certhub_cert_parse_der(deep, sizeof(deep), &c, &d),
                       CH_OK);
  assert_int_equal(certhub_cert_parse_der(NULL, 0, &c, &d), CH_ERR_TRUNCATED);
  static uint8_t big[CERTHUB_MAX_CERT_DER + 1];
  assert_int_equal(certhub_cert_parse_der(big, sizeof(big), &c, &d),
                   CH_ERR_TOOBIG);
  assert_null(c);
}

/* Names whose value bytes OpenSSL would refuse to build: make a CN of
 * placeholder bytes, then patch tag and contents in the DER. */
static void string_decoding(void **state)
{
  (void)state;
  EVP_PKEY *k = tu_key("EC", NID_X9_62_prime256v1);
  struct {
    uint8_t tag;
    const char *val;
    int len;
    ch_err want;
    const char *str;
  } cases[] = {
      {0x1c, "\x00\x01\xf6\x00\x00\x00\x00\x41", 8, CH_OK,
       "CN=\xf0\x9f\x98\x80"
       "A"},
      {0x1e, "\x00\x41\x04\x1f", 4, CH_OK, "CN=A\xd0\x9f"},
      {0x14, "\xe9t\xe9", 3, CH_OK, "CN=\xc3\xa9t\xc3\xa9"},
      {0x1e, "\xd8\x3d\xde\x00", 4, CH_ERR_PARSE, NULL},
      {0x1e, "\x00\x41\x00", 3, CH_ERR_PARSE, NULL},
      {0x1c, "\x00\x11\x00\x00", 4, CH_ERR_PARSE, NULL},
      {0x1c, "\x00\x00\x41", 3, CH_ERR_PARSE, NULL},
      {0x0c, "\xc0\x80", 2, CH_ERR_PARSE, NULL},
      {0x0c, "a\xed\xa0\x80", 4, CH_ERR_PARSE, NULL},
      {0x0c, "\xe2\x82", 2, CH_ERR_PARSE, NULL},
      {0x0c, "\xf4\x90\x80\x80", 4, CH_ERR_PARSE, NULL},
      {0x0c,
       "a\x01\x7f"
       "b",
       4, CH_OK, "CN=a\\01\\7Fb"},
      {0x0c, "a\0b", 3, CH_OK, "CN=a\\00b"},
      /* RFC 4514 escapes a leading '#'; OpenSSL misses it when the value
       * is one character long, so this case is not compared with it. */
      {0x16, "#", 1, CH_OK, "CN=\\#"},
      {0x16, " ", 1, CH_OK, "CN=\\ "},
      {0x02, "\x01", 1, CH_OK, "CN=#020101"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char ph[16];
    memset(ph, 'Q', sizeof(ph));
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING,
                               (const unsigned char *)ph, cases[i].len, -1, 0);
    X509 *x = tu_cert(k, n, NULL, 1, "20240101000000Z", "20250101000000Z");
    tu_sign(x, k, EVP_sha256());
    uint8_t *der;
    size_t len = tu_der(x, &der);
    /* Issuer and subject both. */
    for(int j = 0; j < 2; j++) {
      uint8_t *at = memmem(der, len, ph, (size_t)cases[i].len);
      assert_non_null(at);
      assert_int_equal(at[-2], 0x0c);
      at[-2] = cases[i].tag;
      memcpy(at, cases[i].val, (size_t)cases[i].len);
    }
    certhub_cert *c = NULL;
    const char *detail = NULL;
    ch_err rc = certhub_cert_parse_der(der, len, &c, &detail);
    if(rc != cases[i].want)
      fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].want);
    if(rc == CH_OK) {
      assert_string_equal(c->subject, cases[i].str);
      if(strcmp(cases[i].val, "#") == 0)
        goto next;
      /* Same as OpenSSL for everything it can print. */
      const unsigned char *q = der;
      X509 *back = d2i_X509(NULL, &q, (long)len);
      if(cases[i].tag == 0x02) {
        assert_null(back); /* OpenSSL refuses non-string values at all */
        goto next;
      }
      assert_non_null(back);
      char *o = tu_name_str(X509_get_subject_name(back));
      assert_string_equal(c->subject, o);
      free(o);
      X509_free(back);
    }
    else
      assert_non_null(strstr(detail, "name"));
  next:
    certhub_cert_free(c);
    OPENSSL_free(der);
    X509_free(x);
    X509_NAME_free(n);
  }
  EVP_PKEY_free(k);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(key_types),
      cmocka_unit_test(x25519_key_signed_by_ca),
      cmocka_unit_test(names_escaping_and_strings),
      cmocka_unit_test(unknown_attribute_and_empty_name),
      cmocka_unit_test(dates_utc_and_generalized),
      cmocka_unit_test(ca_and_leaf_extensions),
      cmocka_unit_test(ten_thousand_sans),
      cmocka_unit_test(truncated_at_every_length),
      cmocka_unit_test(rejects_bad_der),
      cmocka_unit_test(string_decoding),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
