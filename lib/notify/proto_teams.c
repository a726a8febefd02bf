/*
 * The teams protocol: a Microsoft Teams incoming webhook (Workflows and
 * the older connectors both accept it): a "message" with one Adaptive Card
 * attachment, the subject as a bold TextBlock and the text below it.
 * Teams refuses payloads over about 28 KB: the text is cut to fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"

#define TEAMS_TEXT_BYTES 20000

static ch_err teams_check(const char *endpoint, char *why, size_t whylen)
{
  return ch_notify_url_check(endpoint, false, why, whylen);
}

ch_err ch_notify_teams_body(const ch_notify_env *env, const ch_notify_msg *m,
                            char **out)
{
  ch_buf text, cut;
  ch_err rc;
  json_t *o = NULL;
  const char *subject = ch_chan_subject(m);
  const char *name = m->topic_arn ? strrchr(m->topic_arn, ':') : NULL;
  ch_buf_init(&text, CH_CHAN_BODY_CAP);
  ch_buf_init(&cut, CH_CHAN_BODY_CAP);
  *out = NULL;
  if((rc = ch_chan_text(env, m, &text)))
    goto out;
  if((rc = ch_chan_truncate(text.data ? text.data : "", text.len, SIZE_MAX,
                            TEAMS_TEXT_BYTES, &cut)))
    goto out;
  o = json_pack(
      "{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:b},"
      " {s:s, s:s%, s:b}, {s:s, s:s+, s:s, s:b, s:b}]}}]}",
      "type", "message", "attachments", "contentType",
      "application/vnd.microsoft.card.adaptive", "contentUrl", "content",
      "$schema", "http://adaptivecards.io/schemas/adaptive-card.json", "type",
      "AdaptiveCard", "version", "1.4", "body", "type", "TextBlock", "text",
      subject, "weight", "Bolder", "size", "Medium", "wrap", 1, "type",
      "TextBlock", "text", cut.data ? cut.data : "", cut.len, "wrap", 1,
      "type", "TextBlock", "text", "certhub · topic ",
      name ? name + 1 : (m->topic_arn ? m->topic_arn : ""), "size", "Small",
      "isSubtle", 1, "wrap", 1);
  if(!o) {
    rc = CH_ERR_PARSE; /* not UTF-8 */
    goto out;
  }
  if(!(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
out:
  json_decref(o);
  ch_buf_free(&text);
  ch_buf_free(&cut);
  return rc;
}

static ch_err teams_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, CURL *easy, void **state)
{
  char *body = NULL;
  char why[128];
  *state = NULL;
  ch_err rc = ch_notify_url_check(sub->endpoint, false, why, sizeof(why));
  if(!rc)
    rc = ch_notify_teams_body(env, m, &body);
  if(rc)
    return rc;
  return ch_chan_post_prepare(env, sub, m, body, easy, state);
}

const ch_notify_proto ch_notify_proto_teams = {
    .name = "teams",
    .needs_confirmation = false,
    .check_endpoint = teams_check,
    .prepare = teams_prepare,
    .finish = ch_chan_post_finish,
    .release = ch_chan_post_release,
};
