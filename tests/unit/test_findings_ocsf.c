/*
 * ASFF <-> OCSF 1.6 findings: the class chosen per kind, the fields of
 * each OCSF section, activity and status, and the round trip ASFF -> store
 * -> OCSF -> import -> store with the key fields equal; refusals of what
 * cannot be imported. (The OCSF JSON Schema run is in the integration test
 * test_findings_ocsf.sh, with the shared validator.)
 */
#include <ctype.h>
#include <jansson.h>

#include "certhub/findings.h"
#include "findings/findings_int.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:eu-west-1:123456789012:product/certhub/certhub"
#define CARN "arn:certhub:acm:eu-west-1:123456789012:certificate/1111"

/* A certhub-like compliance finding (the shape event.c and probe.c write). */
static json_t *compliance_asff(const char *id, const char *created,
                               const char *updated)
{
  json_t *f = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:i}, s:s, s:s,"
      " s:s, s:s, s:s, s:s,"
      " s:[{s:s, s:s, s:s, s:{s:{s:s}}}, {s:s, s:s}],"
      " s:{s:s, s:s, s:[{s:s, s:s}]},"
      " s:{s:{s:s, s:s}}, s:{s:s}, s:s, s:s, s:s, s:{s:s}}",
      "SchemaVersion", "2018-10-08", "Id", id, "ProductArn", PARN,
      "GeneratorId", "certhub-probe", "AwsAccountId", "123456789012", "Region",
      "eu-west-1", "Types",
      "Software and Configuration Checks/Certificate Hostname", "Severity",
      "Label", "HIGH", "Normalized", 70, "Title", "Hostname mismatch",
      "Description", "The certificate does not match", "CreatedAt", created,
      "UpdatedAt", updated, "FirstObservedAt", created, "LastObservedAt",
      updated, "Resources", "Type", "AwsCertificateManagerCertificate", "Id",
      CARN, "Region", "eu-west-1", "Details",
      "AwsCertificateManagerCertificate", "DomainName", "www.example.com",
      "Type", "Other", "Id", "tls://www.example.com:443", "Compliance",
      "Status", "FAILED", "SecurityControlId", "certhub/hostname-mismatch",
      "StatusReasons", "ReasonCode", "HOSTNAME_MISMATCH", "Description",
      "does not match www.example.com", "Remediation", "Recommendation",
      "Text", "Deploy a matching certificate", "Url",
      "http://localhost:8080/certificates/0123456789abcdef", "ProductFields",
      "certhub/DetailType", "probe", "ProductName", "certhub", "CompanyName",
      "certhub", "RecordState", "ACTIVE", "Workflow", "Status", "NEW");
  assert_non_null(f);
  return f;
}

static json_t *vulnerability_asff(void)
{
  json_t *f = compliance_asff("vuln-1", "2026-11-01T00:00:00Z",
                              "2026-11-02T00:00:00Z");
  json_object_del(f, "Compliance");
  json_object_set_new(
      f, "Vulnerabilities",
      json_pack("[{s:s, s:{s:s}, s:[s], s:s}]", "Id", "CVE-2014-0160",
                "Vendor", "Name", "NVD", "ReferenceUrls",
                "https://nvd.nist.gov/vuln/detail/CVE-2014-0160",
                "FixAvailable", "YES"));
  json_object_set_new(f, "Types",
                      json_pack("[s]", "Software and Configuration "
                                       "Checks/Vulnerabilities/CVE"));
  return f;
}

