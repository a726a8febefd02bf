/*
 * Input shaping of a target: Input, InputPath, InputTransformer (the rules
 * are in include/certhub/target.h). The template is compiled once at parse
 * time into literal pieces and placeholders, each placeholder knowing
 * whether it sits inside a JSON string; delivery only walks the pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/event.h"
#include "certhub/time.h"
#include "target_int.h"

#define PATH_MAX_LEN 256
#define PATH_MAX_STEPS 64
#define MAP_MAX 100
#define VAR_MAX_LEN 64
#define TEMPLATE_MAX 8192
#define TEMPLATE_DEPTH 64 /* nesting of [ and { outside strings */

struct step {
  char *name; /* member, or NULL for an index */
  size_t index;
};

struct path {
  struct step *steps;
  size_t n;
};

enum predef {
  PD_NONE = 0,
  PD_RULE_NAME,
  PD_RULE_ARN,
  PD_EVENT,
  PD_EVENT_JSON,
  PD_INGESTION_TIME,
};

static const struct {
  const char *name;
  enum predef id;
} predefs[] = {
    {"aws.events.rule-name", PD_RULE_NAME},
    {"aws.events.rule-arn", PD_RULE_ARN},
    {"aws.events.event", PD_EVENT},
    {"aws.events.event.json", PD_EVENT_JSON},
    {"aws.events.event.ingestion-time", PD_INGESTION_TIME},
};

struct piece {
  size_t off, len; /* literal text in tmpl, when var < 0 && !pd */
  int var;         /* index into vars, or -1 */
  enum predef pd;
  bool in_string;
};

enum kind { K_CONST, K_PATH, K_TRANSFORM };

struct ch_input {
  enum kind kind;
  char *constant; /* K_CONST */
  size_t clen;
  struct path path; /* K_PATH */
  struct {          /* K_TRANSFORM */
    char *name;
    struct path path;
  } * vars;
  size_t nvars;
  char *tmpl;
  bool tmpl_json;
  struct piece *pieces;
  size_t npieces;
};

static void path_free(struct path *p)
{
  for(size_t i = 0; i < p->n; i++)
    free(p->steps[i].name);
  ch_safefree(p->steps);
  p->n = 0;
}

static bool name_char(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '/';
}

/* "$", "$.a.b[0].c": what EventBridge documents (dot notation, array
 * indices); wildcards and bracketed names are not supported. */
static ch_err path_parse(const char *field, const char *s, struct path *p,
                         char **errmsg)
{
  ch_err rc = CH_OK;
  size_t n = strlen(s);
  memset(p, 0, sizeof(*p));
  if(n == 0 || n > PATH_MAX_LEN)
    return ch_target_err(errmsg, "%s: a path must be 1-%d characters", field,
                         PATH_MAX_LEN);
  if(s[0] != '$')
    return ch_target_err(errmsg, "%s: path \"%s\" must start with '$'", field,
                         s);
  p->steps = calloc(PATH_MAX_STEPS, sizeof(*p->steps));
  if(!p->steps)
    return CH_ERR_NOMEM;
  size_t i = 1;
  while(i < n) {
    if(p->n == PATH_MAX_STEPS) {
      rc = ch_target_err(errmsg, "%s: path \"%s\" has more than %d steps",
                         field, s, PATH_MAX_STEPS);
      goto out;
    }
    struct step *st = &p->steps[p->n];
    if(strchr(".[", s[i]) && i + 1 < n && s[i + 1] == '*') {
      rc = ch_target_err(errmsg,
                         "%s: path \"%s\": wildcards (*) are not supported "
                         "(offset %zu)",
                         field, s, i + 1);
      goto out;
    }
    if(s[i] == '.') {
      size_t j = i + 1;
      while(j < n && name_char((unsigned char)s[j]))
        j++;
      if(j == i + 1) {
        rc = ch_target_err(errmsg,
                           "%s: path \"%s\": expected a member name after "
                           "'.' at offset %zu (A-Z a-z 0-9 _ - /)",
                           field, s, i);
        goto out;
      }
      st->name = strndup(s + i + 1, j - i - 1);
      if(!st->name) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      p->n++;
      i = j;
    }
    else if(s[i] == '[') {
      size_t j = i + 1, v = 0;
      while(j < n && s[j] >= '0' && s[j] <= '9' && j - i <= 9)
        v = v * 10 + (size_t)(s[j++] - '0');
      if(j == i + 1 || j >= n || s[j] != ']') {
        rc = ch_target_err(errmsg,
                           "%s: path \"%s\": expected an index [n] (at most "
                           "9 digits) at offset %zu",
                           field, s, i);
        goto out;
      }
      st->index = v;
      p->n++;
      i = j + 1;
    }
    else {
      rc = ch_target_err(errmsg,
                         "%s: path \"%s\": unexpected '%c' at offset %zu "
                         "(supported: $, .name, [n])",
                         field, s, s[i], i);
      goto out;
    }
  }
out:
  if(rc)
    path_free(p);
  return rc;
}

