/* Lifecycle evaluation: approaching/expired/available events over a
 * simulated calendar, thresholds from sources, endpoints and tags, the
 * envelope JSON and the weekly batch. */
#include "test_lifecycle_util.h"

#define DT_APP CERTHUB_DT_APPROACHING
#define DT_EXP CERTHUB_DT_EXPIRED
#define DT_AVL CERTHUB_DT_AVAILABLE

static lrec rec; /* large: static */

/* 60 days, two runs a day (a restart): exactly one Approaching event per
 * UTC day from the threshold to the expiry day, none before or after,
 * one Expired, one Available IMPORT. */
static void day_by_day(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  /* Expires 50 days after T0 at 18:00, so on day 50 the run at 10:00
   * still sees it valid with 0 days left. */
  int64_t na = L_T0 + 50 * L_DAY + 8 * 3600;
  lcert(&e, "certs/site.pem", "site.example", na);
  lconfig(&e, "expiry_threshold_days: 45\n");
  limport(&e, "certs/site.pem", L_T0);
  lfound f = lcert_find(&e, "site.example", L_T0);
  size_t expired_total = 0, approaching_total = 0;
  for(int d = 0; d <= 60; d++) {
    int64_t now = L_T0 + d * L_DAY;
    int64_t left = certhub_days_to_expiry(na, now);
    for(int run = 0; run < 2; run++) {
      certhub_lifecycle_stats st;
      lrun(&e, &rec, now, false, &st);
      size_t app = lcount(&rec, rec.mark, DT_APP, NULL);
      size_t exp = lcount(&rec, rec.mark, DT_EXP, NULL);
      approaching_total += app;
      expired_total += exp;
      bool due = run == 0 && left >= 0 && left <= 45 && now < na;
      if(app != (due ? 1u : 0u))
        fail_msg("day %d run %d (%lld days left): %zu approaching", d, run,
                 (long long)left, app);
      assert_int_equal(st.emitted[CERTHUB_LC_APPROACHING], due ? 1 : 0);
      if(run == 1 && left >= 0 && left <= 45 && now < na)
        assert_int_equal(st.deduped[CERTHUB_LC_APPROACHING], 1);
      if(due) {
        const lrec_event *x = &rec.ev[rec.n - 1];
        assert_string_equal(x->detail_type, DT_APP);
        assert_int_equal(ldetail_int(x, "DaysToExpiry"), left);
        char key[160], date[16];
        certhub_date_format(now, date, sizeof(date));
        snprintf(key, sizeof(key), "approaching:%s:%s", f.sha, date);
        assert_string_equal(x->key, key);
        assert_string_equal(x->source, CERTHUB_DEFAULT_EVENT_SOURCE);
      }
      /* Expired: the first run after notAfter, never again. */
      assert_int_equal(exp, (d == 51 && run == 0) ? 1 : 0);
    }
  }
  assert_int_equal(approaching_total, 46); /* days 45 .. 0 */
  assert_int_equal(expired_total, 1);
  assert_int_equal(lcount(&rec, 0, DT_AVL, NULL), 1);
  const lrec_event *avl = lfind(&rec, DT_AVL, NULL);
  char buf[64];
  assert_string_equal(ldetail_str(avl, "Action", buf, sizeof(buf)), "IMPORT");
  assert_string_equal(ldetail_str(avl, "CertificateType", buf, sizeof(buf)),
                      "IMPORTED");
  assert_string_equal(ldetail_str(avl, "CommonName", buf, sizeof(buf)),
                      "site.example");
  assert_string_equal(
      ldetail_str(avl, "CertificateCreatedDate", buf, sizeof(buf)),
      "2026-01-01T10:00:00Z");
  /* The detail of Expired has ACM's fields and types. */
  const lrec_event *exp = lfind(&rec, DT_EXP, NULL);
  json_t *d = json_loads(exp->detail, 0, NULL);
  assert_non_null(d);
  assert_true(json_is_false(json_object_get(d, "InUse")));
  assert_true(json_is_false(json_object_get(d, "Exported")));
  assert_string_equal(
      json_string_value(json_object_get(d, "CertificateExpirationDate")),
      "2026-02-20T18:00:00Z");
  assert_null(json_object_get(d, "DaysToExpiry"));
  json_decref(d);
  lenv_free(&e);
}

