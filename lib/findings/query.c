/*
 * GetFindings and GetInsightResults over JSON: Security Hub's filter
 * language (AwsSecurityFindingFilters) parsed and checked here, then run by
 * the store as a structured query (findings_query.h); keyset paging with
 * an opaque, validated NextToken.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/findings_query.h"
#include "certhub/time.h"
#include "findings_int.h"

#define REQUEST_MAX (1024 * 1024)  /* a query request */
#define VALUES_MAX 20              /* filter entries per field */
#define VALUE_MAX 4096             /* one filter string */
#define MAX_RESULTS 100            /* GetFindings MaxResults */
#define INSIGHT_GROUPS_MAX 100     /* groups an insight returns */
#define TOKEN_MAX 16384            /* NextToken characters */
#define OUT_CAP ((size_t)40 << 20) /* 100 findings of 240 KiB, and JSON */
#define DAY_MS ((int64_t)86400000)

typedef struct fname {
  const char *name;
  certhub_fq_field field;
} fname;

/* Security Hub's filter (and SortCriteria) attribute names. */
static const fname names[] = {
    {"Id", CERTHUB_FQ_ID},
    {"ProductArn", CERTHUB_FQ_PRODUCT_ARN},
    {"GeneratorId", CERTHUB_FQ_GENERATOR_ID},
    {"AwsAccountId", CERTHUB_FQ_AWS_ACCOUNT_ID},
    {"Region", CERTHUB_FQ_REGION},
    {"Title", CERTHUB_FQ_TITLE},
    {"Description", CERTHUB_FQ_DESCRIPTION},
    {"Type", CERTHUB_FQ_TYPE},
    {"SeverityLabel", CERTHUB_FQ_SEVERITY_LABEL},
    {"WorkflowStatus", CERTHUB_FQ_WORKFLOW_STATUS},
    {"RecordState", CERTHUB_FQ_RECORD_STATE},
    {"ComplianceStatus", CERTHUB_FQ_COMPLIANCE_STATUS},
    {"ResourceId", CERTHUB_FQ_RESOURCE_ID},
    {"ResourceType", CERTHUB_FQ_RESOURCE_TYPE},
    {"ResourceRegion", CERTHUB_FQ_RESOURCE_REGION},
    {"ResourcePartition", CERTHUB_FQ_RESOURCE_PARTITION},
    {"ProductName", CERTHUB_FQ_PRODUCT_NAME},
    {"CompanyName", CERTHUB_FQ_COMPANY_NAME},
    {"VerificationState", CERTHUB_FQ_VERIFICATION_STATE},
    {"NoteText", CERTHUB_FQ_NOTE_TEXT},
    {"NoteUpdatedBy", CERTHUB_FQ_NOTE_UPDATED_BY},
    {"SourceUrl", CERTHUB_FQ_SOURCE_URL},
    {"RelatedFindingsId", CERTHUB_FQ_RELATED_FINDINGS_ID},
    {"SeverityNormalized", CERTHUB_FQ_SEVERITY_NORMALIZED},
    {"Confidence", CERTHUB_FQ_CONFIDENCE},
    {"Criticality", CERTHUB_FQ_CRITICALITY},
    {"CreatedAt", CERTHUB_FQ_CREATED_AT},
    {"UpdatedAt", CERTHUB_FQ_UPDATED_AT},
    {"FirstObservedAt", CERTHUB_FQ_FIRST_OBSERVED_AT},
    {"LastObservedAt", CERTHUB_FQ_LAST_OBSERVED_AT},
    {"NoteUpdatedAt", CERTHUB_FQ_NOTE_UPDATED_AT},
    {"ResourceTags", CERTHUB_FQ_RESOURCE_TAGS},
    {"UserDefinedFields", CERTHUB_FQ_USER_DEFINED_FIELDS},
    {"ProductFields", CERTHUB_FQ_PRODUCT_FIELDS},
    {"Sample", CERTHUB_FQ_SAMPLE},
};

