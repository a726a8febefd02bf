/*
 * certhub evaluate: lifecycle evaluation (ACM's four certificate events)
 * over the inventory, and the weekly batch of certificates within their
 * threshold (--batch).
 *
 * Events go through one sink, chosen in pick_sink() below: for now each
 * event is printed as one EventBridge JSON line on stdout, and a run that
 * is not --dry-run records its dedupe key as a lifecycle mark so the next
 * run prints only new events. Switching to the event bus is a change to
 * pick_sink() alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/lifecycle.h"
#include "cli.h"

#define EVENT_MARK "event:" /* event:<dedupe key>: printed before */

typedef struct print_sink {
  cli_ctx *c;
  certhub_store *s;
  bool dry_run; /* read marks, never set them */
} print_sink;

static ch_err print_put(void *ctx, const certhub_event *ev, bool *stored)
{
  print_sink *p = ctx;
  char key[CERTHUB_MARK_KEY_MAX + 1];
  json_t *o = NULL;
  ch_err rc;
  *stored = false;
  if(ev->dedupe_key) {
    if(snprintf(key, sizeof(key), EVENT_MARK "%s", ev->dedupe_key) >=
       (int)sizeof(key))
      return CH_ERR_TOOBIG;
    bool seen = false;
    rc = certhub_store_mark_get(p->s, key, &seen, NULL);
    if(rc || seen)
      return rc;
  }
  rc = certhub_event_to_json(ev, NULL, &o);
  if(rc)
    return rc;
  if(json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
     putchar('\n') == EOF || fflush(stdout) != 0)
    rc = CH_ERR_IO;
  json_decref(o);
  if(!rc && ev->dedupe_key && !p->dry_run)
    rc = certhub_store_mark_set(p->s, key, ev->time, NULL);
  if(!rc)
    *stored = true;
  return rc;
}

/* The one place that decides where events go. */
static void pick_sink(print_sink *ps, certhub_event_sink *sink)
{
  sink->ctx = ps;
  sink->put = print_put;
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
  pick_sink(&ps, &sink);
  certhub_lifecycle_opts o = {
      .now = c->now,
      .dry_run = dry_run,
      .on_warning = on_warning,
      .ctx = c,
  };
  certhub_lifecycle_stats st;
  ch_err rc = certhub_lifecycle_evaluate(s, c->config, &o, &sink, &st);
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
