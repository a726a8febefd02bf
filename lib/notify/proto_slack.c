/*
 * The slack protocol: a Slack incoming webhook (also what Mattermost and
 * Rocket.Chat accept): {"text", "blocks": [header, section, context]}.
 * Slack's limits: a header holds 150 characters, a section 3000; longer
 * texts are cut with a note. The endpoint is the webhook URL (a secret).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"

#define SLACK_HEADER_MAX 150
#define SLACK_SECTION_MAX 3000

static ch_err slack_check(const char *endpoint, char *why, size_t whylen)
{
  return ch_notify_url_check(endpoint, false, why, whylen);
}

/* mrkdwn treats <...> as links and mentions (<!channel>): escape the
 * three characters Slack asks to escape, so a message cannot ping. */
static ch_err escape(const char *s, size_t len, ch_buf *out)
{
  ch_err rc = CH_OK;
  for(size_t i = 0; i < len && !rc; i++) {
    if(s[i] == '&')
      rc = ch_buf_addstr(out, "&amp;");
    else if(s[i] == '<')
      rc = ch_buf_addstr(out, "&lt;");
    else if(s[i] == '>')
      rc = ch_buf_addstr(out, "&gt;");
    else
      rc = ch_buf_addc(out, s[i]);
  }
  return rc;
}

ch_err ch_notify_slack_body(const ch_notify_env *env, const ch_notify_msg *m,
                            char **out)
{
  ch_buf text, cut, esc, head;
  ch_err rc;
  json_t *o = NULL;
  const char *subject = ch_chan_subject(m);
  ch_buf_init(&text, CH_CHAN_BODY_CAP);
  ch_buf_init(&cut, CH_CHAN_BODY_CAP);
  ch_buf_init(&esc, CH_CHAN_BODY_CAP);
  ch_buf_init(&head, 4096);
  *out = NULL;
  if((rc = ch_chan_text(env, m, &text)))
    goto out;
  /* The limit counts the escaped text. */
  if((rc = escape(text.data ? text.data : "", text.len, &esc)))
    goto out;
  const char *e = esc.data ? esc.data : "";
  size_t at = ch_chan_cut(e, esc.len, SLACK_SECTION_MAX, SIZE_MAX);
  if(at < esc.len) {
    /* Do not split an entity ("&am"). */
    const char *amp = memrchr(e, '&', at);
    if(amp && !memchr(amp, ';', (size_t)(e + at - amp)))
      at = (size_t)(amp - e);
  }
  if(!(rc = ch_buf_add(&cut, e, at)) && at < esc.len)
    rc = ch_chan_note(&cut, esc.len - at);
  if(rc)
    goto out;
  if((rc = ch_chan_truncate(subject, strlen(subject), SLACK_HEADER_MAX,
                            SIZE_MAX, &head)))
    goto out;
  o = json_pack("{s:s, s:[{s:s, s:{s:s, s:s, s:b}}, {s:s, s:{s:s, s:s%}}]}",
                "text", subject, "blocks", "type", "header", "text", "type",
                "plain_text", "text", head.data ? head.data : "", "emoji", 1,
                "type", "section", "text", "type", "mrkdwn", "text",
                cut.data ? cut.data : "", cut.len);
  if(!o) {
    rc = CH_ERR_PARSE; /* not UTF-8 */
    goto out;
  }
  if(m->topic_arn) {
    const char *name = strrchr(m->topic_arn, ':');
    json_t *ctx = json_pack("{s:s, s:[{s:s, s:s+++}]}", "type", "context",
                            "elements", "type", "plain_text", "text",
                            "certhub · topic ", name ? name + 1 : m->topic_arn,
                            " · ", m->message_id ? m->message_id : "");
    if(ctx)
      json_array_append_new(json_object_get(o, "blocks"), ctx);
  }
  if(!(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
out:
  json_decref(o);
  ch_buf_free(&text);
  ch_buf_free(&cut);
  ch_buf_free(&esc);
  ch_buf_free(&head);
  return rc;
}

static ch_err slack_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, CURL *easy, void **state)
{
  char *body = NULL;
  char why[128];
  *state = NULL;
  ch_err rc = ch_notify_url_check(sub->endpoint, false, why, sizeof(why));
  if(!rc)
    rc = ch_notify_slack_body(env, m, &body);
  if(rc)
    return rc;
  return ch_chan_post_prepare(env, sub, m, body, easy, state);
}

const ch_notify_proto ch_notify_proto_slack = {
    .name = "slack",
    .needs_confirmation = false,
    .check_endpoint = slack_check,
    .prepare = slack_prepare,
    .finish = ch_chan_post_finish,
    .release = ch_chan_post_release,
};
