/*
 * certhub evaluate: lifecycle evaluation (ACM's four certificate events)
 * over the inventory, and the weekly batch of certificates within their
 * threshold (--batch).
 *
 * Events go through one sink, chosen in pick_sink() below: for now each
 * event is printed as one EventBridge JSON line on stdout, and a run that
 * is not --dry-run records its dedupe key as a lifecycle mark so the next
 * run prints only new events. Switching to the event bus is a change to
 * pick_sink() and finish_sink() alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/lifecycle.h"
#include "cli.h"

#define EVENT_MARK "event:" /* event:<dedupe key>: printed before */
/* Keys printed but not yet recorded: written in one transaction per
 * PENDING_MAX (one per event would cost a commit each: 200,000 new events
 * took 34 s that way). A power of two; the hash has twice the slots. */
#define PENDING_MAX 16384

/* The print sink: a dedupe key is printed once, and recorded as a mark
 * after stdout was flushed, so a crash in between prints it again rather
 * than never. */
typedef struct print_sink {
  cli_ctx *c;
  certhub_store *s;
  bool dry_run;   /* read marks, never set them */
  char **pending; /* PENDING_MAX keys printed this batch */
  size_t n_pending;
  char **slots; /* open addressing over pending, 2 * PENDING_MAX */
  int64_t when;
} print_sink;

static size_t slot_of(const print_sink *p, const char *key)
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for(const unsigned char *k = (const unsigned char *)key; *k; k++)
    h = (h ^ *k) * 1099511628211ULL;
  size_t mask = 2 * PENDING_MAX - 1;
  size_t i = (size_t)h & mask;
  while(p->slots[i] && strcmp(p->slots[i], key))
    i = (i + 1) & mask;
  return i;
}

/* Record the pending keys (unless a dry run) and forget them. */
static ch_err flush_pending(print_sink *p)
{
  ch_err rc = CH_OK;
  if(fflush(stdout) != 0)
    return CH_ERR_IO;
  if(!p->dry_run && p->n_pending) {
    rc = certhub_store_begin(p->s);
    for(size_t i = 0; !rc && i < p->n_pending; i++)
      rc = certhub_store_mark_set(p->s, p->pending[i], p->when, NULL);
    if(!rc)
      rc = certhub_store_commit(p->s);
    else
      certhub_store_rollback(p->s);
  }
  for(size_t i = 0; i < p->n_pending; i++)
    free(p->pending[i]);
  p->n_pending = 0;
  if(p->slots)
    memset(p->slots, 0, 2 * PENDING_MAX * sizeof(*p->slots));
  return rc;
}

static ch_err print_put(void *ctx, const certhub_event *ev, bool *stored)
{
  print_sink *p = ctx;
  char key[CERTHUB_MARK_KEY_MAX + 1];
  json_t *o = NULL;
  ch_err rc;
  size_t slot = 0;
  *stored = false;
  if(ev->dedupe_key) {
    if(snprintf(key, sizeof(key), EVENT_MARK "%s", ev->dedupe_key) >=
       (int)sizeof(key))
      return CH_ERR_TOOBIG;
    slot = slot_of(p, key);
    if(p->slots[slot])
      return CH_OK; /* printed earlier in this batch */
    bool seen = false;
    rc = certhub_store_mark_get(p->s, key, &seen, NULL);
    if(rc || seen)
      return rc;
  }
  rc = certhub_event_to_json(ev, NULL, &o);
  if(rc)
    return rc;
  if(json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
     putchar('\n') == EOF)
    rc = CH_ERR_IO;
  json_decref(o);
  if(!rc && ev->dedupe_key) {
    char *k = strdup(key);
    if(!k)
      return CH_ERR_NOMEM;
    p->pending[p->n_pending++] = k;
    p->slots[slot] = k;
    p->when = ev->time;
    if(p->n_pending == PENDING_MAX)
      rc = flush_pending(p);
  }
  if(!rc)
    *stored = true;
  return rc;
}

/* The one place that decides where events go. */
static ch_err pick_sink(print_sink *ps, certhub_event_sink *sink)
{
  ps->pending = calloc(PENDING_MAX, sizeof(*ps->pending));
  ps->slots = calloc(2 * PENDING_MAX, sizeof(*ps->slots));
  if(!ps->pending || !ps->slots)
    return CH_ERR_NOMEM;
  sink->ctx = ps;
  sink->put = print_put;
  return CH_OK;
}

