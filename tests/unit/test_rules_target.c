/*
 * Targets: parse validation (each error path), the command target with
 * real processes, the file target on a real directory, the topic and
 * findings targets through their hooks. The webhook target is tested
 * against a real HTTP server in tests/integration/test_targets_webhook.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "certhub/target.h"
#include "core/core.h"

static char tmpdir[64];

static const char event[] =
    "{\"version\":\"0\",\"id\":\"ev-123\",\"detail-type\":\"ACM Certificate "
    "Approaching Expiration\",\"source\":\"certhub.acm\",\"detail\":"
    "{\"DaysToExpiry\":5,\"CommonName\":\"example.com\"}}";

static const certhub_target_ctx ctx0 = {.rule_name = "expiry",
                                        .bus_name = "default",
                                        .ingestion_time = 1795428000};

static certhub_rule_target *parse_ok(const char *json)
{
  certhub_rule_target *t = NULL;
  char *err = NULL;
  ch_err rc = certhub_rule_target_parse(json, strlen(json), &t, &err);
  if(rc != CH_OK)
    fprintf(stderr, "unexpected parse error: %s\n", err ? err : "?");
  assert_int_equal(rc, CH_OK);
  assert_null(err);
  return t;
}

static certhub_delivery deliver(const certhub_rule_target *t,
                                const certhub_target_ctx *ctx, char **detail)
{
  certhub_delivery d = CERTHUB_DELIVERY_OK;
  assert_int_equal(
      certhub_rule_target_deliver(t, ctx, event, strlen(event), &d, detail),
      CH_OK);
  return d;
}

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if(!f)
    return NULL;
  ch_buf b;
  ch_buf_init(&b, 1 << 24);
  char chunk[4096];
  size_t n;
  while((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if(ch_buf_add(&b, chunk, n) != CH_OK)
      break;
  fclose(f);
  return ch_buf_take(&b);
}

static int setup(void **state)
{
  (void)state;
  strcpy(tmpdir, "/tmp/certhub-target-XXXXXX");
  umask(022);
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void parse_errors(void **state)
{
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"", "target: not a JSON object"},
      {"[]", "target: must be a JSON object"},
      {"{\"Id\":\"a\",\"Id\":\"b\",\"Type\":\"file\"}", "duplicate"},
      {"{\"Type\":\"file\",\"Path\":\"/x\"}", "Id: required"},
      {"{\"Id\":\"\",\"Type\":\"file\",\"Path\":\"/x\"}", "Id: must be 1-64"},
      {"{\"Id\":\"a b\",\"Type\":\"file\",\"Path\":\"/x\"}", "Id: must be"},
      {"{\"Id\":7,\"Type\":\"file\",\"Path\":\"/x\"}", "Id: must be"},
      {"{\"Id\":"
       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "\",\"Type\":\"file\",\"Path\":\"/x\"}",
       "Id: must be 1-64"},
      {"{\"Id\":\"a\"}", "Type: required"},
      {"{\"Id\":\"a\",\"Type\":\"lambda\"}", "unknown target type \"lambda\""},
      {"{\"Id\":\"a\",\"Type\":3}", "Type: unknown target type"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":\"/x\",\"Arn\":\"x\"}",
       "Arn: unknown key for a file target"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":\"/x\",\"Url\":\"x\"}",
       "Url: unknown key for a file target"},
      /* command */
      {"{\"Id\":\"a\",\"Type\":\"command\"}", "Command: required"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[]}",
       "Command: must be an array of 1-256"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":\"/bin/true\"}",
       "Command: must be an array"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"\"]}",
       "Command[0]: the program may not be empty"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/bin/x\",5]}",
       "Command[1]: must be a string"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/bin/"
       "x\",\"a\\u0000b\"]}",
       "\\u0000 is not allowed"}, /* jansson refuses NUL in strings */
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"TimeoutSeconds\":0}",
       "TimeoutSeconds: must be an integer from 1 to 900"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"TimeoutSeconds\":901}",
       "TimeoutSeconds: must be an integer from 1 to 900"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"TimeoutSeconds\":1.5}",
       "TimeoutSeconds: must be an integer"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"Environment\":[]}",
       "Environment: must be an object"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"Environment\":{\"1A\":\"x\"}}",
       "Environment: \"1A\" is not a variable name"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"Environment\":{\"A=B\":\"x\"}}",
       "Environment: \"A=B\" is not a variable name"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"Environment\":{\"CERTHUB_RULE\":\"x\"}}",
       "Environment.CERTHUB_RULE: set by certhub"},
      {"{\"Id\":\"a\",\"Type\":\"command\",\"Command\":[\"/x\"],"
       "\"Environment\":{\"A\":1}}",
       "Environment.A: must be a string"},
      /* webhook */
      {"{\"Id\":\"a\",\"Type\":\"webhook\"}", "Url: required"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"ftp://h/x\"}",
       "Url: must start with http:// or https://"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"file:///etc/passwd\"}",
       "Url: must start with http:// or https://"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/a b\"}",
       "Url: contains a space or control character"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://[zz]/x\"}",
       "Url: \"http://[zz]/x\" is not a valid URL"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://\"}",
       "Url: \"http://\" is not a valid URL"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h:99999/\"}",
       "is not a valid URL"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"TimeoutSeconds\":301}",
       "TimeoutSeconds: must be an integer from 1 to 300"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Insecure\":\"yes\"}",
       "Insecure: must be true or false"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"CaFile\":\"\"}",
       "CaFile: must be 1-4096"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":[]}",
       "Headers: must be an object"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":{\"X-A\":\"v\\r\\nX-Injected: 1\"}}",
       "Headers.X-A: the value may not contain CR, LF or NUL"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":{\"X A\":\"v\"}}",
       "Headers: \"X A\" is not a header name"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":{\"X:A\":\"v\"}}",
       "Headers: \"X:A\" is not a header name"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":{\"content-length\":\"5\"}}",
       "Headers.content-length: set by certhub"},
      {"{\"Id\":\"a\",\"Type\":\"webhook\",\"Url\":\"http://h/\","
       "\"Headers\":{\"X-A\":5}}",
       "Headers.X-A: must be a string"},
      /* file */
      {"{\"Id\":\"a\",\"Type\":\"file\"}", "Path: required"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":\"rel.jsonl\"}",
       "Path: must be an absolute path"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":\"/tmp/\"}",
       "Path: names a directory"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":\"/tmp/a\\nb\"}",
       "Path: contains a control character"},
      {"{\"Id\":\"a\",\"Type\":\"file\",\"Path\":5}",
       "Path: must be a string"},
      /* topic, findings */
      {"{\"Id\":\"a\",\"Type\":\"topic\"}", "Topic: required"},
      {"{\"Id\":\"a\",\"Type\":\"topic\",\"Topic\":\"a.b\"}",
       "Topic: \"a.b\" must be 1-256"},
      {"{\"Id\":\"a\",\"Type\":\"topic\",\"Topic\":\"\"}",
       "Topic: must be 1-256"},
      {"{\"Id\":\"a\",\"Type\":\"topic\",\"Topic\":\"t\",\"Subject\":\"\"}",
       "Subject: must be 1-100"},
      {"{\"Id\":\"a\",\"Type\":\"topic\",\"Topic\":\"t\",\"ProductName\":"
       "\"x\"}",
       "ProductName: unknown key for a topic target"},
      {"{\"Id\":\"a\",\"Type\":\"findings\",\"ProductName\":7}",
       "ProductName: must be a string"},
      /* input shaping is checked for every type */
      {"{\"Id\":\"a\",\"Type\":\"topic\",\"Topic\":\"t\",\"InputPath\":\"x\"}",
       "InputPath: path \"x\" must start with '$'"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
    certhub_rule_target *t = NULL;
    char *err = NULL;
    ch_err rc = certhub_rule_target_parse(cases[i].json, strlen(cases[i].json),
                                          &t, &err);
    if(rc == CH_OK || !err || !strstr(err, cases[i].want))
      fprintf(stderr, "case %zu %s: got %s, want \"%s\"\n", i, cases[i].json,
              err ? err : "(no error)", cases[i].want);
    assert_int_equal(rc, CH_ERR_PARSE);
    assert_null(t);
    assert_non_null(strstr(err, cases[i].want));
    free(err);
  }
  /* Too big before parsing. */
  size_t big = CERTHUB_TARGET_SPEC_MAX + 1;
  char *s = malloc(big);
  memset(s, ' ', big);
  certhub_rule_target *t = NULL;
  char *err = NULL;
  assert_int_equal(certhub_rule_target_parse(s, big, &t, &err), CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "longer than"));
  free(err);
  free(s);
}

