/* Config: the lifecycle keys (event_source, renew_command, renew_timeout,
 * per-endpoint expiry_threshold_days). */
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

static char tmpdir[] = "/tmp/certhub-test-cfglc-XXXXXX";
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

static void lifecycle_keys(void **state)
{
  (void)state;
  certhub_config *c =
      load_ok("event_source: example.certs\n"
              "sources:\n"
              "  - paths: [/a]\n"
              "    renew_command: [/usr/local/bin/renew, --site, a]\n"
              "    renew_timeout: 90s\n"
              "  - paths: [/b]\n"
              "    renew_command: \"certbot renew --cert-name b && true\"\n"
              "  - paths: [/c]\n"
              "endpoints:\n"
              "  - target: a.example:443\n"
              "    expiry_threshold_days: 20\n"
              "  - b.example:443\n");
  assert_string_equal(c->event_source, "example.certs");
  assert_int_equal(c->sources[0].n_renew_argv, 3);
  assert_string_equal(c->sources[0].renew_argv[0], "/usr/local/bin/renew");
  assert_string_equal(c->sources[0].renew_argv[2], "a");
  assert_false(c->sources[0].renew_shell);
  assert_int_equal(c->sources[0].renew_timeout_ms, 90000);
  assert_int_equal(c->sources[1].n_renew_argv, 3);
  assert_true(c->sources[1].renew_shell);
  assert_string_equal(c->sources[1].renew_argv[0], "/bin/sh");
  assert_string_equal(c->sources[1].renew_argv[1], "-c");
  assert_string_equal(c->sources[1].renew_argv[2],
                      "certbot renew --cert-name b && true");
  assert_int_equal(c->sources[1].renew_timeout_ms,
                   CERTHUB_DEFAULT_RENEW_TIMEOUT_MS);
  assert_null(c->sources[2].renew_argv);
  assert_int_equal(c->sources[2].n_renew_argv, 0);
  assert_int_equal(c->endpoints[0].threshold_days, 20);
  assert_int_equal(c->endpoints[1].threshold_days, 0);
  certhub_config_free(c);

  c = load_ok("region: x\n");
  assert_null(c->event_source);
  certhub_config_free(c);
}

static void lifecycle_bad(void **state)
{
  (void)state;
  load_bad("event_source: \"has space\"\n",
           "1: event_source: invalid event source \"has space\" (1 to 256 "
           "characters, no spaces)");
  load_bad("event_source: \"\"\n",
           "1: event_source: invalid event source \"\" (1 to 256 "
           "characters, no spaces)");
  char big[400];
  memset(big, 0, sizeof(big));
  strcpy(big, "event_source: ");
  memset(big + strlen(big), 'x', 257);
  strcat(big, "\n");
  certhub_config *c = NULL;
  char *msg = NULL;
  write_doc(big);
  assert_int_equal(certhub_config_load(cfgpath, &c, &msg), CH_ERR_CONFIG);
  assert_non_null(strstr(msg, "invalid event source"));
  free(msg);
  load_bad("sources:\n  - paths: [/a]\n    renew_command: []\n",
           "3: sources[0].renew_command: must not be empty");
  load_bad("sources:\n  - paths: [/a]\n    renew_command: \"\"\n",
           "3: sources[0].renew_command: is empty");
  load_bad("sources:\n  - paths: [/a]\n    renew_command: {a: b}\n",
           "3: sources[0].renew_command: expected a string or a list, "
           "got a map");
  load_bad("sources:\n  - paths: [/a]\n    renew_timeout: 2h\n",
           "3: sources[0].renew_timeout: invalid duration \"2h\" (expected "
           "e.g. 10s, 500ms or seconds, at most 1h)");
  load_bad("sources:\n  - paths: [/a]\n    renew_timeout: 0\n",
           "3: sources[0].renew_timeout: invalid duration \"0\" (expected "
           "e.g. 10s, 500ms or seconds, at most 1h)");
  load_bad("endpoints:\n  - target: a:1\n    expiry_threshold_days: 0\n",
           "3: endpoints[0].expiry_threshold_days: 0 is out of range "
           "(1..365)");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lifecycle_keys),
      cmocka_unit_test(lifecycle_bad),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
