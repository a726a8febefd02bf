/*
 * SQLite backend: endpoints and probes (`certhub probe`, `certhub endpoints`,
 * metrics).
 *
 * An endpoint owns an inventory source of kind "endpoint"; a successful
 * probe is a complete scan of that source through the ordinary put_cert /
 * scan_finish path, so sightings, absence and renewal links work as for
 * files. The statements of the per-result path (put_probe, the chain
 * check cache) are prepared once per handle: preparing them per call was
 * half of a stored probe's cost. The reading side (endpoints, describe)
 * runs once per command and prepares per call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "certhub/cert.h"
#include "store_sqlite_int.h"

#define ROW_ARENA_CAP ((size_t)16 << 20) /* one endpoint with its history */
#define MAX_HISTORY 1000

const char ch_sq_probe_schema[] =
    "CREATE TABLE endpoints("
    " id INTEGER PRIMARY KEY,"
    " source_id INTEGER NOT NULL UNIQUE"
    "  REFERENCES sources(id) ON DELETE CASCADE,"
    " locator TEXT NOT NULL UNIQUE,"
    " spec TEXT NOT NULL,"
    " host TEXT NOT NULL,"
    " port INTEGER NOT NULL,"
    " sni TEXT NOT NULL DEFAULT '',"
    " starttls TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " first_seen INTEGER NOT NULL,"
    " last_probe_id INTEGER);" /* no FK: the newest probe is never trimmed */
    "CREATE INDEX endpoints_by_host ON endpoints(host);"
    "CREATE TABLE endpoint_tags("
    " endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY(endpoint_id, key)) WITHOUT ROWID;"
    "CREATE TABLE probes("
    " id INTEGER PRIMARY KEY,"
    " endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
    " started INTEGER NOT NULL,"
    " status INTEGER NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " connect_us INTEGER NOT NULL DEFAULT 0,"
    " handshake_us INTEGER NOT NULL DEFAULT 0,"
    " total_us INTEGER NOT NULL DEFAULT 0,"
    " tls_version INTEGER NOT NULL DEFAULT 0,"
    " cipher TEXT NOT NULL DEFAULT '',"
    " trusted INTEGER NOT NULL DEFAULT 0,"
    " problems INTEGER NOT NULL DEFAULT 0,"
    " verify_error TEXT NOT NULL DEFAULT '',"
    " hostname_match INTEGER NOT NULL DEFAULT 0,"
    " earliest_not_after INTEGER NOT NULL DEFAULT 0,"
    " earliest_index INTEGER NOT NULL DEFAULT 0,"
    " ocsp_status INTEGER NOT NULL DEFAULT 0,"
    " ocsp_next_update INTEGER NOT NULL DEFAULT 0,"
    " chain_sha256 TEXT NOT NULL DEFAULT '',"
    " chain_n INTEGER NOT NULL DEFAULT 0,"
    " legacy_accepted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX probes_by_endpoint ON probes(endpoint_id, id);"
    "CREATE TABLE probe_chain("
    " probe_id INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " cert_id INTEGER NOT NULL REFERENCES certs(id) ON DELETE CASCADE,"
    " PRIMARY KEY(probe_id, position)) WITHOUT ROWID;"
    "CREATE INDEX probe_chain_by_cert ON probe_chain(cert_id);";

const char ch_sq_chain_checks_schema[] =
    "CREATE TABLE chain_checks("
    " trust_id BLOB NOT NULL,"     /* 32 bytes: the trust store's identity */
    " chain_sha256 BLOB NOT NULL," /* 32 bytes: the prober's chain key */
    " blob BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL,"
    " PRIMARY KEY(chain_sha256, trust_id));"
    "CREATE INDEX chain_checks_by_use ON chain_checks(last_used);";

/* last_used is refreshed at most this often: a steady-state hit is then a
 * read, not a write, most of the time. */
#define CHECK_TOUCH_EVERY 86400

