/*
 * Public store API of subscriptions and deliveries (deliver_store.h):
 * argument checks and dispatch through the backend table. No SQL here.
 */
#include "store_int.h"

#define DELIVER_DISPATCH(s, op, ...)                                          \
  do {                                                                        \
    if(!(s))                                                                  \
      return CH_ERR_USAGE;                                                    \
    (s)->errmsg[0] = '\0';                                                    \
    if(!(s)->ops->op)                                                         \
      return ch_store_err((s), CH_ERR_UNSUPPORTED,                            \
                          "the %s store has no " #op, (s)->ops->name);        \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

ch_err certhub_store_sub_put(certhub_store *s, const certhub_subscription *sub,
                             const char *confirm_id, int64_t now_ms,
                             bool *created, char arn_out[CERTHUB_SUB_ARN_MAX],
                             bool *pending)
{
  if(!sub || !sub->topic || !sub->arn || !sub->protocol || !sub->endpoint ||
     !sub->status || !sub->token || !confirm_id || !created || !arn_out ||
     !pending)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, sub_put, s, sub, confirm_id, now_ms, created, arn_out,
                   pending);
}

ch_err certhub_store_subs(certhub_store *s, const char *topic, const char *arn,
                          certhub_subscription_cb cb, void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, subs, s, topic, arn, cb, ctx);
}

ch_err certhub_store_sub_confirm(certhub_store *s, const char *topic,
                                 const char *token, int64_t now,
                                 char arn_out[CERTHUB_SUB_ARN_MAX])
{
  if(!topic || !token || !arn_out)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, sub_confirm, s, topic, token, now, arn_out);
}

ch_err certhub_store_sub_delete(certhub_store *s, const char *arn)
{
  if(!arn)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, sub_delete, s, arn);
}

ch_err certhub_store_fanout(certhub_store *s, int64_t now_ms, uint64_t *n)
{
  if(!n)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, fanout, s, now_ms, n);
}

ch_err certhub_store_deliveries_due(certhub_store *s, int64_t now_ms,
                                    int64_t after_ms, int64_t after_id,
                                    size_t limit, certhub_sns_delivery_cb cb,
                                    void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, deliveries_due, s, now_ms, after_ms, after_id, limit, cb,
                   ctx);
}

ch_err certhub_store_deliveries_update(certhub_store *s,
                                       const certhub_sns_delivery_update *u,
                                       size_t n)
{
  if(n && !u)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, deliveries_update, s, u, n);
}

ch_err certhub_store_deliveries(certhub_store *s,
                                const certhub_sns_delivery_filter *f,
                                certhub_sns_delivery_cb cb, void *ctx)
{
  if(!f || !cb)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, deliveries, s, f, cb, ctx);
}

ch_err certhub_store_dlq_redrive(certhub_store *s, int64_t id,
                                 const char *topic, int64_t now_ms,
                                 uint64_t *n)
{
  if(!n || id < 0)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, dlq_redrive, s, id, topic, now_ms, n);
}

ch_err certhub_store_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                               uint64_t *n)
{
  if(!n || id < 0)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, dlq_purge, s, id, topic, n);
}

ch_err certhub_store_delivery_next_due(certhub_store *s, int64_t *when_ms,
                                       bool *found)
{
  if(!when_ms || !found)
    return CH_ERR_USAGE;
  DELIVER_DISPATCH(s, delivery_next_due, s, when_ms, found);
}
