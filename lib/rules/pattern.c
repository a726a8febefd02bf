/*
 * EventBridge event patterns: the parser/validator and the reference
 * matcher. Semantics and limits are listed in include/certhub/pattern.h.
 *
 * A pattern compiles to its disjunctive normal form: a list of
 * alternatives ($or expanded), each a list of leaves (dotted path and
 * the matchers of its value array). An event is flattened to leaves
 * (path, value, array elements passed through); an alternative matches
 * when each of its leaves can be bound to an event leaf that one of its
 * matchers accepts, all bound leaves agreeing on shared array elements.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/pattern.h"
#include "pattern_int.h"
#include "rules_int.h"

/* --- messages ----------------------------------------------------------- */

static void set_err(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(char **errmsg, const char *fmt, ...)
{
  if(!errmsg || *errmsg)
    return;
  ch_buf b;
  ch_buf_init(&b, 1024);
  va_list ap;
  va_start(ap, fmt);
  ch_err e = ch_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  if(e != CH_OK)
    return;
  /* Field names come from the input: keep the message printable. */
  for(size_t i = 0; i < b.len; i++)
    if((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
      b.data[i] = '?';
  *errmsg = ch_buf_take(&b);
}

/* A path for messages, cut so a hostile key cannot flood them. */
#define PATHFMT "%.200s%s"
#define PATHARG(p) (p), strlen(p) > 200 ? "..." : ""

/* --- compile ------------------------------------------------------------ */

struct cctx {
  struct ch_arena *a;
  char **errmsg;
  size_t stars; /* in the whole pattern */
  ch_err err;
};

/* An allocation from the arena failed: the pattern is too large. */
static bool too_large(struct cctx *c)
{
  set_err(c->errmsg, "pattern: too large to compile");
  c->err = CH_ERR_TOOBIG;
  return false;
}

static void *zalloc(struct cctx *c, size_t n)
{
  void *p = ch_arena_alloc(c->a, n);
  if(!p) {
    too_large(c);
    return NULL;
  }
  memset(p, 0, n);
  return p;
}

static bool fail(struct cctx *c, ch_err e, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static bool fail(struct cctx *c, ch_err e, const char *path, const char *fmt,
                 ...)
{
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  set_err(c->errmsg, "pattern field '" PATHFMT "': %s", PATHARG(path), what);
  c->err = e;
  return false;
}

static const char *const operators[] = {
    "prefix",   "suffix",       "equals-ignore-case",
    "wildcard", "anything-but", "numeric",
    "exists",   "cidr",
};

static bool is_operator(const char *k)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(operators); i++)
    if(strcmp(k, operators[i]) == 0)
      return true;
  return false;
}

static const char *type_name(const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  case JSON_NULL:
    return "null";
  }
  return "a value";
}

static bool set_string(struct cctx *c, struct matcher *m, const json_t *v)
{
  m->slen = json_string_length(v);
  m->s = ch_arena_strndup(c->a, json_string_value(v), m->slen);
  if(!m->s)
    return too_large(c);
  return true;
}

/* Split a wildcard value into literal segments; validates escapes. */
static bool compile_wildcard(struct cctx *c, const char *path,
                             struct matcher *m, const json_t *v)
{
  const char *s = json_string_value(v);
  size_t n = json_string_length(v), stars = 0;
  for(size_t i = 0; i < n; i++) {
    if(s[i] == '\\') {
      if(i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\'))
        return fail(c, CH_ERR_PARSE, path,
                    "wildcard \"%.100s\": a backslash may only escape '*' "
                    "or '\\'",
                    s);
      i++;
    }
    else if(s[i] == '*') {
      if(i + 1 < n && s[i + 1] == '*')
        return fail(c, CH_ERR_PARSE, path,
                    "wildcard \"%.100s\": consecutive '*' are not allowed", s);
      stars++;
    }
  }
  if(stars > CERTHUB_PATTERN_MAX_STARS)
    return fail(c, CH_ERR_TOOBIG, path,
                "wildcard \"%.100s\" has %zu '*', more than %d (too complex)",
                s, stars, CERTHUB_PATTERN_MAX_STARS);
  c->stars += stars;
  if(c->stars > CERTHUB_PATTERN_MAX_ALL_STARS)
    return fail(c, CH_ERR_TOOBIG, path,
                "the pattern's wildcards have more than %d '*' in all (too "
                "complex)",
                CERTHUB_PATTERN_MAX_ALL_STARS);
  m->kind = M_WILDCARD;
  m->nseg = stars + 1;
  m->seg = zalloc(c, m->nseg * sizeof(*m->seg));
  m->seglen = zalloc(c, m->nseg * sizeof(*m->seglen));
  char *buf = zalloc(c, n + 1);
  if(!m->seg || !m->seglen || !buf)
    return false;
  size_t k = 0, o = 0;
  m->seg[0] = buf;
  for(size_t i = 0; i < n; i++) {
    if(s[i] == '\\') {
      buf[o++] = s[++i];
    }
    else if(s[i] == '*') {
      m->seglen[k] = (size_t)(buf + o - m->seg[k]);
      buf[o++] = '\0';
      m->seg[++k] = buf + o;
    }
    else {
      buf[o++] = s[i];
    }
  }
  m->seglen[k] = (size_t)(buf + o - m->seg[k]);
  return true;
}

static bool compile_cidr(struct cctx *c, const char *path, struct matcher *m,
                         const json_t *v)
{
  const char *s = json_string_value(v);
  const char *slash = strchr(s, '/');
  char ip[64];
  size_t iplen = slash ? (size_t)(slash - s) : 0;
  if(!slash || iplen == 0 || iplen >= sizeof(ip) ||
     json_string_length(v) != strlen(s))
    return fail(c, CH_ERR_PARSE, path,
                "cidr \"%.100s\" is not ADDRESS/PREFIX-LENGTH", s);
  memcpy(ip, s, iplen);
  ip[iplen] = '\0';
  m->kind = M_CIDR;
  if(inet_pton(AF_INET, ip, m->addr) == 1)
    m->family = AF_INET;
  else if(inet_pton(AF_INET6, ip, m->addr) == 1)
    m->family = AF_INET6;
  else
    return fail(c, CH_ERR_PARSE, path,
                "cidr \"%.100s\": '%s' is not an IPv4 or IPv6 address", s, ip);
  unsigned max = m->family == AF_INET ? 32 : 128, len = 0;
  const char *p = slash + 1;
  if(!*p || strlen(p) > 3)
    goto bad_len;
  for(; *p; p++) {
    if(*p < '0' || *p > '9')
      goto bad_len;
    len = len * 10 + (unsigned)(*p - '0');
  }
  if(len > max)
    goto bad_len;
  m->prefix = len;
  return true;
bad_len:
  return fail(c, CH_ERR_PARSE, path,
              "cidr \"%.100s\": prefix length must be 0-%u", s, max);
}

static bool numeric_operand(struct cctx *c, const char *path, const json_t *v,
                            double *out)
{
  if(!json_is_number(v))
    return fail(c, CH_ERR_PARSE, path,
                "numeric: operand must be a number, not %s", type_name(v));
  double d = json_number_value(v);
  if(!(d >= -NUMERIC_LIMIT && d <= NUMERIC_LIMIT))
    return fail(c, CH_ERR_PARSE, path,
                "numeric: operand %g is outside [-5e9, 5e9]", d);
  *out = d;
  return true;
}

static bool compile_numeric(struct cctx *c, const char *path,
                            struct matcher *m, const json_t *v)
{
  size_t n = json_array_size(v);
  m->kind = M_NUMERIC;
  if(!json_is_array(v) || (n != 2 && n != 4))
    return fail(c, CH_ERR_PARSE, path,
                "numeric: expected [OP, NUMBER] or [OP, NUMBER, OP, NUMBER]");
  for(size_t i = 0; i < n; i += 2) {
    const json_t *op = json_array_get(v, i);
    const char *o = json_string_value(op);
    double d = 0;
    if(!o)
      return fail(c, CH_ERR_PARSE, path,
                  "numeric: expected an operator (<, <=, =, >, >=) at "
                  "position %zu, not %s",
                  i, type_name(op));
    if(!numeric_operand(c, path, json_array_get(v, i + 1), &d))
      return false;
    if(strcmp(o, "=") == 0) {
      if(n != 2)
        return fail(c, CH_ERR_PARSE, path,
                    "numeric: '=' cannot be combined with a range");
      m->has_lo = m->has_hi = m->lo_incl = m->hi_incl = true;
      m->lo = m->hi = d;
    }
    else if(strcmp(o, ">") == 0 || strcmp(o, ">=") == 0) {
      if(m->has_lo || i != 0)
        return fail(c, CH_ERR_PARSE, path,
                    "numeric: the lower bound ('>' or '>=') must come "
                    "first and only once");
      m->has_lo = true;
      m->lo_incl = o[1] == '=';
      m->lo = d;
    }
    else if(strcmp(o, "<") == 0 || strcmp(o, "<=") == 0) {
      if(m->has_hi)
        return fail(c, CH_ERR_PARSE, path,
                    "numeric: only one upper bound ('<' or '<=') allowed");
      m->has_hi = true;
      m->hi_incl = o[1] == '=';
      m->hi = d;
    }
    else {
      return fail(c, CH_ERR_PARSE, path,
                  "numeric: unknown operator \"%.20s\" (expected <, <=, =, "
                  ">, >=)",
                  o);
    }
  }
  if(n == 4 && !(m->has_lo && m->has_hi))
    return fail(c, CH_ERR_PARSE, path,
                "numeric: a range needs a lower bound then an upper bound");
  if(n == 4 && !(m->lo < m->hi))
    return fail(c, CH_ERR_PARSE, path,
                "numeric: the lower bound %g must be below the upper bound %g",
                m->lo, m->hi);
  return true;
}

/* m ignores case: a value that is not all ASCII gets its code points'
 * forms (fold.h); an ASCII one keeps the byte-wise fold. */
static bool set_fold(struct cctx *c, struct matcher *m)
{
  if(!ch_fold_nonascii(m->s, m->slen))
    return true;
  struct ch_fold_unit *u =
      zalloc(c, ch_fold_units(m->s, m->slen, NULL) * sizeof(*u));
  if(!u)
    return false;
  m->nfu = ch_fold_units(m->s, m->slen, u);
  m->fu = u;
  return true;
}

/* A string, or {"equals-ignore-case": string}, for prefix and suffix. */
static bool compile_affix(struct cctx *c, const char *path, const char *op,
                          struct matcher *m, const json_t *v)
{
  if(json_is_object(v)) {
    const json_t *e = json_object_get(v, "equals-ignore-case");
    if(json_object_size(v) != 1 || !e || !json_is_string(e))
      return fail(c, CH_ERR_PARSE, path,
                  "%s: expected a string or {\"equals-ignore-case\": "
                  "string}",
                  op);
    m->icase = true;
    v = e;
  }
  if(!json_is_string(v))
    return fail(c, CH_ERR_PARSE, path, "%s: expected a string, not %s", op,
                type_name(v));
  return set_string(c, m, v) && (!m->icase || set_fold(c, m));
}

/* One value or a non-empty list of strings into inner matchers. */
static bool anybut_list(struct cctx *c, const char *path, const char *op,
                        enum mkind kind, struct matcher *m, const json_t *v)
{
  size_t n = json_is_array(v) ? json_array_size(v) : 1;
  if(json_is_array(v) && n == 0)
    return fail(c, CH_ERR_PARSE, path, "anything-but %s: empty list", op);
  m->ninner = n;
  m->inner = zalloc(c, n * sizeof(*m->inner));
  if(!m->inner)
    return false;
  for(size_t i = 0; i < n; i++) {
    const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
    struct matcher *im = &m->inner[i];
    if(!json_is_string(e))
      return fail(c, CH_ERR_PARSE, path,
                  "anything-but %s: expected a string or a list of strings, "
                  "found %s",
                  op, type_name(e));
    im->kind = kind;
    if(kind == M_WILDCARD) {
      if(!compile_wildcard(c, path, im, e))
        return false;
    }
    else if(!set_string(c, im, e) || (kind == M_EIC && !set_fold(c, im))) {
      return false;
    }
  }
  return true;
}

static bool compile_anybut(struct cctx *c, const char *path, struct matcher *m,
                           const json_t *v)
{
  m->kind = M_ANYBUT;
  if(json_is_object(v)) {
    const char *k = NULL;
    json_t *e = NULL;
    if(json_object_size(v) == 1) {
      void *it = json_object_iter((json_t *)v);
      k = json_object_iter_key(it);
      e = json_object_iter_value(it);
    }
    if(!k)
      return fail(c, CH_ERR_PARSE, path,
                  "anything-but: an object must hold exactly one of prefix, "
                  "suffix, equals-ignore-case, wildcard");
    if(strcmp(k, "prefix") == 0 || strcmp(k, "suffix") == 0) {
      if(!json_is_string(e))
        return fail(c, CH_ERR_PARSE, path,
                    "anything-but %s: expected a string, not %s", k,
                    type_name(e));
      return anybut_list(c, path, k, k[0] == 'p' ? M_PREFIX : M_SUFFIX, m, e);
    }
    if(strcmp(k, "equals-ignore-case") == 0)
      return anybut_list(c, path, k, M_EIC, m, e);
    if(strcmp(k, "wildcard") == 0)
      return anybut_list(c, path, k, M_WILDCARD, m, e);
    return fail(c, CH_ERR_PARSE, path,
                "anything-but: unknown operator \"%.50s\" (expected prefix, "
                "suffix, equals-ignore-case or wildcard; operators are "
                "case-sensitive)",
                k);
  }
  size_t n = json_is_array(v) ? json_array_size(v) : 1;
  if(json_is_array(v) && n == 0)
    return fail(c, CH_ERR_PARSE, path, "anything-but: empty list");
  m->ninner = n;
  m->inner = zalloc(c, n * sizeof(*m->inner));
  if(!m->inner)
    return false;
  bool strings = false, numbers = false;
  for(size_t i = 0; i < n; i++) {
    const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
    struct matcher *im = &m->inner[i];
    if(json_is_string(e)) {
      strings = true;
      im->kind = M_STRING;
      if(!set_string(c, im, e))
        return false;
    }
    else if(json_is_number(e)) {
      numbers = true;
      im->kind = M_NUMBER;
      im->num = json_number_value(e);
    }
    else {
      return fail(c, CH_ERR_PARSE, path,
                  "anything-but: values must be strings or numbers, not %s",
                  type_name(e));
    }
  }
  if(strings && numbers)
    return fail(c, CH_ERR_PARSE, path,
                "anything-but: a list must hold only strings or only "
                "numbers");
  return true;
}

/* One element of a field's value array. */
static bool compile_matcher(struct cctx *c, const char *path,
                            struct matcher *m, const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_STRING:
    m->kind = M_STRING;
    return set_string(c, m, v);
  case JSON_INTEGER:
  case JSON_REAL:
    m->kind = M_NUMBER;
    m->num = json_number_value(v);
    return true;
  case JSON_TRUE:
    m->kind = M_TRUE;
    return true;
  case JSON_FALSE:
    m->kind = M_FALSE;
    return true;
  case JSON_NULL:
    m->kind = M_NULL;
    return true;
  case JSON_ARRAY:
    return fail(c, CH_ERR_PARSE, path,
                "a value array cannot contain an array");
  case JSON_OBJECT:
    break;
  }
  if(json_object_size(v) != 1)
    return fail(c, CH_ERR_PARSE, path,
                "a matcher object must hold exactly one operator, found %zu",
                json_object_size(v));
  void *it = json_object_iter((json_t *)v);
  const char *op = json_object_iter_key(it);
  const json_t *e = json_object_iter_value(it);
  if(strcmp(op, "prefix") == 0) {
    m->kind = M_PREFIX;
    return compile_affix(c, path, op, m, e);
  }
  if(strcmp(op, "suffix") == 0) {
    m->kind = M_SUFFIX;
    return compile_affix(c, path, op, m, e);
  }
  if(strcmp(op, "equals-ignore-case") == 0) {
    m->kind = M_EIC;
    if(!json_is_string(e))
      return fail(c, CH_ERR_PARSE, path,
                  "equals-ignore-case: expected a string, not %s",
                  type_name(e));
    return set_string(c, m, e) && set_fold(c, m);
  }
  if(strcmp(op, "wildcard") == 0) {
    if(!json_is_string(e))
      return fail(c, CH_ERR_PARSE, path, "wildcard: expected a string, not %s",
                  type_name(e));
    return compile_wildcard(c, path, m, e);
  }
  if(strcmp(op, "anything-but") == 0)
    return compile_anybut(c, path, m, e);
  if(strcmp(op, "numeric") == 0)
    return compile_numeric(c, path, m, e);
  if(strcmp(op, "exists") == 0) {
    if(!json_is_boolean(e))
      return fail(c, CH_ERR_PARSE, path,
                  "exists: expected true or false, not %s", type_name(e));
    m->kind = M_EXISTS;
    m->exists = json_is_true(e);
    return true;
  }
  if(strcmp(op, "cidr") == 0) {
    if(!json_is_string(e))
      return fail(c, CH_ERR_PARSE, path, "cidr: expected a string, not %s",
                  type_name(e));
    return compile_cidr(c, path, m, e);
  }
  return fail(c, CH_ERR_PARSE, path,
              "unknown operator \"%.50s\" (known: prefix, suffix, "
              "equals-ignore-case, wildcard, anything-but, numeric, exists, "
              "cidr; operators are case-sensitive)",
              op);
}

/* The cross product of *acc and b, into *acc. */
static bool product(struct cctx *c, const char *path, struct alts *acc,
                    const struct alts *b)
{
  if(b->n > CERTHUB_PATTERN_MAX_COMBOS ||
     acc->n * b->n > CERTHUB_PATTERN_MAX_COMBOS)
    return fail(c, CH_ERR_TOOBIG, path,
                "$or expands to more than %d combinations",
                CERTHUB_PATTERN_MAX_COMBOS);
  struct alts r = {zalloc(c, acc->n * b->n * sizeof(struct alt)),
                   acc->n * b->n};
  if(!r.v)
    return false;
  for(size_t i = 0; i < acc->n; i++)
    for(size_t j = 0; j < b->n; j++) {
      struct alt *x = &r.v[i * b->n + j];
      const struct alt *p = &acc->v[i], *q = &b->v[j];
      x->n = p->n + q->n;
      x->v = zalloc(c, (x->n ? x->n : 1) * sizeof(*x->v));
      if(!x->v)
        return false;
      if(p->n)
        memcpy(x->v, p->v, p->n * sizeof(*x->v));
      if(q->n)
        memcpy(x->v + p->n, q->v, q->n * sizeof(*x->v));
    }
  *acc = r;
  return true;
}

static bool compile_object(struct cctx *c, const char *prefix,
                           const json_t *obj, struct alts *out);

/* "$or" is an or-group when it is an array of two or more objects none of
 * whose keys is an operator name; otherwise an ordinary field. */
static bool is_or_group(const json_t *v)
{
  if(!json_is_array(v) || json_array_size(v) < 2)
    return false;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e)
  {
    const char *k;
    json_t *x;
    if(!json_is_object(e))
      return false;
    json_object_foreach(e, k, x)
    {
      if(is_operator(k))
        return false;
    }
  }
  return true;
}

