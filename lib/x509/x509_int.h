/*
 * Private interface of the x509 module: OID tables, name formatting, PEM
 * scanning and base64, shared by the certificate parser and the readers.
 */
#ifndef CH_X509_INT_H
#define CH_X509_INT_H

#include "certhub/cert.h"
#include "core/core.h"
#include "x509/der.h"

/* Per-certificate arena cap: room for 10,000+ SANs and their strings. */
#define CH_X509_ARENA_CAP (16u << 20)

typedef struct ch_oid_name {
  uint8_t len;
  const char *der; /* OID contents octets */
  const char *name;
  int bits; /* curve field bits, or 0 */
} ch_oid_name;

extern const ch_oid_name ch_x509_sig_algs[];
extern const size_t ch_x509_n_sig_algs;
extern const ch_oid_name ch_x509_key_algs[];
extern const size_t ch_x509_n_key_algs;
extern const ch_oid_name ch_x509_curves[];
extern const size_t ch_x509_n_curves;
extern const ch_oid_name ch_x509_ekus[];
extern const size_t ch_x509_n_ekus;
extern const ch_oid_name ch_x509_name_attrs[];
extern const size_t ch_x509_n_name_attrs;

/* Entry of table whose OID equals the body of t, or NULL. */
const ch_oid_name *ch_x509_oid_find(const ch_oid_name *table, size_t n,
                                    const ch_der_tlv *t);

/* Name of the OID in table, else its dotted text in the arena. NULL only
 * on a malformed OID or arena exhaustion (*rc says which). */
const char *ch_x509_oid_name(struct ch_arena *a, const ch_oid_name *table,
                             size_t n, const ch_der_tlv *t, ch_err *rc);

/* Format the Name whose full TLV is `name` as an RFC 4514 string into the
 * arena. *last_cn (if not NULL) gets the last CN value, unescaped, or
 * NULL. On error *detail names the problem. */
ch_err ch_x509_name_format(struct ch_arena *a, const ch_der_tlv *name,
                           const char **out /* OUT */,
                           const char **last_cn /* OUT, may be NULL */,
                           const char **detail /* OUT */);

/* Base64 decode (RFC 4648 alphabet, '=' padding, whitespace skipped) of
 * in[0..len) into out (room for 3*len/4+3 bytes). On bad input returns
 * CH_ERR_PARSE and *bad_off is the offset of the first bad character. */
ch_err ch_base64_decode(const char *in, size_t len, uint8_t *out,
                        size_t *out_len /* OUT */, size_t *bad_off /* OUT */);

/* One PEM block found by ch_pem_next(). */
typedef struct ch_pem_block {
  const char *type; /* label between BEGIN and the dashes */
  size_t type_len;
  const char *body; /* base64 text after the headers */
  size_t body_len;
  size_t begin_line; /* 1-based line of the BEGIN line */
  size_t body_line;  /* 1-based line where body starts */
  bool unterminated; /* no END line before the next BEGIN or the end */
  bool end_mismatch; /* the END label differs from the BEGIN label */
} ch_pem_block;

/* Find the next "-----BEGIN X-----" at or after *pos; advance *pos past its
 * END line. *line tracks the 1-based line number of *pos. Returns false
 * when no more blocks exist. */
bool ch_pem_next(const char *buf, size_t len, size_t *pos, size_t *line,
                 ch_pem_block *b /* OUT */);

/* Read every certificate of a PEM/DER/PKCS#7/PKCS#12 buffer (read.c). */
typedef struct ch_x509_reader {
  certhub_cert_cb on_cert;
  certhub_error_cb on_error;
  void *ctx;
  unsigned position; /* certificates and bad items reported so far */
  unsigned n_certs;
  ch_err first_err;
  ch_err stop; /* a callback's non-CH_OK, ends the read */
} ch_x509_reader;

/* Parse der as a certificate and report it (or the error) at the next
 * position. Returns non-CH_OK only when a callback asks to stop. */
ch_err ch_x509_emit_der(ch_x509_reader *r, const uint8_t *der, size_t len,
                        const char *what);
void ch_x509_emit_error(ch_x509_reader *r, ch_err err, const char *reason);

#endif
