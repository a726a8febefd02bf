/*
 * Public store API of findings queries (findings_query.h): argument checks
 * and dispatch through the backend table. No SQL here.
 */
#include "store_int.h"

#define FQ_DISPATCH(s, op, ...)                                               \
  do {                                                                        \
    if(!(s))                                                                  \
      return CH_ERR_USAGE;                                                    \
    (s)->errmsg[0] = '\0';                                                    \
    if(!(s)->ops->op)                                                         \
      return ch_store_err((s), CH_ERR_UNSUPPORTED,                            \
                          "the %s store has no " #op, (s)->ops->name);        \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

static bool query_ok(const certhub_findings_query *q)
{
  if(!q || (q->n_conds && !q->conds) || q->n_sort > CERTHUB_FQ_SORT_MAX)
    return false;
  for(size_t i = 0; i < q->n_conds; i++)
    if((unsigned)q->conds[i].field >= CERTHUB_FQ__COUNT)
      return false;
  /* A position names the last row: its keys (n_sort of them, or the one
   * default key) and its (ProductArn, Id). */
  if(q->after && (!q->after_product_arn || !q->after_id))
    return false;
  return true;
}

ch_err certhub_store_findings_query(certhub_store *s,
                                    const certhub_findings_query *q,
                                    certhub_fq_row_cb cb, void *ctx)
{
  if(!cb || !query_ok(q))
    return CH_ERR_USAGE;
  FQ_DISPATCH(s, findings_query, s, q, cb, ctx);
}

ch_err certhub_store_findings_group(certhub_store *s,
                                    const certhub_findings_query *q,
                                    certhub_fq_field by, size_t limit,
                                    certhub_fq_group_cb cb, void *ctx)
{
  if(!cb || !query_ok(q) || (unsigned)by >= CERTHUB_FQ__COUNT)
    return CH_ERR_USAGE;
  FQ_DISPATCH(s, findings_group, s, q, by, limit, cb, ctx);
}

ch_err certhub_store_findings_prune(certhub_store *s, int64_t before,
                                    uint64_t *n)
{
  if(n)
    *n = 0;
  FQ_DISPATCH(s, findings_prune, s, before, n);
}
