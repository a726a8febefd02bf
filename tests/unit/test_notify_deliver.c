/*
 * Subscriptions and deliveries: SNS's string to sign rebuilt byte for byte
 * from a real signed SNS message and its real signature verified (the
 * vector in ../shared/reference/sns), our own signatures (versions 1 and 2)
 * verified, the delivery policy's limits and arithmetic, and fan-out
 * idempotency against a real SQLite store (rerun, cursor reset, a failure
 * halfway).
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certhub/deliver.h"
#include "certhub/deliver_store.h"
#include "notify/notify_int.h"
#include "test_store_util.h"

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    fail_msg("cannot open %s (the SNS test vector; see ../shared/README.md)",
             path);
  char *buf = malloc(1 << 20);
  assert_non_null(buf);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  buf[n] = '\0';
  if(len)
    *len = n;
  return buf;
}

/* ../shared beside the project root (tests/data is two levels down). */
static const char *vector_dir(void)
{
  static char dir[1024];
  const char *d = getenv("CERTHUB_SNS_VECTOR");
  const char *data = getenv("CERTHUB_TEST_DATA");
  if(d)
    return d;
  snprintf(dir, sizeof(dir), "%s/../../../shared/reference/sns",
           data ? data : "tests/data");
  return dir;
}

static bool verify(EVP_PKEY *pub, int version, const char *data, size_t len,
                   const char *b64)
{
  unsigned char sig[1024];
  int n = EVP_DecodeBlock(sig, (const unsigned char *)b64, (int)strlen(b64));
  if(n <= 0)
    return false;
  /* EVP_DecodeBlock counts '=' padding as zero bytes. */
  size_t l = strlen(b64);
  while(l && b64[l - 1] == '=') {
    n--;
    l--;
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(md, NULL, version == 2 ? EVP_sha256() : EVP_sha1(),
                           NULL, pub) == 1 &&
      EVP_DigestVerify(md, sig, (size_t)n, (const unsigned char *)data, len) ==
          1;
  EVP_MD_CTX_free(md);
  return ok;
}

static void test_sns_vector(void **state)
{
  (void)state;
  char path[1200];
  size_t want_len = 0;
  snprintf(path, sizeof(path), "%s/sample-message.json", vector_dir());
  char *js = slurp(path, NULL);
  snprintf(path, sizeof(path), "%s/string-to-sign.txt", vector_dir());
  char *want = slurp(path, &want_len);
  json_t *m = json_loads(js, 0, NULL);
  assert_non_null(m);
  const char *message = json_string_value(json_object_get(m, "Message"));
  certhub_sns_fields f = {
      .type = json_string_value(json_object_get(m, "Type")),
      .message = message,
      .message_len = strlen(message),
      .message_id = json_string_value(json_object_get(m, "MessageId")),
      .subject = json_string_value(json_object_get(m, "Subject")),
      .timestamp = json_string_value(json_object_get(m, "Timestamp")),
      .topic_arn = json_string_value(json_object_get(m, "TopicArn")),
  };
  char *sts = NULL;
  size_t len = 0;
  assert_int_equal(certhub_sns_string_to_sign(&f, &sts, &len), CH_OK);
  assert_int_equal(len, want_len);
  assert_memory_equal(sts, want, len);

  /* The real signature verifies with the real certificate over our
   * string; one changed byte does not. */
  snprintf(path, sizeof(path), "%s/unit-test-public-cert.pem", vector_dir());
  FILE *cf = fopen(path, "r");
  assert_non_null(cf);
  X509 *x = PEM_read_X509(cf, NULL, NULL, NULL);
  fclose(cf);
  assert_non_null(x);
  EVP_PKEY *pub = X509_get_pubkey(x);
  const char *sig = json_string_value(json_object_get(m, "Signature"));
  assert_true(verify(pub, 1, sts, len, sig));
  sts[len - 2] ^= 1;
  assert_false(verify(pub, 1, sts, len, sig));
  assert_false(verify(pub, 2, want, want_len, sig));

  /* Without a subject the Subject pair is left out. */
  free(sts);
  f.subject = NULL;
  assert_int_equal(certhub_sns_string_to_sign(&f, &sts, &len), CH_OK);
  assert_null(strstr(sts, "Subject\n"));
  assert_int_equal(len, want_len - strlen("Subject\nthis is raw\n"));
  free(sts);
  EVP_PKEY_free(pub);
  X509_free(x);
  json_decref(m);
  free(js);
  free(want);
}

static void test_confirmation_order(void **state)
{
  (void)state;
  certhub_sns_fields f = {
      .type = "SubscriptionConfirmation",
      .message = "M",
      .message_len = 1,
      .message_id = "I",
      .subject = "ignored",
      .subscribe_url = "U",
      .timestamp = "T",
      .token = "K",
      .topic_arn = "A",
  };
  char *sts = NULL;
  size_t len = 0;
  assert_int_equal(certhub_sns_string_to_sign(&f, &sts, &len), CH_OK);
  assert_string_equal(sts, "Message\nM\nMessageId\nI\nSubscribeURL\nU\n"
                           "Timestamp\nT\nToken\nK\nTopicArn\nA\nType\n"
                           "SubscriptionConfirmation\n");
  free(sts);
}

/* Our key signs; the certificate we publish verifies (both versions). */
static void test_sign_roundtrip(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  void *key = NULL;
  char *pem = NULL, why[256];
  assert_int_equal(certhub_notify_signing_load(NULL, NULL, d.path, &key, &pem,
                                               why, sizeof(why)),
                   CH_OK);
  /* Loaded again: the same certificate, not a new key. */
  void *key2 = NULL;
  char *pem2 = NULL;
  assert_int_equal(certhub_notify_signing_load(NULL, NULL, d.path, &key2,
                                               &pem2, why, sizeof(why)),
                   CH_OK);
  assert_string_equal(pem, pem2);
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  assert_non_null(x);
  EVP_PKEY *pub = X509_get_pubkey(x);
  const char data[] = "Message\nhello\nType\nNotification\n";
  for(int v = 1; v <= 2; v++) {
    char *sig = NULL;
    assert_int_equal(ch_notify_sign(key, v, data, sizeof(data) - 1, &sig),
                     CH_OK);
    assert_true(verify(pub, v, data, sizeof(data) - 1, sig));
    assert_false(verify(pub, 3 - v, data, sizeof(data) - 1, sig));
    free(sig);
  }
  /* A key file and a certificate that do not belong together. */
  char kp[300], cp[300];
  snprintf(kp, sizeof(kp), "%s/sns-signing.key", d.path);
  snprintf(cp, sizeof(cp), "%s/other.crt", d.path);
  FILE *f = fopen(cp, "w");
  assert_non_null(f);
  fputs("not a certificate\n", f);
  fclose(f);
  void *k3 = NULL;
  char *p3 = NULL;
  assert_int_not_equal(
      certhub_notify_signing_load(kp, cp, NULL, &k3, &p3, why, sizeof(why)),
      CH_OK);
  assert_non_null(strstr(why, "other.crt"));
  assert_int_equal(
      certhub_notify_signing_load(kp, NULL, NULL, &k3, &p3, why, sizeof(why)),
      CH_ERR_CONFIG);
  EVP_PKEY_free(pub);
  X509_free(x);
  BIO_free(b);
  certhub_notify_signing_free(key);
  certhub_notify_signing_free(key2);
  free(pem);
  free(pem2);
  tdir_remove(&d);
}

static void test_policy_defaults(void **state)
{
  (void)state;
  certhub_delivery_policy p;
  certhub_delivery_policy_default(&p);
  /* SNS: three retries, 20 s apart. */
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 1), 20000);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 2), 20000);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 3), 20000);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 4), -1);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 0), -1);
  assert_int_equal(p.max_per_second, 0);
}