const char *const ch_sq_probe_sql[CH_PST__MAX] = {
    [CH_PST_ENDPOINT_UPSERT] =
        "INSERT INTO endpoints(source_id, locator, spec, host, port, sni,"
        " starttls, address, first_seen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
        " ?8, ?9) ON CONFLICT(locator) DO UPDATE SET spec = excluded.spec,"
        " host = excluded.host, port = excluded.port, sni = excluded.sni,"
        " starttls = excluded.starttls, address = CASE WHEN"
        " excluded.address <> '' THEN excluded.address ELSE address END",
    [CH_PST_ENDPOINT_ID] = "SELECT id FROM endpoints WHERE locator = ?1",
    [CH_PST_ENDPOINT_TAG] =
        "INSERT INTO endpoint_tags(endpoint_id, key, value)"
        " VALUES(?1, ?2, ?3) ON CONFLICT(endpoint_id, key)"
        " DO UPDATE SET value = excluded.value",
    [CH_PST_PROBE_ADD] =
        "INSERT INTO probes(endpoint_id, started, status, reason, address,"
        " connect_us, handshake_us, total_us, tls_version, cipher, trusted,"
        " problems, verify_error, hostname_match, earliest_not_after,"
        " earliest_index, ocsp_status, ocsp_next_update, chain_sha256,"
        " chain_n, legacy_accepted) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    [CH_PST_CHAIN_ADD] = "INSERT INTO probe_chain(probe_id, position, cert_id)"
                         " VALUES(?1, ?2, ?3)",
    [CH_PST_ENDPOINT_LAST] =
        "UPDATE endpoints SET last_probe_id = ?2 WHERE id = ?1",
    [CH_PST_PROBE_TRIM] =
        "DELETE FROM probes WHERE endpoint_id = ?1 AND id <= (SELECT id"
        " FROM probes WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT 1"
        " OFFSET ?2)",
    [CH_PST_CHECK_GET] = "SELECT blob, last_used FROM chain_checks"
                         " WHERE chain_sha256 = ?1 AND trust_id = ?2",
    [CH_PST_CHECK_TOUCH] = "UPDATE chain_checks SET last_used = ?3"
                           " WHERE chain_sha256 = ?1 AND trust_id = ?2",
    [CH_PST_CHECK_PUT] =
        "INSERT INTO chain_checks(trust_id, chain_sha256, blob, created,"
        " last_used) VALUES(?2, ?1, ?3, ?4, ?4)"
        " ON CONFLICT(chain_sha256, trust_id) DO UPDATE SET"
        " blob = excluded.blob, created = excluded.created,"
        " last_used = excluded.last_used",
    [CH_PST_CHECK_PRUNE] = "DELETE FROM chain_checks WHERE last_used < ?1",
};

/* The probe columns, in the order fill_probe() reads them. */
#define PROBE_COLS                                                            \
  "p.id, p.endpoint_id, p.started, p.status, p.reason, p.address,"            \
  " p.connect_us, p.handshake_us, p.total_us, p.tls_version, p.cipher,"       \
  " p.trusted, p.problems, p.verify_error, p.hostname_match,"                 \
  " p.earliest_not_after, p.earliest_index, p.ocsp_status,"                   \
  " p.ocsp_next_update, p.chain_sha256, p.chain_n, p.legacy_accepted"
#define N_PROBE_COLS 22

#define ENDPOINT_COLS                                                         \
  "e.id, e.source_id, e.locator, e.spec, e.host, e.port, e.sni,"              \
  " e.starttls, e.address, e.first_seen"
#define N_ENDPOINT_COLS 10

/* ---- statement helpers ----------------------------------------------- */

/* Step a cached statement to its end and reset it for the next use. */
static ch_err pst_done(certhub_store *s, sqlite3_stmt *st, const char *what)
{
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW)
    ;
  sqlite3_reset(st);
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, what);
}

static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
  sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* A column copied into the arena ("" for NULL). */
static const char *col_dup(struct ch_arena *a, sqlite3_stmt *st, int i,
                           bool *oom)
{
  const char *t = (const char *)sqlite3_column_text(st, i);
  char *d = ch_arena_strdup(a, t ? t : "");
  if(!d) {
    *oom = true;
    return "";
  }
  return d;
}

/* ---- put_probe ------------------------------------------------------- */

/* Hex SHA-256 over the presented chain's DER, in order: equal hashes mean
 * the endpoint presented the very same chain. "" without a chain. */
static ch_err chain_digest(certhub_store *s, const certhub_probe_result *r,
                           char hex[65])
{
  hex[0] = '\0';
  if(!r->chain_n)
    return CH_OK;
  uint8_t md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if(!ctx)
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  for(size_t i = 0; i < r->chain_n; i++) {
    if(r->chain_der[i])
      EVP_DigestUpdate(ctx, r->chain_der[i], r->chain_len[i]);
  }
  EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  ch_hex_encode(md, sizeof(md), hex);
  return CH_OK;
}

