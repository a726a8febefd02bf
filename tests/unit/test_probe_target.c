/* Target parsing, target lines, locators and CIDR sweeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "probe/probe_int.h"

struct good {
  const char *spec, *sni_opt, *starttls_opt;
  const char *host;
  unsigned port;
  const char *sni;      /* NULL: none sent */
  const char *starttls; /* NULL: direct TLS */
  const char *locator;
};

static const struct good goods[] = {
    {"example.com", NULL, NULL, "example.com", 443, "example.com", NULL,
     "example.com:443"},
    {"Example.COM.:8443", NULL, NULL, "example.com", 8443, "example.com",
     NULL, "example.com:8443"},
    {"https://www.example.com/path?q=1", NULL, NULL, "www.example.com", 443,
     "www.example.com", NULL, "www.example.com:443"},
    {"https://www.example.com:4443", NULL, NULL, "www.example.com", 4443,
     "www.example.com", NULL, "www.example.com:4443"},
    {"192.0.2.1", NULL, NULL, "192.0.2.1", 443, NULL, NULL, "192.0.2.1:443"},
    {"192.0.2.1:993", "mail.example.com", NULL, "192.0.2.1", 993,
     "mail.example.com", NULL, "192.0.2.1:993 sni=mail.example.com"},
    {"[2001:db8::1]:8443", NULL, NULL, "2001:db8::1", 8443, NULL, NULL,
     "[2001:db8::1]:8443"},
    {"2001:db8::1", NULL, NULL, "2001:db8::1", 443, NULL, NULL,
     "[2001:db8::1]:443"},
    {"[::1]", NULL, NULL, "::1", 443, NULL, NULL, "[::1]:443"},
    {"smtp://mx.example.com", NULL, NULL, "mx.example.com", 25,
     "mx.example.com", "smtp", "smtp://mx.example.com:25"},
    {"submission://mx.example.com", NULL, NULL, "mx.example.com", 587,
     "mx.example.com", "smtp", "smtp://mx.example.com:587"},
    {"mx.example.com", NULL, "smtp", "mx.example.com", 25, "mx.example.com",
     "smtp", "smtp://mx.example.com:25"},
    {"mx.example.com:2525", NULL, "SMTP", "mx.example.com", 2525,
     "mx.example.com", "smtp", "smtp://mx.example.com:2525"},
    {"imap://127.0.0.1:1143", "imap.test", NULL, "127.0.0.1", 1143,
     "imap.test", "imap", "imap://127.0.0.1:1143 sni=imap.test"},
    {"pop3://h", NULL, NULL, "h", 110, "h", "pop3", "pop3://h:110"},
    {"ftp://h", NULL, NULL, "h", 21, "h", "ftp", "ftp://h:21"},
    {"ldap://h", NULL, NULL, "h", 389, "h", "ldap", "ldap://h:389"},
    {"xmpp://h", NULL, NULL, "h", 5222, "h", "xmpp", "xmpp://h:5222"},
    {"postgres://db.internal", NULL, NULL, "db.internal", 5432,
     "db.internal", "postgres", "postgres://db.internal:5432"},
    {"postgresql://db:6543", NULL, NULL, "db", 6543, "db", "postgres",
     "postgres://db:6543"},
    {"imaps://h", NULL, NULL, "h", 993, "h", NULL, "h:993"},
    {"ldaps://h", NULL, NULL, "h", 636, "h", NULL, "h:636"},
    {"smtps://h", NULL, NULL, "h", 465, "h", NULL, "h:465"},
    {"under_score.internal", NULL, NULL, "under_score.internal", 443,
     "under_score.internal", NULL, "under_score.internal:443"},
};

static void test_good(void **state)
{
  (void)state;
  for(size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
    const struct good *g = &goods[i];
    certhub_target t;
    char *err = NULL, loc[256];
    ch_err rc = certhub_target_parse(g->spec, g->sni_opt, g->starttls_opt, &t,
                                     &err);
    if(rc)
      fail_msg("%s: %s", g->spec, err ? err : "?");
    assert_string_equal(t.host, g->host);
    assert_int_equal(t.port, g->port);
    if(g->sni)
      assert_string_equal(t.sni, g->sni);
    else
      assert_null(t.sni);
    if(g->starttls)
      assert_string_equal(t.starttls, g->starttls);
    else
      assert_null(t.starttls);
    assert_int_equal(certhub_target_locator(&t, NULL, loc, sizeof(loc)),
                     CH_OK);
    assert_string_equal(loc, g->locator);
    assert_string_equal(t.spec, g->spec);
    certhub_target_free(&t);
  }
}

