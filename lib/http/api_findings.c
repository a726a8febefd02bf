/*
 * Findings endpoints written here: BatchImportFindings and GET of one
 * finding. (GetFindings, BatchUpdateFindings and insights are in
 * api_findings_query.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/findings.h"
#include "certhub/store_tokens.h"
#include "http_int.h"

/* The import's answer for a refused call (nothing stored). */
static void import_refused(ch_http_req *rq, ch_http_resp *rs, ch_err rc,
                           const certhub_import_result *r)
{
  if(rc == CH_ERR_PARSE && !strncmp(r->error, "invalid JSON", 12))
    ch_http_error(rs, 400, "InvalidJson", "request body: %s", r->error);
  else if(rc == CH_ERR_DB || rc == CH_ERR_BUSY || rc == CH_ERR_NOMEM)
    ch_http_fail(rs, rc,
                 r->error[0] || !rq->store ? r->error
                                           : certhub_store_errmsg(rq->store));
  else
    ch_http_error(rs, 400, "InvalidInput", "request body: %s",
                  r->error[0] ? r->error : certhub_strerror(rc));
}

/* What the import's prep leaves for the handler. */
typedef struct import_prep {
  certhub_import_batch *b;
  certhub_import_result r; /* the invalid findings so far */
  /* ?format=ocsf: the OCSF importer maps and validates inside its store
   * call, so that part runs under the writer lock. */
  bool ocsf;
} import_prep;

void ch_http_findings_import_free(void *prepared)
{
  import_prep *p = prepared;
  if(!p)
    return;
  certhub_import_batch_free(p->b);
  certhub_import_result_free(&p->r);
  free(p);
}

/* Parsing and validating the body need no store: done before the writer
 * lock, so the writer only stores. */
void ch_http_findings_import_prep(ch_http_req *rq, ch_http_resp *rs)
{
  import_prep *p;
  bool ocsf;
  /* An unknown format is refused before anything is parsed. */
  if(!ch_http_format_ocsf(rq, rs, &ocsf))
    return;
  if(!rq->body_len) {
    ch_http_error(rs, 400, "InvalidInput",
                  "the request body is empty (expected {\"Findings\": "
                  "[...]})");
    return;
  }
  if(!(p = calloc(1, sizeof(*p)))) {
    ch_http_fail(rs, CH_ERR_NOMEM, NULL);
    return;
  }
  if((p->ocsf = ocsf)) {
    rq->prepared = p;
    return;
  }
  ch_err rc =
      certhub_findings_import_prepare(rq->body, rq->body_len, &p->b, &p->r);
  if(rc) {
    import_refused(rq, rs, rc, &p->r);
    ch_http_findings_import_free(p);
    return;
  }
  rq->prepared = p;
}

/* POST /v1/findings/import[?format=asff|ocsf]: body {"Findings": [...]}
 * or [...] (ASFF, the default), or with format=ocsf OCSF findings (an
 * array, one object or JSON lines; certhub_findings_import_ocsf). The
 * response is Security Hub's: {"FailedCount", "SuccessCount",
 * "FailedFindings": [{"Id", "ErrorCode", "ErrorMessage"}]}. A request
 * that is not JSON, has no Findings array or more than 100 findings is
 * refused whole (400) and nothing is stored. */
void ch_http_findings_import(ch_http_req *rq, ch_http_resp *rs)
{
  /* Dispatched without the server's prep (tests, fuzzers): do it here
   * and free it here. */
  bool own = !rq->prepared;
  if(own) {
    ch_http_findings_import_prep(rq, rs);
    if(!rq->prepared)
      return;
  }
  import_prep *p = rq->prepared;
  ch_err rc =
      p->ocsf ? certhub_findings_import_ocsf(rq->store, rq->body, rq->body_len,
                                             rq->now, &p->r)
              : certhub_findings_import_apply(rq->store, p->b, rq->now, &p->r);
  if(rc)
    import_refused(rq, rs, rc, &p->r);
  else {
    char *out = NULL;
    size_t out_len = 0;
    rc = certhub_import_result_json(&p->r, &out, &out_len);
    if(rc)
      ch_http_fail(rs, rc, NULL);
    else
      ch_http_text(rs, 200, "application/json", out, out_len);
  }
  if(own) {
    ch_http_findings_import_free(p);
    rq->prepared = NULL;
  }
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

bool ch_http_format_ocsf(const ch_http_req *rq, ch_http_resp *rs, bool *ocsf)
{
  const char *f = ch_http_query(rq, "format");
  *ocsf = f && !strcmp(f, "ocsf");
  if(!f || *ocsf || !strcmp(f, "asff"))
    return true;
  ch_http_error(rs, 400, "InvalidInput",
                "format '%.40s' is unknown (asff, the default, or ocsf)", f);
  return false;
}

/* The finding as an OCSF object: lib/findings maps text to text. */
static void answer_ocsf(ch_http_resp *rs, const json_t *finding)
{
  char *asff = json_dumps(finding, JSON_COMPACT), *out = NULL;
  size_t len = 0;
  ch_err rc = asff ? certhub_findings_ocsf_json(asff, strlen(asff), &out, &len)
                   : CH_ERR_NOMEM;
  free(asff);
  if(rc) {
    free(out);
    ch_http_fail(rs, rc == CH_ERR_PARSE ? CH_ERR_INTERNAL : rc,
                 "the stored finding has no OCSF form");
  }
  else
    ch_http_text(rs, 200, "application/json", out, len);
}

/* The POST routes under /v1/findings/ that GET {id*} also matches: the
 * Security Hub action each one is, or NULL. */
static const char *post_only(const char *id)
{
  static const char *const names[][2] = {
      {"get", "GetFindings"},
      {"import", "BatchImportFindings"},
      {"update", "BatchUpdateFindings"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(names); i++)
    if(!strcmp(id, names[i][0]))
      return names[i][1];
  return NULL;
}

/* GET /v1/findings/{id}[?product_arn=ARN][&format=asff|ocsf]: the finding
 * as stored (ASFF) or as OCSF 1.6. Ids are unique per product; without
 * product_arn an Id two products use is ambiguous (400). */
void ch_http_finding_get(ch_http_req *rq, ch_http_resp *rs)
{
  found fd = {0};
  bool ocsf;
  if(!ch_http_format_ocsf(rq, rs, &ocsf))
    return;
  const char *product = ch_http_query(rq, "product_arn");
  ch_err rc = product ? certhub_findings_get(rq->store, product, rq->caps[0],
                                             found_cb, &fd)
                      : certhub_store_findings_by_id(rq->store, rq->caps[0],
                                                     found_cb, &fd);
  if((rc == CH_ERR_NOTFOUND || (!rc && !fd.n)) && post_only(rq->caps[0]))
    /* Most likely GetFindings & co. called with GET: say so. A finding
     * with that Id would have been answered above. */
    ch_http_error(rs, 404, "NotFound",
                  "no finding '%s'; /v1/findings/%s is %s and takes POST "
                  "with a JSON body",
                  rq->caps[0], rq->caps[0], post_only(rq->caps[0]));
  else if(rc == CH_ERR_NOTFOUND || (!rc && !fd.n))
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
  else if(ocsf)
    answer_ocsf(rs, fd.finding);
  else {
    ch_http_json(rs, 200, fd.finding);
    fd.finding = NULL;
  }
  json_decref(fd.finding);
}
