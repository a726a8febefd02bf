/*
 * Hand-written X.509 certificate parser.
 *
 * Why not d2i_X509: OpenSSL 3's d2i_X509 decodes the subject public key
 * through the provider decoders, builds a full ASN1 object tree and caches
 * extensions; it tops out near 5,000 certificates/s per core. Inventory
 * imports of large bundles need at least 100,000 certificates/s per core
 * including the SHA-256 and SHA-1 fingerprints, so we walk the DER once
 * with a strict reader (der.c), read the key size straight from the SPKI
 * and never build objects we do not keep. OpenSSL is used only for the
 * hashes here, and for PKCS#7/PKCS#12 containers in read.c.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "certhub/time.h"
#include "x509_int.h"

typedef struct pctx {
  certhub_cert *c;
  struct ch_arena *a;
  const char *detail;
} pctx;

#define FAIL(code, what)                                                      \
  do {                                                                        \
    rc = (code);                                                              \
    p->detail = (what);                                                       \
    goto out;                                                                 \
  } while(0)

/* Run a DER step; on failure report what was being read. */
#define TRY(expr, what)                                                       \
  do {                                                                        \
    rc = (expr);                                                              \
    if(rc) {                                                                  \
      p->detail = (what);                                                     \
      goto out;                                                               \
    }                                                                         \
  } while(0)

static const uint8_t OID_BASIC_CONSTRAINTS[] = {0x55, 0x1d, 0x13};
static const uint8_t OID_KEY_USAGE[] = {0x55, 0x1d, 0x0f};
static const uint8_t OID_EXT_KEY_USAGE[] = {0x55, 0x1d, 0x25};
static const uint8_t OID_SAN[] = {0x55, 0x1d, 0x11};
static const uint8_t OID_SKI[] = {0x55, 0x1d, 0x0e};
static const uint8_t OID_AKI[] = {0x55, 0x1d, 0x23};

static char *hexdup(struct ch_arena *a, const uint8_t *v, size_t n)
{
  char *s = ch_arena_alloc(a, 2 * n + 1);
  if(s)
    ch_hex_encode(v, n, s);
  return s;
}

/* --- hashing -------------------------------------------------------------
 * EVP with pre-fetched digests and a reused per-thread context measured
 * about 35% faster than the one-shot SHA256()/SHA1(), which fetch the
 * algorithm on every call in OpenSSL 3 (bench_parse prints both). */

static EVP_MD *g_sha256, *g_sha1;
static pthread_key_t g_ctx_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_ready;

static void ctx_destroy(void *p)
{
  EVP_MD_CTX_free(p);
}

static void hash_init(void)
{
  g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  g_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  g_ready =
      g_sha256 && g_sha1 && pthread_key_create(&g_ctx_key, ctx_destroy) == 0;
}

/* Digest into out; false only if OpenSSL cannot give us the digest. */
static bool digest(bool sha256, const uint8_t *p, size_t n, uint8_t *out)
{
  pthread_once(&g_once, hash_init);
  if(!g_ready)
    return false;
  EVP_MD_CTX *ctx = pthread_getspecific(g_ctx_key);
  if(!ctx) {
    ctx = EVP_MD_CTX_new();
    if(!ctx || pthread_setspecific(g_ctx_key, ctx)) {
      EVP_MD_CTX_free(ctx);
      return false;
    }
  }
  unsigned len;
  return EVP_DigestInit_ex(ctx, sha256 ? g_sha256 : g_sha1, NULL) &&
         EVP_DigestUpdate(ctx, p, n) && EVP_DigestFinal_ex(ctx, out, &len);
}

/* --- validity ----------------------------------------------------------- */

