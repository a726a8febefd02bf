/*
 * Compact JSON text of a jansson tree, the same bytes as
 * json_dumps(JSON_COMPACT) gives, without its per-container cost:
 * jansson's dump tracks every object and array in a hash table (a key
 * printed and allocated per container, for loop detection), which was a
 * sixth of an import's CPU time. Findings are trees (parsed text), so the
 * check buys nothing here; the depth is capped instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings_int.h"

/* jansson's own parser stops at 2048 levels. */
#define DEPTH_MAX 2048

typedef struct out {
  ch_buf *b; /* NULL: count only */
  size_t n;
  ch_err rc;
} out;

/* Most pieces fit the buffer's room: copied here, without ch_buf_add's
 * call and checks (the cap still holds: the room is counted up to it). */
static inline void put(out *o, const char *p, size_t n)
{
  ch_buf *b = o->b;
  o->n += n;
  if(!b || o->rc)
    return;
  if(b->data && n < b->alloc - b->len && b->len + n <= b->cap) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
  }
  else
    o->rc = ch_buf_add(b, p, n);
}

/* Bytes a string byte takes in the text beyond itself: 1 for the short
 * escapes, 5 for \u00XX, 0 for the rest. */
static const unsigned char extra[256] =
    {
        5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* \b \t \n \f \r */
        5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
};

/* jansson's escapes: '"', '\\', and control characters (the usual short
 * forms, else \u00XX with uppercase hex); UTF-8 is kept as it is. */
static void put_string(out *o, const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *u = (const unsigned char *)s;
  size_t more = 0;
  for(size_t i = 0; i < len; i++)
    more += extra[u[i]];
  if(!o->b) { /* counting */
    o->n += len + 2 + more;
    return;
  }
  if(!more) { /* nothing to escape */
    put(o, "\"", 1);
    put(o, s, len);
    put(o, "\"", 1);
    return;
  }
  size_t run = 0;
  put(o, "\"", 1);
  for(size_t i = 0; i < len; i++) {
    unsigned char c = u[i];
    if(!extra[c])
      continue;
    put(o, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0};
    size_t n = 2;
    switch(c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    put(o, esc, n);
  }
  put(o, s + run, len - run);
  put(o, "\"", 1);
}

static void put_value(out *o, json_t *j, int depth)
{
  char num[64];
  if(depth > DEPTH_MAX) {
    o->rc = CH_ERR_TOOBIG;
    return;
  }
  switch(json_typeof(j)) {
  case JSON_OBJECT: {
    const char *key;
    size_t klen;
    json_t *v;
    bool first = true;
    put(o, "{", 1);
    json_object_keylen_foreach(j, key, klen, v)
    {
      if(!first)
        put(o, ",", 1);
      first = false;
      put_string(o, key, klen);
      put(o, ":", 1);
      put_value(o, v, depth + 1);
    }
    put(o, "}", 1);
    break;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(j);
    put(o, "[", 1);
    for(size_t i = 0; i < n; i++) {
      if(i)
        put(o, ",", 1);
      put_value(o, json_array_get(j, i), depth + 1);
    }
    put(o, "]", 1);
    break;
  }
  case JSON_STRING:
    put_string(o, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER: {
    int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(j));
    put(o, num, (size_t)n);
    break;
  }
  case JSON_REAL: {
    /* jansson's shortest round-trip form; reals are rare in findings. */
    char *t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    if(!t) {
      o->rc = CH_ERR_NOMEM;
      return;
    }
    put(o, t, strlen(t));
    free(t);
    break;
  }
  case JSON_TRUE:
    put(o, "true", 4);
    break;
  case JSON_FALSE:
    put(o, "false", 5);
    break;
  case JSON_NULL:
    put(o, "null", 4);
    break;
  }
}

ch_err ch_findings_json_text(json_t *j, ch_buf *b)
{
  out o = {.b = b};
  ch_buf_reset(b);
  put_value(&o, j, 0);
  if(!o.rc)
    o.rc = ch_buf_add(b, "", 1); /* the NUL, not counted in len */
  if(!o.rc)
    b->len--;
  return o.rc;
}

ch_err ch_findings_json_append(json_t *j, ch_buf *b)
{
  size_t start = b->len;
  out o = {.b = b};
  put_value(&o, j, 0);
  if(!o.rc)
    o.rc = ch_buf_add(b, "", 1);
  if(!o.rc)
    b->len--;
  else if(b->data) /* ch_buf frees the data when it cannot grow */
    b->len = start;
  return o.rc;
}

size_t ch_findings_json_size(json_t *j)
{
  out o = {0};
  put_value(&o, j, 0);
  return o.n;
}
