/*
 * Strict, bounds-checked DER reader. Definite lengths only, minimal length
 * encodings, low tag numbers only, and a nesting-depth cap. Nothing here
 * allocates; every TLV points into the caller's buffer.
 */
#ifndef CH_X509_DER_H
#define CH_X509_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub/certhub.h"

#define CH_DER_MAX_DEPTH 32

/* Identifier octets we use (class | constructed | number). */
enum {
  CH_DER_BOOLEAN = 0x01,
  CH_DER_INTEGER = 0x02,
  CH_DER_BIT_STRING = 0x03,
  CH_DER_OCTET_STRING = 0x04,
  CH_DER_NULL = 0x05,
  CH_DER_OID = 0x06,
  CH_DER_UTF8STRING = 0x0c,
  CH_DER_PRINTABLESTRING = 0x13,
  CH_DER_T61STRING = 0x14,
  CH_DER_IA5STRING = 0x16,
  CH_DER_UTCTIME = 0x17,
  CH_DER_GENERALIZEDTIME = 0x18,
  CH_DER_UNIVERSALSTRING = 0x1c,
  CH_DER_BMPSTRING = 0x1e,
  CH_DER_SEQUENCE = 0x30,
  CH_DER_SET = 0x31,
  CH_DER_CONSTRUCTED = 0x20,
  CH_DER_CONTEXT = 0x80,
};

typedef struct ch_der {
  const uint8_t *p;   /* next unread byte */
  const uint8_t *end; /* one past the last byte */
  unsigned depth;     /* nesting level of this reader */
} ch_der;

typedef struct ch_der_tlv {
  unsigned tag;       /* identifier octet */
  const uint8_t *hdr; /* start of the TLV */
  const uint8_t *val; /* start of the contents */
  size_t len;         /* contents length */
  unsigned depth;     /* depth of the reader that produced it */
} ch_der_tlv;

void ch_der_init(ch_der *d, const uint8_t *p, size_t len);
bool ch_der_empty(const ch_der *d);

/* Read the header of the next TLV without checking the contents fit:
 * *need gets header + claimed contents length. CH_ERR_TRUNCATED if even the
 * header is cut short, CH_ERR_PARSE if it is not DER. Used to report how
 * much of a truncated object is present. */
ch_err ch_der_peek_header(const uint8_t *p, size_t len, unsigned *tag,
                          size_t *hdr_len, size_t *need);

/* Read the next TLV; CH_ERR_TRUNCATED if the contents run past the end. */
ch_err ch_der_next(ch_der *d, ch_der_tlv *t /* OUT */);
/* Read the next TLV and require its tag; CH_ERR_PARSE on another tag. */
ch_err ch_der_expect(ch_der *d, unsigned tag, ch_der_tlv *t /* OUT */);
/* True if the next TLV starts with tag (the TLV is not checked). */
bool ch_der_peek(const ch_der *d, unsigned tag);
/* A reader over the contents of t, one level deeper; CH_ERR_PARSE past
 * CH_DER_MAX_DEPTH. */
ch_err ch_der_enter(const ch_der_tlv *t, ch_der *sub /* OUT */);

/* Total encoded length of t (header + contents). */
static inline size_t ch_der_tlv_size(const ch_der_tlv *t)
{
  return (size_t)(t->val - t->hdr) + t->len;
}

/* Number of significant bits of a non-negative big-endian INTEGER body. */
int ch_der_uint_bits(const uint8_t *p, size_t len);

/* Dotted text of an OID body into buf; CH_ERR_PARSE if malformed,
 * CH_ERR_TOOBIG if buf is too small. */
ch_err ch_der_oid_text(const uint8_t *p, size_t len, char *buf, size_t cap);

/* Constant-length compare of an OID body to a known encoding. */
static inline bool ch_der_oid_eq(const ch_der_tlv *t, const uint8_t *oid,
                                 size_t n)
{
  return t->len == n && __builtin_memcmp(t->val, oid, n) == 0;
}

#endif
