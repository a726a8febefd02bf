/*
 * Notification rendering: the template language (compile errors with
 * their lines, sections, escaping, bounds), template sets, and the
 * built-in renderings of each detail-type and of the digest, from
 * hand-written events (the store-backed path is in
 * test_e2e_notify.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "certhub/notify.h"
#include "certhub/notify_render.h"

static char *render_t(const char *tmpl, bool html, const char *ctx_json)
{
  certhub_template *t = NULL;
  char *why = NULL, *out = NULL;
  json_t *ctx = json_loads(ctx_json, 0, NULL);
  assert_non_null(ctx);
  if(certhub_template_compile(tmpl, html, &t, &why))
    fail_msg("compile %s: %s", tmpl, why ? why : "?");
  if(certhub_template_render(t, ctx, 1 << 20, &out, &why))
    fail_msg("render %s: %s", tmpl, why ? why : "?");
  certhub_template_free(t);
  json_decref(ctx);
  return out;
}

static void expect_render(const char *tmpl, bool html, const char *ctx,
                          const char *want)
{
  char *got = render_t(tmpl, html, ctx);
  if(strcmp(got, want))
    fail_msg("template %s: got [%s], want [%s]", tmpl, got, want);
  free(got);
}

static void expect_compile_error(const char *tmpl, ch_err want_rc,
                                 const char *needle)
{
  certhub_template *t = NULL;
  char *why = NULL;
  ch_err rc = certhub_template_compile(tmpl, false, &t, &why);
  if(rc != want_rc)
    fail_msg("template %s: rc %d, want %d", tmpl, rc, want_rc);
  assert_null(t);
  if(!why || !strstr(why, needle))
    fail_msg("template %s: error [%s] lacks [%s]", tmpl, why ? why : "",
             needle);
  free(why);
}

static void test_template_values(void **state)
{
  (void)state;
  const char *ctx = "{\"detail\":{\"DaysToExpiry\":14,\"CommonName\":\"a<b>"
                    "&'\\\"\",\"r\":1.5,\"ok\":true,\"no\":null,\"o\":"
                    "{\"x\":[1]}},\"name\":\"n\"}";
  expect_render("{{detail.DaysToExpiry}} days", false, ctx, "14 days");
  expect_render("{{ detail.DaysToExpiry }}", false, ctx, "14");
  expect_render("{{detail.r}} {{detail.ok}} [{{detail.no}}] [{{missing}}]"
                " [{{detail.missing.deeper}}]",
                false, ctx, "1.5 true [] [] []");
  expect_render("{{detail.o}}", false, ctx, "{\"x\":[1]}");
  /* text templates are not escaped; html ones are, unless {{{ }}} / & */
  expect_render("{{detail.CommonName}}", false, ctx, "a<b>&'\"");
  expect_render("{{detail.CommonName}}", true, ctx,
                "a&lt;b&gt;&amp;&#39;&quot;");
  expect_render("{{{detail.CommonName}}}|{{& detail.CommonName}}", true, ctx,
                "a<b>&'\"|a<b>&'\"");
  expect_render("a{{! a comment }}b", false, ctx, "ab");
  expect_render("no tags at all\n", false, ctx, "no tags at all\n");
  expect_render("{single} }} {", false, ctx, "{single} }} {");
}

