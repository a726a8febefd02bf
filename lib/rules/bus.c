/*
 * The event bus: putting events (validation and the EventBridge envelope),
 * buses and rules. Routing and dispatch are in bus_route.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bus_int.h"
#include "certhub/pattern.h"
#include "certhub/schedule.h"
#include "certhub/time.h"

#define ERRLEN 512

/* ---- names ---------------------------------------------------------------
 */

static bool chars_ok(const char *s, size_t max, const char *extra)
{
  size_t n = 0;
  if(!s || !*s)
    return false;
  for(; s[n]; n++) {
    unsigned char c = (unsigned char)s[n];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr(extra, c)))
      return false;
    if(n >= max)
      return false;
  }
  return true;
}

bool ch_bus_name_ok(const char *name)
{
  return chars_ok(name, CERTHUB_BUS_NAME_MAX, "._-/");
}

bool ch_bus_rule_name_ok(const char *name)
{
  return chars_ok(name, CERTHUB_RULE_NAME_MAX, "._-");
}

static char *msg_dup(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A malloc'd message (NULL when out of memory). */
static char *msg_dup(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *m = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if(m) {
    va_start(ap, fmt);
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return m;
}

/* ---- put -----------------------------------------------------------------
 */

static ch_err uuid_v4(char out[37])
{
  uint8_t b[16];
  if(RAND_bytes(b, sizeof(b)) != 1)
    return CH_ERR_INTERNAL;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  char hex[33];
  ch_hex_encode(b, sizeof(b), hex);
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
           hex + 16, hex + 20);
  return CH_OK;
}

/* Append s as a JSON string. */
static ch_err add_jstr(ch_buf *b, const char *s)
{
  json_t *j = json_string(s);
  if(!j)
    return CH_ERR_PARSE; /* not UTF-8 */
  char *t = json_dumps(j, JSON_ENCODE_ANY);
  json_decref(j);
  if(!t)
    return CH_ERR_NOMEM;
  ch_err rc = ch_buf_addstr(b, t);
  free(t);
  return rc;
}

static bool text_ok(const char *s)
{
  json_t *j = s ? json_string(s) : NULL;
  bool ok = j != NULL;
  json_decref(j);
  return ok;
}

/* Characters (code points) of valid UTF-8 s: PutEvents' length limits
 * count characters, not bytes. */
static size_t utf8_chars(const char *s)
{
  size_t n = 0;
  for(; *s; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

/* certhub_bus_render with the size cap max: CERTHUB_EVENT_MAX_LEN for
 * PutEvents, CERTHUB_BATCH_EVENT_MAX for certhub's own batch events. */
static ch_err render_cap(const certhub_event *ev, int64_t now, size_t max,
                         char id_out[37], char **envelope, char **errmsg)
{
  ch_err rc = CH_OK;
  json_t *detail = NULL;
  char *dtext = NULL;
  ch_buf b;
  char when[32];
  char limit[64];
  snprintf(limit, sizeof(limit), "%zu bytes", max);
  ch_buf_init(&b, max + 1);
  *envelope = NULL;
  *errmsg = NULL;
  id_out[0] = '\0';
#define BAD(code, ...)                                                        \
  do {                                                                        \
    rc = (code);                                                              \
    *errmsg = msg_dup(__VA_ARGS__);                                           \
    goto out;                                                                 \
  } while(0)
  if(!ev)
    BAD(CH_ERR_USAGE, "%s%s", "no event", "");
  if(!ev->source || !*ev->source)
    BAD(CH_ERR_PARSE, "%s%s", "Source is required and must not be empty", "");
  if(!text_ok(ev->source))
    BAD(CH_ERR_PARSE, "%s%s", "Source is not valid UTF-8", "");
  if(utf8_chars(ev->source) > CERTHUB_BUS_SOURCE_MAX)
    BAD(CH_ERR_PARSE, "Source is longer than %d characters%s",
        CERTHUB_BUS_SOURCE_MAX, "");
  if(!ev->detail_type || !*ev->detail_type)
    BAD(CH_ERR_PARSE, "%s%s", "DetailType is required and must not be empty",
        "");
  if(!text_ok(ev->detail_type))
    BAD(CH_ERR_PARSE, "%s%s", "DetailType is not valid UTF-8", "");
  if(utf8_chars(ev->detail_type) > CERTHUB_BUS_DETAIL_TYPE_MAX)
    BAD(CH_ERR_PARSE, "DetailType is longer than %d characters%s",
        CERTHUB_BUS_DETAIL_TYPE_MAX, "");
  if(ev->bus && !ch_bus_name_ok(ev->bus))
    BAD(CH_ERR_PARSE,
        "EventBusName '%.200s' is invalid (1-256 of A-Z a-z 0-9 . _ - /)%s",
        ev->bus, "");
  if(ev->account && !text_ok(ev->account))
    BAD(CH_ERR_PARSE, "%s%s", "Account is not valid UTF-8", "");
  if(ev->region && !text_ok(ev->region))
    BAD(CH_ERR_PARSE, "%s%s", "Region is not valid UTF-8", "");
  if(ev->n_resources && !ev->resources)
    BAD(CH_ERR_USAGE, "%s%s", "Resources missing", "");
  for(size_t i = 0; i < ev->n_resources; i++)
    if(!ev->resources[i] || !text_ok(ev->resources[i]))
      BAD(CH_ERR_PARSE, "%s%s", "Resources must be strings (valid UTF-8)", "");
  if(ev->detail) {
    json_error_t jerr;
    size_t dlen = strlen(ev->detail);
    if(dlen > max)
      BAD(CH_ERR_TOOBIG, "Detail is larger than the entry limit of %s%s",
          limit, "");
    detail = json_loadb(ev->detail, dlen, JSON_REJECT_DUPLICATES, &jerr);
    if(!detail) {
      char where[64];
      snprintf(where, sizeof(where), "line %d column %d", jerr.line,
               jerr.column);
      BAD(CH_ERR_PARSE, "Detail is not valid JSON (%s): %s", where, jerr.text);
    }
    if(!json_is_object(detail))
      BAD(CH_ERR_PARSE, "%s%s", "Detail must be a JSON object", "");
    dtext = json_dumps(detail, JSON_COMPACT);
    if(!dtext)
      BAD(CH_ERR_NOMEM, "%s%s", "out of memory", "");
  }
  if(ev->id) {
    if(!*ev->id || strlen(ev->id) > 36 || !chars_ok(ev->id, 36, "-"))
      BAD(CH_ERR_PARSE, "%s%s",
          "Id must be 1-36 characters of A-Z a-z 0-9 and '-'", "");
    snprintf(id_out, 37, "%s", ev->id);
  }
  else if(uuid_v4(id_out))
    BAD(CH_ERR_INTERNAL, "%s%s", "no random bytes for the event id", "");
  certhub_time_format(ev->time ? ev->time : now, when, sizeof(when));

  /* The envelope, in EventBridge's key order. */
  rc = ch_buf_addstr(&b, "{\"version\":\"0\",\"id\":");
  if(!rc)
    rc = add_jstr(&b, id_out);
  if(!rc)
    rc = ch_buf_addstr(&b, ",\"detail-type\":");
  if(!rc)
    rc = add_jstr(&b, ev->detail_type);
  if(!rc)
    rc = ch_buf_addstr(&b, ",\"source\":");
  if(!rc)
    rc = add_jstr(&b, ev->source);
  if(!rc)
    rc = ch_buf_addstr(&b, ",\"account\":");
  if(!rc)
    rc = add_jstr(&b, ev->account ? ev->account : CERTHUB_BUS_DEFAULT_ACCOUNT);
  if(!rc)
    rc = ch_buf_printf(&b, ",\"time\":\"%s\",\"region\":", when);
  if(!rc)
    rc = add_jstr(&b, ev->region ? ev->region : CERTHUB_BUS_DEFAULT_REGION);
  if(!rc)
    rc = ch_buf_addstr(&b, ",\"resources\":[");
  for(size_t i = 0; !rc && i < ev->n_resources; i++) {
    if(i)
      rc = ch_buf_addc(&b, ',');
    if(!rc)
      rc = add_jstr(&b, ev->resources[i]);
  }
  if(!rc)
    rc = ch_buf_addstr(&b, "],\"detail\":");
  if(!rc)
    rc = ch_buf_addstr(&b, dtext ? dtext : "{}");
  if(!rc)
    rc = ch_buf_addc(&b, '}');
  if(rc == CH_ERR_TOOBIG || (!rc && b.len > max))
    BAD(CH_ERR_TOOBIG, "the event is larger than the entry limit of %s%s",
        limit, "");
  if(rc)
    BAD(rc, "%s%s", "out of memory", "");
  *envelope = ch_buf_take(&b);
out:
#undef BAD
  if(rc && !*errmsg)
    *errmsg = msg_dup("%s%s", certhub_strerror(rc), "");
  ch_buf_free(&b);
  free(dtext);
  json_decref(detail);
  return rc;
}

ch_err certhub_bus_render(const certhub_event *ev, int64_t now,
                          char id_out[37], char **envelope, char **errmsg)
{
  return render_cap(ev, now, CERTHUB_EVENT_MAX_LEN, id_out, envelope, errmsg);
}

ch_err ch_bus_put(certhub_store *s, const certhub_event *ev, int64_t now,
                  size_t max, char id_out[37], bool *stored, int64_t *seq)
{
  char *env = NULL, *err = NULL;
  bool exists = false;
  *stored = false;
  if(seq)
    *seq = 0;
  ch_err rc = render_cap(ev, now, max ? max : CERTHUB_EVENT_MAX_LEN, id_out,
                         &env, &err);
  if(rc) {
    certhub_store_set_error(s, rc, "%s", err ? err : certhub_strerror(rc));
    goto out;
  }
  const char *bus = ev->bus ? ev->bus : CERTHUB_DEFAULT_BUS;
  rc = certhub_store_bus_exists(s, bus, &exists);
  if(rc)
    goto out;
  if(!exists) {
    rc = certhub_store_set_error(s, CH_ERR_NOTFOUND,
                                 "EventBusName: no event bus '%s'", bus);
    goto out;
  }
  certhub_bus_event_rec rec = {
      .id = id_out,
      .bus = bus,
      .source = ev->source,
      .detail_type = ev->detail_type,
      .time = ev->time ? ev->time : now,
      .envelope = env,
      .dedupe_key = ev->dedupe_key,
      .ingested_at = now,
  };
  rc = certhub_store_event_put(s, &rec, stored, seq);
out:
  free(env);
  free(err);
  return rc;
}

ch_err certhub_bus_put(certhub_store *s, const certhub_event *ev, int64_t now,
                       char id_out[37], bool *stored)
{
  if(!s || !id_out || !stored)
    return CH_ERR_USAGE;
  return ch_bus_put(s, ev, now, 0, id_out, stored, NULL);
}

/* ---- buses ---------------------------------------------------------------
 */

ch_err certhub_bus_create(certhub_store *s, const char *name, int64_t now)
{
  if(!s)
    return CH_ERR_USAGE;
  if(!ch_bus_name_ok(name))
    return certhub_store_set_error(
        s, CH_ERR_PARSE,
        "bus name '%.200s' is invalid (1-256 of A-Z a-z 0-9 . _ - /)",
        name ? name : "");
  if(!strcmp(name, CERTHUB_DEFAULT_BUS))
    return certhub_store_set_error(s, CH_ERR_EXISTS,
                                   "the default event bus always exists");
  return certhub_store_bus_create(s, name, now);
}

ch_err certhub_bus_delete(certhub_store *s, const char *name)
{
  if(!s)
    return CH_ERR_USAGE;
  if(name && !strcmp(name, CERTHUB_DEFAULT_BUS))
    return certhub_store_set_error(s, CH_ERR_USAGE,
                                   "the default event bus cannot be deleted");
  return certhub_store_bus_delete(s, name);
}

/* ---- rules ---------------------------------------------------------------
 */

ch_err ch_bus_policy_parse(const json_t *t, ch_bus_policy *p, char *err,
                           size_t errlen)
{
  p->max_retries = CERTHUB_RETRY_ATTEMPTS_MAX;
  p->max_age = CERTHUB_EVENT_AGE_MAX;
  p->dead_letter = false;
  if(!json_is_object(t)) {
    snprintf(err, errlen, "a target must be a JSON object");
    return CH_ERR_PARSE;
  }
  const json_t *id = json_object_get(t, "Id");
  if(!json_is_string(id) ||
     !chars_ok(json_string_value(id), CERTHUB_TARGET_ID_MAX, "._-")) {
    snprintf(err, errlen, "a target needs \"Id\": 1-64 of A-Z a-z 0-9 . _ -");
    return CH_ERR_PARSE;
  }
  const char *ids = json_string_value(id);
  const json_t *type = json_object_get(t, "Type");
  if(!json_is_string(type) || !*json_string_value(type)) {
    snprintf(err, errlen, "target '%s': \"Type\" must be a non-empty string",
             ids);
    return CH_ERR_PARSE;
  }
  const json_t *rp = json_object_get(t, "RetryPolicy");
  if(rp) {
    const char *k;
    const json_t *v;
    if(!json_is_object(rp)) {
      snprintf(err, errlen, "target '%s': \"RetryPolicy\" must be an object",
               ids);
      return CH_ERR_PARSE;
    }
    json_object_foreach((json_t *)rp, k, v)
    {
      bool retries = !strcmp(k, "MaximumRetryAttempts");
      bool age = !strcmp(k, "MaximumEventAgeInSeconds");
      if(!retries && !age) {
        snprintf(err, errlen, "target '%s': RetryPolicy: unknown key '%.64s'",
                 ids, k);
        return CH_ERR_PARSE;
      }
      json_int_t n = json_integer_value(v);
      json_int_t lo = retries ? 0 : CERTHUB_EVENT_AGE_MIN;
      json_int_t hi =
          retries ? CERTHUB_RETRY_ATTEMPTS_MAX : CERTHUB_EVENT_AGE_MAX;
      if(!json_is_integer(v) || n < lo || n > hi) {
        snprintf(err, errlen,
                 "target '%s': RetryPolicy.%s must be an integer in %lld-%lld",
                 ids, k, (long long)lo, (long long)hi);
        return CH_ERR_PARSE;
      }
      if(retries)
        p->max_retries = (unsigned)n;
      else
        p->max_age = (int64_t)n;
    }
  }
  const json_t *dl = json_object_get(t, "DeadLetterConfig");
  if(dl) {
    if(!json_is_object(dl) && !json_is_boolean(dl)) {
      snprintf(err, errlen,
               "target '%s': \"DeadLetterConfig\" must be an object or a "
               "boolean",
               ids);
      return CH_ERR_PARSE;
    }
    p->dead_letter = !json_is_false(dl);
  }
  return CH_OK;
}

ch_err certhub_bus_rule_validate(const certhub_bus_rule *r,
                                 certhub_bus_target_check check, void *ctx,
                                 char **errmsg)
{
  ch_err rc = CH_OK;
  char err[ERRLEN];
  json_t *targets = NULL;
  *errmsg = NULL;
  if(!r)
    return CH_ERR_USAGE;
  if(!ch_bus_rule_name_ok(r->name)) {
    *errmsg = msg_dup("rule name '%.100s' is invalid (1-64 of A-Z a-z 0-9 "
                      ". _ -)%s",
                      r->name ? r->name : "", "");
    return CH_ERR_PARSE;
  }
  if(r->bus && !ch_bus_name_ok(r->bus)) {
    *errmsg =
        msg_dup("rule %s: bus name '%.200s' is invalid", r->name, r->bus);
    return CH_ERR_PARSE;
  }
  if(!r->pattern == !r->schedule) {
    *errmsg = msg_dup("rule %s: needs exactly one of an event pattern and a "
                      "schedule expression%s",
                      r->name, "");
    return CH_ERR_USAGE;
  }
  if(r->batch && (!r->schedule || strcmp(r->batch, CERTHUB_BATCH_EXPIRING))) {
    *errmsg = msg_dup(r->schedule ? "rule %s: batch must be '%s'"
                                  : "rule %s: batch needs a schedule "
                                    "expression (it is the detail of the "
                                    "rule's '%s' Scheduled Event)",
                      r->name, CERTHUB_BATCH_EXPIRING);
    return CH_ERR_USAGE;
  }
  if(r->description && strlen(r->description) > CERTHUB_RULE_DESCRIPTION_MAX) {
    *errmsg = msg_dup("rule %s: description is longer than %s characters",
                      r->name, "512");
    return CH_ERR_TOOBIG;
  }
  if(r->pattern) {
    certhub_pattern *p = NULL;
    char *perr = NULL;
    rc = certhub_pattern_compile(r->pattern, strlen(r->pattern), &p, &perr);
    certhub_pattern_free(p);
    if(rc) {
      *errmsg = msg_dup("rule %s: invalid event pattern: %s", r->name,
                        perr ? perr : certhub_strerror(rc));
      free(perr);
      return rc;
    }
  }
  else {
    certhub_schedule *sc = NULL;
    char *serr = NULL;
    int64_t first = 0;
    rc = certhub_schedule_parse(r->schedule, &sc, &serr);
    /* An impossible date (cron(0 0 30 2 ? *)) is refused: it would never
     * fire. One whose last year has passed is accepted (a configuration
     * must not stop loading when a year ends). */
    if(!rc &&
       certhub_schedule_next_msg(sc, 0, &first, &serr) == CH_ERR_NOTFOUND)
      rc = CH_ERR_PARSE;
    certhub_schedule_free(sc);
    if(rc) {
      *errmsg = msg_dup("rule %s: invalid schedule expression: %s", r->name,
                        serr ? serr : certhub_strerror(rc));
      free(serr);
      return rc;
    }
  }
  if(!r->targets)
    return CH_OK;
  json_error_t jerr;
  targets = json_loads(r->targets, JSON_REJECT_DUPLICATES, &jerr);
  if(!targets) {
    snprintf(err, sizeof(err), "line %d column %d: %s", jerr.line, jerr.column,
             jerr.text);
    *errmsg =
        msg_dup("rule %s: targets are not valid JSON (%s)", r->name, err);
    return CH_ERR_PARSE;
  }
  if(!json_is_array(targets)) {
    *errmsg = msg_dup("rule %s: targets must be a JSON array%s", r->name, "");
    rc = CH_ERR_PARSE;
    goto out;
  }
  if(json_array_size(targets) > CERTHUB_RULE_MAX_TARGETS) {
    *errmsg = msg_dup("rule %s: more than %s targets", r->name, "5");
    rc = CH_ERR_TOOBIG;
    goto out;
  }
  for(size_t i = 0; i < json_array_size(targets); i++) {
    json_t *t = json_array_get(targets, i);
    ch_bus_policy pol;
    rc = ch_bus_policy_parse(t, &pol, err, sizeof(err));
    if(rc) {
      *errmsg = msg_dup("rule %s: %s", r->name, err);
      goto out;
    }
    const char *id = json_string_value(json_object_get(t, "Id"));
    for(size_t j = 0; j < i; j++)
      if(!strcmp(id, json_string_value(
                         json_object_get(json_array_get(targets, j), "Id")))) {
        *errmsg = msg_dup("rule %s: duplicate target Id '%s'", r->name, id);
        rc = CH_ERR_PARSE;
        goto out;
      }
    if(check) {
      char *text = json_dumps(t, JSON_COMPACT);
      char *cerr = NULL;
      if(!text) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      rc = check(ctx, text, &cerr);
      free(text);
      if(rc) {
        snprintf(err, sizeof(err), "target '%s': %s", id,
                 cerr ? cerr : certhub_strerror(rc));
        free(cerr);
        *errmsg = msg_dup("rule %s: %s", r->name, err);
        goto out;
      }
      free(cerr);
    }
  }
out:
  json_decref(targets);
  return rc;
}

/* What rule_put keeps of an existing rule. */
typedef struct old_rule {
  bool found;
  bool enabled;
  char *schedule;
  int64_t last_fire, next_fire;
} old_rule;

static ch_err keep_old(void *ctx, const certhub_bus_rule *r)
{
  old_rule *o = ctx;
  o->found = true;
  o->enabled = r->enabled;
  o->last_fire = r->last_fire;
  o->next_fire = r->next_fire;
  if(r->schedule && !(o->schedule = strdup(r->schedule)))
    return CH_ERR_NOMEM;
  return CH_OK;
}

/* The first fire strictly after now; 0 when the schedule never fires
 * again. */
static ch_err next_fire(certhub_store *s, const char *expr, int64_t now,
                        int64_t *next)
{
  certhub_schedule *sc = NULL;
  char *err = NULL;
  *next = 0;
  ch_err rc = certhub_schedule_parse(expr, &sc, &err);
  if(rc) {
    certhub_store_set_error(s, rc, "invalid schedule expression: %s",
                            err ? err : certhub_strerror(rc));
    free(err);
    return rc;
  }
  rc = certhub_schedule_next(sc, now, next);
  if(rc == CH_ERR_NOTFOUND) {
    rc = CH_OK;
    *next = 0;
  }
  certhub_schedule_free(sc);
  return rc;
}

ch_err certhub_bus_rule_put(certhub_store *s, const certhub_bus_rule *r,
                            int64_t now, certhub_bus_target_check check,
                            void *ctx, bool *created)
{
  char *err = NULL;
  char *targets = NULL;
  old_rule old = {0};
  bool exists = false;
  if(!s || !r)
    return CH_ERR_USAGE;
  ch_err rc = certhub_bus_rule_validate(r, check, ctx, &err);
  if(rc) {
    certhub_store_set_error(s, rc, "%s", err ? err : certhub_strerror(rc));
    goto out;
  }
  const char *bus = r->bus ? r->bus : CERTHUB_DEFAULT_BUS;
  rc = certhub_store_bus_exists(s, bus, &exists);
  if(rc)
    goto out;
  if(!exists) {
    rc = certhub_store_set_error(s, CH_ERR_NOTFOUND,
                                 "rule %s: no event bus '%s'", r->name, bus);
    goto out;
  }
  /* Canonical compact text of the targets. */
  json_t *tj = json_loads(r->targets ? r->targets : "[]", 0, NULL);
  targets = tj ? json_dumps(tj, JSON_COMPACT) : NULL;
  json_decref(tj);
  if(!targets) {
    rc = certhub_store_set_error(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  rc = certhub_store_rule_get(s, bus, r->name, keep_old, &old);
  if(rc == CH_ERR_NOTFOUND)
    rc = CH_OK;
  if(rc)
    goto out;
  certhub_bus_rule row = *r;
  row.bus = bus;
  row.targets = targets;
  row.description = r->description ? r->description : "";
  row.managed_by = r->managed_by ? r->managed_by : CERTHUB_RULE_BY_CLI;
  row.updated = now;
  row.created = now;
  row.last_fire = old.found ? old.last_fire : 0;
  row.next_fire = 0;
  if(r->schedule && r->enabled) {
    /* An unchanged, enabled schedule keeps its pending fire (a restart
     * re-applying the configuration must not skip a due fire). */
    if(old.found && old.enabled && old.schedule &&
       !strcmp(old.schedule, r->schedule) && old.next_fire > 0)
      row.next_fire = old.next_fire;
    else
      rc = next_fire(s, r->schedule, now, &row.next_fire);
    if(rc)
      goto out;
  }
  rc = certhub_store_rule_put(s, &row, created);
out:
  free(old.schedule);
  free(targets);
  free(err);
  return rc;
}

static ch_err get_rule(void *ctx, const certhub_bus_rule *r)
{
  old_rule *o = ctx;
  return keep_old(o, r);
}

ch_err certhub_bus_rule_enable(certhub_store *s, const char *bus,
                               const char *name, bool enable, int64_t now)
{
  old_rule old = {0};
  int64_t next = 0;
  if(!s || !name)
    return CH_ERR_USAGE;
  bus = bus ? bus : CERTHUB_DEFAULT_BUS;
  ch_err rc = certhub_store_rule_get(s, bus, name, get_rule, &old);
  if(!rc && enable && old.schedule) {
    if(old.enabled && old.next_fire > 0)
      next = old.next_fire; /* already enabled: keep the pending fire */
    else
      rc = next_fire(s, old.schedule, now, &next);
  }
  if(!rc)
    rc = certhub_store_rule_set_state(s, bus, name, enable, next, now);
  free(old.schedule);
  return rc;
}

char *certhub_bus_rule_arn(const char *region, const char *account,
                           const char *bus, const char *name)
{
  bool dflt = !bus || !strcmp(bus, CERTHUB_DEFAULT_BUS);
  const char *rg = region ? region : CERTHUB_BUS_DEFAULT_REGION;
  const char *ac = account ? account : CERTHUB_BUS_DEFAULT_ACCOUNT;
  int n = snprintf(NULL, 0, "arn:certhub:events:%s:%s:rule/%s%s%s", rg, ac,
                   dflt ? "" : bus, dflt ? "" : "/", name);
  char *arn = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if(arn)
    snprintf(arn, (size_t)n + 1, "arn:certhub:events:%s:%s:rule/%s%s%s", rg,
             ac, dflt ? "" : bus, dflt ? "" : "/", name);
  return arn;
}
