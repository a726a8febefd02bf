/*
 * topic and findings targets: delivered through the hooks the caller
 * passes in certhub_target_ctx (implemented by the notify and findings
 * modules; the contract is in include/certhub/target.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target_int.h"

struct hooked {
  char *name;    /* topic, or ProductName (may be NULL) */
  char *subject; /* topic only, may be NULL */
};

static const char *const topic_fields[] = {"Topic", "Subject", NULL};
static const char *const findings_fields[] = {"ProductName", NULL};

static void hooked_free(void *state)
{
  struct hooked *h = state;
  if(!h)
    return;
  free(h->name);
  free(h->subject);
  free(h);
}

static ch_err dup_opt(const char *s, char **out)
{
  *out = NULL;
  if(s && !(*out = strdup(s)))
    return CH_ERR_NOMEM;
  return CH_OK;
}

static ch_err topic_parse(json_t *spec, void **state, char **errmsg)
{
  const char *topic, *subject;
  ch_err rc =
      ch_target_str_field(spec, "Topic", 256, true, true, &topic, errmsg);
  if(rc)
    return rc;
  for(const char *p = topic; *p; p++)
    if(!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
         (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return ch_target_err(errmsg,
                           "Topic: \"%.64s\" must be 1-256 "
                           "characters of A-Z a-z 0-9 _ -",
                           topic);
  if((rc = ch_target_str_field(spec, "Subject", 100, false, true, &subject,
                               errmsg)))
    return rc;
  struct hooked *h = calloc(1, sizeof(*h));
  if(!h)
    return CH_ERR_NOMEM;
  if(dup_opt(topic, &h->name) || dup_opt(subject, &h->subject)) {
    hooked_free(h);
    return CH_ERR_NOMEM;
  }
  *state = h;
  return CH_OK;
}

static ch_err findings_parse(json_t *spec, void **state, char **errmsg)
{
  const char *product;
  ch_err rc = ch_target_str_field(spec, "ProductName", 128, false, true,
                                  &product, errmsg);
  if(rc)
    return rc;
  struct hooked *h = calloc(1, sizeof(*h));
  if(!h)
    return CH_ERR_NOMEM;
  if(dup_opt(product, &h->name)) {
    hooked_free(h);
    return CH_ERR_NOMEM;
  }
  *state = h;
  return CH_OK;
}

/* The hook's verdict: errors retrying cannot fix are FAILED. */
static certhub_delivery verdict(ch_err rc, const char *what, char *hdetail,
                                char **detail)
{
  if(rc == CH_OK) {
    *detail = hdetail;
    return CERTHUB_DELIVERY_OK;
  }
  *detail = ch_target_fmt("%s: %s%s%s", what, certhub_strerror(rc),
                          hdetail ? ": " : "", hdetail ? hdetail : "");
  free(hdetail);
  switch(rc) {
  case CH_ERR_NOTFOUND:
  case CH_ERR_PARSE:
  case CH_ERR_USAGE:
  case CH_ERR_TOOBIG:
  case CH_ERR_UNSUPPORTED:
  case CH_ERR_CONFIG:
    return CERTHUB_DELIVERY_FAILED;
  default:
    return CERTHUB_DELIVERY_RETRY;
  }
}

static certhub_delivery topic_deliver(const void *state,
                                      const certhub_target_ctx *ctx,
                                      const ch_target_input *in, char **detail)
{
  const struct hooked *h = state;
  const certhub_target_hooks *hk = ctx ? ctx->hooks : NULL;
  if(!hk || !hk->publish) {
    *detail = ch_target_fmt("topic %s: no topic publisher is available "
                            "(the publish hook is not set)",
                            h->name);
    return CERTHUB_DELIVERY_FAILED;
  }
  char *hd = NULL;
  ch_err rc =
      hk->publish(hk->ctx, h->name, h->subject, in->data, in->len, &hd);
  char what[300];
  snprintf(what, sizeof(what), "topic %s", h->name);
  return verdict(rc, what, hd, detail);
}

static certhub_delivery findings_deliver(const void *state,
                                         const certhub_target_ctx *ctx,
                                         const ch_target_input *in,
                                         char **detail)
{
  const struct hooked *h = state;
  const certhub_target_hooks *hk = ctx ? ctx->hooks : NULL;
  if(!hk || !hk->import_findings) {
    *detail = ch_target_fmt("findings: no findings importer is available "
                            "(the import_findings hook is not set)");
    return CERTHUB_DELIVERY_FAILED;
  }
  char *hd = NULL;
  ch_err rc = hk->import_findings(hk->ctx, h->name, in->data, in->len, &hd);
  return verdict(rc, "findings", hd, detail);
}

const struct ch_target_ops ch_target_topic = {
    .name = "topic",
    .fields = topic_fields,
    .parse = topic_parse,
    .deliver = topic_deliver,
    .free = hooked_free,
};

const struct ch_target_ops ch_target_findings = {
    .name = "findings",
    .fields = findings_fields,
    .parse = findings_parse,
    .deliver = findings_deliver,
    .free = hooked_free,
};