static ch_err upsert_endpoint(certhub_store *s, const certhub_probe_result *r,
                              const char *locator, int64_t source_id,
                              int64_t now, int64_t *id)
{
  const certhub_target *t = r->target;
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_pst(s, CH_PST_ENDPOINT_UPSERT, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, source_id);
  bind_str(st, 2, locator);
  bind_str(st, 3, t->spec ? t->spec : locator);
  bind_str(st, 4, t->host);
  sqlite3_bind_int(st, 5, t->port);
  bind_str(st, 6, t->sni);
  bind_str(st, 7, t->starttls);
  bind_str(st, 8, r->address);
  sqlite3_bind_int64(st, 9, now);
  rc = pst_done(s, st, "storing endpoint");
  if(rc)
    return rc;
  rc = ch_sq_pst(s, CH_PST_ENDPOINT_ID, &st);
  if(rc)
    return rc;
  bind_str(st, 1, locator);
  int q = sqlite3_step(st);
  if(q == SQLITE_ROW)
    *id = sqlite3_column_int64(st, 0);
  else
    rc = q == SQLITE_DONE
             ? ch_store_err(s, CH_ERR_INTERNAL, "%s: endpoint %s vanished",
                            ch_sq_path(s), locator)
             : ch_sq_dberr(s, q, "finding endpoint");
  sqlite3_reset(st);
  return rc;
}

/* The labels' tags are set on the endpoint (key replaced), as put_cert
 * does on certificates: a later probe without tags keeps the owner. */
static ch_err set_endpoint_tags(certhub_store *s, int64_t id,
                                const certhub_labels *labels)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = CH_OK;
  for(size_t i = 0; !rc && labels && i < labels->n_tags; i++) {
    const char *k = labels->tag_keys[i], *v = labels->tag_values[i];
    if(!k || !*k)
      return ch_store_err(s, CH_ERR_USAGE, "labels: tag %zu has an empty key",
                          i + 1);
    rc = ch_sq_pst(s, CH_PST_ENDPOINT_TAG, &st);
    if(rc)
      break;
    sqlite3_bind_int64(st, 1, id);
    bind_str(st, 2, k);
    bind_str(st, 3, v);
    rc = pst_done(s, st, "setting endpoint tag");
  }
  return rc;
}

static ch_err insert_probe(certhub_store *s, int64_t endpoint_id,
                           const certhub_probe_result *r,
                           const char *chain_hex, int64_t *id)
{
  sqlite3_stmt *st = NULL;
  bool ok = r->status == CERTHUB_PROBE_OK && r->chain_n > 0;
  const certhub_chain_check *c = &r->check;
  ch_err rc = ch_sq_pst(s, CH_PST_PROBE_ADD, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, endpoint_id);
  sqlite3_bind_int64(st, 2, r->started);
  sqlite3_bind_int(st, 3, (int)r->status);
  bind_str(st, 4, r->reason);
  bind_str(st, 5, r->address);
  sqlite3_bind_int64(st, 6, r->connect_us);
  sqlite3_bind_int64(st, 7, r->handshake_us);
  sqlite3_bind_int64(st, 8, r->total_us);
  sqlite3_bind_int(st, 9, r->tls_version);
  bind_str(st, 10, r->cipher);
  /* The check is only meaningful with a chain. */
  sqlite3_bind_int(st, 11, ok && c->trusted);
  sqlite3_bind_int64(st, 12, ok ? c->problems : 0);
  bind_str(st, 13, ok ? c->verify_error : "");
  sqlite3_bind_int(st, 14, ok && c->hostname_match);
  sqlite3_bind_int64(st, 15, ok ? c->earliest_not_after : 0);
  sqlite3_bind_int(st, 16, ok ? c->earliest_index : 0);
  sqlite3_bind_int(st, 17, ok ? (int)c->ocsp : 0);
  sqlite3_bind_int64(st, 18, ok ? c->ocsp_next_update : 0);
  bind_str(st, 19, chain_hex);
  sqlite3_bind_int64(st, 20, (int64_t)r->chain_n);
  sqlite3_bind_int64(st, 21, r->legacy_accepted);
  rc = pst_done(s, st, "storing probe");
  if(rc == CH_OK)
    *id = sqlite3_last_insert_rowid(ch_sq_db(s));
  return rc;
}

