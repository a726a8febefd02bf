#include <stdio.h>
#include <string.h>

#include "der.h"

void ch_der_init(ch_der *d, const uint8_t *p, size_t len)
{
  d->p = p;
  d->end = p + len;
  d->depth = 0;
}

bool ch_der_empty(const ch_der *d)
{
  return d->p >= d->end;
}

ch_err ch_der_peek_header(const uint8_t *p, size_t len, unsigned *tag,
                          size_t *hdr_len, size_t *need)
{
  if(len < 2)
    return CH_ERR_TRUNCATED;
  /* High tag numbers (0x1f) never occur in the structures we walk. */
  if((p[0] & 0x1f) == 0x1f)
    return CH_ERR_PARSE;
  *tag = p[0];
  size_t l = p[1];
  size_t h = 2;
  if(l & 0x80) {
    size_t n = l & 0x7f;
    /* 0x80 is the indefinite form (BER only); more than 4 length bytes
     * would be larger than anything we accept anyway. */
    if(n == 0 || n > 4)
      return CH_ERR_PARSE;
    if(len < 2 + n)
      return CH_ERR_TRUNCATED;
    if(p[2] == 0)
      return CH_ERR_PARSE; /* leading zero: not minimal */
    l = 0;
    for(size_t i = 0; i < n; i++)
      l = (l << 8) | p[2 + i];
    if(l < 0x80)
      return CH_ERR_PARSE; /* long form for a short length */
    h += n;
  }
  *hdr_len = h;
  *need = h + l; /* h <= 6 and l < 2^32: cannot overflow size_t */
  return CH_OK;
}

ch_err ch_der_next(ch_der *d, ch_der_tlv *t)
{
  size_t avail = (size_t)(d->end - d->p);
  size_t h, need;
  unsigned tag;
  ch_err rc = ch_der_peek_header(d->p, avail, &tag, &h, &need);
  if(rc)
    return rc;
  if(need > avail)
    return CH_ERR_TRUNCATED;
  t->tag = tag;
  t->hdr = d->p;
  t->val = d->p + h;
  t->len = need - h;
  t->depth = d->depth;
  d->p += need;
  return CH_OK;
}

ch_err ch_der_expect(ch_der *d, unsigned tag, ch_der_tlv *t)
{
  if(d->p >= d->end)
    return CH_ERR_TRUNCATED;
  if(*d->p != tag)
    return CH_ERR_PARSE;
  return ch_der_next(d, t);
}

bool ch_der_peek(const ch_der *d, unsigned tag)
{
  return d->p < d->end && *d->p == tag;
}

ch_err ch_der_enter(const ch_der_tlv *t, ch_der *sub)
{
  if(t->depth + 1 > CH_DER_MAX_DEPTH)
    return CH_ERR_PARSE;
  sub->p = t->val;
  sub->end = t->val + t->len;
  sub->depth = t->depth + 1;
  return CH_OK;
}

int ch_der_uint_bits(const uint8_t *p, size_t len)
{
  while(len > 0 && *p == 0) {
    p++;
    len--;
  }
  if(len == 0)
    return 0;
  if(len > (size_t)(1 << 20))
    return 0;
  int bits = (int)(len - 1) * 8;
  for(unsigned b = *p; b; b >>= 1)
    bits++;
  return bits;
}

ch_err ch_der_oid_text(const uint8_t *p, size_t len, char *buf, size_t cap)
{
  if(len == 0 || (p[len - 1] & 0x80))
    return CH_ERR_PARSE;
  size_t o = 0;
  size_t i = 0;
  bool first = true;
  while(i < len) {
    uint64_t v = 0;
    if(p[i] == 0x80)
      return CH_ERR_PARSE; /* non-minimal subidentifier */
    do {
      if(v >> 56)
        return CH_ERR_UNSUPPORTED; /* arc beyond 64 bits */
      v = (v << 7) | (p[i] & 0x7f);
    } while(p[i++] & 0x80);
    int n;
    if(first) {
      unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
      n = snprintf(buf + o, cap - o, "%u.%llu", a,
                   (unsigned long long)(v - 40u * a));
      first = false;
    }
    else
      n = snprintf(buf + o, cap - o, ".%llu", (unsigned long long)v);
    if(n < 0 || (size_t)n >= cap - o)
      return CH_ERR_TOOBIG;
    o += (size_t)n;
  }
  return CH_OK;
}
