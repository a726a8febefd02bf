/* Store: endpoints and probes (put_probe, list, resolve, describe). */
#include "test_store_util.h"

/* DER of the certificates in one PEM file of tests/data/certs. */
typedef struct tchain {
  uint8_t *der[8];
  size_t len[8];
  size_t n;
} tchain;

static ch_err on_cert(void *ctx, certhub_cert *c, unsigned position)
{
  tchain *ch = ctx;
  (void)position;
  assert_true(ch->n < 8);
  ch->der[ch->n] = malloc(c->der_len);
  assert_non_null(ch->der[ch->n]);
  memcpy(ch->der[ch->n], c->der, c->der_len);
  ch->len[ch->n++] = c->der_len;
  certhub_cert_free(c);
  return CH_OK;
}

static void on_error(void *ctx, unsigned position, ch_err err,
                     const char *reason)
{
  (void)ctx;
  fail_msg("cert %u: %s: %s", position, certhub_strerror(err), reason);
}

static void chain_load(tchain *ch, const char *name)
{
  const char *dir = getenv("CERTHUB_TEST_DATA");
  char path[512];
  snprintf(path, sizeof(path), "%s/certs/%s", dir ? dir : "tests/data", name);
  FILE *f = fopen(path, "rb");
  if(!f)
    fail_msg("cannot open %s", path);
  static uint8_t buf[1 << 16];
  size_t len = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  memset(ch, 0, sizeof(*ch));
  certhub_read_opts o = {0};
  assert_int_equal(
      certhub_read_buffer(buf, len, &o, on_cert, on_error, ch, NULL), CH_OK);
}

static void chain_free(tchain *ch)
{
  for(size_t i = 0; i < ch->n; i++)
    free(ch->der[i]);
}

static char *owner_key[] = {"owner"};
static char *owner_val[] = {"team-a"};

static certhub_target target(const char *spec, const char *host, uint16_t port)
{
  certhub_target t = {
      .spec = (char *)spec, .host = (char *)host, .port = port};
  t.tag_keys = owner_key;
  t.tag_values = owner_val;
  t.n_tags = 1;
  return t;
}

/* A successful result presenting ch. */
static certhub_probe_result ok_result(const certhub_target *t, tchain *ch,
                                      int64_t started)
{
  certhub_probe_result r = {
      .target = t,
      .address = "127.0.0.1:443",
      .status = CERTHUB_PROBE_OK,
      .reason = "",
      .started = started,
      .connect_us = 150,
      .handshake_us = 2500,
      .total_us = 3000,
      .tls_version = 0x0304,
      .tls_version_name = "TLSv1.3",
      .cipher = "TLS_AES_128_GCM_SHA256",
      .chain_n = ch->n,
      .chain_der = (const uint8_t *const *)ch->der,
      .chain_len = ch->len,
  };
  r.check.trusted = false;
  r.check.problems =
      CERTHUB_CHAIN_UNKNOWN_ISSUER | CERTHUB_CHAIN_MISSING_INTERMEDIATE;
  snprintf(r.check.verify_error, sizeof(r.check.verify_error), "%s",
           "unable to get local issuer certificate");
  r.check.hostname_match = true;
  r.check.earliest_not_after = 1900000000;
  r.check.earliest_index = 1;
  r.check.ocsp = CERTHUB_OCSP_GOOD;
  return r;
}

static certhub_probe_result failed_result(const certhub_target *t,
                                          certhub_probe_status st,
                                          int64_t started)
{
  certhub_probe_result r = {
      .target = t,
      .address = "127.0.0.1:443",
      .status = st,
      .reason = "connection refused",
      .started = started,
      .tls_version_name = "",
      .cipher = "",
  };
  return r;
}

static int64_t put(certhub_store *s, const certhub_probe_result *r,
                   const char *locator, int64_t now)
{
  int64_t id = 0;
  ch_err rc = certhub_store_put_probe(s, r, locator, NULL, now, &id);
  if(rc)
    fail_msg("put_probe %s: %s", locator, certhub_store_errmsg(s));
  assert_true(id > 0);
  return id;
}

/* ---- callbacks ---------------------------------------------------- */

