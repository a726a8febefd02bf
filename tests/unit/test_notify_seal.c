/*
 * Sealed message bodies: round trips, the AAD binding to topic and
 * MessageId, tampering anywhere, the wrong key, truncation, and key
 * files (forms, permissions, keygen).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "certhub/notify.h"
#include "certhub/notify_seal.h"
#include "certhub/store.h"
#include "certhub/store_hub.h"

#define TOPIC "arn:certhub:sns:local:000000000000:certificate-expiry"
#define MID "0b7c6f44-1d2e-4c55-9a1b-3f1e2d3c4b5a"

static certhub_seal_key *key_of(uint8_t fill)
{
  uint8_t k[CERTHUB_SEAL_KEY_LEN];
  certhub_seal_key *key = NULL;
  memset(k, fill, sizeof(k));
  assert_int_equal(certhub_seal_key_from_bytes(k, sizeof(k), &key), CH_OK);
  return key;
}

static void expect_open_fails(const certhub_seal_key *k, const char *topic,
                              const char *mid, const uint8_t *p, size_t n,
                              ch_err want, const char *needle)
{
  char *plain = NULL, *why = NULL;
  size_t plen = 0;
  ch_err rc = certhub_seal_open(k, topic, mid, p, n, &plain, &plen, &why);
  if(rc != want)
    fail_msg("open: rc %d, want %d (%s)", rc, want, why ? why : "");
  assert_null(plain);
  if(!why || !strstr(why, needle))
    fail_msg("open: [%s] lacks [%s]", why ? why : "", needle);
  free(why);
}

static void test_roundtrip(void **state)
{
  (void)state;
  certhub_seal_key *k = key_of(7);
  const char *msg = "{\"detail\":{\"CommonName\":\"www.example.com\"}}";
  uint8_t *s1 = NULL, *s2 = NULL;
  size_t n1 = 0, n2 = 0, plen = 0;
  char *plain = NULL, *why = NULL;
  assert_int_equal(certhub_seal(k, TOPIC, MID, msg, strlen(msg), &s1, &n1),
                   CH_OK);
  assert_int_equal(n1, strlen(msg) + CERTHUB_SEAL_OVERHEAD);
  assert_true(certhub_seal_is_sealed(s1, n1));
  assert_false(certhub_seal_is_sealed(msg, strlen(msg)));
  /* the plaintext is not in the sealed form */
  assert_null(memmem(s1, n1, "www.example.com", 15));
  /* a fresh nonce every time */
  assert_int_equal(certhub_seal(k, TOPIC, MID, msg, strlen(msg), &s2, &n2),
                   CH_OK);
  assert_int_equal(n1, n2);
  assert_memory_not_equal(s1 + 12, s2 + 12, 12);
  assert_int_equal(
      certhub_seal_open(k, TOPIC, MID, s1, n1, &plain, &plen, &why), CH_OK);
  assert_int_equal(plen, strlen(msg));
  assert_string_equal(plain, msg);
  free(plain);
  free(s1);
  free(s2);
  /* an empty body */
  assert_int_equal(certhub_seal(k, TOPIC, MID, "", 0, &s1, &n1), CH_OK);
  assert_int_equal(n1, CERTHUB_SEAL_OVERHEAD);
  assert_int_equal(
      certhub_seal_open(k, TOPIC, MID, s1, n1, &plain, &plen, &why), CH_OK);
  assert_int_equal(plen, 0);
  assert_string_equal(plain, "");
  free(plain);
  free(s1);
  certhub_seal_key_free(k);
}