static void test_policy_phases(void **state)
{
  (void)state;
  certhub_delivery_policy p;
  char why[256];
  certhub_delivery_policy_default(&p);
  assert_int_equal(
      certhub_delivery_policy_parse(
          "{\"healthyRetryPolicy\":{\"numRetries\":9,\"numNoDelayRetries\":2,"
          "\"numMinDelayRetries\":1,\"numMaxDelayRetries\":2,"
          "\"minDelayTarget\":1,\"maxDelayTarget\":9,"
          "\"backoffFunction\":\"linear\"},"
          "\"throttlePolicy\":{\"maxReceivesPerSecond\":5}}",
          &p, why, sizeof(why)),
      CH_OK);
  /* 2 immediate, 1 at min, backoff 1 s .. 9 s over 4, 2 at max. */
  const int64_t want[] = {0, 0, 1000, 1000, 3667, 6333, 9000, 9000, 9000};
  for(unsigned i = 0; i < 9; i++)
    assert_int_equal(certhub_delivery_policy_delay_ms(&p, i + 1), want[i]);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 10), -1);
  assert_int_equal(p.max_per_second, 5);

  /* Every backoff function runs from min to max without going back. */
  const char *fn[] = {"linear", "arithmetic", "geometric", "exponential"};
  int64_t mid[4];
  for(int k = 0; k < 4; k++) {
    char json[256];
    certhub_delivery_policy_default(&p);
    snprintf(json, sizeof(json),
             "{\"healthyRetryPolicy\":{\"numRetries\":10,"
             "\"minDelayTarget\":2,\"maxDelayTarget\":200,"
             "\"backoffFunction\":\"%s\"}}",
             fn[k]);
    assert_int_equal(certhub_delivery_policy_parse(json, &p, why, sizeof(why)),
                     CH_OK);
    assert_int_equal(p.backoff, (certhub_backoff)k);
    assert_int_equal(certhub_delivery_policy_delay_ms(&p, 1), 2000);
    assert_int_equal(certhub_delivery_policy_delay_ms(&p, 10), 200000);
    for(unsigned r = 2; r <= 10; r++)
      assert_true(certhub_delivery_policy_delay_ms(&p, r) >=
                  certhub_delivery_policy_delay_ms(&p, r - 1));
    mid[k] = certhub_delivery_policy_delay_ms(&p, 5);
  }
  /* The shapes differ: geometric and exponential start slower than
   * linear, arithmetic in between. */
  assert_true(mid[1] < mid[0]);
  assert_true(mid[2] < mid[1]);
  assert_true(mid[3] < mid[2]);

  /* A topic policy nests the same under "http". */
  certhub_delivery_policy_default(&p);
  assert_int_equal(
      certhub_delivery_policy_parse(
          "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":1,"
          "\"minDelayTarget\":5,\"maxDelayTarget\":5}}}",
          &p, why, sizeof(why)),
      CH_OK);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 1), 5000);
  assert_int_equal(certhub_delivery_policy_delay_ms(&p, 2), -1);
}

