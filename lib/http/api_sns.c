/*
 * The links SNS messages carry (lib/notify/sns.c builds them from the
 * notify base URL): SubscribeURL and UnsubscribeURL are
 * BASE/?Action=ConfirmSubscription&TopicArn=..&Token=.. and
 * BASE/?Action=Unsubscribe&SubscriptionArn=..&Token=..; SigningCertURL is
 * BASE/sns/signing-cert.pem. Receivers fetch them without a bearer token:
 * the subscription's token in the URL is the credential. Answers are
 * SNS's Query API XML; errors are the API's JSON, and a refused request
 * changes nothing (the route's transaction is rolled back).
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/deliver.h"
#include "http_int.h"

#define SNS_XMLNS "http://sns.amazonaws.com/doc/2010-03-31/"

/* A RequestId: random hex, in the shape of a UUID. */
static void request_id(char out[37])
{
  uint8_t b[16] = {0};
  char hex[33];
  if(RAND_bytes(b, sizeof(b)) != 1)
    memset(b, 0, sizeof(b));
  ch_hex_encode(b, sizeof(b), hex);
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
           hex + 16, hex + 20);
}

/* s with XML's five special characters escaped, appended to b. */
static ch_err xml_text(ch_buf *b, const char *s)
{
  ch_err rc = CH_OK;
  for(; *s && !rc; s++) {
    switch(*s) {
    case '&':
      rc = ch_buf_addstr(b, "&amp;");
      break;
    case '<':
      rc = ch_buf_addstr(b, "&lt;");
      break;
    case '>':
      rc = ch_buf_addstr(b, "&gt;");
      break;
    case '"':
      rc = ch_buf_addstr(b, "&quot;");
      break;
    case '\'':
      rc = ch_buf_addstr(b, "&apos;");
      break;
    default:
      rc = ch_buf_addc(b, *s);
    }
  }
  return rc;
}

/* SNS's <ACTIONResponse> with an optional result element holding the
 * subscription ARN. */
static void xml_answer(ch_http_resp *rs, const char *action, const char *arn)
{
  ch_buf b;
  char rid[37];
  request_id(rid);
  ch_buf_init(&b, 16384);
  ch_err rc =
      ch_buf_printf(&b, "<?xml version=\"1.0\"?>\n<%sResponse xmlns=\"%s\">\n",
                    action, SNS_XMLNS);
  if(!rc && arn) {
    rc = ch_buf_printf(&b, "  <%sResult>\n    <SubscriptionArn>", action);
    if(!rc)
      rc = xml_text(&b, arn);
    if(!rc)
      rc = ch_buf_printf(&b, "</SubscriptionArn>\n  </%sResult>\n", action);
  }
  if(!rc)
    rc = ch_buf_printf(&b,
                       "  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
                       "  </ResponseMetadata>\n</%sResponse>\n",
                       rid, action);
  size_t len = b.len;
  char *body = rc ? NULL : ch_buf_take(&b);
  ch_buf_free(&b);
  if(!body)
    ch_http_fail(rs, CH_ERR_NOMEM, NULL);
  else
    ch_http_text(rs, 200, "text/xml", body, len);
}

/* A required query parameter, or false with a 400 naming it. */
static bool param(const ch_http_req *rq, ch_http_resp *rs, const char *name,
                  const char **out)
{
  *out = ch_http_query(rq, name);
  if(*out && **out)
    return true;
  ch_http_error(rs, 400, "MissingParameter",
                "the query parameter %s is missing", name);
  return false;
}

static void confirm(ch_http_req *rq, ch_http_resp *rs)
{
  const char *topic, *token;
  char arn[CERTHUB_SUB_ARN_MAX];
  if(!param(rq, rs, "TopicArn", &topic) || !param(rq, rs, "Token", &token))
    return;
  ch_err rc =
      certhub_subscription_confirm(rq->store, topic, token, rq->now, arn);
  if(rc == CH_ERR_NOTFOUND)
    ch_http_error(rs, 404, "NotFound",
                  "no subscription of topic '%.300s' has this token", topic);
  else if(rc == CH_ERR_USAGE)
    ch_http_error(rs, 400, "InvalidParameter", "%s",
                  certhub_store_errmsg(rq->store));
  else if(rc)
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
  else
    xml_answer(rs, "ConfirmSubscription", arn);
}

static void unsubscribe(ch_http_req *rq, ch_http_resp *rs)
{
  const char *arn, *token;
  if(!param(rq, rs, "SubscriptionArn", &arn) ||
     !param(rq, rs, "Token", &token))
    return;
  ch_err rc = certhub_unsubscribe(rq->store, arn, token);
  /* An unknown ARN and a wrong token look alike: a guesser learns
   * nothing about which subscriptions exist. */
  if(rc == CH_ERR_USAGE || rc == CH_ERR_NOTFOUND)
    ch_http_error(rs, 403, "AuthorizationError",
                  "no subscription '%.300s' with this token", arn);
  else if(rc)
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
  else
    xml_answer(rs, "Unsubscribe", NULL);
}

/* GET /?Action=...: the Query API actions a receiver's link can name. */
void ch_http_sns_action(ch_http_req *rq, ch_http_resp *rs)
{
  const char *action = ch_http_query(rq, "Action");
  if(!action)
    ch_http_error(rs, 404, "NotFound",
                  "nothing here: the API is under /v1/ (GET / takes "
                  "Action=ConfirmSubscription or Action=Unsubscribe)");
  else if(!strcmp(rq->method, "HEAD"))
    /* A HEAD (a link checker, a mail scanner) must not act. */
    ch_http_error(rs, 405, "MethodNotAllowed", "use GET to run %.40s", action);
  else if(!strcmp(action, "ConfirmSubscription"))
    confirm(rq, rs);
  else if(!strcmp(action, "Unsubscribe"))
    unsubscribe(rq, rs);
  else
    ch_http_error(rs, 400, "InvalidAction",
                  "unknown Action '%.60s' (ConfirmSubscription or "
                  "Unsubscribe)",
                  action);
}

/* GET /sns/signing-cert.pem: the certificate that verifies signatures. */
void ch_http_sns_signing_cert(ch_http_req *rq, ch_http_resp *rs)
{
  if(!rq->sns_cert_pem) {
    ch_http_error(rs, 404, "NotFound",
                  "this server has no SNS signing certificate loaded");
    return;
  }
  char *pem = strdup(rq->sns_cert_pem);
  if(!pem)
    ch_http_fail(rs, CH_ERR_NOMEM, NULL);
  else
    ch_http_text(rs, 200, "application/x-pem-file", pem, strlen(pem));
}
