/*
 * The event bus sections of the configuration: `buses:` and `rules:`.
 *
 *   buses: [ops, audit]                 # extra buses (default always exists)
 *   rules:
 *     - name: expiring                  # [A-Za-z0-9._-]{1,64}, unique per bus
 *       bus: default                    # optional
 *       description: "..."              # optional
 *       state: ENABLED                  # or DISABLED
 *       pattern:                        # a YAML mapping, or JSON text
 *         source: [certhub.acm]
 *         detail: {DaysToExpiry: [{numeric: ["<=", 30]}]}
 *       # schedule: "cron(0 8 ? * MON *)"   (instead of pattern)
 *       # batch: expiring-certificates    (schedule rules: the Scheduled
 *       #   Event's detail lists every certificate within its threshold)
 *       targets:
 *         - {Id: log, Type: file, Path: /var/log/certhub/events.jsonl}
 *
 * Targets (and patterns) are EventBridge JSON written as YAML: keys are
 * EventBridge's spelling (Id, Type, RetryPolicy, DeadLetterConfig, and
 * the target type's own keys); "id" and "type" are accepted for Id and
 * Type. Plain scalars that read as JSON numbers, true, false or null
 * become those; everything else (and every quoted scalar) is a string.
 *
 * Only the structure is checked here: patterns, schedules and targets are
 * validated by the bus (certhub_bus_rule_validate), which `certhub config
 * check` runs with FILE:LINE of the rule.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const rule_keys[] = {
    "name", "bus", "description", "state", "pattern", "schedule", "targets",
    "batch",
};

/* A plain scalar that is a JSON number. */
static bool json_number_text(const char *s)
{
  const char *p = s;
  if(*p == '-')
    p++;
  if(!(*p >= '0' && *p <= '9'))
    return false;
  if(*p == '0' && p[1] >= '0' && p[1] <= '9')
    return false;
  while(*p >= '0' && *p <= '9')
    p++;
  if(*p == '.') {
    p++;
    if(!(*p >= '0' && *p <= '9'))
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  if(*p == 'e' || *p == 'E') {
    p++;
    if(*p == '+' || *p == '-')
      p++;
    if(!(*p >= '0' && *p <= '9'))
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  return *p == '\0';
}

/* The YAML node as JSON. top_target: map "id"/"type" to "Id"/"Type". */
static json_t *to_json(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       bool top_target)
{
  if(n->kind == CH_Y_SCALAR) {
    if(strlen(n->str) != n->len) {
      ch_cfg_errorf(e, n, path, "contains a NUL byte");
      return NULL;
    }
    if(n->plain) {
      if(ch_ynode_is_null(n))
        return json_null();
      if(!strcmp(n->str, "true"))
        return json_true();
      if(!strcmp(n->str, "false"))
        return json_false();
      if(json_number_text(n->str)) {
        json_t *v = json_loads(n->str, JSON_DECODE_ANY, NULL);
        if(v)
          return v;
      }
    }
    json_t *s = json_stringn(n->str, n->len);
    if(!s)
      ch_cfg_errorf(e, n, path, "is not valid UTF-8");
    return s;
  }
  char kp[1024];
  if(n->kind == CH_Y_SEQ) {
    json_t *a = json_array();
    size_t i = 0;
    for(const ch_ynode *it = n->first; a && it; it = it->next, i++) {
      ch_cfg_path_index(kp, sizeof(kp), path, i);
      json_t *v = to_json(e, it, kp, false);
      if(!v || json_array_append_new(a, v)) {
        json_decref(a);
        return NULL;
      }
    }
    return a;
  }
  json_t *o = json_object();
  for(const ch_ynode *k = n->first; o && k; k = k->next) {
    const char *key = k->str;
    if(top_target && !strcmp(key, "id"))
      key = "Id";
    else if(top_target && !strcmp(key, "type"))
      key = "Type";
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(json_object_get(o, key)) {
      ch_cfg_errorf(e, k, kp, "given twice (as %s)", key);
      json_decref(o);
      return NULL;
    }
    json_t *v = to_json(e, k->value, kp, false);
    if(!v || json_object_set_new(o, key, v)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

static ch_err json_text(ch_cfgerr *e, const ch_ynode *n, const char *path,
                        json_t *v, char **out)
{
  if(!v)
    return e->msg ? CH_ERR_CONFIG : CH_ERR_NOMEM;
  *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  if(!*out)
    return ch_cfg_errorf(e, n, path, "cannot be written as JSON");
  return CH_OK;
}

static ch_err load_rule(ch_cfgerr *e, const ch_ynode *n, const char *path,
                        certhub_rule_cfg *r)
{
  char kp[1024];
  r->line = n->line;
  r->enabled = true;
  if(n->kind != CH_Y_MAP)
    return ch_cfg_errorf(e, n, path, "expected a map, got %s",
                         ch_ynode_kind_name(n));
  ch_err rc =
      ch_cfg_check_keys(e, n, path, rule_keys, CH_ARRAY_LEN(rule_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!strcmp(k->str, "name"))
      rc = ch_cfg_string(e, v, kp, &r->name);
    else if(!strcmp(k->str, "bus"))
      rc = ch_cfg_string(e, v, kp, &r->bus);
    else if(!strcmp(k->str, "description"))
      rc = ch_cfg_string(e, v, kp, &r->description);
    else if(!strcmp(k->str, "state")) {
      char *s = NULL;
      rc = ch_cfg_string(e, v, kp, &s);
      if(!rc && strcmp(s, "ENABLED") && strcmp(s, "DISABLED"))
        rc = ch_cfg_errorf(e, v, kp, "expected ENABLED or DISABLED");
      if(!rc)
        r->enabled = !strcmp(s, "ENABLED");
      free(s);
    }
    else if(!strcmp(k->str, "batch"))
      rc = ch_cfg_string(e, v, kp, &r->batch);
    else if(!strcmp(k->str, "schedule")) {
      r->schedule_line = v->line;
      rc = ch_cfg_string(e, v, kp, &r->schedule);
    }
    else if(!strcmp(k->str, "pattern")) {
      r->pattern_line = v->line;
      if(v->kind == CH_Y_SCALAR && !ch_ynode_is_null(v))
        rc = ch_cfg_string(e, v, kp, &r->pattern); /* JSON text */
      else if(v->kind == CH_Y_MAP)
        rc = json_text(e, v, kp, to_json(e, v, kp, false), &r->pattern);
      else
        rc = ch_cfg_errorf(e, v, kp, "expected a mapping or JSON text, got %s",
                           ch_ynode_kind_name(v));
    }
    else if(!strcmp(k->str, "targets")) {
      r->targets_line = v->line;
      if(v->kind != CH_Y_SEQ && !ch_ynode_is_null(v))
        rc = ch_cfg_errorf(e, v, kp, "expected a list of targets, got %s",
                           ch_ynode_kind_name(v));
      else if(v->kind == CH_Y_SEQ) {
        json_t *a = json_array();
        size_t i = 0;
        for(const ch_ynode *t = v->first; a && t; t = t->next, i++) {
          char tp[1100];
          ch_cfg_path_index(tp, sizeof(tp), kp, i);
          if(t->kind != CH_Y_MAP) {
            json_decref(a);
            return ch_cfg_errorf(e, t, tp, "expected a map, got %s",
                                 ch_ynode_kind_name(t));
          }
          json_t *o = to_json(e, t, tp, true);
          if(!o || json_array_append_new(a, o)) {
            json_decref(a);
            return e->msg ? CH_ERR_CONFIG : CH_ERR_NOMEM;
          }
        }
        rc = json_text(e, v, kp, a, &r->targets);
      }
    }
    if(rc)
      return rc;
  }
  if(!r->name) {
    ch_cfg_path(kp, sizeof(kp), path, "name");
    return ch_cfg_errorf(e, n, kp, "missing required key");
  }
  if(!r->pattern == !r->schedule)
    return ch_cfg_errorf(e, n, path,
                         "needs exactly one of pattern and schedule");
  return CH_OK;
}

ch_err ch_cfg_load_rules(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  if(ch_ynode_is_null(n))
    return CH_OK;
  if(n->kind != CH_Y_SEQ)
    return ch_cfg_errorf(e, n, "rules", "expected a list of rules, got %s",
                         ch_ynode_kind_name(n));
  if(!n->n)
    return CH_OK;
  c->rules = calloc(n->n, sizeof(*c->rules));
  if(!c->rules)
    return CH_ERR_NOMEM;
  size_t i = 0;
  for(const ch_ynode *item = n->first; item; item = item->next, i++) {
    char rp[64];
    ch_cfg_path_index(rp, sizeof(rp), "rules", i);
    c->n_rules++;
    ch_err rc = load_rule(e, item, rp, &c->rules[i]);
    if(rc)
      return rc;
    /* (bus, name) unique. */
    for(size_t j = 0; j < i; j++) {
      const certhub_rule_cfg *a = &c->rules[j], *b = &c->rules[i];
      const char *ba = a->bus ? a->bus : "default";
      const char *bb = b->bus ? b->bus : "default";
      if(!strcmp(a->name, b->name) && !strcmp(ba, bb))
        return ch_cfg_errorf(e, item, rp,
                             "rule '%s' on bus '%s' is also defined at line "
                             "%d",
                             b->name, bb, a->line);
    }
  }
  return CH_OK;
}

ch_err ch_cfg_load_buses(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc = ch_cfg_string_list(e, n, "buses", true, &c->buses, &c->n_buses);
  if(rc)
    return rc;
  for(size_t i = 0; i < c->n_buses; i++)
    if(!*c->buses[i])
      return ch_cfg_errorf(e, n, "buses", "a bus name is empty");
  return CH_OK;
}

void ch_cfg_bus_free(certhub_config *c)
{
  for(size_t i = 0; i < c->n_rules; i++) {
    certhub_rule_cfg *r = &c->rules[i];
    free(r->name);
    free(r->bus);
    free(r->description);
    free(r->batch);
    free(r->pattern);
    free(r->schedule);
    free(r->targets);
  }
  free(c->rules);
  ch_cfg_strv_free(c->buses, c->n_buses);
}

/* For other sections (config_topics.c): a YAML node as JSON text. */
ch_err ch_cfg_json_text(ch_cfgerr *e, const ch_ynode *n, const char *path,
                        char **out)
{
  *out = NULL;
  json_t *v = to_json(e, n, path, false);
  if(!v)
    return e->msg ? CH_ERR_CONFIG
                  : ch_cfg_errorf(e, n, path, "cannot convert to JSON");
  *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  return *out ? CH_OK : CH_ERR_NOMEM;
}
