/*
 * The email, chat and webhook protocols' building blocks without a
 * server: RFC 2047 header encoding (round-tripped through a decoder),
 * header-injection attempts, quoted-printable (round-tripped), whole mails,
 * endpoint checks, the webhook template with hostile values, text limits,
 * the result classification, the SMTP password sources.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "notify/channels.h"

/* Decode every "=?UTF-8?B?...?=" word of a header value (concatenated),
 * checking each word's length and that each decodes to whole UTF-8. */
static char *decode_words(const char *h)
{
  static char out[4096];
  size_t n = 0;
  const char *p = h;
  while((p = strstr(p, "=?UTF-8?B?"))) {
    const char *s = p + 10, *e = strstr(s, "?=");
    assert_non_null(e);
    assert_true(e + 2 - p <= 75);
    unsigned char buf[128];
    int len = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)(e - s));
    assert_true(len >= 0);
    /* EVP_DecodeBlock counts padding bytes as output: drop them. */
    if(e - s >= 2 && e[-1] == '=')
      len -= e[-2] == '=' ? 2 : 1;
    json_t *j = json_stringn((const char *)buf, (size_t)len);
    assert_non_null(j); /* each word holds whole characters */
    json_decref(j);
    memcpy(out + n, buf, (size_t)len);
    n += (size_t)len;
    p = e + 2;
  }
  out[n] = '\0';
  return out;
}

/* Longest line (CRLF-separated) and whether a bare CR or LF occurs. */
static size_t max_line(const char *s, bool *bare)
{
  size_t best = 0, cur = 0;
  *bare = false;
  for(const char *p = s; *p; p++) {
    if(p[0] == '\r' && p[1] == '\n') {
      best = cur > best ? cur : best;
      cur = 0;
      p++;
      continue;
    }
    if(*p == '\r' || *p == '\n')
      *bare = true;
    cur++;
  }
  return cur > best ? cur : best;
}

static void test_header_ascii_and_injection(void **st)
{
  (void)st;
  ch_buf b;
  ch_buf_init(&b, 1 << 16);
  assert_int_equal(ch_notify_header_encode("Subject", "Expiry soon", &b),
                   CH_OK);
  assert_string_equal(b.data, "Subject: Expiry soon\r\n");
  ch_buf_reset(&b);
  /* CR/LF cannot start a new header. */
  assert_int_equal(ch_notify_header_encode(
                       "Subject", "hi\r\nBcc: eve@example.org\n\rX: y", &b),
                   CH_OK);
  assert_string_equal(b.data, "Subject: hi  Bcc: eve@example.org  X: y\r\n");
  ch_buf_reset(&b);
  /* An encoded word lookalike in plain text is encoded itself. */
  assert_int_equal(ch_notify_header_encode("Subject", "=?x?Q?y?=", &b), CH_OK);
  assert_non_null(strstr(b.data, "=?UTF-8?B?"));
  assert_string_equal(decode_words(b.data), "=?x?Q?y?=");
  ch_buf_free(&b);
}

static void test_header_utf8_words(void **st)
{
  (void)st;
  ch_buf b;
  bool bare;
  const char *subj =
      "Zertifikat läuft ab — 証明書の有効期限が切れます — "
      "émoji 🙂🙂🙂 and a long tail to force several words";
  ch_buf_init(&b, 1 << 16);
  assert_int_equal(ch_notify_header_encode("Subject", subj, &b), CH_OK);
  assert_true(max_line(b.data, &bare) <= 78);
  assert_false(bare);
  assert_string_equal(decode_words(b.data), subj);
  /* Continuation lines start with a space (folding). */
  for(const char *p = strstr(b.data, "\r\n"); p && p[2];
      p = strstr(p + 2, "\r\n"))
    assert_int_equal(p[2], ' ');
  ch_buf_reset(&b);
  /* A long header name: the first word is folded too. */
  assert_int_equal(ch_notify_header_encode("X-Certhub-Topic-Arn", "ärn:x", &b),
                   CH_OK);
  assert_true(max_line(b.data, &bare) <= 78);
  assert_string_equal(decode_words(b.data), "ärn:x");
  /* Control characters in UTF-8 text are blanked before encoding. */
  ch_buf_reset(&b);
  assert_int_equal(ch_notify_header_encode("Subject", "ä\r\nBcc: x", &b),
                   CH_OK);
  assert_string_equal(decode_words(b.data), "ä  Bcc: x");
  ch_buf_free(&b);
}

