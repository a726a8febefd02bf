/*
 * Helpers shared by the lifecycle unit tests: a temp dir with a real
 * SQLite store, certificates made by certhub-gen ($CERTHUB_GEN) at chosen
 * dates, imports through the real importer, a config file, and a sink that
 * records events and enforces dedupe keys in memory (the caller's side of
 * the sink contract).
 */
#ifndef TEST_LIFECYCLE_UTIL_H
#define TEST_LIFECYCLE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "certhub/config.h"
#include "certhub/inventory.h"
#include "certhub/lifecycle.h"
#include "certhub/store.h"
#include "certhub/time.h"

#define L_DAY 86400
/* 2026-01-01T10:00:00Z: runs happen at 10:00 UTC. */
#define L_T0 1767261600

typedef struct lenv {
  char dir[128];
  char db[192];
  char cfg[192];
  certhub_store *s;
  certhub_config *c;
} lenv;

static inline void lenv_make(lenv *e)
{
  memset(e, 0, sizeof(*e));
  snprintf(e->dir, sizeof(e->dir), "/tmp/test_lifecycle.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->db, sizeof(e->db), "%s/db", e->dir);
  snprintf(e->cfg, sizeof(e->cfg), "%s/certhub.yaml", e->dir);
  char *err = NULL;
  if(certhub_store_open(e->db, &e->s, &err))
    fail_msg("open: %s", err ? err : "?");
}

static inline void lenv_free(lenv *e)
{
  certhub_store_close(e->s);
  certhub_config_free(e->c);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
}

/* Run a shell command (printf-style), which must succeed. */
static inline void lsh(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void lsh(const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  int r = system(cmd);
  if(r != 0)
    fail_msg("command failed (%d): %s", r, cmd);
}

static inline const char *lgen(void)
{
  const char *g = getenv("CERTHUB_GEN");
  if(!g || !*g)
    fail_msg("CERTHUB_GEN is not set (run through ctest)");
  return g;
}

/* A certificate for cn expiring at not_after, written to dir/rel (parent
 * directories made). */
static inline void lcert(lenv *e, const char *rel, const char *cn,
                         int64_t not_after)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
  lsh("mkdir -p \"$(dirname '%s')\" && '%s' --cn '%s' --san 'DNS:%s' "
      "--not-before @%lld --not-after @%lld -o '%s'",
      path, lgen(), cn, cn, (long long)(not_after - 400 * L_DAY),
      (long long)not_after, path);
}

static inline void lconfig(lenv *e, const char *yaml)
{
  FILE *f = fopen(e->cfg, "w");
  assert_non_null(f);
  fputs(yaml, f);
  fclose(f);
  certhub_config_free(e->c);
  e->c = NULL;
  char *msg = NULL;
  if(certhub_config_load(e->cfg, &e->c, &msg))
    fail_msg("config: %s", msg ? msg : "?");
}

/* Import dir/rel at now, as `certhub import` of one path. */
static inline void limport(lenv *e, const char *rel, int64_t now)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", e->dir, rel);
  const char *paths[] = {path};
  certhub_import_opts o = {.now = now};
  certhub_import_stats st = {0};
  ch_err rc = certhub_import(e->s, paths, 1, &o, &st);
  if(rc)
    fail_msg("import %s: %s (%s)", path, certhub_strerror(rc),
             certhub_store_errmsg(e->s));
}

/* The recording sink. */
#define LREC_MAX 4096
typedef struct lrec_event {
  char detail_type[64];
  char key[160];
  char detail[1024];
  char arn[128];
  char source[64];
} lrec_event;

typedef struct lrec {
  lrec_event ev[LREC_MAX]; /* stored events, in order */
  size_t n;
  size_t puts; /* every put, stored or not */
  size_t dups; /* puts refused as duplicates */
  size_t mark; /* n at the start of the last run */
} lrec;

