/*
 * The delivery engine: fan-out, then due deliveries run as transfers on
 * one libcurl multi handle (a pool of easy handles whose connections the
 * multi keeps alive and reuses, a bounded number in flight), outcomes
 * written back in one transaction per step.
 *
 * At least once: a delivery stays 'pending' in the store while in flight
 * and becomes 'delivered' only after the receiver answered 2xx and the
 * step's transaction committed, so a killed process re-sends at most what
 * was in flight (or answered but not yet recorded).
 *
 * Ownership: the engine owns its curl handles, signing key, copies of the
 * configuration strings and the pending updates; the store is borrowed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "certhub/deliver_store.h"
#include "certhub/notify_filter.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"
#include "channels.h"
#include "core/core.h"
#include "filter_hook.h"
#include "notify_int.h"
#include "proto.h"

#define DEFAULT_IN_FLIGHT 256
#define DEFAULT_PER_HOST 64
#define DEFAULT_TIMEOUT_MS 15000
#define DEFAULT_MAX_AGE_MS (3600 * 1000LL)
#define DETAIL_MAX 160
#define RENDER_CACHE 16  /* messages whose rendering is kept */
#define WFDS_PER_CHILD 4 /* stdin, stdout, stderr, pidfd */
#define CONFIRM_TEXT                                                          \
  "You have chosen to subscribe to the topic %s.\nTo confirm the "            \
  "subscription, visit the SubscribeURL included in this message."

typedef struct slot {
  CURL *easy;
  bool busy;
  bool child; /* a child-process delivery (state is the protocol's) */
  int64_t id;
  unsigned attempts; /* before this attempt */
  int64_t created_ms;
  certhub_delivery_policy policy;
  const ch_notify_proto *proto;
  void *state;
  char redacted[128];
} slot;

typedef struct pending_update {
  certhub_sns_delivery_update u;
  char detail[DETAIL_MAX];
  char status[16];
} pending_update;

typedef struct topic_set {
  char *name;
  certhub_delivery_policy policy;
  int version;
  certhub_render_templates *templates; /* NULL: built-in */
} topic_set;

/* A message's readable form, rendered once for all its subscriptions
 * (fan-out rows of one message are due together). */
typedef struct render_slot {
  char *message_id; /* NULL: free */
  bool rendered;    /* false: not a certhub event, send it as published */
  certhub_rendered r;
} render_slot;

struct certhub_notify_engine {
  certhub_store *s;
  certhub_notify_engine_cfg cfg;
  char *base_url, *cert_url, *ca_file;
  bool base_url_set; /* notify.base_url given (else render's default) */
  render_slot rcache[RENDER_CACHE];
  unsigned rnext;
  CURLM *multi;
  slot *slots;
  unsigned n_slots, in_flight;
  struct curl_waitfd *wfds; /* the children's descriptors, polled with
                             * the transfers: WFDS_PER_CHILD per slot */
  EVP_PKEY *key;
  certhub_seal_key *seal; /* NULL: none configured */
  certhub_smtp_cfg *smtp; /* a copy of notify.smtp; NULL: none */
  ch_notify_env env;
  topic_set *topics;
  size_t n_topics;
  pending_update *upd;
  size_t n_upd, cap_upd;
  ch_notify_throttle throttle; /* maxReceivesPerSecond bookings */
  certhub_notify_stats *st;    /* the running step's */
  /* The sweep through due rows: the last (next_at_ms, id) started, so a
   * long queue's head (in flight) is not read again each step. */
  int64_t sweep_ms, sweep_id;
  size_t seen;
  uint64_t settled; /* transfers finished in the running step */
};