static int dig2(const uint8_t *s)
{
  if(s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
    return -1;
  return (s[0] - '0') * 10 + (s[1] - '0');
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, as DER and
 * RFC 5280 require (seconds present, Z, no fraction). */
static ch_err parse_time(const ch_der_tlv *t, int64_t *out)
{
  const uint8_t *s = t->val;
  int year;
  if(t->tag == CH_DER_UTCTIME) {
    if(t->len != 13)
      return CH_ERR_PARSE;
    int yy = dig2(s);
    if(yy < 0)
      return CH_ERR_PARSE;
    year = yy >= 50 ? 1900 + yy : 2000 + yy; /* RFC 5280 4.1.2.5.1 */
    s += 2;
  }
  else if(t->tag == CH_DER_GENERALIZEDTIME) {
    if(t->len != 15)
      return CH_ERR_PARSE;
    int hi = dig2(s), lo = dig2(s + 2);
    if(hi < 0 || lo < 0)
      return CH_ERR_PARSE;
    year = hi * 100 + lo;
    s += 4;
  }
  else
    return CH_ERR_PARSE;
  int mon = dig2(s), day = dig2(s + 2), hh = dig2(s + 4), mm = dig2(s + 6),
      ss = dig2(s + 8);
  if(s[10] != 'Z' || mon < 1 || mon > 12 || day < 1 || hh < 0 || hh > 23 ||
     mm < 0 || mm > 59 || ss < 0 || ss > 59)
    return CH_ERR_PARSE;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if(day > mdays[mon - 1] + (mon == 2 ? leap : 0))
    return CH_ERR_PARSE;
  *out = certhub_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 +
         hh * 3600 + mm * 60 + ss;
  return CH_OK;
}

/* --- subjectPublicKeyInfo ----------------------------------------------- */

static const uint8_t OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                  0x0d, 0x01, 0x01, 0x01};
static const uint8_t OID_RSA_PSS[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                      0x0d, 0x01, 0x01, 0x0a};
static const uint8_t OID_EC[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_DSA[] = {0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01};

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static ch_err rsa_bits(const ch_der_tlv *bits, int *out)
{
  ch_der d, seq;
  ch_der_tlv s, n, e;
  if(bits->len < 1 || bits->val[0] != 0)
    return CH_ERR_PARSE; /* unused-bits octet must be 0 */
  ch_der_init(&d, bits->val + 1, bits->len - 1);
  d.depth = bits->depth + 1;
  ch_err rc = ch_der_expect(&d, CH_DER_SEQUENCE, &s);
  if(!rc && !ch_der_empty(&d))
    rc = CH_ERR_PARSE;
  if(!rc)
    rc = ch_der_enter(&s, &seq);
  if(!rc)
    rc = ch_der_expect(&seq, CH_DER_INTEGER, &n);
  if(!rc)
    rc = ch_der_expect(&seq, CH_DER_INTEGER, &e);
  if(!rc && (!ch_der_empty(&seq) || n.len == 0 || (n.val[0] & 0x80)))
    rc = CH_ERR_PARSE;
  if(!rc)
    *out = ch_der_uint_bits(n.val, n.len);
  return rc;
}

/* ECParameters (explicit curve): the size is that of the group order. */
static ch_err ec_explicit_bits(const ch_der_tlv *params, int *out)
{
  ch_der d;
  ch_der_tlv t;
  ch_err rc = ch_der_enter(params, &d);
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_INTEGER, &t); /* version */
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_SEQUENCE, &t); /* fieldID */
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_SEQUENCE, &t); /* curve */
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_OCTET_STRING, &t); /* base */
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_INTEGER, &t); /* order */
  if(!rc)
    *out = ch_der_uint_bits(t.val, t.len);
  return rc;
}

/* Dss-Parms ::= SEQUENCE { p INTEGER, q INTEGER, g INTEGER } */
static ch_err dsa_bits(const ch_der_tlv *params, int *out)
{
  ch_der d;
  ch_der_tlv t;
  ch_err rc = ch_der_enter(params, &d);
  if(!rc)
    rc = ch_der_expect(&d, CH_DER_INTEGER, &t);
  if(!rc)
    *out = ch_der_uint_bits(t.val, t.len);
  return rc;
}