static inline ch_err lrec_put(void *ctx, const certhub_event *ev, bool *stored)
{
  lrec *r = ctx;
  r->puts++;
  assert_non_null(ev->dedupe_key);
  assert_int_equal(ev->n_resources, 1);
  for(size_t i = 0; i < r->n; i++) {
    if(!strcmp(r->ev[i].key, ev->dedupe_key)) {
      r->dups++;
      *stored = false;
      return CH_OK;
    }
  }
  if(r->n >= LREC_MAX)
    return CH_ERR_TOOBIG;
  lrec_event *x = &r->ev[r->n++];
  snprintf(x->detail_type, sizeof(x->detail_type), "%s", ev->detail_type);
  snprintf(x->key, sizeof(x->key), "%s", ev->dedupe_key);
  snprintf(x->detail, sizeof(x->detail), "%s", ev->detail);
  snprintf(x->arn, sizeof(x->arn), "%s", ev->resources[0]);
  snprintf(x->source, sizeof(x->source), "%s", ev->source);
  *stored = true;
  return CH_OK;
}

static inline void lrun(lenv *e, lrec *r, int64_t now, bool dry,
                        certhub_lifecycle_stats *st)
{
  certhub_event_sink sink = {.ctx = r, .put = lrec_put};
  certhub_lifecycle_opts o = {.now = now, .dry_run = dry};
  certhub_lifecycle_stats local;
  r->mark = r->n;
  ch_err rc =
      certhub_lifecycle_evaluate(e->s, e->c, &o, &sink, st ? st : &local);
  if(rc)
    fail_msg("evaluate: %s (%s)", certhub_strerror(rc),
             certhub_store_errmsg(e->s));
}

/* Events stored since index `from` whose detail-type starts with dt and
 * whose dedupe key contains needle (NULL: any). */
static inline size_t lcount(const lrec *r, size_t from, const char *dt,
                            const char *needle)
{
  size_t n = 0;
  for(size_t i = from; i < r->n; i++)
    if(!strcmp(r->ev[i].detail_type, dt) &&
       (!needle || strstr(r->ev[i].key, needle)))
      n++;
  return n;
}

/* The first stored event of type dt whose key contains needle. */
static inline const lrec_event *lfind(const lrec *r, const char *dt,
                                      const char *needle)
{
  for(size_t i = 0; i < r->n; i++)
    if(!strcmp(r->ev[i].detail_type, dt) &&
       (!needle || strstr(r->ev[i].key, needle)))
      return &r->ev[i];
  return NULL;
}

/* SHA-256 (hex) of the one certificate whose CN is cn, and its ID. */
typedef struct lfound {
  const char *cn;
  char sha[65];
  char id[20];
  char status[16];
  int64_t days;
  size_t n;
} lfound;

static inline ch_err lfind_cb(void *ctx, const certhub_cert_row *row)
{
  lfound *f = ctx;
  if(row->common_name && !strcmp(row->common_name, f->cn) &&
     strcmp(row->status, CERTHUB_STATUS_INACTIVE)) {
    snprintf(f->sha, sizeof(f->sha), "%s", row->sha256);
    snprintf(f->id, sizeof(f->id), "%s", row->id);
    snprintf(f->status, sizeof(f->status), "%s", row->status);
    f->days = row->days_to_expiry;
    f->n++;
  }
  return CH_OK;
}

static inline lfound lcert_find(lenv *e, const char *cn, int64_t now)
{
  lfound f = {.cn = cn};
  certhub_filter flt = {0};
  assert_int_equal(certhub_store_list(e->s, &flt, now, lfind_cb, &f), CH_OK);
  assert_int_equal(f.n, 1);
  return f;
}

/* Integer field of an event's detail. */
static inline json_int_t ldetail_int(const lrec_event *x, const char *field)
{
  json_t *d = json_loads(x->detail, 0, NULL);
  assert_non_null(d);
  json_t *v = json_object_get(d, field);
  assert_true(json_is_integer(v));
  json_int_t i = json_integer_value(v);
  json_decref(d);
  return i;
}

/* String field of an event's detail, copied into buf ("" when absent). */
static inline const char *ldetail_str(const lrec_event *x, const char *field,
                                      char *buf, size_t len)
{
  json_t *d = json_loads(x->detail, 0, NULL);
  assert_non_null(d);
  json_t *v = json_object_get(d, field);
  snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : "");
  json_decref(d);
  return buf;
}

#endif
