/*
 * BatchUpdateFindings (the customer's changes to findings) and the JSON of
 * a BatchImportFindings result.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/findings_query.h"
#include "findings_int.h"

#define IDENTIFIERS_MAX 100
#define NOTE_MAX 512
#define UDF_MAX 50
#define UDF_KEY_MAX 128
#define UDF_VALUE_MAX 1024
#define RELATED_MAX 10
#define TYPES_MAX 50
#define REQUEST_MAX (1024 * 1024)
#define CUT 120

static const char *const workflows[] = {"NEW", "NOTIFIED", "RESOLVED",
                                        "SUPPRESSED"};
static const char *const verification[] = {
    "UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"};
static const struct {
  const char *label;
  int normalized; /* what Security Hub sets when only the label is given */
} labels[] = {{"INFORMATIONAL", 0},
              {"LOW", 1},
              {"MEDIUM", 40},
              {"HIGH", 70},
              {"CRITICAL", 90}};

static bool one_of(const char *v, const char *const *set, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!strcmp(v, set[i]))
      return true;
  return false;
}

static const char *label_of(json_int_t n)
{
  return n == 0   ? "INFORMATIONAL"
         : n < 40 ? "LOW"
         : n < 70 ? "MEDIUM"
         : n < 90 ? "HIGH"
                  : "CRITICAL";
}

static ch_err inval(certhub_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ch_err inval(certhub_store *s, const char *fmt, ...)
{
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return certhub_store_fail(s, CH_ERR_USAGE, "BatchUpdateFindings: %s", msg);
}

static bool valid_label(const char *l)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(labels); i++)
    if(!strcmp(l, labels[i].label))
      return true;
  return false;
}

static bool int_in(json_t *v, json_int_t lo, json_int_t hi)
{
  return json_is_integer(v) && json_integer_value(v) >= lo &&
         json_integer_value(v) <= hi;
}

/* The whole request's checks: a bad one updates nothing (Security Hub
 * answers InvalidInputException). */
