/*
 * The wiring of the event bus inside the certhub binary (see wire.h):
 * lifecycle -> bus, bus -> targets, targets -> topics and findings, and
 * the built-in seed rules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/bus.h"
#include "certhub/event.h"
#include "certhub/findings.h"
#include "certhub/lifecycle.h"
#include "certhub/notify.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"
#include "certhub/target.h"
#include "wire.h"

/* The topic the seed rules publish to; created when they are applied.
 * Both seed targets dead-letter: a delivery that exhausts its retries
 * waits in `certhub dlq` for a redrive instead of being dropped. */
#define SEED_TOPIC "certificate-expiry"
#define SEED_TARGETS                                                          \
  "[{\"Id\":\"findings\",\"Type\":\"findings\",\"DeadLetterConfig\":{}},"     \
  "{\"Id\":\"notify\",\"Type\":\"topic\",\"Topic\":\"" SEED_TOPIC "\","       \
  "\"DeadLetterConfig\":{}}]"
/* SNS's Subject limit. */
#define SUBJECT_MAX 100

struct wire {
  certhub_store *s;
  const certhub_config *cfg;
  wire_log_fn log;
  void *log_ctx;
  int64_t now; /* of the step in progress, for the hooks */
  certhub_target_hooks hooks;
  bool (*stopping)(void *ctx); /* asked before each delivery; may be NULL */
  void *stop_ctx;
  char base_url[512]; /* the running API's URL, "" none */
  certhub_bus_breaker *breaker; /* failing targets wait, the others go on */
};

