/*
 * SQLite backend of the inventory store.
 *
 * One connection per handle, WAL, prepared statements cached per handle
 * (the import path runs put_cert hundreds of thousands of times).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>

#include "certhub/time.h"
#include "store_sqlite_int.h"

#define ROW_ARENA_CAP ((size_t)64 << 20)   /* one listed row */
#define QUERY_ARENA_CAP ((size_t)16 << 20) /* filter strings of one list */
#define SANS_TEXT_CAP ((size_t)16 << 20)   /* encoded SANs of one cert */
#define EKU_TEXT_CAP ((size_t)1 << 20)
#define MAX_FILTER_TAGS 1000

/* ---- schema ---------------------------------------------------------- */

static const struct migration {
  int version;
  const char *name;
  const char *sql;
} migrations[] = {
    {1, "inventory: certs, sources, scans, sightings, tags, renewals",
     "CREATE TABLE certs("
     " id INTEGER PRIMARY KEY,"
     " sha256 TEXT UNIQUE NOT NULL,"
     " short_id TEXT NOT NULL," /* sha256[:16]: lookups go through sha256 */
     " sha1 TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " common_name TEXT,"
     " issuer TEXT NOT NULL,"
     " issuer_cn TEXT,"
     " serial TEXT NOT NULL,"
     " not_before INTEGER NOT NULL,"
     " not_after INTEGER NOT NULL,"
     " key_alg TEXT NOT NULL,"
     " key_bits INTEGER NOT NULL DEFAULT 0,"
     " key_curve TEXT,"
     " sig_alg TEXT NOT NULL,"
     " is_ca INTEGER NOT NULL DEFAULT 0,"
     " path_len INTEGER,"
     " self_signed INTEGER NOT NULL DEFAULT 0,"
     " key_usage TEXT NOT NULL DEFAULT '',"
     " ext_key_usage TEXT NOT NULL DEFAULT '',"
     " sans TEXT NOT NULL DEFAULT '',"
     " subject_hash TEXT,"
     " issuer_hash TEXT,"
     /* First 60 bits of subject_hash/issuer_hash: a small integer key
      * to index instead of 64 hex characters (a quarter of import time). */
     " subject_key INTEGER,"
     " issuer_key INTEGER,"
     " ski TEXT,"
     " aki TEXT,"
     " type TEXT NOT NULL DEFAULT 'IMPORTED',"
     " account TEXT NOT NULL,"
     " region TEXT NOT NULL,"
     " first_seen INTEGER NOT NULL,"
     " last_seen INTEGER NOT NULL,"
     " der BLOB NOT NULL);"
     "CREATE INDEX certs_by_expiry ON certs(not_after);"
     "CREATE INDEX certs_by_subject ON certs(subject_key);"
     "CREATE TABLE sources("
     " id INTEGER PRIMARY KEY,"
     " kind TEXT NOT NULL,"
     " locator TEXT NOT NULL,"
     " last_scan_id INTEGER,"
     " UNIQUE(kind, locator));"
     "CREATE INDEX sources_by_locator ON sources(locator);"
     "CREATE TABLE scans("
     " id INTEGER PRIMARY KEY,"
     " source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,"
     " started INTEGER NOT NULL);"
     "CREATE INDEX scans_by_source ON scans(source_id);"
     "CREATE TABLE sightings("
     " cert_id INTEGER NOT NULL REFERENCES certs(id) ON DELETE CASCADE,"
     " source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,"
     " position INTEGER NOT NULL,"
     " first_seen INTEGER NOT NULL,"
     " last_seen INTEGER NOT NULL,"
     " first_scan_id INTEGER,"
     " last_scan_id INTEGER,"
     " present INTEGER NOT NULL DEFAULT 1,"
     " PRIMARY KEY(cert_id, source_id)) WITHOUT ROWID;"
     "CREATE INDEX sightings_by_source ON sightings(source_id, present);"
     "CREATE TABLE tags("
     " cert_id INTEGER NOT NULL REFERENCES certs(id) ON DELETE CASCADE,"
     " key TEXT NOT NULL,"
     " value TEXT NOT NULL DEFAULT '',"
     " PRIMARY KEY(cert_id, key)) WITHOUT ROWID;"
     "CREATE TABLE renewals("
     " old_cert_id INTEGER NOT NULL REFERENCES certs(id) ON DELETE CASCADE,"
     " new_cert_id INTEGER NOT NULL REFERENCES certs(id) ON DELETE CASCADE,"
     " source_id INTEGER REFERENCES sources(id) ON DELETE CASCADE,"
     " detected_at INTEGER NOT NULL,"
     " PRIMARY KEY(old_cert_id, new_cert_id)) WITHOUT ROWID;"
     "CREATE INDEX renewals_by_new ON renewals(new_cert_id);"
     "CREATE INDEX renewals_by_source ON renewals(source_id);"},
    {2, "probes: endpoints, endpoint_tags, probes, probe_chain",
     ch_sq_probe_schema},
    {3, "probes: chain_checks (persistent chain-analysis cache)",
     ch_sq_chain_checks_schema},
    {4, "bus", ch_sq_bus_schema},
    {5, "lifecycle: lifecycle_marks (once-only markers)",
     ch_sq_lifecycle_schema},
    /* 4 (bus) comes from another branch; the runner applies every
     * migration not yet recorded, so gaps are fine. */
    {6, "topics: topics, topic_messages", ch_sq_notify_schema},
    {7, "findings: findings (ASFF)", ch_sq_findings_schema},
    {8, "notify: subscriptions, deliveries, notify_fanout",
     ch_sq_deliver_schema},
    {9, "topics: topic_messages.sealed (bodies sealed at rest)",
     ch_sq_notify_sealed_schema},
    {10, "findings: query columns and indexes", ch_sq_findq_schema},
    {11, "http: api_tokens, findings_by_id", ch_sq_tokens_schema},
    {13, "hub: hub_state, hub_outbox and the findings triggers",
     ch_sq_hub_schema},
    {14, "topics: topic_messages.attributes (MessageAttributes)",
     ch_sq_notify_attrs_schema},
    {15, "findings: stored query columns (no generated columns)",
     ch_sq_findings15_schema},
    {16, "findings: findings_counts (insight counts kept by triggers)",
     ch_sq_findq_counts_schema},
    {17,
     "findings: drop the severity, workflow, record state and account"
     " indexes",
     ch_sq_findings17_schema},
    {18,
     "findings: findings_by_region_type replaces the region and"
     " resource type indexes",
     ch_sq_findq_region_type_schema},
    {19, "findings: new findings counted by their writer (no insert trigger)",
     ch_sq_findq_counts19_schema},
    {20, "hub: findings triggers only while the hub is enabled",
     ch_sq_hub_triggers20_schema},
};

/* ---- cached statements ----------------------------------------------- */

enum st {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_SP,
  ST_SP_RELEASE,
  ST_SP_ROLLBACK,
  ST_PUT_CERT,
  ST_CERT_ID,
  ST_TOUCH_CERT,
  ST_PUT_SIGHTING,
  ST_PUT_TAG,
  ST_SOURCE_GET,
  ST_SOURCE_ADD,
  ST_SCAN_ADD,
  ST_SOURCE_KIND,
  ST_RENEW_SUBJECT,
  ST_NEW_SANS,
  ST_GONE_SANS,
  ST_RENEW_ADD,
  ST_MARK_GONE,
  ST_SOURCE_DONE,
  ST_ROW_AUX,
  ST_ISSUERS,
  ST_CERT_EXISTS,
  ST_TAG_DEL,
  ST_DELETE,
  ST_GET_DER,
  ST_COUNTS,
  ST_SCHEMA_VERSION,
  ST_BY_PREFIX,
  ST_BY_SHA1,
  ST_BY_LOCATOR,
  ST__MAX
};

