/*
 * The http and https protocols: SNS's signed JSON message (or the bare
 * message with RawMessageDelivery) POSTed with SNS's x-amz-sns-* headers.
 * 2xx delivers; 429, 5xx and transport errors are retried; other codes
 * (4xx, 3xx: SNS follows no redirect) go to the dead-letter store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/deliver.h"
#include "notify_int.h"
#include "proto.h"

#define BODY_CAP ((size_t)CERTHUB_MESSAGE_MAX * 2 + 16384) /* JSON escapes */
#define REPLY_KEEP 200 /* bytes of a response body kept for the log */

typedef struct http_state {
  ch_buf body;
  struct curl_slist *headers;
  char reply[REPLY_KEEP + 1];
  size_t reply_len;
} http_state;

static ch_err check_url(const char *endpoint, const char *scheme, char *why,
                        size_t whylen)
{
  size_t n = strlen(scheme);
  if(strncmp(endpoint, scheme, n) || strncmp(endpoint + n, "://", 3)) {
    snprintf(why, whylen, "the endpoint must be a %s:// URL", scheme);
    return CH_ERR_USAGE;
  }
  CURLU *u = curl_url();
  char *host = NULL;
  ch_err rc = CH_OK;
  if(!u)
    return CH_ERR_NOMEM;
  if(curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
     curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
    snprintf(why, whylen, "the endpoint is not a valid %s URL", scheme);
    rc = CH_ERR_USAGE;
  }
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

static ch_err http_check(const char *endpoint, char *why, size_t whylen)
{
  return check_url(endpoint, "http", why, whylen);
}

static ch_err https_check(const char *endpoint, char *why, size_t whylen)
{
  return check_url(endpoint, "https", why, whylen);
}

/* Keep the start of the reply for the delivery log; drop the rest (a
 * receiver answering with a huge body must not grow memory). */
static size_t on_reply(char *p, size_t size, size_t n, void *ud)
{
  http_state *st = ud;
  size_t len = size * n;
  size_t room = REPLY_KEEP - st->reply_len;
  size_t take = len < room ? len : room;
  memcpy(st->reply + st->reply_len, p, take);
  st->reply_len += take;
  st->reply[st->reply_len] = '\0';
  return len;
}

static ch_err add_header(http_state *st, const char *name, const char *v)
{
  char line[1024];
  snprintf(line, sizeof(line), "%s: %s", name, v);
  struct curl_slist *l = curl_slist_append(st->headers, line);
  if(!l)
    return CH_ERR_NOMEM;
  st->headers = l;
  return CH_OK;
}

static void http_release(void *state)
{
  http_state *st = state;
  if(!st)
    return;
  ch_buf_free(&st->body);
  curl_slist_free_all(st->headers);
  free(st);
}

static ch_err prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                      const ch_notify_msg *m, CURL *easy, void **state,
                      const char *protocols)
{
  http_state *st = calloc(1, sizeof(*st));
  bool raw = false;
  ch_err rc;
  *state = st;
  if(!st)
    return CH_ERR_NOMEM;
  ch_buf_init(&st->body, BODY_CAP);
  if((rc = ch_notify_sns_body(env, sub, m, true, &st->body, &raw)))
    return rc;
  bool note = !strcmp(m->type, "Notification");
  if((rc = add_header(st, "x-amz-sns-message-type", m->type)) ||
     (rc = add_header(st, "x-amz-sns-message-id", m->message_id)) ||
     (rc = add_header(st, "x-amz-sns-topic-arn", m->topic_arn)) ||
     (note && (rc = add_header(st, "x-amz-sns-subscription-arn", sub->arn))) ||
     (raw && (rc = add_header(st, "x-amz-sns-rawdelivery", "true"))) ||
     (rc = add_header(st, "Content-Type", "text/plain; charset=UTF-8")) ||
     (rc = add_header(st, "User-Agent", "certhub-sns/1")))
    return rc;
  /* No "Expect: 100-continue" round trip before larger bodies. */
  struct curl_slist *l = curl_slist_append(st->headers, "Expect:");
  if(!l)
    return CH_ERR_NOMEM;
  st->headers = l;
  if(curl_easy_setopt(easy, CURLOPT_URL, sub->endpoint) != CURLE_OK)
    return CH_ERR_USAGE;
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                   st->body.data ? st->body.data : "");
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   (curl_off_t)st->body.len);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, st->headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_reply);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, st);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   env->timeout_ms > 0 ? env->timeout_ms : 15000L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   env->timeout_ms > 0 ? env->timeout_ms : 15000L);
  if(env->ca_file)
    curl_easy_setopt(easy, CURLOPT_CAINFO, env->ca_file);
  return CH_OK;
}

static ch_err http_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                           const ch_notify_msg *m, CURL *easy, void **state)
{
  return prepare(env, sub, m, easy, state, "http");
}

static ch_err https_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, CURL *easy, void **state)
{
  return prepare(env, sub, m, easy, state, "https");
}

static ch_delivery_result http_finish(void *state, CURLcode cc, long code,
                                      char *detail, size_t detaillen)
{
  http_state *st = state;
  if(cc != CURLE_OK) {
    snprintf(detail, detaillen, "%s", curl_easy_strerror(cc));
    return CH_DELIVERY_RETRY;
  }
  /* Printable start of the reply only: it is the receiver's text. */
  for(size_t i = 0; st && i < st->reply_len; i++)
    if((unsigned char)st->reply[i] < 0x20 || st->reply[i] == 0x7f)
      st->reply[i] = ' ';
  snprintf(detail, detaillen, "HTTP %ld%s%.80s", code,
           st && st->reply_len && (code < 200 || code > 299) ? ": " : "",
           st && (code < 200 || code > 299) ? st->reply : "");
  if(code >= 200 && code <= 299)
    return CH_DELIVERY_OK;
  if(code == 429 || code >= 500)
    return CH_DELIVERY_RETRY;
  return CH_DELIVERY_FAILED;
}

const ch_notify_proto ch_notify_proto_http = {
    .name = "http",
    .needs_confirmation = true,
    .check_endpoint = http_check,
    .prepare = http_prepare,
    .finish = http_finish,
    .release = http_release,
};

const ch_notify_proto ch_notify_proto_https = {
    .name = "https",
    .needs_confirmation = true,
    .check_endpoint = https_check,
    .prepare = https_prepare,
    .finish = http_finish,
    .release = http_release,
};
