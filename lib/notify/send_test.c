/*
 * certhub_notify_send_test(): one message through one protocol, the way
 * the delivery engine would send it (prepare, transfer, finish, release),
 * on a single easy handle; a command runs as the engine runs it.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "certhub/notify.h"
#include "certhub/notify_send.h"
#include "certhub/time.h"
#include "channels.h"

#define DEFAULT_TOPIC "arn:certhub:sns:local:000000000000:send-test"

static ch_err uuid4(char out[CERTHUB_MESSAGE_ID_LEN + 1])
{
  unsigned char b[16];
  if(RAND_bytes(b, sizeof(b)) != 1)
    return CH_ERR_INTERNAL;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, CERTHUB_MESSAGE_ID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return CH_OK;
}

void certhub_notify_protocol_names(char *out, size_t outlen)
{
  size_t n, used = 0;
  const ch_notify_proto *const *all = ch_notify_protos(&n);
  if(!outlen)
    return;
  out[0] = '\0';
  for(size_t i = 0; i < n && used < outlen; i++) {
    int w = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "",
                     all[i]->name);
    if(w < 0)
      break;
    used += (size_t)w;
  }
}

ch_err certhub_notify_send_test(const certhub_config *cfg,
                                const certhub_send_test *t,
                                certhub_send_result *result, char *detail,
                                size_t detaillen)
{
  ch_err rc;
  char why[256] = "", id[CERTHUB_MESSAGE_ID_LEN + 1], sub_arn[700];
  char *password = NULL;
  void *state = NULL;
  CURL *easy = NULL;
  ch_notify_smtp smtp;
  const char *topic = t->topic_arn ? t->topic_arn : DEFAULT_TOPIC;
  const ch_notify_proto *p = ch_notify_proto_find(t->protocol);
  *result = CERTHUB_SEND_FAILED;
  if(detaillen)
    detail[0] = '\0';
  if(!p) {
    char names[256];
    certhub_notify_protocol_names(names, sizeof(names));
    snprintf(detail, detaillen, "unknown protocol '%s' (known: %s)",
             t->protocol ? t->protocol : "", names);
    return CH_ERR_USAGE;
  }
  if(p->check_endpoint &&
     (rc = p->check_endpoint(t->endpoint, why, sizeof(why)))) {
    snprintf(detail, detaillen, "endpoint for %s: %s", p->name, why);
    return CH_ERR_USAGE;
  }
  if((rc = ch_notify_check_attributes(p->name, t->attributes, why,
                                      sizeof(why)))) {
    snprintf(detail, detaillen, "attributes: %s", why);
    return CH_ERR_USAGE;
  }
  const char *bad = NULL;
  if(t->message && certhub_topic_message_check(t->message, t->len, &bad)) {
    snprintf(detail, detaillen, "message: %s", bad ? bad : "invalid");
    return CH_ERR_PARSE;
  }
  /* Declared UTF-8 in the mail: it must be. */
  if(t->html && certhub_topic_message_check(t->html, strlen(t->html), &bad)) {
    snprintf(detail, detaillen, "html: %s", bad ? bad : "invalid");
    return CH_ERR_PARSE;
  }
  if((rc = uuid4(id)))
    return rc;
  snprintf(sub_arn, sizeof(sub_arn), "%s:%s", topic, id);
  ch_notify_env env = {
      .base_url = t->base_url ? t->base_url : "http://localhost:8080",
      .timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : 15000,
      .ca_file = t->ca_file,
  };
  if(!strcmp(p->name, "email")) {
    if((rc = ch_notify_smtp_load(cfg ? cfg->smtp : NULL, &smtp, &password, why,
                                 sizeof(why)))) {
      snprintf(detail, detaillen, "%s", why);
      goto out;
    }
    env.smtp = &smtp;
  }
  ch_notify_sub sub = {
      .arn = sub_arn,
      .topic_arn = topic,
      .protocol = p->name,
      .endpoint = t->endpoint,
      .attributes = t->attributes,
  };
  ch_notify_msg m = {
      .type = t->token ? "SubscriptionConfirmation" : "Notification",
      .message_id = id,
      .topic_arn = topic,
      .subject = t->subject,
      .message = t->message ? t->message : "",
      .len = t->message ? t->len : 0,
      .html = t->html,
      .timestamp_ms = certhub_now() * 1000,
      .token = t->token,
  };
  if(p->deliver) {
    *result =
        (certhub_send_result)p->deliver(&env, &sub, &m, detail, detaillen);
    goto out;
  }
  if(p->spawn) {
    /* A child-process protocol (command): the steps the engine takes,
     * waiting on this one child only. */
    if((rc = p->spawn(&env, &sub, &m, &state)))
      goto out;
    while(!p->advance(state)) {
      struct curl_waitfd w[8];
      struct pollfd pf[8];
      int ms = 1000;
      unsigned n = p->wait_fds(state, w, 8, &ms);
      for(unsigned i = 0; i < n; i++)
        pf[i] = (struct pollfd){
            .fd = w[i].fd,
            .events = (short)((w[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
                              (w[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0)),
        };
      (void)poll(pf, n, ms);
    }
    *result = (certhub_send_result)p->result(state, detail, detaillen);
    goto out;
  }
  /* Reference-counted and thread-safe in the libcurl we require. */
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
     !(easy = curl_easy_init())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if((rc = p->prepare(&env, &sub, &m, easy, &state))) {
    snprintf(detail, detaillen, "%s: could not build the message (%s)",
             p->name,
             rc == CH_ERR_PARSE    ? "text is not UTF-8 or template invalid"
             : rc == CH_ERR_CONFIG ? "not configured"
                                   : certhub_strerror(rc));
    goto out;
  }
  CURLcode cc = curl_easy_perform(easy);
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  *result = (certhub_send_result)p->finish(state, cc, code, detail, detaillen);
out:
  if(state)
    p->release(state);
  curl_easy_cleanup(easy);
  if(password) {
    OPENSSL_cleanse(password, strlen(password));
    free(password);
  }
  return rc;
}

_Static_assert((int)CH_DELIVERY_OK == (int)CERTHUB_SEND_OK &&
                   (int)CH_DELIVERY_RETRY == (int)CERTHUB_SEND_RETRY &&
                   (int)CH_DELIVERY_FAILED == (int)CERTHUB_SEND_FAILED,
               "certhub_send_result mirrors ch_delivery_result");
