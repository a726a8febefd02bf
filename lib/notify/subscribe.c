/*
 * Subscriptions: SNS Subscribe/ConfirmSubscription/Unsubscribe rules over
 * the store's tables (certhub/deliver_store.h), the delivery log and the
 * dead-letter store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "certhub/config.h"
#include "certhub/deliver_store.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"
#include "certhub/store_hub.h"
#include "core/core.h"
#include "filter_hook.h"
#include "notify_int.h"
#include "proto.h"

int64_t certhub_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void certhub_notify_redact(const char *protocol, const char *endpoint,
                           char *out, size_t outlen)
{
  ch_notify_redact(protocol, endpoint, out, outlen);
}

/* The protocol names, for messages. */
static void proto_names(char *out, size_t n)
{
  size_t k = 0;
  const ch_notify_proto *const *all = ch_notify_protos(&k);
  out[0] = '\0';
  for(size_t i = 0; i < k; i++) {
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s%s", i ? ", " : "", all[i]->name);
  }
}

/* Subscription attributes: a JSON object; the ones certhub acts on are
 * checked here (FilterPolicy belongs to the filter module). */
static ch_err attrs_check(const char *attrs, char *why, size_t whylen)
{
  json_error_t jerr;
  if(strlen(attrs) > CERTHUB_SUB_ATTRS_MAX) {
    snprintf(why, whylen, "attributes are larger than %d bytes",
             CERTHUB_SUB_ATTRS_MAX);
    return CH_ERR_TOOBIG;
  }
  json_t *o = json_loads(attrs, JSON_REJECT_DUPLICATES, &jerr);
  ch_err rc = CH_OK;
  if(!json_is_object(o)) {
    snprintf(why, whylen, "attributes must be a JSON object%s%s",
             o ? "" : ": ", o ? "" : jerr.text);
    rc = CH_ERR_USAGE;
    goto out;
  }
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v)
  {
    const char *sv = json_string_value(v);
    rc = CH_ERR_USAGE;
    if(!json_is_string(v) && !json_is_boolean(v)) {
      snprintf(why, whylen, "attribute %.64s: the value must be a string", k);
      goto out;
    }
    if(!strcmp(k, "RawMessageDelivery") && sv && strcmp(sv, "true") &&
       strcmp(sv, "false")) {
      snprintf(why, whylen,
               "attribute RawMessageDelivery must be true or false");
      goto out;
    }
    if(!strcmp(k, "DeliveryPolicy")) {
      certhub_delivery_policy p;
      char pw[256];
      certhub_delivery_policy_default(&p);
      if(!sv || certhub_delivery_policy_parse(sv, &p, pw, sizeof(pw))) {
        snprintf(why, whylen, "attribute %s",
                 sv ? pw : "DeliveryPolicy must be a string of JSON");
        goto out;
      }
    }
    rc = CH_OK;
  }
  /* A filter policy the engine could not compile would silently filter
   * every message out: refuse it now, as SetSubscriptionAttributes does. */
  json_t *fp = json_object_get(o, "FilterPolicy");
  json_t *fs = json_object_get(o, "FilterPolicyScope");
  if(fp || fs) {
    char *fw = NULL;
    if(fp && !json_is_string(fp)) {
      snprintf(why, whylen, "attribute FilterPolicy must be a string of JSON");
      rc = CH_ERR_USAGE;
      goto out;
    }
    if(fs && !json_is_string(fs)) {
      snprintf(why, whylen,
               "attribute FilterPolicyScope must be MessageAttributes or "
               "MessageBody");
      rc = CH_ERR_USAGE;
      goto out;
    }
    if(ch_notify_filter_check(json_string_value(fp), json_string_value(fs),
                              &fw)) {
      /* the filter module's messages start with the attribute's name */
      snprintf(why, whylen, "attribute %s",
               fw ? fw : "FilterPolicy is not valid");
      free(fw);
      rc = CH_ERR_USAGE;
      goto out;
    }
    free(fw);
  }
out:
  json_decref(o);
  return rc;
}

static ch_err check_attributes(certhub_store *s, const char *attrs)
{
  char why[400];
  ch_err rc = attrs_check(attrs, why, sizeof(why));
  return rc ? certhub_store_fail(s, rc, "%s", why) : CH_OK;
}