static const char *const st_sql[ST__MAX] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SP] = "SAVEPOINT ch_sp",
    [ST_SP_RELEASE] = "RELEASE ch_sp",
    [ST_SP_ROLLBACK] = "ROLLBACK TO ch_sp",
    [ST_PUT_CERT] =
        "INSERT INTO certs(sha256, short_id, sha1, subject, common_name,"
        " issuer, issuer_cn, serial, not_before, not_after, key_alg,"
        " key_bits, key_curve, sig_alg, is_ca, path_len, self_signed,"
        " key_usage, ext_key_usage, sans, subject_hash, issuer_hash, ski,"
        " aki, account, region, first_seen, last_seen, der, subject_key,"
        " issuer_key)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24,"
        " coalesce(?25, '000000000000'), coalesce(?26, 'local'), ?27, ?27,"
        " ?28, ?29, ?30)"
        " ON CONFLICT(sha256) DO UPDATE SET last_seen = excluded.last_seen,"
        " account = coalesce(?25, account), region = coalesce(?26, region)",
    [ST_CERT_ID] = "SELECT id FROM certs WHERE sha256 = ?1",
    /* What the conflict branch of ST_PUT_CERT does to a known row. */
    [ST_TOUCH_CERT] = "UPDATE certs SET last_seen = ?2,"
                      " account = coalesce(?3, account),"
                      " region = coalesce(?4, region) WHERE id = ?1",
    [ST_PUT_SIGHTING] =
        "INSERT INTO sightings(cert_id, source_id, position, first_seen,"
        " last_seen, first_scan_id, last_scan_id, present)"
        " VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?5, 1)"
        " ON CONFLICT(cert_id, source_id) DO UPDATE SET"
        " position = excluded.position, last_seen = excluded.last_seen,"
        " last_scan_id = excluded.last_scan_id, present = 1",
    [ST_PUT_TAG] = "INSERT INTO tags(cert_id, key, value) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(cert_id, key) DO UPDATE SET"
                   " value = excluded.value",
    [ST_SOURCE_GET] =
        "SELECT id FROM sources WHERE kind = ?1 AND locator = ?2",
    [ST_SOURCE_ADD] = "INSERT INTO sources(kind, locator) VALUES(?1, ?2)",
    [ST_SCAN_ADD] = "INSERT INTO scans(source_id, started) VALUES(?1, ?2)",
    [ST_SOURCE_KIND] = "SELECT kind FROM sources WHERE id = ?1",
    /* Old: present here but not refreshed by this scan (about to go
     * absent). New: first sighted here in this scan. */
    [ST_RENEW_SUBJECT] =
        "INSERT OR IGNORE INTO renewals(old_cert_id, new_cert_id, source_id,"
        " detected_at)"
        " SELECT o.id, n.id, ?1, ?3 FROM sightings so"
        " JOIN certs o ON o.id = so.cert_id"
        " JOIN certs n ON n.subject_key = o.subject_key"
        " AND n.subject_hash = o.subject_hash"
        " JOIN sightings sn ON sn.cert_id = n.id AND sn.source_id = ?1"
        " WHERE so.source_id = ?1 AND so.present = 1"
        " AND so.last_scan_id IS NOT ?2 AND sn.first_scan_id = ?2"
        " AND o.subject_hash IS NOT NULL AND o.subject_hash <> ''"
        " AND o.sha256 <> n.sha256",
    [ST_NEW_SANS] = "SELECT n.id, n.sans FROM sightings sn"
                    " JOIN certs n ON n.id = sn.cert_id"
                    " WHERE sn.source_id = ?1 AND sn.first_scan_id = ?2"
                    " AND n.sans <> ''",
    [ST_GONE_SANS] = "SELECT o.id, o.sans FROM sightings so"
                     " JOIN certs o ON o.id = so.cert_id"
                     " WHERE so.source_id = ?1 AND so.present = 1"
                     " AND so.last_scan_id IS NOT ?2 AND o.sans <> ''",
    [ST_RENEW_ADD] =
        "INSERT OR IGNORE INTO renewals(old_cert_id, new_cert_id, source_id,"
        " detected_at) VALUES(?1, ?2, ?3, ?4)",
    [ST_MARK_GONE] = "UPDATE sightings SET present = 0"
                     " WHERE source_id = ?1 AND present = 1"
                     " AND last_scan_id IS NOT ?2",
    [ST_SOURCE_DONE] = "UPDATE sources SET last_scan_id = ?2 WHERE id = ?1",
    [ST_ROW_AUX] =
        "SELECT 0, t.key, NULL, t.value, 0, 0, 0, 0 FROM tags t"
        " WHERE t.cert_id = ?1"
        " UNION ALL"
        " SELECT 1, 1 - s.present, src.locator, src.kind, s.position,"
        " s.present, s.first_seen, s.last_seen FROM sightings s"
        " JOIN sources src ON src.id = s.source_id WHERE s.cert_id = ?1"
        " UNION ALL"
        " SELECT 2, x.short_id, NULL, NULL, 0, 0, 0, 0 FROM certs x"
        " WHERE ?2 IS NOT NULL AND x.subject_key = ?4"
        " AND x.subject_hash = ?2 AND x.id <> ?1"
        " AND (?3 IS NULL OR x.ski IS NULL OR x.ski = ?3)"
        " UNION ALL"
        " SELECT 3, n.short_id, NULL, NULL, 0, 0, 0, 0 FROM renewals r"
        " JOIN certs n ON n.id = r.new_cert_id WHERE r.old_cert_id = ?1"
        " UNION ALL"
        " SELECT 4, o.short_id, NULL, NULL, 0, 0, 0, 0 FROM renewals r"
        " JOIN certs o ON o.id = r.old_cert_id WHERE r.new_cert_id = ?1"
        " ORDER BY 1, 2, 3",
    [ST_ISSUERS] = "SELECT x.id FROM certs c JOIN certs x"
                   " ON x.subject_key = c.issuer_key"
                   " AND x.subject_hash = c.issuer_hash AND x.id <> c.id"
                   " WHERE c.id = ?1"
                   " AND (c.aki IS NULL OR x.ski IS NULL OR x.ski = c.aki)"
                   " ORDER BY x.short_id",
    [ST_CERT_EXISTS] = "SELECT 1 FROM certs WHERE id = ?1",
    [ST_TAG_DEL] = "DELETE FROM tags WHERE cert_id = ?1 AND key = ?2",
    [ST_DELETE] = "DELETE FROM certs WHERE id = ?1",
    [ST_GET_DER] = "SELECT der FROM certs WHERE id = ?1",
    [ST_COUNTS] = "SELECT (SELECT count(*) FROM certs),"
                  " (SELECT count(*) FROM sources),"
                  " (SELECT count(*) FROM sightings)",
    [ST_SCHEMA_VERSION] =
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
    /* ?2 is ?1 with 'g' appended: every hex string starting with ?1 sorts
     * below it, so this is an index range scan. */
    [ST_BY_PREFIX] = "SELECT id FROM certs WHERE sha256 >= ?1 AND sha256 < ?2"
                     " ORDER BY sha256 LIMIT 2",
    [ST_BY_SHA1] = "SELECT id FROM certs WHERE sha1 = ?1 ORDER BY id",
    [ST_BY_LOCATOR] =
        "SELECT s.cert_id FROM sightings s"
        " JOIN sources src ON src.id = s.source_id"
        " WHERE src.locator IN (?1, ?2)"
        " GROUP BY s.cert_id ORDER BY min(s.position), s.cert_id",
};

typedef struct sq {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *st[ST__MAX];
  sqlite3_stmt *pst[CH_PST__MAX]; /* store_sqlite_probe.c's, same rules */
  sqlite3_stmt *lst[CH_LST__MAX]; /* store_sqlite_lifecycle.c's */
  sqlite3_stmt *fst[CH_FST__MAX]; /* store_sqlite_findings.c's */
  ch_sq_probe_state probe;
  ch_buf sans; /* put_cert scratch */
  ch_buf eku;
  unsigned wal_pages;    /* after the last commit (wal_external only) */
  unsigned wal_fallback; /* checkpoint in the commit from this size */
} sq;

#define SQ(s) ((sq *)(s)->impl)

/* ---- errors and statement helpers ------------------------------------ */

static ch_err map_rc(int rc)
{
  switch(rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE:
    return CH_OK;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return CH_ERR_BUSY;
  case SQLITE_CONSTRAINT:
    /* A missing parent row is a dangling id from the caller. */
    return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? CH_ERR_NOTFOUND
                                              : CH_ERR_EXISTS;
  case SQLITE_NOMEM:
    return CH_ERR_NOMEM;
  default:
    return CH_ERR_DB;
  }
}

static ch_err dberr(certhub_store *s, int rc, const char *what)
{
  sq *q = SQ(s);
  return ch_store_err(s, map_rc(rc), "%s: %s: %s", q->path, what,
                      q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
}

/* Prepare sql into *slot on first use; later calls reuse it. Users reset
 * the statement after each use (finish_st, run_st). */
static ch_err cached_st(certhub_store *s, sqlite3_stmt **slot, const char *sql,
                        sqlite3_stmt **out)
{
  *out = NULL;
  if(!*slot) {
    int rc = sqlite3_prepare_v3(SQ(s)->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                slot, NULL);
    if(rc != SQLITE_OK)
      return dberr(s, rc, "prepare");
  }
  *out = *slot;
  return CH_OK;
}

static ch_err get_st(certhub_store *s, enum st id, sqlite3_stmt **out)
{
  return cached_st(s, &SQ(s)->st[id], st_sql[id], out);
}

/* Run a cached statement that returns no rows we need. */
static ch_err run_st(certhub_store *s, enum st id, const char *what)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, id, &st);
  if(rc)
    return rc;
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW)
    ;
  sqlite3_reset(st);
  return r == SQLITE_DONE ? CH_OK : dberr(s, r, what);
}