/* Borrowed value at the path, or NULL. */
static json_t *path_eval(const struct path *p, json_t *v)
{
  for(size_t i = 0; v && i < p->n; i++) {
    if(p->steps[i].name)
      v = json_is_object(v) ? json_object_get(v, p->steps[i].name) : NULL;
    else
      v = json_is_array(v) ? json_array_get(v, p->steps[i].index) : NULL;
  }
  return v;
}

void ch_input_free(ch_input *in)
{
  if(!in)
    return;
  free(in->constant);
  path_free(&in->path);
  for(size_t i = 0; i < in->nvars; i++) {
    free(in->vars[i].name);
    path_free(&in->vars[i].path);
  }
  free(in->vars);
  free(in->tmpl);
  free(in->pieces);
  free(in);
}

static bool var_char(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static ch_err parse_map(json_t *map, ch_input *in, char **errmsg)
{
  const char *k;
  json_t *v;
  if(!json_is_object(map))
    return ch_target_err(errmsg, "InputTransformer.InputPathsMap: must be "
                                 "an object of variable: path");
  if(json_object_size(map) > MAP_MAX)
    return ch_target_err(errmsg,
                         "InputTransformer.InputPathsMap: at most %d "
                         "variables (got %zu)",
                         MAP_MAX, json_object_size(map));
  in->vars = calloc(json_object_size(map) + 1, sizeof(*in->vars));
  if(!in->vars)
    return CH_ERR_NOMEM;
  json_object_foreach(map, k, v)
  {
    size_t kl = strlen(k);
    if(strncmp(k, "aws.", 4) == 0)
      return ch_target_err(
          errmsg,
          "InputTransformer.InputPathsMap: variable \"%.64s\" "
          "may not start with \"aws.\" (reserved)",
          k);
    bool ok = kl >= 1 && kl <= VAR_MAX_LEN;
    for(size_t i = 0; ok && i < kl; i++)
      ok = var_char((unsigned char)k[i]);
    if(!ok)
      return ch_target_err(errmsg,
                           "InputTransformer.InputPathsMap: variable name "
                           "\"%.64s\" must be 1-%d characters of A-Z a-z 0-9 "
                           "_ -",
                           k, VAR_MAX_LEN);
    if(!json_is_string(v))
      return ch_target_err(errmsg,
                           "InputTransformer.InputPathsMap.%s: must be a "
                           "JSON path string",
                           k);
    char field[128];
    snprintf(field, sizeof(field), "InputTransformer.InputPathsMap.%s", k);
    in->vars[in->nvars].name = strdup(k);
    if(!in->vars[in->nvars].name)
      return CH_ERR_NOMEM;
    ch_err rc = path_parse(field, json_string_value(v),
                           &in->vars[in->nvars].path, errmsg);
    in->nvars++;
    if(rc)
      return rc;
  }
  return CH_OK;
}

/* Placeholder <name> at t[i] ('<'): its variable or predefined id, and
 * the index past '>'; false when this '<' starts no known placeholder. */
static bool placeholder(const ch_input *in, const char *t, size_t n, size_t i,
                        int *var, enum predef *pd, size_t *end)
{
  size_t j = i + 1;
  while(j < n && (var_char((unsigned char)t[j]) || t[j] == '.'))
    j++;
  if(j == i + 1 || j >= n || t[j] != '>')
    return false;
  size_t len = j - i - 1;
  *var = -1;
  *pd = PD_NONE;
  for(size_t k = 0; k < in->nvars; k++)
    if(strlen(in->vars[k].name) == len &&
       memcmp(in->vars[k].name, t + i + 1, len) == 0)
      *var = (int)k;
  for(size_t k = 0; *var < 0 && k < CH_ARRAY_LEN(predefs); k++)
    if(strlen(predefs[k].name) == len &&
       memcmp(predefs[k].name, t + i + 1, len) == 0)
      *pd = predefs[k].id;
  *end = j + 1;
  return *var >= 0 || *pd != PD_NONE;
}

static ch_err add_piece(ch_input *in, size_t *alloc, struct piece p)
{
  if(in->npieces == *alloc) {
    size_t na = *alloc ? *alloc * 2 : 16;
    struct piece *np = realloc(in->pieces, na * sizeof(*np));
    if(!np)
      return CH_ERR_NOMEM;
    in->pieces = np;
    *alloc = na;
  }
  in->pieces[in->npieces++] = p;
  return CH_OK;
}

/* Split the template into pieces, tracking JSON string state; then decide
 * whether it is a JSON template by parsing it with every placeholder
 * filled by a neutral value (null outside quotes, nothing inside). */
static ch_err compile_template(ch_input *in, char **errmsg)
{
  ch_err rc = CH_OK;
  const char *t = in->tmpl;
  size_t n = strlen(t), alloc = 0, lit = 0, i = 0, depth = 0, maxdepth = 0;
  bool str = false;
  ch_buf probe;
  ch_buf_init(&probe, 4 * TEMPLATE_MAX + 16);
  while(i < n) {
    int var;
    enum predef pd;
    size_t end;
    if(t[i] == '<' && placeholder(in, t, n, i, &var, &pd, &end)) {
      if(i > lit &&
         (rc = add_piece(in, &alloc,
                         (struct piece){lit, i - lit, -1, PD_NONE, str})))
        goto out;
      if((rc =
              add_piece(in, &alloc, (struct piece){i, end - i, var, pd, str})))
        goto out;
      if((rc = ch_buf_addstr(&probe, str ? "" : "null")))
        goto out;
      i = lit = end;
      continue;
    }
    if(str && t[i] == '\\' && i + 1 < n) {
      if((rc = ch_buf_add(&probe, t + i, 2)))
        goto out;
      i += 2;
      continue;
    }
    if(t[i] == '"')
      str = !str;
    else if(!str && (t[i] == '[' || t[i] == '{') && ++depth > maxdepth)
      maxdepth = depth;
    else if(!str && (t[i] == ']' || t[i] == '}') && depth > 0)
      depth--;
    if((rc = ch_buf_addc(&probe, t[i])))
      goto out;
    i++;
  }
  if(i > lit &&
     (rc = add_piece(in, &alloc,
                     (struct piece){lit, i - lit, -1, PD_NONE, str})))
    goto out;

  size_t s = strspn(t, " \t\r\n");
  if((t[s] == '{' || t[s] == '[') && maxdepth > TEMPLATE_DEPTH) {
    /* Deeper templates are no use, and values inserted into them could
     * pass the depth JSON parsers accept. */
    rc = ch_target_err(errmsg,
                       "InputTransformer.InputTemplate: nested more than %d "
                       "levels deep",
                       TEMPLATE_DEPTH);
    goto out;
  }
  json_error_t je;
  json_t *j = json_loadb(probe.data ? probe.data : "", probe.len,
                         JSON_DECODE_ANY, &je);
  in->tmpl_json = j != NULL && (t[s] == '{' || t[s] == '[' || t[s] == '"');
  json_decref(j);
  if(!in->tmpl_json && (t[s] == '{' || t[s] == '[')) {
    rc = ch_target_err(errmsg,
                       "InputTransformer.InputTemplate: starts like JSON but "
                       "is not valid JSON with its placeholders filled: %s "
                       "(near character %d)",
                       je.text, je.position);
    goto out;
  }
  for(size_t k = 0; in->tmpl_json && k < in->npieces; k++) {
    const struct piece *p = &in->pieces[k];
    if(p->in_string && (p->pd == PD_EVENT || p->pd == PD_EVENT_JSON)) {
      rc = ch_target_err(errmsg,
                         "InputTransformer.InputTemplate: <%.*s> can only be "
                         "a JSON value, not inside a string",
                         (int)(p->len - 2), t + p->off + 1);
      goto out;
    }
  }
out:
  ch_buf_free(&probe);
  return rc;
}

static ch_err parse_transformer(json_t *tr, ch_input *in, char **errmsg)
{
  const char *k;
  json_t *v;
  if(!json_is_object(tr))
    return ch_target_err(errmsg, "InputTransformer: must be an object with "
                                 "InputPathsMap and InputTemplate");
  json_object_foreach(tr, k, v)
  {
    if(strcmp(k, "InputPathsMap") != 0 && strcmp(k, "InputTemplate") != 0)
      return ch_target_err(errmsg, "InputTransformer: unknown key \"%.64s\"",
                           k);
  }
  json_t *map = json_object_get(tr, "InputPathsMap");
  json_t *tmpl = json_object_get(tr, "InputTemplate");
  ch_err rc;
  if(map && (rc = parse_map(map, in, errmsg)))
    return rc;
  if(!tmpl)
    return ch_target_err(errmsg, "InputTransformer.InputTemplate: required");
  if(!json_is_string(tmpl))
    return ch_target_err(errmsg,
                         "InputTransformer.InputTemplate: must be a string");
  size_t tl = json_string_length(tmpl);
  if(tl == 0 || tl > TEMPLATE_MAX)
    return ch_target_err(errmsg,
                         "InputTransformer.InputTemplate: must be 1-%d "
                         "characters (got %zu)",
                         TEMPLATE_MAX, tl);
  if(strlen(json_string_value(tmpl)) != tl)
    return ch_target_err(errmsg, "InputTransformer.InputTemplate: contains "
                                 "a NUL character");
  in->tmpl = strdup(json_string_value(tmpl));
  if(!in->tmpl)
    return CH_ERR_NOMEM;
  return compile_template(in, errmsg);
}

ch_err ch_input_parse(json_t *spec, ch_input **out, char **errmsg)
{
  ch_err rc = CH_OK;
  json_t *c = json_object_get(spec, "Input");
  json_t *p = json_object_get(spec, "InputPath");
  json_t *tr = json_object_get(spec, "InputTransformer");
  *out = NULL;
  if((c != NULL) + (p != NULL) + (tr != NULL) > 1)
    return ch_target_err(errmsg, "Input, InputPath and InputTransformer: "
                                 "at most one may be given");
  if(!c && !p && !tr)
    return CH_OK;
  ch_input *in = calloc(1, sizeof(*in));
  if(!in)
    return CH_ERR_NOMEM;
  if(c) {
    in->kind = K_CONST;
    if(!json_is_string(c)) {
      rc = ch_target_err(errmsg, "Input: must be a string of JSON text");
      goto out;
    }
    size_t cl = json_string_length(c);
    if(cl == 0 || cl > 8192) {
      rc = ch_target_err(errmsg, "Input: must be 1-8192 characters");
      goto out;
    }
    json_error_t je;
    json_t *j = json_loadb(json_string_value(c), cl, JSON_DECODE_ANY, &je);
    if(!j) {
      rc = ch_target_err(errmsg,
                         "Input: not valid JSON: %s (near character "
                         "%d)",
                         je.text, je.position);
      goto out;
    }
    json_decref(j);
    in->constant = strndup(json_string_value(c), cl);
    in->clen = cl;
    if(!in->constant)
      rc = CH_ERR_NOMEM;
  }
  else if(p) {
    in->kind = K_PATH;
    if(!json_is_string(p))
      rc = ch_target_err(errmsg, "InputPath: must be a JSON path string");
    else
      rc = path_parse("InputPath", json_string_value(p), &in->path, errmsg);
  }
  else {
    in->kind = K_TRANSFORM;
    rc = parse_transformer(tr, in, errmsg);
  }
out:
  if(rc)
    ch_input_free(in);
  else
    *out = in;
  return rc;
}

/* Append v as compact JSON. */
static ch_err add_json(ch_buf *b, json_t *v)
{
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                              JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  if(!s)
    return CH_ERR_NOMEM;
  ch_err rc = ch_buf_addstr(b, s);
  free(s);
  return rc;
}

/* Append s[0..n) as the inside of a JSON string. */
static ch_err add_escaped(ch_buf *b, const char *s, size_t n)
{
  json_t *js = json_stringn_nocheck(s, n);
  if(!js)
    return CH_ERR_NOMEM;
  char *d = json_dumps(js, JSON_ENCODE_ANY);
  json_decref(js);
  if(!d)
    return CH_ERR_NOMEM;
  size_t dl = strlen(d);
  ch_err rc = dl >= 2 ? ch_buf_add(b, d + 1, dl - 2) : CH_ERR_INTERNAL;
  free(d);
  return rc;
}

static ch_err add_value(ch_buf *b, json_t *v, bool json_tmpl, bool in_str)
{
  if(!v) /* certhub: missing value */
    return json_tmpl && !in_str ? ch_buf_addstr(b, "null") : CH_OK;
  if(json_is_string(v)) {
    if(json_tmpl && !in_str)
      return add_json(b, v);
    if(json_tmpl)
      return add_escaped(b, json_string_value(v), json_string_length(v));
    return ch_buf_add(b, json_string_value(v), json_string_length(v));
  }
  if(json_tmpl && in_str && (json_is_object(v) || json_is_array(v))) {
    /* EventBridge drops the inner quotes so the string stays a string. */
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(17));
    if(!s)
      return CH_ERR_NOMEM;
    size_t k = 0;
    for(size_t i = 0; s[i]; i++)
      if(s[i] != '"')
        s[k++] = s[i];
    ch_err rc = add_escaped(b, s, k);
    free(s);
    return rc;
  }
  return add_json(b, v);
}

