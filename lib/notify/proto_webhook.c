/*
 * The webhook protocol: a JSON POST to any http(s) URL. The body is the
 * subscription attribute "template" rendered for the message (placeholders
 * in its strings, see channels.h), or without one a fixed object with the
 * SNS notification's fields. Templates are checked at subscribe time by
 * ch_notify_check_attributes() (check_endpoint sees only the URL) and again
 * here: a broken one makes the delivery FAILED, not a broken body.
 */
#include <stdlib.h>
#include <string.h>

#include "channels.h"

static ch_err webhook_check(const char *endpoint, char *why, size_t whylen)
{
  /* Generic receivers include internal services: http is allowed, as for
   * SNS's http protocol. */
  return ch_notify_url_check(endpoint, true, why, whylen);
}

ch_err ch_notify_webhook_body(const ch_notify_env *env,
                              const ch_notify_sub *sub, const ch_notify_msg *m,
                              char **out)
{
  ch_buf text;
  ch_err rc;
  json_t *attrs = NULL, *o = NULL;
  char ts[64];
  *out = NULL;
  ch_buf_init(&text, CH_CHAN_BODY_CAP);
  if((rc = ch_chan_text(env, m, &text)))
    goto out;
  if(sub->attributes) {
    attrs = json_loads(sub->attributes, 0, NULL);
    json_t *t = json_object_get(attrs, "template");
    if(json_is_string(t)) {
      rc = ch_notify_template_render(json_string_value(t), m,
                                     text.data ? text.data : "", out);
      goto out;
    }
    if(t) {
      rc = CH_ERR_PARSE;
      goto out;
    }
  }
  ch_chan_timestamp(m->timestamp_ms, ts);
  o = json_pack("{s:s, s:s, s:s, s:o, s:s%, s:s, s:s%}", "Type",
                m->type ? m->type : "Notification", "MessageId",
                m->message_id ? m->message_id : "", "TopicArn",
                m->topic_arn ? m->topic_arn : "", "Subject",
                m->subject ? json_string(m->subject) : json_null(), "Message",
                m->message ? m->message : "", m->message ? m->len : 0,
                "Timestamp", ts, "text", text.data ? text.data : "", text.len);
  if(!o) {
    rc = CH_ERR_PARSE;
    goto out;
  }
  if(m->token && json_object_set_new(o, "Token", json_string(m->token))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(!(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
out:
  json_decref(attrs);
  json_decref(o);
  ch_buf_free(&text);
  return rc;
}

static ch_err webhook_prepare(const ch_notify_env *env,
                              const ch_notify_sub *sub, const ch_notify_msg *m,
                              CURL *easy, void **state)
{
  char *body = NULL;
  char why[128];
  *state = NULL;
  ch_err rc = ch_notify_url_check(sub->endpoint, true, why, sizeof(why));
  if(!rc)
    rc = ch_notify_webhook_body(env, sub, m, &body);
  if(rc)
    return rc;
  return ch_chan_post_prepare(env, sub, m, body, easy, state);
}

const ch_notify_proto ch_notify_proto_webhook = {
    .name = "webhook",
    .needs_confirmation = false,
    .check_endpoint = webhook_check,
    .prepare = webhook_prepare,
    .finish = ch_chan_post_finish,
    .release = ch_chan_post_release,
};