/* Step to completion, then reset; the step result mapped. */
static ch_err finish_st(certhub_store *s, sqlite3_stmt *st, int r,
                        const char *what)
{
  while(r == SQLITE_ROW)
    r = sqlite3_step(st);
  sqlite3_reset(st);
  return r == SQLITE_DONE ? CH_OK : dberr(s, r, what);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
  if(v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, int64_t v)
{
  if(v > 0)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

ch_err ch_sq_prepare(certhub_store *s, const char *sql, sqlite3_stmt **st)
{
  int r = sqlite3_prepare_v2(ch_sq_db(s), sql, -1, st, NULL);
  if(r != SQLITE_OK) {
    sqlite3_finalize(*st);
    *st = NULL;
    return ch_sq_dberr(s, r, "prepare");
  }
  return CH_OK;
}

void ch_sq_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
  if(v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

const char *ch_sq_col_opt(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

const char *ch_sq_col_str(sqlite3_stmt *st, int i)
{
  const char *t = ch_sq_col_opt(st, i);
  return t ? t : "";
}

/* Operations made of several statements must be all or nothing. In
 * autocommit mode they get their own transaction. Inside the caller's
 * transaction the caller owns atomicity (the importer rolls back to its
 * per-file savepoint on error): a savepoint per put_cert would copy every
 * touched page into the statement journal and cost most of the import
 * speed. */
static ch_err op_begin(certhub_store *s, bool *own)
{
  *own = sqlite3_get_autocommit(SQ(s)->db) != 0;
  return *own ? run_st(s, ST_BEGIN, "begin") : CH_OK;
}

static ch_err op_end(certhub_store *s, bool own, ch_err rc)
{
  sq *q = SQ(s);
  if(!own)
    return rc;
  if(!rc)
    return run_st(s, ST_COMMIT, "commit");
  /* Keep the first error text; SQLite may have rolled back already. */
  char keep[CH_STORE_ERRMSG_MAX];
  memcpy(keep, s->errmsg, sizeof(keep));
  if(!sqlite3_get_autocommit(q->db))
    run_st(s, ST_ROLLBACK, "rollback");
  memcpy(s->errmsg, keep, sizeof(keep));
  return rc;
}

/* ---- open, migrations ------------------------------------------------ */

static ch_err exec_sql(certhub_store *s, const char *sql, const char *what)
{
  int r = sqlite3_exec(SQ(s)->db, sql, NULL, NULL, NULL);
  return r == SQLITE_OK ? CH_OK : dberr(s, r, what);
}

static ch_err read_version(certhub_store *s, int *version)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_SCHEMA_VERSION, &st);
  if(rc)
    return rc;
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW)
    *version = sqlite3_column_int(st, 0);
  return finish_st(s, st, r, "reading schema version");
}

static ch_err record_migration(certhub_store *s, const struct migration *m)
{
  sqlite3_stmt *st = NULL;
  int r = sqlite3_prepare_v2(SQ(s)->db,
                             "INSERT INTO schema_migrations(version, name,"
                             " applied_at) VALUES(?1, ?2, ?3)",
                             -1, &st, NULL);
  if(r == SQLITE_OK) {
    sqlite3_bind_int(st, 1, m->version);
    bind_text(st, 2, m->name);
    sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
    r = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? CH_OK : dberr(s, r, "recording migration");
}

static ch_err is_applied(certhub_store *s, int version, bool *yes)
{
  sqlite3_stmt *st = NULL;
  int r = sqlite3_prepare_v2(SQ(s)->db,
                             "SELECT 1 FROM schema_migrations"
                             " WHERE version = ?1",
                             -1, &st, NULL);
  *yes = false;
  if(r == SQLITE_OK) {
    sqlite3_bind_int(st, 1, version);
    r = sqlite3_step(st);
    *yes = r == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return r == SQLITE_ROW || r == SQLITE_DONE
             ? CH_OK
             : dberr(s, r, "reading schema_migrations");
}

static ch_err migrate(certhub_store *s)
{
  const int latest = migrations[CH_ARRAY_LEN(migrations) - 1].version;
  int cur = 0;
  ch_err rc = exec_sql(s,
                       "CREATE TABLE IF NOT EXISTS schema_migrations("
                       " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                       " applied_at INTEGER NOT NULL)",
                       "creating schema_migrations");
  if(!rc)
    rc = read_version(s, &cur);
  if(rc)
    return rc;
  /* Each migration is applied unless recorded, not just those above the
   * highest version: branches add numbers independently, so a database
   * may hold 5 without 4 until both are merged. */
  bool done = false;
  for(size_t i = 0; i < CH_ARRAY_LEN(migrations) && !rc; i++) {
    const struct migration *m = &migrations[i];
    rc = is_applied(s, m->version, &done);
    if(rc || done)
      continue;
    rc = run_st(s, ST_BEGIN, "begin migration");
    if(rc)
      break;
    /* Another process may have migrated while we waited for the lock. */
    rc = is_applied(s, m->version, &done);
    if(!rc && !done) {
      rc = exec_sql(s, m->sql, m->name);
      /* 20 keeps the triggers of an enabled hub: a choice SQL alone
       * cannot make. */
      if(!rc && m->version == 20)
        rc = ch_sq_hub_migrate20(s);
      if(!rc)
        rc = record_migration(s, m);
    }
    if(rc) {
      char keep[CH_STORE_ERRMSG_MAX];
      memcpy(keep, s->errmsg, sizeof(keep));
      if(!sqlite3_get_autocommit(SQ(s)->db))
        run_st(s, ST_ROLLBACK, "rollback migration");
      memcpy(s->errmsg, keep, sizeof(keep));
    }
    else
      rc = run_st(s, ST_COMMIT, "commit migration");
  }
  if(!rc)
    rc = read_version(s, &cur);
  if(!rc && cur > latest)
    rc = ch_store_err(s, CH_ERR_UNSUPPORTED,
                      "%s: database schema version %d is newer than this "
                      "certhub supports (%d); upgrade certhub",
                      SQ(s)->path, cur, latest);
  return rc;
}

/* mkdir -p of path's parent, new directories 0700. */
static ch_err make_parent(certhub_store *s, const char *path)
{
  char *dir = strdup(path);
  ch_err rc = CH_OK;
  if(!dir)
    return ch_store_err(s, CH_ERR_NOMEM, "%s: out of memory", path);
  char *slash = strrchr(dir, '/');
  if(!slash || slash == dir)
    goto out;
  *slash = '\0';
  for(char *p = dir + 1;; p++) {
    if(*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if(mkdir(dir, 0700) != 0 && errno != EEXIST) {
      rc = ch_store_err(s, CH_ERR_IO, "%s: cannot create directory %s: %s",
                        path, dir, strerror(errno));
      goto out;
    }
    *p = c;
    if(!c)
      break;
  }
out:
  free(dir);
  return rc;
}

static ch_err make_file(certhub_store *s, const char *path)
{
  struct stat sb;
  if(stat(path, &sb) == 0) {
    if(S_ISDIR(sb.st_mode))
      return ch_store_err(s, CH_ERR_IO, "%s: is a directory, not a database",
                          path);
    return CH_OK;
  }
  if(errno != ENOENT)
    return ch_store_err(s, CH_ERR_IO, "%s: %s", path, strerror(errno));
  ch_err rc = make_parent(s, path);
  if(rc)
    return rc;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if(fd < 0 && errno != EEXIST)
    return ch_store_err(s, CH_ERR_IO, "%s: cannot create: %s", path,
                        strerror(errno));
  if(fd >= 0)
    close(fd);
  return CH_OK;
}

static void sq_close(certhub_store *s)
{
  sq *q = SQ(s);
  if(!q)
    return;
  for(int i = 0; i < ST__MAX; i++)
    sqlite3_finalize(q->st[i]);
  for(int i = 0; i < CH_PST__MAX; i++)
    sqlite3_finalize(q->pst[i]);
  for(int i = 0; i < CH_LST__MAX; i++)
    sqlite3_finalize(q->lst[i]);
  for(int i = 0; i < CH_FST__MAX; i++)
    sqlite3_finalize(q->fst[i]);
  sqlite3_close_v2(q->db);
  ch_buf_free(&q->sans);
  ch_buf_free(&q->eku);
  ch_buf_free(&q->probe.blob);
  free(q->path);
  free(q);
  s->impl = NULL;
}

/* Process-wide SQLite settings, before its first use: no memory
 * statistics (a global mutex on every allocation, ~5% of import time),
 * and the page caches' memory in one region when reserved
 * (ch_sq_reserve_cache). */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;
static unsigned sq_reserve; /* handles' caches to reserve room for */
static bool sq_config_done;
static ch_sq_pcache_info sq_pcache;

/* One handle's cache: PRAGMA cache_size = -65536 (sq_open) in 4 KiB
 * pages. */
#define PCACHE_PAGE 4096u
#define PCACHE_PAGES 16384u
#define HUGE_PAGE ((size_t)2 << 20)

/* SQLite's page caches take their pages from one region reserved here
 * (SQLITE_CONFIG_PAGECACHE) instead of malloc. Why: a cache that keeps its
 * pages (the API's writer handle, which no other handle's write empties)
 * grows into memory the process never touched, and on our VMs each first
 * touch of a 4 KiB page is a fault of ~15 us of CPU: 17,000 of them, 0.25 s,
 * while a 64 MiB cache fills, all under the writer lock (the "one writer
 * handle costs more CPU" of branches fwrite and fwal; docs/PERFORMANCE.md,
 * fcache). The region is advised for transparent huge pages, so it is
 * faulted in 2 MiB at a time. SQLite links every slot into its free list
 * at start-up, so the whole region is resident from the first open, for
 * the process's life: hence only on request. Room for sq_reserve caches
 * and a quarter of one more; when all slots are taken SQLite's caches
 * reuse their own pages rather than grow (pages of another size: malloc
 * as before). */
static void pcache_region(void)
{
  int hdr = 0;
  if(!sq_reserve ||
     sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK || hdr < 0)
    return;
  size_t sz = ((size_t)PCACHE_PAGE + (size_t)hdr + 7) & ~(size_t)7;
  size_t n = (size_t)sq_reserve * PCACHE_PAGES + PCACHE_PAGES / 4;
  size_t len = sz * n;
  void *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if(m == MAP_FAILED)
    return;
  char *a =
      (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  (void)madvise(a, len, MADV_HUGEPAGE); /* a hint: 4 KiB pages work too */
  if(sqlite3_config(SQLITE_CONFIG_PAGECACHE, a, (int)sz, (int)n) !=
     SQLITE_OK) {
    munmap(m, len + HUGE_PAGE);
    return;
  }
  sq_pcache.slots = n;
  sq_pcache.slot_size = sz;
}

static void sq_config(void)
{
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* MISUSE if too late: ok */
  pcache_region();
  __atomic_store_n(&sq_config_done, true, __ATOMIC_RELEASE);
}

ch_err ch_sq_reserve_cache(unsigned handles)
{
  if(handles > 16)
    return CH_ERR_USAGE;
  if(__atomic_load_n(&sq_config_done, __ATOMIC_ACQUIRE))
    return handles ? CH_ERR_BUSY : CH_OK; /* SQLite is set up already */
  sq_reserve = handles;
  pthread_once(&sq_config_once, sq_config);
  return sq_pcache.slots || !handles ? CH_OK : CH_ERR_BUSY;
}

void ch_sq_pcache(ch_sq_pcache_info *out)
{
  pthread_once(&sq_config_once, sq_config);
  *out = sq_pcache;
  int cur = 0, hi = 0;
  if(sqlite3_status(SQLITE_STATUS_PAGECACHE_USED, &cur, &hi, 0) == SQLITE_OK)
    out->used = cur > 0 ? (size_t)cur : 0;
}

static ch_err sq_open(certhub_store *s, const char *loc)
{
  ch_err rc = CH_OK;
  sq *q = NULL;
  int r;

  if(strncmp(loc, "///", 3) == 0) /* sqlite:///abs/path */
    loc += 2;
  if(!*loc)
    return ch_store_err(s, CH_ERR_USAGE, "sqlite: empty database path");
  q = calloc(1, sizeof(*q));
  if(!q || !(q->path = strdup(loc))) {
    free(q);
    return ch_store_err(s, CH_ERR_NOMEM, "%s: out of memory", loc);
  }
  s->impl = q;
  ch_buf_init(&q->sans, SANS_TEXT_CAP);
  ch_buf_init(&q->eku, EKU_TEXT_CAP);
  ch_buf_init(&q->probe.blob, CERTHUB_CHAIN_CHECK_MAX);

  if(strcmp(loc, ":memory:") != 0) {
    rc = make_file(s, loc);
    if(rc)
      goto out;
  }
  pthread_once(&sq_config_once, sq_config);
  /* The WAL-write coalescing VFS (sqlite_vfs.c); CERTHUB_SQLITE_VFS names
   * another one (e.g. "unix", to measure without it). */
  const char *vfs = getenv("CERTHUB_SQLITE_VFS");
  if(!vfs || !*vfs)
    vfs = ch_sq_walbuf_vfs();
  r = sqlite3_open_v2(
      loc, &q->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
  if(r != SQLITE_OK) {
    rc = dberr(s, r, "cannot open database");
    goto out;
  }
  sqlite3_extended_result_codes(q->db, 1);
  sqlite3_busy_timeout(q->db, 5000);

  /* The first read of the header tells a database from anything else. */
  r = sqlite3_exec(q->db, "SELECT count(*) FROM sqlite_master", NULL, NULL,
                   NULL);
  if((r & 0xff) == SQLITE_NOTADB || (r & 0xff) == SQLITE_CORRUPT) {
    rc = ch_store_err(s, CH_ERR_DB, "%s: not an SQLite database (%s)", loc,
                      sqlite3_errmsg(q->db));
    goto out;
  }
  if(r != SQLITE_OK) {
    rc = dberr(s, r, "cannot read database");
    goto out;
  }
  rc = exec_sql(s,
                "PRAGMA journal_mode = WAL;"
                "PRAGMA synchronous = NORMAL;"
                "PRAGMA foreign_keys = ON;"
                "PRAGMA temp_store = MEMORY;"
                "PRAGMA cache_size = -65536;"
                /* An import batch dirties thousands of pages; checkpoint
                 * every few batches rather than after each one. */
                "PRAGMA wal_autocheckpoint = 16384;",
                "setting pragmas");
  if(!rc)
    rc = migrate(s);
out:
  return rc;
}

/* ---- transactions ---------------------------------------------------- */

static ch_err sq_schema_version(certhub_store *s, int *version)
{
  return read_version(s, version);
}

static ch_err sq_begin(certhub_store *s)
{
  return run_st(s, ST_BEGIN, "begin");
}

static ch_err sq_commit(certhub_store *s)
{
  return run_st(s, ST_COMMIT, "commit");
}

static ch_err sq_rollback(certhub_store *s)
{
  /* After SQLITE_FULL and friends SQLite has already rolled back. */
  if(sqlite3_get_autocommit(SQ(s)->db))
    return CH_OK;
  return run_st(s, ST_ROLLBACK, "rollback");
}

/* The WAL hook of a handle whose checkpoints are someone else's: note the
 * WAL's size for certhub_store_wal_pages(), and checkpoint only past the
 * fallback size (the checkpointer is late or readers pin the WAL), as
 * SQLite's own autocheckpoint hook does. */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
  sq *q = arg;
  q->wal_pages = pages > 0 ? (unsigned)pages : 0;
  if(q->wal_fallback && q->wal_pages >= q->wal_fallback)
    sqlite3_wal_checkpoint(db, name);
  return SQLITE_OK;
}

static ch_err sq_wal_external(certhub_store *s, unsigned fallback)
{
  sq *q = SQ(s);
  q->wal_fallback = fallback;
  sqlite3_wal_hook(q->db, sq_wal_hook, q); /* replaces autocheckpoint */
  return CH_OK;
}

static unsigned sq_wal_pages(const certhub_store *s)
{
  return SQ(s)->wal_pages;
}

static ch_err sq_checkpoint(certhub_store *s, bool restart,
                            unsigned *wal_pages, unsigned *done)
{
  int log = 0, ckpt = 0;
  int r = sqlite3_wal_checkpoint_v2(SQ(s)->db, "main",
                                    restart ? SQLITE_CHECKPOINT_RESTART
                                            : SQLITE_CHECKPOINT_PASSIVE,
                                    &log, &ckpt);
  *wal_pages = log > 0 ? (unsigned)log : 0;
  *done = ckpt > 0 ? (unsigned)ckpt : 0;
  return r == SQLITE_OK ? CH_OK : dberr(s, r, "checkpoint");
}

static ch_err sq_cache_stats(const certhub_store *s, certhub_store_cache *out)
{
  static const int ops[3] = {SQLITE_DBSTATUS_CACHE_HIT,
                             SQLITE_DBSTATUS_CACHE_MISS,
                             SQLITE_DBSTATUS_CACHE_WRITE};
  uint64_t *v[3] = {&out->hits, &out->misses, &out->writes};
  for(int i = 0; i < 3; i++) {
    int cur = 0, hi = 0;
    if(sqlite3_db_status(SQ(s)->db, ops[i], &cur, &hi, 0) != SQLITE_OK)
      return CH_ERR_DB;
    *v[i] = (uint64_t)(unsigned)cur;
  }
  return CH_OK;
}

static ch_err sq_savepoint(certhub_store *s)
{
  return run_st(s, ST_SP, "savepoint");
}

static ch_err sq_release(certhub_store *s)
{
  return run_st(s, ST_SP_RELEASE, "release savepoint");
}

static ch_err sq_rollback_to(certhub_store *s)
{
  if(sqlite3_get_autocommit(SQ(s)->db))
    return ch_store_err(s, CH_ERR_DB,
                        "%s: rollback to savepoint: the database already "
                        "rolled back the whole transaction",
                        SQ(s)->path);
  ch_err rc = run_st(s, ST_SP_ROLLBACK, "rollback to savepoint");
  if(!rc)
    rc = run_st(s, ST_SP_RELEASE, "release savepoint");
  return rc;
}

/* ---- sources, scans, put -------------------------------------------- */

static ch_err sq_source(certhub_store *s, const char *kind,
                        const char *locator, int64_t *source_id)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_SOURCE_GET, &st);
  if(rc)
    return rc;
  bind_text(st, 1, kind);
  bind_text(st, 2, locator);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    *source_id = sqlite3_column_int64(st, 0);
    return finish_st(s, st, r, "finding source");
  }
  rc = finish_st(s, st, r, "finding source");
  if(rc)
    return rc;
  rc = get_st(s, ST_SOURCE_ADD, &st);
  if(rc)
    return rc;
  bind_text(st, 1, kind);
  bind_text(st, 2, locator);
  rc = finish_st(s, st, sqlite3_step(st), "adding source");
  if(!rc)
    *source_id = sqlite3_last_insert_rowid(SQ(s)->db);
  return rc;
}

static ch_err sq_scan_begin(certhub_store *s, int64_t source_id, int64_t now,
                            int64_t *scan_id)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_SCAN_ADD, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, now);
  rc = finish_st(s, st, sqlite3_step(st), "starting scan");
  if(rc == CH_ERR_NOTFOUND)
    return ch_store_err(s, rc, "%s: no source with id %lld", SQ(s)->path,
                        (long long)source_id);
  if(!rc)
    *scan_id = sqlite3_last_insert_rowid(SQ(s)->db);
  return rc;
}