static void test_binding_and_tamper(void **state)
{
  (void)state;
  certhub_seal_key *k = key_of(1), *other = key_of(2);
  const char *msg = "a body worth protecting";
  uint8_t *s = NULL;
  size_t n = 0;
  assert_int_equal(certhub_seal(k, TOPIC, MID, msg, strlen(msg), &s, &n),
                   CH_OK);
  /* moved to another topic or message row */
  expect_open_fails(k, TOPIC "x", MID, s, n, CH_ERR_PASSWORD,
                    "authentication failed");
  expect_open_fails(k, TOPIC, "0b7c6f44-1d2e-4c55-9a1b-3f1e2d3c4b5b", s, n,
                    CH_ERR_PASSWORD, "belongs to another topic or message");
  /* the AAD separates topic and id: no shifting bytes between them */
  expect_open_fails(k, "arn:certhub:sns:local:000000000000:certificate-expir",
                    "y" MID, s, n, CH_ERR_PASSWORD, "authentication failed");
  /* every byte past the magic and version, flipped */
  for(size_t i = 4; i < n; i++) {
    s[i] ^= 0x40;
    char *plain = NULL, *why = NULL;
    size_t plen = 0;
    ch_err rc = certhub_seal_open(k, TOPIC, MID, s, n, &plain, &plen, &why);
    if(rc != CH_ERR_PASSWORD)
      fail_msg("byte %zu flipped: rc %d", i, rc);
    assert_null(plain);
    free(why);
    s[i] ^= 0x40;
  }
  /* another key: named as such, with both ids */
  char kid[17], oid[17], needle[128];
  certhub_seal_key_id(k, kid);
  certhub_seal_key_id(other, oid);
  assert_string_not_equal(kid, oid);
  snprintf(needle, sizeof(needle),
           "sealed under key %s, not under this key "
           "(%s)",
           kid, oid);
  expect_open_fails(other, TOPIC, MID, s, n, CH_ERR_PASSWORD, needle);
  /* truncated, not sealed, another version */
  expect_open_fails(k, TOPIC, MID, s, CERTHUB_SEAL_OVERHEAD - 1,
                    CH_ERR_TRUNCATED, "truncated");
  expect_open_fails(k, TOPIC, MID, s, n - 1, CH_ERR_PASSWORD,
                    "authentication failed");
  expect_open_fails(k, TOPIC, MID, (const uint8_t *)msg, strlen(msg),
                    CH_ERR_PARSE, "not a sealed body");
  expect_open_fails(k, TOPIC, MID, s, 2, CH_ERR_PARSE, "not a sealed body");
  s[3] = 9;
  expect_open_fails(k, TOPIC, MID, s, n, CH_ERR_PARSE,
                    "unknown format version 9");
  free(s);
  certhub_seal_key_free(k);
  certhub_seal_key_free(other);
}

static void write_file(const char *path, const void *p, size_t n, mode_t m)
{
  unlink(path);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
  assert_int_equal(chmod(path, m), 0);
}

