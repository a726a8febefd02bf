/*
 * BatchImportFindings: validate ASFF findings, upsert them by (ProductArn,
 * Id) with Security Hub's rules (newer UpdatedAt wins, customer fields kept,
 * automatic workflow changes) and report per-finding failures.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/time.h"
#include "findings_int.h"

#define ID_MAX 512
#define TITLE_MAX 256
#define DESCRIPTION_MAX 1024
#define RESOURCES_MAX 32
#define TYPES_MAX 50
#define TYPE_MAX 256

/* Fields Security Hub lets only the customer change once a finding
 * exists (BatchUpdateFindings). */
static const char *const customer_fields[] = {
    "Note",
    "UserDefinedFields",
    "VerificationState",
    "Workflow",
};

/* The ASFF type namespaces. */
static const char *const type_namespaces[] = {
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
};

static const char *const severity_labels[] = {
    "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL",
};

static bool in_set(const char *v, const char *const *set, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!strcmp(v, set[i]))
      return true;
  return false;
}

/* Security Hub's mapping of Severity.Normalized to a label. */
static const char *label_of(json_int_t n)
{
  if(n == 0)
    return "INFORMATIONAL";
  if(n < 40)
    return "LOW";
  if(n < 70)
    return "MEDIUM";
  if(n < 90)
    return "HIGH";
  return "CRITICAL";
}