/* Insight GroupByAttribute values. */
static const certhub_fq_field groupable[] = {
    CERTHUB_FQ_SEVERITY_LABEL,
    CERTHUB_FQ_AWS_ACCOUNT_ID,
    CERTHUB_FQ_REGION,
    CERTHUB_FQ_RESOURCE_TYPE,
    CERTHUB_FQ_TITLE,
    CERTHUB_FQ_GENERATOR_ID,
    CERTHUB_FQ_PRODUCT_NAME,
    CERTHUB_FQ_WORKFLOW_STATUS,
    CERTHUB_FQ_COMPLIANCE_STATUS,
    CERTHUB_FQ_RECORD_STATE,
    CERTHUB_FQ_RESOURCE_ID,
    CERTHUB_FQ_PRODUCT_ARN,
    CERTHUB_FQ_COMPANY_NAME,
    CERTHUB_FQ_VERIFICATION_STATE,
};

static bool field_by_name(const char *n, certhub_fq_field *f)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(names); i++)
    if(!strcmp(names[i].name, n)) {
      *f = names[i].field;
      return true;
    }
  return false;
}

static const char *name_of(certhub_fq_field f)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(names); i++)
    if(names[i].field == f)
      return names[i].name;
  return "?";
}

/* ---- filters ---------------------------------------------------------- */

static const char *const cmp_names[] = {
    [CERTHUB_FQ_EQUALS] = "EQUALS",
    [CERTHUB_FQ_PREFIX] = "PREFIX",
    [CERTHUB_FQ_CONTAINS] = "CONTAINS",
    [CERTHUB_FQ_NOT_EQUALS] = "NOT_EQUALS",
    [CERTHUB_FQ_PREFIX_NOT_EQUALS] = "PREFIX_NOT_EQUALS",
    [CERTHUB_FQ_NOT_CONTAINS] = "NOT_CONTAINS",
};

typedef struct fparse {
  certhub_store *s;
  certhub_fq_cond *conds;
  size_t n;
  int64_t now_ms;
} fparse;

#define CUT 120 /* characters of hostile input quoted in messages */

static ch_err bad(fparse *p, const char *field, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ch_err bad(fparse *p, const char *field, size_t i, const char *fmt, ...)
{
  char msg[400];
  char cb[CUT + 1];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return certhub_store_fail(p->s, CH_ERR_USAGE, "Filters.%s[%zu]: %s",
                            ch_findings_cut(cb, field, CUT), i, msg);
}

/* Keys of o must all be in allowed (NULL-terminated). */
static const char *unknown_key(json_t *o, const char *const *allowed)
{
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v)
  {
    bool ok = false;
    for(size_t i = 0; allowed[i]; i++)
      if(!strcmp(k, allowed[i]))
        ok = true;
    if(!ok)
      return k;
  }
  return NULL;
}

static ch_err parse_string(fparse *p, const char *fname_, size_t i, json_t *e,
                           bool map, certhub_fq_cond *c)
{
  static const char *const skeys[] = {"Value", "Comparison", NULL};
  static const char *const mkeys[] = {"Key", "Value", "Comparison", NULL};
  char cb[CUT + 1];
  const char *k = unknown_key(e, map ? mkeys : skeys);
  if(k)
    return bad(p, fname_, i, "unknown member '%s' (%s)",
               ch_findings_cut(cb, k, CUT),
               map ? "Key, Value and Comparison" : "Value and Comparison");
  json_t *v = json_object_get(e, "Value");
  json_t *cmp = json_object_get(e, "Comparison");
  if(!json_is_string(v))
    return bad(p, fname_, i, "Value must be a string");
  if(json_string_length(v) > VALUE_MAX)
    return bad(p, fname_, i, "Value is longer than %d bytes", VALUE_MAX);
  if(strlen(json_string_value(v)) != json_string_length(v))
    return bad(p, fname_, i, "Value contains a NUL character");
  if(!json_is_string(cmp))
    return bad(p, fname_, i, "Comparison must be a string");
  const char *cs = json_string_value(cmp);
  bool found = false;
  for(size_t j = 0; j < CH_ARRAY_LEN(cmp_names); j++)
    if(!strcmp(cs, cmp_names[j])) {
      c->cmp = (certhub_fq_cmp)j;
      found = true;
    }
  if(!found || (map && (c->cmp == CERTHUB_FQ_PREFIX ||
                        c->cmp == CERTHUB_FQ_PREFIX_NOT_EQUALS)))
    return bad(p, fname_, i, "Comparison '%s' is not %s",
               ch_findings_cut(cb, cs, CUT),
               map ? "EQUALS, NOT_EQUALS, CONTAINS or NOT_CONTAINS"
                   : "EQUALS, PREFIX, CONTAINS, NOT_EQUALS, "
                     "PREFIX_NOT_EQUALS or NOT_CONTAINS");
  c->value = json_string_value(v);
  if(map) {
    json_t *key = json_object_get(e, "Key");
    if(!json_is_string(key) || !json_string_length(key))
      return bad(p, fname_, i, "Key must be a non-empty string");
    if(json_string_length(key) > VALUE_MAX ||
       strlen(json_string_value(key)) != json_string_length(key))
      return bad(p, fname_, i, "Key is too long or contains NUL");
    c->key = json_string_value(key);
  }
  return CH_OK;
}

