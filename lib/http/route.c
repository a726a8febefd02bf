/*
 * Route matching and the response helpers every handler uses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* Decode %XX (and keep '+' literal: paths are not form data) of
 * src[0..n) into dst (cap bytes). False when too long or a NUL would
 * appear. */
static bool decode(const char *src, size_t n, char *dst, size_t cap)
{
  size_t j = 0;
  for(size_t i = 0; i < n; i++) {
    int c = (unsigned char)src[i];
    if(c == '%' && i + 2 < n) {
      int h = ch_hex_val(src[i + 1]), l = ch_hex_val(src[i + 2]);
      if(h >= 0 && l >= 0) {
        c = h * 16 + l;
        i += 2;
      }
    }
    if(!c || j + 1 >= cap)
      return false;
    dst[j++] = (char)c;
  }
  dst[j] = '\0';
  return true;
}

bool ch_http_route_match(const char *pattern, const char *path,
                         char bufs[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX],
                         size_t *n_caps)
{
  const char *p = pattern, *s = path;
  size_t n = 0;
  *n_caps = 0;
  while(*p) {
    if(*p == '{') {
      const char *end = strchr(p, '}');
      if(!end || n >= CH_HTTP_MAX_CAPS)
        return false;
      bool rest = end > p + 1 && end[-1] == '*';
      size_t len = rest ? strlen(s) : strcspn(s, "/");
      if(!len || !decode(s, len, bufs[n], CH_HTTP_CAP_MAX))
        return false;
      n++;
      s += len;
      p = end + 1;
      continue;
    }
    if(*p != *s)
      return false;
    p++;
    s++;
  }
  if(*s)
    return false;
  *n_caps = n;
  return true;
}

ch_err ch_http_route_find(const ch_http_route *table, size_t n,
                          const char *method, const char *path,
                          const ch_http_route **route,
                          char bufs[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX],
                          size_t *n_caps, char *allow, size_t allow_len)
{
  bool path_seen = false;
  const char *m = strcmp(method, "HEAD") ? method : "GET";
  size_t used = 0;
  if(allow && allow_len)
    allow[0] = '\0';
  *route = NULL;
  for(size_t i = 0; i < n; i++) {
    size_t nc;
    if(!ch_http_route_match(table[i].pattern, path, bufs, &nc))
      continue;
    if(!strcmp(table[i].method, m)) {
      *route = &table[i];
      *n_caps = nc;
      return CH_OK;
    }
    path_seen = true;
    if(allow && used < allow_len) {
      int w = snprintf(allow + used, allow_len - used, "%s%s",
                       used ? ", " : "", table[i].method);
      if(w > 0)
        used += (size_t)w;
    }
  }
  return path_seen ? CH_ERR_UNSUPPORTED : CH_ERR_NOTFOUND;
}

bool ch_http_scope_ok(unsigned scopes, unsigned need)
{
  if(!need)
    return true;
  if(scopes & CERTHUB_SCOPE_ADMIN)
    return true;
  return (scopes & need) == need;
}

void ch_http_text(ch_http_resp *rs, unsigned status, const char *type,
                  char *body, size_t len)
{
  free(rs->body);
  rs->status = status;
  rs->type = type;
  rs->body = body;
  rs->len = len;
}

void ch_http_json(ch_http_resp *rs, unsigned status, json_t *body)
{
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if(!text) {
    /* a static reply: nothing more can be allocated reliably */
    static const char oom[] =
        "{\"error\":{\"code\":\"InternalError\",\"message\":\"out of "
        "memory\"}}";
    ch_http_text(rs, 500, "application/json", strdup(oom), sizeof(oom) - 1);
    if(!rs->body)
      rs->len = 0;
    return;
  }
  ch_http_text(rs, status, "application/json", text, strlen(text));
}

void ch_http_error(ch_http_resp *rs, unsigned status, const char *code,
                   const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ch_http_json(
      rs, status,
      json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void ch_http_fail(ch_http_resp *rs, ch_err rc, const char *msg)
{
  if(!msg || !*msg)
    msg = certhub_strerror(rc);
  switch(rc) {
  case CH_ERR_PARSE:
  case CH_ERR_USAGE:
  case CH_ERR_TOOBIG:
  case CH_ERR_TRUNCATED:
  case CH_ERR_UNSUPPORTED:
    ch_http_error(rs, 400, "InvalidInput", "%s", msg);
    break;
  case CH_ERR_AMBIGUOUS:
    ch_http_error(rs, 400, "Ambiguous", "%s", msg);
    break;
  case CH_ERR_NOTFOUND:
    ch_http_error(rs, 404, "NotFound", "%s", msg);
    break;
  case CH_ERR_EXISTS:
    ch_http_error(rs, 409, "Conflict", "%s", msg);
    break;
  case CH_ERR_BUSY:
    ch_http_error(rs, 503, "Busy", "%s", msg);
    break;
  default:
    ch_http_error(rs, 500, "InternalError", "%s", msg);
    break;
  }
}

const char *ch_http_query(const ch_http_req *rq, const char *name)
{
  return rq->query ? rq->query(rq->query_ctx, name) : NULL;
}

bool ch_http_query_num(const ch_http_req *rq, ch_http_resp *rs,
                       const char *name, int64_t min, int64_t max, int64_t def,
                       int64_t *out)
{
  const char *v = ch_http_query(rq, name);
  int64_t n = 0;
  *out = def;
  if(!v)
    return true;
  bool ok = *v != '\0' && strlen(v) <= 18;
  for(const char *p = v; ok && *p; p++) {
    if(*p < '0' || *p > '9')
      ok = false;
    else
      n = n * 10 + (*p - '0');
  }
  if(!ok || n < min || n > max) {
    ch_http_error(rs, 400, "InvalidParameter",
                  "query parameter %s: '%.64s' is not a number from %lld "
                  "to %lld",
                  name, v, (long long)min, (long long)max);
    return false;
  }
  *out = n;
  return true;
}

json_t *ch_http_body_json(const ch_http_req *rq, ch_http_resp *rs,
                          bool allow_array)
{
  json_error_t e;
  if(!rq->body || !rq->body_len) {
    ch_http_error(rs, 400, "InvalidInput",
                  "the request body is empty "
                  "(expected a JSON object)");
    return NULL;
  }
  json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
  if(!j) {
    ch_http_error(rs, 400, "InvalidJson",
                  "request body: not valid JSON at line %d column %d: %s",
                  e.line, e.column, e.text);
    return NULL;
  }
  if(!json_is_object(j) && !(allow_array && json_is_array(j))) {
    ch_http_error(rs, 400, "InvalidInput",
                  "request body: expected a JSON object%s",
                  allow_array ? " or array" : "");
    json_decref(j);
    return NULL;
  }
  return j;
}
