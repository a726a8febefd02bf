/*
 * The event bus against a real SQLite store in a temp dir: put (envelope,
 * dedupe, validation of every field), buses, rules, routing (idempotent,
 * fault injection), schedules (once, no back-fill, disabled), dispatch
 * (delivered, retry with backoff, max attempts, max age, dead letters,
 * drop), redrive, purge, prune, next_due.
 */
#include "test_store_util.h"

#include <jansson.h>

#include "certhub/bus.h"
#include "certhub/pattern.h"

typedef struct fx {
  tdir d;
  certhub_store *s;
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof(*f));
  tdir_make(&f->d);
  f->s = t_open(f->d.db);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  certhub_store_close(f->s);
  tdir_remove(&f->d);
  free(f);
  return 0;
}

static int64_t q_int(certhub_store *s, const char *sql)
{
  char *v = t_query(s, sql);
  int64_t n = v ? strtoll(v, NULL, 10) : -1;
  free(v);
  return n;
}

static void put_ok(certhub_store *s, const certhub_event *ev, int64_t now,
                   char id[37])
{
  bool stored = false;
  ch_err rc = certhub_bus_put(s, ev, now, id, &stored);
  if(rc)
    fail_msg("put: %s", certhub_store_errmsg(s));
  assert_true(stored);
}

static void put_err(certhub_store *s, const certhub_event *ev, ch_err want,
                    const char *msg)
{
  char id[37];
  bool stored = true;
  ch_err rc = certhub_bus_put(s, ev, T_NOW, id, &stored);
  assert_int_equal(rc, want);
  if(!strstr(certhub_store_errmsg(s), msg))
    fail_msg("error '%s' lacks '%s'", certhub_store_errmsg(s), msg);
}

static void rule_ok(certhub_store *s, const char *bus, const char *name,
                    const char *pattern, const char *schedule,
                    const char *targets, int64_t now)
{
  certhub_bus_rule r = {.bus = bus,
                        .name = name,
                        .pattern = pattern,
                        .schedule = schedule,
                        .enabled = true,
                        .targets = targets};
  ch_err rc = certhub_bus_rule_put(s, &r, now, NULL, NULL, NULL);
  if(rc)
    fail_msg("rule put %s: %s", name, certhub_store_errmsg(s));
}

static void rule_err(certhub_store *s, const certhub_bus_rule *r,
                     const char *msg)
{
  ch_err rc = certhub_bus_rule_put(s, r, T_NOW, NULL, NULL, NULL);
  assert_int_not_equal(rc, CH_OK);
  if(!strstr(certhub_store_errmsg(s), msg))
    fail_msg("error '%s' lacks '%s'", certhub_store_errmsg(s), msg);
}

/* ---- put -----------------------------------------------------------------
 */

static void test_put_envelope(void **state)
{
  fx *f = *state;
  const char *res[] = {"arn:aws:acm:us-east-1:123456789012:certificate/x"};
  certhub_event ev = {.id = "9c95e8e4-96a4-ef3f-b739-b6aa5b193afb",
                      .source = "aws.acm",
                      .detail_type = CERTHUB_DT_APPROACHING,
                      .account = "123456789012",
                      .region = "us-east-1",
                      .time = 1601448668,
                      .resources = res,
                      .n_resources = 1,
                      .detail = "{ \"DaysToExpiry\": 31,"
                                " \"CommonName\": \"example.com\" }"};
  char id[37];
  put_ok(f->s, &ev, T_NOW, id);
  assert_string_equal(id, ev.id);
  /* The sample's key order, compact. */
  t_query_eq(
      f->s, "SELECT envelope FROM events",
      "{\"version\":\"0\",\"id\":\"9c95e8e4-96a4-ef3f-b739-b6aa5b193afb\","
      "\"detail-type\":\"ACM Certificate Approaching Expiration\","
      "\"source\":\"aws.acm\",\"account\":\"123456789012\","
      "\"time\":\"2020-09-30T06:51:08Z\",\"region\":\"us-east-1\","
      "\"resources\":[\"arn:aws:acm:us-east-1:123456789012:certificate/x\"],"
      "\"detail\":{\"DaysToExpiry\":31,\"CommonName\":\"example.com\"}}");
  t_query_eq(f->s,
             "SELECT bus || '|' || routed || '|' || ingested_at FROM events",
             "default|0|1795428000");

  /* Generated ids are UUID v4, distinct; defaults for the rest. */
  certhub_event e2 = {.source = "s", .detail_type = "t"};
  char a[37], b[37];
  put_ok(f->s, &e2, T_NOW, a);
  put_ok(f->s, &e2, T_NOW, b);
  assert_int_equal(strlen(a), 36);
  assert_int_equal(a[14], '4');
  assert_true(strchr("89ab", a[19]) != NULL);
  assert_string_not_equal(a, b);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "SELECT json_extract(envelope, '$.time') || json_extract(envelope,"
           " '$.account') || json_extract(envelope, '$.region') FROM events"
           " WHERE id = '%s'",
           a);
  t_query_eq(f->s, sql, "2026-11-23T10:00:00Z000000000000local");
  /* A duplicate explicit id is an error, not a silent drop. */
  bool stored;
  char id3[37];
  assert_int_equal(certhub_bus_put(f->s, &ev, T_NOW, id3, &stored),
                   CH_ERR_EXISTS);
}

static void test_put_dedupe(void **state)
{
  fx *f = *state;
  certhub_event ev = {.source = "certhub.acm",
                      .detail_type = CERTHUB_DT_EXPIRED,
                      .detail = "{}",
                      .dedupe_key = "expired:abc:2026-11-23"};
  char id[37];
  bool stored = true;
  put_ok(f->s, &ev, T_NOW, id);
  assert_int_equal(certhub_bus_put(f->s, &ev, T_NOW + 5, id, &stored), CH_OK);
  assert_false(stored);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 1);
  /* Inside a caller's transaction: rolled back with it. */
  certhub_event e2 = ev;
  e2.dedupe_key = "expired:abc:2026-11-24";
  assert_int_equal(certhub_store_begin(f->s), CH_OK);
  put_ok(f->s, &e2, T_NOW, id);
  assert_int_equal(certhub_store_rollback(f->s), CH_OK);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 1);
  assert_int_equal(certhub_store_begin(f->s), CH_OK);
  put_ok(f->s, &e2, T_NOW, id);
  assert_int_equal(certhub_store_commit(f->s), CH_OK);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 2);
}

