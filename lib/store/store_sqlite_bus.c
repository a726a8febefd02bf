/*
 * SQLite backend: the event bus (buses, rules, the event archive, the
 * outbox). The hot statements (event put, outbox add/due/set) are prepared
 * per call: SQLite's prepare is a few microseconds, far below a delivery,
 * and it keeps this file independent of the core's statement cache.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/bus_store.h"
#include "store_sqlite_int.h"

const char ch_sq_bus_schema[] =
    "CREATE TABLE buses("
    " name TEXT PRIMARY KEY,"
    " created INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO buses(name, created) VALUES('default', 0);"
    "CREATE TABLE rules("
    " bus TEXT NOT NULL REFERENCES buses(name),"
    " name TEXT NOT NULL,"
    " pattern TEXT,"
    " schedule TEXT,"
    " state TEXT NOT NULL DEFAULT 'ENABLED',"
    " description TEXT NOT NULL DEFAULT '',"
    " targets TEXT NOT NULL DEFAULT '[]',"
    " managed_by TEXT NOT NULL DEFAULT 'cli',"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " last_fire INTEGER NOT NULL DEFAULT 0,"
    " next_fire INTEGER NOT NULL DEFAULT 0,"
    " batch TEXT,"
    " PRIMARY KEY(bus, name)) WITHOUT ROWID;"
    "CREATE INDEX rules_by_fire ON rules(next_fire)"
    " WHERE next_fire > 0 AND state = 'ENABLED';"
    /* seq is the archive order; id is the event's UUID. */
    "CREATE TABLE events("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " bus TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " detail_type TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " envelope TEXT NOT NULL,"
    " dedupe_key TEXT UNIQUE,"
    " ingested_at INTEGER NOT NULL,"
    " routed INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX events_unrouted ON events(seq) WHERE routed = 0;"
    "CREATE INDEX events_by_time ON events(time);"
    "CREATE INDEX events_by_ingest ON events(ingested_at);"
    /* One row per (event, rule, target): the unique key makes routing
     * idempotent. bus/rule are names, not references: a row outlives a
     * deleted rule (it carries its own target snapshot). */
    "CREATE TABLE outbox("
    " id INTEGER PRIMARY KEY,"
    " event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,"
    " bus TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " target_id TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending',"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " first_attempt_at INTEGER NOT NULL DEFAULT 0,"
    " last_attempt_at INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL,"
    " last_error TEXT NOT NULL DEFAULT '',"
    " UNIQUE(event_seq, bus, rule, target_id));"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at)"
    " WHERE state = 'pending';"
    "CREATE INDEX outbox_by_state ON outbox(state, id);";

/* ---- helpers ----------------------------------------------------------- */

/* Step a statement that returns no rows, finalize it. */
static ch_err run_done(certhub_store *s, sqlite3_stmt *st, const char *what)
{
  int r = sqlite3_step(st);
  ch_err rc = r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, what);
  sqlite3_finalize(st);
  return rc;
}

static uint64_t changes(certhub_store *s)
{
  return (uint64_t)sqlite3_changes64(ch_sq_db(s));
}

/* ---- buses ------------------------------------------------------------- */

ch_err ch_sq_bus_create(certhub_store *s, const char *name, int64_t now)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s,
                            "INSERT INTO buses(name, created) VALUES(?1, ?2)"
                            " ON CONFLICT(name) DO NOTHING",
                            &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, name);
  sqlite3_bind_int64(st, 2, now);
  rc = run_done(s, st, "creating bus");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_EXISTS, "event bus '%s' already exists", name);
  return rc;
}

ch_err ch_sq_bus_delete(certhub_store *s, const char *name)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s, "SELECT count(*) FROM rules WHERE bus = ?1", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, name);
  int r = sqlite3_step(st);
  int64_t n = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if(r != SQLITE_ROW)
    return ch_sq_dberr(s, r, "counting rules");
  if(n > 0)
    return ch_store_err(s, CH_ERR_EXISTS,
                        "event bus '%s' still has %" PRId64
                        " rule(s); delete them first",
                        name, n);
  rc = ch_sq_prepare(s, "DELETE FROM buses WHERE name = ?1", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, name);
  rc = run_done(s, st, "deleting bus");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no event bus '%s'", name);
  return rc;
}

