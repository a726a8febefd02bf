/*
 * Topics against a real SQLite store: create (idempotent like SNS),
 * list, delete, and Publish's validation: missing topic, subject rules,
 * the 256 KiB limit, empty and non-UTF-8 messages; the message log.
 */
#include <pthread.h>

#include "certhub/notify.h"
#include "test_store_util.h"

typedef struct seen {
  size_t n;
  char names[512];
  char arn[300];
  uint64_t n_messages;
  char ids[8][40];
  char subjects[8][128];
  size_t lens[8];
} seen;

static ch_err on_topic(void *ctx, const certhub_topic *t)
{
  seen *s = ctx;
  s->n++;
  tjoin(s->names, sizeof(s->names), ",", t->name);
  snprintf(s->arn, sizeof(s->arn), "%s", t->arn);
  s->n_messages = t->n_messages;
  return CH_OK;
}

static ch_err on_message(void *ctx, const certhub_message *m)
{
  seen *s = ctx;
  if(s->n < 8) {
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", m->message_id);
    snprintf(s->subjects[s->n], sizeof(s->subjects[0]), "%s",
             m->subject ? m->subject : "(none)");
    s->lens[s->n] = m->len;
  }
  s->n++;
  return CH_OK;
}

static void test_create_list_delete(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  bool created = false;
  seen sn = {0};
  assert_int_equal(certhub_topic_create(s, "ops-alerts", "Ops", "123456789012",
                                        "eu-west-1", T_NOW, &created),
                   CH_OK);
  assert_true(created);
  /* Idempotent, like SNS CreateTopic. */
  assert_int_equal(certhub_topic_create(s, "ops-alerts", NULL, NULL, NULL,
                                        T_NOW + 1, &created),
                   CH_OK);
  assert_false(created);
  assert_int_equal(
      certhub_topic_create(s, "a_b", NULL, NULL, NULL, T_NOW, &created),
      CH_OK);
  assert_int_equal(certhub_topic_list(s, on_topic, &sn), CH_OK);
  assert_string_equal(sn.names, "a_b,ops-alerts");
  memset(&sn, 0, sizeof(sn));
  assert_int_equal(certhub_topic_get(s, "ops-alerts", on_topic, &sn), CH_OK);
  assert_string_equal(sn.arn, "arn:certhub:sns:eu-west-1:123456789012:"
                              "ops-alerts");
  /* Invalid names. */
  static const char *const bad[] = {"", "has space", "dot.fifo", "a/b",
                                    "caf\xc3\xa9"};
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    assert_int_equal(
        certhub_topic_create(s, bad[i], NULL, NULL, NULL, T_NOW, &created),
        CH_ERR_USAGE);
    assert_non_null(strstr(certhub_store_errmsg(s), "invalid topic name"));
  }
  char longname[258];
  memset(longname, 'a', 257);
  longname[257] = '\0';
  assert_int_equal(
      certhub_topic_create(s, longname, NULL, NULL, NULL, T_NOW, &created),
      CH_ERR_USAGE);
  longname[256] = '\0';
  assert_int_equal(
      certhub_topic_create(s, longname, NULL, NULL, NULL, T_NOW, &created),
      CH_OK);
  assert_int_equal(certhub_topic_delete(s, longname), CH_OK);
  assert_int_equal(certhub_topic_delete(s, "a_b"), CH_OK);
  assert_int_equal(certhub_topic_delete(s, "a_b"), CH_ERR_NOTFOUND);
  assert_string_equal(certhub_store_errmsg(s), "topic 'a_b' does not exist");
  memset(&sn, 0, sizeof(sn));
  assert_int_equal(certhub_topic_get(s, "a_b", on_topic, &sn),
                   CH_ERR_NOTFOUND);
  assert_int_equal(sn.n, 0);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void test_publish(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char id[CERTHUB_MESSAGE_ID_LEN + 1], id2[CERTHUB_MESSAGE_ID_LEN + 1];
  seen sn = {0};
  const char *msg = "Certificate www.example.com expires in 14 days";
  assert_int_equal(
      certhub_topic_publish(s, "nope", NULL, msg, strlen(msg), T_NOW, id),
      CH_ERR_NOTFOUND);
  assert_string_equal(certhub_store_errmsg(s), "topic 'nope' does not exist");
  assert_string_equal(id, "");
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  assert_int_equal(
      certhub_topic_publish(s, "t", "Expiring", msg, strlen(msg), T_NOW, id),
      CH_OK);
  /* UUID v4 text form. */
  assert_int_equal(strlen(id), 36);
  assert_int_equal(id[14], '4');
  assert_true(strchr("89ab", id[19]) != NULL);
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "second", 6, T_NOW + 5, id2), CH_OK);
  assert_string_not_equal(id, id2);

  /* Subject rules. */
  static const struct {
    const char *subject;
    const char *why;
  } subjects[] = {
      {"", "subject is empty"},
      {"two\nlines", "line breaks"},
      {"tab\there", "printable ASCII"},
      {"caf\xc3\xa9", "printable ASCII"},
      {" leading", "must begin with"},
      {"0123456789012345678901234567890123456789012345678901234567890123456"
       "7890123456789012345678901234567890X",
       "longer than 100"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(subjects); i++) {
    ch_err rc = certhub_topic_publish(s, "t", subjects[i].subject, msg,
                                      strlen(msg), T_NOW, id);
    assert_int_not_equal(rc, CH_OK);
    if(!strstr(certhub_store_errmsg(s), subjects[i].why))
      fail_msg("subject %zu: '%s'", i, certhub_store_errmsg(s));
  }
  char hundred[101];
  memset(hundred, 'S', 100);
  hundred[100] = '\0';
  assert_int_equal(
      certhub_topic_publish(s, "t", hundred, "m", 1, T_NOW + 6, id), CH_OK);

  /* Message rules: empty, over 256 KiB, invalid UTF-8, NUL. */
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "", 0, T_NOW, id),
                   CH_ERR_PARSE);
  assert_non_null(strstr(certhub_store_errmsg(s), "message is empty"));
  char *big = malloc(CERTHUB_MESSAGE_MAX + 1);
  memset(big, 'x', CERTHUB_MESSAGE_MAX + 1);
  assert_int_equal(certhub_topic_publish(s, "t", NULL, big,
                                         CERTHUB_MESSAGE_MAX + 1, T_NOW, id),
                   CH_ERR_TOOBIG);
  assert_non_null(strstr(certhub_store_errmsg(s), "262144"));
  assert_int_equal(certhub_topic_publish(s, "t", NULL, big,
                                         CERTHUB_MESSAGE_MAX, T_NOW + 7, id),
                   CH_OK);
  free(big);
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "a\xff", 2, T_NOW, id),
                   CH_ERR_PARSE);
  assert_non_null(strstr(certhub_store_errmsg(s), "not valid UTF-8"));
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "a\xc0\x80", 3, T_NOW, id),
      CH_ERR_PARSE); /* overlong NUL */
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "a\0b", 3, T_NOW, id),
                   CH_ERR_PARSE);
  assert_non_null(strstr(certhub_store_errmsg(s), "NUL"));
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "\xe2\x9c\x93 ok", 6, T_NOW + 8, id),
      CH_OK);

  /* The log: newest first, per topic, limited. */
  assert_int_equal(certhub_topic_messages(s, "t", 0, on_message, &sn), CH_OK);
  assert_int_equal(sn.n, 5);
  assert_int_equal(sn.lens[0], 6);
  assert_int_equal(sn.lens[1], CERTHUB_MESSAGE_MAX);
  assert_string_equal(sn.subjects[2], hundred);
  assert_string_equal(sn.ids[3], id2);
  assert_string_equal(sn.subjects[4], "Expiring");
  memset(&sn, 0, sizeof(sn));
  assert_int_equal(certhub_topic_messages(s, NULL, 2, on_message, &sn), CH_OK);
  assert_int_equal(sn.n, 2);
  memset(&sn, 0, sizeof(sn));
  assert_int_equal(certhub_topic_get(s, "t", on_topic, &sn), CH_OK);
  assert_int_equal(sn.n_messages, 5);
  /* Deleting the topic keeps its log; publishing then fails. */
  assert_int_equal(certhub_topic_delete(s, "t"), CH_OK);
  memset(&sn, 0, sizeof(sn));
  assert_int_equal(certhub_topic_messages(s, "t", 0, on_message, &sn), CH_OK);
  assert_int_equal(sn.n, 5);
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "x", 1, T_NOW, id),
                   CH_ERR_NOTFOUND);

  /* The bus hook: ctx is the store. */
  char *detail = NULL;
  assert_int_equal(
      certhub_topic_create(s, "hooked", NULL, NULL, NULL, T_NOW, NULL), CH_OK);
  assert_int_equal(
      certhub_topic_publish_hook(s, "hooked", "S", "body", 4, &detail), CH_OK);
  assert_non_null(detail);
  assert_int_equal(strncmp(detail, "MessageId ", 10), 0);
  free(detail);
  assert_int_equal(
      certhub_topic_publish_hook(s, "gone", NULL, "body", 4, &detail),
      CH_ERR_NOTFOUND);
  assert_string_equal(detail, "topic 'gone' does not exist");
  free(detail);
  certhub_store_close(s);
  tdir_remove(&d);
}

/* The bus may publish from several threads through one store handle. */
typedef struct pub_arg {
  certhub_store *s;
  int failures;
} pub_arg;

static void *pub_thread(void *p)
{
  pub_arg *a = p;
  for(int i = 0; i < 25; i++) {
    char *detail = NULL;
    if(certhub_topic_publish_hook(a->s, "busy", NULL, "m", 1, &detail) ||
       !detail || strncmp(detail, "MessageId ", 10))
      a->failures++;
    free(detail);
  }
  return NULL;
}

static void test_hook_threads(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  pthread_t th[4];
  pub_arg args[4];
  seen sn = {0};
  assert_int_equal(
      certhub_topic_create(s, "busy", NULL, NULL, NULL, T_NOW, NULL), CH_OK);
  for(int i = 0; i < 4; i++) {
    args[i] = (pub_arg){.s = s};
    assert_int_equal(pthread_create(&th[i], NULL, pub_thread, &args[i]), 0);
  }
  for(int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(args[i].failures, 0);
  }
  assert_int_equal(certhub_topic_get(s, "busy", on_topic, &sn), CH_OK);
  assert_int_equal(sn.n_messages, 100);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_list_delete),
      cmocka_unit_test(test_publish),
      cmocka_unit_test(test_hook_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