static ch_err render(const ch_input *in, const certhub_target_ctx *ctx,
                     json_t *event, ch_buf *b)
{
  ch_err rc = CH_OK;
  json_t *pd_val = NULL, *vals_cache = NULL;
  json_t **vals = calloc(in->nvars + 1, sizeof(*vals));
  if(!vals)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < in->nvars; i++)
    vals[i] = path_eval(&in->vars[i].path, event);
  for(size_t k = 0; k < in->npieces && !rc; k++) {
    const struct piece *p = &in->pieces[k];
    if(p->var < 0 && p->pd == PD_NONE) {
      rc = ch_buf_add(b, in->tmpl + p->off, p->len);
      continue;
    }
    if(p->var >= 0) {
      rc = add_value(b, vals[p->var], in->tmpl_json, p->in_string);
      continue;
    }
    const char *bus =
        ctx && ctx->bus_name ? ctx->bus_name : CERTHUB_DEFAULT_BUS;
    const char *rule = ctx && ctx->rule_name ? ctx->rule_name : "";
    char tbuf[40];
    switch(p->pd) {
    case PD_RULE_NAME:
      pd_val = json_string(rule);
      break;
    case PD_RULE_ARN:
      if(ctx && ctx->rule_arn)
        pd_val = json_string(ctx->rule_arn);
      else if(strcmp(bus, CERTHUB_DEFAULT_BUS) == 0)
        pd_val = json_sprintf("arn:certhub:events:::rule/%s", rule);
      else
        pd_val = json_sprintf("arn:certhub:events:::rule/%s/%s", bus, rule);
      break;
    case PD_INGESTION_TIME:
      certhub_time_format(ctx ? ctx->ingestion_time : 0, tbuf, sizeof(tbuf));
      pd_val = json_string(tbuf);
      break;
    case PD_EVENT:
      if(!vals_cache) {
        vals_cache = json_is_object(event) ? json_copy(event) : NULL;
        if(vals_cache)
          json_object_del(vals_cache, "detail");
      }
      pd_val = json_incref(vals_cache ? vals_cache : event);
      break;
    case PD_EVENT_JSON:
      pd_val = json_incref(event);
      break;
    case PD_NONE:
      break;
    }
    if(!pd_val) {
      rc = CH_ERR_NOMEM;
      break;
    }
    rc = add_value(b, pd_val, in->tmpl_json, p->in_string);
    json_decref(pd_val);
    pd_val = NULL;
  }
  json_decref(vals_cache);
  free(vals);
  return rc;
}

ch_err ch_input_apply(const ch_input *in, const certhub_target_ctx *ctx,
                      json_t *event, char **out, size_t *out_len,
                      bool *is_json, char **errmsg)
{
  ch_err rc = CH_OK;
  ch_buf b;
  ch_buf_init(&b, CERTHUB_TARGET_INPUT_MAX);
  *out = NULL;
  *out_len = 0;
  *is_json = true;
  switch(in->kind) {
  case K_CONST:
    rc = ch_buf_add(&b, in->constant, in->clen);
    break;
  case K_PATH:
    rc = add_value(&b, path_eval(&in->path, event), true, false);
    break;
  case K_TRANSFORM:
    *is_json = in->tmpl_json;
    rc = render(in, ctx, event, &b);
    break;
  }
  if(rc == CH_ERR_TOOBIG)
    ch_target_err(errmsg, "the target input is over %d bytes",
                  CERTHUB_TARGET_INPUT_MAX);
  if(rc)
    goto out;
  *out_len = b.len;
  *out = ch_buf_take(&b);
  if(!*out)
    rc = CH_ERR_NOMEM;
out:
  ch_buf_free(&b);
  return rc;
}