static void test_policy_limits(void **state)
{
  (void)state;
  static const struct {
    const char *json;
    const char *why;
  } bad[] = {
      {"not json", "not JSON"},
      {"[1]", "must be a JSON object"},
      {"{\"healthyRetryPolicy\":{\"numRetries\":101}}", "numRetries"},
      {"{\"healthyRetryPolicy\":{\"minDelayTarget\":0}}", "minDelayTarget"},
      {"{\"healthyRetryPolicy\":{\"maxDelayTarget\":3601}}", "maxDelayTarget"},
      {"{\"healthyRetryPolicy\":{\"minDelayTarget\":30,"
       "\"maxDelayTarget\":20}}",
       "greater than"},
      {"{\"healthyRetryPolicy\":{\"numRetries\":2,\"numNoDelayRetries\":3}}",
       "exceed numRetries"},
      {"{\"healthyRetryPolicy\":{\"numRetries\":3,\"minDelayTarget\":3600,"
       "\"maxDelayTarget\":3600}}",
       "3600 s"},
      {"{\"healthyRetryPolicy\":{\"backoffFunction\":\"cubic\"}}",
       "backoffFunction"},
      {"{\"healthyRetryPolicy\":{\"numRetries\":\"3\"}}", "numRetries"},
      {"{\"healthyRetryPolicy\":{\"numRetrys\":3}}", "numRetrys"},
      {"{\"throttlePolicy\":{\"maxReceivesPerSecond\":0}}",
       "maxReceivesPerSecond"},
      {"{\"http\":{},\"x\":1}", "only member"},
      {"{\"healthyRetryPolicy\":{\"numRetries\":1,\"numRetries\":2}}",
       "not JSON"},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
    certhub_delivery_policy p;
    char why[256] = "";
    certhub_delivery_policy_default(&p);
    assert_int_not_equal(
        certhub_delivery_policy_parse(bad[i].json, &p, why, sizeof(why)),
        CH_OK);
    if(!strstr(why, bad[i].why))
      fail_msg("%s: '%s' lacks '%s'", bad[i].json, why, bad[i].why);
  }
}

static ch_err count_cb(void *ctx, const certhub_sns_delivery *d)
{
  (void)d;
  ++*(size_t *)ctx;
  return CH_OK;
}

static size_t n_deliveries(certhub_store *s)
{
  size_t n = 0;
  certhub_sns_delivery_filter f = {.status = CERTHUB_DLV_PENDING};
  assert_int_equal(certhub_deliveries(s, &f, count_cb, &n), CH_OK);
  return n;
}