static bool compile_or(struct cctx *c, const char *prefix, const json_t *v,
                       struct alts *out)
{
  size_t i, total = 0;
  json_t *e;
  struct alts *parts = zalloc(c, json_array_size(v) * sizeof(*parts));
  if(!parts)
    return false;
  json_array_foreach(v, i, e)
  {
    if(!compile_object(c, prefix, e, &parts[i]))
      return false;
    total += parts[i].n;
    if(total > CERTHUB_PATTERN_MAX_COMBOS)
      return fail(c, CH_ERR_TOOBIG, prefix ? prefix : "$or",
                  "$or expands to more than %d combinations",
                  CERTHUB_PATTERN_MAX_COMBOS);
  }
  out->n = total;
  out->v = zalloc(c, total * sizeof(*out->v));
  if(!out->v)
    return false;
  size_t k = 0;
  for(i = 0; i < json_array_size(v); i++)
    for(size_t j = 0; j < parts[i].n; j++)
      out->v[k++] = parts[i].v[j];
  return true;
}

static bool compile_object(struct cctx *c, const char *prefix,
                           const json_t *obj, struct alts *out)
{
  size_t nf = json_object_size(obj);
  /* acc: the product of nested objects and $or groups so far, starting
   * from one empty alternative; base: this object's own leaves. */
  struct alts acc = {zalloc(c, sizeof(struct alt)), 1};
  struct alts base = {zalloc(c, sizeof(struct alt)), 1};
  if(!acc.v || !base.v)
    return false;
  base.v[0].v = zalloc(c, (nf ? nf : 1) * sizeof(struct leaf *));
  if(!base.v[0].v)
    return false;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v)
  {
    char *path = prefix ? ch_arena_printf(c->a, "%s.%s", prefix, key)
                        : ch_arena_strdup(c->a, key);
    if(!path)
      return too_large(c);
    if(strcmp(key, "$or") == 0 && is_or_group(v)) {
      struct alts sub;
      if(!compile_or(c, prefix, v, &sub) || !product(c, path, &acc, &sub))
        return false;
    }
    else if(json_is_object(v)) {
      struct alts sub;
      if(!compile_object(c, path, v, &sub) || !product(c, path, &acc, &sub))
        return false;
    }
    else if(json_is_array(v)) {
      size_t n = json_array_size(v);
      if(n == 0)
        return fail(c, CH_ERR_PARSE, path,
                    "empty arrays are not allowed; list at least one value");
      struct leaf *l = zalloc(c, sizeof(*l));
      if(!l || !(l->m = zalloc(c, n * sizeof(*l->m))))
        return false;
      l->path = path;
      l->nm = n;
      for(size_t i = 0; i < n; i++)
        if(!compile_matcher(c, path, &l->m[i], json_array_get(v, i)))
          return false;
      base.v[0].v[base.v[0].n++] = l;
    }
    else {
      return fail(c, CH_ERR_PARSE, path,
                  "match values must be in an array (found %s), e.g. "
                  "[\"value\"]",
                  type_name(v));
    }
  }
  /* Own leaves first, then those of nested objects and $or branches. */
  if(!product(c, prefix ? prefix : "(top level)", &base, &acc))
    return false;
  *out = base;
  return true;
}