static void elog(certhub_notify_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void elog(certhub_notify_engine *e, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  if(!e->cfg.log)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  e->cfg.log(e->cfg.log_ctx, "%s", line);
}

static char *why_dup(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *why_dup(const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return strdup(buf);
}

void certhub_notify_engine_free(certhub_notify_engine *e, int wait_ms);

static void smtp_free(certhub_smtp_cfg *c)
{
  if(!c)
    return;
  free(c->url);
  free(c->from);
  free(c->username);
  free(c->password_file);
  free(c->password_env);
  free(c->ca_file);
  free(c);
}

static char *dup_or_null(const char *s, bool *ok)
{
  char *d = s ? strdup(s) : NULL;
  if(s && !d)
    *ok = false;
  return d;
}

/* The configuration may be freed (SIGHUP) while the engine runs. */
static ch_err smtp_copy(const certhub_smtp_cfg *from, certhub_smtp_cfg **out)
{
  bool ok = true;
  certhub_smtp_cfg *c = calloc(1, sizeof(*c));
  if(!c)
    return CH_ERR_NOMEM;
  c->url = dup_or_null(from->url, &ok);
  c->from = dup_or_null(from->from, &ok);
  c->username = dup_or_null(from->username, &ok);
  c->password_file = dup_or_null(from->password_file, &ok);
  c->password_env = dup_or_null(from->password_env, &ok);
  c->ca_file = dup_or_null(from->ca_file, &ok);
  c->require_tls = from->require_tls;
  c->line = from->line;
  if(!ok) {
    smtp_free(c);
    return CH_ERR_NOMEM;
  }
  *out = c;
  return CH_OK;
}

ch_err certhub_notify_engine_new(certhub_store *s,
                                 const certhub_notify_engine_cfg *cfg,
                                 certhub_notify_engine **out, char **why)
{
  char err[512] = "", *pem = NULL;
  ch_err rc = CH_OK;
  *out = NULL;
  if(why)
    *why = NULL;
  certhub_notify_engine *e = calloc(1, sizeof(*e));
  if(!e)
    return CH_ERR_NOMEM;
  e->s = s;
  e->cfg = *cfg;
  e->cfg.topics = NULL;
  e->cfg.n_topics = 0;
  if(!e->cfg.max_in_flight)
    e->cfg.max_in_flight = DEFAULT_IN_FLIGHT;
  if(!e->cfg.max_per_host)
    e->cfg.max_per_host = DEFAULT_PER_HOST;
  if(e->cfg.timeout_ms <= 0)
    e->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
  if(e->cfg.max_age_ms <= 0)
    e->cfg.max_age_ms = DEFAULT_MAX_AGE_MS;
  e->base_url_set = cfg->base_url && *cfg->base_url;
  e->base_url = strdup(cfg->base_url ? cfg->base_url : "http://localhost");
  if(!e->base_url) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  size_t bl = strlen(e->base_url);
  while(bl > 0 && e->base_url[bl - 1] == '/')
    e->base_url[--bl] = '\0';
  if(!(e->cert_url = why_dup("%s/sns/signing-cert.pem", e->base_url))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  void *key = NULL;
  rc = certhub_notify_signing_load(cfg->signing_key_file,
                                   cfg->signing_cert_file, cfg->data_dir, &key,
                                   &pem, err, sizeof(err));
  free(pem);
  if(rc) {
    if(why)
      *why = why_dup("signing key: %s", err[0] ? err : certhub_strerror(rc));
    goto out;
  }
  e->key = key;
  /* The configuration may be freed (SIGHUP) while the engine runs. */
  if(cfg->ca_file && !(e->ca_file = strdup(cfg->ca_file))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  e->cfg.ca_file = e->ca_file;
  if(cfg->seal_key_file) {
    char *sw = NULL;
    if((rc = certhub_seal_key_load(cfg->seal_key_file, &e->seal, &sw))) {
      if(why)
        *why = why_dup("notify.key_file: %s", sw ? sw : certhub_strerror(rc));
      free(sw);
      goto out;
    }
  }
  e->cfg.seal_key_file = NULL;
  if(cfg->smtp && (rc = smtp_copy(cfg->smtp, &e->smtp)))
    goto out;
  e->cfg.smtp = NULL;
  e->cfg.base_url = e->base_url;
  e->cfg.signing_key_file = e->cfg.signing_cert_file = e->cfg.data_dir = NULL;
  e->topics = calloc(cfg->n_topics ? cfg->n_topics : 1, sizeof(*e->topics));
  if(!e->topics) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < cfg->n_topics; i++) {
    topic_set *t = &e->topics[e->n_topics++];
    if(!(t->name = strdup(cfg->topics[i].name))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    certhub_delivery_policy_default(&t->policy);
    t->version = cfg->topics[i].signature_version == 2 ? 2 : 1;
    if(cfg->topics[i].delivery_policy &&
       (rc = certhub_delivery_policy_parse(cfg->topics[i].delivery_policy,
                                           &t->policy, err, sizeof(err)))) {
      if(why)
        *why = why_dup("topic %s: %s", t->name, err);
      goto out;
    }
    char *tw = NULL;
    if(cfg->topics[i].templates &&
       (rc = certhub_render_templates_parse_text(cfg->topics[i].templates,
                                                 &t->templates, &tw))) {
      if(why)
        *why =
            why_dup("topic %s: %s", t->name, tw ? tw : "templates: invalid");
      free(tw);
      goto out;
    }
  }
  e->env = (ch_notify_env){
      .base_url = e->base_url,
      .signing_cert_url = e->cert_url,
      .sign_key = e->key,
      .timeout_ms = e->cfg.timeout_ms,
      .ca_file = e->ca_file,
      .signature_version = 1,
  };
  e->n_slots = e->cfg.max_in_flight;
  e->slots = calloc(e->n_slots, sizeof(*e->slots));
  e->wfds = calloc((size_t)e->n_slots * WFDS_PER_CHILD, sizeof(*e->wfds));
  e->multi = curl_multi_init();
  if(!e->slots || !e->wfds || !e->multi) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    (long)e->cfg.max_per_host);
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->n_slots);
  e->cap_upd = e->n_slots * 2 + 64;
  e->upd = calloc(e->cap_upd, sizeof(*e->upd));
  if(!e->upd)
    rc = CH_ERR_NOMEM;
out:
  if(rc) {
    if(why && !*why)
      *why = why_dup("delivery engine: %s", certhub_strerror(rc));
    certhub_notify_engine_free(e, 0);
    return rc;
  }
  *out = e;
  return CH_OK;
}

static const topic_set *topic_of(const certhub_notify_engine *e,
                                 const char *name)
{
  for(size_t i = 0; i < e->n_topics; i++)
    if(!strcmp(e->topics[i].name, name))
      return &e->topics[i];
  return NULL;
}

static ch_err flush(certhub_notify_engine *e)
{
  if(!e->n_upd)
    return CH_OK;
  certhub_sns_delivery_update *u = malloc(e->n_upd * sizeof(*u));
  if(!u)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < e->n_upd; i++) {
    u[i] = e->upd[i].u;
    u[i].status = e->upd[i].status;
    u[i].detail = e->upd[i].detail;
  }
  ch_err rc = certhub_store_deliveries_update(e->s, u, e->n_upd);
  free(u);
  if(!rc)
    e->n_upd = 0;
  return rc;
}

/* Queue an update; flushes when the queue is full. */
static ch_err push(certhub_notify_engine *e, int64_t id, const char *status,
                   unsigned attempts, int64_t next_at, int code,
                   const char *detail)
{
  ch_err rc;
  if(e->n_upd == e->cap_upd && (rc = flush(e)))
    return rc;
  pending_update *p = &e->upd[e->n_upd++];
  p->u = (certhub_sns_delivery_update){
      .id = id,
      .attempts = attempts,
      .next_at_ms = next_at,
      .now_ms = certhub_now_ms(),
      .code = code,
  };
  snprintf(p->status, sizeof(p->status), "%s", status);
  snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
  return CH_OK;
}

/* The outcome of one attempt as an update under the policy. */
static ch_err outcome(certhub_notify_engine *e, int64_t id, unsigned attempts,
                      int64_t created_ms, const certhub_delivery_policy *p,
                      ch_delivery_result r, int code, const char *detail,
                      const char *redacted)
{
  int64_t now = certhub_now_ms();
  unsigned n = attempts + 1;
  e->st->attempted++;
  if(r == CH_DELIVERY_OK) {
    e->st->delivered++;
    return push(e, id, CERTHUB_DLV_DELIVERED, n, now, code, detail);
  }
  int64_t delay =
      r == CH_DELIVERY_RETRY ? certhub_delivery_policy_delay_ms(p, n) : -1;
  char why[DETAIL_MAX];
  if(delay >= 0 && now + delay - created_ms > e->cfg.max_age_ms) {
    snprintf(why, sizeof(why), "%.100s; message age limit reached", detail);
    detail = why;
    delay = -1;
  }
  if(delay < 0) {
    e->st->dead++;
    elog(e, "delivery %lld to %s: dead-lettered after %u attempt(s): %s",
         (long long)id, redacted, n, detail);
    return push(e, id, CERTHUB_DLV_DEAD, n, now, code, detail);
  }
  e->st->retried++;
  return push(e, id, CERTHUB_DLV_PENDING, n, now + delay, code, detail);
}

static bool in_flight(const certhub_notify_engine *e, int64_t id)
{
  for(unsigned i = 0; i < e->n_slots; i++)
    if(e->slots[i].busy && e->slots[i].id == id)
      return true;
  return false;
}

static slot *free_slot(certhub_notify_engine *e)
{
  for(unsigned i = 0; i < e->n_slots; i++)
    if(!e->slots[i].busy)
      return &e->slots[i];
  return NULL;
}

/* The rendering of d's message (NULL when it is not a certhub bus event
 * or cannot be rendered: it goes out as published). Borrowed until
 * RENDER_CACHE other messages were rendered; protocols copy what they
 * use in prepare/deliver. */
static const certhub_rendered *rendered_of(certhub_notify_engine *e,
                                           const certhub_sns_delivery *d,
                                           const topic_set *t)
{
  for(unsigned i = 0; i < RENDER_CACHE; i++) {
    render_slot *rs = &e->rcache[i];
    if(rs->message_id && !strcmp(rs->message_id, d->message_id))
      return rs->rendered ? &rs->r : NULL;
  }
  render_slot *rs = &e->rcache[e->rnext];
  e->rnext = (e->rnext + 1) % RENDER_CACHE;
  free(rs->message_id);
  certhub_rendered_free(&rs->r);
  memset(rs, 0, sizeof(*rs));
  if(!(rs->message_id = strdup(d->message_id)))
    return NULL;
  /* Cheap test first: most messages that are not JSON objects are not
   * events, and need no parse. */
  size_t k = 0;
  while(k < d->len && d->message[k] && strchr(" \t\r\n", d->message[k]))
    k++;
  if(k == d->len || d->message[k] != '{')
    return NULL;
  certhub_render_opts o = {
      .base_url = e->base_url_set ? e->base_url : NULL,
      .topic_arn = d->topic_arn,
      .templates = t ? t->templates : NULL,
      .lookup = certhub_render_store_lookup,
      .lookup_ctx = e->s,
  };
  char *why = NULL;
  ch_err rc = certhub_render_event(d->message, d->len, &o, &rs->r, &why);
  if(rc && rc != CH_ERR_PARSE) /* not an event: nothing to say */
    elog(e, "message %s: cannot render it (%s), sent as published",
         d->message_id, why ? why : certhub_strerror(rc));
  free(why);
  rs->rendered = !rc;
  return rs->rendered ? &rs->r : NULL;
}

/* One due row: start it (curl), run it (synchronous), or settle it. */
static ch_err start_open(certhub_notify_engine *e,
                         const certhub_sns_delivery *d,
                         const ch_notify_proto *p, const topic_set *t,
                         const certhub_delivery_policy *polp,
                         const ch_notify_sub *subp, bool confirm,
                         const char *redacted);
static ch_err start_send(certhub_notify_engine *e,
                         const certhub_sns_delivery *d,
                         const ch_notify_proto *p, const ch_notify_env *envp,
                         const ch_notify_sub *subp, const ch_notify_msg *mp,
                         const certhub_delivery_policy *polp,
                         const char *redacted);

static ch_err start_one(void *ctx, const certhub_sns_delivery *d)
{
  certhub_notify_engine *e = ctx;
  char redacted[128];
  e->seen++;
  e->sweep_ms = d->next_at_ms;
  e->sweep_id = d->id;
  if(e->in_flight >= e->n_slots || in_flight(e, d->id))
    return CH_OK;
  ch_notify_redact(d->protocol, d->endpoint, redacted, sizeof(redacted));
  const ch_notify_proto *p = ch_notify_proto_find(d->protocol);
  const topic_set *t = topic_of(e, d->topic);
  certhub_delivery_policy pol;
  if(t)
    pol = t->policy;
  else
    certhub_delivery_policy_default(&pol);
  /* The subscription's own policy over the topic's (checked at
   * subscribe; one that no longer parses keeps the topic's). */
  char *dp = NULL;
  ch_notify_sub sub = {
      .arn = d->sub_arn,
      .topic_arn = d->topic_arn,
      .protocol = d->protocol,
      .endpoint = d->endpoint,
      .attributes = d->sub_attributes,
  };
  if((dp = ch_notify_sub_attr(&sub, "DeliveryPolicy"))) {
    certhub_delivery_policy sp = pol;
    if(!certhub_delivery_policy_parse(dp, &sp, NULL, 0))
      pol = sp;
    free(dp);
  }
  bool confirm = !strcmp(d->kind, "SubscriptionConfirmation");
  if(!p)
    return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                   CH_DELIVERY_FAILED, 0, "unknown protocol", redacted);
  if(!confirm && !d->message)
    return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                   CH_DELIVERY_FAILED, 0, "the message is gone", redacted);
  /* A body sealed at rest is opened for its delivery only (the plain
   * text lives for this call; protocols copy what they send). */
  certhub_sns_delivery dd;
  char *plain = NULL;
  if(!confirm && certhub_seal_is_sealed(d->message, d->len)) {
    size_t plen = 0;
    char *ow = NULL;
    ch_err orc = e->seal
                     ? certhub_seal_open(e->seal, d->topic_arn, d->message_id,
                                         (const uint8_t *)d->message, d->len,
                                         &plain, &plen, &ow)
                     : CH_ERR_CONFIG;
    if(orc) {
      char od[DETAIL_MAX];
      snprintf(od, sizeof(od), "%.150s",
               ow ? ow : "sealed message: no notify.key_file to open it");
      free(ow);
      return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                     orc == CH_ERR_NOMEM ? CH_DELIVERY_RETRY
                                         : CH_DELIVERY_FAILED,
                     0, od, redacted);
    }
    dd = *d;
    dd.message = plain;
    dd.len = plen;
    d = &dd;
  }
  ch_err src = start_open(e, d, p, t, &pol, &sub, confirm, redacted);
  free(plain);
  return src;
}