static void parse_accepts(void **state)
{
  (void)state;
  /* The bus's keys are accepted, whatever they hold. */
  certhub_rule_target *t = parse_ok(
      "{\"Id\":\"A.b_c-9\",\"Type\":\"webhook\",\"Url\":\"HTTPS://"
      "example.com:8443/hook?x=1\",\"Headers\":{\"Authorization\":\"Bearer "
      "x\",\"X-Empty\":\"\"},\"TimeoutSeconds\":300,\"CaFile\":\"/etc/ssl/"
      "ca.pem\",\"Insecure\":false,\"RetryPolicy\":{\"MaximumRetryAttempts\":"
      "3},\"DeadLetterConfig\":{\"Arn\":\"x\"}}");
  assert_string_equal(certhub_rule_target_id(t), "A.b_c-9");
  assert_string_equal(certhub_rule_target_type(t), "webhook");
  certhub_rule_target_free(t);
  t = parse_ok("{\"Id\":\"c\",\"Type\":\"command\",\"Command\":[\"x\"],"
               "\"TimeoutSeconds\":900,\"Environment\":{\"_A1\":\"\"}}");
  assert_string_equal(certhub_rule_target_type(t), "command");
  certhub_rule_target_free(t);
  t = parse_ok(
      "{\"Id\":\"t\",\"Type\":\"topic\",\"Topic\":\"expiry-alerts_1\","
      "\"Subject\":\"Certificate expiring\"}");
  certhub_rule_target_free(t);
  t = parse_ok("{\"Id\":\"f\",\"Type\":\"findings\",\"ProductName\":\"x\"}");
  certhub_rule_target_free(t);
  assert_string_equal(certhub_delivery_name(CERTHUB_DELIVERY_RETRY), "RETRY");
  certhub_rule_target_free(NULL);
}

