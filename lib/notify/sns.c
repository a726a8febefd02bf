/*
 * SNS message bodies: the JSON document SNS posts to http/https endpoints
 * (and the file protocol writes), signed as SNS signs it.
 *
 * An RSA-2048 signature costs about a millisecond, and a message fanned
 * out to many subscriptions signs the same string each time (the string
 * to sign names no subscription), so signatures are cached by the
 * SHA-256 of the signed bytes: one signature per message and version.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "certhub/deliver.h"
#include "notify_int.h"

#define SIG_CACHE 256   /* entries, direct-mapped */
#define SIG_B64_MAX 700 /* base64 of an RSA signature up to 4096 bits */

static struct sig_entry {
  uint8_t key[32];
  char b64[SIG_B64_MAX];
  bool used;
} sig_cache[SIG_CACHE];
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;

void ch_notify_sig_cache_clear(void)
{
  pthread_mutex_lock(&sig_lock);
  for(size_t i = 0; i < SIG_CACHE; i++)
    sig_cache[i].used = false;
  pthread_mutex_unlock(&sig_lock);
}

void ch_notify_timestamp(int64_t ms, char out[32])
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char base[24];
  if(ms < 0 || !gmtime_r(&t, &tm) ||
     !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
    snprintf(base, sizeof(base), "1970-01-01T00:00:00");
  snprintf(out, 32, "%.19s.%03dZ", base, (int)((ms < 0 ? 0 : ms) % 1000));
}

ch_err ch_notify_uuid(char out[37])
{
  uint8_t b[16];
  char hex[33];
  if(RAND_bytes(b, sizeof(b)) != 1)
    return CH_ERR_INTERNAL;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  ch_hex_encode(b, sizeof(b), hex);
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
           hex + 16, hex + 20);
  return CH_OK;
}