static void test_fanout_idempotent(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  char arn[CERTHUB_SUB_ARN_MAX], id[CERTHUB_MESSAGE_ID_LEN + 1];
  bool pending = true;
  uint64_t n = 0;
  assert_int_equal(certhub_topic_create(s, "t", NULL, NULL, NULL, T_NOW, NULL),
                   CH_OK);
  /* A message before any subscription is history, not a delivery. */
  assert_int_equal(
      certhub_topic_publish(s, "t", NULL, "early", 5, T_NOW - 1, id), CH_OK);
  assert_int_equal(certhub_subscribe(s, "t", "file", "/tmp/a.jsonl", NULL,
                                     false, T_NOW, arn, &pending),
                   CH_OK);
  assert_false(pending); /* file needs no confirmation */
  assert_int_equal(certhub_subscribe(s, "t", "command", "/bin/true", NULL,
                                     false, T_NOW, arn, &pending),
                   CH_OK);
  /* http waits for confirmation: a confirmation delivery, no fan-out. */
  assert_int_equal(certhub_subscribe(s, "t", "http", "http://127.0.0.1:1/",
                                     NULL, false, T_NOW, arn, &pending),
                   CH_OK);
  assert_true(pending);
  assert_int_equal(n_deliveries(s), 1);
  /* Subscribe again: the same subscription (SNS is idempotent). */
  char arn2[CERTHUB_SUB_ARN_MAX];
  assert_int_equal(certhub_subscribe(s, "t", "http", "http://127.0.0.1:1/",
                                     NULL, false, T_NOW, arn2, &pending),
                   CH_OK);
  assert_string_equal(arn, arn2);
  assert_int_equal(n_deliveries(s), 1);

  for(int i = 0; i < 3; i++)
    assert_int_equal(
        certhub_topic_publish(s, "t", NULL, "m", 1, T_NOW + 10, id), CH_OK);
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 6); /* 3 messages x 2 confirmed subscriptions */
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 0);
  /* Even with the cursor lost, no row is made twice. */
  free(t_query(s, "UPDATE notify_fanout SET last_message = 0"));
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(n_deliveries(s), 7);

  /* A failure halfway leaves nothing half done: the cursor stays. */
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "x", 1, T_NOW + 20, id),
                   CH_OK);
  free(t_query(s, "CREATE TRIGGER boom BEFORE INSERT ON deliveries"
                  " WHEN NEW.sub_id = (SELECT max(id) FROM subscriptions"
                  " WHERE protocol = 'command')"
                  " BEGIN SELECT RAISE(ABORT, 'injected'); END"));
  assert_int_not_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n_deliveries(s), 7);
  free(t_query(s, "DROP TRIGGER boom"));
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 2);
  assert_int_equal(n_deliveries(s), 9);

  /* Confirmed after a message was published: that message is not its. */
  char tok[128];
  char *t = t_query(s, "SELECT token FROM subscriptions WHERE protocol ="
                       " 'http'");
  snprintf(tok, sizeof(tok), "%s", t);
  free(t);
  assert_int_equal(
      certhub_subscription_confirm(s, "t", "wrong", T_NOW + 30, arn2),
      CH_ERR_NOTFOUND);
  assert_int_equal(certhub_subscription_confirm(s, "t", tok, T_NOW + 30, arn2),
                   CH_OK);
  assert_string_equal(arn, arn2);
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(certhub_topic_publish(s, "t", NULL, "y", 1, T_NOW + 30, id),
                   CH_OK);
  assert_int_equal(certhub_notify_fanout(s, 1000, &n), CH_OK);
  assert_int_equal(n, 3);

  /* Bad input names the problem. */
  assert_int_equal(
      certhub_subscribe(s, "t", "gopher", "x", NULL, false, T_NOW, arn, NULL),
      CH_ERR_USAGE);
  assert_non_null(strstr(certhub_store_errmsg(s), "unknown protocol"));
  assert_int_equal(certhub_subscribe(s, "t", "http", "ftp://x/", NULL, false,
                                     T_NOW, arn, NULL),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_subscribe(s, "nope", "file", "/tmp/x", NULL, false,
                                     T_NOW, arn, NULL),
                   CH_ERR_NOTFOUND);
  assert_int_equal(certhub_subscribe(s, "t", "file", "/tmp/y",
                                     "{\"DeliveryPolicy\":\"{}x\"}", false,
                                     T_NOW, arn, NULL),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_subscribe(s, "t", "file", "/tmp/y",
                                     "{\"RawMessageDelivery\":\"yes\"}", false,
                                     T_NOW, arn, NULL),
                   CH_ERR_USAGE);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sns_vector),
      cmocka_unit_test(test_confirmation_order),
      cmocka_unit_test(test_sign_roundtrip),
      cmocka_unit_test(test_policy_defaults),
      cmocka_unit_test(test_policy_phases),
      cmocka_unit_test(test_policy_limits),
      cmocka_unit_test(test_fanout_idempotent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
