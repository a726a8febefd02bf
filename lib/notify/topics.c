/*
 * Topics: SNS CreateTopic/DeleteTopic/ListTopics/Publish rules over the
 * store's topic tables (certhub/store_hub.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <pthread.h>

#include "certhub/notify.h"
#include "certhub/notify_render.h"
#include "certhub/store_hub.h"
#include "certhub/time.h"
#include "core/core.h"
#include "notify_int.h"

bool certhub_topic_name_valid(const char *name)
{
  size_t n = 0;
  if(!name)
    return false;
  for(const char *p = name; *p; p++, n++) {
    char c = *p;
    if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return n >= 1 && n <= CERTHUB_TOPIC_NAME_MAX;
}

ch_err certhub_topic_subject_check(const char *subject, const char **why)
{
  size_t n = 0;
  *why = NULL;
  if(!subject || !*subject) {
    *why = "subject is empty";
    return CH_ERR_PARSE;
  }
  if(subject[0] == ' ') {
    *why = "subject must begin with a letter, number or punctuation mark";
    return CH_ERR_PARSE;
  }
  for(const unsigned char *p = (const unsigned char *)subject; *p; p++, n++) {
    if(*p == '\n' || *p == '\r') {
      *why = "subject must not contain line breaks";
      return CH_ERR_PARSE;
    }
    if(*p < 0x20 || *p > 0x7e) {
      *why = "subject must be printable ASCII (no control characters)";
      return CH_ERR_PARSE;
    }
  }
  if(n > CERTHUB_SUBJECT_MAX) {
    *why = "subject is longer than 100 characters";
    return CH_ERR_TOOBIG;
  }
  return CH_OK;
}

/* Length of the UTF-8 sequence at p (at most left bytes), 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
  unsigned c = p[0];
  size_t n;
  unsigned cp;
  if(c < 0x80)
    return c ? 1 : 0;
  if(c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  }
  else if(c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  }
  else
    return 0;
  if(left < n)
    return 0;
  for(size_t i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
     (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}

ch_err certhub_topic_message_check(const char *message, size_t len,
                                   const char **why)
{
  *why = NULL;
  if(!message || !len) {
    *why = "message is empty";
    return CH_ERR_PARSE;
  }
  if(len > CERTHUB_MESSAGE_MAX) {
    *why = "message is larger than 262144 bytes (256 KiB)";
    return CH_ERR_TOOBIG;
  }
  const unsigned char *p = (const unsigned char *)message;
  for(size_t i = 0; i < len;) {
    size_t n = utf8_seq(p + i, len - i);
    if(!n) {
      *why =
          p[i] ? "message is not valid UTF-8" : "message contains a NUL byte";
      return CH_ERR_PARSE;
    }
    i += n;
  }
  return CH_OK;
}

/* A UUID v4 in text form from the CSPRNG (MessageIds must not repeat
 * across processes and restarts). */
static ch_err uuid4(char out[CERTHUB_MESSAGE_ID_LEN + 1])
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

/* ARN components: no ':' (it would split the ARN) and not empty. */
static bool arn_part_ok(const char *p)
{
  return p && *p && !strchr(p, ':') && strlen(p) <= 64;
}

ch_err certhub_topic_create(certhub_store *s, const char *name,
                            const char *display_name, const char *account,
                            const char *region, int64_t now, bool *created)
{
  char arn[512];
  bool made = false;
  if(!s)
    return CH_ERR_USAGE;
  if(!account)
    account = "000000000000";
  if(!region)
    region = "local";
  if(!certhub_topic_name_valid(name))
    return certhub_store_fail(
        s, CH_ERR_USAGE,
        "invalid topic name '%.300s': use 1 to 256 letters, digits, '-' or "
        "'_'",
        name ? name : "");
  if(display_name && strlen(display_name) > CERTHUB_TOPIC_DISPLAY_MAX)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "display name is longer than %d characters",
                              CERTHUB_TOPIC_DISPLAY_MAX);
  if(!arn_part_ok(account) || !arn_part_ok(region))
    return certhub_store_fail(
        s, CH_ERR_USAGE,
        "account '%.80s' or region '%.80s' cannot be part "
        "of an ARN",
        account, region);
  snprintf(arn, sizeof(arn), "arn:certhub:sns:%s:%s:%s", region, account,
           name);
  ch_err rc =
      certhub_store_topic_create(s, name, arn, display_name, now, &made);
  if(created)
    *created = made;
  return rc;
}

ch_err certhub_topic_get(certhub_store *s, const char *name,
                         certhub_topic_cb cb, void *ctx)
{
  return certhub_store_topic_get(s, name, cb, ctx);
}