ch_err ch_sq_bus_list(certhub_store *s, certhub_bus_name_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT b.name, b.created, (SELECT count(*) FROM rules r"
                    " WHERE r.bus = b.name) FROM buses b ORDER BY b.name",
                    &st);
  if(rc)
    return rc;
  int r;
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
    rc = cb(ctx, ch_sq_col_str(st, 0), sqlite3_column_int64(st, 1),
            (uint64_t)sqlite3_column_int64(st, 2));
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "listing buses");
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_bus_exists(certhub_store *s, const char *name, bool *exists)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s, "SELECT 1 FROM buses WHERE name = ?1", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, name);
  int r = sqlite3_step(st);
  *exists = r == SQLITE_ROW;
  if(r != SQLITE_ROW && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "looking up bus");
  sqlite3_finalize(st);
  return rc;
}

/* ---- rules ------------------------------------------------------------- */

#define RULE_COLS                                                             \
  "bus, name, pattern, schedule, state, description, targets, managed_by,"    \
  " created, updated, last_fire, next_fire, batch"

static ch_err rule_rows(certhub_store *s, sqlite3_stmt *st,
                        certhub_bus_rule_cb cb, void *ctx, size_t *n)
{
  ch_err rc = CH_OK;
  int r;
  *n = 0;
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_bus_rule ru = {
        .bus = ch_sq_col_str(st, 0),
        .name = ch_sq_col_str(st, 1),
        .pattern = ch_sq_col_opt(st, 2),
        .schedule = ch_sq_col_opt(st, 3),
        .enabled = strcmp(ch_sq_col_str(st, 4), "ENABLED") == 0,
        .description = ch_sq_col_str(st, 5),
        .targets = ch_sq_col_str(st, 6),
        .managed_by = ch_sq_col_str(st, 7),
        .created = sqlite3_column_int64(st, 8),
        .updated = sqlite3_column_int64(st, 9),
        .last_fire = sqlite3_column_int64(st, 10),
        .next_fire = sqlite3_column_int64(st, 11),
        .batch = ch_sq_col_opt(st, 12),
    };
    (*n)++;
    rc = cb(ctx, &ru);
  }
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading rules");
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_rule_put(certhub_store *s, const certhub_bus_rule *ru,
                      bool *created)
{
  sqlite3_stmt *st = NULL;
  bool exists = false;
  ch_err rc = ch_sq_prepare(
      s, "SELECT 1 FROM rules WHERE bus = ?1 AND name = ?2", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, ru->bus);
  ch_sq_bind_opt(st, 2, ru->name);
  int r = sqlite3_step(st);
  exists = r == SQLITE_ROW;
  sqlite3_finalize(st);
  if(r != SQLITE_ROW && r != SQLITE_DONE)
    return ch_sq_dberr(s, r, "looking up rule");
  rc = ch_sq_prepare(
      s,
      "INSERT INTO rules(" RULE_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
      " ?7, ?8, ?9, ?9, ?10, ?11, ?12) ON CONFLICT(bus, name) DO UPDATE SET"
      " pattern = excluded.pattern, schedule = excluded.schedule,"
      " state = excluded.state, description = excluded.description,"
      " targets = excluded.targets, managed_by = excluded.managed_by,"
      " updated = excluded.updated, last_fire = excluded.last_fire,"
      " next_fire = excluded.next_fire, batch = excluded.batch",
      &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, ru->bus);
  ch_sq_bind_opt(st, 2, ru->name);
  ch_sq_bind_opt(st, 3, ru->pattern);
  ch_sq_bind_opt(st, 4, ru->schedule);
  ch_sq_bind_opt(st, 5, ru->enabled ? "ENABLED" : "DISABLED");
  ch_sq_bind_opt(st, 6, ru->description ? ru->description : "");
  ch_sq_bind_opt(st, 7, ru->targets ? ru->targets : "[]");
  ch_sq_bind_opt(st, 8, ru->managed_by ? ru->managed_by : CERTHUB_RULE_BY_CLI);
  sqlite3_bind_int64(st, 9, ru->updated);
  sqlite3_bind_int64(st, 10, ru->last_fire);
  sqlite3_bind_int64(st, 11, ru->next_fire);
  ch_sq_bind_opt(st, 12, ru->batch);
  rc = run_done(s, st, "storing rule");
  if(!rc && created)
    *created = !exists;
  return rc;
}

ch_err ch_sq_rule_get(certhub_store *s, const char *bus, const char *name,
                      certhub_bus_rule_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n;
  ch_err rc = ch_sq_prepare(s,
                            "SELECT " RULE_COLS " FROM rules WHERE bus = ?1"
                            " AND name = ?2",
                            &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, bus);
  ch_sq_bind_opt(st, 2, name);
  rc = rule_rows(s, st, cb, ctx, &n);
  if(!rc && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no rule '%s' on event bus '%s'",
                      name, bus);
  return rc;
}

