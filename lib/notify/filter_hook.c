/*
 * The delivery engine's filter policy hook (filter_hook.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/notify_filter.h"
#include "core/core.h"
#include "filter_hook.h"
#include "proto.h"

#define BUCKETS 1024
#define MAX_ENTRIES 100000 /* past it the cache starts over */

struct entry {
  char *arn;
  char *policy; /* the policy text and scope it was compiled from */
  char *scope;
  certhub_filter_policy *p; /* NULL: invalid */
  char *why;                /* why it is invalid */
  struct entry *next;
};

struct ch_notify_filter_cache {
  struct entry *b[BUCKETS];
  size_t n;
  char problem[512];
  /* The attributes event of the last message judged: the engine takes a
   * message's deliveries one after another, so its event is built once
   * for all its subscriptions, not once per delivery. */
  char *last_attrs; /* its attributes_json (NULL: none) */
  bool have_last;
  char *last_text; /* the event text, NULL when malformed */
  char *last_why;
};

ch_err ch_notify_filter_cache_new(ch_notify_filter_cache **out)
{
  *out = calloc(1, sizeof(**out));
  return *out ? CH_OK : CH_ERR_NOMEM;
}

static void entry_free(struct entry *e)
{
  free(e->arn);
  free(e->policy);
  free(e->scope);
  free(e->why);
  certhub_filter_policy_free(e->p);
  free(e);
}

static void clear(ch_notify_filter_cache *c)
{
  for(size_t i = 0; i < BUCKETS; i++) {
    while(c->b[i]) {
      struct entry *e = c->b[i];
      c->b[i] = e->next;
      entry_free(e);
    }
  }
  c->n = 0;
}

static bool same(const char *a, const char *b);

static void forget_last(ch_notify_filter_cache *c)
{
  free(c->last_attrs);
  free(c->last_text);
  free(c->last_why);
  c->last_attrs = c->last_text = c->last_why = NULL;
  c->have_last = false;
}

void ch_notify_filter_cache_free(ch_notify_filter_cache *c)
{
  if(!c)
    return;
  clear(c);
  forget_last(c);
  free(c);
}

/* The attributes event text of attrs (cached for the last message); NULL
 * with *why (borrowed) when they are malformed or memory ran out. */
static const char *attrs_text(ch_notify_filter_cache *c, const char *attrs,
                              const char **why)
{
  *why = NULL;
  if(c->have_last && same(c->last_attrs, attrs)) {
    *why = c->last_why;
    return c->last_text;
  }
  forget_last(c);
  if(attrs && !(c->last_attrs = strdup(attrs))) {
    *why = "out of memory";
    return NULL;
  }
  ch_err rc = ch_filter_attrs_text(attrs, &c->last_text, &c->last_why);
  if(rc && !c->last_why)
    c->last_why = strdup(certhub_strerror(rc));
  if(rc == CH_ERR_NOMEM) {
    forget_last(c); /* not a property of the message: do not keep it */
    *why = "out of memory";
    return NULL;
  }
  c->have_last = true;
  *why = c->last_why;
  return c->last_text;
}

void ch_notify_filter_problem(ch_notify_filter_cache *c, char *out,
                              size_t outlen)
{
  snprintf(out, outlen, "%s", c->problem);
  c->problem[0] = '\0';
}

static size_t hash(const char *s)
{
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return (size_t)(h % BUCKETS);
}

static bool same(const char *a, const char *b)
{
  return a && b ? !strcmp(a, b) : !a && !b;
}

/* The policy text and scope in a subscription's attributes: FilterPolicy
 * as SNS keeps it (a string of JSON) or as an object (configuration). */
static ch_err sub_policy(const char *attrs, char **policy, char **scope)
{
  *policy = *scope = NULL;
  if(!attrs)
    return CH_OK;
  json_t *a = json_loads(attrs, 0, NULL);
  if(!a)
    return CH_ERR_PARSE;
  json_t *fp = json_object_get(a, "FilterPolicy");
  json_t *fs = json_object_get(a, "FilterPolicyScope");
  ch_err rc = CH_OK;
  if(json_is_string(fp) && json_string_length(fp))
    *policy = strdup(json_string_value(fp));
  else if(json_is_object(fp))
    *policy = json_dumps(fp, JSON_COMPACT);
  else if(fp && !json_is_null(fp) && !json_is_string(fp))
    rc = CH_ERR_PARSE;
  if(!rc && json_is_string(fs))
    *scope = strdup(json_string_value(fs));
  json_decref(a);
  return rc;
}