typedef struct eps {
  size_t n;
  char locator[8][128];
  int status[8];
  unsigned problems[8];
  char owner[8][32];
  uint16_t tls[8];
  int64_t earliest[8];
  bool has_probe[8];
} eps;

static ch_err ep_cb(void *ctx, const certhub_endpoint_row *e)
{
  eps *o = ctx;
  assert_true(o->n < 8);
  size_t i = o->n++;
  snprintf(o->locator[i], sizeof(o->locator[i]), "%s", e->locator);
  o->has_probe[i] = e->has_probe;
  o->status[i] = e->has_probe ? (int)e->last.status : -1;
  o->problems[i] = e->last.problems;
  o->tls[i] = e->last.tls_version;
  o->earliest[i] = e->last.earliest_not_after;
  o->owner[i][0] = '\0';
  for(size_t k = 0; k < e->n_tags; k++)
    if(!strcmp(e->tags[k].key, "owner"))
      snprintf(o->owner[i], sizeof(o->owner[i]), "%s", e->tags[k].value);
  return CH_OK;
}

typedef struct det {
  size_t chain_n;
  char chain_cn[8][64];
  unsigned chain_pos[8];
  size_t n_history;
  int hist_status[64];
  int64_t hist_id[64];
  char locator[128];
  char cipher[64];
} det;

static ch_err det_cb(void *ctx, const certhub_endpoint_detail *d)
{
  det *o = ctx;
  snprintf(o->locator, sizeof(o->locator), "%s", d->ep.locator);
  snprintf(o->cipher, sizeof(o->cipher), "%s",
           d->ep.has_probe ? d->ep.last.cipher : "");
  o->chain_n = d->chain_n;
  for(size_t i = 0; i < d->chain_n && i < 8; i++) {
    snprintf(o->chain_cn[i], sizeof(o->chain_cn[i]), "%s",
             d->chain[i].common_name ? d->chain[i].common_name : "");
    o->chain_pos[i] = d->chain[i].position;
    assert_int_equal(strlen(d->chain[i].id), CERTHUB_ID_LEN);
  }
  o->n_history = d->n_history;
  for(size_t i = 0; i < d->n_history && i < 64; i++) {
    o->hist_status[i] = (int)d->history[i].status;
    o->hist_id[i] = d->history[i].id;
  }
  return CH_OK;
}

static void describe(certhub_store *s, const char *ref, size_t hist, det *o)
{
  int64_t id = 0;
  memset(o, 0, sizeof(*o));
  assert_int_equal(certhub_store_endpoint_resolve(s, ref, &id), CH_OK);
  assert_int_equal(certhub_store_endpoint_describe(s, id, hist, det_cb, o),
                   CH_OK);
}

/* ---- tests -------------------------------------------------------- */

static void ok_probe_is_a_scan(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  tdir_make(&d);
  chain_load(&ch, "chain.pem");
  assert_int_equal(ch.n, 3);
  certhub_store *s = t_open(d.db);
  certhub_target t = target("app.example.com", "app.example.com", 443);
  certhub_probe_result r = ok_result(&t, &ch, T_NOW);
  put(s, &r, "app.example.com:443", T_NOW);

  t_query_eq(s, "SELECT kind || ' ' || locator FROM sources",
             "endpoint app.example.com:443");
  t_query_eq(s, "SELECT count(*) FROM certs", "3");
  t_query_eq(s,
             "SELECT group_concat(c.common_name, '|') FROM (SELECT"
             " c.common_name FROM sightings s JOIN certs c ON c.id ="
             " s.cert_id WHERE s.present = 1 ORDER BY s.position) c",
             "app.example.com|Certhub Test Issuing CA|Certhub Test Root CA");
  t_query_eq(s,
             "SELECT count(*) FROM tags WHERE key = 'owner' AND"
             " value = 'team-a'",
             "3");
  t_query_eq(s, "SELECT count(*) FROM probe_chain", "3");
  t_query_eq(s,
             "SELECT status || ' ' || tls_version || ' ' || problems || ' ' ||"
             " ocsp_status || ' ' || hostname_match || ' ' || chain_n ||"
             " ' ' || length(chain_sha256) FROM probes",
             "0 772 5 1 1 3 64");
  t_query_eq(s, "SELECT address FROM endpoints", "127.0.0.1:443");

  eps e = {0};
  assert_int_equal(certhub_store_endpoints(s, NULL, ep_cb, &e), CH_OK);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.locator[0], "app.example.com:443");
  assert_int_equal(e.status[0], CERTHUB_PROBE_OK);
  assert_int_equal(e.tls[0], 0x0304);
  assert_int_equal(e.earliest[0], 1900000000);
  assert_string_equal(e.owner[0], "team-a");

  det o;
  describe(s, "app.example.com", 10, &o);
  assert_int_equal(o.chain_n, 3);
  assert_string_equal(o.chain_cn[0], "app.example.com");
  assert_int_equal(o.chain_pos[0], 1);
  assert_int_equal(o.chain_pos[2], 3);
  assert_int_equal(o.n_history, 1);
  assert_string_equal(o.cipher, "TLS_AES_128_GCM_SHA256");

  /* The same chain again: still three certs, two probes. */
  put(s, &r, "app.example.com:443", T_NOW + 60);
  t_query_eq(s, "SELECT count(*) FROM certs", "3");
  t_query_eq(s, "SELECT count(*) FROM probes", "2");
  t_query_eq(s, "SELECT count(DISTINCT chain_sha256) FROM probes", "1");
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