static ch_err parse_spki(pctx *p, const ch_der_tlv *spki)
{
  certhub_cert *c = p->c;
  ch_der d, alg;
  ch_der_tlv algid, oid, params, bits;
  bool has_params = false;
  ch_err rc;
  TRY(ch_der_enter(spki, &d), "subjectPublicKeyInfo");
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &algid),
      "subjectPublicKeyInfo algorithm");
  TRY(ch_der_expect(&d, CH_DER_BIT_STRING, &bits),
      "subjectPublicKeyInfo key bits");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in subjectPublicKeyInfo");
  TRY(ch_der_enter(&algid, &alg), "subjectPublicKeyInfo algorithm");
  TRY(ch_der_expect(&alg, CH_DER_OID, &oid), "public key algorithm OID");
  if(!ch_der_empty(&alg)) {
    TRY(ch_der_next(&alg, &params), "public key parameters");
    has_params = params.tag != CH_DER_NULL;
    if(!ch_der_empty(&alg))
      FAIL(CH_ERR_PARSE, "trailing data in public key algorithm");
  }
  if(bits.len < 1 || bits.val[0] > 7)
    FAIL(CH_ERR_PARSE, "public key BIT STRING");

  const ch_oid_name *k =
      ch_x509_oid_find(ch_x509_key_algs, ch_x509_n_key_algs, &oid);
  if(!k) {
    c->key_alg = ch_x509_oid_name(p->a, NULL, 0, &oid, &rc);
    if(!c->key_alg)
      FAIL(rc, "public key algorithm OID");
    rc = CH_OK;
    goto out;
  }
  c->key_alg = k->name;
  c->key_bits = k->bits;
  if(ch_der_oid_eq(&oid, OID_RSA, sizeof(OID_RSA)) ||
     ch_der_oid_eq(&oid, OID_RSA_PSS, sizeof(OID_RSA_PSS))) {
    TRY(rsa_bits(&bits, &c->key_bits), "RSA public key");
  }
  else if(ch_der_oid_eq(&oid, OID_EC, sizeof(OID_EC))) {
    if(!has_params)
      FAIL(CH_ERR_PARSE, "EC key without curve parameters");
    if(params.tag == CH_DER_OID) {
      const ch_oid_name *cv =
          ch_x509_oid_find(ch_x509_curves, ch_x509_n_curves, &params);
      if(cv) {
        c->key_curve = cv->name;
        c->key_bits = cv->bits;
      }
      else {
        c->key_curve = ch_x509_oid_name(p->a, NULL, 0, &params, &rc);
        if(!c->key_curve)
          FAIL(rc, "EC curve OID");
      }
    }
    else if(params.tag == CH_DER_SEQUENCE)
      TRY(ec_explicit_bits(&params, &c->key_bits), "EC explicit parameters");
    else
      FAIL(CH_ERR_PARSE, "EC key parameters");
  }
  else if(ch_der_oid_eq(&oid, OID_DSA, sizeof(OID_DSA))) {
    /* Absent parameters are inherited from the issuer: size unknown. */
    if(has_params) {
      if(params.tag != CH_DER_SEQUENCE)
        FAIL(CH_ERR_PARSE, "DSA parameters");
      TRY(dsa_bits(&params, &c->key_bits), "DSA parameters");
    }
  }
  rc = CH_OK;
out:
  return rc;
}

/* --- extensions --------------------------------------------------------- */

static ch_err ext_basic_constraints(pctx *p, const ch_der_tlv *v)
{
  certhub_cert *c = p->c;
  ch_der d, seq;
  ch_der_tlv s, t;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  d.depth = v->depth + 1;
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &s), "basicConstraints");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in basicConstraints");
  TRY(ch_der_enter(&s, &seq), "basicConstraints");
  if(ch_der_peek(&seq, CH_DER_BOOLEAN)) {
    TRY(ch_der_next(&seq, &t), "basicConstraints cA");
    if(t.len != 1 || (t.val[0] != 0 && t.val[0] != 0xff))
      FAIL(CH_ERR_PARSE, "basicConstraints cA");
    c->is_ca = t.val[0] != 0;
  }
  if(ch_der_peek(&seq, CH_DER_INTEGER)) {
    TRY(ch_der_next(&seq, &t), "basicConstraints pathLenConstraint");
    if(t.len < 1 || t.len > 4 || (t.val[0] & 0x80) ||
       (t.len == 4 && t.val[0] > 0x7f))
      FAIL(CH_ERR_PARSE, "basicConstraints pathLenConstraint");
    uint32_t n = 0;
    for(size_t i = 0; i < t.len; i++)
      n = (n << 8) | t.val[i];
    c->path_len = (int)n;
  }
  if(!ch_der_empty(&seq))
    FAIL(CH_ERR_PARSE, "trailing data in basicConstraints");
  rc = CH_OK;
