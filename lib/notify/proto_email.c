/*
 * The email protocol: one RFC 5322 message per delivery, sent with
 * libcurl's SMTP (STARTTLS required on smtp:// unless the config turns it
 * off, or implicit TLS on smtps://), AUTH with the configured username and
 * password. Subscriptions need confirmation, as SNS email ones do: the
 * confirmation mail carries the link and the token.
 *
 * The message is built here rather than with CURLOPT_MIMEPOST so that the
 * Message-ID, the encodings and line lengths are ours to guarantee (and
 * unit-testable without a server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "channels.h"
#include "notify_int.h"

#define SMTP_PASSWORD_MAX 4096
#define QP_LINE 76

/* --- encodings ------------------------------------------------------------
 */

static size_t u8seq(const unsigned char *s, size_t left)
{
  size_t k = 1;
  if(s[0] >= 0xf0 && s[0] < 0xf8)
    k = 4;
  else if(s[0] >= 0xe0 && s[0] < 0xf0)
    k = 3;
  else if(s[0] >= 0xc0 && s[0] < 0xe0)
    k = 2;
  return k > left ? left : k;
}

ch_err ch_notify_header_encode(const char *name, const char *value,
                               ch_buf *out)
{
  ch_err rc = CH_OK;
  size_t n = strlen(value);
  char *v = malloc(n + 1);
  bool ascii = true;
  if(!v)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)value[i];
    /* CR, LF and other controls would end or corrupt the header. */
    v[i] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
    if(ch >= 0x7f)
      ascii = false;
  }
  v[n] = '\0';
  /* "=?" in plain text would be read as an encoded word; a very long value
   * needs folding: both go through encoded words as well. */
  if(ascii && !strstr(v, "=?") && n + strlen(name) + 2 <= 900) {
    rc = ch_buf_printf(out, "%s: %s\r\n", name, v);
    goto out;
  }
  if((rc = ch_buf_printf(out, "%s:", name)))
    goto out;
  /* 36 bytes of text are 48 of base64: "=?UTF-8?B?" + 48 + "?=" = 60,
   * so a line stays within 78 characters; after a long header name the
   * first word goes on a folded line too. */
  bool fold = strlen(name) + 2 + 60 > 78;
  for(size_t i = 0; i < n;) {
    size_t take = 0;
    while(i + take < n) {
      size_t k = u8seq((const unsigned char *)v + i + take, n - i - take);
      if(take + k > 36)
        break;
      take += k;
    }
    unsigned char b64[64];
    EVP_EncodeBlock(b64, (const unsigned char *)v + i, (int)take);
    if((rc = ch_buf_printf(out, "%s=?UTF-8?B?%s?=", i || fold ? "\r\n " : " ",
                           (const char *)b64)))
      goto out;
    i += take;
  }
  rc = ch_buf_addstr(out, "\r\n");
out:
  free(v);
  return rc;
}

ch_err ch_notify_qp_encode(const char *s, size_t len, ch_buf *out)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t col = 0;
  ch_err rc = CH_OK;
  for(size_t i = 0; i < len && !rc; i++) {
    unsigned char ch = (unsigned char)s[i];
    if(ch == '\r' && i + 1 < len && s[i + 1] == '\n')
      continue; /* CRLF: the LF makes the break */
    if(ch == '\n') {
      rc = ch_buf_addstr(out, "\r\n");
      col = 0;
      continue;
    }
    bool eol = i + 1 == len || s[i + 1] == '\n' ||
               (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n');
    /* Encoded: non-ASCII, controls, '=', whitespace before a line end
     * (transports strip it), a '.' starting a line (SMTP). */
    bool enc = ch >= 0x7f || (ch < ' ' && ch != '\t') || ch == '=' ||
               ((ch == ' ' || ch == '\t') && eol) || (ch == '.' && !col);
    size_t w = enc ? 3 : 1;
    /* Soft break: keep room for the "=" (and a following encoded char). */
    if(col + w > QP_LINE - 1) {
      if((rc = ch_buf_addstr(out, "=\r\n")))
        break;
      col = 0;
      if(ch == '.')
        enc = true, w = 3;
    }
    if(enc) {
      char e[3] = {'=', hex[ch >> 4], hex[ch & 15]};
      rc = ch_buf_add(out, e, 3);
    }
    else
      rc = ch_buf_addc(out, (char)ch);
    col += w;
  }
  return rc;
}

/* --- the message ----------------------------------------------------------
 */

static void mail_date(int64_t now, char out[64])
{
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                     "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)now;
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
}

/* Only [A-Za-z0-9.-] of s (at most n-1 bytes) into out: safe in
 * Message-ID and boundary. */
