/*
 * certhub_cert: one parsed X.509 certificate, and the readers that produce
 * them from PEM, DER, PKCS#7 and PKCS#12 input.
 *
 * Ownership: a certhub_cert owns every string and array it points to; they
 * live in the cert's arena and die with certhub_cert_free(). `der` is a
 * private copy of the encoding. Nothing in it points into the input buffer.
 */
#ifndef CERTHUB_CERT_H
#define CERTHUB_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "certhub.h"

#define CERTHUB_ID_LEN 16          /* hex chars of the short ID */
#define CERTHUB_MAX_CERT_DER (1u << 20) /* 1 MiB: larger is refused */
#define CERTHUB_MAX_SANS 100000    /* more SAN entries is refused */

/* keyUsage bits, in the order of RFC 5280 (bit 0 = digitalSignature). */
enum certhub_key_usage {
  CERTHUB_KU_DIGITAL_SIGNATURE = 1u << 0,
  CERTHUB_KU_NON_REPUDIATION = 1u << 1,
  CERTHUB_KU_KEY_ENCIPHERMENT = 1u << 2,
  CERTHUB_KU_DATA_ENCIPHERMENT = 1u << 3,
  CERTHUB_KU_KEY_AGREEMENT = 1u << 4,
  CERTHUB_KU_KEY_CERT_SIGN = 1u << 5,
  CERTHUB_KU_CRL_SIGN = 1u << 6,
  CERTHUB_KU_ENCIPHER_ONLY = 1u << 7,
  CERTHUB_KU_DECIPHER_ONLY = 1u << 8,
};

enum certhub_san_type {
  CERTHUB_SAN_DNS,
  CERTHUB_SAN_IP,
  CERTHUB_SAN_EMAIL,
  CERTHUB_SAN_URI,
  CERTHUB_SAN_OTHER, /* directoryName, otherName, ...: value is a summary */
};

typedef struct certhub_san {
  enum certhub_san_type type;
  const char *value; /* "www.example.com", "192.0.2.1", "2001:db8::1", ... */
} certhub_san;

typedef struct certhub_cert {
  uint8_t sha256[32];
  uint8_t sha1[20];
  char sha256_hex[65];  /* lowercase, no separators */
  char sha1_hex[41];
  char id[CERTHUB_ID_LEN + 1]; /* first 16 hex chars of sha256 */

  const char *subject;     /* RFC 4514 string, "" when empty */
  const char *issuer;      /* RFC 4514 string */
  const char *common_name; /* last CN of the subject, NULL if none */
  const char *issuer_cn;   /* last CN of the issuer, NULL if none */
  const char *serial;      /* uppercase hex, no separators, leading 00 kept off */
  int64_t not_before;      /* Unix seconds UTC */
  int64_t not_after;

  const char *key_alg;   /* "RSA", "EC", "Ed25519", "Ed448", "DSA", or dotted OID */
  int key_bits;          /* RSA/DSA modulus bits, EC field bits; 0 if unknown */
  const char *key_curve; /* "P-256", "P-384", "P-521", "secp256k1", ... or NULL */
  const char *sig_alg;   /* "sha256WithRSAEncryption", "ecdsa-with-SHA256", ... */

  bool is_ca;           /* basicConstraints cA */
  int path_len;         /* pathLenConstraint, -1 when absent */
  bool self_signed;     /* issuer == subject and AKI absent or == SKI */
  bool has_key_usage;
  unsigned key_usage;   /* enum certhub_key_usage bits */
  const char **ext_key_usage; /* names ("serverAuth") or dotted OIDs */
  size_t n_ext_key_usage;

  certhub_san *sans;
  size_t n_sans;

  /* Hashes for chain linking without re-parsing: SHA-256 of the DER of
   * the subject and issuer Names, hex; key identifiers in hex or NULL. */
  char subject_hash[65];
  char issuer_hash[65];
  const char *ski; /* subjectKeyIdentifier, lowercase hex */
  const char *aki; /* authorityKeyIdentifier keyIdentifier, lowercase hex */

  const uint8_t *der;
  size_t der_len;

  struct ch_arena *arena_; /* private */
} certhub_cert;

/* Parse one DER certificate of exactly len bytes. *out is set on CH_OK and
 * must be freed with certhub_cert_free(). On error, *err_detail (if not
 * NULL) points to a static string naming the part that failed. */
ch_err certhub_cert_parse_der(const uint8_t *der, size_t len,
                              certhub_cert **out /* OUT */,
                              const char **err_detail /* OUT, borrowed */);

void certhub_cert_free(certhub_cert *c);

/* Short text for the SAN type: "DNS", "IP", "email", "URI", "other". */
const char *certhub_san_type_name(enum certhub_san_type t);

/* Comma-separated keyUsage names ("digitalSignature,keyEncipherment") into
 * buf; "" when absent. */
void certhub_key_usage_format(unsigned ku, char *buf, size_t len);

/*
 * Reading certificate containers.
 *
 * certhub_read_buffer() finds every certificate in a buffer holding PEM
 * (any number of blocks, private keys skipped and never returned), DER
 * certificate, DER or PEM PKCS#7, or PKCS#12. For each certificate it calls
 * on_cert(ctx, cert, position); position counts certificates found in the
 * buffer from 1. The callback takes ownership of cert. For each bad item it
 * calls on_error(ctx, position, err, reason) and goes on with the next item
 * where the format allows. It returns CH_OK if the buffer held at least one
 * certificate and no error, else the first error (CH_ERR_NOTFOUND with no
 * certificate and no error). A callback returning non-CH_OK stops the read
 * and that value is returned.
 */
enum certhub_format {
  CERTHUB_FMT_UNKNOWN,
  CERTHUB_FMT_PEM,
  CERTHUB_FMT_DER,
  CERTHUB_FMT_PKCS7,
  CERTHUB_FMT_PKCS12,
};

typedef ch_err (*certhub_cert_cb)(void *ctx, certhub_cert *cert,
                                  unsigned position);
typedef void (*certhub_error_cb)(void *ctx, unsigned position, ch_err err,
                                 const char *reason);

typedef struct certhub_read_opts {
  const char *password;   /* PKCS#12 password, NULL = try empty */
  const char *name_hint;  /* file name, for format guessing; may be NULL */
} certhub_read_opts;

ch_err certhub_read_buffer(const uint8_t *buf, size_t len,
                           const certhub_read_opts *opts,
                           certhub_cert_cb on_cert, certhub_error_cb on_error,
                           void *ctx,
                           enum certhub_format *format /* OUT, may be NULL */);

/* Guess the container format of buf without parsing certificates. */
enum certhub_format certhub_sniff_format(const uint8_t *buf, size_t len,
                                         const char *name_hint);

/* PEM-encode der as a CERTIFICATE block; *out is malloc'd, NUL-terminated. */
ch_err certhub_pem_encode(const uint8_t *der, size_t len, char **out /* OUT */,
                          size_t *out_len /* OUT */);

#endif