static certhub_rule_target *command(const char *script, const char *extra)
{
  json_t *spec = json_pack("{s:s,s:s,s:[s,s,s]}", "Id", "cmd", "Type",
                           "command", "Command", "/bin/sh", "-c", script);
  if(extra) {
    json_t *x = json_loads(extra, 0, NULL);
    assert_non_null(x);
    json_object_update(spec, x);
    json_decref(x);
  }
  char *s = json_dumps(spec, JSON_COMPACT);
  certhub_rule_target *t = parse_ok(s);
  free(s);
  json_decref(spec);
  return t;
}

static void command_success_and_env(void **state)
{
  (void)state;
  char script[512], out[128];
  snprintf(out, sizeof(out), "%s/cmd.out", tmpdir);
  snprintf(script, sizeof(script),
           "cat > '%s'; echo \"|$CERTHUB_RULE|$CERTHUB_BUS|"
           "$CERTHUB_EVENT_ID|$TEAM|\" >> '%s'",
           out, out);
  certhub_rule_target *t =
      command(script, "{\"Environment\":{\"TEAM\":\"pki ops\"},\"InputPath\":"
                      "\"$.detail\"}");
  char *detail = NULL;
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_OK);
  assert_null(detail);
  char *got = slurp(out);
  assert_string_equal(got, "{\"DaysToExpiry\":5,\"CommonName\":\"example."
                           "com\"}|expiry|default|ev-123|pki ops|\n");
  free(got);
  /* ctx's event id wins over the event's. */
  certhub_target_ctx c = ctx0;
  c.event_id = "from-ctx";
  c.bus_name = "prod";
  assert_int_equal(deliver(t, &c, &detail), CERTHUB_DELIVERY_OK);
  got = slurp(out);
  assert_non_null(strstr(got, "|expiry|prod|from-ctx|pki ops|"));
  free(got);
  certhub_rule_target_free(t);
}

