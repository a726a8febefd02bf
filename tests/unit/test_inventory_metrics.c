/* Metrics: the Prometheus text exposition of certificates and probes,
 * checked line by line against the 0.0.4 format rules. */
#include <ctype.h>
#include <math.h>

#include "certhub/inventory.h"
#include "certhub/metrics.h"
#include "test_store_util.h"

/* ---- a strict exposition-format checker ------------------------------ */

#define MAX_FAMS 64
#define MAX_SERIES 4096

typedef struct expo {
  char fams[MAX_FAMS][128]; /* in the order their TYPE appeared */
  bool help[MAX_FAMS];
  size_t n_fams;
  char *series[MAX_SERIES]; /* "name{labels}" seen, for duplicates */
  size_t n_series;
  int current; /* family whose samples are being read, -1 none */
  bool closed[MAX_FAMS];
  bool typed[MAX_FAMS];
  bool sampled[MAX_FAMS];
  char err[256]; /* first problem, "" when valid */
} expo;

static expo *cur_expo;
#define BAD(...)                                                              \
  do {                                                                        \
    if(!cur_expo->err[0])                                                     \
      snprintf(cur_expo->err, sizeof(cur_expo->err), __VA_ARGS__);            \
    return BAD_RET;                                                           \
  } while(0)

static bool name_char(int c, bool first, bool colon)
{
  return isalpha(c) || c == '_' || (colon && c == ':') ||
         (!first && isdigit(c));
}

/* Length of a metric (colon) or label name at p, 0 when none. */
static size_t name_len(const char *p, bool colon)
{
  size_t n = 0;
  while(p[n] && name_char((unsigned char)p[n], n == 0, colon))
    n++;
  return n;
}

static int fam_index(expo *e, const char *name, size_t len)
{
  for(size_t i = 0; i < e->n_fams; i++)
    if(strlen(e->fams[i]) == len && !strncmp(e->fams[i], name, len))
      return (int)i;
  return -1;
}

#define BAD_RET
static void check_value(const char *v, int line)
{
  if(!strcmp(v, "+Inf") || !strcmp(v, "-Inf") || !strcmp(v, "NaN"))
    return;
  char *end;
  strtod(v, &end);
  if(!*v || *end)
    BAD("line %d: bad sample value '%s'", line, v);
}
#undef BAD_RET
#define BAD_RET NULL

/* Parse {a="x",b="y"}; returns the position after '}' and checks
 * escaping and duplicate names. */
static const char *check_labels(const char *p, int line)
{
  char names[32][64];
  size_t n = 0;
  p++;
  while(*p != '}') {
    size_t nl = name_len(p, false);
    if(!nl || nl >= 64)
      BAD("line %d: bad label name at '%.20s'", line, p);
    for(size_t i = 0; i < n; i++)
      if(strlen(names[i]) == nl && !strncmp(names[i], p, nl))
        BAD("line %d: duplicate label %.*s", line, (int)nl, p);
    if(n >= 32)
      BAD("line %d: too many labels", line);
    memcpy(names[n], p, nl);
    names[n++][nl] = '\0';
    p += nl;
    if(p[0] != '=' || p[1] != '"')
      BAD("line %d: label without =\"", line);
    p += 2;
    for(; *p != '"'; p++) {
      if(!*p || *p == '\n')
        BAD("line %d: unterminated label value", line);
      if(*p == '\\') {
        p++;
        if(*p != '\\' && *p != '"' && *p != 'n')
          BAD("line %d: bad escape \\%c", line, *p);
      }
    }
    p++;
    if(*p == ',')
      p++;
    else if(*p != '}')
      BAD("line %d: expected , or } after a label", line);
  }
  return p + 1;
}

