/* Lifecycle: managed renewal with real commands (shell scripts written
 * here): failure, timeout, success without a new certificate, a real
 * renewal; each milestone (45, 30, 15, 3, 1 days) attempted once. */
#include "test_lifecycle_util.h"

#define DT_REN CERTHUB_DT_RENEWAL_ACTION
#define DT_AVL CERTHUB_DT_AVAILABLE
#define DT_APP CERTHUB_DT_APPROACHING

static lrec rec;

static void script(lenv *e, const char *name, const char *body)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", e->dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "#!/bin/sh\n%s\n", body);
  fclose(f);
  assert_int_equal(chmod(path, 0755), 0);
}

static size_t lines_in(lenv *e, const char *name)
{
  char path[512], line[1024];
  size_t n = 0;
  snprintf(path, sizeof(path), "%s/%s", e->dir, name);
  FILE *f = fopen(path, "r");
  if(!f)
    return 0;
  while(fgets(line, sizeof(line), f))
    n++;
  fclose(f);
  return n;
}

/* A failing command: one Renewal Action Required per milestone, on the
 * milestone's day only, each attempt run once across restarts. */
static void milestones_failing(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t na = L_T0 + 50 * L_DAY + 8 * 3600;
  lcert(&e, "fail/site.pem", "fail.example", na);
  script(&e, "fail.sh",
         "echo \"$CERTHUB_CERT_ID $CERTHUB_CERT_SHA256 $CERTHUB_COMMON_NAME "
         "$CERTHUB_SOURCE $CERTHUB_DAYS_TO_EXPIRY\" >> \"$(dirname \"$0\")/"
         "fail.log\"\necho 'acme: rate limited' >&2\nexit 1");
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "sources:\n"
           "  - paths: [%s/fail]\n"
           "    renew_command: [%s/fail.sh]\n",
           e.dir, e.dir);
  lconfig(&e, yaml);
  limport(&e, "fail", L_T0);
  lfound f = lcert_find(&e, "fail.example", L_T0);
  int expected_days[] = {45, 30, 15, 3, 1};
  size_t k = 0, attempts = 0;
  for(int d = 0; d <= 52; d++) {
    int64_t now = L_T0 + d * L_DAY;
    int64_t left = certhub_days_to_expiry(na, now);
    for(int run = 0; run < 2; run++) {
      certhub_lifecycle_stats st;
      lrun(&e, &rec, now, false, &st);
      attempts += st.renewal_attempts;
      size_t ren = lcount(&rec, rec.mark, DT_REN, NULL);
      bool due = run == 0 && k < 5 && left == expected_days[k];
      if(ren != (due ? 1u : 0u))
        fail_msg("day %d run %d (%lld left): %zu renewal events", d, run,
                 (long long)left, ren);
      if(due) {
        const lrec_event *x = &rec.ev[rec.mark];
        char key[160], buf[64];
        snprintf(key, sizeof(key), "renewal:%s:%d", f.sha, expected_days[k]);
        for(size_t i = rec.mark; i < rec.n; i++)
          if(!strcmp(rec.ev[i].detail_type, DT_REN))
            x = &rec.ev[i];
        assert_string_equal(x->key, key);
        assert_string_equal(
            ldetail_str(x, "RenewalStatusReason", buf, sizeof(buf)),
            "COMMAND_FAILED");
        assert_int_equal(ldetail_int(x, "DaysToExpiry"), left);
        assert_string_equal(ldetail_str(x, "CommonName", buf, sizeof(buf)),
                            "fail.example");
        assert_int_equal(st.renewal_failures, 1);
        assert_true(st.warnings >= 1);
        k++;
      }
    }
  }
  assert_int_equal(k, 5);
  assert_int_equal(attempts, 5);
  assert_int_equal(lines_in(&e, "fail.log"), 5);
  /* The command saw its environment. */
  char want[512];
  snprintf(want, sizeof(want),
           "grep -qx '%s %s fail.example %s/fail/site.pem 45' "
           "'%s/fail.log'",
           f.id, f.sha, e.dir, e.dir);
  lsh("%s", want);
  lenv_free(&e);
}