/* A strict QP decoder for the round trip. */
static size_t qp_decode(const char *s, char *out)
{
  size_t n = 0;
  while(*s) {
    if(s[0] == '=' && s[1] == '\r' && s[2] == '\n')
      s += 3;
    else if(s[0] == '=') {
      assert_true(ch_hex_val(s[1]) >= 0 && ch_hex_val(s[2]) >= 0);
      out[n++] = (char)(ch_hex_val(s[1]) * 16 + ch_hex_val(s[2]));
      s += 3;
    }
    else if(s[0] == '\r' && s[1] == '\n') {
      out[n++] = '\n';
      s += 2;
    }
    else {
      assert_true((unsigned char)*s >= ' ' || *s == '\t');
      assert_true((unsigned char)*s < 0x7f);
      out[n++] = *s++;
    }
  }
  out[n] = '\0';
  return n;
}

/* The decoded body of the MIME part of type `type` in mail. */
static void part_decode(const char *mail, const char *type, char *out)
{
  static char raw[16384];
  const char *p = strstr(mail, type);
  assert_non_null(p);
  p = strstr(p, "\r\n\r\n");
  assert_non_null(p);
  p += 4;
  const char *e = strstr(p, "\r\n--=_certhub");
  size_t n = e ? (size_t)(e - p) : strlen(p);
  assert_true(n < sizeof(raw));
  memcpy(raw, p, n);
  raw[n] = '\0';
  qp_decode(raw, out);
}

static void test_qp(void **st)
{
  (void)st;
  static char in[8192], dec[8192];
  ch_buf b;
  bool bare;
  ch_buf_init(&b, 1 << 20);
  const char *in1 = "a=b é\r\n.dot \nend\t";
  assert_int_equal(ch_notify_qp_encode(in1, strlen(in1), &b), CH_OK);
  assert_string_equal(b.data, "a=3Db =C3=A9\r\n=2Edot=20\r\nend=09");
  ch_buf_reset(&b);
  /* Long lines, dots and '=' at every position, multi-byte text. */
  size_t n = 0;
  for(int i = 0; i < 300; i++)
    n += (size_t)snprintf(in + n, sizeof(in) - n, "%s",
                          i % 7 == 0 ? "\n."
                          : i % 5    ? "xé="
                                     : "  ");
  assert_int_equal(ch_notify_qp_encode(in, n, &b), CH_OK);
  assert_true(max_line(b.data, &bare) <= 76);
  assert_false(bare);
  assert_int_equal(qp_decode(b.data, dec), n);
  assert_memory_equal(dec, in, n);
  /* No line starts with a literal dot. */
  assert_null(strstr(b.data, "\r\n."));
  assert_int_not_equal(b.data[0], '.');
  ch_buf_free(&b);
}

static void test_email_check(void **st)
{
  (void)st;
  char why[128];
  const char *good[] = {"bob@example.org", "a.b+tag@sub.example.co",
                        "x@localhost"};
  const char *bad[] = {"",
                       "bob@example.org\r\nBcc: eve@example.org",
                       "bob@example.org\n",
                       "bob @example.org",
                       "bob@example.org>",
                       "<bob@example.org",
                       "bob@example.org,eve@example.org",
                       "a@b@c",
                       "@example.org",
                       "bob@",
                       "bob@.org",
                       "bob@example..org",
                       "bób@example.org",
                       "bob\"@example.org",
                       "bob@exa;mple.org"};
  for(size_t i = 0; i < CH_ARRAY_LEN(good); i++)
    assert_int_equal(ch_notify_email_check(good[i], why, sizeof(why)), CH_OK);
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    why[0] = '\0';
    assert_int_equal(ch_notify_email_check(bad[i], why, sizeof(why)),
                     CH_ERR_USAGE);
    assert_true(why[0] != '\0');
  }
  char local[80];
  memset(local, 'a', 65);
  snprintf(local + 65, sizeof(local) - 65, "@x.org");
  assert_int_equal(ch_notify_email_check(local, why, sizeof(why)),
                   CH_ERR_USAGE);
}

