/*
 * certhub bus events mapped to findings, against a real SQLite store: each
 * event type, the scheduled batch, one finding per certificate across
 * repeated events, archiving on renewal (also through the inventory's
 * renewal links), and refusals.
 */
#include <jansson.h>
#include <pthread.h>

#include "certhub/findings.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:eu-west-1:123456789012:product/certhub/certhub"
#define ARN1 "arn:certhub:acm:eu-west-1:123456789012:certificate/1111"
#define ARN2 "arn:certhub:acm:eu-west-1:123456789012:certificate/2222"
#define ARN3 "arn:certhub:acm:eu-west-1:123456789012:certificate/3333"

static char *event(const char *dt, const char *arn, const char *detail)
{
  char *buf = malloc(8192 + strlen(detail));
  assert_non_null(buf);
  sprintf(buf,
          "{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"%s\","
          "\"source\":\"certhub.acm\",\"account\":\"123456789012\","
          "\"time\":\"2026-11-23T10:00:00Z\",\"region\":\"eu-west-1\","
          "\"resources\":[%s%s%s],\"detail\":%s}",
          dt, arn ? "\"" : "", arn ? arn : "", arn ? "\"" : "", detail);
  return buf;
}

static ch_err map(certhub_store *s, const char *ev, int64_t now, size_t *n,
                  char **detail)
{
  return certhub_findings_from_event(s, ev, strlen(ev), now, n, detail);
}

static void map_ok(certhub_store *s, char *ev, int64_t now, size_t want)
{
  size_t n = 99;
  char *detail = NULL;
  ch_err rc = map(s, ev, now, &n, &detail);
  if(rc)
    fail_msg("from_event: %s: %s", certhub_strerror(rc), detail);
  assert_int_equal(n, want);
  free(detail);
  free(ev);
}

typedef struct fs {
  size_t n;
  json_t *last;
  char workflow[16], record[16], severity[16], resource[128];
} fs;

static ch_err grab(void *ctx, const certhub_finding_row *row)
{
  fs *st = ctx;
  st->n++;
  json_decref(st->last);
  st->last = json_loads(row->json, 0, NULL);
  snprintf(st->workflow, sizeof(st->workflow), "%s", row->workflow_status);
  snprintf(st->record, sizeof(st->record), "%s", row->record_state);
  snprintf(st->severity, sizeof(st->severity), "%s", row->severity_label);
  snprintf(st->resource, sizeof(st->resource), "%s", row->resource_id);
  return CH_OK;
}

static void get(certhub_store *s, const char *id, fs *st)
{
  json_decref(st->last);
  memset(st, 0, sizeof(*st));
  ch_err rc = certhub_findings_get(s, PARN, id, grab, st);
  if(rc)
    fail_msg("get %s: %s", id, certhub_store_errmsg(s));
}

static size_t count(certhub_store *s)
{
  fs st = {0};
  assert_int_equal(certhub_findings_list(s, NULL, grab, &st), CH_OK);
  json_decref(st.last);
  return st.n;
}

static const char *sval(json_t *f, const char *a, const char *b)
{
  json_t *j = json_object_get(f, a);
  if(b)
    j = json_object_get(j, b);
  return json_is_string(j) ? json_string_value(j) : "";
}

