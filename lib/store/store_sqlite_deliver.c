/*
 * SQLite backend: subscriptions, the delivery outbox and its dead-letter
 * rows (migration 8).
 *
 * deliveries is the outbox: one row per (message, subscription), unique,
 * so a fan-out run twice adds nothing. notify_fanout holds the last
 * topic_messages.id fanned out; it moves in the same transaction as the
 * rows it covers. Dead deliveries stay in the table with status 'dead':
 * that is the dead-letter store (listed, redriven, purged by status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

const char ch_sq_deliver_schema[] =
    "CREATE TABLE subscriptions("
    " id INTEGER PRIMARY KEY,"
    " arn TEXT UNIQUE NOT NULL,"
    " topic TEXT NOT NULL,"
    " topic_arn TEXT NOT NULL,"
    " protocol TEXT NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " attributes TEXT NOT NULL DEFAULT '{}',"
    " status TEXT NOT NULL,"
    " token TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " confirmed_at INTEGER,"
    " UNIQUE(topic, protocol, endpoint));"
    "CREATE INDEX subscriptions_by_token ON subscriptions(token);"
    "CREATE TABLE deliveries("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " message_rowid INTEGER," /* topic_messages.id; NULL: confirmation */
    " message_id TEXT NOT NULL,"
    " sub_id INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " next_at_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL DEFAULT 0,"
    " last_code INTEGER NOT NULL DEFAULT 0,"
    " last_detail TEXT NOT NULL DEFAULT '',"
    " codes TEXT NOT NULL DEFAULT '',"
    " UNIQUE(message_id, sub_id));"
    "CREATE INDEX deliveries_due ON deliveries(next_at_ms)"
    " WHERE status = 'pending';"
    "CREATE INDEX deliveries_by_sub ON deliveries(sub_id, id);"
    "CREATE INDEX deliveries_by_status ON deliveries(status, id);"
    "CREATE TABLE notify_fanout("
    " id INTEGER PRIMARY KEY CHECK(id = 1),"
    " last_message INTEGER NOT NULL);"
    /* Messages logged before subscriptions existed are history, not
     * deliveries. */
    "INSERT INTO notify_fanout(id, last_message)"
    " SELECT 1, coalesce(max(id), 0) FROM topic_messages;";

/* The codes column keeps the last 200 characters (recent attempts). */

/* A transaction of our own unless the caller has one open (then a
 * savepoint, so an error undoes only our part). */
static ch_err tx_begin(certhub_store *s, bool *nested)
{
  sqlite3 *db = ch_sq_db(s);
  *nested = !sqlite3_get_autocommit(db);
  int r = sqlite3_exec(db, *nested ? "SAVEPOINT deliver" : "BEGIN IMMEDIATE",
                       NULL, NULL, NULL);
  return r == SQLITE_OK ? CH_OK : ch_sq_dberr(s, r, "begin");
}

