/*
 * certhub rules: put, list, describe, enable, disable and delete the rules
 * of an event bus.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "certhub/pattern.h"
#include "certhub/schedule.h"
#include "cli.h"
#include "wire.h"

enum {
  OPT_BUS = 0x100,
  OPT_PATTERN,
  OPT_SCHEDULE,
  OPT_TARGET,
  OPT_DESCRIPTION,
  OPT_DISABLED,
  OPT_BATCH,
};

#define TARGET_MAX_BYTES (64 * 1024)

static int rules_put(cli_ctx *c, int argc, char **argv, const char *bus,
                     const char *pattern_arg, const char *schedule,
                     char **target_args, size_t n_targets, const char *descr,
                     bool disabled, const char *batch)
{
  certhub_store *s = NULL;
  char *pattern = NULL, *targets = NULL;
  json_t *arr = NULL;
  const char *name;
  int code = cli_one_ref(c, argc, argv, &name);
  if(code)
    return code;
  if(!pattern_arg == !schedule)
    return cli_usage(c, "put needs exactly one of --pattern and --schedule");
  if(pattern_arg &&
     (code = cli_arg_text(c, "--pattern", pattern_arg,
                          4 * CERTHUB_PATTERN_MAX_LEN + 4, &pattern, NULL)))
    goto out;
  if(!(arr = json_array())) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  /* Each --target is one target object or an array of them. */
  for(size_t i = 0; i < n_targets; i++) {
    char *text = NULL;
    json_error_t jerr;
    if((code = cli_arg_text(c, "--target", target_args[i], TARGET_MAX_BYTES,
                            &text, NULL)))
      goto out;
    json_t *t = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if(!t) {
      code = cli_fail(c, CLI_EXIT_USAGE,
                      "--target %s: invalid JSON at line %d column %d: %s",
                      target_args[i], jerr.line, jerr.column, jerr.text);
      goto out;
    }
    if(json_is_array(t))
      json_array_extend(arr, t);
    else if(json_is_object(t))
      json_array_append(arr, t);
    else {
      /* not reached for strings: they fail to parse without DECODE_ANY */
      json_decref(t);
      code = cli_fail(c, CLI_EXIT_USAGE,
                      "--target %s: must be a JSON object (or an array of "
                      "them)",
                      target_args[i]);
      goto out;
    }
    json_decref(t);
  }
  if(!(targets = json_dumps(arr, JSON_COMPACT))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if((code = cli_open_store(c, &s)))
    goto out;
  certhub_bus_rule r = {.bus = bus,
                        .name = name,
                        .pattern = pattern,
                        .schedule = schedule,
                        .enabled = !disabled,
                        .description = descr,
                        .batch = batch,
                        .targets = targets,
                        .managed_by = CERTHUB_RULE_BY_CLI};
  bool created = false;
  ch_err rc =
      certhub_bus_rule_put(s, &r, c->now, wire_check_target, NULL, &created);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "%s", certhub_store_errmsg(s));
    goto out;
  }
  if(!c->quiet)
    fprintf(stderr, "%s rule %s on event bus %s\n",
            created ? "created" : "updated", name,
            bus ? bus : CERTHUB_DEFAULT_BUS);
out:
  json_decref(arr);
  certhub_store_close(s);
  free(pattern);
  free(targets);
  return code;
}

/* ---- list, describe --------------------------------------------------------
 */

static json_t *rule_json(const certhub_bus_rule *r)
{
  char created[32], updated[32], last[32], next[32];
  certhub_time_format(r->created, created, sizeof(created));
  certhub_time_format(r->updated, updated, sizeof(updated));
  certhub_time_format(r->last_fire, last, sizeof(last));
  certhub_time_format(r->next_fire, next, sizeof(next));
  char *arn = certhub_bus_rule_arn(NULL, NULL, r->bus, r->name);
  json_t *o = json_pack(
      "{s:s,s:s,s:s*,s:s,s:s*,s:s*,s:s,s:o*,s:s*,s:s,s:s,s:s*,s:s*}", "Name",
      r->name, "EventBusName", r->bus, "Arn", arn, "State",
      r->enabled ? "ENABLED" : "DISABLED", "EventPattern", r->pattern,
      "ScheduleExpression", r->schedule, "Description", r->description,
      "Targets", json_loads(r->targets, 0, NULL), "Batch", r->batch,
      "ManagedBy", r->managed_by, "CreatedAt", created, "LastFire",
      r->last_fire ? last : NULL, "NextFire", r->next_fire ? next : NULL);
  (void)updated;
  free(arn);
  return o;
}

typedef struct list_run {
  cli_ctx *c;
  out_table *t;
  out_json_stream js;
  size_t n;
  bool describe;
} list_run;

static ch_err list_row(void *ctx, const certhub_bus_rule *r)
{
  list_run *l = ctx;
  l->n++;
  if(l->c->format == OUT_JSON || l->describe) {
    json_t *o = rule_json(r);
    if(!o)
      return CH_ERR_NOMEM;
    ch_err rc =
        l->describe ? out_json_print(stdout, o) : out_json_item(&l->js, o);
    json_decref(o);
    return rc;
  }
  char next[32] = "", ntargets[16];
  json_t *t = json_loads(r->targets, 0, NULL);
  snprintf(ntargets, sizeof(ntargets), "%zu", json_array_size(t));
  json_decref(t);
  if(r->next_fire)
    certhub_time_format(r->next_fire, next, sizeof(next));
  else if(l->c->format == OUT_TABLE)
    snprintf(next, sizeof(next), "-");
  const char *cells[] = {r->name,
                         r->bus,
                         r->enabled ? "ENABLED" : "DISABLED",
                         r->pattern ? "pattern" : "schedule",
                         ntargets,
                         r->managed_by,
                         next};
  if(l->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 7);
    return CH_OK;
  }
  return out_table_add(l->t, cells, NULL);
}

