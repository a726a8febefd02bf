/*
 * The delivery engine with its file and command protocols against a real store
 * and real files and programs: file lines are signed SNS messages, the
 * filter hook marks deliveries filtered, maxReceivesPerSecond spaces them
 * out, a failing command is retried by its policy then dead-lettered (and
 * redriven), the message age limit dead-letters.
 */
#include <signal.h>
#include <sys/stat.h>

#include <jansson.h>

#include "certhub/deliver.h"
#include "certhub/deliver_store.h"
#include "certhub/notify_filter.h"
#include "notify/proto.h"
#include "test_store_util.h"

typedef struct dl {
  size_t n;
  char status[16][16];
  char codes[16][64];
  char detail[16][160];
} dl;

static ch_err on_delivery(void *ctx, const certhub_sns_delivery *d)
{
  dl *x = ctx;
  if(x->n < 16) {
    snprintf(x->status[x->n], 16, "%s", d->status);
    snprintf(x->codes[x->n], 64, "%s", d->codes);
    snprintf(x->detail[x->n], 160, "%s", d->last_detail);
  }
  x->n++;
  return CH_OK;
}

static size_t count(certhub_store *s, const char *status)
{
  dl x = {0};
  certhub_sns_delivery_filter f = {.status = status};
  assert_int_equal(certhub_deliveries(s, &f, on_delivery, &x), CH_OK);
  return x.n;
}

/* Steps until nothing is due now or ms have passed. */
static void run(certhub_notify_engine *e, int ms, certhub_notify_stats *st)
{
  int64_t until = certhub_now_ms() + ms;
  do {
    assert_int_equal(certhub_notify_engine_step(e, 20, st), CH_OK);
    int64_t due = 0;
    assert_int_equal(certhub_notify_engine_next_due(e, &due), CH_OK);
    if(due > until)
      break;
    if(due > certhub_now_ms())
      usleep(10000);
  } while(certhub_now_ms() < until);
}

static bool reject_skip(void *ctx, const struct ch_notify_sub *sub,
                        const struct ch_notify_msg *m)
{
  (void)sub;
  ++*(int *)ctx;
  return !memmem(m->message, m->len, "skip", 4);
}

