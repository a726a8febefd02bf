/*
 * certhub inventory: walking paths, reading certificate files and importing
 * them into a store.
 *
 * Files are read one at a time (mapped, never the whole estate in memory).
 * Each file is imported inside its own savepoint: a file with any error is
 * rolled back whole and reported, so nothing already stored changes because
 * of it; the import goes on with the next file. Transactions are committed
 * every batch_size certificates, so a kill leaves every committed batch and
 * nothing half-written.
 */
#ifndef CERTHUB_INVENTORY_H
#define CERTHUB_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>
#include "cert.h"
#include "certhub.h"
#include "store.h"

#define CERTHUB_MAX_FILE_SIZE ((size_t)512 << 20) /* larger files are refused */
#define CERTHUB_MAX_WALK_DEPTH 64

/* Reports one problem: path, 1-based position within the file (0 when the
 * problem is the file itself), error and a short reason. */
typedef void (*certhub_problem_cb)(void *ctx, const char *path,
                                   unsigned position, ch_err err,
                                   const char *reason);

typedef struct certhub_walk_opts {
  const char *const *excludes; /* fnmatch globs, matched against the full
                                  path and the base name */
  size_t n_excludes;
  certhub_problem_cb on_problem; /* unreadable dirs, loops; may be NULL */
  void *ctx;
} certhub_walk_opts;

/* Called for each regular file found; explicit is true when the file was
 * named directly (not found inside a directory). Returning non-CH_OK stops
 * the walk. */
typedef ch_err (*certhub_file_cb)(void *ctx, const char *path, bool explicit);

/* Walk paths: files are passed on, directories are walked recursively
 * (symlinks followed, each directory visited once, loops reported as
 * CH_ERR_LOOP problems), globs in paths are expanded. "-" is passed on as
 * is. Returns CH_OK unless the callback stopped it; problems go to
 * on_problem and are counted in *n_problems. */
ch_err certhub_walk(const char *const *paths, size_t n_paths,
                    const certhub_walk_opts *o, certhub_file_cb cb, void *ctx,
                    unsigned *n_problems /* OUT, may be NULL */);

/* Read every certificate from one file ("-" = stdin, read up to
 * CERTHUB_MAX_FILE_SIZE). Same callback contract as certhub_read_buffer(). */
ch_err certhub_read_file(const char *path, const certhub_read_opts *ro,
                         certhub_cert_cb on_cert, certhub_error_cb on_error,
                         void *ctx);

typedef struct certhub_import_opts {
  certhub_labels labels;
  const char *const *excludes;
  size_t n_excludes;
  const char *password;  /* PKCS#12 */
  int64_t now;
  size_t batch_size;     /* certificates per transaction; 0 = 20000 */
  certhub_problem_cb on_problem;
  void *ctx;
} certhub_import_opts;

typedef struct certhub_import_stats {
  uint64_t files_imported; /* files with at least one certificate, no error */
  uint64_t files_failed;   /* files rolled back because of an error */
  uint64_t files_skipped;  /* files in directories holding no certificate */
  uint64_t certs_seen;     /* certificates read (duplicates counted) */
  uint64_t certs_new;      /* not in the store before */
  uint64_t sightings_gone; /* certificates no longer at a rescanned file */
  uint64_t replacements;   /* renewal links recorded */
  uint64_t problems;       /* problem lines reported */
} certhub_import_stats;

/* Import paths into s. Returns CH_OK when every file was imported or
 * skipped, CH_ERR_PARSE (or the first file error) when some file failed,
 * and a store error if the store failed (the import stops then). Stats are
 * accumulated into *st (not zeroed). */
ch_err certhub_import(certhub_store *s, const char *const *paths,
                      size_t n_paths, const certhub_import_opts *o,
                      certhub_import_stats *st /* IN/OUT */);

#endif