static ch_err tx_end(certhub_store *s, bool nested, ch_err rc)
{
  sqlite3 *db = ch_sq_db(s);
  if(rc) {
    sqlite3_exec(db,
                 nested ? "ROLLBACK TO deliver; RELEASE deliver" : "ROLLBACK",
                 NULL, NULL, NULL);
    return rc;
  }
  int r = sqlite3_exec(db, nested ? "RELEASE deliver" : "COMMIT", NULL, NULL,
                       NULL);
  if(r != SQLITE_OK) {
    rc = ch_sq_dberr(s, r, "commit");
    if(!nested)
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  return rc;
}

static ch_err step_done(certhub_store *s, sqlite3_stmt *st, const char *what)
{
  int r = sqlite3_step(st);
  return r == SQLITE_DONE || r == SQLITE_ROW ? CH_OK : ch_sq_dberr(s, r, what);
}

#define SUB_COLS                                                              \
  "SELECT arn, topic, topic_arn, protocol, endpoint, attributes, status,"     \
  " token, created, coalesce(confirmed_at, 0) FROM subscriptions"

static void sub_from_row(sqlite3_stmt *st, certhub_subscription *o)
{
  *o = (certhub_subscription){
      .arn = ch_sq_col_str(st, 0),
      .topic = ch_sq_col_str(st, 1),
      .topic_arn = ch_sq_col_str(st, 2),
      .protocol = ch_sq_col_str(st, 3),
      .endpoint = ch_sq_col_str(st, 4),
      .attributes = ch_sq_col_str(st, 5),
      .status = ch_sq_col_str(st, 6),
      .token = ch_sq_col_str(st, 7),
      .created = sqlite3_column_int64(st, 8),
      .confirmed_at = sqlite3_column_int64(st, 9),
  };
}

ch_err ch_sq_sub_put(certhub_store *s, const certhub_subscription *sub,
                     const char *confirm_id, int64_t now_ms, bool *created,
                     char *arn_out, bool *pending)
{
  sqlite3_stmt *st = NULL;
  bool nested = false;
  ch_err rc = tx_begin(s, &nested);
  if(rc)
    return rc;
  *created = false;
  /* Subscribe is idempotent for (topic, protocol, endpoint). */
  rc = ch_sq_prepare(s,
                     "SELECT arn, status FROM subscriptions WHERE topic = ?1"
                     " AND protocol = ?2 AND endpoint = ?3",
                     &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, sub->topic);
  ch_sq_bind_opt(st, 2, sub->protocol);
  ch_sq_bind_opt(st, 3, sub->endpoint);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    snprintf(arn_out, CERTHUB_SUB_ARN_MAX, "%s", ch_sq_col_str(st, 0));
    *pending = !strcmp(ch_sq_col_str(st, 1), CERTHUB_SUB_PENDING);
    goto out;
  }
  if(r != SQLITE_DONE) {
    rc = ch_sq_dberr(s, r, "reading subscriptions");
    goto out;
  }
  sqlite3_finalize(st);
  st = NULL;
  /* arn is given as the UUID suffix; the topic's ARN is prefixed here. */
  rc = ch_sq_prepare(
      s,
      "INSERT INTO subscriptions(arn, topic, topic_arn, protocol, endpoint,"
      " attributes, status, token, created, confirmed_at)"
      " SELECT t.arn || ':' || ?2, t.name, t.arn, ?3, ?4, coalesce(?5, '{}'),"
      " ?6, ?7, ?8, CASE WHEN ?6 = 'Confirmed' THEN ?8 END"
      " FROM topics t WHERE t.name = ?1 RETURNING arn, id",
      &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, sub->topic);
  ch_sq_bind_opt(st, 2, sub->arn);
  ch_sq_bind_opt(st, 3, sub->protocol);
  ch_sq_bind_opt(st, 4, sub->endpoint);
  ch_sq_bind_opt(st, 5, sub->attributes);
  ch_sq_bind_opt(st, 6, sub->status);
  ch_sq_bind_opt(st, 7, sub->token);
  sqlite3_bind_int64(st, 8, sub->created);
  r = sqlite3_step(st);
  if(r == SQLITE_DONE) {
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "topic '%s' does not exist",
                      sub->topic);
    goto out;
  }
  if(r != SQLITE_ROW) {
    rc = ch_sq_dberr(s, r, "adding subscription");
    goto out;
  }
  snprintf(arn_out, CERTHUB_SUB_ARN_MAX, "%s", ch_sq_col_str(st, 0));
  int64_t sub_id = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  st = NULL;
  *created = true;
  *pending = !strcmp(sub->status, CERTHUB_SUB_PENDING);
  if(!*pending)
    goto out;
  rc = ch_sq_prepare(s,
                     "INSERT INTO deliveries(kind, message_id, sub_id,"
                     " status, created_ms, next_at_ms)"
                     " VALUES('SubscriptionConfirmation', ?1, ?2,"
                     " 'pending', ?3, ?3)",
                     &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, confirm_id);
  sqlite3_bind_int64(st, 2, sub_id);
  sqlite3_bind_int64(st, 3, now_ms);
  rc = step_done(s, st, "queueing the confirmation");
out:
  sqlite3_finalize(st);
  return tx_end(s, nested, rc);
}

