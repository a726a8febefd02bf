/*
 * JSON text to a jansson tree, as json_loadb(JSON_REJECT_DUPLICATES)
 * builds it, without jansson's lexer: that reads the text a byte at a
 * time through two function calls and copies every string byte into a
 * growing buffer, 115 k instructions of the 138 k an import request spent
 * per finding before it was stored (callgrind of `certhub serve` under
 * bench/http_findings.sh). This scans the text in place and builds the
 * values with jansson's constructors, so every reader of the tree works
 * unchanged.
 *
 * It accepts only what jansson accepts and builds the same tree. Anything
 * it does not handle itself (every error, and the rare legal inputs
 * below) is handed to json_loadb, so error messages, their line and
 * column, and the odd cases are jansson's own: a finding's "invalid JSON
 * at line L column C: ..." stays byte for byte what it was. Handed over:
 * invalid JSON of any kind, duplicate keys, \u0000, numbers that
 * overflow, numbers over 63 characters, nesting over DEPTH_MAX.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "findings_int.h"

/* jansson's limit is 2048 (JSON_PARSER_MAX_DEPTH); deeper text goes to
 * json_loadb, which then gives its own error or tree. */
#define DEPTH_MAX 512

typedef struct in {
  const unsigned char *p, *end;
  char *tmp; /* unescaped string bytes (one string at a time) */
  size_t tmp_cap;
} in;

