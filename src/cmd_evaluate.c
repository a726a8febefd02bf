/*
 * certhub evaluate: lifecycle evaluation (ACM's four certificate events)
 * over the inventory, and the weekly batch of certificates within their
 * threshold (--batch).
 *
 * Each due event goes to the event bus (certhub_bus_put: archived once
 * per dedupe key, then routed and delivered by `certhub serve`) and is
 * printed as one EventBridge JSON line, exactly as stored. --dry-run does
 * the same inside a transaction that is rolled back, so it prints what
 * would be stored and stores nothing (and runs no renewal command).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "certhub/lifecycle.h"
#include "cli.h"

typedef struct bus_sink {
  certhub_store *s;
  int64_t now;
} bus_sink;

/* Render once (that fixes the id), store it, print what was stored. */
static ch_err bus_put(void *ctx, const certhub_event *ev, bool *stored)
{
  bus_sink *b = ctx;
  char id[37], stored_id[37];
  char *env = NULL, *err = NULL;
  ch_err rc = certhub_bus_render(ev, b->now, id, &env, &err);
  if(rc) {
    certhub_store_set_error(b->s, rc, "%s", err ? err : "invalid event");
    goto out;
  }
  certhub_event e = *ev;
  e.id = id;
  rc = certhub_bus_put(b->s, &e, b->now, stored_id, stored);
  if(!rc && *stored && (fputs(env, stdout) == EOF || putchar('\n') == EOF))
    rc = CH_ERR_IO;
out:
  free(env);
  free(err);
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

  bus_sink bs = {.s = s, .now = c->now};
  certhub_event_sink sink = {.ctx = &bs, .put = bus_put};
  certhub_lifecycle_opts o = {
      .now = c->now,
      .dry_run = dry_run,
      .on_warning = on_warning,
      .ctx = c,
  };
  certhub_lifecycle_stats st;
  ch_err rc = dry_run ? certhub_store_begin(s) : CH_OK;
  if(!rc)
    rc = certhub_lifecycle_evaluate(s, c->config, &o, &sink, &st);
  if(dry_run) {
    ch_err rrc = certhub_store_rollback(s);
    if(!rc)
      rc = rrc;
  }
  if(!rc && fflush(stdout) != 0)
    rc = CH_ERR_IO;
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