static ch_err start_open(certhub_notify_engine *e,
                         const certhub_sns_delivery *d,
                         const ch_notify_proto *p, const topic_set *t,
                         const certhub_delivery_policy *polp,
                         const ch_notify_sub *subp, bool confirm,
                         const char *redacted)
{
  char msgtext[900];
  int64_t now = certhub_now_ms(), next_ok = 0;
  certhub_delivery_policy pol = *polp;
  ch_notify_sub sub = *subp;
  if(now - d->created_ms > e->cfg.max_age_ms) {
    e->st->dead++;
    elog(e, "delivery %lld to %s: message age limit reached", (long long)d->id,
         redacted);
    return push(e, d->id, CERTHUB_DLV_DEAD, d->attempts, now, 0,
                "message age limit reached");
  }
  snprintf(msgtext, sizeof(msgtext), CONFIRM_TEXT, d->topic_arn);
  ch_notify_msg m = {
      .type = d->kind,
      .message_id = d->message_id,
      .topic_arn = d->topic_arn,
      .subject = confirm ? NULL : d->subject,
      .message = confirm ? msgtext : d->message,
      .len = confirm ? strlen(msgtext) : d->len,
      .timestamp_ms = confirm ? d->created_ms : d->published_at * 1000,
      .token = d->token,
      /* the filter hook and the SNS JSON read them */
      .attributes_json = confirm ? NULL : d->msg_attributes,
  };
  if(!ch_notify_throttle_ok(&e->throttle, d->sub_arn, pol.max_per_second, now,
                            &next_ok))
    return push(e, d->id, CERTHUB_DLV_PENDING, d->attempts, next_ok, -1, NULL);
  if(!confirm && e->cfg.filter_accepts &&
     !e->cfg.filter_accepts(e->cfg.filter_ctx, &sub, &m)) {
    char fp[DETAIL_MAX] = "";
    e->st->filtered++;
    /* Our own hook says why when it could not judge (invalid policy). */
    if(e->cfg.filter_accepts == certhub_notify_filter_hook ||
       e->cfg.filter_accepts == ch_notify_filter_accepts)
      ch_notify_filter_problem(e->cfg.filter_ctx, fp, sizeof(fp));
    return push(e, d->id, CERTHUB_DLV_FILTERED, d->attempts, now, 0,
                fp[0] ? fp : "not accepted by the filter policy");
  }
  /* After the filter: what is filtered out needs no rendering. */
  if(!confirm && d->message_id) {
    const certhub_rendered *r = rendered_of(e, d, t);
    if(r) {
      m.text = r->text;
      m.html = r->html;
      if(!m.subject)
        m.subject = r->subject;
    }
  }
  ch_notify_env env = e->env;
  env.signature_version = t ? t->version : 1;
  /* SMTP settings with the password as it is now (a rotated file or
   * variable counts from the next send); libcurl copies what it keeps. */
  ch_notify_smtp smtp;
  char *password = NULL;
  if(p->needs_smtp) {
    char sw[256] = "";
    ch_err lrc =
        ch_notify_smtp_load(e->smtp, &smtp, &password, sw, sizeof(sw));
    if(lrc) {
      char sd[DETAIL_MAX];
      snprintf(sd, sizeof(sd), "%.150s", sw[0] ? sw : certhub_strerror(lrc));
      return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                     lrc == CH_ERR_NOMEM ? CH_DELIVERY_RETRY
                                         : CH_DELIVERY_FAILED,
                     0, sd, redacted);
    }
    env.smtp = &smtp;
  }
  ch_err src = start_send(e, d, p, &env, &sub, &m, &pol, redacted);
  if(password) {
    OPENSSL_cleanse(password, strlen(password));
    free(password);
  }
  return src;
}