static void command_failures(void **state)
{
  (void)state;
  char *detail = NULL;
  /* Non-zero exit: RETRY with the tail of stderr. */
  certhub_rule_target *t = command(
      "cat >/dev/null; echo first >&2; echo 'disk full' >&2; exit 3", NULL);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  assert_non_null(strstr(detail, "exit status 3"));
  assert_non_null(strstr(detail, "stderr: first|disk full"));
  free(detail);
  certhub_rule_target_free(t);

  /* Killed by a signal: RETRY. */
  t = command("kill -9 $$", NULL);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  assert_non_null(strstr(detail, "killed by signal 9"));
  free(detail);
  certhub_rule_target_free(t);

  /* Timeout: RETRY after about TimeoutSeconds. */
  t = command("sleep 30", "{\"TimeoutSeconds\":1}");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double el = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  assert_true(el >= 0.9 && el < 10);
  assert_non_null(strstr(detail, "timed out after 1000 ms"));
  free(detail);
  certhub_rule_target_free(t);

  /* Not found, not executable: FAILED (retrying cannot help). */
  certhub_rule_target *nf =
      parse_ok("{\"Id\":\"n\",\"Type\":\"command\","
               "\"Command\":[\"/nonexistent/handler\"]}");
  assert_int_equal(deliver(nf, &ctx0, &detail), CERTHUB_DELIVERY_FAILED);
  assert_string_equal(detail, "/nonexistent/handler: cannot execute: No "
                              "such file or directory");
  free(detail);
  certhub_rule_target_free(nf);
  char path[128];
  snprintf(path, sizeof(path), "%s/noexec.sh", tmpdir);
  FILE *f = fopen(path, "w");
  fputs("#!/bin/sh\nexit 0\n", f);
  fclose(f);
  chmod(path, 0644);
  char spec[256];
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"n\",\"Type\":\"command\",\"Command\":[\"%s\"]}", path);
  nf = parse_ok(spec);
  assert_int_equal(deliver(nf, &ctx0, &detail), CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(detail, "Permission denied"));
  free(detail);
  certhub_rule_target_free(nf);
}

static void command_flood(void **state)
{
  (void)state;
  char *detail = NULL;
  /* 100 MB on stdout and 10 MB on stderr: capped, drained, still OK. */
  certhub_rule_target *t =
      command("head -c 100000000 /dev/zero; head -c 10000000 "
              "/dev/zero | tr '\\0' x >&2",
              NULL);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_OK);
  certhub_rule_target_free(t);
  /* The same failing: the detail holds only the tail. */
  t = command("head -c 10000000 /dev/zero | tr '\\0' x >&2; exit 1", NULL);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  assert_true(strlen(detail) < 1024);
  assert_non_null(strstr(detail, "xxxx"));
  free(detail);
  certhub_rule_target_free(t);
  /* A program that never reads stdin does not block delivery. */
  t = command("exec 0<&-; exit 0", NULL);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_OK);
  certhub_rule_target_free(t);
}

static void file_target(void **state)
{
  (void)state;
  char path[128], spec[512];
  char *detail = NULL;
  snprintf(path, sizeof(path), "%s/events.jsonl", tmpdir);
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"f\",\"Type\":\"file\",\"Path\":\"%s\"}", path);
  certhub_rule_target *t = parse_ok(spec);
  /* A pretty-printed event becomes one compact line. */
  const char *pretty = "{\n  \"id\": \"p1\",\n  \"detail\": {\"a\": \"x\\ny\"}"
                       "\n}";
  certhub_delivery d;
  assert_int_equal(certhub_rule_target_deliver(t, &ctx0, pretty,
                                               strlen(pretty), &d, &detail),
                   CH_OK);
  assert_int_equal(d, CERTHUB_DELIVERY_OK);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_OK);
  certhub_rule_target_free(t);
  /* A text template's output becomes a JSON string line. */
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"f\",\"Type\":\"file\",\"Path\":\"%s\","
           "\"InputTransformer\":{\"InputPathsMap\":{\"cn\":\"$.detail."
           "CommonName\"},\"InputTemplate\":\"<cn>\\nexpires\"}}",
           path);
  t = parse_ok(spec);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_OK);
  certhub_rule_target_free(t);
  char *got = slurp(path);
  char want[1024];
  snprintf(want, sizeof(want),
           "{\"id\":\"p1\",\"detail\":{\"a\":\"x\\ny\"}}\n%s\n"
           "\"example.com\\nexpires\"\n",
           event);
  assert_string_equal(got, want);
  free(got);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);

  /* A missing directory: RETRY with the errno text. */
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"f\",\"Type\":\"file\",\"Path\":\"%s/no/such/x.jsonl\"}",
           tmpdir);
  t = parse_ok(spec);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  assert_non_null(strstr(detail, "No such file or directory"));
  free(detail);
  certhub_rule_target_free(t);
  /* A directory in the way. */
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"f\",\"Type\":\"file\",\"Path\":\"%s\"}", tmpdir);
  t = parse_ok(spec);
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_RETRY);
  assert_non_null(strstr(detail, "Is a directory"));
  free(detail);
  certhub_rule_target_free(t);
  /* Not JSON: FAILED, nothing written. */
  snprintf(spec, sizeof(spec),
           "{\"Id\":\"f\",\"Type\":\"file\",\"Path\":\"%s\"}", path);
  t = parse_ok(spec);
  assert_int_equal(certhub_rule_target_deliver(t, &ctx0, "{x", 2, &d, &detail),
                   CH_OK);
  assert_int_equal(d, CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(detail, "event: not JSON"));
  free(detail);
  certhub_rule_target_free(t);
}

