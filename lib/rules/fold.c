/*
 * Unicode case for equals-ignore-case: fold.h has the rules (EventBridge's)
 * and fold_table.c the generated forms.
 */
#include "fold.h"

#include <string.h>

/* Each ASCII byte as a one-byte string, for units pointing at its forms. */
static const char ascii_lo[128] = {
#define R(i) (char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define R4(i) R(i), R(i + 1), R(i + 2), R(i + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
    R16(0), R16(16), R16(32), R16(48), R16(64), R16(80), R16(96), R16(112)};
#undef R
static const char ascii_up[128] = {
#define R(i) (char)((i) >= 'a' && (i) <= 'z' ? (i)-32 : (i))
    R16(0), R16(16), R16(32), R16(48), R16(64), R16(80), R16(96), R16(112)};
#undef R
#undef R4
#undef R16

bool ch_fold_nonascii(const char *s, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if((unsigned char)s[i] >= 0x80)
      return true;
  return false;
}

static const struct ch_fold_ent *lookup(uint32_t cp)
{
  size_t lo = 0, hi = ch_fold_table_len;
  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if(ch_fold_table[mid].cp < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ch_fold_table_len && ch_fold_table[lo].cp == cp
             ? &ch_fold_table[lo]
             : NULL;
}

/* The code point at s[i] (i < n) into *cp; returns its bytes. Valid
 * UTF-8 (jansson checks strings); a stray continuation byte, or a
 * sequence cut by the end, is taken as it is. */
static size_t decode(const char *s, size_t n, size_t i, uint32_t *cp)
{
  unsigned char c = (unsigned char)s[i];
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  if(len > n - i)
    len = n - i;
  uint32_t v = len == 1   ? c
               : len == 2 ? c & 0x1fu
               : len == 3 ? c & 0x0fu
                          : c & 0x07u;
  for(size_t k = 1; k < len; k++)
    v = (v << 6) | ((unsigned char)s[i + k] & 0x3fu);
  *cp = v;
  return len;
}

size_t ch_fold_key_at(const char *s, size_t n, size_t i, const char **key,
                      size_t *nkey)
{
  unsigned char c = (unsigned char)s[i];
  if(c < 0x80) {
    *key = &ascii_lo[c];
    *nkey = 1;
    return 1;
  }
  uint32_t cp;
  size_t len = decode(s, n, i, &cp);
  const struct ch_fold_ent *e = len > 1 ? lookup(cp) : NULL;
  *key = e ? e->key : s + i;
  *nkey = e ? e->nkey : len;
  return len;
}

size_t ch_fold_units(const char *s, size_t n, struct ch_fold_unit *u)
{
  size_t nu = 0;
  for(size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if(c < 0x80) {
      if(u)
        u[nu] = (struct ch_fold_unit){&ascii_lo[c], &ascii_up[c], 1, 1};
      nu++;
      i++;
      continue;
    }
    uint32_t cp;
    size_t len = decode(s, n, i, &cp);
    if(!u) {
      nu++;
      i += len;
      continue;
    }
    const struct ch_fold_ent *e = len > 1 ? lookup(cp) : NULL;
    if(e)
      u[nu++] = (struct ch_fold_unit){e->lo, e->up, e->nlo, e->nup};
    else
      u[nu++] =
          (struct ch_fold_unit){s + i, s + i, (uint8_t)len, (uint8_t)len};
    i += len;
  }
  return nu;
}

bool ch_fold_match(const struct ch_fold_unit *u, size_t nu, const char *s,
                   size_t n, enum ch_fold_mode mode)
{
  if(mode == CH_FOLD_SUFFIX) {
    size_t end = n;
    for(size_t i = nu; i-- > 0;) {
      const struct ch_fold_unit *x = &u[i];
      if(x->na <= end && memcmp(s + end - x->na, x->a, x->na) == 0)
        end -= x->na;
      else if(x->nb <= end && memcmp(s + end - x->nb, x->b, x->nb) == 0)
        end -= x->nb;
      else
        return false;
    }
    return true;
  }
  size_t pos = 0;
  for(size_t i = 0; i < nu; i++) {
    const struct ch_fold_unit *x = &u[i];
    if(x->na <= n - pos && memcmp(s + pos, x->a, x->na) == 0)
      pos += x->na;
    else if(x->nb <= n - pos && memcmp(s + pos, x->b, x->nb) == 0)
      pos += x->nb;
    else
      return false;
  }
  return mode == CH_FOLD_PREFIX || pos == n;
}