static ch_err parse_number(fparse *p, const char *fname_, size_t i, json_t *e,
                           certhub_fq_cond *c)
{
  static const struct {
    const char *key;
    unsigned bit;
  } b[] = {{"Gte", CERTHUB_FQ_GTE},
           {"Lte", CERTHUB_FQ_LTE},
           {"Gt", CERTHUB_FQ_GT},
           {"Lt", CERTHUB_FQ_LT},
           {"Eq", CERTHUB_FQ_EQ}};
  double *dst[] = {&c->gte, &c->lte, &c->gt, &c->lt, &c->eq};
  static const char *const keys[] = {"Gte", "Lte", "Gt", "Lt", "Eq", NULL};
  char cb[CUT + 1];
  const char *k = unknown_key(e, keys);
  if(k)
    return bad(p, fname_, i, "unknown member '%s' (Gte, Lte, Gt, Lt, Eq)",
               ch_findings_cut(cb, k, CUT));
  for(size_t j = 0; j < CH_ARRAY_LEN(b); j++) {
    json_t *v = json_object_get(e, b[j].key);
    if(!v)
      continue;
    if(!json_is_number(v) || !isfinite(json_number_value(v)))
      return bad(p, fname_, i, "%s must be a number", b[j].key);
    *dst[j] = json_number_value(v);
    c->bounds |= b[j].bit;
  }
  if(!c->bounds)
    return bad(p, fname_, i, "needs one of Gte, Lte, Gt, Lt or Eq");
  return CH_OK;
}

static ch_err parse_date(fparse *p, const char *fname_, size_t i, json_t *e,
                         certhub_fq_cond *c)
{
  static const char *const keys[] = {"Start", "End", "DateRange", NULL};
  char cb[CUT + 1];
  const char *k = unknown_key(e, keys);
  if(k)
    return bad(p, fname_, i, "unknown member '%s' (Start, End, DateRange)",
               ch_findings_cut(cb, k, CUT));
  json_t *st = json_object_get(e, "Start"), *en = json_object_get(e, "End");
  json_t *dr = json_object_get(e, "DateRange");
  int64_t ms = 0;
  if(dr && (st || en))
    return bad(p, fname_, i, "DateRange cannot be combined with Start/End");
  if(dr) {
    static const char *const dkeys[] = {"Value", "Unit", NULL};
    json_t *v = json_object_get(dr, "Value"), *u = json_object_get(dr, "Unit");
    if(!json_is_object(dr) || unknown_key(dr, dkeys))
      return bad(p, fname_, i,
                 "DateRange must be {\"Value\": N, \"Unit\": "
                 "\"DAYS\"}");
    if(!json_is_integer(v) || json_integer_value(v) < 1 ||
       json_integer_value(v) > 36500)
      return bad(p, fname_, i, "DateRange.Value must be 1..36500 days");
    if(!json_is_string(u) || strcmp(json_string_value(u), "DAYS"))
      return bad(p, fname_, i, "DateRange.Unit must be \"DAYS\"");
    c->gte = (double)(p->now_ms - json_integer_value(v) * DAY_MS);
    c->bounds = CERTHUB_FQ_GTE;
    return CH_OK;
  }
  if(!st && !en)
    return bad(p, fname_, i, "needs Start, End or DateRange");
  if(st) {
    if(!json_is_string(st) || ch_findings_time_ms(json_string_value(st), &ms))
      return bad(p, fname_, i, "Start is not an RFC 3339 timestamp");
    c->gte = (double)ms;
    c->bounds |= CERTHUB_FQ_GTE;
  }
  if(en) {
    if(!json_is_string(en) || ch_findings_time_ms(json_string_value(en), &ms))
      return bad(p, fname_, i, "End is not an RFC 3339 timestamp");
    c->lte = (double)ms;
    c->bounds |= CERTHUB_FQ_LTE;
  }
  return CH_OK;
}