static void test_file_filter_throttle(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char arn[CERTHUB_SUB_ARN_MAX], id[CERTHUB_MESSAGE_ID_LEN + 1], out[300];
  snprintf(out, sizeof(out), "%s/out.jsonl", d.path);
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_subscribe(s, "t", "file", out,
                        "{\"DeliveryPolicy\":\"{\\\"throttlePolicy\\\":"
                        "{\\\"maxReceivesPerSecond\\\":4}}\"}",
                        false, T_NOW, arn, NULL),
      CH_OK);
  for(int i = 0; i < 5; i++)
    assert_int_equal(certhub_topic_publish(s, "t", "S",
                                           i == 2 ? "skip me" : "hello",
                                           i == 2 ? 7 : 5, T_NOW + 1, id),
                     CH_OK);
  int calls = 0;
  certhub_notify_topic_cfg tc = {.name = "t", .signature_version = 2};
  certhub_notify_engine_cfg cfg = {.data_dir = d.path,
                                   .topics = &tc,
                                   .n_topics = 1,
                                   .filter_accepts = reject_skip,
                                   .filter_ctx = &calls};
  certhub_notify_engine *e = NULL;
  char *why = NULL;
  assert_int_equal(certhub_notify_engine_new(s, &cfg, &e, &why), CH_OK);
  certhub_notify_stats st = {0};
  int64_t t0 = certhub_now_ms();
  assert_int_equal(certhub_notify_engine_step(e, 0, &st), CH_OK);
  /* The throttle lets one through now; the rest wait their turn. */
  assert_int_equal(st.fanned, 5);
  assert_int_equal(st.delivered, 1);
  run(e, 5000, &st);
  int64_t took = certhub_now_ms() - t0;
  assert_int_equal(st.delivered, 4);
  assert_int_equal(st.filtered, 1);
  assert_int_equal(calls, 5);
  assert_true(took >= 3 * 250 - 50); /* 4 per second: 250 ms apart */
  assert_int_equal(count(s, CERTHUB_DLV_DELIVERED), 4);
  assert_int_equal(count(s, CERTHUB_DLV_FILTERED), 1);

  /* Four lines, each one signed SNS object (SignatureVersion 2). */
  FILE *f = fopen(out, "r");
  assert_non_null(f);
  char line[8192];
  int n = 0;
  while(fgets(line, sizeof(line), f)) {
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "Type")),
                        "Notification");
    assert_string_equal(json_string_value(json_object_get(o, "Message")),
                        "hello");
    assert_string_equal(
        json_string_value(json_object_get(o, "SignatureVersion")), "2");
    assert_true(strlen(json_string_value(json_object_get(o, "Signature"))) >
                300);
    json_decref(o);
    n++;
  }
  fclose(f);
  assert_int_equal(n, 4);
  struct stat sb;
  assert_int_equal(stat(out, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  certhub_notify_engine_free(e, 0);
  free(why);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_command_retry_dlq(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char arn[CERTHUB_SUB_ARN_MAX], id[CERTHUB_MESSAGE_ID_LEN + 1];
  char prog[300], seen[300], flag[300];
  snprintf(prog, sizeof(prog), "%s/hook.sh", d.path);
  snprintf(seen, sizeof(seen), "%s/seen", d.path);
  snprintf(flag, sizeof(flag), "%s/ok", d.path);
  FILE *f = fopen(prog, "w");
  assert_non_null(f);
  /* Takes stdin; fails with 3 until the flag file exists. */
  fprintf(f,
          "#!/bin/sh\ncat >> '%s'\necho \"$CERTHUB_SNS_MESSAGE_TYPE\" >> "
          "'%s'\n[ -e '%s' ] || { echo nope >&2; exit 3; }\n",
          seen, seen, flag);
  fclose(f);
  assert_int_equal(chmod(prog, 0700), 0);
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_subscribe(s, "t", "command", prog,
                        "{\"DeliveryPolicy\":\"{\\\"healthyRetryPolicy\\\":"
                        "{\\\"numRetries\\\":2,\\\"numNoDelayRetries\\\":1,"
                        "\\\"minDelayTarget\\\":1,\\\"maxDelayTarget\\\":1}}"
                        "\"}",
                        false, T_NOW, arn, NULL),
      CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "payload", 7, T_NOW + 1, id), CH_OK);
  certhub_notify_engine_cfg cfg = {.data_dir = d.path};
  certhub_notify_engine *e = NULL;
  char *why = NULL;
  assert_int_equal(certhub_notify_engine_new(s, &cfg, &e, &why), CH_OK);
  certhub_notify_stats st = {0};
  int64_t t0 = certhub_now_ms();
  run(e, 5000, &st);
  /* 1 attempt + 1 immediate retry + 1 after a second, then dead. */
  assert_int_equal(st.attempted, 3);
  assert_int_equal(st.dead, 1);
  assert_true(certhub_now_ms() - t0 >= 900);
  dl x = {0};
  certhub_sns_delivery_filter fl = {.status = CERTHUB_DLV_DEAD};
  assert_int_equal(certhub_deliveries(s, &fl, on_delivery, &x), CH_OK);
  assert_int_equal(x.n, 1);
  assert_string_equal(x.codes[0], "0,0,0");
  assert_string_equal(x.detail[0], "exit status 3");
  assert_null(strstr(x.detail[0], prog));

  /* Redrive once the program works: delivered. */
  f = fopen(flag, "w");
  fclose(f);
  uint64_t n = 0;
  assert_int_equal(certhub_dlq_redrive(s, 0, "t", certhub_now_ms(), &n),
                   CH_OK);
  assert_int_equal(n, 1);
  run(e, 2000, &st);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(count(s, CERTHUB_DLV_DEAD), 0);
  /* The program got the SNS JSON on stdin, four times. */
  char *all = NULL;
  FILE *sf = fopen(seen, "r");
  assert_non_null(sf);
  all = calloc(1, 65536);
  assert_non_null(all);
  assert_true(fread(all, 1, 65535, sf) > 0);
  fclose(sf);
  int k = 0;
  for(const char *p = all; (p = strstr(p, "\"Message\": \"payload\"")); p++)
    k++;
  assert_int_equal(k, 4);
  assert_non_null(strstr(all, "}Notification\n"));
  free(all);

  /* The age limit dead-letters a delivery that waited too long. */
  certhub_notify_engine_free(e, 0);
  cfg.max_age_ms = 1;
  assert_int_equal(certhub_notify_engine_new(s, &cfg, &e, &why), CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "late", 4, T_NOW + 2, id), CH_OK);
  assert_int_equal(certhub_notify_fanout(s, certhub_now_ms() - 10, &n), CH_OK);
  st = (certhub_notify_stats){0};
  run(e, 500, &st);
  assert_int_equal(st.dead, 1);
  memset(&x, 0, sizeof(x));
  assert_int_equal(certhub_deliveries(s, &fl, on_delivery, &x), CH_OK);
  assert_int_equal(x.n, 1);
  assert_string_equal(x.detail[0], "message age limit reached");
  certhub_notify_engine_free(e, 0);
  free(why);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Command deliveries are asynchronous: a step returns while a program
 * hangs (it stays in flight), a program that cannot be started is
 * dead-lettered at once, and freeing the engine kills a running program
 * and keeps its delivery pending, not counted as an attempt. */