/* Collect the distinct leaf paths and point every leaf at its copy. */
static bool intern_paths(struct cctx *c, certhub_pattern *p)
{
  size_t total = 0;
  for(size_t i = 0; i < p->dnf.n; i++)
    total += p->dnf.v[i].n;
  p->paths = zalloc(c, (total ? total : 1) * sizeof(*p->paths));
  if(!p->paths)
    return false;
  for(size_t i = 0; i < p->dnf.n; i++)
    for(size_t j = 0; j < p->dnf.v[i].n; j++) {
      struct leaf *l = p->dnf.v[i].v[j];
      size_t k = 0;
      while(k < p->npaths && strcmp(p->paths[k], l->path) != 0)
        k++;
      if(k == p->npaths)
        p->paths[p->npaths++] = l->path;
      l->path = p->paths[k];
    }
  return true;
}

static size_t count_chars(const char *s, size_t n)
{
  size_t k = 0;
  for(size_t i = 0; i < n; i++)
    k += ((unsigned char)s[i] & 0xc0) != 0x80;
  return k;
}

ch_err certhub_pattern_compile(const char *json, size_t len,
                               certhub_pattern **out, char **errmsg)
{
  return ch_pattern_compile_max(json, len, CERTHUB_PATTERN_MAX_LEN, out,
                                errmsg);
}