static ch_err parse_bool(fparse *p, const char *fname_, size_t i, json_t *e,
                         certhub_fq_cond *c)
{
  static const char *const keys[] = {"Value", NULL};
  json_t *v = json_object_get(e, "Value");
  if(unknown_key(e, keys) || !json_is_boolean(v))
    return bad(p, fname_, i, "must be {\"Value\": true|false}");
  c->b = json_is_true(v);
  return CH_OK;
}

/* Security Hub refuses some mixes on one field. */
static ch_err check_mix(fparse *p, const char *fname_, size_t from)
{
  bool has[6] = {0};
  for(size_t i = from; i < p->n; i++)
    has[p->conds[i].cmp] = true;
  if(has[CERTHUB_FQ_CONTAINS] && has[CERTHUB_FQ_NOT_CONTAINS])
    return certhub_store_fail(
        p->s, CH_ERR_USAGE,
        "Filters.%s: CONTAINS and NOT_CONTAINS cannot both be used on one "
        "field",
        fname_);
  if(has[CERTHUB_FQ_EQUALS] &&
     (has[CERTHUB_FQ_NOT_EQUALS] || has[CERTHUB_FQ_PREFIX_NOT_EQUALS]))
    return certhub_store_fail(
        p->s, CH_ERR_USAGE,
        "Filters.%s: EQUALS cannot be combined with NOT_EQUALS or "
        "PREFIX_NOT_EQUALS on one field",
        fname_);
  return CH_OK;
}

/* Filters (borrowed: conditions point into it) to p->conds. */
static ch_err parse_filters(fparse *p, json_t *filters)
{
  char cb[CUT + 1];
  if(!filters)
    return CH_OK;
  if(!json_is_object(filters))
    return certhub_store_fail(p->s, CH_ERR_USAGE, "Filters must be an object");
  size_t total = 0;
  const char *k;
  json_t *v;
  json_object_foreach(filters, k, v)
  {
    certhub_fq_field f;
    if(!field_by_name(k, &f))
      return certhub_store_fail(p->s, CH_ERR_USAGE,
                                "Filters: unknown or unsupported filter field "
                                "'%s'",
                                ch_findings_cut(cb, k, CUT));
    if(!json_is_array(v))
      return certhub_store_fail(p->s, CH_ERR_USAGE,
                                "Filters.%s must be an array of filters", k);
    if(json_array_size(v) > VALUES_MAX)
      return certhub_store_fail(p->s, CH_ERR_USAGE,
                                "Filters.%s has %zu values (at most %d)", k,
                                json_array_size(v), VALUES_MAX);
    total += json_array_size(v);
  }
  p->conds = calloc(total ? total : 1, sizeof(*p->conds));
  if(!p->conds)
    return CH_ERR_NOMEM;
  json_object_foreach(filters, k, v)
  {
    certhub_fq_field f = CERTHUB_FQ_ID;
    field_by_name(k, &f);
    certhub_fq_kind kind = certhub_fq_kind_of(f);
    size_t from = p->n, i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
      certhub_fq_cond *c = &p->conds[p->n];
      ch_err rc;
      memset(c, 0, sizeof(*c));
      c->field = f;
      if(!json_is_object(e))
        return bad(p, k, i, "must be an object");
      switch(kind) {
      case CERTHUB_FQK_STRING:
        rc = parse_string(p, k, i, e, false, c);
        break;
      case CERTHUB_FQK_MAP:
        rc = parse_string(p, k, i, e, true, c);
        break;
      case CERTHUB_FQK_NUMBER:
        rc = parse_number(p, k, i, e, c);
        break;
      case CERTHUB_FQK_DATE:
        rc = parse_date(p, k, i, e, c);
        break;
      default:
        rc = parse_bool(p, k, i, e, c);
        break;
      }
      if(rc)
        return rc;
      p->n++;
    }
    if(kind == CERTHUB_FQK_STRING || kind == CERTHUB_FQK_MAP) {
      ch_err rc = check_mix(p, k, from);
      if(rc)
        return rc;
    }
  }
  return CH_OK;
}

