/*
 * Public store API of topics and findings (store_hub.h): argument checks
 * and dispatch through the backend table. No SQL here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Like store.c's DISPATCH; a backend that lacks the operation says so. */
#define HUB_DISPATCH(s, op, ...)                                              \
  do {                                                                        \
    if(!(s))                                                                  \
      return CH_ERR_USAGE;                                                    \
    (s)->errmsg[0] = '\0';                                                    \
    if(!(s)->ops->op)                                                         \
      return ch_store_err((s), CH_ERR_UNSUPPORTED,                            \
                          "the %s store has no " #op, (s)->ops->name);        \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

ch_err certhub_store_fail(certhub_store *s, ch_err rc, const char *fmt, ...)
{
  va_list ap;
  if(!s)
    return rc;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
  va_end(ap);
  return rc;
}

ch_err certhub_store_topic_create(certhub_store *s, const char *name,
                                  const char *arn, const char *display_name,
                                  int64_t now, bool *created)
{
  if(!name || !arn || !created)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, topic_create, s, name, arn, display_name, now, created);
}

ch_err certhub_store_topic_get(certhub_store *s, const char *name,
                               certhub_topic_cb cb, void *ctx)
{
  if(!name || !cb)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, topic_get, s, name, cb, ctx);
}

ch_err certhub_store_topic_list(certhub_store *s, certhub_topic_cb cb,
                                void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, topic_list, s, cb, ctx);
}

ch_err certhub_store_topic_delete(certhub_store *s, const char *name)
{
  if(!name)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, topic_delete, s, name);
}

ch_err certhub_store_message_add(certhub_store *s, const certhub_message *m)
{
  if(!m || !m->message_id || !m->topic || (!m->message && m->len))
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, message_add, s, m);
}

ch_err certhub_store_messages(certhub_store *s, const char *topic,
                              size_t limit, certhub_message_cb cb, void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, messages, s, topic, limit, cb, ctx);
}

ch_err certhub_store_finding_get(certhub_store *s, const char *product_arn,
                                 const char *id, certhub_finding_cb cb,
                                 void *ctx)
{
  if(!product_arn || !id || !cb)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, finding_get, s, product_arn, id, cb, ctx);
}

ch_err certhub_store_finding_put(certhub_store *s,
                                 const certhub_finding_row *f, int64_t now)
{
  if(!f || !f->product_arn || !f->id || !f->generator_id ||
     !f->aws_account_id || !f->severity_label || !f->workflow_status ||
     !f->record_state || !f->resource_id || !f->json)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, finding_put, s, f, now);
}

ch_err certhub_store_findings_count_add(certhub_store *s,
                                        const certhub_finding_row *key,
                                        int64_t n)
{
  if(!key || !key->severity_label || !key->record_state ||
     !key->workflow_status || !key->aws_account_id)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, findings_count_add, s, key, n);
}

ch_err certhub_store_findings(certhub_store *s,
                              const certhub_findings_filter *f,
                              certhub_finding_cb cb, void *ctx)
{
  static const certhub_findings_filter all = {0};
  if(!cb)
    return CH_ERR_USAGE;
  HUB_DISPATCH(s, findings, s, f ? f : &all, cb, ctx);
}