ch_err ch_pattern_compile_max(const char *json, size_t len, size_t max_chars,
                              certhub_pattern **out, char **errmsg)
{
  ch_err e = CH_OK;
  json_t *root = NULL;
  certhub_pattern *p = NULL;
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  size_t chars = count_chars(json, len);
  if(chars > max_chars) {
    set_err(errmsg, "pattern: %zu characters, longer than the limit of %zu",
            chars, max_chars);
    e = CH_ERR_TOOBIG;
    goto out;
  }
  json_error_t jerr;
  root =
      json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if(!root) {
    set_err(errmsg, "pattern: invalid JSON at line %d column %d: %s",
            jerr.line, jerr.column, jerr.text);
    e = CH_ERR_PARSE;
    goto out;
  }
  if(!json_is_object(root)) {
    set_err(errmsg, "pattern: must be a JSON object, not %s", type_name(root));
    e = CH_ERR_PARSE;
    goto out;
  }
  p = calloc(1, sizeof(*p));
  if(!p || !(p->arena = ch_arena_new(PAT_ARENA_CAP))) {
    e = CH_ERR_NOMEM;
    goto out;
  }
  struct cctx c = {p->arena, errmsg, 0, CH_OK};
  if(!compile_object(&c, NULL, root, &p->dnf) || !intern_paths(&c, p)) {
    e = c.err ? c.err : CH_ERR_PARSE;
    goto out;
  }
  *out = p;
  p = NULL;
out:
  json_decref(root);
  certhub_pattern_free(p);
  return e;
}