/* The request as a JSON object with only the allowed members. */
static ch_err load_request(certhub_store *s, const char *req, size_t len,
                           const char *const *allowed, const char *what,
                           json_t **out)
{
  json_error_t jerr;
  char cb[CUT + 1];
  *out = NULL;
  if(len > REQUEST_MAX)
    return certhub_store_fail(s, CH_ERR_TOOBIG,
                              "%s request is %zu bytes (at most %d)", what,
                              len, REQUEST_MAX);
  json_t *root =
      json_loadb(req ? req : "", len, JSON_REJECT_DUPLICATES, &jerr);
  if(!root)
    return certhub_store_fail(s, CH_ERR_PARSE,
                              "%s request: invalid JSON at line %d column "
                              "%d: %s",
                              what, jerr.line, jerr.column, jerr.text);
  if(!json_is_object(root)) {
    json_decref(root);
    return certhub_store_fail(s, CH_ERR_PARSE,
                              "%s request must be a JSON object", what);
  }
  const char *k = unknown_key(root, allowed);
  if(k) {
    certhub_store_fail(s, CH_ERR_USAGE, "%s request: unknown member '%s'",
                       what, ch_findings_cut(cb, k, CUT));
    json_decref(root);
    return CH_ERR_USAGE;
  }
  *out = root;
  return CH_OK;
}

/* ---- NextToken ---------------------------------------------------------
 * Hex of {"q": fingerprint, "k": [sort key values], "p": ProductArn, "i":
 * Id} and a 64-bit check value of that text: the last row's position (keyset
 * paging, so rows inserted meanwhile neither repeat nor shift pages). The
 * fingerprint (FNV-1a of the canonical Filters and SortCriteria) ties a token
 * to its query: another query's token, an edited or truncated one is refused
 * (the check value). It is not a signature: a deliberately forged token only
 * moves the start within rows the same filter matches, which the caller may
 * read anyway. */
#define TOKEN_SALT 0x6365727468756231ULL