static char *msg_dup(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *msg_dup(const char *fmt, ...)
{
  char *m = NULL;
  va_list ap;
  va_start(ap, fmt);
  if(vasprintf(&m, fmt, ap) < 0)
    m = NULL;
  va_end(ap);
  return m;
}

/* The store's message for rc, or the error's name. */
static char *store_msg(wire *w, ch_err rc, const char *what)
{
  const char *m = certhub_store_errmsg(w->s);
  return msg_dup("%s: %s", what, m && *m ? m : certhub_strerror(rc));
}

static const char *event_source(const certhub_config *cfg)
{
  return cfg->event_source ? cfg->event_source : CERTHUB_DEFAULT_EVENT_SOURCE;
}

/* ---- hooks: topic and findings targets ----------------------------------
 */

/* A subject people can read when the target sets none: the notification
 * renderer's (certhub/notify_render.h: what happened to which
 * certificate, its expiry date from the inventory). */
static void derive_subject(wire *w, const char *message, size_t len, char *out,
                           size_t cap)
{
  certhub_render_opts o = {.lookup = certhub_render_store_lookup,
                           .lookup_ctx = w->s};
  certhub_rendered r;
  char *why = NULL;
  if(certhub_render_event(message, len, &o, &r, &why) == CH_OK)
    snprintf(out, cap, "%s", r.subject);
  else
    snprintf(out, cap, "certhub notification");
  certhub_rendered_free(&r);
  free(why);
}

/* Room kept for the MessageAttributes of certhub's own messages when a
 * batch event is cut to fit (they count toward the message limit; the
 * largest, owners, is capped at 8 KiB in lib/notify/attrs.c). */
#define OWN_ATTRS_ROOM (16 * 1024)

static ch_err hook_publish(void *ctx, const char *topic, const char *subject,
                           const char *message, size_t len, char **detail)
{
  wire *w = ctx;
  char id[CERTHUB_MESSAGE_ID_LEN + 1], derived[SUBJECT_MAX + 1];
  char *cut = NULL;
  size_t cut_len = 0, listed = 0;
  /* A batch event (the weekly digest of a big inventory) may be larger
   * than a message: publish its bounded form, the most urgent
   * certificates that fit, with the total count (the renderer says how
   * many more). Anything else too large fails in publish as before. */
  if(len > CERTHUB_MESSAGE_MAX - OWN_ATTRS_ROOM &&
     certhub_lifecycle_batch_cut(message, len,
                                 CERTHUB_MESSAGE_MAX - OWN_ATTRS_ROOM, &cut,
                                 &cut_len, &listed) == CH_OK &&
     cut) {
    if(w->log)
      w->log(w->log_ctx,
             "topic %s: the batch event is %zu bytes; publishing the %zu most "
             "urgent certificates that fit in %d bytes",
             topic, len, listed, CERTHUB_MESSAGE_MAX - OWN_ATTRS_ROOM);
    message = cut;
    len = cut_len;
  }
  if(!subject) {
    derive_subject(w, message, len, derived, sizeof(derived));
    subject = derived;
  }
  /* certhub's own messages carry MessageAttributes from their event
   * (detail-type, certificate, days to expiry, owner...), so
   * MessageAttributes-scope filter policies can select them. */
  char *attrs = NULL;
  ch_err rc = certhub_msg_attrs_from_event(
      message, len, certhub_render_store_lookup, w->s, &attrs);
  if(!rc)
    rc = certhub_topic_publish_cfg_attrs(w->s, w->cfg, topic, subject, message,
                                         len, attrs, w->now, id);
  if(rc == CH_ERR_TOOBIG && attrs) {
    /* the message fits alone: it matters more than its attributes */
    if(w->log)
      w->log(w->log_ctx,
             "topic %s: message and attributes exceed %d bytes; publishing "
             "without attributes",
             topic, CERTHUB_MESSAGE_MAX);
    rc = certhub_topic_publish_cfg(w->s, w->cfg, topic, subject, message, len,
                                   w->now, id);
  }
  free(attrs);
  if(rc)
    *detail = store_msg(w, rc, "publish");
  else
    *detail = msg_dup("published message %s to topic %s", id, topic);
  free(cut);
  return rc;
}

static ch_err hook_findings(void *ctx, const char *product,
                            const char *event_json, size_t len, char **detail)
{
  wire *w = ctx;
  size_t n = 0;
  const certhub_findings_cfg *fc = &w->cfg->findings;
  certhub_expiry_bands bands = {fc->critical_days, fc->high_days,
                                fc->medium_days};
  /* Remediation Urls must open on this certhub: $CERTHUB_BASE_URL, else
   * http.base_url, else the running API's URL, else the default. */
  const char *base = getenv("CERTHUB_BASE_URL");
  if(!base || !*base)
    base = w->cfg->http.base_url ? w->cfg->http.base_url : w->base_url;
  certhub_event_findings_opts o = {
      .product = product,
      .base_url = base,
      .bands = fc->bands_set ? &bands : NULL,
  };
  return certhub_findings_from_event_opts(w->s, &o, event_json, len, w->now,
                                          &n, detail);
}

/* ---- the bus's callbacks ------------------------------------------------
 */

ch_err wire_check_target(void *ctx, const char *target_json, char **errmsg)
{
  (void)ctx;
  certhub_rule_target *t = NULL;
  ch_err rc =
      certhub_rule_target_parse(target_json, strlen(target_json), &t, errmsg);
  certhub_rule_target_free(t);
  return rc;
}

static ch_err deliver(void *ctx, const char *rule, const char *bus,
                      const char *target_json, const char *event_json,
                      size_t len, certhub_bus_delivery *result, char **detail)
{
  wire *w = ctx;
  if(w->stopping && w->stopping(w->stop_ctx)) {
    /* a stop was asked: leave this row for the next start */
    *result = CERTHUB_BUS_SKIPPED;
    return CH_OK;
  }
  certhub_rule_target *t = NULL;
  certhub_delivery d = CERTHUB_DELIVERY_FAILED;
  char *arn = certhub_bus_rule_arn(w->cfg->region, w->cfg->account, bus, rule);
  ch_err rc =
      certhub_rule_target_parse(target_json, strlen(target_json), &t, detail);
  if(rc) {
    /* A stored target that no longer parses will never deliver. */
    *result = CERTHUB_BUS_FAILED;
    rc = CH_OK;
    goto out;
  }
  certhub_target_ctx tc = {
      .rule_name = rule,
      .rule_arn = arn,
      .bus_name = bus,
      .ingestion_time = w->now,
      .hooks = &w->hooks,
  };
  rc = certhub_rule_target_deliver(t, &tc, event_json, len, &d, detail);
  if(!rc)
    *result = d == CERTHUB_DELIVERY_OK      ? CERTHUB_BUS_DELIVERED
              : d == CERTHUB_DELIVERY_RETRY ? CERTHUB_BUS_RETRY
                                            : CERTHUB_BUS_FAILED;
out:
  /* Whether a retryable failure is retried is the bus's decision, made
   * after this (RetryPolicy, event age): the pass's summary counts it. */
  if(w->log && *result != CERTHUB_BUS_DELIVERED)
    w->log(w->log_ctx, "rule %s target %s: attempt failed (%s): %s", rule,
           t ? certhub_rule_target_id(t) : "?",
           *result == CERTHUB_BUS_RETRY ? "retryable" : "permanent",
           *detail ? *detail : "");
  certhub_rule_target_free(t);
  free(arn);
  return rc;
}

/* A schedule rule with a batch gets the expiring certificates as its
 * Scheduled Event's detail. */
typedef struct batch_lookup {
  bool batch;
} batch_lookup;

static ch_err rule_batch(void *ctx, const certhub_bus_rule *r)
{
  batch_lookup *b = ctx;
  b->batch = r->batch && !strcmp(r->batch, CERTHUB_BATCH_EXPIRING);
  return CH_OK;
}

static ch_err detail_for(void *ctx, const char *rule_name, const char *bus,
                         char **detail_json)
{
  wire *w = ctx;
  batch_lookup b = {false};
  json_t *j = NULL;
  *detail_json = NULL;
  ch_err rc = certhub_store_rule_get(w->s, bus, rule_name, rule_batch, &b);
  if(rc || !b.batch)
    return rc;
  rc = certhub_lifecycle_batch(w->s, w->cfg, w->now, &j);
  if(rc)
    return rc;
  *detail_json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  return *detail_json ? CH_OK : CH_ERR_NOMEM;
}

/* ---- lifecycle -> bus ---------------------------------------------------
 */

static ch_err sink_put(void *ctx, const certhub_event *ev, bool *stored)
{
  wire *w = ctx;
  char id[37];
  return certhub_bus_put(w->s, ev, w->now, id, stored);
}

static void on_warning(void *ctx, const char *cert_id, const char *msg)
{
  wire *w = ctx;
  if(w->log)
    w->log(w->log_ctx, "evaluate: %s%s%s", cert_id ? cert_id : "",
           cert_id ? ": " : "", msg);
}

/* ---- public -------------------------------------------------------------
 */

ch_err wire_new(certhub_store *s, const certhub_config *cfg, wire_log_fn log,
                void *log_ctx, wire **out, char **errmsg)
{
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  wire *w = calloc(1, sizeof(*w));
  if(!w)
    return CH_ERR_NOMEM;
  w->s = s;
  w->cfg = cfg;
  w->log = log;
  w->log_ctx = log_ctx;
  w->hooks.ctx = w;
  w->hooks.publish = hook_publish;
  w->hooks.import_findings = hook_findings;
  if(!(w->breaker = certhub_bus_breaker_new())) {
    free(w);
    return CH_ERR_NOMEM;
  }
  *out = w;
  return CH_OK;
}

void wire_set_stop(wire *w, bool (*stopping)(void *ctx), void *ctx)
{
  w->stopping = stopping;
  w->stop_ctx = ctx;
}

void wire_set_base_url(wire *w, const char *url)
{
  snprintf(w->base_url, sizeof(w->base_url), "%s", url ? url : "");
}

void wire_free(wire *w)
{
  if(w)
    certhub_bus_breaker_free(w->breaker);
  free(w);
}

/* The seed rules, used when the configuration has no rules: section:
 * (a) each certificate's Approaching Expiration (and Expired) event goes
 * to the findings hub and the certificate-expiry topic, one notification
 * per certificate; (b) every Sunday 00:05 UTC (cron day-of-week 1 is
 * Sunday in EventBridge) one Scheduled Event lists
 * every certificate within its threshold: one finding each and ONE digest
 * notification. */
static ch_err seed_rules(const certhub_config *cfg, certhub_rule_cfg r[2],
                         char **pattern)
{
  const char *src = event_source(cfg);
  json_t *p = json_pack("{s:[s],s:[s,s]}", "source", src, "detail-type",
                        CERTHUB_DT_APPROACHING, CERTHUB_DT_EXPIRED);
  *pattern = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(p);
  if(!*pattern)
    return CH_ERR_NOMEM;
  memset(r, 0, 2 * sizeof(*r));
  r[0].name = (char *)"certificate-expiry";
  r[0].description =
      (char *)"certhub seed rule: each certificate approaching expiry or "
              "expired becomes a finding and a notification";
  r[0].pattern = *pattern;
  r[0].targets = (char *)SEED_TARGETS;
  r[0].enabled = true;
  r[1].name = (char *)"weekly-expiry-digest";
  r[1].description =
      (char *)"certhub seed rule: every Sunday, one finding per certificate "
              "within its threshold and one digest notification";
  r[1].schedule = (char *)"cron(5 0 ? * 1 *)";
  r[1].batch = (char *)CERTHUB_BATCH_EXPIRING;
  r[1].targets = (char *)SEED_TARGETS;
  r[1].enabled = true;
  return CH_OK;
}

/* Create the topics the configured rules publish to (until topics get a
 * configuration section of their own, a topic target in the config is
 * its declaration). CreateTopic is idempotent. */
static ch_err create_rule_topics(wire *w, const certhub_config *view,
                                 int64_t now, char **errmsg)
{
  ch_err rc = CH_OK;
  for(size_t i = 0; !rc && i < view->n_rules; i++) {
    json_t *ts = view->rules[i].targets
                     ? json_loads(view->rules[i].targets, 0, NULL)
                     : NULL;
    size_t k;
    json_t *t;
    json_array_foreach(ts, k, t)
    {
      const char *type = json_string_value(json_object_get(t, "Type"));
      const char *topic = json_string_value(json_object_get(t, "Topic"));
      if(rc || !type || strcmp(type, "topic") || !topic ||
         !certhub_topic_name_valid(topic))
        continue;
      rc = certhub_topic_create(w->s, topic, NULL, w->cfg->account,
                                w->cfg->region, now, NULL);
      if(rc)
        *errmsg = store_msg(w, rc, "creating a rule's topic");
    }
    json_decref(ts);
  }
  return rc;
}

ch_err wire_apply_config(wire *w, int64_t now, char **errmsg)
{
  certhub_config view = *w->cfg;
  certhub_rule_cfg seed[2];
  char *pattern = NULL;
  ch_err rc = CH_OK;
  *errmsg = NULL;
  w->now = now;
  if(!w->cfg->has_rules) {
    if((rc = seed_rules(w->cfg, seed, &pattern)))
      goto out;
    view.rules = seed;
    view.n_rules = 2;
  }
  if((rc = create_rule_topics(w, &view, now, errmsg)))
    goto out;
  rc = certhub_bus_apply_config(w->s, &view, now, wire_check_target, w);
  if(rc)
    *errmsg = store_msg(w, rc, "rules");
out:
  free(pattern);
  return rc;
}

ch_err wire_evaluate(wire *w, int64_t now, wire_stats *st, char **errmsg)
{
  certhub_lifecycle_stats ls = {0};
  certhub_lifecycle_opts o = {
      .now = now,
      .on_warning = on_warning,
      .ctx = w,
  };
  certhub_event_sink sink = {.ctx = w, .put = sink_put};
  *errmsg = NULL;
  w->now = now;
  ch_err rc = certhub_lifecycle_evaluate(w->s, w->cfg, &o, &sink, &ls);
  for(int k = 0; k < CERTHUB_LC__N; k++) {
    st->emitted += ls.emitted[k];
    st->deduped += ls.deduped[k];
  }
  if(rc) {
    *errmsg = store_msg(w, rc, "lifecycle evaluation");
    return rc;
  }
  /* The archive's retention: routed events whose deliveries are all
   * finished, older than event_retention_days (default
   * CERTHUB_EVENT_RETENTION_DAYS). */
  uint64_t pruned = 0;
  unsigned keep = w->cfg && w->cfg->event_retention_days
                      ? w->cfg->event_retention_days
                      : CERTHUB_EVENT_RETENTION_DAYS;
  rc = certhub_bus_prune(w->s, now, keep, &pruned);
  if(rc)
    *errmsg = store_msg(w, rc, "pruning the event archive");
  else if(pruned && w->log)
    w->log(w->log_ctx, "pruned %llu events older than %u days",
           (unsigned long long)pruned, keep);
  return rc;
}

ch_err wire_step(wire *w, int64_t now, size_t max_deliveries, wire_stats *st,
                 bool *more, char **errmsg)
{
  certhub_bus_stats bs = {0};
  certhub_bus_schedule_hook hook = {
      .detail_for = detail_for,
      .ctx = w,
      .account = w->cfg->account,
      .region = w->cfg->region,
  };
  *errmsg = NULL;
  *more = false;
  w->now = now;
  ch_err rc = certhub_bus_fire_schedules(w->s, now, &hook, &bs);
  if(rc) {
    *errmsg = store_msg(w, rc, "schedules");
    goto out;
  }
  rc = certhub_bus_route(w->s, now, &bs);
  if(rc) {
    *errmsg = store_msg(w, rc, "routing");
    goto out;
  }
  rc = certhub_bus_dispatch_guarded(w->s, now, deliver, w, max_deliveries,
                                    w->breaker, &bs);
  if(rc) {
    *errmsg = store_msg(w, rc, "delivery");
    goto out;
  }
  /* postponed rows left the due set: the next step sees others */
  *more = max_deliveries && bs.attempted + bs.postponed >= max_deliveries;
out:
  st->fired += bs.fired;
  st->routed += bs.routed;
  st->enqueued += bs.enqueued;
  st->delivered += bs.delivered;
  st->retried += bs.retried;
  st->dead += bs.dead + bs.dropped;
  return rc;
}

ch_err wire_next_due(wire *w, int64_t *when)
{
  bool found = false;
  ch_err rc = certhub_bus_next_due(w->s, when, &found);
  if(!rc && !found)
    *when = INT64_MAX;
  return rc;
}
