/*
 * certhub dlq: the dead-letter queue (outbox rows given up with a
 * DeadLetterConfig): list, redrive back to delivery, purge.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "cli.h"

enum { OPT_ALL = 0x100, OPT_LIMIT };

typedef struct list_run {
  cli_ctx *c;
  out_table *t;
  out_json_stream js;
  size_t n;
} list_run;

static ch_err list_row(void *ctx, const certhub_bus_outbox_row *o)
{
  list_run *l = ctx;
  char when[32], id[24], attempts[16];
  l->n++;
  certhub_time_format(o->last_attempt_at, when, sizeof(when));
  snprintf(id, sizeof(id), "%lld", (long long)o->id);
  snprintf(attempts, sizeof(attempts), "%u", o->attempts);
  if(l->c->format == OUT_JSON) {
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:o?}", "Id",
                          (json_int_t)o->id, "EventId", o->event_id,
                          "EventBusName", o->bus, "Rule", o->rule, "TargetId",
                          o->target_id, "Attempts", (json_int_t)o->attempts,
                          "LastError", o->last_error, "When", when, "Target",
                          json_loads(o->target, 0, NULL));
    if(!j)
      return CH_ERR_NOMEM;
    ch_err rc = out_json_item(&l->js, j);
    json_decref(j);
    return rc;
  }
  const char *cells[] = {id,           o->event_id, o->bus, o->rule,
                         o->target_id, attempts,    when,   o->last_error};
  if(l->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 8);
    return CH_OK;
  }
  return out_table_add(l->t, cells, NULL);
}

static int dlq_list(cli_ctx *c, int argc, char **argv, int64_t limit)
{
  static const char *const hdr[] = {"ID",   "EVENT-ID",  "BUS",
                                    "RULE", "TARGET",    "ATTEMPTS",
                                    "WHEN", "LAST-ERROR"};
  certhub_store *s = NULL;
  list_run l = {.c = c};
  int code;
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if((code = cli_open_store(c, &s)))
    return code;
  if(c->format == OUT_TABLE && !(l.t = out_table_new(hdr, 8))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(c->format == OUT_JSON)
    out_json_begin(&l.js, stdout);
  if(c->format == OUT_CSV)
    out_csv_row(stdout, hdr, 8);
  ch_err rc = certhub_store_outbox_list(s, CERTHUB_OUTBOX_DEAD, (size_t)limit,
                                        list_row, &l);
  if(c->format == OUT_JSON)
    out_json_end(&l.js);
  if(rc) {
    code = cli_store_fail(c, s, rc, "listing dead letters");
    goto out;
  }
  if(l.t)
    out_table_print(l.t, stdout, c->color);
  if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "%zu dead letter%s\n", l.n, l.n == 1 ? "" : "s");
out:
  out_table_free(l.t);
  certhub_store_close(s);
  return code;
}

/* redrive or purge: the IDs, or every dead letter with --all. */
static int dlq_each(cli_ctx *c, int argc, char **argv, bool redrive, bool all)
{
  certhub_store *s = NULL;
  int64_t *ids = NULL;
  size_t n_ids = (size_t)(argc - optind);
  uint64_t total = 0;
  int code = 0;
  bool in_tx = false;
  ch_err rc = CH_OK;
  if(all == (n_ids > 0))
    return cli_usage(c, "%s needs dead-letter IDs or --all",
                     redrive ? "redrive" : "purge");
  if(n_ids && !(ids = calloc(n_ids, sizeof(*ids))))
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  for(size_t i = 0; i < n_ids; i++)
    if((code = cli_parse_num(c, "ID", argv[optind + (int)i], 1, INT64_MAX,
                             &ids[i])))
      goto out;
  if((code = cli_open_store(c, &s)))
    goto out;
  /* All or nothing: an unknown ID changes nothing. */
  if((rc = certhub_store_begin(s)))
    goto out;
  in_tx = true;
  for(size_t i = 0; i < (all ? 1 : n_ids) && !rc; i++) {
    uint64_t n = 0;
    int64_t id = all ? 0 : ids[i];
    rc = redrive ? certhub_bus_dlq_redrive(s, id, c->now, &n)
                 : certhub_bus_dlq_purge(s, id, &n);
    if(!rc && !all && !n) {
      code = cli_fail(c, CLI_EXIT_USAGE, "no dead letter with ID %lld",
                      (long long)id);
      goto out;
    }
    total += n;
  }
  if(!rc)
    rc = certhub_store_commit(s);
  if(!rc)
    in_tx = false;
out:
  if(rc)
    code = cli_store_fail(c, s, rc, redrive ? "redriving" : "purging");
  if(in_tx)
    certhub_store_rollback(s);
  if(!code && !c->quiet)
    fprintf(stderr, "%s %llu dead letter%s\n", redrive ? "redrove" : "purged",
            (unsigned long long)total, total == 1 ? "" : "s");
  certhub_store_close(s);
  free(ids);
  return code;
}

int cmd_dlq(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"all", no_argument, NULL, OPT_ALL},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {NULL, 0, NULL, 0},
  };
  bool all = false;
  int64_t limit = 0;
  int r;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_ALL:
      all = true;
      break;
    case OPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, 1000000000, &limit))
        return CLI_EXIT_USAGE;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (list, redrive, purge)");
  const char *sub = argv[optind++];
  if(!strcmp(sub, "list")) {
    if(all)
      return cli_usage(c, "list: --all is an option of redrive and purge");
    return dlq_list(c, argc, argv, limit);
  }
  if(limit)
    return cli_usage(c, "%s: --limit is an option of list", sub);
  if(!strcmp(sub, "redrive"))
    return dlq_each(c, argc, argv, true, all);
  if(!strcmp(sub, "purge"))
    return dlq_each(c, argc, argv, false, all);
  return cli_usage(c, "unknown subcommand '%s' (list, redrive, purge)", sub);
}