static int rules_list(cli_ctx *c, int argc, char **argv, const char *bus)
{
  static const char *const hdr[] = {
      "NAME", "BUS", "STATE", "KIND", "TARGETS", "MANAGED-BY", "NEXT-FIRE"};
  certhub_store *s = NULL;
  list_run l = {.c = c};
  int code;
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if((code = cli_open_store(c, &s)))
    return code;
  if(c->format == OUT_TABLE && !(l.t = out_table_new(hdr, 7))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(c->format == OUT_JSON)
    out_json_begin(&l.js, stdout);
  if(c->format == OUT_CSV)
    out_csv_row(stdout, hdr, 7);
  ch_err rc = certhub_store_rule_list(s, bus, list_row, &l);
  if(c->format == OUT_JSON)
    out_json_end(&l.js);
  if(rc) {
    code = cli_store_fail(c, s, rc, "listing rules");
    goto out;
  }
  if(l.t)
    out_table_print(l.t, stdout, c->color);
out:
  out_table_free(l.t);
  certhub_store_close(s);
  return code;
}

static int rules_one(cli_ctx *c, int argc, char **argv, const char *sub,
                     const char *bus)
{
  certhub_store *s = NULL;
  const char *name;
  int code = cli_one_ref(c, argc, argv, &name);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  const char *b = bus ? bus : CERTHUB_DEFAULT_BUS;
  ch_err rc;
  const char *done = NULL;
  if(!strcmp(sub, "describe")) {
    list_run l = {.c = c, .describe = true};
    rc = certhub_store_rule_get(s, b, name, list_row, &l);
  }
  else if(!strcmp(sub, "delete")) {
    rc = certhub_store_rule_delete(s, b, name);
    done = "deleted";
  }
  else {
    bool en = !strcmp(sub, "enable");
    rc = certhub_bus_rule_enable(s, b, name, en, c->now);
    done = en ? "enabled" : "disabled";
  }
  if(rc)
    code = cli_fail(c, cli_exit_for(rc), "%s", certhub_store_errmsg(s));
  else if(done && !c->quiet)
    fprintf(stderr, "%s rule %s on event bus %s\n", done, name, b);
  certhub_store_close(s);
  return code;
}

int cmd_rules(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"bus", required_argument, NULL, OPT_BUS},
      {"pattern", required_argument, NULL, OPT_PATTERN},
      {"schedule", required_argument, NULL, OPT_SCHEDULE},
      {"target", required_argument, NULL, OPT_TARGET},
      {"description", required_argument, NULL, OPT_DESCRIPTION},
      {"disabled", no_argument, NULL, OPT_DISABLED},
      {"batch", required_argument, NULL, OPT_BATCH},
      {NULL, 0, NULL, 0},
  };
  const char *bus = NULL, *pattern = NULL, *schedule = NULL, *descr = NULL;
  const char *batch = NULL;
  char **targets = calloc((size_t)argc + 1, sizeof(*targets));
  size_t n_targets = 0;
  bool disabled = false;
  int r, code = 0;
  if(!targets)
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      code = c->exit_code;
      goto out;
    case OPT_BUS:
      bus = optarg;
      break;
    case OPT_PATTERN:
      pattern = optarg;
      break;
    case OPT_SCHEDULE:
      schedule = optarg;
      break;
    case OPT_TARGET:
      targets[n_targets++] = optarg;
      break;
    case OPT_DESCRIPTION:
      descr = optarg;
      break;
    case OPT_DISABLED:
      disabled = true;
      break;
    case OPT_BATCH:
      batch = optarg;
      break;
    default:
      code = cli_usage(c, "unexpected option");
      goto out;
    }
  }
  if(optind >= argc) {
    code = cli_usage(c, "missing subcommand (put, list, describe, enable, "
                        "disable, delete)");
    goto out;
  }
  const char *sub = argv[optind++];
  bool put = !strcmp(sub, "put");
  if(!put &&
     (pattern || schedule || n_targets || descr || disabled || batch)) {
    code = cli_usage(c,
                     "%s: --pattern, --schedule, --target, --description, "
                     "--batch and --disabled are options of put",
                     sub);
    goto out;
  }
  if(put)
    code = rules_put(c, argc, argv, bus, pattern, schedule, targets, n_targets,
                     descr, disabled, batch);
  else if(!strcmp(sub, "list"))
    code = rules_list(c, argc, argv, bus);
  else if(!strcmp(sub, "describe") || !strcmp(sub, "enable") ||
          !strcmp(sub, "disable") || !strcmp(sub, "delete"))
    code = rules_one(c, argc, argv, sub, bus);
  else
    code = cli_usage(c,
                     "unknown subcommand '%s' (put, list, describe, "
                     "enable, disable, delete)",
                     sub);
out:
  free(targets);
  return code;
}