ch_err ch_sq_subs(certhub_store *s, const char *topic, const char *arn,
                  certhub_subscription_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_prepare(s,
                            SUB_COLS " WHERE (?1 IS NULL OR topic = ?1)"
                                     " AND (?2 IS NULL OR arn = ?2)"
                                     " ORDER BY topic, arn",
                            &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, topic);
  ch_sq_bind_opt(st, 2, arn);
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_subscription o;
    sub_from_row(st, &o);
    n++;
    if((rc = cb(ctx, &o)))
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading subscriptions");
  else if(arn && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND,
                      "subscription '%.700s' does not exist", arn);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_sub_confirm(certhub_store *s, const char *topic,
                         const char *token, int64_t now, char *arn_out)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(
      s,
      "UPDATE subscriptions SET status = 'Confirmed',"
      " confirmed_at = coalesce(confirmed_at, ?3)"
      " WHERE (topic = ?1 OR topic_arn = ?1) AND token = ?2 RETURNING arn",
      &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, topic);
  ch_sq_bind_opt(st, 2, token);
  sqlite3_bind_int64(st, 3, now);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    snprintf(arn_out, CERTHUB_SUB_ARN_MAX, "%s", ch_sq_col_str(st, 0));
    r = sqlite3_step(st);
  }
  else if(r == SQLITE_DONE) {
    rc = ch_store_err(s, CH_ERR_NOTFOUND,
                      "no subscription of topic '%.300s' has that token",
                      topic);
    goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "confirming subscription");
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_sub_delete(certhub_store *s, const char *arn)
{
  sqlite3_stmt *st = NULL;
  bool nested = false;
  ch_err rc = tx_begin(s, &nested);
  if(rc)
    return rc;
  rc = ch_sq_prepare(s,
                     "DELETE FROM deliveries WHERE sub_id ="
                     " (SELECT id FROM subscriptions WHERE arn = ?1)",
                     &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, arn);
  if((rc = step_done(s, st, "deleting deliveries")))
    goto out;
  sqlite3_finalize(st);
  st = NULL;
  rc = ch_sq_prepare(s, "DELETE FROM subscriptions WHERE arn = ?1", &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, arn);
  if((rc = step_done(s, st, "deleting subscription")))
    goto out;
  if(sqlite3_changes(ch_sq_db(s)) == 0)
    rc = ch_store_err(s, CH_ERR_NOTFOUND,
                      "subscription '%.700s' does not exist", arn);
out:
  sqlite3_finalize(st);
  return tx_end(s, nested, rc);
}

