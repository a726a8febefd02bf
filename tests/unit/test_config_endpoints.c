/* Config: the endpoints and probe sections, and certhub_duration_parse(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certhub/config.h"

static char tmpdir[] = "/tmp/certhub-test-cfgep-XXXXXX";
static char cfgpath[256];

static int setup(void **state)
{
  (void)state;
  if(!mkdtemp(tmpdir))
    return -1;
  snprintf(cfgpath, sizeof(cfgpath), "%s/certhub.yaml", tmpdir);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  unlink(cfgpath);
  rmdir(tmpdir);
  return 0;
}

static void write_doc(const char *doc)
{
  FILE *f = fopen(cfgpath, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(doc, 1, strlen(doc), f), strlen(doc));
  assert_int_equal(fclose(f), 0);
}

static certhub_config *load_ok(const char *doc)
{
  certhub_config *c = NULL;
  char *msg = NULL;
  write_doc(doc);
  ch_err rc = certhub_config_load(cfgpath, &c, &msg);
  if(rc)
    fail_msg("unexpected error: %s", msg);
  assert_null(msg);
  return c;
}

/* expected is the message after "FILE:". */
static void load_bad(const char *doc, const char *expected)
{
  certhub_config *c = NULL;
  char *msg = NULL, want[1024];
  write_doc(doc);
  assert_int_equal(certhub_config_load(cfgpath, &c, &msg), CH_ERR_CONFIG);
  snprintf(want, sizeof(want), "%s:%s", cfgpath, expected);
  assert_non_null(msg);
  assert_string_equal(msg, want);
  assert_null(c);
  free(msg);
}

static void endpoints_full(void **state)
{
  (void)state;
  certhub_config *c = load_ok("endpoints:\n"
                              "  - target: \"www.example.com:443\"\n"
                              "    sni: www.example.com\n"
                              "    all_addresses: true\n"
                              "    tags: {owner: team-a, env: prod}\n"
                              "  - smtp://mx.example.com\n"
                              "  - target: 10.0.0.1:5432\n"
                              "    starttls: postgres\n"
                              "    all_addresses: no\n"
                              "probe:\n"
                              "  concurrency: 64\n"
                              "  per_host: 2\n"
                              "  timeout: 1500ms\n"
                              "  ca_file: /etc/ca.pem\n"
                              "  client_cert: /etc/c.pem\n"
                              "  client_key: /etc/c.key\n");
  assert_int_equal(c->n_endpoints, 3);
  certhub_endpoint_cfg *e = c->endpoints;
  assert_string_equal(e[0].target, "www.example.com:443");
  assert_string_equal(e[0].sni, "www.example.com");
  assert_null(e[0].starttls);
  assert_true(e[0].all_addresses);
  assert_int_equal(e[0].n_tags, 2);
  assert_string_equal(e[0].tags[0].key, "owner");
  assert_string_equal(e[0].tags[0].value, "team-a");
  assert_int_equal(e[0].line, 2);
  assert_string_equal(e[1].target, "smtp://mx.example.com");
  assert_int_equal(e[1].line, 6);
  assert_null(e[1].sni);
  assert_false(e[1].all_addresses);
  assert_string_equal(e[2].starttls, "postgres");
  assert_false(e[2].all_addresses);
  assert_int_equal(c->probe.concurrency, 64);
  assert_int_equal(c->probe.per_host, 2);
  assert_int_equal(c->probe.timeout_ms, 1500);
  assert_string_equal(c->probe.ca_file, "/etc/ca.pem");
  assert_string_equal(c->probe.client_key, "/etc/c.key");
  certhub_config_free(c);

  c = load_ok("endpoints:\nprobe:\n");
  assert_int_equal(c->n_endpoints, 0);
  assert_int_equal(c->probe.timeout_ms, 0);
  certhub_config_free(c);
}

static void endpoints_bad(void **state)
{
  (void)state;
  load_bad("endpoints: www.example.com\n",
           "1: endpoints: expected a list of endpoints, got a string");
  load_bad("endpoints:\n  - sni: a\n",
           "2: endpoints[0].target: missing required key");
  load_bad("endpoints:\n  - target: a:1\n    port: 3\n",
           "3: endpoints[0].port: unknown key (expected one of: target, "
           "sni, starttls, all_addresses, tags, expiry_threshold_days)");
  load_bad("endpoints:\n  - a:1\n  - target: b\n    all_addresses: maybe\n",
           "4: endpoints[1].all_addresses: expected true or false");
  load_bad("endpoints:\n  - target: b\n    tags: [a]\n",
           "3: endpoints[0].tags: expected a map of tag names to values, got "
           "a list");
  load_bad("endpoints:\n  - target: \"\"\n",
           "2: endpoints[0].target: is empty");
  load_bad("probe:\n  timeout: soon\n",
           "2: probe.timeout: invalid duration \"soon\" (expected e.g. 10s, "
           "500ms or seconds, at most 1h)");
  load_bad("probe:\n  concurrency: 0\n",
           "2: probe.concurrency: 0 is out of range (1..65535)");
  load_bad("probe:\n  client_cert: /c.pem\n",
           "2: probe.client_cert: client_cert and client_key go together");
  load_bad("probe:\n  retries: 3\n",
           "2: probe.retries: unknown key (expected one of: concurrency, "
           "per_host, timeout, ca_file, client_cert, client_key)");
}

static void durations(void **state)
{
  (void)state;
  unsigned ms = 0;
  assert_int_equal(certhub_duration_parse("10s", &ms), CH_OK);
  assert_int_equal(ms, 10000);
  assert_int_equal(certhub_duration_parse("500ms", &ms), CH_OK);
  assert_int_equal(ms, 500);
  assert_int_equal(certhub_duration_parse("3", &ms), CH_OK);
  assert_int_equal(ms, 3000);
  assert_int_equal(certhub_duration_parse("1.5", &ms), CH_OK);
  assert_int_equal(ms, 1500);
  assert_int_equal(certhub_duration_parse("2m", &ms), CH_OK);
  assert_int_equal(ms, 120000);
  assert_int_equal(certhub_duration_parse("0", &ms), CH_ERR_TOOBIG);
  assert_int_equal(certhub_duration_parse("2h", &ms), CH_ERR_PARSE);
  assert_int_equal(certhub_duration_parse("3601s", &ms), CH_ERR_TOOBIG);
  assert_int_equal(certhub_duration_parse("99999999999999", &ms),
                   CH_ERR_TOOBIG);
  assert_int_equal(certhub_duration_parse("", &ms), CH_ERR_PARSE);
  assert_int_equal(certhub_duration_parse("s", &ms), CH_ERR_PARSE);
  assert_int_equal(certhub_duration_parse("1.s", &ms), CH_ERR_PARSE);
  assert_int_equal(certhub_duration_parse("-1", &ms), CH_ERR_PARSE);
  assert_int_equal(certhub_duration_parse("10 s", &ms), CH_ERR_PARSE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(endpoints_full),
      cmocka_unit_test(endpoints_bad),
      cmocka_unit_test(durations),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