/* Put one presented certificate. One the store already holds (by SHA-256)
 * is only refreshed, without parsing it again: a known row was parsed
 * when it was first stored. */
static ch_err put_one(certhub_store *s, const uint8_t *der, size_t len,
                      const certhub_labels *labels, int64_t source_id,
                      unsigned position, int64_t scan_id, int64_t now,
                      int64_t *cert_id, bool *stored)
{
  uint8_t md[32];
  char hex[65];
  unsigned int mdlen = 0;
  bool found = false;
  certhub_cert *c = NULL;
  ch_err rc;
  *stored = false;
  if(!EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL))
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  ch_hex_encode(md, sizeof(md), hex);
  rc = ch_sq_put_known_cert(s, hex, labels, source_id, position, scan_id, now,
                            cert_id, &found);
  if(rc || found) {
    *stored = found;
    return rc;
  }
  /* An unparsable certificate stays out of the inventory; the probe row
   * still counts it. */
  if(certhub_cert_parse_der(der, len, &c, NULL))
    return CH_OK;
  rc = s->ops->put_cert(s, c, labels, source_id, position, scan_id, now,
                        cert_id, NULL);
  certhub_cert_free(c);
  *stored = !rc;
  return rc;
}

/* A successful probe is a complete scan of the endpoint's source. */
static ch_err put_chain(certhub_store *s, const certhub_probe_result *r,
                        const certhub_labels *labels, int64_t source_id,
                        int64_t probe_id, int64_t now)
{
  int64_t scan_id = 0;
  ch_err rc = s->ops->scan_begin(s, source_id, now, &scan_id);
  for(size_t i = 0; !rc && i < r->chain_n; i++) {
    int64_t cert_id = 0;
    bool stored = false;
    if(!r->chain_der[i])
      continue;
    rc = put_one(s, r->chain_der[i], r->chain_len[i], labels, source_id,
                 (unsigned)(i + 1), scan_id, now, &cert_id, &stored);
    if(rc || !stored)
      continue;
    sqlite3_stmt *st = NULL;
    rc = ch_sq_pst(s, CH_PST_CHAIN_ADD, &st);
    if(rc)
      break;
    sqlite3_bind_int64(st, 1, probe_id);
    sqlite3_bind_int64(st, 2, (int64_t)(i + 1));
    sqlite3_bind_int64(st, 3, cert_id);
    rc = pst_done(s, st, "storing probe chain");
  }
  if(!rc)
    rc = s->ops->scan_finish(s, source_id, scan_id, now, NULL, NULL);
  return rc;
}

/* Point the endpoint at its newest probe and drop all but the newest
 * CERTHUB_PROBES_KEPT probes (their chain rows cascade). */
static ch_err finish_endpoint(certhub_store *s, int64_t endpoint_id,
                              int64_t probe_id)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_pst(s, CH_PST_ENDPOINT_LAST, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, endpoint_id);
  sqlite3_bind_int64(st, 2, probe_id);
  rc = pst_done(s, st, "updating endpoint");
  if(rc)
    return rc;
  rc = ch_sq_pst(s, CH_PST_PROBE_TRIM, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, endpoint_id);
  sqlite3_bind_int(st, 2, CERTHUB_PROBES_KEPT);
  return pst_done(s, st, "trimming probe history");
}