static void test_put_validation(void **state)
{
  fx *f = *state;
  certhub_event ok = {.source = "s", .detail_type = "t", .detail = "{}"};
  certhub_event ev = ok;
  ev.source = NULL;
  put_err(f->s, &ev, CH_ERR_PARSE, "Source is required");
  ev.source = "";
  put_err(f->s, &ev, CH_ERR_PARSE, "Source is required");
  ev.source = "\xff\xfe";
  put_err(f->s, &ev, CH_ERR_PARSE, "Source is not valid UTF-8");
  ev = ok;
  ev.detail_type = "";
  put_err(f->s, &ev, CH_ERR_PARSE, "DetailType is required");
  /* PutEvents' limits count characters: 128 two-byte ones pass. */
  char lim[4 * 257 + 1];
  for(int i = 0; i < 128; i++)
    memcpy(lim + 2 * i, "\xc3\xa9", 2);
  lim[256] = '\0';
  ev.detail_type = lim;
  char lim_id[37];
  put_ok(f->s, &ev, T_NOW, lim_id);
  memcpy(lim + 256, "x", 2);
  put_err(f->s, &ev, CH_ERR_PARSE, "DetailType is longer than 128 characters");
  ev = ok;
  memset(lim, 's', 256);
  lim[256] = '\0';
  ev.source = lim;
  put_ok(f->s, &ev, T_NOW, lim_id);
  memcpy(lim + 256, "s", 2);
  put_err(f->s, &ev, CH_ERR_PARSE, "Source is longer than 256 characters");
  ev = ok;
  ev.detail = "{\"a\":";
  put_err(f->s, &ev, CH_ERR_PARSE, "Detail is not valid JSON");
  ev.detail = "[1,2]";
  put_err(f->s, &ev, CH_ERR_PARSE, "Detail must be a JSON object");
  ev.detail = "{\"a\":1,\"a\":2}";
  put_err(f->s, &ev, CH_ERR_PARSE, "duplicate");
  ev = ok;
  const char *res[] = {"arn:1", NULL};
  ev.resources = res;
  ev.n_resources = 2;
  put_err(f->s, &ev, CH_ERR_PARSE, "Resources must be strings");
  ev = ok;
  ev.bus = "nope";
  put_err(f->s, &ev, CH_ERR_NOTFOUND, "no event bus 'nope'");
  ev.bus = "bad name";
  put_err(f->s, &ev, CH_ERR_PARSE, "EventBusName");
  ev = ok;
  ev.id = "not a uuid!";
  put_err(f->s, &ev, CH_ERR_PARSE, "Id must be");

  /* Size: a detail just under the limit passes, one whole entry over it
   * fails; a 1 MB detail is refused before parsing. */
  size_t big = CERTHUB_EVENT_MAX_LEN;
  char *d = malloc(big + 64);
  memcpy(d, "{\"x\":\"", 6);
  memset(d + 6, 'a', big - 300);
  memcpy(d + 6 + big - 300, "\"}", 3);
  ev = ok;
  ev.detail = d;
  char id[37];
  put_ok(f->s, &ev, T_NOW, id);
  memset(d + 6, 'a', big - 100);
  memcpy(d + 6 + big - 100, "\"}", 3);
  put_err(f->s, &ev, CH_ERR_TOOBIG, "larger than the entry limit");
  free(d);
  d = malloc(1 << 20);
  memset(d, ' ', (1 << 20) - 1);
  d[0] = '{';
  d[(1 << 20) - 2] = '}';
  d[(1 << 20) - 1] = '\0';
  ev.detail = d;
  put_err(f->s, &ev, CH_ERR_TOOBIG, "Detail is larger");
  /* Deeply nested: jansson's depth limit answers, no stack overflow. */
  size_t depth = 100000;
  char *nest = malloc(2 * depth + 16);
  size_t n = 0;
  nest[n++] = '{';
  memcpy(nest + n, "\"a\":", 4);
  n += 4;
  for(size_t i = 0; i < depth; i++)
    nest[n++] = '[';
  for(size_t i = 0; i < depth; i++)
    nest[n++] = ']';
  nest[n++] = '}';
  nest[n] = '\0';
  ev.detail = nest;
  put_err(f->s, &ev, CH_ERR_PARSE, "Detail is not valid JSON");
  free(nest);
  free(d);
  /* the two at the length limits and the one just under the size cap */
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 3);
}

/* ---- buses and rules ------------------------------------------------------
 */

static void test_buses(void **state)
{
  fx *f = *state;
  assert_int_equal(certhub_bus_create(f->s, "ops/certs", T_NOW), CH_OK);
  assert_int_equal(certhub_bus_create(f->s, "ops/certs", T_NOW),
                   CH_ERR_EXISTS);
  assert_int_equal(certhub_bus_create(f->s, "default", T_NOW), CH_ERR_EXISTS);
  assert_int_equal(certhub_bus_create(f->s, "a b", T_NOW), CH_ERR_PARSE);
  char longname[300];
  memset(longname, 'x', 257);
  longname[257] = '\0';
  assert_int_equal(certhub_bus_create(f->s, longname, T_NOW), CH_ERR_PARSE);
  longname[256] = '\0';
  assert_int_equal(certhub_bus_create(f->s, longname, T_NOW), CH_OK);
  rule_ok(f->s, "ops/certs", "r1", "{}", NULL, NULL, T_NOW);
  assert_int_equal(certhub_bus_delete(f->s, "ops/certs"), CH_ERR_EXISTS);
  assert_non_null(strstr(certhub_store_errmsg(f->s), "1 rule"));
  assert_int_equal(certhub_bus_delete(f->s, "default"), CH_ERR_USAGE);
  assert_int_equal(certhub_store_rule_delete(f->s, "ops/certs", "r1"), CH_OK);
  assert_int_equal(certhub_bus_delete(f->s, "ops/certs"), CH_OK);
  assert_int_equal(certhub_bus_delete(f->s, "ops/certs"), CH_ERR_NOTFOUND);
  char *arn = certhub_bus_rule_arn(NULL, NULL, "ops", "r");
  assert_string_equal(arn, "arn:certhub:events:local:000000000000:rule/ops/r");
  free(arn);
  arn = certhub_bus_rule_arn("eu-west-1", "123456789012", "default", "r");
  assert_string_equal(arn, "arn:certhub:events:eu-west-1:123456789012:rule/r");
  free(arn);
}

