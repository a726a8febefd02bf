/*
 * Public store API of API tokens and the API's finding lookup
 * (store_tokens.h): argument checks and
 * dispatch through the backend table. No SQL here.
 */
#include <string.h>

#include "store_int.h"

#define TOKEN_DISPATCH(s, op, ...)                                            \
  do {                                                                        \
    if(!(s))                                                                  \
      return CH_ERR_USAGE;                                                    \
    (s)->errmsg[0] = '\0';                                                    \
    if(!(s)->ops->op)                                                         \
      return ch_store_err((s), CH_ERR_UNSUPPORTED,                            \
                          "the %s store has no " #op, (s)->ops->name);        \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

ch_err certhub_store_token_put(certhub_store *s, const certhub_token_row *t)
{
  if(!t || !t->name || !t->hash || !t->prefix || !t->scopes)
    return CH_ERR_USAGE;
  TOKEN_DISPATCH(s, token_put, s, t);
}

ch_err certhub_store_token_find(certhub_store *s, const char *hash,
                                certhub_token_cb cb, void *ctx)
{
  if(!hash || !cb)
    return CH_ERR_USAGE;
  TOKEN_DISPATCH(s, token_find, s, hash, cb, ctx);
}

ch_err certhub_store_token_list(certhub_store *s, certhub_token_cb cb,
                                void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  TOKEN_DISPATCH(s, token_list, s, cb, ctx);
}

ch_err certhub_store_token_revoke(certhub_store *s, const char *name)
{
  if(!name)
    return CH_ERR_USAGE;
  TOKEN_DISPATCH(s, token_revoke, s, name);
}

ch_err certhub_store_findings_by_id(certhub_store *s, const char *id,
                                    certhub_finding_cb cb, void *ctx)
{
  if(!id || !cb)
    return CH_ERR_USAGE;
  TOKEN_DISPATCH(s, findings_by_id, s, id, cb, ctx);
}