struct bad {
  const char *spec, *sni_opt, *starttls_opt;
  const char *msg; /* substring of the error */
};

static const struct bad bads[] = {
    {"", NULL, NULL, "empty target"},
    {"host:0", NULL, NULL, "out of range"},
    {"host:65536", NULL, NULL, "out of range"},
    {"host:99999", NULL, NULL, "out of range"},
    {"host:12ab", NULL, NULL, "out of range"},
    {"host:", NULL, NULL, "out of range"},
    {"gopher://host", NULL, NULL, "unknown scheme 'gopher'"},
    {"[2001:db8::1", NULL, NULL, "closing ']'"},
    {"[not-v6]:443", NULL, NULL, "not an IPv6 address"},
    {"[::1]x", NULL, NULL, "junk after ']'"},
    {"ho st", NULL, NULL, "space or control"},
    {"host\x01", NULL, NULL, "space or control"},
    {"bad..name", NULL, NULL, "not a valid host name"},
    {"-+*.example", NULL, NULL, "not a valid host name"},
    {":443", NULL, NULL, "no host name"},
    {"https://user@host", NULL, NULL, "user names"},
    {"host", NULL, "gopher", "unknown STARTTLS protocol 'gopher'"},
    {"https://host", NULL, "smtp", "conflicts with the https:// scheme"},
    {"host", "bad sni!", NULL, "is not a DNS name"},
    {"host", "192.0.2.1", NULL, "is not a DNS name"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".example",
     NULL, NULL, "not a valid host name"},
};

static void test_bad(void **state)
{
  (void)state;
  for(size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    const struct bad *b = &bads[i];
    certhub_target t;
    char *err = NULL;
    ch_err rc = certhub_target_parse(b->spec, b->sni_opt, b->starttls_opt,
                                     &t, &err);
    if(rc == CH_OK)
      fail_msg("'%s' parsed but should not", b->spec);
    assert_non_null(err);
    if(!strstr(err, b->msg))
      fail_msg("'%s': message '%s' lacks '%s'", b->spec, err, b->msg);
    free(err);
  }
}

static void test_huge(void **state)
{
  (void)state;
  char *big = malloc(100001);
  certhub_target t;
  char *err = NULL;
  memset(big, 'a', 100000);
  big[100000] = '\0';
  assert_int_equal(certhub_target_parse(big, NULL, NULL, &t, &err),
                   CH_ERR_PARSE);
  assert_non_null(strstr(err, "longer than"));
  /* The message quotes a bounded prefix only. */
  assert_true(strlen(err) < 200);
  free(err);
  bool blank;
  assert_int_equal(certhub_target_parse_line(big, &t, &blank, &err),
                   CH_ERR_PARSE);
  free(err);
  free(big);
}

static void test_lines(void **state)
{
  (void)state;
  certhub_target t;
  bool blank;
  char *err = NULL, loc[256];

  assert_int_equal(certhub_target_parse_line("   # comment", &t, &blank, &err),
                   CH_OK);
  assert_true(blank);
  assert_int_equal(certhub_target_parse_line("", &t, &blank, &err), CH_OK);
  assert_true(blank);

  assert_int_equal(
      certhub_target_parse_line("127.0.0.1:8443 sni=name0001.bench.test "
                                "tag.owner=team-a tag.env=prod # why",
                                &t, &blank, &err),
      CH_OK);
  assert_false(blank);
  assert_string_equal(t.host, "127.0.0.1");
  assert_int_equal(t.port, 8443);
  assert_string_equal(t.sni, "name0001.bench.test");
  assert_int_equal(t.n_tags, 2);
  assert_string_equal(t.tag_keys[0], "owner");
  assert_string_equal(t.tag_values[0], "team-a");
  assert_string_equal(t.tag_keys[1], "env");
  assert_string_equal(t.tag_values[1], "prod");
  certhub_target_free(&t);

  assert_int_equal(certhub_target_parse_line(
                       "\tmail.example.com:2525 starttls=smtp all-addresses",
                       &t, &blank, &err),
                   CH_OK);
  assert_string_equal(t.starttls, "smtp");
  assert_true(t.all_addresses);
  assert_int_equal(certhub_target_locator(&t, "[2001:db8::25]:2525", loc,
                                          sizeof(loc)),
                   CH_OK);
  assert_string_equal(loc, "smtp://mail.example.com:2525 "
                           "addr=[2001:db8::25]:2525");
  certhub_target_free(&t);

  assert_int_equal(certhub_target_parse_line("host bogus=1", &t, &blank, &err),
                   CH_ERR_PARSE);
  assert_non_null(strstr(err, "unknown option 'bogus=1'"));
  free(err);
  assert_int_equal(certhub_target_parse_line("host tag.=x", &t, &blank, &err),
                   CH_ERR_PARSE);
  free(err);
  assert_int_equal(
      certhub_target_parse_line("host:70000 sni=a", &t, &blank, &err),
      CH_ERR_PARSE);
  assert_non_null(strstr(err, "out of range"));
  free(err);
}