size_t certhub_pattern_alternatives(const certhub_pattern *p)
{
  return p->dnf.n;
}

void certhub_pattern_free(certhub_pattern *p)
{
  if(!p)
    return;
  if(p->arena)
    ch_arena_free(p->arena);
  free(p);
}

/* --- the event as leaves ------------------------------------------------ */

/* One array element passed through on the way to a leaf. */
struct elem {
  size_t array; /* which array (numbered as met) */
  size_t index;
};

struct evleaf {
  const char *path;
  const json_t *value;
  const struct elem *ctx;
  size_t nctx;
};

struct flat {
  const certhub_pattern *p;
  struct ch_arena *a;
  char path[4 * CERTHUB_PATTERN_MAX_LEN + 8]; /* of the value in hand */
  const char *cur; /* the pattern path equal to it, or NULL */
  struct evleaf *v;
  size_t n, alloc;
  size_t arrays;
  struct elem stack[EV_MAX_DEPTH];
  size_t depth; /* entries used in stack */
  char **errmsg;
  ch_err err;
};

static bool flat_fail(struct flat *f, ch_err e, const char *msg)
{
  set_err(f->errmsg, "event: %s", msg);
  f->err = e;
  return false;
}

static bool flat_add(struct flat *f, const char *path, const json_t *v)
{
  if(f->n == f->alloc) {
    if(f->alloc >= EV_MAX_LEAVES)
      return flat_fail(f, CH_ERR_TOOBIG, "too many values to match");
    size_t na = f->alloc ? f->alloc * 2 : 64;
    struct evleaf *nv = ch_arena_alloc(f->a, na * sizeof(*nv));
    if(!nv)
      return flat_fail(f, CH_ERR_TOOBIG, "too large to match");
    if(f->n)
      memcpy(nv, f->v, f->n * sizeof(*nv));
    f->v = nv;
    f->alloc = na;
  }
  struct elem *ctx = NULL;
  if(f->depth) {
    ctx = ch_arena_alloc(f->a, f->depth * sizeof(*ctx));
    if(!ctx)
      return flat_fail(f, CH_ERR_TOOBIG, "too large to match");
    memcpy(ctx, f->stack, f->depth * sizeof(*ctx));
  }
  f->v[f->n++] = (struct evleaf){path, v, ctx, f->depth};
  return true;
}