ch_err ch_sq_put_probe(certhub_store *s, const certhub_probe_result *r,
                       const char *locator, const certhub_labels *labels,
                       int64_t now, int64_t *probe_id)
{
  sqlite3 *db = ch_sq_db(s);
  bool own = sqlite3_get_autocommit(db) != 0;
  int64_t source_id = 0, endpoint_id = 0, pid = 0;
  char chain_hex[65];
  const certhub_target *t = r->target;
  /* Without explicit labels the target's tags label everything. */
  certhub_labels tl = {
      .tag_keys = (const char *const *)t->tag_keys,
      .tag_values = (const char *const *)t->tag_values,
      .n_tags = t->n_tags,
  };
  if(!labels)
    labels = &tl;
  if(labels->n_tags && (!labels->tag_keys || !labels->tag_values))
    return ch_store_err(s, CH_ERR_USAGE, "target tag arrays missing");

  ch_err rc = chain_digest(s, r, chain_hex);
  if(rc)
    return rc;
  if(own) {
    rc = s->ops->begin(s);
    if(rc)
      return rc;
  }
  rc = s->ops->source(s, CERTHUB_SOURCE_ENDPOINT, locator, &source_id);
  if(!rc)
    rc = upsert_endpoint(s, r, locator, source_id, now, &endpoint_id);
  if(!rc)
    rc = set_endpoint_tags(s, endpoint_id, labels);
  if(!rc)
    rc = insert_probe(s, endpoint_id, r, chain_hex, &pid);
  if(!rc && r->status == CERTHUB_PROBE_OK && r->chain_n > 0)
    rc = put_chain(s, r, labels, source_id, pid, now);
  if(!rc)
    rc = finish_endpoint(s, endpoint_id, pid);

  if(own) {
    if(!rc)
      rc = s->ops->commit(s);
    if(rc && !sqlite3_get_autocommit(db)) {
      char keep[CH_STORE_ERRMSG_MAX];
      memcpy(keep, s->errmsg, sizeof(keep));
      s->ops->rollback(s);
      memcpy(s->errmsg, keep, sizeof(keep));
    }
  }
  if(!rc && probe_id)
    *probe_id = pid;
  return rc;
}

/* ---- chain check cache ------------------------------------------------ */

ch_err ch_sq_chain_check_get(certhub_store *s, const uint8_t trust_id[32],
                             const uint8_t chain_key[32], int64_t now,
                             const uint8_t **blob, size_t *len, bool *found)
{
  ch_sq_probe_state *ps = ch_sq_probe(s);
  sqlite3_stmt *st = NULL;
  int64_t last_used = 0;
  ch_err rc = ch_sq_pst(s, CH_PST_CHECK_GET, &st);
  if(rc)
    return rc;
  sqlite3_bind_blob(st, 1, chain_key, 32, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, trust_id, 32, SQLITE_STATIC);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    const void *b = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    last_used = sqlite3_column_int64(st, 1);
    ch_buf_reset(&ps->blob);
    if(n > 0 && (size_t)n <= CERTHUB_CHAIN_CHECK_MAX && b) {
      rc = ch_buf_add(&ps->blob, b, (size_t)n);
      if(!rc) {
        *blob = (const uint8_t *)ps->blob.data;
        *len = ps->blob.len;
        *found = true;
      }
      else
        rc = ch_store_err(s, rc, "out of memory");
    }
    /* An empty or oversized blob reads as a miss; the next put replaces
     * it. */
  }
  else if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading chain check");
  sqlite3_reset(st);
  if(rc || !*found || last_used + CHECK_TOUCH_EVERY > now)
    return rc;
  rc = ch_sq_pst(s, CH_PST_CHECK_TOUCH, &st);
  if(rc)
    return rc;
  sqlite3_bind_blob(st, 1, chain_key, 32, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, trust_id, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now);
  return pst_done(s, st, "refreshing chain check");
}

ch_err ch_sq_chain_check_put(certhub_store *s, const uint8_t trust_id[32],
                             const uint8_t chain_key[32], const uint8_t *blob,
                             size_t len, int64_t now)
{
  ch_sq_probe_state *ps = ch_sq_probe(s);
  sqlite3_stmt *st = NULL;
  ch_err rc;
  /* Bound the table: once per handle (a run), rows nobody used for the
   * TTL go; the index on last_used makes that a range delete. */
  if(!ps->pruned) {
    rc = ch_sq_pst(s, CH_PST_CHECK_PRUNE, &st);
    if(rc)
      return rc;
    sqlite3_bind_int64(st, 1, now - CERTHUB_CHAIN_CHECK_TTL);
    rc = pst_done(s, st, "expiring chain checks");
    if(rc)
      return rc;
    ps->pruned = true;
  }
  rc = ch_sq_pst(s, CH_PST_CHECK_PUT, &st);
  if(rc)
    return rc;
  sqlite3_bind_blob(st, 1, chain_key, 32, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, trust_id, 32, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, blob ? (const void *)blob : "", (int)len,
                    SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, now);
  return pst_done(s, st, "storing chain check");
}

/* ---- reading --------------------------------------------------------- */

