/*
 * webhook target: POST the input to an http(s) URL with libcurl. One easy
 * handle per attempt (deliveries are rare next to the cost of a TLS
 * handshake, and a fresh handle keeps threads independent).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "target_int.h"

#define URL_MAX 2048
#define HEADERS_MAX 50
#define HEADER_VALUE_MAX 4096
#define BODY_KEEP 4096
#define BODY_SHOWN 200

struct webhook {
  char *url;
  struct curl_slist *headers; /* the target's own, "Name: value" */
  long timeout_s;
  char *ca_file; /* NULL: the system's */
  bool insecure;
};

static const char *const fields[] = {"Url",    "Headers",  "TimeoutSeconds",
                                     "CaFile", "Insecure", NULL};

/* Managed by certhub or libcurl: a target must not set them. */
static const char *const forbidden[] = {"Content-Length", "Transfer-Encoding",
                                        "Host"};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void webhook_free(void *state)
{
  struct webhook *w = state;
  if(!w)
    return;
  free(w->url);
  free(w->ca_file);
  curl_slist_free_all(w->headers);
  free(w);
}

/* RFC 9110 token characters. */
static bool tchar(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static ch_err check_url(const char *url, char **errmsg)
{
  if(strncasecmp(url, "http://", 7) != 0 &&
     strncasecmp(url, "https://", 8) != 0)
    return ch_target_err(errmsg,
                         "Url: must start with http:// or https:// "
                         "(got \"%.200s\")",
                         url);
  for(const char *p = url; *p; p++)
    if((unsigned char)*p <= 0x20 || *p == 0x7f)
      return ch_target_err(errmsg, "Url: contains a space or control "
                                   "character");
  pthread_once(&curl_once, curl_init);
  CURLU *u = curl_url();
  if(!u)
    return CH_ERR_NOMEM;
  char *host = NULL;
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if(uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  ch_err rc = CH_OK;
  if(uc != CURLUE_OK || !host || !host[0])
    rc = ch_target_err(errmsg, "Url: \"%.200s\" is not a valid URL: %s", url,
                       uc != CURLUE_OK ? curl_url_strerror(uc) : "no host");
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

static ch_err webhook_parse(json_t *spec, void **state, char **errmsg)
{
  ch_err rc = CH_OK;
  const char *url, *ca;
  struct webhook *w = calloc(1, sizeof(*w));
  if(!w)
    return CH_ERR_NOMEM;
  if((rc = ch_target_str_field(spec, "Url", URL_MAX, true, true, &url,
                               errmsg)) ||
     (rc = check_url(url, errmsg)))
    goto out;
  if((rc = ch_target_int_field(spec, "TimeoutSeconds", 1, 300, 10,
                               &w->timeout_s, errmsg)))
    goto out;
  if((rc =
          ch_target_str_field(spec, "CaFile", 4096, false, true, &ca, errmsg)))
    goto out;
  json_t *ins = json_object_get(spec, "Insecure");
  if(ins && !json_is_boolean(ins)) {
    rc = ch_target_err(errmsg, "Insecure: must be true or false");
    goto out;
  }
  w->insecure = json_is_true(ins);
  json_t *hdr = json_object_get(spec, "Headers");
  if(hdr && (!json_is_object(hdr) || json_object_size(hdr) > HEADERS_MAX)) {
    rc = ch_target_err(errmsg,
                       "Headers: must be an object of at most %d "
                       "\"Name\": \"value\" strings",
                       HEADERS_MAX);
    goto out;
  }
  const char *k;
  json_t *v;
  json_object_foreach(hdr, k, v)
  {
    bool ok = k[0] != '\0' && strlen(k) <= 256;
    for(const char *p = k; ok && *p; p++)
      ok = tchar((unsigned char)*p);
    if(!ok) {
      rc = ch_target_err(errmsg, "Headers: \"%.64s\" is not a header name", k);
      goto out;
    }
    for(size_t i = 0; i < CH_ARRAY_LEN(forbidden); i++)
      if(strcasecmp(k, forbidden[i]) == 0) {
        rc = ch_target_err(errmsg,
                           "Headers.%s: set by certhub, may not be "
                           "given",
                           k);
        goto out;
      }
    if(!json_is_string(v) || json_string_length(v) > HEADER_VALUE_MAX) {
      rc = ch_target_err(errmsg,
                         "Headers.%s: must be a string of at most %d "
                         "characters",
                         k, HEADER_VALUE_MAX);
      goto out;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    for(size_t i = 0; i < n; i++)
      if(s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
        rc = ch_target_err(errmsg,
                           "Headers.%s: the value may not contain "
                           "CR, LF or NUL",
                           k);
        goto out;
      }
    /* "Name:" alone would make curl drop the header; send it empty. */
    char *line = n ? ch_target_fmt("%s: %s", k, s) : ch_target_fmt("%s;", k);
    struct curl_slist *nl = line ? curl_slist_append(w->headers, line) : NULL;
    free(line);
    if(!nl) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    w->headers = nl;
  }
  if(!(w->url = strdup(url)) || (ca && !(w->ca_file = strdup(ca))))
    rc = CH_ERR_NOMEM;
out:
  if(rc)
    webhook_free(w);
  else
    *state = w;
  return rc;
}

struct body {
  char buf[BODY_KEEP + 1];
  size_t len;
};

/* Keep the start of the response, read and drop the rest. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
  struct body *b = arg;
  size_t total = size * n;
  size_t room = BODY_KEEP - b->len;
  size_t keep = total < room ? total : room;
  memcpy(b->buf + b->len, p, keep);
  b->len += keep;
  return total;
}

/* First BODY_SHOWN bytes of the body on one line, for the detail. */
static void shown(const struct body *b, char *out, size_t n)
{
  size_t k = 0;
  for(size_t i = 0; i < b->len && i < BODY_SHOWN && k + 1 < n; i++) {
    unsigned char c = (unsigned char)b->buf[i];
    out[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  out[k] = '\0';
}

static bool add_header(struct curl_slist **l, const char *line)
{
  struct curl_slist *n = curl_slist_append(*l, line);
  if(!n)
    return false;
  *l = n;
  return true;
}

static certhub_delivery webhook_deliver(const void *state,
                                        const certhub_target_ctx *ctx,
                                        const ch_target_input *in,
                                        char **detail)
{
  (void)ctx;
  const struct webhook *w = state;
  certhub_delivery d = CERTHUB_DELIVERY_RETRY;
  struct curl_slist *hl = NULL;
  struct body *body = calloc(1, sizeof(*body));
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL *h = NULL;
  pthread_once(&curl_once, curl_init);
  if(!body || curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
    *detail = ch_target_fmt("POST %s: cannot set up libcurl", w->url);
    goto out;
  }
  /* The target's Content-Type, if given, replaces ours. */
  bool own_ct = true;
  for(const struct curl_slist *s = w->headers; s; s = s->next)
    if(strncasecmp(s->data, "Content-Type:", 13) == 0 ||
       strncasecmp(s->data, "Content-Type;", 13) == 0)
      own_ct = false;
  char *idh = ch_target_fmt("X-Certhub-Event-Id: %s", in->event_id);
  char *rh = ch_target_fmt("X-Certhub-Rule: %s", in->rule);
  bool ok = idh && rh && !strpbrk(idh, "\r\n") && !strpbrk(rh, "\r\n");
  if(ok && own_ct)
    ok = add_header(&hl, in->json ? "Content-Type: application/json"
                                  : "Content-Type: text/plain; charset=utf-8");
  ok = ok && add_header(&hl, idh) && add_header(&hl, rh) &&
       add_header(&hl, "Expect:"); /* no 100-continue round trip */
  for(const struct curl_slist *s = w->headers; ok && s; s = s->next)
    ok = add_header(&hl, s->data);
  free(idh);
  free(rh);
  if(!ok) {
    *detail =
        ch_target_fmt("POST %s: cannot build the request headers", w->url);
    goto out;
  }
  curl_easy_setopt(h, CURLOPT_URL, w->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, in->data);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)in->len);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "certhub/" CERTHUB_VERSION);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, w->timeout_s * 1000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   w->timeout_s < 10 ? w->timeout_s * 1000L : 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if(w->ca_file)
    curl_easy_setopt(h, CURLOPT_CAINFO, w->ca_file);
  if(w->insecure) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode cc = curl_easy_perform(h);
  if(cc != CURLE_OK) {
    switch(cc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      d = CERTHUB_DELIVERY_FAILED;
      break;
    default:
      d = CERTHUB_DELIVERY_RETRY;
    }
    *detail =
        ch_target_fmt("POST %s: %s%s%s", w->url,
                      cc == CURLE_OPERATION_TIMEDOUT ? "timed out: " : "",
                      errbuf[0] ? errbuf : curl_easy_strerror(cc), "");
    goto out;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  char text[BODY_SHOWN + 1];
  shown(body, text, sizeof(text));
  if(status >= 200 && status < 300) {
    d = CERTHUB_DELIVERY_OK;
    *detail = ch_target_fmt("HTTP %ld from %s", status, w->url);
  }
  else {
    d = (status == 408 || status == 429 || status >= 500)
            ? CERTHUB_DELIVERY_RETRY
            : CERTHUB_DELIVERY_FAILED;
    char *loc = NULL;
    if(status >= 300 && status < 400)
      curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
    *detail = ch_target_fmt("HTTP %ld from %s%s%s%s%s", status, w->url,
                            loc ? " (redirect to " : "", loc ? loc : "",
                            loc ? ", not followed)" : "", text[0] ? ": " : "");
    if(*detail && text[0]) {
      char *full = ch_target_fmt("%s%s", *detail, text);
      free(*detail);
      *detail = full;
    }
  }
out:
  curl_slist_free_all(hl);
  if(h)
    curl_easy_cleanup(h);
  free(body);
  return d;
}

const struct ch_target_ops ch_target_webhook = {
    .name = "webhook",
    .fields = fields,
    .parse = webhook_parse,
    .deliver = webhook_deliver,
    .free = webhook_free,
};