/* A hook implementation, as the notify/findings modules will provide. */
struct sink {
  int calls;
  char topic[64], subject[64], product[64];
  char message[1024];
  ch_err answer;
};

static ch_err publish(void *ctx, const char *topic, const char *subject,
                      const char *message, size_t len, char **detail)
{
  struct sink *s = ctx;
  s->calls++;
  snprintf(s->topic, sizeof(s->topic), "%s", topic);
  snprintf(s->subject, sizeof(s->subject), "%s", subject ? subject : "(null)");
  snprintf(s->message, sizeof(s->message), "%.*s", (int)len, message);
  if(s->answer)
    *detail = strdup("topic is gone");
  return s->answer;
}

static ch_err import_findings(void *ctx, const char *product, const char *json,
                              size_t len, char **detail)
{
  (void)detail;
  struct sink *s = ctx;
  s->calls++;
  snprintf(s->product, sizeof(s->product), "%s", product ? product : "(null)");
  snprintf(s->message, sizeof(s->message), "%.*s", (int)len, json);
  return s->answer;
}

static void hook_targets(void **state)
{
  (void)state;
  char *detail = NULL;
  certhub_rule_target *t =
      parse_ok("{\"Id\":\"t\",\"Type\":\"topic\",\"Topic\":"
               "\"ops\",\"Subject\":\"Cert\","
               "\"InputTransformer\":{\"InputPathsMap\":{"
               "\"cn\":\"$.detail.CommonName\"},"
               "\"InputTemplate\":\"<cn> expires soon\"}}");
  certhub_rule_target *f =
      parse_ok("{\"Id\":\"f\",\"Type\":\"findings\",\"ProductName\":\"pki\"}");
  /* No hooks: FAILED, saying so. */
  assert_int_equal(deliver(t, &ctx0, &detail), CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(detail, "publish hook is not set"));
  free(detail);
  assert_int_equal(deliver(f, NULL, &detail), CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(detail, "import_findings hook is not set"));
  free(detail);

  struct sink s;
  memset(&s, 0, sizeof(s));
  certhub_target_hooks hooks = {.ctx = &s, .publish = publish};
  certhub_target_ctx c = ctx0;
  c.hooks = &hooks;
  assert_int_equal(deliver(t, &c, &detail), CERTHUB_DELIVERY_OK);
  assert_int_equal(s.calls, 1);
  assert_string_equal(s.topic, "ops");
  assert_string_equal(s.subject, "Cert");
  assert_string_equal(s.message, "example.com expires soon");
  /* Findings hook still missing in this table. */
  assert_int_equal(deliver(f, &c, &detail), CERTHUB_DELIVERY_FAILED);
  free(detail);
  hooks.import_findings = import_findings;
  assert_int_equal(deliver(f, &c, &detail), CERTHUB_DELIVERY_OK);
  assert_string_equal(s.product, "pki");
  assert_string_equal(s.message, event);
  /* The hook's error decides: permanent ones FAILED, others RETRY. */
  s.answer = CH_ERR_NOTFOUND;
  assert_int_equal(deliver(t, &c, &detail), CERTHUB_DELIVERY_FAILED);
  assert_non_null(strstr(detail, "topic ops:"));
  assert_non_null(strstr(detail, "topic is gone"));
  free(detail);
  s.answer = CH_ERR_DB;
  assert_int_equal(deliver(t, &c, &detail), CERTHUB_DELIVERY_RETRY);
  free(detail);
  s.answer = CH_ERR_BUSY;
  assert_int_equal(deliver(f, &c, &detail), CERTHUB_DELIVERY_RETRY);
  free(detail);
  s.answer = CH_ERR_PARSE;
  assert_int_equal(deliver(f, &c, &detail), CERTHUB_DELIVERY_FAILED);
  free(detail);
  certhub_rule_target_free(t);
  certhub_rule_target_free(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_errors),
      cmocka_unit_test(parse_accepts),
      cmocka_unit_test(command_success_and_env),
      cmocka_unit_test(command_failures),
      cmocka_unit_test(command_flood),
      cmocka_unit_test(file_target),
      cmocka_unit_test(hook_targets),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
