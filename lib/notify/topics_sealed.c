/*
 * Sealed topics: the topic message log with bodies sealed at rest
 * (certhub/notify_seal.h), on top of the store's message log (migration
 * 9 marks the sealed rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "certhub/config.h"
#include "certhub/notify.h"
#include "certhub/notify_seal.h"
#include "certhub/store_hub.h"
#include "core/core.h"
#include "notify_int.h"

/* A UUID v4 MessageId from the CSPRNG (as topics.c makes them). */
static ch_err message_uuid(char out[CERTHUB_MESSAGE_ID_LEN + 1])
{
  uint8_t b[16];
  char hex[33];
  if(RAND_bytes(b, sizeof(b)) != 1)
    return CH_ERR_INTERNAL;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  ch_hex_encode(b, sizeof(b), hex);
  snprintf(out, CERTHUB_MESSAGE_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex,
           hex + 8, hex + 12, hex + 16, hex + 20);
  return CH_OK;
}

static ch_err copy_arn(void *ctx, const certhub_topic *t)
{
  char **arn = ctx;
  *arn = strdup(t->arn);
  return *arn ? CH_OK : CH_ERR_NOMEM;
}

ch_err certhub_topic_publish_sealed(
    certhub_store *s, const char *topic, const char *subject,
    const char *message, size_t len, int64_t now, const certhub_seal_key *key,
    char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  return certhub_topic_publish_sealed_attrs(s, topic, subject, message, len,
                                            NULL, now, key, message_id);
}

ch_err certhub_topic_publish_sealed_attrs(
    certhub_store *s, const char *topic, const char *subject,
    const char *message, size_t len, const char *attributes, int64_t now,
    const certhub_seal_key *key, char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  const char *why = NULL;
  char *arn = NULL, *attrs = NULL;
  uint8_t *sealed = NULL;
  size_t slen = 0;
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  ch_err rc;
  if(!s || !message_id || !key)
    return CH_ERR_USAGE;
  message_id[0] = '\0';
  if(!certhub_topic_name_valid(topic))
    return certhub_store_fail(s, CH_ERR_USAGE, "invalid topic name '%.300s'",
                              topic ? topic : "");
  if(subject && (rc = certhub_topic_subject_check(subject, &why)))
    return certhub_store_fail(s, rc, "invalid subject: %s", why);
  if((rc = certhub_topic_message_check(message, len, &why)))
    return certhub_store_fail(s, rc, "invalid message: %s", why);
  /* attributes stay in the clear, as SNS encrypts only the body */
  if((rc = ch_notify_attrs_for_publish(s, attributes, len, &attrs)))
    return rc;
  /* the ARN goes into the seal's AAD, so it is needed before the insert */
  rc = certhub_topic_get(s, topic, copy_arn, &arn);
  if(rc == CH_ERR_NOTFOUND) {
    rc = certhub_store_fail(s, rc, "topic '%s' does not exist", topic);
    goto out;
  }
  if(rc)
    goto out;
  if((rc = message_uuid(id))) {
    certhub_store_fail(s, rc, "no random bytes for a MessageId");
    goto out;
  }
  if((rc = certhub_seal(key, arn, id, message, len, &sealed, &slen))) {
    certhub_store_fail(s, rc, "sealing the message: %s", certhub_strerror(rc));
    goto out;
  }
  certhub_message m = {
      .message_id = id,
      .topic = topic,
      .subject = subject,
      .message = (const char *)sealed,
      .len = slen,
      .published_at = now,
      .sealed = true,
      .attributes = attrs,
  };
  rc = certhub_store_message_add(s, &m);
  if(!rc)
    memcpy(message_id, id, sizeof(id));
out:
  free(sealed);
  free(arn);
  free(attrs);
  return rc;
}

typedef struct open_ctx {
  certhub_store *s;
  const certhub_seal_key *key;
  certhub_message_cb cb;
  void *ctx;
} open_ctx;

static ch_err open_row(void *ctx, const certhub_message *m)
{
  open_ctx *o = ctx;
  char *plain = NULL, *why = NULL;
  size_t plen = 0;
  if(!m->sealed)
    return o->cb(o->ctx, m);
  if(!o->key)
    return certhub_store_fail(o->s, CH_ERR_USAGE,
                              "message %s of topic %s is sealed: the "
                              "topic's key file is needed to read it",
                              m->message_id, m->topic);
  ch_err rc = certhub_seal_open(o->key, m->topic_arn, m->message_id,
                                (const uint8_t *)m->message, m->len, &plain,
                                &plen, &why);
  if(rc) {
    certhub_store_fail(o->s, rc, "message %s of topic %s: %s", m->message_id,
                       m->topic, why ? why : certhub_strerror(rc));
    free(why);
    return rc;
  }
  certhub_message c = *m;
  c.message = plain;
  c.len = plen;
  c.sealed = false;
  rc = o->cb(o->ctx, &c);
  OPENSSL_cleanse(plain, plen);
  free(plain);
  return rc;
}

ch_err certhub_topic_messages_open(certhub_store *s, const char *topic,
                                   size_t limit, const certhub_seal_key *key,
                                   certhub_message_cb cb, void *ctx)
{
  open_ctx o = {s, key, cb, ctx};
  return certhub_topic_messages(s, topic, limit, open_row, &o);
}

ch_err certhub_topic_publish_cfg(certhub_store *s, const certhub_config *c,
                                 const char *topic, const char *subject,
                                 const char *message, size_t len, int64_t now,
                                 char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  return certhub_topic_publish_cfg_attrs(s, c, topic, subject, message, len,
                                         NULL, now, message_id);
}

ch_err
certhub_topic_publish_cfg_attrs(certhub_store *s, const certhub_config *c,
                                const char *topic, const char *subject,
                                const char *message, size_t len,
                                const char *attributes, int64_t now,
                                char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  bool seal = false;
  for(size_t i = 0; c && topic && i < c->n_topics; i++)
    if(!strcmp(c->topics[i].name, topic))
      seal = c->topics[i].encrypt;
  if(!seal)
    return certhub_topic_publish_attrs(s, topic, subject, message, len,
                                       attributes, now, message_id);
  if(!c->notify.key_file)
    return certhub_store_fail(s, CH_ERR_CONFIG,
                              "topic '%s' is encrypted but notify.key_file "
                              "is not set",
                              topic);
  certhub_seal_key *key = NULL;
  char *why = NULL;
  ch_err rc = certhub_seal_key_load(c->notify.key_file, &key, &why);
  if(rc)
    rc = certhub_store_fail(s, rc, "topic '%s': notify.key_file: %s", topic,
                            why ? why : certhub_strerror(rc));
  else
    rc = certhub_topic_publish_sealed_attrs(s, topic, subject, message, len,
                                            attributes, now, key, message_id);
  free(why);
  certhub_seal_key_free(key);
  return rc;
}
