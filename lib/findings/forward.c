/*
 * The hub forwarder (certhub/hub.h): queued findings out to a central
 * certhub's BatchImportFindings endpoint, one blocking request at a time.
 * Forwarding is a trickle (findings change a few times a day per
 * certificate), so one connection kept alive across the batches of a call
 * is enough.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "certhub/hub.h"
#include "certhub/store_hub.h"
#include "core/core.h"

#define IMPORT_PATH "/v1/findings/import"
#define RESPONSE_MAX (1024 * 1024)
#define BATCH_MAX 100 /* BatchImportFindings */

ch_err certhub_hub_read_token(const char *path, char **token, char *err,
                              size_t errlen)
{
  char buf[4097];
  size_t n;
  FILE *f;
  *token = NULL;
  f = fopen(path, "r");
  if(!f) {
    snprintf(err, errlen, "hub token file %s: %s", path, strerror(errno));
    return CH_ERR_IO;
  }
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  if(n == sizeof(buf)) {
    snprintf(err, errlen, "hub token file %s: longer than 4 KiB", path);
    return CH_ERR_PARSE;
  }
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  char *p = buf, *end = buf + strlen(buf);
  while(*p && isspace((unsigned char)*p))
    p++;
  while(end > p && isspace((unsigned char)end[-1]))
    *--end = '\0';
  if(!*p) {
    snprintf(err, errlen, "hub token file %s: empty", path);
    return CH_ERR_PARSE;
  }
  for(const char *q = p; *q; q++)
    if((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e) {
      snprintf(err, errlen,
               "hub token file %s: the token has a space or control "
               "character",
               path);
      return CH_ERR_PARSE;
    }
  *token = strdup(p);
  return *token ? CH_OK : CH_ERR_NOMEM;
}

/* One request's findings, gathered from the queue. */
struct batch {
  ch_buf body;             /* {"Findings":[...]} */
  int64_t seqs[BATCH_MAX]; /* queue rows in it */
  char *ids[BATCH_MAX];    /* their Ids, for messages */
  size_t n;
  size_t max; /* findings in this request, at most */
  bool full;
};

static ch_err gather(void *ctx, const certhub_hub_item *it)
{
  struct batch *b = ctx;
  size_t len = strlen(it->json);
  if(b->full || b->n >= b->max)
    return CH_OK;
  /* Keep each request under the hub's limit; the first finding always
   * goes (one finding is at most 240 KiB). */
  if(b->n && b->body.len + len + 3 > CERTHUB_HUB_BATCH_BYTES) {
    b->full = true;
    return CH_OK;
  }
  ch_err rc = ch_buf_addstr(&b->body, b->n ? "," : "{\"Findings\":[");
  if(!rc)
    rc = ch_buf_add(&b->body, it->json, len);
  if(rc)
    return rc;
  b->ids[b->n] = strdup(it->id);
  if(!b->ids[b->n])
    return CH_ERR_NOMEM;
  b->seqs[b->n++] = it->seq;
  return CH_OK;
}

static void batch_clear(struct batch *b)
{
  for(size_t i = 0; i < b->n; i++)
    ch_safefree(b->ids[i]);
  b->n = 0;
  b->full = false;
  ch_buf_reset(&b->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
  ch_buf *b = ctx;
  size_t len = size * n;
  /* An over-long answer fails the transfer rather than growing without
   * bound. */
  return ch_buf_add(b, p, len) ? 0 : len;
}

/* The hub's answer to one import: how many of the batch it refused. */
static ch_err read_answer(const ch_buf *resp, const struct batch *b,
                          uint64_t *failed, char *err, size_t errlen)
{
  json_error_t je;
  json_t *j = json_loadb(resp->data ? resp->data : "", resp->len, 0, &je);
  ch_err rc = CH_OK;
  json_t *fc = j ? json_object_get(j, "FailedCount") : NULL;
  json_t *ff = j ? json_object_get(j, "FailedFindings") : NULL;
  *failed = 0;
  if(!json_is_integer(fc) || json_integer_value(fc) < 0 ||
     (size_t)json_integer_value(fc) > b->n || (ff && !json_is_array(ff))) {
    snprintf(err, errlen,
             "the hub's answer is not a BatchImportFindings response");
    rc = CH_ERR_PARSE;
    goto out;
  }
  *failed = (uint64_t)json_integer_value(fc);
  if(*failed && json_array_size(ff)) {
    json_t *f0 = json_array_get(ff, 0);
    snprintf(err, errlen,
             "the hub refused %llu finding(s), e.g. %.200s: %.300s",
             (unsigned long long)*failed,
             json_string_value(json_object_get(f0, "Id"))
                 ? json_string_value(json_object_get(f0, "Id"))
                 : "?",
             json_string_value(json_object_get(f0, "ErrorMessage"))
                 ? json_string_value(json_object_get(f0, "ErrorMessage"))
                 : "?");
  }
out:
  json_decref(j);
  return rc;
}

/* POST the batch. *status gets the HTTP status (0: no answer). */
static ch_err post(CURL *h, const certhub_hub_target *t, const char *url,
                   struct curl_slist *hdrs, struct batch *b, ch_buf *resp,
                   long *status, char *err, size_t errlen)
{
  char cerr[CURL_ERROR_SIZE] = "";
  ch_buf_reset(resp);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->body.data);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "certhub/" CERTHUB_VERSION);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   t->timeout_ms > 0 ? t->timeout_ms : 30000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  if(t->ca_file)
    curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
  CURLcode cc = curl_easy_perform(h);
  *status = 0;
  if(cc != CURLE_OK) {
    /* cerr may hold the URL (never the token: that is a header). */
    snprintf(err, errlen, "hub %s: %s", t->url,
             cerr[0] ? cerr : curl_easy_strerror(cc));
    return CH_ERR_IO;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  return CH_OK;
}

ch_err certhub_hub_forward(certhub_store *s, const certhub_hub_target *t,
                           size_t max, certhub_hub_stats *st, char *err,
                           size_t errlen)
{
  char url[2048], auth[4200], dummy[8];
  struct batch b = {0};
  ch_buf resp;
  struct curl_slist *hdrs = NULL;
  CURL *h = NULL;
  ch_err rc = CH_OK;
  bool on = false;
  if(!err) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  memset(st, 0, sizeof(*st));
  if(!t || !t->url || !t->token)
    return CH_ERR_USAGE;
  size_t ul = strlen(t->url);
  while(ul && t->url[ul - 1] == '/')
    ul--;
  if(ul + sizeof(IMPORT_PATH) > sizeof(url) ||
     strlen(t->token) + 32 > sizeof(auth)) {
    snprintf(err, errlen, "hub URL or token too long");
    return CH_ERR_USAGE;
  }
  snprintf(url, sizeof(url), "%.*s%s", (int)ul, t->url, IMPORT_PATH);
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->token);
  ch_buf_init(&b.body, CERTHUB_HUB_BATCH_BYTES + 256 * 1024);
  ch_buf_init(&resp, RESPONSE_MAX);
  h = curl_easy_init();
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  struct curl_slist *h2 = hdrs ? curl_slist_append(hdrs, auth) : NULL;
  if(!h || !h2) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  hdrs = h2;
  size_t single = 0; /* findings still to send one by one */
  for(;;) {
    b.max = single ? 1 : BATCH_MAX;
    size_t want = b.max;
    if(max && max - st->sent - st->rejected < want)
      want = (size_t)(max - st->sent - st->rejected);
    if(!want)
      break;
    batch_clear(&b);
    rc = certhub_store_hub_pending(s, want, gather, &b);
    if(rc) {
      snprintf(err, errlen, "hub queue: %s", certhub_store_errmsg(s));
      goto out;
    }
    if(!b.n)
      break;
    rc = ch_buf_addstr(&b.body, "]}");
    if(rc)
      goto out;
    long status = 0;
    rc = post(h, t, url, hdrs, &b, &resp, &status, err, errlen);
    if(rc)
      goto out;
    st->requests++;
    if(status == 200) {
      uint64_t failed = 0;
      rc = read_answer(&resp, &b, &failed, err, errlen);
      if(rc)
        goto out;
      st->rejected += failed;
      st->sent += b.n - failed;
    }
    else if((status == 400 || status == 413) && b.n > 1) {
      /* One finding the hub cannot take must not block the queue: send
       * this stretch one by one. */
      single = b.n;
      continue;
    }
    else if(status == 400 || status == 413) {
      snprintf(err, errlen, "the hub refused finding %.300s (HTTP %ld)",
               b.ids[0], status);
      st->rejected++;
    }
    else if(status == 401 || status == 403 || status == 404) {
      snprintf(err, errlen,
               "hub %s answered HTTP %ld: check hub.forward_to and the "
               "token's findings:write scope",
               t->url, status);
      rc = CH_ERR_CONFIG;
      goto out;
    }
    else {
      snprintf(err, errlen, "hub %s answered HTTP %ld", t->url, status);
      rc = CH_ERR_IO;
      goto out;
    }
    rc = certhub_store_hub_done(s, b.seqs, b.n);
    if(rc) {
      snprintf(err, errlen, "hub queue: %s", certhub_store_errmsg(s));
      goto out;
    }
    if(single)
      single--;
  }
out:
  batch_clear(&b);
  if(certhub_store_hub_state(s, &on, &st->queued) && !rc)
    rc = CH_ERR_DB;
  curl_slist_free_all(hdrs);
  if(h)
    curl_easy_cleanup(h);
  ch_buf_free(&b.body);
  ch_buf_free(&resp);
  return rc;
}