static void test_template_sections(void **state)
{
  (void)state;
  const char *ctx =
      "{\"certificates\":[{\"CommonName\":\"a\",\"DaysToExpiry\":1},"
      "{\"CommonName\":\"b\",\"DaysToExpiry\":2}],\"empty\":[],\"name\":"
      "\"outer\",\"obj\":{\"k\":\"v\"},\"f\":false,\"list\":[\"x\",\"y\"]}";
  expect_render("{{#certificates}}{{CommonName}}={{DaysToExpiry}};"
                "{{/certificates}}",
                false, ctx, "a=1;b=2;");
  /* names not in the element are looked up outwards */
  expect_render("{{#certificates}}{{name}}{{/certificates}}", false, ctx,
                "outerouter");
  expect_render("{{#empty}}x{{/empty}}{{^empty}}none{{/empty}}", false, ctx,
                "none");
  expect_render("{{#obj}}{{k}}{{/obj}}", false, ctx, "v");
  expect_render("{{#f}}yes{{/f}}{{^f}}no{{/f}}", false, ctx, "no");
  expect_render("{{#missing}}yes{{/missing}}{{^missing}}no{{/missing}}", false,
                ctx, "no");
  expect_render("{{#list}}<{{.}}>{{/list}}", false, ctx, "<x><y>");
  /* a line holding only a section tag leaves no blank line */
  expect_render("Expiring:\n{{#certificates}}\n- {{CommonName}}\n"
                "{{/certificates}}\nend\n",
                false, ctx, "Expiring:\n- a\n- b\nend\n");
  expect_render("  {{! indented comment }}\nx\n", false, ctx, "x\n");
  /* nested sections */
  expect_render("{{#certificates}}{{#list}}{{CommonName}}{{.}} {{/list}}"
                "{{/certificates}}",
                false, ctx, "ax ay bx by ");
}

static void test_template_errors(void **state)
{
  (void)state;
  expect_compile_error("x {{detail", CH_ERR_PARSE,
                       "line 1: '{{' without a closing '}}'");
  expect_compile_error("a\nb {{{raw}}", CH_ERR_PARSE,
                       "line 2: '{{' without a closing '}}}'");
  expect_compile_error("{{#a}}\n\nx", CH_ERR_PARSE,
                       "line 1: section 'a' is never closed");
  expect_compile_error("{{#a}}\n{{/b}}", CH_ERR_PARSE,
                       "line 2: '{{/b}}' closes section 'a' opened at line 1");
  expect_compile_error("{{/a}}", CH_ERR_PARSE, "closes no open section");
  expect_compile_error("{{}}", CH_ERR_PARSE, "empty tag");
  expect_compile_error("{{#}}", CH_ERR_PARSE, "empty tag");
  expect_compile_error("{{a b}}", CH_ERR_PARSE,
                       "invalid character ' ' in tag name 'a b'");
  expect_compile_error("{{a<b}}", CH_ERR_PARSE, "invalid character '<'");
  char deep[1024] = "";
  for(int i = 0; i < CERTHUB_TEMPLATE_MAX_DEPTH + 1; i++)
    strcat(deep, "{{#a}}");
  expect_compile_error(deep, CH_ERR_TOOBIG, "nested deeper than 32");
  char *big = malloc(CERTHUB_TEMPLATE_MAX_LEN + 2);
  assert_non_null(big);
  memset(big, 'x', CERTHUB_TEMPLATE_MAX_LEN + 1);
  big[CERTHUB_TEMPLATE_MAX_LEN + 1] = '\0';
  expect_compile_error(big, CH_ERR_TOOBIG, "longer than 65536 bytes");
  free(big);
}