static void ws(in *x)
{
  while(x->p < x->end &&
        (*x->p == ' ' || *x->p == '\n' || *x->p == '\r' || *x->p == '\t'))
    x->p++;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when
 * it is not one: overlong forms, surrogates and values over U+10FFFF are
 * refused, as jansson's utf8_check_full does. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
  unsigned c = p[0];
  size_t n;
  unsigned v;
  if(c >= 0xc2 && c <= 0xdf) {
    n = 2;
    v = c & 0x1f;
  }
  else if(c >= 0xe0 && c <= 0xef) {
    n = 3;
    v = c & 0x0f;
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    n = 4;
    v = c & 0x07;
  }
  else
    return 0;
  if((size_t)(end - p) < n)
    return 0;
  for(size_t i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (p[i] & 0x3f);
  }
  if((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
     (v >= 0xd800 && v <= 0xdfff))
    return 0;
  return n;
}

/* String bytes str's plain run stops at: controls, '"', '\\', non-ASCII. */
static const unsigned char special[256] =
    {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, /* '"' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        0, 0, /* '\\' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int hex4(const unsigned char *p, unsigned *out)
{
  unsigned v = 0;
  for(int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if(c >= '0' && c <= '9')
      d = c - '0';
    else if(c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if(c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static int tmp_room(in *x, size_t need)
{
  if(need <= x->tmp_cap)
    return 0;
  size_t cap = x->tmp_cap ? x->tmp_cap : 256;
  while(cap < need)
    cap *= 2;
  char *t = realloc(x->tmp, cap);
  if(!t)
    return -1;
  x->tmp = t;
  x->tmp_cap = cap;
  return 0;
}

/* The string at x->p (after its opening quote): *s and *n its bytes,
 * pointing into the text when it has no escapes, else into x->tmp.
 * -1: not handled here. */
static int str(in *x, const char **s, size_t *n)
{
  const unsigned char *p = x->p, *start = p;
  /* Plain run: no escapes (the common case, no copy). */
  while(p < x->end) {
    /* printable ASCII but '"' and '\\': most of the bytes */
    while(p < x->end && !special[*p])
      p++;
    if(p >= x->end)
      break;
    unsigned c = *p;
    if(c == '"') {
      *s = (const char *)start;
      *n = (size_t)(p - start);
      x->p = p + 1;
      return 0;
    }
    if(c == '\\')
      break;
    if(c < 0x20)
      return -1;
    if(c < 0x80)
      p++;
    else {
      size_t l = utf8_len(p, x->end);
      if(!l)
        return -1;
      p += l;
    }
  }
  if(p >= x->end)
    return -1;
  /* Escapes: unescaped into tmp, never longer than the string's text
   * (an escape shrinks), which ends at the first unescaped quote. */
  size_t len = (size_t)(p - start);
  const unsigned char *q = p;
  while(q < x->end && *q != '"')
    q += *q == '\\' ? 2 : 1;
  if(q >= x->end || tmp_room(x, (size_t)(q - start) + 1))
    return -1;
  char *o = x->tmp;
  memcpy(o, start, len);
  while(p < x->end) {
    unsigned c = *p;
    if(c == '"') {
      *s = x->tmp;
      *n = len;
      x->p = p + 1;
      return 0;
    }
    if(c < 0x20)
      return -1;
    if(c >= 0x80) {
      size_t l = utf8_len(p, x->end);
      if(!l)
        return -1;
      memcpy(o + len, p, l);
      len += l;
      p += l;
      continue;
    }
    if(c != '\\') {
      o[len++] = (char)c;
      p++;
      continue;
    }
    if(x->end - p < 2)
      return -1;
    c = p[1];
    p += 2;
    switch(c) {
    case '"':
    case '\\':
    case '/':
      o[len++] = (char)c;
      continue;
    case 'b':
      o[len++] = '\b';
      continue;
    case 'f':
      o[len++] = '\f';
      continue;
    case 'n':
      o[len++] = '\n';
      continue;
    case 'r':
      o[len++] = '\r';
      continue;
    case 't':
      o[len++] = '\t';
      continue;
    case 'u':
      break;
    default:
      return -1;
    }
    unsigned v, lo;
    if(x->end - p < 4 || hex4(p, &v))
      return -1;
    p += 4;
    if(v >= 0xd800 && v <= 0xdbff) {
      /* a pair: \uD8xx\uDCxx */
      if(x->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
         lo < 0xdc00 || lo > 0xdfff)
        return -1;
      p += 6;
      v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
    }
    else if(v == 0 || (v >= 0xdc00 && v <= 0xdfff))
      return -1; /* NUL (refused without JSON_ALLOW_NUL), lone low half */
    /* 6 text bytes (12 for a pair) become at most 4: room enough */
    if(v < 0x80)
      o[len++] = (char)v;
    else if(v < 0x800) {
      o[len++] = (char)(0xc0 | v >> 6);
      o[len++] = (char)(0x80 | (v & 0x3f));
    }
    else if(v < 0x10000) {
      o[len++] = (char)(0xe0 | v >> 12);
      o[len++] = (char)(0x80 | (v >> 6 & 0x3f));
      o[len++] = (char)(0x80 | (v & 0x3f));
    }
    else {
      o[len++] = (char)(0xf0 | v >> 18);
      o[len++] = (char)(0x80 | (v >> 12 & 0x3f));
      o[len++] = (char)(0x80 | (v >> 6 & 0x3f));
      o[len++] = (char)(0x80 | (v & 0x3f));
    }
  }
  return -1;
}

static bool digit(const unsigned char *p, const unsigned char *end)
{
  return p < end && *p >= '0' && *p <= '9';
}

/* A number, jansson's grammar: an integer (json_int_t) unless it has a
 * fraction or an exponent. */
static json_t *number(in *x)
{
  const unsigned char *p = x->p, *s = p;
  bool real = false;
  if(p < x->end && *p == '-')
    p++;
  if(!digit(p, x->end))
    return NULL;
  if(*p == '0') {
    p++;
    if(digit(p, x->end))
      return NULL;
  }
  else
    while(digit(p, x->end))
      p++;
  if(p < x->end && *p == '.') {
    p++;
    real = true;
    if(!digit(p, x->end))
      return NULL;
    while(digit(p, x->end))
      p++;
  }
  if(p < x->end && (*p == 'e' || *p == 'E')) {
    p++;
    real = true;
    if(p < x->end && (*p == '+' || *p == '-'))
      p++;
    if(!digit(p, x->end))
      return NULL;
    while(digit(p, x->end))
      p++;
  }
  char buf[64];
  size_t n = (size_t)(p - s);
  if(n >= sizeof(buf))
    return NULL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *e;
  errno = 0;
  json_t *j;
  if(real) {
    double d = strtod(buf, &e);
    if(errno || e != buf + n)
      return NULL;
    j = json_real(d);
  }
  else {
    long long v = strtoll(buf, &e, 10);
    if(errno || e != buf + n)
      return NULL;
    j = json_integer((json_int_t)v);
  }
  x->p = p;
  return j;
}

static bool word(in *x, const char *w, size_t n)
{
  if((size_t)(x->end - x->p) < n || memcmp(x->p, w, n))
    return false;
  x->p += n;
  return true;
}

static json_t *value(in *x, int depth);

static json_t *object(in *x, int depth)
{
  json_t *o = json_object();
  if(!o)
    return NULL;
  ws(x);
  if(x->p < x->end && *x->p == '}') {
    x->p++;
    return o;
  }
  for(;;) {
    const char *k;
    size_t kn;
    ws(x);
    if(x->p >= x->end || *x->p != '"')
      goto fail;
    x->p++;
    if(str(x, &k, &kn))
      goto fail;
    /* The key may sit in tmp, which the value's strings reuse: jansson
     * copies it only when it is set, so copy it first when it is there. */
    char kb[128], *kh = NULL;
    if(k == x->tmp) {
      if(kn < sizeof(kb))
        k = memcpy(kb, k, kn);
      else if(!(kh = malloc(kn)))
        goto fail;
      else
        k = memcpy(kh, k, kn);
    }
    ws(x);
    if(x->p >= x->end || *x->p != ':') {
      free(kh);
      goto fail;
    }
    x->p++;
    json_t *v = value(x, depth);
    size_t before = json_object_size(o);
    /* A duplicate key replaces the value and the size stays: jansson's
     * JSON_REJECT_DUPLICATES error then comes from json_loadb. */
    bool bad = !v || json_object_setn_new_nocheck(o, k, kn, v) ||
               json_object_size(o) == before;
    free(kh);
    if(bad)
      goto fail;
    ws(x);
    if(x->p >= x->end)
      goto fail;
    if(*x->p == ',') {
      x->p++;
      continue;
    }
    if(*x->p == '}') {
      x->p++;
      return o;
    }
    goto fail;
  }
fail:
  json_decref(o);
  return NULL;
}

static json_t *array(in *x, int depth)
{
  json_t *a = json_array();
  if(!a)
    return NULL;
  ws(x);
  if(x->p < x->end && *x->p == ']') {
    x->p++;
    return a;
  }
  for(;;) {
    json_t *v = value(x, depth);
    if(!v || json_array_append_new(a, v))
      goto fail;
    ws(x);
    if(x->p >= x->end)
      goto fail;
    if(*x->p == ',') {
      x->p++;
      continue;
    }
    if(*x->p == ']') {
      x->p++;
      return a;
    }
    goto fail;
  }
fail:
  json_decref(a);
  return NULL;
}

static json_t *value(in *x, int depth)
{
  ws(x);
  if(x->p >= x->end)
    return NULL;
  switch(*x->p) {
  case '{':
    if(depth >= DEPTH_MAX)
      return NULL;
    x->p++;
    return object(x, depth + 1);
  case '[':
    if(depth >= DEPTH_MAX)
      return NULL;
    x->p++;
    return array(x, depth + 1);
  case '"': {
    const char *s;
    size_t n;
    x->p++;
    if(str(x, &s, &n))
      return NULL;
    return json_stringn_nocheck(s, n);
  }
  case 't':
    return word(x, "true", 4) ? json_true() : NULL;
  case 'f':
    return word(x, "false", 5) ? json_false() : NULL;
  case 'n':
    return word(x, "null", 4) ? json_null() : NULL;
  default:
    return number(x);
  }
}

json_t *ch_findings_json_parse_fast(const char *text, size_t len)
{
  in x = {(const unsigned char *)text, (const unsigned char *)text + len, NULL,
          0};
  json_t *j = NULL;
  if(text) {
    ws(&x);
    /* An array or an object at the top, as jansson without
     * JSON_DECODE_ANY wants. */
    if(x.p < x.end && (*x.p == '[' || *x.p == '{'))
      j = value(&x, 0);
    if(j) {
      ws(&x);
      if(x.p != x.end) {
        json_decref(j);
        j = NULL;
      }
    }
  }
  free(x.tmp);
  return j;
}

json_t *ch_findings_json_parse(const char *text, size_t len, json_error_t *err)
{
  json_t *j = ch_findings_json_parse_fast(text, len);
  return j ? j
           : json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, err);
}