static void test_locator_small(void **state)
{
  (void)state;
  certhub_target t;
  char *err = NULL, loc[8];
  assert_int_equal(certhub_target_parse("example.com", NULL, NULL, &t, &err),
                   CH_OK);
  assert_int_equal(certhub_target_locator(&t, NULL, loc, sizeof(loc)),
                   CH_ERR_TOOBIG);
  certhub_target_free(&t);
}

static void test_sweep(void **state)
{
  (void)state;
  certhub_target *v;
  size_t n;
  char *err = NULL;
  uint16_t ports[] = {443, 8443};

  assert_int_equal(certhub_target_sweep("10.1.2.77/30", ports, 2, 100, &v,
                                        &n, &err),
                   CH_OK);
  /* /30: network and broadcast skipped, two hosts over two ports. */
  assert_int_equal(n, 4);
  assert_string_equal(v[0].host, "10.1.2.77");
  assert_int_equal(v[1].port, 8443);
  assert_string_equal(v[2].host, "10.1.2.78");
  assert_string_equal(v[3].spec, "10.1.2.78:8443");
  for(size_t i = 0; i < n; i++)
    certhub_target_free(&v[i]);
  free(v);

  assert_int_equal(certhub_target_sweep("10.1.2.77/30", ports, 1, 100, &v,
                                        &n, &err),
                   CH_OK);
  assert_int_equal(n, 2);
  assert_string_equal(v[1].host, "10.1.2.78");
  for(size_t i = 0; i < n; i++)
    certhub_target_free(&v[i]);
  free(v);

  assert_int_equal(certhub_target_sweep("192.0.2.5/32", ports, 1, 10, &v, &n,
                                        &err),
                   CH_OK);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].host, "192.0.2.5");
  assert_int_equal(v[0].port, 443);
  certhub_target_free(&v[0]);
  free(v);

  assert_int_equal(certhub_target_sweep("fd00::/126", ports, 1, 10, &v, &n,
                                        &err),
                   CH_OK);
  assert_int_equal(n, 4);
  assert_string_equal(v[0].host, "fd00::");
  assert_string_equal(v[3].host, "fd00::3");
  for(size_t i = 0; i < n; i++)
    certhub_target_free(&v[i]);
  free(v);

  assert_int_equal(certhub_target_sweep("10.0.0.0/8", ports, 2, 65536, &v, &n,
                                        &err),
                   CH_ERR_TOOBIG);
  assert_non_null(strstr(err, "limit of 65536"));
  free(err);
  assert_int_equal(certhub_target_sweep("::/0", ports, 1, 65536, &v, &n,
                                        &err),
                   CH_ERR_TOOBIG);
  free(err);
  assert_int_equal(certhub_target_sweep("10.0.0.0", ports, 1, 10, &v, &n,
                                        &err),
                   CH_ERR_PARSE);
  free(err);
  assert_int_equal(certhub_target_sweep("10.0.0.0/33", ports, 1, 10, &v, &n,
                                        &err),
                   CH_ERR_PARSE);
  free(err);
  assert_int_equal(certhub_target_sweep("nonsense/24", ports, 1, 10, &v, &n,
                                        &err),
                   CH_ERR_PARSE);
  free(err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),       cmocka_unit_test(test_bad),
      cmocka_unit_test(test_huge),       cmocka_unit_test(test_lines),
      cmocka_unit_test(test_locator_small), cmocka_unit_test(test_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