/* Runs on some days only: nothing is back-filled for the days between. */
static void skipped_days_not_backfilled(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t na = L_T0 + 40 * L_DAY;
  lcert(&e, "a.pem", "a.example", na);
  lconfig(&e, "region: eu-west-1\n");
  limport(&e, "a.pem", L_T0);
  lrun(&e, &rec, L_T0 + 5 * L_DAY, false, NULL);  /* 35 days left */
  lrun(&e, &rec, L_T0 + 12 * L_DAY, false, NULL); /* 28 */
  lrun(&e, &rec, L_T0 + 12 * L_DAY + 3600, false, NULL);
  assert_int_equal(lcount(&rec, 0, DT_APP, NULL), 2); /* days 5 and 12 */
  assert_int_equal(lcount(&rec, 0, DT_APP, ":2026-01-01"), 0);
  assert_int_equal(lcount(&rec, 0, DT_APP, ":2026-01-06"), 1);
  assert_int_equal(lcount(&rec, 0, DT_APP, ":2026-01-13"), 1);
  lenv_free(&e);
}

/* Thresholds: per source (directory, glob, file), the largest when several
 * sources hold a certificate, per endpoint-less default, per tag; an
 * invalid tag is warned about and ignored. */
static void thresholds(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t now = L_T0;
  /* All expire in 20 days. */
  int64_t na = L_T0 + 20 * L_DAY + 3600;
  lcert(&e, "ten/a.pem", "a.example", na);          /* source ten: 10 */
  lcert(&e, "thirty/b.pem", "b.example", na);       /* glob source: 30 */
  lcert(&e, "ten/c.pem", "c.example", na);          /* ten, and copied below */
  lcert(&e, "ten/skip.bak.pem", "x.example", na);   /* excluded from ten */
  lcert(&e, "other/d.pem", "d.example", na);        /* no source: top 15 */
  lcert(&e, "ten/t.pem", "t.example", na);          /* tag 25 */
  lcert(&e, "ten/bad.pem", "bad.example", na);      /* invalid tag */
  lcert(&e, "thirty/five.pem", "five.example", na); /* tag 5 */
  lsh("cp '%s/ten/c.pem' '%s/thirty/c.pem'", e.dir, e.dir);
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "expiry_threshold_days: 15\n"
           "sources:\n"
           "  - name: ten\n"
           "    paths: [%s/ten/]\n"
           "    exclude: [\"*.bak.pem\"]\n"
           "    expiry_threshold_days: 10\n"
           "  - name: thirty\n"
           "    paths: [\"%s/thir*/*.pem\"]\n"
           "    expiry_threshold_days: 30\n",
           e.dir, e.dir);
  lconfig(&e, yaml);
  limport(&e, "ten", now);
  limport(&e, "thirty", now);
  limport(&e, "other", now);
  lfound t = lcert_find(&e, "t.example", now);
  lfound bad = lcert_find(&e, "bad.example", now);
  lfound five = lcert_find(&e, "five.example", now);
  int64_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(certhub_store_resolve(e.s, t.id, &ids, &n), CH_OK);
  assert_int_equal(
      certhub_store_tag_set(e.s, ids[0], "expiry_threshold_days", "25"),
      CH_OK);
  free(ids);
  assert_int_equal(certhub_store_resolve(e.s, bad.id, &ids, &n), CH_OK);
  assert_int_equal(
      certhub_store_tag_set(e.s, ids[0], "expiry_threshold_days", "400"),
      CH_OK);
  free(ids);
  assert_int_equal(certhub_store_resolve(e.s, five.id, &ids, &n), CH_OK);
  assert_int_equal(
      certhub_store_tag_set(e.s, ids[0], "expiry_threshold_days", "5"), CH_OK);
  free(ids);

  certhub_lifecycle_stats st;
  lrun(&e, &rec, now, false, &st);
  /* 20 days left: due where the threshold is >= 20. */
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "a.example", now).sha), 0);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "b.example", now).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "c.example", now).sha),
      1); /* max(10, 30) */
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "x.example", now).sha),
      0); /* excluded from ten: top-level 15 */
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "d.example", now).sha),
      0);                                                 /* top-level 15 */
  assert_int_equal(lcount(&rec, 0, DT_APP, t.sha), 1);    /* tag 25 */
  assert_int_equal(lcount(&rec, 0, DT_APP, bad.sha), 0);  /* tag ignored: 10 */
  assert_int_equal(lcount(&rec, 0, DT_APP, five.sha), 0); /* tag 5 */
  assert_int_equal(st.warnings, 1);
  assert_int_equal(st.emitted[CERTHUB_LC_APPROACHING], 3);
  assert_int_equal(st.emitted[CERTHUB_LC_AVAILABLE], 8);

  /* Five days later (15 left) the top-level default catches d and x. */
  lrun(&e, &rec, now + 5 * L_DAY, false, &st);
  assert_int_equal(st.emitted[CERTHUB_LC_APPROACHING], 5);

  /* The batch: every certificate within its threshold, soonest first. */
  json_t *b = NULL;
  assert_int_equal(certhub_lifecycle_batch(e.s, e.c, now, &b), CH_OK);
  assert_int_equal(json_integer_value(json_object_get(b, "count")), 3);
  json_t *list = json_object_get(b, "certificates");
  assert_int_equal(json_array_size(list), 3);
  json_t *first = json_array_get(list, 0);
  assert_int_equal(json_integer_value(json_object_get(first, "DaysToExpiry")),
                   20);
  assert_true(json_is_null(json_object_get(first, "Owner")));
  assert_string_equal(json_string_value(json_object_get(b, "generatedAt")),
                      "2026-01-01T10:00:00Z");
  json_decref(b);
  lenv_free(&e);
}