static void test_command_async(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char arn[CERTHUB_SUB_ARN_MAX], id[CERTHUB_MESSAGE_ID_LEN + 1];
  char prog[300], pidf[300], missing[300];
  snprintf(prog, sizeof(prog), "%s/hang.sh", d.path);
  snprintf(pidf, sizeof(pidf), "%s/pid", d.path);
  snprintf(missing, sizeof(missing), "%s/no-such-program", d.path);
  FILE *f = fopen(prog, "w");
  assert_non_null(f);
  fprintf(f, "#!/bin/sh\necho $$ > '%s'\nexec sleep 30\n", pidf);
  fclose(f);
  assert_int_equal(chmod(prog, 0700), 0);
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(certhub_subscribe(s, "t", "command", prog, NULL, false,
                                     T_NOW, arn, NULL),
                   CH_OK);
  assert_int_equal(certhub_subscribe(s, "t", "command", missing, NULL, false,
                                     T_NOW, arn, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "payload", 7, T_NOW + 1, id), CH_OK);
  certhub_notify_engine_cfg cfg = {.data_dir = d.path, .timeout_ms = 60000};
  certhub_notify_engine *e = NULL;
  char *why = NULL;
  assert_int_equal(certhub_notify_engine_new(s, &cfg, &e, &why), CH_OK);
  certhub_notify_stats st = {0};
  int64_t t0 = certhub_now_ms();
  for(int i = 0; i < 50 && !st.dead; i++)
    assert_int_equal(certhub_notify_engine_step(e, 100, &st), CH_OK);
  assert_true(certhub_now_ms() - t0 < 10000);
  assert_int_equal(st.dead, 1);
  assert_int_equal(certhub_notify_engine_in_flight(e), 1);
  dl x = {0};
  certhub_sns_delivery_filter fl = {.status = CERTHUB_DLV_DEAD};
  assert_int_equal(certhub_deliveries(s, &fl, on_delivery, &x), CH_OK);
  assert_int_equal(x.n, 1);
  assert_string_equal(x.detail[0],
                      "cannot execute: No such file or directory");
  /* The program runs (wait for its pid file). */
  long pid = 0;
  for(int i = 0; i < 500 && pid <= 0; i++) {
    FILE *pf = fopen(pidf, "r");
    if(pf) {
      if(fscanf(pf, "%ld", &pid) != 1)
        pid = 0;
      fclose(pf);
    }
    if(pid <= 0)
      usleep(10000);
  }
  assert_true(pid > 0);
  assert_int_equal(kill((pid_t)pid, 0), 0);
  certhub_notify_engine_free(e, 100);
  assert_int_equal(kill((pid_t)pid, 0), -1); /* killed and reaped */
  memset(&x, 0, sizeof(x));
  fl.status = CERTHUB_DLV_PENDING;
  assert_int_equal(certhub_deliveries(s, &fl, on_delivery, &x), CH_OK);
  assert_int_equal(x.n, 1);
  assert_string_equal(x.detail[0], "killed at shutdown; will be retried");
  free(why);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* Bus events are rendered for the protocols (here: the subject a file
 * line carries when the publisher gave none); other messages and given
 * subjects go as published; the real filter hook selects by body. */
static void test_render_and_filter_hook(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char arn[CERTHUB_SUB_ARN_MAX], id[CERTHUB_MESSAGE_ID_LEN + 1], out[300],
      out2[300];
  snprintf(out, sizeof(out), "%s/out.jsonl", d.path);
  snprintf(out2, sizeof(out2), "%s/expired.jsonl", d.path);
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_subscribe(s, "t", "file", out, NULL, false, T_NOW, arn, NULL),
      CH_OK);
  assert_int_equal(certhub_subscribe(s, "t", "file", out2,
                                     "{\"FilterPolicyScope\":\"MessageBody\","
                                     "\"FilterPolicy\":\"{\\\"detail-type\\\":"
                                     "[\\\"ACM Certificate Expired\\\"]}\"}",
                                     false, T_NOW, arn, NULL),
                   CH_OK);
  const char *ev =
      "{\"version\":\"0\",\"id\":\"e1\",\"detail-type\":\"ACM "
      "Certificate Approaching Expiration\",\"source\":\"certhub.acm\","
      "\"time\":\"2025-12-18T00:00:00Z\",\"resources\":[],\"detail\":"
      "{\"DaysToExpiry\":14,\"CommonName\":\"app.example.com\"}}";
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, ev, strlen(ev), T_NOW + 1, id),
      CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", "Given", ev, strlen(ev), T_NOW + 1, id),
      CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "{\"a\":1}", 7, T_NOW + 1, id),
      CH_OK);
  void *hook = NULL;
  assert_int_equal(certhub_notify_filter_hook_new(&hook), CH_OK);
  certhub_notify_engine_cfg cfg = {.data_dir = d.path,
                                   .filter_accepts =
                                       certhub_notify_filter_hook,
                                   .filter_ctx = hook};
  certhub_notify_engine *e = NULL;
  char *why = NULL;
  assert_int_equal(certhub_notify_engine_new(s, &cfg, &e, &why), CH_OK);
  certhub_notify_stats st = {0};
  run(e, 3000, &st);
  assert_int_equal(st.delivered, 3);
  assert_int_equal(st.filtered, 3);
  FILE *f = fopen(out, "r");
  assert_non_null(f);
  char line[8192];
  int n = 0, rendered = 0, given = 0, plain = 0;
  while(fgets(line, sizeof(line), f)) {
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    const char *subj = json_string_value(json_object_get(o, "Subject"));
    const char *msg = json_string_value(json_object_get(o, "Message"));
    if(subj && !strcmp(subj, "Certificate app.example.com expires in 14 days "
                             "(2026-01-01)"))
      rendered++;
    else if(subj && !strcmp(subj, "Given"))
      given++;
    else if(!subj && !strcmp(msg, "{\"a\":1}"))
      plain++;
    /* the body itself is kept as published */
    assert_true(!strcmp(msg, ev) || !strcmp(msg, "{\"a\":1}"));
    json_decref(o);
    n++;
  }
  fclose(f);
  assert_int_equal(n, 3);
  assert_int_equal(rendered, 1);
  assert_int_equal(given, 1);
  assert_int_equal(plain, 1);
  assert_int_equal(access(out2, F_OK), -1); /* every message filtered */
  certhub_notify_engine_free(e, 0);
  certhub_notify_filter_hook_free(hook);
  free(why);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_filter_throttle),
      cmocka_unit_test(test_command_retry_dlq),
      cmocka_unit_test(test_command_async),
      cmocka_unit_test(test_render_and_filter_hook),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
