/*
 * X.501 Name to an RFC 4514 string, matching OpenSSL's
 * X509_NAME_print_ex(..., XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB):
 * entries in reverse order ("," between RDNs, "+" inside one), short names
 * for the common attribute types, other types as dotted OID "=#" + DER hex,
 * UTF-8 output with RFC 4514 escapes and control characters as \XX.
 * Unlike OpenSSL we reject malformed UTF-8 rather than print it raw.
 */
#include <stdlib.h>
#include <string.h>

#include "x509_int.h"

typedef struct wr {
  char *p;
  char *end;
} wr;

typedef struct atv {
  ch_der_tlv type;
  ch_der_tlv value;
  unsigned rdn; /* index of the RDN holding it */
} atv;

static const char HEXU[] = "0123456789ABCDEF";

static inline bool put(wr *w, char c)
{
  if(w->p >= w->end)
    return false;
  *w->p++ = c;
  return true;
}

static bool puts_(wr *w, const char *s, size_t n)
{
  if((size_t)(w->end - w->p) < n)
    return false;
  memcpy(w->p, s, n);
  w->p += n;
  return true;
}

/* Emit one code point. With esc, apply RFC 4514 escaping: first and last
 * positions matter for '#' and ' '. Control characters always become \XX
 * so the result is printable and never holds a NUL. */
static bool emit(wr *w, uint32_t c, bool esc, bool first, bool last)
{
  if(c < 0x80) {
    if(c < 0x20 || c == 0x7f) {
      return put(w, '\\') && put(w, HEXU[c >> 4]) && put(w, HEXU[c & 15]);
    }
    if(esc) {
      bool bs = false;
      switch(c) {
      case ',':
      case '+':
      case '"':
      case '\\':
      case '<':
      case '>':
      case ';':
        bs = true;
        break;
      case '#':
        bs = first;
        break;
      case ' ':
        bs = first || last;
        break;
      }
      if(bs && !put(w, '\\'))
        return false;
    }
    return put(w, (char)c);
  }
  if(c < 0x800)
    return put(w, (char)(0xc0 | (c >> 6))) && put(w, (char)(0x80 | (c & 63)));
  if(c < 0x10000)
    return put(w, (char)(0xe0 | (c >> 12))) &&
           put(w, (char)(0x80 | ((c >> 6) & 63))) &&
           put(w, (char)(0x80 | (c & 63)));
  return put(w, (char)(0xf0 | (c >> 18))) &&
         put(w, (char)(0x80 | ((c >> 12) & 63))) &&
         put(w, (char)(0x80 | ((c >> 6) & 63))) &&
         put(w, (char)(0x80 | (c & 63)));
}

/* Decode one UTF-8 sequence at p (n bytes left); 0 if invalid (overlong,
 * surrogate, past U+10FFFF, truncated). */
