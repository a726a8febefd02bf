/*
 * SQLite backend: the findings store (migrations 7, 15 and 17). A finding is
 * its whole ASFF JSON plus the columns queries filter and sort on;
 * lib/findings decides what to write (validation, upsert rules), this file
 * only stores.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* Times are milliseconds since the epoch (ASFF timestamps carry
 * fractions, and "newer UpdatedAt" compares them). */
const char ch_sq_findings_schema[] =
    "CREATE TABLE findings("
    " product_arn TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " generator_id TEXT NOT NULL,"
    " aws_account_id TEXT NOT NULL,"
    " region TEXT NOT NULL DEFAULT '',"
    " severity_label TEXT NOT NULL,"
    " workflow_status TEXT NOT NULL,"
    " record_state TEXT NOT NULL,"
    " resource_id TEXT NOT NULL,"
    " created_at INTEGER,"
    " updated_at INTEGER NOT NULL,"
    " first_observed_at INTEGER,"
    " last_observed_at INTEGER,"
    " imported_at INTEGER NOT NULL,"
    " finding TEXT NOT NULL,"
    " PRIMARY KEY(product_arn, id));"
    "CREATE INDEX findings_by_updated ON findings(updated_at);"
    "CREATE INDEX findings_by_severity ON findings(severity_label,"
    " updated_at);"
    "CREATE INDEX findings_by_resource ON findings(resource_id);";

/* Migration 15: the four query columns of migration 10 (title,
 * compliance_status, resource_type, product_name) become ordinary columns
 * that the writers fill. As VIRTUAL generated columns under an index they
 * made SQLite parse the stored JSON once per indexed column on every
 * insert, and twice (old and new row) on every update: most of an import's
 * SQLite time. SQLite cannot change a column's kind in place, so the table
 * is rebuilt (rowids kept) and its indexes and the hub triggers of
 * migration 13 recreated; the migration's transaction makes it all or
 * nothing. The copy reads the virtual columns, so existing rows get the
 * values queries saw before. */
const char ch_sq_findings15_schema[] =
    "CREATE TABLE findings_v15("
    " product_arn TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " generator_id TEXT NOT NULL,"
    " aws_account_id TEXT NOT NULL,"
    " region TEXT NOT NULL DEFAULT '',"
    " severity_label TEXT NOT NULL,"
    " workflow_status TEXT NOT NULL,"
    " record_state TEXT NOT NULL,"
    " resource_id TEXT NOT NULL,"
    " created_at INTEGER,"
    " updated_at INTEGER NOT NULL,"
    " first_observed_at INTEGER,"
    " last_observed_at INTEGER,"
    " imported_at INTEGER NOT NULL,"
    " finding TEXT NOT NULL,"
    " title TEXT,"
    " compliance_status TEXT,"
    " resource_type TEXT,"
    " product_name TEXT,"
    " PRIMARY KEY(product_arn, id));"
    "INSERT INTO findings_v15(rowid, product_arn, id, generator_id,"
    " aws_account_id, region, severity_label, workflow_status, record_state,"
    " resource_id, created_at, updated_at, first_observed_at,"
    " last_observed_at, imported_at, finding, title, compliance_status,"
    " resource_type, product_name)"
    " SELECT rowid, product_arn, id, generator_id, aws_account_id, region,"
    " severity_label, workflow_status, record_state, resource_id, created_at,"
    " updated_at, first_observed_at, last_observed_at, imported_at, finding,"
    " title, compliance_status, resource_type, product_name FROM findings"
    " ORDER BY rowid;"
    /* Drops the table's indexes and the hub triggers with it. */
    "DROP TABLE findings;"
    "ALTER TABLE findings_v15 RENAME TO findings;"
    /* Migration 7's indexes. */
    "CREATE INDEX findings_by_updated ON findings(updated_at);"
    "CREATE INDEX findings_by_severity ON findings(severity_label,"
    " updated_at);"
    "CREATE INDEX findings_by_resource ON findings(resource_id);"
    /* Migration 10's. */
    "CREATE INDEX findings_by_workflow ON findings(workflow_status,"
    " updated_at);"
    "CREATE INDEX findings_by_record_state ON findings(record_state,"
    " updated_at);"
    "CREATE INDEX findings_by_state_severity ON findings(record_state,"
    " severity_label);"
    "CREATE INDEX findings_by_account ON findings(aws_account_id, updated_at);"
    "CREATE INDEX findings_by_region ON findings(region);"
    "CREATE INDEX findings_by_generator ON findings(generator_id);"
    "CREATE INDEX findings_by_title ON findings(title);"
    "CREATE INDEX findings_by_compliance ON findings(compliance_status);"
    "CREATE INDEX findings_by_resource_type ON findings(resource_type);"
    "CREATE INDEX findings_by_product_name ON findings(product_name);"
    /* Migration 11's. */
    "CREATE INDEX findings_by_id ON findings(id);"
    /* Migration 13's triggers, the same text. */
    CH_SQ_HUB_TRIGGERS;

