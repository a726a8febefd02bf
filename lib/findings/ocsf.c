/*
 * ASFF <-> OCSF 1.6.0 findings. Export maps one stored ASFF finding to a
 * Compliance (2003), Vulnerability (2002) or Detection (2004) Finding;
 * what OCSF has no field for goes to "unmapped" under its ASFF name so
 * that import can give it back. Import maps OCSF findings (ours or another
 * producer's) to ASFF and runs the normal BatchImportFindings path, so an
 * OCSF finding is validated and upserted exactly like an ASFF one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings_int.h"

#define OCSF_CATEGORY_FINDINGS 2
#define ACT_CREATE 1
#define ACT_UPDATE 2
#define ACT_CLOSE 3
#define ERRMSG_MAX 400
/* unmapped's list of the ASFF fields the finding did not have. */
#define ABSENT_KEY "certhub_absent"

/* ASFF type namespaces of things observed happening (Detection Finding)
 * rather than states to fix. */
static const char *const detection_ns[] = {
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
};

static const char *const asff_ns[] = {
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
};

/* Severity: ASFF label, OCSF severity_id and caption. */
static const struct {
  const char *label;
  int id;
  const char *name;
} severities[] = {
    {"INFORMATIONAL", 1, "Informational"},
    {"LOW", 2, "Low"},
    {"MEDIUM", 3, "Medium"},
    {"HIGH", 4, "High"},
    {"CRITICAL", 5, "Critical"},
};

/* Workflow.Status and the finding status_id of OCSF. */
static const struct {
  const char *asff;
  int id;
  const char *name;
} workflows[] = {
    {"NEW", 1, "New"},
    {"NOTIFIED", 2, "In Progress"},
    {"SUPPRESSED", 3, "Suppressed"},
    {"RESOLVED", 4, "Resolved"},
};

/* Compliance.Status and compliance.status_id. NOT_AVAILABLE is Unknown. */
static const struct {
  const char *asff;
  int id;
  const char *name;
} compliances[] = {
    {"NOT_AVAILABLE", 0, "Unknown"},
    {"PASSED", 1, "Pass"},
    {"WARNING", 2, "Warning"},
    {"FAILED", 3, "Fail"},
};

/* Top-level ASFF fields the mapping places; the others go to unmapped. */
static const char *const mapped_fields[] = {
    "SchemaVersion",   "Id",           "ProductArn",
    "GeneratorId",     "AwsAccountId", "Types",
    "CreatedAt",       "UpdatedAt",    "FirstObservedAt",
    "LastObservedAt",  "Severity",     "Title",
    "Description",     "Resources",    "Compliance",
    "Remediation",     "ProductName",  "CompanyName",
    "Region",          "Workflow",     "RecordState",
    "Vulnerabilities", "SourceUrl",
};

static const char *str(json_t *o, const char *key)
{
  json_t *j = json_object_get(o, key);
  return json_is_string(j) && *json_string_value(j) ? json_string_value(j)
                                                    : NULL;
}

static const char *str2(json_t *o, const char *a, const char *b)
{
  return str(json_object_get(o, a), b);
}

static bool in_list(const char *s, const char *const *set, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!strcmp(s, set[i]))
      return true;
  return false;
}

/* The namespace of an ASFF type is one of set. */
static bool type_in(const char *t, const char *const *set, size_t n)
{
  size_t l = strcspn(t, "/");
  for(size_t i = 0; i < n; i++)
    if(strlen(set[i]) == l && !strncmp(t, set[i], l))
      return true;
  return false;
}

/* json_object_set_new that tolerates a NULL value (allocation failure is
 * noticed once, at the end, through the flag). */
static void put(json_t *o, const char *key, json_t *v, bool *nomem)
{
  if(!v || json_object_set_new(o, key, v))
    *nomem = true;
}

/* ---- ASFF -> OCSF ------------------------------------------------------ */

/* An ASFF timestamp as OCSF epoch milliseconds and the datetime profile's
 * text, when present and valid. */
static void put_time(json_t *o, const char *key, const char *asff, bool *nomem)
{
  int64_t ms;
  char dt[64];
  if(!asff || ch_findings_time_ms(asff, &ms))
    return;
  put(o, key, json_integer(ms), nomem);
  snprintf(dt, sizeof(dt), "%s_dt", key);
  put(o, dt, json_string(asff), nomem);
}

static int class_of(json_t *f)
{
  json_t *v = json_object_get(f, "Vulnerabilities");
  if(json_is_array(v) && json_array_size(v))
    return CERTHUB_OCSF_VULNERABILITY;
  json_t *types = json_object_get(f, "Types"), *t;
  size_t i, n = 0;
  json_array_foreach(types, i, t)
  {
    if(!json_is_string(t) || !type_in(json_string_value(t), detection_ns,
                                      CH_ARRAY_LEN(detection_ns)))
      return CERTHUB_OCSF_COMPLIANCE;
    n++;
  }
  return n ? CERTHUB_OCSF_DETECTION : CERTHUB_OCSF_COMPLIANCE;
}