static size_t utf8_get(const uint8_t *p, size_t n, uint32_t *out)
{
  uint32_t c = p[0];
  size_t len;
  uint32_t min;
  if(c < 0x80) {
    *out = c;
    return 1;
  }
  if((c & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
    c &= 0x1f;
  }
  else if((c & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
    c &= 0x0f;
  }
  else if((c & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
    c &= 0x07;
  }
  else
    return 0;
  if(n < len)
    return 0;
  for(size_t i = 1; i < len; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (p[i] & 0x3f);
  }
  if(c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *out = c;
  return len;
}

/* Character width of a string tag as OpenSSL's tag2nbyte: 0 = UTF-8,
 * 1 = one byte per character (Latin-1), 2 = BMP, 4 = Universal, -1 = not a
 * string (dumped as hex). */
static int str_width(unsigned tag)
{
  switch(tag) {
  case CH_DER_UTF8STRING:
    return 0;
  case 0x12: /* NumericString */
  case CH_DER_PRINTABLESTRING:
  case CH_DER_T61STRING:
  case 0x15: /* VideotexString */
  case CH_DER_IA5STRING:
  case CH_DER_UTCTIME:
  case CH_DER_GENERALIZEDTIME:
  case 0x19: /* GraphicString */
  case 0x1a: /* VisibleString */
  case 0x1b: /* GeneralString */
    return 1;
  case CH_DER_BMPSTRING:
    return 2;
  case CH_DER_UNIVERSALSTRING:
    return 4;
  default:
    return -1;
  }
}

static bool hexdump(wr *w, const ch_der_tlv *v)
{
  const uint8_t *p = v->hdr;
  size_t n = ch_der_tlv_size(v);
  if(!put(w, '#') || (size_t)(w->end - w->p) < 2 * n)
    return false;
  for(size_t i = 0; i < n; i++) {
    *w->p++ = HEXU[p[i] >> 4];
    *w->p++ = HEXU[p[i] & 15];
  }
  return true;
}

/* Decode a string value into w. Returns CH_ERR_PARSE with *detail on a bad
 * encoding, CH_ERR_INTERNAL if w was too small (a sizing bug). */
static ch_err value_out(wr *w, const ch_der_tlv *v, bool esc,
                        const char **detail)
{
  int width = str_width(v->tag);
  const uint8_t *p = v->val;
  size_t n = v->len;
  if(width < 0)
    return hexdump(w, v) ? CH_OK : CH_ERR_INTERNAL;
  if(width > 1 && n % (size_t)width) {
    *detail = width == 2 ? "BMPString in name has an odd length"
                         : "UniversalString in name is not a multiple of 4";
    return CH_ERR_PARSE;
  }
  size_t i = 0;
  while(i < n) {
    uint32_t c;
    size_t step;
    if(width == 0) {
      step = utf8_get(p + i, n - i, &c);
      if(!step) {
        *detail = "invalid UTF8String in name";
        return CH_ERR_PARSE;
      }
    }
    else if(width == 1) {
      c = p[i]; /* T61 and friends read as Latin-1, as OpenSSL does */
      step = 1;
    }
    else if(width == 2) {
      c = (uint32_t)p[i] << 8 | p[i + 1];
      step = 2;
      if(c >= 0xd800 && c <= 0xdfff) {
        *detail = "BMPString in name holds a surrogate";
        return CH_ERR_PARSE;
      }
    }
    else {
      c = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
          (uint32_t)p[i + 2] << 8 | p[i + 3];
      step = 4;
      if(c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        *detail = "UniversalString in name holds an invalid character";
        return CH_ERR_PARSE;
      }
    }
    if(!emit(w, c, esc, i == 0, i + step == n))
      return CH_ERR_INTERNAL;
    i += step;
  }
  return CH_OK;
}

/* Walk the Name, filling up to cap entries of out; *n gets the total. */
static ch_err collect(const ch_der_tlv *name, atv *out, size_t cap, size_t *n,
                      const char **detail)
{
  ch_der rdns, set, seq;
  ch_der_tlv rdn, a;
  ch_err rc = ch_der_enter(name, &rdns);
  size_t count = 0;
  unsigned idx = 0;
  *detail = "malformed name";
  while(!rc && !ch_der_empty(&rdns)) {
    rc = ch_der_expect(&rdns, CH_DER_SET, &rdn);
    if(!rc)
      rc = ch_der_enter(&rdn, &set);
    if(!rc && ch_der_empty(&set))
      rc = CH_ERR_PARSE; /* RDN is SET SIZE (1..MAX) */
    while(!rc && !ch_der_empty(&set)) {
      atv e;
      rc = ch_der_expect(&set, CH_DER_SEQUENCE, &a);
      if(!rc)
        rc = ch_der_enter(&a, &seq);
      if(!rc)
        rc = ch_der_expect(&seq, CH_DER_OID, &e.type);
      if(!rc)
        rc = ch_der_next(&seq, &e.value);
      if(!rc && !ch_der_empty(&seq))
        rc = CH_ERR_PARSE;
      if(!rc && e.type.len == 0)
        rc = CH_ERR_PARSE;
      if(!rc) {
        e.rdn = idx;
        if(count < cap)
          out[count] = e;
        count++;
      }
    }
    idx++;
  }
  *n = count;
  return rc;
}

ch_err ch_x509_name_format(struct ch_arena *a, const ch_der_tlv *name,
                           const char **out, const char **last_cn,
                           const char **detail)
{
  atv local[24];
  atv *ents = local;
  size_t n = 0;
  char stackbuf[1024];
  ch_err rc = collect(name, local, CH_ARRAY_LEN(local), &n, detail);
  if(rc)
    goto out;
  if(n > CH_ARRAY_LEN(local)) {
    ents = malloc(n * sizeof(*ents));
    if(!ents) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    rc = collect(name, ents, n, &n, detail);
    if(rc)
      goto out;
  }
  if(last_cn)
    *last_cn = NULL;

  /* Every content byte becomes at most 4 output bytes (a dotted OID arc
   * byte, or a \XX escape plus separator), so this bound is safe. */
  size_t bound = 4 * ch_der_tlv_size(name) + 16;
  char *dst = bound <= sizeof(stackbuf) ? stackbuf : ch_arena_alloc(a, bound);
  if(!dst) {
    rc = CH_ERR_TOOBIG;
    *detail = "name too large";
    goto out;
  }
  wr w = {dst, dst + bound - 1};
  const atv *cn = NULL;
  for(size_t k = n; k-- > 0;) {
    const atv *e = &ents[k];
    if(k + 1 < n && !put(&w, ents[k + 1].rdn == e->rdn ? '+' : ','))
      goto toosmall;
    const ch_oid_name *t =
        ch_x509_oid_find(ch_x509_name_attrs, ch_x509_n_name_attrs, &e->type);
    if(t) {
      if(!puts_(&w, t->name, strlen(t->name)) || !put(&w, '='))
        goto toosmall;
      if(!cn && t == &ch_x509_name_attrs[0])
        cn = e; /* first from the end: the last CN */
      rc = value_out(&w, &e->value, true, detail);
      if(rc)
        goto out;
    }
    else {
      char oid[256];
      rc = ch_der_oid_text(e->type.val, e->type.len, oid, sizeof(oid));
      if(rc) {
        *detail = "malformed attribute type OID in name";
        goto out;
      }
      if(!puts_(&w, oid, strlen(oid)) || !put(&w, '=') ||
         !hexdump(&w, &e->value))
        goto toosmall;
    }
  }
  *w.p = '\0';
  if(dst == stackbuf) {
    *out = ch_arena_strndup(a, dst, (size_t)(w.p - dst));
    if(!*out) {
      rc = CH_ERR_TOOBIG;
      *detail = "name too large";
      goto out;
    }
  }
  else
    *out = dst;

  if(cn && last_cn) {
    /* Unescaped value; control characters still appear as \XX. */
    size_t cb = 3 * ch_der_tlv_size(&cn->value) + 2;
    char *s = ch_arena_alloc(a, cb);
    if(!s) {
      rc = CH_ERR_TOOBIG;
      *detail = "name too large";
      goto out;
    }
    wr cw = {s, s + cb - 1};
    rc = value_out(&cw, &cn->value, false, detail);
    if(rc)
      goto out;
    *cw.p = '\0';
    *last_cn = s;
  }
  rc = CH_OK;
out:
  if(ents != local)
    free(ents);
  return rc;
toosmall:
  rc = CH_ERR_INTERNAL;
  *detail = "name formatting overflow";
  goto out;
}