static void test_mail_build(void **st)
{
  (void)st;
  ch_buf b;
  bool bare;
  ch_notify_env env = {.base_url = "https://hub.example/"};
  ch_notify_msg m = {
      .type = "Notification",
      .message_id = "0c4a7c3e-0000-4000-8000-000000000001",
      .topic_arn = "arn:certhub:sns:local:000000000000:alerts",
      .subject = "Bad\r\nBcc: eve@example.org",
      .message = "raw",
      .len = 3,
      .text = "text form",
      .html = "<p>html form</p>",
      .timestamp_ms = 0,
  };
  ch_buf_init(&b, CH_CHAN_BODY_CAP);
  assert_int_equal(ch_notify_mail_build(&env, "hub@example.com",
                                        "bob@example.org", NULL, &m, 0, &b),
                   CH_OK);
  assert_true(max_line(b.data, &bare) <= 998);
  assert_false(bare);
  assert_non_null(strstr(b.data, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
  assert_non_null(strstr(
      b.data,
      "Message-ID: <0c4a7c3e-0000-4000-8000-000000000001@example.com>\r\n"));
  assert_null(strstr(b.data, "\r\nBcc:"));
  assert_non_null(strstr(b.data, "Subject: Bad  Bcc: eve@example.org\r\n"));
  assert_non_null(strstr(b.data, "multipart/alternative;"));
  assert_non_null(strstr(b.data, "text form"));
  assert_non_null(strstr(b.data, "<p>html form</p>"));
  assert_null(strstr(b.data, "raw"));
  /* Two parts and the closing delimiter. */
  const char *bd = "--=_certhub_0c4a7c3e-0000-4000-8000-000000000001";
  size_t parts = 0;
  for(const char *p = b.data; (p = strstr(p, bd)); p++)
    parts++;
  assert_int_equal(parts, 3);
  assert_non_null(strstr(b.data, "000000000001--\r\n"));
  assert_null(strstr(b.data, "Unsubscribe"));

  /* A subscription and its token: an unsubscribe link in both parts, the
   * route `certhub serve` answers, HTML-escaped in the HTML. */
  ch_buf_reset(&b);
  m.token = "t/k=1";
  m.html = "<html><body><p>html form</p></body></html>";
  assert_int_equal(
      ch_notify_mail_build(&env, "hub@example.com", "bob@example.org",
                           "arn:certhub:sns:local:000000000000:alerts:s1", &m,
                           0, &b),
      CH_OK);
  static char qd[16384];
  part_decode(b.data, "Content-Type: text/plain", qd);
  assert_non_null(strstr(qd,
                         "To stop these mails, visit:\nhttps://hub.example/"
                         "?Action=Unsubscribe&SubscriptionArn=arn%3Acerthub"
                         "%3Asns%3Alocal%3A000000000000%3Aalerts%3As1&Token="
                         "t%2Fk%3D1\n"));
  part_decode(b.data, "Content-Type: text/html", qd);
  assert_non_null(strstr(qd,
                         "<a href=\"https://hub.example/?Action=Unsubscribe"
                         "&amp;SubscriptionArn=arn%3Acerthub%3Asns%3Alocal%"
                         "3A000000000000%3Aalerts%3As1&amp;Token=t%2Fk%3D1\">"
                         "unsubscribe</a>.</p>\n</body></html>"));
  /* No base URL: no link. */
  ch_buf_reset(&b);
  env.base_url = NULL;
  assert_int_equal(
      ch_notify_mail_build(&env, "hub@example.com", "bob@example.org",
                           "arn:certhub:sns:local:000000000000:alerts:s1", &m,
                           0, &b),
      CH_OK);
  assert_null(strstr(b.data, "Unsubscribe"));
  env.base_url = "https://hub.example/";
  m.token = NULL;
  m.html = "<p>html form</p>";

  /* No html: one text/plain part, the message when there is no text. */
  ch_buf_reset(&b);
  m.html = NULL;
  m.text = NULL;
  assert_int_equal(ch_notify_mail_build(&env, "hub@example.com",
                                        "bob@example.org", NULL, &m, 0, &b),
                   CH_OK);
  assert_null(strstr(b.data, "multipart"));
  assert_non_null(strstr(b.data, "Content-Type: text/plain; charset=UTF-8"));
  assert_non_null(strstr(b.data, "\r\n\r\nraw\r\n"));

  /* A confirmation: link (escaped) and token. */
  ch_buf_reset(&b);
  m.type = "SubscriptionConfirmation";
  m.subject = NULL;
  m.token = "t/k=1";
  assert_int_equal(ch_notify_mail_build(&env, "hub@example.com",
                                        "bob@example.org", NULL, &m, 0, &b),
                   CH_OK);
  static char dec[8192];
  qp_decode(strstr(b.data, "\r\n\r\n") + 4, dec);
  /* The link is the route `certhub serve` answers (api_sns.c). */
  assert_non_null(strstr(dec, "https://hub.example/?Action=ConfirmSubscription"
                              "&TopicArn=arn%3Acerthub%3Asns%3Alocal%"
                              "3A000000000000%3Aalerts&Token=t%2Fk%3D1"));
  assert_non_null(strstr(dec, "certhub topics confirm alerts t/k=1"));
  /* Without a base URL: no link to nowhere, the command only. */
  ch_buf_reset(&b);
  const char *base = env.base_url;
  env.base_url = NULL;
  assert_int_equal(ch_notify_mail_build(&env, "hub@example.com",
                                        "bob@example.org", NULL, &m, 0, &b),
                   CH_OK);
  qp_decode(strstr(b.data, "\r\n\r\n") + 4, dec);
  assert_null(strstr(dec, "Action="));
  assert_null(strstr(dec, "http"));
  assert_non_null(strstr(dec, "certhub topics confirm alerts t/k=1"));
  env.base_url = base;
  assert_non_null(strstr(b.data,
                         "Subject: certhub Notification - Subscription "
                         "Confirmation\r\n"));
  ch_buf_free(&b);
}

static void test_url_check(void **st)
{
  (void)st;
  char why[160];
  assert_int_equal(
      ch_notify_url_check("https://hooks.slack.com/services/T/B/x", false, why,
                          sizeof(why)),
      CH_OK);
  assert_int_equal(
      ch_notify_url_check("http://127.0.0.1:8080/h", false, why, sizeof(why)),
      CH_OK);
  assert_int_equal(
      ch_notify_url_check("http://localhost/h", false, why, sizeof(why)),
      CH_OK);
  assert_int_equal(
      ch_notify_url_check("http://example.com/h", false, why, sizeof(why)),
      CH_ERR_USAGE);
  assert_non_null(strstr(why, "https"));
  assert_int_equal(
      ch_notify_url_check("http://example.com/h", true, why, sizeof(why)),
      CH_OK);
  const char *bad[] = {"",
                       "ftp://127.0.0.1/x",
                       "file:///etc/passwd",
                       "https://h/x\r\nX-Injected: 1",
                       "https://h /x",
                       "no url"};
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++)
    assert_int_equal(ch_notify_url_check(bad[i], true, why, sizeof(why)),
                     CH_ERR_USAGE);
}

static const ch_notify_msg hostile = {
    .type = "Notification",
    .message_id = "id-1",
    .topic_arn = "arn:certhub:sns:local:000000000000:t",
    .subject = "S \"q\" ${Message}",
    .message = "\"},\"evil\":true,{\"\\\n\t${Subject} $$ é",
    .len = 31,
    .timestamp_ms = 1700000000123,
};

static void test_template(void **st)
{
  (void)st;
  char why[256];
  char *out = NULL;
  const char *tmpl =
      "{\"m\":\"<${Message}>\",\"s\":\"${Subject}\",\"id\":\"${MessageId}\","
      "\"t\":\"${Timestamp}\",\"a\":\"${TopicArn}\",\"ty\":\"${Type}\","
      "\"x\":\"${text}\",\"d\":\"$$${MessageId}$\",\"n\":[1,null,{\"k\":"
      "\"${MessageId}\"}]}";
  assert_int_equal(ch_notify_template_check(tmpl, why, sizeof(why)), CH_OK);
  assert_int_equal(ch_notify_template_render(tmpl, &hostile, "plain", &out),
                   CH_OK);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  char want[64];
  snprintf(want, sizeof(want), "<%.*s>", (int)hostile.len, hostile.message);
  assert_string_equal(json_string_value(json_object_get(j, "m")), want);
  /* Values are not expanded again. */
  assert_string_equal(json_string_value(json_object_get(j, "s")),
                      hostile.subject);
  assert_string_equal(json_string_value(json_object_get(j, "t")),
                      "2023-11-14T22:13:20.123Z");
  assert_string_equal(json_string_value(json_object_get(j, "ty")),
                      "Notification");
  assert_string_equal(json_string_value(json_object_get(j, "x")), "plain");
  assert_string_equal(json_string_value(json_object_get(j, "d")), "$id-1$");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(j, "n"), 2), "k")),
                      "id-1");
  assert_int_equal(json_object_size(j), 9);
  json_decref(j);
  free(out);

  const char *bad[] = {"",
                       "42",
                       "\"${Message}\"",
                       "{\"a\":\"${Nope}\"}",
                       "{\"a\":\"${Message\"}",
                       "{\"a\":",
                       "{\"${Subject}\":1}",
                       "{\"a\":1,\"a\":2}",
                       "{\"a\":\"${message}\"}"};
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    why[0] = '\0';
    assert_int_equal(ch_notify_template_check(bad[i], why, sizeof(why)),
                     CH_ERR_PARSE);
    assert_non_null(strstr(why, "template"));
  }
  /* Too large, too deep. */
  char *big = malloc(CH_CHAN_TEMPLATE_MAX + 16);
  assert_non_null(big);
  memset(big, ' ', CH_CHAN_TEMPLATE_MAX + 8);
  memcpy(big, "{\"a\":1}", 7);
  big[CH_CHAN_TEMPLATE_MAX + 8] = '\0';
  assert_int_equal(ch_notify_template_check(big, why, sizeof(why)),
                   CH_ERR_PARSE);
  assert_non_null(strstr(why, "larger"));
  char deep[200] = "";
  for(int i = 0; i < 40; i++)
    strcat(deep, "[");
  for(int i = 0; i < 40; i++)
    strcat(deep, "]");
  assert_int_equal(ch_notify_template_check(deep, why, sizeof(why)),
                   CH_ERR_PARSE);
  free(big);

  /* The subscribe-time check of attributes. */
  assert_int_equal(ch_notify_check_attributes("webhook",
                                              "{\"template\":\"{\\\"a\\\":"
                                              "\\\"${Nope}\\\"}\"}",
                                              why, sizeof(why)),
                   CH_ERR_USAGE);
  assert_int_equal(ch_notify_check_attributes("webhook",
                                              "{\"template\":{\"a\":1}}", why,
                                              sizeof(why)),
                   CH_ERR_USAGE);
  assert_int_equal(
      ch_notify_check_attributes("webhook", "[1]", why, sizeof(why)),
      CH_ERR_USAGE);
  assert_int_equal(
      ch_notify_check_attributes(
          "webhook", "{\"RawMessageDelivery\":\"true\"}", why, sizeof(why)),
      CH_OK);
  assert_int_equal(ch_notify_check_attributes("slack", "{\"template\":1}", why,
                                              sizeof(why)),
                   CH_OK);
}

