/*
 * Helpers shared by the email, chat and webhook protocols (channels.h):
 * endpoint checks, the JSON POST state, texts, truncation, the webhook
 * template.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels.h"

#define USER_AGENT "certhub-notify/1"

static void say(char *why, size_t whylen, const char *msg)
{
  if(whylen)
    snprintf(why, whylen, "%s", msg);
}

ch_err ch_notify_email_check(const char *addr, char *why, size_t whylen)
{
  if(!addr || !*addr) {
    say(why, whylen, "empty address");
    return CH_ERR_USAGE;
  }
  size_t n = strlen(addr);
  if(n > 254) {
    say(why, whylen, "address longer than 254 characters");
    return CH_ERR_USAGE;
  }
  for(const char *p = addr; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    /* CR/LF/space/control/non-ASCII, and what could end an address in a
     * header or an SMTP command, are refused: no header injection. */
    if(ch <= ' ' || ch >= 0x7f) {
      say(why, whylen,
          "spaces, control or non-ASCII characters in the address");
      return CH_ERR_USAGE;
    }
    if(strchr("<>()[],;:\"\\", ch)) {
      say(why, whylen, "the address holds one of <>()[],;:\"\\");
      return CH_ERR_USAGE;
    }
  }
  const char *at = strchr(addr, '@');
  if(!at || strchr(at + 1, '@')) {
    say(why, whylen, "an address needs exactly one '@'");
    return CH_ERR_USAGE;
  }
  if(at == addr || at - addr > 64) {
    say(why, whylen, "the part before '@' must have 1 to 64 characters");
    return CH_ERR_USAGE;
  }
  const char *dom = at + 1;
  if(!*dom || *dom == '.' || dom[strlen(dom) - 1] == '.' ||
     strstr(dom, "..")) {
    say(why, whylen, "the domain after '@' is not a domain name");
    return CH_ERR_USAGE;
  }
  return CH_OK;
}

ch_err ch_notify_url_check(const char *url, bool allow_http, char *why,
                           size_t whylen)
{
  ch_err rc = CH_ERR_USAGE;
  char *scheme = NULL, *host = NULL;
  CURLU *u = NULL;
  if(!url || !*url) {
    say(why, whylen, "empty URL");
    return CH_ERR_USAGE;
  }
  if(strlen(url) > 2048) {
    say(why, whylen, "URL longer than 2048 characters");
    return CH_ERR_USAGE;
  }
  for(const char *p = url; *p; p++)
    if((unsigned char)*p <= ' ' || *p == 0x7f) {
      say(why, whylen, "spaces or control characters in the URL");
      return CH_ERR_USAGE;
    }
  if(!(u = curl_url()))
    return CH_ERR_NOMEM;
  if(curl_url_set(u, CURLUPART_URL, url, 0) ||
     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
     curl_url_get(u, CURLUPART_HOST, &host, 0)) {
    say(why, whylen, "not a URL (https://HOST/PATH)");
    goto out;
  }
  if(!strcmp(scheme, "https"))
    rc = CH_OK;
  else if(!strcmp(scheme, "http")) {
    bool local = !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") ||
                 !strcmp(host, "[::1]");
    if(allow_http || local)
      rc = CH_OK;
    else
      say(why, whylen,
          "http:// is allowed only to 127.0.0.1 or localhost; use https://");
  }
  else
    say(why, whylen, "the URL must be https://");
out:
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

/* Keep the start of the response for the detail text; drop the rest
 * (a receiver cannot make us buffer more). */
static size_t keep_resp(char *p, size_t size, size_t n, void *ud)
{
  ch_chan_post *st = ud;
  size_t len = size * n;
  size_t room = CH_CHAN_RESP_KEEP - st->resp_len;
  size_t take = len < room ? len : room;
  memcpy(st->resp + st->resp_len, p, take);
  st->resp_len += take;
  st->resp[st->resp_len] = '\0';
  return len;
}

ch_err ch_chan_post_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, char *body, CURL *easy,
                            void **state)
{
  ch_err rc = CH_ERR_NOMEM;
  ch_chan_post *st = calloc(1, sizeof(*st));
  char hdr[160];
  *state = NULL;
  if(!st) {
    free(body);
    return CH_ERR_NOMEM;
  }
  st->body = body;
  struct curl_slist *l =
      curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  if(!l)
    goto out;
  st->headers = l;
  snprintf(hdr, sizeof(hdr), "X-Certhub-Message-Id: %s",
           m->message_id ? m->message_id : "");
  if(!(l = curl_slist_append(st->headers, hdr)))
    goto out;
  if(!(l = curl_slist_append(st->headers, "Expect:")))
    goto out;
  curl_easy_setopt(easy, CURLOPT_URL, sub->endpoint);
  /* Endpoints are https (checked at subscribe time); never fall back to
   * other schemes, never follow redirects (the URL is the secret). */
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, st->body);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   (curl_off_t)strlen(st->body));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, st->headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, USER_AGENT);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep_resp);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, st);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   env->timeout_ms > 0 ? env->timeout_ms : 15000L);
  if(env->ca_file)
    curl_easy_setopt(easy, CURLOPT_CAINFO, env->ca_file);
  *state = st;
  return CH_OK;
