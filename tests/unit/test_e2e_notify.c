/*
 * From the inventory to a readable notification, with real parts: a
 * SQLite store, certificates made by certhub-gen and imported with an
 * owner tag, lifecycle evaluation producing the events (rendered into
 * their EventBridge envelopes by the bus), the weekly batch detail, and
 * the renderer looking owner, issuer and sources up in the store.
 */
#include "test_lifecycle_util.h"

#include "certhub/bus.h"
#include "certhub/event.h"
#include "certhub/notify_render.h"

/* A sink keeping each event's envelope, as the bus would route it. */
typedef struct envs {
  char *v[64];
  char dt[64][64];
  size_t n;
} envs;

static ch_err keep_envelope(void *ctx, const certhub_event *ev, bool *stored)
{
  envs *e = ctx;
  char id[37], *env = NULL, *err = NULL;
  if(certhub_bus_render(ev, L_T0, id, &env, &err))
    fail_msg("bus render: %s", err ? err : "?");
  assert_true(e->n < 64);
  snprintf(e->dt[e->n], sizeof(e->dt[0]), "%s", ev->detail_type);
  e->v[e->n++] = env;
  *stored = true;
  return CH_OK;
}

static void import_owned(lenv *e, const char *rel, const char *owner)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
  const char *paths[] = {path};
  const char *keys[] = {"owner"}, *vals[] = {owner};
  certhub_import_opts o = {.now = L_T0};
  if(owner) {
    o.labels.tag_keys = keys;
    o.labels.tag_values = vals;
    o.labels.n_tags = 1;
  }
  certhub_import_stats st = {0};
  if(certhub_import(e->s, paths, 1, &o, &st))
    fail_msg("import %s: %s", path, certhub_store_errmsg(e->s));
}

static void test_event_from_the_inventory(void **state)
{
  (void)state;
  lenv e;
  envs got = {0};
  lenv_make(&e);
  /* 14 days and 2 hours left at L_T0: 14 days to expiry */
  lcert(&e, "site/www.pem", "www.example.com", L_T0 + 14 * L_DAY + 7200);
  lcert(&e, "site/api.pem", "api.example.com", L_T0 + 30 * L_DAY);
  lcert(&e, "other/x.pem", "x.example.com", L_T0 + 5 * L_DAY);
  import_owned(&e, "site/www.pem", "web-team");
  import_owned(&e, "site/api.pem", "api-team");
  import_owned(&e, "other/x.pem", NULL);
  lconfig(&e, "expiry_threshold_days: 45\n");
  certhub_event_sink sink = {.ctx = &got, .put = keep_envelope};
  certhub_lifecycle_opts lo = {.now = L_T0, .dry_run = true};
  certhub_lifecycle_stats ls;
  if(certhub_lifecycle_evaluate(e.s, e.c, &lo, &sink, &ls))
    fail_msg("evaluate: %s", certhub_store_errmsg(e.s));
  const char *www = NULL;
  for(size_t i = 0; i < got.n; i++)
    if(!strcmp(got.dt[i], CERTHUB_DT_APPROACHING) &&
       strstr(got.v[i], "www.example.com"))
      www = got.v[i];
  assert_non_null(www);

  certhub_render_opts o = {.lookup = certhub_render_store_lookup,
                           .lookup_ctx = e.s,
                           .base_url = "https://certhub.example.net:8443"};
  certhub_rendered r;
  char *why = NULL;
  if(certhub_render_event(www, strlen(www), &o, &r, &why))
    fail_msg("render: %s", why ? why : "?");
  char want[256], date[32];
  certhub_time_format(L_T0 + 14 * L_DAY + 7200, date, sizeof(date));
  snprintf(want, sizeof(want),
           "Certificate www.example.com expires in 14 days (%.10s)", date);
  assert_string_equal(r.subject, want);
  /* from the store: owner, the source file, the id in the link */
  char src[512];
  snprintf(src, sizeof(src), "%s/site/www.pem", e.dir);
  if(!strstr(r.text, "Owner          web-team") || !strstr(r.text, src) ||
     !strstr(r.text, "Issuer ") ||
     !strstr(r.text, "https://certhub.example.net:8443/certificates/"))
    fail_msg("text lacks inventory data:\n%s", r.text);
  /* the link's id is the certificate's short id */
  int64_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(certhub_store_resolve(e.s, src, &ids, &n), CH_OK);
  assert_int_equal(n, 1);
  json_t *ev = json_loads(www, 0, NULL);
  const char *arn =
      json_string_value(json_array_get(json_object_get(ev, "resources"), 0));
  char id[17], link[128];
  assert_true(certhub_render_arn_id(arn, id));
  snprintf(link, sizeof(link), "/certificates/%s\n", id);
  assert_non_null(strstr(r.text, link));
  json_decref(ev);
  free(ids);
  certhub_rendered_free(&r);

  /* the weekly digest from the real batch detail */
  json_t *detail = NULL;
  assert_int_equal(certhub_lifecycle_batch(e.s, e.c, L_T0, &detail), CH_OK);
  json_t *env =
      json_pack("{ss ss ss ss s[] sO}", "id", "d", "detail-type",
                CERTHUB_DT_SCHEDULED, "source", "aws.events", "time",
                "2026-01-04T00:05:00Z", "resources", "detail", detail);
  char *txt = json_dumps(env, JSON_COMPACT);
  if(certhub_render_event(txt, strlen(txt), &o, &r, &why))
    fail_msg("render digest: %s", why ? why : "?");
  assert_string_equal(r.subject, "certhub digest: 3 certificates expiring, "
                                 "the soonest in 5 days (x.example.com)");
  const char *web = strstr(r.text, "== web-team (1) ==");
  const char *api = strstr(r.text, "== api-team (1) ==");
  const char *none = strstr(r.text, "== (no owner) (1) ==");
  if(!web || !api || !none || !(none < web && web < api))
    fail_msg("groups not in urgency order:\n%s", r.text);
  assert_non_null(
      strstr(r.text, "  TOTAL                                     3"));
  certhub_rendered_free(&r);
  free(txt);
  json_decref(env);
  json_decref(detail);
  for(size_t i = 0; i < got.n; i++)
    free(got.v[i]);
  lenv_free(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_from_the_inventory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