/* After the run: what is still pending is recorded. */
static ch_err finish_sink(print_sink *ps, ch_err rc)
{
  if(ps->pending) {
    ch_err frc = rc ? CH_OK : flush_pending(ps);
    if(rc)
      for(size_t i = 0; i < ps->n_pending; i++)
        free(ps->pending[i]);
    if(!rc)
      rc = frc;
  }
  free(ps->pending);
  free(ps->slots);
  ps->pending = ps->slots = NULL;
  return rc;
}

static void on_warning(void *ctx, const char *cert_id, const char *msg)
{
  cli_ctx *c = ctx;
  if(cert_id)
    fprintf(stderr, "certhub: %s: %s: %s\n", c->cmd->name, cert_id, msg);
  else
    fprintf(stderr, "certhub: %s: %s\n", c->cmd->name, msg);
}

static void summary(const certhub_lifecycle_stats *st, bool dry_run)
{
  uint64_t total = 0, dup = 0;
  for(int k = 0; k < CERTHUB_LC__N; k++) {
    total += st->emitted[k];
    dup += st->deduped[k];
  }
  fprintf(stderr,
          "%llu %s: %llu approaching, %llu expired, %llu available, %llu "
          "renewal action required (%llu already sent)",
          (unsigned long long)total, total == 1 ? "event" : "events",
          (unsigned long long)st->emitted[CERTHUB_LC_APPROACHING],
          (unsigned long long)st->emitted[CERTHUB_LC_EXPIRED],
          (unsigned long long)st->emitted[CERTHUB_LC_AVAILABLE],
          (unsigned long long)st->emitted[CERTHUB_LC_RENEWAL_ACTION],
          (unsigned long long)dup);
  if(st->renewal_attempts)
    fprintf(stderr, "; %llu renewal %s, %llu failed",
            (unsigned long long)st->renewal_attempts,
            st->renewal_attempts == 1 ? "command" : "commands",
            (unsigned long long)st->renewal_failures);
  if(dry_run)
    fputs(" [dry run]", stderr);
  fputc('\n', stderr);
}

static int run_batch(cli_ctx *c, certhub_store *s)
{
  json_t *o = NULL;
  ch_err rc = certhub_lifecycle_batch(s, c->config, c->now, &o);
  if(rc)
    return cli_store_fail(c, s, rc, "batch");
  int code = 0;
  if(json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
     putchar('\n') == EOF || fflush(stdout) != 0)
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
  json_decref(o);
  return code;
}

enum { OPT_DRY_RUN = 0x100, OPT_BATCH };

int cmd_evaluate(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dry-run", no_argument, NULL, OPT_DRY_RUN},
      {"batch", no_argument, NULL, OPT_BATCH},
      {NULL, 0, NULL, 0},
  };
  bool dry_run = false, batch = false;
  certhub_store *s = NULL;
  int r, code;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_DRY_RUN:
      dry_run = true;
      break;
    case OPT_BATCH:
      batch = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(c->output_opt && c->format != OUT_JSON)
    return cli_usage(c, "--output: events are JSON lines only");
  code = cli_config(c, false);
  if(code)
    return code;
  code = cli_open_store(c, &s);
  if(code)
    return code;
  if(batch) {
    code = run_batch(c, s);
    goto out;
  }

  print_sink ps = {.c = c, .s = s, .dry_run = dry_run};
  certhub_event_sink sink;
  if(pick_sink(&ps, &sink) != CH_OK) {
    finish_sink(&ps, CH_ERR_NOMEM);
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  certhub_lifecycle_opts o = {
      .now = c->now,
      .dry_run = dry_run,
      .on_warning = on_warning,
      .ctx = c,
  };
  certhub_lifecycle_stats st;
  ch_err rc = certhub_lifecycle_evaluate(s, c->config, &o, &sink, &st);
  rc = finish_sink(&ps, rc);
  if(rc == CH_ERR_IO)
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
  else if(rc)
    code = cli_store_fail(c, s, rc, "evaluate");
  else if(!c->quiet)
    summary(&st, dry_run);
out:
  certhub_store_close(s);
  return code;
}