/* Migration 17: four indexes that findings_by_dims and findings_counts
 * (migration 16) made redundant for queries (bench_findings_query's
 * shapes at 1,000,000 findings: none slower without them), but whose keys
 * end in updated_at, so every import wrote one more random leaf page each:
 * at 1,000,000 findings, 9.65 -> 4.81 pages written to the WAL per new
 * finding and 1.4-1.8x less import CPU (docs/PERFORMANCE.md, branch
 * fwrite). findings_by_updated stays: the default order walks it. */
const char ch_sq_findings17_schema[] =
    "DROP INDEX IF EXISTS findings_by_severity;"
    "DROP INDEX IF EXISTS findings_by_workflow;"
    "DROP INDEX IF EXISTS findings_by_record_state;"
    "DROP INDEX IF EXISTS findings_by_account;";

#define FINDING_COLS                                                          \
  "SELECT product_arn, id, generator_id, aws_account_id, region,"             \
  " severity_label, workflow_status, record_state, resource_id, created_at,"  \
  " updated_at, first_observed_at, last_observed_at, finding, title,"         \
  " compliance_status, resource_type, product_name FROM findings"

/* The statements import runs for every finding, cached per handle
 * (ch_sq_fst). */
const char *const ch_sq_findings_sql[CH_FST__MAX] = {
    [CH_FST_GET] = FINDING_COLS " WHERE product_arn = ?1 AND id = ?2",
    /* Insert, and update when the finding exists, instead of one
     * upsert: ON CONFLICT DO UPDATE compiles its update with ABORT
     * semantics, which with the triggers on findings makes SQLite copy
     * every page a statement touches into a statement journal (a tenth of
     * an import's CPU). OR FAIL needs none: a failing statement leaves
     * the caller's savepoint to undo it, as import does. */
    [CH_FST_INSERT] =
        "INSERT OR FAIL INTO findings(product_arn, id, generator_id,"
        " aws_account_id, region, severity_label, workflow_status,"
        " record_state, resource_id, created_at, updated_at,"
        " first_observed_at, last_observed_at, imported_at, finding, title,"
        " compliance_status, resource_type, product_name)"
        " VALUES(?1, ?2, ?3, ?4, coalesce(?5, ''), ?6, ?7, ?8, ?9, ?10, ?11,"
        " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [CH_FST_UPDATE] =
        "UPDATE OR FAIL findings SET generator_id = ?3,"
        " aws_account_id = ?4, region = coalesce(?5, ''),"
        " severity_label = ?6, workflow_status = ?7, record_state = ?8,"
        " resource_id = ?9, created_at = ?10, updated_at = ?11,"
        " first_observed_at = ?12, last_observed_at = ?13,"
        " imported_at = ?14, finding = ?15, title = ?16,"
        " compliance_status = ?17, resource_type = ?18, product_name = ?19"
        " WHERE product_arn = ?1 AND id = ?2",
    /* The update of a finding whose generator, resource, title and
     * product name stay (row.same_keys): SQLite rewrites the entries of
     * only the indexes holding a column the statement sets, so this one
     * leaves findings_by_generator, _resource, _title and _product_name
     * alone. Binds as CH_FST_UPDATE (?3, ?9, ?16 and ?19 unused; binding
     * ?19, past its last parameter, is a no-op). */
    [CH_FST_UPDATE_DATA] =
        "UPDATE OR FAIL findings SET aws_account_id = ?4,"
        " region = coalesce(?5, ''), severity_label = ?6,"
        " workflow_status = ?7, record_state = ?8, created_at = ?10,"
        " updated_at = ?11, first_observed_at = ?12, last_observed_at = ?13,"
        " imported_at = ?14, finding = ?15, compliance_status = ?17,"
        " resource_type = ?18"
        " WHERE product_arn = ?1 AND id = ?2",
    /* findings_counts (migration 16): a row for the combination when
     * there is none, then n more. As migration 16's trigger did, not an
     * upsert (whose update SQLite compiles to abort, with a statement
     * journal). */
    [CH_FST_COUNT_NEW] =
        "INSERT INTO findings_counts SELECT ?1, ?2, ?3, coalesce(?4, ''), ?5,"
        " 0 WHERE NOT EXISTS(SELECT 1 FROM findings_counts"
        " WHERE severity_label = ?1 AND record_state = ?2"
        " AND workflow_status = ?3 AND compliance_status = coalesce(?4, '')"
        " AND aws_account_id = ?5)",
    [CH_FST_COUNT_ADD] =
        "UPDATE findings_counts SET n = n + ?6"
        " WHERE severity_label = ?1 AND record_state = ?2"
        " AND workflow_status = ?3 AND compliance_status = coalesce(?4, '')"
        " AND aws_account_id = ?5",
};