/* Deliver (synchronous protocols), start the child (command) or start
 * the transfer of m. */
static ch_err start_send(certhub_notify_engine *e,
                         const certhub_sns_delivery *d,
                         const ch_notify_proto *p, const ch_notify_env *envp,
                         const ch_notify_sub *subp, const ch_notify_msg *mp,
                         const certhub_delivery_policy *polp,
                         const char *redacted)
{
  char detail[DETAIL_MAX] = "";
  ch_notify_env env = *envp;
  ch_notify_sub sub = *subp;
  ch_notify_msg m = *mp;
  certhub_delivery_policy pol = *polp;
  if(p->deliver) {
    ch_delivery_result r = p->deliver(&env, &sub, &m, detail, sizeof(detail));
    return outcome(e, d->id, d->attempts, d->created_ms, &pol, r, 0, detail,
                   redacted);
  }
  slot *sl = free_slot(e);
  if(!sl)
    return CH_OK;
  if(p->spawn) {
    void *cs = NULL;
    ch_err crc = p->spawn(&env, &sub, &m, &cs);
    if(crc) {
      p->release(cs);
      return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                     CH_DELIVERY_RETRY, 0, "cannot start the program",
                     redacted);
    }
    sl->child = true;
    sl->state = cs;
    goto busy;
  }
  if(!sl->easy && !(sl->easy = curl_easy_init()))
    return CH_ERR_NOMEM;
  curl_easy_reset(sl->easy);
  void *state = NULL;
  ch_err rc = p->prepare(&env, &sub, &m, sl->easy, &state);
  if(rc) {
    p->release(state);
    return outcome(e, d->id, d->attempts, d->created_ms, &pol,
                   rc == CH_ERR_NOMEM ? CH_DELIVERY_RETRY : CH_DELIVERY_FAILED,
                   0, "cannot prepare the request", redacted);
  }
  curl_easy_setopt(sl->easy, CURLOPT_PRIVATE, sl);
  if(curl_multi_add_handle(e->multi, sl->easy) != CURLM_OK) {
    p->release(state);
    return CH_ERR_INTERNAL;
  }
  sl->child = false;
  sl->state = state;