out:
  return rc;
}

static ch_err ext_key_usage(pctx *p, const ch_der_tlv *v)
{
  certhub_cert *c = p->c;
  ch_der d;
  ch_der_tlv t;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  TRY(ch_der_expect(&d, CH_DER_BIT_STRING, &t), "keyUsage");
  if(!ch_der_empty(&d) || t.len < 1 || t.val[0] > 7 ||
     (t.len == 1 && t.val[0] != 0))
    FAIL(CH_ERR_PARSE, "keyUsage");
  unsigned ku = 0;
  for(unsigned i = 0; i < 9; i++) {
    size_t byte = 1 + i / 8;
    if(byte < t.len && (t.val[byte] & (0x80u >> (i % 8))))
      ku |= 1u << i;
  }
  c->has_key_usage = true;
  c->key_usage = ku;
  rc = CH_OK;
out:
  return rc;
}

static ch_err ext_eku(pctx *p, const ch_der_tlv *v)
{
  certhub_cert *c = p->c;
  ch_der d, seq;
  ch_der_tlv s, t;
  size_t n = 0;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  d.depth = v->depth + 1;
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &s), "extKeyUsage");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in extKeyUsage");
  TRY(ch_der_enter(&s, &seq), "extKeyUsage");
  while(!ch_der_empty(&seq)) {
    TRY(ch_der_expect(&seq, CH_DER_OID, &t), "extKeyUsage purpose");
    n++;
  }
  if(n == 0)
    FAIL(CH_ERR_PARSE, "empty extKeyUsage");
  const char **names = ch_arena_alloc(p->a, n * sizeof(*names));
  if(!names)
    FAIL(CH_ERR_TOOBIG, "extKeyUsage too large");
  ch_der_enter(&s, &seq);
  for(size_t i = 0; i < n; i++) {
    ch_der_next(&seq, &t);
    names[i] = ch_x509_oid_name(p->a, ch_x509_ekus, ch_x509_n_ekus, &t, &rc);
    if(!names[i])
      FAIL(rc, "extKeyUsage purpose OID");
  }
  c->ext_key_usage = names;
  c->n_ext_key_usage = n;
  rc = CH_OK;
out:
  return rc;
}

static bool ia5_ok(const ch_der_tlv *t)
{
  for(size_t i = 0; i < t->len; i++) {
    if(t->val[i] == 0 || t->val[i] > 0x7e)
      return false;
  }
  return true;
}

