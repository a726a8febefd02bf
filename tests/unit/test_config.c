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
#include "config/config_int.h"

static char tmpdir[] = "/tmp/certhub-test-config-XXXXXX";
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

static void write_bytes(const char *data, size_t len)
{
  FILE *f = fopen(cfgpath, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static certhub_config *load_ok(const char *doc)
{
  certhub_config *c = NULL;
  char *msg = NULL;
  write_bytes(doc, strlen(doc));
  ch_err rc = certhub_config_load(cfgpath, &c, &msg);
  if(rc)
    print_error("unexpected error: %s\n", msg);
  assert_int_equal(rc, CH_OK);
  assert_null(msg);
  assert_non_null(c);
  assert_string_equal(c->file, cfgpath);
  return c;
}

/* expected is the message after "FILE:". */
static void load_bad_len(const char *doc, size_t len, ch_err want_rc,
                         const char *expected)
{
  certhub_config *c = NULL;
  char *msg = NULL;
  char want[1024];
  write_bytes(doc, len);
  ch_err rc = certhub_config_load(cfgpath, &c, &msg);
  snprintf(want, sizeof(want), "%s:%s", cfgpath, expected);
  assert_non_null(msg);
  assert_string_equal(msg, want);
  assert_int_equal(rc, want_rc);
  assert_null(c);
  free(msg);
}

static void load_bad(const char *doc, const char *expected)
{
  load_bad_len(doc, strlen(doc), CH_ERR_CONFIG, expected);
}

static void full_config(void **state)
{
  (void)state;
  certhub_config *c =
      load_ok("# certhub\n"
              "db: /var/lib/certhub/certhub.db\n"
              "account: \"123456789012\"\n"
              "region: eu-west-1\n"
              "expiry_threshold_days: 30\n"
              "sources:\n"
              "  - name: web\n"
              "    paths: [/etc/ssl/private/*.pem, /srv/certs]\n"
              "    exclude: [\"*.key\", \"old/*\"]\n"
              "    tags: {owner: web-team, env: prod, empty: }\n"
              "    password_file: /etc/certhub/p12.pass\n"
              "    expiry_threshold_days: 10\n"
              "    account: 000000000001\n"
              "    region: us-east-1\n"
              "  - paths: /srv/other.pem\n"
              "    exclude: \"*.bak\"\n");
  assert_string_equal(c->db, "/var/lib/certhub/certhub.db");
  assert_string_equal(c->account, "123456789012");
  assert_string_equal(c->region, "eu-west-1");
  assert_int_equal(c->threshold_days, 30);
  assert_int_equal(c->n_sources, 2);
  const certhub_source_cfg *s = &c->sources[0];
  assert_string_equal(s->name, "web");
  assert_int_equal(s->line, 7);
  assert_int_equal(s->n_paths, 2);
  assert_string_equal(s->paths[0], "/etc/ssl/private/*.pem");
  assert_string_equal(s->paths[1], "/srv/certs");
  assert_int_equal(s->n_excludes, 2);
  assert_string_equal(s->excludes[1], "old/*");
  assert_int_equal(s->n_tags, 3);
  assert_string_equal(s->tags[0].key, "owner");
  assert_string_equal(s->tags[0].value, "web-team");
  assert_string_equal(s->tags[1].key, "env");
  assert_string_equal(s->tags[1].value, "prod");
  assert_string_equal(s->tags[2].value, "");
  assert_string_equal(s->password_file, "/etc/certhub/p12.pass");
  assert_int_equal(s->threshold_days, 10);
  assert_string_equal(s->account, "000000000001");
  assert_string_equal(s->region, "us-east-1");
  s = &c->sources[1];
  assert_null(s->name);
  assert_int_equal(s->line, 15);
  assert_int_equal(s->n_paths, 1);
  assert_string_equal(s->paths[0], "/srv/other.pem");
  assert_int_equal(s->n_excludes, 1);
  assert_int_equal(s->threshold_days, -1);
  assert_null(s->account);
  assert_null(s->region);
  assert_null(s->password_file);
  certhub_config_free(c);
}

static void empty_and_defaults(void **state)
{
  (void)state;
  const char *docs[] = {"",           "\n\n# only a comment\n", "---\n", "~\n",
                        "sources:\n", "sources: []\n",          "{}\n"};
  for(size_t i = 0; i < CH_ARRAY_LEN(docs); i++) {
    certhub_config *c = load_ok(docs[i]);
    assert_null(c->db);
    assert_null(c->account);
    assert_null(c->region);
    assert_int_equal(c->threshold_days, CERTHUB_DEFAULT_THRESHOLD_DAYS);
    assert_int_equal(c->n_sources, 0);
    certhub_config_free(c);
  }
  certhub_config *d = NULL;
  assert_int_equal(certhub_config_default(&d), CH_OK);
  assert_int_equal(d->threshold_days, 45);
  assert_null(d->file);
  assert_int_equal(d->n_sources, 0);
  certhub_config_free(d);
  certhub_config_free(NULL);
}

static void unknown_keys(void **state)
{
  (void)state;
  load_bad("sources:\n  - paths: [/a]\n    pathz: /b\n",
           "3: sources[0].pathz: unknown key (expected one of: name, paths, "
           "exclude, tags, password_file, expiry_threshold_days, account, "
           "region, renew_command, renew_timeout)");
  load_bad("db: x\ndbz: y\n",
           "2: dbz: unknown key (expected one of: db, account, region, "
           "expiry_threshold_days, sources, endpoints, probe, event_source, buses, "
           "rules, event_retention_days, notify, http, topics, hub, findings)");
  load_bad("- a\n- b\n", "1: expected a map, got a list");
  load_bad("sources: {a: b}\n",
           "1: sources: expected a list of sources, got a map");
  load_bad("sources:\n  - /etc/ssl\n",
           "2: sources[0]: expected a map, got a string");
}

static void bad_threshold(void **state)
{
  (void)state;
  load_bad("expiry_threshold_days: abc\n",
           "1: expiry_threshold_days: expected an integer, got \"abc\"");
  load_bad("expiry_threshold_days: 0\n",
           "1: expiry_threshold_days: 0 is out of range (1..365)");
  load_bad("expiry_threshold_days: 366\n",
           "1: expiry_threshold_days: 366 is out of range (1..365)");
  load_bad("expiry_threshold_days: -5\n",
           "1: expiry_threshold_days: -5 is out of range (1..365)");
  load_bad("expiry_threshold_days: 99999999999999999999999\n",
           "1: expiry_threshold_days: 99999999999999999999999 is out of range "
           "(1..365)");
  load_bad("expiry_threshold_days: 4.5\n",
           "1: expiry_threshold_days: expected an integer, got \"4.5\"");
  load_bad("expiry_threshold_days: \"45\"\n",
           "1: expiry_threshold_days: expected an integer, got a quoted "
           "string \"45\"");
  load_bad("expiry_threshold_days: [1]\n",
           "1: expiry_threshold_days: expected a string, got a list");
  load_bad("expiry_threshold_days:\n",
           "1: expiry_threshold_days: missing value");
  load_bad("sources:\n  - paths: /a\n    expiry_threshold_days: 400\n",
           "3: sources[0].expiry_threshold_days: 400 is out of range "
           "(1..365)");
  certhub_config *c = load_ok("expiry_threshold_days: 365\n");
  assert_int_equal(c->threshold_days, 365);
  certhub_config_free(c);
  c = load_ok("expiry_threshold_days: 1\n");
  assert_int_equal(c->threshold_days, 1);
  certhub_config_free(c);
}

static void bad_paths(void **state)
{
  (void)state;
  load_bad("sources:\n  - name: web\n", "2: sources[0].paths: missing "
                                        "required key");
  load_bad("sources:\n  - name: a\n    paths: /x\n  - name: web\n"
           "    exclude: [a]\n",
           "4: sources[1].paths: missing required key");
  load_bad("sources:\n  - paths: []\n", "2: sources[0].paths: must not be "
                                        "empty");
  load_bad("sources:\n  - paths:\n", "2: sources[0].paths: missing value");
  load_bad("sources:\n  - paths: \"\"\n",
           "2: sources[0].paths: must not be empty");
  load_bad("sources:\n  - paths: [/a, \"\"]\n",
           "2: sources[0].paths[1]: must not be empty");
  load_bad("sources:\n  - paths:\n      - /a\n      - [/b]\n",
           "4: sources[0].paths[1]: expected a string, got a list");
  load_bad("sources:\n  - paths: {a: b}\n",
           "2: sources[0].paths: expected a string or a list, got a map");
  load_bad("sources:\n  - paths: /a\n    exclude: {x: y}\n",
           "3: sources[0].exclude: expected a string or a list, got a map");
  certhub_config *c = load_ok("sources:\n  - paths: /a\n    exclude: []\n");
  assert_int_equal(c->sources[0].n_excludes, 0);
  certhub_config_free(c);
}

static void duplicate_names(void **state)
{
  (void)state;
  load_bad("sources:\n  - name: web\n    paths: /a\n  - name: db\n"
           "    paths: /b\n  - name: web\n    paths: /c\n",
           "6: sources[2].name: duplicate source name \"web\" (first used at "
           "line 2)");
  load_bad("sources:\n  - name: [x]\n    paths: /a\n",
           "2: sources[0].name: expected a string, got a list");
}

static void bad_tags(void **state)
{
  (void)state;
  load_bad("sources:\n  - paths: /a\n    tags: [a, b]\n",
           "3: sources[0].tags: expected a map of tag names to values, got "
           "a list");
  load_bad("sources:\n  - paths: /a\n    tags: owner\n",
           "3: sources[0].tags: expected a map of tag names to values, got "
           "a string");
  load_bad("sources:\n  - paths: /a\n    tags:\n      owner: [a]\n",
           "4: sources[0].tags.owner: tag value must be a string, got a "
           "list");
  load_bad("sources:\n  - paths: /a\n    tags:\n      env: prod\n"
           "      owner: {team: x}\n",
           "5: sources[0].tags.owner: tag value must be a string, got a map");
}

static void bad_account_region(void **state)
{
  (void)state;
  load_bad("account: 12345\n",
           "1: account: must be exactly 12 digits, got \"12345\"");
  load_bad("account: \"1234567890123\"\n",
           "1: account: must be exactly 12 digits, got \"1234567890123\"");
  load_bad("account: 12345678901a\n",
           "1: account: must be exactly 12 digits, got \"12345678901a\"");
  load_bad("sources:\n  - paths: /a\n    account: abc\n",
           "3: sources[0].account: must be exactly 12 digits, got \"abc\"");
  load_bad("region: EU-West-1\n",
           "1: region: invalid region \"EU-West-1\" (expected 1 to 32 of "
           "a-z, 0-9 and -)");
  load_bad("region: \"\"\n", "1: region: invalid region \"\" (expected 1 to "
                             "32 of a-z, 0-9 and -)");
  load_bad("region: eu_west_1\n",
           "1: region: invalid region \"eu_west_1\" (expected 1 to 32 of "
           "a-z, 0-9 and -)");
  load_bad("region: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
           "1: region: invalid region \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
           "(expected 1 to 32 of a-z, 0-9 and -)");
  load_bad("sources:\n  - paths: /a\n    region: \"eu west\"\n",
           "3: sources[0].region: invalid region \"eu west\" (expected 1 to "
           "32 of a-z, 0-9 and -)");
  certhub_config *c = load_ok("region: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                              "account: 000000000000\n");
  assert_string_equal(c->region, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  assert_string_equal(c->account, "000000000000");
  certhub_config_free(c);
}

static void duplicate_keys(void **state)
{
  (void)state;
  load_bad("db: a\nregion: x\ndb: b\n",
           "3: db: duplicate key (first defined at line 1)");
  load_bad("sources:\n  - paths: /a\n    name: x\n    paths: /b\n",
           "4: sources[0].paths: duplicate key (first defined at line 2)");
  load_bad("sources:\n  - paths: /a\n    tags: {a: 1, b: 2, a: 3}\n",
           "3: sources[0].tags.a: duplicate key (first defined at line 3)");
  /* The earliest repeat wins when several keys repeat. */
  load_bad("b: 1\na: 1\nb: 2\na: 2\n",
           "3: b: duplicate key (first defined at line 1)");
}

static void syntax_errors(void **state)
{
  (void)state;
  load_bad_len("db: [a, b\n", 10, CH_ERR_PARSE,
               "2:1: YAML syntax error: did not find expected ',' or ']'");
  load_bad_len("a: b\n c: d\n", 11, CH_ERR_PARSE,
               "2:3: YAML syntax error: mapping values are not allowed in "
               "this context");
  load_bad_len("db: \"abc\n", 9, CH_ERR_PARSE,
               "2:1: YAML syntax error: found unexpected end of stream");
  load_bad_len("db: \"a\xff\"\n", 8, CH_ERR_PARSE,
               "1:7: YAML syntax error: invalid leading UTF-8 octet");
  load_bad_len("db: a\n---\ndb: b\n", 16, CH_ERR_CONFIG,
               "2: only one YAML document is allowed");
}

static void anchors_refused(void **state)
{
  (void)state;
  load_bad("a: &x [1, 2]\nb: *x\n",
           "1: a: YAML anchors and aliases are not supported (found &x)");
  load_bad("sources:\n  - paths: /a\n    tags: *t\n",
           "3: sources[0].tags: YAML anchors and aliases are not supported "
           "(found *t)");
  /* A billion laughs never gets past the first anchor. */
  load_bad("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n",
           "1: a: YAML anchors and aliases are not supported (found &a)");
}

static void complex_keys_and_nesting(void **state)
{
  (void)state;
  load_bad("? [a, b]\n: c\n",
           "1: complex (non-scalar) map keys are not supported");
  char deep[400];
  size_t o = 0;
  for(int i = 0; i < 100; i++)
    deep[o++] = '[';
  for(int i = 0; i < 100; i++)
    deep[o++] = ']';
  deep[o++] = '\n';
  load_bad_len(deep, o, CH_ERR_CONFIG, "1: nesting deeper than 64 levels");
}

static void size_cap(void **state)
{
  (void)state;
  size_t len = ((size_t)1 << 20) + 1;
  char *big = malloc(len);
  assert_non_null(big);
  memset(big, '#', len);
  big[len - 1] = '\n';
  load_bad_len(big, len, CH_ERR_CONFIG,
               " configuration file too large (limit 1 MiB)");
  free(big);
}

static void unreadable(void **state)
{
  (void)state;
  certhub_config *c = NULL;
  char *msg = NULL;
  assert_int_equal(certhub_config_load("/nonexistent/certhub.yaml", &c, &msg),
                   CH_ERR_IO);
  assert_string_equal(msg, "/nonexistent/certhub.yaml: cannot open: No such "
                           "file or directory");
  assert_null(c);
  free(msg);
  assert_int_equal(certhub_config_load(tmpdir, &c, &msg), CH_ERR_IO);
  assert_non_null(strstr(msg, "Is a directory"));
  free(msg);
}

/* The generic tree that later config sections build on. */
static void tree_api(void **state)
{
  (void)state;
  const char *doc = "a: 1\nb:\n  - x\n  - 'q'\n  - {k: v}\nc: ~\nd: \"\"\n";
  ch_ydoc *d = NULL;
  char *msg = NULL;
  assert_int_equal(ch_yaml_parse(doc, strlen(doc), "t.yaml", &d, &msg), CH_OK);
  assert_null(msg);
  const ch_ynode *r = d->root;
  assert_int_equal(r->kind, CH_Y_MAP);
  assert_int_equal(r->n, 4);
  const ch_ynode *b = ch_ymap_get(r, "b");
  assert_int_equal(b->kind, CH_Y_SEQ);
  assert_int_equal(b->n, 3);
  assert_int_equal(b->line, 3);
  assert_string_equal(b->first->str, "x");
  assert_true(b->first->plain);
  assert_false(b->first->next->plain);
  const ch_ynode *m = b->first->next->next;
  assert_int_equal(m->kind, CH_Y_MAP);
  assert_int_equal(m->line, 5);
  assert_int_equal(m->col, 5);
  assert_string_equal(ch_ymap_get(m, "k")->str, "v");
  assert_true(ch_ynode_is_null(ch_ymap_get(r, "c")));
  assert_false(ch_ynode_is_null(ch_ymap_get(r, "d")));
  assert_null(ch_ymap_get(r, "zz"));
  assert_null(ch_ymap_get(b, "x"));
  ch_yaml_free(d);
  ch_yaml_free(NULL);
}

/* Many keys in one map: duplicate detection must not be quadratic. */
static void many_keys(void **state)
{
  (void)state;
  ch_buf b;
  ch_buf_init(&b, (size_t)1 << 20);
  for(int i = 0; i < 60000; i++)
    assert_int_equal(ch_buf_printf(&b, "k%d: v\n", i), CH_OK);
  assert_int_equal(ch_buf_printf(&b, "k17: again\n"), CH_OK);
  ch_ydoc *d = NULL;
  char *msg = NULL;
  assert_int_equal(ch_yaml_parse(b.data, b.len, "big.yaml", &d, &msg),
                   CH_ERR_CONFIG);
  assert_string_equal(msg, "big.yaml:60001: k17: duplicate key (first "
                           "defined at line 18)");
  free(msg);
  ch_buf_free(&b);
}

/* topics: and notify: (config_topics.c). */
static void topics_section(void **state)
{
  (void)state;
  certhub_config *c =
      load_ok("notify:\n"
              "  base_url: https://certhub.example:8443/\n"
              "  timeout: 5s\n"
              "  max_in_flight: 64\n"
              "  max_message_age: 600\n"
              "topics:\n"
              "  - name: alerts\n"
              "    display_name: Alerts\n"
              "    signature_version: 2\n"
              "    delivery_policy: {healthyRetryPolicy: {numRetries: 5}}\n"
              "    subscriptions:\n"
              "      - {protocol: https, endpoint_file: /etc/hook.url}\n"
              "      - protocol: command\n"
              "        endpoint_env: HOOK\n"
              "        attributes: {RawMessageDelivery: \"true\"}\n"
              "        confirmed: true\n"
              "  - name: other\n"
              "    delivery_policy: '{\"healthyRetryPolicy\": {}}'\n");
  assert_string_equal(c->notify.base_url, "https://certhub.example:8443/");
  assert_int_equal(c->notify.timeout_ms, 5000);
  assert_int_equal(c->notify.max_in_flight, 64);
  assert_int_equal(c->notify.max_age_s, 600);
  assert_int_equal(c->n_topics, 2);
  assert_string_equal(c->topics[0].name, "alerts");
  assert_int_equal(c->topics[0].signature_version, 2);
  assert_string_equal(c->topics[0].delivery_policy,
                      "{\"healthyRetryPolicy\":{\"numRetries\":5}}");
  assert_int_equal(c->topics[0].n_subs, 2);
  assert_string_equal(c->topics[0].subs[0].endpoint_file, "/etc/hook.url");
  assert_null(c->topics[0].subs[0].endpoint);
  assert_false(c->topics[0].subs[0].confirmed);
  assert_string_equal(c->topics[0].subs[1].endpoint_env, "HOOK");
  assert_string_equal(c->topics[0].subs[1].attributes,
                      "{\"RawMessageDelivery\":\"true\"}");
  assert_true(c->topics[0].subs[1].confirmed);
  assert_int_equal(c->topics[1].signature_version, 1);
  assert_string_equal(c->topics[1].delivery_policy,
                      "{\"healthyRetryPolicy\": {}}");
  certhub_config_free(c);

  load_bad("topics:\n  - name: a\n    subscriptions:\n"
           "      - {protocol: http}\n",
           "4: topics[0].subscriptions[0]: give exactly one of endpoint, "
           "endpoint_file and endpoint_env");
  load_bad("topics:\n  - name: a\n    subscriptions:\n"
           "      - {protocol: http, endpoint: x, endpoint_env: Y}\n",
           "4: topics[0].subscriptions[0]: give exactly one of endpoint, "
           "endpoint_file and endpoint_env");
  load_bad("topics:\n  - name: a\n    subscriptions:\n"
           "      - {endpoint: x}\n",
           "4: topics[0].subscriptions[0]: protocol is missing");
  load_bad("topics:\n  - name: a\n    signature_version: 3\n",
           "3: topics[0].signature_version: 3 is out of range (1..2)");
  load_bad("topics:\n  - name: a\n  - name: a\n",
           "3: topics[1]: topic 'a' is given twice");
  load_bad("topics:\n  - display_name: x\n", "2: topics[0]: name is missing");
  load_bad("topics: {a: b}\n", "1: topics: must be a list, not a map");
  load_bad("notify:\n  signing_key_file: /k\n",
           "2: notify: signing_key_file and signing_cert_file go together");
  load_bad("notify:\n  timeout: forever\n",
           "2: notify.timeout: 'forever' is not a duration over zero and of "
           "at most an hour");
  load_bad("notify:\n  max_in_flight: 0\n",
           "2: notify.max_in_flight: 0 is out of range (1..4096)");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(topics_section),
      cmocka_unit_test(full_config),
      cmocka_unit_test(empty_and_defaults),
      cmocka_unit_test(unknown_keys),
      cmocka_unit_test(bad_threshold),
      cmocka_unit_test(bad_paths),
      cmocka_unit_test(duplicate_names),
      cmocka_unit_test(bad_tags),
      cmocka_unit_test(bad_account_region),
      cmocka_unit_test(duplicate_keys),
      cmocka_unit_test(syntax_errors),
      cmocka_unit_test(anchors_refused),
      cmocka_unit_test(complex_keys_and_nesting),
      cmocka_unit_test(size_cap),
      cmocka_unit_test(unreadable),
      cmocka_unit_test(tree_api),
      cmocka_unit_test(many_keys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