static void test_template_output_cap(void **state)
{
  (void)state;
  certhub_template *t = NULL;
  char *why = NULL, *out = NULL;
  json_t *ctx =
      json_pack("{s[iiiiiiiiii]}", "l", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  assert_int_equal(
      certhub_template_compile("{{#l}}0123456789{{/l}}", false, &t, &why),
      CH_OK);
  assert_int_equal(certhub_template_render(t, ctx, 100, &out, &why), CH_OK);
  assert_int_equal(strlen(out), 100);
  free(out);
  assert_int_equal(certhub_template_render(t, ctx, 99, &out, &why),
                   CH_ERR_TOOBIG);
  assert_null(out);
  assert_non_null(strstr(why, "larger than 99 bytes"));
  free(why);
  certhub_template_free(t);
  json_decref(ctx);
}

static void test_template_sets(void **state)
{
  (void)state;
  certhub_render_templates *ts = NULL;
  char *why = NULL;
  assert_int_equal(
      certhub_render_templates_parse_text(
          "{\"subject\":\"s {{detail.x}}\",\"text\":\"t\"}", &ts, &why),
      CH_OK);
  certhub_render_templates_free(ts);
  assert_int_equal(
      certhub_render_templates_parse_text(
          "{\"ACM Certificate Expired\":{\"html\":\"<b>{{x}}</b>\"},\"*\":"
          "{\"subject\":\"any\"}}",
          &ts, &why),
      CH_OK);
  certhub_render_templates_free(ts);
  ts = NULL;
  struct {
    const char *json, *needle;
  } bad[] = {
      {"[1]", "templates: must be a map"},
      {"{\"subject\":5}", "templates: '*'.subject: must be a string"},
      {"{\"ACM Certificate Expired\":{\"body\":\"x\"}}",
       "unknown key 'body' (use subject, text, html)"},
      {"{\"ACM Certificate Expired\":{\"text\":\"{{#a}}\"}}",
       "templates: 'ACM Certificate Expired'.text: template line 1: section "
       "'a' is never closed"},
      {"{\"ACM Certificate Expired\":\"x\"}",
       "'ACM Certificate Expired': must be a map of subject, text, html"},
      {"{oops", "templates: invalid JSON"},
  };
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ch_err rc = certhub_render_templates_parse_text(bad[i].json, &ts, &why);
    assert_int_not_equal(rc, CH_OK);
    assert_null(ts);
    if(!why || !strstr(why, bad[i].needle))
      fail_msg("%s: [%s] lacks [%s]", bad[i].json, why ? why : "",
               bad[i].needle);
    free(why);
    why = NULL;
  }
}

/* ---- built-in renderings ------------------------------------------------ */

#define ARN                                                                   \
  "arn:certhub:acm:local:123456789012:certificate/0123abcd-ef01-2345-6789-"   \
  "abcdef012345"

static char *envelope(const char *dt, const char *detail)
{
  char *s = NULL;
  assert_true(asprintf(&s,
                       "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":"
                       "\"%s\",\"source\":\"certhub.acm\",\"account\":"
                       "\"123456789012\",\"time\":\"2026-11-22T10:00:00Z\","
                       "\"region\":\"local\",\"resources\":[\"" ARN
                       "\"],\"detail\":%s}",
                       dt, detail) > 0);
  return s;
}

static void render_ok(const char *ev, const certhub_render_opts *o,
                      certhub_rendered *r)
{
  char *why = NULL;
  ch_err rc = certhub_render_event(ev, strlen(ev), o, r, &why);
  if(rc)
    fail_msg("render: %s", why ? why : certhub_strerror(rc));
  /* every subject is one SNS takes */
  const char *w = NULL;
  if(certhub_topic_subject_check(r->subject, &w))
    fail_msg("subject [%s]: %s", r->subject, w);
}

static void has(const char *s, const char *needle)
{
  if(!strstr(s, needle))
    fail_msg("[%s] lacks [%s]", s, needle);
}

static void has_not(const char *s, const char *needle)
{
  if(strstr(s, needle))
    fail_msg("[%s] has [%s]", s, needle);
}

static ch_err fake_inventory(void *ctx, const char *arn, json_t **info)
{
  (void)ctx;
  *info = NULL;
  if(strcmp(arn, ARN))
    return CH_OK;
  *info = json_pack("{ss ss ss ss s[ss]}", "Id", "0123abcdef012345", "Owner",
                    "web<team>", "Issuer", "Example CA", "NotAfter",
                    "2026-12-06T08:00:00Z", "Sources", "/etc/ssl/site.pem",
                    "tls://www.example.com:443");
  return CH_OK;
}

