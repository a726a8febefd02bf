/*
 * SNS filter policies (certhub/notify_filter.h): SNS's validation on top
 * of the event bus's pattern language, matching by the bus's ruleset.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/notify_filter.h"
#include "certhub/ruleset.h"
#include "core/core.h"
#include "filter_hook.h"
#include "rules/pattern_int.h"

struct certhub_filter_policy {
  certhub_filter_scope scope;
  certhub_ruleset *rs;
  certhub_match_scratch *scratch;
  bool empty; /* {}: accepts every message */
};

static ch_err fail(char **why, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ch_err fail(char **why, ch_err rc, const char *fmt, ...)
{
  if(why && !*why) {
    va_list ap;
    va_start(ap, fmt);
    if(vasprintf(why, fmt, ap) < 0)
      *why = NULL;
    va_end(ap);
  }
  return rc;
}

ch_err certhub_filter_scope_parse(const char *s, certhub_filter_scope *scope)
{
  if(!s || !strcmp(s, "MessageAttributes")) {
    *scope = CERTHUB_FILTER_ATTRIBUTES;
    return CH_OK;
  }
  if(!strcmp(s, "MessageBody")) {
    *scope = CERTHUB_FILTER_BODY;
    return CH_OK;
  }
  return CH_ERR_PARSE;
}

/* ---- SNS validation ------------------------------------------------------
 */

typedef struct vstate {
  certhub_filter_scope scope;
  const char *keys[CERTHUB_FILTER_MAX_KEYS + 1]; /* distinct leaf paths */
  char *own[CERTHUB_FILTER_MAX_KEYS + 1];
  size_t nkeys;
  char **why;
} vstate;

static ch_err add_key(vstate *v, const char *path)
{
  for(size_t i = 0; i < v->nkeys; i++)
    if(!strcmp(v->keys[i], path))
      return CH_OK;
  if(v->nkeys >= CERTHUB_FILTER_MAX_KEYS)
    return fail(v->why, CH_ERR_TOOBIG,
                "FilterPolicy: Filter policy can not have more than %d keys",
                CERTHUB_FILTER_MAX_KEYS);
  if(!(v->own[v->nkeys] = strdup(path)))
    return CH_ERR_NOMEM;
  v->keys[v->nkeys] = v->own[v->nkeys];
  v->nkeys++;
  return CH_OK;
}

static ch_err check_number(vstate *v, const char *path, const json_t *n)
{
  double d = json_number_value(n);
  if(!isfinite(d) || fabs(d) > CERTHUB_FILTER_NUMBER_LIMIT)
    return fail(v->why, CH_ERR_PARSE,
                "FilterPolicy: %s: numbers must be between -1.0E9 and 1.0E9",
                path);
  return CH_OK;
}

/* The value of an operator object {"op": x}. */
static ch_err check_operator(vstate *v, const char *path, json_t *o)
{
  if(json_object_size(o) != 1)
    return fail(v->why, CH_ERR_PARSE,
                "FilterPolicy: %s: an operator object has exactly one key, "
                "found %zu",
                path, json_object_size(o));
  const char *op = json_object_iter_key(json_object_iter(o));
  json_t *x = json_object_iter_value(json_object_iter(o));
  if(!strcmp(op, "numeric")) {
    size_t i;
    json_t *e;
    if(!json_is_array(x))
      return fail(v->why, CH_ERR_PARSE,
                  "FilterPolicy: %s: Value of numeric must be an array", path);
    json_array_foreach(x, i, e)
    {
      if(i % 2 == 1) {
        if(!json_is_number(e))
          return fail(v->why, CH_ERR_PARSE,
                      "FilterPolicy: %s: Value of %s must be numeric", path,
                      json_string_value(json_array_get(x, i - 1))
                          ? json_string_value(json_array_get(x, i - 1))
                          : "numeric");
        ch_err rc = check_number(v, path, e);
        if(rc)
          return rc;
      }
    }
    return CH_OK; /* operator names and order: the pattern compiler */
  }
  if(!strcmp(op, "anything-but")) {
    size_t i;
    json_t *e;
    if(json_is_number(x))
      return check_number(v, path, x);
    json_array_foreach(x, i, e)
    {
      if(json_is_number(e)) {
        ch_err rc = check_number(v, path, e);
        if(rc)
          return rc;
      }
    }
    if(json_is_object(x) && json_object_size(x) == 1) {
      const char *in = json_object_iter_key(json_object_iter(x));
      if(strcmp(in, "prefix") && strcmp(in, "suffix") &&
         strcmp(in, "equals-ignore-case"))
        return fail(v->why, CH_ERR_PARSE,
                    "FilterPolicy: %s: Unsupported anything-but pattern: %s",
                    path, in);
    }
    return CH_OK;
  }
  if(!strcmp(op, "prefix") || !strcmp(op, "suffix") ||
     !strcmp(op, "equals-ignore-case") || !strcmp(op, "exists") ||
     !strcmp(op, "cidr"))
    return CH_OK; /* their values: the pattern compiler */
  return fail(v->why, CH_ERR_PARSE,
              "FilterPolicy: %s: Unrecognized match type %.100s", path, op);
}

static ch_err check_object(vstate *v, const char *parent, json_t *o,
                           size_t depth, size_t *combos);

/* A value array: its size is its combinations. */
static ch_err check_values(vstate *v, const char *path, json_t *a)
{
  size_t i;
  json_t *e;
  if(!json_array_size(a))
    return fail(v->why, CH_ERR_PARSE,
                "FilterPolicy: %s: Empty arrays are not allowed", path);
  json_array_foreach(a, i, e)
  {
    ch_err rc = CH_OK;
    if(json_is_object(e))
      rc = check_operator(v, path, e);
    else if(json_is_number(e))
      rc = check_number(v, path, e);
    else if(json_is_array(e))
      rc = fail(v->why, CH_ERR_PARSE,
                "FilterPolicy: %s: Match value must be String, number, true, "
                "false, or null",
                path);
    if(rc)
      return rc;
  }
  return CH_OK;
}

/* acc *= n, saturating well above the limit (the check reports it) */
static void mul_combos(size_t *acc, size_t n)
{
  *acc = (n && *acc > 100000 / n) ? 100000 : *acc * n;
}

static ch_err check_object(vstate *v, const char *parent, json_t *o,
                           size_t depth, size_t *combos)
{
  const char *k;
  json_t *x;
  *combos = 1;
  if(depth > CERTHUB_FILTER_MAX_DEPTH)
    return fail(v->why, CH_ERR_TOOBIG,
                "FilterPolicy: %s: nested deeper than %d levels",
                parent && *parent ? parent : "(top)",
                CERTHUB_FILTER_MAX_DEPTH);
  if(!json_object_size(o) && depth > 0)
    return fail(v->why, CH_ERR_PARSE,
                "FilterPolicy: %s: Empty objects are not allowed",
                parent && *parent ? parent : "(top)");
  json_object_foreach(o, k, x)
  {
    char path[CERTHUB_FILTER_MAX_KEY_LEN + 1];
    ch_err rc = CH_OK;
    size_t n = 1;
    bool is_or = !strcmp(k, "$or") && json_is_array(x) &&
                 json_array_size(x) >= 2 &&
                 json_is_object(json_array_get(x, 0));
    if(is_or) {
      size_t i, sum = 0;
      json_t *alt;
      json_array_foreach(x, i, alt)
      {
        size_t c = 1;
        if(!json_is_object(alt))
          return fail(v->why, CH_ERR_PARSE,
                      "FilterPolicy: $or: every alternative must be an "
                      "object");
        if((rc = check_object(v, parent, alt, depth, &c)))
          return rc;
        sum = sum + c > 100000 ? 100000 : sum + c;
      }
      mul_combos(combos, sum);
      continue;
    }
    int w = snprintf(path, sizeof(path), "%s%s%s", parent ? parent : "",
                     parent && *parent ? "." : "", k);
    if(w < 0 || (size_t)w >= sizeof(path))
      return fail(v->why, CH_ERR_TOOBIG,
                  "FilterPolicy: key '%.60s...' is longer than %d bytes", k,
                  CERTHUB_FILTER_MAX_KEY_LEN);
    if(json_is_object(x)) {
      if(v->scope == CERTHUB_FILTER_ATTRIBUTES)
        return fail(v->why, CH_ERR_PARSE,
                    "FilterPolicy: Filter policy scope MessageAttributes does "
                    "not support nested filter policy (key '%s')",
                    path);
      if((rc = check_object(v, path, x, depth + 1, &n)))
        return rc;
    }
    else if(json_is_array(x)) {
      if((rc = add_key(v, path)) || (rc = check_values(v, path, x)))
        return rc;
      n = json_array_size(x);
    }
    else
      return fail(v->why, CH_ERR_PARSE,
                  "FilterPolicy: %s: match values must be in an array", path);
    mul_combos(combos, n);
  }
  return CH_OK;
}

static bool utf8_ok(const unsigned char *p, size_t n)
{
  for(size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t k = c < 0x80         ? 1
               : (c >> 5) == 6  ? 2
               : (c >> 4) == 14 ? 3
               : (c >> 3) == 30 ? 4
                                : 0;
    if(!k || i + k > n)
      return false;
    for(size_t j = 1; j < k; j++)
      if((p[i + j] & 0xc0) != 0x80)
        return false;
    i += k;
  }
  return true;
}

ch_err certhub_filter_policy_compile(const char *policy_json,
                                     certhub_filter_scope scope,
                                     certhub_filter_policy **out, char **why)
{
  vstate v = {.scope = scope, .why = why};
  certhub_filter_policy *p = NULL;
  json_t *root = NULL;
  ch_err rc = CH_OK;
  char *perr = NULL;
  if(why)
    *why = NULL;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(!policy_json)
    return fail(why, CH_ERR_USAGE, "FilterPolicy: no policy");
  size_t len = strnlen(policy_json, CERTHUB_FILTER_MAX_LEN + 1);
  if(len > CERTHUB_FILTER_MAX_LEN) {
    rc = fail(why, CH_ERR_TOOBIG,
              "FilterPolicy: Filter policy is larger than %d bytes (256 KB)",
              CERTHUB_FILTER_MAX_LEN);
    goto out;
  }
  if(!utf8_ok((const unsigned char *)policy_json, len)) {
    rc = fail(why, CH_ERR_PARSE, "FilterPolicy: not a valid UTF-8 string");
    goto out;
  }
  json_error_t je;
  root = json_loadb(policy_json, len, JSON_REJECT_DUPLICATES, &je);
  if(!root) {
    rc = fail(why, CH_ERR_PARSE,
              "FilterPolicy: failed to parse JSON at line %d column %d: %s",
              je.line, je.column, je.text);
    goto out;
  }
  if(!json_is_object(root)) {
    rc = fail(why, CH_ERR_PARSE,
              "FilterPolicy: Filter policy must be a JSON object");
    goto out;
  }
  size_t combos = 1;
  if((rc = check_object(&v, "", root, 0, &combos)))
    goto out;
  if(combos > CERTHUB_FILTER_MAX_COMBOS) {
    rc = fail(why, CH_ERR_TOOBIG,
              "FilterPolicy: Filter policy is too complex (%s%zu value "
              "combinations, at most %d)",
              combos >= 100000 ? "over " : "", combos,
              CERTHUB_FILTER_MAX_COMBOS);
    goto out;
  }
  if(!(p = calloc(1, sizeof(*p)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  p->scope = scope;
  p->empty = json_object_size(root) == 0;
  if((rc = certhub_ruleset_new(&p->rs)) ||
     (rc = certhub_match_scratch_new(&p->scratch)))
    goto out;
  if(!p->empty) {
    rc = ch_ruleset_add_max(p->rs, "policy", policy_json, len,
                            CERTHUB_FILTER_MAX_LEN, NULL, &perr);
    if(rc) {
      /* the bus's wording, under SNS's prefix */
      const char *m = perr ? perr : certhub_strerror(rc);
      if(!strncmp(m, "pattern ", 8))
        m += 8;
      else if(!strncmp(m, "pattern: ", 9))
        m += 9;
      fail(why, rc, "FilterPolicy: %s", m);
      goto out;
    }
  }
  *out = p;
  p = NULL;
out:
  for(size_t i = 0; i < v.nkeys; i++)
    free(v.own[i]);
  free(perr);
  json_decref(root);
  certhub_filter_policy_free(p);
  return rc;
}

/* ---- matching ------------------------------------------------------------
 */

/* A Number attribute's value as a JSON number: an integer when it is one
 * that fits, else a real; NULL when it is not a finite decimal number. */
static json_t *number_value(const char *v)
{
  const char *p = v + (*v == '+' || *v == '-');
  char *end = NULL;
  if(!((*p >= '0' && *p <= '9') || *p == '.') || strpbrk(v, "xXpP"))
    return NULL;
  double d = strtod(v, &end);
  if(!end || *end || !isfinite(d))
    return NULL;
  if(!strpbrk(v, ".eE") && fabs(d) < 9e15)
    return json_integer((json_int_t)strtoll(v, NULL, 10));
  return json_real(d);
}

/* The MessageAttributes object as an event: {"name": value}. */
static ch_err attrs_event(const char *attributes_json, json_t **out,
                          char **why)
{
  json_error_t je;
  json_t *in = NULL, *ev = json_object();
  ch_err rc = CH_OK;
  const char *name;
  json_t *a;
  *out = NULL;
  if(!ev)
    return CH_ERR_NOMEM;
  if(!attributes_json) {
    *out = ev;
    return CH_OK;
  }
  in = json_loads(attributes_json, JSON_REJECT_DUPLICATES, &je);
  if(!in || !json_is_object(in)) {
    rc = fail(why, CH_ERR_PARSE, "MessageAttributes: not a JSON object%s%s",
              in ? "" : ": ", in ? "" : je.text);
    goto out;
  }
  json_object_foreach(in, name, a)
  {
    const char *type = json_string_value(json_object_get(a, "Type"));
    const char *val = json_string_value(json_object_get(a, "Value"));
    if(!type)
      type = json_string_value(json_object_get(a, "DataType"));
    if(!val)
      val = json_string_value(json_object_get(a, "StringValue"));
    if(!type) {
      rc = fail(why, CH_ERR_PARSE,
                "MessageAttributes: attribute '%.200s' has no Type", name);
      goto out;
    }
    /* "Number.float", "String.custom": SNS's custom type suffixes */
    bool is_num =
        !strncmp(type, "Number", 6) && (type[6] == '\0' || type[6] == '.');
    bool is_arr = !strcmp(type, "String.Array");
    bool is_str = !is_arr && !strncmp(type, "String", 6) &&
                  (type[6] == '\0' || type[6] == '.');
    if(!strncmp(type, "Binary", 6))
      continue; /* SNS does not compare Binary attributes */
    if(!is_num && !is_arr && !is_str) {
      rc = fail(why, CH_ERR_PARSE,
                "MessageAttributes: attribute '%.200s' has unknown Type "
                "'%.50s'",
                name, type);
      goto out;
    }
    if(!val) {
      rc = fail(why, CH_ERR_PARSE,
                "MessageAttributes: attribute '%.200s' has no string Value",
                name);
      goto out;
    }
    json_t *j = NULL;
    if(is_str)
      j = json_string(val);
    else if(is_num) {
      /* SNS's Number syntax is wider than JSON's ("+5", "007", "1.");
       * compare by value */
      if(!(j = number_value(val))) {
        rc = fail(why, CH_ERR_PARSE,
                  "MessageAttributes: attribute '%.200s' of Type %s has an "
                  "invalid Value",
                  name, type);
        goto out;
      }
    }
    else {
      j = json_loads(val, JSON_DECODE_ANY, NULL);
      if(!j || (is_num && !json_is_number(j)) ||
         (is_arr && !json_is_array(j))) {
        json_decref(j);
        rc = fail(why, CH_ERR_PARSE,
                  "MessageAttributes: attribute '%.200s' of Type %s has an "
                  "invalid Value",
                  name, type);
        goto out;
      }
    }
    if(!j || json_object_set_new(ev, name, j)) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  *out = ev;
  ev = NULL;
out:
  json_decref(in);
  json_decref(ev);
  return rc;
}

ch_err ch_filter_attrs_text(const char *attributes_json, char **text,
                            char **why)
{
  json_t *ev = NULL;
  *text = NULL;
  ch_err rc = attrs_event(attributes_json, &ev, why);
  if(!rc && !(*text = json_dumps(ev, JSON_COMPACT)))
    rc = CH_ERR_NOMEM;
  json_decref(ev);
  return rc;
}

ch_err ch_filter_accepts_text(certhub_filter_policy *p, const char *attrs_text,
                              const char *message, size_t len, bool *accepted,
                              char **why)
{
  const size_t *hits = NULL;
  size_t nhits = 0;
  char *merr = NULL;
  ch_err rc = CH_OK;
  if(why)
    *why = NULL;
  if(!p || !accepted)
    return CH_ERR_USAGE;
  *accepted = false;
  if(p->empty) {
    *accepted = true;
    return CH_OK;
  }
  if(p->scope == CERTHUB_FILTER_ATTRIBUTES) {
    if(!attrs_text)
      return CH_ERR_USAGE;
    rc = certhub_ruleset_match(p->rs, p->scratch, attrs_text,
                               strlen(attrs_text), &hits, &nhits, &merr);
  }
  else {
    if(!message)
      return CH_OK;
    rc = certhub_ruleset_match(p->rs, p->scratch, message, len, &hits, &nhits,
                               &merr);
    if(rc == CH_ERR_PARSE) {
      /* SNS: a body that is not a JSON object is filtered out */
      rc = CH_OK;
      nhits = 0;
    }
  }
  if(rc)
    fail(why, rc, "filter policy: %s", merr ? merr : certhub_strerror(rc));
  else
    *accepted = nhits > 0;
  free(merr);
  return rc;
}

ch_err certhub_filter_policy_accepts(certhub_filter_policy *p,
                                     const char *attributes_json,
                                     const char *message, size_t len,
                                     bool *accepted, char **why)
{
  char *text = NULL;
  ch_err rc = CH_OK;
  if(why)
    *why = NULL;
  if(!p || !accepted)
    return CH_ERR_USAGE;
  *accepted = false;
  /* malformed attributes are an error under MessageAttributes scope, even
   * for the empty policy, as before */
  if(p->scope == CERTHUB_FILTER_ATTRIBUTES &&
     (rc = ch_filter_attrs_text(attributes_json, &text, why)))
    return rc;
  rc = ch_filter_accepts_text(p, text, message, len, accepted, why);
  free(text);
  return rc;
}

certhub_filter_scope
certhub_filter_policy_scope(const certhub_filter_policy *p)
{
  return p->scope;
}

void certhub_filter_policy_free(certhub_filter_policy *p)
{
  if(!p)
    return;
  certhub_ruleset_free(p->rs);
  certhub_match_scratch_free(p->scratch);
  free(p);
}