static void token_chars(const char *s, char *out, size_t n)
{
  size_t j = 0;
  for(; s && *s && j + 1 < n; s++)
    if((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
       (*s >= '0' && *s <= '9') || *s == '-' || *s == '.')
      out[j++] = *s;
  out[j] = '\0';
}

static ch_err part(ch_buf *out, const char *boundary, const char *type,
                   const char *body, size_t len)
{
  ch_err rc = CH_OK;
  if(boundary)
    rc = ch_buf_printf(out, "--%s\r\n", boundary);
  if(!rc)
    rc = ch_buf_printf(out,
                       "Content-Type: %s; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                       type);
  if(!rc)
    rc = ch_notify_qp_encode(body, len, out);
  /* A delimiter starts with CRLF; a single part only needs the message
   * to end with one. */
  bool crlf = out->len >= 2 && !memcmp(out->data + out->len - 2, "\r\n", 2);
  if(!rc && (boundary || !crlf))
    rc = ch_buf_addstr(out, "\r\n");
  return rc;
}

/* The UnsubscribeURL of a notification (what `certhub serve` answers,
 * lib/http/api_sns.c) into u; empty when there is no base URL, no
 * subscription or no token. */
static ch_err unsubscribe_url(const ch_notify_env *env, const char *sub_arn,
                              const ch_notify_msg *m, ch_buf *u)
{
  const char *base = env && env->base_url ? env->base_url : "";
  size_t bl = strlen(base);
  while(bl && base[bl - 1] == '/')
    bl--;
  if(!bl || !sub_arn || !m->token || !*m->token)
    return CH_OK;
  ch_err rc = ch_buf_add(u, base, bl);
  if(!rc)
    rc = ch_buf_addstr(u, "/?Action=Unsubscribe&SubscriptionArn=");
  if(!rc)
    rc = ch_notify_urlencode(u, sub_arn);
  if(!rc)
    rc = ch_buf_addstr(u, "&Token=");
  if(!rc)
    rc = ch_notify_urlencode(u, m->token);
  return rc;
}

/* html with a paragraph linking url put before its last </body> (or at
 * its end), into h. */
static ch_err html_with_link(const char *html, const char *url, ch_buf *h)
{
  const char *end = NULL;
  for(const char *p = html; (p = strstr(p, "</body>")); p++)
    end = p;
  size_t head = end ? (size_t)(end - html) : strlen(html);
  ch_err rc = ch_buf_add(h, html, head);
  if(!rc)
    rc = ch_buf_addstr(h, "<p style=\"font-size:smaller\">To stop these "
                          "mails, <a href=\"");
  for(const char *p = url; !rc && *p; p++)
    rc = *p == '&'   ? ch_buf_addstr(h, "&amp;")
         : *p == '"' ? ch_buf_addstr(h, "&quot;")
         : *p == '<' ? ch_buf_addstr(h, "&lt;")
         : *p == '>' ? ch_buf_addstr(h, "&gt;")
                     : ch_buf_addc(h, *p);
  if(!rc)
    rc = ch_buf_addstr(h, "\">unsubscribe</a>.</p>\n");
  if(!rc)
    rc = ch_buf_addstr(h, html + head);
  return rc;
}

ch_err ch_notify_mail_build(const ch_notify_env *env, const char *from,
                            const char *to, const char *sub_arn,
                            const ch_notify_msg *m, int64_t now, ch_buf *out)
{
  ch_err rc;
  char date[64], id[80], boundary[120];
  ch_buf text, unsub, html;
  const char *dom = strrchr(from, '@');
  bool notification = !m->type || !strcmp(m->type, "Notification");
  ch_buf_init(&text, CH_CHAN_BODY_CAP);
  ch_buf_init(&unsub, 8192);
  ch_buf_init(&html, CH_CHAN_BODY_CAP);
  mail_date(now, date);
  token_chars(m->message_id, id, sizeof(id));
  if(!id[0])
    snprintf(id, sizeof(id), "none");
  if((rc = ch_buf_printf(out, "From: %s\r\nTo: %s\r\n", from, to)))
    goto out;
  if((rc = ch_notify_header_encode("Subject", ch_chan_subject(m), out)))
    goto out;
  /* The same MessageId gives the same Message-ID on every retry, so a
   * receiver can drop duplicates. */
  rc = ch_buf_printf(out,
                     "Date: %s\r\nMessage-ID: <%s@%s>\r\n"
                     "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
                     "X-Certhub-Message-Type: %s\r\n",
                     date, id, dom ? dom + 1 : "certhub.invalid",
                     notification ? "Notification"
                     : !strcmp(m->type, "SubscriptionConfirmation")
                         ? "SubscriptionConfirmation"
                         : "UnsubscribeConfirmation");
  if(!rc && m->topic_arn)
    rc = ch_notify_header_encode("X-Certhub-Topic-Arn", m->topic_arn, out);
  if(rc)
    goto out;
  if((rc = ch_chan_text(env, m, &text)))
    goto out;
  if(notification && m->topic_arn)
    rc = ch_buf_printf(&text,
                       "\n\n--\nSent by certhub for the topic %s (message "
                       "%s).\n",
                       m->topic_arn, id);
  /* As SNS's mails: every notification says how to stop them. */
  if(!rc && notification)
    rc = unsubscribe_url(env, sub_arn, m, &unsub);
  if(!rc && unsub.len)
    rc = ch_buf_printf(&text, "To stop these mails, visit:\n%s\n", unsub.data);
  if(rc)
    goto out;
  if(!notification || !m->html) {
    rc = part(out, NULL, "text/plain", text.data ? text.data : "", text.len);
    goto out;
  }
  /* QP output never holds "=_", so this boundary cannot occur in a part. */
  snprintf(boundary, sizeof(boundary), "=_certhub_%s", id);
  rc = ch_buf_printf(out,
                     "Content-Type: multipart/alternative;\r\n"
                     " boundary=\"%s\"\r\n\r\n"
                     "This is a multi-part message in MIME format.\r\n",
                     boundary);
  if(!rc)
    rc = part(out, boundary, "text/plain", text.data ? text.data : "",
              text.len);
  if(!rc && unsub.len)
    rc = html_with_link(m->html, unsub.data, &html);
  if(!rc)
    rc = unsub.len
             ? part(out, boundary, "text/html", html.data, html.len)
             : part(out, boundary, "text/html", m->html, strlen(m->html));
  if(!rc)
    rc = ch_buf_printf(out, "--%s--\r\n", boundary);
out:
  ch_buf_free(&text);
  ch_buf_free(&unsub);
  ch_buf_free(&html);
  return rc;
}

/* --- SMTP settings ----------------------------------------------------------
 */

ch_err ch_notify_smtp_load(const certhub_smtp_cfg *cfg, ch_notify_smtp *out,
                           char **password, char *why, size_t whylen)
{
  *password = NULL;
  memset(out, 0, sizeof(*out));
  if(!cfg) {
    snprintf(why, whylen, "no notify.smtp in the configuration");
    return CH_ERR_CONFIG;
  }
  out->url = cfg->url;
  out->from = cfg->from;
  out->username = cfg->username;
  out->require_tls = cfg->require_tls;
  out->ca_file = cfg->ca_file;
  if(!cfg->username)
    return CH_OK;
  if(cfg->password_env) {
    const char *p = getenv(cfg->password_env);
    if(!p || !*p) {
      snprintf(why, whylen,
               "notify.smtp.password_env: $%s is not set or empty",
               cfg->password_env);
      return CH_ERR_CONFIG;
    }
    if(!(*password = strdup(p)))
      return CH_ERR_NOMEM;
  }
  else {
    FILE *f = fopen(cfg->password_file, "r");
    char line[SMTP_PASSWORD_MAX + 2];
    if(!f) {
      snprintf(why, whylen, "notify.smtp.password_file: cannot read %s",
               cfg->password_file);
      return CH_ERR_CONFIG;
    }
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    bool whole = got && (line[n] || n < SMTP_PASSWORD_MAX);
    line[n] = '\0';
    if(!n || !whole) {
      OPENSSL_cleanse(line, sizeof(line));
      snprintf(why, whylen, "notify.smtp.password_file: %s: %s",
               cfg->password_file,
               n ? "first line longer than 4096 bytes" : "empty first line");
      return CH_ERR_CONFIG;
    }
    *password = strdup(line);
    OPENSSL_cleanse(line, sizeof(line));
    if(!*password)
      return CH_ERR_NOMEM;
  }
  out->password = *password;
  return CH_OK;
}

/* --- the protocol -----------------------------------------------------------
 */

typedef struct email_state {
  ch_buf mail;
  size_t off;
  struct curl_slist *rcpt;
  char err[CURL_ERROR_SIZE];
} email_state;

static ch_err email_check(const char *endpoint, char *why, size_t whylen)
{
  return ch_notify_email_check(endpoint, why, whylen);
}

static size_t feed(char *buf, size_t size, size_t n, void *ud)
{
  email_state *st = ud;
  size_t left = st->mail.len - st->off;
  size_t take = size * n < left ? size * n : left;
  memcpy(buf, st->mail.data + st->off, take);
  st->off += take;
  return take;
}

static void email_release(void *state)
{
  email_state *st = state;
  if(!st)
    return;
  ch_buf_free(&st->mail);
  curl_slist_free_all(st->rcpt);
  free(st);
}

static ch_err email_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, CURL *easy, void **state)
{
  const ch_notify_smtp *smtp = env->smtp;
  char why[128], addr[300];
  ch_err rc;
  *state = NULL;
  if(!smtp || !smtp->url || !smtp->from)
    return CH_ERR_CONFIG;
  /* Checked at subscribe time (and config load); again here, as the
   * addresses go into headers and SMTP commands. */
  if((rc = ch_notify_email_check(sub->endpoint, why, sizeof(why))) ||
     (rc = ch_notify_email_check(smtp->from, why, sizeof(why))))
    return rc;
  email_state *st = calloc(1, sizeof(*st));
  if(!st)
    return CH_ERR_NOMEM;
  ch_buf_init(&st->mail, CH_CHAN_BODY_CAP);
  if((rc = ch_notify_mail_build(env, smtp->from, sub->endpoint, sub->arn, m,
                                (int64_t)time(NULL), &st->mail)))
    goto out;
  snprintf(addr, sizeof(addr), "<%s>", sub->endpoint);
  if(!(st->rcpt = curl_slist_append(NULL, addr))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  bool implicit = !strncmp(smtp->url, "smtps://", 8);
  curl_easy_setopt(easy, CURLOPT_URL, smtp->url);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  /* Required TLS: STARTTLS must succeed or curl stops before MAIL FROM.
   * Off (explicitly): upgrade when offered. */
  curl_easy_setopt(easy, CURLOPT_USE_SSL,
                   implicit || smtp->require_tls ? (long)CURLUSESSL_ALL
                                                 : (long)CURLUSESSL_TRY);
  snprintf(addr, sizeof(addr), "<%s>", smtp->from);
  curl_easy_setopt(easy, CURLOPT_MAIL_FROM, addr);
  curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, st->rcpt);
  curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(easy, CURLOPT_READFUNCTION, feed);
  curl_easy_setopt(easy, CURLOPT_READDATA, st);
  curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st->mail.len);
  if(smtp->username) {
    curl_easy_setopt(easy, CURLOPT_USERNAME, smtp->username);
    curl_easy_setopt(easy, CURLOPT_PASSWORD,
                     smtp->password ? smtp->password : "");
  }
  if(smtp->ca_file)
    curl_easy_setopt(easy, CURLOPT_CAINFO, smtp->ca_file);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, st->err);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   env->timeout_ms > 0 ? env->timeout_ms : 30000L);
  *state = st;
  st = NULL;
