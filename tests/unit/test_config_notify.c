/* Config: the notify.smtp section (the email protocol's server). */
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

static char tmpdir[] = "/tmp/certhub-test-cfgnotify-XXXXXX";
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

static void smtp_full(void **state)
{
  (void)state;
  certhub_config *c = load_ok("notify:\n"
                              "  smtp:\n"
                              "    url: smtp://mail.example.com:587\n"
                              "    from: certhub@example.com\n"
                              "    username: hub\n"
                              "    password_file: /etc/certhub/smtp.pass\n"
                              "    ca_file: /etc/certhub/ca.pem\n");
  assert_non_null(c->smtp);
  assert_string_equal(c->smtp->url, "smtp://mail.example.com:587");
  assert_string_equal(c->smtp->from, "certhub@example.com");
  assert_string_equal(c->smtp->username, "hub");
  assert_string_equal(c->smtp->password_file, "/etc/certhub/smtp.pass");
  assert_null(c->smtp->password_env);
  assert_string_equal(c->smtp->ca_file, "/etc/certhub/ca.pem");
  assert_true(c->smtp->require_tls); /* the default */
  assert_int_equal(c->smtp->line, 3);
  certhub_config_free(c);

  c = load_ok("notify:\n  smtp:\n    url: smtp://127.0.0.1:25\n"
              "    from: a@b.c\n    require_tls: false\n");
  assert_false(c->smtp->require_tls);
  assert_null(c->smtp->username);
  certhub_config_free(c);

  c = load_ok("notify:\n  smtp:\n    url: smtps://m:465\n    from: a@b.c\n"
              "    username: u\n    password_env: SMTP_PW\n");
  assert_string_equal(c->smtp->password_env, "SMTP_PW");
  certhub_config_free(c);

  c = load_ok("notify: {}\n");
  assert_null(c->smtp);
  certhub_config_free(c);
  c = load_ok("db: /tmp/x.db\n");
  assert_null(c->smtp);
  certhub_config_free(c);
}

static void smtp_bad(void **state)
{
  (void)state;
  load_bad("notify:\n  smtpp: {}\n",
           "2: notify.smtpp: unknown key (expected one of: base_url, "
           "signing_key_file, signing_cert_file, ca_file, max_in_flight, "
           "timeout, max_message_age, smtp, key_file)");
  load_bad("notify:\n  smtp: [1]\n",
           "2: notify.smtp: expected a map, not a list");
  load_bad("notify:\n  smtp:\n    from: a@b.c\n",
           "3: notify.smtp.url: missing (smtp://HOST:PORT or "
           "smtps://HOST:PORT)");
  load_bad("notify:\n  smtp:\n    url: https://m\n    from: a@b.c\n",
           "3: notify.smtp.url: must start with smtp:// or smtps://");
  load_bad("notify:\n  smtp:\n    url: \"smtp://m\\r\\nX\"\n    from: a@b.c\n",
           "3: notify.smtp.url: spaces or control characters in the URL");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n",
           "3: notify.smtp.from: missing (an address)");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n"
           "    from: \"a@b.c\\r\\nBcc: e@x.y\"\n",
           "4: notify.smtp.from: not an address like certhub@example.com");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    username: u\n",
           "5: notify.smtp.username: needs password_file or password_env");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    password_file: /p\n",
           "3: notify.smtp.username: missing (a password is given)");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    username: u\n    password_file: /p\n    password_env: E\n",
           "7: notify.smtp.password_env: give password_file or "
           "password_env, not both");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    username: u\n    password_env: E\n    require_tls: false\n",
           "7: notify.smtp.require_tls: false with a username would send "
           "the password unencrypted");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    require_tls: maybe\n",
           "5: notify.smtp.require_tls: expected true or false");
  load_bad("notify:\n  smtp:\n    url: smtp://m\n    from: a@b.c\n"
           "    password: hunter2\n",
           "5: notify.smtp.password: unknown key (expected one of: url, "
           "from, username, password_file, password_env, require_tls, "
           "ca_file)");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(smtp_full),
      cmocka_unit_test(smtp_bad),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
