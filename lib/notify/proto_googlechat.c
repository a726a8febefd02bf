/*
 * The googlechat protocol: a Google Chat space webhook, {"text": ...} with
 * the subject in bold (Chat's *bold*) over the text. Chat's text limit is
 * 4096 characters: longer texts are cut with a note.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"

#define GCHAT_TEXT_MAX 4096

static ch_err gchat_check(const char *endpoint, char *why, size_t whylen)
{
  return ch_notify_url_check(endpoint, false, why, whylen);
}

ch_err ch_notify_googlechat_body(const ch_notify_env *env,
                                 const ch_notify_msg *m, char **out)
{
  ch_buf all, cut;
  ch_err rc;
  json_t *o = NULL;
  ch_buf_init(&all, CH_CHAN_BODY_CAP);
  ch_buf_init(&cut, CH_CHAN_BODY_CAP);
  *out = NULL;
  if((rc = ch_buf_printf(&all, "*%s*\n", ch_chan_subject(m))))
    goto out;
  if((rc = ch_chan_text(env, m, &all)))
    goto out;
  /* "<users/all>" in a text would mention everyone in the space: a
   * message must not be able to do that, so such '<' become '‹'. */
  ch_buf safe;
  ch_buf_init(&safe, CH_CHAN_BODY_CAP);
  for(size_t i = 0; i < all.len && !rc; i++) {
    if(all.data[i] == '<' && !strncmp(all.data + i, "<users/", 7))
      rc = ch_buf_addstr(&safe, "‹");
    else
      rc = ch_buf_addc(&safe, all.data[i]);
  }
  if(!rc)
    rc = ch_chan_truncate(safe.data ? safe.data : "", safe.len, GCHAT_TEXT_MAX,
                          SIZE_MAX, &cut);
  ch_buf_free(&safe);
  if(rc)
    goto out;
  o = json_pack("{s:s%}", "text", cut.data ? cut.data : "", cut.len);
  if(!o) {
    rc = CH_ERR_PARSE; /* not UTF-8 */
    goto out;
  }
  if(!(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
out:
  json_decref(o);
  ch_buf_free(&all);
  ch_buf_free(&cut);
  return rc;
}

static ch_err gchat_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, CURL *easy, void **state)
{
  char *body = NULL;
  char why[128];
  *state = NULL;
  ch_err rc = ch_notify_url_check(sub->endpoint, false, why, sizeof(why));
  if(!rc)
    rc = ch_notify_googlechat_body(env, m, &body);
  if(rc)
    return rc;
  return ch_chan_post_prepare(env, sub, m, body, easy, state);
}

const ch_notify_proto ch_notify_proto_googlechat = {
    .name = "googlechat",
    .needs_confirmation = false,
    .check_endpoint = gchat_check,
    .prepare = gchat_prepare,
    .finish = ch_chan_post_finish,
    .release = ch_chan_post_release,
};
