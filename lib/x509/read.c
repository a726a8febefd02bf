/*
 * Container readers: PEM, DER certificate, PKCS#7 and PKCS#12, kept in one
 * table ({format, name, sniff, read}). Every certificate, whatever its
 * container, goes through certhub_cert_parse_der() so all take one path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "x509_int.h"

/* Decoded size caps: a CERTIFICATE block holds one certificate (plus the
 * trust data of a TRUSTED CERTIFICATE); a PKCS#7 bundle may hold many. */
#define PEM_CERT_CAP (CERTHUB_MAX_CERT_DER + 64 * 1024)
#define PEM_P7_CAP (64u << 20)

static const uint8_t OID_SIGNED_DATA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                          0x0d, 0x01, 0x07, 0x02};

void ch_x509_emit_error(ch_x509_reader *r, ch_err err, const char *reason)
{
  r->position++;
  if(!r->first_err)
    r->first_err = err;
  if(r->on_error)
    r->on_error(r->ctx, r->position, err, reason);
}

ch_err ch_x509_emit_der(ch_x509_reader *r, const uint8_t *der, size_t len,
                        const char *what)
{
  char reason[160];
  unsigned tag;
  size_t hl, need;
  certhub_cert *c = NULL;
  const char *detail = NULL;
  ch_err rc = ch_der_peek_header(der, len, &tag, &hl, &need);
  if(rc == CH_ERR_TRUNCATED || (!rc && need > len)) {
    if(rc)
      snprintf(reason, sizeof(reason), "truncated %s (only %zu bytes)", what,
               len);
    else
      snprintf(reason, sizeof(reason),
               "truncated %s (DER ends after %zu of %zu bytes)", what, len,
               need);
    ch_x509_emit_error(r, CH_ERR_TRUNCATED, reason);
    return CH_OK;
  }
  rc = certhub_cert_parse_der(der, len, &c, &detail);
  if(rc) {
    snprintf(reason, sizeof(reason), "bad %s: %s (%s)", what, detail,
             certhub_strerror(rc));
    ch_x509_emit_error(r, rc, reason);
    return CH_OK;
  }
  r->position++;
  r->n_certs++;
  rc = r->on_cert(r->ctx, c, r->position);
  if(rc)
    r->stop = rc;
  return rc;
}

/* --- sniffing ------------------------------------------------------------ */

/* Outer SEQUENCE header and the reader over what is present of it. */
static bool outer_seq(const uint8_t *buf, size_t len, ch_der *in)
{
  unsigned tag;
  size_t hl, need;
  if(ch_der_peek_header(buf, len, &tag, &hl, &need) || tag != CH_DER_SEQUENCE)
    return false;
  ch_der_init(in, buf + hl, (need < len ? need : len) - hl);
  return true;
}

static int sniff_pem(const uint8_t *buf, size_t len)
{
  return memmem(buf, len, "-----BEGIN ", 11) ? 3 : 0;
}

static int sniff_der(const uint8_t *buf, size_t len)
{
  ch_der in;
  unsigned tag;
  size_t hl, need;
  if(!outer_seq(buf, len, &in))
    return 0;
  size_t avail = (size_t)(in.end - in.p);
  if(ch_der_peek_header(in.p, avail, &tag, &hl, &need) ||
     tag != CH_DER_SEQUENCE)
    return 0;
  /* TBSCertificate starts with [0] version or the serial INTEGER. */
  if(avail > hl && (in.p[hl] == 0xa0 || in.p[hl] == CH_DER_INTEGER))
    return 2;
  return 1;
}

static int sniff_p7(const uint8_t *buf, size_t len)
{
  ch_der in;
  ch_der_tlv oid;
  if(!outer_seq(buf, len, &in) || ch_der_expect(&in, CH_DER_OID, &oid))
    return 0;
  return ch_der_oid_eq(&oid, OID_SIGNED_DATA, sizeof(OID_SIGNED_DATA)) ? 2 : 0;
}

static int sniff_p12(const uint8_t *buf, size_t len)
{
  ch_der in;
  ch_der_tlv v;
  if(!outer_seq(buf, len, &in) || ch_der_expect(&in, CH_DER_INTEGER, &v))
    return 0;
  if(v.len != 1 || v.val[0] != 3)
    return 0;
  return ch_der_peek(&in, CH_DER_SEQUENCE) ? 2 : 1;
}

/* --- readers ------------------------------------------------------------- */

static ch_err read_der(ch_x509_reader *r, const uint8_t *buf, size_t len,
                       const certhub_read_opts *opts)
{
  (void)opts;
  return ch_x509_emit_der(r, buf, len, "certificate");
}