static uint64_t fnv(uint64_t h, const char *s)
{
  for(; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

static ch_err fingerprint(json_t *filters, const certhub_findings_query *q,
                          char out[17])
{
  uint64_t h = 0xcbf29ce484222325ULL;
  char *f = filters ? json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS)
                    : strdup("");
  if(!f)
    return CH_ERR_NOMEM;
  h = fnv(h, f);
  free(f);
  for(size_t i = 0; i < q->n_sort; i++) {
    char b[32];
    snprintf(b, sizeof(b), "|%d%c", (int)q->sort[i], q->desc[i] ? 'd' : 'a');
    h = fnv(h, b);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
  return CH_OK;
}

static ch_err token_make(const char *fp, const certhub_finding_row *f,
                         const certhub_fq_value *keys, size_t nk, char **out)
{
  json_t *k = json_array();
  json_t *o = NULL;
  char *text = NULL;
  ch_err rc = CH_ERR_NOMEM;
  *out = NULL;
  if(!k)
    goto out;
  for(size_t i = 0; i < nk; i++) {
    json_t *v = keys[i].type == CERTHUB_FQV_INT    ? json_integer(keys[i].i)
                : keys[i].type == CERTHUB_FQV_REAL ? json_real(keys[i].d)
                                                   : json_string(keys[i].s);
    if(!v || json_array_append_new(k, v))
      goto out;
  }
  o = json_pack("{s:s, s:O, s:s, s:s}", "q", fp, "k", k, "p", f->product_arn,
                "i", f->id);
  if(!o || !(text = json_dumps(o, JSON_COMPACT)))
    goto out;
  size_t n = strlen(text);
  if(!(*out = malloc(2 * n + 16 + 1)))
    goto out;
  ch_hex_encode((const uint8_t *)text, n, *out);
  snprintf(*out + 2 * n, 17, "%016llx",
           (unsigned long long)fnv(TOKEN_SALT, text));
  rc = CH_OK;
out:
  free(text);
  json_decref(o);
  json_decref(k);
  return rc;
}

/* The position in token (its strings borrowed from *holder, which the
 * caller frees). */
static ch_err token_read(certhub_store *s, const char *tok, const char *fp,
                         size_t nk, certhub_fq_value *vals, json_t **holder,
                         const char **pa, const char **id)
{
  size_t n = strlen(tok);
  ch_err rc = CH_OK;
  char *raw = NULL;
  json_t *o = NULL;
  *holder = NULL;
#define BADTOKEN()                                                            \
  do {                                                                        \
    rc = certhub_store_fail(s, CH_ERR_USAGE,                                  \
                            "NextToken is not valid for this request");       \
    goto out;                                                                 \
  } while(0)
  if(n <= 16 || n > TOKEN_MAX || n % 2)
    BADTOKEN();
  n -= 16; /* the check value */
  if(!(raw = malloc(n / 2 + 1)))
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < n; i += 2) {
    int hi = ch_hex_val(tok[i]), lo = ch_hex_val(tok[i + 1]);
    if(hi < 0 || lo < 0)
      BADTOKEN();
    raw[i / 2] = (char)(hi << 4 | lo);
  }
  raw[n / 2] = '\0';
  char check[17];
  snprintf(check, sizeof(check), "%016llx",
           (unsigned long long)fnv(TOKEN_SALT, raw));
  if(strlen(raw) != n / 2 || strcmp(check, tok + n))
    BADTOKEN();
  o = json_loadb(raw, n / 2, JSON_REJECT_DUPLICATES, NULL);
  json_t *q = json_object_get(o, "q"), *k = json_object_get(o, "k");
  json_t *p = json_object_get(o, "p"), *i = json_object_get(o, "i");
  if(!json_is_object(o) || json_object_size(o) != 4 || !json_is_string(q) ||
     strcmp(json_string_value(q), fp) || !json_is_array(k) ||
     json_array_size(k) != nk || !json_is_string(p) || !json_is_string(i))
    BADTOKEN();
  for(size_t j = 0; j < nk; j++) {
    json_t *v = json_array_get(k, j);
    memset(&vals[j], 0, sizeof(vals[j]));
    if(json_is_integer(v)) {
      vals[j].type = CERTHUB_FQV_INT;
      vals[j].i = json_integer_value(v);
    }
    else if(json_is_real(v)) {
      vals[j].type = CERTHUB_FQV_REAL;
      vals[j].d = json_real_value(v);
    }
    else if(json_is_string(v)) {
      vals[j].type = CERTHUB_FQV_TEXT;
      vals[j].s = json_string_value(v);
    }
    else
      BADTOKEN();
  }
  *pa = json_string_value(p);
  *id = json_string_value(i);
  *holder = o;
  o = NULL;
#undef BADTOKEN
out:
  json_decref(o);
  free(raw);
  return rc;
}

/* ---- GetFindings ------------------------------------------------------ */

typedef struct page {
  ch_buf out;
  size_t n, limit;
  bool more;
  char *token;
  const char *fp;
} page;

static ch_err page_row(void *ctx, const certhub_finding_row *f,
                       const certhub_fq_value *keys, size_t nk)
{
  page *pg = ctx;
  ch_err rc;
  if(pg->n == pg->limit) { /* the probe row: there is a next page */
    pg->more = true;
    return CH_OK;
  }
  if(pg->n && (rc = ch_buf_addc(&pg->out, ',')))
    return rc;
  /* Stored findings are compact JSON written by import: copied as is. */
  if((rc = ch_buf_addstr(&pg->out, f->json)))
    return rc;
  pg->n++;
  if(pg->n == pg->limit) {
    free(pg->token);
    pg->token = NULL;
    return token_make(pg->fp, f, keys, nk, &pg->token);
  }
  return CH_OK;
}

static ch_err parse_sort(certhub_store *s, json_t *sc,
                         certhub_findings_query *q)
{
  char cb[CUT + 1];
  if(!sc)
    return CH_OK;
  if(!json_is_array(sc))
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "SortCriteria must be an array");
  if(json_array_size(sc) > CERTHUB_FQ_SORT_MAX)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "SortCriteria has %zu entries (at most %d)",
                              json_array_size(sc), CERTHUB_FQ_SORT_MAX);
  size_t i;
  json_t *e;
  json_array_foreach(sc, i, e)
  {
    static const char *const keys[] = {"Field", "SortOrder", NULL};
    json_t *f = json_object_get(e, "Field"),
           *o = json_object_get(e, "SortOrder");
    certhub_fq_field fld;
    if(!json_is_object(e) || unknown_key(e, keys) || !json_is_string(f))
      return certhub_store_fail(s, CH_ERR_USAGE,
                                "SortCriteria[%zu] must be {\"Field\": ..., "
                                "\"SortOrder\": \"asc\"|\"desc\"}",
                                i);
    if(!field_by_name(json_string_value(f), &fld))
      return certhub_store_fail(
          s, CH_ERR_USAGE, "SortCriteria[%zu]: unknown field '%s'", i,
          ch_findings_cut(cb, json_string_value(f), CUT));
    certhub_fq_kind kind = certhub_fq_kind_of(fld);
    if(kind == CERTHUB_FQK_MAP || kind == CERTHUB_FQK_BOOL ||
       fld == CERTHUB_FQ_TYPE || fld == CERTHUB_FQ_RELATED_FINDINGS_ID)
      return certhub_store_fail(s, CH_ERR_USAGE,
                                "SortCriteria[%zu]: cannot sort on '%s'", i,
                                json_string_value(f));
    bool desc = true;
    if(o) {
      const char *os = json_is_string(o) ? json_string_value(o) : "";
      if(!strcmp(os, "asc"))
        desc = false;
      else if(strcmp(os, "desc"))
        return certhub_store_fail(s, CH_ERR_USAGE,
                                  "SortCriteria[%zu].SortOrder must be "
                                  "\"asc\" or \"desc\"",
                                  i);
    }
    q->sort[q->n_sort] = fld;
    q->desc[q->n_sort] = desc;
    q->n_sort++;
  }
  return CH_OK;
}

