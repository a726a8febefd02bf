/*
 * Public store API of the hub forwarding queue (certhub/hub.h): argument
 * checks and dispatch through the backend table. No SQL here.
 */
#include "store_int.h"

#define FWD_DISPATCH(s, op, ...)                                              \
  do {                                                                        \
    (s)->errmsg[0] = '\0';                                                    \
    if(!(s)->ops->op)                                                         \
      return ch_store_err((s), CH_ERR_UNSUPPORTED,                            \
                          "the %s store has no hub queue", (s)->ops->name);   \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

ch_err certhub_store_hub_enable(certhub_store *s, bool on, bool *changed)
{
  if(!s)
    return CH_ERR_USAGE;
  FWD_DISPATCH(s, hub_enable, s, on, changed);
}

ch_err certhub_store_hub_pending(certhub_store *s, size_t limit,
                                 certhub_hub_item_cb cb, void *ctx)
{
  if(!s || !cb || limit < 1 || limit > 1000)
    return CH_ERR_USAGE;
  FWD_DISPATCH(s, hub_pending, s, limit, cb, ctx);
}

ch_err certhub_store_hub_done(certhub_store *s, const int64_t *seqs, size_t n)
{
  if(!s || (n && !seqs))
    return CH_ERR_USAGE;
  if(!n)
    return CH_OK;
  FWD_DISPATCH(s, hub_done, s, seqs, n);
}

ch_err certhub_store_hub_state(certhub_store *s, bool *on, uint64_t *queued)
{
  if(!s || !on || !queued)
    return CH_ERR_USAGE;
  FWD_DISPATCH(s, hub_state, s, on, queued);
}
