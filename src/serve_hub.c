/*
 * Hub forwarding inside certhub serve (serve_hub.h).
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/hub.h"
#include "serve_hub.h"

/* Findings per pass: bounds how long one pass holds the loop (10
 * requests), the rest goes at the next pass. */
#define HUB_PASS_MAX 1000
#define HUB_BACKOFF_MIN 5
#define HUB_BACKOFF_MAX 300

void serve_hub_config(serve_hub *h, certhub_store *s,
                      const certhub_config *cfg, int64_t now,
                      serve_hub_log log, void *log_ctx)
{
  char err[512];
  bool changed = false;
  free(h->token);
  h->token = NULL;
  h->on = false;
  h->next_try = now;
  h->backoff_s = 0;
  h->failing = false;
  bool want = cfg && cfg->hub.enabled;
  if(certhub_store_hub_enable(s, want, &changed)) {
    log(log_ctx, "hub: %s", certhub_store_errmsg(s));
    return;
  }
  if(!want) {
    if(changed)
      log(log_ctx, "hub: forwarding off, queue emptied");
    return;
  }
  if(certhub_hub_read_token(cfg->hub.token_file, &h->token, err,
                            sizeof(err))) {
    log(log_ctx, "hub: forwarding off: %s", err);
    return;
  }
  h->on = true;
  log(log_ctx, "hub: forwarding findings to %s", cfg->hub.forward_to);
}

void serve_hub_pass(serve_hub *h, certhub_store *s, const certhub_config *cfg,
                    int64_t now, serve_hub_log log, void *log_ctx)
{
  char err[1024] = "";
  certhub_hub_stats st = {0};
  if(!h->on || now < h->next_try)
    return;
  certhub_hub_target t = {.url = cfg->hub.forward_to,
                          .token = h->token,
                          .ca_file = cfg->hub.ca_file,
                          .timeout_ms = cfg->hub.timeout_ms};
  ch_err rc = certhub_hub_forward(s, &t, HUB_PASS_MAX, &st, err, sizeof(err));
  if(rc) {
    h->backoff_s = h->backoff_s ? h->backoff_s * 2 : HUB_BACKOFF_MIN;
    if(h->backoff_s > HUB_BACKOFF_MAX)
      h->backoff_s = HUB_BACKOFF_MAX;
    h->next_try = now + h->backoff_s;
    if(!h->failing || rc == CH_ERR_CONFIG)
      log(log_ctx, "hub: %s; %llu findings queued, next try in %us", err,
          (unsigned long long)st.queued, h->backoff_s);
    h->failing = true;
    h->more = false;
    return;
  }
  if(h->failing)
    log(log_ctx, "hub: reachable again");
  h->failing = false;
  h->backoff_s = 0;
  if(err[0])
    log(log_ctx, "hub: %s", err);
  if(st.sent || st.rejected)
    log(log_ctx, "hub: %llu findings forwarded, %llu refused, %llu queued",
        (unsigned long long)st.sent, (unsigned long long)st.rejected,
        (unsigned long long)st.queued);
  /* More than a pass's worth: go on at the next pass, right away. */
  h->more = st.queued > 0;
  h->next_try = now;
}

int64_t serve_hub_next(const serve_hub *h)
{
  if(!h->on || (!h->failing && !h->more))
    return INT64_MAX;
  return h->next_try;
}

void serve_hub_free(serve_hub *h)
{
  free(h->token);
  h->token = NULL;
  h->on = false;
}