static void test_key_files(void **state)
{
  (void)state;
  char dir[] = "/tmp/test_seal.XXXXXX", path[128], cmd[160];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/key", dir);
  certhub_seal_key *k = NULL, *ref = key_of(0xab);
  char *why = NULL, rid[17], id[17];
  certhub_seal_key_id(ref, rid);
  /* the three forms of one key */
  uint8_t raw[CERTHUB_SEAL_KEY_LEN];
  memset(raw, 0xab, sizeof(raw));
  const char *hex =
      "  abababababababababababababababababababababababababababab"
      "abababab\n";
  const char *b64 = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n";
  const void *forms[] = {raw, hex, b64};
  size_t lens[] = {sizeof(raw), strlen(hex), strlen(b64)};
  for(int i = 0; i < 3; i++) {
    write_file(path, forms[i], lens[i], 0600);
    if(certhub_seal_key_load(path, &k, &why))
      fail_msg("form %d: %s", i, why ? why : "?");
    certhub_seal_key_id(k, id);
    assert_string_equal(id, rid);
    certhub_seal_key_free(k);
  }
  /* not a key */
  const char *bad[] = {"short", "zzabababababababababababababababababababab"
                                "abababababababababababab"};
  for(int i = 0; i < 2; i++) {
    write_file(path, bad[i], strlen(bad[i]), 0600);
    assert_int_equal(certhub_seal_key_load(path, &k, &why), CH_ERR_PARSE);
    assert_null(k);
    assert_non_null(strstr(why, "not a key"));
    free(why);
    why = NULL;
  }
  /* lying open */
  write_file(path, hex, strlen(hex), 0644);
  assert_int_equal(certhub_seal_key_load(path, &k, &why), CH_ERR_USAGE);
  assert_non_null(strstr(why, "readable or writable by group or others "
                              "(mode 0644)"));
  free(why);
  why = NULL;
  /* missing */
  unlink(path);
  assert_int_equal(certhub_seal_key_load(path, &k, &why), CH_ERR_IO);
  free(why);
  why = NULL;
  /* keygen: 0600, a loadable key, never overwritten */
  assert_int_equal(certhub_seal_keygen(path, &why), CH_OK);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(st.st_size, 65);
  assert_int_equal(certhub_seal_key_load(path, &k, &why), CH_OK);
  certhub_seal_key_id(k, id);
  assert_string_not_equal(id, rid);
  assert_int_equal(certhub_seal_keygen(path, &why), CH_ERR_IO);
  assert_non_null(strstr(why, "never overwritten"));
  free(why);
  why = NULL;
  certhub_seal_key *k2 = NULL;
  assert_int_equal(certhub_seal_key_load(path, &k2, &why), CH_OK);
  certhub_seal_key_id(k2, rid);
  assert_string_equal(id, rid); /* unchanged */
  certhub_seal_key_free(k);
  certhub_seal_key_free(k2);
  certhub_seal_key_free(ref);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

typedef struct seen {
  char body[4][256];
  bool sealed[4];
  char id[4][64];
  size_t n;
} seen;

static ch_err collect(void *ctx, const certhub_message *m)
{
  seen *x = ctx;
  assert_true(x->n < 4);
  snprintf(x->body[x->n], sizeof(x->body[0]), "%.*s", (int)m->len, m->message);
  x->sealed[x->n] = m->sealed;
  snprintf(x->id[x->n], sizeof(x->id[0]), "%s", m->message_id);
  x->n++;
  return CH_OK;
}

/* The topic message log with sealed bodies, over a real SQLite store. */
static void test_sealed_topic(void **state)
{
  (void)state;
  char dir[] = "/tmp/test_seal_topic.XXXXXX", db[128], cmd[160];
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof(db), "%s/db", dir);
  certhub_store *s = NULL;
  char *err = NULL, id1[CERTHUB_MESSAGE_ID_LEN + 1],
       id2[CERTHUB_MESSAGE_ID_LEN + 1], id3[CERTHUB_MESSAGE_ID_LEN + 1];
  assert_int_equal(certhub_store_open(db, &s, &err), CH_OK);
  assert_int_equal(
      certhub_topic_create(s, "alerts", NULL, NULL, NULL, 1, NULL), CH_OK);
  certhub_seal_key *k = key_of(3), *other = key_of(4);
  const char *secret = "certificate www.example.com: key at /srv/secret.pem";
  assert_int_equal(certhub_topic_publish_sealed(s, "alerts", "expiring",
                                                secret, strlen(secret), 2, k,
                                                id1),
                   CH_OK);
  assert_int_equal(
      certhub_topic_publish_sealed(s, "alerts", NULL, "second", 6, 3, k, id2),
      CH_OK);
  /* a plain message in the same log */
  assert_int_equal(
      certhub_topic_publish(s, "alerts", NULL, "plain", 5, 4, id3), CH_OK);
  /* the same checks as Publish */
  assert_int_equal(
      certhub_topic_publish_sealed(s, "nope", NULL, "x", 1, 5, k, id3),
      CH_ERR_NOTFOUND);
  assert_int_equal(
      certhub_topic_publish_sealed(s, "alerts", NULL, "", 0, 5, k, id3),
      CH_ERR_PARSE);
  /* raw: sealed rows hold no plain text */
  seen raw = {0};
  assert_int_equal(certhub_topic_messages(s, "alerts", 0, collect, &raw),
                   CH_OK);
  assert_int_equal(raw.n, 3);
  assert_false(raw.sealed[0]);
  assert_true(raw.sealed[1] && raw.sealed[2]);
  assert_string_equal(raw.body[0], "plain");
  /* opened with the key */
  seen open = {0};
  assert_int_equal(
      certhub_topic_messages_open(s, "alerts", 0, k, collect, &open), CH_OK);
  assert_int_equal(open.n, 3);
  assert_string_equal(open.body[0], "plain");
  assert_string_equal(open.body[1], "second");
  assert_string_equal(open.body[2], secret);
  assert_false(open.sealed[2]);
  /* no key, the wrong key */
  seen x = {0};
  assert_int_equal(
      certhub_topic_messages_open(s, "alerts", 0, NULL, collect, &x),
      CH_ERR_USAGE);
  assert_non_null(strstr(certhub_store_errmsg(s), "is sealed"));
  x.n = 0;
  assert_int_equal(
      certhub_topic_messages_open(s, "alerts", 0, other, collect, &x),
      CH_ERR_PASSWORD);
  assert_non_null(strstr(certhub_store_errmsg(s), "not under this key"));
  certhub_store_close(s);
  s = NULL;
  /* swap the two sealed bodies between their rows: neither opens */
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  char sql[512];
  snprintf(sql, sizeof(sql),
           "UPDATE topic_messages SET message = CASE message_id"
           " WHEN '%s' THEN (SELECT message FROM topic_messages WHERE"
           " message_id = '%s') ELSE (SELECT message FROM topic_messages"
           " WHERE message_id = '%s') END WHERE message_id IN ('%s', '%s')",
           id1, id2, id1, id1, id2);
  assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  assert_int_equal(certhub_store_open(db, &s, &err), CH_OK);
  x.n = 0;
  assert_int_equal(certhub_topic_messages_open(s, "alerts", 0, k, collect, &x),
                   CH_ERR_PASSWORD);
  assert_non_null(strstr(certhub_store_errmsg(s), "authentication failed"));
  certhub_store_close(s);
  certhub_seal_key_free(k);
  certhub_seal_key_free(other);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_binding_and_tamper),
      cmocka_unit_test(test_key_files),
      cmocka_unit_test(test_sealed_topic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