/* Available IMPORT, then REIMPORT for the certificate that replaced it at
 * the same file; the replaced one gets nothing more. */
static void available_reimport(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  lcert(&e, "site.pem", "site.example", L_T0 + 10 * L_DAY);
  lconfig(&e, "account: \"123456789012\"\nregion: eu-west-1\n");
  limport(&e, "site.pem", L_T0);
  lrun(&e, &rec, L_T0, false, NULL);
  assert_int_equal(lcount(&rec, 0, DT_AVL, NULL), 1);
  assert_int_equal(lcount(&rec, 0, DT_APP, NULL), 1);
  char buf[64];
  assert_string_equal(
      ldetail_str(lfind(&rec, DT_AVL, NULL), "Action", buf, sizeof(buf)),
      "IMPORT");

  lcert(&e, "site.pem", "site.example", L_T0 + 400 * L_DAY);
  limport(&e, "site.pem", L_T0 + L_DAY);
  lfound nw = lcert_find(&e, "site.example", L_T0 + L_DAY);
  lrun(&e, &rec, L_T0 + L_DAY, false, NULL);
  assert_int_equal(lcount(&rec, rec.mark, DT_AVL, nw.sha), 1);
  assert_int_equal(rec.n - rec.mark, 1); /* the old one is INACTIVE */
  const lrec_event *x = &rec.ev[rec.n - 1];
  assert_string_equal(ldetail_str(x, "Action", buf, sizeof(buf)), "REIMPORT");
  char arn[128];
  snprintf(arn, sizeof(arn),
           "arn:certhub:acm:local:000000000000:certificate/%.8s-", nw.sha);
  assert_memory_equal(x->arn, arn, strlen(arn));

  /* Dry run: the same events are offered, the sink decides. */
  lrun(&e, &rec, L_T0 + L_DAY, true, NULL);
  assert_int_equal(rec.n, rec.mark);
  assert_true(rec.dups >= 1);

  /* Past the old one's notAfter: no Expired for it, no source holds it. */
  lrun(&e, &rec, L_T0 + 11 * L_DAY, false, NULL);
  assert_int_equal(lcount(&rec, 0, DT_EXP, NULL), 0);
  assert_int_equal(rec.n, rec.mark);
  lenv_free(&e);
}