/* The pattern path equal to f->path[0..n), or NULL; *prefix tells
 * whether some pattern path continues it ("a" continues to "a.b"). */
static const char *path_lookup(const struct flat *f, size_t n, bool *prefix)
{
  const char *eq = NULL;
  *prefix = false;
  for(size_t i = 0; i < f->p->npaths; i++) {
    const char *q = f->p->paths[i];
    if(strncmp(q, f->path, n) != 0)
      continue;
    if(q[n] == '\0')
      eq = q;
    else if(q[n] == '.')
      *prefix = true;
  }
  return eq;
}

/* v is at path f->path[0..n) (n == 0: the top object). Only the parts of
 * the event on the pattern's paths are kept, which bounds the work by the
 * pattern rather than by the event. */
static bool flatten(struct flat *f, size_t n, const json_t *v, size_t level)
{
  if(level >= EV_MAX_DEPTH)
    return flat_fail(f, CH_ERR_TOOBIG, "nested too deeply");
  if(json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
      size_t kn = strlen(k), m = n + (level ? 1 : 0) + kn;
      if(m >= sizeof(f->path))
        continue; /* longer than any pattern path */
      if(level)
        f->path[n] = '.';
      memcpy(f->path + m - kn, k, kn);
      f->path[m] = '\0';
      bool prefix;
      const char *eq = path_lookup(f, m, &prefix);
      /* A leaf needs an equal path; objects and arrays may hold either. */
      if(!eq && !prefix)
        continue;
      f->cur = eq;
      if(!flatten(f, m, x, level + 1))
        return false;
    }
    return true;
  }
  if(json_is_array(v)) {
    size_t id = f->arrays++, i;
    const char *cur = f->cur;
    json_t *x;
    json_array_foreach(v, i, x)
    {
      f->stack[f->depth++] = (struct elem){id, i};
      f->cur = cur;
      bool ok = flatten(f, n, x, level + 1);
      f->depth--;
      if(!ok)
        return false;
    }
    return true;
  }
  /* A leaf: kept only when its path is a pattern path. */
  return !f->cur || flat_add(f, f->cur, v);
}