static void fill_probe(struct ch_arena *a, sqlite3_stmt *st, int k,
                       certhub_probe_row *p, bool *oom)
{
  p->id = sqlite3_column_int64(st, k + 0);
  p->endpoint_id = sqlite3_column_int64(st, k + 1);
  p->started = sqlite3_column_int64(st, k + 2);
  p->status = (certhub_probe_status)sqlite3_column_int(st, k + 3);
  p->reason = col_dup(a, st, k + 4, oom);
  p->address = col_dup(a, st, k + 5, oom);
  p->connect_us = (uint32_t)sqlite3_column_int64(st, k + 6);
  p->handshake_us = (uint32_t)sqlite3_column_int64(st, k + 7);
  p->total_us = (uint32_t)sqlite3_column_int64(st, k + 8);
  p->tls_version = (uint16_t)sqlite3_column_int(st, k + 9);
  p->cipher = col_dup(a, st, k + 10, oom);
  p->trusted = sqlite3_column_int(st, k + 11) != 0;
  p->problems = (unsigned)sqlite3_column_int64(st, k + 12);
  p->verify_error = col_dup(a, st, k + 13, oom);
  p->hostname_match = sqlite3_column_int(st, k + 14) != 0;
  p->earliest_not_after = sqlite3_column_int64(st, k + 15);
  p->earliest_index = sqlite3_column_int(st, k + 16);
  p->ocsp = (certhub_ocsp_status)sqlite3_column_int(st, k + 17);
  p->ocsp_next_update = sqlite3_column_int64(st, k + 18);
  p->chain_sha256 = col_dup(a, st, k + 19, oom);
  p->chain_n = (unsigned)sqlite3_column_int64(st, k + 20);
  p->legacy_accepted = (unsigned)sqlite3_column_int64(st, k + 21);
}

static void fill_endpoint(struct ch_arena *a, sqlite3_stmt *st,
                          certhub_endpoint_row *e, bool *oom)
{
  memset(e, 0, sizeof(*e));
  e->id = sqlite3_column_int64(st, 0);
  e->source_id = sqlite3_column_int64(st, 1);
  e->locator = col_dup(a, st, 2, oom);
  e->spec = col_dup(a, st, 3, oom);
  e->host = col_dup(a, st, 4, oom);
  e->port = (unsigned)sqlite3_column_int(st, 5);
  e->sni = col_dup(a, st, 6, oom);
  e->starttls = col_dup(a, st, 7, oom);
  e->address = col_dup(a, st, 8, oom);
  e->first_seen = sqlite3_column_int64(st, 9);
  e->has_probe = sqlite3_column_type(st, N_ENDPOINT_COLS) != SQLITE_NULL;
  if(e->has_probe)
    fill_probe(a, st, N_ENDPOINT_COLS, &e->last, oom);
}

static ch_err load_tags(certhub_store *s, struct ch_arena *a,
                        certhub_endpoint_row *e)
{
  sqlite3_stmt *st = NULL;
  size_t alloc = 0;
  certhub_tag *tags = NULL;
  bool oom = false;
  int r;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT key, value FROM endpoint_tags WHERE endpoint_id"
                    " = ?1 ORDER BY key",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, e->id);
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    if(e->n_tags == alloc) {
      /* Grow in the arena: the old block is simply left behind. */
      size_t na = alloc ? alloc * 2 : 8;
      certhub_tag *nt = ch_arena_alloc(a, na * sizeof(*nt));
      if(!nt) {
        oom = true;
        break;
      }
      if(e->n_tags)
        memcpy(nt, tags, e->n_tags * sizeof(*nt));
      tags = nt;
      alloc = na;
    }
    tags[e->n_tags].key = col_dup(a, st, 0, &oom);
    tags[e->n_tags].value = col_dup(a, st, 1, &oom);
    e->n_tags++;
  }
  if(oom)
    rc = ch_store_err(s, CH_ERR_TOOBIG, "%s: endpoint %s: tags too large",
                      ch_sq_path(s), e->locator);
  else if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading endpoint tags");
  sqlite3_finalize(st);
  e->tags = tags;
  return rc;
}