#undef BAD_RET
#define BAD_RET false
static bool expo_check(expo *e, char *text)
{
  memset(e, 0, sizeof(*e));
  cur_expo = e;
  e->current = -1;
  int line = 0;
  size_t tl = strlen(text);
  if(!tl || text[tl - 1] != '\n')
    BAD("the last line does not end");
  for(char *p = text, *nl; *p; *nl = '\n', p = nl + 1) {
    nl = strchr(p, '\n');
    *nl = '\0';
    line++;
    if(!*p)
      BAD("line %d: empty line", line);
    if(!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7)) {
      bool type = p[2] == 'T';
      const char *name = p + 7;
      size_t n = name_len(name, true);
      if(!n || name[n] != ' ')
        BAD("line %d: bad name in '%s'", line, p);
      int i = fam_index(e, name, n);
      if(i < 0) {
        if(e->n_fams == MAX_FAMS)
          BAD("too many families");
        i = (int)e->n_fams++;
        memcpy(e->fams[i], name, n);
        e->fams[i][n] = '\0';
      }
      /* Documentation opens a family's block; a closed block may not
       * open again. */
      if(e->current != i) {
        if(e->closed[i])
          BAD("line %d: %s documented again after other samples", line,
              e->fams[i]);
        if(e->current >= 0)
          e->closed[e->current] = true;
        e->current = i;
      }
      if(type) {
        const char *t = name + n + 1;
        if(strcmp(t, "gauge") && strcmp(t, "counter") &&
           strcmp(t, "untyped") && strcmp(t, "histogram") &&
           strcmp(t, "summary"))
          BAD("line %d: bad type '%s'", line, t);
        if(e->typed[i])
          BAD("line %d: second TYPE for %s", line, e->fams[i]);
        if(e->sampled[i])
          BAD("line %d: TYPE of %s after its samples", line, e->fams[i]);
        e->typed[i] = true;
      }
      else {
        if(e->help[i])
          BAD("line %d: second HELP for %s", line, e->fams[i]);
        e->help[i] = true;
        /* HELP text: only \\ and \n escapes */
        for(const char *h = name + n + 1; *h; h++)
          if(*h == '\\' && h[1] != '\\' && h[1] != 'n')
            BAD("line %d: bad HELP escape", line);
          else if(*h == '\\')
            h++;
      }
      continue;
    }
    if(*p == '#')
      continue; /* a comment */
    size_t n = name_len(p, true);
    if(!n)
      BAD("line %d: sample without a name: '%s'", line, p);
    int i = fam_index(e, p, n);
    if(i < 0 || i != e->current || !e->typed[i])
      BAD("line %d: sample of %.*s outside its documented block", line, (int)n,
          p);
    e->sampled[i] = true;
    const char *q = p + n;
    if(*q == '{' && !(q = check_labels(q, line)))
      return false;
    if(*q != ' ')
      BAD("line %d: no space before the value", line);
    char *series = strndup(p, (size_t)(q - p));
    for(size_t k = 0; k < e->n_series; k++) {
      if(!strcmp(e->series[k], series)) {
        snprintf(e->err, sizeof(e->err), "line %d: duplicate series %s", line,
                 series);
        free(series);
        return false;
      }
    }
    if(e->n_series == MAX_SERIES) {
      free(series);
      BAD("too many series");
    }
    e->series[e->n_series++] = series;
    check_value(q + 1, line);
    if(e->err[0])
      return false;
  }
  for(size_t i = 0; i < e->n_fams; i++)
    if(!e->help[i])
      BAD("%s has no HELP", e->fams[i]);
  return true;
}
#undef BAD_RET

static void expo_free(expo *e)
{
  for(size_t i = 0; i < e->n_series; i++)
    free(e->series[i]);
}

static bool has_line(const char *text, const char *want)
{
  size_t n = strlen(want);
  for(const char *p = text; (p = strstr(p, want)); p++)
    if((p == text || p[-1] == '\n') && p[n] == '\n')
      return true;
  return false;
}

/* ---- fixtures ------------------------------------------------------- */

