/*
 * SQLite backend: what the HTTP API adds (migration 11): API tokens, and
 * findings looked up by Id alone (GET /v1/findings/{id}). Only the hash of
 * a secret is stored; lookups go by the hash (unique index), so checking a
 * token is one indexed read.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

const char ch_sq_tokens_schema[] =
    "CREATE TABLE api_tokens("
    " name TEXT PRIMARY KEY,"
    " hash TEXT NOT NULL UNIQUE,"
    " prefix TEXT NOT NULL,"
    " scopes TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX findings_by_id ON findings(id);";

#define TOKEN_COLS                                                            \
  "SELECT name, hash, prefix, scopes, created, expires FROM api_tokens"

static ch_err token_rows(certhub_store *s, sqlite3_stmt *st,
                         certhub_token_cb cb, void *ctx, size_t *n)
{
  int r;
  *n = 0;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_token_row t = {
        .name = ch_sq_col_str(st, 0),
        .hash = ch_sq_col_str(st, 1),
        .prefix = ch_sq_col_str(st, 2),
        .scopes = ch_sq_col_str(st, 3),
        .created = sqlite3_column_int64(st, 4),
        .expires = sqlite3_column_int64(st, 5),
    };
    ++*n;
    ch_err rc = cb(ctx, &t);
    if(rc)
      return rc;
  }
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, "reading tokens");
}

ch_err ch_sq_token_put(certhub_store *s, const certhub_token_row *t)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s,
                            "INSERT INTO api_tokens(name, hash, prefix,"
                            " scopes, created, expires)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                            &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, t->name);
  ch_sq_bind_opt(st, 2, t->hash);
  ch_sq_bind_opt(st, 3, t->prefix);
  ch_sq_bind_opt(st, 4, t->scopes);
  sqlite3_bind_int64(st, 5, t->created);
  sqlite3_bind_int64(st, 6, t->expires);
  int r = sqlite3_step(st);
  if(r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE)
    rc = ch_store_err(s, CH_ERR_EXISTS, "a token named '%s' exists", t->name);
  else if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "storing token");
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_token_find(certhub_store *s, const char *hash,
                        certhub_token_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_prepare(s, TOKEN_COLS " WHERE hash = ?1", &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, hash);
  rc = token_rows(s, st, cb, ctx, &n);
  if(!rc && !n)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no such token");
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_token_list(certhub_store *s, certhub_token_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  ch_err rc = ch_sq_prepare(s, TOKEN_COLS " ORDER BY name", &st);
  if(!rc)
    rc = token_rows(s, st, cb, ctx, &n);
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_token_revoke(certhub_store *s, const char *name)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_prepare(s, "DELETE FROM api_tokens WHERE name = ?1", &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, name);
  int r = sqlite3_step(st);
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "revoking token");
  else if(sqlite3_changes(ch_sq_db(s)) == 0)
    rc = ch_store_err(s, CH_ERR_NOTFOUND, "no token named '%s'", name);
out:
  sqlite3_finalize(st);
  return rc;
}

ch_err ch_sq_findings_by_id(certhub_store *s, const char *id,
                            certhub_finding_cb cb, void *ctx)
{
  sqlite3_stmt *st = NULL;
  int r;
  ch_err rc = ch_sq_prepare(
      s,
      "SELECT product_arn, id, generator_id, aws_account_id, region,"
      " severity_label, workflow_status, record_state, resource_id,"
      " created_at, updated_at, first_observed_at, last_observed_at, finding"
      " FROM findings WHERE id = ?1 ORDER BY product_arn LIMIT 2",
      &st);
  if(rc)
    goto out;
  ch_sq_bind_opt(st, 1, id);
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
    };
    if((rc = cb(ctx, &f)))
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "reading findings");
out:
  sqlite3_finalize(st);
  return rc;
}