out:
  ch_chan_post_release(st);
  return rc;
}

/* A short printable form of the response start for the detail. */
static void resp_text(const ch_chan_post *st, char *out, size_t outlen)
{
  size_t j = 0;
  for(size_t i = 0; i < st->resp_len && j + 1 < outlen && i < 80; i++) {
    unsigned char ch = (unsigned char)st->resp[i];
    out[j++] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
  }
  out[j] = '\0';
}

ch_delivery_result ch_chan_post_finish(void *state, CURLcode cc,
                                       long response_code, char *detail,
                                       size_t detaillen)
{
  ch_chan_post *st = state;
  char resp[96] = "";
  if(st)
    resp_text(st, resp, sizeof(resp));
  if(cc != CURLE_OK) {
    if(detaillen)
      snprintf(detail, detaillen, "%s", curl_easy_strerror(cc));
    if(cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
      return CH_DELIVERY_FAILED;
    return CH_DELIVERY_RETRY;
  }
  if(detaillen)
    snprintf(detail, detaillen, "HTTP %ld%s%s", response_code,
             resp[0] ? ": " : "", resp);
  if(response_code >= 200 && response_code < 300)
    return CH_DELIVERY_OK;
  if(response_code == 429 || response_code >= 500)
    return CH_DELIVERY_RETRY;
  return CH_DELIVERY_FAILED;
}

void ch_chan_post_release(void *state)
{
  ch_chan_post *st = state;
  if(!st)
    return;
  curl_slist_free_all(st->headers);
  free(st->body);
  free(st);
}

const char *ch_chan_subject(const ch_notify_msg *m)
{
  if(m->subject && *m->subject)
    return m->subject;
  if(m->type && !strcmp(m->type, "SubscriptionConfirmation"))
    return "certhub Notification - Subscription Confirmation";
  if(m->type && !strcmp(m->type, "UnsubscribeConfirmation"))
    return "certhub Notification - Unsubscribe Confirmation";
  return "certhub Notification Message";
}

/* The topic name: the last ':' part of the ARN. */
static const char *topic_name(const char *arn)
{
  const char *p = arn ? strrchr(arn, ':') : NULL;
  return p ? p + 1 : (arn ? arn : "");
}

ch_err ch_chan_text(const ch_notify_env *env, const ch_notify_msg *m,
                    ch_buf *out)
{
  if(m->type && !strcmp(m->type, "SubscriptionConfirmation")) {
    ch_err rc = CH_ERR_NOMEM;
    CURL *h = curl_easy_init();
    char *arn = NULL, *tok = NULL;
    const char *base = env && env->base_url ? env->base_url : "";
    size_t bl = strlen(base);
    if(!h)
      return CH_ERR_NOMEM;
    arn = curl_easy_escape(h, m->topic_arn ? m->topic_arn : "", 0);
    tok = curl_easy_escape(h, m->token ? m->token : "", 0);
    while(bl && base[bl - 1] == '/')
      bl--;
    /* The link is the one `certhub serve`'s API answers (lib/http/
     * api_sns.c), the SubscribeURL of SNS messages; without a base URL
     * there is no server to visit, only the command. */
    if(arn && tok)
      rc = ch_buf_printf(out,
                         "You have chosen to subscribe to the topic:\n%s\n\n",
                         m->topic_arn ? m->topic_arn : "");
    if(!rc && bl)
      rc =
          ch_buf_printf(out,
                        "To confirm the subscription, visit this link:\n"
                        "%.*s/?Action=ConfirmSubscription&TopicArn=%s&Token=%s"
                        "\n\nor run:\n",
                        (int)bl, base, arn, tok);
    else if(!rc)
      rc = ch_buf_addstr(out, "To confirm the subscription, run:\n");
    if(!rc)
      rc = ch_buf_printf(out,
                         "  certhub topics confirm %s %s\n\n"
                         "If you did not ask for this, ignore this message.\n",
                         topic_name(m->topic_arn), m->token ? m->token : "");
    curl_free(arn);
    curl_free(tok);
    curl_easy_cleanup(h);
    return rc;
  }
  if(m->text)
    return ch_buf_addstr(out, m->text);
  if(m->message)
    return ch_buf_add(out, m->message, m->len);
  return CH_OK;
}

/* Bytes of the UTF-8 sequence starting with lead (1 for stray bytes). */
static size_t u8len(unsigned char lead)
{
  if(lead >= 0xf0 && lead < 0xf8)
    return 4;
  if(lead >= 0xe0)
    return lead < 0xf0 ? 3 : 1;
  if(lead >= 0xc0)
    return 2;
  return 1;
}

size_t ch_chan_cut(const char *s, size_t len, size_t max_chars,
                   size_t max_bytes)
{
  size_t i = 0, chars = 0, cut = SIZE_MAX;
  /* The cut leaves room for the note inside both limits. */
  size_t keep_c = max_chars > 80 ? max_chars - 60 : max_chars;
  size_t keep_b = max_bytes > 80 ? max_bytes - 60 : max_bytes;
  while(i < len) {
    size_t k = u8len((unsigned char)s[i]);
    if(i + k > len)
      k = len - i;
    if(cut == SIZE_MAX && (chars + 1 > keep_c || i + k > keep_b))
      cut = i;
    i += k;
    chars++;
  }
  if(chars <= max_chars && len <= max_bytes)
    return len;
  return cut;
}

ch_err ch_chan_note(ch_buf *out, size_t omitted)
{
  return ch_buf_printf(out, "\n… [truncated by certhub: %zu more bytes]",
                       omitted);
}

ch_err ch_chan_truncate(const char *s, size_t len, size_t max_chars,
                        size_t max_bytes, ch_buf *out)
{
  size_t cut = ch_chan_cut(s, len, max_chars, max_bytes);
  ch_err rc = ch_buf_add(out, s, cut);
  if(!rc && cut < len)
    rc = ch_chan_note(out, len - cut);
  return rc;
}

void ch_chan_timestamp(int64_t ms, char out[64])
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(ms % 1000 < 0 ? 0 : ms % 1000));
}

