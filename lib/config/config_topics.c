/*
 * The `topics:` and `notify:` sections of the configuration.
 *
 *   notify:
 *     base_url: https://certhub.example:8443  # SubscribeURL, UnsubscribeURL
 *     signing_key_file: /etc/certhub/sns.key  # with signing_cert_file;
 *     signing_cert_file: /etc/certhub/sns.crt # else generated in the
 *                                             # data directory
 *     ca_file: /etc/certhub/ca.pem            # https receivers' trust
 *     max_in_flight: 256                      # 1..4096
 *     timeout: 15s                            # per attempt
 *     max_message_age: 3600                   # seconds, 60..1209600
 *     key_file: /etc/certhub/topics.key       # seal key (topics keygen)
 *   topics:
 *     - name: cert-alerts
 *       display_name: Certificate alerts
 *       signature_version: 1                  # 1 (RSA-SHA1) or 2 (SHA256)
 *       encrypt: true                         # bodies sealed at rest
 *       delivery_policy:                      # SNS DeliveryPolicy (map or
 *         healthyRetryPolicy: {numRetries: 5} # JSON text)
 *       templates:                            # rendering overrides (map or
 *         subject: "{{certificate.CommonName}} expires" # JSON text; see
 *                                             # certhub/notify_render.h)
 *       subscriptions:
 *         - protocol: https
 *           endpoint_file: /etc/certhub/hook.url  # or endpoint_env: VAR,
 *                                                 # or endpoint: (no secret)
 *           attributes: {RawMessageDelivery: "true"}
 *           confirmed: true                   # pre-confirmed
 *
 * Only the structure is checked here (the names, one endpoint source);
 * protocols, endpoints and policies are checked by lib/notify when the
 * topics are applied.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const topic_keys[] = {
    "name",          "display_name", "signature_version", "delivery_policy",
    "subscriptions", "templates",    "encrypt",
};
static const char *const sub_keys[] = {
    "protocol",     "endpoint",   "endpoint_file",
    "endpoint_env", "attributes", "confirmed",
};
static const char *const notify_keys[] = {
    "base_url",      "signing_key_file", "signing_cert_file", "ca_file",
    "max_in_flight", "timeout",          "max_message_age",   "smtp",
    "key_file",
};

static ch_err get_bool(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       bool *out)
{
  if(n->kind == CH_Y_SCALAR && n->plain &&
     (!strcmp(n->str, "true") || !strcmp(n->str, "false"))) {
    *out = !strcmp(n->str, "true");
    return CH_OK;
  }
  return ch_cfg_errorf(e, n, path, "must be true or false");
}

/* A map or JSON text, kept as JSON text. */
static ch_err get_json(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       char **out)
{
  if(n->kind == CH_Y_SCALAR)
    return ch_cfg_string(e, n, path, out);
  if(n->kind != CH_Y_MAP)
    return ch_cfg_errorf(e, n, path, "must be a map or JSON text, not %s",
                         ch_ynode_kind_name(n));
  return ch_cfg_json_text(e, n, path, out);
}

static ch_err load_sub(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       certhub_sub_cfg *s)
{
  char kp[512];
  ch_err rc = ch_cfg_check_keys(e, n, path, sub_keys, CH_ARRAY_LEN(sub_keys));
  if(rc)
    return rc;
  s->line = n->line;
  int sources = 0;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!strcmp(k->str, "protocol"))
      rc = ch_cfg_string(e, v, kp, &s->protocol);
    else if(!strcmp(k->str, "endpoint")) {
      rc = ch_cfg_string(e, v, kp, &s->endpoint);
      sources++;
    }
    else if(!strcmp(k->str, "endpoint_file")) {
      rc = ch_cfg_string(e, v, kp, &s->endpoint_file);
      sources++;
    }
    else if(!strcmp(k->str, "endpoint_env")) {
      rc = ch_cfg_string(e, v, kp, &s->endpoint_env);
      sources++;
    }
    else if(!strcmp(k->str, "attributes")) {
      if(v->kind != CH_Y_MAP)
        rc = ch_cfg_errorf(e, v, kp, "must be a map");
      else
        rc = ch_cfg_json_text(e, v, kp, &s->attributes);
    }
    else if(!strcmp(k->str, "confirmed"))
      rc = get_bool(e, v, kp, &s->confirmed);
    if(rc)
      return rc;
  }
  if(!s->protocol)
    return ch_cfg_errorf(e, n, path, "protocol is missing");
  if(sources != 1)
    return ch_cfg_errorf(e, n, path,
                         "give exactly one of endpoint, endpoint_file and "
                         "endpoint_env");
  return CH_OK;
}