static ch_err reject_webhook(void *ctx, const char *target, char **errmsg)
{
  (void)ctx;
  if(strstr(target, "\"webhook\"")) {
    *errmsg = strdup("webhook needs \"Url\"");
    return CH_ERR_PARSE;
  }
  return CH_OK;
}

static void test_rule_validation(void **state)
{
  fx *f = *state;
  certhub_bus_rule r = {.name = "r", .pattern = "{}", .enabled = true};
  certhub_bus_rule x = r;
  x.name = "bad name";
  rule_err(f->s, &x, "rule name 'bad name' is invalid");
  x = r;
  x.schedule = "rate(5 minutes)";
  rule_err(f->s, &x, "exactly one of");
  x.pattern = NULL;
  x.schedule = NULL;
  rule_err(f->s, &x, "exactly one of");
  x = r;
  x.pattern = "{\"source\":\"x\"}";
  rule_err(f->s, &x, "invalid event pattern: pattern field 'source'");
  x = r;
  x.pattern = NULL;
  x.schedule = "cron(0 0 32 * ? *)";
  rule_err(f->s, &x, "day-of-month '32'");
  x = r;
  x.bus = "nobus";
  rule_err(f->s, &x, "no event bus 'nobus'");
  x = r;
  x.targets = "[{\"Id\":\"a\",\"Type\":\"file\"},{\"Id\":\"a\",\"Type\":"
              "\"file\"}]";
  rule_err(f->s, &x, "duplicate target Id 'a'");
  x.targets = "{\"Id\":\"a\"}";
  rule_err(f->s, &x, "targets must be a JSON array");
  x.targets = "[{\"Id\":\"a\"";
  rule_err(f->s, &x, "targets are not valid JSON");
  x.targets = "[{\"Type\":\"file\"}]";
  rule_err(f->s, &x, "needs \"Id\"");
  x.targets = "[{\"Id\":\"a\"}]";
  rule_err(f->s, &x, "\"Type\" must be");
  x.targets = "[{\"Id\":\"a\",\"Type\":\"f\",\"RetryPolicy\":"
              "{\"MaximumRetryAttempts\":186}}]";
  rule_err(f->s, &x, "MaximumRetryAttempts must be an integer in 0-185");
  x.targets = "[{\"Id\":\"a\",\"Type\":\"f\",\"RetryPolicy\":"
              "{\"MaximumEventAgeInSeconds\":59}}]";
  rule_err(f->s, &x,
           "MaximumEventAgeInSeconds must be an integer in 60-86400");
  x.targets = "[{\"Id\":\"a\",\"Type\":\"f\",\"RetryPolicy\":{\"Max\":1}}]";
  rule_err(f->s, &x, "unknown key 'Max'");
  x.targets = "[{\"Id\":\"a\",\"Type\":\"f\",\"DeadLetterConfig\":\"x\"}]";
  rule_err(f->s, &x, "DeadLetterConfig");
  x.targets = "[{\"Id\":\"1\",\"Type\":\"f\"},{\"Id\":\"2\",\"Type\":\"f\"},"
              "{\"Id\":\"3\",\"Type\":\"f\"},{\"Id\":\"4\",\"Type\":\"f\"},"
              "{\"Id\":\"5\",\"Type\":\"f\"},{\"Id\":\"6\",\"Type\":\"f\"}]";
  rule_err(f->s, &x, "more than 5 targets");
  x.targets = "[{\"Id\":\"w\",\"Type\":\"webhook\"}]";
  assert_int_equal(
      certhub_bus_rule_put(f->s, &x, T_NOW, reject_webhook, NULL, NULL),
      CH_ERR_PARSE);
  assert_non_null(
      strstr(certhub_store_errmsg(f->s), "target 'w': webhook needs"));
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM rules"), 0);

  /* Create, then update keeps created. */
  bool created = false;
  x.targets = "[ {\"Id\":\"w\", \"Type\":\"file\"} ]";
  assert_int_equal(
      certhub_bus_rule_put(f->s, &x, T_NOW, reject_webhook, NULL, &created),
      CH_OK);
  assert_true(created);
  assert_int_equal(
      certhub_bus_rule_put(f->s, &x, T_NOW + 9, NULL, NULL, &created), CH_OK);
  assert_false(created);
  t_query_eq(f->s,
             "SELECT created || '|' || updated || '|' || targets || '|' ||"
             " managed_by FROM rules",
             "1795428000|1795428009|[{\"Id\":\"w\",\"Type\":\"file\"}]|cli");
}

/* ---- routing --------------------------------------------------------------
 */

#define T2                                                                    \
  "[{\"Id\":\"a\",\"Type\":\"file\"},{\"Id\":\"b\",\"Type\":\"file\"}]"

