/*
 * certhub buses: create, list and delete event buses. The "default" bus
 * always exists; a bus with rules cannot be deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "cli.h"

typedef struct list_run {
  cli_ctx *c;
  out_table *t;
  out_json_stream js;
} list_run;

static ch_err list_row(void *ctx, const char *name, int64_t created,
                       uint64_t n_rules)
{
  list_run *l = ctx;
  char when[32] = "", rules[24];
  if(created)
    certhub_time_format(created, when, sizeof(when));
  else if(l->c->format == OUT_TABLE)
    snprintf(when, sizeof(when), "-");
  snprintf(rules, sizeof(rules), "%llu", (unsigned long long)n_rules);
  if(l->c->format == OUT_JSON) {
    char *arn = NULL;
    if(asprintf(&arn, "arn:certhub:events:%s:%s:event-bus/%s",
                CERTHUB_BUS_DEFAULT_REGION, CERTHUB_BUS_DEFAULT_ACCOUNT,
                name) < 0)
      return CH_ERR_NOMEM;
    json_t *j =
        json_pack("{s:s,s:s,s:I,s:s?}", "Name", name, "Arn", arn, "Rules",
                  (json_int_t)n_rules, "CreatedAt", created ? when : NULL);
    free(arn);
    if(!j)
      return CH_ERR_NOMEM;
    ch_err rc = out_json_item(&l->js, j);
    json_decref(j);
    return rc;
  }
  const char *cells[] = {name, rules, when};
  if(l->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 3);
    return CH_OK;
  }
  return out_table_add(l->t, cells, NULL);
}

int cmd_buses(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {{NULL, 0, NULL, 0}};
  static const char *const hdr[] = {"NAME", "RULES", "CREATED"};
  certhub_store *s = NULL;
  int r, code = 0;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
    return cli_usage(c, "unexpected option");
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (create, list, delete)");
  const char *sub = argv[optind++];
  bool list = !strcmp(sub, "list");
  if(!list && strcmp(sub, "create") && strcmp(sub, "delete"))
    return cli_usage(c, "unknown subcommand '%s' (create, list, delete)", sub);
  const char *name = NULL;
  if(list && optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(!list && (code = cli_one_ref(c, argc, argv, &name)))
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  ch_err rc;
  if(list) {
    list_run l = {.c = c};
    if(c->format == OUT_TABLE && !(l.t = out_table_new(hdr, 3))) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
    if(c->format == OUT_JSON)
      out_json_begin(&l.js, stdout);
    if(c->format == OUT_CSV)
      out_csv_row(stdout, hdr, 3);
    rc = certhub_store_bus_list(s, list_row, &l);
    if(c->format == OUT_JSON)
      out_json_end(&l.js);
    if(!rc && l.t)
      out_table_print(l.t, stdout, c->color);
    out_table_free(l.t);
  }
  else if(!strcmp(sub, "create"))
    rc = certhub_bus_create(s, name, c->now);
  else
    rc = certhub_bus_delete(s, name);
  if(rc)
    code = cli_fail(c, cli_exit_for(rc), "%s", certhub_store_errmsg(s));
  else if(!list && !c->quiet)
    fprintf(stderr, "%s event bus %s\n", sub[1] == 'r' ? "created" : "deleted",
            name);
out:
  certhub_store_close(s);
  return code;
}