static void test_truncate(void **st)
{
  (void)st;
  ch_buf b;
  ch_buf_init(&b, 1 << 20);
  assert_int_equal(ch_chan_truncate("short", 5, 100, SIZE_MAX, &b), CH_OK);
  assert_string_equal(b.data, "short");
  /* 5000 two-byte characters, limit 3000 characters. */
  char *s = malloc(10001);
  assert_non_null(s);
  for(int i = 0; i < 5000; i++)
    memcpy(s + 2 * i, "é", 2);
  s[10000] = '\0';
  ch_buf_reset(&b);
  assert_int_equal(ch_chan_truncate(s, 10000, 3000, SIZE_MAX, &b), CH_OK);
  json_t *j = json_stringn(b.data, b.len); /* still valid UTF-8 */
  assert_non_null(j);
  assert_true(json_string_length(j) == b.len);
  json_decref(j);
  size_t chars = 0;
  for(size_t i = 0; i < b.len; i++)
    chars += ((unsigned char)b.data[i] & 0xc0) != 0x80;
  assert_true(chars <= 3000);
  assert_non_null(strstr(b.data, "[truncated by certhub"));
  /* A byte limit cuts on a character boundary too. */
  ch_buf_reset(&b);
  assert_int_equal(ch_chan_truncate(s, 10000, SIZE_MAX, 1001, &b), CH_OK);
  assert_true(b.len <= 1001);
  j = json_stringn(b.data, b.len);
  assert_non_null(j);
  json_decref(j);
  free(s);
  ch_buf_free(&b);
}