static json_t *detection_asff(void)
{
  json_t *f =
      compliance_asff("det-1", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z");
  json_object_del(f, "Compliance");
  json_object_set_new(
      f, "Types",
      json_pack("[s, s]", "TTPs/Initial Access", "Unusual Behaviors/Network"));
  json_object_set_new(f, "Severity", json_pack("{s:i}", "Normalized", 95));
  return f;
}

static json_t *to_ocsf(json_t *asff)
{
  char *text = json_dumps(asff, JSON_COMPACT), *out = NULL;
  size_t len = 0;
  assert_int_equal(certhub_findings_ocsf_json(text, strlen(text), &out, &len),
                   CH_OK);
  assert_int_equal(len, strlen(out));
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  free(text);
  free(out);
  return o;
}

static json_int_t ival(json_t *o, const char *path)
{
  json_t *j = o;
  char buf[128], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  for(char *p = strtok_r(buf, ".", &save); p; p = strtok_r(NULL, ".", &save))
    j = json_object_get(j, p);
  if(!json_is_integer(j))
    fail_msg("%s is not an integer", path);
  return json_integer_value(j);
}

static const char *sval(json_t *o, const char *path)
{
  json_t *j = o;
  char buf[128], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  for(char *p = strtok_r(buf, ".", &save); p; p = strtok_r(NULL, ".", &save))
    j = isdigit((unsigned char)*p) ? json_array_get(j, (size_t)atoi(p))
                                   : json_object_get(j, p);
  if(!json_is_string(j))
    fail_msg("%s is not a string", path);
  return json_string_value(j);
}

static void test_compliance(void **state)
{
  (void)state;
  json_t *a =
      compliance_asff("tls://www.example.com:443/hostname-mismatch",
                      "2026-11-01T00:00:00.000Z", "2026-11-03T12:00:00.250Z");
  json_t *o = to_ocsf(a);
  assert_int_equal(ival(o, "class_uid"), 2003);
  assert_int_equal(ival(o, "category_uid"), 2);
  assert_int_equal(ival(o, "activity_id"), 2); /* Update */
  assert_int_equal(ival(o, "type_uid"), 200302);
  assert_int_equal(ival(o, "severity_id"), 4);
  assert_string_equal(sval(o, "severity"), "High");
  assert_int_equal(ival(o, "status_id"), 1);
  assert_string_equal(sval(o, "status"), "New");
  assert_int_equal(ival(o, "time"), 1793707200250LL);
  assert_string_equal(sval(o, "finding_info.uid"),
                      "tls://www.example.com:443/hostname-mismatch");
  assert_string_equal(sval(o, "finding_info.title"), "Hostname mismatch");
  assert_string_equal(sval(o, "finding_info.desc"),
                      "The certificate does not match");
  assert_string_equal(
      sval(o, "finding_info.types.0"),
      "Software and Configuration Checks/Certificate Hostname");
  assert_int_equal(ival(o, "finding_info.created_time"), 1793491200000LL);
  assert_int_equal(ival(o, "finding_info.modified_time"), 1793707200250LL);
  assert_int_equal(ival(o, "finding_info.first_seen_time"), 1793491200000LL);
  assert_int_equal(ival(o, "finding_info.last_seen_time"), 1793707200250LL);
  assert_int_equal(ival(o, "compliance.status_id"), 3);
  assert_string_equal(sval(o, "compliance.status"), "Fail");
  assert_string_equal(sval(o, "compliance.control"),
                      "certhub/hostname-mismatch");
  assert_string_equal(sval(o, "compliance.status_code"), "HOSTNAME_MISMATCH");
  assert_string_equal(sval(o, "resources.0.uid"), CARN);
  assert_string_equal(sval(o, "resources.0.type"),
                      "AwsCertificateManagerCertificate");
  assert_string_equal(sval(o, "resources.1.uid"), "tls://www.example.com:443");
  assert_string_equal(sval(o, "remediation.desc"),
                      "Deploy a matching certificate");
  assert_string_equal(sval(o, "remediation.references.0"),
                      "http://localhost:8080/certificates/0123456789abcdef");
  assert_string_equal(sval(o, "metadata.version"), "1.6.0");
  assert_string_equal(sval(o, "metadata.product.name"), "certhub");
  assert_string_equal(sval(o, "metadata.product.vendor_name"), "certhub");
  assert_string_equal(sval(o, "metadata.product.uid"), PARN);
  assert_string_equal(sval(o, "metadata.product.feature.uid"),
                      "certhub-probe");
  assert_string_equal(sval(o, "cloud.account.uid"), "123456789012");
  assert_string_equal(sval(o, "cloud.region"), "eu-west-1");
  assert_string_equal(sval(o, "cloud.provider"), "certhub");
  /* No home in OCSF: kept under its ASFF name. */
  assert_string_equal(sval(o, "unmapped.RecordState"), "ACTIVE");
  assert_int_equal(ival(o, "unmapped.Severity.Normalized"), 70);
  assert_string_equal(sval(o, "unmapped.ProductFields.certhub/DetailType"),
                      "probe");
  assert_null(json_object_get(json_object_get(o, "unmapped"), "Id"));
  json_decref(o);

  /* An AWS ProductArn: the provider is AWS. */
  json_object_set_new(
      a, "ProductArn",
      json_string("arn:aws:securityhub:eu-west-1:123456789012:product/"
                  "123456789012/default"));
  o = to_ocsf(a);
  assert_string_equal(sval(o, "cloud.provider"), "AWS");
  json_decref(o);
  json_decref(a);
}

static void test_activity_status(void **state)
{
  (void)state;
  json_t *a =
      compliance_asff("x", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z");
  json_t *o = to_ocsf(a);
  assert_int_equal(ival(o, "activity_id"), 1); /* Create */
  assert_int_equal(ival(o, "type_uid"), 200301);
  json_decref(o);

  static const struct {
    const char *wf;
    int id;
  } wfs[] = {{"NOTIFIED", 2}, {"SUPPRESSED", 3}, {"RESOLVED", 4}};
  for(size_t i = 0; i < 3; i++) {
    json_object_set_new(a, "Workflow",
                        json_pack("{s:s}", "Status", wfs[i].wf));
    o = to_ocsf(a);
    assert_int_equal(ival(o, "status_id"), wfs[i].id);
    /* A resolved finding is closed. */
    assert_int_equal(ival(o, "activity_id"), wfs[i].id == 4 ? 3 : 1);
    json_decref(o);
  }
  json_object_set_new(a, "Workflow", json_pack("{s:s}", "Status", "NEW"));
  json_object_set_new(a, "RecordState", json_string("ARCHIVED"));
  json_object_set_new(a, "Compliance", json_pack("{s:s}", "Status", "PASSED"));
  o = to_ocsf(a);
  assert_int_equal(ival(o, "activity_id"), 3); /* Close */
  assert_int_equal(ival(o, "type_uid"), 200303);
  assert_int_equal(ival(o, "compliance.status_id"), 1);
  assert_string_equal(sval(o, "compliance.status"), "Pass");
  json_decref(o);

  /* Severities. */
  static const char *const labels[] = {"INFORMATIONAL", "LOW", "MEDIUM",
                                       "HIGH", "CRITICAL"};
  for(int i = 0; i < 5; i++) {
    json_object_set_new(a, "Severity", json_pack("{s:s}", "Label", labels[i]));
    o = to_ocsf(a);
    assert_int_equal(ival(o, "severity_id"), i + 1);
    json_decref(o);
  }
  json_decref(a);

  /* Not a finding. */
  char *out = (char *)"x";
  assert_int_equal(certhub_findings_ocsf_json("[1]", 3, &out, NULL),
                   CH_ERR_PARSE);
  assert_null(out);
  assert_int_equal(certhub_findings_ocsf_json("{\"Id\":1}", 8, &out, NULL),
                   CH_ERR_PARSE);
  assert_int_equal(certhub_findings_ocsf_json("{", 1, &out, NULL),
                   CH_ERR_PARSE);
}

static void test_classes(void **state)
{
  (void)state;
  json_t *v = vulnerability_asff();
  json_t *o = to_ocsf(v);
  assert_int_equal(ival(o, "class_uid"), 2002);
  assert_int_equal(ival(o, "type_uid"), 200202);
  assert_string_equal(sval(o, "vulnerabilities.0.cve.uid"), "CVE-2014-0160");
  assert_string_equal(sval(o, "vulnerabilities.0.vendor_name"), "NVD");
  assert_true(json_is_true(
      json_object_get(json_array_get(json_object_get(o, "vulnerabilities"), 0),
                      "is_fix_available")));
  json_decref(o);
  json_decref(v);

  json_t *d = detection_asff();
  o = to_ocsf(d);
  assert_int_equal(ival(o, "class_uid"), 2004);
  assert_int_equal(ival(o, "type_uid"), 200401);
  assert_int_equal(ival(o, "severity_id"), 5); /* Normalized 95 */
  assert_null(json_object_get(o, "compliance"));
  json_decref(o);
  /* One type outside the detection namespaces: a compliance finding. */
  json_array_append_new(json_object_get(d, "Types"),
                        json_string("Software and Configuration Checks"));
  o = to_ocsf(d);
  assert_int_equal(ival(o, "class_uid"), 2003);
  assert_non_null(json_object_get(o, "compliance"));
  json_decref(o);
  json_decref(d);
}

typedef struct grabbed {
  size_t n;
  json_t *v[8];
} grabbed;

static ch_err grab(void *ctx, const certhub_finding_row *row)
{
  grabbed *g = ctx;
  assert_true(g->n < 8);
  g->v[g->n] = json_loads(row->json, 0, NULL);
  assert_non_null(g->v[g->n]);
  g->n++;
  return CH_OK;
}

static void grabbed_free(grabbed *g)
{
  for(size_t i = 0; i < g->n; i++)
    json_decref(g->v[i]);
  memset(g, 0, sizeof(*g));
}

static json_t *find(grabbed *g, const char *id)
{
  for(size_t i = 0; i < g->n; i++)
    if(!strcmp(sval(g->v[i], "Id"), id))
      return g->v[i];
  fail_msg("no finding %s", id);
  return NULL;
}

static void same(json_t *a, json_t *b, const char *path)
{
  assert_string_equal(sval(a, path), sval(b, path));
}

static int64_t ms(json_t *f, const char *key)
{
  int64_t v = 0;
  assert_int_equal(ch_findings_time_ms(sval(f, key), &v), CH_OK);
  return v;
}

static void test_round_trip(void **state)
{
  (void)state;
  tdir d1, d2;
  tdir_make(&d1);
  tdir_make(&d2);
  certhub_store *s1 = t_open(d1.db), *s2 = t_open(d2.db);
  certhub_import_result r = {0};
  json_t *in = json_pack(
      "[o, o, o]",
      compliance_asff("tls://www.example.com:443/hostname-mismatch",
                      "2026-11-01T00:00:00Z", "2026-11-03T12:00:00.250Z"),
      vulnerability_asff(), detection_asff());
  char *text = json_dumps(in, JSON_COMPACT);
  assert_int_equal(certhub_findings_import(s1, text, strlen(text), T_NOW, &r),
                   CH_OK);
  assert_int_equal(r.success, 3);
  certhub_import_result_free(&r);
  free(text);
  json_decref(in);

  /* Export every stored finding as OCSF lines, import them elsewhere. */
  grabbed g1 = {0}, g2 = {0};
  assert_int_equal(certhub_findings_list(s1, NULL, grab, &g1), CH_OK);
  assert_int_equal(g1.n, 3);
  size_t cap = 65536, len = 0;
  char *lines = calloc(1, cap);
  assert_non_null(lines);
  for(size_t i = 0; i < g1.n; i++) {
    char *a = json_dumps(g1.v[i], JSON_COMPACT), *o = NULL;
    size_t ol = 0;
    assert_int_equal(certhub_findings_ocsf_json(a, strlen(a), &o, &ol), CH_OK);
    assert_true(len + ol + 2 < cap);
    memcpy(lines + len, o, ol);
    len += ol;
    lines[len++] = '\n';
    free(a);
    free(o);
  }
  assert_int_equal(certhub_findings_import_ocsf(s2, lines, len, T_NOW, &r),
                   CH_OK);
  if(r.failed)
    fail_msg("%s: %s", r.failures[0].id, r.failures[0].message);
  assert_int_equal(r.success, 3);
  assert_int_equal(r.created, 3);
  certhub_import_result_free(&r);

  assert_int_equal(certhub_findings_list(s2, NULL, grab, &g2), CH_OK);
  assert_int_equal(g2.n, 3);
  static const char *const ids[] = {
      "tls://www.example.com:443/hostname-mismatch", "vuln-1", "det-1"};
  for(int i = 0; i < 3; i++) {
    json_t *a = find(&g1, ids[i]), *b = find(&g2, ids[i]);
    static const char *const keys[] = {
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Region",
        "Title",
        "Description",
        "Severity.Label",
        "RecordState",
        "Workflow.Status",
        "Types.0",
        "Resources.0.Id",
        "Resources.0.Type",
        "ProductName",
        "CompanyName",
        "Resources.1.Id",
        "Remediation.Recommendation.Text",
        "Remediation.Recommendation.Url",
        "ProductFields.certhub/DetailType",
    };
    for(size_t k = 0; k < CH_ARRAY_LEN(keys); k++)
      same(a, b, keys[k]);
    assert_int_equal(ival(a, "Severity.Normalized"),
                     ival(b, "Severity.Normalized"));
    assert_int_equal(ms(a, "CreatedAt"), ms(b, "CreatedAt"));
    assert_int_equal(ms(a, "UpdatedAt"), ms(b, "UpdatedAt"));
    assert_int_equal(ms(a, "FirstObservedAt"), ms(b, "FirstObservedAt"));
    assert_int_equal(ms(a, "LastObservedAt"), ms(b, "LastObservedAt"));
    assert_true(json_equal(
        json_object_get(json_array_get(json_object_get(a, "Resources"), 0),
                        "Details"),
        json_object_get(json_array_get(json_object_get(b, "Resources"), 0),
                        "Details")));
    if(i == 0) {
      assert_true(json_equal(json_object_get(a, "Compliance"),
                             json_object_get(b, "Compliance")));
    }
    if(i == 1) {
      same(a, b, "Vulnerabilities.0.Id");
      same(a, b, "Vulnerabilities.0.Vendor.Name");
      same(a, b, "Vulnerabilities.0.FixAvailable");
    }
  }
  /* Importing the same export again changes nothing (not newer). */
  assert_int_equal(certhub_findings_import_ocsf(s2, lines, len, T_NOW, &r),
                   CH_OK);
  assert_int_equal(r.unchanged, 3);
  certhub_import_result_free(&r);
  free(lines);
  grabbed_free(&g1);
  grabbed_free(&g2);
  certhub_store_close(s1);
  certhub_store_close(s2);
  tdir_remove(&d1);
  tdir_remove(&d2);
}

/* Another producer's OCSF (the shape of the shared example): what ASFF
 * requires is filled in from the nearest OCSF fields. */
static const char foreign[] =
    "{\"activity_id\":1,\"category_uid\":2,\"class_uid\":2003,"
    "\"type_uid\":200301,\"severity_id\":3,\"status_id\":1,"
    "\"time\":1601448668000,\"message\":\"Certificate expires\","
    "\"metadata\":{\"version\":\"1.6.0\",\"product\":{\"name\":\"cert mon\","
    "\"vendor_name\":\"example\"}},\"cloud\":{\"provider\":\"AWS\","
    "\"region\":\"us-east-1\",\"account\":{\"uid\":\"123456789012\"}},"
    "\"finding_info\":{\"uid\":\"f-1\",\"types\":[\"Not ASFF\"]},"
    "\"compliance\":{\"status_id\":3,\"control\":\"ACM.1\","
    "\"standards\":[\"internal/cert\"]},"
    "\"resources\":[{\"type\":\"AwsCertificateManagerCertificate\","
    "\"uid\":\"arn:aws:acm:us-east-1:123456789012:certificate/1\"}]}";

static void test_import_foreign(void **state)
{
  (void)state;
  char *out = NULL, *err = NULL;
  assert_int_equal(
      certhub_findings_asff_from_ocsf(foreign, strlen(foreign), &out, &err),
      CH_OK);
  json_t *a = json_loads(out, 0, NULL);
  assert_non_null(a);
  assert_string_equal(sval(a, "Id"), "f-1");
  assert_string_equal(sval(a, "ProductArn"),
                      "arn:certhub:securityhub:us-east-1:123456789012:product/"
                      "example/cert-mon");
  assert_string_equal(sval(a, "GeneratorId"), "cert mon");
  assert_string_equal(sval(a, "Title"), "Certificate expires");
  assert_string_equal(sval(a, "Description"), "Certificate expires");
  assert_string_equal(sval(a, "Severity.Label"), "MEDIUM");
  assert_string_equal(sval(a, "CreatedAt"), "2020-09-30T06:51:08.000Z");
  assert_string_equal(sval(a, "Types.0"),
                      "Software and Configuration Checks/Industry and "
                      "Regulatory Standards");
  assert_string_equal(sval(a, "Compliance.Status"), "FAILED");
  assert_string_equal(sval(a, "Compliance.SecurityControlId"), "ACM.1");
  assert_string_equal(sval(a, "Compliance.AssociatedStandards.0.StandardsId"),
                      "internal/cert");
  assert_string_equal(sval(a, "RecordState"), "ACTIVE");
  json_decref(a);
  free(out);

  static const struct {
    const char *in;
    ch_err rc;
    const char *msg;
  } bad[] = {
      {"{\"class_uid\":1001,\"finding_info\":{\"uid\":\"x\"},\"time\":1}",
       CH_ERR_UNSUPPORTED, "class_uid 1001 is not a finding class"},
      {"{\"class_uid\":2003,\"time\":1}", CH_ERR_PARSE,
       "finding_info.uid is missing"},
      {"{\"class_uid\":\"2003\"}", CH_ERR_PARSE, "class_uid is missing"},
      {"{\"class_uid\":2003,\"finding_info\":{\"uid\":\"x\"}}", CH_ERR_PARSE,
       "no time"},
      {"[]", CH_ERR_PARSE, "not a JSON object"},
      {"{\"class_uid\":", CH_ERR_PARSE, "invalid JSON"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    out = err = NULL;
    assert_int_equal(certhub_findings_asff_from_ocsf(
                         bad[i].in, strlen(bad[i].in), &out, &err),
                     bad[i].rc);
    assert_null(out);
    assert_non_null(err);
    if(!strstr(err, bad[i].msg))
      fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    free(err);
  }
}

static void test_import_ocsf(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_import_result r = {0};

  /* One good, one of another class: the good one is stored. */
  char buf[4096];
  snprintf(buf, sizeof(buf),
           "[%s, {\"class_uid\":4001,\"finding_info\":{\"uid\":\"net\"}}]",
           foreign);
  assert_int_equal(
      certhub_findings_import_ocsf(s, buf, strlen(buf), T_NOW, &r), CH_OK);
  assert_int_equal(r.success, 1);
  assert_int_equal(r.failed, 1);
  assert_string_equal(r.failures[0].id, "net");
  assert_string_equal(r.failures[0].code, "InvalidInput");
  assert_non_null(strstr(r.failures[0].message, "4001"));
  certhub_import_result_free(&r);

  /* A single object is accepted; so are JSON lines. */
  assert_int_equal(
      certhub_findings_import_ocsf(s, foreign, strlen(foreign), T_NOW, &r),
      CH_OK);
  assert_int_equal(r.success, 1);
  assert_int_equal(r.unchanged, 1);
  certhub_import_result_free(&r);

  /* Broken JSON, truncated, empty, too many: refused whole. */
  assert_int_equal(certhub_findings_import_ocsf(s, foreign, 40, T_NOW, &r),
                   CH_ERR_PARSE);
  assert_non_null(strstr(r.error, "invalid JSON"));
  certhub_import_result_free(&r);
  assert_int_equal(certhub_findings_import_ocsf(s, "  \n", 3, T_NOW, &r),
                   CH_ERR_PARSE);
  certhub_import_result_free(&r);
  size_t n = 101 * (strlen(foreign) + 1) + 1;
  char *many = malloc(n);
  assert_non_null(many);
  many[0] = '\0';
  for(int i = 0; i < 101; i++) {
    strcat(many, foreign);
    strcat(many, "\n");
  }
  assert_int_equal(
      certhub_findings_import_ocsf(s, many, strlen(many), T_NOW, &r),
      CH_ERR_TOOBIG);
  assert_non_null(strstr(r.error, "more than 100"));
  certhub_import_result_free(&r);
  free(many);
  assert_int_equal(certhub_findings_import_ocsf(
                       s, "x", CERTHUB_FINDINGS_REQUEST_MAX + 1, T_NOW, &r),
                   CH_ERR_TOOBIG);
  certhub_import_result_free(&r);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compliance),
      cmocka_unit_test(test_activity_status),
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_import_foreign),
      cmocka_unit_test(test_import_ocsf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