static ch_err join_eku(ch_buf *b, const certhub_cert *c)
{
  ch_err rc = CH_OK;
  for(size_t i = 0; i < c->n_ext_key_usage && !rc; i++) {
    if(i)
      rc = ch_buf_addc(b, ',');
    if(!rc && c->ext_key_usage[i])
      rc = ch_buf_addstr(b, c->ext_key_usage[i]);
  }
  return rc;
}

static const char *nonempty(const char *v)
{
  return v && *v ? v : NULL;
}

/* Index key of a hash: its first 15 characters folded into 60 bits (a
 * positive int64; for hex, exactly the leading 60 bits). NULL when there
 * is no hash. The full hash is still compared in every query. */
static void bind_hash_key(sqlite3_stmt *st, int i, const char *hash)
{
  uint64_t k = 0; /* unsigned: shifts past 63 bits are defined */
  int n = 0;
  for(; hash && hash[n] && n < 15; n++) {
    int v = ch_hex_val((unsigned char)hash[n]);
    k = k << 4 ^ (uint64_t)(v >= 0 ? v : (unsigned char)hash[n]);
  }
  if(n == 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, (int64_t)(k & ((UINT64_C(1) << 60) - 1)));
}

static ch_err put_row(certhub_store *s, const certhub_cert *c,
                      const certhub_labels *labels, int64_t now, int64_t *id,
                      bool *created)
{
  sq *q = SQ(s);
  sqlite3_stmt *st;
  char ku[256] = "";
  ch_err rc;

  ch_buf_reset(&q->sans);
  ch_buf_reset(&q->eku);
  rc = ch_store_sans_encode(c->sans, c->n_sans, &q->sans);
  if(!rc)
    rc = join_eku(&q->eku, c);
  if(rc)
    return ch_store_err(s, rc, "%s: certificate %s: SAN or EKU list %s",
                        q->path, c->id, certhub_strerror(rc));
  if(c->has_key_usage)
    certhub_key_usage_format(c->key_usage, ku, sizeof(ku));

  rc = get_st(s, ST_PUT_CERT, &st);
  if(rc)
    return rc;
  bind_text(st, 1, c->sha256_hex);
  bind_text(st, 2, c->id);
  bind_text(st, 3, c->sha1_hex);
  bind_text(st, 4, c->subject ? c->subject : "");
  bind_text(st, 5, c->common_name);
  bind_text(st, 6, c->issuer ? c->issuer : "");
  bind_text(st, 7, c->issuer_cn);
  bind_text(st, 8, c->serial ? c->serial : "");
  sqlite3_bind_int64(st, 9, c->not_before);
  sqlite3_bind_int64(st, 10, c->not_after);
  bind_text(st, 11, c->key_alg ? c->key_alg : "");
  sqlite3_bind_int(st, 12, c->key_bits);
  bind_text(st, 13, c->key_curve);
  bind_text(st, 14, c->sig_alg ? c->sig_alg : "");
  sqlite3_bind_int(st, 15, c->is_ca);
  if(c->path_len >= 0)
    sqlite3_bind_int(st, 16, c->path_len);
  else
    sqlite3_bind_null(st, 16);
  sqlite3_bind_int(st, 17, c->self_signed);
  bind_text(st, 18, ku);
  sqlite3_bind_text(st, 19, q->eku.data ? q->eku.data : "", (int)q->eku.len,
                    SQLITE_STATIC);
  sqlite3_bind_text(st, 20, q->sans.data ? q->sans.data : "", (int)q->sans.len,
                    SQLITE_STATIC);
  bind_text(st, 21, nonempty(c->subject_hash));
  bind_text(st, 22, nonempty(c->issuer_hash));
  bind_hash_key(st, 29, c->subject_hash);
  bind_hash_key(st, 30, c->issuer_hash);
  bind_text(st, 23, nonempty(c->ski));
  bind_text(st, 24, nonempty(c->aki));
  bind_text(st, 25, labels ? labels->account : NULL);
  bind_text(st, 26, labels ? labels->region : NULL);
  sqlite3_bind_int64(st, 27, now);
  sqlite3_bind_blob(st, 28, c->der ? (const void *)c->der : "",
                    (int)c->der_len, SQLITE_STATIC);

  /* Only the INSERT branch of the upsert sets last_insert_rowid. No
   * RETURNING: it builds an ephemeral table per call and halves the
   * import speed. */
  sqlite3_set_last_insert_rowid(q->db, 0);
  rc = finish_st(s, st, sqlite3_step(st), "storing certificate");
  if(rc)
    return rc;
  *id = sqlite3_last_insert_rowid(q->db);
  *created = *id != 0;
  if(*created)
    return CH_OK;
  rc = get_st(s, ST_CERT_ID, &st);
  if(rc)
    return rc;
  bind_text(st, 1, c->sha256_hex);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW)
    *id = sqlite3_column_int64(st, 0);
  rc = finish_st(s, st, r, "storing certificate");
  if(!rc && r != SQLITE_ROW)
    rc = ch_store_err(s, CH_ERR_INTERNAL, "%s: certificate %s vanished",
                      q->path, c->id);
  return rc;
}