typedef struct tchain {
  uint8_t *der[8];
  size_t len[8];
  size_t n;
} tchain;

static ch_err keep_der(void *ctx, certhub_cert *c, unsigned position)
{
  tchain *ch = ctx;
  (void)position;
  ch->der[ch->n] = malloc(c->der_len);
  memcpy(ch->der[ch->n], c->der, c->der_len);
  ch->len[ch->n++] = c->der_len;
  certhub_cert_free(c);
  return ch->n < 8 ? CH_OK : CH_ERR_TOOBIG;
}

static void load_chain(tchain *ch)
{
  const char *dir = getenv("CERTHUB_TEST_DATA");
  char path[512];
  snprintf(path, sizeof(path), "%s/certs/chain.pem", dir ? dir : "tests/data");
  memset(ch, 0, sizeof(*ch));
  assert_int_equal(certhub_read_file(path, NULL, keep_der, NULL, ch), CH_OK);
  assert_int_equal(ch->n, 3);
}

static char *render(certhub_store *s, bool compat)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  certhub_metrics_opts o = {.compat = compat};
  ch_err rc = certhub_metrics_write(s, T_NOW, &o, f);
  if(rc)
    fail_msg("metrics: %s: %s", certhub_strerror(rc), certhub_store_errmsg(s));
  assert_int_equal(fclose(f), 0);
  return text;
}

/* Two file certificates (one expired, one with a hostile CN and an owner
 * tag), an endpoint that answered and one that refused. */
static certhub_store *fixture(tdir *d, tchain *ch)
{
  tdir_make(d);
  certhub_store *s = t_open(d->db);
  int64_t src = 0, scan = 0;
  assert_int_equal(certhub_store_source(s, CERTHUB_SOURCE_FILE,
                                        "/etc/ssl/a \"b\".pem", &src),
                   CH_OK);
  assert_int_equal(certhub_store_scan_begin(s, src, T_NOW, &scan), CH_OK);
  static tcert a, b;
  tcert_init(&a, 1, "we\"ird\\name\nline2", T_NOW + 10 * T_DAY, 'a', 'b');
  tcert_init(&b, 2, "old.example.com", T_NOW - 2 * T_DAY, 'c', 'b');
  b.c.subject = "CN=old.example.com,O=Acme\\, Inc.,C=DE";
  b.c.serial = "0100"; /* 256 */
  const char *k[] = {"owner"}, *v[] = {"team-a"};
  certhub_labels lab = {.tag_keys = k, .tag_values = v, .n_tags = 1};
  assert_int_equal(
      certhub_store_put_cert(s, &a.c, &lab, src, 1, scan, T_NOW, NULL, NULL),
      CH_OK);
  assert_int_equal(
      certhub_store_put_cert(s, &b.c, NULL, src, 2, scan, T_NOW, NULL, NULL),
      CH_OK);
  assert_int_equal(certhub_store_scan_finish(s, src, scan, T_NOW, NULL, NULL),
                   CH_OK);

  load_chain(ch);
  static char *tk[] = {"owner"}, *tv[] = {"web"};
  static certhub_target t1 = {.spec = "app.example.com",
                              .host = "app.example.com",
                              .port = 443,
                              .tag_keys = tk,
                              .tag_values = tv,
                              .n_tags = 1};
  certhub_probe_result r = {
      .target = &t1,
      .address = "127.0.0.1:443",
      .status = CERTHUB_PROBE_OK,
      .reason = "",
      .started = T_NOW - 60,
      .handshake_us = 2500,
      .total_us = 4000,
      .tls_version = 0x0303,
      .tls_version_name = "TLSv1.2",
      .cipher = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      .chain_n = ch->n,
      .chain_der = (const uint8_t *const *)ch->der,
      .chain_len = ch->len,
  };
  r.check.trusted = true;
  r.check.hostname_match = true;
  r.check.problems = CERTHUB_CHAIN_WRONG_ORDER;
  r.check.earliest_not_after = T_NOW + 30 * T_DAY;
  r.check.ocsp = CERTHUB_OCSP_GOOD;
  assert_int_equal(
      certhub_store_put_probe(s, &r, "app.example.com:443", NULL, T_NOW, NULL),
      CH_OK);
  static certhub_target t2 = {.spec = "smtp://mx.example.com",
                              .host = "mx.example.com",
                              .port = 25,
                              .starttls = "smtp"};
  certhub_probe_result f = {.target = &t2,
                            .address = "127.0.0.1:25",
                            .status = CERTHUB_PROBE_REFUSED,
                            .reason = "connection refused",
                            .started = T_NOW - 30,
                            .total_us = 1000};
  assert_int_equal(certhub_store_put_probe(s, &f, "smtp://mx.example.com:25",
                                           NULL, T_NOW, NULL),
                   CH_OK);
  return s;
}