ch_err certhub_subscribe(certhub_store *s, const char *topic,
                         const char *protocol, const char *endpoint,
                         const char *attributes, bool confirmed, int64_t now,
                         char arn_out[CERTHUB_SUB_ARN_MAX], bool *pending)
{
  char why[256] = "", names[256], uuid[37], cid[37];
  char token[CERTHUB_SUB_TOKEN_LEN + 1];
  uint8_t rnd[CERTHUB_SUB_TOKEN_LEN / 2];
  bool created = false, pend = false;
  if(!s || !arn_out)
    return CH_ERR_USAGE;
  arn_out[0] = '\0';
  if(!certhub_topic_name_valid(topic))
    return certhub_store_fail(s, CH_ERR_USAGE, "invalid topic name '%.300s'",
                              topic ? topic : "");
  const ch_notify_proto *p = ch_notify_proto_find(protocol);
  if(!p) {
    proto_names(names, sizeof(names));
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "unknown protocol '%.64s' (one of: %s)",
                              protocol ? protocol : "", names);
  }
  if(!endpoint || !*endpoint)
    return certhub_store_fail(s, CH_ERR_USAGE, "the endpoint is empty");
  if(strlen(endpoint) > CERTHUB_ENDPOINT_MAX)
    return certhub_store_fail(s, CH_ERR_TOOBIG,
                              "the endpoint is longer than %d bytes",
                              CERTHUB_ENDPOINT_MAX);
  for(const unsigned char *q = (const unsigned char *)endpoint; *q; q++)
    if(*q < 0x20 || *q == 0x7f)
      return certhub_store_fail(s, CH_ERR_USAGE,
                                "the endpoint contains a control character");
  if(p->check_endpoint && p->check_endpoint(endpoint, why, sizeof(why)))
    return certhub_store_fail(s, CH_ERR_USAGE, "%s endpoint: %s", protocol,
                              why[0] ? why : "invalid");
  ch_err rc;
  if(attributes && (rc = check_attributes(s, attributes)))
    return rc;
  if(RAND_bytes(rnd, sizeof(rnd)) != 1 || ch_notify_uuid(uuid) ||
     ch_notify_uuid(cid))
    return certhub_store_fail(s, CH_ERR_INTERNAL, "no random bytes");
  ch_hex_encode(rnd, sizeof(rnd), token);
  certhub_subscription sub = {
      .arn = uuid,
      .topic = topic,
      .protocol = protocol,
      .endpoint = endpoint,
      .attributes = attributes,
      .status = p->needs_confirmation && !confirmed ? CERTHUB_SUB_PENDING
                                                    : CERTHUB_SUB_CONFIRMED,
      .token = token,
      .created = now,
  };
  rc = certhub_store_sub_put(s, &sub, cid, certhub_now_ms(), &created, arn_out,
                             &pend);
  if(pending)
    *pending = pend;
  return rc;
}

ch_err certhub_subscription_confirm(certhub_store *s, const char *topic,
                                    const char *token, int64_t now,
                                    char arn_out[CERTHUB_SUB_ARN_MAX])
{
  if(!s || !arn_out)
    return CH_ERR_USAGE;
  arn_out[0] = '\0';
  if(!topic || !*topic || strlen(topic) > 600)
    return certhub_store_fail(s, CH_ERR_USAGE, "invalid topic");
  if(!token || !*token || strlen(token) > 256)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "invalid token (1 to 256 characters)");
  return certhub_store_sub_confirm(s, topic, token, now, arn_out);
}

typedef struct tok_check {
  const char *token;
  bool ok;
} tok_check;

static ch_err check_token(void *ctx, const certhub_subscription *sub)
{
  tok_check *t = ctx;
  size_t n = strlen(t->token);
  t->ok = n == strlen(sub->token) && !CRYPTO_memcmp(t->token, sub->token, n);
  return CH_OK;
}

ch_err certhub_unsubscribe(certhub_store *s, const char *sub_arn,
                           const char *token)
{
  if(!s)
    return CH_ERR_USAGE;
  if(!sub_arn || strncmp(sub_arn, "arn:certhub:sns:", 16) ||
     strlen(sub_arn) >= CERTHUB_SUB_ARN_MAX)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "'%.300s' is not a subscription ARN "
                              "(arn:certhub:sns:REGION:ACCOUNT:TOPIC:ID)",
                              sub_arn ? sub_arn : "");
  if(token) {
    tok_check t = {.token = token};
    ch_err rc = certhub_store_subs(s, NULL, sub_arn, check_token, &t);
    if(rc)
      return rc;
    if(!t.ok)
      return certhub_store_fail(s, CH_ERR_USAGE,
                                "the token does not match the subscription");
  }
  return certhub_store_sub_delete(s, sub_arn);
}

ch_err certhub_subscriptions(certhub_store *s, const char *topic,
                             certhub_subscription_cb cb, void *ctx)
{
  return certhub_store_subs(s, topic, NULL, cb, ctx);
}

