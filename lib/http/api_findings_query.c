/*
 * Findings endpoints on lib/findings' JSON request functions:
 * GetFindings, BatchUpdateFindings, GetInsightResults. The request body
 * goes to lib/findings as is; its answer comes back as is.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/findings.h"
#include "http_int.h"

/* lib/findings' answer, or its error as the API's. */
static void answer(ch_http_req *rq, ch_http_resp *rs, ch_err rc, char *out,
                   size_t out_len)
{
  if(rc) {
    free(out);
    ch_http_fail(rs, rc == CH_ERR_TOOBIG ? CH_ERR_PARSE : rc,
                 certhub_store_errmsg(rq->store));
    return;
  }
  ch_http_text(rs, 200, "application/json", out, out_len);
}

/* An empty body is the empty request {} (GetFindings with no filter). */
static void body_or_empty(const ch_http_req *rq, const char **b, size_t *n)
{
  *b = rq->body_len ? rq->body : "{}";
  *n = rq->body_len ? rq->body_len : 2;
}

/* GetFindings' answer with each ASFF finding replaced by its OCSF form
 * (NextToken and anything else kept). */
static void answer_ocsf(ch_http_resp *rs, char *out, size_t out_len)
{
  json_t *o = json_loadb(out, out_len, 0, NULL);
  json_t *list = json_object_get(o, "Findings");
  size_t i;
  json_t *f;
  ch_err rc = json_is_array(list) ? CH_OK : CH_ERR_INTERNAL;
  free(out);
  json_array_foreach(list, i, f)
  {
    char *asff = json_dumps(f, JSON_COMPACT), *ocsf = NULL;
    size_t len = 0;
    json_t *conv = NULL;
    rc = asff ? certhub_findings_ocsf_json(asff, strlen(asff), &ocsf, &len)
              : CH_ERR_NOMEM;
    if(!rc && !(conv = json_loadb(ocsf, len, 0, NULL)))
      rc = CH_ERR_NOMEM;
    free(asff);
    free(ocsf);
    if(!rc && json_array_set_new(list, i, conv))
      rc = CH_ERR_NOMEM;
    if(rc)
      break;
  }
  if(rc) {
    json_decref(o);
    ch_http_fail(rs, rc == CH_ERR_PARSE ? CH_ERR_INTERNAL : rc,
                 "a stored finding has no OCSF form");
    return;
  }
  ch_http_json(rs, 200, o);
}

/* POST /v1/findings/get[?format=asff|ocsf]. */
void ch_http_findings_query(ch_http_req *rq, ch_http_resp *rs)
{
  const char *b;
  size_t n, out_len = 0;
  char *out = NULL;
  bool ocsf;
  if(!ch_http_format_ocsf(rq, rs, &ocsf))
    return;
  body_or_empty(rq, &b, &n);
  ch_err rc = certhub_findings_query_json(rq->store, b, n, &out, &out_len);
  if(!rc && ocsf)
    answer_ocsf(rs, out, out_len);
  else
    answer(rq, rs, rc, out, out_len);
}

void ch_http_findings_update(ch_http_req *rq, ch_http_resp *rs)
{
  size_t out_len = 0;
  char *out = NULL;
  if(!rq->body_len) {
    ch_http_error(rs, 400, "InvalidInput",
                  "the request body is empty (expected "
                  "{\"FindingIdentifiers\": [...], ...})");
    return;
  }
  ch_err rc = certhub_findings_update_json(rq->store, rq->body, rq->body_len,
                                           rq->now, &out, &out_len);
  answer(rq, rs, rc, out, out_len);
}

void ch_http_insight_results(ch_http_req *rq, ch_http_resp *rs)
{
  size_t out_len = 0;
  char *out = NULL;
  if(!rq->body_len) {
    ch_http_error(rs, 400, "InvalidInput",
                  "the request body is empty (expected an insight)");
    return;
  }
  ch_err rc = certhub_findings_insight_json(rq->store, rq->body, rq->body_len,
                                            &out, &out_len);
  answer(rq, rs, rc, out, out_len);
}