out:
  email_release(st);
  return rc;
}

static ch_delivery_result email_finish(void *state, CURLcode cc,
                                       long response_code, char *detail,
                                       size_t detaillen)
{
  email_state *st = state;
  const char *err = st && st->err[0] ? st->err : curl_easy_strerror(cc);
  if(cc == CURLE_OK) {
    snprintf(detail, detaillen, "SMTP %ld: accepted", response_code);
    return CH_DELIVERY_OK;
  }
  if(cc == CURLE_LOGIN_DENIED) {
    snprintf(detail, detaillen, "SMTP %ld: login denied: %s", response_code,
             err);
    /* 454 is "temporary authentication failure". */
    return response_code >= 400 && response_code < 500 ? CH_DELIVERY_RETRY
                                                       : CH_DELIVERY_FAILED;
  }
  if(cc == CURLE_USE_SSL_FAILED) {
    snprintf(detail, detaillen,
             "the SMTP server does not offer STARTTLS (require_tls): %s", err);
    return CH_DELIVERY_FAILED;
  }
  if(response_code >= 500 && response_code < 600) {
    snprintf(detail, detaillen, "SMTP %ld (permanent): %s", response_code,
             err);
    return CH_DELIVERY_FAILED;
  }
  if(response_code >= 400 && response_code < 500)
    snprintf(detail, detaillen, "SMTP %ld (transient): %s", response_code,
             err);
  else
    snprintf(detail, detaillen, "%s", err);
  if(cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
    return CH_DELIVERY_FAILED;
  return CH_DELIVERY_RETRY;
}

const ch_notify_proto ch_notify_proto_email = {
    .name = "email",
    .needs_confirmation = true,
    .needs_smtp = true,
    .check_endpoint = email_check,
    .prepare = email_prepare,
    .finish = email_finish,
    .release = email_release,
};