static void failed_probe_keeps_chain(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  tdir_make(&d);
  chain_load(&ch, "chain.pem");
  certhub_store *s = t_open(d.db);
  certhub_target t = target("app.example.com", "app.example.com", 443);
  certhub_probe_result r = ok_result(&t, &ch, T_NOW);
  int64_t first = put(s, &r, "app.example.com:443", T_NOW);
  /* Without tags this time: the endpoint keeps its owner. */
  certhub_target bare = t;
  bare.n_tags = 0;
  certhub_probe_result f =
      failed_result(&bare, CERTHUB_PROBE_REFUSED, T_NOW + 60);
  int64_t second = put(s, &f, "app.example.com:443", T_NOW + 60);

  t_query_eq(s, "SELECT count(*) FROM sightings WHERE present = 1", "3");
  t_query_eq(s, "SELECT count(*) FROM probe_chain", "3");
  t_query_eq(s, "SELECT reason FROM probes ORDER BY id DESC LIMIT 1",
             "connection refused");
  det o;
  describe(s, "app.example.com:443", 10, &o);
  assert_int_equal(o.chain_n, 3);
  assert_int_equal(o.n_history, 2);
  assert_int_equal(o.hist_id[0], second); /* newest first */
  assert_int_equal(o.hist_status[0], CERTHUB_PROBE_REFUSED);
  assert_int_equal(o.hist_id[1], first);
  assert_int_equal(o.hist_status[1], CERTHUB_PROBE_OK);

  eps e = {0};
  assert_int_equal(certhub_store_endpoints(s, NULL, ep_cb, &e), CH_OK);
  assert_int_equal(e.status[0], CERTHUB_PROBE_REFUSED);
  assert_int_equal(e.problems[0], 0); /* no chain, no check */
  assert_string_equal(e.owner[0], "team-a");
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

static void changed_chain_goes_absent_and_links_renewal(void **state)
{
  (void)state;
  tdir d;
  tchain a, b;
  tdir_make(&d);
  chain_load(&a, "renew-old.pem");
  chain_load(&b, "renew-new.pem");
  certhub_store *s = t_open(d.db);
  certhub_target t = target("smtp://mx.example.com", "mx.example.com", 25);
  t.starttls = "smtp";
  certhub_probe_result r = ok_result(&t, &a, T_NOW);
  put(s, &r, "smtp://mx.example.com:25", T_NOW);
  r = ok_result(&t, &b, T_NOW + T_DAY);
  put(s, &r, "smtp://mx.example.com:25", T_NOW + T_DAY);

  t_query_eq(s, "SELECT count(*) FROM sightings WHERE present = 1", "1");
  t_query_eq(s, "SELECT count(*) FROM sightings WHERE present = 0", "1");
  t_query_eq(s, "SELECT count(*) FROM renewals", "1");
  t_query_eq(s, "SELECT starttls FROM endpoints", "smtp");
  certhub_store_close(s);
  chain_free(&a);
  chain_free(&b);
  tdir_remove(&d);
}

static void history_is_bounded(void **state)
{
  (void)state;
  tdir d;
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  certhub_target t = target("db.example.com:5432", "db.example.com", 5432);
  int64_t last = 0;
  for(int i = 0; i < CERTHUB_PROBES_KEPT + 10; i++) {
    certhub_probe_result f =
        failed_result(&t, CERTHUB_PROBE_TIMEOUT, T_NOW + i);
    last = put(s, &f, "db.example.com:5432", T_NOW + i);
  }
  char want[32], sql[128];
  snprintf(want, sizeof(want), "%d", CERTHUB_PROBES_KEPT);
  t_query_eq(s, "SELECT count(*) FROM probes", want);
  snprintf(want, sizeof(want), "%lld", (long long)last);
  t_query_eq(s, "SELECT last_probe_id FROM endpoints", want);
  t_query_eq(s, "SELECT max(id) FROM probes", want);
  snprintf(sql, sizeof(sql), "SELECT min(started) FROM probes");
  snprintf(want, sizeof(want), "%lld", (long long)(T_NOW + 10));
  t_query_eq(s, sql, want);
  certhub_store_close(s);
  tdir_remove(&d);
}

static void resolve_and_filter(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  tdir_make(&d);
  chain_load(&ch, "leaf.pem");
  certhub_store *s = t_open(d.db);
  certhub_target a = target("web.example.com", "web.example.com", 443);
  certhub_target b = target("web.example.com:8443", "web.example.com", 8443);
  b.n_tags = 0;
  certhub_target c =
      target("10.0.0.1:443 sni=api.example.com", "10.0.0.1", 443);
  certhub_probe_result r = ok_result(&a, &ch, T_NOW);
  int64_t pa = put(s, &r, "web.example.com:443", T_NOW);
  (void)pa;
  certhub_probe_result f = failed_result(&b, CERTHUB_PROBE_TIMEOUT, T_NOW);
  put(s, &f, "web.example.com:8443", T_NOW);
  r = ok_result(&c, &ch, T_NOW);
  r.check.problems = CERTHUB_CHAIN_EXPIRED;
  put(s, &r, "10.0.0.1:443 sni=api.example.com", T_NOW);

  int64_t id = 0, id2 = 0;
  assert_int_equal(
      certhub_store_endpoint_resolve(s, "web.example.com:8443", &id), CH_OK);
  char ref[32];
  snprintf(ref, sizeof(ref), "#%lld", (long long)id);
  assert_int_equal(certhub_store_endpoint_resolve(s, ref, &id2), CH_OK);
  assert_int_equal(id, id2);
  snprintf(ref, sizeof(ref), "%lld", (long long)id);
  assert_int_equal(certhub_store_endpoint_resolve(s, ref, &id2), CH_OK);
  assert_int_equal(id, id2);
  /* Two endpoints on that host. */
  assert_int_equal(certhub_store_endpoint_resolve(s, "web.example.com", &id),
                   CH_OK); /* the spec of the first one is exact */
  assert_int_equal(certhub_store_endpoint_resolve(s, "10.0.0.1:443", &id),
                   CH_OK); /* locator prefix */
  assert_int_equal(certhub_store_endpoint_resolve(s, "nope", &id),
                   CH_ERR_NOTFOUND);
  assert_non_null(strstr(certhub_store_errmsg(s), "nope"));
  assert_int_equal(certhub_store_endpoint_resolve(s, "", &id), CH_ERR_USAGE);

  eps e = {0};
  certhub_endpoint_filter fl = {.status = CERTHUB_PROBE_TIMEOUT};
  assert_int_equal(certhub_store_endpoints(s, &fl, ep_cb, &e), CH_OK);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.locator[0], "web.example.com:8443");
  memset(&e, 0, sizeof(e));
  fl = (certhub_endpoint_filter){.status = -1,
                                 .problems = CERTHUB_CHAIN_EXPIRED};
  assert_int_equal(certhub_store_endpoints(s, &fl, ep_cb, &e), CH_OK);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.locator[0], "10.0.0.1:443 sni=api.example.com");
  memset(&e, 0, sizeof(e));
  fl = (certhub_endpoint_filter){.status = -1, .owner = "team-a"};
  assert_int_equal(certhub_store_endpoints(s, &fl, ep_cb, &e), CH_OK);
  assert_int_equal(e.n, 2); /* b has no tags */
  memset(&e, 0, sizeof(e));
  assert_int_equal(certhub_store_endpoints(s, NULL, ep_cb, &e), CH_OK);
  assert_int_equal(e.n, 3);
  assert_string_equal(e.locator[0], "10.0.0.1:443 sni=api.example.com");
  assert_string_equal(e.locator[2], "web.example.com:8443");
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