static void test_route(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "acm", "{\"source\":[\"certhub.acm\"]}", NULL, T2,
          T_NOW);
  rule_ok(f->s, NULL, "expired",
          "{\"detail-type\":[\"ACM Certificate Expired\"]}", NULL,
          "[{\"Id\":\"x\",\"Type\":\"file\"}]", T_NOW);
  rule_ok(f->s, NULL, "off", "{}", NULL, "[{\"Id\":\"x\",\"Type\":\"f\"}]",
          T_NOW);
  assert_int_equal(certhub_bus_rule_enable(f->s, NULL, "off", false, T_NOW),
                   CH_OK);
  assert_int_equal(certhub_bus_create(f->s, "other", T_NOW), CH_OK);
  rule_ok(f->s, "other", "all", "{}", NULL, "[{\"Id\":\"x\",\"Type\":\"f\"}]",
          T_NOW);

  certhub_event ev = {.source = "certhub.acm",
                      .detail_type = CERTHUB_DT_EXPIRED};
  char id[37];
  put_ok(f->s, &ev, T_NOW, id);
  ev.source = "other";
  put_ok(f->s, &ev, T_NOW, id); /* only "expired" */
  ev.detail_type = "nothing";
  put_ok(f->s, &ev, T_NOW, id); /* no rule */

  certhub_bus_stats st = {0};
  assert_int_equal(certhub_bus_route(f->s, T_NOW, &st), CH_OK);
  assert_int_equal(st.routed, 3);
  assert_int_equal(st.matched, 3);
  assert_int_equal(st.enqueued, 4);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT event_seq || ':' ||"
             " rule || ':' || target_id AS x FROM outbox ORDER BY id)",
             "1:acm:a 1:acm:b 1:expired:x 2:expired:x");
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE routed=0"),
                   0);

  /* Route again: nothing. A crash after the outbox rows but before the
   * routed mark (simulated by clearing it): still no duplicates. */
  memset(&st, 0, sizeof(st));
  assert_int_equal(certhub_bus_route(f->s, T_NOW, &st), CH_OK);
  assert_int_equal(st.routed, 0);
  free(t_query(f->s, "UPDATE events SET routed = 0"));
  assert_int_equal(certhub_bus_route(f->s, T_NOW, &st), CH_OK);
  assert_int_equal(st.routed, 3);
  assert_int_equal(st.enqueued, 0);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 4);

  /* Fault injection: inserting into the outbox fails mid-batch; the batch
   * rolls back whole (events stay unrouted), the error is clean, and the
   * next run routes them. */
  ev.source = "certhub.acm";
  put_ok(f->s, &ev, T_NOW, id);
  put_ok(f->s, &ev, T_NOW, id);
  free(t_query(f->s, "CREATE TEMP TRIGGER boom BEFORE INSERT ON outbox"
                     " WHEN NEW.event_seq = 5 BEGIN"
                     " SELECT RAISE(ABORT, 'injected'); END"));
  assert_int_not_equal(certhub_bus_route(f->s, T_NOW, NULL), CH_OK);
  assert_non_null(strstr(certhub_store_errmsg(f->s), "injected"));
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE routed=0"),
                   2);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 4);
  free(t_query(f->s, "DROP TRIGGER boom"));
  assert_int_equal(certhub_bus_route(f->s, T_NOW, NULL), CH_OK);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 8);

  /* Read-only database: put fails cleanly. */
  free(t_query(f->s, "PRAGMA query_only = ON"));
  bool stored = true;
  assert_int_not_equal(certhub_bus_put(f->s, &ev, T_NOW, id, &stored), CH_OK);
  assert_false(stored);
  free(t_query(f->s, "PRAGMA query_only = OFF"));
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 5);
}

/* Many events: more than one batch, every one routed once. */
static void test_route_batches(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "all", "{}", NULL, "[{\"Id\":\"x\",\"Type\":\"f\"}]",
          T_NOW);
  certhub_event ev = {.source = "s", .detail_type = "t"};
  char id[37];
  assert_int_equal(certhub_store_begin(f->s), CH_OK);
  for(int i = 0; i < 1050; i++)
    put_ok(f->s, &ev, T_NOW, id);
  assert_int_equal(certhub_store_commit(f->s), CH_OK);
  certhub_bus_stats st = {0};
  assert_int_equal(certhub_bus_route(f->s, T_NOW, &st), CH_OK);
  assert_int_equal(st.routed, 1050);
  assert_int_equal(q_int(f->s, "SELECT count(DISTINCT event_seq) FROM outbox"),
                   1050);
}

/* ---- schedules ------------------------------------------------------------
 */

static ch_err weekly_detail(void *ctx, const char *rule, const char *bus,
                            char **detail)
{
  int *calls = ctx;
  (*calls)++;
  (void)bus;
  *detail = strdup(strcmp(rule, "weekly") ? "{}" : "{\"Expiring\":3}");
  return CH_OK;
}