static ch_err san_entry(pctx *p, const ch_der_tlv *t, certhub_san *s)
{
  ch_err rc = CH_OK;
  char buf[INET6_ADDRSTRLEN];
  switch(t->tag) {
  case 0x81: /* rfc822Name */
  case 0x82: /* dNSName */
  case 0x86: /* uniformResourceIdentifier */
    if(!ia5_ok(t))
      FAIL(CH_ERR_PARSE, "subjectAltName: invalid IA5String");
    s->type = t->tag == 0x81   ? CERTHUB_SAN_EMAIL
              : t->tag == 0x82 ? CERTHUB_SAN_DNS
                               : CERTHUB_SAN_URI;
    s->value = ch_arena_strndup(p->a, (const char *)t->val, t->len);
    break;
  case 0x87: /* iPAddress */
    if(t->len == 4 || t->len == 16) {
      s->type = CERTHUB_SAN_IP;
      inet_ntop(t->len == 4 ? AF_INET : AF_INET6, t->val, buf, sizeof(buf));
      s->value = ch_arena_strdup(p->a, buf);
    }
    else {
      s->type = CERTHUB_SAN_OTHER;
      char *h = hexdup(p->a, t->val, t->len);
      s->value = h ? ch_arena_printf(p->a, "IP:%s", h) : NULL;
    }
    break;
  case 0xa4: { /* directoryName: [4] EXPLICIT Name */
    ch_der d;
    ch_der_tlv name;
    const char *str;
    TRY(ch_der_enter(t, &d), "subjectAltName directoryName");
    TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &name),
        "subjectAltName directoryName");
    if(!ch_der_empty(&d))
      FAIL(CH_ERR_PARSE, "subjectAltName directoryName");
    rc = ch_x509_name_format(p->a, &name, &str, NULL, &p->detail);
    if(rc)
      goto out;
    s->type = CERTHUB_SAN_OTHER;
    s->value = ch_arena_printf(p->a, "DirName:%s", str);
    break;
  }
  case 0xa0: { /* otherName: type-id OID, [0] EXPLICIT value */
    ch_der d;
    ch_der_tlv oid;
    const char *txt;
    TRY(ch_der_enter(t, &d), "subjectAltName otherName");
    TRY(ch_der_expect(&d, CH_DER_OID, &oid), "subjectAltName otherName");
    txt = ch_x509_oid_name(p->a, NULL, 0, &oid, &rc);
    if(!txt)
      FAIL(rc, "subjectAltName otherName type");
    s->type = CERTHUB_SAN_OTHER;
    s->value = ch_arena_printf(p->a, "othername:%s", txt);
    break;
  }
  case 0x88: { /* registeredID */
    const char *txt = ch_x509_oid_name(p->a, NULL, 0, t, &rc);
    if(!txt)
      FAIL(rc, "subjectAltName registeredID");
    s->type = CERTHUB_SAN_OTHER;
    s->value = ch_arena_printf(p->a, "RID:%s", txt);
    break;
  }
  case 0xa3:
    s->type = CERTHUB_SAN_OTHER;
    s->value = "x400Address";
    break;
  case 0xa5:
    s->type = CERTHUB_SAN_OTHER;
    s->value = "ediPartyName";
    break;
  default:
    FAIL(CH_ERR_PARSE, "subjectAltName: unknown GeneralName type");
  }
  if(!s->value)
    FAIL(CH_ERR_TOOBIG, "subjectAltName too large");
out:
  return rc;
}

static ch_err ext_san(pctx *p, const ch_der_tlv *v)
{
  certhub_cert *c = p->c;
  ch_der d, seq;
  ch_der_tlv s, t;
  size_t n = 0;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  d.depth = v->depth + 1;
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &s), "subjectAltName");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in subjectAltName");
  TRY(ch_der_enter(&s, &seq), "subjectAltName");
  while(!ch_der_empty(&seq)) {
    TRY(ch_der_next(&seq, &t), "subjectAltName entry");
    n++;
  }
  /* A repeated extension appends; the cap covers the total. */
  if(n > CERTHUB_MAX_SANS || c->n_sans > CERTHUB_MAX_SANS - n)
    FAIL(CH_ERR_TOOBIG, "more subjectAltName entries than the cap");
  certhub_san *sans = ch_arena_alloc(p->a, (c->n_sans + n) * sizeof(*sans));
  if(!sans)
    FAIL(CH_ERR_TOOBIG, "subjectAltName too large");
  if(c->n_sans)
    memcpy(sans, c->sans, c->n_sans * sizeof(*sans));
  ch_der_enter(&s, &seq);
  for(size_t i = 0; i < n; i++) {
    ch_der_next(&seq, &t);
    t.depth = seq.depth;
    rc = san_entry(p, &t, &sans[c->n_sans + i]);
    if(rc)
      goto out;
  }
  c->sans = sans;
  c->n_sans += n;
  rc = CH_OK;
out:
  return rc;
}

static ch_err ext_ski(pctx *p, const ch_der_tlv *v)
{
  ch_der d;
  ch_der_tlv t;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  TRY(ch_der_expect(&d, CH_DER_OCTET_STRING, &t), "subjectKeyIdentifier");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in subjectKeyIdentifier");
  p->c->ski = hexdup(p->a, t.val, t.len);
  if(!p->c->ski)
    FAIL(CH_ERR_TOOBIG, "subjectKeyIdentifier too large");
out:
  return rc;
}

