/*
 * Probe results to findings against a real SQLite store and real
 * certificates (certhub-gen): the endpoint URI, every check failing at
 * once with its severity, Resources and Url, resolution when the checks
 * pass, the legacy check only judged when tested, failed probes changing
 * nothing, bad options refused.
 */
#include <jansson.h>
#include <time.h>

#include "certhub/cert.h"
#include "certhub/findings.h"
#include "test_store_util.h"

#define PARN                                                                  \
  "arn:certhub:securityhub:local:000000000000:product/certhub/certhub"

static void test_endpoint_uri(void **state)
{
  (void)state;
  char buf[256];
  certhub_target t = {.host = (char *)"www.example.com", .port = 443};
  assert_int_equal(certhub_findings_endpoint_uri(&t, NULL, buf, sizeof(buf)),
                   CH_OK);
  assert_string_equal(buf, "tls://www.example.com:443");
  t.sni = (char *)"www.example.com"; /* same as the host: not repeated */
  assert_int_equal(certhub_findings_endpoint_uri(&t, NULL, buf, sizeof(buf)),
                   CH_OK);
  assert_string_equal(buf, "tls://www.example.com:443");
  t.starttls = (char *)"smtp";
  t.port = 25;
  t.sni = (char *)"mx.example.com";
  assert_int_equal(
      certhub_findings_endpoint_uri(&t, "192.0.2.1:25", buf, sizeof(buf)),
      CH_OK);
  assert_string_equal(
      buf, "smtp://www.example.com:25;sni=mx.example.com;addr=192.0.2.1:25");
  certhub_target v6 = {.host = (char *)"2001:db8::1", .port = 8443};
  assert_int_equal(certhub_findings_endpoint_uri(&v6, NULL, buf, sizeof(buf)),
                   CH_OK);
  assert_string_equal(buf, "tls://[2001:db8::1]:8443");
  assert_int_equal(certhub_findings_endpoint_uri(&v6, NULL, buf, 10),
                   CH_ERR_TOOBIG);
}

/* A DER certificate made by certhub-gen with args. */
static uint8_t *gen_der(const char *dir, const char *name, const char *args,
                        size_t *len)
{
  const char *gen = getenv("CERTHUB_GEN");
  char path[256], cmd[1024];
  if(!gen)
    fail_msg("CERTHUB_GEN is not set");
  snprintf(path, sizeof(path), "%s/%s.der", dir, name);
  snprintf(cmd, sizeof(cmd), "'%s' --der %s -o '%s' --key-out '%s.key'", gen,
           args, path, path);
  assert_int_equal(system(cmd), 0);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t *der = malloc(1 << 16);
  assert_non_null(der);
  *len = fread(der, 1, 1 << 16, f);
  fclose(f);
  assert_true(*len > 100);
  return der;
}

typedef struct grabbed {
  size_t n;
  json_t *v[32];
} grabbed;