static ch_err put_tag(certhub_store *s, int64_t id, const char *key,
                      const char *value)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_PUT_TAG, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, key);
  bind_text(st, 3, value ? value : "");
  rc = finish_st(s, st, sqlite3_step(st), "setting tag");
  if(rc == CH_ERR_NOTFOUND)
    rc = ch_store_err(s, rc, "%s: no certificate with row id %lld",
                      SQ(s)->path, (long long)id);
  return rc;
}

/* The part of put_cert after the certificate row: sighting and tags. */
static ch_err put_sighting(certhub_store *s, int64_t id,
                           const certhub_labels *labels, int64_t source_id,
                           unsigned position, int64_t scan_id, int64_t now)
{
  sqlite3_stmt *st;
  ch_err rc = CH_OK;
  if(source_id > 0) {
    rc = get_st(s, ST_PUT_SIGHTING, &st);
    if(!rc) {
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_int64(st, 2, source_id);
      sqlite3_bind_int64(st, 3, position);
      sqlite3_bind_int64(st, 4, now);
      bind_id(st, 5, scan_id);
      rc = finish_st(s, st, sqlite3_step(st), "recording sighting");
      if(rc == CH_ERR_NOTFOUND)
        rc = ch_store_err(s, rc, "%s: no source with id %lld", SQ(s)->path,
                          (long long)source_id);
    }
  }
  for(size_t i = 0; !rc && labels && i < labels->n_tags; i++) {
    if(!labels->tag_keys[i] || !*labels->tag_keys[i])
      rc = ch_store_err(s, CH_ERR_USAGE, "labels: tag %zu has an empty key",
                        i + 1);
    else
      rc = put_tag(s, id, labels->tag_keys[i], labels->tag_values[i]);
  }
  return rc;
}

static ch_err sq_put_cert(certhub_store *s, const certhub_cert *c,
                          const certhub_labels *labels, int64_t source_id,
                          unsigned position, int64_t scan_id, int64_t now,
                          int64_t *cert_rowid, bool *created)
{
  bool own = false, made = false;
  int64_t id = 0;
  ch_err rc = op_begin(s, &own);
  if(rc)
    return rc;
  rc = put_row(s, c, labels, now, &id, &made);
  if(!rc)
    rc = put_sighting(s, id, labels, source_id, position, scan_id, now);
  rc = op_end(s, own, rc);
  if(!rc) {
    if(cert_rowid)
      *cert_rowid = id;
    if(created)
      *created = made;
  }
  return rc;
}

ch_err ch_sq_put_known_cert(certhub_store *s, const char *sha256_hex,
                            const certhub_labels *labels, int64_t source_id,
                            unsigned position, int64_t scan_id, int64_t now,
                            int64_t *cert_rowid, bool *found)
{
  sqlite3_stmt *st;
  int64_t id = 0;
  bool own = false;
  *found = false;
  ch_err rc = get_st(s, ST_CERT_ID, &st);
  if(rc)
    return rc;
  bind_text(st, 1, sha256_hex);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW)
    id = sqlite3_column_int64(st, 0);
  rc = finish_st(s, st, r, "finding certificate");
  if(rc || !id)
    return rc;
  rc = op_begin(s, &own);
  if(rc)
    return rc;
  rc = get_st(s, ST_TOUCH_CERT, &st);
  if(!rc) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    bind_text(st, 3, labels ? labels->account : NULL);
    bind_text(st, 4, labels ? labels->region : NULL);
    rc = finish_st(s, st, sqlite3_step(st), "storing certificate");
  }
  if(!rc)
    rc = put_sighting(s, id, labels, source_id, position, scan_id, now);
  rc = op_end(s, own, rc);
  if(!rc) {
    *found = true;
    if(cert_rowid)
      *cert_rowid = id;
  }
  return rc;
}

ch_err ch_sq_pst(certhub_store *s, enum ch_sq_pst id, sqlite3_stmt **out)
{
  return cached_st(s, &SQ(s)->pst[id], ch_sq_probe_sql[id], out);
}

ch_err ch_sq_lst(certhub_store *s, enum ch_sq_lst id, sqlite3_stmt **out)
{
  return cached_st(s, &SQ(s)->lst[id], ch_sq_lifecycle_sql[id], out);
}

ch_err ch_sq_fst(certhub_store *s, enum ch_sq_fst id, sqlite3_stmt **out)
{
  return cached_st(s, &SQ(s)->fst[id], ch_sq_findings_sql[id], out);
}

/* ---- scan_finish ----------------------------------------------------- */

struct san_key {
  uint8_t md[32];
  int64_t id;
};

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_key(const void *a, const void *b)
{
  return memcmp(((const struct san_key *)a)->md,
                ((const struct san_key *)b)->md, 32);
}

/* Digest of the SAN set: the stored lines sorted and deduplicated, so two
 * certificates naming the same hosts in another order still match. */
static ch_err san_digest(certhub_store *s, const char *text, uint8_t md[32])
{
  ch_err rc = CH_OK;
  char *copy = strdup(text), **lines = NULL;
  size_t n = 1, k = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if(!copy || !ctx) {
    rc = ch_store_err(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  for(const char *p = copy; *p; p++)
    n += *p == '\n';
  lines = malloc(n * sizeof(*lines));
  if(!lines) {
    rc = ch_store_err(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  for(char *p = copy; p; k++) {
    lines[k] = p;
    p = strchr(p, '\n');
    if(p)
      *p++ = '\0';
  }
  qsort(lines, k, sizeof(*lines), cmp_str);
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  for(size_t i = 0; i < k; i++) {
    if(i && strcmp(lines[i], lines[i - 1]) == 0)
      continue;
    EVP_DigestUpdate(ctx, lines[i], strlen(lines[i]) + 1);
  }
  EVP_DigestFinal_ex(ctx, md, NULL);
out:
  EVP_MD_CTX_free(ctx);
  free(lines);
  free(copy);
  return rc;
}

static ch_err renew_by_sans(certhub_store *s, int64_t source_id,
                            int64_t scan_id, int64_t now, unsigned *count)
{
  sqlite3_stmt *st, *ins;
  struct san_key *keys = NULL;
  size_t n = 0, alloc = 0;
  int r;
  ch_err rc = get_st(s, ST_NEW_SANS, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, scan_id);
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    if(n == alloc) {
      size_t na = alloc ? alloc * 2 : 16;
      struct san_key *nk = realloc(keys, na * sizeof(*nk));
      if(!nk) {
        rc = ch_store_err(s, CH_ERR_NOMEM, "out of memory");
        break;
      }
      keys = nk;
      alloc = na;
    }
    keys[n].id = sqlite3_column_int64(st, 0);
    rc = san_digest(s, ch_sq_col_str(st, 1), keys[n].md);
    n++;
  }
  if(!rc)
    rc = finish_st(s, st, r, "reading new certificates");
  else
    sqlite3_reset(st);
  if(rc || !n)
    goto out;
  qsort(keys, n, sizeof(*keys), cmp_key);

  rc = get_st(s, ST_GONE_SANS, &st);
  if(!rc)
    rc = get_st(s, ST_RENEW_ADD, &ins);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, scan_id);
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    struct san_key k;
    int64_t old = sqlite3_column_int64(st, 0);
    rc = san_digest(s, ch_sq_col_str(st, 1), k.md);
    if(rc)
      break;
    struct san_key *hit = bsearch(&k, keys, n, sizeof(*keys), cmp_key);
    if(!hit)
      continue;
    while(hit > keys && cmp_key(hit - 1, &k) == 0)
      hit--;
    for(; !rc && hit < keys + n && cmp_key(hit, &k) == 0; hit++) {
      if(hit->id == old)
        continue;
      sqlite3_bind_int64(ins, 1, old);
      sqlite3_bind_int64(ins, 2, hit->id);
      sqlite3_bind_int64(ins, 3, source_id);
      sqlite3_bind_int64(ins, 4, now);
      rc = finish_st(s, ins, sqlite3_step(ins), "recording renewal");
      if(!rc)
        *count += (unsigned)sqlite3_changes(SQ(s)->db);
    }
  }
  if(!rc)
    rc = finish_st(s, st, r, "reading absent certificates");
  else
    sqlite3_reset(st);
out:
  free(keys);
  return rc;
}

static ch_err sq_scan_finish(certhub_store *s, int64_t source_id,
                             int64_t scan_id, int64_t now, unsigned *n_gone,
                             unsigned *n_replaced)
{
  sq *q = SQ(s);
  sqlite3_stmt *st;
  unsigned gone = 0, replaced = 0;
  bool own = false, is_stdin = false;
  int r;
  ch_err rc = op_begin(s, &own);
  if(rc)
    return rc;

  rc = get_st(s, ST_SOURCE_KIND, &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, source_id);
  r = sqlite3_step(st);
  if(r == SQLITE_ROW)
    is_stdin = strcmp(ch_sq_col_str(st, 0), CERTHUB_SOURCE_STDIN) == 0;
  else if(r == SQLITE_DONE) {
    sqlite3_reset(st);
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "%s: no source with id %lld",
                      q->path, (long long)source_id);
    goto out;
  }
  rc = finish_st(s, st, r, "reading source");
  if(rc || is_stdin) /* stdin is never complete: nothing goes absent */
    goto out;

  rc = get_st(s, ST_RENEW_SUBJECT, &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, scan_id);
  sqlite3_bind_int64(st, 3, now);
  rc = finish_st(s, st, sqlite3_step(st), "linking renewals");
  if(rc)
    goto out;
  replaced += (unsigned)sqlite3_changes(q->db);
  rc = renew_by_sans(s, source_id, scan_id, now, &replaced);
  if(rc)
    goto out;

  rc = get_st(s, ST_MARK_GONE, &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, scan_id);
  rc = finish_st(s, st, sqlite3_step(st), "marking absent certificates");
  if(rc)
    goto out;
  gone = (unsigned)sqlite3_changes(q->db);

  rc = get_st(s, ST_SOURCE_DONE, &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, source_id);
  bind_id(st, 2, scan_id);
  rc = finish_st(s, st, sqlite3_step(st), "finishing scan");
out:
  rc = op_end(s, own, rc);
  if(!rc) {
    if(n_gone)
      *n_gone = gone;
    if(n_replaced)
      *n_replaced = replaced;
  }
  return rc;
}