ch_err ch_sq_rule_list(certhub_store *s, const char *bus,
                       certhub_bus_rule_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT " RULE_COLS " FROM rules WHERE ?1 IS NULL OR"
                    " bus = ?1 ORDER BY bus, name",
                    &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, bus);
  return rule_rows(s, st, cb, ctx, &n);
}

ch_err ch_sq_rule_delete(certhub_store *s, const char *bus, const char *name)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s, "DELETE FROM rules WHERE bus = ?1 AND name = ?2", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, bus);
  ch_sq_bind_opt(st, 2, name);
  rc = run_done(s, st, "deleting rule");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no rule '%s' on event bus '%s'",
                      name, bus);
  return rc;
}

ch_err ch_sq_rule_set_state(certhub_store *s, const char *bus,
                            const char *name, bool enabled, int64_t next_fire,
                            int64_t now)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "UPDATE rules SET state = ?3, next_fire = ?4, updated = ?5"
                    " WHERE bus = ?1 AND name = ?2",
                    &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, bus);
  ch_sq_bind_opt(st, 2, name);
  ch_sq_bind_opt(st, 3, enabled ? "ENABLED" : "DISABLED");
  sqlite3_bind_int64(st, 4, next_fire);
  sqlite3_bind_int64(st, 5, now);
  rc = run_done(s, st, "updating rule");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no rule '%s' on event bus '%s'",
                      name, bus);
  return rc;
}

ch_err ch_sq_rule_fired(certhub_store *s, const char *bus, const char *name,
                        int64_t last_fire, int64_t next_fire)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s,
                            "UPDATE rules SET last_fire = ?3, next_fire = ?4"
                            " WHERE bus = ?1 AND name = ?2",
                            &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, bus);
  ch_sq_bind_opt(st, 2, name);
  sqlite3_bind_int64(st, 3, last_fire);
  sqlite3_bind_int64(st, 4, next_fire);
  rc = run_done(s, st, "recording schedule fire");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no rule '%s' on event bus '%s'",
                      name, bus);
  return rc;
}

/* ---- events ------------------------------------------------------------ */

#define EVENT_COLS                                                            \
  "seq, id, bus, source, detail_type, time, envelope, dedupe_key,"            \
  " ingested_at, routed"

static ch_err event_rows(certhub_store *s, sqlite3_stmt *st,
                         certhub_bus_event_cb cb, void *ctx, size_t *n)
{
  ch_err rc = CH_OK;
  int r;
  *n = 0;
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_bus_event_rec e = {
        .seq = sqlite3_column_int64(st, 0),
        .id = ch_sq_col_str(st, 1),
        .bus = ch_sq_col_str(st, 2),
        .source = ch_sq_col_str(st, 3),
        .detail_type = ch_sq_col_str(st, 4),
        .time = sqlite3_column_int64(st, 5),
        .envelope = ch_sq_col_str(st, 6),
        .dedupe_key = ch_sq_col_opt(st, 7),
        .ingested_at = sqlite3_column_int64(st, 8),
        .routed = sqlite3_column_int(st, 9) != 0,
    };
    (*n)++;
    rc = cb(ctx, &e);
  }
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading events");
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_event_put(certhub_store *s, const certhub_bus_event_rec *e,
                       bool *stored, int64_t *seq)
{
  sqlite3_stmt *st = NULL;
  *stored = false;
  /* Only a dedupe_key conflict is silent; a duplicate id is an error. */
  ch_err rc =
      ch_sq_prepare(s,
                    "INSERT INTO events(id, bus, source, detail_type, time,"
                    " envelope, dedupe_key, ingested_at) VALUES(?1, ?2, ?3,"
                    " ?4, ?5, ?6, ?7, ?8) ON CONFLICT(dedupe_key) DO NOTHING",
                    &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, e->id);
  ch_sq_bind_opt(st, 2, e->bus);
  ch_sq_bind_opt(st, 3, e->source);
  ch_sq_bind_opt(st, 4, e->detail_type);
  sqlite3_bind_int64(st, 5, e->time);
  ch_sq_bind_opt(st, 6, e->envelope);
  ch_sq_bind_opt(st, 7, e->dedupe_key);
  sqlite3_bind_int64(st, 8, e->ingested_at);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if((r & 0xff) == SQLITE_CONSTRAINT)
    return ch_store_err(s, CH_ERR_EXISTS, "event id '%s' already exists",
                        e->id);
  if(r != SQLITE_DONE)
    return ch_sq_dberr(s, r, "storing event");
  *stored = changes(s) > 0;
  if(seq)
    *seq = *stored ? sqlite3_last_insert_rowid(ch_sq_db(s)) : 0;
  return CH_OK;
}