static ch_err ext_aki(pctx *p, const ch_der_tlv *v)
{
  ch_der d, seq;
  ch_der_tlv s, t;
  ch_err rc;
  ch_der_init(&d, v->val, v->len);
  d.depth = v->depth + 1;
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &s), "authorityKeyIdentifier");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data in authorityKeyIdentifier");
  TRY(ch_der_enter(&s, &seq), "authorityKeyIdentifier");
  while(!ch_der_empty(&seq)) {
    TRY(ch_der_next(&seq, &t), "authorityKeyIdentifier");
    if(t.tag == 0x80) { /* [0] keyIdentifier */
      p->c->aki = hexdup(p->a, t.val, t.len);
      if(!p->c->aki)
        FAIL(CH_ERR_TOOBIG, "authorityKeyIdentifier too large");
    }
    else if(t.tag != 0xa1 && t.tag != 0x82)
      FAIL(CH_ERR_PARSE, "authorityKeyIdentifier field");
  }
  rc = CH_OK;
out:
  return rc;
}

static ch_err parse_extensions(pctx *p, const ch_der_tlv *wrap)
{
  ch_der d, list, ext;
  ch_der_tlv seq, e, oid, crit, val;
  ch_err rc;
  TRY(ch_der_enter(wrap, &d), "extensions");
  TRY(ch_der_expect(&d, CH_DER_SEQUENCE, &seq), "extensions");
  if(!ch_der_empty(&d))
    FAIL(CH_ERR_PARSE, "trailing data after extensions");
  TRY(ch_der_enter(&seq, &list), "extensions");
  while(!ch_der_empty(&list)) {
    TRY(ch_der_expect(&list, CH_DER_SEQUENCE, &e), "extension");
    TRY(ch_der_enter(&e, &ext), "extension");
    TRY(ch_der_expect(&ext, CH_DER_OID, &oid), "extension OID");
    if(ch_der_peek(&ext, CH_DER_BOOLEAN)) {
      TRY(ch_der_next(&ext, &crit), "extension critical flag");
      if(crit.len != 1)
        FAIL(CH_ERR_PARSE, "extension critical flag");
    }
    TRY(ch_der_expect(&ext, CH_DER_OCTET_STRING, &val), "extension value");
    if(!ch_der_empty(&ext))
      FAIL(CH_ERR_PARSE, "trailing data in extension");
    val.depth = ext.depth;
    if(oid.len != 3 || oid.val[0] != 0x55 || oid.val[1] != 0x1d)
      continue; /* only id-ce extensions interest us */
    if(ch_der_oid_eq(&oid, OID_BASIC_CONSTRAINTS, 3))
      rc = ext_basic_constraints(p, &val);
    else if(ch_der_oid_eq(&oid, OID_KEY_USAGE, 3))
      rc = ext_key_usage(p, &val);
    else if(ch_der_oid_eq(&oid, OID_EXT_KEY_USAGE, 3))
      rc = ext_eku(p, &val);
    else if(ch_der_oid_eq(&oid, OID_SAN, 3))
      rc = ext_san(p, &val);
    else if(ch_der_oid_eq(&oid, OID_SKI, 3))
      rc = ext_ski(p, &val);
    else if(ch_der_oid_eq(&oid, OID_AKI, 3))
      rc = ext_aki(p, &val);
    if(rc)
      goto out;
  }
  rc = CH_OK;
out:
  return rc;
}

/* --- certificate -------------------------------------------------------- */

static ch_err parse_serial(pctx *p, const ch_der_tlv *t)
{
  static const char HEXU[] = "0123456789ABCDEF";
  const uint8_t *v = t->val;
  size_t n = t->len;
  ch_err rc = CH_OK;
  if(n == 0 || n > 64)
    FAIL(CH_ERR_PARSE, "serialNumber length");
  while(n > 1 && v[0] == 0) {
    v++;
    n--;
  }
  char *s = ch_arena_alloc(p->a, 2 * n + 1);
  if(!s)
    FAIL(CH_ERR_TOOBIG, "serialNumber");
  for(size_t i = 0; i < n; i++) {
    s[2 * i] = HEXU[v[i] >> 4];
    s[2 * i + 1] = HEXU[v[i] & 15];
  }
  s[2 * n] = '\0';
  p->c->serial = s;
out:
  return rc;
}

