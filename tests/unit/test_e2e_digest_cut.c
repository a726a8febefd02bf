/* The bounded form of a big batch event (certhub_lifecycle_batch_cut) and
 * the digest it renders to: the most urgent certificates that fit, the
 * total count, and "... and N more" with N the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "certhub/lifecycle.h"
#include "certhub/notify.h"
#include "certhub/notify_render.h"

#define KIB 1024

/* An envelope as the bus renders a schedule fire, with n certificates in
 * a scrambled days order (the cut must sort) and names of varying length
 * (entries of different sizes). */
static char *big_event(size_t n, size_t *len)
{
  json_t *certs = json_array();
  for(size_t i = 0; i < n; i++) {
    char id[17], cn[200], arn[128];
    long long days = (long long)((i * 7919) % 45);
    snprintf(id, sizeof(id), "%016zx", i);
    snprintf(cn, sizeof(cn), "host-%zu.%.*s.example", i, (int)(i % 90 + 1),
             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
             "lmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    snprintf(arn, sizeof(arn),
             "arn:certhub:acm:local:000000000000:certificate/%s", id);
    json_array_append_new(
        certs,
        json_pack("{ss ss ss sI ss ss ss? s[s]}", "Id", id, "Arn", arn,
                  "CommonName", cn, "DaysToExpiry", (json_int_t)days,
                  "NotAfter", "2027-01-01T00:00:00Z", "Issuer", "CN=Test CA",
                  "Owner", i % 3 ? "web" : NULL, "Sources", "/etc/ssl/x.pem"));
  }
  json_t *ev = json_pack(
      "{ss ss ss ss ss ss ss s[s] s{so sI ss}}", "version", "0", "id",
      "6f0e1c62-0000-4000-8000-000000000001", "detail-type", "Scheduled Event",
      "source", "aws.events", "account", "000000000000", "time",
      "2026-12-06T00:05:00Z", "region", "local", "resources",
      "arn:certhub:events:local:000000000000:rule/weekly-expiry-digest",
      "detail", "certificates", certs, "count", (json_int_t)n, "generatedAt",
      "2026-12-06T00:06:00Z");
  assert_non_null(ev);
  char *t = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(ev);
  assert_non_null(t);
  *len = strlen(t);
  return t;
}

static json_int_t days_of(const json_t *c)
{
  return json_integer_value(json_object_get(c, "DaysToExpiry"));
}

/* 5,000 certificates (~1.4 MB) cut to 256 KiB: within the limit, the k
 * most urgent in days order, the next one would not have fit, the total
 * kept, the envelope untouched. */