static const char *class_name(int cls)
{
  return cls == CERTHUB_OCSF_VULNERABILITY ? "Vulnerability Finding"
         : cls == CERTHUB_OCSF_DETECTION   ? "Detection Finding"
                                           : "Compliance Finding";
}

/* The partition of an ARN ("aws", "certhub"), into buf. */
static const char *partition(const char *arn, char *buf, size_t n)
{
  buf[0] = '\0';
  if(arn && !strncmp(arn, "arn:", 4)) {
    size_t l = strcspn(arn + 4, ":");
    if(l < n)
      snprintf(buf, n, "%.*s", (int)l, arn + 4);
  }
  return buf;
}

static json_t *ocsf_resources(json_t *f, bool *nomem)
{
  json_t *out = json_array(), *r;
  size_t i;
  if(!out) {
    *nomem = true;
    return NULL;
  }
  json_array_foreach(json_object_get(f, "Resources"), i, r)
  {
    json_t *o = json_object();
    if(!o || json_array_append_new(out, o)) {
      *nomem = true;
      break;
    }
    if(str(r, "Type"))
      put(o, "type", json_string(str(r, "Type")), nomem);
    if(str(r, "Id"))
      put(o, "uid", json_string(str(r, "Id")), nomem);
    if(str(r, "Region"))
      put(o, "region", json_string(str(r, "Region")), nomem);
    if(str(r, "Partition"))
      put(o, "cloud_partition", json_string(str(r, "Partition")), nomem);
    json_t *d = json_object_get(r, "Details");
    if(json_is_object(d))
      put(o, "data", json_deep_copy(d), nomem);
    json_t *tags = json_object_get(r, "Tags");
    if(json_is_object(tags) && json_object_size(tags)) {
      json_t *ta = json_array(), *v;
      const char *k;
      put(o, "tags", ta, nomem);
      json_object_foreach(tags, k, v)
      {
        if(ta && json_is_string(v) &&
           json_array_append_new(ta, json_pack("{s:s, s:s}", "name", k,
                                               "value", json_string_value(v))))
          *nomem = true;
      }
    }
  }
  return out;
}

static json_t *ocsf_compliance(json_t *f, bool *nomem)
{
  json_t *c = json_object_get(f, "Compliance");
  json_t *o = json_object();
  const char *st = str(c, "Status");
  size_t k = 0;
  if(!o) {
    *nomem = true;
    return NULL;
  }
  for(size_t i = 0; st && i < CH_ARRAY_LEN(compliances); i++)
    if(!strcmp(st, compliances[i].asff))
      k = i;
  put(o, "status_id", json_integer(compliances[k].id), nomem);
  put(o, "status", json_string(compliances[k].name), nomem);
  if(str(c, "SecurityControlId"))
    put(o, "control", json_string(str(c, "SecurityControlId")), nomem);
  json_t *std = json_object_get(c, "AssociatedStandards"), *e;
  size_t i;
  if(json_is_array(std) && json_array_size(std)) {
    json_t *a = json_array();
    put(o, "standards", a, nomem);
    json_array_foreach(std, i, e)
    {
      if(a && str(e, "StandardsId") &&
         json_array_append_new(a, json_string(str(e, "StandardsId"))))
        *nomem = true;
    }
  }
  json_t *reasons = json_object_get(c, "StatusReasons");
  if(json_is_array(reasons) && json_array_size(reasons)) {
    json_t *a = json_array();
    put(o, "status_details", a, nomem);
    json_array_foreach(reasons, i, e)
    {
      const char *d =
          str(e, "Description") ? str(e, "Description") : str(e, "ReasonCode");
      if(a && d && json_array_append_new(a, json_string(d)))
        *nomem = true;
    }
    if(str(json_array_get(reasons, 0), "ReasonCode"))
      put(o, "status_code",
          json_string(str(json_array_get(reasons, 0), "ReasonCode")), nomem);
  }
  return o;
}

static json_t *ocsf_vulnerabilities(json_t *f, bool *nomem)
{
  json_t *out = json_array(), *v;
  size_t i;
  if(!out) {
    *nomem = true;
    return NULL;
  }
  json_array_foreach(json_object_get(f, "Vulnerabilities"), i, v)
  {
    json_t *o = json_object();
    if(!o || json_array_append_new(out, o)) {
      *nomem = true;
      break;
    }
    const char *id = str(v, "Id");
    if(id) {
      put(o, "cve", json_pack("{s:s}", "uid", id), nomem);
      put(o, "title", json_string(id), nomem);
    }
    if(str2(v, "Vendor", "Name"))
      put(o, "vendor_name", json_string(str2(v, "Vendor", "Name")), nomem);
    json_t *urls = json_object_get(v, "ReferenceUrls");
    if(json_is_array(urls))
      put(o, "references", json_deep_copy(urls), nomem);
    if(str(v, "FixAvailable"))
      put(o, "is_fix_available",
          json_boolean(!strcmp(str(v, "FixAvailable"), "YES")), nomem);
  }
  return out;
}