static ch_err parse_cert(pctx *p, const uint8_t *der, size_t len)
{
  certhub_cert *c = p->c;
  ch_der top, cert, tbs, val, alg;
  ch_der_tlv tcert, ttbs, tsigalg, tsig, t, issuer, subject, sigoid;
  ch_err rc;

  ch_der_init(&top, der, len);
  TRY(ch_der_expect(&top, CH_DER_SEQUENCE, &tcert), "Certificate SEQUENCE");
  if(!ch_der_empty(&top))
    FAIL(CH_ERR_PARSE, "trailing data after the certificate");
  TRY(ch_der_enter(&tcert, &cert), "Certificate");
  TRY(ch_der_expect(&cert, CH_DER_SEQUENCE, &ttbs), "TBSCertificate");
  TRY(ch_der_expect(&cert, CH_DER_SEQUENCE, &tsigalg), "signatureAlgorithm");
  TRY(ch_der_expect(&cert, CH_DER_BIT_STRING, &tsig), "signatureValue");
  if(!ch_der_empty(&cert))
    FAIL(CH_ERR_PARSE, "trailing data in Certificate");

  TRY(ch_der_enter(&tsigalg, &alg), "signatureAlgorithm");
  TRY(ch_der_expect(&alg, CH_DER_OID, &sigoid), "signatureAlgorithm OID");
  c->sig_alg = ch_x509_oid_name(p->a, ch_x509_sig_algs, ch_x509_n_sig_algs,
                                &sigoid, &rc);
  if(!c->sig_alg)
    FAIL(rc, "signatureAlgorithm OID");

  TRY(ch_der_enter(&ttbs, &tbs), "TBSCertificate");
  if(ch_der_peek(&tbs, 0xa0)) {
    ch_der vd;
    TRY(ch_der_next(&tbs, &t), "version");
    TRY(ch_der_enter(&t, &vd), "version");
    TRY(ch_der_expect(&vd, CH_DER_INTEGER, &t), "version");
    if(!ch_der_empty(&vd) || t.len != 1 || t.val[0] > 2)
      FAIL(CH_ERR_PARSE, "version");
  }
  TRY(ch_der_expect(&tbs, CH_DER_INTEGER, &t), "serialNumber");
  rc = parse_serial(p, &t);
  if(rc)
    goto out;
  TRY(ch_der_expect(&tbs, CH_DER_SEQUENCE, &t), "signature");
  TRY(ch_der_expect(&tbs, CH_DER_SEQUENCE, &issuer), "issuer");
  TRY(ch_der_expect(&tbs, CH_DER_SEQUENCE, &t), "validity");
  TRY(ch_der_enter(&t, &val), "validity");
  TRY(ch_der_next(&val, &t), "notBefore");
  TRY(parse_time(&t, &c->not_before), "notBefore");
  TRY(ch_der_next(&val, &t), "notAfter");
  TRY(parse_time(&t, &c->not_after), "notAfter");
  if(!ch_der_empty(&val))
    FAIL(CH_ERR_PARSE, "trailing data in validity");
  TRY(ch_der_expect(&tbs, CH_DER_SEQUENCE, &subject), "subject");
  TRY(ch_der_expect(&tbs, CH_DER_SEQUENCE, &t), "subjectPublicKeyInfo");
  rc = parse_spki(p, &t);
  if(rc)
    goto out;
  if(ch_der_peek(&tbs, 0x81))
    TRY(ch_der_next(&tbs, &t), "issuerUniqueID");
  if(ch_der_peek(&tbs, 0x82))
    TRY(ch_der_next(&tbs, &t), "subjectUniqueID");
  if(ch_der_peek(&tbs, 0xa3)) {
    TRY(ch_der_next(&tbs, &t), "extensions");
    rc = parse_extensions(p, &t);
    if(rc)
      goto out;
  }
  if(!ch_der_empty(&tbs))
    FAIL(CH_ERR_PARSE, "trailing data in TBSCertificate");

  rc = ch_x509_name_format(p->a, &issuer, &c->issuer, &c->issuer_cn,
                           &p->detail);
  if(rc)
    goto out;
  rc = ch_x509_name_format(p->a, &subject, &c->subject, &c->common_name,
                           &p->detail);
  if(rc)
    goto out;

  uint8_t h[32];
  if(!digest(true, issuer.hdr, ch_der_tlv_size(&issuer), h))
    FAIL(CH_ERR_INTERNAL, "SHA-256 unavailable");
  ch_hex_encode(h, 32, c->issuer_hash);
  if(!digest(true, subject.hdr, ch_der_tlv_size(&subject), h))
    FAIL(CH_ERR_INTERNAL, "SHA-256 unavailable");
  ch_hex_encode(h, 32, c->subject_hash);

  c->self_signed =
      ch_der_tlv_size(&issuer) == ch_der_tlv_size(&subject) &&
      memcmp(issuer.hdr, subject.hdr, ch_der_tlv_size(&issuer)) == 0 &&
      (!c->aki || (c->ski && strcmp(c->aki, c->ski) == 0));
  rc = CH_OK;
out:
  return rc;
}