ch_err ch_notify_filter_check(const char *policy, const char *scope,
                              char **why)
{
  certhub_filter_scope sc;
  certhub_filter_policy *p = NULL;
  if(why)
    *why = NULL;
  if(certhub_filter_scope_parse(scope, &sc)) {
    if(why && asprintf(why,
                       "FilterPolicyScope: '%.100s' is not MessageAttributes "
                       "or MessageBody",
                       scope) < 0)
      *why = NULL;
    return CH_ERR_PARSE;
  }
  if(!policy || !*policy)
    return CH_OK; /* no policy: every message */
  ch_err rc = certhub_filter_policy_compile(policy, sc, &p, why);
  certhub_filter_policy_free(p);
  return rc;
}

static struct entry *lookup(ch_notify_filter_cache *c, const char *arn,
                            const char *policy, const char *scope)
{
  size_t h = hash(arn);
  struct entry **pp = &c->b[h];
  for(struct entry *e = *pp; e; pp = &e->next, e = e->next) {
    if(strcmp(e->arn, arn))
      continue;
    if(same(e->policy, policy) && same(e->scope, scope))
      return e;
    /* the subscription's policy changed: compile it again */
    *pp = e->next;
    entry_free(e);
    c->n--;
    break;
  }
  if(c->n >= MAX_ENTRIES)
    clear(c);
  struct entry *e = calloc(1, sizeof(*e));
  if(!e)
    return NULL;
  e->arn = strdup(arn);
  e->policy = policy ? strdup(policy) : NULL;
  e->scope = scope ? strdup(scope) : NULL;
  if(!e->arn || (policy && !e->policy) || (scope && !e->scope)) {
    entry_free(e);
    return NULL;
  }
  certhub_filter_scope sc;
  if(certhub_filter_scope_parse(scope, &sc))
    e->why = strdup("FilterPolicyScope is not MessageAttributes or "
                    "MessageBody");
  else if(policy)
    (void)certhub_filter_policy_compile(policy, sc, &e->p, &e->why);
  e->next = c->b[h];
  c->b[h] = e;
  c->n++;
  return e;
}

bool ch_notify_filter_accepts(void *ctx, const struct ch_notify_sub *sub,
                              const struct ch_notify_msg *msg)
{
  ch_notify_filter_cache *c = ctx;
  char *policy = NULL, *scope = NULL, *why = NULL;
  bool ok = false;
  if(sub_policy(sub->attributes, &policy, &scope)) {
    snprintf(c->problem, sizeof(c->problem),
             "subscription attributes are not valid JSON");
    goto out;
  }
  if(!policy) {
    ok = true; /* no filter policy: every message */
    goto out;
  }
  struct entry *e = lookup(c, sub->arn ? sub->arn : "", policy, scope);
  if(!e) {
    snprintf(c->problem, sizeof(c->problem), "out of memory");
    goto out;
  }
  if(!e->p) {
    snprintf(c->problem, sizeof(c->problem), "invalid filter policy: %s",
             e->why ? e->why : "?");
    goto out;
  }
  const char *text = NULL, *bad = NULL;
  if(certhub_filter_policy_scope(e->p) == CERTHUB_FILTER_ATTRIBUTES &&
     !(text = attrs_text(c, msg->attributes_json, &bad))) {
    snprintf(c->problem, sizeof(c->problem), "%s", bad ? bad : "?");
    goto out;
  }
  if(ch_filter_accepts_text(e->p, text, msg->message, msg->len, &ok, &why)) {
    snprintf(c->problem, sizeof(c->problem), "%s", why ? why : "?");
    ok = false;
  }
out:
  free(why);
  free(policy);
  free(scope);
  return ok;
}

/* The public face of the hook (certhub/notify_filter.h): the CLI sees
 * public headers only. */
ch_err certhub_notify_filter_hook_new(void **ctx)
{
  ch_notify_filter_cache *c = NULL;
  ch_err rc = ch_notify_filter_cache_new(&c);
  *ctx = c;
  return rc;
}

void certhub_notify_filter_hook_free(void *ctx)
{
  ch_notify_filter_cache_free(ctx);
}

bool certhub_notify_filter_hook(void *ctx, const struct ch_notify_sub *sub,
                                const struct ch_notify_msg *msg)
{
  return ch_notify_filter_accepts(ctx, sub, msg);
}