/* 0 (absent) is stored as NULL. */
static void bind_ms(sqlite3_stmt *st, int i, int64_t v)
{
  if(v)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static ch_err finding_rows(certhub_store *s, sqlite3_stmt *st,
                           certhub_finding_cb cb, void *ctx, size_t *n)
{
  int r;
  *n = 0;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_finding_row f = {
        .product_arn = ch_sq_col_str(st, 0),
        .id = ch_sq_col_str(st, 1),
        .generator_id = ch_sq_col_str(st, 2),
        .aws_account_id = ch_sq_col_str(st, 3),
        .region = ch_sq_col_str(st, 4),
        .severity_label = ch_sq_col_str(st, 5),
        .workflow_status = ch_sq_col_str(st, 6),
        .record_state = ch_sq_col_str(st, 7),
        .resource_id = ch_sq_col_str(st, 8),
        .created_at = sqlite3_column_int64(st, 9),
        .updated_at = sqlite3_column_int64(st, 10),
        .first_observed_at = sqlite3_column_int64(st, 11),
        .last_observed_at = sqlite3_column_int64(st, 12),
        .json = ch_sq_col_str(st, 13),
        .title = ch_sq_col_opt(st, 14),
        .compliance_status = ch_sq_col_opt(st, 15),
        .resource_type = ch_sq_col_opt(st, 16),
        .product_name = ch_sq_col_opt(st, 17),
    };
    ++*n;
    ch_err rc = cb(ctx, &f);
    if(rc)
      return rc;
  }
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, "reading findings");
}

ch_err ch_sq_finding_get(certhub_store *s, const char *product_arn,
                         const char *id, certhub_finding_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_fst(s, CH_FST_GET, &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, product_arn);
  ch_sq_bind_opt(st, 2, id);
  rc = finding_rows(s, st, cb, ctx, &n);
  if(!rc && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no finding '%s' of product '%s'",
                      id, product_arn);
  /* The statement is cached: leave it without bound text of the caller. */
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static void bind_row(sqlite3_stmt *st, const certhub_finding_row *f,
                     int64_t now)
{
  ch_sq_bind_opt(st, 1, f->product_arn);
  ch_sq_bind_opt(st, 2, f->id);
  ch_sq_bind_opt(st, 3, f->generator_id);
  ch_sq_bind_opt(st, 4, f->aws_account_id);
  ch_sq_bind_opt(st, 5, f->region);
  ch_sq_bind_opt(st, 6, f->severity_label);
  ch_sq_bind_opt(st, 7, f->workflow_status);
  ch_sq_bind_opt(st, 8, f->record_state);
  ch_sq_bind_opt(st, 9, f->resource_id);
  bind_ms(st, 10, f->created_at);
  sqlite3_bind_int64(st, 11, f->updated_at);
  bind_ms(st, 12, f->first_observed_at);
  bind_ms(st, 13, f->last_observed_at);
  sqlite3_bind_int64(st, 14, now);
  ch_sq_bind_opt(st, 15, f->json);
  ch_sq_bind_opt(st, 16, f->title);
  ch_sq_bind_opt(st, 17, f->compliance_status);
  ch_sq_bind_opt(st, 18, f->resource_type);
  ch_sq_bind_opt(st, 19, f->product_name);
}

/* One cached statement run with f's values; *r the step's result. */
static ch_err run_put(certhub_store *s, enum ch_sq_fst id,
                      const certhub_finding_row *f, int64_t now, int *r)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_fst(s, id, &st);
  if(rc)
    return rc;
  bind_row(st, f, now);
  *r = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return CH_OK;
}