static void test_schedules(void **state)
{
  fx *f = *state;
  const int64_t hour = 3600;
  int64_t t0 = T_NOW + 600; /* 10:10 */
  rule_ok(f->s, NULL, "hourly", NULL, "rate(1 hour)",
          "[{\"Id\":\"h\",\"Type\":\"f\"}]", t0);
  rule_ok(f->s, NULL, "weekly", NULL, "cron(0 8 ? * MON *)",
          "[{\"Id\":\"w\",\"Type\":\"f\"}]", t0);
  rule_ok(f->s, NULL, "off", NULL, "rate(1 minute)",
          "[{\"Id\":\"o\",\"Type\":\"f\"}]", t0);
  rule_ok(f->s, NULL, "everything", "{}", NULL,
          "[{\"Id\":\"e\",\"Type\":\"f\"}]", t0);
  assert_int_equal(certhub_bus_rule_enable(f->s, NULL, "off", false, t0),
                   CH_OK);
  t_query_eq(f->s, "SELECT next_fire FROM rules WHERE name = 'hourly'",
             "1795431600"); /* 11:00 */
  t_query_eq(f->s, "SELECT next_fire FROM rules WHERE name = 'off'", "0");

  int calls = 0;
  certhub_bus_schedule_hook hook = {.detail_for = weekly_detail,
                                    .ctx = &calls,
                                    .account = "123456789012",
                                    .region = "eu-west-1"};
  certhub_bus_stats st = {0};
  assert_int_equal(
      certhub_bus_fire_schedules(f->s, T_NOW + hour - 1, &hook, &st), CH_OK);
  assert_int_equal(st.fired, 0);
  assert_int_equal(certhub_bus_fire_schedules(f->s, T_NOW + hour, &hook, &st),
                   CH_OK);
  assert_int_equal(st.fired, 1);
  assert_int_equal(certhub_bus_fire_schedules(f->s, T_NOW + hour, &hook, &st),
                   CH_OK);
  assert_int_equal(st.fired, 1);
  t_query_eq(f->s,
             "SELECT source || '|' || detail_type || '|' || "
             "json_extract(envelope, '$.resources[0]') || '|' || "
             "json_extract(envelope, '$.time') || '|' || routed FROM events",
             "aws.events|Scheduled Event|arn:certhub:events:eu-west-1:"
             "123456789012:rule/hourly|2026-11-23T11:00:00Z|1");
  t_query_eq(f->s, "SELECT rule || ':' || target_id FROM outbox", "hourly:h");
  t_query_eq(f->s,
             "SELECT last_fire || '|' || next_fire FROM rules"
             " WHERE name = 'hourly'",
             "1795431600|1795435200");
  /* The scheduled event is routed already: the {} rule never sees it. */
  assert_int_equal(certhub_bus_route(f->s, T_NOW + hour, &st), CH_OK);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 1);

  /* Down for three weeks: one catch-up fire each, no back-fill. */
  int64_t later = T_NOW + 21 * T_DAY + 1800;
  memset(&st, 0, sizeof(st));
  assert_int_equal(certhub_bus_fire_schedules(f->s, later, &hook, &st), CH_OK);
  assert_int_equal(st.fired, 2);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 3);
  t_query_eq(f->s,
             "SELECT json_extract(envelope, '$.detail.Expiring') || '|' ||"
             " json_extract(envelope, '$.time') FROM events"
             " WHERE envelope LIKE '%rule/weekly%'",
             "3|2026-11-30T08:00:00Z");
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT name || ':' ||"
             " next_fire AS x FROM rules WHERE schedule IS NOT NULL"
             " ORDER BY name)",
             "hourly:1797246000 off:0 weekly:1797840000");
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 3);
  /* Re-enabling the disabled rule computes from now: no back-fill. */
  assert_int_equal(certhub_bus_rule_enable(f->s, NULL, "off", true, later),
                   CH_OK);
  t_query_eq(f->s, "SELECT next_fire FROM rules WHERE name = 'off'",
             "1797244260");
  /* Re-putting an unchanged schedule keeps its pending fire. */
  rule_ok(f->s, NULL, "hourly", NULL, "rate(1 hour)",
          "[{\"Id\":\"h\",\"Type\":\"f\"}]", later + 1000);
  t_query_eq(f->s, "SELECT next_fire FROM rules WHERE name = 'hourly'",
             "1797246000");
}

/* ---- dispatch -------------------------------------------------------------
 */

typedef struct script {
  certhub_bus_delivery res[32];
  size_t n, at;
  char log[2048];
} script;

static ch_err scripted(void *ctx, const char *rule, const char *bus,
                       const char *target, const char *event, size_t len,
                       certhub_bus_delivery *result, char **detail)
{
  script *sc = ctx;
  json_t *e = json_loadb(event, len, 0, NULL);
  json_t *t = json_loads(target, 0, NULL);
  assert_non_null(e);
  assert_non_null(t);
  char item[256];
  snprintf(item, sizeof(item), "%s%s/%s/%s", sc->log[0] ? " " : "", bus, rule,
           json_string_value(json_object_get(t, "Id")));
  strncat(sc->log, item, sizeof(sc->log) - strlen(sc->log) - 1);
  json_decref(e);
  json_decref(t);
  *result = sc->at < sc->n ? sc->res[sc->at] : CERTHUB_BUS_DELIVERED;
  sc->at++;
  if(*result != CERTHUB_BUS_DELIVERED)
    *detail = strdup("HTTP 503");
  return CH_OK;
}

static void one_event(fx *f, int64_t now)
{
  certhub_event ev = {.source = "s", .detail_type = "t"};
  char id[37];
  put_ok(f->s, &ev, now, id);
  assert_int_equal(certhub_bus_route(f->s, now, NULL), CH_OK);
}