static ch_err grab(void *ctx, const certhub_finding_row *row)
{
  grabbed *g = ctx;
  assert_true(g->n < 32);
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

static const char *s2(json_t *o, const char *a, const char *b)
{
  json_t *j = json_object_get(o, a);
  if(b)
    j = json_object_get(j, b);
  return json_is_string(j) ? json_string_value(j) : "";
}

static json_t *by_id(grabbed *g, const char *id)
{
  for(size_t i = 0; i < g->n; i++)
    if(!strcmp(s2(g->v[i], "Id", NULL), id))
      return g->v[i];
  fail_msg("no finding %s", id);
  return NULL;
}

static const struct {
  const char *check;
  const char *label;
} all_checks[] = {
    {"expiry", "MEDIUM"}, /* 10 days */
    {"not-yet-valid", "HIGH"},   {"hostname-mismatch", "HIGH"},
    {"untrusted-chain", "HIGH"}, {"missing-intermediate", "MEDIUM"},
    {"chain-order", "LOW"},      {"expired-intermediate", "HIGH"},
    {"weak-key", "HIGH"},        {"sha1-signature", "HIGH"},
    {"legacy-tls", "MEDIUM"},    {"ocsp-revoked", "CRITICAL"},
};

static void test_checks(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  int64_t now = (int64_t)time(NULL);
  size_t bad_len = 0, good_len = 0, n = 99;
  uint8_t *bad = gen_der(d.path, "bad",
                         "--key rsa:1024 --sig sha1 --cn bad.test "
                         "--san DNS:bad.test --not-after +10d",
                         &bad_len);
  uint8_t *good = gen_der(d.path, "good",
                          "--key ec:P-256 --cn good.test --san DNS:good.test "
                          "--not-after +200d",
                          &good_len);
  certhub_target t = {.spec = (char *)"good.test:443",
                      .host = (char *)"good.test",
                      .port = 443};
  const uint8_t *chain[1] = {bad};
  size_t lens[1] = {bad_len};
  certhub_probe_result r = {.target = &t,
                            .address = "192.0.2.1:443",
                            .status = CERTHUB_PROBE_TIMEOUT,
                            .reason = "timeout",
                            .started = now,
                            .tls_version_name = "TLSv1.2",
                            .cipher = "",
                            .chain_n = 1,
                            .chain_sent = 1,
                            .chain_der = chain,
                            .chain_len = lens};
  certhub_probe_findings_opts o = {.base_url = "http://hub.test:9/",
                                   .legacy_checked = true};
  char *detail = NULL;
  grabbed g = {0};

  /* A failed probe judges nothing. */
  assert_int_equal(certhub_findings_from_probe(s, &r, &o, now, &n, &detail),
                   CH_OK);
  assert_int_equal(n, 0);
  assert_null(detail);
  assert_int_equal(certhub_findings_list(s, NULL, grab, &g), CH_OK);
  assert_int_equal(g.n, 0);

  /* Everything wrong at once: one finding per check. */
  r.status = CERTHUB_PROBE_OK;
  r.check.problems = CERTHUB_CHAIN_SELF_SIGNED | CERTHUB_CHAIN_WRONG_ORDER |
                     CERTHUB_CHAIN_MISSING_INTERMEDIATE |
                     CERTHUB_CHAIN_EXPIRED_INTERMEDIATE |
                     CERTHUB_CHAIN_NOT_YET_VALID;
  r.check.hostname_match = false;
  r.check.ocsp = CERTHUB_OCSP_REVOKED;
  r.legacy_accepted = 1;
  assert_int_equal(certhub_findings_from_probe(s, &r, &o, now, &n, &detail),
                   CH_OK);
  assert_int_equal(n, CH_ARRAY_LEN(all_checks));
  assert_int_equal(certhub_findings_list(s, NULL, grab, &g), CH_OK);
  assert_int_equal(g.n, CH_ARRAY_LEN(all_checks));
  char url[128], sha[80];
  certhub_cert *c = NULL;
  assert_int_equal(certhub_cert_parse_der(bad, bad_len, &c, NULL), CH_OK);
  snprintf(url, sizeof(url), "http://hub.test:9/certificates/%s", c->id);
  snprintf(sha, sizeof(sha), "sha256:%s", c->sha256_hex);
  certhub_cert_free(c);
  for(size_t i = 0; i < CH_ARRAY_LEN(all_checks); i++) {
    char id[128], control[64];
    snprintf(id, sizeof(id), "tls://good.test:443/%s", all_checks[i].check);
    snprintf(control, sizeof(control), "certhub/%s", all_checks[i].check);
    json_t *f = by_id(&g, id);
    assert_string_equal(s2(f, "Severity", "Label"), all_checks[i].label);
    assert_string_equal(s2(f, "Compliance", "Status"), "FAILED");
    assert_string_equal(s2(f, "Compliance", "SecurityControlId"), control);
    assert_string_equal(s2(f, "RecordState", NULL), "ACTIVE");
    assert_string_equal(s2(f, "GeneratorId", NULL), "certhub-probe");
    assert_string_equal(s2(f, "ProductArn", NULL), PARN);
    json_t *res = json_object_get(f, "Resources");
    /* Not in the inventory (nothing was stored): the fingerprint. */
    assert_string_equal(s2(json_array_get(res, 0), "Id", NULL), sha);
    assert_string_equal(s2(json_array_get(res, 1), "Id", NULL),
                        "tls://good.test:443");
    assert_string_equal(
        s2(json_object_get(f, "Remediation"), "Recommendation", "Url"), url);
  }
  grabbed_free(&g);

  /* All fixed: every finding archived and resolved. */
  chain[0] = good;
  lens[0] = good_len;
  memset(&r.check, 0, sizeof(r.check));
  r.check.trusted = true;
  r.check.hostname_match = true;
  r.legacy_accepted = 0;
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 60, &n, &detail), CH_OK);
  assert_int_equal(n, CH_ARRAY_LEN(all_checks));
  assert_int_equal(certhub_findings_list(s, NULL, grab, &g), CH_OK);
  for(size_t i = 0; i < g.n; i++) {
    assert_string_equal(s2(g.v[i], "Compliance", "Status"), "PASSED");
    assert_string_equal(s2(g.v[i], "RecordState", NULL), "ARCHIVED");
    assert_string_equal(s2(g.v[i], "Workflow", "Status"), "RESOLVED");
  }
  grabbed_free(&g);
  /* Again: nothing left to resolve. */
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 120, &n, &detail), CH_OK);
  assert_int_equal(n, 0);

  /* TLS 1.0 accepted but not tested this time: legacy-tls is left as is. */
  o.legacy_checked = false;
  r.legacy_accepted = 1;
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 180, &n, &detail), CH_OK);
  assert_int_equal(n, 0);
  /* Tested: it reopens. */
  o.legacy_checked = true;
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 240, &n, &detail), CH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(certhub_findings_get(
                       s, PARN, "tls://good.test:443/legacy-tls", grab, &g),
                   CH_OK);
  assert_string_equal(s2(g.v[0], "Workflow", "Status"), "NEW");
  assert_string_equal(s2(g.v[0], "RecordState", NULL), "ACTIVE");
  grabbed_free(&g);

  /* Configured bands (findings.expiry_severity): the leaf 10 days from
   * expiry, MEDIUM by default, is CRITICAL at critical: 10. */
  const certhub_expiry_bands bands = {10, 20, 60};
  o.bands = &bands;
  chain[0] = bad;
  lens[0] = bad_len;
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 260, &n, &detail), CH_OK);
  assert_int_equal(
      certhub_findings_get(s, PARN, "tls://good.test:443/expiry", grab, &g),
      CH_OK);
  assert_string_equal(s2(g.v[0], "Severity", "Label"), "CRITICAL");
  assert_string_equal(s2(g.v[0], "RecordState", NULL), "ACTIVE");
  grabbed_free(&g);
  o.bands = NULL;

  /* Bad labels are refused with a reason. */
  o.account = "123";
  assert_int_equal(
      certhub_findings_from_probe(s, &r, &o, now + 300, &n, &detail),
      CH_ERR_USAGE);
  assert_non_null(detail);
  assert_non_null(strstr(detail, "12 digits"));
  free(detail);

  free(bad);
  free(good);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_endpoint_uri),
      cmocka_unit_test(test_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