ch_err certhub_deliveries(certhub_store *s,
                          const certhub_sns_delivery_filter *f,
                          certhub_sns_delivery_cb cb, void *ctx)
{
  static const char *const states[] = {CERTHUB_DLV_PENDING,
                                       CERTHUB_DLV_DELIVERED, CERTHUB_DLV_DEAD,
                                       CERTHUB_DLV_FILTERED};
  if(f && f->status) {
    size_t i = 0;
    while(i < CH_ARRAY_LEN(states) && strcmp(states[i], f->status))
      i++;
    if(i == CH_ARRAY_LEN(states))
      return certhub_store_fail(s, CH_ERR_USAGE,
                                "unknown status '%.64s' (pending, delivered, "
                                "dead, filtered)",
                                f->status);
  }
  certhub_sns_delivery_filter all = {0};
  return certhub_store_deliveries(s, f ? f : &all, cb, ctx);
}

ch_err certhub_dlq_redrive(certhub_store *s, int64_t id, const char *topic,
                           int64_t now_ms, uint64_t *n)
{
  return certhub_store_dlq_redrive(s, id, topic, now_ms, n);
}

ch_err certhub_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                         uint64_t *n)
{
  return certhub_store_dlq_purge(s, id, topic, n);
}

ch_err certhub_notify_fanout(certhub_store *s, int64_t now_ms, uint64_t *n)
{
  uint64_t k = 0;
  ch_err rc = certhub_store_fanout(s, now_ms, &k);
  if(n)
    *n = k;
  return rc;
}

ch_err certhub_notify_config_check(const certhub_config *c, char **err)
{
  char why[512] = "", names[256];
  const char *file = c && c->file ? c->file : "config";
  ch_err rc = CH_OK;
  *err = NULL;
  for(size_t i = 0; c && i < c->n_topics && !rc; i++) {
    const certhub_topic_cfg *t = &c->topics[i];
    certhub_delivery_policy p;
    certhub_delivery_policy_default(&p);
    if(!certhub_topic_name_valid(t->name)) {
      snprintf(why, sizeof(why),
               "%s:%d: topics[%zu].name: invalid topic name '%.300s': use "
               "1 to 256 letters, digits, '-' or '_'",
               file, t->line, i, t->name);
      rc = CH_ERR_CONFIG;
      break;
    }
    if(t->delivery_policy) {
      char pw[256];
      if((rc = certhub_delivery_policy_parse(t->delivery_policy, &p, pw,
                                             sizeof(pw)))) {
        snprintf(why, sizeof(why), "%s:%d: topics[%zu].delivery_policy: %s",
                 file, t->line, i, pw);
        break;
      }
    }
    if(t->encrypt && !c->notify.key_file) {
      snprintf(why, sizeof(why),
               "%s:%d: topics[%zu].encrypt: needs notify.key_file (make one "
               "with certhub topics keygen FILE)",
               file, t->line, i);
      rc = CH_ERR_CONFIG;
      break;
    }
    if(t->templates) {
      certhub_render_templates *tt = NULL;
      char *tw = NULL;
      rc = certhub_render_templates_parse_text(t->templates, &tt, &tw);
      certhub_render_templates_free(tt);
      if(rc) {
        snprintf(why, sizeof(why), "%s:%d: topics[%zu].%s", file,
                 t->templates_line ? t->templates_line : t->line, i,
                 tw ? tw : "templates: invalid");
        free(tw);
        rc = CH_ERR_CONFIG;
        break;
      }
    }
    for(size_t j = 0; j < t->n_subs && !rc; j++) {
      const certhub_sub_cfg *sc = &t->subs[j];
      const ch_notify_proto *pr = ch_notify_proto_find(sc->protocol);
      char w[400] = "";
      if(!pr) {
        proto_names(names, sizeof(names));
        snprintf(w, sizeof(w), "unknown protocol '%.64s' (one of: %s)",
                 sc->protocol, names);
        rc = CH_ERR_CONFIG;
      }
      else if(sc->endpoint && pr->check_endpoint &&
              pr->check_endpoint(sc->endpoint, w, sizeof(w)))
        rc = CH_ERR_CONFIG;
      else if(sc->attributes && attrs_check(sc->attributes, w, sizeof(w)))
        rc = CH_ERR_CONFIG;
      if(rc)
        snprintf(why, sizeof(why), "%s:%d: topics[%zu].subscriptions[%zu]: %s",
                 file, sc->line, i, j, w);
    }
  }
  if(!rc && c && c->notify.key_file) {
    certhub_seal_key *k = NULL;
    char *kw = NULL;
    if(certhub_seal_key_load(c->notify.key_file, &k, &kw)) {
      snprintf(why, sizeof(why), "%s: notify.key_file: %s", file,
               kw ? kw : "cannot load it");
      rc = CH_ERR_CONFIG;
    }
    free(kw);
    certhub_seal_key_free(k);
  }
  if(rc && !(*err = strdup(why)))
    return CH_ERR_NOMEM;
  return rc;
}
