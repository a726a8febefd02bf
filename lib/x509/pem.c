/*
 * PEM: a scanner for "-----BEGIN X-----" ... "-----END X-----" blocks and a
 * strict base64 decoder. Written by hand because OpenSSL's PEM_read_bio
 * allocates per block, stops at the first bad block and cannot tell us where
 * the damage is.
 */
#include <string.h>

#include "x509_int.h"

enum { B64_BAD = 0xff, B64_WS = 0xfe, B64_PAD = 0xfd };

static const uint8_t *b64_table(void)
{
  static uint8_t t[256];
  static int ready;
  if(!ready) {
    const char *a =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(t, B64_BAD, sizeof(t));
    for(int i = 0; i < 64; i++)
      t[(unsigned char)a[i]] = (uint8_t)i;
    t[' '] = t['\t'] = t['\r'] = t['\n'] = t['\v'] = t['\f'] = B64_WS;
    t['='] = B64_PAD;
    ready = 1; /* idempotent: a race writes the same bytes */
  }
  return t;
}

ch_err ch_base64_decode(const char *in, size_t len, uint8_t *out,
                        size_t *out_len, size_t *bad_off)
{
  const uint8_t *T = b64_table();
  const uint8_t *s = (const uint8_t *)in;
  size_t i = 0, o = 0;
  uint32_t acc = 0;
  unsigned n = 0;    /* sextets in acc */
  unsigned pad = 0;  /* '=' seen in the current quantum */
  bool done = false; /* a padded quantum ended the data */
  while(i < len) {
    /* Fast path: four data characters in a row. */
    if(n == 0 && !done && i + 4 <= len) {
      uint8_t a = T[s[i]], b = T[s[i + 1]], c = T[s[i + 2]], d = T[s[i + 3]];
      if((a | b | c | d) < 64) {
        uint32_t v =
            (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[o] = (uint8_t)(v >> 16);
        out[o + 1] = (uint8_t)(v >> 8);
        out[o + 2] = (uint8_t)v;
        o += 3;
        i += 4;
        continue;
      }
    }
    uint8_t v = T[s[i]];
    if(v == B64_WS) {
      i++;
      continue;
    }
    if(v == B64_BAD || done || (pad && v != B64_PAD)) {
      *bad_off = i;
      return CH_ERR_PARSE;
    }
    if(v == B64_PAD) {
      /* '=' only completes a quantum of 2 or 3 sextets. */
      if(n + pad < 2 || n + pad >= 4) {
        *bad_off = i;
        return CH_ERR_PARSE;
      }
      pad++;
      if(n + pad == 4) {
        /* Leftover bits must be zero (canonical encoding). */
        unsigned extra = n == 2 ? 4 : 2;
        if(acc & ((1u << extra) - 1)) {
          *bad_off = i;
          return CH_ERR_PARSE;
        }
        acc >>= extra;
        if(n == 2)
          out[o++] = (uint8_t)acc;
        else {
          out[o++] = (uint8_t)(acc >> 8);
          out[o++] = (uint8_t)acc;
        }
        n = 0;
        acc = 0;
        done = true;
      }
      i++;
      continue;
    }
    acc = acc << 6 | v;
    if(++n == 4) {
      out[o++] = (uint8_t)(acc >> 16);
      out[o++] = (uint8_t)(acc >> 8);
      out[o++] = (uint8_t)acc;
      n = 0;
      acc = 0;
    }
    i++;
  }
  if(n != 0 || (pad && !done)) {
    *bad_off = len;
    return CH_ERR_PARSE; /* missing padding or a dangling quantum */
  }
  *out_len = o;
  return CH_OK;
}

static size_t count_nl(const char *p, size_t n)
{
  size_t c = 0;
  const char *e = p + n;
  while((p = memchr(p, '\n', (size_t)(e - p)))) {
    c++;
    p++;
  }
  return c;
}

static const char *line_end(const char *p, const char *end)
{
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  return nl ? nl + 1 : end;
}

bool ch_pem_next(const char *buf, size_t len, size_t *pos, size_t *line,
                 ch_pem_block *b)
{
  static const char BEGIN[] = "-----BEGIN ";
  static const char END[] = "-----END ";
  const char *end = buf + len;
  const char *p = buf + *pos;
  for(;;) {
    const char *bg = memmem(p, (size_t)(end - p), BEGIN, sizeof(BEGIN) - 1);
    if(!bg) {
      *line += count_nl(p, (size_t)(end - p));
      *pos = len;
      return false;
    }
    *line += count_nl(p, (size_t)(bg - p));
    const char *le = line_end(bg, end);
    const char *label = bg + sizeof(BEGIN) - 1;
    const char *dash = memmem(label, (size_t)(le - label), "-----", 5);
    if(!dash) {
      p = le; /* not a boundary line; keep looking */
      *line += le > bg && le[-1] == '\n';
      continue;
    }
    memset(b, 0, sizeof(*b));
    b->type = label;
    b->type_len = (size_t)(dash - label);
    b->begin_line = *line;
    size_t ln = *line + (le > bg && le[-1] == '\n');
    const char *body = le;
    /* RFC 1421 headers ("Proc-Type: ...") and their continuation lines,
     * then the blank line that ends them. */
    bool hdrs = false;
    for(;;) {
      const char *e2 = line_end(body, end);
      bool cont = hdrs && body < end && (*body == ' ' || *body == '\t');
      if(body < end && (cont || memchr(body, ':', (size_t)(e2 - body))) &&
         !memmem(body, (size_t)(e2 - body), "-----", 5)) {
        hdrs = true;
        ln += e2 > body && e2[-1] == '\n';
        body = e2;
        continue;
      }
      break;
    }
    if(hdrs) {
      const char *e2 = line_end(body, end);
      bool blank = true;
      for(const char *q = body; q < e2; q++) {
        if(*q != '\r' && *q != '\n' && *q != ' ' && *q != '\t')
          blank = false;
      }
      if(blank && body < end) {
        ln += e2 > body && e2[-1] == '\n';
        body = e2;
      }
    }
    b->body = body;
    b->body_line = ln;
    /* One pass for whichever comes first, END or the next BEGIN: both
     * start with five dashes, which base64 never contains. */
    const char *en = NULL, *nb = NULL;
    for(const char *q = body;
        (q = memmem(q, (size_t)(end - q), "-----", 5)) != NULL; q++) {
      size_t left = (size_t)(end - q);
      if(left >= sizeof(END) - 1 && !memcmp(q, END, sizeof(END) - 1)) {
        en = q;
        break;
      }
      if(left >= sizeof(BEGIN) - 1 && !memcmp(q, BEGIN, sizeof(BEGIN) - 1)) {
        nb = q;
        break;
      }
    }
    if(!en) {
      /* No END before the next BEGIN: the block runs to there. */
      const char *stop = nb ? nb : end;
      b->unterminated = true;
      b->body_len = (size_t)(stop - body);
      *line = ln + count_nl(body, (size_t)(stop - body));
      *pos = (size_t)(stop - buf);
      return true;
    }
    b->body_len = (size_t)(en - body);
    const char *el = en + sizeof(END) - 1;
    b->end_mismatch = (size_t)(end - el) < b->type_len + 5 ||
                      memcmp(el, b->type, b->type_len) != 0 ||
                      memcmp(el + b->type_len, "-----", 5) != 0;
    const char *after = line_end(en, end);
    *line = ln + count_nl(body, (size_t)(after - body));
    *pos = (size_t)(after - buf);
    return true;
  }
}