static void test_approaching_updates_one(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  fs st = {0};
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN1,
               "{\"DaysToExpiry\":14,\"CommonName\":\"www.example.com\"}"),
         T_NOW, 1);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(sval(st.last, "Title", NULL),
                      "Certificate www.example.com expires in 14 days");
  assert_string_equal(st.severity, "MEDIUM");
  assert_string_equal(st.workflow, "NEW");
  assert_string_equal(st.record, "ACTIVE");
  assert_string_equal(st.resource, ARN1);
  assert_string_equal(sval(st.last, "GeneratorId", NULL), "certhub-lifecycle");
  assert_string_equal(sval(st.last, "AwsAccountId", NULL), "123456789012");
  assert_string_equal(sval(st.last, "Compliance", "Status"), "FAILED");
  assert_string_equal(sval(st.last, "CreatedAt", NULL),
                      "2026-11-23T10:00:00.000Z");
  /* Not in the inventory: a remediation text but no certhub page. */
  json_t *rem = json_object_get(st.last, "Remediation");
  assert_string_not_equal(sval(rem, "Recommendation", "Text"), "");
  assert_null(json_object_get(json_object_get(rem, "Recommendation"), "Url"));
  /* The next day: the same finding, updated. */
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN1,
               "{\"DaysToExpiry\":13,\"CommonName\":\"www.example.com\"}"),
         T_NOW + T_DAY, 1);
  /* Twice within one second: still an update (UpdatedAt moves on). */
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN1,
               "{\"DaysToExpiry\":7,\"CommonName\":\"www.example.com\"}"),
         T_NOW + T_DAY, 1);
  assert_int_equal(count(s), 1);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(sval(st.last, "Title", NULL),
                      "Certificate www.example.com expires in 7 days");
  assert_string_equal(st.severity, "HIGH");
  assert_string_equal(sval(st.last, "CreatedAt", NULL),
                      "2026-11-23T10:00:00.000Z");
  assert_string_equal(sval(st.last, "FirstObservedAt", NULL),
                      "2026-11-23T10:00:00.000Z");
  assert_string_equal(sval(st.last, "UpdatedAt", NULL),
                      "2026-11-24T10:00:00.001Z");
  /* Expired: CRITICAL, same finding. */
  map_ok(s,
         event("ACM Certificate Expired", ARN1,
               "{\"CommonName\":\"www.example.com\","
               "\"CertificateExpirationDate\":\"2026-12-01T00:00:00Z\"}"),
         T_NOW + 9 * T_DAY, 1);
  assert_int_equal(count(s), 1);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(st.severity, "CRITICAL");
  assert_string_equal(sval(st.last, "Title", NULL),
                      "Certificate www.example.com has expired");
  json_t *acm = json_object_get(
      json_object_get(json_array_get(json_object_get(st.last, "Resources"), 0),
                      "Details"),
      "AwsCertificateManagerCertificate");
  assert_string_equal(sval(acm, "Status", NULL), "EXPIRED");
  assert_string_equal(sval(acm, "NotAfter", NULL), "2026-12-01T00:00:00Z");
  json_decref(st.last);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_severity_bands(void **state)
{
  (void)state;
  static const struct {
    int days;
    const char *label;
  } bands[] = {{45, "LOW"}, {31, "LOW"}, {30, "MEDIUM"},  {8, "MEDIUM"},
               {7, "HIGH"}, {0, "HIGH"}, {-1, "CRITICAL"}};
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  for(size_t i = 0; i < CH_ARRAY_LEN(bands); i++) {
    char arn[128], det[128], id[160];
    fs st = {0};
    snprintf(arn, sizeof(arn), "%s%zu", ARN1, i);
    snprintf(det, sizeof(det), "{\"DaysToExpiry\":%d}", bands[i].days);
    map_ok(s, event("ACM Certificate Approaching Expiration", arn, det), T_NOW,
           1);
    snprintf(id, sizeof(id), "%s/expiry", arn);
    get(s, id, &st);
    if(strcmp(st.severity, bands[i].label))
      fail_msg("%d days: %s, want %s", bands[i].days, st.severity,
               bands[i].label);
    json_decref(st.last);
  }
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Configured bands (config findings.expiry_severity) through the options;
 * an expired certificate stays CRITICAL whatever the bands. */
static void test_configured_bands(void **state)
{
  (void)state;
  static const struct {
    int days;
    const char *label;
  } want[] = {{91, "LOW"}, {90, "MEDIUM"},  {15, "MEDIUM"},  {14, "HIGH"},
              {4, "HIGH"}, {3, "CRITICAL"}, {0, "CRITICAL"}, {-5, "CRITICAL"}};
  const certhub_expiry_bands b = {3, 14, 90};
  const certhub_event_findings_opts o = {.product = "scanner", .bands = &b};
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  for(size_t i = 0; i < CH_ARRAY_LEN(want); i++) {
    char arn[128], det[128], id[160], *detail = NULL;
    size_t n = 0;
    fs st = {0};
    snprintf(arn, sizeof(arn), "%s%zu", ARN1, i);
    snprintf(det, sizeof(det), "{\"DaysToExpiry\":%d}", want[i].days);
    char *ev = event("ACM Certificate Approaching Expiration", arn, det);
    ch_err rc = certhub_findings_from_event_opts(s, &o, ev, strlen(ev), T_NOW,
                                                 &n, &detail);
    if(rc)
      fail_msg("from_event_opts: %s: %s", certhub_strerror(rc), detail);
    assert_int_equal(n, 1);
    free(detail);
    free(ev);
    snprintf(id, sizeof(id), "%s/expiry", arn);
    get(s, id, &st);
    if(strcmp(st.severity, want[i].label))
      fail_msg("%d days: %s, want %s", want[i].days, st.severity,
               want[i].label);
    assert_string_equal(sval(st.last, "ProductName", NULL), "scanner");
    json_decref(st.last);
  }
  /* Without options: the default bands (3 days is HIGH). */
  fs st = {0};
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN2,
               "{\"DaysToExpiry\":3}"),
         T_NOW, 1);
  get(s, ARN2 "/expiry", &st);
  assert_string_equal(st.severity, "HIGH");
  json_decref(st.last);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_scheduled_batch(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  fs st = {0};
  const char *batch =
      "{\"certificates\":["
      "{\"Id\":\"aaaa\",\"Arn\":\"" ARN1 "\",\"CommonName\":\"a.example\","
      "\"DaysToExpiry\":3,\"NotAfter\":\"2026-11-26T00:00:00Z\","
      "\"Issuer\":\"CN=CA\",\"Owner\":\"team-a\",\"Sources\":[\"/etc/a.pem\","
      "\"a.example:443\"]},"
      "{\"Id\":\"bbbb\",\"Arn\":\"" ARN2 "\",\"CommonName\":\"b.example\","
      "\"DaysToExpiry\":20},"
      "{\"Id\":\"cccc\",\"Arn\":\"" ARN3 "\",\"CommonName\":\"c.example\","
      "\"NotAfter\":\"2027-01-22T10:00:00Z\"}],"
      "\"count\":3,\"generatedAt\":\"2026-11-23T10:00:00Z\"}";
  map_ok(s, event("Scheduled Event", NULL, batch), T_NOW, 3);
  assert_int_equal(count(s), 3);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(st.severity, "HIGH");
  json_t *other = json_object_get(
      json_object_get(json_array_get(json_object_get(st.last, "Resources"), 0),
                      "Details"),
      "Other");
  assert_string_equal(sval(other, "owner", NULL), "team-a");
  assert_string_equal(sval(other, "sources", NULL),
                      "/etc/a.pem,a.example:443");
  get(s, ARN2 "/expiry", &st);
  assert_string_equal(st.severity, "MEDIUM");
  get(s, ARN3 "/expiry", &st);
  /* DaysToExpiry from NotAfter: 60 days. */
  assert_string_equal(st.severity, "LOW");
  assert_string_equal(sval(st.last, "Title", NULL),
                      "Certificate c.example expires in 60 days");
  /* The weekly batch again: still three findings. */
  map_ok(s, event("Scheduled Event", NULL, batch), T_NOW + 7 * T_DAY, 3);
  assert_int_equal(count(s), 3);

  /* An entry without Arn fails the delivery, the others are stored. */
  char *ev =
      event("Scheduled Event", NULL,
            "{\"certificates\":[{\"CommonName\":\"x\",\"DaysToExpiry\":"
            "1},{\"Arn\":\"arn:x:4\",\"DaysToExpiry\":2}],\"count\":2}");
  size_t n = 0;
  char *detail = NULL;
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_int_equal(n, 1);
  assert_non_null(strstr(detail, "certificates[0]: no Arn"));
  free(detail);
  free(ev);
  assert_int_equal(count(s), 4);
  /* A scheduled event without a batch has no mapping. */
  ev = event("Scheduled Event", NULL, "{}");
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_UNSUPPORTED);
  assert_non_null(strstr(detail, "certificates"));
  free(detail);
  free(ev);
  json_decref(st.last);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_renewal_action_and_available(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  fs st = {0};
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN1,
               "{\"DaysToExpiry\":30,\"CommonName\":\"a.example\"}"),
         T_NOW, 1);
  map_ok(s,
         event("ACM Certificate Renewal Action Required", ARN1,
               "{\"CommonName\":\"a.example\",\"DaysToExpiry\":30,"
               "\"RenewalStatusReason\":\"CAA_ERROR\"}"),
         T_NOW, 1);
  get(s, ARN1 "/renewal", &st);
  assert_string_equal(sval(st.last, "Title", NULL),
                      "Renewal of certificate a.example needs action "
                      "(CAA_ERROR)");
  assert_string_equal(st.severity, "MEDIUM");
  assert_int_equal(count(s), 2);
  /* Available with Action IMPORT (e.g. first seen at an endpoint) says
   * nothing about expiry: nothing is archived. */
  map_ok(s,
         event("ACM Certificate Available", ARN1,
               "{\"Action\":\"IMPORT\",\"CommonName\":\"a.example\"}"),
         T_NOW + 30, 0);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(st.record, "ACTIVE");
  /* ACM renews in place: an Available RENEWAL of the same ARN archives
   * both findings of it; the workflow becomes RESOLVED. */
  map_ok(s,
         event("ACM Certificate Available", ARN1,
               "{\"Action\":\"RENEWAL\",\"CommonName\":\"a.example\","
               "\"DaysToExpiry\":90}"),
         T_NOW + 60, 2);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(st.record, "ARCHIVED");
  assert_string_equal(st.workflow, "RESOLVED");
  assert_string_equal(sval(st.last, "Compliance", "Status"), "PASSED");
  get(s, ARN1 "/renewal", &st);
  assert_string_equal(st.record, "ARCHIVED");
  /* Again: nothing left to archive. */
  map_ok(s,
         event("ACM Certificate Available", ARN1,
               "{\"Action\":\"RENEWAL\",\"CommonName\":\"a.example\"}"),
         T_NOW + 120, 0);
  /* Expiring again later: the finding is active and NEW again. */
  map_ok(s,
         event("ACM Certificate Approaching Expiration", ARN1,
               "{\"DaysToExpiry\":10,\"CommonName\":\"a.example\"}"),
         T_NOW + 80 * T_DAY, 1);
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(st.record, "ACTIVE");
  assert_string_equal(st.workflow, "NEW");
  json_decref(st.last);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* REIMPORT: the inventory knows which certificate the new one replaced
 * (same subject at the same source); that one's finding is archived. */