static ch_err emit_x509(ch_x509_reader *r, X509 *x)
{
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  if(n <= 0) {
    ch_x509_emit_error(r, CH_ERR_PARSE, "certificate could not be re-encoded");
    return CH_OK;
  }
  ch_err rc = ch_x509_emit_der(r, der, (size_t)n, "certificate");
  OPENSSL_free(der);
  return rc;
}

static ch_err p7_certs(ch_x509_reader *r, const uint8_t *buf, size_t len)
{
  const unsigned char *p = buf;
  ch_err rc = CH_OK;
  PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
  STACK_OF(X509) *certs = NULL;
  if(!p7) {
    ch_x509_emit_error(r, CH_ERR_PARSE, "malformed PKCS#7 structure");
    goto out;
  }
  if(PKCS7_type_is_signed(p7) && p7->d.sign)
    certs = p7->d.sign->cert;
  else if(PKCS7_type_is_signedAndEnveloped(p7) && p7->d.signed_and_enveloped)
    certs = p7->d.signed_and_enveloped->cert;
  else {
    ch_x509_emit_error(r, CH_ERR_UNSUPPORTED,
                       "PKCS#7 content is not signedData");
    goto out;
  }
  for(int i = 0; i < sk_X509_num(certs) && !rc; i++)
    rc = emit_x509(r, sk_X509_value(certs, i));
out:
  PKCS7_free(p7);
  ERR_clear_error();
  return rc;
}

static ch_err read_p7(ch_x509_reader *r, const uint8_t *buf, size_t len,
                      const certhub_read_opts *opts)
{
  (void)opts;
  if(len > (size_t)0x7fffffff) {
    ch_x509_emit_error(r, CH_ERR_TOOBIG, "PKCS#7 input too large");
    return CH_OK;
  }
  return p7_certs(r, buf, len);
}

static ch_err read_p12(ch_x509_reader *r, const uint8_t *buf, size_t len,
                       const certhub_read_opts *opts)
{
  const unsigned char *p = buf;
  ch_err rc = CH_OK;
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  STACK_OF(X509) *ca = NULL;
  PKCS12 *p12 = NULL;
  const char *pass = opts ? opts->password : NULL;
  const char *tries[2];
  int n_tries = 0;
  if(len > (size_t)0x7fffffff || !(p12 = d2i_PKCS12(NULL, &p, (long)len))) {
    ch_x509_emit_error(r, CH_ERR_PARSE, "malformed PKCS#12 structure");
    goto out;
  }
  if(pass)
    tries[n_tries++] = pass;
  else {
    /* No password given: files are written with either. */
    tries[n_tries++] = NULL;
    tries[n_tries++] = "";
  }
  const char *good = NULL;
  bool found = false;
  if(PKCS12_mac_present(p12)) {
    for(int i = 0; i < n_tries && !found; i++) {
      const char *t = tries[i];
      if(PKCS12_verify_mac(p12, t, t ? -1 : 0)) {
        good = t;
        found = true;
      }
    }
    if(!found) {
      ch_x509_emit_error(r, CH_ERR_PASSWORD,
                         "wrong or missing PKCS#12 password");
      goto out;
    }
  }
  else {
    good = tries[0];
    found = true;
  }
  if(!PKCS12_parse(p12, good, &key, &cert, &ca)) {
    /* The MAC checked out, so this is a cipher we cannot use (legacy
     * RC2/DES need OpenSSL's legacy provider) or a damaged file. */
    ch_x509_emit_error(
        r, PKCS12_mac_present(p12) ? CH_ERR_UNSUPPORTED : CH_ERR_PASSWORD,
        PKCS12_mac_present(p12) ? "PKCS#12 contents could not be decrypted "
                                  "(unsupported or legacy algorithm)"
                                : "wrong or missing PKCS#12 password");
    goto out;
  }
  /* The private key is never returned: drop it now. */
  EVP_PKEY_free(key);
  key = NULL;
  if(cert)
    rc = emit_x509(r, cert);
  for(int i = 0; !rc && i < sk_X509_num(ca); i++)
    rc = emit_x509(r, sk_X509_value(ca, i));
out:
  EVP_PKEY_free(key);
  X509_free(cert);
  sk_X509_pop_free(ca, X509_free);
  PKCS12_free(p12);
  ERR_clear_error();
  return rc;
}

static bool label_is(const ch_pem_block *b, const char *s)
{
  size_t n = strlen(s);
  return b->type_len == n && memcmp(b->type, s, n) == 0;
}