static void test_dispatch(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL,
          "[{\"Id\":\"ok\",\"Type\":\"f\"},"
          "{\"Id\":\"dlq\",\"Type\":\"f\",\"RetryPolicy\":"
          "{\"MaximumRetryAttempts\":2},\"DeadLetterConfig\":{}},"
          "{\"Id\":\"drop\",\"Type\":\"f\",\"RetryPolicy\":"
          "{\"MaximumRetryAttempts\":0}}]",
          T_NOW);
  one_event(f, T_NOW);
  script sc = {.res = {CERTHUB_BUS_DELIVERED, CERTHUB_BUS_RETRY,
                       CERTHUB_BUS_RETRY, CERTHUB_BUS_RETRY, CERTHUB_BUS_RETRY,
                       CERTHUB_BUS_RETRY},
               .n = 6};
  certhub_bus_stats st = {0};
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, &st),
                   CH_OK);
  assert_string_equal(sc.log, "default/r/ok default/r/dlq default/r/drop");
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.retried, 1);
  assert_int_equal(st.dropped, 1);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT target_id || ':' ||"
             " state || ':' || attempts AS x FROM outbox ORDER BY id)",
             "ok:delivered:1 dlq:pending:1 drop:failed:1");
  /* The first retry waits 1 s; nothing is due before. */
  t_query_eq(f->s, "SELECT next_attempt_at FROM outbox WHERE target_id='dlq'",
             "1795428001");
  int64_t when = 0;
  bool found = false;
  assert_int_equal(certhub_bus_next_due(f->s, &when, &found), CH_OK);
  assert_true(found);
  assert_int_equal(when, T_NOW + 1);
  sc.log[0] = '\0';
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, &st),
                   CH_OK);
  assert_string_equal(sc.log, "");
  /* Second attempt (RETRY) waits 1-2 s, the third gives up: dead. */
  assert_int_equal(
      certhub_bus_dispatch(f->s, T_NOW + 1, scripted, &sc, 0, &st), CH_OK);
  int64_t next =
      q_int(f->s, "SELECT next_attempt_at FROM outbox WHERE target_id='dlq'");
  assert_true(next >= T_NOW + 2 && next <= T_NOW + 3);
  assert_int_equal(certhub_bus_dispatch(f->s, next, scripted, &sc, 0, &st),
                   CH_OK);
  t_query_eq(f->s,
             "SELECT state || ':' || attempts || ':' || last_error FROM outbox"
             " WHERE target_id='dlq'",
             "dead:3:retries exhausted (MaximumRetryAttempts 2): HTTP 503");
  assert_string_equal(sc.log, "default/r/dlq default/r/dlq");
  assert_int_equal(st.dead, 1);
  assert_int_equal(certhub_bus_next_due(f->s, &when, &found), CH_OK);
  assert_false(found);

  /* Redrive: pending again, attempts reset, delivered. */
  uint64_t n = 0;
  int64_t dead_id = q_int(f->s, "SELECT id FROM outbox WHERE state = 'dead'");
  assert_int_equal(certhub_bus_dlq_redrive(f->s, dead_id + 100, T_NOW, &n),
                   CH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(certhub_bus_dlq_redrive(f->s, dead_id, next + 5, &n),
                   CH_OK);
  assert_int_equal(n, 1);
  t_query_eq(f->s,
             "SELECT state || ':' || attempts FROM outbox WHERE id = "
             "(SELECT max(id) FROM outbox WHERE target_id = 'dlq')",
             "pending:0");
  sc.at = sc.n; /* deliver from now on */
  assert_int_equal(certhub_bus_dispatch(f->s, next + 5, scripted, &sc, 0, &st),
                   CH_OK);
  t_query_eq(f->s, "SELECT state FROM outbox WHERE target_id='dlq'",
             "delivered");

  /* FAILED goes straight to the dead-letter queue; purge removes it. */
  one_event(f, T_NOW + 100);
  sc = (script){
      .res = {CERTHUB_BUS_DELIVERED, CERTHUB_BUS_FAILED, CERTHUB_BUS_FAILED},
      .n = 3};
  assert_int_equal(
      certhub_bus_dispatch(f->s, T_NOW + 100, scripted, &sc, 0, &st), CH_OK);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT target_id || ':' ||"
             " state || ':' || attempts AS x FROM outbox WHERE event_seq = 2"
             " ORDER BY id)",
             "ok:delivered:1 dlq:dead:1 drop:failed:1");
  assert_int_equal(certhub_bus_dlq_purge(f->s, 0, &n), CH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox WHERE state ="
                               " 'dead'"),
                   0);
}

/* SKIPPED (the dispatcher is stopping): that row is left as it was, no
 * attempt counted, and the rows after it are not offered; the next
 * dispatch delivers them. */
static void test_dispatch_skipped(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL,
          "[{\"Id\":\"a\",\"Type\":\"f\"},{\"Id\":\"b\",\"Type\":\"f\"},"
          "{\"Id\":\"c\",\"Type\":\"f\"}]",
          T_NOW);
  one_event(f, T_NOW);
  script sc = {.res = {CERTHUB_BUS_DELIVERED, CERTHUB_BUS_SKIPPED}, .n = 2};
  certhub_bus_stats st = {0};
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, &st),
                   CH_OK);
  assert_string_equal(sc.log, "default/r/a default/r/b");
  assert_int_equal(st.attempted, 1);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.retried, 0);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT target_id || ':' ||"
             " state || ':' || attempts || ':' || next_attempt_at || ':' ||"
             " last_error AS x FROM outbox ORDER BY id)",
             "a:delivered:1:0: b:pending:0:1795428000: "
             "c:pending:0:1795428000:");
  sc.log[0] = '\0';
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, &st),
                   CH_OK);
  assert_string_equal(sc.log, "default/r/b default/r/c");
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT target_id || ':' ||"
             " state || ':' || attempts AS x FROM outbox ORDER BY id)",
             "a:delivered:1 b:delivered:1 c:delivered:1");
}

static void test_dispatch_age(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL,
          "[{\"Id\":\"a\",\"Type\":\"f\",\"RetryPolicy\":"
          "{\"MaximumEventAgeInSeconds\":60},\"DeadLetterConfig\":true}]",
          T_NOW);
  one_event(f, T_NOW);
  /* Too old already: given up without a call. */
  script sc = {0};
  certhub_bus_stats st = {0};
  assert_int_equal(
      certhub_bus_dispatch(f->s, T_NOW + 61, scripted, &sc, 0, &st), CH_OK);
  assert_int_equal(sc.at, 0);
  assert_int_equal(st.dead, 1);
  t_query_eq(f->s, "SELECT state || ':' || attempts FROM outbox", "dead:0");

  /* A retry that would land past the age limit gives up now. */
  one_event(f, T_NOW);
  sc = (script){.res = {CERTHUB_BUS_RETRY}, .n = 1};
  assert_int_equal(
      certhub_bus_dispatch(f->s, T_NOW + 60, scripted, &sc, 0, &st), CH_OK);
  assert_int_equal(sc.at, 1);
  t_query_eq(f->s, "SELECT state FROM outbox WHERE event_seq = 2", "dead");

  /* max limits one pass. */
  for(int i = 0; i < 5; i++)
    one_event(f, T_NOW + 100);
  sc = (script){0};
  assert_int_equal(
      certhub_bus_dispatch(f->s, T_NOW + 100, scripted, &sc, 2, &st), CH_OK);
  assert_int_equal(sc.at, 2);
}

/* Backoff doubles to the 5-minute cap, with jitter in [d/2, d]. */
/* The breaker: a failing target ("dead") costs one attempt per wait, its
 * other rows are postponed untouched, the other target ("ok") is not held
 * up; trials rotate over the waiting rows; one delivery reopens the flow.
 * Passes run at each next due instant, as certhub serve does. */
typedef struct flaky {
  bool up;
  unsigned dead_calls, ok_calls;
} flaky;

