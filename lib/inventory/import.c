/*
 * certhub_import: walk paths and store every certificate found, one
 * savepoint per file, committing every batch_size certificates.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/inventory.h"
#include "core/core.h"
#include "inventory_int.h"

#define DEFAULT_BATCH 20000

typedef struct importer {
  certhub_store *s;
  const certhub_import_opts *o;
  certhub_import_stats *st;
  size_t batch;
  size_t since_commit; /* certificates written since the last COMMIT */
  ch_err first_err;    /* first file or walk problem, for the result */
  ch_err store_err;    /* a store failure stops everything */
  /* The file being read. */
  const char *path;
  int64_t source_id;
  int64_t scan_id;
  bool had_error;
  const char *empty_reason; /* read found no certificate, why */
  uint64_t n_certs;
  uint64_t n_new;
} importer;

static void problem(importer *im, const char *path, unsigned position,
                    ch_err err, const char *reason)
{
  im->st->problems++;
  if(!im->first_err)
    im->first_err = err;
  if(im->o->on_problem)
    im->o->on_problem(im->o->ctx, path, position, err, reason);
}

static void walk_problem(void *ctx, const char *path, unsigned position,
                         ch_err err, const char *reason)
{
  problem(ctx, path, position, err, reason);
}

static ch_err on_cert(void *ctx, certhub_cert *cert, unsigned position)
{
  importer *im = ctx;
  bool created = false;
  ch_err rc = certhub_store_put_cert(im->s, cert, &im->o->labels,
                                     im->source_id, position, im->scan_id,
                                     im->o->now, NULL, &created);
  certhub_cert_free(cert);
  if(rc) {
    im->store_err = rc;
    return rc;
  }
  im->n_certs++;
  if(created)
    im->n_new++;
  return CH_OK;
}

static void on_error(void *ctx, unsigned position, ch_err err,
                     const char *reason)
{
  importer *im = ctx;
  /* "Nothing here" (an empty file) is not an error for a file found
   * inside a directory; the caller decides once the read is over. */
  if(err == CH_ERR_NOTFOUND && position == 0 &&
     !strcmp(reason, CH_INV_EMPTY_FILE)) {
    im->empty_reason = CH_INV_EMPTY_FILE;
    return;
  }
  im->had_error = true;
  problem(im, im->path, position, err, reason);
}

static ch_err store_failed(importer *im, ch_err rc, const char *what)
{
  char reason[512];
  snprintf(reason, sizeof(reason), "store: %s: %s", what,
           certhub_store_errmsg(im->s));
  im->store_err = rc;
  problem(im, im->path, 0, rc, reason);
  return rc;
}

static ch_err import_file(void *ctx, const char *path, bool explicit)
{
  importer *im = ctx;
  ch_err rc = CH_OK;
  char real[PATH_MAX];
  bool is_stdin = !strcmp(path, "-");
  im->path = path;
  im->had_error = false;
  im->empty_reason = NULL;
  im->n_certs = 0;
  im->n_new = 0;

  const char *locator = "-";
  if(!is_stdin) {
    if(!realpath(path, real)) {
      char reason[300];
      snprintf(reason, sizeof(reason), "cannot resolve path: %s",
               strerror(errno));
      problem(im, path, 0, CH_ERR_IO, reason);
      im->st->files_failed++;
      return CH_OK;
    }
    locator = real;
  }
  rc = certhub_store_savepoint(im->s);
  if(rc)
    return store_failed(im, rc, "savepoint");
  rc = certhub_store_source(
      im->s, is_stdin ? CERTHUB_SOURCE_STDIN : CERTHUB_SOURCE_FILE, locator,
      &im->source_id);
  if(rc) {
    store_failed(im, rc, "source");
    goto out;
  }
  rc =
      certhub_store_scan_begin(im->s, im->source_id, im->o->now, &im->scan_id);
  if(rc) {
    store_failed(im, rc, "scan");
    goto out;
  }
  certhub_read_opts ro = {.password = im->o->password};
  ch_err rrc = certhub_read_file(path, &ro, on_cert, on_error, im);
  if(im->store_err) {
    rc = im->store_err;
    store_failed(im, rc, "put certificate");
    goto out;
  }
  if(rrc == CH_ERR_NOTFOUND && !im->had_error) {
    if(explicit) {
      problem(im, path, 0, CH_ERR_NOTFOUND,
              im->empty_reason ? im->empty_reason : "no certificate found");
      im->had_error = true;
    }
  }
  else if(rrc && !im->had_error) {
    /* Failed without saying why: still a failure, never silent. */
    problem(im, path, 0, rrc, certhub_strerror(rrc));
    im->had_error = true;
  }
  if(im->had_error) {
    im->st->files_failed++;
    rc = certhub_store_rollback_to(im->s);
    if(rc)
      store_failed(im, rc, "rollback to savepoint");
    goto out;
  }

  unsigned gone = 0, replaced = 0;
  if(!is_stdin) {
    rc = certhub_store_scan_finish(im->s, im->source_id, im->scan_id,
                                   im->o->now, &gone, &replaced);
    if(rc) {
      store_failed(im, rc, "finish scan");
      goto out;
    }
  }
  if(rrc == CH_ERR_NOTFOUND) {
    /* A README or key file in a directory: leave no trace of it, unless
     * certificates seen there before have just gone absent. */
    im->st->files_skipped++;
    im->st->sightings_gone += gone;
    rc =
        gone ? certhub_store_release(im->s) : certhub_store_rollback_to(im->s);
    if(rc)
      store_failed(im, rc, "release savepoint");
    goto out;
  }
  rc = certhub_store_release(im->s);
  if(rc) {
    store_failed(im, rc, "release savepoint");
    goto out;
  }
  im->st->files_imported++;
  im->st->certs_seen += im->n_certs;
  im->st->certs_new += im->n_new;
  im->st->sightings_gone += gone;
  im->st->replacements += replaced;

  im->since_commit += im->n_certs;
  if(im->since_commit >= im->batch) {
    rc = certhub_store_commit(im->s);
    if(rc) {
      store_failed(im, rc, "commit");
      goto out;
    }
    im->since_commit = 0;
    rc = certhub_store_begin(im->s);
    if(rc)
      store_failed(im, rc, "begin");
  }

out:
  /* A store error ends the import; certhub_import() rolls the whole
   * transaction back, savepoint included. */
  return rc;
}

ch_err certhub_import(certhub_store *s, const char *const *paths,
                      size_t n_paths, const certhub_import_opts *o,
                      certhub_import_stats *st)
{
  importer im = {
      .s = s,
      .o = o,
      .st = st,
      .batch = o->batch_size ? o->batch_size : DEFAULT_BATCH,
  };
  ch_err rc = certhub_store_begin(s);
  if(rc)
    return rc;
  certhub_walk_opts wo = {
      .excludes = o->excludes,
      .n_excludes = o->n_excludes,
      .on_problem = walk_problem,
      .ctx = &im,
  };
  rc = certhub_walk(paths, n_paths, &wo, import_file, &im, NULL);
  if(!rc && im.store_err)
    rc = im.store_err;
  if(rc) {
    certhub_store_rollback(s);
    return rc;
  }
  rc = certhub_store_commit(s);
  if(rc) {
    certhub_store_rollback(s);
    return rc;
  }
  return im.first_err;
}