/* --- webhook template --------------------------------------------------- */

static const char *const placeholders[] = {
    "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "Type", "text",
};

/* Values of the placeholders for m, in the order above. */
typedef struct tvals {
  const char *v[CH_ARRAY_LEN(placeholders)];
  size_t n[CH_ARRAY_LEN(placeholders)];
} tvals;

/* Expand s (len bytes) into out; vals NULL: only check. */
static ch_err expand(const char *s, size_t len, const tvals *vals, ch_buf *out,
                     char *why, size_t whylen)
{
  size_t i = 0;
  while(i < len) {
    const char *d = memchr(s + i, '$', len - i);
    size_t lit = d ? (size_t)(d - (s + i)) : len - i;
    if(out && ch_buf_add(out, s + i, lit))
      return CH_ERR_TOOBIG;
    i += lit;
    if(!d)
      break;
    if(i + 1 < len && s[i + 1] == '$') {
      if(out && ch_buf_addc(out, '$'))
        return CH_ERR_TOOBIG;
      i += 2;
      continue;
    }
    if(i + 1 >= len || s[i + 1] != '{') {
      /* A lone '$' is literal. */
      if(out && ch_buf_addc(out, '$'))
        return CH_ERR_TOOBIG;
      i++;
      continue;
    }
    const char *end = memchr(s + i + 2, '}', len - i - 2);
    if(!end) {
      say(why, whylen, "template: '${' without a closing '}'");
      return CH_ERR_PARSE;
    }
    const char *name = s + i + 2;
    size_t nl = (size_t)(end - name), k;
    for(k = 0; k < CH_ARRAY_LEN(placeholders); k++)
      if(strlen(placeholders[k]) == nl && !memcmp(placeholders[k], name, nl))
        break;
    if(k == CH_ARRAY_LEN(placeholders)) {
      if(whylen)
        snprintf(why, whylen,
                 "template: unknown placeholder '${%.*s}' (known: "
                 "MessageId, TopicArn, Subject, Message, Timestamp, Type, "
                 "text)",
                 (int)(nl > 40 ? 40 : nl), name);
      return CH_ERR_PARSE;
    }
    if(out && vals && vals->v[k] && ch_buf_add(out, vals->v[k], vals->n[k]))
      return CH_ERR_TOOBIG;
    i = (size_t)(end - s) + 1;
  }
  return CH_OK;
}