/* ---- list ------------------------------------------------------------ */

enum {
  C_ID,
  C_SHORT,
  C_SHA256,
  C_SHA1,
  C_SUBJECT,
  C_CN,
  C_ISSUER,
  C_ISSUER_CN,
  C_SERIAL,
  C_NB,
  C_NA,
  C_KEY_ALG,
  C_KEY_BITS,
  C_CURVE,
  C_SIG_ALG,
  C_IS_CA,
  C_PATH_LEN,
  C_SELF,
  C_KU,
  C_EKU,
  C_SANS,
  C_TYPE,
  C_ACCOUNT,
  C_REGION,
  C_FIRST,
  C_LAST,
  C_ISSUER_HASH,
  C_AKI,
  C_PRESENT
};

#define PRESENT_SQL                                                           \
  "EXISTS(SELECT 1 FROM sightings s WHERE s.cert_id = c.id"                   \
  " AND s.present = 1)"

static const char list_select[] =
    "SELECT c.id, c.short_id, c.sha256, c.sha1, c.subject, c.common_name,"
    " c.issuer, c.issuer_cn, c.serial, c.not_before, c.not_after, c.key_alg,"
    " c.key_bits, c.key_curve, c.sig_alg, c.is_ca, c.path_len,"
    " c.self_signed, c.key_usage, c.ext_key_usage, c.sans, c.type,"
    " c.account, c.region, c.first_seen, c.last_seen, c.issuer_hash, c.aki,"
    " " PRESENT_SQL " FROM certs c WHERE 1";

struct param {
  bool text;
  int64_t i;
  const char *t;
};

struct vec {
  void *p;
  size_t n, cap;
};

static void *vec_push(struct ch_arena *a, struct vec *v, size_t elsz)
{
  if(v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 4;
    void *np = ch_arena_alloc(a, nc * elsz);
    if(!np)
      return NULL;
    if(v->n)
      memcpy(np, v->p, v->n * elsz);
    v->p = np;
    v->cap = nc;
  }
  return (char *)v->p + elsz * v->n++;
}

/* "%needle%" with LIKE's wildcards escaped by '\'. */
static char *like_pattern(struct ch_arena *a, const char *needle)
{
  size_t n = strlen(needle);
  char *p = n < SIZE_MAX / 2 - 3 ? ch_arena_alloc(a, 2 * n + 3) : NULL;
  if(!p)
    return NULL;
  char *w = p;
  *w++ = '%';
  for(; *needle; needle++) {
    if(*needle == '%' || *needle == '_' || *needle == '\\')
      *w++ = '\\';
    *w++ = *needle;
  }
  *w++ = '%';
  *w = '\0';
  return p;
}

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  if(a % b != 0 && (a < 0) != (b < 0))
    q--;
  return q;
}

/* Appends a condition and its parameter; "?N" in cond is written as "?%d"
 * with the new parameter's number. */
static ch_err add_cond(ch_buf *sql, struct param *ps, int *np,
                       const char *cond, struct param p)
{
  ps[*np] = p;
  (*np)++;
  ch_err rc = ch_buf_addstr(sql, " AND ");
  for(const char *c = cond; !rc && *c; c++) {
    if(*c == '?')
      rc = ch_buf_printf(sql, "?%d", *np);
    else
      rc = ch_buf_addc(sql, *c);
  }
  return rc;
}

static ch_err build_list(certhub_store *s, const certhub_filter *f,
                         int64_t now, struct ch_arena *qa, sqlite3_stmt **out)
{
  ch_buf sql;
  struct param *ps = NULL;
  int np = 0, r;
  ch_err rc = CH_OK;
  *out = NULL;

  if(f->n_tags > MAX_FILTER_TAGS)
    return ch_store_err(s, CH_ERR_TOOBIG, "filter: more than %d tags",
                        MAX_FILTER_TAGS);
  if(f->n_tags && !f->tags)
    return ch_store_err(s, CH_ERR_USAGE, "filter: tag array missing");
  ps = ch_arena_alloc(qa, (8 + 2 * f->n_tags) * sizeof(*ps));
  if(!ps)
    return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  ch_buf_init(&sql, 1 << 20);
  rc = ch_buf_addstr(&sql, list_select);
  if(!rc && f->rowid)
    rc = add_cond(&sql, ps, &np, "c.id = ?", (struct param){.i = f->rowid});
  if(!rc && f->expiring) {
    /* days_to_expiry <= N  <=>  not_after before the start of UTC day
     * today + N + 1. */
    int64_t n = f->expiring_within;
    if(n > 1000000000)
      n = 1000000000;
    if(n < -1000000000)
      n = -1000000000;
    int64_t limit = (floor_div(now, 86400) + n + 1) * 86400;
    rc = add_cond(&sql, ps, &np, "c.not_after > ?", (struct param){.i = now});
    if(!rc)
      rc = add_cond(&sql, ps, &np, "c.not_after < ?",
                    (struct param){.i = limit});
  }
  if(!rc && f->expired)
    rc = add_cond(&sql, ps, &np, "c.not_after <= ?", (struct param){.i = now});
  if(!rc && f->intermediates)
    rc = add_cond(&sql, ps, &np, "c.is_ca = ? AND c.self_signed = 0",
                  (struct param){.i = 1});
  if(!rc && f->status) {
    if(strcmp(f->status, CERTHUB_STATUS_ISSUED) == 0)
      rc = add_cond(&sql, ps, &np, PRESENT_SQL " AND c.not_after > ?",
                    (struct param){.i = now});
    else if(strcmp(f->status, CERTHUB_STATUS_EXPIRED) == 0)
      rc = add_cond(&sql, ps, &np, PRESENT_SQL " AND c.not_after <= ?",
                    (struct param){.i = now});
    else if(strcmp(f->status, CERTHUB_STATUS_INACTIVE) == 0)
      rc = ch_buf_addstr(&sql, " AND NOT " PRESENT_SQL);
    else {
      ch_buf_free(&sql);
      return ch_store_err(s, CH_ERR_USAGE,
                          "filter: unknown status '%s' (ISSUED, EXPIRED, "
                          "INACTIVE)",
                          f->status);
    }
  }
  for(size_t i = 0; !rc && i < f->n_tags; i++) {
    const certhub_tag *t = &f->tags[i];
    if(!t->key) {
      ch_buf_free(&sql);
      return ch_store_err(s, CH_ERR_USAGE, "filter: tag %zu has no key",
                          i + 1);
    }
    if(t->value) {
      rc = add_cond(&sql, ps, &np,
                    "EXISTS(SELECT 1 FROM tags t WHERE t.cert_id = c.id"
                    " AND t.key = ?",
                    (struct param){.text = true, .t = t->key});
      if(!rc)
        rc = add_cond(&sql, ps, &np, "t.value = ?)",
                      (struct param){.text = true, .t = t->value});
    }
    else
      rc = add_cond(&sql, ps, &np,
                    "EXISTS(SELECT 1 FROM tags t WHERE t.cert_id = c.id"
                    " AND t.key = ?)",
                    (struct param){.text = true, .t = t->key});
  }
  if(!rc && f->issuer) {
    const char *pat = like_pattern(qa, f->issuer);
    rc = pat ? add_cond(&sql, ps, &np, "c.issuer LIKE ? ESCAPE '\\'",
                        (struct param){.text = true, .t = pat})
             : CH_ERR_NOMEM;
  }
  if(!rc && f->search) {
    const char *pat = like_pattern(qa, f->search);
    if(!pat)
      rc = CH_ERR_NOMEM;
    else {
      /* One parameter used in every branch: write its number by hand. */
      ps[np++] = (struct param){.text = true, .t = pat};
      rc = ch_buf_printf(
          &sql,
          " AND (c.common_name LIKE ?%1$d ESCAPE '\\'"
          " OR c.subject LIKE ?%1$d ESCAPE '\\'"
          " OR c.sans LIKE ?%1$d ESCAPE '\\'"
          " OR c.issuer LIKE ?%1$d ESCAPE '\\'"
          " OR c.serial LIKE ?%1$d ESCAPE '\\'"
          " OR c.short_id LIKE ?%1$d ESCAPE '\\'"
          " OR c.sha256 LIKE ?%1$d ESCAPE '\\'"
          " OR EXISTS(SELECT 1 FROM sightings s"
          " JOIN sources src ON src.id = s.source_id"
          " WHERE s.cert_id = c.id AND src.locator LIKE ?%1$d ESCAPE '\\'))",
          np);
    }
  }
  if(!rc)
    rc = ch_buf_addstr(&sql, " ORDER BY c.not_after, c.common_name,"
                             " c.short_id");
  if(!rc && f->limit) {
    int64_t lim = f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit;
    ps[np++] = (struct param){.i = lim};
    rc = ch_buf_printf(&sql, " LIMIT ?%d", np);
  }
  if(rc) {
    ch_buf_free(&sql);
    return ch_store_err(s, rc, "building query: %s", certhub_strerror(rc));
  }
  r = sqlite3_prepare_v2(SQ(s)->db, sql.data, (int)sql.len, out, NULL);
  ch_buf_free(&sql);
  if(r != SQLITE_OK)
    return dberr(s, r, "preparing list");
  for(int i = 0; i < np; i++) {
    if(ps[i].text)
      sqlite3_bind_text(*out, i + 1, ps[i].t, -1, SQLITE_STATIC);
    else
      sqlite3_bind_int64(*out, i + 1, ps[i].i);
  }
  return CH_OK;
}

/* Tags, sightings, issuers and renewal links of the row in one cached
 * query, copied into the row arena. */