static bool label_has(const ch_pem_block *b, const char *s)
{
  size_t n = strlen(s);
  for(size_t i = 0; i + n <= b->type_len; i++) {
    if(memcmp(b->type + i, s, n) == 0)
      return true;
  }
  return false;
}

static ch_err read_pem(ch_x509_reader *r, const uint8_t *ubuf, size_t len,
                       const certhub_read_opts *opts)
{
  const char *buf = (const char *)ubuf;
  size_t pos = 0, line = 1;
  ch_pem_block b;
  uint8_t *dec = NULL;
  size_t dec_alloc = 0;
  char reason[160];
  ch_err rc = CH_OK;
  (void)opts;
  while(!rc && ch_pem_next(buf, len, &pos, &line, &b)) {
    /* Private keys are skipped unread: never decoded, never returned. */
    if(label_has(&b, "PRIVATE KEY"))
      continue;
    bool trusted = label_is(&b, "TRUSTED CERTIFICATE");
    bool is_cert = trusted || label_is(&b, "CERTIFICATE") ||
                   label_is(&b, "X509 CERTIFICATE");
    bool is_p7 = label_is(&b, "PKCS7") || label_is(&b, "PKCS #7 SIGNED DATA");
    if(!is_cert && !is_p7)
      continue; /* CRL, CSR, PUBLIC KEY, parameters: not ours */
    if(b.unterminated || b.end_mismatch) {
      snprintf(reason, sizeof(reason), "%s block at line %zu has no %s",
               is_cert ? "certificate" : "PKCS#7", b.begin_line,
               b.unterminated ? "END line" : "matching END line");
      ch_x509_emit_error(r, CH_ERR_TRUNCATED, reason);
      continue;
    }
    size_t cap = is_cert ? PEM_CERT_CAP : PEM_P7_CAP;
    size_t want = b.body_len / 4 * 3 + 3;
    if(want > cap) {
      /* Base64 text may carry whitespace, so only refuse once the
       * decoded size is known to exceed the cap. */
      size_t nonws = 0;
      for(size_t i = 0; i < b.body_len; i++)
        nonws += b.body[i] > ' ';
      if(nonws / 4 * 3 > cap) {
        snprintf(reason, sizeof(reason),
                 "%s block at line %zu is larger than %zu bytes",
                 is_cert ? "certificate" : "PKCS#7", b.begin_line, cap);
        ch_x509_emit_error(r, CH_ERR_TOOBIG, reason);
        continue;
      }
      want = nonws / 4 * 3 + 3;
    }
    if(want > dec_alloc) {
      uint8_t *nd = realloc(dec, want);
      if(!nd) {
        rc = CH_ERR_NOMEM;
        break;
      }
      dec = nd;
      dec_alloc = want;
    }
    size_t n = 0, bad = 0;
    if(ch_base64_decode(b.body, b.body_len, dec, &n, &bad)) {
      size_t bl = b.body_line;
      const char *q = b.body;
      const char *stop = b.body + (bad < b.body_len ? bad : b.body_len);
      while((q = memchr(q, '\n', (size_t)(stop - q))) && q < stop) {
        bl++;
        q++;
      }
      if(bad < b.body_len)
        snprintf(reason, sizeof(reason), "bad base64 at line %zu", bl);
      else
        snprintf(reason, sizeof(reason),
                 "bad base64 at line %zu (incomplete final group)", bl);
      ch_x509_emit_error(r, CH_ERR_PARSE, reason);
      continue;
    }
    if(is_p7) {
      rc = p7_certs(r, dec, n);
      continue;
    }
    if(trusted && n > 0) {
      /* Certificate followed by OpenSSL's X509_CERT_AUX trust data. */
      unsigned tag;
      size_t hl, need;
      if(!ch_der_peek_header(dec, n, &tag, &hl, &need) && need < n)
        n = need;
    }
    if(n == 0) {
      snprintf(reason, sizeof(reason), "empty certificate block at line %zu",
               b.begin_line);
      ch_x509_emit_error(r, CH_ERR_PARSE, reason);
      continue;
    }
    rc = ch_x509_emit_der(r, dec, n, "certificate");
  }
  free(dec);
  if(rc == CH_ERR_NOMEM && !r->stop)
    ch_x509_emit_error(r, rc, "out of memory decoding PEM");
  return rc;
}

typedef struct container {
  enum certhub_format format;
  const char *name;
  int (*sniff)(const uint8_t *buf, size_t len); /* 0 = no, higher = surer */
  ch_err (*read)(ch_x509_reader *r, const uint8_t *buf, size_t len,
                 const certhub_read_opts *opts);
  const char *exts; /* name hints, used only to break ties */
} container;