ch_err certhub_findings_query_json(certhub_store *s, const char *req,
                                   size_t len, char **out, size_t *out_len)
{
  static const char *const allowed[] = {"Filters", "SortCriteria",
                                        "MaxResults", "NextToken", NULL};
  json_t *root = NULL, *holder = NULL;
  fparse fp = {.s = s, .now_ms = certhub_now() * 1000};
  page pg = {0};
  certhub_findings_query q = {0};
  certhub_fq_value after[CERTHUB_FQ_SORT_MAX];
  char fprint[17];
  ch_err rc;
  if(!out || !out_len)
    return CH_ERR_USAGE;
  *out = NULL;
  *out_len = 0;
  if(!s || (!req && len))
    return CH_ERR_USAGE;
  ch_buf_init(&pg.out, OUT_CAP);
  if((rc = load_request(s, req, len, allowed, "GetFindings", &root)))
    goto out;
  json_t *filters = json_object_get(root, "Filters");
  if((rc = parse_filters(&fp, filters)) ||
     (rc = parse_sort(s, json_object_get(root, "SortCriteria"), &q)))
    goto out;
  json_t *mr = json_object_get(root, "MaxResults");
  pg.limit = MAX_RESULTS;
  if(mr) {
    if(!json_is_integer(mr) || json_integer_value(mr) < 1 ||
       json_integer_value(mr) > MAX_RESULTS) {
      rc = certhub_store_fail(s, CH_ERR_USAGE,
                              "MaxResults must be an integer from 1 to %d",
                              MAX_RESULTS);
      goto out;
    }
    pg.limit = (size_t)json_integer_value(mr);
  }
  if((rc = fingerprint(filters, &q, fprint)))
    goto out;
  pg.fp = fprint;
  json_t *nt = json_object_get(root, "NextToken");
  if(nt && !json_is_null(nt)) {
    if(!json_is_string(nt)) {
      rc = certhub_store_fail(s, CH_ERR_USAGE, "NextToken must be a string");
      goto out;
    }
    if(json_string_length(nt)) {
      if((rc = token_read(s, json_string_value(nt), fprint,
                          q.n_sort ? q.n_sort : 1, after, &holder,
                          &q.after_product_arn, &q.after_id)))
        goto out;
      q.after = after;
    }
  }
  q.conds = fp.conds;
  q.n_conds = fp.n;
  q.limit = pg.limit + 1; /* one more tells whether a next page exists */
  if((rc = ch_buf_addstr(&pg.out, "{\"Findings\":[")))
    goto nomem;
  rc = certhub_store_findings_query(s, &q, page_row, &pg);
  if(rc == CH_ERR_TOOBIG || rc == CH_ERR_NOMEM) {
    rc = certhub_store_fail(s, rc, "GetFindings: result too large");
    goto out;
  }
  if(rc)
    goto out;
  if((rc = ch_buf_addc(&pg.out, ']')))
    goto nomem;
  if(pg.more && pg.token &&
     (rc = ch_buf_printf(&pg.out, ",\"NextToken\":\"%s\"", pg.token)))
    goto nomem;
  if((rc = ch_buf_addc(&pg.out, '}')))
    goto nomem;
  *out_len = pg.out.len;
  *out = ch_buf_take(&pg.out);
  goto out;
nomem:
  rc = certhub_store_fail(s, CH_ERR_NOMEM, "GetFindings: out of memory");
out:
  ch_buf_free(&pg.out);
  free(pg.token);
  free(fp.conds);
  json_decref(holder);
  json_decref(root);
  return rc;
}