static void test_slack_limits(void **st)
{
  (void)st;
  /* 4000 '&' become 20000 escaped characters: the section must stay
   * within 3000 without a split entity. */
  char *s = malloc(4001);
  assert_non_null(s);
  memset(s, '&', 4000);
  s[4000] = '\0';
  ch_notify_msg m = {
      .type = "Notification", .message_id = "i", .message = s, .len = 4000};
  char *out = NULL;
  assert_int_equal(ch_notify_slack_body(NULL, &m, &out), CH_OK);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  const char *sec = json_string_value(json_object_get(
      json_object_get(json_array_get(json_object_get(j, "blocks"), 1), "text"),
      "text"));
  assert_non_null(sec);
  assert_true(strlen(sec) <= 3000);
  const char *note = strstr(sec, "\n…");
  assert_non_null(note);
  assert_int_equal((note - sec) % 5, 0); /* whole "&amp;" entities */
  json_decref(j);
  free(out);
  free(s);
}

static void test_classify(void **st)
{
  (void)st;
  char d[128];
  struct {
    CURLcode cc;
    long code;
    ch_delivery_result want;
  } http[] = {
      {CURLE_OK, 200, CH_DELIVERY_OK},
      {CURLE_OK, 204, CH_DELIVERY_OK},
      {CURLE_OK, 302, CH_DELIVERY_FAILED},
      {CURLE_OK, 400, CH_DELIVERY_FAILED},
      {CURLE_OK, 404, CH_DELIVERY_FAILED},
      {CURLE_OK, 429, CH_DELIVERY_RETRY},
      {CURLE_OK, 500, CH_DELIVERY_RETRY},
      {CURLE_OK, 503, CH_DELIVERY_RETRY},
      {CURLE_COULDNT_CONNECT, 0, CH_DELIVERY_RETRY},
      {CURLE_OPERATION_TIMEDOUT, 0, CH_DELIVERY_RETRY},
      {CURLE_URL_MALFORMAT, 0, CH_DELIVERY_FAILED},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(http); i++)
    assert_int_equal(
        ch_chan_post_finish(NULL, http[i].cc, http[i].code, d, sizeof(d)),
        http[i].want);
  const ch_notify_proto *e = ch_notify_proto_find("email");
  assert_non_null(e);
  assert_true(e->needs_confirmation);
  struct {
    CURLcode cc;
    long code;
    ch_delivery_result want;
  } smtp[] = {
      {CURLE_OK, 250, CH_DELIVERY_OK},
      {CURLE_LOGIN_DENIED, 535, CH_DELIVERY_FAILED},
      {CURLE_LOGIN_DENIED, 454, CH_DELIVERY_RETRY},
      {CURLE_SEND_ERROR, 550, CH_DELIVERY_FAILED},
      {CURLE_SEND_ERROR, 451, CH_DELIVERY_RETRY},
      {CURLE_USE_SSL_FAILED, 0, CH_DELIVERY_FAILED},
      {CURLE_COULDNT_CONNECT, 0, CH_DELIVERY_RETRY},
      {CURLE_PEER_FAILED_VERIFICATION, 0, CH_DELIVERY_RETRY},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(smtp); i++)
    assert_int_equal(e->finish(NULL, smtp[i].cc, smtp[i].code, d, sizeof(d)),
                     smtp[i].want);
  const char *names[] = {"slack", "teams", "googlechat", "webhook"};
  for(size_t i = 0; i < CH_ARRAY_LEN(names); i++) {
    const ch_notify_proto *p = ch_notify_proto_find(names[i]);
    assert_non_null(p);
    assert_false(p->needs_confirmation);
    assert_non_null(p->prepare);
    assert_null(p->deliver);
  }
}