static void failure_rolls_back_everything(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  tdir_make(&d);
  chain_load(&ch, "chain.pem");
  certhub_store *s = t_open(d.db);
  certhub_target t = target("app.example.com", "app.example.com", 443);
  certhub_probe_result r = ok_result(&t, &ch, T_NOW);
  /* The chain rows cannot be written: the whole probe must vanish. */
  free(t_query(s, "DROP TABLE probe_chain"));
  assert_int_not_equal(
      certhub_store_put_probe(s, &r, "app.example.com:443", NULL, T_NOW, NULL),
      CH_OK);
  assert_non_null(strstr(certhub_store_errmsg(s), "probe_chain"));
  t_query_eq(s, "SELECT count(*) FROM endpoints", "0");
  t_query_eq(s, "SELECT count(*) FROM probes", "0");
  t_query_eq(s, "SELECT count(*) FROM sources", "0");
  t_query_eq(s, "SELECT count(*) FROM certs", "0");

  /* Bad arguments are refused before any work. */
  assert_int_equal(certhub_store_put_probe(s, &r, "", NULL, T_NOW, NULL),
                   CH_ERR_USAGE);
  assert_int_equal(certhub_store_put_probe(s, NULL, "x:1", NULL, T_NOW, NULL),
                   CH_ERR_USAGE);
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

/* A certificate already stored is refreshed without a parse: the same
 * effect as put_cert's update (last_seen, sighting, tags, label account),
 * and a known certificate presented by a new endpoint is sighted there. */
static void known_cert_is_refreshed(void **state)
{
  (void)state;
  tdir d;
  tchain ch;
  tdir_make(&d);
  chain_load(&ch, "chain.pem");
  certhub_store *s = t_open(d.db);
  certhub_target t = target("app.example.com", "app.example.com", 443);
  certhub_probe_result r = ok_result(&t, &ch, T_NOW);
  put(s, &r, "app.example.com:443", T_NOW);
  t_query_eq(s, "SELECT count(*) FROM certs WHERE last_seen = first_seen",
             "3");
  /* Again, later, with labels: account set, new tag on every cert. */
  const char *k[] = {"env"}, *v[] = {"prod"};
  certhub_labels l = {.account = "123456789012", .tag_keys = k,
                      .tag_values = v, .n_tags = 1};
  assert_int_equal(certhub_store_put_probe(s, &r, "app.example.com:443", &l,
                                           T_NOW + 3600, NULL),
                   CH_OK);
  t_query_eq(s, "SELECT count(*) FROM certs", "3");
  t_query_eq(s,
             "SELECT count(*) FROM certs WHERE last_seen = first_seen + 3600"
             " AND account = '123456789012' AND region = 'local'",
             "3");
  t_query_eq(s, "SELECT count(*) FROM tags WHERE key = 'env'", "3");
  t_query_eq(s,
             "SELECT count(*) FROM sightings WHERE present = 1 AND last_seen"
             " = first_seen + 3600 AND last_scan_id = (SELECT max(id) FROM"
             " scans)",
             "3");
  t_query_eq(s, "SELECT count(*) FROM probe_chain", "6");
  /* Another endpoint presenting the same chain: sighted there too. */
  certhub_target t2 = target("b.example.com", "b.example.com", 443);
  certhub_probe_result r2 = ok_result(&t2, &ch, T_NOW);
  put(s, &r2, "b.example.com:443", T_NOW + 7200);
  t_query_eq(s, "SELECT count(*) FROM sightings WHERE present = 1", "6");
  t_query_eq(s, "SELECT count(DISTINCT position) FROM sightings", "3");
  certhub_store_close(s);
  chain_free(&ch);
  tdir_remove(&d);
}

/* The persistent chain check cache: get/put by (trust, chain), replace,
 * copy semantics, last_used refreshed at most daily, expiry on put. */
static void chain_checks(void **state)
{
  (void)state;
  tdir d;
  uint8_t t1[32], t2[32], k1[32], k2[32];
  const uint8_t *b = NULL;
  size_t n = 0;
  bool found = true;
  memset(t1, 1, 32);
  memset(t2, 2, 32);
  memset(k1, 0xa1, 32);
  memset(k2, 0xa2, 32);
  tdir_make(&d);
  certhub_store *s = t_open(d.db);
  assert_int_equal(
      certhub_store_chain_check_get(s, t1, k1, T_NOW, &b, &n, &found), CH_OK);
  assert_false(found);
  assert_null(b);
  assert_int_equal(n, 0);
  assert_int_equal(
      certhub_store_chain_check_put(s, t1, k1, (const uint8_t *)"one", 3,
                                    T_NOW),
      CH_OK);
  assert_int_equal(
      certhub_store_chain_check_get(s, t1, k1, T_NOW, &b, &n, &found), CH_OK);
  assert_true(found);
  assert_int_equal(n, 3);
  assert_memory_equal(b, "one", 3);
  /* Another trust or another chain: a miss. */
  assert_int_equal(
      certhub_store_chain_check_get(s, t2, k1, T_NOW, &b, &n, &found), CH_OK);
  assert_false(found);
  assert_int_equal(
      certhub_store_chain_check_get(s, t1, k2, T_NOW, &b, &n, &found), CH_OK);
  assert_false(found);
  /* Replace. */
  assert_int_equal(
      certhub_store_chain_check_put(s, t1, k1, (const uint8_t *)"second", 6,
                                    T_NOW + 10),
      CH_OK);
  assert_int_equal(
      certhub_store_chain_check_get(s, t1, k1, T_NOW, &b, &n, &found), CH_OK);
  assert_true(found);
  assert_int_equal(n, 6);
  assert_memory_equal(b, "second", 6);
  t_query_eq(s, "SELECT count(*) FROM chain_checks", "1");
  /* A hit within a day does not write; after a day it refreshes. */
  t_query_eq(s, "SELECT last_used - created FROM chain_checks", "0");
  assert_int_equal(certhub_store_chain_check_get(s, t1, k1, T_NOW + 3600, &b,
                                                 &n, &found),
                   CH_OK);
  t_query_eq(s, "SELECT last_used - created FROM chain_checks", "0");
  assert_int_equal(certhub_store_chain_check_get(s, t1, k1, T_NOW + 90000, &b,
                                                 &n, &found),
                   CH_OK);
  assert_true(found);
  t_query_eq(s, "SELECT last_used - created FROM chain_checks", "89990");
  /* Too big: refused, nothing written. */
  static uint8_t big[CERTHUB_CHAIN_CHECK_MAX + 1];
  assert_int_equal(
      certhub_store_chain_check_put(s, t2, k2, big, sizeof(big), T_NOW),
      CH_ERR_TOOBIG);
  t_query_eq(s, "SELECT count(*) FROM chain_checks", "1");
  certhub_store_close(s);

  /* A new handle's first put expires rows unused for the TTL. */
  s = t_open(d.db);
  int64_t later = T_NOW + 90000 + CERTHUB_CHAIN_CHECK_TTL + 1;
  assert_int_equal(
      certhub_store_chain_check_put(s, t2, k2, (const uint8_t *)"x", 1, later),
      CH_OK);
  t_query_eq(s, "SELECT count(*) FROM chain_checks", "1");
  assert_int_equal(
      certhub_store_chain_check_get(s, t1, k1, later, &b, &n, &found), CH_OK);
  assert_false(found);
  assert_int_equal(
      certhub_store_chain_check_get(s, t2, k2, later, &b, &n, &found), CH_OK);
  assert_true(found);
  certhub_store_close(s);
  tdir_remove(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ok_probe_is_a_scan),
      cmocka_unit_test(known_cert_is_refreshed),
      cmocka_unit_test(chain_checks),
      cmocka_unit_test(failed_probe_keeps_chain),
      cmocka_unit_test(changed_chain_goes_absent_and_links_renewal),
      cmocka_unit_test(history_is_bounded),
      cmocka_unit_test(resolve_and_filter),
      cmocka_unit_test(failure_rolls_back_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