/* --- value matching ----------------------------------------------------- */

static int lower(int ch)
{
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static bool mem_eq(const char *a, const char *b, size_t n, bool icase)
{
  if(!icase)
    return memcmp(a, b, n) == 0;
  for(size_t i = 0; i < n; i++)
    if(lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return false;
  return true;
}

/* Does s[0..n) match the wildcard's segments? The first segment is a
 * prefix, the last a suffix, the middle ones taken leftmost in order
 * (leftmost is optimal when '*' is the only metacharacter). */
static bool wildcard_match(const struct matcher *m, const char *s, size_t n)
{
  if(m->nseg == 1)
    return n == m->seglen[0] && memcmp(s, m->seg[0], n) == 0;
  size_t first = m->seglen[0], last = m->seglen[m->nseg - 1];
  if(first + last > n || memcmp(s, m->seg[0], first) != 0 ||
     memcmp(s + n - last, m->seg[m->nseg - 1], last) != 0)
    return false;
  size_t pos = first, end = n - last;
  for(size_t k = 1; k + 1 < m->nseg; k++) {
    size_t sl = m->seglen[k];
    bool found = false;
    for(; pos + sl <= end; pos++)
      if(memcmp(s + pos, m->seg[k], sl) == 0) {
        found = true;
        break;
      }
    if(!found)
      return false;
    pos += sl;
  }
  return true;
}

static bool cidr_match(const struct matcher *m, const char *s, size_t n)
{
  unsigned char a[16];
  char buf[64];
  if(n >= sizeof(buf) || memchr(s, '\0', n))
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if(inet_pton(m->family, buf, a) != 1)
    return false;
  unsigned bits = m->prefix, i = 0;
  for(; bits >= 8; bits -= 8, i++)
    if(a[i] != m->addr[i])
      return false;
  if(bits) {
    unsigned char mask = (unsigned char)(0xff << (8 - bits));
    if((a[i] & mask) != (m->addr[i] & mask))
      return false;
  }
  return true;
}

static bool value_match(const struct matcher *m, const json_t *v)
{
  const char *s = json_string_value(v);
  size_t n = s ? json_string_length(v) : 0;
  switch(m->kind) {
  case M_STRING:
    return s && n == m->slen && memcmp(s, m->s, n) == 0;
  case M_NUMBER:
    return json_is_number(v) && json_number_value(v) == m->num;
  case M_TRUE:
    return json_is_true(v);
  case M_FALSE:
    return json_is_false(v);
  case M_NULL:
    return json_is_null(v);
  case M_PREFIX:
    if(m->fu)
      return s && ch_fold_match(m->fu, m->nfu, s, n, CH_FOLD_PREFIX);
    return s && n >= m->slen && mem_eq(s, m->s, m->slen, m->icase);
  case M_SUFFIX:
    if(m->fu)
      return s && ch_fold_match(m->fu, m->nfu, s, n, CH_FOLD_SUFFIX);
    return s && n >= m->slen &&
           mem_eq(s + n - m->slen, m->s, m->slen, m->icase);
  case M_EIC:
    if(m->fu) /* forms may differ in length: "ß", "SS" */
      return s && ch_fold_match(m->fu, m->nfu, s, n, CH_FOLD_EQUALS);
    return s && n == m->slen && mem_eq(s, m->s, n, true);
  case M_WILDCARD:
    return s && wildcard_match(m, s, n);
  case M_NUMERIC: {
    if(!json_is_number(v))
      return false;
    double d = json_number_value(v);
    if(m->has_lo && !(m->lo_incl ? d >= m->lo : d > m->lo))
      return false;
    if(m->has_hi && !(m->hi_incl ? d <= m->hi : d < m->hi))
      return false;
    return true;
  }
  case M_EXISTS:
    return m->exists; /* any leaf is present */
  case M_CIDR:
    return s && cidr_match(m, s, n);
  case M_ANYBUT:
    for(size_t i = 0; i < m->ninner; i++)
      if(value_match(&m->inner[i], v))
        return false;
    return true;
  }
  return false;
}

static bool leaf_accepts(const struct leaf *l, const json_t *v)
{
  for(size_t i = 0; i < l->nm; i++)
    if(value_match(&l->m[i], v))
      return true;
  return false;
}

static bool leaf_allows_absence(const struct leaf *l)
{
  for(size_t i = 0; i < l->nm; i++)
    if(l->m[i].kind == M_EXISTS && !l->m[i].exists)
      return true;
  return false;
}

/* Two event leaves agree when they took the same element of every array
 * both passed through. */
static bool consistent(const struct evleaf *a, const struct evleaf *b)
{
  for(size_t i = 0; i < a->nctx; i++)
    for(size_t j = 0; j < b->nctx; j++)
      if(a->ctx[i].array == b->ctx[j].array &&
         a->ctx[i].index != b->ctx[j].index)
        return false;
  return true;
}

struct search {
  const struct flat *f;
  const struct alt *alt;
  const struct evleaf **bound; /* bound[i]: leaf i's event leaf or NULL */
  size_t steps;
  bool exhausted;
};

static bool path_present(const struct flat *f, const char *path)
{
  for(size_t i = 0; i < f->n; i++)
    if(f->v[i].path == path)
      return true;
  return false;
}

/* Bind leaves k.. of the alternative; backtracks over event leaves. */
static bool bind_from(struct search *s, size_t k)
{
  if(k == s->alt->n)
    return true;
  const struct leaf *l = s->alt->v[k];
  if(leaf_allows_absence(l) && !path_present(s->f, l->path)) {
    s->bound[k] = NULL;
    return bind_from(s, k + 1);
  }
  for(size_t i = 0; i < s->f->n; i++) {
    const struct evleaf *e = &s->f->v[i];
    if(++s->steps > MATCH_MAX_STEPS) {
      s->exhausted = true;
      return false;
    }
    if(e->path != l->path || !leaf_accepts(l, e->value))
      continue;
    bool ok = true;
    for(size_t j = 0; j < k && ok; j++)
      ok = !s->bound[j] || consistent(s->bound[j], e);
    if(!ok)
      continue;
    s->bound[k] = e;
    if(bind_from(s, k + 1))
      return true;
    if(s->exhausted)
      return false;
  }
  return false;
}

ch_err certhub_pattern_match_json(const certhub_pattern *p,
                                  const json_t *event, bool *matched,
                                  char **errmsg)
{
  ch_err e = CH_OK;
  struct flat f = {0};
  *matched = false;
  if(errmsg)
    *errmsg = NULL;
  if(!json_is_object(event)) {
    set_err(errmsg, "event: must be a JSON object, not %s",
            event ? type_name(event) : "nothing");
    return CH_ERR_PARSE;
  }
  f.errmsg = errmsg;
  if(!(f.a = ch_arena_new(EV_ARENA_CAP)))
    return CH_ERR_NOMEM;
  f.p = p;
  if(!flatten(&f, 0, event, 0)) {
    e = f.err;
    goto out;
  }
  for(size_t i = 0; i < p->dnf.n && !*matched; i++) {
    const struct alt *a = &p->dnf.v[i];
    struct search s = {&f, a, NULL, 0, false};
    if(a->n && !(s.bound = ch_arena_alloc(f.a, a->n * sizeof(*s.bound)))) {
      flat_fail(&f, CH_ERR_TOOBIG, "too large to match");
      e = f.err;
      goto out;
    }
    /* A leaf no event leaf can satisfy fails the alternative at once,
     * without a search over the others. */
    bool possible = true;
    for(size_t k = 0; k < a->n && possible; k++) {
      const struct leaf *l = a->v[k];
      possible = leaf_allows_absence(l) && !path_present(&f, l->path);
      for(size_t j = 0; j < f.n && !possible; j++)
        possible = f.v[j].path == l->path && leaf_accepts(l, f.v[j].value);
    }
    if(!possible)
      continue;
    *matched = bind_from(&s, 0);
    if(s.exhausted) {
      set_err(errmsg,
              "event: too complex to match against this pattern "
              "(more than %d steps)",
              MATCH_MAX_STEPS);
      *matched = false;
      e = CH_ERR_TOOBIG;
      goto out;
    }
  }
out:
  ch_arena_free(f.a);
  return e;
}

ch_err certhub_pattern_match(const certhub_pattern *p, const char *event_json,
                             size_t len, bool *matched, char **errmsg)
{
  *matched = false;
  if(errmsg)
    *errmsg = NULL;
  if(len > CERTHUB_EVENT_MAX_LEN) {
    set_err(errmsg, "event: %zu bytes, larger than the limit of %d", len,
            CERTHUB_EVENT_MAX_LEN);
    return CH_ERR_TOOBIG;
  }
  json_error_t jerr;
  json_t *ev = json_loadb(event_json, len, JSON_DECODE_ANY, &jerr);
  if(!ev) {
    set_err(errmsg, "event: invalid JSON at line %d column %d: %s", jerr.line,
            jerr.column, jerr.text);
    return CH_ERR_PARSE;
  }
  ch_err e = certhub_pattern_match_json(p, ev, matched, errmsg);
  json_decref(ev);
  return e;
}