/* What OCSF has no field for, under its ASFF name. */
static json_t *ocsf_unmapped(json_t *f, bool *nomem)
{
  json_t *u = json_object(), *v;
  const char *k;
  if(!u) {
    *nomem = true;
    return NULL;
  }
  json_object_foreach(f, k, v)
  {
    if(!in_list(k, mapped_fields, CH_ARRAY_LEN(mapped_fields)))
      put(u, k, json_deep_copy(v), nomem);
  }
  if(str(f, "RecordState"))
    put(u, "RecordState", json_string(str(f, "RecordState")), nomem);
  json_t *norm = json_object_get(json_object_get(f, "Severity"), "Normalized");
  if(json_is_integer(norm))
    put(u, "Severity", json_pack("{s:O}", "Normalized", norm), nomem);
  /* Reason codes and descriptions are paired in ASFF, split in OCSF. */
  json_t *reasons =
      json_object_get(json_object_get(f, "Compliance"), "StatusReasons");
  if(json_is_array(reasons) && json_array_size(reasons))
    put(u, "Compliance", json_pack("{s:O}", "StatusReasons", reasons), nomem);
  return u;
}

static json_t *to_ocsf(json_t *f)
{
  bool nomem = false;
  json_t *o = json_object();
  if(!o)
    return NULL;
  int cls = class_of(f);
  const char *rs = str(f, "RecordState");
  const char *wf = str2(f, "Workflow", "Status");
  const char *created = str(f, "CreatedAt"), *updated = str(f, "UpdatedAt");
  int act = ACT_UPDATE;
  if((rs && !strcmp(rs, "ARCHIVED")) || (wf && !strcmp(wf, "RESOLVED")))
    act = ACT_CLOSE;
  else if(created && updated && !strcmp(created, updated))
    act = ACT_CREATE;
  static const char *const act_names[] = {"Unknown", "Create", "Update",
                                          "Close"};
  char tn[64];
  snprintf(tn, sizeof(tn), "%s: %s", class_name(cls), act_names[act]);

  put(o, "activity_id", json_integer(act), &nomem);
  put(o, "activity_name", json_string(act_names[act]), &nomem);
  put(o, "category_uid", json_integer(OCSF_CATEGORY_FINDINGS), &nomem);
  put(o, "category_name", json_string("Findings"), &nomem);
  put(o, "class_uid", json_integer(cls), &nomem);
  put(o, "class_name", json_string(class_name(cls)), &nomem);
  put(o, "type_uid", json_integer((json_int_t)cls * 100 + act), &nomem);
  put(o, "type_name", json_string(tn), &nomem);

  /* Severity: the Label, else Security Hub's bands of Normalized. */
  const char *label = str2(f, "Severity", "Label");
  json_t *norm = json_object_get(json_object_get(f, "Severity"), "Normalized");
  size_t si = 0;
  if(label) {
    for(size_t i = 0; i < CH_ARRAY_LEN(severities); i++)
      if(!strcmp(label, severities[i].label))
        si = i;
  }
  else if(json_is_integer(norm)) {
    json_int_t n = json_integer_value(norm);
    si = n >= 90 ? 4 : n >= 70 ? 3 : n >= 40 ? 2 : n >= 1 ? 1 : 0;
  }
  put(o, "severity_id", json_integer(severities[si].id), &nomem);
  put(o, "severity", json_string(severities[si].name), &nomem);

  size_t wi = 0;
  for(size_t i = 0; wf && i < CH_ARRAY_LEN(workflows); i++)
    if(!strcmp(wf, workflows[i].asff))
      wi = i;
  put(o, "status_id", json_integer(workflows[wi].id), &nomem);
  put(o, "status", json_string(workflows[wi].name), &nomem);

  int64_t t = 0;
  if(updated && !ch_findings_time_ms(updated, &t)) {
    put(o, "time", json_integer(t), &nomem);
    put(o, "time_dt", json_string(updated), &nomem);
  }
  else
    put(o, "time", json_integer(0), &nomem);
  if(str(f, "Title"))
    put(o, "message", json_string(str(f, "Title")), &nomem);

  json_t *fi = json_object();
  put(o, "finding_info", fi, &nomem);
  if(fi) {
    put(fi, "uid", json_string(str(f, "Id") ? str(f, "Id") : ""), &nomem);
    if(str(f, "Title"))
      put(fi, "title", json_string(str(f, "Title")), &nomem);
    if(str(f, "Description"))
      put(fi, "desc", json_string(str(f, "Description")), &nomem);
    json_t *types = json_object_get(f, "Types");
    if(json_is_array(types))
      put(fi, "types", json_deep_copy(types), &nomem);
    put_time(fi, "created_time", created, &nomem);
    put_time(fi, "modified_time", updated, &nomem);
    put_time(fi, "first_seen_time", str(f, "FirstObservedAt"), &nomem);
    put_time(fi, "last_seen_time", str(f, "LastObservedAt"), &nomem);
    if(str(f, "ProductArn"))
      put(fi, "product_uid", json_string(str(f, "ProductArn")), &nomem);
    if(str(f, "SourceUrl"))
      put(fi, "src_url", json_string(str(f, "SourceUrl")), &nomem);
  }

  if(cls == CERTHUB_OCSF_COMPLIANCE || json_object_get(f, "Compliance"))
    put(o, "compliance", ocsf_compliance(f, &nomem), &nomem);
  if(cls == CERTHUB_OCSF_VULNERABILITY)
    put(o, "vulnerabilities", ocsf_vulnerabilities(f, &nomem), &nomem);
  put(o, "resources", ocsf_resources(f, &nomem), &nomem);

  json_t *rem = json_object_get(f, "Remediation");
  if(json_is_object(rem)) {
    const char *text = str2(rem, "Recommendation", "Text");
    const char *url = str2(rem, "Recommendation", "Url");
    json_t *r = json_pack("{s:s}", "desc", text ? text : "");
    if(r && url)
      put(r, "references", json_pack("[s]", url), &nomem);
    put(o, "remediation", r, &nomem);
  }

  json_t *md = json_object(), *prod = json_object();
  put(o, "metadata", md, &nomem);
  if(md && prod) {
    put(md, "version", json_string(CERTHUB_OCSF_VERSION), &nomem);
    put(md, "profiles", json_pack("[s, s]", "cloud", "datetime"), &nomem);
    put(md, "log_version", json_string(CERTHUB_ASFF_SCHEMA_VERSION), &nomem);
    put(prod, "name",
        json_string(str(f, "ProductName") ? str(f, "ProductName") : "certhub"),
        &nomem);
    put(prod, "vendor_name",
        json_string(str(f, "CompanyName") ? str(f, "CompanyName") : "certhub"),
        &nomem);
    if(str(f, "ProductArn"))
      put(prod, "uid", json_string(str(f, "ProductArn")), &nomem);
    if(str(f, "GeneratorId"))
      put(prod, "feature",
          json_pack("{s:s, s:s}", "uid", str(f, "GeneratorId"), "name",
                    str(f, "GeneratorId")),
          &nomem);
    put(md, "product", prod, &nomem);
    prod = NULL;
  }
  json_decref(prod);

  /* cloud: the provider is the ARN partition ("aws" is AWS). */
  char pb[64];
  const char *part = partition(str(f, "ProductArn"), pb, sizeof(pb));
  json_t *cloud =
      json_pack("{s:s}", "provider",
                !strcmp(part, "aws") || !strncmp(part, "aws-", 4) ? "AWS"
                : *part                                           ? part
                                                                  : "certhub");
  put(o, "cloud", cloud, &nomem);
  if(cloud) {
    if(str(f, "AwsAccountId"))
      put(cloud, "account", json_pack("{s:s}", "uid", str(f, "AwsAccountId")),
          &nomem);
    if(str(f, "Region"))
      put(cloud, "region", json_string(str(f, "Region")), &nomem);
    if(*part)
      put(cloud, "cloud_partition", json_string(part), &nomem);
  }

  json_t *u = ocsf_unmapped(f, &nomem);
  /* OCSF needs what ASFF may lack (the compliance object of 2003, a
   * product name): defaults are written, and named here so that import
   * leaves them out again. */
  json_t *absent = json_array();
  static const char *const optional[] = {"Compliance", "ProductName",
                                         "CompanyName"};
  for(size_t i = 0; absent && i < CH_ARRAY_LEN(optional); i++)
    if(!json_object_get(f, optional[i]) &&
       json_array_append_new(absent, json_string(optional[i])))
      nomem = true;
  if(u && absent && json_array_size(absent))
    put(u, ABSENT_KEY, absent, &nomem);
  else
    json_decref(absent);
  if(u && json_object_size(u))
    put(o, "unmapped", u, &nomem);
  else
    json_decref(u);
  if(nomem) {
    json_decref(o);
    return NULL;
  }
  return o;
}