static ch_err flaky_cb(void *ctx, const char *rule, const char *bus,
                       const char *target, const char *event, size_t len,
                       certhub_bus_delivery *result, char **detail)
{
  flaky *fl = ctx;
  (void)rule;
  (void)bus;
  (void)event;
  (void)len;
  if(strstr(target, "\"dead\"")) {
    fl->dead_calls++;
    *result = fl->up ? CERTHUB_BUS_DELIVERED : CERTHUB_BUS_RETRY;
  }
  else {
    fl->ok_calls++;
    *result = CERTHUB_BUS_DELIVERED;
  }
  if(*result != CERTHUB_BUS_DELIVERED)
    *detail = strdup("timed out");
  return CH_OK;
}

static void test_breaker(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL,
          "[{\"Id\":\"dead\",\"Type\":\"f\"},{\"Id\":\"ok\",\"Type\":\"f\"}]",
          T_NOW);
  for(int i = 0; i < 5; i++)
    one_event(f, T_NOW);
  certhub_bus_breaker *br = certhub_bus_breaker_new();
  assert_non_null(br);
  flaky fl = {0};
  certhub_bus_stats st = {0};
  /* First pass: one attempt at dead, every ok delivered. */
  assert_int_equal(
      certhub_bus_dispatch_guarded(f->s, T_NOW, flaky_cb, &fl, 8, br, &st),
      CH_OK);
  assert_int_equal(
      certhub_bus_dispatch_guarded(f->s, T_NOW, flaky_cb, &fl, 8, br, &st),
      CH_OK);
  assert_int_equal(fl.dead_calls, 1);
  assert_int_equal(fl.ok_calls, 5);
  assert_int_equal(st.postponed, 4);
  /* Postponed rows: untouched but for the due time, before the failed
   * row's own retry. */
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT attempts || ':' ||"
             " first_attempt_at || ':' || last_error AS x FROM outbox WHERE"
             " target_id = 'dead' ORDER BY id)",
             "1:1795428000:timed out 0:0: 0:0: 0:0: 0:0:");
  assert_true(q_int(f->s, "SELECT min(next_attempt_at) FROM outbox WHERE"
                          " target_id = 'dead' AND attempts = 1") >
              q_int(f->s, "SELECT max(next_attempt_at) FROM outbox WHERE"
                          " target_id = 'dead' AND attempts = 0"));
  /* While down: each trial is a row not tried yet. */
  int64_t now = T_NOW;
  for(int pass = 0; pass < 100 && fl.dead_calls < 5; pass++) {
    bool found = false;
    assert_int_equal(certhub_bus_next_due(f->s, &now, &found), CH_OK);
    assert_true(found);
    assert_int_equal(
        certhub_bus_dispatch_guarded(f->s, now, flaky_cb, &fl, 8, br, &st),
        CH_OK);
  }
  assert_int_equal(fl.dead_calls, 5);
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox WHERE target_id ="
                               " 'dead' AND attempts = 1"),
                   5);
  /* Up again: the next trial delivers and the rest follow at once. */
  fl.up = true;
  bool found = false;
  assert_int_equal(certhub_bus_next_due(f->s, &now, &found), CH_OK);
  assert_true(found);
  now += 600; /* every row due */
  assert_int_equal(
      certhub_bus_dispatch_guarded(f->s, now, flaky_cb, &fl, 8, br, &st),
      CH_OK);
  assert_int_equal(fl.dead_calls, 10);
  t_query_eq(f->s, "SELECT count(*) FROM outbox WHERE state = 'delivered'",
             "10");
  certhub_bus_breaker_free(br);

  /* Without a breaker (certhub_bus_dispatch) every due row is tried. */
  for(int i = 0; i < 3; i++)
    one_event(f, now);
  fl = (flaky){0};
  assert_int_equal(certhub_bus_dispatch(f->s, now, flaky_cb, &fl, 0, &st),
                   CH_OK);
  assert_int_equal(fl.dead_calls, 3);
}

static void test_backoff(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL, "[{\"Id\":\"a\",\"Type\":\"f\"}]",
          T_NOW);
  one_event(f, T_NOW);
  int64_t now = T_NOW;
  script sc = {.n = 32};
  for(int i = 0; i < 32; i++)
    sc.res[i] = CERTHUB_BUS_RETRY;
  for(unsigned a = 1; a <= 14; a++) {
    assert_int_equal(certhub_bus_dispatch(f->s, now, scripted, &sc, 0, NULL),
                     CH_OK);
    int64_t next = q_int(f->s, "SELECT next_attempt_at FROM outbox");
    int64_t d = a - 1 >= 16 ? 300 : (int64_t)1 << (a - 1);
    if(d > 300)
      d = 300;
    if(next - now < (d / 2 < 1 ? 1 : d / 2) || next - now > d)
      fail_msg("attempt %u: wait %lld not in [%lld, %lld]", a,
               (long long)(next - now), (long long)(d / 2), (long long)d);
    now = next;
  }
  assert_int_equal(q_int(f->s, "SELECT attempts FROM outbox"), 14);
}

static void test_prune(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL,
          "[{\"Id\":\"a\",\"Type\":\"f\",\"DeadLetterConfig\":{}}]", T_NOW);
  one_event(f, T_NOW - 100 * T_DAY); /* delivered */
  one_event(f, T_NOW - 100 * T_DAY); /* dead */
  one_event(f, T_NOW - 100 * T_DAY); /* pending */
  one_event(f, T_NOW - 10 * T_DAY);  /* delivered, recent */
  certhub_event ev = {.source = "s", .detail_type = "t"};
  char id[37];
  put_ok(f->s, &ev, T_NOW - 100 * T_DAY, id); /* unrouted */
  free(t_query(f->s, "UPDATE outbox SET state = 'delivered'"
                     " WHERE event_seq IN (1, 4)"));
  free(t_query(f->s, "UPDATE outbox SET state = 'dead' WHERE event_seq = 2"));
  uint64_t n = 0;
  assert_int_equal(certhub_bus_prune(f->s, T_NOW, 0, &n), CH_OK);
  assert_int_equal(n, 1);
  t_query_eq(
      f->s,
      "SELECT group_concat(seq) FROM (SELECT seq FROM events ORDER BY seq)",
      "2,3,4,5");
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox"), 3);
  assert_int_equal(certhub_bus_prune(f->s, T_NOW, 5, &n), CH_OK);
  assert_int_equal(n, 1);
}

