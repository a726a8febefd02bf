/*
 * SQLite backend: topics and the topic message log (migration 6).
 *
 * The log is append-only here; issue 5's subscriptions and per-subscription
 * deliveries will reference topic_messages.id. Messages name their topic by
 * name and ARN rather than by a foreign key, so deleting a topic keeps its
 * history readable.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

const char ch_sq_notify_schema[] =
    "CREATE TABLE topics("
    " id INTEGER PRIMARY KEY,"
    " name TEXT UNIQUE NOT NULL,"
    " arn TEXT NOT NULL,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL);"
    "CREATE TABLE topic_messages("
    " id INTEGER PRIMARY KEY,"
    " message_id TEXT UNIQUE NOT NULL,"
    " topic TEXT NOT NULL,"
    " topic_arn TEXT NOT NULL,"
    " subject TEXT,"
    " message TEXT NOT NULL,"
    " published_at INTEGER NOT NULL);"
    "CREATE INDEX topic_messages_by_topic ON topic_messages(topic, id);";

/* Migration 9: a sealed body is an AES-GCM blob (lib/notify/seal.c), kept
 * in the same column; the flag says which rows hold one. */
const char ch_sq_notify_sealed_schema[] =
    "ALTER TABLE topic_messages ADD COLUMN sealed INTEGER NOT NULL "
    "DEFAULT 0;";

/* Migration 14: MessageAttributes, JSON text in SNS's notification shape
 * (lib/notify/attrs.c checks them); NULL when a message has none. */
const char ch_sq_notify_attrs_schema[] =
    "ALTER TABLE topic_messages ADD COLUMN attributes TEXT;";

ch_err ch_sq_topic_create(certhub_store *s, const char *name, const char *arn,
                          const char *display_name, int64_t now, bool *created)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "INSERT INTO topics(name, arn, display_name, created)"
                    " VALUES(?1, ?2, coalesce(?3, ''), ?4)"
                    " ON CONFLICT(name) DO NOTHING",
                    &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, name);
  ch_sq_bind_opt(st, 2, arn);
  ch_sq_bind_opt(st, 3, display_name);
  sqlite3_bind_int64(st, 4, now);
  int r = sqlite3_step(st);
  if(r != SQLITE_DONE) {
    rc = ch_sq_dberr(s, r, "creating topic");
    goto out;
  }
  *created = sqlite3_changes(ch_sq_db(s)) > 0;
out:
  sqlite3_finalize(st);
  return rc;
}

#define TOPIC_COLS                                                            \
  "SELECT t.name, t.arn, t.display_name, t.created,"                          \
  " (SELECT count(*) FROM topic_messages m WHERE m.topic = t.name)"           \
  " FROM topics t"

static ch_err topic_rows(certhub_store *s, sqlite3_stmt *st,
                         certhub_topic_cb cb, void *ctx, size_t *n)
{
  ch_err rc = CH_OK;
  int r;
  *n = 0;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_topic t = {
        .name = ch_sq_col_str(st, 0),
        .arn = ch_sq_col_str(st, 1),
        .display_name = ch_sq_col_str(st, 2),
        .created = sqlite3_column_int64(st, 3),
        .n_messages = (uint64_t)sqlite3_column_int64(st, 4),
    };
    ++*n;
    rc = cb(ctx, &t);
    if(rc)
      return rc;
  }
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, "reading topics");
}

ch_err ch_sq_topic_get(certhub_store *s, const char *name, certhub_topic_cb cb,
                       void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_prepare(s, TOPIC_COLS " WHERE t.name = ?1", &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, name);
  rc = topic_rows(s, st, cb, ctx, &n);
  if(!rc && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "topic '%s' does not exist", name);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_topic_list(certhub_store *s, certhub_topic_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_prepare(s, TOPIC_COLS " ORDER BY t.name", &st);
  if(!rc)
    rc = topic_rows(s, st, cb, ctx, &n);
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_topic_delete(certhub_store *s, const char *name)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s, "DELETE FROM topics WHERE name = ?1", &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, name);
  int r = sqlite3_step(st);
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "deleting topic");
  else if(sqlite3_changes(ch_sq_db(s)) == 0)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "topic '%s' does not exist", name);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_message_add(certhub_store *s, const certhub_message *m)
{
  sqlite3_stmt *st = NULL;
  /* One statement: the topic's existence and the insert cannot race. */
  ch_err rc =
      ch_sq_prepare(s,
                    "INSERT INTO topic_messages(message_id, topic, topic_arn,"
                    " subject, message, published_at, sealed, attributes)"
                    " SELECT ?1, t.name, t.arn, ?3, ?4, ?5, ?6, ?7"
                    " FROM topics t WHERE t.name = ?2",
                    &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, m->message_id);
  ch_sq_bind_opt(st, 2, m->topic);
  ch_sq_bind_opt(st, 3, m->subject);
  if(m->sealed)
    sqlite3_bind_blob(st, 4, m->message, (int)m->len, SQLITE_STATIC);
  else
    sqlite3_bind_text(st, 4, m->message ? m->message : "", (int)m->len,
                      SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, m->published_at);
  sqlite3_bind_int(st, 6, m->sealed ? 1 : 0);
  ch_sq_bind_opt(st, 7, m->attributes);
  int r = sqlite3_step(st);
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "logging message");
  else if(sqlite3_changes(ch_sq_db(s)) == 0)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "topic '%s' does not exist",
                      m->topic);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_messages(certhub_store *s, const char *topic, size_t limit,
                      certhub_message_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT message_id, topic, topic_arn, subject, message,"
                    " published_at, sealed, attributes FROM topic_messages"
                    " WHERE ?1 IS NULL OR topic = ?1"
                    " ORDER BY id DESC LIMIT ?2",
                    &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, topic);
  sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    bool sealed = sqlite3_column_int(st, 6) != 0;
    /* a sealed body is binary: read it as a blob, not as text */
    const char *body = sealed ? (const char *)sqlite3_column_blob(st, 4)
                              : ch_sq_col_str(st, 4);
    certhub_message m = {
        .message_id = ch_sq_col_str(st, 0),
        .topic = ch_sq_col_str(st, 1),
        .topic_arn = ch_sq_col_str(st, 2),
        .subject = (const char *)sqlite3_column_text(st, 3),
        .message = body ? body : "",
        .len = (size_t)sqlite3_column_bytes(st, 4),
        .published_at = sqlite3_column_int64(st, 5),
        .sealed = sealed,
        .attributes = (const char *)sqlite3_column_text(st, 7),
    };
    rc = cb(ctx, &m);
    if(rc)
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading messages");
out:
  sqlite3_finalize(st);
  return rc;
}