const char *ch_findings_cut(char *buf, const char *s, size_t max)
{
  size_t n = strlen(s);
  if(n > max) {
    n = max;
    while(n && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  return buf;
}

ch_err ch_findings_time_ms(const char *s, int64_t *ms)
{
  int64_t t = 0;
  /* certhub_time_parse needs a full date-time; "T" must be there. */
  if(!s || strlen(s) < 20 || !strchr(s, 'T') ||
     certhub_time_parse(s, &t) != CH_OK)
    return CH_ERR_PARSE;
  int64_t frac = 0;
  const char *dot = strchr(s, '.');
  if(dot) {
    int k = 0;
    for(const char *p = dot + 1; isdigit((unsigned char)*p); p++)
      if(k < 3) {
        frac = frac * 10 + (*p - '0');
        k++;
      }
    for(; k < 3; k++)
      frac *= 10;
  }
  *ms = t * 1000 + frac;
  return CH_OK;
}

void ch_findings_time_format(int64_t ms, char out[32])
{
  char buf[24];
  int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  unsigned milli = (unsigned)(ms - sec * 1000) % 1000u; /* 0..999 */
  certhub_time_format(sec, buf, sizeof(buf));
  /* buf is "YYYY-MM-DDTHH:MM:SSZ" (20 characters, years clamped to four
   * digits): insert the milliseconds. */
  size_t n = strlen(buf);
  if(n && buf[n - 1] == 'Z')
    buf[n - 1] = '\0';
  snprintf(out, 32, "%.20s.%03uZ", buf, milli);
}

/* ---- result ----------------------------------------------------------- */

void certhub_import_result_free(certhub_import_result *r)
{
  if(!r)
    return;
  for(size_t i = 0; i < r->failed; i++) {
    free(r->failures[i].id);
    free(r->failures[i].code);
    free(r->failures[i].message);
  }
  free(r->failures);
  memset(r, 0, sizeof(*r));
}

static ch_err add_failure(certhub_import_result *r, const char *id,
                          const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ch_err add_failure(certhub_import_result *r, const char *id,
                          const char *code, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  certhub_finding_failure *f =
      realloc(r->failures, (r->failed + 1) * sizeof(*f));
  if(!f)
    return CH_ERR_NOMEM;
  r->failures = f;
  f += r->failed;
  /* An Id refused for its length would otherwise be echoed whole. */
  f->id = malloc(ID_MAX + 1);
  if(f->id)
    ch_findings_cut(f->id, id ? id : "", ID_MAX);
  f->code = strdup(code);
  f->message = strdup(msg);
  r->failed++;
  if(!f->id || !f->code || !f->message)
    return CH_ERR_NOMEM;
  return CH_OK;
}

/* ---- validation ------------------------------------------------------- */

/* Validation failure: code and message for one finding. */
typedef struct vfail {
  const char *code;
  char msg[400];
} vfail;

static bool vf(vfail *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool vf(vfail *v, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
  va_end(ap);
  v->code = code;
  return false;
}

#define NOIDX ((size_t)-1)

/* A field's name for a message: pre, pre[i] or pre[i]post. Only built on
 * the error path. */
static const char *nm(char *buf, size_t cap, const char *pre, size_t i,
                      const char *post)
{
  if(i == NOIDX)
    snprintf(buf, cap, "%s%s", pre, post ? post : "");
  else
    snprintf(buf, cap, "%s[%zu]%s", pre, i, post ? post : "");
  return buf;
}

static const char *type_name(const json_t *j)
{
  switch(json_typeof(j)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

/* Security Hub's limits count characters, not bytes. A string's character
 * count is at most its byte count, so code points are only counted when
 * the bytes are over the limit. 0 when within max. */
static size_t over_s(const char *s, size_t bytes, size_t max)
{
  if(!max || bytes <= max)
    return 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;
  for(size_t k = 0; k < bytes; k++)
    n += (p[k] & 0xc0) != 0x80;
  return n > max ? n : 0;
}

static size_t over(const json_t *j, size_t max)
{
  return over_s(json_string_value(j), json_string_length(j), max);
}

/* j (present) must be a non-empty string of at most max characters (0: no
 * limit). The field is named pre, pre[i] or pre[i]post. */
static bool check_str(const json_t *j, const char *pre, size_t i,
                      const char *post, size_t max, vfail *v)
{
  char b[128];
  size_t n;
  if(!json_is_string(j))
    return vf(v, "InvalidInput", "field '%s' must be a string, not %s",
              nm(b, sizeof(b), pre, i, post), type_name(j));
  if(!json_string_length(j))
    return vf(v, "InvalidInput", "field '%s' must not be empty",
              nm(b, sizeof(b), pre, i, post));
  if((n = over(j, max)))
    return vf(v, "InvalidInput",
              "field '%s' is longer than %zu characters (it has %zu)",
              nm(b, sizeof(b), pre, i, post), max, n);
  return true;
}

/* An optional string at o[key]. */
static bool opt_str(json_t *o, const char *key, const char *pre, size_t max,
                    vfail *v)
{
  json_t *j = json_object_get(o, key);
  if(!j)
    return true;
  char b[96];
  snprintf(b, sizeof(b), "%s%s", pre, key);
  return check_str(j, b, NOIDX, NULL, max, v);
}

#define MAP_MAX 50 /* key-value pairs in ProductFields, UDF, Tags */
#define MAP_KEY_MAX 128

/* A map of strings (ProductFields, UserDefinedFields, Resources[].Tags): an
 * object of at most MAP_MAX entries, keys of at most MAP_KEY_MAX and
 * values of at most val_max characters. */
static bool check_map(json_t *m, const char *pre, size_t i, const char *post,
                      size_t val_max, vfail *v)
{
  char b[128], kb[72];
  const char *k;
  json_t *e;
  size_t n;
  if(!json_is_object(m))
    return vf(v, "InvalidInput",
              "field '%s' must be an object of strings, not %s",
              nm(b, sizeof(b), pre, i, post), type_name(m));
  if(json_object_size(m) > MAP_MAX)
    return vf(v, "InvalidInput", "field '%s' has %zu entries (at most %d)",
              nm(b, sizeof(b), pre, i, post), json_object_size(m), MAP_MAX);
  json_object_foreach(m, k, e)
  {
    n = over_s(k, strlen(k), MAP_KEY_MAX);
    if(!*k || n)
      return vf(v, "InvalidInput",
                "field '%s' has a key '%s' that is %s (1 to %d characters)",
                nm(b, sizeof(b), pre, i, post), ch_findings_cut(kb, k, 64),
                *k ? "too long" : "empty", MAP_KEY_MAX);
    if(!json_is_string(e))
      return vf(v, "InvalidInput", "field '%s.%s' must be a string, not %s",
                nm(b, sizeof(b), pre, i, post), ch_findings_cut(kb, k, 64),
                type_name(e));
    if((n = over(e, val_max)))
      return vf(v, "InvalidInput",
                "field '%s.%s' is longer than %zu characters (it has %zu)",
                nm(b, sizeof(b), pre, i, post), ch_findings_cut(kb, k, 64),
                val_max, n);
  }
  return true;
}

/* A required non-empty string of at most max characters (0: no limit). */
static bool req_str(json_t *f, const char *key, size_t max, vfail *v,
                    const char **out)
{
  json_t *j = json_object_get(f, key);
  if(!j)
    return vf(v, "MissingRequiredField", "missing required field '%s'", key);
  if(!check_str(j, key, NOIDX, NULL, max, v))
    return false;
  if(out)
    *out = json_string_value(j);
  return true;
}

static bool time_field(json_t *f, const char *key, bool required, vfail *v,
                       int64_t *ms)
{
  char cb[72];
  const char *s = NULL;
  *ms = 0;
  if(!required && !json_object_get(f, key))
    return true;
  if(!req_str(f, key, 64, v, &s))
    return false;
  if(ch_findings_time_ms(s, ms))
    return vf(v, "InvalidInput",
              "field '%s' is not an RFC 3339 timestamp: '%s'", key,
              ch_findings_cut(cb, s, 64));
  return true;
}

/* An optional enum at f[key] (or f[obj][key] when obj is set). */
static bool opt_enum(json_t *f, const char *obj, const char *key,
                     const char *const *set, size_t n, vfail *v)
{
  json_t *j = f;
  if(obj) {
    j = json_object_get(f, obj);
    if(!j)
      return true;
    if(!json_is_object(j))
      return vf(v, "InvalidInput", "field '%s' must be an object", obj);
  }
  json_t *e = json_object_get(j, key);
  if(!e)
    return true;
  if(!json_is_string(e) || !in_set(json_string_value(e), set, n))
    return vf(v, "InvalidInput", "field '%s%s%s' has an invalid value",
              obj ? obj : "", obj ? "." : "", key);
  return true;
}

bool ch_findings_valid_type(const char *t)
{
  /* namespace[/category[/classifier]] with a known namespace. */
  const char *slash = strchr(t, '/');
  size_t n = slash ? (size_t)(slash - t) : strlen(t);
  bool known = false;
  for(size_t i = 0; i < CH_ARRAY_LEN(type_namespaces); i++)
    if(strlen(type_namespaces[i]) == n && !strncmp(t, type_namespaces[i], n))
      known = true;
  if(!known)
    return false;
  int parts = 1;
  for(const char *p = t; *p; p++)
    if(*p == '/') {
      if(p[1] == '\0' || p[1] == '/')
        return false;
      parts++;
    }
  return parts <= 3;
}

/* Confidence and Criticality: integers 0..100 where present. */
static bool ratio(json_t *o, const char *key, const char *where, vfail *v)
{
  json_t *j = json_object_get(o, key);
  if(j && (!json_is_integer(j) || json_integer_value(j) < 0 ||
           json_integer_value(j) > 100))
    return vf(v, "InvalidInput", "%s%s must be an integer from 0 to 100",
              where, key);
  return true;
}

/* RelatedFindings: an array of {ProductArn, Id}. */
static bool valid_related(json_t *o, const char *name, vfail *v)
{
  json_t *rel = json_object_get(o, "RelatedFindings"), *e;
  size_t i;
  if(!rel)
    return true;
  if(!json_is_array(rel))
    return vf(v, "InvalidInput", "field '%s' must be an array, not %s", name,
              type_name(rel));
  json_array_foreach(rel, i, e)
  {
    json_t *arn = json_object_get(e, "ProductArn"),
           *id = json_object_get(e, "Id");
    if(!json_is_object(e) || !arn || !id)
      return vf(v, "InvalidInput",
                "field '%s[%zu]' must be an object with ProductArn and Id",
                name, i);
    if(!check_str(arn, name, i, ".ProductArn", 2048, v) ||
       !check_str(id, name, i, ".Id", ID_MAX, v))
      return false;
  }
  return true;
}

/* FindingProviderFields {Confidence, Criticality, RelatedFindings,
 * Severity {Label, Original}, Types}: their values may become the
 * top-level ones, so they get the top-level checks. */
static bool valid_provider_fields(json_t *f, vfail *v)
{
  if(!ratio(f, "Confidence", "", v) || !ratio(f, "Criticality", "", v))
    return false;
  json_t *fpf = json_object_get(f, "FindingProviderFields");
  if(!fpf)
    return true;
  if(!json_is_object(fpf))
    return vf(v, "InvalidInput", "FindingProviderFields must be an object");
  if(!ratio(fpf, "Confidence", "FindingProviderFields.", v) ||
     !ratio(fpf, "Criticality", "FindingProviderFields.", v))
    return false;
  json_t *sev = json_object_get(fpf, "Severity");
  json_t *label = json_object_get(sev, "Label");
  if(sev && (!json_is_object(sev) ||
             (label && (!json_is_string(label) ||
                        !in_set(json_string_value(label), severity_labels,
                                CH_ARRAY_LEN(severity_labels))))))
    return vf(v, "InvalidInput",
              "FindingProviderFields.Severity.Label must be INFORMATIONAL, "
              "LOW, MEDIUM, HIGH or CRITICAL");
  json_t *types = json_object_get(fpf, "Types");
  if(types) {
    size_t i;
    json_t *e;
    if(!json_is_array(types) || json_array_size(types) > TYPES_MAX)
      return vf(v, "InvalidInput",
                "FindingProviderFields.Types must be an array of at most %d",
                TYPES_MAX);
    json_array_foreach(types, i, e)
    {
      if(!json_is_string(e) || json_string_length(e) > TYPE_MAX ||
         !ch_findings_valid_type(json_string_value(e)))
        return vf(v, "InvalidInput",
                  "FindingProviderFields.Types[%zu] is not a valid type", i);
    }
  }
  return valid_related(fpf, "FindingProviderFields.RelatedFindings", v);
}

#define RESOURCE_TYPE_MAX 256
#define TAG_VALUE_MAX 256
#define UDF_VALUE_MAX 1024
#define PRODUCT_FIELD_VALUE_MAX 2048
#define NOTE_TEXT_MAX 512
#define NOTE_BY_MAX 512

/* Resources[i] (an object): Type and Id required; Tags, Partition, Region,
 * ResourceRole, Details typed where present. */
static bool valid_resource(json_t *e, size_t i, vfail *v)
{
  json_t *ty = json_object_get(e, "Type"), *id = json_object_get(e, "Id");
  if(!ty)
    return vf(v, "MissingRequiredField", "Resources[%zu].Type is missing", i);
  if(!id)
    return vf(v, "MissingRequiredField", "Resources[%zu].Id is missing", i);
  if(!check_str(ty, "Resources", i, ".Type", RESOURCE_TYPE_MAX, v) ||
     !check_str(id, "Resources", i, ".Id", ID_MAX, v))
    return false;
  static const char *const strs[] = {"Partition", "Region", "ResourceRole"};
  for(size_t k = 0; k < CH_ARRAY_LEN(strs); k++) {
    json_t *j = json_object_get(e, strs[k]);
    char post[24];
    if(j) {
      snprintf(post, sizeof(post), ".%s", strs[k]);
      if(!check_str(j, "Resources", i, post, 128, v))
        return false;
    }
  }
  json_t *tags = json_object_get(e, "Tags");
  if(tags && !check_map(tags, "Resources", i, ".Tags", TAG_VALUE_MAX, v))
    return false;
  json_t *det = json_object_get(e, "Details");
  if(det && !json_is_object(det))
    return vf(v, "InvalidInput",
              "field 'Resources[%zu].Details' must be an object, not %s", i,
              type_name(det));
  return true;
}

/* The optional top-level attributes' JSON types and limits (Security Hub's
 * AwsSecurityFinding reference; the ones with their own rules are checked
 * below the table). Looked up only by key, so a finding without them pays
 * one hash lookup each. */
typedef enum akind { A_STR, A_BOOL, A_OBJ, A_ARR } akind;
typedef struct attr {
  const char *key;
  akind kind;
  size_t max; /* characters (A_STR) or entries (A_ARR); 0: no own limit */
} attr;

static const attr optional_attrs[] = {
    {"Action", A_OBJ, 0},           {"AwsAccountName", A_STR, 0},
    {"CompanyName", A_STR, 0},      {"Detection", A_OBJ, 0},
    {"GeneratorDetails", A_OBJ, 0}, {"Malware", A_ARR, 5},
    {"Network", A_OBJ, 0},          {"NetworkPath", A_ARR, 0},
    {"PatchSummary", A_OBJ, 0},     {"Process", A_OBJ, 0},
    {"ProcessedAt", A_STR, 64},     {"ProductName", A_STR, 0},
    {"Region", A_STR, 0},           {"Sample", A_BOOL, 0},
    {"SourceUrl", A_STR, 0},        {"ThreatIntelIndicators", A_ARR, 5},
    {"Threats", A_ARR, 0},          {"Vulnerabilities", A_ARR, 0},
};

static bool valid_note(json_t *n, vfail *v)
{
  char cb[72];
  if(!json_is_object(n))
    return vf(v, "InvalidInput", "field 'Note' must be an object, not %s",
              type_name(n));
  json_t *text = json_object_get(n, "Text"),
         *by = json_object_get(n, "UpdatedBy"),
         *at = json_object_get(n, "UpdatedAt");
  if(!text || !by || !at)
    return vf(v, "MissingRequiredField",
              "field 'Note' needs Text, UpdatedBy and UpdatedAt");
  if(!check_str(text, "Note.Text", NOIDX, NULL, NOTE_TEXT_MAX, v) ||
     !check_str(by, "Note.UpdatedBy", NOIDX, NULL, NOTE_BY_MAX, v) ||
     !check_str(at, "Note.UpdatedAt", NOIDX, NULL, 64, v))
    return false;
  int64_t ms;
  if(ch_findings_time_ms(json_string_value(at), &ms))
    return vf(v, "InvalidInput",
              "field 'Note.UpdatedAt' is not an RFC 3339 timestamp: '%s'",
              ch_findings_cut(cb, json_string_value(at), 64));
  return true;
}

static bool valid_optional(json_t *f, vfail *v)
{
  for(size_t k = 0; k < CH_ARRAY_LEN(optional_attrs); k++) {
    const attr *a = &optional_attrs[k];
    json_t *j = json_object_get(f, a->key);
    if(!j)
      continue;
    switch(a->kind) {
    case A_STR:
      if(!check_str(j, a->key, NOIDX, NULL, a->max, v))
        return false;
      break;
    case A_BOOL:
      if(!json_is_boolean(j))
        return vf(v, "InvalidInput",
                  "field '%s' must be true or false, not %s", a->key,
                  type_name(j));
      break;
    case A_OBJ:
      if(!json_is_object(j))
        return vf(v, "InvalidInput", "field '%s' must be an object, not %s",
                  a->key, type_name(j));
      break;
    case A_ARR:
      if(!json_is_array(j))
        return vf(v, "InvalidInput", "field '%s' must be an array, not %s",
                  a->key, type_name(j));
      if(a->max && json_array_size(j) > a->max)
        return vf(v, "InvalidInput",
                  "field '%s' has %zu entries (at most %zu)", a->key,
                  json_array_size(j), a->max);
      break;
    }
  }
  static const char *const verification[] = {
      "UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"};
  static const char *const workflow_states[] = {
      "NEW", "ASSIGNED", "IN_PROGRESS", "DEFERRED", "RESOLVED"};
  json_t *j;
  if((j = json_object_get(f, "VerificationState")) &&
     (!json_is_string(j) ||
      !in_set(json_string_value(j), verification, CH_ARRAY_LEN(verification))))
    return vf(v, "InvalidInput",
              "field 'VerificationState' must be UNKNOWN, TRUE_POSITIVE, "
              "FALSE_POSITIVE or BENIGN_POSITIVE");
  if((j = json_object_get(f, "WorkflowState")) &&
     (!json_is_string(j) || !in_set(json_string_value(j), workflow_states,
                                    CH_ARRAY_LEN(workflow_states))))
    return vf(v, "InvalidInput",
              "field 'WorkflowState' must be NEW, ASSIGNED, IN_PROGRESS, "
              "DEFERRED or RESOLVED");
  if((j = json_object_get(f, "Note")) && !valid_note(j, v))
    return false;
  if((j = json_object_get(f, "ProductFields")) &&
     !check_map(j, "ProductFields", NOIDX, NULL, PRODUCT_FIELD_VALUE_MAX, v))
    return false;
  if((j = json_object_get(f, "UserDefinedFields")) &&
     !check_map(j, "UserDefinedFields", NOIDX, NULL, UDF_VALUE_MAX, v))
    return false;
  if((j = json_object_get(f, "Remediation"))) {
    json_t *rec = json_object_get(j, "Recommendation");
    if(!json_is_object(j))
      return vf(v, "InvalidInput",
                "field 'Remediation' must be an object, not %s", type_name(j));
    if(rec && !json_is_object(rec))
      return vf(v, "InvalidInput",
                "field 'Remediation.Recommendation' must be an object, not %s",
                type_name(rec));
    if(rec && (!opt_str(rec, "Text", "Remediation.Recommendation.", 0, v) ||
               !opt_str(rec, "Url", "Remediation.Recommendation.", 0, v)))
      return false;
  }
  return valid_related(f, "RelatedFindings", v);
}

/* The finding's validated fields that the row needs. */
typedef struct parsed {
  const char *id, *product_arn, *generator_id, *account, *resource_id;
  const char *label;
  int64_t created_at, updated_at, first_observed_at, last_observed_at;
} parsed;

static bool validate(json_t *f, parsed *p, vfail *v)
{
  const char *s = NULL;
  char cb[256];
  memset(p, 0, sizeof(*p));
  if(!json_is_object(f))
    return vf(v, "InvalidInput", "finding is not a JSON object");
  /* Id first: later failures can name it. */
  if(!req_str(f, "Id", ID_MAX, v, &p->id))
    return false;
  if(!req_str(f, "SchemaVersion", 0, v, &s))
    return false;
  if(strcmp(s, CERTHUB_ASFF_SCHEMA_VERSION))
    return vf(v, "InvalidInput", "SchemaVersion must be \"%s\", not \"%s\"",
              CERTHUB_ASFF_SCHEMA_VERSION, ch_findings_cut(cb, s, 32));
  if(!req_str(f, "ProductArn", 2048, v, &p->product_arn))
    return false;
  if(strncmp(p->product_arn, "arn:", 4) ||
     !strstr(p->product_arn, ":product/"))
    return vf(v, "InvalidInput",
              "ProductArn '%s' is not arn:PARTITION:securityhub:REGION:"
              "ACCOUNT:product/COMPANY/PRODUCT",
              ch_findings_cut(cb, p->product_arn, 200));
  if(!req_str(f, "GeneratorId", ID_MAX, v, &p->generator_id))
    return false;
  if(!req_str(f, "AwsAccountId", 0, v, &p->account))
    return false;
  if(strlen(p->account) != 12 || strspn(p->account, "0123456789") != 12)
    return vf(v, "InvalidInput", "AwsAccountId must be 12 digits");
  if(!req_str(f, "Title", TITLE_MAX, v, NULL) ||
     !req_str(f, "Description", DESCRIPTION_MAX, v, NULL))
    return false;
  if(!time_field(f, "CreatedAt", true, v, &p->created_at) ||
     !time_field(f, "UpdatedAt", true, v, &p->updated_at) ||
     !time_field(f, "FirstObservedAt", false, v, &p->first_observed_at) ||
     !time_field(f, "LastObservedAt", false, v, &p->last_observed_at))
    return false;

  json_t *types = json_object_get(f, "Types");
  if(!types)
    return vf(v, "MissingRequiredField", "missing required field 'Types'");
  if(!json_is_array(types) || json_array_size(types) == 0)
    return vf(v, "InvalidInput", "Types must be a non-empty array");
  if(json_array_size(types) > TYPES_MAX)
    return vf(v, "InvalidInput", "Types has %zu entries (at most %d)",
              json_array_size(types), TYPES_MAX);
  size_t i;
  json_t *e;
  json_array_foreach(types, i, e)
  {
    if(!json_is_string(e) || json_string_length(e) > TYPE_MAX ||
       !ch_findings_valid_type(json_string_value(e)))
      return vf(v, "InvalidInput",
                "Types[%zu] is not namespace/category/classifier with a "
                "known namespace (e.g. \"Software and Configuration "
                "Checks/...\")",
                i);
  }

  json_t *res = json_object_get(f, "Resources");
  if(!res)
    return vf(v, "MissingRequiredField", "missing required field 'Resources'");
  if(!json_is_array(res) || json_array_size(res) == 0)
    return vf(v, "InvalidInput", "Resources must be a non-empty array");
  if(json_array_size(res) > RESOURCES_MAX)
    return vf(v, "InvalidInput", "Resources has %zu entries (at most %d)",
              json_array_size(res), RESOURCES_MAX);
  json_array_foreach(res, i, e)
  {
    if(!json_is_object(e))
      return vf(v, "InvalidInput", "Resources[%zu] is not an object", i);
    if(!valid_resource(e, i, v))
      return false;
    if(i == 0)
      p->resource_id = json_string_value(json_object_get(e, "Id"));
  }

  json_t *sev = json_object_get(f, "Severity");
  if(!sev)
    return vf(v, "MissingRequiredField", "missing required field 'Severity'");
  if(!json_is_object(sev))
    return vf(v, "InvalidInput", "Severity must be an object");
  json_t *label = json_object_get(sev, "Label");
  json_t *norm = json_object_get(sev, "Normalized");
  if(!label && !norm)
    return vf(v, "MissingRequiredField", "Severity needs Label or Normalized");
  if(label && (!json_is_string(label) ||
               !in_set(json_string_value(label), severity_labels,
                       CH_ARRAY_LEN(severity_labels))))
    return vf(v, "InvalidInput",
              "Severity.Label must be INFORMATIONAL, LOW, MEDIUM, HIGH or "
              "CRITICAL");
  if(norm && (!json_is_integer(norm) || json_integer_value(norm) < 0 ||
              json_integer_value(norm) > 100))
    return vf(v, "InvalidInput",
              "Severity.Normalized must be an integer from 0 to 100");
  p->label =
      label ? json_string_value(label) : label_of(json_integer_value(norm));

  static const char *const states[] = {"ACTIVE", "ARCHIVED"};
  static const char *const workflows[] = {"NEW", "NOTIFIED", "RESOLVED",
                                          "SUPPRESSED"};
  static const char *const compliance[] = {"PASSED", "WARNING", "FAILED",
                                           "NOT_AVAILABLE"};
  if(!opt_enum(f, NULL, "RecordState", states, 2, v) ||
     !opt_enum(f, "Workflow", "Status", workflows, 4, v) ||
     !opt_enum(f, "Compliance", "Status", compliance, 4, v))
    return false;
  return valid_optional(f, v) && valid_provider_fields(f, v);
}

/* ---- upsert ----------------------------------------------------------- */

int ch_findings_import_mode;

/* What a lookup of the stored finding found. */
typedef struct got {
  int64_t newer_than; /* parse only when the row's updated_at is below */
  bool always;        /* parse whatever the row's updated_at */
  bool found;
  bool not_newer; /* found, and the import is not newer: not parsed */
  json_t *f;      /* the stored finding, parsed */
  bool bad;
  /* The import's generator, resource, title and product name, and whether
   * the parsed stored finding has the same (certhub_finding_row's
   * same_keys). */
  const char *generator_id, *resource_id, *title, *product_name;
  bool same_keys;
} got;

static bool same_opt(const char *a, const char *b)
{
  return a && b ? !strcmp(a, b) : a == b;
}

/* Parsed straight from the row's text (no copy of the text). The row's
 * updated_at is the stored JSON's UpdatedAt in milliseconds (every writer
 * fills both from the same value), so an import that is not newer is
 * decided without parsing. */
static ch_err got_cb(void *ctx, const certhub_finding_row *row)
{
  got *g = ctx;
  g->found = true;
  json_decref(g->f);
  g->f = NULL;
  if(!g->always && row->updated_at >= g->newer_than) {
    g->not_newer = true;
    return CH_OK;
  }
  g->not_newer = false;
  if(ch_findings_import_mode != CH_FINDINGS_IMPORT_PLAIN)
    g->f = ch_findings_json_parse_fast(row->json, strlen(row->json));
  if(!g->f) /* what the fast parser leaves to jansson, or the plain path */
    g->f = json_loads(row->json, 0, NULL);
  g->bad = !g->f;
  g->same_keys = !g->always && same_opt(row->generator_id, g->generator_id) &&
                 same_opt(row->resource_id, g->resource_id) &&
                 same_opt(row->title, g->title) &&
                 same_opt(row->product_name, g->product_name);
  return CH_OK;
}

/* The stored finding (ProductArn, Id) into g (g->f owned by the caller
 * also on failure). */
static ch_err lookup(certhub_store *s, const char *product_arn, const char *id,
                     got *g)
{
  char cb[256];
  ch_err rc = certhub_store_finding_get(s, product_arn, id, got_cb, g);
  if(rc == CH_ERR_NOTFOUND) {
    g->found = false;
    return CH_OK;
  }
  if(!rc && g->bad)
    rc = certhub_store_fail(s, CH_ERR_INTERNAL,
                            "stored finding '%s' is not valid JSON",
                            ch_findings_cut(cb, id, 200));
  return rc;
}

ch_err ch_findings_stored(certhub_store *s, const char *product_arn,
                          const char *id, json_t **out)
{
  got g = {.always = true};
  *out = NULL;
  ch_err rc = lookup(s, product_arn, id, &g);
  if(rc) {
    json_decref(g.f);
    return rc;
  }
  *out = g.f;
  return CH_OK;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
  json_t *j = json_object_get(o, a);
  if(b)
    j = json_object_get(j, b);
  return json_is_string(j) ? json_string_value(j) : NULL;
}

void ch_findings_row_query_fields(json_t *f, certhub_finding_row *row)
{
  row->title = str_at(f, "Title", NULL);
  row->compliance_status = str_at(f, "Compliance", "Status");
  row->resource_type =
      str_at(json_array_get(json_object_get(f, "Resources"), 0), "Type", NULL);
  row->product_name = str_at(f, "ProductName", NULL);
}

static bool failing(const char *cs)
{
  return cs && strcmp(cs, "PASSED") != 0;
}

/* Carry the stored customer fields over and apply Security Hub's
 * automatic workflow changes. */
static ch_err merge(json_t *f, json_t *old)
{
  const char *old_rs = str_at(old, "RecordState", NULL);
  const char *new_rs = str_at(f, "RecordState", NULL);
  const char *old_cs = str_at(old, "Compliance", "Status");
  const char *new_cs = str_at(f, "Compliance", "Status");
  if(!old_rs)
    old_rs = "ACTIVE";
  if(!new_rs)
    new_rs = "ACTIVE";
  for(size_t i = 0; i < CH_ARRAY_LEN(customer_fields); i++) {
    json_t *keep = json_object_get(old, customer_fields[i]);
    if(keep) {
      if(json_object_set(f, customer_fields[i], keep))
        return CH_ERR_NOMEM;
    }
    else
      json_object_del(f, customer_fields[i]);
  }
  json_t *wf = json_object_get(f, "Workflow");
  const char *st = str_at(f, "Workflow", "Status");
  if(!st)
    st = "NEW";
  const char *next = st;
  /* Security Hub resolves a control finding whose Compliance.Status is
   * PASSED; certhub's checks are controls. Archiving alone changes no
   * workflow (the documented rules only reopen). */
  bool resolved = new_cs && !strcmp(new_cs, "PASSED") &&
                  !(old_cs && !strcmp(old_cs, "PASSED"));
  bool reopened = (!strcmp(old_rs, "ARCHIVED") && !strcmp(new_rs, "ACTIVE")) ||
                  (old_cs && !strcmp(old_cs, "PASSED") && failing(new_cs));
  if(resolved && (!strcmp(st, "NEW") || !strcmp(st, "NOTIFIED")))
    next = "RESOLVED";
  else if(reopened && (!strcmp(st, "NOTIFIED") || !strcmp(st, "RESOLVED")))
    next = "NEW";
  if(!wf || next != st || !str_at(f, "Workflow", "Status")) {
    json_t *w = json_is_object(wf) ? json_deep_copy(wf) : json_object();
    if(!w || json_object_set_new(w, "Status", json_string(next)) ||
       json_object_set_new(f, "Workflow", w))
      return CH_ERR_NOMEM;
  }
  return CH_OK;
}

/* The fields a provider sets through FindingProviderFields and a customer
 * through BatchUpdateFindings (top level). */
static const char *const provider_fields[] = {
    "Confidence", "Criticality", "RelatedFindings", "Severity", "Types",
};

/* FindingProviderFields of f, created when absent. */
static json_t *fpf_of(json_t *f)
{
  json_t *fpf = json_object_get(f, "FindingProviderFields");
  if(json_is_object(fpf))
    return fpf;
  fpf = json_object();
  if(!fpf || json_object_set_new(f, "FindingProviderFields", fpf))
    return NULL;
  return fpf;
}

/* A provider value usable at the top level (new reference), or NULL: a
 * Severity gets the Label its Normalized implies, and one with neither is
 * not usable. */
static json_t *prov_value(const char *k, json_t *v)
{
  if(!v)
    return NULL;
  if(strcmp(k, "Severity"))
    return json_incref(v);
  if(!json_is_object(v))
    return NULL;
  json_t *label = json_object_get(v, "Label");
  json_t *norm = json_object_get(v, "Normalized");
  if(json_is_string(label))
    return json_incref(v);
  if(!json_is_integer(norm) || json_integer_value(norm) < 0 ||
     json_integer_value(norm) > 100)
    return NULL;
  json_t *c = json_deep_copy(v);
  if(c && json_object_set_new(
              c, "Label", json_string(label_of(json_integer_value(norm))))) {
    json_decref(c);
    return NULL;
  }
  return c;
}

/* A new finding: its provider values (FindingProviderFields where given,
 * else the top level) at both places, as Security Hub fills an empty
 * FindingProviderFields from the top level; the copy keeps the provider's
 * values when a customer changes the top level. share: f is only
 * serialized and freed after this, so both places may hold the same value
 * instead of a copy (the same text). */
static ch_err provider_fields_new(json_t *f, bool share)
{
  json_t *fpf = fpf_of(f);
  if(!fpf)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < CH_ARRAY_LEN(provider_fields); i++) {
    const char *k = provider_fields[i];
    json_t *pv = prov_value(k, json_object_get(fpf, k));
    if(!pv)
      pv = json_incref(json_object_get(f, k)); /* top level, or none */
    if(!pv) {
      json_object_del(fpf, k);
      continue;
    }
    json_t *copy = share ? json_incref(pv) : json_deep_copy(pv);
    int bad = json_object_set(f, k, pv) || json_object_set_new(fpf, k, copy);
    json_decref(pv);
    if(bad)
      return CH_ERR_NOMEM;
  }
  return CH_OK;
}

/* Stored top-level value and provider value differ: the customer changed
 * the field with BatchUpdateFindings (which changes only the top level). */
static bool customer_changed(json_t *old, const char *k)
{
  json_t *ofpf = json_object_get(old, "FindingProviderFields");
  json_t *top = json_object_get(old, k), *prov = json_object_get(ofpf, k);
  if(!json_is_object(ofpf)) /* stored before provider fields were kept */
    return false;
  if(!top || !prov)
    return top != prov;
  return !json_equal(top, prov);
}

/* A provider's update of a stored finding: FindingProviderFields take the
 * provider's values (its FindingProviderFields, else its top-level ones);
 * each top-level field follows them unless the customer changed it. */
static ch_err provider_fields_update(json_t *f, json_t *old)
{
  json_t *in = json_object_get(f, "FindingProviderFields");
  json_t *nfpf = json_is_object(in) ? json_deep_copy(in) : json_object();
  ch_err rc = CH_ERR_NOMEM;
  if(!nfpf)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < CH_ARRAY_LEN(provider_fields); i++) {
    const char *k = provider_fields[i];
    json_t *pv = prov_value(k, json_object_get(in, k));
    if(!pv)
      pv = prov_value(k, json_object_get(f, k));
    bool customer = customer_changed(old, k);
    json_t *old_top = json_object_get(old, k);
    int bad = 0;
    if(pv)
      bad = json_object_set_new(nfpf, k, json_deep_copy(pv));
    else
      json_object_del(nfpf, k);
    if(customer) {
      if(old_top)
        bad |= json_object_set(f, k, old_top);
      else
        json_object_del(f, k);
    }
    else if(pv)
      bad |= json_object_set(f, k, pv);
    json_decref(pv);
    if(bad)
      goto out;
  }
  if(json_object_set(f, "FindingProviderFields", nfpf))
    goto out;
  rc = CH_OK;
out:
  json_decref(nfpf);
  return rc;
}

/* Defaults a new finding gets. */
static ch_err defaults(json_t *f, const char *label)
{
  if(!json_object_get(f, "RecordState") &&
     json_object_set_new(f, "RecordState", json_string("ACTIVE")))
    return CH_ERR_NOMEM;
  if(!str_at(f, "Workflow", "Status")) {
    json_t *w = json_object_get(f, "Workflow");
    if(!json_is_object(w)) {
      w = json_object();
      if(!w || json_object_set_new(f, "Workflow", w))
        return CH_ERR_NOMEM;
    }
    if(json_object_set_new(w, "Status", json_string("NEW")))
      return CH_ERR_NOMEM;
  }
  json_t *sev = json_object_get(f, "Severity");
  if(!json_object_get(sev, "Label") &&
     json_object_set_new(sev, "Label", json_string(label)))
    return CH_ERR_NOMEM;
  return CH_OK;
}

/* The Region column: the finding's Region, else the ProductArn's. */
static void region_of(json_t *f, const char *product_arn, char *out,
                      size_t len)
{
  const char *r = str_at(f, "Region", NULL);
  out[0] = '\0';
  if(r) {
    snprintf(out, len, "%s", r);
    return;
  }
  /* arn:partition:service:region:... */
  const char *p = product_arn;
  for(int k = 0; k < 3 && p; k++) {
    p = strchr(p, ':');
    if(p)
      p++;
  }
  if(p) {
    const char *e = strchr(p, ':');
    if(e)
      snprintf(out, len, "%.*s", (int)(e - p), p);
  }
}

/* The insight counts of the findings a call inserted, added to the store
 * once per distinct combination (row.count_later). */
typedef struct counts {
  size_t n;
  struct count {
    certhub_finding_row key; /* strings borrowed from the batch */
    int64_t n;
  } c[CERTHUB_FINDINGS_BATCH_MAX];
} counts;

/* A prepared call: the request's tree and its valid findings. */
struct certhub_import_batch {
  json_t *root; /* owned; NULL when the caller owns the findings */
  size_t n;     /* valid findings, in request order */
  /* The texts of the items' new forms, one after the other. */
  ch_buf texts;
  struct item {
    json_t *f; /* borrowed from root; the request's finding, unchanged
                * until apply merges it */
    parsed p;  /* points into f */
    /* What upsert stores when no finding (ProductArn, Id) exists, built
     * before the writer (speculative_new): nf owned, row pointing into
     * nf, p, region and texts. NULL when not built. */
    json_t *nf;
    certhub_finding_row row;
    size_t text_at;
    char region[128];
    json_t *old; /* the stored finding apply read (owned): freed with the
                  * batch, after the writer */
  } items[CERTHUB_FINDINGS_BATCH_MAX];
  counts counts; /* apply's (here, not on a server thread's stack) */
};

/* The row upsert stores for f (after defaults and the provider fields):
 * strings borrowed from f, p, region and text. */
static void row_of(json_t *f, const parsed *p, const char *text, char *region,
                   size_t region_len, certhub_finding_row *row)
{
  region_of(f, p->product_arn, region, region_len);
  *row = (certhub_finding_row){
      .product_arn = p->product_arn,
      .id = p->id,
      .generator_id = p->generator_id,
      .aws_account_id = p->account,
      .region = region,
      /* The customer's severity may have been kept over the import's. */
      .severity_label = str_at(f, "Severity", "Label")
                            ? str_at(f, "Severity", "Label")
                            : p->label,
      .workflow_status = str_at(f, "Workflow", "Status"),
      .record_state = str_at(f, "RecordState", NULL),
      .resource_id = p->resource_id,
      .created_at = p->created_at,
      .updated_at = p->updated_at,
      .first_observed_at = p->first_observed_at,
      .last_observed_at = p->last_observed_at,
      .json = text,
  };
  ch_findings_row_query_fields(f, row);
}

static bool same_dim(const char *a, const char *b)
{
  return !strcmp(a ? a : "", b ? b : ""); /* the store counts NULL as "" */
}

static void count_new(counts *pc, const certhub_finding_row *row)
{
  for(size_t i = 0; i < pc->n; i++) {
    const certhub_finding_row *k = &pc->c[i].key;
    if(same_dim(k->severity_label, row->severity_label) &&
       same_dim(k->record_state, row->record_state) &&
       same_dim(k->workflow_status, row->workflow_status) &&
       same_dim(k->compliance_status, row->compliance_status) &&
       same_dim(k->aws_account_id, row->aws_account_id)) {
      pc->c[i].n++;
      return;
    }
  }
  /* At most one entry per finding of the call: there is room. */
  pc->c[pc->n].key = *row;
  pc->c[pc->n++].n = 1;
}

static ch_err counts_flush(certhub_store *s, counts *pc)
{
  ch_err rc = CH_OK;
  for(size_t i = 0; i < pc->n && !rc; i++)
    rc = certhub_store_findings_count_add(s, &pc->c[i].key, pc->c[i].n);
  pc->n = 0;
  return rc;
}

/* Import one validated finding. *written false when ignored (not newer).
 * A new finding's count goes into pc; pc is flushed before a stored
 * finding is written (its update trigger moves counts, which must be
 * complete then). */
static ch_err upsert(certhub_store *s, struct item *it, int64_t now,
                     ch_buf *text, counts *pc, bool *written, bool *created)
{
  json_t *f = it->f;
  const parsed *p = &it->p;
  bool plain = ch_findings_import_mode == CH_FINDINGS_IMPORT_PLAIN;
  got g = {.newer_than = p->updated_at,
           .always = plain,
           .generator_id = p->generator_id,
           .resource_id = p->resource_id,
           .title = str_at(f, "Title", NULL),
           .product_name = str_at(f, "ProductName", NULL)};
  certhub_finding_row row;
  *written = *created = false;
  ch_err rc = lookup(s, p->product_arn, p->id, &g);
  json_t *old = it->old = g.f;
  if(rc || (g.found && g.not_newer))
    return rc; /* Security Hub ignores an update that is not newer. */
  if(!g.found && it->nf) {
    /* The common case of a new finding: stored as prepared. */
    rc = certhub_store_finding_put(s, &it->row, now);
    if(!rc)
      count_new(pc, &it->row);
    *written = *created = rc == CH_OK;
    return rc;
  }
  if(old) {
    int64_t old_ms = 0;
    const char *ou = str_at(old, "UpdatedAt", NULL);
    if(ou && !ch_findings_time_ms(ou, &old_ms) && p->updated_at <= old_ms)
      return CH_OK;
    rc = merge(f, old);
    if(!rc)
      rc = provider_fields_update(f, old);
  }
  else
    *created = true;
  if(!rc)
    rc = defaults(f, p->label);
  if(!rc && *created)
    rc = provider_fields_new(f, false);
  if(rc || (rc = ch_findings_json_text(f, text)))
    return rc;
  row_of(f, p, text->data, it->region, sizeof(it->region), &row);
  /* Just looked up in this transaction: a new one needs no update try. */
  row.is_new = *created && !plain;
  /* A merge changes none of them: they are the request's. */
  row.same_keys = !*created && g.same_keys;
  row.count_later = row.is_new;
  if(!*created && pc->n && (rc = counts_flush(s, pc)))
    return rc;
  rc = certhub_store_finding_put(s, &row, now);
  if(!rc && row.count_later)
    count_new(pc, &row);
  *written = rc == CH_OK;
  return rc;
}

/* The new form of every valid finding of b, built outside the writer: a
 * copy of the request's finding (shallow, with copies of the objects
 * defaults and provider_fields_new change, so the request's finding stays
 * as it came for apply's other paths), its defaults and provider fields,
 * its text and row. Whatever fails here only leaves apply the work. */
static void speculative_new(certhub_import_batch *b)
{
  static const char *const changed[] = {"Workflow", "Severity",
                                        "FindingProviderFields"};
  ch_err rc = CH_OK;
  /* A finding's text is at most 4 * CERTHUB_FINDING_MAX_BYTES as in apply
   * (its copies of the provider fields can make it longer than the
   * request's). */
  ch_buf_init(&b->texts, (size_t)4 * CERTHUB_FINDING_MAX_BYTES * b->n);
  for(size_t i = 0; i < b->n && !rc; i++) {
    struct item *it = &b->items[i];
    json_t *nf = json_copy(it->f);
    if(!nf)
      break;
    it->nf = nf;
    for(size_t k = 0; k < CH_ARRAY_LEN(changed) && !rc; k++) {
      json_t *v = json_object_get(nf, changed[k]);
      if(json_is_object(v) &&
         json_object_set_new(nf, changed[k], json_copy(v)))
        rc = CH_ERR_NOMEM;
    }
    if(!rc)
      rc = defaults(nf, it->p.label);
    if(!rc)
      rc = provider_fields_new(nf, true);
    it->text_at = b->texts.len;
    if(!rc)
      rc = ch_findings_json_append(nf, &b->texts);
    if(!rc &&
       b->texts.len - it->text_at > (size_t)4 * CERTHUB_FINDING_MAX_BYTES)
      rc = CH_ERR_TOOBIG; /* apply's own path fails the call */
    if(rc) {
      json_decref(nf);
      it->nf = NULL;
    }
    else {
      b->texts.len++; /* keep the NUL: the next text starts after it */
      row_of(nf, &it->p, NULL, it->region, sizeof(it->region), &it->row);
      it->row.is_new = it->row.count_later = true;
    }
  }
  if(rc && !b->texts.data) /* the buffer could not grow and is gone */
    for(size_t i = 0; i < b->n; i++) {
      json_decref(b->items[i].nf);
      b->items[i].nf = NULL;
    }
  /* The texts no longer move. */
  for(size_t i = 0; i < b->n; i++)
    if(b->items[i].nf)
      b->items[i].row.json = b->texts.data + b->items[i].text_at;
}

/* What the items own (not root). */
static void batch_clear(certhub_import_batch *b)
{
  for(size_t i = 0; i < b->n; i++) {
    json_decref(b->items[i].nf);
    json_decref(b->items[i].old);
    b->items[i].nf = b->items[i].old = NULL;
  }
  ch_buf_free(&b->texts);
}

void certhub_import_batch_free(certhub_import_batch *b)
{
  if(!b)
    return;
  batch_clear(b);
  json_decref(b->root);
  free(b);
}

/* Validation and the size limit, no store: the valid findings go into b,
 * the others into r's failures. */
static ch_err prepare_array(json_t *arr, certhub_import_batch *b,
                            certhub_import_result *r)
{
  ch_err rc = CH_OK;
  size_t n = json_array_size(arr);
  if(n > CERTHUB_FINDINGS_BATCH_MAX) {
    snprintf(r->error, sizeof(r->error),
             "%zu findings in one import (at most %d)", n,
             CERTHUB_FINDINGS_BATCH_MAX);
    return CH_ERR_TOOBIG;
  }
  for(size_t i = 0; i < n && !rc; i++) {
    json_t *f = json_array_get(arr, i);
    struct item *it = &b->items[b->n];
    vfail v = {0};
    if(!validate(f, &it->p, &v)) {
      rc = add_failure(r, it->p.id, v.code, "%s", v.msg);
      continue;
    }
    size_t size = ch_findings_json_size(f);
    if(size > CERTHUB_FINDING_MAX_BYTES) {
      rc = add_failure(r, it->p.id, "InvalidInput",
                       "finding is %zu bytes (at most %d)", size,
                       CERTHUB_FINDING_MAX_BYTES);
      continue;
    }
    it->f = f;
    b->n++;
  }
  return rc;
}

ch_err certhub_findings_import_apply(certhub_store *s, certhub_import_batch *b,
                                     int64_t now, certhub_import_result *r)
{
  ch_err rc = CH_OK;
  bool in_sp = false;
  /* The stored text of each finding apply serializes, one buffer for the
   * call. */
  ch_buf text;
  ch_buf_init(&text, (size_t)4 * CERTHUB_FINDING_MAX_BYTES);
  if(!s || !b || !r)
    return CH_ERR_USAGE;
  if(!b->n)
    return CH_OK;
  counts *pc = &b->counts;
  pc->n = 0;
  if((rc = certhub_store_savepoint(s)))
    goto fail;
  in_sp = true;
  /* In request order, one at a time: a later entry with the same Id sees
   * what an earlier one stored (Security Hub applies a batch in order). */
  for(size_t i = 0; i < b->n; i++) {
    bool written, created;
    rc = upsert(s, &b->items[i], now, &text, pc, &written, &created);
    if(rc)
      break;
    r->success++;
    if(!written)
      r->unchanged++;
    else if(created)
      r->created++;
  }
  ch_buf_free(&text);
  if(!rc)
    rc = counts_flush(s, pc);
  if(!rc && !(rc = certhub_store_release(s)))
    return CH_OK;
fail:
  ch_buf_free(&text);
  snprintf(r->error, sizeof(r->error), "storing findings: %s: %s",
           certhub_strerror(rc), certhub_store_errmsg(s));
  /* Only our own savepoint: "ch_sp" may also name a caller's. */
  if(in_sp)
    certhub_store_rollback_to(s);
  r->success = r->unchanged = r->created = 0;
  return rc;
}

ch_err ch_findings_import_array(certhub_store *s, json_t *arr, int64_t now,
                                certhub_import_result *r)
{
  certhub_import_batch *b = calloc(1, sizeof(*b));
  if(!b)
    return CH_ERR_NOMEM;
  /* No new forms prepared: the caller holds the writer already. */
  ch_err rc = prepare_array(arr, b, r);
  if(!rc)
    rc = certhub_findings_import_apply(s, b, now, r);
  batch_clear(b);
  free(b); /* arr is the caller's */
  return rc;
}

ch_err certhub_findings_import_prepare(const char *json, size_t len,
                                       certhub_import_batch **out,
                                       certhub_import_result *r)
{
  ch_err rc = CH_OK;
  json_error_t jerr;
  certhub_import_batch *b = NULL;
  if(!r || !out)
    return CH_ERR_USAGE;
  *out = NULL;
  memset(r, 0, sizeof(*r));
  if(!json && len)
    return CH_ERR_USAGE;
  if(len > CERTHUB_FINDINGS_REQUEST_MAX) {
    snprintf(r->error, sizeof(r->error), "request is %zu bytes (at most %d)",
             len, CERTHUB_FINDINGS_REQUEST_MAX);
    return CH_ERR_TOOBIG;
  }
  if(!(b = calloc(1, sizeof(*b))))
    return CH_ERR_NOMEM;
  b->root = ch_findings_json_parse(json ? json : "", len, &jerr);
  if(!b->root) {
    snprintf(r->error, sizeof(r->error),
             "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
             jerr.text);
    rc = CH_ERR_PARSE;
    goto out;
  }
  json_t *arr = b->root;
  if(json_is_object(b->root))
    arr = json_object_get(b->root, "Findings");
  if(!json_is_array(arr)) {
    snprintf(r->error, sizeof(r->error),
             "expected a JSON array of findings or {\"Findings\": [...]}");
    rc = CH_ERR_PARSE;
    goto out;
  }
  rc = prepare_array(arr, b, r);
  if(!rc && ch_findings_import_mode != CH_FINDINGS_IMPORT_PLAIN)
    speculative_new(b);
out:
  if(rc)
    certhub_import_batch_free(b);
  else
    *out = b;
  return rc;
}

ch_err certhub_findings_import(certhub_store *s, const char *json, size_t len,
                               int64_t now, certhub_import_result *r)
{
  certhub_import_batch *b = NULL;
  if(!r)
    return CH_ERR_USAGE;
  if(!s) {
    memset(r, 0, sizeof(*r));
    return CH_ERR_USAGE;
  }
  ch_err rc = certhub_findings_import_prepare(json, len, &b, r);
  if(!rc)
    rc = certhub_findings_import_apply(s, b, now, r);
  certhub_import_batch_free(b);
  return rc;
}

ch_err certhub_findings_list(certhub_store *s,
                             const certhub_findings_filter *f,
                             certhub_finding_cb cb, void *ctx)
{
  return certhub_store_findings(s, f, cb, ctx);
}

ch_err certhub_findings_get(certhub_store *s, const char *product_arn,
                            const char *id, certhub_finding_cb cb, void *ctx)
{
  return certhub_store_finding_get(s, product_arn, id, cb, ctx);
}
