/*
 * SQLite backend: the hub forwarding queue (migration 13, certhub/hub.h).
 * Triggers on findings fill the queue, so every writer of findings
 * (imports, bus targets, probes, updates) is covered without knowing of
 * the hub. Since migration 20 the insert and update triggers exist only
 * while forwarding is on (made and dropped with hub_state.enabled).
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/hub.h"
#include "store_sqlite_int.h"

const char ch_sq_hub_schema[] =
    "CREATE TABLE hub_state("
    " id INTEGER PRIMARY KEY CHECK(id = 1),"
    " enabled INTEGER NOT NULL);"
    "INSERT INTO hub_state(id, enabled) VALUES(1, 0);"
    /* AUTOINCREMENT: a seq is never reused, so a version the hub took is
     * never confused with a later write of the same finding. The
     * triggers delete and insert rather than INSERT OR REPLACE: an outer
     * statement's conflict policy overrides a trigger's. */
    "CREATE TABLE hub_outbox("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " product_arn TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " UNIQUE(product_arn, id));" CH_SQ_HUB_TRIGGERS;

static ch_err exec(certhub_store *s, const char *sql, const char *what)
{
  int r = sqlite3_exec(ch_sq_db(s), sql, NULL, NULL, NULL);
  return r == SQLITE_OK ? CH_OK : ch_sq_dberr(s, r, what);
}

/* Migration 20: drop the insert and update triggers; ch_sq_hub_migrate20
 * makes them again (without the WHEN) if the hub is enabled. */
const char ch_sq_hub_triggers20_schema[] = CH_SQ_HUB_TRIGGERS_OFF;

ch_err ch_sq_hub_migrate20(certhub_store *s)
{
  bool on = false;
  uint64_t n = 0;
  ch_err rc = ch_sq_hub_state(s, &on, &n);
  if(!rc && on)
    rc = exec(s, CH_SQ_HUB_TRIGGERS_ON, "making the hub triggers");
  return rc;
}

static ch_err step_done(certhub_store *s, sqlite3_stmt *st, const char *what)
{
  int r = sqlite3_step(st);
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, what);
}

ch_err ch_sq_hub_state(certhub_store *s, bool *on, uint64_t *queued)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT (SELECT enabled FROM hub_state WHERE id = 1),"
                    " (SELECT count(*) FROM hub_outbox)",
                    &st);
  if(rc)
    return rc;
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    *on = sqlite3_column_int(st, 0) != 0;
    *queued = (uint64_t)sqlite3_column_int64(st, 1);
  }
  else
    rc = ch_sq_dberr(s, r, "reading the hub queue");
  sqlite3_finalize(st);
  return rc;
}

static const char hub_on_sql[] =
    "UPDATE hub_state SET enabled = 1 WHERE id = 1;" CH_SQ_HUB_TRIGGERS_ON
    "INSERT OR IGNORE INTO hub_outbox(product_arn, id)"
    " SELECT product_arn, id FROM findings ORDER BY updated_at";
static const char hub_off_sql[] =
    "UPDATE hub_state SET enabled = 0 WHERE id = 1;" CH_SQ_HUB_TRIGGERS_OFF
    "DELETE FROM hub_outbox";

ch_err ch_sq_hub_enable(certhub_store *s, bool on, bool *changed)
{
  bool was = false;
  uint64_t n = 0;
  ch_err rc = exec(s, "SAVEPOINT hub_enable", "hub enable");
  if(rc)
    return rc;
  rc = ch_sq_hub_state(s, &was, &n);
  if(!rc && was != on) {
    rc = exec(s, on ? hub_on_sql : hub_off_sql,
              on ? "queueing the findings for the hub"
                 : "emptying the hub queue");
  }
  if(rc) {
    exec(s, "ROLLBACK TO hub_enable; RELEASE hub_enable", "rollback");
    return rc;
  }
  if(changed)
    *changed = was != on;
  return exec(s, "RELEASE hub_enable", "hub enable");
}

ch_err ch_sq_hub_pending(certhub_store *s, size_t limit,
                         certhub_hub_item_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  int64_t gone[64];
  size_t n_gone = 0;
  int r;
  ch_err rc = ch_sq_prepare(
      s,
      "SELECT o.seq, o.product_arn, o.id, f.finding FROM hub_outbox o"
      " LEFT JOIN findings f ON f.product_arn = o.product_arn"
      "  AND f.id = o.id ORDER BY o.seq LIMIT ?1",
      &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_hub_item it = {
        .seq = sqlite3_column_int64(st, 0),
        .product_arn = ch_sq_col_str(st, 1),
        .id = ch_sq_col_str(st, 2),
        .json = ch_sq_col_opt(st, 3),
    };
    if(!it.json) { /* deleted while queued (the trigger missed it) */
      if(n_gone < CH_ARRAY_LEN(gone))
        gone[n_gone++] = it.seq;
      continue;
    }
    rc = cb(ctx, &it);
  }
  if(!rc && r != SQLITE_DONE && r != SQLITE_ROW)
    rc = ch_sq_dberr(s, r, "reading the hub queue");
  sqlite3_finalize(st);
  if(!rc && n_gone)
    rc = ch_sq_hub_done(s, gone, n_gone);
  return rc;
}

ch_err ch_sq_hub_done(certhub_store *s, const int64_t *seqs, size_t n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = exec(s, "SAVEPOINT hub_done", "hub queue");
  if(rc)
    return rc;
  rc = ch_sq_prepare(s, "DELETE FROM hub_outbox WHERE seq = ?1", &st);
  for(size_t i = 0; !rc && i < n; i++) {
    sqlite3_bind_int64(st, 1, seqs[i]);
    rc = step_done(s, st, "removing forwarded findings from the hub queue");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if(rc) {
    exec(s, "ROLLBACK TO hub_done; RELEASE hub_done", "rollback");
    return rc;
  }
  return exec(s, "RELEASE hub_done", "hub queue");
}