static ch_err load_topic(ch_cfgerr *e, const ch_ynode *n, const char *path,
                         certhub_topic_cfg *t)
{
  char kp[512], ip[512];
  ch_err rc =
      ch_cfg_check_keys(e, n, path, topic_keys, CH_ARRAY_LEN(topic_keys));
  if(rc)
    return rc;
  t->line = n->line;
  t->signature_version = 1;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    long ver = 1;
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!strcmp(k->str, "name"))
      rc = ch_cfg_string(e, v, kp, &t->name);
    else if(!strcmp(k->str, "display_name"))
      rc = ch_cfg_string(e, v, kp, &t->display_name);
    else if(!strcmp(k->str, "signature_version")) {
      rc = ch_cfg_int(e, v, kp, 1, 2, &ver);
      t->signature_version = (int)ver;
    }
    else if(!strcmp(k->str, "delivery_policy"))
      rc = get_json(e, v, kp, &t->delivery_policy);
    else if(!strcmp(k->str, "encrypt"))
      rc = get_bool(e, v, kp, &t->encrypt);
    else if(!strcmp(k->str, "templates")) {
      rc = get_json(e, v, kp, &t->templates);
      t->templates_line = k->line;
    }
    else if(!strcmp(k->str, "subscriptions")) {
      if(ch_ynode_is_null(v))
        continue;
      if(v->kind != CH_Y_SEQ)
        return ch_cfg_errorf(e, v, kp, "must be a list");
      t->subs = calloc(v->n ? v->n : 1, sizeof(*t->subs));
      if(!t->subs)
        return CH_ERR_NOMEM;
      for(const ch_ynode *it = v->first; it; it = it->next) {
        ch_cfg_path_index(ip, sizeof(ip), kp, t->n_subs);
        if(it->kind != CH_Y_MAP)
          return ch_cfg_errorf(e, it, ip, "must be a map");
        if((rc = load_sub(e, it, ip, &t->subs[t->n_subs++])))
          return rc;
      }
    }
    if(rc)
      return rc;
  }
  if(!t->name)
    return ch_cfg_errorf(e, n, path, "name is missing");
  return CH_OK;
}

ch_err ch_cfg_load_topics(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  char ip[64];
  if(ch_ynode_is_null(n))
    return CH_OK;
  if(n->kind != CH_Y_SEQ)
    return ch_cfg_errorf(e, n, "topics", "must be a list, not %s",
                         ch_ynode_kind_name(n));
  c->topics = calloc(n->n ? n->n : 1, sizeof(*c->topics));
  if(!c->topics)
    return CH_ERR_NOMEM;
  for(const ch_ynode *it = n->first; it; it = it->next) {
    ch_cfg_path_index(ip, sizeof(ip), "topics", c->n_topics);
    if(it->kind != CH_Y_MAP)
      return ch_cfg_errorf(e, it, ip, "must be a map");
    certhub_topic_cfg *t = &c->topics[c->n_topics++];
    ch_err rc = load_topic(e, it, ip, t);
    if(rc)
      return rc;
    for(size_t j = 0; j + 1 < c->n_topics; j++)
      if(!strcmp(c->topics[j].name, t->name))
        return ch_cfg_errorf(e, it, ip, "topic '%s' is given twice", t->name);
  }
  return CH_OK;
}

ch_err ch_cfg_load_notify(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  char kp[128];
  certhub_notify_cfg *nc = &c->notify;
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc = ch_cfg_check_keys(e, n, "notify", notify_keys,
                                CH_ARRAY_LEN(notify_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    long num = 0;
    ch_cfg_path(kp, sizeof(kp), "notify", k->str);
    if(!strcmp(k->str, "base_url"))
      rc = ch_cfg_string(e, v, kp, &nc->base_url);
    else if(!strcmp(k->str, "signing_key_file"))
      rc = ch_cfg_string(e, v, kp, &nc->signing_key_file);
    else if(!strcmp(k->str, "signing_cert_file"))
      rc = ch_cfg_string(e, v, kp, &nc->signing_cert_file);
    else if(!strcmp(k->str, "ca_file"))
      rc = ch_cfg_string(e, v, kp, &nc->ca_file);
    else if(!strcmp(k->str, "key_file"))
      rc = ch_cfg_string(e, v, kp, &nc->key_file);
    else if(!strcmp(k->str, "max_in_flight")) {
      rc = ch_cfg_int(e, v, kp, 1, 4096, &num);
      nc->max_in_flight = (unsigned)num;
    }
    else if(!strcmp(k->str, "max_message_age")) {
      rc = ch_cfg_int(e, v, kp, 60, 1209600, &num);
      nc->max_age_s = (unsigned)num;
    }
    else if(!strcmp(k->str, "timeout")) {
      char *text = NULL;
      rc = ch_cfg_string(e, v, kp, &text);
      if(!rc && certhub_duration_parse(text, &nc->timeout_ms))
        rc = ch_cfg_errorf(e, v, kp,
                           "'%s' is not a duration over zero and of at most "
                           "an hour",
                           text);
      free(text);
    }
    if(rc)
      return rc;
  }
  if(!nc->signing_key_file != !nc->signing_cert_file)
    return ch_cfg_errorf(e, n, "notify",
                         "signing_key_file and signing_cert_file go "
                         "together");
  return ch_cfg_load_notify_smtp(e, n, c);
}

void ch_cfg_topics_free(certhub_config *c)
{
  for(size_t i = 0; i < c->n_topics; i++) {
    certhub_topic_cfg *t = &c->topics[i];
    for(size_t j = 0; j < t->n_subs; j++) {
      certhub_sub_cfg *s = &t->subs[j];
      free(s->protocol);
      free(s->endpoint);
      free(s->endpoint_file);
      free(s->endpoint_env);
      free(s->attributes);
    }
    free(t->subs);
    free(t->name);
    free(t->display_name);
    free(t->delivery_policy);
    free(t->templates);
  }
  free(c->topics);
  free(c->notify.base_url);
  free(c->notify.signing_key_file);
  free(c->notify.signing_cert_file);
  free(c->notify.ca_file);
  free(c->notify.key_file);
}