/* Timeout, no new certificate, a missing program, and a real renewal. */
static void outcomes(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t now = L_T0;
  int64_t na = L_T0 + 45 * L_DAY + 3600; /* 45 days left: a milestone */
  lcert(&e, "hang/site.pem", "hang.example", na);
  lcert(&e, "noop/site.pem", "noop.example", na);
  lcert(&e, "gone/site.pem", "gone.example", na);
  lcert(&e, "good/site.pem", "good.example", na);
  script(&e, "hang.sh", "sleep 30");
  script(&e, "noop.sh", "echo nothing to do");
  char body[1024];
  snprintf(body, sizeof(body),
           "'%s' --cn \"$CERTHUB_COMMON_NAME\" --san "
           "\"DNS:$CERTHUB_COMMON_NAME\" --not-before @%lld --not-after "
           "@%lld -o \"$CERTHUB_SOURCE.tmp\" && mv \"$CERTHUB_SOURCE.tmp\" "
           "\"$CERTHUB_SOURCE\"",
           lgen(), (long long)(now - L_DAY), (long long)(now + 90 * L_DAY));
  script(&e, "good.sh", body);
  char yaml[2048];
  snprintf(yaml, sizeof(yaml),
           "sources:\n"
           "  - paths: [%s/hang]\n"
           "    renew_command: [%s/hang.sh]\n"
           "    renew_timeout: 300ms\n"
           "  - paths: [%s/noop]\n"
           "    renew_command: \"%s/noop.sh && true\"\n"
           "  - paths: [%s/gone]\n"
           "    renew_command: [%s/does-not-exist]\n"
           "  - paths: [%s/good]\n"
           "    renew_command: [%s/good.sh]\n"
           "    tags: {owner: web}\n",
           e.dir, e.dir, e.dir, e.dir, e.dir, e.dir, e.dir, e.dir);
  lconfig(&e, yaml);
  limport(&e, "hang", now);
  limport(&e, "noop", now);
  limport(&e, "gone", now);
  limport(&e, "good", now);
  lfound hang = lcert_find(&e, "hang.example", now);
  lfound noop = lcert_find(&e, "noop.example", now);
  lfound gone = lcert_find(&e, "gone.example", now);
  lfound old = lcert_find(&e, "good.example", now);

  /* A dry run runs nothing. */
  certhub_lifecycle_stats st;
  lrun(&e, &rec, now, true, &st);
  assert_int_equal(st.renewal_attempts, 0);
  assert_int_equal(lcount(&rec, 0, DT_REN, NULL), 0);
  assert_non_null(lfind(&rec, DT_APP, old.sha));

  memset(&rec, 0, sizeof(rec)); /* a fresh bus: the dry run stored nothing */
  lrun(&e, &rec, now, false, &st);
  assert_int_equal(st.renewal_attempts, 4);
  assert_int_equal(st.renewal_failures, 3);
  char buf[64];
  const lrec_event *x = lfind(&rec, DT_REN, hang.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "RenewalStatusReason", buf, sizeof(buf)),
                      "COMMAND_TIMEOUT");
  x = lfind(&rec, DT_REN, noop.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "RenewalStatusReason", buf, sizeof(buf)),
                      "NO_NEW_CERTIFICATE");
  x = lfind(&rec, DT_REN, gone.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "RenewalStatusReason", buf, sizeof(buf)),
                      "COMMAND_NOT_RUN");
  /* The renewed one: no Renewal event, no Approaching for the old one,
   * and the new one is Available with Action RENEWAL. */
  assert_null(lfind(&rec, DT_REN, old.sha));
  assert_null(lfind(&rec, DT_APP, old.sha));
  lfound nw = lcert_find(&e, "good.example", now);
  assert_string_not_equal(nw.sha, old.sha);
  assert_int_equal(nw.days, 90);
  x = lfind(&rec, DT_AVL, nw.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "Action", buf, sizeof(buf)), "RENEWAL");
  /* The re-import used the source's tags (owner=web). */
  certhub_tag owner = {"owner", "web"};
  certhub_filter flt = {.tags = &owner, .n_tags = 1};
  lfound tagged = {.cn = "good.example"};
  assert_int_equal(certhub_store_list(e.s, &flt, now, lfind_cb, &tagged),
                   CH_OK);
  assert_int_equal(tagged.n, 1);
  assert_string_equal(tagged.sha, nw.sha);
  json_t *b = NULL;
  /* Within the batch nothing is from the renewed source any more. */
  assert_int_equal(certhub_lifecycle_batch(e.s, e.c, now, &b), CH_OK);
  assert_int_equal(json_integer_value(json_object_get(b, "count")), 3);
  json_decref(b);

  /* The same day again: nothing re-run (one attempt per milestone). */
  lrun(&e, &rec, now + 3600, false, &st);
  assert_int_equal(st.renewal_attempts, 0);
  assert_int_equal(st.emitted[CERTHUB_LC_RENEWAL_ACTION], 0);
  /* The new certificate keeps its RENEWAL action when evaluated later. */
  assert_int_equal(lcount(&rec, 0, DT_AVL, nw.sha), 1);
  lenv_free(&e);
}