/* The envelope: ACM's field names, order and types. */
static void envelope_json(void **state)
{
  (void)state;
  const char *res[] = {"arn:certhub:acm:local:000000000000:certificate/x"};
  certhub_event ev = {
      .source = "certhub.acm",
      .detail_type = CERTHUB_DT_APPROACHING,
      .account = "123456789012",
      .region = "us-east-1",
      .time = 1601448668, /* 2020-09-30T06:51:08Z */
      .resources = res,
      .n_resources = 1,
      .detail = "{\"DaysToExpiry\":31,\"CommonName\":\"example.com\"}",
  };
  json_t *o = NULL;
  assert_int_equal(certhub_event_to_json(&ev, "id-1", &o), CH_OK);
  char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_string_equal(
      text, "{\"version\":\"0\",\"id\":\"id-1\",\"detail-type\":\"ACM "
            "Certificate Approaching Expiration\",\"source\":\"certhub.acm\","
            "\"account\":\"123456789012\",\"time\":\"2020-09-30T06:51:08Z\","
            "\"region\":\"us-east-1\",\"resources\":[\"arn:certhub:acm:local:"
            "000000000000:certificate/x\"],\"detail\":{\"DaysToExpiry\":31,"
            "\"CommonName\":\"example.com\"}}");
  free(text);
  json_decref(o);

  /* No id: a UUID v4. */
  assert_int_equal(certhub_event_to_json(&ev, NULL, &o), CH_OK);
  const char *id = json_string_value(json_object_get(o, "id"));
  assert_int_equal(strlen(id), 36);
  assert_int_equal(id[14], '4');
  assert_non_null(strchr("89ab", id[19]));
  json_decref(o);

  /* A detail that is not a JSON object is refused. */
  ev.detail = "[1]";
  assert_int_equal(certhub_event_to_json(&ev, NULL, &o), CH_ERR_PARSE);
  assert_null(o);
  ev.detail = "{\"a\":";
  assert_int_equal(certhub_event_to_json(&ev, NULL, &o), CH_ERR_PARSE);
}

/* The event source comes from the options, else the config. */
static void event_source(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  lcert(&e, "a.pem", "a.example", L_T0 + 3 * L_DAY);
  lconfig(&e, "event_source: example.certs\n");
  limport(&e, "a.pem", L_T0);
  lrun(&e, &rec, L_T0, false, NULL);
  assert_int_equal(rec.n, 2);
  assert_string_equal(rec.ev[0].source, "example.certs");
  certhub_event_sink sink = {.ctx = &rec, .put = lrec_put};
  certhub_lifecycle_opts o = {.now = L_T0 + L_DAY, .source = "opt.src"};
  assert_int_equal(certhub_lifecycle_evaluate(e.s, e.c, &o, &sink, NULL),
                   CH_OK);
  assert_string_equal(rec.ev[rec.n - 1].source, "opt.src");
  /* Missing arguments are usage errors. */
  assert_int_equal(certhub_lifecycle_evaluate(e.s, e.c, NULL, &sink, NULL),
                   CH_ERR_USAGE);
  lenv_free(&e);
}

/* A certificate sighted at an endpoint (as `certhub probe` records it):
 * the configured endpoint's threshold applies, InUse is true, and with
 * every address probed the locator's " addr=IP" suffix still matches. */
typedef struct ep_put {
  certhub_store *s;
  int64_t src, scan, now;
} ep_put;

static ch_err ep_on_cert(void *ctx, certhub_cert *cert, unsigned pos)
{
  ep_put *p = ctx;
  ch_err rc = certhub_store_put_cert(p->s, cert, NULL, p->src, pos, p->scan,
                                     p->now, NULL, NULL);
  certhub_cert_free(cert);
  return rc;
}

static void ep_on_error(void *ctx, unsigned pos, ch_err err,
                        const char *reason)
{
  (void)ctx;
  fail_msg("read #%u: %s %s", pos, certhub_strerror(err), reason);
}

static void sight_at_endpoint(lenv *e, const char *rel, const char *locator,
                              int64_t now)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
  ep_put p = {.s = e->s, .now = now};
  assert_int_equal(
      certhub_store_source(e->s, CERTHUB_SOURCE_ENDPOINT, locator, &p.src),
      CH_OK);
  assert_int_equal(certhub_store_scan_begin(e->s, p.src, now, &p.scan), CH_OK);
  certhub_read_opts ro = {0};
  assert_int_equal(certhub_read_file(path, &ro, ep_on_cert, ep_on_error, &p),
                   CH_OK);
  assert_int_equal(
      certhub_store_scan_finish(e->s, p.src, p.scan, now, NULL, NULL), CH_OK);
}