ch_err ch_sq_events_unrouted(certhub_store *s, size_t limit,
                             certhub_bus_event_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT " EVENT_COLS " FROM events WHERE routed = 0"
                    " ORDER BY seq LIMIT ?1",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
  return event_rows(s, st, cb, ctx, &n);
}

ch_err ch_sq_event_routed(certhub_store *s, int64_t seq)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s, "UPDATE events SET routed = 1 WHERE seq = ?1", &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, seq);
  return run_done(s, st, "marking event routed");
}

ch_err ch_sq_event_list(certhub_store *s, const certhub_bus_event_filter *f,
                        certhub_bus_event_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT " EVENT_COLS " FROM events WHERE"
                    " (?1 IS NULL OR bus = ?1) AND (?2 IS NULL OR"
                    " detail_type = ?2) AND (?3 IS NULL OR source = ?3)"
                    " AND (?4 = 0 OR time >= ?4) AND (?5 = 0 OR time <= ?5)"
                    " ORDER BY time DESC, seq DESC LIMIT ?6",
                    &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, f->bus);
  ch_sq_bind_opt(st, 2, f->detail_type);
  ch_sq_bind_opt(st, 3, f->source);
  sqlite3_bind_int64(st, 4, f->since);
  sqlite3_bind_int64(st, 5, f->until);
  sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : -1);
  return event_rows(s, st, cb, ctx, &n);
}

ch_err ch_sq_event_get(certhub_store *s, const char *id,
                       certhub_bus_event_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n;
  ch_err rc =
      ch_sq_prepare(s, "SELECT " EVENT_COLS " FROM events WHERE id = ?1", &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, id);
  rc = event_rows(s, st, cb, ctx, &n);
  if(!rc && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no event with id '%s'", id);
  return rc;
}

ch_err ch_sq_event_prune(certhub_store *s, int64_t before, uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "DELETE FROM events WHERE routed = 1 AND ingested_at < ?1"
                    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE"
                    " o.event_seq = events.seq AND o.state IN ('pending',"
                    " 'dead'))",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, before);
  rc = run_done(s, st, "pruning events");
  *n = rc ? 0 : changes(s);
  return rc;
}

/* ---- outbox ------------------------------------------------------------ */

ch_err ch_sq_outbox_add(certhub_store *s, int64_t event_seq, const char *bus,
                        const char *rule, const char *target_id,
                        const char *target, int64_t now, bool *added)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "INSERT INTO outbox(event_seq, bus, rule, target_id,"
                    " target, created, next_attempt_at) VALUES(?1, ?2, ?3,"
                    " ?4, ?5, ?6, ?6) ON CONFLICT(event_seq, bus, rule,"
                    " target_id) DO NOTHING",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, event_seq);
  ch_sq_bind_opt(st, 2, bus);
  ch_sq_bind_opt(st, 3, rule);
  ch_sq_bind_opt(st, 4, target_id);
  ch_sq_bind_opt(st, 5, target);
  sqlite3_bind_int64(st, 6, now);
  rc = run_done(s, st, "adding outbox row");
  if(!rc && added)
    *added = changes(s) > 0;
  return rc;
}

#define OUTBOX_COLS                                                           \
  "o.id, o.event_seq, e.id, o.bus, o.rule, o.target_id, o.target,"            \
  " o.state, o.attempts, o.created, o.first_attempt_at, o.last_attempt_at,"   \
  " o.next_attempt_at, o.last_error, e.ingested_at"