ch_err certhub_topic_list(certhub_store *s, certhub_topic_cb cb, void *ctx)
{
  return certhub_store_topic_list(s, cb, ctx);
}

ch_err certhub_topic_delete(certhub_store *s, const char *name)
{
  return certhub_store_topic_delete(s, name);
}

ch_err certhub_topic_publish(certhub_store *s, const char *topic,
                             const char *subject, const char *message,
                             size_t len, int64_t now,
                             char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  return certhub_topic_publish_attrs(s, topic, subject, message, len, NULL,
                                     now, message_id);
}

ch_err ch_notify_attrs_for_publish(certhub_store *s, const char *attributes,
                                   size_t len, char **norm)
{
  char *why = NULL;
  size_t asize = 0;
  *norm = NULL;
  if(!attributes)
    return CH_OK;
  ch_err rc = certhub_msg_attrs_check(attributes, strlen(attributes), norm,
                                      &asize, &why);
  if(rc) {
    rc = certhub_store_fail(s, rc, "invalid %s",
                            why ? why : certhub_strerror(rc));
    free(why);
    return rc;
  }
  /* SNS: name, type and value of every attribute count toward the limit */
  if(len + asize > CERTHUB_MESSAGE_MAX) {
    free(*norm);
    *norm = NULL;
    return certhub_store_fail(s, CH_ERR_TOOBIG,
                              "the message (%zu bytes) and its attributes "
                              "(%zu bytes) are larger than 262144 bytes "
                              "(256 KiB)",
                              len, asize);
  }
  return CH_OK;
}

ch_err certhub_topic_publish_attrs(certhub_store *s, const char *topic,
                                   const char *subject, const char *message,
                                   size_t len, const char *attributes,
                                   int64_t now,
                                   char message_id[CERTHUB_MESSAGE_ID_LEN + 1])
{
  const char *why = NULL;
  char *attrs = NULL;
  ch_err rc;
  if(!s || !message_id)
    return CH_ERR_USAGE;
  message_id[0] = '\0';
  if(!certhub_topic_name_valid(topic))
    return certhub_store_fail(s, CH_ERR_USAGE, "invalid topic name '%.300s'",
                              topic ? topic : "");
  if(subject && (rc = certhub_topic_subject_check(subject, &why)))
    return certhub_store_fail(s, rc, "invalid subject: %s", why);
  if((rc = certhub_topic_message_check(message, len, &why)))
    return certhub_store_fail(s, rc, "invalid message: %s", why);
  if((rc = ch_notify_attrs_for_publish(s, attributes, len, &attrs)))
    return rc;
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  if((rc = uuid4(id))) {
    rc = certhub_store_fail(s, rc, "no random bytes for a MessageId");
    goto out;
  }
  certhub_message m = {
      .message_id = id,
      .topic = topic,
      .subject = subject,
      .message = message,
      .len = len,
      .published_at = now,
      .attributes = attrs,
  };
  rc = certhub_store_message_add(s, &m);
  if(!rc)
    memcpy(message_id, id, sizeof(id));
out:
  free(attrs);
  return rc;
}

ch_err certhub_topic_messages(certhub_store *s, const char *topic,
                              size_t limit, certhub_message_cb cb, void *ctx)
{
  return certhub_store_messages(s, topic, limit, cb, ctx);
}

ch_err certhub_topic_publish_hook(void *ctx, const char *topic,
                                  const char *subject, const char *message,
                                  size_t len, char **detail)
{
  /* One handle, possibly several delivery threads: one call at a time,
   * also so that the error text read below is this call's. */
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  certhub_store *s = ctx;
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  if(detail)
    *detail = NULL;
  pthread_mutex_lock(&lock);
  /* certhub's own messages (bus events) carry attributes from the event */
  char *attrs = NULL;
  ch_err rc = certhub_msg_attrs_from_event(
      message, len, certhub_render_store_lookup, s, &attrs);
  if(!rc)
    rc = certhub_topic_publish_attrs(s, topic, subject, message, len, attrs,
                                     certhub_now(), id);
  if(rc == CH_ERR_TOOBIG && attrs) /* the body fits alone: send it bare */
    rc = certhub_topic_publish(s, topic, subject, message, len, certhub_now(),
                               id);
  free(attrs);
  if(detail) {
    const char *msg = rc ? certhub_store_errmsg(s) : id;
    size_t n = strlen(msg) + 32;
    *detail = malloc(n);
    if(*detail)
      snprintf(*detail, n, "%s%s", rc ? "" : "MessageId ",
               *msg ? msg : certhub_strerror(rc));
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
