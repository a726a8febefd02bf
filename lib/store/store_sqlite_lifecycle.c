/*
 * SQLite backend: lifecycle marks, small once-only markers that lifecycle
 * evaluation keeps across runs (a renewal milestone attempted, a
 * certificate produced by a managed renewal). A mark is a key and the
 * time it was first set; setting it again changes nothing and says so.
 */
#include <string.h>

#include "store_sqlite_int.h"

const char ch_sq_lifecycle_schema[] =
    "CREATE TABLE lifecycle_marks("
    " key TEXT PRIMARY KEY,"
    " created INTEGER NOT NULL) WITHOUT ROWID;";

const char *const ch_sq_lifecycle_sql[CH_LST__MAX] = {
    [CH_LST_MARK_SET] = "INSERT INTO lifecycle_marks(key, created)"
                        " VALUES(?1, ?2) ON CONFLICT(key) DO NOTHING",
    [CH_LST_MARK_GET] = "SELECT created FROM lifecycle_marks WHERE key = ?1",
};

ch_err ch_sq_mark_set(certhub_store *s, const char *key, int64_t now,
                      bool *was_new)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_lst(s, CH_LST_MARK_SET, &st);
  if(rc)
    return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  int r = sqlite3_step(st);
  if(r == SQLITE_DONE && was_new)
    *was_new = sqlite3_changes(ch_sq_db(s)) > 0;
  sqlite3_reset(st);
  return r == SQLITE_DONE ? CH_OK : ch_sq_dberr(s, r, "setting mark");
}

ch_err ch_sq_mark_get(certhub_store *s, const char *key, bool *found,
                      int64_t *created)
{
  sqlite3_stmt *st = NULL;
  ch_err rc = ch_sq_lst(s, CH_LST_MARK_GET, &st);
  if(rc)
    return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  if(r == SQLITE_ROW) {
    *found = true;
    if(created)
      *created = sqlite3_column_int64(st, 0);
  }
  sqlite3_reset(st);
  return r == SQLITE_ROW || r == SQLITE_DONE
             ? CH_OK
             : ch_sq_dberr(s, r, "reading mark");
}