/* One command renewing every certificate of its source (certbot renew):
 * the second certificate is seen as replaced and its command not run. */
static void renew_all_at_once(void **state)
{
  (void)state;
  lenv e;
  lenv_make(&e);
  memset(&rec, 0, sizeof(rec));
  int64_t now = L_T0;
  int64_t na = L_T0 + 30 * L_DAY + 3600;
  lcert(&e, "all/a.pem", "a.example", na);
  lcert(&e, "all/b.pem", "b.example", na + 60);
  char body[2048];
  snprintf(body, sizeof(body),
           "for n in a b; do '%s' --cn $n.example --san DNS:$n.example "
           "--not-before @%lld --not-after @%lld -o %s/all/$n.pem || exit "
           "1; done; echo run >> %s/all.log",
           lgen(), (long long)(now - L_DAY), (long long)(now + 90 * L_DAY),
           e.dir, e.dir);
  script(&e, "all.sh", body);
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "sources:\n"
           "  - paths: [%s/all]\n"
           "    renew_command: [%s/all.sh]\n",
           e.dir, e.dir);
  lconfig(&e, yaml);
  limport(&e, "all", now);
  lfound a = lcert_find(&e, "a.example", now);
  lfound b = lcert_find(&e, "b.example", now);
  certhub_lifecycle_stats st;
  lrun(&e, &rec, now, false, &st);
  assert_int_equal(st.renewal_attempts, 1);
  assert_int_equal(st.renewal_failures, 0);
  assert_int_equal(lines_in(&e, "all.log"), 1);
  assert_null(lfind(&rec, DT_APP, a.sha));
  assert_null(lfind(&rec, DT_APP, b.sha));
  assert_null(lfind(&rec, DT_REN, NULL));
  lfound na2 = lcert_find(&e, "a.example", now);
  lfound nb2 = lcert_find(&e, "b.example", now);
  char buf[64];
  const lrec_event *x = lfind(&rec, DT_AVL, na2.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "Action", buf, sizeof(buf)), "RENEWAL");
  /* b was renewed too, but not by its own attempt: a re-import. */
  lrun(&e, &rec, now + 60, false, &st);
  x = lfind(&rec, DT_AVL, nb2.sha);
  assert_non_null(x);
  assert_string_equal(ldetail_str(x, "Action", buf, sizeof(buf)), "REIMPORT");
  assert_int_equal(st.renewal_attempts, 0);
  lenv_free(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(milestones_failing),
      cmocka_unit_test(outcomes),
      cmocka_unit_test(renew_all_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