busy:
  sl->busy = true;
  sl->id = d->id;
  sl->attempts = d->attempts;
  sl->created_ms = d->created_ms;
  sl->policy = pol;
  sl->proto = p;
  snprintf(sl->redacted, sizeof(sl->redacted), "%s", redacted);
  e->in_flight++;
  return CH_OK;
}

/* Settle every finished transfer. */
static ch_err reap(certhub_notify_engine *e)
{
  CURLMsg *msg;
  int left;
  ch_err rc = CH_OK;
  while((msg = curl_multi_info_read(e->multi, &left))) {
    if(msg->msg != CURLMSG_DONE)
      continue;
    slot *sl = NULL;
    long code = 0;
    char detail[DETAIL_MAX] = "";
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    CURLcode cc = msg->data.result;
    curl_multi_remove_handle(e->multi, msg->easy_handle);
    if(!sl)
      continue;
    ch_delivery_result r =
        sl->proto->finish(sl->state, cc, code, detail, sizeof(detail));
    sl->proto->release(sl->state);
    sl->state = NULL;
    sl->busy = false;
    e->in_flight--;
    e->settled++;
    ch_err r2 = outcome(e, sl->id, sl->attempts, sl->created_ms, &sl->policy,
                        r, (int)code, detail, sl->redacted);
    if(r2 && !rc)
      rc = r2;
  }
  return rc;
}