/* ---- insights --------------------------------------------------------- */

static ch_err group_row(void *ctx, const char *value, uint64_t count)
{
  json_t *arr = ctx;
  json_t *e = json_pack("{s:s, s:I}", "GroupByAttributeValue", value, "Count",
                        (json_int_t)count);
  if(!e || json_array_append_new(arr, e))
    return CH_ERR_NOMEM;
  return CH_OK;
}

ch_err certhub_findings_insight_json(certhub_store *s, const char *req,
                                     size_t len, char **out, size_t *out_len)
{
  static const char *const allowed[] = {"GroupByAttribute", "Filters", NULL};
  json_t *root = NULL, *res = NULL, *o = NULL;
  fparse fp = {.s = s, .now_ms = certhub_now() * 1000};
  certhub_findings_query q = {0};
  char cb[CUT + 1];
  ch_err rc;
  if(!out || !out_len)
    return CH_ERR_USAGE;
  *out = NULL;
  *out_len = 0;
  if(!s || (!req && len))
    return CH_ERR_USAGE;
  if((rc = load_request(s, req, len, allowed, "insight", &root)))
    goto out;
  json_t *g = json_object_get(root, "GroupByAttribute");
  certhub_fq_field by = CERTHUB_FQ_ID;
  bool ok = false;
  if(!json_is_string(g)) {
    rc = certhub_store_fail(s, CH_ERR_USAGE,
                            "insight request: GroupByAttribute (a string) is "
                            "required");
    goto out;
  }
  if(field_by_name(json_string_value(g), &by))
    for(size_t i = 0; i < CH_ARRAY_LEN(groupable); i++)
      if(groupable[i] == by)
        ok = true;
  if(!ok) {
    rc = certhub_store_fail(
        s, CH_ERR_USAGE,
        "insight request: cannot group by '%s' (SeverityLabel, AwsAccountId, "
        "Region, ResourceType, Title, GeneratorId, ProductName, "
        "WorkflowStatus, ComplianceStatus, RecordState, ResourceId, "
        "ProductArn, CompanyName, VerificationState)",
        ch_findings_cut(cb, json_string_value(g), CUT));
    goto out;
  }
  if((rc = parse_filters(&fp, json_object_get(root, "Filters"))))
    goto out;
  q.conds = fp.conds;
  q.n_conds = fp.n;
  if(!(res = json_array())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if((rc = certhub_store_findings_group(s, &q, by, INSIGHT_GROUPS_MAX,
                                        group_row, res)))
    goto out;
  o = json_pack("{s:{s:s, s:O}}", "InsightResults", "GroupByAttribute",
                name_of(by), "ResultValues", res);
  if(!o || !(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
    rc = certhub_store_fail(s, CH_ERR_NOMEM, "insight: out of memory");
    goto out;
  }
  *out_len = strlen(*out);
out:
  free(fp.conds);
  json_decref(o);
  json_decref(res);
  json_decref(root);
  return rc;
}