ch_err ch_sq_fanout(certhub_store *s, int64_t now_ms, uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  bool nested = false;
  int64_t lo = 0, hi = 0;
  *n = 0;
  ch_err rc = tx_begin(s, &nested);
  if(rc)
    return rc;
  /* The upper bound is read first so the cursor never skips a message
   * logged while we insert (none can be: we hold the write lock, but a
   * savepoint inside a caller's transaction must not assume it). */
  rc = ch_sq_prepare(s,
                     "SELECT f.last_message, (SELECT coalesce(max(id), 0)"
                     " FROM topic_messages) FROM notify_fanout f"
                     " WHERE f.id = 1",
                     &st);
  if(rc)
    goto out;
  int r = sqlite3_step(st);
  if(r != SQLITE_ROW) {
    rc = ch_sq_dberr(s, r == SQLITE_DONE ? SQLITE_CORRUPT : r,
                     "reading the fan-out cursor");
    goto out;
  }
  lo = sqlite3_column_int64(st, 0);
  hi = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  st = NULL;
  if(hi <= lo)
    goto out;
  rc = ch_sq_prepare(
      s,
      "INSERT OR IGNORE INTO deliveries(kind, message_rowid, message_id,"
      " sub_id, status, created_ms, next_at_ms)"
      " SELECT 'Notification', m.id, m.message_id, u.id, 'pending', ?3, ?3"
      " FROM topic_messages m JOIN subscriptions u ON u.topic = m.topic"
      " AND u.status = 'Confirmed' AND u.confirmed_at <= m.published_at"
      " WHERE m.id > ?1 AND m.id <= ?2 ORDER BY m.id, u.id",
      &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_int64(st, 3, now_ms);
  if((rc = step_done(s, st, "fanning out messages")))
    goto out;
  *n = (uint64_t)sqlite3_changes(ch_sq_db(s));
  sqlite3_finalize(st);
  st = NULL;
  rc = ch_sq_prepare(
      s, "UPDATE notify_fanout SET last_message = ?1 WHERE id = 1", &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, hi);
  rc = step_done(s, st, "moving the fan-out cursor");
out:
  sqlite3_finalize(st);
  return tx_end(s, nested, rc);
}

#define DELIVERY_COLS                                                         \
  "SELECT d.id, d.kind, d.message_id, u.topic, u.topic_arn, u.arn,"           \
  " u.protocol, d.status, d.attempts, d.created_ms, d.next_at_ms,"            \
  " d.updated_ms, d.last_code, d.last_detail, d.codes"

static void delivery_from_row(sqlite3_stmt *st, certhub_sns_delivery *d)
{
  *d = (certhub_sns_delivery){
      .id = sqlite3_column_int64(st, 0),
      .kind = ch_sq_col_str(st, 1),
      .message_id = ch_sq_col_str(st, 2),
      .topic = ch_sq_col_str(st, 3),
      .topic_arn = ch_sq_col_str(st, 4),
      .sub_arn = ch_sq_col_str(st, 5),
      .protocol = ch_sq_col_str(st, 6),
      .status = ch_sq_col_str(st, 7),
      .attempts = (unsigned)sqlite3_column_int64(st, 8),
      .created_ms = sqlite3_column_int64(st, 9),
      .next_at_ms = sqlite3_column_int64(st, 10),
      .updated_ms = sqlite3_column_int64(st, 11),
      .last_code = (int)sqlite3_column_int64(st, 12),
      .last_detail = ch_sq_col_str(st, 13),
      .codes = ch_sq_col_str(st, 14),
  };
}

ch_err ch_sq_deliveries_due(certhub_store *s, int64_t now_ms, int64_t after_ms,
                            int64_t after_id, size_t limit,
                            certhub_sns_delivery_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(
      s,
      DELIVERY_COLS ", u.endpoint, u.attributes, u.token, m.subject,"
                    " m.message, m.published_at, m.id IS NULL, m.attributes"
                    " FROM deliveries d INDEXED BY deliveries_due"
                    " JOIN subscriptions u ON u.id = d.sub_id"
                    " LEFT JOIN topic_messages m ON m.id = d.message_rowid"
                    " WHERE d.status = 'pending' AND d.next_at_ms <= ?1"
                    " AND (d.next_at_ms, d.id) > (?3, ?4)"
                    " ORDER BY d.next_at_ms, d.id LIMIT ?2",
      &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
  sqlite3_bind_int64(st, 3, after_ms);
  sqlite3_bind_int64(st, 4, after_id);
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_sns_delivery d;
    delivery_from_row(st, &d);
    d.endpoint = ch_sq_col_str(st, 15);
    d.sub_attributes = ch_sq_col_str(st, 16);
    d.token = ch_sq_col_str(st, 17);
    d.subject = ch_sq_col_opt(st, 18);
    d.message = ch_sq_col_opt(st, 19);
    d.len = (size_t)sqlite3_column_bytes(st, 19);
    d.published_at = sqlite3_column_int64(st, 20);
    d.msg_attributes = ch_sq_col_opt(st, 22);
    if((rc = cb(ctx, &d)))
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading due deliveries");
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_deliveries_update(certhub_store *s,
                               const certhub_sns_delivery_update *u, size_t n)
{
  sqlite3_stmt *st = NULL;
  bool nested = false;
  if(!n)
    return CH_OK;
  ch_err rc = tx_begin(s, &nested);
  if(rc)
    return rc;
  rc = ch_sq_prepare(
      s,
      "UPDATE deliveries SET status = ?2, attempts = ?3, next_at_ms = ?4,"
      " updated_ms = ?5,"
      /* code -1: rescheduled (throttle), not an attempt: no history. */
      " last_code = CASE WHEN ?6 < 0 THEN last_code ELSE ?6 END,"
      " last_detail = CASE WHEN ?6 < 0 THEN last_detail ELSE ?7 END,"
      " codes = CASE WHEN ?6 < 0 THEN codes ELSE"
      " substr(CASE WHEN codes = '' THEN ?8"
      " ELSE codes || ',' || ?8 END, -200) END"
      " WHERE id = ?1",
      &st);
  for(size_t i = 0; !rc && i < n; i++) {
    char code[16];
    snprintf(code, sizeof(code), "%d", u[i].code);
    sqlite3_bind_int64(st, 1, u[i].id);
    ch_sq_bind_opt(st, 2, u[i].status);
    sqlite3_bind_int64(st, 3, u[i].attempts);
    sqlite3_bind_int64(st, 4, u[i].next_at_ms);
    sqlite3_bind_int64(st, 5, u[i].now_ms);
    sqlite3_bind_int64(st, 6, u[i].code);
    sqlite3_bind_text(st, 7, u[i].detail ? u[i].detail : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 8, code, -1, SQLITE_TRANSIENT);
    rc = step_done(s, st, "recording a delivery");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return tx_end(s, nested, rc);
}

ch_err ch_sq_deliveries(certhub_store *s, const certhub_sns_delivery_filter *f,
                        certhub_sns_delivery_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(
      s,
      DELIVERY_COLS " FROM deliveries d JOIN subscriptions u"
                    " ON u.id = d.sub_id"
                    " WHERE (?1 IS NULL OR u.topic = ?1 OR u.topic_arn = ?1)"
                    " AND (?2 IS NULL OR u.arn = ?2)"
                    " AND (?3 IS NULL OR d.status = ?3)"
                    " ORDER BY d.id DESC LIMIT ?4",
      &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, f->topic);
  ch_sq_bind_opt(st, 2, f->sub_arn);
  ch_sq_bind_opt(st, 3, f->status);
  sqlite3_bind_int64(st, 4, f->limit ? (int64_t)f->limit : -1);
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_sns_delivery d;
    delivery_from_row(st, &d);
    if((rc = cb(ctx, &d)))
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading deliveries");
out:
  sqlite3_finalize(st);
  return rc;
}

#define DEAD_WHERE                                                            \
  " WHERE status = 'dead' AND (?1 = 0 OR id = ?1) AND (?2 IS NULL OR"         \
  " sub_id IN (SELECT id FROM subscriptions WHERE topic = ?2"                 \
  " OR topic_arn = ?2))"

static ch_err dead_change(certhub_store *s, const char *sql, int64_t id,
                          const char *topic, int64_t now_ms, uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  *n = 0;
  ch_err rc = ch_sq_prepare(s, sql, &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, id);
  ch_sq_bind_opt(st, 2, topic);
  if(sqlite3_bind_parameter_count(st) >= 3)
    sqlite3_bind_int64(st, 3, now_ms);
  if((rc = step_done(s, st, "changing dead-letter deliveries")))
    goto out;
  *n = (uint64_t)sqlite3_changes(ch_sq_db(s));
  if(id && !*n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no dead-letter delivery %lld",
                      (long long)id);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_dlq_redrive(certhub_store *s, int64_t id, const char *topic,
                         int64_t now_ms, uint64_t *n)
{
  return dead_change(s,
                     "UPDATE deliveries SET status = 'pending', attempts = 0,"
                     " next_at_ms = ?3, created_ms = ?3" DEAD_WHERE,
                     id, topic, now_ms, n);
}

ch_err ch_sq_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                       uint64_t *n)
{
  return dead_change(s, "DELETE FROM deliveries" DEAD_WHERE, id, topic, 0, n);
}

ch_err ch_sq_delivery_next_due(certhub_store *s, int64_t *when_ms, bool *found)
{
  sqlite3_stmt *st = NULL;
  *found = false;
  ch_err rc = ch_sq_prepare(s,
                            "SELECT min(next_at_ms) FROM deliveries"
                            " WHERE status = 'pending'",
                            &st);
  if(rc)
    goto out;
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    *when_ms = sqlite3_column_int64(st, 0);
    *found = true;
  }
  else if(r != SQLITE_ROW && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading the next due delivery");
out:
  sqlite3_finalize(st);
  return rc;
}