/* Move every child along (non-blocking); settle those that are done. */
static ch_err reap_children(certhub_notify_engine *e)
{
  ch_err rc = CH_OK;
  for(unsigned i = 0; i < e->n_slots; i++) {
    slot *sl = &e->slots[i];
    if(!sl->busy || !sl->child || !sl->proto->advance(sl->state))
      continue;
    char detail[DETAIL_MAX] = "";
    ch_delivery_result r =
        sl->proto->result(sl->state, detail, sizeof(detail));
    sl->proto->release(sl->state);
    sl->state = NULL;
    sl->busy = sl->child = false;
    e->in_flight--;
    e->settled++;
    ch_err r2 = outcome(e, sl->id, sl->attempts, sl->created_ms, &sl->policy,
                        r, 0, detail, sl->redacted);
    if(r2 && !rc)
      rc = r2;
  }
  return rc;
}

/* Wait up to wait_ms for a transfer or a child's descriptor (or a child's
 * own deadline), then drive both and settle what finished. */
static ch_err drive(certhub_notify_engine *e, int wait_ms)
{
  unsigned n = 0;
  int running = 0;
  for(unsigned i = 0; i < e->n_slots; i++) {
    slot *sl = &e->slots[i];
    if(sl->busy && sl->child)
      n += sl->proto->wait_fds(sl->state, e->wfds + n, WFDS_PER_CHILD,
                               &wait_ms);
  }
  if(wait_ms > 0)
    curl_multi_poll(e->multi, e->wfds, n, wait_ms, NULL);
  curl_multi_perform(e->multi, &running);
  ch_err rc = reap(e);
  ch_err r2 = reap_children(e);
  return rc ? rc : r2;
}