static void chain_free(tchain *ch)
{
  for(size_t i = 0; i < ch->n; i++)
    free(ch->der[i]);
}

/* ---- tests ---------------------------------------------------------- */

static void exposition_is_valid(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  expo e;
  certhub_store *s = fixture(&d, &ch);
  char *text = render(s, false);
  if(!expo_check(&e, text))
    fail_msg("exposition: %s", e.err);
  assert_int_equal(e.n_fams, 14);
  assert_int_equal(fam_index(&e, "probe_success", 13), -1);

  /* Hostile label values are escaped, nothing else is. */
  assert_non_null(strstr(text, "common_name=\"we\\\"ird\\\\name\\nline2\""));
  assert_non_null(strstr(text, ",owner=\"team-a\"}"));
  /* 5 certificates: 2 from files, 3 from the endpoint (its leaf expired
   * on 2026-01-01). */
  assert_true(has_line(text, "certhub_certificates{status=\"ISSUED\"} 3"));
  assert_true(has_line(text, "certhub_certificates{status=\"EXPIRED\"} 2"));
  assert_true(has_line(text, "certhub_certificates{status=\"INACTIVE\"} 0"));

  char want[256];
  snprintf(want, sizeof(want),
           "certhub_probe_earliest_cert_expiry_timestamp_seconds{endpoint="
           "\"app.example.com:443\",owner=\"web\"} %lld",
           (long long)(T_NOW + 30 * T_DAY));
  assert_true(has_line(text, want));
  assert_true(has_line(text, "certhub_probe_success{endpoint="
                             "\"smtp://mx.example.com:25\"} 0"));
  assert_true(has_line(text, "certhub_probe_success{endpoint="
                             "\"app.example.com:443\",owner=\"web\"} 1"));
  assert_true(has_line(text, "certhub_probe_tls_version_info{endpoint="
                             "\"app.example.com:443\",owner=\"web\","
                             "version=\"TLSv1.2\"} 1"));
  assert_true(has_line(text, "certhub_probe_chain_problem{endpoint="
                             "\"app.example.com:443\",owner=\"web\","
                             "problem=\"wrong_order\"} 1"));
  assert_true(has_line(text, "certhub_probe_chain_problem{endpoint="
                             "\"app.example.com:443\",owner=\"web\","
                             "problem=\"expired\"} 0"));
  assert_true(has_line(text, "certhub_probe_ocsp_status{endpoint="
                             "\"app.example.com:443\",owner=\"web\","
                             "status=\"good\"} 1"));
  assert_true(has_line(text, "certhub_probe_duration_seconds{endpoint="
                             "\"smtp://mx.example.com:25\"} 0.001000"));
  /* A refused probe has no chain samples. */
  assert_null(strstr(text, "certhub_probe_chain_trusted{endpoint=\"smtp"));
  expo_free(&e);
  free(text);
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

static void compat_names(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  expo e;
  certhub_store *s = fixture(&d, &ch);
  char *text = render(s, true);
  if(!expo_check(&e, text))
    fail_msg("exposition: %s", e.err);
  assert_int_equal(e.n_fams, 21);
  char want[512];
  snprintf(want, sizeof(want),
           "probe_ssl_earliest_cert_expiry{instance=\"app.example.com:443\"}"
           " %lld",
           (long long)(T_NOW + 30 * T_DAY));
  assert_true(has_line(text, want));
  snprintf(want, sizeof(want),
           "probe_ssl_last_chain_expiry_timestamp_seconds{instance="
           "\"app.example.com:443\"} %lld",
           (long long)(T_NOW + 30 * T_DAY));
  assert_true(has_line(text, want));
  assert_true(has_line(
      text, "probe_success{instance=\"smtp://mx.example.com:25\"} 0"));
  assert_true(has_line(text, "probe_tls_version_info{instance="
                             "\"app.example.com:443\",version=\"TLS 1.2\"} "
                             "1"));
  /* x509-certificate-exporter's label set, DN parts unescaped, decimal
   * serial. */
  snprintf(want, sizeof(want),
           "x509_cert_expired{filename=\"a \\\"b\\\".pem\",filepath="
           "\"/etc/ssl/a \\\"b\\\".pem\",issuer_C=\"\",issuer_ST=\"\","
           "issuer_L=\"\",issuer_O=\"Test\",issuer_OU=\"\",issuer_CN="
           "\"Issuer b\",serial_number=\"256\",subject_C=\"DE\",subject_ST="
           "\"\",subject_L=\"\",subject_O=\"Acme, Inc.\",subject_OU=\"\","
           "subject_CN=\"old.example.com\"} 1");
  assert_true(has_line(text, want));
  assert_non_null(strstr(text, "x509_cert_not_after{filename=\"\","));
  expo_free(&e);
  free(text);
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

static void empty_store(void **state)
{
  (void)state;
  tdir d;
  expo e;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char *text = render(s, false);
  if(!expo_check(&e, text))
    fail_msg("exposition: %s", e.err);
  assert_int_equal(e.n_series, 3); /* the three status counts */
  expo_free(&e);
  free(text);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* The checker itself must reject what the format forbids. */
static void checker_rejects(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "# HELP a x\n# TYPE a gauge\na 1\na{b=\"\\\"\"} 2\n",
      "# HELP a x\n# TYPE a gauge\na{b=\"1\",c=\"2\"} +Inf\n",
  };
  static const char *const bad[] = {
      "# HELP a x\na 1\n",                                 /* no TYPE first */
      "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n", /* two TYPEs */
      "# HELP a x\n# TYPE a gauge\na 1\n# HELP b y\n# TYPE b gauge\nb 1\n"
      "a 2\n",                                              /* split family */
      "# HELP a x\n# TYPE a gauge\na{b=\"\\q\"} 1\n",       /* bad escape */
      "# HELP a x\n# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n", /* dup label */
      "# HELP a x\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n", /* dup */
      "# HELP a x\n# TYPE a gauge\na one\n", /* bad value */
      "# HELP a x\n# TYPE a gauge\na 1",     /* no newline */
      "# TYPE a gauge\na 1\n",               /* no HELP */
      "# HELP a x\n# TYPE a gauge\n1a 1\n",  /* bad name */
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(ok); i++) {
    expo e;
    char *t = strdup(ok[i]);
    if(!expo_check(&e, t))
      fail_msg("good input %zu refused: %s", i, e.err);
    expo_free(&e);
    free(t);
  }
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    expo e;
    char *t = strdup(bad[i]);
    if(expo_check(&e, t))
      fail_msg("bad input %zu accepted", i);
    expo_free(&e);
    free(t);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exposition_is_valid),
      cmocka_unit_test(compat_names),
      cmocka_unit_test(empty_store),
      cmocka_unit_test(checker_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