static void test_reimport_via_inventory(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  tcert oldc, newc;
  trows rs;
  fs st = {0};
  char old_arn[128], new_arn[128], id[160], ev_old[512];
  setenv("CERTHUB_BASE_URL", "http://hub.test:9000/", 1);
  tcert_init(&oldc, 1, "a.example", T_NOW + 10 * T_DAY, 'A', 'Z');
  tcert_init(&newc, 2, "a.example", T_NOW + 100 * T_DAY, 'A', 'Z');
  int64_t src = 0, scan = 0;
  assert_int_equal(certhub_store_source(s, "file", "/etc/a.pem", &src), CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW, &scan), CH_OK);
  int64_t oid = t_put(s, &oldc, src, 1, scan, T_NOW);
  assert_int_equal(certhub_store_scan_finish(s, src, scan, T_NOW, NULL, NULL),
                   CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW + 1, &scan), CH_OK);
  int64_t nid = t_put(s, &newc, src, 1, scan, T_NOW + 1);
  assert_int_equal(
      certhub_store_scan_finish(s, src, scan, T_NOW + 1, NULL, NULL), CH_OK);
  snprintf(old_arn, sizeof(old_arn), "%s", t_row(s, oid, T_NOW, &rs)->arn);
  snprintf(new_arn, sizeof(new_arn), "%s", t_row(s, nid, T_NOW, &rs)->arn);
  assert_string_not_equal(old_arn, new_arn);
  assert_string_equal(t_row(s, nid, T_NOW, &rs)->replaces, oldc.c.id);

  /* The events carry the inventory's account and region. */
  snprintf(
      ev_old, sizeof(ev_old),
      "{\"version\":\"0\",\"id\":\"x\",\"detail-type\":\"ACM Certificate"
      " Approaching Expiration\",\"source\":\"certhub.acm\",\"account\":"
      "\"000000000000\",\"time\":\"2026-11-23T10:00:00Z\",\"region\":"
      "\"local\",\"resources\":[\"%s\"],\"detail\":{\"DaysToExpiry\":10}}",
      old_arn);
  map_ok(s, strdup(ev_old), T_NOW, 1);
  snprintf(ev_old, sizeof(ev_old),
           "{\"version\":\"0\",\"id\":\"y\",\"detail-type\":\"ACM Certificate"
           " Available\",\"source\":\"certhub.acm\",\"account\":"
           "\"000000000000\",\"time\":\"2026-11-23T10:00:00Z\",\"region\":"
           "\"local\",\"resources\":[\"%s\"],\"detail\":{\"Action\":"
           "\"REIMPORT\",\"DaysToExpiry\":100}}",
           new_arn);
  map_ok(s, strdup(ev_old), T_NOW + 5, 1);
  snprintf(id, sizeof(id), "%s/expiry", old_arn);
  json_decref(st.last);
  memset(&st, 0, sizeof(st));
  assert_int_equal(
      certhub_findings_get(
          s,
          "arn:certhub:securityhub:local:000000000000:product/certhub/certhub",
          id, grab, &st),
      CH_OK);
  assert_string_equal(st.record, "ARCHIVED");
  assert_string_equal(st.workflow, "RESOLVED");
  /* The inventory knows the certificate: its page in certhub serve. */
  char url[128];
  snprintf(url, sizeof(url), "http://hub.test:9000/certificates/%s",
           oldc.c.id);
  json_t *rec = json_object_get(json_object_get(st.last, "Remediation"),
                                "Recommendation");
  assert_string_equal(sval(rec, "Url", NULL), url);
  assert_string_equal(sval(st.last, "Compliance", "SecurityControlId"),
                      "certhub/expiry");
  assert_string_equal(sval(st.last, "Compliance", "Status"), "PASSED");
  json_decref(st.last);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_refusals(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  size_t n = 9;
  char *detail = NULL;
  char *ev = event("Something Else", ARN1, "{}");
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_UNSUPPORTED);
  assert_string_equal(detail, "no finding mapping for detail-type Something "
                              "Else");
  assert_int_equal(n, 0);
  free(detail);
  free(ev);
  assert_int_equal(map(s, "{\"detail-type\":", T_NOW, &n, &detail),
                   CH_ERR_PARSE);
  assert_non_null(strstr(detail, "not valid JSON"));
  free(detail);
  assert_int_equal(map(s, "[1,2]", T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_non_null(strstr(detail, "not a JSON object"));
  free(detail);
  ev = event("ACM Certificate Approaching Expiration", ARN1,
             "{\"CommonName\":\"x\"}");
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_non_null(strstr(detail, "DaysToExpiry is missing"));
  free(detail);
  free(ev);
  ev = event("ACM Certificate Approaching Expiration", NULL,
             "{\"DaysToExpiry\":3}");
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_non_null(strstr(detail, "resources[0]"));
  free(detail);
  free(ev);
  /* An account that is not 12 digits fails ASFF validation. */
  ev = strdup("{\"detail-type\":\"ACM Certificate Expired\",\"account\":"
              "\"abc\",\"region\":\"r\",\"resources\":[\"arn:x\"],"
              "\"detail\":{}}");
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_non_null(strstr(detail, "12 digits"));
  free(detail);
  free(ev);
  assert_int_equal(count(s), 0);
  /* The bus hook: same mapping, ctx is the store. */
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  ev = event("ACM Certificate Approaching Expiration", ARN1,
             "{\"DaysToExpiry\":3}");
  assert_int_equal(
      certhub_findings_event_hook(s, "Team PKI", ev, strlen(ev), &detail),
      CH_OK);
  assert_string_equal(detail, "1 finding(s) written");
  free(detail);
  free(ev);
  assert_int_equal(count(s), 1);
  fs st = {0};
  get(s, ARN1 "/expiry", &st);
  assert_string_equal(sval(st.last, "ProductName", NULL), "Team PKI");
  assert_string_equal(sval(st.last, "UpdatedAt", NULL),
                      "2026-11-23T10:00:00.000Z");
  json_decref(st.last);
  /* Hook errors map to the bus's FAILED class (target.h). */
  ev = event("Other", ARN1, "{}");
  assert_int_equal(
      certhub_findings_event_hook(s, NULL, ev, strlen(ev), &detail),
      CH_ERR_UNSUPPORTED);
  free(detail);
  free(ev);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Long multi-byte names are cut on character boundaries (the finding stays
 * valid UTF-8 and within ASFF's limits); overlong ARNs are refused. */
static void test_hostile_strings(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  fs st = {0};
  char det[1024] = "{\"DaysToExpiry\":2,\"CommonName\":\"";
  for(int i = 0; i < 200; i++)
    strcat(det, "\xc3\xa9"); /* é: 400 bytes */
  strcat(det, "\"}");
  map_ok(s, event("ACM Certificate Approaching Expiration", ARN1, det), T_NOW,
         1);
  get(s, ARN1 "/expiry", &st);
  assert_non_null(st.last); /* the stored JSON parsed: valid UTF-8 */
  const char *title = sval(st.last, "Title", NULL);
  assert_true(strlen(title) <= 256);
  assert_int_equal(strncmp(title, "Certificate \xc3\xa9", 14), 0);
  assert_non_null(strstr(title, " expires in 2 days"));
  json_decref(st.last);

  char arn[600];
  memset(arn, 'a', 500);
  memcpy(arn, "arn:", 4);
  arn[500] = '\0';
  char *ev = event("ACM Certificate Approaching Expiration", arn,
                   "{\"DaysToExpiry\":2}");
  char *detail = NULL;
  size_t n = 0;
  assert_int_equal(map(s, ev, T_NOW, &n, &detail), CH_ERR_PARSE);
  assert_non_null(strstr(detail, "longer than 400 bytes"));
  free(detail);
  free(ev);
  assert_int_equal(count(s), 1);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* The bus calls hooks from several threads with the same store handle:
 * every call succeeds and every finding is there. */
typedef struct hook_arg {
  certhub_store *s;
  int thread;
  int failures;
} hook_arg;

static void *hook_thread(void *p)
{
  hook_arg *a = p;
  for(int i = 0; i < 25; i++) {
    char arn[128], *detail = NULL;
    snprintf(arn, sizeof(arn), "%s-%d-%d", ARN1, a->thread, i);
    char *ev = event("ACM Certificate Approaching Expiration", arn,
                     "{\"DaysToExpiry\":9}");
    if(certhub_findings_event_hook(a->s, NULL, ev, strlen(ev), &detail))
      a->failures++;
    free(detail);
    free(ev);
  }
  return NULL;
}

static void test_hook_threads(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  pthread_t th[4];
  hook_arg args[4];
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  for(int i = 0; i < 4; i++) {
    args[i] = (hook_arg){.s = s, .thread = i};
    assert_int_equal(pthread_create(&th[i], NULL, hook_thread, &args[i]), 0);
  }
  for(int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(args[i].failures, 0);
  }
  assert_int_equal(count(s), 100);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_approaching_updates_one),
      cmocka_unit_test(test_severity_bands),
      cmocka_unit_test(test_configured_bands),
      cmocka_unit_test(test_scheduled_batch),
      cmocka_unit_test(test_renewal_action_and_available),
      cmocka_unit_test(test_reimport_via_inventory),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_hostile_strings),
      cmocka_unit_test(test_hook_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