ch_err ch_sq_endpoints(certhub_store *s, const certhub_endpoint_filter *f,
                       certhub_endpoint_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  struct ch_arena *a = ch_arena_new(ROW_ARENA_CAP);
  int r = SQLITE_DONE;
  if(!a)
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  ch_err rc = ch_sq_prepare(
      s,
      "SELECT " ENDPOINT_COLS ", " PROBE_COLS " FROM endpoints e"
      " LEFT JOIN probes p ON p.id = e.last_probe_id"
      " WHERE (?1 < 0 OR p.status = ?1)"
      " AND (?2 = 0 OR (p.problems & ?2) <> 0)"
      " AND (?3 IS NULL OR EXISTS(SELECT 1 FROM endpoint_tags t"
      " WHERE t.endpoint_id = e.id AND t.key = 'owner' AND t.value = ?3))"
      " ORDER BY e.locator",
      &st);
  if(rc)
    goto out;
  sqlite3_bind_int(st, 1, f->status);
  sqlite3_bind_int64(st, 2, f->problems);
  if(f->owner)
    bind_str(st, 3, f->owner);
  else
    sqlite3_bind_null(st, 3);
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_endpoint_row e;
    bool oom = false;
    ch_arena_reset(a);
    fill_endpoint(a, st, &e, &oom);
    if(oom) {
      rc = ch_store_err(s, CH_ERR_TOOBIG, "%s: endpoint row too large",
                        ch_sq_path(s));
      break;
    }
    rc = load_tags(s, a, &e);
    if(!rc)
      rc = cb(ctx, &e);
  }
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "listing endpoints");
out:
  sqlite3_finalize(st);
  ch_arena_free(a);
  return rc;
}

/* ---- resolve --------------------------------------------------------- */

/* Up to two ids matching sql with ?1 = ref (and ?2 = the id when numeric). */
static ch_err match_ids(certhub_store *s, const char *sql, const char *ref,
                        int64_t num, int64_t ids[2], int *n)
{
  sqlite3_stmt *st = NULL;
  int r;
  *n = 0;
  ch_err rc = ch_sq_prepare(s, sql, &st);
  if(rc)
    return rc;
  bind_str(st, 1, ref);
  if(sqlite3_bind_parameter_count(st) >= 2)
    sqlite3_bind_int64(st, 2, num);
  while(*n < 2 && (r = sqlite3_step(st)) == SQLITE_ROW)
    ids[(*n)++] = sqlite3_column_int64(st, 0);
  if(*n < 2 && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "resolving endpoint");
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_endpoint_resolve(certhub_store *s, const char *ref,
                              int64_t *endpoint_id)
{
  /* Most specific first: the id, the exact locator, then a spec or host
   * or locator prefix ("host:port" of a locator with " sni=..."). */
  static const char *const steps[] = {
      "SELECT id FROM endpoints WHERE ?2 > 0 AND id = ?2",
      "SELECT id FROM endpoints WHERE locator = ?1",
      "SELECT id FROM endpoints WHERE spec = ?1 ORDER BY id LIMIT 2",
      "SELECT id FROM endpoints WHERE host = ?1"
      " OR substr(locator, 1, length(?1) + 1) = ?1 || ' '"
      " ORDER BY id LIMIT 2",
  };
  int64_t num = 0;
  const char *d = ref[0] == '#' ? ref + 1 : ref;
  if(*d && strspn(d, "0123456789") == strlen(d) && strlen(d) <= 18)
    num = strtoll(d, NULL, 10);
  for(size_t i = 0; i < CH_ARRAY_LEN(steps); i++) {
    int64_t ids[2];
    int n = 0;
    ch_err rc = match_ids(s, steps[i], ref, num, ids, &n);
    if(rc)
      return rc;
    if(n == 1) {
      *endpoint_id = ids[0];
      return CH_OK;
    }
    if(n > 1)
      return ch_store_err(s, CH_ERR_AMBIGUOUS,
                          "'%s' matches several endpoints", ref);
  }
  return ch_store_err(s, CH_ERR_NOTFOUND, "no endpoint matches '%s'", ref);
}

/* ---- describe -------------------------------------------------------- */

static ch_err load_chain(certhub_store *s, struct ch_arena *a,
                         certhub_endpoint_detail *d)
{
  sqlite3_stmt *st = NULL;
  bool oom = false;
  size_t alloc = 0;
  certhub_chain_entry *v = NULL;
  int r;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT s.position, c.short_id, c.sha256, c.subject,"
                    " c.common_name, c.issuer, c.not_before, c.not_after"
                    " FROM sightings s JOIN certs c ON c.id = s.cert_id"
                    " WHERE s.source_id = ?1 AND s.present = 1"
                    " ORDER BY s.position, c.short_id",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, d->ep.source_id);
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    if(d->chain_n == alloc) {
      size_t na = alloc ? alloc * 2 : 8;
      certhub_chain_entry *nv = ch_arena_alloc(a, na * sizeof(*nv));
      if(!nv) {
        oom = true;
        break;
      }
      if(d->chain_n)
        memcpy(nv, v, d->chain_n * sizeof(*nv));
      v = nv;
      alloc = na;
    }
    certhub_chain_entry *c = &v[d->chain_n++];
    c->position = (unsigned)sqlite3_column_int(st, 0);
    c->id = col_dup(a, st, 1, &oom);
    c->sha256 = col_dup(a, st, 2, &oom);
    c->subject = col_dup(a, st, 3, &oom);
    c->common_name = sqlite3_column_type(st, 4) == SQLITE_NULL
                         ? NULL
                         : col_dup(a, st, 4, &oom);
    c->issuer = col_dup(a, st, 5, &oom);
    c->not_before = sqlite3_column_int64(st, 6);
    c->not_after = sqlite3_column_int64(st, 7);
  }
  if(oom)
    rc = ch_store_err(s, CH_ERR_TOOBIG, "%s: endpoint chain too large",
                      ch_sq_path(s));
  else if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading endpoint chain");
  sqlite3_finalize(st);
  d->chain = v;
  return rc;
}