static void cut_keeps_most_urgent(void **state)
{
  (void)state;
  size_t len = 0, out_len = 0, listed = 0, n = 5000;
  char *ev = big_event(n, &len);
  assert_true(len > 4 * CERTHUB_MESSAGE_MAX);
  char *out = NULL;
  assert_int_equal(certhub_lifecycle_batch_cut(ev, len, CERTHUB_MESSAGE_MAX,
                                               &out, &out_len, &listed),
                   CH_OK);
  assert_non_null(out);
  assert_int_equal(strlen(out), out_len);
  assert_true(out_len <= CERTHUB_MESSAGE_MAX);
  assert_true(listed > 100 && listed < n);

  json_t *all = json_loads(ev, 0, NULL), *cut = json_loads(out, 0, NULL);
  assert_non_null(cut);
  const json_t *d = json_object_get(cut, "detail");
  const json_t *kept = json_object_get(d, "certificates");
  assert_int_equal(json_array_size(kept), listed);
  assert_int_equal(json_integer_value(json_object_get(d, "count")), n);
  assert_true(json_is_true(json_object_get(d, "truncated")));
  assert_string_equal(json_string_value(json_object_get(d, "generatedAt")),
                      "2026-12-06T00:06:00Z");
  assert_string_equal(json_string_value(json_object_get(cut, "detail-type")),
                      "Scheduled Event");
  assert_true(json_equal(json_object_get(cut, "resources"),
                         json_object_get(all, "resources")));

  /* the kept are the `listed` smallest DaysToExpiry (stable), and every
   * one left out is at least as late as the last kept */
  const json_t *src =
      json_object_get(json_object_get(all, "detail"), "certificates");
  size_t hist[64] = {0};
  for(size_t i = 0; i < json_array_size(src); i++)
    hist[days_of(json_array_get(src, i))]++;
  json_int_t last = days_of(json_array_get(kept, listed - 1));
  size_t before = 0;
  for(json_int_t x = 0; x < last; x++)
    before += hist[x];
  assert_true(before <= listed && listed <= before + hist[last]);
  for(size_t i = 1; i < listed; i++)
    assert_true(days_of(json_array_get(kept, i - 1)) <=
                days_of(json_array_get(kept, i)));
  /* stable: among equal days, the event's order */
  for(size_t i = 1; i < listed; i++)
    if(days_of(json_array_get(kept, i - 1)) ==
       days_of(json_array_get(kept, i)))
      assert_true(strcmp(json_string_value(json_object_get(
                             json_array_get(kept, i - 1), "Id")),
                         json_string_value(json_object_get(
                             json_array_get(kept, i), "Id"))) < 0);

  /* as many as fit: one more would be over the limit */
  size_t next_idx = (size_t)-1;
  for(size_t i = 0, seen = 0; i < json_array_size(src); i++) {
    const json_t *c = json_array_get(src, i);
    if(days_of(c) == last && ++seen == listed - before + 1) {
      next_idx = i;
      break;
    }
  }
  if(next_idx == (size_t)-1) /* the next is of a later day: the first */
    for(json_int_t x = last + 1; x < 64 && next_idx == (size_t)-1; x++)
      for(size_t i = 0; i < json_array_size(src); i++)
        if(days_of(json_array_get(src, i)) == x) {
          next_idx = i;
          break;
        }
  assert_true(next_idx != (size_t)-1);
  char *nt = json_dumps(json_array_get(src, next_idx), JSON_COMPACT);
  assert_true(out_len + 1 + strlen(nt) > CERTHUB_MESSAGE_MAX);
  free(nt);

  /* the digest of the cut says the total and how many more */
  certhub_render_opts o = {0};
  certhub_rendered r;
  char *why = NULL;
  assert_int_equal(certhub_render_event(out, out_len, &o, &r, &why), CH_OK);
  char want[128];
  snprintf(want, sizeof(want), "certhub digest: %zu certificates expiring", n);
  assert_non_null(strstr(r.subject, want));
  assert_int_equal(r.n_listed + r.n_omitted, n);
  snprintf(want, sizeof(want), "... and %zu more certificate", r.n_omitted);
  assert_non_null(strstr(r.text, want));
  assert_non_null(strstr(r.html, want));
  snprintf(want, sizeof(want), "%-30s %12zu", "TOTAL", n);
  assert_non_null(strstr(r.text, want));
  snprintf(want, sizeof(want), "%-30s %12zu", "(not in this message)",
           n - listed);
  assert_non_null(strstr(r.text, want));
  certhub_rendered_free(&r);
  free(why);

  json_decref(all);
  json_decref(cut);
  free(out);
  free(ev);
}

/* Small events are left alone; bad input is refused, not cut. */
static void cut_edges(void **state)
{
  (void)state;
  size_t len = 0, out_len = 7, listed = 9;
  char *ev = big_event(3, &len), *out = (char *)"x";
  assert_int_equal(certhub_lifecycle_batch_cut(ev, len, CERTHUB_MESSAGE_MAX,
                                               &out, &out_len, &listed),
                   CH_OK);
  assert_null(out);
  assert_int_equal(out_len, 0);
  assert_int_equal(listed, 3);
  /* envelope alone larger than the limit */
  assert_int_equal(
      certhub_lifecycle_batch_cut(ev, len, 100, &out, &out_len, &listed),
      CH_ERR_TOOBIG);
  assert_null(out);
  /* a limit that fits exactly one entry keeps one, most urgent */
  free(ev);
  ev = big_event(50, &len);
  assert_int_equal(
      certhub_lifecycle_batch_cut(ev, len, 900, &out, &out_len, &listed),
      CH_OK);
  assert_non_null(out);
  assert_true(out_len <= 900);
  json_t *j = json_loads(out, 0, NULL);
  const json_t *k =
      json_object_get(json_object_get(j, "detail"), "certificates");
  assert_int_equal(json_array_size(k), listed);
  assert_true(listed >= 1);
  assert_int_equal(days_of(json_array_get(k, 0)), 0);
  json_decref(j);
  free(out);
  /* truncated text, not JSON, no certificates array */
  assert_int_equal(
      certhub_lifecycle_batch_cut(ev, len / 2, 100, &out, &out_len, NULL),
      CH_ERR_PARSE);
  const char *nolist = "{\"detail\":{\"count\":3}}";
  assert_int_equal(certhub_lifecycle_batch_cut(nolist, strlen(nolist), 5, &out,
                                               &out_len, NULL),
                   CH_ERR_PARSE);
  assert_int_equal(
      certhub_lifecycle_batch_cut("[1,2]", 5, 2, &out, &out_len, NULL),
      CH_ERR_PARSE);
  assert_null(out);
  free(ev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cut_keeps_most_urgent),
      cmocka_unit_test(cut_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