ch_err certhub_findings_ocsf_json(const char *asff_json, size_t len,
                                  char **out, size_t *out_len)
{
  json_t *f = NULL, *o = NULL;
  ch_err rc = CH_OK;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(out_len)
    *out_len = 0;
  if(!asff_json)
    return CH_ERR_USAGE;
  f = json_loadb(asff_json, len, 0, NULL);
  if(!json_is_object(f) || !str(f, "Id")) {
    rc = CH_ERR_PARSE;
    goto out;
  }
  if(!(o = to_ocsf(f)) ||
     !(*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(out_len)
    *out_len = strlen(*out);
out:
  json_decref(f);
  json_decref(o);
  return rc;
}

/* ---- OCSF -> ASFF ------------------------------------------------------ */

/* A time field of an OCSF object as ASFF text: the datetime profile's
 * text when it is a valid timestamp (exactly what was exported), else the
 * epoch milliseconds. NULL when absent. */
static const char *asff_time(json_t *o, const char *key, char buf[32])
{
  char dt[64];
  int64_t ms;
  snprintf(dt, sizeof(dt), "%s_dt", key);
  const char *s = str(o, dt);
  if(s && !ch_findings_time_ms(s, &ms) && strlen(s) < 32) {
    snprintf(buf, 32, "%s", s);
    return buf;
  }
  json_t *j = json_object_get(o, key);
  if(!json_is_integer(j))
    return NULL;
  ch_findings_time_format(json_integer_value(j), buf);
  return buf;
}

/* s with every byte outside [A-Za-z0-9._-] made '-', cut to n - 1. */
static const char *arn_part(const char *s, char *buf, size_t n)
{
  size_t i = 0;
  for(; s && s[i] && i + 1 < n; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    buf[i] = ok ? ch : '-';
  }
  buf[i] = '\0';
  return i ? buf : "unknown";
}

static bool twelve_digits(const char *s)
{
  return s && strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

static json_t *asff_resources(json_t *o, const char *uid, bool *nomem)
{
  json_t *out = json_array(), *r;
  size_t i;
  if(!out) {
    *nomem = true;
    return NULL;
  }
  json_array_foreach(json_object_get(o, "resources"), i, r)
  {
    const char *id = str(r, "uid") ? str(r, "uid") : str(r, "name");
    if(!id)
      continue; /* ASFF needs an Id; OCSF does not */
    json_t *a = json_pack("{s:s, s:s}", "Type",
                          str(r, "type") ? str(r, "type") : "Other", "Id", id);
    if(!a || json_array_append_new(out, a)) {
      *nomem = true;
      break;
    }
    if(str(r, "region"))
      put(a, "Region", json_string(str(r, "region")), nomem);
    if(str(r, "cloud_partition"))
      put(a, "Partition", json_string(str(r, "cloud_partition")), nomem);
    json_t *d = json_object_get(r, "data");
    if(json_is_object(d))
      put(a, "Details", json_deep_copy(d), nomem);
    json_t *tags = json_object_get(r, "tags"), *t;
    size_t k;
    if(json_is_array(tags) && json_array_size(tags)) {
      json_t *to = json_object();
      put(a, "Tags", to, nomem);
      json_array_foreach(tags, k, t)
      {
        if(to && str(t, "name") && str(t, "value"))
          put(to, str(t, "name"), json_string(str(t, "value")), nomem);
      }
    }
  }
  /* A finding without a resource: the finding itself is the resource. */
  if(!json_array_size(out) &&
     json_array_append_new(
         out, json_pack("{s:s, s:s}", "Type", "Other", "Id", uid)))
    *nomem = true;
  return out;
}

static json_t *asff_compliance(json_t *c, json_t *unmapped, bool *nomem)
{
  json_int_t sid = json_integer_value(json_object_get(c, "status_id"));
  const char *st = "NOT_AVAILABLE";
  for(size_t i = 0; i < CH_ARRAY_LEN(compliances); i++)
    if(compliances[i].id == sid)
      st = compliances[i].asff;
  json_t *a = json_pack("{s:s}", "Status", st);
  if(!a) {
    *nomem = true;
    return NULL;
  }
  if(str(c, "control"))
    put(a, "SecurityControlId", json_string(str(c, "control")), nomem);
  json_t *std = json_object_get(c, "standards"), *e;
  size_t i;
  if(json_is_array(std) && json_array_size(std)) {
    json_t *arr = json_array();
    put(a, "AssociatedStandards", arr, nomem);
    json_array_foreach(std, i, e)
    {
      if(arr && json_is_string(e) &&
         json_array_append_new(
             arr, json_pack("{s:s}", "StandardsId", json_string_value(e))))
        *nomem = true;
    }
  }
  json_t *reasons = json_object_get(json_object_get(unmapped, "Compliance"),
                                    "StatusReasons");
  if(json_is_array(reasons))
    put(a, "StatusReasons", json_deep_copy(reasons), nomem);
  else if(str(c, "status_code")) {
    json_t *d = json_array_get(json_object_get(c, "status_details"), 0);
    json_t *r = json_pack("{s:s}", "ReasonCode", str(c, "status_code"));
    if(r && json_is_string(d))
      put(r, "Description", json_string(json_string_value(d)), nomem);
    put(a, "StatusReasons", r ? json_pack("[o]", r) : NULL, nomem);
  }
  return a;
}

static json_t *asff_vulnerabilities(json_t *o, bool *nomem)
{
  json_t *out = json_array(), *v;
  size_t i;
  if(!out) {
    *nomem = true;
    return NULL;
  }
  json_array_foreach(json_object_get(o, "vulnerabilities"), i, v)
  {
    const char *id =
        str2(v, "cve", "uid") ? str2(v, "cve", "uid") : str(v, "title");
    if(!id)
      continue;
    json_t *a = json_pack("{s:s}", "Id", id);
    if(!a || json_array_append_new(out, a)) {
      *nomem = true;
      break;
    }
    if(str(v, "vendor_name"))
      put(a, "Vendor", json_pack("{s:s}", "Name", str(v, "vendor_name")),
          nomem);
    json_t *refs = json_object_get(v, "references");
    if(json_is_array(refs))
      put(a, "ReferenceUrls", json_deep_copy(refs), nomem);
    json_t *fix = json_object_get(v, "is_fix_available");
    if(json_is_boolean(fix))
      put(a, "FixAvailable", json_string(json_is_true(fix) ? "YES" : "NO"),
          nomem);
  }
  return out;
}

/* The exporter wrote a default for field: the ASFF finding had none. */
static bool was_absent(json_t *unmapped, const char *field)
{
  json_t *a = json_object_get(unmapped, ABSENT_KEY), *e;
  size_t i;
  json_array_foreach(a, i, e)
  {
    if(json_is_string(e) && !strcmp(json_string_value(e), field))
      return true;
  }
  return false;
}

/* One OCSF finding as ASFF; NULL with err set. */
static json_t *from_ocsf(json_t *o, char *err, size_t errlen, ch_err *rc)
{
  bool nomem = false;
  char cb[256], tb[32], ub[32], fb[32], lb[32], arn[1024], vb[128], nb[128];
  *rc = CH_ERR_PARSE;
  if(!json_is_object(o)) {
    snprintf(err, errlen, "finding is not a JSON object");
    return NULL;
  }
  json_t *cls_j = json_object_get(o, "class_uid");
  json_int_t cls = json_integer_value(cls_j);
  if(!json_is_integer(cls_j)) {
    snprintf(err, errlen, "class_uid is missing or not an integer");
    return NULL;
  }
  if(cls != CERTHUB_OCSF_VULNERABILITY && cls != CERTHUB_OCSF_COMPLIANCE &&
     cls != CERTHUB_OCSF_DETECTION) {
    snprintf(err, errlen,
             "class_uid %lld is not a finding class certhub imports (2002 "
             "Vulnerability, 2003 Compliance, 2004 Detection Finding)",
             (long long)cls);
    *rc = CH_ERR_UNSUPPORTED;
    return NULL;
  }
  json_t *fi = json_object_get(o, "finding_info");
  const char *uid = str(fi, "uid");
  if(!uid) {
    snprintf(err, errlen, "finding_info.uid is missing");
    return NULL;
  }
  json_t *md = json_object_get(o, "metadata");
  json_t *prod = json_object_get(md, "product");
  json_t *cloud = json_object_get(o, "cloud");
  json_t *unmapped = json_object_get(o, "unmapped");
  if(unmapped && !json_is_object(unmapped))
    unmapped = NULL;
  const char *account = str2(cloud, "account", "uid");
  if(!twelve_digits(account))
    account = "000000000000";
  const char *region = str(cloud, "region");
  const char *parn = str(prod, "uid");
  if(!parn || strncmp(parn, "arn:", 4) || !strstr(parn, ":product/")) {
    snprintf(arn, sizeof(arn), "arn:certhub:securityhub:%s:%s:product/%s/%s",
             arn_part(region ? region : "local", cb, 64), account,
             arn_part(str(prod, "vendor_name"), vb, sizeof(vb)),
             arn_part(str(prod, "name"), nb, sizeof(nb)));
    parn = arn;
  }
  const char *gen = str2(prod, "feature", "uid");
  if(!gen)
    gen = str2(prod, "feature", "name");
  if(!gen)
    gen = str(prod, "name") ? str(prod, "name") : "ocsf";

  char title[257], desc[1025];
  const char *t = str(fi, "title") ? str(fi, "title") : str(o, "message");
  ch_findings_cut(title, t ? t : uid, 256);
  ch_findings_cut(desc, str(fi, "desc") ? str(fi, "desc") : title, 1024);

  const char *created = asff_time(fi, "created_time", tb);
  const char *updated = asff_time(fi, "modified_time", ub);
  char timeb[32];
  const char *time = asff_time(o, "time", timeb);
  if(!updated)
    updated = time;
  if(!created)
    created = updated;
  if(!updated) {
    snprintf(err, errlen,
             "no time: neither time nor finding_info.modified_time");
    return NULL;
  }

  json_int_t sev = json_integer_value(json_object_get(o, "severity_id"));
  size_t si = 0;
  for(size_t i = 0; i < CH_ARRAY_LEN(severities); i++)
    if(severities[i].id == sev)
      si = i;
  if(sev == 6) /* Fatal */
    si = CH_ARRAY_LEN(severities) - 1;
  json_t *norm =
      json_object_get(json_object_get(unmapped, "Severity"), "Normalized");
  json_int_t sid = json_integer_value(json_object_get(o, "status_id"));
  const char *wf = "NEW";
  for(size_t i = 0; i < CH_ARRAY_LEN(workflows); i++)
    if(workflows[i].id == sid)
      wf = workflows[i].asff;
  const char *rs = str(unmapped, "RecordState");
  if(!rs || (strcmp(rs, "ACTIVE") && strcmp(rs, "ARCHIVED")))
    rs = json_integer_value(json_object_get(o, "activity_id")) == ACT_CLOSE
             ? "ARCHIVED"
             : "ACTIVE";

  json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                        " s:{s:s}, s:s, s:{s:s}}",
                        "SchemaVersion", CERTHUB_ASFF_SCHEMA_VERSION, "Id",
                        uid, "ProductArn", parn, "GeneratorId", gen,
                        "AwsAccountId", account, "CreatedAt", created,
                        "UpdatedAt", updated, "Title", title, "Description",
                        desc, "Severity", "Label", severities[si].label,
                        "RecordState", rs, "Workflow", "Status", wf);
  if(!a) {
    *rc = CH_ERR_NOMEM;
    return NULL;
  }
  /* Normalized only when the finding had one: the Label is enough. */
  if(json_is_integer(norm))
    put(json_object_get(a, "Severity"), "Normalized", json_incref(norm),
        &nomem);
  if(region)
    put(a, "Region", json_string(region), &nomem);
  if(asff_time(fi, "first_seen_time", fb))
    put(a, "FirstObservedAt", json_string(fb), &nomem);
  if(asff_time(fi, "last_seen_time", lb))
    put(a, "LastObservedAt", json_string(lb), &nomem);

  /* Types: the ASFF ones among finding_info.types, else the class's. */
  json_t *types = json_array(), *e;
  size_t i;
  put(a, "Types", types, &nomem);
  json_array_foreach(json_object_get(fi, "types"), i, e)
  {
    if(types && json_is_string(e) && json_string_length(e) <= 256 &&
       type_in(json_string_value(e), asff_ns, CH_ARRAY_LEN(asff_ns)) &&
       json_array_size(types) < 50 &&
       json_array_append_new(types, json_string(json_string_value(e))))
      nomem = true;
  }
  if(types && !json_array_size(types) &&
     json_array_append_new(
         types,
         json_string(cls == CERTHUB_OCSF_VULNERABILITY
                         ? "Software and Configuration Checks/Vulnerabilities"
                     : cls == CERTHUB_OCSF_DETECTION
                         ? "Unusual Behaviors"
                         : "Software and Configuration Checks/Industry and "
                           "Regulatory Standards")))
    nomem = true;

  put(a, "Resources", asff_resources(o, uid, &nomem), &nomem);
  json_t *comp = json_object_get(o, "compliance");
  if(json_is_object(comp) && !was_absent(unmapped, "Compliance"))
    put(a, "Compliance", asff_compliance(comp, unmapped, &nomem), &nomem);
  if(cls == CERTHUB_OCSF_VULNERABILITY) {
    json_t *v = asff_vulnerabilities(o, &nomem);
    if(v && json_array_size(v))
      put(a, "Vulnerabilities", v, &nomem);
    else
      json_decref(v);
  }
  json_t *rem = json_object_get(o, "remediation");
  if(json_is_object(rem)) {
    json_t *rec = json_object();
    if(str(rem, "desc"))
      put(rec, "Text", json_string(str(rem, "desc")), &nomem);
    json_t *ref = json_array_get(json_object_get(rem, "references"), 0);
    if(json_is_string(ref))
      put(rec, "Url", json_string(json_string_value(ref)), &nomem);
    if(rec && json_object_size(rec))
      put(a, "Remediation", json_pack("{s:o}", "Recommendation", rec), &nomem);
    else
      json_decref(rec);
  }
  if(str(prod, "name") && !was_absent(unmapped, "ProductName"))
    put(a, "ProductName", json_string(str(prod, "name")), &nomem);
  if(str(prod, "vendor_name") && !was_absent(unmapped, "CompanyName"))
    put(a, "CompanyName", json_string(str(prod, "vendor_name")), &nomem);
  if(str(fi, "src_url"))
    put(a, "SourceUrl", json_string(str(fi, "src_url")), &nomem);
  /* The rest of unmapped back where it came from, without overriding
   * what the mapping set. */
  const char *k;
  json_t *v;
  json_object_foreach(unmapped, k, v)
  {
    if(!json_object_get(a, k) && strcmp(k, ABSENT_KEY) &&
       !in_list(k, mapped_fields, CH_ARRAY_LEN(mapped_fields)))
      put(a, k, json_deep_copy(v), &nomem);
  }
  if(nomem) {
    json_decref(a);
    *rc = CH_ERR_NOMEM;
    return NULL;
  }
  *rc = CH_OK;
  return a;
}

ch_err certhub_findings_asff_from_ocsf(const char *ocsf_json, size_t len,
                                       char **out, char **errmsg)
{
  char err[ERRMSG_MAX] = "";
  json_error_t jerr;
  ch_err rc = CH_OK;
  json_t *a = NULL;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  if(!ocsf_json)
    return CH_ERR_USAGE;
  json_t *o = json_loadb(ocsf_json, len, 0, &jerr);
  if(!o) {
    snprintf(err, sizeof(err), "invalid JSON at line %d column %d: %s",
             jerr.line, jerr.column, jerr.text);
    rc = CH_ERR_PARSE;
    goto out;
  }
  if(!(a = from_ocsf(o, err, sizeof(err), &rc)))
    goto out;
  if(!(*out = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    rc = CH_ERR_NOMEM;
out:
  if(rc && errmsg && err[0])
    *errmsg = strdup(err);
  json_decref(o);
  json_decref(a);
  return rc;
}

/* A mapping failure in r, like the import's own. */
static ch_err add_failure(certhub_import_result *r, const char *id,
                          const char *msg)
{
  certhub_finding_failure *f =
      realloc(r->failures, (r->failed + 1) * sizeof(*f));
  char ib[513];
  if(!f)
    return CH_ERR_NOMEM;
  r->failures = f;
  f += r->failed++;
  f->id = strdup(ch_findings_cut(ib, id ? id : "", 512));
  f->code = strdup("InvalidInput");
  f->message = strdup(msg);
  return f->id && f->code && f->message ? CH_OK : CH_ERR_NOMEM;
}

/* The findings of an OCSF import: an array, or one or more objects one
 * after the other (JSON lines). */
static ch_err split_input(const char *json, size_t len, json_t *all, char *err,
                          size_t errlen)
{
  size_t pos = 0;
  while(pos < len) {
    while(pos < len && strchr(" \t\r\n", json[pos]))
      pos++;
    if(pos == len)
      break;
    json_error_t jerr;
    json_t *v =
        json_loadb(json + pos, len - pos,
                   JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
    if(!v) {
      snprintf(err, errlen, "invalid JSON at byte %zu: %s",
               pos + jerr.position, jerr.text);
      return CH_ERR_PARSE;
    }
    if(!jerr.position) { /* cannot happen; never loop forever */
      json_decref(v);
      snprintf(err, errlen, "invalid JSON at byte %zu", pos);
      return CH_ERR_PARSE;
    }
    pos += (size_t)jerr.position;
    int bad = json_is_array(v) ? json_array_extend(all, v)
                               : json_array_append(all, v);
    json_decref(v);
    if(bad)
      return CH_ERR_NOMEM;
    if(json_array_size(all) > CERTHUB_FINDINGS_BATCH_MAX) {
      snprintf(err, errlen, "more than %d findings in one import",
               CERTHUB_FINDINGS_BATCH_MAX);
      return CH_ERR_TOOBIG;
    }
  }
  if(!json_array_size(all) && len) {
    snprintf(err, errlen,
             "expected OCSF findings: a JSON array, objects or "
             "JSON lines");
    return CH_ERR_PARSE;
  }
  return CH_OK;
}

ch_err certhub_findings_import_ocsf(certhub_store *s, const char *json,
                                    size_t len, int64_t now,
                                    certhub_import_result *r)
{
  json_t *all = NULL, *asff = NULL, *o;
  ch_err rc = CH_OK;
  size_t i;
  if(!r)
    return CH_ERR_USAGE;
  memset(r, 0, sizeof(*r));
  if(!s || (!json && len))
    return CH_ERR_USAGE;
  if(len > CERTHUB_FINDINGS_REQUEST_MAX) {
    snprintf(r->error, sizeof(r->error), "request is %zu bytes (at most %d)",
             len, CERTHUB_FINDINGS_REQUEST_MAX);
    return CH_ERR_TOOBIG;
  }
  if(!(all = json_array()) || !(asff = json_array())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if((rc =
          split_input(json ? json : "", len, all, r->error, sizeof(r->error))))
    goto out;
  json_array_foreach(all, i, o)
  {
    char err[ERRMSG_MAX];
    ch_err mrc;
    json_t *a = from_ocsf(o, err, sizeof(err), &mrc);
    if(mrc == CH_ERR_NOMEM) {
      rc = mrc;
      goto out;
    }
    if(!a) {
      if((rc = add_failure(r, str(json_object_get(o, "finding_info"), "uid"),
                           err)))
        goto out;
      continue;
    }
    if(json_array_append_new(asff, a)) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  rc = ch_findings_import_array(s, asff, now, r);
out:
  if(rc == CH_ERR_NOMEM && !r->error[0])
    snprintf(r->error, sizeof(r->error), "out of memory");
  json_decref(all);
  json_decref(asff);
  return rc;
}
