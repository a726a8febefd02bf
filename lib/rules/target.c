/*
 * Targets: the common fields (Id, Type, input shaping, the bus's keys),
 * the table of types, and one delivery. Each type lives in its own file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target_int.h"

static const struct ch_target_ops *const types[] = {
    &ch_target_command, &ch_target_webhook,  &ch_target_file,
    &ch_target_topic,   &ch_target_findings,
};

/* Keys every target may have; the type's own come from its ops. */
static const char *const common_keys[] = {
    "Id",
    "Type",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
};

struct certhub_rule_target {
  char *id;
  const struct ch_target_ops *ops;
  void *state;
  ch_input *input; /* NULL: the event as is */
};

char *ch_target_fmt(const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if(vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  return s;
}

ch_err ch_target_err(char **errmsg, const char *fmt, ...)
{
  if(errmsg) {
    va_list ap;
    free(*errmsg);
    *errmsg = NULL;
    va_start(ap, fmt);
    if(vasprintf(errmsg, fmt, ap) < 0)
      *errmsg = NULL;
    va_end(ap);
  }
  return CH_ERR_PARSE;
}

ch_err ch_target_int_field(json_t *spec, const char *key, long lo, long hi,
                           long def, long *out, char **errmsg)
{
  json_t *v = json_object_get(spec, key);
  *out = def;
  if(!v)
    return CH_OK;
  if(!json_is_integer(v) || json_integer_value(v) < lo ||
     json_integer_value(v) > hi)
    return ch_target_err(errmsg, "%s: must be an integer from %ld to %ld", key,
                         lo, hi);
  *out = (long)json_integer_value(v);
  return CH_OK;
}

ch_err ch_target_str_field(json_t *spec, const char *key, size_t max,
                           bool required, bool no_ctl, const char **out,
                           char **errmsg)
{
  json_t *v = json_object_get(spec, key);
  *out = NULL;
  if(!v)
    return required ? ch_target_err(errmsg, "%s: required", key) : CH_OK;
  if(!json_is_string(v))
    return ch_target_err(errmsg, "%s: must be a string", key);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if(n == 0 || n > max)
    return ch_target_err(errmsg, "%s: must be 1-%zu characters (got %zu)", key,
                         max, n);
  if(strlen(s) != n)
    return ch_target_err(errmsg, "%s: contains a NUL character", key);
  for(size_t i = 0; no_ctl && i < n; i++)
    if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return ch_target_err(errmsg, "%s: contains a control character", key);
  *out = s;
  return CH_OK;
}

static bool id_ok(const char *s, size_t n)
{
  if(n == 0 || n > CERTHUB_TARGET_ID_MAX)
    return false;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static bool key_known(const struct ch_target_ops *ops, const char *k)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(common_keys); i++)
    if(strcmp(k, common_keys[i]) == 0)
      return true;
  for(size_t i = 0; ops->fields && ops->fields[i]; i++)
    if(strcmp(k, ops->fields[i]) == 0)
      return true;
  return false;
}

void certhub_rule_target_free(certhub_rule_target *t)
{
  if(!t)
    return;
  if(t->ops && t->ops->free)
    t->ops->free(t->state);
  ch_input_free(t->input);
  free(t->id);
  free(t);
}

ch_err certhub_rule_target_parse(const char *json, size_t len,
                                 certhub_rule_target **out, char **errmsg)
{
  ch_err rc = CH_OK;
  json_t *spec = NULL;
  certhub_rule_target *t = NULL;
  const char *k;
  json_t *v;
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  if(!json)
    return CH_ERR_USAGE;
  if(len > CERTHUB_TARGET_SPEC_MAX) {
    ch_target_err(errmsg, "target: longer than %d bytes",
                  CERTHUB_TARGET_SPEC_MAX);
    return CH_ERR_TOOBIG;
  }
  json_error_t je;
  spec = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if(!spec) {
    rc = ch_target_err(errmsg,
                       "target: not a JSON object: %s (line %d, "
                       "column %d)",
                       je.text, je.line, je.column);
    goto out;
  }
  if(!json_is_object(spec)) {
    rc = ch_target_err(errmsg, "target: must be a JSON object");
    goto out;
  }
  json_t *id = json_object_get(spec, "Id");
  if(!id) {
    rc = ch_target_err(errmsg, "Id: required");
    goto out;
  }
  if(!json_is_string(id) ||
     !id_ok(json_string_value(id), json_string_length(id))) {
    rc = ch_target_err(errmsg,
                       "Id: must be 1-%d characters of A-Z a-z 0-9 "
                       ". _ -",
                       CERTHUB_TARGET_ID_MAX);
    goto out;
  }
  json_t *type = json_object_get(spec, "Type");
  if(!type) {
    rc = ch_target_err(errmsg, "Type: required (command, webhook, file, "
                               "topic or findings)");
    goto out;
  }
  const struct ch_target_ops *ops = NULL;
  for(size_t i = 0; json_is_string(type) && i < CH_ARRAY_LEN(types); i++)
    if(strcmp(json_string_value(type), types[i]->name) == 0)
      ops = types[i];
  if(!ops) {
    rc = ch_target_err(errmsg,
                       "Type: unknown target type \"%.64s\" (command, "
                       "webhook, file, topic or findings)",
                       json_is_string(type) ? json_string_value(type) : "?");
    goto out;
  }
  json_object_foreach(spec, k, v)
  {
    if(!key_known(ops, k)) {
      rc = ch_target_err(errmsg, "%.64s: unknown key for a %s target", k,
                         ops->name);
      goto out;
    }
  }
  t = calloc(1, sizeof(*t));
  if(!t) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  t->id = strdup(json_string_value(id));
  if(!t->id) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if((rc = ch_input_parse(spec, &t->input, errmsg)))
    goto out;
  if((rc = ops->parse(spec, &t->state, errmsg)))
    goto out;
  t->ops = ops;
out:
  json_decref(spec);
  if(rc)
    certhub_rule_target_free(t);
  else
    *out = t;
  return rc;
}