static ch_err outbox_rows(certhub_store *s, sqlite3_stmt *st, bool with_event,
                          certhub_bus_outbox_cb cb, void *ctx)
{
  ch_err rc = CH_OK;
  int r;
  while(!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_bus_outbox_row o = {
        .id = sqlite3_column_int64(st, 0),
        .event_seq = sqlite3_column_int64(st, 1),
        .event_id = ch_sq_col_str(st, 2),
        .bus = ch_sq_col_str(st, 3),
        .rule = ch_sq_col_str(st, 4),
        .target_id = ch_sq_col_str(st, 5),
        .target = ch_sq_col_str(st, 6),
        .state = ch_sq_col_str(st, 7),
        .attempts = (unsigned)sqlite3_column_int64(st, 8),
        .created = sqlite3_column_int64(st, 9),
        .first_attempt_at = sqlite3_column_int64(st, 10),
        .last_attempt_at = sqlite3_column_int64(st, 11),
        .next_attempt_at = sqlite3_column_int64(st, 12),
        .last_error = ch_sq_col_str(st, 13),
        .ingested_at = sqlite3_column_int64(st, 14),
        .event = with_event ? ch_sq_col_str(st, 15) : NULL,
    };
    rc = cb(ctx, &o);
  }
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading outbox");
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_outbox_due(certhub_store *s, int64_t now, size_t limit,
                        certhub_bus_outbox_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT " OUTBOX_COLS ", e.envelope FROM outbox o"
                    " JOIN events e ON e.seq = o.event_seq"
                    " WHERE o.state = 'pending' AND o.next_attempt_at <= ?1"
                    /* ties (rows a breaker postponed together): the least
                     * recently attempted first, so trials rotate */
                    " ORDER BY o.next_attempt_at, o.last_attempt_at, o.id"
                    " LIMIT ?2",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
  return outbox_rows(s, st, true, cb, ctx);
}

ch_err ch_sq_outbox_set(certhub_store *s, int64_t id, const char *state,
                        unsigned attempts, int64_t next_attempt_at,
                        const char *last_error, int64_t now)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "UPDATE outbox SET state = ?2, attempts = ?3,"
                    " next_attempt_at = ?4, last_error = ?5,"
                    " last_attempt_at = ?6, first_attempt_at = CASE WHEN"
                    " first_attempt_at = 0 THEN ?6 ELSE first_attempt_at END"
                    " WHERE id = ?1",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  ch_sq_bind_opt(st, 2, state);
  sqlite3_bind_int64(st, 3, attempts);
  sqlite3_bind_int64(st, 4, next_attempt_at);
  ch_sq_bind_opt(st, 5, last_error ? last_error : "");
  sqlite3_bind_int64(st, 6, now);
  rc = run_done(s, st, "updating outbox row");
  if(!rc && !changes(s))
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no outbox row %" PRId64, id);
  return rc;
}

ch_err ch_sq_outbox_list(certhub_store *s, const char *state, size_t limit,
                         certhub_bus_outbox_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT " OUTBOX_COLS " FROM outbox o"
                    " JOIN events e ON e.seq = o.event_seq"
                    " WHERE ?1 IS NULL OR o.state = ?1 ORDER BY o.id LIMIT ?2",
                    &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, state);
  sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
  return outbox_rows(s, st, false, cb, ctx);
}

ch_err ch_sq_outbox_of_event(certhub_store *s, const char *event_id,
                             certhub_bus_outbox_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s,
                            "SELECT " OUTBOX_COLS " FROM events e"
                            " JOIN outbox o ON o.event_seq = e.seq"
                            " WHERE e.id = ?1 ORDER BY o.id",
                            &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, event_id);
  return outbox_rows(s, st, false, cb, ctx);
}

ch_err ch_sq_outbox_redrive(certhub_store *s, int64_t id, int64_t now,
                            uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "UPDATE outbox SET state = 'pending', attempts = 0,"
                    " first_attempt_at = 0, next_attempt_at = ?2"
                    " WHERE state = 'dead' AND (?1 = 0 OR id = ?1)",
                    &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now);
  rc = run_done(s, st, "redriving dead letters");
  *n = rc ? 0 : changes(s);
  return rc;
}

ch_err ch_sq_outbox_purge(certhub_store *s, int64_t id, uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s,
                            "DELETE FROM outbox WHERE state = 'dead'"
                            " AND (?1 = 0 OR id = ?1)",
                            &st);
  if(rc)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  rc = run_done(s, st, "purging dead letters");
  *n = rc ? 0 : changes(s);
  return rc;
}

ch_err ch_sq_bus_next_due(certhub_store *s, int64_t *when, bool *found)
{
  sqlite3_stmt *st = NULL;
  ch_err rc =
      ch_sq_prepare(s,
                    "SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM"
                    " outbox WHERE state = 'pending' UNION ALL SELECT"
                    " min(next_fire) FROM rules WHERE next_fire > 0 AND"
                    " state = 'ENABLED')",
                    &st);
  if(rc)
    return rc;
  int r = sqlite3_step(st);
  *found = false;
  *when = 0;
  if(r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    *found = true;
    *when = sqlite3_column_int64(st, 0);
  }
  if(r != SQLITE_ROW && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading next due time");
  sqlite3_finalize(st);
  return rc;
}