ch_err certhub_cert_parse_der(const uint8_t *der, size_t len,
                              certhub_cert **out, const char **err_detail)
{
  pctx p = {0};
  ch_err rc = CH_OK;
  struct ch_arena *a = NULL;
  *out = NULL;
  p.detail = "certificate";
  if(!der || len == 0) {
    rc = CH_ERR_TRUNCATED;
    p.detail = "empty input";
    goto out;
  }
  if(len > CERTHUB_MAX_CERT_DER) {
    rc = CH_ERR_TOOBIG;
    p.detail = "certificate larger than 1 MiB";
    goto out;
  }
  a = ch_arena_new(CH_X509_ARENA_CAP);
  certhub_cert *c = a ? ch_arena_alloc(a, sizeof(*c)) : NULL;
  uint8_t *copy = c ? ch_arena_alloc(a, len) : NULL;
  if(!copy) {
    rc = CH_ERR_NOMEM;
    p.detail = "out of memory";
    goto out;
  }
  memset(c, 0, sizeof(*c));
  memcpy(copy, der, len);
  c->arena_ = a;
  c->der = copy;
  c->der_len = len;
  c->path_len = -1;
  p.c = c;
  p.a = a;
  rc = parse_cert(&p, copy, len);
  if(rc)
    goto out;
  if(!digest(true, copy, len, c->sha256) ||
     !digest(false, copy, len, c->sha1)) {
    rc = CH_ERR_INTERNAL;
    p.detail = "SHA-256/SHA-1 unavailable";
    goto out;
  }
  ch_hex_encode(c->sha256, 32, c->sha256_hex);
  ch_hex_encode(c->sha1, 20, c->sha1_hex);
  memcpy(c->id, c->sha256_hex, CERTHUB_ID_LEN);
  c->id[CERTHUB_ID_LEN] = '\0';
  *out = c;
  a = NULL;
out:
  ch_arena_free(a);
  if(rc && err_detail)
    *err_detail = p.detail;
  return rc;
}

void certhub_cert_free(certhub_cert *c)
{
  if(c)
    ch_arena_free(c->arena_);
}

const char *certhub_san_type_name(enum certhub_san_type t)
{
  switch(t) {
  case CERTHUB_SAN_DNS:
    return "DNS";
  case CERTHUB_SAN_IP:
    return "IP";
  case CERTHUB_SAN_EMAIL:
    return "email";
  case CERTHUB_SAN_URI:
    return "URI";
  case CERTHUB_SAN_OTHER:
    break;
  }
  return "other";
}

void certhub_key_usage_format(unsigned ku, char *buf, size_t len)
{
  static const char *const names[] = {
      "digitalSignature", "nonRepudiation", "keyEncipherment",
      "dataEncipherment", "keyAgreement",   "keyCertSign",
      "cRLSign",          "encipherOnly",   "decipherOnly"};
  size_t o = 0;
  if(len == 0)
    return;
  buf[0] = '\0';
  for(size_t i = 0; i < CH_ARRAY_LEN(names); i++) {
    if(!(ku & (1u << i)))
      continue;
    size_t n = strlen(names[i]);
    size_t need = n + (o ? 1 : 0);
    if(o + need >= len)
      break; /* truncate at a whole name */
    if(o)
      buf[o++] = ',';
    memcpy(buf + o, names[i], n);
    o += n;
    buf[o] = '\0';
  }
}