static ch_err check_request(certhub_store *s, json_t *r)
{
  static const char *const allowed[] = {"FindingIdentifiers",
                                        "Note",
                                        "Severity",
                                        "VerificationState",
                                        "Confidence",
                                        "Criticality",
                                        "Types",
                                        "UserDefinedFields",
                                        "Workflow",
                                        "RelatedFindings",
                                        NULL};
  char cb[CUT + 1];
  const char *k;
  json_t *v;
  json_object_foreach(r, k, v)
  {
    bool ok = false;
    for(size_t i = 0; allowed[i]; i++)
      ok |= !strcmp(k, allowed[i]);
    if(!ok)
      return inval(s, "unknown member '%s'", ch_findings_cut(cb, k, CUT));
  }
  json_t *ids = json_object_get(r, "FindingIdentifiers");
  if(!json_is_array(ids) || !json_array_size(ids))
    return inval(s, "FindingIdentifiers must be a non-empty array");
  if(json_array_size(ids) > IDENTIFIERS_MAX)
    return inval(s, "FindingIdentifiers has %zu entries (at most %d)",
                 json_array_size(ids), IDENTIFIERS_MAX);
  size_t i;
  json_t *e;
  json_array_foreach(ids, i, e)
  {
    json_t *id = json_object_get(e, "Id"),
           *pa = json_object_get(e, "ProductArn");
    if(!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(id) ||
       !json_string_length(id) || !json_is_string(pa) ||
       !json_string_length(pa))
      return inval(s,
                   "FindingIdentifiers[%zu] must be {\"Id\": ..., "
                   "\"ProductArn\": ...}",
                   i);
  }
  if(json_object_size(r) == 1)
    return inval(s, "nothing to update (Note, Severity, VerificationState, "
                    "Confidence, Criticality, Types, UserDefinedFields, "
                    "Workflow or RelatedFindings)");
  if((v = json_object_get(r, "Note"))) {
    json_t *t = json_object_get(v, "Text"),
           *by = json_object_get(v, "UpdatedBy");
    if(!json_is_object(v) || json_object_size(v) != 2 || !json_is_string(t) ||
       !json_is_string(by) || !json_string_length(t) ||
       !json_string_length(by))
      return inval(s, "Note must be {\"Text\": ..., \"UpdatedBy\": ...}, "
                      "both non-empty");
    if(json_string_length(t) > NOTE_MAX || json_string_length(by) > NOTE_MAX)
      return inval(s,
                   "Note.Text and Note.UpdatedBy are at most %d "
                   "characters",
                   NOTE_MAX);
  }
  if((v = json_object_get(r, "Severity"))) {
    json_t *l = json_object_get(v, "Label"),
           *n = json_object_get(v, "Normalized");
    json_t *p = json_object_get(v, "Product");
    bool lok = !l || (json_is_string(l) && valid_label(json_string_value(l)));
    if(!json_is_object(v) || (!l && !n && !p))
      return inval(s, "Severity needs Label, Normalized or Product");
    if(!lok)
      return inval(s, "Severity.Label must be INFORMATIONAL, LOW, MEDIUM, "
                      "HIGH or CRITICAL");
    if(n && !int_in(n, 0, 100))
      return inval(s, "Severity.Normalized must be an integer from 0 to 100");
    if(p && !json_is_number(p))
      return inval(s, "Severity.Product must be a number");
    json_object_foreach(v, k, e)
    {
      if(strcmp(k, "Label") && strcmp(k, "Normalized") && strcmp(k, "Product"))
        return inval(s, "Severity: unknown member '%s'",
                     ch_findings_cut(cb, k, CUT));
    }
  }
  if((v = json_object_get(r, "VerificationState")) &&
     (!json_is_string(v) ||
      !one_of(json_string_value(v), verification, CH_ARRAY_LEN(verification))))
    return inval(s, "VerificationState must be UNKNOWN, TRUE_POSITIVE, "
                    "FALSE_POSITIVE or BENIGN_POSITIVE");
  if((v = json_object_get(r, "Confidence")) && !int_in(v, 0, 100))
    return inval(s, "Confidence must be an integer from 0 to 100");
  if((v = json_object_get(r, "Criticality")) && !int_in(v, 0, 100))
    return inval(s, "Criticality must be an integer from 0 to 100");
  if((v = json_object_get(r, "Types"))) {
    if(!json_is_array(v) || !json_array_size(v) ||
       json_array_size(v) > TYPES_MAX)
      return inval(s, "Types must be an array of 1 to %d types", TYPES_MAX);
    json_array_foreach(v, i, e)
    {
      if(!json_is_string(e) || json_string_length(e) > 256 ||
         !ch_findings_valid_type(json_string_value(e)))
        return inval(s,
                     "Types[%zu] is not namespace/category/classifier "
                     "with a known namespace",
                     i);
    }
  }
  if((v = json_object_get(r, "UserDefinedFields"))) {
    if(!json_is_object(v) || json_object_size(v) > UDF_MAX)
      return inval(s,
                   "UserDefinedFields must be an object of at most %d "
                   "strings",
                   UDF_MAX);
    json_object_foreach(v, k, e)
    {
      if(!*k || strlen(k) > UDF_KEY_MAX || !json_is_string(e) ||
         json_string_length(e) > UDF_VALUE_MAX)
        return inval(s,
                     "UserDefinedFields: key '%s' (1 to %d characters) "
                     "must have a string value of at most %d characters",
                     ch_findings_cut(cb, k, CUT), UDF_KEY_MAX, UDF_VALUE_MAX);
    }
  }
  if((v = json_object_get(r, "Workflow"))) {
    json_t *st = json_object_get(v, "Status");
    if(!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(st) ||
       !one_of(json_string_value(st), workflows, CH_ARRAY_LEN(workflows)))
      return inval(s, "Workflow must be {\"Status\": NEW, NOTIFIED, RESOLVED "
                      "or SUPPRESSED}");
  }
  if((v = json_object_get(r, "RelatedFindings"))) {
    if(!json_is_array(v) || json_array_size(v) > RELATED_MAX)
      return inval(s, "RelatedFindings must be an array of at most %d",
                   RELATED_MAX);
    json_array_foreach(v, i, e)
    {
      json_t *id = json_object_get(e, "Id"),
             *pa = json_object_get(e, "ProductArn");
      if(!json_is_object(e) || json_object_size(e) != 2 ||
         !json_is_string(id) || !json_string_length(id) ||
         !json_is_string(pa) || !json_string_length(pa))
        return inval(s,
                     "RelatedFindings[%zu] must be {\"Id\": ..., "
                     "\"ProductArn\": ...}",
                     i);
    }
  }
  return CH_OK;
}

