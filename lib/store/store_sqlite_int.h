/*
 * Private to the SQLite backend: what store_sqlite.c shares with
 * store_sqlite_probe.c (endpoints and probes, kept apart so the core file
 * stays readable).
 */
#ifndef CH_STORE_SQLITE_INT_H
#define CH_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include "store_int.h"

/* The connection and database path of an open SQLite handle, borrowed. */
sqlite3 *ch_sq_db(certhub_store *s);
const char *ch_sq_path(certhub_store *s);
/* Set s->errmsg from an SQLite result code; returns the mapped ch_err. */
ch_err ch_sq_dberr(certhub_store *s, int rc, const char *what);

/* Migration 2: the endpoint and probe tables. */
extern const char ch_sq_probe_schema[];

ch_err ch_sq_put_probe(certhub_store *s, const certhub_probe_result *r,
                       const char *locator, const certhub_labels *labels,
                       int64_t now, int64_t *probe_id);
ch_err ch_sq_endpoints(certhub_store *s, const certhub_endpoint_filter *f,
                       certhub_endpoint_cb cb, void *ctx);
ch_err ch_sq_endpoint_resolve(certhub_store *s, const char *ref,
                              int64_t *endpoint_id);
ch_err ch_sq_endpoint_describe(certhub_store *s, int64_t endpoint_id,
                               size_t max_history,
                               certhub_endpoint_detail_cb cb, void *ctx);

#endif