static void test_smtp_password(void **st)
{
  (void)st;
  char why[256], path[] = "/tmp/certhub-smtp-pass.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "s3 cr:et\r\nsecond line\n", 22), 22);
  close(fd);
  certhub_smtp_cfg cfg = {.url = "smtp://h:587",
                          .from = "a@b.c",
                          .username = "u",
                          .password_file = path,
                          .require_tls = true};
  ch_notify_smtp s;
  char *pw = NULL;
  assert_int_equal(ch_notify_smtp_load(&cfg, &s, &pw, why, sizeof(why)),
                   CH_OK);
  assert_string_equal(pw, "s3 cr:et");
  assert_ptr_equal(s.password, pw);
  assert_true(s.require_tls);
  free(pw);
  /* Empty file, missing file, unset variable: CONFIG, no secret shown. */
  fd = open(path, O_WRONLY | O_TRUNC);
  close(fd);
  assert_int_equal(ch_notify_smtp_load(&cfg, &s, &pw, why, sizeof(why)),
                   CH_ERR_CONFIG);
  assert_null(pw);
  unlink(path);
  assert_int_equal(ch_notify_smtp_load(&cfg, &s, &pw, why, sizeof(why)),
                   CH_ERR_CONFIG);
  assert_non_null(strstr(why, "cannot read"));
  cfg.password_file = NULL;
  cfg.password_env = "CERTHUB_TEST_NO_SUCH_VAR";
  unsetenv("CERTHUB_TEST_NO_SUCH_VAR");
  assert_int_equal(ch_notify_smtp_load(&cfg, &s, &pw, why, sizeof(why)),
                   CH_ERR_CONFIG);
  setenv("CERTHUB_TEST_NO_SUCH_VAR", "envpw", 1);
  assert_int_equal(ch_notify_smtp_load(&cfg, &s, &pw, why, sizeof(why)),
                   CH_OK);
  assert_string_equal(s.password, "envpw");
  free(pw);
  assert_int_equal(ch_notify_smtp_load(NULL, &s, &pw, why, sizeof(why)),
                   CH_ERR_CONFIG);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_ascii_and_injection),
      cmocka_unit_test(test_header_utf8_words),
      cmocka_unit_test(test_qp),
      cmocka_unit_test(test_email_check),
      cmocka_unit_test(test_mail_build),
      cmocka_unit_test(test_url_check),
      cmocka_unit_test(test_template),
      cmocka_unit_test(test_truncate),
      cmocka_unit_test(test_slack_limits),
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_smtp_password),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