ch_err ch_notify_urlencode(ch_buf *b, const char *s)
{
  static const char hexd[] = "0123456789ABCDEF";
  ch_err rc = CH_OK;
  for(const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
    if((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
       (*p >= '0' && *p <= '9') || strchr("-._~", *p))
      rc = ch_buf_addc(b, (char)*p);
    else {
      char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
      rc = ch_buf_add(b, e, 3);
    }
  }
  return rc;
}

char *ch_notify_sub_attr(const ch_notify_sub *sub, const char *key)
{
  if(!sub || !sub->attributes || !*sub->attributes ||
     !strcmp(sub->attributes, "{}"))
    return NULL;
  json_t *o = json_loads(sub->attributes, 0, NULL);
  json_t *v = json_object_get(o, key);
  char *out = NULL;
  if(json_is_string(v))
    out = strdup(json_string_value(v));
  else if(json_is_boolean(v))
    out = strdup(json_is_true(v) ? "true" : "false");
  json_decref(o);
  return out;
}

/* The signature of sts under key (cached). */
static ch_err signature(EVP_PKEY *key, int version, const char *sts,
                        size_t len, char **b64)
{
  uint8_t h[32];
  unsigned char v = (unsigned char)version;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  /* The key's address too: another key, another entry. */
  if(!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
     EVP_DigestUpdate(md, &v, 1) != 1 ||
     EVP_DigestUpdate(md, &key, sizeof(key)) != 1 ||
     EVP_DigestUpdate(md, sts, len) != 1 ||
     EVP_DigestFinal_ex(md, h, NULL) != 1) {
    EVP_MD_CTX_free(md);
    return CH_ERR_INTERNAL;
  }
  EVP_MD_CTX_free(md);
  struct sig_entry *e = &sig_cache[h[0] % SIG_CACHE];
  pthread_mutex_lock(&sig_lock);
  if(e->used && !memcmp(e->key, h, sizeof(h))) {
    *b64 = strdup(e->b64);
    pthread_mutex_unlock(&sig_lock);
    return *b64 ? CH_OK : CH_ERR_NOMEM;
  }
  pthread_mutex_unlock(&sig_lock);
  ch_err rc = ch_notify_sign(key, version, sts, len, b64);
  if(rc || strlen(*b64) >= SIG_B64_MAX)
    return rc;
  pthread_mutex_lock(&sig_lock);
  memcpy(e->key, h, sizeof(h));
  memcpy(e->b64, *b64, strlen(*b64) + 1);
  e->used = true;
  pthread_mutex_unlock(&sig_lock);
  return CH_OK;
}

/* base_url + "/?Action=...&Name=value..." */
static char *action_url(const char *base, const char *action, const char *k1,
                        const char *v1, const char *k2, const char *v2)
{
  ch_buf b;
  ch_buf_init(&b, 8192);
  size_t n = strlen(base);
  while(n && base[n - 1] == '/')
    n--;
  ch_err rc = ch_buf_add(&b, base, n);
  if(!rc)
    rc = ch_buf_printf(&b, "/?Action=%s&%s=", action, k1);
  if(!rc)
    rc = ch_notify_urlencode(&b, v1);
  if(!rc && k2) {
    rc = ch_buf_printf(&b, "&%s=", k2);
    if(!rc)
      rc = ch_notify_urlencode(&b, v2);
  }
  return rc ? NULL : ch_buf_take(&b);
}

ch_err ch_notify_sns_body(const ch_notify_env *env, const ch_notify_sub *sub,
                          const ch_notify_msg *m, bool allow_raw, ch_buf *out,
                          bool *raw)
{
  char ts[32], *sts = NULL, *sig = NULL, *url = NULL, *unsub = NULL;
  char *dump = NULL;
  size_t stslen = 0;
  json_t *o = NULL;
  ch_err rc = CH_OK;
  bool note = !strcmp(m->type, "Notification");
  int version = env->signature_version == 2 ? 2 : 1;
  const char *base = env->base_url ? env->base_url : "http://localhost";
  if(raw)
    *raw = false;
  if(note && allow_raw) {
    char *r = ch_notify_sub_attr(sub, "RawMessageDelivery");
    bool is_raw = r && !strcmp(r, "true");
    free(r);
    if(is_raw) {
      if(raw)
        *raw = true;
      return ch_buf_add(out, m->message, m->len);
    }
  }
  ch_notify_timestamp(m->timestamp_ms, ts);
  if(!note &&
     !(url = action_url(base, "ConfirmSubscription", "TopicArn", m->topic_arn,
                        "Token", m->token ? m->token : ""))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  certhub_sns_fields f = {
      .type = m->type,
      .message = m->message,
      .message_len = m->len,
      .message_id = m->message_id,
      .subject = note ? m->subject : NULL,
      .subscribe_url = url,
      .timestamp = ts,
      .token = m->token,
      .topic_arn = m->topic_arn,
  };
  if((rc = certhub_sns_string_to_sign(&f, &sts, &stslen)))
    goto out;
  if(env->sign_key &&
     (rc = signature(env->sign_key, version, sts, stslen, &sig)))
    goto out;
  o = json_object();
  if(!o) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  json_object_set_new(o, "Type", json_string(m->type));
  json_object_set_new(o, "MessageId", json_string(m->message_id));
  if(!note)
    json_object_set_new(o, "Token", json_string(m->token ? m->token : ""));
  json_object_set_new(o, "TopicArn", json_string(m->topic_arn));
  if(note && m->subject)
    json_object_set_new(o, "Subject", json_string(m->subject));
  json_object_set_new(o, "Message", json_stringn(m->message, m->len));
  if(!note)
    json_object_set_new(o, "SubscribeURL", json_string(url));
  json_object_set_new(o, "Timestamp", json_string(ts));
  json_object_set_new(o, "SignatureVersion",
                      json_string(version == 2 ? "2" : "1"));
  json_object_set_new(o, "Signature", json_string(sig ? sig : ""));
  json_object_set_new(
      o, "SigningCertURL",
      json_string(env->signing_cert_url ? env->signing_cert_url : ""));
  if(note) {
    if(!(unsub = action_url(base, "Unsubscribe", "SubscriptionArn", sub->arn,
                            m->token ? "Token" : NULL, m->token))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    json_object_set_new(o, "UnsubscribeURL", json_string(unsub));
    if(m->attributes_json) {
      json_t *a = json_loads(m->attributes_json, 0, NULL);
      if(a)
        json_object_set_new(o, "MessageAttributes", a);
    }
  }
  dump = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
  if(!dump) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  rc = ch_buf_addstr(out, dump);
out:
  free(dump);
  json_decref(o);
  free(sts);
  free(sig);
  free(url);
  free(unsub);
  return rc;
}