ch_err certhub_notify_engine_step(certhub_notify_engine *e, int wait_ms,
                                  certhub_notify_stats *st)
{
  certhub_notify_stats local = {0};
  uint64_t fanned = 0;
  e->st = st ? st : &local;
  ch_err rc = certhub_store_fanout(e->s, certhub_now_ms(), &fanned);
  if(rc)
    return rc;
  e->st->fanned += fanned;
  e->settled = 0;
  /* Refill in batches: a query per finished transfer would read the
   * queue's head over and over. */
  unsigned batch = e->n_slots / 4 ? e->n_slots / 4 : 1;
  unsigned free_slots = e->n_slots - e->in_flight;
  if(free_slots >= batch || !e->in_flight) {
    e->seen = 0;
    rc = certhub_store_deliveries_due(e->s, certhub_now_ms(), e->sweep_ms,
                                      e->sweep_id, free_slots, start_one, e);
    if(rc)
      return rc;
    if(e->seen < free_slots)
      e->sweep_ms = e->sweep_id = 0; /* the end: next time from the head */
  }
  if(e->in_flight) {
    if((rc = drive(e, 0)))
      return rc;
    int64_t until = certhub_now_ms() + (wait_ms > 0 ? wait_ms : 0);
    /* Drive transfers and children until a batch of slots is free again
     * (or, with few in flight, one finished), or the wait is over. */
    while(e->in_flight && (!e->settled || e->n_slots - e->in_flight < batch)) {
      int64_t left = until - certhub_now_ms();
      if(left <= 0)
        break;
      if((rc = drive(e, (int)(left > 1000 ? 1000 : left))))
        return rc;
    }
  }
  return flush(e);
}