static void test_render_approaching(void **state)
{
  (void)state;
  certhub_rendered r;
  char *ev = envelope("ACM Certificate Approaching Expiration",
                      "{\"DaysToExpiry\":14,\"CommonName\":"
                      "\"www.example.com\"}");
  /* without a lookup: the date from the event's time and the days */
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject,
                      "Certificate www.example.com expires in 14 days "
                      "(2026-12-06)");
  has(r.text, "Certificate www.example.com expires in 14 days (2026-12-06).");
  has(r.text, ARN);
  has(r.text, "http://localhost:8080/certificates/0123abcdef012345");
  has(r.html, "<a href=\"http://localhost:8080/certificates/"
              "0123abcdef012345\">");
  has(r.text, "(no owner tag)");
  certhub_rendered_free(&r);
  /* with the inventory: owner, issuer, every source; a base URL */
  certhub_render_opts o = {.lookup = fake_inventory,
                           .base_url = "https://certhub.example.com/"};
  render_ok(ev, &o, &r);
  has(r.text, "Owner          web<team>");
  has(r.html, "web&lt;team&gt;");
  has_not(r.html, "web<team>");
  has(r.text, "Issuer         Example CA");
  has(r.text, "/etc/ssl/site.pem");
  has(r.text, "tls://www.example.com:443");
  has(r.text, "https://certhub.example.com/certificates/0123abcdef012345");
  certhub_rendered_free(&r);
  free(ev);
  /* today, 1 day */
  ev = envelope("ACM Certificate Approaching Expiration",
                "{\"DaysToExpiry\":0,\"CommonName\":\"a.example\"}");
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject,
                      "Certificate a.example expires today (2026-11-22)");
  certhub_rendered_free(&r);
  free(ev);
  ev = envelope("ACM Certificate Approaching Expiration",
                "{\"DaysToExpiry\":1,\"CommonName\":\"a.example\"}");
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject,
                      "Certificate a.example expires in 1 day (2026-11-23)");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_render_types(void **state)
{
  (void)state;
  certhub_rendered r;
  char *ev = envelope(
      "ACM Certificate Expired",
      "{\"CertificateType\":\"IMPORTED\",\"CommonName\":\"old.example\","
      "\"CertificateExpirationDate\":\"2026-11-20T00:00:00Z\",\"InUse\":"
      "true,\"Exported\":false}");
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject,
                      "Certificate old.example expired on 2026-11-20");
  has(r.text, "Replace it now");
  has(r.text, "CertificateType: IMPORTED"); /* the rest of the detail */
  has(r.text, "InUse: true");
  certhub_rendered_free(&r);
  free(ev);
  const char *actions[][2] = {{"RENEWAL", "renewed"},
                              {"IMPORT", "imported"},
                              {"REIMPORT", "reimported"}};
  for(size_t i = 0; i < 3; i++) {
    char d[256], want[128];
    snprintf(d, sizeof(d),
             "{\"Action\":\"%s\",\"CommonName\":\"n.example\","
             "\"DaysToExpiry\":90}",
             actions[i][0]);
    ev = envelope("ACM Certificate Available", d);
    render_ok(ev, NULL, &r);
    snprintf(want, sizeof(want), "Certificate n.example is available (%s)",
             actions[i][1]);
    assert_string_equal(r.subject, want);
    has(r.text, "No action is needed");
    certhub_rendered_free(&r);
    free(ev);
  }
  ev = envelope("ACM Certificate Renewal Action Required",
                "{\"CommonName\":\"r.example\",\"RenewalStatusReason\":"
                "\"COMMAND_TIMEOUT\",\"DaysToExpiry\":3,"
                "\"CertificateExpirationDate\":\"2026-11-25T10:00:00Z\","
                "\"RenewCommand\":\"/usr/local/bin/renew --site r\"}");
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject, "Action required: renewal of certificate "
                                 "r.example failed (COMMAND_TIMEOUT)");
  has(r.text, "COMMAND_TIMEOUT: the renewal command (renew_command of its "
              "source) ran past its renew_timeout");
  has(r.text, "/usr/local/bin/renew --site r");
  has(r.text, "2026-11-25 (in 3 days)");
  certhub_rendered_free(&r);
  free(ev);
  /* a custom event: a readable rendering of whatever the detail holds */
  ev = envelope("Backup Finished",
                "{\"job\":\"nightly <db>\",\"stats\":{\"files\":12,"
                "\"errors\":[\"disk\"]}}");
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject, "Backup Finished: " ARN);
  has(r.text, "  job: nightly <db>\n");
  has(r.text, "  stats:\n    files: 12\n    errors:\n      [0]: disk\n");
  has(r.html, "nightly &lt;db&gt;");
  has_not(r.html, "<db>");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_render_subject_rules(void **state)
{
  (void)state;
  certhub_rendered r;
  char cn[400];
  memset(cn, 'a', sizeof(cn) - 1);
  cn[sizeof(cn) - 1] = '\0';
  memcpy(cn, "\xc3\xa9t\xc3\xa9\\n", 7); /* non-ASCII and an escape */
  char d[600];
  snprintf(d, sizeof(d), "{\"DaysToExpiry\":3,\"CommonName\":\"%s\"}", cn);
  char *ev = envelope("ACM Certificate Approaching Expiration", d);
  render_ok(ev, NULL, &r); /* checks the subject against SNS's rules */
  assert_int_equal(strlen(r.subject), 100);
  assert_memory_equal(r.subject, "Certificate ?t? aaa", 19);
  assert_string_equal(r.subject + 97, "...");
  /* the bodies keep the name as it is */
  has(r.text, "\xc3\xa9t\xc3\xa9\naaa");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_render_bad_events(void **state)
{
  (void)state;
  certhub_rendered r;
  char *why = NULL;
  const char *bad[] = {"",
                       "[]",
                       "{\"detail\":{}}",
                       "{\"detail-type\":\"x\",\"detail\":[1]}",
                       "{\"detail-type\":5,\"detail\":{}}",
                       "{\"detail-type\":"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(
        certhub_render_event(bad[i], strlen(bad[i]), NULL, &r, &why),
        CH_ERR_PARSE);
    assert_null(r.subject);
    assert_non_null(why);
    free(why);
    why = NULL;
  }
}

/* Hostile details: too large for the body, nested deeply. */
static void test_render_hostile_detail(void **state)
{
  (void)state;
  json_t *d = json_object();
  char k[32];
  for(int i = 0; i < 20000; i++) {
    snprintf(k, sizeof(k), "field%05d", i);
    json_object_set_new(d, k, json_string("<some value worth escaping>"));
  }
  char *dt = json_dumps(d, JSON_COMPACT);
  json_decref(d);
  char *ev = envelope("Inventory Dump", dt);
  certhub_rendered r;
  render_ok(ev, NULL, &r);
  has(r.text, "(too large to show here: see the event itself)");
  has(r.html, "(too large to show here: see the event itself)");
  assert_true(strlen(r.text) <= CERTHUB_RENDER_MAX);
  has(r.text, "certhub event e1"); /* the footer is still there */
  certhub_rendered_free(&r);
  free(ev);
  free(dt);
  /* as the rest of an ACM detail */
  d = json_pack("{si ss}", "DaysToExpiry", 5, "CommonName", "a.example");
  for(int i = 0; i < 20000; i++) {
    snprintf(k, sizeof(k), "x%05d", i);
    json_object_set_new(d, k, json_string("0123456789abcdef"));
  }
  dt = json_dumps(d, JSON_COMPACT);
  json_decref(d);
  ev = envelope("ACM Certificate Approaching Expiration", dt);
  render_ok(ev, NULL, &r);
  has(r.text, "(too large to show here");
  has(r.text, "http://localhost:8080/certificates/0123abcdef012345");
  certhub_rendered_free(&r);
  free(ev);
  free(dt);
  /* nested 500 levels: shown to a depth, then "..." */
  char deep[4096] = "";
  for(int i = 0; i < 500; i++)
    strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for(int i = 0; i < 500; i++)
    strcat(deep, "}");
  ev = envelope("Deep", deep);
  render_ok(ev, NULL, &r);
  has(r.text, "a: ...");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_render_templates(void **state)
{
  (void)state;
  certhub_render_templates *ts = NULL;
  certhub_rendered r;
  char *why = NULL;
  assert_int_equal(
      certhub_render_templates_parse_text(
          "{\"ACM Certificate Approaching Expiration\":{\"subject\":\"[{{"
          "certificate.Owner}}] {{detail.CommonName}} in "
          "{{detail.DaysToExpiry}}d\",\"html\":\"<p>{{detail.CommonName}} "
          "{{link}}</p>\"},\"*\":{\"text\":\"{{subject}} via {{topicArn}}"
          "\"}}",
          &ts, &why),
      CH_OK);
  char *ev = envelope("ACM Certificate Approaching Expiration",
                      "{\"DaysToExpiry\":14,\"CommonName\":\"<x>\"}");
  certhub_render_opts o = {.templates = ts,
                           .lookup = fake_inventory,
                           .topic_arn = "arn:certhub:sns:local:1:t"};
  render_ok(ev, &o, &r);
  assert_string_equal(r.subject, "[web<team>] <x> in 14d");
  assert_string_equal(r.html,
                      "<p>&lt;x&gt; http://localhost:8080/certificates/"
                      "0123abcdef012345</p>");
  /* text from "*", with the built-in subject */
  assert_string_equal(r.text,
                      "Certificate <x> expires in 14 days (2026-12-06) via "
                      "arn:certhub:sns:local:1:t");
  certhub_rendered_free(&r);
  free(ev);
  certhub_render_templates_free(ts);
}

/* ---- the digest --------------------------------------------------------- */

static char *digest_event(size_t n, const char *const *owners, size_t nown)
{
  json_t *certs = json_array();
  for(size_t i = 0; i < n; i++) {
    char cn[64], id[17], na[32];
    snprintf(cn, sizeof(cn), "host%zu.example.com", i);
    snprintf(id, sizeof(id), "%016zx", i + 1);
    snprintf(na, sizeof(na), "2026-12-%02zuT00:00:00Z", 2 + i % 28);
    const char *ow = owners[i % nown];
    json_array_append_new(
        certs,
        json_pack("{ss ss ss sI ss ss so s[s]}", "Id", id, "Arn",
                  "arn:certhub:acm:local:0:certificate/x", "CommonName", cn,
                  "DaysToExpiry", (json_int_t)(i % 28), "NotAfter", na,
                  "Issuer", "R3", "Owner", ow ? json_string(ow) : json_null(),
                  "Sources", "/etc/ssl/x.pem"));
  }
  json_t *ev = json_pack("{ss ss ss ss s[s] s{so sI ss}}", "id", "d1",
                         "detail-type", "Scheduled Event", "source",
                         "aws.events", "time", "2026-12-02T00:05:00Z",
                         "resources", "arn:certhub:events:local:0:rule/w",
                         "detail", "certificates", certs, "count",
                         (json_int_t)n, "generatedAt", "2026-12-02T00:05:00Z");
  char *s = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  return s;
}

static void test_digest(void **state)
{
  (void)state;
  const char *owners[] = {"web", NULL, "db"};
  char *ev = digest_event(9, owners, 3);
  certhub_rendered r;
  render_ok(ev, NULL, &r);
  assert_string_equal(r.subject, "certhub digest: 9 certificates expiring, "
                                 "the soonest today (host0.example.com)");
  assert_int_equal(r.n_listed, 9);
  assert_int_equal(r.n_omitted, 0);
  has(r.text, "9 certificates expire within their threshold (3 owners).");
  /* the summary: most urgent group first, counts and the total */
  const char *web = strstr(r.text, "  web      ");
  const char *none = strstr(r.text, "  (no owner) ");
  const char *db = strstr(r.text, "  db       ");
  assert_non_null(web);
  assert_non_null(none);
  assert_non_null(db);
  assert_true(web < none && none < db);
  has(r.text, "  TOTAL                                     9\n");
  /* a group: its certificates by days left */
  const char *g = strstr(r.text, "== db (3) ==");
  assert_non_null(g);
  const char *h2 = strstr(g, "host2.example.com"),
             *h5 = strstr(g, "host5.example.com"),
             *h8 = strstr(g, "host8.example.com");
  assert_true(h2 && h5 && h8 && h2 < h5 && h5 < h8);
  has(r.html, "<h3>db (3)</h3>");
  has(r.html, "<th align=\"right\">9</th>");
  has(r.text, "http://localhost:8080/certificates/0000000000000003");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_digest_template(void **state)
{
  (void)state;
  const char *owners[] = {"a", "b"};
  char *ev = digest_event(CERTHUB_RENDER_TEMPLATE_ITEMS + 5, owners, 2);
  certhub_render_templates *ts = NULL;
  char *why = NULL;
  assert_int_equal(
      certhub_render_templates_parse_text(
          "{\"Scheduled Event\":{\"text\":\"{{count}}:{{#groups}}{{Owner}}"
          "={{Count}};{{/groups}}{{#certificates}}{{#Link}}L{{/Link}}"
          "{{/certificates}}|{{moreCount}}\"}}",
          &ts, &why),
      CH_OK);
  certhub_render_opts o = {.templates = ts};
  certhub_rendered r;
  render_ok(ev, &o, &r);
  char want[64];
  snprintf(want, sizeof(want), "%d:", CERTHUB_RENDER_TEMPLATE_ITEMS + 5);
  assert_memory_equal(r.text, want, strlen(want));
  has(r.text, "a=503;b=502;");
  has(r.text, "|5");
  size_t ls = 0;
  for(const char *p = r.text; *p; p++)
    ls += *p == 'L';
  assert_int_equal(ls, CERTHUB_RENDER_TEMPLATE_ITEMS);
  certhub_rendered_free(&r);
  certhub_render_templates_free(ts);
  free(ev);
}

/* More certificates than fit: the first ones, then how many more. */
static void test_digest_bounded(void **state)
{
  (void)state;
  const char *owners[] = {"web", "db", NULL};
  char *ev = digest_event(20000, owners, 3);
  certhub_rendered r;
  render_ok(ev, NULL, &r);
  assert_true(strlen(r.text) <= CERTHUB_RENDER_MAX);
  assert_true(strlen(r.html) <= CERTHUB_RENDER_MAX);
  assert_true(r.n_listed > 100);
  assert_true(r.n_omitted > 0);
  assert_int_equal(r.n_listed + r.n_omitted, 20000);
  char want[200];
  snprintf(want, sizeof(want), "... and %zu more certificates not listed here",
           r.n_omitted);
  has(r.text, want);
  has(r.text, "All of them:\n  http://localhost:8080/certificates\n");
  has(r.html, ">All of them</a>");
  has(r.text, "  TOTAL                                 20000\n");
  certhub_rendered_free(&r);
  /* a small cap */
  certhub_render_opts o = {.max_bytes = 20000};
  render_ok(ev, &o, &r);
  assert_true(strlen(r.text) <= 20000 && strlen(r.html) <= 20000);
  assert_true(r.n_omitted > 19000);
  certhub_rendered_free(&r);
  free(ev);
  /* an empty digest */
  ev = digest_event(0, owners, 3);
  render_ok(ev, NULL, &r);
  assert_string_equal(
      r.subject,
      "certhub digest: no certificate expires within its threshold");
  certhub_rendered_free(&r);
  free(ev);
}

static void test_arn_id(void **state)
{
  (void)state;
  char id[17];
  assert_true(certhub_render_arn_id(ARN, id));
  assert_string_equal(id, "0123abcdef012345");
  assert_false(certhub_render_arn_id("arn:aws:acm:x:1:certificate/abc", id));
  assert_false(
      certhub_render_arn_id("arn:certhub:acm:x:1:certificate/ab", id));
  assert_false(certhub_render_arn_id(NULL, id));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_template_values),
      cmocka_unit_test(test_template_sections),
      cmocka_unit_test(test_template_errors),
      cmocka_unit_test(test_template_output_cap),
      cmocka_unit_test(test_template_sets),
      cmocka_unit_test(test_render_approaching),
      cmocka_unit_test(test_render_types),
      cmocka_unit_test(test_render_subject_rules),
      cmocka_unit_test(test_render_bad_events),
      cmocka_unit_test(test_render_hostile_detail),
      cmocka_unit_test(test_render_templates),
      cmocka_unit_test(test_digest),
      cmocka_unit_test(test_digest_template),
      cmocka_unit_test(test_digest_bounded),
      cmocka_unit_test(test_arn_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