static ch_err fill_aux(certhub_store *s, sqlite3_stmt *m, struct ch_arena *a,
                       certhub_cert_row *row)
{
  sqlite3_stmt *st;
  struct vec tags = {0}, srcs = {0}, iss = {0}, rby = {0}, rep = {0};
  int r;
  ch_err rc = get_st(s, ST_ROW_AUX, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, row->rowid);
  sqlite3_bind_text(st, 2, ch_sq_col_opt(m, C_ISSUER_HASH), -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, ch_sq_col_opt(m, C_AKI), -1, SQLITE_TRANSIENT);
  bind_hash_key(st, 4, ch_sq_col_opt(m, C_ISSUER_HASH));
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    int k = sqlite3_column_int(st, 0);
    if(k == 0) {
      certhub_tag *t = vec_push(a, &tags, sizeof(*t));
      if(!t || !(t->key = ch_arena_strdup(a, ch_sq_col_str(st, 1))) ||
         !(t->value = ch_arena_strdup(a, ch_sq_col_str(st, 3))))
        rc = CH_ERR_TOOBIG;
    }
    else if(k == 1) {
      certhub_sighting *g = vec_push(a, &srcs, sizeof(*g));
      if(!g || !(g->locator = ch_arena_strdup(a, ch_sq_col_str(st, 2))) ||
         !(g->kind = ch_arena_strdup(a, ch_sq_col_str(st, 3))))
        rc = CH_ERR_TOOBIG;
      else {
        g->position = (unsigned)sqlite3_column_int64(st, 4);
        g->present = sqlite3_column_int(st, 5) != 0;
        g->first_seen = sqlite3_column_int64(st, 6);
        g->last_seen = sqlite3_column_int64(st, 7);
      }
    }
    else {
      struct vec *v = k == 2 ? &iss : k == 3 ? &rby : &rep;
      const char **p = vec_push(a, v, sizeof(*p));
      if(!p || !(*p = ch_arena_strdup(a, ch_sq_col_str(st, 1))))
        rc = CH_ERR_TOOBIG;
    }
  }
  if(rc) {
    sqlite3_reset(st);
    return ch_store_err(s, rc, "%s: certificate %s: row too large to list",
                        SQ(s)->path, row->id);
  }
  rc = finish_st(s, st, r, "reading certificate details");
  row->tags = tags.p;
  row->n_tags = tags.n;
  row->sources = srcs.p;
  row->n_sources = srcs.n;
  row->issuer_ids = iss.p;
  row->n_issuer_ids = iss.n;
  row->replaced_by = rby.p;
  row->n_replaced_by = rby.n;
  row->replaces = rep.p;
  row->n_replaces = rep.n;
  return rc;
}

static ch_err fill_row(certhub_store *s, sqlite3_stmt *m, int64_t now,
                       struct ch_arena *a, certhub_cert_row *row)
{
  ch_err rc;
  memset(row, 0, sizeof(*row));
  row->rowid = sqlite3_column_int64(m, C_ID);
  row->id = ch_sq_col_str(m, C_SHORT);
  row->sha256 = ch_sq_col_str(m, C_SHA256);
  row->sha1 = ch_sq_col_str(m, C_SHA1);
  row->subject = ch_sq_col_str(m, C_SUBJECT);
  row->common_name = ch_sq_col_opt(m, C_CN);
  row->issuer = ch_sq_col_str(m, C_ISSUER);
  row->issuer_cn = ch_sq_col_opt(m, C_ISSUER_CN);
  row->serial = ch_sq_col_str(m, C_SERIAL);
  row->not_before = sqlite3_column_int64(m, C_NB);
  row->not_after = sqlite3_column_int64(m, C_NA);
  row->days_to_expiry = certhub_days_to_expiry(row->not_after, now);
  row->key_alg = ch_sq_col_str(m, C_KEY_ALG);
  row->key_bits = sqlite3_column_int(m, C_KEY_BITS);
  row->key_curve = ch_sq_col_opt(m, C_CURVE);
  row->sig_alg = ch_sq_col_str(m, C_SIG_ALG);
  row->is_ca = sqlite3_column_int(m, C_IS_CA) != 0;
  row->path_len = sqlite3_column_type(m, C_PATH_LEN) == SQLITE_NULL
                      ? -1
                      : sqlite3_column_int(m, C_PATH_LEN);
  row->self_signed = sqlite3_column_int(m, C_SELF) != 0;
  row->key_usage = ch_sq_col_str(m, C_KU);
  row->ext_key_usage = ch_sq_col_str(m, C_EKU);
  row->type = ch_sq_col_str(m, C_TYPE);
  row->account = ch_sq_col_str(m, C_ACCOUNT);
  row->region = ch_sq_col_str(m, C_REGION);
  row->first_seen = sqlite3_column_int64(m, C_FIRST);
  row->last_seen = sqlite3_column_int64(m, C_LAST);
  bool present = sqlite3_column_int(m, C_PRESENT) != 0;
  row->status = !present                ? CERTHUB_STATUS_INACTIVE
                : row->not_after <= now ? CERTHUB_STATUS_EXPIRED
                                        : CERTHUB_STATUS_ISSUED;

  const char *h = row->sha256;
  if(strlen(h) >= 32)
    row->arn = ch_arena_printf(
        a, "arn:certhub:acm:%s:%s:certificate/%.8s-%.4s-%.4s-%.4s-%.12s",
        row->region, row->account, h, h + 8, h + 12, h + 16, h + 20);
  else
    row->arn = ch_arena_printf(a, "arn:certhub:acm:%s:%s:certificate/%s",
                               row->region, row->account, h);
  char *sans = ch_arena_strdup(a, ch_sq_col_str(m, C_SANS));
  certhub_san *arr = NULL;
  if(!row->arn || !sans)
    return ch_store_err(s, CH_ERR_TOOBIG,
                        "%s: certificate %s: row too "
                        "large to list",
                        SQ(s)->path, row->id);
  rc = ch_store_sans_decode(a, sans, &arr, &row->n_sans);
  if(rc)
    return ch_store_err(s, rc, "%s: certificate %s: row too large to list",
                        SQ(s)->path, row->id);
  row->sans = arr;
  return fill_aux(s, m, a, row);
}

static ch_err sq_list(certhub_store *s, const certhub_filter *f, int64_t now,
                      certhub_row_cb cb, void *ctx)
{
  sqlite3_stmt *m = NULL;
  struct ch_arena *qa = ch_arena_new(QUERY_ARENA_CAP);
  struct ch_arena *ra = ch_arena_new(ROW_ARENA_CAP);
  certhub_cert_row row;
  int r = SQLITE_DONE;
  ch_err rc = CH_OK;
  if(!qa || !ra) {
    rc = ch_store_err(s, CH_ERR_NOMEM, "out of memory");
    goto out;
  }
  rc = build_list(s, f, now, qa, &m);
  while(!rc && (r = sqlite3_step(m)) == SQLITE_ROW) {
    ch_arena_reset(ra);
    rc = fill_row(s, m, now, ra, &row);
    if(!rc)
      rc = cb(ctx, &row);
  }
  if(!rc && r != SQLITE_DONE)
    rc = dberr(s, r, "listing certificates");
out:
  sqlite3_finalize(m);
  ch_arena_free(ra);
  ch_arena_free(qa);
  return rc;
}

/* ---- resolve, issuers, tags, delete ---------------------------------- */

struct ids {
  int64_t *v;
  size_t n, alloc;
};

static ch_err ids_push(certhub_store *s, struct ids *ids, int64_t id)
{
  if(ids->n == ids->alloc) {
    size_t na = ids->alloc ? ids->alloc * 2 : 8;
    int64_t *nv = realloc(ids->v, na * sizeof(*nv));
    if(!nv)
      return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
    ids->v = nv;
    ids->alloc = na;
  }
  ids->v[ids->n++] = id;
  return CH_OK;
}

/* Collect column 0 of every row of a bound cached statement. */
static ch_err collect_ids(certhub_store *s, sqlite3_stmt *st, struct ids *ids,
                          const char *what)
{
  ch_err rc = CH_OK;
  int r;
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
    rc = ids_push(s, ids, sqlite3_column_int64(st, 0));
  if(rc) {
    sqlite3_reset(st);
    return rc;
  }
  return finish_st(s, st, r, what);
}

/* Strip colons, lowercase; false unless only hex digits remain. */
static bool norm_hex(const char *ref, char *out, size_t outlen)
{
  size_t n = 0;
  for(; *ref; ref++) {
    if(*ref == ':')
      continue;
    int v = ch_hex_val((unsigned char)*ref);
    if(v < 0 || n + 1 >= outlen)
      return false;
    out[n++] = "0123456789abcdef"[v];
  }
  out[n] = '\0';
  return n > 0;
}

static ch_err by_prefix(certhub_store *s, const char *ref, const char *hex,
                        struct ids *ids)
{
  sqlite3_stmt *st;
  char hi[80];
  snprintf(hi, sizeof(hi), "%sg", hex);
  ch_err rc = get_st(s, ST_BY_PREFIX, &st);
  if(rc)
    return rc;
  bind_text(st, 1, hex);
  bind_text(st, 2, hi);
  rc = collect_ids(s, st, ids, "resolving reference");
  if(!rc && ids->n > 1)
    rc = ch_store_err(s, CH_ERR_AMBIGUOUS,
                      "'%s' matches several certificates; give more "
                      "characters",
                      ref);
  return rc;
}

static ch_err by_locator(certhub_store *s, const char *ref, struct ids *ids)
{
  sqlite3_stmt *st;
  char *abs = NULL;
  ch_err rc = CH_OK;
  if(strcmp(ref, "-") != 0) {
    abs = realpath(ref, NULL);
    if(!abs && ref[0] != '/') {
      char cwd[PATH_MAX];
      if(getcwd(cwd, sizeof(cwd))) {
        size_t n = strlen(cwd) + strlen(ref) + 2;
        abs = malloc(n);
        if(abs)
          snprintf(abs, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
                   ref);
      }
    }
  }
  rc = get_st(s, ST_BY_LOCATOR, &st);
  if(!rc) {
    bind_text(st, 1, ref);
    bind_text(st, 2, abs ? abs : ref);
    rc = collect_ids(s, st, ids, "resolving source");
  }
  free(abs);
  return rc;
}

