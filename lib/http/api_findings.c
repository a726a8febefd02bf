/*
 * Findings endpoints written here: BatchImportFindings and GET of one
 * finding. (GetFindings, BatchUpdateFindings and insights are in
 * api_findings_query.c, on lib/findings' JSON request functions.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/findings.h"
#include "certhub/store_tokens.h"
#include "http_int.h"

/* POST /v1/findings/import: body {"Findings": [...]} or [...]. The
 * response is Security Hub's: {"FailedCount", "SuccessCount",
 * "FailedFindings": [{"Id", "ErrorCode", "ErrorMessage"}]}. A request
 * that is not JSON, has no Findings array or more than 100 findings is
 * refused whole (400) and nothing is stored. */
void ch_http_findings_import(ch_http_req *rq, ch_http_resp *rs)
{
  certhub_import_result r;
  /* Checked here first for a message naming the body, before
   * lib/findings parses it again with its own rules. */
  json_t *j = ch_http_body_json(rq, rs, true);
  if(!j)
    return;
  if(json_is_object(j) && !json_is_array(json_object_get(j, "Findings"))) {
    json_decref(j);
    ch_http_error(rs, 400, "InvalidInput",
                  "request body: expected {\"Findings\": [...]} or an array "
                  "of findings");
    return;
  }
  json_decref(j);
  ch_err rc =
      certhub_findings_import(rq->store, rq->body, rq->body_len, rq->now, &r);
  if(rc) {
    ch_http_fail(rs, rc == CH_ERR_DB || rc == CH_ERR_BUSY ? rc
                     : rc == CH_ERR_NOMEM                 ? rc
                                                          : CH_ERR_PARSE,
                 r.error[0] ? r.error : certhub_store_errmsg(rq->store));
    certhub_import_result_free(&r);
    return;
  }
  json_t *failed = json_array();
  for(size_t i = 0; failed && i < r.failed; i++)
    json_array_append_new(
        failed, json_pack("{s:s, s:s, s:s}", "Id", r.failures[i].id,
                          "ErrorCode", r.failures[i].code, "ErrorMessage",
                          r.failures[i].message));
  json_t *o = failed ? json_pack("{s:I, s:I, s:o}", "FailedCount",
                                 (json_int_t)r.failed, "SuccessCount",
                                 (json_int_t)r.success, "FailedFindings",
                                 failed)
                     : NULL;
  certhub_import_result_free(&r);
  ch_http_json(rs, 200, o);
}

typedef struct found {
  json_t *finding;
  size_t n;
} found;

static ch_err found_cb(void *ctx, const certhub_finding_row *f)
{
  found *fd = ctx;
  fd->n++;
  if(!fd->finding)
    fd->finding = json_loads(f->json, 0, NULL);
  return fd->finding ? CH_OK : CH_ERR_NOMEM;
}

/* GET /v1/findings/{id}[?product_arn=ARN]: the finding as stored (ASFF).
 * Ids are unique per product; without product_arn an Id two products use
 * is ambiguous (400). */
void ch_http_finding_get(ch_http_req *rq, ch_http_resp *rs)
{
  found fd = {0};
  const char *product = ch_http_query(rq, "product_arn");
  ch_err rc =
      product ? certhub_findings_get(rq->store, product, rq->caps[0],
                                     found_cb, &fd)
              : certhub_store_findings_by_id(rq->store, rq->caps[0], found_cb,
                                             &fd);
  if(rc == CH_ERR_NOTFOUND || (!rc && !fd.n))
    ch_http_error(rs, 404, "NotFound", "no finding '%.200s'%s%.200s",
                  rq->caps[0], product ? " of product " : "",
                  product ? product : "");
  else if(rc)
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
  else if(fd.n > 1)
    ch_http_error(rs, 400, "Ambiguous",
                  "several products have a finding '%.200s': add "
                  "?product_arn=ARN",
                  rq->caps[0]);
  else {
    ch_http_json(rs, 200, fd.finding);
    fd.finding = NULL;
  }
  json_decref(fd.finding);
}