static const container CONTAINERS[] = {
    {CERTHUB_FMT_PEM, "PEM", sniff_pem, read_pem, ".pem.crt.cer"},
    {CERTHUB_FMT_DER, "DER", sniff_der, read_der, ".der.cer.crt"},
    {CERTHUB_FMT_PKCS7, "PKCS#7", sniff_p7, read_p7, ".p7b.p7c"},
    {CERTHUB_FMT_PKCS12, "PKCS#12", sniff_p12, read_p12, ".p12.pfx"},
};

static bool hint_matches(const container *c, const char *hint)
{
  const char *dot = hint ? strrchr(hint, '.') : NULL;
  if(!dot)
    return false;
  size_t n = strlen(dot);
  for(const char *e = c->exts; (e = strchr(e, '.')); e++) {
    const char *next = strchr(e + 1, '.');
    size_t el = next ? (size_t)(next - e) : strlen(e);
    if(el == n && strncasecmp(e, dot, n) == 0)
      return true;
  }
  return false;
}

static const container *pick(const uint8_t *buf, size_t len, const char *hint)
{
  const container *best = NULL;
  int best_score = 0;
  for(size_t i = 0; i < CH_ARRAY_LEN(CONTAINERS); i++) {
    const container *c = &CONTAINERS[i];
    int s = c->sniff(buf, len);
    if(s == 0)
      continue;
    if(s > best_score || (s == best_score && hint_matches(c, hint) &&
                          !hint_matches(best, hint))) {
      best = c;
      best_score = s;
    }
  }
  return best;
}

enum certhub_format certhub_sniff_format(const uint8_t *buf, size_t len,
                                         const char *name_hint)
{
  const container *c = buf ? pick(buf, len, name_hint) : NULL;
  return c ? c->format : CERTHUB_FMT_UNKNOWN;
}

ch_err certhub_read_buffer(const uint8_t *buf, size_t len,
                           const certhub_read_opts *opts,
                           certhub_cert_cb on_cert, certhub_error_cb on_error,
                           void *ctx, enum certhub_format *format)
{
  ch_x509_reader r = {0};
  const container *c = NULL;
  if(format)
    *format = CERTHUB_FMT_UNKNOWN;
  if(!on_cert)
    return CH_ERR_USAGE;
  if(!buf || len == 0)
    return CH_ERR_NOTFOUND;
  c = pick(buf, len, opts ? opts->name_hint : NULL);
  if(!c)
    return CH_ERR_NOTFOUND;
  if(format)
    *format = c->format;
  r.on_cert = on_cert;
  r.on_error = on_error;
  r.ctx = ctx;
  ch_err rc = c->read(&r, buf, len, opts);
  if(r.stop)
    return r.stop;
  if(rc)
    return rc;
  if(r.first_err)
    return r.first_err;
  return r.n_certs ? CH_OK : CH_ERR_NOTFOUND;
}

ch_err certhub_pem_encode(const uint8_t *der, size_t len, char **out,
                          size_t *out_len)
{
  static const char A[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char HEAD[] = "-----BEGIN CERTIFICATE-----\n";
  static const char TAIL[] = "-----END CERTIFICATE-----\n";
  *out = NULL;
  if(!der || len > CERTHUB_MAX_CERT_DER)
    return CH_ERR_USAGE;
  size_t b64 = (len + 2) / 3 * 4;
  size_t total = sizeof(HEAD) - 1 + b64 + (b64 + 63) / 64 + sizeof(TAIL) - 1;
  char *s = malloc(total + 1);
  if(!s)
    return CH_ERR_NOMEM;
  char *o = s;
  memcpy(o, HEAD, sizeof(HEAD) - 1);
  o += sizeof(HEAD) - 1;
  size_t col = 0;
  for(size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)der[i] << 16;
    if(i + 1 < len)
      v |= (uint32_t)der[i + 1] << 8;
    if(i + 2 < len)
      v |= der[i + 2];
    *o++ = A[v >> 18];
    *o++ = A[(v >> 12) & 63];
    *o++ = i + 1 < len ? A[(v >> 6) & 63] : '=';
    *o++ = i + 2 < len ? A[v & 63] : '=';
    col += 4;
    if(col == 64) {
      *o++ = '\n';
      col = 0;
    }
  }
  if(col)
    *o++ = '\n';
  memcpy(o, TAIL, sizeof(TAIL) - 1);
  o += sizeof(TAIL) - 1;
  *o = '\0';
  *out = s;
  *out_len = (size_t)(o - s);
  return CH_OK;
}