unsigned certhub_notify_engine_in_flight(const certhub_notify_engine *e)
{
  return e ? e->in_flight : 0;
}

ch_err certhub_notify_engine_next_due(certhub_notify_engine *e,
                                      int64_t *when_ms)
{
  bool found = false;
  *when_ms = INT64_MAX;
  ch_err rc = certhub_store_delivery_next_due(e->s, when_ms, &found);
  if(!rc && !found)
    *when_ms = INT64_MAX;
  return rc;
}

void certhub_notify_engine_free(certhub_notify_engine *e, int wait_ms)
{
  if(!e)
    return;
  certhub_notify_stats st = {0};
  e->st = &st;
  int64_t until = certhub_now_ms() + (wait_ms > 0 ? wait_ms : 0);
  while(e->multi && e->wfds && e->in_flight && certhub_now_ms() < until)
    drive(e, 100);
  /* Children still running are killed; each stays pending, due now, with
   * the stop in its log, and is not counted as an attempt. */
  for(unsigned i = 0; e->slots && i < e->n_slots; i++) {
    slot *sl = &e->slots[i];
    if(!sl->busy || !sl->child)
      continue;
    sl->proto->release(sl->state);
    sl->busy = sl->child = false;
    e->in_flight--;
    elog(e, "delivery %lld to %s: program killed at shutdown, kept for retry",
         (long long)sl->id, sl->redacted);
    if(e->upd)
      push(e, sl->id, CERTHUB_DLV_PENDING, sl->attempts, certhub_now_ms(), 0,
           "killed at shutdown; will be retried");
  }
  if(e->s && e->upd)
    flush(e);
  for(unsigned i = 0; e->slots && i < e->n_slots; i++) {
    slot *sl = &e->slots[i];
    if(sl->busy) {
      curl_multi_remove_handle(e->multi, sl->easy);
      sl->proto->release(sl->state);
    }
    if(sl->easy)
      curl_easy_cleanup(sl->easy);
  }
  if(e->multi)
    curl_multi_cleanup(e->multi);
  for(size_t i = 0; i < e->n_topics; i++) {
    free(e->topics[i].name);
    certhub_render_templates_free(e->topics[i].templates);
  }
  for(unsigned i = 0; i < RENDER_CACHE; i++) {
    free(e->rcache[i].message_id);
    certhub_rendered_free(&e->rcache[i].r);
  }
  free(e->topics);
  free(e->slots);
  free(e->wfds);
  free(e->upd);
  if(e->key)
    ch_notify_sig_cache_clear();
  EVP_PKEY_free(e->key);
  certhub_seal_key_free(e->seal);
  smtp_free(e->smtp);
  free(e->base_url);
  free(e->cert_url);
  free(e->ca_file);
  free(e);
}