/* One of the two count statements for key. */
static ch_err run_count(certhub_store *s, enum ch_sq_fst id,
                        const certhub_finding_row *key, int64_t n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_fst(s, id, &st);
  if(rc)
    return rc;
  ch_sq_bind_opt(st, 1, key->severity_label);
  ch_sq_bind_opt(st, 2, key->record_state);
  ch_sq_bind_opt(st, 3, key->workflow_status);
  ch_sq_bind_opt(st, 4, key->compliance_status);
  ch_sq_bind_opt(st, 5, key->aws_account_id);
  if(id == CH_FST_COUNT_ADD)
    sqlite3_bind_int64(st, 6, n);
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, "counting findings");
}

ch_err ch_sq_findings_count_add(certhub_store *s,
                                const certhub_finding_row *key, int64_t n)
{
  ch_err rc = run_count(s, CH_FST_COUNT_NEW, key, 0);
  return rc ? rc : run_count(s, CH_FST_COUNT_ADD, key, n);
}

ch_err ch_sq_finding_put(certhub_store *s, const certhub_finding_row *f,
                         int64_t now)
{
  int r = SQLITE_DONE;
  ch_err rc = CH_OK;
  /* An update first: the importer has just read the stored finding when
   * there is one, and a missed update of a new one is a cheap index
   * probe, where a refused insert would be an error path. A writer that
   * has just found none says so (is_new) and saves the probe. */
  if(!f->is_new)
    rc = run_put(s, f->same_keys ? CH_FST_UPDATE_DATA : CH_FST_UPDATE, f, now,
                 &r);
  if(!rc && r == SQLITE_DONE &&
     (f->is_new || sqlite3_changes(ch_sq_db(s)) == 0)) {
    rc = run_put(s, CH_FST_INSERT, f, now, &r);
    /* Inserted: counted here unless the writer counts it (migration 19
     * dropped the insert trigger). */
    if(!rc && r == SQLITE_DONE && !(f->is_new && f->count_later))
      rc = ch_sq_findings_count_add(s, f, 1);
  }
  if(!rc && r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "storing finding");
  return rc;
}

ch_err ch_sq_findings(certhub_store *s, const certhub_findings_filter *f,
                      certhub_finding_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc =
      ch_sq_prepare(s,
                    FINDING_COLS " WHERE (?1 IS NULL OR severity_label = ?1)"
                                 " AND (?2 IS NULL OR workflow_status = ?2)"
                                 " AND (?3 IS NULL OR record_state = ?3)"
                                 " AND (?4 IS NULL OR product_arn = ?4)"
                                 " AND (?5 IS NULL OR resource_id = ?5)"
                                 " ORDER BY updated_at DESC, product_arn, id"
                                 " LIMIT ?6",
                    &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, f->severity_label);
  ch_sq_bind_opt(st, 2, f->workflow_status);
  ch_sq_bind_opt(st, 3, f->record_state);
  ch_sq_bind_opt(st, 4, f->product_arn);
  ch_sq_bind_opt(st, 5, f->resource_id);
  sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : -1);
  rc = finding_rows(s, st, cb, ctx, &n);
out:
  sqlite3_finalize(st);
  return rc;
}