const char *certhub_rule_target_id(const certhub_rule_target *t)
{
  return t->id;
}

const char *certhub_rule_target_type(const certhub_rule_target *t)
{
  return t->ops->name;
}

const char *certhub_delivery_name(certhub_delivery d)
{
  switch(d) {
  case CERTHUB_DELIVERY_OK:
    return "OK";
  case CERTHUB_DELIVERY_RETRY:
    return "RETRY";
  case CERTHUB_DELIVERY_FAILED:
    return "FAILED";
  }
  return "?";
}

/* Parse the event and shape it; *event gets the parsed event. */
static ch_err shape(const certhub_rule_target *t,
                    const certhub_target_ctx *ctx, const char *event_json,
                    size_t len, json_t **event, char **out, size_t *out_len,
                    bool *is_json, char **errmsg)
{
  json_error_t je;
  *event = json_loadb(event_json, len, 0, &je);
  if(!*event)
    return ch_target_err(errmsg, "event: not JSON: %s", je.text);
  if(!json_is_object(*event)) {
    json_decref(*event);
    *event = NULL;
    return ch_target_err(errmsg, "event: not a JSON object");
  }
  if(!t->input) {
    *out = strndup(event_json, len);
    *out_len = len;
    *is_json = true;
    return *out ? CH_OK : CH_ERR_NOMEM;
  }
  return ch_input_apply(t->input, ctx, *event, out, out_len, is_json, errmsg);
}

ch_err certhub_rule_target_input(const certhub_rule_target *t,
                                 const certhub_target_ctx *ctx,
                                 const char *event_json, size_t len,
                                 char **out, size_t *out_len, bool *is_json,
                                 char **errmsg)
{
  json_t *event = NULL;
  if(errmsg)
    *errmsg = NULL;
  *out = NULL;
  if(!t || !event_json)
    return CH_ERR_USAGE;
  ch_err rc =
      shape(t, ctx, event_json, len, &event, out, out_len, is_json, errmsg);
  json_decref(event);
  return rc;
}

ch_err certhub_rule_target_deliver(const certhub_rule_target *t,
                                   const certhub_target_ctx *ctx,
                                   const char *event_json, size_t len,
                                   certhub_delivery *result, char **detail)
{
  ch_err rc = CH_OK;
  json_t *event = NULL;
  char *data = NULL, *err = NULL;
  size_t dlen = 0;
  bool is_json = true;
  *detail = NULL;
  *result = CERTHUB_DELIVERY_FAILED;
  if(!t || !event_json)
    return CH_ERR_USAGE;
  rc = shape(t, ctx, event_json, len, &event, &data, &dlen, &is_json, &err);
  if(rc == CH_ERR_NOMEM)
    goto out;
  if(rc) { /* this event can never be delivered to this target */
    *detail = err ? err : ch_target_fmt("%s", certhub_strerror(rc));
    err = NULL;
    rc = CH_OK;
    goto out;
  }
  json_t *idv = json_object_get(event, "id");
  ch_target_input in = {
      .data = data,
      .len = dlen,
      .json = is_json,
      .event_id = ctx && ctx->event_id  ? ctx->event_id
                  : json_is_string(idv) ? json_string_value(idv)
                                        : "",
      .rule = ctx && ctx->rule_name ? ctx->rule_name : "",
      .bus = ctx && ctx->bus_name ? ctx->bus_name : "default",
  };
  *result = t->ops->deliver(t->state, ctx, &in, detail);
out:
  free(err);
  free(data);
  json_decref(event);
  return rc;
}