/* Recording an outcome fails (injected): dispatch reports it cleanly and
 * the row stays pending, so it is delivered again: at least once, never
 * lost. A dropped outbox table: route fails, the event stays unrouted. */
static void test_dispatch_faults(void **state)
{
  fx *f = *state;
  rule_ok(f->s, NULL, "r", "{}", NULL, "[{\"Id\":\"a\",\"Type\":\"f\"}]",
          T_NOW);
  one_event(f, T_NOW);
  free(t_query(f->s, "CREATE TEMP TRIGGER boom BEFORE UPDATE ON outbox BEGIN"
                     " SELECT RAISE(ABORT, 'disk on fire'); END"));
  script sc = {0};
  assert_int_not_equal(
      certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, NULL), CH_OK);
  assert_non_null(strstr(certhub_store_errmsg(f->s), "disk on fire"));
  assert_int_equal(sc.at, 1);
  t_query_eq(f->s, "SELECT state || ':' || attempts FROM outbox", "pending:0");
  free(t_query(f->s, "DROP TRIGGER boom"));
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, NULL),
                   CH_OK);
  assert_int_equal(sc.at, 2);
  t_query_eq(f->s, "SELECT state FROM outbox", "delivered");

  certhub_event ev = {.source = "s", .detail_type = "t"};
  char id[37];
  put_ok(f->s, &ev, T_NOW, id);
  free(t_query(f->s, "DROP TABLE outbox"));
  assert_int_equal(certhub_bus_route(f->s, T_NOW, NULL), CH_ERR_DB);
  assert_non_null(strstr(certhub_store_errmsg(f->s), "outbox"));
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE routed=0"),
                   1);
  assert_int_equal(certhub_bus_dispatch(f->s, T_NOW, scripted, &sc, 0, NULL),
                   CH_ERR_DB);
}

/* ---- configuration --------------------------------------------------------
 */

static certhub_config *load_cfg(fx *f, const char *yaml)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/c.yaml", f->d.path);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(yaml, fp);
  fclose(fp);
  certhub_config *cfg = NULL;
  char *err = NULL;
  if(certhub_config_load(path, &cfg, &err))
    fail_msg("config: %s", err);
  return cfg;
}

static void test_config(void **state)
{
  fx *f = *state;
  certhub_config *cfg =
      load_cfg(f, "buses: [ops]\n"
                  "rules:\n"
                  "  - name: expiring\n"
                  "    pattern:\n"
                  "      source: [certhub.acm]\n"
                  "      detail: {DaysToExpiry: [{numeric: [\"<=\", 30]}], "
                  "Exported: [false], Name: [\"007\"], Serial: ['12']}\n"
                  "    targets:\n"
                  "      - {id: log, type: file, Path: /tmp/x, RetryPolicy: "
                  "{MaximumRetryAttempts: 3}}\n"
                  "  - name: weekly\n"
                  "    bus: ops\n"
                  "    state: DISABLED\n"
                  "    schedule: \"rate(7 days)\"\n");
  char *err = NULL;
  assert_int_equal(certhub_bus_config_check(cfg, NULL, NULL, &err), CH_OK);
  assert_string_equal(cfg->rules[0].pattern,
                      "{\"source\":[\"certhub.acm\"],\"detail\":{"
                      "\"DaysToExpiry\":[{\"numeric\":[\"<=\",30]}],"
                      "\"Exported\":[false],\"Name\":[\"007\"],"
                      "\"Serial\":[\"12\"]}}");
  assert_string_equal(cfg->rules[0].targets,
                      "[{\"Id\":\"log\",\"Type\":\"file\",\"Path\":"
                      "\"/tmp/x\",\"RetryPolicy\":{"
                      "\"MaximumRetryAttempts\":3}}]");
  rule_ok(f->s, NULL, "mine", "{}", NULL, NULL, T_NOW);
  assert_int_equal(certhub_bus_apply_config(f->s, cfg, T_NOW, NULL, NULL),
                   CH_OK);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT bus || '/' || name ||"
             " ':' || managed_by || ':' || state AS x FROM rules"
             " ORDER BY bus, name)",
             "default/expiring:config:ENABLED default/mine:cli:ENABLED "
             "ops/weekly:config:DISABLED");
  certhub_config_free(cfg);

  /* weekly gone from the file: deleted; mine (CLI) stays. A bad rule
   * changes nothing and names FILE:LINE. */
  cfg = load_cfg(f, "rules:\n"
                    "  - name: expiring\n"
                    "    pattern: '{\"source\":[\"x\"]}'\n"
                    "  - name: broken\n"
                    "    pattern: {source: x}\n");
  assert_int_equal(certhub_bus_config_check(cfg, NULL, NULL, &err),
                   CH_ERR_CONFIG);
  assert_non_null(strstr(err, "c.yaml:5: rules[1]: rule broken: invalid "
                              "event pattern"));
  free(err);
  assert_int_not_equal(certhub_bus_apply_config(f->s, cfg, T_NOW, NULL, NULL),
                       CH_OK);
  assert_non_null(strstr(certhub_store_errmsg(f->s), "c.yaml:4: rules[1]"));
  assert_int_equal(q_int(f->s, "SELECT count(*) FROM rules"), 3);
  certhub_config_free(cfg);
  cfg = load_cfg(f, "rules:\n"
                    "  - name: expiring\n"
                    "    pattern: '{\"source\":[\"x\"]}'\n");
  assert_int_equal(certhub_bus_apply_config(f->s, cfg, T_NOW, NULL, NULL),
                   CH_OK);
  t_query_eq(f->s,
             "SELECT group_concat(x, ' ') FROM (SELECT bus || '/' || name ||"
             " ':' || pattern AS x FROM rules ORDER BY bus, name)",
             "default/expiring:{\"source\":[\"x\"]} default/mine:{}");
  certhub_config_free(cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_envelope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_dedupe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_buses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rule_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_route, setup, teardown),
      cmocka_unit_test_setup_teardown(test_route_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schedules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dispatch_age, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dispatch_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_breaker, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dispatch_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