static ch_err load_history(certhub_store *s, struct ch_arena *a,
                           size_t max_history, certhub_endpoint_detail *d)
{
  sqlite3_stmt *st = NULL;
  bool oom = false;
  int r = SQLITE_DONE;
  if(max_history > MAX_HISTORY)
    max_history = MAX_HISTORY;
  if(!max_history)
    return CH_OK;
  certhub_probe_row *v = ch_arena_alloc(a, max_history * sizeof(*v));
  if(!v)
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  ch_err rc = ch_sq_prepare(s,
                            "SELECT " PROBE_COLS " FROM probes p WHERE"
                            " p.endpoint_id = ?1 ORDER BY p.id DESC LIMIT ?2",
                            &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, d->ep.id);
  sqlite3_bind_int64(st, 2, (int64_t)max_history);
  while(d->n_history < max_history && (r = sqlite3_step(st)) == SQLITE_ROW)
    fill_probe(a, st, 0, &v[d->n_history++], &oom);
  if(oom)
    rc = ch_store_err(s, CH_ERR_TOOBIG, "%s: probe history too large",
                      ch_sq_path(s));
  else if(r != SQLITE_DONE && r != SQLITE_ROW)
    rc = ch_sq_dberr(s, r, "reading probe history");
  sqlite3_finalize(st);
  d->history = v;
  return rc;
}

ch_err ch_sq_endpoint_describe(certhub_store *s, int64_t endpoint_id,
                               size_t max_history,
                               certhub_endpoint_detail_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  certhub_endpoint_detail d;
  bool oom = false;
  struct ch_arena *a = ch_arena_new(ROW_ARENA_CAP);
  memset(&d, 0, sizeof(d));
  if(!a)
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  ch_err rc = ch_sq_prepare(s,
                            "SELECT " ENDPOINT_COLS ", " PROBE_COLS
                            " FROM endpoints e LEFT JOIN probes p"
                            " ON p.id = e.last_probe_id WHERE e.id = ?1",
                            &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, endpoint_id);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW)
    fill_endpoint(a, st, &d.ep, &oom);
  else if(r == SQLITE_DONE)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "%s: no endpoint with id %" PRId64,
                      ch_sq_path(s), endpoint_id);
  else
    rc = ch_sq_dberr(s, r, "reading endpoint");
  sqlite3_finalize(st);
  if(!rc && oom)
    rc = ch_store_err(s, CH_ERR_TOOBIG, "%s: endpoint row too large",
                      ch_sq_path(s));
  if(!rc)
    rc = load_tags(s, a, &d.ep);
  if(!rc)
    rc = load_chain(s, a, &d);
  if(!rc)
    rc = load_history(s, a, max_history, &d);
  if(!rc)
    rc = cb(ctx, &d);
out:
  ch_arena_free(a);
  return rc;
}