static ch_err sq_resolve(certhub_store *s, const char *ref, int64_t **rowids,
                         size_t *n)
{
  struct ids ids = {0};
  char hex[80];
  ch_err rc = CH_OK;

  if(strncmp(ref, "arn:", 4) == 0) {
    const char *slash = strrchr(ref, '/');
    char uuid[80];
    size_t k = 0;
    for(const char *p = slash ? slash + 1 : ""; *p && k < sizeof(uuid) - 1;
        p++)
      if(*p != '-')
        uuid[k++] = *p;
    uuid[k] = '\0';
    if(!slash || strncmp(ref, "arn:certhub:", 12) != 0 ||
       !strstr(ref, ":certificate/") || !norm_hex(uuid, hex, sizeof(hex)) ||
       strlen(hex) != 32 || strchr(uuid, ':'))
      return ch_store_err(s, CH_ERR_USAGE,
                          "'%s' is not a certhub certificate ARN", ref);
    rc = by_prefix(s, ref, hex, &ids);
  }
  else if(norm_hex(ref, hex, sizeof(hex)) && strlen(hex) >= 4 &&
          strlen(hex) <= 64) {
    if(strlen(hex) == 40) {
      sqlite3_stmt *st;
      rc = get_st(s, ST_BY_SHA1, &st);
      if(!rc) {
        bind_text(st, 1, hex);
        rc = collect_ids(s, st, &ids, "resolving SHA-1");
      }
    }
    if(!rc && !ids.n)
      rc = by_prefix(s, ref, hex, &ids);
    /* A file may have a hex-looking name. */
    if(!rc && !ids.n)
      rc = by_locator(s, ref, &ids);
  }
  else
    rc = by_locator(s, ref, &ids);

  if(!rc && !ids.n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no certificate matches '%s'", ref);
  if(rc) {
    free(ids.v);
    return rc;
  }
  *rowids = ids.v;
  *n = ids.n;
  return CH_OK;
}

static ch_err cert_exists(certhub_store *s, int64_t rowid)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_CERT_EXISTS, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, rowid);
  int r = sqlite3_step(st);
  rc = finish_st(s, st, r, "reading certificate");
  if(!rc && r != SQLITE_ROW)
    rc = ch_store_err(s, CH_ERR_NOTFOUND,
                      "%s: no certificate with row id "
                      "%lld",
                      SQ(s)->path, (long long)rowid);
  return rc;
}

static ch_err sq_issuers(certhub_store *s, int64_t rowid, int64_t **rowids,
                         size_t *n)
{
  struct ids ids = {0};
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_ISSUERS, &st);
  if(!rc) {
    sqlite3_bind_int64(st, 1, rowid);
    rc = collect_ids(s, st, &ids, "finding issuers");
  }
  if(!rc && !ids.n)
    rc = cert_exists(s, rowid);
  if(rc) {
    free(ids.v);
    return rc;
  }
  *rowids = ids.v;
  *n = ids.n;
  return CH_OK;
}

static ch_err sq_get_der(certhub_store *s, int64_t rowid, uint8_t **der,
                         size_t *len)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_GET_DER, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, rowid);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    const void *p = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *der = malloc(n ? n : 1);
    if(!*der) {
      sqlite3_reset(st);
      return ch_store_err(s, CH_ERR_NOMEM, "out of memory");
    }
    if(n)
      memcpy(*der, p, n);
    *len = n;
  }
  rc = finish_st(s, st, r, "reading certificate");
  if(rc) {
    ch_safefree(*der);
    *len = 0;
  }
  else if(r != SQLITE_ROW)
    rc =
        ch_store_err(s, CH_ERR_NOTFOUND, "%s: no certificate with row id %lld",
                     SQ(s)->path, (long long)rowid);
  return rc;
}

static ch_err sq_tag_set(certhub_store *s, int64_t rowid, const char *key,
                         const char *value)
{
  return put_tag(s, rowid, key, value);
}

static ch_err sq_tag_remove(certhub_store *s, int64_t rowid, const char *key)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_TAG_DEL, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, rowid);
  bind_text(st, 2, key);
  rc = finish_st(s, st, sqlite3_step(st), "removing tag");
  if(!rc && sqlite3_changes(SQ(s)->db) == 0)
    rc = ch_store_err(s, CH_ERR_NOTFOUND,
                      "certificate row %lld has no tag '%s'", (long long)rowid,
                      key);
  return rc;
}

static ch_err sq_delete(certhub_store *s, int64_t rowid)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_DELETE, &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, rowid);
  rc = finish_st(s, st, sqlite3_step(st), "deleting certificate");
  if(!rc && sqlite3_changes(SQ(s)->db) == 0)
    rc =
        ch_store_err(s, CH_ERR_NOTFOUND, "%s: no certificate with row id %lld",
                     SQ(s)->path, (long long)rowid);
  return rc;
}

static ch_err sq_counts_get(certhub_store *s, certhub_store_counts *out)
{
  sqlite3_stmt *st;
  ch_err rc = get_st(s, ST_COUNTS, &st);
  if(rc)
    return rc;
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    out->certs = (uint64_t)sqlite3_column_int64(st, 0);
    out->sources = (uint64_t)sqlite3_column_int64(st, 1);
    out->sightings = (uint64_t)sqlite3_column_int64(st, 2);
  }
  return finish_st(s, st, r, "counting");
}

static ch_err sq_test_exec(certhub_store *s, const char *stmt, char **first)
{
  sqlite3_stmt *st = NULL;
  int r = sqlite3_prepare_v2(SQ(s)->db, stmt, -1, &st, NULL);
  if(r != SQLITE_OK)
    return dberr(s, r, "test statement");
  ch_err rc = CH_OK;
  r = sqlite3_step(st);
  if(r == SQLITE_ROW && first && sqlite3_column_text(st, 0)) {
    *first = strdup(ch_sq_col_opt(st, 0));
    if(!*first)
      rc = ch_store_err(s, CH_ERR_NOMEM, "out of memory");
  }
  while(r == SQLITE_ROW)
    r = sqlite3_step(st);
  if(!rc && r != SQLITE_DONE)
    rc = dberr(s, r, "test statement");
  sqlite3_finalize(st);
  return rc;
}

const struct ch_store_ops ch_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .wal_external = sq_wal_external,
    .wal_pages = sq_wal_pages,
    .checkpoint = sq_checkpoint,
    .cache_stats = sq_cache_stats,
    .source = sq_source,
    .scan_begin = sq_scan_begin,
    .put_cert = sq_put_cert,
    .scan_finish = sq_scan_finish,
    .list = sq_list,
    .resolve = sq_resolve,
    .get_der = sq_get_der,
    .issuers = sq_issuers,
    .tag_set = sq_tag_set,
    .tag_remove = sq_tag_remove,
    .del = sq_delete,
    .counts_get = sq_counts_get,
    .put_probe = ch_sq_put_probe,
    .endpoints = ch_sq_endpoints,
    .endpoint_resolve = ch_sq_endpoint_resolve,
    .endpoint_describe = ch_sq_endpoint_describe,
    .chain_check_get = ch_sq_chain_check_get,
    .chain_check_put = ch_sq_chain_check_put,
    .mark_set = ch_sq_mark_set,
    .mark_get = ch_sq_mark_get,
    .test_exec = sq_test_exec,
    .bus_create = ch_sq_bus_create,
    .bus_delete = ch_sq_bus_delete,
    .bus_list = ch_sq_bus_list,
    .bus_exists = ch_sq_bus_exists,
    .rule_put = ch_sq_rule_put,
    .rule_get = ch_sq_rule_get,
    .rule_list = ch_sq_rule_list,
    .rule_delete = ch_sq_rule_delete,
    .rule_set_state = ch_sq_rule_set_state,
    .rule_fired = ch_sq_rule_fired,
    .event_put = ch_sq_event_put,
    .events_unrouted = ch_sq_events_unrouted,
    .event_routed = ch_sq_event_routed,
    .event_list = ch_sq_event_list,
    .event_get = ch_sq_event_get,
    .event_prune = ch_sq_event_prune,
    .outbox_add = ch_sq_outbox_add,
    .outbox_due = ch_sq_outbox_due,
    .outbox_set = ch_sq_outbox_set,
    .outbox_list = ch_sq_outbox_list,
    .outbox_of_event = ch_sq_outbox_of_event,
    .outbox_redrive = ch_sq_outbox_redrive,
    .outbox_purge = ch_sq_outbox_purge,
    .bus_next_due = ch_sq_bus_next_due,
    .topic_create = ch_sq_topic_create,
    .topic_get = ch_sq_topic_get,
    .topic_list = ch_sq_topic_list,
    .topic_delete = ch_sq_topic_delete,
    .message_add = ch_sq_message_add,
    .messages = ch_sq_messages,
    .finding_get = ch_sq_finding_get,
    .finding_put = ch_sq_finding_put,
    .findings_count_add = ch_sq_findings_count_add,
    .findings = ch_sq_findings,
    .findings_query = ch_sq_findings_query,
    .findings_group = ch_sq_findings_group,
    .findings_prune = ch_sq_findings_prune,
    .token_put = ch_sq_token_put,
    .token_find = ch_sq_token_find,
    .token_list = ch_sq_token_list,
    .token_revoke = ch_sq_token_revoke,
    .findings_by_id = ch_sq_findings_by_id,
    .sub_put = ch_sq_sub_put,
    .subs = ch_sq_subs,
    .sub_confirm = ch_sq_sub_confirm,
    .sub_delete = ch_sq_sub_delete,
    .fanout = ch_sq_fanout,
    .deliveries_due = ch_sq_deliveries_due,
    .deliveries_update = ch_sq_deliveries_update,
    .deliveries = ch_sq_deliveries,
    .dlq_redrive = ch_sq_dlq_redrive,
    .dlq_purge = ch_sq_dlq_purge,
    .delivery_next_due = ch_sq_delivery_next_due,
    .hub_enable = ch_sq_hub_enable,
    .hub_pending = ch_sq_hub_pending,
    .hub_done = ch_sq_hub_done,
    .hub_state = ch_sq_hub_state,
};

/* For store_sqlite_probe.c, which keeps its statements to itself. */
sqlite3 *ch_sq_db(certhub_store *s)
{
  return SQ(s)->db;
}

ch_err ch_sq_dberr(certhub_store *s, int rc, const char *what)
{
  return dberr(s, rc, what);
}

const char *ch_sq_path(certhub_store *s)
{
  return SQ(s)->path;
}

ch_sq_probe_state *ch_sq_probe(certhub_store *s)
{
  return &SQ(s)->probe;
}