/* Walk j, expanding every string (keys too). vals NULL: only check. */
static ch_err walk(json_t *j, const tvals *vals, int depth, char *why,
                   size_t whylen)
{
  ch_err rc = CH_OK;
  if(depth > 32) {
    say(why, whylen, "template: nested deeper than 32 levels");
    return CH_ERR_PARSE;
  }
  if(json_is_string(j)) {
    ch_buf b;
    ch_buf_init(&b, CH_CHAN_BODY_CAP);
    rc = expand(json_string_value(j), json_string_length(j), vals,
                vals ? &b : NULL, why, whylen);
    if(!rc && vals && json_string_setn(j, b.data ? b.data : "", b.len))
      rc = CH_ERR_PARSE; /* not UTF-8: cannot happen for checked input */
    ch_buf_free(&b);
    if(rc == CH_ERR_TOOBIG)
      say(why, whylen, "template: the rendered body is too large");
    return rc;
  }
  if(json_is_array(j)) {
    for(size_t i = 0; i < json_array_size(j) && !rc; i++)
      rc = walk(json_array_get(j, i), vals, depth + 1, why, whylen);
    return rc;
  }
  if(json_is_object(j)) {
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
      if(strstr(key, "${")) {
        say(why, whylen, "template: placeholders are not allowed in keys");
        return CH_ERR_PARSE;
      }
      if((rc = walk(v, vals, depth + 1, why, whylen)))
        return rc;
    }
  }
  return rc;
}

static json_t *template_parse(const char *tmpl, char *why, size_t whylen)
{
  json_error_t jerr;
  if(!tmpl || !*tmpl) {
    say(why, whylen, "template: empty");
    return NULL;
  }
  if(strlen(tmpl) > CH_CHAN_TEMPLATE_MAX) {
    if(whylen)
      snprintf(why, whylen, "template: larger than %zu bytes",
               CH_CHAN_TEMPLATE_MAX);
    return NULL;
  }
  json_t *j = json_loads(tmpl, JSON_REJECT_DUPLICATES, &jerr);
  if(!j) {
    if(whylen)
      snprintf(why, whylen, "template: not JSON (%s at character %d)",
               jerr.text, jerr.position);
    return NULL;
  }
  if(!json_is_object(j) && !json_is_array(j)) {
    say(why, whylen, "template: must be a JSON object or array");
    json_decref(j);
    return NULL;
  }
  return j;
}

ch_err ch_notify_template_check(const char *tmpl, char *why, size_t whylen)
{
  json_t *j = template_parse(tmpl, why, whylen);
  if(!j)
    return CH_ERR_PARSE;
  ch_err rc = walk(j, NULL, 0, why, whylen);
  json_decref(j);
  return rc;
}

ch_err ch_notify_template_render(const char *tmpl, const ch_notify_msg *m,
                                 const char *text, char **out)
{
  char why[256], ts[64];
  tvals v = {{0}, {0}};
  *out = NULL;
  json_t *j = template_parse(tmpl, why, sizeof(why));
  if(!j)
    return CH_ERR_PARSE;
  ch_chan_timestamp(m->timestamp_ms, ts);
  const char *vals[] = {
      m->message_id, m->topic_arn, m->subject, m->message, ts, m->type, text};
  for(size_t i = 0; i < CH_ARRAY_LEN(vals); i++) {
    v.v[i] = vals[i] ? vals[i] : "";
    v.n[i] = strlen(v.v[i]);
  }
  v.n[3] = m->message ? m->len : 0; /* Message: len bytes */
  ch_err rc = walk(j, &v, 0, why, sizeof(why));
  if(!rc && !(*out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
  json_decref(j);
  return rc;
}

ch_err ch_notify_check_attributes(const char *protocol, const char *attributes,
                                  char *why, size_t whylen)
{
  if(!attributes || !protocol || strcmp(protocol, "webhook"))
    return CH_OK;
  json_t *a = json_loads(attributes, 0, NULL);
  ch_err rc = CH_OK;
  if(!json_is_object(a)) {
    say(why, whylen, "attributes: not a JSON object");
    rc = CH_ERR_USAGE;
    goto out;
  }
  json_t *t = json_object_get(a, "template");
  if(!t)
    goto out;
  if(!json_is_string(t)) {
    say(why, whylen, "template: must be a string holding JSON");
    rc = CH_ERR_USAGE;
    goto out;
  }
  if(ch_notify_template_check(json_string_value(t), why, whylen))
    rc = CH_ERR_USAGE;
out:
  json_decref(a);
  return rc;
}