/* The stored row, copied. */
typedef struct stored {
  bool found;
  char *strs[8];
  certhub_finding_row row;
} stored;

static void stored_free(stored *st)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(st->strs); i++)
    free(st->strs[i]);
  memset(st, 0, sizeof(*st));
}

static ch_err stored_cb(void *ctx, const certhub_finding_row *f)
{
  stored *st = ctx;
  const char *src[8] = {f->product_arn,    f->id,     f->generator_id,
                        f->aws_account_id, f->region, f->record_state,
                        f->resource_id,    f->json};
  for(size_t i = 0; i < 8; i++)
    if(!(st->strs[i] = strdup(src[i])))
      return CH_ERR_NOMEM;
  st->row = *f;
  st->row.product_arn = st->strs[0];
  st->row.id = st->strs[1];
  st->row.generator_id = st->strs[2];
  st->row.aws_account_id = st->strs[3];
  st->row.region = st->strs[4];
  st->row.record_state = st->strs[5];
  st->row.resource_id = st->strs[6];
  st->row.json = st->strs[7];
  st->row.severity_label = st->row.workflow_status = NULL;
  st->found = true;
  return CH_OK;
}

/* The fields whose provider values FindingProviderFields keeps. */
static const char *const provider_fields[] = {
    "Confidence", "Criticality", "RelatedFindings", "Severity", "Types",
};

/* A finding stored without FindingProviderFields gets them from its top
 * level before the customer changes that: a provider's later import tells
 * customer values from its own by comparing the two (import.c). */
static ch_err ensure_provider_fields(json_t *f)
{
  if(json_is_object(json_object_get(f, "FindingProviderFields")))
    return CH_OK;
  json_t *fpf = json_object();
  if(!fpf || json_object_set_new(f, "FindingProviderFields", fpf))
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < CH_ARRAY_LEN(provider_fields); i++) {
    json_t *top = json_object_get(f, provider_fields[i]);
    if(top &&
       json_object_set_new(fpf, provider_fields[i], json_deep_copy(top)))
      return CH_ERR_NOMEM;
  }
  return CH_OK;
}

/* Apply the request's changes to finding f. UpdatedAt stays: Security Hub
 * keeps it for the provider's updates (BatchUpdateFindings does not change
 * it), so a provider's next import is still compared with its own last. */
static ch_err apply(json_t *f, json_t *r, const char *now_text)
{
  json_t *v;
  if(ensure_provider_fields(f))
    return CH_ERR_NOMEM;
  if((v = json_object_get(r, "Note"))) {
    json_t *n = json_deep_copy(v);
    if(!n || json_object_set_new(n, "UpdatedAt", json_string(now_text)) ||
       json_object_set_new(f, "Note", n))
      return CH_ERR_NOMEM;
  }
  if((v = json_object_get(r, "Severity"))) {
    json_t *sev = json_object_get(f, "Severity");
    if(!json_is_object(sev)) {
      if(!(sev = json_object()) || json_object_set_new(f, "Severity", sev))
        return CH_ERR_NOMEM;
    }
    json_t *l = json_object_get(v, "Label"),
           *n = json_object_get(v, "Normalized");
    json_t *p = json_object_get(v, "Product");
    if(l && json_object_set(sev, "Label", l))
      return CH_ERR_NOMEM;
    if(n && json_object_set(sev, "Normalized", n))
      return CH_ERR_NOMEM;
    /* One given: the other follows it, as Security Hub does. */
    if(n && !l &&
       json_object_set_new(sev, "Label",
                           json_string(label_of(json_integer_value(n)))))
      return CH_ERR_NOMEM;
    if(l && !n)
      for(size_t i = 0; i < CH_ARRAY_LEN(labels); i++)
        if(!strcmp(labels[i].label, json_string_value(l)) &&
           json_object_set_new(sev, "Normalized",
                               json_integer(labels[i].normalized)))
          return CH_ERR_NOMEM;
    if(p && json_object_set(sev, "Product", p))
      return CH_ERR_NOMEM;
  }
  static const char *const plain[] = {"VerificationState", "Confidence",
                                      "Criticality", "Types",
                                      "RelatedFindings"};
  for(size_t i = 0; i < CH_ARRAY_LEN(plain); i++)
    if((v = json_object_get(r, plain[i])) && json_object_set(f, plain[i], v))
      return CH_ERR_NOMEM;
  if((v = json_object_get(r, "UserDefinedFields"))) {
    /* Merged into the existing fields. */
    json_t *u = json_object_get(f, "UserDefinedFields");
    if(!json_is_object(u)) {
      if(!(u = json_object()) ||
         json_object_set_new(f, "UserDefinedFields", u))
        return CH_ERR_NOMEM;
    }
    if(json_object_update(u, v))
      return CH_ERR_NOMEM;
  }
  if((v = json_object_get(r, "Workflow"))) {
    json_t *w = json_object_get(f, "Workflow");
    if(!json_is_object(w)) {
      if(!(w = json_object()) || json_object_set_new(f, "Workflow", w))
        return CH_ERR_NOMEM;
    }
    if(json_object_set(w, "Status", json_object_get(v, "Status")))
      return CH_ERR_NOMEM;
    /* The deprecated WorkflowState follows Status where a finding has it. */
  }
  return CH_OK;
}