static void endpoint_threshold(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t na = L_T0 + 25 * L_DAY + 3600;
  lcert(&e, "ep1.pem", "www.example", na);
  lcert(&e, "ep2.pem", "mx.example", na);
  lcert(&e, "ep3.pem", "other.example", na);
  lconfig(&e, "expiry_threshold_days: 10\n"
              "endpoints:\n"
              "  - target: www.example:443\n"
              "    expiry_threshold_days: 30\n"
              "  - target: smtp://mx.example\n"
              "    all_addresses: true\n"
              "    expiry_threshold_days: 40\n"
              "  - other.example:443\n");
  sight_at_endpoint(&e, "ep1.pem", "www.example:443", L_T0);
  sight_at_endpoint(&e, "ep2.pem", "smtp://mx.example:25 addr=192.0.2.7",
                    L_T0);
  sight_at_endpoint(&e, "ep3.pem", "other.example:443", L_T0);
  lrun(&e, &rec, L_T0, false, NULL);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "www.example", L_T0).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "mx.example", L_T0).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "other.example", L_T0).sha), 0);
  const lrec_event *x = lfind(&rec, DT_AVL, NULL);
  json_t *d = json_loads(x->detail, 0, NULL);
  assert_true(json_is_true(json_object_get(d, "InUse")));
  json_decref(d);
  lenv_free(&e);
}

/* A file name and an owner tag that are not UTF-8 still give valid JSON
 * (U+FFFD for the bad bytes), never a failed run. */
static void hostile_names(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  lcert(&e, "bad\xff.pem", "bad.example", L_T0 + 5 * L_DAY);
  lconfig(&e, "region: local\n");
  limport(&e, "bad\xff.pem", L_T0);
  lfound f = lcert_find(&e, "bad.example", L_T0);
  int64_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(certhub_store_resolve(e.s, f.id, &ids, &n), CH_OK);
  assert_int_equal(certhub_store_tag_set(e.s, ids[0], "owner", "t\xc3"),
                   CH_OK);
  free(ids);
  lrun(&e, &rec, L_T0, false, NULL);
  assert_int_equal(rec.n, 2);
  json_t *b = NULL;
  assert_int_equal(certhub_lifecycle_batch(e.s, e.c, L_T0, &b), CH_OK);
  json_t *c0 = json_array_get(json_object_get(b, "certificates"), 0);
  assert_string_equal(json_string_value(json_object_get(c0, "Owner")),
                      "t\xef\xbf\xbd");
  const char *src =
      json_string_value(json_array_get(json_object_get(c0, "Sources"), 0));
  assert_non_null(strstr(src, "/bad\xef\xbf\xbd.pem"));
  char *text = json_dumps(b, 0);
  assert_non_null(text);
  free(text);
  json_decref(b);
  lenv_free(&e);
}

/* Source paths through a symlinked directory, a glob naming directories,
 * and a relative path all hold the files below them. */
static void source_path_forms(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t na = L_T0 + 20 * L_DAY + 3600;
  lcert(&e, "real/s.pem", "link.example", na);
  lcert(&e, "gdir/sub/c.pem", "glob.example", na);
  lcert(&e, "rel/r.pem", "rel.example", na);
  lcert(&e, "none/n.pem", "none.example", na);
  lsh("ln -s '%s/real' '%s/link'", e.dir, e.dir);
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "expiry_threshold_days: 10\n"
           "sources:\n"
           "  - paths: [%s/link]\n"
           "    expiry_threshold_days: 30\n"
           "  - paths: [\"%s/g*\"]\n"
           "    expiry_threshold_days: 30\n"
           "  - paths: [rel]\n"
           "    expiry_threshold_days: 30\n",
           e.dir, e.dir);
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(e.dir), 0);
  lconfig(&e, yaml);
  limport(&e, "link", L_T0);
  limport(&e, "gdir", L_T0);
  limport(&e, "rel", L_T0);
  limport(&e, "none", L_T0);
  lrun(&e, &rec, L_T0, false, NULL);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "link.example", L_T0).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "glob.example", L_T0).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "rel.example", L_T0).sha), 1);
  assert_int_equal(
      lcount(&rec, 0, DT_APP, lcert_find(&e, "none.example", L_T0).sha), 0);
  lenv_free(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(day_by_day),
      cmocka_unit_test(skipped_days_not_backfilled),
      cmocka_unit_test(thresholds),
      cmocka_unit_test(available_reimport),
      cmocka_unit_test(envelope_json),
      cmocka_unit_test(event_source),
      cmocka_unit_test(endpoint_threshold),
      cmocka_unit_test(hostile_names),
      cmocka_unit_test(source_path_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
