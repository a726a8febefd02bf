/* Fuzz the email/chat/webhook builders with hostile text. The first byte
 * picks the part: 0 the webhook template (checked, then rendered; the
 * output must be JSON), 1 a whole mail with the rest as subject and body
 * (split at the first NUL; the mail must have exactly the fixed headers,
 * CRLF line ends only and lines of at most 998 bytes), 2 the endpoint
 * checks (an accepted address has no byte that could break a header), 3
 * the chat bodies (must be JSON when built). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/channels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mail(const char *m)
{
  size_t col = 0, headers = 0;
  bool in_head = true, line_start = true;
  for(const char *p = m; *p; p++) {
    if(p[0] == '\r' && p[1] == '\n') {
      if(line_start && in_head)
        in_head = false; /* the empty line */
      col = 0;
      line_start = true;
      p++;
      continue;
    }
    if(*p == '\r' || *p == '\n')
      abort(); /* bare CR or LF */
    if(line_start && in_head && *p != ' ')
      headers++;
    line_start = false;
    if(++col > 998)
      abort();
  }
  /* From To Subject Date Message-ID MIME-Version Auto-Submitted
   * X-Certhub-Message-Type X-Certhub-Topic-Arn Content-Type
   * Content-Transfer-Encoding (single part) */
  if(headers != 11 && headers != 10)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(size < 1 || size > 100000)
    return 0;
  char *s = malloc(size);
  if(!s)
    return 0;
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  size_t n = strlen(s);
  char why[256];
  ch_notify_msg m = {.type = "Notification",
                     .message_id = "6f1c0a4e-0000-4000-8000-000000000000",
                     .topic_arn = "arn:certhub:sns:local:000000000000:t",
                     .subject = "s \"${Message}\"",
                     .message = "m\n\"x\"",
                     .len = 5,
                     .timestamp_ms = 0};
  switch(data[0] % 4) {
  case 0:
    if(!ch_notify_template_check(s, why, sizeof(why))) {
      char *out = NULL;
      if(ch_notify_template_render(s, &m, "t", &out))
        abort(); /* a checked template renders */
      json_t *j = json_loads(out, 0, NULL);
      if(!j)
        abort();
      json_decref(j);
      free(out);
    }
    break;
  case 1: {
    ch_buf b;
    ch_notify_env env = {.base_url = "https://hub.example"};
    const char *body = n + 1 < size - 1 ? s + n + 1 : "";
    m.subject = s;
    m.message = body;
    m.len = strlen(body);
    m.html = data[size - 1] & 1 ? body : NULL;
    if(data[size - 1] & 2) {
      m.type = "SubscriptionConfirmation";
      m.token = s;
    }
    else if(data[size - 1] & 4)
      m.token = s; /* a notification's unsubscribe link */
    ch_buf_init(&b, CH_CHAN_BODY_CAP);
    if(!ch_notify_mail_build(&env, "hub@example.com", "bob@example.org",
                             "arn:certhub:sns:local:000000000000:t:sub", &m, 0,
                             &b))
      check_mail(b.data);
    ch_buf_free(&b);
    break;
  }
  case 2:
    if(!ch_notify_email_check(s, why, sizeof(why)))
      for(const char *p = s; *p; p++)
        if(*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>')
          abort();
    if(!ch_notify_url_check(s, true, why, sizeof(why)))
      for(const char *p = s; *p; p++)
        if((unsigned char)*p <= ' ')
          abort();
    break;
  default: {
    char *out = NULL;
    m.subject = s;
    m.message = s;
    m.len = n;
    ch_err (*build[])(const ch_notify_env *, const ch_notify_msg *,
                      char **) = {ch_notify_slack_body, ch_notify_teams_body,
                                  ch_notify_googlechat_body};
    for(size_t i = 0; i < 3; i++) {
      if(!build[i](NULL, &m, &out)) {
        json_t *j = json_loads(out, 0, NULL);
        if(!j)
          abort();
        json_decref(j);
      }
      free(out);
      out = NULL;
    }
  }
  }
  free(s);
  return 0;
}