static ch_err unprocessed(json_t *arr, json_t *ident, const char *code,
                          const char *msg)
{
  json_t *e = json_pack("{s:O, s:s, s:s}", "FindingIdentifier", ident,
                        "ErrorCode", code, "ErrorMessage", msg);
  if(!e || json_array_append_new(arr, e))
    return CH_ERR_NOMEM;
  return CH_OK;
}

static ch_err update_one(certhub_store *s, json_t *r, json_t *ident,
                         int64_t now_ms, const char *now_text, json_t *done,
                         json_t *failed)
{
  const char *id = json_string_value(json_object_get(ident, "Id"));
  const char *pa = json_string_value(json_object_get(ident, "ProductArn"));
  stored st = {0};
  json_t *f = NULL;
  char *text = NULL;
  ch_err rc = certhub_store_finding_get(s, pa, id, stored_cb, &st);
  if(rc == CH_ERR_NOTFOUND) {
    rc = unprocessed(failed, ident, "FindingNotFound", "Finding Not Found");
    goto out;
  }
  if(rc)
    goto out;
  if(!(f = json_loads(st.row.json, 0, NULL))) {
    rc = unprocessed(failed, ident, "InternalFailure",
                     "Internal service failure");
    goto out;
  }
  if((rc = apply(f, r, now_text)))
    goto out;
  if(!(text = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(strlen(text) > CERTHUB_FINDING_MAX_BYTES) {
    rc = unprocessed(failed, ident, "FindingSizeExceeded",
                     "Finding size exceeded 240 KB");
    goto out;
  }
  json_t *sev = json_object_get(f, "Severity");
  json_t *lab = json_object_get(sev, "Label");
  json_t *wf = json_object_get(json_object_get(f, "Workflow"), "Status");
  certhub_finding_row row = st.row;
  row.severity_label = json_is_string(lab) ? json_string_value(lab) : "";
  row.workflow_status = json_is_string(wf) ? json_string_value(wf) : "NEW";
  row.json = text;
  /* Not the stored row's: those pointed into the store's statement. */
  ch_findings_row_query_fields(f, &row);
  if((rc = certhub_store_finding_put(s, &row, now_ms / 1000)))
    goto out;
  json_t *e = json_pack("{s:s, s:s}", "Id", id, "ProductArn", pa);
  if(!e || json_array_append_new(done, e))
    rc = CH_ERR_NOMEM;
out:
  free(text);
  json_decref(f);
  stored_free(&st);
  return rc;
}

ch_err certhub_findings_update_json(certhub_store *s, const char *req,
                                    size_t len, int64_t now, char **out,
                                    size_t *out_len)
{
  json_t *r = NULL, *done = NULL, *failed = NULL, *o = NULL;
  json_error_t jerr;
  bool in_sp = false;
  ch_err rc;
  if(!out || !out_len)
    return CH_ERR_USAGE;
  *out = NULL;
  *out_len = 0;
  if(!s || (!req && len))
    return CH_ERR_USAGE;
  if(len > REQUEST_MAX)
    return certhub_store_fail(s, CH_ERR_TOOBIG,
                              "BatchUpdateFindings request is %zu bytes (at "
                              "most %d)",
                              len, REQUEST_MAX);
  r = json_loadb(req ? req : "", len, JSON_REJECT_DUPLICATES, &jerr);
  if(!r || !json_is_object(r)) {
    rc = r ? certhub_store_fail(s, CH_ERR_PARSE,
                                "BatchUpdateFindings request must be a JSON "
                                "object")
           : certhub_store_fail(s, CH_ERR_PARSE,
                                "BatchUpdateFindings request: invalid JSON at "
                                "line %d column %d: %s",
                                jerr.line, jerr.column, jerr.text);
    goto out;
  }
  if((rc = check_request(s, r)))
    goto out;
  if(!(done = json_array()) || !(failed = json_array())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  /* Note.UpdatedAt, to the millisecond like ASFF timestamps. */
  int64_t now_ms = now * 1000;
  char now_text[32];
  ch_findings_time_format(now_ms, now_text);
  if((rc = certhub_store_savepoint(s)))
    goto out;
  in_sp = true;
  json_t *ids = json_object_get(r, "FindingIdentifiers");
  size_t i;
  json_t *ident;
  json_array_foreach(ids, i, ident)
  {
    bool dup = false;
    for(size_t j = 0; j < i && !dup; j++)
      dup = json_equal(json_array_get(ids, j), ident);
    rc = dup ? unprocessed(failed, ident, "DuplicatedFindingIdentifier",
                           "Finding Identifier is duplicated")
             : update_one(s, r, ident, now_ms, now_text, done, failed);
    if(rc)
      break;
  }
  if(!rc && !(rc = certhub_store_release(s)))
    in_sp = false;
  if(rc)
    goto out;
  o = json_pack("{s:O, s:O}", "ProcessedFindings", done, "UnprocessedFindings",
                failed);
  if(!o || !(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
    rc = certhub_store_fail(s, CH_ERR_NOMEM,
                            "BatchUpdateFindings: out of memory");
    goto out;
  }
  *out_len = strlen(*out);
out:
  if(in_sp) {
    /* Keep the storage error text over the rollback's. */
    char keep[CUT * 4];
    snprintf(keep, sizeof(keep), "%s", certhub_store_errmsg(s));
    certhub_store_rollback_to(s);
    certhub_store_fail(s, rc, "BatchUpdateFindings: %s", keep);
  }
  json_decref(o);
  json_decref(done);
  json_decref(failed);
  json_decref(r);
  return rc;
}

ch_err certhub_import_result_json(const certhub_import_result *r, char **out,
                                  size_t *out_len)
{
  json_t *failed = NULL, *o = NULL;
  ch_err rc = CH_ERR_NOMEM;
  if(!r || !out || !out_len)
    return CH_ERR_USAGE;
  *out = NULL;
  *out_len = 0;
  if(!(failed = json_array()))
    goto out;
  for(size_t i = 0; i < r->failed; i++) {
    const certhub_finding_failure *f = &r->failures[i];
    json_t *e = json_pack("{s:s, s:s, s:s}", "Id", f->id ? f->id : "",
                          "ErrorCode", f->code ? f->code : "InvalidInput",
                          "ErrorMessage", f->message ? f->message : "");
    if(!e || json_array_append_new(failed, e))
      goto out;
  }
  o = json_pack("{s:I, s:I, s:O}", "FailedCount", (json_int_t)r->failed,
                "SuccessCount", (json_int_t)r->success, "FailedFindings",
                failed);
  if(!o || !(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    goto out;
  *out_len = strlen(*out);
  rc = CH_OK;
out:
  json_decref(o);
  json_decref(failed);
  return rc;
}

ch_err certhub_findings_prune(certhub_store *s, int64_t now,
                              unsigned max_age_days, uint64_t *n)
{
  if(!max_age_days)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "findings prune: the age must be at least one "
                              "day");
  return certhub_store_findings_prune(
      s, (now - (int64_t)max_age_days * 86400) * 1000, n);
}
